/* SPDX-License-Identifier: MIT */
/*
 * libnss_roles.so.2 as glibc sees it: the built module is dlopen()ed and every entry point is
 * called through dlsym, against real database files made with the store API in a temporary
 * directory and selected with $ROLES_CONF. Checked: buffers of every length (ERANGE below the
 * need, nothing written past the buffer, every pointer inside it at the need), errno left alone
 * on success, NOTFOUND for unknown and out-of-range names and ids (tampered rows included),
 * enumeration with growing buffers (each entry exactly once), initgroups_dyn, threads, fork,
 * a snapshot replaced by rename while the process runs, and a missing or unusable database.
 *
 * The module reads its configuration once, when it first opens the store, so the whole file
 * uses one configuration; what needs another runs in a forked child (which reopens).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "nss_index.h"
#include "nss_index_read.h"
#include "nss_loader.h"
#include "writer.h"
#include "testlib.h"
#include "util.h"

#ifndef NSS_MODULE_PATH
#define NSS_MODULE_PATH ""
#endif

#define ERRNO_SENTINEL 4242     /* what errno holds before each call; success must leave it */
#define GUARD 64                /* canary bytes after every buffer */
#define CANARY 0xA5
#define FILL 0x5A

/* ---- the module ------------------------------------------------------------------------------ */

/* The module's entry points, as glibc calls them. */
static struct nss_module m;

static const char *module_path = NSS_MODULE_PATH;

/* ---- the data ---------------------------------------------------------------------------------- */

#define N_BULK 300              /* more than two of the module's enumeration pages (128) */
#define BULK_UID(i) (11000u + 2u * (unsigned) (i))     /* even: the odd ids are left for tampered rows */
#define GID_DEVS 20100u
#define GID_MANY 20200u
#define GID_STAFF 20500u
#define PW_CHANGED_AT INT64_C(1700000000)              /* alice's password change: day 19675 */

static struct test_env env;
static char conf_path[PATH_MAX];
static int64_t carol_expires;

struct person {
        const char *name;
        uint32_t uid;
        const char *gecos;
        bool enabled;
};

/* The named users, in uid order. Their personal groups have gid == uid. */
static const struct person people[] = {
        { "alice", 10100, "Alice Archer,Room 1,,", true },     /* devs; crew through lead (senior > crew) */
        { "bob", 10101, "Bob Baker", true },                   /* devs; locked out (shadow '!') */
        { "carol", 10102, "", true },                          /* expires in a year; crew through lead */
        { "dave", 10103, "Dave D", false },                    /* disabled: in devs, not in crew */
        { "erin", 10104, "Erin E", true },                     /* lead ended an hour ago: not in crew */
        { "frank", 10105, "Frank F", true },                   /* account expired in 2020: not in crew */
};
#define N_PEOPLE ROLES_N_ELEMENTS(people)
#define N_USERS (N_PEOPLE + N_BULK)
#define N_GROUPS (N_USERS + 3)  /* personal groups, devs, many, crew */

static void bulk_name(size_t i, char *buf, size_t size) {
        snprintf(buf, size, "bulk%03u", (unsigned) (i % 1000));
}

#define assert_store_ok(s, expr)                                                                   \
        do {                                                                                       \
                int r_ = (expr);                                                                   \
                if (r_ < 0)                                                                        \
                        fail_msg("%s = %d: %s", #expr, r_, test_error(s));                  \
        } while (0)

static void add_user(struct roles_writer *s, const char *name, uint32_t uid, const char *gecos, bool enabled,
                     int64_t expires_at, struct roles_user *ret) {
        struct roles_user u = test_user(name);
        u.uid = uid;
        u.enabled = enabled;
        u.expires_at = expires_at;
        roles_strcpy(u.gecos, sizeof(u.gecos), gecos);
        test_user_insert(s, &u, NULL);
        assert_int_equal(u.uid, uid);
        assert_int_equal(u.gid, uid);
        if (ret)
                *ret = u;
}

static void exec_sql(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        char *err = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
}

static void build_database(void) {
        time_t now = time(NULL);
        struct roles_writer *s = test_writer(&env);
        struct roles_user u[N_PEOPLE];

        carol_expires = (int64_t) now + 365 * 86400;
        for (size_t i = 0; i < N_PEOPLE; i++) {
                int64_t expires = strcmp(people[i].name, "carol") == 0 ? carol_expires
                                  : strcmp(people[i].name, "frank") == 0 ? INT64_C(1577836800) : 0;
                add_user(s, people[i].name, people[i].uid, people[i].gecos, people[i].enabled, expires, &u[i]);
        }
        struct roles_group devs = test_add_group(s, "devs", GID_DEVS), many = test_add_group(s, "many", GID_MANY);
        for (size_t i = 0; i < N_PEOPLE; i++)
                if (strcmp(people[i].name, "alice") == 0 || strcmp(people[i].name, "bob") == 0 ||
                    strcmp(people[i].name, "dave") == 0)
                        assert_ok(s, roles_group_add_member(s, &devs, &u[i]));
        for (size_t i = 0; i < N_BULK; i++) {
                char name[16];
                struct roles_user b;
                bulk_name(i, name, sizeof(name));
                add_user(s, name, BULK_UID(i), "", true, 0, &b);
                assert_ok(s, roles_group_add_member(s, &many, &b));
        }

        struct roles_metarole crew = test_add_metarole(s, "crew"), senior = test_add_metarole(s, "senior");
        assert_ok(s, roles_metarole_include(s, &senior, &crew));
        assert_ok(s, roles_metarole_publish(s, &crew, GID_STAFF));
        struct roles_role lead = test_add_role(s, "lead", "senior");
        for (size_t i = 0; i < N_PEOPLE; i++) {
                const char *n = people[i].name;
                if (strcmp(n, "bob") == 0)
                        continue;
                int64_t until = strcmp(n, "erin") == 0 ? (int64_t) now - 3600 : 0;
                assert_ok(s, roles_role_assign(s, &lead, &u[i], until));
        }
        assert_ok(s, roles_secret_set_password_changed_at(s, u[0].uuid, PW_CHANGED_AT));
        test_commit(s);

        /* bob is locked out (what pam_roles writes after too many failures). */
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO tally (user_uuid, failures, first_failure_at, last_failure_at, locked_until) "
                 "VALUES ('%s', 5, %lld, %lld, %lld)", u[1].uuid, (long long) now, (long long) now,
                 (long long) now + 3600);
        exec_sql(env.cfg.state_db, sql);

        /* Rows nobody could write with rolesctl, written straight into the snapshot: none may be served. */
        exec_sql(env.cfg.public_db,
                "INSERT INTO users (uuid, name, uid, gid, gecos, home, shell, enabled, created_at, updated_at) VALUES "
                "('00000000-0000-4000-8000-000000000001', 'evil0', 0, 10100, '', '/root', '/bin/bash', 1, 0, 0),"
                "('00000000-0000-4000-8000-000000000002', 'evilg', 10200, 0, '', '/root', '/bin/bash', 1, 0, 0),"
                "('00000000-0000-4000-8000-000000000003', 'bad:name', 11151, 10100, '', '/home/x', '/bin/sh', 1, 0, 0),"
                "('00000000-0000-4000-8000-000000000004', 'evilhi', 70000, 10100, '', '/home/x', '/bin/sh', 1, 0, 0),"
                "('00000000-0000-4000-8000-000000000005', 'evilgecos', 11153, 10100, 'a:b', '/home/x', '/bin/sh', 1, 0, 0),"
                /* Display spoofing: a right-to-left override in the full name, a line separator in
                 * the home, a zero width space in the shell. */
                "('00000000-0000-4000-8000-000000000006', 'evilrlo', 11155, 10100, 'Ann\xe2\x80\xae" "Lee', '/home/x', "
                "'/bin/sh', 1, 0, 0),"
                "('00000000-0000-4000-8000-000000000007', 'evills', 11157, 10100, '', '/home/x\xe2\x80\xa8" "y', '/bin/sh', "
                "1, 0, 0),"
                "('00000000-0000-4000-8000-000000000008', 'evilzw', 11159, 10100, '', '/home/x', '/bin/\xe2\x80\x8b" "sh', "
                "1, 0, 0);"
                "INSERT INTO groups (uuid, name, gid, created_at, updated_at) VALUES "
                "('00000000-0000-4000-8000-000000000011', 'rootgrp', 0, 0, 0),"
                "('00000000-0000-4000-8000-000000000012', 'bad:grp', 11151, 0, 0),"
                "('00000000-0000-4000-8000-000000000013', 'highgrp', 70000, 0, 0);"
                "INSERT INTO group_members (group_id, user_id) "
                "SELECT g.id, u.id FROM groups g, users u WHERE g.name = 'devs' AND u.name IN ('bad:name', 'evil0');"
                "UPDATE metaroles SET gid = 0 WHERE code = 'user';");
}

static int group_setup(void **state) {
        (void) state;
        test_env_setup(&env);
        test_env_init(&env);
        build_database();

        snprintf(conf_path, sizeof(conf_path), "%s/roles.conf", env.dir);
        FILE *f = fopen(conf_path, "we");
        if (!f)
                return -1;
        fprintf(f, "public_db = %s\nsecrets_db = %s\nstate_db = %s\n" TEST_CONF_ID_RANGES
                   "argon2_t_cost = 1\nargon2_m_cost_kib = 1024\nargon2_parallelism = 1\n",
                env.cfg.public_db, env.cfg.secrets_db, env.cfg.state_db);
        if (fclose(f) != 0)
                return -1;
        /* Before the module's first call: it reads the configuration when it opens the store. */
        setenv("ROLES_CONF", conf_path, 1);

        char err[PATH_MAX + 128];
        if (nss_module_load(module_path, "roles", &m, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s\n", err);
                return -1;
        }
        return 0;
}

static int group_teardown(void **state) {
        (void) state;
        /* Not dlclose()d: glibc never unloads an NSS module, and the module keeps its connections
         * for the life of the process (unloading it would strand them, and LeakSanitizer says so). */
        test_env_teardown(&env);
        return 0;
}

/* ---- checking one result ------------------------------------------------------------------------ */

static bool str_inside(const char *p, const char *buf, size_t len) {
        if (!p || p < buf || p >= buf + len)
                return false;
        return memchr(p, '\0', (size_t) (buf + len - p)) != NULL;
}

static void check_passwd_inside(const struct passwd *pw, const char *buf, size_t len) {
        assert_true(str_inside(pw->pw_name, buf, len));
        assert_true(str_inside(pw->pw_passwd, buf, len));
        assert_true(str_inside(pw->pw_gecos, buf, len));
        assert_true(str_inside(pw->pw_dir, buf, len));
        assert_true(str_inside(pw->pw_shell, buf, len));
}

static size_t group_n_members(const struct group *gr) {
        size_t n = 0;
        while (gr->gr_mem[n])
                n++;
        return n;
}

static void check_group_inside(const struct group *gr, const char *buf, size_t len) {
        assert_true(str_inside(gr->gr_name, buf, len));
        assert_true(str_inside(gr->gr_passwd, buf, len));
        const char *mem = (const char *) gr->gr_mem;
        assert_non_null(mem);
        assert_true(mem >= buf && mem < buf + len);
        assert_int_equal((uintptr_t) mem % alignof(char *), 0);
        size_t n = 0;
        for (;; n++) {
                assert_true(mem + (n + 1) * sizeof(char *) <= buf + len);
                if (!gr->gr_mem[n])
                        break;
                assert_true(str_inside(gr->gr_mem[n], buf, len));
        }
}

static void check_shadow_inside(const struct spwd *sp, const char *buf, size_t len) {
        assert_true(str_inside(sp->sp_namp, buf, len));
        assert_true(str_inside(sp->sp_pwdp, buf, len));
}

static size_t passwd_need(const struct passwd *pw) {
        return strlen(pw->pw_name) + 1 + strlen(pw->pw_passwd) + 1 + strlen(pw->pw_gecos) + 1 +
               strlen(pw->pw_dir) + 1 + strlen(pw->pw_shell) + 1;
}

/* For a buffer aligned for pointers. */
static size_t group_need(const struct group *gr) {
        size_t n = group_n_members(gr), need = (n + 1) * sizeof(char *) + strlen(gr->gr_name) + 1 + strlen(gr->gr_passwd) + 1;
        for (size_t i = 0; i < n; i++)
                need += strlen(gr->gr_mem[i]) + 1;
        return need;
}

static size_t shadow_need(const struct spwd *sp) {
        return strlen(sp->sp_namp) + 1 + strlen(sp->sp_pwdp) + 1;
}

/* ---- every buffer length ---------------------------------------------------------------------------- */

enum kind { K_PASSWD, K_GROUP, K_SHADOW };

struct call {
        enum kind kind;
        enum nss_status (*fn)(const struct call *c, void *result, char *buf, size_t len, int *errnop);
        const char *name;
        uint32_t id;
};

static enum nss_status call_getpwnam(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        return m.getpwnam_r(c->name, res, buf, len, errnop);
}
static enum nss_status call_getpwuid(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        return m.getpwuid_r(c->id, res, buf, len, errnop);
}
static enum nss_status call_getpwent(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        (void) c;
        return m.getpwent_r(res, buf, len, errnop);
}
static enum nss_status call_getgrnam(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        return m.getgrnam_r(c->name, res, buf, len, errnop);
}
static enum nss_status call_getgrgid(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        return m.getgrgid_r(c->id, res, buf, len, errnop);
}
static enum nss_status call_getgrent(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        (void) c;
        return m.getgrent_r(res, buf, len, errnop);
}
static enum nss_status call_getspnam(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        return m.getspnam_r(c->name, res, buf, len, errnop);
}
static enum nss_status call_getspent(const struct call *c, void *res, char *buf, size_t len, int *errnop) {
        (void) c;
        return m.getspent_r(res, buf, len, errnop);
}

union result {
        struct passwd pw;
        struct group gr;
        struct spwd sp;
};

static bool bytes_are(const unsigned char *p, size_t n, unsigned char v) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != v)
                        return false;
        return true;
}

