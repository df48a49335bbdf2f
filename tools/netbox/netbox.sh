#!/usr/bin/env bash
# A throwaway NetBox (PyPI package `netbox`) on loopback for integration tests.
#
#   tools/netbox/netbox.sh up       install what is missing, start PostgreSQL, Redis and NetBox, write the env file
#   tools/netbox/netbox.sh down     stop what `up` started (and nothing else)
#   tools/netbox/netbox.sh status   say what is running; exit 0 only when all three are up
#   tools/netbox/netbox.sh env      print the `export URL=... TOKEN=...` lines
#   tools/netbox/netbox.sh manage ARGS...   run NetBox's manage.py (`netbox ARGS...`) against this instance
#
# See docs/netbox-dev.md for what it installs, where it keeps things and the environment variables.
set -euo pipefail

NETBOX_VERSION=4.7.3

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NETBOX_PORT=${NETBOX_PORT:-8765}
NETBOX_PG_PORT=${NETBOX_PG_PORT:-$((NETBOX_PORT + 1))}
NETBOX_REDIS_PORT=${NETBOX_REDIS_PORT:-$((NETBOX_PORT + 2))}
NETBOX_STATE_DIR=${NETBOX_STATE_DIR:-$REPO_ROOT/.netbox}
NETBOX_CACHE_DIR=${NETBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rackplan-netbox/$NETBOX_VERSION}
NETBOX_ENV_FILE=${NETBOX_ENV_FILE:-$NETBOX_STATE_DIR/env}
NETBOX_KEEP_DATA=${NETBOX_KEEP_DATA:-0}
NETBOX_ADMIN_USER=${NETBOX_ADMIN_USER:-admin}

STATE=$NETBOX_STATE_DIR
CACHE=$NETBOX_CACHE_DIR
VENV=$CACHE/venv
NETBOX_BIN=$VENV/bin/netbox
SECRETS=$CACHE/secrets.env
NB_ROOT=$STATE/root                      # NETBOX_ROOT: conf/configuration.py, media/, ...
LOGS=$STATE/logs
PG_SOCKET_DIR=/run/postgresql
URL=http://127.0.0.1:$NETBOX_PORT
FRESH_INIT=0                             # set when `up` ran initdb: the migrated result is then cached
FROM_GOLDEN=0                            # set when the data dir is the cached migrated copy: no migrate needed

log() { printf '[netbox] %s\n' "$*" >&2; }
die() { printf '[netbox] error: %s\n' "$*" >&2; exit 1; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

STEP_T0=
step() { STEP_NAME=$1; STEP_T0=$(now); log "$STEP_NAME ..."; }
done_step() { log "$(printf '%-22s %6s s' "$STEP_NAME" "$(since "$STEP_T0")")"; }

# ---------------------------------------------------------------- helpers

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

find_python() {
    local c
    if [ -n "${NETBOX_PYTHON:-}" ]; then echo "$NETBOX_PYTHON"; return; fi
    # Prefer 3.12 (the oldest Python NetBox 4.7 supports, and the one the project tested), then newer ones.
    for c in $(ls -d "$HOME"/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r) \
             $(command -v python3.12 2>/dev/null || true) \
             $(ls -d "$HOME"/.pyenv/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -V) \
             $(command -v python3.13 python3 2>/dev/null || true); do
        if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo "$c"; return; fi
    done
    return 1
}

as_postgres() { runuser -u postgres -- "$@"; }

# The live PostgreSQL data dir must be reachable by the postgres user: inside the state dir when it is,
# otherwise under /var/lib/postgresql (keyed by the state dir's path). Recorded for `down`.
pgdata_dir() {
    if [ -f "$STATE/pgdata.path" ]; then cat "$STATE/pgdata.path"; return; fi
    local d
    if as_postgres test -x "$STATE" 2>/dev/null; then
        d=$STATE/pgdata
    else
        d=/var/lib/postgresql/rackplan-netbox/$(printf '%s' "$STATE" | sha1sum | cut -c1-12)
    fi
    echo "$d" > "$STATE/pgdata.path"
    echo "$d"
}

# A zombie (exited, not yet reaped by whoever adopted it) counts as gone.
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]; }
read_pid() { [ -f "$1" ] && head -n 1 "$1" || true; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

runserver_pid() {
    local pid
    pid=$(read_pid "$STATE/runserver.pid")
    if pid_alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "runserver 127.0.0.1:"; then
        echo "$pid"
    fi
}
redis_pid() {
    local pid
    pid=$(read_pid "$STATE/redis.pid")
    if pid_alive "$pid" && grep -q redis "/proc/$pid/comm" 2>/dev/null; then echo "$pid"; fi
}
pg_running() {
    local bindir pgdata
    bindir=$(pg_bindir) || return 1
    [ -f "$STATE/pgdata.path" ] || return 1
    pgdata=$(cat "$STATE/pgdata.path")
    [ -d "$pgdata" ] && as_postgres "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1
}

api_ok() {  # api_ok TOKEN -> 0 when /api/status/ answers 200 with that token
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        -H "Authorization: Bearer $1" -H 'Accept: application/json' "$URL/api/status/" || true)
    [ "$code" = 200 ]
}

