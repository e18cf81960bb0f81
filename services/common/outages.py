"""Dependencies down: a Dapr error that means the state store, the pub/sub or the sidecar
itself cannot be reached answers 503 naming it, not a bare 500. The one place that knows
what the Dapr SDK raises for that; registered on every Baton app (serve.baton_app).

With Redis (locally) or Cosmos DB (Azure) down, the sidecar answers a state call with gRPC
INTERNAL and the ErrorInfo reason ERR_STATE_GET, _SAVE, _DELETE or _TRANSACTION (its message
quotes the store's own error, e.g. "connection refused"); a publish, ERR_PUBSUB_*. A sidecar
that cannot be reached gives UNAVAILABLE, one that does not answer in time DEADLINE_EXCEEDED.
(A key Dapr refuses is INVALID_ARGUMENT, and an ETag conflict ABORTED: neither is an outage.)"""

import logging

import grpc
from dapr.clients.exceptions import DaprGrpcError
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .settings import get_settings

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def unavailable_dependency(err: DaprGrpcError) -> str | None:
    """What is down, in words for a client ("the state store 'statestore'"), or None when
    the error is not an outage."""
    code = err.code()  # type: ignore[no-untyped-call]  # unannotated in the SDK
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return "the Dapr sidecar"
    reason = str(err.error_code()) if code == grpc.StatusCode.INTERNAL else ""  # type: ignore[no-untyped-call]
    settings = get_settings()
    if reason.startswith("ERR_STATE_"):
        return f"the state store '{settings.state_store}'"
    if reason.startswith("ERR_PUBSUB_"):
        return f"the pub/sub '{settings.pubsub}'"
    return None


async def dependency_down(request: Request, err: Exception) -> Response:
    """503 with what is unavailable and a Retry-After; any other Dapr error stays a 500.
    The store's own error goes to the log only (it names hosts and ports)."""
    if not isinstance(err, DaprGrpcError) or (what := unavailable_dependency(err)) is None:
        raise err
    detail = err.details()  # type: ignore[no-untyped-call]  # unannotated in the SDK
    log.warning("%s %s: %s is unavailable: %s", request.method, request.url.path, what, detail)
    return JSONResponse({"detail": f"{what} is unavailable, so the request was not completed; try again later"},
                        status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
