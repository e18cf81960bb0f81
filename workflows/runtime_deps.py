"""What the activities use, installed once by build_runtime: the process's settings and the
same stores the orchestrator's routes use (activities run on the workflow worker's
threads, after the sidecar is up)."""

from dataclasses import dataclass

from services.common.settings import Settings
from services.common.stores import Stores


@dataclass
class _Installed:
    settings: Settings | None = None
    stores: Stores | None = None


_installed = _Installed()


def install(settings: Settings, stores: Stores) -> None:
    _installed.settings, _installed.stores = settings, stores


def settings() -> Settings:
    if _installed.settings is None:
        raise RuntimeError("workflow activities used before build_runtime installed their dependencies")
    return _installed.settings


def stores() -> Stores:
    if _installed.stores is None:
        raise RuntimeError("workflow activities used before build_runtime installed their dependencies")
    return _installed.stores
