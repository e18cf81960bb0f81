"""Integration fixtures: the real local platform and the real Baton system."""

import socket

import pytest

from tests.integration.harness import ROOT, DaprRun, platform

ORCHESTRATOR = "http://127.0.0.1:8080"
ORCHESTRATOR_SIDECAR = "http://127.0.0.1:3500"


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


@pytest.fixture(scope="session")
def baton(local_platform):
    """Every Baton service with its sidecar, started with `dapr run -f dapr.yaml`.
    Fault injection is enabled (it is off by default) so tests can break agents on purpose."""
    for port in (8080, 3500):
        if port_in_use(port):
            pytest.fail(f"port {port} is in use: stop a running `make run` before the integration tests")
    run = DaprRun(ROOT / "dapr.yaml", "baton", env={"BATON_ALLOW_FAULT_INJECTION": "true"})
    run.start()
    try:
        run.wait_ready(timeout=150)
        yield run
    finally:
        leftovers = run.stop()
        assert not leftovers, f"processes survived `dapr run` shutdown and were killed: {leftovers}"
