/* SPDX-License-Identifier: MIT */
/* A writer's changes to groups, and the allocation and retirement of uids and gids. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

static const char gid_used_sql[] =
        "SELECT 1 FROM groups WHERE gid = ?1 UNION ALL SELECT 1 FROM metaroles WHERE gid = ?1";
int store_id_used(struct roles_store *s, const char *used_sql, int64_t id) {
        sqlite3_stmt *st = store_stmt(s, s->pub, used_sql);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        int r = store_step_row(s, st);
        sqlite3_reset(st);
        return r;
}

/*
 * The first id in [min, max] that neither roles (ordered_sql: every id it uses or used in
 * [?1, ?2], ascending, without repeats) nor the host uses: one ordered walk, not a query per id,
 * so that a range whose top end is taken costs a scan of what is in use, not a round trip per
 * id (100k of them at 100k users).
 */
static int first_gap(struct roles_store *s, const char *ordered_sql, const struct host_accounts *host, bool group,
                     uint32_t min, uint32_t max, uint32_t *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, ordered_sql);
        int64_t candidate = min;
        uint32_t unused;
        int r = 0, rc;
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, min);
        sqlite3_bind_int64(st, 2, max);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t used = sqlite3_column_int64(st, 0);
                if (candidate < used) {
                        /* Free in roles up to used: the host's next free one, if it comes first. */
                        if (!host_accounts_next_unused(host, (uint32_t) candidate, group, &unused) || unused > max)
                                break;
                        if (unused < used) {
                                *ret = unused;
                                r = 1;
                                break;
                        }
                        candidate = unused;
                }
                if (candidate == used)
                        candidate = used + 1;
        }
        if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = store_sql_fail(s, s->pub, rc, "allocating an id");
        sqlite3_reset(st);
        if (r != 0)
                return r < 0 ? r : 0;
        if (rc == SQLITE_DONE && candidate <= max && host_accounts_next_unused(host, (uint32_t) candidate, group, &unused) &&
            unused <= max) {
                *ret = unused;
                return 0;
        }
        return -ENOSPC;
}

int store_alloc_id(struct roles_store *s, const struct store_id_sql *sql, bool group, uint32_t min, uint32_t max,
                   uint32_t *ret) {
        const struct host_accounts *host;
        int r;

        /* Every id the host uses is skipped: a roles user with a local user's uid would own
         * that user's files, one inside a subordinate range a container's. */
        if ((r = store_host(s, &host)) < 0)
                return r;
        /* Like useradd: one past the highest in use; only a full top end makes us search gaps. */
        sqlite3_stmt *st = store_stmt(s, s->pub, sql->max);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, min);
        sqlite3_bind_int64(st, 2, max);
        r = store_step_row(s, st);
        int64_t highest = r > 0 && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        if (r < 0)
                return r;
        if (highest >= 0 && highest < (int64_t) max) {
                r = first_gap(s, sql->ordered, host, group, (uint32_t) highest + 1, max, ret);
                if (r != -ENOSPC)
                        return r;
        }
        return first_gap(s, sql->ordered, host, group, min, max, ret);
}

static const char *kind_of(bool group) {
        return group ? "gid" : "uid";
}

void roles_writer_allow_retired_ids(struct roles_writer *w, bool allow) {
        struct roles_store *s = store_of_writer(w);
        s->allow_retired = allow;
}

int roles_retired_id(struct roles_writer *w, bool group, uint32_t id, char *ret_name, size_t name_size, int64_t *ret_at) {
        struct roles_store *s = store_of_writer(w);
        char name[ROLES_TEXT_MAX + 1];
        int r;
        if (s->no_retired_ids)
                return 0;
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT name, retired_at FROM retired_ids WHERE kind = ?1 AND id = ?2");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, kind_of(group), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
        r = store_step_row(s, st);
        int64_t at = r > 0 ? sqlite3_column_int64(st, 1) : 0;
        int k = r > 0 ? store_col_text(s, st, 0, name, sizeof(name)) : 0;
        sqlite3_reset(st);
        if (r <= 0 || k < 0)
                return r <= 0 ? r : k;
        if (ret_name && roles_strcpy(ret_name, name_size, name) < 0)
                return store_fail(s, -ENAMETOOLONG, "name of a retired id too long");
        if (ret_at)
                *ret_at = at;
        return 1;
}

int roles_writer_each_taken(struct roles_writer *w, roles_taken_fn fn, void *userdata) {
        struct roles_store *s = store_of_writer(w);
        int r = 0, rc;
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT 0, name, uid FROM users UNION ALL SELECT 1, name, gid FROM groups "
                "UNION ALL SELECT CASE kind WHEN 'uid' THEN 2 ELSE 3 END, name, id FROM retired_ids");
        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(st, 1);
                int64_t id = sqlite3_column_int64(st, 2);
                if (name && id >= 0 && id <= UINT32_MAX &&
                    (r = fn(userdata, (enum roles_taken) sqlite3_column_int(st, 0), name, (uint32_t) id)) < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_sql_fail(s, s->pub, rc, "reading names and ids");
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int store_check_retired(struct roles_store *s, bool group, uint32_t id) {
        char name[ROLES_TEXT_MAX + 1], when[21];
        int64_t at;
        if (s->allow_retired)
                return 0;
        int r = roles_retired_id(store_writer(s), group, id, name, sizeof(name), &at);
        if (r <= 0)
                return r;
        return store_fail(s, -EEXIST, "%s %u was the %s of '%s' until %s: a retired id is never handed out again "
                          "(--force reuses it)", kind_of(group), id, kind_of(group), name, roles_format_time(at, when));
}

int store_retire_id(struct roles_store *s, bool group, uint32_t id, const char *name) {
        /* The last owner is the one named if a forced reuse is retired in turn. */
        s->no_retired_ids = false;
        int r = store_exec(s, s->pub, "INSERT OR REPLACE INTO retired_ids (kind, id, name, retired_at) VALUES (?1, ?2, ?3, ?4)",
                           "titi", kind_of(group), (int64_t) id, name, (int64_t) store_now(s));
        return r < 0 ? r : 0;
}

int store_gid_taken(struct roles_store *s, uint32_t gid) {
        return store_id_used(s, gid_used_sql, gid);
}

int store_group_name_taken(struct roles_store *s, const char *name) {
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "SELECT 1 FROM groups WHERE name = ?1 UNION ALL SELECT 1 FROM metaroles WHERE code = ?1 AND gid IS NOT NULL");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int r = store_step_row(s, st);
        sqlite3_reset(st);
        return r;
}

