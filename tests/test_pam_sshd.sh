#!/bin/bash
# SPDX-License-Identifier: MIT
# pam_roles.so under a real sshd: password logins over 127.0.0.1 through sshpass and ssh, with
# /etc/pam.d/sshd naming the module by absolute path and `account ... permission=login.sshd`.
# Allowed: the permission granted on a role, on the role's metarole, on a metarole it includes,
# through a wildcard (login.*); refused: no such permission, a disabled grant, near misses
# (login.ssh, login.sshd.*), a disabled or expired account, an unknown user, a wrong password.
# `id` over ssh shows the published metarole group (initgroups through libnss_roles.so.2), and
# the session phase's bookkeeping shows in `rolesctl --json user show`.
#
# Runs in a private mount namespace where /etc, /var/lib, /var/log, /run, /dev and the library
# directory are overlays on a tmpfs and /home is a tmpfs, so the host's files are never touched;
# sshd listens on 127.0.0.1 only and is killed on the way out. Needs root (CI runs as root) and
# openssh-server, openssh-client and sshpass (.ci/run installs them): without them it fails,
# it does not skip. The module's pam_syslog lines are caught on the namespace's /dev/log.
# Every check is counted; the last line says "N passed, M failed".
#
#   test_pam_sshd.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
. "$(dirname "$(realpath "$0")")/ns-lib.sh"

