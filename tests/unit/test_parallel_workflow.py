from datetime import timedelta

from tests.unit.fanout_engine import FanoutContext, run
from workflows.parallel import RESEARCHERS, aggregate, parallel_workflow, summarize


def reply(agent: str) -> dict:
    return {"agent": agent, "output": f"- finding from {agent}\nmore", "usage": {"prompt_tokens": 1}}


def test_all_four_agents_answer_in_any_order_and_sources_keep_a_stable_order():
    ctx = FanoutContext()
    order = list(reversed(RESEARCHERS))
    result = run(parallel_workflow(ctx, {"query": "q"}), ctx, [(a, reply(a)) for a in order])
    assert [s["agent"] for s in result["sources"]] == RESEARCHERS
    assert result["completed_agents"] == 4 and result["timed_out"] is False
    assert result["failed_agents"] == [] and result["late_agents"] == []
    assert set(ctx.inputs) == set(RESEARCHERS)  # all dispatched before any answer
    recorded = [inp["name"] for name, inp in ctx.bookkeeping if name == "record_step"]
    assert recorded == order
    assert ctx.bookkeeping[-1][1]["status"] == "completed"


def test_deadline_ends_the_wait_with_partial_results_flagged():
    ctx = FanoutContext()
    events = [("web-researcher", reply("web-researcher")), ("news-researcher", reply("news-researcher")),
              ("timer", None)]
    result = run(parallel_workflow(ctx, {"query": "q", "deadline_seconds": 8}), ctx, events)
    assert result["timed_out"] is True and result["completed_agents"] == 2
    assert result["late_agents"] == ["academic-researcher", "social-researcher"]
    fire_at, _ = ctx.timers[0]
    assert fire_at == ctx.current_utc_datetime + timedelta(seconds=8)
    assert ctx.bookkeeping[-1][1]["status"] == "completed"


def test_a_failed_agent_gives_a_partial_result_not_a_failed_task():
    ctx = FanoutContext()
    events = [(a, reply(a)) for a in RESEARCHERS[:3]] + [("social-researcher", RuntimeError("answered 503"))]
    result = run(parallel_workflow(ctx, {"query": "q"}), ctx, events)
    assert result["completed_agents"] == 3 and result["timed_out"] is False
    assert result["failed_agents"] == [{"agent": "social-researcher", "error": "answered 503", "skipped": False}]
    assert ctx.bookkeeping[-1][1]["status"] == "completed"
    (failure_step,) = [inp for name, inp in ctx.bookkeeping if name == "record_step" and "error" in inp["result"]]
    assert failure_step["name"] == "social-researcher"


def test_no_answer_at_all_fails_the_task_but_keeps_the_details():
    ctx = FanoutContext()
    result = run(parallel_workflow(ctx, {"query": "q"}), ctx, [("timer", None)])
    assert result["completed_agents"] == 0 and result["timed_out"] is True
    final = ctx.bookkeeping[-1][1]
    assert final["status"] == "failed" and final["result"] == result


def test_an_open_circuit_breaker_is_reported_as_a_skipped_agent():
    result = aggregate("q", {}, {"web-researcher": "ERR_DIRECT_INVOKE: circuit breaker is open"}, [], 30)
    assert result["failed_agents"][0]["skipped"] is True


def test_summary_takes_the_first_meaningful_line_of_each_source():
    sources = [{"agent": "web-researcher", "data": "\n  * First point\nSecond"}, {"agent": "x", "data": "Only"}]
    assert summarize(sources) == "web-researcher: First point\nx: Only"
    assert summarize([]) == "No research agent answered."
