"""Process entry points shared by every service: logging with task ids, uvicorn, /health."""

import uvicorn
from fastapi import FastAPI

from .logs import setup_logging
from .settings import get_settings


def serve(app_path: str) -> None:
    settings = get_settings()
    setup_logging(settings.app_id)
    uvicorn.run(app_path, host=settings.host, port=settings.port, log_config=None)


def add_health(app: FastAPI, **details) -> None:
    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "app_id": get_settings().app_id, **details}
