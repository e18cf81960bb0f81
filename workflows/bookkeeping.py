"""Workflow-side helpers for the task document (they schedule activities; no I/O here)."""

from dapr.ext.workflow import DaprWorkflowContext

from .activities import record_step, update_node, update_task
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


def set_node(ctx: DaprWorkflowContext, task_id: str, path: list[str], reply: dict | None = None, **fields):
    """Update one node of a hierarchical task's tree (child workflows pass the task id,
    their own instance id differs). An agent reply's usage is counted for that agent."""
    reply = reply or {}
    return ctx.call_activity(update_node, retry_policy=BOOKKEEPING_RETRY, input={
        "task_id": task_id, "path": path, "fields": fields,
        "agent": reply.get("agent"), "usage": reply.get("usage")})
