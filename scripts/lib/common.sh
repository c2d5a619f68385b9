# Shared helpers of scripts/run and scripts/test. Source it; it defines functions only.

# Installs the Debian packages that are missing, running `apt-get update` at most once.
ensure_packages() {
    local missing=()
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    if [ -z "${CHARTER_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        export CHARTER_APT_UPDATED=1
    fi
    # Debian starts services on install; a throwaway policy keeps system-wide daemons from starting.
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    [ -n "$created_policy" ] && rm -f "$policy"
    return 0
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The bin directory of the newest PostgreSQL server installed.
pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; return 1; }
    echo "$dir"
}

# Runs a command as the `postgres` system user (initdb and postgres refuse to run as root).
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_init DATA_DIR OWNER_PASSWORD APP_PASSWORD: a new cluster with the charter roles and database.
#   charter_owner  owns the schema and runs migrations
#   charter        the service's login role, a member of charter_app, bound by row-level security
#   charter_definer owns the SECURITY DEFINER functions that cross tenants (migration 0011); no login, and
#                  no service role may be a member of it
pg_init() {
    local data=$1 owner_password=$2 app_password=$3 bin
    bin=$(pg_bin)
    mkdir -p "$data"
    chown postgres:postgres "$data" 2>/dev/null || true
    chmod 700 "$data"
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
}

# pg_start DATA_DIR PORT SOCKET_DIR LOG [SERVER_OPTIONS]: starts the cluster on 127.0.0.1:PORT and waits
# until it accepts connections.
pg_start() {
    local data=$1 port=$2 sockets=$3 log=$4 extra=${5:-} bin
    bin=$(pg_bin)
    mkdir -p "$sockets"
    chown postgres:postgres "$sockets" 2>/dev/null || true
    touch "$log" && chown postgres:postgres "$log" 2>/dev/null || true
    as_postgres "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $sockets -c max_connections=300 $extra" start >/dev/null
}

pg_stop() {
    local data=$1 bin
    bin=$(pg_bin)
    [ -f "$data/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
}

# pg_create_roles PORT SOCKET_DIR OWNER_PASSWORD APP_PASSWORD
pg_create_roles() {
    local port=$1 sockets=$2 owner_password=$3 app_password=$4
    as_postgres psql -v ON_ERROR_STOP=1 -q -h "$sockets" -p "$port" -U postgres -d postgres <<SQL
CREATE ROLE charter_owner LOGIN CREATEROLE PASSWORD '$owner_password';
CREATE ROLE charter_app NOLOGIN;
CREATE ROLE charter LOGIN PASSWORD '$app_password' IN ROLE charter_app;
CREATE ROLE charter_definer NOLOGIN;
GRANT charter_definer TO charter_owner;
CREATE DATABASE charter OWNER charter_owner;
SQL
}

random_secret() {
    python3 -c 'import secrets; print(secrets.token_hex(16))'
}
