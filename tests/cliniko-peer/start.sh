#!/usr/bin/env bash
# Usage: start.sh PORT -- runs the Cliniko peer in the foreground on 127.0.0.1:PORT.
# Plain Node.js (20+), no packages. Settings come from CLINIKO_PEER_* environment variables (README).
set -euo pipefail
cd "$(dirname "$0")"
PORT="${1:?usage: start.sh PORT}"
exec node server.mjs "$PORT"
