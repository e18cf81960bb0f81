"""GET /task/{task_id}/stream on the real orchestrator app (in-memory documents, a poll every
10 ms): the snapshot first, then every change in order as it is written, `end` after a
terminal status; Last-Event-ID resumes with exactly the later changes; 204, 400, 401, 404,
409 and 503 decided before streaming; a task that vanishes, a store that fails (briefly, or
for longer than the patience), a client that goes away and a stream that reaches its time
limit."""

import logging
import threading
import time

import pytest

from services.common.changes import changes_since
from services.common.contracts import StepRecord, utc_now
from services.common.settings import Settings
from services.common.stores import build_stores
from services.common.tasks import task_key
from tests.sse import read_events
from tests.unit.dapr_errors import state_store_down
from tests.unit.fakes import MemoryDocuments, with_key

READ = with_key("read")


@pytest.fixture
def api(make_orchestrator):
    """The orchestrator with quick polls, and the documents under its stores at hand."""
    api = make_orchestrator(stream_poll_seconds="0.01", stream_store_patience_seconds="0.3")
    api.docs = MemoryDocuments()
    api.stores = api.app.state.stores = build_stores(Settings(), api.docs)
    return api


def stream(api, task_id: str, **headers: str) -> list[dict]:
    """Every event of one stream, to its end."""
    with api.client.stream("GET", f"/task/{task_id}/stream", headers={**READ, **headers}) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        return list(read_events(resp.iter_lines()))


def step(name: str, output: str) -> StepRecord:
    return StepRecord(name=name, completed_at=utc_now(), result={"output": output}, agent=name)


def brief(events: list[dict]) -> list[tuple[str, str]]:
    """(event, what changed) for each event."""
    def what(e: dict) -> str:
        data = e["data"] or {}
        return data.get("status") or data.get("name") or "/".join(data.get("path", [])) or ""
    return [(e["event"], what(e)) for e in events]


def ids(events: list[dict]) -> list[int]:
    return [int(e["id"]) for e in events if e["id"] is not None]


WRITES = [  # (what the write does, the event it makes)
    (lambda tasks: tasks.save_status("t1", "in_progress"), ("status", "in_progress")),
    (lambda tasks: tasks.add_step("t1", step("research", "notes")), ("step", "research")),
    (lambda tasks: tasks.add_step("t1", step("write", "draft")), ("step", "write")),
    (lambda tasks: tasks.add_step("t1", step("research", "more notes")), ("step", "research")),
    (lambda tasks: tasks.save_status("t1", "completed", result={"article": "a"}), ("status", "completed")),
]


def test_the_snapshot_comes_first_then_each_change_as_it_is_written_then_end(api):
    tasks = api.stores.tasks
    tasks.create("t1", "sequential", {"topic": "x"})
    done = [threading.Event() for _ in WRITES]

    def writer() -> None:  # one write, then wait until the client has its event
        for (write, _), received in zip(WRITES, done, strict=True):
            write(tasks)
            assert received.wait(5)

    with api.client.stream("GET", "/task/t1/stream", headers=READ) as resp:
        events = read_events(resp.iter_lines())
        first = next(events)
        assert (first["event"], first["id"], first["retry"]) == ("snapshot", "1", "1000")
        assert first["data"] == api.client.get("/task/t1", headers=READ).json()
        thread = threading.Thread(target=writer)
        thread.start()
        received = []
        for n, (_, expected) in enumerate(WRITES):
            received.append(next(events))
            assert brief(received[-1:]) == [expected]
            done[n].set()
        end = next(events)
        assert list(events) == []
    thread.join()
    assert ids(received) == [2, 3, 4, 5, 6] and all(e["retry"] is None for e in received)
    assert received[3]["data"]["result"] == {"output": "more notes"}
    assert received[4]["data"] == {"status": "completed", "error": None, "result": {"article": "a"},
                                   "updated_at": tasks.get("t1").updated_at}
    assert (end["event"], end["id"], end["data"]) == ("end", "6", {"status": "completed", "revision": 6})


