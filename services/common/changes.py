"""What GET /task/{task_id}/stream sends, made from a stored task document alone (no I/O).

The opening `snapshot` is the task as GET /task/{task_id} shows it. After it, each part of
the task changed since a revision (services/common/revisions.py) is one event in its current
form, oldest first, its id the revision at which it last changed: a reader that resumes from
an id gets every later change once, however many writes it missed."""

from dataclasses import dataclass
from typing import Any

from .contracts import TaskDocument
from .revisions import APPROVAL, STATUS, changed_since, node_part, step_part

STEP, NODE = step_part(""), node_part([])  # the prefixes of a step's and a tree node's part
STATUS_FIELDS = ("status", "error", "result", "updated_at")


@dataclass(frozen=True)
class Change:
    """One event to send: its id (a revision of the task), name and JSON data."""

    revision: int
    event: str
    data: dict[str, Any]


def snapshot(doc: dict[str, Any]) -> Change:
    """The whole task, at the document's revision."""
    return Change(doc.get("revision", 0), "snapshot", TaskDocument.model_validate(doc).model_dump(mode="json"))


def changes_since(doc: dict[str, Any], revision: int) -> list[Change]:
    """Every part changed after `revision`, each once in its current form, oldest first. A part
    no longer in the document (or one this code does not know) has nothing to show: skipped."""
    found = (_change(doc, seen, part) for seen, part in changed_since(doc, revision))
    return [change for change in found if change is not None]


def _change(doc: dict[str, Any], revision: int, part: str) -> Change | None:
    if part == STATUS:
        return Change(revision, "status", {name: doc.get(name) for name in STATUS_FIELDS})
    if part == APPROVAL:
        return Change(revision, "approval", doc["approval"]) if doc.get("approval") else None
    if part.startswith(STEP):
        return _step(doc, revision, part.removeprefix(STEP))
    if part.startswith(NODE):
        return _node(doc, revision, part.removeprefix(NODE).split("/"))
    return None  # written by a newer version than this one


def _step(doc: dict[str, Any], revision: int, name: str) -> Change | None:
    step = next((s for s in doc.get("steps", []) if s.get("name") == name), None)
    if step is None:
        return None
    # A consensus task's steps recorded for an agent are its voters' votes; a step of its own
    # (the approval decision) stays a step.
    vote = doc.get("workflow") == "consensus" and step.get("agent")
    return Change(revision, "vote" if vote else "step", step)


def _node(doc: dict[str, Any], revision: int, path: list[str]) -> Change | None:
    node: Any = doc.get("tree")
    for name in path:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return None
    # The node's own fields: its child groups (e.g. a manager's `workers`) change as parts of their own.
    fields = {name: value for name, value in node.items() if not isinstance(value, dict)}
    return Change(revision, "node", {"path": path, "node": fields})
