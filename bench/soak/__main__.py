"""Soak: N tasks (default 300) over all five patterns at concurrency 20 with instant agents,
while one agent (at 25% of the tasks accepted), the orchestrator (50%) and Redis (75%) are
each killed or stopped once and started again; then every task is waited for and checked:
none lost, none stuck, every step recorded once, every event processed once by each of its
subscribers or dead-lettered by name, every dead letter accounted for, and anything that
failed explained by a fault (bench/soak/verdict.py has the rules). Prints the figures and
exits 1 on any violation. Run by hand, not in CI; it starts its own Baton (the faults need
its processes), so nothing else may use Baton's ports:

    .venv/bin/python -m bench.soak [--tasks 300] [--concurrency 20] [--timeout 300]"""

import argparse
import asyncio
import signal
import sys

import httpx

from infra.local.processes import DaprRun
from services.common.registry import REGISTRY

from ..client import api_headers
from ..patterns import ORCHESTRATOR, PATTERNS
from ..system import baton_system, healthy, stop_once
from .checks import Submission
from .clock import Clock
from .report import Run, render
from .schedule import Milestones, fault_plan, run_faults
from .traffic import SoakAbortedError, Traffic
from .verdict import judge


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=300, help="tasks to send, spread evenly over the patterns")
    parser.add_argument("--concurrency", type=int, default=20, help="tasks in flight at once")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds to wait, once sending and the faults are over, for every task to settle")
    parser.add_argument("--follow", type=float, default=60, help="seconds a client polls its task before moving on")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between polls (the latency's resolution)")
    parser.add_argument("--agent", default="web-researcher", choices=[a.app_id for a in REGISTRY.agents],
                        help="the agent to kill -9 and restart")
    parser.add_argument("--orchestrator-crash", choices=["replica", "app"], default="replica",
                        help="kill the orchestrator with its sidecar (a replica dies) or the app alone")
    parser.add_argument("--redis-down", type=float, default=5, help="seconds Redis stays stopped")
    parser.add_argument("--grace", type=float, default=30,
                        help="seconds after a fault's recovery during which a task's failure is still its doing")
    parser.add_argument("--no-faults", action="store_true",
                        help="only the load and the checks (may use a Baton that is already running)")
    return parser.parse_args()


async def report_progress(subs: list[Submission], traffic: Traffic, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        accepted = [s for s in subs if s.accepted]
        done = [s for s in accepted if s.finished_at is not None]
        failed = sum(1 for s in done if s.task and s.task["status"] == "failed")
        c = traffic.counts
        traffic.clock.log(f"accepted {len(accepted)}/{len(subs)}, done {len(done)} ({failed} failed), "
                          f"in flight {len(accepted) - len(done)}; waits: {c.throttled} x 429, "
                          f"{c.unavailable} x 503, {c.connection_errors} connection errors")


async def soak(run: DaprRun | None, args: argparse.Namespace) -> Run:
    clock = Clock()
    names = [p.name for p in PATTERNS]
    subs = [Submission(i, names[i % len(names)]) for i in range(args.tasks)]
    waiting = iter(subs)
    limits = httpx.Limits(max_connections=args.concurrency * 2 + 4)
    async with httpx.AsyncClient(base_url=ORCHESTRATOR, headers=api_headers(), timeout=30, limits=limits) as http:
        traffic, plan = Traffic(http, clock), fault_plan(run, args, clock)
        milestones = Milestones(subs, [share for share, _, _ in plan])

        async def client() -> None:
            while (sub := next(waiting, None)) is not None:
                await traffic.submit(sub)
                milestones.update()
                if sub.accepted:
                    await traffic.follow(sub, args.follow, args.poll)

        faults = asyncio.create_task(run_faults(plan, milestones, clock))
        progress = asyncio.create_task(report_progress(subs, traffic, 5.0))
        clock.log(f"sending {args.tasks} tasks at concurrency {args.concurrency}; faults: "
                  f"{', '.join(f'{f.name} at {share:.0%}' for share, f, _ in plan) or 'none'}")
        try:
            await asyncio.gather(*(client() for _ in range(args.concurrency)))
            sent_in = clock.now()
            milestones.update(sending_over=True)
            await faults
            clock.log(f"all sent; waiting up to {args.timeout:g} s for every task to settle")
            letters = await traffic.settle(subs, clock.now() + args.timeout, args.concurrency)
        finally:
            progress.cancel()
            faults.cancel()
    faults_planned = [fault for _, fault, _ in plan]
    verdict = judge(subs, letters, faults_planned, args.grace, [a for a in traffic.counts.ambiguous if a])
    return Run(subs, letters, faults_planned, traffic.counts, verdict, sent_in, clock.now())


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, stop_once)
    signal.signal(signal.SIGINT, stop_once)
    if healthy() and not args.no_faults:
        sys.exit("soak: a Baton is already running on :8080, not started by this script. The faults kill and "
                 "restart the soak's own processes: stop it first, or pass --no-faults for the load and checks only.")
    try:
        with baton_system("instant") as run:
            try:
                result = asyncio.run(soak(run, args))
            except SoakAbortedError as err:
                sys.exit(f"soak: aborted: {err}")
            print(render(result), flush=True)
    except KeyboardInterrupt:
        sys.exit("soak: stopped by a signal; what it started is stopped")
    sys.exit(1 if result.verdict.violations else 0)


if __name__ == "__main__":
    main()
