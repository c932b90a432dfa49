#!/bin/bash
# SPDX-License-Identifier: MIT
# The full fleet lab of the write path (not in CI; FLEET.md "Write path", issue 16's table):
# PostgreSQL 15 and --hosts hosts (3 at least) as tests/fleet/lib.sh makes them, --users users
# imported (10,000), every host's pam.d with a password line; measured and checked:
#  - `deny` wrong passwords spread over hosts 1-3: locked on all three (their state.db) within 5 s
#    of the last one;
#  - a TOTP code used on host 1: every other host has its step (<= 2 s), and host 2 refuses it;
#  - one activation code typed on hosts 1 and 2 at the same moment, --rounds rounds: one winner;
#  - `passwd` on host 1, --rounds rounds (a user each): from passwd's start to the new hash
#    installed on every host (host 1 when passwd returns, the others when their agent logs the
#    serial), p50/p99/max <= 2 s; then the new password logs in on every host, the old one nowhere;
#  - the agent's socket: not root, garbage, 1 MiB refused, a password change served after;
#  - PostgreSQL stopped for --outage seconds of logins and failures on every host: logins go on,
#    passwd and a code login refused with the clear message, every event counted locally and
#    queued; PostgreSQL back: every outbox drained, each host's successes and failures in
#    roles.events as many as its login_audit has (none lost, none twice);
#  - --kills SIGKILLs of host 1's agent while it ships: nothing counted twice after any kill, none
#    lost at the end.
# It prints a table; the checks are counted as in every test ("N passed, M failed" last).
#
#   lab_write.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT [--users 10000] [--hosts 3]
#                [--outage 600] [--kills 300] [--rounds 50] [--poll 1]
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

USERS=10000 HOSTS=3 OUTAGE=600 KILLS=300 ROUNDS=50 FLEET_POLL=1
args=()
while [ $# -gt 0 ]; do
        case $1 in
        --users) USERS=$2; shift 2 ;;
        --hosts) HOSTS=$2; shift 2 ;;
        --outage) OUTAGE=$2; shift 2 ;;
        --kills) KILLS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --poll) FLEET_POLL=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
        esac
done
set -- "${args[@]}"
# The options travel into the namespace through the environment (its run of this script gets the
# positional arguments only).
export LAB_USERS=${LAB_USERS:-$USERS} LAB_HOSTS=${LAB_HOSTS:-$HOSTS} LAB_OUTAGE=${LAB_OUTAGE:-$OUTAGE}
export LAB_KILLS=${LAB_KILLS:-$KILLS} LAB_ROUNDS=${LAB_ROUNDS:-$ROUNDS} LAB_POLL=${LAB_POLL:-$FLEET_POLL}
fleet_enter fleet-lab-write "$@"
FLEET_POLL=$LAB_POLL
[ "$LAB_HOSTS" -ge 3 ] || die "--hosts: 3 at least"
[ "$LAB_USERS" -ge 1000 ] || die "--users: 1000 at least"
fleet_setup
need sqlite3 pamtester oathtool setpriv /usr/bin/python3 || finish
SEED_PW=seed-password nl=$'\n'
ALL=$(seq "$LAB_HOSTS")
OTHERS=$(seq 2 "$LAB_HOSTS")

