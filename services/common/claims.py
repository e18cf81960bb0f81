"""Claims on (subscriber, event id): which delivery of an event is doing its work now.

A subscriber takes the claim (key baton:claim:<subscriber>:<event id>) with a first-write
create before it processes a delivery, so of two deliveries of one event racing each other
exactly one runs the handler. A claim lives only while its work runs:
- released when the work ends, done (after the result is recorded) or failed (so that a
  retry can do the work);
- renewed every third of its time to live while the work runs, however long that takes;
- left to expire (BATON_CLAIM_TTL_SECONDS) when the process dies mid-work. The time to
  live stays below the pub/sub's redelivery of an unacknowledged message (Redis
  processingTimeout, Service Bus lock: 60 s), so that redelivery finds the claim free."""

import contextvars
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .contracts import utc_now
from .paging import key_part
from .state import DocumentNotFoundError, JsonDocuments

log = logging.getLogger(__name__)


def claim_key(subscriber: str, event_id: str) -> str:
    # Event ids come from any publisher: one holding `||` (refused in state keys) is digested.
    return f"baton:claim:{subscriber}:{key_part(event_id)}"


class ClaimLostError(RuntimeError):
    """The claim expired while its work ran; another delivery may hold it now."""


class ClaimStore:
    def __init__(self, docs: JsonDocuments, ttl_seconds: int):
        self._docs, self.ttl_seconds = docs, ttl_seconds

    def in_progress(self, subscriber: str, event_id: str) -> bool:
        """Whether a delivery of the event to the subscriber is being processed right now."""
        return self._docs.get(claim_key(subscriber, event_id)) is not None

    @contextmanager
    def held(self, subscriber: str, event_id: str) -> Iterator[bool]:
        """True inside if this delivery took the claim: it is then renewed while the block
        runs and released after it, however it ends. False if another delivery holds it."""
        key, token = claim_key(subscriber, event_id), uuid.uuid4().hex
        claim = {"subscriber": subscriber, "event_id": event_id, "token": token, "claimed_at": utc_now()}
        if not self._docs.create(key, claim, self.ttl_seconds):
            yield False
            return
        stop = threading.Event()
        renewer = threading.Thread(target=contextvars.copy_context().run, args=(self._renew, key, token, stop),
                                   name=f"renew {key}", daemon=True)
        renewer.start()
        try:
            yield True
        finally:
            stop.set()
            renewer.join()
            self._release(key, token)

    def _renew(self, key: str, token: str, stop: threading.Event) -> None:
        def still_ours(doc: dict[str, Any]) -> None:
            if doc.get("token") != token:
                raise ClaimLostError(key)
            doc["renewed_at"] = utc_now()

        while not stop.wait(self.ttl_seconds / 3):
            try:
                self._docs.update(key, still_ours, ttl_seconds=self.ttl_seconds)
            except (ClaimLostError, DocumentNotFoundError):
                log.warning("claim %s expired while its work ran: another delivery may repeat the work", key)
                return
            except Exception as err:  # the state store is down: try again at the next renewal
                log.warning("could not renew claim %s: %s", key, err)

    def _release(self, key: str, token: str) -> None:
        """Delete the claim if it is still ours. If the state store cannot be reached the
        claim is left to expire: the work's own outcome is what the delivery answers."""
        try:
            self._docs.delete(key, when=lambda doc: doc.get("token") == token)
        except Exception as err:
            log.warning("could not release claim %s (it expires within %d s): %s", key, self.ttl_seconds, err)
