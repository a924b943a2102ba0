#!/usr/bin/env bash
# Keeps the crate graph pointing one way (STYLE.md §1): prints each crate's Tessera dependencies
# and fails when a crate reaches a crate it must never depend on (normal dependencies only).
set -euo pipefail
cd "$(dirname "$0")/.."

# crate | crates it must never reach, directly or through others
rules=(
  "tessera-core|tessera-verify tessera-token tessera-store tessera-state tessera-http tessera-mail tessera-upstream tessera-ui tessera axum tower sqlx redis reqwest lettre"
  "tessera-verify|tessera-core tessera-token tessera-store tessera-state tessera-http tessera sqlx redis"
  "tessera-token|tessera-store tessera-state tessera-http tessera axum sqlx redis"
  "tessera-store|tessera-token tessera-state tessera-http tessera axum redis"
  "tessera-state|tessera-token tessera-store tessera-http tessera axum sqlx"
  "tessera-http|tessera-store tessera-state tessera-mail tessera-upstream tessera sqlx redis"
  "tessera-mail|tessera-token tessera-store tessera-state tessera-http tessera axum sqlx redis"
  "tessera-ui|tessera-verify tessera-token tessera-store tessera-state tessera-http tessera-mail tessera-upstream tessera axum sqlx redis reqwest"
  "tessera-upstream|tessera-verify tessera-token tessera-store tessera-state tessera-http tessera-mail tessera axum sqlx redis lettre"
)

failed=0
for rule in "${rules[@]}"; do
  crate=${rule%%|*}
  banned=${rule#*|}
  reached=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' \
    | awk '{print $1}' | sort -u)
  direct=$(cargo tree -p "$crate" -e normal --depth 1 --prefix none --format '{p}' \
    | awk 'NR > 1 && $1 ~ /^tessera/ {print $1}' | sort -u | tr '\n' ' ')
  printf '%-15s -> %s\n' "$crate" "${direct:-(no Tessera crate)}"
  for name in $banned; do
    if grep -qx "$name" <<<"$reached"; then
      echo "  error: $crate reaches $name" >&2
      failed=1
    fi
  done
done
exit "$failed"
