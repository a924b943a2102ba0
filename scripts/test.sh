#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what the tests need (as root),
# starts PostgreSQL and Redis when they are not running, then fmt check, clippy and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else echo "need root for: $*" >&2; return 1; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

log "system packages"
command -v pg_ctlcluster >/dev/null || apt_install postgresql
# redis-server brings redis-cli (package redis-tools), which the tests use to form a Redis Cluster.
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server redis-tools
command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v node >/dev/null || apt_install nodejs npm
# The browser tests drive Debian's Chromium through playwright-core (its own download cannot work).
[ -x /usr/bin/chromium ] || apt_install chromium
# The hosted pages' screenshots and tests render Korean: a CJK font for Chromium.
fc-list 2>/dev/null | grep -i nanum >/dev/null || apt_install fonts-nanum

log "PostgreSQL on 127.0.0.1:5432"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 5432

log "Redis on 127.0.0.1:6379"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping

log "Python packages for the interoperability tests"
venv=target/test-python
if [ ! -x "$venv/bin/python3" ]; then
  mkdir -p target
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r scripts/test-requirements.txt
export PATH="$PWD/$venv/bin:$PATH"

log "Node packages: the documentation snippets, the clients and the example web app"
(cd docs/snippets && npm ci --no-audit --no-fund --loglevel=error)
(cd crates/tessera-testkit/oidc-provider && npm ci --no-audit --no-fund --loglevel=error)
npm ci --no-audit --no-fund --loglevel=error

log "cargo fmt --check"
cargo fmt --all -- --check

log "crate layers (dependencies point one way)"
./scripts/check-layers.sh

log "cargo clippy"
cargo clippy -j2 --workspace --all-targets -- -D warnings

log "cargo test"
cargo test -j2 --workspace

log "TypeScript packages: build (with their sizes) and unit tests"
npm run build
npm run test:clients

log "Browser tests: examples/movies-web in headless Chromium against tessera and movies"
# cargo test built both binaries (target/debug); the tests start them, and the built web app.
npm run test:web

log "Browser tests: the hosted pages (/ui/*) in headless Chromium against tessera"
# Accessibility (axe-core, English and Korean, light and dark), weight and headers, JavaScript off.
npm run test:pages
