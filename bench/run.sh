#!/usr/bin/env bash
# Reproduces the figures in bench/RESULTS.md: login throughput against the raw argon2id rate
# of this machine, measured alternately in the same run (the machine is shared and noisy:
# absolute numbers drift, ratios hold). Usage: bench/run.sh [--rounds N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/run.sh [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done

cargo build --release -j2 -p tessera -p tessera-bench
bin=target/release
out=bench/out
rm -rf "$out"; mkdir -p "$out"
port=18080
url="http://127.0.0.1:$port"

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

start_server() {
  rm -rf "$out/data"
  "$bin/tessera" serve --listen "127.0.0.1:$port" --data-dir "$out/data" \
    >"$out/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "$url/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not start; see $out/server.log" >&2
  exit 1
}

start_server
"$bin/tessera-bench" seed --url "$url" --users 64 >/dev/null

for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds" >&2
  "$bin/tessera-bench" hash-rate --threads 2 --seconds "$seconds" >>"$out/hash_rate.jsonl"
  "$bin/tessera-bench" login --url "$url" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login.jsonl"
done
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

python3 bench/report.py "$out" > bench/RESULTS.md
cat bench/RESULTS.md
