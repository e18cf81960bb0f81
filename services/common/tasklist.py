"""The task list: every task in a paged index (services/common/paging.py), newest last, and
again in an index of its pattern, so listing one pattern never scans the others.

State keys:
- `baton:tasks:all:*`: a paged index of every task;
- `baton:tasks:pattern:<pattern>:*`: a paged index of the tasks of that pattern.

An entry is what never changes about a task, `{id, pattern, created_at, summary}`; what
changes (status, updated_at, usage) is read from the task document when listed. The task
document names its slots (`listed`: `{"all": "<page>.<slot>", "pattern": ...}`): a slot
that its document does not name (an append that landed twice, a task created twice) is not
listed, and neither is a slot whose document does not exist (a crash before it was created)."""

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from .contracts import TaskStatus, Usage
from .paging import PagedIndex, Position, key_part
from .state import JsonDocuments

SUMMARY_LENGTH = 80
# Task documents one listing call reads at most: a status filter is applied to the documents,
# so a rare status may need many calls, each bounded, each returning a cursor to go on from.
SCAN_BUDGET = 200
EVERY_PATTERN = "all"


def shorten(text: str, length: int = SUMMARY_LENGTH) -> str:
    """`text` on one line, at most `length` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[:length - 1] + "…"


class ListedTask(BaseModel):
    """A task as GET /tasks lists it."""

    task_id: str
    pattern: str
    status: TaskStatus
    created_at: str
    updated_at: str
    summary: str = Field(description=f"The request's topic, query, goal or content, at most {SUMMARY_LENGTH} "
                                     "characters")
    usage: Usage = Field(description="Tokens and estimated cost, every agent together")

    @classmethod
    def of(cls, entry: dict[str, Any], doc: dict[str, Any]) -> "ListedTask":
        total = Usage()
        for used in doc["usage"].values():
            total = total.plus(Usage.model_validate(used))
        return cls(task_id=entry["id"], pattern=entry["pattern"], status=doc["status"], created_at=entry["created_at"],
                   updated_at=doc["updated_at"], summary=entry["summary"], usage=total)


class TaskIndex:
    def __init__(self, docs: JsonDocuments):
        self._docs = docs

    def _index(self, pattern: str | None) -> PagedIndex:
        name = EVERY_PATTERN if pattern is None else f"pattern:{key_part(pattern)}"
        return PagedIndex(self._docs, f"baton:tasks:{name}")

    def add(self, task_id: str, pattern: str, created_at: str, summary: str) -> dict[str, str]:
        """A slot in both indexes; returns where, for the task document to name."""
        entry = {"id": task_id, "pattern": pattern, "created_at": created_at, "summary": summary}
        return {EVERY_PATTERN: str(self._index(None).append(entry)), "pattern": str(self._index(pattern).append(entry))}

    def remove(self, pattern: str, listed: dict[str, str]) -> None:
        self._index(None).clear(Position.parse(listed[EVERY_PATTERN]))
        self._index(pattern).clear(Position.parse(listed["pattern"]))

    def newest_first(self, pattern: str | None,
                     after: Position | None) -> tuple[str, Iterator[tuple[Position, Any]]]:
        """The slots of every task, or of one pattern's, with the name the document knows
        that index by (a key of its `listed`)."""
        return (EVERY_PATTERN if pattern is None else "pattern",
                self._index(pattern).read(after, newest_first=True))
