#!/usr/bin/env bash
# The verify hot path at the machine's limit: `tessera-bench hammer` (one thread, prepared
# requests, 64 keep-alive connections) against a bare hyper endpoint, a hyper endpoint verifying
# Ed25519 tokens, and Tessera (SQLite) with a reused token and with a distinct token every
# request; the sides alternate round by round. Beside each rate, the server's CPU time per
# request (from /proc), which stays comparable when the machine is noisy.
# Writes bench/out-hotpath/RESULTS.md.
# Usage: bench/hotpath.sh [--rounds N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/hotpath.sh [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done

source bench/prepare.sh hotpath
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
# The driver stands for a proxy in the set-up's logins: each gets an address of its own.
TESSERA_TRUSTED_PROXIES=127.0.0.1/32 "$bin/tessera" serve --listen 127.0.0.1:18501 \
  --data-dir "$out/tessera" >"$out/tessera.log" 2>&1 &
pids+=($!); tessera=$!
"$bin/tessera-bench" ceiling --listen 127.0.0.1:18502 --mode bare >"$out/bare.log" 2>&1 &
pids+=($!); bare=$!
"$bin/tessera-bench" ceiling --listen 127.0.0.1:18503 --mode ed25519 >"$out/ed25519.log" 2>&1 &
pids+=($!); ed25519=$!
for port in 18501 18502 18503; do
  ready_within "$port" 10 || { echo "nothing ready on $port" >&2; exit 1; }
done
"$bin/tessera-bench" seed --url http://127.0.0.1:18501 --users 64 >/dev/null

hammer() { # NAME PORT PID [ARGS…]
  "$bin/tessera-bench" hammer --url "http://127.0.0.1:$2" --server-pid "$3" --seconds "$seconds" \
    "${@:4}" | python3 -c 'import json, sys; r = json.load(sys.stdin); r["name"] = sys.argv[1]; print(json.dumps(r))' "$1" \
    >>"$out/hammer.jsonl"
}
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds" >&2
  hammer bare 18502 "$bare" --no-auth
  hammer verify 18501 "$tessera"
  # 64 connections × 320 tokens: more than the verified-token cache holds, so every request is
  # a signature check.
  hammer ed25519_distinct 18503 "$ed25519" --distinct 320
  hammer verify_distinct 18501 "$tessera" --distinct 320
done

python3 - "$out" "$rounds" "$seconds" >"$out/RESULTS.md" <<'PY'
import collections, json, statistics, sys
out, rounds, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = collections.defaultdict(list)
for line in open(f"{out}/hammer.jsonl"):
    report = json.loads(line)
    runs[report["name"]].append(report)

def spread(values, fmt="{:,.0f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"

def ratios(name, ceiling, key):
    return [a[key] / b[key] for a, b in zip(runs[name], runs[ceiling])]

print("## The verify hot path with an efficient driver (`bench/hotpath.sh`)\n")
print(f"`tessera-bench hammer`: one thread, 64 keep-alive connections, each with one request in")
print(f"flight; {rounds} rounds of {seconds} s, the sides alternating. Server CPU from `/proc/PID/stat`.\n")
print("| endpoint | requests/s | server CPU µs / request | server cores | driver cores | errors |")
print("|---|---|---|---|---|---|")
names = {
    "bare": "bare hyper endpoint (reads nothing)",
    "verify": "Tessera `GET /users/me`, a reused token",
    "ed25519_distinct": "hyper + Ed25519 verify, a distinct token every request",
    "verify_distinct": "Tessera `GET /users/me`, a distinct token every request",
}
for name, label in names.items():
    rs = runs[name]
    errors = sum(r["failed"] + r["shed"] for r in rs)
    print(f"| {label} | {spread([r['per_sec'] for r in rs])} | "
          f"{spread([r['server_cpu_us_per_request'] for r in rs], '{:.1f}')} | "
          f"{spread([r['server_cores'] for r in rs], '{:.2f}')} | "
          f"{spread([r['driver_cores'] for r in rs], '{:.2f}')} | {errors} |")
print()
reuse = statistics.median(ratios("verify", "bare", "per_sec"))
cpu = statistics.median(ratios("verify", "bare", "server_cpu_us_per_request"))
distinct = statistics.median(ratios("verify_distinct", "ed25519_distinct", "per_sec"))
bare = statistics.median(r["per_sec"] for r in runs["bare"])
driver = max(r["driver_cores"] for r in runs["bare"])
print("| goal | measured (median of per-round ratios) | |")
print("|---|---|---|")
print(f"| the driver: ≥ 120,000/s against the bare endpoint, under one core | {bare:,.0f}/s, at most {driver:.2f} cores | {'met' if bare >= 120000 and driver < 1 else '**not met**'} |")
print(f"| verify, reused token: ≥ 75% of the bare endpoint's rate, or server CPU per request ≤ 1.35× | {reuse:.0%}; CPU {cpu:.2f}× | {'met' if reuse >= 0.75 or cpu <= 1.35 else '**not met**'} |")
print(f"| verify, distinct tokens: ≥ 90% of the hyper + Ed25519 ceiling | {distinct:.0%} | {'met' if distinct >= 0.9 else '**not met**'} |")
PY
cat "$out/RESULTS.md"
