/* SPDX-License-Identifier: MIT */
/*
 * The queries behind libnss_roles.so.2. Every row is validated before it leaves: a name that
 * could break a passwd or group line, or an id outside the configured ranges, is skipped as if
 * it were not there, so a tampered row can never become root.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

static bool gid_in_range(const struct roles_store *s, int64_t gid) {
        return gid >= s->cfg.gid_min && gid <= s->cfg.gid_max;
}

/* Columns: id, is_metarole, name, gid. 1 when row is servable, 0 when it must be skipped. */
static int read_nss_group(struct roles_store *s, sqlite3_stmt *st, struct roles_nss_group *ret) {
        const char *name = (const char *) sqlite3_column_text(st, 2);
        int64_t gid = sqlite3_column_int64(st, 3);
        if (!name || !roles_name_valid(name) || !gid_in_range(s, gid))
                return 0;
        ret->id = sqlite3_column_int64(st, 0);
        ret->metarole = sqlite3_column_int(st, 1) != 0;
        memcpy(ret->name, name, strlen(name) + 1);
        ret->gid = (uint32_t) gid;
        return 1;
}

static int nss_group_lookup(struct roles_store *s, const char *sql, const char *name, int64_t gid,
                            struct roles_nss_group *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, sql);
        if (!st)
                return -EIO;
        if (name)
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        else
                sqlite3_bind_int64(st, 1, gid);
        struct roles_nss_group g;
        int r = store_step_row(s, st);
        if (r > 0)
                r = read_nss_group(s, st, &g);
        sqlite3_reset(st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        *ret = g;
        return 0;
}

int roles_nss_group_by_name(struct roles_store *s, const char *name, struct roles_nss_group *ret) {
        if (!roles_name_valid(name))
                return -ENOENT;
        return nss_group_lookup(s,
                "SELECT id, 0, name, gid FROM groups WHERE name = ?1 "
                "UNION ALL SELECT id, 1, code, gid FROM metaroles WHERE code = ?1 AND gid IS NOT NULL LIMIT 1",
                name, 0, ret);
}

int roles_nss_group_by_gid(struct roles_store *s, uint32_t gid, struct roles_nss_group *ret) {
        if (!gid_in_range(s, gid))
                return -ENOENT;
        return nss_group_lookup(s,
                "SELECT id, 0, name, gid FROM groups WHERE gid = ?1 "
                "UNION ALL SELECT id, 1, code, gid FROM metaroles WHERE gid = ?1 LIMIT 1",
                NULL, gid, ret);
}

/* A growing comma-separated list. */
struct csv {
        char *text;
        size_t len, size;
};

static int csv_add(struct csv *c, const char *name) {
        size_t n = strlen(name), need = c->len + n + 2;
        if (need > c->size) {
                size_t size = need > 2 * c->size ? need : 2 * c->size;
                char *t = realloc(c->text, size);
                if (!t)
                        return -ENOMEM;
                c->text = t;
                c->size = size;
        }
        if (c->len)
                c->text[c->len++] = ',';
        memcpy(c->text + c->len, name, n + 1);
        c->len += n;
        return 0;
}

int roles_nss_group_members(struct roles_store *s, const struct roles_nss_group *g, time_t now, char **ret_csv) {
        struct csv c = { 0 };
        sqlite3_stmt *st;
        int r;

        if (!g->metarole) {
                /* Ordinary groups: the derived list, one row. */
                st = store_stmt(s, s->pub, "SELECT members FROM group_member_list WHERE group_id = ?1");
                if (!st)
                        return -EIO;
                sqlite3_bind_int64(st, 1, g->id);
                r = store_step_row(s, st);
                if (r > 0) {
                        const char *members = (const char *) sqlite3_column_text(st, 0);
                        r = members ? csv_add(&c, members) : 0;    /* NULL (a hand edit): no members */
                }
                sqlite3_reset(st);
        } else {
                /* Derived members, judged at now: the same rules as roles_user_active() and a
                 * current assignment in authz.c, here in SQL so a large group is one query. */
                st = store_stmt(s, s->pub,
                        "SELECT DISTINCT u.name FROM metarole_closure c JOIN roles r ON r.metarole_id = c.root "
                        "JOIN role_assignments a ON a.role_id = r.id JOIN users u ON u.id = a.user_id "
                        "WHERE c.id = ?1 AND " SQL_ASSIGNMENT_CURRENT " AND " SQL_USER_ACTIVE " ORDER BY u.name");
                if (!st)
                        return -EIO;
                sqlite3_bind_int64(st, 1, g->id);
                sqlite3_bind_int64(st, 2, (int64_t) now);
                while ((r = store_step_row(s, st)) > 0) {
                        const char *name = (const char *) sqlite3_column_text(st, 0);
                        if (name && roles_name_valid(name) && (r = csv_add(&c, name)) < 0)
                                break;
                }
                sqlite3_reset(st);
        }
        if (r < 0) {
                free(c.text);
                return r;
        }
        if (!c.text && !(c.text = strdup("")))
                return -ENOMEM;
        *ret_csv = c.text;
        return 0;
}

