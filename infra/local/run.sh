#!/usr/bin/env bash
# `make run`: set up (first time), start the platform and every Baton service with its
# sidecar (`dapr run -f dapr.yaml`), run one content pipeline, then keep serving.
# Ctrl-C or SIGTERM (or SIGHUP) stops everything this script started, once and to the end:
# signals that arrive while it is stopping are ignored, by this script and by what it runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DAPR_RUNTIME_PATH="$root"

dapr_pid="" step_pid="" step_end="" stopping=""
# Each step runs in the background while this shell waits for it: bash runs a trap only
# after the foreground command ends, so a SIGTERM sent to this script alone would wait for
# the step. (Background commands ignore Ctrl-C's SIGINT; stopping ends the step itself.)
# `cut`: stopping may cut the step short; `finish`: stopping waits for it (platform.sh up
# killed half-way could leave a service running that has no pid file yet).
step() { step_end="$1"; shift; "$@" & step_pid=$!; wait "$step_pid"; step_pid=""; }

# An exited child this shell has not reaped yet (a zombie, state Z) counts as stopped.
running() { kill -0 "$1" 2>/dev/null && [[ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]]; }

cleanup() {
  trap '' INT TERM HUP  # nothing interrupts the stop; the commands below inherit the ignore
  [[ -z "$stopping" ]] || return 0  # once: the INT/TERM trap's exit runs the EXIT trap too
  stopping=1
  set +e  # a failed command must not end the stop half-way
  echo; echo "run: stopping Baton (further Ctrl-C or SIGTERM are ignored until it is done)..."
  if [[ -n "$step_pid" ]]; then
    [[ "$step_end" == cut ]] && kill -TERM "$step_pid" 2>/dev/null
    wait "$step_pid" 2>/dev/null
  fi
  if [[ -n "$dapr_pid" ]] && running "$dapr_pid"; then
    kill -INT "$dapr_pid"
    for _ in $(seq 1 60); do running "$dapr_pid" || break; sleep 0.5; done
    running "$dapr_pid" && kill -KILL "$dapr_pid"
  fi
  bash infra/local/platform.sh down || echo "run: stopping the platform failed: run 'make platform-down'" >&2
}
trap 'cleanup; exit 0' INT TERM HUP  # Ctrl-C is the normal way to stop
trap cleanup EXIT

bash infra/local/bootstrap.sh  # starts nothing; in the foreground for its sudo prompt
step finish bash infra/local/platform.sh up
# Sidecar tokens, the secrets file and sentry's root certificate, for every daprd and app.
sidecar_env="$(.venv/bin/python -m infra.local.keys env)"
eval "$sidecar_env"

.dapr/bin/dapr run -f dapr.yaml > .data/logs/dapr-run.log 2>&1 &
dapr_pid=$!
echo "run: services starting (dapr run -f dapr.yaml, pid $dapr_pid; log .data/logs/dapr-run.log)"
step cut .venv/bin/python infra/local/wait_ready.py dapr.yaml --timeout 120
step cut .venv/bin/python infra/local/demo.py "${BATON_DEMO_TOPIC:-How AI agents coordinate with each other}"
echo
echo "run: Baton is serving on http://127.0.0.1:8080 (API docs at /docs). Ctrl-C stops it."
echo "run: every call needs an API key; the local admin key (all keys: .venv/bin/python -m infra.local.keys show):"
echo "       curl -H \"Authorization: Bearer $(.venv/bin/python -c 'from infra.local.keys import local_api_key; print(local_api_key())')\" http://127.0.0.1:8080/agents"
wait "$dapr_pid"
