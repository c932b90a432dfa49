# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The fleet lab (FLEET.md, "The lab"), sourced by tests/fleet/test_fleet.sh (CI's small lab) and
# tests/fleet/lab.sh (the full one). On top of tests/ns-lib.sh (the private mount namespace, the
# modules, the checks of tests/lib.sh) it starts:
#  - PostgreSQL 15 from its binaries (initdb as postgres into the lab's tmpfs, 127.0.0.1 and a
#    socket directory of its own, TLS with a CA and certificates openssl makes here), never the
#    system cluster; and a rogue one, whose certificate comes from another CA;
#  - hosts: each a mount namespace held by a process of its own (nsenter -t HOST_PID[N] -m, so
#    that it outlives its agent, which the lab kills), with its own /etc (overlay), /var/lib/roles and
#    /run/roles (tmpfs), its PostgreSQL role and client certificate, and its roles-agent.
# Every process started here is stopped by its pid in fleet_cleanup (the script's ns_on_exit);
# everything else lives on the namespace's tmpfs and goes with it, the hosts' namespaces with
# their holders.
#
# A script calls
#     fleet_enter NAME "$@"  # the namespace; R, P, L and A the programs; cleanup at exit
#     fleet_setup            # CA, certificates, PostgreSQL, the modules, the admin's roles.conf
#     fleet_host_start 1 ... # hosts
# and `arc` (rolesctl as the fleet's administrator) and `fleet_in N CMD...` (a command in a host).

fleet_lib_dir=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/ns-lib.sh
. "$fleet_lib_dir/../ns-lib.sh" || exit 2
# The ids of the fleet: the full lab imports 100,000 users from uid 20000, past ns-lib.sh's 59999.
# Every roles.conf the lab writes (the administrator's, the hosts') has the same range: a host
# checks what it installs against its own.
FLEET_IDS=(uid_min=10000 uid_max=199999 gid_min=10000 gid_max=199999)
ns_conf_ids=$(printf '%s\n' "${FLEET_IDS[@]}" | sed 's/=/ = /')$'\n'

# fleet_enter NAME ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT: a lab script's start (ns_enter_e2e),
# A the agent, and everything the lab starts stopped at exit.
fleet_enter() {
        local name=$1
        shift
        ns_e2e_extra=(ROLES_AGENT)
        ns_enter_e2e "$name" "$@"
        A=$(realpath -m "$4")
        ns_on_exit() { fleet_cleanup; }
}

PGBIN=/usr/lib/postgresql/15/bin
# The fleet's database (the schema rolesctl init makes is `roles`, in it).
FLEET_DB=fleet
# The agents' poll (seconds): short, so that "within one poll" is quick to check.
FLEET_POLL=${FLEET_POLL:-1}
FLEET_PIDS=()           # every long-lived process the lab started: agents, placeholders, sshd
declare -A PG_PID PG_PORT PG_DIR HOST_PID

# ---- certificates -----------------------------------------------------------------------------------
# fleet_ca DIR NAME: a self-signed CA in DIR (ca.pem, ca.key).
fleet_ca() {
        mkdir -p "$1" &&
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
                        -subj "/CN=$2" -keyout "$1/ca.key" -out "$1/ca.pem" 2>/dev/null
}

# fleet_cert CADIR NAME CN [SAN]: NAME.pem and NAME.key (0600) in CADIR, signed by its CA.
fleet_cert() {
        local d=$1 name=$2 cn=$3 san=${4:-}
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
                -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null || return 1
        printf '%s\n' "${san:+subjectAltName=$san}" >"$d/$name.ext"
        openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
                -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null || return 1
        chmod 0600 "$d/$name.key"
}

# ---- PostgreSQL -------------------------------------------------------------------------------------
# fleet_free_port: a port nothing listens on at 127.0.0.1.
fleet_free_port() {
        local port
        while :; do
                port=$((20000 + RANDOM % 30000))
                ns_port_free "$port" && { echo "$port"; return 0; }
        done
}

# no_preload CMD...: CMD without the sanitizer runtime an ASan build of roles puts in this
# namespace's /etc/ld.so.preload for the programs that load the NSS module: PostgreSQL's programs,
# server and clients, hang under it (initdb's 'postgres -V', psql), and they are not ours to
# check. In a mount namespace of its own where that file is empty; inside a host, `fleet_in N
# "${NO_PRELOAD[@]}" CMD...`.
NO_PRELOAD=(unshare -m --propagation private -- sh -c
        'if [ -s /etc/ld.so.preload ]; then mount --bind /dev/null /etc/ld.so.preload || exit 1; fi; exec "$@"' sh)
no_preload() {
        "${NO_PRELOAD[@]}" "$@"
}

# "${SQLITE_RO[@]}" FILE SQL: sqlite3 reading a host's file, waiting for a writer's lock (the agent
# writes state.db every round, a login at any time) rather than failing at once with nothing on
# stdout ("database is locked"), which a check would take for its answer.
SQLITE_RO=(sqlite3 -readonly -cmd '.timeout 10000')

# pg_server CMD...: a PostgreSQL program as postgres (no_preload).
pg_server() {
        no_preload runuser -u postgres -- "$@"
}

