"""POST /run: do this agent's role on one input, with the model."""

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from services.common.contracts import AgentReply, AgentRequest
from services.common.faults import apply_fault
from services.common.model import Model, ask
from services.common.settings import Settings, get_settings
from services.common.telemetry import for_task

from .roles import ROLES

log = logging.getLogger(__name__)
router = APIRouter(tags=["agent"])


@router.post("/run", response_model=AgentReply)
def run(request: AgentRequest, settings: Annotated[Settings, Depends(get_settings)], model: Model) -> AgentReply:
    for_task(request.task_id, "run")
    role = ROLES[settings.agent_role]
    apply_fault(request.fault, settings)
    log.info("running %s on %d chars", settings.agent_role, len(request.input))
    done = ask(model, role.instructions, request.input, max_tokens=role.max_tokens)
    if not done.text:
        raise HTTPException(502, "model returned an empty answer")
    log.info("done in %.2fs, %d completion tokens", done.elapsed_seconds, done.usage.completion_tokens)
    return AgentReply(
        agent=settings.app_id,
        role=settings.agent_role,
        output=done.text,
        model=done.model,
        usage=done.usage,
        elapsed_seconds=done.elapsed_seconds,
        call_id=uuid.uuid4().hex,
    )