/* A bucket of derived lines at or after first (see store_derived.c), as a malloc'd copy. */
static int next_bucket(struct roles_store *s, const char *sql, int64_t first, int64_t *ret_bucket, char **ret_lines) {
        sqlite3_stmt *st = store_stmt(s, s->pub, sql);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, first);
        int r = store_step_row(s, st);
        char *lines = NULL;
        int64_t bucket = 0;
        if (r > 0) {
                bucket = sqlite3_column_int64(st, 0);
                const char *text = (const char *) sqlite3_column_text(st, 1);
                if (!(lines = strdup(text ? text : "")))
                        r = -ENOMEM;
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        *ret_bucket = bucket;
        *ret_lines = lines;
        return 0;
}

int roles_nss_passwd_bucket(struct roles_store *s, int64_t first, int64_t *ret_bucket, char **ret_lines) {
        return next_bucket(s, "SELECT bucket, lines FROM passwd_buckets WHERE bucket >= ?1 ORDER BY bucket LIMIT 1",
                           first, ret_bucket, ret_lines);
}

int roles_nss_group_bucket(struct roles_store *s, int64_t first, int64_t *ret_bucket, char **ret_lines) {
        return next_bucket(s, "SELECT bucket, lines FROM group_buckets WHERE bucket >= ?1 ORDER BY bucket LIMIT 1",
                           first, ret_bucket, ret_lines);
}

/*
 * One page: keep asking from the last row examined until limit rows were served or the table
 * ends, so that skipped rows never end the enumeration early. serve() returns 1 when it
 * served the row, 0 when it skipped it, -errno to stop. Returns 1 if more rows may follow.
 * The statement takes ?1 (first id), ?2 (last id), ?3 (count): one lower bound, so each page
 * starts at its place in the index instead of scanning from the range's start.
 */
static int page(struct roles_store *s, sqlite3_stmt *st, uint32_t after, uint32_t min, uint32_t max, size_t limit,
                int (*serve)(struct roles_store *s, sqlite3_stmt *st, uint32_t *ret_key, void *ctx), void *ctx) {
        size_t served = 0;
        for (;;) {
                size_t want = limit - served, examined = 0;
                int64_t first = (int64_t) after + 1 > (int64_t) min ? (int64_t) after + 1 : (int64_t) min;
                int r;
                sqlite3_bind_int64(st, 1, first);
                sqlite3_bind_int64(st, 2, max);
                sqlite3_bind_int64(st, 3, (int64_t) want);
                while ((r = store_step_row(s, st)) > 0) {
                        examined++;
                        r = serve(s, st, &after, ctx);
                        if (r < 0)
                                break;
                        served += (size_t) r;
                }
                sqlite3_reset(st);
                if (r < 0)
                        return r;
                if (examined < want)
                        return 0;       /* the table ended */
                if (served == limit)
                        return 1;
        }
}

struct user_page_ctx {
        roles_user_fn fn;
        void *userdata;
};

static int serve_user(struct roles_store *s, sqlite3_stmt *st, uint32_t *ret_key, void *ctx) {
        struct user_page_ctx *c = ctx;
        struct roles_user u;
        *ret_key = (uint32_t) sqlite3_column_int64(st, 3);
        if (store_read_user(s, st, &u) < 0)
                return 0;       /* invalid rows are not served, and do not stop the others */
        int r = c->fn(c->userdata, &u);
        return r < 0 ? r : 1;
}

int roles_nss_users_after(struct roles_store *s, uint32_t after, size_t limit, roles_user_fn fn, void *userdata) {
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT " USER_COLUMNS " FROM users WHERE uid >= ?1 AND uid <= ?2 ORDER BY uid LIMIT ?3");
        if (!st)
                return -EIO;
        struct user_page_ctx c = { fn, userdata };
        return page(s, st, after, s->cfg.uid_min, s->cfg.uid_max, limit, serve_user, &c);
}