[ $# -eq 3 ] || { echo "usage: test_pam_sshd.sh ROLESCTL PAM_MODULE NSS_LIB_DIR" >&2; exit 1; }
ns_enter pam-sshd "$@"
R=$(realpath "$1")
M=$(realpath "$2")
L=$(realpath "$3")
sshd_pid=

need /usr/sbin/sshd ssh ssh-keygen sshpass python3 timeout || finish

on_die() {
        [ -s "$S/sshd.log" ] && { echo "--- sshd log (tail)"; tail -n 20 "$S/sshd.log"; }
        [ -s "$S/syslog" ] && { echo "--- syslog (tail)"; tail -n 20 "$S/syslog"; }
}
ns_on_exit() {
        [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
        [ -n "${ns_syslog_pid:-}" ] && kill "$ns_syslog_pid" 2>/dev/null && wait "$ns_syslog_pid" 2>/dev/null
}

# ---- the namespace ------------------------------------------------------------------------------
# The library directory glibc's NSS and libpam load from (merged /usr: /lib is /usr/lib).
libdir=$(dirname "$(realpath "$(ldd /usr/sbin/sshd | awk '$1 == "libc.so.6" { print $3 }')")")
[ -d "$libdir" ] && [ "$libdir" != / ] || die "cannot find the library directory (libc.so.6 of sshd)"
# /dev: for a /dev/log of our own (pam_syslog).
ns_private_dev
ns_overlay etc var/lib var/log run "${libdir#/}"
mount -t tmpfs -o mode=0755 tmpfs /home || die "tmpfs on /home"

# The modules under test, copied where the build directory's later changes cannot reach them:
# pam_roles.so named by absolute path in /etc/pam.d/sshd; libnss_roles.so.2 in the (overlaid)
# library directory, where sshd finds it whatever its environment.
mkdir -m 0755 "$S/mod"
cp "$M" "$S/mod/pam_roles.so" && chmod 0644 "$S/mod/pam_roles.so" || die "copy the PAM module"
cmp -s "$M" "$S/mod/pam_roles.so" || die "the PAM module's copy differs"
M=$S/mod/pam_roles.so
cp "$L/libnss_roles.so.2" "$libdir/libnss_roles.so.2" && chmod 0644 "$libdir/libnss_roles.so.2" || die "copy the NSS module"
mkdir -p "$libdir/roles" && cp "$L/roles/roles-nss-shadow.so" "$libdir/roles/" && chmod 0644 "$libdir/roles/roles-nss-shadow.so" ||
        die "copy the NSS module's shadow plugin"
[ -e "$S/ovl/${libdir#/}/u/libnss_roles.so.2" ] || die "the NSS module is not in the library overlay"

# ASan-built modules can only run in processes whose first library is the ASan runtime: sshd
# gets it preloaded, and passes it on to the sessions (SetEnv), whose `id` loads the NSS module.
# Leak checking is off (the leaks would be sshd's); any other report fails the test.
asan_rt=$(ns_sanitizer_preload "$M")
sanenv=()
if [ -n "$asan_rt" ]; then
        echo "# the modules are ASan-built: preloading $asan_rt into sshd and its sessions"
        mkdir -m 0777 "$S/asan"
        # colons, not spaces, between the libraries: SetEnv splits its arguments at spaces
        sanenv=("LD_PRELOAD=${asan_rt// /:}" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:log_path=$S/asan/report"
                "UBSAN_OPTIONS=print_stacktrace=1:log_path=$S/asan/ubsan")
fi

ns_syslog "$S/syslog"

# ---- configuration ---------------------------------------------------------------------------------
ns_configure
write_pam() {         # write_pam PERMISSION_OPTION
        cat >/etc/pam.d/sshd <<PAM
auth     required $M
account  required $M $1
password required $M
session  required $M
PAM
}
write_pam permission=login.sshd

# ---- the data, made with rolesctl ------------------------------------------------------------------
"$R" init >/dev/null || die "rolesctl init"
chmod 755 /var/lib/roles
"$R" batch >/dev/null <<'BATCH' || die "rolesctl batch"
metarole add remote --name "Remote staff"
metarole grant remote login.sshd
metarole publish remote --gid 20600
metarole add senior --name "Senior staff" --includes remote
metarole add ops --name "Operations"
metarole grant ops login.*
metarole add office --name "Office"
role add direct-ssh --metarole user
role grant direct-ssh login.sshd
role add remote-staff --metarole remote
role add lead --metarole senior
role add operator --metarole ops
role add clerk --metarole office
role grant clerk login.sudo
role grant clerk db.read
role add ssh-off --metarole user
role grant ssh-off login.sshd
role disable ssh-off login.sshd
role add near-miss --metarole office
role grant near-miss login.ssh
role grant near-miss login.sshd.*
user add alice --uid 10100 --full-name "Alice Archer"
user add bob --uid 10101
user add carol --uid 10102
user add hank --uid 10103
user add dave --uid 10104
user add erin --uid 10105
user add frank --uid 10106
user add gina --uid 10107
user add ivan --uid 10108 --expires 2020-01-01
user add lena --uid 10109
role assign direct-ssh alice
role assign remote-staff bob
role assign operator carol
role assign lead hank
role assign clerk dave
role assign ssh-off erin
role assign near-miss frank
role assign direct-ssh gina
role assign direct-ssh ivan
role assign direct-ssh lena
user disable gina
BATCH
users="alice bob carol hank dave erin frank gina ivan lena"
uid=10100
for u in $users; do
        echo "pw-$u-Secret9" | "$R" user passwd "$u" --stdin >/dev/null || die "rolesctl user passwd $u"
        # "+N": numeric, never looked up (nothing outside sshd and the sessions loads the modules)
        mkdir -m 0700 "/home/$u" && chown "+$uid:+$uid" "/home/$u" || die "home of $u"
        uid=$((uid + 1))
done
pw() { echo "pw-$1-Secret9"; }

# What rolesctl says, so that a refusal below is the module's doing and not the data's.
for u in alice bob carol hank lena; do
        "$R" check "$u" login.sshd >/dev/null && pass || fail "setup: rolesctl check $u login.sshd says no"
done
for u in dave erin frank gina ivan; do
        "$R" check "$u" login.sshd >/dev/null; rc=$?
        [ $rc -eq 1 ] && pass || fail "setup: rolesctl check $u login.sshd: exit status $rc, want 1"
done

# ---- sshd -------------------------------------------------------------------------------------------
mkdir -p /run/sshd && chmod 0755 /run/sshd
ssh-keygen -A >/dev/null || die "ssh-keygen -A"
[ -e "$S/ovl/etc/u/ssh" ] || ls /etc/ssh/ssh_host_*_key >/dev/null || die "no host keys"
# Our own sshd_config (in the overlay): nothing from the host's sshd_config.d.
cat >/etc/ssh/sshd_config <<'CFG'
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication yes
PubkeyAuthentication yes
AuthorizedKeysFile /etc/ssh/roles-keys/%u
PermitRootLogin no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
LoginGraceTime 30
MaxStartups 50
CFG
# lena's public key, where sshd's StrictModes accepts it (root's directory and file).
mkdir -p /etc/ssh/roles-keys && ssh-keygen -q -t ed25519 -N '' -f "$S/lena_key" && cp "$S/lena_key.pub" /etc/ssh/roles-keys/lena &&
        chmod 0644 /etc/ssh/roles-keys/lena || die "lena's key"
# OpenSSH 9.8 and later penalize a source address that fails to log in: not for this test.
env "${sanenv[@]}" /usr/sbin/sshd -t -o PerSourcePenalties=no 2>/dev/null && echo 'PerSourcePenalties no' >>/etc/ssh/sshd_config
[ -n "$asan_rt" ] && echo "SetEnv ${sanenv[*]}" >>/etc/ssh/sshd_config
env "${sanenv[@]}" /usr/sbin/sshd -t >"$S/sshd-t.out" 2>&1 || die "sshd -t: $(cat "$S/sshd-t.out")"

ns_sshd_env=("${sanenv[@]}")
ns_sshd_start || die "sshd did not start: $(cat "$S/sshd.log" "$S/sshd.stderr" 2>/dev/null | tail -n 5)"
sshd_pid=$ns_sshd_pid
echo "# sshd $sshd_pid on 127.0.0.1 port $PORT"

# ---- logging in ---------------------------------------------------------------------------------------
# login USER PASSWORD [SSH_OPTION...]: sets OUT, ERR, RC, and LOG / SYSLOG (the lines sshd and
# the module logged meanwhile).
login() {
        local user=$1 password=$2 l0 s0
        shift 2
        l0=$(wc -l <"$S/sshd.log")
        s0=$(wc -l <"$S/syslog")
        timeout 20 sshpass -p "$password" ssh -F /dev/null -o StrictHostKeyChecking=no \
                -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
                -o LogLevel=ERROR "$@" -p "$PORT" "$user@127.0.0.1" id >"$S/out" 2>"$S/err" </dev/null
        RC=$?
        OUT=$(cat "$S/out")
        ERR=$(cat "$S/err")
        # sshd may log the end of a connection just after the client has gone
        sleep 0.2
        LOG=$(tail -n +$((l0 + 1)) "$S/sshd.log")
        SYSLOG=$(tail -n +$((s0 + 1)) "$S/syslog")
}
context() {
        echo "    exit status $RC; stdout: ${OUT:0:200}; stderr: ${ERR:0:300}"
        echo "    sshd log:"
        sed 's/^/      /' <<<"$LOG" | head -n 15
        echo "    syslog:"
        sed 's/^/      /' <<<"$SYSLOG" | head -n 10
}
# allowed WHAT USER WANT_ID [SSH_OPTION...]
allowed() {
        local what=$1 user=$2 want=$3
        shift 3
        login "$user" "$(pw "$user")" "$@"
        if [ $RC -eq 0 ] && [ "$OUT" = "$want" ]; then
                pass
        else
                fail "$what: want exit status 0 and <<$want>>"
                context
                return
        fi
        grep -qE "Accepted (keyboard-interactive/pam|password) for $user from 127\.0\.0\.1" <<<"$LOG" && pass ||
                fail "$what: no 'Accepted ... for $user' in the sshd log"
        # On a good login the module says what pam_unix says: the session's lines, no more.
        grep -qE "pam_roles\(sshd:session\): session opened for user $user\(uid=[0-9]+\) by \(uid=0\)\$" <<<"$SYSLOG" &&
                pass || { fail "$what: no pam_unix-style 'session opened for user $user' line"; context; }
        grep 'pam_roles' <<<"$SYSLOG" | grep -qvE "pam_roles\(sshd:session\): session (opened for user $user\(.*|closed for user $user)\$" &&
                { fail "$what: the module logged more than the session on a good login:"; context; } || pass
}
# denied WHAT USER PASSWORD SSHD_LOG_ERE SYSLOG_ERE [SSH_OPTION...]: refused, for the reason
# sshd and the module name.
denied() {
        local what=$1 user=$2 password=$3 want_log=$4 want_sys=$5
        shift 5
        login "$user" "$password" "$@"
        if [ $RC -ne 0 ] && ! grep -q 'uid=' <<<"$OUT"; then pass; else
                fail "$what: logged in"
                context
                return
        fi
        if grep -qE "Accepted [a-z/-]+ for $user " <<<"$LOG"; then
                fail "$what: sshd accepted the login"
                context
                return
        fi
        pass
        if grep -qE "$want_log" <<<"$LOG"; then pass; else
                fail "$what: no /$want_log/ in the sshd log"
                context
        fi
        if [ -z "$want_sys" ] || grep -qE "$want_sys" <<<"$SYSLOG"; then pass; else
                fail "$what: no /$want_sys/ from the module in syslog"
                context
        fi
}
# user_json USER PYTHON_EXPR: a value from `rolesctl --json user show USER` (j is the object).
user_json() {
        "$R" --json user show "$1" 2>"$S/show.err" | python3 -c 'import json, sys
j = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$2" 2>>"$S/show.err" || echo "(rolesctl --json user show $1: $(head -c 200 "$S/show.err"))"
}

# A refusal by the account phase: over keyboard-interactive sshd logs "PAM: User account has
# expired" and "Failed keyboard-interactive/pam" whatever the module returned (sshd's own
# mapping), over the password method "Access denied for user X by PAM account configuration".
# The module's syslog line says which check refused.
acct_denied='Access denied for user %s by PAM account configuration|[Ff]ailed (keyboard-interactive/pam|password) for %s '
ad() { printf "$acct_denied" "$1" "$1"; }
pw_failed() { echo "[Ff]ailed (keyboard-interactive/pam|password) for (invalid user )?$1 from 127\.0\.0\.1"; }

# ---- allowed -----------------------------------------------------------------------------------------
allowed "direct role grant (alice)" alice "uid=10100(alice) gid=10100(alice) groups=10100(alice)"
allowed "metarole grant (bob)" bob "uid=10101(bob) gid=10101(bob) groups=10101(bob),20600(remote)"
allowed "included metarole grant (hank)" hank "uid=10103(hank) gid=10103(hank) groups=10103(hank),20600(remote)"
allowed "wildcard login.* (carol)" carol "uid=10102(carol) gid=10102(carol) groups=10102(carol)"
allowed "password method, not keyboard-interactive (alice)" alice \
        "uid=10100(alice) gid=10100(alice) groups=10100(alice)" -o KbdInteractiveAuthentication=no -o PreferredAuthentications=password
grep -q "Accepted password for alice " "$S/sshd.log" && pass || fail "password method: no 'Accepted password for alice' in the sshd log"

# ---- no descriptor of a roles database in the user's processes -----------------------------------------
# sshd's privileged monitor runs PAM and NSS, then forks the process that serves the session as
# the user, without exec. The session lists its own shell's and its sshd parent's descriptors,
# says READY and waits on a fifo while root looks at every process running as the user: none
# may hold any file of /var/lib/roles, not even the public roles.db, which the monitor's name
# lookups opened and the NSS module's atfork handler closes in the forked child (docs/reference.md: The
# NSS module).
# session_fds WHAT USER UID [SSH_OPTION...]
session_fds() {
        local what=$1 user=$2 uid=$3 pids inside held
        shift 3
        rm -f "$S/go" && mkfifo -m 0666 "$S/go" || die "mkfifo"
        : >"$S/session.out"
        timeout 30 sshpass -p "$(pw "$user")" ssh -F /dev/null -o StrictHostKeyChecking=no \
                -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
                -o LogLevel=ERROR "$@" -p "$PORT" "$user@127.0.0.1" \
                'for p in $$ $PPID; do echo "== $p"; for f in /proc/$p/fd/*; do echo "$f -> $(readlink $f 2>&1)"; done; done 2>&1; echo READY; read x <'"$S/go" \
                >"$S/session.out" 2>&1 </dev/null &
        local ssh_pid=$!
        for _ in $(seq 200); do grep -q '^READY' "$S/session.out" && break; sleep 0.05; done
        if ! grep -q '^READY' "$S/session.out"; then
                fail "$what: the session did not start: $(head -c 300 "$S/session.out")"
                kill "$ssh_pid" 2>/dev/null; wait "$ssh_pid" 2>/dev/null
                return
        fi
        inside=$(sed -n '/^== /,/^READY/p' "$S/session.out")
        # Not vacuous: the shell listed its own descriptors, and root found the shell and sshd.
        grep -qE '^/proc/[0-9]+/fd/0 -> ' <<<"$inside" && pass || fail "$what: the session listed no descriptors: <<${inside:0:300}>>"
        pids=$(ns_user_procs "$uid")
        [ "$(wc -w <<<"$pids")" -ge 2 ] && grep -qw sshd <<<"$(for p in $pids; do cat "/proc/$p/comm"; done 2>/dev/null)" && pass ||
                fail "$what: processes of uid $uid: <<$pids>>, want the shell and sshd"
        grep -q ' -> /var/lib/roles/' <<<"$inside" && fail "$what: the session sees: $(grep ' -> /var/lib/roles/' <<<"$inside" | tr '\n' ';')" || pass
        # shellcheck disable=SC2086
        held=$(ns_db_fds $pids)
        [ -z "$held" ] && pass || fail "$what: processes of $user hold: $(tr '\n' ';' <<<"$held")"
        # shellcheck disable=SC2086
        [ -z "$(ns_db_fds "$(sed -n 's/^== //p' <<<"$inside" | head -n 1)")" ] && pass || fail "$what: the session's shell holds: $(tr '\n' ';' <<<"$held")"
        echo go >"$S/go"
        wait "$ssh_pid" 2>/dev/null
}
session_fds "descriptors after a keyboard-interactive login (carol)" carol 10102
session_fds "descriptors after a password-method login (hank)" hank 10103 \
        -o KbdInteractiveAuthentication=no -o PreferredAuthentications=password
# Debian's common-account puts pam_unix's account check after ours: it reads the user's shadow
# entry, which libnss_roles.so.2 serves from secrets.db, in the monitor before the fork.
write_pam permission=login.sshd
echo 'account  required pam_unix.so' >>/etc/pam.d/sshd
session_fds "descriptors with pam_unix's account check, which reads shadow (hank)" hank 10103 \
        -o KbdInteractiveAuthentication=no -o PreferredAuthentications=password
write_pam permission=login.sshd

# ---- the session's bookkeeping --------------------------------------------------------------------------
for u in alice bob carol hank; do
        n=$(user_json "$u" 'j["state"]["login_count"]')
        [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && pass || fail "$u: login_count is <<$n>> after an ssh login, want >= 1"
done
n=$(user_json alice 'j["state"]["login_count"]')
[ "$n" = 2 ] && pass || fail "alice: login_count is <<$n>> after two ssh logins, want 2"
v=$(user_json bob 'j["state"]["last_login_ip"]')
[ "$v" = 127.0.0.1 ] && pass || fail "bob: last_login_ip is <<$v>>, want 127.0.0.1"
v=$(user_json bob 'j["state"]["last_login"] is not None')
[ "$v" = True ] && pass || fail "bob: last_login is not set after a login ($v)"

# ---- denied -----------------------------------------------------------------------------------------------
denied "no login.sshd (dave: login.sudo, db.read)" dave "$(pw dave)" "$(ad dave)" 'pam_roles.*dave does not hold login\.sshd'
denied "disabled grant of login.sshd (erin)" erin "$(pw erin)" "$(ad erin)" 'pam_roles.*erin does not hold login\.sshd'
denied "near misses login.ssh, login.sshd.* (frank)" frank "$(pw frank)" "$(ad frank)" 'pam_roles.*frank does not hold login\.sshd'
# auth refuses a disabled account even with its right password, as it refuses a wrong one.
denied "disabled account (gina)" gina "$(pw gina)" "$(pw_failed gina)" \
        'pam_roles.*authentication failure for gina: account disabled'
denied "expired account (ivan)" ivan "$(pw ivan)" "$(ad ivan)" 'pam_roles.*account ivan has expired'
denied "no login.sshd, password method (dave)" dave "$(pw dave)" \
        'Access denied for user dave by PAM account configuration' 'pam_roles.*dave does not hold login\.sshd' \
        -o KbdInteractiveAuthentication=no -o PreferredAuthentications=password
denied "unknown user" nosuch "pw-nosuch-Secret9" 'Invalid user nosuch' ''
grep -q 'pam_roles' <<<"$SYSLOG" && { fail "unknown user: the module logged an account that is not roles'"; context; } || pass
denied "wrong password (alice)" alice "not-alices-password" "$(pw_failed alice)" \
        'pam_roles\(sshd:auth\): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127\.0\.0\.1  user=alice$'
n=$(user_json alice 'j["state"]["failures"]')
[ "$n" = 1 ] && pass || fail "alice: failures is <<$n>> after one wrong password, want 1"
denied "wrong password, password method (alice)" alice "not-alices-password" "$(pw_failed alice)" \
        'pam_roles\(sshd:auth\): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127\.0\.0\.1  user=alice$' -o KbdInteractiveAuthentication=no -o PreferredAuthentications=password
denied "the right password of another user (alice with bob's)" alice "$(pw bob)" "$(pw_failed alice)" \
        'pam_roles\(sshd:auth\): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127\.0\.0\.1  user=alice$'
n=$(user_json alice 'j["state"]["failures"]')
[ "$n" = 3 ] && pass || fail "alice: failures is <<$n>> after three wrong passwords, want 3"
for u in dave erin frank gina ivan; do
        n=$(user_json "$u" 'j["state"]["login_count"]')
        [ "$n" = 0 ] && pass || fail "$u: login_count is <<$n>> after a refused login, want 0"
done
n=$(user_json alice 'j["state"]["login_count"]')
[ "$n" = 2 ] && pass || fail "alice: login_count is <<$n>> after refused logins, want still 2"

# A good login clears the failures.
allowed "after wrong passwords (alice)" alice "uid=10100(alice) gid=10100(alice) groups=10100(alice)"
n=$(user_json alice 'j["state"]["failures"]')
[ "$n" = 0 ] && pass || fail "alice: failures is <<$n>> after a good login, want 0"

# ---- lockout: deny = 5 failures (the default) lock the account; unlock lets the password in -----------------
for i in 1 2 3 4 5; do
        denied "lockout: wrong password $i (lena)" lena "wrong-$i" "$(pw_failed lena)" \
                'pam_roles\(sshd:auth\): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127\.0\.0\.1  user=lena$'
done
v=$(user_json lena 'j["state"]["locked_until"] is not None')
[ "$v" = True ] && pass || fail "lena: not locked after 5 wrong passwords ($v)"
denied "lockout: the right password while locked (lena)" lena "$(pw lena)" "$(pw_failed lena)" \
        'pam_roles.*authentication failure for lena: locked out'
# A public-key login runs account alone: the tally guards the password, not the account, so
# guessing lena's password does not lock her key out (as with pam_faillock).
OUT=$(timeout 20 ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o IdentitiesOnly=yes -i "$S/lena_key" \
        -o LogLevel=ERROR -p "$PORT" lena@127.0.0.1 id 2>&1 </dev/null)
eq "lockout: lena's public key still logs in while her password is locked" "$OUT" \
        "uid=10109(lena) gid=10109(lena) groups=10109(lena)"
"$R" user unlock lena >/dev/null || fail "rolesctl user unlock lena"
allowed "lockout: after rolesctl user unlock (lena)" lena "uid=10109(lena) gid=10109(lena) groups=10109(lena)"

# ---- permission=@service: login.<PAM_SERVICE>, i.e. login.sshd ----------------------------------------------
write_pam permission=@service
allowed "@service: direct grant (alice)" alice "uid=10100(alice) gid=10100(alice) groups=10100(alice)"
allowed "@service: wildcard (carol)" carol "uid=10102(carol) gid=10102(carol) groups=10102(carol)"
denied "@service: no login.sshd (dave)" dave "$(pw dave)" "$(ad dave)" 'pam_roles.*dave does not hold login\.sshd'

# ---- a grant taken away is seen by the next login -----------------------------------------------------------
write_pam permission=login.sshd
"$R" role unassign remote-staff bob >/dev/null || fail "rolesctl role unassign remote-staff bob"
denied "after role unassign (bob)" bob "$(pw bob)" "$(ad bob)" 'pam_roles.*bob does not hold login\.sshd'

# ---- sshd is still the one we started, and nothing crashed --------------------------------------------------------
kill -0 "$sshd_pid" 2>/dev/null && pass || fail "sshd died during the test"
if grep -qiE 'segfault|signal [0-9]+|AddressSanitizer|runtime error' "$S/sshd.log" "$S/sshd.stderr"; then
        fail "sshd log reports a crash: $(grep -iE 'segfault|signal [0-9]+|AddressSanitizer|runtime error' "$S/sshd.log" "$S/sshd.stderr" | head -3)"
else
        pass
fi
if [ -n "$asan_rt" ]; then
        reports=$(ls "$S/asan" 2>/dev/null)
        if [ -z "$reports" ]; then pass; else
                fail "sanitizer reports: $reports"
                head -n 40 "$S"/asan/* | sed 's/^/    /'
        fi
fi
if grep -qiE 'argon2id\$|pw-[a-z]+-Secret9|not-alices-password' "$S/syslog" "$S/sshd.log"; then
        fail "a secret appears in the logs"
else
        pass
fi

if [ -n "${ROLES_TEST_VERBOSE:-}" ]; then
        echo "--- sshd log"; cat "$S/sshd.log"
        echo "--- syslog"; cat "$S/syslog"
fi
finish
