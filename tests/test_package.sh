#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian packages, built and installed as an administrator would (issue 14):
#
#  1. dpkg-buildpackage -us -uc -b on a copy of the source tree (the tree stays clean); lintian
#     reports no error and no warning;
#  2. in a throwaway root (overlays of /etc, /usr, /var, /home, /root and /run in a private mount
#     namespace), dpkg -i of rolesctl, libnss-roles, libpam-roles and roles-agent: the maintainer scripts,
#     pam-auth-update and the ldconfig trigger run for real; nsswitch.conf gets "roles" after
#     "files" on passwd, group and shadow and nothing else changes; installing again changes
#     nothing; roles-agent's program, unit and page are there, the unit neither enabled nor
#     started, and the agent refuses a roles.conf without a source (exit 3); rolesctl's
#     roles-index.service is there, passes systemd-analyze verify, is enabled, and its command
#     has nothing to do before `rolesctl init`;
#  3. with the profile enabled, before `rolesctl init` and after it: a local account (useradd)
#     logs in through su and sshd, changes its password with passwd, and nothing is logged at
#     pam_roles meanwhile; a roles account logs in through su and sshd, gets a home from
#     /etc/skel, changes its password with passwd, and uses sudo through a published metarole
#     group (sudoers "%admin"), which `id` shows; enrolled in TOTP, it logs in over ssh and uses
#     sudo with its password and a code, and a wrong code is refused; a removal from the group
#     killed between roles.db's commit and the index's rename leaves NSS behind until
#     roles-index.service's command, which catches it up; `man rolesctl` renders; su
#     to a system account or a local account without a home makes no home for them; with
#     pam_roles.so missing, root and the local account log in and the roles account is refused;
#  4. dpkg --purge restores nsswitch.conf and /etc/pam.d/common-* byte for byte, keeps the
#     databases and says so;
#  5. dpkg -r one package at a time, libpam-roles first and libnss-roles first, then a purge: root
#     and the local account log in (pamtester through login, sshd and sudo; su) after every step;
#     with pam_roles.so in a line of the administrator's (a hand-edited common-auth, which
#     pam-auth-update then leaves alone, or /etc/pam.d/sshd), dpkg -r libpam-roles is refused,
#     naming the file, and the module stays.
#
# Needs root (CI runs as root) and debhelper, dh-nss, lintian, sudo, openssh-server, sshpass, man-db
# (.ci/run installs them). Every check is counted; the last line says "N passed, M failed".
#
#   test_package.sh SOURCE_DIR
set -u
. "$(dirname "$(realpath "$0")")/ns-lib.sh"

[ $# -eq 1 ] || { echo "usage: test_package.sh SOURCE_DIR" >&2; exit 1; }
ns_enter package "$@"
SRC=$(realpath "$1")
started=$SECONDS

need dpkg-buildpackage dh dh_installnss lintian pam-auth-update sudo su runuser passwd useradd chpasswd \
        /usr/sbin/sshd ssh ssh-keygen sshpass oathtool setsid man python3 timeout sha256sum systemd-analyze strace || finish

ns_on_exit() {
        [ -n "$ns_sshd_pid" ] && kill "$ns_sshd_pid" 2>/dev/null && wait "$ns_sshd_pid" 2>/dev/null
        [ -n "${ns_syslog_pid:-}" ] && kill "$ns_syslog_pid" 2>/dev/null && wait "$ns_syslog_pid" 2>/dev/null
}
on_die() {
        [ -s "$S/syslog" ] && { echo "--- syslog (tail)"; tail -n 20 "$S/syslog"; }
        [ -s "$S/sshd.log" ] && { echo "--- sshd log (tail)"; tail -n 20 "$S/sshd.log"; }
}

# ---- 1. build ---------------------------------------------------------------------------------------
# A copy of the tree without its build directories (meson's, in-tree, and CI's) and .git.
mkdir "$S/src" || die "mkdir"
for f in "$SRC"/* "$SRC"/.[!.]*; do
        [ -e "$f" ] || continue
        case ${f##*/} in .git | obj-*) continue ;; esac
        [ -d "$f/meson-private" ] && continue
        cp -a "$f" "$S/src/" || die "copy $f"
done
if (cd "$S/src" && dpkg-buildpackage -us -uc -b) >"$S/build.log" 2>&1; then
        pass
