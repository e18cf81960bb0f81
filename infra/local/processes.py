"""Start and stop real Baton processes for integration tests, the way a user does, and
verify that everything started is gone afterwards (checked by pid)."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from infra.local.keys import LocalSecrets

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".data" / "logs"


def is_running(pid: int) -> bool:
    """True for a live process; an exited but unreaped one (zombie) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def platform(command: str, env: dict | None = None) -> str:
    done = subprocess.run(["bash", str(ROOT / "infra/local/platform.sh"), command], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"platform {command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_until(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def open_resources(folder: Path) -> tuple[Path, Path]:
    """For test apps whose ids are not in the registry: copies of Baton's components without
    their scopes (in folder/components), and a sidecar configuration with mTLS on but no
    access control (folder/config.yaml). Returns both paths."""
    resources = folder / "components"
    resources.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "components").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] == "Component":
            doc.pop("scopes", None)
            (resources / path.name).write_text(yaml.safe_dump(doc))
        elif doc["kind"] == "Resiliency":
            (resources / path.name).write_text(path.read_text())
    config = yaml.safe_load((ROOT / "components/config/agent.yaml").read_text())
    config["metadata"]["name"] = "test-open"
    config["spec"] = {key: value for key, value in config["spec"].items() if key in ("mtls", "tracing")}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return resources, folder / "config.yaml"


class DaprRun:
    """`dapr run -f <run file>` in the background, with its whole process tree tracked. Every
    sidecar and app gets the sidecar tokens, the secrets file and sentry's root certificate
    (infra/local/keys.py; BATON_SECRETS_DIR picks the folder)."""

    def __init__(self, run_file: Path, name: str, env: dict | None = None):
        self.run_file, self.name = run_file, name
        self.extra_env = env or {}
        self.env = {**os.environ, "DAPR_RUNTIME_PATH": str(ROOT), **self.extra_env}
        self.proc: subprocess.Popen | None = None
        self.started_pids: set[int] = set()
        self.adopted: list[subprocess.Popen] = []
        self.log_path = LOGS / f"test-{name}.log"

    def start(self) -> None:
        # Read now, not at construction: sentry writes its root certificate when the platform starts.
        self.env = {**os.environ, "DAPR_RUNTIME_PATH": str(ROOT), **LocalSecrets.default().sidecar_env(),
                    **self.extra_env}
        LOGS.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([str(ROOT / ".dapr/bin/dapr"), "run", "-f", str(self.run_file)],
                                         cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120) -> None:
        done = subprocess.run([str(ROOT / ".venv/bin/python"), str(ROOT / "infra/local/wait_ready.py"),
                               str(self.run_file), "--timeout", str(timeout)],
                              cwd=ROOT, env=self.env, capture_output=True, text=True)
        self.track()
        assert done.returncode == 0, f"{self.name} not ready:\n{done.stdout}{done.stderr}\nsee {self.log_path}"

    def track(self) -> set[int]:
        """Remember every process the CLI started so far (apps, sidecars)."""
        assert self.proc is not None, "start() first"
        self.started_pids |= descendants(self.proc.pid) | {self.proc.pid}
        return self.started_pids

    def app_pid(self, app_id: str) -> int:
        """The pid of the app (not its sidecar) that runs as `app_id` (the CLI sets APP_ID)."""
        for pid in sorted(self.track()):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                exe = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except (FileNotFoundError, ProcessLookupError):  # it exited meanwhile
                continue
            if f"APP_ID={app_id}".encode() in environ and not exe.endswith(b"daprd") and is_running(pid):
                return pid
        raise LookupError(f"no running app process for {app_id}")

    def _sidecar(self, app_id: str) -> tuple[int, list[str]]:
        """The pid and command line of the daprd that runs for `app_id`."""
        for pid in sorted(self.track()):
            try:
                argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if argv[0].endswith("daprd") and "--app-id" in argv and argv[argv.index("--app-id") + 1] == app_id \
                    and is_running(pid):
                return pid, argv
        raise LookupError(f"no sidecar for {app_id}")

    def sidecar_http_port(self, app_id: str) -> int:
        """The HTTP port of the daprd that runs for `app_id`."""
        argv = self._sidecar(app_id)[1]
        return int(argv[argv.index("--dapr-http-port") + 1])

    def crash(self, app_id: str) -> list[dict]:
        """kill -9 the app and its sidecar at once, as when a replica's machine dies; returns
        what `launch` needs to start both again, sidecar first."""
        sidecar, app = self._sidecar(app_id)[0], self.app_pid(app_id)
        specs = [self._spec(sidecar, f"{app_id}-daprd"), self._spec(app, app_id)]
        for pid in (app, sidecar):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not (is_running(app) or is_running(sidecar)), timeout=15, what=f"{app_id} to die")
        return specs

    def adopt(self, proc: subprocess.Popen) -> None:
        """A process a test started in place of one of ours (e.g. a restarted app)."""
        self.adopted.append(proc)
        self.started_pids.add(proc.pid)

    @staticmethod
    def _spec(pid: int, name: str) -> dict:
        """What `launch` needs to start a running process again: its command line, environment
        and directory; `name` names its restart log."""
        return {
            "args": [c.decode() for c in Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")],
            "env": dict(v.split("=", 1) for v in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in v),
            "cwd": os.readlink(f"/proc/{pid}/cwd"),
            "app_id": name,
        }

    def kill_app(self, app_id: str, signal_number: int = signal.SIGKILL) -> dict:
        """Kill one app process (its sidecar keeps running); returns what `launch` needs to
        start it again."""
        pid = self.app_pid(app_id)
        spec = self._spec(pid, app_id)
        os.kill(pid, signal_number)
        wait_until(lambda: not is_running(pid), timeout=15, what=f"pid {pid} to exit")
        return spec

    def launch(self, spec: dict) -> subprocess.Popen:
        """Start an app again, as a supervisor would after a crash."""
        with open(LOGS / f"test-restart-{spec['app_id']}.log", "a") as log:
            proc = subprocess.Popen(spec["args"], cwd=spec["cwd"], env=spec["env"], stdout=log,
                                    stderr=subprocess.STDOUT)
        self.adopt(proc)
        return proc

    def restart_app(self, app_id: str) -> subprocess.Popen:
        return self.launch(self.kill_app(app_id))

    @contextmanager
    def running(self, timeout: float = 120) -> Iterator["DaprRun"]:
        """Started and ready inside; stopped after, however the block ends, and checked that
        `dapr run` shutdown stopped every process it started."""
        self.start()
        try:
            self.wait_ready(timeout)
            yield self
        finally:
            leftovers = self.stop()
            assert not leftovers, f"{self.name}: processes survived `dapr run` shutdown and were killed: {leftovers}"

    def stop(self) -> list[int]:
        """Ctrl-C the CLI (it stops apps and sidecars), then kill leftovers by pid.
        Returns the pids that had to be killed (should be none)."""
        if self.proc is None:
            return []
        self.track()
        for proc in self.adopted:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # busy with agent calls still under way: stop the rest regardless
                print(f"{self.name}: restarted app {proc.pid} ignored SIGTERM for 30 s; killed")
                proc.kill()
                proc.wait()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(is_running(p) for p in self.started_pids):
            time.sleep(0.3)
        leftovers = [p for p in self.started_pids if is_running(p)]
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        return leftovers
