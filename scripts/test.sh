#!/usr/bin/env bash
# Set everything up (including the PostgreSQL server the publishing tests use) and run the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
if [ -f scripts/postgres.sh ]; then
  source scripts/postgres.sh   # installs and starts a throwaway server, exports CTI_TEST_POSTGRES_URL
fi
VIRTUAL_ENV="$PWD/.venv" .venv/bin/dg check defs   # dg warns when the active venv is another one
# Spread over the machine's cores (pytest-xdist, up to four workers) unless the arguments or PYTEST_ADDOPTS
# choose (-n, -p no:xdist); with --pdb xdist falls back to one process by itself.
args=("$@")
if ! printf '%s\n' "$@" ${PYTEST_ADDOPTS:-} | grep -qE '^(-n|--numprocesses|no:xdist|-pno:xdist)'; then
  args=(-n auto --maxprocesses 4 "${args[@]}")
fi
exec .venv/bin/python -m pytest "${args[@]}"
