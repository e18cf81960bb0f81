"""Baton's metrics: each call changes exactly the data points it should, by the amount it
should (an SDK MeterProvider with an in-memory reader), and a real Prometheus scrape shows
the names services/common/metrics.py documents."""

import logging
import re
import urllib.request

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.common import metrics as metrics_module
from services.common.metrics import (
    AGENT_CALL_SECONDS,
    GEN_AI_SECONDS,
    GEN_AI_TOKEN_BUCKETS,
    TASK_SECONDS,
    Metrics,
    metrics,
    prometheus_reader,
    serve_prometheus,
)

Key = tuple[str, frozenset[tuple[str, str]]]


@pytest.fixture
def env():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield Metrics(provider.get_meter("baton")), reader
    provider.shutdown()


def points(reader: InMemoryMetricReader) -> dict[Key, HistogramDataPoint | NumberDataPoint]:
    data = reader.get_metrics_data()
    found = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    found[metric.name, frozenset(point.attributes.items())] = point
    return found


def values(reader: InMemoryMetricReader) -> dict[Key, float | tuple[int, float]]:
    """Counters as their value, histograms as (count, sum)."""
    return {key: (p.count, p.sum) if isinstance(p, HistogramDataPoint) else p.value
            for key, p in points(reader).items()}


def changes(env, action) -> list[tuple[str, dict[str, str], float | tuple[int, float]]]:
    """What `action` changed: (name, attributes, increase), histograms as (count, sum)."""
    _, reader = env
    before = values(reader)
    action()
    found = []
    for (name, labels), after in values(reader).items():
        was = before.get((name, labels))
        if after == was:
            continue
        if isinstance(after, tuple):
            was = was or (0, 0.0)
            change = (after[0] - was[0], round(after[1] - was[1], 9))
        else:
            change = round(after - (was or 0), 9)
        found.append((name, dict(labels), change))
    return found


def same(found, *expected) -> bool:
    """`found` holds exactly the expected (name, labels, change) triples."""
    def key(triple):
        return triple[0], sorted(triple[1].items())

    return sorted(found, key=key) == sorted(expected, key=key)


def test_a_started_task_counts_once_under_its_pattern(env):
    m, _ = env
    m.task_started("parallel")  # earlier activity: the changes below are on top of it
    assert same(changes(env, lambda: m.task_started("sequential")),
                ("baton.tasks.started", {"pattern": "sequential"}, 1))


def test_an_ended_task_counts_by_status_and_records_its_duration_when_known(env):
    m, reader = env
    labels = {"pattern": "consensus", "status": "budget_exceeded"}
    assert same(changes(env, lambda: m.task_ended("consensus", "budget_exceeded", 42.5)),
                ("baton.tasks.ended", labels, 1), ("baton.task.duration", labels, (1, 42.5)))
    assert same(changes(env, lambda: m.task_ended("consensus", "budget_exceeded", None)),
                ("baton.tasks.ended", labels, 1))
    point = points(reader)["baton.task.duration", frozenset(labels.items())]
    assert point.explicit_bounds == TASK_SECONDS and TASK_SECONDS[0] == 0.1 and TASK_SECONDS[-1] == 3600


def test_an_agent_call_records_its_duration_by_outcome_and_counts_errors_by_kind(env):
    m, reader = env
    call = {"agent": "writer-agent", "operation": "run"}
    assert same(changes(env, lambda: m.agent_call("writer-agent", "run", 1.25, None)),
                ("baton.agent.call.duration", {**call, "outcome": "ok"}, (1, 1.25)))
    assert same(changes(env, lambda: m.agent_call("writer-agent", "run", 0.002, "breaker_open")),
                ("baton.agent.call.duration", {**call, "outcome": "error"}, (1, 0.002)),
                ("baton.agent.call.errors", {**call, "error_type": "breaker_open"}, 1))
    point = points(reader)["baton.agent.call.duration", frozenset({**call, "outcome": "ok"}.items())]
    assert point.explicit_bounds == AGENT_CALL_SECONDS


