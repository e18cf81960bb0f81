"""Deciding a task's approval gate: POST /task/{task_id}/approve and /reject (write scope).

The decision is stored in the task document first (first write wins: a second decision, or
one for a task not waiting, is a 409 saying what happened), then raised as the workflow's
external event. If the workflow cannot be told, the decision is taken back (503: send it
again), unless the workflow already acted on it, which it does at its timeout at the latest."""

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from services.common.approvals import AlreadyDecidedError, NotAwaitingApprovalError
from services.common.contracts import Decision, TaskStatus, Verdict
from services.common.inputs import Text
from services.common.outages import RETRY_AFTER_SECONDS
from services.common.telemetry import for_task
from workflows.approval import DECISION_EVENT

from .auth import WRITE, api_key_name
from .deps import Approvals, Workflows
from .patterns import why_not_started
from .responses import GUARDED, errors
from .tasks import TaskId

log = logging.getLogger(__name__)
router = APIRouter(prefix="/task", tags=["approvals"], dependencies=[WRITE], responses=errors(*GUARDED))


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    by: Text | None = Field(None, max_length=100, description="Who decides (default: the API key's name)")
    comment: Text | None = Field(None, max_length=2_000, description="Why, for the record")


class Decided(BaseModel):
    task_id: str
    decision: Decision
    status: TaskStatus  # the task's status once the workflow has the decision


OptionalDecision = Annotated[DecisionRequest | None, Body()]


def decide(task_id: str, verdict: Verdict, body: DecisionRequest | None, approvals: Approvals,
           workflows: Workflows) -> Decided:
    for_task(task_id, verdict)
    body = body or DecisionRequest()
    key = api_key_name.get()
    decision = Decision(decision_id=str(uuid.uuid4()), verdict=verdict, by=body.by or key or "unknown", api_key=key,
                        comment=body.comment or "")
    try:
        approvals.decide(task_id, decision)
    except KeyError as err:
        raise HTTPException(404, f"no task with id {task_id}") from err
    except (NotAwaitingApprovalError, AlreadyDecidedError) as err:
        raise HTTPException(409, f"task {task_id}: {err}") from err
    try:
        workflows.raise_workflow_event(task_id, DECISION_EVENT, data=decision.model_dump(mode="json"))
    except Exception as err:
        log.exception("could not deliver the %s decision to the workflow", verdict)
        if approvals.withdraw(task_id, decision.decision_id):
            raise HTTPException(503, f"the workflow of task {task_id} could not be told ({why_not_started(err)}); "
                                     "nothing was decided: send the decision again",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from err
        log.info("the workflow had already taken the decision")
    log.info("%s by %s (key %s)", verdict, decision.by, key)
    status = "in_progress" if verdict == "approve" else "rejected"
    return Decided(task_id=task_id, decision=decision, status=status)


@router.post("/{task_id}/approve", response_model=Decided, responses=errors(400, 404, 409, 422))
def approve(task_id: TaskId, approvals: Approvals, workflows: Workflows, body: OptionalDecision = None) -> Decided:
    """Let a task waiting at its approval gate go on. Only one decision is taken per gate."""
    return decide(task_id, "approve", body, approvals, workflows)


@router.post("/{task_id}/reject", response_model=Decided, responses=errors(400, 404, 409, 422))
def reject(task_id: TaskId, approvals: Approvals, workflows: Workflows, body: OptionalDecision = None) -> Decided:
    """End a task waiting at its approval gate: `rejected`, nothing after the gate runs."""
    return decide(task_id, "reject", body, approvals, workflows)
