#!/usr/bin/env bash
# The local platform under Baton: Redis, Dapr's sentry (the certificate authority behind mTLS),
# placement and scheduler, the embedded model server, and Zipkin (traces; BATON_TRACING=off
# leaves it out), on 127.0.0.1.
# Usage: platform.sh up|down|status
# Idempotent; pid files in $BATON_DATA_DIR/run, logs in $BATON_DATA_DIR/logs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/versions.env"

: "${BATON_DATA_DIR:=$root/.data}"
# Every port sits below Linux's ephemeral range (32768+): there an outgoing connection can
# hold a port before a service binds it (seen: the scheduler's health port, in a CI run).
# Sentry's 50001 is the exception the Dapr CLI imposes.
: "${BATON_REDIS_PORT:=6380}"  # not 6379: a Redis the user already runs stays untouched
: "${BATON_PLACEMENT_PORT:=6505}"
# With mTLS on, the Dapr CLI points every daprd at sentry on localhost:50001: only a platform
# that no `dapr run` uses (a test's second platform) may move it.
: "${BATON_SENTRY_PORT:=50001}"
sentry_port=$BATON_SENTRY_PORT
: "${BATON_SCHEDULER_PORT:=6506}"
: "${BATON_SCHEDULER_ETCD_PORT:=6579}"
: "${BATON_MODEL_PORT:=8181}"
: "${BATON_ZIPKIN_PORT:=9411}"
# Zipkin is on unless BATON_TRACING is off (the apps read the same variable: services/common/settings.py).
: "${BATON_TRACING:=on}"
case "${BATON_TRACING,,}" in
  on | true | yes | 1) tracing=on ;;
  off | false | no | 0) tracing=off ;;
  *) echo "platform: BATON_TRACING must be on or off, not '$BATON_TRACING'" >&2; exit 2 ;;
esac
# Health, metrics and raft ports sit at fixed offsets from their service's port, so two
# platforms with different base ports never clash (8080/9090 are Dapr's defaults).
placement_health=$((BATON_PLACEMENT_PORT + 100)) placement_metrics=$((BATON_PLACEMENT_PORT + 200))
placement_raft=$((BATON_PLACEMENT_PORT + 300))
scheduler_health=$((BATON_SCHEDULER_PORT + 100)) scheduler_metrics=$((BATON_SCHEDULER_PORT + 200))
: "${BATON_SENTRY_HEALTH_PORT:=6501}"
sentry_health=$BATON_SENTRY_HEALTH_PORT
etcd_peer=$((BATON_SCHEDULER_ETCD_PORT + 1))

# Where placement and scheduler come from; the runtime-skew test points it at Azure's
# runtime (.dapr/azure-runtime/.dapr/bin), whose control plane must match its sidecars.
bin="${BATON_DAPR_BIN_DIR:-$root/.dapr/bin}"
run="$BATON_DATA_DIR/run"
logs="$BATON_DATA_DIR/logs"
python="$root/.venv/bin/python"
services=(redis zipkin sentry placement scheduler model)
zipkin_jar="$root/.tools/zipkin/zipkin-server-$ZIPKIN_VERSION-exec.jar"  # infra/local/bootstrap.sh fetches it
# Sentry generates its root and issuer certificates here on first start; placement, scheduler
# and (through DAPR_TRUST_ANCHORS, see infra/local/keys.py) every daprd trust its root.
credentials="$BATON_DATA_DIR/sentry"
# Placement and scheduler serve mTLS only, with certificates from sentry.
control_plane_tls=(--tls-enabled --trust-domain localhost --trust-anchors-file "$credentials/ca.crt"
                   --sentry-address "127.0.0.1:$sentry_port")

pid_of() { cat "$run/$1.pid" 2>/dev/null || true; }
# A process that exited but was not yet reaped (a zombie, state Z) counts as stopped.
running() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null && [[ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]]; }
alive() { running "$(pid_of "$1")"; }
# What `up` starts: everything but Zipkin when tracing is off (`down` stops whatever runs).
wanted() { [[ "$1" != zipkin || "$tracing" == on ]]; }

ready() {
  case "$1" in
    redis) redis-cli -h 127.0.0.1 -p "$BATON_REDIS_PORT" ping 2>/dev/null | grep -q PONG ;;
    sentry) curl -sf "http://127.0.0.1:$sentry_health/healthz" >/dev/null ;;
    placement) curl -sf "http://127.0.0.1:$placement_health/healthz" >/dev/null ;;
    scheduler) curl -sf "http://127.0.0.1:$scheduler_health/healthz" >/dev/null ;;
    model) curl -sf "http://127.0.0.1:$BATON_MODEL_PORT/health" >/dev/null ;;
    zipkin) curl -sf "http://127.0.0.1:$BATON_ZIPKIN_PORT/health" >/dev/null ;;
  esac
}

