#!/usr/bin/env bash
# The benchmark of issue #6: builds Release, bulk-loads synthetic data straight into the store,
# starts Vardbro (sandbox off, a benchmark client), measures a minimal Kestrel app serving a stored
# patient JSON from memory (the machine's ceiling), then drives the API with wrk and the Lua scripts
# in bench/wrk/, and writes a Markdown table to bench/results/<date>[-postgres][-quick].md.
#
#   bench/run.sh [--quick] [--postgres [--pg-fast] [--pgbench-clients N]] [--patients N] [--keep]
#
#   --quick       10,000 patients, 1 s warm-up + 3 s per scenario (the whole run in under 3 minutes)
#   --postgres    PostgreSQL 15 instead of SQLite: a cluster of the run's own (initdb in a temporary
#                 directory, its own port; the tests' server is left alone), durable (fsync=on,
#                 synchronous_commit=on), with pgbench -S and pgbench (TPC-B-like) on the same server
#                 in the same run as further ceilings
#   --pg-fast     that cluster with fsync=off and synchronous_commit=off (as the tests run); the
#                 report names it
#   --pgbench-clients N  pgbench clients (default 32, as wrk's connections); --pgbench-scale N (default 10)
#   --instances N  N Vardbro processes on the one PostgreSQL database (needs --postgres); wrk thread k
#                 talks to instance k mod N, so bookings race across processes; the report checks by
#                 SQL that no two active appointments overlap
#   --patients N  patients to load (default 100,000; 10,000 with --quick)
#   --keep        keep the work directory (database, data files, logs, raw wrk output)
#   --label L     add -L to the result file's name (e.g. --label after); an existing file is never
#                 overwritten: a second run of the day gets -run2, -run3, ...
#
# Needs: the .NET SDK and curl; wrk is installed from Debian packages when missing (as root, or
# with sudo); sqlite3/psql are used for counting when present.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
quick=0 postgres=0 patients="" keep=0 label="" pg_fast=0 pgbench_clients=32 pgbench_scale=10 instances=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --postgres) postgres=1 ;;
    --pg-fast) pg_fast=1 ;;
    --instances) instances="${2:?--instances needs a number}"; shift ;;
    --instances=*) instances="${1#*=}" ;;
    --pgbench-clients) pgbench_clients="${2:?--pgbench-clients needs a number}"; shift ;;
    --pgbench-clients=*) pgbench_clients="${1#*=}" ;;
    --pgbench-scale) pgbench_scale="${2:?--pgbench-scale needs a number}"; shift ;;
    --pgbench-scale=*) pgbench_scale="${1#*=}" ;;
    --patients) patients="${2:?--patients needs a number}"; shift ;;
    --patients=*) patients="${1#*=}" ;;
    --keep) keep=1 ;;
    --label) label="${2:?--label needs a name}"; shift ;;
    --label=*) label="${1#*=}" ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

