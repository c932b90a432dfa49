#!/bin/bash
# SPDX-License-Identifier: MIT
# Synchronous claims through roles-agent's socket (issue 16, FLEET.md "Write path", synchronous
# operations; common/agent-protocol.h):
#  - the socket: /run/roles/agent.sock, 0600 root, while the agent runs;
#  - a password changed through PAM on host 1 (compare-and-set on the primary, installed on host 1
#    before passwd returns): the new password works on host 2 after its next round (timed), the
#    old one nowhere;
#  - the same password changed on 2 hosts at the same moment, ROUNDS rounds (10; --rounds N):
#    exactly one wins each round, the other is told it changed meanwhile;
#  - PostgreSQL stopped, or the agent down: passwd refused with "the account server cannot be
#    reached", secrets.db unchanged;
#  - a client that is not root, garbage, 1 MiB, a silent client: refused, the agent serves on.
#  - one activation code typed on 2 hosts at the same moment, ROUNDS rounds: exactly one wins;
#    a reset code spent on host 2 is refused on host 1; PostgreSQL stopped: a code login refused
#    with the clear message, the code unspent.
#  - a recovery code (TOTP) used at login on host 1: refused then on host 2 and on host 1; the same
#    recovery code typed on 2 hosts at the same moment, 5 rounds (--rounds N: N): exactly one wins;
#    PostgreSQL stopped: a recovery code login refused with the clear message, the code unspent,
#    and accepted once PostgreSQL is back;
#  - the primary slow (the code's row held by another session past the client's wait): the
#    code login refused with the clear message, and the code not spent after the login gave up
#    (the claim is given up before the client gives up on it); accepted once the row is let go.
#
#   test_fleet_claims.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT [--rounds N]
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

# --rounds N: through the environment, which the namespace's own run of this script keeps.
if [ "${5:-}" = --rounds ]; then
        export FLEET_CLAIMS_ROUNDS=${6:?--rounds N}
        set -- "$1" "$2" "$3" "$4"
fi
ROUNDS=${FLEET_CLAIMS_ROUNDS:-10}
# The recovery code's rounds (a TOTP login each, and codes issued 10 at a time): 5 unless --rounds.
RROUNDS=${FLEET_CLAIMS_ROUNDS:-5}
fleet_enter fleet-claims "$@"
FLEET_POLL=1
fleet_setup
need sqlite3 /usr/bin/python3 setpriv || finish
nl=$'\n'

run_ok "rolesctl init against PostgreSQL" arc init
[ "$RC" -eq 0 ] || die "rolesctl init against PostgreSQL"
printf '%s\n' 'Old-Horse-1234' | arc user add alice --password-stdin >/dev/null || die "rolesctl user add alice"
ALICE=$(arc --json user show alice | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])') ||
        die "rolesctl user show alice"
# No lockout, on the hosts nor the fleet's (roles.lockout): a race has a loser every round, whose
# refusal counts as a failure, and rita's rounds, a success and a failure in the same second each,
# would lock her (fleet-facts checks the lockout).
pg_sql fleet "UPDATE roles.lockout SET deny = 0" >/dev/null || die "the fleet's lockout off"
for n in 1 2; do
        fleet_host_start "$n" "deny = 0"
        fleet_in "$n" sh -c "echo 'password required $MOD' >>/etc/pam.d/roles" || die "host $n: a password line"
done
fleet_wait_serial "$(fleet_serial)" 30 1 2 >/dev/null || die "hosts 1-2 did not install the fleet"
# The socket is made right after the first round: wait for it.
for _ in $(seq 100); do fleet_in 1 test -S /run/roles/agent.sock && fleet_in 2 test -S /run/roles/agent.sock && break; sleep 0.05; done

login() { fleet_login "$1" "$2" "$3$nl"; }
passwd_on() { fleet_passwd "$@"; }
# cred N: host N's credentials row of alice, as secrets.db has it.
cred() { fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/secrets.db "SELECT quote(password_hash), fs_uniquifier FROM credentials WHERE user_uuid = '$ALICE'"; }
ask() { fleet_ask "$@"; }

# ---- the socket ----------------------------------------------------------------------------------------------------
for n in 1 2; do
        eq "host $n: the agent's socket" "$(fleet_in "$n" stat -c '%F %a %U' /run/roles/agent.sock)" "socket 600 root"
done

