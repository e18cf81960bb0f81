"""How the model client authenticates: a key when one is set, Microsoft Entra ID (the
managed identity in Azure) for Azure OpenAI when none is."""

import openai
from pydantic import SecretStr

from services.common import model
from services.common.settings import Settings


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
    client = model.make_openai_client(Settings(model_provider="azure", model_base_url="https://x.openai.azure.com",
                                               model_api_key=SecretStr("k")))
    assert client.api_key == "k" and client._azure_ad_token_provider is None


def test_an_openai_compatible_endpoint_gets_its_key_and_the_embedded_model_needs_none():
    assert model.make_openai_client(Settings(model_api_key=SecretStr("sk-1"))).api_key == "sk-1"
    assert model.make_openai_client(Settings()).api_key == "no-key"


def test_the_key_never_shows_in_the_settings_repr():
    assert "sk-secret" not in repr(Settings(model_api_key=SecretStr("sk-secret")))
