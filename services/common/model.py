"""The model client every agent uses: the `openai` client, pointed by settings at the
embedded local model, OpenAI, or Azure OpenAI. Its key, if any, comes from the Dapr secret
store, read once at start-up."""

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import openai
from azure.identity import DefaultAzureCredential, get_bearer_token_provider
from fastapi import Depends, HTTPException, Request
from opentelemetry.trace import Span, SpanKind

from .contracts import Usage
from .logs import task_id_var
from .metrics import metrics
from .prices import PriceTable
from .settings import Settings
from .sidecar import SecretReader
from .telemetry import task_span

log = logging.getLogger(__name__)


@dataclass
class Completion:
    text: str
    model: str
    usage: Usage
    elapsed_seconds: float


# The token audience of Azure OpenAI (Cognitive Services) for Microsoft Entra ID auth.
AZURE_OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"


def azure_token_provider() -> Callable[[], str]:
    """Tokens from the environment's Azure identity: the managed identity in Container
    Apps (AZURE_CLIENT_ID picks the user-assigned one), `az login` on a laptop."""
    return get_bearer_token_provider(DefaultAzureCredential(), AZURE_OPENAI_SCOPE)


def load_model_api_key(settings: Settings, read_secret: SecretReader) -> str | None:
    """The secret `model_api_key_secret` from the secret store; None when it is absent (the
    embedded model needs no key; Azure OpenAI then signs in with Microsoft Entra ID). The
    `instant` stand-in calls no model and reads nothing."""
    if settings.model_provider == "instant":
        return None
    key = read_secret(settings.secret_store, settings.model_api_key_secret)
    if key:
        log.info("model API key: secret %s from store %s", settings.model_api_key_secret, settings.secret_store)
        return key
    log.info("no secret %s in store %s: the model client uses no key", settings.model_api_key_secret,
             settings.secret_store)
    return None


def make_openai_client(settings: Settings, key: str | None = None) -> openai.OpenAI:
    if settings.model_provider == "azure":
        return openai.AzureOpenAI(
            azure_endpoint=settings.model_base_url,
            api_key=key,
            azure_ad_token_provider=None if key else azure_token_provider(),
            api_version=settings.azure_openai_api_version,
            timeout=settings.model_timeout_seconds,
            max_retries=0,  # retries belong to the workflow's retry policy, not here
        )
    return openai.OpenAI(
        base_url=settings.model_base_url,
        api_key=key or "no-key",  # the embedded model needs none; the client insists on one
        timeout=settings.model_timeout_seconds,
        max_retries=0,
    )


def instant_reply(user_input: str, max_tokens: int, json_schema: dict[str, Any] | None) -> str:
    """The `instant` provider: a deterministic answer shaped like a real one, no model."""
    if json_schema is not None:
        label = json_schema["properties"]["label"]["enum"][0]
        return json.dumps({"label": label, "confidence": 1.0, "rationale": "instant stand-in"})
    words = f"Instant stand-in reply to: {user_input}".split()
    return " ".join(words[:max_tokens])


class ModelClient:
    def __init__(self, settings: Settings, client: openai.OpenAI | None = None, api_key: str | None = None):
        self.settings = settings
        self.prices = PriceTable.load(settings)
        self.instant = settings.model_provider == "instant"
        self.client = client if client is not None or self.instant else make_openai_client(settings, api_key)

    def chat(self, instructions: str, user_input: str, *, max_tokens: int | None = None,
             json_schema: dict[str, Any] | None = None) -> Completion:
        if self.instant:
            text = instant_reply(user_input, max_tokens or self.settings.model_max_tokens, json_schema)
            usage = Usage(prompt_tokens=len(user_input.split()), completion_tokens=len(text.split()))
            return Completion(text=text, model="instant", usage=usage, elapsed_seconds=0.0)
        if json_schema is None:
            extra: dict[str, Any] = {"frequency_penalty": self.settings.model_frequency_penalty}
        else:
            extra = {"response_format": {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": json_schema, "strict": True},
            }}
        if self.client is None:
            raise RuntimeError("no model client configured")
        limit = max_tokens or self.settings.model_max_tokens
        with model_span(self.settings, limit) as span:
            started = time.monotonic()
            resp = self.client.chat.completions.create(
                model=self.settings.model_name,
                messages=[
                    {"role": "system", "content": instructions},
                    {"role": "user", "content": user_input},
                ],
                max_tokens=limit,
                **extra,
            )
            elapsed = time.monotonic() - started
            prompt = resp.usage.prompt_tokens if resp.usage else 0
            completion = resp.usage.completion_tokens if resp.usage else 0
            text = (resp.choices[0].message.content or "").strip()
            model = resp.model or self.settings.model_name
            cost = self.prices.cost(model, prompt, completion)
            span.set_attributes({"gen_ai.response.model": model, "gen_ai.usage.input_tokens": prompt,
                                 "gen_ai.usage.output_tokens": completion})
            if resp.choices[0].finish_reason:
                span.set_attribute("gen_ai.response.finish_reasons", [resp.choices[0].finish_reason])
        metrics().model_call(self.settings.app_id, model, prompt, completion, cost, elapsed,
                             provider=provider_name(self.settings), request_model=self.settings.model_name)
        return Completion(
            text=text,
            model=model,
            usage=Usage(prompt_tokens=prompt, completion_tokens=completion, estimated_cost_usd=cost),
            elapsed_seconds=round(elapsed, 3),
        )


def provider_name(settings: Settings) -> str:
    """The GenAI conventions' `gen_ai.provider.name` of the configured endpoint."""
    return "azure.ai.openai" if settings.model_provider == "azure" else "openai"


@contextmanager
def model_span(settings: Settings, max_tokens: int) -> Iterator[Span]:
    """A span around one chat completion, named and attributed as the OpenTelemetry GenAI
    semantic conventions say (`chat <model>`, client kind, gen_ai.* attributes); the HTTP
    call to the model is its child."""
    with task_span(f"chat {settings.model_name}", task_id_var.get(), "chat", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name(settings),
            "gen_ai.request.model": settings.model_name,
            "gen_ai.request.max_tokens": max_tokens}) as span:
        yield span


def ask(model: ModelClient, instructions: str, text: str, *, max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None) -> Completion:
    """One model call from a route; a model that is down or answers an error becomes a 502
    that says so."""
    try:
        return model.chat(instructions, text, max_tokens=max_tokens, json_schema=json_schema)
    except Exception as err:
        log.exception("model call failed")
        raise HTTPException(502, f"model call failed: {type(err).__name__}: {err}") from err


def get_model(request: Request) -> ModelClient:
    """FastAPI dependency: the process's model client, created in the app's lifespan."""
    model: ModelClient = request.app.state.model
    return model


Model = Annotated[ModelClient, Depends(get_model)]
