#!/usr/bin/env bash
# Browser mode on the wire, with curl as the browser: a development server
# (cookies.dev_insecure = true, plain http) at $1, and a page of origin $2.
set -euo pipefail
tessera=$1 origin=$2
jar=$(mktemp); trap 'rm -f "$jar"' EXIT
email="cookie-$RANDOM$RANDOM@example.com"

# Sign up in cookie mode: the tokens arrive as HttpOnly cookies, not in the body.
curl -s -c "$jar" "$tessera/auth/signup" -H "origin: $origin" \
  -H 'content-type: application/json' \
  -d "{\"email\": \"$email\", \"password\": \"correct horse battery\", \"cookie\": true}" >/dev/null
csrf=$(awk '$6 == "tessera_csrf" {print $7}' "$jar")

# Reading needs only the cookie.
curl -s -b "$jar" "$tessera/users/me" -o /dev/null -w 'GET /users/me: %{http_code}\n'

# Changing anything needs X-CSRF-Token equal to the tessera_csrf cookie...
curl -s -b "$jar" -X POST "$tessera/auth/refresh" -H "origin: $origin" \
  -o /dev/null -w 'refresh without X-CSRF-Token: %{http_code}\n'
# ...and an allowed Origin.
curl -s -b "$jar" -X POST "$tessera/auth/refresh" -H "x-csrf-token: $csrf" \
  -H 'origin: https://evil.example' -o /dev/null -w 'refresh from a foreign origin: %{http_code}\n'

# Refresh by cookie: an empty body; the refresh cookie (Path=/auth) is rotated.
curl -s -b "$jar" -c "$jar" -X POST "$tessera/auth/refresh" -H "x-csrf-token: $csrf" \
  -H "origin: $origin" -o /dev/null -w 'refresh with X-CSRF-Token: %{http_code}\n'

# Logout ends the session and clears the three cookies (Max-Age=0).
curl -s -b "$jar" -X POST "$tessera/auth/logout" -H "x-csrf-token: $csrf" \
  -H "origin: $origin" -D - -o /dev/null | grep -ci '^set-cookie: tessera_.*max-age=0' \
  | sed 's/^/logout clears cookies: /'
