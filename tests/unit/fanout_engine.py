"""A tiny stand-in for the workflow engine's scheduling of fan-out workflows: activities and
timers are real durabletask task objects that the test completes in a chosen order."""

from datetime import datetime, timezone

import dapr.ext.workflow._durabletask.internal.protos as pb
from dapr.ext.workflow._durabletask.task import CompletableTask, CompositeTask


class FanoutContext:
    def __init__(self, instance_id: str = "task-1"):
        self.instance_id = instance_id
        self.is_replaying = False
        self.current_utc_datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.activities: dict[str, CompletableTask] = {}  # key: app_id or activity name
        self.inputs: dict[str, dict] = {}
        self.bookkeeping: list[tuple[str, dict]] = []
        self.timers: list[tuple[datetime, CompletableTask]] = []

    def call_activity(self, activity, *, input=None, retry_policy=None, app_id=None):
        task = CompletableTask()
        if activity.__name__ in ("update_task", "record_step", "update_node"):
            self.bookkeeping.append((activity.__name__, input))
            task.complete(None)  # bookkeeping always succeeds here
        else:
            self.activities[input["app_id"]] = task
            self.inputs[input["app_id"]] = input
        return task

    def call_child_workflow(self, workflow, *, input=None, instance_id=None, app_id=None):
        task = CompletableTask()
        self.activities[workflow.__name__] = task
        self.inputs[workflow.__name__] = {**input, "instance_id": instance_id}
        return task

    def nodes(self) -> list[tuple[tuple, dict]]:
        """The tree updates the workflow asked for, as (path, fields)."""
        return [(tuple(inp["path"]), inp["fields"]) for name, inp in self.bookkeeping if name == "update_node"]

    def create_timer(self, fire_at):
        task = CompletableTask()
        self.timers.append((fire_at, task))
        return task


def run(generator, ctx: FanoutContext, events: list[tuple[str, object]]):
    """Drive the workflow; `events` are (app_id, result), (app_id, Exception) or
    ("timer", None), applied one at a time whenever the workflow waits on something
    incomplete. Returns the workflow's return value."""
    events = list(events)
    waiting = next(generator)
    try:
        while True:
            while not waiting.is_complete:
                name, outcome = events.pop(0)
                task = ctx.timers[0][1] if name == "timer" else ctx.activities[name]
                if task.is_complete:
                    continue
                if isinstance(outcome, Exception):
                    task.fail(str(outcome), pb.TaskFailureDetails(errorMessage=str(outcome), errorType="Error"))
                else:
                    task.complete(outcome)
            if waiting.is_failed and not isinstance(waiting, CompositeTask):
                waiting = generator.throw(waiting.get_exception())  # as the engine does
            else:
                waiting = generator.send(waiting.get_result())
    except StopIteration as done:
        return done.value
