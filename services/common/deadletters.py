"""Dead letters: events a subscription could not process after its retries, kept by the
orchestrator for listing, replay and purge; none is ever dropped for lack of room.

State keys (a letter id is the event id, or its digest: paging.key_part):
- `baton:dead-letter:<id>`: one document per dead letter (DeadLetter, and its `position`);
- `baton:dead-letters:open:*`, `baton:dead-letters:resolved:*`: a paged index each
  (services/common/paging.py) of `{id, topic, type}`, newest last;
- `baton:delivery-failures:<id>`: which subscribers failed on the event, their attempts
  and last error, as they reported them (kept FAILURE_NOTES_TTL_SECONDS after the last).

Dapr's dead-letter delivery carries the event as published, not which subscriber failed:
the failing subscriber notes that itself, and the letter copies the notes when it arrives.
When every subscriber that failed has processed the event (after a replay), the letter
moves from `open` to `resolved`."""

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from .contracts import utc_now
from .paging import PagedIndex, Position, key_part, take
from .state import JsonDocuments

log = logging.getLogger(__name__)
Status = Literal["open", "resolved"]
FAILURE_NOTES_TTL_SECONDS = 7 * 24 * 3600
KEPT_ATTEMPT_TIMES = 20
SCAN_BUDGET = 2000  # index slots one listing call reads at most (filters may skip many)


class DeliveryFailure(BaseModel):
    """One subscriber's failed deliveries of one event."""

    subscriber: str
    topic: str = ""
    attempts: int = 0
    attempt_times: list[str] = []  # the latest KEPT_ATTEMPT_TIMES
    last_error: str = ""
    recovered_at: str | None = None  # when it processed the event after all


class DeadLetter(BaseModel):
    id: str
    event_id: str
    type: str
    topic: str | None  # the topic it was first published to, when known
    source: str
    data: Any
    correlation_id: str | None = None
    received_at: str
    last_received_at: str | None = None
    times: int = 1  # dead-lettered again, e.g. after a replay that failed too
    status: Status = "open"
    failures: dict[str, DeliveryFailure] = {}  # by subscriber app id
    replays: int = 0
    last_replayed_at: str | None = None
    resolved_at: str | None = None
    position: dict[str, Any] | None = Field(None, exclude=True)  # its slot in its status's index


def letter_id(event_id: str) -> str:
    return key_part(event_id)


def _key(lid: str) -> str:
    return f"baton:dead-letter:{lid}"


def _notes_key(lid: str) -> str:
    return f"baton:delivery-failures:{lid}"


def _position(status: str, at: Position) -> dict[str, Any]:
    return {"index": status, "page": at.page, "slot": at.slot}


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["id"], "topic": doc["topic"], "type": doc["type"]}


def _unresolved(doc: dict[str, Any]) -> bool:
    failures = doc["failures"].values()
    return not failures or any(f["recovered_at"] is None for f in failures)