# Everything listens on 127.0.0.1, except the control plane's health ports: Dapr 1.18.1 reads
# --healthz-listen-address but never hands it to the health server (cmd/*/app/app.go), which
# then serves /healthz on all interfaces. Sentry's metrics are off for the same reason.
command_for() {
  case "$1" in
    redis) echo redis-server --bind 127.0.0.1 --port "$BATON_REDIS_PORT" --dir "$BATON_DATA_DIR/redis" \
             --appendonly yes --save "" --daemonize no --protected-mode yes ;;
    sentry) echo "$bin/sentry" --port "$sentry_port" --listen-address 127.0.0.1 \
             --healthz-port "$sentry_health" --healthz-listen-address 127.0.0.1 \
             --enable-metrics=false \
             --issuer-credentials "$credentials" --trust-domain localhost \
             --config "$root/infra/local/sentry.yaml" ;;
    placement) echo "$bin/placement" --port "$BATON_PLACEMENT_PORT" --listen-address 127.0.0.1 \
             --healthz-port "$placement_health" --healthz-listen-address 127.0.0.1 \
             --metrics-port "$placement_metrics" --metrics-listen-address 127.0.0.1 \
             --initial-cluster "dapr-placement-0=127.0.0.1:$placement_raft" \
             --raft-logstore-path "$BATON_DATA_DIR/placement" "${control_plane_tls[@]}" ;;
    scheduler) echo "$bin/scheduler" --port "$BATON_SCHEDULER_PORT" --listen-address 127.0.0.1 \
             --healthz-port "$scheduler_health" --healthz-listen-address 127.0.0.1 \
             --metrics-port "$scheduler_metrics" --metrics-listen-address 127.0.0.1 \
             --etcd-data-dir "$BATON_DATA_DIR/scheduler" \
             --etcd-client-port "$BATON_SCHEDULER_ETCD_PORT" --etcd-client-listen-address 127.0.0.1 \
             --etcd-initial-cluster "dapr-scheduler-server-0=http://127.0.0.1:$etcd_peer" \
             --override-broadcast-host-port "127.0.0.1:$BATON_SCHEDULER_PORT" \
             --identity-directory-write "$BATON_DATA_DIR/scheduler-identity" "${control_plane_tls[@]}" ;;
    model) echo "$python" "$root/infra/local/model_server.py" --port "$BATON_MODEL_PORT" ;;
    # Zipkin 3 (Spring Boot on Armeria), spans in memory, the oldest traces dropped past 30,000
    # spans: about 120 MB of heap for spans with a dozen tags (~1 KB of JSON, ~3 KB in Zipkin's
    # memory); -Xmx128m ran out before 40,000 of them (and then the JVM exits). Its
    # settings are environment variables, hence `env`. ARMERIA_PORTS_0_* replaces its one port
    # (all interfaces) with 127.0.0.1 only; the JDK's resolver replaces Netty's, whose DNS
    # socket is a UDP port open on all interfaces. Serial GC, the C1 compiler alone and a small
    # initial heap: ready in 5-8 s (15 s with the defaults), 155 MB resident idle (205 MB).
    zipkin) echo env STORAGE_TYPE=mem MEM_MAX_SPANS=30000 ARMERIA_PORTS_0_IP=127.0.0.1 \
             ARMERIA_PORTS_0_PORT="$BATON_ZIPKIN_PORT" ARMERIA_PORTS_0_PROTOCOLS_0=http \
             java -Xms32m -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError \
             -Dcom.linecorp.armeria.useJdkDnsResolver=true -jar "$zipkin_jar" ;;
  esac
}

start() {
  local name="$1" pid
  if alive "$name"; then echo "platform: $name already running (pid $(pid_of "$name"))"; return; fi
  # shellcheck disable=SC2046  # word splitting of the command line is intended
  setsid $(command_for "$name") >"$logs/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$run/$name.pid"
  for _ in $(seq 1 300); do
    if ready "$name"; then echo "platform: $name ready (pid $pid)"; return; fi
    if ! running "$pid"; then
      echo "platform: $name exited during start; its log is $logs/$name.log:" >&2
      tail -n 20 "$logs/$name.log" >&2; rm -f "$run/$name.pid"; exit 1
    fi
    sleep 0.2
  done
  echo "platform: $name not ready after 60s; its log is $logs/$name.log" >&2; exit 1
}

stop() {
  local name="$1" pid
  pid="$(pid_of "$name")"
  if running "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do running "$pid" || break; sleep 0.2; done
    if running "$pid"; then echo "platform: $name did not stop in 10s, killing"; kill -KILL "$pid"; fi
    echo "platform: $name stopped (pid $pid)"
  fi
  rm -f "$run/$name.pid"
}

case "${1:-}" in
  up)
    [[ -x "$bin/daprd" ]] || { echo "platform: Dapr is not built; run infra/local/bootstrap.sh" >&2; exit 1; }
    if [[ "$tracing" == on && ! -f "$zipkin_jar" ]]; then
      echo "platform: Zipkin is not downloaded; run infra/local/bootstrap.sh (or set BATON_TRACING=off)" >&2; exit 1
    fi
    mkdir -p "$run" "$logs" "$BATON_DATA_DIR"/{redis,placement,scheduler}
    mkdir -p -m 700 "$credentials"
    for s in "${services[@]}"; do if wanted "$s"; then start "$s"; fi; done ;;
  down)
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do stop "${services[$i]}"; done ;;
  status)
    for s in "${services[@]}"; do
      if alive "$s"; then echo "$s: running (pid $(pid_of "$s"))"
      elif wanted "$s"; then echo "$s: stopped"
      else echo "$s: off (BATON_TRACING=off)"; fi
    done ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
