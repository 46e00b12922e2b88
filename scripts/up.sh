#!/usr/bin/env bash
# Set everything up, load the bundled sample data if the landing zone is empty, materialise
# everything on the embedded default (DuckDB file + local Dagster instance), then serve the UI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"   # the instance follows the project's config
DATA_DIR="${CTI_DATA_DIR:-$PWD/data}"
if [ -z "$(find "$DATA_DIR/landing" -type f 2>/dev/null | head -1)" ]; then
  .venv/bin/cti-pipeline sample-data --out "$DATA_DIR"
fi
.venv/bin/cti-pipeline materialize || echo "materialize reported a failed step: see the run in the UI" >&2
echo "Dagster UI: http://${CTI_UI_HOST:-127.0.0.1}:${CTI_UI_PORT:-3000}  (Ctrl-C stops it)"
ROOT="$PWD"
cd "$DAGSTER_HOME"   # so that the only dagster.yaml Dagster sees is the instance's own
exec "$ROOT/.venv/bin/dagster" dev -w "$ROOT/workspace.yaml" -h "${CTI_UI_HOST:-127.0.0.1}" -p "${CTI_UI_PORT:-3000}"
