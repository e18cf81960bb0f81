#!/usr/bin/env bash
# `make run`: set up (first time), start the platform and every Baton service with its
# sidecar (`dapr run -f dapr.yaml`), run one content pipeline, then keep serving.
# Ctrl-C stops everything this script started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DAPR_RUNTIME_PATH="$root"

bash infra/local/bootstrap.sh
bash infra/local/platform.sh up
# Sidecar tokens, the secrets file and sentry's root certificate, for every daprd and app.
sidecar_env="$(.venv/bin/python -m infra.local.keys env)"
eval "$sidecar_env"

dapr_pid=""
cleanup() {
  trap - INT TERM EXIT
  echo; echo "run: stopping Baton..."
  if [[ -n "$dapr_pid" ]] && kill -0 "$dapr_pid" 2>/dev/null; then
    kill -INT "$dapr_pid"
    for _ in $(seq 1 60); do kill -0 "$dapr_pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$dapr_pid" 2>/dev/null && kill -KILL "$dapr_pid"
  fi
  bash infra/local/platform.sh down
}
trap 'cleanup; exit 0' INT TERM  # Ctrl-C is the normal way to stop
trap cleanup EXIT

.dapr/bin/dapr run -f dapr.yaml > .data/logs/dapr-run.log 2>&1 &
dapr_pid=$!
echo "run: services starting (dapr run -f dapr.yaml, pid $dapr_pid; log .data/logs/dapr-run.log)"
.venv/bin/python infra/local/wait_ready.py dapr.yaml --timeout 120
.venv/bin/python infra/local/demo.py "${BATON_DEMO_TOPIC:-How AI agents coordinate with each other}"
echo
echo "run: Baton is serving on http://127.0.0.1:8080 (API docs at /docs). Ctrl-C stops it."
echo "run: every call needs an API key; the local admin key (all keys: .venv/bin/python -m infra.local.keys show):"
echo "       curl -H \"Authorization: Bearer $(.venv/bin/python -c 'from infra.local.keys import local_api_key; print(local_api_key())')\" http://127.0.0.1:8080/agents"
wait "$dapr_pid"
