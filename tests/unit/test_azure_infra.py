"""The Azure deployment files (azure.yaml, infra/) checked offline: azd's schema, agreement
with the registry and the local components, published Bicep types, security (ingress, Key
Vault secrets, the app token, the postprovision hook), no secrets in the files, checkov."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.common.registry import APPS, DEAD_LETTER_TOPIC
from services.common.settings import Settings
from tests.unit import bicep_check as bc

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SHARED = ROOT.parent / "shared"
TYPES_DIR = SHARED / "data" / "bicep-types"
BICEP_FILES = sorted(INFRA.glob("*.bicep")) + sorted((INFRA / "modules").glob("*.bicep"))
AZURE_TYPES = {"state.redis": "state.azure.cosmosdb", "pubsub.redis": "pubsub.azure.servicebus.topics",
               "bindings.localstorage": "bindings.azure.blobstorage", "bindings.http": "bindings.http",
               "secretstores.local.file": "secretstores.azure.keyvault"}
# Secret names in the `secretstore` component, locally and in Key Vault (issue 14's design).
API_KEYS, MODEL_API_KEY, WEBHOOK_URL = "api-keys", "model-api-key", "webhook-url"
HOOK = INFRA / "hooks" / "postprovision.sh"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared reference data not found at {SHARED} "
                                  "(CI clones it beside the repo)")


def tree(name: str) -> dict[str, Any]:
    return bc.parse(INFRA / name)


def body(resource: dict[str, Any]) -> dict[str, Any]:
    return bc.unwrap(resource["config"])[0]


def flat(value: Any) -> str:
    return json.dumps(value)


def apps_json() -> dict[str, Any]:
    return json.loads((INFRA / "apps.json").read_text())


def resources_of(type_: str) -> list[tuple[Path, str, dict[str, Any]]]:
    found = []
    for path in BICEP_FILES:
        for sym, res in bc.parse(path).get("resources", {}).items():
            if res["type"] == type_ and not res["existing"]:
                found.append((path, sym, res))
    return found


# --- azd ------------------------------------------------------------------------------------

@needs_shared
def test_azure_yaml_validates_against_the_azd_schema():
    schema = json.loads((SHARED / "data" / "azure.yaml.schema.json").read_text())
    doc = yaml.safe_load((ROOT / "azure.yaml").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    broken = {**doc, "services": {"orchestrator": {**doc["services"]["orchestrator"], "image": "x"}}}
    with pytest.raises(jsonschema.ValidationError):  # project and image together: azd refuses
        jsonschema.validators.validator_for(schema)(schema).validate(broken)


def test_each_azd_service_tags_exactly_one_container_app():
    services = yaml.safe_load((ROOT / "azure.yaml").read_text())["services"]
    assert set(services) == {"orchestrator"}
    text = "".join(p.read_text() for p in BICEP_FILES)
    assert text.count("'azd-service-name'") == 1
    tags = flat(body(tree("modules/apps.bicep")["resources"]["apps_"])["tags"])
    assert "azd-service-name" in tags and "orchestrator" in tags and "kind" in tags  # only kind == orchestrator
    assert [a["appId"] for a in apps_json()["apps"] if a["kind"] == "orchestrator"] == ["orchestrator"]


def test_main_follows_azd_conventions():
    main = tree("main.bicep")
    text = (INFRA / "main.bicep").read_text()
    assert main["globals"]["scope"]["value"] == "subscription"
    assert "toLower(uniqueString(subscription().id, environmentName, location))" in text
    assert "'azd-env-name': environmentName" in text
    outputs = main["outputs"]
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in outputs)
    assert {"AZURE_CONTAINER_REGISTRY_ENDPOINT", "AZURE_CONTAINER_ENVIRONMENT_NAME",
            "SERVICE_ORCHESTRATOR_URI"} <= set(outputs)
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(params) <= set(main["parameters"])
    required = {n for n, p in main["parameters"].items() if p.get("default") is None}
    assert required <= set(params)
    assert params["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["location"]["value"] == "${AZURE_LOCATION}"
    assert params["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    # The one image: the pushed orchestrator image feeds every app.
    assert params["batonImageName"]["value"].startswith("${SERVICE_ORCHESTRATOR_IMAGE_NAME")


def test_module_calls_pass_declared_parameters_only():
    errors = [e for p in BICEP_FILES for e in bc.check_modules(bc.parse(p), p.parent)]
    assert errors == []


# --- registry, dapr.yaml, local components ------------------------------------------------------

def test_apps_json_is_generated_from_the_registry():
    sys.path.insert(0, str(ROOT / "infra" / "local"))
    import render_config

    assert (INFRA / "apps.json").read_text() == render_config.azure_apps()
    doc = apps_json()
    assert doc["deadLetterTopic"] == DEAD_LETTER_TOPIC
    assert [(a["appId"], a["port"], a["module"], a["role"], a["topics"], a["env"]) for a in doc["apps"]] == [
        (a.app_id, a.port, a.module, a.role, list(a.topics), a.env) for a in APPS]


def test_every_container_app_matches_dapr_yaml():
    local = {a["appID"]: a for a in yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]}
    azure = {a["appId"]: a for a in apps_json()["apps"]}
    assert set(local) == set(azure)
    for app_id, app in azure.items():
        assert local[app_id]["appPort"] == app["port"]
        assert local[app_id]["command"][-2:] == ["-m", app["module"]]
        assert local[app_id]["env"].get("BATON_AGENT_ROLE") == app["role"]
    # The Bicep loop reads those fields, one container app per apps.json entry.
    main = tree("main.bicep")
    assert main["variables"]["registry"]["value"]["function"]["parameters"]["file_path"] == "apps.json"
    assert flat(bc.unwrap(main["modules"]["apps"]["config"])[0]["params"]["apps"]) == flat(
        {"operator": {"type": "property_accessor", "operands": {"operand_1": "registry", "operand_2": "apps"}}})
    res = tree("modules/apps.bicep")["resources"]["apps_"]
    assert res["config"]["loop_type"]["detail"] == {"item_name": "app", "array_name": "apps"}
    app = body(res)
    dapr = app["properties"]["configuration"]["dapr"]
    accessor = {"operator": {"type": "property_accessor", "operands": {"operand_1": "app", "operand_2": "appId"}}}
    assert dapr["enabled"] is True and dapr["appProtocol"] == "http"
    assert dapr["appId"] == accessor
    assert dapr["appPort"] == {"operator": {"type": "property_accessor",
                                            "operands": {"operand_1": "app", "operand_2": "port"}}}
    container = app["properties"]["template"]["containers"][0]
    assert '["python", "-m", {"operator": {"type": "property_accessor", "operands": {"operand_1": "app", ' \
           '"operand_2": "module"}}}]' in flat(container["command"])


def env_names() -> set[str]:
    text = (INFRA / "modules" / "apps.bicep").read_text()
    names = set(re.findall(r"\{ name: '([A-Z][A-Z0-9_]+)'", text))
    names |= set(re.findall(r"^\s+([A-Z][A-Z0-9_]+): ", text, flags=re.M))  # the modelEnv object's keys
    return names


def test_each_app_gets_the_settings_it_needs_and_only_real_ones():
    names = env_names()
    assert {"APP_ID", "BATON_PORT", "BATON_HOST", "BATON_AGENT_ROLE", "BATON_MODEL_PROVIDER", "BATON_MODEL_BASE_URL",
            "BATON_MODEL_NAME", "BATON_MESSAGE_TTL_SECONDS", "AZURE_CLIENT_ID"} <= names
    settings = {f"BATON_{n.upper()}" for n in Settings.model_fields} | {"APP_ID"}
    assert {n for n in names if n.startswith("BATON_")} <= settings, "a BATON_* name Settings does not read"
    text = (INFRA / "modules" / "apps.bicep").read_text()
    assert "{ name: 'BATON_HOST', value: '0.0.0.0' }" in text
    # TTL matches the app's default.
    main = tree("main.bicep")
    assert main["parameters"]["messageTtlSeconds"]["default"] == Settings.model_fields["message_ttl_seconds"].default


def test_every_app_sends_its_telemetry_to_the_environments_application_insights():
    # services/common/telemetry.py switches to Application Insights when this is set.
    text = (INFRA / "modules" / "apps.bicep").read_text()
    assert "{ name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }" in text
    existing = r"resource appInsights 'Microsoft\.Insights/components@[\d-]+' existing = \{\s*name: appInsightsName"
    assert re.search(existing, text)
    assert "appInsightsName: monitoring.outputs.appInsightsName" in (INFRA / "main.bicep").read_text()
    assert Settings.model_fields["applicationinsights_connection_string"].validation_alias == \
        "APPLICATIONINSIGHTS_CONNECTION_STRING"


def local_components() -> dict[str, dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "components").glob("*.yaml"))]
    return {d["metadata"]["name"]: d for d in docs if d and d.get("kind") == "Component"}


def azure_components() -> dict[str, dict[str, Any]]:
    found = resources_of("Microsoft.App/managedEnvironments/daprComponents")
    return {body(res)["name"]: body(res)["properties"] for _, _, res in found}


def metadata_names(props: dict[str, Any], variables: dict[str, Any]) -> set[str]:
    text = flat(props["metadata"])
    names = set(re.findall(r'"name": "(\w+)"', text))
    for var, spec in variables.items():
        if f'"{var}"' in text:
            names |= set(re.findall(r'"name": "(\w+)"', flat(spec["value"])))
    return names


def test_every_local_component_has_an_azure_twin_with_the_same_name_and_scopes():
    azure = azure_components()
    scopes = apps_json()["componentScopes"]
    ids = {a.app_id for a in APPS}
    for name, local in local_components().items():
        assert name in azure, f"no Azure component named {name}"
        assert azure[name]["componentType"] == AZURE_TYPES[local["spec"]["type"]]
        assert flat(azure[name]["scopes"]) == flat({"operator": {"type": "property_accessor", "operands": {
            "operand_1": "componentScopes", "operand_2": name}}}), f"{name} is not scoped by componentScopes.{name}"
        if "scopes" in local:
            assert scopes[name] == local["scopes"]
    assert all(set(s) <= ids for s in scopes.values())
    assert "secretstore" in azure and azure["secretstore"]["componentType"] == "secretstores.azure.keyvault"


SOURCE_USES = {"statestore": ("StoresDep", "build_stores", "stores."), "pubsub": ("settings.pubsub", "s.pubsub",
               "SUBSCRIPTIONS"), "artifacts": ("artifacts_binding",), "webhook": ('"webhook"',)}


def test_each_component_is_scoped_to_every_app_whose_code_uses_it():
    scopes = apps_json()["componentScopes"]
    for app in APPS:
        package = ROOT / app.module.replace(".", "/")
        files = list(package.glob("*.py")) + (list((ROOT / "workflows").glob("*.py"))
                                              if app.module == "services.orchestrator" else [])
        code = "".join(f.read_text() for f in files)
        for component, marks in SOURCE_USES.items():
            if any(m in code for m in marks) or (component == "pubsub" and app.topics):
                assert app.app_id in scopes[component], f"{app.app_id} uses {component} but is not in its scopes"


def test_azure_components_sign_in_with_the_managed_identity_and_hold_no_keys():
    env = tree("modules/environment.bicep")
    for name, props in azure_components().items():
        names = metadata_names(props, env["variables"])
        assert not names & {"masterKey", "connectionString", "accountKey", "accessKey", "sasToken"}, name
        if props["componentType"].startswith(("pubsub.azure", "state.azure", "bindings.azure", "secretstores.azure")):
            assert {"azureClientId", "azureAuthMethods"} <= names, name
    azure = azure_components()
    assert {"namespaceName", "disableEntityManagement"} <= metadata_names(azure["pubsub"], env["variables"])
    assert {"url", "database", "collection", "actorStateStore"} <= metadata_names(azure["statestore"], env["variables"])
    assert {"accountName", "containerName"} <= metadata_names(azure["artifacts"], env["variables"])
    assert "vaultName" in metadata_names(azure["secretstore"], env["variables"])


# --- Service Bus -------------------------------------------------------------------------------------

def service_bus_vars() -> dict[str, Any]:
    sb = tree("modules/servicebus.bicep")
    doc = apps_json()
    scope: dict[str, Any] = {"apps": doc["apps"], "deadLetterTopic": doc["deadLetterTopic"]}
    for name in ("unstoredTopic", "topicNames", "subscriptions", "scaledTopics"):
        scope[name] = bc.evaluate(sb["variables"][name]["value"], scope)
    return scope


def test_every_registry_subscription_has_a_service_bus_subscription_named_by_the_app():
    scope = service_bus_vars()
    wanted = {(a.app_id, t) for a in APPS for t in a.topics}
    assert wanted <= {(s["app"], s["topic"]) for s in scope["subscriptions"]}
    assert {t for _, t in wanted} | {DEAD_LETTER_TOPIC} <= set(scope["topicNames"])
    assert len(scope["topicNames"]) == len(set(scope["topicNames"]))
    sub = tree("modules/servicebus.bicep")["resources"]["topicSubscriptions"]
    assert sub["config"]["loop_type"]["detail"]["array_name"] == "subscriptions"
    props = body(sub)["properties"]
    assert flat(body(sub)["name"]) == flat({"operator": {"type": "property_accessor",
                                                         "operands": {"operand_1": "sub", "operand_2": "app"}}})
    assert props["deadLetteringOnMessageExpiration"] is True
    assert props["maxDeliveryCount"] == "maxDeliveryCount" and props["defaultMessageTimeToLive"] == "messageTtl"
    assert "deadLetterTopic" in flat(props["forwardDeadLetteredMessagesTo"])


def test_the_unstored_dead_letter_topic_is_the_one_the_orchestrator_uses():
    assert f'dead_letter_topic="{service_bus_vars()["unstoredTopic"]}"' in (
        ROOT / "services" / "orchestrator" / "main.py").read_text()


def test_message_ttl_becomes_an_iso_duration_like_pt1h():
    text = (INFRA / "modules" / "servicebus.bicep").read_text()
    assert "messageTtlSeconds % 3600 == 0 ? 'PT${messageTtlSeconds / 3600}H' : 'PT${messageTtlSeconds}S'" in text


def test_subscribers_scale_to_zero_on_the_subscription_their_sidecar_reads():
    apps = tree("modules/apps.bicep")
    shapes = apps["variables"]["shapes"]["value"]
    assert shapes["orchestrator"]["minReplicas"] >= 1 and shapes["agent"]["minReplicas"] >= 1
    assert shapes["subscriber"]["minReplicas"] == 0
    rules = body(apps["resources"]["apps_"])["properties"]["template"]["scale"]["rules"]
    rule = bc.unwrap(rules)[0]
    assert "subscriber" in flat(rules["loop_type"]) and rules["loop_type"]["detail"]["item_name"] == "topic"
    custom = rule["custom"]
    assert custom["type"] == "azure-servicebus" and custom["identity"] == "identityId"
    assert custom["metadata"]["topicName"] == "topic"
    assert flat(custom["metadata"]["subscriptionName"]) == flat(
        {"operator": {"type": "property_accessor", "operands": {"operand_1": "app", "operand_2": "appId"}}})
    # KEDA's Manage right covers exactly the topics those rules watch.
    scope = service_bus_vars()
    assert set(scope["scaledTopics"]) == {t for a in APPS if a.module in (
        "services.analyser", "services.notifier", "services.archiver") for t in a.topics}


# --- security: ingress, tokens, Key Vault secrets ----------------------------------------------------------

def accessor(left: str, right: str) -> dict[str, Any]:
    return {"operator": {"type": "property_accessor", "operands": {"operand_1": left, "operand_2": right}}}


def ingress_by_app(allowed_ip_ranges: list[str]) -> dict[str, Any]:
    """Each app's `ingress`, evaluated from apps.bicep for the apps in apps.json."""
    module = tree("modules/apps.bicep")
    scope: dict[str, Any] = {"allowedIpRanges": allowed_ip_ranges}
    for name in ("shapes", "orchestratorIpRules"):
        scope[name] = bc.evaluate(module["variables"][name]["value"], scope)
    ingress = body(module["resources"]["apps_"])["properties"]["configuration"]["ingress"]
    return {app["appId"]: bc.evaluate(ingress, {**scope, "app": app}) for app in apps_json()["apps"]}


