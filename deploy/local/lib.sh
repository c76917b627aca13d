# Shared by deploy/local/up, down and test: packages, and project-local RabbitMQ and PostgreSQL
# instances that run on loopback from a directory of their own.
set -euo pipefail

PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=/usr/lib/postgresql/15/bin
PACKAGES=(rabbitmq-server librabbitmq-dev libcurl4-openssl-dev postgresql libpq-dev libjpeg62-turbo-dev libpng-dev libdeflate-dev libwebp-dev libgif-dev libtiff-dev libavif-dev libssl-dev openssl
          pkg-config curl python3)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    # Debian starts services on install; these are started per project instead.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null; as_root chmod +x "$policy"; created_policy=1; fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created_policy" = 1 ] && as_root rm -f "$policy"
    return 0
}

require_swift() {
    command -v swift >/dev/null || die "swift is not on PATH (expected the Swift 6 toolchain at /opt/swift/usr/bin)"
}

# running PID: alive and not a zombie waiting for its parent to reap it.
running() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # host port seconds
    local deadline=$((SECONDS + $3))
    until (echo >"/dev/tcp/$1/$2") 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

# start_postgres DIR PORT: a cluster in DIR/data listening on 127.0.0.1:PORT (LISTEN_ADDRESS to
# change it; PG_TRUST_NETWORK=CIDR lets that network in too; PG_OPTIONS adds server options), with
# role and database "halfsize".
# initdb and pg_ctl refuse root, so they run as the postgres user.
start_postgres() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        log "creating a PostgreSQL cluster in $dir/data"
        su postgres -s /bin/sh -c "$PG_BIN/initdb -D '$dir/data' -U postgres --auth=trust -E UTF8 >'$dir/initdb.log' 2>&1" \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if [ -n "${PG_TRUST_NETWORK:-}" ] && ! grep -q "^host all all $PG_TRUST_NETWORK trust" "$dir/data/pg_hba.conf"; then
        echo "host all all $PG_TRUST_NETWORK trust" >>"$dir/data/pg_hba.conf"
    fi
    if su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$dir/data' status" >/dev/null 2>&1; then
        log "PostgreSQL already running in $dir"
    else
        log "starting PostgreSQL on 127.0.0.1:$port"
        su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$dir/data' -l '$dir/postgres.log' -w -t 60 \
            -o \"-p $port -k '$dir' -c listen_addresses=${LISTEN_ADDRESS:-127.0.0.1} -c fsync=${PG_FSYNC:-on} ${PG_OPTIONS:-}\" start" >/dev/null \
            || { tail -20 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
    fi
    local psql="$PG_BIN/psql -h 127.0.0.1 -p $port -U postgres -v ON_ERROR_STOP=1 -qAt"
    su postgres -s /bin/sh -c "$psql -c \"SELECT 1 FROM pg_roles WHERE rolname = 'halfsize'\"" | grep -q 1 \
        || su postgres -s /bin/sh -c "$psql -c 'CREATE ROLE halfsize LOGIN'"
    su postgres -s /bin/sh -c "$psql -c \"SELECT 1 FROM pg_database WHERE datname = 'halfsize'\"" | grep -q 1 \
        || su postgres -s /bin/sh -c "$psql -c 'CREATE DATABASE halfsize OWNER halfsize'"
}

stop_postgres() {
    local dir=$1
    [ -f "$dir/data/PG_VERSION" ] || return 0
    su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$dir/data' -m fast -w -t 30 stop" >/dev/null 2>&1 \
        || su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$dir/data' -m immediate -w -t 30 stop" >/dev/null 2>&1 || true
}

# start_rabbitmq DIR NODE AMQP_PORT DIST_PORT: a broker whose state and logs live in DIR, listening
# on 127.0.0.1 (LISTEN_ADDRESS to change it).
# rabbitmq-server started as root drops to the rabbitmq user, so DIR belongs to that user.
rabbitmq_env() {
    local dir=$1 node=$2 port=$3 dist=$4
    echo "RABBITMQ_NODENAME=$node@localhost RABBITMQ_NODE_IP_ADDRESS=${LISTEN_ADDRESS:-127.0.0.1} RABBITMQ_NODE_PORT=$port" \
         "RABBITMQ_DIST_PORT=$dist RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log" \
         "RABBITMQ_PID_FILE=$dir/rabbitmq.pid RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins" \
         "RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config"
}

