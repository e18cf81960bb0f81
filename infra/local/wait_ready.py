"""Wait until every app in a Dapr run file answers its health check through Dapr.

The gateway app (the first one with a fixed daprHTTPPort: Baton's orchestrator) is asked
directly; every other app is called through the gateway's sidecar (service invocation),
which proves its own sidecar is up and discoverable too. The gateway's sidecar wants the
Dapr API token (DAPR_API_TOKEN, set by `make run` and the tests).
Usage: wait_ready.py dapr.yaml [--timeout 120]"""

import argparse
import os
import sys
import time

import httpx
import yaml


def pending_apps(run_file: str, http: httpx.Client) -> list[str]:
    with open(run_file) as f:
        apps = yaml.safe_load(f)["apps"]
    gateway = next(a for a in apps if a.get("daprHTTPPort"))
    sidecar = f"http://127.0.0.1:{gateway['daprHTTPPort']}"
    health = "/health"
    pending = []
    for app in apps:
        if app is gateway:
            url = f"http://127.0.0.1:{app['appPort']}{health}"
        else:
            url = f"{sidecar}/v1.0/invoke/{app['appID']}/method{health}"
        try:
            ok = http.get(url).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            pending.append(app["appID"])
    return pending


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_file")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    deadline, last = time.monotonic() + args.timeout, None
    token = os.environ.get("DAPR_API_TOKEN")
    with httpx.Client(timeout=3, headers={"dapr-api-token": token} if token else {}) as http:
        while time.monotonic() < deadline:
            pending = pending_apps(args.run_file, http)
            if not pending:
                print("ready: every app and its sidecar is healthy", flush=True)
                return 0
            if pending != last:
                print(f"ready: waiting for {', '.join(pending)}", flush=True)
                last = pending
            time.sleep(1)
    print(f"ready: not healthy after {args.timeout:.0f}s: {', '.join(pending)}; "
          "see .data/logs/dapr-run.log and .dapr/logs/", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
