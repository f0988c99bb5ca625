#!/usr/bin/env bash
# Builds spire-server and spire-agent from SPIRE's Go module and caches the
# binaries outside the repository, keyed by version: the server build takes
# about 12 minutes and 4 GB, far too slow to repeat per run.
#
# `go install` refuses SPIRE's module because its go.mod has replace
# directives, so the module is copied out of the module cache and built there.
set -euo pipefail

version="${SPIRE_VERSION:-v1.13.3}"
cache="${NEXUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secureai-nexus}/spire/${version}"
bin="${cache}/bin"

if [[ -x "${bin}/spire-server" && -x "${bin}/spire-agent" ]]; then
  echo "${bin}"
  exit 0
fi

mkdir -p "${cache}"
modroot="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/spiffe/spire@${version}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
if [[ -z "${modroot}" ]]; then
  echo "spire-build: could not download github.com/spiffe/spire@${version}" >&2
  exit 1
fi

src="${cache}/src"
rm -rf "${src}"
cp -r "${modroot}" "${src}"
chmod -R u+w "${src}"

mkdir -p "${bin}.tmp"
(
  cd "${src}"
  # The workspace of the calling repository must not leak into SPIRE's build.
  GOWORK=off GOFLAGS=-mod=mod go build -trimpath -o "${bin}.tmp/" ./cmd/spire-server ./cmd/spire-agent >&2
)
rm -rf "${bin}"
mv "${bin}.tmp" "${bin}"
rm -rf "${src}"
echo "${bin}"
