/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "auth.h"
#include "writer.h"
#include "nss_index_read.h"
#include "testlib.h"
#include "util.h"

#define NOW INT64_C(1767225600)         /* 2026-01-01T00:00:00Z: every writer's pinned clock */

static struct roles_writer *writer(struct test_env *e) {
        struct roles_writer *s = test_writer(e);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW);
        assert_int_equal(roles_writer_set_actor(s, "tester"), 0);
        return s;
}

static void path_in(const struct test_env *e, const char *name, char *buf, size_t size) {
        assert_true((size_t) snprintf(buf, size, "%s/%s", e->dir, name) < size);
}

/* ---- raw SQLite, behind the store's back ---------------------------------------------------- */

static sqlite3 *raw_open(const char *path, bool write) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(path, &db, write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL);
        if (rc != SQLITE_OK)
                fail_msg("sqlite3_open_v2(%s): %s", path, sqlite3_errstr(rc));
        return db;
}

static int64_t raw_int(const char *path, const char *sql) {
        sqlite3 *db = raw_open(path, false);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static void raw_exec(const char *path, const char *sql) {
        sqlite3 *db = raw_open(path, true);
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
                fail_msg("%s: %s", sql, msg);
        sqlite3_close(db);
}

static void write_file(const char *path, const char *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        close(fd);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
        size_t len;
        char *data = test_read_file(from, &len);
        assert_non_null(data);
        int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
        free(data);
}

/* Anything in the directory besides the three files and the lock: a staged snapshot left behind. */
static int stray_files(const struct test_env *e) {
        static const char *const expected[] = { "roles.db", "secrets.db", "state.db", "roles.db.lock", "roles.nss",
                                                "roles.nss-delta" };
        DIR *d = opendir(e->dir);
        struct dirent *de;
        int n = 0;
        assert_non_null(d);
        while ((de = readdir(d))) {
                bool known = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
                for (size_t i = 0; i < ROLES_N_ELEMENTS(expected); i++)
                        known = known || strcmp(de->d_name, expected[i]) == 0;
                /* SQLite's own journals come and go with transactions; they are not ours. */
                known = known || strstr(de->d_name, "-journal") || strstr(de->d_name, "-wal") || strstr(de->d_name, "-shm");
                if (!known)
                        n++;
        }
        closedir(d);
        return n;
}

/* ---- listings ---------------------------------------------------------------------------------- */

struct pick {
        int row;                /* which row to look at */
        const char *column;
        bool found, is_null;
        char value[512];
        int seen;
};

static int pick_cb(void *userdata, size_t n, const char *const *names, const char *const *values,
                   const enum roles_cell *kinds) {
        struct pick *p = userdata;
        (void) kinds;
        if (p->column && p->seen == p->row)
                for (size_t i = 0; i < n; i++)
                        if (strcmp(names[i], p->column) == 0) {
                                p->found = true;
                                p->is_null = values[i] == NULL;
                                snprintf(p->value, sizeof(p->value), "%s", values[i] ? values[i] : "");
                        }
        p->seen++;
        return 0;
}

static int list_count(struct roles_snapshot *s, enum roles_listing what, const char *arg) {
        struct pick p = { .row = -1 };
        int r = roles_snapshot_list(s, what, arg, pick_cb, &p);
        if (r < 0)
                fail_msg("list %d: %s", (int) what, test_error(s));
        assert_int_equal(r, p.seen);
        return r;
}

/* The value of column in row (NULL for SQL NULL); fails if there is no such row or column. */
static const char *list_value(struct roles_snapshot *s, enum roles_listing what, const char *arg, int row,
                              const char *column, char *buf, size_t size) {
        struct pick p = { .row = row, .column = column };
        int r = roles_snapshot_list(s, what, arg, pick_cb, &p);
        if (r < 0)
                fail_msg("list %d: %s", (int) what, test_error(s));
        if (!p.found)
                fail_msg("list %d '%s': no column '%s' in row %d", (int) what, arg ? arg : "", column, row);
        if (roles_strcpy(buf, size, p.value) < 0)
                fail_msg("list %d: value of '%s' too long", (int) what, column);
        return p.is_null ? NULL : buf;
}

/* ---- fixtures for the model ----------------------------------------------------------------------- */

static struct roles_metarole get_metarole(struct roles_writer *s, const char *code) {
        struct roles_metarole m;
        assert_ok(s, roles_metarole_by_code(roles_writer_snapshot(s), code, &m));
        return m;
}

/* What a failed change must leave alone, as seen through the writer. */
struct counts {
        int users, groups, metaroles, roles, audit;
};

static struct counts counts_of(struct roles_writer *s) {
        return (struct counts) {
                .users = list_count(roles_writer_snapshot(s), ROLES_LIST_USERS, NULL),
                .groups = list_count(roles_writer_snapshot(s), ROLES_LIST_GROUPS, NULL),
                .metaroles = list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLES, NULL),
                .roles = list_count(roles_writer_snapshot(s), ROLES_LIST_ROLES, NULL),
                .audit = list_count(roles_writer_snapshot(s), ROLES_LIST_AUDIT, NULL),
        };
}

static void assert_counts_equal(struct counts a, struct counts b) {
        assert_int_equal(a.users, b.users);
        assert_int_equal(a.groups, b.groups);
        assert_int_equal(a.metaroles, b.metaroles);
        assert_int_equal(a.roles, b.roles);
        assert_int_equal(a.audit, b.audit);
}

/* ---- files --------------------------------------------------------------------------------------- */

static void assert_mode(const struct test_env *e, const char *name, mode_t mode) {
        char path[PATH_MAX];
        struct stat st;
        path_in(e, name, path, sizeof(path));
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        if ((st.st_mode & 07777) != mode)
                fail_msg("%s has mode %04o, expected %04o", name, st.st_mode & 07777, mode);
}

static void test_init_creates_files(void **state) {
        struct test_env *e = *state;
        char path[PATH_MAX];

        /* A tight umask must not make roles.db unreadable, a loose one must not open the others. */
        mode_t old = umask(0077);
        test_env_init(e);
        umask(0);
        test_env_init(e);       /* again: harmless on existing files */
        umask(old);

        assert_mode(e, "roles.db", 0644);
        assert_mode(e, "secrets.db", 0600);
        assert_mode(e, "state.db", 0600);

        static const struct { const char *name; int version; } files[] = {
                { "roles.db", ROLES_SCHEMA_PUBLIC }, { "secrets.db", ROLES_SCHEMA_SECRETS }, { "state.db", ROLES_SCHEMA_STATE },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(files); i++) {
                path_in(e, files[i].name, path, sizeof(path));
                assert_int_equal(raw_int(path, "PRAGMA user_version"), files[i].version);
        }
        path_in(e, "roles.db", path, sizeof(path));
        assert_int_equal(raw_int(path, "SELECT count(*) FROM users"), 0);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM metaroles WHERE builtin = 1"), 3);
        path_in(e, "secrets.db", path, sizeof(path));
        assert_int_equal(raw_int(path, "SELECT count(*) FROM credentials"), 0);
        path_in(e, "state.db", path, sizeof(path));
        assert_int_equal(raw_int(path, "SELECT count(*) FROM tally"), 0);
        assert_int_equal(stray_files(e), 0);

        /* Readers open it. */
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        test_close(r);
}

static void test_init_keeps_data(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_commit(s);

        test_env_init(e);
        struct roles_snapshot *r = test_reader(e, 0);
        struct roles_user u;
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        test_close(r);
}

static void assert_email(struct roles_snapshot *s, const char *uuid, const char *want);

/* A secrets.db of version 1 (before the before-images): readers read it as it is (no change
 * of it can be in flight), a login writes it, and the next writer migrates it in its
 * transaction, keeping every row. */
static void test_secrets_v1_migrated(void **state) {
        struct test_env *e = *state;
        char path[PATH_MAX];
        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        assert_ok(s, roles_secret_set_email(s, alice.uuid, "alice@example.org"));
        test_commit(s);
        path_in(e, "secrets.db", path, sizeof(path));
        raw_exec(path, "DROP TABLE recovery_codes; DROP TABLE before_recovery_codes; "
                       "DROP TABLE publishing; DROP TABLE before_users; DROP TABLE before_credentials; "
                       "DROP TABLE before_codes; PRAGMA user_version = 1");

        struct roles_login *login = test_login(e);
        assert_email(roles_login_snapshot(login), alice.uuid, "alice@example.org");
        assert_int_equal(list_count(roles_login_snapshot(login), ROLES_LIST_USER_SECRETS, alice.uuid), 1);
        assert_ok(login, roles_secret_set_must_change(roles_login_secrets(login), alice.uuid, true));
        unsigned left = 99;
        assert_ok(login, roles_secret_recovery_left(roles_login_secrets(login), alice.uuid, &left));
        assert_int_equal(left, 0);                      /* no recovery codes before version 3 */
        struct roles_secret sec;
        assert_ok(login, roles_secret_get(roles_login_secrets(login), alice.uuid, &sec));
        assert_true(sec.must_change_password);
        roles_secret_wipe(&sec);
        test_close(login);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), 1);

        /* A table of version 1 missing is still refused. */
        raw_exec(path, "ALTER TABLE codes RENAME TO codes_gone");
        char err[512] = "";
        assert_int_equal(test_open_kind(&e->cfg, TEST_LOGIN, err, sizeof(err)), -EPROTO);
        assert_non_null(strstr(err, "codes"));
        raw_exec(path, "ALTER TABLE codes_gone RENAME TO codes");

        s = writer(e);
        test_commit(s);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), ROLES_SCHEMA_SECRETS);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'before_%'"), 7);
        struct roles_login *r = test_login(e);
        assert_email(roles_login_snapshot(r), alice.uuid, "alice@example.org");
        test_close(r);
}

static int64_t serial_now(struct test_env *e) {
        int64_t serial;
        struct roles_snapshot *r = test_reader(e, 0);
        assert_ok(r, roles_snapshot_serial(r, &serial));
        test_close(r);
        return serial;
}

/* The tables version 3 dropped (NSS's derived ones), as versions 1 and 2 had them. */
#define PUBLIC_V2_NSS_TABLES \
        "CREATE TABLE group_member_list (group_id INTEGER PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE," \
        "  members TEXT NOT NULL);" \
        "CREATE TABLE user_gid_list (user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE," \
        "  gids TEXT NOT NULL);" \
        "CREATE TABLE passwd_buckets (bucket INTEGER PRIMARY KEY, lines TEXT NOT NULL);" \
        "CREATE TABLE group_buckets (bucket INTEGER PRIMARY KEY, lines TEXT NOT NULL);"

/* A roles.db of version 1 (before retired_ids): readers serve it as it is, and the next writer
 * migrates it in its transaction, keeping every row. */
static void test_public_v1_migrated(void **state) {
        struct test_env *e = *state;
        char path[PATH_MAX];
        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        test_commit(s);
        path_in(e, "roles.db", path, sizeof(path));
        raw_exec(path, "DROP TABLE retired_ids;" PUBLIC_V2_NSS_TABLES "PRAGMA user_version = 1");

        struct roles_user u;
        struct roles_snapshot *r = test_reader(e, 0);
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        test_close(r);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), 1);

        s = writer(e);
        assert_ok(s, roles_user_by_name(roles_writer_snapshot(s), "alice", &u));
        assert_ok(s, roles_user_delete(s, &u));
        test_commit(s);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), ROLES_SCHEMA_PUBLIC);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM retired_ids WHERE kind = 'uid' AND id = 10000"), 1);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM metaroles WHERE builtin = 1"), 3);
        s = writer(e);
        assert_int_equal(test_add_user(s, "bob").uid, alice.uid + 1);
        test_commit(s);
}

/*
 * An upgrade from version 2, where roles.db carried NSS's derived tables and there was no
 * roles.nss: readers (PAM) go on reading the file as it is; the next writer drops the tables,
 * keeps every row, and compiles roles.nss at roles.db's serial, which NSS then serves.
 */
static void test_public_v2_migrated(void **state) {
        struct test_env *e = *state;
        char path[PATH_MAX], index[PATH_MAX];
        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_commit(s);
        path_in(e, "roles.db", path, sizeof(path));
        path_in(e, "roles.nss", index, sizeof(index));
        raw_exec(path, PUBLIC_V2_NSS_TABLES "INSERT INTO passwd_buckets VALUES (19, 'stale:x:1:1:::');"
                       "PRAGMA user_version = 2");
        assert_int_equal(unlink(index), 0);

        struct roles_user u;
        struct roles_snapshot *r = test_reader(e, 0);
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        test_close(r);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), 2);

        s = writer(e);
        test_add_user(s, "bob");
        test_commit(s);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), 3);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                       "('group_member_list', 'user_gid_list', 'passwd_buckets', 'group_buckets')"), 0);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM users"), 2);

        struct nss_index_view v;
        struct nss_index_found_user found;
        test_index_view(e, &v);
        /* a new base, with its empty delta */
        assert_true(v.has_delta);
        assert_int_equal(v.delta.n[NSS_SECTION_USERS], 0);
        assert_int_equal((int64_t) nss_index_view_serial(&v), serial_now(e));
        assert_int_equal(nss_index_user_by_name(&v, "alice", 5, &found), 0);
        assert_int_equal(nss_index_user_by_name(&v, "bob", 3, &found), 0);
        test_index_close(&v);
}

static void count_finding(void *userdata, const char *line) {
        (void) line;
        ++*(int *) userdata;
}

static int add_name(void *userdata, const char *name, size_t n) {
        char *list = userdata;
        snprintf(list + strlen(list), 256 - strlen(list), "%s%.*s", list[0] ? "," : "", (int) n, name);
        return 0;
}

/* The members of gid in the installed view, "a,b,c" in the view's order. */
static void members_of(struct test_env *e, uint32_t gid, char list[static 256]) {
        struct nss_index_view v;
        struct nss_index_found_group g;
        list[0] = '\0';
        test_index_view(e, &v);
        if (nss_index_group_by_gid(&v, gid, &g) == 0)
                assert_int_equal(nss_index_group_members(&v, &g, time(NULL), add_name, list), 0);
        test_index_close(&v);
}

/* A delta is never larger than its base: the first accounts of a fresh store (an import) are
 * compiled into a base, so a reader maps one file's worth of records, not an empty base and a
 * delta holding everything. */
static void test_index_first_accounts_make_a_base(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_add_user(s, "bob");
        test_add_group(s, "devs", 20100);
        test_commit(s);

        struct nss_index_view v;
        test_index_view(e, &v);
        assert_int_equal(v.base.n[NSS_SECTION_USERS], 2);
        assert_true(!v.has_delta || v.delta.n[NSS_SECTION_USERS] == 0);
        test_index_close(&v);

        s = writer(e);                                          /* a change after it: a delta */
        test_add_user(s, "carol");
        test_commit(s);
        test_index_view(e, &v);
        assert_int_equal(v.base.n[NSS_SECTION_USERS], 2);
        assert_true(v.has_delta);
        assert_int_equal(v.delta.n[NSS_SECTION_USERS], 1);
        test_index_close(&v);
}

/*
 * Changes after a base go into the delta (the base file stays), and the base with its delta
 * serves exactly what roles.db compiles to: doctor, which compares the two entry by entry,
 * finds nothing. Each kind of change that moves a user's memberships or fields is there.
 */
