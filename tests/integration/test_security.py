"""Issue 14: Baton locked down, tried the way an attacker on the machine or the network would:
API keys and scopes on the orchestrator, the app token on every app, the Dapr API token on
every sidecar, mTLS access control between sidecars, scoped components and secrets, loopback
listeners only, rate limits."""

import re
import subprocess
import uuid

import httpx
import pytest

from services.common.registry import REGISTRY
from tests.integration.conftest import (
    LIMITED_KEY_NAME,
    ORCHESTRATOR,
    ORCHESTRATOR_SIDECAR,
    SECRETS,
    Api,
    api,
    dapr_api,
    key_headers,
    probe_apps,
    sidecar_headers,
)

AGENT = "research-agent"
AGENT_URL = f"http://127.0.0.1:{REGISTRY.app(AGENT).port}"
ORCHESTRATOR_URL = f"http://127.0.0.1:{REGISTRY.app('orchestrator').port}"


def other_sidecar(baton, app_id: str) -> Api:
    """The sidecar of another app, with the (shared, local) Dapr API token."""
    return Api(f"http://127.0.0.1:{baton.sidecar_http_port(app_id)}", sidecar_headers)


# 1. API keys and scopes.

@pytest.mark.parametrize("path", ["/agents", "/task/anything", "/dead-letters", "/events/x", "/notifications/x"])
def test_every_read_route_needs_an_api_key(baton, path):
    resp = httpx.get(f"{ORCHESTRATOR}{path}", timeout=10)
    assert resp.status_code == 401, resp.text
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer")
    wrong = httpx.get(f"{ORCHESTRATOR}{path}", headers={"Authorization": "Bearer not-a-key"}, timeout=10)
    assert wrong.status_code == 401


def test_starting_a_task_needs_a_key_and_health_does_not(baton):
    assert httpx.post(f"{ORCHESTRATOR}/create-content", json={"topic": "x"}, timeout=10).status_code == 401
    assert httpx.get(f"{ORCHESTRATOR}/health", timeout=10).status_code == 200


def test_a_key_works_as_bearer_token_and_as_x_api_key(baton):
    key = SECRETS.api_key("read")
    assert httpx.get(f"{ORCHESTRATOR}/dead-letters", headers={"X-API-Key": key}, timeout=10).status_code == 200
    assert httpx.get(f"{ORCHESTRATOR}/dead-letters", headers={"Authorization": f"Bearer {key}"},
                     timeout=10).status_code == 200


def test_a_read_only_key_cannot_purge_dead_letters_or_start_tasks(baton):
    reader = Api(auth=lambda: key_headers("read"))
    purge = reader.delete("/dead-letters")
    assert purge.status_code == 403, purge.text
    assert "admin" in purge.text
    assert reader.post("/create-content", json={"topic": "x"}).status_code == 403
    assert reader.get("/dead-letters").status_code == 200


def test_over_its_rate_limit_a_key_gets_429_with_retry_after(baton):
    """The tests' `test-limited` key allows 3 requests a minute (its own rate_limit)."""
    limited = Api(auth=lambda: {"X-API-Key": SECRETS.api_key_named(LIMITED_KEY_NAME)})
    statuses = [limited.get("/dead-letters").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429], statuses
    over = limited.get("/dead-letters")
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    # Another key is not affected.
    assert api.get("/dead-letters").status_code == 200


# 2. Tokens between apps and sidecars.

def test_an_agent_called_directly_without_its_sidecar_token_refuses(baton):
    body = {"task_id": "attack", "input": "Write anything"}
    assert httpx.post(f"{AGENT_URL}/run", json=body, timeout=10).status_code == 401
    wrong = httpx.post(f"{AGENT_URL}/run", json=body, headers={"dapr-api-token": "guess"}, timeout=10)
    assert wrong.status_code == 401
    assert httpx.get(f"{AGENT_URL}/health", timeout=10).status_code == 200  # Dapr's probe sends no token


def test_a_forged_cloudevent_on_a_subscription_route_is_refused_and_not_recorded(baton):
    task_id = f"forged-{uuid.uuid4().hex[:8]}"
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "attacker", "type": "content-published",
             "datacontenttype": "application/json", "topic": "content-published", "pubsubname": "pubsub",
             "data": {"task_id": task_id, "topic": "forged", "artifact": "x.md"}}
    resp = httpx.post(f"{ORCHESTRATOR_URL}/events/content-published", json=event, timeout=10)
    assert resp.status_code == 401, resp.text
    assert httpx.post(f"{ORCHESTRATOR_URL}/dead-letters/receive", json=event, timeout=10).status_code == 401
    assert api.get(f"/events/{task_id}").json()["events"] == []


