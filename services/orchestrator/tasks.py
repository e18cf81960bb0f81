"""Reading tasks: one by id, or the list of them, newest first."""

import logging
from datetime import UTC, datetime
from typing import Annotated

from dapr.ext.workflow import WorkflowStatus
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from services.common.contracts import TERMINAL_STATUSES, TaskDocument, TaskStatus
from services.common.inputs import ID_PATTERN
from services.common.paging import Position
from services.common.registry import Pattern
from services.common.tasklist import SCAN_BUDGET, ListedTask

from .auth import READ
from .deadletters import Cursor
from .deps import Tasks, Workflows
from .responses import GUARDED, errors

log = logging.getLogger(__name__)
router = APIRouter(prefix="/task", tags=["tasks"], dependencies=[READ], responses=errors(*GUARDED))
listing = APIRouter(prefix="/tasks", tags=["tasks"], dependencies=[READ], responses=errors(*GUARDED))
TaskId = Annotated[str, Path(min_length=1, max_length=100, pattern=ID_PATTERN)]

# A running workflow updates its task at every step; only a task quiet for this long is
# checked against the workflow engine (polling clients would otherwise double the load).
STALE_AFTER_SECONDS = 5.0


def ended_from_outside(workflows: Workflows, task: TaskDocument) -> str | None:
    """Why the task's workflow ended without recording it (terminated from outside, e.g.
    `dapr workflow terminate`), or None. Every failure inside a workflow is recorded by its
    lifecycle, so only what bypassed it shows here. Best effort: an engine error is logged,
    not raised."""
    age = (datetime.now(UTC) - datetime.fromisoformat(task.updated_at)).total_seconds()
    if age < STALE_AFTER_SECONDS:
        return None
    try:
        state = workflows.get_workflow_state(task.task_id, fetch_payloads=False)
    except Exception as err:
        log.warning("could not check workflow %s: %s", task.task_id, err)
        return None
    if state and state.runtime_status in (WorkflowStatus.FAILED, WorkflowStatus.TERMINATED):
        details = getattr(state, "failure_details", None)
        return getattr(details, "message", None) or state.runtime_status.name.lower()
    return None


@router.get("/{task_id}", response_model=TaskDocument, responses=errors(404, 422))
def get_task(task_id: TaskId, tasks: Tasks, workflows: Workflows) -> TaskDocument:
    task = tasks.get(task_id)
    if task is None:
        raise HTTPException(404, f"no task with id {task_id}")
    if task.status not in TERMINAL_STATUSES and (reason := ended_from_outside(workflows, task)):
        task = task.model_copy(update={"status": "failed", "error": task.error or f"workflow ended: {reason}"})
    return task


class TaskPage(BaseModel):
    tasks: list[ListedTask]
    count: int  # on this page
    next_cursor: str | None  # pass as `cursor` for the next page; null: no more


@listing.get("", response_model=TaskPage, responses=errors(422), description=(
    "Newest first. A page may hold fewer than `limit` (a status filter reads at most "
    f"{SCAN_BUDGET} tasks a call): follow `next_cursor` until it is null. A cursor continues the listing "
    "that gave it, with the same `pattern`. The status is the task document's (GET /task/{task_id} also "
    "checks a quiet unfinished task against the workflow engine)."))
def list_tasks(
    tasks: Tasks,
    pattern: Annotated[Pattern | None, Query(description="only the tasks of this pattern")] = None,
    status: Annotated[TaskStatus | None, Query(description="only the tasks with this status now")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many on the page")] = 20,
    cursor: Cursor = None,
) -> TaskPage:
    after = Position.parse(cursor) if cursor else None
    found, last = tasks.page(pattern, status, after, limit)
    return TaskPage(tasks=found, count=len(found), next_cursor=str(last) if last else None)
