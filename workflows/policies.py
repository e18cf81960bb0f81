"""Retry policies for activities. Workflow activities are not a Dapr resiliency target,
so retries with exponential backoff come from the SDK here; they are durable timers,
so a retry never blocks a worker thread."""

from datetime import timedelta

from dapr.ext.workflow import RetryPolicy

# About three attempts, 2 s then 4 s apart: the lesson's "retry with exponential backoff".
AGENT_CALL_RETRY = RetryPolicy(
    first_retry_interval=timedelta(seconds=2),
    max_number_of_attempts=3,
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=30),
)

# Bookkeeping against the state store: quick retries for a sidecar hiccup.
BOOKKEEPING_RETRY = RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    max_number_of_attempts=5,
    backoff_coefficient=2.0,
)
