"""Exactly one effect per (subscriber, event id), even when deliveries race: the claim a
delivery takes before its work (services/common/claims.py, services/common/subscriber.py)."""

import json
import re
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
import yaml

from services.common import state, subscriber
from services.common.claims import ClaimStore, claim_key
from services.common.contracts import CloudEvent, DataReceived
from services.common.events import EventLog
from services.common.settings import Settings
from tests.unit.dapr_errors import sidecar_error
from tests.unit.fakes import MemoryDocuments

ROOT = Path(__file__).resolve().parents[2]
KEY = claim_key("baton", "e1")  # APP_ID defaults to "baton"


class WatchedDocuments(MemoryDocuments):
    """Sets `claim_refused` when a delivery finds the claim taken."""

    def __init__(self):
        super().__init__()
        self.claim_refused = threading.Event()

    def create(self, key, doc, ttl_seconds=None):
        created = super().create(key, doc, ttl_seconds)
        if not created and key.startswith("baton:claim:"):
            self.claim_refused.set()
        return created


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setattr(subscriber, "CLAIM_POLL_SECONDS", 0.01)
    docs = WatchedDocuments()
    stores = SimpleNamespace(events=EventLog(docs), claims=ClaimStore(docs, ttl_seconds=45))
    return SimpleNamespace(docs=docs, stores=stores, events=stores.events)


def deliver(env, process, event_id="e1"):
    event = CloudEvent(id=event_id, type="DataReceived", topic="data-received",
                       data={"source": "s", "payload": {}, "correlation_id": "c1"})
    return subscriber.handle_once(event, "data-received", DataReceived, env.stores, process)