def test_only_the_orchestrator_has_external_ingress_agents_internal_subscribers_none():
    ingress = ingress_by_app([])
    apps = {a["appId"]: a for a in apps_json()["apps"]}
    assert [app_id for app_id, i in ingress.items() if i and i["external"]] == ["orchestrator"]
    for app_id, app in apps.items():
        if app["kind"] == "subscriber":
            assert ingress[app_id] is None, app_id
            continue
        assert ingress[app_id]["external"] is (app["kind"] == "orchestrator"), app_id
        assert ingress[app_id]["allowInsecure"] is False
        # The app's own port, never the sidecar's (3500, 50001): Dapr's API stays inside the replica.
        assert ingress[app_id]["targetPort"] == app["port"]
    assert {a["kind"] for a in apps.values()} == {"orchestrator", "agent", "subscriber"}


def test_an_ip_allow_list_restricts_the_orchestrator_alone():
    ingress = ingress_by_app(["203.0.113.0/24", " 198.51.100.7/32"])
    assert ingress["orchestrator"]["ipSecurityRestrictions"] == [
        {"name": "allow-0", "ipAddressRange": "203.0.113.0/24", "action": "Allow"},
        {"name": "allow-1", "ipAddressRange": "198.51.100.7/32", "action": "Allow"}]
    assert not any(i["ipSecurityRestrictions"] for app_id, i in ingress.items() if i and app_id != "orchestrator")
    assert ingress_by_app([])["orchestrator"]["ipSecurityRestrictions"] == []
    # BATON_ALLOWED_IPS, comma-separated; empty: no rule.
    passed = bc.unwrap(tree("main.bicep")["modules"]["apps"]["config"])[0]["params"]["allowedIpRanges"]
    assert bc.evaluate(passed, {"allowedIpRanges": ""}) == []
    assert bc.evaluate(passed, {"allowedIpRanges": "203.0.113.0/24,198.51.100.7/32"}) == [
        "203.0.113.0/24", "198.51.100.7/32"]
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert params["allowedIpRanges"]["value"] == "${BATON_ALLOWED_IPS=}"


