#!/bin/bash
# SPDX-License-Identifier: MIT
# A fleet made by an older build, brought to this build's fleet version (fleet.h,
# ROLES_FLEET_VERSION) by `rolesctl fleet upgrade` (common/fleet_upgrade.c):
#  - no fleet at all: exit 3, run init;
#  - the old fleet is real: old-fleet-ce60a0c.sql, what `rolesctl init` made before the write
#    path (its header says how it was made), loaded into the lab's PostgreSQL;
#  - on it, this build's rolesctl makes changes and says once to run the upgrade; 2 hosts of this
#    build install them and their agents say so once; what it lacks (fleet status, a code
#    login) fails with that reason, the code unspent;
#  - the upgrade held off by a host's transaction open on roles.fleet: refused within seconds,
#    exit 4, nothing changed (never a wait without end, with every host's read queued behind it);
#  - two upgrades at once: one does it, the other finds nothing to do, both exit 0;
#  - the upgrade: one line of what it did, exit 0; every host installs its serial; the upgraded
#    schema is the one a fresh init makes, object for object; the write path works: a failed
#    login ingested in roles.events, the activation code claimed on the primary, fleet status;
#  - the upgrade again: "nothing to do", exit 0, no serial taken, the schema unchanged;
#  - at this version but made by another build's text of its objects (a function fixed since):
#    made again, no serial taken, said so; then nothing to do;
#  - a fleet version newer than the build: the upgrade, rolesctl's changes and the hosts' agents
#    refuse it, saying to upgrade this host first.
#
#   test_fleet_upgrade.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

fleet_enter fleet-upgrade "$@"
FLEET_POLL=1
fleet_setup
need sqlite3 pamtester python3 || finish
FIXTURE=$fleet_lib_dir/old-fleet-ce60a0c.sql
HINT="run 'rolesctl fleet upgrade' once"
PW='Correct-Horse-9'

# schema DB: the roles schema of database DB as pg_dump writes it, without its comments and the
# random key of \restrict.
schema() {
        pg_server "$PGBIN/pg_dump" -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -U postgres --schema-only --schema=roles \
                -d "$1" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^$'
}
# refused DESC CMD...: CMD exits non-zero (RC, $OUT, $ERR).
refused() { run_cmd "${@:2}"; [ "$RC" -ne 0 ]; eq "$1" "$?" 0; }
login() { printf '%s\n' "$3" | fleet_in "$1" timeout 30 pamtester roles "$2" authenticate acct_mgmt >"$OUT" 2>&1; RC=$?; }
code_of() { grep -oE '[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}' "$1" | head -n 1; }

# ---- no fleet, then the old fleet -----------------------------------------------------------------------------------
run_cmd arc fleet upgrade
eq "no fleet: fleet upgrade exits 3" "$RC" 3
eq "no fleet: and says to init" "$(cat "$ERR")" \
        "rolesctl: the account server has no roles schema: run 'rolesctl init' with its source"
# Owned by the administrator's role, as a fleet made by README's setup is.
sed 's/ OWNER TO postgres;/ OWNER TO rolesadmin;/' "$FIXTURE" >"$S/fixture.sql" || die "$FIXTURE"
no_preload psql -X -q -v ON_ERROR_STOP=1 -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -U postgres -d "$FLEET_DB" \
        -f "$S/fixture.sql" >"$S/load.log" 2>&1 || { cat "$S/load.log"; die "loading $FIXTURE"; }
eq "the old fleet: no fleet version, no ingest" "$(pg_sql fleet "SELECT count(*) FROM pg_attribute
        WHERE attrelid = 'roles.fleet'::regclass AND attname = 'fleet_version'")+$(pg_sql fleet "SELECT count(*) FROM pg_proc
        WHERE proname = 'ingest'")" "0+0"

printf '%s\n' "$PW" | arc user add alice --password-stdin >"$OUT" 2>"$ERR"
eq "old fleet: rolesctl user add alice" "$?" 0
eq "old fleet: rolesctl says once to upgrade" "$(grep -c "$HINT" "$ERR")" 1
arc user add late --activation >"$S/late.out" 2>"$ERR" || die "rolesctl user add late --activation"
CODE=$(code_of "$S/late.out")
[ -n "$CODE" ] || die "no activation code for late"
for n in 1 2; do
        fleet_host_start "$n" "deny = 3"
        fleet_in "$n" sh -c "echo 'password required $MOD' >>/etc/pam.d/roles" || die "host $n: a password line"
