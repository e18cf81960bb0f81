"""GET /task/{task_id}/stream: a task's progress as server-sent events.

How: the stream reads the task document through the sidecar (the state store) every
BATON_STREAM_POLL_SECONDS (0.25 s) and sends the parts changed since the last revision it sent
(services/common/changes.py). Why: the document is the one source of truth and already
numbers its changes, so `Last-Event-ID` is served from it; any number of orchestrator
replicas stream every change with no broadcast (a pub/sub topic gives each delivery to one
replica of an app id's consumer group); and nothing is lost if the orchestrator restarts
between changes: the client reconnects, to any replica, with the last id it got. Cost: one
state read per connected stream per poll.

What is decided before the first byte (a status code, from the dependency `open_stream`):
401/403 for the key, 400 for a malformed Last-Event-ID, 404 for an unknown task, 409 for a
Last-Event-ID ahead of the task, 204 for a reconnect to an ended task with nothing newer.
Once streaming, everything else is an event."""

import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from dapr.clients.exceptions import DaprGrpcError
from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.openapi.constants import REF_PREFIX
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from services.common.changes import Change, changes_since, snapshot
from services.common.contracts import TERMINAL_STATUSES, TaskDocument
from services.common.errors import ErrorBody
from services.common.logs import task_id_var
from services.common.settings import Settings, get_settings
from services.common.tasks import TaskStore

from .auth import READ
from .deps import Tasks
from .responses import GUARDED, errors
from .tasks import TaskId

log = logging.getLogger(__name__)
RETRY_MILLISECONDS = 1000  # sent with the first event: how soon an EventSource reconnects
LAST_EVENT_ID = "[0-9]{1,10}"
LAST_EVENT_ID_RULE = "a non-negative integer of at most 10 digits: the id of the last event received"


def json_errors(*codes: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`errors(...)` for this route (`why` replaces descriptions). FastAPI documents a response
    `model` in the route's own media type, text/event-stream here; the errors are JSON, so
    their content is named instead."""
    schema = {"schema": {"$ref": f"{REF_PREFIX}{ErrorBody.__name__}"}}
    return {code: {**{k: v for k, v in spec.items() if k != "model"}, "content": {"application/json": schema},
                   **({"description": (why or {})[code]} if code in (why or {}) else {})}
            for code, spec in errors(*codes).items()}


router = APIRouter(prefix="/task", tags=["tasks"], dependencies=[READ], responses=json_errors(*GUARDED))


@dataclass(frozen=True)
class Opening:
    """A stream about to start: the task as first read, and where to start from."""

    task_id: str
    doc: dict[str, Any]
    resume_after: int | None  # the client's Last-Event-ID; None: start with a snapshot


def stored_form(task: TaskDocument) -> dict[str, Any]:
    """The task as changes.py reads it (`changed` is left out of a model dump: GET /task hides it)."""
    return {**task.model_dump(mode="json"), "changed": task.changed}


def read_task(tasks: TaskStore, task_id: str) -> dict[str, Any] | None:
    task = tasks.get(task_id)
    return stored_form(task) if task else None


def parse_last_event_id(value: str | None) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(LAST_EVENT_ID, value):
        raise HTTPException(400, f"Last-Event-ID must be {LAST_EVENT_ID_RULE}; send none to start with a snapshot")
    return int(value)


def digits_schema(schema: dict[str, Any]) -> None:
    """Last-Event-ID's OpenAPI schema: a string of digits. Not `str | None`'s "string or null" (a
    client cannot send a null header: a fuzzer sends the text "null"), and the pattern is only
    documented: FastAPI enforcing it would answer 422, a bad id answers 400."""
    schema.pop("anyOf", None)
    schema.update(type="string", pattern=f"^{LAST_EVENT_ID}$")


def open_stream(
    task_id: TaskId,
    tasks: Tasks,
    last_event_id: Annotated[str | None, Header(
        alias="Last-Event-ID", description=f"resume after this event: {LAST_EVENT_ID_RULE}",
        json_schema_extra=digits_schema)] = None,
) -> Opening:
    """Everything that decides the response's status, before streaming starts (a generator's
    status is 200 once it runs). A plain function: FastAPI runs it in its thread pool."""
    task_id_var.set(task_id)
    resume_after = parse_last_event_id(last_event_id)
    doc = read_task(tasks, task_id)
    if doc is None:
        raise HTTPException(404, f"no task with id {task_id}")
    revision = doc["revision"]
    if resume_after is not None and resume_after > revision:
        # 409, not 400: the id is well formed (the OpenAPI accepts it), the task's state refuses it.
        raise HTTPException(409, f"Last-Event-ID {resume_after} is ahead of task {task_id}, whose revision is "
                                 f"{revision}: send an id this task's stream sent, or none to start with a snapshot")
    if resume_after is not None and doc["status"] in TERMINAL_STATUSES and not changes_since(doc, resume_after):
        # 204 tells an EventSource to stop reconnecting. FastAPI's handler answers an HTTPException
        # whose status allows no body with an empty response.
        raise HTTPException(204)
    return Opening(task_id, doc, resume_after)


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
            after = max(after, doc["revision"])  # parts skipped as gone are past too
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
                doc = await run_in_threadpool(read_task, self.tasks, self.opening.task_id)
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


DESCRIPTION = """Server-sent events (`text/event-stream`) of the task's progress, read scope.

