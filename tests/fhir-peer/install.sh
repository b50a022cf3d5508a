#!/usr/bin/env bash
# Installs the peer's pinned npm packages (node_modules) from package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error >&2
