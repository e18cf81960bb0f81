"""The soak's checks (bench/soak/checks.py, steps.py, events.py, verdict.py) on
task documents, event records and dead letters built with Baton's own contracts."""

from datetime import UTC, datetime, timedelta

from bench.soak.checks import Fault, Outcome, Submission, explaining_fault, task_outcome
from bench.soak.events import event_outcome, event_problems, in_window, letter_problems, settled, soak_ids
from bench.soak.report import Run, render
from bench.soak.steps import step_problems
from bench.soak.traffic import Counters
from bench.soak.verdict import judge
from services.common.contracts import StepRecord, TaskDocument, Usage, Vote
from services.common.deadletters import DeadLetter, DeliveryFailure
from services.common.events import EventRecord
from services.orchestrator.patterns import ConsensusStarted, ContentStarted, DelegateStarted, ResearchStarted
from workflows.contracts import (
    Abstention,
    ConsensusResult,
    FailedAgent,
    HierarchicalResult,
    ParallelResult,
    Source,
    TallyRule,
)
from workflows.sequential import STEPS

NOW = "2026-01-01T00:00:00+00:00"
RESEARCHERS = ["web-researcher", "academic-researcher", "news-researcher", "social-researcher"]
VOTERS = ["voter-strict", "voter-lenient", "voter-balanced"]
USED = Usage(prompt_tokens=3, completion_tokens=5)


def step(name: str, agent: str | None = None, result: dict | None = None) -> StepRecord:
    return StepRecord(name=name, completed_at=NOW, result=result or {"output": "x"}, agent=agent,
                      usage=USED if agent else None)


def task(workflow: str, status: str, steps: list[StepRecord], result: object = None, **extra) -> dict:
    usage: dict[str, Usage] = {}
    for s in steps:
        if s.agent and s.usage:
            usage[s.agent] = usage.get(s.agent, Usage()).plus(s.usage)
    fields = {"usage": usage, **extra}
    doc = TaskDocument(task_id="t-1", workflow=workflow, status=status, input={}, steps=steps,
                       result=result.model_dump() if hasattr(result, "model_dump") else result, **fields)
    return doc.model_dump(mode="json")


def submitted(pattern: str, started: object, doc: dict | None = None, ran: tuple = (10.0, 12.0)) -> Submission:
    """Accepted at soak second ran[0], first seen final at ran[1]."""
    return Submission(0, pattern, accepted=started.model_dump(mode="json"), task=doc, started_at=ran[0],
                      finished_at=ran[1])


def pipeline(steps: list[StepRecord], status: str = "completed", ran: tuple = (10.0, 12.0), **extra) -> Submission:
    started = ContentStarted(task_id="t-1", workflow="sequential", steps=STEPS, message="m")
    return submitted("sequential", started, task("sequential", status, steps, **extra), ran)


FOUR = [step("research", "research-agent"), step("write", "writer-agent"), step("edit", "editor-agent"),
        step("publish")]


def test_a_pipeline_with_each_step_once_is_completed_and_clean():
    sub = pipeline(FOUR)
    assert task_outcome(sub) == Outcome.COMPLETED and step_problems(sub) == []


def test_usage_below_the_steps_is_wrong_and_beyond_them_needs_a_fault():
    lost = pipeline(FOUR)
    lost.task["usage"]["writer-agent"]["completion_tokens"] = 0
    assert any("writer-agent" in p and "below" in p for p in step_problems(lost))
    again = pipeline(FOUR, ran=(62.0, 90.0))
    again.task["usage"]["writer-agent"]["completion_tokens"] *= 2  # the agent was called twice
    assert step_problems(again) == []
    redis = Fault("stop Redis", injected_at=60.0, recovered_at=70.0)

    def usage_violations(faults: list[Fault]) -> list[str]:
        return [v for v in judge([again], [], faults, grace=0, ambiguous_ids=[]).violations if "usage" in v]
    assert usage_violations([redis]) == []
    (violation,) = usage_violations([])
    assert "called again" in violation and "no fault" in violation


