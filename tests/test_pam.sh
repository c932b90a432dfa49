#!/bin/bash
# SPDX-License-Identifier: MIT
# pam_roles.so through the real libpam, as programs use it: pamtester for every phase (auth with
# passwords, lockout, activation and reset codes, TOTP, legacy crypt(3) hashes; account with
# permissions, metaroles, wildcards, ended grants, disabled and expired accounts; password
# changes; session bookkeeping), and the real setuid sudo with /etc/pam.d/sudo made of
# pam_roles and sudoers naming a published metarole group. Runs in a private mount namespace
# where /etc, /var/lib and /run/sudo are overlays or tmpfs, so the host's files are never
# touched; needs root (CI runs as root). Every check is counted; the last line says
# "N passed, M failed". With ROLES_TEST_VALGRIND=1 (`meson test --setup valgrind`), pamtester
# runs under valgrind memcheck, and each of its runs is one more check: no memcheck error, and no
# roles database left open once libpam has unloaded the module (tests/ns-lib.sh).
#
#   test_pam.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
TESTS=$(realpath "$(dirname "$0")")
. "$TESTS/ns-lib.sh"

[ $# -eq 3 ] || { echo "usage: test_pam.sh ROLESCTL PAM_MODULE NSS_LIB_DIR" >&2; exit 1; }
ns_enter pam "$@"
R=$(realpath "$1")
P=$(realpath "$2")
L=$(realpath "$3")

need pamtester oathtool sqlite3 python3 openssl || finish
[ -f "$P" ] || die "no PAM module at $P"
[ -f "$L/libnss_roles.so.2" ] || die "no NSS module in $L"

# ---- the namespace ------------------------------------------------------------------------------
ns_overlay etc var/lib
# /dev: for a /dev/log of our own, where the module's pam_syslog lines are caught.
ns_private_dev
ns_syslog "$S/syslog"
ns_on_exit() {
        [ -n "${ns_syslog_pid:-}" ] && kill "$ns_syslog_pid" 2>/dev/null && wait "$ns_syslog_pid" 2>/dev/null
}
# sudo keeps its timestamps in /run/sudo: a tmpfs of this namespace's own.
[ -d /run/sudo ] && { mount -t tmpfs -o mode=0711 tmpfs /run/sudo || die "tmpfs on /run/sudo"; }
ns_configure "deny = 3
fail_interval = 900
unlock_time = 0
"
rm -rf /var/lib/roles-alt

# The modules under test, copied where anyone can read them whatever the build directory's modes.
mkdir -m 0755 "$S/lib"
cp "$P" "$S/lib/pam_roles.so" || die "copy the PAM module"
cp "$L/libnss_roles.so.2" "$S/lib/" || die "copy the NSS module"
chmod 0644 "$S/lib/pam_roles.so" "$S/lib/libnss_roles.so.2"
MOD=$S/lib/pam_roles.so

# Only the programs under test get the modules (ns_enter dropped meson's LD_LIBRARY_PATH: a
# sanitizer-built module must not be loaded by mount, runuser and the rest).
pamenv=(env "LD_LIBRARY_PATH=$S/lib")
asan_rt=$(ns_sanitizer_preload "$MOD")
if [ -n "$asan_rt" ]; then
        echo "# the module is ASan-built: preloading $asan_rt"
        pamenv+=("LD_PRELOAD=$asan_rt" "${ns_sanitizer_options[@]}")
fi
ns_valgrind_setup "$MOD" "$S/lib/libnss_roles.so.2"

# ---- services ---------------------------------------------------------------------------------------
# svc NAME COMMON_OPTIONS ACCOUNT_OPTIONS: the four phases, all pam_roles.
svc() {
        cat >"/etc/pam.d/$1" <<EOF
auth     required $MOD $2
account  required $MOD $2 $3
password required $MOD $2
session  required $MOD $2
EOF
}
svc roles "" ""
svc roles-ssh "" "permission=login.sshd"
svc sshd "" "permission=@service"
svc ftp "" "permission=@service"
cat >/etc/pam.d/roles-nototp <<EOF
auth     required $MOD no_totp
account  required $MOD
EOF
svc roles-opts "debug quiet" ""
svc roles-alt "conf=/etc/roles-alt.conf" ""
svc roles-badconf "conf=/etc/roles-nonexistent.conf" ""
svc roles-strong "conf=/etc/roles-strong.conf" ""
# A second instance reusing what the first one asked.
cat >/etc/pam.d/roles-ufp <<EOF
auth     optional $MOD
auth     required $MOD use_first_pass
account  required $MOD
EOF
cat >/etc/pam.d/roles-tfp <<EOF
auth     optional $MOD
auth     required $MOD try_first_pass
account  required $MOD
EOF
# The same after a module that asks nothing (PAM_AUTHTOK is not set).
cat >/etc/pam.d/roles-ufp0 <<EOF
auth     optional pam_permit.so
auth     required $MOD use_first_pass
EOF
cat >/etc/pam.d/roles-tfp0 <<EOF
auth     optional pam_permit.so
auth     required $MOD try_first_pass
EOF

# ---- running pamtester ------------------------------------------------------------------------------
# pt INPUT SERVICE USER OPS... [-I item=value before SERVICE is allowed]: sets RC and OUT (both
# streams; the prompts go to stderr).
pt() {
        local input=$1
        shift
        printf '%s' "$input" | timeout 60 "${pamenv[@]}" "${ns_valgrind[@]}" pamtester "$@" >"$S/out" 2>&1
        RC=$?
        OUT=$(cat "$S/out")
        # roles.db itself may stay open: the NSS module keeps it once PAM's getpwnam loaded it, as
        # after any name lookup (privilege tests that it is read-only and dropped at fork).
        ns_valgrind_verdict "pamtester $*" '/var/lib/roles/(secrets|state|login|roles\.db.)'
}
sanitizer_report() {
        grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' <<<"$OUT"
}
# good WHAT: the last pt succeeded.
good() {
        if [ "$RC" -eq 0 ] && ! sanitizer_report; then pass; else
                fail "$1: exit status $RC, want success ($(tr '\n' ' ' <<<"$OUT" | head -c 500))"
        fi
}
# refused WHAT [ERE]: the last pt failed as PAM failures do (pamtester's exit status 1, no crash, no
# sanitizer report, the module loaded), and its output matches ERE when given.
refused() {
        if [ "$RC" -ne 1 ] || sanitizer_report; then
                fail "$1: exit status $RC, want 1 (a PAM failure) ($(tr '\n' ' ' <<<"$OUT" | head -c 500))"
        elif grep -qiE 'Module is unknown|dlopen|symbol' <<<"$OUT"; then
                fail "$1: the module did not load ($(tr '\n' ' ' <<<"$OUT" | head -c 300))"
        elif [ $# -ge 2 ] && ! grep -qiE "$2" <<<"$OUT"; then
                fail "$1: failed, but without /$2/ ($(tr '\n' ' ' <<<"$OUT" | head -c 300))"
        else
                pass
        fi
}

# What rc (tests/lib.sh) runs.
ROLESCTL=$R CONF=/etc/roles.conf
# js NAME EXPR: a Python expression over d = `rolesctl --json user show NAME`.
js() {
        "$R" --json user show "$1" | python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print("" if v is None else v)' "$2"
}
uuid_of() { js "$1" 'd["user"]["uuid"]'; }
secret_sql() { sqlite3 -readonly /var/lib/roles/secrets.db "$1"; }
state_sql() { sqlite3 -readonly /var/lib/roles/state.db "$1"; }
hash_of() { secret_sql "SELECT password_hash FROM credentials WHERE user_uuid = '$(uuid_of "$1")'"; }
code_of() { grep -oE '[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}' <<<"$1" | head -n 1; }

PW='Correct-Horse-9'
NEWPW='Battery-Staple-42'
nl=$'\n'

# ---- the data, made with rolesctl ------------------------------------------------------------------
rc init >/dev/null || die "rolesctl init"
chmod 0755 /var/lib/roles
rc batch >/dev/null <<'BATCH' || die "rolesctl batch (roles)"
metarole add remote --name "Remote access"
metarole grant remote login.sshd
metarole add senior --name "Senior" --includes remote
role add sshers --metarole user
role grant sshers login.sshd
role add remoter --metarole remote
role add seniors --metarole senior
role add everything --metarole user
role grant everything login.*
role add ftpers --metarole user
role grant ftpers login.ftp
role add offsshers --metarole user
role grant offsshers login.sshd
role disable offsshers login.sshd
role add supers --metarole super-admin
role add sysadmin --metarole admin
metarole grant admin sudo
metarole publish admin --gid 20900
BATCH
for u in alice lock tina tnot rst pete nora mia ivan wendy fred paul dina olga sue upg ufp tfp sam nina gina jit \
        cbig chuge cbcr cyes; do
        echo "$PW" | rc user add "$u" --password-stdin >/dev/null || die "rolesctl user add $u"
done
echo "$PW" | rc user add exa --password-stdin --expires 2020-01-01 >/dev/null || die "rolesctl user add exa"
act_out=$(rc user add act --activation) || die "rolesctl user add act --activation"
actb_out=$(rc user add actb --activation) || die "rolesctl user add actb --activation"
ACT_CODE=$(code_of "$act_out")
ACTB_CODE=$(code_of "$actb_out")
[ -n "$ACT_CODE" ] && [ -n "$ACTB_CODE" ] || die "no activation code in <<$act_out>>"
rc batch >/dev/null <<'BATCH' || die "rolesctl batch (assignments)"
role assign sshers alice
role assign sshers tina
role assign sshers tnot
role assign remoter mia
role assign seniors ivan
role assign everything wendy
role assign ftpers fred
role assign sshers paul --until 2021-01-01
role assign sshers dina
role assign sshers exa
role assign offsshers olga
role assign supers sue
role assign sysadmin sam
user disable dina
BATCH
tina_uri=$(rc user totp enroll tina) || die "rolesctl user totp enroll tina"
tnot_uri=$(rc user totp enroll tnot) || die "rolesctl user totp enroll tnot"
TINA_SECRET=$(grep -oE 'secret=[A-Z2-7]+' <<<"$tina_uri" | cut -d= -f2)
TNOT_SECRET=$(grep -oE 'secret=[A-Z2-7]+' <<<"$tnot_uri" | cut -d= -f2)
[ -n "$TINA_SECRET" ] && [ -n "$TNOT_SECRET" ] || die "no TOTP secret in <<$tina_uri>>"
# The recovery codes enrolment printed, one a line after two spaces.
mapfile -t TINA_RECOVERY < <(grep -oE '^  [A-Z2-7]{5}(-[A-Z2-7]{5}){3}$' <<<"$tina_uri" | tr -d ' ')
[ "${#TINA_RECOVERY[@]}" -eq 10 ] || die "enrolment printed ${#TINA_RECOVERY[@]} recovery codes, not 10"

# lcrypt PASSWORD SETTING: libcrypt's crypt(3) of PASSWORD; a SETTING of just a prefix ("$y$")
# is completed by crypt_gensalt with the method's default cost and a fresh salt.
lcrypt() {
        python3 - "$1" "$2" <<'PY'
import ctypes, sys
lc = ctypes.CDLL("libcrypt.so.1")
lc.crypt_gensalt.restype = ctypes.c_char_p
lc.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
lc.crypt.restype = ctypes.c_char_p
lc.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
setting = sys.argv[2].encode()
if setting.count(b"$") == 2:
    setting = lc.crypt_gensalt(setting, 0, None, 0)
print(lc.crypt(sys.argv[1].encode(), setting).decode())
PY
}

# Legacy crypt(3) hashes brought in by import: SHA-512 (openssl), yescrypt (libcrypt, Debian 12's
# default), and one whose lastchg is 0 (must change at next login).
SHA512=$(openssl passwd -6 -stdin <<<"$PW") || die "openssl passwd -6"
YESCRYPT=$(lcrypt "$PW" '$y$') || die "a yescrypt hash"
case $YESCRYPT in '$y$'*) ;; *) die "no yescrypt hash: $YESCRYPT" ;; esac
mkdir -p "$S/imp"
echo 'legacy:x:30000:' >"$S/imp/group"
cat >"$S/imp/passwd" <<'EOF'
leg6:x:30001:30000:Legacy SHA-512:/home/leg6:/bin/bash
legy:x:30002:30000:Legacy yescrypt:/home/legy:/bin/bash
legchg:x:30003:30000:Legacy must change:/home/legchg:/bin/bash
EOF
cat >"$S/imp/shadow" <<EOF
leg6:$SHA512:19000:0:99999:7:::
legy:$YESCRYPT:19000:0:99999:7:::
legchg:$SHA512:0:0:99999:7:::
EOF
rc import --passwd "$S/imp/passwd" --group "$S/imp/group" --shadow "$S/imp/shadow" >/dev/null || die "rolesctl import"

