#!/bin/bash
# SPDX-License-Identifier: MIT
# The fleet's read path against a server that lies or a source that tries to dodge TLS
# (FLEET.md, "Read path"; DESIGN.md, "Security rules"). A real PostgreSQL 15 started here, as
# the postgres user, in a temporary directory, on its own Unix socket and 127.0.0.1 only,
# without TLS: a connection that reaches it over TCP has gone without TLS, which roles must never
# do. Stopped by its pid at the end.
# usage: test_fleet_attack.sh ROLESCTL ROLES_AGENT
set -u
. "$(dirname "$0")/lib.sh"
rolesctl_arg "${1:-}"
AGENT=${2:-}
[ -x "$AGENT" ] || { echo "usage: $0 ROLESCTL ROLES_AGENT" >&2; exit 2; }
case $AGENT in /*) ;; *) AGENT=$PWD/$AGENT ;; esac
need sqlite3 psql runuser || finish
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] || { fail "no $PGBIN/initdb (postgresql-15)"; finish; }

scratch_dir fleet-attack
PGPID=
scratch_cleanup() {
        [ -n "$PGPID" ] && kill "$PGPID" 2>/dev/null && while kill -0 "$PGPID" 2>/dev/null; do sleep 0.1; done
}
PG=$T/pg
mkdir "$PG" && chown postgres "$PG" && chmod 700 "$PG" || die "no directory for PostgreSQL"
PORT=$((20000 + RANDOM % 30000))
runuser -u postgres -- "$PGBIN/initdb" -A trust -D "$PG/data" >"$PG/initdb.log" 2>&1 || die "initdb failed"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -o "-c listen_addresses=127.0.0.1 -c port=$PORT \
        -c unix_socket_directories=$PG" -l "$PG/log" -w start >/dev/null || die "PostgreSQL did not start"
PGPID=$(head -1 "$PG/data/postmaster.pid")
pgsql() {
        psql -X -q -At -v ON_ERROR_STOP=1 "host=$PG port=$PORT user=postgres dbname=postgres" -c "$1"
}
has_schema() {
        [ "$(pgsql "SELECT count(*) FROM pg_namespace WHERE nspname = 'roles'")" = 1 ]
}

# ---- TLS whatever the source says: every way of reaching 127.0.0.1 over TCP is refused ----
test_conf "$T/adm" fleet_cache="$T/adm/cache"
CONF=$T/adm/roles.conf
printf '[evil]\nhostaddr=127.0.0.1\n' >"$T/services"
try_source() {   # WHY SOURCE [ENV...]
        local why=$1 src=$2
        shift 2
        env "$@" "$ROLESCTL" --conf "$CONF" --source "$src" init >"$OUT" 2>"$ERR"
        RC=$?
        if [ "$RC" -eq 0 ] || has_schema; then
                fail "$why: reached the server without TLS (rc $RC): $(cat "$ERR")"
                pgsql "DROP SCHEMA IF EXISTS roles CASCADE" >/dev/null 2>&1
        else
                pass
        fi
}
base="port=$PORT user=postgres dbname=postgres"
try_source "a socket first, then a TCP host" "host=/nonexistent,127.0.0.1 $base"
try_source "a socket host with a hostaddr" "host=/nonexistent hostaddr=127.0.0.1 $base"
try_source "a URI with a socket and a TCP host" "postgresql://%2Fnonexistent,127.0.0.1:$PORT/postgres?user=postgres"
try_source "a socket host, hostaddr from a service file" "host=/nonexistent service=evil $base" PGSERVICEFILE="$T/services"
try_source "a socket host, hostaddr from PGHOSTADDR" "host=/nonexistent $base" PGHOSTADDR=127.0.0.1
try_source "sslmode=disable in the source" "host=127.0.0.1 sslmode=disable $base"

# A fleet_cache another user may write: refused before anything is copied into it.
mkdir -m 0777 "$T/opencache"
sed -i "s|^fleet_cache .*|fleet_cache = $T/opencache|" "$CONF"
run_cmd "$ROLESCTL" --conf "$CONF" --source "host=$PG $base" user list
[ "$RC" -ne 0 ] && [ -z "$(ls -A "$T/opencache")" ] && pass ||
        fail "a world-writable fleet_cache was used (rc $RC): $(ls -A "$T/opencache")"
sed -i "s|^fleet_cache .*|fleet_cache = $T/adm/cache|" "$CONF"

# The server's own socket still works (and makes the fleet the rest uses).
SRC="host=$PG $base"
# As postgres: done, with the superuser's warning (the lab of tests/fleet connects as README's role).
run_cmd "$ROLESCTL" --conf "$CONF" --source "$SRC" init
eq "init through the server's socket, as a superuser: done and warned" \
        "$RC:$(grep -c '^rolesctl: warning: connected as a superuser' "$ERR")" "0:1"
run_ok "user add in the fleet" "$ROLESCTL" --conf "$CONF" --source "$SRC" user add alice

# ---- a host, at the fleet's serial ----
test_conf "$T/host" source="$SRC"
HCONF=$T/host/roles.conf
"$AGENT" --conf "$HCONF" --once 2>"$ERR"
RC=$?
[ "$RC" -eq 0 ] && pass || fail "the host's first round: rc $RC: $(cat "$ERR")"

# A change of the fleet's own tables still applies as a delta (public and secrets streams).
run_ok "user add bob in the fleet" "$ROLESCTL" --conf "$CONF" --source "$SRC" user add bob
run_ok_in "pw-bob-1234567" "user passwd bob in the fleet" "$ROLESCTL" --conf "$CONF" --source "$SRC" user passwd bob --stdin
"$AGENT" --conf "$HCONF" --once 2>"$ERR"
RC=$?
grep -q "2 changes since" "$ERR" && [ "$RC" -eq 0 ] && pass || fail "a delta of the fleet's own tables: rc $RC: $(cat "$ERR")"
eq "bob on the host" "$(sql "$T/host/roles.db" "SELECT count(*) FROM users WHERE name = 'bob'")" 1
eq "bob's hash on the host" "$(sql "$T/host/secrets.db" "SELECT count(*) FROM credentials c
        WHERE c.password_hash IS NOT NULL")" 1

# host_secrets = none on a host that had them: every hash, TOTP secret and code goes at its next
# round, a new serial or not (FLEET.md: such a host holds none).
sed -i 's/^source .*/&\nhost_secrets = none/' "$HCONF"
"$AGENT" --conf "$HCONF" --once 2>"$ERR"
RC=$?
[ "$RC" -eq 0 ] && pass || fail "host_secrets = none, same serial: rc $RC: $(cat "$ERR")"
eq "hashes left on a host_secrets = none host" "$(sql "$T/host/secrets.db" "SELECT count(*) FROM credentials")" 0
sed -i '/^host_secrets/d' "$HCONF"
"$AGENT" --conf "$HCONF" --once 2>"$ERR"
eq "hashes back with host_secrets = all" "$(sql "$T/host/secrets.db" "SELECT count(*) FROM credentials")" 2

