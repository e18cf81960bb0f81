"""Schema-driven fuzzing of the orchestrator's OpenAPI with schemathesis, shared by
tests/unit/test_api_fuzz.py (the app in process) and tests/integration/test_api_fuzz.py (the
running system): the checks, seeded and bounded generation, and a summary of what was sent.

It runs schemathesis's own engine (what `st run` runs): examples, coverage (boundary values,
each constraint broken on purpose, methods the schema does not list) and fuzzing phases."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.run import PhaseName

SEED = 20_251_122
# Every answer: no 5xx, a documented status, content type, headers and body; schema-invalid
# input refused, and schema-valid input never refused for a reason the schema does not state;
# a method the path does not take is 405 with a correct `Allow`; no key is 401; what the
# stateful phase deleted is gone and what it created can be read.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
          "response_schema_conformance", "negative_data_rejection", "positive_data_acceptance",
          "missing_required_header", "unsupported_method", "allow_header_conformance", "ignored_auth",
          "use_after_free", "ensure_resource_availability")


def settings(api_key: str, max_examples: int, *, shared_system: bool = False, stateful: bool = False,
             operations: tuple[dict[str, Any], ...] = (), **extra: Any) -> schemathesis.Config:
    """A seeded run that sends `api_key` as X-API-Key, at most `max_examples` fuzzed cases per
    operation; `operations` narrows or changes some (schemathesis's [[operations]] entries).
    On a `shared_system` (a real one other tests use too) no request goes without the key or
    with a garbled one (a 401 counts against this address's failed authentications), and no id
    is taken from an earlier answer (the tasks and dead letters found belong to other tests)."""
    phase = {"enabled": True, "extra-data-sources": {"responses": not shared_system}}
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "cache": {"enabled": False},  # every run the same, whatever ran before; nothing written
        "continue-on-failure": True,
        "generation": {"mode": "all", "max-examples": max_examples, "database": "none",
                       "with-security-parameters": not shared_system},
        "phases": {"examples": phase, "coverage": phase, "fuzzing": phase, "stateful": {"enabled": stateful}},
        "checks": {name: {"enabled": not (shared_system and name == "ignored_auth")} for name in CHECKS},
        "auth": {"openapi": {"APIKeyHeader": {"api_key": api_key}}},
        "operations": list(operations),
        **extra,
    })


@dataclass
class Outcome:
    operations: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (operation, check, title): example
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (f"API fuzz: {len(self.operations)} operations, {self.requests} requests in {self.seconds:.1f} s; "
                f"statuses {codes}; {len(self.failures)} failures")

    def report(self) -> str:
        return "\n\n".join(f"{operation} [{check}] {title}\n{example}"
                           for (operation, check, title), example in sorted(self.failures.items()))


def _example(recorder: Any, case_id: str) -> str:
    """The request that failed and what came back, short."""
    interaction = recorder.interactions.get(case_id)
    if interaction is None:
        return "(no request recorded)"
    sent, got = interaction.request, interaction.response
    answer = f"-> {got.status_code} {got.content[:300]!r}" if got is not None else "-> no response"
    return f"{sent.method} {sent.uri} {(sent.body or b'')[:300]!r}\n{answer}"


def _record(outcome: Outcome, recorder: Any, stateful: bool) -> None:
    if not stateful:  # a stateful scenario chains several operations
        outcome.operations.add(recorder.label)
    for interaction in recorder.interactions.values():
        outcome.statuses[interaction.response.status_code if interaction.response is not None else 0] += 1
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                key = (recorder.label, check.name, failure.title)
                outcome.failures.setdefault(key, f"{failure.message}\n{_example(recorder, case_id)}")


def run(schema: Any) -> Outcome:
    """Fuzz every operation of `schema` (schemathesis.openapi.from_asgi or from_url)."""
    outcome, started = Outcome(), time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(outcome, event.recorder, event.phase == PhaseName.STATEFUL_TESTING)
        elif isinstance(event, events.NonFatalError):  # e.g. the app raised instead of answering
            outcome.failures[(event.label, "error", type(event.value).__name__)] = event.info.format()
        elif isinstance(event, events.FatalError):
            outcome.failures[("engine", "error", type(event.exception).__name__)] = str(event.exception)
    outcome.seconds = time.monotonic() - started
    return outcome
