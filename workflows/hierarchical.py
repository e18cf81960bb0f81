"""Hierarchical pattern (manager-worker): a master workflow delegates to two manager child
workflows, each of which delegates to its workers.

  master ─┬─ research manager ─┬─ web-scraper      (in parallel)
          │                    └─ paper-analyser
          └─ content manager ──┬─ writer-agent     (then)
                               └─ editor-agent

A worker failure is its manager's problem: the call is retried, then the manager returns
a partial result flagged as such. The master fails only when a manager produces nothing.
Every node's status and result is kept in the task document's `tree`."""

from typing import Any, Literal

from dapr.ext.workflow import DaprWorkflowContext, TaskFailedError
from dapr.ext.workflow._durabletask.task import Task

from services.common.contracts import AgentReply

from .activities import call_agent
from .approval import approval_gate
from .contracts import AgentCall, ContentOutcome, HierarchicalInput, HierarchicalResult, ManagerInput, ResearchOutcome
from .fanout import gather_until
from .lifecycle import Steps, TaskFailureError, TaskRejectedError, failure_message, note_tree_node, run_task
from .policies import AGENT_CALL_RETRY

WORKER_DEADLINE_SECONDS = 300.0
Gate = Literal["content"]  # an approval gate may stop the task before the content manager


def _work(ctx: DaprWorkflowContext, request: ManagerInput, app_id: str, prompt: str) -> Task[AgentReply]:
    call = AgentCall(task_id=request.task_id, app_id=app_id, prompt=prompt, fault=request.faults.get(app_id))
    return ctx.call_activity(call_agent, retry_policy=AGENT_CALL_RETRY, input=call)


def research_manager(ctx: DaprWorkflowContext, request: ManagerInput) -> Steps:
    task_id, here = request.task_id, ["managers", "research"]
    workers = [m.app_id for m in request.workers]
    yield note_tree_node(ctx, task_id, here, status="in_progress", workers_assigned=workers)
    tasks = {w: _work(ctx, request, w, f"Goal: {request.goal}") for w in workers}

    def on_arrival(worker: str, reply: dict[str, Any] | None, error: str | None) -> Task[Any]:
        outcome = ({"status": "failed", "error": error} if error is not None
                   else {"status": "completed", "result": (reply or {}).get("output")})
        return note_tree_node(ctx, task_id, [*here, "workers", worker], reply, **outcome)

    results, failures, late = yield from gather_until(ctx, tasks, WORKER_DEADLINE_SECONDS, on_arrival)
    failures.update(dict.fromkeys(late, "no answer before the manager's deadline"))
    if not results:
        yield note_tree_node(ctx, task_id, here, status="failed", error="no research worker produced anything")
        raise TaskFailureError(f"research manager: every worker failed: {failures}")
    notes = "\n\n".join(AgentReply.model_validate(results[w]).output for w in workers if w in results)
    outcome = ResearchOutcome(notes=notes, partial=bool(failures), failed_workers=sorted(failures))
    yield note_tree_node(ctx, task_id, here, status="completed", **outcome.model_dump())
    return outcome


def content_manager(ctx: DaprWorkflowContext, request: ManagerInput) -> Steps:
    task_id, here = request.task_id, ["managers", "content"]
    writer, editor = (next(m.app_id for m in request.workers if m.part == part) for part in ("write", "edit"))
    yield note_tree_node(ctx, task_id, here, status="in_progress", workers_assigned=[writer, editor])
    prompt = f"Topic: {request.goal}\n\nResearch notes:\n{request.notes}"
    try:
        draft_reply = yield _work(ctx, request, writer, prompt)
    except TaskFailedError as err:
        yield note_tree_node(ctx, task_id, [*here, "workers", writer], status="failed", error=failure_message(err))
        yield note_tree_node(ctx, task_id, here, status="failed", error="the writer produced nothing")
        raise
    draft = AgentReply.model_validate(draft_reply)
    yield note_tree_node(ctx, task_id, [*here, "workers", writer], draft_reply, status="completed",
                         result=draft.output)
    try:
        edited_reply = yield _work(ctx, request, editor, draft.output)
        edited = AgentReply.model_validate(edited_reply)
        yield note_tree_node(ctx, task_id, [*here, "workers", editor], edited_reply, status="completed",
                             result=edited.output)
        outcome = ContentOutcome(article=edited.output, partial=False, failed_workers=[])
    except TaskFailedError as err:
        # The unedited draft is still worth returning: a partial result, flagged.
        yield note_tree_node(ctx, task_id, [*here, "workers", editor], status="failed", error=failure_message(err))
        outcome = ContentOutcome(article=draft.output, partial=True, failed_workers=[editor])
    yield note_tree_node(ctx, task_id, here, status="completed", **outcome.model_dump())
    return outcome


def hierarchical_workflow(ctx: DaprWorkflowContext, request: HierarchicalInput) -> Steps:
    return (yield from run_task(ctx, delegate(ctx, request)))


def delegate(ctx: DaprWorkflowContext, request: HierarchicalInput) -> Steps:
    task_id = ctx.instance_id
    yield note_tree_node(ctx, task_id, ["master"], status="in_progress")
    research_team = [m for m in request.team if m.part == "research"]
    content_team = [m for m in request.team if m.part in ("write", "edit")]
    try:
        research = ResearchOutcome.model_validate((yield ctx.call_child_workflow(
            research_manager, instance_id=f"{task_id}-research",
            input=ManagerInput(task_id=task_id, goal=request.goal, workers=research_team, faults=request.faults))))
        try:
            yield from approval_gate(ctx, task_id, request.approval, "content", research.model_dump(mode="json"))
        except TaskRejectedError:
            yield note_tree_node(ctx, task_id, ["master"], status="rejected")
            raise
        content = ContentOutcome.model_validate((yield ctx.call_child_workflow(
            content_manager, instance_id=f"{task_id}-content",
            input=ManagerInput(task_id=task_id, goal=request.goal, workers=content_team, faults=request.faults,
                               notes=research.notes))))
    except TaskFailedError as err:
        yield note_tree_node(ctx, task_id, ["master"], status="failed", error=failure_message(err))
        raise TaskFailureError(f"a manager produced nothing: {failure_message(err)}") from err
    result = HierarchicalResult(goal=request.goal, article=content.article, research_notes=research.notes,
                                partial=research.partial or content.partial,
                                failed_workers=research.failed_workers + content.failed_workers)
    yield note_tree_node(ctx, task_id, ["master"], status="completed", partial=result.partial)
    return result