def test_a_model_call_counts_tokens_and_cost_and_records_the_gen_ai_histograms(env):
    m, reader = env
    who = {"agent": "research-agent", "model": "gpt-4o-mini-2024-07-18"}
    gen_ai = {"gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}
    assert same(changes(env, lambda: m.model_call("research-agent", "gpt-4o-mini-2024-07-18", 120, 30, 0.0025, 2.5)),
                ("baton.model.tokens", {**who, "type": "input"}, 120),
                ("baton.model.tokens", {**who, "type": "output"}, 30),
                ("baton.model.cost.usd", who, 0.0025),
                ("gen_ai.client.token.usage", {**gen_ai, "gen_ai.token.type": "input"}, (1, 120)),
                ("gen_ai.client.token.usage", {**gen_ai, "gen_ai.token.type": "output"}, (1, 30)),
                ("gen_ai.client.operation.duration", gen_ai, (1, 2.5)))
    found = points(reader)
    assert found["gen_ai.client.token.usage", frozenset({**gen_ai, "gen_ai.token.type": "input"}.items())
                 ].explicit_bounds == GEN_AI_TOKEN_BUCKETS
    assert found["gen_ai.client.operation.duration", frozenset(gen_ai.items())].explicit_bounds == GEN_AI_SECONDS


def test_a_model_call_without_a_cost_counts_none_and_provider_and_request_model_label_gen_ai_only(env):
    m, _ = env
    who = {"agent": "voter-1", "model": "smollm2"}
    gen_ai = {"gen_ai.operation.name": "chat", "gen_ai.response.model": "smollm2",
              "gen_ai.provider.name": "openai", "gen_ai.request.model": "smollm2-135m-instruct"}
    found = changes(env, lambda: m.model_call("voter-1", "smollm2", 7, 0, None, 0.5, provider="openai",
                                              request_model="smollm2-135m-instruct"))
    assert same(found,
                ("baton.model.tokens", {**who, "type": "input"}, 7),
                ("baton.model.tokens", {**who, "type": "output"}, 0),  # a new series, at 0
                ("gen_ai.client.token.usage", {**gen_ai, "gen_ai.token.type": "input"}, (1, 7)),
                ("gen_ai.client.token.usage", {**gen_ai, "gen_ai.token.type": "output"}, (1, 0)),
                ("gen_ai.client.operation.duration", gen_ai, (1, 0.5)))


def test_a_dead_letter_counts_by_topic_and_subscriber(env):
    m, _ = env
    assert same(changes(env, lambda: m.dead_letter("data-received", "analyser")),
                ("baton.dead_letters", {"topic": "data-received", "subscriber": "analyser"}, 1))


def breaker_points(reader) -> dict[tuple[str, str], float]:
    return {(dict(labels)["agent"], dict(labels)["state"]): p.value
            for (name, labels), p in points(reader).items() if name == "baton.breaker.state"}


def test_the_breaker_gauge_reports_each_agents_state_as_a_state_set(env):
    m, reader = env
    m.observe_breakers(lambda: {"writer-agent": "open", "editor-agent": "half_open"})
    assert breaker_points(reader) == {
        ("writer-agent", "closed"): 0, ("writer-agent", "open"): 1, ("writer-agent", "half_open"): 0,
        ("editor-agent", "closed"): 0, ("editor-agent", "open"): 0, ("editor-agent", "half_open"): 1}


def test_observing_again_replaces_the_reader_and_keeps_one_gauge(env):
    m, reader = env
    m.observe_breakers(lambda: {"writer-agent": "open"})
    m.observe_breakers(lambda: {"writer-agent": "closed"})
    assert breaker_points(reader) == {
        ("writer-agent", "closed"): 1, ("writer-agent", "open"): 0, ("writer-agent", "half_open"): 0}
    data = reader.get_metrics_data()
    names = [metric.name for rm in data.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics]
    assert names.count("baton.breaker.state") == 1


def test_a_breaker_reader_that_raises_reports_nothing_and_the_rest_is_still_collected(env, caplog):
    m, reader = env

    def broken():
        raise ConnectionError("state store down")

    m.observe_breakers(broken)
    m.task_started("sequential")
    with caplog.at_level(logging.WARNING, logger="services.common.metrics"):
        found = points(reader)
    assert breaker_points(reader) == {}
    assert ("baton.tasks.started", frozenset({"pattern": "sequential"}.items())) in found
    assert "breaker states unavailable for metrics: ConnectionError: state store down" in caplog.text


def test_the_process_metrics_are_built_once_on_the_global_meter():
    assert metrics() is metrics()
    metrics().task_started("sequential")  # no MeterProvider set in unit tests: a no-op, never an error


def documented_sample_names() -> set[str]:
    """The series names the module docstring lists, histograms expanded to their three."""
    names = set()
    for match in re.finditer(r"^    ([a-zA-Z_:]+?)(_\{bucket,sum,count\})?\{", metrics_module.__doc__, re.M):
        name, histogram = match.groups()
        names |= {f"{name}_{part}" for part in ("bucket", "sum", "count")} if histogram else {name}
    return names


@pytest.fixture
def scraped():
    """A real PrometheusMetricReader on its own registry (never prometheus_client's global one)."""
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[prometheus_reader(registry)])
    m = Metrics(provider.get_meter("baton"))
    m.task_started("sequential")
    m.task_ended("sequential", "completed", 3.5)
    m.agent_call("writer-agent", "run", 0.4, "timeout")
    m.model_call("writer-agent", "gpt-4o", 10, 20, 0.001, 1.5, provider="openai", request_model="gpt-4o")
    m.dead_letter("data-received", "analyser")
    m.observe_breakers(lambda: {"writer-agent": "open"})
    yield registry
    provider.shutdown()


def test_a_prometheus_scrape_shows_exactly_the_documented_names(scraped):
    text = generate_latest(scraped).decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert {s.name for s in samples} - {"target_info"} == documented_sample_names()
    by_name = {(s.name, s.labels.get("state", "")): s for s in samples}
    assert by_name["baton_tasks_started_total", ""].labels["pattern"] == "sequential"
    assert by_name["baton_task_duration_seconds_sum", ""].value == 3.5
    assert by_name["baton_agent_call_errors_total", ""].labels["error_type"] == "timeout"
    assert by_name["baton_model_cost_usd_total", ""].value == 0.001
    assert by_name["gen_ai_client_token_usage_count", ""].labels["gen_ai_provider_name"] == "openai"
    assert by_name["baton_breaker_state", "open"].value == 1 and by_name["baton_breaker_state", "closed"].value == 0
    assert by_name["baton_dead_letters_total", ""].labels["otel_scope_name"] == "baton"
    # The task histogram's buckets are the advised ones, not the SDK's millisecond defaults.
    les = [s.labels["le"] for s in samples if s.name == "baton_task_duration_seconds_bucket"]
    assert les == [str(float(b)) for b in TASK_SECONDS] + ["+Inf"]


def test_serve_prometheus_serves_the_registry_on_loopback_until_stopped(scraped):
    server = serve_prometheus(0, registry=scraped)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as reply:
            body = reply.read().decode()
    finally:
        server.stop()
    assert 'baton_tasks_started_total{otel_scope_name="baton"' in body
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)