done
fleet_wait_serial "$(fleet_serial)" 30 1 2 >/dev/null || die "hosts 1-2 did not install the old fleet"
arc user add bob >/dev/null 2>&1 || die "rolesctl user add bob"
fleet_wait_serial "$(fleet_serial)" 30 1 2 >/dev/null || die "hosts 1-2 did not install bob"
for n in 1 2; do
        eq "old fleet: host $n serves alice and bob" "$(fleet_in "$n" getent passwd alice bob | cut -d: -f1 | tr '\n' ' ')" \
                "alice bob "
        eq "old fleet: host $n's agent said once to upgrade" "$(grep -c "$HINT" "$S/hosts/$n/agent.log")" 1
done
grep -h "$HINT" "$S/hosts/1/agent.log" "$ERR" | sed "s/^/# /"
login 1 alice "$PW"
eq "old fleet: a password login on host 1" "$RC" 0
refused "old fleet: fleet status" arc fleet status
grep -q "has no roles.hosts: .*$HINT" "$ERR"
eq "old fleet: fleet status says to upgrade" "$?" 0
printf '%s\n' "$CODE" | fleet_in 1 timeout 30 pamtester roles late authenticate >"$OUT" 2>&1
[ "$?" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "old fleet: an activation code login refused" "$?" 0
grep -q "has no claim functions: .*$HINT" "$S/hosts/1/agent.log"
eq "old fleet: the agent says why" "$?" 0
eq "old fleet: the code unspent on the primary" "$(pg_sql fleet "SELECT count(*) FROM roles.codes c JOIN roles.users u
        ON u.uuid = c.user_uuid WHERE u.name = 'late' AND c.used_at IS NULL")" 1

# ---- the upgrade, a host's transaction open on roles.fleet -------------------------------------------------------
# A host's login role may read roles.fleet (its grant) in a transaction left open, holding an
# ACCESS SHARE lock for as long as it likes. The upgrade's ACCESS EXCLUSIVE lock must not wait for
# it without end: while it waits, every host's read and every change queue behind it.
no_preload psql -X -q -At -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -U postgres -d "$FLEET_DB" \
        -c "BEGIN; SET ROLE host1; SELECT serial FROM roles.fleet; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
holder=$!
held=1
for _ in $(seq 100); do
        [ "$(pg_sql fleet "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.granted
                AND l.relation = 'roles.fleet'::regclass AND a.usename = 'postgres' AND a.query LIKE '%pg_sleep(60)%'
                AND a.pid <> pg_backend_pid()")" = 1 ] && { held=0; break; }
        sleep 0.1
done
[ "$held" = 0 ] || die "host 1's role did not get its lock on roles.fleet"
t0=$(date +%s%N)
run_cmd arc fleet upgrade
waited=$((($(date +%s%N) - t0) / 1000000))
eq "held off by a host's open transaction: fleet upgrade refused, exit 4" "$RC" 4
[ "$waited" -lt 10000 ]
eq "held off by a host's open transaction: refused within 10 s (${waited} ms)" "$?" 0
eq "held off by a host's open transaction: says why, one line" "$(cat "$ERR")" \
        "rolesctl: the fleet's tables are in use by another session (5 tries of 1 s): nothing changed; try again"
eq "held off by a host's open transaction: still at version 1" "$(pg_sql fleet "SELECT count(*) FROM pg_attribute
        WHERE attrelid = 'roles.fleet'::regclass AND attname = 'fleet_version'")" 0
pg_sql fleet "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'
        AND pid <> pg_backend_pid()" >/dev/null
wait "$holder" 2>/dev/null

# ---- the upgrade ----------------------------------------------------------------------------------------------------
# Two at once: both queue behind a short holder of roles.fleet, then run one after the other; the
# second (its snapshot taken after the lock) finds the fleet current and does nothing.
before=$(fleet_serial)
no_preload psql -X -q -At -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -U postgres -d "$FLEET_DB" \
        -c "BEGIN; LOCK TABLE roles.fleet IN ACCESS SHARE MODE; SELECT pg_sleep(0.5); COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 0.1
arc fleet upgrade >"$S/second.out" 2>"$S/second.err" &
second=$!
run_cmd arc fleet upgrade
wait "$second"
eq "two upgrades at once: the other exits 0 ($(cat "$S/second.err"))" "$?" 0
wait "$holder"
sed 's/^/# /' "$OUT"
if grep -q '^upgraded' "$S/second.out"; then cp "$S/second.out" "$S/first.out"; cp "$OUT" "$S/second.out"; cp "$S/first.out" "$OUT"; fi
last_ok "fleet upgrade"
eq "two upgrades at once: the other found nothing to do" "$(cat "$S/second.out")" \
        "the fleet's schema is at version 2, this build's: nothing to do"
eq "fleet upgrade: what it did" "$(head -n 1 "$OUT")" "upgraded the fleet's schema from version 1 to 2 at serial $((before + 1))"
for o in roles.events roles.hosts roles.claimed 'roles.ingest(jsonb)' 'roles.claim_code(text,text,bytea)'; do
        grep -q "^created: .*$o" "$OUT"
        eq "fleet upgrade: created $o" "$?" 0
done
eq "fleet upgrade: the fleet's version and serial" "$(pg_sql fleet "SELECT fleet_version, serial FROM roles.fleet")" "2|$((before + 1))"
eq "fleet upgrade: in the change log" "$(pg_sql fleet "SELECT actor LIKE 'fleet upgrade from version 1 to 2 (%)' FROM roles.changes
        WHERE serial = $((before + 1))")" t
fleet_wait_serial "$((before + 1))" 10 1 2 >/dev/null
eq "both hosts installed the upgrade's serial" "$?" 0
for n in 1 2; do
        eq "host $n's agent saw the upgrade" "$(grep -c "the fleet's schema is now version 2" "$S/hosts/$n/agent.log")" 1
done
pg_sql fleet "CREATE DATABASE fresh OWNER rolesadmin" postgres >/dev/null || die "a database for a fresh fleet"
"$R" --conf "$S/admin/roles.conf" --source "host=${PG_DIR[fleet]} port=${PG_PORT[fleet]} dbname=fresh user=rolesadmin" \
        init >/dev/null 2>"$ERR" || die "rolesctl init of a fresh fleet"
eq "init by README's role: no warning" "$(cat "$ERR")" ""
eq "init by README's role: it owns every function of the schema" "$(pg_sql fleet "SELECT count(*) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'roles'
        AND pg_get_userbyid(p.proowner) <> 'rolesadmin'" fresh)" 0
# As a superuser: it works, and says what it means for the functions hosts call.
pg_sql fleet "CREATE DATABASE bysuper" postgres >/dev/null || die "a database for a superuser's fleet"
"$R" --conf "$S/admin/roles.conf" --source "host=${PG_DIR[fleet]} port=${PG_PORT[fleet]} dbname=bysuper user=postgres" \
        init >/dev/null 2>"$ERR"
eq "init as a superuser: done" "$?" 0
eq "init as a superuser: one warning line" "$(grep -c '^rolesctl: warning: connected as a superuser: the functions hosts call run as the role that made them' "$ERR")+$(wc -l <"$ERR")" "1+1"
schema "$FLEET_DB" >"$S/upgraded.sql"
schema fresh >"$S/fresh.sql"
diff "$S/fresh.sql" "$S/upgraded.sql" >"$S/schema.diff"
eq "the upgraded schema is a fresh one's ($(wc -l <"$S/fresh.sql") lines)" "$(cat "$S/schema.diff")" ""

# ---- the write path on the upgraded fleet ---------------------------------------------------------------------------
printf '%s\n' "$PW" | arc user add carol --password-stdin >"$OUT" 2>"$ERR" || fail "rolesctl user add carol"
eq "upgraded: rolesctl no longer says to upgrade" "$(grep -c "$HINT" "$ERR")" 0
fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "hosts 1-2 did not install carol"
login 1 carol 'Wrong-Horse-0'
[ "$RC" -ne 0 ]
eq "upgraded: a wrong password on host 1 refused" "$?" 0
ingested=
for _ in $(seq 100); do
        ingested=$(pg_sql fleet "SELECT count(*) FROM roles.events e JOIN roles.users u ON u.uuid = e.user_uuid
                WHERE u.name = 'carol' AND e.kind = 'failure' AND e.host = 'host1'")
        [ "$ingested" = 1 ] && break
        sleep 0.1
done
eq "upgraded: the failure ingested once in roles.events" "$ingested" 1
printf '%s\n' "$CODE" | fleet_in 2 timeout 30 pamtester roles late authenticate >"$OUT" 2>&1
eq "upgraded: late's activation code accepted on host 2" "$?" 0
eq "upgraded: the code spent on the primary" "$(pg_sql fleet "SELECT count(*) FROM roles.codes c JOIN roles.users u
        ON u.uuid = c.user_uuid WHERE u.name = 'late' AND c.used_at IS NOT NULL")" 1
printf '%s\n' "$CODE" | fleet_in 1 timeout 30 pamtester roles late authenticate >"$OUT" 2>&1
[ "$?" -ne 0 ]
eq "upgraded: the same code refused on host 1" "$?" 0
for _ in $(seq 50); do [ "$(arc fleet status 2>/dev/null | grep -c '^host[12] ')" = 2 ] && break; sleep 0.1; done
eq "upgraded: fleet status lists both hosts" "$(arc fleet status | grep -c '^host[12] ')" 2

# ---- the upgrade again: nothing -------------------------------------------------------------------------------------
serial=$(fleet_serial)
run_ok "fleet upgrade again" arc fleet upgrade
eq "fleet upgrade again: nothing to do" "$(cat "$OUT")" "the fleet's schema is at version 2, this build's: nothing to do"
eq "fleet upgrade again: no serial taken" "$(fleet_serial)" "$serial"
schema "$FLEET_DB" | diff "$S/upgraded.sql" - >"$S/again.diff"
eq "fleet upgrade again: the schema unchanged" "$(cat "$S/again.diff")" ""
eq "fleet upgrade --json" "$(arc --json fleet upgrade | python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["from"], a["to"], a["serial"])')" \
        "2 2 0"

# ---- at this version, but made by another build's text: made again ------------------------------------------------
# A function's body fixed without a new fleet version (stop 25: the current second floored, not
# rounded): a fleet made before, or by a build whose objects_digest predates the column, has its
# objects made again, without a serial (hosts read nothing new), and says so; then nothing to do.
pg_sql fleet "ALTER TABLE roles.fleet DROP COLUMN objects_digest; DROP FUNCTION roles.publish_unlock(text, text)" >/dev/null ||
        die "an older build's objects at version 2"
serial=$(fleet_serial)
run_ok "fleet upgrade of objects another build made" arc fleet upgrade
eq "another build's objects: made again, and said so" "$(head -n 2 "$OUT")" \
        "the fleet's schema is at version 2, this build's, but was made by another build's text of it
created: roles.publish_unlock(text,text)"
eq "another build's objects: no serial taken" "$(fleet_serial)" "$serial"
schema "$FLEET_DB" | diff "$S/upgraded.sql" - >"$S/remade.diff"
eq "another build's objects: the schema a fresh init makes again" "$(cat "$S/remade.diff")" ""
run_ok "fleet upgrade after that" arc fleet upgrade
eq "fleet upgrade after that: nothing to do" "$(cat "$OUT")" "the fleet's schema is at version 2, this build's: nothing to do"
pg_sql fleet "UPDATE roles.fleet SET objects_digest = 'another build'" >/dev/null || die "another build's digest"
eq "fleet upgrade --json of another build's objects" "$(arc --json fleet upgrade |
        python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["from"], a["to"], a["serial"], a["remade"])')" "2 2 0 True"

# ---- a fleet newer than this build ----------------------------------------------------------------------------------
pg_sql fleet "BEGIN; UPDATE roles.fleet SET fleet_version = 3, serial = serial + 1;
        INSERT INTO roles.changes (serial, actor) SELECT serial, 'a newer build' FROM roles.fleet; COMMIT" >/dev/null ||
        die "a newer fleet version"
newer=$(fleet_serial)
refused "newer fleet: fleet upgrade refused" arc fleet upgrade
eq "newer fleet: fleet upgrade says why" "$(cat "$ERR")" \
        "rolesctl: the fleet's schema is version 3, newer than this build's (2): upgrade roles on this host first"
eq "newer fleet: left at version 3" "$(pg_sql fleet "SELECT fleet_version FROM roles.fleet")" 3
refused "newer fleet: rolesctl user add refused" arc user add dave
grep -q "the fleet's schema is version 3, newer than this build's (2): upgrade roles on this host first" "$ERR"
eq "newer fleet: rolesctl says why" "$?" 0
eq "newer fleet: nothing pushed" "$(fleet_serial)" "$newer"
for n in 1 2; do
        said=1
        for _ in $(seq 50); do
                grep -q "refused serial $newer: the fleet's schema is version 3, newer than this build's (2): upgrade roles on this host first" \
                        "$S/hosts/$n/agent.log" && { said=0; break; }
                sleep 0.1
        done
        eq "newer fleet: host $n's agent refuses it and says why" "$said" 0
        [ "$(fleet_files_serial "$n")" -lt "$newer" ]
        eq "newer fleet: host $n did not install it" "$?" 0
done
login 2 alice "$PW"
eq "newer fleet: logins go on from the installed serial" "$RC" 0

finish
