#!/usr/bin/env bash
# Starts one Envoy sidecar from the bootstrap the control plane wrote for its
# node (<data-dir>/envoy/<node-id>.json). Everything else arrives over ADS.
#   envoy/run-sidecar.sh ENVOY_BIN BOOTSTRAP_JSON
set -euo pipefail
envoy=${1:?usage: run-sidecar.sh ENVOY_BIN BOOTSTRAP_JSON}
bootstrap=${2:?usage: run-sidecar.sh ENVOY_BIN BOOTSTRAP_JSON}
node=$(basename "$bootstrap" .json)
exec "$envoy" --config-path "$bootstrap" --service-node "$node" --service-cluster nexus \
  --log-level info --drain-time-s 5 --base-id "$(( $(cksum <<<"$node" | cut -d' ' -f1) % 60000 ))"
