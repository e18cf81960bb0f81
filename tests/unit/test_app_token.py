"""Only an app's own sidecar, which sends APP_API_TOKEN, may call its Dapr-facing routes."""

import pytest
from fastapi.testclient import TestClient

from services.common.apptoken import require_app_token
from services.common.model import get_model
from services.common.settings import Settings
from tests.unit.conftest import APP_TOKEN
from tests.unit.fakes import with_key
from tests.unit.test_agent_routes import FakeModel

FROM_SIDECAR = {"dapr-api-token": APP_TOKEN}
PUBLISHED = {"id": "e1", "type": "ContentPublished", "topic": "content-published",
             "data": {"task_id": "t1", "artifact": "t1.md", "word_count": 3}}


@pytest.fixture
def agent():
    from services.agent.main import app

    app.dependency_overrides[get_model] = lambda: FakeModel()
    yield TestClient(app)
    app.dependency_overrides.clear()


@pytest.mark.parametrize("headers", [{}, {"dapr-api-token": "wrong"}, {"dapr-api-token": b"\xe9"},
                                     {"Authorization": f"Bearer {APP_TOKEN}"}])
def test_a_subscription_route_refuses_anyone_but_the_sidecar(orchestrator, headers):
    resp = orchestrator.client.post("/events/content-published", json=PUBLISHED, headers={**with_key("admin"),
                                                                                          **headers})
    assert resp.status_code == 401 and "Dapr sidecar" in resp.json()["detail"]
    assert orchestrator.stores.events.list("t1") == []


def test_a_subscription_route_handles_a_delivery_from_the_sidecar(orchestrator):
    resp = orchestrator.client.post("/events/content-published", json=PUBLISHED, headers=FROM_SIDECAR)
    assert resp.json() == {"status": "SUCCESS"}
    assert [e.event_id for e in orchestrator.stores.events.list("t1")] == ["e1"]


def test_only_the_sidecar_may_list_the_subscriptions(orchestrator):
    assert orchestrator.client.get("/dapr/subscribe").status_code == 401
    listed = orchestrator.client.get("/dapr/subscribe", headers=FROM_SIDECAR).json()
    assert {s["route"] for s in listed} == {"/events/content-published", "/dead-letters/receive"}


def test_the_app_token_does_not_replace_an_api_key(orchestrator):
    assert orchestrator.client.get("/dead-letters", headers=FROM_SIDECAR).status_code == 401


def test_an_agent_runs_only_for_its_sidecar_and_its_health_probe_is_open(agent):
    body = {"task_id": "t1", "input": "notes"}
    assert agent.post("/run", json=body).status_code == 401
    assert agent.post("/run", json=body, headers={"dapr-api-token": "nope"}).status_code == 401
    assert agent.post("/run", json=body, headers=FROM_SIDECAR).status_code == 200
    assert agent.get("/health").status_code == 200


def test_the_token_is_checked_before_the_body_is_validated(agent):
    resp = agent.post("/run", json={"unexpected": True})
    assert resp.status_code == 401


def test_unknown_routes_and_methods_answer_404_and_405_not_401(agent):
    assert agent.get("/no-such-route").status_code == 404
    assert agent.get("/run").status_code == 405


def test_apps_other_than_the_orchestrator_serve_no_docs(agent, orchestrator):
    assert agent.get("/docs").status_code == 404 and agent.get("/openapi.json").status_code == 404
    assert orchestrator.client.get("/docs").status_code == 200


def test_an_app_refuses_to_start_without_app_api_token():
    with pytest.raises(RuntimeError, match=r"APP_API_TOKEN is not set.*make run"):
        require_app_token(Settings(APP_API_TOKEN=""))
    require_app_token(Settings(APP_API_TOKEN="t"))
