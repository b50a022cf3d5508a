#!/usr/bin/env bash
# Usage: start.sh PORT [PROFILE] -- runs the FHIR peer in the foreground on 127.0.0.1:PORT.
# PROFILE (or env FHIR_PEER_PROFILE): default (the lenient peer), oracle, epic; see README.md.
set -euo pipefail
cd "$(dirname "$0")"
PORT="${1:?usage: start.sh PORT}"
if [ package-lock.json -nt node_modules/.package-lock.json ]; then
  ./install.sh
fi
exec node server.mjs "$PORT" ${2:+"$2"}
