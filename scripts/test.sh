#!/usr/bin/env bash
# Set everything up (including the PostgreSQL server the publishing tests use) and run the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
if [ -f scripts/postgres.sh ]; then
  source scripts/postgres.sh   # installs and starts a throwaway server, exports CTI_TEST_POSTGRES_URL
fi
VIRTUAL_ENV="$PWD/.venv" .venv/bin/dg check defs   # dg warns when the active venv is another one
exec .venv/bin/python -m pytest "$@"
