/* SPDX-License-Identifier: MIT */
/* The host's own accounts as roles reads them from /etc/passwd and /etc/group, and the ids it
 * hands out from /etc/subuid, /etc/subgid and /etc/login.defs (here, copies). */
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
#include "proc_uid.h"
#include "testlib.h"

struct fixture {
        struct test_env env;
        char passwd[PATH_MAX], group[PATH_MAX], subuid[PATH_MAX], subgid[PATH_MAX], login_defs[PATH_MAX];
        struct host_accounts h;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        test_env_setup(&f->env);
        snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->env.dir);
        snprintf(f->group, sizeof(f->group), "%s/group", f->env.dir);
        snprintf(f->subuid, sizeof(f->subuid), "%s/subuid", f->env.dir);
        snprintf(f->subgid, sizeof(f->subgid), "%s/subgid", f->env.dir);
        snprintf(f->login_defs, sizeof(f->login_defs), "%s/login.defs", f->env.dir);
        test_write_file(f->passwd, "root:x:0:0:root:/root:/bin/bash\n"
                                   "  indented:x:10001:10001::/home/i:/bin/sh\n"
                                   "#commented:x:10002:10002::/:/bin/sh\n"
                                   "noid:x:abc:0::/:/bin/sh\n"
                                   "\n"
                                   "last:x:4294967294:1::/:/bin/sh");
        test_write_file(f->group, "root:x:0:\nsudo:x:27:alice\nlocal:x:10050:\n");
        host_accounts_init(&f->h, &(struct host_paths) { f->passwd, f->group, f->subuid, f->subgid, f->login_defs });
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
        assert_false(host_accounts_has_uid(&f->h, 4294967295u));   /* past the last */

        assert_true(host_accounts_has_group(&f->h, "sudo"));
        assert_true(host_accounts_has_gid(&f->h, 27));
        assert_true(host_accounts_has_gid(&f->h, 10050));
        assert_false(host_accounts_has_group(&f->h, "alice"));
        assert_false(host_accounts_has_gid(&f->h, 10001));
        assert_true(host_accounts_has_gid(&f->h, 0));                   /* the first */
        assert_false(host_accounts_has_gid(&f->h, 2147483647u));        /* past the last */
}

/* A host with many names, many of them alike (same length, same first and last byte, one a
 * prefix of another): each is found, by a name of exactly its bytes only. */
static void test_many_names(void **state) {
        struct fixture *f = *state;
        enum { N = 3000 };
        size_t size = N * 80, len = 0;
        char *text = malloc(size);
        assert_non_null(text);
        for (unsigned i = 0; i < N; i++)
                len += (size_t) snprintf(text + len, size - len, "u%ux:x:%u:%u::/:/bin/sh\nu%u:x:%u:1::/:/bin/sh\n",
                                         i * 7, 20000 + i, 20000 + i, i * 7 + 3, 30000 + i);
        test_write_file(f->passwd, text);
        free(text);
        assert_int_equal(host_accounts_refresh(&f->h), 0);

        char name[32], buf[40];
        for (unsigned i = 0; i < N * 7 + 4; i++) {
                bool x = i < N * 7 && i % 7 == 0, plain = i < N * 7 && i % 7 == 3;
                snprintf(name, sizeof(name), "u%ux", i);
                assert_int_equal(host_accounts_has_user(&f->h, name), x);
                snprintf(name, sizeof(name), "u%u", i);
                assert_int_equal(host_accounts_has_user(&f->h, name), plain);
                /* Inside a longer text, as a member list gives it: its own bytes only. */
                snprintf(buf, sizeof(buf), "u%ux,root", i);
                assert_int_equal(host_accounts_has_user_n(&f->h, buf, strlen(name) + 1), x);
                assert_int_equal(host_accounts_has_user_n(&f->h, buf, strlen(name)), plain);
        }
        assert_false(host_accounts_has_user(&f->h, "root"));
        assert_false(host_accounts_has_user_n(&f->h, "u0x", 0));
        assert_false(host_accounts_has_user(&f->h, "u"));
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
        /* A local account's primary gid without a line in /etc/group (useradd -N -g 10001). */
        assert_false(host_accounts_has_gid(&f->h, 10001));
        assert_true(host_accounts_group_clashes(&f->h, "staff2", 6, 10001));
        assert_true(host_accounts_user_clashes(&f->h, "alice", 5, 20000, 10001));
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
        test_write_file(f->group, "root:x:0:\nsudo:x:27:alice\nadmns:x:10050:\n");
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_true(f->h.generation > gen);
        assert_true(host_accounts_has_group(&f->h, "admns"));
        assert_false(host_accounts_has_group(&f->h, "local"));

        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.new", f->group);
        test_write_file(tmp, "admins:x:10060:\n");
        assert_int_equal(rename(tmp, f->group), 0);
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_true(host_accounts_has_group(&f->h, "admins"));
        assert_false(host_accounts_has_group(&f->h, "sudo"));
        assert_true(host_accounts_has_gid(&f->h, 10060));
}