# A second set of databases for conf= (the default id range), and a stronger hashing configuration
# over the first set (its ids).
cat >/etc/roles-alt.conf <<'CONF'
public_db = /var/lib/roles-alt/roles.db
secrets_db = /var/lib/roles-alt/secrets.db
state_db = /var/lib/roles-alt/state.db
argon2_t_cost = 1
argon2_m_cost_kib = 1024
argon2_parallelism = 1
CONF
cat >/etc/roles-strong.conf <<CONF
${ns_conf_ids}argon2_t_cost = 2
argon2_m_cost_kib = 2048
argon2_parallelism = 1
CONF
chmod 0644 /etc/roles-alt.conf /etc/roles-strong.conf
rc --conf /etc/roles-alt.conf init >/dev/null || die "rolesctl init (alt)"
echo "$PW" | rc --conf /etc/roles-alt.conf user add zed --password-stdin >/dev/null || die "rolesctl user add zed (alt)"

# ---- auth: passwords ----------------------------------------------------------------------------------
pt "$PW$nl" roles alice authenticate; good "auth: alice, right password"
if [ "$RC" -ne 0 ]; then
        echo "# (the first login failed: everything below that expects success will fail too)"
fi
grep -q 'Password: ' <<<"$OUT" && pass || fail "auth: no 'Password: ' prompt (<<$(tr '\n' ' ' <<<"$OUT")>>)"
pt "wrong-password$nl" roles alice authenticate; refused "auth: alice, wrong password"
pt "$nl" roles alice authenticate; refused "auth: alice, empty password"
pt "" roles alice authenticate; refused "auth: alice, no answer at all (EOF)"
pt "$PW$nl" roles nosuchuser authenticate; refused "auth: unknown user"
pt "$PW$nl" roles alice authenticate acct_mgmt open_session; good "auth+account+session in one process: alice"
pt "$PW$nl" roles-opts alice authenticate acct_mgmt; good "options debug quiet: alice"
rc user unlock alice >/dev/null

# A login writes state.db only: roles.db (the published snapshot) stays the same file.
before=$(stat -c '%i %Y %s' /var/lib/roles/roles.db)
pt "$PW$nl" roles alice authenticate acct_mgmt open_session; good "auth+account+session: alice (again)"
eq "a login leaves roles.db alone" "$(stat -c '%i %Y %s' /var/lib/roles/roles.db)" "$before"

# ---- auth: lockout (deny = 3, unlock_time = 0) ------------------------------------------------------
pt "$PW$nl" roles lock authenticate; good "lockout: right password before any failure"
for i in 1 2 3; do
        pt "wrong-$i$nl" roles lock authenticate; refused "lockout: wrong password $i"
done
pt "$PW$nl" roles lock authenticate; refused "lockout: right password refused after 3 failures"
pt "$PW$nl" roles lock authenticate; refused "lockout: still refused (unlock_time = 0: until an admin unlocks)"
# rolesctl user locked reads what pam_roles wrote: 5 refusals (the 2 while locked count too), a
# lock with no end.
eq "lockout: rolesctl user locked lists the lock pam_roles wrote" "$("$R" --json user locked | python3 -c 'import json, sys
print([(r["failures"], r["locked"], r["locked_until"]) for r in json.load(sys.stdin) if r["name"] == "lock"])')" "[(5, True, None)]"
# Unknown, locked and disabled accounts answer as a wrong password does, whatever is typed: the
# same PAM code and the same words (the user's name aside), so neither tells which case it was.
pt "wrong-z$nl" roles nora authenticate
reference="$RC:${OUT//nora/USER}"
for who in "nosuchuser:$PW" "nosuchuser:wrong-z" "lock:$PW" "lock:wrong-z" "dina:$PW" "dina:wrong-z"; do
        user=${who%%:*}
        pt "${who#*:}$nl" roles "$user" authenticate
        eq "refusals look alike: $user, ${who#*:}" "$RC:${OUT//$user/USER}" "$reference"
