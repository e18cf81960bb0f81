"""DataReceived -> a short model analysis -> AnalysisComplete (same correlation id)."""

import json
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends

from services.common import sidecar
from services.common.contracts import AnalysisComplete, CloudEvent, DataReceived
from services.common.model import ModelClient, get_model
from services.common.settings import get_settings
from services.common.subscriber import handle_once

router = APIRouter()
INSTRUCTIONS = ("You are a data analyst. In two sentences, say what this data shows and whether "
                "anything in it looks unusual.")


def analyse(model: ModelClient, data: DataReceived, correlation_id: str, event: CloudEvent) -> dict:
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


@router.post("/events/data-received")
def on_data_received(event: CloudEvent, model: Annotated[ModelClient, Depends(get_model)]) -> dict:
    return handle_once(event, "data-received", DataReceived, partial(analyse, model))
