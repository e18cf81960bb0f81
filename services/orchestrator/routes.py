"""Starting patterns and reading tasks."""

import logging
import uuid
from typing import Annotated

from dapr.ext.workflow import WorkflowStatus
from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.common.contracts import TERMINAL_STATUSES, TaskDocument
from services.common.faults import Fault
from services.common.logs import task_id_var
from services.common.settings import get_settings
from workflows.sequential import AGENTS, STEPS, sequential_workflow

from .deps import Tasks, Workflows

log = logging.getLogger(__name__)
router = APIRouter()
TaskId = Annotated[str, Path(min_length=1, max_length=100)]


class ContentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(min_length=1, max_length=500, description="What the article is about")
    faults: dict[str, Fault] | None = Field(
        None, description="Test/demo knob, by agent app id; needs BATON_ALLOW_FAULT_INJECTION=true")

    @field_validator("topic")
    @classmethod
    def not_blank(cls, topic: str) -> str:
        if not topic.strip():
            raise ValueError("topic must contain more than whitespace")
        return topic.strip()

    @field_validator("faults")
    @classmethod
    def known_agents(cls, faults: dict[str, Fault] | None) -> dict[str, Fault] | None:
        unknown = set(faults or {}) - set(AGENTS.values())
        if unknown:
            raise ValueError(f"faults name unknown agents {sorted(unknown)}; known: {sorted(AGENTS.values())}")
        return faults


def check_faults_allowed(faults: dict | None) -> None:
    if faults and not get_settings().allow_fault_injection:
        raise HTTPException(403, "fault injection is disabled; set BATON_ALLOW_FAULT_INJECTION=true")


class Started(BaseModel):
    task_id: str
    status: str = "started"
    workflow: str
    steps: list[str]
    message: str


def start_task(tasks: Tasks, workflows: Workflows, workflow, name: str, task_input: dict) -> str:
    """Create the task document, then schedule its workflow under the same id."""
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


@router.post("/create-content", status_code=202, response_model=Started)
def create_content(body: ContentRequest, tasks: Tasks, workflows: Workflows) -> Started:
    """Sequential pattern: research -> write -> edit -> publish."""
    check_faults_allowed(body.faults)
    task_input = body.model_dump(mode="json", exclude_none=True)
    task_id = start_task(tasks, workflows, sequential_workflow, "sequential", task_input)
    return Started(task_id=task_id, workflow="sequential", steps=STEPS,
                   message="Content creation pipeline initiated")


@router.get("/task/{task_id}", response_model=TaskDocument)
def get_task(task_id: TaskId, tasks: Tasks, workflows: Workflows) -> TaskDocument:
    task = tasks.get(task_id)
    if task is None:
        raise HTTPException(404, f"no task with id {task_id}")
    if task.status not in TERMINAL_STATUSES:
        # A workflow that ended without recording it (terminated, or its failure handler
        # could not run) must not leave the task looking alive.
        state = workflows.get_workflow_state(task_id, fetch_payloads=False)
        if state and state.runtime_status in (WorkflowStatus.FAILED, WorkflowStatus.TERMINATED):
            details = getattr(state, "failure_details", None)
            reason = getattr(details, "message", None) or state.runtime_status.name.lower()
            task = task.model_copy(update={"status": "failed", "error": task.error or f"workflow ended: {reason}"})
    return task
