"""Every store a process uses, built once (in the app's lifespan) and shared by its routes,
subscribers and workflow activities."""

from dataclasses import dataclass

from .deadletters import DeadLetterStore
from .events import EventLog
from .notifications import NotificationStore
from .state import JsonDocuments
from .tasks import TaskStore


@dataclass(frozen=True)
class Stores:
    tasks: TaskStore
    events: EventLog
    notifications: NotificationStore
    dead_letters: DeadLetterStore


def build_stores(state_store: str) -> Stores:
    docs = JsonDocuments(state_store)
    return Stores(tasks=TaskStore(docs), events=EventLog(docs), notifications=NotificationStore(docs),
                  dead_letters=DeadLetterStore(docs))
