"""Two orchestrator replicas (issue 11): the second one from dapr.replica.yaml, as `make
replica` runs it (same app id, its own app and sidecar ports). Workflows and activities
spread over both; a replica killed with -9 (app and sidecar, as when its machine dies) in
the middle of a load leaves every task to complete on the other. Live tasks (issue 13) on
two replicas: a stream and an approval served by either one, tasks waiting at their gates.

Instant agents (a second per call) keep the load quick; the system runs on the main ports, so in the second
pytest session (own_system)."""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from infra.local.processes import ROOT, DaprRun, wait_until
from tests.integration.conftest import SECRETS, Api, api, app_log_files, own_baton, workflow_instance
from tests.integration.test_approvals import stream

pytestmark = pytest.mark.own_system

# Instant agents that take a second per call: many tasks are in flight when a replica dies.
INSTANT = {"BATON_MODEL_PROVIDER": "instant", "BATON_AGENT_DELAY_SECONDS": "1"}
SECOND = Api("http://127.0.0.1:8090")  # the replica's API (ports: ORCHESTRATOR_REPLICA in the registry)
LOAD, THROUGH_SECOND = 60, 10
ACTIVITY_LINE = re.compile(r"task=([0-9a-f-]{36}) workflows\.activities")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    SECRETS.set("webhook-url", None)  # no test webhook listens in this session
    with own_baton("replicas", tmp_path_factory.mktemp("replicas"), env=INSTANT) as first:
        second = DaprRun(ROOT / "dapr.replica.yaml", "replica", env=INSTANT)
        with second.running(timeout=90):
            yield first, second  # the first replica (all of Baton), the second


def tasks_with_activities(paths) -> set[str]:
    """Task ids that workflow activities ran for, in these logs."""
    found: set[str] = set()
    for path in paths:
        found |= set(ACTIVITY_LINE.findall(path.read_text(errors="replace")))
    return found


def start(n: int, client: Api) -> str:
    pattern = ("/create-content", {"topic": f"Replicas {n}"}) if n % 2 else \
        ("/research-parallel", {"query": f"Replicas {n}", "deadline_seconds": 120})
    resp = client.post(pattern[0], json=pattern[1], timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()["task_id"]


def status(task_id: str) -> str | None:
    try:
        return api.get(f"/task/{task_id}", timeout=10).json()["status"]
    except httpx.HTTPError:
        return None


def final_task(task_id: str, client: Api = api, timeout: float = 120) -> dict:
    def ended():
        task = client.get(f"/task/{task_id}", timeout=10).json()
        return task if task["status"] in ("completed", "failed", "cancelled", "rejected") else None
    return wait_until(ended, timeout=timeout, interval=0.3, what=f"task {task_id} to end")


def timed_task(client: Api) -> float:
    began = time.monotonic()
    resp = client.post("/create-content", json={"topic": "Ungated"}, timeout=30)
    assert resp.status_code == 202, resp.text
    assert final_task(resp.json()["task_id"], client)["status"] == "completed"
    return time.monotonic() - began


def test_a_task_streams_every_change_from_either_replica_and_resumes_with_last_event_id(replicas):
    """Started through the second replica, followed on the first, dropped after two steps and
    resumed on the second: the two connections together carry every change once, in order."""
    resp = SECOND.post("/create-content", json={"topic": "Streams across replicas"}, timeout=30)
    task_id = resp.json()["task_id"]
    first = stream(task_id, until=lambda e: e["event"] == "step" and e["data"]["name"] == "write")
    rest = stream(task_id, first[-1]["id"], client=SECOND)
    task = final_task(task_id)

    events = first + rest
    ids = [int(e["id"]) for e in events if e["event"] != "end"]  # `end` repeats the last change's id
    assert ids == sorted(set(ids)), ids
    assert first[0]["event"] == "snapshot" and rest[0]["event"] != "snapshot" and rest[-1]["event"] == "end"
    steps = [e["data"] for e in events if e["event"] == "step"]
    assert [s["name"] for s in steps] == ["research", "write", "edit", "publish"]
    assert [e["data"]["status"] for e in events if e["event"] == "status"][-1] == "completed"
    assert int(rest[-1]["id"]) == task["revision"]
    lag = max(e["received_at"] - datetime.fromisoformat(e["data"]["completed_at"]).timestamp()
              for e in events if e["event"] == "step")
    print(f"\nstream: {len(events)} events over two connections; a step reached the client "
          f"{lag:.2f} s after it was recorded, at most")
    assert lag < 3, "a recorded step took more than 3 s to reach a connected client (poll every 0.25 s)"


def test_twenty_tasks_waiting_for_approval_hold_back_nothing(replicas):
    """20 gated tasks wait (through both replicas) while an ungated task runs as fast as with
    none waiting; gates time out as told; decisions go through either replica; waiting tasks
    are cancelled."""
    alone = timed_task(api)
    gate = {"before": "write", "timeout_seconds": 900}
    with ThreadPoolExecutor(4) as pool:
        gated = list(pool.map(lambda n: (SECOND if n % 2 else api).post(
            "/create-content", json={"topic": f"Gated {n}", "approval": gate}, timeout=30).json()["task_id"],
            range(20)))
    on_timeout = {verdict: api.post("/create-content", timeout=30, json={
        "topic": f"Times out, {verdict}", "approval": {"before": "write", "timeout_seconds": 3, "on_timeout": verdict}},
    ).json()["task_id"] for verdict in ("approve", "reject")}
    wait_until(lambda: all(api.get(f"/task/{t}").json()["status"] == "awaiting_approval" for t in gated),
               timeout=120, interval=1, what="20 tasks at their gates")
    waiting = timed_task(SECOND)
    print(f"\napprovals: an ungated task took {alone:.1f} s alone and {waiting:.1f} s with 20 tasks waiting "
          f"({waiting / alone:.2f}x)")
    assert waiting < 2 * alone + 2, "tasks waiting for approval slowed an ungated task down"

    approved, rejected = final_task(on_timeout["approve"]), final_task(on_timeout["reject"])
    assert approved["status"] == "completed" and rejected["status"] == "rejected"
    for task in (approved, rejected):
        decision = task["approval"]["decision"]
        assert decision["timed_out"] and decision["by"] == "timeout"
    assert [s["name"] for s in rejected["steps"]] == ["research", "approval"]

    # The same decision through both replicas at the same instant: one takes it, the other is told.
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda client: client.post(f"/task/{gated[0]}/approve").status_code, (SECOND, api)))
    assert sorted(both) == [200, 409], both
    assert api.post(f"/task/{gated[1]}/reject").status_code == 200  # through the second
    assert final_task(gated[0])["status"] == "completed" and final_task(gated[1])["status"] == "rejected"
    for task_id in gated[2:]:
        assert api.post(f"/task/{task_id}/cancel").json()["previous_status"] == "awaiting_approval"
    assert all(workflow_instance(t)["runtimeStatus"] == "TERMINATED" for t in gated[2:])


