"""The orchestrator app: public API (API keys), workflow runtime host, event subscriber."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from dapr.ext.workflow import DaprWorkflowClient
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.common import sidecar
from services.common.apikeys import KeyRing, keep_fresh
from services.common.errors import kept_changing
from services.common.logs import sdk_logger_options
from services.common.metrics import metrics
from services.common.registry import DEAD_LETTER_TOPIC, REGISTRY
from services.common.serve import baton_app
from services.common.settings import get_settings
from services.common.state import ETagConflictError
from services.common.stores import build_stores
from services.common.subscriptions import Subscription, add_subscriptions
from workflows.runtime import build_runtime

from . import agents, approvals, control, deadletters, events, patterns, stream, tasks
from .auth import ApiGuard, needs_api_key
from .deps import EngineWatch
from .throttle import Throttle

log = logging.getLogger(__name__)
SUBSCRIPTIONS = [
    Subscription("content-published", "/events/content-published", events.on_content_published),
    # If even storing a dead letter fails, it goes on to a topic nobody consumes, where it
    # stays in the Redis stream (Service Bus subscription) for inspection.
    Subscription(DEAD_LETTER_TOPIC, "/dead-letters/receive", deadletters.receive,
                 dead_letter_topic="dead-letters-unstored"),
]


class HealthReport(BaseModel):
    status: Literal["healthy", "degraded", "unavailable"]
    service: str
    checks: dict[str, bool]
    state_store: Literal["available", "unavailable", "unknown"]
    workflow_engine: str  # "accepting", or when and why the last workflow start failed
    api_keys: Literal["loaded", "not loaded"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.stores = build_stores(settings)
    sdk_logging = sdk_logger_options(settings.workflow_sdk_log_level)
    app.state.workflows = DaprWorkflowClient(logger_options=sdk_logging)
    app.state.workflow_ready = False
    runtime = build_runtime(settings, app.state.stores, sdk_logging)
    breakers = app.state.stores.breakers
    metrics().observe_breakers(lambda: {a.app_id: breakers.get(a.app_id).state for a in REGISTRY.agents})
    # start() blocks until the worker's stream to the sidecar is open.
    await asyncio.to_thread(runtime.start)
    app.state.workflow_ready = True
    log.info("workflow runtime started")
    # The sidecar is up now: load the API keys before serving, and keep them fresh.
    keys = app.state.api_guard.keys
    await asyncio.to_thread(keys.refresh)
    refresher = asyncio.create_task(keep_fresh(keys, settings.api_keys_refresh_seconds))
    try:
        yield
    finally:
        refresher.cancel()
        runtime.shutdown()  # type: ignore[no-untyped-call]  # unannotated in the SDK


def create_app(read_secret: sidecar.SecretReader = sidecar.read_secret) -> FastAPI:
    """`read_secret` reads the API keys (tests pass a fake secret store)."""
    settings = get_settings()
    app = baton_app("Baton orchestrator", lifespan, public=needs_api_key, docs=True,
                    description="Multi-agent coordination patterns on Dapr. Every task is a Dapr workflow.")
    app.state.api_guard = ApiGuard(KeyRing(read_secret, settings.secret_store, settings.api_keys_secret),
                                   Throttle(settings.rate_limit, settings.auth_failure_limit))
    app.state.engine_watch = EngineWatch()
    app.add_exception_handler(ETagConflictError, kept_changing)
    for router in (patterns.router, tasks.router, tasks.listing, stream.router, control.router, approvals.router,
                   events.collector, events.events_router, events.notifications_router, deadletters.router,
                   deadletters.admin, agents.router):
        app.include_router(router)
    add_subscriptions(app, settings.pubsub, SUBSCRIPTIONS)

    @app.get("/health", tags=["health"], response_model=HealthReport, responses={
        503: {"model": HealthReport, "description": "The sidecar or the workflow worker is down"}})
    def health() -> JSONResponse:
        checks = {
            "sidecar": sidecar.sidecar_healthy(),
            "workflow_worker": bool(getattr(app.state, "workflow_ready", False)),
        }
        ok = all(checks.values())
        # The state store and the API keys are reported, not checked: this route is also Dapr's
        # app health probe, and Dapr takes an unhealthy app out (no pub/sub deliveries, its
        # workflow actors unregistered). While only the store is down the process is fine, and
        # its API answers 503 naming the store by itself.
        store = "unknown"
        if checks["sidecar"]:
            store = "available" if sidecar.state_store_reachable(
                settings.state_store, settings.health_state_timeout_seconds) else "unavailable"
        if store != getattr(app.state, "state_store_seen", "available"):
            log.log(logging.WARNING if store == "unavailable" else logging.INFO, "state store %s: %s",
                    settings.state_store, store)
        app.state.state_store_seen = store
        keys = "loaded" if app.state.api_guard.keys.loaded else "not loaded"
        watch: EngineWatch = app.state.engine_watch
        engine = "accepting" if watch.last_failure is None else \
            f"the last workflow start failed at {watch.failed_at}: {watch.last_failure}"
        healthy = store == "available" and watch.last_failure is None
        status = "unavailable" if not ok else "healthy" if healthy else "degraded"
        return JSONResponse({"status": status, "service": "orchestrator", "checks": checks, "state_store": store,
                             "workflow_engine": engine, "api_keys": keys}, status_code=200 if ok else 503)

    return app


app = create_app()
