#!/usr/bin/env bash
# `make replica`: a second orchestrator replica beside a running `make run` (same app id,
# ports from dapr.replica.yaml). Ctrl-C stops it; the first replica carries on.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DAPR_RUNTIME_PATH="$root"
if ! bash infra/local/platform.sh status | grep -q "redis.*running"; then
  echo "replica: the platform is not running: start Baton with 'make run' first" >&2
  exit 1
fi
# The same sidecar tokens, secrets file and sentry root certificate as the first replica.
eval "$(.venv/bin/python -m infra.local.keys env)"
exec .dapr/bin/dapr run -f dapr.replica.yaml