def test_changes_written_faster_than_the_polls_arrive_in_order_each_in_its_latest_form(api):
    tasks = api.stores.tasks
    tasks.create("t1", "sequential", {"topic": "x"})

    def writer() -> None:
        time.sleep(0.05)
        for n in range(30):
            tasks.add_step("t1", step(f"step-{n % 4}", f"v{n}"))
            if n % 7 == 0:
                time.sleep(0.02)
        tasks.save_status("t1", "failed", error="step-3 broke")

    thread = threading.Thread(target=writer)
    thread.start()
    events = stream(api, "t1")
    thread.join()
    assert events[0]["event"] == "snapshot" and events[-1]["event"] == "end"
    assert ids(events) == [*sorted(set(ids(events)[:-1])), ids(events)[-1]]  # strictly increasing; `end` repeats
    latest = {e["data"]["name"]: e["data"]["result"]["output"] for e in events if e["event"] == "step"}
    final = tasks.get("t1")
    assert latest == {s.name: s.result["output"] for s in final.steps}  # every step reached its latest form
    assert events[-1]["data"] == {"status": "failed", "revision": final.revision}


def test_last_event_id_resumes_with_exactly_the_later_changes(api):
    tasks = api.stores.tasks
    tasks.create("t1", "parallel", {"query": "q"})
    for write, _ in WRITES:
        write(tasks)
    everything = changes_since(api.docs.get(task_key("t1")), 0)  # step write (4), research (5), status (6)
    assert [change.revision for change in everything] == [4, 5, 6]
    for after in range(6):
        events = stream(api, "t1", **{"Last-Event-ID": str(after)})
        assert events[0]["retry"] == "1000" and events[-1]["event"] == "end"
        assert ids(events[:-1]) == [change.revision for change in everything if change.revision > after]
        assert [e["data"] for e in events[:-1]] == [c.data for c in everything if c.revision > after]
    assert brief(stream(api, "t1", **{"Last-Event-ID": "4"})) == [
        ("step", "research"), ("status", "completed"), ("end", "completed")]


def test_resuming_a_running_task_sends_no_snapshot_and_what_comes_next(api):
    tasks = api.stores.tasks
    tasks.create("t1", "sequential", {"topic": "x"})
    tasks.save_status("t1", "in_progress")  # revision 2

    def writer() -> None:
        time.sleep(0.05)
        tasks.add_step("t1", step("research", "notes"))
        tasks.save_status("t1", "cancelled")

    thread = threading.Thread(target=writer)
    thread.start()
    events = stream(api, "t1", **{"Last-Event-ID": "2"})
    thread.join()
    assert brief(events) == [("step", "research"), ("status", "cancelled"), ("end", "cancelled")]
    assert ids(events) == [3, 4, 4]


def test_a_finished_task_with_nothing_newer_answers_204(api):
    tasks = api.stores.tasks
    tasks.create("t1", "sequential", {"topic": "x"})
    tasks.save_status("t1", "completed", result={})
    for last in ("2", "0002"):
        resp = api.client.get("/task/t1/stream", headers={**READ, "Last-Event-ID": last})
        assert resp.status_code == 204 and resp.content == b""
    # Without Last-Event-ID a finished task still shows itself: the snapshot, then `end`.
    assert brief(stream(api, "t1")) == [("snapshot", "completed"), ("end", "completed")]


@pytest.mark.parametrize("last", ["abc", "-1", "1e3", "99999999999", "1.0", "", "0x1", "٣".encode()])
def test_a_last_event_id_that_is_not_a_small_non_negative_integer_answers_400(api, last):
    api.stores.tasks.create("t1", "sequential", {"topic": "x"})
    resp = api.client.get("/task/t1/stream", headers={**READ, "Last-Event-ID": last})
    assert resp.status_code == 400
    assert "non-negative integer of at most 10 digits" in resp.json()["detail"]


def test_a_last_event_id_ahead_of_the_task_answers_409_naming_its_revision(api):
    """Well formed, so not 400 (the OpenAPI accepts it: the API fuzz holds it to that)."""
    api.stores.tasks.create("t1", "sequential", {"topic": "x"})
    api.stores.tasks.save_status("t1", "in_progress")
    for last in ("3", "9999999999"):
        resp = api.client.get("/task/t1/stream", headers={**READ, "Last-Event-ID": last})
        assert resp.status_code == 409 and "whose revision is 2" in resp.json()["detail"]


def test_unknown_tasks_bad_ids_and_missing_keys_are_refused_before_streaming(api):
    resp = api.client.get("/task/nope/stream", headers=READ)
    assert resp.status_code == 404 and resp.json() == {"detail": "no task with id nope"}
    assert api.client.get("/task/a||b/stream", headers=READ).status_code == 422
    api.stores.tasks.create("t1", "sequential", {"topic": "x"})
    for headers in ({}, {"X-API-Key": "not-a-key-" + "x" * 32}):
        resp = api.client.get("/task/t1/stream", headers=headers)
        assert resp.status_code == 401 and "API key" in resp.json()["detail"]
    resp = api.client.post("/task/t1/stream", headers=READ)
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"


