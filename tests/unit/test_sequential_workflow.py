import pytest

from tests.unit.fakes import FakeWorkflowContext, activity_failure, drive
from workflows.sequential import sequential_workflow


def agent_answers(call):
    kind, name, payload = call
    if name == "run_agent_step":
        return {"output": f"<{payload['step']} output>", "agent": payload["app_id"]}
    if name == "publish_article":
        return {"word_count": len(payload["text"].split()), "artifact": "task-1.md"}
    return None


def test_sequential_runs_research_write_edit_publish_in_order_and_chains_outputs():
    ctx = FakeWorkflowContext()
    result = drive(sequential_workflow(ctx, {"topic": "Dapr"}), agent_answers)

    names = [(name, inp.get("step") or inp.get("status")) for name, inp in ctx.calls if name != "publish_article"]
    assert names == [("update_task", "in_progress"), ("run_agent_step", "research"),
                     ("run_agent_step", "write"), ("run_agent_step", "edit"), ("update_task", "completed")]
    steps = {inp["step"]: inp for name, inp in ctx.calls if name == "run_agent_step"}
    assert "Dapr" in steps["research"]["prompt"]
    assert "<research output>" in steps["write"]["prompt"]
    assert steps["edit"]["prompt"] == "<write output>"
    assert [a for a, _ in ctx.calls].index("publish_article") == 4
    assert result == {"topic": "Dapr", "final_article": "<edit output>", "word_count": 2}
    assert ctx.calls[-1][1]["result"] == result


def test_sequential_marks_task_failed_with_the_error_and_stops_when_a_step_fails():
    ctx = FakeWorkflowContext()

    def writer_fails(call):
        if call[1] == "run_agent_step" and call[2]["step"] == "write":
            return activity_failure("writer-agent/run answered 503")
        return agent_answers(call)

    with pytest.raises(Exception, match="503"):
        drive(sequential_workflow(ctx, {"topic": "Dapr"}), writer_fails)
    last_name, last_input = ctx.calls[-1]
    assert last_name == "update_task"
    assert last_input["status"] == "failed" and "503" in last_input["error"]
    assert not any(inp.get("step") == "edit" for _, inp in ctx.calls if isinstance(inp, dict))


def test_sequential_passes_each_agent_only_its_own_fault():
    ctx = FakeWorkflowContext()
    faults = {"writer-agent": {"delay_seconds": 1.0, "fail": False}}
    drive(sequential_workflow(ctx, {"topic": "Dapr", "faults": faults}), agent_answers)
    by_step = {inp["step"]: inp["fault"] for name, inp in ctx.calls if name == "run_agent_step"}
    assert by_step == {"research": None, "write": faults["writer-agent"], "edit": None}
