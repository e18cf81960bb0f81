"""A throwaway app that proves the local platform works: run under `dapr run` as
probe-worker (hosts a one-activity workflow, and one that starts another app's workflow) or
probe-listener (a pub/sub subscriber)."""

import asyncio
import os
from contextlib import asynccontextmanager

import uvicorn
from dapr.ext.fastapi import DaprApp
from dapr.ext.workflow import DaprWorkflowClient, WorkflowRuntime
from fastapi import FastAPI

ROLE = os.environ["PROBE_ROLE"]
received: list[dict] = []
runtime = WorkflowRuntime()


@runtime.activity(name="double")
def double(ctx, x: int) -> int:
    return 2 * x


@runtime.workflow(name="probe_workflow")
def probe_workflow(ctx, x: int):
    return (yield ctx.call_activity(double, input=x))


@runtime.workflow(name="probe_cross_app")
def probe_cross_app(ctx, body: dict):
    """Start a workflow of another app as a child: the target's workflow access policy decides."""
    return (yield ctx.call_child_workflow(body["workflow"], input=body["input"], app_id=body["app_id"]))


@asynccontextmanager
async def lifespan(app: FastAPI):
    if ROLE == "worker":
        await asyncio.to_thread(runtime.start)
    yield
    if ROLE == "worker":
        runtime.shutdown()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
def health() -> dict:
    return {"role": ROLE}


@app.post("/workflow")
def run_workflow(body: dict) -> dict:
    client = DaprWorkflowClient()
    instance = client.schedule_new_workflow(probe_workflow, input=body["x"])
    state = client.wait_for_workflow_completion(instance, timeout_in_seconds=60)
    return {"instance": instance, "status": state.runtime_status.name, "output": state.serialized_output}


@app.post("/cross-app")
def run_cross_app(body: dict) -> dict:
    client = DaprWorkflowClient()
    instance = client.schedule_new_workflow(probe_cross_app, input=body)
    state = client.wait_for_workflow_completion(instance, timeout_in_seconds=60)
    failure = state.failure_details.message if state.failure_details else None
    return {"instance": instance, "status": state.runtime_status.name, "failure": failure}


if ROLE == "listener":
    dapr_app = DaprApp(app)

    @dapr_app.subscribe(pubsub="pubsub", topic="probe-topic")
    def on_probe(event: dict) -> dict:
        received.append(event)
        return {"status": "SUCCESS"}


@app.get("/received")
def list_received() -> list[dict]:
    return received


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PROBE_PORT"]))
