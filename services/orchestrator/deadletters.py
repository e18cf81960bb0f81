"""Dead letters: every subscription sends what it could not process (after its retries)
to the `dead-letters` topic; the orchestrator keeps them (services/common/deadletters.py)
so they can be listed and inspected (read scope), replayed to their original topic and
purged (admin scope)."""

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from services.common import sidecar
from services.common.contracts import CloudEvent, utc_now
from services.common.deadletters import DeadLetter
from services.common.inputs import ID_PATTERN
from services.common.registry import DEAD_LETTER_TOPIC
from services.common.serve import StoresDep
from services.common.settings import get_settings
from services.common.subscriber import SUCCESS

from .auth import ADMIN, READ, api_key_name

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dead-letters", tags=["dead letters"], dependencies=[READ])
admin = APIRouter(prefix="/dead-letters", tags=["dead letters"], dependencies=[ADMIN])
TOPIC_OF_TYPE = {"DataReceived": "data-received", "AnalysisComplete": "analysis-complete",
                 "ContentPublished": "content-published"}
DeadLetterId = Annotated[str, Path(min_length=1, max_length=200, pattern=ID_PATTERN)]
TOPIC_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def original_topic(event: CloudEvent) -> str | None:
    if event.topic and event.topic != DEAD_LETTER_TOPIC:
        return event.topic
    return TOPIC_OF_TYPE.get(event.type)


def receive(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    """Subscription handler for the dead-letter topic."""
    letter = DeadLetter(id=event.id, type=event.type, topic=original_topic(event), source=event.source,
                        data=event.data, received_at=utc_now())
    stores.dead_letters.add(letter)
    log.warning("dead letter %s (%s from %s)", event.id, event.type, letter.topic)
    return SUCCESS


@router.get("")
def list_dead_letters(stores: StoresDep) -> dict[str, Any]:
    letters = stores.dead_letters.list()
    return {"count": len(letters), "dead_letters": [d.model_dump() for d in letters]}


def _find(dead_letter_id: str, stores: StoresDep) -> DeadLetter:
    letter = stores.dead_letters.get(dead_letter_id)
    if letter is None:
        raise HTTPException(404, f"no dead letter with id {dead_letter_id}")
    return letter


@router.get("/{dead_letter_id}", response_model=DeadLetter)
def inspect(dead_letter_id: DeadLetterId, stores: StoresDep) -> DeadLetter:
    return _find(dead_letter_id, stores)


@admin.post("/{dead_letter_id}/replay", status_code=202)
def replay(dead_letter_id: DeadLetterId, stores: StoresDep,
           topic: Annotated[str | None, Query(min_length=1, max_length=200, pattern=TOPIC_PATTERN)] = None,
           ) -> dict[str, str]:
    """Publish the event again, same id and type, to its original topic (or `topic`).
    Subscribers that already processed it recognise the id and do nothing twice."""
    letter = _find(dead_letter_id, stores)
    target = topic or letter.topic
    if not target:
        raise HTTPException(422, "the original topic is unknown for this event; pass ?topic=<topic>")
    settings = get_settings()
    data = letter.data if isinstance(letter.data, dict) else {"value": letter.data}
    sidecar.publish(settings.pubsub, target, data, event_id=letter.id, event_type=letter.type,
                    ttl_seconds=settings.message_ttl_seconds)
    log.info("replayed dead letter %s to %s (key %s)", dead_letter_id, target, api_key_name.get())
    return {"id": dead_letter_id, "topic": target, "status": "replayed"}


@admin.delete("/{dead_letter_id}", status_code=204)
def purge(dead_letter_id: DeadLetterId, stores: StoresDep) -> Response:
    if not stores.dead_letters.remove(dead_letter_id):
        raise HTTPException(404, f"no dead letter with id {dead_letter_id}")
    log.info("purged dead letter %s (key %s)", dead_letter_id, api_key_name.get())
    return Response(status_code=204)


@admin.delete("", status_code=200)
def purge_all(stores: StoresDep) -> dict[str, int]:
    purged = stores.dead_letters.clear()
    log.warning("purged all %d dead letters (key %s)", purged, api_key_name.get())
    return {"purged": purged}
