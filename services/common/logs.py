"""Logging with the task id on every line, so `grep <task_id>` follows one task
across every service's log. Control characters are escaped, so text from a request (a
topic, an id) can neither forge a log line nor send escape sequences to a terminal."""

import contextvars
import copy
import logging
import re
import sys
from typing import Any

from dapr.ext.workflow.logger import LoggerOptions

task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="-")


class _TaskIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.task_id = getattr(record, "task_id", None) or task_id_var.get()
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


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_TaskIdFilter())
    handler.setFormatter(
        EscapingFormatter(f"%(asctime)s %(levelname)s {service} task=%(task_id)s %(name)s: %(message)s"))
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
