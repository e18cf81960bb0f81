"""Logging with the task id on every line, so `grep <task_id>` follows one task
across every service's log."""

import contextvars
import logging
import sys

from dapr.ext.workflow.logger import LoggerOptions

task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="-")


class _TaskIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.task_id = getattr(record, "task_id", None) or task_id_var.get()
        return True


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_TaskIdFilter())
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)s {service} task=%(task_id)s %(name)s: %(message)s"
        )
    )
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
