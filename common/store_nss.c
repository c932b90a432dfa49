/* SPDX-License-Identifier: MIT */
/*
 * The queries behind the shadow half of libnss_roles.so.2 (nss_roles/shadow/: loaded only by a
 * process that asks for shadow entries, root, since it needs secrets.db and state.db; passwd
 * and group are served from roles.nss). Every row is validated before it leaves: an invalid
 * name or an id outside the configured ranges is skipped as if it were not there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

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

int roles_nss_users_after(struct roles_snapshot *snap, uint32_t after, size_t limit, roles_user_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT " USER_COLUMNS " FROM users WHERE uid >= ?1 AND uid <= ?2 ORDER BY uid LIMIT ?3");
        if (!st)
                return -EIO;
        struct user_page_ctx c = { fn, userdata };
        return page(s, st, after, s->cfg.uid_min, s->cfg.uid_max, limit, serve_user, &c);
}

int roles_nss_shadow(const struct roles_secrets *sec, const struct roles_user *u, time_t now, struct roles_nss_shadow *ret) {
        struct roles_store *s = store_of_secrets(sec);
        struct roles_nss_shadow sh = { 0 };
        int r;

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
