"""Fakes of Baton's own seams for unit tests (never of Dapr behaviour itself)."""

import copy
from collections.abc import Callable


class MemoryDocuments:
    """In-memory stand-in for services.common.state.JsonDocuments."""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        return copy.deepcopy(self.docs.get(key))

    def create(self, key: str, doc: dict) -> bool:
        if key in self.docs:
            return False
        self.docs[key] = copy.deepcopy(doc)
        return True

    def update(self, key: str, change: Callable[[dict], None], default: dict | None = None) -> dict:
        if key not in self.docs:
            if default is None:
                raise KeyError(key)
            self.docs[key] = copy.deepcopy(default)
        change(self.docs[key])
        return copy.deepcopy(self.docs[key])
