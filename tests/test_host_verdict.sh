#!/bin/bash
# SPDX-License-Identifier: MIT
# The host verdict (common/nss_index.h): a writer that finds no roles entry the host's files hold
# says so at the end of the delta it installs, with the stamps of /etc/passwd and /etc/group as it
# read them; the module then reads neither file, and the host's accounts still win the moment
# either file changes. Through real glibc (getent, a long-lived python process), with roles asked
# before files (so that whatever opens the host's files during a lookup that roles answers is the
# module):
#  - a clear verdict: the first lookup of a roles user and group opens neither file (strace);
#  - after the verdict, the host gains a colliding account by every kind of change: an edit in
#    place that keeps the file's size (only its times move), an append, a replacement by rename;
#    each time the colliding roles entry is not served, in a new process at once and in a
#    process that had looked before within two seconds;
#  - a writer that reads a file changed less than a second before writes no verdict; one that
#    finds a roles entry the host holds writes one that does not clear, and the module reads the
#    files;
#  - doctor names a verdict that clears an entry the files hold (one edited by index_edit).
#
#   test_host_verdict.sh ROLESCTL NSS_LIB_DIR INDEX_EDIT
set -u
. "$(dirname "$0")/ns-lib.sh"

[ $# -eq 3 ] || { echo "usage: test_host_verdict.sh ROLESCTL NSS_LIB_DIR INDEX_EDIT" >&2; exit 1; }
ns_enter host-verdict "$@"
R=$(realpath "$1")
L=$(realpath "$2")
INDEX_EDIT=$(realpath "$3")
need getent strace python3 || finish
ns_overlay etc var/lib
ns_configure
ns_system_modules "$L"
sed -i -E 's/^(passwd|group):.*/\1: roles files/' /etc/nsswitch.conf
DELTA=/var/lib/roles/roles.nss-delta

# verdict: the delta's host verdict as "FLAGS" (3: both halves clear), or "none".
verdict() {
        python3 - "$DELTA" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
t = data[-128:]
print(struct.unpack_from("=I", t, 16)[0] if len(data) >= 288 + 128 and t[:8] == b"ROLESHST" else "none")
PY
}

# host_files_opened CMD...: which of /etc/passwd and /etc/group CMD opened ("" for neither).
host_files_opened() {
        strace -f -qq -e trace=open,openat -o "$S/trace" "$@" >/dev/null 2>&1
        grep -oE '"/etc/(passwd|group)"' "$S/trace" | tr -d '"' | sort -u | tr '\n' ' '
}

# settle: wait until every file the writer may judge was last changed over a second ago.
settle() {
        sleep 1.2
}

# new_verdict USER UID: once the host's files settled, a change (USER added) brings a clear verdict.
new_verdict() {
        settle
        "$R" user add "$1" --uid "$2" >/dev/null || die "user add $1"
        eq "a clear verdict once $1 is added" "$(verdict)" 3
}

# host_wins DATABASE NAME HOST_ID ROLES_ID: NAME is the host's, and roles' id is not served.
host_wins() {
        eq "$2 is the host's" "$(getent "$1" "$2" | cut -d: -f3)" "$3"
        getent "$1" "$4" >/dev/null
        eq "roles' $4 is not served" "$?" 2
}

"$R" init >/dev/null || die "rolesctl init"
"$R" batch >/dev/null <<'BATCH' || die "rolesctl batch"
user add alice --uid 20001
user add bob --uid 20002
group add ops --gid 20100
group adduser ops alice
BATCH

# ---- a clear verdict: the host's files are not read ---------------------------------------------------
new_verdict carol 20003
eq "getent passwd alice is roles'" "$(getent passwd alice | cut -d: -f3)" 20001
eq "getent passwd alice opens no host file" "$(host_files_opened getent passwd alice)" ""
eq "getent group ops opens no host file" "$(host_files_opened getent group ops)" ""
eq "id alice has ops" "$(id -Gn alice | tr ' ' '\n' | grep -c '^ops$')" 1

# watch_start DATABASE NAME: a process that looks NAME up every 0.2 s for 4 s, printing its id;
# back once it printed the first.
watch_start() {
        : >"$S/watch"
        python3 - "$1" "$2" <<'PY' >"$S/watch" &
import grp, pwd, sys, time
db, name = sys.argv[1], sys.argv[2]
for _ in range(20):
    try:
        print(pwd.getpwnam(name).pw_uid if db == "passwd" else grp.getgrnam(name).gr_gid, flush=True)
    except KeyError:
        print("none", flush=True)
    time.sleep(0.2)
PY
        WATCH=$!
        # Its first answer is in before the change is made.
        for _ in $(seq 50); do
                [ -s "$S/watch" ] && return
                sleep 0.1
        done
        die "the watcher gave no answer in 5 s"
}

# watch_saw FIRST LAST: the watcher's first answer (before the change) and its last, once it ended.
watch_saw() {
        wait "$WATCH"
        eq "a process that looked before: first" "$(head -n 1 "$S/watch")" "$1"
        eq "a process that looked before sees the change" "$(tail -n 1 "$S/watch")" "$2"
}

# ---- an edit in place that keeps the size: only the times move ----------------------------------------
# A local account line of the same length as the one it replaces, written over it.
echo 'zzzzz:x:31001:31001::/:/bin/false' >>/etc/passwd
new_verdict dave 20004
size=$(stat -c %s /etc/passwd)
ino=$(stat -c %i /etc/passwd)
watch_start passwd alice
python3 - <<'PY' || die "edit /etc/passwd in place"
import os
fd = os.open("/etc/passwd", os.O_RDWR)
data = os.read(fd, 1 << 20)
at = data.index(b"zzzzz:x:31001:31001::/:/bin/false")
os.pwrite(fd, b"alice:x:31001:31001::/:/bin/false", at)
os.close(fd)
PY
eq "the edit kept the size" "$(stat -c %s /etc/passwd)" "$size"
eq "the edit kept the inode" "$(stat -c %i /etc/passwd)" "$ino"
host_wins passwd alice 31001 20001
watch_saw 20001 31001

# ---- an append, after a new verdict ---------------------------------------------------------------------
sed -i '/^alice:x:31001:/d' /etc/passwd
new_verdict erin 20005
eq "alice is roles' again" "$(getent passwd alice | cut -d: -f3)" 20001
watch_start passwd bob
echo 'bob:x:31002:31002::/:/bin/false' >>/etc/passwd
host_wins passwd bob 31002 20002
watch_saw 20002 31002

# ---- a replacement by rename (as useradd, vipw, groupadd do) -----------------------------------------
sed -i '/^bob:x:31002:/d' /etc/passwd
new_verdict frank 20006
watch_start group ops
cp /etc/group "$S/group.new" && echo 'ops:x:31100:' >>"$S/group.new" && mv "$S/group.new" /etc/group.new &&
        mv /etc/group.new /etc/group || die "replace /etc/group"
host_wins group ops 31100 20100
eq "alice is not lent the host's ops" "$(id -Gn alice | tr ' ' '\n' | grep -c '^ops$')" 0
watch_saw 20100 31100

# ---- no verdict from files changed less than a second before -------------------------------------------
sed -i '/^ops:x:31100:/d' /etc/group
"$R" user add grace --uid 20007 >/dev/null || die "user add grace"
eq "a file changed just before: no verdict" "$(verdict)" none
eq "the module then reads the host's files" "$(host_files_opened getent passwd alice)" "/etc/group /etc/passwd "
eq "and serves alice" "$(getent passwd alice | cut -d: -f3)" 20001

# ---- a roles entry the host holds: a verdict that does not clear ------------------------------------------
# roles.db written where the host's root is called admin0 and its group wheel0 (as if on another host): its root is uid
# 20008.
sed 's/^root:/admin0:/' /etc/passwd >"$S/other-passwd"
sed 's/^root:/wheel0:/' /etc/group >"$S/other-group"
mount --bind "$S/other-passwd" /etc/passwd && mount --bind "$S/other-group" /etc/group ||
        die "bind the other host's files"
"$R" user add root --uid 20008 >/dev/null || die "user add root (on the other host)"
umount /etc/passwd /etc/group || die "unbind the other host's files"
settle
"$R" user add heidi --uid 20009 >/dev/null || die "user add heidi"
v=$(verdict)
[ "$v" != 3 ] && [ "$v" != none ] && pass || fail "a roles root: want a verdict that does not clear, got $v"
eq "the module reads the host's files" "$(host_files_opened getent passwd heidi)" "/etc/group /etc/passwd "
host_wins passwd root 0 20008

# ---- doctor names a verdict that lies ------------------------------------------------------------------------
"$INDEX_EDIT" host-flags 3 "$DELTA" "$S/delta.lie" && cp "$S/delta.lie" "$DELTA.tmp" && mv "$DELTA.tmp" "$DELTA" ||
        die "index_edit host-flags"
eq "the edited verdict clears" "$(verdict)" 3
out=$("$R" doctor 2>&1)
grep -q "it says no entry of it is the host's, and one is" <<<"$out" && pass || fail "doctor does not name the lie: $out"
eq "doctor's rebuild: the verdict no longer clears" "$(verdict)" 2
eq "root is the host's after doctor" "$(getent passwd root | cut -d: -f3)" 0
finish
