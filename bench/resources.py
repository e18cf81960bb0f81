"""Peak memory (sum of RSS) and CPU time of every process of the running system: the
platform's (from its pid files) and everything `dapr run` started (sidecars and apps)."""

import os
import threading
from pathlib import Path

from infra.local.processes import ROOT, descendants

TICKS = os.sysconf("SC_CLK_TCK")


def system_pids() -> dict[int, str]:
    """pid -> kind (redis, zipkin, placement, scheduler, model, daprd, app)."""
    pids: dict[int, str] = {}
    for service in ("redis", "zipkin", "placement", "scheduler", "model"):
        try:
            pids[int((ROOT / ".data" / "run" / f"{service}.pid").read_text())] = service
        except (OSError, ValueError):
            continue
    for entry in Path("/proc").iterdir():  # every `dapr run` on this machine, and its children
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 2 and cmd[0].endswith(b"dapr") and cmd[1] == b"run":
            for child in descendants(int(entry.name)):
                try:
                    exe = (Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0])
                except OSError:
                    continue
                pids[child] = "daprd" if exe.endswith(b"daprd") else "app"
    return pids


def _rss_and_cpu(pid: int) -> tuple[int, float]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0.0
    rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return rss_kb * 1024, (int(stat[11]) + int(stat[12])) / TICKS


class ResourceSampler:
    """Samples every `interval` seconds in a thread between start() and stop()."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak_rss = interval, 0
        self.peak_by_kind: dict[str, int] = {}
        self._stop = threading.Event()
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, tuple[str, float]] = {}

    def _sample(self) -> None:
        total, by_kind = 0, dict[str, int]()
        for pid, kind in system_pids().items():
            rss, cpu = _rss_and_cpu(pid)
            total += rss
            by_kind[kind] = by_kind.get(kind, 0) + rss
            self._cpu_start.setdefault(pid, cpu)
            self._cpu_last[pid] = (kind, cpu)
        if total > self.peak_rss:
            self.peak_rss, self.peak_by_kind = total, by_kind

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def report(self) -> dict:
        cpu_by_kind: dict[str, float] = {}
        for pid, (kind, cpu) in self._cpu_last.items():
            cpu_by_kind[kind] = cpu_by_kind.get(kind, 0.0) + cpu - self._cpu_start.get(pid, cpu)
        mib = 1024 * 1024
        return {"peak_rss_mib": round(self.peak_rss / mib, 1),
                "peak_rss_mib_by_kind": {k: round(v / mib, 1) for k, v in sorted(self.peak_by_kind.items())},
                "cpu_seconds": round(sum(cpu_by_kind.values()), 2),
                "cpu_seconds_by_kind": {k: round(v, 2) for k, v in sorted(cpu_by_kind.items())}}
