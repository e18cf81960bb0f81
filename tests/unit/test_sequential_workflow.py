import pytest

from services.common.registry import REGISTRY
from tests.unit.workflow_engine import FakeContext, run
from workflows.sequential import sequential_workflow

TEAM = [m.model_dump() for m in REGISTRY.members("sequential")]


def reply(app_id: str, output: str) -> dict:
    return {"agent": app_id, "role": "r", "output": output, "model": "m", "elapsed_seconds": 0.1,
            "usage": {"prompt_tokens": 1, "completion_tokens": 2}}


def answers(*failing: str) -> list:
    outputs = {"research-agent": "<notes>", "writer-agent": "<draft>", "editor-agent": "<edited article>"}
    events = [(a, RuntimeError(f"{a}/run answered 503") if a in failing else reply(a, out))
              for a, out in outputs.items()]
    published = {"task_id": "task-1", "topic": "Dapr", "artifact": "task-1.md", "word_count": 2}
    return [*events, ("publish_article", published)]


def test_sequential_runs_research_write_edit_publish_in_order_and_chains_outputs():
    ctx = FakeContext()
    result = run(sequential_workflow, ctx, {"topic": "Dapr", "team": TEAM}, answers())

    assert list(ctx.inputs) == ["research-agent", "writer-agent", "editor-agent", "publish_article"]
    steps = {app: call.step for app, call in ctx.inputs.items() if app != "publish_article"}
    assert steps == {"research-agent": "research", "writer-agent": "write", "editor-agent": "edit"}
    assert "Dapr" in ctx.inputs["research-agent"].prompt
    assert "<notes>" in ctx.inputs["writer-agent"].prompt
    assert ctx.inputs["editor-agent"].prompt == "<draft>"
    assert ctx.inputs["publish_article"].text == "<edited article>"
    assert result.model_dump() == {"topic": "Dapr", "final_article": "<edited article>", "word_count": 2}
    assert ctx.statuses() == ["in_progress", "completed"]
    assert ctx.final_status().result == result.model_dump()


def test_sequential_marks_task_failed_with_the_error_and_re_raises_so_the_instance_fails():
    ctx = FakeContext()
    with pytest.raises(Exception, match="503"):
        run(sequential_workflow, ctx, {"topic": "Dapr", "team": TEAM}, answers("writer-agent"))
    final = ctx.final_status()
    assert final.status == "failed" and "writer-agent" in final.error and "503" in final.error
    assert "editor-agent" not in ctx.inputs


def test_sequential_passes_each_agent_only_its_own_fault():
    ctx = FakeContext()
    faults = {"writer-agent": {"delay_seconds": 1.0, "fail": False}}
    run(sequential_workflow, ctx, {"topic": "Dapr", "team": TEAM, "faults": faults}, answers())
    by_app = {app: call.fault and call.fault.model_dump() for app, call in ctx.inputs.items()
              if app != "publish_article"}
    assert by_app == {"research-agent": None, "writer-agent": faults["writer-agent"], "editor-agent": None}


def test_a_misspelt_input_field_fails_before_the_workflow_runs():
    with pytest.raises(ValueError, match="topik"):
        run(sequential_workflow, FakeContext(), {"topik": "Dapr", "team": TEAM}, [])


def test_an_agent_reply_missing_a_field_fails_the_task_instead_of_passing_on_garbage():
    ctx = FakeContext()
    events = [("research-agent", {"agent": "research-agent", "output": "notes"})]  # no usage, model, ...
    with pytest.raises(ValueError):
        run(sequential_workflow, ctx, {"topic": "Dapr", "team": TEAM}, events)
    assert ctx.final_status().status == "failed"

