"""What untrusted input may hold. Python's JSON parser accepts NaN, Infinity and lone UTF-16
surrogates ("\\ud800"), none of which can be sent on as JSON or UTF-8: refused here with a
422 (whose body, services/common/errors.py, still encodes them: never a 500)."""

import json
from typing import Annotated, Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BeforeValidator, StringConstraints

# Ids that become state keys, log fields and URL paths: letters, digits and . _ : @ -
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=ID_PATTERN)]
# What str.strip() removes (str.isspace()), spelled so every regex engine reads it alike: the
# OpenAPI states with NOT_BLANK what the validators below refuse.
BLANKS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{BLANKS}]"  # holds something besides blanks


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


def not_blank(value: Any) -> Any:
    if isinstance(value, str) and value and not value.strip():
        raise ValueError("must not be blank")
    return value


def no_surrounding_blanks(value: Any) -> Any:
    if isinstance(value, str) and value != value.strip():
        raise ValueError("must not start or end with a blank")
    return value


def not_text(value: Any) -> Any:
    """Request models are strict (no "3" for 3), but a whole number such as 3.0 is a JSON Schema
    integer: fields that take one are lax, refusing strings and booleans here."""
    if isinstance(value, str | bool):
        raise ValueError("must be a number, not a string or a boolean")
    return value


Unicode = Annotated[str, AfterValidator(encodable_text)]
# Text a person wrote: not empty or blank, valid Unicode, surrounding blanks removed once valid
# (a field's max_length counts them: it is what the OpenAPI says).
Text = Annotated[str, StringConstraints(min_length=1, pattern=NOT_BLANK), BeforeValidator(not_blank),
                 AfterValidator(encodable_text), AfterValidator(str.strip)]
# Text compared as sent (e.g. a verdict): no blank around it.
UNPADDED = rf"^{NOT_BLANK}([\s\S]*{NOT_BLANK})?$"
JsonData = Annotated[dict[str, Any] | list[Any], AfterValidator(plain_json)]  # an object or an array


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
