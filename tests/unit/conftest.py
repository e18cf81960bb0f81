"""Every Baton app refuses requests that lack its sidecar's app token, and reads its
settings once: the unit tests run with a known token and fresh settings."""

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from services.common import sidecar
from services.common.settings import Settings, get_settings
from services.common.stores import build_stores
from tests.unit.fakes import FakeSecretStore, FakeWorkflows, MemoryDocuments, api_keys_json

APP_TOKEN = "unit-test-app-token"


@pytest.fixture(autouse=True)
def app_token(monkeypatch):
    monkeypatch.setenv("APP_API_TOKEN", APP_TOKEN)
    get_settings.cache_clear()
    yield APP_TOKEN
    get_settings.cache_clear()


@pytest.fixture
def make_orchestrator(monkeypatch):
    """The real orchestrator app (middleware, routers, API-key checks) with in-memory stores,
    a fake workflow engine, publishing recorded and a fake secret store holding `api_keys`
    (default TEST_KEYS), loaded unless `load=False`. `env` sets BATON_* settings first."""
    published: list[tuple] = []
    monkeypatch.setattr(sidecar, "publish", lambda *a, **k: published.append((a, k)))

    def make(api_keys: str | None = None, load: bool = True, **env: str) -> SimpleNamespace:
        for name, value in env.items():
            monkeypatch.setenv(f"BATON_{name.upper()}", value)
        get_settings.cache_clear()
        from services.orchestrator.main import create_app

        secrets = FakeSecretStore(api_keys=api_keys or api_keys_json())
        app = create_app(read_secret=secrets)
        stores, workflows = build_stores(Settings(), MemoryDocuments()), FakeWorkflows()
        app.state.stores, app.state.workflows = stores, workflows  # what the lifespan would build
        if load:
            app.state.api_guard.keys.refresh()
        return SimpleNamespace(app=app, client=TestClient(app), secrets=secrets, keys=app.state.api_guard.keys,
                               stores=stores, workflows=workflows, published=published)

    return make


@pytest.fixture
def orchestrator(make_orchestrator):
    return make_orchestrator()
