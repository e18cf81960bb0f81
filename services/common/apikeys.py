"""The orchestrator's API keys: the secret `api-keys` of the Dapr secret store, a JSON list
of {"name", "scope", "key", "rate_limit"}. Several keys may be valid at once (rotation: add
the new key, move clients, remove the old one). Logs name a key, never show it."""

import asyncio
import hashlib
import hmac
import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from .settings import RateLimit
from .sidecar import SecretReader, SecretUnavailableError

log = logging.getLogger(__name__)
Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")  # each grants the ones before it


def grants(held: Scope, needed: Scope) -> bool:
    return SCOPES.index(held) >= SCOPES.index(needed)


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    scope: Scope
    key: SecretStr = Field(min_length=32)
    rate_limit: RateLimit | None = None  # overrides BATON_RATE_LIMIT for this key


_KEY_LIST = TypeAdapter(list[ApiKey])


def digest(key: str) -> bytes:
    """What secrets are compared by: equal-length digests, so hmac.compare_digest takes
    the same time whatever the presented text."""
    return hashlib.sha256(key.encode()).digest()


def parse_api_keys(raw: str) -> list[ApiKey]:
    """Validate the secret's value; a ValueError says what is wrong without quoting it."""
    try:
        keys = _KEY_LIST.validate_json(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
                             for e in err.errors(include_input=False, include_url=False))
        raise ValueError(f"invalid API key list: {problems}") from None
    if not keys:
        raise ValueError("the API key list is empty")
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ValueError("API key names must be unique")
    if len({digest(k.key.get_secret_value()) for k in keys}) != len(keys):
        raise ValueError("two API keys have the same value")
    return keys


class KeyRing:
    """The valid keys, replaced as a whole by each successful refresh; a failed refresh
    keeps the last good set."""

    def __init__(self, read_secret: SecretReader, store: str, secret: str):
        self._read, self.store, self.secret = read_secret, store, secret
        self._keys: list[tuple[bytes, ApiKey]] | None = None  # None: never loaded

    @property
    def loaded(self) -> bool:
        return self._keys is not None

    def unavailable(self) -> str:
        return (f"API keys are not loaded yet: the secret {self.secret!r} in the Dapr secret store "
                f"{self.store!r} could not be read")

    def refresh(self) -> bool:
        """Read the keys again; False (and a warning) if that failed."""
        try:
            raw = self._read(self.store, self.secret)
            if raw is None:
                raise ValueError("no such secret")
            keys = parse_api_keys(raw)
        except (SecretUnavailableError, ValueError) as err:
            kept = "keeping the last good keys" if self.loaded else "no keys loaded: the API answers 503"
            log.warning("could not load API keys from secret %s in store %s (%s): %s",
                        self.secret, self.store, err, kept)
            return False
        before, self._keys = self._keys, [(digest(k.key.get_secret_value()), k) for k in keys]  # one swap
        if before != self._keys:
            log.info("API keys loaded: %s", ", ".join(f"{k.name} ({k.scope})" for k in keys))
        return True

    def match(self, presented: str) -> ApiKey | None:
        """The key equal to `presented`. Every stored digest is compared in constant time,
        with no early exit, so the timing says nothing about which key came close."""
        wanted, found = digest(presented), None
        for stored, key in self._keys or []:
            if hmac.compare_digest(stored, wanted):
                found = key
        return found


async def keep_fresh(keys: KeyRing, every_seconds: float) -> None:
    """Load the keys again every `every_seconds` (run it as a task; cancel it to stop);
    while they have never loaded, every few seconds."""
    while True:
        await asyncio.sleep(every_seconds if keys.loaded else min(every_seconds, 5))
        await asyncio.to_thread(keys.refresh)
