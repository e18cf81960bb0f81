"""Sequential pattern (chain of responsibility): research -> write -> edit -> publish.

Each step's output is the next step's input; each completed step is recorded in the
task document. Any failure ends the task as `failed` with the error."""

from typing import Literal

from dapr.ext.workflow import DaprWorkflowContext
from dapr.ext.workflow._durabletask.task import Task

from services.common.contracts import AgentReply

from .activities import call_agent, publish_article
from .approval import approval_gate
from .contracts import AgentCall, Article, PublishedArticle, SequentialInput, SequentialResult
from .lifecycle import Steps, run_task
from .policies import AGENT_CALL_RETRY

STEPS = ["research", "write", "edit", "publish"]  # the agent steps are the team's parts
# An approval gate may stop the task before any step after research.
Gate = Literal["write", "edit", "publish"]


def sequential_workflow(ctx: DaprWorkflowContext, request: SequentialInput) -> Steps:
    return (yield from run_task(ctx, pipeline(ctx, request)))


def pipeline(ctx: DaprWorkflowContext, request: SequentialInput) -> Steps:
    def agent_step(step: str, prompt: str) -> Task[AgentReply]:
        app_id = request.app_for(step)
        call = AgentCall(task_id=ctx.instance_id, app_id=app_id, prompt=prompt, step=step,
                         fault=request.fault_for(app_id))
        return ctx.call_activity(call_agent, input=call, retry_policy=AGENT_CALL_RETRY)

    def gate(before: str, subject: dict[str, str]) -> Steps:
        return approval_gate(ctx, ctx.instance_id, request.approval, before, {"topic": topic, **subject})

    topic = request.topic
    notes = AgentReply.model_validate((yield agent_step("research", f"Topic: {topic}")))
    yield from gate("write", {"research_notes": notes.output})
    draft = AgentReply.model_validate((yield agent_step("write", f"Topic: {topic}\n\nResearch notes:\n{notes.output}")))
    yield from gate("edit", {"draft": draft.output})
    edited = AgentReply.model_validate((yield agent_step("edit", draft.output)))
    yield from gate("publish", {"article": edited.output})
    published = PublishedArticle.model_validate((yield ctx.call_activity(
        publish_article, input=Article(task_id=ctx.instance_id, topic=topic, text=edited.output),
        retry_policy=AGENT_CALL_RETRY)))
    return SequentialResult(topic=topic, final_article=edited.output, word_count=published.word_count)
