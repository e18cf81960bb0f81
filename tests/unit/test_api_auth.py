"""API keys on the orchestrator's public API: scopes, rotation, refresh, rate limits."""

import logging
import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.unit.fakes import TEST_KEYS, api_keys_json, with_key

TOPIC = {"topic": "Dapr"}
NEW_KEY, OLD_KEY = "n" * 40, "o" * 40
DAPR_FACING = {("POST", "/events/content-published"), ("POST", "/dead-letters/receive"), ("GET", "/dapr/subscribe")}


def operations(app) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, documented or not, path parameters filled in."""
    return {(method, re.sub(r"\{(\w+)\}", r"\1", route.path)) for route in iter_route_contexts(app.routes)
            if isinstance(route.original_route, APIRoute) for method in route.methods}


def test_every_route_but_health_asks_for_an_api_key_or_is_only_for_the_sidecar(make_orchestrator):
    orchestrator = make_orchestrator(auth_failure_limit="1000/minute")
    found = operations(orchestrator.app)
    assert found >= DAPR_FACING and len(found) > 15
    for method, path in found - {("GET", "/health")}:
        resp = orchestrator.client.request(method, path, headers=with_key("admin") if (method, path) in DAPR_FACING
                                           else {})
        assert resp.status_code == 401, (method, path)
        if (method, path) in DAPR_FACING:
            assert "Dapr sidecar" in resp.text, (method, path)  # an API key does not open these
        else:
            assert resp.headers["WWW-Authenticate"] == "Bearer", (method, path)


def test_no_key_is_401_saying_which_headers_carry_one(orchestrator):
    resp = orchestrator.client.get("/task/t1")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    assert "no API key" in resp.text and "Authorization: Bearer" in resp.text and "X-API-Key" in resp.text


def test_an_unknown_key_is_401(orchestrator):
    for headers in ({"X-API-Key": "x" * 40}, {"Authorization": f"Bearer {'x' * 40}"},
                    {"Authorization": f"Basic {TEST_KEYS['admin']}"}, {"X-API-Key": b"\xe9"}):
        resp = orchestrator.client.get("/dead-letters", headers=headers)
        assert resp.status_code == 401, headers


def test_a_key_is_accepted_as_a_bearer_token_or_in_x_api_key(orchestrator):
    client = orchestrator.client
    assert client.get("/dead-letters", headers=with_key("read")).status_code == 200
    assert client.get("/dead-letters", headers={"Authorization": f"Bearer {TEST_KEYS['read']}"}).status_code == 200


def test_a_read_key_reads_but_cannot_start_tasks_or_purge(orchestrator):
    client, read = orchestrator.client, with_key("read")
    assert client.get("/dead-letters", headers=read).status_code == 200
    started = client.post("/create-content", json=TOPIC, headers=read)
    assert started.status_code == 403 and "'write'" in started.text and "test-read" in started.text
    purge = client.delete("/dead-letters", headers=read)
    assert purge.status_code == 403 and "scope 'admin'" in purge.text
    assert orchestrator.workflows.scheduled == []


def test_a_write_key_starts_tasks_and_collects_but_cannot_purge_or_replay(orchestrator):
    client, write = orchestrator.client, with_key("write")
    assert client.post("/create-content", json=TOPIC, headers=write).status_code == 202
    assert client.post("/collect", json={"source": "s", "payload": {"a": 1}}, headers=write).status_code == 202
    assert client.get("/notifications/c1", headers=write).status_code == 200
    assert client.delete("/dead-letters", headers=write).status_code == 403
    assert client.delete("/dead-letters/e1", headers=write).status_code == 403
    assert client.post("/dead-letters/e1/replay", headers=write).status_code == 403


def test_an_admin_key_may_purge(orchestrator):
    assert orchestrator.client.delete("/dead-letters", headers=with_key("admin")).json() == {"purged": 0}


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(make_orchestrator):
    api = make_orchestrator(api_keys_json(slow=("read", NEW_KEY, "2/minute"), other=("read", OLD_KEY)))
    answers = [api.client.get("/task/t1", headers={"X-API-Key": NEW_KEY}) for _ in range(3)]
    assert [r.status_code for r in answers] == [404, 404, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60 and "slow" in answers[2].text
    assert api.client.get("/task/t1", headers={"X-API-Key": OLD_KEY}).status_code == 404  # its own count


def test_the_default_rate_limit_applies_to_keys_without_their_own(make_orchestrator):
    api = make_orchestrator(rate_limit="1/minute")
    assert api.client.get("/task/t1", headers=with_key("read")).status_code == 404
    assert api.client.get("/task/t1", headers=with_key("read")).status_code == 429


def test_too_many_failed_authentications_from_an_address_get_429_but_a_valid_key_still_works(make_orchestrator):
    api = make_orchestrator(auth_failure_limit="3/minute")
    codes = [api.client.get("/task/t1", headers={"X-API-Key": "guess"}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    blocked = api.client.get("/task/t1")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert api.client.get("/task/t1", headers=with_key("read")).status_code == 404


def test_two_keys_are_valid_at_once_while_rotating_and_a_removed_key_stops_working(make_orchestrator):
    api = make_orchestrator(api_keys_json(old=("admin", OLD_KEY), new=("admin", NEW_KEY)))
    for key in (OLD_KEY, NEW_KEY):
        assert api.client.get("/dead-letters", headers={"X-API-Key": key}).status_code == 200
    api.secrets.secrets["api-keys"] = api_keys_json(new=("admin", NEW_KEY))
    assert api.keys.refresh()
    assert api.client.get("/dead-letters", headers={"X-API-Key": OLD_KEY}).status_code == 401
    assert api.client.get("/dead-letters", headers={"X-API-Key": NEW_KEY}).status_code == 200


@pytest.mark.parametrize("breakage", ["down", "missing", "malformed"])
def test_a_failed_refresh_keeps_the_last_good_keys_and_logs_no_key(orchestrator, caplog, breakage):
    if breakage == "down":
        orchestrator.secrets.down = True
    elif breakage == "missing":
        del orchestrator.secrets.secrets["api-keys"]
    else:
        orchestrator.secrets.secrets["api-keys"] = api_keys_json(short=("admin", "too-short-a-key"))
    with caplog.at_level(logging.INFO):
        assert orchestrator.keys.refresh() is False
    assert "keeping the last good keys" in caplog.text and "too-short-a-key" not in caplog.text
    assert orchestrator.client.get("/dead-letters", headers=with_key("read")).status_code == 200


def test_keys_never_loaded_answer_503_naming_the_secret_and_the_store(make_orchestrator):
    api = make_orchestrator(load=False)
    resp = api.client.get("/dead-letters", headers=with_key("admin"))
    assert resp.status_code == 503 and "'api-keys'" in resp.text and "'secretstore'" in resp.text
    assert api.keys.refresh()
    assert api.client.get("/dead-letters", headers=with_key("admin")).status_code == 200


def test_health_and_the_docs_need_no_key(orchestrator, monkeypatch):
    from services.common import sidecar

    monkeypatch.setattr(sidecar, "sidecar_healthy", lambda: True)
    monkeypatch.setattr(sidecar, "state_store_reachable", lambda store, timeout: True)
    health = orchestrator.client.get("/health")
    assert health.status_code == 503 and health.json()["api_keys"] == "loaded"  # no workflow worker in a unit test
    assert orchestrator.client.get("/docs").status_code == 200
    schema = orchestrator.client.get("/openapi.json").json()
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])


def test_the_openapi_leaves_out_the_routes_only_the_sidecar_may_call(orchestrator):
    paths = orchestrator.client.get("/openapi.json").json()["paths"]
    documented = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert not documented & DAPR_FACING and ("GET", "/health") in documented


def test_logs_name_keys_and_never_show_them(orchestrator, caplog):
    client = orchestrator.client
    with caplog.at_level(logging.DEBUG):
        orchestrator.keys.refresh()
        client.post("/create-content", json=TOPIC, headers=with_key("write"))
        client.delete("/dead-letters", headers=with_key("read"))
        client.delete("/dead-letters", headers=with_key("admin"))
        client.get("/dead-letters", headers={"X-API-Key": TEST_KEYS["admin"] + "x"})
    assert "for key test-write" in caplog.text and "key test-read (scope read) refused" in caplog.text
    assert "(key test-admin)" in caplog.text
    assert not any(key in caplog.text for key in TEST_KEYS.values())
