"""What the task list (services/common/tasklist.py, GET /tasks) costs as tasks accumulate:
the time to index the n-th task (TaskStore.create: its document and a slot in the list of
every task and in its pattern's) and to list a page of 20 newest first (every task; a
pattern that 1 task in 100 has; a status that 1 task in 1,000 has, where one call reads its
whole scan budget and answers with a cursor), at n = 1,000, 10,000 and 100,000, with the
state round trips of each; and the whole walk a client makes to find every task of that rare
status (it grows with n: the status is read from the task documents).

By default against the real state store (Redis locally) through the orchestrator's sidecar
of a running Baton, started as the other benches start it if none runs (100,000 tasks are
created one at a time through TaskStore: expect about 15 minutes, and as long to delete
them); `--memory` for a quick check against an in-memory store. Every key lives under a
bench-only prefix and is deleted afterwards.
Usage: .venv/bin/python -m bench.task_list [--memory] [--sizes 1000,10000,100000] [--repeat 5]"""

import time
import uuid
from typing import Any

from services.common.tasklist import SCAN_BUDGET
from services.common.tasks import TaskStore

from .state_growth import Measured, measure, timed

PAGE = 20
RARE_PATTERN_EVERY, RARE_STATUS_EVERY = 100, 1000
COMMON_PATTERNS = ("sequential", "parallel", "consensus")


def pattern_of(i: int) -> str:
    return "hierarchical" if i % RARE_PATTERN_EVERY == 0 else COMMON_PATTERNS[i % len(COMMON_PATTERNS)]


def create(store: TaskStore, i: int) -> None:
    store.create(f"bench-{i}", pattern_of(i), {"topic": f"task {i}"}, f"task {i}")


def fill(store: TaskStore, docs: Measured, start: int, end: int) -> None:
    """Tasks start..end-1; every RARE_STATUS_EVERY-th of them failed."""
    for i in range(start, end):
        create(store, i)
        if i % RARE_STATUS_EVERY == 0:
            store.save_status(f"bench-{i}", "failed")
        docs.written.clear()
        if (i + 1) % 10_000 == 0:
            print(f"bench: {i + 1:,} tasks created", flush=True)


def walk(store: TaskStore, docs: Measured) -> tuple[float, int, int, int]:
    """Every failed task, a call at a time: milliseconds, calls, round trips, tasks found."""
    calls = found = 0
    docs.trips, after = 0, None
    started = time.perf_counter()
    while True:
        tasks, after = store.page(status="failed", after=after, limit=PAGE)
        calls, found = calls + 1, found + len(tasks)
        if after is None:
            return (time.perf_counter() - started) * 1000, calls, docs.trips, found


def run(backing: Any, sizes: list[int], repeat: int) -> list[dict]:
    docs = Measured(backing, f"bench-{uuid.uuid4().hex[:8]}:")
    store = TaskStore(docs)  # type: ignore[arg-type]  # it is one, measured
    rows, filled = [], 0
    try:
        for n in sizes:
            fill(store, docs, filled, n - 1)
            row: dict[str, Any] = {"n": n, "index": timed(docs, lambda i: create(store, i), n - 1, repeat)}
            filled = n - 1 + repeat
            row["newest"] = timed(docs, lambda _: store.page(limit=PAGE), 0, repeat)
            row["pattern"] = timed(docs, lambda _: store.page("hierarchical", limit=PAGE), 0, repeat)
            row["status"] = timed(docs, lambda _: store.page(status="failed", limit=PAGE), 0, repeat)
            row["walk"] = walk(store, docs)
            rows.append(row)
            print(f"bench: n={n:,}: index {row['index'][0]:.2f} ms, list {row['newest'][0]:.2f} ms", flush=True)
    finally:
        print(f"bench: deleting the {len(docs.keys):,} keys of the run", flush=True)
        docs.clean_up()
    return rows


def table(rows: list[dict]) -> list[str]:
    def cells(name: str, show: Any) -> str:
        return f"| {name} | " + " | ".join(show(r) for r in rows) + " |"

    def ms_trips(key: str) -> Any:
        return lambda r: f"{r[key][0]:.2f} ms, {r[key][1]} trips"

    return [
        "| operation | " + " | ".join(f"n = {r['n']:,}" for r in rows) + " |",
        "|---|" + "---|" * len(rows),
        cells("index the n-th task (create)", lambda r: f"{r['index'][0]:.2f} ms, {r['index'][1]} trips, "
                                                        f"largest write {r['index'][2]:,} B"),
        cells(f"list {PAGE}, newest first", ms_trips("newest")),
        cells(f"list {PAGE} of a pattern (1 task in {RARE_PATTERN_EVERY})", ms_trips("pattern")),
        cells(f"one call for a status (1 task in {RARE_STATUS_EVERY:,}): reads {SCAN_BUDGET}", ms_trips("status")),
        cells("every task of that status: the whole walk",
              lambda r: f"{r['walk'][0]:.0f} ms, {r['walk'][1]} calls, {r['walk'][2]:,} trips, {r['walk'][3]} found"),
    ]


def main() -> None:
    where, rows, repeat = measure(__doc__, run, "1000,10000,100000", "calls")
    print(f"\nThe task list at n tasks, {where}; median of {repeat} calls (the walk: once).\n")
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
