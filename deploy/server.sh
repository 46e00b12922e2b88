#!/usr/bin/env bash
# cti_pipeline's production topology on one machine, without Docker (docs/deploy.md):
#   PostgreSQL     scripts/postgres.sh, server profile: databases dagster (the instance) and cti_bi (the marts)
#   code server    deploy/dagster-process.sh code       gRPC on 127.0.0.1:CTI_CODE_SERVER_PORT (4000)
#   webserver      deploy/dagster-process.sh webserver  UI + GraphQL on 127.0.0.1:CTI_WEBSERVER_PORT (3000)
#   daemon         deploy/dagster-process.sh daemon     schedules, sensors, the run queue
#   proxy          Debian's nginx: TLS and a login (HTTP basic auth) on CTI_PROXY_PORT (8443), all addresses
# The instance is deploy/dagster.postgres.yaml and the workspace deploy/workspace.yaml: the same files
# docker-compose.yaml runs. Settings and secrets come from deploy/.env (CTI_DEPLOY_ENV), or from the
# environment, which wins. State (cluster, logs, pids, users, certificate) lives in CTI_DEPLOY_DIR
# (default .deploy/ of the checkout, git-ignored).
#
#   deploy/server.sh install            Debian packages (postgresql, nginx, openssl, python3-venv); root or sudo
#   deploy/server.sh user add NAME      add a login, or change its password (asked, or read from stdin)
#   deploy/server.sh user del NAME | user list
#   deploy/server.sh cert               a self-signed certificate, unless CTI_TLS_CERT/CTI_TLS_KEY are set
#   deploy/server.sh start              everything (idempotent: what runs already is left alone)
#   deploy/server.sh stop [NAME]        everything, PostgreSQL last; or one of code, webserver, daemon, proxy
#   deploy/server.sh restart code|webserver|daemon|proxy
#   deploy/server.sh status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$ROOT/deploy"
PROCESSES=(code webserver daemon proxy)   # start order; stop goes backwards

