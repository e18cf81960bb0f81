"""Parallel pattern (fan-out / fan-in): the same query to four research agents at once,
combined when all have answered or when the deadline passes, whichever comes first.
A failed or late agent leaves a partial result that says so; it never fails the task."""

from dapr.ext.workflow import DaprWorkflowContext

from .activities import call_agent
from .bookkeeping import record_arrival, set_status
from .fanout import gather_until
from .policies import AGENT_CALL_RETRY

RESEARCHERS = ["web-researcher", "academic-researcher", "news-researcher", "social-researcher"]
DEFAULT_DEADLINE_SECONDS = 30.0


def summarize(sources: list[dict]) -> str:
    """Extractive and model-free, so it adds nothing to the deadline: the first line of
    each source that answered."""
    lines = []
    for source in sources:
        first = next((ln.strip(" -*•\t") for ln in source["data"].splitlines() if ln.strip(" -*•\t")), "")
        lines.append(f"{source['agent']}: {first[:200]}")
    return "\n".join(lines) or "No research agent answered."


def aggregate(query: str, results: dict, failures: dict, late: list[str], deadline: float) -> dict:
    sources = [{"agent": a, "data": results[a]["output"]} for a in RESEARCHERS if a in results]
    return {
        "query": query,
        "sources": sources,
        "summary": summarize(sources),
        "completed_agents": len(sources),
        "timed_out": bool(late),
        "failed_agents": [
            # An open circuit breaker means the sidecar skipped the call altogether.
            {"agent": a, "error": failures[a], "skipped": "circuit breaker" in failures[a].lower()}
            for a in RESEARCHERS if a in failures
        ],
        "late_agents": late,
        "deadline_seconds": deadline,
    }


def parallel_workflow(ctx: DaprWorkflowContext, request: dict):
    query = request["query"]
    deadline = request.get("deadline_seconds") or DEFAULT_DEADLINE_SECONDS
    faults = request.get("faults") or {}
    yield set_status(ctx, "in_progress")
    tasks = {
        agent: ctx.call_activity(
            call_agent, retry_policy=AGENT_CALL_RETRY,
            input={"task_id": ctx.instance_id, "step": agent, "app_id": agent,
                   "prompt": f"Query: {query}", "fault": faults.get(agent)})
        for agent in RESEARCHERS
    }
    results, failures, late = yield from gather_until(
        ctx, tasks, deadline, lambda name, reply, error: record_arrival(ctx, name, reply, error))
    result = aggregate(query, results, failures, late, deadline)
    if not results:
        yield set_status(ctx, "failed", result=result, error="no research agent answered")
        return result
    yield set_status(ctx, "completed", result=result)
    return result
