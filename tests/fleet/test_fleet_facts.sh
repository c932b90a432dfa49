#!/bin/bash
# SPDX-License-Identifier: MIT
# The fleet's facts (issue 16, FLEET.md "Write path"): what is not a row of roles.db or secrets.db
# yet reaches every host with the next serial, installed in state.db where logins read it.
#  - roles.publish_lock (as the ingest function will call it; here psql as the superuser): every
#    host refuses the user's password login once its agent installed the serial (timed), and
#    `rolesctl user locked` on a host shows the lock;
#  - `rolesctl user unlock` with a source: the fleet's lock cleared, on every host at its next
#    round; on a host with files of its own, that host's tally at once; an unknown user: exit 3;
#  - roles.publish_totp_step of the current step: the code of that step refused on every host,
#    the next step's code accepted;
#  - a host off while facts are published gets them at its next round: by a delta (host 3), by a
#    full copy from nothing (host 4, the lock and the step), and by a full copy of a host that
#    had files (host 4 again, its host_secrets changed: the unlock published since, and the step);
#  - the host roles may read the facts and not publish them;
#  - an unlock's reset_at is the second it took place in (a failure of that second counts);
#  - the fleet lockout: deny failures spread over three hosts lock the account on every one;
#  - a host whose clock is ahead: its events are dated no later than their ingest, so that a
#    success of its own hides no failure other hosts see after it, failures of its own count
#    no more after a later unlock, and `rolesctl logins` shows any time a host sends; a TOTP
#    step past the current one and the largest window is not published;
#  - an unlock that waits for the fleet's serial while an ingest counts the failures it clears
#    is not undone by the lock that count leads to.
#
#   test_fleet_facts.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

fleet_enter fleet-facts "$@"
FLEET_POLL=1
fleet_setup
need sqlite3 python3 || finish
PW='Correct-Horse-9'
T0=0 LOCK_TOOK=
nl=$'\n'
ADMIN_SOURCE="host=${PG_DIR[fleet]} port=${PG_PORT[fleet]} dbname=$FLEET_DB user=postgres"

run_ok "rolesctl init against PostgreSQL" arc init
[ "$RC" -eq 0 ] || die "rolesctl init against PostgreSQL"
for u in alice bob tina; do
        printf '%s\n' "$PW" | arc user add "$u" --password-stdin >/dev/null || die "rolesctl user add $u"
