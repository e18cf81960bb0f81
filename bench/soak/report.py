"""The soak's figures as markdown (ready for the README): per pattern, the faults, the waits,
the dead letters and every violation."""

from collections import Counter
from dataclasses import dataclass

from ..load import percentiles
from .checks import Fault, Outcome, Submission
from .traffic import Counters
from .verdict import Verdict

UNSETTLED = (Outcome.STUCK, Outcome.LOST, Outcome.NOT_ACCEPTED)
SHOWN = 20  # violations, errors and dead letters listed at most (the count is always given)
HEADER = ["| pattern | accepted | completed | partial or dead-lettered | failed | "
          "partial or failed, explained by a fault | stuck | lost | not accepted | p50 (s) | p95 (s) |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]


@dataclass
class Run:
    subs: list[Submission]
    letters: list[dict]
    faults: list[Fault]
    counts: Counters
    verdict: Verdict
    sent_in: float  # seconds until the last task was accepted
    duration: float  # seconds until every task settled (or the soak stopped waiting)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _row(name: str, subs: list[Submission], verdict: Verdict) -> str:
    n = Counter(verdict.outcomes[s.index] for s in subs)
    explained = sum(1 for s in subs if s.index in verdict.explained_by)
    done = [s.finished_at - s.started_at for s in subs
            if s.finished_at is not None and verdict.outcomes[s.index] in (Outcome.COMPLETED, Outcome.DEGRADED)]
    figures = percentiles(done)
    cells = [name, len(subs) - n[Outcome.NOT_ACCEPTED], n[Outcome.COMPLETED],
             n[Outcome.DEGRADED] + n[Outcome.DEAD_LETTERED], n[Outcome.FAILED], explained,
             n[Outcome.STUCK], n[Outcome.LOST], n[Outcome.NOT_ACCEPTED],
             _seconds(figures["p50_s"]), _seconds(figures["p95_s"])]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _faults(faults: list[Fault]) -> list[str]:
    if not faults:
        return ["Faults: none (--no-faults, or a Baton the soak did not start)."]
    out = ["| fault | injected at (s) | healthy again at (s) | time to healthy (s) |", "|---|---|---|---|"]
    for f in faults:
        took = f.recovered_at - f.injected_at if f.recovered_at is not None and f.injected_at is not None else None
        out.append(f"| {f.name} | {_seconds(f.injected_at)} | {_seconds(f.recovered_at)} | {_seconds(took)} |")
    return out


def _letters(letters: list[dict]) -> list[str]:
    status = Counter(d["status"] for d in letters)
    out = [f"Dead letters received during the soak: {len(letters)} ({status['open']} open, "
           f"{status['resolved']} resolved)."]
    for d in letters[:SHOWN]:
        named = "; ".join(f"{n}: {f.get('last_error', '')[:120]}" for n, f in (d.get("failures") or {}).items())
        out.append(f"- {d['id']} ({d['type']} on {d['topic']}, {d['status']}): {named or 'no subscriber named'}")
    return out


def render(run: Run) -> str:
    by_pattern: dict[str, list[Submission]] = {}
    for sub in run.subs:
        by_pattern.setdefault(sub.pattern, []).append(sub)
    settled = sum(1 for s in run.subs if run.verdict.outcomes[s.index] not in UNSETTLED)
    c = run.counts
    out = list(HEADER)
    out += [_row(name, subs, run.verdict) for name, subs in by_pattern.items()]
    out += [_row("all", run.subs, run.verdict), "",
            f"Duration {run.duration:.1f} s (all accepted after {run.sent_in:.1f} s); "
            f"throughput {settled / run.duration if run.duration else 0:.2f} tasks/s settled. "
            f"Waits: {c.throttled} x 429, {c.unavailable} x 503, {c.connection_errors} connection errors, "
            f"{len(c.server_errors)} other 5xx, {len(c.ambiguous)} submissions with their answer lost.",
            *[f"- {e}" for e in c.server_errors[:3]], ""]
    out += [*_faults(run.faults), "", *_letters(run.letters), ""]
    wrong = [s for s in run.subs if s.index in run.verdict.explained_by]
    if wrong:
        out.append(f"Explained by a fault ({len(wrong)}):")
        out += [f"- {s.pattern} #{s.index} {run.verdict.outcomes[s.index]} during '{run.verdict.explained_by[s.index]}'"
                f"{': ' + str(s.task.get('error'))[:160] if s.task and s.task.get('error') else ''}"
                for s in wrong[:SHOWN]]
        out.append("")
    violations = run.verdict.violations
    out.append(f"Violations: {len(violations)}" + (":" if violations else " (none)."))
    out += [f"- {v}" for v in violations[:SHOWN]]
    if len(violations) > SHOWN:
        out.append(f"- ... and {len(violations) - SHOWN} more")
    return "\n".join(out)
