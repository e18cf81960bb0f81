"""Baton's own per-agent circuit breaker, on in-memory documents and a clock the test moves."""

import pytest

from services.common.breakers import Breaker, BreakerOpenError, BreakerStore
from tests.unit.fakes import MemoryDocuments


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env():
    clock = Clock()
    return BreakerStore(MemoryDocuments(), failure_threshold=5, reset_seconds=60, clock=clock), clock


def fail(breakers: BreakerStore, times: int, app: str = "writer-agent") -> None:
    for i in range(times):
        breakers.before_call(app)
        breakers.record(app, f"writer-agent/run answered 503 ({i})")


def test_five_consecutive_failures_open_the_breaker_and_calls_are_refused_at_once(env):
    breakers, _ = env
    fail(breakers, 4)
    assert breakers.get("writer-agent").state == "closed"
    fail(breakers, 1)
    state = breakers.get("writer-agent")
    assert state.state == "open" and state.consecutive_failures == 5 and "503" in state.last_error
    with pytest.raises(BreakerOpenError, match="circuit breaker is open for writer-agent"):
        breakers.before_call("writer-agent")
    breakers.before_call("editor-agent")  # other agents are unaffected


def test_a_success_resets_the_count(env):
    breakers, _ = env
    fail(breakers, 4)
    breakers.record("writer-agent", None)
    fail(breakers, 4)
    assert breakers.get("writer-agent").state == "closed"


def test_after_the_reset_time_exactly_one_trial_call_goes_through_and_its_success_closes(env):
    breakers, clock = env
    fail(breakers, 5)
    clock.now += 59
    with pytest.raises(BreakerOpenError):
        breakers.before_call("writer-agent")
    clock.now += 1
    breakers.before_call("writer-agent")  # the trial
    assert breakers.get("writer-agent").state == "half_open"
    with pytest.raises(BreakerOpenError):
        breakers.before_call("writer-agent")  # a second caller waits for the trial's outcome
    breakers.record("writer-agent", None)
    assert breakers.get("writer-agent") == Breaker()
    breakers.before_call("writer-agent")


def test_a_failed_trial_opens_the_breaker_again_for_another_period(env):
    breakers, clock = env
    fail(breakers, 5)
    clock.now += 60
    breakers.before_call("writer-agent")
    breakers.record("writer-agent", "still down")
    state = breakers.get("writer-agent")
    assert state.state == "open" and state.opened_at == clock.now and state.last_error == "still down"
    clock.now += 30
    with pytest.raises(BreakerOpenError):
        breakers.before_call("writer-agent")


def test_a_trial_that_never_reports_back_is_retried_after_another_period(env):
    breakers, clock = env
    fail(breakers, 5)
    clock.now += 60
    breakers.before_call("writer-agent")  # the trial's caller dies before recording
    clock.now += 60
    breakers.before_call("writer-agent")  # a new trial
    assert breakers.get("writer-agent").state == "half_open"


def test_a_healthy_agent_costs_one_read_and_no_write(env, monkeypatch):
    breakers, _ = env
    docs = breakers._docs
    reads = []
    real_get = docs.get
    monkeypatch.setattr(docs, "get", lambda key: reads.append(key) or real_get(key))
    seen = breakers.before_call("writer-agent")
    breakers.record("writer-agent", None, seen)
    assert docs.docs == {} and len(reads) == 1
