"""The agent-call activity (workflows/activities.py) and the breakers: an open breaker is a
refusal the workflow does not retry, and it reports the last real error."""

import pytest
from dapr.ext.workflow._durabletask.task import NonRetryableError

from services.common import sidecar
from services.common.settings import Settings
from services.common.stores import build_stores
from tests.unit.fakes import MemoryDocuments
from workflows import activities
from workflows import runtime_deps as deps
from workflows.contracts import AgentCall

AGENT = "web-researcher"
DAPR_REFUSAL = f'{AGENT}/run answered 500: {{"errorCode":"ERR_DIRECT_INVOKE","message":"circuit breaker is open"}}'


@pytest.fixture
def calls(monkeypatch):
    """The stores on in-memory documents; each sidecar call answers the next scripted outcome."""
    stores = build_stores(Settings(), MemoryDocuments())
    deps.install(Settings(), stores)
    script: list[Exception | dict] = []
    made: list[str] = []

    def invoke(app_id, method, body, timeout):
        made.append(app_id)
        outcome = script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(sidecar, "invoke", invoke)
    return stores, script, made


def call() -> None:
    activities.call_agent(None, AgentCall(task_id="t-1", app_id=AGENT, prompt="Query: x"))


def test_an_open_baton_breaker_refuses_without_a_call_and_names_the_last_real_error(calls):
    stores, script, made = calls
    script.extend(sidecar.AgentCallError(f"{AGENT}/run answered 503: model down", 503) for _ in range(5))
    for _ in range(5):
        with pytest.raises(sidecar.AgentCallError):  # an ordinary failure: the workflow may retry it
            call()
    with pytest.raises(NonRetryableError) as refused:
        call()
    assert len(made) == 5  # the sixth call was never made
    message = str(refused.value)
    assert message.startswith(activities.SKIPPED) and "503: model down" in message
    assert stores.breakers.get(AGENT).state == "open"


def test_a_refusal_by_the_sidecars_dapr_breaker_is_final_and_keeps_the_real_cause(calls):
    stores, script, _ = calls
    script.extend([sidecar.AgentCallError(f"{AGENT}/run answered 503: model down", 503),
                   sidecar.AgentCallError(DAPR_REFUSAL, 500)])
    with pytest.raises(sidecar.AgentCallError):
        call()
    with pytest.raises(NonRetryableError) as refused:
        call()
    assert "Dapr circuit breaker" in str(refused.value) and "503: model down" in str(refused.value)
    breaker = stores.breakers.get(AGENT)
    assert breaker.consecutive_failures == 2 and breaker.last_error == f"{AGENT}/run answered 503: model down"


def test_a_bad_request_is_not_the_agents_fault(calls):
    stores, script, _ = calls
    script.append(sidecar.AgentCallError(f"{AGENT}/run answered 400: bad input", 400))
    with pytest.raises(sidecar.AgentCallError):
        call()
    assert stores.breakers.get(AGENT).consecutive_failures == 0
