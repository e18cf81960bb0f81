"""Issue: the sequential content pipeline end to end, on the real system."""

import os
import threading
from datetime import datetime

import httpx
import pytest

from infra.local.processes import ROOT, wait_until
from tests.integration.conftest import api, sidecar_headers, workflow_instance


def start_content(topic: str, **extra) -> str:
    resp = api.post("/create-content", json={"topic": topic, **extra}, timeout=30)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "started" and body["workflow"] == "sequential"
    assert body["steps"] == ["research", "write", "edit", "publish"]
    return body["task_id"]


def get_task(task_id: str) -> dict:
    resp = api.get(f"/task/{task_id}", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def content_published(task_id: str) -> list[dict]:
    """The ContentPublished events the orchestrator recorded for a task."""
    events = api.get(f"/events/{task_id}", timeout=10).json()["events"]
    return [e for e in events if e["event_type"] == "ContentPublished"]


def wait_finished(task_id: str, timeout: float = 120) -> dict:
    return wait_until(lambda: (t := get_task(task_id))["status"] in ("completed", "failed") and t,
                      timeout=timeout, what=f"task {task_id} to finish")


def test_pipeline_completes_with_four_ordered_steps_an_artifact_and_an_event(baton):
    task_id = start_content("Why durable workflows help AI agents")
    task = wait_finished(task_id)
    assert task["status"] == "completed", task.get("error")

    steps = task["steps"]
    assert [s["name"] for s in steps] == ["research", "write", "edit", "publish"]
    times = [datetime.fromisoformat(s["completed_at"]) for s in steps]
    assert times == sorted(times)
    for step, agent in zip(steps, ["research-agent", "writer-agent", "editor-agent"], strict=False):
        assert step["agent"] == agent and step["result"]["output"].strip()
        assert step["usage"]["completion_tokens"] > 0
    assert set(task["usage"]) == {"research-agent", "writer-agent", "editor-agent"}

    result = task["result"]
    assert result["topic"] == "Why durable workflows help AI agents"
    assert result["final_article"] == steps[2]["result"]["output"]
    assert result["word_count"] == len(result["final_article"].split()) > 0

    artifact = ROOT / ".data" / "artifacts" / steps[3]["result"]["artifact"]
    assert artifact.read_text() == result["final_article"]

    (event,) = wait_until(lambda: content_published(task_id), timeout=30, what="the ContentPublished event")
    assert event["detail"]["word_count"] == result["word_count"]


def test_a_failing_step_ends_the_task_failed_with_the_error(baton):
    task_id = start_content("A topic the editor never sees", faults={"writer-agent": {"fail": True}})
    task = wait_finished(task_id)
    assert task["status"] == "failed"
    assert "writer-agent" in task["error"] and "503" in task["error"]
    assert [s["name"] for s in task["steps"]] == ["research"]
    # The engine agrees: the instance itself failed (what `dapr workflow list` shows).
    instance = wait_until(lambda: (w := workflow_instance(task_id))["runtimeStatus"] != "RUNNING" and w,
                          timeout=30, what="the workflow instance to end")
    assert instance["runtimeStatus"] == "FAILED" and instance["workflowName"] == "sequential"


@pytest.mark.parametrize("payload, status", [
    ({}, 422), ({"topic": ""}, 422), ({"topic": "x" * 501}, 422), ({"topic": ["a"]}, 422),
])
def test_bad_input_gets_a_4xx_never_a_500(baton, payload, status):
    resp = api.post("/create-content", json=payload, timeout=10)
    assert resp.status_code == status and resp.json()["detail"]


def test_non_json_body_and_unknown_task_are_4xx(baton):
    resp = api.post("/create-content", content=b"{topic:", timeout=10,
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 422
    assert api.get("/task/no-such-task", timeout=10).status_code == 404


def use_orchestrator_sidecar(monkeypatch, dapr_settings) -> None:
    """Point this process's Dapr SDK at the orchestrator's sidecar, with its API token."""
    from services.common.registry import REGISTRY

    monkeypatch.setattr(dapr_settings, "DAPR_GRPC_PORT", REGISTRY.app("orchestrator").sidecar_ports.grpc)
    monkeypatch.setattr(dapr_settings, "DAPR_API_TOKEN", sidecar_headers()["dapr-api-token"])


def test_concurrent_step_updates_through_the_sidecar_lose_nothing(baton, monkeypatch):
    """Eight writers append to one task document at once; ETags make every write count."""
    from dapr.conf import settings as dapr_settings

    from services.common import sidecar
    from services.common.contracts import StepRecord, Usage
    from services.common.state import JsonDocuments
    from services.common.tasks import TaskStore

    use_orchestrator_sidecar(monkeypatch, dapr_settings)
    sidecar.dapr_client.cache_clear()
    try:
        tasks = TaskStore(JsonDocuments("statestore"))
        task_id = f"etag-{os.getpid()}-{threading.get_ident()}"
        tasks.create(task_id, "test", {})

        def writer(n: int):
            for i in range(5):
                tasks.add_step(task_id, StepRecord(
                    name=f"w{n}-{i}", completed_at="2026-01-01T00:00:00+00:00", result={}, agent=f"agent-{n % 2}",
                    usage=Usage(prompt_tokens=1, completion_tokens=1)))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        doc = tasks.get(task_id)
    finally:
        sidecar.dapr_client.cache_clear()
    assert len(doc.steps) == 40 and len({s.name for s in doc.steps}) == 40
    assert sum(u.prompt_tokens for u in doc.usage.values()) == 40


def test_racing_creators_of_one_document_through_redis_see_exactly_one_win(baton, monkeypatch):
    """Eight subscribers create the same event log at the same instant: one creates it, the
    others are told it exists (Redis reports that lost race as a plain error, not an ETag
    conflict), and nobody gets an exception, which would answer 500 and redeliver."""
    from concurrent.futures import ThreadPoolExecutor

    from dapr.conf import settings as dapr_settings

    from services.common import sidecar
    from services.common.state import JsonDocuments

    use_orchestrator_sidecar(monkeypatch, dapr_settings)
    sidecar.dapr_client.cache_clear()
    try:
        docs = JsonDocuments("statestore")
        key = f"baton:test-race:{os.getpid()}-{threading.get_ident()}"
        barrier = threading.Barrier(8)

        def create(n: int) -> bool:
            barrier.wait()
            return docs.create(key, {"creator": n})

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(create, range(8)))
        stored = docs.get(key)
    finally:
        sidecar.dapr_client.cache_clear()
    assert outcomes.count(True) == 1
    assert stored == {"creator": outcomes.index(True)}


def test_orchestrator_killed_mid_task_is_restarted_and_the_task_completes(baton):
    """kill -9 the orchestrator while the writer works; a new process picks the workflow up."""
    task_id = start_content("Crash recovery", faults={"writer-agent": {"delay_seconds": 6}})
    wait_until(lambda: get_task(task_id)["steps"], timeout=60, what="the research step")

    baton.restart_app("orchestrator")
    wait_until(_healthy, timeout=60, what="the restarted orchestrator")

    task = wait_finished(task_id, timeout=180)
    assert task["status"] == "completed", task.get("error")
    assert [s["name"] for s in task["steps"]] == ["research", "write", "edit", "publish"]


def _healthy() -> bool:
    try:
        return api.get("/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
