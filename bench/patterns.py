"""One request per pattern, as a user sends it, and how to tell it is done."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass

ORCHESTRATOR = "http://127.0.0.1:8080"
SIDECAR = "http://127.0.0.1:3500"


@dataclass(frozen=True)
class Pattern:
    name: str
    path: str  # where to POST (on the orchestrator) the request body from `body()`
    body: Callable[[], dict]
    agent_steps: int  # agent calls on the critical path, for per-step overhead


PATTERNS = [
    Pattern("sequential", "/create-content", lambda: {"topic": "Benchmarks for agent systems"}, 3),
    Pattern("parallel", "/research-parallel",
            lambda: {"query": "Benchmarks for agent systems", "deadline_seconds": 300}, 1),
    Pattern("hierarchical", "/delegate", lambda: {"goal": "Benchmarks for agent systems"}, 3),
    Pattern("consensus", "/consensus", lambda: {"content": "Benchmarks are useful.", "task": "review",
                                                "deadline_seconds": 300}, 1),
    # Event-driven: publish DataReceived through the Dapr HTTP API; done when the
    # correlation log holds all four subscriber records.
    Pattern("event-driven", "", lambda: {"correlation_id": f"bench-{uuid.uuid4()}", "source": "bench",
                                         "payload": {"value": 1}}, 2),
]
BY_NAME = {p.name: p for p in PATTERNS}
