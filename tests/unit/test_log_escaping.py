"""Text from a request can neither forge a log line nor colour a terminal."""

import io
import logging

import pytest

from services.common.logs import EscapingFormatter, escape_controls, task_id_var

HOSTILE_TOPIC = "Dapr\n2026-01-01 00:00:00,000 INFO orchestrator task=- forged: admin logged in\x1b[31m red"


@pytest.fixture
def log_output():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(EscapingFormatter("%(levelname)s task=%(task_id)s %(name)s: %(message)s"))
    logger = logging.getLogger("baton.test.escaping")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def test_a_topic_with_a_newline_and_an_escape_sequence_stays_on_one_escaped_line(log_output):
    logger, out = log_output
    logger.warning("started a task on %s", HOSTILE_TOPIC, extra={"task_id": "t1"})
    text = out.getvalue()
    assert text.count("\n") == 1 and "\x1b" not in text
    assert "Dapr\\n2026-01-01" in text and "\\x1b[31m red" in text


def test_the_task_id_field_is_escaped_too(log_output):
    logger, out = log_output
    token = task_id_var.set("c1\r\nINFO forged")
    try:
        logger.warning("collected", extra={"task_id": task_id_var.get()})
    finally:
        task_id_var.reset(token)
    assert out.getvalue() == "WARNING task=c1\\r\\nINFO forged baton.test.escaping: collected\n"


def test_a_traceback_quoting_request_text_cannot_start_a_line_of_its_own(log_output):
    logger, out = log_output
    try:
        raise ValueError(f"bad topic {HOSTILE_TOPIC}")
    except ValueError:
        logger.exception("failed", extra={"task_id": "t1"})
    first, *rest = out.getvalue().rstrip("\n").split("\n")
    assert first == "ERROR task=t1 baton.test.escaping: failed"
    assert rest and all(line.startswith("  ") for line in rest) and "\x1b" not in out.getvalue()


def test_unicode_line_separators_and_bidi_overrides_are_escaped_and_plain_text_is_not():
    assert escape_controls("a\u2028b\u202ec\x00d\x7f") == "a\\u2028b\\u202ec\\x00d\\x7f"
    assert escape_controls("naïve café — 東京 C:\\path") == "naïve café — 東京 C:\\path"
