/* SPDX-License-Identifier: MIT */
/* Groups, memberships, and the id allocation shared with users and published metaroles. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

int store_read_group(struct roles_store *s, sqlite3_stmt *st, struct roles_group *ret) {
        struct roles_group g = { 0 };
        int r;
        g.id = sqlite3_column_int64(st, 0);
        if ((r = store_col_text(s, st, 1, g.uuid, sizeof(g.uuid))) < 0 ||
            (r = store_col_text(s, st, 2, g.name, sizeof(g.name))) < 0 ||
            (r = store_col_text(s, st, 4, g.description, sizeof(g.description))) < 0)
                return r;
        int64_t gid = store_col_id(st, 3);
        if (!roles_name_valid(g.name) || gid < s->cfg.gid_min || gid > s->cfg.gid_max)
                return store_fail(s, -EBADMSG, "roles.db holds an invalid group row (id %lld); refusing it",
                                  (long long) g.id);
        g.gid = (uint32_t) gid;
        g.created_at = sqlite3_column_int64(st, 5);
        g.updated_at = sqlite3_column_int64(st, 6);
        *ret = g;
        return 0;
}

static int group_lookup(struct roles_store *s, const char *sql, const char *text_key, int64_t int_key,
                        struct roles_group *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, sql);
        if (!st)
                return -EIO;
        if (text_key)
                sqlite3_bind_text(st, 1, text_key, -1, SQLITE_STATIC);
        else
                sqlite3_bind_int64(st, 1, int_key);
        int r = store_step_row(s, st);
        if (r == 0)
                r = text_key ? store_fail(s, -ENOENT, "no such group '%s'", text_key)
                             : store_fail(s, -ENOENT, "no group with gid %lld", (long long) int_key);
        if (r > 0)
                r = store_read_group(s, st, ret);
        sqlite3_reset(st);
        return r;
}

int roles_group_by_name(struct roles_snapshot *snap, const char *name, struct roles_group *ret) {
        struct roles_store *s = store_of_snapshot(snap);
        if (!roles_name_valid(name))
                return store_fail(s, -EINVAL, "invalid group name '%.40s'", name);
        return group_lookup(s, "SELECT " GROUP_COLUMNS " FROM groups WHERE name = ?1", name, 0, ret);
}

int roles_group_by_gid(struct roles_snapshot *snap, uint32_t gid, struct roles_group *ret) {
        struct roles_store *s = store_of_snapshot(snap);
        return group_lookup(s, "SELECT " GROUP_COLUMNS " FROM groups WHERE gid = ?1", NULL, gid, ret);
}
