/* SPDX-License-Identifier: MIT */
/*
 * "Is this file still the one I read?" and "is it time to look again?", for whoever keeps what
 * it read from a file that others replace: the NSS module's mapped index (roles.nss and its
 * delta) and the host's /etc/passwd and /etc/group (host_accounts.c).
 *
 * A stamp is what a stat says of one version of a file: which file it is (device and inode: a
 * file replaced by rename is another one) and what an edit in place changes (size, mtime, and
 * ctime, which every write moves, even one that sets mtime back). Take it from the fstat of the
 * descriptor that was read, not from a stat of the path before the open: a file replaced in
 * between then differs from its stamp, and is read again at the next look.
 *
 * A recheck spaces those looks out to one a second, so that a process resolving names in a loop
 * does not stat for each. Its clock is CLOCK_MONOTONIC_COARSE: no system call (the vDSO), and
 * setting the date moves nothing.
 *
 * Links libc only: the NSS module uses it in every process that resolves a name.
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

struct roles_file_stamp {
        dev_t dev;
        ino_t ino;                      /* 0: no file (the stamp of a path that has none: { 0 }) */
        off_t size;
        struct timespec mtime, ctime;
};

/* The stamp of the version st describes. */
struct roles_file_stamp roles_file_stamp_of(const struct stat *st);
bool roles_file_stamp_equal(const struct roles_file_stamp *a, const struct roles_file_stamp *b);
/* Is the file at path (followed) the version s stamped? A path that cannot be looked at has the
 * stamp { 0 }: still current for a stamp of no file, changed for any other. */
bool roles_file_stamp_current(const char *path, const struct roles_file_stamp *s);

/* How long a look stands, at most. */
#define ROLES_RECHECK_NS (1000L * 1000 * 1000)

/* When its owner last looked. Zero-initialised (or reset to { 0 }): a look is due. */
struct roles_recheck {
        struct timespec at;
        bool done;
};

/* Now, on the clock rechecks go by. */
struct timespec roles_recheck_clock(void);
/* Is a look due at now: none done since the reset, the last one a second or more ago, or the clock
 * behind it (it never goes back: something is wrong, look)? */
bool roles_recheck_due(const struct roles_recheck *c, const struct timespec *now);
/* A look taken at now succeeded: the next is due a second after it. */
void roles_recheck_done(struct roles_recheck *c, const struct timespec *now);
