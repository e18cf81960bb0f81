"""Use a running Baton, or start one (platform + `dapr run -f dapr.yaml`) for the run."""

import contextlib
import signal
from collections.abc import Iterator

import httpx

from infra.local.processes import ROOT, DaprRun, platform

from .patterns import ORCHESTRATOR


def stop_once(signum: int, frame: object) -> None:
    """SIGTERM (or Ctrl-C) ends a bench through its cleanup, which stops everything it started;
    further signals are ignored until that is done."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def healthy() -> bool:
    try:
        return httpx.get(f"{ORCHESTRATOR}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def baton_system(model: str = "openai", env: dict[str, str] | None = None) -> Iterator[DaprRun | None]:
    """Yield while a Baton with fault injection on serves :8080, started here if needed
    with BATON_MODEL_PROVIDER=`model` (`openai` = the embedded model, `instant` = no model).
    and `env` added to every app's environment. Yields the DaprRun that started it (to kill and
    restart its apps), or None for a Baton that was already running."""
    if healthy():
        print("bench: using the Baton already running on :8080 (its own model settings)", flush=True)
        yield None
        return
    print(f"bench: starting the platform and dapr run -f dapr.yaml (model: {model}) ...", flush=True)
    was_up = "stopped" not in platform("status")
    platform("up")
    run = DaprRun(ROOT / "dapr.yaml", "bench",
                  env={"BATON_ALLOW_FAULT_INJECTION": "true", "BATON_MODEL_PROVIDER": model, **(env or {})})
    run.start()
    try:
        run.wait_ready(timeout=150)
        yield run
    finally:
        run.stop()
        if not was_up:
            platform("down")
