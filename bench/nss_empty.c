/* SPDX-License-Identifier: MIT */
/*
 * libnss_benchempty.so.2: an NSS module that links libc alone and answers every getpwnam_r with
 * NOTFOUND at once. bench_nss loads and calls it in a fresh process exactly as it does
 * libnss_roles.so.2: what is left is what being a module at all costs a process's first lookup
 * on this machine (dlopen's system calls and page faults), the floor under roles' own figure.
 *
 * libnss_benchfloor.so.2, the same built with NSS_BENCH_FLOOR: a module whose first call does
 * only what any module serving a compiled index must, and what roles does the same way: read
 * its configuration (the id ranges and where the index is), look at the index's directory (whoever
 * could write it could serve any account) and map the index. It parses nothing and finds no
 * one. Its figure is the least such a module costs a first lookup here, whatever its code.
 */
#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef NSS_BENCH_FLOOR
#define ENTRY _nss_benchfloor_getpwnam_r

static const volatile char *mapped;

/* The default paths: bench_nss.sh's namespace has roles' own there. */
static enum nss_status first_call(void) {
        static char conf[4096];
        struct stat st;
        int fd = open("/etc/roles.conf", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return NSS_STATUS_UNAVAIL;
        ssize_t n = fstat(fd, &st) == 0 ? read(fd, conf, sizeof(conf)) : -1;
        close(fd);
        if (n < 0 || lstat("/var/lib/roles", &st) < 0)
                return NSS_STATUS_UNAVAIL;
        fd = open("/var/lib/roles/roles.nss", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return NSS_STATUS_UNAVAIL;
        void *data = MAP_FAILED;
        if (fstat(fd, &st) == 0 && st.st_size > 0)
                data = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (data == MAP_FAILED)
                return NSS_STATUS_UNAVAIL;
        mapped = data;
        (void) mapped[0];       /* the header, as any reader checks it */
        return NSS_STATUS_NOTFOUND;
}
#else
#define ENTRY _nss_benchempty_getpwnam_r
#endif

__attribute__((visibility("default"))) enum nss_status ENTRY(const char *name, struct passwd *pw, char *buf,
                                                             size_t len, int *errnop);
enum nss_status ENTRY(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop) {
        (void) name;
        (void) pw;
        (void) buf;
        (void) len;
#ifdef NSS_BENCH_FLOOR
        if (!mapped && first_call() != NSS_STATUS_NOTFOUND) {
                *errnop = EIO;
                return NSS_STATUS_UNAVAIL;
        }
#endif
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
}
