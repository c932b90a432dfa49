#!/bin/bash
# SPDX-License-Identifier: MIT
# pam_roles.so without privilege, through the setuid helper roles_chkpwd (issue 14): as the user,
# `pamtester roles alice authenticate` under runuser checks alice's own password (and her TOTP
# code), counts wrong ones toward deny and locks her out after deny of them; alice asking for
# bob is refused and not counted; the helper run directly for another user, with a terminal on
# stdin, with ROLES_CONF in its environment or with an inherited descriptor changes nothing.
#
# In a private mount namespace: /etc, /var/lib and the library directory are overlays (the NSS
# module goes there, where setuid programs find it), and so is the directory pam_roles.so was
# built to exec the helper from (its compiled-in path, the sbindir), where the built helper is
# installed setuid root. /dev is private too, for a /dev/log of our own. Needs root (CI runs as
# root), pamtester, oathtool, sqlite3, python3, script and perl. The last line says "N passed, M failed".
#
#   test_chkpwd.sh ROLESCTL PAM_MODULE NSS_LIB_DIR HELPER HELPER_INSTALLED_PATH
set -u
. "$(dirname "$(realpath "$0")")/ns-lib.sh"

ns_e2e_extra=(HELPER HELPER_INSTALLED_PATH)
ns_enter_e2e chkpwd "$@"
HB=$(realpath "$4")
H=$5

need pamtester oathtool sqlite3 python3 script runuser perl || finish
syslog_pid=
ns_on_exit() {
        [ -n "$syslog_pid" ] && kill "$syslog_pid" 2>/dev/null
        return 0
}

# ---- the namespace ------------------------------------------------------------------------------
hdir=$(dirname "$H")
[ -d "$hdir" ] || die "$hdir (where pam_roles.so looks for its helper) does not exist here"
ns_overlay etc var/lib "${hdir#/}"
ns_private_dev
ns_syslog "$S/syslog"
syslog_pid=$ns_syslog_pid
ns_configure 'deny = 3
fail_interval = 900
unlock_time = 0
'
ns_modules "$P" "$L"
install -o root -g root -m 4755 "$HB" "$H" || die "install the helper at $H"
cat >/etc/pam.d/roles <<EOF
auth     required $MOD
EOF
cat >/etc/pam.d/roles-nototp <<EOF
auth     required $MOD no_totp
EOF
cat >/etc/pam.d/roles-perm <<EOF
auth     required $MOD permission=login.locker
EOF
cat >/etc/pam.d/roles-totpreq <<EOF
auth     required $MOD totp=required
EOF

"$R" init >/dev/null || die "rolesctl init"
"$R" batch >/dev/null <<'BATCH' || die "rolesctl batch"
user add alice --uid 10100
user add bob --uid 10102
user add tina --uid 10103
BATCH
pw() { echo "pw-$1-Secret9"; }
for u in alice bob tina; do
        pw "$u" | "$R" user passwd "$u" --stdin >/dev/null || die "rolesctl user passwd $u"
done
tina_uri=$("$R" user totp enroll tina) || die "rolesctl user totp enroll tina"
TINA_SECRET=$(grep -oE 'secret=[A-Z2-7]+' <<<"$tina_uri" | cut -d= -f2)
[ -n "$TINA_SECRET" ] || die "no TOTP secret in <<$tina_uri>>"
[ "$(id -u alice)" = 10100 ] || die "alice does not resolve through libnss_roles.so.2"

js() {
        "$R" --json user show "$1" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$2"
}
tally_of() {
        sqlite3 -readonly /var/lib/roles/state.db \
                "SELECT coalesce(sum(failures), 0) FROM tally WHERE user_uuid = '$(js "$1" 'd["user"]["uuid"]')'"
}
# as USER INPUT SERVICE NAME: pamtester as USER, INPUT on stdin; sets RC and OUT.
nl=$'\n'
as() {
        printf '%s' "$2" | timeout 60 runuser -u "$1" -- pamtester "$3" "$4" authenticate >"$S/out" 2>&1
        RC=$?
        OUT=$(cat "$S/out")
}
good() { if [ "$RC" = 0 ]; then pass; else fail "$1: status $RC, want success (<<$(tr '\n' ' ' <<<"$OUT" | head -c 300)>>)"; fi; }
refused() {
        if [ "$RC" != 1 ] || ! grep -q 'Authentication failure' <<<"$OUT"; then
                fail "$1: status $RC, want 1 and 'Authentication failure' (<<$(tr '\n' ' ' <<<"$OUT" | head -c 300)>>)"
        else pass; fi
}
logged() {      # logged WHAT ERE: a syslog line matches
        local _
        for _ in $(seq 50); do grep -qE "$2" "$S/syslog" && break; sleep 0.1; done
        grep -qE "$2" "$S/syslog" && pass || fail "$1: no syslog line /$2/ ($(tail -n 3 "$S/syslog" | tr '\n' ' '))"
}

