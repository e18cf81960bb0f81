"""Live tasks (issue 13), measured on a running Baton with instant agents:

1. Stream latency: how long after a change is recorded a connected client receives it
   (GET /task/{task_id}/stream), with 1, then --streams streams open at once, each following a
   sequential task whose agents take a second each (fault injection); every step event's
   arrival minus the step's `completed_at`.
2. What a task waiting for approval costs: an ungated sequential task's duration with none and
   with --waiting tasks at their gates, as a ratio in one run, and the orchestrator's memory
   (app + sidecar, RSS) before and after they arrive. The waiting tasks are cancelled at the end.

    .venv/bin/python -m bench.live_tasks [--streams 20] [--waiting 100]

Starts Baton itself (platform + `dapr run -f dapr.yaml`, BATON_MODEL_PROVIDER=instant) unless
one is already running on :8080 (then the memory figures are left out). SIGTERM or Ctrl-C
stops what it started."""

import argparse
import asyncio
import json
import signal
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from infra.local.processes import DaprRun

from .client import api_headers, patiently
from .patterns import ORCHESTRATOR
from .system import baton_system, stop_once

ENDED = ("completed", "failed", "cancelled", "rejected")


async def start(client: httpx.AsyncClient, topic: str, **extra: Any) -> str:
    resp = await patiently(lambda: client.post("/create-content", json={"topic": topic, **extra}))
    resp.raise_for_status()
    task_id: str = resp.json()["task_id"]
    return task_id


async def follow(client: httpx.AsyncClient, task_id: str) -> list[float]:
    """Seconds from each step's recording to its event's arrival, until the stream ends."""
    lags, event, data = [], None, ""
    async with client.stream("GET", f"/task/{task_id}/stream", timeout=httpx.Timeout(10, read=120)) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = line.split(":", 1)[1].strip()
            elif line == "" and event:
                if event == "step":
                    recorded = datetime.fromisoformat(json.loads(data)["completed_at"]).timestamp()
                    lags.append(time.time() - recorded)
                if event == "end":
                    break
                event, data = None, ""
    return lags


# Each agent takes a second, so a stream opened right after the start sees every step happen.
SLOW_AGENTS = {app: {"delay_seconds": 1} for app in ("research-agent", "writer-agent", "editor-agent")}


async def stream_latency(client: httpx.AsyncClient, streams: int) -> list[float]:
    async def one(n: int) -> list[float]:
        return await follow(client, await start(client, f"Stream latency {n}", faults=SLOW_AGENTS))

    per_stream = await asyncio.gather(*(one(n) for n in range(streams)))
    return [lag for lags in per_stream for lag in lags]


async def wait_for(client: httpx.AsyncClient, task_id: str, statuses: tuple[str, ...], within: float = 300) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status: str = (await patiently(lambda: client.get(f"/task/{task_id}"))).json()["status"]
        if status in statuses:
            return status
        await asyncio.sleep(0.2)
    raise TimeoutError(f"task {task_id} not {statuses} after {within:g} s")


async def ungated_seconds(client: httpx.AsyncClient) -> float:
    began = time.monotonic()
    status = await wait_for(client, await start(client, "Ungated"), ENDED)
    assert status == "completed", status
    return time.monotonic() - began


def memory_mib(run: DaprRun | None) -> float | None:
    """The orchestrator app's and its sidecar's resident memory, MiB."""
    if run is None:
        return None
    kib = 0
    for pid in (run.app_pid("orchestrator"), run._sidecar("orchestrator")[0]):
        status = Path(f"/proc/{pid}/status").read_text()
        kib += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return kib / 1024


def figures(lags: list[float]) -> str:
    ordered = sorted(lags)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"{len(lags)} step events: median {statistics.median(lags) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms")


async def measure(run: DaprRun | None, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=ORCHESTRATOR, headers=api_headers(), timeout=30) as client:
        print(f"stream latency, 1 stream: {figures(await stream_latency(client, 1))}", flush=True)
        print(f"stream latency, {args.streams} streams at once: {figures(await stream_latency(client, args.streams))}",
              flush=True)

        alone = statistics.median([await ungated_seconds(client) for _ in range(3)])
        before = memory_mib(run)
        gate = {"before": "write", "timeout_seconds": 3600}
        waiting = [await start(client, f"Waiting {n}", approval=gate) for n in range(args.waiting)]
        try:
            for n, task_id in enumerate(waiting, 1):
                await wait_for(client, task_id, ("awaiting_approval",))
                if n % 25 == 0:
                    print(f"  {n} of {args.waiting} tasks at their gates", flush=True)
            after = memory_mib(run)
            beside = statistics.median([await ungated_seconds(client) for _ in range(3)])
            print(f"an ungated task: {alone:.2f} s alone, {beside:.2f} s with {args.waiting} tasks waiting for "
                  f"approval ({beside / alone:.2f}x; median of 3 each)", flush=True)
            if before is not None and after is not None:
                print(f"orchestrator memory (app + sidecar RSS): {before:.0f} MiB before, {after:.0f} MiB with "
                      f"{args.waiting} waiting ({(after - before) * 1024 / args.waiting:.0f} KiB a task)", flush=True)
        finally:
            for task_id in waiting:
                await patiently(lambda t=task_id: client.post(f"/task/{t}/cancel"))  # type: ignore[misc]
            print(f"cancelled the {len(waiting)} waiting tasks", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live_tasks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=20, help="streams open at once in the second measure")
    parser.add_argument("--waiting", type=int, default=100, help="tasks waiting for approval")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop_once)
    signal.signal(signal.SIGINT, stop_once)
    try:
        with baton_system("instant") as run:
            asyncio.run(measure(run, args))
    except KeyboardInterrupt:
        sys.exit("live_tasks: stopped by a signal; what it started is stopped")


if __name__ == "__main__":
    main()
