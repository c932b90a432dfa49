/* SPDX-License-Identifier: MIT */
/* The reads behind permission resolution; the rules themselves live in authz.c. */
#include <errno.h>

#include "store-internal.h"

int roles_snapshot_user_assignments(struct roles_snapshot *snap, int64_t user_id, roles_assignment_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT r.id, r.name, a.until, m.id, m.code FROM role_assignments a "
                "JOIN roles r ON r.id = a.role_id JOIN metaroles m ON m.id = r.metarole_id "
                "WHERE a.user_id = ?1 ORDER BY r.name");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r;
        while ((r = store_step_row(s, st)) > 0) {
                struct roles_assignment_row row = {
                        .role_id = sqlite3_column_int64(st, 0),
                        .role = (const char *) sqlite3_column_text(st, 1),
                        .until = sqlite3_column_int64(st, 2),
                        .metarole_id = sqlite3_column_int64(st, 3),
                        .metarole = (const char *) sqlite3_column_text(st, 4),
                };
                if (!row.role || !row.metarole || !roles_name_valid(row.role) || !roles_name_valid(row.metarole)) {
                        r = store_fail(s, -EBADMSG, "roles.db holds an invalid role or metarole name");
                        break;
                }
                if ((r = fn(userdata, &row)) < 0)
                        break;
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

static int each_perm(struct roles_store *s, sqlite3_stmt *st, roles_perm_fn fn, void *userdata) {
        int r;
        while ((r = store_step_row(s, st)) > 0) {
                struct roles_perm_row row = {
                        .owner_id = sqlite3_column_int64(st, 0),
                        .perm = (const char *) sqlite3_column_text(st, 1),
                        .disabled = sqlite3_column_int(st, 2) != 0,
                };
                /* A malformed code written behind our back is skipped, never matched. */
                if (!row.perm || !roles_perm_valid(row.perm, true))
                        continue;
                if ((r = fn(userdata, &row)) < 0)
                        break;
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int roles_snapshot_user_role_perms(struct roles_snapshot *snap, int64_t user_id, roles_perm_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT p.role_id, p.perm, p.disabled FROM role_assignments a "
                "JOIN role_perms p ON p.role_id = a.role_id WHERE a.user_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        return each_perm(s, st, fn, userdata);
}

int roles_snapshot_metarole_perms(struct roles_snapshot *snap, int64_t metarole_id, roles_perm_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT metarole_id, perm, 0 FROM metarole_perms WHERE metarole_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, metarole_id);
        return each_perm(s, st, fn, userdata);
}

int roles_snapshot_metarole_children(struct roles_snapshot *snap, int64_t metarole_id, roles_child_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT c.id, c.code FROM metarole_includes i JOIN metaroles c ON c.id = i.child_id "
                "WHERE i.parent_id = ?1 ORDER BY c.code");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, metarole_id);
        int r;
        while ((r = store_step_row(s, st)) > 0) {
                struct roles_child_row row = {
                        .id = sqlite3_column_int64(st, 0),
                        .code = (const char *) sqlite3_column_text(st, 1),
                };
                if (!row.code || !roles_name_valid(row.code)) {
                        r = store_fail(s, -EBADMSG, "roles.db holds an invalid metarole code");
                        break;
                }
                if ((r = fn(userdata, &row)) < 0)
                        break;
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

/* Bind up to ROLES_CHECK_CANDIDATES codes from parameter first on; unused slots are NULL,
 * which no "perm IN (...)" matches. */
static int bind_candidates(struct roles_store *s, sqlite3_stmt *st, int first, const char *const *candidates, size_t n) {
        if (n > ROLES_CHECK_CANDIDATES)
                return store_fail(s, -E2BIG, "internal error: too many candidates");
        for (size_t i = 0; i < ROLES_CHECK_CANDIDATES; i++) {
                int rc = i < n ? sqlite3_bind_text(st, first + (int) i, candidates[i], -1, SQLITE_STATIC)
                               : sqlite3_bind_null(st, first + (int) i);
                if (rc != SQLITE_OK)
                        return store_sql_fail(s, s->pub, rc, "bind");
        }
        return 0;
}

static int each_check_row(struct roles_store *s, sqlite3_stmt *st, roles_check_fn fn, void *userdata) {
        int r;
        while ((r = store_step_row(s, st)) > 0) {
                struct roles_check_row row = {
                        .role_id = sqlite3_column_int64(st, 0),
                        .until = sqlite3_column_int64(st, 1),
                        .metarole_id = sqlite3_column_int64(st, 2),
                };
                if ((r = fn(userdata, &row)) != 0)
                        break;
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int roles_snapshot_check_assignments(struct roles_snapshot *snap, int64_t user_id, roles_check_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT a.role_id, a.until, r.metarole_id FROM role_assignments a JOIN roles r ON r.id = a.role_id "
                "WHERE a.user_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        return each_check_row(s, st, fn, userdata);
}

int roles_snapshot_check_role_grants(struct roles_snapshot *snap, int64_t user_id, bool disabled, const char *const *candidates,
                                  size_t n, roles_check_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        /* Enabled: from the few roles that hold the permission to the user's assignments, not
         * the other way round: a user may hold many roles, a specific permission sits on few.
         * Disabled lines are rare and asked about only once a role grants: from the user's
         * assignments, each probing its role's lines by (role_id, perm). */
        sqlite3_stmt *st = store_stmt(s, s->pub, disabled
                ? "SELECT a.role_id, a.until, 0 FROM role_assignments a CROSS JOIN role_perms p "
                  "WHERE a.user_id = ?1 AND p.role_id = a.role_id AND p.perm IN (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                  "AND p.disabled <> 0"
                : "SELECT a.role_id, a.until, 0 FROM role_perms p CROSS JOIN role_assignments a "
                  "WHERE p.perm IN (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) AND p.disabled = 0 "
                  "AND a.user_id = ?1 AND a.role_id = p.role_id");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = bind_candidates(s, st, 2, candidates, n);
        if (r < 0)
                return r;
        return each_check_row(s, st, fn, userdata);
}

int roles_snapshot_metarole_holders(struct roles_snapshot *snap, const char *const *candidates, size_t n,
                                 roles_id_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        /* Inside a writer (a check in a batch), the derived table must reflect the staged changes. */
        int r = store_hook_refresh_derived(s);
        if (r < 0)
                return r;
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT DISTINCT metarole_id FROM metarole_grants WHERE perm IN (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        if (!st)
                return -EIO;
        if ((r = bind_candidates(s, st, 1, candidates, n)) < 0)
                return r;
        while ((r = store_step_row(s, st)) > 0)
                if ((r = fn(userdata, sqlite3_column_int64(st, 0))) != 0)
                        break;
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}
