/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "authz.h"
#include "writer.h"
#include "nss_index_read.h"
#include "testlib.h"
#include "util.h"

#define NOW INT64_C(1767225600)         /* 2026-01-01T00:00:00Z */

/* ---- building the model through the store ------------------------------------------------------ */

static struct roles_writer *writer(struct test_env *e) {
        struct roles_writer *s = test_writer(e);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW);
        return s;
}

static struct roles_user user(struct roles_writer *s, const char *name) {
        struct roles_user u;
        if (roles_user_by_name(roles_writer_snapshot(s), name, &u) == 0)
                return u;
        return test_add_user(s, name);
}

static struct roles_metarole metarole(struct roles_writer *s, const char *code) {
        struct roles_metarole m;
        if (roles_metarole_by_code(roles_writer_snapshot(s), code, &m) == 0)
                return m;
        return test_add_metarole(s, code);
}

static void include(struct roles_writer *s, const char *parent, const char *child) {
        struct roles_metarole p = metarole(s, parent), c = metarole(s, child);
        assert_ok(s, roles_metarole_include(s, &p, &c));
}

static void metarole_grant(struct roles_writer *s, const char *code, const char *perm) {
        struct roles_metarole m = metarole(s, code);
        assert_ok(s, roles_metarole_grant(s, &m, perm));
}

static struct roles_role role(struct roles_writer *s, const char *name, const char *metarole_code) {
        struct roles_role r;
        if (roles_role_by_name(roles_writer_snapshot(s), name, &r) == 0)
                return r;
        metarole(s, metarole_code);
        return test_add_role(s, name, metarole_code);
}

static void role_grant(struct roles_writer *s, const char *role_name, const char *perm) {
        struct roles_role r;
        assert_ok(s, roles_role_by_name(roles_writer_snapshot(s), role_name, &r));
        assert_ok(s, roles_role_grant(s, &r, perm));
}

static void assign(struct roles_writer *s, const char *role_name, const char *user_name, int64_t until) {
        struct roles_role r;
        assert_ok(s, roles_role_by_name(roles_writer_snapshot(s), role_name, &r));
        struct roles_user u = user(s, user_name);
        assert_ok(s, roles_role_assign(s, &r, &u, until));
}

/* ---- resolving as a reader ------------------------------------------------------------------------- */

struct resolved {
        struct roles_snapshot *store;
        struct roles_resolution *res;
};

static struct resolved resolve(struct test_env *e, const char *name, time_t now) {
        struct resolved x = { .store = test_reader(e, 0) };
        struct roles_user u;
        assert_ok(x.store, roles_user_by_name(x.store, name, &u));
        assert_ok(x.store, roles_resolve(x.store, &u, now, &x.res));
        assert_non_null(x.res);
        assert_string_equal(x.res->user, name);
        return x;
}

static void resolved_free(struct resolved *x) {
        roles_resolution_free(x->res);
        test_close(x->store);
}

static size_t grant_index(const struct roles_resolution *res, const char *perm) {
        for (size_t i = 0; i < res->n_grants; i++)
                if (strcmp(res->grants[i].perm, perm) == 0)
                        return i;
        return ROLES_NONE;
}

static size_t grant_count(const struct roles_resolution *res, const char *perm) {
        size_t n = 0;
        for (size_t i = 0; i < res->n_grants; i++)
                n += strcmp(res->grants[i].perm, perm) == 0;
        return n;
}

static size_t metarole_index(const struct roles_resolution *res, const char *code) {
        size_t found = ROLES_NONE, n = 0;
        for (size_t i = 0; i < res->n_metaroles; i++)
                if (strcmp(res->metaroles[i].code, code) == 0) {
                        found = i;
                        n++;
                }
        assert_true(n <= 1);    /* never listed twice */
        return found;
}

static size_t role_index(const struct roles_resolution *res, const char *name) {
        for (size_t i = 0; i < res->n_roles; i++)
                if (strcmp(res->roles[i].name, name) == 0)
                        return i;
        return ROLES_NONE;
}

static bool allows(const struct roles_resolution *res, const char *perm) {
        return roles_resolution_allows(res, perm, NULL);
}

static void assert_path(const struct roles_resolution *res, const char *perm, const char *expect) {
        char buf[4096];
        size_t g = grant_index(res, perm);
        if (g == ROLES_NONE)
                fail_msg("no grant '%s'", perm);
        int r = roles_resolution_path(res, g, buf, sizeof(buf));
        if (r < 0)
                fail_msg("path of '%s': %d", perm, r);
        if (strcmp(buf, expect) != 0)
                fail_msg("path of '%s' is '%s', expected '%s'", perm, buf, expect);
}

/* ---- the metarole graph ---------------------------------------------------------------------------- */

