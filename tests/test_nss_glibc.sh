#!/bin/bash
# SPDX-License-Identifier: MIT
# libnss_roles.so.2 through the real glibc, as ordinary programs use it: getent, id, ls, a
# long-running python process, as root and as nobody. Runs in a private mount namespace where
# /etc and /var/lib are overlays on a tmpfs, so the host's files are never touched; needs root
# (CI runs as root). Every check is counted; the last line says "N passed, M failed". With
# ROLES_TEST_VALGRIND=1 (`meson test --setup valgrind`), getent, id, ls and stat run under valgrind
# memcheck, and each of their runs is one more check (tests/ns-lib.sh: ns_valgrind_verdict).
#
#   test_nss_glibc.sh ROLESCTL NSS_LIB_DIR INDEX_EDIT
set -u
. "$(dirname "$0")/ns-lib.sh"

[ $# -eq 3 ] || { echo "usage: test_nss_glibc.sh ROLESCTL NSS_LIB_DIR INDEX_EDIT" >&2; exit 1; }
ns_enter nss-glibc "$@"
R=$(realpath "$1")
L=$(realpath "$2")
INDEX_EDIT=$(realpath "$3")
ns_overlay etc var/lib
ns_configure

# The module under test, copied where the user nobody can read it whatever the build directory's modes.
mkdir -m 0755 "$S/lib"
cp "$L/libnss_roles.so.2" "$S/lib/" || die "copy the module"
chmod 0644 "$S/lib/libnss_roles.so.2"
cmp -s "$L/libnss_roles.so.2" "$S/lib/libnss_roles.so.2" || die "the module's copy differs"
# and its shadow plugin, where the module looks for it (next to itself, in roles/)
mkdir -m 0755 "$S/lib/roles" && cp "$L/roles/roles-nss-shadow.so" "$S/lib/roles/" && chmod 0644 "$S/lib/roles/roles-nss-shadow.so" ||
        die "copy the shadow plugin"
L=$S/lib

# Only the programs under test get the module (ns_enter dropped meson's LD_LIBRARY_PATH: a
# sanitizer-built module must not be loaded by mount, chown, runuser and the rest, which resolve
# names too). An ASan-built module needs its runtime preloaded (leak checking off: the leaks
# would be getent's and glibc's; the module's own are the nss-module test's business).
nssenv=(env "LD_LIBRARY_PATH=$L")
preload=$(ns_sanitizer_preload "$L/libnss_roles.so.2")
if [ -n "$preload" ]; then
        echo "# the module is ASan-built: preloading $preload"
        nssenv+=("LD_PRELOAD=$preload" "${ns_sanitizer_options[@]}")
fi
ns_valgrind_setup "$L/libnss_roles.so.2"

# ---- the data, made with rolesctl ------------------------------------------------------------------
"$R" init >/dev/null || die "rolesctl init"
[ "$(stat -c %a /var/lib/roles)" = 755 ] || chmod 755 /var/lib/roles
"$R" batch >/dev/null <<'BATCH' || die "rolesctl batch"
metarole add crew --name "Crew"
metarole add senior --name "Senior crew" --includes crew
metarole publish crew --gid 20500
group add devs --gid 20100 --description "Developers"
role add lead --metarole senior
user add alice --uid 10100 --full-name "Alice Archer"
user add bob --uid 10101 --full-name "Bob Baker"
user add carol --uid 10102 --expires 2030-01-01
user add dave --uid 10103 --full-name "Dave D"
user add erin --uid 10104
user add frank --uid 10105 --expires 2020-01-01
group adduser devs alice
group adduser devs bob
group adduser devs dave
role assign lead alice
role assign lead carol
role assign lead dave
role assign lead erin --until 2021-06-30T12:00:00Z
role assign lead frank
user disable dave
BATCH
# More users than one of the module's enumeration pages (128), to enumerate across pages.
{
        for i in $(seq 0 199); do
                printf 'user add bulk%03d --uid %d\n' "$i" $((11000 + 2 * i))
        done
} | "$R" batch >/dev/null || die "rolesctl batch (bulk users)"
echo 'correct horse battery staple' | "$R" user passwd alice --stdin >/dev/null || die "rolesctl user passwd"

today=$(($(date -u +%s) / 86400))
carol_expire=$(($(date -u -d 2030-01-01 +%s) / 86400))
frank_expire=$(($(date -u -d 2020-01-01 +%s) / 86400))

# ---- running programs ---------------------------------------------------------------------------------
# q CMD...: run with the module (under memcheck when it is on); sets OUT, ERR, RC.
q() { run_as "" "$@"; }
# qn CMD...: the same as nobody.
qn() { run_as nobody "$@"; }
run_as() {
        local as=() vg=("${ns_valgrind[@]}")
        [ -n "$1" ] && as=(runuser -u "$1" --)
        shift
        # python3 is never clean under memcheck (its own allocator): the long-running process
        # check runs natively.
        [ "$1" = python3 ] && vg=()
        "${as[@]}" "${nssenv[@]}" "${vg[@]}" "$@" >"$S/out" 2>"$S/err"
        RC=$?
        OUT=$(cat "$S/out")
        ERR=$(cat "$S/err")
        [ ${#vg[@]} -eq 0 ] || ns_valgrind_verdict "$*"
}
# expect WHAT WANT_RC WANT_OUT: the last q's exit status and whole stdout, and an empty stderr.
expect() {
        local what=$1 want_rc=$2 want_out=$3
        if [ "$RC" -ne "$want_rc" ]; then
                fail "$what: exit status $RC, want $want_rc (stdout: ${OUT:0:200}; stderr: ${ERR:0:300})"
        elif [ "$OUT" != "$want_out" ]; then
                fail "$what: got <<$OUT>>, want <<$want_out>>"
        else
                pass
        fi
        quiet "$what"
}
# The module prints nothing: stderr is empty.
quiet() {
        if [ -n "$ERR" ]; then
                fail "$1: stderr: ${ERR:0:400}"
        else
                pass
        fi
}

pw_alice='alice:x:10100:10100:Alice Archer:/home/alice:/bin/bash'
pw_bob='bob:x:10101:10101:Bob Baker:/home/bob:/bin/bash'
pw_carol='carol:x:10102:10102::/home/carol:/bin/bash'
pw_dave='dave:x:10103:10103:Dave D:/home/dave:/bin/bash'
pw_erin='erin:x:10104:10104::/home/erin:/bin/bash'
pw_frank='frank:x:10105:10105::/home/frank:/bin/bash'
roles_passwd=$(printf '%s\n' "$pw_alice" "$pw_bob" "$pw_carol" "$pw_dave" "$pw_erin" "$pw_frank"
        for i in $(seq 0 199); do
                printf 'bulk%03d:x:%d:%d::/home/bulk%03d:/bin/bash\n' "$i" $((11000 + 2 * i)) $((11000 + 2 * i)) "$i"
        done)
roles_group=$(for u in alice:10100 bob:10101 carol:10102 dave:10103 erin:10104 frank:10105; do
                echo "${u%%:*}:x:${u#*:}:"
        done
        for i in $(seq 0 199); do
                printf 'bulk%03d:x:%d:\n' "$i" $((11000 + 2 * i))
        done
        echo 'devs:x:20100:alice,bob,dave'
        echo 'crew:x:20500:alice,carol')

# ---- passwd -------------------------------------------------------------------------------------------
q getent passwd alice; expect "getent passwd alice" 0 "$pw_alice"
q getent passwd 10100; expect "getent passwd 10100" 0 "$pw_alice"
q getent passwd carol 10103; expect "getent passwd carol 10103" 0 "$pw_carol
$pw_dave"
q getent passwd bulk123; expect "getent passwd bulk123" 0 "bulk123:x:11246:11246::/home/bulk123:/bin/bash"
q getent passwd nosuch; expect "getent passwd nosuch" 2 ""
q getent passwd 10999; expect "getent passwd 10999" 2 ""
q getent passwd root; expect "getent passwd root (files)" 0 "$(grep '^root:' /etc/passwd)"

# ---- group ----------------------------------------------------------------------------------------------
q getent group devs; expect "getent group devs" 0 "devs:x:20100:alice,bob,dave"
q getent group 20100; expect "getent group 20100" 0 "devs:x:20100:alice,bob,dave"
q getent group alice; expect "getent group alice (personal)" 0 "alice:x:10100:"
# The published metarole: alice and carol hold it through lead (senior includes crew); dave is
# disabled, erin's grant ended, frank's account expired.
q getent group crew; expect "getent group crew (derived members)" 0 "crew:x:20500:alice,carol"
q getent group 20500; expect "getent group 20500" 0 "crew:x:20500:alice,carol"
q getent group senior; expect "getent group senior (not published)" 2 ""
q getent group nosuch; expect "getent group nosuch" 2 ""

# ---- shadow ---------------------------------------------------------------------------------------------
q getent shadow alice; expect "getent shadow alice" 0 "alice:*:$today::::::"
q getent shadow bob; expect "getent shadow bob (no password yet)" 0 "bob:*:::::::"
q getent shadow dave; expect "getent shadow dave (disabled)" 0 "dave:!:::::::"
q getent shadow carol; expect "getent shadow carol (--expires)" 0 "carol:*::::::$carol_expire:"
q getent shadow frank; expect "getent shadow frank (expired)" 0 "frank:*::::::$frank_expire:"
q getent shadow nosuch; expect "getent shadow nosuch" 2 ""
# The enumeration (below, with passwd and group) lists the same lines: never a hash (alice has
# one), `*` or `!` in its place, lstchg and expire in days, the aging fields empty.
roles_shadow=$(printf '%s\n' "alice:*:$today::::::" "bob:*:::::::" "carol:*::::::$carol_expire:" \
                "dave:!:::::::" "erin:*:::::::" "frank:*::::::$frank_expire:"
        for i in $(seq 0 199); do
                printf 'bulk%03d:*:::::::\n' "$i"
        done)

# ---- initgroups and id -------------------------------------------------------------------------------------
sorted_initgroups() {
        q getent initgroups "$1"
        OUT=$(tr -s ' ' '\n' <<<"$OUT" | tail -n +2 | sort -n | tr '\n' ' ')
}
sorted_initgroups alice; expect "getent initgroups alice" 0 "20100 20500 "
sorted_initgroups carol; expect "getent initgroups carol" 0 "20500 "
sorted_initgroups dave; expect "getent initgroups dave (disabled: no crew)" 0 "20100 "
sorted_initgroups erin; expect "getent initgroups erin (grant ended)" 0 ""
sorted_initgroups frank; expect "getent initgroups frank (expired)" 0 ""
q id alice; expect "id alice" 0 "uid=10100(alice) gid=10100(alice) groups=10100(alice),20100(devs),20500(crew)"
q id -Gn carol; expect "id -Gn carol" 0 "carol crew"
q id -Gn dave; expect "id -Gn dave" 0 "dave devs"
q id erin; expect "id erin" 0 "uid=10104(erin) gid=10104(erin) groups=10104(erin)"

# ---- ls -l on a file owned by roles ids (on a tmpfs of ours, not the host's) ------------------------------------
mkdir -p "$S/files"
touch "$S/files/f"
chown 10100:20500 "$S/files/f"
q ls -ln "$S/files/f"; quiet "ls -ln"
q ls -l "$S/files/f"
if [ $RC -eq 0 ] && [ "$(awk '{ print $3 ":" $4 }' <<<"$OUT")" = "alice:crew" ]; then pass; else fail "ls -l shows <<$OUT>>"; fi
quiet "ls -l"
q stat -c '%U:%G' "$S/files/f"; expect "stat %U:%G" 0 "alice:crew"

# ---- enumeration ----------------------------------------------------------------------------------------------
files_passwd_n=$(grep -cvE '^(#|$)' /etc/passwd)
files_group_n=$(grep -cvE '^(#|$)' /etc/group)
check_enum() {         # check_enum DB FILES_N EXPECTED
        local db=$1 files_n=$2 want=$3 n_want
        n_want=$(wc -l <<<"$want")
        q getent "$db"
        quiet "getent $db"
        [ $RC -eq 0 ] && pass || fail "getent $db: exit status $RC"
        # files first, then roles: the tail is exactly the roles entries, in id order
        if [ "$(tail -n "$n_want" <<<"$OUT")" = "$want" ]; then pass; else
                fail "getent $db: the roles entries are not exactly the expected $n_want ($(tail -n "$n_want" <<<"$OUT" | diff <(echo "$want") - | head -5 | tr '\n' ' '))"
        fi
        local n_all
        n_all=$(wc -l <<<"$OUT")
        [ "$n_all" -eq $((files_n + n_want)) ] && pass || fail "getent $db: $n_all lines, want $files_n from files + $n_want"
        # each roles name exactly once
        local dup
        dup=$(cut -d: -f1 <<<"$OUT" | sort | uniq -d | head -5 | tr '\n' ' ')
        [ -z "$dup" ] && pass || fail "getent $db: names listed twice: $dup"
}
files_shadow_n=$(grep -cvE '^(#|$)' /etc/shadow)
check_enum passwd "$files_passwd_n" "$roles_passwd"
check_enum group "$files_group_n" "$roles_group"
check_enum shadow "$files_shadow_n" "$roles_shadow"

# ---- as an ordinary user ------------------------------------------------------------------------------------------
qn getent passwd alice; expect "nobody: getent passwd alice" 0 "$pw_alice"
qn getent passwd 10101; expect "nobody: getent passwd 10101" 0 "$pw_bob"
qn getent group crew; expect "nobody: getent group crew" 0 "crew:x:20500:alice,carol"
qn id alice; expect "nobody: id alice" 0 "uid=10100(alice) gid=10100(alice) groups=10100(alice),20100(devs),20500(crew)"
qn getent shadow alice
[ $RC -ne 0 ] && pass || fail "nobody: getent shadow alice succeeded"
[ -z "$OUT" ] && pass || fail "nobody: getent shadow alice printed <<$OUT>>"
quiet "nobody: getent shadow alice"
qn getent shadow
[ -z "$(grep -E '^(alice|bob|bulk000):' <<<"$OUT")" ] && pass || fail "nobody: getent shadow lists roles users"
quiet "nobody: getent shadow"
qn getent passwd
[ "$(tail -n 206 <<<"$OUT")" = "$roles_passwd" ] && pass || fail "nobody: getent passwd does not end with the roles entries"
quiet "nobody: getent passwd"

# ---- a long-running process sees a snapshot replaced by rename -----------------------------------------------------
cat >"$S/longrun.py" <<'PY'
import pwd, grp, subprocess, sys, time
rolesctl = sys.argv[1]
def has(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
ok = has("alice") and not has("newbie")
subprocess.run([rolesctl, "user", "add", "newbie", "--uid", "10500"], check=True, stdout=subprocess.DEVNULL)
time.sleep(1.2)
ok = ok and has("newbie") and pwd.getpwuid(10500).pw_name == "newbie" and grp.getgrgid(10500).gr_name == "newbie"
subprocess.run([rolesctl, "user", "del", "newbie"], check=True, stdout=subprocess.DEVNULL)
time.sleep(1.2)
ok = ok and not has("newbie") and has("alice")
print("ok" if ok else "wrong")
PY
if need python3; then
        q python3 "$S/longrun.py" "$R"; expect "a running process sees rolesctl's new snapshot" 0 "ok"
fi

# ---- roles.nss missing: files still answers, roles fails cleanly (shadow, which reads the ---------------------------
# ---- databases through its plugin, goes on until roles.db goes too) ----------------------------------------------------
mv /var/lib/roles/roles.nss /var/lib/roles/roles.nss.away
q getent passwd root; expect "no roles.nss: getent passwd root" 0 "$(grep '^root:' /etc/passwd)"
q getent passwd alice; expect "no roles.nss: getent passwd alice" 2 ""
q getent passwd 10100; expect "no roles.nss: getent passwd 10100" 2 ""
q getent group crew; expect "no roles.nss: getent group crew" 2 ""
q getent group root; expect "no roles.nss: getent group root" 0 "$(grep '^root:' /etc/group)"
q getent shadow alice; expect "no roles.nss: getent shadow alice (from roles.db)" 0 "alice:*:$today::::::"
mv /var/lib/roles/roles.db /var/lib/roles/roles.db.away
q getent shadow alice; expect "no roles.nss nor roles.db: getent shadow alice" 2 ""
mv /var/lib/roles/roles.db.away /var/lib/roles/roles.db
q getent initgroups alice; quiet "no roles.nss: getent initgroups alice"
[ $RC -lt 128 ] && pass || fail "no roles.nss: getent initgroups alice died ($RC)"
q getent passwd
[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq "$files_passwd_n" ] && pass || fail "no roles.nss: getent passwd gave $RC and $(wc -l <<<"$OUT") lines"
quiet "no roles.nss: getent passwd"
q getent group
[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq "$files_group_n" ] && pass || fail "no roles.nss: getent group gave $RC"
quiet "no roles.nss: getent group"
q id alice
[ $RC -eq 1 ] && pass || fail "no roles.nss: id alice exit status $RC"
qn getent passwd alice; expect "no roles.nss: nobody: getent passwd alice" 2 ""
mv /var/lib/roles/roles.nss.away /var/lib/roles/roles.nss
q getent passwd alice; expect "roles.nss back: getent passwd alice" 0 "$pw_alice"

# ---- a base an older writer compiled (no member extension): served, extended by deltas --------------------------------
has_extension() { [ "$(tail -c 48 "$1" | head -c 8)" = ROLESEXT ]; }
strip_extension() {
        "$INDEX_EDIT" strip /var/lib/roles/roles.nss /var/lib/roles/roles.nss.old && chmod 0644 /var/lib/roles/roles.nss.old &&
                mv /var/lib/roles/roles.nss.old /var/lib/roles/roles.nss || die "strip roles.nss's extension"
}
has_extension /var/lib/roles/roles.nss && pass || fail "a new base has no member extension"
strip_extension
! has_extension /var/lib/roles/roles.nss && pass || fail "old base: roles.nss still has the extension"
q getent group devs; expect "old base: getent group devs" 0 "devs:x:20100:alice,bob,dave"
q getent group crew; expect "old base: getent group crew" 0 "crew:x:20500:alice,carol"
q getent passwd alice; expect "old base: getent passwd alice" 0 "$pw_alice"
check_enum group "$files_group_n" "$roles_group"
# A change writes a delta onto it (deltas carry no extension: either writer's applies to either base).
base_before=$(stat -c %i /var/lib/roles/roles.nss)
"$R" group adduser devs erin >/dev/null || die "rolesctl group adduser devs erin"
[ "$(stat -c %i /var/lib/roles/roles.nss)" = "$base_before" ] && [ "$(stat -c %s /var/lib/roles/roles.nss-delta)" -gt 288 ] &&
        ! has_extension /var/lib/roles/roles.nss-delta && pass || fail "old base: a change did not write a delta onto it"
q getent group devs; expect "old base and a delta: getent group devs" 0 "devs:x:20100:alice,bob,dave,erin"
"$R" group deluser devs erin >/dev/null || die "rolesctl group deluser devs erin"
[ "$(stat -c %i /var/lib/roles/roles.nss)" = "$base_before" ] && pass || fail "old base: the next change compiled a base"
q getent group devs; expect "old base and its delta: getent group devs" 0 "devs:x:20100:alice,bob,dave"
check_enum group "$files_group_n" "$roles_group"
# Doctor says so, and compiles it anew, with the extension.
OUT=$("$R" doctor 2>&1)
grep -q 'roles.nss: without its member lists (an older writer.s): compiled anew' <<<"$OUT" && pass ||
        fail "old base: doctor said: $OUT"
has_extension /var/lib/roles/roles.nss && pass || fail "old base: doctor left roles.nss without the extension"
q getent group devs; expect "old base, doctor: getent group devs" 0 "devs:x:20100:alice,bob,dave"
check_enum group "$files_group_n" "$roles_group"
# A member entry that is not its user (its uid another's; the checksums right, as a broken or
# hostile writer would leave it): served as it is, since a reader judges the entry alone, so
# doctor says so, and compiles it anew.
"$INDEX_EDIT" member-uid 20999 /var/lib/roles/roles.nss /var/lib/roles/roles.nss.edit &&
        chmod 0644 /var/lib/roles/roles.nss.edit && mv -f /var/lib/roles/roles.nss.edit /var/lib/roles/roles.nss ||
        die "index_edit member-uid"
OUT=$("$R" doctor 2>&1)
grep -q 'roles.nss: damaged: a member entry is not its user: compiled anew' <<<"$OUT" && pass ||
        fail "a member entry not its user: doctor said: $OUT"
q getent group devs; expect "a member entry not its user, doctor: getent group devs" 0 "devs:x:20100:alice,bob,dave"

# ---- rows written straight into roles.db (no rolesctl), then compiled, are never served ------------------------------
sqlite3 /var/lib/roles/roles.db <<'SQL' || die "sqlite3 tamper"
INSERT INTO users (uuid, name, uid, gid, gecos, home, shell, enabled, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-000000000001', 'evil0', 0, 10100, '', '/root', '/bin/bash', 1, 0, 0),
  ('00000000-0000-4000-8000-000000000002', 'evilg', 10200, 0, '', '/root', '/bin/bash', 1, 0, 0),
  ('00000000-0000-4000-8000-000000000003', 'bad:name', 10201, 10100, '', '/home/x', '/bin/sh', 1, 0, 0),
  ('00000000-0000-4000-8000-000000000004', 'evilnl', 10203, 10100, 'a' || char(10) || 'root::0:0::/:/bin/sh', '/home/x', '/bin/sh', 1, 0, 0);
INSERT INTO groups (uuid, name, gid, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-000000000011', 'rootgrp', 0, 0, 0),
  ('00000000-0000-4000-8000-000000000012', 'bad:grp', 10120, 0, 0);
INSERT INTO group_members (group_id, user_id)
  SELECT g.id, u.id FROM groups g, users u WHERE g.name = 'devs' AND u.name IN ('bad:name', 'evil0');
UPDATE metaroles SET gid = 0 WHERE code = 'user';
SQL
"$R" index rebuild || die "rolesctl index rebuild"
root_pw=$(grep '^root:' /etc/passwd)
root_gr=$(grep '^root:' /etc/group)
q getent passwd 0; expect "tampered: getent passwd 0 is files' root" 0 "$root_pw"
q getent passwd evil0; expect "tampered: getent passwd evil0 (uid 0)" 2 ""
q getent passwd evilg; expect "tampered: getent passwd evilg (gid 0)" 2 ""
q getent passwd 10200; expect "tampered: getent passwd 10200 (gid 0)" 2 ""
q getent passwd 'bad:name'; expect "tampered: getent passwd bad:name" 2 ""
q getent passwd 10201; expect "tampered: getent passwd 10201 (bad:name)" 2 ""
q getent passwd evilnl; expect "tampered: getent passwd evilnl (newline in gecos)" 2 ""
q getent shadow evil0; expect "tampered: getent shadow evil0" 2 ""
q id evil0
[ $RC -ne 0 ] && pass || fail "tampered: id evil0 succeeded: $OUT"
q getent group 0; expect "tampered: getent group 0 is files' root" 0 "$root_gr"
q getent group rootgrp; expect "tampered: getent group rootgrp (gid 0)" 2 ""
q getent group user; expect "tampered: getent group user (metarole gid 0)" 2 ""
q getent group 'bad:grp'; expect "tampered: getent group bad:grp" 2 ""
q getent group 10120; expect "tampered: getent group 10120 (bad:grp)" 2 ""
q getent group devs; expect "tampered: getent group devs (no bad members)" 0 "devs:x:20100:alice,bob,dave"
# Enumeration: exactly the same entries as before, in spite of the bad rows among them.
check_enum passwd "$files_passwd_n" "$roles_passwd"
check_enum group "$files_group_n" "$roles_group"
q getent passwd
n=$(awk -F: '$3 == 0' <<<"$OUT" | wc -l)
[ "$n" -eq 1 ] && pass || fail "tampered: getent passwd lists $n entries with uid 0"
grep -qE '^(evil|bad)' <<<"$OUT" && fail "tampered: getent passwd lists a tampered row" || pass
q getent group
n=$(awk -F: '$3 == 0' <<<"$OUT" | wc -l)
[ "$n" -eq 1 ] && pass || fail "tampered: getent group lists $n entries with gid 0"
grep -qE '^(rootgrp|bad|user):' <<<"$OUT" && fail "tampered: getent group lists a tampered row" || pass
qn getent passwd evil0; expect "tampered: nobody: getent passwd evil0" 2 ""

finish
