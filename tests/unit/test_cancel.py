"""POST /task/{id}/cancel on the real orchestrator app (in-memory state, a fake workflow
client): the task ends `cancelled`, its workflow and children are terminated, and nothing
the workflow was still doing is recorded afterwards."""

import pytest
from dapr.ext.workflow._durabletask.task import NonRetryableError

from services.common import sidecar
from services.common.contracts import StepRecord, utc_now
from services.common.settings import Settings
from tests.unit.fakes import with_key
from workflows import activities
from workflows import runtime_deps as deps
from workflows.contracts import AgentCall

WRITE = with_key("write")


@pytest.fixture
def running(orchestrator):
    resp = orchestrator.client.post("/research-parallel", json={"query": "q"}, headers=WRITE)
    task_id = resp.json()["task_id"]
    orchestrator.stores.tasks.save_status(task_id, "in_progress")
    return orchestrator, task_id


def test_a_running_task_is_cancelled_and_its_workflows_terminated(running):
    orchestrator, task_id = running
    resp = orchestrator.client.post(f"/task/{task_id}/cancel", headers=WRITE)
    assert resp.status_code == 200 and resp.json() == {"task_id": task_id, "status": "cancelled",
                                                        "previous_status": "in_progress"}
    assert orchestrator.workflows.terminated == [(task_id, True)]  # with its child workflows
    assert orchestrator.client.get(f"/task/{task_id}", headers=WRITE).json()["status"] == "cancelled"
    again = orchestrator.client.post(f"/task/{task_id}/cancel", headers=WRITE)
    assert again.status_code == 200 and again.json()["previous_status"] == "cancelled"


def test_nothing_the_workflow_still_does_is_recorded_after_the_cancel(running, monkeypatch):
    orchestrator, task_id = running
    orchestrator.client.post(f"/task/{task_id}/cancel", headers=WRITE)
    tasks = orchestrator.stores.tasks
    tasks.add_step(task_id, StepRecord(name="web-researcher", completed_at=utc_now(), result={"output": "late"}))
    tasks.merge_tree_node(task_id, ["master"], {"status": "completed"})
    tasks.save_status(task_id, "completed", result={"late": True})
    task = tasks.get(task_id)
    assert task.status == "cancelled" and task.steps == [] and task.tree is None and task.result is None

    deps.install(Settings(), orchestrator.stores)
    monkeypatch.setattr(sidecar, "invoke", lambda *a, **k: pytest.fail("an agent was called for a cancelled task"))
    with pytest.raises(NonRetryableError, match="is cancelled"):
        activities.call_agent(None, AgentCall(task_id=task_id, app_id="web-researcher", prompt="Query: q"))


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_task_that_ended_cannot_be_cancelled(running, status):
    orchestrator, task_id = running
    orchestrator.stores.tasks.save_status(task_id, status)
    resp = orchestrator.client.post(f"/task/{task_id}/cancel", headers=WRITE)
    assert resp.status_code == 409 and f"already {status}" in resp.json()["detail"]
    assert orchestrator.workflows.terminated == []


def test_unknown_tasks_bad_ids_and_read_keys_are_refused(running):
    orchestrator, _ = running
    assert orchestrator.client.post("/task/nope/cancel", headers=WRITE).status_code == 404
    assert orchestrator.client.post("/task/a||b/cancel", headers=WRITE).status_code == 422
    assert orchestrator.client.post("/task/nope/cancel", headers=with_key("read")).status_code == 403


def test_a_terminate_that_fails_is_503_but_the_task_stays_cancelled(running):
    orchestrator, task_id = running
    orchestrator.workflows.fail = True
    resp = orchestrator.client.post(f"/task/{task_id}/cancel", headers=WRITE)
    assert resp.status_code == 503 and "send the cancel again" in resp.json()["detail"]
    assert orchestrator.stores.tasks.get(task_id).status == "cancelled"
    orchestrator.workflows.fail = False
    assert orchestrator.client.post(f"/task/{task_id}/cancel", headers=WRITE).status_code == 200
    assert orchestrator.workflows.terminated == [(task_id, True)]
