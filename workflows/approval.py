"""Approval gates in a workflow: the task stops before a step until a person decides, or
the gate's timeout decides for them.

The wait is durable and costs no thread: an external event raced against a durable timer,
both in the workflow's history, so an orchestrator restart while waiting loses nothing and
a waiting task never holds back another. The decision that stands is the one the task
document shows (services/common/approvals.py), recorded by an activity."""

from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, when_any

from services.common.approvals import describe
from services.common.contracts import ApprovalGate, Decision

from .activities import apply_decision, request_approval
from .contracts import ApprovalNote, DecisionNote
from .lifecycle import Steps, TaskRejectedError
from .policies import BOOKKEEPING_RETRY

DECISION_EVENT = "approval-decision"  # what POST /task/{task_id}/approve and /reject raise


def approval_gate(ctx: DaprWorkflowContext, task_id: str, gate: ApprovalGate | None, before: str,
                  subject: dict[str, Any]) -> Steps:
    """Use with `yield from` just before the step `before`: if the task's gate is there, wait
    for the decision on `subject` and go on if approved; raise TaskRejectedError if not."""
    if gate is None or gate.before != before:
        return
    now = ctx.current_utc_datetime
    deadline = now + timedelta(seconds=gate.timeout_seconds)
    yield ctx.call_activity(request_approval, retry_policy=BOOKKEEPING_RETRY, input=ApprovalNote(
        task_id=task_id, gate=gate, subject=subject, requested_at=now.isoformat(), deadline=deadline.isoformat()))
    decided, timer = ctx.wait_for_external_event(DECISION_EVENT), ctx.create_timer(deadline)
    if (yield when_any([decided, timer])) is decided:
        proposed = Decision.model_validate(decided.get_result())
    else:
        proposed = Decision(decision_id=f"timeout-{task_id}", verdict=gate.on_timeout, by="timeout", timed_out=True,
                            comment=f"nobody decided within {gate.timeout_seconds} s", decided_at=deadline.isoformat())
    standing = Decision.model_validate((yield ctx.call_activity(
        apply_decision, retry_policy=BOOKKEEPING_RETRY, input=DecisionNote(task_id=task_id, decision=proposed))))
    if standing.verdict == "reject":
        raise TaskRejectedError(describe(standing))
