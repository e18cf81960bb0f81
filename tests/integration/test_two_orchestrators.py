"""Two orchestrator replicas (issue 11): the second one from dapr.replica.yaml, as `make
replica` runs it (same app id, its own app and sidecar ports). Workflows and activities
spread over both; a replica killed with -9 (app and sidecar, as when its machine dies) in
the middle of a load leaves every task to complete on the other.

Instant agents (a second per call) keep the load quick; the system runs on the main ports, so in the second
pytest session (own_system)."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from infra.local.processes import ROOT, DaprRun, wait_until
from tests.integration.conftest import SECRETS, Api, api, app_log_files, own_baton

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