static void test_transitive(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        include(s, "top", "mid");
        include(s, "mid", "leaf");
        metarole_grant(s, "top", "perm.top");
        metarole_grant(s, "mid", "perm.mid");
        metarole_grant(s, "leaf", "perm.leaf");
        metarole_grant(s, "unrelated", "perm.unrelated");
        role(s, "r", "top");
        role_grant(s, "r", "perm.role");
        assign(s, "r", "alice", 0);
        user(s, "bob");
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_null(x.res->inactive);
        assert_false(x.res->superuser);
        assert_int_equal(x.res->n_roles, 1);
        assert_int_equal(x.res->n_metaroles, 3);
        assert_int_not_equal(metarole_index(x.res, "top"), ROLES_NONE);
        assert_int_not_equal(metarole_index(x.res, "mid"), ROLES_NONE);
        assert_int_not_equal(metarole_index(x.res, "leaf"), ROLES_NONE);
        assert_int_equal(metarole_index(x.res, "unrelated"), ROLES_NONE);
        assert_int_equal(x.res->roles[0].metarole, metarole_index(x.res, "top"));

        assert_true(allows(x.res, "perm.top"));
        assert_true(allows(x.res, "perm.mid"));
        assert_true(allows(x.res, "perm.leaf"));
        assert_true(allows(x.res, "perm.role"));
        assert_false(allows(x.res, "perm.unrelated"));
        assert_false(allows(x.res, "perm"));

        size_t g = grant_index(x.res, "perm.leaf");
        assert_int_equal(x.res->grants[g].source, ROLES_GRANT_METAROLE);
        assert_int_equal(x.res->grants[g].index, metarole_index(x.res, "leaf"));
        g = grant_index(x.res, "perm.role");
        assert_int_equal(x.res->grants[g].source, ROLES_GRANT_ROLE);
        assert_int_equal(x.res->grants[g].index, 0);
        size_t which = 99;
        assert_true(roles_resolution_allows(x.res, "perm.leaf", &which));
        assert_int_equal(which, grant_index(x.res, "perm.leaf"));

        assert_path(x.res, "perm.role", "role r");
        assert_path(x.res, "perm.top", "role r -> metarole top");
        assert_path(x.res, "perm.leaf", "role r -> metarole top -> metarole mid -> metarole leaf");
        resolved_free(&x);

        /* Bob holds no role: nothing. */
        x = resolve(e, "bob", NOW);
        assert_int_equal(x.res->n_roles, 0);
        assert_int_equal(x.res->n_metaroles, 0);
        assert_int_equal(x.res->n_grants, 0);
        assert_false(allows(x.res, "perm.top"));
        resolved_free(&x);
}

static void test_diamond(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        /* top includes left and right, both include bottom; and bottom is also reached from a
         * second role through another path. */
        include(s, "top", "left");
        include(s, "top", "right");
        include(s, "left", "bottom");
        include(s, "right", "bottom");
        include(s, "other", "bottom");
        metarole_grant(s, "bottom", "perm.bottom");
        metarole_grant(s, "right", "perm.right");
        role(s, "r1", "top");
        role(s, "r2", "other");
        assign(s, "r1", "alice", 0);
        assign(s, "r2", "alice", 0);
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_int_equal(x.res->n_roles, 2);
        assert_int_equal(x.res->n_metaroles, 5);        /* top, other, left, right, bottom */
        assert_int_not_equal(metarole_index(x.res, "bottom"), ROLES_NONE);
        /* Reached once, so its permission is listed once. */
        assert_int_equal(grant_count(x.res, "perm.bottom"), 1);
        assert_true(allows(x.res, "perm.bottom"));
        assert_true(allows(x.res, "perm.right"));
        /* By a shortest path: r2 -> other -> bottom is shorter than r1 -> top -> left -> bottom. */
        assert_path(x.res, "perm.bottom", "role r2 -> metarole other -> metarole bottom");
        assert_path(x.res, "perm.right", "role r1 -> metarole top -> metarole right");
        resolved_free(&x);
}

static void test_shared_metarole_between_roles(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        metarole_grant(s, "user", "login.sshd");
        role(s, "a-role", "admin");
        role(s, "b-role", "user");
        role(s, "c-role", "user");
        assign(s, "a-role", "alice", 0);
        assign(s, "b-role", "alice", 0);
        assign(s, "c-role", "alice", 0);
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_int_equal(x.res->n_roles, 3);
        assert_int_equal(x.res->n_metaroles, 2);        /* admin, user */
        assert_int_equal(grant_count(x.res, "login.sshd"), 1);
        /* user is b-role's own metarole: the direct path, not through admin. */
        assert_path(x.res, "login.sshd", "role b-role -> metarole user");
        size_t u = metarole_index(x.res, "user");
        assert_int_equal(x.res->roles[role_index(x.res, "b-role")].metarole, u);
        assert_int_equal(x.res->roles[role_index(x.res, "c-role")].metarole, u);
        resolved_free(&x);
}

static void ignore_finding(void *userdata, const char *line) {
        (void) userdata;
        (void) line;
}

static int add_gid(void *userdata, uint32_t gid) {
        uint32_t *seen = userdata;
        if (gid == 21000)
                (*seen)++;
        return 0;
}

static int add_member(void *userdata, const char *name, size_t n) {
        char *members = userdata;
        snprintf(members + strlen(members), 64 - strlen(members), "%s%.*s", members[0] ? "," : "", (int) n, name);
        return 0;
}

/*
 * Values only a hand edit writes (rolesctl writes enabled 0 or 1, a missing end as NULL): an
 * enabled of 2 and an end of 0. The C rules (roles_check) and the NSS index compiled from the
 * same rows (a metarole group's members, a user's gids) must judge them alike: enabled, and
 * never ending.
 */
