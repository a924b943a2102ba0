#!/usr/bin/env bash
# The verify hot path at the machine's limit: `tessera-bench hammer` (one thread, prepared
# requests, 64 keep-alive connections) against a bare hyper endpoint, a hyper endpoint verifying
# Ed25519 tokens, and Tessera (SQLite) with a reused token and with a distinct token every
# request; the sides alternate round by round. Beside each rate, the server's CPU time per
# request (from /proc), which stays comparable when the machine is noisy. Then, each round, the
# rest of the hot path's goals on the same Tessera server: refresh chains (64 clients), mixed
# traffic (90% verify, 8% refresh, 2% login, 64 clients), logins against the raw argon2id rate,
# and the server's resident memory (VmRSS idle, and its peak VmHWM after each scenario).
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
memory() { # SCENARIO: the server's resident and peak memory now
  awk -v scenario="$1" '/^VmRSS/ { rss = $2 } /^VmHWM/ { hwm = $2 }
    END { printf "{\"scenario\": \"%s\", \"rss_kib\": %d, \"peak_kib\": %d}\n", scenario, rss, hwm }' \
    "/proc/$tessera/status" >>"$out/memory.jsonl"
}
sleep 1
memory idle
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
  memory verify
  "$bin/tessera-bench" refresh --url http://127.0.0.1:18501 --concurrency 64 --seconds "$seconds" \
    >>"$out/refresh.jsonl"
  memory refresh
  "$bin/tessera-bench" mixed --url http://127.0.0.1:18501 --users 64 --concurrency 64 \
    --seconds "$seconds" >>"$out/mixed.jsonl"
  memory mixed
  "$bin/tessera-bench" hash-rate --threads 2 --seconds "$seconds" >>"$out/hash_rate.jsonl"
  "$bin/tessera-bench" login --url http://127.0.0.1:18501 --users 64 --concurrency 16 \
    --seconds "$seconds" >>"$out/login.jsonl"
  memory login
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

def lines(name):
    return [json.loads(line) for line in open(f"{out}/{name}.jsonl") if line.strip()]
refresh, mixed, logins, hashes = lines("refresh"), lines("mixed"), lines("login"), lines("hash_rate")
memory = lines("memory")
refresh_median = statistics.median(r["per_sec"] for r in refresh)
refresh_errors = sum(r["failed"] + r["shed"] for r in refresh)
mixed_failed = sum(r["failed"] for r in mixed)
mixed_shed = sum(r["shed"] for r in mixed)
login_ratio = statistics.median(l["per_sec"] / h["hashes_per_sec"] for l, h in zip(logins, hashes))
idle = max(m["rss_kib"] for m in memory if m["scenario"] == "idle") / 1024
peak = max(m["peak_kib"] for m in memory) / 1024
print(f"| mixed traffic at 64 clients: no error but the documented 503 shedding of logins | {mixed_failed} errors; {mixed_shed} logins shed (503) of {sum(r['ok'] + r['shed'] + r['failed'] for r in mixed):,} requests; {spread([r['per_sec'] for r in mixed])} requests/s | {'met' if mixed_failed == 0 else '**not met**'} |")
print(f"| RSS under every scenario ≤ 60 MiB (peak, VmHWM) | {peak:.1f} MiB | {'met' if peak <= 60 else '**not met**'} |")
print(f"| idle RSS ≤ 20 MiB | {idle:.1f} MiB | {'met' if idle <= 20 else '**not met**'} |")
print(f"| refresh chains ≥ 5,000/s on SQLite, median of {rounds} runs, 64 clients | {spread([r['per_sec'] for r in refresh])}, {refresh_errors} errors | {'met' if refresh_median >= 5000 and refresh_errors == 0 else '**not met**'} |")
print(f"| login ≥ 95% of the raw argon2id rate (2 threads) | {login_ratio:.1%} ({spread([l['per_sec'] for l in logins], '{:.1f}')} logins/s; {spread([h['hashes_per_sec'] for h in hashes], '{:.1f}')} hashes/s) | {'met' if login_ratio >= 0.95 else '**not met**'} |")
print()
print("Resident memory (MiB) after each scenario, per round: " + "; ".join(
    f"{m['scenario']} {m['rss_kib'] / 1024:.1f} (peak {m['peak_kib'] / 1024:.1f})" for m in memory) + ".")
PY
cat "$out/RESULTS.md"
