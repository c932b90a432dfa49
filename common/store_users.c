/* SPDX-License-Identifier: MIT */
/* Users in roles.db, and the secrets row every user has from birth. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

/* Rows are validated on read too: a row written behind our back must not reach a caller. */
int store_read_user(struct roles_store *s, sqlite3_stmt *st, struct roles_user *ret) {
        struct roles_user u = { 0 };
        int r;

        u.id = sqlite3_column_int64(st, 0);
        if ((r = store_col_text(s, st, 1, u.uuid, sizeof(u.uuid))) < 0 ||
            (r = store_col_text(s, st, 2, u.name, sizeof(u.name))) < 0 ||
            (r = store_col_text(s, st, 5, u.gecos, sizeof(u.gecos))) < 0 ||
            (r = store_col_text(s, st, 6, u.home, sizeof(u.home))) < 0 ||
            (r = store_col_text(s, st, 7, u.shell, sizeof(u.shell))) < 0)
                return r;
        int64_t uid = store_col_id(st, 3), gid = store_col_id(st, 4);
        if (!roles_name_valid(u.name) || !roles_uuid_valid(u.uuid) ||
            uid < s->cfg.uid_min || uid > s->cfg.uid_max || gid < s->cfg.gid_min || gid > s->cfg.gid_max ||
            !roles_text_valid(u.gecos, ROLES_TEXT_MAX) || !roles_path_valid(u.home) || !roles_path_valid(u.shell))
                return store_fail(s, -EBADMSG, "roles.db holds an invalid user row (id %lld); refusing it",
                                  (long long) u.id);
        u.uid = (uint32_t) uid;
        u.gid = (uint32_t) gid;
        u.enabled = sqlite3_column_int(st, 8) != 0;
        u.created_at = sqlite3_column_int64(st, 9);
        u.updated_at = sqlite3_column_int64(st, 10);
        u.activated_at = sqlite3_column_int64(st, 11);
        u.expires_at = sqlite3_column_int64(st, 12);
        *ret = u;
        return 0;
}

static int user_lookup(struct roles_store *s, const char *sql, const char *types, const void *key,
                       const char *what, struct roles_user *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, sql);
        if (!st)
                return -EIO;
        int r = types[0] == 't' ? sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC)
                                : sqlite3_bind_int64(st, 1, *(const int64_t *) key);
        if (r != SQLITE_OK)
                return store_sql_fail(s, s->pub, r, "bind");
        r = store_step_row(s, st);
        if (r == 0)
                r = store_fail(s, -ENOENT, "no such user %s", what);
        if (r > 0)
                r = store_read_user(s, st, ret);
        sqlite3_reset(st);
        return r;
}

/* By a text key, checked first: refused as an invalid KIND, or looked up and, when missing,
 * named as "no such user PREFIX'KEY'". */
static int user_by_text(struct roles_snapshot *snap, const char *sql, const char *key, bool valid, const char *kind,
                        const char *prefix, struct roles_user *ret) {
        struct roles_store *s = store_of_snapshot(snap);
        char what[80];
        if (!valid)
                return store_fail(s, -EINVAL, "invalid %s '%.40s'", kind, key);
        snprintf(what, sizeof(what), "%s'%s'", prefix, key);
        return user_lookup(s, sql, "t", key, what, ret);
}

int roles_user_by_name(struct roles_snapshot *snap, const char *name, struct roles_user *ret) {
        return user_by_text(snap, "SELECT " USER_COLUMNS " FROM users WHERE name = ?1", name, roles_name_valid(name),
                            "user name", "", ret);
}

int roles_user_by_uid(struct roles_snapshot *snap, uint32_t uid, struct roles_user *ret) {
        struct roles_store *s = store_of_snapshot(snap);
        char what[32];
        int64_t key = uid;
        snprintf(what, sizeof(what), "with uid %u", uid);
        return user_lookup(s, "SELECT " USER_COLUMNS " FROM users WHERE uid = ?1", "i", &key, what, ret);
}

int roles_user_by_uuid(struct roles_snapshot *snap, const char *uuid, struct roles_user *ret) {
        return user_by_text(snap, "SELECT " USER_COLUMNS " FROM users WHERE uuid = ?1", uuid, roles_uuid_valid(uuid),
                            "uuid", "with uuid ", ret);
}

bool roles_user_active(const struct roles_user *u, time_t now) {
        return u->enabled && (u->expires_at == 0 || u->expires_at > (int64_t) now);
}
