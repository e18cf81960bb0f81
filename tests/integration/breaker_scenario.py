"""The breaker scenario of issue 11, run with Dapr's resiliency resource loaded (the local
system, tests/integration/test_breakers.py) and without it (as in Azure Container Apps,
test_breakers_without_dapr_resiliency.py): one research agent stops, parallel tasks go on
until Baton's breaker for it opens, the next task skips it at once, naming the real cause;
the agent comes back and the breaker closes on a successful trial call."""

import time

from infra.local.processes import ROOT, DaprRun, wait_until
from tests.integration.conftest import api, app_log_files
from tests.integration.test_parallel_consensus import agent_healthy, finished, start

AGENT = "academic-researcher"
QUERY = {"query": "Breakers without help", "deadline_seconds": 300}


def agent_entry(app_id: str = AGENT) -> dict:
    agents = api.get("/agents", timeout=30).json()["agents"]
    (agent,) = [a for a in agents if a["app_id"] == app_id]
    return agent


def resiliency_loaded() -> bool:
    """Whether the orchestrator's newest sidecar loaded a Resiliency resource (its log says so)."""
    newest = max((ROOT / ".dapr/logs").glob("orchestrator_daprd_*.log"), key=lambda p: p.stat().st_mtime)
    return "Loading Resiliency configuration" in newest.read_text(errors="replace")


def skipped_lines(task_id: str) -> list[str]:
    return [line for path in app_log_files("orchestrator")
            for line in path.read_text(errors="replace").splitlines()
            if f"task={task_id}" in line and "workflows.activities: skipped:" in line]


def failed_agent(task: dict) -> dict:
    (failed,) = [f for f in task["result"]["failed_agents"] if f["app_id"] == AGENT]
    return failed


def breaker_holds_across_an_outage(run: DaprRun, reset_seconds: float) -> None:
    spec = run.kill_app(AGENT)  # its sidecar stays: calls reach it and fail there
    try:
        # Each task tries the agent 3 times (the workflow's retry policy): two tasks make 5 failures.
        for _ in range(4):
            task = finished(start("/research-parallel", QUERY)[0], timeout=240)
            assert task["status"] == "completed" and task["result"]["completed_agents"] == 3, task
            if agent_entry()["breaker"]["state"] == "open":
                break
        else:
            raise AssertionError(f"the breaker for {AGENT} did not open after 4 tasks: {agent_entry()}")
        breaker = agent_entry()["breaker"]
        assert breaker["consecutive_failures"] >= 5
        assert "circuit breaker" not in breaker["last_error"], breaker  # the agent's own failure, not a refusal

        # An open breaker is a fast skip: one refusal, no retries, the real cause in the result.
        task_id, began = start("/research-parallel", QUERY)
        task = finished(task_id, timeout=240)
        skipped = failed_agent(task)
        assert skipped["skipped"] is True and skipped["error"].startswith("skipped:"), skipped
        cause = skipped["error"].split("last error:", 1)[1]
        assert cause.strip() == breaker["last_error"].strip() and "circuit breaker" not in cause
        assert len(skipped_lines(task_id)) == 1, skipped_lines(task_id)  # refused once, never retried
        print(f"\nbreaker: the task that skipped {AGENT} took {time.monotonic() - began:.1f}s")
    finally:
        run.launch(spec)
    # Through the caller's sidecar: where Dapr's breaker is open too, that takes its 60 s.
    wait_until(lambda: agent_healthy(AGENT), timeout=150, interval=3, what=f"{AGENT} to answer again")

    # After the reset time one trial call goes through; it succeeds and closes the breaker.
    def all_four_answer() -> bool:
        task = finished(start("/research-parallel", QUERY)[0], timeout=240)
        return task["result"]["completed_agents"] == 4
    wait_until(all_four_answer, timeout=reset_seconds + 150, interval=2, what=f"the breaker for {AGENT} to close")
    breaker = agent_entry()["breaker"]
    assert breaker["state"] == "closed" and breaker["consecutive_failures"] == 0, breaker