# changeset TABLE SQL: a changeset of SQL run on a copy of the host's roles.db, as hex
changeset() {
        cp "$T/host/roles.db" "$T/forge.db" && rm -f "$T/forge.db-wal" "$T/forge.db-shm" "$T/cs.bin"
        printf '.session open main s\n.session s attach %s\n%s\n.session s changeset %s\n' "$1" "$2" "$T/cs.bin" |
                sqlite3 "$T/forge.db" && od -An -v -tx1 "$T/cs.bin" | tr -d ' \n'
}
# publish HEX: the hostile server's next serial, carrying HEX as its public changeset
publish() {
        pgsql "BEGIN; UPDATE roles.fleet SET serial = serial + 1;
             INSERT INTO roles.changes (serial, actor, public_cs)
                 SELECT serial, 'evil', decode('$1', 'hex') FROM roles.fleet; COMMIT" >/dev/null
}

# A change names a table the fleet does not copy (the host's own meta): refused, not applied.
hex=$(changeset meta "INSERT INTO meta (key, value) VALUES ('evil', '1');") || die "no changeset"
publish "$hex"
"$AGENT" --conf "$HCONF" --once 2>"$ERR"
RC=$?
evil=$(sql "$T/host/roles.db" "SELECT count(*) FROM meta WHERE key = 'evil'")
[ "$evil" = 0 ] && pass || fail "a change to meta, a table the fleet does not copy, was applied (rc $RC)"
[ "$RC" -eq 1 ] && pass || fail "a change to meta: agent rc $RC, not 1 (refused): $(cat "$ERR")"

finish
