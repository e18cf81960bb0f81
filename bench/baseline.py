"""The floor: the same agents' HTTP endpoints called directly with asyncio, in the same
shape as each pattern, with no Dapr and no workflow in between. The agents and their app
ports come from the registry."""

import asyncio
import time

import httpx

from services.common.registry import REGISTRY, Pattern

from .client import agent_headers


def agent_ports() -> dict[str, int]:
    return {a.app_id: a.port for a in REGISTRY.apps}


def team(pattern: Pattern, part: str | None = None) -> list[str]:
    return [m.app_id for m in REGISTRY.members(pattern, part)]


class DirectAgents:
    def __init__(self, http: httpx.AsyncClient):
        self.http, self.ports = http, agent_ports()

    async def run(self, app_id: str, text: str) -> str:
        resp = await self.http.post(f"http://127.0.0.1:{self.ports[app_id]}/run",
                                    json={"task_id": "baseline", "input": text})
        resp.raise_for_status()
        return resp.json()["output"]

    async def vote(self, app_id: str) -> dict:
        resp = await self.http.post(f"http://127.0.0.1:{self.ports[app_id]}/vote", json={
            "task_id": "baseline", "content": "Benchmarks are useful.", "task": "review",
            "labels": ["approve", "request_changes"]})
        resp.raise_for_status()
        return resp.json()


async def sequential(agents: DirectAgents) -> None:
    notes = await agents.run(REGISTRY.member("sequential", "research"), "Topic: Benchmarks for agent systems")
    draft = await agents.run(REGISTRY.member("sequential", "write"), f"Topic: Benchmarks\n\nResearch notes:\n{notes}")
    await agents.run(REGISTRY.member("sequential", "edit"), draft)


async def parallel(agents: DirectAgents) -> None:
    await asyncio.gather(*(agents.run(a, "Query: Benchmarks for agent systems") for a in team("parallel")))


async def hierarchical(agents: DirectAgents) -> None:
    notes = await asyncio.gather(*(agents.run(a, "Goal: Benchmarks") for a in team("hierarchical", "research")))
    draft = await agents.run(REGISTRY.member("hierarchical", "write"), "\n\n".join(notes))
    await agents.run(REGISTRY.member("hierarchical", "edit"), draft)


async def consensus(agents: DirectAgents) -> None:
    await asyncio.gather(*(agents.vote(v) for v in team("consensus")))


SHAPES = {"sequential": sequential, "parallel": parallel, "hierarchical": hierarchical, "consensus": consensus}


async def baseline_latency(pattern: str, repeat: int) -> list[float]:
    """Latencies of `repeat` sequential runs of the pattern's direct-call shape."""
    out = []
    async with httpx.AsyncClient(timeout=300, headers=agent_headers()) as http:
        agents = DirectAgents(http)
        for _ in range(repeat):
            started = time.monotonic()
            await SHAPES[pattern](agents)
            out.append(time.monotonic() - started)
    return out
