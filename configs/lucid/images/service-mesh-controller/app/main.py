"""lucid-service-mesh-controller: runs the Consul agent for service discovery and health checking, and its control API."""
import atexit
import os
import subprocess

import uvicorn
from fastapi import FastAPI, HTTPException

SERVICE_NAME = os.environ.get("SERVICE_NAME", "lucid-service-mesh-controller")
SERVICE_PORT = int(os.environ.get("SERVICE_PORT", "8086"))

consul = subprocess.Popen([
    "/usr/local/bin/consul", "agent", "-server", "-bootstrap-expect=1", "-ui",
    "-node=" + SERVICE_NAME, "-client=0.0.0.0",
    "-data-dir=" + os.environ.get("CONSUL_DATA_DIR", "/consul/data"),
])
atexit.register(consul.terminate)

app = FastAPI(title=SERVICE_NAME)


@app.get("/health")
def health() -> dict:
    if consul.poll() is not None:
        raise HTTPException(status_code=503, detail=f"consul agent exited with {consul.returncode}")
    return {"status": "ok", "service": SERVICE_NAME}


if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=SERVICE_PORT, log_level=os.environ.get("LOG_LEVEL", "INFO").lower())
