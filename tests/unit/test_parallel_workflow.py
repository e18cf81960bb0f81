from datetime import timedelta

import pytest

from services.common.registry import REGISTRY
from tests.unit.workflow_engine import FakeContext, run
from workflows.contracts import ParallelInput, Source
from workflows.lifecycle import TaskFailureError
from workflows.parallel import aggregate, parallel_workflow, summarize

TEAM = REGISTRY.members("parallel")
RESEARCHERS = [m.app_id for m in TEAM]
REQUEST = {"query": "q", "deadline_seconds": 30, "team": [m.model_dump() for m in TEAM]}


def reply(agent: str) -> dict:
    return {"agent": agent, "role": "r", "output": f"- finding from {agent}\nmore", "model": "m",
            "elapsed_seconds": 0.1, "usage": {"prompt_tokens": 1}}


def test_all_four_agents_answer_in_any_order_and_sources_keep_the_lesson_names_in_a_stable_order():
    ctx = FakeContext()
    order = list(reversed(RESEARCHERS))
    result = run(parallel_workflow, ctx, REQUEST, [(a, reply(a)) for a in order])
    assert [(s.agent, s.app_id) for s in result.sources] == [
        ("web", "web-researcher"), ("academic", "academic-researcher"), ("news", "news-researcher"),
        ("social", "social-researcher")]
    assert result.completed_agents == 4 and result.timed_out is False
    assert result.failed_agents == [] and result.late_agents == []
    assert set(ctx.inputs) == set(RESEARCHERS)  # all dispatched before any answer
    recorded = [note.name for name, note in ctx.bookkeeping if name == "record_step"]
    assert recorded == order
    assert ctx.statuses() == ["in_progress", "completed"]


def test_deadline_ends_the_wait_with_partial_results_flagged():
    ctx = FakeContext()
    events = [("web-researcher", reply("web-researcher")), ("news-researcher", reply("news-researcher")),
              ("timer", None)]
    result = run(parallel_workflow, ctx, {**REQUEST, "deadline_seconds": 8}, events)
    assert result.timed_out is True and result.completed_agents == 2
    assert result.late_agents == ["academic", "social"]
    fire_at, _ = ctx.timers[0]
    assert fire_at == ctx.current_utc_datetime + timedelta(seconds=8)
    assert ctx.final_status().status == "completed"


def test_a_failed_agent_gives_a_partial_result_not_a_failed_task():
    ctx = FakeContext()
    events = [(a, reply(a)) for a in RESEARCHERS[:3]] + [("social-researcher", RuntimeError("answered 503"))]
    result = run(parallel_workflow, ctx, REQUEST, events)
    assert result.completed_agents == 3 and result.timed_out is False
    assert [f.model_dump() for f in result.failed_agents] == [
        {"agent": "social", "app_id": "social-researcher", "error": "answered 503", "skipped": False}]
    assert ctx.final_status().status == "completed"
    (failure_step,) = [n for name, n in ctx.bookkeeping if name == "record_step" and "error" in n.result]
    assert failure_step.name == "social-researcher"


def test_no_answer_at_all_fails_the_task_and_the_instance_but_keeps_the_details():
    ctx = FakeContext()
    with pytest.raises(TaskFailureError, match="no research agent answered"):
        run(parallel_workflow, ctx, REQUEST, [("timer", None)])
    final = ctx.final_status()
    assert final.status == "failed" and final.error == "no research agent answered"
    assert final.result["completed_agents"] == 0 and final.result["timed_out"] is True


def test_a_fifth_researcher_in_the_team_is_dispatched_and_reported():
    ctx = FakeContext()
    team = [*REQUEST["team"], {"part": "patents", "app_id": "patent-researcher"}]
    apps = [*RESEARCHERS, "patent-researcher"]
    result = run(parallel_workflow, ctx, {**REQUEST, "team": team}, [(a, reply(a)) for a in apps])
    assert result.completed_agents == 5 and result.sources[-1].agent == "patents"


def test_an_open_circuit_breaker_is_reported_as_a_skipped_agent():
    request = ParallelInput.model_validate(REQUEST)
    result = aggregate(request, {}, {"web-researcher": "skipped: Baton circuit breaker is open for web-researcher"}, [])
    assert result.failed_agents[0].skipped is True and result.failed_agents[0].agent == "web"


def test_summary_takes_the_first_meaningful_line_of_each_source():
    sources = [Source(agent="web", app_id="web-researcher", data="\n  * First point\nSecond"),
               Source(agent="x", app_id="x", data="Only")]
    assert summarize(sources) == "web: First point\nx: Only"
    assert summarize([]) == "No research agent answered."
