# shellcheck shell=bash
# Shared functions of scripts/samba-dc and scripts/samba-populate-bench. Source it; do not run it.

SAMBA_DC_ADDRESS="${SAMBA_DC_ADDRESS:-127.0.0.2}"
SAMBA_DC_REALM="${SAMBA_DC_REALM:-CHARTER.TEST}"
SAMBA_DC_DOMAIN="${SAMBA_DC_DOMAIN:-CHARTER}"
SAMBA_DC_PASSWORD="${SAMBA_DC_PASSWORD:-Charter-Test-Pass1}"
SAMBA_DC_HOST="${SAMBA_DC_HOST:-charterdc}"
# A network namespace (`ip netns`) the DC runs and is probed in (scripts/connector-site); empty: the host's.
SAMBA_DC_NETNS="${SAMBA_DC_NETNS:-}"
# The prefix of the variables DIR/env exports (CHARTER_TEST_LDAP_URL, …; the site's CHARTER_TEST_SITE_LDAP_URL, …).
SAMBA_DC_ENV_PREFIX="${SAMBA_DC_ENV_PREFIX:-CHARTER_TEST}"

samba_log() { echo "samba-dc: $*" >&2; }

# Runs a command in the DC's network namespace (SAMBA_DC_NETNS), or as is when it has none.
samba_in() {
    if [[ -n $SAMBA_DC_NETNS ]]; then
        ip netns exec "$SAMBA_DC_NETNS" "$@"
    else
        "$@"
    fi
}

samba_abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

# dc=charter,dc=test for CHARTER.TEST
samba_base_dn() {
    local realm="${SAMBA_DC_REALM,,}" out="" part
    IFS=. read -r -a parts <<<"$realm"
    for part in "${parts[@]}"; do out="${out:+$out,}dc=$part"; done
    echo "$out"
}

# Installs the Samba DC and LDAP tools when a command is missing. Debian starts services when
# a package is installed; a policy-rc.d that refuses every start keeps a system-wide smbd,
# nmbd, winbind or samba-ad-dc from running next to the throwaway DC.
samba_install() {
    local missing=0 tool
    for tool in samba samba-tool ldbadd ldapsearch ldapmodify openssl; do
        command -v "$tool" >/dev/null 2>&1 || missing=1
    done
    [[ -d /usr/share/samba/setup ]] || missing=1
    [[ -f /usr/include/ldap.h ]] || missing=1
    [[ $missing -eq 0 ]] && return 0

    samba_log "installing samba, ldb-tools, ldap-utils, libldap2-dev"
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    local status=0
    {
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q &&
            apt-get install -y -q --no-install-recommends \
                samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind \
                ldb-tools ldap-utils libldap2-dev openssl
    } >/tmp/samba-dc-install.log 2>&1 || status=$?
    [[ $created_policy -eq 1 ]] && rm -f "$policy"
    if [[ $status -ne 0 ]]; then
        tail -n 30 /tmp/samba-dc-install.log >&2
        samba_log "apt-get failed (log: /tmp/samba-dc-install.log)"
        return "$status"
    fi
    # On a machine with systemd, the units may still be enabled for the next boot.
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now smbd nmbd winbind samba-ad-dc >/dev/null 2>&1 || true
    fi
}

# Certificate authority and server certificate whose subjectAltName names the loopback
# address, so clients verify both the chain and the host name of ldaps://ADDRESS.
samba_make_tls() {
    local tls="$1"
    [[ -f $tls/cert.pem ]] && return 0
    mkdir -p "$tls"
    (
        cd "$tls" || exit 1
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca-key.pem -out ca.pem \
            -subj "/O=Charter Test/CN=Charter Test DC CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            >/dev/null 2>&1
        openssl req -newkey rsa:2048 -nodes -keyout key.pem -out cert.csr \
            -subj "/O=Charter Test/CN=$SAMBA_DC_HOST.${SAMBA_DC_REALM,,}" >/dev/null 2>&1
        printf 'subjectAltName=IP:%s,DNS:%s.%s,DNS:localhost\nextendedKeyUsage=serverAuth\n' \
            "$SAMBA_DC_ADDRESS" "$SAMBA_DC_HOST" "${SAMBA_DC_REALM,,}" >ext.cnf
        openssl x509 -req -in cert.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
            -extfile ext.cnf -out cert.pem >/dev/null 2>&1
        chmod 600 key.pem ca-key.pem
        rm -f cert.csr ext.cnf
    )
}