class DeadLetterStore:
    def __init__(self, docs: JsonDocuments):
        self._docs = docs
        self._index = {status: PagedIndex(docs, f"baton:dead-letters:{status}") for status in ("open", "resolved")}

    def add(self, letter: DeadLetter) -> None:
        """A dead letter arrived: kept, or counted again (and reopened) if it is known."""
        noted = self._docs.get(_notes_key(letter.id)) or {}
        notes = noted.get("failures", {})
        if self._docs.get(_key(letter.id)) is None:
            fresh = {**letter.model_dump(), "failures": notes, "status": "open",
                     "correlation_id": letter.correlation_id or noted.get("correlation_id")}
            at = self._index["open"].append(_entry(fresh))
            if self._docs.create(_key(letter.id), {**fresh, "position": _position("open", at)}):
                if not _unresolved(fresh):  # its subscribers had processed it by now after all
                    self._resolve_if_recovered(letter.id)
                return
            self._index["open"].clear(at)  # the same letter arrived twice at once: count it below

        def again(doc: dict[str, Any]) -> bool:
            doc["times"] += 1
            doc["last_received_at"] = letter.received_at
            doc["failures"].update(notes)
            doc["resolved_at"] = None
            return bool(doc["status"] != "open")

        self._place(letter.id, "open", again)
        self._resolve_if_recovered(letter.id)

    def _place(self, lid: str, status: Status, change: Callable[[dict[str, Any]], bool]) -> None:
        """Apply `change` to the letter and, if it says so, move the letter into `status`'s
        index: a new slot first, then the document, then the old slot cleared (a reader
        meeting a slot that the document does not name skips it)."""
        doc = self._docs.get(_key(lid))
        if doc is None:
            return
        at = self._index[status].append(_entry(doc)) if doc["status"] != status else None
        old: dict[str, Any] | None = None
        late = False  # the letter left `status` after we looked: move it in a second pass

        def apply(doc: dict[str, Any]) -> None:
            nonlocal old, late
            old, late = None, False
            if change(doc) and doc["status"] != status:
                if at is None:
                    late = True
                else:
                    old, doc["status"], doc["position"] = doc["position"], status, _position(status, at)

        self._docs.update(_key(lid), apply)
        if old is not None:
            self._index[old["index"]].clear(Position(old["page"], old["slot"]))
        elif at is not None:
            self._index[status].clear(at)
        if late:
            self._place(lid, status, lambda doc: True)

    def note_failure(self, event_id: str, subscriber: str, topic: str, error: str, correlation_id: str) -> None:
        """A subscriber failed to process an event (once more)."""
        now = utc_now()

        def change(doc: dict[str, Any]) -> None:
            failure = doc["failures"].setdefault(subscriber, DeliveryFailure(subscriber=subscriber).model_dump())
            failure.update(topic=topic, attempts=failure["attempts"] + 1, last_error=error[:1000], recovered_at=None,
                           attempt_times=[*failure["attempt_times"], now][-KEPT_ATTEMPT_TIMES:])

        self._docs.update(_notes_key(letter_id(event_id)), change, ttl_seconds=FAILURE_NOTES_TTL_SECONDS,
                          default={"event_id": event_id, "correlation_id": correlation_id, "failures": {}})

    def noted_subscribers(self, event_id: str) -> set[str]:
        """The subscribers that noted a failure on the event."""
        return set((self._docs.get(_notes_key(letter_id(event_id))) or {}).get("failures", {}))

    def note_recovery(self, event_id: str, subscriber: str) -> None:
        """A subscriber processed an event: if it had failed on it, that is over, and the
        event's dead letter is resolved once no subscriber is failing on it any more.
        Costs one read when the event never failed."""
        lid, now, was_failing = letter_id(event_id), utc_now(), False

        def recovered(doc: dict[str, Any]) -> None:
            nonlocal was_failing
            failure = doc["failures"].get(subscriber)
            was_failing = failure is not None and failure["recovered_at"] is None
            if was_failing:
                failure["recovered_at"] = now

        try:
            self._docs.update(_notes_key(lid), recovered, ttl_seconds=FAILURE_NOTES_TTL_SECONDS)
            if was_failing:
                self._docs.update(_key(lid), recovered)
        except KeyError:  # DocumentNotFoundError: it never failed, or has no dead letter (yet)
            return
        self._resolve_if_recovered(lid)

    def _resolve_if_recovered(self, lid: str) -> None:
        doc = self._docs.get(_key(lid))
        if doc is None or doc["status"] != "open" or _unresolved(doc):
            return
        now = utc_now()

        def resolved(doc: dict[str, Any]) -> bool:
            if _unresolved(doc):
                return False
            doc["resolved_at"] = now
            return True

        self._place(lid, "resolved", resolved)
        log.info("dead letter %s resolved: every subscriber that failed on it has processed it", lid)

    def mark_replayed(self, lid: str) -> None:
        def change(doc: dict[str, Any]) -> None:
            doc["replays"] += 1
            doc["last_replayed_at"] = utc_now()

        with contextlib.suppress(KeyError):  # purged meanwhile
            self._docs.update(_key(lid), change)

    def get(self, lid: str) -> DeadLetter | None:
        doc = self._docs.get(_key(lid))
        return DeadLetter.model_validate(doc) if doc else None

    def page(self, status: Status = "open", topic: str | None = None, type_: str | None = None,
             after: Position | None = None, limit: int = 50) -> tuple[list[DeadLetter], Position | None]:
        """Newest first (open ones by arrival, resolved ones by resolution), filtered; with
        the position to pass as `after` for the next page, or None at the end."""
        def load(at: Position, entry: dict[str, Any]) -> DeadLetter | None:
            if (topic and entry["topic"] != topic) or (type_ and entry["type"] != type_):
                return None
            letter = self.get(entry["id"])
            return letter if letter and letter.position == _position(status, at) else None  # else moved, gone

        return take(self._index[status].read(after, newest_first=True), limit, load, SCAN_BUDGET)

    def remove(self, lid: str) -> bool:
        """Remove one dead letter; False if there was none with that id."""
        doc = self._docs.get(_key(lid))
        if doc is None or not self._docs.delete(_key(lid)):
            return False
        at = doc["position"]
        self._index[at["index"]].clear(Position(at["page"], at["slot"]))
        return True

    def clear(self) -> int:
        """Remove every dead letter, a page at a time; returns how many there were."""
        purged = 0
        for status, index in self._index.items():
            for at, entry in index.purge():
                purged += self._docs.delete(_key(entry["id"]), when=_at(_position(status, at)))
        return purged


def _at(position: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: bool(doc["position"] == position)
