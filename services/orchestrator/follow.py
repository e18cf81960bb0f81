"""Following one task for its stream (GET /task/{task_id}/stream, services/orchestrator/stream.py):
the task as first read, then its document polled every BATON_STREAM_POLL_SECONDS and each
change since the last one sent yielded as an event, until the task ends, vanishes, cannot be
read for the store patience, or the stream's time is up."""

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
from dapr.clients.exceptions import DaprGrpcError
from fastapi.sse import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from services.common.changes import Change, changes_since, snapshot
from services.common.contracts import TERMINAL_STATUSES
from services.common.settings import Settings
from services.common.tasks import TaskStore

log = logging.getLogger("services.orchestrator.stream")  # one logger for the stream, whichever module logs


@dataclass(frozen=True)
class Opening:
    """A stream about to start: the task as first read, and where to start from."""

    task_id: str
    doc: dict[str, Any]
    resume_after: int | None  # the client's Last-Event-ID; None: start with a snapshot


def event(change: Change) -> ServerSentEvent:
    return ServerSentEvent(id=str(change.revision), event=change.event, data=change.data)


def why(err: Exception) -> str:
    """A failed read in one line (a DaprGrpcError's own str is a multi-line dump)."""
    if isinstance(err, DaprGrpcError):
        return f"{err.code().name}: {err.details()}"  # type: ignore[no-untyped-call]  # unannotated in the SDK
    return f"{type(err).__name__}: {err}"


class StreamTimeUpError(Exception):
    pass


class TaskUnreadableError(Exception):
    pass


class Follower:
    """Polls one task's document and yields its changes as events until the task ends, vanishes,
    cannot be read for the store patience, or the stream's time is up."""

    def __init__(self, opening: Opening, tasks: TaskStore, settings: Settings):
        self.opening, self.tasks, self.settings = opening, tasks, settings
        self.deadline = time.monotonic() + settings.stream_max_seconds

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        doc: dict[str, Any] | None = self.opening.doc
        after = self.opening.resume_after
        if after is None:
            first = snapshot(self.opening.doc)
            yield event(first)
            after = first.revision
        while doc is not None:
            for change in changes_since(doc, after):
                yield event(change)
            after = max(after, doc.get("revision", 0))  # parts skipped as gone are past too
            if doc["status"] in TERMINAL_STATUSES:
                yield ServerSentEvent(id=str(after), event="end", data={"status": doc["status"], "revision": after})
                return
            try:
                doc = await self.next_read()
            except StreamTimeUpError:  # no `end`: the client reconnects with Last-Event-ID
                log.info("stream reached its limit of %g s", self.settings.stream_max_seconds)
                return
            except TaskUnreadableError as err:
                yield ServerSentEvent(event="error", data={"message": str(err)})
                return
        yield ServerSentEvent(event="end", data={"status": None, "reason": "the task no longer exists"})

    async def next_read(self) -> dict[str, Any] | None:
        """The document at the next poll, None if it is gone. Raises StreamTimeUpError when the
        stream's time is up, TaskUnreadableError when reads kept failing for the store patience."""
        patience = self.settings.stream_store_patience_seconds
        failing_since: float | None = None
        failures = 0
        while (left := self.deadline - time.monotonic()) > 0:
            await anyio.sleep(min(self.settings.stream_poll_seconds, left))
            try:
                # JsonDocuments is synchronous: Starlette's pool (40 threads), not asyncio's (cpu + 4).
                doc = await run_in_threadpool(self.tasks.document, self.opening.task_id)
            except Exception as err:  # whatever the read raises, the stream waits and tries again
                failures += 1
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("stream: reading the task failed, retrying every %g s for up to %g s: %s",
                                self.settings.stream_poll_seconds, patience, why(err))
                if time.monotonic() - failing_since >= patience:
                    log.warning("stream: the task could not be read for %g s (%d reads), closing: %s",
                                patience, failures, why(err))
                    raise TaskUnreadableError(
                        f"the task could not be read for {patience:g} s (the state store or the Dapr sidecar is "
                        "unavailable); reconnect with Last-Event-ID") from err
                continue
            if failures:
                log.info("stream: the task is readable again after %d failed reads", failures)
            return doc
        raise StreamTimeUpError
