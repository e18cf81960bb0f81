"""Issue 12, item 5: a token budget on the real system (real model). A sequential task whose
budget is smaller than one model call makes that one call, then none: it ends
`budget_exceeded`, naming what it used and what it skipped. The model requests are counted
in the agents' logs, where every request to the model server is logged with its task id."""

from infra.local.processes import wait_until
from tests.integration.conftest import app_log_files, workflow_instance
from tests.integration.test_sequential import get_task, start_content

MODEL_REQUEST = "/v1/chat/completions"


def model_requests(task_id: str) -> int:
    return sum(line.count(MODEL_REQUEST) for path in app_log_files()
               for line in path.read_text(errors="replace").splitlines() if f"task={task_id}" in line)


def test_a_budget_smaller_than_one_call_stops_the_task_after_that_call(baton):
    task_id = start_content("Budgets that hold", budget_tokens=1)
    task = wait_until(lambda: (t := get_task(task_id))["status"] not in ("pending", "in_progress") and t,
                      timeout=180, what="the task to end")
    assert task["status"] == "budget_exceeded", task.get("error")
    assert [s["name"] for s in task["steps"]] == ["research"] and task["budget_skipped"] == ["write (writer-agent)"]
    used = sum(u["prompt_tokens"] + u["completion_tokens"] for u in task["usage"].values())
    assert used > 1 and task["budget_tokens"] == 1
    assert task["error"] == f"token budget exceeded: used {used} of 1 tokens; skipped: write (writer-agent)"
    assert workflow_instance(task_id)["runtimeStatus"] == "FAILED"

    # Usage per agent and per model add up to the same, the research step's own usage.
    research = task["steps"][0]
    assert task["usage"] == {"research-agent": research["usage"]}
    assert task["usage_by_model"] == {research["result"]["model"]: research["usage"]}
    assert model_requests(task_id) == 1, "a model call was made after the budget ran out"