/* A missing /etc/passwd or /etc/group, or one that cannot be read, fails (the caller refuses):
 * a host always has them, and the rule must not pass everything when one is gone. */
static void test_missing_and_unreadable(void **state) {
        struct fixture *f = *state;
        assert_int_equal(unlink(f->group), 0);
        assert_int_equal(host_accounts_refresh(&f->h), -ENOENT);

        assert_int_equal(mkdir(f->group, 0755), 0);
        assert_true(host_accounts_refresh(&f->h) < 0);
        assert_true(host_accounts_refresh(&f->h) < 0);      /* and again: nothing half-known */
        assert_int_equal(rmdir(f->group), 0);
        test_write_file(f->group, "sudo:x:27:\n");
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_true(host_accounts_has_group(&f->h, "sudo"));
}

/* /etc/subuid and /etc/subgid: every range, whoever owns it, skipped as a whole. */
static void test_subordinate_ranges(void **state) {
        struct fixture *f = *state;
        const struct host_id_range *r;
        uint32_t id;

        test_write_file(f->subuid, "alice:100000:65536\n"
                                   "1001:165536:65536\n"            /* an owner given as a uid */
                                   "inner:100010:5\n"               /* inside alice's */
                                   "#old:5:1\n"                     /* counted all the same */
                                   "bad:abc:10\n"
                                   "zero:7:0\n"
                                   "  top:4294967290:100");          /* past the last id: cut there */
             test_write_file(f->subgid, "alice:200000:10\n");
        assert_int_equal(host_accounts_refresh(&f->h), 0);

        assert_non_null(r = host_accounts_subid_range(&f->h, 100000, false));
        assert_string_equal(r->owner, "alice");
        assert_int_equal(r->first, 100000);
        assert_int_equal(r->last, 165535);
        assert_non_null(r = host_accounts_subid_range(&f->h, 100020, false));
        assert_string_equal(r->owner, "alice");                 /* past inner's end */
        assert_non_null(r = host_accounts_subid_range(&f->h, 165536, false));
        assert_string_equal(r->owner, "1001");
        assert_non_null(host_accounts_subid_range(&f->h, 231071, false));
        assert_null(host_accounts_subid_range(&f->h, 231072, false));
        assert_null(host_accounts_subid_range(&f->h, 99999, false));
        assert_non_null(host_accounts_subid_range(&f->h, 5, false));
        assert_null(host_accounts_subid_range(&f->h, 7, false));
        assert_non_null(r = host_accounts_subid_range(&f->h, UINT32_MAX, false));
        assert_string_equal(r->owner, "top");
        assert_null(host_accounts_subid_range(&f->h, 100000, true));     /* uids and gids apart */
        assert_non_null(host_accounts_subid_range(&f->h, 200009, true));
        assert_null(host_accounts_subid_range(&f->h, 200010, true));

        assert_true(host_accounts_id_used(&f->h, 10001, false));        /* /etc/passwd */
        assert_true(host_accounts_id_used(&f->h, 100001, false));       /* /etc/subuid */
        assert_false(host_accounts_id_used(&f->h, 10003, false));
        assert_true(host_accounts_id_used(&f->h, 10050, true));         /* /etc/group */
        assert_true(host_accounts_id_used(&f->h, 10001, true));         /* a primary gid of /etc/passwd */
        assert_false(host_accounts_has_gid(&f->h, 10001));              /* (not a group of the rule) */
        assert_true(host_accounts_has_primary_gid(&f->h, 10001));
        assert_false(host_accounts_has_primary_gid(&f->h, 10050));
        assert_false(host_accounts_id_used(&f->h, 10003, true));

        assert_true(host_accounts_next_unused(&f->h, 10001, false, &id));
        assert_int_equal(id, 10003);                            /* 10001 and 10002 are local */
        assert_true(host_accounts_next_unused(&f->h, 100012, false, &id));
        assert_int_equal(id, 231072);                           /* alice's, then 1001's */
        assert_true(host_accounts_next_unused(&f->h, 231072, false, &id));
        assert_int_equal(id, 231072);
        assert_false(host_accounts_next_unused(&f->h, 4294967290u, false, &id));
        assert_true(host_accounts_next_unused(&f->h, 200000, true, &id));
        assert_int_equal(id, 200010);
        assert_true(host_accounts_next_unused(&f->h, 10050, true, &id));
        assert_int_equal(id, 10051);
        assert_true(host_accounts_next_unused(&f->h, 10001, true, &id));
        assert_int_equal(id, 10003);                            /* two primary gids */

        /* A change is seen; an unreadable file fails and is named. */
        test_write_file(f->subgid, "bob:300000:1\n");
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_null(host_accounts_subid_range(&f->h, 200000, true));
        assert_non_null(host_accounts_subid_range(&f->h, 300000, true));
        assert_int_equal(unlink(f->subgid), 0);
        assert_int_equal(mkdir(f->subgid, 0755), 0);
        assert_true(host_accounts_refresh(&f->h) < 0);
        assert_string_equal(f->h.failed, f->subgid);
        assert_int_equal(rmdir(f->subgid), 0);
        assert_int_equal(host_accounts_refresh(&f->h), 0);      /* missing: no ranges */
        assert_null(f->h.failed);
        assert_null(host_accounts_subid_range(&f->h, 300000, true));
}

