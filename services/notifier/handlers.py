"""One notification per event, stored under its correlation id and POSTed to the webhook
when the secret `webhook-url` is set (the sidecar's `webhook` binding reads the URL from
the secret store; this code only asks whether it is there)."""

from functools import lru_cache
from typing import Any

from services.common import sidecar
from services.common.contracts import AnalysisComplete, CloudEvent, DataReceived, utc_now
from services.common.notifications import Notification, NotificationStore
from services.common.serve import StoresDep
from services.common.settings import get_settings
from services.common.subscriber import handle_once
from services.common.subscriptions import Subscription

WEBHOOK = "webhook"  # the HTTP output binding component
WEBHOOK_URL_SECRET = "webhook-url"


@lru_cache
def webhook_configured() -> bool:
    """Asked once: the binding reads its secret when the sidecar starts. Not "is the component
    loaded": without the secret, daprd still loads the HTTP binding, with an empty URL."""
    return bool(sidecar.read_secret(get_settings().secret_store, WEBHOOK_URL_SECRET))


def notify(notifications: NotificationStore, kind: str, message: str, correlation_id: str,
           event: CloudEvent) -> dict[str, Any]:
    note = Notification(id=event.id, kind=kind, message=message, correlation_id=correlation_id,
                        created_at=utc_now())
    notifications.add(note)
    webhook = "not configured"
    if webhook_configured():
        # A failed delivery raises: the event is retried, then dead-lettered.
        sidecar.call_binding(WEBHOOK, "post", note.model_dump_json(), {"Content-Type": "application/json"})
        webhook = "delivered"
    return {"notification": note.id, "kind": kind, "webhook": webhook}


def on_data_received(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    def process(data: DataReceived, cid: str, ev: CloudEvent) -> dict[str, Any]:
        return notify(stores.notifications, "data_received", f"New data from {data.source}", cid, ev)

    return handle_once(event, "data-received", DataReceived, stores, process)


def on_analysis_complete(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    def process(data: AnalysisComplete, cid: str, ev: CloudEvent) -> dict[str, Any]:
        return notify(stores.notifications, "analysis_complete",
                      f"Analysis of {data.source} ready: {data.analysis[:300]}", cid, ev)

    return handle_once(event, "analysis-complete", AnalysisComplete, stores, process)


SUBSCRIPTIONS = [Subscription("data-received", "/events/data-received", on_data_received),
                 Subscription("analysis-complete", "/events/analysis-complete", on_analysis_complete)]
