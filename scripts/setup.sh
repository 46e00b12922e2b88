#!/usr/bin/env bash
# Create .venv and install the project with its test tools. Idempotent; sourced by up.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# uv installs the Dagster family in seconds instead of ~40 s with pip; pip is the fallback, also when uv
# itself fails (behind a TLS-inspecting proxy uv rejects the proxy's certificate unless UV_NATIVE_TLS=1).
if .venv/bin/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1 \
   && .venv/bin/python -m uv pip install --quiet --python .venv/bin/python --compile-bytecode -e ".[dev]"; then
  :
else
  echo "setup.sh: installing with pip instead" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
fi
