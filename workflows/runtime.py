"""Every workflow and activity, registered under an explicit, stable name in one place.

The name is what the workflow history stores: renaming a Python function changes
nothing, renaming an entry here orphans running instances (see the README, "Changing a
workflow safely")."""

from collections.abc import Callable
from typing import Any

from dapr.ext.workflow import WorkflowRuntime
from dapr.ext.workflow.logger import LoggerOptions

from services.common.settings import Settings
from services.common.stores import Stores

from . import runtime_deps
from .activities import (
    apply_decision,
    call_agent,
    cast_vote,
    publish_article,
    record_status,
    record_step,
    record_tree_node,
    request_approval,
)
from .consensus import consensus_workflow
from .hierarchical import content_manager, hierarchical_workflow, research_manager
from .parallel import parallel_workflow
from .sequential import sequential_workflow

# Threads kept for workflow turns (quick, no I/O) beyond the activities' own: however many
# activities wait on agents, workflows keep moving and new ones start.
THREADS_FOR_TURNS = 8

WORKFLOWS: dict[str, Callable[..., Any]] = {
    "sequential": sequential_workflow,
    "parallel": parallel_workflow,
    "consensus": consensus_workflow,
    "hierarchical": hierarchical_workflow,
    "hierarchical.research_manager": research_manager,
    "hierarchical.content_manager": content_manager,
}
ACTIVITIES: dict[str, Callable[..., Any]] = {
    "call_agent": call_agent,
    "cast_vote": cast_vote,
    "publish_article": publish_article,
    "record_step": record_step,
    "record_tree_node": record_tree_node,
    "record_status": record_status,
    "request_approval": request_approval,
    "apply_decision": apply_decision,
}


def build_runtime(settings: Settings, stores: Stores, logger_options: LoggerOptions | None = None) -> WorkflowRuntime:
    """The process's workflow runtime; its activities use this process's stores."""
    runtime_deps.install(settings, stores)
    runtime = WorkflowRuntime(logger_options=logger_options,
                              maximum_concurrent_activity_work_items=settings.workflow_activity_concurrency,
                              maximum_thread_pool_workers=settings.workflow_activity_concurrency + THREADS_FOR_TURNS)
    for name, workflow in WORKFLOWS.items():
        runtime.register_workflow(workflow, name=name)
    for name, activity in ACTIVITIES.items():
        runtime.register_activity(activity, name=name)
    return runtime