/*
 * One call into a fresh buffer of exactly len bytes (at offset bytes past an aligned address)
 * followed by GUARD canary bytes. Checks what every outcome must satisfy; returns the status.
 */
static enum nss_status call_into(const struct call *c, union result *res, size_t len, size_t offset,
                                 unsigned char **ret_area) {
        unsigned char *area = malloc(offset + len + GUARD);
        assert_non_null(area);
        char *buf = (char *) area + offset;
        memset(area, FILL, offset + len);
        memset(area + offset + len, CANARY, GUARD);
        int errnop = -1;
        memset(res, 0, sizeof(*res));

        errno = ERRNO_SENTINEL;
        enum nss_status st = c->fn(c, res, buf, len, &errnop);
        int saved_errno = errno;

        if (!bytes_are(area + offset + len, GUARD, CANARY))
                fail_msg("wrote past a buffer of %zu bytes (status %d)", len, st);
        if (!bytes_are(area, offset, FILL))
                fail_msg("wrote before a buffer of %zu bytes (status %d)", len, st);
        if (st == NSS_STATUS_TRYAGAIN) {
                if (errnop != ERANGE)
                        fail_msg("TRYAGAIN with *errnop %d (want ERANGE) at %zu bytes", errnop, len);
                if (!bytes_are(area + offset, len, FILL))
                        fail_msg("a buffer of %zu bytes that was too small was written to", len);
        } else if (st == NSS_STATUS_SUCCESS) {
                if (saved_errno != ERRNO_SENTINEL)
                        fail_msg("errno changed to %d on success", saved_errno);
                if (c->kind == K_PASSWD)
                        check_passwd_inside(&res->pw, buf, len);
                else if (c->kind == K_GROUP)
                        check_group_inside(&res->gr, buf, len);
                else
                        check_shadow_inside(&res->sp, buf, len);
        }
        if (ret_area)
                *ret_area = area;
        else
                free(area);
        return st;
}

static size_t result_need(enum kind kind, const union result *res) {
        return kind == K_PASSWD ? passwd_need(&res->pw) : kind == K_GROUP ? group_need(&res->gr) : shadow_need(&res->sp);
}

/*
 * Every length from 0 up: TRYAGAIN/ERANGE until the size the entry needs, success exactly
 * there. The result is left in *res, pointing into *ret_area (the caller frees it).
 */
static size_t sweep(const struct call *c, union result *res, unsigned char **ret_area) {
        for (size_t len = 0; len < 1 << 16; len++) {
                unsigned char *area = NULL;
                enum nss_status st = call_into(c, res, len, 0, &area);
                if (st == NSS_STATUS_TRYAGAIN) {
                        free(area);
                        continue;
                }
                if (st != NSS_STATUS_SUCCESS)
                        fail_msg("status %d at %zu bytes", st, len);
                size_t need = result_need(c->kind, res);
                if (need != len)
                        fail_msg("succeeded at %zu bytes, but the entry needs %zu", len, need);
                *ret_area = area;
                return len;
        }
        fail_msg("never succeeded");
        return 0;
}

static void expect_passwd(const struct passwd *pw, const char *name, uint32_t uid, uint32_t gid, const char *gecos) {
        char home[64];
        assert_string_equal(pw->pw_name, name);
        assert_string_equal(pw->pw_passwd, "x");
        assert_int_equal(pw->pw_uid, uid);
        assert_int_equal(pw->pw_gid, gid);
        assert_string_equal(pw->pw_gecos, gecos);
        snprintf(home, sizeof(home), "/home/%s", name);
        assert_string_equal(pw->pw_dir, home);
        assert_string_equal(pw->pw_shell, "/bin/bash");
}

static void expect_members(const struct group *gr, const char *const *want, size_t n) {
        size_t got = group_n_members(gr);
        if (got != n)
                fail_msg("group %s: %zu members, want %zu", gr->gr_name, got, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(gr->gr_mem[i], want[i]);
}

static const char *const devs_members[] = { "alice", "bob", "dave" };
static const char *const staff_members[] = { "alice", "carol" };

static void test_passwd_buffers(void **state) {
        (void) state;
        union result res;
        unsigned char *area;

        for (size_t i = 0; i < N_PEOPLE; i++) {
                struct call by_name = { K_PASSWD, call_getpwnam, people[i].name, 0 };
                sweep(&by_name, &res, &area);
                expect_passwd(&res.pw, people[i].name, people[i].uid, people[i].uid, people[i].gecos);
                free(area);

                struct call by_uid = { K_PASSWD, call_getpwuid, NULL, people[i].uid };
                sweep(&by_uid, &res, &area);
                expect_passwd(&res.pw, people[i].name, people[i].uid, people[i].uid, people[i].gecos);
                free(area);
        }
        /* A larger buffer than needed, at odd offsets: still inside, still right. */
        for (size_t off = 0; off < 8; off++) {
                struct call c = { K_PASSWD, call_getpwnam, "alice", 0 };
                assert_int_equal(call_into(&c, &res, 4096, off, &area), NSS_STATUS_SUCCESS);
                expect_passwd(&res.pw, "alice", 10100, 10100, "Alice Archer,Room 1,,");
                free(area);
        }
}

static void test_group_buffers(void **state) {
        (void) state;
        union result res;
        unsigned char *area;
        struct {
                const char *name;
                uint32_t gid;
                const char *const *members;
                size_t n;
        } groups[] = {
                { "alice", 10100, NULL, 0 },
                { "devs", GID_DEVS, devs_members, ROLES_N_ELEMENTS(devs_members) },
                { "crew", GID_STAFF, staff_members, ROLES_N_ELEMENTS(staff_members) },
                { "many", GID_MANY, NULL, N_BULK },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(groups); i++) {
                for (int by_gid = 0; by_gid < 2; by_gid++) {
                        struct call c = by_gid ? (struct call) { K_GROUP, call_getgrgid, NULL, groups[i].gid }
                                               : (struct call) { K_GROUP, call_getgrnam, groups[i].name, 0 };
                        sweep(&c, &res, &area);
                        assert_string_equal(res.gr.gr_name, groups[i].name);
                        assert_string_equal(res.gr.gr_passwd, "x");
                        assert_int_equal(res.gr.gr_gid, groups[i].gid);
                        if (groups[i].members)
                                expect_members(&res.gr, groups[i].members, groups[i].n);
                        else if (strcmp(groups[i].name, "many") == 0) {
                                assert_int_equal(group_n_members(&res.gr), N_BULK);
                                for (size_t k = 0; k < N_BULK; k++) {
                                        char name[16];
                                        bulk_name(k, name, sizeof(name));
                                        assert_string_equal(res.gr.gr_mem[k], name);
                                }
                        } else
                                assert_int_equal(group_n_members(&res.gr), 0);
                        free(area);
                }
        }
        /* A buffer that is not aligned for pointers: the member array is aligned inside it, and a
         * buffer short by one byte of that is still refused cleanly. */
        for (size_t off = 1; off < alignof(char *); off++) {
                struct call c = { K_GROUP, call_getgrnam, "devs", 0 };
                assert_int_equal(call_into(&c, &res, 4096, off, &area), NSS_STATUS_SUCCESS);
                expect_members(&res.gr, devs_members, 3);
                size_t need = group_need(&res.gr) + (alignof(char *) - off);
                free(area);
                assert_int_equal(call_into(&c, &res, need - 1, off, NULL), NSS_STATUS_TRYAGAIN);
                assert_int_equal(call_into(&c, &res, need, off, &area), NSS_STATUS_SUCCESS);
                expect_members(&res.gr, devs_members, 3);
                free(area);
        }
}

static long days(int64_t t) {
        return (long) (t / 86400);
}

static void test_shadow_buffers(void **state) {
        (void) state;
        union result res;
        unsigned char *area;
        for (size_t i = 0; i < N_PEOPLE; i++) {
                struct call c = { K_SHADOW, call_getspnam, people[i].name, 0 };
                sweep(&c, &res, &area);
                const char *name = people[i].name;
                bool locked = strcmp(name, "bob") == 0 || !people[i].enabled;
                assert_string_equal(res.sp.sp_namp, name);
                assert_string_equal(res.sp.sp_pwdp, locked ? "!" : "*");
                assert_int_equal(res.sp.sp_lstchg, strcmp(name, "alice") == 0 ? days(PW_CHANGED_AT) : -1);
                long expire = strcmp(name, "carol") == 0 ? days(carol_expires) : strcmp(name, "frank") == 0 ? 18262 : -1;
                assert_int_equal(res.sp.sp_expire, expire);
                assert_int_equal(res.sp.sp_min, -1);
                assert_int_equal(res.sp.sp_max, -1);
                assert_int_equal(res.sp.sp_warn, -1);
                assert_int_equal(res.sp.sp_inact, -1);
                free(area);
        }
}

/* ---- not found ------------------------------------------------------------------------------------ */

#define assert_notfound(expr)                                                                             \
        do {                                                                                              \
                int errnop_ = 0;                                                                          \
                char buf_[1024];                                                                          \
                union result res_;                                                                        \
                enum nss_status st_ = (expr);                                                             \
                if (st_ != NSS_STATUS_NOTFOUND || errnop_ != ENOENT)                                      \
                        fail_msg("%s: status %d, *errnop %d (want NOTFOUND, ENOENT)", #expr, st_, errnop_); \
        } while (0)

static void test_not_found(void **state) {
        (void) state;
        char long_name[300];
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        const char *names[] = { "nosuch", "", "Alice", "alice ", "bad:name", "evil0", "evilg", "evilhi", "evilgecos",
                                "evilrlo", "evills", "evilzw", "../alice", "a\nb", long_name };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(names); i++) {
                assert_notfound(m.getpwnam_r(names[i], &res_.pw, buf_, sizeof(buf_), &errnop_));
                assert_notfound(m.getspnam_r(names[i], &res_.sp, buf_, sizeof(buf_), &errnop_));
        }
        /* 0 and 70000 are out of range; 10200 and 11151-11159 are tampered rows; 10999 is free. */
        const uint32_t uids[] = { 0, 1, 9999, 10200, 10999, 11151, 11153, 11155, 11157, 11159, 60000, 70000,
                                  UINT32_MAX - 1, UINT32_MAX };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(uids); i++)
                assert_notfound(m.getpwuid_r(uids[i], &res_.pw, buf_, sizeof(buf_), &errnop_));

        const char *groups[] = { "nosuch", "", "rootgrp", "bad:grp", "highgrp", "user", "admin", "super-admin",
                                 "senior", "lead", "bad:name", long_name };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(groups); i++)
                assert_notfound(m.getgrnam_r(groups[i], &res_.gr, buf_, sizeof(buf_), &errnop_));
        const uint32_t gids[] = { 0, 1, 9999, 10999, 11151, 60000, 70000, UINT32_MAX - 1, UINT32_MAX };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(gids); i++)
                assert_notfound(m.getgrgid_r(gids[i], &res_.gr, buf_, sizeof(buf_), &errnop_));

        /* Tampered member rows are not listed. */
        union result res;
        char buf[1024];
        int errnop = 0;
        assert_int_equal(m.getgrnam_r("devs", &res.gr, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        expect_members(&res.gr, devs_members, 3);

        long start = 1, size = 4;
        gid_t *groups_list = calloc((size_t) size, sizeof(gid_t));
        assert_non_null(groups_list);
        groups_list[0] = 100;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(names); i++) {
                errnop = 0;
                enum nss_status st = m.initgroups_dyn(names[i], 100, &start, &size, &groups_list, -1, &errnop);
                if (st != NSS_STATUS_NOTFOUND || errnop != ENOENT)
                        fail_msg("initgroups_dyn(%s): status %d, *errnop %d", names[i], st, errnop);
                assert_int_equal(start, 1);
        }
        free(groups_list);
}

