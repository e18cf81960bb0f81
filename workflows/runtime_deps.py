"""What the activities use, installed once by build_runtime: the process's settings and the
same TaskStore instance the orchestrator's routes use (activities run on the workflow
worker's threads, after the sidecar is up)."""

from dataclasses import dataclass

from services.common.settings import Settings
from services.common.tasks import TaskStore


@dataclass
class _Installed:
    settings: Settings | None = None
    tasks: TaskStore | None = None


_installed = _Installed()


def install(settings: Settings, tasks: TaskStore) -> None:
    _installed.settings, _installed.tasks = settings, tasks


def settings() -> Settings:
    if _installed.settings is None:
        raise RuntimeError("workflow activities used before build_runtime installed their dependencies")
    return _installed.settings


def tasks() -> TaskStore:
    if _installed.tasks is None:
        raise RuntimeError("workflow activities used before build_runtime installed their dependencies")
    return _installed.tasks
