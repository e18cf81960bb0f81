"""Subscriber plumbing and the dead-letter API, against in-memory documents."""

from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common import subscriber
from services.common.claims import ClaimStore
from services.common.contracts import CloudEvent, DataReceived
from services.common.events import EventLog
from services.common.serve import get_stores
from services.common.settings import Settings
from services.common.stores import Stores, build_stores
from services.common.subscriptions import add_subscriptions
from services.orchestrator import deadletters
from services.orchestrator.main import SUBSCRIPTIONS
from tests.unit.fakes import MemoryDocuments, loaded_guard, with_key


def memory_stores() -> Stores:
    return build_stores(Settings(), MemoryDocuments())


@pytest.fixture
def log():
    return EventLog(MemoryDocuments())


def handle_once(log, event, model, process):
    """With the stores a subscriber uses: this event log, and claims of their own."""
    stores = SimpleNamespace(events=log, claims=ClaimStore(MemoryDocuments(), ttl_seconds=45))
    return subscriber.handle_once(event, "data-received", model, stores, process)


def data_event(event_id="e1", **data):
    return CloudEvent(id=event_id, type="DataReceived", topic="data-received",
                      data={"source": "s", "payload": {"x": 1}, "correlation_id": "c1", **data})


def test_an_event_is_processed_once_per_id(log):
    calls = []
    process = lambda data, cid, ev: calls.append((data.source, cid, ev.id)) or {"ok": True}  # noqa: E731
    assert handle_once(log, data_event(), DataReceived, process) == subscriber.SUCCESS
    assert handle_once(log, data_event(), DataReceived, process) == subscriber.SUCCESS
    assert calls == [("s", "c1", "e1")]
    (record,) = log.list("c1")
    assert record.outcome == "processed" and record.detail == {"ok": True}


def test_a_malformed_event_is_recorded_as_rejected_and_dropped(log):
    event = CloudEvent(id="bad", type="DataReceived", data={"payload": 1})
    assert handle_once(log, event, DataReceived, lambda *a: {}) == subscriber.DROP
    (record,) = log.list("bad")  # no correlation id in the data: the event id correlates
    assert record.outcome == "rejected" and "source" in record.detail["error"]


def test_a_processing_error_propagates_so_dapr_retries_and_nothing_is_recorded(log):
    def broken(*args):
        raise ConnectionError("binding down")

    with pytest.raises(ConnectionError):
        handle_once(log, data_event(), DataReceived, broken)
    assert log.list("c1") == []


def test_faults_in_events_are_ignored_unless_fault_injection_is_on(log, monkeypatch):
    event = data_event(faults={"baton": {"fail": True}})  # APP_ID defaults to "baton"
    assert handle_once(log, event, DataReceived, lambda *a: {}) == subscriber.SUCCESS
    monkeypatch.setenv("BATON_ALLOW_FAULT_INJECTION", "true")
    subscriber.get_settings.cache_clear()
    try:
        with pytest.raises(Exception, match="injected"):
            handle_once(log, data_event("e2", faults={"baton": {"fail": True}}), DataReceived, lambda *a: {})
    finally:
        subscriber.get_settings.cache_clear()


@pytest.fixture
def dead_letters(monkeypatch):
    app = FastAPI()
    app.include_router(deadletters.router)
    app.include_router(deadletters.admin)
    app.state.api_guard = loaded_guard()
    add_subscriptions(app, "pubsub", SUBSCRIPTIONS)
    stores = memory_stores()
    published = []
    monkeypatch.setattr(deadletters.sidecar, "publish", lambda *a, **k: published.append((a, k)))
    app.dependency_overrides[get_stores] = lambda: stores
    return SimpleNamespace(client=TestClient(app, headers=with_key("admin")), published=published)


def test_dead_letters_are_kept_counted_replayed_and_purged(dead_letters):
    client = dead_letters.client
    letter = {"id": "e1", "type": "DataReceived", "topic": "dead-letters", "data": {"source": "s"}}
    assert client.post("/dead-letters/receive", json=letter).json() == {"status": "SUCCESS"}
    client.post("/dead-letters/receive", json=letter)
    listed = client.get("/dead-letters").json()
    assert listed["count"] == 1 and listed["dead_letters"][0]["times"] == 2
    assert listed["dead_letters"][0]["topic"] == "data-received"  # recovered from the type

    assert client.post("/dead-letters/e1/replay").status_code == 202
    (args, kwargs), = dead_letters.published
    assert args[1] == "data-received" and kwargs["event_id"] == "e1" and kwargs["event_type"] == "DataReceived"

    assert client.delete("/dead-letters/e1").status_code == 204
    assert client.get("/dead-letters/e1").status_code == 404
    assert client.delete("/dead-letters").json() == {"purged": 0}


def test_a_dead_letter_of_unknown_origin_needs_a_topic_to_replay(dead_letters):
    client = dead_letters.client
    client.post("/dead-letters/receive", json={"id": "x", "type": "com.dapr.event.sent", "topic": "dead-letters",
                                               "data": {"a": 1}})
    resp = client.post("/dead-letters/x/replay")
    assert resp.status_code == 409 and "?topic=" in resp.text  # the request is valid; the letter lacks a topic
    assert client.post("/dead-letters/x/replay", params={"topic": "data-received"}).status_code == 202


def test_subscriptions_are_listed_for_dapr_with_their_dead_letter_topics(dead_letters):
    listed = dead_letters.client.get("/dapr/subscribe").json()
    assert {(s["topic"], s["route"], s["deadLetterTopic"]) for s in listed} == {
        ("content-published", "/events/content-published", "dead-letters"),
        ("dead-letters", "/dead-letters/receive", "dead-letters-unstored")}
    assert {s["pubsubname"] for s in listed} == {"pubsub"}


def test_a_delivery_that_fails_twice_then_succeeds_is_processed_once_with_retries(log, monkeypatch):
    monkeypatch.setattr(subscriber, "wait_exponential", lambda **kw: (lambda state: 0))  # no real sleeping
    monkeypatch.setattr(subscriber.get_settings(), "delivery_retries", 3)
    calls = []

    def flaky(data, cid, ev):
        calls.append(ev.id)
        if len(calls) < 3:
            raise ConnectionError("binding down")
        return {"ok": True}

    assert handle_once(log, data_event(), DataReceived, flaky) == subscriber.SUCCESS
    assert len(calls) == 3 and [r.outcome for r in log.list("c1")] == ["processed"]


def test_with_no_retries_configured_a_failure_goes_straight_back_to_dapr(log):
    calls = []

    def broken(*args):
        calls.append(1)
        raise ConnectionError("binding down")

    with pytest.raises(ConnectionError):
        handle_once(log, data_event(), DataReceived, broken)
    assert calls == [1]  # locally Dapr's resiliency policy does the retrying


def test_retries_give_up_after_the_configured_attempts_and_let_the_error_through(monkeypatch):
    monkeypatch.setattr(subscriber, "wait_exponential", lambda **kw: (lambda state: 0))
    attempts = []

    def always_failing():
        attempts.append(1)
        raise TimeoutError("still down")

    with pytest.raises(TimeoutError, match="still down"):
        subscriber.with_delivery_retries(always_failing, 2, "e1")
    assert len(attempts) == 3