TABLE=()
row() { TABLE+=("$(printf '%-58s %s' "$1" "$2")"); echo "# $1: $2"; }
u() { printf 'lu%07d' "$1"; }
uuid() { arc --json user show "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])'; }
# state N SQL, secrets N SQL: SQL on host N's state.db, secrets.db.
state() { fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/state.db "$2"; }
# why N USER: why host N's last login of USER went as it did (its login audit's newest row), so a
# refusal is checked for its reason: any failure (the agent gone, PAM unconfigured) refuses too.
why() { state "$1" "SELECT result || ': ' || detail FROM login_audit WHERE user = '$2' ORDER BY id DESC LIMIT 1"; }
secrets() { fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/secrets.db "$2"; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
# within P LIMIT FILE: FILE's P-th percentile is a number at most LIMIT (no numbers: false, where
# percentile's "-" would compare as a string, below any digit).
within() { percentile "$1" "$3" | awk -v l="$2" '$1 ~ /^[0-9.]+$/ && $1 + 0 <= l + 0 { ok = 1 } END { exit !ok }'; }
stats() { echo "p50 $(percentile 50 "$1") s, p99 $(percentile 99 "$1") s, max $(percentile 100 "$1") s"; }

# ---- the fleet ----------------------------------------------------------------------------------
arc init >/dev/null || die "rolesctl init against PostgreSQL"
fleet_seed "$LAB_USERS" "$S/seed" || die "the seed"
t0=$(now)
arc import --passwd "$S/seed/passwd" --group "$S/seed/group" --shadow "$S/seed/shadow" >/dev/null || die "rolesctl import"
row "import of $LAB_USERS users" "$(since "$t0") s"
for n in $ALL; do
        fleet_host_start "$n"
        fleet_in "$n" sh -c "echo 'password required $MOD' >>/etc/pam.d/roles" || die "host $n: a password line"
done
fleet_wait_serial "$(fleet_serial)" 300 $ALL >/dev/null || die "the hosts did not install the fleet in 300 s"
for n in $ALL; do
        for _ in $(seq 100); do fleet_in "$n" test -S /run/roles/agent.sock && break; sleep 0.05; done
done

# ---- deny failures over 3 hosts -------------------------------------------------------------------
# deny is 5 (the administrator's roles.conf at init): 2 + 2 + 1, none of the hosts at deny alone.
U=$(u 5) UU=$(uuid "$(u 5)")
for n in 1 2 3 1 2; do fleet_wrong 1 "$n" "$U"; done
t0=$(now)
locked_on() { [ "$(state "$1" "SELECT locked_until < 0 OR locked_until > strftime('%s', 'now') FROM tally WHERE user_uuid = '$UU'")" = 1 ]; }
worst=0
for n in 1 2 3; do
        for _ in $(seq 200); do locked_on "$n" && break; sleep 0.05; done
        took=$(since "$t0")
        locked_on "$n"
        eq "host $n: $U locked by the fleet's count (${took} s after the last failure)" "$?" 0
        fleet_login "$n" "$U" "$SEED_PW$nl"
        eq "host $n: $U's right password refused while locked (exit $RC)" "$(why "$n" "$U")" "failure: locked out"
        worst=$(awk -v a="$took" -v b="$worst" 'BEGIN { print (a > b) ? a : b }')
done
[ "$(awk -v a="$worst" 'BEGIN { print (a <= 5) }')" = 1 ]
eq "locked on the 3 hosts within 5 s of the last failure (${worst} s)" "$?" 0
row "deny (5) failures over 3 hosts: locked on all" "${worst} s after the last (target 5 s)"

# ---- a TOTP code used on host 1 ------------------------------------------------------------------
: >"$S/totp"
totp_rounds=$((LAB_ROUNDS < 10 ? LAB_ROUNDS : 10))
for i in $(seq "$totp_rounds"); do
        U=$(u $((40 + i)))
        secret=$(fleet_totp_enroll "$U") && UU=$(uuid "$U") || { fail "enroll $U's TOTP"; continue; }
        fleet_wait_serial "$(fleet_serial)" 30 $ALL >/dev/null || fail "TOTP $i: hosts not on the fleet's serial"
        step=$(($(date +%s) / 30))
        code=$(oathtool --totp -b "$secret" -N "@$((step * 30))")
        fleet_login 1 "$U" "$SEED_PW$nl$code$nl"
        eq "TOTP $i: host 1 accepts $U's code" "$RC" 0
        # The other hosts' state, not a login, is watched: a refused try would count toward a lock.
        t0=$(now)
        for n in $OTHERS; do
                for _ in $(seq 100); do
                        [ "$(state "$n" "SELECT last_step >= $step FROM totp_used WHERE user_uuid = '$UU'")" = 1 ] && break
                        sleep 0.02
                done
        done
        since "$t0" >>"$S/totp" && echo >>"$S/totp"
        fleet_login 2 "$U" "$SEED_PW$nl$code$nl"
        eq "TOTP $i: host 2 refuses the code host 1 used ($(tail -n 1 "$S/totp") s; exit $RC)" "$(why 2 "$U")" \
                "refused: verification code already used (not counted as a failure)"
done
within 100 2 "$S/totp"
eq "a TOTP step reached every other host within 2 s, each of $totp_rounds codes" "$?" 0
row "TOTP code used on host 1, its step on every host" "$(stats "$S/totp") over $totp_rounds codes (target 2 s)"

# ---- one activation code on 2 hosts at once --------------------------------------------------------------
fleet_code_race "$LAB_ROUNDS" 1 2 act
row "one activation code on 2 hosts at once" "$CODES_OK of $LAB_ROUNDS rounds had exactly one winner"

# ---- passwd on host 1 ----------------------------------------------------------------------------------
# A user each round: the old password's refusals (one a host) stay under deny.
: >"$S/passwd" && : >"$S/passwd-1" && : >"$S/passwd-n"
for i in $(seq "$LAB_ROUNDS"); do
        U=$(u $((100 + i))) new="Lab-Horse-$i-$RANDOM"
        fleet_wait_serial "$(fleet_serial)" 30 $ALL >/dev/null || fail "passwd $i: hosts not on the fleet's serial"
        t0=$(now)
        fleet_passwd 1 "$U" "$new"
        t1=$(now)
        eq "passwd $i: host 1 changes $U's password" "$RC" 0
        awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }' >>"$S/passwd-1"
        s=$(fleet_serial)
        if ! late=$(fleet_wait_serial "$s" 30 $OTHERS); then
                fail "passwd $i: serial $s not installed on hosts $late after 30 s"
                continue
        fi
        worst=$t1
        for n in $OTHERS; do
                t=$(fleet_install_time "$n" "$s")
                [ -n "$t" ] || fail "passwd $i: host $n logged no install of serial $s"
                worst=$(awk -v a="${t:-0}" -v b="$worst" 'BEGIN { print (a > b) ? a : b }')
        done
        awk -v a="$worst" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }' >>"$S/passwd"
        awk -v a="${t:-0}" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }' >>"$S/passwd-n"
        for n in $ALL; do
                fleet_login "$n" "$U" "$new$nl"
                eq "passwd $i: host $n accepts the new password" "$RC" 0
                fleet_login "$n" "$U" "$SEED_PW$nl"
                [ "$RC" -ne 0 ]
                eq "passwd $i: host $n refuses the old password" "$?" 0
        done
