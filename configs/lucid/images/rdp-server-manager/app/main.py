"""lucid-rdp-server-manager: starts, tracks and stops XRDP servers for sessions."""
import os

import uvicorn
from fastapi import FastAPI

SERVICE_NAME = os.environ.get("SERVICE_NAME", "lucid-rdp-server-manager")
SERVICE_PORT = int(os.environ.get("SERVICE_PORT", "8081"))

app = FastAPI(title=SERVICE_NAME)


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "service": SERVICE_NAME}


if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=SERVICE_PORT, log_level=os.environ.get("LOG_LEVEL", "INFO").lower())
