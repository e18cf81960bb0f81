"""`make run` (infra/local/run.sh) stops the platform it started, whether it is stopped
with Ctrl-C or SIGTERM, and even when more signals arrive while it is stopping. The real
script runs in a scratch tree where every command it calls is a stub that logs."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLATFORM = """#!/usr/bin/env bash
log="$(dirname "$0")/../../calls.log"
echo "$1 started" >>"$log"
sleep "${STUB_SECONDS:-1}"
echo "$1 done" >>"$log"
"""
# The venv's python, for what run.sh runs with it: the keys, the readiness wait, the demo.
PYTHON = """#!/usr/bin/env bash
log="$(dirname "$0")/../../calls.log"
case "$1" in
  -m) echo "export STUB_TOKEN=x" ;;
  -c) echo "stub-key" ;;
  infra/local/wait_ready.py) echo "ready" >>"$log" ;;
  infra/local/demo.py) echo "demo started" >>"$log"; exec sleep 300 ;;
esac
"""
# Like the Dapr CLI (a Go program), it handles SIGINT although started in the background.
DAPR = f"""#!{sys.executable}
import pathlib, signal, sys, time
log = pathlib.Path(__file__).parents[2] / "calls.log"
def stop(*_):
    with log.open("a") as f:
        f.write("dapr stopped\\n")
    sys.exit(0)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
with log.open("a") as f:
    f.write("dapr started\\n")
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def run(tmp_path):
    files = {"infra/local/bootstrap.sh": "exit 0\n", "infra/local/platform.sh": PLATFORM,
             ".venv/bin/python": PYTHON, ".dapr/bin/dapr": DAPR}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    shutil.copy(ROOT / "infra/local/run.sh", tmp_path / "infra/local/run.sh")
    (tmp_path / ".data/logs").mkdir(parents=True)
    log = tmp_path / "calls.log"
    log.touch()
    started = []

    def start(up_seconds: float = 0.1) -> subprocess.Popen:
        # SIGINT at its default, as in a terminal: a shell that starts with it ignored (pytest run
        # from a non-interactive shell's background job, as CI does) cannot trap it at all.
        proc = subprocess.Popen(["bash", str(tmp_path / "infra/local/run.sh")], cwd=tmp_path,
                                env={**os.environ, "STUB_SECONDS": str(up_seconds)}, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc

    def calls() -> list[str]:
        return log.read_text().splitlines()

    def wait_for(*lines: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not set(lines) <= set(calls()):
            assert time.monotonic() < deadline, f"no {lines} in {calls()}"
            time.sleep(0.02)

    yield start, calls, wait_for
    for proc in started:  # a failed test leaves nothing behind
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def survivors(session: int) -> list[int]:
    """Processes still in the script's session (it ran in a session of its own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def stopped_everything(proc: subprocess.Popen, calls) -> None:
    assert proc.wait(timeout=30) == 0
    assert calls()[-1] == "down done" and "dapr stopped" in calls()
    assert calls().index("dapr stopped") < calls().index("down started")
    assert survivors(proc.pid) == []


def test_sigterm_stops_the_services_and_the_platform(run):
    start, calls, wait_for = run
    proc = start()
    wait_for("demo started", "dapr started")
    proc.send_signal(signal.SIGTERM)  # to the script alone, as `kill <pid>` or a supervisor sends it
    stopped_everything(proc, calls)


def test_ctrl_c_stops_the_services_and_the_platform(run):
    start, calls, wait_for = run
    proc = start()
    wait_for("demo started", "dapr started")
    os.killpg(proc.pid, signal.SIGINT)  # the terminal signals the whole foreground group
    stopped_everything(proc, calls)


def test_signals_during_the_stop_do_not_cut_it_short(run):
    start, calls, wait_for = run
    proc = start(up_seconds=1)  # platform.sh down takes a second
    wait_for("demo started", "dapr started")
    proc.send_signal(signal.SIGTERM)
    wait_for("down started")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):  # an impatient user, then a supervisor
        os.killpg(proc.pid, sig)
        time.sleep(0.1)
    stopped_everything(proc, calls)


def test_a_sigterm_while_the_platform_starts_lets_it_start_then_stops_it(run):
    start, calls, wait_for = run
    proc = start(up_seconds=1)
    wait_for("up started")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert calls() == ["up started", "up done", "down started", "down done"]  # no dapr run, no demo
    assert survivors(proc.pid) == []
