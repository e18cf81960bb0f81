"""Rate limits of the public API, with the `limits` library (moving windows): requests per
API key, and failed authentications per client address.

Counts are kept in memory, so they are per replica: with N orchestrator replicas a key
may make up to N times its limit."""

import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from services.common.apikeys import ApiKey


@lru_cache(maxsize=256)
def _rate(text: str) -> RateLimitItem:
    return parse(text)


class Throttle:
    def __init__(self, default_rate: str, failure_rate: str):
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.default_rate, self.failure_rate = default_rate, failure_rate

    def _take(self, rate: str, *identity: str) -> int | None:
        """Count one hit; None if within the rate, else the seconds until one is free again."""
        item = _rate(rate)
        if self._limiter.hit(item, *identity):
            return None
        reset_at = self._limiter.get_window_stats(item, *identity).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def request(self, key: ApiKey) -> int | None:
        """A request made with `key`: None, or Retry-After seconds."""
        return self._take(key.rate_limit or self.default_rate, "key", key.name)

    def failed_authentication(self, address: str) -> int | None:
        """A request from `address` without a valid key: None, or Retry-After seconds."""
        return self._take(self.failure_rate, "auth-failure", address)
