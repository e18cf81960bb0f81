from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from dapr.ext.workflow import WorkflowStatus
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.settings import get_settings
from services.common.tasks import TaskStore
from services.orchestrator import deps, patterns, tasks
from tests.unit.fakes import FakeWorkflows, MemoryDocuments, loaded_guard, with_key


@pytest.fixture
def env():
    app = FastAPI()
    app.include_router(patterns.router)
    app.include_router(tasks.router)
    docs = MemoryDocuments()
    store, workflows = TaskStore(docs), FakeWorkflows()
    app.dependency_overrides[deps.get_tasks] = lambda: store
    app.dependency_overrides[deps.get_workflows] = lambda: workflows
    app.state.api_guard, app.state.engine_watch = loaded_guard(), deps.EngineWatch()
    client = TestClient(app, headers=with_key("write"))
    return SimpleNamespace(client=client, tasks=store, docs=docs, workflows=workflows, app=app)


def test_create_content_answers_202_with_the_lesson_shape_and_schedules_the_workflow(env):
    resp = env.client.post("/create-content", json={"topic": "  Dapr agents "})
    assert resp.status_code == 202
    body = resp.json()
    assert body["status"] == "started" and body["workflow"] == "sequential"
    assert body["steps"] == ["research", "write", "edit", "publish"]
    (name, workflow_input, instance_id), = env.workflows.scheduled
    assert (name, instance_id) == ("sequential", body["task_id"])
    assert workflow_input["topic"] == "Dapr agents" and workflow_input["faults"] == {}
    assert workflow_input["team"] == [{"part": "research", "app_id": "research-agent"},
                                      {"part": "write", "app_id": "writer-agent"},
                                      {"part": "edit", "app_id": "editor-agent"}]
    task = env.client.get(f"/task/{body['task_id']}").json()
    assert task["status"] == "pending" and task["input"] == {"topic": "Dapr agents"}


@pytest.mark.parametrize("payload, fragment", [
    ({}, "topic"),
    ({"topic": ""}, "at least 1 character"),
    ({"topic": "   "}, "must not be blank"),
    ({"topic": "x" * 501}, "at most 500 characters"),
    ({"topic": 42}, "valid string"),
    ({"topic": "ok", "colour": "red"}, "Extra inputs"),
    ({"topic": "ok", "faults": {"nobody": {"fail": True}}}, "unknown agents"),
])
def test_create_content_rejects_bad_input_with_422_saying_what_is_wrong(env, payload, fragment):
    resp = env.client.post("/create-content", json=payload)
    assert resp.status_code == 422
    assert fragment in resp.text
    assert env.workflows.scheduled == []


def test_create_content_rejects_a_body_that_is_not_json(env):
    resp = env.client.post("/create-content", content=b"topic=dapr", headers={"Content-Type": "application/json"})
    assert resp.status_code == 422
    assert "JSON" in resp.text


def test_faults_are_refused_unless_fault_injection_is_enabled(env, monkeypatch):
    resp = env.client.post("/create-content", json={"topic": "t", "faults": {"writer-agent": {"fail": True}}})
    assert resp.status_code == 403 and "BATON_ALLOW_FAULT_INJECTION" in resp.text
    monkeypatch.setenv("BATON_ALLOW_FAULT_INJECTION", "true")
    get_settings.cache_clear()
    try:
        resp = env.client.post("/create-content", json={"topic": "t", "faults": {"writer-agent": {"fail": True}}})
    finally:
        get_settings.cache_clear()
    assert resp.status_code == 202
    assert env.workflows.scheduled[0][1]["faults"] == {"writer-agent": {"delay_seconds": 0.0, "fail": True}}


def test_unknown_task_is_404(env):
    resp = env.client.get("/task/does-not-exist")
    assert resp.status_code == 404 and "does-not-exist" in resp.text


def quiet_task(env, task_id: str, seconds: float) -> None:
    env.tasks.create(task_id, "sequential", {"topic": "x"})
    env.tasks.save_status(task_id, "in_progress")
    doc = env.docs.docs[f"baton:task:{task_id}"]
    doc["updated_at"] = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def test_a_task_whose_workflow_ended_abnormally_never_shows_in_progress(env):
    quiet_task(env, "t1", seconds=30)
    env.workflows.states["t1"] = SimpleNamespace(runtime_status=WorkflowStatus.TERMINATED, failure_details=None)
    task = env.client.get("/task/t1").json()
    assert task["status"] == "failed" and "terminated" in task["error"]


