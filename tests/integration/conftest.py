"""Integration fixtures: the real local platform and the real Baton system."""

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml

from infra.local.keys import LocalSecrets
from infra.local.processes import LOGS, ROOT, DaprRun, open_resources, platform
from services.common.registry import REGISTRY

ORCHESTRATOR = "http://127.0.0.1:8080"
ORCHESTRATOR_SIDECAR = "http://127.0.0.1:3500"
# The tests' own API keys and sidecar tokens (not the ones `make run` uses), for every
# DaprRun and every key lookup in this process.
os.environ["BATON_SECRETS_DIR"] = str(ROOT / ".data" / "test-secrets")
SECRETS = LocalSecrets.default()
# A read key with a rate limit of its own, for the 429 test (tests/integration/test_security.py).
LIMITED_KEY_NAME = "test-limited"


sidecar_headers = SECRETS.sidecar_headers  # the Dapr API token, for a client of a sidecar's API


def key_headers(scope: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS.api_key(scope)}"}


class Api:
    """An HTTP API with its credentials on every request: the orchestrator's with an API key
    (admin unless asked otherwise), or a sidecar's with the Dapr API token."""

    def __init__(self, base: str = ORCHESTRATOR, auth: Callable[[], dict[str, str]] = key_headers):
        self.base, self.auth = base, auth

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(), **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 10)
        return httpx.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


api = Api()
dapr_api = Api(ORCHESTRATOR_SIDECAR, sidecar_headers)  # the orchestrator's sidecar


def app_log_files(app_id: str = "*") -> list[Path]:
    """Every log an app wrote: under `dapr run` (.dapr/logs) and after a test restarted it
    (DaprRun.launch writes .data/logs/test-restart-<app id>.log)."""
    return [*(ROOT / ".dapr/logs").glob(f"{app_id}_app_*.log"), *LOGS.glob(f"test-restart-{app_id}.log")]


def workflow_instance(instance_id: str) -> dict:
    """The workflow engine's own view of an instance, through the orchestrator's sidecar."""
    resp = dapr_api.get(f"/v1.0/workflows/dapr/{instance_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def probe_apps(name: str) -> Iterator[DaprRun]:
    """The probe apps (tests/integration/probe): throwaway ids outside the registry, with mTLS."""
    open_resources(ROOT / ".data" / "probe")
    with DaprRun(ROOT / "tests/integration/probe/dapr.yaml", name).running(timeout=90) as run:
        yield run


@pytest.fixture(scope="session")
def local_platform():
    """Redis, sentry, placement, scheduler and the model; stopped afterwards if we started
    them, also when starting them failed half-way."""
    was_up = "stopped" not in platform("status")
    try:
        platform("up")
        yield
    finally:
        if not was_up:
            platform("down")


class WebhookReceiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        WebhookReceiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def webhook():
    """A webhook endpoint on loopback for the notifier's HTTP output binding."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), WebhookReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", WebhookReceiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def baton(local_platform, webhook):
    """Every Baton service with its sidecar, started with `dapr run -f dapr.yaml`.
    Fault injection is enabled (it is off by default) so tests can break agents on purpose,
    and the notifier delivers to the test's webhook (its URL is a secret of the tests' store)."""
    for port in (8080, 3500):
        if port_in_use(port):
            pytest.fail(f"port {port} is in use: stop a running `make run` before the integration tests")
    SECRETS.set("webhook-url", webhook[0])  # read by the notifier's sidecar, from the secret store
    SECRETS.add_api_key(LIMITED_KEY_NAME, "read", rate_limit="3/minute")
    with DaprRun(ROOT / "dapr.yaml", "baton", env={"BATON_ALLOW_FAULT_INJECTION": "true"}).running(150) as run:
        forget_breakers()
        yield run


@contextmanager
def own_baton(name: str, folder: Path, components: dict[str, dict | None] | None = None,
              env: dict[str, str] | None = None, timeout: float = 150) -> Iterator[DaprRun]:
    """All of Baton on the main ports (own_system tests, in a pytest session of their own),
    with its own copy of components/: `components` replaces files by name with a document, or
    leaves them out (None). `env` goes to every app. The platform is started if it is not
    running, and then stopped, also when starting failed half-way."""
    busy = [port for port in (8080, 3500) if port_in_use(port)]
    assert not busy, f"ports {busy} in use: stop Baton first"
    changes = components or {}
    resources = folder / "components"
    resources.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "components").glob("*.yaml"):
        if path.name not in changes:
            (resources / path.name).write_text(path.read_text())
        elif changes[path.name] is not None:
            (resources / path.name).write_text(yaml.safe_dump(changes[path.name]))
    run_doc = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    run_doc["common"]["resourcesPath"] = str(resources)
    for app in run_doc["apps"]:
        app["appDirPath"] = str(ROOT)
    run_file = folder / f"{name}-dapr.yaml"
    run_file.write_text(yaml.safe_dump(run_doc))
    was_up = "stopped" not in platform("status")
    try:
        platform("up")
        with DaprRun(run_file, name, env=env).running(timeout=timeout) as run:
            forget_breakers()
            yield run
    finally:
        if not was_up:
            platform("down")


def forget_breakers() -> None:
    """Close every agent's Baton breaker: they live in Redis, which keeps them from one test
    system to the next (the API fuzz, with fault injection on, opens some on purpose)."""
    for app in REGISTRY.agents:
        resp = dapr_api.delete(f"/v1.0/state/statestore/baton:breaker:{app.app_id}")
        assert resp.status_code in (200, 204), resp.text