struct group_page_ctx {
        roles_nss_group_fn fn;
        void *userdata;
};

static int serve_group(struct roles_store *s, sqlite3_stmt *st, uint32_t *ret_key, void *ctx) {
        struct group_page_ctx *c = ctx;
        struct roles_nss_group g;
        *ret_key = (uint32_t) sqlite3_column_int64(st, 3);
        if (read_nss_group(s, st, &g) == 0)
                return 0;
        int r = c->fn(c->userdata, &g);
        return r < 0 ? r : 1;
}

int roles_nss_metarole_groups_after(struct roles_store *s, uint32_t after, size_t limit, roles_nss_group_fn fn,
                                    void *userdata) {
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT id, 1, code, gid FROM metaroles WHERE gid >= ?1 AND gid <= ?2 ORDER BY gid LIMIT ?3");
        if (!st)
                return -EIO;
        struct group_page_ctx c = { fn, userdata };
        return page(s, st, after, s->cfg.gid_min, s->cfg.gid_max, limit, serve_group, &c);
}

static int gid_from_db(struct roles_store *s, int64_t gid, roles_gid_fn fn, void *userdata) {
        return gid_in_range(s, gid) ? fn(userdata, (uint32_t) gid) : 0;
}

int roles_nss_user_gids(struct roles_store *s, const struct roles_user *u, time_t now, roles_gid_fn fn, void *userdata) {
        /* Ordinary groups: one derived row. */
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT gids FROM user_gid_list WHERE user_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, u->id);
        int r = store_step_row(s, st);
        if (r > 0) {
                /* "gid,gid,...": written by store_derived.c, still parsed defensively (an
                 * over-long number is simply out of range). */
                const char *p = (const char *) sqlite3_column_text(st, 0);
                r = 0;
                while (r >= 0 && p && *p) {
                        int64_t gid = 0;
                        const char *start = p;
                        for (; *p >= '0' && *p <= '9'; p++)
                                gid = gid < INT64_MAX / 100 ? gid * 10 + (*p - '0') : INT64_MAX / 100;
                        if (p == start || (*p && *p != ','))
                                break;
                        r = gid_from_db(s, gid, fn, userdata);
                        p += *p == ',';
                }
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        /* Published metaroles held at now; a user who holds nothing is in none. */
        if (!roles_user_active(u, now))
                return 0;
        st = store_stmt(s, s->pub,
                "SELECT DISTINCT mr.gid FROM role_assignments a JOIN roles r ON r.id = a.role_id "
                "JOIN metarole_closure c ON c.root = r.metarole_id JOIN metaroles mr ON mr.id = c.id "
                "WHERE a.user_id = ?1 AND mr.gid IS NOT NULL AND " SQL_ASSIGNMENT_CURRENT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, u->id);
        sqlite3_bind_int64(st, 2, (int64_t) now);
        while ((r = store_step_row(s, st)) > 0)
                if ((r = gid_from_db(s, sqlite3_column_int64(st, 0), fn, userdata)) < 0)
                        break;
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int roles_nss_shadow(struct roles_store *s, const struct roles_user *u, time_t now, struct roles_nss_shadow *ret) {
        struct roles_nss_shadow sh = { 0 };
        int r = store_require_secrets(s);
        if (r < 0)
                return r;

        sqlite3_stmt *st = store_stmt(s, s->sec, store_secrets_sql(s, SECRETS_READ(
                "SELECT password_changed_at FROM ", "credentials", " WHERE user_uuid = ?1")));
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, u->uuid, -1, SQLITE_STATIC);
        r = store_bind_serial(s, st);
        if (r >= 0)
                r = store_step_row(s, st);
        if (r > 0)
                sh.password_changed_at = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (r < 0)
                return r;

        st = store_stmt(s, s->state, "SELECT locked_until FROM tally WHERE user_uuid = ?1 AND locked_until IS NOT NULL");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, u->uuid, -1, SQLITE_STATIC);
        r = store_step_row(s, st);
        if (r > 0) {
                /* A lock with no end (unlock_time = 0) is stored as -1. */
                int64_t until = sqlite3_column_int64(st, 0);
                sh.locked = until < 0 || until > (int64_t) now;
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret = sh;
        return 0;
}