/* ---- errno ----------------------------------------------------------------------------------------- */

static void test_errno_untouched(void **state) {
        (void) state;
        union result res;
        char buf[8192];
        int errnop = 0;
#define NO_ERRNO(expr)                                                                      \
        do {                                                                                \
                errno = ERRNO_SENTINEL;                                                     \
                enum nss_status st_ = (expr);                                               \
                int e_ = errno;                                                             \
                if (st_ != NSS_STATUS_SUCCESS)                                              \
                        fail_msg("%s: status %d", #expr, st_);                              \
                if (e_ != ERRNO_SENTINEL)                                                   \
                        fail_msg("%s: errno changed to %d", #expr, e_);                     \
        } while (0)
        NO_ERRNO(m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.getpwuid_r(10100, &res.pw, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.setpwent(1));
        NO_ERRNO(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.endpwent());
        NO_ERRNO(m.getgrnam_r("crew", &res.gr, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.getgrgid_r(GID_MANY, &res.gr, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.setgrent(0));
        NO_ERRNO(m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.endgrent());
        NO_ERRNO(m.getspnam_r("bob", &res.sp, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.setspent(0));
        NO_ERRNO(m.getspent_r(&res.sp, buf, sizeof(buf), &errnop));
        NO_ERRNO(m.endspent());
        long start = 1, size = 1;
        gid_t *g = malloc(sizeof(gid_t));
        assert_non_null(g);
        g[0] = 10100;
        NO_ERRNO(m.initgroups_dyn("alice", 10100, &start, &size, &g, -1, &errnop));
        free(g);
        /* An end without a start, twice: harmless. */
        NO_ERRNO(m.endpwent());
        NO_ERRNO(m.endpwent());
        NO_ERRNO(m.endgrent());
        NO_ERRNO(m.endspent());
#undef NO_ERRNO
}

/* ---- enumeration ------------------------------------------------------------------------------------- */

/* Index of a user or personal group by id in [0, N_USERS), or -1. */
static int user_index(uint32_t uid) {
        for (size_t i = 0; i < N_PEOPLE; i++)
                if (people[i].uid == uid)
                        return (int) i;
        if (uid >= BULK_UID(0) && uid <= BULK_UID(N_BULK - 1) && (uid - BULK_UID(0)) % 2 == 0)
                return (int) (N_PEOPLE + (uid - BULK_UID(0)) / 2);
        return -1;
}

static const char *expected_user_name(int idx, char *buf, size_t size) {
        if ((size_t) idx < N_PEOPLE)
                return people[idx].name;
        bulk_name((size_t) idx - N_PEOPLE, buf, size);
        return buf;
}

/* Walk one database from set to end, growing the buffer from 1 byte on every ERANGE. */
static void enumerate_growing(enum kind kind) {
        static const struct call calls[] = {
                [K_PASSWD] = { K_PASSWD, call_getpwent, NULL, 0 },
                [K_GROUP] = { K_GROUP, call_getgrent, NULL, 0 },
                [K_SHADOW] = { K_SHADOW, call_getspent, NULL, 0 },
        };
        const struct call *c = &calls[kind];
        unsigned seen[N_USERS] = { 0 };
        unsigned seen_devs = 0, seen_many = 0, seen_staff = 0;
        size_t entries = 0, calls_made = 0;
        union result res;
        int64_t last_id = -1;

        enum nss_status st = kind == K_PASSWD ? m.setpwent(0) : kind == K_GROUP ? m.setgrent(0) : m.setspent(0);
        assert_int_equal(st, NSS_STATUS_SUCCESS);
        for (;;) {
                size_t len = 1;
                unsigned char *area = NULL;
                for (;;) {
                        calls_made++;
                        st = call_into(c, &res, len, 0, &area);
                        if (st != NSS_STATUS_TRYAGAIN)
                                break;
                        free(area);
                        area = NULL;
                        len++;
                }
                if (st == NSS_STATUS_NOTFOUND) {
                        free(area);
                        break;
                }
                if (st != NSS_STATUS_SUCCESS)
                        fail_msg("enumeration: status %d after %zu entries", st, entries);
                if (len != result_need(kind, &res))
                        fail_msg("enumeration: succeeded at %zu bytes, the entry needs %zu", len, result_need(kind, &res));
                entries++;
                char nbuf[16];
                if (kind == K_PASSWD) {
                        int idx = user_index(res.pw.pw_uid);
                        if (idx < 0)
                                fail_msg("enumeration served uid %u (%s)", res.pw.pw_uid, res.pw.pw_name);
                        assert_string_equal(res.pw.pw_name, expected_user_name(idx, nbuf, sizeof(nbuf)));
                        assert_true((int64_t) res.pw.pw_uid > last_id);
                        last_id = res.pw.pw_uid;
                        seen[idx]++;
                } else if (kind == K_SHADOW) {
                        struct passwd pw;
                        char pbuf[1024];
                        int e;
                        /* Map back through the name: shadow entries carry no uid. */
                        assert_int_equal(m.getpwnam_r(res.sp.sp_namp, &pw, pbuf, sizeof(pbuf), &e), NSS_STATUS_SUCCESS);
                        int idx = user_index(pw.pw_uid);
                        assert_true(idx >= 0);
                        assert_true((int64_t) pw.pw_uid > last_id);
                        last_id = pw.pw_uid;
                        seen[idx]++;
                        if (strcmp(res.sp.sp_namp, "alice") == 0)
                                assert_int_equal(res.sp.sp_lstchg, days(PW_CHANGED_AT));
                        if (strcmp(res.sp.sp_namp, "dave") == 0 || strcmp(res.sp.sp_namp, "bob") == 0)
                                assert_string_equal(res.sp.sp_pwdp, "!");
                } else {
                        uint32_t gid = res.gr.gr_gid;
                        assert_true((int64_t) gid > last_id);
                        last_id = gid;
                        if (gid == GID_DEVS) {
                                assert_string_equal(res.gr.gr_name, "devs");
                                expect_members(&res.gr, devs_members, 3);
                                seen_devs++;
                        } else if (gid == GID_MANY) {
                                assert_string_equal(res.gr.gr_name, "many");
                                assert_int_equal(group_n_members(&res.gr), N_BULK);
                                seen_many++;
                        } else if (gid == GID_STAFF) {
                                assert_string_equal(res.gr.gr_name, "crew");
                                expect_members(&res.gr, staff_members, 2);
                                seen_staff++;
                        } else {
                                int idx = user_index(gid);
                                if (idx < 0)
                                        fail_msg("enumeration served gid %u (%s)", gid, res.gr.gr_name);
                                assert_string_equal(res.gr.gr_name, expected_user_name(idx, nbuf, sizeof(nbuf)));
                                assert_int_equal(group_n_members(&res.gr), 0);
                                seen[idx]++;
                        }
                }
                free(area);
        }
        /* After the end, the end again. */
        int errnop = 0;
        char buf[16];
        st = c->fn(c, &res, buf, sizeof(buf), &errnop);
        assert_int_equal(st, NSS_STATUS_NOTFOUND);
        assert_int_equal(errnop, ENOENT);
        st = kind == K_PASSWD ? m.endpwent() : kind == K_GROUP ? m.endgrent() : m.endspent();
        assert_int_equal(st, NSS_STATUS_SUCCESS);

        for (size_t i = 0; i < N_USERS; i++) {
                char nbuf[16];
                if (seen[i] != 1)
                        fail_msg("%s enumeration: '%s' seen %u times (%zu entries in all)",
                                 kind == K_PASSWD ? "passwd" : kind == K_GROUP ? "group" : "shadow",
                                 expected_user_name((int) i, nbuf, sizeof(nbuf)), seen[i], entries);
        }
        if (kind == K_GROUP) {
                assert_int_equal(seen_devs, 1);
                assert_int_equal(seen_many, 1);
                assert_int_equal(seen_staff, 1);
                assert_int_equal(entries, N_GROUPS);
        } else
                assert_int_equal(entries, N_USERS);
        assert_true(calls_made > entries);
}

static void test_enum_passwd(void **state) {
        (void) state;
        enumerate_growing(K_PASSWD);
        /* Again, from the start. */
        enumerate_growing(K_PASSWD);
}

static void test_enum_group(void **state) {
        (void) state;
        enumerate_growing(K_GROUP);
}

static void test_enum_shadow(void **state) {
        (void) state;
        enumerate_growing(K_SHADOW);
}

/* setXent in the middle starts over; getXent without setXent starts at the beginning. */
static void test_enum_restart(void **state) {
        (void) state;
        union result res;
        char buf[8192];
        int errnop;
        assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
        for (int i = 0; i < 3; i++)
                assert_int_equal(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.pw.pw_name, "carol");
        assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.pw.pw_name, "alice");
        assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.pw.pw_name, "alice");
        assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);

        assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.gr.gr_name, "bob");
        assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.gr.gr_name, "alice");
        assert_int_equal(m.endgrent(), NSS_STATUS_SUCCESS);

        assert_int_equal(m.setspent(0), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getspent_r(&res.sp, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.sp.sp_namp, "alice");
        assert_int_equal(m.endspent(), NSS_STATUS_SUCCESS);
}

/* What this process has resident (KiB, /proc/self/smaps' Rss) of the mapping that starts at
 * start, or with start NULL of every mapping of roles.nss and its delta. */
static long rss_kib(const void *start) {
        FILE *f = fopen("/proc/self/smaps", "re");
        char line[PATH_MAX + 256];
        bool ours = false;
        long total = 0, kib;
        unsigned long from;
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                /* A mapping's first line: "start-end perms offset dev inode path". */
                if (strchr("0123456789abcdef", line[0]) && strchr(line, '-') && strchr(line, '-') < strchr(line, ' '))
                        ours = start ? sscanf(line, "%lx-", &from) == 1 && from == (uintptr_t) start
                                     : strstr(line, "/roles.nss") != NULL;
                else if (ours && sscanf(line, "Rss: %ld kB", &kib) == 1)
                        total += kib;
        }
        fclose(f);
        return total;
}

static long index_rss_kib(void) {
        return rss_kib(NULL);
}

/* nss_index_drop_pages keeps the pages of the sections it is told to keep, and only those. */
static void test_drop_pages_keeps_sections(void **state) {
        (void) state;
        char path[PATH_MAX];
        struct nss_index_file f;
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        const uint32_t keep = 1u << NSS_SECTION_USERS | 1u << NSS_SECTION_STRINGS;
        assert_int_equal(roles_config_index_path(&env.cfg, false, path, sizeof(path)), 0);
        assert_int_equal(nss_index_map(path, &f, NULL), 0);
        size_t pages = (f.size + page - 1) / page, kept = 0;
        volatile unsigned char sum = 0;
        for (size_t p = 0; p < pages; p++)
                sum += f.data[p * page];
        assert_int_equal(rss_kib(f.data), (long) (pages * page / 1024));

        /* The pages that hold a byte of the users' records or of the strings. */
        size_t users = (size_t) f.header->sections[NSS_SECTION_USERS].offset;
        size_t strings = (size_t) f.header->sections[NSS_SECTION_STRINGS].offset;
        for (size_t p = 0; p < pages; p++)
                kept += (users < (p + 1) * page && users + f.n[NSS_SECTION_USERS] * sizeof(struct nss_index_user) > p * page) ||
                        (strings < (p + 1) * page && strings + f.n[NSS_SECTION_STRINGS] > p * page);
        assert_true(kept > 0 && kept < pages);
        nss_index_drop_pages(&f, keep);
        assert_int_equal(rss_kib(f.data), (long) (kept * page / 1024));
        nss_index_drop_pages(&f, 0);
        assert_int_equal(rss_kib(f.data), 0);
        nss_index_unmap(&f);
}

/* An enumeration lets the pages of the index go when it ends, at its end or at end*ent (those of
 * the lookups before it too): a process that walked the index is left no larger than it was. */
static void test_enum_lets_pages_go(void **state) {
        (void) state;
        union result res;
        char buf[8192];
        int errnop;
        assert_int_equal(m.getgrgid_r(GID_MANY, &res.gr, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_true(index_rss_kib() > 0);
        assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
        size_t entries = 0;
        while (m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS)
                entries++;
        assert_int_equal(entries, N_GROUPS);
        assert_int_equal(index_rss_kib(), 0);
        assert_int_equal(m.endgrent(), NSS_STATUS_SUCCESS);

        /* Stopped in the middle, then ended. */
        assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
        for (int i = 0; i < 5; i++)
                assert_int_equal(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_true(index_rss_kib() > 0);
        assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);
        assert_int_equal(index_rss_kib(), 0);
}

/* roles.nss holds every user's name first, in uid order, then every group's, then the users'
 * other texts: a group's member list reads names alone, and kept together they stay cached. */
static void test_index_names_first(void **state) {
        (void) state;
        char path[PATH_MAX];
        struct nss_index_file f;
        uint64_t at = 0;
        assert_int_equal(roles_config_index_path(&env.cfg, false, path, sizeof(path)), 0);
        assert_int_equal(nss_index_map(path, &f, NULL), 0);
        assert_true(f.n[NSS_SECTION_USERS] >= N_USERS);
        for (uint64_t i = 0; i < f.n[NSS_SECTION_USERS]; i++) {
                assert_int_equal(f.users[i].name.offset, at);
                at += f.users[i].name.length;
        }
        for (uint64_t i = 0; i < f.n[NSS_SECTION_GROUPS]; i++) {
                assert_int_equal(f.groups[i].name.offset, at);
                at += f.groups[i].name.length;
        }
        for (uint64_t i = 0; i < f.n[NSS_SECTION_USERS]; i++)
                assert_true(f.users[i].gecos.offset >= at && f.users[i].home.offset >= at && f.users[i].shell.offset >= at);
        nss_index_unmap(&f);
}

/* ---- initgroups_dyn ----------------------------------------------------------------------------------- */

static void sort_gids(gid_t *g, long n) {
        for (long i = 1; i < n; i++)
                for (long j = i; j > 0 && g[j - 1] > g[j]; j--) {
                        gid_t t = g[j];
                        g[j] = g[j - 1];
                        g[j - 1] = t;
                }
}

/* Call with groups[0..start) = initial, room for size; compare the sorted outcome with want. */
static void check_initgroups(const char *user, gid_t group, const gid_t *initial, long start, long size, long limit,
                             const gid_t *want, long n_want) {
        gid_t *groups = size > 0 ? calloc((size_t) size, sizeof(gid_t)) : NULL;
        if (size > 0)
                assert_non_null(groups);
        for (long i = 0; i < start; i++)
                groups[i] = initial[i];
        int errnop = 0;
        errno = ERRNO_SENTINEL;
        enum nss_status st = m.initgroups_dyn(user, group, &start, &size, &groups, limit, &errnop);
        if (st != NSS_STATUS_SUCCESS)
                fail_msg("initgroups_dyn(%s): status %d, *errnop %d", user, st, errnop);
        assert_int_equal(errno, ERRNO_SENTINEL);
        assert_true(start <= size);
        if (limit > 0)
                assert_true(size <= limit);
        sort_gids(groups, start);
        for (long i = 1; i < start; i++)
                if (groups[i] == groups[i - 1])
                        fail_msg("initgroups_dyn(%s): gid %u twice", user, groups[i]);
        if (start != n_want)
                fail_msg("initgroups_dyn(%s): %ld groups, want %ld", user, start, n_want);
        for (long i = 0; i < n_want; i++)
                assert_int_equal(groups[i], want[i]);
        free(groups);
}

static void test_initgroups(void **state) {
        (void) state;
        /* The primary group comes first in glibc's array and is never added again. */
        check_initgroups("alice", 10100, (gid_t[]) { 10100 }, 1, 1, -1, (gid_t[]) { 10100, GID_DEVS, GID_STAFF }, 3);
        check_initgroups("alice", 10100, (gid_t[]) { 10100 }, 1, 64, 0, (gid_t[]) { 10100, GID_DEVS, GID_STAFF }, 3);
        /* From nothing at all. */
        check_initgroups("alice", 10100, NULL, 0, 0, -1, (gid_t[]) { GID_DEVS, GID_STAFF }, 2);
        /* What another module already added is not added again. */
        check_initgroups("alice", 10100, (gid_t[]) { 10100, GID_STAFF, 5 }, 3, 3, -1,
                         (gid_t[]) { 5, 10100, GID_DEVS, GID_STAFF }, 4);
        /* The group argument is skipped even when it is one of the user's groups. */
        check_initgroups("alice", GID_DEVS, (gid_t[]) { GID_DEVS }, 1, 1, -1, (gid_t[]) { GID_DEVS, GID_STAFF }, 2);
        /* The limit: the array never grows past it. */
        {
                long start = 1, size = 2;
                gid_t *g = calloc(2, sizeof(gid_t));
                assert_non_null(g);
                g[0] = 10100;
                int errnop = 0;
                enum nss_status st = m.initgroups_dyn("alice", 10100, &start, &size, &g, 2, &errnop);
                assert_true(st == NSS_STATUS_SUCCESS);
                assert_int_equal(size, 2);
                assert_int_equal(start, 2);
                assert_int_equal(g[0], 10100);
                assert_true(g[1] == GID_DEVS || g[1] == GID_STAFF);
                free(g);
        }
        {
                long start = 1, size = 1;
                gid_t *g = calloc(1, sizeof(gid_t));
                assert_non_null(g);
                g[0] = 10100;
                int errnop = 0;
                enum nss_status st = m.initgroups_dyn("alice", 10100, &start, &size, &g, 1, &errnop);
                assert_true(st == NSS_STATUS_SUCCESS);
                assert_int_equal(size, 1);
                assert_int_equal(start, 1);
                assert_int_equal(g[0], 10100);
                free(g);
        }
        /* Derived membership: the disabled, the ended grant and the expired account hold no metarole. */
        check_initgroups("dave", 10103, (gid_t[]) { 10103 }, 1, 1, -1, (gid_t[]) { 10103, GID_DEVS }, 2);
        check_initgroups("erin", 10104, (gid_t[]) { 10104 }, 1, 1, -1, (gid_t[]) { 10104 }, 1);
        check_initgroups("frank", 10105, (gid_t[]) { 10105 }, 1, 1, -1, (gid_t[]) { 10105 }, 1);
        check_initgroups("carol", 10102, (gid_t[]) { 10102 }, 1, 1, -1, (gid_t[]) { 10102, GID_STAFF }, 2);
        check_initgroups("bob", 10101, (gid_t[]) { 10101 }, 1, 1, -1, (gid_t[]) { 10101, GID_DEVS }, 2);
        check_initgroups("bulk007", BULK_UID(7), (gid_t[]) { BULK_UID(7) }, 1, 1, -1,
                         (gid_t[]) { BULK_UID(7), GID_MANY }, 2);
}

/* ---- threads -------------------------------------------------------------------------------------------- */

#define N_THREADS 8
#define LOOKUP_ROUNDS 1500
#define ENUM_ROUNDS 6

static atomic_int thread_errors;
static char thread_error[256];
static pthread_mutex_t thread_error_lock = PTHREAD_MUTEX_INITIALIZER;

static void thread_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void thread_fail(const char *fmt, ...) {
        if (atomic_fetch_add(&thread_errors, 1) == 0) {
                va_list ap;
                va_start(ap, fmt);
                pthread_mutex_lock(&thread_error_lock);
                vsnprintf(thread_error, sizeof(thread_error), fmt, ap);
                pthread_mutex_unlock(&thread_error_lock);
                va_end(ap);
        }
}

/* One whole enumeration with a buffer that grows on ERANGE; returns the number of entries. */
static long enumerate_once(enum kind kind) {
        size_t cap = 64;
        char *buf = malloc(cap);
        union result res;
        long n = 0;
        int errnop;
        if (!buf)
                return -1;
        (kind == K_PASSWD ? m.setpwent : kind == K_GROUP ? m.setgrent : m.setspent)(0);
        for (;;) {
                enum nss_status st = kind == K_PASSWD ? m.getpwent_r(&res.pw, buf, cap, &errnop)
                                     : kind == K_GROUP ? m.getgrent_r(&res.gr, buf, cap, &errnop)
                                                       : m.getspent_r(&res.sp, buf, cap, &errnop);
                if (st == NSS_STATUS_TRYAGAIN && errnop == ERANGE) {
                        char *b = realloc(buf, cap * 2);
                        if (!b)
                                break;
                        buf = b;
                        cap *= 2;
                        continue;
                }
                if (st == NSS_STATUS_NOTFOUND)
                        break;
                if (st != NSS_STATUS_SUCCESS) {
                        n = -1;
                        break;
                }
                n++;
        }
        (kind == K_PASSWD ? m.endpwent : kind == K_GROUP ? m.endgrent : m.endspent)();
        free(buf);
        return n;
}

static bool lookup_ok(unsigned i) {
        union result res;
        char buf[8192];
        int errnop;
        char name[16];
        size_t b = i % N_BULK;
        bulk_name(b, name, sizeof(name));
        switch (i % 7) {
        case 0:
                return m.getpwnam_r(name, &res.pw, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS &&
                       res.pw.pw_uid == BULK_UID(b) && strcmp(res.pw.pw_name, name) == 0;
        case 1:
                return m.getpwuid_r(BULK_UID(b), &res.pw, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS &&
                       strcmp(res.pw.pw_name, name) == 0;
        case 2:
                return m.getgrnam_r("devs", &res.gr, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS &&
                       res.gr.gr_gid == GID_DEVS && group_n_members(&res.gr) == 3 &&
                       strcmp(res.gr.gr_mem[2], "dave") == 0;
        case 3:
                return m.getgrgid_r(GID_STAFF, &res.gr, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS &&
                       strcmp(res.gr.gr_name, "crew") == 0 && group_n_members(&res.gr) == 2;
        case 4:
                return m.getspnam_r(name, &res.sp, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS &&
                       strcmp(res.sp.sp_namp, name) == 0 && strcmp(res.sp.sp_pwdp, "*") == 0;
        case 5: {
                long start = 1, size = 1;
                gid_t *g = malloc(sizeof(gid_t));
                if (!g)
                        return false;
                g[0] = 10100;
                bool ok = m.initgroups_dyn("alice", 10100, &start, &size, &g, -1, &errnop) == NSS_STATUS_SUCCESS &&
                          start == 3;
                free(g);
                return ok;
        }
        default:
                return m.getpwnam_r("nosuch", &res.pw, buf, sizeof(buf), &errnop) == NSS_STATUS_NOTFOUND &&
                       errnop == ENOENT;
        }
}

static void *thread_main(void *arg) {
        unsigned id = (unsigned) (uintptr_t) arg;
        if (id < 3) {
                /* One thread per database enumerates, as glibc serializes enumeration per database. */
                enum kind kind = id == 0 ? K_PASSWD : id == 1 ? K_GROUP : K_SHADOW;
                long want = kind == K_GROUP ? (long) N_GROUPS : (long) N_USERS;
                for (int r = 0; r < ENUM_ROUNDS; r++) {
                        long n = enumerate_once(kind);
                        if (n != want)
                                thread_fail("thread %u: enumeration gave %ld entries, want %ld", id, n, want);
                }
                return NULL;
        }
        for (unsigned i = 0; i < LOOKUP_ROUNDS; i++)
                if (!lookup_ok(i * 13 + id))
                        thread_fail("thread %u: lookup %u (kind %u) failed", id, i, (i * 13 + id) % 7);
        return NULL;
}

static void test_threads(void **state) {
        (void) state;
        pthread_t t[N_THREADS];
        atomic_store(&thread_errors, 0);
        for (unsigned i = 0; i < N_THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, thread_main, (void *) (uintptr_t) i), 0);
        for (unsigned i = 0; i < N_THREADS; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        if (atomic_load(&thread_errors) > 0)
                fail_msg("%d failures; first: %s", atomic_load(&thread_errors), thread_error);
}

/* ---- fork ----------------------------------------------------------------------------------------------- */

/* What a child checks: 0 when all is right, else the number of the first wrong answer. */
static int child_lookups(void) {
        union result res;
        char buf[8192];
        int errnop;
        if (m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop) != NSS_STATUS_SUCCESS || res.pw.pw_uid != 10100)
                return 10;
        if (m.getpwuid_r(10101, &res.pw, buf, sizeof(buf), &errnop) != NSS_STATUS_SUCCESS ||
            strcmp(res.pw.pw_name, "bob") != 0)
                return 11;
        if (m.getgrnam_r("crew", &res.gr, buf, sizeof(buf), &errnop) != NSS_STATUS_SUCCESS ||
            group_n_members(&res.gr) != 2)
                return 12;
        if (m.getspnam_r("dave", &res.sp, buf, sizeof(buf), &errnop) != NSS_STATUS_SUCCESS ||
            strcmp(res.sp.sp_pwdp, "!") != 0)
                return 13;
        if (m.getpwnam_r("nosuch", &res.pw, buf, sizeof(buf), &errnop) != NSS_STATUS_NOTFOUND)
                return 14;
        return 0;
}

static void wait_child(pid_t pid, const char *what) {
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
                fail_msg("%s: child killed by signal %d%s", what, WTERMSIG(status),
                         WTERMSIG(status) == SIGALRM ? " (hung: deadlocked?)" : "");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("%s: child exited with %d", what, WEXITSTATUS(status));
}

static void test_fork(void **state) {
        (void) state;
        union result res;
        char buf[1024];
        int errnop;
        /* The parent has a store open (and a cursor in the middle) when it forks. */
        assert_int_equal(m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getspnam_r("alice", &res.sp, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.pw.pw_name, "alice");

        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                int r = child_lookups();
                /* The inherited cursor goes on where the parent's was. */
                if (r == 0 && (m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop) != NSS_STATUS_SUCCESS ||
                               strcmp(res.pw.pw_name, "bob") != 0))
                        r = 20;
                if (r == 0 && enumerate_once(K_GROUP) != (long) N_GROUPS)
                        r = 21;
                _exit(r);
        }
        wait_child(pid, "fork after lookups");
        /* The parent's state is its own: its cursor goes on too, and lookups still work. */
        assert_int_equal(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.pw.pw_name, "bob");
        assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);
        assert_int_equal(child_lookups(), 0);

        /* A grandchild of a child that looked things up. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                int r = child_lookups();
                if (r == 0) {
                        pid_t gc = fork();
                        if (gc < 0)
                                _exit(30);
                        if (gc == 0)
                                _exit(child_lookups());
                        int status;
                        if (waitpid(gc, &status, 0) != gc || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                r = 31;
                }
                _exit(r);
        }
        wait_child(pid, "grandchild");
}

static atomic_bool stop_hammering;

static void *hammer(void *arg) {
        unsigned i = (unsigned) (uintptr_t) arg;
        while (!atomic_load(&stop_hammering)) {
                /* Not initgroups (5): its array is on the heap, and a child forked while it is
                 * in flight inherits it unreachable, which valgrind's leak check would blame. */
                if (i % 7 == 5)
                        i++;
                if (!lookup_ok(i))
                        thread_fail("hammer %u failed", i % 7);
                i += 7 * 3 + 1;
        }
        return NULL;
}

/* Other threads are in the middle of lookups when the process forks: the child must not inherit a held lock. */
static void test_fork_while_threads(void **state) {
        (void) state;
        pthread_t t[4];
        atomic_store(&stop_hammering, false);
        atomic_store(&thread_errors, 0);
        for (unsigned i = 0; i < ROLES_N_ELEMENTS(t); i++)
                assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *) (uintptr_t) i), 0);
        int bad = 0, hung = 0;
        for (int k = 0; k < 60; k++) {
                pid_t pid = fork();
                if (pid == 0) {
                        alarm(10);
                        _exit(child_lookups());
                }
                if (pid < 0) {
                        bad++;
                        break;
                }
                int status;
                if (waitpid(pid, &status, 0) != pid)
                        bad++;
                else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
                        hung++;
                else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        bad++;
                if (hung)
                        break;
        }
        atomic_store(&stop_hammering, true);
        for (unsigned i = 0; i < ROLES_N_ELEMENTS(t); i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        if (hung)
                fail_msg("a child forked while other threads were looking names up hung (module lock inherited held)");
        assert_int_equal(bad, 0);
        if (atomic_load(&thread_errors) > 0)
                fail_msg("%d failures; first: %s", atomic_load(&thread_errors), thread_error);
}

/* ---- a snapshot replaced while the process runs ------------------------------------------------------------ */

static void sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void test_replaced_snapshot(void **state) {
        (void) state;
        union result res;
        char buf[1024];
        int errnop;

        assert_notfound(m.getpwnam_r("newbie", &res_.pw, buf_, sizeof(buf_), &errnop_));
        assert_notfound(m.getgrnam_r("newbie", &res_.gr, buf_, sizeof(buf_), &errnop_));
        /* An enumeration in the middle when the file is replaced. */
        assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
        for (int i = 0; i < 4; i++)
                assert_int_equal(m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.pw.pw_name, "dave");

        struct roles_writer *s = test_writer(&env);
        struct roles_user nb;
        add_user(s, "newbie", 10500, "New Bie", true, 0, &nb);
        test_commit(s);

        sleep_ms(1100);
        assert_int_equal(m.getpwnam_r("newbie", &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(res.pw.pw_uid, 10500);
        assert_int_equal(m.getpwuid_r(10500, &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.pw.pw_name, "newbie");
        assert_int_equal(m.getgrgid_r(10500, &res.gr, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_string_equal(res.gr.gr_name, "newbie");
        assert_int_equal(m.getspnam_r("newbie", &res.sp, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        /* The old data is still there. */
        assert_int_equal(child_lookups(), 0);

        /* The interrupted enumeration goes on after dave without repeating or skipping anyone it
         * had (newbie, added in between, may or may not be served: the module reads in pages). */
        uint32_t last = 10103;
        unsigned seen[N_USERS] = { 0 };
        for (;;) {
                enum nss_status st = m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop);
                if (st == NSS_STATUS_NOTFOUND)
                        break;
                assert_int_equal(st, NSS_STATUS_SUCCESS);
                assert_true(res.pw.pw_uid > last);
                last = res.pw.pw_uid;
                if (strcmp(res.pw.pw_name, "newbie") == 0)
                        continue;
                int idx = user_index(res.pw.pw_uid);
                assert_true(idx >= 4);
                seen[idx]++;
        }
        for (size_t i = 4; i < N_USERS; i++)
                assert_int_equal(seen[i], 1);
        assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);

        /* And a deletion is seen the same way. */
        s = test_writer(&env);
        assert_ok(s, roles_user_by_name(roles_writer_snapshot(s), "newbie", &nb));
        assert_ok(s, roles_user_delete(s, &nb));
        test_commit(s);
        sleep_ms(1100);
        assert_notfound(m.getpwnam_r("newbie", &res_.pw, buf_, sizeof(buf_), &errnop_));
        assert_notfound(m.getpwuid_r(10500, &res_.pw, buf_, sizeof(buf_), &errnop_));
        assert_notfound(m.getspnam_r("newbie", &res_.sp, buf_, sizeof(buf_), &errnop_));
        assert_int_equal(enumerate_once(K_PASSWD), (long) N_USERS);
        assert_int_equal(enumerate_once(K_GROUP), (long) N_GROUPS);
}

/* ---- a database that is missing or unusable -------------------------------------------------------------------- */

/* Whether shadow is expected UNAVAIL too (its plugin reads the databases, not the index). */
static bool shadow_unavail = true;

/* In a child (which maps the index afresh): every entry point answers UNAVAIL. */
static int child_expect_unavail(void) {
        union result res;
        char buf[1024];
        int errnop;
        long start = 1, size = 1;
        gid_t *g = malloc(sizeof(gid_t));
        if (!g)
                return 99;
        g[0] = 10100;
        enum nss_status got[12];
        size_t n = 0;
        got[n++] = m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop);
        got[n++] = m.getpwuid_r(10100, &res.pw, buf, sizeof(buf), &errnop);
        got[n++] = m.setpwent(0);
        got[n++] = m.getpwent_r(&res.pw, buf, sizeof(buf), &errnop);
        got[n++] = m.getgrnam_r("devs", &res.gr, buf, sizeof(buf), &errnop);
        got[n++] = m.getgrgid_r(GID_DEVS, &res.gr, buf, sizeof(buf), &errnop);
        got[n++] = m.setgrent(0);
        got[n++] = m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop);
        got[n++] = m.getspnam_r("alice", &res.sp, buf, sizeof(buf), &errnop);
        got[n++] = m.setspent(0);
        got[n++] = m.getspent_r(&res.sp, buf, sizeof(buf), &errnop);
        got[n++] = m.initgroups_dyn("alice", 10100, &start, &size, &g, -1, &errnop);
        free(g);
        for (size_t i = 0; i < n; i++)
                if (got[i] != NSS_STATUS_UNAVAIL && (shadow_unavail || i < 8 || i > 10))
                        return (int) (i + 1) * 10 + (got[i] + 2);       /* which call, and what it said */
        m.endpwent();
        m.endgrent();
        m.endspent();
        return start == 1 ? 0 : 98;
}

static void run_child_unavail(const char *what) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                _exit(child_expect_unavail());
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("%s: child status %#x (exit code: 10 * call number + status + 2)", what, status);
}

static char away[PATH_MAX + 8];

/* The environment's roles.nss, and a copy of it at path with its header changed by edit (the
 * header checksum made right again, so that only the edit is wrong). */
static char index_path[PATH_MAX];

static void copy_index(const char *path, void (*edit)(struct nss_index_header *h)) {
        size_t len;
        char *data = test_read_file(away, &len);
        assert_non_null(data);
        if (edit) {
                struct nss_index_header *h = (struct nss_index_header *) (void *) data;
                edit(h);
                h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
        }
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0644), 0);
        free(data);
}

static void newer_version(struct nss_index_header *h) {
        h->version = 999;
}

static void wrong_size(struct nss_index_header *h) {
        h->file_size += 8;
}

static void past_the_end(struct nss_index_header *h) {
        h->sections[NSS_SECTION_STRINGS].count += 1u << 20;
}

static void put_back(void) {
        if (rename(away, index_path) < 0)
                fail_msg("rename back: %s", strerror(errno));
}

/* NSS reads roles.nss alone (shadow aside, whose plugin reads the databases): whatever keeps it
 * from being used is UNAVAIL for passwd, group and initgroups. */
static void test_unavailable(void **state) {
        (void) state;
        union result res;
        char buf[1024];
        int errnop;
        struct {
                const char *what;
                void (*edit)(struct nss_index_header *h);
                mode_t mode;
        } damaged[] = {
                { "roles.nss of a newer version", newer_version, 0644 },
                { "roles.nss whose size is not its header's", wrong_size, 0644 },
                { "roles.nss with a section past its end", past_the_end, 0644 },
                { "world-writable roles.nss", NULL, 0666 },
        };
        assert_int_equal(roles_config_index_path(&env.cfg, false, index_path, sizeof(index_path)), 0);
        snprintf(away, sizeof(away), "%s.away", index_path);

        /* Missing. */
        assert_int_equal(rename(index_path, away), 0);
        shadow_unavail = false;
        run_child_unavail("missing roles.nss");

        /* Not an index, and empty. */
        FILE *f = fopen(index_path, "we");
        assert_non_null(f);
        for (int i = 0; i < 4096; i++)
                fputc('x', f);
        assert_int_equal(fclose(f), 0);
        run_child_unavail("roles.nss that is not an index");
        f = fopen(index_path, "we");
        assert_non_null(f);
        assert_int_equal(fclose(f), 0);
        run_child_unavail("empty roles.nss");

        for (size_t i = 0; i < ROLES_N_ELEMENTS(damaged); i++) {
                copy_index(index_path, damaged[i].edit);
                assert_int_equal(chmod(index_path, damaged[i].mode), 0);
                run_child_unavail(damaged[i].what);
        }
        assert_int_equal(unlink(index_path), 0);
        put_back();
        shadow_unavail = true;

        /* A configuration file that is not there (only $ROLES_CONF is read afresh in the child). */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                setenv("ROLES_CONF", "/nonexistent/roles.conf", 1);
                _exit(child_expect_unavail());
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("missing $ROLES_CONF: child status %#x", status);

        /* The long-running process itself: gone, then back, each seen within a second and a bit. */
        assert_int_equal(m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(rename(index_path, away), 0);
        sleep_ms(1100);
        enum nss_status st = m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop);
        put_back();
        assert_int_equal(st, NSS_STATUS_UNAVAIL);
        sleep_ms(1100);
        assert_int_equal(m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(res.pw.pw_uid, 10100);
        assert_int_equal(child_lookups(), 0);
}

/* ==== enumeration from many threads, interleaved with lookups ===============================================
 *
 * What "each entry once" means here. The module keeps one enumeration cursor per database per
 * process, as glibc keeps one get*ent stream per database per process (its get*ent_r calls
 * serialize on a lock of that database, and every thread reads the same stream). So:
 *   - threads that share one pass (one set*ent, get*ent_r from all of them at once, one
 *     end*ent) together receive every entry exactly once: an entry refused for a buffer that is
 *     too small (ERANGE) is neither skipped nor handed out twice, whichever thread takes it next;
 *   - passes that threads make one after another (each holding that database's lock from set*ent
 *     to end*ent, as a program enumerating from several threads must) each receive every entry
 *     exactly once;
 * and lookups (getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r, getspnam_r, initgroups_dyn) in
 * other threads, which take no lock of ours, are right all along and disturb neither.
 * Buffers start small for every entry (4 bytes) and double on ERANGE, so every entry is
 * asked for several times. Built with ThreadSanitizer (build-tsan), any data race is fatal.
 */

#define ENTRY_SLOTS (N_USERS + 3)       /* users or personal groups, then devs, many, crew */
#define SHARED_PULLERS 5
#define SHARED_ROUNDS 3
#define PASS_THREADS 6
#define PASSES_EACH 3
#define LOOKUP_THREADS 3

/*
 * Under memcheck (the valgrind test setup sets ROLES_TEST_VALGRIND) threads run one at a time
 * and every call is some 50 times slower: one round and one pass each, and lookup threads that
 * pause between lookups, so that the enumerating threads are not starved for many minutes.
 * The interleavings still happen; memcheck is there for the memory, TSan for the races.
 */
static bool under_valgrind(void) {
        return getenv("ROLES_TEST_VALGRIND") != NULL;
}

static const char *kind_name(enum kind kind) {
        return kind == K_PASSWD ? "passwd" : kind == K_GROUP ? "group" : "shadow";
}

/* The slot of a shadow entry, by name (shadow entries carry no id); -1 if it is not ours. */
static int shadow_index(const char *name) {
        for (size_t i = 0; i < N_PEOPLE; i++)
                if (strcmp(people[i].name, name) == 0)
                        return (int) i;
        unsigned k;
        char check[16];
        if (sscanf(name, "bulk%3u", &k) != 1 || k >= N_BULK)
                return -1;
        bulk_name(k, check, sizeof(check));
        return strcmp(check, name) == 0 ? (int) (N_PEOPLE + k) : -1;
}

/* Check an enumerated entry and return its slot, or -1 (with thread_fail) when it is wrong. */
static int entry_slot(enum kind kind, const union result *res) {
        char nbuf[16];
        int idx;
        if (kind == K_SHADOW) {
                idx = shadow_index(res->sp.sp_namp);
                if (idx < 0 || (strcmp(res->sp.sp_pwdp, "*") != 0 && strcmp(res->sp.sp_pwdp, "!") != 0))
                        goto wrong;
                return idx;
        }
        if (kind == K_PASSWD) {
                idx = user_index(res->pw.pw_uid);
                if (idx < 0 || res->pw.pw_gid != res->pw.pw_uid ||
                    strcmp(res->pw.pw_name, expected_user_name(idx, nbuf, sizeof(nbuf))) != 0)
                        goto wrong;
                return idx;
        }
        static const struct { uint32_t gid; const char *name; size_t members; } shared[] = {
                { GID_DEVS, "devs", 3 }, { GID_MANY, "many", N_BULK }, { GID_STAFF, "crew", 2 },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(shared); i++)
                if (res->gr.gr_gid == shared[i].gid) {
                        if (strcmp(res->gr.gr_name, shared[i].name) != 0 || group_n_members(&res->gr) != shared[i].members)
                                goto wrong;
                        return (int) (N_USERS + i);
                }
        idx = user_index(res->gr.gr_gid);
        if (idx < 0 || group_n_members(&res->gr) != 0 ||
            strcmp(res->gr.gr_name, expected_user_name(idx, nbuf, sizeof(nbuf))) != 0)
                goto wrong;
        return idx;
wrong:
        thread_fail("%s enumeration served a wrong entry (%s)", kind_name(kind),
                    kind == K_PASSWD ? res->pw.pw_name : kind == K_GROUP ? res->gr.gr_name : res->sp.sp_namp);
        return -1;
}

static size_t entries_of(enum kind kind) {
        return kind == K_GROUP ? N_GROUPS : N_USERS;
}

/*
 * The next entry of the process's stream for kind, into a buffer that starts at 4 bytes and
 * doubles on every ERANGE (*eranges counts them). Returns its slot, -ENOENT at the end, or -1 on
 * anything else (with thread_fail).
 */
static int next_entry(enum kind kind, unsigned *eranges) {
        union result res;
        size_t len = 4;
        for (;;) {
                char *buf = malloc(len);
                int errnop = 0;
                if (!buf) {
                        thread_fail("out of memory");
                        return -1;
                }
                enum nss_status st = kind == K_PASSWD ? m.getpwent_r(&res.pw, buf, len, &errnop)
                                     : kind == K_GROUP ? m.getgrent_r(&res.gr, buf, len, &errnop)
                                                       : m.getspent_r(&res.sp, buf, len, &errnop);
                int slot = st == NSS_STATUS_SUCCESS ? entry_slot(kind, &res) : -1;
                free(buf);
                if (st == NSS_STATUS_TRYAGAIN && errnop == ERANGE) {
                        (*eranges)++;
                        len *= 2;
                        continue;
                }
                if (st == NSS_STATUS_NOTFOUND && errnop == ENOENT)
                        return -ENOENT;
                if (st != NSS_STATUS_SUCCESS)
                        thread_fail("%s enumeration: status %d, *errnop %d", kind_name(kind), st, errnop);
                return slot;
        }
}

static void set_stream(enum kind kind) {
        enum nss_status st = kind == K_PASSWD ? m.setpwent(0) : kind == K_GROUP ? m.setgrent(0) : m.setspent(0);
        if (st != NSS_STATUS_SUCCESS)
                thread_fail("set%sent: status %d", kind == K_PASSWD ? "pw" : kind == K_GROUP ? "gr" : "sp", st);
}

static void end_stream(enum kind kind) {
        (kind == K_PASSWD ? m.endpwent : kind == K_GROUP ? m.endgrent : m.endspent)();
}

/* Every slot of the kind seen exactly once. */
static void expect_each_once(enum kind kind, const atomic_uint *seen, const char *how) {
        for (size_t i = 0; i < entries_of(kind); i++) {
                unsigned n = atomic_load(&seen[i]);
                if (n != 1)
                        thread_fail("%s, %s: entry %zu seen %u times", kind_name(kind), how, i, n);
        }
}

/* ---- lookups all along ---- */

static atomic_bool stop_looking;

static void *lookup_loop(void *arg) {
        bool pause = under_valgrind();
        for (unsigned i = (unsigned) (uintptr_t) arg; !atomic_load(&stop_looking); i += 3) {
                if (!lookup_ok(i))
                        thread_fail("lookup %u (kind %u) failed during enumerations", i, i % 7);
                if (pause)
                        usleep(2000);
        }
        return NULL;
}

/* Lookup threads run from start_lookups to stop_lookups, which fails the test on any error
 * (theirs or another thread's). */
static void start_lookups(pthread_t *t) {
        atomic_store(&thread_errors, 0);
        atomic_store(&stop_looking, false);
        for (unsigned i = 0; i < LOOKUP_THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, lookup_loop, (void *) (uintptr_t) i), 0);
}

static void stop_lookups(pthread_t *t) {
        atomic_store(&stop_looking, true);
        for (unsigned i = 0; i < LOOKUP_THREADS; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        if (atomic_load(&thread_errors) > 0)
                fail_msg("%d failures; first: %s", atomic_load(&thread_errors), thread_error);
}

/* fn in n threads at once, each given arg (or, when arg is NULL, its index); back when all are done. */
static void run_threads(unsigned n, void *(*fn)(void *), void *arg) {
        pthread_t t[16];
        assert_true(n <= ROLES_N_ELEMENTS(t));
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(pthread_create(&t[i], NULL, fn, arg ? arg : (void *) (uintptr_t) i), 0);
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
}

/* ---- one pass shared by many threads ---- */

struct shared_pass {
        enum kind kind;
        atomic_uint seen[ENTRY_SLOTS];
        atomic_uint eranges;
};

static void *pull_shared(void *arg) {
        struct shared_pass *p = arg;
        unsigned eranges = 0;
        for (;;) {
                int slot = next_entry(p->kind, &eranges);
                if (slot < 0)
                        break;
                atomic_fetch_add(&p->seen[slot], 1);
        }
        atomic_fetch_add(&p->eranges, eranges);
        return NULL;
}

static void test_enum_shared_by_threads(void **state) {
        (void) state;
        pthread_t lookups[LOOKUP_THREADS];
        start_lookups(lookups);
        for (int round = 0; round < (under_valgrind() ? 1 : SHARED_ROUNDS); round++)
                for (enum kind kind = K_PASSWD; kind <= K_SHADOW; kind++) {
                        struct shared_pass *p = calloc(1, sizeof(*p));
                        assert_non_null(p);
                        p->kind = kind;
                        set_stream(kind);
                        run_threads(SHARED_PULLERS, pull_shared, p);
                        end_stream(kind);
                        expect_each_once(kind, p->seen, "one pass shared by threads");
                        if (atomic_load(&p->eranges) < entries_of(kind))
                                thread_fail("%s: only %u ERANGE retries", kind_name(kind), atomic_load(&p->eranges));
                        free(p);
                }
        stop_lookups(lookups);
}

/* ---- passes one after another, from many threads ---- */

static pthread_mutex_t stream_locks[3] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                           PTHREAD_MUTEX_INITIALIZER };

static void *make_passes(void *arg) {
        unsigned id = (unsigned) (uintptr_t) arg;
        for (unsigned n = 0; n < (under_valgrind() ? 1u : PASSES_EACH); n++) {
                enum kind kind = (enum kind) ((id + n) % 3);
                atomic_uint seen[ENTRY_SLOTS];
                unsigned eranges = 0;
                for (size_t i = 0; i < ENTRY_SLOTS; i++)
                        atomic_init(&seen[i], 0);
                pthread_mutex_lock(&stream_locks[kind]);
                set_stream(kind);
                for (int slot; (slot = next_entry(kind, &eranges)) >= 0;)
                        atomic_fetch_add(&seen[slot], 1);
                end_stream(kind);
                pthread_mutex_unlock(&stream_locks[kind]);
                expect_each_once(kind, seen, "passes one after another");
        }
        return NULL;
}

static void test_enum_passes_from_threads(void **state) {
        (void) state;
        pthread_t lookups[LOOKUP_THREADS];
        start_lookups(lookups);
        run_threads(PASS_THREADS, make_passes, NULL);
        stop_lookups(lookups);
}

/* ==== no roles.db descriptor survives fork =====================================================================
 *
 * A process that forks without exec (sshd's monitor, forking the child that becomes the user)
 * must not hand its children a descriptor of roles.db: the module's atfork child handler closes
 * them before the child runs a single instruction of its own, and the child's first lookup opens
 * its own. Checked with a passwd store and a shadow enumeration's store open in the parent, and
 * with the parent still reading a snapshot that was replaced by rename (its path is then
 * "... (deleted)").
 */

/* How many of this process's descriptors point to roles.db, the published one or a replaced one
 * (counted in *replaced too, when not NULL). */
/* How many descriptors this process holds of path (or of the file once there, now replaced:
 * *replaced counts those). */
static int path_fds(const char *path, int *replaced) {
        size_t len = strlen(path);
        int n = 0;
        if (replaced)
                *replaced = 0;
        for (int fd = 0; fd < 1024; fd++) {
                char link[64], target[PATH_MAX];
                snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
                ssize_t got = readlink(link, target, sizeof(target) - 1);
                if (got < 0)
                        continue;
                target[got] = '\0';
                if (strncmp(target, path, len) != 0)
                        continue;
                if (target[len] == '\0')
                        n++;
                else if (strcmp(target + len, " (deleted)") == 0) {
                        n++;
                        if (replaced)
                                (*replaced)++;
                }
        }
        return n;
}

/* Descriptors of roles.db (and its journals) and of roles.nss (and its delta). */
static int roles_db_fds(int *replaced) {
        char index[PATH_MAX];
        if (roles_config_index_path(&env.cfg, false, index, sizeof(index)) < 0)
                return -1;
        return path_fds(env.cfg.public_db, replaced) + path_fds(index, NULL);
}

/* Descriptors of secrets.db and state.db (and their journals: the same prefix). */
static int private_db_fds(void) {
        return path_fds(env.cfg.secrets_db, NULL) + path_fds(env.cfg.state_db, NULL);
}

/* A user the child must find (in a snapshot newer than the parent's), or NULL. */
static const char *child_user_expected;

/* In the child: nothing held before any NSS call nor after, right answers (10-14 from
 * child_lookups, 40 for a descriptor inherited, 41 for one kept by a lookup, 42 when
 * child_user_expected is not there). */
static int child_without_inherited_fds(void) {
        union result res;
        char buf[1024];
        int errnop;
        if (roles_db_fds(NULL) != 0 || private_db_fds() != 0)
                return 40;
        int r = child_lookups();
        if (r != 0)
                return r;
        if (roles_db_fds(NULL) != 0 || private_db_fds() != 0)
                return 41;
        if (child_user_expected &&
            m.getpwnam_r(child_user_expected, &res.pw, buf, sizeof(buf), &errnop) != NSS_STATUS_SUCCESS)
                return 42;
        return 0;
}

/* fn in a forked child, which must exit 0. */
static void run_in_child(const char *what, int (*fn)(void)) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                _exit(fn());
        }
        wait_child(pid, what);
}