def test_a_store_down_when_the_stream_opens_answers_503(api, monkeypatch):
    monkeypatch.setattr(api.stores.tasks, "document", lambda task_id: (_ for _ in ()).throw(state_store_down()))
    resp = api.client.get("/task/t1/stream", headers=READ)
    assert resp.status_code == 503 and "state store" in resp.json()["detail"]


def test_a_task_that_vanishes_mid_stream_ends_it(api):
    api.stores.tasks.create("t1", "sequential", {"topic": "x"})
    with api.client.stream("GET", "/task/t1/stream", headers=READ) as resp:
        events = read_events(resp.iter_lines())
        assert next(events)["event"] == "snapshot"
        api.docs.delete(task_key("t1"))  # as an expired document does
        rest = list(events)
    assert rest == [{"event": "end", "id": None, "retry": None,
                     "data": {"status": None, "reason": "the task no longer exists"}}]


class FlakyReads:
    """TaskStore.document failing as a stopped Redis does, from `failing` on until `fixed`."""

    def __init__(self, get):
        self.get, self.failing, self.fixed, self.failures, self.reads = get, False, threading.Event(), 0, 0

    def __call__(self, task_id: str):
        self.reads += 1
        if self.failing and not self.fixed.is_set():
            self.failures += 1
            raise state_store_down()
        return self.get(task_id)


@pytest.fixture
def flaky(api, monkeypatch, caplog):
    """Task t1, its reads through FlakyReads, the stream's log captured."""
    caplog.set_level(logging.INFO, "services.orchestrator.stream")
    tasks = api.stores.tasks
    tasks.create("t1", "sequential", {"topic": "x"})
    reads = FlakyReads(tasks.document)
    monkeypatch.setattr(tasks, "document", reads)
    return tasks, reads


def test_a_store_failing_briefly_is_waited_out(api, flaky, caplog):
    tasks, reads = flaky
    with api.client.stream("GET", "/task/t1/stream", headers=READ) as resp:
        events = read_events(resp.iter_lines())
        assert next(events)["event"] == "snapshot"
        reads.failing = True
        tasks.save_status("t1", "completed", result={})  # written while the stream cannot read
        time.sleep(0.1)  # well within the 0.3 s patience
        reads.fixed.set()
        rest = list(events)
    assert brief(rest) == [("status", "completed"), ("end", "completed")]
    assert reads.failures >= 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "services.orchestrator.stream"
                and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "reading the task failed" in warnings[0]
    assert "readable again" in caplog.text


def test_a_store_failing_longer_than_the_patience_ends_the_stream_with_an_error(api, flaky, caplog):
    _, reads = flaky
    with api.client.stream("GET", "/task/t1/stream", headers=READ) as resp:
        events = read_events(resp.iter_lines())
        assert next(events)["event"] == "snapshot"
        reads.failing, started = True, time.monotonic()
        rest = list(events)
    assert time.monotonic() - started >= 0.3
    (error,) = rest
    assert error["event"] == "error" and error["id"] is None  # the client's Last-Event-ID stays the last change's
    assert "could not be read for 0.3 s" in error["data"]["message"]
    assert "reconnect with Last-Event-ID" in error["data"]["message"]
    assert "closing" in caplog.text and "stream closed after 2 events" in caplog.text


def test_a_client_that_goes_away_stops_the_polls(api, flaky, caplog):
    _, reads = flaky
    with api.client.stream("GET", "/task/t1/stream", headers=READ) as resp:
        events = read_events(resp.iter_lines())  # kept: dropping it would close the response
        assert next(events)["event"] == "snapshot"
        time.sleep(0.1)
        assert reads.reads > 1  # it polls while the client listens
    after_close = reads.reads
    time.sleep(0.1)
    assert reads.reads == after_close
    assert "stream closed after 1 events" in caplog.text


def test_a_stream_closes_after_its_time_limit_without_end(make_orchestrator):
    api = make_orchestrator(stream_poll_seconds="0.01", stream_max_seconds="0.2")
    api.stores.tasks.create("t1", "sequential", {"topic": "x"})  # pending, and nothing will change it
    started = time.monotonic()
    events = stream(api, "t1")
    assert 0.2 <= time.monotonic() - started < 5
    assert brief(events) == [("snapshot", "pending")]
