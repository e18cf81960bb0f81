"""services/common/changes.py over a real TaskStore (in-memory documents): what the task
stream sends for a stored document and a revision. Each part once in its latest form, oldest
first, ids strictly increasing; a consensus voter's step is a `vote`; a tree node without its
child groups; parts that are gone are skipped."""

import pytest

from services.common.changes import changes_since, snapshot
from services.common.contracts import StepRecord, TaskDocument, Usage, utc_now
from services.common.revisions import APPROVAL, mark
from services.common.tasks import TaskStore, task_key
from tests.unit.fakes import MemoryDocuments


class Tasks:
    """A TaskStore and the documents it writes, read back as stored."""

    def __init__(self):
        self.docs = MemoryDocuments()
        self.store = TaskStore(self.docs)

    def stored(self, task_id: str) -> dict:
        return self.docs.get(task_key(task_id))


@pytest.fixture
def tasks() -> Tasks:
    return Tasks()


def step(name: str, output: str, agent: str | None = None) -> StepRecord:
    usage = Usage(prompt_tokens=1, completion_tokens=1) if agent else None
    return StepRecord(name=name, completed_at=utc_now(), result={"output": output}, agent=agent, usage=usage,
                      call_id=f"call-{name}-{output}" if agent else None)


def summary(changes) -> list[tuple[int, str, str]]:
    """(id, event, what): the step's output, the node's path, the status."""
    def what(change) -> str:
        data = change.data
        return data.get("status") or "/".join(data.get("path", [])) or data.get("result", {}).get("output", "")
    return [(change.revision, change.event, what(change)) for change in changes]


def test_each_part_is_sent_once_in_its_latest_form_oldest_first(tasks):
    tasks.store.create("t1", "sequential", {"topic": "x"})                  # 1: status pending
    tasks.store.add_step("t1", step("research", "first try", "researcher"))  # 2
    tasks.store.add_step("t1", step("write", "draft", "writer"))             # 3
    tasks.store.add_step("t1", step("research", "second try", "researcher"))  # 4: the same step again
    tasks.store.save_status("t1", "in_progress")                            # 5
    doc = tasks.stored("t1")
    assert doc["revision"] == 5
    assert summary(changes_since(doc, 0)) == [(3, "step", "draft"), (4, "step", "second try"),
                                              (5, "status", "in_progress")]
    assert summary(changes_since(doc, 3)) == [(4, "step", "second try"), (5, "status", "in_progress")]
    assert changes_since(doc, 5) == []


def test_a_step_and_a_status_are_sent_as_stored(tasks):
    tasks.store.create("t1", "sequential", {"topic": "x"})
    tasks.store.add_step("t1", step("research", "notes", "researcher"))
    tasks.store.save_status("t1", "completed", result={"article": "a"})
    doc = tasks.stored("t1")
    research, status = changes_since(doc, 1)
    assert research.data == doc["steps"][0]
    assert research.data["usage"] == {"prompt_tokens": 1, "completion_tokens": 1, "estimated_cost_usd": 0.0}
    assert status.data == {"status": "completed", "error": None, "result": {"article": "a"},
                           "updated_at": doc["updated_at"]}


def test_a_retried_write_that_changes_nothing_is_no_event(tasks):
    tasks.store.create("t1", "sequential", {"topic": "x"})
    tasks.store.save_status("t1", "in_progress")
    tasks.store.save_status("t1", "in_progress")
    assert summary(changes_since(tasks.stored("t1"), 0)) == [(2, "status", "in_progress")]


