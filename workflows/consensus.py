"""Consensus pattern (voting / quorum): the same content to several differently-instructed
voters at once; their structured verdicts are tallied by majority or k-of-N quorum under a
deadline (rules in workflows/tally.py)."""

from dapr.ext.workflow import DaprWorkflowContext

from .activities import cast_vote
from .bookkeeping import record_arrival, set_status
from .fanout import gather_until
from .policies import AGENT_CALL_RETRY
from .tally import tally

VOTERS = ["voter-strict", "voter-lenient", "voter-balanced"]
DEFAULT_DEADLINE_SECONDS = 60.0
DEFAULT_LABELS = {
    "moderation": ["safe", "unsafe"],
    "classification": ["positive", "negative", "neutral"],
    "review": ["approve", "request_changes"],
}


def consensus_workflow(ctx: DaprWorkflowContext, request: dict):
    voters = request.get("voters") or VOTERS
    deadline = request.get("deadline_seconds") or DEFAULT_DEADLINE_SECONDS
    faults = request.get("faults") or {}
    yield set_status(ctx, "in_progress")
    tasks = {
        voter: ctx.call_activity(
            cast_vote, retry_policy=AGENT_CALL_RETRY,
            input={"task_id": ctx.instance_id, "app_id": voter, "content": request["content"],
                   "task": request["task"], "labels": request["labels"], "fault": faults.get(voter)})
        for voter in voters
    }
    votes, failures, late = yield from gather_until(
        ctx, tasks, deadline, lambda name, vote, error: record_arrival(ctx, name, vote, error))
    missing = {v: f"failed: {e}" for v, e in failures.items()}
    missing.update({v: f"no vote within the {deadline:g}s deadline" for v in late})
    result = {
        "task": request["task"],
        "labels": request["labels"],
        **tally([votes[v] for v in voters if v in votes], missing, len(voters), request.get("quorum")),
        "timed_out": bool(late),
    }
    yield set_status(ctx, "completed", result=result)
    return result
