#!/usr/bin/env bash
# Usage: start.sh PORT -- runs the FHIR peer in the foreground on 127.0.0.1:PORT.
set -euo pipefail
cd "$(dirname "$0")"
PORT="${1:?usage: start.sh PORT}"
if [ package-lock.json -nt node_modules/.package-lock.json ]; then
  ./install.sh
fi
exec node server.mjs "$PORT"
