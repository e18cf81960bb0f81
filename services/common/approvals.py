"""Approval gates in the task document: a task waits at its gate (`awaiting_approval`, with
what is to be approved) until one decision is taken, a person's or the gate's timeout.

The document is where the decision is taken, first write wins: the API stores a person's
decision only while the task waits and nobody has decided, then tells the workflow; the
workflow's own decision (a timeout) stands only if no person's was stored first. So a second
decision, or one that lost to the timeout, is refused with what did happen, and the workflow
always acts on the decision the document shows."""

from typing import Any

from .contracts import TERMINAL_STATUSES, ApprovalGate, ApprovalState, Decision, StepRecord, utc_now
from .revisions import APPROVAL, STATUS, mark, step_part
from .state import JsonDocuments
from .tasks import task_key

APPROVAL_STEP = "approval"  # the decision is recorded as a step of this name
DONE = {"approve": "approved", "reject": "rejected"}


class NotAwaitingApprovalError(Exception):
    """The task is not waiting for a decision (never gated, not there yet, or past it)."""

    def __init__(self, status: str, decision: Decision | None):
        self.status, self.decision = status, decision
        decided = f" ({describe(decision)})" if decision else ""
        super().__init__(f"the task is {status}, not awaiting approval{decided}")


class AlreadyDecidedError(Exception):
    def __init__(self, decision: Decision):
        self.decision = decision
        super().__init__(f"the task's approval is already decided: {describe(decision)}")


def describe(decision: Decision) -> str:
    """A decision in a sentence, for error messages and the task's error."""
    if decision.timed_out:
        return f"{DONE[decision.verdict]} on timeout at {decision.decided_at}"
    comment = f": {decision.comment}" if decision.comment else ""
    return f"{DONE[decision.verdict]} by {decision.by} at {decision.decided_at}{comment}"


def _state(doc: dict[str, Any]) -> ApprovalState | None:
    return ApprovalState.model_validate(doc["approval"]) if doc.get("approval") else None


class ApprovalStore:
    def __init__(self, docs: JsonDocuments):
        self._docs = docs

    def request(self, task_id: str, gate: ApprovalGate, subject: dict[str, Any], requested_at: str,
                deadline: str) -> None:
        """The workflow reached its gate: the task waits, showing what is to be approved. A
        replayed request changes nothing; a task cancelled meanwhile stays cancelled."""

        def change(doc: dict[str, Any]) -> None:
            if doc["status"] in TERMINAL_STATUSES or (doc.get("approval") or {}).get("requested_at"):
                return
            doc["approval"] = ApprovalState(**gate.model_dump(), requested_at=requested_at, deadline=deadline,
                                            subject=subject).model_dump(mode="json")
            doc["status"], doc["updated_at"] = "awaiting_approval", utc_now()
            mark(doc, APPROVAL)
            mark(doc, STATUS)

        self._docs.update(task_key(task_id), change)

    def decide(self, task_id: str, decision: Decision) -> None:
        """A person's decision, stored if the task waits and nobody decided yet. Raises
        KeyError (unknown task), NotAwaitingApprovalError or AlreadyDecidedError."""

        def change(doc: dict[str, Any]) -> None:
            state = _state(doc)
            if doc["status"] != "awaiting_approval" or state is None:
                raise NotAwaitingApprovalError(doc["status"], state.decision if state else None)
            if state.decision is not None:
                raise AlreadyDecidedError(state.decision)
            doc["approval"]["decision"] = decision.model_dump(mode="json")
            doc["updated_at"] = utc_now()
            mark(doc, APPROVAL)

        self._docs.update(task_key(task_id), change)

    def withdraw(self, task_id: str, decision_id: str) -> bool:
        """Take back a stored decision the workflow could not be told of: True if it is gone,
        False if the workflow already acted on it (it stands)."""
        withdrawn = []

        def change(doc: dict[str, Any]) -> None:
            state = _state(doc)
            if doc["status"] == "awaiting_approval" and state and state.decision \
                    and state.decision.decision_id == decision_id:
                doc["approval"]["decision"] = None
                mark(doc, APPROVAL)
                withdrawn.append(True)

        self._docs.update(task_key(task_id), change)
        return bool(withdrawn)

    def apply(self, task_id: str, proposed: Decision) -> Decision:
        """The workflow's side: the decision that stands is the stored one if a person's came
        first, else `proposed` (the timeout's, or the event's own copy). It is recorded as the
        `approval` step; an approved task goes back to in_progress (a rejected one is ended
        by the workflow's lifecycle)."""
        standing: list[Decision] = []

        def change(doc: dict[str, Any]) -> None:
            state = _state(doc)
            decision = state.decision if state and state.decision else proposed
            standing[:] = [decision]
            if doc["status"] in TERMINAL_STATUSES:
                return  # cancelled while waiting: nothing to record
            if state is not None and state.decision is None:
                doc["approval"]["decision"] = decision.model_dump(mode="json")
                mark(doc, APPROVAL)
            if not any(s["name"] == APPROVAL_STEP for s in doc["steps"]):
                step = StepRecord(name=APPROVAL_STEP, completed_at=decision.decided_at,
                                  result=decision.model_dump(mode="json"))
                doc["steps"].append(step.model_dump(mode="json"))
                mark(doc, step_part(APPROVAL_STEP))
            if decision.verdict == "approve" and doc["status"] == "awaiting_approval":
                doc["status"] = "in_progress"
                mark(doc, STATUS)
            doc["updated_at"] = utc_now()

        self._docs.update(task_key(task_id), change)
        return standing[0]
