#!/bin/bash
# SPDX-License-Identifier: MIT
# What libnss_roles.so.2 links and exports (DESIGN.md: it is loaded into every process that
# resolves a name). NEEDED: libc.so.6 alone (no thread-local storage either, whose
# __tls_get_addr is the dynamic loader's: each would cost every process's first lookup); a
# sanitizer build also needs its runtimes (libasan, libubsan, and they the loader), and nothing
# else: not libsqlite3, which only the shadow plugin (loaded by a shadow call) links.
# `ldd` agrees (nothing but libc, the loader and the vDSO). Dynamic symbols defined: _nss_roles_*
# only; none of the store's (nm: the module carries no SQLite, writer or store code).
#
#   test_nss_exports.sh PATH/libnss_roles.so.2
set -u
lib=${1:?usage: test_nss_exports.sh PATH/libnss_roles.so.2}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh" || exit 2
# Without nm every "carries no store code" check would pass on an empty listing.
need readelf nm ldd || finish

if ! dyn=$(readelf -dW "$lib" 2>&1); then
        die "readelf -d $lib: $dyn"
fi
needed=$(sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' <<<"$dyn")
sanitized=0
grep -qE '^lib(asan|ubsan)\.so' <<<"$needed" && sanitized=1

grep -qx 'libc.so.6' <<<"$needed" && pass || fail "libc.so.6 is not NEEDED"
while read -r n; do
        [ -n "$n" ] || continue
        case "$n" in
        libc.so.6) pass ;;
        libasan.so.* | libubsan.so.* | ld-linux*.so.2)
                [ $sanitized = 1 ] && pass || fail "unexpected NEEDED $n" ;;
        *) fail "unexpected NEEDED $n (the module may link only libc)" ;;
        esac
done <<<"$needed"
if [ $sanitized = 0 ]; then
        loaded=$(ldd "$lib" 2>&1) || fail "ldd $lib: $loaded"
        others=$(awk '{ print $1 }' <<<"$loaded" | grep -vE '^(linux-vdso\.so\.1|libc\.so\.6|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux.*)$')
        [ -z "$others" ] && pass || fail "ldd shows more than libc: $others"
fi
if readelf -lW "$lib" | grep -qE '^ *TLS '; then
        fail "has a thread-local storage segment (the recursion guard needs none)"
else
        pass
fi
# No store, SQLite or writer code inside (nm, all symbols, local ones included).
if stray=$(nm "$lib" 2>/dev/null | awk '{ print $NF }' | grep -E '^(sqlite3_|store_|roles_(store|snapshot|writer|login|secrets)_|roles_user_|roles_group_|roles_role_|roles_metarole_)'); then
        fail "carries store or SQLite code: $(head -n 3 <<<"$stray" | tr '\n' ' ')"
else
        pass
fi
# No RPATH/RUNPATH: the module is found by the system's library path only.
if grep -qE '\((RPATH|RUNPATH)\)' <<<"$dyn"; then
        # meson adds a build-tree RUNPATH only when linking to in-tree shared libraries; none here.
        fail "has an RPATH/RUNPATH: $(grep -E '\((RPATH|RUNPATH)\)' <<<"$dyn")"
else
        pass
fi
grep -q '(SONAME).*\[libnss_roles.so.2\]' <<<"$dyn" && pass || fail "SONAME is not libnss_roles.so.2"

defined=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//')
if [ -z "$defined" ]; then
        fail "no defined dynamic symbols at all"
fi
while read -r s; do
        [ -n "$s" ] || continue
        case "$s" in
        _nss_roles_*) pass ;;
        *) fail "exports $s (only _nss_roles_* may be exported)" ;;
        esac
done <<<"$defined"
# Every entry point glibc looks up is there.
for f in getpwnam_r getpwuid_r setpwent getpwent_r endpwent getgrnam_r getgrgid_r setgrent getgrent_r endgrent \
        initgroups_dyn getspnam_r setspent getspent_r endspent; do
        grep -qx "_nss_roles_$f" <<<"$defined" && pass || fail "_nss_roles_$f is not exported"
done
# Undefined symbols come from libc or the loader: no getpw*/getgr* (recursion into NSS).
undef=$(nm -D --undefined-only "$lib" | awk '{ print $2 }' | sed 's/@.*//')
if grep -E '^(getpw|getgr|getsp|initgroups|getgrouplist)' <<<"$undef"; then
        fail "calls NSS itself (recursion)"
else
        pass
fi

finish
