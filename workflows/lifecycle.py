"""Workflow-side task bookkeeping, the same for every pattern. These helpers only schedule
activities (no I/O here): the workflow helper says what to note, the `record_*` activity
writes it through the TaskStore.

`run_task` is every pattern's lifecycle: the task goes in_progress, then completed with
the pattern's result, or failed with the error; a failed task always re-raises, so the
workflow instance ends FAILED too and `dapr workflow list` agrees with GET /task. A task
rejected at its approval gate ends `rejected` and its workflow COMPLETED."""

from collections.abc import Generator
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, TaskFailedError
from dapr.ext.workflow._durabletask.task import Task
from pydantic import BaseModel

from services.common.contracts import TaskStatus, Usage
from services.common.registry import Member

from .activities import record_status, record_step, record_tree_node
from .contracts import StatusNote, StepNote, TreeNodeNote
from .policies import BOOKKEEPING_RETRY

# What a workflow generator is: it yields tasks, is sent their results, returns its result.
Steps = Generator[Task[Any], Any, Any]


class TaskFailureError(Exception):
    """A pattern's own verdict that the task failed (e.g. no agent answered), with whatever
    partial result it has."""

    def __init__(self, message: str, result: BaseModel | None = None):
        super().__init__(message)
        self.result = result


class TaskRejectedError(Exception):
    """The task's approval gate decided to reject: the task ends `rejected` (not failed: the
    workflow completes, having done what it was told)."""


def failure_message(error: BaseException) -> str:
    """The message of a failed activity or child workflow (not the engine's wrapper text)."""
    details = getattr(error, "details", None)
    return getattr(details, "message", None) or str(error)


def _note_status(ctx: DaprWorkflowContext, status: TaskStatus, result: BaseModel | None = None,
                 error: str | None = None) -> Task[Any]:
    note = StatusNote(task_id=ctx.instance_id, status=status, error=error,
                      result=result.model_dump(mode="json") if result is not None else None)
    return ctx.call_activity(record_status, input=note, retry_policy=BOOKKEEPING_RETRY)


def run_task(ctx: DaprWorkflowContext, work: Steps) -> Steps:
    """Run a pattern's work (a generator returning its result model) as one task."""
    yield _note_status(ctx, "in_progress")
    try:
        result = yield from work
    except TaskRejectedError as rejected:
        yield _note_status(ctx, "rejected", error=str(rejected))
        return None
    except TaskFailureError as failure:
        yield _note_status(ctx, "failed", failure.result, str(failure))
        raise
    except Exception as err:  # an activity or child workflow that failed for good, or a bug
        yield _note_status(ctx, "failed", error=failure_message(err) if isinstance(err, TaskFailedError) else repr(err))
        raise
    yield _note_status(ctx, "completed", result)
    return result


def _usage_of(reply: dict[str, Any] | None) -> Usage | None:
    """The token usage in an agent's reply (as read back from the workflow history), if any."""
    return Usage.model_validate(reply["usage"]) if reply and reply.get("usage") else None


def _call_of(reply: dict[str, Any] | None) -> str | None:
    """The agent's id for the call that made `reply` (missing from replies of older agents)."""
    return (reply or {}).get("call_id") or None


def note_arrival(ctx: DaprWorkflowContext, member: Member, reply: dict[str, Any] | None,
                 error: str | None) -> Task[Any]:
    """Record one fan-out branch as a step named by its app id: its reply, or the error."""
    result = {"error": error} if error is not None else reply or {}
    note = StepNote(task_id=ctx.instance_id, name=member.app_id, agent=member.app_id, result=result,
                    usage=_usage_of(reply), call_id=_call_of(reply))
    return ctx.call_activity(record_step, input=note, retry_policy=BOOKKEEPING_RETRY)


def note_tree_node(ctx: DaprWorkflowContext, task_id: str, path: list[str], reply: dict[str, Any] | None = None,
                   **fields: Any) -> Task[Any]:
    """Update one node of a hierarchical task's tree (child workflows pass the task id; their
    own instance id differs). An agent reply's usage is counted for that agent."""
    note = TreeNodeNote(task_id=task_id, path=path, fields=fields, usage=_usage_of(reply), call_id=_call_of(reply),
                        agent=reply.get("agent") if reply else None, model=reply.get("model") if reply else None)
    return ctx.call_activity(record_tree_node, input=note, retry_policy=BOOKKEEPING_RETRY)
