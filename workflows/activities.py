"""Activities: all I/O happens here, never in workflow code. Each takes one model from
workflows/contracts.py and is registered under an explicit name in workflows/runtime.py.

Every step of a task is written by `_save_step` (one store method, TaskStore.add_step):
by the activity that produced it (an agent call given a `step`, publishing) or, for what
only the workflow knows (a fan-out arrival, a branch that failed), by `record_step`."""

import logging
import time
from typing import Any

from dapr.ext.workflow import WorkflowActivityContext
from dapr.ext.workflow._durabletask.task import NonRetryableError
from opentelemetry.trace import SpanKind

from services.common import sidecar
from services.common.breakers import BreakerOpenError, refused_by_dapr_breaker
from services.common.contracts import (
    AgentReply,
    AgentRequest,
    Decision,
    StepRecord,
    Vote,
    VoteRequest,
    utc_now,
)
from services.common.metrics import metrics
from services.common.tasks import BudgetExhaustedError, TaskAlreadyEndedError
from services.common.telemetry import task_span

from . import runtime_deps as deps
from .contracts import (
    AgentCall,
    ApprovalNote,
    Article,
    DecisionNote,
    PublishedArticle,
    StatusNote,
    StepNote,
    TreeNodeNote,
    VoteCall,
)
from .tracing import traced

log = logging.getLogger(__name__)


SKIPPED = "skipped:"  # how a failure message says the call was never made


def _allowance(task_id: str, call: str) -> int | None:
    """The tokens left in the task's budget (None: no budget), read before every agent call. A
    call that would start after the task ended (cancelled) or past its budget is never made:
    a NonRetryableError, so the workflow does not retry it either."""
    try:
        return deps.stores().tasks.allowance(task_id, call)
    except TaskAlreadyEndedError as err:
        raise NonRetryableError(f"{SKIPPED} task {task_id} is {err.status}: no further agent calls") from err
    except BudgetExhaustedError as err:
        log.warning("%s %s: %s not called", SKIPPED, err, call)
        raise NonRetryableError(f"{SKIPPED} {err}") from err


def _invoke(task_id: str, app_id: str, method: str, request: AgentRequest | VoteRequest,
            call: str | None = None) -> dict[str, Any]:
    """Call an agent through the sidecar, guarded by Baton's breaker for that agent, and
    feed the breaker the outcome. A 4xx says our request was wrong, not that the agent is
    unwell, so it is not counted. `call` names the call if it is skipped for the budget.

    An open breaker (Baton's, or Dapr's in the caller's sidecar) refuses at once with a
    NonRetryableError: the workflow does not retry a call a breaker refused, and the
    message carries the breaker's cause, the last real error."""
    left = _allowance(task_id, call or app_id)
    if isinstance(request, VoteRequest):
        request = request.model_copy(update={"budget_tokens_left": left})
    body = request.model_dump(exclude_none=True)
    breakers = deps.stores().breakers
    try:
        seen = breakers.before_call(app_id)
    except BreakerOpenError as err:
        metrics().agent_call(app_id, method, 0.0, "breaker_open")
        log.warning("%s %s", SKIPPED, err)
        raise NonRetryableError(f"{SKIPPED} {err}") from err
    log.info("calling %s/%s", app_id, method)
    started = time.monotonic()
    # The agent's latency as the caller sees it: a client span (an Application Insights
    # dependency) named by the agent, the parent of the sidecar call and all that follows.
    with task_span(f"invoke {app_id}/{method}", task_id, method, kind=SpanKind.CLIENT, agent=app_id) as span:
        try:
            reply = sidecar.invoke(app_id, method, body, timeout=deps.settings().agent_call_timeout_seconds)
        except sidecar.AgentCallError as err:
            metrics().agent_call(app_id, method, time.monotonic() - started, _error_kind(err))
            span.set_attribute("http.response.status_code", err.status or 0)
            if err.status is None or err.status >= 500:
                breakers.record(app_id, str(err), seen)
            if refused_by_dapr_breaker(str(err)):
                cause = breakers.get(app_id).last_error or str(err)
                message = (f"{SKIPPED} the Dapr circuit breaker for {app_id} (caller's sidecar) is open; "
                           f"last error: {cause}")
                log.warning("%s", message)
                raise NonRetryableError(message) from err
            raise
    metrics().agent_call(app_id, method, time.monotonic() - started, None)
    breakers.record(app_id, None, seen)
    return reply


