"""One notification per event, stored under its correlation id (key
baton:notifications:<correlation_id>) and optionally POSTed to the webhook."""

import json
import logging

from fastapi import APIRouter

from services.common import sidecar
from services.common.contracts import AnalysisComplete, CloudEvent, DataReceived, utc_now
from services.common.events import notifications_key
from services.common.settings import get_settings
from services.common.state import JsonDocuments
from services.common.subscriber import handle_once

log = logging.getLogger(__name__)
router = APIRouter()


def notify(kind: str, message: str, correlation_id: str, event: CloudEvent) -> dict:
    settings = get_settings()
    note = {"id": event.id, "kind": kind, "message": message, "correlation_id": correlation_id,
            "created_at": utc_now()}

    def add(doc: dict) -> None:
        if all(n["id"] != note["id"] for n in doc["entries"]):
            doc["entries"].append(note)

    JsonDocuments(settings.state_store).update(notifications_key(correlation_id), add, default={"entries": []})
    webhook = "not configured"
    if settings.webhook_url:
        # A failed delivery raises: the event is retried, then dead-lettered.
        sidecar.call_binding("webhook", "post", json.dumps(note), {"Content-Type": "application/json"})
        webhook = "delivered"
    return {"notification": note["id"], "kind": kind, "webhook": webhook}


@router.post("/events/data-received")
def on_data_received(event: CloudEvent) -> dict:
    return handle_once(event, "data-received", DataReceived, lambda data, cid, ev: notify(
        "data_received", f"New data from {data.source}", cid, ev))


@router.post("/events/analysis-complete")
def on_analysis_complete(event: CloudEvent) -> dict:
    return handle_once(event, "analysis-complete", AnalysisComplete, lambda data, cid, ev: notify(
        "analysis_complete", f"Analysis of {data.source} ready: {data.analysis[:300]}", cid, ev))
