"""The orchestrator's OpenAPI says what its API does (issue 11): schemathesis fuzzes every
documented operation of the real app, in process, with the fakes the other unit tests use
(stores in memory, workflow engine, secret store, sidecar health), and every answer must be
one the OpenAPI documents, never a 5xx. The checks and the summary: tests/api_fuzz.py."""

import contextlib

import pytest
import schemathesis

from services.common import sidecar
from services.common.contracts import utc_now
from services.common.deadletters import DeadLetter
from tests.api_fuzz import run, settings
from tests.unit.fakes import TEST_KEYS

MAX_EXAMPLES = 30  # fuzzed cases per operation, besides the other phases' (about 1,300 requests, 25 s on 2 cores)


@contextlib.asynccontextmanager
async def no_lifespan(app):
    """The real lifespan starts a workflow worker on a sidecar; the fixture builds its objects instead."""
    yield


@pytest.fixture
def orchestrator_app(make_orchestrator, monkeypatch):
    monkeypatch.setattr(sidecar, "sidecar_healthy", lambda: True)
    monkeypatch.setattr(sidecar, "state_store_reachable", lambda store, timeout: True)
    monkeypatch.setattr(sidecar, "app_health", lambda app_id, timeout=2.0: "healthy")
    # Limits high enough for the run (429 is documented, but would hide the routes behind it).
    # No workflow runs here, so a task's event stream never ends: it closes at its time limit,
    # not at schemathesis's 10 s request timeout (which cut each one: 188 s for the run, not 35).
    api = make_orchestrator(rate_limit="100000/minute", auth_failure_limit="100000/minute",
                            allow_fault_injection="true", stream_max_seconds="0.3")
    api.app.router.lifespan_context = no_lifespan
    api.app.state.workflow_ready = True
    # Something for the listings to show (and be checked against the schema), and for the stateful phase to use.
    for n, topic in enumerate(["data-received", "analysis-complete", None]):
        api.stores.dead_letters.add(DeadLetter(id=f"e{n}", event_id=f"e{n}", type="DataReceived", topic=topic,
                                               source="fuzz", data={"n": n}, received_at=utc_now()))
    return api.app


def test_every_answer_of_the_api_is_one_its_openapi_documents(orchestrator_app, capsys):
    schema = schemathesis.openapi.from_asgi("/openapi.json", orchestrator_app,
                                            config=settings(TEST_KEYS["admin"], MAX_EXAMPLES, stateful=True))
    outcome = run(schema)
    with capsys.disabled():
        print(f"\n{outcome.summary()}")
    assert not outcome.failures, outcome.report()
    documented = {f"{method.upper()} {path}" for path, ops in schema.raw_schema["paths"].items() for method in ops}
    assert outcome.operations == documented
    assert {202, 401, 404, 405, 422} <= set(outcome.statuses)  # it reached past the key, the checks and the routing
