"""Baton's benchmarks, one command: `.venv/bin/python -m bench` (or `make bench`).

Per pattern: end-to-end latency p50/p95/p99 and throughput at concurrency 1, 8 and 32,
with instant agents (a deterministic model stand-in: orchestration only) and with the
embedded model; orchestration overhead against the same agent calls made directly with
asyncio; fan-out speedup with agents of L seconds; peak RSS and CPU time of every
process of the system. Writes bench/results/<name>.{json,md,png}.
`--compare` runs again and prints the ratio against the committed results instead."""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from typing import Any

from . import fanout_speedup
from .baseline import SHAPES, baseline_latency
from .load import closed_loop
from .patterns import BY_NAME, PATTERNS
from .report import RESULTS, ROOT, compare, machine, write
from .resources import ResourceSampler
from .system import baton_system, healthy

BUDGET = {  # per cell: (requests per client, seconds before no new request is issued, warm-ups)
    "instant": (30, 30.0, 2),
    # The embedded model on 2 cores is the bottleneck: one task per client is plenty.
    "openai": (1, 60.0, 1),
}


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def load_mode(mode: str, concurrencies: list[int], scale: float) -> tuple[list[dict], dict]:
    per_client, seconds, warm_ups = BUDGET[mode]
    runs = []
    for pattern in PATTERNS:  # warm-up: first calls pay for connections and caches
        asyncio.run(closed_loop(pattern, 1, warm_ups, 60))
    with ResourceSampler() as sampler:
        for pattern in PATTERNS:
            for c in concurrencies:
                result = asyncio.run(closed_loop(pattern, c, max(1, int(per_client * c * scale)), seconds * scale))
                log(f"{mode} {pattern.name} c={c}: {result['completed']} done, {result['errors']} errors, "
                    f"p50 {result['p50_s']} s, {result['throughput_per_s']} tasks/s")
                runs.append(result)
    return runs, sampler.report()


def overhead(load: list[dict], repeat: int) -> list[dict]:
    out = []
    for name in SHAPES:
        baton = next(r for r in load if r["pattern"] == name and r["concurrency"] == 1)["p50_s"]
        direct = statistics.median(asyncio.run(baseline_latency(name, repeat)))
        steps = BY_NAME[name].agent_steps
        per_step_ms = round((baton - direct) / steps * 1000, 1)
        out.append({"pattern": name, "baton_s": baton, "direct_s": round(direct, 4),
                    "ratio": round(baton / direct, 2), "overhead_per_step_ms": per_step_ms})
        log(f"overhead {name}: Baton {baton:.3f}s, direct {direct:.3f}s")
    return out


def fanout(latencies: list[float]) -> list[dict]:
    out = []
    for latency in latencies:
        par = statistics.median(fanout_speedup.parallel_once(latency) for _ in range(3))
        seq = statistics.median(fanout_speedup.sequential_once(latency) for _ in range(3))
        out.append({"latency_s": latency, "parallel_s": round(par, 3), "sequential_s": round(seq, 3),
                    "speedup": round(seq / par, 2)})
        log(f"fan-out L={latency}: parallel {par:.2f}s, sequential {seq:.2f}s")
    return out


def committed(name: str) -> dict:
    path = f"bench/results/{name}.json"
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True)
    if shown.returncode:
        sys.exit(f"bench: no committed {path} to compare with")
    return json.loads(shown.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="instant,openai", help="comma-separated: instant, openai")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink (<1) or grow the request budgets")
    parser.add_argument("--name", default="results", help="file name under bench/results/")
    parser.add_argument("--compare", action="store_true", help="print new/old ratios against the committed run")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other models' results already in bench/results/<name>.json")
    args = parser.parse_args()
    if healthy():
        sys.exit("bench: a Baton is already running on :8080; stop it (the bench starts its own, per model)")
    modes = args.models.split(",")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    results: dict[str, Any] = {"machine": machine(), "load": {}, "resources": {}, "overhead": [], "fanout": []}
    previous = RESULTS / f"{args.name}.json"
    if args.merge and previous.exists():
        results.update({k: v for k, v in json.loads(previous.read_text()).items() if k != "machine"})
    for mode in modes:
        with baton_system(mode):
            results["load"][mode], results["resources"][mode] = load_mode(mode, concurrencies, args.scale)
            if mode == "instant":
                results["overhead"] = overhead(results["load"][mode], repeat=20)
                results["fanout"] = fanout([1.0, 2.0])
        if not args.compare:
            write(results, args.name)  # after each model, so a long run keeps what it measured
    if args.compare:
        base = write(results, f"{args.name}-latest")
        print(compare(results, committed(args.name)))
    else:
        base = write(results, args.name)
    print((base.with_suffix(".md")).read_text())
    log(f"wrote {base}.json, .md and .png")


if __name__ == "__main__":
    main()
