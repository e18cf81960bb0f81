"""The app registry is the one source of app ids, roles and ports: the run file and the
resiliency targets are generated from it, the orchestrator resolves teams from it, and
workflows and activities are registered under stable names."""

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.agent.roles import ROLES
from services.common import registry as registry_module
from services.common.registry import APPS, ORCHESTRATOR_REPLICA, REGISTRY, App, Part, Registry, agent
from services.common.settings import Settings
from services.common.stores import build_stores
from tests.unit.fakes import MemoryDocuments
from workflows.runtime import THREADS_FOR_TURNS, build_runtime

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("render_config", ROOT / "infra/local/render_config.py")
assert spec and spec.loader
render_config = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_config)

FIFTH = agent("patent-researcher", 8115, "patents", Part("parallel", "patents"))


def test_dapr_yaml_and_resiliency_yaml_are_what_the_registry_generates():
    done = subprocess.run([sys.executable, str(ROOT / "infra/local/render_config.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_every_agent_role_has_instructions_and_every_app_id_is_unique():
    assert all(a.role in ROLES for a in REGISTRY.agents)
    assert len({a.app_id for a in APPS}) == len(APPS) and len({a.port for a in APPS}) == len(APPS)


def test_a_duplicate_port_or_app_id_is_refused():
    with pytest.raises(ValueError, match="unique"):
        Registry((*APPS, App("another", APPS[1].port)))
    with pytest.raises(ValueError, match="unique"):
        Registry((*APPS, App(APPS[1].app_id, 9999)))


def test_each_pattern_gets_the_agents_the_course_lesson_describes():
    assert [m.part for m in REGISTRY.members("sequential")] == ["research", "write", "edit"]
    assert [m.part for m in REGISTRY.members("parallel")] == ["web", "academic", "news", "social"]
    assert len(REGISTRY.members("consensus")) == 3
    assert REGISTRY.member("hierarchical", "write") == "writer-agent"
    with pytest.raises(LookupError):
        REGISTRY.member("hierarchical", "research")  # two workers play it


def test_adding_a_researcher_is_one_registry_entry(monkeypatch):
    """The README's how-to: one entry (plus its role's instructions) reaches the run file,
    the resiliency targets and the parallel pattern's team."""
    monkeypatch.setitem(ROLES, "patents", ROLES["web"])
    apps = (*APPS, FIFTH)
    run_file = yaml.safe_load(render_config.run_file(apps))
    (entry,) = [a for a in run_file["apps"] if a["appID"] == "patent-researcher"]
    assert entry["appPort"] == 8115 and entry["env"]["BATON_AGENT_ROLE"] == "patents"
    assert entry["command"][-1] == "services.agent"
    targets = yaml.safe_load(render_config.resiliency(apps))["spec"]["targets"]["apps"]
    assert targets["patent-researcher"] == {"timeout": "agentCall", "circuitBreaker": "agentBreaker"}

    monkeypatch.setattr(registry_module, "REGISTRY", Registry(apps))
    from services.orchestrator import requests

    monkeypatch.setattr(requests, "REGISTRY", registry_module.REGISTRY)
    body = requests.ResearchRequest(query="q", faults={"patent-researcher": {"fail": True}})
    workflow_input = body.to_input()
    assert [m.app_id for m in workflow_input.team][-1] == "patent-researcher"
    assert workflow_input.fault_for("patent-researcher") is not None


def test_a_voter_with_its_own_model_gets_it_in_its_environment():
    voter = agent("voter-gpt", 8124, "voter-balanced", Part("consensus", "gpt"),
                  BATON_MODEL_BASE_URL="https://api.openai.com/v1", BATON_MODEL_NAME="gpt-4o-mini")
    run_file = yaml.safe_load(render_config.run_file((*APPS, voter)))
    (entry,) = [a for a in run_file["apps"] if a["appID"] == "voter-gpt"]
    assert entry["env"]["BATON_MODEL_NAME"] == "gpt-4o-mini"
    assert entry["env"]["BATON_MODEL_BASE_URL"] == "https://api.openai.com/v1"


def test_workflows_and_activities_are_registered_under_their_stable_names_not_function_names():
    # In a fresh interpreter: registration marks the functions, and may happen once per process.
    code = (
        "from services.common.settings import Settings\n"
        "from workflows.runtime import ACTIVITIES, WORKFLOWS, build_runtime\n"
        "build_runtime(Settings(), None)\n"
        "names = {n: f._dapr_alternate_name for n, f in {**WORKFLOWS, **ACTIVITIES}.items()}\n"
        "assert all(n == registered for n, registered in names.items()), names\n"
        "assert WORKFLOWS['sequential'].__name__ == 'sequential_workflow'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr



@pytest.mark.parametrize("app_id, module", [("orchestrator", "services.orchestrator.main"),
                                            ("analyser", "services.analyser.handlers"),
                                            ("notifier", "services.notifier.handlers"),
                                            ("archiver", "services.archiver.handlers")])
def test_every_app_subscribes_to_exactly_the_topics_the_registry_names(app_id, module):
    subscriptions = importlib.import_module(module).SUBSCRIPTIONS
    assert sorted(s.topic for s in subscriptions) == sorted(REGISTRY.app(app_id).topics)
    assert all(s.dead_letter_topic for s in subscriptions)


def test_apps_without_topics_subscribe_to_nothing():
    assert {a.app_id for a in APPS if a.topics} == {"orchestrator", "analyser", "notifier", "archiver"}


def test_the_second_orchestrator_replica_shares_the_app_id_but_no_port():
    first = REGISTRY.app("orchestrator")
    assert ORCHESTRATOR_REPLICA.app_id == first.app_id and ORCHESTRATOR_REPLICA.module == first.module
    taken = {p for a in APPS for p in (a.port, *vars(a.sidecar_ports).values())}
    replica = {ORCHESTRATOR_REPLICA.port, *vars(ORCHESTRATOR_REPLICA.sidecar_ports).values()}
    assert not replica & taken and max(replica) < 32768


def test_waiting_activities_leave_threads_for_workflow_turns():
    """The SDK's default pool (cpu_count + 4 threads, shared with workflow turns) let six slow
    agent calls stall every workflow on 2 cores, new ones included."""
    settings = Settings(workflow_activity_concurrency=10)
    runtime = build_runtime(settings, build_stores(settings, MemoryDocuments()))
    options = runtime._WorkflowRuntime__worker.concurrency_options  # the SDK exposes no getter
    assert options.maximum_concurrent_activity_work_items == 10
    assert options.maximum_thread_pool_workers == 10 + THREADS_FOR_TURNS
