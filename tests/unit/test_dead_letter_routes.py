"""The dead-letter and event-log API of the real orchestrator app: pages, filters, resolved
letters, and hostile query parameters answered 4xx with a message (never 500)."""

from urllib.parse import urlencode

import pytest

from services.common.events import EventRecord
from services.common.settings import get_settings
from tests.unit.conftest import APP_TOKEN
from tests.unit.fakes import with_key

SIDECAR = {"dapr-api-token": APP_TOKEN}
ADMIN, READ = with_key("admin"), with_key("read")


def dead_letter(client, event_id: str, type_: str = "DataReceived", topic: str = "data-received") -> None:
    event = {"id": event_id, "type": type_, "topic": topic, "source": "test",
             "data": {"source": "s", "payload": {}, "correlation_id": "c1"}}
    assert client.post("/dead-letters/receive", json=event, headers=SIDECAR).json() == {"status": "SUCCESS"}


def all_pages(client, path: str, key: str, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        body = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}, headers=READ).json()
        pages.append(body[key])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_dead_letters_are_listed_a_page_at_a_time_newest_first(orchestrator):
    client = orchestrator.client
    for n in range(120):
        dead_letter(client, f"e{n}")
    first = client.get("/dead-letters", params={"limit": 50}, headers=READ).json()
    assert first["status"] == "open" and first["count"] == 50 and first["next_cursor"]
    pages = all_pages(client, "/dead-letters", "dead_letters", limit=50)
    assert [len(page) for page in pages] == [50, 50, 20]
    assert [d["id"] for page in pages for d in page] == [f"e{n}" for n in range(119, -1, -1)]
    assert "position" not in pages[0][0]


def test_dead_letters_filter_by_topic_and_type(orchestrator):
    client = orchestrator.client
    dead_letter(client, "d1")
    dead_letter(client, "a1", "AnalysisComplete", "analysis-complete")
    dead_letter(client, "d2")
    by_type = all_pages(client, "/dead-letters", "dead_letters", type="DataReceived")
    assert [d["id"] for page in by_type for d in page] == ["d2", "d1"]
    by_topic = all_pages(client, "/dead-letters", "dead_letters", topic="analysis-complete")
    assert [d["id"] for page in by_topic for d in page] == ["a1"]
    both = all_pages(client, "/dead-letters", "dead_letters", topic="analysis-complete", type="DataReceived")
    assert both == [[]]


def test_a_replayed_letter_that_its_subscriber_then_processes_is_listed_as_resolved(orchestrator):
    client, stores = orchestrator.client, orchestrator.stores
    failed = EventRecord(subscriber="archiver", topic="data-received", event_type="DataReceived", event_id="e1",
                         outcome="failed", detail={"error": "ConnectionError: binding down"})
    stores.events.record_failure("c1", failed)  # what the archiver notes before answering 500
    for other in ("analyser", "notifier"):  # the event's other subscribers processed it
        stores.events.record("c1", failed.model_copy(update={"subscriber": other, "outcome": "processed"}))
    dead_letter(client, "e1")
    letter = client.get("/dead-letters/e1", headers=READ).json()
    assert letter["status"] == "open" and list(letter["failures"]) == ["archiver"]
    assert letter["failures"]["archiver"]["attempts"] == 1
    assert letter["failures"]["archiver"]["last_error"] == "ConnectionError: binding down"

    assert client.post("/dead-letters/e1/replay", headers=ADMIN).status_code == 202
    (_, kwargs), = orchestrator.published
    assert kwargs["event_id"] == "e1"
    assert client.get("/dead-letters/e1", headers=READ).json()["status"] == "open"  # not yet processed
    stores.events.record("c1", failed.model_copy(update={"outcome": "processed", "detail": {}}))

    letter = client.get("/dead-letters/e1", headers=READ).json()
    assert letter["status"] == "resolved" and letter["replays"] == 1 and letter["resolved_at"]
    assert client.get("/dead-letters", headers=READ).json()["dead_letters"] == []
    resolved = client.get("/dead-letters", params={"status": "resolved"}, headers=READ).json()
    assert [d["id"] for d in resolved["dead_letters"]] == ["e1"]
    assert client.delete("/dead-letters", headers=ADMIN).json() == {"purged": 1}


def test_a_letter_without_failure_notes_names_the_subscribers_that_have_not_processed_the_event(orchestrator):
    """Subscribers that failed while the state store was down could note nothing (the soak found
    such a letter naming no one): the letter names every subscriber of the topic that has not
    processed the event, and one that processes it later is marked recovered."""
    client, stores = orchestrator.client, orchestrator.stores
    processed = EventRecord(subscriber="notifier", topic="data-received", event_type="DataReceived",
                            event_id="e2", outcome="processed")
    stores.events.record("c1", processed)
    with stores.claims.held("analyser", "e2"):  # still working on it: not named
        dead_letter(client, "e2")
    letter = client.get("/dead-letters/e2", headers=READ).json()
    assert sorted(letter["failures"]) == ["archiver"] and letter["status"] == "open"
    dead_letter(client, "e2")  # dead-lettered again, the analyser gone silent meanwhile
    letter = client.get("/dead-letters/e2", headers=READ).json()
    assert sorted(letter["failures"]) == ["analyser", "archiver"]
    assert "without a failure note" in letter["failures"]["analyser"]["last_error"]
    for late in ("analyser", "archiver"):
        stores.events.record("c1", processed.model_copy(update={"subscriber": late}))
    assert client.get("/dead-letters/e2", headers=READ).json()["status"] == "resolved"


