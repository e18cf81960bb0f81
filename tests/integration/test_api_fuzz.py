"""The running orchestrator answers as its OpenAPI says (issue 11): the schemathesis run of
tests/unit/test_api_fuzz.py (tests/api_fuzz.py) against a real system on
http://127.0.0.1:8080, with its sidecars, Redis, API keys, middleware and workflow engine as
deployed. Valid requests really start workflows and publish events, so the system is its
own (instant agents, fault injection on; on the main ports: own_system)."""

import httpx
import pytest
import schemathesis

from services.common.contracts import utc_now
from tests.api_fuzz import run, settings
from tests.integration.conftest import ORCHESTRATOR, SECRETS, api, own_baton

pytestmark = pytest.mark.own_system

MAX_EXAMPLES = 10  # fuzzed cases per operation, besides the coverage phase's


@pytest.fixture(scope="module")
def fuzzed_baton(tmp_path_factory):
    SECRETS.set("webhook-url", None)  # no test webhook listens in this session
    env = {"BATON_MODEL_PROVIDER": "instant", "BATON_ALLOW_FAULT_INJECTION": "true"}
    with own_baton("fuzz", tmp_path_factory.mktemp("fuzz"), env=env) as run_:
        began = utc_now()
        yield run_
        cancel_unfinished(began)


def cancel_unfinished(since: str) -> None:
    """Cancel every task the fuzz left running (some wait on agents told to sleep for minutes):
    their workflows live in Redis and the scheduler, and would go on in the next test's system."""
    cursor = None
    while True:
        page = api.get("/tasks", params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        for task in page["tasks"]:
            # Only the fuzz's own: Redis also holds tasks of earlier sessions, some without a workflow.
            if task["status"] in ("pending", "in_progress") and task["created_at"] >= since:
                assert api.post(f"/task/{task['task_id']}/cancel").status_code == 200
        cursor = page["next_cursor"]
        if cursor is None:
            return


def test_the_running_api_answers_as_its_openapi_says(fuzzed_baton, capsys):
    # The admin key, at most 8 requests a second (it may make 600 a minute), never without a
    # key (a 401 counts against this address's failed authentications).
    config = settings(SECRETS.api_key("admin"), MAX_EXAMPLES, shared_system=True,
                      **{"rate-limit": "8/s", "request-timeout": 30})
    schema = schemathesis.openapi.from_url(f"{ORCHESTRATOR}/openapi.json", config=config)
    outcome = run(schema)
    with capsys.disabled():
        print(f"\n{outcome.summary()}")
    assert not outcome.failures, outcome.report()
    assert outcome.statuses[401] == 0, "a request went without the API key"
    documented = httpx.get(f"{ORCHESTRATOR}/openapi.json", timeout=10).json()["paths"]
    assert len(outcome.operations) == sum(len(methods) for methods in documented.values())  # every one fuzzed
    assert outcome.statuses[202] > 0 and outcome.statuses[422] > 0