# pg_init NAME CADIR HBA: a cluster NAME in $S/pg-NAME (initdb as postgres, no fsync: tmpfs),
# listening on 127.0.0.1 at a free port (PG_PORT[NAME]) and in its own socket directory, TLS with
# CADIR's server certificate, clients' certificates checked against CADIR's CA, HBA as pg_hba.conf.
pg_init() {
        local name=$1 ca=$2 hba=$3 d=$S/pg-$1
        mkdir -p "$d" && chown postgres:postgres "$d" && chmod 0700 "$d" || return 1
        pg_server "$PGBIN/initdb" -D "$d/data" -U postgres -A reject --no-sync >"$d/initdb.log" 2>&1 ||
                { cat "$d/initdb.log"; return 1; }
        install -o postgres -g postgres -m 0644 "$ca/server.pem" "$d/server.pem" &&
                install -o postgres -g postgres -m 0600 "$ca/server.key" "$d/server.key" &&
                install -o postgres -g postgres -m 0644 "$ca/ca.pem" "$d/ca.pem" || return 1
        PG_PORT[$name]=$(fleet_free_port)
        PG_DIR[$name]=$d
        cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = ${PG_PORT[$name]}
unix_socket_directories = '$d'
ssl = on
ssl_cert_file = '$d/server.pem'
ssl_key_file = '$d/server.key'
ssl_ca_file = '$d/ca.pem'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
log_connections = on
CONF
        printf '%s\n' "$hba" >"$d/data/pg_hba.conf"
}

# pg_standby NAME FROM: a hot standby NAME of the running cluster FROM in $S/pg-NAME, streaming
# from it: pg_basebackup -R as postgres over FROM's socket (pg_hba's `local replication`), so it
# has FROM's configuration, roles, pg_hba and TLS server certificate; its own port on 127.0.0.1
# and its own socket directory; a fast checkpoint to start from (the default, spread, waits for
# most of checkpoint_timeout: minutes). It retries a lost primary every 0.2 s, not every 5 s: the lab
# restarts the primary and counts on every host within one poll.
pg_standby() {
        local name=$1 from=$2 d=$S/pg-$1
        mkdir -p "$d" && chown postgres:postgres "$d" && chmod 0700 "$d" || return 1
        pg_server "$PGBIN/pg_basebackup" -h "${PG_DIR[$from]}" -p "${PG_PORT[$from]}" -U postgres \
                -D "$d/data" -R -X stream --checkpoint=fast --no-sync >"$d/basebackup.log" 2>&1 || { cat "$d/basebackup.log"; return 1; }
        PG_PORT[$name]=$(fleet_free_port)
        PG_DIR[$name]=$d
        cat >>"$d/data/postgresql.conf" <<CONF
port = ${PG_PORT[$name]}
unix_socket_directories = '$d'
wal_retrieve_retry_interval = 200ms
CONF
}

# pg_start NAME: start the cluster; PG_PID[NAME] its postmaster.
pg_start() {
        local d=${PG_DIR[$1]}
        pg_server "$PGBIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 start >/dev/null || {
                tail -n 20 "$d/log"
                return 1
        }
        PG_PID[$1]=$(head -n 1 "$d/data/postmaster.pid")
        [ -n "${PG_PID[$1]}" ]
}

# pg_stop NAME: a fast shutdown by the postmaster's pid, waited for.
pg_stop() {
        local pid=${PG_PID[$1]:-} _
        [ -n "$pid" ] || return 0
        kill -INT "$pid" 2>/dev/null
        for _ in $(seq 300); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; return 1; }
        PG_PID[$1]=
}

# pg_sql NAME SQL: SQL as the superuser over the cluster's socket; rows unaligned, one a line.
pg_sql() {
        no_preload psql -X -q -v ON_ERROR_STOP=1 -At -h "${PG_DIR[$1]}" -p "${PG_PORT[$1]}" -U postgres -d "${3:-$FLEET_DB}" -c "$2"
}

# fleet_hold SQL: a superuser session of the fleet's database that runs SQL (taking its locks) and
# then holds its transaction open, in the background (HOLDER: its psql); returns once it holds
# them (false: not within 10 s). fleet_release ends it, its locks let go.
fleet_hold() {
        local _
        no_preload psql -X -q -At -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -U postgres -d "$FLEET_DB" \
                -c "BEGIN; $1; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
        HOLDER=$!
        for _ in $(seq 200); do
                [ "$(pg_sql fleet "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'
                        AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()")" = 1 ] && return 0
                sleep 0.05
        done
        return 1
}
fleet_release() {
        pg_sql fleet "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'
                AND pid <> pg_backend_pid()" >/dev/null
        wait "$HOLDER" 2>/dev/null
}

# fleet_waiting PATTERN: a session whose query is LIKE PATTERN waits for a lock (false: none
# within 10 s).
fleet_waiting() {
        local _
        for _ in $(seq 200); do
                [ "$(pg_sql fleet "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '$1'
                        AND pid <> pg_backend_pid()")" -ge 1 ] && return 0
                sleep 0.05
        done
        return 1
}