log() { echo "server.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# --- settings -------------------------------------------------------------------------------------

load_settings() {
  local file="${CTI_DEPLOY_ENV:-$DEPLOY/.env}" line key value
  if [ -f "$file" ]; then
    # KEY=value lines, as docker compose reads them; a variable already in the environment wins.
    while IFS= read -r line || [ -n "$line" ]; do
      line="${line%$'\r'}"
      [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
      [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die "$file: cannot read line: $line"
      key="${BASH_REMATCH[2]}"
      value="${BASH_REMATCH[3]}"
      if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then
        value="${BASH_REMATCH[1]}"
      else   # unquoted: a comment may follow after a space, as compose reads it
        value="${value%%[[:space:]]#*}"
        value="${value%"${value##*[![:space:]]}"}"
      fi
      if [ -z "${!key+set}" ]; then export "$key=$value"; fi
    done <"$file"
  fi
  for key in CTI_DEPLOY_DIR CTI_DATA_DIR CTI_TLS_CERT CTI_TLS_KEY; do
    [ -z "${!key:-}" ] || [[ "${!key}" == /* ]] || die "$key=${!key}: give an absolute path"
  done
  STATE="${CTI_DEPLOY_DIR:-$ROOT/.deploy}"   # created by the commands that write there, not by install
  STATE="${STATE%/}"
  export CTI_DATA_DIR="${CTI_DATA_DIR:-$STATE/data}"
  PG_PORT="${CTI_PG_PORT:-5433}"
  CODE_PORT="${CTI_CODE_SERVER_PORT:-4000}"
  WEB_PORT="${CTI_WEBSERVER_PORT:-3000}"
  PROXY_PORT="${CTI_PROXY_PORT:-8443}"
  PROXY_DIR="$STATE/proxy"
  HTPASSWD="$PROXY_DIR/htpasswd"
  TLS_CERT="${CTI_TLS_CERT:-$PROXY_DIR/tls/selfsigned.crt}"
  TLS_KEY="${CTI_TLS_KEY:-$PROXY_DIR/tls/selfsigned.key}"
  PY="$ROOT/.venv/bin/python"
}

require_secrets() {
  local missing=() name
  for name in DAGSTER_PG_PASSWORD CTI_PUBLISH_PASSWORD CTI_BI_PASSWORD CTI_PII_SALT; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ "${#missing[@]}" = 0 ] || die "set ${missing[*]} in ${CTI_DEPLOY_ENV:-deploy/.env} (see deploy/.env.example)"
}

# --- Debian packages --------------------------------------------------------------------------------

install_packages() {
  local wanted=()
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || wanted+=(postgresql)
  [ -x /usr/sbin/nginx ] || wanted+=(nginx)
  command -v openssl >/dev/null || wanted+=(openssl)
  python3 -c 'import ensurepip, venv' 2>/dev/null || wanted+=(python3-venv)   # scripts/setup.sh makes .venv with it
  [ "${#wanted[@]}" = 0 ] && return 0
  log "installing Debian's ${wanted[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >&2
}

# --- processes ----------------------------------------------------------------------------------------

pidfile() { echo "$STATE/run/$1.pid"; }

group_alive() {   # a process of group $1 still runs (an exited one waiting to be reaped does not count)
  ps -e -o pgid=,stat= | awk -v group="$1" '$1 == group && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

start_time() {   # when process $1 started (clock ticks since boot), empty if it does not exist
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"   # after "pid (command) "
  echo "$stat" | awk '{ print $20 }'
}

# The process group of a started process (its pid: each one leads its own session), if any member lives.
# The pid file also holds the leader's start time: a stale file whose pid now belongs to another
# program (after a reboot) is not ours to stop. While any member lives, no other process can get that
# number, so a group whose leader has exited is still ours.
running_group() {
  local file pid started now
  file="$(pidfile "$1")"
  [ -f "$file" ] || return 1
  read -r pid started <"$file" || true
  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || return 1   # never "kill -- -1" (every process)
  now="$(start_time "$pid")"
  if [ -n "$now" ] && [ "$now" != "${started:-}" ]; then return 1; fi
  group_alive "$pid" && echo "$pid"
}

spawn() {   # spawn NAME COMMAND...: in a new session (so that a signal reaches its whole tree), logged
  local name="$1"; shift
  mkdir -p "$STATE/run" "$STATE/logs"
  rm -f "$(pidfile "$name")"
  # A background job of a script starts with SIGINT and SIGQUIT ignored, and Dagster's processes map
  # SIGTERM to SIGINT's handler: so restore both before exec, or they would ignore `stop`.
  setsid "$PY" -c '
import os, signal, sys
for number in (signal.SIGINT, signal.SIGQUIT):
    signal.signal(number, signal.SIG_DFL)
with open("/proc/self/stat") as stat:
    started = stat.read().rsplit(") ", 1)[1].split()[19]
with open(sys.argv[1], "w") as pid:
    pid.write(f"{os.getpid()} {started}\n")
os.execvp(sys.argv[2], sys.argv[2:])
' "$(pidfile "$name")" "$@" </dev/null >>"$STATE/logs/$name.log" 2>&1 &
  local deadline=$((SECONDS + 10))
  until [ -s "$(pidfile "$name")" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not start (see $STATE/logs/$name.log)"
    sleep 0.1
  done
}

stop_process() {   # returns 1, keeping the pid file, when the process cannot be signalled (another user's)
  local name="$1" pid deadline
  pid="$(running_group "$name")" || { rm -f "$(pidfile "$name")"; return 0; }
  log "stopping $name (process group $pid)"
  if ! kill -TERM -- "-$pid" 2>/dev/null && group_alive "$pid"; then
    not_ours "$name" "$pid"; return 1
  fi
  deadline=$((SECONDS + ${CTI_STOP_TIMEOUT:-30}))
  while group_alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$name did not stop within ${CTI_STOP_TIMEOUT:-30} s: killing it"
      kill -KILL -- "-$pid" 2>/dev/null || true
      sleep 1
      if group_alive "$pid"; then log "$name (process group $pid) survived SIGKILL: it is stuck in the kernel"; return 1; fi
      break
    fi
    sleep 0.2
  done
  rm -f "$(pidfile "$name")"
}

not_ours() {   # a process started by another user (root, by mistake): say how to stop it; its pid file stays
  log "cannot stop $1 (process group $2, user $(ps -o user= -p "$2" 2>/dev/null || echo '?')): as root, sudo $0 stop $1"
}

port_free() {   # nothing listens on port $1 (bound as the servers bind it: TIME_WAIT connections do not count)
  "$PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()' "$1" 2>/dev/null
}

wait_until() {   # wait_until NAME SECONDS COMMAND...: poll COMMAND until it succeeds, or fail naming NAME's log
  local name="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    running_group "$name" >/dev/null || die "$name exited while starting: $(tail -n 20 "$STATE/logs/$name.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "$name not ready after $seconds s (see $STATE/logs/$name.log)"
    sleep 0.5
  done
}

http_ok() {   # http_ok URL: a 2xx answer (no certificate check: used on loopback only)
  "$PY" - "$1" <<'PY'
import ssl, sys, urllib.request
context = ssl._create_unverified_context()
with urllib.request.urlopen(sys.argv[1], timeout=5, context=context) as response:
    sys.exit(0 if 200 <= response.status < 300 else 1)
PY
}

http_status_is() {   # http_status_is STATUS URL
  "$PY" - "$1" "$2" <<'PY'
import ssl, sys, urllib.error, urllib.request
context = ssl._create_unverified_context()
try:
    status = urllib.request.urlopen(sys.argv[2], timeout=5, context=context).status
except urllib.error.HTTPError as error:
    status = error.code
sys.exit(0 if status == int(sys.argv[1]) else 1)
PY
}

# --- PostgreSQL -------------------------------------------------------------------------------------

start_postgres() {
  # shellcheck source=../scripts/postgres.sh
  CTI_PG_PROFILE=server CTI_PG_DIR="$STATE/postgres" CTI_PG_PORT="$PG_PORT" source "$ROOT/scripts/postgres.sh"
  PG_PORT="$CTI_PG_PORT"
  ensure_databases
}

psql_admin() {
  PGHOST="$CTI_PG_SOCKET_DIR" PGPORT="$PG_PORT" "$CTI_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -U postgres "$@"
}

ensure_databases() {
  # Roles and databases as docker-compose.yaml's postgres service makes them (deploy/postgres-init.sh),
  # created once; the passwords are set from the settings on every start, which is how they are rotated.
  if [ -z "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'dagster'")" ]; then
    log "creating role and database dagster"
    psql_admin -d postgres -c "CREATE ROLE dagster LOGIN"
  fi
  if [ -z "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'dagster'")" ]; then
    psql_admin -d postgres -c "CREATE DATABASE dagster OWNER dagster"
  fi
  if [ -z "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'cti_publish'")" ]; then
    log "creating database cti_bi and roles cti_publish, cti_bi (deploy/postgres-init.sh)"
    PATH="$CTI_PG_BINDIR:$PATH" PGHOST="$CTI_PG_SOCKET_DIR" PGPORT="$PG_PORT" POSTGRES_USER=postgres POSTGRES_DB=postgres \
      sh "$DEPLOY/postgres-init.sh" >/dev/null
  fi
  psql_admin -d postgres -v dagster="$DAGSTER_PG_PASSWORD" -v publish="$CTI_PUBLISH_PASSWORD" -v bi="$CTI_BI_PASSWORD" <<'SQL'
ALTER ROLE dagster PASSWORD :'dagster';
ALTER ROLE cti_publish PASSWORD :'publish';
ALTER ROLE cti_bi PASSWORD :'bi';
SQL
}

# --- the Dagster processes ----------------------------------------------------------------------------

dagster_env() {
  export DAGSTER_HOME="$STATE/dagster_home"
  export DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT="$PG_PORT" DAGSTER_PG_DB=dagster DAGSTER_PG_USER=dagster
  export CTI_CODE_SERVER_HOST=127.0.0.1 CTI_CODE_SERVER_LISTEN=127.0.0.1 CTI_CODE_SERVER_PORT="$CODE_PORT"
  export CTI_WEBSERVER_LISTEN=127.0.0.1 CTI_WEBSERVER_PORT="$WEB_PORT"
  local password
  password="$(printf '%s' "$CTI_PUBLISH_PASSWORD" | "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')"
  export CTI_PUBLISH_URL="postgresql+psycopg://cti_publish:$password@127.0.0.1:$PG_PORT/cti_bi"
  export PATH="$ROOT/.venv/bin:$PATH"
}

prepare_instance() {
  mkdir -p "$DAGSTER_HOME" "$CTI_DATA_DIR/landing"
  cp "$DEPLOY/dagster.postgres.yaml" "$DAGSTER_HOME/dagster.yaml"   # the instance follows the checkout
  # Creates the instance's tables the first time, migrates them after an upgrade; nothing otherwise.
  (cd "$DAGSTER_HOME" && dagster instance migrate >>"$STATE/logs/migrate.log" 2>&1) \
    || die "dagster instance migrate failed: $(tail -n 20 "$STATE/logs/migrate.log")"
}

start_dagster_process() {
  local name="$1"
  if running_group "$name" >/dev/null; then log "$name already running"; return 0; fi
  case "$name" in
    code) port_free "$CODE_PORT" || die "port $CODE_PORT (CTI_CODE_SERVER_PORT) is taken by another program" ;;
    webserver) port_free "$WEB_PORT" || die "port $WEB_PORT (CTI_WEBSERVER_PORT) is taken by another program" ;;
  esac
  # Only the processes' own settings: the other roles' passwords stay out of their environment.
  spawn "$name" env -u CTI_PUBLISH_PASSWORD -u CTI_BI_PASSWORD "$DEPLOY/dagster-process.sh" "$name"
  case "$name" in
    code)
      wait_until code "${CTI_START_TIMEOUT:-180}" dagster api grpc-health-check -h 127.0.0.1 -p "$CODE_PORT" ;;
    webserver)
      wait_until webserver "${CTI_START_TIMEOUT:-180}" http_ok "http://127.0.0.1:$WEB_PORT/server_info" ;;
  esac
  log "$name started (process group $(running_group "$name"))"
}

# --- the proxy --------------------------------------------------------------------------------------

make_cert() {
  if [ -n "${CTI_TLS_CERT:-}" ] || [ -n "${CTI_TLS_KEY:-}" ]; then
    [ -r "$TLS_CERT" ] && [ -r "$TLS_KEY" ] || die "CTI_TLS_CERT/CTI_TLS_KEY: cannot read $TLS_CERT and $TLS_KEY"
    return 0
  fi
  [ -s "$TLS_CERT" ] && [ -s "$TLS_KEY" ] && return 0
  local name="${CTI_SERVER_NAME:-$(hostname -f 2>/dev/null || hostname)}"
  mkdir -p "$(dirname "$TLS_CERT")" "$STATE/logs"
  log "generating a self-signed certificate for $name, localhost and 127.0.0.1 (replace it: docs/deploy.md, TLS)"
  (umask 077 && openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 825 -subj "/CN=$name" \
    -addext "subjectAltName=$(san_entry "$name"),DNS:localhost,IP:127.0.0.1" \
    -keyout "$TLS_KEY" -out "$TLS_CERT" 2>"$STATE/logs/openssl.log") || die "openssl failed: $(cat "$STATE/logs/openssl.log")"
  chmod 644 "$TLS_CERT"
}

san_entry() {   # a name users type as it goes in a certificate: IP:192.0.2.10 for an address (IPv4 or IPv6), else DNS:name
  local name="${1#[}"; name="${name%]}"
  if [[ "$name" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || [[ "$name" =~ ^[0-9A-Fa-f:.]+$ && "$name" == *:* ]]; then
    echo "IP:$name"
  else
    echo "DNS:$name"
  fi
}

nginx_workers_user() {   # nginx's master starts as root only when we are root; its workers then drop to www-data
  [ "$(id -u)" = 0 ] && echo www-data || true
}

user_cmd() {
  local action="${1:-}" name="${2:-}"
  mkdir -p "$PROXY_DIR"
  case "$action" in
    list)
      [ -f "$HTPASSWD" ] && cut -d: -f1 "$HTPASSWD" || true ;;
    add)
      [[ "$name" =~ ^[A-Za-z0-9._@-]+$ ]] || die "user add NAME: letters, digits and . _ @ - only"
      command -v openssl >/dev/null || install_packages
      local password again
      if [ -t 0 ]; then
        read -r -s -p "Password for $name: " password; echo >&2
        read -r -s -p "Again: " again; echo >&2
        [ "$password" = "$again" ] || die "the passwords differ"
      else
        IFS= read -r password || true
      fi
      [ "${#password}" -ge 12 ] || die "use a password of 12 characters or more"
      local hash tmp
      hash="$(printf '%s\n' "$password" | openssl passwd -6 -stdin)"   # SHA-512 crypt, which nginx checks
      tmp="$(mktemp "$PROXY_DIR/.htpasswd.XXXXXX")"
      { [ -f "$HTPASSWD" ] && grep -v "^$name:" "$HTPASSWD" || true; echo "$name:$hash"; } >"$tmp"
      protect_htpasswd "$tmp"
      mv "$tmp" "$HTPASSWD"
      log "user $name saved in $HTPASSWD (nginx reads it on every request: no restart needed)" ;;
    del)
      [ -f "$HTPASSWD" ] && grep -q "^$name:" "$HTPASSWD" || die "no user $name"
      local tmp
      tmp="$(mktemp "$PROXY_DIR/.htpasswd.XXXXXX")"
      grep -v "^$name:" "$HTPASSWD" >"$tmp" || true
      protect_htpasswd "$tmp"
      mv "$tmp" "$HTPASSWD"
      log "user $name removed" ;;
    *) die "usage: $0 user add NAME | user del NAME | user list" ;;
  esac
}

protect_htpasswd() {   # readable by nginx's workers, by nobody else
  local workers
  workers="$(nginx_workers_user)"
  if [ -n "$workers" ] && getent group "$workers" >/dev/null; then
    chgrp "$workers" "$1"
    chmod 640 "$1"
  else
    chmod 600 "$1"
  fi
}

render_proxy_conf() {
  local template content name value workers unsafe='[[:space:];{}"'"'"']'
  template="$(cat "$DEPLOY/proxy.conf.template")"
  content="$template"
  local -A values=(
    [CTI_PROXY_PORT]="$PROXY_PORT" [CTI_WEBSERVER_UPSTREAM]="127.0.0.1:$WEB_PORT"
    [CTI_TLS_CERT]="$TLS_CERT" [CTI_TLS_KEY]="$TLS_KEY" [CTI_HTPASSWD]="$HTPASSWD"
  )
  for name in "${!values[@]}"; do
    value="${values[$name]}"
    [[ "$value" =~ $unsafe ]] && die "$name=$value: nginx paths and values here cannot hold spaces, quotes or ; { }"
    content="${content//"\${$name}"/"$value"}"
  done
  if grep -v '^[[:space:]]*#' <<<"$content" | grep -q '\${'; then
    die "deploy/proxy.conf.template uses a variable server.sh does not fill in"
  fi
  mkdir -p "$PROXY_DIR/tmp"
  printf '%s\n' "$content" >"$PROXY_DIR/cti_pipeline.conf"
  workers="$(nginx_workers_user)"
  {
    echo "# Generated by deploy/server.sh at every start; edit deploy/proxy.conf.template instead."
    [ -n "$workers" ] && echo "user $workers;"
    echo "worker_processes 1;"
    echo "pid $PROXY_DIR/nginx.pid;"
    echo "error_log $STATE/logs/proxy.error.log warn;"
    echo "events { worker_connections 512; }"
    echo "http {"
    echo "    access_log $STATE/logs/proxy.access.log;"
    for name in client_body proxy fastcgi uwsgi scgi; do echo "    ${name}_temp_path $PROXY_DIR/tmp/$name;"; done
    echo "    include $PROXY_DIR/cti_pipeline.conf;"
    echo "}"
  } >"$PROXY_DIR/nginx.conf"
  if [ -n "$workers" ]; then
    chown -R "$workers" "$PROXY_DIR/tmp"
    runuser -u "$workers" -- test -r "$HTPASSWD" \
      || die "nginx's workers ($workers) cannot read $HTPASSWD: let them through its parent folders (chmod o+x) or choose another CTI_DEPLOY_DIR"
  fi
}

start_proxy() {
  if running_group proxy >/dev/null; then log "proxy already running"; return 0; fi
  [ -s "$HTPASSWD" ] || die "no login yet: create one with  deploy/server.sh user add NAME"
  make_cert
  render_proxy_conf
  port_free "$PROXY_PORT" || die "port $PROXY_PORT (CTI_PROXY_PORT) is taken by another program"
  /usr/sbin/nginx -t -q -e "$STATE/logs/proxy.error.log" -c "$PROXY_DIR/nginx.conf" -p "$PROXY_DIR" \
    || die "the generated nginx configuration is invalid: $(tail -n 5 "$STATE/logs/proxy.error.log")"
  spawn proxy /usr/sbin/nginx -e "$STATE/logs/proxy.error.log" -c "$PROXY_DIR/nginx.conf" -p "$PROXY_DIR" -g "daemon off;"
  wait_until proxy 30 http_status_is 401 "https://127.0.0.1:$PROXY_PORT/server_info"
  log "proxy started (process group $(running_group proxy))"
}

# --- commands ---------------------------------------------------------------------------------------

start_one() {
  case "$1" in
    code|webserver|daemon) start_dagster_process "$1" ;;
    proxy) start_proxy ;;
    *) die "unknown process $1 (code, webserver, daemon, proxy)" ;;
  esac
}

cmd_start() {
  require_secrets
  [ -x "$PY" ] && [ -x "$ROOT/.venv/bin/dagster" ] || die "no .venv: run  bash scripts/setup.sh  first"
  install_packages
  [ -s "$HTPASSWD" ] || die "no login yet: create one with  deploy/server.sh user add NAME"
  mkdir -p "$STATE/logs" "$STATE/run"
  start_postgres
  dagster_env
  prepare_instance
  local name
  for name in "${PROCESSES[@]}"; do start_one "$name"; done
  log "up: https://${CTI_SERVER_NAME:-$(hostname -f 2>/dev/null || hostname)}:$PROXY_PORT/ (logs in $STATE/logs)"
}

cmd_stop() {
  if [ -n "${1:-}" ]; then   # one process (e.g. the daemon, before an upgrade or a backup)
    [[ " ${PROCESSES[*]} " == *" $1 "* ]] || die "usage: $0 stop [code|webserver|daemon|proxy]"
    stop_process "$1" || exit 1
    return 0
  fi
  local i failed=()
  for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do stop_process "${PROCESSES[$i]}" || failed+=("${PROCESSES[$i]}"); done
  if [ -f "$STATE/postgres/data/postmaster.pid" ]; then
    CTI_PG_PROFILE=server CTI_PG_DIR="$STATE/postgres" bash "$ROOT/scripts/postgres.sh" stop
  fi
  [ "${#failed[@]}" -eq 0 ] || die "still running: ${failed[*]} (see above)"
}

cmd_restart() {
  local name="${1:-}"
  [[ " ${PROCESSES[*]} " == *" $name "* ]] || die "usage: $0 restart code|webserver|daemon|proxy"
  require_secrets
  PG_PORT="$(cat "$STATE/postgres/port" 2>/dev/null || echo "$PG_PORT")"
  dagster_env
  stop_process "$name"
  start_one "$name"
}

cmd_status() {   # exit status 3 when something is not running
  local name pid status=0
  local -A where=(
    [code]="127.0.0.1:$CODE_PORT" [webserver]="127.0.0.1:$WEB_PORT" [daemon]="no port"
    [proxy]="https://${CTI_SERVER_NAME:-$(hostname -f 2>/dev/null || hostname)}:$PROXY_PORT/"
  )
  for name in "${PROCESSES[@]}"; do
    if pid="$(running_group "$name")"; then
      echo "$name: running, ${where[$name]} (process group $pid)"
    else
      echo "$name: stopped, ${where[$name]}"; status=3
    fi
  done
  if [ -f "$STATE/postgres/data/postmaster.pid" ]; then
    echo "postgres: running, 127.0.0.1:$(cat "$STATE/postgres/port") ($STATE/postgres)"
  else
    echo "postgres: stopped, 127.0.0.1:$PG_PORT ($STATE/postgres)"; status=3
  fi
  return "$status"
}

# One user runs the deployment: the owner of its state folder (or, before that exists, of the checkout).
# Run by another (root by mistake), the UI and its runs would run as that user and write files the
# owner cannot touch, and its processes could not be stopped by the owner.
check_owner() {
  local owner_of="$STATE" owner uid
  [ -e "$STATE" ] || owner_of="$ROOT"
  owner="$(stat -L -c %U "$owner_of")"; uid="$(stat -L -c %u "$owner_of")"
  [ "$uid" = "$(id -u)" ] && return 0
  [ "$uid" != 0 ] || die "$owner_of belongs to root: give it to the service user (sudo chown -R $(id -un): $owner_of), then run this as $(id -un)"
  die "$owner_of belongs to $owner: run this as $owner (sudo -u $owner deploy/server.sh ...), not as $(id -un)"
}

main() {
  local command="${1:-}"
  [ "$#" -gt 0 ] && shift
  load_settings
  case "$command" in
    start|restart|user|cert) check_owner ;;
    stop) [ "$(id -u)" = 0 ] && [ -n "${1:-}" ] || check_owner ;;   # root may stop one process another user cannot
  esac
  case "$command" in
    install) install_packages ;;
    start) cmd_start ;;
    stop) cmd_stop "$@" ;;
    restart) cmd_restart "$@" ;;
    status) cmd_status ;;
    user) user_cmd "$@" ;;
    cert) make_cert; log "certificate: $TLS_CERT" ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
}

main "$@"