def test_no_token_or_secret_reaches_an_app_through_its_environment():
    # Container Apps injects APP_API_TOKEN (the apps refuse to start without it): nothing may set
    # or override it; DAPR_API_TOKEN is not used there. Keys come from the secret store only.
    names = env_names() | {name for app in apps_json()["apps"] for name in app["env"]}
    assert not names & {"APP_API_TOKEN", "DAPR_API_TOKEN", "BATON_MODEL_API_KEY", "BATON_WEBHOOK_URL"}
    assert not [n for n in names if re.search(r"KEY|SECRET|PASSWORD|TOKEN", n)]
    app = body(tree("modules/apps.bicep")["resources"]["apps_"])
    assert "secrets" not in app["properties"]["configuration"]  # no Container Apps secrets at all
    assert "secretRef" not in flat(app)
    for path in BICEP_FILES:
        code = "\n".join(line.split("//")[0] for line in path.read_text().splitlines())
        assert "APP_API_TOKEN" not in code and "DAPR_API_TOKEN" not in code, path.name


def test_the_model_key_and_webhook_url_become_key_vault_secrets_only_when_given():
    kv = tree("modules/keyvault.bicep")
    for name in ("modelApiKey", "webhookUrl"):
        assert {"type": "secure"} in kv["parameters"][name]["decorators"] and kv["parameters"][name]["default"] == ""
    res = kv["resources"]["secrets"]
    assert res["type"] == "Microsoft.KeyVault/vaults/secrets" and body(res)["parent"] == "vault"
    assert res["config"]["loop_type"]["detail"] == {"item_name": "secret", "array_name": "givenSecrets"}
    assert body(res)["name"] == accessor("secret", "name")
    assert body(res)["properties"]["value"] == accessor("secret", "value")
    # SecretProperties of Microsoft.KeyVault/vaults/secrets@2026-02-01 (bicep-types-az
    # generated/keyvault/microsoft.keyvault/2026-02-01/types.md; not in the shared data).
    assert set(body(res)["properties"]) <= {"value", "contentType", "attributes"}

    def written(**params: str) -> dict[str, str]:
        return {s["name"]: s["value"] for s in bc.evaluate(kv["variables"]["givenSecrets"]["value"], params)}

    assert written(modelApiKey="k", webhookUrl="") == {MODEL_API_KEY: "k"}
    assert written(modelApiKey="", webhookUrl="https://example.test/hook") == {WEBHOOK_URL: "https://example.test/hook"}
    assert written(modelApiKey="", webhookUrl="") == {}
    # main.bicep hands both secure parameters to the vault and to no other module (the
    # environment learns only whether there is a webhook); with modelProvider azure no key is
    # written (the identity signs in to Azure OpenAI).
    main = tree("main.bicep")
    calls = {name: bc.unwrap(mod["config"])[0]["params"] for name, mod in main["modules"].items()}
    calls["environment"] = {k: v for k, v in calls["environment"].items() if k != "webhookConfigured"}
    assert [n for n, p in calls.items() if re.search(r'"(modelApiKey|webhookUrl)"', flat(p))] == ["keyVault"]
    assert bc.evaluate(calls["keyVault"]["modelApiKey"], {"useAzureOpenAi": True, "modelApiKey": "k"}) == ""
    assert bc.evaluate(calls["keyVault"]["modelApiKey"], {"useAzureOpenAi": False, "modelApiKey": "k"}) == "k"
    assert calls["keyVault"]["webhookUrl"] == "webhookUrl"
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert params["modelApiKey"]["value"] == "${BATON_MODEL_API_KEY=}"
    assert params["webhookUrl"]["value"] == "${BATON_WEBHOOK_URL=}"
    # The apps look the secrets up by these names (issue 14's design; once Settings has them).
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    for field, value in (("secret_store", "secretstore"), ("api_keys_secret", API_KEYS),
                         ("model_api_key_secret", MODEL_API_KEY)):
        assert defaults.get(field, value) == value, field