static void fork_without_fds(const char *what, const char *user_expected) {
        child_user_expected = user_expected;
        run_in_child(what, child_without_inherited_fds);
}

/*
 * The host's files are read only when roles has an entry to check against them: a lookup of a
 * name roles does not have (initgroups of every local account, the commonest lookup that
 * reaches roles) reads none, so it is NOTFOUND even when /etc/group cannot be read, while an
 * entry roles does have is UNAVAIL then (the rule cannot be applied). In a child, in a mount
 * namespace of its own with /dev/null (not a regular file) bound over /etc/group.
 */
static int child_with_unreadable_host_group(void) {
        union result res;
        char buf[1024];
        int errnop;
        long start = 1, size = 1;
        gid_t *g = malloc(sizeof(gid_t));
        if (!g)
                return 99;
        g[0] = 0;
        /* The type is ignored with these flags; "none" rather than NULL, which memcheck takes
         * for a bad pointer. */
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return 90;      /* needs root, as the suite does in CI */
        if (mount("/dev/null", "/etc/group", "none", MS_BIND, NULL) < 0)
                return 91;
        int r = 0;
        if (m.getpwnam_r("nosuchuser", &res.pw, buf, sizeof(buf), &errnop) != NSS_STATUS_NOTFOUND)
                r = 1;
        else if (m.initgroups_dyn("root", 0, &start, &size, &g, -1, &errnop) != NSS_STATUS_NOTFOUND)
                r = 2;
        else if (m.getgrnam_r("nosuchgroup", &res.gr, buf, sizeof(buf), &errnop) != NSS_STATUS_NOTFOUND)
                r = 3;
        else if (m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop) != NSS_STATUS_UNAVAIL)
                r = 4;
        else if (m.getgrnam_r("devs", &res.gr, buf, sizeof(buf), &errnop) != NSS_STATUS_UNAVAIL)
                r = 5;
        free(g);
        return r;
}

