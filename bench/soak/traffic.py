"""The soak's client: submit a task of any pattern through the public API and read what
became of it, politely: a 429 or 503 is waited out for its Retry-After, a refused connection
(the orchestrator restarting) is tried again shortly, and every such wait is counted."""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..patterns import BY_NAME
from .checks import EVENT_DRIVEN, Submission
from .clock import Clock
from .events import dead_lettered, expected_deliveries, in_window, processed, settled

SUBMIT_WITHIN_SECONDS = 180  # then the task counts as not accepted
RETRY_AFTER_CAP_SECONDS = 10.0
PAUSE_SECONDS = 0.5  # after a connection error or a 5xx without Retry-After
MAX_LETTER_PAGES = 50


class SoakAbortedError(RuntimeError):
    """The API refused a request as malformed or unauthorised: retrying cannot help."""


@dataclass
class Counters:
    throttled: int = 0  # 429
    unavailable: int = 0  # 503 (state store down, workflow engine not ready)
    connection_errors: int = 0
    server_errors: list[str] = field(default_factory=list)  # other 5xx
    # Submissions whose answer was lost after the request went out: each may have started a
    # task the soak cannot follow (tried again as a new task). The correlation id, if any.
    ambiguous: list[str] = field(default_factory=list)


def request_for(sub: Submission) -> tuple[str, dict[str, Any]]:
    """Path and body: bench/patterns.py's requests; event-driven through POST /collect with a
    fresh correlation id per attempt, so a lost answer never merges two events' records."""
    if sub.pattern == EVENT_DRIVEN:
        return "/collect", {"source": "soak", "payload": {"index": sub.index}, "correlation_id": f"soak-{uuid.uuid4()}"}
    pattern = BY_NAME[sub.pattern]
    return pattern.path, pattern.body()


def retry_after(resp: httpx.Response) -> float:
    """Its Retry-After in seconds (Baton sends seconds), capped; 1 s if absent or a date."""
    try:
        return min(float(resp.headers.get("Retry-After", "1")), RETRY_AFTER_CAP_SECONDS)
    except ValueError:
        return 1.0


class Traffic:
    def __init__(self, http: httpx.AsyncClient, clock: Clock):
        self.http, self.clock, self.counts = http, clock, Counters()

    async def _waited_out(self, resp: httpx.Response) -> bool:
        """True after waiting out a 429 or 503 (its Retry-After, capped)."""
        if resp.status_code not in (429, 503):
            return False
        if resp.status_code == 429:
            self.counts.throttled += 1
        else:
            self.counts.unavailable += 1
        await asyncio.sleep(retry_after(resp))
        return True

    async def submit(self, sub: Submission) -> None:
        sub.started_at = self.clock.now()
        while self.clock.now() < sub.started_at + SUBMIT_WITHIN_SECONDS:
            path, body = request_for(sub)
            try:
                resp = await self.http.post(path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):  # nothing was sent
                self.counts.connection_errors += 1
                await asyncio.sleep(PAUSE_SECONDS)
                continue
            except httpx.TransportError:
                self.counts.ambiguous.append(body.get("correlation_id", ""))
                await asyncio.sleep(PAUSE_SECONDS)
                continue
            if resp.status_code == 202:
                sub.accepted = resp.json()
                return
            if await self._waited_out(resp):
                continue
            if resp.status_code < 500:
                raise SoakAbortedError(f"POST {path} answered {resp.status_code}: {resp.text[:300]}")
            await self._server_error(resp)

    async def _server_error(self, resp: httpx.Response) -> None:
        self.counts.server_errors.append(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} "
                                         f"{resp.text[:200]}")
        await asyncio.sleep(PAUSE_SECONDS)

    async def _get(self, path: str, **params: Any) -> httpx.Response | None:
        """One GET; None when it brought no answer to use (the wait is done and counted)."""
        try:
            resp = await self.http.get(path, params=params)
        except httpx.TransportError:
            self.counts.connection_errors += 1
            await asyncio.sleep(PAUSE_SECONDS)
            return None
        if await self._waited_out(resp):
            return None
        if resp.status_code >= 500:
            await self._server_error(resp)
            return None
        return resp

    async def observe(self, sub: Submission) -> None:
        """Read the task (until final) and its event records (where some are expected);
        note when it was first seen done."""
        if sub.pattern != EVENT_DRIVEN and not sub.final:
            resp = await self._get(f"/task/{sub.key}")
            if resp is not None and resp.status_code in (200, 404):
                sub.gone = resp.status_code == 404
                sub.task = resp.json() if resp.status_code == 200 else sub.task
        if expected_deliveries(sub):
            resp = await self._get(f"/events/{sub.key}", limit=1000)
            if resp is not None and resp.status_code == 200:
                sub.records = resp.json()["events"]
        done = sub.final if sub.pattern != EVENT_DRIVEN else expected_deliveries(sub) <= set(processed(sub))
        if done and sub.finished_at is None:
            sub.finished_at = self.clock.now()

    async def follow(self, sub: Submission, within: float, poll: float) -> None:
        """Poll until the task is done or `within` seconds pass (the settling phase goes on)."""
        until = self.clock.now() + within
        while sub.finished_at is None and self.clock.now() < until:
            await self.observe(sub)
            if sub.finished_at is None:
                await asyncio.sleep(poll)

    async def dead_letters(self) -> list[dict[str, Any]] | None:
        """Open and resolved dead letters received since the soak began; None if unreadable now."""
        letters: list[dict[str, Any]] = []
        for status in ("open", "resolved"):
            more: dict[str, Any] = {}
            for _ in range(MAX_LETTER_PAGES):
                resp = await self._get("/dead-letters", status=status, limit=100, **more)
                if resp is None or resp.status_code != 200:
                    return None
                page = resp.json()
                letters += [d for d in page["dead_letters"] if in_window(d, self.clock.began_utc)]
                if not page["next_cursor"]:
                    break
                more = {"cursor": page["next_cursor"]}
        return letters

    async def settle(self, subs: list[Submission], until: float, concurrency: int) -> list[dict[str, Any]]:
        """Read every task not yet settled, once a second, until all are or `until` passes;
        returns the soak's dead letters as last read."""
        letters: list[dict[str, Any]] = []
        limit = asyncio.Semaphore(concurrency)

        async def observe(sub: Submission) -> None:
            async with limit:
                await self.observe(sub)

        while True:
            read = await self.dead_letters()
            letters = letters if read is None else read
            pending = [s for s in subs if not settled(s, dead_lettered(letters))]
            if not pending or self.clock.now() >= until:
                return letters
            await asyncio.gather(*(observe(s) for s in pending))
            await asyncio.sleep(1.0)