def test_the_apps_read_key_vault_and_only_the_deploying_user_may_write_it():
    kv = tree("modules/keyvault.bicep")
    user, officer = body(kv["resources"]["secretsUser"]), body(kv["resources"]["secretsOfficer"])
    assert kv["variables"]["secretsUserRoleId"]["value"] == "4633458b-17de-408a-b874-0445c86b69e6"
    assert kv["variables"]["secretsOfficerRoleId"]["value"] == "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    assert "secretsUserRoleId" in flat(user) and user["properties"]["principalId"] == "identityPrincipalId"
    assert "secretsOfficerRoleId" in flat(officer) and officer["properties"]["principalId"] == "userPrincipalId"
    assert "userPrincipalId" in flat(kv["resources"]["secretsOfficer"]["config"]["condition"])
    vault = body(kv["resources"]["vault"])["properties"]
    assert vault["enableRbacAuthorization"] is True and "accessPolicies" not in vault


def test_the_webhook_component_reads_its_url_from_the_secret_store_and_exists_only_with_one():
    env = tree("modules/environment.bicep")
    webhook = azure_components()["webhook"]
    # Only with a URL: the notifier posts whenever its sidecar has loaded `webhook`, and daprd
    # loads an HTTP binding whose secret is missing anyway (with an empty URL).
    assert env["resources"]["webhook"]["config"]["condition"] == "webhookConfigured"
    configured = bc.unwrap(tree("main.bicep")["modules"]["environment"]["config"])[0]["params"]["webhookConfigured"]
    assert bc.evaluate(configured, {"webhookUrl": ""}) is False
    assert bc.evaluate(configured, {"webhookUrl": "https://example.test/hook"}) is True
    assert webhook["secretStoreComponent"] == accessor("secretstore", "name")
    assert body(env["resources"]["secretstore"])["name"] == "secretstore"
    assert webhook["metadata"] == [{"name": "url", "secretRef": WEBHOOK_URL}]
    assert "secrets" not in webhook and webhook["ignoreErrors"] is True
    # The local twin reads the same secret from the same store.
    local = local_components()["webhook"]
    assert local["auth"]["secretStore"] == "secretstore"
    assert [m["secretKeyRef"]["name"] for m in local["spec"]["metadata"] if m["name"] == "url"] == [WEBHOOK_URL]


