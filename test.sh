#!/usr/bin/env bash
# Runs the whole test suite: the test peers' selftests, the README's tour (tests/readme-tour), the
# unit tests once (the connector contract on both providers among them), the HTTP-level suite on
# SQLite and again on PostgreSQL (installed from Debian packages and started by .ci/postgres.sh if
# needed). The FHIR connector's tests start an independent FHIR server (tests/fhir-peer, Node.js
# packages from npm).
# Ends with one line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log_dir=$(mktemp -d)
passed=0
failed=0

finish() {
  echo "tests: $passed passed, $failed failed"
  [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
  exit $?
}

count() { # adds up the summary lines ("Passed!  - Failed: 0, Passed: 19, ...") of one dotnet test run
  local file=$1 p f line
  while IFS= read -r line; do
    f=$(sed -E 's/.*Failed: +([0-9]+),.*/\1/' <<<"$line")
    p=$(sed -E 's/.*Passed: +([0-9]+),.*/\1/' <<<"$line")
    passed=$((passed + p))
    failed=$((failed + f))
  done < <(grep -E '^(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+,' "$file")
  if ! grep -Eq '^(Passed|Failed)! +- ' "$file" || grep -Eqi 'test run (was )?aborted' "$file"; then
    failed=$((failed + 1)) # the run broke (or was stopped as hung) before every test reported
  fi
}

if ! pg=$(bash .ci/postgres.sh); then
  echo "PostgreSQL could not be installed or started; the PostgreSQL half of the suite cannot run." >&2
  failed=$((failed + 1))
  finish
fi
export VARDBRO_TEST_POSTGRES="$pg"

if ! command -v node >/dev/null || ! bash tests/fhir-peer/install.sh >"$log_dir/peer.log" 2>&1; then
  echo "The FHIR test peer's Node.js packages could not be installed (needs Node.js 20 and npm):" >&2
  tail -20 "$log_dir/peer.log" >&2 2>/dev/null
  failed=$((failed + 1))
  finish
fi

if ! bash tests/openapi-tools/install.sh >"$log_dir/openapi-tools.log" 2>&1 || ! dotnet tool restore >>"$log_dir/openapi-tools.log" 2>&1; then
  echo "The OpenAPI test tools (Redocly CLI from npm, Kiota from .config/dotnet-tools.json) could not be installed:" >&2
  tail -20 "$log_dir/openapi-tools.log" >&2 2>/dev/null
  failed=$((failed + 1))
  finish
fi

if ! dotnet build Vardbro.slnx -c Release -warnaserror >"$log_dir/build.log" 2>&1; then
  grep -E 'error|Error' "$log_dir/build.log" | sort -u | head -40 >&2
  failed=$((failed + 1))
  finish
fi

# The test peers check themselves first: a connector test is only as good as the peer it runs against.
echo "== test peers" >&2
node --test tests/cliniko-peer/selftest.mjs >"$log_dir/cliniko-peer.log" 2>&1
p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log_dir/cliniko-peer.log"); f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$log_dir/cliniko-peer.log")
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
echo "cliniko-peer: ${p:-0} passed, ${f:-?} failed" >&2
node tests/fhir-peer/selftest-all.mjs >"$log_dir/fhir-peer.log" 2>&1 || failed=$((failed + 1))
while IFS= read -r line; do
  passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")))
  failed=$((failed + $(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")))
  echo "fhir-peer $line" >&2
done < <(grep -E '^(OK|FAIL) +[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log_dir/fhir-peer.log")

# The README's tour, run as written against a freshly started server (the Release build above).
echo "== README tour" >&2
bash tests/readme-tour/run.sh >"$log_dir/readme-tour.log" 2>&1
line=$(grep -E '^readme-tour: [0-9]+ passed, [0-9]+ failed' "$log_dir/readme-tour.log" | tail -1)
if [ -n "$line" ]; then
  passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")))
  failed=$((failed + $(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")))
else
  failed=$((failed + 1))
fi
grep -E '^FAIL|^ +(expected|got|exit)' "$log_dir/readme-tour.log" | head -40 >&2
echo "${line:-readme-tour: did not finish}" >&2

# A test that hangs ends its run after 5 minutes (naming the test) instead of holding CI for 90.
hang=(--blame-hang-timeout 5m --blame-hang-dump-type none)

echo "== unit tests" >&2
dotnet test tests/Vardbro.Connectors.Tests -c Release --no-build "${hang[@]}" 2>&1 | tee "$log_dir/unit.log" | grep -E '^\s*(Failed |Passed!|Failed!)|hang' >&2
count "$log_dir/unit.log"

for provider in sqlite postgres; do
  echo "== HTTP-level tests on $provider" >&2
  VARDBRO_TEST_PROVIDER=$provider dotnet test tests/Vardbro.Server.Tests -c Release --no-build "${hang[@]}" 2>&1 \
    | tee "$log_dir/$provider.log" | grep -E '^\s*(Failed |Passed!|Failed!)|Error Message|hang' -A2 >&2
  count "$log_dir/$provider.log"
done

finish
