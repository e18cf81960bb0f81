"""Token budgets and cost (issue 12, item 5): every agent call first reads what is left of the
task's budget; once it is used up no call is made, the call is named as skipped and the task
ends `budget_exceeded`; usage and cost are kept per agent and per model, cost from a price
table per model."""

import json

import pytest
from dapr.ext.workflow._durabletask.task import NonRetryableError

from services.common import sidecar
from services.common.contracts import StepRecord, Usage, utc_now
from services.common.prices import PriceTable
from services.common.settings import Settings
from services.common.stores import build_stores
from services.common.tasks import BudgetExhaustedError, TaskAlreadyEndedError
from tests.unit.fakes import MemoryDocuments, with_key
from tests.unit.test_agent_routes import VOTE, ScriptedModel, make_voter
from workflows import activities
from workflows import runtime_deps as deps
from workflows.contracts import AgentCall, VoteCall

WRITE = with_key("write")


def step(name: str, agent: str, prompt: int, completion: int, model: str = "gpt-4o-mini") -> StepRecord:
    return StepRecord(name=name, completed_at=utc_now(), agent=agent, call_id=f"call-{name}",
                      usage=Usage(prompt_tokens=prompt, completion_tokens=completion),
                      result={"agent": agent, "model": model, "output": "x"})


@pytest.fixture
def stores():
    stores = build_stores(Settings(), MemoryDocuments())
    deps.install(Settings(), stores)
    return stores


def test_the_allowance_is_what_is_left_and_a_call_past_it_is_skipped_and_named(stores):
    tasks = stores.tasks
    tasks.create("t1", "sequential", {"topic": "x"}, budget_tokens=100)
    assert tasks.allowance("t1", "research (research-agent)") == 100
    tasks.add_step("t1", step("research", "research-agent", 60, 30))
    assert tasks.allowance("t1", "write (writer-agent)") == 10
    tasks.add_step("t1", step("write", "writer-agent", 5, 5))
    for _ in range(2):
        with pytest.raises(BudgetExhaustedError, match="used 100 of 100 tokens"):
            tasks.allowance("t1", "edit (editor-agent)")
    assert tasks.get("t1").budget_skipped == ["edit (editor-agent)"]  # named once
    tasks.create("t2", "sequential", {"topic": "x"})
    assert tasks.allowance("t2", "research") is None  # no budget
    tasks.cancel("t2")
    with pytest.raises(TaskAlreadyEndedError):
        tasks.allowance("t2", "research")


def test_a_task_that_skipped_a_call_for_its_budget_ends_budget_exceeded_whatever_its_pattern_says(stores):
    tasks = stores.tasks
    tasks.create("t1", "parallel", {"query": "q"}, budget_tokens=10)
    tasks.add_step("t1", step("web-researcher", "web-researcher", 8, 4))
    with pytest.raises(BudgetExhaustedError):
        tasks.allowance("t1", "news-researcher")
    task = tasks.save_status("t1", "completed", result={"partial": True})
    assert task.status == "budget_exceeded" and task.result == {"partial": True}
    assert task.error == "token budget exceeded: used 12 of 10 tokens; skipped: news-researcher"
    tasks.create("t2", "parallel", {"query": "q"}, budget_tokens=10)
    assert tasks.save_status("t2", "completed").status == "completed"  # nothing skipped


def test_no_agent_is_called_once_the_budget_is_used_up(stores, monkeypatch):
    stores.tasks.create("t1", "sequential", {"topic": "x"}, budget_tokens=5)
    stores.tasks.add_step("t1", step("research", "research-agent", 4, 2))
    monkeypatch.setattr(sidecar, "invoke", lambda *a, **k: pytest.fail("an agent was called past the budget"))
    with pytest.raises(NonRetryableError, match=r"^skipped: token budget exceeded: the task used 6 of 5"):
        activities.call_agent(None, AgentCall(task_id="t1", app_id="writer-agent", prompt="p", step="write"))
    assert stores.tasks.get("t1").budget_skipped == ["write (writer-agent)"]


