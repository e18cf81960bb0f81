"""Fan-in under a deadline: a durable timer raced against the fan-out's tasks.

Everything lives in the workflow's history (results, failures, the timer), none of it in
process memory, so an orchestrator restart mid-wait loses nothing."""

from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, when_any
from dapr.ext.workflow._durabletask.task import Task

from .lifecycle import failure_message

OnArrival = Callable[[str, Any, str | None], Task[Any] | None]
Gathered = tuple[dict[str, Any], dict[str, str], list[str]]


def gather_until(ctx: DaprWorkflowContext, tasks: dict[str, Task[Any]], deadline_seconds: float,
                 on_arrival: OnArrival | None = None) -> Generator[Task[Any], Any, Gathered]:
    """Wait for `tasks` (name -> workflow task) until all finish or the deadline passes.
    Use with `yield from`; returns (results, failures, late): name -> result, name -> error,
    and the names still running at the deadline. `on_arrival(name, result, error)` may
    return a task (e.g. a bookkeeping activity) to run as each one arrives."""
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=deadline_seconds))
    pending, results, failures = dict(tasks), {}, {}
    while pending:
        done = yield when_any([*pending.values(), timer])
        if done is timer:
            break
        name = next(n for n, t in pending.items() if t is done)
        del pending[name]
        if done.is_failed:
            failures[name] = failure_message(done.get_exception())
        else:
            results[name] = done.get_result()
        follow_up = on_arrival(name, results.get(name), failures.get(name)) if on_arrival else None
        if follow_up is not None:
            yield follow_up
    return results, failures, sorted(pending)