[[ "$pgbench_clients" =~ ^[1-9][0-9]*$ && "$pgbench_scale" =~ ^[1-9][0-9]*$ ]] || { echo "--pgbench-clients and --pgbench-scale take a whole number >= 1" >&2; exit 2; }
[ $postgres = 1 ] || [ $pg_fast = 0 ] || { echo "--pg-fast needs --postgres" >&2; exit 2; }
[[ "$instances" =~ ^[1-8]$ ]] || { echo "--instances takes 1 to 8" >&2; exit 2; }
[ "$instances" = 1 ] || [ $postgres = 1 ] || { echo "--instances $instances needs --postgres (several processes share one database)" >&2; exit 2; }
[[ -z "$label" || "$label" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "--label takes letters, digits, '.', '_' and '-'" >&2; exit 2; }
default_patients=$([ $quick = 1 ] && echo 10000 || echo 100000)
patients="${patients:-$default_patients}"
[[ "$patients" =~ ^[0-9]+$ ]] && [ "$patients" -ge 100 ] || { echo "--patients must be a number >= 100" >&2; exit 2; }
duration=$([ $quick = 1 ] && echo 3 || echo 10)
warmup=$([ $quick = 1 ] && echo 1 || echo 3)
# Tiered JIT (with dynamic PGO) needs 20-30 s of a scenario's load before the server reaches its
# steady state for it (measured: search 300 req/s in the first 8 s, 630 from 24 s on), so every
# scenario runs this long once, right after the start, before any is measured.
jit_warmup=$([ $quick = 1 ] && echo 2 || echo 25)
# One wrk thread per instance at least (each thread keeps to one instance), two at least.
threads=$(( instances > 2 ? instances : 2 ))
connections=32
# pgbench runs this long per mode (-S, then TPC-B-like) on the benchmark's own server.
pgbench_duration=$([ $quick = 1 ] && echo 5 || echo 20)
pg_bin=/usr/lib/postgresql/15/bin
provider=$([ $postgres = 1 ] && echo postgres || echo sqlite)

install_debian() { # package: as .ci/postgres.sh installs PostgreSQL, as root or through sudo
  echo "[bench] installing $1 (Debian package) ..." >&2
  if [ "$(id -u)" = 0 ]; then as_root=(); elif command -v sudo >/dev/null; then as_root=(sudo); else
    echo "bench: $1 is missing and cannot be installed (not root, no sudo); install the Debian package $1" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq >&2 && "${as_root[@]}" apt-get install -y -qq "$1" >&2 \
    || { echo "bench: installing $1 failed (apt-get install -y $1)" >&2; exit 1; }
}
command -v wrk >/dev/null || install_debian wrk
if [ $postgres = 1 ] && ! { [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pgbench" ]; }; then install_debian postgresql-15; fi

for tool in dotnet wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

artifacts="$here/.artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/vardbro-bench.XXXXXX")"
data="$work/data"
server_pid="" server_pids=() baseline_pid="" pg_db="" pg_port="" pg_data=""
started_at=$(date +%s)

log() { echo "[bench $(date +%T)] $*" >&2; }

stop_pid() {
  local pid="$1"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

psql_run() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d "${2:-postgres}" -v ON_ERROR_STOP=1 -tAq -c "$1"; }

pg_as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  local rc=$?
  set +e
  stop_pid "$baseline_pid"
  for pid in "${server_pids[@]}"; do stop_pid "$pid"; done
  if [ -n "$pg_data" ]; then
    log "stopping the benchmark's PostgreSQL cluster"
    pg_as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1
    if [ "$keep" = 1 ]; then log "PostgreSQL data directory kept: $pg_data"; else rm -rf "$pg_data"; fi
  fi
  if [ "$keep" = 1 ]; then
    log "work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

wait_http() { # url pid seconds
  local deadline=$(( $(date +%s) + $3 ))
  until curl -sf -o /dev/null "$1"; do
    kill -0 "$2" 2>/dev/null || { log "process $2 died; see $work"; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { log "timed out waiting for $1"; return 1; }
    sleep 0.2
  done
}

# ---- 1. build ---------------------------------------------------------------------------------
# Into bench/.artifacts, so the Release build neither touches nor races the projects' own bin/obj.
log "building (Release) into $artifacts"
for project in src/Vardbro.Server/Vardbro.Server.csproj bench/Vardbro.Bench.Loader/Vardbro.Bench.Loader.csproj bench/Vardbro.Bench.Baseline/Vardbro.Bench.Baseline.csproj; do
  dotnet build "$root/$project" -c Release --artifacts-path "$artifacts" -nologo -v q -clp:ErrorsOnly >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
done
server_dll="$artifacts/bin/Vardbro.Server/release/Vardbro.Server.dll"
loader_dll="$artifacts/bin/Vardbro.Bench.Loader/release/Vardbro.Bench.Loader.dll"
baseline_dll="$artifacts/bin/Vardbro.Bench.Baseline/release/Vardbro.Bench.Baseline.dll"

# ---- 2. store and bulk load -------------------------------------------------------------------
store_args=()
server_env=()
if [ $postgres = 1 ]; then
  # A cluster of the run's own: the tests' server (.ci/postgres.sh, fsync=off) is neither used nor disturbed.
  pg_data="$(mktemp -d "${TMPDIR:-/tmp}/vardbro-bench-pg.XXXXXX")"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_data"
  pg_as_postgres "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log" >&2; exit 1; }
  pg_port=$(free_port)
  if [ $pg_fast = 1 ]; then durability=(-c fsync=off -c synchronous_commit=off); else durability=(-c fsync=on -c synchronous_commit=on); fi
  log "starting PostgreSQL on 127.0.0.1:$pg_port ($pg_data, ${durability[*]})"
  pg_as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w -t 60 \
    -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=300 ${durability[*]}" start >/dev/null \
    || { cat "$pg_data/server.log" >&2; exit 1; }
  psql() { "$pg_bin/psql" "$@"; }
  pg_db="vardbro_bench"
  psql_run "CREATE DATABASE $pg_db" >/dev/null
  cs="Host=127.0.0.1;Port=$pg_port;Username=postgres;Password=postgres;Database=$pg_db"
  store_args=(--provider postgres --connection "$cs")
  server_env=(Storage__Provider=postgres "ConnectionStrings__Vardbro=$cs")
  # What the report says about the server is what the server says, not what was asked of it.
  pg_version=$(psql_run "SHOW server_version" | cut -d' ' -f1)
  pg_fsync=$(psql_run "SHOW fsync")
  pg_synchronous_commit=$(psql_run "SHOW synchronous_commit")
  pg_shared_buffers=$(psql_run "SHOW shared_buffers")
  pg_full_page_writes=$(psql_run "SHOW full_page_writes")
  pg_wal_sync_method=$(psql_run "SHOW wal_sync_method")
  pg_max_connections=$(psql_run "SHOW max_connections")
else
  mkdir -p "$work/db"
  store_args=(--provider sqlite --data-dir "$work/db")
  server_env=(Storage__Provider=sqlite "Storage__DataDirectory=$work/db")
fi

log "loading $patients patients ($provider)"
dotnet "$loader_dll" load "${store_args[@]}" --patients "$patients" --out "$data" >"$work/load.log" 2>&1 \
  || { cat "$work/load.log" >&2; exit 1; }
cat "$work/load.log" >&2
# shellcheck disable=SC1091
source "$data/load.env"

data_size_bytes() {
  if [ $postgres = 1 ]; then
    psql_run "SELECT pg_database_size('$pg_db')"
  else
    du -cb "$work/db"/*.db* | tail -1 | cut -f1
  fi
}
size_after_load=$(data_size_bytes)

# pgbench on the same server, before Vardbro starts (nothing else of the run uses the machine then):
# the database's own ceiling for a point read (-S) and for its TPC-B-like write transaction.
declare -A pgbench_tps pgbench_latency
if [ $postgres = 1 ]; then
  psql_run "CREATE DATABASE pgbench" >/dev/null
  log "pgbench: initialising scale $pgbench_scale"
  "$pg_bin/pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -i -q -s "$pgbench_scale" pgbench >"$work/pgbench-init.log" 2>&1 \
    || { cat "$work/pgbench-init.log" >&2; exit 1; }
  for mode in select write; do
    flags=(); [ $mode = select ] && flags=(-S)
    log "pgbench ${flags[*]:-(TPC-B-like)}: $pgbench_clients clients, ${pgbench_duration}s"
    "$pg_bin/pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres "${flags[@]}" -M prepared -c "$pgbench_clients" -j "$threads" -T "$pgbench_duration" pgbench \
      >"$work/pgbench-$mode.txt" 2>&1 || { cat "$work/pgbench-$mode.txt" >&2; exit 1; }
    pgbench_tps[$mode]=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$work/pgbench-$mode.txt")
    pgbench_latency[$mode]=$(awk '/^latency average = / { print $4; exit }' "$work/pgbench-$mode.txt")
    log "pgbench $mode: ${pgbench_tps[$mode]} tps, latency average ${pgbench_latency[$mode]} ms"
  done
  psql_run "DROP DATABASE pgbench" >/dev/null
fi

audit_count() {
  if [ $postgres = 1 ]; then
    psql_run "SELECT COUNT(*) FROM audit_events" "$pg_db"
  elif command -v sqlite3 >/dev/null; then
    # The server keeps the audit trail in its own file beside vardbro.db (README, "Storage").
    sqlite3 -cmd ".timeout 10000" "$work/db/audit.db" "SELECT COUNT(*) FROM audit_events"
  else
    dotnet "$loader_dll" count "${store_args[@]}" --table audit_events
  fi
}

# Requests still in flight when wrk stops are finished (and audited) by the server afterwards.
audit_settled() {
  local last now
  last=$(audit_count)
  for _ in $(seq 50); do
    sleep 0.3
    now=$(audit_count)
    [ "$now" = "$last" ] && break
    last=$now
  done
  echo "$last"
}

# ---- 3. the server ----------------------------------------------------------------------------
# One client drives every scenario far above the default per-client rate (1,200 a minute): the limit
# is set out of reach, so the limiter's cost is measured but it never answers 429.
server_urls=()
for i in $(seq "$instances"); do
  port=$(free_port)
  log "starting Vardbro$([ "$instances" -gt 1 ] && echo " instance $i") on 127.0.0.1:$port"
  (
    cd "$work" # no appsettings.json here: the server reads the one shipped beside it
    exec env ASPNETCORE_ENVIRONMENT=Production Sandbox__Enabled=false "${server_env[@]}" \
      Emrs__bench__Name="Benchmark EMR" Emrs__bench__Connector=local \
      Emrs__bench__PatientIdTypes__0=emr_id Emrs__bench__PatientIdTypes__1=se_personal_number Emrs__bench__PatientIdTypes__2=no_personal_number \
      Emrs__bench__ResourceIdTypes__0=emr_id Emrs__bench__ResourceIdTypes__1=hsa_id \
      RateLimits__PerClient__RequestsPerMinute=60000000 RateLimits__PerClient__Burst=1000000 \
      dotnet "$server_dll" --urls "http://127.0.0.1:$port"
  ) >"$work/server$([ "$i" -gt 1 ] && echo "$i").log" 2>&1 &
  server_pids+=($!)
  # One after the other: each starts against a database the one before has already checked.
  wait_http "http://127.0.0.1:$port/healthz" "$!" 60
  server_urls+=("http://127.0.0.1:$port")
done
server_pid=${server_pids[0]}
server_url=${server_urls[0]}
auth=(-H "x-leyr-client-id: bench-client" -H "x-leyr-client-secret: bench-secret")
curl -sf "${auth[@]}" -o "$work/patient.json" "$server_url/api/emrs/bench/care-units/C1/patients/emr_id:$(head -1 "$data/patients_emr.txt")" \
  || { log "the benchmark client cannot read a loaded patient"; exit 1; }

# ---- 4./5. wrk --------------------------------------------------------------------------------
export BENCH_DATA="$data" BENCH_THREADS="$threads"
declare -A rps p50 p99 errs notes responses sent audited raw_files cpu_us
order=()
booking_rate=0

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; printf "%.2f", n }'; }

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | head -1; }

# User and system CPU ticks of the process(es) under test: the baseline while it runs, else every instance.
cpu_ticks() {
  local pids=("${server_pids[@]}") total=0 pid
  [ -n "$baseline_pid" ] && pids=("$baseline_pid")
  for pid in "${pids[@]}"; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

run_wrk() { # name script url audited(0|1)
  local name="$1" script="$2" url="$3" is_audited="$4" slug out before=0 after=0 line
  slug=$(tr -c 'a-zA-Z0-9\n' '_' <<<"$name")
  out="$work/wrk-$slug.txt"
  raw_files[$name]="$out"
  log "$name: warm-up ${warmup}s, then ${duration}s"
  (cd "$here/wrk" && BENCH_WARMUP=1 BENCH_K0=100 BENCH_SLOT_START="$(( $(wc -l <"$data/slots_warmup.txt") / 2 ))" \
    wrk -t"$threads" -c"$connections" -d"${warmup}s" --timeout 10s -s "$script" "$url") >"$work/warmup-$slug.txt" 2>&1
  if [ "$is_audited" = 1 ]; then before=$(audit_settled); fi
  # The process's CPU time over the measured run: per request, it does not depend on how fast the
  # shared machine happens to be at the time, as req/s does (only on what the server does).
  local ticks_before ticks_after
  ticks_before=$(cpu_ticks)
  (cd "$here/wrk" && wrk -t"$threads" -c"$connections" -d"${duration}s" --timeout 10s --latency -s "$script" "$url") >"$out" 2>&1
  ticks_after=$(cpu_ticks)
  if [ "$is_audited" = 1 ]; then after=$(audit_settled); fi
  line=$(grep '^BENCH_RESULT' "$out" || true)
  [ -n "$line" ] || { cat "$out" >&2; log "$name: no result from wrk"; exit 1; }
  order+=("$name")
  rps[$name]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  p50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  errs[$name]=$(( $(field socket_errors "$line") + $(field unexpected "$line") ))
  responses[$name]=$(field requests "$line")
  sent[$name]=$(field sent "$line")
  notes[$name]="statuses $(field statuses "$line")"
  cpu_us[$name]=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v n="$(field requests "$line")" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }')
  if [ "$is_audited" = 1 ]; then audited[$name]=$((after - before)); fi
  case "$name" in
    "POST appointment"*)
      local ok dur
      ok=$(field statuses "$line" | tr ',' '\n' | sed -n 's/^201://p'); ok=${ok:-0}
      dur=$(field duration_us "$line")
      notes[$name]="${notes[$name]}; $(awk -v ok="$ok" -v d="$dur" 'BEGIN { printf "%.0f", ok / (d / 1e6) }') bookings/s; slots wrapped: $(field slots_wrapped "$line")"
      booking_rate=$(awk -v ok="$ok" -v d="$dur" 'BEGIN { printf "%.0f", ok / (d / 1e6) }')
      ;;
  esac
  log "$name: ${rps[$name]} req/s, p50 ${p50[$name]} ms, p99 ${p99[$name]} ms, errors ${errs[$name]} (${notes[$name]})"
}

# The baseline: the same bytes the server answered, from memory, driven like GET by emr_id.
baseline_port=$(free_port)
dotnet "$baseline_dll" --body "$work/patient.json" --urls "http://127.0.0.1:$baseline_port" >"$work/baseline.log" 2>&1 &
baseline_pid=$!
wait_http "http://127.0.0.1:$baseline_port/healthz" "$baseline_pid" 30
run_wrk "baseline (static patient JSON)" get_patient_emr.lua "http://127.0.0.1:$baseline_port" 0
stop_pid "$baseline_pid"
baseline_pid=""
baseline_rps=${rps["baseline (static patient JSON)"]}
# From here on every wrk thread keeps to one instance (common.lua's setup sets its address).
[ "$instances" -gt 1 ] && export BENCH_HOSTS="${server_urls[*]#http://}"

server_scripts=(get_patient_emr.lua get_patient_se.lua search_lastname.lua timeslots.lua post_appointment.lua post_patient.lua)
log "JIT warm-up: every server scenario for ${jit_warmup}s"
for script in "${server_scripts[@]}"; do
  (cd "$here/wrk" && BENCH_WARMUP=1 wrk -t"$threads" -c"$connections" -d"${jit_warmup}s" --timeout 10s -s "$script" "$server_url") >"$work/jit-warmup-$script.txt" 2>&1
done

audit_start=$(audit_settled)
run_wrk "GET patient by emr_id" get_patient_emr.lua "$server_url" 1
run_wrk "GET patient by se_personal_number" get_patient_se.lua "$server_url" 1
run_wrk "search by last_name prefix" search_lastname.lua "$server_url" 1
run_wrk "GET timeslots (1 resource, 14 days)" timeslots.lua "$server_url" 1
run_wrk "POST appointment (contention)" post_appointment.lua "$server_url" 1
run_wrk "POST patient" post_patient.lua "$server_url" 1
audit_end=$(audit_settled)

# ---- 6. report --------------------------------------------------------------------------------
vmhwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")
vmrss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")
instance_rss="" instance_cpu=""
for pid in "${server_pids[@]}"; do
  instance_rss="$instance_rss${instance_rss:+, }$(awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pid/status")"
  instance_cpu="$instance_cpu${instance_cpu:+, }$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f s", ($14 + $15) / hz }' "/proc/$pid/stat")"
done
size_after_run=$(data_size_bytes)
cores=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$root" diff --quiet HEAD -- src 2>/dev/null || commit="$commit + uncommitted changes in src/"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
num() { sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta' <<<"$1"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
verdict() { if "$@"; then echo "met"; else echo "**not met**"; fi; }

suffix=""
[ $postgres = 1 ] && suffix="$suffix-postgres"
[ $pg_fast = 1 ] && suffix="$suffix-fast"
[ "$instances" -gt 1 ] && suffix="$suffix-${instances}inst"
[ $quick = 1 ] && suffix="$suffix-quick"
[ "$patients" != "$default_patients" ] && suffix="$suffix-${patients}p"
mkdir -p "$here/results"
[ -n "$label" ] && suffix="-$label$suffix"
result_file="$here/results/$(date +%F)$suffix.md"
n=2
while [ -e "$result_file" ]; do result_file="$here/results/$(date +%F)$suffix-run$n.md"; n=$((n + 1)); done

audited_names=("GET patient by emr_id" "GET patient by se_personal_number" "search by last_name prefix" "POST appointment (contention)" "POST patient")
total_responses=0 total_sent=0 total_audited=0 audit_ok=1
for n in "${audited_names[@]}"; do
  total_responses=$((total_responses + responses[$n]))
  total_sent=$((total_sent + sent[$n]))
  total_audited=$((total_audited + audited[$n]))
  { [ "${audited[$n]}" -ge "${responses[$n]}" ] && [ "${audited[$n]}" -le "${sent[$n]}" ]; } || audit_ok=0
done
[ "${audited["GET timeslots (1 resource, 14 days)"]}" = 0 ] || audit_ok=0

# The whole run: every wrk invocation against an audited endpoint (JIT warm-up, warm-ups, measured
# runs) plus the one sample fetch, against the rows in audit_events at the end.
run_responses=1 run_sent=1
for f in "$work"/jit-warmup-*.txt "$work"/warmup-*.txt "$work"/wrk-*.txt; do
  case "$f" in *timeslots*|*baseline*|*GET_timeslots*) continue ;; esac
  line=$(grep '^BENCH_RESULT' "$f" || true)
  [ -n "$line" ] || continue
  run_responses=$((run_responses + $(field requests "$line")))
  run_sent=$((run_sent + $(field sent "$line")))
done
run_audit_ok=0
if [ "$audit_end" -ge "$run_responses" ] && [ "$audit_end" -le "$run_sent" ]; then run_audit_ok=1; fi

# No two active appointments of one resource overlap, whatever raced for the slots (SQL on the store).
overlaps="" active_appointments=""
if [ $postgres = 1 ]; then
  overlaps=$(psql_run 'SELECT COUNT(*) FROM local_appointments a JOIN local_appointments b
    ON a."Emr" = b."Emr" AND a."ResourceId" = b."ResourceId" AND a."Key" < b."Key"
   AND a."StartUtc" < b."EndUtc" AND b."StartUtc" < a."EndUtc"
   WHERE a."Status" <> '"'cancelled'"' AND b."Status" <> '"'cancelled'"'' "$pg_db")
  active_appointments=$(psql_run 'SELECT COUNT(*) FROM local_appointments WHERE "Status" <> '"'cancelled'"'' "$pg_db")
fi

{
  echo "# Vardbro benchmark: $(date +%F), $provider, $(num "$patients") patients$([ $quick = 1 ] && echo " (quick)")"
  echo
  echo "- Machine: $cores cores ($cpu), $mem_total RAM; wrk and the server share these cores. $(dotnet --version | sed 's/^/.NET SDK /'); commit $commit."
  if [ $postgres = 1 ]; then
    echo "- PostgreSQL $pg_version, a cluster of this run's own$([ $pg_fast = 1 ] && echo " started with **--pg-fast**"), as the server reported it (\`SHOW\`): **fsync=$pg_fsync, synchronous_commit=$pg_synchronous_commit**, shared_buffers=$pg_shared_buffers, full_page_writes=$pg_full_page_writes, wal_sync_method=$pg_wal_sync_method, max_connections=$pg_max_connections$([ "$pg_fsync" = off ] && echo " (commits are not flushed to disk: not durable)")."
    echo "- pgbench on the same server before Vardbro started (scale $pgbench_scale, $pgbench_clients clients, -j $threads, -M prepared, ${pgbench_duration}s each): **-S (select-only) $(num "${pgbench_tps[select]}") tps** (latency average ${pgbench_latency[select]} ms), **TPC-B-like $(num "${pgbench_tps[write]}") tps** (latency average ${pgbench_latency[write]} ms)."
  else
    echo "- SQLite (the bundled e_sqlite3) in WAL mode with the server's settings: synchronous at SQLite's default (FULL; the server does not set it), one file in a temporary directory on the local disk."
  fi
  echo "- Data: $(num "$LOAD_PATIENTS") patients ($(num "$LOAD_SE") Swedish, $(num "$LOAD_NO") Norwegian; $(num "$LOAD_CONTACTS") phones/e-mails), 50 resources with weekly schedules, 2 services, $(num "$LOAD_APPOINTMENTS") existing appointments. Store size after the load: $(mb "$size_after_load"); after the run: $(mb "$size_after_run")."
  echo "- Bulk load ($LOAD_METHOD): **$(num "$LOAD_PATIENTS_PER_SECOND") patients/s** ($(num "$LOAD_PATIENTS") patients with contacts in ${LOAD_PATIENT_SECONDS} s; loader total ${LOAD_TOTAL_SECONDS} s including migrations, master data and appointments)."
  if [ "$instances" -gt 1 ]; then
    echo "- **$instances Vardbro instances** (separate processes) on the one database; wrk thread k sends every request of its connections to instance k mod $instances (\`BENCH_HOSTS\`, set in common.lua's setup), so the contention scenario races each slot across the instances. req/s are the instances' together, server CPU µs/req is all instances' CPU over all responses."
    echo "- Per instance: peak RSS (VmHWM at the end) $instance_rss; CPU time over the whole run (user + system) $instance_cpu (each instance's share of the work)."
  else
    echo "- Server peak RSS (VmHWM at the end): **$(mb $((vmhwm_kb * 1024)))** (VmRSS at the end $(mb $((vmrss_kb * 1024))))."
  fi
  echo "- wrk: -t$threads -c$connections -d${duration}s --latency --timeout 10s per scenario, after a JIT warm-up of every scenario (${jit_warmup}s each) and a ${warmup}s warm-up right before it; Lua scripts in bench/wrk/."
  echo
  if [ $postgres = 1 ]; then
    echo "| scenario | req/s | p50 (ms) | p99 (ms) | vs baseline req/s | vs pgbench -S tps | vs pgbench write tps | server CPU µs/req | errors | notes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for n in "${order[@]}"; do
      echo "| $n | $(num "${rps[$n]}") | ${p50[$n]} | ${p99[$n]} | $(pct "${rps[$n]}" "$baseline_rps") | $(pct "${rps[$n]}" "${pgbench_tps[select]}") | $(pct "${rps[$n]}" "${pgbench_tps[write]}") | ${cpu_us[$n]} | ${errs[$n]} | ${notes[$n]} |"
    done
    echo
    echo "The ratios to pgbench compare requests per second with pgbench's transactions per second; for POST appointment the requests include the 409s: its successful bookings/s against pgbench's write tps are $(pct "$booking_rate" "${pgbench_tps[write]}")."
  else
    echo "| scenario | req/s | p50 (ms) | p99 (ms) | vs baseline req/s | server CPU µs/req | errors | notes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for n in "${order[@]}"; do
      echo "| $n | $(num "${rps[$n]}") | ${p50[$n]} | ${p99[$n]} | $(pct "${rps[$n]}" "$baseline_rps") | ${cpu_us[$n]} | ${errs[$n]} | ${notes[$n]} |"
    done
  fi
  echo
  echo "Errors are socket errors/timeouts plus unexpected statuses: anything but 200 for the GETs and the search, but 201/409 for POST appointment, but 201/200 for POST patient."
  echo
  echo "## Audit completeness"
  echo
  echo "Rows added to \`audit_events\` during each measured run (counted once the server had finished requests still in flight when wrk stopped) against the responses wrk received and the requests it sent. Complete means responses <= rows <= sent."
  echo
  echo "| scenario | wrk responses | wrk requests sent | audit rows | complete |"
  echo "|---|---:|---:|---:|---|"
  for n in "${audited_names[@]}" "GET timeslots (1 resource, 14 days)"; do
    ok="yes"
    if [ "$n" = "GET timeslots (1 resource, 14 days)" ]; then
      [ "${audited[$n]}" = 0 ] || ok="**no** (not patient data, expected 0 rows)"
      echo "| $n (not audited) | $(num "${responses[$n]}") | $(num "${sent[$n]}") | ${audited[$n]} | $ok |"
      continue
    fi
    { [ "${audited[$n]}" -ge "${responses[$n]}" ] && [ "${audited[$n]}" -le "${sent[$n]}" ]; } \
      || ok="**no** ($((responses[$n] - audited[$n])) missing)"
    echo "| $n | $(num "${responses[$n]}") | $(num "${sent[$n]}") | $(num "${audited[$n]}") | $ok |"
  done
  echo "| **total** | $(num $total_responses) | $(num $total_sent) | $(num $total_audited) | $([ $audit_ok = 1 ] && echo yes || echo '**no**') |"
  echo
  echo "Whole run: \`audit_events\` holds **$(num "$audit_end") rows** after the run; wrk reported **$(num "$run_responses") responses** to patient-data requests over all its runs, warm-ups included (+1 sample fetch), and sent $(num "$run_sent") such requests: $([ $run_audit_ok = 1 ] && echo "complete (responses <= rows <= sent)" || echo "**incomplete**")."
  echo
  echo "After the run \`audit_events\` held $(num "$audit_end") rows: $(num "$audit_start") from before the measured runs (the sample fetch and the JIT warm-up), $(num $((audit_end - audit_start - total_audited))) from the per-scenario warm-ups, $(num "$total_audited") from the measured runs."
  echo
  echo "## Targets (issue #6)"
  echo
  g1="GET patient by emr_id" g2="GET patient by se_personal_number" s="search by last_name prefix" t="GET timeslots (1 resource, 14 days)" b="POST appointment (contention)"
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  for g in "$g1" "$g2"; do
    ok=no; if le 0.4 "$(awk -v a="${rps[$g]}" -v b="$baseline_rps" 'BEGIN { print (b > 0 ? a / b : 0) }')" && lt "${p99[$g]}" 5; then ok=yes; fi
    echo "| $g: >= 40% of baseline req/s, p99 < 5 ms | $(pct "${rps[$g]}" "$baseline_rps"), p99 ${p99[$g]} ms | $(verdict [ $ok = yes ]) |"
  done
  echo "| search by last-name prefix: p99 < 10 ms | p99 ${p99[$s]} ms at $(num "$patients") patients | $(verdict lt "${p99[$s]}" 10) |"
  echo "| GET timeslots for 14 days: p99 < 10 ms | p99 ${p99[$t]} ms | $(verdict lt "${p99[$t]}" 10) |"
  echo "| bulk load >= 20,000 patients/s | $(num "$LOAD_PATIENTS_PER_SECOND")/s | $(verdict le 20000 "$LOAD_PATIENTS_PER_SECOND") |"
  echo "| server RSS < 500 MB (the target is at 1,000,000 patients) | $(mb $((vmhwm_kb * 1024))) at $(num "$patients") patients | $(verdict lt "$vmhwm_kb" 512000)$([ "$patients" -lt 1000000 ] && echo " (at this size)") |"
  ok=no; if [ "${errs[$b]}" = 0 ] && le 500 "$booking_rate"; then ok=yes; fi
  echo "| booking: no errors but 409s, >= 500 bookings/s | ${errs[$b]} errors, $booking_rate bookings/s | $(verdict [ $ok = yes ]) |"
  echo "| audit trail complete | measured runs: $(num $total_audited) rows for $(num $total_responses) responses / $(num $total_sent) sent; whole run: $(num "$audit_end") rows for $(num "$run_responses") responses / $(num "$run_sent") sent | $([ $audit_ok = 1 ] && [ $run_audit_ok = 1 ] && echo met || echo '**not met**') |"
  echo
  if [ $postgres = 1 ]; then
    echo "## Targets (issue #22, durable PostgreSQL; stated for 100,000 patients)"
    echo
    sel=${pgbench_tps[select]} wr=${pgbench_tps[write]}
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    for g in "$g1" "$g2"; do
      ok=no; if le 0.25 "$(awk -v a="${rps[$g]}" -v b="$sel" 'BEGIN { print (b > 0 ? a / b : 0) }')" && lt "${p99[$g]}" 20; then ok=yes; fi
      echo "| $g: >= 25% of pgbench -S tps, p99 < 20 ms | $(pct "${rps[$g]}" "$sel"), p99 ${p99[$g]} ms | $(verdict [ $ok = yes ]) |"
    done
    ok=no; if le 0.10 "$(awk -v a="${rps[$s]}" -v b="$sel" 'BEGIN { print (b > 0 ? a / b : 0) }')" && lt "${p99[$s]}" 40; then ok=yes; fi
    echo "| search: >= 10% of pgbench -S tps, p99 < 40 ms | $(pct "${rps[$s]}" "$sel"), p99 ${p99[$s]} ms | $(verdict [ $ok = yes ]) |"
    echo "| timeslots: >= 25% of pgbench -S tps | $(pct "${rps[$t]}" "$sel") | $(verdict le 0.25 "$(awk -v a="${rps[$t]}" -v b="$sel" 'BEGIN { print (b > 0 ? a / b : 0) }')") |"
    ok=no; if [ "${errs[$b]}" = 0 ] && le 0.5 "$(awk -v a="$booking_rate" -v b="$wr" 'BEGIN { print (b > 0 ? a / b : 0) }')"; then ok=yes; fi
    echo "| bookings: >= 50% of pgbench write tps, 0 errors but 409s | $booking_rate bookings/s = $(pct "$booking_rate" "$wr"), ${errs[$b]} errors | $(verdict [ $ok = yes ]) |"
    echo "| 0 overlapping active appointments afterwards (SQL$([ "$instances" -gt 1 ] && echo ", $instances instances")) | $overlaps overlapping pairs among $(num "$active_appointments") active appointments | $(verdict [ "$overlaps" = 0 ]) |"
    echo "| audit trail complete | see above | $([ $audit_ok = 1 ] && [ $run_audit_ok = 1 ] && echo met || echo '**not met**') |"
    echo
  fi
  echo "<details><summary>raw wrk results</summary>"
  echo
  echo '```'
  for n in "${order[@]}"; do echo "$n: $(grep '^BENCH_RESULT' "${raw_files[$n]}")"; done
  echo '```'
  echo "</details>"
} >"$result_file"

echo
cat "$result_file"
echo
log "written to ${result_file#"$root"/} in $(( $(date +%s) - started_at )) s"