# ---- pamtester as the user ------------------------------------------------------------------------
as alice "$(pw alice)$nl" roles alice; good "alice checks her own password"
as alice "wrong$nl" roles alice; refused "alice with a wrong password"
eq "the wrong password counted toward deny" "$(tally_of alice)" 1
as alice "$(pw alice)$nl" roles alice; good "the right password clears the count"
eq "the count is cleared" "$(tally_of alice)" 0
sqlite3 -readonly /var/lib/roles/state.db "SELECT service FROM login_audit" 2>/dev/null | grep -qx roles_chkpwd && pass ||
        fail "the login audit names roles_chkpwd: $(sqlite3 -readonly /var/lib/roles/state.db 'SELECT * FROM login_audit' 2>&1 | tail -n 3)"

# another user: refused, logged, and not counted against bob (nothing was tried on his password).
as alice "$(pw bob)$nl" roles bob; refused "alice asking for bob, with bob's password"
eq "alice's attempt is not counted against bob" "$(tally_of bob)" 0
logged "the refusal is logged" 'roles_chkpwd.*refused: uid 10100 .* bob'
as bob "$(pw bob)$nl" roles bob; good "bob checks his own password"
# An application that runs with descriptors 0-2 closed (a daemon) gets low numbers for the
# socket pam_roles.so talks to the helper through: the helper must still get it as its stdin and
# stdout (dup2 of a descriptor onto itself would leave its close-on-exec flag set).
install -m 0644 "$(dirname "$(realpath "$0")")/pam_ctypes.py" "$S/lib/pam_ctypes.py" || die "copy pam_ctypes.py"
eq "bob's own password from an application with 0-2 closed" \
        "$(timeout 60 runuser -u bob -- /usr/bin/python3 "$S/lib/pam_ctypes.py" closed-stdio roles bob "$(pw bob)" 2>&1)" \
        "auth 0"

# TOTP: the code is asked after the right password, as in a root process.
as tina "$(pw tina)$nl$(oathtool --totp -b "$TINA_SECRET")$nl" roles tina; good "tina: password and TOTP code"
grep -q 'Verification code' <<<"$OUT" && pass || fail "tina: no code prompt (<<$OUT>>)"
as tina "$(pw tina)${nl}000000$nl" roles tina; refused "tina: a wrong code"
as tina "$(pw tina)$nl" roles-nototp tina; good "tina: no_totp, the password alone"
# permission= on the auth line goes to the helper: tina does not hold login.locker.
as tina "$(pw tina)$nl" roles-perm tina; refused "permission= on the auth line is judged by the helper"
# totp=required goes to the helper too: bob has not enrolled, tina has.
as bob "$(pw bob)$nl" roles-totpreq bob; refused "totp=required: bob, not enrolled, is refused by the helper"
# (the next step's code: this step's was spent above, and totp_window accepts one step either side)
as tina "$(pw tina)$nl$(oathtool --totp -b "$TINA_SECRET" -N "$(date -u -d '+30 seconds' '+%F %T UTC')")$nl" roles-totpreq tina
good "totp=required: tina, enrolled, passes with her code"

# A hash the configuration has moved past is upgraded at a login through the helper too, from the
# password: not from the TOTP code, which the helper reads into the buffer the password was in.
"$R" user add rita --uid 10104 >/dev/null && pw rita | "$R" user passwd rita --stdin >/dev/null ||
        die "rolesctl user add rita"
