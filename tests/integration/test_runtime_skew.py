"""Issue: runtime skew. Azure Container Apps runs Dapr 1.16 (a managed, matching control plane)
while Baton pins runtime and Python SDK 1.18. This smoke test runs Baton, unchanged, on a
1.16 daprd with a 1.16 placement and scheduler (built by infra/local/build-dapr.sh into
.dapr/azure-runtime) and drives the sequential and event-driven patterns through it.

It uses the app ids and ports of the main system, so it runs in a pytest session of its own
(`pytest tests -m own_system`, the second half of `make test`), after the first has stopped
everything. Set BATON_SKEW_CONTROL_PLANE_DIR to another bin directory (e.g. .dapr/bin) to try
1.16 sidecars against that control plane instead."""

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from infra.local.processes import ROOT, DaprRun, is_running, platform, wait_until
from tests.integration.conftest import SECRETS, api, dapr_api, port_in_use, workflow_instance
from tests.integration.test_hierarchical_events import chain_done
from tests.integration.test_sequential import content_published, start_content, wait_finished

pytestmark = pytest.mark.own_system

AZURE_RUNTIME = ROOT / ".dapr" / "azure-runtime"  # what DAPR_RUNTIME_PATH points the CLI at
AZURE_BIN = AZURE_RUNTIME / ".dapr" / "bin"
CONTROL_PLANE = Path(os.environ.get("BATON_SKEW_CONTROL_PLANE_DIR", AZURE_BIN)).resolve()
# A platform of its own (pid files, Redis data, raft log, etcd): a 1.16 scheduler never opens
# the 1.18 one's etcd data, and `platform.sh down` of one never touches the other.
DATA_DIR = ROOT / ".data" / "runtime-skew"
PLATFORM_ENV = {"BATON_DAPR_BIN_DIR": str(CONTROL_PLANE), "BATON_DATA_DIR": str(DATA_DIR)}
PORTS = {8080: "the orchestrator", 3500: "its sidecar", 6380: "Redis", 50001: "sentry", 6505: "placement",
         6506: "scheduler", 8181: "the model server", 9411: "Zipkin"}


def azure_version() -> str:
    return re.search(r"^DAPR_AZURE_RUNTIME_VERSION=(\S+)", (ROOT / "versions.env").read_text(), re.M).group(1)


def version_of(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def platform_pids() -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (DATA_DIR / "run").glob("*.pid")}


@pytest.fixture(scope="module")
def skew_baton(webhook):
    """The platform with the 1.16 control plane, then every Baton service with a 1.16 sidecar
    (`dapr run -f dapr.yaml`, fault injection on); afterwards every process it started is
    checked gone by pid."""
    for binary in ("daprd", "placement", "scheduler"):
        if not os.access(AZURE_BIN / binary, os.X_OK):
            pytest.fail(f"{AZURE_BIN / binary} is missing: run infra/local/build-dapr.sh")
    busy = [f"{port} ({what})" for port, what in PORTS.items() if port_in_use(port)]
    if busy:
        pytest.fail(f"ports in use: {', '.join(busy)}. This test starts its own platform and Baton on the same "
                    "ports: stop Baton and the platform (`make platform-down`) first")
    try:
        platform("up", PLATFORM_ENV)
        SECRETS.set("webhook-url", webhook[0])
        # Its own platform's sentry root, in its data folder.
        trust_anchors = (DATA_DIR / "sentry" / "ca.crt").read_text()
        run = DaprRun(ROOT / "dapr.yaml", "runtime-skew", env={
            "DAPR_RUNTIME_PATH": str(AZURE_RUNTIME), "BATON_ALLOW_FAULT_INJECTION": "true",
            "DAPR_TRUST_ANCHORS": trust_anchors})
        with run.running(timeout=180):
            yield run
    finally:
        started = platform_pids()  # what `down` will stop, also after a failed `up`
        platform("down", PLATFORM_ENV)
    survivors = {name: pid for name, pid in started.items() if is_running(pid)}
    assert not survivors, f"platform processes survived `platform.sh down`: {survivors}"


def test_the_sidecars_and_control_plane_are_the_azure_runtime(skew_baton):
    pinned = azure_version()
    sidecars = {}
    for pid in skew_baton.track():
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except FileNotFoundError:
            continue
        if Path(exe).name == "daprd" and is_running(pid):
            sidecars[pid] = exe
    apps = yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]
    assert len(sidecars) == len(apps)
    assert set(sidecars.values()) == {str(AZURE_BIN / "daprd")}
    assert version_of(str(AZURE_BIN / "daprd")) == pinned
    # The running sidecar says so too (what `dapr list` and the SDK see).
    metadata = dapr_api.get("/v1.0/metadata", timeout=10).json()
    assert metadata["runtimeVersion"] == pinned
    # placement and scheduler have no --version; each logs its version as it starts.
    for name in ("placement", "scheduler"):
        assert os.readlink(f"/proc/{platform_pids()[name]}/exe") == str(CONTROL_PLANE / name)
        if AZURE_BIN.resolve() == CONTROL_PLANE:
            assert f"version {pinned}" in (DATA_DIR / "logs" / f"{name}.log").read_text()


def test_a_sequential_task_completes_on_the_azure_runtime(skew_baton):
    task_id = start_content("Runtime skew: Baton on Dapr 1.16")
    task = wait_finished(task_id, timeout=180)
    assert task["status"] == "completed", task.get("error")
    steps = task["steps"]
    assert [s["name"] for s in steps] == ["research", "write", "edit", "publish"]
    result = task["result"]
    assert result["final_article"] == steps[2]["result"]["output"] and result["word_count"] > 0
    artifact = ROOT / ".data" / "artifacts" / steps[3]["result"]["artifact"]
    assert artifact.read_text() == result["final_article"]

    (event,) = wait_until(lambda: content_published(task_id), timeout=30, what="the ContentPublished event")
    assert event["detail"]["word_count"] == result["word_count"]
    # The 1.16 workflow engine's own view, through its HTTP API.
    instance = workflow_instance(task_id)
    assert instance["runtimeStatus"] == "COMPLETED" and instance["workflowName"] == "sequential"


def test_an_event_driven_chain_completes_on_the_azure_runtime(skew_baton, webhook):
    source = f"skew-{uuid.uuid4()}"
    resp = api.post("/collect", json={"source": source, "payload": {"level": 3}}, timeout=10)
    assert resp.status_code == 202, resp.text
    cid = resp.json()["correlation_id"]
    events = wait_until(chain_done(cid), timeout=90, what="the full event chain")
    processed = {(e["subscriber"], e["event_type"]) for e in events if e["outcome"] == "processed"}
    assert processed == {("analyser", "DataReceived"), ("notifier", "DataReceived"), ("archiver", "DataReceived"),
                         ("notifier", "AnalysisComplete")}
    archived = next(e for e in events if e["subscriber"] == "archiver")["detail"]["artifact"]
    assert (ROOT / ".data/artifacts" / archived).is_file()
    _url, received = webhook
    # The notifier's HTTP output binding delivered both. A set, not a list: delivery is at least
    # once, and a subscriber that loses the race to create the events document answers 500 and
    # is redelivered (on 1.18 as on 1.16: Redis reports that lost create-if-absent as a plain
    # error, not an ETag conflict), so the webhook can see the same notification twice.
    kinds = wait_until(lambda: len(k := {n["kind"] for n in received if n["correlation_id"] == cid}) == 2 and k,
                       timeout=30, what="both webhook notifications")
    assert kinds == {"analysis_complete", "data_received"}
