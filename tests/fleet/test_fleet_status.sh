#!/bin/bash
# SPDX-License-Identifier: MIT
# The fleet seen whole (issue 16): PostgreSQL 15 of the lab's, 3 hosts, their agents run one round
# at a time (`roles-agent --once`).
#  - `rolesctl fleet status` lists every host that reported: the fleet's serial and lag 0 once
#    they caught up; a host whose agent did not run since a change shows the lag and an older
#    last contact (a round with nothing new is a contact too); a host whose outbox cannot be
#    shipped (ingest not granted) shows its depth, and 0 again once shipped; PostgreSQL
#    stopped: the failures queued are shipped once it is back; --json parses; without a
#    source: one line, exit 2;
#  - `rolesctl logins` with a source: a failure from host 1 and a success from host 2, with
#    their host names, newest first, --failed and --user; --json parses; without a source, the
#    host's own login audit as before.
#
#   test_fleet_status.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

fleet_enter fleet-status "$@"
FLEET_POLL=1
fleet_setup
need sqlite3 pamtester python3 || finish
PW='Correct-Horse-9'

run_ok "rolesctl init against PostgreSQL" arc init
[ "$RC" -eq 0 ] || die "rolesctl init against PostgreSQL"
printf '%s\n' "$PW" | arc user add alice --password-stdin >/dev/null || die "rolesctl user add alice"
for n in 1 2 3; do
        fleet_host_make "$n" "deny = 0"
        fleet_once "$n" || die "host $n: the first round (exit $?)"
done

# status HOST FIELD: HOST's FIELD in `rolesctl --json fleet status` ("missing": no such host).
status() {
        arc --json fleet status | python3 -c '
import json, sys
rows = {r["host"]: r for r in json.load(sys.stdin)}
print(rows[sys.argv[1]][sys.argv[2]] if sys.argv[1] in rows else "missing")' "$1" "$2"
}
queued() { fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/state.db "SELECT count(*) FROM outbox"; }

# ---- fleet status ---------------------------------------------------------------------------------------
serial=$(fleet_serial)
run_ok "fleet status" arc fleet status
eq "fleet status: a header and one line per host" "$(wc -l <"$OUT")" 4
eq "fleet status: the columns" "$(head -n 1 "$OUT" | tr -s ' ')" "host serial lag outbox_depth last_contact"
for n in 1 2 3; do
        eq "host $n: its row in the table" "$(awk -v h="host$n" '$1 == h { print $2, $3, $4 }' "$OUT")" "$serial 0 0"
done
eq "fleet status --json: numbers as numbers" "$(arc --json fleet status | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(len(rows), all(type(r[k]) is int for r in rows for k in ("serial", "lag", "outbox_depth")),
      sorted(rows[0]))')" "3 True ['host', 'lag', 'last_contact', 'outbox_depth', 'serial']"

