#!/usr/bin/env bash
# Installs npm's @sigstore/verify (the foreign verifier make test checks
# our model signatures with) outside the repository, keyed by version, and
# prints the directory to set as NEXUS_SIGSTORE_VERIFY_DIR. A second call
# returns at once.
set -euo pipefail

version="${SIGSTORE_VERIFY_VERSION:-4.1.3}"
dir="${NEXUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secureai-nexus}/sigstore-verify/${version}"

if [[ -d "${dir}/node_modules/@sigstore/verify" ]]; then
  echo "${dir}"
  exit 0
fi
command -v npm >/dev/null || { echo "sigstore-verify: npm is required (apt-get install npm)" >&2; exit 1; }
mkdir -p "${dir}.tmp"
npm install --silent --no-audit --no-fund --prefix "${dir}.tmp" "@sigstore/verify@${version}" >&2
rm -rf "${dir}"
mv "${dir}.tmp" "${dir}"
echo "${dir}"
