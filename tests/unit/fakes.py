"""Fakes of Baton's own seams for unit tests (never of Dapr behaviour itself)."""

import copy
import json
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace


class MemoryDocuments:
    """In-memory stand-in for services.common.state.JsonDocuments: atomic per call (a lock,
    as the store's first-write create is), with time to live on the clock `now` (seconds;
    tests may replace it)."""

    def __init__(self):
        self.docs: dict[str, dict] = {}
        self.expires: dict[str, float] = {}
        self.now = time.monotonic
        self._lock = threading.RLock()

    def _live(self, key: str) -> bool:
        if key in self.expires and self.expires[key] <= self.now():
            del self.docs[key], self.expires[key]
        return key in self.docs

    def _keep(self, key: str, doc: dict, ttl_seconds: int | None) -> None:
        self.docs[key] = copy.deepcopy(doc)
        self.expires.pop(key, None)
        if ttl_seconds:
            self.expires[key] = self.now() + ttl_seconds

    def get(self, key: str) -> dict | None:
        with self._lock:
            return copy.deepcopy(self.docs[key]) if self._live(key) else None

    def create(self, key: str, doc: dict, ttl_seconds: int | None = None) -> bool:
        with self._lock:
            if self._live(key):
                return False
            self._keep(key, doc, ttl_seconds)
            return True

    def update(self, key: str, change: Callable[[dict], None], default: dict | None = None,
               ttl_seconds: int | None = None) -> dict:
        from services.common.state import DocumentNotFoundError

        with self._lock:
            if not self._live(key) and default is None:
                raise DocumentNotFoundError(key)
            doc = copy.deepcopy(self.docs[key]) if key in self.docs else copy.deepcopy(default)
            change(doc)
            self._keep(key, doc, ttl_seconds)
            return copy.deepcopy(doc)

    def delete(self, key: str, when: Callable[[dict], bool] | None = None) -> bool:
        with self._lock:
            if not self._live(key) or (when is not None and not when(copy.deepcopy(self.docs[key]))):
                return False
            del self.docs[key]
            self.expires.pop(key, None)
            return True


class FakeWorkflows:
    """Stand-in for the DaprWorkflowClient the orchestrator's routes use."""

    def __init__(self, fail: bool = False):
        self.scheduled: list[tuple[str, dict, str]] = []
        self.states: dict[str, object] = {}
        self.terminated: list[tuple[str, bool]] = []
        self.raised: list[tuple[str, str, object]] = []
        self.fail = fail

    def schedule_new_workflow(self, workflow, *, input, instance_id):
        if self.fail:
            raise RuntimeError("sidecar unavailable")
        assert isinstance(workflow, str), "workflows are scheduled by their registered name"
        self.scheduled.append((workflow, input.model_dump(mode="json"), instance_id))
        return instance_id

    def get_workflow_state(self, instance_id, fetch_payloads=True):
        return self.states.get(instance_id)

    def terminate_workflow(self, instance_id, *, output=None, recursive=True):
        if self.fail:
            raise RuntimeError("sidecar unavailable")
        self.terminated.append((instance_id, recursive))

    def raise_workflow_event(self, instance_id, event_name, *, data=None):
        if self.fail:
            raise RuntimeError("sidecar unavailable")
        self.raised.append((instance_id, event_name, data))


class FakeSecretStore:
    """Stand-in for services.common.sidecar.read_secret: secrets by name, None for a missing
    one; with `down` set every read fails as an unreachable sidecar does."""

    def __init__(self, **secrets: str):
        self.secrets = {name.replace("_", "-"): value for name, value in secrets.items()}
        self.down = False
        self.reads: list[tuple[str, str]] = []

    def __call__(self, store: str, name: str) -> str | None:
        from services.common.sidecar import SecretUnavailableError

        self.reads.append((store, name))
        if self.down:
            raise SecretUnavailableError(f"secret {name!r} in {store!r}: sidecar unreachable (ConnectError)")
        return self.secrets.get(name)


# One key per scope, as the secret `api-keys` holds them (values at least 32 characters).
TEST_KEYS = {scope: f"test-{scope}-key-{'x' * 32}" for scope in ("read", "write", "admin")}


def api_keys_json(**keys: tuple[str, str] | tuple[str, str, str]) -> str:
    """The `api-keys` secret: name=(scope, key) or name=(scope, key, rate_limit); with no
    arguments one key per scope, named test-<scope>."""
    entries = keys or {f"test-{scope}": (scope, key) for scope, key in TEST_KEYS.items()}
    return json.dumps([{"name": name, "scope": spec[0], "key": spec[1],
                        "rate_limit": spec[2] if len(spec) > 2 else None} for name, spec in entries.items()])


def with_key(scope: str) -> dict[str, str]:
    return {"X-API-Key": TEST_KEYS[scope]}


def loaded_guard(store: FakeSecretStore | None = None, rate: str = "1000/minute", failures: str = "1000/minute"):
    """An ApiGuard for routers under test, its keys loaded from `store` (default: TEST_KEYS)."""
    from services.common.apikeys import KeyRing
    from services.orchestrator.auth import ApiGuard
    from services.orchestrator.throttle import Throttle

    keys = KeyRing(store or FakeSecretStore(api_keys=api_keys_json()), "secretstore", "api-keys")
    keys.refresh()
    return ApiGuard(keys, Throttle(rate, failures))


class RecordingOpenAI:
    """Stand-in for the `openai` client a ModelClient wraps: records every chat request."""

    def __init__(self, text: str = "An answer."):
        self.text, self.requests = text, []
        self.chat = SimpleNamespace(completions=self)

    def create(self, **request):
        self.requests.append(request)
        reply = SimpleNamespace(message=SimpleNamespace(content=self.text), finish_reason="stop")
        return SimpleNamespace(choices=[reply], model="m",
                               usage=SimpleNamespace(prompt_tokens=1, completion_tokens=1))
