"""The body of every error a Baton app answers, {"detail": ...}, and handlers that make every
4xx say what to fix: plain words for what the framework says in one word (an unknown route;
a method the path does not take, with an `Allow` header listing every method it takes, not
only those of the first route Starlette tried; a body it cannot read), 422s that survive
whatever hostile input they quote, and 409 for an update that lost every race for its document."""

import json
import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from .state import ETagConflictError

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# What FastAPI says when reading the body fails other than as bad JSON (e.g. it is not UTF-8).
UNREADABLE_BODY = "There was an error parsing the body"
SEND_JSON = "send a JSON object encoded as UTF-8, with Content-Type: application/json"


class FieldError(BaseModel):
    """One invalid part of a request (FastAPI's validation error entry)."""

    type: str
    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then the field")
    msg: str = Field(description="What is wrong with it")
    input: Any = None
    ctx: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx body: what is wrong and what to do about it."""

    detail: str | list[FieldError] = Field(
        description="A sentence saying what to fix; for invalid fields (422) one entry per field")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this request's path, asked of the routes themselves
    (an included router answers for all of its own)."""
    routes = request.app.router.routes
    return [m for m in METHODS if any(r.matches({**request.scope, "method": m})[0] is Match.FULL for r in routes)]


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's handler, with the framework's one-word errors made into instructions."""
    if not isinstance(exc, HTTPException):
        raise exc
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        return JSONResponse({"detail": f"{where} is not allowed; this path takes {', '.join(allowed)}"}, 405,
                            headers={"Allow": ", ".join(allowed)})
    if exc.status_code == 404 and exc.detail == "Not Found":
        return JSONResponse({"detail": f"no route for {where}; the API is listed at /docs"}, 404)
    if exc.status_code == 400 and exc.detail == UNREADABLE_BODY:
        return JSONResponse({"detail": f"the request body could not be read: {SEND_JSON}"}, 400)
    return await http_exception_handler(request, exc)


def _explained(error: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's words for a body that is not JSON, or not sent as JSON, made into what to send."""
    if error.get("type") == "json_invalid":
        why, at = error.get("ctx", {}).get("error", "decode error"), error["loc"][-1]
        return {**error, "msg": f"the body is not valid JSON ({why} at character {at}): {SEND_JSON}"}
    if tuple(error.get("loc", ())) == ("body",) and error.get("type") == "missing":
        return {**error, "msg": f"the body is missing: {SEND_JSON}"}
    if tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), str | bytes):
        return {**error, "msg": f"the body was not read as JSON: {SEND_JSON}"}
    return error


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 {"detail": [...]}, with what it quotes made safe to encode."""
    errors = [_explained(e) for e in exc.errors()] if isinstance(exc, RequestValidationError) else []
    body = json.dumps({"detail": _finite(jsonable_encoder(errors))}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


async def kept_changing(request: Request, exc: Exception) -> Response:
    """409 for an update that lost the ETag race every time it retried (state.JsonDocuments.update):
    what it changes is contended, and the same request a moment later will most likely pass."""
    if not isinstance(exc, ETagConflictError):
        raise exc
    return JSONResponse({"detail": "what this request changes was changed by other requests every time it tried; "
                                   "send it again"}, 409, headers={"Retry-After": "1"})
