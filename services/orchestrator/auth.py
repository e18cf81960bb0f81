"""API keys on the public API. Each router asks for a scope (READ for reading, WRITE for
starting tasks and collecting data, ADMIN for dead-letter replay and purge); the key comes
as `Authorization: Bearer <key>` or `X-API-Key: <key>`.

Missing or unknown key: 401 (too many of those from one address: 429, though a valid key
from there still works, so clients behind a shared proxy are not locked out by someone
else's failures). Scope too low: 403. Over the key's rate: 429. Keys never loaded: 503."""

import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import Depends, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute

from services.common.apikeys import ApiKey, KeyRing, Scope, grants

from .throttle import Throttle

log = logging.getLogger(__name__)
HOW = "send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`"
# The name of the key behind the current request, for audit lines ("purged ... by key x").
api_key_name: ContextVar[str] = ContextVar("api_key_name", default="-")

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


@dataclass(frozen=True)
class ApiGuard:
    keys: KeyRing
    throttle: Throttle


def get_guard(request: Request) -> ApiGuard:
    guard: ApiGuard = request.app.state.api_guard
    return guard


def too_many(detail: str, retry_after: int) -> HTTPException:
    return HTTPException(429, f"{detail}; retry in {retry_after} s", headers={"Retry-After": str(retry_after)})


class RequireScope:
    """FastAPI dependency: the request's API key, which must grant `scope`."""

    def __init__(self, scope: Scope):
        self.scope = scope

    async def __call__(self, request: Request, guard: Annotated[ApiGuard, Depends(get_guard)],
                       bearer_token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                       x_api_key: Annotated[str | None, Depends(header_key)]) -> ApiKey:
        if not guard.keys.loaded:
            raise HTTPException(503, guard.keys.unavailable())
        presented = x_api_key or (bearer_token.credentials if bearer_token else None)
        key = guard.keys.match(presented) if presented else None
        if key is None:
            refuse(request, guard, "unknown API key" if presented else "no API key")
        where = f"{request.method} {request.url.path}"
        if not grants(key.scope, self.scope):
            log.warning("key %s (scope %s) refused on %s: needs %s", key.name, key.scope, where, self.scope)
            raise HTTPException(403, f"{where} needs an API key with scope {self.scope!r} or higher; "
                                     f"key {key.name!r} has scope {key.scope!r}")
        if retry_after := guard.throttle.request(key):
            log.warning("key %s over its rate limit on %s", key.name, where)
            raise too_many(f"key {key.name!r} is over its rate limit", retry_after)
        api_key_name.set(key.name)
        return key


def refuse(request: Request, guard: ApiGuard, reason: str) -> NoReturn:
    address = request.client.host if request.client else "unknown"
    if retry_after := guard.throttle.failed_authentication(address):
        raise too_many(f"too many failed authentications from {address}", retry_after)
    log.warning("%s from %s on %s %s", reason, address, request.method, request.url.path)
    raise HTTPException(401, f"{reason}: {HOW}", headers={"WWW-Authenticate": "Bearer"})


READ: Any = Depends(RequireScope("read"))
WRITE: Any = Depends(RequireScope("write"))
ADMIN: Any = Depends(RequireScope("admin"))


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def needs_api_key(route: BaseRoute) -> bool:
    """Whether the route belongs to the public API (it asks for an API key)."""
    return isinstance(route, APIRoute) and any(isinstance(call, RequireScope) for call in _calls(route.dependant))
