"""Activities shared by the patterns. All I/O happens here, never in workflow code."""

import logging

from dapr.ext.workflow import WorkflowActivityContext
from pydantic import BaseModel

from services.common import sidecar
from services.common.contracts import (AgentReply, AgentRequest, ConsensusTask, StepRecord, TaskStatus,
                                       Usage, Vote, VoteRequest, utc_now)
from services.common.faults import Fault
from services.common.logs import task_id_var

from . import runtime_deps as deps

log = logging.getLogger(__name__)


class AgentStep(BaseModel):
    task_id: str
    step: str
    app_id: str
    prompt: str
    fault: Fault | None = None


class VoteStep(BaseModel):
    task_id: str
    app_id: str
    content: str
    task: ConsensusTask
    labels: list[str]
    fault: Fault | None = None


class StepUpdate(BaseModel):
    task_id: str
    name: str
    result: dict
    agent: str | None = None
    usage: Usage | None = None


class NodeUpdate(BaseModel):
    task_id: str
    path: list[str]
    fields: dict
    agent: str | None = None
    usage: Usage | None = None


class TaskUpdate(BaseModel):
    task_id: str
    status: TaskStatus
    result: dict | None = None
    error: str | None = None


class Article(BaseModel):
    task_id: str
    topic: str
    text: str


def _invoke(task_id: str, app_id: str, method: str, body: dict) -> dict:
    task_id_var.set(task_id)
    log.info("calling %s/%s", app_id, method)
    return sidecar.invoke(app_id, method, body, timeout=deps.settings().agent_call_timeout_seconds)


def call_agent(ctx: WorkflowActivityContext, step: AgentStep) -> dict:
    """Call one agent through its sidecar; the workflow decides what to record."""
    request = AgentRequest(task_id=step.task_id, input=step.prompt, fault=step.fault)
    return AgentReply.model_validate(_invoke(step.task_id, step.app_id, "run",
                                             request.model_dump(exclude_none=True))).model_dump()


def run_agent_step(ctx: WorkflowActivityContext, step: AgentStep) -> dict:
    """Call one agent and record the completed step in the task (one activity per step)."""
    reply = AgentReply.model_validate(call_agent(ctx, step))
    deps.tasks().record_step(step.task_id, StepRecord(
        name=step.step, completed_at=utc_now(), agent=reply.agent, usage=reply.usage,
        result={"agent": reply.agent, "model": reply.model, "output": reply.output},
    ))
    log.info("step %s: done (%d completion tokens)", step.step, reply.usage.completion_tokens)
    return reply.model_dump()


def cast_vote(ctx: WorkflowActivityContext, step: VoteStep) -> dict:
    request = VoteRequest(task_id=step.task_id, content=step.content, task=step.task,
                          labels=step.labels, fault=step.fault)
    return Vote.model_validate(_invoke(step.task_id, step.app_id, "vote",
                                       request.model_dump(exclude_none=True))).model_dump()


def record_step(ctx: WorkflowActivityContext, update: StepUpdate) -> None:
    task_id_var.set(update.task_id)
    deps.tasks().record_step(update.task_id, StepRecord(
        name=update.name, completed_at=utc_now(), result=update.result, agent=update.agent, usage=update.usage))


def update_node(ctx: WorkflowActivityContext, update: NodeUpdate) -> None:
    """Hierarchical tasks: merge fields into one node of the task's tree."""
    task_id_var.set(update.task_id)
    fields = {**update.fields, "updated_at": utc_now()}
    usage = (update.agent, update.usage) if update.agent and update.usage else None
    deps.tasks().update_node(update.task_id, update.path, fields, usage=usage)


def update_task(ctx: WorkflowActivityContext, update: TaskUpdate) -> None:
    task_id_var.set(update.task_id)
    deps.tasks().set_status(update.task_id, update.status, result=update.result, error=update.error)
    log.info("task %s", update.status)


def publish_article(ctx: WorkflowActivityContext, article: Article) -> dict:
    """Store the article through the artifacts binding and announce ContentPublished.
    Both are keyed by the task id, so a retried activity has its effect once."""
    task_id_var.set(article.task_id)
    s = deps.settings()
    artifact = f"{article.task_id}.md"
    sidecar.write_artifact(s.artifacts_binding, artifact, article.text)
    word_count = len(article.text.split())
    event = {"task_id": article.task_id, "topic": article.topic, "artifact": artifact,
             "word_count": word_count}
    sidecar.publish(s.pubsub, "content-published", event, event_id=f"content-published-{article.task_id}",
                    event_type="ContentPublished", ttl_seconds=s.message_ttl_seconds)
    deps.tasks().record_step(article.task_id, StepRecord(
        name="publish", completed_at=utc_now(),
        result={"artifact": artifact, "event": "ContentPublished", "word_count": word_count},
    ))
    log.info("published %s (%d words)", artifact, word_count)
    return event
