"""JSON documents in the Dapr state store, updated with optimistic concurrency.

Every update reads the document with its ETag, applies a change and writes it back only
if nobody wrote in between (first-write-wins); on a conflict it re-reads and re-applies,
so concurrent agents never lose each other's updates. A document may carry a time to live
(Dapr's `ttlInSeconds`, honoured by Redis and by Cosmos DB with TTL on): it then vanishes
by itself unless a later write renews it."""

import json
import logging
from collections.abc import Callable
from typing import Any

import grpc
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._state import Concurrency, Consistency, StateOptions
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from .sidecar import dapr_client

log = logging.getLogger(__name__)
_FIRST_WRITE = StateOptions(concurrency=Concurrency.first_write, consistency=Consistency.strong)


class DocumentNotFoundError(KeyError):
    pass


class ETagConflictError(RuntimeError):
    pass


def _is_etag_conflict(err: DaprGrpcError) -> bool:
    # Dapr maps a state store's ETag mismatch to gRPC ABORTED (and FAILED_PRECONDITION
    # for stores that report it that way).
    code = err.code()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
    return code in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION)


def _ttl(ttl_seconds: int | None) -> dict[str, str]:
    return {"ttlInSeconds": str(ttl_seconds)} if ttl_seconds else {}


class JsonDocuments:
    def __init__(self, store: str):
        self.store = store

    def get(self, key: str) -> dict[str, Any] | None:
        resp = dapr_client().get_state(self.store, key, state_metadata={"contentType": "application/json"})
        doc: dict[str, Any] | None = json.loads(resp.data) if resp.data else None
        return doc

    def create(self, key: str, doc: dict[str, Any], ttl_seconds: int | None = None) -> bool:
        """Write a new document; False if one already exists. (A first-write save with no
        ETag is create-if-absent in Dapr's Redis and Cosmos DB state stores.) Redis reports
        losing that race not as an ETag conflict but as a plain error ("failed to set key",
        gRPC INTERNAL), so any failure is a lost race if the document now exists."""
        try:
            dapr_client().save_state(self.store, key, json.dumps(doc), options=_FIRST_WRITE,
                                     state_metadata=_ttl(ttl_seconds))
        except DaprGrpcError as err:
            if _is_etag_conflict(err) or self.get(key) is not None:
                log.debug("%s was created concurrently", key)
                return False
            raise
        return True

    @retry(
        retry=retry_if_exception_type(ETagConflictError),
        stop=stop_after_attempt(20),
        wait=wait_random_exponential(multiplier=0.02, max=1.0),
        reraise=True,
    )
    def update(self, key: str, change: Callable[[dict[str, Any]], None],
               default: dict[str, Any] | None = None, ttl_seconds: int | None = None) -> dict[str, Any]:
        """Apply `change` to the stored document in place and save it, ETag-safe. With a
        `default`, a missing document is created from it (racing creators retry). With
        `ttl_seconds` the saved document lives that long from now."""
        resp = dapr_client().get_state(self.store, key)
        if not resp.data:
            if default is None:
                raise DocumentNotFoundError(key)
            doc: dict[str, Any] = json.loads(json.dumps(default))
            change(doc)
            if not self.create(key, doc, ttl_seconds):
                raise ETagConflictError(key)
            return doc
        doc = json.loads(resp.data)
        change(doc)
        try:
            dapr_client().save_state(self.store, key, json.dumps(doc), etag=resp.etag, options=_FIRST_WRITE,
                                     state_metadata=_ttl(ttl_seconds))
        except DaprGrpcError as err:
            if _is_etag_conflict(err):
                log.debug("etag conflict on %s, retrying", key)
                raise ETagConflictError(key) from err
            raise
        return doc

    def delete(self, key: str, when: Callable[[dict[str, Any]], bool] | None = None) -> bool:
        """Delete the document; with `when`, only if the stored one satisfies it and is still
        that one at the delete (ETag). False if there was nothing (matching) to delete."""
        resp = dapr_client().get_state(self.store, key)
        if not resp.data or (when is not None and not when(json.loads(resp.data))):
            return False
        try:
            dapr_client().delete_state(self.store, key, etag=resp.etag, options=_FIRST_WRITE)
        except DaprGrpcError as err:
            if _is_etag_conflict(err):
                log.debug("%s changed before its delete", key)
                return False
            raise
        return True
