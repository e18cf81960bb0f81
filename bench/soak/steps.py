"""Every step recorded exactly once, read from a task document (GET /task/{id}) and the 202
that started it. The store replaces a step by name and counts each agent call (call_id)
once, so one call recorded twice must not show in the usage; usage beyond the steps means
the agent was called again (a retried activity after a fault: a real cost). A step never
recorded shows as a missing name or tree node."""

from collections import Counter
from typing import Any

from .checks import Submission

TOKENS = ("prompt_tokens", "completion_tokens")
# A consensus voter that missed the deadline has no step (workflows/consensus.py says why).
LATE_VOTE = "no vote within"


def _usage_against_steps(task: dict[str, Any]) -> list[tuple[str, dict[str, int], dict[str, int]]]:
    """(agent, its usage, its steps' usage) for each agent whose two differ."""
    summed: dict[str, Counter[str]] = {}
    for step in task["steps"]:
        if step.get("agent") and step.get("usage"):
            summed.setdefault(step["agent"], Counter()).update({k: step["usage"][k] for k in TOKENS})
    differ = []
    for agent, usage in task["usage"].items():
        counted, steps = {k: usage[k] for k in TOKENS}, summed.get(agent, Counter())
        if counted != {k: steps[k] for k in TOKENS}:
            differ.append((agent, counted, {k: steps[k] for k in TOKENS}))
    return differ


def usage_problems(task: dict[str, Any]) -> list[str]:
    """An agent's usage below its steps' lost a count: always wrong."""
    return [f"usage of {agent} {counted} is below its steps' {steps}"
            for agent, counted, steps in _usage_against_steps(task) if any(counted[k] < steps[k] for k in TOKENS)]


def repeated_calls(task: dict[str, Any] | None) -> list[str]:
    """Agents whose usage exceeds their steps': called again for a step (fine only after a fault)."""
    return [f"usage of {agent} {counted} beyond its steps' {steps}: the agent was called again"
            for agent, counted, steps in _usage_against_steps(task or {"steps": [], "usage": {}})
            if all(counted[k] >= steps[k] for k in TOKENS)]


def _sequential(names: list[str], started: dict[str, Any], completed: bool) -> list[str]:
    expected = started["steps"]
    if names != (expected if completed else expected[:len(names)]):
        return [f"steps {names}, expected {expected if completed else 'a prefix of ' + str(expected)}"]
    return []


def _parallel(names: list[str], started: dict[str, Any], result: dict[str, Any]) -> list[str]:
    arrived = {s["app_id"] for s in result["sources"]} | {f["app_id"] for f in result["failed_agents"]}
    problems = [] if set(names) == arrived else [f"steps {sorted(names)}, agents that answered or failed "
                                                 f"{sorted(arrived)}"]
    if len(names) + len(result["late_agents"]) != started["agents_dispatched"]:
        problems.append(f"{len(names)} steps and {len(result['late_agents'])} late agents for "
                        f"{started['agents_dispatched']} dispatched")
    return problems


def _consensus(names: list[str], started: dict[str, Any], result: dict[str, Any]) -> list[str]:
    late = {a["agent"] for a in result["abstained"] if a["reason"].startswith(LATE_VOTE)}
    expected = set(started["voters"]) - late
    return [] if set(names) == expected else [f"steps {sorted(names)}, voters not late {sorted(expected)}"]


def _hierarchical(task: dict[str, Any], started: dict[str, Any]) -> list[str]:
    tree = task.get("tree") or {}
    managers = tree.get("managers", {})
    problems = [] if tree.get("master", {}).get("status") == "completed" else ["master node not completed"]
    for manager, workers in started["managers"].items():
        node = managers.get(manager, {})
        seen = node.get("workers", {})
        if node.get("status") != "completed":
            problems.append(f"{manager} manager node is {node.get('status')}")
        if set(seen) != set(workers):
            problems.append(f"{manager} workers {sorted(seen)}, assigned {sorted(workers)}")
        problems += [f"worker {w} is {n.get('status')}" for w, n in seen.items()
                     if n.get("status") not in ("completed", "failed")]
    nodes = [(w, n) for m in managers.values() for w, n in m.get("workers", {}).items()]
    failed = sorted(w for w, n in nodes if n.get("status") == "failed")
    if sorted(task["result"]["failed_workers"]) != failed:
        problems.append(f"failed_workers {task['result']['failed_workers']}, failed nodes {failed}")
    return problems


def step_problems(sub: Submission) -> list[str]:
    """What is wrong with the task's record of its steps; [] when each was recorded once.
    A failed task is checked for duplicates (and the pipeline's order) only."""
    task, started = sub.task, sub.accepted
    if task is None or started is None or not sub.final:
        return []
    names = [s["name"] for s in task["steps"]]
    problems = [f"step {n} recorded {c} times" for n, c in Counter(names).items() if c > 1]
    if sub.pattern != "hierarchical":  # its workers' usage is kept by agent only, no step to add up
        problems += usage_problems(task)  # and repeated_calls(task), which a fault must explain
    completed = task["status"] == "completed"
    if sub.pattern == "sequential":
        problems += _sequential(names, started, completed)
    elif completed and sub.pattern == "parallel":
        problems += _parallel(names, started, task["result"])
    elif completed and sub.pattern == "consensus":
        problems += _consensus(names, started, task["result"])
    elif completed and sub.pattern == "hierarchical":
        problems += _hierarchical(task, started)
    return problems