# A change that host 3's agent does not see: its lag, and a contact older than the others'.
sleep 1.1
printf '%s\n' "$PW" | arc user add bob --password-stdin >/dev/null || die "rolesctl user add bob"
for n in 1 2; do fleet_once "$n" || fail "host $n: the round after bob (exit $?)"; done
eq "the fleet moved by one serial" "$(fleet_serial)" $((serial + 1))
eq "host 1 caught up: lag 0" "$(status host1 lag)" 0
eq "host 1 caught up: the fleet's serial" "$(status host1 serial)" $((serial + 1))
eq "host 3, agent stopped: lag 1" "$(status host3 lag)" 1
eq "host 3, agent stopped: its serial stays" "$(status host3 serial)" "$serial"
c1=$(status host1 last_contact) c3=$(status host3 last_contact)
[[ "$c3" < "$c1" ]] && pass || fail "host 3's last contact ($c3) is not older than host 1's ($c1)"
[[ "$c1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] && pass || fail "last_contact: not ISO 8601 UTC: $c1"
fleet_once 3 || fail "host 3: its round (exit $?)"
eq "host 3 ran: lag 0" "$(status host3 lag)" 0
# A round with nothing new is a contact too.
sleep 1.1
fleet_once 1 || fail "host 1: a round with nothing new (exit $?)"
c1b=$(status host1 last_contact)
[[ "$c1" < "$c1b" ]] && pass || fail "host 1's round with nothing new left its last contact at $c1b (was $c1)"

# A round that reaches PostgreSQL and cannot ship (its role may not run ingest): the depth shows.
pg_sql fleet "REVOKE EXECUTE ON FUNCTION roles.ingest(jsonb) FROM roles_host" >/dev/null || die "revoke ingest"
for i in 1 2; do
        printf 'wrong\n' | fleet_in 2 timeout 30 pamtester roles alice authenticate >/dev/null 2>&1 &&
                fail "host 2: a wrong password was accepted"
done
fleet_once 2
eq "host 2, ingest refused: the round fails (5)" "$?" 5
eq "host 2: the failures queued" "$(queued 2)" 2
eq "host 2: fleet status shows the outbox depth" "$(status host2 outbox_depth)" 2
eq "host 2: the shipping's failure logged once, not the report's" \
        "$(grep -c 'status not reported' "$S/hosts/2/agent.log")" 0
pg_sql fleet "GRANT EXECUTE ON FUNCTION roles.ingest(jsonb) TO roles_host" >/dev/null || die "grant ingest"
fleet_once 2 || fail "host 2: the round with ingest back (exit $?)"
eq "host 2 shipped: outbox depth 0" "$(status host2 outbox_depth)" 0

# PostgreSQL stopped: failures queue on host 1; back, they are shipped and the report says so.
pg_stop fleet || die "stop the fleet's PostgreSQL"
printf 'wrong\n' | fleet_in 1 timeout 30 pamtester roles alice authenticate >/dev/null 2>&1 &&
        fail "host 1: a wrong password was accepted"
fleet_once 1
eq "host 1, PostgreSQL stopped: the round cannot reach it (2)" "$?" 2
eq "host 1: the failure queued" "$(queued 1)" 1
run_cmd arc fleet status
eq "fleet status, PostgreSQL stopped: exit 5" "$RC" 5
eq "fleet status, PostgreSQL stopped: one line" "$(wc -l <"$ERR")" 1
pg_start fleet || die "start the fleet's PostgreSQL again"
fleet_once 1 || fail "host 1: the round after the restart (exit $?)"
eq "host 1 shipped what PostgreSQL missed: outbox depth 0" "$(status host1 outbox_depth)" 0
eq "host 1's failure reached roles.events" \
        "$(pg_sql fleet "SELECT count(*) FROM roles.events WHERE host = 'host1' AND kind = 'failure'")" 1

# ---- logins over the fleet -------------------------------------------------------------------------------
sleep 1.1
printf '%s\n' "$PW" | fleet_in 2 timeout 30 pamtester roles alice authenticate >/dev/null 2>&1 ||
        fail "host 2: alice's password refused"
fleet_once 2 || fail "host 2: the round after the success (exit $?)"
run_ok "logins with a source" arc logins
eq "logins: the columns, host first" "$(head -n 1 "$OUT" | tr -s ' ')" "host id at user service rhost result detail"
eq "logins: newest first, host 2's success" "$(sed -n 2p "$OUT" | awk '{ print $1, $4, $5, $7 }')" "host2 alice roles success"
eq "logins: host 1's failure there" "$(awk '$1 == "host1" && $7 == "failure" { n++ } END { print n + 0 }' "$OUT")" 1
eq "logins: every failure and success of roles.events" "$(($(wc -l <"$OUT") - 1))" \
        "$(pg_sql fleet "SELECT count(*) FROM roles.events WHERE kind IN ('failure', 'success')")"
run_ok "logins --failed" arc logins --failed
eq "logins --failed: no success" "$(awk 'NR > 1 && $7 != "failure"' "$OUT" | wc -l)" 0
eq "logins --failed: host 1's and host 2's" "$(awk 'NR > 1 { print $1 }' "$OUT" | sort -u | tr '\n' ' ')" "host1 host2 "
run_ok "logins --user bob" arc logins --user bob
eq "logins --user bob: none (no table, as on one host)" "$(wc -c <"$OUT")" 0
eq "logins --json" "$(arc --json logins | python3 -c '
import json, sys
rows = json.load(sys.stdin)
ok = [r for r in rows if r["result"] == "success"]
print(len(ok), ok[0]["host"], ok[0]["user"], type(ok[0]["id"]) is int,
      sorted({r["host"] for r in rows if r["result"] == "failure"}))')" "1 host2 alice True ['host1', 'host2']"

# ---- without a source ------------------------------------------------------------------------------------
sed '/^source/d' "$S/admin/roles.conf" >"$S/admin/nosource.conf" && chmod 0600 "$S/admin/nosource.conf" ||
        die "a roles.conf without a source"
run_cmd "$R" --conf "$S/admin/nosource.conf" fleet status
eq "fleet status without a source: exit 2" "$RC" 2
eq "fleet status without a source: one line" "$(wc -l <"$ERR")" 1
run_cmd "$R" --conf "$S/admin/nosource.conf" fleet upgrade
eq "fleet upgrade without a source: exit 2" "$RC" 2
eq "fleet upgrade without a source: one line" "$(wc -l <"$ERR")" 1
fleet_in 2 sh -c 'sed "/^source/d" /etc/roles.conf >"$1" && chmod 0600 "$1"' sh "$S/hosts/2/nosource.conf" ||
        die "host 2: a roles.conf without a source"
run_cmd fleet_in 2 "$R" --conf "$S/hosts/2/nosource.conf" logins
eq "logins on host 2 without a source: its own audit, no host column" "$(head -n 1 "$OUT" | tr -s ' ')" \
        "id at user service rhost result detail"
eq "logins on host 2 without a source: its 2 failures and its success, oldest first" \
        "$(fleet_in 2 "$R" --conf "$S/hosts/2/nosource.conf" --json logins | python3 -c '
import json, sys
print([r["result"] for r in json.load(sys.stdin) if r["user"] == "alice"])')" "['failure', 'failure', 'success']"
finish
