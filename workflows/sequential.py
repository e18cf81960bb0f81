"""Sequential pattern (chain of responsibility): research -> write -> edit -> publish.

Each step's output is the next step's input; each completed step is recorded in the
task document. Any failure ends the task as `failed` with the error."""

from dapr.ext.workflow import DaprWorkflowContext, TaskFailedError

from .activities import publish_article, run_agent_step
from .bookkeeping import set_status
from .policies import AGENT_CALL_RETRY

STEPS = ["research", "write", "edit", "publish"]
AGENTS = {"research": "research-agent", "write": "writer-agent", "edit": "editor-agent"}


def sequential_workflow(ctx: DaprWorkflowContext, request: dict):
    task_id = ctx.instance_id
    topic = request["topic"]
    faults = request.get("faults") or {}

    def agent_step(step: str, prompt: str):
        app_id = AGENTS[step]
        return ctx.call_activity(
            run_agent_step,
            input={"task_id": task_id, "step": step, "app_id": app_id, "prompt": prompt,
                   "fault": faults.get(app_id)},
            retry_policy=AGENT_CALL_RETRY,
        )

    try:
        yield set_status(ctx, "in_progress")
        notes = yield agent_step("research", f"Topic: {topic}")
        draft = yield agent_step("write", f"Topic: {topic}\n\nResearch notes:\n{notes['output']}")
        edited = yield agent_step("edit", draft["output"])
        article = edited["output"]
        published = yield ctx.call_activity(
            publish_article, input={"task_id": task_id, "topic": topic, "text": article},
            retry_policy=AGENT_CALL_RETRY,
        )
        result = {"topic": topic, "final_article": article, "word_count": published["word_count"]}
        yield set_status(ctx, "completed", result=result)
        return result
    except TaskFailedError as err:
        yield set_status(ctx, "failed", error=str(err))
        raise
