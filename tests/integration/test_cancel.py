"""Issue 13: POST /task/{id}/cancel on the real system. A parallel task is cancelled while its
four agent calls are under way: it ends `cancelled`, its workflow is terminated, no agent is
called again and nothing that arrives later is recorded."""

import time

from infra.local.processes import wait_until
from tests.integration.conftest import api, app_log_files, workflow_instance
from tests.integration.test_parallel_consensus import RESEARCHERS, start

SLOW_SECONDS = 8


def calls_for(task_id: str) -> int:
    return sum(line.count("workflows.activities: calling") for path in app_log_files("orchestrator")
               for line in path.read_text(errors="replace").splitlines() if f"task={task_id}" in line)


def test_cancel_stops_a_parallel_task_mid_fan_out(baton):
    # Each agent answers after 8 s, with a failure (no model work; the workflow would retry it).
    slow = {app: {"delay_seconds": SLOW_SECONDS, "fail": True} for app in RESEARCHERS}
    task_id, _ = start("/research-parallel", {"query": "Cancel me", "deadline_seconds": 120, "faults": slow})
    wait_until(lambda: calls_for(task_id) == len(RESEARCHERS), timeout=30, what="the four agent calls")

    resp = api.post(f"/task/{task_id}/cancel")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"task_id": task_id, "status": "cancelled", "previous_status": "in_progress"}
    time.sleep(SLOW_SECONDS + 6)  # the agents answer (failing) and a retry would have been due

    task = api.get(f"/task/{task_id}").json()
    assert task["status"] == "cancelled" and task["steps"] == [] and task["result"] is None
    assert workflow_instance(task_id)["runtimeStatus"] == "TERMINATED"
    assert calls_for(task_id) == len(RESEARCHERS)  # no retry, no further call
    assert api.post(f"/task/{task_id}/cancel").json()["previous_status"] == "cancelled"


def test_a_finished_task_cannot_be_cancelled_and_an_unknown_one_is_404(baton):
    failing = {app: {"delay_seconds": 3, "fail": True} for app in RESEARCHERS}
    task_id, _ = start("/research-parallel", {"query": "Done", "deadline_seconds": 1, "faults": failing})
    wait_until(lambda: api.get(f"/task/{task_id}").json()["status"] in ("completed", "failed"), timeout=60,
               what="the task to end")
    resp = api.post(f"/task/{task_id}/cancel")
    assert resp.status_code == 409 and "already" in resp.json()["detail"]
    assert api.post("/task/no-such-task/cancel").status_code == 404
