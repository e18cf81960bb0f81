"""Process entry points shared by every service: logging with task ids, uvicorn, the app
factory with its lifespan (stores, model client), its protections and /health."""

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

import uvicorn
from dapr.clients.exceptions import DaprGrpcError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException

from . import sidecar
from .apptoken import RoutePredicate, SidecarOnly, no_public_routes, require_app_token
from .errors import http_error, validation_error
from .inputs import BodyLimit
from .logs import setup_logging
from .model import ModelClient, load_model_api_key
from .outages import dependency_down
from .settings import Settings, get_settings
from .stores import Stores, build_stores
from .subscriptions import Subscription, add_subscriptions
from .telemetry import setup_telemetry


def serve(app_path: str) -> None:
    settings = get_settings()
    setup_logging(settings.app_id, fmt=settings.log_format)
    setup_telemetry(settings)
    sidecar.limit_sdk_calls(settings.sidecar_call_timeout_seconds)
    try:
        require_app_token(settings)
    except RuntimeError as err:
        sys.exit(f"{settings.app_id}: {err}")
    uvicorn.run(app_path, host=settings.host, port=settings.port, log_config=None)


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") == "/health"


# FastAPI's own OpenTelemetry support: a server span per request (under the caller's
# traceparent) and HTTP metrics, on the providers services/common/telemetry.py installs. No
# spans for the sidecar's health probes (every few seconds, a trace each), nor for FastAPI's
# inner operations (dependency resolution, serialization): a request is one span.
TELEMETRY: TelemetryConfig = {"operation_spans": False, "exclude": _untraced}


def get_stores(request: Request) -> Stores:
    """FastAPI dependency: the process's stores, built once in the app's lifespan."""
    stores: Stores = request.app.state.stores
    return stores


StoresDep = Annotated[Stores, Depends(get_stores)]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def baton_app(title: str, lifespan: Lifespan, public: RoutePredicate = no_public_routes,
              description: str = "", docs: bool = False) -> FastAPI:
    """A FastAPI app with what every Baton app shares: only its sidecar may call it (but
    GET /health and the `public` routes), bodies over BATON_MAX_BODY_BYTES answer 413, a 422
    survives whatever hostile input it quotes, the framework's own 400/404/405 say what to do,
    and a state store (or pub/sub, or sidecar) that is down answers 503 naming it. OpenAPI
    docs only with `docs` (they are plain routes, outside the sidecar-only check)."""
    hidden: dict[str, Any] = {} if docs else {"openapi_url": None, "docs_url": None, "redoc_url": None}
    app = FastAPI(title=title, description=description, lifespan=lifespan, dependencies=[Depends(SidecarOnly(public))],
                  telemetry=TELEMETRY, **hidden)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(DaprGrpcError, dependency_down)
    app.add_middleware(BodyLimit, max_bytes=get_settings().max_body_bytes)
    return app


def create_service(title: str, *routers: APIRouter, subscriptions: Sequence[Subscription] = (),
                   with_model: bool = False, check: Callable[[Settings], None] | None = None,
                   **health_details: Any) -> FastAPI:
    """A Baton service: its routers and pub/sub subscriptions, its stores (and model client,
    with its key from the secret store) built once at start-up, and GET /health. `check`
    may refuse a misconfigured start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = get_settings()
        if check:
            check(settings)
        app.state.stores = build_stores(settings)
        if with_model:
            await asyncio.to_thread(sidecar.wait_for_sidecar)
            key = await asyncio.to_thread(load_model_api_key, settings, sidecar.read_secret)
            app.state.model = ModelClient(settings, api_key=key)
        yield

    app = baton_app(title, lifespan)
    for router in routers:
        app.include_router(router)
    add_subscriptions(app, get_settings().pubsub, subscriptions)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "app_id": get_settings().app_id, **health_details}

    return app
