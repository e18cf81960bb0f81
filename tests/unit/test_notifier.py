"""The notifier posts to the webhook only when the secret `webhook-url` is set (the sidecar's
binding resolves the URL itself); otherwise it stores notifications only."""

import pytest

from services.common import sidecar
from services.common.contracts import CloudEvent
from services.common.notifications import NotificationStore
from services.notifier import handlers
from tests.unit.fakes import MemoryDocuments


@pytest.mark.parametrize("secret, outcome", [("https://example.test/hook", "delivered"),
                                             (None, "not configured"), ("", "not configured")])
def test_the_webhook_is_used_only_when_its_url_secret_is_set(monkeypatch, secret, outcome):
    calls, asked = [], []
    monkeypatch.setattr(sidecar, "read_secret", lambda store, name: asked.append((store, name)) or secret)
    monkeypatch.setattr(sidecar, "call_binding", lambda *a, **k: calls.append(a))
    handlers.webhook_configured.cache_clear()
    store = NotificationStore(MemoryDocuments())
    done = handlers.notify(store, "data_received", "New data", "c1", CloudEvent(id="e1"))
    handlers.notify(store, "data_received", "New data", "c1", CloudEvent(id="e2"))
    handlers.webhook_configured.cache_clear()
    assert done["webhook"] == outcome and len(calls) == 2 * (outcome == "delivered")
    assert asked == [("secretstore", "webhook-url")]  # asked once, not per event
    assert [n.id for n in store.list("c1")] == ["e1", "e2"]
