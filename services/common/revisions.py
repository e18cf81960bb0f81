"""Numbered changes of a task document, what GET /task/{task_id}/stream replays.

Every write to a task bumps the document's `revision` once per part it changes and notes,
under `changed`, the revision at which each part last changed: the status, a step, a node
of the hierarchical tree, the approval. A reader that has seen revision n asks for the parts
changed after n and gets each in its current form, in order, with no log that grows with
every write (a step recorded twice is one part) and nothing kept outside the document, so
any replica can serve any stream."""

from typing import Any

STATUS = "status"
APPROVAL = "approval"


def step_part(name: str) -> str:
    return f"step:{name}"


def node_part(path: list[str]) -> str:
    return "node:" + "/".join(path)


def mark(doc: dict[str, Any], part: str) -> None:
    """Note that `part` changed in this write: one new revision for it alone, so no two
    changes share an event id."""
    doc["revision"] = doc.get("revision", 0) + 1
    doc.setdefault("changed", {})[part] = doc["revision"]


def changed_since(doc: dict[str, Any], revision: int) -> list[tuple[int, str]]:
    """(revision, part) of every part changed after `revision`, oldest first."""
    return sorted((seen, part) for part, seen in doc.get("changed", {}).items() if seen > revision)