else
        tail -n 30 "$S/build.log"
        die "dpkg-buildpackage failed"
fi
echo "# built in $((SECONDS - started)) s"
debs=()
for p in rolesctl libnss-roles libpam-roles roles-agent; do
        f=$(ls "$S/${p}_"*.deb 2>/dev/null | head -n 1)
        [ -n "$f" ] && debs+=("$f") || fail "no $p package was built"
done
[ ${#debs[@]} -eq 4 ] || die "packages missing"

# lintian: no error, no warning (docs/packaging.md explains the informational tags it shows).
lintian -I --tag-display-limit 0 "$S"/roles_*.changes >"$S/lintian.out" 2>"$S/lintian.err"
grep -vE '^[EW]: ' "$S/lintian.out" | sed 's/^/# lintian: /'
grep -E '^[EW]: ' "$S/lintian.out" | while read -r line; do echo "FAIL: lintian: $line"; done
n=$(grep -cE '^[EW]: ' "$S/lintian.out")
[ "$n" -eq 0 ] && pass || FAILED=$((FAILED + n))
grep -q '^E: .*lintian' "$S/lintian.err" && fail "lintian did not run: $(head -c 300 "$S/lintian.err")"

# ---- 2. the throwaway root ------------------------------------------------------------------------
ns_private_dev
ns_overlay etc usr var home root run
ns_syslog "$S/syslog"
# What a purge must give back, byte for byte.
sha256sum /etc/nsswitch.conf /etc/pam.d/common-* >"$S/before.sum" || die "sha256sum"
cp /etc/nsswitch.conf "$S/nsswitch.before"
printf 'from /etc/skel\n' >/etc/skel/.roles-package-test || die "/etc/skel"

# A local account, made before roles is there, as on any host.
LOCAL_PW=Local-Pass-41x
ROOT_PW=Root-Pass-17q
useradd -m -s /bin/bash localu && printf 'localu:%s\n' "$LOCAL_PW" | chpasswd || die "useradd localu"

dpkg -i "${debs[@]}" >"$S/dpkg.log" 2>&1 || { cat "$S/dpkg.log"; die "dpkg -i"; }
pass
# roles after files on passwd, group and shadow, each line otherwise as it was; nothing else.
sed -E '/^(passwd|group|shadow):/ s/(\s)files(\s|$)/\1files roles\2/' "$S/nsswitch.before" >"$S/nsswitch.want"
if cmp -s "$S/nsswitch.want" /etc/nsswitch.conf; then pass; else
        fail "nsswitch.conf after install: $(diff "$S/nsswitch.want" /etc/nsswitch.conf | tr '\n' ' ')"
fi
for f in auth account password session; do
        grep -q 'pam_roles\.so' "/etc/pam.d/common-$f" && pass || fail "pam-auth-update: no pam_roles in common-$f"
done
grep -q 'pam_mkhomedir\.so' /etc/pam.d/common-session && pass || fail "no pam_mkhomedir in common-session"
grep -q 'pam_roles\.so' /etc/pam.d/common-session-noninteractive && fail "pam_roles in common-session-noninteractive" || pass
ldconfig -p | grep -q 'libnss_roles\.so\.2 ' && pass || fail "the ldconfig trigger did not run: libnss_roles.so.2 not in ld.so.cache"
[ -f /etc/roles.conf ] && pass || fail "no /etc/roles.conf"
eq "roles_chkpwd's owner and mode" "$(stat -c '%U %a' /usr/sbin/roles_chkpwd 2>&1)" "root 4755"
[ -f /usr/share/bash-completion/completions/rolesctl ] && pass || fail "no bash completion for rolesctl"
# roles-agent: installed, its unit not enabled (a host joins a fleet by choice), and without a
# source in roles.conf it refuses to run, with the exit status the unit does not restart on.
[ -x /usr/sbin/roles-agent ] && pass || fail "no /usr/sbin/roles-agent"
unit=/lib/systemd/system/roles-agent.service
grep -qx 'ExecStart=/usr/sbin/roles-agent' "$unit" 2>/dev/null && pass || fail "$unit: missing, or not running /usr/sbin/roles-agent"
grep -qx 'RestartPreventExitStatus=3' "$unit" 2>/dev/null && pass || fail "$unit: restarts after a configuration error"
enabled=$(find /etc/systemd/system -name roles-agent.service 2>/dev/null)
[ -z "$enabled" ] && pass || fail "roles-agent.service enabled on install: $enabled"
out=$(roles-agent --once 2>&1)
eq "roles-agent --once without a source: exit status" "$?" 3
grep -q 'sets no source' <<<"$out" && pass || fail "roles-agent without a source: $(head -c 300 <<<"$out")"
out=$(MANWIDTH=80 man -P cat roles-agent 2>&1)
grep -q -- '--once' <<<"$out" && pass || fail "man roles-agent: $(head -c 300 <<<"$out")"
# rolesctl's roles-index.service: installed, valid, enabled (it runs at every boot), and harmless
# before `rolesctl init`: its command finds no roles.db and has nothing to do.
index_unit=/lib/systemd/system/roles-index.service
index_cmd=$(sed -n 's/^ExecStart=//p' "$index_unit" 2>/dev/null)
eq "roles-index.service's command" "$index_cmd" "/usr/sbin/rolesctl index rebuild --if-stale"
out=$(systemd-analyze verify "$index_unit" 2>&1)
eq "systemd-analyze verify roles-index.service" "$? $out" "0 "
grep -qx 'Before=nss-user-lookup.target systemd-user-sessions.service' "$index_unit" && pass ||
        fail "$index_unit: not ordered before user lookups and logins"
[ -L /etc/systemd/system/multi-user.target.wants/roles-index.service ] && pass ||
        fail "roles-index.service not enabled on install: $(find /etc/systemd/system -name 'roles-index*' 2>&1)"
# shellcheck disable=SC2086  # the unit's command line, split as systemd splits it
out=$($index_cmd 2>&1)
eq "roles-index.service's command before init" "$? $out" "0 /var/lib/roles/roles.db does not exist (roles is not initialised): nothing to do"
[ ! -e /var/lib/roles ] && pass || fail "roles-index.service's command before init made /var/lib/roles"
# Installing again (an upgrade to the same version) changes neither file.
sha256sum /etc/nsswitch.conf /etc/pam.d/common-* >"$S/installed.sum"
dpkg -i "${debs[@]}" >>"$S/dpkg.log" 2>&1 || fail "dpkg -i, again"
sha256sum --quiet -c "$S/installed.sum" >"$S/recheck.out" 2>&1 && pass ||
        fail "installing again changed: $(tr '\n' ' ' <"$S/recheck.out")"

# ---- 3. logging in ----------------------------------------------------------------------------------
mkdir -p /run/sshd && chmod 0755 /run/sshd && ssh-keygen -A >/dev/null || die "sshd's host keys"
ns_sshd_start || die "sshd did not start: $(cat "$S/sshd.log" "$S/sshd.stderr" 2>/dev/null | tail -n 5)"

# by_su USER PASSWORD / by_ssh USER PASSWORD: a login that prints "user=NAME home=DIR"; sets OUT.
by_su() {
        OUT=$(printf '%s\n' "$2" | timeout 60 runuser -u nobody -- su -c 'echo "user=$(id -un) home=$HOME"' "$1" 2>&1)
}
by_ssh() {
        OUT=$(timeout 30 sshpass -p "$2" ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 -o LogLevel=ERROR -p "$PORT" "$1@127.0.0.1" \
                'echo "user=$(id -un) home=$HOME"' 2>&1 </dev/null)
}
# logs_in HOW USER PASSWORD WHAT
logs_in() {
        "$1" "$2" "$3"
        grep -q "user=$2 " <<<"$OUT" && pass || fail "$4: $(head -c 300 <<<"$OUT")"
}
# by_passwd USER CURRENT NEW: passwd run by USER, answering its three prompts.
by_passwd() {
        OUT=$(printf '%s\n%s\n%s\n' "$2" "$3" "$3" | timeout 60 runuser -u "$1" -- passwd 2>&1)
}
printf 'root:%s\n' "$ROOT_PW" | chpasswd || die "root's password"
# locals_log_in WHAT: root and the local account (its password changed below) log in through the
# system's common-* stacks: pamtester through login, sshd and sudo (auth, account, session), and su.
locals_log_in() {
        local u pw svc out
        for u in root localu; do
                [ "$u" = root ] && pw=$ROOT_PW || pw=$LOCAL_PW2
                for svc in login sshd sudo; do
                        out=$(printf '%s\n' "$pw" | timeout 30 pamtester "$svc" "$u" authenticate acct_mgmt open_session close_session 2>&1)
                        grep -q 'session has successfully been closed' <<<"$out" && pass ||
                                fail "$1: pamtester $svc $u: $(tr '\n' ' ' <<<"$out" | tail -c 200)"
                done
        done
        by_su localu "$LOCAL_PW2"
        grep -q 'user=localu ' <<<"$OUT" && pass || fail "$1: su to localu: $(head -c 300 <<<"$OUT")"
}
# quiet_at_pam_roles WHAT FROM: no syslog line since line FROM names pam_roles, and syslog did get
# the logins' own lines (pam_unix's), so that silence means something.
quiet_at_pam_roles() {
        sleep 0.2
        local lines
        lines=$(tail -n +"$(($2 + 1))" "$S/syslog")
        grep -q 'pam_unix' <<<"$lines" && pass || fail "$1: syslog caught no pam_unix line either"
        if grep -q 'pam_roles' <<<"$lines"; then
                fail "$1: logged at pam_roles: $(grep 'pam_roles' <<<"$lines" | head -n 3 | tr '\n' ' ')"
        else
                pass
        fi
}

# Before `rolesctl init` (no databases): local accounts are untouched by the profile.
mark=$(wc -l <"$S/syslog")
logs_in by_su localu "$LOCAL_PW" "before init: su to a local account"
logs_in by_ssh localu "$LOCAL_PW" "before init: ssh as a local account"
quiet_at_pam_roles "before init: local logins" "$mark"

# roles, as an administrator sets it up: cheap argon2 for the test.
printf '%sargon2_t_cost = 1\nargon2_m_cost_kib = 1024\nargon2_parallelism = 1\n' "$ns_conf_ids" >/etc/roles.conf
ROLES_PW=Roles-Pass-52y
rolesctl init >/dev/null || die "rolesctl init"
rolesctl batch >/dev/null <<'BATCH' || die "rolesctl batch"
metarole publish admin --gid 20900
role add sysadmin --metarole admin
user add alice --uid 10100
role assign sysadmin alice
BATCH
printf '%s\n' "$ROLES_PW" | rolesctl user passwd alice --stdin >/dev/null || die "rolesctl user passwd alice"
printf '%%admin ALL=(ALL:ALL) ALL\n' >/etc/sudoers.d/roles-package-test && chmod 0440 /etc/sudoers.d/roles-package-test ||
        die "sudoers.d"
[ ! -e /home/alice ] && pass || fail "alice has a home before her first login"

# The local account: su, ssh and passwd, and nothing at pam_roles.
mark=$(wc -l <"$S/syslog")
logs_in by_su localu "$LOCAL_PW" "su to a local account"
logs_in by_ssh localu "$LOCAL_PW" "ssh as a local account"
LOCAL_PW2=Local-Changed-73z
by_passwd localu "$LOCAL_PW" "$LOCAL_PW2"
grep -q 'updated successfully' <<<"$OUT" && pass || fail "passwd as localu: $(head -c 300 <<<"$OUT")"
logs_in by_su localu "$LOCAL_PW2" "su to a local account with its new password"
quiet_at_pam_roles "local logins and passwd" "$mark"
# The profile makes homes for roles accounts alone: an interactive session of the host's own
# accounts makes none, above all not a system account's (nobody's /nonexistent must never exist:
# daemons run as nobody; that one is outside the overlays, so a system account of the test's
# stands for it) nor a home a local account was made without.
useradd -r -M -d /home/svcnohome -s /usr/sbin/nologin svcnohome && useradd -s /bin/bash localnohome ||
        die "useradd svcnohome, localnohome"
su -s /bin/sh -c true svcnohome >/dev/null 2>&1
[ ! -e /home/svcnohome ] && pass || fail "su to a system account made its home /home/svcnohome"
su -c true localnohome >/dev/null 2>&1
[ ! -e /home/localnohome ] && pass || fail "su to a local account made its home /home/localnohome"

# The roles account: su (its first login makes its home from /etc/skel), ssh, sudo, passwd.
logs_in by_su alice "$ROLES_PW" "su to a roles account"
grep -q 'home=/home/alice$' <<<"$OUT" && pass || fail "alice's home is not /home/alice: $OUT"
[ "$(stat -c %U /home/alice 2>/dev/null)" = alice ] && pass || fail "pam_mkhomedir made no home owned by alice"
[ "$(cat /home/alice/.roles-package-test 2>/dev/null)" = "from /etc/skel" ] && pass ||
        fail "alice's home lacks /etc/skel's content"
logs_in by_ssh alice "$ROLES_PW" "ssh as a roles account"
id -Gn alice | grep -qw admin && pass || fail "id alice lacks the metarole group admin: $(id alice 2>&1)"
out=$(printf '%s\n' "$ROLES_PW" | timeout 60 runuser -u alice -- sudo -S -k -p '' id -u 2>&1)
eq "sudo as alice through %admin" "$out" 0
ROLES_PW2=Roles-Changed-84w
by_passwd alice "$ROLES_PW" "$ROLES_PW2"
grep -q 'updated successfully' <<<"$OUT" && pass || fail "passwd as alice: $(head -c 300 <<<"$OUT")"
logs_in by_su alice "$ROLES_PW2" "su to a roles account with its new password"
logs_in by_ssh alice "$ROLES_PW2" "ssh as a roles account with its new password"
by_su alice "$ROLES_PW"
grep -q 'user=alice' <<<"$OUT" && fail "alice's old password still works" || pass

# "sshd and sudo with TOTP for my admins", as the README's guide sets it up: enrol, then ssh asks
# the password and the code (keyboard-interactive), and so does sudo; a wrong code is refused.
enrol=$(rolesctl user totp enroll alice 2>&1) || fail "rolesctl user totp enroll alice: $(head -c 300 <<<"$enrol")"
SECRET=$(grep -oE 'secret=[A-Z2-7]+' <<<"$enrol" | head -n 1 | cut -d= -f2)
[ -n "$SECRET" ] && pass || fail "no TOTP secret in the enrolment's URI: $(head -c 300 <<<"$enrol")"
# totp_code SECONDS: the code of the step that many seconds from now (each step is accepted once).
totp_code() { oathtool --totp -b "$SECRET" -N "$(date -u -d "+$1 seconds" '+%F %T UTC')"; }
# by_ssh_totp USER PASSWORD CODE: ssh answering "Password:" and "Verification code:" (SSH_ASKPASS).
by_ssh_totp() {
        printf '#!/bin/sh\ncase "$1" in *erification*) echo "%s" ;; *) echo "%s" ;; esac\n' "$3" "$2" >"$S/askpass"
        chmod 0755 "$S/askpass"
        OUT=$(SSH_ASKPASS="$S/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none timeout 30 setsid -w ssh -F /dev/null \
                -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no \
                -o PreferredAuthentications=keyboard-interactive -o NumberOfPasswordPrompts=1 -o LogLevel=ERROR \
                -p "$PORT" "$1@127.0.0.1" 'echo "user=$(id -un) home=$HOME"' 2>&1 </dev/null)
}
by_ssh_totp alice "$ROLES_PW2" "$(totp_code 0)"
grep -q 'user=alice ' <<<"$OUT" && pass || fail "ssh as alice with password and TOTP code: $(head -c 300 <<<"$OUT")"
by_ssh_totp alice "$ROLES_PW2" 000000
grep -q 'user=alice' <<<"$OUT" && fail "ssh as alice with a wrong TOTP code got in" || pass
out=$(printf '%s\n%s\n' "$ROLES_PW2" "$(totp_code 30)" | timeout 60 runuser -u alice -- sudo -S -k -p '' id -u 2>&1)
eq "sudo as alice with password and TOTP code" "$(tail -n 1 <<<"$out")" 0
out=$(printf '%s\n%s\n' "$ROLES_PW2" 000000 | timeout 60 runuser -u alice -- sudo -S -k -p '' id -u 2>&1)
grep -qx 0 <<<"$out" && fail "sudo as alice with a wrong TOTP code ran" || pass

# pam_roles.so that cannot be loaded (a library it needs removed with --force-depends, the other
# architecture's package removed) makes libpam answer "Module is unknown": the profile's account
# line refuses that for roles accounts (fail closed), and keeps the host's own accounts, root's
# above all, out of its way (pam_localuser), so that they still log in.
module=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/security/pam_roles.so
mv "$module" "$S/pam_roles.so" || die "move pam_roles.so away"
locals_log_in "pam_roles.so missing"
out=$(printf '%s\n' "$ROLES_PW2" | timeout 30 pamtester login alice authenticate acct_mgmt 2>&1)
grep -q 'account management done' <<<"$out" && fail "pam_roles.so missing: alice passed the account check" || pass
mv "$S/pam_roles.so" "$module" || die "put pam_roles.so back"

# Power lost between roles.db's commit and the index's rename (a kill there stands for it) as
# alice loses the role that puts her in %admin: NSS still says she is in admin, so sudo would
# still let her in, until the boot runs roles-index.service, whose command brings NSS to
# roles.db; run again, it leaves the current index as it is.
out=$({ strace -f -o /dev/null -e trace=rename -e inject=rename:signal=KILL \
        rolesctl role unassign sysadmin alice >/dev/null 2>&1; echo $?; } 2>/dev/null)
eq "role unassign killed at the index's rename" "$out" 137
id -Gn alice | grep -qw admin && pass || fail "the kill did not leave NSS behind roles.db: $(id alice 2>&1)"
# shellcheck disable=SC2086
out=$($index_cmd 2>&1)
eq "roles-index.service's command after the kill" "$? $out" "0 roles.nss: of another serial than roles.db: compiled anew"
id -Gn alice | grep -qw admin && fail "after roles-index.service's command alice is still in admin: $(id alice 2>&1)" || pass
# shellcheck disable=SC2086
out=$($index_cmd 2>&1)
eq "roles-index.service's command, again" "$? $out" "0 roles.nss: roles.db's: nothing to do"

out=$(MANWIDTH=80 man -P cat rolesctl 2>&1)
grep -q 'rolesctl user add' <<<"$out" && pass || fail "man rolesctl: $(head -c 300 <<<"$out")"

kill "$ns_sshd_pid" 2>/dev/null && wait "$ns_sshd_pid" 2>/dev/null
ns_sshd_pid=

# ---- 4. purge ---------------------------------------------------------------------------------------
dpkg --purge roles-agent libpam-roles libnss-roles rolesctl >"$S/purge.log" 2>&1 && pass || fail "dpkg --purge: $(tail -n 5 "$S/purge.log")"
# The databases are people's accounts, not the package's: kept, and the purge says where.
[ -f /var/lib/roles/roles.db ] && pass || fail "the purge removed /var/lib/roles"
grep -q 'rolesctl: kept /var/lib/roles' "$S/purge.log" && pass || fail "the purge does not say it kept /var/lib/roles: $(tail -c 400 "$S/purge.log")"
sha256sum --quiet -c "$S/before.sum" >"$S/purge.out" 2>&1 && pass ||
        fail "purge did not restore: $(tr '\n' ' ' <"$S/purge.out"); nsswitch.conf: $(diff "$S/nsswitch.before" /etc/nsswitch.conf | tr '\n' ' ')"
[ ! -e /usr/sbin/rolesctl ] && [ ! -e /usr/sbin/roles-agent ] && [ ! -e /usr/share/pam-configs/roles ] && pass || fail "purge left files"
[ -z "$(find /etc/systemd/system -name 'roles-index*' 2>/dev/null)" ] && pass ||
        fail "purge left roles-index.service enabled: $(find /etc/systemd/system -name 'roles-index*')"

# ---- 5. removal, as an administrator meets it ------------------------------------------------------
# After every step root and the local account still log in through the system's common-* stacks
# (pamtester: auth, account, session), and su works: a PAM line that names pam_roles.so once the
# module is gone can refuse everyone ("Module is unknown" meets an administrator's required or
# default=bad line).
locals_log_in "after the purge"
# dpkg -r PACKAGE... then the locals log in; dpkg -P ALL restores nsswitch.conf and common-*.
remove_in_order() {
        local p
        dpkg -i "${debs[@]}" >>"$S/dpkg.log" 2>&1 || die "dpkg -i ($*)"
        for p in "$@"; do
                dpkg -r "$p" >>"$S/dpkg.log" 2>&1 && pass || fail "dpkg -r $p: $(tail -n 5 "$S/dpkg.log")"
                locals_log_in "after dpkg -r $p (order $*)"
        done
        dpkg --purge roles-agent libpam-roles libnss-roles rolesctl >>"$S/dpkg.log" 2>&1 && pass || fail "dpkg --purge ($*)"
        sha256sum --quiet -c "$S/before.sum" >"$S/purge.out" 2>&1 && pass ||
                fail "order $*: purge did not restore: $(tr '\n' ' ' <"$S/purge.out")"
}
remove_in_order libpam-roles roles-agent libnss-roles rolesctl
remove_in_order libnss-roles roles-agent libpam-roles rolesctl

# An administrator's own PAM lines: pam-auth-update leaves common-* as they are when it finds a
# line it did not write in its block (a pam_faillock guide's, here pam_faildelay), and per-service
# lines (pam_roles(8)) are no package's to remove. Removing libpam-roles then is refused, naming
# the files, and changes nothing: pam_roles.so stays, and everyone still logs in.
dpkg -i "${debs[@]}" >>"$S/dpkg.log" 2>&1 || die "dpkg -i (own lines)"
cp /etc/pam.d/common-auth "$S/common-auth.profile"
sed -i '/^auth.*pam_unix\.so/i auth\trequired\t\t\tpam_faildelay.so delay=100000' /etc/pam.d/common-auth
out=$(dpkg -r libpam-roles 2>&1)
[ $? -ne 0 ] && pass || fail "dpkg -r libpam-roles with pam_roles.so left in a hand-edited common-auth succeeded"
grep -q '/etc/pam.d/common-auth' <<<"$out" && pass || fail "the refusal does not name common-auth: $(tail -c 400 <<<"$out")"
[ -f "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/security/pam_roles.so" ] && pass ||
        fail "pam_roles.so removed while common-* still names it"
locals_log_in "after a refused dpkg -r libpam-roles (hand-edited common-auth)"
cp "$S/common-auth.profile" /etc/pam.d/common-auth
printf 'account [success=ok user_unknown=ignore default=bad] pam_roles.so permission=@service\n' >>/etc/pam.d/sshd
out=$(dpkg -r libpam-roles 2>&1)
[ $? -ne 0 ] && pass || fail "dpkg -r libpam-roles with a pam_roles.so line in /etc/pam.d/sshd succeeded"
grep -q '/etc/pam.d/sshd' <<<"$out" && pass || fail "the refusal does not name /etc/pam.d/sshd: $(tail -c 400 <<<"$out")"
grep -q 'pam_roles\.so' /etc/pam.d/common-account && pass || fail "a refused removal took the profile out of common-account"
locals_log_in "after a refused dpkg -r libpam-roles (a line in /etc/pam.d/sshd)"
sed -i '/pam_roles\.so/d' /etc/pam.d/sshd
# A line of the administrator's in common-session, outside pam-auth-update's block: pam-auth-update
# takes the profile out, the removal is refused, and the profile is back (postinst abort-remove).
cp /etc/pam.d/common-session "$S/common-session.profile"
sed -i '1i session optional pam_roles.so debug' /etc/pam.d/common-session
out=$(dpkg -r libpam-roles 2>&1)
[ $? -ne 0 ] && pass || fail "dpkg -r libpam-roles with a pam_roles.so line of the administrator's in common-session succeeded"
grep -q '/etc/pam.d/common-session' <<<"$out" && pass || fail "the refusal does not name common-session: $(tail -c 400 <<<"$out")"
grep -q 'pam_roles\.so' /etc/pam.d/common-account && pass || fail "a refused removal left the profile out of common-account"
locals_log_in "after a refused dpkg -r libpam-roles (a line in common-session)"
cp "$S/common-session.profile" /etc/pam.d/common-session
dpkg --purge roles-agent libpam-roles libnss-roles rolesctl >>"$S/dpkg.log" 2>&1 && pass || fail "dpkg --purge, own lines taken out"
sha256sum --quiet -c "$S/before.sum" >"$S/purge.out" 2>&1 && pass || fail "own lines: purge did not restore: $(tr '\n' ' ' <"$S/purge.out")"
locals_log_in "after the last purge"

echo "# test_package.sh took $((SECONDS - started)) s"
finish