static void test_index_delta_serves_what_roles_db_says(void **state) {
        struct test_env *e = *state;
        char index[PATH_MAX], list[256];
        struct roles_user u[12];
        struct roles_group devs, ops;
        struct roles_role lead;
        struct stat before, after;

        struct roles_writer *s = writer(e);
        struct roles_metarole crew = test_add_metarole(s, "crew");
        assert_ok(s, roles_metarole_publish(s, &crew, 20500));
        lead = test_add_role(s, "lead", "crew");
        devs = test_add_group(s, "devs", 20100);
        for (int i = 0; i < 12; i++) {
                char name[16];
                snprintf(name, sizeof(name), "u%d", i);
                u[i] = test_add_user(s, name);
                if (i < 6)
                        assert_ok(s, roles_group_add_member(s, &devs, &u[i]));
                if (i < 4)
                        assert_ok(s, roles_role_assign(s, &lead, &u[i], 0));
        }
        test_commit(s);
        path_in(e, "roles.nss", index, sizeof(index));
        assert_int_equal(stat(index, &before), 0);
        members_of(e, 20500, list);
        assert_string_equal(list, "u0,u1,u2,u3");

        s = writer(e);                                          /* a member deleted */
        assert_ok(s, roles_user_delete(s, &u[3]));
        test_commit(s);
        s = writer(e);                                          /* memberships moved */
        assert_ok(s, roles_group_remove_member(s, &devs, &u[1]));
        assert_ok(s, roles_group_add_member(s, &devs, &u[9]));
        assert_ok(s, roles_role_unassign(s, &lead, &u[0]));
        assert_ok(s, roles_role_assign(s, &lead, &u[10], time(NULL) + 3600));
        assert_ok(s, roles_role_assign(s, &lead, &u[11], time(NULL) - 60));    /* already over */
        test_commit(s);
        s = writer(e);                                          /* a holder disabled, a member's fields */
        u[2].enabled = false;
        assert_ok(s, roles_user_update(s, &u[2]));
        snprintf(u[4].shell, sizeof(u[4].shell), "/bin/sh");
        assert_ok(s, roles_user_update(s, &u[4]));
        test_commit(s);
        s = writer(e);                                          /* a group added, one deleted */
        ops = test_add_group(s, "ops", 20200);
        assert_ok(s, roles_group_add_member(s, &ops, &u[5]));
        assert_ok(s, roles_group_add_member(s, &ops, &u[7]));
        test_commit(s);
        s = writer(e);
        assert_ok(s, roles_group_delete(s, &devs));
        test_add_user(s, "late");
        test_commit(s);

        /* All of it in the delta: the base is the same file. */
        assert_int_equal(stat(index, &after), 0);
        assert_true(after.st_ino == before.st_ino);
        members_of(e, 20500, list);
        assert_string_equal(list, "u1,u10");
        members_of(e, 20200, list);
        assert_string_equal(list, "u5,u7");
        members_of(e, 20100, list);
        assert_string_equal(list, "");

        struct nss_index_view v;
        struct nss_index_found_user found;
        test_index_view(e, &v);
        assert_true(v.has_delta);
        assert_int_equal((int64_t) nss_index_view_serial(&v), serial_now(e));
        assert_int_equal(nss_index_user_by_name(&v, "u3", 2, &found), -ENOENT);
        assert_int_equal(nss_index_user_by_name(&v, "late", 4, &found), 0);
        assert_int_equal(nss_index_user_by_name(&v, "u4", 2, &found), 0);
        assert_memory_equal(found.shell.p, "/bin/sh", 7);
        test_index_close(&v);

        int findings = 0;
        s = writer(e);
        assert_int_equal(roles_writer_doctor(s, count_finding, &findings), 0);
        test_commit(s);
        assert_int_equal(findings, 0);
}

/*
 * A change in bulk (rolesctl import) notes nothing for a delta: it compiles a base, which serves
 * all that roles.db holds after it, and the changes after it go into a delta again. The indexes
 * it dropped are back once it commits, and never went for one that did not commit; its uuids
 * ascend in the order its rows were added.
 */
static void test_bulk_change_compiles_a_base(void **state) {
        struct test_env *e = *state;
        char index[PATH_MAX], db[PATH_MAX], list[256];
        struct stat before, after, later;
        static const char has_index_sql[] =
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'group_members_user'";

        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        test_commit(s);
        path_in(e, "roles.nss", index, sizeof(index));
        path_in(e, "roles.db", db, sizeof(db));
        assert_int_equal(stat(index, &before), 0);

        s = writer(e);                                          /* not committed */
        assert_ok(s, roles_writer_begin_bulk(s, 2));
        test_add_user(s, "ghost");
        test_close(s);
        assert_int_equal(raw_int(db, has_index_sql), 1);

        s = writer(e);
        assert_ok(s, roles_writer_begin_bulk(s, 1 + 3 * 4));  /* crew; each user, its fs_uniquifier and personal group */
        struct roles_group crew = test_add_group(s, "crew", 20300);
        for (int i = 0; i < 4; i++) {
                char name[16];
                snprintf(name, sizeof(name), "b%d", i);
                struct roles_user u = test_add_user(s, name);
                assert_ok(s, roles_group_add_member(s, &crew, &u));
        }
        assert_ok(s, roles_group_add_member(s, &crew, &alice));
        test_commit(s);
        /* Its before-images dropped once published, not left to the next change. */
        char secrets[PATH_MAX];
        path_in(e, "secrets.db", secrets, sizeof(secrets));
        assert_int_equal(raw_int(secrets, "SELECT count(*) FROM before_users"), 0);

        assert_int_equal(raw_int(db, has_index_sql), 1);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM users a JOIN users b ON b.id > a.id "
                                     "WHERE a.name LIKE 'b%' AND b.uuid < a.uuid"), 0);
        assert_int_equal(stat(index, &after), 0);
        assert_true(after.st_ino != before.st_ino);             /* a new base */
        members_of(e, 20300, list);
        assert_string_equal(list, "alice,b0,b1,b2,b3");
        struct nss_index_view v;
        struct nss_index_found_user found;
        test_index_view(e, &v);
        assert_true(v.has_delta);
        assert_int_equal(v.delta.n[NSS_SECTION_USERS], 0);
        assert_int_equal((int64_t) nss_index_view_serial(&v), serial_now(e));
        assert_int_equal(nss_index_user_by_name(&v, "b3", 2, &found), 0);
        assert_int_equal(nss_index_user_by_name(&v, "ghost", 5, &found), -ENOENT);
        test_index_close(&v);

        s = writer(e);                                          /* tracked again: a delta */
        test_add_user(s, "late");
        test_commit(s);
        assert_int_equal(stat(index, &later), 0);
        assert_true(later.st_ino == after.st_ino);
        test_index_view(e, &v);
        assert_int_equal(v.delta.n[NSS_SECTION_USERS], 1);
        assert_int_equal(nss_index_user_by_name(&v, "late", 4, &found), 0);
        test_index_close(&v);

        int findings = 0;
        s = writer(e);
        assert_int_equal(roles_writer_doctor(s, count_finding, &findings), 0);
        test_commit(s);
        assert_int_equal(findings, 0);
}

/* A writer that changes only secrets.db still compiles an index that is not roles.db's (left
 * so by a writer killed between roles.db's commit and the index's rename). */
static void test_secrets_change_mends_stale_index(void **state) {
        struct test_env *e = *state;
        char index[PATH_MAX];
        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        test_commit(s);
        path_in(e, "roles.nss", index, sizeof(index));
        assert_int_equal(unlink(index), 0);

        s = writer(e);
        assert_ok(s, roles_secret_set_email(s, alice.uuid, "alice@example.org"));
        test_commit(s);
        struct nss_index_view v;
        struct nss_index_found_user found;
        test_index_view(e, &v);
        assert_int_equal((int64_t) nss_index_view_serial(&v), serial_now(e));
        assert_int_equal(nss_index_user_by_name(&v, "alice", 5, &found), 0);
        test_index_close(&v);
}

static void test_open_missing(void **state) {
        struct test_env *e = *state;
        char err[512] = "";

        /* Nothing there yet: readers and plain writers are told to run init. */
        assert_int_equal(test_open_kind(&e->cfg, TEST_SNAPSHOT, err, sizeof(err)), -ENOENT);
        assert_int_equal(test_open_kind(&e->cfg, TEST_WRITER, err, sizeof(err)),
                         -ENOENT);
        assert_non_null(strstr(err, "rolesctl init"));
        assert_int_equal(stray_files(e), 0);
        char path[PATH_MAX];
        path_in(e, "roles.db", path, sizeof(path));
        assert_int_equal(access(path, F_OK), -1);
}


static void test_serial(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX];
        struct stat before, after;

        int64_t first = serial_now(e);
        assert_true(first >= 1);

        /* Each commit that changes roles.db publishes the next serial. */
        static const char *const names[] = { "alice", "bob", "carol" };
        for (int i = 0; i < 3; i++) {
                struct roles_writer *s = writer(e);
                test_add_user(s, names[i]);
                test_commit(s);
                assert_true(serial_now(e) == first + i + 1);
        }

        /* A commit that changes nothing in roles.db (nothing at all, or only secrets) keeps
         * the snapshot: same file, same serial. */
        path_in(e, "roles.db", pub, sizeof(pub));
        assert_int_equal(stat(pub, &before), 0);
        test_commit(writer(e));
        struct roles_writer *s = writer(e);
        struct roles_user u;
        assert_ok(s, roles_user_by_name(roles_writer_snapshot(s), "alice", &u));
        assert_ok(s, roles_secret_set_email(s, u.uuid, "alice@example.org"));
        test_commit(s);
        assert_true(serial_now(e) == first + 3);
        assert_int_equal(stat(pub, &after), 0);
        assert_int_equal(after.st_ino, before.st_ino);
        assert_int_equal(stray_files(e), 0);
        /* ... but the secrets change did land. */
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        struct roles_secret sec;
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), u.uuid, &sec));
        assert_string_equal(sec.email, "alice@example.org");
        test_close(r);

        /* A refused change alone does not publish either. */
        s = writer(e);
        struct roles_user dup = test_user("alice");
        assert_int_equal(roles_user_add(s, &dup), -EEXIST);
        test_commit(s);
        assert_true(serial_now(e) == first + 3);
}

static void test_uncommitted_writer(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX], sec[PATH_MAX];
        size_t before_len, after_len;

        path_in(e, "roles.db", pub, sizeof(pub));
        path_in(e, "secrets.db", sec, sizeof(sec));
        char *before = test_read_file(pub, &before_len);
        assert_non_null(before);
        int64_t credentials = raw_int(sec, "SELECT count(*) FROM credentials");
        int64_t audit = raw_int(sec, "SELECT count(*) FROM audit");

        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_add_group(s, "devs", ROLES_ID_INVALID);
        test_add_metarole(s, "dba");
        /* Nothing but roles.db (and its WAL) while the writer works ... */
        assert_int_equal(stray_files(e), 0);
        test_close(s);

        /* ... and nothing reached roles.db or secrets.db. */
        assert_int_equal(stray_files(e), 0);
        char *after = test_read_file(pub, &after_len);
        assert_non_null(after);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        free(before);
        free(after);
        assert_int_equal(raw_int(sec, "SELECT count(*) FROM credentials"), credentials);
        assert_int_equal(raw_int(sec, "SELECT count(*) FROM audit"), audit);

        struct roles_snapshot *r = test_reader(e, 0);
        struct roles_user u;
        assert_int_equal(roles_user_by_name(r, "alice", &u), -ENOENT);
        test_close(r);

        /* And the next writer gets the lock and works normally. */
        s = writer(e);
        test_add_user(s, "alice");
        test_commit(s);
        assert_int_equal(stray_files(e), 0);
}

/* A snapshot changes nothing: what changes takes a writer, and does not compile against a snapshot
 * (tests/test_handle_types.sh). Without secrets it has none to read. */
static void test_reader_is_read_only(void **state) {
        struct test_env *e = *state;
        struct roles_snapshot *r = test_reader(e, 0);
        assert_null(roles_snapshot_secrets(r));
        assert_int_equal(roles_snapshot_list(r, ROLES_LIST_AUDIT, NULL, pick_cb, &(struct pick) { .row = -1 }), -EACCES);
        test_close(r);
}

/* ---- users -------------------------------------------------------------------------------------------- */

static void test_user_add_allocates(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_group g;
        struct roles_secret sec;

        struct roles_user a = test_add_user(s, "alice");
        assert_int_equal(a.uid, e->cfg.uid_min);
        assert_int_equal(a.gid, a.uid);
        assert_true(a.id > 0);
        assert_true(roles_uuid_valid(a.uuid));
        assert_string_equal(a.home, "/home/alice");
        assert_string_equal(a.shell, "/bin/bash");
        assert_true(a.created_at == NOW);
        assert_true(a.updated_at == NOW);

        /* A personal group of the same name, gid == uid. */
        assert_ok(s, roles_group_by_name(roles_writer_snapshot(s), "alice", &g));
        assert_int_equal(g.gid, a.uid);

        struct roles_user b = test_add_user(s, "bob");
        assert_int_equal(b.uid, e->cfg.uid_min + 1);
        assert_int_equal(b.gid, b.uid);
        assert_string_not_equal(a.uuid, b.uuid);

        /* An explicit uid, then allocation continues past the highest in use (like useradd). */
        struct roles_user c = test_user("carol");
        c.uid = 20000;
        c.home[0] = '\0';
        snprintf(c.gecos, sizeof(c.gecos), "Carol C., Room 4");
        snprintf(c.shell, sizeof(c.shell), "/bin/zsh");
        snprintf(c.home, sizeof(c.home), "/srv/carol");
        assert_ok(s, roles_user_add(s, &c));
        assert_int_equal(c.uid, 20000);
        assert_int_equal(c.gid, 20000);
        struct roles_user d = test_add_user(s, "dave");
        assert_int_equal(d.uid, 20001);

        /* Every user has a secrets row from birth, without a password. */
        assert_ok(s, roles_secret_get(roles_writer_secrets(s), a.uuid, &sec));
        assert_string_equal(sec.password_hash, "");
        assert_true(roles_uuid_valid(sec.fs_uniquifier));
        test_commit(s);

        /* All of it as a reader sees it. */
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        struct roles_user u;
        assert_ok(r, roles_user_by_name(r, "carol", &u));
        assert_int_equal(u.uid, 20000);
        assert_string_equal(u.gecos, "Carol C., Room 4");
        assert_string_equal(u.home, "/srv/carol");
        assert_string_equal(u.shell, "/bin/zsh");
        assert_string_equal(u.uuid, c.uuid);
        assert_true(u.enabled);
        assert_true(u.expires_at == 0);
        assert_ok(r, roles_user_by_uid(r, 10001, &u));
        assert_string_equal(u.name, "bob");
        assert_int_equal(roles_user_by_uid(r, 10002, &u), -ENOENT);
        /* By uuid, which keys secrets.db's and state.db's rows (rolesctl user locked names them so). */
        assert_ok(r, roles_user_by_uuid(r, d.uuid, &u));
        assert_string_equal(u.name, "dave");
        assert_int_equal(roles_user_by_uuid(r, "00000000-0000-4000-8000-00000000dead", &u), -ENOENT);
        assert_int_equal(roles_user_by_uuid(r, "dave", &u), -EINVAL);
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), d.uuid, &sec));
        test_close(r);
}

static void test_user_add_refused(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_user u;
        struct roles_group g;

        struct roles_user alice = test_add_user(s, "alice");
        struct counts before = counts_of(s);

        static const struct {
                const char *name;
                uint32_t uid;
                int err;
        } cases[] = {
                { "root2", 0, -ERANGE },
                { "low", 9999, -ERANGE },
                { "high", 60000, -ERANGE },
                { "max", 4294967294u, -ERANGE },
                { "dup-uid", 10000, -EEXIST },          /* alice's */
                { "alice", ROLES_ID_INVALID, -EEXIST }, /* duplicate name */
                { "Alice", ROLES_ID_INVALID, -EINVAL },
                { "al:ice", ROLES_ID_INVALID, -EINVAL },
                { "1alice", ROLES_ID_INVALID, -EINVAL },
                { "", ROLES_ID_INVALID, -EINVAL },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(cases); i++) {
                u = test_user(cases[i].name);
                u.uid = cases[i].uid;
                struct roles_user copy = u;
                int r = roles_user_add(s, &u);
                if (r != cases[i].err)
                        fail_msg("user '%s' uid %u: expected %d, got %d (%s)", cases[i].name, cases[i].uid,
                                 cases[i].err, r, test_error(s));
                assert_memory_equal(&u, &copy, sizeof(u));
                assert_counts_equal(counts_of(s), before);
        }

        /* A --gid naming no group. */
        u = test_user("nogroup");
        u.gid = 12345;
        assert_int_equal(roles_user_add(s, &u), -ENOENT);
        assert_counts_equal(counts_of(s), before);

        /* A name whose personal group would clash with an existing group. */
        test_add_group(s, "devs", ROLES_ID_INVALID);
        before = counts_of(s);
        u = test_user("devs");
        assert_int_equal(roles_user_add(s, &u), -EEXIST);
        assert_counts_equal(counts_of(s), before);

        /* Fields that could break a passwd line. */
        u = test_user("eve");
        snprintf(u.gecos, sizeof(u.gecos), "Eve:0:0");
        assert_int_equal(roles_user_add(s, &u), -EINVAL);
        u = test_user("eve");
        snprintf(u.gecos, sizeof(u.gecos), "Eve\nroot::0:0::/:/bin/sh");
        assert_int_equal(roles_user_add(s, &u), -EINVAL);
        u = test_user("eve");
        snprintf(u.home, sizeof(u.home), "home/eve");
        assert_int_equal(roles_user_add(s, &u), -EINVAL);
        u = test_user("eve");
        snprintf(u.shell, sizeof(u.shell), "/bin/sh:x");
        assert_int_equal(roles_user_add(s, &u), -EINVAL);
        assert_counts_equal(counts_of(s), before);
        assert_int_equal(roles_user_by_name(roles_writer_snapshot(s), "eve", &u), -ENOENT);
        assert_int_equal(roles_group_by_name(roles_writer_snapshot(s), "eve", &g), -ENOENT);
        test_commit(s);

        /* Published: exactly alice and devs (and alice's group). */
        char pub[PATH_MAX];
        path_in(e, "roles.db", pub, sizeof(pub));
        assert_int_equal(raw_int(pub, "SELECT count(*) FROM users"), 1);
        assert_int_equal(raw_int(pub, "SELECT count(*) FROM groups"), 2);
        char sec[PATH_MAX];
        path_in(e, "secrets.db", sec, sizeof(sec));
        assert_int_equal(raw_int(sec, "SELECT count(*) FROM credentials"), 1);
        (void) alice;
}