def _error_kind(err: sidecar.AgentCallError) -> str:
    """A failed agent call's kind, few enough to be a metric label."""
    if refused_by_dapr_breaker(str(err)):
        return "breaker_open"
    if err.status is None:
        return "timeout" if "Timeout" in str(err) else "unreachable"
    return f"{err.status // 100}xx"


def _save_step(task_id: str, step: StepRecord) -> None:
    deps.stores().tasks.add_step(task_id, step)


@traced
def call_agent(ctx: WorkflowActivityContext, call: AgentCall) -> AgentReply:
    """Call one agent through its sidecar; with `call.step`, record the reply as that step."""
    request = AgentRequest(task_id=call.task_id, input=call.prompt, fault=call.fault)
    what = f"{call.step} ({call.app_id})" if call.step else call.app_id
    reply = AgentReply.model_validate(_invoke(call.task_id, call.app_id, "run", request, what))
    if call.step:
        _save_step(call.task_id, StepRecord.of_reply(call.step, reply))
        log.info("step %s: done (%d completion tokens)", call.step, reply.usage.completion_tokens)
    return reply


@traced
def cast_vote(ctx: WorkflowActivityContext, call: VoteCall) -> Vote:
    request = VoteRequest(task_id=call.task_id, content=call.content, task=call.task,
                          labels=call.labels, fault=call.fault)
    return Vote.model_validate(_invoke(call.task_id, call.app_id, "vote", request))


@traced
def record_step(ctx: WorkflowActivityContext, note: StepNote) -> None:
    _save_step(note.task_id, StepRecord(name=note.name, completed_at=utc_now(), result=note.result,
                                        agent=note.agent, usage=note.usage, call_id=note.call_id))


@traced
def record_tree_node(ctx: WorkflowActivityContext, note: TreeNodeNote) -> None:
    """Hierarchical tasks: merge fields into one node of the task's tree."""
    fields = {**note.fields, "updated_at": utc_now()}
    usage = (note.agent, note.usage) if note.agent and note.usage else None
    deps.stores().tasks.merge_tree_node(note.task_id, note.path, fields, usage=usage, call_id=note.call_id,
                                        model=note.model)


@traced
def record_status(ctx: WorkflowActivityContext, note: StatusNote) -> None:
    deps.stores().tasks.save_status(note.task_id, note.status, result=note.result, error=note.error)
    log.info("task %s", note.status)


@traced
def publish_article(ctx: WorkflowActivityContext, article: Article) -> PublishedArticle:
    """Store the article through the artifacts binding and announce ContentPublished.
    Both are keyed by the task id, so a retried activity has its effect once."""
    s = deps.settings()
    published = PublishedArticle(task_id=article.task_id, topic=article.topic, artifact=f"{article.task_id}.md",
                                 word_count=len(article.text.split()))
    sidecar.write_artifact(s.artifacts_binding, published.artifact, article.text)
    sidecar.publish(s.pubsub, "content-published", published.model_dump(),
                    event_id=f"content-published-{article.task_id}", event_type="ContentPublished",
                    ttl_seconds=s.message_ttl_seconds)
    _save_step(article.task_id, StepRecord(
        name="publish", completed_at=utc_now(),
        result={"artifact": published.artifact, "event": "ContentPublished", "word_count": published.word_count},
    ))
    log.info("published %s (%d words)", published.artifact, published.word_count)
    return published


@traced
def request_approval(ctx: WorkflowActivityContext, note: ApprovalNote) -> None:
    deps.stores().approvals.request(note.task_id, note.gate, note.subject, note.requested_at, note.deadline)
    log.info("awaiting approval before %s (until %s)", note.gate.before, note.deadline)


@traced
def apply_decision(ctx: WorkflowActivityContext, note: DecisionNote) -> Decision:
    """The decision that stands (a person's stored first wins over a timeout's)."""
    standing = deps.stores().approvals.apply(note.task_id, note.decision)
    log.info("approval: %s by %s%s", standing.verdict, standing.by, " (timeout)" if standing.timed_out else "")
    return standing