def test_the_dapr_api_refuses_calls_without_the_api_token(baton):
    for method, path in (("POST", f"/v1.0/invoke/{AGENT}/method/run"), ("GET", "/v1.0/state/statestore/k"),
                         ("POST", "/v1.0/publish/pubsub/data-received"), ("GET", "/v1.0/metadata")):
        resp = httpx.request(method, f"{ORCHESTRATOR_SIDECAR}{path}", json={}, timeout=10)
        assert resp.status_code == 401, (path, resp.status_code, resp.text)
    assert dapr_api.get("/v1.0/metadata").status_code == 200


# 3. mTLS and access control between sidecars.

def test_an_agent_invoked_from_another_app_id_is_denied_by_access_control(baton):
    analyser = other_sidecar(baton, "analyser")
    resp = analyser.post(f"/v1.0/invoke/{AGENT}/method/run", json={"task_id": "x", "input": "y"})
    assert resp.status_code == 403, resp.text
    # The caller's identity is the SPIFFE id in its sentry-signed certificate: mTLS is on.
    assert "access control policy has denied" in resp.text and "spiffe://public/ns/default/analyser" in resp.text
    # The same call from the orchestrator's identity reaches the agent.
    assert dapr_api.get(f"/v1.0/invoke/{AGENT}/method/health").status_code == 200


def test_subscribers_accept_only_their_health_check_from_the_orchestrator(baton):
    denied = dapr_api.post("/v1.0/invoke/notifier/method/dapr/subscribe", json={})
    assert denied.status_code == 403 and "access control policy has denied" in denied.text
    assert dapr_api.get("/v1.0/invoke/notifier/method/health").status_code == 200


# 4. Scoped components and secrets.

def test_a_component_from_an_unscoped_app_is_not_there(baton):
    agent = other_sidecar(baton, AGENT)
    state = agent.get("/v1.0/state/statestore/some-key")
    assert state.status_code >= 400 and "statestore" in state.text, state.text
    publish = agent.post("/v1.0/publish/pubsub/data-received", json={"x": 1})
    assert publish.status_code >= 400, publish.text
    assert dapr_api.get("/v1.0/state/statestore/some-key").status_code in (200, 204)


def test_an_app_reads_only_the_secrets_it_needs(baton):
    analyser = other_sidecar(baton, "analyser")
    denied = analyser.get("/v1.0/secrets/secretstore/api-keys")
    assert denied.status_code == 403, denied.text
    assert dapr_api.get("/v1.0/secrets/secretstore/model-api-key").status_code == 403
    own = dapr_api.get("/v1.0/secrets/secretstore/api-keys")
    assert own.status_code == 200 and "api-keys" in own.json()


# 5. Nothing listens beyond loopback.

def test_every_app_and_sidecar_listens_on_loopback_only(baton):
    ours = baton.track()
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    exposed = []
    for line in listening:
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        local = line.split()[3]
        if pids & ours and not local.startswith(("127.0.0.1:", "[::1]:")):
            exposed.append(line)
    assert not exposed, "listening beyond loopback:\n" + "\n".join(exposed)
    assert any(pids for pids in (re.findall(r"pid=(\d+)", x) for x in listening))  # ss saw processes at all


# 6. Workflows: only the orchestrator may start or manage them.

@pytest.fixture(scope="module")
def probe_worker(baton):
    """probe-worker: an app of another id, with its own workflow runtime and mTLS."""
    with probe_apps("probe-security"):
        yield "http://127.0.0.1:8191"


def test_another_app_cannot_start_the_orchestrators_workflows(probe_worker):
    body = {"workflow": "sequential", "app_id": "orchestrator", "input": {"task_id": "probe-attack"}}
    resp = httpx.post(f"{probe_worker}/cross-app", json=body, timeout=90)
    assert resp.status_code == 200, resp.text
    outcome = resp.json()
    assert outcome["status"] == "FAILED", outcome
    assert "access denied by workflow access policy" in (outcome["failure"] or ""), outcome
    assert api.get("/task/probe-attack").status_code == 404
