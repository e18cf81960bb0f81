"""What each subscriber did with each event, by correlation id (the task id).

Subscribers record every delivery here; a second delivery of the same event id to the
same subscriber is recognised and has no second effect (idempotent processing)."""

from typing import Any

from pydantic import BaseModel

from .contracts import utc_now
from .state import JsonDocuments


def events_key(correlation_id: str) -> str:
    return f"baton:events:{correlation_id}"


class EventRecord(BaseModel):
    subscriber: str
    topic: str
    event_type: str
    event_id: str
    outcome: str
    detail: dict[str, Any] = {}
    recorded_at: str = ""


class EventLog:
    def __init__(self, docs: JsonDocuments):
        self._docs = docs

    def seen(self, correlation_id: str, subscriber: str, event_id: str) -> bool:
        doc = self._docs.get(events_key(correlation_id)) or {"entries": []}
        return any(e["subscriber"] == subscriber and e["event_id"] == event_id for e in doc["entries"])

    def record(self, correlation_id: str, record: EventRecord) -> bool:
        """Append the record unless this subscriber already recorded this event id;
        returns False for such a duplicate."""
        added = False

        def change(doc: dict[str, Any]) -> None:
            nonlocal added
            added = False  # re-evaluated on every ETag retry
            if any(e["subscriber"] == record.subscriber and e["event_id"] == record.event_id
                   for e in doc["entries"]):
                return
            doc["entries"].append(record.model_copy(update={"recorded_at": utc_now()}).model_dump())
            added = True

        self._docs.update(events_key(correlation_id), change, default={"entries": []})
        return added

    def list(self, correlation_id: str) -> list[EventRecord]:
        doc = self._docs.get(events_key(correlation_id)) or {"entries": []}
        return [EventRecord.model_validate(e) for e in doc["entries"]]
