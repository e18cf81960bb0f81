"""The soak's client (bench/soak/traffic.py) against a fake of the orchestrator's API
(httpx.MockTransport): it waits out 429 and 503, tries a refused connection again, counts a
lost answer as ambiguous, and stops at a 4xx, which retrying cannot fix."""

import asyncio

import httpx
import pytest

from bench.soak import traffic as soak_traffic
from bench.soak.checks import Submission
from bench.soak.clock import Clock
from bench.soak.traffic import SoakAbortedError, Traffic


def submit_through(answers: list) -> tuple[Submission, Traffic]:
    """Submit one sequential task; the fake API gives `answers` in turn (a response, or an
    exception to raise)."""
    pending = list(answers)

    def api(request: httpx.Request) -> httpx.Response:
        answer = pending.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def go() -> tuple[Submission, Traffic]:
        async with httpx.AsyncClient(base_url="http://baton", transport=httpx.MockTransport(api)) as http:
            traffic, sub = Traffic(http, Clock()), Submission(0, "sequential")
            await traffic.submit(sub)
            return sub, traffic

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(soak_traffic, "PAUSE_SECONDS", 0)


def test_429_and_503_are_waited_out_and_a_refused_connection_is_tried_again():
    started = httpx.Response(202, json={"task_id": "t-1", "status": "started"})
    sub, traffic = submit_through([
        httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(503, headers={"Retry-After": "0"}),
        httpx.ConnectError("refused"), started])
    assert sub.accepted == {"task_id": "t-1", "status": "started"}
    counts = traffic.counts
    assert (counts.throttled, counts.unavailable, counts.connection_errors, counts.ambiguous) == (1, 1, 1, [])


def test_an_answer_lost_after_sending_is_counted_as_ambiguous_and_the_task_sent_again():
    sub, traffic = submit_through([httpx.ReadError("reset"), httpx.Response(202, json={"task_id": "t-2"})])
    assert sub.accepted == {"task_id": "t-2"} and traffic.counts.ambiguous == [""]


def test_a_4xx_stops_the_soak():
    with pytest.raises(SoakAbortedError, match="401"):
        submit_through([httpx.Response(401, json={"detail": "no key"})])
