"""The orchestrator app: public API, workflow runtime host, event subscriber."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.ext.workflow import DaprWorkflowClient
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.common import sidecar
from services.common.logs import sdk_logger_options
from services.common.registry import DEAD_LETTER_TOPIC
from services.common.settings import get_settings
from services.common.stores import build_stores
from services.common.subscriptions import Subscription, add_subscriptions
from workflows.runtime import build_runtime

from . import agents, deadletters, events, patterns, tasks

log = logging.getLogger(__name__)
SUBSCRIPTIONS = [
    Subscription("content-published", "/events/content-published", events.on_content_published),
    # If even storing a dead letter fails, it goes on to a topic nobody consumes, where it
    # stays in the Redis stream (Service Bus subscription) for inspection.
    Subscription(DEAD_LETTER_TOPIC, "/dead-letters/receive", deadletters.receive,
                 dead_letter_topic="dead-letters-unstored"),
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.stores = build_stores(settings)
    sdk_logging = sdk_logger_options(settings.workflow_sdk_log_level)
    app.state.workflows = DaprWorkflowClient(logger_options=sdk_logging)
    app.state.workflow_ready = False
    runtime = build_runtime(settings, app.state.stores, sdk_logging)
    # start() blocks until the worker's stream to the sidecar is open.
    await asyncio.to_thread(runtime.start)
    app.state.workflow_ready = True
    log.info("workflow runtime started")
    try:
        yield
    finally:
        runtime.shutdown()  # type: ignore[no-untyped-call]  # unannotated in the SDK


def create_app() -> FastAPI:
    app = FastAPI(
        title="Baton orchestrator",
        description="Multi-agent coordination patterns on Dapr. Every task is a Dapr workflow.",
        lifespan=lifespan,
    )
    for router in (patterns.router, tasks.router, events.collector, events.events_router,
                   events.notifications_router, deadletters.router, agents.router):
        app.include_router(router)
    add_subscriptions(app, get_settings().pubsub, SUBSCRIPTIONS)

    @app.get("/health", tags=["health"])
    def health() -> JSONResponse:
        checks = {
            "sidecar": sidecar.sidecar_healthy(),
            "workflow_worker": bool(getattr(app.state, "workflow_ready", False)),
        }
        ok = all(checks.values())
        return JSONResponse({"status": "healthy" if ok else "unavailable", "service": "orchestrator",
                             "checks": checks}, status_code=200 if ok else 503)

    return app


app = create_app()
