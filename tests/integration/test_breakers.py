"""Baton's own circuit breaker (services/common/breakers.py) on the real system: the one that
guards agents where Dapr's resiliency resource is not applied (Azure Container Apps)."""


from infra.local.processes import wait_until
from tests.integration.breaker_scenario import agent_entry, breaker_holds_across_an_outage, resiliency_loaded
from tests.integration.conftest import dapr_api
from tests.integration.test_parallel_consensus import finished, start

AGENT = "academic-researcher"


def test_five_failed_calls_open_the_breaker_and_the_next_task_skips_the_agent_at_once(baton):
    try:
        # Two tasks at once, the agent failing in both: 3 attempts each, 5 failures open it.
        failing = {"query": "Breakers", "deadline_seconds": 300, "faults": {AGENT: {"fail": True}}}
        first, _ = start("/research-parallel", failing)
        second, _ = start("/research-parallel", failing)
        # The next task starts as soon as the breaker is open, well inside its 60 s (the first
        # two may take longer than that on the small model).
        wait_until(lambda: agent_entry(AGENT)["breaker"]["state"] == "open", timeout=120, interval=0.5,
                   what=f"the breaker for {AGENT} to open")
        agent = agent_entry(AGENT)
        assert agent["breaker"]["consecutive_failures"] >= 5
        # The agent's own 503, also when the caller sidecar's breaker (Dapr resiliency) refused
        # a later call: a refusal is counted but does not hide the cause.
        last_error = agent["breaker"]["last_error"]
        assert "503" in last_error and "circuit breaker" not in last_error, last_error
        assert agent["health"] == "ok" and agent["role"] == "academic"  # the agent itself is up
        assert {"pattern": "parallel", "part": "academic"} in agent["parts"]

        # No fault now, but the breaker is open: the call is never made.
        task_id, _ = start("/research-parallel", {"query": "Breakers", "deadline_seconds": 300})
        task = finished(task_id, timeout=240)
        result = task["result"]
        assert task["status"] == "completed" and result["completed_agents"] == 3
        (skipped,) = result["failed_agents"]
        assert skipped["app_id"] == AGENT and skipped["skipped"] is True
        assert "Baton circuit breaker is open" in skipped["error"] and "503" in skipped["error"]
        assert agent_entry("web-researcher")["breaker"]["state"] == "closed"
        for failed_first in (first, second):
            assert finished(failed_first, timeout=240)["status"] == "completed"  # three sources make a result
    finally:
        # Leave no open breaker to later tests (the half-open trial is unit-tested): Baton's is
        # reset by hand; the caller sidecar's own (Dapr resiliency, also tripped by these
        # failures) closes after its 60 s, on a successful trial call.
        dapr_api.delete(f"/v1.0/state/statestore/baton:breaker:{AGENT}", timeout=10)
        invoke = f"/v1.0/invoke/{AGENT}/method/run"
        body = {"task_id": "breaker", "input": "x"}
        wait_until(lambda: dapr_api.post(invoke, json=body, timeout=60).status_code == 200,
                   timeout=100, interval=2, what=f"the sidecar's breaker for {AGENT} to close")


def test_a_stopped_agent_opens_the_breaker_and_its_return_closes_it_with_dapr_resiliency(baton):
    """The scenario of tests/integration/breaker_scenario.py with components/resiliency.yaml
    loaded; test_breakers_without_dapr_resiliency.py runs it without."""
    assert resiliency_loaded()
    breaker_holds_across_an_outage(baton, reset_seconds=60)