static void test_user_add_refused_late(void **state) {
        struct test_env *e = *state;
        struct roles_group g;

        /* A home_base so long that home_base/NAME cannot be a valid home: refused, and the
         * personal group must not be left behind in the snapshot either. */
        e->cfg.home_base[0] = '/';
        memset(e->cfg.home_base + 1, 'h', 250);
        e->cfg.home_base[251] = '\0';
        assert_true(roles_path_valid(e->cfg.home_base));
        struct roles_writer *s = writer(e);
        struct counts before = counts_of(s);
        struct roles_user u = test_user("alice");
        int r = roles_user_add(s, &u);
        assert_true(r == -ENAMETOOLONG || r == -EINVAL);
        assert_counts_equal(counts_of(s), before);
        assert_int_equal(roles_group_by_name(roles_writer_snapshot(s), "alice", &g), -ENOENT);

        /* With an explicit home it works. */
        snprintf(u.home, sizeof(u.home), "/home/alice");
        assert_ok(s, roles_user_add(s, &u));
        test_commit(s);
}

static void test_user_primary_group(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_group g;

        /* Group "staff" takes gid 10000 first: alice gets uid 10000, her personal group another gid. */
        struct roles_group staff = test_add_group(s, "staff", ROLES_ID_INVALID);
        assert_int_equal(staff.gid, 10000);
        struct roles_user alice = test_add_user(s, "alice");
        assert_int_equal(alice.uid, 10000);
        assert_int_not_equal(alice.gid, 10000);
        assert_ok(s, roles_group_by_name(roles_writer_snapshot(s), "alice", &g));
        assert_int_equal(g.gid, alice.gid);

        /* An existing group as primary (--gid): no personal group. */
        struct roles_user bob = test_user("bob");
        bob.gid = staff.gid;
        int groups = list_count(roles_writer_snapshot(s), ROLES_LIST_GROUPS, NULL);
        assert_ok(s, roles_user_add(s, &bob));
        assert_int_equal(bob.gid, staff.gid);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_GROUPS, NULL), groups);
        assert_int_equal(roles_group_by_name(roles_writer_snapshot(s), "bob", &g), -ENOENT);
        test_commit(s);
}

static void test_user_update(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_user u;

        struct roles_user a = test_add_user(s, "alice");
        a.enabled = false;
        a.expires_at = NOW + 86400;
        snprintf(a.gecos, sizeof(a.gecos), "Alice L.");
        assert_ok(s, roles_user_update(s, &a));
        assert_ok(s, roles_user_by_name(roles_writer_snapshot(s), "alice", &u));
        assert_false(u.enabled);
        assert_true(u.expires_at == NOW + 86400);
        assert_string_equal(u.gecos, "Alice L.");

        /* Refused: a gid of no group, a gecos with ':', a user that is not there. */
        struct roles_user bad = a;
        bad.gid = 12345;
        assert_int_equal(roles_user_update(s, &bad), -ENOENT);
        bad = a;
        snprintf(bad.gecos, sizeof(bad.gecos), "x:y");
        assert_int_equal(roles_user_update(s, &bad), -EINVAL);
        bad = a;
        bad.id = 9999;
        assert_int_equal(roles_user_update(s, &bad), -ENOENT);
        assert_ok(s, roles_user_by_name(roles_writer_snapshot(s), "alice", &u));
        assert_string_equal(u.gecos, "Alice L.");
        test_commit(s);
}

static void test_user_delete(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_secret sec;
        struct roles_group g;
        struct roles_user u;
        char secrets[PATH_MAX];

        path_in(e, "secrets.db", secrets, sizeof(secrets));
        struct roles_user alice = test_add_user(s, "alice");
        struct roles_user bob = test_add_user(s, "bob");
        struct roles_group devs = test_add_group(s, "devs", ROLES_ID_INVALID);
        assert_ok(s, roles_group_add_member(s, &devs, &alice));
        uint8_t hash[32] = { 1, 2, 3 };
        assert_ok(s, roles_secret_put_code(s, alice.uuid, ROLES_CODE_RESET, hash, NOW + 600));
        test_commit(s);
        assert_int_equal(raw_int(secrets, "SELECT count(*) FROM credentials"), 2);

        s = writer(e);
        assert_ok(s, roles_user_by_name(roles_writer_snapshot(s), "alice", &u));
        assert_ok(s, roles_user_delete(s, &u));
        assert_int_equal(roles_user_by_name(roles_writer_snapshot(s), "alice", &u), -ENOENT);
        /* The personal group goes with the user; other groups stay, without the member. */
        assert_int_equal(roles_group_by_name(roles_writer_snapshot(s), "alice", &g), -ENOENT);
        assert_ok(s, roles_group_by_name(roles_writer_snapshot(s), "devs", &g));
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_GROUP_MEMBERS, "devs"), 0);
        /* Secrets stay until the snapshot without the user is published. */
        assert_ok(s, roles_secret_get(roles_writer_secrets(s), alice.uuid, &sec));
        /* Deleting twice. */
        assert_int_equal(roles_user_delete(s, &alice), -ENOENT);
        test_commit(s);

        /* After publishing: the secrets row and codes are gone, bob's remain. */
        assert_int_equal(raw_int(secrets, "SELECT count(*) FROM credentials"), 1);
        assert_int_equal(raw_int(secrets, "SELECT count(*) FROM codes"), 0);
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_int_equal(roles_secret_get(roles_snapshot_secrets(r), alice.uuid, &sec), -ENOENT);
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), bob.uuid, &sec));
        assert_int_equal(roles_user_by_uid(r, alice.uid, &u), -ENOENT);
        test_close(r);
}

static void test_user_delete_keeps_shared_group(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_group g;

        struct roles_user alice = test_add_user(s, "alice");
        struct roles_user bob = test_user("bob");
        bob.gid = alice.gid;            /* bob's primary group is alice's personal group */
        assert_ok(s, roles_user_add(s, &bob));
        assert_ok(s, roles_user_delete(s, &alice));
        /* Still bob's primary group: it must stay. */
        assert_ok(s, roles_group_by_name(roles_writer_snapshot(s), "alice", &g));
        assert_int_equal(g.gid, bob.gid);
        test_commit(s);
}

/* ---- groups -------------------------------------------------------------------------------------------- */

static void test_groups(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_group g;

        struct roles_group devs = test_add_group(s, "devs", ROLES_ID_INVALID);
        assert_int_equal(devs.gid, 10000);
        assert_true(roles_uuid_valid(devs.uuid));
        struct roles_group ops = test_add_group(s, "ops", 30000);
        assert_int_equal(ops.gid, 30000);
        struct roles_group qa = test_add_group(s, "qa", ROLES_ID_INVALID);
        assert_int_equal(qa.gid, 30001);

        struct counts before = counts_of(s);
        g = (struct roles_group) { .name = "devs", .gid = ROLES_ID_INVALID };
        assert_int_equal(roles_group_add(s, &g), -EEXIST);
        g = (struct roles_group) { .name = "other", .gid = 30000 };
        assert_int_equal(roles_group_add(s, &g), -EEXIST);
        g = (struct roles_group) { .name = "other", .gid = 0 };
        assert_int_equal(roles_group_add(s, &g), -ERANGE);
        g = (struct roles_group) { .name = "other", .gid = 9999 };
        assert_int_equal(roles_group_add(s, &g), -ERANGE);
        g = (struct roles_group) { .name = "other", .gid = 60000 };
        assert_int_equal(roles_group_add(s, &g), -ERANGE);
        g = (struct roles_group) { .name = "Other", .gid = ROLES_ID_INVALID };
        assert_int_equal(roles_group_add(s, &g), -EINVAL);
        g = (struct roles_group) { .name = "other", .gid = ROLES_ID_INVALID, .description = "a:b" };
        assert_int_equal(roles_group_add(s, &g), -EINVAL);
        assert_counts_equal(counts_of(s), before);

        assert_ok(s, roles_group_by_gid(roles_writer_snapshot(s), 30000, &g));
        assert_string_equal(g.name, "ops");
        assert_ok(s, roles_group_delete(s, &ops));
        assert_int_equal(roles_group_by_name(roles_writer_snapshot(s), "ops", &g), -ENOENT);
        assert_int_equal(roles_group_delete(s, &ops), -ENOENT);
        test_commit(s);

        struct roles_snapshot *r = test_reader(e, 0);
        assert_int_equal(roles_group_by_gid(r, 30000, &g), -ENOENT);
        assert_ok(r, roles_group_by_gid(r, 30001, &g));
        assert_string_equal(g.name, "qa");
        assert_string_equal(g.uuid, qa.uuid);
        test_close(r);
}

static void test_group_delete_primary_busy(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_group g;

        struct roles_user alice = test_add_user(s, "alice");
        assert_ok(s, roles_group_by_name(roles_writer_snapshot(s), "alice", &g));
        struct counts before = counts_of(s);
        assert_int_equal(roles_group_delete(s, &g), -EBUSY);
        assert_non_null(strstr(test_error(s), "alice"));
        assert_counts_equal(counts_of(s), before);

        /* Another group used as someone's primary group by --gid. */
        struct roles_group staff = test_add_group(s, "staff", ROLES_ID_INVALID);
        struct roles_user bob = test_user("bob");
        bob.gid = staff.gid;
        assert_ok(s, roles_user_add(s, &bob));
        assert_int_equal(roles_group_delete(s, &staff), -EBUSY);
        assert_ok(s, roles_user_delete(s, &bob));
        assert_ok(s, roles_group_delete(s, &staff));
        (void) alice;
        test_commit(s);
}

static void test_group_members(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        char buf[64];

        struct roles_user alice = test_add_user(s, "alice");
        struct roles_user bob = test_add_user(s, "bob");
        struct roles_group devs = test_add_group(s, "devs", ROLES_ID_INVALID);

        assert_ok(s, roles_group_add_member(s, &devs, &alice));
        assert_ok(s, roles_group_add_member(s, &devs, &bob));
        int audit = list_count(roles_writer_snapshot(s), ROLES_LIST_AUDIT, NULL);
        assert_int_equal(roles_group_add_member(s, &devs, &alice), -EEXIST);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_AUDIT, NULL), audit);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_GROUP_MEMBERS, "devs"), 2);
        assert_string_equal(list_value(roles_writer_snapshot(s), ROLES_LIST_GROUP_MEMBERS, "devs", 0, "user", buf, sizeof(buf)), "alice");

        assert_ok(s, roles_group_remove_member(s, &devs, &alice));
        assert_int_equal(roles_group_remove_member(s, &devs, &alice), -ENOENT);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_GROUP_MEMBERS, "devs"), 1);
        test_commit(s);

        struct roles_snapshot *r = test_reader(e, 0);
        assert_int_equal(list_count(r, ROLES_LIST_GROUP_MEMBERS, "devs"), 1);
        assert_string_equal(list_value(r, ROLES_LIST_GROUP_MEMBERS, "devs", 0, "user", buf, sizeof(buf)), "bob");
        /* bob: primary group bob, member of devs. */
        assert_int_equal(list_count(r, ROLES_LIST_USER_GROUPS, "bob"), 2);
        test_close(r);
}

/* ---- metaroles ------------------------------------------------------------------------------------------ */

static void test_metarole_builtins(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        char buf[64];

        struct roles_metarole sa = get_metarole(s, ROLES_METAROLE_SUPER_ADMIN);
        struct roles_metarole admin = get_metarole(s, ROLES_METAROLE_ADMIN);
        struct roles_metarole user = get_metarole(s, ROLES_METAROLE_USER);
        assert_true(sa.builtin && admin.builtin && user.builtin);
        assert_int_equal(sa.gid, ROLES_ID_INVALID);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "super-admin"), 1);
        assert_string_equal(list_value(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "super-admin", 0, "code", buf, sizeof(buf)),
                            "admin");
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "admin"), 1);
        assert_string_equal(list_value(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "admin", 0, "code", buf, sizeof(buf)),
                            "user");
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "user"), 0);

        /* Built-ins cannot be deleted, nor the chain between them cut. */
        struct counts before = counts_of(s);
        assert_int_equal(roles_metarole_delete(s, &user), -EBUSY);
        assert_int_equal(roles_metarole_delete(s, &sa), -EBUSY);
        int r = roles_metarole_exclude(s, &admin, &user);
        assert_true(r == -EBUSY || r == -EPERM);
        assert_counts_equal(counts_of(s), before);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "admin"), 1);
        test_commit(s);

        struct roles_snapshot *rd = test_reader(e, 0);
        struct roles_metarole m;
        assert_ok(rd, roles_metarole_by_code(rd, "user", &m));
        assert_true(m.builtin);
        test_close(rd);
}

static void test_metarole_add_delete(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_metarole m;

        struct roles_metarole dba = test_add_metarole(s, "dba");
        assert_false(dba.builtin);
        assert_int_equal(dba.gid, ROLES_ID_INVALID);
        m = (struct roles_metarole) { .code = "dba" };
        assert_int_equal(roles_metarole_add(s, &m), -EEXIST);
        m = (struct roles_metarole) { .code = "Dba" };
        assert_int_equal(roles_metarole_add(s, &m), -EINVAL);
        m = (struct roles_metarole) { .code = "ok", .name = "bad:name" };
        assert_int_equal(roles_metarole_add(s, &m), -EINVAL);

        /* In use by a role: refused until the role goes. */
        struct roles_role role = test_add_role(s, "db-admins", "dba");
        assert_int_equal(roles_metarole_delete(s, &dba), -EBUSY);
        assert_ok(s, roles_role_delete(s, &role));
        assert_ok(s, roles_metarole_delete(s, &dba));
        assert_int_equal(roles_metarole_by_code(roles_writer_snapshot(s), "dba", &m), -ENOENT);
        assert_int_equal(roles_metarole_delete(s, &dba), -ENOENT);
        test_commit(s);
}

static void test_metarole_cycles(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        struct roles_metarole a = test_add_metarole(s, "a");
        struct roles_metarole b = test_add_metarole(s, "b");
        struct roles_metarole c = test_add_metarole(s, "c");
        struct roles_metarole sa = get_metarole(s, ROLES_METAROLE_SUPER_ADMIN);
        struct roles_metarole user = get_metarole(s, ROLES_METAROLE_USER);

        assert_ok(s, roles_metarole_include(s, &a, &b));
        assert_ok(s, roles_metarole_include(s, &b, &c));
        assert_int_equal(roles_metarole_include(s, &a, &b), -EEXIST);
        int audit = list_count(roles_writer_snapshot(s), ROLES_LIST_AUDIT, NULL);

        /* Self, direct and through a chain. */
        assert_int_equal(roles_metarole_include(s, &a, &a), -ELOOP);
        assert_int_equal(roles_metarole_include(s, &b, &a), -ELOOP);
        assert_int_equal(roles_metarole_include(s, &c, &a), -ELOOP);
        assert_int_equal(roles_metarole_include(s, &c, &b), -ELOOP);
        /* Through the built-in chain: user would include super-admin ⊃ admin ⊃ user. */
        assert_int_equal(roles_metarole_include(s, &user, &sa), -ELOOP);
        /* Through a mixed chain: c includes super-admin, then user including a closes it. */
        assert_ok(s, roles_metarole_include(s, &c, &sa));
        audit++;
        assert_int_equal(roles_metarole_include(s, &user, &a), -ELOOP);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_AUDIT, NULL), audit);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "a"), 1);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "c"), 1);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_INCLUDES, "user"), 0);

        /* A diamond is not a cycle. */
        assert_ok(s, roles_metarole_include(s, &a, &c));

        /* Exclude, then the reverse edge becomes possible. */
        assert_ok(s, roles_metarole_exclude(s, &b, &c));
        assert_int_equal(roles_metarole_exclude(s, &b, &c), -ENOENT);
        assert_ok(s, roles_metarole_exclude(s, &a, &c));
        assert_ok(s, roles_metarole_include(s, &c, &b));
        test_commit(s);
}

