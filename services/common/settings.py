"""One Settings object per process, filled from the environment (dapr.yaml locally,
Bicep `env` in Azure). Component names are the same in both places."""

from functools import lru_cache
from typing import Annotated

from limits import parse
from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _rate_limit(text: str) -> str:
    parse(text)  # raises ValueError for anything the `limits` library cannot read
    return text


# A rate in the `limits` library's notation: "600/minute", "100/second", "5 per 10 seconds".
RateLimit = Annotated[str, AfterValidator(_rate_limit)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    # Set by the Dapr CLI (and by Bicep in Azure) for every app it starts.
    app_id: str = Field("baton", validation_alias="APP_ID")
    # Which agent this process is (one code path, many app ids); unused by the orchestrator.
    agent_role: str = "research"
    host: str = "127.0.0.1"
    port: int = 8080

    # Dapr components, named identically locally and in Azure.
    state_store: str = "statestore"
    pubsub: str = "pubsub"
    artifacts_binding: str = "artifacts"

    # Model: the embedded local model by default; any OpenAI-compatible endpoint, or Azure
    # OpenAI (model_provider=azure), by configuration alone. `instant` is a deterministic
    # stand-in with zero think time, for benchmarks that measure orchestration alone.
    model_provider: str = Field("openai", pattern="^(openai|azure|instant)$")
    model_base_url: str = "http://127.0.0.1:8181/v1"
    # The model's key is the secret `model_api_key_secret` in the secret store (see below),
    # never a setting. Absent: no key for the embedded model; with model_provider=azure,
    # Microsoft Entra ID (the managed identity in Azure, your az login locally) instead.
    model_name: str = "smollm2-135m-instruct"
    model_max_tokens: int = Field(256, ge=1, le=8192)
    model_timeout_seconds: float = Field(120, gt=0)
    # Discourages the repetition loops small models fall into; not used for JSON verdicts.
    model_frequency_penalty: float = Field(0.5, ge=-2, le=2)
    azure_openai_api_version: str = "2024-10-21"
    # The cost estimate in every task: a price table per model (services/common/prices.py; this
    # file replaces the shipped one), and USD per 1K tokens for models it does not name.
    price_table_file: str | None = None
    price_prompt_per_1k: float = Field(0.0, ge=0)
    price_completion_per_1k: float = Field(0.0, ge=0)
    # Token budget of a task that asks for none (prompt + completion tokens; None: no limit).
    default_budget_tokens: int | None = Field(None, ge=1)

    # Agent calls from workflow activities (through the sidecar; resiliency applies there).
    agent_call_timeout_seconds: float = Field(180, gt=0)
    # Activities (agent calls, mostly waiting) one orchestrator replica runs at once. The SDK's
    # default is a pool of cpu_count + 4 threads shared by activities and workflow turns: on 2
    # cores six slow agent calls stalled every workflow, new ones included (the API fuzz found it).
    workflow_activity_concurrency: int = Field(64, ge=1, le=1000)
    message_ttl_seconds: int = Field(3600, ge=1)
    # Extra in-process attempts of a failed event delivery before answering 500 (which sends it
    # to the dead-letter topic). 0 locally, where components/resiliency.yaml retries deliveries;
    # the Azure Bicep sets 3, since Container Apps applies no Dapr resiliency policy.
    delivery_retries: int = Field(0, ge=0, le=10)
    # Baton's own per-agent circuit breaker (services/common/breakers.py).
    breaker_failure_threshold: int = Field(5, ge=1, le=1000)
    breaker_reset_seconds: float = Field(60, gt=0, le=86_400)
    # One effect per event and subscriber, even for racing deliveries (services/common/claims.py).
    # The claim's time to live, renewed while the work runs: below the pub/sub's redelivery of an
    # unacknowledged message (60 s: processingTimeout in components/pubsub.yaml, the Service Bus lock).
    claim_ttl_seconds: int = Field(45, ge=3, le=3600)
    # How long a delivery that finds its event claimed waits for the other delivery's outcome
    # before answering RETRY (Dapr then retries it, and dead-letters it once its retries are spent).
    claim_wait_seconds: float = Field(10, ge=0, le=300)
    # Every gRPC call of the Dapr SDK to the sidecar (starting, raising events to and ending
    # workflows, publishing, bindings) gives up after this long: a stalled sidecar costs a 503,
    # never an API whose every worker thread waits forever (the soak found that).
    sidecar_call_timeout_seconds: float = Field(20, gt=0, le=600)
    # GET /health reads the state store with this timeout, inside Dapr's app health probe timeout.
    health_state_timeout_seconds: float = Field(0.3, gt=0, le=10)
    # GET /task/{task_id}/stream (services/orchestrator/stream.py) reads the task document this
    # often: one state read per open stream per interval.
    stream_poll_seconds: float = Field(0.25, gt=0, le=60)
    # A stream whose reads keep failing this long sends `error` and closes (the client reconnects).
    stream_store_patience_seconds: float = Field(30, gt=0, le=3600)
    # A stream closes after this long (the client reconnects with Last-Event-ID): a task waiting
    # days for approval does not hold a connection for days.
    stream_max_seconds: float = Field(3600, gt=0, le=86_400)

    # Security. The token this app's sidecar sends on every request (header dapr-api-token):
    # Container Apps injects it, `make run` sets it; no app starts without it.
    app_api_token: SecretStr | None = Field(None, validation_alias="APP_API_TOKEN")
    # The Dapr secret store (local file, Key Vault in Azure) and the secrets Baton reads from it.
    secret_store: str = "secretstore"
    api_keys_secret: str = "api-keys"  # the orchestrator's API keys (services/common/apikeys.py)
    model_api_key_secret: str = "model-api-key"  # optional: apps with a model read it at start-up
    api_keys_refresh_seconds: float = Field(60, gt=0, le=86_400)
    # Requests per API key (a key may set its own) and failed authentications per client address.
    rate_limit: RateLimit = "600/minute"
    auth_failure_limit: RateLimit = "30/minute"
    max_body_bytes: int = Field(1_048_576, ge=1024)  # larger request bodies answer 413

    # Telemetry (services/common/telemetry.py). Spans go to Application Insights when
    # APPLICATIONINSIGHTS_CONNECTION_STRING is set (the Azure Bicep sets it), else to the local
    # Zipkin that infra/local/platform.sh starts; BATON_TRACING=off switches both off.
    tracing: bool = True
    zipkin_endpoint: str = "http://127.0.0.1:9411/api/v2/spans"
    applicationinsights_connection_string: SecretStr | None = Field(
        None, validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING")
    # Prometheus metrics on 127.0.0.1:<metrics_port>/metrics (the registry gives every app its
    # own port locally); never on the app's own port, which the orchestrator opens to the internet.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    # `json`: one JSON object per log line, with task id and trace id (services/common/logs.py).
    log_format: str = Field("text", pattern="^(text|json)$")

    # Level for the workflow SDK's own logs (it logs every orchestration step at INFO).
    workflow_sdk_log_level: str = Field("WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    # Test/demo knob (services/common/faults.py): off by default.
    allow_fault_injection: bool = False
    agent_delay_seconds: float = Field(0, ge=0, le=600)
    agent_fail: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
