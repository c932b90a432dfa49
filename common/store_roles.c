/* SPDX-License-Identifier: MIT */
/* Metaroles (a DAG through `includes`), roles (each with one metarole), their permissions and
 * role assignments. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

/* ---- metaroles ---------------------------------------------------------------------------- */

#define METAROLE_COLUMNS "id, code, name, description, gid, builtin, created_at"

int roles_metarole_by_code(struct roles_snapshot *snap, const char *code, struct roles_metarole *ret) {
        struct roles_store *s = store_of_snapshot(snap);
        struct roles_metarole m = { 0 };
        int r;

        if (!roles_name_valid(code))
                return store_fail(s, -EINVAL, "invalid metarole code '%.40s'", code);
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT " METAROLE_COLUMNS " FROM metaroles WHERE code = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
        r = store_step_row(s, st);
        if (r == 0)
                r = store_fail(s, -ENOENT, "no such metarole '%s'", code);
        if (r > 0) {
                m.id = sqlite3_column_int64(st, 0);
                if ((r = store_col_text(s, st, 1, m.code, sizeof(m.code))) >= 0 &&
                    (r = store_col_text(s, st, 2, m.name, sizeof(m.name))) >= 0)
                        r = store_col_text(s, st, 3, m.description, sizeof(m.description));
                m.gid = sqlite3_column_type(st, 4) == SQLITE_NULL ? ROLES_ID_INVALID : (uint32_t) sqlite3_column_int64(st, 4);
                m.builtin = sqlite3_column_int(st, 5) != 0;
                m.created_at = sqlite3_column_int64(st, 6);
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

/* ---- roles ---------------------------------------------------------------------------------- */

int roles_role_by_name(struct roles_snapshot *snap, const char *name, struct roles_role *ret) {
        struct roles_store *s = store_of_snapshot(snap);
        struct roles_role role = { 0 };
        int r;

        if (!roles_name_valid(name))
                return store_fail(s, -EINVAL, "invalid role name '%.40s'", name);
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT r.id, r.name, r.description, r.metarole_id, m.code, r.created_at "
                "FROM roles r JOIN metaroles m ON m.id = r.metarole_id WHERE r.name = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        r = store_step_row(s, st);
        if (r == 0)
                r = store_fail(s, -ENOENT, "no such role '%s'", name);
        if (r > 0) {
                role.id = sqlite3_column_int64(st, 0);
                role.metarole_id = sqlite3_column_int64(st, 3);
                role.created_at = sqlite3_column_int64(st, 5);
                if ((r = store_col_text(s, st, 1, role.name, sizeof(role.name))) >= 0 &&
                    (r = store_col_text(s, st, 2, role.description, sizeof(role.description))) >= 0)
                        r = store_col_text(s, st, 4, role.metarole, sizeof(role.metarole));
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret = role;
        return 0;
}
