"""Events of the soak, from GET /events/{id} and GET /dead-letters: each collected event
processed once by each of its subscribers, and each published article's ContentPublished
received once by the orchestrator, or else dead-lettered by name; and every dead letter of
the soak's window accounted for (it names a subscriber and its error, and belongs to the
soak). Pure, like checks.py."""

from collections import Counter
from datetime import datetime
from typing import Any

from services.common.events import NOT_PROCESSED
from services.common.registry import REGISTRY

from .checks import EVENT_DRIVEN, Outcome, Submission

Delivery = tuple[str, str]  # (subscriber app id, event id)
ANALYSER = "analyser"  # publishes AnalysisComplete as it processes DataReceived


def subscribers_of(topic: str) -> list[str]:
    return [a.app_id for a in REGISTRY.apps if topic in a.topics]


def analysis_deliveries(data_event_id: str) -> set[Delivery]:
    """The analyser derives its AnalysisComplete id from the DataReceived id (services/analyser/handlers.py)."""
    return {(s, f"analysis-{data_event_id}") for s in subscribers_of("analysis-complete")}


def expected_deliveries(sub: Submission) -> set[Delivery]:
    """Event ids as the services derive them; ContentPublished's from the task id
    (workflows/activities.py publish_article)."""
    body = sub.accepted or {}
    if sub.pattern == EVENT_DRIVEN and body:
        return {(s, body["event_id"]) for s in subscribers_of("data-received")} | analysis_deliveries(body["event_id"])
    if sub.pattern == "sequential" and sub.task and sub.task["status"] == "completed":
        return {(s, f"content-published-{sub.key}") for s in subscribers_of("content-published")}
    return set()


def processed(sub: Submission) -> Counter[Delivery]:
    return Counter((r["subscriber"], r["event_id"]) for r in sub.records if r["outcome"] not in NOT_PROCESSED)


def dead_lettered(letters: list[dict[str, Any]]) -> set[Delivery]:
    """Who failed on what, as the dead letters name them."""
    return {(subscriber, letter["event_id"]) for letter in letters for subscriber in letter.get("failures") or {}}


def unprocessed(sub: Submission, named: set[Delivery]) -> tuple[set[Delivery], set[Delivery]]:
    """The expected deliveries that left no record: (dead-lettered, unaccounted). A delivery
    is dead-lettered when a dead letter names it, or when the event it needed was never
    published because the analyser's DataReceived was dead-lettered."""
    missing = expected_deliveries(sub) - set(processed(sub))
    accounted, data_event = set(named), (sub.accepted or {}).get("event_id", "")
    if sub.pattern == EVENT_DRIVEN and (ANALYSER, data_event) in named:
        accounted |= analysis_deliveries(data_event)
    return missing & accounted, missing - accounted


def settled(sub: Submission, named: set[Delivery]) -> bool:
    """Nothing more to wait for: final (event-driven: nothing to be final), and every
    expected delivery recorded or dead-lettered."""
    if sub.accepted is None:
        return True
    return (sub.pattern == EVENT_DRIVEN or sub.final) and not unprocessed(sub, named)[1]


def event_outcome(sub: Submission, named: set[Delivery]) -> Outcome:
    if sub.accepted is None:
        return Outcome.NOT_ACCEPTED
    lettered, unaccounted = unprocessed(sub, named)
    return Outcome.LOST if unaccounted else Outcome.DEAD_LETTERED if lettered else Outcome.COMPLETED


def event_problems(sub: Submission, named: set[Delivery]) -> list[str]:
    """Deliveries processed more than once, or neither processed nor dead-lettered."""
    expected = expected_deliveries(sub)
    problems = [f"{s} processed {e} {n} times" for (s, e), n in processed(sub).items() if n > 1 and (s, e) in expected]
    problems += [f"{s} never processed {e}, and no dead letter names it" for s, e in sorted(unprocessed(sub, named)[1])]
    return problems


def in_window(letter: dict[str, Any], since: datetime) -> bool:
    last = letter.get("last_received_at") or letter["received_at"]
    return datetime.fromisoformat(last) >= since


def soak_ids(subs: list[Submission], ambiguous: list[str]) -> set[str]:
    """Every id a dead letter of the soak may carry: task and correlation ids (also those of
    submissions whose answer was lost), and the expected event ids."""
    ids = {s.key for s in subs if s.accepted} | set(ambiguous)
    return ids | {event for s in subs for _, event in expected_deliveries(s)}


def letter_problems(letter: dict[str, Any], ours: set[str]) -> list[str]:
    failures = letter.get("failures") or {}
    problems = [] if failures else ["names no subscriber"]
    problems += [f"{name} failed with no error recorded" for name, f in failures.items() if not f.get("last_error")]
    if letter["event_id"] not in ours and letter.get("correlation_id") not in ours:
        problems.append("not an event of this soak")
    return problems
