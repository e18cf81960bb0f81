"""What each subscriber did with each event, by correlation id (the task id).

Subscribers record every delivery here; a second delivery of the same event id to the
same subscriber is recognised and has no second effect (idempotent processing).

State keys (a correlation id as paging.key_part makes it):
- `baton:events:<correlation id>:rec:<digest of subscriber and event id>`: one record, created
  first-write, so `seen` and the duplicate check are one read;
- `baton:events:<correlation id>:head|page:<n>`: the paged index of those keys, oldest first
  (services/common/paging.py). Appending costs the same at the 10th record and the 10,000th.

A subscriber's failed attempt is not a record of the log: `record_failure` notes it for the
event's dead letter, and a record that the event was processed resolves that dead letter."""

import hashlib
import logging
from typing import Any

from pydantic import BaseModel

from .contracts import utc_now
from .deadletters import DeadLetterStore
from .paging import PagedIndex, Position, key_part, take
from .state import JsonDocuments

log = logging.getLogger(__name__)
NOT_PROCESSED = ("rejected",)  # outcomes after which Dapr dead-letters the event (DROP)


class EventRecord(BaseModel):
    subscriber: str
    topic: str
    event_type: str
    event_id: str
    outcome: str
    detail: dict[str, Any] = {}
    recorded_at: str = ""


def _prefix(correlation_id: str) -> str:
    return f"baton:events:{key_part(correlation_id)}"


def record_key(correlation_id: str, subscriber: str, event_id: str) -> str:
    digest = hashlib.sha256(f"{subscriber}\n{event_id}".encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{_prefix(correlation_id)}:rec:{digest}"


class EventLog:
    def __init__(self, docs: JsonDocuments, dead_letters: DeadLetterStore | None = None):
        self._docs = docs
        self._dead_letters = dead_letters or DeadLetterStore(docs)

    def seen(self, correlation_id: str, subscriber: str, event_id: str) -> bool:
        return self._docs.get(record_key(correlation_id, subscriber, event_id)) is not None

    def record(self, correlation_id: str, record: EventRecord) -> bool:
        """Append the record unless this subscriber already recorded this event id;
        returns False for such a duplicate. The index slot comes first: a crash before the
        record leaves an empty slot (skipped), never a record that no listing finds."""
        key = record_key(correlation_id, record.subscriber, record.event_id)
        if self._docs.get(key) is not None:
            return False
        index = PagedIndex(self._docs, _prefix(correlation_id))
        at = index.append(key)
        # The record names its slot: a slot left by an attempt that failed before its record
        # was created (the state store went away) is not listed when a retry creates it.
        doc = {**record.model_copy(update={"recorded_at": utc_now()}).model_dump(), "slot": str(at)}
        if not self._docs.create(key, doc):
            index.clear(at)  # a racing delivery recorded it first
            return False
        self._explain(correlation_id, record)
        return True

    def record_failure(self, correlation_id: str, record: EventRecord) -> None:
        """A delivery attempt failed (`record.detail["error"]` says why): noted for the event's
        dead letter, not listed in the log. Best effort: never raises."""
        self._explain(correlation_id, record.model_copy(update={"outcome": "failed"}))

    def _explain(self, correlation_id: str, record: EventRecord) -> None:
        try:
            if record.outcome in (*NOT_PROCESSED, "failed"):
                self._dead_letters.note_failure(record.event_id, record.subscriber, record.topic,
                                                str(record.detail.get("error", "")), correlation_id)
            else:
                self._dead_letters.note_recovery(record.event_id, record.subscriber)
        except Exception as err:  # the record stands; only the dead letter's explanation is missing
            log.warning("could not note %s of %s by %s for its dead letter: %s", record.outcome,
                        record.event_id, record.subscriber, err)

    def page(self, correlation_id: str, after: Position | None = None,
             limit: int = 100) -> tuple[list[EventRecord], Position | None]:
        """Oldest first; with the position to pass as `after` for the next page, or None."""
        def load(at: Position, key: str) -> EventRecord | None:
            doc = self._docs.get(key)
            if not doc or doc.get("slot", str(at)) != str(at):  # none yet, or listed at its own slot
                return None
            return EventRecord.model_validate(doc)

        index = PagedIndex(self._docs, _prefix(correlation_id))
        return take(index.read(after), limit, load, budget=4 * limit + index.page_size)

    def list(self, correlation_id: str) -> list[EventRecord]:
        records: list[EventRecord] = []
        after: Position | None = None
        while True:
            more, after = self.page(correlation_id, after, limit=1000)
            records += more
            if after is None:
                return records
