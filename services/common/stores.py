"""Every store a process uses, built once (in the app's lifespan) and shared by its routes,
subscribers and workflow activities."""

from dataclasses import dataclass

from .approvals import ApprovalStore
from .breakers import BreakerStore
from .claims import ClaimStore
from .deadletters import DeadLetterStore
from .events import EventLog
from .notifications import NotificationStore
from .settings import Settings
from .state import JsonDocuments
from .tasks import TaskStore


@dataclass(frozen=True)
class Stores:
    tasks: TaskStore
    events: EventLog
    notifications: NotificationStore
    dead_letters: DeadLetterStore
    breakers: BreakerStore
    claims: ClaimStore
    approvals: ApprovalStore


def build_stores(settings: Settings, docs: JsonDocuments | None = None) -> Stores:
    """`docs` replaces the state store (tests pass in-memory documents)."""
    docs = docs or JsonDocuments(settings.state_store)
    dead_letters = DeadLetterStore(docs)
    return Stores(tasks=TaskStore(docs), events=EventLog(docs, dead_letters), notifications=NotificationStore(docs),
                  dead_letters=dead_letters,
                  breakers=BreakerStore(docs, settings.breaker_failure_threshold, settings.breaker_reset_seconds),
                  claims=ClaimStore(docs, settings.claim_ttl_seconds), approvals=ApprovalStore(docs))
