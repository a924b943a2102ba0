#!/usr/bin/env bash
# The hosted sign-in page against the cheapest route: `tessera-bench pages` drives GET /healthz,
# GET /ui/login as a first visit (no cookie: a new CSRF token and its Set-Cookie every time) and
# GET /ui/login as a returning browser (its CSRF cookie sent back), in turn, round by round, with
# the efficient driver of bench/hotpath.sh, beside the server's CPU time per request (from /proc).
# Tessera runs from the release build on SQLite with the default configuration.
# Writes bench/out-pages/RESULTS.md.
# Usage: bench/pages.sh [--seconds S] [--concurrency C] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
command="bench/pages.sh${*:+ $*}"
seconds=10; concurrency=16; rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: bench/pages.sh [--seconds S] [--concurrency C] [--rounds N]" >&2; exit 2 ;;
  esac
done

source bench/prepare.sh pages
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
"$bin/tessera" serve --listen 127.0.0.1:18520 --data-dir "$out/tessera" >"$out/tessera.log" 2>&1 &
pids+=($!); tessera=$!
ready_within 18520 10 || { echo "tessera is not ready" >&2; exit 1; }
"$bin/tessera-bench" pages --url http://127.0.0.1:18520 --server-pid "$tessera" \
  --concurrency "$concurrency" --seconds "$seconds" --rounds "$rounds" >"$out/pages.json"

python3 - "$out/pages.json" "$command" "$(date -u +%Y-%m-%d)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >"$out/RESULTS.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
command, day, commit = sys.argv[2], sys.argv[3], sys.argv[4]
m, ratios = r["median"], r["ratios"]

def spread(figure, fmt):
    return f"{fmt.format(figure['median'])} ({fmt.format(figure['min'])}–{fmt.format(figure['max'])})"

print("## Hosted pages (`bench/pages.sh`)\n")
print(f"Run on {day} (commit {commit}): `{command}`. Tessera (release, SQLite, default configuration)")
print("driven by `tessera-bench pages`, the efficient driver of `bench/hotpath.sh` (one thread, prepared")
print(f"requests), {r['concurrency']} keep-alive connections each with one request in flight; the three requests take")
print(f"turns, {r['rounds']} rounds of {r['seconds']} s with the order rotating each round; medians of the rounds")
print("(min–max). Server CPU from `/proc/PID/stat`; an error is any answer but 200.\n")
print("| request | requests/s | p50 ms | p99 ms | bytes / answer | server CPU µs / request | errors |")
print("|---|---|---|---|---|---|---|")
labels = {
    "healthz": "`GET /healthz`",
    "login_first_visit": "`GET /ui/login`, first visit (a new CSRF token and its `Set-Cookie`)",
    "login_returning": "`GET /ui/login`, returning browser (its CSRF cookie sent back)",
}
for name, label in labels.items():
    t = m[name]
    print(f"| {label} | {spread(t['per_sec'], '{:,.0f}')} | {spread(t['p50_ms'], '{:.2f}')} | "
          f"{spread(t['p99_ms'], '{:.2f}')} | {t['bytes_per_response']['median']:,.0f} | "
          f"{spread(t['server_cpu_us_per_request'], '{:.1f}')} | {t['errors']} |")
print()
print("| goal, 16 clients | measured | |")
print("|---|---|---|")
for name, label in [("login_first_visit", "first visit"), ("login_returning", "returning browser")]:
    rate = ratios[name]["rate_vs_healthz"]
    per_round = ", ".join(f"{x:.1%}" for x in rate["per_round"])
    met = rate["median"] >= 0.9
    print(f"| `/ui/login` ({label}) ≥ 90% of the `/healthz` rate | {rate['median']:.1%} (per round: {per_round}) | {'met' if met else '**not met**'} |")
    p99 = m[name]["p99_ms"]["median"]
    print(f"| `/ui/login` ({label}) p99 ≤ 2 ms | {p99:.2f} ms | {'met' if p99 <= 2 else '**not met**'} |")
print()
for name, label in [("login_first_visit", "first visit"), ("login_returning", "returning browser")]:
    cpu = ratios[name]["server_cpu_vs_healthz"]
    print(f"Server CPU per request, `/ui/login` ({label}) ÷ `/healthz`, per round: "
          + ", ".join(f"{x:.2f}×" for x in cpu["per_round"]) + f"; median {cpu['median']:.2f}×.")
PY
cat "$out/RESULTS.md"
