"""Workflow-side helpers for the task document (they schedule activities; no I/O here)."""

from dapr.ext.workflow import DaprWorkflowContext

from .activities import record_step, update_task
from .policies import BOOKKEEPING_RETRY


def set_status(ctx: DaprWorkflowContext, status: str, **fields):
    return ctx.call_activity(update_task, input={"task_id": ctx.instance_id, "status": status, **fields},
                             retry_policy=BOOKKEEPING_RETRY)


def record_arrival(ctx: DaprWorkflowContext, name: str, reply: dict | None, error: str | None):
    """Record one fan-out branch as a step: its reply, or the error that ended it."""
    result = {"error": error} if error else reply
    return ctx.call_activity(record_step, retry_policy=BOOKKEEPING_RETRY, input={
        "task_id": ctx.instance_id, "name": name, "agent": name, "result": result,
        "usage": (reply or {}).get("usage")})
