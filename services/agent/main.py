"""An agent: a small FastAPI service reached only through Dapr service invocation."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.model import ModelClient
from services.common.settings import get_settings

from .roles import ROLES
from . import routes, voting


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    if settings.agent_role not in ROLES:
        raise RuntimeError(f"BATON_AGENT_ROLE={settings.agent_role!r} is not one of {sorted(ROLES)}")
    app.state.model = ModelClient(settings)
    yield


def create_app() -> FastAPI:
    app = FastAPI(title="Baton agent", lifespan=lifespan)
    app.include_router(routes.router)
    app.include_router(voting.router)

    @app.get("/health")
    def health() -> dict:
        settings = get_settings()
        return {"status": "ok", "app_id": settings.app_id, "role": settings.agent_role}

    return app


app = create_app()
