#!/usr/bin/env bash
# Soak: one `tessera serve` under a steady, paced mix of what an app's users do for a long time
# (`tessera-bench soak`: in each virtual user's round of 100 requests, 94 verifies, 4 refreshes,
# a logout and the login after it), at a fraction of the capacity measured first with the same
# mix (the highest rate paced runs of 30 s keep with no answer but 2xx). Every minute it samples the server's RSS, the rows of `sessions` and
# `revocations`, the database's size and (on PostgreSQL + Redis) Redis's keys and memory.
# Access tokens live 5 minutes here, so that ended sessions and revocations reach the age the
# pruning (every 5 minutes) deletes them at within the first 10 minutes: the warm-up.
# Checked: no answer but 2xx; RSS after the warm-up within 10% of its lowest; the tables no
# larger in the later half of the time after the warm-up than in the earlier half.
# Writes bench/out-soak-BACKEND/RESULTS.md.
# Usage: bench/soak.sh [--backend sqlite|postgres] [--minutes M] [--load FRACTION | --rate R]
set -euo pipefail
cd "$(dirname "$0")/.."
backend=sqlite; minutes=30; load=0.7; rate=
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    *) echo "usage: bench/soak.sh [--backend sqlite|postgres] [--minutes M] [--load FRACTION | --rate R]" >&2; exit 2 ;;
  esac
done
case "$backend" in sqlite|postgres) ;; *) echo "--backend is sqlite or postgres" >&2; exit 2 ;; esac

source bench/prepare.sh "soak-$backend"
source bench/backends.sh
trap backends_cleanup EXIT
url=http://127.0.0.1:18411
export TESSERA_TOKENS__ACCESS_TTL=5m
if [ "$backend" = postgres ]; then backends_start; start s 18411; else start s 18411 sqlite; fi
server=$(cat "$out/s.pid")
"$bin/tessera-bench" seed --url "$url" --users 64 >/dev/null

if [ -z "$rate" ]; then
  echo "measuring the capacity (paced runs of 30 s)" >&2
  "$bin/tessera-bench" soak --url "$url" --users 64 --concurrency 256 --seconds 30 >"$out/capacity.json"
  rate=$(python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["per_sec"] * float(sys.argv[2])))' \
    "$out/capacity.json" "$load")
else
  echo "{\"per_sec\": null, \"given_rate\": $rate}" >"$out/capacity.json"
fi
echo "soaking at $rate requests/s for $minutes minutes" >&2

sample() { # SECONDS-SINCE-START
  local rss sessions revocations bytes keys memory
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
  if [ "$backend" = postgres ]; then
    sessions=$(psql_value 'SELECT count(*) FROM sessions')
    revocations=$(psql_value 'SELECT count(*) FROM revocations')
    bytes=$(psql_value "SELECT pg_database_size('postgres')")
    keys=$(redis-cli -p "$redis_port" dbsize)
    memory=$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
  else
    read -r sessions revocations < <(sqlite3 -readonly -separator ' ' "$out/s/tessera.db" \
      'SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM revocations)')
    bytes=$(cat "$out"/s/tessera.db* | wc -c)
    keys=; memory=
  fi
  echo "$1,$rss,$sessions,$revocations,$bytes,$keys,$memory" >>"$out/samples.csv"
}
echo "t_s,rss_kib,sessions,revocations,db_bytes,redis_keys,redis_bytes" >"$out/samples.csv"
"$bin/tessera-bench" soak --url "$url" --users 64 --concurrency 256 --rate "$rate" \
  --seconds $(( minutes * 60 )) --window 60 >"$out/soak.json" 2>"$out/windows.jsonl" &
driver=$!
started=$(date +%s)
sample 0
while kill -0 "$driver" 2>/dev/null; do
  sleep 60
  kill -0 "$driver" 2>/dev/null && sample $(( $(date +%s) - started ))
done
# No sample after the run: the hashing threads give their memory back once logins stop.
wait "$driver"
python3 bench/soak_report.py "$out" "$backend" "$minutes" "$load"
