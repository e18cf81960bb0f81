"""Issue 13: GET /tasks on the real system (the task list in Redis, through the sidecar): 50
tasks listed newest first across pages, each once, and the pattern and status filters.

The tasks are cheap: consensus with one voter (and two parallel ones), each with a 1 s
deadline, so every task ends at its deadline whatever the model does; the model answers the
votes afterwards, in the background."""

from infra.local.processes import wait_until
from tests.integration.conftest import api

N, PAGE = 50, 7
ENDED = ("completed", "failed")


def start(n: int) -> tuple[str, str]:
    if n % 17 == 16:
        path, body = "/research-parallel", {"query": f"task list {n}", "deadline_seconds": 1}
    else:
        path, body = "/consensus", {"content": f"task list {n}", "task": "moderation", "voters": ["voter-lenient"],
                                    "deadline_seconds": 1}
    resp = api.post(path, json=body, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()["task_id"], resp.json()["workflow"]


def listed(wanted: set[str], **params) -> list[dict]:
    """Pages of `params` newest first, followed until every wanted id was listed (or the end):
    what they listed, in order, each page at most PAGE long."""
    found: list[dict] = []
    cursor = None
    while True:
        resp = api.get("/tasks", params={"limit": PAGE, **params, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["count"] == len(body["tasks"]) <= PAGE
        found += body["tasks"]
        cursor = body["next_cursor"]
        if cursor is None or wanted <= {task["task_id"] for task in found}:
            return found


def ours(found: list[dict], created: list[tuple[str, str]]) -> list[str]:
    mine = {task_id for task_id, _ in created}
    return [task["task_id"] for task in found if task["task_id"] in mine]


def test_fifty_tasks_are_listed_newest_first_across_pages_and_filtered(baton):
    created = [start(n) for n in range(N)]
    newest_first = [task_id for task_id, _ in reversed(created)]

    found = listed(set(newest_first))
    assert ours(found, created) == newest_first
    all_ids = [task["task_id"] for task in found]
    assert len(all_ids) == len(set(all_ids)), "a task listed twice"
    assert all_ids[:N] == newest_first  # nothing else was created meanwhile
    first = found[0]
    assert first["pattern"] == created[-1][1] and first["summary"] == f"moderation: task list {N - 1}"

    for pattern in ("consensus", "parallel"):
        expected = [task_id for task_id, p in reversed(created) if p == pattern]
        by_pattern = listed(set(expected), pattern=pattern)
        assert ours(by_pattern, created) == expected
        assert {task["pattern"] for task in by_pattern} == {pattern}
    assert ours(listed(set(), pattern="sequential"), created) == []  # set(): the first page only

    def statuses() -> dict[str, str] | None:
        page = api.get("/tasks", params={"limit": 100}).json()["tasks"]
        now = {task["task_id"]: task["status"] for task in page}
        return now if all(now.get(task_id) in ENDED for task_id in newest_first) else None

    ended = wait_until(statuses, timeout=120, interval=1, what="the 50 tasks to reach their 1 s deadline")
    for status in ENDED:
        expected = [task_id for task_id in newest_first if ended[task_id] == status]
        by_status = listed(set(expected), status=status)
        assert ours(by_status, created) == expected
        assert {task["status"] for task in by_status} <= {status}
    assert ours(listed(set(), status="pending"), created) == []
    some = newest_first[0]
    assert api.get(f"/task/{some}").json()["status"] == ended[some]
