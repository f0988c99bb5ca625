#!/usr/bin/env bash
# Builds Jaeger v2 (the jaeger binary: an OpenTelemetry collector with
# Jaeger's storage and query extensions) from Jaeger's Go module and caches it
# outside the repository, keyed by version, so the build is paid once.
#
# `go install` refuses Jaeger's module because its go.mod has a replace
# directive, so the module is copied out of the module cache and built there.
set -euo pipefail

version="${JAEGER_VERSION:-v1.76.0}"
cache="${NEXUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secureai-nexus}/jaeger/${version}"
bin="${cache}/bin"

if [[ -x "${bin}/jaeger" ]]; then
  echo "${bin}"
  exit 0
fi

mkdir -p "${cache}"
if ! info="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@${version}")"; then
  echo "jaeger-build: could not download github.com/jaegertracing/jaeger@${version}:" >&2
  echo "${info}" >&2
  exit 1
fi
modroot="$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"${info}")"
if [[ -z "${modroot}" ]]; then
  echo "jaeger-build: no module directory for github.com/jaegertracing/jaeger@${version}" >&2
  exit 1
fi

src="${cache}/src"
rm -rf "${src}"
cp -r "${modroot}" "${src}"
chmod -R u+w "${src}"

mkdir -p "${bin}.tmp"
(
  cd "${src}"
  # The workspace of the calling repository must not leak into Jaeger's build.
  # nice: the build takes minutes of every core and should not starve tests.
  GOWORK=off GOFLAGS=-mod=mod nice -n 10 go build -trimpath -o "${bin}.tmp/" ./cmd/jaeger >&2
)
rm -rf "${bin}"
mv "${bin}.tmp" "${bin}"
rm -rf "${src}"
echo "${bin}"