def test_a_pipeline_missing_a_step_or_out_of_order_is_a_problem():
    assert step_problems(pipeline([FOUR[0], FOUR[2], FOUR[3]]))
    assert step_problems(pipeline([FOUR[1], FOUR[0]], status="failed", error="boom"))
    assert step_problems(pipeline(FOUR[:2], status="failed", error="boom")) == []


def research(sources: list[str], failed: list[str], late: list[str], steps: list[StepRecord]) -> Submission:
    result = ParallelResult(query="q", summary="s", completed_agents=len(sources), timed_out=bool(late),
                            deadline_seconds=300, late_agents=late,
                            sources=[Source(agent="a", app_id=a, data="d") for a in sources],
                            failed_agents=[FailedAgent(agent="a", app_id=a, error="503", skipped=False)
                                           for a in failed])
    started = ResearchStarted(task_id="t-1", workflow="parallel", agents_dispatched=4, deadline_seconds=300,
                              message="m")
    return submitted("parallel", started, task("parallel", "completed", steps, result))


def test_a_parallel_task_without_one_agent_is_partial_with_one_step_per_agent():
    steps = [step(a, a) for a in RESEARCHERS[1:]] + [step("web-researcher", "web-researcher", {"error": "503"})]
    steps[-1].usage = None
    sub = research(RESEARCHERS[1:], ["web-researcher"], [], steps)
    assert task_outcome(sub) == Outcome.DEGRADED and step_problems(sub) == []
    missing = research(RESEARCHERS, [], [], [step(a, a) for a in RESEARCHERS[1:]])
    assert any("steps" in p for p in step_problems(missing))


def test_a_late_research_agent_has_no_step_and_that_is_fine():
    sub = research(RESEARCHERS[:3], [], ["social"], [step(a, a) for a in RESEARCHERS[:3]])
    assert step_problems(sub) == [] and task_outcome(sub) == Outcome.DEGRADED


def vote_task(voted: list[str], abstained: list[Abstention], steps: list[StepRecord]) -> Submission:
    result = ConsensusResult(task="review", labels=["approve", "request_changes"], timed_out=False,
                             decision="approve", rule=TallyRule(mode="majority", quorum=2, voters=3),
                             counts={"approve": len(voted)}, agreement=1.0, dissent=[], abstained=abstained,
                             votes=[Vote(agent=v, label="approve", confidence=1.0) for v in voted])
    started = ConsensusStarted(task_id="t-1", workflow="consensus", voters=VOTERS, labels=["approve"], quorum=None,
                               message="m")
    return submitted("consensus", started, task("consensus", "completed", steps, result))


def test_a_voter_past_the_deadline_needs_no_step_but_every_other_voter_does():
    late = [Abstention(agent="voter-balanced", reason="no vote within the 300s deadline")]
    assert step_problems(vote_task(VOTERS[:2], late, [step(v, v) for v in VOTERS[:2]])) == []
    failed = [Abstention(agent="voter-balanced", reason="failed: 503")]
    assert step_problems(vote_task(VOTERS[:2], failed, [step(v, v) for v in VOTERS[:2]]))


def delegated(tree: dict, failed_workers: list[str]) -> Submission:
    result = HierarchicalResult(goal="g", article="a", research_notes="n", partial=bool(failed_workers),
                                failed_workers=failed_workers)
    started = DelegateStarted(task_id="t-1", workflow="hierarchical", message="m", managers={
        "research": ["web-scraper", "paper-analyser"], "content": ["writer-agent", "editor-agent"]})
    return submitted("hierarchical", started, task("hierarchical", "completed", [], result, tree=tree))


def tree(research_workers: dict, content_status: str = "completed") -> dict:
    done = {"status": "completed", "result": "r"}
    return {"master": {"status": "completed"}, "managers": {
        "research": {"status": "completed", "workers": research_workers},
        "content": {"status": content_status, "workers": {"writer-agent": done, "editor-agent": done}}}}