static void test_hand_edited_values_judged_alike(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX], members[64] = "";
        struct roles_writer *s = writer(e);
        metarole_grant(s, "ops", "ops.run");
        struct roles_metarole m = metarole(s, "ops");
        assert_ok(s, roles_metarole_publish(s, &m, 21000));
        role(s, "operator", "ops");
        assign(s, "operator", "alice", 0);
        test_commit(s);

        snprintf(pub, sizeof(pub), "%s/roles.db", e->dir);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(pub, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "UPDATE users SET enabled = 2, expires_at = 0 WHERE name = 'alice';"
                                          "UPDATE role_assignments SET until = 0", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        struct roles_snapshot *r = test_reader(e, 0);
        assert_int_equal(roles_check(r, "alice", "ops.run", NOW), 1);
        test_close(r);

        s = writer(e);
        assert_ok(s, roles_writer_rebuild_index(s));
        test_commit(s);
        struct nss_index_view v;
        struct nss_index_found_user u;
        struct nss_index_found_group g;
        uint32_t seen = 0;
        test_index_view(e, &v);
        assert_int_equal(nss_index_user_by_name(&v, "alice", 5, &u), 0);
        assert_int_equal(nss_index_user_gids(&v, &u, NOW, add_gid, &seen), 0);
        assert_int_equal(seen, 1);
        assert_int_equal(nss_index_group_by_gid(&v, 21000, &g), 0);
        assert_int_equal(nss_index_group_members(&v, &g, NOW, add_member, members), 0);
        assert_string_equal(members, "alice");
        test_index_close(&v);
}

static void test_cycle_in_database(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX];
        struct roles_writer *s = writer(e);

        include(s, "a", "b");
        include(s, "b", "c");
        metarole_grant(s, "a", "perm.a");
        metarole_grant(s, "c", "perm.c");
        role(s, "r", "b");
        assign(s, "r", "alice", 0);
        test_commit(s);

        /* Written behind the store's back: c -> a closes a cycle, and a self-loop on b that
         * the schema's CHECK would refuse. */
        snprintf(pub, sizeof(pub), "%s/roles.db", e->dir);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(pub, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        char *msg = NULL;
        int rc = sqlite3_exec(db,
                "PRAGMA ignore_check_constraints = ON;"
                "INSERT INTO metarole_includes (parent_id, child_id) "
                "  SELECT c.id, a.id FROM metaroles c, metaroles a WHERE c.code = 'c' AND a.code = 'a';"
                "INSERT INTO metarole_includes (parent_id, child_id) "
                "  SELECT id, id FROM metaroles WHERE code = 'b';",
                NULL, NULL, &msg);
        if (rc != SQLITE_OK)
                fail_msg("%s", msg);
        sqlite3_close(db);

        /* Resolution terminates (the alarm kills a hang), each metarole once. */
        alarm(20);
        struct resolved x = resolve(e, "alice", NOW);
        assert_int_equal(x.res->n_metaroles, 3);
        assert_int_equal(grant_count(x.res, "perm.a"), 1);
        assert_true(allows(x.res, "perm.a"));
        assert_true(allows(x.res, "perm.c"));
        assert_path(x.res, "perm.a", "role r -> metarole b -> metarole c -> metarole a");
        resolved_free(&x);
        /* The hand edit left the derived table behind; doctor brings it up to date, and the
         * check's closure terminates on the cycle too. */
        struct roles_writer *doc = writer(e);
        assert_true(roles_writer_doctor(doc, ignore_finding, NULL) >= 1);
        test_commit(doc);
        struct roles_snapshot *rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "alice", "perm.a", NOW), 1);
        test_close(rd);

        /* A writer on the cyclic graph: the cycle check terminates too, and still refuses. */
        s = writer(e);
        struct roles_metarole a = metarole(s, "a"), c = metarole(s, "c"), d = metarole(s, "d");
        assert_true(roles_metarole_include(s, &c, &a) < 0);      /* already there, and a cycle */
        assert_int_equal(roles_metarole_include(s, &d, &a), 0);
        assert_int_equal(roles_metarole_include(s, &a, &d), -ELOOP);
        test_close(s);
        alarm(0);
}

/* ---- what counts ------------------------------------------------------------------------------------- */

static void test_disabled_role_perm(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_role r;

        role(s, "ops", "user");
        role_grant(s, "ops", "svc.restart");
        role_grant(s, "ops", "svc.stop");
        role_grant(s, "ops", "db.drop");
        assert_ok(s, roles_role_by_name(roles_writer_snapshot(s), "ops", &r));
        assert_ok(s, roles_role_set_disabled(s, &r, "svc.stop", true));
        assert_ok(s, roles_role_set_disabled(s, &r, "db.drop", true));
        /* db.drop also comes, enabled, from the metarole: that one counts. */
        metarole_grant(s, "user", "db.drop");
        assign(s, "ops", "alice", 0);
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_true(allows(x.res, "svc.restart"));
        assert_false(allows(x.res, "svc.stop"));
        size_t g = grant_index(x.res, "svc.stop");
        assert_int_not_equal(g, ROLES_NONE);            /* listed, for --why ... */
        assert_true(x.res->grants[g].disabled);         /* ... as disabled */
        assert_int_equal(x.res->grants[g].source, ROLES_GRANT_ROLE);
        assert_false(x.res->grants[grant_index(x.res, "svc.restart")].disabled);

        size_t which = 99;
        assert_true(roles_resolution_allows(x.res, "db.drop", &which));
        assert_false(x.res->grants[which].disabled);
        assert_int_equal(x.res->grants[which].source, ROLES_GRANT_METAROLE);
        assert_int_equal(grant_count(x.res, "db.drop"), 2);
        resolved_free(&x);

        struct roles_snapshot *rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "alice", "svc.restart", NOW), 1);
        assert_int_equal(roles_check(rd, "alice", "svc.stop", NOW), 0);
        test_close(rd);

        /* Enabled again, it counts. */
        s = writer(e);
        assert_ok(s, roles_role_by_name(roles_writer_snapshot(s), "ops", &r));
        assert_ok(s, roles_role_set_disabled(s, &r, "svc.stop", false));
        test_commit(s);
        rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "alice", "svc.stop", NOW), 1);
        test_close(rd);
}

