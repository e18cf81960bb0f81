"""A test/demo knob that makes an agent slow or failing on purpose, so deadlines,
retries, partial results and circuit breakers can be shown and tested. Off by default:
requests may only carry a fault when BATON_ALLOW_FAULT_INJECTION=true, and an agent can
be made slow or failing for every request by its own configuration."""

import time

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from .settings import Settings


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    delay_seconds: float = Field(0, ge=0, le=600, description="sleep this long before answering")
    fail: bool = Field(False, description="answer 503 instead of doing the work")


def require_fault_injection(requested: object, settings: Settings) -> None:
    """A request that carries faults is refused with 403 unless fault injection is on."""
    if requested and not settings.allow_fault_injection:
        raise HTTPException(403, "fault injection is disabled; set BATON_ALLOW_FAULT_INJECTION=true")


def apply_fault(requested: Fault | None, settings: Settings) -> None:
    """Apply the request's fault (only if fault injection is allowed, else 403) or the
    agent's configured one: sleep and/or fail (blocking: agents serve requests on threads)."""
    require_fault_injection(requested, settings)
    fault = requested or Fault(delay_seconds=settings.agent_delay_seconds, fail=settings.agent_fail)
    if fault.delay_seconds:
        time.sleep(fault.delay_seconds)
    if fault.fail:
        raise HTTPException(503, "injected failure (fault injection knob)")
