#!/bin/bash
# SPDX-License-Identifier: MIT
# The host's own accounts always win, whatever wrote roles.db. A roles.db is written on "another
# host" (this namespace with a different /etc/passwd and /etc/group bound over the real ones,
# where root is called admin0 and there is no sudo group), then used here, where it names the
# host's root and sudo; afterwards the host gains a local user and a local group that collide with
# roles accounts. Through real glibc (getent, id), the real setuid sudo (Debian's `%sudo` rule),
# setuid su and pamtester: none of the colliding roles users and groups is served, logged in or
# lent to anyone, and `rolesctl doctor` names each collision. The accounts that collide with
# nothing keep working (positive controls). Last, new ids skip every uid and gid the host uses,
# its accounts' and its subordinate ranges', rolesctl refuses them as --uid or --gid, and doctor
# warns when the configured ranges overlap useradd's (login.defs) or a subordinate range.
#
#   test_host_trust.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
. "$(dirname "$0")/ns-lib.sh"

ns_enter_e2e host-trust "$@"
need pamtester sudo su getent id || finish

ns_overlay etc var/lib
[ -d /run/sudo ] && { mount -t tmpfs -o mode=0711 tmpfs /run/sudo || die "tmpfs on /run/sudo"; }
ns_configure
ns_modules "$P" "$L"
# Roles accounts through pam_roles, the host's own through pam_unix (root runs sudo -l below).
for svc in roles su sudo; do
        cat >"/etc/pam.d/$svc" <<PAM
auth     [success=done default=ignore] $MOD
auth     required pam_unix.so try_first_pass
account  [success=done user_unknown=ignore default=die] $MOD
account  required pam_unix.so
session  required pam_permit.so
PAM
done
# Debian's default rule: members of the group named sudo may run anything.
ns_sudoers '%sudo   ALL=(ALL:ALL) ALL'
grep -q '^sudo:x:27:' /etc/group || die "this host has no local group sudo (gid 27)"
PW=correct-horse-battery

# ---- written on another host ------------------------------------------------------------------------
printf 'admin0:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n' >"$S/other-passwd"
printf 'wheel0:x:0:\nnogroup:x:65534:\n' >"$S/other-group"
mount --bind "$S/other-passwd" /etc/passwd && mount --bind "$S/other-group" /etc/group || die "bind the other host's files"
"$R" init >/dev/null || die "rolesctl init (other host)"
for u in root:20000 alice:20001 bob:20010 carol:20020 daemon:20030; do
        printf '%s\n' "$PW" | "$R" user add "${u%%:*}" --uid "${u##*:}" --password-stdin >/dev/null ||
                die "rolesctl user add ${u%%:*} (other host)"
done
"$R" batch >/dev/null <<'BATCH' || die "rolesctl batch (other host)"
group add sudo --gid 20500
group adduser sudo alice
group add ops --gid 20510
group adduser ops carol
group add crew --gid 20520
group adduser crew carol
group adduser crew daemon
metarole publish admin --gid 20530
role add admins --metarole admin
role assign admins carol
BATCH
umount /etc/passwd /etc/group || die "unbind the other host's files"

# ---- then this host changes: a local user at bob's uid, a local group named ops -----------------------
echo 'localbob:x:20010:20010::/nonexistent:/usr/sbin/nologin' >>/etc/passwd
echo 'ops:x:999:' >>/etc/group

