"""How the bench reaches a local Baton: the orchestrator with an API key (BATON_API_KEY, or
the local write key `local-bench`, whose rate limit leaves room to poll), the sidecar with
its API token, an agent directly with its app token; and waiting out a 429."""

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from infra.local.keys import LocalSecrets, local_api_key


def api_headers() -> dict[str, str]:
    return {"X-API-Key": local_api_key("write")}


def sidecar_headers() -> dict[str, str]:
    return LocalSecrets.default().sidecar_headers()


def agent_headers() -> dict[str, str]:
    """What an agent's sidecar sends it: the bench's baseline calls agents directly."""
    return {"dapr-api-token": LocalSecrets.default().sidecar_tokens()["APP_API_TOKEN"]}


async def patiently(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """`send()` again after the Retry-After of each 429 (the key's rate limit), at most 10 times."""
    for _ in range(10):
        resp = await send()
        if resp.status_code != 429:
            return resp
        await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
    return resp
