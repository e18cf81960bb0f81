"""Notifications by correlation id (key baton:notifications:<correlation_id>): written by
the notifier, read by the orchestrator's API. One per event id."""

from typing import Any

from pydantic import BaseModel

from .state import JsonDocuments


def notifications_key(correlation_id: str) -> str:
    return f"baton:notifications:{correlation_id}"


class Notification(BaseModel):
    id: str  # the event's id: a second delivery of the same event adds nothing
    kind: str
    message: str
    correlation_id: str
    created_at: str


class NotificationStore:
    def __init__(self, docs: JsonDocuments):
        self._docs = docs

    def add(self, note: Notification) -> bool:
        """Store the notification unless one with its id exists; False for such a duplicate."""
        added = False

        def change(doc: dict[str, Any]) -> None:
            nonlocal added
            added = all(n["id"] != note.id for n in doc["entries"])  # re-evaluated on every ETag retry
            if added:
                doc["entries"].append(note.model_dump())

        self._docs.update(notifications_key(note.correlation_id), change, default={"entries": []})
        return added

    def list(self, correlation_id: str) -> list[Notification]:
        doc = self._docs.get(notifications_key(correlation_id)) or {"entries": []}
        return [Notification.model_validate(n) for n in doc["entries"]]
