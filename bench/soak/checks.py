"""The soak's verdict on each task, from what a client saw through the public API: its
outcome, and which fault, if any, explains a failure. Pure, like steps.py (every step
recorded once) and events.py (events and dead letters): tests/unit/test_soak_checks.py."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.common.contracts import TERMINAL_STATUSES

EVENT_DRIVEN = "event-driven"


class Outcome(StrEnum):
    COMPLETED = "completed"
    DEGRADED = "degraded"  # completed with a partial result: some agent failed, was skipped or late
    DEAD_LETTERED = "dead-lettered"  # an event some subscriber failed on, its dead letter names it
    FAILED = "failed"
    STUCK = "stuck"  # accepted, but not final when the soak stopped waiting
    LOST = "lost"  # accepted, then GET /task answered 404, or an event neither processed nor dead-lettered
    NOT_ACCEPTED = "not accepted"


@dataclass
class Submission:
    """One task of the soak, as the client knows it. Times are seconds since the soak began."""

    index: int
    pattern: str
    started_at: float = 0.0  # the first POST attempt
    accepted: dict[str, Any] | None = None  # the 202 body
    finished_at: float | None = None  # first seen final (event-driven: every subscriber's record in)
    task: dict[str, Any] | None = None  # the last task document read
    gone: bool = False  # the last GET /task answered 404
    records: list[dict[str, Any]] = field(default_factory=list)  # GET /events/{key}

    @property
    def key(self) -> str:
        """The task id, or the correlation id of a collected event."""
        body = self.accepted or {}
        return str(body.get("task_id") or body.get("correlation_id") or "")

    @property
    def final(self) -> bool:
        return self.task is not None and self.task["status"] in TERMINAL_STATUSES


@dataclass
class Fault:
    name: str
    agents: tuple[str, ...] = ()  # agents it breaks: their failures after injection are its doing
    injected_at: float | None = None  # None: never injected
    recovered_at: float | None = None  # when Baton answered healthy again; None: never
    error: str = ""  # why injecting it or recovering from it went wrong

    def problem(self) -> str | None:
        if self.injected_at is None:
            return f"fault '{self.name}' was not injected {self.error}".rstrip()
        if self.error:
            return f"fault '{self.name}' went wrong once injected {self.error}"
        if self.recovered_at is None:
            return f"after fault '{self.name}' Baton never answered healthy again"
        return None


def degraded_agents(task: dict[str, Any]) -> list[str]:
    """The agents a completed task did without (a partial result says so): app ids, except a
    late research agent, which the result names by its part (`web`, ...)."""
    result = task.get("result") or {}
    if task["workflow"] == "parallel":
        return [f["app_id"] for f in result.get("failed_agents", [])] + list(result.get("late_agents", []))
    if task["workflow"] == "consensus":
        return [a["agent"] for a in result.get("abstained", [])]
    if task["workflow"] == "hierarchical" and result.get("partial"):
        return list(result.get("failed_workers", []))
    return []


def task_outcome(sub: Submission) -> Outcome:
    if sub.accepted is None:
        return Outcome.NOT_ACCEPTED
    if sub.gone:
        return Outcome.LOST
    if sub.task is None or not sub.final:
        return Outcome.STUCK
    if sub.task["status"] == "failed":
        return Outcome.FAILED
    return Outcome.DEGRADED if degraded_agents(sub.task) else Outcome.COMPLETED


def explaining_fault(sub: Submission, faults: list[Fault], grace: float, agents: list[str]) -> Fault | None:
    """The fault that explains a failed or degraded task: one that broke exactly the agents it
    names (and came before it finished), or else one that was active (from injection to
    healthy again, plus `grace` for retries in flight) while the task ran. None: unexplained."""
    ended = sub.finished_at if sub.finished_at is not None else float("inf")
    injected = [f for f in faults if f.injected_at is not None and ended >= f.injected_at]
    for fault in injected:
        if agents and fault.agents and set(agents) <= set(fault.agents):
            return fault
    for fault in injected:
        healthy = fault.recovered_at if fault.recovered_at is not None else float("inf")
        if sub.started_at <= healthy + grace:
            return fault
    return None