nb() { NETBOX_ROOT=$NB_ROOT "$NETBOX_BIN" "$@"; }

# ---------------------------------------------------------------- up steps

ensure_packages() {
    local need=()
    pg_bindir >/dev/null || need+=(postgresql)
    command -v psql >/dev/null || need+=(postgresql-client)
    command -v redis-server >/dev/null || need+=(redis-server)
    command -v redis-cli >/dev/null || need+=(redis-tools)
    [ -f /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)   # psycopg[c] builds against it
    command -v gcc >/dev/null || need+=(gcc)
    command -v curl >/dev/null || need+=(curl)
    [ ${#need[@]} -eq 0 ] && { log "apt packages already present"; return; }
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${need[*]}"
    log "apt-get install ${need[*]}"
    # Keep the packages' init scripts from starting system-wide services.
    local policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy_added=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

ensure_venv() {
    if [ -f "$VENV/.installed-$NETBOX_VERSION" ]; then log "venv cached: $VENV"; return; fi
    local py
    py=$(find_python) || die "no Python >= 3.12 found (set NETBOX_PYTHON)"
    log "creating $VENV with $py"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$py" -m venv "$VENV"
    mkdir -p "$LOGS"
    { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
      "$VENV/bin/python" -m pip install --disable-pip-version-check "netbox==$NETBOX_VERSION"; } \
        > "$LOGS/pip.log" 2>&1 || { grep -v '^WARNING: Location' "$LOGS/pip.log" | tail -n 30 >&2; die "pip install failed"; }
    touch "$VENV/.installed-$NETBOX_VERSION"
}

ensure_secrets() {
    if [ ! -f "$SECRETS" ]; then
        mkdir -p "$CACHE"
        ( umask 077; "$VENV/bin/python" - > "$SECRETS.tmp" <<'EOF'
import secrets, string
alnum = string.ascii_letters + string.digits
rand = lambda n: ''.join(secrets.choice(alnum) for _ in range(n))
print(f"SECRET_KEY={rand(60)}")
print(f"PEPPER={rand(60)}")
print(f"DB_PASSWORD={rand(32)}")
print(f"ADMIN_PASSWORD={rand(24)}")
print(f"TOKEN_KEY={rand(12)}")
print(f"TOKEN_SECRET={rand(40)}")
EOF
        ) && mv "$SECRETS.tmp" "$SECRETS"
    fi
    # shellcheck disable=SC1090
    . "$SECRETS"
    TOKEN="nbt_${TOKEN_KEY}.${TOKEN_SECRET}"
}

write_config() {
    mkdir -p "$NB_ROOT/conf" "$NB_ROOT/media" "$LOGS"
    ( umask 077; cat > "$NB_ROOT/conf/configuration.py" <<EOF
# Written by tools/netbox/netbox.sh; rewritten on every \`up\`.
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': 'netbox',
        'USER': 'netbox',
        'PASSWORD': '$DB_PASSWORD',
        'HOST': '127.0.0.1',
        'PORT': '$NETBOX_PG_PORT',
        'CONN_MAX_AGE': 300,
    }
}
REDIS = {
    'tasks': {'HOST': '127.0.0.1', 'PORT': $NETBOX_REDIS_PORT, 'USERNAME': '', 'PASSWORD': '', 'DATABASE': 0, 'SSL': False},
    'caching': {'HOST': '127.0.0.1', 'PORT': $NETBOX_REDIS_PORT, 'USERNAME': '', 'PASSWORD': '', 'DATABASE': 1, 'SSL': False},
}
SECRET_KEY = '$SECRET_KEY'
API_TOKEN_PEPPERS = {1: '$PEPPER'}
TIME_ZONE = 'UTC'
CENSUS_REPORTING_ENABLED = False
ISOLATED_DEPLOYMENT = True
MEDIA_ROOT = '$NB_ROOT/media'
EOF
    )
}

start_redis() {
    if [ -n "$(redis_pid)" ]; then log "redis already running"; return; fi
    port_busy "$NETBOX_REDIS_PORT" && die "port $NETBOX_REDIS_PORT (Redis) is taken by something else"
    mkdir -p "$STATE/redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$NETBOX_REDIS_PORT" --protected-mode yes \
        --dir "$STATE/redis" --pidfile "$STATE/redis.pid" --logfile "$LOGS/redis.log" \
        --save '' --appendonly no >/dev/null 9>&-
    local i
    for i in $(seq 50); do
        redis-cli -h 127.0.0.1 -p "$NETBOX_REDIS_PORT" ping 2>/dev/null | grep -q PONG && return
        sleep 0.1
    done
    die "redis did not start; see $LOGS/redis.log"
}

# Deleting a data dir takes seconds on this disk: move it aside and delete it in the background.
discard_dir() {
    [ -e "$1" ] || return 0
    local trash
    trash="$1.old.$$.$RANDOM"
    mv "$1" "$trash"
    nohup rm -rf "$trash" >/dev/null 2>&1 < /dev/null 9>&- &
}

golden_dir() { echo "$CACHE/pgdata-golden-pg$(basename "$(dirname "$(pg_bindir)")")"; }

pg_start() {
    local bindir=$1 pgdata=$2
    as_postgres "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 120 \
        -o "-c port=$NETBOX_PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_SOCKET_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 9>&- || { tail -n 20 "$pgdata/server.log" >&2 || true; die "postgres did not start"; }
}
pg_stop() { as_postgres "$1/pg_ctl" -D "$2" -m fast -w -t 60 stop >/dev/null; }
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$NETBOX_PG_PORT" -d postgres "$@"; }

start_postgres() {
    local bindir pgdata golden
    bindir=$(pg_bindir) || die "PostgreSQL server binaries not found"
    pgdata=$(pgdata_dir)
    golden=$(golden_dir)
    if pg_running; then log "postgres already running"; return; fi
    port_busy "$NETBOX_PG_PORT" && die "port $NETBOX_PG_PORT (PostgreSQL) is taken by something else"
    install -d -o postgres -g postgres -m 2775 "$PG_SOCKET_DIR"
    if [ "$NETBOX_KEEP_DATA" = 1 ] && [ -f "$pgdata/PG_VERSION" ]; then
        log "keeping existing data dir $pgdata (NETBOX_KEEP_DATA=1)"
    elif [ -f "$golden/PG_VERSION" ]; then
        discard_dir "$pgdata"
        mkdir -p "$(dirname "$pgdata")"
        cp -a "$golden" "$pgdata"
        FROM_GOLDEN=1
        log "data dir restored from cached migrated copy"
    else
        discard_dir "$pgdata"
        install -d -o postgres -g postgres -m 700 "$pgdata"
        as_postgres "$bindir/initdb" -D "$pgdata" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >/dev/null
        FRESH_INIT=1
    fi
    pg_start "$bindir" "$pgdata"
    # Role and database (idempotent; the password follows the cached secrets).
    psql_admin <<EOF
SELECT 'CREATE ROLE netbox LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'netbox')\gexec
ALTER ROLE netbox WITH LOGIN PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE netbox OWNER netbox' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'netbox')\gexec
EOF
}

ensure_admin_and_token() {
    NB_ADMIN_USER=$NETBOX_ADMIN_USER NB_ADMIN_PASSWORD=$ADMIN_PASSWORD NB_TOKEN_KEY=$TOKEN_KEY \
    NB_TOKEN_SECRET=$TOKEN_SECRET nb shell --no-imports -c '
import os
from users.models import Token, User
name, key, secret = os.environ["NB_ADMIN_USER"], os.environ["NB_TOKEN_KEY"], os.environ["NB_TOKEN_SECRET"]
user = User.objects.filter(username=name).first()
if user is None:
    user = User.objects.create_superuser(name, email="", password=os.environ["NB_ADMIN_PASSWORD"])
    print("created superuser", name)
elif not (user.is_superuser and user.is_active):
    user.is_superuser = user.is_active = True
    user.save()
token = Token.objects.filter(key=key).first()
if token is not None and not (token.user_id == user.pk and token.is_active and token.write_enabled
                              and token.allowed_ips in (None, []) and token.validate(secret)):
    token.delete()
    token = None
if token is None:
    token = Token(user=user, key=key, token=secret, description="rackplan integration tests")
    token.full_clean()
    token.save()
    print("created v2 token", key)
'
}

save_golden() {
    local bindir pgdata golden
    bindir=$(pg_bindir); pgdata=$(pgdata_dir)
    golden=$(golden_dir)
    pg_stop "$bindir" "$pgdata"
    rm -rf "$golden.tmp"
    cp -a "$pgdata" "$golden.tmp"
    rm -f "$golden.tmp/server.log" "$golden.tmp/postmaster.pid" "$golden.tmp/postmaster.opts"
    rm -rf "$golden"
    mv "$golden.tmp" "$golden"
    pg_start "$bindir" "$pgdata"
}

start_runserver() {
    if [ -n "$(runserver_pid)" ]; then log "runserver already running"; return; fi
    port_busy "$NETBOX_PORT" && die "port $NETBOX_PORT (NetBox) is taken by something else"
    NETBOX_ROOT=$NB_ROOT setsid nohup "$NETBOX_BIN" runserver "127.0.0.1:$NETBOX_PORT" --noreload \
        > "$LOGS/runserver.log" 2>&1 < /dev/null 9>&- &
    echo $! > "$STATE/runserver.pid"
    local i pid
    pid=$!
    for i in $(seq 600); do
        api_ok "$TOKEN" && return
        pid_alive "$pid" || { tail -n 30 "$LOGS/runserver.log" >&2; die "runserver exited"; }
        sleep 0.2
    done
    die "NetBox did not answer /api/status/ within 120 s; see $LOGS/runserver.log"
}

write_env() {
    ( umask 077; mkdir -p "$(dirname "$NETBOX_ENV_FILE")"
      printf 'export URL=%q\nexport TOKEN=%q\n' "$URL" "$TOKEN" > "$NETBOX_ENV_FILE" )
}

# ---------------------------------------------------------------- commands

cmd_up() {
    local t_all
    t_all=$(now)
    mkdir -p "$STATE" "$LOGS"
    if [ -n "$(runserver_pid)" ] && [ -n "$(redis_pid)" ] && pg_running && [ -f "$NETBOX_ENV_FILE" ] &&
       ( . "$NETBOX_ENV_FILE"; api_ok "$TOKEN" ); then
        log "already up"
        cat "$NETBOX_ENV_FILE"
        return
    fi
    step "apt packages";     ensure_packages;  done_step
    step "netbox venv";      ensure_venv;      done_step
    ensure_secrets
    step "config";           write_config;     done_step
    step "redis";            start_redis;      done_step
    step "postgres";         start_postgres;   done_step
    step "migrate"
    if [ "$FROM_GOLDEN" = 1 ]; then
        log "skipped: the data dir is the cached copy migrated by netbox $NETBOX_VERSION"
    else
        nb migrate --no-input >"$LOGS/migrate.log" 2>&1 || { tail -n 30 "$LOGS/migrate.log" >&2; die "migrate failed"; }
    fi
    done_step
    step "superuser+token";  ensure_admin_and_token; done_step
    if [ "$FRESH_INIT" = 1 ]; then
        step "cache migrated db"; save_golden; done_step
    fi
    step "runserver";        start_runserver;  done_step
    write_env
    log "$(printf '%-22s %6s s' "total" "$(since "$t_all")")"
    log "NetBox $("$NETBOX_BIN" version) at $URL; env file: $NETBOX_ENV_FILE"
    cat "$NETBOX_ENV_FILE"
}

cmd_down() {
    local t0 pid bindir pgdata
    t0=$(now)
    pid=$(runserver_pid)
    if [ -n "$pid" ]; then
        kill "$pid"
        for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
        pid_alive "$pid" && kill -9 "$pid"
        log "runserver stopped"
    fi
    rm -f "$STATE/runserver.pid"
    pid=$(redis_pid)
    if [ -n "$pid" ]; then
        kill "$pid"
        for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
        log "redis stopped"
    fi
    if pg_running; then
        bindir=$(pg_bindir); pgdata=$(cat "$STATE/pgdata.path")
        pg_stop "$bindir" "$pgdata"
        log "postgres stopped"
    fi
    rm -f "$NETBOX_ENV_FILE"
    log "down took $(since "$t0") s"
}

cmd_status() {
    local ok=0 pid
    pid=$(runserver_pid); if [ -n "$pid" ]; then echo "runserver: running (pid $pid) $URL"; else echo "runserver: stopped"; ok=1; fi
    pid=$(redis_pid);     if [ -n "$pid" ]; then echo "redis:     running (pid $pid) 127.0.0.1:$NETBOX_REDIS_PORT"; else echo "redis:     stopped"; ok=1; fi
    if pg_running; then echo "postgres:  running 127.0.0.1:$NETBOX_PG_PORT ($(cat "$STATE/pgdata.path"))"; else echo "postgres:  stopped"; ok=1; fi
    if [ -f "$NETBOX_ENV_FILE" ]; then
        # shellcheck disable=SC1090
        ( . "$NETBOX_ENV_FILE"; if api_ok "$TOKEN"; then echo "api:       /api/status/ OK"; else echo "api:       not answering"; exit 1; fi ) || ok=1
    fi
    return $ok
}

cmd_env() {
    [ -f "$NETBOX_ENV_FILE" ] || die "no env file at $NETBOX_ENV_FILE (run: $0 up)"
    cat "$NETBOX_ENV_FILE"
}

main() {
    local cmd=${1:-}
    case "$cmd" in
        up|down|status)
            mkdir -p "$STATE"
            exec 9>"$STATE/.lock"   # daemons started below get 9>&- so they do not keep the lock
            flock -w 900 9 || die "another netbox.sh holds $STATE/.lock"
            "cmd_$cmd" ;;
        env) cmd_env ;;
        manage)
            shift
            [ -x "$NETBOX_BIN" ] && [ -f "$NB_ROOT/conf/configuration.py" ] || die "NetBox is not installed here (run: $0 up)"
            nb "$@" ;;
        *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; [ -n "$cmd" ] && exit 2; exit 0 ;;
    esac
}

main "$@"