def test_a_hierarchical_task_needs_every_node_of_its_tree_once_and_final():
    done = {"status": "completed", "result": "r"}
    assert step_problems(delegated(tree({"web-scraper": done, "paper-analyser": done}), [])) == []
    partial = delegated(tree({"web-scraper": done, "paper-analyser": {"status": "failed", "error": "503"}}),
                        ["paper-analyser"])
    assert step_problems(partial) == [] and task_outcome(partial) == Outcome.DEGRADED
    assert step_problems(delegated(tree({"web-scraper": done}), []))
    assert step_problems(delegated(tree({"web-scraper": done, "paper-analyser": done}, "in_progress"), []))
    assert step_problems(delegated(tree({"web-scraper": done, "paper-analyser": done}), ["web-scraper"]))


def test_outcomes_of_tasks_never_accepted_gone_or_not_final():
    assert task_outcome(Submission(0, "sequential")) == Outcome.NOT_ACCEPTED
    gone = pipeline(FOUR)
    gone.gone = True
    assert task_outcome(gone) == Outcome.LOST
    assert task_outcome(pipeline(FOUR[:1], status="in_progress")) == Outcome.STUCK
    unread = pipeline(FOUR)
    unread.task = None
    assert task_outcome(unread) == Outcome.STUCK
    assert task_outcome(pipeline(FOUR[:1], status="failed", error="boom")) == Outcome.FAILED


def test_a_fault_explains_what_ran_while_it_lasted_and_its_agent_after():
    agent = Fault("kill web", agents=("web-researcher",), injected_at=20.0, recovered_at=25.0)
    redis = Fault("stop Redis", injected_at=60.0, recovered_at=70.0)
    never = Fault("not injected")
    during = pipeline(FOUR, ran=(62.0, 90.0))
    assert explaining_fault(during, [never, agent, redis], 10, []) is redis
    after = pipeline(FOUR, ran=(40.0, 45.0))
    assert explaining_fault(after, [never, agent, redis], 10, []) is None
    assert explaining_fault(after, [agent, redis], 10, ["web-researcher"]) is agent
    before = pipeline(FOUR, ran=(1.0, 5.0))
    assert explaining_fault(before, [agent], 10, ["web-researcher"]) is None


def record(subscriber: str, event_id: str, topic: str = "data-received") -> dict:
    return EventRecord(subscriber=subscriber, topic=topic, event_type="DataReceived", event_id=event_id,
                       outcome="processed", recorded_at=NOW).model_dump()


def collected(*records: dict) -> Submission:
    sub = Submission(0, "event-driven", accepted={"correlation_id": "c-1", "event_id": "e-1"}, started_at=1.0)
    sub.records = list(records)
    return sub


ALL_FOUR = [record("analyser", "e-1"), record("notifier", "e-1"), record("archiver", "e-1"),
            record("notifier", "analysis-e-1", "analysis-complete")]


def letter(event_id: str, failures: dict[str, str], correlation_id: str | None = "c-1", status: str = "open") -> dict:
    return DeadLetter(id=event_id, event_id=event_id, type="DataReceived", topic="data-received", source="s",
                      data={}, correlation_id=correlation_id, received_at=NOW, status=status, failures={
                          name: DeliveryFailure(subscriber=name, attempts=4, last_error=error)
                          for name, error in failures.items()}).model_dump()


def test_an_event_processed_once_by_each_subscriber_is_completed_and_twice_is_a_problem():
    assert event_outcome(collected(*ALL_FOUR), set()) == Outcome.COMPLETED
    assert event_problems(collected(*ALL_FOUR), set()) == []
    twice = collected(*ALL_FOUR, record("archiver", "e-1"))
    assert event_problems(twice, set()) == ["archiver processed e-1 2 times"]


def test_an_unprocessed_delivery_is_lost_unless_a_dead_letter_names_its_subscriber():
    sub = collected(*ALL_FOUR[:2], ALL_FOUR[3])
    assert event_outcome(sub, set()) == Outcome.LOST and "archiver never processed e-1" in event_problems(sub, set())[0]
    assert not settled(sub, set())
    named = {("archiver", "e-1")}
    assert event_outcome(sub, named) == Outcome.DEAD_LETTERED
    assert event_problems(sub, named) == [] and settled(sub, named)
    assert event_outcome(sub, {("notifier", "e-1")}) == Outcome.LOST


