"""Issue 14: no secret value reaches a log. Runs last (`make test`, its own pytest session),
over every log the platform, `dapr run`, the apps and their sidecars left in this checkout."""

from pathlib import Path

import pytest

from infra.local.keys import LocalSecrets
from infra.local.processes import ROOT

pytestmark = pytest.mark.log_audit

LOG_FOLDERS = (ROOT / ".data", ROOT / ".dapr" / "logs")


def secret_values() -> dict[str, str]:
    """Every key and token of the tests' store and of `make run`'s, and sentry's issuer key."""
    found = {}
    for folder in (ROOT / ".data" / "test-secrets", ROOT / ".data" / "secrets"):
        if (folder / "secrets.json").exists():
            found |= {value: str(folder) for value in LocalSecrets(folder).values() if len(value) >= 16}
    for key in ROOT.glob(".data/**/sentry/issuer.key"):
        found[key.read_text().strip()] = str(key)
    return found


def log_files() -> list[Path]:
    return [p for folder in LOG_FOLDERS for p in folder.rglob("*.log") if p.is_file()]


def test_no_secret_value_appears_in_any_log_file():
    secrets, logs = secret_values(), log_files()
    assert secrets and logs, "nothing to audit: run the other tests first (make test)"
    leaks = []
    for path in logs:
        text = path.read_text(errors="replace")
        leaks += [f"{path.relative_to(ROOT)}: a value from {origin}" for value, origin in secrets.items()
                  if value in text]
    assert not leaks, "secret values in logs:\n" + "\n".join(leaks)
