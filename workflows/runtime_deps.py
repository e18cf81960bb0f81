"""Process-wide objects the activities use, created on first use (activities run on the
workflow worker's threads, after the sidecar is up)."""

from functools import lru_cache

from services.common.settings import Settings, get_settings
from services.common.state import JsonDocuments
from services.common.tasks import TaskStore


def settings() -> Settings:
    return get_settings()


@lru_cache
def tasks() -> TaskStore:
    return TaskStore(JsonDocuments(settings().state_store))
