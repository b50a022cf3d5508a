#!/usr/bin/env bash
# Memory of large documents (issue #22, point 4): the server's peak RSS while N documents of S MiB
# are uploaded at once, and again while they are downloaded at once, against its RSS just before.
# Writes a Markdown report to bench/results/<date>-documents[-postgres][-L].md.
#
#   bench/documents.sh [--postgres] [--concurrency 8] [--size-mib 25] [--label L] [--keep]
#
#   --postgres     PostgreSQL 15 (a cluster of the run's own, fsync=on, as bench/run.sh --postgres)
#                  instead of SQLite (whose documents are files beside the database)
#   --concurrency  transfers at once (default 8); --size-mib the document's size (default 25)
#
# The peak is the kernel's: /proc/<pid>/status VmHWM, reset before each phase through
# /proc/<pid>/clear_refs (as root, or as the server's user); where that is refused, VmRSS sampled
# every 10 ms. The downloads run on a freshly started server (after one warm-up download), so that
# memory the uploads left to the GC cannot hide what they use. BENCH_COMMIT names the commit in the
# report when the tree is not a git checkout. Needs the .NET SDK, curl, python3 (to write the bodies) and, with --postgres,
# PostgreSQL 15 from Debian packages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
postgres=0 concurrency=8 size_mib=25 label="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) postgres=1 ;;
    --concurrency) concurrency="${2:?}"; shift ;;
    --size-mib) size_mib="${2:?}"; shift ;;
    --label) label="${2:?}"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$concurrency" =~ ^[1-9][0-9]?$ && "$size_mib" =~ ^[1-9][0-9]*$ ]] || { echo "--concurrency 1-99, --size-mib >= 1" >&2; exit 2; }
