#!/bin/bash
# SPDX-License-Identifier: MIT
# The small fleet lab CI runs (issue 15's lab table, each row once; FLEET.md "The lab"): PostgreSQL
# 15 started here with TLS, 5 hosts (mount namespaces with their own /etc, /var/lib/roles,
# /run/roles and roles-agent), 1,000 users imported through rolesctl against PostgreSQL.
#  - TLS itself: psql with verify-full reaches the fleet's server with the lab's CA, not with the
#    rogue one, and not the rogue server with the lab's;
#  - a change reaches every host (p50 and p99 printed);
#  - a fleet user whose name is a local account on host 2 is not served there, served elsewhere;
#    host 5 (host_secrets = none) serves accounts and refuses passwords;
#  - the agent killed with SIGKILL at random points of `roles-agent --once`: the host is on the
#    old or the new serial (a change of a user, a group and its member: all or nothing; getent
#    agrees with `rolesctl user show` against PostgreSQL), and the next round completes;
#  - PostgreSQL stopped: getent, id, password and password + TOTP logins (pamtester) on every
#    host; an admin change fails with one line;
#  - PostgreSQL back: every host on the latest serial within one poll;
#  - a server with a certificate from another CA at the fleet's address: refused, nothing
#    installed;
#  - the primary restored from a dump taken before the last change: refused and reported on
#    every host, the files kept.
# Host 3 reaches the fleet through pgbouncer in transaction pooling mode (TLS, its client
# certificate), host 4 reads it from a hot standby streaming from the primary (it refuses LISTEN: its
# agent polls), through every scenario; rolesctl against the standby fails in one line.
#
#   test_fleet.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