# ---- a password changed on host 1 works on host 2 after its next round -------------------------------------------
T0=$(date +%s%N)
passwd_on 1 alice 'New-Horse-5678'
eq "host 1: passwd alice through the agent" "$RC" 0
took_1=$(awk -v a="$(date +%s%N)" -v b="$T0" 'BEGIN { printf "%.2f", (a - b) / 1e9 }')
login 1 alice 'New-Horse-5678'
eq "host 1: the new password at once (installed before passwd returned)" "$RC" 0
ok2=1
for _ in $(seq 100); do
        login 2 alice 'New-Horse-5678'
        [ "$RC" -eq 0 ] && { ok2=0; break; }
        sleep 0.1
done
took_2=$(awk -v a="$(date +%s%N)" -v b="$T0" 'BEGIN { printf "%.2f", (a - b) / 1e9 }')
eq "host 2: the new password after its next round (${took_2} s)" "$ok2" 0
for n in 1 2; do
        login "$n" alice 'Old-Horse-1234'
        [ "$RC" -ne 0 ]
        eq "host $n: the old password refused" "$?" 0
done
eq "the change went through the claim function" "$(pg_sql fleet "SELECT actor LIKE 'password change (host1)' FROM roles.changes
        WHERE serial = (SELECT serial FROM roles.claimed WHERE user_uuid = '$ALICE')")" t
echo "# passwd on host 1 took ${took_1} s; the new password worked on host 2 ${took_2} s after it began (poll ${FLEET_POLL} s)"

# ---- the same password changed on 2 hosts at the same moment --------------------------------------------------------
# Through the socket, as PAM asks (agent-protocol.h), both from the hash both hosts hold: pamtester
# on both would not race reliably, since a host that installed the first change before its own
# PAM read the hash makes a second change, rightly.
hash_of() { fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/secrets.db "SELECT password_hash FROM credentials WHERE user_uuid = '$ALICE'"; }
wins_ok=0
for i in $(seq "$ROUNDS"); do
        fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "round $i: hosts not on the fleet's serial"
        old=$(hash_of 1)
        [ "$old" = "$(hash_of 2)" ] || fail "round $i: the hosts' hashes differ before the race"
        go=$S/go.$i racers=()
        for n in 1 2; do
                (while [ ! -e "$go" ]; do sleep 0.002; done
                 ask "$n" "b'password\\n$ALICE\\n$old\\n\$argon2id\$race-$i-$n\\n' + str(__import__('uuid').uuid4()).encode() + b'\\n0\\n'" \
                        >"$S/race.$n") &
                racers+=("$!")
        done
        sleep 0.2
        touch "$go"
        wait "${racers[@]}"     # not the agents this shell started too
        answers=$(sort "$S/race.1" "$S/race.2" | tr '\n' ' ')
        if [ "$answers" = "lost won " ]; then wins_ok=$((wins_ok + 1)); else fail "round $i: answers <<$answers>>, want lost and won"; fi
done
eq "exactly one of two hosts won each of $ROUNDS rounds" "$wins_ok" "$ROUNDS"
echo "# the same compare-and-set from 2 hosts at once: $wins_ok of $ROUNDS rounds had exactly one winner"
PW='Final-Horse-2468'
fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "hosts not on the fleet's serial after the race"
passwd_on 1 alice "$PW"
eq "host 1: passwd alice after the race" "$RC" 0
fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "hosts not on the fleet's serial after the race"
login 2 alice "$PW"
eq "host 2: that password" "$RC" 0

# ---- one activation code typed on 2 hosts at the same moment --------------------------------------------------------
fleet_code_race "$ROUNDS" 1 2 act
echo "# one activation code on 2 hosts at once: $CODES_OK of $ROUNDS rounds had exactly one winner"
code_of() { fleet_code_of "$1"; }
# A reset code, spent on host 2, refused on host 1 after host 1's next round.
CODE=$(code_of "$(arc user reset alice 2>&1)")
fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "hosts not on the fleet's serial after the reset"
printf '%s\n' "$CODE" | fleet_in 2 timeout 30 pamtester roles alice authenticate >"$OUT" 2>&1
eq "host 2: alice's reset code accepted" "$?" 0
fleet_wait_serial "$(fleet_serial)" 10 1 >/dev/null || fail "host 1 not on the fleet's serial after the claim"
printf '%s\n' "$CODE" | fleet_in 1 timeout 30 pamtester roles alice authenticate >"$OUT" 2>&1
[ "$?" -ne 0 ]
eq "host 1: the reset code spent on host 2 refused" "$?" 0
passwd_on 2 alice "$PW"
eq "host 2: alice sets a password after the reset code" "$RC" 0

