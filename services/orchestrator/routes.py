"""Starting patterns and reading tasks."""

import logging
import uuid
from datetime import datetime, timezone
from typing import Annotated

from dapr.ext.workflow import WorkflowStatus
from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel

from services.common.contracts import TERMINAL_STATUSES, TaskDocument
from services.common.faults import require_fault_injection
from services.common.logs import task_id_var
from services.common.settings import get_settings
from workflows.consensus import VOTERS, consensus_workflow
from workflows.hierarchical import CONTENT_WORKERS, RESEARCH_WORKERS, hierarchical_workflow
from workflows.parallel import RESEARCHERS, parallel_workflow
from workflows.sequential import STEPS, sequential_workflow

from .deps import Tasks, Workflows
from .requests import ConsensusRequest, ContentRequest, DelegateRequest, ResearchRequest

log = logging.getLogger(__name__)
router = APIRouter()
TaskId = Annotated[str, Path(min_length=1, max_length=100)]


class Started(BaseModel):
    task_id: str
    status: str = "started"
    workflow: str
    message: str


class ContentStarted(Started):
    steps: list[str]


class ResearchStarted(Started):
    agents_dispatched: int
    deadline_seconds: float


class ConsensusStarted(Started):
    voters: list[str]
    labels: list[str]
    quorum: int | None


class DelegateStarted(Started):
    managers: dict[str, list[str]]


def start_task(tasks: Tasks, workflows: Workflows, workflow, name: str, body: BaseModel) -> str:
    """Create the task document, then schedule its workflow under the same id."""
    task_input = body.model_dump(mode="json", exclude_none=True)
    require_fault_injection(task_input.get("faults"), get_settings())
    task_id = str(uuid.uuid4())
    task_id_var.set(task_id)
    tasks.create(task_id, name, task_input)
    try:
        workflows.schedule_new_workflow(workflow, input=task_input, instance_id=task_id)
    except Exception as err:
        log.exception("could not schedule the %s workflow", name)
        tasks.set_status(task_id, "failed", error=f"could not start workflow: {err}")
        raise HTTPException(503, f"workflow engine unavailable: {err}") from err
    log.info("started %s workflow", name)
    return task_id


@router.post("/create-content", status_code=202, response_model=ContentStarted)
def create_content(body: ContentRequest, tasks: Tasks, workflows: Workflows) -> ContentStarted:
    """Sequential pattern: research -> write -> edit -> publish."""
    task_id = start_task(tasks, workflows, sequential_workflow, "sequential", body)
    return ContentStarted(task_id=task_id, workflow="sequential", steps=STEPS,
                          message="Content creation pipeline initiated")


@router.post("/research-parallel", status_code=202, response_model=ResearchStarted)
def research_parallel(body: ResearchRequest, tasks: Tasks, workflows: Workflows) -> ResearchStarted:
    """Parallel pattern: four research agents at once, combined at the deadline at the latest."""
    task_id = start_task(tasks, workflows, parallel_workflow, "parallel", body)
    return ResearchStarted(task_id=task_id, workflow="parallel", agents_dispatched=len(RESEARCHERS),
                           deadline_seconds=body.deadline_seconds,
                           message="Parallel research dispatched")


@router.post("/consensus", status_code=202, response_model=ConsensusStarted)
def consensus(body: ConsensusRequest, tasks: Tasks, workflows: Workflows) -> ConsensusStarted:
    """Consensus pattern: several voters judge the same content; majority or k-of-N quorum."""
    task_id = start_task(tasks, workflows, consensus_workflow, "consensus", body)
    return ConsensusStarted(task_id=task_id, workflow="consensus", voters=body.voters or VOTERS,
                            labels=body.labels, quorum=body.quorum, message="Voting started")


@router.post("/delegate", status_code=202, response_model=DelegateStarted)
def delegate(body: DelegateRequest, tasks: Tasks, workflows: Workflows) -> DelegateStarted:
    """Hierarchical pattern: a master delegates to a research and a content manager."""
    task_id = start_task(tasks, workflows, hierarchical_workflow, "hierarchical", body)
    return DelegateStarted(task_id=task_id, workflow="hierarchical", message="Delegated to managers",
                           managers={"research": RESEARCH_WORKERS, "content": CONTENT_WORKERS})


# A running workflow updates its task at every step; only a task quiet for this long is
# checked against the workflow engine (polling clients would otherwise double the load).
STALE_AFTER_SECONDS = 5.0


def ended_abnormally(workflows: Workflows, task: TaskDocument) -> str | None:
    """Why the task's workflow ended without recording it (terminated, or its failure
    handler could not run), or None. Best effort: an engine error is logged, not raised."""
    age = (datetime.now(timezone.utc) - datetime.fromisoformat(task.updated_at)).total_seconds()
    if age < STALE_AFTER_SECONDS:
        return None
    try:
        state = workflows.get_workflow_state(task.task_id, fetch_payloads=False)
    except Exception as err:
        log.warning("could not check workflow %s: %s", task.task_id, err)
        return None
    if state and state.runtime_status in (WorkflowStatus.FAILED, WorkflowStatus.TERMINATED):
        details = getattr(state, "failure_details", None)
        return getattr(details, "message", None) or state.runtime_status.name.lower()
    return None


@router.get("/task/{task_id}", response_model=TaskDocument)
def get_task(task_id: TaskId, tasks: Tasks, workflows: Workflows) -> TaskDocument:
    task = tasks.get(task_id)
    if task is None:
        raise HTTPException(404, f"no task with id {task_id}")
    if task.status not in TERMINAL_STATUSES and (reason := ended_abnormally(workflows, task)):
        task = task.model_copy(update={"status": "failed", "error": task.error or f"workflow ended: {reason}"})
    return task
