"""Request size limits, and hostile input that must end in a 4xx, never a 500."""

import pytest

from tests.unit.conftest import APP_TOKEN
from tests.unit.fakes import with_key

TOPIC = "Dapr"


def test_a_body_over_the_limit_is_413_whatever_the_content_length_says(make_orchestrator):
    api = make_orchestrator(max_body_bytes="2048")
    big = b'{"topic": "' + b"x" * 4096 + b'"}'
    declared = api.client.post("/create-content", content=big, headers={**with_key("write"),
                                                                         "Content-Type": "application/json"})
    assert declared.status_code == 413
    assert "the limit is 2048 (BATON_MAX_BODY_BYTES)" in declared.json()["detail"]

    def chunks():  # streamed: no Content-Length, only the byte count can tell
        yield from (big[i:i + 512] for i in range(0, len(big), 512))

    streamed = api.client.post("/create-content", content=chunks(), headers={**with_key("write"),
                                                                              "Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413 and api.workflows.scheduled == []
    assert "BATON_MAX_BODY_BYTES" in streamed.json()["detail"]
    small = api.client.post("/create-content", json={"topic": TOPIC}, headers=with_key("write"))
    assert small.status_code == 202


def test_every_app_limits_bodies(orchestrator):
    resp = orchestrator.client.post("/dead-letters/receive", content=b"x" * 2_000_000,
                                    headers={"dapr-api-token": APP_TOKEN})
    assert resp.status_code == 413


NAN_LIKE = [b'{"query": "q", "deadline_seconds": NaN}', b'{"query": "q", "deadline_seconds": Infinity}',
            b'{"query": "q", "deadline_seconds": -Infinity}', b'{"query": NaN}']


@pytest.mark.parametrize("path, body", [
    *[("/research-parallel", b) for b in NAN_LIKE],
    ("/create-content", b'{"topic": "\\ud800"}'),
    ("/create-content", b'{"topic": "ok", "\\udfff": 1}'),
    ("/create-content", b'{"topic": 1, "extra": "\\ud83d"}'),
    ("/create-content", b'{"topic": "ok", "faults": {"writer-agent": {"delay_seconds": NaN}}}'),
    ("/consensus", b'{"content": "c", "task": "review", "labels": ["a", "\\ud800"]}'),
    ("/consensus", b'{"content": "c", "task": "review", "quorum": 1e400}'),
    ("/collect", b'{"source": "s", "payload": {"v": NaN}}'),
    ("/collect", b'{"source": "s", "payload": [Infinity]}'),
    ("/collect", b'{"source": "s", "payload": {"\\ud800": 1}}'),
    ("/collect", b'{"source": "s", "payload": {}, "correlation_id": "a\\nb"}'),
    ("/collect", b'{"source": "s", "payload": {}, "correlation_id": "a||b"}'),
    ("/collect", b'{"source": "s", "payload": {}, "faults": {"x": NaN}}'),
    ("/collect", b'[' * 50_000 + b']' * 50_000),
    ("/create-content", b'\xff\xfe{"topic": "x"}'),
])
def test_hostile_bodies_are_refused_with_a_4xx(orchestrator, path, body):
    resp = orchestrator.client.post(path, content=body, headers={**with_key("admin"),
                                                                  "Content-Type": "application/json"})
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert orchestrator.workflows.scheduled == [] and orchestrator.published == []


@pytest.mark.parametrize("path", ["/task/%0A%1B%5B31m", "/task/a%7C%7Cb", "/task/" + "x" * 101, "/task/%ED%A0%80",
                                  "/events/%00", "/notifications/a%20b", "/dead-letters/%0D%0Aforged"])
def test_control_characters_and_oddities_in_ids_are_422(orchestrator, path):
    resp = orchestrator.client.get(path, headers=with_key("read"))
    assert resp.status_code == 422, (path, resp.text)


def test_replay_refuses_a_topic_name_that_is_not_one(orchestrator):
    resp = orchestrator.client.post("/dead-letters/e1/replay", params={"topic": "a/../b"}, headers=with_key("admin"))
    assert resp.status_code == 422


def test_ordinary_ids_are_fine(orchestrator):
    for path in ("/task/0b7f6a9e-3c1d-4f5e-8a2b-9c0d1e2f3a4b", "/events/order-42", "/notifications/bench-1.2:x@y"):
        assert orchestrator.client.get(path, headers=with_key("read")).status_code in (200, 404), path
