"""An append-only list in the state store, kept in small fixed-size pages, for stores that
must list their documents: Dapr's state API has no key scan, so every listing reads this.

Keys under a prefix P:
- `P:head` `{"page": n, "floor": f, "swept": s}`: appends go to page n; pages f..n are
  listed; pages s..f-1 were emptied by a purge and are deleted by it.
- `P:page:<k>` `{"slots": [entry | null, ...]}`: at most PAGE_SIZE slots. A removed entry
  leaves null, so positions never shift and a cursor stays valid.

An append reads the head and updates one page (ETag-safe), whatever the length of the list;
a removal updates one page, given the position the append returned."""

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from .inputs import ID_PATTERN
from .state import JsonDocuments

PAGE_SIZE = 100
CURSOR_PATTERN = r"^[0-9]{1,9}\.[0-9]{1,4}$"  # what str(Position) gives
T = TypeVar("T")


def key_part(value: str, max_length: int = 200) -> str:
    """`value` as a part of a state key: itself if it is a plain id (inputs.ID_PATTERN),
    else a digest (Dapr refuses keys holding `||`; Cosmos DB ids refuse `/`, `#`, `?`)."""
    if len(value) <= max_length and re.fullmatch(ID_PATTERN, value):
        return value
    return "sha256-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]


@dataclass(frozen=True)
class Position:
    page: int
    slot: int

    def __str__(self) -> str:
        return f"{self.page}.{self.slot}"

    @classmethod
    def parse(cls, cursor: str) -> "Position":
        page, slot = cursor.split(".")
        return cls(int(page), int(slot))


class _PageFullError(Exception):
    pass


class PagedIndex:
    def __init__(self, docs: JsonDocuments, prefix: str, page_size: int = PAGE_SIZE):
        self._docs, self.prefix, self.page_size = docs, prefix, page_size
        self._head_key = f"{prefix}:head"

    def _page_key(self, page: int) -> str:
        return f"{self.prefix}:page:{page}"

    def _head(self) -> dict[str, int]:
        return self._docs.get(self._head_key) or {"page": 0, "floor": 0, "swept": 0}

    def append(self, entry: Any) -> Position:
        page = self._head()["page"]
        while True:
            slot = -1

            def change(doc: dict[str, Any]) -> None:
                nonlocal slot
                if len(doc["slots"]) >= self.page_size:
                    raise _PageFullError
                doc["slots"].append(entry)
                slot = len(doc["slots"]) - 1

            try:
                self._docs.update(self._page_key(page), change, default={"slots": []})
            except _PageFullError:
                page = self._next_page(page)
                continue
            head = self._head()
            if page >= head["floor"]:
                return Position(page, slot)
            page = head["page"]  # a purge passed this page while we read a stale head

    def _next_page(self, full: int) -> int:
        def change(doc: dict[str, Any]) -> None:
            doc["page"] = max(doc["page"], full + 1)

        return int(self._docs.update(self._head_key, change, default={"page": 0, "floor": 0, "swept": 0})["page"])

    def clear(self, at: Position) -> None:
        """Empty one slot (its entry is gone or moved); nothing if the page is gone."""
        def change(doc: dict[str, Any]) -> None:
            if at.slot < len(doc["slots"]):
                doc["slots"][at.slot] = None

        with contextlib.suppress(KeyError):  # DocumentNotFoundError: the page is gone
            self._docs.update(self._page_key(at.page), change)

    def read(self, after: Position | None = None, newest_first: bool = False) -> Iterator[tuple[Position, Any]]:
        """Every slot (null ones too) after `after`, oldest or newest first, a page at a time."""
        head = self._head()
        if newest_first:
            first = head["page"] if after is None else min(after.page, head["page"])
            pages: Iterable[int] = range(first, head["floor"] - 1, -1)
        else:
            first = head["floor"] if after is None else max(after.page, head["floor"])
            pages = range(first, head["page"] + 1)
        for page in pages:
            slots = (self._docs.get(self._page_key(page)) or {"slots": []})["slots"]
            order = range(len(slots) - 1, -1, -1) if newest_first else range(len(slots))
            for slot in order:
                if after is not None and page == after.page and (slot >= after.slot if newest_first
                                                                  else slot <= after.slot):
                    continue
                yield Position(page, slot), slots[slot]

    def purge(self) -> Iterator[tuple[Position, Any]]:
        """Start a new, empty list (later appends go past it), then yield each entry of the
        old pages, with its position, and delete them. An interrupted purge is finished by
        the next one."""
        old: dict[str, int] = {}

        def move_floor(doc: dict[str, Any]) -> None:
            old.update(doc)
            doc["floor"] = doc["page"] = doc["page"] + 1

        self._docs.update(self._head_key, move_floor, default={"page": 0, "floor": 0, "swept": 0})
        for page in range(old["swept"], old["page"] + 1):
            doc = self._docs.get(self._page_key(page))
            if doc:
                yield from ((Position(page, slot), entry) for slot, entry in enumerate(doc["slots"])
                            if entry is not None)
                self._docs.delete(self._page_key(page))

        def swept(doc: dict[str, Any]) -> None:
            doc["swept"] = max(doc["swept"], old["page"] + 1)

        self._docs.update(self._head_key, swept)


def take(slots: Iterable[tuple[Position, Any]], limit: int, load: Callable[[Position, Any], T | None],
         budget: int) -> tuple[list[T], Position | None]:
    """Up to `limit` items that `load` makes of the slots (None: skip it), reading at most
    `budget` slots; with the position to go on after, or None when the list ends."""
    items: list[T] = []
    for scanned, (position, entry) in enumerate(slots, start=1):
        item = load(position, entry) if entry is not None else None
        if item is not None:
            items.append(item)
        if len(items) >= limit or scanned >= budget:
            return items, position
    return items, None
