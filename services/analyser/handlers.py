"""DataReceived -> a short model analysis -> AnalysisComplete (same correlation id)."""

import json
from functools import partial
from typing import Any

from services.common import sidecar
from services.common.contracts import AnalysisComplete, CloudEvent, DataReceived
from services.common.model import Model, ModelClient
from services.common.serve import StoresDep
from services.common.settings import get_settings
from services.common.subscriber import handle_once
from services.common.subscriptions import Subscription

INSTRUCTIONS = ("You are a data analyst. In two sentences, say what this data shows and whether "
                "anything in it looks unusual.")


def analyse(model: ModelClient, data: DataReceived, correlation_id: str, event: CloudEvent) -> dict[str, Any]:
    settings = get_settings()
    done = model.chat(INSTRUCTIONS, f"Source: {data.source}\nData: {json.dumps(data.payload)[:4000]}",
                      max_tokens=120)
    if not done.text:
        raise RuntimeError("the model returned an empty analysis")  # retried, then dead-lettered
    out_id = f"analysis-{event.id}"  # derived from the input: a re-publish is a recognisable duplicate
    outcome = AnalysisComplete(correlation_id=correlation_id, source=data.source, analysis=done.text,
                               data_event_id=event.id)
    sidecar.publish(settings.pubsub, "analysis-complete", outcome.model_dump(), event_id=out_id,
                    event_type="AnalysisComplete", ttl_seconds=settings.message_ttl_seconds)
    return {"published": out_id, "analysis": done.text[:500], "tokens": done.usage.completion_tokens}


def on_data_received(event: CloudEvent, model: Model, stores: StoresDep) -> dict[str, str]:
    return handle_once(event, "data-received", DataReceived, stores, partial(analyse, model))


SUBSCRIPTIONS = [Subscription("data-received", "/events/data-received", on_data_received)]
