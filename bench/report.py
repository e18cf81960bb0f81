"""Bench output: the machine, a JSON file, a markdown table, a PNG plot, and the ratio of a
new run against the committed results."""

import json
import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    mem_kb = int(mem.group(1)) if mem else 0
    versions = dict(re.findall(r"^(\w+)=(\S+)", (ROOT / "versions.env").read_text(), re.M))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "dapr_runtime": versions["DAPR_RUNTIME_VERSION"], "dapr_cli": versions["DAPR_CLI_VERSION"]}


def markdown(results: dict) -> str:
    m = results["machine"]
    out = [f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, "
           f"Python {m['python']}, Dapr {m['dapr_runtime']}.", ""]
    for mode, runs in results["load"].items():
        out += [f"**Model: {mode}**", "",
                "| pattern | concurrency | done | errors | p50 (s) | p95 (s) | p99 (s) | tasks/s |",
                "|---|---|---|---|---|---|---|---|"]
        for r in runs:
            fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            out.append(f"| {r['pattern']} | {r['concurrency']} | {r['completed']} | {r['errors']} | "
                       f"{fmt(r['p50_s'])} | {fmt(r['p95_s'])} | {fmt(r['p99_s'])} | {r['throughput_per_s']:.2f} |")
        out.append("")
    if results.get("overhead"):
        out += ["**Orchestration overhead** (instant agents, concurrency 1, medians): Baton through Dapr "
                "against the same agent calls made directly with asyncio", "",
                "| pattern | Baton (s) | direct (s) | ratio | overhead per agent step (ms) |", "|---|---|---|---|---|"]
        for r in results["overhead"]:
            out.append(f"| {r['pattern']} | {r['baton_s']:.3f} | {r['direct_s']:.3f} | {r['ratio']:.1f}x | "
                       f"{r['overhead_per_step_ms']:.0f} |")
        out.append("")
    if results.get("fanout"):
        out += ["**Fan-out speedup** (four agents of L seconds each, instant model)", "",
                "| L (s) | parallel workflow (s) | 4 sequential calls (s) | speedup |", "|---|---|---|---|"]
        for r in results["fanout"]:
            cells = [f"{r['latency_s']:g}", f"{r['parallel_s']:.2f}", f"{r['sequential_s']:.2f}",
                     f"{r['speedup']:.2f}x"]
            out.append(f"| {' | '.join(cells)} |")
        out.append("")
    for mode, res in results.get("resources", {}).items():
        kinds = ", ".join(f"{k} {v:.0f}" for k, v in res["peak_rss_mib_by_kind"].items())
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in res["cpu_seconds_by_kind"].items())
        out.append(f"Resources during the {mode} load: peak RSS {res['peak_rss_mib']:.0f} MiB ({kinds}); "
                   f"CPU {res['cpu_seconds']:.0f} s ({cpu}).")
    return "\n".join(out) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(results["load"])
    fig, axes = plt.subplots(len(modes), 2, figsize=(11, 4 * len(modes)), squeeze=False)
    for row, mode in enumerate(modes):
        runs = results["load"][mode]
        for pattern in dict.fromkeys(r["pattern"] for r in runs):
            mine = [r for r in runs if r["pattern"] == pattern and r["p50_s"] is not None]
            xs = [r["concurrency"] for r in mine]
            axes[row][0].plot(xs, [r["p50_s"] for r in mine], marker="o", label=pattern)
            axes[row][1].plot(xs, [r["throughput_per_s"] for r in mine], marker="o", label=pattern)
        axes[row][0].set(title=f"p50 latency ({mode} model)", xlabel="concurrency", ylabel="seconds", xscale="log")
        axes[row][1].set(title=f"throughput ({mode} model)", xlabel="concurrency", ylabel="tasks / s", xscale="log")
        for ax in axes[row]:
            ax.set_xticks([1, 8, 32], labels=["1", "8", "32"])
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    m = results["machine"]
    fig.suptitle(f"Baton on {m['cores']} cores, {m['memory_gib']} GiB ({m['cpu']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(results: dict, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    base = RESULTS / name
    base.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    base.with_suffix(".md").write_text(markdown(results))
    plot(results, base.with_suffix(".png"))
    return base


def compare(new: dict, old: dict) -> str:
    """Ratios new/old of p50 and throughput for every cell both runs have."""
    lines = ["| model | pattern | concurrency | p50 new/old | throughput new/old |", "|---|---|---|---|---|"]
    for mode, runs in new["load"].items():
        before = {(r["pattern"], r["concurrency"]): r for r in old.get("load", {}).get(mode, [])}
        for r in runs:
            o = before.get((r["pattern"], r["concurrency"]))
            if not o or not o["p50_s"] or not r["p50_s"] or not o["throughput_per_s"]:
                continue
            lines.append(f"| {mode} | {r['pattern']} | {r['concurrency']} | {r['p50_s'] / o['p50_s']:.2f} | "
                         f"{r['throughput_per_s'] / o['throughput_per_s']:.2f} |")
    return "\n".join(lines)
