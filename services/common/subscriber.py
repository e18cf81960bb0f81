"""How every Baton subscriber handles a pub/sub delivery: correlate, skip duplicates,
process, record what it did. Idempotent: the same event id delivered twice to the same
subscriber has one effect. A processing error answers 500, so Dapr retries the delivery
(components/resiliency.yaml) and then dead-letters it; nothing is swallowed."""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .contracts import CloudEvent
from .events import EventLog, EventRecord
from .faults import Fault, apply_fault
from .logs import task_id_var
from .settings import get_settings

log = logging.getLogger(__name__)
SUCCESS, DROP = {"status": "SUCCESS"}, {"status": "DROP"}
EventData = TypeVar("EventData", bound=BaseModel)


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
    apply_fault(requested_fault(raw, subscriber), get_settings())  # or this app's configured fault
    detail = process(data, correlation_id, event)
    events.record(correlation_id, EventRecord(subscriber=subscriber, topic=topic, event_type=event.type,
                                              event_id=event.id, outcome="processed", detail=detail))
    log.info("processed %s %s", event.type, event.id)
    return SUCCESS
