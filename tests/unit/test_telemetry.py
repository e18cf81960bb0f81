"""One task is one trace (services/common/telemetry.py): the sampler, the traceparent helpers,
task spans and their log context, workflow activities parented on the traceparent the task
document records, published and delivered CloudEvents carrying the trace, the task document's
trace fields and a task's end counted once. Spans go to an SDK tracer of the test's own (the
global tracer provider can be set once per process, and other tests rely on it being unset);
setup_telemetry itself runs only in a subprocess."""

import contextvars
import inspect
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from types import SimpleNamespace

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from services.common import sidecar, subscriber, telemetry
from services.common import tasks as tasks_module
from services.common.claims import ClaimStore
from services.common.contracts import CloudEvent, DataReceived
from services.common.events import EventLog
from services.common.logs import operation_var, task_id_var
from services.common.settings import Settings
from services.common.stores import build_stores
from services.common.tasks import TaskStore
from services.common.telemetry import NoRootClientSpans, for_task, task_span, trace_id_of, traceparent
from tests.unit.fakes import MemoryDocuments
from workflows import runtime_deps as deps
from workflows import tracing
from workflows.tracing import traced

REPO = Path(__file__).resolve().parents[2]
TRACE_ID, PARENT_SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
PARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"  # a request's span, as a task document records it


