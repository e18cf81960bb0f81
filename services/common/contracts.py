"""JSON contracts between Baton services. Each is documented in docs/contracts.md so an
agent can be rewritten in another language without touching the others."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from .faults import Fault
from .inputs import UNPADDED, Identifier, Unicode, encodable_text, no_surrounding_blanks

TaskStatus = Literal["pending", "in_progress", "awaiting_approval", "completed", "failed", "cancelled", "rejected",
                     "budget_exceeded"]
TERMINAL_STATUSES = ("completed", "failed", "cancelled", "rejected", "budget_exceeded")
# A verdict the voters may choose: matched as sent, so it may not start or end with a blank.
Label = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=UNPADDED),
                  BeforeValidator(no_surrounding_blanks), AfterValidator(encodable_text)]


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def seconds_between(start: str, end: str) -> float | None:
    """Seconds from one utc_now() timestamp to another (None if either is unreadable)."""
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus(self, other: "Usage") -> "Usage":
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            estimated_cost_usd=round(self.estimated_cost_usd + other.estimated_cost_usd, 6),
        )


class AgentRequest(BaseModel):
    """POST /run on any agent, through Dapr service invocation."""

    model_config = ConfigDict(extra="forbid")
    task_id: Identifier
    input: Unicode = Field(min_length=1, max_length=20_000)
    fault: Fault | None = None


ConsensusTask = Literal["moderation", "classification", "review"]


class VoteRequest(BaseModel):
    """POST /vote on a voter agent."""

    model_config = ConfigDict(extra="forbid")
    task_id: Identifier
    content: Unicode = Field(min_length=1, max_length=10_000)
    task: ConsensusTask
    labels: list[Label] = Field(min_length=2, max_length=10)
    fault: Fault | None = None
    # What is left of the task's token budget: the voter asks the model again only while some is.
    budget_tokens_left: int | None = Field(None, ge=1)

    @field_validator("labels")
    @classmethod
    def unique(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return labels


class Vote(BaseModel):
    """A voter's structured verdict, or its abstention (output that never parsed)."""

    agent: str
    label: str | None = None
    confidence: float | None = Field(None, ge=0, le=1)
    rationale: str = ""
    abstained: bool = False
    attempts: int = 1
    model: str = ""
    usage: Usage = Usage()
    call_id: str = ""  # the agent's id for this call (see AgentReply)


class AgentReply(BaseModel):
    agent: str
    role: str
    output: str
    model: str
    usage: Usage
    elapsed_seconds: float
    # Unique per call, made by the agent: a reply recorded twice (a retried bookkeeping write)
    # is one cost, a second call (a retried activity) another.
    call_id: str = ""


class StepRecord(BaseModel):
    name: str
    completed_at: str
    result: dict[str, Any]
    agent: str | None = None
    usage: Usage | None = None
    call_id: str | None = None  # the agent call that produced it

    @classmethod
    def of_reply(cls, name: str, reply: AgentReply) -> "StepRecord":
        return cls(name=name, completed_at=utc_now(), agent=reply.agent, usage=reply.usage,
                   call_id=reply.call_id or None,
                   result={"agent": reply.agent, "model": reply.model, "output": reply.output})


Verdict = Literal["approve", "reject"]


class Decision(BaseModel):
    """A decision on an approval gate: a person's (POST /task/{task_id}/approve or /reject),
    or the gate's own when nobody decided in time (`timed_out`, by "timeout")."""

    decision_id: str
    verdict: Verdict
    by: str  # who decided, as the caller says; the API key's name when unsaid
    api_key: str | None = None  # the key that sent it (None for a timeout)
    comment: str = ""
    decided_at: str = Field(default_factory=utc_now)
    timed_out: bool = False


class ApprovalGate(BaseModel):
    """Where a task stops for a person's decision, and what happens if none comes."""

    model_config = ConfigDict(extra="forbid")
    before: str
    timeout_seconds: int
    on_timeout: Verdict


class ApprovalState(ApprovalGate):
    """A task's gate as GET /task shows it: requested (with what is to be approved), then decided."""

    model_config = ConfigDict(extra="ignore")
    requested_at: str | None = None
    deadline: str | None = None
    subject: dict[str, Any] | None = None
    decision: Decision | None = None


class TaskDocument(BaseModel):
    """The task as stored in the state store and shown by GET /task/{task_id}."""

    task_id: str
    workflow: str
    status: TaskStatus = "pending"
    input: dict[str, Any]
    steps: list[StepRecord] = []
    result: dict[str, Any] | None = None
    error: str | None = None
    usage: dict[str, Usage] = {}  # by agent
    usage_by_model: dict[str, Usage] = {}
    # Tokens (prompt + completion) the task may use; agent calls that would start past it are
    # skipped (named in `budget_skipped`) and the task ends `budget_exceeded`.
    budget_tokens: int | None = None
    budget_skipped: list[str] = []
    # Hierarchical tasks: master -> managers -> workers, each node with its status and result.
    tree: dict[str, Any] | None = None
    # A person's decision the task waits for, or waited for (see services/common/approvals.py).
    approval: ApprovalState | None = None
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    # The task's trace (services/common/telemetry.py): its id, to find it in Zipkin or Application
    # Insights, and the request's span as W3C traceparent, the parent of the workflow's activities.
    trace_id: str | None = None
    traceparent: str | None = None
    # Numbered changes (services/common/revisions.py): the last one, and each part's.
    revision: int = 0
    changed: dict[str, int] = Field({}, exclude=True)


class CloudEvent(BaseModel):
    """The envelope Dapr delivers to subscribers (CloudEvents 1.0, JSON)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=200)
    type: str = Field("com.dapr.event.sent", max_length=200)
    source: str = Field("", max_length=200)
    topic: str = Field("", max_length=200)
    data: Any = None


class DataReceived(BaseModel):
    """Topic `data-received` (CloudEvent type DataReceived): data a collector took in."""

    source: str = Field(min_length=1, max_length=200)
    payload: Any
    correlation_id: str | None = Field(None, min_length=1, max_length=100)


class AnalysisComplete(BaseModel):
    """Topic `analysis-complete` (CloudEvent type AnalysisComplete): the analyser's verdict."""

    correlation_id: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=200)
    analysis: str = Field(max_length=20_000)
    data_event_id: str = Field(min_length=1, max_length=200)
