#!/usr/bin/env bash
# Starts the example mesh on this machine: two nexus-backend versions, the
# control plane serving examples/mesh.yaml, and an Envoy sidecar for the
# model when an Envoy binary can be found. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${NEXUS_DATA:-.data}
LOGS=$DATA/logs
mkdir -p "$LOGS"
pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped."
}
# Ctrl-C is how the mesh is meant to stop: everything is stopped and the
# script ends there, successfully; a TERM ends it the same way with 143.
trap 'cleanup; exit 0' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 8001 8002 8101 8102 9191 9192 18000 18080; do
  if ! port_free "$p"; then
    echo "port 127.0.0.1:$p is in use; stop whatever holds it (an earlier 'make run'?) and retry." >&2
    exit 1
  fi
done

# Traces go to Jaeger when it is installed (or wherever
# OTEL_EXPORTER_OTLP_ENDPOINT already points); every binary reads the
# standard OTEL_* variables. JAEGER_BIN is the binary or its directory
# (what scripts/jaeger-build.sh prints).
JAEGER=${JAEGER_BIN:-$(command -v jaeger || true)}
if [ -d "$JAEGER" ]; then JAEGER=$JAEGER/jaeger; fi
if [ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ] && [ -n "$JAEGER" ] && port_free 4317; then
  "$JAEGER" >"$LOGS/jaeger.log" 2>&1 & pids+=($!)
  export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_INSECURE=true
  traces_line="traces         Jaeger: UI http://127.0.0.1:16686, OTLP 127.0.0.1:4317 (log $LOGS/jaeger.log)"
