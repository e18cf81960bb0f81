"""Closed-loop load: `concurrency` clients each submit a task and poll until it is done,
then submit the next, for a bounded count and time. Latency is submit -> done as a user
sees it through the public API (polled every 50 ms, so that is its resolution)."""

import asyncio
import time

import httpx

from .client import api_headers, patiently, sidecar_headers
from .patterns import ORCHESTRATOR, SIDECAR, Pattern

POLL_SECONDS = 0.05


async def run_one(http: httpx.AsyncClient, pattern: Pattern, give_up_after: float) -> float:
    started = time.monotonic()
    body, api = pattern.body(), api_headers()
    if pattern.name == "event-driven":
        resp = await http.post(f"{SIDECAR}/v1.0/publish/pubsub/data-received", headers=sidecar_headers(),
                               params={"metadata.cloudevent.type": "DataReceived"}, json=body)
        resp.raise_for_status()
        url, done = f"{ORCHESTRATOR}/events/{body['correlation_id']}", lambda doc: len(doc["events"]) >= 4
    else:
        resp = await patiently(lambda: http.post(f"{ORCHESTRATOR}{pattern.path}", json=body, headers=api))
        resp.raise_for_status()
        url = f"{ORCHESTRATOR}/task/{resp.json()['task_id']}"
        done = lambda doc: doc["status"] in ("completed", "failed")  # noqa: E731
    while time.monotonic() - started < give_up_after:
        polled = await patiently(lambda: http.get(url, headers=api))
        polled.raise_for_status()
        doc = polled.json()
        if done(doc):
            if doc.get("status") == "failed":
                raise RuntimeError(f"{pattern.name} task failed: {doc.get('error')}")
            return time.monotonic() - started
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"{pattern.name} not done after {give_up_after}s")


async def closed_loop(pattern: Pattern, concurrency: int, max_requests: int, max_seconds: float,
                      task_timeout: float = 300) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency * 2 + 4)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < max_requests and time.monotonic() < deadline:
            issued += 1
            try:
                latencies.append(await run_one(http, pattern, task_timeout))
            except Exception as err:  # counted and reported, never hidden
                errors.append(f"{type(err).__name__}: {err}")

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    wall = time.monotonic() - started
    return {"pattern": pattern.name, "concurrency": concurrency, "completed": len(latencies),
            "errors": len(errors), "error_samples": errors[:3], "wall_seconds": round(wall, 3),
            "throughput_per_s": round(len(latencies) / wall, 3) if wall else 0.0,
            **percentiles(latencies)}


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"p50_s": None, "p95_s": None, "p99_s": None, "mean_s": None}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"p50_s": pick(0.50), "p95_s": pick(0.95), "p99_s": pick(0.99),
            "mean_s": round(sum(ordered) / len(ordered), 4)}
