"""Time to store the n-th dead letter and the n-th event-log record (one correlation id),
n = 10, 1,000 and 10,000: before (one document holding every entry, read and rewritten on
each add: a copy of Baton's old algorithm is below) and after (services/common/paging.py:
a document per entry and a paged index), in one run, as ratios; with the state round trips
and the largest document written by that one add.

By default against the real state store (Redis locally) through the orchestrator's sidecar
of a running Baton, started as the other benches start it if none runs; `--memory` for a
quick check against an in-memory store. Every key lives under a bench-only prefix and is
deleted afterwards. The paged layout is filled through its own code (n-1 real adds), the
single document is written with its n-1 entries at once.
Usage: .venv/bin/python -m bench.state_growth [--memory] [--sizes 10,1000,10000] [--repeat 5]"""

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.common.deadletters import DeadLetter, DeadLetterStore
from services.common.events import EventLog, EventRecord

OLD_DEAD_LETTER_CAP = 1000  # the old store dropped the oldest beyond this


class Measured:
    """A JsonDocuments with every key under `prefix`, counting round trips and keeping what
    is written (sized after the clock stops) and every key (to delete them afterwards)."""

    def __init__(self, docs: Any, prefix: str):
        self.docs, self.prefix = docs, prefix
        self.keys: set[str] = set()
        self.trips, self.written = 0, list[dict]()

    def get(self, key: str) -> dict | None:
        self.trips += 1
        return self.docs.get(self.prefix + key)

    def create(self, key: str, doc: dict, ttl_seconds: int | None = None) -> bool:
        self.trips += 1
        self.written.append(doc)
        self.keys.add(key)
        return bool(self.docs.create(self.prefix + key, doc, ttl_seconds))

    def update(self, key: str, change: Callable[[dict], None], default: dict | None = None,
               ttl_seconds: int | None = None) -> dict:
        self.trips += 1
        doc: dict = self.docs.update(self.prefix + key, change, default, ttl_seconds)
        self.trips += 1
        self.written.append(doc)
        self.keys.add(key)
        return doc

    def delete(self, key: str, when: Callable[[dict], bool] | None = None) -> bool:
        self.trips += 2
        return bool(self.docs.delete(self.prefix + key, when))

    def clean_up(self) -> None:
        for key in self.keys:
            self.docs.delete(self.prefix + key)


def letter(i: int) -> DeadLetter:
    return DeadLetter(id=f"bench-{i}", event_id=f"bench-{i}", type="DataReceived", topic="data-received",
                      source="bench", data={"source": "bench", "payload": {"i": i}}, received_at="2026-01-01T00:00:00")


def record(i: int) -> EventRecord:
    return EventRecord(subscriber="analyser", topic="data-received", event_type="DataReceived",
                       event_id=f"bench-{i}", outcome="processed", detail={"i": i}, recorded_at="2026-01-01T00:00:00")


def old_add(docs: Measured, key: str, entry: dict, same: Callable[[dict], bool], cap: int | None) -> None:
    """Baton's old dead-letter store and event log: scan for a duplicate, append, rewrite."""
    def change(doc: dict) -> None:
        if any(same(kept) for kept in doc["entries"]):
            return
        doc["entries"].append(entry)
        if cap and len(doc["entries"]) > cap:
            doc["entries"].pop(0)

    docs.update(key, change, default={"entries": []})


def old_fill(docs: Measured, key: str, entries: list[dict]) -> None:
    docs.update(key, lambda doc: doc.update(entries=entries), default={"entries": []})


def timed(docs: Measured, add: Callable[[int], object], first: int, repeat: int) -> tuple[float, int, int]:
    """Median milliseconds of `repeat` adds from the `first`-th, with the round trips and
    largest write of the first of them."""
    times, shape = [], (0, 0)
    for i in range(first, first + repeat):
        docs.trips, docs.written = 0, []
        started = time.perf_counter()
        add(i)
        times.append((time.perf_counter() - started) * 1000)
        if i == first:
            shape = (docs.trips, max((len(json.dumps(d)) for d in docs.written), default=0))
    return statistics.median(times), *shape


@dataclass
class Case:
    """One store, after (`new`) and before (`old`, in the document `old_key`) as adds of the
    i-th entry; `entries(n)` is what the old document held after n adds."""

    name: str
    new: Callable[[int], object]
    old: Callable[[int], object]
    old_key: str
    entries: Callable[[int], list[dict]]


