#!/usr/bin/env bash
# Times a cold `make test` against its compile floor, in one run, each from
# an empty build cache (GOCACHE; the module cache is kept):
#
#   floor  everything make test compiles and links — piiguard.wasm, every
#          test binary (-race where make test uses it, vet included) and the
#          four commands e2e builds with -race — running no test;
#   cold   make test itself.
#
# About 17 minutes on 2 cores. docs/benchmarks.md ("make test") has the
# figures.
set -uo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
read -r -a modules <<<"$(sed -n 's/^MODULES := //p' Makefile)"
race=()
for m in "${modules[@]}"; do [[ $m == filters ]] || race+=("./$m/..."); done

cache=$(mktemp -d)
out=$(mktemp -d)
trap 'rm -rf "$cache" "$out"' EXIT
export GOCACHE=$cache

start=$(date +%s)
(cd filters && GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -trimpath -ldflags='-s -w' -o "$out/piiguard.wasm" ./cmd/piiguard) || exit 1
"$GO" test -race -vet=all -count=1 -run '^$' "${race[@]}" >/dev/null &
pid=$!
"$GO" test -vet=all -count=1 -run '^$' ./filters/... >/dev/null &&
  "$GO" test -tags scan_dismiss -count=1 -run '^$' ./filters/scan/ >/dev/null || exit 1
wait "$pid" || exit 1
for c in controlplane/cmd/nexus-controlplane controlplane/cmd/nexusctl inference-backend/cmd/nexus-backend authz/cmd/nexus-authz; do
  (cd "$(dirname "$c")" && "$GO" build -race -o "$out/" "./$(basename "$c")") || exit 1
done
floor=$(($(date +%s) - start))
echo "floor: ${floor} s (compile and link only)"

rm -rf "$cache" && mkdir -p "$cache"
start=$(date +%s)
make test >"$out/make-test.log" 2>&1
rc=$?
cold=$(($(date +%s) - start))
echo "make test, cold: ${cold} s (exit ${rc}); ratio to the floor: $(awk -v a="$cold" -v b="$floor" 'BEGIN{printf "%.2f", a/b}')"
if ((rc != 0)); then tail -50 "$out/make-test.log"; exit 1; fi