/* resolution and check both, in a writer (q == the writer) or from the published snapshot */
static void assert_holds(struct roles_snapshot *q, const char *who, const char *perm, bool want) {
        struct roles_user u;
        struct roles_resolution *res = NULL;
        assert_ok(q, roles_user_by_name(q, who, &u));
        assert_ok(q, roles_resolve(q, &u, NOW, &res));
        bool resolved = roles_resolution_allows(res, perm, NULL);
        roles_resolution_free(res);
        int checked = roles_check(q, who, perm, NOW);
        if (resolved != want || checked != (int) want)
                fail_msg("%s %s: resolution says %d, check %d, expected %d", who, perm, resolved, checked, want);
}

/*
 * A disabled line switches off, on its own role, the code it names and everything under it,
 * whatever that role's enabled lines (wildcards above it, codes under it) say. Other roles and
 * metaroles granting the same code still grant it.
 */
static void test_disabled_code_under_wildcard(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_role r;

        role(s, "dba", "plain");
        role_grant(s, "dba", "db.*");
        role_grant(s, "dba", "db.drop");
        role_grant(s, "dba", "db.drop.*");              /* under the disabled db.drop: off whole */
        role_grant(s, "dba", "db.drop.table");          /* a code under it: off too */
        role_grant(s, "dba", "mail.send");
        role_grant(s, "dba", "mail.*");                 /* a disabled wildcard wins over codes under it */
        assert_ok(s, roles_role_by_name(roles_writer_snapshot(s), "dba", &r));
        assert_ok(s, roles_role_set_disabled(s, &r, "db.drop", true));
        assert_ok(s, roles_role_set_disabled(s, &r, "mail.*", true));
        assign(s, "dba", "alice", 0);
        /* bob: another role grants db.drop; carol: her other role's metarole grants db.* */
        role(s, "dropper", "plain");
        role_grant(s, "dropper", "db.drop");
        assign(s, "dba", "bob", 0);
        assign(s, "dropper", "bob", 0);
        metarole_grant(s, "dbmeta", "db.*");
        role(s, "viameta", "dbmeta");
        assign(s, "dba", "carol", 0);
        assign(s, "viameta", "carol", 0);

        for (int phase = 0; phase < 2; phase++) {
                /* phase 0: inside the writer, before publishing; phase 1: a reader. */
                struct roles_snapshot *q = phase == 0 ? roles_writer_snapshot(s) : test_reader(e, 0);
                assert_holds(q, "alice", "db.backup", true);
                assert_holds(q, "alice", "db.backup.full", true);
                assert_holds(q, "alice", "db.drop", false);
                assert_holds(q, "alice", "db.drop.x", false);
                assert_holds(q, "alice", "db.drop.table", false);
                assert_holds(q, "alice", "db.dropx", true);      /* a sibling, not under db.drop */
                assert_holds(q, "alice", "mail.send", false);
                assert_holds(q, "alice", "mail", false);
                assert_holds(q, "bob", "db.drop", true);
                assert_holds(q, "bob", "db.drop.x", false);      /* dropper grants db.drop exactly */
                assert_holds(q, "carol", "db.drop", true);
                assert_holds(q, "carol", "db.drop.x", true);
                if (phase == 0)
                        test_commit(s);
                else
                        test_close(q);
        }

        /* --why: the enabled lines a disabled line switches off whole say by which; db.* still counts. */
        struct resolved x = resolve(e, "alice", NOW);
        size_t wild = grant_index(x.res, "db.*"), off = grant_index(x.res, "db.drop");
        assert_int_equal(x.res->grants[wild].off_by, ROLES_NONE);
        assert_true(x.res->grants[off].disabled);
        assert_int_equal(x.res->grants[grant_index(x.res, "db.drop.*")].off_by, off);
        assert_int_equal(x.res->grants[grant_index(x.res, "db.drop.table")].off_by, off);
        assert_int_equal(x.res->grants[grant_index(x.res, "mail.send")].off_by, grant_index(x.res, "mail.*"));
        size_t which = 99;
        assert_true(roles_resolution_allows(x.res, "db.backup", &which));
        assert_int_equal(which, wild);
        resolved_free(&x);
}

