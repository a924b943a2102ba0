#!/usr/bin/env bash
# The rate limits' cost and their effect under abuse (API.md §4), written to
# bench/out-limits/RESULTS.md (the figures of bench/RESULTS.md's rate-limit section):
#  1. login and verify throughput with limits on against limits off, on SQLite and on
#     PostgreSQL + Redis, the two sides alternating round by round on servers of one run;
#  2. a credential-stuffing flood at 10× the hashing capacity from 4 addresses while 16 people
#     log in once a second each and 16 API clients verify tokens, on both backends.
# Every server trusts the driver as its proxy: the driver gives each ordinary request an address
# of its own (X-Forwarded-For), and the flood its 4.
# Usage: bench/limits.sh [--rounds N] [--seconds S]
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rounds=3
seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/limits.sh [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done

cargo build --release -j2 -p tessera -p tessera-bench
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
bin=$target_dir/release
drive=$bin/tessera-bench
out=$root/bench/out-limits
rm -rf "$out"; mkdir -p "$out"
pg=postgres://postgres@127.0.0.1:5432
db=tessera_limits_$$
master_key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
proxy=(TESSERA_TRUSTED_PROXIES=127.0.0.1/32)
shared=(TESSERA_DATABASE_URL="$pg/$db" TESSERA_REDIS_URL=redis://127.0.0.1:6379
  TESSERA_MASTER_KEY="$master_key" TESSERA_ISSUER=http://bench TESSERA_PUBLIC_URL=http://bench)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
url() { echo "http://127.0.0.1:$1"; }
# start NAME PORT [VAR=VALUE…]: a Tessera server with its own data directory, trusting the driver.
start() {
  local name=$1 port=$2; shift 2
  env "${proxy[@]}" "$@" "$bin/tessera" serve --listen "127.0.0.1:$port" --data-dir "$out/$name" \
    >"$out/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do curl -fs "$(url "$port")/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$name did not start; see $out/$name.log" >&2
  exit 1
}

echo "== the argon2id capacity of this machine" >&2
for _ in $(seq 1 "$rounds"); do "$drive" hash-rate --threads 2 --seconds 5 >>"$out/hash_rate.jsonl"; done
capacity=$(python3 -c "import json, statistics; print(statistics.median(json.loads(l)['hashes_per_sec'] for l in open('$out/hash_rate.jsonl')))")

psql -q "$pg/postgres" -c "CREATE DATABASE $db" >/dev/null
start sqlite-on 18480
start sqlite-off 18481 TESSERA_RATE_LIMITS__ENABLED=false
start postgres-on 18482 "${shared[@]}" TESSERA_REDIS_PREFIX="limits$$on:"
start postgres-off 18483 "${shared[@]}" TESSERA_REDIS_PREFIX="limits$$off:" TESSERA_RATE_LIMITS__ENABLED=false
# The two PostgreSQL servers share a database, so seeding one seeds both.
for port in 18480 18481 18482; do "$drive" seed --url "$(url $port)" --users 64 >/dev/null; done

echo "== limits on and off: login (16 clients) and verify (32 clients)" >&2
for round in $(seq 1 "$rounds"); do
  # Alternate which side goes first, so neither always meets a warmer machine.
  if [ $((round % 2)) = 1 ]; then order="on off"; else order="off on"; fi
  for backend in sqlite postgres; do
    for side in $order; do
      case "$backend-$side" in
        sqlite-on) port=18480 ;; sqlite-off) port=18481 ;;
        postgres-on) port=18482 ;; postgres-off) port=18483 ;;
      esac
      "$drive" login --url "$(url $port)" --users 64 --concurrency 16 --seconds "$seconds" \
        >>"$out/login_${backend}_$side.jsonl"
      "$drive" verify --url "$(url $port)" --users 32 --concurrency 32 --seconds "$seconds" \
        >>"$out/verify_${backend}_$side.jsonl"
    done
  done
done

echo "== a flood at 10x capacity ($capacity hashes/s) from 4 addresses, 16 people logging in" >&2
flood_rate=$(python3 -c "print(round(10 * $capacity))")
for round in $(seq 1 "$rounds"); do
  for backend in sqlite postgres; do
    case $backend in sqlite) port=18480 ;; postgres) port=18482 ;; esac
    "$drive" abuse --url "$(url $port)" --users 64 --concurrency 16 --seconds $((2 * seconds)) \
      --flood-rate "$flood_rate" --flood-addresses 4 --people 16 >>"$out/abuse_$backend.jsonl"
  done
  # The flood's addresses stay limited for the window: each round starts on fresh counters.
  for port in 18480 18482; do kill "$(pgrep -f -- "--listen 127.0.0.1:$port ")" 2>/dev/null || true; done
  sleep 1
  start sqlite-on 18480
  start postgres-on 18482 "${shared[@]}" TESSERA_REDIS_PREFIX="limits$$on$round:"
done

python3 - "$out" "$capacity" "$rounds" "$seconds" >"$out/RESULTS.md" <<'PY'
import json, os, statistics, sys
out, capacity, rounds, seconds = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = lambda name: [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
med = statistics.median
spread = lambda v, d=0: f"{med(v):,.{d}f} ({min(v):,.{d}f}–{max(v):,.{d}f})"
print(f"Hashing capacity: {capacity:.1f} argon2id hashes/s on 2 threads; {rounds} rounds of {seconds} s.\n")
print("| backend | scenario | limits on, per s | limits off, per s | on / off per round | median | goal ≥ 97% |")
print("|---|---|---|---|---|---|---|")
for backend, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
    for scenario in ("login", "verify"):
        on, off = rows(f"{scenario}_{backend}_on.jsonl"), rows(f"{scenario}_{backend}_off.jsonl")
        assert all(r["failed"] == 0 for r in on + off), f"{scenario} {backend}: requests failed"
        ratio = [100 * a["per_sec"] / b["per_sec"] for a, b in zip(on, off)]
        shed = sum(r["shed"] for r in on + off)
        print(f"| {label} | {scenario} | {spread([r['per_sec'] for r in on])} | {spread([r['per_sec'] for r in off])} "
              f"| {', '.join(f'{x:.1f}%' for x in ratio)} | {med(ratio):.1f}% | {'met' if med(ratio) >= 97 else 'not met'} |")
        if shed:
            print(f"|  | ({shed} requests shed with 429/503 across both sides) | | | | | |")
print()
print("| backend | people's logins: succeeded / sent | their p99 ms | flood: sent, answers by status | verify p99 ms (16 clients) | goals: ≥ 95% in, p99 ≤ 5 ms |")
print("|---|---|---|---|---|---|")
for backend, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
    for r in rows(f"abuse_{backend}.jsonl"):
        people, flood, verify = r["people_logins"], r["flood"], r["verify"]
        sent = people["ok"] + people["shed"] + people["failed"]
        share = 100 * people["ok"] / sent
        answers = ", ".join(f"{k}: {v}" for k, v in flood["statuses"].items())
        flood_sent = flood["ok"] + flood["shed"] + flood["failed"]
        ok = share >= 95 and verify["p99_ms"] <= 5
        print(f"| {label} | {people['ok']} / {sent} ({share:.1f}%) | {people['p99_ms']:.0f} | {flood_sent} sent; {answers} "
              f"| {verify['p99_ms']:.2f} | {'met' if ok else 'not met'} |")
PY
cat "$out/RESULTS.md"
