"""Secrets through the sidecar's HTTP API, with its API token; a missing secret is None."""

from collections import namedtuple

import httpx
import pytest
from dapr.clients.grpc.interceptors import DaprClientTimeoutInterceptor
from dapr.conf import settings as dapr_settings

from services.common import sidecar
from services.common.sidecar import SecretUnavailableError, read_secret


@pytest.fixture
def sidecar_answers(monkeypatch):
    """Make the sidecar answer with `handler(request)`; returns the requests it saw."""
    seen: list[httpx.Request] = []

    def install(handler):
        def record(request):
            seen.append(request)
            return handler(request)

        client = httpx.Client(base_url="http://sidecar", transport=httpx.MockTransport(record),
                              headers=sidecar.sidecar_headers())
        monkeypatch.setattr(sidecar, "_http", lambda: client)
        return seen

    return install


def dapr_error(code: str, message: str) -> httpx.Response:
    return httpx.Response(500, json={"errorCode": code, "message": message})


def test_a_secret_is_read_with_the_dapr_api_token(sidecar_answers, monkeypatch):
    monkeypatch.setattr(sidecar.dapr_settings, "DAPR_API_TOKEN", "sidecar-token")
    seen = sidecar_answers(lambda request: httpx.Response(200, json={"api-keys": "[...]"}))
    assert read_secret("secretstore", "api-keys") == "[...]"
    assert seen[0].url.path == "/v1.0/secrets/secretstore/api-keys"
    assert seen[0].headers["dapr-api-token"] == "sidecar-token"


def test_no_token_header_when_dapr_api_token_is_unset(monkeypatch):
    monkeypatch.setattr(sidecar.dapr_settings, "DAPR_API_TOKEN", None)
    assert sidecar.sidecar_headers() == {}


@pytest.mark.parametrize("message", ["failed getting secret with key model-api-key from secret store secretstore: "
                                     "secret model-api-key not found",
                                     "RESPONSE 404: 404 Not Found\nERROR CODE: SecretNotFound"])
def test_a_missing_secret_is_none(sidecar_answers, message):
    sidecar_answers(lambda request: dapr_error("ERR_SECRET_GET", message))
    assert read_secret("secretstore", "model-api-key") is None


@pytest.mark.parametrize("answer", [dapr_error("ERR_SECRET_STORE_NOT_FOUND", "secret store secretstore not found"),
                                    dapr_error("ERR_PERMISSION_DENIED", "access denied by policy"),
                                    httpx.Response(401, json={"errorCode": "ERR_INVALID_TOKEN"}),
                                    dapr_error("ERR_SECRET_GET", "Key Vault throttled the request")])
def test_a_store_that_cannot_answer_is_an_error_naming_the_secret(sidecar_answers, answer):
    sidecar_answers(lambda request: answer)
    with pytest.raises(SecretUnavailableError, match="'api-keys' in the Dapr secret store 'secretstore'"):
        read_secret("secretstore", "api-keys")


def test_an_unreachable_sidecar_is_an_error(sidecar_answers):
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    sidecar_answers(refuse)
    with pytest.raises(SecretUnavailableError, match="unreachable"):
        read_secret("secretstore", "api-keys")


def test_every_sdk_call_to_the_sidecar_gets_the_configured_deadline(monkeypatch):
    """Without one the SDK waits for ever: a stalled sidecar hung every API thread (soak)."""
    monkeypatch.setattr(dapr_settings, "DAPR_API_TIMEOUT_SECONDS", None)
    sidecar.limit_sdk_calls(7)
    details = namedtuple("Details", "method timeout metadata credentials wait_for_ready compression")
    seen = []
    DaprClientTimeoutInterceptor().intercept_unary_unary(
        lambda call, request: seen.append(call.timeout), details("/m", None, None, None, None, None), object())
    assert seen == [7]