static void test_host_files_read_for_entries_only(void **state) {
        (void) state;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                _exit(child_with_unreadable_host_group());
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("unreadable /etc/group: child status %#x (90, 91: no mount namespace: run as root; "
                         "1-3: a name roles lacks was not NOTFOUND; 4, 5: an entry was not UNAVAIL)", status);
}

/*
 * A group's members are judged once per view and remembered (the member memo), and forgotten
 * whenever what they were judged by changes, in a running process and in a child: a local user
 * named as a roles member, added to /etc/passwd while the process runs, leaves the member lists
 * (getgrnam and the enumeration) within a second and a bit; a child given a configuration whose
 * uid range leaves a member out lists it no more, though its parent remembered it. In a child
 * with a mount namespace of its own, /etc/passwd a copy bound over the real one.
 */
static bool devs_members_are(const char *const *want, size_t n) {
        union result res;
        char buf[4096];
        int errnop;
        if (m.getgrnam_r("devs", &res.gr, buf, sizeof(buf), &errnop) != NSS_STATUS_SUCCESS ||
            group_n_members(&res.gr) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(res.gr.gr_mem[i], want[i]) != 0)
                        return false;
        /* The enumeration walks the same members through the same memo. */
        bool seen = false;
        if (m.setgrent(0) != NSS_STATUS_SUCCESS)
                return false;
        while (m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS)
                if (strcmp(res.gr.gr_name, "devs") == 0)
                        seen = group_n_members(&res.gr) == n && strcmp(res.gr.gr_mem[n - 1], want[n - 1]) == 0;
        m.endgrent();
        return seen;
}

