"""Every Baton app, defined once: app id, port, the module it runs, and for agents their
role and the parts they play in each pattern.

dapr.yaml and the resiliency targets in components/resiliency.yaml are generated from this
list (`make config`; a unit test fails when they drift), the orchestrator resolves each
pattern's agents here when a task starts, and bench, tests and the Azure deployment read
it too. Adding an agent is one entry here plus its role's instructions in
services/agent/roles.py (see the README, "Adding an agent")."""

from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict

Pattern = Literal["sequential", "parallel", "hierarchical", "consensus"]
AGENT_MODULE = "services.agent"
DEAD_LETTER_TOPIC = "dead-letters"


@dataclass(frozen=True)
class Part:
    """One part an agent plays in a pattern: `name` is the pattern's own word for it
    (a pipeline step, the lesson's source name `web`, a voter's stance)."""

    pattern: Pattern
    name: str


@dataclass(frozen=True)
class App:
    app_id: str
    port: int
    module: str = AGENT_MODULE
    role: str | None = None  # agents only: BATON_AGENT_ROLE, a key of services/agent/roles.py ROLES
    parts: tuple[Part, ...] = ()
    # Extra environment, e.g. a voter's own model: {"BATON_MODEL_BASE_URL": ..., "BATON_MODEL_NAME": ...}
    env: dict[str, str] = field(default_factory=dict)
    # Sidecar API ports (HTTP, gRPC) clients know by heart (the orchestrator's); others by offset.
    api_ports: tuple[int, int] | None = None
    # Pub/sub topics this app subscribes to (each subscription dead-letters to DEAD_LETTER_TOPIC).
    topics: tuple[str, ...] = ()

    @property
    def is_agent(self) -> bool:
        return self.role is not None

    @property
    def sidecar_ports(self) -> "SidecarPorts":
        """Every port of the app's daprd, fixed and below Linux's ephemeral range (32768+):
        ports the Dapr CLI picks at random can be taken by any outgoing connection before
        daprd binds them, which left a sidecar unable to start."""
        http, grpc = self.api_ports or (self.port + 20_000, self.port + 21_000)
        return SidecarPorts(http=http, grpc=grpc, internal_grpc=self.port + 22_000, metrics=self.port + 23_000)

    @property
    def metrics_port(self) -> int:
        """The app's own Prometheus endpoint (its sidecar's is sidecar_ports.metrics)."""
        return self.port + 24_000


@dataclass(frozen=True)
class SidecarPorts:
    http: int
    grpc: int
    internal_grpc: int
    metrics: int


def agent(app_id: str, port: int, role: str, *parts: Part, **env: str) -> App:
    return App(app_id=app_id, port=port, role=role, parts=parts, env=env)


APPS: tuple[App, ...] = (
    App("orchestrator", 8080, module="services.orchestrator", api_ports=(3500, 3501),
        topics=("content-published", DEAD_LETTER_TOPIC)),
    # Sequential pipeline (the writer and editor also serve the hierarchical content manager).
    agent("research-agent", 8101, "research", Part("sequential", "research")),
    agent("writer-agent", 8102, "writer", Part("sequential", "write"), Part("hierarchical", "write")),
    agent("editor-agent", 8103, "editor", Part("sequential", "edit"), Part("hierarchical", "edit")),
    # Parallel research: part names are the lesson's source names.
    agent("web-researcher", 8111, "web", Part("parallel", "web")),
    agent("academic-researcher", 8112, "academic", Part("parallel", "academic")),
    agent("news-researcher", 8113, "news", Part("parallel", "news")),
    agent("social-researcher", 8114, "social", Part("parallel", "social")),
    # Consensus voters (each may name its own model endpoint in its env).
    agent("voter-strict", 8121, "voter-strict", Part("consensus", "strict")),
    agent("voter-lenient", 8122, "voter-lenient", Part("consensus", "lenient")),
    agent("voter-balanced", 8123, "voter-balanced", Part("consensus", "balanced")),
    # Hierarchical: the research manager's workers.
    agent("web-scraper", 8141, "scraper", Part("hierarchical", "research")),
    agent("paper-analyser", 8142, "paper-analyst", Part("hierarchical", "research")),
    # Event-driven subscribers.
    App("analyser", 8131, module="services.analyser", topics=("data-received",)),
    App("notifier", 8132, module="services.notifier", topics=("data-received", "analysis-complete")),
    App("archiver", 8133, module="services.archiver", topics=("data-received",)),
)

# A second orchestrator replica on the same machine (dapr.replica.yaml, `make replica`): the
# same app id, so Dapr spreads workflows and activities over both and either one serves the
# API; its own app and sidecar ports.
ORCHESTRATOR_REPLICA: App = replace(APPS[0], port=8090, api_ports=(3510, 3511))


class Member(BaseModel):
    """An agent as a running workflow knows it: the part it plays and its app id. Workflows
    get their members in their input, resolved when the task starts, so a registry change
    never alters a running instance's replay."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    part: str
    app_id: str


class Registry:
    def __init__(self, apps: tuple[App, ...]):
        ids = [a.app_id for a in apps]
        ports = [p for a in apps for p in (a.port, a.metrics_port, *vars(a.sidecar_ports).values())]
        if len(set(ids)) != len(ids) or len(set(ports)) != len(ports):
            raise ValueError("app ids and ports must be unique in the registry")
        self.apps = apps

    @property
    def agents(self) -> list[App]:
        return [a for a in self.apps if a.is_agent]

    def app(self, app_id: str) -> App:
        for a in self.apps:
            if a.app_id == app_id:
                return a
        raise KeyError(app_id)

    def members(self, pattern: Pattern, part: str | None = None) -> list[Member]:
        """The agents playing `part` (or any part) in `pattern`, in registry order."""
        return [Member(part=p.name, app_id=a.app_id) for a in self.agents for p in a.parts
                if p.pattern == pattern and (part is None or p.name == part)]

    def member(self, pattern: Pattern, part: str) -> str:
        """The app id of the one agent playing `part` in `pattern`."""
        found = self.members(pattern, part)
        if len(found) != 1:
            raise LookupError(f"{pattern}/{part}: expected exactly one agent, found {len(found)}")
        return found[0].app_id


REGISTRY = Registry(APPS)
