"""How every Baton subscriber handles a pub/sub delivery: correlate, skip duplicates,
claim, process, record what it did. Idempotent, even under races: the same event id
delivered twice to the same subscriber, one after the other or at the same moment, has one
effect. A processing error answers 500, so Dapr retries the delivery
(components/resiliency.yaml) and then dead-letters it; nothing is swallowed.

Of two racing deliveries one takes the claim (services/common/claims.py) and does the work;
the other waits up to BATON_CLAIM_WAIT_SECONDS for its outcome. Done: SUCCESS, a duplicate.
Failed (claim released) or died (claim expired): the waiting delivery does the work itself.
Still running after the wait: RETRY. Not SUCCESS, because the delivery that waited may be the
only copy of the message (a redelivery of a message whose first delivery outlived the
pub/sub's processing timeout); acknowledging it and then losing the worker would lose the
event. Dapr retries it (each retry waits again) and, once its retries are spent,
dead-letters it; replaying that dead letter is then recognised as a duplicate."""

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import trace
from pydantic import BaseModel, ValidationError
from tenacity import Retrying, stop_after_attempt, wait_exponential

from .contracts import CloudEvent
from .events import EventRecord
from .faults import Fault, apply_fault
from .settings import get_settings
from .stores import Stores
from .telemetry import task_span

log = logging.getLogger(__name__)
SUCCESS, DROP, RETRY = {"status": "SUCCESS"}, {"status": "DROP"}, {"status": "RETRY"}
CLAIM_POLL_SECONDS = 0.25
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


def handle_once(event: CloudEvent, topic: str, model: type[EventData], stores: Stores,
                process: Callable[[EventData, str, CloudEvent], dict[str, Any]]) -> dict[str, str]:
    """Process one delivery once, in a span of the publisher's trace: the sidecar passes the
    CloudEvent's traceparent on as the request's header; without it, the event's own is used."""
    carried = (event.model_extra or {}).get("traceparent")
    parent = None if trace.get_current_span().get_span_context().is_valid else carried
    correlation_id = correlation_of(event)
    with task_span(f"handle {topic}", correlation_id, topic, parent=parent if isinstance(parent, str) else None):
        return _handle_once(event, topic, model, stores, process, correlation_id)


def _handle_once(event: CloudEvent, topic: str, model: type[EventData], stores: Stores,
                 process: Callable[[EventData, str, CloudEvent], dict[str, Any]],
                 correlation_id: str) -> dict[str, str]:
    settings = get_settings()
    subscriber = settings.app_id

    def record(outcome: str, detail: dict[str, Any]) -> None:
        stores.events.record(correlation_id, EventRecord(subscriber=subscriber, topic=topic, event_type=event.type,
                                                         event_id=event.id, outcome=outcome, detail=detail))

    def done() -> bool:
        return stores.events.seen(correlation_id, subscriber, event.id)

    raw = event.data if isinstance(event.data, dict) else {}
    try:
        data = model.model_validate(raw)
    except ValidationError as err:
        # Retrying cannot fix a malformed event: record why, then drop it.
        log.error("rejecting %s %s: %s", event.type, event.id, err)
        record("rejected", {"error": str(err)[:1000]})
        return DROP

    def work() -> dict[str, str]:
        def attempt() -> dict[str, Any]:
            apply_fault(requested_fault(raw, subscriber), settings)  # or this app's configured fault
            return process(data, correlation_id, event)

        try:
            detail = with_delivery_retries(attempt, settings.delivery_retries, f"{event.type} {event.id}")
        except Exception as err:
            # Noted for the event's dead letter (which subscriber failed, why, when), then 500.
            stores.events.record_failure(correlation_id, EventRecord(
                subscriber=subscriber, topic=topic, event_type=event.type, event_id=event.id, outcome="failed",
                detail={"error": f"{type(err).__name__}: {err}"[:1000]}))
            raise
        record("processed", detail)
        log.info("processed %s %s", event.type, event.id)
        return SUCCESS

    give_up_at, waited = time.monotonic() + settings.claim_wait_seconds, False
    while not done():
        with stores.claims.held(subscriber, event.id) as claimed:
            if claimed:  # done() again: the delivery that held the claim before may have just finished
                return duplicate(event) if done() else work()
        if time.monotonic() >= give_up_at:
            log.warning("%s %s is still being processed by another delivery after %.0f s: RETRY later",
                        event.type, event.id, settings.claim_wait_seconds)
            return RETRY
        if not waited:
            log.info("%s %s is being processed by another delivery: waiting for its outcome", event.type, event.id)
            waited = True
        time.sleep(CLAIM_POLL_SECONDS)
    return duplicate(event)


def duplicate(event: CloudEvent) -> dict[str, str]:
    log.info("%s %s already processed: duplicate delivery, no second effect", event.type, event.id)
    return SUCCESS
