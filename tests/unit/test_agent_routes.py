from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.agent import routes
from services.common.contracts import Usage
from services.common.model import Completion, get_model
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
    app.dependency_overrides[get_model] = lambda: model
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


class ScriptedModel(FakeModel):
    """Answers with the given texts in turn."""

    def __init__(self, texts):
        super().__init__()
        self.texts = list(texts)

    def chat(self, instructions, user_input, *, max_tokens=None, json_schema=None):
        self.calls.append((instructions, user_input, json_schema))
        return Completion(text=self.texts.pop(0), model="m", usage=Usage(prompt_tokens=3, completion_tokens=2),
                          elapsed_seconds=0.1)


def make_voter(model) -> TestClient:
    from services.agent import voting

    app = FastAPI()
    app.include_router(voting.router)
    app.dependency_overrides[get_model] = lambda: model
    app.dependency_overrides[get_settings] = lambda: Settings(APP_ID="voter-strict", agent_role="voter-strict")
    return TestClient(app)


VOTE = {"task_id": "t", "content": "some text", "task": "moderation", "labels": ["safe", "unsafe"]}


def test_voter_returns_a_structured_verdict_constrained_to_the_labels():
    model = ScriptedModel(['{"label": "unsafe", "confidence": 0.8, "rationale": "insult"}'])
    body = make_voter(model).post("/vote", json=VOTE).json()
    assert body == {**body, "agent": "voter-strict", "label": "unsafe", "confidence": 0.8, "abstained": False,
                    "attempts": 1}
    schema = model.calls[0][2]
    assert schema["properties"]["label"]["enum"] == ["safe", "unsafe"]


def test_voter_asks_once_more_when_the_output_does_not_parse():
    model = ScriptedModel(["not json", '{"label": "safe", "confidence": 0.6, "rationale": "fine"}'])
    body = make_voter(model).post("/vote", json=VOTE).json()
    assert body["label"] == "safe" and body["attempts"] == 2 and body["usage"]["prompt_tokens"] == 6


def test_voter_abstains_after_two_unusable_answers():
    model = ScriptedModel(['{"label": "maybe", "confidence": 0.5, "rationale": "x"}',
                           '{"label": "safe", "confidence": 7, "rationale": "x"}'])
    body = make_voter(model).post("/vote", json=VOTE).json()
    assert body["abstained"] is True and body["label"] is None and body["attempts"] == 2
    assert "no valid verdict" in body["rationale"]


def test_a_non_voter_role_refuses_to_vote():
    from services.agent import voting

    app = FastAPI()
    app.include_router(voting.router)
    app.dependency_overrides[get_model] = lambda: FakeModel()
    app.dependency_overrides[get_settings] = lambda: Settings(APP_ID="writer-agent", agent_role="writer")
    assert TestClient(app).post("/vote", json=VOTE).status_code == 404


def test_instant_model_is_deterministic_and_follows_the_vote_schema():
    from services.agent.voting import parse_verdict, verdict_schema
    from services.common.model import ModelClient

    model = ModelClient(Settings(model_provider="instant"))
    a = model.chat("be brief", "one two three", max_tokens=4)
    assert a.text == model.chat("be brief", "one two three", max_tokens=4).text == "Instant stand-in reply to:"
    vote = model.chat("judge", "text", json_schema=verdict_schema(["unsafe", "safe"]))
    assert parse_verdict(vote.text, ["unsafe", "safe"]).label == "unsafe"


def test_model_client_sends_the_configured_request_and_reads_usage():
    from services.common.model import ModelClient

    sent = {}

    class FakeCompletions:
        def create(self, **kwargs):
            sent.update(kwargs)
            message = SimpleNamespace(content=" text ")
            return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop")], model="m",
                                   usage=SimpleNamespace(prompt_tokens=1000, completion_tokens=500))

    client = SimpleNamespace(chat=SimpleNamespace(completions=FakeCompletions()))
    settings = Settings(model_name="gpt-x", price_prompt_per_1k=0.01, price_completion_per_1k=0.03)
    done = ModelClient(settings, client=client).chat("sys", "user", max_tokens=50)
    assert done.text == "text" and done.usage.estimated_cost_usd == 0.025
    assert sent["model"] == "gpt-x" and sent["max_tokens"] == 50 and sent["frequency_penalty"] == 0.5
    assert sent["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "user"}]
    sent.clear()
    ModelClient(settings, client=client).chat("sys", "user", json_schema={"type": "object"})
    assert "frequency_penalty" not in sent and sent["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_voter_rejects_repeated_labels_with_422():
    resp = make_voter(ScriptedModel([])).post("/vote", json={**VOTE, "labels": ["safe", "safe"]})
    assert resp.status_code == 422 and "labels must be unique" in resp.text


def test_voter_model_failure_is_a_502():
    resp = make_voter(FakeModel(error=ConnectionError("refused"))).post("/vote", json=VOTE)
    assert resp.status_code == 502 and "refused" in resp.text
