"""Issue 11, item 6: with Redis (the state store) stopped, the API answers 503 naming the
state store, and /health says so while staying 200 (it is also Dapr's app health probe);
with Redis back, everything works again. Redis is stopped through the platform's pid file
and started again the way a user does (`platform.sh up`); this file sorts last of the
integration tests, so an outage cannot disturb the others."""

import os
import signal

import httpx

from infra.local.processes import ROOT, is_running, platform, wait_until
from tests.integration.conftest import ORCHESTRATOR, api
from tests.integration.test_parallel_consensus import finished, start

REDIS_PID = ROOT / ".data" / "run" / "redis.pid"


def health() -> dict:
    resp = httpx.get(f"{ORCHESTRATOR}/health", timeout=5)
    return {"code": resp.status_code, **resp.json()}


def test_with_redis_stopped_the_api_answers_503_naming_the_state_store_and_recovers(baton):
    before, _ = start("/create-content", {"topic": "Heat pumps"})
    assert finished(before)["status"] == "completed"
    assert health()["state_store"] == "available"

    pid = int(REDIS_PID.read_text())
    os.kill(pid, signal.SIGTERM)
    try:
        wait_until(lambda: not is_running(pid), timeout=30, what="Redis to stop")
        resp = api.get(f"/task/{before}", timeout=30)
        assert resp.status_code == 503, resp.text
        assert "state store 'statestore' is unavailable" in resp.json()["detail"] and "Retry-After" in resp.headers
        resp = api.post("/create-content", json={"topic": "During the outage"}, timeout=30)
        assert resp.status_code == 503 and "state store 'statestore'" in resp.json()["detail"], resp.text
        down = wait_until(lambda: (h := health())["state_store"] == "unavailable" and h, timeout=30,
                          what="/health to report the state store")
        assert down["code"] == 200 and down["status"] == "degraded" and down["checks"]["sidecar"] is True
    finally:
        platform("up")  # starts Redis again (everything else is still running)

    wait_until(lambda: health()["state_store"] == "available", timeout=60, what="/health to see Redis back")
    assert health()["code"] == 200 and health()["status"] == "healthy"
    wait_until(lambda: api.get(f"/task/{before}", timeout=10).status_code == 200, timeout=60,
               what="the task to be readable again")
    assert api.get(f"/task/{before}", timeout=10).json()["status"] == "completed"  # kept (append-only file)
    after, _ = start("/create-content", {"topic": "After the outage"})
    assert finished(after, timeout=240)["status"] == "completed"
