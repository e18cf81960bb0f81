"""Dead letters and event logs in the real state store (Redis through the sidecars): a page
at a time and filtered, no letter dropped, a letter that says which subscriber failed and
why, and that is resolved once a replay has worked."""

import uuid

import httpx

from infra.local.processes import wait_until
from services.common.registry import REGISTRY
from tests.integration.conftest import api, dapr_api
from tests.integration.test_hierarchical_events import chain_done, publish

ARCHIVER_HEALTH = f"http://127.0.0.1:{REGISTRY.app('archiver').port}/health"


def all_pages(path: str, key: str, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        resp = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})}, timeout=30)
        assert resp.status_code == 200, resp.text
        pages.append(resp.json()[key])
        cursor = resp.json()["next_cursor"]
        if cursor is None:
            return pages


def state(key: str) -> dict | None:
    """A document as the state store holds it, read through the orchestrator's sidecar."""
    resp = dapr_api.get(f"/v1.0/state/statestore/{key}")
    assert resp.status_code in (200, 204), resp.text
    return resp.json() if resp.status_code == 200 else None


def test_dead_letters_past_one_index_page_are_each_listed_once_filtered_and_purged(baton):
    probe = f"Probe{uuid.uuid4().hex[:8]}"  # a type of its own: other tests' letters do not count
    ids = [f"{probe}-{n}" for n in range(150)]
    for event_id in ids:  # straight onto the dead-letter topic, as Dapr puts them there
        publish("dead-letters", {"source": "probe", "n": event_id}, event_id=event_id, event_type=probe)

    def listed() -> list[str]:
        return [d["id"] for page in all_pages("/dead-letters", "dead_letters", type=probe, limit=40) for d in page]

    wait_until(lambda: len(set(listed())) == 150, timeout=120, what="150 dead letters stored")
    letters = listed()
    assert sorted(letters) == sorted(ids)  # each exactly once, none dropped
    assert all(p == [] for p in all_pages("/dead-letters", "dead_letters", type=probe, topic="data-received"))

    head = state("baton:dead-letters:open:head")  # 150 letters: the index has gone past its first page
    assert head is not None and head["page"] > head["floor"]
    page = state(f"baton:dead-letters:open:page:{head['page'] - 1}")
    assert page is not None and len(page["slots"]) == 100  # small index pages, not one growing document
    assert state(f"baton:dead-letter:{ids[0]}")["event_id"] == ids[0]

    assert api.delete(f"/dead-letters/{ids[75]}").status_code == 204
    assert ids[75] not in listed() and len(listed()) == 149
    purged = api.delete("/dead-letters").json()["purged"]
    assert purged >= 149 and listed() == []


def test_a_failing_subscriber_is_named_in_its_dead_letter_which_resolves_after_a_working_replay(baton):
    spec = baton.kill_app("archiver")
    baton.launch({**spec, "env": {**spec["env"], "BATON_AGENT_FAIL": "true"}})  # every delivery fails
    try:
        wait_until(lambda: _up(ARCHIVER_HEALTH), timeout=60, what="the failing archiver")
        cid, event_id = f"dl-{uuid.uuid4()}", f"dl-{uuid.uuid4()}"
        publish("data-received", {"correlation_id": cid, "source": "pump-9", "payload": {"bar": 2}},
                event_id=event_id)

        def letter() -> dict | None:
            resp = api.get(f"/dead-letters/{event_id}", timeout=10)
            return resp.json() if resp.status_code == 200 else None

        got = wait_until(letter, timeout=120, what="the archiver's dead letter")
        assert got["status"] == "open" and got["topic"] == "data-received" and got["correlation_id"] == cid
        failure = got["failures"]["archiver"]
        assert failure["attempts"] >= 2 and len(failure["attempt_times"]) == failure["attempts"]
        assert "injected failure" in failure["last_error"] and failure["recovered_at"] is None
        assert set(got["failures"]) == {"archiver"}  # the analyser and the notifier did their part
    finally:
        baton.kill_app("archiver")
        baton.launch(spec)  # as configured again: it works
    wait_until(lambda: _up(ARCHIVER_HEALTH), timeout=60, what="the archiver, working again")

    assert api.post(f"/dead-letters/{event_id}/replay").status_code == 202
    resolved = wait_until(lambda: (d := letter()) and d["status"] == "resolved" and d, timeout=90,
                          what="the replayed letter to be resolved")
    assert resolved["replays"] == 1 and resolved["failures"]["archiver"]["recovered_at"]
    open_ids = [d["id"] for page in all_pages("/dead-letters", "dead_letters", topic="data-received") for d in page]
    assert event_id not in open_ids
    resolved_ids = [d["id"] for page in all_pages("/dead-letters", "dead_letters", status="resolved") for d in page]
    assert event_id in resolved_ids
    events = wait_until(chain_done(cid, expected=4), timeout=30, what="the archiver's record")
    assert sorted(e["subscriber"] for e in events if e["event_id"] == event_id) == ["analyser", "archiver",
                                                                                  "notifier"]
    assert api.delete(f"/dead-letters/{event_id}").status_code == 204


def test_an_event_log_is_read_a_page_at_a_time_from_small_documents(baton):
    cid = f"log-{uuid.uuid4()}"
    for n in range(3):
        publish("data-received", {"correlation_id": cid, "source": f"meter-{n}", "payload": {"n": n}})
    wait_until(chain_done(cid, expected=12), timeout=120, what="three event chains")
    pages = all_pages(f"/events/{cid}", "events", limit=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    keys = [(e["subscriber"], e["event_id"]) for page in pages for e in page]
    assert len(set(keys)) == 12
    assert state(f"baton:events:{cid}") is None  # no longer one document per correlation id
    assert len(state(f"baton:events:{cid}:page:0")["slots"]) == 12
    for bad in ({"limit": "0"}, {"cursor": "x"}, {"limit": "1e400"}):
        assert api.get(f"/events/{cid}", params=bad).status_code == 422


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
