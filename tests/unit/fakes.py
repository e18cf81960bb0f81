"""Fakes of Baton's own seams for unit tests (never of Dapr behaviour itself)."""

import copy
from typing import Any, Callable

import dapr.ext.workflow._durabletask.internal.protos as pb
from dapr.ext.workflow import TaskFailedError


class MemoryDocuments:
    """In-memory stand-in for services.common.state.JsonDocuments."""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        return copy.deepcopy(self.docs.get(key))

    def create(self, key: str, doc: dict) -> bool:
        if key in self.docs:
            return False
        self.docs[key] = copy.deepcopy(doc)
        return True

    def update(self, key: str, change: Callable[[dict], None], default: dict | None = None) -> dict:
        if key not in self.docs:
            if default is None:
                raise KeyError(key)
            self.docs[key] = copy.deepcopy(default)
        change(self.docs[key])
        return copy.deepcopy(self.docs[key])


class FakeWorkflowContext:
    """Records what a workflow generator asks for; `drive` feeds answers back."""

    def __init__(self, instance_id: str = "task-1"):
        self.instance_id = instance_id
        self.is_replaying = False
        self.calls: list[tuple[str, Any]] = []

    def call_activity(self, activity, *, input=None, retry_policy=None, app_id=None):
        self.calls.append((activity.__name__, input))
        return ("activity", activity.__name__, input)


def activity_failure(message: str) -> TaskFailedError:
    return TaskFailedError(message, pb.TaskFailureDetails(errorMessage=message, errorType="AgentCallError"))


def drive(generator, respond: Callable[[tuple], Any]):
    """Run a workflow generator to its end. `respond(call)` returns an activity's result
    or returns an exception instance, which is thrown into the workflow."""
    call = next(generator)
    try:
        while True:
            answer = respond(call)
            call = generator.throw(answer) if isinstance(answer, BaseException) else generator.send(answer)
    except StopIteration as done:
        return done.value