def test_a_tree_node_is_sent_with_its_path_and_its_own_fields(tasks):
    tasks.store.create("t1", "hierarchical", {"goal": "g"})
    tasks.store.merge_tree_node("t1", ["master"], {"status": "planning"})
    tasks.store.merge_tree_node("t1", ["managers", "research"], {"status": "running", "workers_assigned": 2})
    tasks.store.merge_tree_node("t1", ["managers", "research", "workers", "web-scraper"],
                                {"status": "completed", "result": "pages"})
    tasks.store.merge_tree_node("t1", ["master"], {"status": "completed"})
    changes = changes_since(tasks.stored("t1"), 1)
    assert summary(changes) == [(3, "node", "managers/research"), (4, "node", "managers/research/workers/web-scraper"),
                                (5, "node", "master")]
    manager, worker, master = (change.data for change in changes)
    assert manager == {"path": ["managers", "research"], "node": {"status": "running", "workers_assigned": 2}}
    assert worker == {"path": ["managers", "research", "workers", "web-scraper"],
                      "node": {"status": "completed", "result": "pages"}}
    assert master == {"path": ["master"], "node": {"status": "completed"}}


def test_a_consensus_voters_steps_are_votes(tasks):
    tasks.store.create("t1", "consensus", {"content": "c", "task": "review"})
    tasks.store.add_step("t1", step("voter-strict", "safe", "voter-strict"))
    tasks.store.add_step("t1", step("voter-lenient", "unsafe", "voter-lenient"))
    tasks.store.add_step("t1", step("approval", "approved"))  # the task's own step, no agent
    assert [change.event for change in changes_since(tasks.stored("t1"), 1)] == ["vote", "vote", "step"]


def test_the_approval_is_sent_as_the_document_holds_it(tasks):
    tasks.store.create("t1", "sequential", {"topic": "x"})
    gate = {"before": "publish", "timeout_seconds": 60, "on_timeout": "reject", "requested_at": utc_now()}

    def request(doc: dict) -> None:
        doc["approval"] = gate
        mark(doc, APPROVAL)

    tasks.docs.update(task_key("t1"), request)
    (approval,) = changes_since(tasks.stored("t1"), 1)
    assert (approval.revision, approval.event, approval.data) == (2, "approval", gate)


def test_parts_that_are_gone_or_unknown_are_skipped(tasks):
    tasks.store.create("t1", "sequential", {"topic": "x"})
    tasks.store.add_step("t1", step("research", "notes"))
    tasks.store.add_step("t1", step("write", "draft"))

    def lose_research(doc: dict) -> None:
        doc["steps"] = [s for s in doc["steps"] if s["name"] != "research"]
        mark(doc, "node:master")   # a node that is not in the tree
        mark(doc, "future-part")   # a part a newer writer knows
        mark(doc, APPROVAL)        # an approval that is not there

    tasks.docs.update(task_key("t1"), lose_research)
    assert summary(changes_since(tasks.stored("t1"), 1)) == [(3, "step", "draft")]


def test_the_snapshot_is_the_task_as_get_task_shows_it_at_the_documents_revision(tasks):
    tasks.store.create("t1", "parallel", {"query": "q"})
    tasks.store.add_step("t1", step("web-researcher", "found", "web-researcher"))
    doc = tasks.stored("t1")
    first = snapshot(doc)
    assert (first.revision, first.event) == (2, "snapshot")
    assert first.data == TaskDocument.model_validate(doc).model_dump(mode="json")
    assert first.data["revision"] == 2 and "changed" not in first.data and "listed" not in first.data


def test_ids_only_grow_over_a_whole_task(tasks):
    tasks.store.create("t1", "hierarchical", {"goal": "g"})
    seen = 0
    for n in range(5):
        tasks.store.add_step("t1", step(f"s{n % 2}", f"v{n}"))
        tasks.store.merge_tree_node("t1", ["master"], {"round": n})
        tasks.store.save_status("t1", "in_progress" if n % 2 else "pending")
        changes = changes_since(tasks.stored("t1"), seen)
        ids = [change.revision for change in changes]
        assert ids == sorted(set(ids)) and ids[0] > seen
        assert len({change.event + str(change.data.get("path", change.data.get("name"))) for change in changes}) \
            == len(changes)  # each part once
        seen = ids[-1]