static int child_members_forgotten(const char *copy, const char *narrow_conf) {
        static const char *const without_dave[] = { "alice", "bob" }, *const without_bob[] = { "alice" };
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return 90;      /* needs root, as the suite does in CI */
        if (mount(copy, "/etc/passwd", "none", MS_BIND, NULL) < 0)
                return 91;
        if (!devs_members_are(devs_members, 3))
                return 1;
        FILE *f = fopen(copy, "ae");
        if (!f || fputs("dave:x:4242:4242::/nonexistent:/usr/sbin/nologin\n", f) < 0 || fclose(f) != 0)
                return 92;
        sleep_ms(1100);
        if (!devs_members_are(without_dave, 2))
                return 2;
        pid_t pid = fork();
        if (pid < 0)
                return 93;
        if (pid == 0) {
                setenv("ROLES_CONF", narrow_conf, 1);
                _exit(devs_members_are(without_bob, 1) ? 0 : 3);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return 94;
        return WEXITSTATUS(status);
}

/* Does an enumeration list devs (through the module's memo of what the host's files say)? */
static bool devs_enumerated(void) {
        union result res;
        char buf[4096];
        int errnop;
        bool seen = false;
        if (m.setgrent(0) != NSS_STATUS_SUCCESS)
                return false;
        while (m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop) == NSS_STATUS_SUCCESS)
                seen |= strcmp(res.gr.gr_name, "devs") == 0;
        m.endgrent();
        return seen;
}

