#!/usr/bin/env bash
# Verify with the browser-mode access cookie against verify with a bearer header, on one server
# in one run: the two alternate round by round (GET /users/me, each client reusing its token).
# Usage: bench/cookie.sh [--rounds N] [--seconds S]   (writes bench/out-cookie)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5
seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/cookie.sh [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done
cargo build --release -j2 -p tessera -p tessera-bench
bin=${CARGO_TARGET_DIR:-target}/release
out=bench/out-cookie
rm -rf "$out"; mkdir -p "$out"
# The driver stands for a proxy: it gives each client request an address of its own.
TESSERA_TRUSTED_PROXIES=127.0.0.1/32 "$bin/tessera" serve --listen 127.0.0.1:18380 --data-dir "$out/data" >"$out/tessera.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18380/readyz >/dev/null 2>&1 && break; sleep 0.1; done
url=http://127.0.0.1:18380
"$bin/tessera-bench" seed --url "$url" --users 64 >/dev/null
for round in $(seq 1 "$rounds"); do
  # Alternate which goes first, so neither always meets a warmer server.
  if [ $((round % 2)) = 1 ]; then order="bearer cookie"; else order="cookie bearer"; fi
  for mode in $order; do
    flag=(); [ "$mode" = cookie ] && flag=(--cookie)
    "$bin/tessera-bench" verify --url "$url" --users 32 --concurrency 32 --seconds "$seconds" "${flag[@]}" >>"$out/$mode.jsonl"
  done
done
python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
rows = lambda name: [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
bearer, cookie = rows("bearer.jsonl"), rows("cookie.jsonl")
assert all(r["failed"] == 0 and r["shed"] == 0 for r in bearer + cookie), "requests failed"
b = [r["per_sec"] for r in bearer]
c = [r["per_sec"] for r in cookie]
ratio = [x / y for x, y in zip(c, b)]
p99 = lambda rs: statistics.median(r["p99_ms"] for r in rs)
fmt = lambda v: f"{statistics.median(v):,.0f} ({min(v):,.0f}–{max(v):,.0f})"
print("| verify | requests/s, median (min–max) | p99 ms (median) |")
print("|---|---|---|")
print(f"| bearer header | {fmt(b)} | {p99(bearer):.2f} |")
print(f"| access cookie | {fmt(c)} | {p99(cookie):.2f} |")
print(f"\ncookie / bearer per round: {', '.join(f'{r:.3f}' for r in ratio)}; median {statistics.median(ratio):.3f}")
PY
