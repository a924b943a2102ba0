#!/usr/bin/env bash
# Writes crates/tessera/link-order.txt, the functions the release server runs, in the order the
# linker is to place them (crates/tessera/build.rs says why): callgrind follows `tessera serve`
# through its start-up (and one second of idling, as bench/hotpath.sh measures it), then
# through a little of every hot path: seeding users, cached and uncached token checks, refresh
# chains, mixed traffic, logins, the login page and a few refusals. Start-up's functions come
# first, then the rest in the order callgrind met them.
# Run it after a change of dependencies or toolchain, then rebuild the release binary.
# Usage: bench/link-order.sh   (needs valgrind; writes bench/out-link-order)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: valgrind)" >&2; exit 2; }
source bench/prepare.sh link-order
port=18531
url=http://127.0.0.1:$port
TESSERA_TRUSTED_PROXIES=127.0.0.1/32 valgrind --tool=callgrind --demangle=no \
  --compress-strings=no --compress-pos=no --callgrind-out-file="$out/callgrind.out" \
  "$bin/tessera" serve --listen "127.0.0.1:$port" --data-dir "$out/data" >"$out/tessera.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
ready_within "$port" 120 || { echo "the server did not start under callgrind" >&2; exit 1; }
sleep 1
callgrind_control --dump=start-up "$server" >/dev/null

drive() { "$bin/tessera-bench" "$@" >>"$out/driver.log" 2>&1; }
drive seed --url "$url" --users 8
drive hammer --url "$url" --users 8 --connections 8 --seconds 3
drive hammer --url "$url" --users 8 --connections 8 --seconds 3 --distinct 20
drive refresh --url "$url" --concurrency 4 --seconds 3
drive mixed --url "$url" --users 8 --concurrency 4 --seconds 4
drive login --url "$url" --users 8 --concurrency 2 --seconds 3
drive pages --url "$url" --seconds 2 --rounds 1 --warmup 1
for path in /nope /users/me /.well-known/jwks.json /metrics /healthz; do
  curl -s -o /dev/null -H 'authorization: Bearer not-a-token' "$url$path"
done
curl -s -o /dev/null -X POST "$url/auth/login" -H 'content-type: application/json' \
  -d '{"email":"nobody@example.com","password":"not the password"}'
kill -INT "$server"
wait "$server" || true
trap - EXIT

python3 - "$out" "$bin/tessera" crates/tessera/link-order.txt <<'PY'
import glob, os, re, subprocess, sys
out, binary, target = sys.argv[1:]
binary = os.path.realpath(binary)
# The executable's own functions: callgrind also names those of the C libraries it loads, and
# recursion cycles get a "'N" suffix.
symbols = set()
for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        symbols.add(parts[2])

def functions(path):
    obj = None
    for line in open(path, errors="replace"):
        if line.startswith("ob="):
            obj = line[3:].strip()
        elif line.startswith("fn=") and obj and os.path.realpath(obj) == binary:
            yield re.sub(r"'\d+$", "", line[3:].strip())

# The dump made at start-up is callgrind.out.1; the one made at exit, callgrind.out.
dumps = sorted(glob.glob(f"{out}/callgrind.out.*"), key=lambda p: int(p.rsplit(".", 1)[1]))
dumps.append(f"{out}/callgrind.out")
order, seen = [], set()
for path in dumps:
    for name in functions(path):
        if name in symbols and name not in seen:
            seen.add(name)
            order.append(name)
open(target, "w").write("".join(f"{name}\n" for name in order))
print(f"{len(order)} functions written to {target}", file=sys.stderr)
PY
