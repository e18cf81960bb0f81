"""Issue 13: approval gates and the task stream on the real system (real model). A gated
sequential task waits before publishing, survives kill -9 of the orchestrator while it
waits, and publishes only once approved; its stream, dropped by the kill, resumes with
Last-Event-ID and misses nothing. A rejected task never publishes."""

import threading
import time

import httpx

from infra.local.processes import ROOT, wait_until
from tests.integration.conftest import Api, api, key_headers, workflow_instance
from tests.integration.test_sequential import _healthy, content_published, get_task, start_content
from tests.sse import read_events

GATED = {"before": "publish", "timeout_seconds": 900, "on_timeout": "reject"}


def stream(task_id: str, last_event_id: str | None = None, until=lambda event: False, client: Api = api) -> list[dict]:
    """The task's events, through `client`'s orchestrator, until the stream ends or `until(event)`;
    each with the time it arrived (`received_at`, epoch seconds)."""
    headers = {**key_headers("read"), **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    seen: list[dict] = []
    with httpx.stream("GET", f"{client.base}/task/{task_id}/stream", headers=headers,
                      timeout=httpx.Timeout(10, read=120)) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        for event in read_events(resp.iter_lines()):
            seen.append({**event, "received_at": time.time()})
            if event["event"] == "end" or until(event):
                break
    return seen


def awaiting(event: dict) -> bool:
    return event["event"] == "status" and event["data"]["status"] == "awaiting_approval"


def artifact(task_id: str):
    return ROOT / ".data" / "artifacts" / f"{task_id}.md"


def test_a_gated_task_waits_through_a_kill_and_publishes_only_once_approved(baton):
    task_id = start_content("Approval gates for agents", approval=GATED)
    before_kill = stream(task_id, until=awaiting)
    assert before_kill[0]["event"] == "snapshot" and before_kill[0]["retry"]
    task = get_task(task_id)
    assert task["status"] == "awaiting_approval"
    assert [s["name"] for s in task["steps"]] == ["research", "write", "edit"]
    assert task["approval"]["subject"]["article"] == task["steps"][2]["result"]["output"]
    assert not artifact(task_id).exists() and not content_published(task_id)

    baton.restart_app("orchestrator")  # kill -9 while it waits
    wait_until(_healthy, timeout=60, what="the restarted orchestrator")
    assert get_task(task_id)["status"] == "awaiting_approval"
    assert workflow_instance(task_id)["runtimeStatus"] == "RUNNING"

    after: list[dict] = []
    follower = threading.Thread(target=lambda: after.extend(stream(task_id, before_kill[-1]["id"])))
    follower.start()
    resp = api.post(f"/task/{task_id}/approve", json={"by": "integration test", "comment": "ship it"})
    assert resp.status_code == 200, resp.text
    follower.join(timeout=150)
    assert not follower.is_alive(), "the stream did not end with the task"

    task = get_task(task_id)
    assert task["status"] == "completed", task.get("error")
    assert [s["name"] for s in task["steps"]] == ["research", "write", "edit", "approval", "publish"]
    assert task["approval"]["decision"]["by"] == "integration test" and artifact(task_id).exists()
    assert len(content_published(task_id)) == 1

    # The two connections together: every change once, in order, nothing missed at the kill.
    events = before_kill + after
    ids = [int(e["id"]) for e in events if e["event"] != "end"]  # `end` repeats the last change's id
    assert ids == sorted(set(ids)), ids
    assert after[0]["event"] != "snapshot" and after[-1]["event"] == "end"
    assert after[-1]["data"]["status"] == "completed" and int(after[-1]["id"]) == task["revision"]
    assert [e["data"]["name"] for e in events if e["event"] == "step"] == \
        ["research", "write", "edit", "approval", "publish"]
    # Each part comes in its latest form at each poll: in_progress may be overtaken by completed.
    statuses = [e["data"]["status"] for e in events if e["event"] == "status"]
    assert statuses[-1] == "completed" and "awaiting_approval" in statuses[:-1], statuses
    approvals = [e["data"] for e in events if e["event"] == "approval"]
    assert approvals[0]["decision"] is None and approvals[-1]["decision"]["verdict"] == "approve"
    again = api.post(f"/task/{task_id}/approve")
    assert again.status_code == 409 and "completed, not awaiting approval" in again.json()["detail"]


def test_a_rejected_task_never_publishes(baton):
    task_id = start_content("A draft nobody wants", approval=GATED)
    wait_until(lambda: get_task(task_id)["status"] == "awaiting_approval", timeout=180, what="the gate")
    resp = api.post(f"/task/{task_id}/reject", json={"comment": "off message"})
    assert resp.status_code == 200, resp.text
    second = api.post(f"/task/{task_id}/approve")
    # 409 either way: the decision is taken (the workflow may already have ended the task)
    assert second.status_code == 409 and "rejected by" in second.json()["detail"], second.text

    task = wait_until(lambda: (t := get_task(task_id))["status"] == "rejected" and t, timeout=30,
                      what="the task to end rejected")
    assert [s["name"] for s in task["steps"]] == ["research", "write", "edit", "approval"]
    assert "off message" in task["error"] and task["result"] is None
    assert workflow_instance(task_id)["runtimeStatus"] == "COMPLETED"
    assert not artifact(task_id).exists() and not content_published(task_id)
    assert api.post("/task/no-such-task/approve").status_code == 404
    # Reconnecting to a task that ended, with nothing newer: 204 tells an EventSource to stop.
    last = httpx.get(f"{api.base}/task/{task_id}/stream", timeout=10,
                     headers={**key_headers("read"), "Last-Event-ID": str(task["revision"])})
    assert last.status_code == 204