static void test_metarole_publish(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_group g;
        struct roles_metarole m;

        test_add_group(s, "devs", ROLES_ID_INVALID);         /* 10000 */
        test_add_group(s, "ops", ROLES_ID_INVALID);          /* 10001 */
        struct roles_metarole web = test_add_metarole(s, "web");
        assert_ok(s, roles_metarole_publish(s, &web, ROLES_ID_INVALID));
        assert_int_equal(web.gid, 10002);
        assert_int_equal(roles_group_by_gid(roles_writer_snapshot(s), 10002, &g), -ENOENT);     /* not a group row */
        assert_int_equal(roles_metarole_publish(s, &web, ROLES_ID_INVALID), -EEXIST);

        /* Groups allocated afterwards do not take the metarole's gid, nor a user's personal group. */
        struct roles_group qa = test_add_group(s, "qa", ROLES_ID_INVALID);
        assert_int_equal(qa.gid, 10003);
        struct roles_user u = test_user("alice");
        u.uid = 10002;                  /* personal group gid would be 10002: taken by web */
        assert_ok(s, roles_user_add(s, &u));
        assert_int_not_equal(u.gid, 10002);

        /* Explicit gids that clash. */
        struct roles_metarole db = test_add_metarole(s, "db");
        assert_int_equal(roles_metarole_publish(s, &db, 10000), -EEXIST);      /* devs */
        assert_int_equal(roles_metarole_publish(s, &db, 10002), -EEXIST);      /* web */
        assert_int_equal(roles_metarole_publish(s, &db, 5), -ERANGE);
        assert_int_equal(db.gid, ROLES_ID_INVALID);
        g = (struct roles_group) { .name = "other", .gid = 10002 };
        assert_int_equal(roles_group_add(s, &g), -EEXIST);

        /* Names: a published metarole and a group cannot share one, either way round. */
        g = (struct roles_group) { .name = "web", .gid = ROLES_ID_INVALID };
        assert_int_equal(roles_group_add(s, &g), -EEXIST);
        u = test_user("web");
        assert_int_equal(roles_user_add(s, &u), -EEXIST);
        struct roles_metarole ops = test_add_metarole(s, "ops");    /* fine while unpublished */
        assert_int_equal(roles_metarole_publish(s, &ops, ROLES_ID_INVALID), -EEXIST);
        assert_int_equal(ops.gid, ROLES_ID_INVALID);

        /* Unpublished, the name is free again. */
        assert_ok(s, roles_metarole_unpublish(s, &web));
        assert_int_equal(web.gid, ROLES_ID_INVALID);
        assert_int_equal(roles_metarole_unpublish(s, &web), -ENOENT);
        test_add_group(s, "web", ROLES_ID_INVALID);
        assert_ok(s, roles_metarole_publish(s, &db, 40000));
        test_commit(s);

        struct roles_snapshot *r = test_reader(e, 0);
        assert_ok(r, roles_metarole_by_code(r, "db", &m));
        assert_int_equal(m.gid, 40000);
        assert_ok(r, roles_metarole_by_code(r, "web", &m));
        assert_int_equal(m.gid, ROLES_ID_INVALID);
        test_close(r);
}

/* ---- the host's own ids ---------------------------------------------------------------------------- */

/* Copies of the host's files in the test's directory, for a store to allocate around. */
struct host_copy {
        char passwd[PATH_MAX], group[PATH_MAX], subuid[PATH_MAX], subgid[PATH_MAX], login_defs[PATH_MAX];
        struct host_accounts h;
};

static void host_copy(struct test_env *e, struct host_copy *c, const char *passwd, const char *group,
                      const char *subuid, const char *subgid, const char *login_defs) {
        const struct {
                char *path;
                const char *name, *text;
        } files[] = {
                { c->passwd, "host-passwd", passwd }, { c->group, "host-group", group },
                { c->subuid, "host-subuid", subuid }, { c->subgid, "host-subgid", subgid },
                { c->login_defs, "host-login.defs", login_defs },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(files); i++) {
                path_in(e, files[i].name, files[i].path, PATH_MAX);
                write_file(files[i].path, files[i].text, strlen(files[i].text));
        }
        host_accounts_init(&c->h, &(struct host_paths) { c->passwd, c->group, c->subuid, c->subgid, c->login_defs });
}

/*
 * Allocation skips every id the host uses: its accounts' uids and gids (a primary gid without a
 * line in the group file too) and its subordinate ranges, for users, their personal groups,
 * groups and published metaroles alike. A file that cannot be read allocates nothing.
 */
static void test_alloc_skips_host_ids(void **state) {
        struct test_env *e = *state;
        struct host_copy host;
        host_copy(e, &host, "local:x:10000:10003::/home/local:/bin/sh\n", "localg:x:10001:\n",
                  "local:10002:3\n", "local:10005:2\n", "");
        struct roles_writer *s = writer(e);
        roles_writer_set_host_accounts(s, &host.h);

        struct roles_user alice = test_add_user(s, "alice");
        assert_int_equal(alice.uid, 10001);             /* 10000: local's uid */
        assert_int_equal(alice.gid, 10000);             /* not 10001: localg's gid */
        struct roles_user bob = test_add_user(s, "bob");
        assert_int_equal(bob.uid, 10005);               /* 10002-10004: local's subordinate uids */
        assert_int_equal(bob.gid, 10002);               /* not 10005: a subordinate gid; 10001 localg's */
        assert_int_equal(test_add_group(s, "devs", ROLES_ID_INVALID).gid, 10004);    /* 10003: local's primary gid */
        assert_int_equal(test_add_group(s, "ops", ROLES_ID_INVALID).gid, 10007);     /* 10005-10006: subordinate */
        struct roles_metarole web = test_add_metarole(s, "web");
        assert_ok(s, roles_metarole_publish(s, &web, ROLES_ID_INVALID));
        assert_int_equal(web.gid, 10008);

        /* /etc/subuid unreadable: nothing is allocated, and the reason names it. */
        assert_int_equal(unlink(host.subuid), 0);
        assert_int_equal(mkdir(host.subuid, 0755), 0);
        struct roles_user carol = test_user("carol");
        assert_true(roles_user_add(s, &carol) < 0);
        assert_non_null(strstr(test_error(s), host.subuid));
        assert_int_equal(roles_user_by_name(roles_writer_snapshot(s), "carol", &carol), -ENOENT);
        assert_int_equal(rmdir(host.subuid), 0);
        carol = test_add_user(s, "carol");                   /* once nothing stands in the way */
        assert_int_equal(carol.uid, 10006);
        test_commit(s);
        host_accounts_done(&host.h);
}

/*
 * A full top end: allocation walks what is in use, in order, for the first gap that neither
 * roles nor the host uses (one ordered query, not a query per id). Here 10000-10007 hold, in
 * turn: local (the host's), a gap the host's subordinate range covers, two roles users, a gap,
 * and roles users up to the top.
 */
static void test_alloc_first_gap(void **state) {
        struct test_env *e = *state;
        struct host_copy host;
        host_copy(e, &host, "local:x:10000:10000::/home/local:/bin/sh\n", "", "local:10001:1\n", "", "");
        e->cfg.uid_max = 10007;
        struct roles_writer *s = writer(e);
        roles_writer_set_host_accounts(s, &host.h);
        const uint32_t taken[] = { 10002, 10003, 10005, 10006, 10007 };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(taken); i++) {
                char name[16];
                snprintf(name, sizeof(name), "t%u", taken[i]);
                struct roles_user u = test_user(name);
                u.uid = taken[i];
                assert_ok(s, roles_user_add(s, &u));
        }
        assert_int_equal(test_add_user(s, "gap").uid, 10004);
        struct roles_user none = test_user("none");
        assert_int_equal(roles_user_add(s, &none), -ENOSPC);
        test_commit(s);
        host_accounts_done(&host.h);
}

/* A uid or gid taken away (user del, group del, metarole unpublish) is never allocated again:
 * a process or a file the old owner left would become the next account's. */
static void test_retired_ids_never_allocated(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        struct roles_user alice = test_add_user(s, "alice");
        struct roles_user bob = test_add_user(s, "bob");
        assert_int_equal(bob.uid, 10001);
        assert_ok(s, roles_user_delete(s, &bob));
        struct roles_user carol = test_add_user(s, "carol");
        assert_int_equal(carol.uid, 10002);             /* not bob's 10001 */
        assert_int_equal(carol.gid, 10002);             /* nor his personal group's gid */

        struct roles_group devs = test_add_group(s, "devs", ROLES_ID_INVALID);
        assert_int_equal(devs.gid, 10003);
        assert_ok(s, roles_group_delete(s, &devs));
        assert_int_equal(test_add_group(s, "ops", ROLES_ID_INVALID).gid, 10004);

        struct roles_metarole web = test_add_metarole(s, "web");
        assert_ok(s, roles_metarole_publish(s, &web, ROLES_ID_INVALID));
        assert_int_equal(web.gid, 10005);
        assert_ok(s, roles_metarole_unpublish(s, &web));
        assert_ok(s, roles_metarole_publish(s, &web, ROLES_ID_INVALID));
        assert_int_equal(web.gid, 10006);

        /* The personal group does not take gid = uid when a group had that gid. */
        struct roles_user dave = test_add_user(s, "dave");
        assert_int_equal(dave.uid, 10003);
        assert_int_equal(dave.gid, 10007);
        test_commit(s);

        /* Only a full top end makes allocation search gaps: bob's 10001 is no gap. */
        e->cfg.uid_max = 10004;
        s = writer(e);
        assert_int_equal(test_add_user(s, "erin").uid, 10004);
        struct roles_user frank = test_user("frank");
        assert_int_equal(roles_user_add(s, &frank), -ENOSPC);
        assert_ok(s, roles_user_delete(s, &alice));
        assert_int_equal(roles_user_add(s, &frank), -ENOSPC);
        test_commit(s);
}

/* A retired id asked for by number is refused, naming its last owner and when, unless a reuse
 * is allowed (--force). */
/* A change in bulk that began with no retired id looks none up, until it retires one itself; one
 * that began with some looks them up. */
static void test_bulk_change_sees_retired_ids(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        assert_ok(s, roles_writer_begin_bulk(s, 0));
        struct roles_user alice = test_user("alice");
        alice.uid = 20000;
        assert_ok(s, roles_user_add(s, &alice));
        assert_int_equal(roles_retired_id(s, false, 20000, NULL, 0, NULL), 0);
        assert_ok(s, roles_user_delete(s, &alice));
        assert_int_equal(roles_retired_id(s, false, 20000, NULL, 0, NULL), 1);
        struct roles_user bob = test_user("bob");
        bob.uid = 20000;
        assert_int_equal(roles_user_add(s, &bob), -EEXIST);
        test_commit(s);

        s = writer(e);
        assert_ok(s, roles_writer_begin_bulk(s, 0));
        assert_int_equal(roles_retired_id(s, true, 20000, NULL, 0, NULL), 1);  /* alice's personal group */
        assert_int_equal(roles_user_add(s, &bob), -EEXIST);
        test_commit(s);
}

static void test_retired_id_request_refused(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        char name[ROLES_NAME_MAX + 1] = "";
        int64_t at = 0;

        struct roles_user alice = test_user("alice");
        alice.uid = 20000;
        assert_ok(s, roles_user_add(s, &alice));
        assert_int_equal(alice.gid, 20000);
        struct roles_metarole web = test_add_metarole(s, "web");
        assert_ok(s, roles_metarole_publish(s, &web, 20100));
        assert_int_equal(roles_retired_id(s, false, 20000, name, sizeof(name), &at), 0);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW + 60);
        assert_ok(s, roles_user_delete(s, &alice));
        assert_ok(s, roles_metarole_unpublish(s, &web));
        test_commit(s);

        s = writer(e);
        assert_int_equal(roles_retired_id(s, false, 20000, name, sizeof(name), &at), 1);
        assert_string_equal(name, "alice");
        assert_true(at == NOW + 60);
        assert_int_equal(roles_retired_id(s, true, 20000, NULL, 0, NULL), 1);  /* her personal group */
        assert_int_equal(roles_retired_id(s, true, 20100, name, sizeof(name), NULL), 1);
        assert_string_equal(name, "web");

        struct roles_user bob = test_user("bob");
        bob.uid = 20000;
        assert_int_equal(roles_user_add(s, &bob), -EEXIST);
        assert_non_null(strstr(test_error(s), "uid 20000 was the uid of 'alice' until 2026-01-01T00:01:00Z"));
        assert_int_equal(roles_user_by_name(roles_writer_snapshot(s), "bob", &bob), -ENOENT);
        struct roles_group g = { .gid = 20000 };
        assert_int_equal(roles_strcpy(g.name, sizeof(g.name), "devs"), 0);
        assert_int_equal(roles_group_add(s, &g), -EEXIST);
        assert_non_null(strstr(test_error(s), "gid 20000 was the gid of 'alice'"));
        assert_int_equal(roles_metarole_publish(s, &web, 20000), -EEXIST);
        assert_int_equal(roles_metarole_publish(s, &web, 20100), -EEXIST);
        assert_non_null(strstr(test_error(s), "'web'"));

        /* Forced: alice comes back with her uid and her personal group's gid. */
        roles_writer_allow_retired_ids(s, true);
        bob = test_user("alice");
        bob.uid = 20000;
        assert_ok(s, roles_user_add(s, &bob));
        assert_int_equal(bob.gid, 20000);
        assert_ok(s, roles_metarole_publish(s, &web, 20100));
        roles_writer_allow_retired_ids(s, false);
        g.gid = 20100;
        assert_int_equal(roles_group_add(s, &g), -EEXIST);     /* in use again */
        test_commit(s);
}

static void test_metarole_perms(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        struct roles_metarole dba = test_add_metarole(s, "dba");
        assert_ok(s, roles_metarole_grant(s, &dba, "db.read"));
        assert_ok(s, roles_metarole_grant(s, &dba, "db.backup.*"));
        assert_int_equal(roles_metarole_grant(s, &dba, "db.read"), -EEXIST);
        assert_int_equal(roles_metarole_grant(s, &dba, "*"), -EINVAL);
        assert_int_equal(roles_metarole_grant(s, &dba, "DB.read"), -EINVAL);
        assert_int_equal(roles_metarole_grant(s, &dba, "db..read"), -EINVAL);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_PERMS, "dba"), 2);
        assert_ok(s, roles_metarole_revoke(s, &dba, "db.read"));
        assert_int_equal(roles_metarole_revoke(s, &dba, "db.read"), -ENOENT);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_METAROLE_PERMS, "dba"), 1);
        test_commit(s);
}

/* ---- roles ---------------------------------------------------------------------------------------------- */

static void test_roles(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_role role;
        char buf[64];

        test_add_metarole(s, "dba");
        struct counts before = counts_of(s);
        role = (struct roles_role) { .name = "dbas", .metarole = "nosuch" };
        assert_int_equal(roles_role_add(s, &role), -ENOENT);
        role = (struct roles_role) { .name = "dbas", .metarole = "" };
        assert_true(roles_role_add(s, &role) < 0);
        role = (struct roles_role) { .name = "DBAs", .metarole = "dba" };
        assert_int_equal(roles_role_add(s, &role), -EINVAL);
        role = (struct roles_role) { .name = "dbas", .metarole = "dba", .description = "x\ny" };
        assert_int_equal(roles_role_add(s, &role), -EINVAL);
        assert_counts_equal(counts_of(s), before);

        struct roles_role dbas = test_add_role(s, "dbas", "dba");
        assert_true(dbas.id > 0);
        role = (struct roles_role) { .name = "dbas", .metarole = "user" };
        assert_int_equal(roles_role_add(s, &role), -EEXIST);
        assert_ok(s, roles_role_by_name(roles_writer_snapshot(s), "dbas", &role));
        assert_string_equal(role.metarole, "dba");
        assert_true(role.metarole_id == dbas.metarole_id);

        /* Grants, duplicates, disable/enable, revoke. */
        assert_ok(s, roles_role_grant(s, &dbas, "db.read"));
        assert_ok(s, roles_role_grant(s, &dbas, "db.*"));
        assert_int_equal(roles_role_grant(s, &dbas, "db.read"), -EEXIST);
        assert_int_equal(roles_role_grant(s, &dbas, "*"), -EINVAL);
        assert_ok(s, roles_role_set_disabled(s, &dbas, "db.read", true));
        assert_string_equal(list_value(roles_writer_snapshot(s), ROLES_LIST_ROLE_PERMS, "dbas", 1, "status", buf, sizeof(buf)), "disabled");
        assert_string_equal(list_value(roles_writer_snapshot(s), ROLES_LIST_ROLE_PERMS, "dbas", 0, "status", buf, sizeof(buf)), "enabled");
        assert_int_equal(roles_role_set_disabled(s, &dbas, "db.write", true), -ENOENT);
        assert_ok(s, roles_role_set_disabled(s, &dbas, "db.read", false));
        assert_string_equal(list_value(roles_writer_snapshot(s), ROLES_LIST_ROLE_PERMS, "dbas", 1, "status", buf, sizeof(buf)), "enabled");
        assert_ok(s, roles_role_set_disabled(s, &dbas, "db.read", true));
        assert_ok(s, roles_role_revoke(s, &dbas, "db.*"));
        assert_int_equal(roles_role_revoke(s, &dbas, "db.*"), -ENOENT);
        assert_int_equal(list_count(roles_writer_snapshot(s), ROLES_LIST_ROLE_PERMS, "dbas"), 1);
        test_commit(s);

        struct roles_snapshot *r = test_reader(e, 0);
        assert_string_equal(list_value(r, ROLES_LIST_ROLE_PERMS, "dbas", 0, "permission", buf, sizeof(buf)), "db.read");
        assert_string_equal(list_value(r, ROLES_LIST_ROLE_PERMS, "dbas", 0, "status", buf, sizeof(buf)), "disabled");
        test_close(r);
}

