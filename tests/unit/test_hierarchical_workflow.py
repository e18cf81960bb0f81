import pytest
from dapr.ext.workflow import TaskFailedError

from services.common.registry import REGISTRY
from tests.unit.workflow_engine import FakeContext, run
from workflows.hierarchical import content_manager, hierarchical_workflow, research_manager
from workflows.lifecycle import TaskFailureError

TEAM = [m.model_dump() for m in REGISTRY.members("hierarchical")]
RESEARCH = {"task_id": "task-1", "goal": "g", "workers": [m for m in TEAM if m["part"] == "research"]}
CONTENT = {"task_id": "task-1", "goal": "g", "notes": "n", "workers": [m for m in TEAM if m["part"] != "research"]}


def reply(agent: str, text: str | None = None) -> dict:
    return {"agent": agent, "role": "r", "output": text or f"{agent} output", "model": "m", "elapsed_seconds": 0.1,
            "usage": {"prompt_tokens": 1, "completion_tokens": 2}}


def test_the_registry_gives_the_managers_their_workers():
    assert [m["app_id"] for m in RESEARCH["workers"]] == ["web-scraper", "paper-analyser"]
    assert [(m["part"], m["app_id"]) for m in CONTENT["workers"]] == [("write", "writer-agent"),
                                                                      ("edit", "editor-agent")]


def test_research_manager_combines_both_workers():
    ctx = FakeContext("task-1-research")
    out = run(research_manager, ctx, RESEARCH,
              [("paper-analyser", reply("paper-analyser")), ("web-scraper", reply("web-scraper"))])
    assert out.model_dump() == {"notes": "web-scraper output\n\npaper-analyser output", "partial": False,
                                "failed_workers": []}
    nodes = ctx.nodes()
    assert nodes[("managers", "research", "workers", "web-scraper")]["status"] == "completed"
    assert nodes[("managers", "research")]["status"] == "completed"
    # Child workflows write to the parent's task document, not to their own instance id.
    assert {note.task_id for _, note in ctx.bookkeeping} == {"task-1"}


def test_research_manager_returns_a_flagged_partial_result_when_a_worker_fails():
    ctx = FakeContext("task-1-research")
    out = run(research_manager, ctx, RESEARCH,
              [("web-scraper", reply("web-scraper")), ("paper-analyser", RuntimeError("answered 503"))])
    assert out.partial is True and out.failed_workers == ["paper-analyser"]
    assert out.notes == "web-scraper output"
    assert ctx.nodes()[("managers", "research", "workers", "paper-analyser")] == {
        "status": "failed", "error": "answered 503"}


def test_research_manager_fails_when_no_worker_produces_anything():
    ctx = FakeContext("task-1-research")
    with pytest.raises(TaskFailureError, match="every worker failed"):
        run(research_manager, ctx, RESEARCH,
            [("web-scraper", RuntimeError("down")), ("paper-analyser", RuntimeError("down"))])
    assert ctx.nodes()[("managers", "research")]["status"] == "failed"


def test_content_manager_keeps_the_draft_when_the_editor_fails():
    ctx = FakeContext("task-1-content")
    out = run(content_manager, ctx, CONTENT,
              [("writer-agent", reply("writer-agent", "draft")), ("editor-agent", RuntimeError("503"))])
    assert out.model_dump() == {"article": "draft", "partial": True, "failed_workers": ["editor-agent"]}
    assert "n" in ctx.inputs["writer-agent"].prompt and ctx.inputs["editor-agent"].prompt == "draft"


def test_content_manager_fails_without_a_draft():
    ctx = FakeContext("task-1-content")
    with pytest.raises(TaskFailedError, match="503"):
        run(content_manager, ctx, CONTENT, [("writer-agent", RuntimeError("503"))])
    assert "editor-agent" not in ctx.inputs


def test_master_delegates_in_order_and_rolls_up_partial_results():
    ctx = FakeContext("task-1")
    research = {"notes": "notes", "partial": True, "failed_workers": ["paper-analyser"]}
    content = {"article": "article", "partial": False, "failed_workers": []}
    out = run(hierarchical_workflow, ctx, {"goal": "g", "team": TEAM},
              [("hierarchical.research_manager", research), ("hierarchical.content_manager", content)])
    assert out.article == "article" and out.partial is True and out.failed_workers == ["paper-analyser"]
    assert ctx.instance_ids["hierarchical.research_manager"] == "task-1-research"
    assert ctx.inputs["hierarchical.content_manager"].notes == "notes"
    assert ctx.final_status().status == "completed"


def test_master_fails_the_task_and_the_instance_when_a_manager_produces_nothing():
    ctx = FakeContext("task-1")
    with pytest.raises(TaskFailureError, match="a manager produced nothing: every worker failed"):
        run(hierarchical_workflow, ctx, {"goal": "g", "team": TEAM},
            [("hierarchical.research_manager", RuntimeError("every worker failed"))])
    assert ctx.final_status().status == "failed"
    assert "manager produced nothing" in ctx.final_status().error
    assert ctx.nodes()[("master",)]["status"] == "failed"
    assert "hierarchical.content_manager" not in ctx.inputs
