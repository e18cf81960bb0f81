"""Logging with the task id on every line, so `grep <task_id>` follows one task
across every service's log. Control characters are escaped, so text from a request (a
topic, an id) can neither forge a log line nor send escape sequences to a terminal.

Two formats (BATON_LOG_FORMAT): `text`, one readable line per record, and `json`, one JSON
object per line with the task id and the OpenTelemetry trace and span ids, for a log
pipeline that joins logs to traces."""

import contextvars
import copy
import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from dapr.ext.workflow.logger import LoggerOptions
from opentelemetry import trace

task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="-")
# What this service is doing for the task (an agent's role, a workflow step); None: nothing named.
operation_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("operation", default=None)


class ContextFilter(logging.Filter):
    """Puts `task_id`, `agent` (the service) and, when one is set, `operation` on every record
    a handler emits. Add it to any handler: the text format prints the task id, the JSON one
    all three, and OpenTelemetry's log exporter sends them as attributes (customDimensions in
    Application Insights). Values a record already carries (`extra=`) win."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.task_id = getattr(record, "task_id", None) or task_id_var.get()
        record.agent = getattr(record, "agent", None) or self.service
        operation = getattr(record, "operation", None) or operation_var.get()
        if operation:  # absent rather than None: exporters warn about None attribute values
            record.operation = operation
        return True


# C0 and C1 controls and DEL, Unicode line and paragraph separators, bidi overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str, keep: str = "") -> str:
    r"""`\n` becomes the two characters backslash and n, ESC becomes `\x1b`, and so on."""
    return _CONTROL.sub(lambda m: m[0] if m[0] in keep else m[0].encode("unicode_escape").decode(), text)


class EscapingFormatter(logging.Formatter):
    """One line per record, its fields escaped; a traceback follows on lines indented by
    two spaces (tracebacks may quote request text too, so no line of one can pass for a
    record)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  # logging's name
        escaped = copy.copy(record)
        for name, value in vars(record).items():
            if isinstance(value, str):
                setattr(escaped, name, escape_controls(value))
        return super().formatMessage(escaped)

    def formatException(self, ei: Any) -> str:  # noqa: N802
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("  " + line for line in escape_controls(text, keep="\n").split("\n"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, milliseconds), level, service, task_id, trace_id,
    span_id, logger, message, and exception, stack, agent and operation when there are any.
    ASCII-only JSON: newlines, escape sequences, Unicode separators and lone surrogates are
    all written as JSON escapes, so no text can break the line. Formatting never raises."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        try:
            return json.dumps(self._fields(record), ensure_ascii=True, default=_text)
        except Exception as err:  # a log call must never fail, nor lose its line
            return json.dumps({
                "time": _utc(time.time()), "level": _text(getattr(record, "levelname", "ERROR")),
                "service": self.service, "logger": _text(getattr(record, "name", "")),
                "message": f"unformattable log record: {_text(getattr(record, 'msg', ''))}",
                "format_error": f"{type(err).__name__}: {_text(err)}"}, ensure_ascii=True)

    def _fields(self, record: logging.LogRecord) -> dict[str, Any]:
        task_id = getattr(record, "task_id", None)
        span = trace.get_current_span().get_span_context()
        fields: dict[str, Any] = {
            "time": _utc(record.created), "level": record.levelname, "service": self.service,
            "task_id": None if task_id in (None, "", "-") else _text(task_id),
            "trace_id": format(span.trace_id, "032x") if span.is_valid else None,
            "span_id": format(span.span_id, "016x") if span.is_valid else None,
            "logger": record.name, "message": _message(record)}
        if record.exc_info:
            # Not record.exc_text: another handler's formatter may have cached its own rendering there.
            fields["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = record.stack_info
        for name in ("agent", "operation"):
            value = getattr(record, name, None)
            if value is not None:
                fields[name] = _text(value)
        return fields


def _utc(timestamp: float) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-05-01T12:00:00.123Z."""
    when = datetime.fromtimestamp(timestamp, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # arguments that do not fit the format: keep both rather than lose the line
        return f"{_text(record.msg)} (arguments: {_text(record.args)})"


def _text(value: object) -> str:
    try:
        return value if isinstance(value, str) else str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def setup_logging(service: str, level: str = "INFO", fmt: str = "text") -> None:
    """Log to stdout, one line per record: `text` (readable, escaped) or `json`."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(ContextFilter(service))
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    elif fmt == "text":
        handler.setFormatter(
            EscapingFormatter(f"%(asctime)s %(levelname)s {service} task=%(task_id)s %(name)s: %(message)s"))
    else:
        raise ValueError(f"log format {fmt!r}: expected 'text' or 'json'")
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# The workflow SDK logs every orchestration step at INFO, each line twice (its own handler
# and ours). Its records go through ours only, and from WARNING up unless asked for.
SDK_LOGGERS = ("WorkflowRuntime", "DaprWorkflowClient", "durabletask-worker", "durabletask-client")


def sdk_logger_options(level: str = "WARNING") -> LoggerOptions:
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return LoggerOptions(log_level=level, log_handler=logging.NullHandler())
