"""Baton's metrics, recorded through the OpenTelemetry metrics API: the code that counts
knows nothing of where the numbers go. services/common/telemetry.py installs the
MeterProvider (a PrometheusMetricReader locally, Azure Monitor in Azure); until it does,
every call here is a cheap no-op, so unit tests and tools need no setup.

A Prometheus scrape (PrometheusMetricReader, prometheus_client 0.26) shows them as:

    baton_tasks_started_total{pattern}
    baton_tasks_ended_total{pattern, status}
    baton_task_duration_seconds_{bucket,sum,count}{pattern, status}
    baton_agent_call_duration_seconds_{bucket,sum,count}{agent, operation, outcome}
    baton_agent_call_errors_total{agent, operation, error_type}
    baton_model_tokens_total{agent, model, type}
    baton_model_cost_usd_total{agent, model}
    gen_ai_client_token_usage_{bucket,sum,count}{gen_ai_operation_name, gen_ai_provider_name,
        gen_ai_request_model, gen_ai_response_model, gen_ai_token_type}
    gen_ai_client_operation_duration_seconds_{bucket,sum,count}{gen_ai_operation_name,
        gen_ai_provider_name, gen_ai_request_model, gen_ai_response_model}
    baton_dead_letters_total{topic, subscriber}
    baton_breaker_state{agent, state}   1 for the agent's current state, 0 for the other two

gen_ai_provider_name and gen_ai_request_model appear when the caller gives them (a series
without them shows ""). Dots become underscores, counters end in `_total`, a unit of "s"
appends `_seconds`, and a unit in braces ({token}, {USD}) appends nothing, so the cost
counter says its currency in its name. Every series also carries otel_scope_name="baton",
otel_scope_version and otel_scope_schema_url, and the scrape has a target_info series with
the resource's attributes (service.name and so on)."""

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics as otel_metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

log = logging.getLogger(__name__)

BREAKER_STATES = ("closed", "open", "half_open")

# Bucket boundaries are floats, so Prometheus shows le="1.0" as its own clients do, not le="1".
# Tasks run from a tenth of a second (a rejected or instant one) to an hour (a deadline).
TASK_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
# An agent call: milliseconds for a refusal, minutes for a slow model (the call timeout is 180 s).
# The SDK's default boundaries (0, 5, 10, ... 10000) suit milliseconds, not seconds.
AGENT_CALL_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 180.0, 300.0)

# The GenAI client metrics and their advised boundaries, from the OpenTelemetry semantic
# conventions (Development status): docs/gen-ai/gen-ai-metrics.md in
# github.com/open-telemetry/semantic-conventions-genai, also
# opentelemetry.semconv._incubating.metrics.gen_ai_metrics (0.66b1). Required attributes:
# gen_ai.operation.name and gen_ai.provider.name (it replaced gen_ai.system after v1.36),
# gen_ai.token.type for token usage; gen_ai.request.model when known; gen_ai.response.model
# recommended. Names and values below are the conventions' own strings.
GEN_AI_TOKEN_BUCKETS = (1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
                        4194304.0, 16777216.0, 67108864.0)
GEN_AI_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"


