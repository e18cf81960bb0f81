"""POST /vote: a structured verdict {label, confidence, rationale} through a JSON-schema
response format. Output that does not parse or names no allowed label is asked for once
more; after that the voter abstains rather than guess."""

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, ValidationError

from services.common.contracts import Usage, Vote, VoteRequest
from services.common.faults import apply_fault
from services.common.model import Model, ask
from services.common.settings import Settings, get_settings
from services.common.telemetry import for_task

from .roles import ROLES

log = logging.getLogger(__name__)
router = APIRouter(tags=["agent"])
ATTEMPTS = 2
TASK_QUESTIONS = {
    "moderation": "Is this content acceptable to publish?",
    "classification": "Which label best describes this content?",
    "review": "Should this change be approved as it is?",
}


class Verdict(BaseModel):
    label: str
    confidence: float = Field(ge=0, le=1)
    rationale: str = Field(max_length=1000)


def verdict_schema(labels: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": labels},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rationale": {"type": "string"},
        },
        "required": ["label", "confidence", "rationale"],
        "additionalProperties": False,
    }


def parse_verdict(text: str, labels: list[str]) -> Verdict | None:
    try:
        verdict = Verdict.model_validate_json(text)
    except ValidationError:
        return None
    return verdict if verdict.label in labels else None


@router.post("/vote", response_model=Vote)
def vote(request: VoteRequest, settings: Annotated[Settings, Depends(get_settings)], model: Model) -> Vote:
    for_task(request.task_id, "vote")
    role = ROLES[settings.agent_role]
    if not role.votes:
        raise HTTPException(404, f"{settings.app_id} ({settings.agent_role}) is not a voter")
    apply_fault(request.fault, settings)

    prompt = (f"Task: {request.task}. {TASK_QUESTIONS[request.task]}\n"
              f"Allowed labels: {', '.join(request.labels)}\n\nContent:\n{request.content}")
    usage, text, model_name, made, why = Usage(), "", "", 0, f"no valid verdict after {ATTEMPTS} attempts"
    for attempt in range(1, ATTEMPTS + 1):
        left = request.budget_tokens_left
        if left is not None and usage.tokens >= left:
            why = f"the task's token budget ({left} left) was used up after {made} attempt(s)"
            log.warning("attempt %d not made: %s", attempt, why)
            break
        made = attempt
        done = ask(model, role.instructions, prompt, max_tokens=role.max_tokens,
                   json_schema=verdict_schema(request.labels))
        usage, text, model_name = usage.plus(done.usage), done.text, done.model
        verdict = parse_verdict(text, request.labels)
        if verdict:
            log.info("voted %s (%.2f) on attempt %d", verdict.label, verdict.confidence, attempt)
            return Vote(agent=settings.app_id, label=verdict.label, confidence=verdict.confidence,
                        rationale=verdict.rationale, attempts=attempt, model=model_name, usage=usage,
                        call_id=uuid.uuid4().hex)
        log.warning("attempt %d: unusable verdict %r", attempt, text[:200])
    return Vote(agent=settings.app_id, abstained=True, attempts=made, model=model_name, usage=usage,
                call_id=uuid.uuid4().hex, rationale=f"{why}; last output: {text[:200]!r}")