struct seen_assignment {
        int n;
        int64_t until;
};

static int on_assignment(void *userdata, const struct roles_assignment_row *row) {
        struct seen_assignment *a = userdata;
        a->n++;
        a->until = row->until;
        return 0;
}

static void test_role_assign_until(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct seen_assignment seen;
        char buf[64], t[21];

        struct roles_user alice = test_add_user(s, "alice");
        struct roles_role ops = test_add_role(s, "ops", "admin");

        assert_ok(s, roles_role_assign(s, &ops, &alice, NOW + 3600));
        seen = (struct seen_assignment) { 0 };
        assert_ok(s, roles_snapshot_user_assignments(roles_writer_snapshot(s), alice.id, on_assignment, &seen));
        assert_int_equal(seen.n, 1);
        assert_true(seen.until == NOW + 3600);
        assert_string_equal(list_value(roles_writer_snapshot(s), ROLES_LIST_USER_ROLES, "alice", 0, "until", buf, sizeof(buf)),
                            roles_format_time(NOW + 3600, t));

        /* Re-assigning replaces the end (shorter, longer, or none), never adds a second row. */
        assert_ok(s, roles_role_assign(s, &ops, &alice, NOW + 60));
        seen = (struct seen_assignment) { 0 };
        assert_ok(s, roles_snapshot_user_assignments(roles_writer_snapshot(s), alice.id, on_assignment, &seen));
        assert_int_equal(seen.n, 1);
        assert_true(seen.until == NOW + 60);
        assert_ok(s, roles_role_assign(s, &ops, &alice, 0));
        seen = (struct seen_assignment) { 0 };
        assert_ok(s, roles_snapshot_user_assignments(roles_writer_snapshot(s), alice.id, on_assignment, &seen));
        assert_int_equal(seen.n, 1);
        assert_true(seen.until == 0);
        assert_null(list_value(roles_writer_snapshot(s), ROLES_LIST_USER_ROLES, "alice", 0, "until", buf, sizeof(buf)));
        assert_ok(s, roles_role_assign(s, &ops, &alice, NOW + 7200));
        assert_int_equal(roles_role_assign(s, &ops, &alice, -5), -EINVAL);
        test_commit(s);

        struct roles_snapshot *r = test_reader(e, 0);
        roles_snapshot_set_now(r, NOW);
        seen = (struct seen_assignment) { 0 };
        assert_ok(r, roles_snapshot_user_assignments(r, alice.id, on_assignment, &seen));
        assert_int_equal(seen.n, 1);
        assert_true(seen.until == NOW + 7200);
        assert_string_equal(list_value(r, ROLES_LIST_USER_ROLES, "alice", 0, "status", buf, sizeof(buf)), "current");
        roles_snapshot_set_now(r, NOW + 7200);
        assert_string_equal(list_value(r, ROLES_LIST_USER_ROLES, "alice", 0, "status", buf, sizeof(buf)), "ended");
        test_close(r);

        s = writer(e);
        assert_ok(s, roles_role_unassign(s, &ops, &alice));
        assert_int_equal(roles_role_unassign(s, &ops, &alice), -ENOENT);
        seen = (struct seen_assignment) { 0 };
        assert_ok(s, roles_snapshot_user_assignments(roles_writer_snapshot(s), alice.id, on_assignment, &seen));
        assert_int_equal(seen.n, 0);
        test_commit(s);
}

/* ---- readers and snapshots ------------------------------------------------------------------------------- */

static void test_reader_snapshot(void **state) {
        struct test_env *e = *state;
        struct roles_user u;
        int64_t old_serial, serial;

        /* The writer first: SQLite shares the WAL index within a process, and a reader's is
         * read-only (snapshot.h). */
        struct roles_writer *s = writer(e);
        struct roles_snapshot *old = test_reader(e, 0);
        assert_ok(old, roles_snapshot_serial(old, &old_serial));
        test_add_user(s, "alice");
        test_commit(s);

        /* The reader opened before keeps its snapshot, consistently. */
        assert_int_equal(roles_user_by_name(old, "alice", &u), -ENOENT);
        assert_ok(old, roles_snapshot_serial(old, &serial));
        assert_true(serial == old_serial);
        assert_int_equal(list_count(old, ROLES_LIST_USERS, NULL), 0);

        /* A new reader sees the new one. */
        struct roles_snapshot *fresh = test_reader(e, 0);
        assert_ok(fresh, roles_user_by_name(fresh, "alice", &u));
        assert_ok(fresh, roles_snapshot_serial(fresh, &serial));
        assert_true(serial == old_serial + 1);

        /* A second change: still the old snapshot for the old reader. */
        s = writer(e);
        test_add_user(s, "bob");
        test_commit(s);
        assert_int_equal(roles_user_by_name(old, "bob", &u), -ENOENT);
        assert_int_equal(roles_user_by_name(fresh, "bob", &u), -ENOENT);
        assert_ok(fresh, roles_user_by_name(fresh, "alice", &u));
        test_close(old);
        test_close(fresh);
}

/*
 * A change is made in place, in WAL mode: roles.db stays the same file, nothing is staged next
 * to it, and a change writes its pages, not a copy of the file. A reader in a read transaction
 * is not held up by a writer in its own (not committed yet) and reads the state committed
 * before it until it refreshes.
 */
static void test_change_in_place(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX];
        struct stat before, after;
        struct roles_user u;
        int64_t serial;
        path_in(e, "roles.db", pub, sizeof(pub));
        assert_int_equal(stat(pub, &before), 0);

        /* The writer first: SQLite shares the WAL index within a process, and a reader's is
         * read-only (snapshot.h). */
        struct roles_writer *s = writer(e);
        struct roles_snapshot *r = test_reader(e, 0);
        assert_int_equal(roles_user_by_name(r, "alice", &u), -ENOENT);
        test_add_user(s, "alice");
        assert_int_equal(roles_user_by_name(r, "alice", &u), -ENOENT);
        struct roles_snapshot *other = test_reader(e, 0);  /* opened while the writer writes */
        assert_int_equal(roles_user_by_name(other, "alice", &u), -ENOENT);
        test_close(other);
        test_commit(s);
        assert_int_equal(roles_user_by_name(r, "alice", &u), -ENOENT);  /* its read transaction */
        assert_int_equal(roles_snapshot_refresh(r), 1);
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        assert_ok(r, roles_snapshot_serial(r, &serial));
        assert_int_equal(roles_snapshot_refresh(r), 0);                     /* nothing new */
        test_close(r);

        assert_int_equal(stat(pub, &after), 0);
        assert_int_equal(after.st_ino, before.st_ino);
        assert_int_equal(stray_files(e), 0);
        sqlite3 *db = raw_open(pub, false);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* In a child that is nobody: open a reader of roles.db and look up alice; 0 found, 1 refused
 * with the one line about the missing WAL files, 2 anything else. */
static int read_as_nobody(struct test_env *e) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char err[512] = "";
                struct roles_snapshot *r = NULL;
                struct roles_user u;
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                int rc = roles_snapshot_open(&e->cfg, 0, &r, err, sizeof(err));
                if (rc == -EACCES && strstr(err, "only root can read it") && !strchr(err, '\n'))
                        _exit(1);
                _exit(rc == 0 && roles_user_by_name(r, "alice", &u) == 0 ? 0 : 2);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/*
 * Readers that are not root read roles.db through its WAL and WAL index, read-only; they cannot
 * create them. Writers keep both; when they are missing (a restore from a backup), an
 * unprivileged reader is refused with one line until root has opened roles.db again.
 */
static void test_unprivileged_reader(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX], wal[PATH_MAX + 8], shm[PATH_MAX + 8];
        if (geteuid() != 0)
                skip();
        path_in(e, "roles.db", pub, sizeof(pub));
        snprintf(wal, sizeof(wal), "%s-wal", pub);
        snprintf(shm, sizeof(shm), "%s-shm", pub);
        assert_int_equal(chmod(e->dir, 0755), 0);
        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_commit(s);
        assert_int_equal(access(wal, F_OK), 0);
        assert_int_equal(access(shm, F_OK), 0);
        assert_int_equal(read_as_nobody(e), 0);

        assert_int_equal(unlink(wal), 0);
        assert_int_equal(unlink(shm), 0);
        assert_int_equal(read_as_nobody(e), 1);
        test_close(test_reader(e, 0));           /* root opens it: both are back */
        assert_int_equal(read_as_nobody(e), 0);
}

/*
 * A roles.db of before WAL (rollback journal, as an immutable snapshot was published): readers
 * read it as it is, and the first writer switches it to WAL, keeping every row.
 */
static void test_old_style_file_migrated(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX];
        struct roles_user u;
        path_in(e, "roles.db", pub, sizeof(pub));
        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_commit(s);
        int64_t serial = serial_now(e);
        raw_exec(pub, "PRAGMA journal_mode = DELETE");
        assert_int_equal(raw_int(pub, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'delete'"), 1);

        struct roles_snapshot *r = test_reader(e, 0);
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        test_close(r);
        s = writer(e);
        test_add_user(s, "bob");
        test_commit(s);
        assert_int_equal(raw_int(pub, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
        assert_int_equal(serial_now(e), serial + 1);
        r = test_reader(e, 0);
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        assert_ok(r, roles_user_by_name(r, "bob", &u));
        test_close(r);
}

static void test_newer_schema_refused(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX], copy[PATH_MAX], err[512] = "";
        size_t before_len, after_len;

        /* A roles.db from a newer roles, arriving as a replaced file. */
        path_in(e, "roles.db", pub, sizeof(pub));
        path_in(e, "incoming.db", copy, sizeof(copy));
        copy_file(pub, copy, 0644);
        raw_exec(copy, "PRAGMA user_version = 99");
        assert_int_equal(raw_int(copy, "PRAGMA user_version"), 99);
        assert_int_equal(rename(copy, pub), 0);
        char *before = test_read_file(pub, &before_len);
        assert_non_null(before);

        assert_int_equal(test_open_kind(&e->cfg, TEST_SNAPSHOT, err, sizeof(err)), -EPROTO);
        assert_non_null(strstr(err, "newer"));
        err[0] = '\0';
        assert_int_equal(test_open_kind(&e->cfg, TEST_SNAPSHOT_SECRETS, err, sizeof(err)), -EPROTO);
        assert_non_null(strstr(err, "newer"));

        /* Writers refuse it too, and never "migrate" it back. */
        err[0] = '\0';
        assert_int_equal(test_open_kind(&e->cfg, TEST_WRITER, err, sizeof(err)),
                         -EPROTO);
        assert_non_null(strstr(err, "newer"));
        assert_int_equal(test_open_kind(&e->cfg, TEST_WRITER_CREATE, err, sizeof(err)), -EPROTO);
        assert_int_equal(stray_files(e), 0);
        char *after = test_read_file(pub, &after_len);
        assert_non_null(after);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        free(before);
        free(after);
        assert_int_equal(raw_int(pub, "PRAGMA user_version"), 99);
}

static void test_newer_side_files_refused(void **state) {
        struct test_env *e = *state;
        char path[PATH_MAX], err[512] = "";

        static const char *const files[] = { "secrets.db", "state.db" };
        static const int versions[] = { ROLES_SCHEMA_SECRETS, ROLES_SCHEMA_STATE };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(files); i++) {
                char restore[64];
                path_in(e, files[i], path, sizeof(path));
                raw_exec(path, "PRAGMA user_version = 7");
                err[0] = '\0';
                assert_int_equal(test_open_kind(&e->cfg, TEST_SNAPSHOT_SECRETS, err, sizeof(err)), -EPROTO);
                assert_non_null(strstr(err, "newer"));
                assert_non_null(strstr(err, files[i]));
                assert_int_equal(test_open_kind(&e->cfg, TEST_WRITER, err, sizeof(err)),
                                 -EPROTO);
                assert_int_equal(raw_int(path, "PRAGMA user_version"), 7);
                snprintf(restore, sizeof(restore), "PRAGMA user_version = %d", versions[i]);
                raw_exec(path, restore);
        }
        /* roles.db alone is still fine for NSS-style readers. */
        test_close(test_reader(e, 0));
        assert_int_equal(stray_files(e), 0);
}

static void test_unsafe_files_refused(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX], real[PATH_MAX], err[512];
        const enum test_handle modes[] = { TEST_SNAPSHOT, TEST_SNAPSHOT_SECRETS, TEST_WRITER };

        path_in(e, "roles.db", pub, sizeof(pub));

        /* World- or group-writable roles.db. */
        static const mode_t weak[] = { 0666, 0646, 0664 };
        for (size_t m = 0; m < ROLES_N_ELEMENTS(weak); m++) {
                assert_int_equal(chmod(pub, weak[m]), 0);
                for (size_t i = 0; i < ROLES_N_ELEMENTS(modes); i++) {
                        err[0] = '\0';
                        assert_int_equal(test_open_kind(&e->cfg, modes[i], err, sizeof(err)), -EPERM);
                        assert_non_null(strstr(err, "roles.db"));
                }
        }
        assert_int_equal(chmod(pub, 0644), 0);

        /* A world-writable secrets.db. */
        char sec[PATH_MAX];
        path_in(e, "secrets.db", sec, sizeof(sec));
        assert_int_equal(chmod(sec, 0606), 0);
        assert_int_equal(test_open_kind(&e->cfg, TEST_SNAPSHOT_SECRETS, err, sizeof(err)), -EPERM);
        assert_int_equal(test_open_kind(&e->cfg, TEST_WRITER, err, sizeof(err)), -EPERM);
        assert_int_equal(chmod(sec, 0600), 0);

        /* roles.db as a symlink to a perfectly good file. */
        path_in(e, "real.db", real, sizeof(real));
        assert_int_equal(rename(pub, real), 0);
        assert_int_equal(symlink(real, pub), 0);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(modes); i++) {
                err[0] = '\0';
                assert_int_equal(test_open_kind(&e->cfg, modes[i], err, sizeof(err)), -EPERM);
                assert_non_null(strstr(err, "roles.db"));
        }
        /* The writer did not follow it and replace the target, nor the link. */
        struct stat st;
        assert_int_equal(lstat(pub, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(unlink(pub), 0);

        /* Something else that is not a regular file: a directory of that name. */
        assert_int_equal(mkdir(pub, 0755), 0);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(modes); i++)
                assert_int_equal(test_open_kind(&e->cfg, modes[i], err, sizeof(err)), -EPERM);
        assert_int_equal(rmdir(pub), 0);
        assert_int_equal(rename(real, pub), 0);

        /* A world-writable directory (without the sticky bit). */
        assert_int_equal(chmod(e->dir, 0777), 0);
        assert_int_equal(test_open_kind(&e->cfg, TEST_SNAPSHOT, err, sizeof(err)), -EPERM);
        assert_int_equal(test_open_kind(&e->cfg, TEST_WRITER, err, sizeof(err)), -EPERM);
        assert_int_equal(chmod(e->dir, 0755), 0);

        assert_int_equal(stray_files(e), 0);
        test_close(test_reader(e, ROLES_SNAPSHOT_SECRETS));
}

/* ---- audit ------------------------------------------------------------------------------------------------ */

static void test_audit(void **state) {
        struct test_env *e = *state;
        char buf[256];

        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        int base = list_count(r, ROLES_LIST_AUDIT, NULL);
        test_close(r);

        struct roles_writer *s = test_writer(e);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW);
        assert_int_equal(roles_writer_set_actor(s, "bad\nactor"), -EINVAL);
        assert_int_equal(roles_writer_set_actor(s, "root (login alice)"), 0);
        struct roles_user alice = test_add_user(s, "alice");              /* user.add + group.add */
        struct roles_group devs = test_add_group(s, "devs", ROLES_ID_INVALID);
        assert_ok(s, roles_group_add_member(s, &devs, &alice));
        struct roles_user dup = test_user("alice");
        assert_int_equal(roles_user_add(s, &dup), -EEXIST);          /* no row for a refusal */
        struct roles_role ops = test_add_role(s, "ops", "admin");
        assert_ok(s, roles_role_assign(s, &ops, &alice, 0));
        test_commit(s);

        r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        int n = list_count(r, ROLES_LIST_AUDIT, NULL) - base;
        assert_int_equal(n, 6);
        static const char *const actions[] = {
                "group.add", "user.add", "group.add", "group.adduser", "role.add", "role.assign",
        };
        static const char *const targets[] = { "alice", "alice", "devs", "devs", "ops", "ops" };
        for (int i = 0; i < n; i++) {
                assert_string_equal(list_value(r, ROLES_LIST_AUDIT, NULL, base + i, "actor", buf, sizeof(buf)),
                                    "root (login alice)");
                assert_string_equal(list_value(r, ROLES_LIST_AUDIT, NULL, base + i, "action", buf, sizeof(buf)),
                                    actions[i]);
                assert_string_equal(list_value(r, ROLES_LIST_AUDIT, NULL, base + i, "target", buf, sizeof(buf)),
                                    targets[i]);
                assert_string_equal(list_value(r, ROLES_LIST_AUDIT, NULL, base + i, "at", buf, sizeof(buf)),
                                    "2026-01-01T00:00:00Z");
        }
        test_close(r);

        /* Without set_actor the actor is still named, never empty. */
        s = test_writer(e);
        test_add_group(s, "qa", ROLES_ID_INVALID);
        test_commit(s);
        r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        const char *actor = list_value(r, ROLES_LIST_AUDIT, NULL, base + n, "actor", buf, sizeof(buf));
        assert_non_null(actor);
        assert_true(actor[0] != '\0');
        test_close(r);
}

