"""Starting a task of each pattern (the course lesson's paths)."""

import logging
import uuid

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from services.common.faults import require_fault_injection
from services.common.metrics import metrics
from services.common.outages import RETRY_AFTER_SECONDS
from services.common.settings import get_settings
from services.common.telemetry import for_task, traceparent
from workflows.sequential import STEPS

from .auth import WRITE, api_key_name
from .deps import Engine, EngineWatch, Tasks, Workflows
from .requests import ConsensusRequest, ContentRequest, DelegateRequest, PatternRequest, ResearchRequest
from .responses import GUARDED, errors

log = logging.getLogger(__name__)
router = APIRouter(tags=["patterns"], dependencies=[WRITE], responses=errors(*GUARDED, 400, 422))


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


def why_not_started(err: Exception) -> str:
    """A gRPC error as its status and details (not the channel's repr), anything else as is."""
    code, details = getattr(err, "code", None), getattr(err, "details", None)
    if callable(code) and callable(details):
        return f"the sidecar answered {code().name}: {details()}"
    return str(err)


def start_task(tasks: Tasks, workflows: Workflows, engine: EngineWatch, body: PatternRequest) -> str:
    """Create the task document, then schedule the pattern's workflow (registered under the
    pattern's name, workflows/runtime.py) with the same id."""
    settings = get_settings()
    require_fault_injection(body.faults, settings)
    task_id = str(uuid.uuid4())
    for_task(task_id, body.pattern)
    tasks.create(task_id, body.pattern, body.model_dump(mode="json", exclude_none=True), body.summary(),
                 budget_tokens=body.budget_tokens or settings.default_budget_tokens, traceparent=traceparent())
    try:
        workflows.schedule_new_workflow(body.pattern, input=body.to_input(), instance_id=task_id)
    except Exception as err:
        log.exception("could not schedule the %s workflow", body.pattern)
        why = why_not_started(err)
        engine.failed(why)
        try:
            tasks.save_status(task_id, "failed", error=f"could not start workflow: {why}")
        except Exception:  # the client still learns why the task did not start
            log.exception("could not mark task %s failed", task_id)
        raise HTTPException(503, f"workflow engine unavailable: {why}; try again later",
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from err
    engine.started()
    metrics().task_started(body.pattern)
    log.info("started %s workflow for key %s", body.pattern, api_key_name.get())
    return task_id


@router.post("/create-content", status_code=202, response_model=ContentStarted)
def create_content(body: ContentRequest, tasks: Tasks, workflows: Workflows,
    engine: Engine) -> ContentStarted:
    """Sequential pattern: research -> write -> edit -> publish."""
    task_id = start_task(tasks, workflows, engine, body)
    return ContentStarted(task_id=task_id, workflow="sequential", steps=STEPS,
                          message="Content creation pipeline initiated")


@router.post("/research-parallel", status_code=202, response_model=ResearchStarted)
def research_parallel(body: ResearchRequest, tasks: Tasks, workflows: Workflows,
    engine: Engine) -> ResearchStarted:
    """Parallel pattern: every research agent at once, combined at the deadline at the latest."""
    task_id = start_task(tasks, workflows, engine, body)
    return ResearchStarted(task_id=task_id, workflow="parallel", agents_dispatched=len(body.team()),
                           deadline_seconds=body.deadline_seconds, message="Parallel research dispatched")


@router.post("/consensus", status_code=202, response_model=ConsensusStarted)
def consensus(body: ConsensusRequest, tasks: Tasks, workflows: Workflows,
    engine: Engine) -> ConsensusStarted:
    """Consensus pattern: several voters judge the same content; majority or k-of-N quorum."""
    task_id = start_task(tasks, workflows, engine, body)
    return ConsensusStarted(task_id=task_id, workflow="consensus", voters=[m.app_id for m in body.team()],
                            labels=body.labels or [], quorum=body.quorum, message="Voting started")


@router.post("/delegate", status_code=202, response_model=DelegateStarted)
def delegate(body: DelegateRequest, tasks: Tasks, workflows: Workflows,
    engine: Engine) -> DelegateStarted:
    """Hierarchical pattern: a master delegates to a research and a content manager."""
    task_id = start_task(tasks, workflows, engine, body)
    team = body.team()
    managers = {"research": [m.app_id for m in team if m.part == "research"],
                "content": [m.app_id for m in team if m.part in ("write", "edit")]}
    return DelegateStarted(task_id=task_id, workflow="hierarchical", message="Delegated to managers",
                           managers=managers)