int store_pick_gid(struct roles_store *s, uint32_t requested, uint32_t *ret) {
        const struct roles_config *c = &s->cfg;
        int r;
        if (requested != ROLES_ID_INVALID) {
                if (requested < c->gid_min || requested > c->gid_max)
                        return store_fail(s, -ERANGE, "gid %u is outside the configured range %u-%u",
                                          requested, c->gid_min, c->gid_max);
                r = store_gid_taken(s, requested);
                if (r < 0)
                        return r;
                if (r > 0)
                        return store_fail(s, -EEXIST, "gid %u is already in use", requested);
                if ((r = store_check_retired(s, true, requested)) < 0)
                        return r;
                *ret = requested;
                return 0;
        }
        static const struct store_id_sql gid_sql = {
                .max = "SELECT max(g) FROM (SELECT max(gid) AS g FROM groups WHERE gid BETWEEN ?1 AND ?2 "
                       "UNION ALL SELECT max(gid) FROM metaroles WHERE gid BETWEEN ?1 AND ?2)",
                .ordered = "SELECT gid FROM groups WHERE gid BETWEEN ?1 AND ?2 "
                           "UNION SELECT gid FROM metaroles WHERE gid BETWEEN ?1 AND ?2 "
                           "UNION SELECT id FROM retired_ids WHERE kind = 'gid' AND id BETWEEN ?1 AND ?2 ORDER BY 1",
        };
        r = store_alloc_id(s, &gid_sql, true, c->gid_min, c->gid_max, ret);
        if (r == -ENOSPC)
                return store_fail(s, r, "no free gid left in %u-%u", c->gid_min, c->gid_max);
        return r;
}

int roles_group_add(struct roles_writer *w, struct roles_group *g) {
        struct roles_store *s = store_of_writer(w);
        struct roles_group n = *g;
        char why[ROLES_WHY_MAX];
        int r;

        if (!roles_name_valid(n.name))
                return store_fail(s, -EINVAL, "invalid group name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                  n.name, ROLES_NAME_MAX);
        if (roles_text_check(n.description, ROLES_TEXT_MAX, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid description: %s", why);
        r = store_group_name_taken(s, n.name);
        if (r < 0)
                return r;
        if (r > 0)
                return store_fail(s, -EEXIST, "group '%s' already exists", n.name);
        if ((r = store_pick_gid(s, n.gid, &n.gid)) < 0)
                return r;
        if ((r = store_uuid_new(s, n.uuid)) < 0)
                return store_fail(s, r, "no randomness for a uuid");
        n.created_at = n.updated_at = store_now(s);
        r = store_exec(s, s->pub,
                       "INSERT INTO groups (uuid, name, gid, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       "ttitii", n.uuid, n.name, (int64_t) n.gid, n.description, n.created_at, n.updated_at);
        if (r < 0)
                return r;
        n.id = sqlite3_last_insert_rowid(s->pub);
        if ((r = roles_audit(store_writer(s), "group.add", n.name, "gid=%u", n.gid)) < 0)
                return r;
        *g = n;
        return 0;
}

int roles_group_delete(struct roles_writer *w, const struct roles_group *g) {
        struct roles_store *s = store_of_writer(w);
        int r;
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT name FROM users WHERE gid = ?1 LIMIT 1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, g->gid);
        r = store_step_row(s, st);
        if (r > 0)
                r = store_fail(s, -EBUSY, "group '%s' is the primary group of user '%s'", g->name,
                               (const char *) sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        if (r < 0)
                return r;
        r = store_exec(s, s->pub, "DELETE FROM groups WHERE id = ?1", "i", g->id);
        if (r == 0)
                return store_fail(s, -ENOENT, "no such group '%s'", g->name);
        if (r < 0)
                return r;
        if ((r = store_retire_id(s, true, g->gid, g->name)) < 0)
                return r;
        return roles_audit(store_writer(s), "group.del", g->name, "gid=%u", g->gid);
}

int roles_group_add_member(struct roles_writer *w, const struct roles_group *g, const struct roles_user *u) {
        struct roles_store *s = store_of_writer(w);
        int r;
        r = store_exec(s, s->pub, "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)", "ii",
                       g->id, u->id);
        if (r == 0)
                return store_fail(s, -EEXIST, "user '%s' is already a member of group '%s'", u->name, g->name);
        if (r < 0)
                return r;
        return roles_audit(store_writer(s), "group.adduser", g->name, "user=%s", u->name);
}

int roles_group_remove_member(struct roles_writer *w, const struct roles_group *g, const struct roles_user *u) {
        struct roles_store *s = store_of_writer(w);
        int r;
        r = store_exec(s, s->pub, "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2", "ii", g->id, u->id);
        if (r == 0)
                return store_fail(s, -ENOENT, "user '%s' is not a member of group '%s'", u->name, g->name);
        if (r < 0)
                return r;
        return roles_audit(store_writer(s), "group.deluser", g->name, "user=%s", u->name);
}