/* ---- secrets ---------------------------------------------------------------------------------------------- */

/* PATH now holds DATA: a new file renamed into place, as a writer publishes. */
static void put_file(const char *path, const char *data, size_t len) {
        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        assert_int_equal(close(fd), 0);
        assert_int_equal(rename(tmp, path), 0);
}

/*
 * A change that publishes a snapshot and also changes an existing user's secrets, cut short
 * between its secrets.db commit and the rename (docs/reference.md: "all or nothing"). Its secrets half is
 * committed and marked with the serial it was to publish; roles.db is still the old snapshot.
 * Built here from a real change whose published roles.db is put back: the mark and the
 * before-images stay until the next writer (test_faults.sh makes the same state with a real
 * kill). Readers must see the old secrets with the old snapshot, a login's write must hold, and
 * the next writer undoes the change, or keeps it if it was published.
 */
struct cut_short {
        char pub[PATH_MAX], sec[PATH_MAX];
        struct roles_user alice;
        int64_t audit_before, published;
        int64_t change_audit_rows;      /* the audit rows the change wrote */
};

static void cut_short(struct test_env *e, struct cut_short *c, bool put_back) {
        path_in(e, "roles.db", c->pub, sizeof(c->pub));
        path_in(e, "secrets.db", c->sec, sizeof(c->sec));

        struct roles_writer *s = writer(e);
        c->alice = test_add_user(s, "alice");
        assert_ok(s, roles_secret_set_email(s, c->alice.uuid, "old@example.org"));
        static const uint8_t recovery[3][ROLES_RECOVERY_HASH_LEN] = { { 1 }, { 2 }, { 3 } };
        assert_ok(s, roles_secret_set_recovery_codes(s, c->alice.uuid, recovery, 1));  /* one before */
        test_commit(s);
        size_t old_len;
        char *old_roles = test_read_file(c->pub, &old_len);
        assert_non_null(old_roles);
        c->published = serial_now(e);
        c->audit_before = raw_int(c->sec, "SELECT coalesce(max(id), 0) FROM audit");

        /* The change: a public field and a secret of alice, and a new user. */
        s = writer(e);
        struct roles_user a = c->alice;
        snprintf(a.shell, sizeof(a.shell), "/bin/zsh");
        assert_ok(s, roles_user_update(s, &a));
        assert_ok(s, roles_secret_set_email(s, a.uuid, "new@example.org"));
        assert_ok(s, roles_secret_set_recovery_codes(s, a.uuid, recovery + 1, 2));     /* two after */
        assert_ok(s, roles_audit(s, "user.mod", "alice", "email, shell"));
        test_add_user(s, "carol");
        test_commit(s);
        assert_int_equal(serial_now(e), c->published + 1);
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT serial FROM publishing WHERE audit_from = %lld", (long long) c->audit_before + 1);
        assert_int_equal(raw_int(c->sec, sql), c->published + 1);
        assert_int_equal(raw_int(c->sec, "SELECT count(*) FROM before_users"), 2);
        assert_int_equal(raw_int(c->sec, "SELECT count(*) FROM before_credentials"), 1);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE id > %lld", (long long) c->audit_before);
        c->change_audit_rows = raw_int(c->sec, sql);
        assert_true(c->change_audit_rows >= 3);         /* user.mod (twice: the update, ours), carol's */
        if (put_back)
                put_file(c->pub, old_roles, old_len);
        free(old_roles);
}

static void assert_email(struct roles_snapshot *s, const char *uuid, const char *want) {
        struct roles_secret sec;
        assert_ok(s, roles_secret_get(roles_snapshot_secrets(s), uuid, &sec));
        assert_string_equal(sec.email, want);
        roles_secret_wipe(&sec);
}

static void assert_recovery_left(struct roles_snapshot *s, const char *uuid, unsigned want) {
        unsigned left = 99;
        assert_ok(s, roles_secret_recovery_left(roles_snapshot_secrets(s), uuid, &left));
        assert_int_equal(left, want);
}

static void test_publish_cut_short_undone(void **state) {
        struct test_env *e = *state;
        struct cut_short c;
        struct roles_user u;
        cut_short(e, &c, true);

        /* Readers of the old snapshot: the old shell with the old email; carol is not there. */
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        assert_string_not_equal(u.shell, "/bin/zsh");
        assert_email(r, c.alice.uuid, "old@example.org");
        assert_recovery_left(r, c.alice.uuid, 1);
        assert_int_equal(roles_user_by_name(r, "carol", &u), -ENOENT);
        assert_int_equal(list_count(r, ROLES_LIST_USER_SECRETS, c.alice.uuid), 1);
        char email[128];
        assert_string_equal(list_value(r, ROLES_LIST_USER_SECRETS, c.alice.uuid, 0, "email", email, sizeof(email)),
                            "old@example.org");
        test_close(r);

        /* A login changes alice's password meanwhile: it must survive the undo. */
        struct roles_login *login = test_login(e);
        assert_ok(login, roles_secret_set_password(roles_login_secrets(login), c.alice.uuid, "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", false));
        test_close(login);

        /* The next writer undoes the secrets half: old email, the login's password, no carol rows,
         * no audit row of the change, no images or mark left. */
        struct roles_writer *s = writer(e);
        test_commit(s);
        r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_email(r, c.alice.uuid, "old@example.org");
        struct roles_secret sec;
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), c.alice.uuid, &sec));
        assert_string_equal(sec.password_hash, "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo");
        roles_secret_wipe(&sec);
        assert_recovery_left(r, c.alice.uuid, 1);
        test_close(r);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM credentials"), 1);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM recovery_codes"), 1);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM before_recovery_codes"), 0);
        /* No mark left but the undoing writer's own, published. */
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM publishing"), 1);
        assert_int_equal(raw_int(c.sec, "SELECT serial FROM publishing"), c.published + 1);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM before_users"), 0);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM before_credentials"), 0);
        /* The change's audit rows are marked undone; the undo has its own row. */
        char sql[200];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE id > %lld AND action NOT LIKE 'undone:%%' "
                 "AND action != 'change.undone'", (long long) c.audit_before);
        assert_int_equal(raw_int(c.sec, sql), 0);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE id > %lld AND action LIKE 'undone:%%'",
                 (long long) c.audit_before);
        assert_int_equal(raw_int(c.sec, sql), c.change_audit_rows);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE action = 'change.undone' AND detail LIKE '%% %lld %%'",
                 (long long) c.published + 1);
        assert_int_equal(raw_int(c.sec, sql), 1);
        /* The undoing writer publishes over the change it undid (the killed writer's commit frame
         * may be in the WAL, unindexed: a later recovery must not find it). */
        assert_int_equal(serial_now(e), c.published + 1);
        struct roles_snapshot *check = test_reader(e, 0);
        assert_int_equal(roles_user_by_name(check, "carol", &u), -ENOENT);
        test_close(check);
}

static void test_publish_cut_short_published(void **state) {
        struct test_env *e = *state;
        struct cut_short c;
        /* Killed after the rename instead: roles.db is the new snapshot. */
        cut_short(e, &c, false);
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_email(r, c.alice.uuid, "new@example.org");
        test_close(r);

        struct roles_writer *s = writer(e);
        test_commit(s);
        r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_email(r, c.alice.uuid, "new@example.org");
        assert_recovery_left(r, c.alice.uuid, 2);
        test_close(r);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM credentials"), 2);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM publishing"), 0);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM before_credentials"), 0);
}

/* Two changes cut short in a row: the second writer undoes the first, then is cut short in turn;
 * the third undoes the second. Both undos stay in the audit log, each change's rows are marked,
 * and alice's email is the one from before both. */
static void test_publish_cut_short_twice(void **state) {
        struct test_env *e = *state;
        struct cut_short c;
        cut_short(e, &c, true);
        size_t len;
        char *first = test_read_file(c.pub, &len);
        assert_non_null(first);

        struct roles_writer *s = writer(e);              /* undoes the first */
        struct roles_user a = c.alice;
        snprintf(a.gecos, sizeof(a.gecos), "Alice Second");
        assert_ok(s, roles_user_update(s, &a));
        assert_ok(s, roles_secret_set_email(s, a.uuid, "second@example.org"));
        test_commit(s);
        put_file(c.pub, first, len);                    /* ... and is cut short itself */
        free(first);

        s = writer(e);
        test_commit(s);
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_email(r, c.alice.uuid, "old@example.org");
        test_close(r);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM audit WHERE action = 'change.undone'"), 2);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM audit WHERE action LIKE 'undone:change.%'"), 0);
        /* the first change's two user.mod rows, the second's one */
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM audit WHERE action = 'undone:user.mod'"), 3);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM before_users"), 0);
}

/* A change that edits a user's secrets and deletes the user: once published, nothing of the
 * user's secrets is left, before-images included. */
static void test_publish_delete_drops_images(void **state) {
        struct test_env *e = *state;
        char sec_path[PATH_MAX];
        path_in(e, "secrets.db", sec_path, sizeof(sec_path));
        struct roles_writer *s = writer(e);
        struct roles_user zed = test_add_user(s, "zed");
        assert_ok(s, roles_secret_set_email(s, zed.uuid, "zed@example.org"));
        test_commit(s);

        s = writer(e);
        assert_ok(s, roles_secret_set_email(s, zed.uuid, "zed2@example.org"));
        static const uint8_t recovery[1][ROLES_RECOVERY_HASH_LEN] = { { 7 } };
        assert_ok(s, roles_secret_set_recovery_codes(s, zed.uuid, recovery, 1));
        assert_ok(s, roles_user_delete(s, &zed));
        test_commit(s);
        assert_int_equal(raw_int(sec_path, "SELECT count(*) FROM recovery_codes"), 0);
        assert_int_equal(raw_int(sec_path, "SELECT count(*) FROM before_recovery_codes"), 0);
        assert_int_equal(raw_int(sec_path, "SELECT count(*) FROM credentials"), 0);
        assert_int_equal(raw_int(sec_path, "SELECT count(*) FROM before_credentials"), 0);
        assert_int_equal(raw_int(sec_path, "SELECT count(*) FROM before_codes"), 0);
}

/* A login's secrets write that cannot get the file (another connection holds secrets.db's
 * write lock past the busy wait, about 10 s): the write fails, and nothing is left half done:
 * no transaction left open (which would keep its lock and block every later writer), no
 * change. A reader's transaction keeps no write out (secrets.db is in WAL mode). */
static void test_login_write_commit_busy(void **state) {
        struct test_env *e = *state;
        char sec_path[PATH_MAX];
        path_in(e, "secrets.db", sec_path, sizeof(sec_path));
        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        test_commit(s);

        struct roles_login *login = test_login(e);
        sqlite3 *holder = raw_open(sec_path, true);
        assert_int_equal(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        assert_true(roles_secret_set_must_change(roles_login_secrets(login), alice.uuid, true) < 0);
        assert_int_equal(sqlite3_exec(holder, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(holder);

        /* A new reader gets in at once, and sees no change. */
        sqlite3 *reader = raw_open(sec_path, false);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(reader, "SELECT must_change_password FROM credentials", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 0);
        sqlite3_finalize(st);
        sqlite3_close(reader);
        /* And the login's next write works, and is committed, a reader's transaction open. */
        reader = raw_open(sec_path, false);
        assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM credentials", NULL, NULL, NULL), SQLITE_OK);
        assert_ok(login, roles_secret_set_must_change(roles_login_secrets(login), alice.uuid, true));
        assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(reader);
        assert_int_equal(raw_int(sec_path, "SELECT must_change_password FROM credentials"), 1);
        test_close(login);
}

/*
 * The disk cannot take the change (here a file size limit, which fails roles.db's WAL as a full
 * disk does): the commit fails with the reason, before secrets.db commits, and nothing changed:
 * the old state, the old secrets, no mark; the next writer works.
 */
static void test_publish_disk_full(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX], wal[PATH_MAX + 8], sec_path[PATH_MAX];
        struct stat st;
        path_in(e, "roles.db", pub, sizeof(pub));
        path_in(e, "roles.db-wal", wal, sizeof(wal));
        path_in(e, "secrets.db", sec_path, sizeof(sec_path));

        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        assert_ok(s, roles_secret_set_email(s, alice.uuid, "old@example.org"));
        test_commit(s);
        int64_t serial = serial_now(e), audit_rows = raw_int(sec_path, "SELECT count(*) FROM audit");

        s = writer(e);
        alice.enabled = false;
        assert_ok(s, roles_user_update(s, &alice));
        assert_ok(s, roles_secret_set_email(s, alice.uuid, "new@example.org"));
        assert_ok(s, roles_audit(s, "user.mod", "alice", "email, enabled"));
        test_add_user(s, "carol");
        struct rlimit old_limit, limit;
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
        assert_int_equal(stat(wal, &st), 0);
        limit = (struct rlimit) { .rlim_cur = (rlim_t) st.st_size, .rlim_max = old_limit.rlim_max };
        void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
        int r = roles_writer_commit(s);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
        signal(SIGXFSZ, old_handler);
        assert_true(r < 0);
        assert_true(test_error(s)[0] != '\0' && !strchr(test_error(s), '\n'));
        test_close(s);

        assert_int_equal(serial_now(e), serial);
        struct roles_snapshot *r2 = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        struct roles_user u;
        assert_ok(r2, roles_user_by_name(r2, "alice", &u));
        assert_true(u.enabled);
        assert_int_equal(roles_user_by_name(r2, "carol", &u), -ENOENT);
        assert_email(r2, alice.uuid, "old@example.org");
        test_close(r2);
        assert_int_equal(raw_int(sec_path, "SELECT count(*) FROM audit"), audit_rows);
        char sql[96];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM publishing WHERE serial > %lld", (long long) serial);
        assert_int_equal(raw_int(sec_path, sql), 0);

        s = writer(e);
        test_add_user(s, "dave");
        test_commit(s);
        assert_int_equal(serial_now(e), serial + 1);
}

static void test_secret_password(void **state) {
        struct test_env *e = *state;
        const struct roles_hash_params cheap = { .t_cost = 1, .m_cost_kib = 1024, .parallelism = 1 };
        char hash[ROLES_HASH_ENCODED_MAX], hash2[ROLES_HASH_ENCODED_MAX];
        struct roles_secret sec, sec2;

        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        test_commit(s);

        s = writer(e);
        assert_ok(s, roles_secret_get(roles_writer_secrets(s), alice.uuid, &sec));
        assert_string_equal(sec.password_hash, "");
        assert_true(sec.password_changed_at == 0);
        assert_true(sec.last_auth_sensitive_operation_at == 0);
        char first_uniquifier[ROLES_UUID_LEN + 1];
        memcpy(first_uniquifier, sec.fs_uniquifier, sizeof(first_uniquifier));

        assert_int_equal(roles_password_hash("correct horse", 13, &cheap, hash), 0);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW + 100);
        assert_ok(s, roles_secret_set_password(roles_writer_secrets(s), alice.uuid, hash, true));
        assert_ok(s, roles_secret_get(roles_writer_secrets(s), alice.uuid, &sec));
        assert_string_equal(sec.password_hash, hash);
        assert_true(sec.must_change_password);
        assert_true(sec.password_changed_at == NOW + 100);
        assert_true(sec.last_auth_sensitive_operation_at == NOW + 100);
        assert_true(roles_uuid_valid(sec.fs_uniquifier));
        assert_string_not_equal(sec.fs_uniquifier, first_uniquifier);
        test_commit(s);

        /* Persisted in secrets.db, and verifiable. */
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), alice.uuid, &sec2));
        assert_string_equal(sec2.password_hash, hash);
        assert_string_equal(sec2.fs_uniquifier, sec.fs_uniquifier);
        assert_int_equal(roles_password_verify(sec2.password_hash, "correct horse", 13, &cheap), 0);
        test_close(r);

        /* Every change bumps them again. */
        s = writer(e);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW + 200);
        assert_int_equal(roles_password_hash("battery staple", 14, &cheap, hash2), 0);
        assert_ok(s, roles_secret_set_password(roles_writer_secrets(s), alice.uuid, hash2, false));
        assert_ok(s, roles_secret_get(roles_writer_secrets(s), alice.uuid, &sec2));
        assert_string_equal(sec2.password_hash, hash2);
        assert_false(sec2.must_change_password);
        assert_true(sec2.last_auth_sensitive_operation_at == NOW + 200);
        assert_string_not_equal(sec2.fs_uniquifier, sec.fs_uniquifier);

        /* Refused: no such user, no hash. */
        assert_int_equal(roles_secret_set_password(roles_writer_secrets(s), "0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8b", hash, false), -ENOENT);
        assert_int_equal(roles_secret_set_password(roles_writer_secrets(s), alice.uuid, "", false), -EINVAL);
        assert_int_equal(roles_secret_get(roles_writer_secrets(s), "0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8b", &sec), -ENOENT);

        /* Email. */
        assert_ok(s, roles_secret_set_email(s, alice.uuid, "alice@example.org"));
        assert_int_equal(roles_secret_set_email(s, alice.uuid, "not an email"), -EINVAL);
        assert_ok(s, roles_secret_get(roles_writer_secrets(s), alice.uuid, &sec));
        assert_string_equal(sec.email, "alice@example.org");

        /* Clearing the password. */
        assert_ok(s, roles_secret_clear_password(s, alice.uuid));
        assert_ok(s, roles_secret_get(roles_writer_secrets(s), alice.uuid, &sec));
        assert_string_equal(sec.password_hash, "");
        test_commit(s);

        roles_secret_wipe(&sec);
        static const struct roles_secret zero;
        assert_memory_equal(&sec, &zero, sizeof(sec));
}