done
rc user unlock nora >/dev/null
rc user unlock lock >/dev/null || fail "rolesctl user unlock lock failed"
pt "$PW$nl" roles lock authenticate; good "lockout: right password accepted after rolesctl user unlock"
# A success clears the tally (as pam_faillock does): 2 failures, a success, 2 failures, then a success.
pt "wrong-a$nl" roles lock authenticate; refused "lockout: wrong a"
pt "wrong-b$nl" roles lock authenticate; refused "lockout: wrong b"
pt "$PW$nl" roles lock authenticate; good "lockout: right password after 2 failures"
pt "wrong-c$nl" roles lock authenticate; refused "lockout: wrong c"
pt "wrong-d$nl" roles lock authenticate; refused "lockout: wrong d"
pt "$PW$nl" roles lock authenticate; good "lockout: a success clears the tally (2 + 2 failures do not lock)"

# ---- passwd: the current password is checked as auth checks it -----------------------------------------
# A setuid passwd runs with the user's real uid, and asks for the current password: a shell on an
# account (a stolen key) must not be able to guess its password there without limit, lock or
# trace. Each wrong one is counted (deny = 3 locks), and a locked account's right one is refused.
# passwd_as_user USER CURRENT NEW: pam_chauthtok on "roles" with real uid 65534 and effective uid
# 0, as under a setuid passwd; prints its status.
passwd_as_user() {
        "${pamenv[@]}" python3 - "$@" <<'PY'
import ctypes, os, sys
from ctypes import CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int, c_size_t, c_void_p, memmove, sizeof
libc, pam = ctypes.CDLL(None), ctypes.CDLL("libpam.so.0")
libc.calloc.restype, libc.calloc.argtypes = c_void_p, [c_size_t, c_size_t]
libc.strdup.restype, libc.strdup.argtypes = c_void_p, [c_char_p]
class Message(Structure): _fields_ = [("style", c_int), ("msg", c_char_p)]
class Response(Structure): _fields_ = [("resp", c_void_p), ("retcode", c_int)]
CONV = CFUNCTYPE(c_int, c_int, POINTER(POINTER(Message)), POINTER(POINTER(Response)), c_void_p)
class Conv(Structure): _fields_ = [("conv", CONV), ("appdata", c_void_p)]
pam.pam_start.argtypes = [c_char_p, c_char_p, POINTER(Conv), POINTER(c_void_p)]
pam.pam_chauthtok.argtypes = pam.pam_end.argtypes = [c_void_p, c_int]
user, current, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
def converse(n, messages, ret, _):
    replies = ctypes.cast(libc.calloc(n, sizeof(Response)), POINTER(Response))
    for i in range(n):
        m = messages[i].contents
        if m.style == 1:                                # PAM_PROMPT_ECHO_OFF
            replies[i].resp = libc.strdup(current if b"Current" in m.msg else new)
    ret[0] = replies
    return 0
os.setresuid(65534, 0, 0)
conv, h = Conv(CONV(converse), None), c_void_p()
assert pam.pam_start(b"roles", user.encode(), byref(conv), byref(h)) == 0
r = pam.pam_chauthtok(h, 0)
print(r)
pam.pam_end(h, r)
PY
}
tally_of() { state_sql "SELECT coalesce(sum(failures), 0) FROM tally WHERE user_uuid = '$(uuid_of "$1")'"; }
hash0=$(hash_of lock)
for i in 1 2 3; do
        got=$(passwd_as_user lock "wrong-$i" "$NEWPW")
        [ "$got" != 0 ] && [ "$(tally_of lock)" = "$i" ] && pass ||
                fail "passwd as the user: wrong current password $i: status <<$got>>, tally $(tally_of lock), want a refusal counted"
done
got=$(passwd_as_user lock "$PW" "$NEWPW")
[ "$got" != 0 ] && [ "$(hash_of lock)" = "$hash0" ] && pass ||
        fail "passwd as the user: the right current password of a locked account: status <<$got>>, want a refusal and no change"
rc user unlock lock >/dev/null || fail "rolesctl user unlock lock failed"
eq "passwd as the user: the right current password, unlocked" "$(passwd_as_user lock "$PW" "$PW")" 0
[ "$(hash_of lock)" != "$hash0" ] && pass || fail "passwd as the user: the password was not set"

# A password that must change (imported with lastchg 0) is changed with the current one: anyone at
# the user's keyboard could set one otherwise. Only a login with a one-time code in the same
# transaction skips it (below, under activation).
echo 'mustchg:x:30020:30000:Must change:/home/mustchg:/bin/bash' >"$S/imp/passwd3"
echo "mustchg:$SHA512:0:0:99999:7:::" >"$S/imp/shadow3"
rc import --passwd "$S/imp/passwd3" --shadow "$S/imp/shadow3" >/dev/null || die "rolesctl import mustchg"
hash0=$(hash_of mustchg)
got=$(passwd_as_user mustchg "not-the-password" "$NEWPW")
[ "$got" != 0 ] && [ "$(hash_of mustchg)" = "$hash0" ] && pass ||
        fail "passwd as the user, password must change: a wrong current password set one (status <<$got>>)"
eq "passwd as the user, password must change: the current password sets one" "$(passwd_as_user mustchg "$PW" "$NEWPW")" 0

# ---- auth: activation code ---------------------------------------------------------------------------
eq "activation: rolesctl user show says not activated yet" \
        "$(js act 'd["user"]["activated"] is None and d["secrets"].get("activated_by_first_password") is None')" True
pt "" roles act acct_mgmt; refused "activation: account refused before activation"
pt "$PW$nl" roles act authenticate; refused "activation: no password yet"
pt "$ACT_CODE$nl" roles act authenticate; good "activation: the code logs in"
pt "$ACT_CODE$nl" roles act authenticate; refused "activation: the code logs in only once"
pt "" roles act acct_mgmt; refused "activation: account says a new password is required" 'new one required'
pt "$NEWPW$nl$NEWPW$nl" roles act chauthtok; good "activation: chauthtok sets a password"
grep -q 'New password: ' <<<"$OUT" && grep -q 'Retype new password: ' <<<"$OUT" && ! grep -q 'Current password' <<<"$OUT" &&
        pass || fail "activation: chauthtok prompts (root: no current password): <<$(tr '\n' ' ' <<<"$OUT")>>"
pt "" roles act acct_mgmt; good "activation: account fine after the new password"
pt "$NEWPW$nl" roles act authenticate acct_mgmt; good "activation: the new password works"
pt "$ACT_CODE$nl" roles act authenticate; refused "activation: the code no longer works"
# PAM never writes roles.db: the activation by a first password is kept in secrets.db, and
# `user show` has it beside the administrator's.
eq "activation: rolesctl user show says activated by the first password" \
        "$(js act 'd["user"]["activated"] is not None or d["secrets"].get("activated_by_first_password") is not None')" True
eq "activation: no pending code left" "$(js act 'd["secrets"]["pending_codes"] == []')" True

# As a setuid passwd would, after a reset code in the same handle: no current password asked.
rst2_code=$(code_of "$(rc user reset lock)")
[ -n "$rst2_code" ] || fail "no reset code for lock"
eq "reset code then passwd as the user, one transaction" \
        "$(timeout 60 "${pamenv[@]}" python3 "$TESTS/pam_ctypes.py" code-then-passwd roles lock "$rst2_code" "$NEWPW")" \
        "auth 0 chauthtok 0"
# The same in one process: authenticate with the code, then chauthtok (as a login program does).
pt "$ACTB_CODE$nl$NEWPW$nl$NEWPW$nl" roles actb authenticate chauthtok; good "activation in one process: code, then chauthtok"
pt "$NEWPW$nl" roles actb authenticate acct_mgmt; good "activation in one process: the new password works"
pt "$ACTB_CODE$nl" roles actb authenticate; refused "activation in one process: the code no longer works"

