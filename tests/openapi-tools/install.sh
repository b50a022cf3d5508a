#!/usr/bin/env bash
# Installs the pinned OpenAPI test tools (node_modules) from package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error >&2
