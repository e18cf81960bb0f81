"""How the model client authenticates: a key when the secret store holds one, Microsoft
Entra ID (the managed identity in Azure) for Azure OpenAI when it does not."""

import logging

import openai
import pytest

from services.common import model
from services.common.settings import Settings
from services.common.sidecar import SecretUnavailableError
from tests.unit.fakes import FakeSecretStore


def test_azure_openai_without_a_key_uses_an_entra_id_token_for_the_cognitive_services_scope(monkeypatch):
    asked = []

    def fake_provider(credential, scope):
        asked.append((type(credential).__name__, scope))
        return lambda: "token-from-identity"

    monkeypatch.setattr(model, "get_bearer_token_provider", fake_provider)
    client = model.make_openai_client(Settings(model_provider="azure", model_base_url="https://x.openai.azure.com"))
    assert isinstance(client, openai.AzureOpenAI)
    assert asked == [("DefaultAzureCredential", "https://cognitiveservices.azure.com/.default")]
    assert client._azure_ad_token_provider() == "token-from-identity"


def test_azure_openai_with_a_key_uses_the_key_and_no_identity(monkeypatch):
    monkeypatch.setattr(model, "get_bearer_token_provider", lambda *a: (_ for _ in ()).throw(AssertionError))
    client = model.make_openai_client(Settings(model_provider="azure", model_base_url="https://x.openai.azure.com"),
                                      "k")
    assert client.api_key == "k" and client._azure_ad_token_provider is None


def test_an_openai_compatible_endpoint_gets_its_key_and_the_embedded_model_needs_none():
    assert model.ModelClient(Settings(), api_key="sk-1").client.api_key == "sk-1"
    assert model.make_openai_client(Settings()).api_key == "no-key"


def test_the_model_key_is_read_once_from_the_secret_store_and_never_logged(caplog):
    secrets = FakeSecretStore(model_api_key="sk-secret-value")
    with caplog.at_level(logging.DEBUG):
        key = model.load_model_api_key(Settings(), secrets)
    assert key == "sk-secret-value" and secrets.reads == [("secretstore", "model-api-key")]
    assert "model-api-key" in caplog.text and "sk-secret-value" not in caplog.text


def test_a_missing_model_key_secret_means_no_key():
    assert model.load_model_api_key(Settings(), FakeSecretStore()) is None


def test_the_instant_stand_in_reads_no_secret():
    secrets = FakeSecretStore(model_api_key="sk-1")
    assert model.load_model_api_key(Settings(model_provider="instant"), secrets) is None and secrets.reads == []


def test_an_unreadable_secret_store_stops_the_start_up_with_the_reason():
    secrets = FakeSecretStore()
    secrets.down = True
    with pytest.raises(SecretUnavailableError, match="model-api-key"):
        model.load_model_api_key(Settings(), secrets)


def test_there_is_no_model_key_setting_any_more(monkeypatch):
    monkeypatch.setenv("BATON_MODEL_API_KEY", "sk-from-env")
    assert "sk-from-env" not in repr(Settings()) and not hasattr(Settings(), "model_api_key")
