#!/usr/bin/env bash
# Create .venv and install the project with its test tools. Idempotent; sourced by up.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# uv installs the Dagster family in seconds instead of ~40 s with pip; pip is the fallback.
if .venv/bin/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then
  .venv/bin/python -m uv pip install --quiet --python .venv/bin/python --compile-bytecode -e ".[dev]"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
fi