# With MANAGEMENT_PORT, the management plugin (HTTP API for the queue view) listens on it, on loopback.
start_rabbitmq() {
    local dir=$1 node=$2 port=$3 dist=$4 management=${5:-}
    mkdir -p "$dir/mnesia" "$dir/log"
    printf "log.console = false\n" >"$dir/rabbitmq.conf"
    if [ -n "$management" ]; then
        echo '[rabbitmq_management].' >"$dir/enabled_plugins"
        printf "management.tcp.port = %s\nmanagement.tcp.ip = 127.0.0.1\n" "$management" >>"$dir/rabbitmq.conf"
        # Queue depths, consumers and rates refreshed every second (default 5 s) for the queue view.
        printf "collect_statistics_interval = 1000\n" >>"$dir/rabbitmq.conf"
    else
        echo '[].' >"$dir/enabled_plugins"
    fi
    echo '[].' >"$dir/advanced.config"
    chown -R rabbitmq:rabbitmq "$dir"
    local environment
    environment=$(rabbitmq_env "$dir" "$node" "$port" "$dist")
    if [ -f "$dir/rabbitmq.pid" ] && running "$(cat "$dir/rabbitmq.pid")" \
        && env $environment timeout 20 rabbitmqctl -n "$node@localhost" -q status >/dev/null 2>&1; then
        log "RabbitMQ $node already running"
        return 0
    fi
    log "starting RabbitMQ $node on 127.0.0.1:$port"
    env $environment rabbitmq-server -detached >/dev/null 2>&1 || true
    env $environment timeout 90 rabbitmqctl -n "$node@localhost" -q wait "$dir/rabbitmq.pid" >/dev/null 2>&1 \
        || { tail -30 "$dir/log/"*.log >&2 2>/dev/null; die "RabbitMQ did not start"; }
    wait_for_port 127.0.0.1 "$port" 30 || die "RabbitMQ is not listening on $port"
    if [ -n "$management" ]; then wait_for_port 127.0.0.1 "$management" 30 || die "RabbitMQ management is not listening on $management"; fi
}

# stop_rabbitmq DIR NODE AMQP_PORT DIST_PORT: asks the node to stop (bounded: rabbitmqctl hangs
# when the node is gone or wedged), then kills what is left by its pid file.
stop_rabbitmq() {
    local dir=$1 node=$2 port=$3 dist=$4 pid=""
    [ -d "$dir" ] || return 0
    [ -f "$dir/rabbitmq.pid" ] && pid=$(cat "$dir/rabbitmq.pid" 2>/dev/null)
    if [ -n "$pid" ] && running "$pid"; then
        env $(rabbitmq_env "$dir" "$node" "$port" "$dist") timeout 30 rabbitmqctl -n "$node@localhost" -q stop "$dir/rabbitmq.pid" >/dev/null 2>&1 || true
        if running "$pid"; then log "RabbitMQ $node did not stop in 30 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$dir/rabbitmq.pid"
}

# kill_rabbitmq DIR: the broker dies at once, as in a crash (for fault runs).
kill_rabbitmq() {
    local pid
    pid=$(cat "$1/rabbitmq.pid" 2>/dev/null) || return 0
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
}

# Erlang's port mapper outlives the brokers; stop it once no node is registered with it.
stop_epmd_if_idle() {
    command -v epmd >/dev/null || return 0
    if ! timeout 10 epmd -names 2>/dev/null | grep -q "^name "; then timeout 10 epmd -kill >/dev/null 2>&1 || true; fi
}

# start_s3 DIR HOST PORT: a local S3 (moto's server mode, from PyPI into .build-s3/venv) on
# HOST:PORT that checks signatures: the first three requests, unsigned, make an IAM user that may
# use S3 and its key; then bucket "halfsize" is created with that key. DIR/credentials holds
# "ACCESS_KEY_ID SECRET_ACCESS_KEY".
start_s3() {
    local dir=$1 host=$2 port=$3 venv="$PROJECT_ROOT/.build-s3/venv" reach=$2
    [ "$host" = 0.0.0.0 ] && reach=127.0.0.1
    if [ ! -x "$venv/bin/moto_server" ]; then
        local PACKAGES=(python3-venv); install_packages
        log "installing moto into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "moto[server]>=5.1,<6"
    fi
    mkdir -p "$dir"
    log "starting S3 (moto) on $host:$port"
    INITIAL_NO_AUTH_ACTION_COUNT=3 nohup "$venv/bin/moto_server" -H "$host" -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    local deadline=$((SECONDS + 30))
    until curl -fsS -o /dev/null "http://$reach:$port/moto-api/" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { tail -20 "$dir/moto.log" >&2; die "S3 (moto) did not start"; }
        sleep 0.3
    done
    "$venv/bin/python" "$PROJECT_ROOT/deploy/local/s3_provision.py" "http://$reach:$port" halfsize >"$dir/credentials" \
        || die "could not provision the local S3"
}

stop_s3() {
    local pid
    pid=$(cat "$1/moto.pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$pid" || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
