"""The event log: one document per record and a paged index per correlation id, so a
long-lived correlation id costs the same to append to, and to check for duplicates."""

import pytest

from services.common.deadletters import DeadLetter, DeadLetterStore
from services.common.events import EventLog, EventRecord, record_key
from services.common.paging import PAGE_SIZE, PagedIndex, Position
from tests.unit.counting import CountingDocuments
from tests.unit.fakes import MemoryDocuments


def rec(n: int, subscriber: str = "analyser", outcome: str = "processed") -> EventRecord:
    return EventRecord(subscriber=subscriber, topic="data-received", event_type="DataReceived", event_id=f"e{n}",
                       outcome=outcome, detail={"n": n})


@pytest.fixture
def docs():
    return CountingDocuments()


def fill(log: EventLog, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        assert log.record("c1", rec(n))


def test_the_ten_thousandth_record_costs_what_the_tenth_costs_and_a_duplicate_check_one_read(docs):
    log = EventLog(docs)
    def cost(operation) -> tuple[int, int]:
        docs.reset()
        operation()
        return docs.round_trips, docs.largest_write

    fill(log, 9)
    tenth, seen_at_ten = cost(lambda: log.record("c1", rec(9))), cost(lambda: log.seen("c1", "analyser", "e3"))
    fill(log, 9_989, start=10)
    ten_thousandth = cost(lambda: log.record("c1", rec(9_999)))
    assert ten_thousandth[0] <= tenth[0] + 3  # + starting a new index page, once per PAGE_SIZE
    assert ten_thousandth[1] <= PAGE_SIZE * 120  # the largest write: an index page, not the log
    assert cost(lambda: log.seen("c1", "analyser", "e5000")) == seen_at_ten == (1, 0)
    assert cost(lambda: log.record("c1", rec(5_000)))[0] == 1  # a duplicate: one read, nothing written


def test_pages_cover_every_record_exactly_once_oldest_first(docs):
    log = EventLog(docs)
    fill(log, 250)
    seen, after, pages = [], None, 0
    while True:
        records, after = log.page("c1", after, limit=40)
        seen += [r.event_id for r in records]
        pages += 1
        if after is None:
            break
    assert seen == [f"e{n}" for n in range(250)] and pages == 7
    assert [r.event_id for r in log.list("c1")] == seen


def test_a_page_started_at_the_end_sees_what_is_recorded_later(docs):
    log = EventLog(docs)
    fill(log, 5)
    records, after = log.page("c1", limit=5)
    assert len(records) == 5 and after == Position(0, 4)
    fill(log, 2, start=5)
    assert [r.event_id for r in log.page("c1", after, limit=5)[0]] == ["e5", "e6"]


def test_each_subscriber_records_an_event_once_and_logs_stay_apart(docs):
    log = EventLog(docs)
    assert log.record("c1", rec(1)) and not log.record("c1", rec(1))
    assert log.record("c1", rec(1, subscriber="archiver"))
    assert log.record("c2", rec(1))
    assert [(r.subscriber, r.event_id) for r in log.list("c1")] == [("analyser", "e1"), ("archiver", "e1")]
    assert log.seen("c1", "archiver", "e1") and not log.seen("c1", "notifier", "e1")
    assert log.list("nobody") == []


def test_a_correlation_id_that_is_no_plain_id_still_makes_valid_keys(docs):
    log = EventLog(docs)
    assert log.record("a||b", rec(1)) and log.seen("a||b", "analyser", "e1")
    assert not log.seen("a", "analyser", "e1")
    assert not any("||" in key for key in docs.texts)


def test_a_rejected_event_and_a_failed_attempt_explain_its_dead_letter_and_processing_resolves_it(docs):
    log = EventLog(docs)
    log.record("c1", rec(1, outcome="rejected").model_copy(update={"detail": {"error": "source: missing"}}))
    log.record_failure("c1", rec(2, subscriber="archiver").model_copy(update={"detail": {"error": "disk full"}}))
    letters = DeadLetterStore(docs)
    for n in (1, 2):
        letters.add(DeadLetter(id=f"e{n}", event_id=f"e{n}", type="DataReceived", topic="data-received",
                               source="s", data={}, received_at="t"))
    assert letters.get("e1").failures["analyser"].last_error == "source: missing"
    assert letters.get("e2").failures["archiver"].last_error == "disk full"
    assert [r.event_id for r in log.list("c1")] == ["e1"]  # a failed attempt is no record of the log
    log.record("c1", rec(2, subscriber="archiver"))  # the replay worked
    assert letters.get("e2").status == "resolved" and letters.get("e1").status == "open"


def test_noting_a_failure_never_breaks_the_subscriber(docs, monkeypatch):
    log = EventLog(docs)
    def broken(*args, **kwargs):
        raise ConnectionError("state store gone")

    monkeypatch.setattr(docs, "update", broken)
    log.record_failure("c1", rec(1).model_copy(update={"detail": {"error": "boom"}}))  # no exception


def test_a_slot_left_by_a_failed_attempt_does_not_list_the_record_twice():
    """The soak found one delivery listed twice: an attempt appended its index slot, the state
    store went away before the record was created, and the retry appended a second slot."""
    docs = MemoryDocuments()
    log = EventLog(docs)
    rec = EventRecord(subscriber="orchestrator", topic="content-published", event_type="ContentPublished",
                      event_id="e1", outcome="processed")
    PagedIndex(docs, "baton:events:c1").append(record_key("c1", "orchestrator", "e1"))  # the failed attempt's slot
    assert log.record("c1", rec) is True
    assert [r.event_id for r in log.list("c1")] == ["e1"]
