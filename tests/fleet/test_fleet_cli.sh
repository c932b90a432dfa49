#!/bin/bash
# SPDX-License-Identifier: MIT
# rolesctl against PostgreSQL (issue 15, FLEET.md "Parts"), without hosts: a PostgreSQL 15 of the
# lab's (tests/fleet/lib.sh), two administrators with copies of their own.
#  - the same commands give the same output, JSON and exit codes against PostgreSQL as on a
#    single host (uuids and times aside), the refusals too;
#  - the write skew of a metarole cycle: two administrators add the two halves at the same
#    moment (both copies at the same serial, both pushes held at the server until both have
#    checked their half): exactly one wins, the other is run again on a fresh copy and refused;
#    never a cycle on the server. Ten rounds;
#  - audit and perms --why answer from the fleet: one administrator sees the other's changes;
#  - the rules of the connection: a password in the source, a TCP source without fleet_ca, a
#    server whose certificate the CA does not sign: refused with one line, nothing changed;
#  - what stays on the host (user locked) reads the host's own files, not the fleet's;
#  - roles-agent --once: its exit codes (no source 3, unreachable 2, installed 0).
#
#   test_fleet_cli.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

fleet_enter fleet-cli "$@"
fleet_setup
# A second administrator, with a copy of its own (another machine).
test_conf "$S/admin2" "source=host=${PG_DIR[fleet]} port=${PG_PORT[fleet]} dbname=$FLEET_DB user=postgres" \
        "fleet_cache=$S/admin2/cache" || die "admin2's roles.conf"
arc2() { "$R" --conf "$S/admin2/roles.conf" "$@"; }
test_conf "$S/local" || die "the single host's roles.conf"
lrc() { "$R" --conf "$S/local/roles.conf" "$@"; }

run_ok "rolesctl init against PostgreSQL" arc init
run_ok "rolesctl init again: the schema is there, nothing to do" arc init
run_ok "rolesctl init on the single host" lrc init

# ---- the same answers ---------------------------------------------------------------------------------
# Masked: uuids, times (ISO and epoch in JSON), and the databases' paths.
norm() {
        sed -E -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UUID/g' \
                -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/g' -e 's/"(at|created|activated|assigned_at|changed)":[0-9]+/"\1":N/g' \
                -e "s#$S/(local|admin/cache/fleet-[0-9a-f]+)#DIR#g"
}
same() {
        local what=$1 a b
        shift
        "$R" --conf "$S/local/roles.conf" "$@" </dev/null >"$S/l.out" 2>"$S/l.err"
        a="$?|$(norm <"$S/l.out")|$(norm <"$S/l.err")"
        arc "$@" </dev/null >"$S/f.out" 2>"$S/f.err"
        b="$?|$(norm <"$S/f.out")|$(norm <"$S/f.err")"
        eq "same answer against PostgreSQL: $what" "$b" "$a"
}
same "user add" user add alice --full-name "Alice A" --email alice@example.org
same "user add, a name taken (4)" user add alice
same "user add, an invalid name (2)" user add Bad:Name
same "user add, --json" --json user add bob
same "group add" group add devs
same "group adduser" group adduser devs alice
same "group adduser, no such user (3)" group adduser devs nobody
same "metarole add" metarole add ops
same "metarole grant" metarole grant ops srv.restart
same "metarole include" metarole include admin ops
same "metarole include, a cycle (4)" metarole include ops admin
same "metarole publish" metarole publish ops
same "role add" role add oncall --metarole ops
same "role assign" role assign oncall alice
same "check, yes (0)" check alice srv.restart
same "check, no (1)" check alice srv.stop
same "perms --why" perms alice --why
same "user show" user show alice
same "user show --json" --json user show alice
same "group show" group show devs
same "metarole show" metarole show ops
same "user list" user list
same "group list --json" --json group list
same "batch" batch <(printf 'group add batched\ngroup adduser batched bob\n')
same "user disable" user disable bob
same "user del" user del bob
same "user show, gone (3)" user show bob