/* A process that enumerated the groups, then the host's /etc/group gained devs: the module
 * serves devs no more, neither by name nor in its next enumeration. */
static int child_group_clash_forgotten(const char *copy) {
        union result res;
        char buf[4096];
        int errnop;
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return 90;
        if (mount(copy, "/etc/group", "none", MS_BIND, NULL) < 0)
                return 91;
        if (!devs_enumerated() || !devs_enumerated())
                return 1;
        FILE *f = fopen(copy, "ae");
        if (!f || fputs("devs:x:4343:\n", f) < 0 || fclose(f) != 0)
                return 92;
        sleep_ms(1100);
        if (devs_enumerated())
                return 2;
        if (m.getgrnam_r("devs", &res.gr, buf, sizeof(buf), &errnop) != NSS_STATUS_NOTFOUND)
                return 3;
        return 0;
}

static int copy_file(const char *from, const char *to) {
        char data[1 << 16];
        FILE *in = fopen(from, "re"), *out = fopen(to, "we");
        size_t n = in ? fread(data, 1, sizeof(data), in) : 0;
        int r = in && out && !ferror(in) && feof(in) && fwrite(data, 1, n, out) == n ? 0 : -1;
        if (in)
                fclose(in);
        if (out && fclose(out) != 0)
                r = -1;
        return r;
}