def test_a_voter_is_told_what_is_left_and_stops_asking_when_it_is_used(stores, monkeypatch):
    stores.tasks.create("t1", "consensus", {"content": "c"}, budget_tokens=50)
    stores.tasks.add_step("t1", step("voter-strict", "voter-strict", 20, 10))
    sent = []
    monkeypatch.setattr(sidecar, "invoke", lambda app, method, body, timeout: sent.append(body) or {
        "agent": app, "label": "safe", "usage": {}})
    activities.cast_vote(None, VoteCall(task_id="t1", app_id="voter-lenient", content="c", task="moderation",
                                        labels=["safe", "unsafe"]))
    assert sent[0]["budget_tokens_left"] == 20

    model = ScriptedModel(["not json", '{"label": "safe", "confidence": 0.6, "rationale": "fine"}'])
    body = make_voter(model).post("/vote", json={**VOTE, "budget_tokens_left": 4}).json()
    assert len(model.calls) == 1, "the voter asked the model again past the task's budget"
    assert body["abstained"] and body["attempts"] == 1 and "token budget (4 left)" in body["rationale"]


def test_usage_is_kept_per_agent_and_per_model(stores):
    tasks = stores.tasks
    tasks.create("t1", "hierarchical", {"goal": "g"})
    tasks.add_step("t1", step("a", "web-scraper", 10, 5, model="gpt-4o-mini"))
    tasks.add_step("t1", step("b", "writer-agent", 1, 1, model="gpt-4o"))
    tasks.merge_tree_node("t1", ["managers"], {"status": "x"}, usage=("editor-agent", Usage(prompt_tokens=2)),
                          call_id="c3", model="gpt-4o")
    task = tasks.get("t1")
    assert set(task.usage) == {"web-scraper", "writer-agent", "editor-agent"}
    assert {name: u.tokens for name, u in task.usage_by_model.items()} == {"gpt-4o-mini": 15, "gpt-4o": 4}


def test_a_model_is_priced_by_the_table_and_a_dated_version_as_its_model(tmp_path):
    table = PriceTable.load(Settings())
    assert table.cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == 0.75  # not gpt-4o's 12.50
    assert table.cost("GPT-4o", 1000, 1000) == 0.0125
    assert table.cost("smollm2-135m-instruct", 10**6, 10**6) == 0.0
    fallback = PriceTable.load(Settings(price_prompt_per_1k=0.01, price_completion_per_1k=0.03))
    assert fallback.cost("some-new-model", 1000, 500) == 0.025
    own = tmp_path / "prices.json"
    own.write_text(json.dumps({"usd_per_1m_tokens": {"my-model": {"input": 1, "output": 2}}}))
    mine = PriceTable.load(Settings(price_table_file=str(own)))
    assert mine.cost("my-model-v2", 10**6, 10**6) == 3.0 and mine.cost("gpt-4o", 10**6, 0) == 0.0


def test_a_request_sets_its_budget_or_takes_the_default(make_orchestrator):
    api = make_orchestrator(default_budget_tokens="500")
    own = api.client.post("/create-content", headers=WRITE, json={"topic": "x", "budget_tokens": 40.0})
    assert own.status_code == 202, own.text
    assert api.stores.tasks.get(own.json()["task_id"]).budget_tokens == 40
    assert "budget_tokens" not in api.workflows.scheduled[0][1]  # kept in the task, not the workflow input
    default = api.client.post("/research-parallel", headers=WRITE, json={"query": "q"})
    assert api.stores.tasks.get(default.json()["task_id"]).budget_tokens == 500
    for bad in (0, -1, "40", 40.5, True, 10**9):
        resp = api.client.post("/create-content", headers=WRITE, json={"topic": "x", "budget_tokens": bad})
        assert resp.status_code == 422, (bad, resp.text)
