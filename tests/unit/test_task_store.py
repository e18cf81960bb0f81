from services.common.contracts import StepRecord, Usage
from services.common.events import EventLog, EventRecord
from services.common.tasks import TaskStore
from tests.unit.fakes import MemoryDocuments


def step(name: str, agent: str = "a", tokens: int = 10, call: str | None = None) -> StepRecord:
    return StepRecord(name=name, completed_at="2026-01-01T00:00:00+00:00", result={"output": name},
                      agent=agent, usage=Usage(prompt_tokens=tokens, completion_tokens=tokens), call_id=call)


def test_a_step_recorded_again_replaces_the_earlier_record_and_a_second_call_counts_as_a_cost():
    tasks = TaskStore(MemoryDocuments())
    tasks.create("t", "sequential", {})
    tasks.add_step("t", step("research", call="c1"))
    tasks.add_step("t", step("write", call="c2"))
    doc = tasks.add_step("t", step("research", tokens=5, call="c3"))  # a retried activity called the agent again
    assert [s.name for s in doc.steps] == ["write", "research"]
    assert doc.usage["a"].prompt_tokens == 25  # both model calls really happened


def test_the_same_call_recorded_twice_is_counted_once():
    """A bookkeeping write retried after it had landed (the soak found this double count)."""
    tasks = TaskStore(MemoryDocuments())
    tasks.create("t", "parallel", {})
    tasks.add_step("t", step("web-researcher", agent="web", call="c1"))
    doc = tasks.add_step("t", step("web-researcher", agent="web", call="c1"))
    assert doc.usage["web"].prompt_tokens == 10 and len(doc.steps) == 1
    tree = tasks.merge_tree_node("t", ["managers", "research", "workers", "web-scraper"], {"status": "completed"},
                                 usage=("web-scraper", Usage(prompt_tokens=3)), call_id="c9")
    tree = tasks.merge_tree_node("t", ["managers", "research", "workers", "web-scraper"], {"status": "completed"},
                                 usage=("web-scraper", Usage(prompt_tokens=3)), call_id="c9")
    assert tree.usage["web-scraper"].prompt_tokens == 3


def test_usage_counted_before_parts_were_kept_is_carried_over():
    docs = MemoryDocuments()
    tasks = TaskStore(docs)
    tasks.create("t", "sequential", {})
    docs.docs["baton:task:t"]["usage"] = {"a": Usage(prompt_tokens=7).model_dump()}  # an older document
    doc = tasks.add_step("t", step("write", call="c2"))
    assert doc.usage["a"].prompt_tokens == 17


def test_a_finished_task_is_not_reopened_by_a_late_update():
    tasks = TaskStore(MemoryDocuments())
    tasks.create("t", "sequential", {})
    tasks.save_status("t", "completed", result={"ok": True})
    assert tasks.save_status("t", "in_progress").status == "completed"


def test_creating_a_task_twice_is_refused():
    tasks = TaskStore(MemoryDocuments())
    tasks.create("t", "sequential", {})
    try:
        tasks.create("t", "sequential", {})
    except ValueError as err:
        assert "already exists" in str(err)
    else:
        raise AssertionError("second create succeeded")


def test_event_log_records_each_event_once_per_subscriber():
    log = EventLog(MemoryDocuments())
    rec = EventRecord(subscriber="notifier", topic="t", event_type="DataReceived", event_id="e1", outcome="ok")
    assert log.record("c1", rec) is True
    assert log.record("c1", rec) is False
    assert log.record("c1", rec.model_copy(update={"subscriber": "archiver"})) is True
    assert [e.subscriber for e in log.list("c1")] == ["notifier", "archiver"]
    assert log.seen("c1", "notifier", "e1") and not log.seen("c1", "notifier", "e2")
