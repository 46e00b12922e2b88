#!/usr/bin/env bash
# Headless-Chromium screenshots of the Dagster UI after a user's path through the data (issue 20):
# the 2023 reproduction fixture materialised, then a 2024 year of sample data, then the GPEDC round.
# Usage: bash scripts/screenshots.sh [OUT_DIR]   (default: screenshots/ in a new temp dir; it prints it)
# Everything runs in a throwaway temp dir (CTI_DATA_DIR, DAGSTER_HOME, the browser profile), never in the
# user's data or instance (CTI_PUBLISH_URL and CTI_WAREHOUSE are ignored); Debian's chromium is installed
# when missing. CTI_VENV: the virtualenv to run (default .venv of the checkout, set up by scripts/setup.sh
# if missing); the checkout's own code comes first on PYTHONPATH either way. CTI_SHOTS_BUDGET: virtual
# milliseconds each page gets to render (default 15000). CTI_SHOTS_KEEP=1 keeps the whole temp dir.
# scripts/screenshots_ui.py waits for the UI, opens the one dialog a plain screenshot cannot, reads the check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
VENV="${CTI_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/dagster" ]; then
  bash scripts/setup.sh
  VENV="$ROOT/.venv"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

if ! command -v chromium >/dev/null 2>&1; then
  echo "screenshots.sh: installing Debian's chromium" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/cti_shots.XXXXXX")"
OUT="${1:-$WORK/screenshots}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
UI_PID=""
cleanup() {
  if [ -n "$UI_PID" ] && kill -0 "$UI_PID" 2>/dev/null; then
    kill -TERM "$UI_PID" 2>/dev/null || true   # dagster dev stops its webserver, daemon and code servers
    for _ in $(seq 30); do kill -0 "$UI_PID" 2>/dev/null || break; sleep 1; done
  fi
  if [ -n "$UI_PID" ]; then kill -KILL -- "-$UI_PID" 2>/dev/null || true; fi   # whatever of its group is left
  if [ "${CTI_SHOTS_KEEP:-0}" = 1 ]; then echo "screenshots.sh: kept $WORK" >&2; else
    case "$OUT" in "$WORK"/*) rm -rf "$WORK/data" "$WORK/dagster_home" "$WORK/chromium" ;; *) rm -rf "$WORK" ;; esac
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export CTI_DATA_DIR="$WORK/data" DAGSTER_HOME="$WORK/dagster_home"
unset CTI_PUBLISH_URL CTI_WAREHOUSE   # the warehouse goes under CTI_DATA_DIR
mkdir -p "$CTI_DATA_DIR" "$DAGSTER_HOME"
cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
cti() { "$VENV/bin/cti-pipeline" "$@" || echo "screenshots.sh: 'cti-pipeline $*' reported a failure (the UI shows it)" >&2; }

# 1. The 2023 report reproduced from the fixture (README, "Reproducing the 2023 compliance report").
cp -R data/fixtures/2023/landing "$CTI_DATA_DIR/landing"
cti materialize --year 2023
# 2. A year later: 2024's files land (declarations, records, the registry, the GPEDC round) and 2024 runs.
cti sample-data --out "$CTI_DATA_DIR" --years 2024
cti materialize --year 2024
# 3. The GPEDC round, so that the sensors find nothing left to run once the daemon starts.
cti materialize --select group:gpedc

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
URL="http://127.0.0.1:$PORT"
# Job control: dagster dev gets its own process group (stopped as one) and keeps SIGINT/SIGTERM, which a
# background job of a script would otherwise ignore.
set -m
(cd "$DAGSTER_HOME" && exec "$VENV/bin/dagster" dev -w "$ROOT/workspace.yaml" -h 127.0.0.1 -p "$PORT" \
  >"$WORK/dagster_dev.log" 2>&1) &
UI_PID=$!
set +m
echo "screenshots.sh: Dagster UI at $URL (log: $WORK/dagster_dev.log)" >&2
# Until the code location is loaded and no run is in flight (a sensor could start one); then it dismisses
# the "Join the Dagster community" dialog, as a user's Skip would (it covers every page otherwise).
"$VENV/bin/python" scripts/screenshots_ui.py wait "$URL"

FLAGS=(--disable-gpu --no-first-run --user-data-dir="$WORK/chromium")
[ "$(id -u)" != 0 ] || FLAGS+=(--no-sandbox)   # Chromium's sandbox refuses to run as root
CHROMIUM=(chromium --headless --hide-scrollbars "${FLAGS[@]}" --virtual-time-budget="${CTI_SHOTS_BUDGET:-15000}")
shot() {   # shot NAME PATH [HEIGHT]
  "${CHROMIUM[@]}" --window-size="1600,${3:-1000}" --screenshot="$OUT/$1.png" "$URL$2" >>"$WORK/chromium.log" 2>&1
  echo "  $OUT/$1.png  ($2)"
}
GROUPS_URL="/locations/__repository__@cti_pipeline/asset-groups"
echo "screenshots.sh: screenshots in $OUT" >&2
shot 01_linaje_global /asset-groups
shot 02_grupo_declaraciones "$GROUPS_URL/declaraciones/lineage"
shot 03_grupo_publicacion "$GROUPS_URL/publicacion/lineage"
shot 04_staging_declaraciones "/assets/staging/declaraciones?view=overview" 2000
shot 05_pncti_indicadores "/assets/marts/pncti_indicadores?view=overview" 2000
shot 06_pncti_indicadores_checks "/assets/marts/pncti_indicadores?view=checks"
"$VENV/bin/python" scripts/screenshots_ui.py click "$URL/assets/marts/pncti_indicadores?view=checks" \
  "$OUT/07_discrepancias.png" --wait discrepancias --click "[Show Markdown]" --show IOP.03.01 -- "${FLAGS[@]}"
echo "  $OUT/07_discrepancias.png  (the checks page, the metadata discrepancias opened)"
shot 08_automatizacion /automation
echo
"$VENV/bin/python" scripts/screenshots_ui.py check "$URL" marts/pncti_indicadores coincide_con_reporte_publicado
