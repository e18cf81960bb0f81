"""Ending a task from outside: POST /task/{task_id}/cancel (write scope).

The task is marked `cancelled` first, then its workflow and child workflows are terminated:
from the mark on, activities make no agent call for it and record no result (a call already
under way finishes, its result is dropped), so a terminate that fails still stops the work."""

import logging
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from services.common.contracts import TaskStatus
from services.common.outages import RETRY_AFTER_SECONDS
from services.common.tasks import TaskAlreadyEndedError
from services.common.telemetry import for_task

from .auth import WRITE, api_key_name
from .deps import Tasks, Workflows
from .patterns import why_not_started
from .responses import GUARDED, errors
from .tasks import TaskId

log = logging.getLogger(__name__)
router = APIRouter(prefix="/task", tags=["tasks"], dependencies=[WRITE], responses=errors(*GUARDED))


class Cancelled(BaseModel):
    task_id: str
    status: Literal["cancelled"] = "cancelled"
    previous_status: TaskStatus


@router.post("/{task_id}/cancel", response_model=Cancelled, responses=errors(404, 409, 422))
def cancel_task(task_id: TaskId, tasks: Tasks, workflows: Workflows) -> Cancelled:
    """End a pending, running or waiting task: `cancelled`, no further agent calls. Cancelling
    a cancelled task again answers the same (and terminates its workflow again, in case that
    failed the first time); a task that ended otherwise is 409."""
    for_task(task_id, "cancel")
    try:
        previous = tasks.cancel(task_id)
    except KeyError as err:
        raise HTTPException(404, f"no task with id {task_id}") from err
    except TaskAlreadyEndedError as err:
        raise HTTPException(409, f"task {task_id} is already {err.status}: only a pending, running or waiting "
                                 "task can be cancelled") from err
    log.info("cancelled (was %s) by key %s", previous, api_key_name.get())
    try:
        workflows.terminate_workflow(task_id, recursive=True)
    except Exception as err:
        log.exception("could not terminate the workflow of cancelled task %s", task_id)
        raise HTTPException(503, f"task {task_id} is cancelled and makes no further agent calls, but its workflow "
                                 f"could not be terminated ({why_not_started(err)}): send the cancel again",
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from err
    return Cancelled(task_id=task_id, previous_status=previous)
