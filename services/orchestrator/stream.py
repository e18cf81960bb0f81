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
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.openapi.constants import REF_PREFIX
from fastapi.sse import EventSourceResponse, ServerSentEvent

from services.common.changes import changes_since
from services.common.contracts import TERMINAL_STATUSES
from services.common.errors import ErrorBody
from services.common.logs import task_id_var
from services.common.settings import get_settings

from .auth import READ
from .deps import Tasks
from .follow import Follower, Opening
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
    doc = tasks.document(task_id)
    if doc is None:
        raise HTTPException(404, f"no task with id {task_id}")
    revision = doc.get("revision", 0)  # none on a task stored before changes were numbered
    if resume_after is not None and resume_after > revision:
        # 409, not 400: the id is well formed (the OpenAPI accepts it), the task's state refuses it.
        raise HTTPException(409, f"Last-Event-ID {resume_after} is ahead of task {task_id}, whose revision is "
                                 f"{revision}: send an id this task's stream sent, or none to start with a snapshot")
    if resume_after is not None and doc["status"] in TERMINAL_STATUSES and not changes_since(doc, resume_after):
        # 204 tells an EventSource to stop reconnecting. FastAPI's handler answers an HTTPException
        # whose status allows no body with an empty response.
        raise HTTPException(204)
    return Opening(task_id, doc, resume_after)


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
