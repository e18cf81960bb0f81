"""What untrusted input may hold. Python's JSON parser accepts NaN, Infinity and lone UTF-16
surrogates ("\\ud800"), none of which can be sent on as JSON or UTF-8: refused here with a
422, and a 422 that quotes them is still encoded (never a 500)."""

import json
import math
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, StringConstraints

# Ids that become state keys, log fields and URL paths: letters, digits and . _ : @ -
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=ID_PATTERN)]


def encodable_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode: it holds a lone surrogate") from None
    return text


def plain_json(value: Any) -> Any:
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("JSON must be valid Unicode: it holds a lone surrogate") from None
    except ValueError:
        raise ValueError("JSON must not hold NaN or Infinity") from None
    return value


Unicode = Annotated[str, AfterValidator(encodable_text)]
# Text a person wrote: surrounding blanks removed, not empty, valid Unicode (a field adds max_length).
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(encodable_text)]
JsonData = Annotated[dict[str, Any] | list[Any], AfterValidator(plain_json)]  # an object or an array


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
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    body = json.dumps({"detail": _finite(jsonable_encoder(errors))}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets a 413 saying what the limit is,
    at once when Content-Length declares it, else as soon as the bytes read pass the limit
    (chunked bodies declare no length)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def too_large(self, size: str) -> HTTPException:
        return HTTPException(413, f"the request body is {size} bytes; the limit is {self.max_bytes} "
                                  f"(BATON_MAX_BODY_BYTES)")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            error = self.too_large(str(int(declared)))
            await JSONResponse({"detail": error.detail}, 413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                # An HTTPException: FastAPI passes it on from reading the body, and answers it.
                raise self.too_large(f"over {self.max_bytes}")
            return message

        await self.app(scope, counted, send)