# ---- the write skew of a metarole cycle ------------------------------------------------------------------
arc metarole add left >/dev/null && arc metarole add right >/dev/null || die "metaroles left and right"
# hold_serial SECONDS: a transaction holding the fleet's serial row, so that pushes queue behind it
# (run in the background: $! is it).
hold_serial() {
        no_preload psql -X -q -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -U postgres -d "$FLEET_DB" \
                -c "BEGIN; SELECT serial FROM roles.fleet FOR UPDATE; SELECT pg_sleep($1); COMMIT" >/dev/null
}
wins=0 refused=0 other=0
for round in $(seq 10); do
        arc metarole exclude left right >/dev/null 2>&1
        arc metarole exclude right left >/dev/null 2>&1
        arc user list >/dev/null && arc2 user list >/dev/null || die "copies up to date"
        hold_serial 1.5 &
        hold=$!
        sleep 0.3
        arc metarole include left right >"$S/a.out" 2>"$S/a.err" &
        a=$!
        arc2 metarole include right left >"$S/b.out" 2>"$S/b.err" &
        b=$!
        wait "$a"; ra=$?
        wait "$b"; rb=$?
        wait "$hold"
        for rc in $ra $rb; do
                case $rc in 0) wins=$((wins + 1)) ;; 4) refused=$((refused + 1)) ;; *) other=$((other + 1)) ;; esac
        done
        cycle=$(pg_sql fleet "SELECT count(*) FROM roles.metarole_includes a JOIN roles.metarole_includes b
                ON a.parent_id = b.child_id AND a.child_id = b.parent_id")
        [ "$cycle" = 0 ] || { fail "round $round: a cycle on the server"; cat "$S/a.err" "$S/b.err"; }
done
eq "write skew: one of the two halves wins each round, the other is refused as a cycle (exit 4)" \
        "$wins:$refused:$other" "10:10:0"
grep -q "cycle" "$S/a.err" "$S/b.err" && pass || fail "the refused half does not say why: $(cat "$S/a.err" "$S/b.err")"

# ---- one fleet, two administrators ------------------------------------------------------------------------
run_ok "admin2 adds a user" arc2 user add carol
run_ok "admin sees it" arc user show carol
run_ok "audit against PostgreSQL" arc audit
out_has "the audit holds admin2's change" "carol"
run_ok "perms --why against PostgreSQL" arc perms alice --why
out_has "perms --why says through what" "oncall"

# ---- the rules of the connection ---------------------------------------------------------------------------
before=$(pg_sql fleet "SELECT serial FROM roles.fleet")
run_cmd "$R" --conf "$S/admin/roles.conf" --source "host=${PG_DIR[fleet]} port=${PG_PORT[fleet]} dbname=$FLEET_DB user=postgres password=x" group add pw
[ "$RC" -ne 0 ] && one_error && err_has "a password in the source is refused" "password" || fail "a password in the source"
run_cmd "$R" --conf "$S/admin/roles.conf" --source "postgresql://postgres:secret@127.0.0.1:${PG_PORT[fleet]}/$FLEET_DB" group add pw
[ "$RC" -ne 0 ] && one_error && err_has "a password in a URI source is refused" "password" || fail "a password in a URI"
run_cmd "$R" --conf "$S/admin/roles.conf" --source "host=127.0.0.1 port=${PG_PORT[fleet]} dbname=$FLEET_DB user=postgres sslmode=disable" group add tcp
[ "$RC" -ne 0 ] && one_error && err_has "a TCP source without fleet_ca is refused" "fleet_ca" || fail "a TCP source without fleet_ca"
test_conf "$S/admin3" "source=host=127.0.0.1 port=${PG_PORT[fleet]} dbname=$FLEET_DB user=postgres sslmode=disable" \
        "fleet_ca=$S/rogue-ca/ca.pem" "fleet_cache=$S/admin3/cache" || die "admin3's roles.conf"
run_cmd "$R" --conf "$S/admin3/roles.conf" group add rogue
[ "$RC" -ne 0 ] && one_error && err_has "a server the CA does not sign is refused (sslmode=disable in the source or not)" \
        "certificate verify failed" || fail "a server the CA does not sign"
eq "nothing reached the fleet" "$(pg_sql fleet "SELECT serial FROM roles.fleet")" "$before"

# ---- what stays on the host ------------------------------------------------------------------------------
test_conf "$S/host" "source=host=${PG_DIR[fleet]} port=${PG_PORT[fleet]} dbname=$FLEET_DB user=postgres" \
        "fleet_cache=$S/host/cache" || die "the host's roles.conf"
run_cmd "$R" --conf "$S/host/roles.conf" user locked
[ "$RC" -ne 0 ] && err_has "user locked reads the host's own files (none here)" "$S/host/roles.db" ||
        fail "user locked did not read the host's own files"
run_cmd "$A" --conf "$S/local/roles.conf" --once
eq "roles-agent without a source: exit 3" "$RC" 3
run_cmd "$A" --conf "$S/host/roles.conf" --once
eq "roles-agent --once installs the fleet on a host: exit 0" "$RC" 0
err_has "it logs the serial it installed" "installed serial $(pg_sql fleet "SELECT serial FROM roles.fleet")"
pg_stop fleet || die "stop PostgreSQL"
run_cmd "$A" --conf "$S/host/roles.conf" --once
eq "roles-agent --once, the server down: exit 2" "$RC" 2
run_cmd arc group add down
[ "$RC" -ne 0 ] && one_error && err_has "an admin change with the server down: one line" "cannot be reached" ||
        fail "an admin change with the server down"
finish
