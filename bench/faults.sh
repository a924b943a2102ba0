#!/usr/bin/env bash
# Faults under load: two `tessera serve` instances on a PostgreSQL and a Redis of their own,
# the soak's traffic (`tessera-bench soak`: 64 virtual users paced at 2,000 requests/s in all,
# each round of 100 requests 94 verifies, 4 refreshes, a logout and a login) on one of them, and
# in the middle of it
#  1. PostgreSQL stopped for 5 s, then started again;
#  2. Redis stopped for 5 s, then started again;
#  3. instance a killed with SIGKILL while refresh chains and verifies go to a and b in turn
#     (`tessera-bench failover`: a request cut by the kill is sent again to b), started again
#     5 s later.
# Expected, and checked: every answer during an outage is 200 or a documented 503, none is
# another error or missing; after each outage both instances are ready again without a restart,
# a login works, and a logout on one instance is refused on the other within a second. After the
# kill: no answer but 200, no token with two successors, and every chain refreshes again on both
# instances (the restarted one included), its new access token accepted by the other.
# Writes bench/out-faults/RESULTS.md. Needs PostgreSQL's and Redis's binaries (not running ones).
# Usage: bench/faults.sh [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/faults.sh [--seconds S]" >&2; exit 2 ;;
  esac
done

source bench/prepare.sh faults
source bench/backends.sh
trap backends_cleanup EXIT
backends_start
start a 18401
start b 18402
"$bin/tessera-bench" seed --url http://127.0.0.1:18401 --users 64 >/dev/null

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
  echo "Two instances on PostgreSQL + Redis of their own; the soak's traffic (64 virtual users,"
  echo "2,000 requests/s: verify, refresh, logout, login) on one for $seconds s; the backend stopped"
  echo "5 s in, started again 10 s in."
  echo
  echo "| fault | answers | 2xx | 503 | other (errors) | p99 / max (ms) | ready again, no restart | login after | logout reaches the other instance |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$out/RESULTS.md"
status=0
for fault in postgres redis; do
  "$bin/tessera-bench" soak --url http://127.0.0.1:18401 --users 64 --concurrency 64 \
    --rate 2000 --seconds "$seconds" --window "$seconds" >"$out/traffic-$fault.json" 2>/dev/null &
  driver=$!
  sleep 5
  if [ "$fault" = postgres ]; then pg stop -m fast; else kill "$(cat "$out/redis.pid")"; fi
  sleep 5
  if [ "$fault" = postgres ]; then pg start; else redis; fi
  wait "$driver"
  ready=no; login=no; crosses=no
  ready_within 18401 10 && ready_within 18402 10 && ready=yes
  revocation_crosses && { login=yes; crosses=yes; }
  read -r total ok shed failed latency < <(python3 - "$out/traffic-$fault.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
statuses = report.get("statuses", {})
total = sum(statuses.values())
ok = sum(n for status, n in statuses.items() if status.startswith("2"))
shed = statuses.get("503", 0)
print(total, ok, shed, total - ok - shed, "{:.0f}/{:.0f}".format(report["p99_ms"], report["max_ms"]))
PY
)
  echo "| $fault stopped 5 s | $total | $ok | $shed | $failed | $latency | $ready | $login | $crosses |" >>"$out/RESULTS.md"
  if [ "$failed" != 0 ] || [ "$ready" != yes ] || [ "$crosses" != yes ]; then status=1; fi
done

"$bin/tessera-bench" failover --urls http://127.0.0.1:18401,http://127.0.0.1:18402 \
  --users 64 --concurrency 64 --seconds "$seconds" >"$out/failover.json" &
driver=$!
sleep 5
kill -9 "$(cat "$out/a.pid")"
sleep 5
start a 18401
wait "$driver"
read -r total ok failed cut refreshes_cut refused forks continued users refreshes < <(python3 - "$out/failover.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
statuses = r.get("statuses", {})
total = sum(statuses.values())
print(total, statuses.get("200", 0), total - statuses.get("200", 0), r["cut_in_flight_and_sent_again"], r["refreshes_cut_in_flight"], r["refused_and_sent_again"],
      r["forks"], r["chains_continued"], r["concurrency"], "{}/{}".format(*r["refreshes"]))
PY
)
{
  echo
  echo "Kill drill: 64 virtual users, each verifying and rotating its own refresh token (one step in"
  echo "four a refresh) on a and b in turn, $seconds s; a killed with SIGKILL 5 s in, started again 10 s in."
  echo
  echo "| answers | 200 | other | in flight on a at the kill (refreshes), sent again to b | refused by dead a, sent to b | refreshes on a / b | tokens with two successors | chains that refresh on both instances after |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| $total | $ok | $failed | $cut ($refreshes_cut) | $refused | $refreshes | $forks | $continued of $users |"
} >>"$out/RESULTS.md"
if [ "$failed" != 0 ] || [ "$forks" != 0 ] || [ "$continued" != "$users" ] || [ "$cut" = 0 ]; then status=1; fi
cat "$out/RESULTS.md"
exit "$status"
