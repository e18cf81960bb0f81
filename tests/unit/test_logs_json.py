"""BATON_LOG_FORMAT=json: one JSON object per line, with the task id and the trace and span
ids, whatever the message holds; the text format stays as it was."""

import io
import json
import logging
import re
import sys
import time
from datetime import datetime

import pytest
from opentelemetry.sdk.trace import TracerProvider

from services.common.logs import JsonFormatter, operation_var, setup_logging, task_id_var

LOGGER = "baton.test.json"


@pytest.fixture
def start_logging(monkeypatch):
    """setup_logging as an app calls it, writing to a buffer; the root logger is restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()

    def start(fmt: str = "json", service: str = "writer-agent") -> io.StringIO:
        monkeypatch.setattr(sys, "stdout", out)  # here, not at setup: pytest's capture resets sys.stdout per phase
        setup_logging(service, fmt=fmt)
        return out

    yield start
    root.handlers[:], level = saved
    root.setLevel(level)


def lines(out: io.StringIO) -> list[dict]:
    text = out.getvalue()
    assert text.endswith("\n") and text.isascii()
    return [json.loads(line) for line in text[:-1].split("\n")]


def test_a_record_is_one_json_object_with_every_field(start_logging):
    out = start_logging()
    logging.getLogger(LOGGER).warning("called %s %d times", "writer", 3)
    [line] = lines(out)
    when = datetime.strptime(line.pop("time"), "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs(when.timestamp() - time.time()) < 5
    assert line == {"level": "WARNING", "service": "writer-agent", "task_id": None, "trace_id": None,
                    "span_id": None, "logger": LOGGER, "message": "called writer 3 times", "agent": "writer-agent"}


def test_the_time_is_utc_with_milliseconds():
    record = logging.makeLogRecord({"msg": "tick", "created": 1767225600.1239})  # 2026-01-01T00:00:00.1239 UTC
    assert json.loads(JsonFormatter("writer-agent").format(record))["time"] == "2026-01-01T00:00:00.123Z"


def test_task_id_and_operation_come_from_the_context_and_a_records_own_values_win(start_logging):
    out = start_logging()
    task, operation = task_id_var.set("3f0c9a"), operation_var.set("vote")
    try:
        logging.getLogger(LOGGER).info("voted")
        logging.getLogger(LOGGER).info("tallied", extra={"task_id": "other", "operation": "tally", "agent": "x"})
    finally:
        task_id_var.reset(task)
        operation_var.reset(operation)
    first, second = lines(out)
    assert (first["task_id"], first["operation"], first["agent"]) == ("3f0c9a", "vote", "writer-agent")
    assert (second["task_id"], second["operation"], second["agent"]) == ("other", "tally", "x")


def test_inside_a_span_the_line_carries_its_trace_and_span_ids(start_logging):
    out = start_logging()
    tracer = TracerProvider().get_tracer("baton.test")  # never the global provider: it can be set once
    with tracer.start_as_current_span("agent call") as span:
        logging.getLogger(LOGGER).info("calling")
    logging.getLogger(LOGGER).info("after")
    inside, after = lines(out)
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}" and re.fullmatch(r"[0-9a-f]{32}", inside["trace_id"])
    assert inside["span_id"] == f"{context.span_id:016x}" and re.fullmatch(r"[0-9a-f]{16}", inside["span_id"])
    assert after["trace_id"] is None and after["span_id"] is None


def test_an_exception_is_one_field_of_the_same_line(start_logging):
    out = start_logging()
    try:
        raise ValueError("bad topic\nERROR forged line")
    except ValueError:
        logging.getLogger(LOGGER).exception("failed")
    [line] = lines(out)
    assert line["message"] == "failed" and line["level"] == "ERROR"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("ValueError: bad topic\nERROR forged line")


@pytest.mark.parametrize("text", ["two\nlines", "esc \x1b[31m red", "lone \ud800 surrogate",
                                  "sep \u2028 and \r and \x00", "x" * 5_000_000], ids=[
    "newline", "escape", "surrogate", "separators", "5MB"])
def test_hostile_messages_stay_on_one_line_of_valid_json(start_logging, text):
    out = start_logging()
    logging.getLogger(LOGGER).info("topic: %s", text, extra={"task_id": text[:50]})
    [line] = lines(out)  # one line, ASCII only, valid JSON
    assert line["message"] == f"topic: {text}" and line["task_id"] == text[:50]


def test_formatting_never_raises(start_logging, capsys):
    out = start_logging()

    class Unprintable:
        def __str__(self):
            raise RuntimeError("no")

    logging.getLogger(LOGGER).info("%d items", "not a number")
    logging.getLogger(LOGGER).info(Unprintable())
    logging.getLogger(LOGGER).info("value %s", Unprintable())
    bad_args, bad_msg, bad_arg = lines(out)
    assert bad_args["message"] == "%d items (arguments: ('not a number',))"
    assert bad_msg["message"].startswith("<unprintable Unprintable>")
    assert bad_arg["message"].startswith("value %s (arguments: ")
    assert "Logging error" not in capsys.readouterr().err


def test_the_text_format_is_unchanged(start_logging):
    out = start_logging(fmt="text", service="orchestrator")
    task, operation = task_id_var.set("t1"), operation_var.set("research")
    try:
        logging.getLogger(LOGGER).info("step %s done", "research")
    finally:
        task_id_var.reset(task)
        operation_var.reset(operation)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO orchestrator task=t1 baton\.test\.json: "
                        r"step research done\n", out.getvalue())


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="log format 'xml'"):
        setup_logging("writer-agent", fmt="xml")
