#!/usr/bin/env bash
# Idempotent set-up from the package registries only (PyPI, npm): a virtualenv with the pinned
# Python packages, bun from the npm registry, and the compiled frontend with its npm packages.
# Usage: scripts/setup.sh [--dev]     (--dev adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
BUN_VERSION=1.4.4
if grep -q avx2 /proc/cpuinfo 2>/dev/null; then BUN_PKG="@oven/bun-linux-x64"; else BUN_PKG="@oven/bun-linux-x64-baseline"; fi
[ "$(uname -m)" = "aarch64" ] && BUN_PKG="@oven/bun-linux-aarch64"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required" >&2; exit 1; }
  "$PYTHON" -m venv .venv
fi
req=requirements.txt; [ "${1:-}" = "--dev" ] && req=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt "$req" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$req"
  touch "$stamp"
fi

BUN=".tools/node_modules/$BUN_PKG/bin/bun"
if [ ! -x "$BUN" ]; then
  command -v npm >/dev/null || { echo "npm is required to install bun (Debian: apt-get install npm)" >&2; exit 1; }
  npm install --silent --no-audit --no-fund --prefix .tools --ignore-scripts "$BUN_PKG@$BUN_VERSION"
fi
echo "REFLEX_BUN_PATH=$PWD/$BUN" > .tools/env
