"""Dead letters: every subscription sends what it could not process (after its retries)
to the `dead-letters` topic; the orchestrator keeps them (state key baton:dead-letters)
so they can be listed, inspected, replayed to their original topic, and purged."""

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from services.common import sidecar
from services.common.contracts import CloudEvent, utc_now
from services.common.settings import get_settings
from services.common.subscriber import SUCCESS

from .deps import Events

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dead-letters", tags=["dead letters"])
KEY = "baton:dead-letters"
DEAD_LETTER_TOPIC = "dead-letters"
MAX_KEPT = 1000
TOPIC_OF_TYPE = {"DataReceived": "data-received", "AnalysisComplete": "analysis-complete",
                 "ContentPublished": "content-published"}
DeadLetterId = Annotated[str, Path(min_length=1, max_length=200)]


def original_topic(event: CloudEvent) -> str | None:
    if event.topic and event.topic != DEAD_LETTER_TOPIC:
        return event.topic
    return TOPIC_OF_TYPE.get(event.type)


@router.post("/receive", include_in_schema=False)
def receive(event: CloudEvent, events: Events) -> dict:
    """Subscription handler for the dead-letter topic (components/subscriptions.yaml)."""
    entry = {"id": event.id, "type": event.type, "topic": original_topic(event), "source": event.source,
             "data": event.data, "received_at": utc_now(), "times": 1}

    def add(doc: dict) -> None:
        for kept in doc["entries"]:
            if kept["id"] == entry["id"]:  # dead-lettered again, e.g. after a replay
                kept["times"] += 1
                kept["received_at"] = entry["received_at"]
                return
        doc["entries"].append(entry)
        if len(doc["entries"]) > MAX_KEPT:
            dropped = doc["entries"].pop(0)
            log.warning("dead-letter store full: dropped the oldest, %s", dropped["id"])

    events.docs.update(KEY, add, default={"entries": []})
    log.warning("dead letter %s (%s from %s)", event.id, event.type, entry["topic"])
    return SUCCESS


def _entries(events: Events) -> list[dict]:
    return (events.docs.get(KEY) or {"entries": []})["entries"]


@router.get("")
def list_dead_letters(events: Events) -> dict:
    entries = _entries(events)
    return {"count": len(entries), "dead_letters": entries}


@router.get("/{dead_letter_id}")
def inspect(dead_letter_id: DeadLetterId, events: Events) -> dict:
    for entry in _entries(events):
        if entry["id"] == dead_letter_id:
            return entry
    raise HTTPException(404, f"no dead letter with id {dead_letter_id}")


@router.post("/{dead_letter_id}/replay", status_code=202)
def replay(dead_letter_id: DeadLetterId, events: Events,
           topic: Annotated[str | None, Query(min_length=1, max_length=200)] = None) -> dict:
    """Publish the event again, same id and type, to its original topic (or `topic`).
    Subscribers that already processed it recognise the id and do nothing twice."""
    entry = inspect(dead_letter_id, events)
    target = topic or entry["topic"]
    if not target:
        raise HTTPException(422, "the original topic is unknown for this event; pass ?topic=<topic>")
    settings = get_settings()
    data = entry["data"] if isinstance(entry["data"], dict) else {"value": entry["data"]}
    sidecar.publish(settings.pubsub, target, data, event_id=entry["id"], event_type=entry["type"],
                    ttl_seconds=settings.message_ttl_seconds)
    log.info("replayed dead letter %s to %s", dead_letter_id, target)
    return {"id": dead_letter_id, "topic": target, "status": "replayed"}


@router.delete("/{dead_letter_id}", status_code=204)
def purge(dead_letter_id: DeadLetterId, events: Events) -> Response:
    found = False

    def remove(doc: dict) -> None:
        nonlocal found
        before = len(doc["entries"])
        doc["entries"] = [e for e in doc["entries"] if e["id"] != dead_letter_id]
        found = len(doc["entries"]) < before

    events.docs.update(KEY, remove, default={"entries": []})
    if not found:
        raise HTTPException(404, f"no dead letter with id {dead_letter_id}")
    return Response(status_code=204)


@router.delete("", status_code=200)
def purge_all(events: Events) -> dict:
    purged = 0

    def clear(doc: dict) -> None:
        nonlocal purged
        purged = len(doc["entries"])
        doc["entries"] = []

    events.docs.update(KEY, clear, default={"entries": []})
    return {"purged": purged}