@pytest.fixture
def spans(monkeypatch):
    """telemetry's tracer replaced by one sampling as setup_telemetry's does, its spans kept in
    memory; `finished()` lists the ended spans, `tracer` starts spans of the test's own."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(root=NoRootClientSpans()))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("baton.test")
    monkeypatch.setattr(telemetry, "tracer", tracer)
    yield SimpleNamespace(tracer=tracer, finished=lambda: list(exporter.get_finished_spans()))
    provider.shutdown()


def only(found: list[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [s for s in found if s.name == name]
    return span


def ids(span: ReadableSpan | trace.Span) -> tuple[str, str]:
    context = span.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def w3c(span: ReadableSpan | trace.Span) -> str:
    context = span.get_span_context()
    return "00-{}-{}-{:02x}".format(*ids(span), context.trace_flags)


def parent_ids(span: ReadableSpan) -> tuple[str, str] | None:
    return (f"{span.parent.trace_id:032x}", f"{span.parent.span_id:016x}") if span.parent else None


def in_fresh_context(work: typing.Callable[[], typing.Any]) -> typing.Any:
    """Run `work` in a copy of the current context: context variables it sets stay there."""
    return contextvars.copy_context().run(work)


# The sampler

def test_the_sampler_drops_root_client_spans_keeps_other_roots_and_client_calls_inside_a_trace(spans):
    probe = spans.tracer.start_span("GET state", kind=SpanKind.CLIENT)
    assert not probe.is_recording() and not probe.get_span_context().trace_flags.sampled
    probe.end()
    with spans.tracer.start_as_current_span("POST /task", kind=SpanKind.SERVER) as request, \
            spans.tracer.start_as_current_span("POST agent/run", kind=SpanKind.CLIENT) as call:
        assert call.is_recording()
    with spans.tracer.start_as_current_span("activity call_agent", kind=SpanKind.INTERNAL) as activity:
        assert activity.is_recording()
    assert sorted(s.name for s in spans.finished()) == ["POST /task", "POST agent/run", "activity call_agent"]
    assert parent_ids(only(spans.finished(), "POST agent/run")) == ids(request)
    sampler = NoRootClientSpans()
    assert sampler.should_sample(None, 1, "x", SpanKind.CLIENT).decision == Decision.DROP
    assert all(sampler.should_sample(None, 1, "x", kind).decision == Decision.RECORD_AND_SAMPLE
               for kind in (SpanKind.SERVER, SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER))


# traceparent() and trace_id_of()

def test_traceparent_is_none_outside_a_span_and_names_the_current_span_inside_one(spans):
    assert traceparent() is None
    with spans.tracer.start_as_current_span("POST /task", kind=SpanKind.SERVER) as span:
        parent = traceparent()
    # Sampled; SDK 1.45 also sets the W3C level 2 random-trace-id flag (03), which Dapr accepts.
    assert parent is not None and re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]", parent)
    assert parent == w3c(span)
    assert traceparent() is None


@pytest.mark.parametrize("value", [
    None, "", "garbage", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  # 3 parts
    "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",  # a 31-digit trace id
    "00-0af7651916cd43dd8448eb211c80319cc-b7ad6b7169203331-01",  # 33 digits
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", "---", "\x00\r\n\x1b[31m", "||",
    "a||b-c-d", "\ud800", "00-\ud800-\x00-01", "\u202e00-x-y-z",
])
def test_trace_id_of_is_none_for_anything_but_a_traceparent(value):
    assert trace_id_of(value) is None


def test_trace_id_of_gives_the_32_hex_digit_trace_id_of_a_traceparent():
    assert trace_id_of(PARENT) == TRACE_ID


@pytest.mark.parametrize("trace_part", ["z" * 32, "\ud800" * 32, "\x00" * 32, "|" * 32])
def test_trace_id_of_is_none_for_four_parts_whose_trace_id_is_not_hex(trace_part):
    assert trace_id_of(f"00-{trace_part}-{PARENT_SPAN_ID}-01") is None


# task_span() and for_task()

def test_a_task_span_under_a_traceparent_is_in_that_trace_with_that_parent_and_names_the_task(spans):
    with spans.tracer.start_as_current_span("POST /data", kind=SpanKind.SERVER), \
            task_span("handle data-received", "t-1", "data-received", parent=PARENT) as span:  # the given parent wins
        assert span.is_recording()
    found = only(spans.finished(), "handle data-received")
    assert ids(found)[0] == TRACE_ID and parent_ids(found) == (TRACE_ID, PARENT_SPAN_ID)
    assert found.parent is not None and found.parent.is_remote
    assert dict(found.attributes or {}) == {"task_id": "t-1", "agent": telemetry._service["name"],
                                            "operation": "data-received"}
    assert found.kind == SpanKind.INTERNAL and found.status.status_code == StatusCode.UNSET


def test_a_task_span_without_a_parent_nests_under_the_current_span_with_the_agent_and_attributes_given(spans):
    with spans.tracer.start_as_current_span("POST /run", kind=SpanKind.SERVER) as request, \
            task_span("vote", "t-2", "vote", agent="voter-1", attributes={"round": 2}):
        pass
    found = only(spans.finished(), "vote")
    assert parent_ids(found) == ids(request) and ids(found)[0] == ids(request)[0]
    assert dict(found.attributes or {}) == {"task_id": "t-2", "agent": "voter-1", "operation": "vote", "round": 2}


def test_an_exception_in_a_task_span_ends_it_as_an_error_records_it_and_is_raised(spans):
    with pytest.raises(ValueError, match="model unreachable"), task_span("run", "t-3", "run"):
        raise ValueError("model unreachable")
    found = only(spans.finished(), "run")
    assert found.status.status_code == StatusCode.ERROR and found.end_time is not None
    [event] = found.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"] == "ValueError"
    assert (event.attributes or {})["exception.message"] == "model unreachable"


def test_a_task_span_sets_the_task_and_operation_of_log_records_inside_and_restores_them_after(spans):
    def work() -> list[tuple[str, str | None]]:
        task_id_var.set("outer")
        operation_var.set("submit")
        seen = []
        with task_span("a", "t-4", "write"):
            seen.append((task_id_var.get(), operation_var.get()))
            with task_span("b", "t-5", "vote"):
                seen.append((task_id_var.get(), operation_var.get()))
            seen.append((task_id_var.get(), operation_var.get()))
        seen.append((task_id_var.get(), operation_var.get()))
        with pytest.raises(RuntimeError), task_span("c", "t-6", "tally"):
            raise RuntimeError
        seen.append((task_id_var.get(), operation_var.get()))
        return seen

    assert in_fresh_context(work) == [("t-4", "write"), ("t-5", "vote"), ("t-4", "write"), ("outer", "submit"),
                                      ("outer", "submit")]


def test_for_task_names_the_task_on_later_log_records_and_on_the_current_request_span(spans):
    def work() -> tuple[str, str | None]:
        with spans.tracer.start_as_current_span("POST /task/{task_id}/cancel", kind=SpanKind.SERVER):
            for_task("t-7", "cancel")
            return task_id_var.get(), operation_var.get()

    assert in_fresh_context(work) == ("t-7", "cancel")
    found = only(spans.finished(), "POST /task/{task_id}/cancel")
    assert dict(found.attributes or {}) == {"task_id": "t-7", "agent": telemetry._service["name"],
                                            "operation": "cancel"}


def test_for_task_outside_any_span_only_sets_the_log_context(spans):
    def work() -> tuple[str, str | None]:
        for_task("t-8", "submit")
        return task_id_var.get(), operation_var.get()

    assert in_fresh_context(work) == ("t-8", "submit")
    assert spans.finished() == []


# Workflow activities (workflows/tracing.py)

class Note(BaseModel):
    task_id: str
    text: str = ""


def summarise(ctx: object, note: Note) -> dict[str, typing.Any]:
    """What the activity saw: the span it ran in and the log context."""
    return {"span": ids(trace.get_current_span()), "task_id": task_id_var.get(), "operation": operation_var.get(),
            "text": note.text}


def tally(ctx: object, note: Note) -> str:
    return note.text


traced_summarise, traced_tally = traced(summarise), traced(tally)


@pytest.fixture
def task_docs(monkeypatch, spans):
    """runtime_deps installed on in-memory stores (restored after); every read of a task
    document through the task store is counted in `reads`."""
    monkeypatch.setattr(deps, "_installed", deps._Installed())
    stores = build_stores(Settings(), MemoryDocuments())
    deps.install(Settings(), stores)
    reads: list[str] = []
    read = stores.tasks.document

    def counted(task_id: str) -> dict[str, typing.Any] | None:
        reads.append(task_id)
        return read(task_id)

    monkeypatch.setattr(stores.tasks, "document", counted)
    tracing._task_traceparent.cache_clear()
    yield SimpleNamespace(tasks=stores.tasks, reads=reads, spans=spans)
    tracing._task_traceparent.cache_clear()


def test_an_activity_runs_in_a_span_parented_on_the_traceparent_its_task_document_records(task_docs):
    task_docs.tasks.create("t-1", "sequential", {}, traceparent=PARENT)
    seen = traced_summarise(None, Note(task_id="t-1", text="x"))
    found = only(task_docs.spans.finished(), "activity summarise")
    assert ids(found)[0] == TRACE_ID and parent_ids(found) == (TRACE_ID, PARENT_SPAN_ID)
    assert dict(found.attributes or {}) == {"task_id": "t-1", "agent": telemetry._service["name"],
                                            "operation": "summarise"}
    assert seen == {"span": ids(found), "task_id": "t-1", "operation": "summarise", "text": "x"}


def test_the_task_document_is_read_once_per_task_for_its_activities(task_docs):
    task_docs.tasks.create("t-1", "sequential", {}, traceparent=PARENT)
    task_docs.tasks.create("t-2", "parallel", {}, traceparent=f"00-{'1' * 32}-{'2' * 16}-01")
    traced_summarise(None, Note(task_id="t-1"))
    traced_tally(None, Note(task_id="t-1"))
    traced_tally(None, Note(task_id="t-1"))
    assert task_docs.reads == ["t-1"]
    traced_tally(None, Note(task_id="t-2"))
    assert task_docs.reads == ["t-1", "t-2"]
    assert traced_tally(None, SimpleNamespace(text="no task")) == "no task"  # no task id: nothing to read
    assert task_docs.reads == ["t-1", "t-2"]
    found = task_docs.spans.finished()
    assert [parent_ids(s) for s in found[:4]] == [(TRACE_ID, PARENT_SPAN_ID)] * 3 + [("1" * 32, "2" * 16)]
    assert found[4].name == "activity tally" and found[4].parent is None


def test_an_activity_runs_in_a_trace_of_its_own_and_warns_when_the_task_store_is_down(task_docs, monkeypatch,
                                                                                     caplog):
    task_docs.tasks.create("t-1", "sequential", {}, traceparent=PARENT)
    read = task_docs.tasks.document

    def down(task_id: str) -> None:
        read(task_id)  # counted
        raise ConnectionError("state store unreachable")

    monkeypatch.setattr(task_docs.tasks, "document", down)
    with caplog.at_level(logging.WARNING, logger="workflows.tracing"):
        seen = traced_summarise(None, Note(task_id="t-1", text="ran"))
    assert seen["text"] == "ran" and seen["task_id"] == "t-1"
    found = only(task_docs.spans.finished(), "activity summarise")
    assert found.parent is None and ids(found)[0] != TRACE_ID and seen["span"] == ids(found)
    [record] = [r for r in caplog.records if r.name == "workflows.tracing"]
    assert record.levelno == logging.WARNING and "t-1" in record.getMessage()
    assert "state store unreachable" in record.getMessage()
    monkeypatch.setattr(task_docs.tasks, "document", read)  # back up: the failure was not cached
    traced_tally(None, Note(task_id="t-1"))
    assert parent_ids(only(task_docs.spans.finished(), "activity tally")) == (TRACE_ID, PARENT_SPAN_ID)
    assert task_docs.reads == ["t-1", "t-1"]


def test_a_traced_activity_keeps_the_signature_the_sdk_reads_its_input_model_from():
    assert inspect.signature(traced_summarise) == inspect.signature(summarise)
    assert typing.get_type_hints(traced_summarise) == typing.get_type_hints(summarise)
    assert traced_summarise.__name__ == "summarise" and traced_summarise is not summarise
    from workflows import activities
    from workflows.contracts import AgentCall

    assert inspect.signature(activities.call_agent).parameters["call"].annotation is AgentCall


# CloudEvents: published with the trace, handled in it (services/common/sidecar.py, subscriber.py)

class RecordingDapr:
    def __init__(self):
        self.published: list[dict[str, typing.Any]] = []

    def publish_event(self, **request: typing.Any) -> None:
        self.published.append(request)


def test_an_event_published_inside_a_span_carries_its_traceparent_and_one_published_outside_none(spans, monkeypatch):
    dapr = RecordingDapr()
    monkeypatch.setattr(sidecar, "dapr_client", lambda: dapr)
    with spans.tracer.start_as_current_span("POST /data", kind=SpanKind.SERVER) as span:
        current = traceparent()
        sidecar.publish("pubsub", "data-received", {"x": 1}, event_id="e1", event_type="DataReceived",
                        ttl_seconds=60)
    sidecar.publish("pubsub", "data-received", {"x": 2}, event_id="e2", event_type="DataReceived", ttl_seconds=60)
    inside, outside = (request["publish_metadata"] for request in dapr.published)
    assert current == w3c(span)
    assert inside == {"ttlInSeconds": "60", "cloudevent.id": "e1", "cloudevent.type": "DataReceived",
                      "cloudevent.traceparent": current}
    assert outside == {"ttlInSeconds": "60", "cloudevent.id": "e2", "cloudevent.type": "DataReceived"}


def delivered(spans, carried: typing.Any) -> ReadableSpan:
    """Deliver one event carrying `carried` as its traceparent attribute; the handling span."""
    stores = SimpleNamespace(events=EventLog(MemoryDocuments()), claims=ClaimStore(MemoryDocuments(), ttl_seconds=45))
    event = CloudEvent(id="e1", type="DataReceived", topic="data-received", traceparent=carried,
                       data={"source": "s", "payload": {}, "correlation_id": "c1"})
    assert subscriber.handle_once(event, "data-received", DataReceived, stores, lambda *a: {}) == subscriber.SUCCESS
    return only(spans.finished(), "handle data-received")


def test_a_delivery_without_a_current_span_is_handled_under_the_events_own_traceparent(spans):
    found = delivered(spans, PARENT)
    assert parent_ids(found) == (TRACE_ID, PARENT_SPAN_ID)
    assert dict(found.attributes or {})["task_id"] == "c1"


def test_a_delivery_with_a_current_span_nests_under_it_rather_than_the_events_traceparent(spans):
    with spans.tracer.start_as_current_span("POST /events", kind=SpanKind.SERVER) as request:
        found = delivered(spans, PARENT)
    assert parent_ids(found) == ids(request)


@pytest.mark.parametrize("carried", ["garbage", 42, {"traceparent": PARENT}, "\ud800"])
def test_a_delivery_with_an_unreadable_traceparent_starts_a_trace_of_its_own(spans, carried):
    assert delivered(spans, carried).parent is None


# The task document's trace and a task's end (services/common/tasks.py)

def test_a_task_created_with_a_traceparent_stores_its_trace_id_and_traceparent():
    tasks = TaskStore(MemoryDocuments())
    created = tasks.create("t", "sequential", {"topic": "x"}, traceparent=PARENT)
    tasks.create("u", "sequential", {"topic": "y"})
    stored = tasks.get("t")
    assert stored is not None and (created.trace_id, created.traceparent) == (TRACE_ID, PARENT)
    assert (stored.trace_id, stored.traceparent) == (TRACE_ID, PARENT)
    assert {k: (tasks.document("t") or {})[k] for k in ("trace_id", "traceparent")} == {
        "trace_id": TRACE_ID, "traceparent": PARENT}
    untraced = tasks.get("u")
    assert untraced is not None and (untraced.trace_id, untraced.traceparent) == (None, None)


class EndedTasks:
    def __init__(self):
        self.ended: list[tuple[str, str, float | None]] = []

    def task_ended(self, pattern: str, status: str, duration_seconds: float | None) -> None:
        self.ended.append((pattern, status, duration_seconds))


@pytest.fixture
def ended(monkeypatch) -> EndedTasks:
    recorder = EndedTasks()
    monkeypatch.setattr(tasks_module, "metrics", lambda: recorder)
    return recorder


def test_a_tasks_end_is_counted_once_however_often_it_is_written(ended):
    tasks = TaskStore(MemoryDocuments())
    tasks.create("t", "parallel", {})
    tasks.save_status("t", "in_progress")
    assert ended.ended == []
    tasks.save_status("t", "completed", result={"ok": True})
    tasks.save_status("t", "completed", result={"ok": True})  # a retried activity
    tasks.save_status("t", "failed", error="late")  # another end, written after
    [(pattern, status, seconds)] = ended.ended
    assert (pattern, status) == ("parallel", "completed") and seconds is not None and 0 <= seconds < 60


def test_a_cancelled_tasks_end_is_counted_once(ended):
    tasks = TaskStore(MemoryDocuments())
    tasks.create("t", "sequential", {})
    tasks.cancel("t")
    tasks.cancel("t")
    tasks.save_status("t", "cancelled")
    assert [(p, s) for p, s, _ in ended.ended] == [("sequential", "cancelled")]


# setup_telemetry, in a process of its own (it sets the global providers)

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_setup(script: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("BATON_", "OTEL_")) and k != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    prelude = ("from pathlib import Path\nfrom services.common.settings import Settings\n"
               "from services.common.telemetry import setup_telemetry\n" + inspect.getsource(listening_addresses))
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script)], cwd=REPO, env={**clean, **env},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on `port` (Linux's /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, at = local.partition(":")
            if state == "0A" and int(at, 16) == port:
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the listening sockets from /proc")
def test_setup_telemetry_installs_the_sampling_tracer_and_serves_metrics_on_loopback_only():
    port = free_port()
    out = run_setup(f"""
        import urllib.request
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from services.common.metrics import metrics
        setup_telemetry(Settings())
        metrics().task_started("sequential")  # a scrape shows target_info once there are metrics
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider), provider
        print(provider.sampler.get_description())
        print(sorted(listening_addresses({port})))
        print(urllib.request.urlopen("http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
        """, BATON_METRICS_PORT=str(port), APP_ID="writer-agent")
    sampler, addresses, scrape = out.split("\n", 2)
    assert sampler == "ParentBased{root:NoRootClientSpans,remoteParentSampled:AlwaysOnSampler," \
                      "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler," \
                      "localParentNotSampled:AlwaysOffSampler}"
    assert addresses == "['0100007F']"  # 127.0.0.1 only: no 0.0.0.0, no ::
    [target] = [line for line in scrape.splitlines() if line.startswith("target_info{")]
    assert 'service_name="writer-agent"' in target and 'service_namespace="baton"' in target
    assert re.search(r'^baton_tasks_started_total\{.*pattern="sequential".*\} 1\.0$', scrape, re.M)


def test_with_tracing_off_setup_telemetry_installs_no_tracer_provider():
    out = run_setup("""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        setup_telemetry(Settings())
        print(type(trace.get_tracer_provider()).__name__)
        """, BATON_TRACING="off")
    assert out.strip() == "ProxyTracerProvider"
