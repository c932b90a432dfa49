/* SPDX-License-Identifier: MIT */
/* The reads behind permission resolution; the rules themselves live in authz.c. */
#include <errno.h>

#include "store-internal.h"

int roles_store_user_assignments(struct roles_store *s, int64_t user_id, roles_assignment_fn fn, void *userdata) {
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

int roles_store_user_role_perms(struct roles_store *s, int64_t user_id, roles_perm_fn fn, void *userdata) {
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT p.role_id, p.perm, p.disabled FROM role_assignments a "
                "JOIN role_perms p ON p.role_id = a.role_id WHERE a.user_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        return each_perm(s, st, fn, userdata);
}

int roles_store_metarole_perms(struct roles_store *s, int64_t metarole_id, roles_perm_fn fn, void *userdata) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT metarole_id, perm, 0 FROM metarole_perms WHERE metarole_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, metarole_id);
        return each_perm(s, st, fn, userdata);
}

int roles_store_metarole_children(struct roles_store *s, int64_t metarole_id, roles_child_fn fn, void *userdata) {
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
