#!/usr/bin/env bash
# One process of the deployed topology; deploy/server.sh (one machine) and docker-compose.yaml (one
# container each) both start them through this script, so the two cannot drift:
#   dagster-process.sh code       the code location `cti_pipeline` as a gRPC server; with DefaultRunLauncher
#                                 the runs are its subprocesses (the one process tree that opens the warehouse)
#   dagster-process.sh webserver  the UI and its GraphQL API, on CTI_WEBSERVER_LISTEN (default 127.0.0.1)
#   dagster-process.sh daemon     schedules, sensors and the run queue
# The webserver and the daemon read deploy/workspace.yaml (the code server at CTI_CODE_SERVER_HOST:PORT).
# Every process needs DAGSTER_HOME (its dagster.yaml is deploy/dagster.postgres.yaml), the DAGSTER_PG_*
# variables and the CTI_* settings of the pipeline.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${DAGSTER_HOME:?DAGSTER_HOME must be set (the folder of the instance file dagster.yaml)}"
export CTI_CODE_SERVER_HOST="${CTI_CODE_SERVER_HOST:-127.0.0.1}"
export CTI_CODE_SERVER_PORT="${CTI_CODE_SERVER_PORT:-4000}"
# Dagster's CLI reads ./.env and a ./dagster.yaml next to it: start from the instance's own folder.
cd "$DAGSTER_HOME"
case "${1:-}" in
  code)
    exec dagster code-server start -h "${CTI_CODE_SERVER_LISTEN:-127.0.0.1}" -p "$CTI_CODE_SERVER_PORT" \
      -m cti_pipeline.definitions --location-name cti_pipeline ;;
  webserver)
    exec dagster-webserver -h "${CTI_WEBSERVER_LISTEN:-127.0.0.1}" -p "${CTI_WEBSERVER_PORT:-3000}" \
      -w "$here/workspace.yaml" ;;
  daemon)
    exec dagster-daemon run -w "$here/workspace.yaml" ;;
  *)
    echo "usage: $0 code|webserver|daemon" >&2
    exit 2 ;;
esac