def test_a_recently_updated_task_is_not_checked_against_the_engine(env):
    quiet_task(env, "t2", seconds=0)
    env.workflows.states["t2"] = SimpleNamespace(runtime_status=WorkflowStatus.TERMINATED, failure_details=None)
    assert env.client.get("/task/t2").json()["status"] == "in_progress"


def test_an_engine_error_during_the_check_does_not_fail_the_read(env):
    quiet_task(env, "t3", seconds=30)

    def broken(*args, **kwargs):
        raise RuntimeError("inbox key missing from state store")

    env.workflows.get_workflow_state = broken
    resp = env.client.get("/task/t3")
    assert resp.status_code == 200 and resp.json()["status"] == "in_progress"


def test_scheduling_failure_answers_503_and_marks_the_task_failed(env):
    env.workflows.fail = True
    resp = env.client.post("/create-content", json={"topic": "x"})
    assert resp.status_code == 503 and "unavailable" in resp.text
    (doc,) = [doc for key, doc in env.docs.docs.items() if key.startswith("baton:task:")]  # not the task list's
    assert doc["status"] == "failed" and "sidecar unavailable" in doc["error"]


def test_research_parallel_answers_202_with_agents_dispatched_and_the_deadline(env):
    resp = env.client.post("/research-parallel", json={"query": "edge AI", "deadline_seconds": 12})
    assert resp.status_code == 202
    body = resp.json()
    assert body["workflow"] == "parallel" and body["agents_dispatched"] == 4 and body["deadline_seconds"] == 12
    name, workflow_input, _ = env.workflows.scheduled[0]
    assert name == "parallel" and workflow_input["query"] == "edge AI" and workflow_input["deadline_seconds"] == 12.0
    assert [m["part"] for m in workflow_input["team"]] == ["web", "academic", "news", "social"]


@pytest.mark.parametrize("payload, fragment", [
    ({}, "query"), ({"query": " "}, "must not be blank"), ({"query": "q", "deadline_seconds": 0}, "greater than 0"),
    ({"query": "q", "deadline_seconds": 601}, "less than or equal to 600"),
    ({"query": "q", "faults": {"writer-agent": {"fail": True}}}, "unknown agents"),
])
def test_research_parallel_rejects_bad_input(env, payload, fragment):
    resp = env.client.post("/research-parallel", json=payload)
    assert resp.status_code == 422 and fragment in resp.text


def test_consensus_fills_in_default_labels_for_the_task(env):
    resp = env.client.post("/consensus", json={"content": "text", "task": "review"})
    assert resp.status_code == 202
    body = resp.json()
    assert body["labels"] == ["approve", "request_changes"] and body["quorum"] is None
    assert body["voters"] == ["voter-strict", "voter-lenient", "voter-balanced"]
    assert env.workflows.scheduled[0][1]["labels"] == ["approve", "request_changes"]


@pytest.mark.parametrize("payload, fragment", [
    ({"task": "moderation"}, "content"),
    ({"content": "c", "task": "poetry"}, "moderation"),
    ({"content": "c", "task": "classification", "labels": ["a"]}, "at least 2"),
    ({"content": "c", "task": "classification", "labels": ["a", "a"]}, "unique"),
    ({"content": "c", "task": "moderation", "voters": ["voter-x"]}, "unknown voters"),
    ({"content": "c", "task": "moderation", "voters": ["voter-strict", "voter-strict"]}, "must not repeat"),
    ({"content": "c", "task": "moderation", "quorum": 4}, "more than the 3 voters"),
    ({"content": "c", "task": "moderation", "voters": ["voter-strict"], "quorum": 2}, "more than the 1 voters"),
    ({"content": "c", "task": "moderation", "quorum": 0}, "greater than or equal to 1"),
])
def test_consensus_rejects_bad_input(env, payload, fragment):
    resp = env.client.post("/consensus", json=payload)
    assert resp.status_code == 422 and fragment in resp.text, resp.text
