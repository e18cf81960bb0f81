"""Approval gates: where each pattern waits, the one decision that stands (a person's first,
else the timeout's), and POST /task/{id}/approve and /reject on the real orchestrator app
(in-memory state, a fake workflow client)."""

import pytest

from services.common.approvals import AlreadyDecidedError, ApprovalStore, NotAwaitingApprovalError
from services.common.contracts import ApprovalGate, Decision
from services.common.registry import REGISTRY
from services.common.tasks import TaskStore
from tests.unit.fakes import MemoryDocuments, with_key
from tests.unit.workflow_engine import FakeContext, as_history, run
from workflows.approval import DECISION_EVENT
from workflows.hierarchical import hierarchical_workflow
from workflows.parallel import parallel_workflow
from workflows.sequential import sequential_workflow

WRITE = with_key("write")
GATE = ApprovalGate(before="publish", timeout_seconds=60, on_timeout="reject")
EVENT = f"event:{DECISION_EVENT}"


def decision(verdict: str = "approve", by: str = "alice", decision_id: str = "d1", **fields) -> Decision:
    return Decision(decision_id=decision_id, verdict=verdict, by=by, **fields)


@pytest.fixture
def waiting():
    docs = MemoryDocuments()
    tasks, approvals = TaskStore(docs), ApprovalStore(docs)
    tasks.create("t1", "sequential", {"topic": "x"})
    tasks.save_status("t1", "in_progress")
    approvals.request("t1", GATE, {"article": "<text>"}, "2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00")
    return tasks, approvals


# ---- the task document: one decision stands ----

def test_a_task_at_its_gate_waits_showing_what_is_to_be_approved(waiting):
    tasks, _ = waiting
    task = tasks.get("t1")
    assert task.status == "awaiting_approval"
    assert task.approval.subject == {"article": "<text>"} and task.approval.before == "publish"
    assert task.approval.deadline == "2026-01-01T00:01:00+00:00" and task.approval.decision is None


def test_the_first_decision_stands_and_a_second_is_refused_saying_who_decided(waiting):
    tasks, approvals = waiting
    approvals.decide("t1", decision("approve", "alice"))
    with pytest.raises(AlreadyDecidedError, match="approved by alice"):
        approvals.decide("t1", decision("reject", "bob", "d2"))
    assert tasks.get("t1").approval.decision.by == "alice"


def test_a_person_who_decided_before_the_timeout_was_recorded_wins_over_it(waiting):
    tasks, approvals = waiting
    approvals.decide("t1", decision("approve", "alice"))
    timeout = decision("reject", "timeout", "timeout-t1", timed_out=True)
    standing = approvals.apply("t1", timeout)
    assert standing.by == "alice" and standing.verdict == "approve"
    task = tasks.get("t1")
    assert task.status == "in_progress"
    assert [s.name for s in task.steps] == ["approval"] and task.steps[0].result["by"] == "alice"


def test_after_the_timeout_is_recorded_a_person_gets_409_saying_so(waiting):
    tasks, approvals = waiting
    approvals.apply("t1", decision("reject", "timeout", "timeout-t1", timed_out=True))
    with pytest.raises(AlreadyDecidedError, match="rejected on timeout"):
        approvals.decide("t1", decision())
    assert tasks.get("t1").status == "awaiting_approval"  # the workflow's lifecycle ends it `rejected`


def test_a_decision_the_workflow_never_heard_of_is_withdrawn_but_not_one_it_acted_on(waiting):
    tasks, approvals = waiting
    approvals.decide("t1", decision(decision_id="d1"))
    assert approvals.withdraw("t1", "d1") is True
    assert tasks.get("t1").approval.decision is None
    approvals.decide("t1", decision(decision_id="d2"))
    approvals.apply("t1", decision(decision_id="d2"))
    assert approvals.withdraw("t1", "d2") is False and tasks.get("t1").approval.decision.decision_id == "d2"


def test_only_a_waiting_task_takes_a_decision():
    docs = MemoryDocuments()
    TaskStore(docs).create("t1", "sequential", {"topic": "x"})
    with pytest.raises(NotAwaitingApprovalError, match="pending, not awaiting approval"):
        ApprovalStore(docs).decide("t1", decision())
    with pytest.raises(KeyError):
        ApprovalStore(docs).decide("nope", decision())


def test_a_task_cancelled_while_waiting_stays_cancelled(waiting):
    tasks, approvals = waiting
    tasks.cancel("t1")
    approvals.request("t1", GATE, {}, "later", "later")  # a replayed request
    standing = approvals.apply("t1", decision())
    assert standing.verdict == "approve"
    task = tasks.get("t1")
    assert task.status == "cancelled" and task.steps == []


# ---- where each pattern waits ----

def team(pattern: str) -> list[dict]:
    return [m.model_dump() for m in REGISTRY.members(pattern)]


