"""A JsonDocuments in memory that counts what each call costs the real state store, for
tests of how an operation's cost grows with the data (counted, not timed)."""

import copy
import json
from collections import Counter
from collections.abc import Callable

from services.common.state import DocumentNotFoundError

# State store round trips per call of services.common.state.JsonDocuments.
ROUND_TRIPS = {"get": 1, "create": 1, "update": 2, "update of nothing": 1, "delete": 2}


class CountingDocuments:
    """Documents kept as JSON text, as the store keeps them; `calls` counts every call and
    `largest_write` is the size of the largest document written since `reset()`."""

    def __init__(self):
        self.texts: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.largest_write = 0

    def reset(self) -> None:
        self.calls.clear()
        self.largest_write = 0

    @property
    def round_trips(self) -> int:
        return sum(ROUND_TRIPS[call] * n for call, n in self.calls.items())

    def _write(self, key: str, doc: dict) -> None:
        text = json.dumps(doc, allow_nan=False)
        self.largest_write = max(self.largest_write, len(text))
        self.texts[key] = text

    def get(self, key: str) -> dict | None:
        self.calls["get"] += 1
        text = self.texts.get(key)
        return json.loads(text) if text is not None else None

    def create(self, key: str, doc: dict, ttl_seconds: int | None = None) -> bool:
        self.calls["create"] += 1
        if key in self.texts:
            return False
        self._write(key, doc)
        return True

    def update(self, key: str, change: Callable[[dict], None], default: dict | None = None,
               ttl_seconds: int | None = None) -> dict:
        text = self.texts.get(key)
        if text is None and default is None:
            self.calls["update of nothing"] += 1  # read, found nothing, raised
            raise DocumentNotFoundError(key)
        self.calls["update"] += 1
        doc: dict = json.loads(text) if text is not None else copy.deepcopy(default or {})
        change(doc)
        self._write(key, doc)
        return doc

    def delete(self, key: str, when: Callable[[dict], bool] | None = None) -> bool:
        self.calls["delete"] += 1
        text = self.texts.get(key)
        if text is None or (when is not None and not when(json.loads(text))):
            return False
        del self.texts[key]
        return True
