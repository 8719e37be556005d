"""lucid-payment-gateway: the only bridge between the Lucid network and the isolated TRON payment network."""
import os

import uvicorn
from fastapi import FastAPI

SERVICE_NAME = os.environ.get("SERVICE_NAME", "lucid-payment-gateway")
SERVICE_PORT = int(os.environ.get("SERVICE_PORT", "8097"))

app = FastAPI(title=SERVICE_NAME)


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "service": SERVICE_NAME}


if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=SERVICE_PORT, log_level=os.environ.get("LOG_LEVEL", "INFO").lower())
