"""Issue: the local Dapr platform built from Go modules, started and stopped with one command."""

import json
import re
import subprocess
import time
import uuid

import httpx
import pytest
from openai import OpenAI

from infra.local.processes import ROOT, is_running, platform, wait_until
from tests.integration.conftest import Api, probe_apps, sidecar_headers

VERSIONS = dict(re.findall(r"^(\w+)=(\S+)", (ROOT / "versions.env").read_text(), re.M))
BIN = ROOT / ".dapr" / "bin"
PROBE_SIDECAR = Api("http://127.0.0.1:3591", sidecar_headers)  # probe-worker's sidecar


def test_binaries_are_built_at_the_pinned_versions_not_edge():
    daprd = subprocess.run([BIN / "daprd", "--version"], capture_output=True, text=True, check=True)
    assert daprd.stdout.strip() == VERSIONS["DAPR_RUNTIME_VERSION"]
    cli = subprocess.run([BIN / "dapr", "--version"], capture_output=True, text=True, check=True)
    assert f"CLI version: {VERSIONS['DAPR_CLI_VERSION']}" in cli.stdout
    for name in ("placement", "scheduler", "sentry"):
        assert (BIN / name).stat().st_mode & 0o111, name


def test_build_is_skipped_when_the_pinned_build_exists():
    started = time.monotonic()
    done = subprocess.run(["bash", ROOT / "infra/local/build-dapr.sh"], capture_output=True, text=True, check=True)
    assert "already built" in done.stdout
    assert time.monotonic() - started < 30


def test_model_server_answers_a_chat_completion_through_the_openai_client(local_platform):
    client = OpenAI(base_url="http://127.0.0.1:8181/v1", api_key="none")
    resp = client.chat.completions.create(
        model="smollm2-135m-instruct", max_tokens=30,
        messages=[{"role": "user", "content": "Name one colour."}])
    assert resp.choices[0].message.content.strip()
    assert resp.usage.completion_tokens > 0


def test_model_server_follows_a_json_schema_response_format(local_platform):
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["yes", "no"]}},
              "required": ["label"]}
    client = OpenAI(base_url="http://127.0.0.1:8181/v1", api_key="none")
    resp = client.chat.completions.create(
        model="smollm2-135m-instruct", max_tokens=30,
        messages=[{"role": "user", "content": "Is the sky blue? Answer in JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}})
    assert json.loads(resp.choices[0].message.content)["label"] in ("yes", "no")


@pytest.fixture(scope="module")
def probe(local_platform):
    with probe_apps("probe") as run:
        yield run


def test_sidecar_saves_and_reads_state_in_redis(probe):
    key, value = f"probe-{uuid.uuid4()}", {"hello": "redis"}
    sidecar = "/v1.0/state/statestore"
    assert PROBE_SIDECAR.post(sidecar, json=[{"key": key, "value": value}]).status_code == 204
    assert PROBE_SIDECAR.get(f"{sidecar}/{key}").json() == value
    # keyPrefix none: the key is stored in Redis under its own name, as a hash.
    raw = subprocess.run(["redis-cli", "-p", "6380", "HGET", key, "data"],
                         capture_output=True, text=True, check=True)
    assert json.loads(raw.stdout) == value


def test_message_published_by_one_app_is_received_by_another(probe):
    marker = str(uuid.uuid4())
    resp = PROBE_SIDECAR.post("/v1.0/publish/pubsub/probe-topic", json={"marker": marker})
    assert resp.status_code == 204

    def arrived():
        events = PROBE_SIDECAR.get("/v1.0/invoke/probe-listener/method/received").json()
        return any(e.get("data", {}).get("marker") == marker for e in events)

    wait_until(arrived, timeout=30, what="the probe message to reach probe-listener")


def test_one_activity_workflow_runs_to_completion(probe):
    resp = httpx.post("http://127.0.0.1:8191/workflow", json={"x": 21}, timeout=90)
    assert resp.status_code == 200
    assert resp.json()["status"] == "COMPLETED" and json.loads(resp.json()["output"]) == 42


def test_platform_up_is_idempotent_and_down_leaves_no_process(tmp_path):
    """A second platform on other ports and its own data folder, so the shared one is untouched."""
    # Below Linux's ephemeral range (32768+), where an outgoing connection of an earlier test can
    # hold a port (this test once failed on the scheduler's health port, 51106, taken that way).
    env = {"BATON_DATA_DIR": str(tmp_path), "BATON_REDIS_PORT": "16380", "BATON_PLACEMENT_PORT": "21005",
           "BATON_SCHEDULER_PORT": "21006", "BATON_SCHEDULER_ETCD_PORT": "21379", "BATON_MODEL_PORT": "18181",
           "BATON_SENTRY_PORT": "21001", "BATON_SENTRY_HEALTH_PORT": "21101", "BATON_ZIPKIN_PORT": "19411"}
    try:
        platform("up", env)
        pids = {p.stem: int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")}
        assert set(pids) == {"redis", "zipkin", "sentry", "placement", "scheduler", "model"}
        assert all(is_running(pid) for pid in pids.values())
        assert "already running" in platform("up", env)
        assert {p.stem: int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")} == pids
    finally:
        platform("down", env)
    assert [name for name, pid in pids.items() if is_running(pid)] == []
    assert list((tmp_path / "run").glob("*.pid")) == []
    assert (tmp_path / "redis" / "appendonlydir").exists()  # append-only persistence is on
