"""The soak's verdict: each task's outcome, which fault explains what went wrong, and every
violation. A violation is a task lost, stuck or never accepted; a step or delivery recorded
twice or never; a failure, partial result or dead letter that no fault explains; a dead
letter that does not name its subscriber and error, or is not the soak's; a planned fault
not injected, or after which Baton never answered healthy again. Pure."""

from dataclasses import dataclass, field

from services.common.registry import REGISTRY

from .checks import EVENT_DRIVEN, Fault, Outcome, Submission, degraded_agents, explaining_fault, task_outcome
from .events import dead_lettered, event_outcome, event_problems, letter_problems, soak_ids, unprocessed
from .steps import repeated_calls, step_problems

WENT_WRONG = (Outcome.FAILED, Outcome.DEGRADED, Outcome.DEAD_LETTERED)


@dataclass
class Verdict:
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # by submission index
    explained_by: dict[int, str] = field(default_factory=dict)  # what went wrong, by index -> fault name
    violations: list[str] = field(default_factory=list)


def where(sub: Submission) -> str:
    return f"{sub.pattern} #{sub.index} ({sub.key or 'no id'})"


def _what_went_wrong(sub: Submission, outcome: Outcome, named: set[tuple[str, str]]) -> tuple[str, list[str]]:
    """A description, and the agents or subscribers it names (in its result or error): a
    fault that broke exactly those explains it."""
    if outcome == Outcome.DEAD_LETTERED:
        lettered = sorted(unprocessed(sub, named)[0])
        return f"dead-lettered {lettered}", [subscriber for subscriber, _ in lettered]
    task = sub.task or {}
    agents = degraded_agents(task) if task else []
    if outcome == Outcome.FAILED:
        error = str(task.get("error"))
        return error, agents + [a.app_id for a in REGISTRY.agents if a.app_id in error]
    return f"partial, without {agents}", agents


def _describe(outcome: Outcome, sub: Submission) -> str:
    if outcome == Outcome.LOST:
        return "lost: accepted, then GET /task answered 404"
    if outcome == Outcome.STUCK:
        status = sub.task["status"] if sub.task else "never readable"
        return f"stuck: {status} when the soak stopped waiting"
    return "not accepted: every attempt to submit it was refused"


def judge(subs: list[Submission], letters: list[dict], faults: list[Fault], grace: float,
          ambiguous_ids: list[str]) -> Verdict:
    verdict, named = Verdict(), dead_lettered(letters)
    for sub in subs:
        outcome = event_outcome(sub, named) if sub.pattern == EVENT_DRIVEN else task_outcome(sub)
        verdict.outcomes[sub.index] = outcome
        problems = step_problems(sub) + event_problems(sub, named)
        if sub.pattern != "hierarchical" and sub.final and explaining_fault(sub, faults, grace, []) is None:
            problems += [f"{p}, with no fault to explain it" for p in repeated_calls(sub.task)]
        if outcome in (Outcome.STUCK, Outcome.NOT_ACCEPTED) or (outcome == Outcome.LOST and not problems):
            problems.insert(0, _describe(outcome, sub))
        if outcome in WENT_WRONG:
            what, names = _what_went_wrong(sub, outcome, named)
            fault = explaining_fault(sub, faults, grace, names)
            if fault is None:
                problems.append(f"{outcome} with no fault to explain it: {what}")
            else:
                verdict.explained_by[sub.index] = fault.name
        verdict.violations += [f"{where(sub)}: {p}" for p in problems]
    verdict.violations += [problem for fault in faults if (problem := fault.problem())]
    ours = soak_ids(subs, ambiguous_ids)
    for letter in letters:
        verdict.violations += [f"dead letter {letter['id']}: {p}" for p in letter_problems(letter, ours)]
    return verdict
