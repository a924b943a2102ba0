#!/usr/bin/env bash
# Faults under load: two `tessera serve` instances on a PostgreSQL and a Redis of their own,
# mixed traffic (90% verify, 8% refresh, 2% login) on one of them, and in the middle of it
#  1. PostgreSQL stopped for 5 s, then started again;
#  2. Redis stopped for 5 s, then started again.
# Expected, and checked: every answer during an outage is 200 or a documented 503, none is
# another error or missing; after each outage both instances are ready again without a restart,
# a login works, and a logout on one instance is refused on the other within a second.
# (kill -9 of an instance mid-refresh is a test: `killing_an_instance_during_a_refresh_load_...`.)
# Writes bench/out-faults/RESULTS.md. Needs PostgreSQL's and Redis's binaries (not running ones).
# Usage: bench/faults.sh [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=20
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/faults.sh [--seconds S]" >&2; exit 2 ;;
  esac
done

cargo build --release -j2 -p tessera -p tessera-bench
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
bin=$target_dir/release
out=$root/bench/out-faults
rm -rf "$out"; mkdir -p "$out"
pg_port=15433; redis_port=16380
pgbin=$(dirname "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
as_postgres=()
[ "$(id -u)" = 0 ] && as_postgres=(runuser -u postgres --)
mkdir -p "$out/pg"
# PostgreSQL will not run as root: its files belong to the postgres account then.
if [ "$(id -u)" = 0 ]; then chown postgres "$out/pg"; fi
"${as_postgres[@]}" "$pgbin/initdb" -A trust -U postgres -D "$out/pg/data" >/dev/null
pg() { "${as_postgres[@]}" "$pgbin/pg_ctl" -D "$out/pg/data" -l "$out/pg/log" -w \
  -o "-p $pg_port -k $out/pg -c listen_addresses=127.0.0.1" "$@" >/dev/null; }
redis() { redis-server --port "$redis_port" --save '' --appendonly no >"$out/redis.log" 2>&1 & echo $! >"$out/redis.pid"; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$out/redis.pid" ] && kill "$(cat "$out/redis.pid")" 2>/dev/null || true
  pg stop -m immediate 2>/dev/null || true
}
trap cleanup EXIT
pg start
redis
sleep 0.5
master_key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
start() { # NAME PORT
  env TESSERA_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres" \
    TESSERA_REDIS_URL="redis://127.0.0.1:$redis_port" TESSERA_MASTER_KEY="$master_key" \
    TESSERA_ISSUER=http://bench TESSERA_PUBLIC_URL=http://bench TESSERA_RATE_LIMITS__ENABLED=false \
    "$bin/tessera" serve --listen "127.0.0.1:$2" --data-dir "$out/$1" >"$out/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "$1 did not start" >&2; exit 1
}
start a 18401
start b 18402
"$bin/tessera-bench" seed --url http://127.0.0.1:18401 --users 64 >/dev/null

ready_within() { # PORT SECONDS
  for _ in $(seq $(( $2 * 10 ))); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.1; done
  return 1
}
# A login on a, a logout on a, the token refused on b within a second.
revocation_crosses() {
  local login token
  login=$(curl -fs -X POST http://127.0.0.1:18401/auth/login -H 'content-type: application/json' \
    -d '{"email":"bench-0@example.com","password":"benchmark password 1234"}') || return 1
  token=$(printf '%s' "$login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  curl -fs -o /dev/null -X POST http://127.0.0.1:18401/auth/logout -H "authorization: Bearer $token" || return 1
  for _ in $(seq 20); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18402/users/me -H "authorization: Bearer $token")" = 401 ] && return 0
    sleep 0.05
  done
  return 1
}

{
  echo "# Faults under load (\`bench/faults.sh\`)"
  echo
  echo "Two instances on PostgreSQL + Redis of their own; mixed traffic (16 clients) on one for"
  echo "$seconds s; the backend stopped 5 s in, started again 10 s in."
  echo
  echo "| fault | answers | 200 | 503 | other (errors) | ready again, no restart | login after | logout reaches the other instance |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$out/RESULTS.md"
status=0
for fault in postgres redis; do
  "$bin/tessera-bench" mixed --url http://127.0.0.1:18401 --users 64 --concurrency 16 \
    --seconds "$seconds" >"$out/mixed-$fault.json" &
  driver=$!
  sleep 5
  if [ "$fault" = postgres ]; then pg stop -m fast; else kill "$(cat "$out/redis.pid")"; fi
  sleep 5
  if [ "$fault" = postgres ]; then pg start; else redis; fi
  wait "$driver"
  ready=no; login=no; crosses=no
  ready_within 18401 10 && ready_within 18402 10 && ready=yes
  revocation_crosses && { login=yes; crosses=yes; }
  read -r total ok shed failed < <(python3 - "$out/mixed-$fault.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
statuses = report.get("statuses", {})
total = sum(statuses.values())
print(total, statuses.get("200", 0), statuses.get("503", 0), total - statuses.get("200", 0) - statuses.get("503", 0))
PY
)
  echo "| $fault stopped 5 s | $total | $ok | $shed | $failed | $ready | $login | $crosses |" >>"$out/RESULTS.md"
  if [ "$failed" != 0 ] || [ "$ready" != yes ] || [ "$crosses" != yes ]; then status=1; fi
done
cat "$out/RESULTS.md"
exit "$status"