Without `Last-Event-ID` the first event is `snapshot`: the task as GET /task/{task_id} shows it. Then one event per \
change, oldest first, each part once in its latest form:
- `status`: `{status, error, result, updated_at}`
- `step`: a step record as GET /task shows it; in a consensus task a voter's step is a `vote`
- `node`: `{path, node}`, a hierarchical task's tree node at `path` with its own fields (no child groups)
- `approval`: the task's approval gate (requested, then decided)

Every event's `id` is the task's revision at that change; ids only grow. A client that reconnects with \
`Last-Event-ID: <id>` (an EventSource does so by itself, 1 s after a drop) gets exactly the changes after it, no \
snapshot. An id that is not a non-negative integer of at most 10 digits answers 400, one ahead of the task 409.

When the task has ended (completed, failed, cancelled, rejected) and every change is sent, the last event is `end` \
(`{status, revision}`, id the revision) and the stream closes; reconnecting to an ended task with nothing newer \
answers 204, which tells an EventSource to stop. A task that no longer exists (expired) ends with `end` \
`{status: null, reason}`. If the task cannot be read for BATON_STREAM_STORE_PATIENCE_SECONDS (30 s), `error` \
`{message}` and the stream closes: reconnect with Last-Event-ID. A stream closes after BATON_STREAM_MAX_SECONDS \
(1 hour) without `end`: reconnect the same way. Idle streams carry a keep-alive comment every 15 s.

The stream reads the task document every BATON_STREAM_POLL_SECONDS (0.25 s), so any orchestrator replica serves \
any stream and misses no change."""


@router.get("/{task_id}/stream", response_class=EventSourceResponse, description=DESCRIPTION,
            response_description="Server-sent events: `snapshot` (unless resuming), changes, then `end`",
            responses={204: {"description": "The task has ended and nothing is newer than Last-Event-ID: stop "
                                            "reconnecting"}, **json_errors(400, 404, 409, 422, why={
                400: "Last-Event-ID is not a non-negative integer of at most 10 digits",
                409: "Last-Event-ID is ahead of the task's revision: it is not an id this task's stream sent"})})
async def stream_task(opening: Annotated[Opening, Depends(open_stream)],
                      tasks: Tasks) -> AsyncIterator[ServerSentEvent]:
    task_id_var.set(opening.task_id)  # this generator runs in a task of its own
    start = "with a snapshot" if opening.resume_after is None else f"after revision {opening.resume_after}"
    log.info("stream opened %s", start)
    sent = 0
    try:
        async for item in Follower(opening, tasks, get_settings()).events():
            yield item.model_copy(update={"retry": RETRY_MILLISECONDS}) if sent == 0 else item
            sent += 1
    finally:
        task_id_var.set(opening.task_id)  # a generator dropped at a `yield` is closed later, in another task
        log.info("stream closed after %d events", sent)
