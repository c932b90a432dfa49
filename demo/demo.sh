#!/bin/bash
# The demo: an embedded database (demo.batch) loaded into the default paths, shown through
# rolesctl. Everything happens in a private mount namespace with /etc and /var/lib overlaid
# on tmpfs, so the host's /etc and /var/lib never change.
#
#   demo/demo.sh BUILD_DIR
set -euo pipefail

build=$(realpath "${1:-build}")
here=$(dirname "$(realpath "$0")")

if [ "${ROLES_DEMO_INSIDE:-}" != 1 ]; then
        if [ "$(id -u)" != 0 ]; then
                echo "demo: needs root (for a private mount namespace)" >&2
                exit 2
        fi
        exec env ROLES_DEMO_INSIDE=1 unshare -m --propagation private "$0" "$build"
fi

# Private, writable /etc and /var/lib: overlays whose upper layers live on a tmpfs, mounted on
# /mnt inside this namespace only (so not even an empty directory is left on the host).
scratch=/mnt
mount -t tmpfs tmpfs "$scratch"
for d in etc var/lib; do
        mkdir -p "$scratch/$d/upper" "$scratch/$d/work"
        mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d/upper,workdir=$scratch/$d/work" "/$d"
done

cat > /etc/roles.conf <<'CONF'
# /etc/roles.conf for the demo: the default paths, cheaper argon2 so the demo is quick.
argon2_t_cost      = 1
argon2_m_cost_kib  = 8192
argon2_parallelism = 1
CONF
export PATH="$build/rolesctl:$PATH"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@" || true; }

say "rolesctl init --admin root-admin --activation"
rolesctl init --admin root-admin --activation
run ls -l /var/lib/roles
say "rolesctl batch demo/demo.batch    # $(grep -vc '^\s*\(#\|$\)' "$here/demo.batch") commands, one snapshot"
rolesctl batch "$here/demo.batch"

run rolesctl user list
run rolesctl metarole list
run rolesctl role show db-operator
run rolesctl user show bob

echo
echo "# A metarole chain, a wildcard, and a disabled permission:"
run rolesctl perms alice --why
run rolesctl check alice db.backup.nightly
run rolesctl check alice db.drop
echo
echo "# bob's just-in-time sudo (role oncall) ended in 2021, so it no longer counts:"
run rolesctl perms bob --why
run rolesctl check bob sudo
echo
echo "# carol's account expired: she holds nothing, whatever her roles say:"
run rolesctl perms carol --why
echo
echo "# root-admin holds super-admin, so every permission:"
run rolesctl perms root-admin --why
run rolesctl check root-admin anything.at.all
run rolesctl --json check alice login.sshd
say "rolesctl audit | tail -n 5"
rolesctl audit | tail -n 5

echo
echo "# The same accounts through glibc: nsswitch.conf (in this namespace only) says 'files roles'."
echo "# Their ids come from the default range 1879048192-2147352575, clear of useradd's and containers'."
sed -i 's/^\(passwd\|group\|shadow\):.*/\1: files roles/' /etc/nsswitch.conf
export LD_LIBRARY_PATH="$build/nss_roles"
run grep -E '^(passwd|group|shadow):' /etc/nsswitch.conf
run getent passwd alice bob
run getent group developers admin
echo "# root-admin holds super-admin, which includes the published metarole admin:"
run id root-admin
run getent shadow alice carol
touch "$scratch/report.txt" && chown alice:developers "$scratch/report.txt"
run ls -l "$scratch/report.txt"
