"""Fan-out speedup: four research agents that each take L seconds, dispatched by the
parallel workflow, against the same four calls made one after another.

An agent's think time is L seconds of injected delay plus its model call: none with
`--model instant` (so only L and orchestration are measured), or one real call to the
embedded model with `--model openai`. The sequential baseline invokes the same agents
through the same sidecar, one at a time.
Usage: .venv/bin/python -m bench.fanout_speedup [--model instant|openai] [--latency 5] [--repeat 3]"""

import argparse
import statistics
import time

import httpx

from bench.client import api_headers, sidecar_headers
from bench.patterns import ORCHESTRATOR, SIDECAR
from bench.system import baton_system
from services.common.registry import REGISTRY

RESEARCHERS = [m.app_id for m in REGISTRY.members("parallel")]


def parallel_once(latency: float) -> float:
    faults = {a: {"delay_seconds": latency} for a in RESEARCHERS}
    started = time.monotonic()
    resp = httpx.post(f"{ORCHESTRATOR}/research-parallel", timeout=30, headers=api_headers(),
                      json={"query": "solid-state batteries", "deadline_seconds": 4 * latency + 120, "faults": faults})
    if resp.status_code == 403:
        raise SystemExit("bench: the running Baton refuses faults; restart it with BATON_ALLOW_FAULT_INJECTION=true")
    resp.raise_for_status()
    task_id = resp.json()["task_id"]
    while True:
        task = httpx.get(f"{ORCHESTRATOR}/task/{task_id}", timeout=10, headers=api_headers()).json()
        if task["status"] in ("completed", "failed"):
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    if task["status"] != "completed" or task["result"]["completed_agents"] != 4:
        raise SystemExit(f"bench: parallel task did not complete with 4 sources: {task.get('error') or task['result']}")
    return elapsed


def sequential_once(latency: float) -> float:
    started = time.monotonic()
    for agent in RESEARCHERS:
        resp = httpx.post(f"{SIDECAR}/v1.0/invoke/{agent}/method/run", timeout=300, headers=sidecar_headers(), json={
            "task_id": "bench-sequential", "input": "Query: solid-state batteries",
            "fault": {"delay_seconds": latency}})
        resp.raise_for_status()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, action="append", help="seconds per agent (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", choices=["instant", "openai"], default="instant")
    args = parser.parse_args()
    latencies = args.latency or [0.0, 2.0, 5.0]
    rows = []
    with baton_system(args.model):
        for latency in latencies:
            par = [parallel_once(latency) for _ in range(args.repeat)]
            seq = [sequential_once(latency) for _ in range(args.repeat)]
            p, s = statistics.median(par), statistics.median(seq)
            rows.append((latency, p, s))
            runs = f"parallel {[round(x, 2) for x in par]} sequential {[round(x, 2) for x in seq]}"
            print(f"bench: L={latency:g}s {runs}", flush=True)
    print(f"\nmodel: {args.model}; {args.repeat} runs each, medians")
    print("\n| L (s per agent) | parallel workflow (s) | 4 sequential calls (s) | speedup | parallel / L |")
    print("|---|---|---|---|---|")
    for latency, p, s in rows:
        per_l = f"{p / latency:.2f}" if latency else "-"
        print(f"| {latency:g} | {p:.2f} | {s:.2f} | {s / p:.2f}x | {per_l} |")
    if args.model == "openai":
        print("\nEach agent also makes one real call to the embedded model, which serves 4 requests at "
              "once on 2 CPU cores: model time is CPU-bound and does not shrink 4x.")


if __name__ == "__main__":
    main()