def dead_letters(docs: Measured) -> Case:
    store = DeadLetterStore(docs)  # type: ignore[arg-type]  # it is one, measured
    return Case("dead letters", lambda i: store.add(letter(i)),
                lambda i: old_add(docs, "old-dead-letters", letter(i).model_dump(), same_id(f"bench-{i}", "id"),
                                  OLD_DEAD_LETTER_CAP),
                "old-dead-letters",
                lambda n: [letter(i).model_dump() for i in range(max(0, n - OLD_DEAD_LETTER_CAP), n)])


def event_log(docs: Measured) -> Case:
    log = EventLog(docs)  # type: ignore[arg-type]
    return Case("event log", lambda i: log.record("bench", record(i)),
                lambda i: old_add(docs, "old-events", record(i).model_dump(), same_id(f"bench-{i}", "event_id"), None),
                "old-events", lambda n: [record(i).model_dump() for i in range(n)])


def same_id(value: str, field: str) -> Callable[[dict], bool]:
    return lambda entry: bool(entry[field] == value)


def run(store: Any, sizes: list[int], repeat: int) -> list[dict]:
    rows = []
    for make in (dead_letters, event_log):
        docs = Measured(store, f"bench-{uuid.uuid4().hex[:8]}:")
        case, filled = make(docs), 0
        try:
            for n in sizes:
                for i in range(filled, n - 1):
                    case.new(i)
                    docs.written.clear()
                    if (i + 1) % 1000 == 0:
                        print(f"bench: {case.name}: {i + 1} stored", flush=True)
                after = timed(docs, case.new, n - 1, repeat)
                filled = n - 1 + repeat
                old_fill(docs, case.old_key, case.entries(n - 1))
                before = timed(docs, case.old, n - 1, repeat)
                rows.append({"store": case.name, "n": n, "before": before, "after": after})
                print(f"bench: {case.name} n={n}: before {before[0]:.2f} ms, after {after[0]:.2f} ms", flush=True)
        finally:
            print(f"bench: deleting the {len(docs.keys)} keys of the {case.name} run", flush=True)
            docs.clean_up()
    return rows


def sidecar_store() -> Any:
    """The state store through the orchestrator's sidecar, with the local sidecar token."""
    from dapr.conf import settings as dapr_settings

    from infra.local.keys import LocalSecrets
    from services.common.registry import REGISTRY
    from services.common.settings import get_settings
    from services.common.state import JsonDocuments

    vars(dapr_settings).update(DAPR_GRPC_PORT=REGISTRY.app("orchestrator").sidecar_ports.grpc,
                               DAPR_API_TOKEN=LocalSecrets.default().sidecar_env()["DAPR_API_TOKEN"])
    return JsonDocuments(get_settings().state_store)


def measure(doc: str | None, run: Callable[[Any, list[int], int], list[dict]], sizes: str,
            what: str) -> tuple[str, list[dict], int]:
    """A bench's command line (--memory, --sizes, --repeat) and its run on the store it names:
    where it ran, the rows and the repeat."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory", action="store_true", help="an in-memory store instead of the sidecar's")
    parser.add_argument("--sizes", default=sizes)
    parser.add_argument("--repeat", type=int, default=5, help=f"{what} measured per size (median)")
    args = parser.parse_args()
    chosen = sorted(int(s) for s in args.sizes.split(","))
    if args.memory:
        from tests.unit.counting import CountingDocuments

        return "an in-memory store (JSON text, no network)", run(CountingDocuments(), chosen, args.repeat), args.repeat
    from .system import baton_system

    with baton_system("instant"):
        return "Redis through the orchestrator's sidecar", run(sidecar_store(), chosen, args.repeat), args.repeat


def main() -> None:
    where, rows, repeat = measure(__doc__, run, "10,1000,10000", "adds")
    print(f"\nTime to store the n-th entry, {where}; median of {repeat} adds from the n-th.\n")
    print("| store | n | before: one document (ms) | after: paged (ms) | before / after "
          "| round trips before / after | largest write before / after (bytes) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        (b_ms, b_trips, b_size), (a_ms, a_trips, a_size) = r["before"], r["after"]
        print(f"| {r['store']} | {r['n']:,} | {b_ms:.2f} | {a_ms:.2f} | {b_ms / a_ms:.1f}x "
              f"| {b_trips} / {a_trips} | {b_size:,} / {a_size:,} |")
    print(f"\nBefore, the dead-letter document kept the newest {OLD_DEAD_LETTER_CAP:,} and dropped the rest "
          "(its cost stops growing there because it loses letters); the event log had no cap.")


if __name__ == "__main__":
    main()