static void test_wildcards(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        role(s, "dba", "user");
        role_grant(s, "dba", "db.*");
        metarole_grant(s, "user", "mail.send.*");
        assign(s, "dba", "alice", 0);
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_true(allows(x.res, "db.read"));
        assert_true(allows(x.res, "db.backup.run"));
        assert_true(allows(x.res, "mail.send.bulk"));
        assert_false(allows(x.res, "mail.send"));
        assert_false(allows(x.res, "mail.read"));
        assert_false(allows(x.res, "db"));
        assert_false(allows(x.res, "dbx.read"));
        assert_false(allows(x.res, "sudo"));
        /* A question must be a concrete code. */
        assert_false(allows(x.res, "db.*"));
        assert_false(allows(x.res, "*"));
        assert_false(allows(x.res, ""));
        assert_false(allows(x.res, "DB.read"));
        resolved_free(&x);
}

static void test_tampered_perms_ignored(void **state) {
        struct test_env *e = *state;
        char pub[PATH_MAX];
        struct roles_writer *s = writer(e);

        role(s, "r", "user");
        role_grant(s, "r", "ok.perm");
        assign(s, "r", "alice", 0);
        test_commit(s);

        /* Codes the store would never write: a lone "*" must not mean everything. */
        snprintf(pub, sizeof(pub), "%s/roles.db", e->dir);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(pub, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                "INSERT INTO role_perms (role_id, perm) SELECT id, '*' FROM roles WHERE name = 'r';"
                "INSERT INTO role_perms (role_id, perm) SELECT id, 'Sudo' FROM roles WHERE name = 'r';"
                "INSERT INTO role_perms (role_id, perm) SELECT id, 'a..b' FROM roles WHERE name = 'r';"
                "INSERT INTO metarole_perms (metarole_id, perm) SELECT id, '*' FROM metaroles WHERE code = 'user';"
                "INSERT INTO metarole_perms (metarole_id, perm) SELECT id, 'x.*.y' FROM metaroles WHERE code = 'user';",
                NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        struct resolved x = resolve(e, "alice", NOW);
        assert_true(allows(x.res, "ok.perm"));
        assert_false(allows(x.res, "sudo"));
        assert_false(allows(x.res, "anything"));
        assert_false(allows(x.res, "x.z.y"));
        assert_int_equal(grant_index(x.res, "*"), ROLES_NONE);
        assert_int_equal(grant_index(x.res, "Sudo"), ROLES_NONE);
        assert_int_equal(x.res->n_grants, 1);
        assert_false(x.res->superuser);
        resolved_free(&x);
}

static void test_until(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        role(s, "jit-sudo", "jit");
        role_grant(s, "jit-sudo", "sudo");
        metarole_grant(s, "jit", "sudo.audit");
        role(s, "old", "user");
        role_grant(s, "old", "old.perm");
        role(s, "forever", "user");
        role_grant(s, "forever", "login.sshd");
        assign(s, "jit-sudo", "alice", NOW + 3600);
        assign(s, "old", "alice", NOW - 1);
        assign(s, "forever", "alice", 0);
        test_commit(s);

        /* Now: jit-sudo counts, old has ended. */
        struct resolved x = resolve(e, "alice", NOW);
        assert_true(allows(x.res, "sudo"));
        assert_true(allows(x.res, "sudo.audit"));
        assert_true(allows(x.res, "login.sshd"));
        assert_false(allows(x.res, "old.perm"));
        /* Ended roles are listed (for --why), but count for nothing. */
        size_t old = role_index(x.res, "old");
        assert_int_not_equal(old, ROLES_NONE);
        assert_true(x.res->roles[old].ended);
        assert_true(x.res->roles[old].until == NOW - 1);
        assert_int_equal(x.res->roles[old].metarole, ROLES_NONE);
        assert_int_equal(grant_index(x.res, "old.perm"), ROLES_NONE);
        size_t jit = role_index(x.res, "jit-sudo");
        assert_false(x.res->roles[jit].ended);
        assert_true(x.res->roles[jit].until == NOW + 3600);
        assert_false(x.res->roles[role_index(x.res, "forever")].ended);
        resolved_free(&x);

        /* One second before the end it still counts; at the end it stops, everywhere. */
        x = resolve(e, "alice", NOW + 3599);
        assert_true(allows(x.res, "sudo"));
        resolved_free(&x);
        x = resolve(e, "alice", NOW + 3600);
        assert_false(allows(x.res, "sudo"));
        assert_false(allows(x.res, "sudo.audit"));     /* the metarole came only through it */
        assert_int_equal(metarole_index(x.res, "jit"), ROLES_NONE);
        assert_true(allows(x.res, "login.sshd"));
        resolved_free(&x);

        /* Before the past assignment ended, it counted. */
        x = resolve(e, "alice", NOW - 2);
        assert_true(allows(x.res, "old.perm"));
        resolved_free(&x);

        struct roles_snapshot *rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "alice", "sudo", NOW), 1);
        assert_int_equal(roles_check(rd, "alice", "sudo", NOW + 3600), 0);
        assert_int_equal(roles_check(rd, "alice", "sudo", NOW + 86400 * 365), 0);
        assert_int_equal(roles_check(rd, "alice", "login.sshd", NOW + 86400 * 365), 1);
        test_close(rd);

        /* Re-assigning with a later end brings it back. */
        s = writer(e);
        assign(s, "jit-sudo", "alice", NOW + 7200);
        test_commit(s);
        rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "alice", "sudo", NOW + 3600), 1);
        test_close(rd);
}

