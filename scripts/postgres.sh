#!/usr/bin/env bash
# A throwaway PostgreSQL server for the publishing and instance tests. Sourced by scripts/test.sh
# (works under `set -euo pipefail`), or run on its own: `source scripts/postgres.sh`.
# Idempotent: installs Debian's postgresql package if missing, initialises a cluster in .pg/ of the
# checkout (git-ignored) the first time, starts it on a free port of 127.0.0.1 unless it is already
# running, creates the database cti_test, and exports
#   CTI_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/cti_test
# Local trust authentication, fsync off: for tests only, never for data you want to keep.
# Stop it with: bash scripts/postgres.sh stop
#
# The server profile (deploy/server.sh uses it) keeps data instead:
#   CTI_PG_PROFILE=server CTI_PG_DIR=/srv/cti/postgres CTI_PG_PORT=5433 source scripts/postgres.sh
# fsync and full-page writes on, passwords (scram-sha-256) on TCP, trust only on the Unix socket, which
# only the cluster's owner (and root) may open (unix_socket_permissions 0700). No cti_test database;
# it exports CTI_PG_PORT, CTI_PG_SOCKET_DIR and CTI_PG_BINDIR for the caller's own psql.
# CTI_PG_DIR and CTI_PG_PORT also work with the test profile; CTI_PG_LISTEN (server profile) sets
# listen_addresses (default 127.0.0.1).

_cti_pg_main() {
  local root base bindir run_as port data url profile fixed_port
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  profile="${CTI_PG_PROFILE:-test}"
  fixed_port="${CTI_PG_PORT:-}"
  case "$profile" in
    test|server) ;;
    *) echo "postgres.sh: CTI_PG_PROFILE must be test or server, not '$profile'" >&2; return 1 ;;
  esac
  if [ -n "${CTI_PG_DIR:-}" ]; then
    mkdir -p "$CTI_PG_DIR"
    base="$(cd "$CTI_PG_DIR" && pwd)"
  else
    base="$root/.pg"
  fi

  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "postgres.sh: installing Debian's postgresql package" >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

  # initdb and postgres refuse to run as root: run them as the postgres user.
  run_as=()
  if [ "$(id -u)" = 0 ]; then
    run_as=(runuser -u postgres --)
    if [ -n "${CTI_PG_DIR:-}" ]; then
      if ! runuser -u postgres -- test -x "$(dirname "$base")"; then
        echo "postgres.sh: the postgres user cannot reach $base: let it through (chmod o+x on every parent folder) or choose another CTI_PG_DIR" >&2
        return 1
      fi
    elif ! runuser -u postgres -- test -x "$root"; then
      # The checkout is not reachable by the postgres user: keep the cluster in a private temp dir.
      base="${TMPDIR:-/tmp}/cti_pipeline_pg_$(printf '%s' "$root" | cksum | cut -d' ' -f1)"
    fi
  fi
  data="$base/data"
  mkdir -p "$base"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$base"; fi
  local sockdir="$base"
  if [ "${#sockdir}" -gt 80 ]; then sockdir=/tmp; fi   # a unix socket path has ~107 characters at most

  local initdb_auth=(--auth=trust) settings listen=127.0.0.1
  settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  if [ "$profile" = server ]; then
    initdb_auth=(--auth-local=trust --auth-host=scram-sha-256)
    settings="-c unix_socket_permissions=0700 -c password_encryption=scram-sha-256"
    listen="${CTI_PG_LISTEN:-127.0.0.1}"
  fi

  (
    # One script at a time (parallel test runs share the server).
    flock 9
    if [ "${1:-}" = "stop" ]; then
      if [ -f "$data/PG_VERSION" ]; then "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2 || true; fi
      exit 0
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      rm -rf "$data"
      "${run_as[@]}" "$bindir/initdb" -D "$data" -U postgres "${initdb_auth[@]}" -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 \
        || { cat "$base/initdb.log" >&2; exit 1; }
    fi
    if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      port="$(cat "$base/port" 2>/dev/null || true)"
      if [ -n "$fixed_port" ]; then
        port="$fixed_port"
        if ! _cti_pg_port_free "$port" reuse; then   # as postgres binds (a closed connection's TIME_WAIT is no obstacle)
          echo "postgres.sh: port $port (CTI_PG_PORT) is taken by another program" >&2
          exit 1
        fi
      elif [ -z "$port" ] || ! _cti_pg_port_free "$port"; then
        port="$(_cti_pg_free_port)"
      fi
      echo "$port" >"$base/port"
      "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start 9>&- \
        -o "-p $port -c listen_addresses='$listen' -k $sockdir $settings" >/dev/null \
        || { tail -n 30 "$base/server.log" >&2; exit 1; }
    fi
    port="$(cat "$base/port")"
    if [ "$profile" = server ]; then
      exit 0
    fi
    if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'cti_test'" | grep -q 1; then
      "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE cti_test" >/dev/null
    fi
  ) 9>"$base/.lock"

  if [ "${1:-}" = "stop" ]; then
    return 0
  fi
  port="$(cat "$base/port")"
  if [ "$profile" = server ]; then
    export CTI_PG_PORT="$port" CTI_PG_SOCKET_DIR="$sockdir" CTI_PG_BINDIR="$bindir"
    echo "postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at 127.0.0.1:$port, data in $data" >&2
    return 0
  fi
  url="postgresql+psycopg://postgres@127.0.0.1:$port/cti_test"
  export CTI_TEST_POSTGRES_URL="$url"
  echo "postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $url" >&2
}

_cti_pg_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_cti_pg_port_free() {   # _cti_pg_port_free PORT [reuse]
  python3 -c '
import socket, sys
s = socket.socket()
if sys.argv[2:] == ["reuse"]:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()' "$@" 2>/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _cti_pg_main "$@"
else
  _cti_pg_main   # sourced: the caller's arguments are not ours
fi
