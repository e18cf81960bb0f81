"""Task documents: what GET /task/{task_id} shows, kept in the Dapr state store, and listed
newest first through the task list (services/common/tasklist.py)."""

from collections.abc import Iterable
from typing import Any

from .contracts import TERMINAL_STATUSES, StepRecord, TaskDocument, TaskStatus, Usage, seconds_between, utc_now
from .metrics import metrics
from .paging import Position, take
from .revisions import STATUS, mark, node_part, step_part
from .state import JsonDocuments
from .tasklist import SCAN_BUDGET, ListedTask, TaskIndex
from .telemetry import trace_id_of


def task_key(task_id: str) -> str:
    return f"baton:task:{task_id}"


def _count_usage(doc: dict[str, Any], part: str, agent: str, used: Usage, model: str | None = None) -> None:
    """Token usage per agent and per model is the sum of its parts, kept by part in the
    document: an agent call (by its call id) or, for replies without one, a step or tree node.
    Recording the same call again (a retried bookkeeping write) replaces it; a second call to
    the agent (a retried activity) is a cost of its own and is added."""
    parts = doc.setdefault("usage_parts", {
        # A document written before parts were kept: what it counted so far, as one part per agent.
        f"earlier:{name}": {"agent": name, "usage": counted} for name, counted in doc["usage"].items()})
    parts[part] = {"agent": agent, "model": model or "unknown", "usage": used.model_dump()}
    doc["usage"] = _totals(parts.values(), "agent")
    doc["usage_by_model"] = _totals(parts.values(), "model")


def _totals(parts: Iterable[dict[str, Any]], by: str) -> dict[str, dict[str, Any]]:
    totals: dict[str, Usage] = {}
    for counted in parts:
        name = counted.get(by) or "unknown"
        totals[name] = totals.get(name, Usage()).plus(Usage.model_validate(counted["usage"]))
    return {name: total.model_dump() for name, total in totals.items()}


def tokens_used(doc: dict[str, Any]) -> int:
    return sum(Usage.model_validate(u).tokens for u in doc.get("usage", {}).values())


def budget_message(doc: dict[str, Any]) -> str:
    return (f"token budget exceeded: used {tokens_used(doc)} of {doc['budget_tokens']} tokens; "
            f"skipped: {', '.join(doc['budget_skipped'])}")


class TaskAlreadyEndedError(Exception):
    def __init__(self, status: str):
        super().__init__(f"the task is already {status}")
        self.status = status


class BudgetExhaustedError(Exception):
    """The task's token budget is used up: the agent call was not made."""


def _count_end(task: TaskDocument) -> None:
    """In the metrics, once: the write that ended the task (a retried one changes nothing)."""
    metrics().task_ended(task.workflow, task.status, seconds_between(task.created_at, task.updated_at))


