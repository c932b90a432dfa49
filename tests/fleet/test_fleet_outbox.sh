#!/bin/bash
# SPDX-License-Identifier: MIT
# The outbox of fleet hosts (issue 16, FLEET.md "Write path"): PostgreSQL 15 of the lab's, 2 hosts,
# their agents run one round at a time (`roles-agent --once`).
#  - wrong passwords on both hosts (pamtester) reach roles.events exactly once each: per host, as
#    many failures as the host's login_audit recorded, and the outboxes empty;
#  - PostgreSQL stopped: the failures queue (the agent says it cannot reach the server), and are
#    shipped once it is back;
#  - `roles-agent --once` killed with SIGKILL at random points while shipping: no event lost, none
#    twice;
#  - a schema without roles.ingest (an older init): said once, the read path goes on;
#  - state.db put back from a backup: its events are new to the fleet, not taken for ones it has;
#    what the live outbox still held is shipped all the same;
#  - host 1's backup restored on host 2: host 1's unshipped events stay host 1's, never shipped
#    again as host 2's (the fleet would count each failure twice).
#
#   test_fleet_outbox.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

fleet_enter fleet-outbox "$@"
FLEET_POLL=1
KILLS=${FLEET_OUTBOX_KILLS:-5}
fleet_setup
need sqlite3 pamtester || finish
PW='Correct-Horse-9'

run_ok "rolesctl init against PostgreSQL" arc init
[ "$RC" -eq 0 ] || die "rolesctl init against PostgreSQL"
printf '%s\n' "$PW" | arc user add alice --password-stdin >/dev/null || die "rolesctl user add alice"
for n in 1 2; do
        fleet_host_make "$n" "deny = 0"
        fleet_once "$n" || die "host $n: the first round (exit $?)"
done

# The helpers of lib.sh: alice's wrong passwords, and the counts (alice is the only one who fails).
wrong() { fleet_wrong "$1" "$2" alice; }
audited() { fleet_audited "$1"; }
queued() { fleet_queued "$1"; }
ingested() { fleet_ingested "$1"; }
check_counts() {
        local n
        for n in 1 2; do
                eq "$1: host $n's failures in roles.events, as its login_audit has them" "$(ingested "$n")" "$(audited "$n")"
                eq "$1: host $n's outbox is empty" "$(queued "$n")" 0
        done
}

# ---- failures on 2 hosts ------------------------------------------------------------------------------
wrong 3 1
wrong 2 2
eq "host 1 queued its 3 failures" "$(queued 1)" 3
for n in 1 2; do fleet_once "$n" || fail "host $n: roles-agent --once (exit $?)"; done
check_counts "shipped"
grep -q "shipped 3 outbox events (3 new) in [0-9]* ms, outbox depth 0" "$S/hosts/1/agent.log" && pass ||
        fail "host 1's agent did not log its shipping with the depth: $(tail -n 3 "$S/hosts/1/agent.log")"
eq "a host cannot write roles.events itself" \
        "$(fleet_in 1 "${NO_PRELOAD[@]}" psql -X -At "$(fleet_conf_source 1) sslmode=verify-full sslrootcert=/etc/roles/ca.pem" \
                -c "INSERT INTO roles.events VALUES ('host2', 999, 0, 'failure', 'x', '', '', NULL, '')" 2>&1 |
                grep -c 'permission denied')" 1

# ---- PostgreSQL stopped --------------------------------------------------------------------------------
pg_stop fleet || die "stop the fleet's PostgreSQL"
wrong 2 1
wrong 3 2
for n in 1 2; do
        fleet_once "$n"
        eq "host $n, PostgreSQL stopped: the round cannot reach it (2)" "$?" 2
done
eq "host 2 queues its failures" "$(queued 2)" 3
pg_start fleet || die "start the fleet's PostgreSQL again"
for n in 1 2; do fleet_once "$n" || fail "host $n: roles-agent --once after the restart (exit $?)"; done
check_counts "PostgreSQL back"

# ---- SIGKILL while shipping ----------------------------------------------------------------------------
fleet_ship_kills 1 "$KILLS" alice
fleet_once 1 || fail "host 1: the round after the kills"
check_counts "after $KILLS kills"
resent=$(grep -oE 'shipped [0-9]+ outbox events? \([0-9]+ new\)' "$S/hosts/1/agent.log" | awk '{ s += $2; f += substr($5, 2) } END { print s - f }')
read -r ka kb kc <<<"$SHIP_KILLED"
echo "# $KILLS kills within a round of $((SHIP_WINDOW / 1000)) ms: $ka before the ingest, $kb between it and the delete, $kc after"
echo "# events sent again after a kill (acknowledged before the delete): ${resent:-0}"

# ---- a schema without ingest ---------------------------------------------------------------------------
def=$(pg_sql fleet "SELECT pg_get_functiondef('roles.ingest(jsonb)'::regprocedure)") || die "ingest's definition"
pg_sql fleet "DROP FUNCTION roles.ingest(jsonb)" >/dev/null || die "drop ingest"
wrong 1 1
printf '%s\n' "$PW" | arc user add bob --password-stdin >/dev/null || die "rolesctl user add bob"
fleet_once 1
eq "without ingest: the round still installs (0)" "$?" 0
fleet_once 1
eq "without ingest: said once per run" "$(grep -c 'has no roles.ingest()' "$S/hosts/1/agent.log")" 2
eq "without ingest: bob is served" "$(fleet_in 1 getent passwd bob | cut -d: -f1)" bob
eq "without ingest: the failure stays queued" "$(queued 1)" 1
pg_sql fleet "$def" >/dev/null && pg_sql fleet "GRANT EXECUTE ON FUNCTION roles.ingest(jsonb) TO roles_host" >/dev/null ||
        die "ingest made again"