def test_the_secretstore_is_loaded_by_exactly_the_apps_that_read_secrets():
    doc = apps_json()
    scopes = doc["componentScopes"]
    # The orchestrator (api-keys), the apps with a model (model-api-key: every agent and the
    # analyser) and the webhook's users (their sidecar resolves webhook-url).
    agents = {a["appId"] for a in doc["apps"] if a["kind"] == "agent"}
    assert set(scopes["secretstore"]) == {"orchestrator", "analyser"} | agents | set(scopes["webhook"])
    assert azure_components()["secretstore"]["scopes"] == accessor("componentScopes", "secretstore")
    main = tree("main.bicep")
    assert bc.unwrap(main["modules"]["environment"]["config"])[0]["params"]["componentScopes"] == accessor(
        "registry", "componentScopes")


# --- the postprovision hook: the `api-keys` secret ---------------------------------------------------------

# Stands in for the Azure CLI: logs each call, keeps the secret in a file, answers like az
# (SecretNotFound on a missing secret), or fails with the canned errors of FAKE_AZ_FAILS first.
FAKE_AZ = """#!{python}
import json, os, shutil, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
fails = os.environ["FAKE_AZ_FAILS"]
canned = open(fails).read().splitlines() if os.path.exists(fails) else []
if canned:
    open(fails, "w").write("".join(line + "\\n" for line in canned[1:]))
    print("ERROR: " + canned[0], file=sys.stderr)
    sys.exit(1)
store = os.environ["FAKE_AZ_STORE"]
if args[:3] == ["keyvault", "secret", "show"] and os.path.exists(store):
    print("https://kv-test.vault.azure.net/secrets/api-keys/1")
    sys.exit(0)
if args[:3] == ["keyvault", "secret", "show"]:
    print("ERROR: (SecretNotFound) A secret with (name/id) api-keys was not found in this key vault.", file=sys.stderr)
    sys.exit(3)
if args[:3] == ["keyvault", "secret", "set"]:
    shutil.copy(args[args.index("--file") + 1], store)
    sys.exit(0)
sys.exit(2)
"""


