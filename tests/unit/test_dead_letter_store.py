"""The dead-letter store: one document per letter and a paged index, so no letter is
dropped and no operation's cost grows with the number of letters (counted, not timed)."""

import pytest

from services.common.deadletters import SCAN_BUDGET, DeadLetter, DeadLetterStore, letter_id
from services.common.events import EventLog, EventRecord
from services.common.paging import PAGE_SIZE
from tests.unit.counting import CountingDocuments

TOPICS = {"DataReceived": "data-received", "AnalysisComplete": "analysis-complete"}


def letter(n: int | str, type_: str = "DataReceived") -> DeadLetter:
    event_id = n if isinstance(n, str) else f"e{n}"
    return DeadLetter(id=letter_id(event_id), event_id=event_id, type=type_, topic=TOPICS[type_], source="test",
                      data={"correlation_id": "c1", "n": n}, received_at="2026-01-01T00:00:00+00:00")


def fill(store: DeadLetterStore, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        store.add(letter(n))


def every_page(store: DeadLetterStore, **query) -> list[list[str]]:
    pages, after = [], None
    while True:
        letters, after = store.page(after=after, **query)
        pages.append([d.id for d in letters])
        if after is None:
            return pages


@pytest.fixture
def docs():
    return CountingDocuments()


@pytest.fixture
def store(docs):
    return DeadLetterStore(docs)


def cost(docs: CountingDocuments, operation) -> tuple[int, int]:
    docs.reset()
    operation()
    return docs.round_trips, docs.largest_write


def test_the_ten_thousandth_dead_letter_costs_what_the_tenth_costs(docs, store):
    fill(store, 9)
    tenth = cost(docs, lambda: store.add(letter(9)))
    fill(store, 9_989, start=10)
    ten_thousandth = cost(docs, lambda: store.add(letter(9_999)))
    assert ten_thousandth[0] <= tenth[0] + 3  # + starting a new index page, once per PAGE_SIZE
    assert ten_thousandth[1] <= PAGE_SIZE * 100  # no document grows with the number of letters
    assert max(len(text) for text in docs.texts.values()) < PAGE_SIZE * 100
    assert store.get("e0") is not None and store.get("e9999") is not None  # nothing dropped


def test_removing_one_letter_costs_the_same_at_ten_and_at_ten_thousand(docs, store):
    fill(store, 10)
    small = cost(docs, lambda: store.remove("e5"))
    fill(store, 9_990, start=10)
    large = cost(docs, lambda: store.remove("e5000"))
    assert large[0] == small[0] <= 5  # read it, delete it, empty its index slot
    assert store.get("e5000") is None and not store.remove("e5000")
    listed = [i for page in every_page(store, limit=100) for i in page]
    assert len(listed) == 9_998 and "e5000" not in listed and "e5001" in listed


def test_pagination_lists_every_letter_exactly_once_newest_first(store):
    fill(store, 1_234)  # more than the old store's cap of 1,000
    pages = every_page(store, limit=100)
    listed = [i for page in pages for i in page]
    assert listed == [f"e{n}" for n in range(1_233, -1, -1)]
    assert all(len(page) == 100 for page in pages[:-2])


def test_a_cursor_stays_valid_while_letters_arrive_and_go(store):
    fill(store, 250)
    first, after = store.page(limit=100)
    fill(store, 30, start=250)  # newer than the cursor: not on the following pages
    store.remove("e120")
    rest = [i for page in every_page(store, limit=100) for i in page]  # from the start again
    assert "e120" not in rest and len(rest) == 279
    letters, _ = store.page(after=after, limit=200)
    assert [d.id for d in letters] == [f"e{n}" for n in range(149, -1, -1) if n != 120]
    assert [d.id for d in first] == [f"e{n}" for n in range(249, 149, -1)]


def test_filters_by_topic_and_type_cover_every_match_even_past_the_scan_budget(store):
    for n in range(SCAN_BUDGET + 500):
        store.add(letter(n, "AnalysisComplete" if n % 700 == 0 else "DataReceived"))
    pages = every_page(store, type_="AnalysisComplete", limit=10)
    assert len(pages) > 1 and pages[0] != []  # a page may be short; the cursor goes on
    assert sorted(i for page in pages for i in page) == sorted(f"e{n}" for n in range(0, SCAN_BUDGET + 500, 700))
    by_topic = [i for page in every_page(store, topic="analysis-complete", limit=50) for i in page]
    assert len(by_topic) == 4
    assert all(page == [] for page in every_page(store, topic="nothing-here", limit=50))


def test_a_letter_arriving_again_is_counted_not_duplicated(store):
    store.add(letter(1))
    store.add(letter(1))
    (only,), _ = store.page()
    assert only.times == 2 and only.last_received_at


def test_a_dead_letter_says_which_subscriber_failed_how_often_and_why(docs, store):
    for _ in range(3):
        store.note_failure("e1", "archiver", "data-received", "ConnectionError: binding down", "c1")
    store.note_failure("e1", "analyser", "data-received", "TimeoutError", "c1")
    store.note_recovery("e1", "analyser")  # a retry of the analyser's worked
    store.add(letter(1))
    got = store.get("e1")
    archiver = got.failures["archiver"]
    assert archiver.attempts == 3 and len(archiver.attempt_times) == 3 and archiver.recovered_at is None
    assert archiver.last_error == "ConnectionError: binding down" and archiver.topic == "data-received"
    assert got.failures["analyser"].recovered_at is not None
    assert got.status == "open" and got.correlation_id == "c1"


def test_a_letter_is_resolved_once_every_failing_subscriber_has_processed_it(docs, store):
    log = EventLog(docs, store)
    for subscriber in ("archiver", "notifier"):
        store.note_failure("e1", subscriber, "data-received", "boom", "c1")
    store.add(letter(1))
    store.mark_replayed("e1")

    def processed(subscriber: str) -> None:
        log.record("c1", EventRecord(subscriber=subscriber, topic="data-received", event_type="DataReceived",
                                     event_id="e1", outcome="processed"))

    processed("archiver")
    assert store.get("e1").status == "open"
    processed("notifier")
    got = store.get("e1")
    assert got.status == "resolved" and got.resolved_at and got.replays == 1
    assert every_page(store) == [[]]
    assert every_page(store, status="resolved") == [["e1"]]

    store.note_failure("e1", "archiver", "data-received", "boom again", "c1")  # replayed, failed again
    store.add(letter(1))
    assert store.get("e1").status == "open" and store.get("e1").times == 2
    assert every_page(store) == [["e1"]] and every_page(store, status="resolved") == [[]]


def test_a_letter_with_no_failure_notes_stays_open(docs, store):
    store.add(letter(1))
    store.note_recovery("e1", "archiver")
    assert store.get("e1").status == "open"


def test_an_event_that_never_failed_costs_one_read_to_check(docs, store):
    assert cost(docs, lambda: store.note_recovery("e1", "archiver"))[0] == 1


def test_purging_all_removes_open_and_resolved_letters_and_keeps_later_arrivals(docs, store):
    fill(store, 250)
    store.note_failure("e3", "archiver", "data-received", "boom", "c1")
    store.add(letter(3))
    store.note_recovery("e3", "archiver")
    assert store.get("e3").status == "resolved"
    assert store.clear() == 250
    assert every_page(store) == [[]] and every_page(store, status="resolved") == [[]]
    assert not any(key.startswith("baton:dead-letter:") for key in docs.texts)
    store.add(letter(7))
    assert every_page(store) == [["e7"]] and store.clear() == 1


def test_an_interrupted_purge_is_finished_by_the_next(docs, store, monkeypatch):
    fill(store, 250)
    delete, deleted = docs.delete, []

    def failing_after_100(key, when=None):
        if len(deleted) == 100:
            raise ConnectionError("state store gone")
        deleted.append(key)
        return delete(key, when)

    monkeypatch.setattr(docs, "delete", failing_after_100)
    with pytest.raises(ConnectionError):
        store.clear()
    assert every_page(store) == [[]]  # the listing is empty at once
    monkeypatch.setattr(docs, "delete", delete)
    assert store.clear() == 150  # the first purge deleted 100 letters, then not their page
    assert not any(key.startswith("baton:dead-letter:") for key in docs.texts)


def test_any_event_id_gets_a_usable_letter_id(store):
    for event_id in ("a||b", "x" * 300, "with space", "ünïcode"):
        store.add(letter(event_id))
        lid = letter_id(event_id)
        assert "||" not in lid and len(lid) <= 200
        assert store.get(lid).event_id == event_id
    assert letter_id("plain-id.1:2@3") == "plain-id.1:2@3"


def test_a_letter_dead_lettered_again_while_it_is_being_resolved_ends_open(docs, store, monkeypatch):
    store.note_failure("e1", "archiver", "data-received", "boom", "c1")
    store.add(letter(1))
    stale = docs.get("baton:dead-letter:e1")  # what a racing reader saw: still open
    store.note_recovery("e1", "archiver")  # resolved meanwhile
    store.note_failure("e1", "archiver", "data-received", "boom again", "c1")
    get, stale_reads = docs.get, [stale, stale]

    def get_stale_twice(key: str):
        return stale_reads.pop() if key == "baton:dead-letter:e1" and stale_reads else get(key)

    monkeypatch.setattr(docs, "get", get_stale_twice)
    store.add(letter(1))
    assert store.get("e1").status == "open" and store.get("e1").times == 2
    assert every_page(store) == [["e1"]] and every_page(store, status="resolved") == [[]]
