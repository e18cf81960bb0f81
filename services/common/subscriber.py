"""How every Baton subscriber handles a pub/sub delivery: correlate, skip duplicates,
process, record what it did. Idempotent: the same event id delivered twice to the same
subscriber has one effect. A processing error answers 500, so Dapr retries the delivery
(components/resiliency.yaml) and then dead-letters it; nothing is swallowed."""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import Retrying, stop_after_attempt, wait_exponential

from .contracts import CloudEvent
from .events import EventLog, EventRecord
from .faults import Fault, apply_fault
from .logs import task_id_var
from .settings import get_settings

log = logging.getLogger(__name__)
SUCCESS, DROP = {"status": "SUCCESS"}, {"status": "DROP"}
EventData = TypeVar("EventData", bound=BaseModel)
T = TypeVar("T")


def correlation_of(event: CloudEvent) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    return str(data.get("correlation_id") or event.id)[:100]


def requested_fault(data: dict[str, Any], subscriber: str) -> Fault | None:
    """Events may carry {"faults": {<app id>: Fault}}; honoured only with fault injection on."""
    spec = (data.get("faults") or {}).get(subscriber) if isinstance(data.get("faults"), dict) else None
    if spec is None:
        return None
    if not get_settings().allow_fault_injection:
        log.warning("ignoring a fault in the event: fault injection is disabled")
        return None
    return Fault.model_validate(spec)


def with_delivery_retries(attempt: Callable[[], T], retries: int, what: str) -> T:
    """Run `attempt`, and on an error up to `retries` more times with exponential backoff
    (0.5 s, 1 s, 2 s, ... at most 8 s), then let the error through (500: Dapr dead-letters
    the message). Locally Dapr's resiliency policy retries deliveries and `retries` is 0;
    Azure Container Apps applies no resiliency policy, so the Bicep sets it there."""
    retrying = Retrying(stop=stop_after_attempt(retries + 1), wait=wait_exponential(multiplier=0.5, max=8),
                        reraise=True, before_sleep=lambda state: log.warning(
                            "%s: attempt %d failed (%s), retrying", what, state.attempt_number,
                            state.outcome.exception() if state.outcome else "?"))
    return retrying(attempt)


def handle_once(event: CloudEvent, topic: str, model: type[EventData], events: EventLog,
                process: Callable[[EventData, str, CloudEvent], dict[str, Any]]) -> dict[str, str]:
    subscriber = get_settings().app_id
    correlation_id = correlation_of(event)
    task_id_var.set(correlation_id)
    if events.seen(correlation_id, subscriber, event.id):
        log.info("%s %s already processed: duplicate delivery, no second effect", event.type, event.id)
        return SUCCESS
    raw = event.data if isinstance(event.data, dict) else {}
    try:
        data = model.model_validate(raw)
    except ValidationError as err:
        # Retrying cannot fix a malformed event: record why, then drop it.
        log.error("rejecting %s %s: %s", event.type, event.id, err)
        events.record(correlation_id, EventRecord(subscriber=subscriber, topic=topic, event_type=event.type,
                                                  event_id=event.id, outcome="rejected",
                                                  detail={"error": str(err)[:1000]}))
        return DROP
    settings = get_settings()

    def attempt() -> dict[str, Any]:
        apply_fault(requested_fault(raw, subscriber), settings)  # or this app's configured fault
        return process(data, correlation_id, event)

    detail = with_delivery_retries(attempt, settings.delivery_retries, f"{event.type} {event.id}")
    events.record(correlation_id, EventRecord(subscriber=subscriber, topic=topic, event_type=event.type,
                                              event_id=event.id, outcome="processed", detail=detail))
    log.info("processed %s %s", event.type, event.id)
    return SUCCESS