# ---- auth: reset code ---------------------------------------------------------------------------------
rst_out=$(rc user reset rst) || fail "rolesctl user reset rst"
RST_CODE=$(code_of "$rst_out")
pt "$PW$nl" roles rst authenticate acct_mgmt; good "reset: the old password still works until a new one is set"
pt "$RST_CODE$nl" roles rst authenticate; good "reset: the code logs in"
pt "" roles rst acct_mgmt; refused "reset: account says a new password is required" 'new one required'
pt "$NEWPW$nl$NEWPW$nl" roles rst chauthtok; good "reset: chauthtok sets a password"
pt "$NEWPW$nl" roles rst authenticate acct_mgmt; good "reset: the new password works"
pt "$RST_CODE$nl" roles rst authenticate; refused "reset: the code no longer works"
pt "$PW$nl" roles rst authenticate; refused "reset: the old password no longer works"
rc user unlock rst >/dev/null

# ---- auth: TOTP ---------------------------------------------------------------------------------------
totp_at() { oathtool --totp -b "$1" -N "@$2" 2>/dev/null; }
now=$(date +%s)
CODE=$(totp_at "$TINA_SECRET" "$now")
pt "$PW$nl$CODE$nl" roles tina authenticate; good "totp: password and current code"
grep -q 'Verification code: ' <<<"$OUT" && pass || fail "totp: no 'Verification code: ' prompt (<<$(tr '\n' ' ' <<<"$OUT")>>)"
# A right password with a code of a step already used: refused, saying so, and not counted toward
# deny (three of them, deny = 3, would otherwise lock tina out: sudo -l then sudo id).
before=$(tally_of tina)
for i in 1 2 3; do
        pt "$PW$nl$CODE$nl" roles tina authenticate; refused "totp: the same code again is refused ($i)" 'already used'
done
eq "totp: a reused code is not counted toward deny" "$(tally_of tina)" "$before"
eq "totp: a reused code's refusal is in the login audit" \
        "$(state_sql "SELECT result || ': ' || detail FROM login_audit WHERE user = 'tina' ORDER BY id DESC LIMIT 1")" \
        "refused: verification code already used (not counted as a failure)"
rc logins --failed --user tina | grep -q ' refused .*already used' && pass ||
        fail "totp: logins --failed lists the reused code's refusal"
