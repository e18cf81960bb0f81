"""One notification per event, stored under its correlation id and optionally POSTed to
the webhook."""

from typing import Any

from services.common import sidecar
from services.common.contracts import AnalysisComplete, CloudEvent, DataReceived, utc_now
from services.common.notifications import Notification, NotificationStore
from services.common.serve import StoresDep
from services.common.settings import get_settings
from services.common.subscriber import handle_once
from services.common.subscriptions import Subscription


def notify(notifications: NotificationStore, kind: str, message: str, correlation_id: str,
           event: CloudEvent) -> dict[str, Any]:
    note = Notification(id=event.id, kind=kind, message=message, correlation_id=correlation_id,
                        created_at=utc_now())
    notifications.add(note)
    webhook = "not configured"
    if get_settings().webhook_url:
        # A failed delivery raises: the event is retried, then dead-lettered.
        sidecar.call_binding("webhook", "post", note.model_dump_json(), {"Content-Type": "application/json"})
        webhook = "delivered"
    return {"notification": note.id, "kind": kind, "webhook": webhook}


def on_data_received(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    def process(data: DataReceived, cid: str, ev: CloudEvent) -> dict[str, Any]:
        return notify(stores.notifications, "data_received", f"New data from {data.source}", cid, ev)

    return handle_once(event, "data-received", DataReceived, stores.events, process)


def on_analysis_complete(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    def process(data: AnalysisComplete, cid: str, ev: CloudEvent) -> dict[str, Any]:
        return notify(stores.notifications, "analysis_complete",
                      f"Analysis of {data.source} ready: {data.analysis[:300]}", cid, ev)

    return handle_once(event, "analysis-complete", AnalysisComplete, stores.events, process)


SUBSCRIPTIONS = [Subscription("data-received", "/events/data-received", on_data_received),
                 Subscription("analysis-complete", "/events/analysis-complete", on_analysis_complete)]
