"""FastAPI dependencies: process-wide objects created in the lifespan, overridable in tests."""

from typing import Annotated

from dapr.ext.workflow import DaprWorkflowClient
from fastapi import Depends, Request

from services.common.events import EventLog
from services.common.tasks import TaskStore


def get_tasks(request: Request) -> TaskStore:
    return request.app.state.tasks


def get_workflows(request: Request) -> DaprWorkflowClient:
    return request.app.state.workflows


def get_events(request: Request) -> EventLog:
    return request.app.state.events


Tasks = Annotated[TaskStore, Depends(get_tasks)]
Workflows = Annotated[DaprWorkflowClient, Depends(get_workflows)]
Events = Annotated[EventLog, Depends(get_events)]
