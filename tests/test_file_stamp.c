/* SPDX-License-Identifier: MIT */
/* Is this file still the one that was read (common/file_stamp.h), and the once-a-second look. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_stamp.h"
#include "testlib.h"

struct fixture {
        struct test_env env;                            /* first: test_teardown takes it */
        char path[PATH_MAX];
        struct roles_file_stamp stamp;          /* of path as written by setup */
};

static struct roles_file_stamp stamp_of(const char *path) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return roles_file_stamp_of(&st);
}

/* The file's timestamps come from a clock that moves a tick (at most 10 ms) at a time: a change
 * made within the tick of the stamp would keep its times. The stamp cannot see that, nor need
 * it here: what a test changes is a change it must see. */
static void next_tick(void) {
        nanosleep(&(struct timespec) { 0, 20 * 1000 * 1000 }, NULL);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        test_env_setup(&f->env);
        snprintf(f->path, sizeof(f->path), "%s/group", f->env.dir);
        test_write_file(f->path, "root:x:0:\nsudo:x:27:alice\n");
        f->stamp = stamp_of(f->path);
        next_tick();
        *state = f;
        return 0;
}

/* Read again, the same version has the same stamp, by stat or by fstat of a descriptor. */
static void test_unchanged(void **state) {
        struct fixture *f = *state;
        assert_true(roles_file_stamp_current(f->path, &f->stamp));
        struct roles_file_stamp again = stamp_of(f->path);
        assert_true(roles_file_stamp_equal(&again, &f->stamp));

        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char buf[64];
        assert_true(read(fd, buf, sizeof(buf)) > 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        close(fd);
        again = roles_file_stamp_of(&st);
        assert_true(roles_file_stamp_equal(&again, &f->stamp));
        assert_true(roles_file_stamp_current(f->path, &f->stamp));
}

/* A file replaced by rename, even by one of the same size and times: another inode. */
static void test_replaced_by_rename(void **state) {
        struct fixture *f = *state;
        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.new", f->path);
        test_write_file(tmp, "root:x:0:\nsudo:x:27:mallo\n");
        struct timespec times[2] = { f->stamp.mtime, f->stamp.mtime };
        assert_int_equal(utimensat(AT_FDCWD, tmp, times, 0), 0);
        assert_int_equal(rename(tmp, f->path), 0);
        struct roles_file_stamp now = stamp_of(f->path);
        assert_int_equal(now.size, f->stamp.size);
        assert_false(roles_file_stamp_equal(&now, &f->stamp));
        assert_false(roles_file_stamp_current(f->path, &f->stamp));
        assert_true(roles_file_stamp_current(f->path, &now));
}

/* Edited in place with the same size: the same inode, other times; even with mtime put back as
 * it was, ctime (which no one can set) differs. */
static void test_edited_in_place(void **state) {
        struct fixture *f = *state;
        test_write_file(f->path, "root:x:0:\nsudo:x:27:mallo\n");
        struct roles_file_stamp now = stamp_of(f->path);
        assert_true(now.dev == f->stamp.dev && now.ino == f->stamp.ino && now.size == f->stamp.size);
        assert_false(roles_file_stamp_current(f->path, &f->stamp));

        next_tick();
        struct timespec times[2] = { f->stamp.mtime, f->stamp.mtime };
        assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
        struct roles_file_stamp back = stamp_of(f->path);
        assert_int_equal(back.mtime.tv_sec, f->stamp.mtime.tv_sec);
        assert_int_equal(back.mtime.tv_nsec, f->stamp.mtime.tv_nsec);
        assert_false(roles_file_stamp_current(f->path, &f->stamp));
        assert_false(roles_file_stamp_current(f->path, &now));
}

/* Touched, not a byte changed: another version all the same (the stamp does not read the file). */
static void test_touched(void **state) {
        struct fixture *f = *state;
        assert_int_equal(utimensat(AT_FDCWD, f->path, NULL, 0), 0);
        assert_false(roles_file_stamp_current(f->path, &f->stamp));
}

/* No file: the stamp { 0 }, current while there is none, changed once there is one; and a file
 * removed is changed. */
static void test_missing(void **state) {
        struct fixture *f = *state;
        char none[PATH_MAX + 8];
        const struct roles_file_stamp nothing = { 0 };
        snprintf(none, sizeof(none), "%s.none", f->path);
        assert_true(roles_file_stamp_current(none, &nothing));
        assert_false(roles_file_stamp_current(f->path, &nothing));
        test_write_file(none, "");
        assert_false(roles_file_stamp_current(none, &nothing));
        assert_int_equal(unlink(f->path), 0);
        assert_false(roles_file_stamp_current(f->path, &f->stamp));
        assert_true(roles_file_stamp_current(f->path, &nothing));
}

static struct timespec plus_ns(struct timespec t, long long ns) {
        long long total = (long long) t.tv_sec * 1000000000LL + t.tv_nsec + ns;
        return (struct timespec) { (time_t) (total / 1000000000LL), (long) (total % 1000000000LL) };
}

/* Is a look due ns after (before, negative) t? */
static bool due_at(const struct roles_recheck *c, struct timespec t, long long ns) {
        struct timespec at = plus_ns(t, ns);
        return roles_recheck_due(c, &at);
}

/* A look is due at once, then not until a second after the last one that succeeded; a clock
 * behind the last look makes it due. */
static void test_recheck(void **state) {
        (void) state;
        struct roles_recheck c = { 0 };
        struct timespec t = roles_recheck_clock(), later = roles_recheck_clock();
        assert_true(later.tv_sec > t.tv_sec || (later.tv_sec == t.tv_sec && later.tv_nsec >= t.tv_nsec));

        assert_true(due_at(&c, t, 0));
        roles_recheck_done(&c, &t);
        assert_false(due_at(&c, t, 0));
        assert_false(due_at(&c, t, ROLES_RECHECK_NS - 1));
        assert_true(due_at(&c, t, ROLES_RECHECK_NS));
        assert_true(due_at(&c, t, 5LL * ROLES_RECHECK_NS));
        assert_true(due_at(&c, t, -1));

        struct timespec next = plus_ns(t, ROLES_RECHECK_NS + ROLES_RECHECK_NS / 2);
        roles_recheck_done(&c, &next);
        assert_false(due_at(&c, next, ROLES_RECHECK_NS / 2));
        assert_true(due_at(&c, next, ROLES_RECHECK_NS));

        c = (struct roles_recheck) { 0 };       /* reset: due at once */
        assert_true(due_at(&c, next, 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_unchanged, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_replaced_by_rename, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_edited_in_place, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_touched, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_missing, setup, test_teardown),
                cmocka_unit_test(test_recheck),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
