"""Per-agent circuit breakers that Baton owns, kept in the state store so every
orchestrator replica shares them (key baton:breaker:<app id>).

Dapr's resiliency breaker still applies where a sidecar loads components/resiliency.yaml
(locally); Azure Container Apps does not apply that resource, so this one is what guards
the agents there. The rule, with the defaults from settings: after 5 consecutive failed
calls the breaker opens and calls are refused at once; 60 s later one trial call is let
through (half-open); its success closes the breaker, its failure opens it again."""

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from .state import JsonDocuments

log = logging.getLogger(__name__)
BreakerState = Literal["closed", "open", "half_open"]


def breaker_key(app_id: str) -> str:
    return f"baton:breaker:{app_id}"


class Breaker(BaseModel):
    state: BreakerState = "closed"
    consecutive_failures: int = 0
    opened_at: float | None = None  # epoch seconds
    trial_started_at: float | None = None
    last_error: str | None = None


# How a sidecar whose Dapr resiliency breaker is open refuses a call (gobreaker's error text).
DAPR_BREAKER_REFUSAL = "circuit breaker is open"


class BreakerOpenError(RuntimeError):
    """The call was not made: the agent's breaker is open. The message says "circuit
    breaker", which is how results report a skipped agent, and the last real error."""


def refused_by_dapr_breaker(error: str) -> bool:
    """True when the caller's own sidecar refused the call (its resiliency breaker is
    open): no request reached the agent, so the error says nothing new about it."""
    return DAPR_BREAKER_REFUSAL in error


class BreakerStore:
    def __init__(self, docs: JsonDocuments, failure_threshold: int = 5, reset_seconds: float = 60,
                 clock: Callable[[], float] = time.time):
        self._docs = docs
        self.failure_threshold, self.reset_seconds, self._clock = failure_threshold, reset_seconds, clock

    def get(self, app_id: str) -> Breaker:
        return Breaker.model_validate(self._docs.get(breaker_key(app_id)) or {})

    def _update(self, app_id: str, change: Callable[[Breaker], Breaker]) -> Breaker:
        result = Breaker()

        def apply(doc: dict[str, Any]) -> None:
            nonlocal result
            result = change(Breaker.model_validate(doc))
            doc.clear()
            doc.update(result.model_dump())

        self._docs.update(breaker_key(app_id), apply, default=Breaker().model_dump())
        return result

    def before_call(self, app_id: str) -> Breaker:
        """Raise BreakerOpenError unless a call to `app_id` may go ahead now; returns the
        breaker as it was seen (hand it to `record`). Of the callers that find an open
        breaker past its reset time, exactly one gets the trial call (the change is
        ETag-safe); a trial that never reported back is retried after another reset period."""
        now = self._clock()
        breaker = self.get(app_id)  # a closed breaker costs one read, no write
        if breaker.state == "closed":
            return breaker
        allowed = False

        def decide(b: Breaker) -> Breaker:
            nonlocal allowed
            waited_since = b.trial_started_at if b.state == "half_open" else b.opened_at
            allowed = b.state == "closed" or now - (waited_since or 0) >= self.reset_seconds
            if allowed and b.state != "closed":
                log.warning("breaker for %s half-open: one trial call", app_id)
                return b.model_copy(update={"state": "half_open", "trial_started_at": now})
            return b

        breaker = self._update(app_id, decide)
        if not allowed:
            raise BreakerOpenError(
                f"Baton circuit breaker is open for {app_id} after {breaker.consecutive_failures} consecutive "
                f"failures; next trial call in at most {self.reset_seconds:g}s; last error: {breaker.last_error}")
        return breaker

    def record(self, app_id: str, error: str | None, seen: Breaker | None = None) -> None:
        """Feed the outcome of a call that was made: None for success, else the error.
        `seen` is what before_call returned: a success on a pristine breaker writes nothing."""
        if error is None and (seen if seen is not None else self.get(app_id)) == Breaker():
            return  # the common case: healthy and closed, no further I/O

        def change(b: Breaker) -> Breaker:
            if error is None:
                if b.state != "closed":
                    log.warning("breaker for %s closed: the call succeeded", app_id)
                return Breaker()
            failures = b.consecutive_failures + 1
            opens = b.state == "half_open" or failures >= self.failure_threshold
            if opens and b.state != "open":
                log.warning("breaker for %s open after %d consecutive failures: %s", app_id, failures, error)
            # A refusal by the caller's sidecar breaker counts, but keeps the real cause as last error.
            last_error = b.last_error if refused_by_dapr_breaker(error) and b.last_error else error[:500]
            return Breaker(state="open" if opens else b.state, consecutive_failures=failures,
                           opened_at=self._clock() if opens else b.opened_at, last_error=last_error)

        self._update(app_id, change)