def run_hook(tmp_path: Path, *fails: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    az = bin_dir / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable))
    az.chmod(0o755)
    (tmp_path / "fails").write_text("".join(f + "\n" for f in fails))
    log = tmp_path / "calls"
    log.unlink(missing_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "AZURE_"))}
    done = subprocess.run(["sh", str(HOOK)], capture_output=True, text=True, timeout=60, env={
        **base, "PATH": f"{bin_dir}{os.pathsep}{base['PATH']}", "AZURE_KEY_VAULT_NAME": "kv-test",
        "FAKE_AZ_LOG": str(log), "FAKE_AZ_STORE": str(tmp_path / "store"), "FAKE_AZ_FAILS": str(tmp_path / "fails"),
        "BATON_HOOK_PAUSE_SECONDS": "0", **env})
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def test_the_postprovision_hook_is_declared_and_is_a_strict_posix_script():
    hook = yaml.safe_load((ROOT / "azure.yaml").read_text())["hooks"]["postprovision"]
    assert set(hook) == {"posix"} and hook["posix"]["shell"] == "sh"
    assert (ROOT / hook["posix"]["run"]).resolve() == HOOK
    assert os.access(HOOK, os.X_OK)
    text = HOOK.read_text()
    assert text.startswith("#!/bin/sh\n") and re.search(r"^set -eu$", text, flags=re.M)
    assert subprocess.run(["sh", "-n", str(HOOK)]).returncode == 0
    # The vault's name comes from main.bicep's outputs, which azd hands to its hooks.
    assert "AZURE_KEY_VAULT_NAME" in tree("main.bicep")["outputs"] and "AZURE_KEY_VAULT_NAME" in text