done
TINA_SECRET=$(fleet_totp_enroll tina) || die "rolesctl user totp enroll tina"
uuid() { arc --json user show "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])'; }
ALICE=$(uuid alice) && BOB=$(uuid bob) && TINA=$(uuid tina) || die "rolesctl user show"

for n in 1 2 3; do fleet_host_start "$n"; done
fleet_wait_serial "$(fleet_serial)" 30 1 2 3 >/dev/null || die "hosts 1-3 did not install the fleet"
# Host 3 goes off: it gets what follows at its next round, by a delta.
fleet_agent_stop 3

pt() { printf '%s' "$1" | fleet_in "$2" timeout 30 pamtester roles "$3" authenticate acct_mgmt >"$OUT" 2>&1; RC=$?; }
# locked N USER: yes, no, or nothing (no live tally), as `rolesctl user locked` on host N says.
locked() {
        fleet_in "$1" "$R" --json user locked |
                python3 -c 'import json, sys; print(*[r["locked"] and "yes" or "no" for r in json.load(sys.stdin) if r["name"] == sys.argv[1]])' "$2"
}
# state N SQL: SQL on host N's state.db.
state() { fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/state.db "$2"; }
# published SQL: the serial a publish_* call took, as the superuser (the owner's right).
published() { pg_sql fleet "SELECT $1"; }
# within SECONDS CMD...: CMD (which sets RC) until RC is 0, every 0.1 s for SECONDS; TOOK the time
# since T0 (date +%s%N, set before the fact was published).
within() {
        local t0=$T0 deadline
        deadline=$(($(date +%s%N) + $1 * 1000000000))
        shift
        while :; do
                "$@"
                [ "$RC" -eq 0 ] && break
                [ "$(date +%s%N)" -lt "$deadline" ] || break
                sleep 0.1
        done
        TOOK=$(awk -v a="$(date +%s%N)" -v b="$t0" 'BEGIN { printf "%.2f", (a - b) / 1e9 }')
}
refused() { pt "$PW$nl" "$1" "$2"; [ "$RC" -eq 0 ] && RC=1 || RC=0; }
accepted() { pt "$PW$nl" "$1" "$2"; }

for n in 1 2; do
        pt "$PW$nl" "$n" alice
        eq "host $n: alice's password login before any fact" "$RC" 0
done

# ---- who may publish ----------------------------------------------------------------------------------------
run_cmd pg_sql fleet "SET ROLE host1; SELECT count(*) FROM roles.fleet_locks, roles.totp_steps"
eq "a host's role reads the facts" "$RC" 0
for f in "publish_lock('$ALICE', 1)" "publish_unlock('$ALICE')" "publish_totp_step('$TINA', 1)"; do
        run_cmd pg_sql fleet "SET ROLE host1; SELECT roles.$f"
        [ "$RC" -ne 0 ] && err_has "a host's role may not call $f" "permission denied" || fail "a host's role called $f"
done
run_cmd published "roles.publish_lock('00000000-0000-4000-8000-000000000000', 1)"
[ "$RC" -ne 0 ] && err_has "a fact about no user is refused" "no user with uuid" || fail "a lock of no user was published"

# ---- a lock published reaches every host ------------------------------------------------------------------------
T0=$(date +%s%N)
s=$(published "roles.publish_lock('$ALICE', extract(epoch from now())::bigint + 3600)") || die "publish_lock alice"
eq "the lock took the fleet's next serial, with a change log row of no changesets" \
        "$(pg_sql fleet "SELECT actor, public_cs IS NULL AND secrets_cs IS NULL FROM roles.changes WHERE serial = $s")" "fleet|t"
for n in 1 2; do
        within 5 refused "$n" alice
        eq "host $n: alice's password login refused once the lock is published (${TOOK} s after)" "$RC" 0
        LOCK_TOOK+=" host $n ${TOOK} s"
        eq "host $n: rolesctl user locked shows alice locked" "$(locked "$n" alice)" yes
done
grep -q "serial $s: 1 lock or unlock and 0 TOTP steps used from the fleet" "$S/hosts/1/agent.log" && pass ||
        fail "host 1's agent did not log the lock it installed"
echo "# a published lock refused alice's password login (poll $FLEET_POLL s), after:$LOCK_TOOK"
# A shorter lock does not shorten it (a lock only grows until an unlock).
s=$(published "roles.publish_lock('$ALICE', extract(epoch from now())::bigint + 60)") || die "publish_lock alice, shorter"
fleet_wait_serial "$s" 5 1 2 >/dev/null || fail "hosts 1 and 2 did not install serial $s"
for n in 1 2; do
        [ "$(state "$n" "SELECT locked_until - strftime('%s', 'now') FROM tally WHERE user_uuid = '$ALICE'")" -gt 3000 ] &&
                pass || fail "host $n: a shorter lock shortened alice's"
done
eq "the fleet keeps the longer lock" \
        "$(pg_sql fleet "SELECT locked_until - extract(epoch from now())::bigint > 3000 FROM roles.fleet_locks WHERE user_uuid = '$ALICE'")" t

# ---- rolesctl user unlock against the fleet ------------------------------------------------------------------------
run_cmd arc user unlock nobody
eq "rolesctl user unlock of no such user in the fleet: exit 3" "$RC" 3
before=$(fleet_serial)
# On host 1, as the administrator (its files exist: its own tally goes at once, before any round).
fleet_agent_stop 1
T0=$(date +%s%N)
run_cmd fleet_in 1 "$R" --source "$ADMIN_SOURCE" user unlock alice
eq "rolesctl user unlock alice with the source, on host 1" "$RC" 0
eq "it took the fleet's next serial" "$(fleet_serial)" $((before + 1))
eq "the fleet's lock on alice is an unlock now" \
        "$(pg_sql fleet "SELECT coalesce(locked_until, 0) FROM roles.fleet_locks WHERE user_uuid = '$ALICE'")" 0
eq "host 1: alice's tally cleared at once (its agent stopped)" "$(state 1 "SELECT count(*) FROM tally WHERE user_uuid = '$ALICE'")" 0
pt "$PW$nl" 1 alice
eq "host 1: alice's password login accepted at once" "$RC" 0
fleet_agent_start 1
within 5 accepted 2 alice
eq "host 2: alice's password login accepted after the unlock (${TOOK} s)" "$RC" 0
eq "host 2: rolesctl user locked no longer shows alice" "$(locked 2 alice)" ""
# The same from the administrator's machine, which has no files of its own.
T0=$(date +%s%N)
published "roles.publish_lock('$ALICE', -1)" >/dev/null || die "publish_lock alice, no end"
for n in 1 2; do
        within 5 refused "$n" alice
        eq "host $n: a lock with no end refuses alice (${TOOK} s)" "$RC" 0
done
T0=$(date +%s%N)
run_ok "rolesctl user unlock alice with the source, from a machine without files" arc user unlock alice
for n in 1 2; do
        within 5 accepted "$n" alice
        eq "host $n: alice accepted again (${TOOK} s)" "$RC" 0
done

# ---- a TOTP step published ------------------------------------------------------------------------------------------
step=$(($(date +%s) / 30))
code=$(oathtool --totp -b "$TINA_SECRET" -N "@$((step * 30))") && next=$(oathtool --totp -b "$TINA_SECRET" -N "@$((step * 30 + 30))") ||
        die "oathtool"
s=$(published "roles.publish_totp_step('$TINA', $step)") || die "publish_totp_step tina"
eq "a step never goes down in the fleet" \
        "$(published "roles.publish_totp_step('$TINA', $((step - 5)))" >/dev/null; pg_sql fleet "SELECT last_step FROM roles.totp_steps WHERE user_uuid = '$TINA'")" "$step"
fleet_wait_serial "$(fleet_serial)" 5 1 2 >/dev/null || fail "hosts 1 and 2 did not install serial $s"
for n in 1 2; do
        eq "host $n: tina's last step used is the fleet's" "$(state "$n" "SELECT last_step FROM totp_used WHERE user_uuid = '$TINA'")" "$step"
        pt "$PW$nl$code$nl" "$n" tina
        eq "host $n: tina's code of the step used elsewhere is refused" "$RC" 1
done
T0=$(date +%s%N)
pt "$PW$nl$next$nl" 1 tina
eq "host 1: tina's code of the next step is accepted" "$RC" 0
# The step host 1 used goes out in its outbox, and the ingest publishes it: host 2 then refuses the
# same code (the check waits for host 2's state, not for a refusal: every refused try would count
# toward tina's lockout there).
step_on_2() { RC=1; [ "$(state 2 "SELECT last_step FROM totp_used WHERE user_uuid = '$TINA'")" = $((step + 1)) ] && RC=0; }
within 5 step_on_2
eq "host 2 has the step host 1 used (${TOOK} s after the login)" "$RC" 0
echo "# a TOTP code used on host 1 reached host 2 in ${TOOK} s (poll $FLEET_POLL s)"
pt "$PW$nl$next$nl" 2 tina
eq "host 2: the code host 1 used is refused" "$RC" 1

# ---- a host off while facts are published ---------------------------------------------------------------------------
published "roles.publish_lock('$BOB', extract(epoch from now())::bigint + 3600)" >/dev/null || die "publish_lock bob"
run_cmd fleet_once 3
eq "host 3 (off while the facts came): its next round" "$RC" 0
grep -qE "installed serial $(fleet_serial) \([0-9]+ changes since" "$S/hosts/3/agent.log" && pass ||
        fail "host 3's round was not a delta: $(tail -n 3 "$S/hosts/3/agent.log")"
refused 3 bob
eq "host 3, by a delta: bob's password login refused" "$RC" 0
eq "host 3, by a delta: tina's step" "$(state 3 "SELECT last_step FROM totp_used WHERE user_uuid = '$TINA'")" $((step + 1))
eq "host 3, by a delta: alice unlocked, no tally" "$(state 3 "SELECT count(*) FROM tally WHERE user_uuid = '$ALICE'")" 0
# Host 4: new, and without secrets at first; its first round is a full copy from nothing.
fleet_host_make 4 "host_secrets = none"
run_cmd fleet_once 4
eq "host 4: its first round" "$RC" 0
grep -q "full copy, from 0" "$S/hosts/4/agent.log" && pass || fail "host 4's first round was not a full copy"
eq "host 4, by a full copy: bob locked" "$(locked 4 bob)" yes
eq "host 4, by a full copy: alice's unlocks and expired locks leave no tally" "$(state 4 "SELECT count(*) FROM tally WHERE user_uuid = '$ALICE'")" 0
eq "host 4 without secrets: no TOTP step" "$(state 4 "SELECT count(*) FROM totp_used")" 0
# Bob unlocked while hosts 3 and 4 are off; host 4 then takes secrets: a full copy from its serial.
run_ok "rolesctl user unlock bob" arc user unlock bob
run_cmd fleet_once 3
accepted 3 bob
eq "host 3, by a delta: bob's password login accepted after the unlock" "$RC" 0
fleet_in 4 sed -i 's/^host_secrets = none$/host_secrets = all/' /etc/roles.conf || fail "host 4's roles.conf"
run_cmd fleet_once 4
eq "host 4: a round with its host_secrets changed" "$RC" 0
grep -qE "installed serial $(fleet_serial) \(full copy, from [1-9]" "$S/hosts/4/agent.log" && pass ||
        fail "host 4's round was not a full copy from its serial: $(tail -n 3 "$S/hosts/4/agent.log")"
eq "host 4, by a full copy: bob unlocked" "$(locked 4 bob)" ""
accepted 4 bob
eq "host 4, by a full copy: bob's password login accepted" "$RC" 0
eq "host 4, by a full copy: tina's step" "$(state 4 "SELECT last_step FROM totp_used WHERE user_uuid = '$TINA'")" $((step + 1))
pt "$PW$nl$code$nl" 4 tina
eq "host 4: tina's code of the step used elsewhere is refused" "$RC" 1

# ---- an unlock's second --------------------------------------------------------------------------------------------
# reset_at is the second the unlock took place in, as a host's clock reads it, never the next: the
# ingest counts a failure of that same second (the safer reading). Rounded up, an unlock at x.6 s
# dropped the failures of second x that came after it, and the lockout below missed its count.
while :; do frac=$(date +%N); [ "${frac:0:1}" -ge 5 ] && [ "${frac:0:1}" -le 8 ] && break; sleep 0.05; done
eq "an unlock in the second half of a second: reset_at is that second" \
        "$(pg_sql fleet "BEGIN; SELECT roles.publish_unlock('$ALICE'); SELECT reset_at = floor(extract(epoch from now()))::bigint
                FROM roles.fleet_locks WHERE user_uuid = '$ALICE'; COMMIT" | tail -n 1)" t

# ---- the fleet lockout: failures spread over hosts ------------------------------------------------------------------
# deny (5, as the administrator's roles.conf had it at init) wrong passwords over hosts 1, 2 and 3,
# none of which reaches deny alone: the ingest counts them together and locks bob everywhere.
fleet_agent_start 3
fleet_wait_serial "$(fleet_serial)" 10 1 2 3 >/dev/null || fail "hosts 1-3 not on the fleet's serial"
for n in 1 2 3 1 2; do
        pt "wrong-password$nl" "$n" bob
done
T0=$(date +%s%N)
for n in 1 2 3; do
        eq "host $n: bob's own failures are under deny" "$(state "$n" "SELECT failures < 5 FROM tally WHERE user_uuid = '$BOB'")" 1
done
# Waited for in each host's state, not by logging in: a success would clear the count, as on one host.
bob_locked() { RC=1; [ "$(state "$1" "SELECT locked_until < 0 OR locked_until > strftime('%s', 'now') FROM tally WHERE user_uuid = '$BOB'")" = 1 ] && RC=0; }
for n in 1 2 3; do
        within 5 bob_locked "$n"
        eq "host $n: bob locked by the fleet's count (${TOOK} s after the last failure)" "$RC" 0
        refused "$n" bob
        eq "host $n: bob's password login refused" "$RC" 0
done
echo "# 5 failures over 3 hosts locked bob on every host within ${TOOK} s of the last one"
eq "the fleet's lock was the ingest's" "$(pg_sql fleet "SELECT actor LIKE 'fleet lockout (host%' FROM roles.changes
        WHERE serial = (SELECT serial FROM roles.fleet_locks WHERE user_uuid = '$BOB')")" t
run_ok "rolesctl user unlock bob, everywhere" arc user unlock bob
for n in 1 2 3; do
        within 5 accepted "$n" bob
        eq "host $n: bob accepted after the fleet's unlock (${TOOK} s)" "$RC" 0
done

# ---- a host whose clock is ahead -------------------------------------------------------------------------------------
# Two host roles of no host, whose events ingest takes as a host's (session_user): skew1's clock an
# hour ahead, skew2's right. Event ids of their own, so no real host's outbox is disturbed.
for h in skew1 skew2; do pg_sql fleet "CREATE ROLE $h NOLOGIN IN ROLE roles_host" >/dev/null || die "role $h"; done
for u in carol dave; do arc user add "$u" >/dev/null || die "rolesctl user add $u"; done
CAROL=$(uuid carol) && DAVE=$(uuid dave) || die "rolesctl user show"
# ingest_as HOST EVENTS: roles.ingest of EVENTS (id:at:kind:uuid[:step], space-separated) as HOST.
ingest_as() {
        local json=
        for e in $2; do
                IFS=: read -r id at kind u step <<<"$e"
                json+="${json:+,}{\"id\": $id, \"at\": $at, \"kind\": \"$kind\", \"user_uuid\": \"$u\", \"step\": ${step:-null}}"
        done
        pg_sql fleet "SET SESSION AUTHORIZATION $1; SELECT roles.ingest('[$json]'::jsonb)" >/dev/null
}
fleet_lock_of() { pg_sql fleet "SELECT coalesce(locked_until, 0) > extract(epoch from now()) FROM roles.fleet_locks WHERE user_uuid = '$1'"; }
now=$(date +%s)
ingest_as skew1 "1:$((now + 3600)):success:$CAROL" || fail "ingest as skew1"
# The failures after the success as a right clock reads them (its second, or a later one).
now=$(date +%s)
ingest_as skew2 "$(for i in 1 2 3 4 5; do printf '%s ' "$i:$now:failure:$CAROL"; done)" || fail "ingest as skew2"
eq "a success dated an hour ahead hides no failure after it: deny failures lock carol" "$(fleet_lock_of "$CAROL")" t
ingest_as skew1 "$(for i in 2 3 4 5; do printf '%s ' "$i:$((now + 3600)):failure:$DAVE"; done)" || fail "ingest as skew1"
# The unlock in a later second than the ingest (a failure of the unlock's own second counts).
s0=$(date +%s)
while [ "$(date +%s)" -le "$s0" ]; do sleep 0.05; done
run_ok "rolesctl user unlock dave" arc user unlock dave
ingest_as skew2 "6:$(date +%s):failure:$DAVE" || fail "ingest as skew2"
eq "failures dated an hour ahead do not count after a later unlock: one more does not lock dave" \
        "$(fleet_lock_of "$DAVE")" f
ingest_as skew1 "7:9000000000000000000:success:$CAROL 8:-9000000000000000000:success:$CAROL" || fail "ingest as skew1"
run_ok "rolesctl logins, with times far off sent by a host" arc logins
eq "no event of skew1 dated after its ingest" \
        "$(pg_sql fleet "SELECT count(*) FROM roles.events WHERE host = 'skew1' AND (at > extract(epoch from received_at) OR at < 0)")" 0
# A step far past the clock (skew1 holds no secret to check a code with): never published, or
# every code of tina's, a new secret's too, would be refused everywhere from then on.
tina_step() { pg_sql fleet "SELECT last_step FROM roles.totp_steps WHERE user_uuid = '$TINA'"; }
ingest_as skew1 "9:$(date +%s):totp_step:$TINA:$(($(date +%s) / 30 + 1000000))" || fail "ingest as skew1"
[ "$(tina_step)" -lt $(($(date +%s) / 30 + 1000)) ]
eq "a TOTP step a million steps ahead is not published" "$?" 0
next_step=$(($(date +%s) / 30 + 1))
ingest_as skew1 "10:$(date +%s):totp_step:$TINA:$next_step" || fail "ingest as skew1"
eq "the next step is (a clock a little ahead)" "$(tina_step)" "$next_step"

# ---- an unlock racing the ingest's count ----------------------------------------------------------------------------
# The order forced: a session holds the fleet's serial; the unlock of erin queues for it; then an
# ingest of deny failures of erin (dated before the unlock) counts them and queues too. The
# serial let go, the unlock commits first: the ingest's lock must not undo it. It counted before
# the unlock, so it must wait for it and count again, or its lock comes after the unlock.
arc user add erin >/dev/null || die "rolesctl user add erin"
ERIN=$(uuid erin) || die "rolesctl user show erin"
fleet_hold "SELECT serial FROM roles.fleet FOR UPDATE" || die "a session holding the fleet's serial"
arc user unlock erin >"$S/erin-unlock.out" 2>&1 &
unlocker=$!
fleet_waiting '%publish_unlock%' || fail "the unlock of erin does not wait for the fleet's serial"
then=$(($(date +%s) - 10))
ingest_as skew2 "$(for i in 11 12 13 14 15; do printf '%s ' "$i:$then:failure:$ERIN"; done)" &
ingester=$!
fleet_waiting '%roles.ingest%' || fail "the ingest of erin's failures does not wait"
fleet_release
wait "$unlocker"
eq "the unlock of erin, after the wait" "$?" 0
wait "$ingester"
eq "the ingest of erin's failures, after the wait" "$?" 0
eq "erin stays unlocked: the failures the unlock cleared lock nothing after it" "$(fleet_lock_of "$ERIN")" f

finish
