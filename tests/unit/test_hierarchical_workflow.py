import pytest
from dapr.ext.workflow import TaskFailedError

from tests.unit.fanout_engine import FanoutContext, run
from workflows.hierarchical import content_manager, hierarchical_workflow, research_manager

REQUEST = {"task_id": "task-1", "goal": "g", "faults": None}


def reply(agent: str, text: str | None = None) -> dict:
    return {"agent": agent, "output": text or f"{agent} output", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}


def test_research_manager_combines_both_workers():
    ctx = FanoutContext("task-1-research")
    out = run(research_manager(ctx, REQUEST), ctx,
              [("paper-analyser", reply("paper-analyser")), ("web-scraper", reply("web-scraper"))])
    assert out == {"notes": "web-scraper output\n\npaper-analyser output", "partial": False, "failed_workers": []}
    nodes = dict(ctx.nodes())
    assert nodes[("managers", "research", "workers", "web-scraper")]["status"] == "completed"
    assert nodes[("managers", "research")]["status"] == "completed"
    # Child workflows write to the parent's task document, not to their own instance id.
    assert {inp["task_id"] for _, inp in ctx.bookkeeping} == {"task-1"}


def test_research_manager_returns_a_flagged_partial_result_when_a_worker_fails():
    ctx = FanoutContext("task-1-research")
    out = run(research_manager(ctx, REQUEST), ctx,
              [("web-scraper", reply("web-scraper")), ("paper-analyser", RuntimeError("answered 503"))])
    assert out["partial"] is True and out["failed_workers"] == ["paper-analyser"]
    assert out["notes"] == "web-scraper output"
    node = dict(ctx.nodes())[("managers", "research", "workers", "paper-analyser")]
    assert node == {"status": "failed", "error": "answered 503"}


def test_research_manager_fails_when_no_worker_produces_anything():
    ctx = FanoutContext("task-1-research")
    with pytest.raises(RuntimeError, match="every worker failed"):
        run(research_manager(ctx, REQUEST), ctx,
            [("web-scraper", RuntimeError("down")), ("paper-analyser", RuntimeError("down"))])
    assert dict(ctx.nodes())[("managers", "research")]["status"] == "failed"


def test_content_manager_keeps_the_draft_when_the_editor_fails():
    ctx = FanoutContext("task-1-content")
    out = run(content_manager(ctx, {**REQUEST, "notes": "n"}), ctx,
              [("writer-agent", reply("writer-agent", "draft")), ("editor-agent", RuntimeError("503"))])
    assert out == {"article": "draft", "partial": True, "failed_workers": ["editor-agent"]}
    assert "n" in ctx.inputs["writer-agent"]["prompt"] and ctx.inputs["editor-agent"]["prompt"] == "draft"


def test_content_manager_fails_without_a_draft():
    ctx = FanoutContext("task-1-content")
    with pytest.raises(Exception, match="503"):
        run(content_manager(ctx, {**REQUEST, "notes": "n"}), ctx, [("writer-agent", RuntimeError("503"))])
    assert "editor-agent" not in ctx.inputs


def test_master_delegates_in_order_and_rolls_up_partial_results():
    ctx = FanoutContext("task-1")
    research = {"notes": "notes", "partial": True, "failed_workers": ["paper-analyser"]}
    content = {"article": "article", "partial": False, "failed_workers": []}
    out = run(hierarchical_workflow(ctx, {"goal": "g"}), ctx,
              [("research_manager", research), ("content_manager", content)])
    assert out["article"] == "article" and out["partial"] is True and out["failed_workers"] == ["paper-analyser"]
    assert ctx.inputs["research_manager"]["instance_id"] == "task-1-research"
    assert ctx.inputs["content_manager"]["notes"] == "notes"
    assert ctx.bookkeeping[-1][1]["status"] == "completed"


def test_master_fails_when_a_manager_produces_nothing():
    ctx = FanoutContext("task-1")
    with pytest.raises(TaskFailedError, match="every worker failed"):
        run(hierarchical_workflow(ctx, {"goal": "g"}), ctx, [("research_manager", RuntimeError("every worker failed"))])
    assert ctx.bookkeeping[-1][1]["status"] == "failed"
    assert dict(ctx.nodes())[("master",)]["status"] == "failed"
    assert "content_manager" not in ctx.inputs
