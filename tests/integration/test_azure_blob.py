"""The Azure twin of the `artifacts` binding for real: a `bindings.azure.blobstorage`
component (compiled into Baton's daprd) against Azurite, the Azure Storage emulator,
started here on loopback. Baton runs with that component (in the second pytest session, on
the main ports), the sequential pipeline publishes an article through it, and the blob is
read back."""

import socket
import subprocess

import pytest
import yaml

from infra.local.processes import LOGS, ROOT, wait_until
from tests.integration.conftest import ORCHESTRATOR_SIDECAR, SECRETS, Api, own_baton, sidecar_headers

pytestmark = pytest.mark.own_system

AZURITE = ROOT / "infra/local/azurite/node_modules/.bin/azurite-blob"
BLOB_PORT = 10010
# Azurite's fixed development account and key, published by Microsoft for the emulator
# (https://learn.microsoft.com/azure/storage/common/storage-use-azurite): not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    if not AZURITE.exists():
        pytest.fail("Azurite is not installed: run infra/local/bootstrap.sh")
    assert not listening(BLOB_PORT), f"port {BLOB_PORT} is in use"
    data = tmp_path_factory.mktemp("azurite")
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "azurite.log", "w") as log:
        proc = subprocess.Popen([str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(BLOB_PORT),
                                 "--location", str(data), "--skipApiVersionCheck", "--loose"],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: listening(BLOB_PORT), timeout=60, what="Azurite to listen")
        yield f"http://127.0.0.1:{BLOB_PORT}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def blob_orchestrator(azurite, tmp_path_factory):
    """All of Baton (`dapr.yaml`), with the Azure `artifacts` component in place of the local
    one. Its own system on the main ports, in the second pytest session: the agents accept
    calls from the app id `orchestrator` only."""
    local = yaml.safe_load((ROOT / "components/artifacts.yaml").read_text())
    blob = {**local, "spec": {"type": "bindings.azure.blobstorage", "version": "v1", "metadata": [
        {"name": "accountName", "value": DEV_ACCOUNT},
        {"name": "accountKey", "value": DEV_KEY},
        {"name": "containerName", "value": "artifacts"},
        {"name": "endpoint", "value": azurite},
    ]}}
    SECRETS.set("webhook-url", None)  # no test webhook listens in this session
    with own_baton("blob", tmp_path_factory.mktemp("blob"), {"artifacts.yaml": blob}):
        yield Api(), Api(ORCHESTRATOR_SIDECAR, sidecar_headers)


def test_the_sequential_pipeline_publishes_its_article_as_a_blob(blob_orchestrator):
    api, sidecar = blob_orchestrator
    resp = api.post("/create-content", json={"topic": "Blob storage for agent artifacts"}, timeout=30)
    assert resp.status_code == 202, resp.text
    task_id = resp.json()["task_id"]

    def finished():
        task = api.get(f"/task/{task_id}").json()
        return task if task["status"] in ("completed", "failed") else None

    task = wait_until(finished, timeout=180, interval=1, what=f"task {task_id}")
    assert task["status"] == "completed", task.get("error")
    artifact = task["steps"][-1]["result"]["artifact"]
    assert artifact == f"{task_id}.md"
    assert not (ROOT / ".data/artifacts" / artifact).exists()  # not the local folder binding

    # Read it back from the emulator through the same component.
    got = sidecar.post("/v1.0/bindings/artifacts", timeout=30,
                     json={"operation": "get", "metadata": {"blobName": artifact}})
    assert got.status_code == 200, got.text
    assert got.text == task["result"]["final_article"]
    listed = sidecar.post("/v1.0/bindings/artifacts", timeout=30, json={"operation": "list"})
    assert listed.status_code == 200 and artifact in listed.text