def test_the_hook_leaves_an_existing_api_keys_secret_alone(tmp_path):
    (tmp_path / "store").write_text('[{"name": "mine", "scope": "admin", "key": "x", "rate_limit": null}]')
    done, calls = run_hook(tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls == [["keyvault", "secret", "show", "--vault-name", "kv-test", "--name", API_KEYS,
                      "--query", "id", "-o", "tsv"]]  # the id only: the value is never fetched
    assert '"mine"' in (tmp_path / "store").read_text()
    assert f"az keyvault secret show --vault-name kv-test --name {API_KEYS}" in done.stdout


def test_the_hook_creates_api_keys_with_one_admin_key_when_absent_and_never_shows_it(tmp_path):
    done, calls = run_hook(tmp_path)
    assert done.returncode == 0, done.stderr
    assert [c[:3] for c in calls] == [["keyvault", "secret", "show"], ["keyvault", "secret", "set"]]
    set_call = calls[1]
    assert "--value" not in set_call  # through a file, not the command line
    assert set_call[set_call.index("--name") + 1] == API_KEYS and set_call[set_call.index("--output") + 1] == "none"
    assert set_call[set_call.index("--content-type") + 1] == "application/json"
    assert not Path(set_call[set_call.index("--file") + 1]).exists()  # the temporary file is gone
    [entry] = json.loads((tmp_path / "store").read_text())
    assert entry["name"] == "azure-admin" and entry["scope"] == "admin" and entry["rate_limit"] is None
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", entry["key"])
    assert entry["key"] not in done.stdout + done.stderr
    # Run again (the second provision of `azd up`): the key stays.
    again, calls = run_hook(tmp_path)
    assert again.returncode == 0 and [c[:3] for c in calls] == [["keyvault", "secret", "show"]]
    assert json.loads((tmp_path / "store").read_text()) == [entry]


def test_the_hook_prints_the_new_key_only_when_asked(tmp_path):
    done, _ = run_hook(tmp_path, BATON_PRINT_API_KEY="1")
    [entry] = json.loads((tmp_path / "store").read_text())
    assert done.returncode == 0 and entry["key"] in done.stdout


def test_the_hook_waits_for_its_role_and_writes_nothing_after_another_error(tmp_path):
    forbidden = "(Forbidden) Caller is not authorized to perform action on resource. Code: ForbiddenByRbac"
    done, calls = run_hook(tmp_path, forbidden, forbidden)
    assert done.returncode == 0, done.stderr
    assert [c[:3] for c in calls] == [["keyvault", "secret", "show"]] * 3 + [["keyvault", "secret", "set"]]
    (tmp_path / "store").unlink()
    done, calls = run_hook(tmp_path, "Please run 'az login' to setup account.")
    assert done.returncode == 1 and "az login" in done.stderr
    assert [c[:3] for c in calls] == [["keyvault", "secret", "show"]]
    assert not (tmp_path / "store").exists()
    done, calls = run_hook(tmp_path, forbidden, forbidden, BATON_HOOK_TRIES="2")
    assert done.returncode == 1 and "Key Vault Secrets Officer" in done.stderr
    assert [c[:3] for c in calls] == [["keyvault", "secret", "show"]] * 2


# --- published Bicep types -----------------------------------------------------------------------------

@needs_shared
def test_every_resource_type_api_version_and_property_exists_in_the_published_types():
    types = bc.load_types(TYPES_DIR)
    errors, notes = [], []
    for path in BICEP_FILES:
        e, n = bc.check_tree(bc.parse(path), types)
        errors += [f"{path.name}: {x}" for x in e]
        notes += n
    assert errors == []
    # Only these are checked by type and version alone (no property tree in the shared data).
    assert {n.split(" (")[0] for n in notes} == {
        "rg: Microsoft.Resources/resourceGroups@2024-03-01",
        "environmentLogs: Microsoft.Insights/diagnosticSettings@2021-05-01-preview",
        "deadLetterAlerts: Microsoft.Insights/metricAlerts@2018-03-01",
        "secrets: Microsoft.KeyVault/vaults/secrets@2026-02-01"}


@needs_shared
def test_the_type_checker_rejects_invented_properties_versions_and_values(tmp_path):
    snippet = """
resource a 'Microsoft.App/containerApps@2026-01-01' = [for app in apps: {
  name: app.appId
  properties: {
    configuration: {
      dapr: { appId: app.appId, appPortt: 1 }
      ingress: app.kind == 'x' ? null : { targetPort: 1, externall: true }
    }
    template: {
      containers: [ { name: 'c', env: concat([], [ { name: 'A', secretRefx: 'k' } ]) } ]
      scale: { rules: [for t in app.topics: { custom: { identityy: 'x' } }] }
    }
  }
}]
resource b 'Microsoft.ServiceBus/namespaces@2031-01-01' = { name: 'b' }
resource d 'Microsoft.ServiceBus/namespaces@2026-01-01' = { name: 'd', sku: { name: 'Platinum' } }
resource c 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2026-01-01' = { name: 'c', properties: { ttl: 1 } }
"""
    errors, _ = bc.check_tree(bc.parse_text(snippet, tmp_path), bc.load_types(TYPES_DIR))
    text = "\n".join(errors)
    for wrong in ("dapr.appPortt", "ingress.externall", "'Platinum'", "env[].secretRefx", "custom.identityy",
                  "namespaces@2031-01-01", "properties.ttl"):
        assert wrong in text, f"not caught: {wrong}"
    assert len(errors) == 7


# --- secrets ------------------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "connection string": r"(AccountKey|SharedAccessKey|InstrumentationKey|AccountEndpoint)=",
    "key-fetching function": r"\blist(Keys|ConnectionStrings|AccountSas|ServiceSas|Secrets)\s*\(",
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY",
    "API key": r"\b(sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16})",
    "long base64 literal": r"'[A-Za-z0-9+/]{40,}={0,2}'",
    "secure parameter with a default": r"@secure\(\)[^\n]*\n(@[^\n]*\n)*param \w+ string = '[^']+'",
    "secret value in a plain env": r"name: '\w*(KEY|SECRET|PASSWORD|TOKEN)\w*', value:",
}


