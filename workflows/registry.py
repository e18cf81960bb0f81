"""Every workflow and activity, registered from these explicit lists in one place."""

from dapr.ext.workflow import WorkflowRuntime

from .activities import (call_agent, cast_vote, publish_article, record_step, run_agent_step, update_node,
                         update_task)
from .consensus import consensus_workflow
from .hierarchical import content_manager, hierarchical_workflow, research_manager
from .parallel import parallel_workflow
from .sequential import sequential_workflow

WORKFLOWS = [sequential_workflow, parallel_workflow, consensus_workflow, hierarchical_workflow,
             research_manager, content_manager]
ACTIVITIES = [run_agent_step, call_agent, cast_vote, record_step, update_task, update_node, publish_article]


def build_runtime(logger_options=None) -> WorkflowRuntime:
    runtime = WorkflowRuntime(logger_options=logger_options)
    for workflow in WORKFLOWS:
        runtime.register_workflow(workflow)
    for activity in ACTIVITIES:
        runtime.register_activity(activity)
    return runtime
