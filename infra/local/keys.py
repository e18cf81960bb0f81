"""Baton's local secrets, generated on first use and kept out of git under .data/secrets/:

- secrets.json: the `secretstore` component's file (secretstores.local.file): the API keys
  (`api-keys`), and optionally `model-api-key` and `webhook-url`;
- sidecar-tokens.json: DAPR_API_TOKEN (app -> sidecar) and APP_API_TOKEN (sidecar -> app).

  .venv/bin/python -m infra.local.keys env    # exports for `dapr run -f dapr.yaml`
  .venv/bin/python -m infra.local.keys show   # the local API keys, by name and scope
  .venv/bin/python -m infra.local.keys key    # the local admin key alone (`key read`: the read key)
  .venv/bin/python -m infra.local.keys set webhook-url https://example.test/hook

`BATON_SECRETS_DIR` moves the folder (the integration tests use their own)."""

import argparse
import json
import os
import secrets
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCOPES = ("read", "write", "admin")
# The keys a fresh checkout gets: one per scope the tools use, the bench's with room to poll.
LOCAL_KEYS = ({"name": "local-admin", "scope": "admin", "rate_limit": None},
              {"name": "local-read", "scope": "read", "rate_limit": None},
              {"name": "local-bench", "scope": "write", "rate_limit": "1000/second"})


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


def _write_private(path: Path, doc: dict) -> None:
    """Write a file only its owner can read, atomically (never a half-written key file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
    tmp.replace(path)


@dataclass(frozen=True)
class LocalSecrets:
    folder: Path

    @classmethod
    def default(cls) -> "LocalSecrets":
        return cls(Path(os.environ.get("BATON_SECRETS_DIR") or ROOT / ".data" / "secrets"))

    @property
    def store_file(self) -> Path:
        return self.folder / "secrets.json"

    @property
    def tokens_file(self) -> Path:
        return self.folder / "sidecar-tokens.json"

    def ensure(self) -> None:
        """Create whatever is missing; never replace an existing key or token."""
        if not self.store_file.exists():
            keys = [{**k, "key": new_secret()} for k in LOCAL_KEYS]
            _write_private(self.store_file, {"api-keys": json.dumps(keys)})
        if not self.tokens_file.exists():
            _write_private(self.tokens_file, {"DAPR_API_TOKEN": new_secret(), "APP_API_TOKEN": new_secret()})

    def store(self) -> dict[str, str]:
        self.ensure()
        doc: dict[str, str] = json.loads(self.store_file.read_text())
        return doc

    def set(self, name: str, value: str | None) -> None:
        """Set (or with None remove) one secret of the store file."""
        doc = self.store()
        if value is None:
            doc.pop(name, None)
        else:
            doc[name] = value
        _write_private(self.store_file, doc)

    def add_api_key(self, name: str, scope: str, rate_limit: str | None = None) -> str:
        """A key under `name`, made if it does not exist yet; returns it."""
        keys = self.api_keys()
        if (found := _first(keys, name=name)) is not None:
            return str(found["key"])
        entry = {"name": name, "scope": scope, "rate_limit": rate_limit, "key": new_secret()}
        self.set("api-keys", json.dumps([*keys, entry]))
        return str(entry["key"])

    def api_keys(self) -> list[dict]:
        keys: list[dict] = json.loads(self.store()["api-keys"])
        return keys

    def api_key(self, scope: str = "admin") -> str:
        """The first key of exactly that scope."""
        return self._key_where(scope=scope)

    def api_key_named(self, name: str) -> str:
        return self._key_where(name=name)

    def _key_where(self, **field: str) -> str:
        found = _first(self.api_keys(), **field)
        if found is None:
            raise LookupError(f"no API key with {field} in {self.store_file}")
        return str(found["key"])

    def sidecar_tokens(self) -> dict[str, str]:
        """DAPR_API_TOKEN (app -> sidecar) and APP_API_TOKEN (sidecar -> app)."""
        self.ensure()
        tokens: dict[str, str] = json.loads(self.tokens_file.read_text())
        return tokens

    def sidecar_headers(self) -> dict[str, str]:
        """What a client of a sidecar's API must send: the Dapr API token."""
        return {"dapr-api-token": self.sidecar_tokens()["DAPR_API_TOKEN"]}

    def sidecar_env(self) -> dict[str, str]:
        """What `dapr run` needs in its environment: every daprd and every app inherits it.
        DAPR_TRUST_ANCHORS is the root certificate sentry generated (platform.sh up)."""
        env = self.sidecar_tokens()
        env["BATON_SECRETS_FILE"] = str(self.store_file)
        env["NAMESPACE"] = "default"  # the namespace in every sidecar's SPIFFE id (access control)
        # infra/local/platform.sh: sentry writes its root certificate there.
        anchors = Path(os.environ.get("BATON_DATA_DIR") or ROOT / ".data") / "sentry" / "ca.crt"
        if anchors.exists():
            env["DAPR_TRUST_ANCHORS"] = anchors.read_text()
        return env

    def values(self) -> list[str]:
        """Every secret value these files hold (for the log audit)."""
        found = [str(k["key"]) for k in self.api_keys()]
        found += [v for n, v in self.store().items() if n != "api-keys"]
        found += list(self.sidecar_tokens().values())
        return found


def _first(entries: list[dict], **field: str) -> dict | None:
    return next((e for e in entries if all(e[k] == v for k, v in field.items())), None)


def local_api_key(scope: str = "admin") -> str:
    """BATON_API_KEY if set (e.g. against Azure), else the local key of that scope."""
    return os.environ.get("BATON_API_KEY") or LocalSecrets.default().api_key(scope)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="print `export` lines for dapr run (tokens, secrets file, trust anchors)")
    sub.add_parser("show", help="print the local API keys")
    key = sub.add_parser("key", help="print the local key of one scope")
    key.add_argument("scope", nargs="?", default="admin", choices=SCOPES)
    setter = sub.add_parser("set", help="set a secret of the local store (model-api-key, webhook-url)")
    setter.add_argument("name", choices=["model-api-key", "webhook-url"])
    setter.add_argument("value", nargs="?", help="omit to remove the secret")
    args = parser.parse_args()
    local = LocalSecrets.default()
    if args.command == "env":
        for name, value in local.sidecar_env().items():
            print(f"export {name}={shlex.quote(value)}")
    elif args.command == "key":
        print(local.api_key(args.scope))
    elif args.command == "show":
        for entry in local.api_keys():
            print(f"{entry['name']:<12} {entry['scope']:<6} {entry['key']}")
        print(f"(from {local.store_file}; add or remove entries of its api-keys list to rotate)", file=sys.stderr)
    else:
        local.set(args.name, args.value)
        print(f"{'set' if args.value else 'removed'} {args.name} in {local.store_file}; restart Baton to apply")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