static void test_secret_codes(void **state) {
        struct test_env *e = *state;
        struct roles_code_row row;
        uint8_t hash[ROLES_CODE_HASH_LEN], hash2[ROLES_CODE_HASH_LEN];
        char code[ROLES_CODE_TEXT_LEN + 1];

        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        assert_int_equal(roles_code_new(code), 0);
        assert_int_equal(roles_code_hash(code, alice.uuid, hash), 0);
        assert_int_equal(roles_secret_get_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, &row), -ENOENT);
        assert_ok(s, roles_secret_put_code(s, alice.uuid, ROLES_CODE_ACTIVATION, hash, NOW + 3600));
        assert_ok(s, roles_secret_get_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, &row));
        assert_memory_equal(row.hash, hash, sizeof(hash));
        assert_true(row.expires_at == NOW + 3600);
        assert_true(row.used_at == 0);
        assert_true(roles_code_matches(row.hash, code, alice.uuid));
        /* The kinds are separate. */
        assert_int_equal(roles_secret_get_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_RESET, &row), -ENOENT);
        test_commit(s);

        /* Used once; the second use is refused. */
        s = writer(e);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW + 10);
        assert_ok(s, roles_secret_use_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, hash));
        assert_int_equal(roles_secret_use_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, hash), -EALREADY);
        assert_ok(s, roles_secret_get_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, &row));
        assert_true(row.used_at == NOW + 10);
        test_commit(s);

        /* Still used after publishing, for the next writer too. */
        s = writer(e);
        assert_int_equal(roles_secret_use_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, hash), -EALREADY);
        /* A new code replaces the old one, unused. */
        assert_int_equal(roles_code_hash("AAAAA-BBBBB-CCCCC-DDDDD", alice.uuid, hash2), 0);
        assert_ok(s, roles_secret_put_code(s, alice.uuid, ROLES_CODE_ACTIVATION, hash2, NOW + 7200));
        assert_ok(s, roles_secret_get_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, &row));
        assert_memory_equal(row.hash, hash2, sizeof(hash2));
        assert_true(row.used_at == 0);
        assert_false(roles_code_matches(row.hash, code, alice.uuid));
        /* The old code, checked before the new one was issued, cannot burn the new one. */
        assert_int_equal(roles_secret_use_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, hash), -ESTALE);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW + 7200);
        assert_int_equal(roles_secret_use_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, hash2), -ESTALE);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW + 20);
        assert_ok(s, roles_secret_use_code(roles_writer_secrets(s), alice.uuid, ROLES_CODE_ACTIVATION, hash2));
        test_commit(s);

        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        assert_ok(r, roles_secret_get_code(roles_snapshot_secrets(r), alice.uuid, ROLES_CODE_ACTIVATION, &row));
        assert_true(row.used_at != 0);
        test_close(r);

        /* Codes are stored only as hashes: the clear text is nowhere in secrets.db. */
        char sec[PATH_MAX];
        size_t len;
        path_in(e, "secrets.db", sec, sizeof(sec));
        char *data = test_read_file(sec, &len);
        assert_non_null(data);
        assert_null(memmem(data, len, code, strlen(code)));
        free(data);
}

/* ---- rows written behind the store's back ----------------------------------------------------------------- */

static void tamper_case(struct test_env *e, const char *sql, const char *lookup_name, uint32_t lookup_uid) {
        char pub[PATH_MAX];
        path_in(e, "roles.db", pub, sizeof(pub));
        raw_exec(pub, sql);

        struct roles_snapshot *r = test_reader(e, 0);
        struct roles_user u, sentinel;
        memset(&u, 0x5a, sizeof(u));
        sentinel = u;
        if (lookup_name) {
                int k = roles_user_by_name(r, lookup_name, &u);
                if (k != -EBADMSG)
                        fail_msg("after \"%s\": by_name(%s) = %d, expected -EBADMSG", sql, lookup_name, k);
        }
        if (lookup_uid != ROLES_ID_INVALID) {
                int k = roles_user_by_uid(r, lookup_uid, &u);
                if (k != -EBADMSG)
                        fail_msg("after \"%s\": by_uid(%u) = %d, expected -EBADMSG", sql, lookup_uid, k);
        }
        /* Nothing of the row reached the caller. */
        assert_memory_equal(&u, &sentinel, sizeof(u));
        test_close(r);
}

static void test_tampered_user_rows(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice");
        test_commit(s);
        (void) alice;

        /* uid 0: never served as a root account. */
        tamper_case(e, "UPDATE users SET uid = 0 WHERE name = 'alice'", "alice", 0);
        tamper_case(e, "UPDATE users SET uid = 10000, gid = 0 WHERE name = 'alice'", "alice", 10000);
        tamper_case(e, "UPDATE users SET gid = 10000, uid = 70000 WHERE name = 'alice'", "alice", 70000);
        tamper_case(e, "UPDATE users SET uid = 10000, gid = 4294967295 WHERE name = 'alice'", "alice", 10000);
        /* Malformed fields that would break or forge a passwd line. */
        tamper_case(e, "UPDATE users SET gid = 10000, gecos = 'x:0:0' WHERE name = 'alice'", "alice", 10000);
        tamper_case(e, "UPDATE users SET gecos = 'x' || char(10) || 'root::0:0::/:/bin/sh' WHERE name = 'alice'",
                    "alice", 10000);
        tamper_case(e, "UPDATE users SET gecos = '', home = 'relative' WHERE name = 'alice'", "alice", 10000);
        tamper_case(e, "UPDATE users SET home = '/home/alice', shell = '/bin/sh:x' WHERE name = 'alice'", "alice", 10000);
        tamper_case(e, "UPDATE users SET shell = '/bin/bash', uuid = 'not-a-uuid' WHERE name = 'alice'", "alice", 10000);
        tamper_case(e, "UPDATE users SET uuid = '0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8b', "
                       "home = '/home/' || hex(zeroblob(200)) WHERE name = 'alice'", "alice", 10000);
        /* A name with ':' (found by uid; by name the lookup refuses the name itself). */
        tamper_case(e, "UPDATE users SET home = '/home/alice', name = 'ev:il' WHERE uid = 10000", NULL, 10000);
        tamper_case(e, "UPDATE users SET name = 'Alice' WHERE uid = 10000", NULL, 10000);
        tamper_case(e, "UPDATE users SET name = 'a' || char(10) || 'b' WHERE uid = 10000", NULL, 10000);
        tamper_case(e, "UPDATE users SET name = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' WHERE uid = 10000", NULL, 10000);
        /* An embedded NUL inside the text value. */
        tamper_case(e, "UPDATE users SET name = CAST(x'616c69636500783a' AS TEXT) WHERE uid = 10000", NULL, 10000);

        /* Repaired, the row is served again. */
        char pub[PATH_MAX];
        path_in(e, "roles.db", pub, sizeof(pub));
        raw_exec(pub, "UPDATE users SET name = 'alice' WHERE uid = 10000");
        struct roles_snapshot *r = test_reader(e, 0);
        struct roles_user u;
        assert_ok(r, roles_user_by_name(r, "alice", &u));
        assert_int_equal(u.uid, 10000);
        test_close(r);
}

static void test_tampered_group_rows(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX];
        struct roles_group g, sentinel;

        struct roles_writer *s = writer(e);
        test_add_group(s, "devs", 20000);
        test_commit(s);
        path_in(e, "roles.db", pub, sizeof(pub));

        static const struct {
                const char *sql;
                uint32_t gid;
        } cases[] = {
                { "UPDATE groups SET gid = 0 WHERE name = 'devs'", 0 },
                { "UPDATE groups SET gid = 20000, name = 'de:vs' WHERE gid = 0", 20000 },
                { "UPDATE groups SET name = 'de' || char(10) || 'vs' WHERE gid = 20000", 20000 },
                { "UPDATE groups SET name = 'Devs' WHERE gid = 20000", 20000 },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(cases); i++) {
                raw_exec(pub, cases[i].sql);
                struct roles_snapshot *r = test_reader(e, 0);
                memset(&g, 0x5a, sizeof(g));
                sentinel = g;
                int k = roles_group_by_gid(r, cases[i].gid, &g);
                if (k != -EBADMSG)
                        fail_msg("after \"%s\": %d", cases[i].sql, k);
                assert_memory_equal(&g, &sentinel, sizeof(g));
                test_close(r);
        }
        raw_exec(pub, "UPDATE groups SET name = 'devs', gid = 0 WHERE gid = 20000");
        struct roles_snapshot *r = test_reader(e, 0);
        assert_int_equal(roles_group_by_name(r, "devs", &g), -EBADMSG);
        test_close(r);
}

static void test_backup(void **state) {
        struct test_env *e = *state;
        char path[PATH_MAX];
        struct stat st;
        size_t len;

        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_commit(s);

        path_in(e, "backup.tar", path, sizeof(path));
        s = writer(e);
        assert_ok(s, roles_writer_backup(s, path, NULL));
        test_close(s);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        char *tar = test_read_file(path, &len);
        assert_non_null(tar);
        assert_int_equal(len % 512, 0);
        /* Three members, named as the files in the directory; roles.db first. */
        assert_string_equal(tar, "roles.db");
        assert_non_null(memmem(tar, len, "secrets.db", 11));
        assert_non_null(memmem(tar, len, "state.db", 9));
        assert_memory_equal(tar + 257, "ustar", 5);
        /* The first member is the SQLite file itself. */
        assert_memory_equal(tar + 512, "SQLite format 3", 16);
        free(tar);
}

/* ---- faults: the store's side of tests/test_faults.sh -------------------------------------------- */

/* Opening with flags fails with want, and the file is left as it was. */
static void assert_refused_unchanged(struct test_env *e, const char *path, enum test_handle kind, int want,
                                     const char *needle) {
        char err[512] = "";
        size_t before_len, after_len;
        char *before = test_read_file(path, &before_len);
        assert_int_equal(test_open_kind(&e->cfg, kind, err, sizeof(err)), want);
        assert_non_null(strstr(err, needle));
        char *after = test_read_file(path, &after_len);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        free(before);
        free(after);
        assert_int_equal(stray_files(e), 0);
}

/* A file truncated to nothing reads as schema version 0: only init creates a schema there. A
 * writer that did would publish an empty roles.db (every user gone, their secrets purged as
 * orphans next) or blank secrets.db. */
static void test_emptied_file_refused(void **state) {
        struct test_env *e = *state;
        static const char *const files[] = { "roles.db", "secrets.db", "state.db" };
        char path[PATH_MAX];

        for (size_t i = 0; i < ROLES_N_ELEMENTS(files); i++) {
                size_t len;
                path_in(e, files[i], path, sizeof(path));
                char *saved = test_read_file(path, &len);
                assert_int_equal(truncate(path, 0), 0);
                assert_refused_unchanged(e, path, TEST_WRITER, -ENOENT, "empty");
                assert_refused_unchanged(e, path, TEST_SNAPSHOT_SECRETS, -ENOENT, "empty");
                write_file(path, saved, len);
                free(saved);
        }
        /* init, and only init, makes a schema in an emptied file. */
        path_in(e, "state.db", path, sizeof(path));
        assert_int_equal(truncate(path, 0), 0);
        struct roles_writer *s = NULL;
        assert_int_equal(roles_writer_open(&e->cfg, ROLES_WRITER_CREATE, &s, NULL, 0), 0);
        test_commit(s);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), ROLES_SCHEMA_STATE);
}

/* Every table that init creates is required: a file that lacks one is refused whole, by readers
 * and writers, and left as it was; otherwise lookups would answer from the tables left. */
static void test_missing_table_refused(void **state) {
        struct test_env *e = *state;
        static const char *const files[] = { "roles.db", "secrets.db", "state.db" };
        char path[PATH_MAX];

        for (size_t i = 0; i < ROLES_N_ELEMENTS(files); i++) {
                char tables[32][64], drop[sizeof(tables) + 16];
                int n = 0;
                path_in(e, files[i], path, sizeof(path));
                sqlite3 *db = raw_open(path, false);
                sqlite3_stmt *st = NULL;
                assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                                    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", -1, &st, NULL), SQLITE_OK);
                while (n < (int) ROLES_N_ELEMENTS(tables) && sqlite3_step(st) == SQLITE_ROW)
                        snprintf(tables[n++], sizeof(tables[0]), "%s", (const char *) sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
                sqlite3_close(db);
                assert_true(n >= 3 && n < (int) ROLES_N_ELEMENTS(tables));

                for (int t = 0; t < n; t++) {
                        size_t len;
                        char *saved = test_read_file(path, &len);
                        snprintf(drop, sizeof(drop), "DROP TABLE %s", tables[t]);
                        raw_exec(path, drop);
                        assert_refused_unchanged(e, path, TEST_SNAPSHOT_SECRETS, -EPROTO, tables[t]);
                        assert_refused_unchanged(e, path, TEST_WRITER, -EPROTO, tables[t]);
                        write_file(path, saved, len);
                        free(saved);
                }
        }
        test_close(test_reader(e, ROLES_SNAPSHOT_SECRETS));
}

static void count_lines(void *userdata, const char *line) {
        (void) line;
        (*(int *) userdata)++;
}

/* Staged copies of writers that died are removed by the next writer (it holds the lock, so none
 * is live), whatever it does; doctor reports how many. Killed writers cannot fill the disk. */
static void test_stale_stages_swept(void **state) {
        struct test_env *e = *state;
        static const char *const stale[] = { ".roles.db.stage-AAAAAA", ".roles.db.stage-BBBBBB" };
        char path[PATH_MAX];
        char lookalike[PATH_MAX];

        for (size_t i = 0; i < ROLES_N_ELEMENTS(stale); i++) {
                path_in(e, stale[i], path, sizeof(path));
                copy_file(e->cfg.public_db, path, 0644);
        }
        /* Not a staged copy: another length, or not a regular file. Left alone. */
        path_in(e, ".roles.db.stage-CCCCCCC", path, sizeof(path));
        copy_file(e->cfg.public_db, path, 0644);
        path_in(e, ".roles.db.stage-DDDDDD", lookalike, sizeof(lookalike));
        assert_int_equal(mkdir(lookalike, 0755), 0);
        assert_int_equal(stray_files(e), 4);

        struct roles_writer *s = writer(e);
        assert_int_equal(stray_files(e), 2);           /* the two, swept */
        int findings = 0;
        assert_int_equal(roles_writer_doctor(s, count_lines, &findings), 1);
        assert_int_equal(findings, 1);
        test_close(s);
        assert_int_equal(stray_files(e), 2);

        s = writer(e);
        findings = 0;
        assert_int_equal(roles_writer_doctor(s, count_lines, &findings), 0);
        test_close(s);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(lookalike), 0);
        assert_int_equal(stray_files(e), 0);
}

static void collect_lines(void *userdata, const char *line) {
        char *buf = userdata;
        size_t len = strlen(buf);
        snprintf(buf + len, 4096 - len, "%s\n", line);
}

/* Every line of want is among the lines doctor said. */
static void assert_doctor_said(const char *lines, const char *const *want, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!strstr(lines, want[i]))
                        fail_msg("doctor did not say \"%s\"; it said:\n%s", want[i], lines);
}