# A code that is none of the steps around now.
near=" $(for d in -90 -60 -30 0 30 60 90; do totp_at "$TINA_SECRET" $((now + d)); done | tr '\n' ' ') "
WRONG=$(( (10#$CODE + 1) % 1000000 ))
while [[ $near == *" $(printf '%06d' $WRONG) "* ]]; do WRONG=$(( (WRONG + 1) % 1000000 )); done
WRONG=$(printf '%06d' $WRONG)
pt "$PW$nl$WRONG$nl" roles tina authenticate; refused "totp: wrong code"
pt "$PW$nl" roles tina authenticate; refused "totp: password without a code (EOF at the second prompt)"
rc user unlock tina >/dev/null
pt "wrong-password$nl$(totp_at "$TINA_SECRET" "$(date +%s)")$nl" roles tina authenticate; refused "totp: wrong password with a current code"
rc user unlock tina >/dev/null
# no_totp: one prompt, the password alone.
pt "$PW$nl" roles-nototp tnot authenticate; good "totp: no_totp, password alone"
pt "$PW$nl" roles tnot authenticate; refused "totp: without no_totp the password alone is not enough"
rc user unlock tnot >/dev/null

# A TOTP secret damaged behind rolesctl's back (a BLOB, an empty one) refuses the login, even with
# the right code: never read as "not enrolled", which would let the password alone in.
tnot_secret=$(secret_sql "SELECT totp_secret FROM credentials WHERE user_uuid = '$(uuid_of tnot)'")
[ -n "$tnot_secret" ] || die "no TOTP secret for tnot"
for damage in "CAST(totp_secret AS BLOB)" "X''"; do
        sqlite3 /var/lib/roles/secrets.db "UPDATE credentials SET totp_secret = $damage WHERE user_uuid = '$(uuid_of tnot)'"
        pt "$PW$nl$(totp_at "$tnot_secret" "$(date +%s)")$nl" roles tnot authenticate
        refused "totp: a damaged secret ($damage) refuses the login"
        sqlite3 /var/lib/roles/secrets.db "UPDATE credentials SET totp_secret = '$tnot_secret' WHERE user_uuid = '$(uuid_of tnot)'"
done
rc user unlock tnot >/dev/null

# A recovery code at the code prompt: once, told how many are left, in the login audit; used
# again, a wrong code (refused and counted).
last_audit() { state_sql "SELECT detail FROM login_audit WHERE result = '$1' ORDER BY id DESC LIMIT 1"; }
pt "$PW$nl${TINA_RECOVERY[0]}$nl" roles tina authenticate; good "recovery code: in place of a TOTP code"
grep -q 'Recovery code used: 9 left' <<<"$OUT" && pass || fail "recovery code: not told how many are left (<<$(tr '\n' ' ' <<<"$OUT")>>)"
eq "recovery code: in the login audit" "$(last_audit recovery)" "recovery code used, 9 left"
before=$(tally_of tina)
pt "$PW$nl${TINA_RECOVERY[0]}$nl" roles tina authenticate; refused "recovery code: the same one again is refused" 'Authentication failure'
eq "recovery code: a spent one is counted toward deny" "$(tally_of tina)" "$((before + 1))"
eq "recovery code: the refusal's audit row says why" "$(last_audit failure)" "recovery code unknown or already used"
pt "$PW$nl$(tr 'A-Z' 'a-z' <<<"${TINA_RECOVERY[1]//-/}")$nl" roles tina authenticate
good "recovery code: lower case without dashes"
pt "${TINA_RECOVERY[2]}$nl" roles tina authenticate; refused "recovery code: no password"
rc user unlock tina >/dev/null
rc user show tina >"$S/show" && grep -qE '^recovery_codes_left +8$' "$S/show" && pass ||
        fail "recovery code: user show does not say 8 left ($(grep recovery "$S/show"))"

# totp=required: an account that has not enrolled gets a wrong password's answer, its right
# password included, and the refusal is counted and its audit row says why; an enrolled one logs in.
printf 'auth required %s totp=required\n' "$MOD" >/etc/pam.d/roles-totpreq
pt "$PW$nl${TINA_RECOVERY[3]}$nl" roles-totpreq tina authenticate; good "totp=required: an enrolled account logs in"
before=$(tally_of alice)
pt "wrong$nl" roles-totpreq alice authenticate; wrong_out=$OUT
pt "$PW$nl" roles-totpreq alice authenticate; refused "totp=required: alice (right password) has not enrolled" 'Authentication failure'
eq "totp=required: the same words as a wrong password" "$OUT" "$wrong_out"
eq "totp=required: each refusal counted" "$(tally_of alice)" "$((before + 2))"
eq "totp=required: the audit row says why" "$(last_audit failure)" "no TOTP enrolled and totp=required"
rc user unlock alice >/dev/null
printf 'account required %s totp=required\n' "$MOD" >/etc/pam.d/roles-totpreq-acct
printf 'auth required %s totp=required no_totp\n' "$MOD" >/etc/pam.d/roles-totpreq-both
printf 'auth required %s totp=optional\n' "$MOD" >/etc/pam.d/roles-totpreq-bad
pt "" roles-totpreq-acct alice acct_mgmt; refused "totp=required on an account line is refused"
pt "$PW$nl" roles-totpreq-both tina authenticate; refused "totp=required with no_totp is refused"
pt "$PW$nl" roles-totpreq-bad alice authenticate; refused "totp= takes required only"
eq "options refused before a password is looked at" "$(tally_of alice)" 0

# Codes renewed by a change that also publishes: the old ones stay in secrets.db as before-images
# until the next writer, for readers of the snapshot before it. A login of the new snapshot takes
# the new codes only (the review found an old one still accepted, and "10 left").
renewed=$(printf 'user totp recovery-codes tina\nuser add zedrec\n' | rc --json batch) || fail "batch renewing tina's codes"
NEW_CODE=$(python3 -c 'import json, sys
for line in sys.stdin:
    d = json.loads(line)
    if d.get("recovery_codes"): print(d["recovery_codes"][0])' <<<"$renewed")
[ -n "$NEW_CODE" ] || die "no renewed recovery code in <<$renewed>>"
pt "$PW$nl${TINA_RECOVERY[4]}$nl" roles tina authenticate
refused "recovery code: an old one, renewed by a published change, is refused" 'Authentication failure'
pt "$PW$nl$NEW_CODE$nl" roles tina authenticate; good "recovery code: a renewed one is taken"
grep -q 'Recovery code used: 9 left' <<<"$OUT" && pass || fail "recovery code: renewed, not 9 left (<<$(tr '\n' ' ' <<<"$OUT")>>)"
rc user unlock tina >/dev/null

# ---- auth: use_first_pass, try_first_pass ---------------------------------------------------------------
pt "$PW$nl" roles-ufp ufp authenticate; good "use_first_pass: one answer serves both instances"
pt "wrong-password$nl$PW$nl" roles-ufp ufp authenticate; refused "use_first_pass: a wrong first answer is not asked again"
rc user unlock ufp >/dev/null
pt "$PW$nl" roles-ufp0 ufp authenticate; refused "use_first_pass: nothing stored, and not asked"
grep -q 'Password: ' <<<"$OUT" && fail "use_first_pass: asked for a password although nothing was stored" || pass
pt "$PW$nl" roles-tfp tfp authenticate; good "try_first_pass: one answer serves both instances"
# As pam_get_authtok and pam_unix do: a stored token is used, and not asked again when it fails.
pt "wrong-password$nl$PW$nl" roles-tfp tfp authenticate; refused "try_first_pass: a stored wrong answer fails (not asked again)"
rc user unlock tfp >/dev/null
pt "$PW$nl" roles-tfp0 tfp authenticate; good "try_first_pass: nothing stored, so asked"

# ---- options: honoured in their phases, refused in the others --------------------------------------------
# permission= on an auth line (a screen locker or a VPN calls auth alone): a user without the
# permission is refused as a wrong password is, whatever the password, and counted.
printf 'auth required %s permission=login.sshd\n' "$MOD" >/etc/pam.d/roles-authperm
printf 'auth required %s permission=@service\n' "$MOD" >/etc/pam.d/sshd-authonly
pt "$PW$nl" roles-authperm alice authenticate; good "auth permission=login.sshd: alice holds it"
before=$(tally_of nora)
pt "$PW$nl" roles-authperm nora authenticate; refused "auth permission=login.sshd: nora (right password) does not hold it" 'Authentication failure'
pt "wrong$nl" roles-authperm nora authenticate; wrong_out=$OUT
pt "$PW$nl" roles-authperm nora authenticate
eq "auth permission=: the same words as a wrong password" "$OUT" "$wrong_out"
eq "auth permission=: each refusal counted" "$(tally_of nora)" "$((before + 3))"
rc user unlock nora >/dev/null
pt "$PW$nl" sshd-authonly wendy authenticate; good "auth permission=@service: wendy holds login.sshd-authonly (login.*)"
pt "$PW$nl" sshd-authonly alice authenticate; refused "auth permission=@service: alice holds login.sshd, not login.sshd-authonly"
rc user unlock alice >/dev/null
# Options that mean nothing in a phase are refused there (PAM_SERVICE_ERR), not ignored.
printf 'session required %s permission=login.sshd\n' "$MOD" >/etc/pam.d/roles-badsess
printf 'account required %s no_totp\n' "$MOD" >/etc/pam.d/roles-badacct
printf 'password required %s permission=sudo\n' "$MOD" >/etc/pam.d/roles-badpass
printf 'account required %s use_first_pass\n' "$MOD" >/etc/pam.d/roles-badacct2
pt "" roles-badsess alice open_session; refused "permission= on a session line is refused"
pt "" roles-badacct alice acct_mgmt; refused "no_totp on an account line is refused"
pt "$PW$nl$NEWPW$nl$NEWPW$nl" roles-badpass alice chauthtok; refused "permission= on a password line is refused"
pt "" roles-badacct2 alice acct_mgmt; refused "use_first_pass on an account line is refused"

# ---- auth: legacy crypt(3) hashes from import --------------------------------------------------------------
for u in leg6 legy; do
        h=$(hash_of $u)
        [[ $h == '{crypt}$'* ]] && pass || fail "import: $u's hash is <<$h>>, want {crypt}..."
        pt "wrong-password$nl" roles $u authenticate; refused "legacy $u: wrong password"
        h=$(hash_of $u)
        [[ $h == '{crypt}$'* ]] && pass || fail "legacy $u: a failed login changed the hash to <<$h>>"
        pt "$PW$nl" roles $u authenticate; good "legacy $u: the imported password works"
        h=$(hash_of $u)
        [[ $h == '$argon2id$'* ]] && pass || fail "legacy $u: after the login the hash is <<${h:0:40}>>, want \$argon2id\$"
        pt "$PW$nl" roles $u authenticate acct_mgmt; good "legacy $u: the password works on the upgraded hash"
done
pt "$PW$nl" roles legchg authenticate; good "legacy legchg (lastchg 0): the password works"
pt "" roles legchg acct_mgmt; refused "legacy legchg (lastchg 0): account says a new password is required" 'new one required'
pt "$NEWPW$nl$NEWPW$nl" roles legchg chauthtok; good "legacy legchg: chauthtok"
pt "$NEWPW$nl" roles legchg authenticate acct_mgmt; good "legacy legchg: the new password works, account fine"

# ---- auth: a stored crypt(3) hash above its ceiling --------------------------------------------------------
# Written into secrets.db behind rolesctl's back (import refuses them): a hash whose verification
# would cost minutes or gigabytes is refused as a wrong password is, at once, whatever is typed,
# and never computed; even the right password against a real one just above the ceiling fails.
# The 999999999-round and cost-31 hashes need not be valid: their cost is read from them.
plant_hash() {
        sqlite3 /var/lib/roles/secrets.db "UPDATE credentials SET password_hash = '{crypt}$2'
                WHERE user_uuid = '$(uuid_of "$1")'" || die "planting $1's hash"
}
above_rounds=$(lcrypt "$PW" '$6$rounds=1000001$saltsalt$') || die "a sha512crypt hash of 1000001 rounds"
plant_hash cbig "$above_rounds"
plant_hash chuge '$6$rounds=999999999$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0'
plant_hash cbcr '$2b$31$abcdefghijklmnopqrstuuJ0aCHRVc7bpSqzN7LKDpW7PQLAv9ehK'
plant_hash cyes '$y$jHT$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7'
pt "$PW$nl" roles cbig authenticate; refused "ceiling: the right password against 1000001 rounds"
why=$(state_sql "SELECT detail FROM login_audit WHERE user = 'cbig' ORDER BY id DESC LIMIT 1")
[ "$why" = "hash above the ceiling" ] && pass || fail "ceiling: cbig's refusal is recorded as <<$why>>"
for u in chuge cbcr cyes; do
        t0=$(date +%s%N)
        pt "$PW$nl" roles $u authenticate; refused "ceiling: $u's costly hash"
        ms=$((($(date +%s%N) - t0) / 1000000))
        # A few hundred ms with the test's argon2 (valgrind: seconds); computing would take minutes.
        [ "$ms" -lt 20000 ] && pass || fail "ceiling: $u's refusal took $ms ms"
        why=$(state_sql "SELECT detail FROM login_audit WHERE user = '$u' ORDER BY id DESC LIMIT 1")
        [ "$why" = "hash above the ceiling" ] && pass || fail "ceiling: $u's refusal is recorded as <<$why>>"
done

# ---- auth: a hash made with weaker parameters is upgraded --------------------------------------------------
h=$(hash_of upg)
[[ $h == *'m=1024,t=1,p=1$'* ]] && pass || fail "upgrade: the starting hash is <<${h:0:40}>>"
pt "$PW$nl" roles-strong upg authenticate; good "upgrade: login under conf=/etc/roles-strong.conf"
h=$(hash_of upg)
[[ $h == '$argon2id$'*'m=2048,t=2,p=1$'* ]] && pass || fail "upgrade: after the login the hash is <<${h:0:40}>>, want m=2048,t=2,p=1"
pt "$PW$nl" roles upg authenticate; good "upgrade: the password works on the upgraded hash"

# ---- conf= ----------------------------------------------------------------------------------------------
pt "$PW$nl" roles-alt zed authenticate acct_mgmt; good "conf=: a user of the other databases"
pt "$PW$nl" roles zed authenticate; refused "conf=: that user is unknown to the default databases"
pt "$PW$nl" roles-alt alice authenticate; refused "conf=: a user of the default databases is unknown there"
pt "$PW$nl" roles-badconf alice authenticate; refused "conf= naming a missing file: auth fails closed"
pt "" roles-badconf alice acct_mgmt; refused "conf= naming a missing file: account fails closed"

# ---- account: permissions --------------------------------------------------------------------------------
acct() {        # acct SERVICE USER yes|no WHAT [ERE]
        pt "" "$1" "$2" acct_mgmt
        if [ "$3" = yes ]; then good "$4"; else refused "$4" "${5:-}"; fi
}
acct roles-ssh alice yes "account: permission granted to a role directly"
acct roles-ssh mia yes "account: permission through the role's metarole"
acct roles-ssh ivan yes "account: permission through a metarole the role's metarole includes"
acct roles-ssh wendy yes "account: permission through a wildcard (login.*)"
acct roles-ssh sue yes "account: super-admin holds every permission"
acct roles-ssh nora no "account: no roles, no permission"
acct roles-ssh fred no "account: login.ftp is not login.sshd"
acct roles-ssh olga no "account: a disabled permission of a role does not count"
acct roles-ssh paul no "account: a role whose --until has passed does not count"
acct roles-ssh dina no "account: disabled user"
acct roles-ssh exa no "account: expired account"
acct roles nora yes "account: no permission= asked, a user without roles is fine"
acct roles dina no "account: disabled user, even without permission="
acct roles exa no "account: expired account, even without permission="
acct roles nosuchuser no "account: unknown user is PAM_USER_UNKNOWN" 'User not known'
acct sshd alice yes "account: permission=@service on sshd checks login.sshd (alice)"
acct sshd wendy yes "account: permission=@service on sshd (wildcard)"
acct sshd fred no "account: permission=@service on sshd (fred has login.ftp only)"
acct ftp fred yes "account: permission=@service on ftp checks login.ftp (fred)"
acct ftp alice no "account: permission=@service on ftp (alice has login.sshd only)"
pt "$PW$nl" roles-ssh alice authenticate acct_mgmt; good "auth+account in one process, with permission"
pt "$PW$nl" roles-ssh nora authenticate acct_mgmt; refused "auth+account in one process, without permission"
# A grant made now counts now; revoked, it stops.
rc role assign sshers nora >/dev/null
acct roles-ssh nora yes "account: a role assigned now counts"
rc role unassign sshers nora >/dev/null
acct roles-ssh nora no "account: unassigned, it no longer counts"

# ---- password: chauthtok by root ------------------------------------------------------------------------------
fsu_before=$(secret_sql "SELECT fs_uniquifier FROM credentials WHERE user_uuid = '$(uuid_of pete)'")
pt "$NEWPW$nl$NEWPW$nl" roles pete chauthtok; good "chauthtok: root sets pete's password"
fsu_after=$(secret_sql "SELECT fs_uniquifier FROM credentials WHERE user_uuid = '$(uuid_of pete)'")
[ -n "$fsu_after" ] && [ "$fsu_after" != "$fsu_before" ] && pass || fail "chauthtok: fs_uniquifier not changed (<<$fsu_before>> -> <<$fsu_after>>)"
h=$(hash_of pete)
[[ $h == '$argon2id$'* ]] && pass || fail "chauthtok: the new hash is <<${h:0:40}>>"
pt "$NEWPW$nl" roles pete authenticate; good "chauthtok: the new password works"
pt "$PW$nl" roles pete authenticate; refused "chauthtok: the old password no longer works"
pt "Another-Pass-77${nl}Different-Pass-77$nl" roles pete chauthtok; refused "chauthtok: mismatched retype"
pt "short${nl}short$nl" roles pete chauthtok; refused "chauthtok: shorter than password_min_length"
pt "$NEWPW$nl" roles pete authenticate; good "chauthtok: refused changes left the password alone"
pt "$NEWPW$nl$NEWPW$nl" roles nosuchuser chauthtok; refused "chauthtok: unknown user"
rc user unlock pete >/dev/null

# ---- session: bookkeeping -------------------------------------------------------------------------------------
count0=$(js alice 'd["state"]["login_count"]')
pt "" -I rhost=192.0.2.10 roles alice open_session; good "session: open_session (rhost 192.0.2.10)"
count1=$(js alice 'd["state"]["login_count"]')
[ "${count1:-0}" -ge 1 ] 2>/dev/null && pass || fail "session: login_count is <<$count1>>, want >= 1"
[ "${count1:-0}" -eq $((${count0:-0} + 1)) ] 2>/dev/null && pass || fail "session: login_count went from <<$count0>> to <<$count1>>, want +1"
[ -n "$(js alice 'd["state"]["last_login"]')" ] && pass || fail "session: last_login is not set"
pt "" -I rhost=192.0.2.20 roles alice open_session; good "session: open_session (rhost 192.0.2.20)"
count2=$(js alice 'd["state"]["login_count"]')
eq "session: login_count counts every session" "$count2" "$((${count1:-0} + 1))"
eq "session: current_login_ip is the latest PAM_RHOST" \
        "$(state_sql "SELECT current_login_ip FROM tracking WHERE user_uuid = '$(uuid_of alice)'")" "192.0.2.20"
eq "session: last_login_ip is the one before (Flask-Security trackable)" "$(js alice 'd["state"]["last_login_ip"]')" "192.0.2.10"
pt "" roles alice open_session close_session; good "session: open_session and close_session in one process"

# ---- failing closed ----------------------------------------------------------------------------------------------
mv /var/lib/roles/roles.db /var/lib/roles/roles.db.away
pt "$PW$nl" roles alice authenticate; refused "no roles.db: auth fails"
pt "" roles-ssh alice acct_mgmt; refused "no roles.db: account fails"
mv /var/lib/roles/roles.db.away /var/lib/roles/roles.db
mv /var/lib/roles/secrets.db /var/lib/roles/secrets.db.away
pt "$PW$nl" roles alice authenticate; refused "no secrets.db: auth fails"
rm -f /var/lib/roles/secrets.db /var/lib/roles/secrets.db-journal /var/lib/roles/secrets.db-wal /var/lib/roles/secrets.db-shm
mv /var/lib/roles/secrets.db.away /var/lib/roles/secrets.db
chmod 0666 /var/lib/roles/secrets.db
pt "$PW$nl" roles alice authenticate; refused "world-writable secrets.db: auth fails"
chmod 0600 /var/lib/roles/secrets.db
chmod 0666 /var/lib/roles/roles.db
pt "" roles-ssh alice acct_mgmt; refused "world-writable roles.db: account fails"
chmod 0644 /var/lib/roles/roles.db
rc user unlock alice >/dev/null
pt "$PW$nl" roles-ssh alice authenticate acct_mgmt; good "files back in order: alice logs in"
eq "modes after all the PAM writes" "$(stat -c '%a' /var/lib/roles/roles.db /var/lib/roles/secrets.db /var/lib/roles/state.db | tr '\n' ' ')" "644 600 600 "

# ---- sudo ------------------------------------------------------------------------------------------------------
if [ ! -x /usr/bin/sudo ]; then
        fail "sudo is not installed (apt-get install sudo): the sudo part did not run"
else
        # setuid sudo ignores LD_LIBRARY_PATH: the NSS module goes into the library directory
        # itself, through an overlay of this namespace.
        libc=$(ldd /bin/true | awk '/libc\.so\.6/ { print $3 }')
        libdir=$(dirname "$(realpath "$libc")")
        mkdir -p "$S/lib2/u" "$S/lib2/w"
        cp "$S/lib/libnss_roles.so.2" "$S/lib2/u/" && chmod 0644 "$S/lib2/u/libnss_roles.so.2"
        mount -t overlay overlay -o "lowerdir=$libdir,upperdir=$S/lib2/u,workdir=$S/lib2/w" "$libdir" ||
                die "overlay on $libdir"
        if [ -n "$asan_rt" ]; then
                # The ASan-built modules are now loaded by every program that resolves a name,
                # setuid sudo included: the runtime must come first everywhere.
                tr ' ' '\n' <<<"$asan_rt" >/etc/ld.so.preload
                export "${ns_sanitizer_options[@]}"
        fi
        cat >/etc/pam.d/sudo <<EOF
auth     required $MOD
account  required $MOD permission=sudo
password required $MOD
session  required $MOD
EOF
        ns_sudoers 'gina    ALL=(ALL:ALL) ALL'

        # Through NSS: the published metarole group holds sam.
        out=$(getent group admin)
        [[ $out == admin:x:20900:* && ,${out##*:}, == *,sam,* ]] && pass || fail "sudo: getent group admin is <<$out>>"
        out=$(id -Gn sam 2>&1)
        [[ " $out " == *" admin "* ]] && pass || fail "sudo: id -Gn sam is <<$out>>"

        # su_do USER PASSWORD: sets RC and OUT.
        su_do() {
                OUT=$(printf '%s\n' "$2" | timeout 60 runuser -u "$1" -- sudo -S -k -p '' true 2>&1)
                RC=$?
        }
        sudo_yes() { if [ "$RC" -eq 0 ] && ! sanitizer_report; then pass; else fail "$1: exit status $RC ($(tr '\n' ' ' <<<"$OUT" | head -c 400))"; fi; }
        # A refusal counts only when it came from authentication or the account phase, not from
        # a session that failed to open after the user was let in.
        sudo_no() {
                if [ "$RC" -eq 0 ] || [ "$RC" -eq 124 ] || [ "$RC" -ge 128 ] || sanitizer_report; then
                        fail "$1: exit status $RC, want a refusal ($(tr '\n' ' ' <<<"$OUT" | head -c 400))"
                elif grep -qE 'pam_open_session|session initialization' <<<"$OUT"; then
                        fail "$1: refused only when opening the session, after authentication and account passed ($(tr '\n' ' ' <<<"$OUT" | head -c 300))"
                else
                        pass
                fi
        }
        su_do sam "$PW"; sudo_yes "sudo: sam (admin, holds sudo) with his password"
        su_do sam "wrong-password"; sudo_no "sudo: sam with a wrong password"
        rc user unlock sam >/dev/null
        su_do nina "$PW"; sudo_no "sudo: nina (no roles, not in sudoers)"
        su_do gina "$PW"; sudo_no "sudo: gina (in sudoers by name, no sudo permission: pam_roles' account refuses)"
        t0=$(date +%s)
        rc role assign sysadmin jit --until +4s >/dev/null || fail "rolesctl role assign sysadmin jit --until +4s"
        su_do jit "$PW"; sudo_yes "sudo: jit within the just-in-time grant"
        [ $(($(date +%s) - t0)) -lt 4 ] || echo "# (the grant ran out before the first sudo finished: the check above may be wrong)"
        while [ "$(date +%s)" -le $((t0 + 5)) ]; do sleep 0.5; done
        su_do jit "$PW"; sudo_no "sudo: jit after the grant's --until has passed"
        pt "" sudo jit acct_mgmt; refused "sudo: jit after the grant, the sudo service's account phase"
        out=$(getent group admin)
        [[ ,${out##*:}, != *,jit,* ]] && pass || fail "sudo: jit still in the admin group after the grant: <<$out>>"
        su_do sam "$PW"; sudo_yes "sudo: sam again"

        # A session that outlives a just-in-time grant. sudo matches %admin against the
        # session's group list, fixed when it began (group_source static, sudo's default); with
        # `Set group_source dynamic` in sudo.conf it asks NSS at each call. pam_roles is kept out
        # of sudo here (pam_permit, NOPASSWD) to see what sudoers alone decides.
        cp /etc/pam.d/sudo "$S/pam-sudo" && cp /etc/sudoers "$S/sudoers" || die "save sudo's files"
        printf '%s required pam_permit.so\n' auth account session >/etc/pam.d/sudo
        ns_sudoers '%admin  ALL=(ALL:ALL) NOPASSWD: ALL'
        echo "$PW" | rc user add jit2 --password-stdin >/dev/null || die "rolesctl user add jit2"
        out=$(rc doctor)
        grep -q "sudoers trusts %admin.*group_source dynamic" <<<"$out" && pass ||
                fail "doctor: no warning for %admin without group_source dynamic: $out"
        outlive() {
                rc role unassign sysadmin jit2 >/dev/null 2>&1
                rc role assign sysadmin jit2 --until +4s >/dev/null || fail "rolesctl role assign sysadmin jit2 --until +4s"
                OUT=$(timeout 60 env -u SHELL runuser -u jit2 -- bash -c 'id -G; sleep 6; id -G; sudo -n id -u' 2>&1)
        }
        outlive
        [[ $(head -n1 <<<"$OUT") == *20900* && ${OUT##*$'\n'} == 0 ]] && pass ||
                fail "sudo group_source static: want the session's stale admin gid to pass: <<$OUT>>"
        echo 'Set group_source dynamic' >>/etc/sudo.conf
        out=$(rc doctor)
        grep -q "group_source" <<<"$out" && fail "doctor: warns although sudo.conf sets group_source dynamic: $out" || pass
        outlive
        [[ $(head -n1 <<<"$OUT") == *20900* && ${OUT##*$'\n'} != 0 ]] && pass ||
                fail "sudo group_source dynamic: a session that outlived its grant still got root: <<$OUT>>"
        sed -i '/^Set group_source dynamic$/d' /etc/sudo.conf
        cp "$S/pam-sudo" /etc/pam.d/sudo && cp "$S/sudoers" /etc/sudoers || die "put sudo's files back"
        [ -n "$asan_rt" ] && rm -f /etc/ld.so.preload
fi

# ---- what auth kept belongs to the account it authenticated ----------------------------------------------
# An application may change PAM_USER between pam_authenticate and pam_acct_mgmt in one handle
# (pamtester cannot): authenticated as swx, account must judge the new user afresh, from
# nothing auth kept: locked, never activated, must-change and disabled accounts are refused.
# Python's ctypes drives the real libpam (tests/pam_ctypes.py).
swap_user() {
        timeout 60 "${pamenv[@]}" python3 "$TESTS/pam_ctypes.py" swap "$@"
}
for u in swx swy swlock swdis; do
        echo "$PW" | rc user add "$u" --password-stdin >/dev/null || die "rolesctl user add $u"
done
rc user add swact --activation >/dev/null || die "rolesctl user add swact --activation"
rc user disable swdis >/dev/null || die "rolesctl user disable swdis"
for _ in 1 2 3; do pt "wrong-password" roles swlock authenticate; done
pt "$PW" roles swlock authenticate; refused "swlock is locked out"
echo 'swchg:x:30010:30000:Must change:/home/swchg:/bin/bash' >"$S/imp/passwd2"
echo "swchg:$SHA512:0:0:99999:7:::" >"$S/imp/shadow2"
rc import --passwd "$S/imp/passwd2" --shadow "$S/imp/shadow2" >/dev/null || die "rolesctl import swchg"
eq "swap: authenticated swx, account swx" "$(swap_user roles swx "$PW" swx)" "account 0"
eq "swap: authenticated swx, account swy (judged afresh, a good account)" "$(swap_user roles swx "$PW" swy)" "account 0"
# (A locked account passes account: the tally guards the password, which auth checks.)
eq "swap: authenticated swx, account swlock (locked: account does not judge the tally)" \
        "$(swap_user roles swx "$PW" swlock)" "account 0"
for u in swact swchg swdis; do
        out=$(swap_user roles swx "$PW" "$u")
        [[ $out == "account "* && $out != "account 0" ]] && pass || fail "swap: authenticated swx, account $u: <<$out>>, want a refusal"
done
out=$(swap_user roles swx "$PW" nosuchuser)
[[ $out == "account "* && $out != "account 0" ]] && pass || fail "swap: authenticated swx, account nosuchuser: <<$out>>"

# What auth kept is for account in the process that authenticated, not in a child it forks (which
# judges afresh). Between the two, the account is made to change its password behind rolesctl's
# back: account in the authenticating process judges by what auth found (fine), in a forked child
# by secrets.db (must change: PAM_NEW_AUTHTOK_REQD, 12). A child in a new pid namespace has its
# parent's pid (both are 1 there): the pid does not tell them apart.
fork_account() {
        local mc="sqlite3 /var/lib/roles/secrets.db \"UPDATE credentials SET must_change_password = 1
                WHERE user_uuid = '$(uuid_of "$1")'\""
        timeout 60 "${@:3}" "${pamenv[@]}" python3 "$TESTS/pam_ctypes.py" fork roles "$1" "$PW" "$mc" "$2"
}
for u in fkplain fksame; do
        echo "$PW" | rc user add "$u" --password-stdin >/dev/null || die "rolesctl user add $u"
done
eq "fork: account in a forked child judges afresh, the parent by what auth found" \
        "$(fork_account fkplain no)" "child 12 parent 0"
eq "fork: the same when the child has the parent's pid (pid namespaces)" \
        "$(fork_account fksame yes unshare --pid --fork)" "child 12 parent 0"

# A process may keep any number of authenticated handles (a threaded PAM server): the 17th used to
# fail, and with it every login after it in that process.
eq "40 handles authenticated at once in one process" \
        "$(timeout 120 "${pamenv[@]}" python3 "$TESTS/pam_ctypes.py" many roles swx "$PW" 40)" "auth 40/40 account 40/40"

# ---- password: password_min_length counts characters, not bytes ------------------------------------------
# 日本語 is 9 bytes but 3 characters: short of the minimum of 8 (it passed when bytes were counted).
# Eight CJK characters (24 bytes) are enough, and log in.
echo "$PW" | rc user add cjk --password-stdin >/dev/null || die "rolesctl user add cjk"
h0=$(hash_of cjk)
JA3=日本語 JA8=日本語日本語日本
pt "$JA3$nl$JA3$nl" roles cjk chauthtok
refused "chauthtok: 日本語 (3 characters, 9 bytes) against a minimum of 8" 'at least 8 characters'
[ "$(hash_of cjk)" = "$h0" ] && pass || fail "chauthtok: 日本語 changed the password"
pt "$JA8$nl$JA8$nl" roles cjk chauthtok; good "chauthtok: 8 CJK characters"
pt "$JA8$nl" roles cjk authenticate; good "chauthtok: the 8 CJK characters log in"

# ---- logs: pam_unix's form, and nothing for an account that is not roles' --------------------------
# syslog_mark: where the catcher's file ends now; logged_since MARK: the module's lines after it.
syslog_mark() { sleep 0.2; wc -l <"$S/syslog"; }
logged_since() { sleep 0.2; tail -n +$(($1 + 1)) "$S/syslog" | grep -oE '(pam_roles|pam_unix)\(.*'; }
# has_line WHAT MARK ERE: a line of the modules since MARK matches ERE.
has_line() {
        if logged_since "$2" | grep -qE "$3"; then pass; else
                fail "$1: no /$3/ in <<$(logged_since "$2" | tr '\n' '|')>>"
        fi
}

m=$(syslog_mark)
pt "wrong-password$nl" -I rhost=127.0.0.1 -I tty=ssh roles alice authenticate; refused "logs: alice, wrong password"
has_line "logs: a failure in pam_unix's form" "$m" \
        '^pam_roles\(roles:auth\): authentication failure; logname=[^ ]* uid=0 euid=0 tty=ssh ruser= rhost=127\.0\.0\.1  user=alice$'
eq "logs: a wrong password is that one line" "$(logged_since "$m" | grep -c '^pam_roles')" 1
rc user unlock alice >/dev/null

m=$(syslog_mark)
pt "$PW$nl" roles alice authenticate open_session close_session; good "logs: alice's session"
has_line "logs: session opened, pam_unix's words" "$m" \
        "^pam_roles\\(roles:session\\): session opened for user alice\\(uid=$(js alice 'd["user"]["uid"]')\\) by [^ ]*\\(uid=0\\)\$"
has_line "logs: session closed, pam_unix's words" "$m" '^pam_roles\(roles:session\): session closed for user alice$'
eq "logs: a good login logs its session and nothing else" "$(logged_since "$m" | grep -c '^pam_roles')" 2

# A local account through a fall-through stack (roles first, pam_unix for the rest): pam_roles says
# nothing in any phase, where it used to log an authentication failure for every local login.
# Written into the namespace's /etc directly: useradd and chpasswd resolve names through NSS,
# which loads the module under test (ASan-built in one CI round, where they would run under it).
printf 'localusr:x:4242:4242::/nonexistent:/bin/sh\n' >>/etc/passwd &&
        printf 'localusr:%s:19000:0:99999:7:::\n' "$(openssl passwd -6 "$PW")" >>/etc/shadow ||
        die "add the local account localusr"
cat >/etc/pam.d/fallthru <<EOF
auth     [success=2 default=ignore] $MOD
auth     [success=1 default=ignore] pam_unix.so
auth     requisite pam_deny.so
auth     required pam_permit.so
account  [success=1 user_unknown=ignore default=die] $MOD
account  required pam_unix.so
account  required pam_permit.so
password [success=1 user_unknown=ignore default=die] $MOD
password required pam_unix.so
session  optional $MOD
session  required pam_unix.so
EOF
m=$(syslog_mark)
local_rows=$(state_sql "SELECT count(*) FROM login_audit")
pt "$PW$nl" fallthru localusr authenticate acct_mgmt open_session close_session
good "logs: a local user through the fall-through stack"
# The host's accounts are pam_unix's: pam_roles asks nothing, writes nothing, pays no argon2.
eq "a local login leaves no row in roles' login audit" "$(state_sql "SELECT count(*) FROM login_audit")" "$local_rows"
has_line "logs: pam_unix logged the local session (the catcher works)" "$m" \
        '^pam_unix\(fallthru:session\): session opened for user localusr'
eq "logs: nothing at pam_roles for a local login" "$(logged_since "$m" | grep -c '^pam_roles')" 0
m=$(syslog_mark)
pt "$PW$nl" fallthru 'Not-A-Name Secret!' authenticate; refused "logs: a password typed as the user name"
eq "logs: nothing at pam_roles for a name that is not valid" "$(logged_since "$m" | grep -c '^pam_roles')" 0
grep -q 'Not-A-Name Secret' "$S/syslog" && fail "logs: the name that is not valid was repeated" || pass
m=$(syslog_mark)
pt "$PW$nl" fallthru alice authenticate acct_mgmt open_session close_session
good "logs: a roles user through the fall-through stack"
has_line "logs: the roles user's session at pam_roles" "$m" '^pam_roles\(fallthru:session\): session opened for user alice\('
# debug: what roles made of the local account, at LOG_DEBUG.
sed -i "1s|\$| debug|" /etc/pam.d/fallthru
m=$(syslog_mark)
pt "$PW$nl" fallthru localusr authenticate; good "logs: a local user, debug on the auth line"
has_line "logs: debug says what roles made of the local account" "$m" \
        "^pam_roles\\(fallthru:auth\\): localusr is an account of the host's own files: left to the rest of the stack$"

# The login audit holds every successful authentication, as `rolesctl logins` shows.
eq "logs: the login audit has alice's success" \
        "$(state_sql "SELECT result || ' ' || detail FROM login_audit WHERE user = 'alice' AND result = 'success' ORDER BY id DESC LIMIT 1")" \
        "success password"

# A damaged or missing roles.db locks no local account out (the host's accounts are judged before
# any store is opened), while roles accounts are refused (fail closed).
mv /var/lib/roles/roles.db /var/lib/roles/roles.db.away || die "move roles.db away"
pt "$PW$nl" fallthru localusr authenticate acct_mgmt open_session close_session
good "roles.db missing: a local account still logs in through the fall-through stack"
# (Outside memcheck: alice falls through to pam_unix here, and under valgrind that run leaves a
# log without a summary, which the verdict counts as a failure; the roles side of the path is
# the account phase's open of the store, which the local account's login above ran under it.)
vg_saved=("${ns_valgrind[@]}")
ns_valgrind=()
pt "$PW$nl" fallthru alice authenticate acct_mgmt; refused "roles.db missing: a roles account is refused"
ns_valgrind=("${vg_saved[@]}")
mv /var/lib/roles/roles.db.away /var/lib/roles/roles.db || die "put roles.db back"

# A roles.conf that cannot be used (a key of a newer version, a typo, a mode that is refused) locks
# no local account out either: the host's accounts are judged before the configuration is read,
# as before any store is opened (the Debian profile's account line is "default=bad"). Roles
# accounts are refused (fail closed).
cp -a /etc/roles.conf "$S/roles.conf.saved" || die "save roles.conf"
for damage in "echo 'no_such_key = 1' >>/etc/roles.conf" "chmod g+w /etc/roles.conf"; do
        eval "$damage" || die "damage roles.conf: $damage"
        pt "$PW$nl" fallthru localusr authenticate acct_mgmt open_session close_session
        good "roles.conf unusable ($damage): a local account still logs in through the fall-through stack"
        ns_valgrind=()         # alice falls through to pam_unix (see roles.db missing above)
        pt "$PW$nl" fallthru alice authenticate acct_mgmt; refused "roles.conf unusable ($damage): a roles account is refused"
        ns_valgrind=("${vg_saved[@]}")
        cp -a "$S/roles.conf.saved" /etc/roles.conf || die "put roles.conf back"
done

finish