static void test_superuser(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        role(s, "root-role", ROLES_METAROLE_SUPER_ADMIN);
        role(s, "admins", ROLES_METAROLE_ADMIN);
        include(s, "platform", ROLES_METAROLE_SUPER_ADMIN);
        role(s, "platform-team", "platform");
        metarole_grant(s, ROLES_METAROLE_USER, "login.sshd");
        assign(s, "root-role", "alice", 0);
        assign(s, "admins", "bob", 0);
        assign(s, "platform-team", "carol", 0);
        assign(s, "root-role", "dave", NOW - 10);      /* ended */
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_true(x.res->superuser);
        assert_int_equal(x.res->n_metaroles, 3);        /* super-admin, admin, user */
        size_t which = 0;
        assert_true(roles_resolution_allows(x.res, "anything.at.all", &which));
        assert_int_equal(which, ROLES_NONE);            /* as superuser, not by a grant */
        assert_true(allows(x.res, "sudo"));
        /* A real grant is still reported as such. */
        assert_true(roles_resolution_allows(x.res, "login.sshd", &which));
        assert_int_equal(which, grant_index(x.res, "login.sshd"));
        assert_path(x.res, "login.sshd",
                    "role root-role -> metarole super-admin -> metarole admin -> metarole user");
        /* Not a wildcard for malformed questions. */
        assert_false(allows(x.res, "Not.Valid"));
        assert_false(allows(x.res, "db.*"));
        resolved_free(&x);

        x = resolve(e, "bob", NOW);
        assert_false(x.res->superuser);
        assert_false(allows(x.res, "anything.at.all"));
        assert_true(allows(x.res, "login.sshd"));
        resolved_free(&x);

        /* super-admin reached through another metarole. */
        x = resolve(e, "carol", NOW);
        assert_true(x.res->superuser);
        assert_true(allows(x.res, "anything.at.all"));
        resolved_free(&x);

        x = resolve(e, "dave", NOW);
        assert_false(x.res->superuser);
        assert_false(allows(x.res, "anything.at.all"));
        resolved_free(&x);
}

static void test_inactive_users(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        struct roles_user u;

        role(s, "root-role", ROLES_METAROLE_SUPER_ADMIN);
        role(s, "plain", "user");
        role_grant(s, "plain", "login.sshd");
        static const char *const names[] = { "disabled", "expired", "expiring" };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(names); i++) {
                assign(s, "root-role", names[i], 0);
                assign(s, "plain", names[i], 0);
        }
        u = user(s, "disabled");
        u.enabled = false;
        assert_ok(s, roles_user_update(s, &u));
        u = user(s, "expired");
        u.expires_at = NOW - 1;
        assert_ok(s, roles_user_update(s, &u));
        u = user(s, "expiring");
        u.expires_at = NOW + 60;
        assert_ok(s, roles_user_update(s, &u));
        test_commit(s);

        struct resolved x = resolve(e, "disabled", NOW);
        assert_non_null(x.res->inactive);
        assert_string_equal(x.res->inactive, "disabled");
        assert_false(allows(x.res, "login.sshd"));
        assert_false(allows(x.res, "anything"));
        resolved_free(&x);

        x = resolve(e, "expired", NOW);
        assert_non_null(x.res->inactive);
        assert_string_equal(x.res->inactive, "account expired");
        assert_false(allows(x.res, "login.sshd"));
        assert_false(allows(x.res, "anything"));
        resolved_free(&x);

        /* Not yet expired: everything; at the second of expiry: nothing. */
        x = resolve(e, "expiring", NOW);
        assert_null(x.res->inactive);
        assert_true(allows(x.res, "login.sshd"));
        assert_true(allows(x.res, "anything"));
        resolved_free(&x);
        x = resolve(e, "expiring", NOW + 60);
        assert_string_equal(x.res->inactive, "account expired");
        assert_false(allows(x.res, "login.sshd"));
        resolved_free(&x);

        struct roles_snapshot *rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "disabled", "login.sshd", NOW), 0);
        assert_int_equal(roles_check(rd, "expired", "login.sshd", NOW), 0);
        assert_int_equal(roles_check(rd, "expiring", "login.sshd", NOW), 1);
        assert_int_equal(roles_check(rd, "expiring", "login.sshd", NOW + 61), 0);
        test_close(rd);
}

static void test_check(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);

        role(s, "r", "user");
        role_grant(s, "r", "login.sshd");
        assign(s, "r", "alice", 0);
        user(s, "bob");
        test_commit(s);

        struct roles_snapshot *rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "alice", "login.sshd", NOW), 1);
        assert_int_equal(roles_check(rd, "alice", "login.su", NOW), 0);
        assert_int_equal(roles_check(rd, "alice", "login", NOW), 0);
        assert_int_equal(roles_check(rd, "alice", "login.sshd.x", NOW), 0);
        assert_int_equal(roles_check(rd, "bob", "login.sshd", NOW), 0);
        assert_int_equal(roles_check(rd, "nobody", "login.sshd", NOW), -ENOENT);
        assert_true(roles_check(rd, "Not:Valid", "login.sshd", NOW) < 0);
        test_close(rd);

        /* A writer resolves its own staged snapshot. */
        s = writer(e);
        assign(s, "r", "bob", 0);
        assert_int_equal(roles_check(roles_writer_snapshot(s), "bob", "login.sshd", NOW), 1);
        test_close(s);
        rd = test_reader(e, 0);
        assert_int_equal(roles_check(rd, "bob", "login.sshd", NOW), 0);
        test_close(rd);
}

