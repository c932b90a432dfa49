/* SPDX-License-Identifier: MIT */
#include "file_stamp.h"

struct roles_file_stamp roles_file_stamp_of(const struct stat *st) {
        return (struct roles_file_stamp) {
                .dev = st->st_dev, .ino = st->st_ino, .size = st->st_size, .mtime = st->st_mtim, .ctime = st->st_ctim,
        };
}

static bool same_time(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool roles_file_stamp_equal(const struct roles_file_stamp *a, const struct roles_file_stamp *b) {
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size && same_time(&a->mtime, &b->mtime) &&
               same_time(&a->ctime, &b->ctime);
}

bool roles_file_stamp_current(const char *path, const struct roles_file_stamp *s) {
        struct stat st;
        struct roles_file_stamp now = { 0 };
        if (stat(path, &st) == 0)
                now = roles_file_stamp_of(&st);
        return roles_file_stamp_equal(&now, s);
}

struct timespec roles_recheck_clock(void) {
        struct timespec now = { 0 };
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
        return now;
}

bool roles_recheck_due(const struct roles_recheck *c, const struct timespec *now) {
        if (!c->done)
                return true;
        long long ns = (long long) (now->tv_sec - c->at.tv_sec) * 1000000000LL + (now->tv_nsec - c->at.tv_nsec);
        return ns >= ROLES_RECHECK_NS || ns < 0;
}

void roles_recheck_done(struct roles_recheck *c, const struct timespec *now) {
        *c = (struct roles_recheck) { .at = *now, .done = true };
}
