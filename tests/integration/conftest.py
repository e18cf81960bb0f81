"""Integration fixtures: the real local platform and the real Baton system."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from infra.local.processes import ROOT, DaprRun, platform

ORCHESTRATOR = "http://127.0.0.1:8080"
ORCHESTRATOR_SIDECAR = "http://127.0.0.1:3500"


def workflow_instance(instance_id: str) -> dict:
    """The workflow engine's own view of an instance, through the orchestrator's sidecar."""
    resp = httpx.get(f"{ORCHESTRATOR_SIDECAR}/v1.0/workflows/dapr/{instance_id}", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def local_platform():
    """Redis, placement, scheduler and the model; stopped afterwards if we started them."""
    was_up = "stopped" not in platform("status")
    platform("up")
    yield
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
    and the notifier delivers to the test's webhook."""
    for port in (8080, 3500):
        if port_in_use(port):
            pytest.fail(f"port {port} is in use: stop a running `make run` before the integration tests")
    run = DaprRun(ROOT / "dapr.yaml", "baton",
                  env={"BATON_ALLOW_FAULT_INJECTION": "true", "BATON_WEBHOOK_URL": webhook[0]})
    run.start()
    try:
        run.wait_ready(timeout=150)
        yield run
    finally:
        leftovers = run.stop()
        assert not leftovers, f"processes survived `dapr run` shutdown and were killed: {leftovers}"