# ---- the lab ----------------------------------------------------------------------------------------
# fleet_setup: after ns_enter_e2e (R, P, L, A set). The two CAs and the certificates, the fleet's
# PostgreSQL started (the rogue one only made), the modules in this namespace's library
# directory (every host inherits them), and the administrator's roles.conf ($S/admin).
fleet_setup() {
        need openssl psql getent id pamtester oathtool nsenter unshare runuser || finish
        [ -x "$PGBIN/initdb" ] || die "no PostgreSQL 15 at $PGBIN (apt-get install postgresql-15)"
        [ -x "$A" ] || die "no roles-agent at $A"
        id postgres >/dev/null 2>&1 || die "no user postgres (apt-get install postgresql-15)"
        ns_overlay etc var/lib run
        mkdir -p /var/lib/roles /run/roles || die "mkdir /var/lib/roles /run/roles"
        ns_modules "$P" "$L"
        # The lab's files: postgres must reach its directories through $S.
        chmod 0755 "$S"
        fleet_ca "$S/ca" "roles lab CA" && fleet_cert "$S/ca" server 127.0.0.1 'IP:127.0.0.1,DNS:localhost' ||
                die "the lab's CA and server certificate"
        fleet_ca "$S/rogue-ca" "roles lab CA" && fleet_cert "$S/rogue-ca" server 127.0.0.1 'IP:127.0.0.1,DNS:localhost' ||
                die "the rogue CA and its server certificate"
        # Hosts: a client certificate (cert) for the roles in lab_cert; anyone else over TLS: SCRAM.
        # postgres over the socket: the lab's own SQL, and a standby's pg_basebackup and stream;
        # rolesadmin over the socket: the administrator, as README sets it up (not a superuser);
        # pgbouncer, run as postgres, logs in there as the hosts it authenticated (peer, map bouncer).
        pg_init fleet "$S/ca" "local all postgres trust
local replication postgres trust
local all rolesadmin trust
local $FLEET_DB +lab_cert peer map=bouncer
hostssl all +lab_cert 127.0.0.1/32 cert
hostssl all all 127.0.0.1/32 scram-sha-256" || die "initdb (the fleet's PostgreSQL)"
        # A line per host: PostgreSQL 15 takes a regular expression for the OS user only.
        for n in $(seq 64); do echo "bouncer postgres host$n"; done >"${PG_DIR[fleet]}/data/pg_ident.conf" ||
                die "pg_ident.conf"
        pg_start fleet || die "start the fleet's PostgreSQL"
        pg_sql fleet "CREATE ROLE rolesadmin LOGIN CREATEROLE" postgres >/dev/null &&
                pg_sql fleet "CREATE DATABASE $FLEET_DB OWNER rolesadmin" postgres >/dev/null &&
                pg_sql fleet "CREATE ROLE lab_cert NOLOGIN" || die "create the fleet's database"
        mkdir -p "$S/admin/cache" || die "mkdir $S/admin"
        test_conf "$S/admin" "source=host=${PG_DIR[fleet]} port=${PG_PORT[fleet]} dbname=$FLEET_DB user=rolesadmin" "${FLEET_IDS[@]}" \
                "fleet_cache=$S/admin/cache" || die "the administrator's roles.conf"
        # What tests/lib.sh's helpers use: rc is arc; the last command's output in $S.
        ROLESCTL=$R CONF=$S/admin/roles.conf T=$S/admin OUT=$S/out ERR=$S/err RC=0
}

# arc ARGS...: rolesctl as the fleet's administrator (PostgreSQL over its socket, as rolesadmin,
# which owns the database and may create roles: README's setup, no superuser).
arc() {
        "$R" --conf "$S/admin/roles.conf" "$@"
}

# fleet_rogue_start PORT: the rogue PostgreSQL (a certificate from the other CA, any client
# trusted, the fleet's schema and a newer serial than the fleet's: whatever an agent took from it
# would show) listening on PORT; made on first use.
fleet_rogue_start() {
        if [ -z "${PG_DIR[rogue]:-}" ]; then
                pg_init rogue "$S/rogue-ca" "local all postgres trust
hostssl all all 127.0.0.1/32 trust" || return 1
                pg_start rogue && pg_sql rogue "CREATE DATABASE $FLEET_DB" postgres >/dev/null || return 1
                test_conf "$S/rogue-admin" "source=host=${PG_DIR[rogue]} port=${PG_PORT[rogue]} dbname=$FLEET_DB user=postgres" \
                        "fleet_cache=$S/rogue-admin/cache" && mkdir -p "$S/rogue-admin/cache" || return 1
                "$R" --conf "$S/rogue-admin/roles.conf" init >/dev/null || return 1
                local i
                for i in 1 2 3; do "$R" --conf "$S/rogue-admin/roles.conf" user add "rogue$i" >/dev/null || return 1; done
                # Whoever gets past TLS is served: the hosts' own roles, trusted.
                for i in $(seq 64); do pg_sql rogue "CREATE ROLE host$i LOGIN IN ROLE roles_host_secrets" >/dev/null || return 1; done
                pg_stop rogue || return 1
        fi
        sed -i "s/^port = .*/port = $1/" "${PG_DIR[rogue]}/data/postgresql.conf"
        sed -i "s/ port=[0-9]* / port=$1 /" "$S/rogue-admin/roles.conf"
        PG_PORT[rogue]=$1
        pg_start rogue
}

# ---- pgbouncer --------------------------------------------------------------------------------------
# fleet_bouncer_start: pgbouncer (as postgres, BOUNCER_PID) in front of the fleet's PostgreSQL, in
# transaction pooling mode, on 127.0.0.1 at BOUNCER_PORT: TLS to its clients with the fleet's
# server certificate, each client authenticated by its certificate against the lab's CA (the
# role is the certificate's CN), and on to PostgreSQL over its socket, where pg_hba lets the OS
# user postgres in as the hosts' roles (peer, map bouncer). Logins in $S/pgbouncer/log.
fleet_bouncer_start() {
        local d=$S/pgbouncer pg=${PG_DIR[fleet]} _
        need pgbouncer setpriv || return 1
        mkdir -p "$d" && chown postgres:postgres "$d" || return 1
        BOUNCER_PORT=$(fleet_free_port)
        for _ in $(seq 64); do echo "\"host$_\" \"\""; done >"$d/users.txt" || return 1
        cat >"$d/pgbouncer.ini" <<INI
[databases]
$FLEET_DB = host=$pg port=${PG_PORT[fleet]} dbname=$FLEET_DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
pool_mode = transaction
auth_type = cert
; cert authenticates; pgbouncer still wants its users listed (no password: none is used)
auth_file = $d/users.txt
; verify-full, not require: pgbouncer 1.18 refuses auth_type = cert with anything less
client_tls_sslmode = verify-full
client_tls_cert_file = $pg/server.pem
client_tls_key_file = $pg/server.key
client_tls_ca_file = $pg/ca.pem
server_tls_sslmode = disable
; a restarted PostgreSQL is tried again after 1 s, not 15: the lab counts on one poll
server_login_retry = 1
query_wait_timeout = 10
logfile = $d/log
INI
        no_preload setpriv --reuid=postgres --regid=postgres --init-groups -- pgbouncer "$d/pgbouncer.ini" </dev/null >>"$d/out" 2>&1 &
        BOUNCER_PID=$!
        FLEET_PIDS+=("$!")
        for _ in $(seq 100); do
                ns_port_free "$BOUNCER_PORT" || return 0
                kill -0 "$BOUNCER_PID" 2>/dev/null || break
                sleep 0.05
        done
        cat "$d/out" "$d/log" 2>/dev/null | tail -n 5
        return 1
}

# ---- hosts --------------------------------------------------------------------------------------------
# fleet_host_role N [GROUP]: the PostgreSQL login role hostN, a member of GROUP (roles_host_secrets
# by default; roles_host for a host without secrets) and of lab_cert (its client certificate
# authenticates it), and that certificate (CN hostN) in $S/hosts/N.
fleet_host_role() {
        local n=$1 group=${2:-roles_host_secrets} h=$S/hosts/$1
        mkdir -p "$h" || return 1
        fleet_cert "$S/ca" "host$n" "host$n" && mv "$S/ca/host$n.pem" "$S/ca/host$n.key" "$h/" || return 1
        pg_sql fleet "CREATE ROLE host$n LOGIN IN ROLE $group, lab_cert" >/dev/null
}

# fleet_conf_source N [PORT]: the `source` line of host N (TLS to 127.0.0.1:PORT, the fleet's
# port by default, as hostN with its certificate).
fleet_conf_source() {
        echo "host=127.0.0.1 port=${2:-${PG_PORT[fleet]}} dbname=$FLEET_DB user=host$1 sslcert=/etc/roles/client.pem sslkey=/etc/roles/client.key"
}

# HOST_PORT[N]: where host N reaches the fleet (a standby's port, say), the primary's if unset.
declare -A HOST_PORT

# fleet_host_start N [CONF_LINES]: fleet_host_make, then the host's roles-agent.
fleet_host_start() {
        fleet_host_make "$@"
        fleet_agent_start "$1"
}

# fleet_host_make N [CONF_LINES]: host N, made on first use: the PostgreSQL role, a mount
# namespace with /etc an overlay of this one (nsswitch with roles after files, roles.conf with
# the fleet's source at HOST_PORT[N], its CA, the poll and CONF_LINES, the client certificate in /etc/roles,
# /etc/pam.d/roles of pam_roles), and /var/lib/roles and /run/roles tmpfs of its own.
fleet_host_make() {
        local n=$1 extra=${2:-} h=$S/hosts/$1
        if [ -z "${HOST_PID[$n]:-}" ]; then
                [ -e "$h/host$n.pem" ] || fleet_host_role "$n" || die "host $n: its PostgreSQL role"
                mkdir -p "$h/etc/u" "$h/etc/w" && rm -f "$h/ready" || die "host $n: mkdir"
                # The namespace is held by a process of its own (HOST_PID[N]), not by the agent,
                # which the lab kills and restarts; nor bound on a file (`unshare --mount=FILE`, or
                # mount --bind of /proc/PID/ns/mnt): on this kernel that bind fails with EINVAL one
                # time in three.
                unshare -m --propagation private bash -c '
                        set -e
                        S=$1 h=$2 n=$3 source=$4 extra=$5 MOD=$6
                        . "$7/../ns-lib.sh"
                        ns_conf_ids=$9
                        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$h/etc/u,workdir=$h/etc/w" /etc
                        ns_configure_etc "source = $source
fleet_ca = /etc/roles/ca.pem
fleet_poll = $8
$extra"
                        mount -t tmpfs -o mode=0755 tmpfs /var/lib/roles
                        mount -t tmpfs -o mode=0755 tmpfs /run/roles
                        install -d -m 0755 /etc/roles
                        install -m 0644 "$S/ca/ca.pem" /etc/roles/ca.pem
                        install -m 0644 "$h/host$n.pem" /etc/roles/client.pem
                        install -m 0600 "$h/host$n.key" /etc/roles/client.key
                        echo "host$n" >/etc/hostname
                        printf "auth     required %s\naccount  required %s\n" "$MOD" "$MOD" >/etc/pam.d/roles
                        echo ready >"$h/ready"
                        exec sleep infinity
                        ' fleet-host "$S" "$h" "$n" "$(fleet_conf_source "$n" "${HOST_PORT[$n]:-}")" "$extra" "$MOD" \
                        "$fleet_lib_dir" "$FLEET_POLL" "$ns_conf_ids" </dev/null &
                HOST_PID[$n]=$!
                FLEET_PIDS+=("$!")
                local _
                for _ in $(seq 200); do
                        [ -s "$h/ready" ] && break
                        kill -0 "${HOST_PID[$n]}" 2>/dev/null || break
                        sleep 0.05
                done
                [ -s "$h/ready" ] || die "host $n: its namespace"
        fi
}

# fleet_in N CMD...: CMD inside host N.
fleet_in() {
        local n=$1
        shift
        nsenter -t "${HOST_PID[$n]}" -m -- "$@"
}

# fleet_agent_exec N ARGS...: replace this (sub)shell with host N's roles-agent, run with
# --timestamps and ARGS, its output appended to $S/hosts/N/agent.log; `fleet_agent_exec N &`
# makes $! the agent itself (nsenter execs it), so that it can be killed by that pid.
fleet_agent_exec() {
        local n=$1
        shift
        exec nsenter -t "${HOST_PID[$n]}" -m -- "$A" --conf /etc/roles.conf --timestamps "$@" \
                </dev/null >>"$S/hosts/$n/agent.log" 2>&1
}

# fleet_agent_start N: host N's long-running roles-agent; AGENT_PID[N].
declare -A AGENT_PID
fleet_agent_start() {
        fleet_agent_exec "$1" &
        AGENT_PID[$1]=$!
        FLEET_PIDS+=("$!")
}

# fleet_agent_stuck N PID WHAT: an agent that did not end in time is a failure that says where it
# was (its kernel stack and wait channel, the end of its log), then killed, rather than a lab that
# waits until meson's timeout ends it without a word.
fleet_agent_stuck() {
        fail "host $1: roles-agent ($3) still running after 60 s"
        echo "# host $1: roles-agent pid $2 wchan $(cat "/proc/$2/wchan" 2>/dev/null); stack:"
        sed 's/^/#   /' "/proc/$2/stack" 2>/dev/null
        tail -n 20 "$S/hosts/$1/agent.log" | sed 's/^/#   log: /'
        kill -KILL "$2" 2>/dev/null
}

# fleet_agent_stop N [SIGNAL]: stop host N's agent by its pid (TERM by default), waited for (60 s
# at most: fleet_agent_stuck).
fleet_agent_stop() {
        local pid=${AGENT_PID[$1]:-} _
        [ -n "$pid" ] || return 0
        kill "-${2:-TERM}" "$pid" 2>/dev/null
        for _ in $(seq 600); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && fleet_agent_stuck "$1" "$pid" "stopped with ${2:-TERM}"
        wait "$pid" 2>/dev/null
        AGENT_PID[$1]=
}

# fleet_once N: one round of host N's agent (`roles-agent --once`); its exit status. 60 s at most
# (fleet_agent_stuck).
fleet_once() {
        (fleet_agent_exec "$1" --once) &
        local pid=$! _
        for _ in $(seq 600); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && fleet_agent_stuck "$1" "$pid" "--once"
        wait "$pid"
}

# fleet_installed N: the last serial host N's agent logged as installed (0: none); cheap enough to
# poll many hosts with.
fleet_installed() {
        local s
        s=$(grep -oE 'roles-agent: installed serial [0-9]+' "$S/hosts/$1/agent.log" 2>/dev/null | tail -n 1 | awk '{ print $4 }')
        echo "${s:-0}"
}

# fleet_files_serial N: the fleet serial host N's files hold (0: none), as roles.db's meta says: an
# agent killed between its install and its log line installed all the same.
fleet_files_serial() {
        local s
        s=$(fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/roles.db "SELECT value FROM meta WHERE key = 'fleet_serial'" 2>/dev/null)
        echo "${s:-0}"
}

# fleet_serial: the fleet's latest serial, as every agent reads it.
fleet_serial() {
        pg_sql fleet "SELECT serial FROM roles.fleet"
}

# fleet_wait_serial SERIAL TIMEOUT N...: every host N logged SERIAL (or a later one) as installed
# within TIMEOUT seconds; the hosts that did not are printed.
fleet_wait_serial() {
        local want=$1 timeout=$2 n late deadline
        shift 2
        deadline=$(($(date +%s%N) + timeout * 1000000000))
        while :; do
                late=
                for n in "$@"; do
                        [ "$(fleet_installed "$n")" -ge "$want" ] || late+=" $n"
                done
                [ -z "$late" ] && return 0
                [ "$(date +%s%N)" -lt "$deadline" ] || { echo "${late# }"; return 1; }
                sleep 0.05
        done
}

# fleet_install_time N SERIAL: the wall-clock time (seconds.micro) host N logged SERIAL installed.
fleet_install_time() {
        awk -v s="$2" '$2 == "roles-agent:" && $3 == "installed" && $5 + 0 == s + 0 { print $1; exit }' "$S/hosts/$1/agent.log"
}

# fleet_seed USERS DIR: DIR/passwd, DIR/group and DIR/shadow of USERS users lu0000001... (uids
# from 20000, past 65534 and 65535, nobody's and (uid_t) -1 in 16 bits, which a host holds or
# refuses; one group, one SHA-512 hash for all: import copies hashes, it does not make them).
fleet_seed() {
        local n=$1 d=$2 hash
        mkdir -p "$d" && hash=$(openssl passwd -6 -stdin <<<"seed-password") || return 1
        awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) printf "lu%07d:x:%d:%d:lab user:/home/lu%07d:/bin/bash\n", i, 20000 + i + (20000 + i >= 65534) * 2, 19999, i }' \
                >"$d/passwd"
        printf 'labusers:x:19999:\n' >"$d/group"
        awk -v n="$n" -v h="$hash" 'BEGIN { for (i = 1; i <= n; i++) printf "lu%07d:%s:19000:0:99999:7:::\n", i, h }' >"$d/shadow"
}

