# Sourced by bench/faults.sh and bench/soak.sh: a PostgreSQL and a Redis of the drill's own (so
# that stopping them or counting their rows touches nothing else), and `tessera serve`
# instances on them. Needs PostgreSQL's and Redis's binaries, not running servers. Callers set
# `bin`, `out` and `ready_within` first (bench/prepare.sh).
pg_port=15433; redis_port=16380
pg_url="postgres://postgres@127.0.0.1:$pg_port/postgres"
redis_url="redis://127.0.0.1:$redis_port"
pgbin=$(dirname "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
as_postgres=()
[ "$(id -u)" = 0 ] && as_postgres=(runuser -u postgres --)
master_key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
pids=()

pg() { "${as_postgres[@]}" "$pgbin/pg_ctl" -D "$out/pg/data" -l "$out/pg/log" -w \
  -o "-p $pg_port -k $out/pg -c listen_addresses=127.0.0.1" "$@" >/dev/null; }
redis() { redis-server --port "$redis_port" --save '' --appendonly no >"$out/redis.log" 2>&1 & echo $! >"$out/redis.pid"; }
psql_value() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -Atc "$1"; }

backends_start() {
  mkdir -p "$out/pg"
  # PostgreSQL will not run as root: its files belong to the postgres account then.
  if [ "$(id -u)" = 0 ]; then chown postgres "$out/pg"; fi
  "${as_postgres[@]}" "$pgbin/initdb" -A trust -U postgres -D "$out/pg/data" >/dev/null
  pg start
  redis
  sleep 0.5
}

backends_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$out/redis.pid" ] && kill "$(cat "$out/redis.pid")" 2>/dev/null || true
  if [ -d "$out/pg/data" ]; then pg stop -m immediate 2>/dev/null || true; fi
}

# start NAME PORT [sqlite]: an instance on the drill's PostgreSQL and Redis (or, with `sqlite`,
# on the embedded default in its data directory); its pid goes in $out/NAME.pid. Extra
# settings come from the caller's TESSERA_* environment.
start() {
  local backend=()
  [ "${3:-}" = sqlite ] || backend=(TESSERA_DATABASE_URL="$pg_url" TESSERA_REDIS_URL="$redis_url")
  env "${backend[@]}" TESSERA_MASTER_KEY="$master_key" \
    TESSERA_ISSUER=http://bench TESSERA_PUBLIC_URL=http://bench TESSERA_RATE_LIMITS__ENABLED=false \
    "$bin/tessera" serve --listen "127.0.0.1:$2" --data-dir "$out/$1" >>"$out/$1.log" 2>&1 &
  pids+=($!)
  echo $! >"$out/$1.pid"
  ready_within "$2" 10 || { echo "$1 did not start" >&2; exit 1; }
}