# ---- NSS ------------------------------------------------------------------------------------------------
eq "getent group sudo is the host's" "$(getent group sudo | cut -d: -f1-3)" "sudo:x:27"
eq "enumeration has one sudo" "$(getent group | grep -c '^sudo:')" 1
getent group 20500 >/dev/null; eq "roles' sudo gid is not served" "$?" 2
eq "getent passwd root is the host's" "$(getent passwd root | cut -d: -f3)" 0
eq "enumeration has one root" "$(getent passwd | grep -c '^root:')" 1
getent passwd 20000 >/dev/null; eq "roles' root uid is not served" "$?" 2
eq "getent shadow has one root" "$(getent shadow | grep -c '^root:')" 1
getent passwd bob >/dev/null; eq "bob (uid of a later local user) is not served by name" "$?" 2
eq "uid 20010 is the local user's" "$(getent passwd 20010 | cut -d: -f1)" localbob
getent shadow bob >/dev/null; eq "bob has no shadow entry" "$?" 2
eq "getent group ops is the later local group" "$(getent group ops | cut -d: -f3)" 999
getent group 20510 >/dev/null; eq "roles' ops gid is not served" "$?" 2
eq "enumeration has one ops" "$(getent group | grep -c '^ops:')" 1
getent passwd daemon | grep -q ':20030:'; eq "roles' daemon is not served" "$?" 1
eq "crew lends nothing to the local daemon" "$(getent group crew)" "crew:x:20520:carol"
ids=$(id -G alice 2>&1)
[[ " $ids " != *" 27 "* && " $ids " != *" 20500 "* ]] && pass || fail "id -G alice holds a sudo group: $ids"
ids=$(id -G carol 2>&1)
[[ " $ids " != *" 20510 "* && " $ids " == *" 20520 "* && " $ids " == *" 20530 "* ]] && pass ||
        fail "id -G carol: want crew and admin, not roles' ops: $ids"
eq "admin (published metarole) is served" "$(getent group admin)" "admin:x:20530:carol"

# ---- sudo: Debian's %sudo does not reach a roles group named sudo -----------------------------------
out=$(sudo -n -l -U alice 2>&1)
grep -q 'not allowed' <<<"$out" && pass || fail "sudo -l -U alice: alice may run commands: $out"
out=$(printf '%s\n' "$PW" | timeout 60 runuser -u alice -- sudo -S -k -p '' id -u 2>&1)
[ "$out" != 0 ] && pass || fail "sudo as alice gave uid 0"

# ---- PAM: roles' root is never logged in ------------------------------------------------------------
printf '%s' "$PW" | timeout 60 pamtester roles root authenticate >/dev/null 2>&1; eq "pamtester roles root" "$?" 1
printf '%s' "$PW" | timeout 60 pamtester roles bob authenticate >/dev/null 2>&1; eq "pamtester roles bob" "$?" 1
out=$(printf '%s\n' "$PW" | timeout 60 runuser -u carol -- su -c 'id -u' root 2>&1)
[ "$out" != 0 ] && pass || fail "su root with roles root's password gave uid 0"
printf '%s' "$PW" | timeout 60 pamtester roles carol authenticate acct_mgmt >/dev/null 2>&1
eq "pamtester roles carol (no collision)" "$?" 0
out=$(printf '%s\n' "$PW" | timeout 60 runuser -u alice -- su -c 'id -un' carol 2>&1)
[[ $out == *carol ]] && pass || fail "su carol (no collision): $out"

# ---- doctor names every collision; import refuses them --------------------------------------------------
out=$("$R" doctor 2>&1)
for want in "user root" "user bob" "user daemon" "group sudo" "group ops"; do
        grep -q "$want.*host" <<<"$out" && pass || fail "doctor does not name '$want': $out"
done
grep -qE "user (alice|carol)|group crew|metarole admin" <<<"$out" && fail "doctor names an account without collision: $out" || pass
printf 'sudo:x:21000:\n' >"$S/import-group"
"$R" import --group "$S/import-group" >"$S/out" 2>&1; eq "import of a group named sudo" "$?" 4
printf 'x:x:21001:21001::/home/x:/bin/sh\n' >"$S/import-passwd"
printf 'y:x:27:\n' >>"$S/import-group"
"$R" import --group "$S/import-group" >"$S/out" 2>&1; [ $? -ne 0 ] && pass || fail "import of gid 27 accepted"

# ---- the host files are read again when they change (a long-lived process sees it) -----------------------
sed -i '/^ops:x:999:/d' /etc/group
eq "ops comes back once the local group is gone" "$(getent group ops | cut -d: -f3)" 20510

