from services.common.contracts import StepRecord, Usage
from services.common.events import EventLog, EventRecord
from services.common.tasks import TaskStore
from tests.unit.fakes import MemoryDocuments


def step(name: str, agent: str = "a", tokens: int = 10) -> StepRecord:
    return StepRecord(name=name, completed_at="2026-01-01T00:00:00+00:00", result={"output": name},
                      agent=agent, usage=Usage(prompt_tokens=tokens, completion_tokens=tokens))


def test_record_step_replaces_an_earlier_record_of_the_same_step_but_counts_both_costs():
    tasks = TaskStore(MemoryDocuments())
    tasks.create("t", "sequential", {})
    tasks.add_step("t", step("research"))
    tasks.add_step("t", step("write"))
    doc = tasks.add_step("t", step("research", tokens=5))  # a retried activity
    assert [s.name for s in doc.steps] == ["write", "research"]
    assert doc.usage["a"].prompt_tokens == 25  # both model calls really happened


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
