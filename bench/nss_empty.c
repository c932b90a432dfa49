/* SPDX-License-Identifier: MIT */
/*
 * libnss_benchempty.so.2: an NSS module that links libc alone and answers every getpwnam_r with
 * NOTFOUND at once. bench_nss loads and calls it in a fresh process exactly as it does
 * libnss_roles.so.2: what is left is what being a module at all costs a process's first lookup
 * on this machine (dlopen's system calls and page faults), the floor under roles' own figure.
 */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stddef.h>

__attribute__((visibility("default"))) enum nss_status _nss_benchempty_getpwnam_r(const char *name, struct passwd *pw,
                                                                                 char *buf, size_t len, int *errnop);
enum nss_status _nss_benchempty_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop) {
        (void) name;
        (void) pw;
        (void) buf;
        (void) len;
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
}
