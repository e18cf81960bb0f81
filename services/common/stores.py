"""Every store a process uses, built once (in the app's lifespan) and shared by its routes,
subscribers and workflow activities."""

from dataclasses import dataclass

from .breakers import BreakerStore
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


def build_stores(settings: Settings, docs: JsonDocuments | None = None) -> Stores:
    """`docs` replaces the state store (tests pass in-memory documents)."""
    docs = docs or JsonDocuments(settings.state_store)
    return Stores(tasks=TaskStore(docs), events=EventLog(docs), notifications=NotificationStore(docs),
                  dead_letters=DeadLetterStore(docs),
                  breakers=BreakerStore(docs, settings.breaker_failure_threshold, settings.breaker_reset_seconds))
