"""What crosses a workflow boundary: each workflow's input and result, each activity's
input. The Dapr SDK turns these models into JSON in the workflow history and back into
models at the activity and workflow inputs (by the parameter's annotation); results come
back as JSON objects, validated here by whoever reads them. Every model forbids unknown
fields, so a misspelt field fails where it is written, in tests as in production."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.common.contracts import ApprovalGate, ConsensusTask, Decision, TaskStatus, Usage, Vote
from services.common.faults import Fault
from services.common.registry import Member


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- workflow inputs: the request, plus the agents resolved from the registry at start ----

class PatternInput(Contract):
    team: list[Member] = Field(min_length=1)
    faults: dict[str, Fault] = {}  # by agent app id (fault injection; empty normally)
    approval: ApprovalGate | None = None  # where the task waits for a person's decision

    def app_for(self, part: str) -> str:
        return next(m.app_id for m in self.team if m.part == part)

    def fault_for(self, app_id: str) -> Fault | None:
        return self.faults.get(app_id)


class SequentialInput(PatternInput):
    topic: str  # team parts: research, write, edit


class ParallelInput(PatternInput):
    query: str  # team parts: the lesson's source names (web, academic, news, social)
    deadline_seconds: float


class ConsensusInput(PatternInput):
    content: str  # team parts: the voters' stances
    task: ConsensusTask
    labels: list[str]
    quorum: int | None = None
    deadline_seconds: float


class HierarchicalInput(PatternInput):
    goal: str  # team parts: research (the research manager's workers), write, edit


class ManagerInput(Contract):
    """A manager child workflow's input: the master's task id (its own instance id differs)."""

    task_id: str
    goal: str
    workers: list[Member]
    faults: dict[str, Fault] = {}
    notes: str = ""  # the content manager gets the research notes


# ---- workflow and manager results ----

class SequentialResult(Contract):
    topic: str
    final_article: str
    word_count: int


class Source(Contract):
    agent: str  # the lesson's name: web, academic, news, social
    app_id: str
    data: str


class FailedAgent(Contract):
    agent: str
    app_id: str
    error: str
    skipped: bool  # never made: its circuit breaker was open, or the task's token budget was used up


class ParallelResult(Contract):
    query: str
    sources: list[Source]
    summary: str
    completed_agents: int
    timed_out: bool
    failed_agents: list[FailedAgent]
    late_agents: list[str]
    deadline_seconds: float


class Abstention(Contract):
    agent: str
    reason: str


class TallyRule(Contract):
    mode: str  # majority or quorum
    quorum: int
    voters: int


class Tally(Contract):
    decision: str
    rule: TallyRule
    counts: dict[str, int]
    agreement: float
    votes: list[Vote]
    dissent: list[Vote]
    abstained: list[Abstention]


class ConsensusResult(Tally):
    task: ConsensusTask
    labels: list[str]
    timed_out: bool


class ResearchOutcome(Contract):
    notes: str
    partial: bool
    failed_workers: list[str]


class ContentOutcome(Contract):
    article: str
    partial: bool
    failed_workers: list[str]


class HierarchicalResult(Contract):
    goal: str
    article: str
    research_notes: str
    partial: bool
    failed_workers: list[str]


# ---- activity inputs ----

class AgentCall(Contract):
    """call_agent: one agent's POST /run. With `step` set, the activity records the reply
    as that step of the task (so a pipeline step costs one activity, not two)."""

    task_id: str
    app_id: str
    prompt: str
    fault: Fault | None = None
    step: str | None = None


class VoteCall(Contract):
    """cast_vote: one voter's POST /vote."""

    task_id: str
    app_id: str
    content: str
    task: ConsensusTask
    labels: list[str]
    fault: Fault | None = None


class StepNote(Contract):
    """record_step: a step the workflow itself records (a fan-out arrival or failure)."""

    task_id: str
    name: str
    result: dict[str, Any]
    agent: str | None = None
    usage: Usage | None = None
    call_id: str | None = None


class TreeNodeNote(Contract):
    """record_tree_node: merge fields into one node of a hierarchical task's tree."""

    task_id: str
    path: list[str]
    fields: dict[str, Any]
    agent: str | None = None
    usage: Usage | None = None
    call_id: str | None = None
    model: str | None = None  # the model that made the agent's reply, for usage per model


class StatusNote(Contract):
    """record_status: the task's lifecycle (in_progress, then completed or failed)."""

    task_id: str
    status: TaskStatus
    result: dict[str, Any] | None = None
    error: str | None = None


class Article(Contract):
    """publish_article: store the article and announce ContentPublished."""

    task_id: str
    topic: str
    text: str


class PublishedArticle(Contract):
    """publish_article's result, also the ContentPublished event's data."""

    task_id: str
    topic: str
    artifact: str
    word_count: int


class ApprovalNote(Contract):
    """request_approval: the task waits at its gate for a decision on `subject`."""

    task_id: str
    gate: ApprovalGate
    subject: dict[str, Any]
    requested_at: str
    deadline: str


class DecisionNote(Contract):
    """apply_decision: the decision the gate received (or its timeout's); the activity
    returns the one that stands."""

    task_id: str
    decision: Decision