elif [ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
  traces_line="traces         OTLP to $OTEL_EXPORTER_OTLP_ENDPOINT"
else
  traces_line="traces         off: no Jaeger (set JAEGER_BIN or put jaeger on PATH; scripts/jaeger-build.sh builds Jaeger v2 and prints its directory) and no OTEL_EXPORTER_OTLP_ENDPOINT"
fi

# Rollout gates read the Prometheus started below, when there is one.
PROM=${PROMETHEUS_BIN:-$(command -v prometheus || true)}
prom_flag=()
if [ -n "$PROM" ] && port_free 9090; then prom_flag=(--prometheus-url http://127.0.0.1:9090); fi

# One key hashes end users' ids for the control plane's consent records
# and nexus-authz's decisions and spans: the two must match.
mkdir -p "$DATA/controlplane" && chmod 700 "$DATA/controlplane"
if [ ! -s "$DATA/subject.key" ]; then
  (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$DATA/subject.key")
fi
export NEXUS_TELEMETRY_SUBJECT_KEY
NEXUS_TELEMETRY_SUBJECT_KEY=$(cat "$DATA/subject.key")

bin/nexus-controlplane --config examples/mesh.yaml --data-dir "$DATA/controlplane" \
  --subject-key-file "$DATA/subject.key" --break-glass-requester token:local-admin \
  --xds-addr 127.0.0.1:18000 --admin-addr 127.0.0.1:18080 "${prom_flag[@]}" \
  --authz-audit-feed http://127.0.0.1:9192 >"$LOGS/controlplane.log" 2>&1 & pids+=($!)
cp_pid=$!

for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:18080/api/v1/openapi.json 2>/dev/null && break
  if ! kill -0 "$cp_pid" 2>/dev/null; then
    echo "the control plane failed to start:" >&2; cat "$LOGS/controlplane.log" >&2; exit 1
  fi
  sleep 0.1
done

# Every workload proves who it is: a join token from the control plane,
# exchanged by an agent that serves the SVID on a Workload API socket.
# agent NAME SPIFFE_ID prints the socket's unix:// address.
agent() {
  local dir=$(pwd)/$DATA/agents/$1
  mkdir -p "$dir" && chmod 700 "$dir"
  NEXUS_TOKEN_FILE=$DATA/controlplane/admin.token bin/nexusctl token create "$2" >"$dir/join.token"
  bin/nexusctl agent --bundle "$DATA/controlplane/bundle.pem" --join-token-file "$dir/join.token" \
    --socket "$dir/agent.sock" >"$LOGS/agent-$1.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 50); do [ -S "$dir/agent.sock" ] && break; sleep 0.1; done
  AGENT_SOCKET="unix://$dir/agent.sock"
}

# Model versions serve mTLS to the model's sidecar only (health on 81xx).
agent backend-v1 spiffe://nexus.local/model/triage/v1
bin/nexus-backend --model triage --version v1 --addr 127.0.0.1:8001 --health-addr 127.0.0.1:8101 \
  --spiffe-socket "$AGENT_SOCKET" --allow-spiffe-id spiffe://nexus.local/model/triage >"$LOGS/backend-v1.log" 2>&1 & pids+=($!)
agent backend-v2 spiffe://nexus.local/model/triage/v2
bin/nexus-backend --model triage --version v2 --addr 127.0.0.1:8002 --health-addr 127.0.0.1:8102 \
  --spiffe-socket "$AGENT_SOCKET" --allow-spiffe-id spiffe://nexus.local/model/triage >"$LOGS/backend-v2.log" 2>&1 & pids+=($!)
# nexus-authz: Envoy's ext_authz cluster speaks mTLS to it.
agent authz spiffe://nexus.local/nexus/authz
NEXUS_CONSENT_TOKEN=$(cat "$DATA/controlplane/consent-bundle.token") \
NEXUS_KEY_LEASE_TOKEN=$(cat "$DATA/controlplane/key-lease.token") \
bin/nexus-authz --policies policies --addr 127.0.0.1:9191 --http-addr 127.0.0.1:9192 \
  --spiffe-socket "$AGENT_SOCKET" --trust-domain nexus.local \
  --consent-bundle http://127.0.0.1:18080/api/v1/bundles/nexus-consent.tar.gz \
  --decision-log-seal http://127.0.0.1:18080 \
  --decision-log "$LOGS/decisions.log" >"$LOGS/authz.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:8101/readyz 2>/dev/null && curl -fsS -o /dev/null http://127.0.0.1:8102/readyz 2>/dev/null && break
  sleep 0.1
done
for _ in $(seq 1 50); do curl -fsS -o /dev/null http://127.0.0.1:9192/readyz 2>/dev/null && break; sleep 0.1; done

# Prometheus scrapes every service with the shipped configuration and
# alert rules, when it is installed.
if [ ${#prom_flag[@]} -gt 0 ]; then
  sed -e "s#\.\./\.\./\.data/controlplane/admin.token#$(pwd)/$DATA/controlplane/admin.token#" \
      -e "s#\[alerts.yaml\]#[$(pwd)/deploy/prometheus/alerts.yaml]#" deploy/prometheus/prometheus.yml >"$DATA/prometheus.yml"
  "$PROM" --config.file "$DATA/prometheus.yml" --storage.tsdb.path "$DATA/prometheus" \
    --web.listen-address 127.0.0.1:9090 >"$LOGS/prometheus.log" 2>&1 & pids+=($!)
  prom_line="prometheus     http://127.0.0.1:9090, scraping every service with deploy/prometheus/ (alerts included); rollout gates read it"
else
  prom_line="prometheus     not started (apt-get install prometheus, or PROMETHEUS_BIN); each service serves /metrics"
fi

ENVOY=${ENVOY_BIN:-$(command -v envoy || true)}
if [ -n "$ENVOY" ]; then
  envoy/run-sidecar.sh "$ENVOY" "$DATA/controlplane/envoy/model~triage.json" >"$LOGS/envoy-model-triage.log" 2>&1 & pids+=($!)
  envoy_line="envoy          model~triage sidecar, mTLS on 127.0.0.1:10000, admin 127.0.0.1:15000 (log $LOGS/envoy-model-triage.log)"
else
  envoy_line="envoy          not found: no sidecar started (set ENVOY_BIN or put envoy on PATH; 'go run github.com/tetratelabs/func-e/cmd/func-e@latest run' fetches one). Control plane and backends keep serving."
fi

TOKEN_FILE=$DATA/controlplane/admin.token
cat <<MSG

SecureAI Nexus is running (logs in $LOGS/):
  control plane  xDS 127.0.0.1:18000, admin API http://127.0.0.1:18080 (token in $TOKEN_FILE)
  nexus-backend  triage v1 on 127.0.0.1:8001, v2 on 127.0.0.1:8002 (mTLS, model sidecar only; probes on 8101/8102)
  identity       built-in CA; trust bundle $DATA/controlplane/bundle.pem, node credentials in $DATA/controlplane/nodes/
  nexus-authz    ext_authz gRPC over mTLS (spiffe://nexus.local/nexus/authz) 127.0.0.1:9191, /readyz and /metrics on http://127.0.0.1:9192, policies/ (decisions in $LOGS/decisions.log)
  $envoy_line
  $traces_line
  $prom_line

Try:
  curl -s -H "Authorization: Bearer \$(cat $TOKEN_FILE)" http://127.0.0.1:18080/api/v1/admin/models
  (or: bin/nexusctl models; bin/nexusctl traffic triage v1=50 v2=50; bin/nexusctl proxy-status)
  curl -s -X PUT -H "Authorization: Bearer \$(cat $TOKEN_FILE)" -H 'Content-Type: application/json' \\
       -d '{"weights":{"v1":50,"v2":50}}' http://127.0.0.1:18080/api/v1/admin/models/triage/traffic

Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
echo "a process exited; see $LOGS/" >&2
exit 1
