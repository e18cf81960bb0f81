"""Parallel pattern (fan-out / fan-in): the same query to every research agent at once,
combined when all have answered or when the deadline passes, whichever comes first.
A failed or late agent leaves a partial result that says so; only if no agent answered
at all does the task fail."""

from typing import Any, Literal

from dapr.ext.workflow import DaprWorkflowContext

from .activities import SKIPPED, call_agent
from .approval import approval_gate
from .contracts import AgentCall, FailedAgent, ParallelInput, ParallelResult, Source
from .fanout import gather_until
from .lifecycle import Steps, TaskFailureError, note_arrival, run_task
from .policies import AGENT_CALL_RETRY

DEFAULT_DEADLINE_SECONDS = 30.0
Gate = Literal["result"]  # an approval gate may hold the combined result before it is final


def summarize(sources: list[Source]) -> str:
    """Extractive and model-free, so it adds nothing to the deadline: the first line of
    each source that answered."""
    lines = []
    for source in sources:
        first = next((ln.strip(" -*•\t") for ln in source.data.splitlines() if ln.strip(" -*•\t")), "")
        lines.append(f"{source.agent}: {first[:200]}")
    return "\n".join(lines) or "No research agent answered."


def aggregate(request: ParallelInput, results: dict[str, Any], failures: dict[str, str],
              late: list[str]) -> ParallelResult:
    """Sources in team order, named as the lesson names them (web, academic, ...)."""
    sources = [Source(agent=m.part, app_id=m.app_id, data=results[m.app_id]["output"])
               for m in request.team if m.app_id in results]
    return ParallelResult(
        query=request.query,
        sources=sources,
        summary=summarize(sources),
        completed_agents=len(sources),
        timed_out=bool(late),
        failed_agents=[
            # A call an open breaker or the used-up budget refused was never made (workflows/activities.py).
            FailedAgent(agent=m.part, app_id=m.app_id, error=failures[m.app_id],
                        skipped=failures[m.app_id].startswith(SKIPPED))
            for m in request.team if m.app_id in failures
        ],
        late_agents=[m.part for m in request.team if m.app_id in late],
        deadline_seconds=request.deadline_seconds,
    )


def parallel_workflow(ctx: DaprWorkflowContext, request: ParallelInput) -> Steps:
    return (yield from run_task(ctx, fan_out(ctx, request)))


def fan_out(ctx: DaprWorkflowContext, request: ParallelInput) -> Steps:
    by_app = {m.app_id: m for m in request.team}
    tasks = {
        m.app_id: ctx.call_activity(call_agent, retry_policy=AGENT_CALL_RETRY, input=AgentCall(
            task_id=ctx.instance_id, app_id=m.app_id, prompt=f"Query: {request.query}",
            fault=request.fault_for(m.app_id)))
        for m in request.team
    }
    results, failures, late = yield from gather_until(
        ctx, tasks, request.deadline_seconds, lambda app, reply, error: note_arrival(ctx, by_app[app], reply, error))
    result = aggregate(request, results, failures, late)
    if not results:
        raise TaskFailureError("no research agent answered", result)
    yield from approval_gate(ctx, ctx.instance_id, request.approval, "result", result.model_dump(mode="json"))
    return result
