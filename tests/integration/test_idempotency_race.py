"""Issue 11, item 3: the same CloudEvent delivered twice at the same moment has one effect.
Two publishes of one `cloudevent.id` at the same instant are two messages in the Redis
stream, which each subscriber's sidecar delivers in parallel (the pub/sub's concurrency)."""

import os
import threading
import time
import uuid

from infra.local.processes import ROOT, wait_until
from tests.integration.conftest import api, app_log_files, dapr_api
from tests.integration.test_hierarchical_events import chain_done, events_of
from tests.integration.test_sequential import use_orchestrator_sidecar

SUBSCRIBERS_OF_DATA = ("analyser", "notifier", "archiver")


def publish_twice_at_once(data: dict, event_id: str) -> None:
    start, answers = threading.Barrier(2), []

    def publish() -> None:
        start.wait()
        answers.append(dapr_api.post("/v1.0/publish/pubsub/data-received", json=data, timeout=10, params={
            "metadata.cloudevent.id": event_id, "metadata.cloudevent.type": "DataReceived"}).status_code)

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [204, 204]


def app_log_lines(app_id: str, *fragments: str) -> list[str]:
    """Lines of the app's logs (every run's) that hold every fragment."""
    lines = []
    for path in app_log_files(app_id):
        lines += [line for line in path.read_text(errors="replace").splitlines() if all(f in line for f in fragments)]
    return lines


def test_two_deliveries_of_one_event_at_the_same_instant_have_one_effect(baton, webhook):
    cid, event_id = f"race-{uuid.uuid4()}", f"evt-{uuid.uuid4()}"
    publish_twice_at_once({"correlation_id": cid, "source": "meter", "payload": {"kwh": 7}}, event_id)
    wait_until(chain_done(cid), timeout=120, what="the chain of the delivery that won")
    # The other delivery of each subscriber ends as a recognised duplicate, at once or after
    # waiting for the winner's outcome (the analyser's model call takes seconds).
    wait_until(lambda: all(app_log_lines(app, event_id, "duplicate delivery") for app in SUBSCRIBERS_OF_DATA),
               timeout=120, what="every subscriber's second delivery to be answered")

    for app in SUBSCRIBERS_OF_DATA:  # the handler ran once per subscriber: one model call, one file, one webhook
        assert len(app_log_lines(app, f"subscriber: processed DataReceived {event_id}")) == 1, app
    # The analyser's second delivery met the claim while the first was calling the model.
    assert app_log_lines("analyser", event_id, "being processed by another delivery")
    # One analysis published: the notifier never saw a second AnalysisComplete.
    assert not app_log_lines("notifier", f"analysis-{event_id}", "duplicate delivery")
    events = events_of(cid)
    assert sorted((e["subscriber"], e["event_id"]) for e in events) == sorted(
        [(s, event_id) for s in SUBSCRIBERS_OF_DATA] + [("notifier", f"analysis-{event_id}")])
    _url, received = webhook
    assert sorted(n["kind"] for n in received if n["correlation_id"] == cid) == ["analysis_complete", "data_received"]
    assert len(list((ROOT / ".data/artifacts").glob(f"data-{cid}-*.json"))) == 1
    assert api.get(f"/dead-letters/{event_id}", timeout=10).status_code == 404  # nobody gave up on it


def test_a_claim_in_redis_expires_with_its_ttl_and_renewal_keeps_it(baton, monkeypatch):
    """The claim's time to live through the real sidecar and Redis: a dead holder's claim
    frees itself, a live holder's is renewed past its TTL."""
    from dapr.conf import settings as dapr_settings

    from services.common import sidecar
    from services.common.claims import ClaimStore, claim_key
    from services.common.state import JsonDocuments

    use_orchestrator_sidecar(monkeypatch, dapr_settings)
    sidecar.dapr_client.cache_clear()
    try:
        docs = JsonDocuments("statestore")
        claims, event_id = ClaimStore(docs, ttl_seconds=3), f"ttl-{os.getpid()}-{uuid.uuid4()}"
        key = claim_key("it-subscriber", event_id)
        assert docs.create(key, {"token": "died"}, ttl_seconds=3)  # taken, never released
        with claims.held("it-subscriber", event_id) as taken:
            assert not taken
        wait_until(lambda: docs.get(key) is None, timeout=15, what="the claim to expire")
        with claims.held("it-subscriber", event_id) as taken:
            assert taken
            time.sleep(5)  # past the TTL: renewed every second
            assert docs.get(key) is not None
            with claims.held("it-subscriber", event_id) as other:
                assert not other
        assert docs.get(key) is None  # released
    finally:
        sidecar.dapr_client.cache_clear()
