"""Hierarchical pattern (manager-worker): a master workflow delegates to two manager child
workflows, each of which delegates to its workers.

  master ─┬─ research manager ─┬─ web-scraper      (in parallel)
          │                    └─ paper-analyser
          └─ content manager ──┬─ writer-agent     (then)
                               └─ editor-agent

A worker failure is its manager's problem: the call is retried, then the manager returns
a partial result flagged as such. The master fails only when a manager produces nothing.
Every node's status and result is kept in the task document's `tree`."""

from dapr.ext.workflow import DaprWorkflowContext, TaskFailedError

from .activities import call_agent
from .bookkeeping import set_node, set_status
from .fanout import failure_message, gather_until
from .policies import AGENT_CALL_RETRY

RESEARCH_WORKERS = ["web-scraper", "paper-analyser"]
CONTENT_WORKERS = ["writer-agent", "editor-agent"]
WORKER_DEADLINE_SECONDS = 300.0


def _work(ctx: DaprWorkflowContext, request: dict, worker: str, prompt: str):
    return ctx.call_activity(call_agent, retry_policy=AGENT_CALL_RETRY, input={
        "task_id": request["task_id"], "step": worker, "app_id": worker, "prompt": prompt,
        "fault": (request.get("faults") or {}).get(worker)})


def research_manager(ctx: DaprWorkflowContext, request: dict):
    task_id, here = request["task_id"], ["managers", "research"]
    yield set_node(ctx, task_id, here, status="in_progress", workers_assigned=RESEARCH_WORKERS)
    tasks = {w: _work(ctx, request, w, f"Goal: {request['goal']}") for w in RESEARCH_WORKERS}

    def on_arrival(worker, reply, error):
        outcome = {"status": "failed", "error": error} if error else {"status": "completed", "result": reply["output"]}
        return set_node(ctx, task_id, here + ["workers", worker], reply, **outcome)

    results, failures, late = yield from gather_until(ctx, tasks, WORKER_DEADLINE_SECONDS, on_arrival)
    failures.update({w: "no answer before the manager's deadline" for w in late})
    if not results:
        yield set_node(ctx, task_id, here, status="failed", error="no research worker produced anything")
        raise RuntimeError(f"research manager: every worker failed: {failures}")
    notes = "\n\n".join(results[w]["output"] for w in RESEARCH_WORKERS if w in results)
    outcome = {"notes": notes, "partial": bool(failures), "failed_workers": sorted(failures)}
    yield set_node(ctx, task_id, here, status="completed", **outcome)
    return outcome


def content_manager(ctx: DaprWorkflowContext, request: dict):
    task_id, here = request["task_id"], ["managers", "content"]
    yield set_node(ctx, task_id, here, status="in_progress", workers_assigned=CONTENT_WORKERS)
    prompt = f"Topic: {request['goal']}\n\nResearch notes:\n{request['notes']}"
    try:
        draft = yield _work(ctx, request, "writer-agent", prompt)
    except TaskFailedError as err:
        yield set_node(ctx, task_id, here + ["workers", "writer-agent"], status="failed", error=failure_message(err))
        yield set_node(ctx, task_id, here, status="failed", error="the writer produced nothing")
        raise
    yield set_node(ctx, task_id, here + ["workers", "writer-agent"], draft, status="completed", result=draft["output"])
    try:
        edited = yield _work(ctx, request, "editor-agent", draft["output"])
        yield set_node(ctx, task_id, here + ["workers", "editor-agent"], edited, status="completed",
                       result=edited["output"])
        outcome = {"article": edited["output"], "partial": False, "failed_workers": []}
    except TaskFailedError as err:
        # The unedited draft is still worth returning: a partial result, flagged.
        yield set_node(ctx, task_id, here + ["workers", "editor-agent"], status="failed", error=failure_message(err))
        outcome = {"article": draft["output"], "partial": True, "failed_workers": ["editor-agent"]}
    yield set_node(ctx, task_id, here, status="completed", **outcome)
    return outcome


def hierarchical_workflow(ctx: DaprWorkflowContext, request: dict):
    task_id = ctx.instance_id
    child = {"task_id": task_id, "goal": request["goal"], "faults": request.get("faults")}
    yield set_status(ctx, "in_progress")
    yield set_node(ctx, task_id, ["master"], status="in_progress")
    try:
        research = yield ctx.call_child_workflow(research_manager, input=child, instance_id=f"{task_id}-research")
        content = yield ctx.call_child_workflow(content_manager, input={**child, "notes": research["notes"]},
                                                instance_id=f"{task_id}-content")
    except TaskFailedError as err:
        yield set_node(ctx, task_id, ["master"], status="failed", error=failure_message(err))
        yield set_status(ctx, "failed", error=f"a manager produced nothing: {failure_message(err)}")
        raise
    result = {
        "goal": request["goal"],
        "article": content["article"],
        "research_notes": research["notes"],
        "partial": research["partial"] or content["partial"],
        "failed_workers": research["failed_workers"] + content["failed_workers"],
    }
    yield set_node(ctx, task_id, ["master"], status="completed", partial=result["partial"])
    yield set_status(ctx, "completed", result=result)
    return result