def test_a_letter_of_an_event_id_that_is_no_plain_id_is_addressed_by_its_digest(orchestrator):
    client = orchestrator.client
    dead_letter(client, "a||b")
    (letter,) = client.get("/dead-letters", headers=READ).json()["dead_letters"]
    assert letter["event_id"] == "a||b" and letter["id"].startswith("sha256-")
    assert client.post(f"/dead-letters/{letter['id']}/replay", headers=ADMIN).status_code == 202
    (_, kwargs), = orchestrator.published
    assert kwargs["event_id"] == "a||b"  # replayed as it was published
    assert client.delete(f"/dead-letters/{letter['id']}", headers=ADMIN).status_code == 204


def test_the_event_log_keeps_its_shape_and_pages_on_request(orchestrator):
    for n in range(5):
        orchestrator.stores.events.record("c1", EventRecord(subscriber="analyser", topic="t", event_type="X",
                                                            event_id=f"e{n}", outcome="processed"))
    body = orchestrator.client.get("/events/c1", headers=READ).json()
    assert body["correlation_id"] == "c1" and body["next_cursor"] is None
    assert [e["event_id"] for e in body["events"]] == [f"e{n}" for n in range(5)]
    assert set(body["events"][0]) == {"subscriber", "topic", "event_type", "event_id", "outcome", "detail",
                                      "recorded_at"}
    pages = all_pages(orchestrator.client, "/events/c1", "events", limit=2)
    assert [[e["event_id"] for e in page] for page in pages] == [["e0", "e1"], ["e2", "e3"], ["e4"]]


HOSTILE = [
    {"limit": "0"}, {"limit": "101"}, {"limit": "-1"}, {"limit": "abc"}, {"limit": "1e400"}, {"limit": "NaN"},
    {"limit": "10.5"}, {"limit": str(10 ** 30)}, {"cursor": "abc"}, {"cursor": "1.2.3"}, {"cursor": "-1.0"},
    {"cursor": "1" * 30 + ".1"}, {"cursor": ""}, {"status": "closed"}, {"status": ""}, {"topic": "a||b"},
    {"topic": ""}, {"topic": "x" * 201}, {"type": "<script>"}, {"topic": "\x00"},
]
LONE_SURROGATE = "type=%ED%A0%80"  # "\ud800" as a hostile client sends it (no client library encodes it)


@pytest.mark.parametrize("query", [urlencode(p) for p in HOSTILE] + [LONE_SURROGATE], ids=lambda q: q[:40])
def test_hostile_dead_letter_queries_answer_422_with_a_message(orchestrator, query):
    resp = orchestrator.client.get(f"/dead-letters?{query}", headers=READ)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["msg"]


@pytest.mark.parametrize("path", ["/dead-letters/a||b", "/dead-letters/" + "x" * 201, "/dead-letters/-x",
                                  "/events/a||b", "/events/" + "x" * 101])
def test_hostile_ids_answer_4xx(orchestrator, path):
    assert 400 <= orchestrator.client.get(path, headers=READ).status_code < 500


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"cursor": "1"},
                                    {"cursor": "1.-1"}, {"cursor": "9" * 12 + ".0"}])
def test_hostile_event_log_queries_answer_422(orchestrator, params):
    resp = orchestrator.client.get("/events/c1", params=params, headers=READ)
    assert resp.status_code == 422 and resp.json()["detail"][0]["msg"]


def test_a_far_cursor_is_an_empty_page_not_an_error(orchestrator):
    dead_letter(orchestrator.client, "e1")
    far = {"cursor": "999999999.9999"}
    assert orchestrator.client.get("/dead-letters", params=far, headers=READ).json()["count"] == 1
    assert orchestrator.client.get("/events/c1", params=far, headers=READ).json()["events"] == []


def test_a_content_published_event_without_task_id_is_dropped_and_its_dead_letter_says_why(orchestrator):
    event = {"id": "cp1", "type": "ContentPublished", "topic": "content-published", "data": {"artifact": "a.md"}}
    resp = orchestrator.client.post("/events/content-published", json=event, headers=SIDECAR)
    assert resp.json() == {"status": "DROP"}  # Dapr sends a dropped event to the dead letters
    dead_letter(orchestrator.client, "cp1", "ContentPublished", "content-published")
    failure = orchestrator.client.get("/dead-letters/cp1", headers=READ).json()["failures"][get_settings().app_id]
    assert failure["attempts"] == 1
    assert failure["last_error"] == "the event has no task_id"