def test_when_the_analysers_delivery_is_dead_lettered_its_analysis_is_never_published():
    sub = collected(*ALL_FOUR[1:3])
    assert event_outcome(sub, {("analyser", "e-1")}) == Outcome.DEAD_LETTERED


def test_a_completed_pipeline_waits_for_its_content_published_record():
    sub = pipeline(FOUR)
    assert not settled(sub, set())
    assert settled(sub, {("orchestrator", "content-published-t-1")})
    sub.records = [record("orchestrator", "content-published-t-1", "content-published")]
    assert settled(sub, set()) and event_problems(sub, set()) == []
    assert settled(pipeline(FOUR[:1], status="failed", error="boom"), set())


def test_a_dead_letter_must_name_its_subscriber_and_error_and_be_the_soaks():
    ours = soak_ids([collected(*ALL_FOUR)], ambiguous=["c-lost-answer"])
    assert letter_problems(letter("e-1", {"archiver": "ConnectionError: redis"}), ours) == []
    assert letter_problems(letter("e-1", {}), ours) == ["names no subscriber"]
    assert letter_problems(letter("e-1", {"archiver": ""}), ours) == ["archiver failed with no error recorded"]
    assert letter_problems(letter("e-9", {"archiver": "x"}, "c-lost-answer"), ours) == []
    assert letter_problems(letter("e-9", {"archiver": "x"}, "c-9"), ours) == ["not an event of this soak"]


def test_only_dead_letters_received_since_the_soak_began_are_its_own():
    began = datetime.fromisoformat(NOW)
    assert in_window(letter("e-1", {}), began)
    assert not in_window(letter("e-1", {}), began + timedelta(seconds=1))
    again = {**letter("e-1", {}), "last_received_at": datetime(2026, 1, 2, tzinfo=UTC).isoformat()}
    assert in_window(again, began + timedelta(seconds=1))


def test_the_verdict_lists_what_no_fault_explains_and_faults_that_did_not_happen():
    fine, stuck = pipeline(FOUR), pipeline(FOUR[:1], status="in_progress")
    fine.records = [record("orchestrator", "content-published-t-1", "content-published")]
    failed_in_outage = pipeline(FOUR[:1], status="failed", error="state store down", ran=(61, 75))
    failed_alone = pipeline(FOUR[:1], status="failed", error="boom", ran=(200, 201))
    subs = [fine, stuck, failed_in_outage, failed_alone]
    for i, sub in enumerate(subs):
        sub.index = i
    faults = [Fault("stop Redis", injected_at=60.0, recovered_at=70.0), Fault("kill -9 orchestrator")]
    verdict = judge(subs, [letter("e-7", {})], faults, grace=10, ambiguous_ids=[])
    assert verdict.outcomes == {0: Outcome.COMPLETED, 1: Outcome.STUCK, 2: Outcome.FAILED, 3: Outcome.FAILED}
    assert verdict.explained_by == {2: "stop Redis"}
    text = "\n".join(verdict.violations)
    assert "#1 (t-1): stuck: in_progress" in text and "#3 (t-1): failed with no fault to explain it: boom" in text
    assert "#0" not in text and "#2" not in text
    assert "fault 'kill -9 orchestrator' was not injected" in text
    assert "dead letter e-7: names no subscriber" in text and "not an event of this soak" in text
    report = render(Run(subs, [], faults, Counters(), verdict, sent_in=50.0, duration=210.0))
    assert "| sequential | 4 | 1 | 0 | 2 | 1 | 1 | 0 | 0 |" in report and "Violations: 5:" in report


def test_a_task_that_failed_on_the_killed_agent_is_its_doing_even_after_the_fault():
    killed = Fault("kill -9 writer-agent", agents=("writer-agent",), injected_at=20.0, recovered_at=25.0)
    later = pipeline(FOUR[:1], status="failed", ran=(80, 81),
                     error="skipped: the circuit breaker for writer-agent is open; last error: 503")
    verdict = judge([later], [], [killed], grace=10, ambiguous_ids=[])
    assert verdict.explained_by == {0: "kill -9 writer-agent"} and verdict.violations == []