# ---- ids the host uses are never handed out, nor taken with --uid or --gid ---------------------------------
# The next uid and gid would be 20031: a local user takes that uid (and gid), a subordinate range
# the uids after it, another the next gids after the highest roles gid (20530, admin's).
echo 'localnext:x:20031:20031::/nonexistent:/usr/sbin/nologin' >>/etc/passwd
echo 'localg:x:20600:' >>/etc/group
printf 'someone:20032:10\n' >/etc/subuid
printf 'someone:20531:5\n' >/etc/subgid
"$R" user add newbie >"$S/out" 2>&1 || fail "user add newbie: $(cat "$S/out")"
eq "user add skips a local uid and a subordinate range" "$(getent passwd newbie | cut -d: -f3-4)" "20042:20042"
"$R" group add newg >"$S/out" 2>&1 || fail "group add newg: $(cat "$S/out")"
eq "group add skips a subordinate gid range" "$(getent group newg | cut -d: -f3)" 20536
"$R" metarole add m2 >/dev/null || die "metarole add m2"
sum=$(sha256sum /var/lib/roles/*.db)
# refused ID_WHAT WANT_IN_STDERR COMMAND...: exit 4, one line naming why.
refused() {
        local what=$1 want=$2
        shift 2
        "$@" >"$S/out" 2>&1
        eq "$what: exit" "$?" 4
        [ "$(wc -l <"$S/out")" = 1 ] && grep -qF -- "$want" "$S/out" && pass || fail "$what: $(cat "$S/out")"
}
refused "--uid of a local user" "uid 20031 belongs to a local account" "$R" user add clash --uid 20031
refused "--uid in a subordinate range" "uid 20035 is in the subordinate range 20032-20041 of /etc/subuid" \
        "$R" user add clash --uid 20035
refused "group add --gid of a local group" "gid 20600 belongs to a local group" "$R" group add clash --gid 20600
refused "group add --gid of a local user's primary gid" "gid 20031 is the primary gid of a local account" \
        "$R" group add clash --gid 20031
refused "metarole publish --gid in a subordinate range" "of /etc/subgid" "$R" metarole publish m2 --gid 20533
refused "user add --gid of a local group" "gid 20600 belongs to a local group" "$R" user add clash --gid 20600
refused "user mod --gid in a subordinate range" "of /etc/subgid" "$R" user mod carol --gid 20532
refused "batch: --uid of a local user" "batch line 2: uid 20031 belongs to a local account" \
        "$R" batch <<<$'group add fine\nuser add clash --uid 20031'
eq "the refusals changed nothing" "$(sha256sum /var/lib/roles/*.db)" "$sum"

# ---- doctor: the configured ranges against useradd's and the subordinate ranges ----------------------------
rm /etc/subuid /etc/subgid
out=$("$R" doctor 2>&1)
grep -q "configured" <<<"$out" && fail "doctor warns of ranges clear of login.defs' (ns_configure): $out" || pass
echo 'UID_MAX 60000' >>/etc/login.defs
out=$("$R" doctor 2>&1)
grep -qF "the configured uid range 10000-59999 overlaps login.defs' UID_MIN..UID_MAX (1000-60000)" <<<"$out" && pass ||
        fail "doctor does not warn of login.defs' uid range: $out"
grep -q "gid range" <<<"$out" && fail "doctor warns of the gid range (GID_MAX is 9999): $out" || pass
printf 'someone:59000:65536\n' >/etc/subgid
out=$("$R" doctor 2>&1)
grep -qF "the configured gid range 10000-59999 overlaps 1 subordinate range of /etc/subgid (the first 59000-124535)" <<<"$out" &&
        pass || fail "doctor does not warn of a subordinate gid range: $out"

# ---- names another name service holds: import asks NSS ------------------------------------------------
# Name by name, unless nsswitch.conf names no service that could answer but files (read directly)
# and roles serving inside rolesctl's own ranges. libnss-extrausers answers from /var/lib/extrausers.
[ -e /lib/x86_64-linux-gnu/libnss_extrausers.so.2 ] || [ -e /lib/libnss_extrausers.so.2 ] ||
        die "libnss_extrausers.so.2 is missing (apt-get install libnss-extrausers)"
cp /etc/nsswitch.conf "$S/nsswitch.conf"
mkdir -p /var/lib/extrausers
printf 'xuser:x:700:700::/nonexistent:/usr/sbin/nologin\n' >/var/lib/extrausers/passwd
printf 'xgroup:x:701:\n' >/var/lib/extrausers/group
sed -i -E 's/^(passwd|group):.*/\1: files extrausers roles/' /etc/nsswitch.conf
eq "extrausers serves xuser" "$(getent passwd xuser | cut -d: -f3)" 700
printf 'xuser:x:21100:20500::/home/xuser:/bin/sh\n' >"$S/x-passwd"
printf 'xgroup:x:21101:\n' >"$S/x-group"
sum=$(sha256sum /var/lib/roles/*.db)
refused "import of a user name extrausers holds" "'xuser' is a local account on this host (uid 700)" \
        "$R" import --passwd "$S/x-passwd"
refused "import of a group name extrausers holds" "'xgroup' is a local group on this host (gid 701)" \
        "$R" import --group "$S/x-group"
cp "$S/nsswitch.conf" /etc/nsswitch.conf
# roles itself, serving ranges wider than a rolesctl configured with narrower ones: asked too.
mkdir -p "$S/narrow"
cat >"$S/narrow.conf" <<CONF
public_db = $S/narrow/roles.db
secrets_db = $S/narrow/secrets.db
state_db = $S/narrow/state.db
uid_min = 30000
uid_max = 39999
gid_min = 30000
gid_max = 39999
CONF
"$R" --conf "$S/narrow.conf" init >/dev/null || die "rolesctl init (narrow ranges)"
printf 'alice:x:30001:30001::/home/alice:/bin/sh\n' >"$S/n-passwd"
printf 'nalice:x:30001:\n' >"$S/n-group"
refused "import of a name roles serves outside the importer's ranges" "'alice' is a local account on this host (uid 20001)" \
        "$R" --conf "$S/narrow.conf" import --passwd "$S/n-passwd" --group "$S/n-group"
eq "the refusals changed nothing" "$(sha256sum /var/lib/roles/*.db)" "$sum"

# ---- user del: not while a process runs as the account (as userdel) ------------------------------------
# Deleted anyway, the process would keep a uid that no account has, and read what it owned.
need setpriv || finish
"$R" user add busy >/dev/null || die "rolesctl user add busy"
busy_uid=$(getent passwd busy | cut -d: -f3)
[ -n "$busy_uid" ] || die "busy has no uid through NSS"
setpriv --reuid="$busy_uid" --regid="$busy_uid" --clear-groups sleep 60 &
busy_pid=$!
for _ in $(seq 50); do
        grep -q "^Uid:[[:space:]]*$busy_uid[[:space:]]" "/proc/$busy_pid/status" 2>/dev/null &&
                grep -q "^Name:[[:space:]]*sleep$" "/proc/$busy_pid/status" && break
        sleep 0.1
done
sum=$(sha256sum /var/lib/roles/*.db)
refused "user del with a process running as the user" \
        "user 'busy' is in use by process $busy_pid (sleep); stop it first or use --force" "$R" user del busy
eq "the refusal changed nothing" "$(sha256sum /var/lib/roles/*.db)" "$sum"
"$R" user del busy --force >"$S/out" 2>&1 && pass || fail "user del --force with a process running: $(cat "$S/out")"
getent passwd busy >/dev/null && fail "busy is still served after user del --force" || pass
kill "$busy_pid" && wait "$busy_pid" 2>/dev/null
"$R" user add idle >/dev/null || die "rolesctl user add idle"
"$R" user del idle >"$S/out" 2>&1 && pass || fail "user del with no process running as the user: $(cat "$S/out")"

finish