def race(*deliveries):
    """Start every delivery at the same instant; their answers (or errors), in order."""
    start, answers = threading.Barrier(len(deliveries)), [None] * len(deliveries)

    def run(i, delivery):
        start.wait()
        try:
            answers[i] = delivery()
        except Exception as err:
            answers[i] = err

    threads = [threading.Thread(target=run, args=(i, d)) for i, d in enumerate(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return answers


def test_two_deliveries_racing_run_the_handler_once_and_both_answer_success(env, caplog):
    calls = []

    def model_call(data, cid, event):
        calls.append(event.id)
        assert env.docs.claim_refused.wait(5), "the other delivery never met the claim"  # a real race
        return {"analysis": "once"}

    caplog.set_level("INFO")
    answers = race(lambda: deliver(env, model_call), lambda: deliver(env, model_call))
    assert answers == [subscriber.SUCCESS, subscriber.SUCCESS]
    assert calls == ["e1"]
    assert [(r.event_id, r.outcome) for r in env.events.list("c1")] == [("e1", "processed")]
    assert "being processed by another delivery" in caplog.text and "duplicate delivery" in caplog.text
    assert env.docs.get(KEY) is None  # released once the result was recorded


def test_a_failed_delivery_releases_its_claim_so_the_retry_does_the_work(env):
    outcomes = iter([ConnectionError("model down"), {"ok": True}])

    def flaky(*args):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(ConnectionError):
        deliver(env, flaky)
    assert env.docs.get(KEY) is None and env.events.list("c1") == []
    assert deliver(env, flaky) == subscriber.SUCCESS
    assert [r.outcome for r in env.events.list("c1")] == ["processed"]


def test_a_waiting_duplicate_does_the_work_itself_when_the_holder_fails(env):
    calls = []

    def fails_first(data, cid, event):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            assert env.docs.claim_refused.wait(5)
            raise ConnectionError("model down")
        return {"ok": True}

    answers = race(lambda: deliver(env, fails_first), lambda: deliver(env, fails_first))
    assert sorted(map(repr, answers)) == sorted([repr(ConnectionError("model down")), repr(subscriber.SUCCESS)])
    assert len(calls) == 2 and len(set(calls)) == 2  # the second delivery did the work
    assert [r.outcome for r in env.events.list("c1")] == ["processed"]


def test_the_claim_of_a_delivery_that_died_expires_and_can_be_taken_again(env, monkeypatch):
    clock = [1000.0]
    env.docs.now = lambda: clock[0]
    # A delivery took the claim, then its process was killed (kill -9): nobody releases it.
    assert env.docs.create(KEY, {"token": "dead"}, ttl_seconds=45)
    monkeypatch.setattr(subscriber.get_settings(), "claim_wait_seconds", 0)
    calls = []
    process = lambda *a: calls.append(1) or {}  # noqa: E731
    assert deliver(env, process) == subscriber.RETRY  # still claimed: Dapr retries the delivery later
    assert calls == []
    clock[0] += 46  # the pub/sub redelivers after 60 s, when the claim's 45 s have passed
    assert deliver(env, process) == subscriber.SUCCESS
    assert calls == [1] and [r.outcome for r in env.events.list("c1")] == ["processed"]


def test_a_claim_is_renewed_while_long_work_runs():
    docs = MemoryDocuments()
    claims = ClaimStore(docs, ttl_seconds=1)  # renewed every third of a second
    with claims.held("baton", "e1") as mine:
        assert mine
        time.sleep(1.5)  # longer than the time to live
        with claims.held("baton", "e1") as other:
            assert not other
    assert docs.get(KEY) is None


def test_a_delivery_releases_only_its_own_claim():
    clock = [0.0]
    docs = MemoryDocuments()
    docs.now = lambda: clock[0]
    claims = ClaimStore(docs, ttl_seconds=45)
    with claims.held("baton", "e1") as first:
        assert first
        clock[0] += 46  # the first delivery's claim expired (its process stalled, its renewals failed) ...
        second = claims.held("baton", "e1")
        assert second.__enter__()  # ... and another delivery took the event
        taken_by = docs.get(KEY)["token"]
    assert docs.get(KEY)["token"] == taken_by  # the first one's release left it alone
    second.__exit__(None, None, None)
    assert docs.get(KEY) is None


def test_a_malformed_event_is_dropped_without_a_claim(env):
    event = CloudEvent(id="bad", type="DataReceived", data={"payload": 1})
    assert subscriber.handle_once(event, "data-received", DataReceived, env.stores, lambda *a: {}) == subscriber.DROP
    assert not [k for k in env.docs.docs if k.startswith("baton:claim:")]


def test_the_claim_expires_before_the_pubsub_redelivers_an_unacknowledged_message():
    ttl = Settings.model_fields["claim_ttl_seconds"].default
    pubsub = yaml.safe_load((ROOT / "components/pubsub.yaml").read_text())
    meta = {m["name"]: m["value"] for m in pubsub["spec"]["metadata"]}
    assert ttl < int(meta["processingTimeout"].removesuffix("s"))  # Redis streams, locally
    lock = re.search(r"lockDuration: 'PT(\d+)([MS])'", (ROOT / "infra/modules/servicebus.bicep").read_text())
    assert lock and ttl < int(lock[1]) * (60 if lock[2] == "M" else 1)  # Service Bus, in Azure


class RecordingDaprClient:
    """The state calls JsonDocuments makes, as the SDK's DaprClient takes them."""

    def __init__(self, stored=None, delete_error=None):
        self.stored, self.delete_error, self.calls = stored, delete_error, []

    def get_state(self, store, key, state_metadata=None):
        data = json.dumps(self.stored).encode() if self.stored else b""
        return SimpleNamespace(data=data, etag="7" if self.stored else "")

    def save_state(self, store, key, value, etag=None, options=None, state_metadata=None):
        self.calls.append(("save", key, etag, options.concurrency.name, state_metadata))

    def delete_state(self, store, key, etag=None, options=None):
        self.calls.append(("delete", key, etag))
        if self.delete_error:
            raise self.delete_error


def test_claims_reach_the_state_store_with_their_time_to_live_and_etag(monkeypatch):
    client = RecordingDaprClient()
    monkeypatch.setattr(state, "dapr_client", lambda: client)
    docs = state.JsonDocuments("statestore")
    assert docs.create(KEY, {"token": "a"}, ttl_seconds=45)
    assert client.calls[-1] == ("save", KEY, None, "first_write", {"ttlInSeconds": "45"})
    client.stored = {"token": "a"}
    docs.update(KEY, lambda doc: None, ttl_seconds=45)  # a renewal: ETag-guarded, time to live again
    assert client.calls[-1] == ("save", KEY, "7", "first_write", {"ttlInSeconds": "45"})
    assert not docs.delete(KEY, when=lambda doc: doc["token"] == "b") and client.calls[-1][0] == "save"
    assert docs.delete(KEY, when=lambda doc: doc["token"] == "a")
    assert client.calls[-1] == ("delete", KEY, "7")


def test_a_release_that_loses_to_a_newer_write_deletes_nothing(monkeypatch):
    conflict = sidecar_error(grpc.StatusCode.ABORTED, "possible etag mismatch", "ERR_STATE_DELETE")
    client = RecordingDaprClient(stored={"token": "a"}, delete_error=conflict)
    monkeypatch.setattr(state, "dapr_client", lambda: client)
    assert state.JsonDocuments("statestore").delete(KEY, when=lambda doc: True) is False


def test_an_event_id_that_is_no_plain_id_gets_a_state_key_dapr_accepts():
    from services.common.claims import claim_key

    assert claim_key("analyser", "evt-1") == "baton:claim:analyser:evt-1"
    odd = claim_key("analyser", "a||b\n")
    assert "||" not in odd and "\n" not in odd and odd.startswith("baton:claim:analyser:sha256-")