# ---- recovery codes: spent once on the primary -----------------------------------------------------------------------
# rita: a password and TOTP; a recovery code stands in for the verification code. A batch of 10
# codes at a time (what an enrolment or `user totp recovery-codes` gives): RCODES, used from RNEXT.
printf '%s\n' "$PW" | arc user add rita --password-stdin >/dev/null || die "rolesctl user add rita"
RITA=$(arc --json user show rita | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])') ||
        die "rolesctl user show rita"
RCODES=() RNEXT=0
# recovery_codes VERB: rita's TOTP enrolled (enroll) or new recovery codes (recovery-codes), in RCODES.
recovery_codes() {
        mapfile -t RCODES < <(arc --json user totp "$1" rita | python3 -c 'import json, sys; print(*json.load(sys.stdin)["recovery_codes"], sep="\n")')
        RNEXT=0
        [ "${#RCODES[@]}" -eq 10 ] || die "rolesctl user totp $1 rita: ${#RCODES[@]} recovery codes"
        fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "hosts not on the fleet's serial after $1"
}
# next_code: the next unused code of the batch in RCODE (a new batch when it is spent).
next_code() {
        [ "$RNEXT" -lt "${#RCODES[@]}" ] || recovery_codes recovery-codes
        RCODE=${RCODES[$RNEXT]}
        RNEXT=$((RNEXT + 1))
}
# rlogin N CODE: rita's password and CODE at the verification code prompt, on host N; RC, $OUT.
rlogin() { printf '%s\n%s\n' "$PW" "$2" | fleet_in "$1" timeout 30 pamtester roles rita authenticate >"$OUT" 2>&1; RC=$?; }
# unused N: rita's unused recovery codes in host N's secrets.db (N = pg: on the primary).
unused() {
        if [ "$1" = pg ]; then
                pg_sql fleet "SELECT count(*) FROM roles.recovery_codes WHERE user_uuid = '$RITA' AND used_at IS NULL"
        else
                fleet_in "$1" "${SQLITE_RO[@]}" /var/lib/roles/secrets.db \
                        "SELECT count(*) FROM recovery_codes WHERE user_uuid = '$RITA' AND used_at IS NULL"
        fi
}
recovery_codes enroll
next_code
rlogin 1 "$RCODE"
eq "host 1: rita's recovery code accepted" "$RC" 0
grep -q 'Recovery code used: 9 left' "$OUT"
eq "host 1: rita told 9 codes are left (installed before the answer)" "$?" 0
eq "the recovery code spent on the primary" "$(unused pg)" 9
rlogin 2 "$RCODE"
[ "$RC" -ne 0 ]
eq "host 2: the recovery code spent on host 1 refused, at once" "$?" 0
rlogin 1 "$RCODE"
[ "$RC" -ne 0 ]
eq "host 1: the recovery code refused the second time" "$?" 0
fleet_wait_serial "$(fleet_serial)" 10 2 >/dev/null || fail "host 2 not on the fleet's serial after the claim"
eq "host 2: the code spent in its secrets.db after its round" "$(unused 2)" 9

# The same recovery code typed on 2 hosts at the same moment, RROUNDS rounds.
recovery_ok=0
for i in $(seq "$RROUNDS"); do
        next_code
        fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "recovery round $i: hosts not on the fleet's serial"
        fleet_race_login "recovery.$i" rita "$PW"$'\n'"$RCODE"$'\n' 1 2
        if [ "$WON" = 1 ]; then
                recovery_ok=$((recovery_ok + 1))
        else
                fail "recovery round $i: $WON hosts let rita in (want 1): $(cat "$S/recovery.$i.1" "$S/recovery.$i.2" | tr '\n' ' ')"
        fi
done
eq "exactly one of two hosts spent the recovery code, each of $RROUNDS rounds" "$recovery_ok" "$RROUNDS"
echo "# one recovery code on 2 hosts at once: $recovery_ok of $RROUNDS rounds had exactly one winner"
eq "every recovery code of the races spent once on the primary" "$(pg_sql fleet "SELECT count(*) FROM roles.changes
        WHERE actor LIKE 'recovery code (host_)'")" $((RROUNDS + 1))
