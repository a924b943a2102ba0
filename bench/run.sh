#!/usr/bin/env bash
# Reproduces every figure in bench/RESULTS.md (about 20 minutes on 2 cores). Each comparison is
# measured in the same run, alternating its sides round by round: the machine is shared and
# noisy, absolute numbers drift, ratios hold.
# Usage: bench/run.sh [--rounds N] [--seconds S] [--million N]
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379, as the tests
# do, plus python3, node and npm for the baselines (installed by bench/baselines/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

rounds=3
seconds=10
chain_seconds=30
million=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; chain_seconds=$2; shift 2 ;;
    --million) million=$2; shift 2 ;;
    *) echo "usage: bench/run.sh [--rounds N] [--seconds S] [--million N]" >&2; exit 2 ;;
  esac
done

cargo build --release -j2 -p tessera -p tessera-bench
bench/baselines/setup.sh
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
bin=$target_dir/release
drive=$bin/tessera-bench
python_venv=$target_dir/bench-python
out=$root/bench/out
rm -rf "$out"; mkdir -p "$out"
pg=postgres://postgres@127.0.0.1:5432
db=tessera_bench_$$
million_db=tessera_bench_million_$$
master_key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
shared=(TESSERA_REDIS_URL=redis://127.0.0.1:6379 TESSERA_REDIS_PREFIX="bench$$:"
  TESSERA_MASTER_KEY="$master_key" TESSERA_ISSUER=http://bench TESSERA_PUBLIC_URL=http://bench)
started=$(date +%s)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for name in "$db" "$million_db"; do
    psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# wait_ready PORT PATH NAME: until PATH answers anything at all.
wait_ready() {
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2" || true)
    [ "$code" != "000" ] && return 0
    sleep 0.1
  done
  echo "$3 did not start; see $out/$3.log" >&2
  exit 1
}
# start NAME PORT [VAR=VALUE…]: a Tessera server with its own data directory.
start() {
  local name=$1 port=$2; shift 2
  # The driver stands for a proxy: it gives each client request an address of its own.
  env TESSERA_TRUSTED_PROXIES=127.0.0.1/32 "$@" "$bin/tessera" serve --listen "127.0.0.1:$port" --data-dir "$out/$name" >"$out/$name.log" 2>&1 &
  pids+=($!)
  wait_ready "$port" /readyz "$name"
}
start_ceiling() { # NAME PORT MODE
  "$drive" ceiling --listen "127.0.0.1:$2" --mode "$3" >"$out/$1.log" 2>&1 &
  pids+=($!)
  wait_ready "$2" /readyz "$1"
}
start_fastapi() { # PORT
  (cd bench/baselines/fastapi && BASELINE_DB="$out/fastapi.db" exec "$python_venv/bin/uvicorn" app:app \
    --workers 2 --host 127.0.0.1 --port "$1" --log-level warning) >"$out/fastapi.log" 2>&1 &
  pids+=($!)
  wait_ready "$1" /users/me fastapi
}
start_express() { # PORT
  (cd bench/baselines/express && PORT=$1 exec node server.js) >"$out/express.log" 2>&1 &
  pids+=($!)
  wait_ready "$1" /users/me express
}
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
url() { echo "http://127.0.0.1:$1"; }
pid_on() { pgrep -f -- "--listen 127.0.0.1:$1 " | head -1; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
median_of() { python3 -c 'import json, statistics, sys; print(statistics.median(json.loads(l)[sys.argv[2]] for l in open(sys.argv[1]) if l.strip()))' "$@"; }

echo "== start-up and idle memory" >&2
"$drive" startup --bin "$bin/tessera" --data-dir "$out/startup" --port 18079 --runs 5 >>"$out/startup.jsonl"
start idle 18079
sleep 2
echo "{\"scenario\": \"idle_rss\", \"rss_kib\": $(rss_kib "$(pid_on 18079)")}" >>"$out/memory.jsonl"
stop_all

echo "== login against the argon2id ceiling, and the baselines' logins" >&2
start login 18080
start_fastapi 18180
start_express 18181
for port in 18080 18180 18181; do "$drive" seed --url "$(url $port)" --users 64 >/dev/null; done
for round in $(seq 1 "$rounds"); do
  "$drive" hash-rate --threads 2 --seconds "$seconds" >>"$out/hash_rate.jsonl"
  "$drive" login --url "$(url 18080)" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login.jsonl"
  "$drive" login --url "$(url 18180)" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login_fastapi.jsonl"
  "$drive" login --url "$(url 18181)" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login_express.jsonl"
done
for round in $(seq 1 "$rounds"); do
  "$drive" signup --url "$(url 18080)" --concurrency 16 --seconds "$seconds" >>"$out/signup.jsonl"
done
stop_all

echo "== refresh chains, 64 clients" >&2
psql -q "$pg/postgres" -c "CREATE DATABASE $db" >/dev/null
start refresh-sqlite 18081
start refresh-postgres 18082 TESSERA_DATABASE_URL="$pg/$db" "${shared[@]}"
for port in 18081 18082; do "$drive" seed --url "$(url $port)" --users 64 >/dev/null; done
for round in $(seq 1 "$rounds"); do
  "$drive" refresh --url "$(url 18081)" --concurrency 64 --seconds "$chain_seconds" >>"$out/refresh_sqlite.jsonl"
  "$drive" refresh --url "$(url 18082)" --concurrency 64 --seconds "$chain_seconds" >>"$out/refresh_postgres.jsonl"
done
stop_all

echo "== verify: Tessera (empty and 100,000-entry deny-sets), ceilings, baselines" >&2
start verify-empty 18083
start verify-revoked 18084
stop_all
python3 bench/seed_revocations.py "$out/verify-revoked/tessera.db" 100000
start verify-empty 18083
start verify-revoked 18084
start_ceiling ceiling-bare 18090 bare
start_ceiling ceiling-ed25519 18091 ed25519
start_fastapi 18180
start_express 18181
for port in 18083 18084 18180 18181; do "$drive" seed --url "$(url $port)" --users 64 >/dev/null; done
verify() { "$drive" verify --url "$(url "$1")" --users 32 --concurrency 32 --seconds "$seconds" "${@:3}" >>"$out/$2.jsonl"; }
for round in $(seq 1 "$rounds"); do
  verify 18083 verify_empty
  echo "{\"scenario\": \"verify_rss\", \"rss_kib\": $(rss_kib "$(pid_on 18083)")}" >>"$out/memory.jsonl"
  verify 18084 verify_revoked
  verify 18090 verify_bare
  verify 18180 verify_fastapi
  verify 18181 verify_express
  # 32 clients × 640 tokens: more than the verified-token cache holds, so every request is
  # a signature check.
  verify 18083 verify_distinct --distinct 640
  verify 18091 verify_ed25519 --distinct 640
done
stop_all

echo "== mixed traffic and a login flood at twice the hash rate" >&2
flood_rate=$(python3 -c "print(round(2 * $(median_of "$out/hash_rate.jsonl" hashes_per_sec)))")
start mixed 18085
"$drive" seed --url "$(url 18085)" --users 64 >/dev/null
for round in $(seq 1 "$rounds"); do
  "$drive" mixed --url "$(url 18085)" --users 64 --concurrency 32 --seconds "$seconds" >>"$out/mixed.jsonl"
  sleep 1
  "$drive" flood --url "$(url 18085)" --users 64 --concurrency 16 --seconds "$seconds" --login-rate "$flood_rate" >>"$out/flood.jsonl"
  sleep 1
done
stop_all

echo "== revocation propagation between two instances (PostgreSQL + Redis)" >&2
start instance-a 18086 TESSERA_DATABASE_URL="$pg/$db" "${shared[@]}"
start instance-b 18087 TESSERA_DATABASE_URL="$pg/$db" "${shared[@]}"
"$drive" propagation --from "$(url 18086)" --to "$(url 18087)" --samples 50 >>"$out/propagation.jsonl"
stop_all

echo "== $million users and sessions in PostgreSQL against an empty database" >&2
psql -q "$pg/postgres" -c "CREATE DATABASE $million_db" >/dev/null
start pg-empty 18088 TESSERA_DATABASE_URL="$pg/$db" "${shared[@]}"
start pg-million 18089 TESSERA_DATABASE_URL="$pg/$million_db" TESSERA_REDIS_PREFIX="bench$$m:" \
  TESSERA_MASTER_KEY="$master_key" TESSERA_ISSUER=http://bench TESSERA_PUBLIC_URL=http://bench \
  TESSERA_REDIS_URL=redis://127.0.0.1:6379
"$drive" seed --url "$(url 18089)" --users 64 >/dev/null
seed_started=$(date +%s.%N)
psql -q -v users="$million" -f bench/seed_million.sql "$pg/$million_db" >/dev/null
python3 -c "import json; print(json.dumps({'scenario': 'seed_million', 'users': $million, 'seconds': $(date +%s.%N) - $seed_started}))" >>"$out/million.jsonl"
for round in $(seq 1 "$rounds"); do
  "$drive" login --url "$(url 18088)" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login_pg_empty.jsonl"
  "$drive" login --url "$(url 18089)" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login_pg_million.jsonl"
  "$drive" refresh --url "$(url 18088)" --concurrency 64 --seconds "$seconds" >>"$out/refresh_pg_empty.jsonl"
  "$drive" refresh --url "$(url 18089)" --concurrency 64 --seconds "$seconds" >>"$out/refresh_pg_million.jsonl"
done
echo "{\"scenario\": \"million_rss\", \"rss_kib\": $(rss_kib "$(pid_on 18089)")}" >>"$out/memory.jsonl"
stop_all

echo "== micro-benchmarks (criterion)" >&2
cargo bench -j2 -p tessera-bench --bench micro -- --warm-up-time 1 --measurement-time 3 --noplot >"$out/criterion.log" 2>&1
python3 - "$target_dir/criterion" >>"$out/micro.jsonl" <<'EOF'
import json, pathlib, sys
for estimates in sorted(pathlib.Path(sys.argv[1]).glob("*/*/new/estimates.json")):
    group, name = estimates.parts[-4], estimates.parts[-3]
    median = json.loads(estimates.read_text())["median"]
    print(json.dumps({"group": group, "name": name, "median_ns": median["point_estimate"],
                      "low_ns": median["confidence_interval"]["lower_bound"],
                      "high_ns": median["confidence_interval"]["upper_bound"]}))
EOF

echo "{\"scenario\": \"wall\", \"seconds\": $(( $(date +%s) - started ))}" >>"$out/wall.jsonl"
# The drill scripts' sections, below their marker, are not this script's to rewrite.
drills=$(sed -n '/^<!-- The sections below come from the drill scripts/,$p' bench/RESULTS.md)
{ python3 bench/report.py "$out"; [ -z "$drills" ] || printf '\n%s\n' "$drills"; } > bench/RESULTS.md.new
mv bench/RESULTS.md.new bench/RESULTS.md
cat bench/RESULTS.md
