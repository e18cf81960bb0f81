"""FastAPI dependencies: process-wide objects created in the lifespan, overridable in tests."""

from typing import Annotated

from dapr.ext.workflow import DaprWorkflowClient
from fastapi import Depends, Request

from services.common.serve import get_stores
from services.common.tasks import TaskStore


def get_tasks(request: Request) -> TaskStore:
    return get_stores(request).tasks


def get_workflows(request: Request) -> DaprWorkflowClient:
    client: DaprWorkflowClient = request.app.state.workflows
    return client


Tasks = Annotated[TaskStore, Depends(get_tasks)]
Workflows = Annotated[DaprWorkflowClient, Depends(get_workflows)]
