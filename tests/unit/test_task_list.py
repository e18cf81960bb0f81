"""GET /tasks on the real orchestrator app (in-memory documents): every task once, newest
first, a page at a time; pattern and status filters; bad parameters refused with a message;
and the task list after a crash between a task's list slots and its document."""

from urllib.parse import urlencode

import pytest

from services.common.contracts import StepRecord, Usage
from services.common.paging import PagedIndex
from services.common.tasklist import SCAN_BUDGET
from services.common.tasks import TaskStore
from tests.unit.fakes import MemoryDocuments, with_key

READ, WRITE = with_key("read"), with_key("write")
REQUESTS = [  # one of each pattern, in turn
    ("/create-content", "sequential", lambda n: {"topic": f"topic {n}"}),
    ("/research-parallel", "parallel", lambda n: {"query": f"query {n}"}),
    ("/consensus", "consensus", lambda n: {"content": f"content {n}", "task": "moderation"}),
    ("/delegate", "hierarchical", lambda n: {"goal": f"goal {n}"}),
]


def create(client, n: int) -> tuple[str, str]:
    path, pattern, body = REQUESTS[n % len(REQUESTS)]
    resp = client.post(path, json=body(n), headers=WRITE)
    assert resp.status_code == 202, resp.text
    return resp.json()["task_id"], pattern


