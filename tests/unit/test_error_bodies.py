"""Every 4xx body says what to fix (issue 11), including the errors the framework raises by
itself, and a 405 lists in `Allow` every method its path takes."""

import pytest

from services.common.state import ETagConflictError
from tests.unit.fakes import with_key

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/dead-letters/e1", "GET, DELETE"),  # two routers share the path
    ("POST", "/dead-letters", "GET, DELETE"),
    ("OPTIONS", "/dead-letters", "GET, DELETE"),
    ("DELETE", "/task/t1", "GET"),
    ("GET", "/create-content", "POST"),
    ("PUT", "/events/content-published", "GET, POST"),  # the public read and the sidecar's delivery route
])
def test_a_method_the_path_does_not_take_is_405_listing_every_method_it_takes(orchestrator, method, path, allowed):
    resp = orchestrator.client.request(method, path, headers=with_key("admin"))
    assert resp.status_code == 405 and resp.headers["Allow"] == allowed
    assert resp.json()["detail"] == f"{method} {path} is not allowed; this path takes {allowed}"


def test_a_405_comes_before_the_api_key_check(orchestrator):
    resp = orchestrator.client.patch("/task/t1")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"


def test_an_unknown_route_is_404_naming_it_and_the_docs(orchestrator):
    resp = orchestrator.client.get("/no/such/route", headers=with_key("read"))
    assert resp.status_code == 404
    assert resp.json() == {"detail": "no route for GET /no/such/route; the API is listed at /docs"}


@pytest.mark.parametrize("content, headers, status, says", [
    (b"\xb7U\xdb", JSON, 400, "could not be read: send a JSON object encoded as UTF-8"),
    (b'{"topic": ', JSON, 422, "not valid JSON (Expecting value at character 10)"),
    (b'{"topic": "x"}', {"Content-Type": "text/plain"}, 422, "not read as JSON: send a JSON object"),
    (b"", JSON, 422, "the body is missing: send a JSON object"),
])
def test_a_body_that_is_not_json_says_what_to_send(orchestrator, content, headers, status, says):
    resp = orchestrator.client.post("/create-content", content=content, headers={**with_key("write"), **headers})
    assert resp.status_code == status and says in resp.text, resp.text
    assert "application/json" in resp.text


def test_an_update_that_keeps_losing_its_race_is_409_asking_to_send_it_again(orchestrator, monkeypatch):
    def contended(letter_id):
        raise ETagConflictError(letter_id)

    monkeypatch.setattr(orchestrator.stores.dead_letters, "remove", contended)
    resp = orchestrator.client.delete("/dead-letters/e1", headers=with_key("admin"))
    assert resp.status_code == 409 and resp.headers["Retry-After"] == "1"
    assert "send it again" in resp.json()["detail"]


def test_a_workflow_engine_that_is_down_is_503_even_when_the_task_cannot_be_marked(orchestrator, monkeypatch):
    orchestrator.workflows.fail = True

    def store_down(*args, **kwargs):
        raise ETagConflictError("baton:task:x")

    monkeypatch.setattr(orchestrator.stores.tasks, "save_status", store_down)
    resp = orchestrator.client.post("/create-content", json={"topic": "t"}, headers=with_key("write"))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert "workflow engine unavailable" in resp.json()["detail"] and "try again later" in resp.json()["detail"]


@pytest.mark.parametrize("body, says", [
    ({"topic": "  "}, "must not be blank"),
    ({"topic": "t", "faults": {"nobody": {}}}, "faults name unknown agents ['nobody']; known: "),
])
def test_422s_name_the_field_and_the_rule(orchestrator, body, says):
    resp = orchestrator.client.post("/create-content", json=body, headers=with_key("write"))
    assert resp.status_code == 422 and says in resp.text
