"""The soak's faults, on a Baton it started itself (bench/system.py yields its DaprRun):
- kill -9 an app and start it again as a supervisor would (DaprRun.kill_app and launch; its
  sidecar keeps running);
- kill -9 an app with its sidecar and start both (DaprRun.crash: its pod or machine died);
- stop Redis and start it again as infra/local/platform.sh does (SIGTERM to the pid in its
  pid file; `platform.sh up` then starts only what is stopped).
Each fault is logged, and timed until Baton answers healthy again."""

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from infra.local.processes import ROOT, DaprRun, is_running, platform
from services.common.registry import REGISTRY

from ..patterns import ORCHESTRATOR
from .checks import Fault
from .clock import Clock

HEALTHY_WITHIN_SECONDS = 120
STOP_WITHIN_SECONDS = 30
Check = Callable[[httpx.AsyncClient], Awaitable[bool]]


def redis_pid_file() -> Path:
    """Where platform.sh keeps Redis's pid: $BATON_DATA_DIR/run (default .data/run)."""
    return Path(os.environ.get("BATON_DATA_DIR") or ROOT / ".data") / "run" / "redis.pid"


def app_answers(app_id: str) -> Check:
    """The app's own /health, open without a token (it is Dapr's probe)."""
    async def check(http: httpx.AsyncClient) -> bool:
        return (await http.get(f"http://127.0.0.1:{REGISTRY.app(app_id).port}/health")).status_code == 200
    return check


async def state_store_back(http: httpx.AsyncClient) -> bool:
    resp = await http.get(f"{ORCHESTRATOR}/health")
    return resp.status_code == 200 and resp.json().get("state_store") == "available"


async def healthy_at(clock: Clock, check: Check) -> float | None:
    """When `check` first passes (soak seconds), or None after HEALTHY_WITHIN_SECONDS."""
    until = clock.now() + HEALTHY_WITHIN_SECONDS
    async with httpx.AsyncClient(timeout=3) as http:
        while clock.now() < until:
            try:
                if await check(http):
                    return clock.now()
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    return None


async def crash_app(fault: Fault, run: DaprRun, app_id: str, clock: Clock) -> None:
    pid = await asyncio.to_thread(run.app_pid, app_id)
    fault.injected_at = clock.now()
    clock.log(f"fault: kill -9 {app_id} (pid {pid})")
    spec = await asyncio.to_thread(run.kill_app, app_id)
    started = await asyncio.to_thread(run.launch, spec)
    clock.log(f"fault: {app_id} started again (pid {started.pid}); its log is .data/logs/test-restart-{app_id}.log")
    fault.recovered_at = await healthy_at(clock, app_answers(app_id))


async def crash_replica(fault: Fault, run: DaprRun, app_id: str, clock: Clock) -> None:
    """kill -9 the app and its sidecar together (its machine or pod died), then start both."""
    fault.injected_at = clock.now()
    clock.log(f"fault: kill -9 {app_id} and its sidecar")
    for spec in await asyncio.to_thread(run.crash, app_id):
        started = await asyncio.to_thread(run.launch, spec)
        clock.log(f"fault: {spec['app_id']} started again (pid {started.pid}); its log is "
                  f".data/logs/test-restart-{spec['app_id']}.log")
    fault.recovered_at = await healthy_at(clock, app_answers(app_id))


async def redis_outage(fault: Fault, down_seconds: float, clock: Clock) -> None:
    pid = int(redis_pid_file().read_text())
    fault.injected_at = clock.now()
    clock.log(f"fault: stop Redis (SIGTERM to pid {pid}), start it again {down_seconds:g} s after it stops")
    os.kill(pid, signal.SIGTERM)
    until = clock.now() + STOP_WITHIN_SECONDS
    while is_running(pid):
        if clock.now() > until:
            raise TimeoutError(f"Redis (pid {pid}) did not stop within {STOP_WITHIN_SECONDS} s")
        await asyncio.sleep(0.1)
    clock.log("fault: Redis stopped")
    await asyncio.sleep(down_seconds)
    await asyncio.to_thread(platform, "up")
    clock.log("fault: Redis started again (platform.sh up)")
    fault.recovered_at = await healthy_at(clock, state_store_back)


async def inject(fault: Fault, action: Callable[[], Awaitable[None]], clock: Clock) -> None:
    """Run one fault; whatever goes wrong is kept on it (a violation), never raised."""
    try:
        await action()
    except Exception as err:  # reported in the verdict, the soak goes on
        fault.error = f"({type(err).__name__}: {err})"
        clock.log(f"fault '{fault.name}' went wrong: {err}")
        return
    if fault.recovered_at is None:
        clock.log(f"fault '{fault.name}': Baton not healthy {HEALTHY_WITHIN_SECONDS} s later")
    elif fault.injected_at is not None:
        clock.log(f"fault '{fault.name}': healthy again after {fault.recovered_at - fault.injected_at:.1f} s")
