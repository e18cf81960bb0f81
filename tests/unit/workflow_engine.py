"""A small stand-in for the workflow engine, to drive Baton's real workflow code in unit
tests. Activities and timers are real durabletask task objects that a test completes in a
chosen order. Like the SDK, it passes every activity and child-workflow input through JSON
and back into the model the callee declares, so a misspelt or missing field fails here
as it would in production; results reach the workflow as JSON objects, as from history."""

import json
from datetime import UTC, datetime
from typing import Any

import dapr.ext.workflow._durabletask.internal.protos as pb
from dapr.ext.workflow._durabletask.task import CompletableTask, CompositeTask
from dapr.ext.workflow._model_protocol import coerce_to_model, dump_model, resolve_input

from workflows.runtime import ACTIVITIES, WORKFLOWS

BOOKKEEPING = {"record_status", "record_step", "record_tree_node"}
_NAMES = {id(fn): name for name, fn in {**ACTIVITIES, **WORKFLOWS}.items()}


def registered_name(fn) -> str:
    assert id(fn) in _NAMES, f"{fn.__name__} is not registered in workflows/runtime.py"
    return _NAMES[id(fn)]


def as_declared(fn, value):
    """What the callee receives: `value` through JSON, then into its declared model."""
    _, model = resolve_input(fn)
    assert model is not None, f"{fn.__name__} declares no input model"
    assert isinstance(value, model), f"{fn.__name__} expects a {model.__name__}, got {type(value).__name__}"
    return coerce_to_model(json.loads(json.dumps(dump_model(value))), model)


def as_history(result):
    """A result as the workflow reads it back from its history: plain JSON."""
    return json.loads(json.dumps(dump_model(result) if hasattr(result, "model_dump") else result))


class FakeContext:
    def __init__(self, instance_id: str = "task-1"):
        self.instance_id = instance_id
        self.is_replaying = False
        self.current_utc_datetime = datetime(2026, 1, 1, tzinfo=UTC)
        self.tasks: dict[str, CompletableTask] = {}  # key: the agent's app id, or the callee's name
        self.inputs: dict[str, Any] = {}
        self.bookkeeping: list[tuple[str, Any]] = []
        self.timers: list[tuple[datetime, CompletableTask]] = []
        self.instance_ids: dict[str, str] = {}

    def call_activity(self, activity, *, input=None, retry_policy=None, app_id=None):
        name, received = registered_name(activity), as_declared(activity, input)
        task = CompletableTask()
        if name in BOOKKEEPING:
            self.bookkeeping.append((name, received))
            task.complete(None)  # bookkeeping always succeeds here
        else:
            key = getattr(received, "app_id", name)
            self.tasks[key], self.inputs[key] = task, received
        return task

    def call_child_workflow(self, workflow, *, input=None, instance_id=None, app_id=None, retry_policy=None):
        name = registered_name(workflow)
        task = CompletableTask()
        self.tasks[name], self.inputs[name] = task, as_declared(workflow, input)
        self.instance_ids[name] = instance_id
        return task

    def wait_for_external_event(self, name):
        """Keyed `event:<name>` in `tasks`: a test raises it as it completes an activity."""
        task = CompletableTask()
        self.tasks[f"event:{name}"] = task
        return task

    def create_timer(self, fire_at):
        task = CompletableTask()
        self.timers.append((fire_at, task))
        return task

    def statuses(self) -> list[str]:
        return [note.status for name, note in self.bookkeeping if name == "record_status"]

    def final_status(self):
        return next(note for name, note in reversed(self.bookkeeping) if name == "record_status")

    def nodes(self) -> dict[tuple[str, ...], dict]:
        """The last fields each tree node was given."""
        return {tuple(n.path): n.fields for name, n in self.bookkeeping if name == "record_tree_node"}


def run(workflow, ctx: FakeContext, request: dict, events: list[tuple[str, object]]):
    """Start `workflow` with `request` (validated into its input model, as the SDK does)
    and drive it. `events` are (key, result), (key, Exception) or ("timer", None), applied
    one at a time whenever the workflow waits on something incomplete ("timer" fires the
    latest timer, ("event:<name>", data) raises an external event). Returns the
    workflow's return value (a model), re-raising what the workflow raised."""
    _, model = resolve_input(workflow)
    generator = workflow(ctx, coerce_to_model(request, model))
    events = list(events)
    waiting = next(generator)
    try:
        while True:
            while not waiting.is_complete:
                assert events, f"the workflow waits, but the test has no more events (known: {sorted(ctx.tasks)})"
                key, outcome = events.pop(0)
                task = ctx.timers[-1][1] if key == "timer" else ctx.tasks[key]
                if task.is_complete:
                    continue
                if isinstance(outcome, Exception):
                    task.fail(str(outcome), pb.TaskFailureDetails(errorMessage=str(outcome), errorType="Error"))
                else:
                    task.complete(as_history(outcome))
            if waiting.is_failed and not isinstance(waiting, CompositeTask):
                waiting = generator.throw(waiting.get_exception())  # as the engine does
            else:
                waiting = generator.send(waiting.get_result())
    except StopIteration as done:
        return done.value