# fleet_uid NAME: NAME's uid as PostgreSQL has it (`rolesctl --json user show`).
fleet_uid() {
        arc --json user show "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uid"])'
}

# fleet_latency TAG CHANGES N...: CHANGES changes (`rolesctl group add TAG-I`), one after the
# other, each waited for on every host N (30 s at most: a failure otherwise). The latency of a
# change on a host: from the moment before rolesctl started to the time the host's agent logged
# the change's serial installed. Per host in $S/lat-TAG-host (host N's own in $S/lat-TAG-host-N,
# for fleet_host_latency), the slowest host of each change in $S/lat-TAG-all; LATENCY their p50
# and p99, in a sentence.
fleet_latency() {
        local tag=$1 changes=$2 i t0 s late n lat max
        shift 2
        : >"$S/lat-$tag-host" && : >"$S/lat-$tag-all"
        for n in "$@"; do : >"$S/lat-$tag-host-$n"; done
        for i in $(seq "$changes"); do
                t0=$(date +%s.%N)
                arc group add "$tag-$i" >/dev/null || { fail "rolesctl group add $tag-$i"; continue; }
                s=$(fleet_serial)
                if ! late=$(fleet_wait_serial "$s" 30 "$@"); then
                        fail "change $tag-$i (serial $s): not installed on hosts $late after 30 s"
                        continue
                fi
                max=0
                for n in "$@"; do
                        lat=$(awk -v a="$(fleet_install_time "$n" "$s")" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
                        echo "$lat" | tee -a "$S/lat-$tag-host-$n" >>"$S/lat-$tag-host"
                        max=$(awk -v a="$lat" -v b="$max" 'BEGIN { print (a > b) ? a : b }')
                done
                echo "$max" >>"$S/lat-$tag-all"
        done
        eq "$tag: every change timed on every host" "$(wc -l <"$S/lat-$tag-host")" $((changes * $#))
        LATENCY="per host p50 $(percentile 50 "$S/lat-$tag-host") s p99 $(percentile 99 "$S/lat-$tag-host") s;"
        LATENCY+=" on every host p50 $(percentile 50 "$S/lat-$tag-all") s p99 $(percentile 99 "$S/lat-$tag-all") s"
}

# fleet_host_latency TAG N: host N's p50 and p99 in fleet_latency TAG, in a few words.
fleet_host_latency() {
        echo "p50 $(percentile 50 "$S/lat-$1-host-$2") s p99 $(percentile 99 "$S/lat-$1-host-$2") s"
}

# fleet_change_state N TAG I: what host N serves of change TAG I (a user TAGuI, a group TAGgI with
# that user as its member): "all" (and the uid PostgreSQL has), "none", or the mix it serves.
fleet_change_state() {
        local u g
        u=$(fleet_in "$1" getent passwd "$2u$3" | cut -d: -f3)
        g=$(fleet_in "$1" getent group "$2g$3" | cut -d: -f4)
        if [ -z "$u" ] && [ -z "$g" ]; then
                echo none
        elif [ "$u" = "$(fleet_uid "$2u$3")" ] && [ "$g" = "$2u$3" ]; then
                echo all
        else
                echo "mix (uid '$u', members '$g')"
        fi
}

# fleet_kills N COUNT TAG: host N's agent stopped, then COUNT times: one change (a user, a group
# and the membership: one batch, one serial), `roles-agent --once` killed with SIGKILL at a
# random point within KILL_WINDOW (the duration of such a round, measured first, in µs); the
# host serves all of the change or none of it, and still an imported user; the next round exits
# 0 and installs the change. The agent is started again at the end.
fleet_kills() {
        local n=$1 count=$2 tag=$3 i t0 s pid st
        fleet_agent_stop "$n"
        arc user add "${tag}probe" >/dev/null || { fail "rolesctl user add ${tag}probe"; return; }
        t0=$(date +%s%N)
        fleet_once "$n" || { fail "host $n: roles-agent --once (exit $?)"; return; }
        KILL_WINDOW=$((($(date +%s%N) - t0) / 1000))
        for i in $(seq "$count"); do
                printf 'user add %s\ngroup add %s\ngroup adduser %s %s\n' "${tag}u$i" "${tag}g$i" "${tag}g$i" "${tag}u$i" |
                        arc batch >/dev/null || { fail "rolesctl batch ($tag $i)"; continue; }
                s=$(fleet_serial)
                fleet_agent_exec "$n" --once &
                pid=$!
                sleep "$(awk -v u=$(((RANDOM * 32768 + RANDOM) % (KILL_WINDOW + 1))) 'BEGIN { printf "%.6f", u / 1e6 }')"
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                st=$(fleet_change_state "$n" "$tag" "$i")
                case $st in
                all | none) pass ;;
                *) fail "kill $tag $i: host $n serves a mix of the change: $st" ;;
                esac
                eq "kill $tag $i: an imported user is still served" \
                        "$(fleet_in "$n" getent passwd lu0000001 | cut -d: -f1)" lu0000001
                fleet_once "$n"
                eq "kill $tag $i: the next round completes" "$?" 0
                eq "kill $tag $i: then the host serves all of the change" "$(fleet_change_state "$n" "$tag" "$i")" all
                eq "kill $tag $i: and holds serial $s" "$(fleet_files_serial "$n")" "$s"
        done
        fleet_agent_start "$n"
}

# fleet_totp_enroll USER: USER's TOTP enrolled by the administrator; its base32 secret printed.
fleet_totp_enroll() {
        local uri secret
        uri=$(arc user totp enroll "$1") || return 1
        secret=$(grep -oE 'secret=[A-Z2-7]+' <<<"$uri" | cut -d= -f2)
        [ -n "$secret" ] && echo "$secret"
}

# ---- the write path (issue 16): logins, the outbox, the agent's socket ----------------------------------
# fleet_login N USER INPUT: pamtester auth and account of USER on host N, INPUT its answers (a
# password, then a code, one a line); RC, the output in $OUT.
fleet_login() {
        printf '%s' "$3" | fleet_in "$1" timeout 30 pamtester roles "$2" authenticate acct_mgmt >"$OUT" 2>&1
        RC=$?
}

# fleet_passwd N USER NEW: pamtester chauthtok of USER as root on host N (no current password
# asked; the host's pam.d needs a password line); RC, the output in $OUT.
fleet_passwd() {
        printf '%s\n%s\n' "$3" "$3" | fleet_in "$1" timeout 30 pamtester roles "$2" chauthtok >"$OUT" 2>&1
        RC=$?
}

# fleet_wrong COUNT N USER: COUNT wrong passwords of USER on host N, each refused.
fleet_wrong() {
        local i
        for i in $(seq "$1"); do
                printf 'wrong\n' | fleet_in "$2" timeout 30 pamtester roles "$3" authenticate >/dev/null 2>&1 &&
                        fail "host $2: a wrong password of $3 was accepted"
        done
}

# fleet_audited N [RESULT]: the logins host N's login_audit recorded with RESULT (failure);
# fleet_queued N [KIND]: its outbox depth (of KIND); fleet_ingested N [KIND]: its events of KIND (failure) in
# roles.events.
fleet_audited() {
        fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/state.db "SELECT count(*) FROM login_audit WHERE result = '${2:-failure}'"
}
fleet_queued() {
        fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/state.db "SELECT count(*) FROM outbox${2:+ WHERE kind = '$2'}"
}
fleet_ingested() {
        pg_sql fleet "SELECT count(*) FROM roles.events WHERE host = 'host$1' AND kind = '${2:-failure}'"
}

# fleet_ship_kills N COUNT USER: host N's agent not running (the caller's), COUNT times: 4 wrong
# passwords of USER on host N, then `roles-agent --once` killed with SIGKILL at a random point
# of SHIP_WINDOW (µs: such a round, 4 events to ship, measured first); after each kill nothing
# is counted twice in roles.events. SHIP_KILLED "A B C": the kills that left the events
# unshipped (A), shipped but still queued (B: sent again next round), or gone (C).
fleet_ship_kills() {
        local n=$1 count=$2 user=$3 i t0 pid in au q a=0 b=0 c=0
        fleet_wrong 4 "$n" "$user"
        t0=$(date +%s%N)
        fleet_once "$n" || fail "host $n: a round to measure"
        SHIP_WINDOW=$((($(date +%s%N) - t0) / 1000))
        for i in $(seq "$count"); do
                fleet_wrong 4 "$n" "$user"
                fleet_agent_exec "$n" --once &
                pid=$!
                sleep "$(awk -v u=$(((RANDOM * 32768 + RANDOM) % (SHIP_WINDOW + 1))) 'BEGIN { printf "%.6f", u / 1e6 }')"
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                # Sometimes the round finished first, sometimes after the ingest: both must come out even.
                in=$(fleet_ingested "$n") au=$(fleet_audited "$n") q=$(fleet_queued "$n")
                eq "kill $i: nothing counted twice" "$((in <= au))" 1
                if [ "$q" -eq 0 ]; then c=$((c + 1)); elif [ "$in" -eq "$au" ]; then b=$((b + 1)); else a=$((a + 1)); fi
        done
        SHIP_KILLED="$a $b $c"
}

# fleet_ask N PYTHON-BYTES [SETPRIV-ARGS]: send bytes to host N's agent socket and print the
# answer (or what happened instead: "closed", an OSError's name).
fleet_ask() {
        fleet_in "$1" ${3:+setpriv $3 --} /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
try:
    s.connect("/run/roles/agent.sock")
    data = eval(sys.argv[1])
    if data is not None:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    print(s.recv(100).decode().strip() or "closed")
except OSError as e:
    print(type(e).__name__)
' "$2"
}

# fleet_socket_refusals N USER NEW: host N's agent refuses garbage, a NUL, a bad uuid, 1 MiB, a
# silent client (within 5 s) and a client that is not root (logged); then it still serves a
# password change of USER to NEW, and NEW logs in. SILENT_MS: how long the silent client held it.
fleet_socket_refusals() {
        local n=$1 big r t0
        eq "host $n: garbage refused" "$(fleet_ask "$n" 'b"hello\n"')" refused
        eq "host $n: a NUL refused" "$(fleet_ask "$n" 'b"password\n\0\n"')" refused
        eq "host $n: a password request with a bad uuid refused" "$(fleet_ask "$n" 'b"password\nnot-a-uuid\nx\ny\nz\n1\n"')" refused
        big=$(fleet_ask "$n" 'b"x" * (1 << 20)')
        case $big in refused | ConnectionResetError | BrokenPipeError) r=0 ;; *) r=1 ;; esac
        eq "host $n: 1 MiB refused (${big})" "$r" 0
        t0=$(date +%s%N)
        eq "host $n: a silent client refused" "$(fleet_ask "$n" None)" refused
        SILENT_MS=$((($(date +%s%N) - t0) / 1000000))
        [ "$SILENT_MS" -lt 5000 ]
        eq "host $n: a silent client held the agent ${SILENT_MS} ms (under 5 s)" "$?" 0
        fleet_in "$n" chmod 0666 /run/roles/agent.sock
        eq "host $n: a client that is not root refused before it says anything" \
                "$(fleet_ask "$n" None '--reuid=65534 --regid=65534 --clear-groups')" refused
        fleet_in "$n" chmod 0600 /run/roles/agent.sock
        grep -q 'the client is not root' "$S/hosts/$n/agent.log"
        eq "host $n: the agent logged the client that is not root" "$?" 0
        fleet_passwd "$n" "$2" "$3"
        eq "host $n: after all that, the agent serves a password change" "$RC" 0
        fleet_login "$n" "$2" "$3"$'\n'
        eq "host $n: that password works" "$RC" 0
}