class Metrics:
    """Every instrument Baton records, created once from `meter`. Label values are plain
    strings the caller chose from a short list (never request text: each distinct value is
    a new series)."""

    def __init__(self, meter: Meter):
        self._meter = meter
        self._tasks_started = meter.create_counter("baton.tasks.started", description="Tasks started.")
        self._tasks_ended = meter.create_counter(
            "baton.tasks.ended", description="Tasks that reached an end state, by status.")
        self._task_duration = meter.create_histogram(
            "baton.task.duration", unit="s", description="Time from a task's start to its end state.",
            explicit_bucket_boundaries_advisory=TASK_SECONDS)
        self._agent_call_duration = meter.create_histogram(
            "baton.agent.call.duration", unit="s", description="Agent calls from the orchestrator, by outcome.",
            explicit_bucket_boundaries_advisory=AGENT_CALL_SECONDS)
        self._agent_call_errors = meter.create_counter(
            "baton.agent.call.errors", description="Failed agent calls, by kind of error.")
        self._model_tokens = meter.create_counter(
            "baton.model.tokens", unit="{token}", description="Model tokens used, input and output.")
        self._model_cost = meter.create_counter(
            "baton.model.cost.usd", unit="{USD}", description="Estimated model cost in USD (prices.py).")
        self._gen_ai_tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=GEN_AI_TOKEN_BUCKETS)
        self._gen_ai_duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=GEN_AI_SECONDS)
        self._dead_letters = meter.create_counter(
            "baton.dead_letters", description="Events that reached a dead-letter topic.")
        self._breaker_lock = threading.Lock()
        self._read_breakers: Callable[[], Mapping[str, str]] | None = None

    def task_started(self, pattern: str) -> None:
        self._tasks_started.add(1, {"pattern": pattern})

    def task_ended(self, pattern: str, status: str, duration_seconds: float | None) -> None:
        """`status` is the task's end state (completed, failed, cancelled, rejected,
        budget_exceeded, ...); the duration is left out when the start is unknown."""
        labels = {"pattern": pattern, "status": status}
        self._tasks_ended.add(1, labels)
        if duration_seconds is not None:
            self._task_duration.record(duration_seconds, labels)

    def agent_call(self, agent: str, operation: str, duration_seconds: float, error: str | None) -> None:
        """`error` is a short kind the caller picks ("timeout", "5xx", "4xx", "breaker_open",
        "unreachable"), or None for a call that succeeded."""
        self._agent_call_duration.record(
            duration_seconds, {"agent": agent, "operation": operation, "outcome": "ok" if error is None else "error"})
        if error is not None:
            self._agent_call_errors.add(1, {"agent": agent, "operation": operation, "error_type": error})

    def model_call(self, agent: str, model: str, input_tokens: int, output_tokens: int, cost_usd: float | None,
                   duration_seconds: float, *, provider: str | None = None,
                   request_model: str | None = None) -> None:
        """One model call that answered. `model` is the model that answered (the response's
        name); `request_model` the one asked for and `provider` the GenAI provider name
        ("openai", "azure.ai.openai"), both added to the GenAI metrics when given."""
        self._model_tokens.add(input_tokens, {"agent": agent, "model": model, "type": "input"})
        self._model_tokens.add(output_tokens, {"agent": agent, "model": model, "type": "output"})
        if cost_usd is not None:
            self._model_cost.add(cost_usd, {"agent": agent, "model": model})
        gen_ai = {GEN_AI_OPERATION_NAME: "chat", GEN_AI_RESPONSE_MODEL: model}
        if provider is not None:
            gen_ai[GEN_AI_PROVIDER_NAME] = provider
        if request_model is not None:
            gen_ai[GEN_AI_REQUEST_MODEL] = request_model
        self._gen_ai_tokens.record(input_tokens, {**gen_ai, GEN_AI_TOKEN_TYPE: "input"})
        self._gen_ai_tokens.record(output_tokens, {**gen_ai, GEN_AI_TOKEN_TYPE: "output"})
        self._gen_ai_duration.record(duration_seconds, gen_ai)

    def dead_letter(self, topic: str, subscriber: str) -> None:
        self._dead_letters.add(1, {"topic": topic, "subscriber": subscriber})

    def observe_breakers(self, read: Callable[[], Mapping[str, str]]) -> None:
        """Report every agent's breaker state at each collection, as a state set: 1 for the
        state `read()` gives (agent app id → "closed", "open" or "half_open"), 0 for the other
        two. A later call replaces `read`; there is only ever one gauge."""
        with self._breaker_lock:
            first = self._read_breakers is None
            self._read_breakers = read
        if first:
            self._meter.create_observable_gauge(
                "baton.breaker.state", callbacks=[self._observe_breakers],
                description="Circuit breaker state per agent: 1 for the current state, 0 for the others.")

    def _observe_breakers(self, options: CallbackOptions) -> Iterable[Observation]:
        read = self._read_breakers
        if read is None:
            return []
        try:
            states = dict(read())
        except Exception as err:  # a failed read must not fail the scrape of every other metric
            log.warning("breaker states unavailable for metrics: %s: %s", type(err).__name__, err)
            return []
        return [Observation(int(current == state), {"agent": agent, "state": state})
                for agent, current in states.items() for state in BREAKER_STATES]


@cache
def metrics() -> Metrics:
    """The process's Metrics, on the global meter: instruments made before telemetry.py sets
    the MeterProvider forward to it once it does."""
    return Metrics(otel_metrics.get_meter("baton"))


def prometheus_reader(registry: CollectorRegistry = REGISTRY) -> PrometheusMetricReader:
    """The reader telemetry.py puts into its MeterProvider. It registers itself with
    `registry` (prometheus_client's global one by default, which serve_prometheus serves) and
    collects from the provider at every scrape; its shutdown() unregisters it."""
    return PrometheusMetricReader(registry=registry)


@dataclass
class PrometheusServer:
    port: int  # the bound port (useful when asked for port 0)
    _stop: Callable[[], None]

    def stop(self) -> None:
        self._stop()


def serve_prometheus(port: int, host: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY) -> PrometheusServer:
    """Serve `registry` on http://host:port/metrics from a daemon thread. Loopback by default:
    the metrics port is never the app's own, which the orchestrator opens to the internet."""
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return PrometheusServer(port=server.server_port, _stop=stop)
