#!/bin/bash
# SPDX-License-Identifier: MIT
# The shape of the core, as the compiler and the linker see it (issue 13):
#  - what a handle may do is its type: a change through a snapshot, a login's write through a
#    snapshot's read-only secrets view, a commit through a login do not compile (each snippet
#    under tests/shape/ must fail, and fail on the handle, while the same calls on the right
#    handle compile);
#  - pam_roles.so carries no symbol of the writer's library, libnss_roles.so.2 none of the
#    store's (SQLite, snapshot, login, writer), the shadow plugin none of the writer's.
# Usage: test_shape.sh CC SOURCE_ROOT BUILD_ROOT
set -u
. "$(dirname "$0")/lib.sh"

CC=$1 SRC=$2 BUILD=$3
need nm || finish
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

compile() {
        LC_ALL=C "$CC" -std=gnu11 -fsyntax-only -Werror=incompatible-pointer-types -Werror=discarded-qualifiers \
                -I"$SRC/common" -I"$BUILD" "$1" 2>"$T/err"
}

# The right handle compiles: the refusals below are about the handle, not the includes.
if compile "$SRC/tests/shape/right_handles.c"; then pass; else fail "right_handles.c does not compile: $(head -3 "$T/err")"; fi

for f in "$SRC"/tests/shape/refused_*.c; do
        name=$(basename "$f")
        want=$(sed -n 's|^/\* refused: \(.*\) \*/$|\1|p' "$f")
        [ -n "$want" ] || { fail "$name names no refusal"; continue; }
        if compile "$f"; then
                fail "$name compiled: $want"
        elif grep -q "$want" "$T/err"; then
                pass
        else
                fail "$name failed, but not with \"$want\": $(head -3 "$T/err")"
        fi
done

# The global symbols a static library defines, one per line (functions and data). Its local
# ones are left out: a static function, an inline one emitted out of line at -O0, or a
# sanitizer's constructor (_sub_I_*) may have the same name in another library.
defined() {
        nm --defined-only "$1" 2>/dev/null | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort -u
}

# carries WHAT SHARED_OBJECT LIBRARY...: none of the libraries' symbols is in the object.
carries_none() {
        local what=$1 obj=$2
        shift 2
        nm "$obj" 2>/dev/null | awk '{ print $NF }' | sort -u >"$T/obj"
        [ -s "$T/obj" ] || { fail "$what: nm shows no symbols in $obj (stripped?): nothing would be checked"; return; }
        local lib found=""
        for lib in "$@"; do
                defined "$lib" >"$T/lib"
                [ -s "$T/lib" ] || { fail "$what: $lib defines nothing"; return; }
                found+=$(comm -12 "$T/obj" "$T/lib" | head -5 | tr '\n' ' ')
        done
        if [ -z "$found" ]; then pass; else fail "$what: carries $found"; fi
}

# carries_some WHAT SHARED_OBJECT LIBRARY: a control: the object does carry that library's code.
carries_some() {
        nm "$2" | awk '{ print $NF }' | sort -u >"$T/obj"
        defined "$3" >"$T/lib"
        if [ -n "$(comm -12 "$T/obj" "$T/lib")" ]; then pass; else fail "$1: carries nothing of $3: the check sees nothing"; fi
}

C=$BUILD/common
carries_some "pam_roles.so links the login" "$BUILD/pam_roles/pam_roles.so" "$C/libroles_login.a"
carries_none "pam_roles.so" "$BUILD/pam_roles/pam_roles.so" "$C/libroles_writer.a"
carries_some "libnss_roles.so.2 links the index reader" "$BUILD/nss_roles/libnss_roles.so.2" "$C/libroles_nssindex.a"
carries_none "libnss_roles.so.2" "$BUILD/nss_roles/libnss_roles.so.2" \
        "$C/libroles_sqlite.a" "$C/libroles_snapshot.a" "$C/libroles_login.a" "$C/libroles_writer.a"
carries_some "the shadow plugin links the snapshot" "$BUILD/nss_roles/roles/roles-nss-shadow.so" "$C/libroles_snapshot.a"
carries_none "the shadow plugin" "$BUILD/nss_roles/roles/roles-nss-shadow.so" "$C/libroles_login.a" "$C/libroles_writer.a"
finish
