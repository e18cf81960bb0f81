"""Traces and metrics of one Baton process, with OpenTelemetry.

One task is one trace. FastAPI makes a server span for every request (its own OpenTelemetry
support, from the incoming `traceparent`); httpx calls (the sidecar's service invocation, the
model) make client spans and carry `traceparent` on, so the sidecars and the called app join
the trace. Where Dapr carries no context, Baton does: workflow activities take their parent
from the traceparent the task document records (`activity_span`), and published CloudEvents
carry it in their `traceparent` attribute.

Spans go to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else to
the local Zipkin; metrics to Prometheus (services/common/metrics.py) and, in Azure, to
Application Insights as well. Spans and log records carry `task_id`, `agent` and `operation`:
the attributes the course lesson's Application Insights queries select on."""

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from .logs import ContextFilter, operation_var, task_id_var
from .metrics import prometheus_reader, serve_prometheus
from .settings import Settings

log = logging.getLogger(__name__)
TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
tracer = trace.get_tracer("baton")

# The process's app id, named on every span and log record as `agent` (set by setup_telemetry).
_service = {"name": "baton"}


class NoRootClientSpans(Sampler):
    """A client call made outside any trace (a health probe's state read, a poll) would start
    a trace of its own and bury the tasks' traces: such calls are not traced. Root spans of
    every other kind (a request from a client, an activity) are."""

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None, trace_state: Any = None) -> SamplingResult:
        decision = Decision.DROP if kind == SpanKind.CLIENT else Decision.RECORD_AND_SAMPLE
        return SamplingResult(decision, attributes)

    def get_description(self) -> str:
        return "NoRootClientSpans"


def setup_telemetry(settings: Settings) -> None:
    """Install this process's tracer and meter providers, instrument httpx and serve
    Prometheus metrics on 127.0.0.1:<metrics_port>. Once per process, before the app starts."""
    _service["name"] = settings.app_id
    resource = Resource.create({"service.name": settings.app_id, "service.namespace": "baton"})
    sampler = ParentBased(root=NoRootClientSpans())
    readers = [prometheus_reader()]
    connection = settings.applicationinsights_connection_string
    if connection is not None and settings.tracing:
        _azure_monitor(connection.get_secret_value(), resource, readers)
        where = "Application Insights"
    else:
        if settings.tracing:
            provider = TracerProvider(resource=resource, sampler=sampler)
            # Spans reach Zipkin about a second after they end (the default is 5 s).
            provider.add_span_processor(BatchSpanProcessor(ZipkinExporter(endpoint=settings.zipkin_endpoint),
                                                           schedule_delay_millis=1000))
            trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        where = f"Zipkin at {settings.zipkin_endpoint}" if settings.tracing else "nowhere (BATON_TRACING=off)"
    HTTPXClientInstrumentor().instrument()
    if settings.metrics_port is not None:
        serve_prometheus(settings.metrics_port)
    log.info("telemetry: spans to %s; Prometheus metrics on %s", where,
             f"127.0.0.1:{settings.metrics_port}/metrics" if settings.metrics_port else "no port")


# The Azure Monitor distro's instrumentations Baton leaves off: FastAPI traces itself (the
# distro's would trace every request twice), httpx is instrumented by setup_telemetry, and
# the rest instrument libraries Baton does not use.
UNUSED_INSTRUMENTATIONS = ("fastapi", "django", "flask", "psycopg2", "requests", "urllib", "urllib3")


def _azure_monitor(connection_string: str, resource: Resource, readers: list[Any]) -> None:
    """Spans, logs and metrics to Application Insights (the Azure Monitor OpenTelemetry
    distro), every trace kept (sampling_ratio 1: the distro's default keeps 5 per second)."""
    from azure.monitor.opentelemetry import configure_azure_monitor  # only in Azure

    configure_azure_monitor(connection_string=connection_string, resource=resource, metric_readers=readers,
                            sampling_ratio=1.0,
                            instrumentation_options={name: {"enabled": False} for name in UNUSED_INSTRUMENTATIONS})
    # The distro's log handler sends records to Application Insights (`traces`): it needs the
    # task id, agent and operation on them as much as the console's handler does.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter(_service["name"]))


def traceparent() -> str | None:
    """The W3C traceparent of the current span, to carry where no header goes (a task
    document, a CloudEvent)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def trace_id_of(parent: str | None) -> str | None:
    """The trace id (32 hex digits) in a traceparent `00-<trace id>-<span id>-<flags>`."""
    found = TRACEPARENT.fullmatch(parent or "")
    return found[1] if found else None


def _context_of(parent: str | None) -> Context | None:
    return propagate.extract({"traceparent": parent}) if parent else None


def for_task(task_id: str, operation: str) -> None:
    """Name the task and operation the current work is for: on every later log record of
    this context, and on the current span (a request's), if one is being recorded."""
    task_id_var.set(task_id)
    operation_var.set(operation)
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({"task_id": task_id, "agent": _service["name"], "operation": operation})


@contextmanager
def task_span(name: str, task_id: str, operation: str, *, parent: str | None = None,
              kind: SpanKind = SpanKind.INTERNAL, agent: str | None = None,
              attributes: Mapping[str, str | int | float] | None = None) -> Iterator[trace.Span]:
    """A span of work on a task, under `parent` (a traceparent) when given, else under the
    current span. An exception ends it with status ERROR and is recorded on it."""
    with tracer.start_as_current_span(name, context=_context_of(parent), kind=kind, attributes={
            "task_id": task_id, "agent": agent or _service["name"], "operation": operation,
            **(attributes or {})}) as span:
        tokens = task_id_var.set(task_id), operation_var.set(operation)
        try:
            yield span
        finally:
            task_id_var.reset(tokens[0])
            operation_var.reset(tokens[1])
