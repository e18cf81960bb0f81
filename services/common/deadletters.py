"""Dead letters: events a subscription could not process after its retries, kept by the
orchestrator (one state document, key baton:dead-letters) for listing, replay and purge."""

import logging
from typing import Any

from pydantic import BaseModel

from .state import JsonDocuments

log = logging.getLogger(__name__)
DEAD_LETTERS_KEY = "baton:dead-letters"
MAX_KEPT = 1000


class DeadLetter(BaseModel):
    id: str
    type: str
    topic: str | None  # the topic it was first published to, when known
    source: str
    data: Any
    received_at: str
    times: int = 1  # dead-lettered again, e.g. after a replay that failed too


class DeadLetterStore:
    def __init__(self, docs: JsonDocuments):
        self._docs = docs

    def add(self, letter: DeadLetter) -> None:
        def change(doc: dict[str, Any]) -> None:
            for kept in doc["entries"]:
                if kept["id"] == letter.id:
                    kept["times"] += 1
                    kept["received_at"] = letter.received_at
                    return
            doc["entries"].append(letter.model_dump())
            if len(doc["entries"]) > MAX_KEPT:
                dropped = doc["entries"].pop(0)
                log.warning("dead-letter store full: dropped the oldest, %s", dropped["id"])

        self._docs.update(DEAD_LETTERS_KEY, change, default={"entries": []})

    def list(self) -> list[DeadLetter]:
        doc = self._docs.get(DEAD_LETTERS_KEY) or {"entries": []}
        return [DeadLetter.model_validate(e) for e in doc["entries"]]

    def get(self, letter_id: str) -> DeadLetter | None:
        return next((d for d in self.list() if d.id == letter_id), None)

    def remove(self, letter_id: str) -> bool:
        """Remove one dead letter; False if there was none with that id."""
        found = False

        def change(doc: dict[str, Any]) -> None:
            nonlocal found
            before = len(doc["entries"])
            doc["entries"] = [e for e in doc["entries"] if e["id"] != letter_id]
            found = len(doc["entries"]) < before

        self._docs.update(DEAD_LETTERS_KEY, change, default={"entries": []})
        return found

    def clear(self) -> int:
        """Remove every dead letter; returns how many there were."""
        purged = 0

        def change(doc: dict[str, Any]) -> None:
            nonlocal purged
            purged = len(doc["entries"])
            doc["entries"] = []

        self._docs.update(DEAD_LETTERS_KEY, change, default={"entries": []})
        return purged
