"""When the soak's faults happen: one agent killed at 25% of the tasks accepted, the
orchestrator at 50%, Redis stopped at 75%, one after the other (bench/soak/faults.py does them)."""

import argparse
import asyncio
from functools import partial

from infra.local.processes import DaprRun

from .checks import Fault, Submission
from .clock import Clock
from .faults import crash_app, crash_replica, inject, redis_outage


def fault_plan(run: DaprRun | None, args: argparse.Namespace, clock: Clock) -> list[tuple[float, Fault, partial]]:
    """(share of tasks accepted, the fault, what injects it)."""
    if run is None or args.no_faults:
        return []
    # The orchestrator dies with its sidecar by default (a replica's pod or machine): killed
    # alone, its Dapr 1.18.1 sidecar can wedge (README, "Soak"), which `--orchestrator-crash app` shows.
    alone = args.orchestrator_crash == "app"
    agent, redis = Fault(f"kill -9 {args.agent}", agents=(args.agent,)), Fault(f"stop Redis for {args.redis_down:g} s")
    orchestrator = Fault("kill -9 orchestrator" if alone else "kill -9 orchestrator and its sidecar")
    crash_orchestrator = crash_app if alone else crash_replica
    return [(0.25, agent, partial(crash_app, agent, run, args.agent, clock)),
            (0.50, orchestrator, partial(crash_orchestrator, orchestrator, run, "orchestrator", clock)),
            (0.75, redis, partial(redis_outage, redis, args.redis_down, clock))]


class Milestones:
    """One event per share of the tasks accepted: set when the share is reached, or when
    sending is over (then `reached` tells which really were)."""

    def __init__(self, subs: list[Submission], shares: list[float]):
        self.subs, self.events = subs, {share: asyncio.Event() for share in shares}

    def reached(self, share: float) -> bool:
        return sum(1 for s in self.subs if s.accepted) >= share * len(self.subs)

    def update(self, sending_over: bool = False) -> None:
        for share, event in self.events.items():
            if sending_over or self.reached(share):
                event.set()


async def run_faults(plan: list[tuple[float, Fault, partial]], milestones: Milestones, clock: Clock) -> None:
    """Each fault once its share of tasks is accepted, one after the other (the next waits for
    Baton to be healthy again); one whose share was never reached stays not injected."""
    for share, fault, action in plan:
        await milestones.events[share].wait()
        if milestones.reached(share):
            await inject(fault, action, clock)
