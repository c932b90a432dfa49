#!/bin/bash
# SPDX-License-Identifier: MIT
# Children of a threaded parent never hang in NSS (issue 12). test_nss_fork forks 200 children
# while three threads of the parent use SQLite (variant sqlite: their own databases; variant pam:
# pam_roles through the real libpam, as a threaded authentication server runs it); each child
# looks up a roles user and root with getpwnam and getgrouplist through the real glibc, with
# "passwd: files roles" and "group: files roles", then exits. A child alive 5 s after its fork is
# hung, killed and counted. First a control with nss_files alone (the same user in /etc/passwd)
# shows that the harness itself hangs nothing. Runs in a private mount namespace; needs root.
# Every run is bounded by `timeout -s KILL` here, and the children die with their parent.
#
#   test_nss_fork.sh ROLESCTL PAM_MODULE NSS_LIB_DIR TEST_NSS_FORK
set -u
. "$(dirname "$0")/ns-lib.sh"

[ $# -eq 4 ] || { echo "usage: $(basename "$0") ROLESCTL PAM_MODULE NSS_LIB_DIR TEST_NSS_FORK" >&2; exit 1; }
ns_enter nss-fork "$@"
R=$(realpath "$1")
P=$(realpath "$2")
L=$(realpath "$3")
F=$(realpath "$4")
children=${ROLES_TEST_FORK_CHILDREN:-200}

ns_overlay etc var/lib
ns_configure
ns_modules "$P" "$L"
cat >/etc/pam.d/roles-fork <<PAM
auth     required $MOD
account  required $MOD
PAM
PW=correct-horse-battery

"$R" init >/dev/null || die "rolesctl init"
"$R" user add forker --uid 10100 >/dev/null || die "rolesctl user add forker"
# Who the PAM threads log in: a roles account in every run (the control puts forker into
# /etc/passwd, and a host account of the same name would make pam_roles refuse it).
printf '%s\n' "$PW" | "$R" user add authee --uid 10101 --password-stdin >/dev/null || die "rolesctl user add authee"
"$R" batch >/dev/null <<'BATCH' || die "rolesctl batch"
group add forkers --gid 20100
group adduser forkers forker
BATCH
mkdir -m 0700 "$S/sqlite" || die "mkdir $S/sqlite"

# run VARIANT: one run of test_nss_fork, bounded; sets OUT and RC.
run() {
        OUT=$(timeout -s KILL 120 "$F" "$1" --user forker --gid 20100 --children "$children" --timeout 5 \
                --dir "$S/sqlite" --service roles-fork --auth-user authee --password "$PW" 2>&1)
        RC=$?
        sed 's/^/# /' <<<"$OUT"
}

# ---- control: nss_files alone --------------------------------------------------------------------
cp /etc/nsswitch.conf "$S/nsswitch.roles"
cp /etc/passwd "$S/passwd.orig"
cp /etc/group "$S/group.orig"
sed -i -E 's/^(passwd|group):.*/\1: files/' /etc/nsswitch.conf
echo 'forker:x:10100:10100::/home/forker:/bin/bash' >>/etc/passwd
printf 'forker:x:10100:\nforkers:x:20100:forker\n' >>/etc/group
for variant in sqlite pam; do
        echo "# control, nss_files alone, $variant:"
        run "$variant"
        eq "control (files alone), $variant: exit status" "$RC" 0
done
cp "$S/nsswitch.roles" /etc/nsswitch.conf
cp "$S/passwd.orig" /etc/passwd
cp "$S/group.orig" /etc/group
getent passwd forker | grep -q '^forker:x:10100:' || die "forker is not served by roles"

# ---- files roles ----------------------------------------------------------------------------------
for variant in sqlite pam; do
        echo "# files roles, $variant:"
        run "$variant"
        if [ "$RC" -eq 0 ]; then pass; else fail "files roles, $variant: exit status $RC (a child hung, answered wrong or died: see above)"; fi
done

finish
