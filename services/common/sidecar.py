"""The only way a Baton service reaches anything: its own Dapr sidecar.

State, pub/sub and bindings go through the Dapr SDK's gRPC client. Service invocation
goes through the sidecar's HTTP API (`/v1.0/invoke/<app>/method/<path>`) so the callee's
HTTP status comes back as is and the caller sidecar's resiliency policy applies; so do
secrets. Every call carries DAPR_API_TOKEN when it is set (the SDK adds it by itself)."""

import json
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import httpx
from dapr.clients import DaprClient
from dapr.clients.health import DaprHealth
from dapr.conf import settings as dapr_settings

from .telemetry import traceparent

log = logging.getLogger(__name__)


def limit_sdk_calls(seconds: float) -> None:
    """A deadline for every unary gRPC call the Dapr SDK makes in this process (its own
    setting, read at each call; without it the SDK waits for ever)."""
    setattr(dapr_settings, "DAPR_API_TIMEOUT_SECONDS", seconds)  # noqa: B010  # its attributes are set at import


class AgentCallError(RuntimeError):
    """An invoked app answered with an error status, or could not be reached (status None)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def sidecar_http_url() -> str:
    return f"http://127.0.0.1:{dapr_settings.DAPR_HTTP_PORT}"


@lru_cache
def dapr_client() -> DaprClient:
    return DaprClient()


def sidecar_headers() -> dict[str, str]:
    """The sidecar refuses API calls without its token, when it has one (locally; in Azure
    only the replica itself can reach its sidecar, and there is none)."""
    token = dapr_settings.DAPR_API_TOKEN
    return {"dapr-api-token": token} if token else {}


@lru_cache
def _http() -> httpx.Client:
    return httpx.Client(base_url=sidecar_http_url(), headers=sidecar_headers())


def sidecar_healthy() -> bool:
    try:
        return _http().get("/v1.0/healthz", timeout=2).status_code == 204
    except httpx.HTTPError:
        return False


def state_store_reachable(store: str, timeout: float) -> bool:
    """Whether the sidecar can read the state store now: one read of a key nobody writes
    (answered 204, no content), with a short timeout."""
    try:
        resp = _http().get(f"/v1.0/state/{quote(store, safe='')}/baton:health", timeout=timeout)
    except httpx.HTTPError as err:
        log.debug("state store %s: %s", store, err)
        return False
    if resp.status_code not in (200, 204):
        log.debug("state store %s: the sidecar answered %d %s", store, resp.status_code, resp.text[:300])
    return resp.status_code in (200, 204)


def app_health(app_id: str, timeout: float = 2.0) -> str:
    """An app's GET /health through Dapr service invocation: "ok", or why not."""
    try:
        resp = _http().get(f"/v1.0/invoke/{app_id}/method/health", timeout=timeout)
    except httpx.HTTPError as err:
        return f"unreachable: {type(err).__name__}"
    return "ok" if resp.status_code == 200 else f"answered {resp.status_code}"


def invoke(app_id: str, method: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST JSON to another app through the sidecar; raise AgentCallError on failure."""
    try:
        resp = _http().post(f"/v1.0/invoke/{app_id}/method/{method}", json=body, timeout=timeout)
    except httpx.HTTPError as err:
        raise AgentCallError(f"{app_id}/{method}: {type(err).__name__}: {err}") from err
    if resp.status_code >= 300:
        raise AgentCallError(f"{app_id}/{method} answered {resp.status_code}: {resp.text[:500]}", resp.status_code)
    reply = resp.json()
    if not isinstance(reply, dict):
        raise AgentCallError(f"{app_id}/{method} answered {type(reply).__name__}, not a JSON object")
    return reply


def publish(pubsub: str, topic: str, data: dict[str, Any], *, event_id: str, event_type: str,
            ttl_seconds: int) -> None:
    """Publish a CloudEvent whose id is ours, so a re-publish is a duplicate subscribers skip.
    The event carries the current trace (the SDK's gRPC call does not), so its subscribers'
    work joins the trace of whatever published it."""
    parent = traceparent()
    dapr_client().publish_event(
        pubsub_name=pubsub,
        topic_name=topic,
        data=json.dumps(data),
        data_content_type="application/json",
        publish_metadata={
            "ttlInSeconds": str(ttl_seconds),
            "cloudevent.id": event_id,
            "cloudevent.type": event_type,
            **({"cloudevent.traceparent": parent} if parent else {}),
        },
    )


def call_binding(binding: str, operation: str, data: str, metadata: dict[str, str] | None = None) -> None:
    """Invoke an output binding (artifacts storage, the webhook)."""
    dapr_client().invoke_binding(binding_name=binding, operation=operation, data=data,
                                 binding_metadata=metadata or {})


def write_artifact(binding: str, name: str, content: str, content_type: str = "text/markdown") -> None:
    """Store a file through the artifacts output binding (localstorage or Azure Blob)."""
    call_binding(binding, "create", content, {"fileName": name, "blobName": name, "contentType": content_type})


class SecretUnavailableError(RuntimeError):
    """The secret store could not answer (sidecar down, store not loaded or not scoped to
    this app, access denied); a secret that does not exist is not an error."""


# (store, secret name) -> the secret's value, or None when the store has no such secret.
SecretReader = Callable[[str, str], str | None]


def read_secret(store: str, name: str) -> str | None:
    """One secret through the sidecar's secrets API. Errors never carry the value."""
    where = f"secret {name!r} in the Dapr secret store {store!r}"
    try:
        resp = _http().get(f"/v1.0/secrets/{quote(store, safe='')}/{quote(name, safe='')}", timeout=10)
    except httpx.HTTPError as err:
        raise SecretUnavailableError(f"{where}: sidecar unreachable ({type(err).__name__})") from err
    if resp.status_code == 204:
        return None
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code == 200 and isinstance(body, dict):
        value = body.get(name)
        return str(value) if value is not None else None
    # Dapr answers a missing secret with ERR_SECRET_GET and the store's "not found" message
    # (local file: "secret x not found"; Key Vault: "404 Not Found ... SecretNotFound").
    code, message = (body.get("errorCode", ""), str(body.get("message", ""))) if isinstance(body, dict) else ("", "")
    if code == "ERR_SECRET_GET" and "not found" in message.lower():
        return None
    raise SecretUnavailableError(f"{where}: the sidecar answered {resp.status_code} {code} {message[:300]}".rstrip())


def wait_for_sidecar() -> None:
    """Block until the sidecar serves its API (at most DAPR_HEALTH_TIMEOUT seconds)."""
    DaprHealth.wait_for_sidecar()  # type: ignore[no-untyped-call]  # unannotated in the SDK