fleet_once 1 || fail "host 1: the round with ingest back"
check_counts "ingest back"

# ---- state.db put back from a backup ------------------------------------------------------------------
# Its outbox goes on above every id the host has shipped since the backup: the fleet drops an event
# whose (host, id) it has, as sent twice.
fleet_in 2 "$R" backup /var/lib/roles/before.tar >/dev/null || die "host 2: rolesctl backup"
wrong 2 2
fleet_once 2 || fail "host 2: the round after the backup"
before=$(ingested 2)
fleet_in 2 "$R" restore /var/lib/roles/before.tar >/dev/null || die "host 2: rolesctl restore"
wrong 3 2
fleet_once 2 || fail "host 2: the round after the restore"
eq "state.db restored: its 3 failures are new to the fleet" "$(ingested 2)" $((before + 3))
eq "state.db restored: its outbox is empty" "$(queued 2)" 0

# ---- state.db put back while the live outbox holds events ------------------------------------------------
# What the live file queued and has not shipped yet (PostgreSQL away, or no round since) happened:
# a restore must not take it back (secrets.db's audit keeps the live log the same way), or the
# fleet's lockout never counts those failures.
fleet_in 2 "$R" backup /var/lib/roles/before2.tar >/dev/null || die "host 2: rolesctl backup"
before=$(ingested 2)
wrong 2 2
eq "host 2: its 2 failures queued before the restore" "$(queued 2)" 2
fleet_in 2 "$R" restore /var/lib/roles/before2.tar >/dev/null || die "host 2: rolesctl restore"
eq "state.db restored: the live outbox's 2 failures still queued" "$(queued 2)" 2
fleet_once 2 || fail "host 2: the round after the restore"
eq "state.db restored: the failures queued before it reached the fleet" "$(ingested 2)" $((before + 2))
# ---- host 1's backup restored on host 2 --------------------------------------------------------------
# (A host cloned, or rebuilt from another's backup.) The events host 1 had not shipped at its backup
# are host 1's: it ships them itself, and from host 2 they would be counted again, towards alice's
# lockout on every host, as logins on host 2.
wrong 2 1
eq "host 1: its 2 failures queued" "$(queued 1)" 2
fleet_in 1 "$R" backup /var/lib/roles/host1.tar >/dev/null || die "host 1: rolesctl backup"
fleet_once 1 || fail "host 1: the round after its backup"
fleet_in 1 cat /var/lib/roles/host1.tar | fleet_in 2 sh -c 'cat >/var/lib/roles/host1.tar' || die "host 1's archive to host 2"
before=$(ingested 2)
total=$(pg_sql fleet "SELECT count(*) FROM roles.events WHERE kind = 'failure'")
wrong 1 2
fleet_in 2 "$R" restore /var/lib/roles/host1.tar >"$S/restore.out" || die "host 2: rolesctl restore of host 1's archive"
grep -qF "not kept: the archive's 2 unshipped outbox events: the archive is host host1's, not this host's (host2)" \
        "$S/restore.out" && pass || fail "host 2: the restore did not say so: $(cat "$S/restore.out")"
eq "host 1's archive on host 2: only host 2's own failure queued" "$(queued 2)" 1
fleet_once 2 || fail "host 2: the round after the restore"
eq "host 1's archive on host 2: host 2 shipped only its own failure" "$(ingested 2)" $((before + 1))
eq "host 1's archive on host 2: each failure counted once in the fleet" \
        "$(pg_sql fleet "SELECT count(*) FROM roles.events WHERE kind = 'failure'")" $((total + 1))

# ---- a restored roles.db is no fleet serial's ----------------------------------------------------------
# roles.db says which fleet serial it was brought to (meta fleet_serial), and a round goes on from
# there. In an archive that is the archive's word, not the fleet's: one above the fleet's serial
# would have every round refused ("below the installed"), the host never to get a change again (a
# disable, a new password); one at the live serial keeps what its files hold that the fleet took
# away (the round has nothing to send). The round after a restore copies the fleet whole.
printf '%s\n' "$PW" | arc user add carol --password-stdin >/dev/null || die "rolesctl user add carol"
fleet_once 2 || fail "host 2: the round that brings carol"
fleet_in 2 "$R" backup /var/lib/roles/carol.tar >/dev/null || die "host 2: rolesctl backup"
arc user del carol >/dev/null || die "rolesctl user del carol"
fleet_once 2 || fail "host 2: the round that takes carol away"
eq "setup: carol is gone from host 2" "$(fleet_in 2 getent passwd carol | cut -d: -f1)" ""
claim() {       # claim DESC SERIAL: carol.tar, its roles.db claiming fleet serial SERIAL, restored on host 2
        rm -rf "$S/claim" && mkdir "$S/claim" && fleet_in 2 cat /var/lib/roles/carol.tar | tar -xf - -C "$S/claim" &&
                sqlite3 "$S/claim/roles.db" "UPDATE meta SET value = '$2' WHERE key = 'fleet_serial'" &&
                tar --format=ustar -C "$S/claim" -cf - roles.db secrets.db state.db fleet-host |
                fleet_in 2 sh -c 'cat >/var/lib/roles/claim.tar' || die "$1: the archive"
        fleet_in 2 "$R" restore /var/lib/roles/claim.tar >/dev/null || die "$1: rolesctl restore"
        fleet_once 2
        eq "$1: the round after the restore installs" "$?" 0
        eq "$1: carol, whom the fleet took away, is not served" "$(fleet_in 2 getent passwd carol | cut -d: -f1)" ""
}
live=$(fleet_files_serial 2)
claim "an archive claiming a serial above the fleet's" $((live + 1000000))
claim "an archive claiming the live serial" "$live"
finish
