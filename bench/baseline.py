"""The floor: the same agents' HTTP endpoints called directly with asyncio, in the same
shape as each pattern, with no Dapr and no workflow in between. The agents' app ports
come from dapr.yaml."""

import asyncio
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]


def agent_ports() -> dict[str, int]:
    apps = yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]
    return {a["appID"]: a["appPort"] for a in apps}


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
    notes = await agents.run("research-agent", "Topic: Benchmarks for agent systems")
    draft = await agents.run("writer-agent", f"Topic: Benchmarks\n\nResearch notes:\n{notes}")
    await agents.run("editor-agent", draft)


async def parallel(agents: DirectAgents) -> None:
    await asyncio.gather(*(agents.run(a, "Query: Benchmarks for agent systems") for a in
                           ["web-researcher", "academic-researcher", "news-researcher", "social-researcher"]))


async def hierarchical(agents: DirectAgents) -> None:
    notes = await asyncio.gather(*(agents.run(a, "Goal: Benchmarks") for a in ["web-scraper", "paper-analyser"]))
    draft = await agents.run("writer-agent", "\n\n".join(notes))
    await agents.run("editor-agent", draft)


async def consensus(agents: DirectAgents) -> None:
    await asyncio.gather(*(agents.vote(v) for v in ["voter-strict", "voter-lenient", "voter-balanced"]))


SHAPES = {"sequential": sequential, "parallel": parallel, "hierarchical": hierarchical, "consensus": consensus}


async def baseline_latency(pattern: str, repeat: int) -> list[float]:
    """Latencies of `repeat` sequential runs of the pattern's direct-call shape."""
    out = []
    async with httpx.AsyncClient(timeout=300) as http:
        agents = DirectAgents(http)
        for _ in range(repeat):
            started = time.monotonic()
            await SHAPES[pattern](agents)
            out.append(time.monotonic() - started)
    return out