static void test_member_memo_forgets(void **state) {
        (void) state;
        char copy[PATH_MAX], narrow[PATH_MAX];
        snprintf(copy, sizeof(copy), "%s/host-passwd", env.dir);
        snprintf(narrow, sizeof(narrow), "%s/narrow.conf", env.dir);
        assert_int_equal(copy_file("/etc/passwd", copy), 0);
        /* bob (10101) falls outside the range; alice (10100) stays in it. */
        FILE *f = fopen(narrow, "we");
        assert_non_null(f);
        fprintf(f, "public_db = %s\nsecrets_db = %s\nstate_db = %s\nuid_min = 10000\nuid_max = 10100\n"
                   "gid_min = 10000\ngid_max = 60000\n",
                env.cfg.public_db, env.cfg.secrets_db, env.cfg.state_db);
        assert_int_equal(fclose(f), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                _exit(child_members_forgotten(copy, narrow));
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("member memo: child status %#x (1: devs' members at first; 2: still dave after the host "
                         "gained a dave; 3: a child with a narrower uid range still lists bob; 9x: setup)", status);
}

/* fn(arg) in a child of its own, given 20 s at most: its wait status. */
static int child_status(int (*fn)(const char *), const char *arg) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(20);
                _exit(fn(arg));
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

static void test_group_clash_memo_forgets(void **state) {
        (void) state;
        char copy[PATH_MAX];
        snprintf(copy, sizeof(copy), "%s/host-group", env.dir);
        assert_int_equal(copy_file("/etc/group", copy), 0);
        int status = child_status(child_group_clash_forgotten, copy);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("group clash memo: child status %#x (1: devs not enumerated at first; 2: still enumerated "
                         "after the host gained a devs; 3: still found by name; 9x: setup)", status);
}

/* A process that walked devs (its memo vouching for each entry), then saw the base replaced by
 * modified, whose devs entries are as many, at the same positions, but alice's copy of her name
 * "al:ce": the new view's entries are judged anew, and that one is left out. */
static int child_view_forgotten(const char *modified) {
        static const char *const without_alice[] = { "bob", "dave" };
        char path[PATH_MAX];
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return 90;
        if (!devs_members_are(devs_members, 3))
                return 1;
        if (roles_config_index_path(&env.cfg, false, path, sizeof(path)) < 0 ||
            mount(modified, path, "none", MS_BIND, NULL) < 0)
                return 91;
        sleep_ms(1100);
        return devs_members_are(without_alice, 2) ? 0 : 2;
}

static void test_member_memo_forgets_view(void **state) {
        (void) state;
        char path[PATH_MAX], modified[PATH_MAX];
        struct nss_index_view v = { .limits = { 0, UINT32_MAX, 0, UINT32_MAX } };
        struct nss_index_found_group g;
        assert_int_equal(roles_config_index_path(&env.cfg, false, path, sizeof(path)), 0);
        assert_int_equal(nss_index_map(path, &v.base, NULL), 0);
        assert_non_null(v.base.member_ranges);
        assert_int_equal(nss_index_group_by_name(&v, "devs", 4, &g), 0);
        const struct nss_index_range *devs_list = &v.base.member_ranges[g.index];
        assert_true(devs_list->first + (uint64_t) devs_list->count <= v.base.n[NSS_SECTION_GROUP_MEMBERS]);
        unsigned char *copy = malloc(v.base.size);
        assert_non_null(copy);
        memcpy(copy, v.base.data, v.base.size);
        bool found = false;
        for (uint32_t k = 0; k < devs_list->count; k++) {
                const struct nss_index_member *e = &v.base.members[devs_list->first + k];
                if (e->name.length == 5 && memcmp(v.base.strings + e->name.offset, "alice", 5) == 0) {
                        copy[v.base.offset[NSS_SECTION_STRINGS] + e->name.offset + 2] = ':';
                        found = true;
                }
        }
        assert_true(found);
        snprintf(modified, sizeof(modified), "%s/modified.nss", env.dir);
        FILE *f = fopen(modified, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(copy, 1, v.base.size, f), v.base.size);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(modified, 0644), 0);
        free(copy);
        nss_index_unmap(&v.base);

        int status = child_status(child_view_forgotten, modified);
        unlink(modified);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("member memo over a new base: child status %#x (1: devs' members at first; 2: the new "
                         "base's al:ce served or alice still listed; 9x: setup)", status);
}

/*
 * The module keeps no descriptor: the index is mapped and its descriptor closed at once; shadow's
 * stores close before each call returns. So neither a parent in the middle of its lookups and
 * enumerations nor the child it forks (which may become a user without exec, as sshd's does)
 * holds any, before or after a new index (a delta, then a new base installed by rename).
 */
static void test_fork_keeps_no_descriptor(void **state) {
        (void) state;
        union result res;
        char buf[1024];
        int errnop;

        assert_int_equal(m.getpwnam_r("alice", &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getgrent_r(&res.gr, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(m.setspent(0), NSS_STATUS_SUCCESS);
        assert_int_equal(m.getspent_r(&res.sp, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(roles_db_fds(NULL), 0);
        assert_int_equal(private_db_fds(), 0);
        fork_without_fds("fork during group and shadow enumerations", NULL);
        assert_int_equal(m.getspent_r(&res.sp, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(m.endspent(), NSS_STATUS_SUCCESS);
        assert_int_equal(m.endgrent(), NSS_STATUS_SUCCESS);
        assert_int_equal(child_lookups(), 0);

        /* A change (a delta), seen by the parent after its recheck and by a child at once. */
        struct roles_writer *s = test_writer(&env);
        struct roles_user u;
        add_user(s, "forkling", 10600, "Fork Ling", true, 0, &u);
        test_commit(s);
        fork_without_fds("fork after a change", "forkling");
        sleep_ms(1100);
        assert_int_equal(m.getpwnam_r("forkling", &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(res.pw.pw_uid, 10600);

        /* A new base by rename. */
        s = test_writer(&env);
        assert_ok(s, roles_writer_rebuild_index(s));
        test_commit(s);
        fork_without_fds("fork after a new base", "forkling");
        sleep_ms(1100);
        assert_int_equal(m.getpwnam_r("forkling", &res.pw, buf, sizeof(buf), &errnop), NSS_STATUS_SUCCESS);
        assert_int_equal(roles_db_fds(NULL), 0);
        assert_int_equal(child_lookups(), 0);

        /* Leave the data as the other tests had it. */
        s = test_writer(&env);
        assert_ok(s, roles_user_by_name(roles_writer_snapshot(s), "forkling", &u));
        assert_ok(s, roles_user_delete(s, &u));
        test_commit(s);
}

/* initgroups for alice, as login does: then how many roles.db descriptors are left (or 50 + status). */
static int initgroups_then_fds(void) {
        long start = 1, size = 4;
        gid_t *g = calloc((size_t) size, sizeof(gid_t));
        int errnop;
        if (!g)
                return 99;
        g[0] = 10100;
        enum nss_status st = m.initgroups_dyn("alice", 10100, &start, &size, &g, -1, &errnop);
        free(g);
        return st == NSS_STATUS_SUCCESS ? roles_db_fds(NULL) : 50 + st;
}

/* In a forked child: no descriptor after initgroups (else 1). */
static int child_initgroups(void) {
        return initgroups_then_fds() == 0 ? 0 : 1;
}

/*
 * A root process forked without exec that asks for a user's groups is about to become that user
 * (sshd's session process): it must hold nothing of ours after initgroups. Nor does any other.
 */
static void test_initgroups_in_forked_child(void **state) {
        (void) state;
        assert_int_equal(initgroups_then_fds(), 0);
        run_in_child("initgroups in a forked child", child_initgroups);
}

int main(int argc, char **argv) {
        if (argc > 1)
                module_path = argv[1];
        if (!module_path[0]) {
                fprintf(stderr, "usage: %s PATH/libnss_roles.so.2\n", argv[0]);
                return 2;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_passwd_buffers),
                cmocka_unit_test(test_group_buffers),
                cmocka_unit_test(test_shadow_buffers),
                cmocka_unit_test(test_not_found),
                cmocka_unit_test(test_errno_untouched),
                cmocka_unit_test(test_enum_passwd),
                cmocka_unit_test(test_enum_group),
                cmocka_unit_test(test_enum_shadow),
                cmocka_unit_test(test_enum_restart),
                cmocka_unit_test(test_enum_lets_pages_go),
                cmocka_unit_test(test_drop_pages_keeps_sections),
                cmocka_unit_test(test_index_names_first),
                cmocka_unit_test(test_initgroups),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_enum_shared_by_threads),
                cmocka_unit_test(test_enum_passes_from_threads),
                cmocka_unit_test(test_fork),
                cmocka_unit_test(test_fork_while_threads),
                cmocka_unit_test(test_replaced_snapshot),
                cmocka_unit_test(test_unavailable),
                cmocka_unit_test(test_host_files_read_for_entries_only),
                cmocka_unit_test(test_member_memo_forgets),
                cmocka_unit_test(test_group_clash_memo_forgets),
                cmocka_unit_test(test_member_memo_forgets_view),
                cmocka_unit_test(test_fork_keeps_no_descriptor),
                cmocka_unit_test(test_initgroups_in_forked_child),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
