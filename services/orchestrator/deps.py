"""FastAPI dependencies: process-wide objects created in the lifespan, overridable in tests."""

from dataclasses import dataclass
from typing import Annotated

from dapr.ext.workflow import DaprWorkflowClient
from fastapi import Depends, Request

from services.common.approvals import ApprovalStore
from services.common.contracts import utc_now
from services.common.serve import get_stores
from services.common.tasks import TaskStore


def get_tasks(request: Request) -> TaskStore:
    return get_stores(request).tasks


def get_approvals(request: Request) -> ApprovalStore:
    return get_stores(request).approvals


def get_workflows(request: Request) -> DaprWorkflowClient:
    client: DaprWorkflowClient = request.app.state.workflows
    return client


@dataclass
class EngineWatch:
    """Whether the workflow engine took the last workflow this replica started. A sidecar can
    stay up while its engine takes nothing (Dapr 1.18.1 after an app crash, README
    "Troubleshooting"): GET /health then says so, until a start succeeds again."""

    last_failure: str | None = None
    failed_at: str | None = None

    def started(self) -> None:
        self.last_failure = self.failed_at = None

    def failed(self, why: str) -> None:
        self.last_failure, self.failed_at = why, utc_now()


def get_engine_watch(request: Request) -> EngineWatch:
    watch: EngineWatch = request.app.state.engine_watch
    return watch


Tasks = Annotated[TaskStore, Depends(get_tasks)]
Approvals = Annotated[ApprovalStore, Depends(get_approvals)]
Workflows = Annotated[DaprWorkflowClient, Depends(get_workflows)]
Engine = Annotated[EngineWatch, Depends(get_engine_watch)]
