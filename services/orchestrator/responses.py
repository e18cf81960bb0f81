"""The errors each route of the public API can answer, for its OpenAPI entry: every one has
the same body (services/common/errors.ErrorBody). Routers name the ones every request risks
(API keys, body size, outages); routes add their own (404, 409, 422, ...)."""

from typing import Any

from services.common.errors import ErrorBody

WHY = {
    400: "The body is not JSON encoded as UTF-8",
    401: "No API key, or an unknown one: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
    403: "The key's scope is too low for this route, or the request carries `faults` while fault injection is off",
    404: "No such resource (the detail names it)",
    409: "The resource's state does not allow the request as sent, or it kept changing under concurrent "
         "requests: the detail says what to do",
    413: "The request body is over BATON_MAX_BODY_BYTES (1 MiB by default)",
    422: "Invalid input: one entry per invalid field, saying what is wrong",
    429: "Over the key's rate limit, or too many failed authentications from this address",
    503: "A dependency is down (the state store, the pub/sub, the Dapr sidecar or the workflow engine) or the API "
         "keys are not loaded yet: try again later",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    409: RETRY_AFTER,
    429: RETRY_AFTER,
    503: RETRY_AFTER,
}
# What any request with an API key may answer, whatever the route.
GUARDED = (401, 403, 413, 429, 503)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these status codes."""
    return {code: {"model": ErrorBody, "description": WHY[code], **({"headers": HEADERS[code]} if code in HEADERS
                                                                      else {})} for code in codes}
