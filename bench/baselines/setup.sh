#!/usr/bin/env bash
# Installs the pinned dependencies of the two baseline servers; safe and quick to run again.
#   - the FastAPI baseline's packages into a venv at ${CARGO_TARGET_DIR:-target}/bench-python
#     (skipped while a stamp of fastapi/requirements.txt's hash in the venv matches);
#   - the Express baseline's node_modules with `npm ci` (skipped while a stamp of
#     package-lock.json's hash in node_modules matches; `npm ci` wipes node_modules, stamp too).
# Usage: bench/baselines/setup.sh   (from anywhere; paths are taken from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."

baselines=bench/baselines
venv=${CARGO_TARGET_DIR:-target}/bench-python
requirements=$baselines/fastapi/requirements.txt
express=$baselines/express

# --- FastAPI: Python venv --------------------------------------------------------------------
req_hash=$(sha256sum <"$requirements" | cut -d' ' -f1)
py_stamp=$venv/.baseline-requirements-$req_hash
if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c '' 2>/dev/null; then
  echo "setup: $venv is broken (its python does not run); recreating it" >&2
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating the venv $venv" >&2
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
fi
if [ -f "$py_stamp" ]; then
  echo "setup: $venv is up to date with $requirements" >&2
else
  echo "setup: pip installing $requirements into $venv" >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements"
  rm -f "$venv"/.baseline-requirements-*
  touch "$py_stamp"
fi

# --- Express: node_modules --------------------------------------------------------------------
lock_hash=$(cat "$express/package.json" "$express/package-lock.json" | sha256sum | cut -d' ' -f1)
npm_stamp=$express/node_modules/.baseline-lock-$lock_hash
if [ -f "$npm_stamp" ]; then
  echo "setup: $express/node_modules is up to date with its package-lock.json" >&2
else
  echo "setup: npm ci in $express" >&2
  (cd "$express" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$npm_stamp"
fi