# fleet_race_login TAG USER INPUT A B: USER's authentication with INPUT typed, on hosts A and B at
# the same moment; WON: how many let USER in (their output in $S/TAG.N).
fleet_race_login() {
        local go=$S/$1.go n racers=()
        for n in "$4" "$5"; do
                (while [ ! -e "$go" ]; do sleep 0.005; done
                 printf '%s' "$3" | fleet_in "$n" timeout 30 pamtester roles "$2" authenticate >"$S/$1.$n" 2>&1
                 echo $? >"$S/$1.$n.rc") &
                racers+=("$!")
        done
        sleep 0.2
        touch "$go"
        wait "${racers[@]}"     # not the agents this shell started too
        WON=0
        for n in "$4" "$5"; do [ "$(cat "$S/$1.$n.rc")" = 0 ] && WON=$((WON + 1)); done
}

# fleet_code_race ROUNDS A B PREFIX: ROUNDS times a user PREFIXi added with an activation code,
# installed on hosts A and B, and the code typed on both at the same moment: exactly one login
# wins each round, and the primary has every code spent once. CODES_OK: the rounds with one winner.
fleet_code_race() {
        local rounds=$1 a=$2 b=$3 pre=$4 i code
        CODES_OK=0
        for i in $(seq "$rounds"); do
                code=$(fleet_code_of "$(arc user add "$pre$i" --activation 2>&1)")
                [ -n "$code" ] || { fail "round $i: no activation code for $pre$i"; continue; }
                fleet_wait_serial "$(fleet_serial)" 10 "$a" "$b" >/dev/null || fail "code round $i: hosts not on the fleet's serial"
                fleet_race_login "code.$pre$i" "$pre$i" "$code"$'\n' "$a" "$b"
                if [ "$WON" = 1 ]; then CODES_OK=$((CODES_OK + 1)); else fail "code round $i: $WON hosts let $pre$i in (want 1)"; fi
        done
        eq "exactly one of two hosts spent the activation code, each of $rounds rounds" "$CODES_OK" "$rounds"
        eq "every code spent once on the primary" "$(pg_sql fleet "SELECT count(*) FROM roles.codes c JOIN roles.users u ON u.uuid = c.user_uuid
                WHERE u.name LIKE '$pre%' AND c.used_at IS NOT NULL")" "$rounds"
}

# fleet_code_of TEXT: the first one-time code (XXXXX-XXXXX-XXXXX-XXXXX) in rolesctl's TEXT.
fleet_code_of() {
        grep -oE '[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}' <<<"$1" | head -n 1
}

# percentile P FILE: the P-th percentile (nearest rank) of the numbers in FILE, one a line.
percentile() {
        sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; printf "%.3f\n", v[r] }'
}

# fleet_cleanup: every process the lab started, by its pid (agents, placeholders, sshd, both
# PostgreSQL clusters); the namespaces of the hosts released. For the script's ns_on_exit.
fleet_cleanup() {
        local pid n
        for pid in "${FLEET_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null
        done
        for pid in "${FLEET_PIDS[@]}"; do
                wait "$pid" 2>/dev/null
        done
        for n in "${!PG_PID[@]}"; do
                pg_stop "$n"
        done
        return 0
}