/* ---- --why ----------------------------------------------------------------------------------------- */

static void test_resolution_path(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        char buf[256];

        metarole_grant(s, ROLES_METAROLE_USER, "login.sshd");
        metarole_grant(s, ROLES_METAROLE_ADMIN, "sudo");
        role(s, "dba", ROLES_METAROLE_ADMIN);
        role_grant(s, "dba", "db.*");
        assign(s, "dba", "alice", 0);
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_path(x.res, "login.sshd", "role dba -> metarole admin -> metarole user");
        assert_path(x.res, "sudo", "role dba -> metarole admin");
        assert_path(x.res, "db.*", "role dba");

        /* Out of range, or a buffer too small. */
        assert_int_equal(roles_resolution_path(x.res, x.res->n_grants, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(roles_resolution_path(x.res, ROLES_NONE, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(roles_resolution_path(x.res, 0, buf, 0), -EINVAL);
        size_t g = grant_index(x.res, "login.sshd");
        assert_int_equal(roles_resolution_path(x.res, g, buf, 10), -ENOBUFS);
        assert_true(strlen(buf) < 10);
        /* Exactly big enough. */
        const char *full = "role dba -> metarole admin -> metarole user";
        assert_int_equal(roles_resolution_path(x.res, g, buf, strlen(full) + 1), 0);
        assert_string_equal(buf, full);
        assert_int_equal(roles_resolution_path(x.res, g, buf, strlen(full)), -ENOBUFS);
        resolved_free(&x);
}

static void test_long_chain(void **state) {
        struct test_env *e = *state;
        struct roles_writer *s = writer(e);
        char code[16], parent[16], expect[4096];
        const int depth = 80;
        size_t len = 0;

        /* m0 includes m1 includes ... m79, which grants deep.perm. */
        len += (size_t) snprintf(expect + len, sizeof(expect) - len, "role r");
        for (int i = 0; i < depth; i++) {
                snprintf(code, sizeof(code), "m%d", i);
                metarole(s, code);
                if (i > 0)
                        include(s, parent, code);
                memcpy(parent, code, sizeof(code));
                len += (size_t) snprintf(expect + len, sizeof(expect) - len, " -> metarole %s", code);
        }
        metarole_grant(s, parent, "deep.perm");
        role(s, "r", "m0");
        assign(s, "r", "alice", 0);
        test_commit(s);

        struct resolved x = resolve(e, "alice", NOW);
        assert_int_equal(x.res->n_metaroles, (size_t) depth);
        assert_true(allows(x.res, "deep.perm"));
        /* The whole path, or an error: never a path that skips its top. */
        char buf[4096];
        size_t g = grant_index(x.res, "deep.perm");
        int r = roles_resolution_path(x.res, g, buf, sizeof(buf));
        if (r >= 0 && strcmp(buf, expect) != 0)
                fail_msg("path is '%.120s...', expected '%.120s...'", buf, expect);
        assert_int_equal(r, 0);
        resolved_free(&x);
}

/* ---- the fast check against the full resolution ------------------------------------------------------ */

/* A small deterministic generator, so a failure names a seed that reproduces it. */
static uint32_t next_random(uint32_t *state) {
        *state = *state * 1103515245u + 12345u;
        return (*state >> 8) & 0xffffff;
}

static const char *const random_words[] = { "a", "b", "c" };

/* Append ".word" (or the word alone at the start) to perm, or ".*" when star. */
static void append_word(char *perm, size_t size, uint32_t *rnd, bool star) {
        size_t len = strlen(perm);
        snprintf(perm + len, size - len, "%s%s", len ? "." : "", star ? "*" : random_words[next_random(rnd) % 3]);
}

/* A role's line: one to three words (mostly two), the last of several a "*" now and then. */
static void random_role_line(char *perm, size_t size, uint32_t *rnd) {
        uint32_t pick = next_random(rnd) % 6;
        int n = pick == 0 ? 1 : pick < 4 ? 2 : 3;
        perm[0] = '\0';
        for (int i = 0; i < n; i++)
                append_word(perm, size, rnd, i > 0 && i == n - 1 && next_random(rnd) % 3 == 0);
}

/* Question k: every code of one to three words in turn, a, b, c, a.a, ..., c.c.c. */
#define N_QUESTIONS (3 + 9 + 27)
static void question(size_t k, char *perm, size_t size) {
        size_t n = k < 3 ? 1 : k < 12 ? 2 : 3, x = k < 3 ? k : k < 12 ? k - 3 : k - 12, len = 0;
        for (size_t i = 0, div = n == 1 ? 1 : n == 2 ? 3 : 9; i < n; i++, div /= 3)
                len += (size_t) snprintf(perm + len, size - len, "%s%s", i ? "." : "", random_words[x / div % 3]);
}

/*
 * roles_check answers from the derived metarole_grants table; roles_resolve walks the graph.
 * On random graphs (includes, super-admin reached or not, wildcards, disabled permissions,
 * disabled codes and wildcards under enabled wildcards of the same role and enabled lines under
 * disabled ones, ended and current grants, disabled and expired users) both must agree on every
 * question, before and after a reader reopens the snapshot, and inside a writer (a check in a
 * batch).
 */
static void test_check_matches_resolution(void **state) {
        struct test_env *e = *state;
        static const char *const codes[] = { "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7" };
        char perm[64], name[32];
        unsigned questions = 0, yes = 0;

        for (uint32_t seed = 1; seed <= 12; seed++) {
                uint32_t rnd = seed;
                test_env_teardown(e);
                test_env_setup(e);
                test_env_init(e);
                struct roles_writer *s = writer(e);

                /* Includes only from lower to higher index: a DAG, as the store insists. */
                for (size_t i = 0; i < ROLES_N_ELEMENTS(codes); i++)
                        metarole(s, codes[i]);
                for (size_t i = 0; i < ROLES_N_ELEMENTS(codes); i++)
                        for (size_t j = i + 1; j < ROLES_N_ELEMENTS(codes); j++)
                                if (next_random(&rnd) % 4 == 0)
                                        include(s, codes[i], codes[j]);
                if (next_random(&rnd) % 3 == 0)
                        include(s, codes[next_random(&rnd) % 4], ROLES_METAROLE_SUPER_ADMIN);
                for (size_t i = 0; i < ROLES_N_ELEMENTS(codes); i++)
                        for (int k = (int) (next_random(&rnd) % 5); k > 0; k--) {
                                snprintf(perm, sizeof(perm), "%s.%s%s", random_words[next_random(&rnd) % 3],
                                         random_words[next_random(&rnd) % 3], next_random(&rnd) % 4 ? "" : ".*");
                                struct roles_metarole m = metarole(s, codes[i]);
                                (void) roles_metarole_grant(s, &m, perm);       /* a duplicate is refused: fine */
                        }
                for (int r = 0; r < 10; r++) {
                        snprintf(name, sizeof(name), "r%d", r);
                        struct roles_role role_ = role(s, name, codes[next_random(&rnd) % ROLES_N_ELEMENTS(codes)]);
                        for (int k = (int) (next_random(&rnd) % 6); k > 0; k--) {
                                random_role_line(perm, sizeof(perm), &rnd);
                                if (roles_role_grant(s, &role_, perm) < 0)      /* a duplicate */
                                        continue;
                                bool disabled = next_random(&rnd) % 4 == 0;
                                if (disabled)
                                        assert_ok(s, roles_role_set_disabled(s, &role_, perm, true));
                                size_t len = strlen(perm);
                                if (disabled || perm[len - 1] != '*' || next_random(&rnd) % 3 == 0)
                                        continue;
                                /* The case a disabled line must win: a disabled code (or wildcard)
                                 * under this enabled wildcard, on the same role. */
                                perm[len - 2] = '\0';
                                append_word(perm, sizeof(perm), &rnd, false);
                                if (len < 5 && next_random(&rnd) % 3 == 0)
                                        append_word(perm, sizeof(perm), &rnd, next_random(&rnd) % 2);
                                if (roles_role_grant(s, &role_, perm) == 0)
                                        assert_ok(s, roles_role_set_disabled(s, &role_, perm, true));
                        }
                }
                for (int u = 0; u < 6; u++) {
                        snprintf(name, sizeof(name), "u%d", u);
                        struct roles_user usr = user(s, name);
                        for (int k = (int) (next_random(&rnd) % 4); k > 0; k--) {
                                char rname[16];
                                snprintf(rname, sizeof(rname), "r%u", next_random(&rnd) % 10);
                                uint32_t t = next_random(&rnd) % 3;
                                assign(s, rname, name, t == 0 ? 0 : t == 1 ? NOW - 60 : NOW + 60);
                        }
                        if (u == 4)
                                usr.enabled = false;
                        if (u == 5)
                                usr.expires_at = NOW - 1;
                        if (u >= 4)
                                assert_ok(s, roles_user_update(s, &usr));
                }

                for (int phase = 0; phase < 2; phase++) {
                        /* phase 0: inside the writer, before publishing; phase 1: a reader. */
                        struct roles_snapshot *q = phase == 0 ? roles_writer_snapshot(s) : test_reader(e, 0);
                        for (int u = 0; u < 6; u++) {
                                struct roles_user usr;
                                struct roles_resolution *res = NULL;
                                snprintf(name, sizeof(name), "u%d", u);
                                assert_ok(q, roles_user_by_name(q, name, &usr));
                                assert_ok(q, roles_resolve(q, &usr, NOW, &res));
                                for (size_t k = 0; k < N_QUESTIONS; k++) {
                                        question(k, perm, sizeof(perm));
                                        int got = roles_check(q, name, perm, NOW);
                                        int want = roles_resolution_allows(res, perm, NULL);
                                        if (got != want)
                                                fail_msg("seed %u phase %d: check(%s, %s) = %d, resolution says %d",
                                                         seed, phase, name, perm, got, want);
                                        questions++;
                                        yes += want;
                                }
                                roles_resolution_free(res);
                        }
                        if (phase == 0)
                                test_commit(s);
                        else
                                test_close(q);
                }
        }
        /* The generator must produce both answers, or the comparison proves little. */
        assert_true(yes > questions / 10);
        assert_true(yes < questions - questions / 10);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_transitive, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_diamond, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_shared_metarole_between_roles, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_cycle_in_database, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_disabled_role_perm, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_disabled_code_under_wildcard, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_wildcards, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tampered_perms_ignored, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_until, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_superuser, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_inactive_users, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_check, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_resolution_path, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_long_chain, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_check_matches_resolution, test_setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_hand_edited_values_judged_alike, test_setup, test_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