samba_provision() {
    local dir="$1"
    [[ -f $dir/dc/etc/smb.conf ]] && return 0
    rm -rf "$dir/dc"
    mkdir -p "$dir/dc/run"
    samba_make_tls "$dir/tls"
    samba_log "provisioning $SAMBA_DC_REALM into $dir/dc"
    local started=$SECONDS
    samba-tool domain provision \
        --targetdir="$dir/dc" \
        --realm="$SAMBA_DC_REALM" --domain="$SAMBA_DC_DOMAIN" --host-name="$SAMBA_DC_HOST" \
        --server-role=dc --dns-backend=NONE --adminpass="$SAMBA_DC_PASSWORD" \
        --option="interfaces = $SAMBA_DC_ADDRESS/8" \
        --option="bind interfaces only = yes" \
        --option="server services = ldap" \
        --option="pid directory = $dir/dc/run" \
        --option="tls enabled = yes" \
        --option="tls keyfile = $dir/tls/key.pem" \
        --option="tls certfile = $dir/tls/cert.pem" \
        --option="tls cafile = $dir/tls/ca.pem" \
        >"$dir/provision.log" 2>&1 || {
        tail -n 30 "$dir/provision.log" >&2
        samba_log "provision failed (log: $dir/provision.log)"
        rm -f "$dir/dc/etc/smb.conf"
        return 1
    }
    # samba-tool drops this option from the file it writes; tests bind simply over plain LDAP.
    # A throwaway DC needs no fsync per write (Samba's own test environments run with ldb:nosync).
    sed -i 's/^\[global\]$/[global]\n\tldap server require strong auth = no\n\tldb:nosync = true/' "$dir/dc/etc/smb.conf"
    samba_log "provisioned in $((SECONDS - started)) s"
}

samba_pid() {
    local file="$1/dc/run/charter-samba.pid"
    [[ -f $file ]] || return 1
    local pid
    pid="$(cat "$file")"
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

samba_dc_answers() {
    local dir="$1"
    samba_pid "$dir" >/dev/null &&
        samba_in ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "ldap://$SAMBA_DC_ADDRESS" -s base -b "" \
            defaultNamingContext >/dev/null 2>&1
}

samba_write_env() {
    local dir="$1" base prefix="$SAMBA_DC_ENV_PREFIX"
    base="$(samba_base_dn)"
    cat >"$dir/env" <<EOF
export ${prefix}_LDAP_URL=ldap://$SAMBA_DC_ADDRESS
export ${prefix}_LDAPS_URL=ldaps://$SAMBA_DC_ADDRESS
export ${prefix}_LDAP_CA=$dir/tls/ca.pem
export ${prefix}_LDAP_BIND_DN='cn=Administrator,cn=Users,$base'
export ${prefix}_LDAP_PASSWORD='$SAMBA_DC_PASSWORD'
export ${prefix}_LDAP_BASE_DN='$base'
export ${prefix}_SAMBA_DIR=$dir
EOF
}

samba_dc_start() {
    local dir="$1"
    samba_install
    samba_provision "$dir"
    samba_write_env "$dir"
    if samba_dc_answers "$dir"; then
        samba_log "already running ($dir)"
        return 0
    fi
    samba_log "starting samba on $SAMBA_DC_ADDRESS${SAMBA_DC_NETNS:+ in network namespace $SAMBA_DC_NETNS}"
    local started=$SECONDS in_netns=()
    [[ -n $SAMBA_DC_NETNS ]] && in_netns=(ip netns exec "$SAMBA_DC_NETNS")
    # Foreground mode keeps one known process id (`ip netns exec` and setsid exec, they do not fork);
    # setsid detaches it from the caller's terminal.
    setsid "${in_netns[@]}" samba --configfile="$dir/dc/etc/smb.conf" --foreground \
        --debug-stdout >"$dir/samba.log" 2>&1 </dev/null &
    echo $! >"$dir/dc/run/charter-samba.pid"
    local tries
    for ((tries = 0; tries < 120; tries++)); do
        if samba_dc_answers "$dir"; then
            samba_log "LDAP answers after $((SECONDS - started)) s; env: $dir/env"
            return 0
        fi
        if ! samba_pid "$dir" >/dev/null; then
            tail -n 30 "$dir/samba.log" >&2
            samba_log "samba exited (log: $dir/samba.log)"
            return 1
        fi
        sleep 0.5
    done
    tail -n 30 "$dir/samba.log" >&2
    samba_log "LDAP did not answer within 60 s (log: $dir/samba.log)"
    return 1
}

samba_dc_stop() {
    local dir="$1" pid tries
    pid="$(samba_pid "$dir")" || {
        samba_log "not running ($dir)"
        return 0
    }
    kill -TERM "$pid"
    for ((tries = 0; tries < 40; tries++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$dir/dc/run/charter-samba.pid"
    samba_log "stopped ($dir)"
}
