"""Pub/sub handlers (declarative subscriptions in components/subscriptions.yaml) and the
correlation view of what subscribers did."""

import logging

from fastapi import APIRouter

from services.common.contracts import CloudEvent
from services.common.events import EventRecord
from services.common.logs import task_id_var
from services.common.settings import get_settings

from .deps import Events
from .routes import TaskId

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/events/content-published")
def on_content_published(event: CloudEvent, events: Events) -> dict:
    """Record that the orchestrator saw a ContentPublished event (once per event id)."""
    data = event.data if isinstance(event.data, dict) else {}
    task_id = str(data.get("task_id") or "")
    if not task_id:
        # Nothing to correlate with: retrying cannot fix it, so drop it (logged, not silent).
        log.error("ContentPublished event %s has no task_id; dropping", event.id)
        return {"status": "DROP"}
    task_id_var.set(task_id)
    added = events.record(task_id, EventRecord(
        subscriber=get_settings().app_id, topic=event.topic or "content-published",
        event_type=event.type, event_id=event.id, outcome="received",
        detail={"artifact": data.get("artifact"), "word_count": data.get("word_count")},
    ))
    log.info("ContentPublished %s %s", event.id, "recorded" if added else "was a duplicate")
    return {"status": "SUCCESS"}


@router.get("/events/{correlation_id}")
def list_events(correlation_id: TaskId, events: Events) -> dict:
    """What every subscriber did with the events of one correlation id (the task id)."""
    return {"correlation_id": correlation_id,
            "events": [e.model_dump() for e in events.list(correlation_id)]}
