"""Consensus pattern (voting / quorum): the same content to several differently-instructed
voters at once; their structured verdicts are tallied by majority or k-of-N quorum under a
deadline (rules in workflows/tally.py). If no voter answers at all (every one failed or
missed the deadline) the task fails, with the tally that says so."""

from typing import Literal

from dapr.ext.workflow import DaprWorkflowContext

from services.common.contracts import Vote

from .activities import cast_vote
from .approval import approval_gate
from .contracts import ConsensusInput, ConsensusResult, VoteCall
from .fanout import gather_until
from .lifecycle import Steps, TaskFailureError, note_arrival, run_task
from .policies import AGENT_CALL_RETRY
from .tally import tally

DEFAULT_DEADLINE_SECONDS = 60.0
Gate = Literal["result"]  # an approval gate may hold the tally before it is final
DEFAULT_LABELS = {
    "moderation": ["safe", "unsafe"],
    "classification": ["positive", "negative", "neutral"],
    "review": ["approve", "request_changes"],
}


def consensus_workflow(ctx: DaprWorkflowContext, request: ConsensusInput) -> Steps:
    return (yield from run_task(ctx, vote(ctx, request)))


def vote(ctx: DaprWorkflowContext, request: ConsensusInput) -> Steps:
    by_app = {m.app_id: m for m in request.team}
    tasks = {
        m.app_id: ctx.call_activity(cast_vote, retry_policy=AGENT_CALL_RETRY, input=VoteCall(
            task_id=ctx.instance_id, app_id=m.app_id, content=request.content, task=request.task,
            labels=request.labels, fault=request.fault_for(m.app_id)))
        for m in request.team
    }
    votes, failures, late = yield from gather_until(
        ctx, tasks, request.deadline_seconds,
        lambda app, reply, error: note_arrival(ctx, by_app[app], reply, error))
    missing = {v: f"failed: {e}" for v, e in failures.items()}
    missing.update(dict.fromkeys(late, f"no vote within the {request.deadline_seconds:g}s deadline"))
    counted = tally([Vote.model_validate(votes[m.app_id]) for m in request.team if m.app_id in votes],
                    missing, len(request.team), request.quorum)
    result = ConsensusResult(task=request.task, labels=request.labels, timed_out=bool(late),
                             **counted.model_dump())
    if not votes:
        raise TaskFailureError("no voter answered", result)
    yield from approval_gate(ctx, ctx.instance_id, request.approval, "result", result.model_dump(mode="json"))
    return result
