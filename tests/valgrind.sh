#!/bin/bash
# SPDX-License-Identifier: MIT
# Memcheck with the project's options, the one place they are spelled out:
#
#     valgrind.sh [VALGRIND_OPTION...] PROGRAM [ARG...]
#
# An invalid access, a use of an uninitialised value, a bad free or a definite or indirect leak
# is an error, and any error makes the exit status 99.
#
# It is also meson's exe_wrapper for `meson test --setup valgrind`, which wraps every test: a
# compiled test runs under memcheck, but a shell test (bash is not ours to check) runs as itself
# with ROLES_TEST_VALGRIND=1, and runs the programs it tests under memcheck through this script
# (tests/ns-lib.sh: ns_valgrind_setup).
set -u

opts=()
while [ $# -gt 0 ] && [[ $1 == --* ]]; do
        opts+=("$1")
        shift
done
[ $# -gt 0 ] || { echo "usage: valgrind.sh [VALGRIND_OPTION...] PROGRAM [ARG...]" >&2; exit 2; }

if [ "$(head -c 2 -- "$1" 2>/dev/null)" = '#!' ]; then
        ROLES_TEST_VALGRIND=1 exec "$@"
fi

# --run-libc-freeres=no: at exit, valgrind normally has glibc free its internals, and glibc then
# dlclose()s the NSS modules, which no real process ever does: libnss_roles' connection, held in
# a static variable for the life of the process by design, would be reported as a definite leak
# of an unloaded module. Without it, what the module keeps stays "still reachable" (not an
# error), and a block it really lost is still "definitely lost".
# --keep-debuginfo=yes: libpam unloads pam_roles.so at pam_end(); a report made after that still
# names the module's functions and lines.
# --fair-sched=yes: valgrind runs one thread at a time; with its default lock, the NSS thread
# tests' lookup threads (looping on the module's mutex) could starve the enumerating ones for
# many minutes. A fair lock hands the CPU round.
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --run-libc-freeres=no --keep-debuginfo=yes --fair-sched=yes "${opts[@]}" "$@"
