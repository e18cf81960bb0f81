"""Request bodies of the public API: every input validated and bounded, every error says
what to fix, and every rule stated in the OpenAPI (services/orchestrator/schemas.py). Strict:
a number or a boolean sent as a string is refused, as the schema says. Each turns into its
workflow's input with `to_input`, which adds the agents the registry names for the pattern at
this moment (a running task keeps the team it started with). User text only ever reaches a
model as the user's message, never as its instructions."""

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator, model_validator

from services.common.contracts import ConsensusTask, Label, Verdict
from services.common.faults import Fault
from services.common.inputs import Text, not_text
from services.common.registry import REGISTRY, Member, Pattern
from services.common.tasklist import shorten
from workflows import consensus, hierarchical, parallel, sequential
from workflows.consensus import DEFAULT_LABELS
from workflows.contracts import ConsensusInput, HierarchicalInput, ParallelInput, PatternInput, SequentialInput

from .schemas import bound_quorum, name_items, name_keys, refuse_unknown

AppId = Annotated[str, Field(max_length=60)]
# JSON Schema's integers include 3.0: taken as 3, as the schema says (3.5 and "3" are refused).
Quorum = Annotated[int, Strict(False), Field(ge=1), BeforeValidator(not_text)]
WholeNumber = Annotated[int, Strict(False), BeforeValidator(not_text)]
BudgetTokens = Annotated[int, Strict(False), Field(ge=1, le=100_000_000), BeforeValidator(not_text)]
FAULTS_HELP = "Test/demo knob, by agent app id; needs BATON_ALLOW_FAULT_INJECTION=true"
MAX_APPROVAL_WAIT_SECONDS = 30 * 24 * 3600
APPROVAL_HELP = ("Stop the task before `before` until someone calls POST /task/{task_id}/approve or /reject; "
                 "after `timeout_seconds` the gate decides `on_timeout` itself")


class ApprovalRequest(BaseModel):
    """A human approval gate: where the task waits, how long, and what then."""

    model_config = ConfigDict(extra="forbid", strict=True)
    before: str
    timeout_seconds: WholeNumber = Field(86_400, ge=1, le=MAX_APPROVAL_WAIT_SECONDS,
                                          description="How long to wait for a decision (durably: restarts do not "
                                                      "reset it)")
    on_timeout: Verdict = Field("reject", description="The decision if nobody decides in time")


class ContentApproval(ApprovalRequest):
    before: sequential.Gate = Field("publish", description="The step to wait before")


class ResearchApproval(ApprovalRequest):
    before: parallel.Gate = Field("result", description="Wait before the combined result is final")


class ConsensusApproval(ApprovalRequest):
    before: consensus.Gate = Field("result", description="Wait before the tally is final")


class DelegateApproval(ApprovalRequest):
    before: hierarchical.Gate = Field("content", description="Wait before the content manager starts")


def app_ids(pattern: Pattern) -> list[str]:
    return [m.app_id for m in REGISTRY.members(pattern)]


def pattern_schema(schema: dict[str, Any], model: type[Any]) -> None:
    name_keys(schema, "faults", app_ids(model.pattern))


def consensus_schema(schema: dict[str, Any], model: type[Any]) -> None:
    pattern_schema(schema, model)
    voters = app_ids("consensus")
    name_items(schema, "voters", voters)
    bound_quorum(schema, len(voters))


class PatternRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=pattern_schema)
    pattern: ClassVar[Pattern]
    faults: dict[AppId, Fault] | None = Field(None, max_length=20, description=FAULTS_HELP)
    budget_tokens: BudgetTokens | None = Field(None, description=(
        "Token budget (prompt + completion, every agent together; default BATON_DEFAULT_BUDGET_TOKENS, off "
        "unless set): no agent call starts once it is used up, and the task ends `budget_exceeded`"))

    @model_validator(mode="after")
    def faults_name_known_agents(self) -> "PatternRequest":
        refuse_unknown(self.faults or {}, app_ids(self.pattern), "faults")
        return self

    def team(self) -> list[Member]:
        return REGISTRY.members(self.pattern)

    def input_fields(self) -> dict[str, Any]:
        """The workflow's input. The budget is not part of it: it lives in the task document,
        which every agent call reads."""
        return {**self.model_dump(exclude_none=True, exclude={"budget_tokens"}), "team": self.team(),
                "faults": self.faults or {}}

    def to_input(self) -> PatternInput:
        raise NotImplementedError

    def summary(self) -> str:
        """What the task list (GET /tasks) shows of the request: its subject, shortened."""
        raise NotImplementedError


class ContentRequest(PatternRequest):
    pattern: ClassVar[Pattern] = "sequential"
    topic: Text = Field(max_length=500, description="What the article is about")
    approval: ContentApproval | None = Field(None, description=APPROVAL_HELP)

    def to_input(self) -> SequentialInput:
        return SequentialInput(**self.input_fields())

    def summary(self) -> str:
        return shorten(self.topic)


class ResearchRequest(PatternRequest):
    pattern: ClassVar[Pattern] = "parallel"
    query: Text = Field(max_length=500, description="What to research")
    deadline_seconds: float = Field(30, gt=0, le=600, description="Stop waiting after this long")
    approval: ResearchApproval | None = Field(None, description=APPROVAL_HELP)

    def to_input(self) -> ParallelInput:
        return ParallelInput(**self.input_fields())

    def summary(self) -> str:
        return shorten(self.query)


class ConsensusRequest(PatternRequest):
    model_config = ConfigDict(json_schema_extra=consensus_schema)
    pattern: ClassVar[Pattern] = "consensus"
    content: Text = Field(max_length=10_000, description="What the voters judge")
    task: ConsensusTask = Field(description="moderation, classification or review")
    labels: list[Label] | None = Field(None, min_length=2, max_length=10, json_schema_extra={"uniqueItems": True},
                                       description="Allowed verdicts, each once; defaults depend on the task")
    voters: list[AppId] | None = Field(None, min_length=1, max_length=20,
                                       description=f"Subset of {app_ids('consensus')}")
    quorum: Quorum | None = Field(None, description="k of N votes needed, at most the voters asked; "
                                                     "default a majority")
    deadline_seconds: float = Field(60, gt=0, le=600)
    approval: ConsensusApproval | None = Field(None, description=APPROVAL_HELP)

    @field_validator("voters")
    @classmethod
    def known_voters(cls, voters: list[str] | None) -> list[str] | None:
        if voters is None:
            return None
        known = app_ids("consensus")
        if unknown := sorted(set(voters) - set(known)):
            raise ValueError(f"unknown voters {unknown}; known: {known}")
        if len(set(voters)) != len(voters):
            raise ValueError("voters must not repeat")
        return voters

    @model_validator(mode="after")
    def complete(self) -> "ConsensusRequest":
        if self.labels is None:
            self.labels = DEFAULT_LABELS[self.task]
        elif len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        n = len(self.team())
        if self.quorum is not None and self.quorum > n:
            raise ValueError(f"quorum {self.quorum} is more than the {n} voters asked")
        return self

    def team(self) -> list[Member]:
        return [m for m in super().team() if self.voters is None or m.app_id in self.voters]

    def to_input(self) -> ConsensusInput:
        fields = self.input_fields()
        fields.pop("voters", None)
        return ConsensusInput(**fields)

    def summary(self) -> str:
        return shorten(f"{self.task}: {self.content}")


class DelegateRequest(PatternRequest):
    pattern: ClassVar[Pattern] = "hierarchical"
    goal: Text = Field(max_length=500, description="The job to split among managers and workers")
    approval: DelegateApproval | None = Field(None, description=APPROVAL_HELP)

    def to_input(self) -> HierarchicalInput:
        return HierarchicalInput(**self.input_fields())

    def summary(self) -> str:
        return shorten(self.goal)