rita_uri=$("$R" user totp enroll rita) || die "rolesctl user totp enroll rita"
RITA_SECRET=$(grep -oE 'secret=[A-Z2-7]+' <<<"$rita_uri" | cut -d= -f2)
rita_hash() {
        sqlite3 -readonly /var/lib/roles/secrets.db \
                "SELECT password_hash FROM credentials WHERE user_uuid = '$(js rita 'd["user"]["uuid"]')'"
}
cp -a /etc/roles.conf "$S/roles.conf.saved" && sed -i 's/^argon2_t_cost = 1$/argon2_t_cost = 2/' /etc/roles.conf ||
        die "raise argon2_t_cost"
rita_code=$(oathtool --totp -b "$RITA_SECRET")
as rita "$(pw rita)$nl$rita_code$nl" roles rita; good "rita: password and TOTP code, her hash due for an upgrade"
[[ $(rita_hash) == *'$m=1024,t=2,p=1$'* ]] && pass || fail "rita: the hash was not upgraded: $(rita_hash)"
as rita "$(pw rita)$nl" roles-nototp rita; good "rita: her password still works after the upgrade"
as rita "$rita_code$nl" roles-nototp rita; refused "rita: the TOTP code she typed is not her password"
cp -a "$S/roles.conf.saved" /etc/roles.conf || die "put roles.conf back"

# ---- lockout: deny = 3 ----------------------------------------------------------------------------
for i in 1 2 3; do
        as alice "wrong-$i$nl" roles alice; refused "alice: wrong password $i"
done
eq "three failures counted" "$(tally_of alice)" 3
as alice "$(pw alice)$nl" roles alice; refused "alice locked out after deny wrong passwords: the right one is refused"
[ -n "$(sqlite3 -readonly /var/lib/roles/state.db "SELECT locked_until FROM tally WHERE locked_until != 0")" ] && pass ||
        fail "no lock recorded in state.db"

# ---- the helper run directly ----------------------------------------------------------------------
# direct USER PASSWORD ARGS...: the helper's exit status, run (ARGS) as USER with PASSWORD and a
# NUL on a pipe.
direct() {
        local user=$1 input=$2
        shift 2
        printf '%s\0' "$input" | timeout 30 runuser -u "$user" -- "$@" >/dev/null 2>&1
        echo $?
}
eq "direct: bob's own password, as bob" "$(direct bob "$(pw bob)" "$H" bob auth)" 0
eq "direct: bob's name, as alice: refused" "$(direct alice "$(pw bob)" "$H" bob auth)" 1
eq "direct: a name that is no account: refused" "$(direct bob x "$H" nosuchuser auth)" 1
eq "direct: bad arguments" "$(direct bob "" "$H" bob nonsense)" 9
# Limits the caller set that would make its database work fail are reset: with a soft limit of 6
# descriptors (SQLite's three files, each with its journal, need more) bob's right password still
# passes; a hard limit it cannot raise (no CAP_SYS_RESOURCE in a container) stops it before it
# reads anything: a system error, never a password's answer.
eq "direct: bob's password under the caller's soft RLIMIT_NOFILE of 6" \
        "$(direct bob "$(pw bob)" prlimit --nofile=6:4096 "$H" bob auth)" 0
eq "direct: a hard RLIMIT_NOFILE the helper cannot raise: it does not run" \
        "$(direct bob "$(pw bob)" prlimit --nofile=6:6 "$H" bob auth)" 9
