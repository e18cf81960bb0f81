"""Dependencies down (issue 11): with the state store unreachable the API answers 503 naming
it, and the orchestrator's /health reports it while staying 200 (it is Dapr's app probe)."""

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient

from services.common import sidecar, state
from services.common.outages import unavailable_dependency
from services.common.settings import Settings
from services.common.stores import build_stores
from tests.unit.dapr_errors import sidecar_error, state_store_down
from tests.unit.fakes import with_key


class DownStateStore:
    """The SDK's DaprClient while Redis is stopped: every state call raises what daprd answers."""

    def __init__(self, error):
        self.error = error

    def get_state(self, *args, **kwargs):
        raise self.error

    save_state = delete_state = get_state


@pytest.fixture
def down(make_orchestrator, monkeypatch):
    """The orchestrator with its stores on the real JsonDocuments, the SDK failing as told."""
    api = make_orchestrator()
    api.app.state.stores = build_stores(Settings())

    def fail_with(error):
        monkeypatch.setattr(state, "dapr_client", lambda: DownStateStore(error))
        return api

    return fail_with


def test_reading_a_task_with_the_state_store_down_answers_503_naming_the_store(down, caplog):
    api = down(state_store_down())
    resp = api.client.get("/task/t1", headers=with_key("read"))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert "state store 'statestore' is unavailable" in resp.json()["detail"]
    assert "6380" not in resp.text  # the store's own error (hosts, ports) goes to the log only
    assert "connection refused" in caplog.text


def test_starting_a_task_with_the_state_store_down_answers_503_and_schedules_nothing(down):
    api = down(state_store_down("ERR_STATE_SAVE"))
    resp = api.client.post("/create-content", json={"topic": "t"}, headers=with_key("write"))
    assert resp.status_code == 503 and "state store 'statestore'" in resp.json()["detail"]
    assert api.workflows.scheduled == []


def test_an_unreachable_sidecar_answers_503_naming_it(down):
    api = down(sidecar_error(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses"))
    resp = api.client.get("/task/t1", headers=with_key("read"))
    assert resp.status_code == 503 and "Dapr sidecar is unavailable" in resp.json()["detail"]


def test_a_dapr_error_that_is_no_outage_stays_a_500(down):
    api = down(sidecar_error(grpc.StatusCode.INVALID_ARGUMENT, "input key can't contain '||'", "ERR_MALFORMED_REQUEST"))
    client = TestClient(api.app, raise_server_exceptions=False)
    assert client.get("/task/t1", headers=with_key("read")).status_code == 500


@pytest.mark.parametrize("error, what", [
    (state_store_down("ERR_STATE_GET"), "the state store 'statestore'"),
    (state_store_down("ERR_STATE_TRANSACTION"), "the state store 'statestore'"),
    (sidecar_error(grpc.StatusCode.INTERNAL, "publish failed", "ERR_PUBSUB_PUBLISH_MESSAGE"), "the pub/sub 'pubsub'"),
    (sidecar_error(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"), "the Dapr sidecar"),
    (sidecar_error(grpc.StatusCode.ABORTED, "possible etag mismatch", "ERR_STATE_SAVE"), None),
    (sidecar_error(grpc.StatusCode.INTERNAL, "boom", "ERR_INVOKE_OUTPUT_BINDING"), None),
])
def test_which_dapr_errors_mean_a_dependency_is_down(error, what):
    assert unavailable_dependency(error) == what


@pytest.fixture
def health(orchestrator, monkeypatch):
    monkeypatch.setattr(sidecar, "sidecar_healthy", lambda: True)
    orchestrator.app.state.workflow_ready = True
    reachable = {"now": True}
    monkeypatch.setattr(sidecar, "state_store_reachable", lambda store, timeout: reachable["now"])
    return lambda up: reachable.update(now=up) or orchestrator.client.get("/health")


def test_health_reports_the_state_store_down_but_stays_200_for_daprs_app_probe(health, caplog):
    resp = health(False)
    assert resp.status_code == 200
    assert resp.json()["status"] == "degraded" and resp.json()["state_store"] == "unavailable"
    assert "state store statestore: unavailable" in caplog.text
    resp = health(True)
    assert resp.status_code == 200 and resp.json()["status"] == "healthy" and resp.json()["state_store"] == "available"


def test_a_workflow_start_that_failed_shows_in_health_until_one_succeeds(health, orchestrator):
    """The soak found a sidecar whose engine took no workflow while everything looked healthy."""
    orchestrator.workflows.fail = True
    write = with_key("write")
    assert orchestrator.client.post("/create-content", json={"topic": "t"}, headers=write).status_code == 503
    body = health(True).json()
    assert body["status"] == "degraded" and "sidecar unavailable" in body["workflow_engine"]
    orchestrator.workflows.fail = False
    assert orchestrator.client.post("/create-content", json={"topic": "t"}, headers=write).status_code == 202
    assert health(True).json() | {"checks": None} == {
        "status": "healthy", "service": "orchestrator", "checks": None, "state_store": "available",
        "workflow_engine": "accepting", "api_keys": "loaded"}


def test_health_is_503_when_the_sidecar_is_down(health, monkeypatch):
    monkeypatch.setattr(sidecar, "sidecar_healthy", lambda: False)
    resp = health(True)
    assert resp.status_code == 503
    assert resp.json()["status"] == "unavailable" and resp.json()["state_store"] == "unknown"


@pytest.mark.parametrize("answer, reachable", [
    (httpx.Response(204), True),
    (httpx.Response(500, json={"errorCode": "ERR_STATE_GET", "message": "connection refused"}), False),
    (httpx.ConnectError("refused"), False),
    (httpx.ReadTimeout("slow"), False),
])
def test_the_state_store_probe_is_one_short_read_through_the_sidecar(monkeypatch, answer, reachable):
    seen = []

    def sidecar_api(request):
        seen.append((request.url.path, request.extensions["timeout"]["read"]))
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.Client(base_url="http://127.0.0.1:3500", transport=httpx.MockTransport(sidecar_api))
    monkeypatch.setattr(sidecar, "_http", lambda: client)
    assert sidecar.state_store_reachable("statestore", 0.3) is reachable
    assert seen == [("/v1.0/state/statestore/baton:health", 0.3)]