/* login.defs: UID_MIN..UID_MAX and GID_MIN..GID_MAX, shadow's defaults where it says nothing. */
static void test_login_defs(void **state) {
        struct fixture *f = *state;
        struct host_id_range r;

        assert_int_equal(host_accounts_refresh(&f->h), 0);      /* no file */
        assert_true(host_accounts_login_range(&f->h, false, &r));
        assert_int_equal(r.first, 1000);
        assert_int_equal(r.last, 60000);
        assert_true(host_accounts_login_range(&f->h, true, &r));
        assert_int_equal(r.first, 1000);
        assert_int_equal(r.last, 60000);

        test_write_file(f->login_defs, "# UID_MIN 1\n"
                                       "UID_MIN\t\t\t 2000\n"
                                       "UID_MAX 0x7000\n"             /* any base strtoul reads */
                                       "GID_MIN 500\n"
                                       "  GID_MIN 600 # the last one wins\n"
                                       "GID_MAX nonsense\n"           /* the default */
                                       "SYS_UID_MAX 999\n");
        assert_int_equal(host_accounts_refresh(&f->h), 0);
        assert_true(host_accounts_login_range(&f->h, false, &r));
        assert_int_equal(r.first, 2000);
        assert_int_equal(r.last, 0x7000);
        assert_string_equal(r.owner, "UID_MIN..UID_MAX");
        assert_true(host_accounts_login_range(&f->h, true, &r));
        assert_int_equal(r.first, 600);
        assert_int_equal(r.last, 60000);
        assert_string_equal(r.owner, "GID_MIN..GID_MAX");
}