[[ -z "$label" || "$label" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "--label takes letters, digits, '.', '_' and '-'" >&2; exit 2; }
for tool in dotnet curl python3; do command -v "$tool" >/dev/null || { echo "documents.sh: $tool is required" >&2; exit 1; }; done

pg_bin=/usr/lib/postgresql/15/bin
artifacts="$here/.artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/vardbro-docs.XXXXXX")"
server_pid="" pg_data="" sampler_pid=""
log() { echo "[documents $(date +%T)] $*" >&2; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  local rc=$?
  set +e
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; wait "$server_pid" 2>/dev/null; fi
  if [ -n "$pg_data" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1
    [ "$keep" = 1 ] || rm -rf "$pg_data"
  fi
  if [ "$keep" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
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

log "building (Release) into $artifacts"
for project in src/Vardbro.Server/Vardbro.Server.csproj bench/Vardbro.Bench.Loader/Vardbro.Bench.Loader.csproj; do
  dotnet build "$root/$project" -c Release --artifacts-path "$artifacts" -nologo -v q -clp:ErrorsOnly >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
done
server_dll="$artifacts/bin/Vardbro.Server/release/Vardbro.Server.dll"
loader_dll="$artifacts/bin/Vardbro.Bench.Loader/release/Vardbro.Bench.Loader.dll"

if [ $postgres = 1 ]; then
  pg_data="$(mktemp -d "${TMPDIR:-/tmp}/vardbro-docs-pg.XXXXXX")"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_data"
  as_postgres "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
  pg_port=$(free_port)
  as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w -t 60 \
    -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=on -c synchronous_commit=on" start >/dev/null
  "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE vardbro_docs" >/dev/null
  cs="Host=127.0.0.1;Port=$pg_port;Username=postgres;Password=postgres;Database=vardbro_docs"
  store_args=(--provider postgres --connection "$cs")
  server_env=(Storage__Provider=postgres "ConnectionStrings__Vardbro=$cs")
  store="PostgreSQL $("$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc 'SHOW server_version' | cut -d' ' -f1) (bytes in local_blobs; fsync=$("$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc 'SHOW fsync'))"
else
  mkdir -p "$work/db"
  store_args=(--provider sqlite --data-dir "$work/db")
  server_env=(Storage__Provider=sqlite "Storage__DataDirectory=$work/db")
  store="SQLite (bytes as files under blobs/)"
fi

log "loading the fixture (100 patients)"
dotnet "$loader_dll" load "${store_args[@]}" --patients 100 --appointments 0 --out "$work/data" >"$work/load.log" 2>&1 || { cat "$work/load.log" >&2; exit 1; }
patient="$(head -1 "$work/data/patients_emr.txt")"

log "writing $concurrency bodies of $size_mib MiB documents"
python3 - "$work" "$concurrency" "$size_mib" <<'EOF'
import base64, hashlib, os, sys
work, n, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n + 1):  # one more for the warm-up
    doc = b"%PDF-1.7\n%" + os.urandom(mib * 1024 * 1024 - 10)
    with open(f"{work}/doc{i}.sha256", "w") as f:
        f.write(hashlib.sha256(doc).hexdigest())
    with open(f"{work}/body{i}.json", "wb") as f:
        f.write(b'{"content":"' + base64.b64encode(doc) + b'","format":"application/pdf","title":"Bench","type":"referral","created_by_id":"emr_id:R01"}')
EOF

port=$(free_port)
start_server() {
  (
    cd "$work"
    exec env ASPNETCORE_ENVIRONMENT=Production Sandbox__Enabled=false "${server_env[@]}" \
      Emrs__bench__Name="Benchmark EMR" Emrs__bench__Connector=local \
      Emrs__bench__PatientIdTypes__0=emr_id Emrs__bench__ResourceIdTypes__0=emr_id \
      Documents__MaxSizeBytes=$(( (size_mib > 25 ? size_mib : 25) * 1024 * 1024 )) \
      dotnet "$server_dll" --urls "http://127.0.0.1:$port"
  ) >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0; kill -0 "$server_pid" || { cat "$work/server.log" >&2; exit 1; }; sleep 0.2; done
  log "the server did not start"; exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
start_server
base="http://127.0.0.1:$port/api/emrs/bench/care-units/C1/patients/emr_id:$patient/documents"
auth=(-H "x-leyr-client-id: bench-client" -H "x-leyr-client-secret: bench-secret")

upload() { # i -> document id
  curl -sf "${auth[@]}" -H 'Content-Type: application/json' --data-binary "@$work/body$1.json" "$base" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
download() { # id i -> checks the digest
  local got
  got=$(curl -sf "${auth[@]}" "$base/$1/content" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$(cat "$work/doc$2.sha256")" ] || { log "download $1: wrong bytes"; return 1; }
}
rss_kb() { awk "/^$1:/ { print \$2 }" "/proc/$server_pid/status"; }

# The peak of one phase: VmHWM reset first where the kernel lets us, else VmRSS sampled.
peak_method=""
begin_peak() {
  if echo 5 2>/dev/null >"/proc/$server_pid/clear_refs"; then
    peak_method="VmHWM (reset through clear_refs before the phase)"
  else
    peak_method="VmRSS sampled every 10 ms"
    ( peak=0; while kill -0 "$server_pid" 2>/dev/null; do
        r=$(rss_kb VmRSS); [ "$r" -gt "$peak" ] && { peak=$r; echo "$peak" >"$work/peak"; }; sleep 0.01
      done ) & sampler_pid=$!
  fi
}
end_peak() {
  if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""; cat "$work/peak"; rm -f "$work/peak"
  else rss_kb VmHWM; fi
}
settle() { sleep 3; rss_kb VmRSS; }

log "warm-up: one upload and one download"
warm_id=$(upload "$concurrency")
download "$warm_id" "$concurrency"

declare -a ids
before_up=$(settle)
begin_peak
log "$concurrency uploads at once"
transfers=()
wait_all() { local ok=1 pid; for pid in "${transfers[@]}"; do wait "$pid" || ok=0; done; transfers=(); [ $ok = 1 ]; }
for i in $(seq 0 $((concurrency - 1))); do upload "$i" >"$work/id$i" & transfers+=($!); done
wait_all || { log "an upload failed"; tail -20 "$work/server.log" >&2; exit 1; }
peak_up=$(end_peak)
for i in $(seq 0 $((concurrency - 1))); do ids[i]=$(cat "$work/id$i"); done

log "restarting the server for the downloads"
stop_server
start_server
download "$warm_id" "$concurrency"
before_down=$(settle)
begin_peak
log "$concurrency downloads at once"
for i in $(seq 0 $((concurrency - 1))); do download "${ids[i]}" "$i" & transfers+=($!); done
wait_all || { log "a download failed"; exit 1; }
peak_down=$(end_peak)

doc_kb=$((size_mib * 1024))
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
up_growth=$((peak_up - before_up)) down_growth=$((peak_down - before_down))
if [ -n "${BENCH_COMMIT:-}" ]; then commit="$BENCH_COMMIT (given)"; else
  commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  git -C "$root" diff --quiet HEAD -- src 2>/dev/null || commit="$commit + uncommitted changes in src/"
fi
suffix=""; [ $postgres = 1 ] && suffix="-postgres"; [ -n "$label" ] && suffix="-$label$suffix"
mkdir -p "$here/results"
result="$here/results/$(date +%F)-documents$suffix.md"
n=2; while [ -e "$result" ]; do result="$here/results/$(date +%F)-documents$suffix-run$n.md"; n=$((n + 1)); done
{
  echo "# Vardbro documents: memory, $(date +%F), $store"
  echo
  echo "- Commit $commit; $(dotnet --version | sed 's/^/.NET SDK /'); $(nproc) cores, shared. Peak: $peak_method."
  echo "- $concurrency documents of $size_mib MiB (random bytes behind a PDF header: nothing to compress), each uploaded as JSON with base64 content ($(mib $(( $(stat -c %s "$work/body0.json") / 1024 ))) per body), all at once; then all downloaded at once, every download's SHA-256 checked. One upload and one download before, as a warm-up; the downloads on a freshly started server after one warm-up download."
  echo
  echo "| phase | RSS before | peak RSS | growth | growth per transfer | per transfer / document |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "| $concurrency uploads at once | $(mib "$before_up") | $(mib "$peak_up") | $(mib $up_growth) | $(mib $((up_growth / concurrency))) | $(ratio $((up_growth / concurrency)) $doc_kb) |"
  echo "| $concurrency downloads at once | $(mib "$before_down") | $(mib "$peak_down") | $(mib $down_growth) | $(mib $((down_growth / concurrency))) | $(ratio $((down_growth / concurrency)) $doc_kb) |"
  echo
  echo "Targets (issue #22): an upload raises peak RSS by at most 1.2 x the document: $(awk -v g=$((up_growth / concurrency)) -v d=$doc_kb 'BEGIN { print (g <= 1.2 * d ? "met" : "**not met**") }'); downloads in constant memory (growth independent of the document's size; here $(mib $((down_growth / concurrency))) per $size_mib MiB download)."
} >"$result"
cat "$result"
log "written to ${result#"$root"/}"
