#!/usr/bin/env bash
# The long API fuzzing run: Schemathesis generates requests for every operation of a running
# server's /openapi.json (coverage, fuzzing and stateful phases) and checks that no answer is a
# server error and every answer is documented. The test command runs a short version of this
# (crates/tessera/tests/api/fuzz.rs). Writes bench/out-fuzz/ (the report and the server log).
# Usage: bench/fuzz-api.sh [--examples N] [--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
examples=500
backend=sqlite
while [ $# -gt 0 ]; do
  case "$1" in
    --examples) examples=$2; shift 2 ;;
    --postgres) backend=postgres; shift ;;
    *) echo "usage: bench/fuzz-api.sh [--examples N] [--postgres]" >&2; exit 2 ;;
  esac
done

cargo build --release -j2 -p tessera
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
venv=$target_dir/test-python
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/test-requirements.txt
fi
out=$root/bench/out-fuzz
rm -rf "$out"; mkdir -p "$out"
port=18390
env=(TESSERA_RATE_LIMITS__ENABLED=false)
if [ "$backend" = postgres ]; then
  db=tessera_fuzz_$$
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" >/dev/null
  env+=(TESSERA_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db")
fi
env "${env[@]}" "$target_dir/release/tessera" serve --listen "127.0.0.1:$port" \
  --data-dir "$out/data" >"$out/server.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  if [ "$backend" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null || true
  fi
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
token=$(curl -sf -X POST "http://127.0.0.1:$port/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"a long enough passphrase"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks=$checks,response_headers_conformance,response_schema_conformance
status=0
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" --max-examples "$examples" \
  --checks "$checks" --header "Authorization: Bearer $token" \
  --report junit --report-dir "$out" | tee "$out/schemathesis.txt" || status=$?
errors=$(grep -c '"level":"ERROR"\| ERROR ' "$out/server.log" || true)
echo "backend $backend, $examples examples per operation: schemathesis exit $status; server errors logged: $errors"
exit "$status"
