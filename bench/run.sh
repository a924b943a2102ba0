#!/usr/bin/env bash
# Reproduces every figure in bench/RESULTS.md. Each comparison is measured in the same run,
# alternating its two sides round by round (the machine is shared and noisy: absolute numbers
# drift, ratios hold). Usage: bench/run.sh [--rounds N] [--seconds S]
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379, as the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
seconds=10
chain_seconds=30
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; chain_seconds=$2; shift 2 ;;
    *) echo "usage: bench/run.sh [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done

cargo build --release -j2 -p tessera -p tessera-bench
bin=${CARGO_TARGET_DIR:-target}/release
drive=$bin/tessera-bench
out=bench/out
rm -rf "$out"; mkdir -p "$out"
pg=postgres://postgres@127.0.0.1:5432
db=tessera_bench_$$
master_key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# start NAME PORT [VAR=VALUE…]: a server with its own data directory; waits until ready.
start() {
  local name=$1 port=$2; shift 2
  env "$@" "$bin/tessera" serve --listen "127.0.0.1:$port" --data-dir "$out/$name" >"$out/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$name did not start; see $out/$name.log" >&2
  exit 1
}
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
url() { echo "http://127.0.0.1:$1"; }

echo "== login against the argon2id ceiling" >&2
start login 18080
"$drive" seed --url "$(url 18080)" --users 64 >/dev/null
for round in $(seq 1 "$rounds"); do
  "$drive" hash-rate --threads 2 --seconds "$seconds" >>"$out/hash_rate.jsonl"
  "$drive" login --url "$(url 18080)" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login.jsonl"
done
stop_all

echo "== refresh chains, 64 clients" >&2
psql -q "$pg/postgres" -c "CREATE DATABASE $db" >/dev/null
start refresh-sqlite 18081
start refresh-postgres 18082 TESSERA_DATABASE_URL="$pg/$db" TESSERA_REDIS_URL=redis://127.0.0.1:6379 \
  TESSERA_REDIS_PREFIX="bench$$:" TESSERA_MASTER_KEY="$master_key" TESSERA_ISSUER=http://bench TESSERA_PUBLIC_URL=http://bench
for port in 18081 18082; do "$drive" seed --url "$(url $port)" --users 64 >/dev/null; done
for round in $(seq 1 "$rounds"); do
  "$drive" refresh --url "$(url 18081)" --concurrency 64 --seconds "$chain_seconds" >>"$out/refresh_sqlite.jsonl"
  "$drive" refresh --url "$(url 18082)" --concurrency 64 --seconds "$chain_seconds" >>"$out/refresh_postgres.jsonl"
done
stop_all

echo "== verify with an empty deny-set and with 100,000 revoked sessions" >&2
start verify-empty 18083
start verify-revoked 18084
stop_all
python3 bench/seed_revocations.py "$out/verify-revoked/tessera.db" 100000
start verify-empty 18083
start verify-revoked 18084
for port in 18083 18084; do "$drive" seed --url "$(url $port)" --users 64 >/dev/null; done
for round in $(seq 1 "$rounds"); do
  "$drive" verify --url "$(url 18083)" --concurrency 32 --seconds "$seconds" >>"$out/verify_empty.jsonl"
  "$drive" verify --url "$(url 18084)" --concurrency 32 --seconds "$seconds" >>"$out/verify_revoked.jsonl"
done
stop_all

echo "== revocation propagation between two instances (PostgreSQL + Redis)" >&2
shared=(TESSERA_DATABASE_URL="$pg/$db" TESSERA_REDIS_URL=redis://127.0.0.1:6379 TESSERA_REDIS_PREFIX="bench$$:"
  TESSERA_MASTER_KEY="$master_key" TESSERA_ISSUER=http://bench TESSERA_PUBLIC_URL=http://bench)
start instance-a 18085 "${shared[@]}"
start instance-b 18086 "${shared[@]}"
"$drive" propagation --from "$(url 18085)" --to "$(url 18086)" --samples 50 >>"$out/propagation.jsonl"
stop_all

python3 bench/report.py "$out" > bench/RESULTS.md
cat bench/RESULTS.md