class TaskStore:
    def __init__(self, docs: JsonDocuments):
        self._docs = docs
        self._index = TaskIndex(docs)

    def create(self, task_id: str, workflow: str, task_input: dict[str, Any], summary: str = "",
               budget_tokens: int | None = None, traceparent: str | None = None) -> TaskDocument:
        """Create the task and list it. The list slots come first, the document names them:
        a crash in between leaves slots without a document, which are never listed; never a
        task that exists but is missing from the list, nor one listed twice."""
        doc = TaskDocument(task_id=task_id, workflow=workflow, input=task_input, budget_tokens=budget_tokens,
                           trace_id=trace_id_of(traceparent), traceparent=traceparent)
        listed = self._index.add(task_id, workflow, doc.created_at, summary)
        stored = {**doc.model_dump(mode="json"), "listed": listed}
        mark(stored, STATUS)
        if not self._docs.create(task_key(task_id), stored):
            self._index.remove(workflow, listed)
            raise ValueError(f"task {task_id} already exists")
        return doc

    def page(self, pattern: str | None = None, status: TaskStatus | None = None, after: Position | None = None,
             limit: int = 20) -> tuple[list[ListedTask], Position | None]:
        """Newest first, of one pattern or all; with the position to pass as `after` for the
        next page, or None at the end. Status is the document's at this read, so the filter
        reads the documents: one call reads at most SCAN_BUDGET and may return fewer than
        `limit`, with a position to go on from."""
        index, slots = self._index.newest_first(pattern, after)

        def load(at: Position, entry: dict[str, Any]) -> ListedTask | None:
            doc = self._docs.get(task_key(entry["id"]))
            if doc is None or doc.get("listed", {}).get(index) != str(at):  # not created (yet), or listed elsewhere
                return None
            return ListedTask.of(entry, doc) if status is None or doc["status"] == status else None

        return take(slots, limit, load, SCAN_BUDGET)

    def get(self, task_id: str) -> TaskDocument | None:
        raw = self.document(task_id)
        return TaskDocument.model_validate(raw) if raw else None

    def document(self, task_id: str) -> dict[str, Any] | None:
        """The task as stored, with what GET /task leaves out (e.g. `changed`), unvalidated:
        for readers of a few parts that read often (the stream)."""
        return self._docs.get(task_key(task_id))

    def allowance(self, task_id: str, call: str) -> int | None:
        """Before an agent call (one read): the tokens left in the task's budget, None if it has
        none. Raises TaskAlreadyEndedError for an ended task (e.g. cancelled) and, once the
        budget is used up, BudgetExhaustedError, having recorded `call` as skipped."""
        doc = self._docs.get(task_key(task_id))
        if doc is None:
            return None
        if doc["status"] in TERMINAL_STATUSES:
            raise TaskAlreadyEndedError(doc["status"])
        budget = doc.get("budget_tokens")
        if not budget:
            return None
        left: int = budget - tokens_used(doc)
        if left > 0:
            return left

        def skip(doc: dict[str, Any]) -> None:
            if doc["status"] not in TERMINAL_STATUSES and call not in doc.setdefault("budget_skipped", []):
                doc["budget_skipped"].append(call)
                doc["updated_at"] = utc_now()

        self._docs.update(task_key(task_id), skip)
        raise BudgetExhaustedError(f"token budget exceeded: the task used {tokens_used(doc)} of {budget} tokens")

    def cancel(self, task_id: str) -> TaskStatus:
        """Mark the task cancelled; returns the status it had. Raises KeyError for an unknown
        task and TaskAlreadyEndedError for one that completed or failed (cancelling a cancelled
        task again is allowed: it changes nothing)."""
        previous: list[TaskStatus] = []

        def change(doc: dict[str, Any]) -> None:
            previous[:] = [doc["status"]]
            if doc["status"] in TERMINAL_STATUSES and doc["status"] != "cancelled":
                raise TaskAlreadyEndedError(doc["status"])
            if doc["status"] != "cancelled":
                doc["status"], doc["updated_at"] = "cancelled", utc_now()
                mark(doc, STATUS)

        saved = TaskDocument.model_validate(self._docs.update(task_key(task_id), change))
        if previous[0] != "cancelled":
            _count_end(saved)
        return previous[0]

    def save_status(self, task_id: str, status: TaskStatus, *, result: dict[str, Any] | None = None,
                   error: str | None = None) -> TaskDocument:
        ended = False  # whether this write ends the task (counted once, in the metrics)

        def change(doc: dict[str, Any]) -> None:
            nonlocal status, error, ended
            ended = False
            # A finished task stays finished: a replayed or late update must not reopen it, and
            # a cancelled one is not completed by the workflow it outran.
            if doc["status"] in TERMINAL_STATUSES and (status not in TERMINAL_STATUSES or doc["status"] == "cancelled"):
                return
            if status in ("completed", "failed") and doc.get("budget_skipped"):
                # Whatever the pattern made of the calls it could not make, the budget ended it.
                status, error = "budget_exceeded", budget_message(doc)
            written = {"status": status, **({"result": result} if result is not None else {}),
                       **({"error": error} if error is not None else {})}
            if all(doc.get(name) == value for name, value in written.items()):
                return  # a retried write: nothing changed, no event
            ended = status in TERMINAL_STATUSES and doc["status"] not in TERMINAL_STATUSES
            doc.update(written, updated_at=utc_now())
            mark(doc, STATUS)

        saved = TaskDocument.model_validate(self._docs.update(task_key(task_id), change))
        if ended:
            _count_end(saved)
        return saved

    def add_step(self, task_id: str, step: StepRecord) -> TaskDocument:
        """Add a completed step, replacing an earlier record of the same step (a retried
        activity records once), and add its token usage to the agent's total."""

        def change(doc: dict[str, Any]) -> None:
            if doc["status"] in TERMINAL_STATUSES:  # a late result of a cancelled task is dropped
                return
            doc["steps"] = [s for s in doc["steps"] if s["name"] != step.name]
            doc["steps"].append(step.model_dump(mode="json"))
            if step.agent and step.usage:
                _count_usage(doc, f"call:{step.call_id}" if step.call_id else f"step:{step.name}", step.agent,
                             step.usage, step.result.get("model"))
            doc["updated_at"] = utc_now()
            mark(doc, step_part(step.name))

        return TaskDocument.model_validate(self._docs.update(task_key(task_id), change))

    def merge_tree_node(self, task_id: str, path: list[str], fields: dict[str, Any],
                        usage: tuple[str, Usage] | None = None, call_id: str | None = None,
                        model: str | None = None) -> TaskDocument:
        """Merge `fields` into the tree node at `path` (created as needed), e.g.
        ["managers", "research", "workers", "web-scraper"]; optionally add an agent's usage."""

        def change(doc: dict[str, Any]) -> None:
            if doc["status"] in TERMINAL_STATUSES:  # a late result of a cancelled task is dropped
                return
            node = doc.get("tree") or {}
            doc["tree"] = node
            for name in path:
                node = node.setdefault(name, {})
            node.update(fields)
            if usage:
                _count_usage(doc, f"call:{call_id}" if call_id else "tree:" + "/".join(path), *usage, model)
            doc["updated_at"] = utc_now()
            mark(doc, node_part(path))

        return TaskDocument.model_validate(self._docs.update(task_key(task_id), change))
