"""Dead letters: every subscription sends what it could not process (after its retries)
to the `dead-letters` topic; the orchestrator keeps them (services/common/deadletters.py)
so they can be listed a page at a time and inspected (read scope), replayed to their
original topic and purged (admin scope)."""

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from services.common import sidecar
from services.common.contracts import CloudEvent, utc_now
from services.common.deadletters import DeadLetter, Status, letter_id
from services.common.inputs import ID_PATTERN
from services.common.metrics import metrics
from services.common.paging import CURSOR_PATTERN, Position
from services.common.registry import DEAD_LETTER_TOPIC, REGISTRY
from services.common.serve import StoresDep
from services.common.settings import get_settings
from services.common.stores import Stores
from services.common.subscriber import SUCCESS, correlation_of

from .auth import ADMIN, READ, api_key_name
from .responses import GUARDED, errors

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dead-letters", tags=["dead letters"], dependencies=[READ], responses=errors(*GUARDED))
admin = APIRouter(prefix="/dead-letters", tags=["dead letters"], dependencies=[ADMIN], responses=errors(*GUARDED))
TOPIC_OF_TYPE = {"DataReceived": "data-received", "AnalysisComplete": "analysis-complete",
                 "ContentPublished": "content-published"}
DeadLetterId = Annotated[str, Path(min_length=1, max_length=200, pattern=ID_PATTERN)]
TOPIC_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$"
Cursor = Annotated[str | None, Query(max_length=20, pattern=CURSOR_PATTERN,
                                     description="`next_cursor` of the previous page")]


class DeadLetterPage(BaseModel):
    status: Status
    count: int  # on this page
    dead_letters: list[DeadLetter]
    next_cursor: str | None  # pass as `cursor` for the next page; null: no more


def original_topic(event: CloudEvent) -> str | None:
    if event.topic and event.topic != DEAD_LETTER_TOPIC:
        return event.topic
    return TOPIC_OF_TYPE.get(event.type)


def receive(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    """Subscription handler for the dead-letter topic."""
    data = event.data if isinstance(event.data, dict) else {}
    correlation = data.get("correlation_id") or data.get("task_id")
    letter = DeadLetter(id=letter_id(event.id), event_id=event.id, type=event.type, topic=original_topic(event),
                        source=event.source, data=event.data, received_at=utc_now(),
                        correlation_id=str(correlation)[:100] if correlation else None)
    if letter.topic:
        note_silent_failures(event, letter.topic, stores)
    stores.dead_letters.add(letter)
    kept = stores.dead_letters.get(letter.id)
    failed = ",".join(sorted(kept.failures)) if kept and kept.failures else "unknown"
    metrics().dead_letter(letter.topic or "unknown", failed)
    log.warning("dead letter %s (%s from %s)", event.id, event.type, letter.topic)
    return SUCCESS


def note_silent_failures(event: CloudEvent, topic: str, stores: Stores) -> None:
    """A subscriber that failed while the state store was unreachable could not note its
    failure: each subscriber of the topic that has neither processed the event, nor noted a
    failure, nor is processing it now (its claim) is named as failing, so the letter names who
    still has to process it (one that processes it later marks itself recovered, as after a
    replay)."""
    correlation, noted = correlation_of(event), stores.dead_letters.noted_subscribers(event.id)
    for app in REGISTRY.apps:
        if topic in app.topics and app.app_id not in noted \
                and not stores.events.seen(correlation, app.app_id, event.id) \
                and not stores.claims.in_progress(app.app_id, event.id):
            stores.dead_letters.note_failure(
                event.id, app.app_id, topic, "dead-lettered without a failure note from this subscriber (it could "
                "not record one, e.g. while the state store was unreachable): see its log for the event id",
                correlation)


@router.get("", response_model=DeadLetterPage, responses=errors(422))
def list_dead_letters(
    stores: StoresDep,
    status: Annotated[Status, Query(description="open: still failing; resolved: processed after a replay")] = "open",
    topic: Annotated[str | None, Query(min_length=1, max_length=200, pattern=TOPIC_PATTERN)] = None,
    type_: Annotated[str | None, Query(alias="type", min_length=1, max_length=200, pattern=TYPE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many on the page")] = 50,
    cursor: Cursor = None,
) -> DeadLetterPage:
    """Newest first. A page may hold fewer than `limit` (filters skip entries, and one call
    reads a bounded part of the index): follow `next_cursor` until it is null."""
    after = Position.parse(cursor) if cursor else None
    letters, last = stores.dead_letters.page(status, topic, type_, after, limit)
    return DeadLetterPage(status=status, count=len(letters), dead_letters=letters,
                          next_cursor=str(last) if last else None)


def _find(dead_letter_id: str, stores: StoresDep) -> DeadLetter:
    letter = stores.dead_letters.get(dead_letter_id)
    if letter is None:
        raise HTTPException(404, f"no dead letter with id {dead_letter_id}")
    return letter


@router.get("/{dead_letter_id}", response_model=DeadLetter, responses=errors(404, 422))
def inspect(dead_letter_id: DeadLetterId, stores: StoresDep) -> DeadLetter:
    return _find(dead_letter_id, stores)


@admin.post("/{dead_letter_id}/replay", status_code=202, responses=errors(404, 409, 422))
def replay(dead_letter_id: DeadLetterId, stores: StoresDep,
           topic: Annotated[str | None, Query(min_length=1, max_length=200, pattern=TOPIC_PATTERN)] = None,
           ) -> dict[str, str]:
    """Publish the event again, same id and type, to its original topic (or `topic`).
    Subscribers that already processed it recognise the id and do nothing twice; once every
    subscriber that failed on it has processed it, the letter is `resolved`."""
    letter = _find(dead_letter_id, stores)
    target = topic or letter.topic
    if not target:
        # The request is well-formed; this letter's state asks for more (hence not 422).
        raise HTTPException(409, "the original topic of this dead letter is unknown; pass ?topic=<topic>")
    settings = get_settings()
    data = letter.data if isinstance(letter.data, dict) else {"value": letter.data}
    sidecar.publish(settings.pubsub, target, data, event_id=letter.event_id, event_type=letter.type,
                    ttl_seconds=settings.message_ttl_seconds)
    stores.dead_letters.mark_replayed(dead_letter_id)
    log.info("replayed dead letter %s to %s (key %s)", dead_letter_id, target, api_key_name.get())
    return {"id": dead_letter_id, "topic": target, "status": "replayed"}


@admin.delete("/{dead_letter_id}", status_code=204, responses=errors(404, 409, 422))
def purge(dead_letter_id: DeadLetterId, stores: StoresDep) -> Response:
    if not stores.dead_letters.remove(dead_letter_id):
        raise HTTPException(404, f"no dead letter with id {dead_letter_id}")
    log.info("purged dead letter %s (key %s)", dead_letter_id, api_key_name.get())
    return Response(status_code=204)


@admin.delete("", status_code=200, responses=errors(409))
def purge_all(stores: StoresDep) -> dict[str, int]:
    """Every dead letter, open and resolved."""
    purged = stores.dead_letters.clear()
    log.warning("purged all %d dead letters (key %s)", purged, api_key_name.get())
    return {"purged": purged}