def reply(app_id: str, output: str) -> dict:
    return {"agent": app_id, "role": "r", "output": output, "model": "m", "elapsed_seconds": 0.1,
            "usage": {"prompt_tokens": 1, "completion_tokens": 2}}


def sequential_until_gate() -> list:
    return [("research-agent", reply("research-agent", "<notes>")), ("writer-agent", reply("writer-agent", "<draft>")),
            ("editor-agent", reply("editor-agent", "<edited>")), ("request_approval", None)]


PUBLISHED = ("publish_article", {"task_id": "task-1", "topic": "Dapr", "artifact": "task-1.md", "word_count": 1})


def test_a_sequential_task_waits_before_publishing_and_publishes_once_approved():
    ctx = FakeContext()
    approved = decision()
    request = {"topic": "Dapr", "team": team("sequential"), "approval": GATE.model_dump()}
    result = run(sequential_workflow, ctx, request,
                 [*sequential_until_gate(), (EVENT, approved), ("apply_decision", approved), PUBLISHED])
    asked = ctx.inputs["request_approval"]
    assert asked.subject == {"topic": "Dapr", "article": "<edited>"} and asked.gate == GATE
    assert asked.deadline == "2026-01-01T00:01:00+00:00"
    assert ctx.inputs["apply_decision"].decision == approved
    assert result.final_article == "<edited>" and ctx.statuses() == ["in_progress", "completed"]


def test_a_rejected_task_never_publishes_and_ends_rejected_with_a_completed_workflow():
    ctx = FakeContext()
    rejected = decision("reject", comment="off topic")
    request = {"topic": "Dapr", "team": team("sequential"), "approval": GATE.model_dump()}
    result = run(sequential_workflow, ctx, request,
                 [*sequential_until_gate(), (EVENT, rejected), ("apply_decision", rejected)])
    assert result is None and "publish_article" not in ctx.inputs
    final = ctx.final_status()
    assert final.status == "rejected" and final.error == "rejected by alice at " + \
        rejected.decided_at + ": off topic"


def test_nobody_deciding_applies_on_timeout_and_the_decision_says_it_was_the_timeout():
    ctx = FakeContext()
    gate = GATE.model_copy(update={"on_timeout": "approve"})
    request = {"topic": "Dapr", "team": team("sequential"), "approval": gate.model_dump()}
    events = [*sequential_until_gate(), ("timer", None)]
    with pytest.raises(AssertionError, match="no more events"):
        run(sequential_workflow, ctx, request, events)
    proposed = ctx.inputs["apply_decision"].decision
    assert proposed.timed_out and proposed.verdict == "approve" and proposed.by == "timeout"
    assert proposed.decided_at == "2026-01-01T00:01:00+00:00"  # the deadline, not the clock: replay-safe


def test_the_decision_that_stands_is_the_activitys_not_the_events():
    """A person's approval stored just before the timeout fired stands (apply_decision says so)."""
    ctx = FakeContext()
    request = {"topic": "Dapr", "team": team("sequential"), "approval": GATE.model_dump()}
    run(sequential_workflow, ctx, request,
        [*sequential_until_gate(), ("timer", None), ("apply_decision", decision()), PUBLISHED])
    assert ctx.final_status().status == "completed"


def test_a_gate_before_write_holds_the_research_notes():
    ctx = FakeContext()
    gate = GATE.model_copy(update={"before": "write"})
    request = {"topic": "Dapr", "team": team("sequential"), "approval": gate.model_dump()}
    with pytest.raises(AssertionError, match="no more events"):
        run(sequential_workflow, ctx, request, [("research-agent", reply("research-agent", "<notes>"))])
    assert ctx.inputs["request_approval"].subject == {"topic": "Dapr", "research_notes": "<notes>"}
    assert "writer-agent" not in ctx.inputs


def test_a_parallel_task_holds_its_combined_result_until_approved():
    ctx = FakeContext()
    members = team("parallel")
    gate = {"before": "result", "timeout_seconds": 60, "on_timeout": "reject"}
    answers = [(m["app_id"], reply(m["app_id"], f"<{m['part']}>")) for m in members]
    result = run(parallel_workflow, ctx, {"query": "q", "team": members, "deadline_seconds": 30, "approval": gate},
                 [*answers, ("request_approval", None), (EVENT, decision()), ("apply_decision", decision())])
    assert ctx.inputs["request_approval"].subject == as_history(result)
    assert ctx.statuses() == ["in_progress", "completed"]