fleet_enter fleet "$@"
on_die() {
        local f
        for f in "$S"/hosts/*/agent.log; do
                [ -e "$f" ] && { echo "# ${f#"$S"/}:"; tail -n 5 "$f" | sed 's/^/#   /'; }
        done
}
HOSTS=5
USERS=${FLEET_USERS:-1000}
FLEET_POLL=1
fleet_setup
need sqlite3 || finish
ALL=$(seq "$HOSTS")
declare -a sums_before
PW='Correct-Horse-9'
nl=$'\n'

# ---- the fleet --------------------------------------------------------------------------------------
run_ok "rolesctl init against PostgreSQL" arc init
[ "$RC" -eq 0 ] || die "rolesctl init against PostgreSQL"
fleet_seed "$USERS" "$S/seed" || die "the seed"
run_ok "rolesctl import of $USERS users against PostgreSQL" \
        arc import --passwd "$S/seed/passwd" --group "$S/seed/group" --shadow "$S/seed/shadow"
for u in alice tina localdup; do
        printf '%s\n' "$PW" | arc user add "$u" --password-stdin >/dev/null || die "rolesctl user add $u"
done
uri=$(arc user totp enroll tina) || die "rolesctl user totp enroll tina"
TINA_SECRET=$(grep -oE 'secret=[A-Z2-7]+' <<<"$uri" | cut -d= -f2)
[ -n "$TINA_SECRET" ] || die "no TOTP secret in <<$uri>>"
LOCALDUP_UID=$(fleet_uid localdup) || die "rolesctl user show localdup"

# ---- a hot standby: host 4 reads the fleet from it --------------------------------------------------------
# Streaming from the primary (pg_basebackup -R over its socket), the same TLS server certificate,
# a port of its own. It stays up through every scenario below: with the primary stopped, host 4
# still reaches its server; with a rogue server on the primary's address, the standby has lost its
# primary and host 4 stays where it was; the restored dump reaches it by replication.
pg_standby standby fleet && pg_start standby || die "the hot standby"
eq "the standby is in recovery" "$(pg_sql standby "SELECT pg_is_in_recovery()")" t
eq "the primary streams to it" "$(pg_sql fleet "SELECT state FROM pg_stat_replication")" streaming
HOST_PORT[4]=${PG_PORT[standby]}
# A standby refuses LISTEN: its hosts' agents poll.
run_cmd pg_sql standby "LISTEN roles_serial"
if [ "$RC" -ne 0 ]; then err_has "the standby refuses LISTEN" "cannot execute LISTEN during recovery"; else
        fail "LISTEN on the standby succeeded"
fi
# rolesctl against the standby: read-only, one line.
mkdir -p "$S/standby-admin/cache" &&
        test_conf "$S/standby-admin" "source=host=${PG_DIR[standby]} port=${PG_PORT[standby]} dbname=$FLEET_DB user=postgres" "${FLEET_IDS[@]}" \
                "fleet_cache=$S/standby-admin/cache" || die "roles.conf for the standby"
run_cmd "$R" --conf "$S/standby-admin/roles.conf" group add onstandby
if [ "$RC" -ne 0 ] && one_error && grep -q "read-only standby" "$ERR"; then pass; else
        fail "rolesctl group add against the standby: want a failure in one line saying read-only"
        show_last
fi

# ---- pgbouncer: host 3 reaches the fleet through it ---------------------------------------------------------
# Transaction pooling (a server connection is the client's for one transaction only: the fleet
# code keeps nothing on the session), TLS to the host with the fleet's server certificate, the
# host authenticated by its certificate, on to PostgreSQL over its socket.
fleet_bouncer_start || die "pgbouncer"
HOST_PORT[3]=$BOUNCER_PORT

# ---- TLS, as libpq sees it ------------------------------------------------------------------------------
for n in $ALL; do
        [ "$n" = 5 ] && group=roles_host || group=roles_host_secrets
        fleet_host_role "$n" "$group" || die "host $n: its PostgreSQL role"
done
h1=$S/hosts/1
tls() { no_preload psql -X -At "host=127.0.0.1 port=$1 dbname=$FLEET_DB user=host1 sslmode=verify-full sslrootcert=$2 sslcert=$h1/host1.pem sslkey=$h1/host1.key" -c 'SELECT 1'; }
run_cmd tls "${PG_PORT[fleet]}" "$S/ca/ca.pem"
eq "psql verify-full with the lab's CA and host1's certificate" "$RC:$(cat "$OUT")" "0:1"
run_cmd tls "${PG_PORT[fleet]}" "$S/rogue-ca/ca.pem"
[ "$RC" -ne 0 ] && err_has "psql verify-full with the rogue CA is refused" "certificate verify failed" ||
        fail "psql verify-full with the rogue CA connected"

# ---- hosts ------------------------------------------------------------------------------------------------
fleet_host_make 2
echo "localdup:x:1500:1500:host 2's own:/nonexistent:/usr/sbin/nologin" | fleet_in 2 tee -a /etc/passwd >/dev/null ||
        die "host 2: its local account localdup"
for n in $ALL; do
        [ "$n" = 5 ] && fleet_host_make 5 "host_secrets = none"
        fleet_host_start "$n"
done
LATEST=$(fleet_serial) || die "the fleet's serial"
late=$(fleet_wait_serial "$LATEST" 60 $ALL) || die "hosts not on serial $LATEST after 60 s: $late"
pass
# Host 4's agent holds its connection on the standby, none on the primary.
eq "host 4's agent is connected to the standby" \
        "$(pg_sql standby "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'host4'")" t
eq "host 4's agent is not connected to the primary" \
        "$(pg_sql fleet "SELECT count(*) FROM pg_stat_activity WHERE usename = 'host4'")" 0
# Host 3's agent logged in to pgbouncer over TLS; PostgreSQL sees host 3 only on its socket.
grep -qE "login attempt: db=$FLEET_DB user=host3 tls=TLS" "$S/pgbouncer/log" && pass ||
        fail "no TLS login of host3 in pgbouncer's log"
eq "host 3 reaches PostgreSQL through pgbouncer only" \
        "$(pg_sql fleet "SELECT count(*) FILTER (WHERE client_addr IS NULL) > 0 AND count(*) FILTER (WHERE client_addr IS NOT NULL) = 0 FROM pg_stat_activity WHERE usename = 'host3'")" t

for n in $ALL; do
        eq "host $n: getent passwd of an imported user" "$(fleet_in "$n" getent passwd lu0000500 | cut -d: -f1,3)" "lu0000500:20500"
        eq "host $n: id alice" "$(fleet_in "$n" id -un alice)" alice
done
eq "host 2: localdup is its own account" "$(fleet_in 2 getent passwd localdup | cut -d: -f3)" 1500
fleet_in 2 getent passwd "$LOCALDUP_UID" >/dev/null
eq "host 2: the fleet's localdup uid is not served" "$?" 2
for n in 1 3 4 5; do
        eq "host $n: the fleet's localdup is served" "$(fleet_in "$n" getent passwd localdup | cut -d: -f3)" "$LOCALDUP_UID"
done
# host_secrets = none: accounts, no hashes, no password login.
eq "host 5: getent passwd alice (host_secrets = none)" "$(fleet_in 5 getent passwd alice | cut -d: -f1)" alice
hashes() { fleet_in "$1" sh -c '[ ! -e /var/lib/roles/secrets.db ] && echo 0 ||
        sqlite3 -readonly -cmd ".timeout 10000" /var/lib/roles/secrets.db "SELECT count(*) FROM credentials WHERE password_hash IS NOT NULL"'; }
eq "host 5: no password hash installed" "$(hashes 5)" 0
[ "$(hashes 1)" -gt 0 ] 2>/dev/null && pass || fail "host 1: no password hash installed ($(hashes 1))"
pt() { printf '%s' "$1" | fleet_in "$2" timeout 30 pamtester roles "$3" authenticate acct_mgmt >"$OUT" 2>&1; RC=$?; }
pt "$PW$nl" 1 alice
eq "host 1: alice's password login" "$RC" 0
pt "$PW$nl" 5 alice
eq "host 5: alice's password login is refused (host_secrets = none)" "$RC" 1

# ---- a change reaches every host --------------------------------------------------------------------------
CHANGES=${FLEET_CHANGES:-10}
fleet_latency ch "$CHANGES" $ALL
echo "# a change to installed, $HOSTS hosts, $USERS users, $CHANGES changes, poll $FLEET_POLL s: $LATENCY"
echo "# host 4, on the standby (polling, no LISTEN): $(fleet_host_latency ch 4)"
echo "# host 3, through pgbouncer in transaction mode (its LISTEN lands on a pooled connection: it polls): $(fleet_host_latency ch 3)"
for n in $ALL; do
        eq "host $n: the last change's group" "$(fleet_in "$n" getent group "ch-$CHANGES" | cut -d: -f1)" "ch-$CHANGES"
done

# ---- the agent killed with SIGKILL at random points of a round ----------------------------------------------
KILLS=${FLEET_KILLS:-8}
fleet_kills 3 "$KILLS" k
echo "# $KILLS SIGKILLs of roles-agent --once on host 3, within a round of $((KILL_WINDOW / 1000)) ms"

# ---- a round killed between roles.db's commit and the index's rename ------------------------------------------
# (What a kill above hits only now and then.) The next round has nothing new to install, and must
# still compile the index anew: until then NSS serves the serial before.
fleet_agent_stop 3
fleet_in 3 cp -p /var/lib/roles/roles.nss /var/lib/roles/roles.nss-delta "$S/" || die "host 3: keep its index"
arc user add stalenss >/dev/null || die "rolesctl user add stalenss"
fleet_once 3 || fail "host 3: the round that installs stalenss"
fleet_in 3 sh -c "cp -p '$S/roles.nss' /var/lib/roles/roles.nss.old && cp -p '$S/roles.nss-delta' /var/lib/roles/roles.nss-delta.old &&
        mv /var/lib/roles/roles.nss.old /var/lib/roles/roles.nss && mv /var/lib/roles/roles.nss-delta.old /var/lib/roles/roles.nss-delta" ||
        die "host 3: put its index of the serial before back"
eq "host 3, the index of the serial before: stalenss not served" "$(fleet_in 3 getent passwd stalenss | cut -d: -f1)" ""
eq "host 3, the index of the serial before: kprobe, older, served" "$(fleet_in 3 getent passwd kprobe | cut -d: -f1)" kprobe
fleet_once 3 || fail "host 3: the round with nothing new"
eq "host 3, after a round with nothing new: stalenss served" "$(fleet_in 3 getent passwd stalenss | cut -d: -f1)" stalenss
fleet_agent_start 3

# ---- PostgreSQL stopped -----------------------------------------------------------------------------------
pg_stop fleet || die "stop the fleet's PostgreSQL"
for n in $ALL; do
        eq "host $n, PostgreSQL down: getent passwd tina" "$(fleet_in "$n" getent passwd tina | cut -d: -f1)" tina
        eq "host $n, PostgreSQL down: id -Gn of an imported user" "$(fleet_in "$n" id -Gn lu0000007)" labusers
        [ "$n" = 5 ] && continue
        pt "$PW$nl" "$n" alice
        eq "host $n, PostgreSQL down: alice's password login" "$RC" 0
        pt "$PW$nl$(oathtool --totp -b "$TINA_SECRET")$nl" "$n" tina
        eq "host $n, PostgreSQL down: tina's password + TOTP login" "$RC" 0
done
run_cmd arc group add down
if [ "$RC" -ne 0 ] && one_error; then pass; else fail "an admin change with PostgreSQL down: want one line and a failure"; show_last; fi
for n in $ALL; do
        kill -0 "${AGENT_PID[$n]}" 2>/dev/null && pass || fail "host $n: the agent exited while PostgreSQL was down"
done

# ---- PostgreSQL back ----------------------------------------------------------------------------------------
pg_start fleet || die "restart the fleet's PostgreSQL"
arc group add back >/dev/null || fail "rolesctl group add back"
t0=$(date +%s%N)
s=$(fleet_serial)
# One poll, its jitter and the round itself: the agent must not back off past its poll.
late=$(fleet_wait_serial "$s" $((FLEET_POLL + 2)) $ALL)
eq "PostgreSQL back: every host on serial $s within $((FLEET_POLL + 2)) s (late: ${late:-none})" "$late" ""
echo "# PostgreSQL back: every host on the latest serial after $((($(date +%s%N) - t0) / 1000000)) ms"

# ---- a server with a certificate from another CA at the fleet's address ----------------------------------
# Settled first: the outboxes queued while PostgreSQL was down (tina's TOTP steps) are shipped and
# published; every host on the serial that leaves.
for _ in $(seq 20); do
        before=$(fleet_serial)
        fleet_wait_serial "$before" 10 $ALL >/dev/null && sleep $((FLEET_POLL + 1)) && [ "$(fleet_serial)" = "$before" ] && break
done
port=${PG_PORT[fleet]}
pg_stop fleet || die "stop the fleet's PostgreSQL"
fleet_rogue_start "$port" || die "the rogue PostgreSQL"
# Ahead of the fleet: what an agent took from it would be installed, not refused as older.
for i in $(seq $((before + 3))); do
        "$R" --conf "$S/rogue-admin/roles.conf" group add "rg$i" >/dev/null || die "rogue group add rg$i"
done
run_cmd tls "$port" "$S/ca/ca.pem"
[ "$RC" -ne 0 ] && pass || fail "psql verify-full reached the rogue server with the lab's CA"
fleet_agent_stop 1
sums() { fleet_in "$1" sh -c 'cd /var/lib/roles && sha256sum roles.db secrets.db roles.nss 2>&1'; }
sum1=$(sums 1)
fleet_once 1
eq "rogue server: roles-agent --once exits 2 (could not reach the fleet)" "$?" 2
eq "rogue server: host 1's files untouched" "$(sums 1)" "$sum1"
sleep $((FLEET_POLL + 1))
for n in $ALL; do
        fleet_in "$n" getent passwd rogue1 >/dev/null
        eq "host $n: nothing of the rogue server served" "$?" 2
        eq "host $n: still on serial $before" "$(fleet_files_serial "$n")" "$before"
done
pg_stop rogue || die "stop the rogue PostgreSQL"
pg_start fleet || die "restart the fleet's PostgreSQL"
fleet_agent_start 1

# ---- the primary restored to an older serial --------------------------------------------------------------
pg_server pg_dump -Fc -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -d "$FLEET_DB" -f "$S/pg-fleet/dump" ||
        die "pg_dump"
arc user add restored >/dev/null || die "rolesctl user add restored"
s=$(fleet_serial)
late=$(fleet_wait_serial "$s" 30 $ALL) || fail "serial $s not on hosts $late"
for n in $ALL; do
        fleet_agent_stop "$n"
        sums_before[n]=$(sums "$n")
done
pg_sql fleet "DROP DATABASE $FLEET_DB WITH (FORCE)" postgres && pg_sql fleet "CREATE DATABASE $FLEET_DB" postgres &&
        pg_server pg_restore -h "${PG_DIR[fleet]}" -p "${PG_PORT[fleet]}" -d "$FLEET_DB" "$S/pg-fleet/dump" ||
        die "restore the dump"
eq "restored: the fleet is one serial behind" "$(fleet_serial)" $((s - 1))
for n in $ALL; do
        fleet_agent_start "$n"
done
sleep $((FLEET_POLL + 2))
for n in $ALL; do
        grep -qE "roles-agent: refused serial $((s - 1))" "$S/hosts/$n/agent.log" && pass ||
                fail "host $n: no 'refused serial $((s - 1))' in its log ($(tail -n 1 "$S/hosts/$n/agent.log"))"
        eq "host $n: still serves the newer change" "$(fleet_in "$n" getent passwd restored | cut -d: -f1)" restored
        eq "host $n: files kept" "$(sums "$n")" "${sums_before[n]}"
done
fleet_once 1
eq "restored: roles-agent --once exits 1 (refused)" "$?" 1

finish
