"""The local configuration files agree with each other (they are edited by hand)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load_all(folder: str) -> list[dict]:
    docs = []
    for path in sorted((ROOT / folder).glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def versions() -> dict[str, str]:
    pairs = re.findall(r"^(\w+)=(\S+)", (ROOT / "versions.env").read_text(), re.M)
    return dict(pairs)


def platform_default(name: str) -> str:
    match = re.search(rf'^: "\$\{{{name}:=(\d+)\}}"', (ROOT / "infra/local/platform.sh").read_text(), re.M)
    assert match, name
    return match.group(1)


def test_components_use_the_redis_port_the_platform_starts():
    port = platform_default("BATON_REDIS_PORT")
    hosts = [m["value"] for d in load_all("components") if d["kind"] == "Component"
             for m in d["spec"].get("metadata", []) if m["name"] == "redisHost"]
    assert hosts and all(h == f"127.0.0.1:{port}" for h in hosts)


def test_run_file_points_at_the_platform_placement_and_scheduler():
    common = yaml.safe_load((ROOT / "dapr.yaml").read_text())["common"]
    assert common["placementHostAddress"] == f"127.0.0.1:{platform_default('BATON_PLACEMENT_PORT')}"
    assert common["schedulerHostAddress"] == f"127.0.0.1:{platform_default('BATON_SCHEDULER_PORT')}"


def test_every_agent_in_the_run_file_has_a_timeout_and_circuit_breaker():
    apps = yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]
    agents = {a["appID"] for a in apps if "BATON_AGENT_ROLE" in a.get("env", {})}
    (resiliency,) = [d for d in load_all("components") if d["kind"] == "Resiliency"]
    targets = resiliency["spec"]["targets"]["apps"]
    assert agents and agents <= set(targets)
    assert all({"timeout", "circuitBreaker"} <= set(targets[a]) for a in agents)


def test_python_sdk_is_pinned_to_the_runtime_version():
    v = versions()
    reqs = (ROOT / "requirements-runtime.txt").read_text()
    assert v["DAPR_PYTHON_SDK_VERSION"] == v["DAPR_RUNTIME_VERSION"]
    for package in ("dapr", "dapr-ext-workflow", "dapr-ext-fastapi"):
        assert f"\n{package}=={v['DAPR_PYTHON_SDK_VERSION']}\n" in reqs
    assert f"github.com/dapr/dapr v{v['DAPR_RUNTIME_VERSION']}" in (ROOT / "infra/local/dapr/go.mod").read_text()


def sidecar_config(app: dict) -> dict:
    return yaml.safe_load((ROOT / app["configFilePath"]).read_text())


def test_every_sidecar_has_mtls_on_and_listens_on_loopback():
    run = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    assert run["common"]["apiListenAddresses"] == "127.0.0.1"
    for app in run["apps"]:
        assert sidecar_config(app)["spec"]["mtls"]["enabled"] is True, app["appID"]


def test_only_the_orchestrator_may_invoke_agents_and_nothing_invokes_the_others():
    for app in yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]:
        acl = sidecar_config(app)["spec"]["accessControl"]
        assert acl["defaultAction"] == "deny", app["appID"]
        allowed = {(p["appId"], p["defaultAction"]) for p in acl["policies"]}
        if "BATON_AGENT_ROLE" in app["env"]:
            assert allowed == {("orchestrator", "allow")}
        else:
            assert allowed <= {("orchestrator", "deny")}  # subscribers: only their health check
            for policy in acl["policies"]:
                assert [op["name"] for op in policy["operations"] if op["action"] == "allow"] == ["/health"]


def test_every_component_is_scoped_and_secrets_come_from_the_secret_store():
    components = [d for d in load_all("components") if d["kind"] == "Component"]
    assert all(d.get("scopes") for d in components), [d["metadata"]["name"] for d in components if not d.get("scopes")]
    webhook = next(d for d in components if d["metadata"]["name"] == "webhook")
    assert webhook["auth"]["secretStore"] == "secretstore"
    assert all("value" not in m and "envRef" not in m for m in webhook["spec"]["metadata"])
    (policy,) = [d for d in load_all("components") if d["kind"] == "WorkflowAccessPolicy"]
    assert policy["scopes"] == ["orchestrator"]
    assert [c["appID"] for r in policy["spec"]["rules"] for c in r["callers"]] == ["orchestrator"]


def test_every_sidecar_port_is_fixed_and_below_the_ephemeral_range():
    """Ports the CLI picks at random can be taken by an outgoing connection before daprd binds them."""
    for app in yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]:
        ports = [app[k] for k in ("appPort", "daprHTTPPort", "daprGRPCPort", "daprInternalGRPCPort", "metricsPort")]
        assert all(0 < p < 32768 for p in ports), (app["appID"], ports)


def test_zipkin_is_pinned_with_its_sha256_and_listens_on_loopback():
    v = versions()
    assert re.fullmatch(r"\d+\.\d+\.\d+", v["ZIPKIN_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", v["ZIPKIN_SHA256"])
    platform = (ROOT / "infra/local/platform.sh").read_text()
    assert platform_default("BATON_ZIPKIN_PORT") and "ARMERIA_PORTS_0_IP=127.0.0.1" in platform
