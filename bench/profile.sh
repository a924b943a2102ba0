#!/usr/bin/env bash
# Where a cached token check's server CPU goes: `tessera-bench hammer` drives `GET /users/me`
# (64 connections, each reusing its token) while `perf record` samples the server; prints the
# share of each part (kernel, allocator, hyper, tracing, ...) and the top symbols, and the
# allocations per request (uprobes on libc's malloc and realloc, when perf may set them).
# Usage: bench/profile.sh [TESSERA_BINARY]   (default: the release build; writes bench/out-profile)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "perf is needed (Debian: linux-perf)" >&2; exit 2; }
source bench/prepare.sh profile
server=$(realpath "${1:-$bin/tessera}")
TESSERA_TRUSTED_PROXIES=127.0.0.1/32 "$server" serve --listen 127.0.0.1:18521 --data-dir "$out/data" \
  >"$out/tessera.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
ready_within 18521 10 || { echo "the server did not start" >&2; exit 1; }
"$bin/tessera-bench" seed --url http://127.0.0.1:18521 --users 64 >/dev/null
hammer() { "$bin/tessera-bench" hammer --url http://127.0.0.1:18521 --server-pid "$pid" "$@"; }

hammer --seconds 8 >"$out/hammer.json" &
driver=$!
sleep 1
perf record -F 2999 -p "$pid" -o "$out/perf.data" -- sleep 5 >/dev/null 2>&1
wait "$driver"
perf report -i "$out/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null >"$out/symbols.txt"

libc=$(ldd "$server" | awk '/libc.so/ { print $3 }')
allocations=""
if perf probe -q -x "$libc" --add malloc 2>/dev/null && perf probe -q -x "$libc" --add realloc 2>/dev/null; then
  perf stat -e probe_libc:malloc,probe_libc:realloc -p "$pid" -o "$out/allocations.txt" -- sleep 4 &
  counting=$!
  sleep 0.5
  hammer --seconds 3 --connections 8 >"$out/hammer-allocations.json"
  wait "$counting"
  perf probe -q -d 'probe_libc:*' 2>/dev/null || true
  allocations="$out/allocations.txt"
fi

python3 - "$out" "$allocations" <<'PY'
import collections, json, re, sys
out, allocations = sys.argv[1], sys.argv[2]
hammer = json.load(open(f"{out}/hammer.json"))
per_request = hammer["server_cpu_us_per_request"]
print(f"{hammer['per_sec']:,.0f} requests/s, {per_request:.1f} µs of server CPU per request\n")
parts = [
    ("kernel", None),
    ("allocator (malloc, free)", r"malloc|free|realloc|_int_|consolidate|__rust_alloc|__rdl|__rust_dealloc"),
    ("tracing (spans, filter, formatting)", r"tracing|nu_ansi|fmt::write|Formatted|DefaultVisitor|String as core::fmt::Write|grisu|flt2dec"),
    ("metrics", r"metrics"),
    ("hyper, httparse, http", r"hyper|httparse|http::|h1"),
    ("axum, tower (routing, layers)", r"axum|tower|matched_path"),
    ("tokio, mio", r"tokio|mio"),
    ("SHA-256 (verified-token cache key)", r"sha256"),
    ("serde_json", r"serde|json"),
    ("memmove, memcmp", r"memmove|memcpy|memcmp|memset"),
    ("tessera's own code", r"tessera"),
]
share, top = collections.Counter(), []
for line in open(f"{out}/symbols.txt"):
    match = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*-?\s*-?\s*$", line)
    if not match:
        continue
    percent, symbol = float(match.group(1)), match.group(4)
    if len(top) < 25:
        top.append((percent, symbol))
    if match.group(3) == "k":
        share["kernel"] += percent
        continue
    for name, pattern in parts[1:]:
        if re.search(pattern, symbol):
            share[name] += percent
            break
    else:
        share["other"] += percent
print("| part | share of server CPU | µs per request |\n|---|---|---|")
for name, percent in share.most_common():
    print(f"| {name} | {percent:.1f}% | {percent * per_request / 100:.2f} |")
print("\nTop symbols:\n\n| share | symbol |\n|---|---|")
for percent, symbol in top:
    symbol = symbol.replace("|", "\\|")
    print(f"| {percent:.2f}% | `{symbol[:110]}` |")
if allocations:
    text = open(allocations).read()
    ok = json.load(open(f"{out}/hammer-allocations.json"))["ok"]
    count = lambda name: int(re.search(r"([\d,]+)\s+probe_libc:" + name, text).group(1).replace(",", ""))
    print(f"\nAllocations per request: {count('malloc') / ok:.1f} malloc, {count('realloc') / ok:.1f} realloc")
PY
