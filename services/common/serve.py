"""Process entry points shared by every service: logging with task ids, uvicorn, the app
factory with its lifespan (stores, model client) and /health."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request

from .logs import setup_logging
from .model import ModelClient
from .settings import Settings, get_settings
from .stores import Stores, build_stores
from .subscriptions import Subscription, add_subscriptions


def serve(app_path: str) -> None:
    settings = get_settings()
    setup_logging(settings.app_id)
    uvicorn.run(app_path, host=settings.host, port=settings.port, log_config=None)


def get_stores(request: Request) -> Stores:
    """FastAPI dependency: the process's stores, built once in the app's lifespan."""
    stores: Stores = request.app.state.stores
    return stores


StoresDep = Annotated[Stores, Depends(get_stores)]


def create_service(title: str, *routers: APIRouter, subscriptions: Sequence[Subscription] = (),
                   with_model: bool = False, check: Callable[[Settings], None] | None = None,
                   **health_details: Any) -> FastAPI:
    """A Baton service: its routers and pub/sub subscriptions, its stores (and model client)
    built once at start-up, and GET /health. `check` may refuse a misconfigured start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = get_settings()
        if check:
            check(settings)
        app.state.stores = build_stores(settings)
        if with_model:
            app.state.model = ModelClient(settings)
        yield

    app = FastAPI(title=title, lifespan=lifespan)
    for router in routers:
        app.include_router(router)
    add_subscriptions(app, get_settings().pubsub, subscriptions)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "app_id": get_settings().app_id, **health_details}

    return app
