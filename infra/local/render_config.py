"""Writes dapr.yaml, components/resiliency.yaml, the sidecar configurations in
components/config/, the `scopes` of every component, and infra/apps.json (the app list the
Azure Bicep loops over) from the app registry (services/common/registry.py), so an app is
defined in one place.

  .venv/bin/python infra/local/render_config.py          # rewrite the files (make config)
  .venv/bin/python infra/local/render_config.py --check  # exit 1 if they differ (a unit test runs it)
"""

import argparse
import difflib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common.registry import AGENT_MODULE, APPS, DEAD_LETTER_TOPIC, ORCHESTRATOR_REPLICA, App  # noqa: E402
from services.common.settings import Settings  # noqa: E402

GENERATED = "# Generated from services/common/registry.py by infra/local/render_config.py (make config): edit there.\n"

RUN_FILE_HEAD = GENERATED + """\
# Baton on one machine: `dapr run -f dapr.yaml` (after infra/local/platform.sh up, which
# `make run` does for you). Every app gets its own daprd sidecar.
version: 1
common:
  resourcesPath: ./components
  appProtocol: http
  # Sidecars listen on loopback only and take the Dapr API token from the environment
  # (`make run` sets it: see README, "Security").
  apiListenAddresses: 127.0.0.1
  placementHostAddress: 127.0.0.1:6505
  schedulerHostAddress: 127.0.0.1:6506
  appHealthCheckPath: /health
  env:
    PYTHONPATH: .
    BATON_MODEL_BASE_URL: http://127.0.0.1:8181/v1
apps:
"""

REPLICA_NOTE = """\
# A second orchestrator replica: `make replica` while `make run` serves (it sets the sidecar
# tokens and runs `dapr run -f dapr.replica.yaml`). Same app id, its own ports: workflows and
# activities spread over both replicas, either API serves every task (README, "Scale out").
"""

RESILIENCY_HEAD = GENERATED + """\
# Applied by each caller's sidecar: per-agent timeouts and circuit breakers on service
# invocation, and retried delivery (then dead-lettering) on every subscription.
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: baton-resiliency
spec:
  policies:
    timeouts:
      agentCall: 180s
    retries:
      # Inbound pub/sub delivery: 3 retries with exponential backoff (Dapr's exponential
      # policy starts at 0.5 s and grows x1.5, randomised; `duration` applies only to constant
      # policies), then the message goes to its subscription's dead-letter topic.
      deliveryRetry:
        policy: exponential
        maxInterval: 15s
        maxRetries: 3
    circuitBreakers:
      # After 5 consecutive failures stop calling the agent; after 60 s let one trial
      # call through; success closes the breaker again.
      agentBreaker:
        maxRequests: 1
        interval: 0s
        timeout: 60s
        trip: consecutiveFailures >= 5
  targets:
    apps:
"""

RESILIENCY_TAIL = """\
    components:
      pubsub:
        inbound:
          retry: deliveryRetry
"""


def _app_block(app: App) -> str:
    lines = [f"  - appID: {app.app_id}", "    appDirPath: .", f"    appPort: {app.port}"]
    ports = app.sidecar_ports
    lines += [f"    daprHTTPPort: {ports.http}", f"    daprGRPCPort: {ports.grpc}",
              f"    daprInternalGRPCPort: {ports.internal_grpc}", f"    metricsPort: {ports.metrics}"]
    lines.append(f"    configFilePath: ./components/config/{_kind(app)}.yaml")
    lines.append(f'    command: [".venv/bin/python", "-m", "{app.module}"]')
    env = {"BATON_PORT": str(app.port), "BATON_METRICS_PORT": str(app.metrics_port)}
    if app.role:
        env["BATON_AGENT_ROLE"] = app.role
    env.update(app.env)
    lines.append("    env:")
    lines += [f"      {key}: {json.dumps(value)}" for key, value in env.items()]
    return "\n".join(lines) + "\n"


def run_file(apps: tuple[App, ...] = APPS) -> str:
    return RUN_FILE_HEAD + "".join(_app_block(a) for a in apps)


def replica_run_file() -> str:
    head = RUN_FILE_HEAD.replace(RUN_FILE_HEAD.split("version: 1")[0], GENERATED + REPLICA_NOTE)
    # Its log on the terminal that runs it (the first replica's goes to .dapr/logs).
    block = _app_block(ORCHESTRATOR_REPLICA)
    return head + block.replace("    env:\n", "    appLogDestination: console\n    env:\n", 1)


def resiliency(apps: tuple[App, ...] = APPS) -> str:
    targets = "".join(f"      {a.app_id}: {{timeout: agentCall, circuitBreaker: agentBreaker}}\n"
                      for a in apps if a.is_agent)
    return RESILIENCY_HEAD + targets + RESILIENCY_TAIL


def _kind(app: App) -> str:
    if app.module == "services.orchestrator":
        return "orchestrator"
    return "agent" if app.is_agent else "subscriber"


