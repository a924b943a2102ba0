#!/usr/bin/env bash
# Before/after of a hot-path change, from one run: two `tessera` binaries measured alternately,
# round by round, on verify (each client reusing its token, driven by `tessera-bench hammer`,
# which is not the limit, with the server's CPU time per request), refresh chains and login
# (SQLite).
# Usage: bench/compare.sh BEFORE_BIN AFTER_BIN [--rounds N] [--seconds S]  (writes bench/out-compare)
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(realpath "$1"); after=$(realpath "$2"); shift 2
rounds=3
seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/compare.sh BEFORE AFTER [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done
cargo build --release -j2 -p tessera-bench
drive=${CARGO_TARGET_DIR:-target}/release/tessera-bench
out=bench/out-compare
rm -rf "$out"; mkdir -p "$out"
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
declare -A pid_of
start() { # BIN NAME PORT
  # The driver stands for a proxy: it gives each client request an address of its own (a build
  # without rate limits ignores the variable with a warning).
  TESSERA_TRUSTED_PROXIES=127.0.0.1/32 "$1" serve --listen "127.0.0.1:$3" --data-dir "$out/$2" >"$out/$2.log" 2>&1 &
  pids+=($!); pid_of[$2]=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$3/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$2 did not start" >&2; exit 1
}
start "$before" before 18280
start "$after" after 18281
for port in 18280 18281; do "$drive" seed --url "http://127.0.0.1:$port" --users 64 >/dev/null; done
for round in $(seq 1 "$rounds"); do
  for side in before:18280 after:18281; do
    name=${side%:*}; port=${side#*:}
    "$drive" hammer --url "http://127.0.0.1:$port" --server-pid "${pid_of[$name]}" --seconds "$seconds" >>"$out/verify_$name.jsonl"
    "$drive" refresh --url "http://127.0.0.1:$port" --concurrency 64 --seconds "$seconds" >>"$out/refresh_$name.jsonl"
    "$drive" login --url "http://127.0.0.1:$port" --users 64 --concurrency 16 --seconds "$seconds" >>"$out/login_$name.jsonl"
  done
done
python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
def rows(name):
    return [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
print("| scenario | before (/s) | after (/s) | after / before, per round |")
print("|---|---|---|---|")
for scenario in ("verify", "refresh", "login"):
    b = [r["per_sec"] for r in rows(f"{scenario}_before.jsonl")]
    a = [r["per_sec"] for r in rows(f"{scenario}_after.jsonl")]
    ratio = [x / y for x, y in zip(a, b)]
    fmt = lambda v: f"{statistics.median(v):.0f} ({min(v):.0f}–{max(v):.0f})"
    print(f"| {scenario} | {fmt(b)} | {fmt(a)} | {statistics.median(ratio):.2f}× ({min(ratio):.2f}–{max(ratio):.2f}) |")
b = [r["server_cpu_us_per_request"] for r in rows("verify_before.jsonl")]
a = [r["server_cpu_us_per_request"] for r in rows("verify_after.jsonl")]
ratio = [x / y for x, y in zip(a, b)]
fmt = lambda v: f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})"
print(f"| verify, server CPU µs per request | {fmt(b)} | {fmt(a)} | {statistics.median(ratio):.2f}× ({min(ratio):.2f}–{max(ratio):.2f}) |")
PY
