"""Only an app's own Dapr sidecar may call it. The sidecar sends APP_API_TOKEN in the
`dapr-api-token` header on every request (subscription deliveries, /dapr/subscribe, service
invocation) except its health probe, GET /health.

The route decides, failing closed. The check is an app-wide FastAPI dependency, so every
route has it, including those added later (subscriptions), and it judges the route FastAPI
itself selected for the request: GET /health and the app's `public` routes (the
orchestrator's API, which asks for API keys instead) are open, every other route needs the
token. A request no route matches gets FastAPI's own 404 or 405."""

import hmac
import logging
from collections.abc import Callable

from fastapi import HTTPException, Request
from starlette.routing import BaseRoute, Route

from .apikeys import digest
from .settings import Settings, get_settings

log = logging.getLogger(__name__)
TOKEN_HEADER = "dapr-api-token"
RoutePredicate = Callable[[BaseRoute], bool]
HOW_TO_START = ('start Baton with `make run`, or run `eval "$(.venv/bin/python -m infra.local.keys env)"` '
                "before `dapr run -f dapr.yaml`")


def require_app_token(settings: Settings) -> None:
    if not settings.app_api_token or not settings.app_api_token.get_secret_value():
        raise RuntimeError(f"APP_API_TOKEN is not set: Baton apps accept requests only from their Dapr sidecar, "
                           f"which sends that token; {HOW_TO_START}")


def no_public_routes(route: BaseRoute) -> bool:
    return False


def is_health_probe(route: BaseRoute) -> bool:
    return isinstance(route, Route) and route.path == "/health" and route.methods == {"GET"}


def carries_app_token(request: Request) -> bool:
    expected = get_settings().app_api_token
    presented = request.headers.get(TOKEN_HEADER)
    if not expected or presented is None:
        return False
    return hmac.compare_digest(digest(presented), digest(expected.get_secret_value()))


class SidecarOnly:
    """FastAPI dependency for the whole app: a 401 unless the selected route is open or the
    request carries the app token."""

    def __init__(self, public: RoutePredicate = no_public_routes):
        self.public = public

    async def __call__(self, request: Request) -> None:
        route = request.scope.get("route")
        if route is not None and (is_health_probe(route) or self.public(route)):
            return
        if carries_app_token(request):
            return
        client = request.client.host if request.client else "unknown"
        log.warning("refused %s %s from %s: no valid app token", request.method, request.url.path, client)
        raise HTTPException(401, f"this route is only for the app's Dapr sidecar: it needs the app API token "
                                 f"in the {TOKEN_HEADER} header")
