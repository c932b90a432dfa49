#!/bin/bash
# SPDX-License-Identifier: MIT
# A hostile local user against the setuid programs that run pam_roles with the user's real uid:
# stopping them must never hold up anyone else's login, nor switch lockout off.
#  1. The shield: while su (run by mallory) works inside state.db or secrets.db, mallory cannot
#     stop it (kill -STOP is refused; its real uid is root's then). strace slows every fcntl of
#     su so that a lock is held long enough to be caught in /proc/locks.
#  2. The gate: with a reader that never lets go of state.db (a stopped process holding a SHARED
#     lock), wrong passwords cannot be counted, so a right password is refused too.
#  3. A spray of su attempts, each stopped by mallory at a random moment: bob's logins answer in
#     their normal time (+ 50 ms) and his failures are counted.
#
#   test_stopped.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
. "$(dirname "$0")/ns-lib.sh"

ns_enter_e2e stopped "$@"
need pamtester su strace python3 runuser || finish

ns_overlay etc var/lib
ns_configure "deny = 3
fail_interval = 900
unlock_time = 0
"
ns_modules "$P" "$L"
for svc in roles su; do
        printf 'auth required %s\naccount required %s\nsession required %s\n' "$MOD" "$MOD" "$MOD" >"/etc/pam.d/$svc"
done
# su must not sleep after each failure (util-linux su reads FAIL_DELAY).
sed -i '/^FAIL_DELAY/d' /etc/login.defs && echo 'FAIL_DELAY 0' >>/etc/login.defs
PW=correct-horse-battery
"$R" init >/dev/null || die "rolesctl init"
# mallory's uid is one no other end-to-end script uses: meson runs them two at a time, and she
# may signal only processes of her own uid.
printf '%s\n' "$PW" | "$R" user add mallory --uid 10977 --password-stdin >/dev/null || die "rolesctl user add mallory"
for u in carol bob; do
        printf '%s\n' "$PW" | "$R" user add "$u" --password-stdin >/dev/null || die "rolesctl user add $u"
done
ours=$(readlink /proc/self/ns/mnt)
# Processes of this mount namespace named $1 (meson runs other scripts meanwhile).
our_procs() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ours" ] &&
                        echo "${p#/proc/}"
        done
}
uuid_of() { "$R" --json user show "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])'; }
tally_of() { sqlite3 -readonly /var/lib/roles/state.db "SELECT coalesce(sum(failures), 0) FROM tally WHERE user_uuid = '$(uuid_of "$1")'"; }
ms() { date +%s%3N; }
login_ms() {    # login_ms USER PASSWORD: T, the milliseconds pamtester took, and RC, its status
        local t0
        t0=$(ms)
        printf '%s' "$2" | timeout 60 pamtester roles "$1" authenticate >/dev/null 2>&1
        RC=$?
        T=$(($(ms) - t0))
}
ns_on_exit() {
        kill -KILL $(our_procs su) $(our_procs python3) 2>/dev/null
}
state_ino=$(stat -c %i /var/lib/roles/state.db)
secrets_ino=$(stat -c %i /var/lib/roles/secrets.db)

# ---- 1. the shield ------------------------------------------------------------------------------------
printf 'wrong-password\n' | strace -f -qq -o /dev/null -e trace=fcntl -e inject=fcntl:delay_exit=150000 \
        runuser -u mallory -- su -c true carol >/dev/null 2>&1 &
traced=$!
caught=
for _ in $(seq 1500); do
        # /proc/locks: "1: POSIX ADVISORY WRITE PID MAJ:MIN:INODE START END"
        caught=$(awk -v a="$state_ino" -v b="$secrets_ino" '{ split($6, f, ":"); if (f[3] == a || f[3] == b) { print $5; exit } }' /proc/locks)
        [ -n "$caught" ] && [ "$(cat "/proc/$caught/comm" 2>/dev/null)" = su ] && break
        caught=
        sleep 0.01
done
if [ -z "$caught" ]; then
        fail "shield: su never held a lock on state.db or secrets.db"
else
        uids=$(awk '/^Uid:/ { print $2, $3, $4 }' "/proc/$caught/status")
        if runuser -u mallory -- kill -STOP "$caught" 2>/dev/null; then
                fail "shield: mallory stopped su ($caught, uids $uids) while it held a database lock"
                kill -CONT "$caught"
        else
                pass
        fi
        eq "shield: su's real, effective and saved uids while it holds a lock" "$uids" "0 0 0"
fi
wait "$traced"
sleep 1
out=$(printf 'wrong-password\n' | runuser -u mallory -- su -c true carol 2>&1)
eq "shield: su carol with a wrong password still fails as before" "$?" 1
eq "shield: its failures were counted" "$(tally_of carol)" 2
"$R" user unlock carol >/dev/null

# ---- 2. the gate with a reader that never lets go ------------------------------------------------------
python3 - /var/lib/roles/state.db >/dev/null 2>&1 <<'PY' &
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM tally").fetchall()      # a SHARED lock, held until the end
os.kill(os.getpid(), signal.SIGSTOP)
PY
reader=$!
for _ in $(seq 100); do [ "$(awk '{ print $3 }' "/proc/$reader/stat" 2>/dev/null)" = T ] && break; sleep 0.05; done
[ "$(awk '{ print $3 }' "/proc/$reader/stat")" = T ] || die "the reader did not stop"
login_ms bob "$PW"
[ "$RC" -ne 0 ] && pass || fail "gate: bob's right password accepted while failures could not be counted (${T} ms)"
kill -KILL "$reader"; wait "$reader" 2>/dev/null
login_ms bob "$PW"; eq "gate: bob's right password once the reader is gone" "$RC" 0

# ---- 3. a spray of stopped su attempts --------------------------------------------------------------------
base=()
for _ in 1 2 3; do login_ms bob "$PW"; base+=("$T"); done
base_ms=$(printf '%s\n' "${base[@]}" | sort -n | sed -n 2p)
# mallory starts su after su, each fed a wrong password after a random pause, and a loop of hers
# stops every su it can, at whatever moment it finds it, for three seconds.
runuser -u mallory -- bash -c 'end=$(($(date +%s%3N) + 3000))
while [ "$(date +%s%3N)" -lt "$end" ]; do
        for p in /proc/[0-9]*; do
                read -r comm <"$p/comm" 2>/dev/null && [ "$comm" = su ] && kill -STOP "${p#/proc/}" 2>/dev/null
        done
done' >/dev/null 2>&1 &
stopper=$!
for i in $(seq 60); do
        { sleep "0.0$((RANDOM % 10))"; echo wrong-password; } | runuser -u mallory -- su -c true carol >/dev/null 2>&1 &
        sleep 0.03
done
wait "$stopper"
stopped=$(for p in $(our_procs su); do [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = T ] && echo "$p"; done | wc -l)
echo "# $stopped su processes stopped by mallory; bob's login took ${base_ms} ms before"
[ "$stopped" -gt 0 ] && pass || fail "spray: mallory stopped no su at all"
login_ms bob "$PW"
eq "spray: bob logs in" "$RC" 0
[ "$T" -le $((base_ms + 50)) ] && pass || fail "spray: bob's login took $T ms with stopped su processes (normal ${base_ms} ms)"
before=$(tally_of bob)
login_ms bob wrong-password
[ "$T" -le $((base_ms + 50)) ] && pass || fail "spray: bob's wrong password took $T ms (normal ${base_ms} ms)"
eq "spray: bob's failure is counted" "$(tally_of bob)" $((before + 1))
kill -KILL $(our_procs su) 2>/dev/null

finish
