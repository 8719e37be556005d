"""lucid-session-api: the session REST API: create, list, search and fetch sessions."""
import os

import uvicorn
from fastapi import FastAPI

SERVICE_NAME = os.environ.get("SERVICE_NAME", "lucid-session-api")
SERVICE_PORT = int(os.environ.get("SERVICE_PORT", "8087"))

app = FastAPI(title=SERVICE_NAME)


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "service": SERVICE_NAME}


if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=SERVICE_PORT, log_level=os.environ.get("LOG_LEVEL", "INFO").lower())
