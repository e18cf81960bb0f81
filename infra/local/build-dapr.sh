#!/usr/bin/env bash
# Builds daprd, placement, scheduler, sentry and the dapr CLI at the pinned versions into
# .dapr/bin/, then Azure Container Apps' runtime (daprd, placement and scheduler at
# DAPR_AZURE_RUNTIME_VERSION, with its sentry) into .dapr/azure-runtime/.dapr/bin/, where
# `DAPR_RUNTIME_PATH=.dapr/azure-runtime dapr run ...` finds it.
# Each part skips itself when that exact build is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../versions.env
source "$root/versions.env"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"

# build_runtime VERSION WRAPPER BIN: daprd, placement and scheduler of github.com/dapr/dapr
# VERSION, through the wrapper module in WRAPPER, into BIN.
build_runtime() {
  local v="$1" src="$2" bin="$3" daprdir copy ldflags cmd
  command -v go >/dev/null || { echo "build-dapr: Go is required (https://go.dev/dl)" >&2; exit 1; }
  mkdir -p "$bin"
  # An `edge` version makes `dapr run -f` skip the scheduler flag, so stamp the real one.
  ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$v -X github.com/dapr/kit/logger.DaprVersion=$v"
  echo "build-dapr: downloading github.com/dapr/dapr v$v and its modules..."
  daprdir="$(cd / && go mod download -json "github.com/dapr/dapr@v$v" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  # The wrapper's go.mod replaces github.com/dapr/dapr with this copy, minus the no-build-tag
  # guard (zz_notag.go panics at start): daprd/components.go registers Baton's components
  # instead. (`go build -overlay` cannot do this: it refuses files inside the module cache.)
  copy="$root/.dapr/src/$(sed -n 's|^replace github.com/dapr/dapr .*/\.dapr/src/\([^/]*\)$|\1|p' "$src/go.mod")"
  [[ "$copy" != "$root/.dapr/src/" ]] || { echo "build-dapr: $src/go.mod has no replace into .dapr/src" >&2; exit 1; }
  if [[ "$(cat "$copy/.baton-version" 2>/dev/null)" != "$v" ]]; then
    rm -rf "$copy" && mkdir -p "$(dirname "$copy")"
    cp -r "$daprdir" "$copy" && chmod -R u+w "$copy"
    # Keep the package non-empty, without the panic.
    echo "package components" > "$copy/cmd/daprd/components/zz_notag.go"
    echo "$v" > "$copy/.baton-version"
  fi
  for cmd in daprd placement scheduler sentry; do
    echo "build-dapr: compiling $cmd $v (the first build takes several minutes on 2 cores)..."
    (cd "$src" && go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd.new" "./$cmd")
    mv "$bin/$cmd.new" "$bin/$cmd"
  done
}

# 1. The pinned runtime and the CLI. The stamp names the versions and the wrapper's
# sources, so a change to either rebuilds.
bin="$root/.dapr/bin"
src="$root/infra/local/dapr"
wanted="runtime=$DAPR_RUNTIME_VERSION cli=$DAPR_CLI_VERSION src=$(cat "$src"/go.* "$src"/*/*.go "$src"-cli/go.* | sha256sum | cut -c1-16)"
stamp="$bin/.build-stamp"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] \
   && [[ -x "$bin/daprd" && -x "$bin/placement" && -x "$bin/scheduler" && -x "$bin/sentry" && -x "$bin/dapr" ]]; then
  echo "build-dapr: Dapr $DAPR_RUNTIME_VERSION (CLI $DAPR_CLI_VERSION) already built in .dapr/bin"
else
  started=$SECONDS
  build_runtime "$DAPR_RUNTIME_VERSION" "$src" "$bin"
  echo "build-dapr: compiling dapr CLI $DAPR_CLI_VERSION..."
  (cd "$root/infra/local/dapr-cli" && go build -trimpath -ldflags "-s -w -X main.version=$DAPR_CLI_VERSION -X main.apiVersion=1.0" \
    -o "$bin/dapr.new" github.com/dapr/cli)
  mv "$bin/dapr.new" "$bin/dapr"
  echo "$wanted" > "$stamp"
  echo "build-dapr: done in $((SECONDS - started))s: $("$bin/daprd" --version), $("$bin/dapr" --version | head -1)"
fi

# 2. Azure Container Apps' runtime, with its own control plane (Container Apps runs a
# matching one), for tests/integration/test_runtime_skew.py. Its wrapper's .go files are
# symlinks to the pinned wrapper's, so the stamp hashes what they point at.
bin="$root/.dapr/azure-runtime/.dapr/bin"
src="$root/infra/local/dapr-azure"
wanted="runtime=$DAPR_AZURE_RUNTIME_VERSION src=$(cat "$src"/go.* "$src"/*/*.go | sha256sum | cut -c1-16)"
stamp="$bin/.build-stamp"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] \
   && [[ -x "$bin/daprd" && -x "$bin/placement" && -x "$bin/scheduler" && -x "$bin/sentry" ]]; then
  echo "build-dapr: Azure's Dapr $DAPR_AZURE_RUNTIME_VERSION already built in .dapr/azure-runtime/.dapr/bin"
else
  started=$SECONDS
  echo "build-dapr: building Dapr $DAPR_AZURE_RUNTIME_VERSION, the runtime Azure Container Apps runs (for the runtime-skew test)"
  build_runtime "$DAPR_AZURE_RUNTIME_VERSION" "$src" "$bin"
  echo "$wanted" > "$stamp"
  echo "build-dapr: done in $((SECONDS - started))s: $("$bin/daprd" --version)"
fi
