#!/usr/bin/env bash
# Social login and the vault under load (issue 11's figures): Tessera on SQLite with a
# GitHub-shaped provider that `tessera-bench social` serves itself, so the callback's own work can
# be told apart from its round trips to the provider; then the vault's hit path.
# Writes bench/out-social/RESULTS.md.
# Usage: bench/social.sh [--seconds S] [--concurrency C]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10; concurrency=16
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    *) echo "usage: bench/social.sh [--seconds S] [--concurrency C]" >&2; exit 2 ;;
  esac
done

source bench/prepare.sh social
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
provider=http://127.0.0.1:18511
key=bench-social-service-key
# Tessera calls the provider only when someone signs in, so it may start first.
TESSERA_PUBLIC_URL=http://127.0.0.1:18510 \
TESSERA_SERVICE_KEYS=$key \
TESSERA_OAUTH__PROVIDERS__BENCH__PRESET=github \
TESSERA_OAUTH__PROVIDERS__BENCH__AUTHORIZE_URL=$provider/login/oauth/authorize \
TESSERA_OAUTH__PROVIDERS__BENCH__TOKEN_URL=$provider/login/oauth/access_token \
TESSERA_OAUTH__PROVIDERS__BENCH__USERINFO_URL=$provider/user \
TESSERA_OAUTH__PROVIDERS__BENCH__EMAILS_URL=$provider/user/emails \
TESSERA_OAUTH__PROVIDERS__BENCH__CLIENT_ID=bench \
TESSERA_OAUTH__PROVIDERS__BENCH__CLIENT_SECRET=bench-secret \
  "$bin/tessera" serve --listen 127.0.0.1:18510 --data-dir "$out/tessera" >"$out/tessera.log" 2>&1 &
pids+=($!)
ready_within 18510 10 || { echo "tessera is not ready" >&2; exit 1; }
"$bin/tessera-bench" social --url http://127.0.0.1:18510 --provider-listen 127.0.0.1:18511 \
  --service-key "$key" --concurrency "$concurrency" --seconds "$seconds" >"$out/social.json"

python3 - "$out/social.json" "$concurrency" >"$out/RESULTS.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [
    ("callback (whole: Tessera + 3 provider round trips)", r["callback"]),
    ("provider round trips within it (token, /user, /user/emails)", r["provider_round_trips"]),
    ("**callback's own work** (callback − its round trips)", r["callback_own"]),
    ("login code exchange (`POST /auth/oauth/exchange`: the session)", r["exchange"]),
    ("**vault hit path** (`POST /internal/users/{id}/providers/{p}/token`)", r["vault"]),
]
print(f"### Social login and the vault ({sys.argv[2]} clients, SQLite)\n")
print("| step | per second | p50 ms | p99 ms | not 2xx/3xx |")
print("|---|---|---|---|---|")
for name, t in rows:
    bad = sum(v for k, v in t["statuses"].items() if not (200 <= int(k) < 400))
    print(f"| {name} | {t['per_sec']:,.0f} | {t['p50_ms']:.2f} | {t['p99_ms']:.2f} | {bad} |")
PY
cat "$out/RESULTS.md"
