"""The orchestrator app: public API, workflow runtime host, event subscriber."""

import asyncio
import logging
from contextlib import asynccontextmanager

from dapr.ext.workflow import DaprWorkflowClient
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.common import sidecar
from services.common.events import EventLog
from services.common.logs import sdk_logger_options
from services.common.settings import get_settings
from services.common.state import JsonDocuments
from services.common.tasks import TaskStore
from workflows.registry import build_runtime

from . import deadletters, events, routes

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    docs = JsonDocuments(settings.state_store)
    app.state.tasks = TaskStore(docs)
    app.state.events = EventLog(docs)
    sdk_logging = sdk_logger_options(settings.workflow_sdk_log_level)
    app.state.workflows = DaprWorkflowClient(logger_options=sdk_logging)
    app.state.workflow_ready = False
    runtime = build_runtime(sdk_logging)
    # start() blocks until the worker's stream to the sidecar is open.
    await asyncio.to_thread(runtime.start)
    app.state.workflow_ready = True
    log.info("workflow runtime started")
    try:
        yield
    finally:
        runtime.shutdown()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Baton orchestrator",
        description="Multi-agent coordination patterns on Dapr. Every task is a Dapr workflow.",
        lifespan=lifespan,
    )
    app.include_router(routes.router)
    app.include_router(events.router)
    app.include_router(deadletters.router)

    @app.get("/health")
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