next_code
RDOWN=$RCODE

# ---- the primary or the agent unreachable ---------------------------------------------------------------------------
CODE=$(code_of "$(arc user add late --activation 2>&1)")
LATE=$(arc --json user show late | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])') || die "rolesctl user show late"
fleet_wait_serial "$(fleet_serial)" 10 1 2 >/dev/null || fail "hosts not on the fleet's serial before PostgreSQL stops"
before=$(cred 1)
pg_stop fleet || die "stop PostgreSQL"
passwd_on 1 alice 'Down-Horse-0000'
[ "$RC" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "PostgreSQL down: passwd refused with the clear message" "$?" 0
eq "PostgreSQL down: host 1's secrets.db unchanged" "$(cred 1)" "$before"
login 1 alice "$PW"
eq "PostgreSQL down: the password login goes on" "$RC" 0
printf '%s\n' "$CODE" | fleet_in 1 timeout 30 pamtester roles late authenticate >"$OUT" 2>&1
[ "$?" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "PostgreSQL down: an activation code login refused with the clear message" "$?" 0
eq "PostgreSQL down: the code unspent on host 1" "$(fleet_in 1 "${SQLITE_RO[@]}" /var/lib/roles/secrets.db \
        "SELECT count(*) FROM codes WHERE used_at IS NULL AND kind = 'activation' AND user_uuid = '$LATE'")" 1
left=$(unused 1)
rlogin 1 "$RDOWN"
[ "$RC" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "PostgreSQL down: a recovery code login refused with the clear message" "$?" 0
eq "PostgreSQL down: the recovery code unspent on host 1" "$(unused 1)" "$left"
pg_start fleet || die "start PostgreSQL again"
fleet_agent_stop 1
passwd_on 1 alice 'Down-Horse-0000'
[ "$RC" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "agent down: passwd refused with the clear message" "$?" 0
eq "agent down: host 1's secrets.db unchanged" "$(cred 1)" "$before"
eq "agent down: its socket is gone" "$(fleet_in 1 test -e /run/roles/agent.sock; echo $?)" 1
fleet_agent_start 1
for _ in $(seq 100); do fleet_in 1 test -S /run/roles/agent.sock && break; sleep 0.05; done

# ---- what the socket refuses ----------------------------------------------------------------------------------------
fleet_socket_refusals 1 alice 'After-Horse-4321'
rlogin 1 "$RDOWN"
eq "the recovery code refused while PostgreSQL was down works now" "$RC" 0
eq "and is spent on the primary" "$(pg_sql fleet "SELECT count(*) FROM roles.changes WHERE actor LIKE 'recovery code (host_)'")" \
        $((RROUNDS + 2))

# ---- the primary slow ------------------------------------------------------------------------------------------------
# The code's row held by another session for longer than a login waits for the agent (15 s): the
# login is refused, and what it asked for must not be done once it has given up, or the code is
# spent and the user was told it was not. Then, the row let go, the same code logs in.
CODE=$(code_of "$(arc user add slow --activation 2>&1)")
SLOW=$(arc --json user show slow | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])') || die "rolesctl user show slow"
fleet_wait_serial "$(fleet_serial)" 10 1 >/dev/null || fail "host 1 not on the fleet's serial before the row is held"
fleet_hold "SELECT 1 FROM roles.codes WHERE user_uuid = '$SLOW' FOR UPDATE" || die "a session holding slow's code"
printf '%s\n' "$CODE" | fleet_in 1 timeout 60 pamtester roles slow authenticate >"$OUT" 2>&1
[ "$?" -ne 0 ] && grep -q 'the account server cannot be reached' "$OUT"
eq "the primary slow: an activation code login refused with the clear message" "$?" 0
fleet_release
# A claim still waiting would go through now: let it, before looking.
for _ in $(seq 200); do
        [ "$(pg_sql fleet "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%claim_code%' AND state = 'active'
                AND pid <> pg_backend_pid()")" = 0 ] && break
        sleep 0.05
done
eq "the primary slow: the code not spent after the login gave up" "$(pg_sql fleet "SELECT count(*) FROM roles.codes
        WHERE user_uuid = '$SLOW' AND used_at IS NULL")" 1
printf '%s\n' "$CODE" | fleet_in 1 timeout 30 pamtester roles slow authenticate >"$OUT" 2>&1
eq "the row let go: the same code logs in" "$?" 0

finish
