#!/usr/bin/env bash
# Runs the README's five-minute tour, as written there, against a freshly started sandbox server
# (Development, an empty temporary data directory, a free port) and checks every answer the README
# shows. Needs the server built in Release (dotnet build Vardbro.slnx -c Release), Node.js, curl and
# jq (installed from Debian packages when missing). Ends with "readme-tour: N passed, M failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/src/Vardbro.Server/bin/Release/net10.0"
[ -f "$bin/Vardbro.Server.dll" ] || { echo "readme-tour: build the server in Release first" >&2; echo "readme-tour: 0 passed, 1 failed"; exit 1; }
if ! command -v jq >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq jq >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq jq >/dev/null 2>&1; }
  else sudo apt-get install -y -qq jq >/dev/null 2>&1 || { sudo apt-get update -qq >/dev/null 2>&1; sudo apt-get install -y -qq jq >/dev/null 2>&1; }; fi
  command -v jq >/dev/null || { echo "readme-tour: jq could not be installed" >&2; echo "readme-tour: 0 passed, 1 failed"; exit 1; }
fi

work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base="http://127.0.0.1:$port"
# The content root is the build output, which holds appsettings.json and appsettings.Development.json.
(cd "$bin" && ASPNETCORE_ENVIRONMENT=Development Storage__Provider=sqlite Storage__DataDirectory="$work/data" \
  exec dotnet Vardbro.Server.dll --urls "$base" >"$work/server.log" 2>&1) &
server=$!
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "$base/healthz" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 1
done
if ! curl -sf -o /dev/null "$base/healthz"; then
  echo "readme-tour: the server did not start:" >&2; tail -20 "$work/server.log" >&2
  echo "readme-tour: 0 passed, 1 failed"; exit 1
fi

mkdir -p "$work/out" "$work/cwd/docs" && cp -r "$root/docs/sample" "$work/cwd/docs/"
readme=${README_TOUR_FILE:-$root/README.md}
node "$root/tests/readme-tour/tour.mjs" extract "$readme" "$work/out" "$base" >/dev/null || { echo "readme-tour: 0 passed, 1 failed"; exit 1; }
(cd "$work/cwd" && timeout 300 bash "$work/out/tour.sh")
node "$root/tests/readme-tour/tour.mjs" check "$readme" "$work/out" "$base"