# Which apps load each Dapr component, locally and in Azure (each component is scoped to
# them; any other app's sidecar does not load it): the orchestrator and the subscribers keep
# state and use pub/sub; the orchestrator publishes articles and the archiver archives
# (artifacts); the notifier posts to the webhook; the secret store serves the orchestrator
# (API keys), every app with a model (its key) and the notifier (the webhook URL).
MODEL_USERS = (AGENT_MODULE, "services.analyser")
COMPONENT_USERS = {
    "statestore": ("services.orchestrator", "services.analyser", "services.notifier", "services.archiver"),
    "pubsub": ("services.orchestrator", "services.analyser", "services.notifier", "services.archiver"),
    "artifacts": ("services.orchestrator", "services.archiver"),
    "webhook": ("services.notifier",),
    "secretstore": ("services.orchestrator", *MODEL_USERS, "services.notifier"),
}


def component_scopes(apps: tuple[App, ...] = APPS) -> dict[str, list[str]]:
    return {name: [a.app_id for a in apps if a.module in modules] for name, modules in COMPONENT_USERS.items()}


SIDECAR_CONFIG = GENERATED + """\
# The {kind} sidecars' configuration (dapr.yaml passes it to each with --config).
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: baton-{kind}
spec:
  # Every span to the local Zipkin (infra/local/platform.sh), where the apps send theirs.
  tracing:
    samplingRate: "1"
    zipkin:
      endpointAddress: {zipkin}
  # mTLS between sidecars and with placement and scheduler, with certificates from the local
  # sentry (infra/local/platform.sh): seeing this, the Dapr CLI starts daprd with
  # --enable-mtls --sentry-address localhost:50001.
  mtls:
    enabled: true
    workloadCertTTL: 24h
    allowedClockSkew: 15m
  # Service invocation into these apps: the caller's app id is taken from its mTLS certificate.
  accessControl:
    defaultAction: deny
    trustDomain: public
    policies:{policies}
  # What the app may read through Dapr's secrets API.
  secrets:
    scopes:
      - storeName: secretstore
        defaultAccess: deny
        allowedSecrets: {secrets}
"""

# Who may invoke each kind of app, and which secrets it reads. Agents serve the orchestrator's
# workflows; subscribers serve only their subscriptions (and the orchestrator's health check);
# nothing invokes the orchestrator through Dapr.
SIDECAR_POLICIES = {
    "orchestrator": " []",
    "agent": """
      - appId: orchestrator
        defaultAction: allow
        trustDomain: public
        namespace: default""",
    "subscriber": """
      - appId: orchestrator
        defaultAction: deny
        trustDomain: public
        namespace: default
        operations:
          - {name: /health, httpVerb: [GET], action: allow}""",
}
# The notifier reads whether `webhook-url` is set (the analyser has a model): one config for both.
SIDECAR_SECRETS = {"orchestrator": ["api-keys"], "agent": ["model-api-key"],
                   "subscriber": ["model-api-key", "webhook-url"]}


def sidecar_configs() -> dict[str, str]:
    return {kind: SIDECAR_CONFIG.format(kind=kind, policies=policies, secrets=json.dumps(SIDECAR_SECRETS[kind]),
                                        zipkin=Settings.model_fields["zipkin_endpoint"].default)
            for kind, policies in SIDECAR_POLICIES.items()}


SCOPES_LINE = "scopes:  # generated from services/common/registry.py (make config): the apps that load it\n"


def scoped_component(text: str, app_ids: list[str]) -> str:
    """A component file with its trailing `scopes:` list replaced by `app_ids`."""
    head = text.split("\nscopes:", 1)[0].rstrip("\n") + "\n"
    return head + SCOPES_LINE + "".join(f"  - {app_id}\n" for app_id in app_ids)


def azure_apps(apps: tuple[App, ...] = APPS) -> str:
    """infra/apps.json: what infra/main.bicep needs of each app (it reads the file with
    loadJsonContent and creates one container app, and one Service Bus subscription per topic)."""
    doc = {
        "_generated": GENERATED.strip("# \n"),
        "deadLetterTopic": DEAD_LETTER_TOPIC,
        "componentScopes": component_scopes(apps),
        "apps": [{"appId": a.app_id, "port": a.port, "module": a.module, "role": a.role, "kind": _kind(a),
                  "topics": list(a.topics), "env": dict(a.env)} for a in apps],
    }
    return json.dumps(doc, indent=2) + "\n"


def outputs(apps: tuple[App, ...] = APPS) -> dict[Path, str]:
    files = {ROOT / "dapr.yaml": run_file(apps), ROOT / "dapr.replica.yaml": replica_run_file(),
             ROOT / "components" / "resiliency.yaml": resiliency(apps),
             ROOT / "infra" / "apps.json": azure_apps(apps)}
    files |= {ROOT / "components" / "config" / f"{kind}.yaml": text for kind, text in sidecar_configs().items()}
    for name, app_ids in component_scopes(apps).items():
        path = ROOT / "components" / f"{name}.yaml"
        files[path] = scoped_component(path.read_text(), app_ids)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report files that differ from the registry")
    args = parser.parse_args()
    stale = 0
    for path, text in outputs().items():
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale += 1
            diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True), str(path), "registry")
            sys.stdout.writelines(diff)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"{stale} file(s) differ from services/common/registry.py: run `make config`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