def test_two_replicas_share_the_load_and_one_killed_mid_load_leaves_every_task_to_the_other(replicas):
    _, second = replicas
    assert SECOND.get("/health").json()["status"] == "healthy"

    def first_logs():
        return [p for p in app_log_files("orchestrator") if ".dapr" in str(p)]

    def second_logs():
        return [second.log_path]  # its app logs to the console (dapr.replica.yaml)

    # A steady load, 4 requests at a time: the first tasks through the second replica's API,
    # the rest through the first's; the second replica dies while requests still arrive.
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(start, n, SECOND if n < THROUGH_SECOND else api) for n in range(LOAD)]

        def under_way() -> set[str] | None:
            ids = {f.result() for f in futures if f.done()}
            ran_on_both = tasks_with_activities(first_logs()) & ids and tasks_with_activities(second_logs()) & ids
            return ids if len(ids) >= LOAD // 3 and ran_on_both else None

        before = wait_until(under_way, timeout=90, interval=0.2, what="both replicas to run activities")
        on_second = tasks_with_activities(second_logs()) & before
        unfinished = {t for t in before if status(t) not in ("completed", "failed")}
        second.crash("orchestrator")
        crashed_at = time.monotonic()
        ids = [f.result() for f in futures]
    print(f"\nreplicas: killed the second one with {len(before)} of {LOAD} tasks started, "
          f"{len(unfinished)} unfinished ({len(unfinished & on_second)} with activities on it); "
          f"{len(on_second)} had activities on the second replica")

    final: dict[str, dict] = {}

    def finish(task_id: str) -> None:
        def done():
            task = api.get(f"/task/{task_id}", timeout=10).json()
            return task if task["status"] in ("completed", "failed") else None
        final[task_id] = wait_until(done, timeout=240, interval=0.5, what=f"task {task_id}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(finish, ids))
    print(f"replicas: all {len(ids)} tasks final {time.monotonic() - crashed_at:.1f}s after the kill")

    assert not [t for t, task in final.items() if task["status"] != "completed"], \
        {t: task.get("error") for t, task in final.items() if task["status"] != "completed"}
    for task_id, task in final.items():
        names = [s["name"] for s in task["steps"]]
        assert len(names) == len(set(names)), f"{task_id}: a step recorded twice: {names}"
    # Both replicas ran work, and the load was still going when one died.
    assert on_second and tasks_with_activities(first_logs()) & before
    assert unfinished & on_second, "no task was under way on the killed replica: nothing was taken over"
