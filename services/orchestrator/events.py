"""Event-driven pattern, public side: the data collector (publishes DataReceived), the
correlation view of what every subscriber did, stored notifications, and the orchestrator's
own ContentPublished subscriber."""

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common import sidecar
from services.common.contracts import CloudEvent, DataReceived
from services.common.events import EventRecord
from services.common.faults import Fault, require_fault_injection
from services.common.inputs import ID_PATTERN, Identifier, JsonData, Text
from services.common.paging import Position
from services.common.registry import REGISTRY
from services.common.serve import StoresDep
from services.common.settings import get_settings
from services.common.subscriber import DROP, SUCCESS
from services.common.telemetry import for_task

from .auth import READ, WRITE
from .deadletters import Cursor
from .responses import GUARDED, errors
from .schemas import name_keys, refuse_unknown

log = logging.getLogger(__name__)
collector = APIRouter(tags=["event-driven"], dependencies=[WRITE], responses=errors(*GUARDED, 400, 422))
events_router = APIRouter(prefix="/events", tags=["event-driven"], dependencies=[READ],
                          responses=errors(*GUARDED, 422))
notifications_router = APIRouter(prefix="/notifications", tags=["event-driven"], dependencies=[READ],
                                 responses=errors(*GUARDED, 422))
CorrelationId = Annotated[str, Path(min_length=1, max_length=100, pattern=ID_PATTERN)]


def subscribers() -> list[str]:
    """The apps a DataReceived event reaches, which its `faults` may name."""
    return [a.app_id for a in REGISTRY.apps if "data-received" in a.topics]


class CollectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra=lambda schema: name_keys(schema, "faults", subscribers()))
    source: Text = Field(max_length=200, description="Where the data comes from")
    payload: JsonData = Field(description="The data itself (JSON object or array)")
    correlation_id: Identifier | None = Field(None, description="Ties every resulting event together; "
                                                                "default: a new id")
    faults: dict[str, Fault] | None = Field(None, max_length=20, description="Test/demo knob, by subscriber app id; "
                                                                            "needs BATON_ALLOW_FAULT_INJECTION=true")

    @model_validator(mode="after")
    def faults_name_subscribers(self) -> "CollectRequest":
        refuse_unknown(self.faults or {}, subscribers(), "faults")
        return self


class Collected(BaseModel):
    correlation_id: str
    event_id: str
    topic: str = "data-received"
    status: str = "published"


@collector.post("/collect", status_code=202, response_model=Collected)
def collect(body: CollectRequest) -> Collected:
    """The data collector: publish a DataReceived event for the subscribers."""
    settings = get_settings()
    require_fault_injection(body.faults, settings)
    correlation_id = body.correlation_id or str(uuid.uuid4())
    for_task(correlation_id, "collect")
    event_id = str(uuid.uuid4())
    data = DataReceived(source=body.source, payload=body.payload, correlation_id=correlation_id).model_dump()
    if body.faults:
        data["faults"] = {app_id: fault.model_dump() for app_id, fault in body.faults.items()}
    sidecar.publish(settings.pubsub, "data-received", data, event_id=event_id, event_type="DataReceived",
                    ttl_seconds=settings.message_ttl_seconds)
    log.info("published DataReceived %s", event_id)
    return Collected(correlation_id=correlation_id, event_id=event_id)


class EventPage(BaseModel):
    correlation_id: str
    events: list[EventRecord]
    next_cursor: str | None = None  # pass as `cursor` for the next page; null: no more


@events_router.get("/{correlation_id}", response_model=EventPage)
def list_events(correlation_id: CorrelationId, stores: StoresDep,
                limit: Annotated[int, Query(ge=1, le=1000, description="at most this many records")] = 100,
                cursor: Cursor = None) -> EventPage:
    """What every subscriber did with the events of one correlation id (or task id), oldest
    first, a page at a time."""
    records, last = stores.events.page(correlation_id, Position.parse(cursor) if cursor else None, limit)
    return EventPage(correlation_id=correlation_id, events=records, next_cursor=str(last) if last else None)


@notifications_router.get("/{correlation_id}")
def list_notifications(correlation_id: CorrelationId, stores: StoresDep) -> dict[str, Any]:
    notes = stores.notifications.list(correlation_id)
    return {"correlation_id": correlation_id, "notifications": [n.model_dump() for n in notes]}


def on_content_published(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    """Record that the orchestrator saw a ContentPublished event (once per event id)."""
    data = event.data if isinstance(event.data, dict) else {}
    task_id = str(data.get("task_id") or "")
    if not task_id:
        # Nothing to correlate with: retrying cannot fix it, so drop it (logged, not silent;
        # Dapr dead-letters it, and the dead letter says why).
        log.error("ContentPublished event %s has no task_id; dropping", event.id)
        stores.events.record_failure(event.id, EventRecord(
            subscriber=get_settings().app_id, topic=event.topic or "content-published", event_type=event.type,
            event_id=event.id, outcome="failed", detail={"error": "the event has no task_id"}))
        return DROP
    for_task(task_id, "content-published")
    added = stores.events.record(task_id, EventRecord(
        subscriber=get_settings().app_id, topic=event.topic or "content-published",
        event_type=event.type, event_id=event.id, outcome="received",
        detail={"artifact": data.get("artifact"), "word_count": data.get("word_count")},
    ))
    log.info("ContentPublished %s %s", event.id, "recorded" if added else "was a duplicate")
    return SUCCESS