def pages(client, **params) -> list[list[dict]]:
    found, cursor = [], None
    while True:
        body = client.get("/tasks", params={**params, **({"cursor": cursor} if cursor else {})}, headers=READ).json()
        assert body["count"] == len(body["tasks"])
        found.append(body["tasks"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def ids(found: list[list[dict]]) -> list[str]:
    return [task["task_id"] for page in found for task in page]


@pytest.fixture
def fifty(orchestrator):
    """50 tasks through the API, oldest first, as (task id, pattern)."""
    return [create(orchestrator.client, n) for n in range(50)]


def test_fifty_tasks_are_listed_newest_first_across_pages_each_once(orchestrator, fifty):
    found = pages(orchestrator.client, limit=7)
    assert [len(page) for page in found[:7]] == [7] * 7 and sum(map(len, found)) == 50
    assert ids(found) == [task_id for task_id, _ in reversed(fifty)]
    newest = found[0][0]
    assert set(newest) == {"task_id", "pattern", "status", "created_at", "updated_at", "summary", "usage"}
    assert newest["pattern"] == "parallel" and newest["summary"] == "query 49" and newest["status"] == "pending"
    assert newest["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "estimated_cost_usd": 0.0}
    created = [task["created_at"] for page in found for task in page]
    assert created == sorted(created, reverse=True)


def test_the_pattern_filter_lists_that_pattern_only(orchestrator, fifty):
    for _, pattern, _ in REQUESTS:
        found = pages(orchestrator.client, pattern=pattern, limit=5)
        assert ids(found) == [task_id for task_id, p in reversed(fifty) if p == pattern]
        assert {task["pattern"] for page in found for task in page} == {pattern}


def test_the_status_filter_lists_tasks_by_their_status_now(orchestrator, fifty):
    tasks = orchestrator.stores.tasks
    status = {task_id: "pending" for task_id, _ in fifty}
    for n, (task_id, _) in enumerate(fifty):
        if n % 3:
            status[task_id] = "in_progress" if n % 3 == 1 else "completed"
            tasks.save_status(task_id, "in_progress")
        if n % 3 == 2:
            tasks.save_status(task_id, "completed")
    for wanted in ("pending", "in_progress", "completed", "failed"):
        expected = [task_id for task_id, _ in reversed(fifty) if status[task_id] == wanted]
        assert ids(pages(orchestrator.client, status=wanted, limit=4)) == expected
    both = pages(orchestrator.client, status="completed", pattern="parallel")
    assert ids(both) == [t for t, p in reversed(fifty) if p == "parallel" and status[t] == "completed"]


def test_a_listed_task_shows_its_usage_and_last_update_and_a_short_summary(orchestrator):
    client = orchestrator.client
    resp = client.post("/consensus", json={"content": "word " * 100, "task": "review"}, headers=WRITE)
    task_id = resp.json()["task_id"]
    for n, agent in enumerate(["voter-strict", "voter-lenient"]):
        orchestrator.stores.tasks.add_step(task_id, StepRecord(
            name=agent, completed_at="2026-01-01T00:00:00+00:00", result={}, agent=agent, call_id=f"c{n}",
            usage=Usage(prompt_tokens=10, completion_tokens=5, estimated_cost_usd=0.001)))
    (listed,) = client.get("/tasks", headers=READ).json()["tasks"]
    assert listed["usage"] == {"prompt_tokens": 20, "completion_tokens": 10, "estimated_cost_usd": 0.002}
    assert listed["updated_at"] == client.get(f"/task/{task_id}", headers=READ).json()["updated_at"]
    assert listed["updated_at"] > listed["created_at"]
    assert listed["summary"].startswith("review: word word") and len(listed["summary"]) == 80
    assert listed["summary"].endswith("…")


def test_a_status_that_few_tasks_have_is_found_a_bounded_read_at_a_time(orchestrator):
    tasks = orchestrator.stores.tasks
    for n in range(SCAN_BUDGET + 30):
        tasks.create(f"t{n}", "sequential", {"topic": "x"}, "x")
    tasks.save_status("t0", "failed")
    first = orchestrator.client.get("/tasks", params={"status": "failed"}, headers=READ).json()
    assert first["tasks"] == [] and first["next_cursor"]  # nothing in the newest SCAN_BUDGET: go on
    assert ids(pages(orchestrator.client, status="failed")) == ["t0"]


def test_a_crash_between_the_list_slots_and_the_document_lists_nothing(monkeypatch):
    """The slots come first: a crash before the document leaves slots that are never listed
    (the other order would leave a task that exists and is never listed)."""
    docs = MemoryDocuments()
    tasks = TaskStore(docs)
    tasks.create("before", "sequential", {"topic": "a"}, "a")
    real_create = MemoryDocuments.create

    def crash(self, key, doc, ttl_seconds=None):
        if key.startswith("baton:task:"):
            raise ConnectionError("the process died here")
        return real_create(self, key, doc, ttl_seconds)

    monkeypatch.setattr(MemoryDocuments, "create", crash)
    with pytest.raises(ConnectionError):
        tasks.create("lost", "sequential", {"topic": "never stored"}, "never stored")
    monkeypatch.setattr(MemoryDocuments, "create", real_create)
    tasks.create("after", "sequential", {"topic": "b"}, "b")
    for prefix in ("baton:tasks:all", "baton:tasks:pattern:sequential"):
        assert [entry["id"] for _, entry in PagedIndex(docs, prefix).read()] == ["before", "lost", "after"]
    for pattern in (None, "sequential"):
        listed, end = tasks.page(pattern)
        assert [task.task_id for task in listed] == ["after", "before"] and end is None


def test_a_task_is_listed_once_whatever_extra_slots_name_it():
    """An append retried after it had landed leaves a second slot, a second create of the same
    id a slot of its own: only the slot its document names is listed."""
    docs = MemoryDocuments()
    tasks = TaskStore(docs)
    tasks.create("t1", "parallel", {"query": "q"}, "q")
    with pytest.raises(ValueError, match="already exists"):
        tasks.create("t1", "parallel", {"query": "q"}, "q")
    entry = {"id": "t1", "pattern": "parallel", "created_at": "2026-01-01T00:00:00+00:00", "summary": "q"}
    PagedIndex(docs, "baton:tasks:all").append(entry)
    PagedIndex(docs, "baton:tasks:pattern:parallel").append(entry)
    for pattern in (None, "parallel"):
        listed, end = tasks.page(pattern)
        assert [task.task_id for task in listed] == ["t1"] and end is None


def test_cursors_past_either_end(orchestrator, fifty):
    client = orchestrator.client
    oldest_end = client.get("/tasks", params={"cursor": "0.0"}, headers=READ).json()
    assert oldest_end == {"tasks": [], "count": 0, "next_cursor": None}
    far = client.get("/tasks", params={"cursor": "999999999.9999", "pattern": "consensus"}, headers=READ).json()
    assert far["count"] == len([p for _, p in fifty if p == "consensus"])  # everything is older than that


HOSTILE = [
    {"pattern": "event-driven"}, {"pattern": ""}, {"pattern": "Sequential"}, {"status": "done"}, {"status": ""},
    {"limit": "0"}, {"limit": "101"}, {"limit": "-1"}, {"limit": "abc"}, {"limit": "10.5"}, {"limit": "NaN"},
    {"cursor": "abc"}, {"cursor": "1.2.3"}, {"cursor": "-1.0"}, {"cursor": "1" * 30 + ".1"}, {"cursor": ""},
    {"cursor": "1"},
]


@pytest.mark.parametrize("query", [urlencode(p) for p in HOSTILE], ids=lambda q: q[:40])
def test_bad_list_parameters_answer_422_saying_what_to_fix(orchestrator, query):
    resp = orchestrator.client.get(f"/tasks?{query}", headers=READ)
    assert resp.status_code == 422, resp.text
    (error,) = resp.json()["detail"]
    assert error["loc"][0] == "query" and error["msg"]


def test_the_list_needs_a_key_and_takes_only_get(orchestrator):
    assert orchestrator.client.get("/tasks").status_code == 401
    resp = orchestrator.client.post("/tasks", headers=WRITE)
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"