def secret_findings(text: str) -> list[str]:
    return [label for label, pattern in SECRET_PATTERNS.items() if re.search(pattern, text)]


def test_no_key_connection_string_or_secret_value_in_infra():
    files = [ROOT / "azure.yaml", *INFRA.glob("*.json"), *INFRA.glob("*.bicep"), *INFRA.glob("modules/*.bicep"),
             *INFRA.glob("hooks/*")]
    found = {f.name: secret_findings(f.read_text()) for f in files}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_secret_scan_catches_planted_secrets():
    planted = ("var conn = 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b'\n"
               "var key = storage.listKeys().keys[0].value\n"
               "@secure()\nparam modelApiKey string = 'sk-abcdefghijklmnopqrstuvwxyz'\n"
               "env: [{ name: 'BATON_MODEL_API_KEY', value: modelApiKey }]\n")
    assert set(secret_findings(planted)) == {"connection string", "key-fetching function", "API key",
                                             "secure parameter with a default", "secret value in a plain env"}


# --- checkov ---------------------------------------------------------------------------------------------

# Accepted findings, one reason each (see docs/azure-design.md, "checkov"). Public network
# access: the environment has no VNet, so the apps reach every service over its public endpoint,
# with Entra ID only (local auth and keys are off everywhere); private endpoints are the next step.
PUBLIC_ENDPOINT = "public endpoint by design: no VNet yet; Entra ID only, keys disabled"
CHECKOV_SKIPS = {
    "CKV_AZURE_35": PUBLIC_ENDPOINT,   # storage default network rule allow
    "CKV_AZURE_59": PUBLIC_ENDPOINT,   # storage public network access
    "CKV_AZURE_109": PUBLIC_ENDPOINT,  # key vault firewall
    "CKV_AZURE_189": PUBLIC_ENDPOINT,  # key vault public network access
    "CKV_AZURE_134": PUBLIC_ENDPOINT,  # cognitive services public network access
    "CKV_AZURE_101": PUBLIC_ENDPOINT,  # cosmos public network access
    "CKV_AZURE_99": PUBLIC_ENDPOINT,   # cosmos IP rules
    "CKV_AZURE_139": PUBLIC_ENDPOINT,  # ACR public network (azd pushes from the developer's machine)
    "CKV_AZURE_110": "purge protection off so `azd down --purge` frees the deterministic vault name",
    "CKV_AZURE_42": "recoverable = soft delete + purge protection; soft delete is on, purge protection see 110",
    "CKV_AZURE_206": "artifacts are re-creatable; LRS keeps cost down and exists in every region",
    "CKV_AZURE_163": "image scanning is Microsoft Defender for Containers, a subscription-level choice",
    "CKV_AZURE_166": "quarantine needs the Premium ACR tier; Basic is enough for one image",
    "CKV_AZURE_41": "no expiry on the model key and webhook URL: their issuer decides how long they live; "
                    "an expiry here would only stop the apps reading them (rotation: docs/deploy-azure.md)",
}


def checkov() -> str | None:
    # infra/local/bootstrap.sh installs it in .venv-checkov (its pins clash with requirements.txt).
    bundled = ROOT / ".venv-checkov" / "bin" / "checkov"
    return os.environ.get("BATON_CHECKOV") or (str(bundled) if bundled.exists() else shutil.which("checkov"))


@pytest.mark.skipif(checkov() is None, reason="checkov is not installed: run infra/local/bootstrap.sh "
                    "(it installs .venv-checkov), or set BATON_CHECKOV to its path")
def test_checkov_finds_nothing_unexplained():
    done = subprocess.run([checkov(), "-d", str(INFRA), "--framework", "bicep", "-o", "json", "--compact", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    unexplained = sorted({f for f in failed if f[0] not in CHECKOV_SKIPS})
    assert unexplained == []
    parse_errors = [e for r in reports for e in r.get("results", {}).get("parsing_errors", [])]
    assert parse_errors == []