/* doctor names every row the readers refuse, and changes none of them. */
static void test_doctor_names_invalid_rows(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX], lines[4096] = "";

        struct roles_writer *s = writer(e);
        test_add_user(s, "alice");
        test_add_user(s, "bob");
        test_add_group(s, "devs", 20000);
        test_commit(s);
        s = writer(e);
        int findings = 0;
        assert_int_equal(roles_writer_doctor(s, count_lines, &findings), 0);
        test_close(s);

        path_in(e, "roles.db", pub, sizeof(pub));
        raw_exec(pub, "UPDATE users SET name = 'ev:il' WHERE name = 'bob';"
                      "UPDATE groups SET gid = 0 WHERE name = 'devs'");
        /* The two rows, and the derived tables the hand edit left stale (rebuilt). */
        s = writer(e);
        assert_int_equal(roles_writer_doctor(s, collect_lines, lines), 3);
        test_commit(s);
        /* Each of the two named, once; alice's row is valid and not named. */
        const char *user = strstr(lines, "roles.db: user row id "), *group = strstr(lines, "roles.db: group row id ");
        if (!user || !group || strstr(user + 20, "user row id") || strstr(group + 20, "group row id"))
                fail_msg("doctor said: %s", lines);
        /* Named, not changed: the next doctor names them again. */
        s = writer(e);
        assert_int_equal(roles_writer_doctor(s, count_lines, &findings), 2);
        test_close(s);
}

/*
 * doctor names each secrets.db row a login refuses, once, with the user's name, the column and
 * the command that writes a good value; it changes none of them. The rule is the login reader's
 * own: every row named is one roles_secret_get (or _get_code) refuses, and no other.
 */
static void test_doctor_names_damaged_secrets(void **state) {
        struct test_env *e = *state;
        char sec[PATH_MAX], sql[1024], lines[4096] = "";

        struct roles_writer *s = writer(e);
        struct roles_user alice = test_add_user(s, "alice"), bob = test_add_user(s, "bob"),
                          carol = test_add_user(s, "carol"), dave = test_add_user(s, "dave");
        test_commit(s);

        path_in(e, "secrets.db", sec, sizeof(sec));
        /* alice: an empty TOTP secret; bob: a password hash stored as a BLOB (a number would be
         * stored as text: the column's affinity converts it); carol: a pending reset code whose
         * hash is text; dave: a spent code with a text hash (read by no login that could use
         * it), and nothing else wrong. */
        snprintf(sql, sizeof(sql),
                 "UPDATE credentials SET totp_secret = '' WHERE user_uuid = '%s';"
                 "UPDATE credentials SET password_hash = CAST('$argon2id$' AS BLOB) WHERE user_uuid = '%s';"
                 "INSERT INTO codes VALUES ('%s', 'reset', 'not a hash', 1, 4000000000, NULL);"
                 "INSERT INTO codes VALUES ('%s', 'reset', 'not a hash', 1, 4000000000, 2);",
                 alice.uuid, bob.uuid, carol.uuid, dave.uuid);
        raw_exec(sec, sql);

        s = writer(e);
        int n = roles_writer_doctor(s, collect_lines, lines);
        if (n != 3)
                fail_msg("doctor: %d findings:\n%s", n, lines);
        test_close(s);
        static const char *const want[] = {
                "user alice: secrets.db: totp_secret is empty (logins refuse it): run 'rolesctl user totp "
                "enroll alice --replace'\n",
                "user bob: secrets.db: password_hash is a BLOB, not text (logins refuse it): run 'rolesctl "
                "user passwd bob'\n",
                "user carol: secrets.db: the reset code's code_hash is not a 32-byte BLOB (the code cannot be "
                "used): run 'rolesctl user reset carol' for a new code\n",
        };
        assert_doctor_said(lines, want, ROLES_N_ELEMENTS(want));

        /* The same rows, and only they, are the ones a login refuses. */
        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        struct roles_secret secret;
        struct roles_code_row code;
        assert_int_equal(roles_secret_get(roles_snapshot_secrets(r), alice.uuid, &secret), -EBADMSG);
        assert_int_equal(roles_secret_get(roles_snapshot_secrets(r), bob.uuid, &secret), -EBADMSG);
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), carol.uuid, &secret));
        assert_int_equal(roles_secret_get_code(roles_snapshot_secrets(r), carol.uuid, ROLES_CODE_RESET, &code), -EBADMSG);
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), dave.uuid, &secret));
        test_close(r);

        /* Named, not changed: the next doctor names them again. */
        s = writer(e);
        int findings = 0;
        assert_int_equal(roles_writer_doctor(s, count_lines, &findings), 3);
        test_close(s);
}

/* Integers stored as text read as 0 through sqlite3_column_int: a must-change flag of 'yes'
 * would skip the forced change, a spent code whose used_at is 'spent' would be spendable again.
 * Both rows are refused, and doctor names them. */
static void test_secrets_integers_typed(void **state) {
        struct test_env *e = *state;
        char sec[PATH_MAX], sql[1024], lines[4096] = "";

        struct roles_writer *s = writer(e);
        struct roles_user erin = test_add_user(s, "erin"), frank = test_add_user(s, "frank");
        test_commit(s);
        path_in(e, "secrets.db", sec, sizeof(sec));
        snprintf(sql, sizeof(sql),
                 "UPDATE credentials SET must_change_password = 'yes' WHERE user_uuid = '%s';"
                 "INSERT INTO codes VALUES ('%s', 'reset', randomblob(32), 1, 4000000000, 'spent');",
                 erin.uuid, frank.uuid);
        raw_exec(sec, sql);

        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        struct roles_secret secret;
        struct roles_code_row code;
        assert_int_equal(roles_secret_get(roles_snapshot_secrets(r), erin.uuid, &secret), -EBADMSG);
        assert_ok(r, roles_secret_get(roles_snapshot_secrets(r), frank.uuid, &secret));
        assert_int_equal(roles_secret_get_code(roles_snapshot_secrets(r), frank.uuid, ROLES_CODE_RESET, &code), -EBADMSG);
        test_close(r);

        s = writer(e);
        int n = roles_writer_doctor(s, collect_lines, lines);
        test_close(s);
        static const char *const want[] = {
                "user erin: secrets.db: must_change_password is text, not an integer (logins refuse it): run "
                "'rolesctl user passwd erin'\n",
                "user frank: secrets.db: the reset code's used_at is text, not an integer (the code cannot be "
                "used): run 'rolesctl user reset frank' for a new code\n",
        };
        assert_doctor_said(lines, want, ROLES_N_ELEMENTS(want));
        assert_int_equal(n, 2);
}

/*
 * Doctor does not look at the before-images: its own writer's start settles them first (put back
 * or dropped), and what is put back it checks as it checks every live row. Images damaged by hand
 * do not stop that start, which would stop every writer, doctor too: one the live tables' rules
 * refuse (before_ tables, made by CREATE TABLE AS, have none of them) is not put back, and its
 * user is left without that row, which fails closed and doctor mends (an empty secrets row); one
 * of a wrong type is put back and named like any damaged row.
 */
static void test_publish_cut_short_damaged_images(void **state) {
        struct test_env *e = *state;
        struct cut_short c;
        char lines[4096] = "";
        cut_short(e, &c, true);
        raw_exec(c.sec, "UPDATE before_credentials SET fs_uniquifier = NULL;"
                        "UPDATE before_recovery_codes SET code_hash = CAST(code_hash AS TEXT)");

        struct roles_writer *s = writer(e);     /* fails here, before: every writer did */
        int n = roles_writer_doctor(s, collect_lines, lines);
        test_commit(s);
        char undone[160];
        snprintf(undone, sizeof(undone), "a change interrupted before it published snapshot %lld: its secrets.db part "
                 "undone\n", (long long) c.published + 1);
        const char *const want[] = {
                undone,
                "1 row of its before-images could not be put back (damaged, as only a hand edit leaves them): "
                "its user goes without it\n",
                "user alice had no secrets row: added an empty one (set a password)\n",
                "user alice: secrets.db: a recovery code's code_hash is not a 32-byte BLOB (the code cannot be "
                "used): run 'rolesctl user totp recovery-codes alice' for new codes\n",
        };
        assert_doctor_said(lines, want, ROLES_N_ELEMENTS(want));
        if (n != 5)     /* and roles.nss, of the serial cut_short's roles.db was put back over */
                fail_msg("doctor: %d findings:\n%s", n, lines);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM before_credentials WHERE fs_uniquifier IS NULL"), 0);
        assert_int_equal(raw_int(c.sec, "SELECT count(*) FROM credentials WHERE fs_uniquifier IS NOT NULL"), 1);
        snprintf(undone, sizeof(undone), "SELECT count(*) FROM audit WHERE action = 'change.undone' AND detail LIKE "
                 "'%%1 row of its before-images%%'");
        assert_int_equal(raw_int(c.sec, undone), 1);
}

/*
 * A recovery code is usable by one rule, the one doctor names damaged rows by: a 32-byte BLOB
 * hash, an integer or NULL used_at. "Codes left" (the login's count, user show's) counts what a
 * login can spend and no more: a code whose hash is text or short can never match, and one whose
 * used_at is text is neither spent nor spendable (the login refuses it).
 */
static void test_recovery_codes_typed(void **state) {
        struct test_env *e = *state;
        char sec[PATH_MAX], sql[1024], lines[4096] = "";
        static const uint8_t hashes[4][ROLES_RECOVERY_HASH_LEN] = { { 1 }, { 2 }, { 3 }, { 4 } };

        struct roles_writer *s = writer(e);
        struct roles_user gina = test_add_user(s, "gina");
        assert_ok(s, roles_secret_set_totp(s, gina.uuid, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert_ok(s, roles_secret_set_recovery_codes(s, gina.uuid, hashes, ROLES_N_ELEMENTS(hashes)));
        test_commit(s);
        path_in(e, "secrets.db", sec, sizeof(sec));
        /* { 1 }: as issued; { 2 }: its hash made text; { 3 }: cut short; { 4 }: used_at 'spent'. */
        snprintf(sql, sizeof(sql),
                 "UPDATE recovery_codes SET code_hash = CAST(code_hash AS TEXT) WHERE substr(code_hash, 1, 1) = X'02';"
                 "UPDATE recovery_codes SET code_hash = substr(code_hash, 1, 16) WHERE substr(code_hash, 1, 1) = X'03';"
                 "UPDATE recovery_codes SET used_at = 'spent' WHERE substr(code_hash, 1, 1) = X'04';");
        raw_exec(sec, sql);

        struct roles_snapshot *r = test_reader(e, ROLES_SNAPSHOT_SECRETS);
        unsigned left = 99;
        assert_ok(r, roles_secret_recovery_left(roles_snapshot_secrets(r), gina.uuid, &left));
        assert_int_equal(left, 1);
        test_close(r);

        s = writer(e);
        int n = roles_writer_doctor(s, collect_lines, lines);
        test_close(s);
        static const char *const want[] = {
                "user gina: secrets.db: a recovery code's code_hash is not a 32-byte BLOB (the code cannot be "
                "used): run 'rolesctl user totp recovery-codes gina' for new codes\n",
                "user gina: secrets.db: a recovery code's used_at is text, not an integer (the code cannot be "
                "used): run 'rolesctl user totp recovery-codes gina' for new codes\n",
        };
        assert_doctor_said(lines, want, ROLES_N_ELEMENTS(want));
        if (n != 3)
                fail_msg("doctor: %d findings:\n%s", n, lines);

        /* The login spends the one usable code, and refuses the one doctor names by its used_at. */
        struct roles_login *login = test_login(e);
        struct roles_secrets *ls = roles_login_secrets(login);
        assert_int_equal(roles_secret_use_recovery_code(ls, gina.uuid, hashes[3]), -EBADMSG);
        assert_ok(login, roles_secret_use_recovery_code(ls, gina.uuid, hashes[0]));
        assert_ok(login, roles_secret_recovery_left(ls, gina.uuid, &left));
        assert_int_equal(left, 0);
        test_close(login);
}

/* How many of this process's descriptors are open on path. */
static size_t fds_on(const char *path) {
        DIR *d = opendir("/proc/self/fd");
        size_t n = 0;
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                char link[300], target[PATH_MAX];
                snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
                ssize_t k = readlink(link, target, sizeof(target) - 1);
                if (k > 0) {
                        target[k] = '\0';
                        n += strcmp(target, path) == 0;
                }
        }
        closedir(d);
        return n;
}

/*
 * Readers hold nothing of roles.db between answers: many open at once (a threaded PAM server),
 * each having read, none keeps a checkpoint from going through the whole WAL once released,
 * and closing them leaves no descriptor on roles.db, its WAL or its WAL index.
 */
static void test_readers_hold_nothing(void **state) {
        struct test_env *e = *state;
        enum { N = 50 };
        struct roles_snapshot *stores[N];
        struct roles_user u;
        char path[PATH_MAX], wal[PATH_MAX + 8], shm[PATH_MAX + 8];
        assert_non_null(realpath(e->cfg.public_db, path));
        snprintf(wal, sizeof(wal), "%s-wal", path);
        snprintf(shm, sizeof(shm), "%s-shm", path);
        /* The writer first: SQLite shares the WAL index within a process, and a reader's is
         * read-only (snapshot.h). */
        struct roles_writer *s = writer(e);
        for (size_t i = 0; i < N; i++) {
                stores[i] = test_reader(e, 0);
                assert_int_equal(roles_user_by_name(stores[i], "nobody-here", &u), -ENOENT);
                roles_snapshot_release(stores[i]);
        }
        test_add_user(s, "alice");
        test_commit(s);
        sqlite3 *db = raw_open(path, true);
        int log = -1, done = -2;
        assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done), SQLITE_OK);
        assert_int_equal(log, done);
        sqlite3_close(db);
        for (size_t i = 0; i < N; i++)
                test_close(stores[i]);
        assert_int_equal(fds_on(path), 0);
        assert_int_equal(fds_on(wal), 0);
        assert_int_equal(fds_on(shm), 0);
}

/* doctor warns when a configured range overlaps useradd's (login.defs) or subordinate ranges:
 * one line each, whatever the number of ranges; ranges clear of them are not named. */
static void test_doctor_warns_range_overlap(void **state) {
        struct test_env *e = *state;
        char lines[4096] = "";
        struct host_copy host;
        host_copy(e, &host, "", "", "a:59000:2000\nb:50000:100\n#c:1:1\n", "c:100000:65536\n",
                  "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 9999\n");
        struct roles_writer *s = writer(e);
        roles_writer_set_host_accounts(s, &host.h);
        assert_int_equal(roles_writer_doctor(s, collect_lines, lines), 2);
        test_close(s);
        if (!strstr(lines, "the configured uid range 10000-59999 overlaps login.defs' UID_MIN..UID_MAX (1000-60000)") ||
            !strstr(lines, "the configured uid range 10000-59999 overlaps 2 subordinate ranges of ") ||
            !strstr(lines, "host-subuid (the first 50000-50099)") || strstr(lines, "gid"))
                fail_msg("doctor said: %s", lines);

        /* login.defs missing: shadow's defaults (1000-60000) are what useradd hands out. */
        assert_int_equal(unlink(host.login_defs), 0);
        lines[0] = '\0';
        s = writer(e);
        roles_writer_set_host_accounts(s, &host.h);
        assert_int_equal(roles_writer_doctor(s, collect_lines, lines), 3);
        test_close(s);
        if (!strstr(lines, "the configured gid range 10000-59999 overlaps login.defs' GID_MIN..GID_MAX (1000-60000)"))
                fail_msg("doctor said: %s", lines);
        host_accounts_done(&host.h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_init_creates_files, test_setup_empty, test_teardown),
                cmocka_unit_test_setup_teardown(test_doctor_names_invalid_rows, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_doctor_warns_range_overlap, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_doctor_names_damaged_secrets, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_recovery_codes_typed, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secrets_integers_typed, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_init_keeps_data, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secrets_v1_migrated, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_public_v1_migrated, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_public_v2_migrated, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secrets_change_mends_stale_index, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_index_first_accounts_make_a_base, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_index_delta_serves_what_roles_db_says, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_bulk_change_compiles_a_base, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_open_missing, test_setup_empty, test_teardown),
                cmocka_unit_test_setup_teardown(test_serial, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_uncommitted_writer, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_reader_is_read_only, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_user_add_allocates, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_user_add_refused, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_user_add_refused_late, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_user_primary_group, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_user_update, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_user_delete, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_user_delete_keeps_shared_group, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_groups, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_group_delete_primary_busy, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_group_members, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_metarole_builtins, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_metarole_add_delete, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_metarole_cycles, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_metarole_publish, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_alloc_skips_host_ids, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_alloc_first_gap, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_retired_ids_never_allocated, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_bulk_change_sees_retired_ids, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_retired_id_request_refused, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_metarole_perms, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_roles, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_role_assign_until, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_reader_snapshot, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_change_in_place, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_old_style_file_migrated, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_unprivileged_reader, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_newer_schema_refused, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_newer_side_files_refused, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_unsafe_files_refused, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_audit, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_publish_cut_short_undone, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_publish_cut_short_damaged_images, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_publish_cut_short_published, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_publish_cut_short_twice, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_publish_delete_drops_images, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_publish_disk_full, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_login_write_commit_busy, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secret_password, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secret_codes, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tampered_user_rows, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tampered_group_rows, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_backup, test_setup, test_teardown),
                /* faults */
                cmocka_unit_test_setup_teardown(test_emptied_file_refused, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_missing_table_refused, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_stale_stages_swept, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_readers_hold_nothing, test_setup, test_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
