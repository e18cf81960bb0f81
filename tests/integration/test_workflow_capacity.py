"""Slow agent calls do not hold up other workflows. The workflow SDK runs activities and
workflow turns on one pool of cpu_count + 4 threads by default: on 2 cores six agent calls
waiting on slow agents stalled every workflow, new ones included, until the sidecar's start
deadline ran out (the API fuzz found it). workflows/runtime.py sizes the pool."""

import time

from infra.local.processes import wait_until
from tests.integration.conftest import api
from tests.integration.test_parallel_consensus import RESEARCHERS, start

SLOW_SECONDS = 20


def test_a_new_task_runs_while_sixteen_agent_calls_wait(baton):
    # The slow calls end failing, without model work, and their tasks are cancelled before a
    # retry: four failures per agent stay under its breakers' five.
    slow = {"deadline_seconds": 120,
            "faults": {a: {"delay_seconds": SLOW_SECONDS, "fail": True} for a in RESEARCHERS}}
    waiting = [start("/research-parallel", {"query": f"Slow {n}", **slow})[0] for n in range(4)]
    time.sleep(2)  # their 16 agent calls are under way

    began = time.monotonic()
    task_id, _ = start("/consensus", {"content": "A short, friendly note.", "task": "moderation"})

    def moving() -> bool:
        return api.get(f"/task/{task_id}").json()["status"] != "pending"
    wait_until(moving, timeout=SLOW_SECONDS / 2, interval=0.25, what="the new task's first workflow turn")
    print(f"\ncapacity: the new task was under way {time.monotonic() - began:.1f}s after it started, "
          f"while 16 agent calls waited {SLOW_SECONDS}s")
    assert all(api.get(f"/task/{t}").json()["status"] == "in_progress" for t in waiting)  # still waiting
    for t in waiting:
        assert api.post(f"/task/{t}/cancel").status_code == 200