done
eq "every passwd round timed" "$(wc -l <"$S/passwd")" "$LAB_ROUNDS"
within 99 2 "$S/passwd"
eq "passwd: installed on every host, p99 within 2 s" "$?" 0
row "passwd on host 1, returned" "$(stats "$S/passwd-1")"
row "passwd on host 1, installed by host $LAB_HOSTS's agent" "$(stats "$S/passwd-n")"
row "passwd on host 1, new hash on all $LAB_HOSTS hosts" "$(stats "$S/passwd") over $LAB_ROUNDS rounds (target p99 2 s)"

# ---- the agent's socket ---------------------------------------------------------------------------------------
failed_before=$FAILED
fleet_socket_refusals 1 "$(u 6)" 'Sock-Horse-2468'
row "socket: not root, garbage, NUL, bad uuid, 1 MiB, silent" \
        "$((FAILED - failed_before)) failed checks; the silent client held the agent ${SILENT_MS} ms"

# ---- PostgreSQL stopped for the outage -------------------------------------------------------------------------
CODE=$(fleet_code_of "$(arc user add late --activation 2>&1)")
fleet_wait_serial "$(fleet_serial)" 30 $ALL >/dev/null || fail "hosts not on the fleet's serial before the outage"
for n in $ALL; do
        for _ in $(seq 100); do [ "$(fleet_queued "$n")" = 0 ] && break; sleep 0.1; done
        eq "host $n: its outbox empty before the outage" "$(fleet_queued "$n")" 0
