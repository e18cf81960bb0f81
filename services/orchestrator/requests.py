"""Request bodies of the public API: every input validated, every error says what to fix."""

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.common.contracts import ConsensusTask
from services.common.faults import Fault
from workflows.consensus import DEFAULT_LABELS, VOTERS
from workflows.hierarchical import CONTENT_WORKERS, RESEARCH_WORKERS
from workflows.parallel import RESEARCHERS
from workflows.sequential import AGENTS

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
FAULTS_HELP = "Test/demo knob, by agent app id; needs BATON_ALLOW_FAULT_INJECTION=true"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    faults: dict[str, Fault] | None = Field(None, description=FAULTS_HELP)
    allowed_agents: ClassVar[tuple[str, ...]] = ()  # the app ids a request may address

    @model_validator(mode="after")
    def faults_name_known_agents(self):
        unknown = set(self.faults or {}) - set(self.allowed_agents)
        if unknown:
            raise ValueError(f"faults name unknown agents {sorted(unknown)}; known: {sorted(self.allowed_agents)}")
        return self


class ContentRequest(_Request):
    topic: Text = Field(max_length=500, description="What the article is about")
    allowed_agents: ClassVar[tuple[str, ...]] = tuple(AGENTS.values())


class ResearchRequest(_Request):
    query: Text = Field(max_length=500, description="What to research")
    deadline_seconds: float = Field(30, gt=0, le=600, description="Stop waiting after this long")
    allowed_agents: ClassVar[tuple[str, ...]] = tuple(RESEARCHERS)


class ConsensusRequest(_Request):
    content: Text = Field(max_length=10_000, description="What the voters judge")
    task: ConsensusTask = Field(description="moderation, classification or review")
    labels: list[Label] | None = Field(None, min_length=2, max_length=10,
                                       description="Allowed verdicts; defaults depend on the task")
    voters: list[str] | None = Field(None, min_length=1, description=f"Subset of {VOTERS}")
    quorum: int | None = Field(None, ge=1, description="k of N votes needed; default a majority")
    deadline_seconds: float = Field(60, gt=0, le=600)
    allowed_agents: ClassVar[tuple[str, ...]] = tuple(VOTERS)

    @field_validator("voters")
    @classmethod
    def known_voters(cls, voters: list[str] | None) -> list[str] | None:
        if voters is None:
            return None
        if unknown := sorted(set(voters) - set(VOTERS)):
            raise ValueError(f"unknown voters {unknown}; known: {VOTERS}")
        if len(set(voters)) != len(voters):
            raise ValueError("voters must not repeat")
        return voters

    @model_validator(mode="after")
    def complete(self):
        if self.labels is None:
            self.labels = DEFAULT_LABELS[self.task]
        elif len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        n = len(self.voters or VOTERS)
        if self.quorum is not None and self.quorum > n:
            raise ValueError(f"quorum {self.quorum} is more than the {n} voters asked")
        return self


class DelegateRequest(_Request):
    goal: Text = Field(max_length=500, description="The job to split among managers and workers")
    allowed_agents: ClassVar[tuple[str, ...]] = tuple(RESEARCH_WORKERS + CONTENT_WORKERS)