/* What is not asked for is not read: the NSS and PAM modules read passwd and group only. */
static void test_files_not_read(void **state) {
        struct fixture *f = *state;
        struct host_accounts h;
        struct host_id_range r;
        size_t n = 1;

        test_write_file(f->subuid, "alice:100000:65536\n");
        host_accounts_init(&h, &(struct host_paths) { f->passwd, f->group, NULL, NULL, NULL });
        assert_int_equal(host_accounts_refresh(&h), 0);
        assert_true(host_accounts_has_uid(&h, 10001));
        assert_null(host_accounts_subid_range(&h, 100000, false));
        assert_null(host_accounts_subid_ranges(&h, false, &n));
        assert_int_equal(n, 0);
        assert_false(host_accounts_login_range(&h, false, &r));
        host_accounts_done(&h);
}

/* ---- processes running as a uid (user del) ------------------------------------------------------ */

static void proc_entry(const char *root, const char *pid, const char *status) {
        char path[PATH_MAX];
        assert_true((size_t) snprintf(path, sizeof(path), "%s/%s", root, pid) < sizeof(path) - 8);
        assert_int_equal(mkdir(path, 0755), 0);
        if (!status)
                return;
        strcat(path, "/status");
        test_write_file(path, status);
}

static void test_proc_find_uid(void **state) {
        struct fixture *f = *state;
        char root[PATH_MAX], name[64];
        pid_t pid = 0;

        snprintf(root, sizeof(root), "%s/proc", f->env.dir);
        assert_int_equal(mkdir(root, 0755), 0);
        proc_entry(root, "1", "Name:\tsystemd\nUmask:\t0000\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
        proc_entry(root, "4321", "Name:\tbash\nUid:\t10100\t10100\t10100\t10100\n");
        proc_entry(root, "1234", "Name:\tsu\nUid:\t0\t10100\t0\t0\n");               /* effective */
        proc_entry(root, "777", "Name:\tdaemon\nUid:\t10200\t10200\t10300\t10200\n");  /* saved only */
        proc_entry(root, "778", "Name:\tfsonly\nUid:\t10200\t10200\t10200\t10400\n");  /* fs uid is not one */
        proc_entry(root, "900", NULL);                                                     /* exited meanwhile */
        proc_entry(root, "sys", "Name:\tnot a pid\nUid:\t10500\t10500\t10500\t10500\n");
        proc_entry(root, "0900", "Name:\tnot a pid\nUid:\t10500\t10500\t10500\t10500\n");

        assert_int_equal(roles_proc_find_uid(root, 10100, &pid, name, sizeof(name)), 1);
        assert_int_equal(pid, 1234);                    /* the lowest of 1234 and 4321 */
        assert_string_equal(name, "su");
        assert_int_equal(roles_proc_find_uid(root, 10300, &pid, NULL, 0), 1);
        assert_int_equal(pid, 777);
        pid = 0;
        assert_int_equal(roles_proc_find_uid(root, 10400, &pid, name, sizeof(name)), 0);
        assert_int_equal(roles_proc_find_uid(root, 10500, &pid, name, sizeof(name)), 0);
        assert_int_equal(roles_proc_find_uid(root, 10600, &pid, name, sizeof(name)), 0);
        assert_int_equal(pid, 0);
        assert_int_equal(roles_proc_find_uid(root, 0, &pid, name, sizeof(name)), 1);
        assert_int_equal(pid, 1);

        /* No such tree: an error, never "nobody uses it". */
        snprintf(root, sizeof(root), "%s/noproc", f->env.dir);
        assert_int_equal(roles_proc_find_uid(root, 10100, &pid, name, sizeof(name)), -ENOENT);

        /* The real /proc knows this very process. */
        assert_int_equal(roles_proc_find_uid("/proc", getuid(), &pid, NULL, 0), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_names_and_ids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rule, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changes_are_seen, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_unreadable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_subordinate_ranges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_login_defs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_files_not_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_proc_find_uid, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