done
U=$(u 7) UU=$(uuid "$(u 7)")
hash7() { secrets 1 "SELECT password_hash FROM credentials WHERE user_uuid = '$UU'"; }
before=$(hash7)
pg_stop fleet || die "stop the fleet's PostgreSQL"
t_stop=$(now)
fleet_passwd 1 "$U" 'Down-Horse-0000'
[ "$RC" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "PostgreSQL down: passwd refused with the clear message" "$?" 0
eq "PostgreSQL down: host 1's hash unchanged" "$(hash7)" "$before"
printf '%s\n' "$CODE" | fleet_in 2 timeout 30 pamtester roles late authenticate >"$OUT" 2>&1
[ "$?" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "PostgreSQL down: an activation code login refused with the clear message" "$?" 0
# The load: on every host, one after the other until the outage ends, a right password (10
# users, who never fail) and a wrong one (users spread over the upper half: under deny each).
declare -A QF QS AF
for n in $ALL; do QF[$n]=$(fleet_queued "$n" failure) QS[$n]=$(fleet_queued "$n" success) AF[$n]=$(fleet_audited "$n"); done
load() {
        local n=$1 end=$2 i=0 ok=0 bad=0 wrong=0 lost=0
        while [ "$(date +%s)" -lt "$end" ]; do
                i=$((i + 1))
                printf '%s\n' "$SEED_PW" | fleet_in "$n" pamtester roles "$(u $((10 + i % 10)))" authenticate acct_mgmt >/dev/null 2>&1 &&
                        ok=$((ok + 1)) || bad=$((bad + 1))
                printf 'wrong\n' | fleet_in "$n" pamtester roles "$(u $((LAB_USERS / 2 + (i * LAB_HOSTS + n) % (LAB_USERS / 2))))" authenticate >/dev/null 2>&1 &&
                        lost=$((lost + 1)) || wrong=$((wrong + 1))
        done
        echo "$ok $bad $wrong $lost" >"$S/load.$n"
}
end=$(($(date +%s) + LAB_OUTAGE)) loaders=()
for n in $ALL; do
        load "$n" "$end" &
        loaders+=("$!")
done
wait "${loaders[@]}"
oks=0 fails=0
for n in $ALL; do
        read -r ok bad wrong lost <"$S/load.$n"
        eq "PostgreSQL down: host $n's $ok password logins all accepted" "$bad" 0
        eq "PostgreSQL down: host $n's $wrong wrong passwords all refused" "$lost" 0
        eq "PostgreSQL down: host $n counted every failure locally" "$(fleet_audited "$n")" $((AF[$n] + wrong))
        eq "PostgreSQL down: host $n queued every failure" "$(fleet_queued "$n" failure)" $((QF[$n] + wrong))
        eq "PostgreSQL down: host $n queued every login" "$(fleet_queued "$n" success)" $((QS[$n] + ok))
        oks=$((oks + ok)) fails=$((fails + wrong))
done
for n in $ALL; do
        [ -z "${AGENT_PID[$n]}" ] || kill -0 "${AGENT_PID[$n]}" 2>/dev/null
        eq "PostgreSQL down: host $n's agent still runs" "$?" 0
done
row "PostgreSQL stopped $(since "$t_stop") s" "$oks logins accepted, $fails failures refused and queued, on $LAB_HOSTS hosts"
pg_start fleet || die "start the fleet's PostgreSQL again"
t0=$(now)
for n in $ALL; do
        for _ in $(seq 3000); do [ "$(fleet_queued "$n")" = 0 ] && break; sleep 0.1; done
done
drained=$(since "$t0")
# (host, event_id) is roles.events' key: an event twice is one sent again under another id, more
# rows than logins; lost, fewer. Each counted on its own: one must not hide the other.
lost=0 dup=0
for n in $ALL; do
        eq "PostgreSQL back: host $n's outbox drained" "$(fleet_queued "$n")" 0
        for k in failure success; do
                a=$(fleet_audited "$n" "$k") i=$(fleet_ingested "$n" "$k")
                eq "PostgreSQL back: host $n's ${k}s in roles.events as in its login_audit ($a)" "$i" "$a"
                [ "$a" -gt "$i" ] && lost=$((lost + a - i))
                [ "$i" -gt "$a" ] && dup=$((dup + i - a))
        done
done
row "PostgreSQL back: outboxes drained" "in $drained s; $((oks + fails)) events of the outage, $lost lost, $dup twice"

# ---- SIGKILL while shipping ------------------------------------------------------------------------------------
fleet_agent_stop 1
failed_before=$FAILED
fleet_ship_kills 1 "$LAB_KILLS" "$(u 8)"
fleet_once 1 || fail "host 1: the round after the kills"
eq "after $LAB_KILLS kills: host 1's failures in roles.events as in its login_audit" "$(fleet_ingested 1)" "$(fleet_audited 1)"
eq "after $LAB_KILLS kills: host 1's outbox empty" "$(fleet_queued 1)" 0
resent=$(grep -oE 'shipped [0-9]+ outbox events? \([0-9]+ new\)' "$S/hosts/1/agent.log" | awk '{ s += $2; f += substr($5, 2) } END { print s - f }')
read -r ka kb kc <<<"$SHIP_KILLED"
row "$LAB_KILLS SIGKILLs within $((SHIP_WINDOW / 1000)) ms of a round" \
        "$((FAILED - failed_before)) failed checks; $ka before the ingest, $kb between it and the delete, $kc after; ${resent:-0} events sent again"
fleet_agent_start 1

echo
echo "# the write path's lab, $LAB_USERS users, $LAB_HOSTS hosts, poll $FLEET_POLL s, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${TABLE[@]}"
finish