# An interval timer the caller armed survives its execve: its signal (SIGALRM, SIGVTALRM, SIGPROF)
# needs no permission to arrive, so it would end the helper at an instant the caller chose, such as
# between the argon2 verdict and the state.db commit that counts a wrong password: guesses that are
# never counted. The helper disarms the timers: here one fires while it waits for the password, and
# the wrong password that comes after it is still answered and counted.
"$R" user add tim --uid 10105 >/dev/null && pw tim | "$R" user passwd tim --stdin >/dev/null || die "rolesctl user add tim"
armed_exec='use Time::HiRes qw(setitimer ITIMER_REAL); setitimer(ITIMER_REAL, 0.2); exec @ARGV or die "exec: $!"'
RC=0
{ sleep 0.6; printf 'wrong\0'; } | timeout 30 runuser -u tim -- perl -e "$armed_exec" "$H" tim auth >/dev/null 2>&1 || RC=$?
eq "direct: a wrong password after the caller's ITIMER_REAL fired: answered" "$RC" 1
eq "direct: ... and counted" "$(tally_of tim)" 1
# A real-time scheduling policy the caller may hold (RLIMIT_RTPRIO, as desktops give the audio
# group) survives execve with the caller's RLIMIT_RTTIME: SIGXCPU would end the helper inside its
# argon2 (the configured cost here, not the tests' cheapest), before the wrong password is
# counted. The helper takes the normal policy back.
if chrt -f 1 true 2>/dev/null; then
        cp -a /etc/roles.conf "$S/roles.conf.rt" &&
                sed -i 's/^argon2_t_cost = 1$/argon2_t_cost = 3/; s/^argon2_m_cost_kib = 1024$/argon2_m_cost_kib = 65536/' \
                        /etc/roles.conf || die "raise the argon2 cost"
        before=$(tally_of tim)
        RC=0
        printf 'wrong\0' | timeout 60 chrt -f 1 runuser -u tim -- prlimit --rttime=10000: "$H" tim auth >/dev/null 2>&1 || RC=$?
        eq "direct: a wrong password under SCHED_FIFO and a 10 ms RLIMIT_RTTIME: answered" "$RC" 1
        eq "direct: ... and counted" "$(tally_of tim)" $((before + 1))
        cp -a "$S/roles.conf.rt" /etc/roles.conf || die "put roles.conf back"
else
        echo "note: SCHED_FIFO is not allowed here; the RLIMIT_RTTIME case is left out"
fi
# A terminal on stdin: refused before anything is read.
RC=0
out=$(printf '%s\n' "$(pw bob)" | timeout 30 runuser -u bob -- script -qec "$H bob auth" /dev/null 2>&1) || RC=$?
[ "$RC" = 1 ] && grep -q 'not a command' <<<"$out" && pass || fail "a terminal on stdin: status $RC, <<$out>>"
logged "the terminal refusal is logged" 'roles_chkpwd.*refused: .*terminal'
# ROLES_CONF names a configuration whose databases hold another password for bob: ignored.
mkdir -m 0755 "$S/evil" && printf '%spublic_db = %s\nsecrets_db = %s\nstate_db = %s\n' "$ns_conf_ids" \
        "$S/evil/roles.db" "$S/evil/secrets.db" "$S/evil/state.db" >"$S/evil.conf" || die "evil.conf"
chmod 0644 "$S/evil.conf"
ROLES_CONF=$S/evil.conf "$R" init >/dev/null && ROLES_CONF=$S/evil.conf "$R" user add bob --uid 10102 >/dev/null &&
        echo Evil-Pass-666 | ROLES_CONF=$S/evil.conf "$R" user passwd bob --stdin >/dev/null || die "the evil databases"
eq "ROLES_CONF is ignored: its password is refused" \
        "$(direct bob Evil-Pass-666 env "ROLES_CONF=$S/evil.conf" "$H" bob auth)" 1
eq "ROLES_CONF is ignored: the real password works" \
        "$(direct bob "$(pw bob)" env "ROLES_CONF=$S/evil.conf" "$H" bob auth)" 0
# An inherited descriptor (7, open on a file only root may read) is closed before anything runs:
# the helper waits for its password on a FIFO while root looks at its descriptors.
install -m 0600 /dev/null "$S/private" && mkfifo -m 0666 "$S/fifo" || die "fifo"
runuser -u bob -- bash -c "exec 7<&0; exec \"$H\" bob auth <\"$S/fifo\" >/dev/null 2>&1" <"$S/private" &
rpid=$!
exec {holder}>"$S/fifo"
hpid=
for _ in $(seq 100); do
        for p in /proc/[0-9]*; do
                [ "$(readlink "$p/exe" 2>/dev/null)" = "$H" ] && ns_descends "${p#/proc/}" "$rpid" && hpid=${p#/proc/}
        done
        [ -n "$hpid" ] && break
        sleep 0.05
done
[ -n "$hpid" ] || die "the helper did not start"
sleep 0.3
fds=$(ls -l "/proc/$hpid/fd" 2>&1)
grep -q -- "-> $S/private" <<<"$fds" && fail "the inherited descriptor is still open: $fds" || pass
grep -qE ' 0 -> .*fifo' <<<"$fds" && pass || fail "could not see the helper's descriptors: $fds"
printf '%s\0' "$(pw bob)" >&"$holder"
exec {holder}>&-
wait "$rpid"
eq "the helper answered after the descriptor check" "$?" 0

finish
