"""DataReceived -> artifacts/data-<correlation id>-<event id>.json. The name comes from the
event, so storing the same event again overwrites one file instead of adding another."""

import json
import re
from typing import Any

from services.common import sidecar
from services.common.contracts import CloudEvent, DataReceived, utc_now
from services.common.serve import StoresDep
from services.common.settings import get_settings
from services.common.subscriber import handle_once
from services.common.subscriptions import Subscription


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]


def archive(data: DataReceived, correlation_id: str, event: CloudEvent) -> dict[str, Any]:
    name = f"data-{safe(correlation_id)}-{safe(event.id)}.json"
    record = {"event_id": event.id, "correlation_id": correlation_id, "source": data.source,
              "payload": data.payload, "archived_at": utc_now()}
    sidecar.write_artifact(get_settings().artifacts_binding, name, json.dumps(record), "application/json")
    return {"artifact": name}


def on_data_received(event: CloudEvent, stores: StoresDep) -> dict[str, str]:
    return handle_once(event, "data-received", DataReceived, stores, archive)


SUBSCRIPTIONS = [Subscription("data-received", "/events/data-received", on_data_received)]
