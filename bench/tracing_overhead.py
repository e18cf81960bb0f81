"""What tracing costs (issue 12): the same closed-loop load on Baton with the apps' tracing on,
then off, in one run, compared as ratios; and what the local Zipkin holds and takes after it.

    .venv/bin/python -m bench.tracing_overhead [--concurrency 8] [--requests 120]

Starts Baton twice with instant agents (no model, so orchestration alone is measured): with
BATON_TRACING=on and with BATON_TRACING=off. Zipkin runs in both: the sidecars' tracing is
their Dapr configuration, not an environment setting, so the ratio is what the apps' spans and
their export add. Needs no Baton running on :8080 (it starts its own). SIGTERM or Ctrl-C stops
what it started."""

import argparse
import asyncio
import json
import signal
import sys

import httpx

from .load import closed_loop
from .patterns import PATTERNS
from .resources import system_pids
from .system import baton_system, healthy, stop_once

MEASURED = ("sequential", "parallel")
ZIPKIN = "http://127.0.0.1:9411"


def zipkin_figures() -> dict:
    """Spans Zipkin received and its resident memory (the platform's java process)."""
    text = httpx.get(f"{ZIPKIN}/prometheus", timeout=10).text
    spans = sum(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith("zipkin_collector_spans_total"))
    java = [pid for pid, name in system_pids().items() if name == "zipkin"]
    rss = 0
    if java:
        with open(f"/proc/{java[0]}/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) // 1024
    return {"spans_received": int(spans), "zipkin_rss_mb": rss}


def run_load(tracing: str, concurrency: int, requests: int) -> dict:
    results = {}
    with baton_system("instant", env={"BATON_TRACING": tracing}):
        for pattern in (p for p in PATTERNS if p.name in MEASURED):
            asyncio.run(closed_loop(pattern, 1, 5, 60))  # warm-up, not counted
            print(f"bench: tracing {tracing}: {pattern.name} at concurrency {concurrency} ...", flush=True)
            results[pattern.name] = asyncio.run(closed_loop(pattern, concurrency, requests, 180))
        if tracing == "on":
            results["zipkin"] = zipkin_figures()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--off-first", action="store_true",
                        help="run without tracing first (the second run of two was seen to be slower)")
    args = parser.parse_args()
    if healthy():
        print("bench: stop the Baton running on :8080 first (this bench starts its own, twice)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, stop_once)
    runs = {}
    for tracing in (("off", "on") if args.off_first else ("on", "off")):
        runs[tracing] = run_load(tracing, args.concurrency, args.requests)
    on, off = runs["on"], runs["off"]
    print("\n| pattern | tracing on: tasks/s, p50, p95 (s) | off: tasks/s, p50, p95 (s) "
          "| on/off throughput | on/off p50 |")
    print("|---|---|---|---|---|")
    for name in MEASURED:
        a, b = on[name], off[name]
        print(f"| {name} | {a['throughput_per_s']}, {a['p50_s']}, {a['p95_s']} | {b['throughput_per_s']}, "
              f"{b['p50_s']}, {b['p95_s']} | {a['throughput_per_s'] / b['throughput_per_s']:.2f} | "
              f"{a['p50_s'] / b['p50_s']:.2f} |")
    print(f"\nerrors: on {sum(on[n]['errors'] for n in MEASURED)}, off {sum(off[n]['errors'] for n in MEASURED)}")
    print(f"zipkin after the traced run: {json.dumps(on['zipkin'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