def test_a_rejected_hierarchical_task_never_starts_its_content_manager():
    ctx = FakeContext()
    gate = {"before": "content", "timeout_seconds": 60, "on_timeout": "reject"}
    research = {"notes": "<notes>", "partial": False, "failed_workers": []}
    rejected = decision("reject")
    run(hierarchical_workflow, ctx, {"goal": "g", "team": team("hierarchical"), "approval": gate},
        [("hierarchical.research_manager", research), ("request_approval", None), (EVENT, rejected),
         ("apply_decision", rejected)])
    assert "hierarchical.content_manager" not in ctx.inputs
    assert ctx.inputs["request_approval"].subject == research
    assert ctx.nodes()[("master",)] == {"status": "rejected"} and ctx.final_status().status == "rejected"


# ---- the API ----

@pytest.fixture
def gated(orchestrator):
    resp = orchestrator.client.post("/create-content", headers=WRITE,
                                    json={"topic": "Dapr", "approval": {"timeout_seconds": 600}})
    assert resp.status_code == 202, resp.text
    task_id = resp.json()["task_id"]
    orchestrator.stores.approvals.request(task_id, GATE, {"article": "a"}, "now", "later")
    return orchestrator, task_id


def test_the_approval_reaches_the_workflow_and_a_second_decision_is_409(gated):
    orchestrator, task_id = gated
    scheduled = orchestrator.workflows.scheduled[0][1]
    assert scheduled["approval"] == {"before": "publish", "timeout_seconds": 600, "on_timeout": "reject"}
    resp = orchestrator.client.post(f"/task/{task_id}/approve", headers=WRITE, json={"comment": "fine"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["decision"]["by"] == "test-write" and body["decision"]["api_key"] == "test-write"
    assert body["decision"]["comment"] == "fine" and body["status"] == "in_progress"
    [(raised_for, event, data)] = orchestrator.workflows.raised
    assert (raised_for, event, data["verdict"], data["decision_id"]) == (task_id, DECISION_EVENT, "approve",
                                                                         body["decision"]["decision_id"])
    again = orchestrator.client.post(f"/task/{task_id}/reject", headers=WRITE, json={"by": "bob"})
    assert again.status_code == 409 and "already decided: approved by test-write" in again.json()["detail"]


def test_a_reject_with_no_body_is_taken_and_names_the_key(gated):
    orchestrator, task_id = gated
    resp = orchestrator.client.post(f"/task/{task_id}/reject", headers=WRITE)
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"
    assert resp.json()["decision"]["by"] == "test-write"


def test_a_decision_the_workflow_cannot_be_told_of_is_503_and_can_be_sent_again(gated):
    orchestrator, task_id = gated
    orchestrator.workflows.fail = True
    resp = orchestrator.client.post(f"/task/{task_id}/approve", headers=WRITE)
    assert resp.status_code == 503 and "nothing was decided" in resp.json()["detail"]
    assert resp.headers["Retry-After"]
    orchestrator.workflows.fail = False
    assert orchestrator.client.post(f"/task/{task_id}/approve", headers=WRITE).status_code == 200


def test_unknown_tasks_and_tasks_not_waiting_are_404_and_409(orchestrator):
    assert orchestrator.client.post("/task/nope/approve", headers=WRITE).status_code == 404
    task_id = orchestrator.client.post("/create-content", headers=WRITE, json={"topic": "x"}).json()["task_id"]
    resp = orchestrator.client.post(f"/task/{task_id}/approve", headers=WRITE)
    assert resp.status_code == 409 and "pending, not awaiting approval" in resp.json()["detail"]


@pytest.mark.parametrize("body", [{"by": ""}, {"by": " "}, {"comment": "x" * 2001}, {"verdict": "reject"},
                                  {"by": 7}, [], "approve"])
def test_a_bad_decision_body_is_422(gated, body):
    orchestrator, task_id = gated
    assert orchestrator.client.post(f"/task/{task_id}/approve", headers=WRITE, json=body).status_code == 422


def test_reading_keys_cannot_decide(gated):
    orchestrator, task_id = gated
    assert orchestrator.client.post(f"/task/{task_id}/approve", headers=with_key("read")).status_code == 403


@pytest.mark.parametrize(("path", "approval"), [
    ("/create-content", {"before": "result"}),
    ("/research-parallel", {"before": "publish"}),
    ("/delegate", {"before": "write"}),
    ("/create-content", {"timeout_seconds": 0}),
    ("/create-content", {"timeout_seconds": 31 * 24 * 3600}),
    ("/create-content", {"timeout_seconds": "60"}),
    ("/create-content", {"on_timeout": "ignore"}),
    ("/create-content", {"before": "publish", "after": "edit"}),
])
def test_a_gate_a_pattern_does_not_have_is_422(orchestrator, path, approval):
    subject = {"/create-content": {"topic": "x"}, "/research-parallel": {"query": "q"}, "/delegate": {"goal": "g"}}
    resp = orchestrator.client.post(path, headers=WRITE, json={**subject[path], "approval": approval})
    assert resp.status_code == 422, resp.text
