/* SPDX-License-Identifier: MIT */
/* The host's own accounts as roles reads them from /etc/passwd and /etc/group (here, copies). */
#include <errno.h>
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

#include "host_accounts.h"
#include "testlib.h"

struct fixture {
        struct test_env env;
        char passwd[PATH_MAX], group[PATH_MAX];
        struct host_accounts h;
};

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        test_env_setup(&f->env);
        snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->env.dir);
        snprintf(f->group, sizeof(f->group), "%s/group", f->env.dir);
        write_file(f->passwd, "root:x:0:0:root:/root:/bin/bash\n"
                              "  indented:x:10001:10001::/home/i:/bin/sh\n"
                              "#commented:x:10002:10002::/:/bin/sh\n"
                              "noid:x:abc:0::/:/bin/sh\n"
                              "\n"
                              "last:x:4294967294:1::/:/bin/sh");
        write_file(f->group, "root:x:0:\nsudo:x:27:alice\nlocal:x:10050:\n");
        host_accounts_init(&f->h, f->passwd, f->group);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        host_accounts_done(&f->h);
        test_env_teardown(&f->env);
        free(f);
        return 0;
}

static void test_names_and_ids(void **state) {
        struct fixture *f = *state;
        assert_int_equal(host_accounts_refresh(&f->h), 0);

        assert_true(host_accounts_has_user(&f->h, "root"));
        assert_true(host_accounts_has_user(&f->h, "indented"));     /* glibc skips the blanks */
        assert_true(host_accounts_has_user(&f->h, "#commented"));   /* counted all the same */
        assert_true(host_accounts_has_user(&f->h, "noid"));         /* a name without an id */
        assert_true(host_accounts_has_user(&f->h, "last"));         /* no final newline */
        assert_false(host_accounts_has_user(&f->h, "roo"));
        assert_false(host_accounts_has_user(&f->h, "roots"));
        assert_false(host_accounts_has_user(&f->h, "sudo"));        /* a group, not a user */
        assert_true(host_accounts_has_user_n(&f->h, "root,alice", 4));
        assert_false(host_accounts_has_user_n(&f->h, "root,alice", 3));

        assert_true(host_accounts_has_uid(&f->h, 0));
        assert_true(host_accounts_has_uid(&f->h, 10001));
        assert_true(host_accounts_has_uid(&f->h, 10002));
        assert_true(host_accounts_has_uid(&f->h, 4294967294u));
        assert_false(host_accounts_has_uid(&f->h, 1));

        assert_true(host_accounts_has_group(&f->h, "sudo"));
        assert_true(host_accounts_has_gid(&f->h, 27));
        assert_true(host_accounts_has_gid(&f->h, 10050));
        assert_false(host_accounts_has_group(&f->h, "alice"));
        assert_false(host_accounts_has_gid(&f->h, 10001));
}

static void test_rule(void **state) {
        struct fixture *f = *state;
        assert_int_equal(host_accounts_refresh(&f->h), 0);

        assert_false(host_accounts_user_clashes(&f->h, "alice", 5, 20000, 20000));
        assert_true(host_accounts_user_clashes(&f->h, "root", 4, 20000, 20000));     /* name */
        assert_true(host_accounts_user_clashes(&f->h, "alice", 5, 10001, 20000));    /* uid */
        assert_true(host_accounts_user_clashes(&f->h, "alice", 5, 20000, 10050));    /* primary gid */

        assert_false(host_accounts_group_clashes(&f->h, "staff2", 6, 20000));
        assert_true(host_accounts_group_clashes(&f->h, "sudo", 4, 20000));           /* name */
        assert_true(host_accounts_group_clashes(&f->h, "staff2", 6, 10050));         /* gid */
}

/* An edit in place and a replacement by rename are both seen; nothing else is read again. */
static void test_changes_are_seen(void **state) {
        struct fixture *f = *state;
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        uint64_t gen = f->h.generation;
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_int_equal(f->h.generation, gen);
        assert_false(host_accounts_has_group(&f->h, "admins"));

        /* Same size, same second: the nanoseconds and ctime still differ. */
        write_file(f->group, "root:x:0:\nsudo:x:27:alice\nadmns:x:10050:\n");
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_true(f->h.generation > gen);
        assert_true(host_accounts_has_group(&f->h, "admns"));
        assert_false(host_accounts_has_group(&f->h, "local"));

        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.new", f->group);
        write_file(tmp, "admins:x:10060:\n");
        assert_int_equal(rename(tmp, f->group), 0);
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_true(host_accounts_has_group(&f->h, "admins"));
        assert_false(host_accounts_has_group(&f->h, "sudo"));
        assert_true(host_accounts_has_gid(&f->h, 10060));
}

/* A missing file holds no accounts; one that cannot be read fails (the caller refuses). */
static void test_missing_and_unreadable(void **state) {
        struct fixture *f = *state;
        assert_int_equal(unlink(f->group), 0);
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_false(host_accounts_has_group(&f->h, "sudo"));
        assert_true(host_accounts_has_user(&f->h, "root"));

        assert_int_equal(mkdir(f->group, 0755), 0);
        assert_true(host_accounts_refresh(&f->h) < 0);
        assert_true(host_accounts_refresh(&f->h) < 0);      /* and again: nothing half-known */
        assert_int_equal(rmdir(f->group), 0);
        write_file(f->group, "sudo:x:27:\n");
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_true(host_accounts_has_group(&f->h, "sudo"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_names_and_ids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rule, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changes_are_seen, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_unreadable, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
