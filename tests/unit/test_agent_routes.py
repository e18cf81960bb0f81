from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.agent import routes
from services.common.contracts import Usage
from services.common.model import Completion
from services.common.settings import Settings, get_settings


class FakeModel:
    def __init__(self, text="An answer.", error: Exception | None = None):
        self.text, self.error, self.calls = text, error, []

    def chat(self, instructions, user_input, *, max_tokens=None, json_schema=None):
        self.calls.append((instructions, user_input, max_tokens))
        if self.error:
            raise self.error
        return Completion(text=self.text, model="m", usage=Usage(prompt_tokens=3, completion_tokens=2),
                          elapsed_seconds=0.1)


def make_client(model, **settings) -> TestClient:
    app = FastAPI()
    app.include_router(routes.router)
    app.dependency_overrides[routes.get_model] = lambda: model
    app.dependency_overrides[get_settings] = lambda: Settings(APP_ID="writer-agent", agent_role="writer", **settings)
    return TestClient(app)


def test_agent_runs_its_role_instructions_on_the_input_and_reports_usage():
    model = FakeModel()
    resp = make_client(model).post("/run", json={"task_id": "t", "input": "notes"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["agent"] == "writer-agent" and body["role"] == "writer" and body["output"] == "An answer."
    assert body["usage"]["prompt_tokens"] == 3
    instructions, user_input, _ = model.calls[0]
    assert "writer" in instructions and user_input == "notes"


@pytest.mark.parametrize("payload", [{}, {"task_id": "t"}, {"task_id": "t", "input": ""},
                                     {"task_id": "", "input": "x"}, {"task_id": "t", "input": "x", "extra": 1}])
def test_agent_rejects_bad_requests_with_422(payload):
    assert make_client(FakeModel()).post("/run", json=payload).status_code == 422


def test_model_failure_is_a_502_that_names_the_error():
    resp = make_client(FakeModel(error=ConnectionError("refused"))).post("/run", json={"task_id": "t", "input": "x"})
    assert resp.status_code == 502 and "refused" in resp.text


def test_empty_model_answer_is_a_502():
    resp = make_client(FakeModel(text="")).post("/run", json={"task_id": "t", "input": "x"})
    assert resp.status_code == 502


def test_fault_in_request_needs_fault_injection_enabled():
    body = {"task_id": "t", "input": "x", "fault": {"fail": True}}
    assert make_client(FakeModel()).post("/run", json=body).status_code == 403
    resp = make_client(FakeModel(), allow_fault_injection=True).post("/run", json=body)
    assert resp.status_code == 503 and "injected" in resp.text


def test_configured_fault_makes_every_request_fail():
    resp = make_client(FakeModel(), agent_fail=True).post("/run", json={"task_id": "t", "input": "x"})
    assert resp.status_code == 503
