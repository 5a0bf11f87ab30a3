# Sourced by the scripts: the environment Reflex runs with here (no telemetry, no version check, bun from npm).
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../.tools/env"
export REFLEX_BUN_PATH REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=0
export PATH="$PWD/.venv/bin:$PATH"
