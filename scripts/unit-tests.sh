#!/usr/bin/env bash
# make test's go tests: vet (go test -vet=all) and every test of every
# module in the workspace, as two go test runs side by side.
#
#   - The servers' modules are one go test -race run, not one per module:
#     the go command then compiles one module's packages while another's
#     tests wait on their servers and clocks, instead of leaving a core
#     idle at the end of each module.
#   - filters runs without -race (its code is single-threaded, inside a
#     wasm VM, and the race detector makes wazero's compilation of
#     piiguard.wasm many times slower), beside the race run rather than
#     after it, with its output held until it is done so the two do not
#     interleave; then filters/scan again as built for the .wasm (words
#     dismissed by their first letter).
#
# Usage: scripts/unit-tests.sh MODULE... (the Makefile's MODULES)
set -uo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"

race=()
filters=false
for m in "$@"; do
  if [[ $m == filters ]]; then filters=true; else race+=("./$m/..."); fi
done
if ((${#race[@]} == 0)) && ! $filters; then
  echo "usage: scripts/unit-tests.sh MODULE..." >&2
  exit 2
fi

NEXUS_SIGSTORE_VERIFY_DIR=$(scripts/sigstore-verify.sh) || exit 1
export NEXUS_SIGSTORE_VERIFY_DIR

filters_log=$(mktemp)
trap 'rm -f "$filters_log"' EXIT
filters_pid=
if $filters; then
  (
    set -e
    echo "== ./filters/..."
    "$GO" test -vet=all -count=1 ./filters/...
    echo "== ./filters/scan/ as built for the .wasm (words dismissed by their first letter)"
    "$GO" test -tags scan_dismiss -count=1 ./filters/scan/
  ) >"$filters_log" 2>&1 &
  filters_pid=$!
fi

race_rc=0
if ((${#race[@]} > 0)); then
  echo "== ${race[*]} (-race)"
  "$GO" test -race -vet=all -count=1 "${race[@]}"
  race_rc=$?
fi

filters_rc=0
if [[ -n $filters_pid ]]; then
  wait "$filters_pid"
  filters_rc=$?
  cat "$filters_log"
fi

if ((race_rc != 0 || filters_rc != 0)); then
  echo "unit tests failed: -race run exit $race_rc, filters run exit $filters_rc" >&2
  exit 1
fi
