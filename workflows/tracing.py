"""Workflow activities inside the task's trace. Dapr carries no trace context into
activities, so each one's parent is the request that started the task: the traceparent its
task document recorded (services/common/telemetry.py), read once per task and process."""

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from services.common.telemetry import task_span

from . import runtime_deps as deps

log = logging.getLogger(__name__)
Activity = TypeVar("Activity", bound=Callable[..., Any])


@functools.lru_cache(maxsize=4096)
def _task_traceparent(task_id: str) -> str | None:
    """The traceparent the task document recorded when the task started (it never changes)."""
    doc = deps.stores().tasks.document(task_id)
    return doc.get("traceparent") if doc else None


def parent_of(task_id: str) -> str | None:
    try:
        return _task_traceparent(task_id)
    except Exception as err:  # the store is down: the activity itself will say so; trace it apart
        log.warning("no trace context for task %s: %s", task_id, err)
        return None


def traced(activity: Activity) -> Activity:
    """Run the activity in a span `activity <name>` of its task's trace (its input's task_id).
    functools.wraps keeps the signature the SDK reads the input model from."""
    name = activity.__name__

    @functools.wraps(activity)
    def run(ctx: Any, payload: Any) -> Any:
        task_id = str(getattr(payload, "task_id", "") or "-")
        with task_span(f"activity {name}", task_id, name, parent=parent_of(task_id) if task_id != "-" else None):
            return activity(ctx, payload)

    return run  # type: ignore[return-value]  # same signature, by functools.wraps
