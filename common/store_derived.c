/* SPDX-License-Identifier: MIT */
/*
 * Derived tables of roles.db: facts computed from the admin tables when a snapshot is built,
 * so that the login path and NSS answer with a few index probes. Nothing here depends on the
 * clock; `until` and expiry are judged at lookup time.
 *
 *   metarole_closure (root, id)       every metarole each metarole reaches through includes
 *                                     (itself included): who is in a published metarole group
 *   metarole_grants  (perm, metarole) every permission each metarole holds, itself or through
 *                                     includes, and '*' when it reaches super-admin: roles_check
 *   group_member_list (group, "a,b")  an ordinary group's member names: getgrnam
 *   user_gid_list     (user, "1,2")   the gids of a user's ordinary groups: initgroups
 *   passwd_buckets    (uid/512, text) the passwd lines of 512 consecutive uids, as
 *                                     "name:x:uid:gid:gecos:home:shell\n...": getpwent
 *   group_buckets     (gid/512, text) the same for ordinary groups, "name:x:gid:a,b": getgrent
 *
 * The metarole tables are small and recomputed whole; the others only for the users, groups
 * and buckets a change touched (marked in the temp.dirty_* tables), so an admin change on a
 * 100k-user snapshot stays cheap. Each is computed aside in a temporary table and applied as a
 * difference, so the count of changed rows says whether anything really changed (doctor
 * reports stale rows that way).
 */
#include <errno.h>

#include "store-internal.h"

#define BUCKET_SHIFT "9"        /* 512 ids per bucket */

/*
 * Derived lines are split on ':' and newlines (and members on ','): a row holding one of those,
 * or a NUL, which only a hand edit can produce, is left out rather than allowed to forge an
 * entry. (NSS checks every field of every line as well.)
 */
#define LINE_SAFE(x) "(instr(CAST(" x " AS BLOB), X'0A') = 0 AND instr(CAST(" x " AS BLOB), X'00') = 0 " \
                     "AND instr(" x ", ':') = 0)"
#define NAME_SAFE(x) "(" LINE_SAFE(x) " AND instr(" x ", ',') = 0)"

/* UNION (not UNION ALL) on (root, id) visits each metarole once per root, so even a cycle
 * written behind our back terminates. */
static const char compute_lists_sql[] =
        "CREATE TEMP TABLE IF NOT EXISTS fresh_closure (root INTEGER NOT NULL, id INTEGER NOT NULL,"
        "  PRIMARY KEY (root, id)) WITHOUT ROWID;"
        "CREATE TEMP TABLE IF NOT EXISTS fresh_grants (perm TEXT NOT NULL, metarole_id INTEGER NOT NULL,"
        "  PRIMARY KEY (perm, metarole_id)) WITHOUT ROWID;"
        "CREATE TEMP TABLE IF NOT EXISTS fresh_member_list (group_id INTEGER PRIMARY KEY, members TEXT NOT NULL);"
        "CREATE TEMP TABLE IF NOT EXISTS fresh_gid_list (user_id INTEGER PRIMARY KEY, gids TEXT NOT NULL);"
        "DELETE FROM temp.fresh_closure;"
        "DELETE FROM temp.fresh_grants;"
        "DELETE FROM temp.fresh_member_list;"
        "DELETE FROM temp.fresh_gid_list;"
        "WITH RECURSIVE reach(root, id) AS ("
        "  SELECT id, id FROM metaroles"
        "  UNION SELECT reach.root, i.child_id FROM metarole_includes i JOIN reach ON i.parent_id = reach.id)"
        "INSERT INTO temp.fresh_closure SELECT root, id FROM reach;"
        "INSERT OR IGNORE INTO temp.fresh_grants (perm, metarole_id)"
        "  SELECT p.perm, c.root FROM temp.fresh_closure c JOIN metarole_perms p ON p.metarole_id = c.id"
        "  WHERE p.perm <> '*'"
        "  UNION SELECT '*', c.root FROM temp.fresh_closure c JOIN metaroles m ON m.id = c.id"
        "  WHERE m.code = '" ROLES_METAROLE_SUPER_ADMIN "';"
        "INSERT INTO temp.fresh_member_list SELECT group_id, group_concat(name, ',') FROM ("
        "  SELECT m.group_id, u.name FROM temp.dirty_groups d JOIN group_members m ON m.group_id = d.id"
        "  JOIN users u ON u.id = m.user_id WHERE " NAME_SAFE("u.name") " ORDER BY m.group_id, u.name) GROUP BY group_id;"
        "INSERT INTO temp.fresh_gid_list SELECT user_id, group_concat(gid, ',') FROM ("
        "  SELECT m.user_id, g.gid FROM temp.dirty_users d JOIN group_members m ON m.user_id = d.id"
        "  JOIN groups g ON g.id = m.group_id ORDER BY m.user_id, g.gid) GROUP BY user_id;"
        /* A group whose member list changed changes its bucket's lines too. */
        "INSERT OR IGNORE INTO temp.dirty_gid_buckets SELECT gid >> " BUCKET_SHIFT " FROM groups "
        "  WHERE id IN (SELECT id FROM temp.dirty_groups);";

/* After the lists are applied: group lines take their members from main.group_member_list. */
static const char compute_buckets_sql[] =
        "CREATE TEMP TABLE IF NOT EXISTS fresh_passwd_buckets (bucket INTEGER PRIMARY KEY, lines TEXT NOT NULL);"
        "CREATE TEMP TABLE IF NOT EXISTS fresh_group_buckets (bucket INTEGER PRIMARY KEY, lines TEXT NOT NULL);"
        "DELETE FROM temp.fresh_passwd_buckets;"
        "DELETE FROM temp.fresh_group_buckets;"
        "INSERT INTO temp.fresh_passwd_buckets SELECT bucket, group_concat(line, char(10)) FROM ("
        "  SELECT d.bucket, u.name || ':x:' || u.uid || ':' || u.gid || ':' || u.gecos || ':' || u.home || ':' || u.shell"
        "    AS line FROM temp.dirty_uid_buckets d JOIN users u"
        "    ON u.uid BETWEEN d.bucket << " BUCKET_SHIFT " AND ((d.bucket + 1) << " BUCKET_SHIFT ") - 1"
        "  WHERE " LINE_SAFE("u.name || u.gecos || u.home || u.shell") " ORDER BY u.uid) GROUP BY bucket;"
        "INSERT INTO temp.fresh_group_buckets SELECT bucket, group_concat(line, char(10)) FROM ("
        "  SELECT d.bucket, g.name || ':x:' || g.gid || ':' || coalesce(l.members, '') AS line"
        "    FROM temp.dirty_gid_buckets d JOIN groups g"
        "    ON g.gid BETWEEN d.bucket << " BUCKET_SHIFT " AND ((d.bucket + 1) << " BUCKET_SHIFT ") - 1"
        "    LEFT JOIN main.group_member_list l ON l.group_id = g.id"
        "  WHERE " NAME_SAFE("g.name") " ORDER BY g.gid) GROUP BY bucket;";

struct derived_table {
        const char *remove_sql;         /* rows that differ from (or are missing in) the fresh set */
        const char *add_sql;            /* fresh rows not yet there */
};

static const struct derived_table lists[] = {
        {
                "DELETE FROM main.metarole_closure WHERE NOT EXISTS (SELECT 1 FROM temp.fresh_closure f "
                "WHERE f.root = metarole_closure.root AND f.id = metarole_closure.id)",
                "INSERT OR IGNORE INTO main.metarole_closure SELECT root, id FROM temp.fresh_closure",
        },
        {
                "DELETE FROM main.metarole_grants WHERE NOT EXISTS (SELECT 1 FROM temp.fresh_grants f "
                "WHERE f.perm = metarole_grants.perm AND f.metarole_id = metarole_grants.metarole_id)",
                "INSERT OR IGNORE INTO main.metarole_grants SELECT perm, metarole_id FROM temp.fresh_grants",
        },
        /* Only the marked groups, users and buckets are compared: the others did not change. */
        {
                "DELETE FROM main.group_member_list WHERE group_id IN (SELECT id FROM temp.dirty_groups) "
                "AND NOT EXISTS (SELECT 1 FROM temp.fresh_member_list f "
                "WHERE f.group_id = group_member_list.group_id AND f.members = group_member_list.members)",
                "INSERT OR IGNORE INTO main.group_member_list SELECT group_id, members FROM temp.fresh_member_list",
        },
        {
                "DELETE FROM main.user_gid_list WHERE user_id IN (SELECT id FROM temp.dirty_users) "
                "AND NOT EXISTS (SELECT 1 FROM temp.fresh_gid_list f "
                "WHERE f.user_id = user_gid_list.user_id AND f.gids = user_gid_list.gids)",
                "INSERT OR IGNORE INTO main.user_gid_list SELECT user_id, gids FROM temp.fresh_gid_list",
        },
};

static const struct derived_table buckets[] = {
        {
                "DELETE FROM main.passwd_buckets WHERE bucket IN (SELECT bucket FROM temp.dirty_uid_buckets) "
                "AND NOT EXISTS (SELECT 1 FROM temp.fresh_passwd_buckets f "
                "WHERE f.bucket = passwd_buckets.bucket AND f.lines = passwd_buckets.lines)",
                "INSERT OR IGNORE INTO main.passwd_buckets SELECT bucket, lines FROM temp.fresh_passwd_buckets",
        },
        {
                "DELETE FROM main.group_buckets WHERE bucket IN (SELECT bucket FROM temp.dirty_gid_buckets) "
                "AND NOT EXISTS (SELECT 1 FROM temp.fresh_group_buckets f "
                "WHERE f.bucket = group_buckets.bucket AND f.lines = group_buckets.lines)",
                "INSERT OR IGNORE INTO main.group_buckets SELECT bucket, lines FROM temp.fresh_group_buckets",
        },
};

static int apply(struct roles_store *s, const struct derived_table *tables, size_t n, int *changed) {
        for (size_t i = 0; i < n; i++) {
                int r = store_exec(s, s->pub, tables[i].remove_sql, "");
                if (r < 0)
                        return r;
                *changed += r;
                if ((r = store_exec(s, s->pub, tables[i].add_sql, "")) < 0)
                        return r;
                *changed += r;
        }
        return 0;
}

int store_refresh_derived(struct roles_store *s) {
        int r, changed = 0;

        if (!(s->flags & ROLES_STORE_WRITE) || sqlite3_total_changes(s->pub) == s->derived_at)
                return 0;
        if ((r = store_exec_script(s, s->pub, compute_lists_sql)) < 0 ||
            (r = apply(s, lists, ROLES_N_ELEMENTS(lists), &changed)) < 0 ||
            (r = store_exec_script(s, s->pub, compute_buckets_sql)) < 0 ||
            (r = apply(s, buckets, ROLES_N_ELEMENTS(buckets), &changed)) < 0)
                return store_fail_prefixed(s, r, "computing derived tables: ");
        r = store_exec_script(s, s->pub,
                              "DELETE FROM temp.dirty_users; DELETE FROM temp.dirty_groups;"
                              "DELETE FROM temp.dirty_uid_buckets; DELETE FROM temp.dirty_gid_buckets;");
        if (r < 0)
                return r;
        s->derived_at = sqlite3_total_changes(s->pub);
        return changed;
}

int store_create_dirty_tables(struct roles_store *s) {
        return store_exec_script(s, s->pub,
                                 "CREATE TEMP TABLE dirty_users (id INTEGER PRIMARY KEY);"
                                 "CREATE TEMP TABLE dirty_groups (id INTEGER PRIMARY KEY);"
                                 "CREATE TEMP TABLE dirty_uid_buckets (bucket INTEGER PRIMARY KEY);"
                                 "CREATE TEMP TABLE dirty_gid_buckets (bucket INTEGER PRIMARY KEY);");
}

int store_mark_dirty(struct roles_store *s, enum store_dirty what, int64_t id) {
        static const char *const sql[] = {
                [DIRTY_USER] = "INSERT OR IGNORE INTO temp.dirty_users (id) VALUES (?1)",
                [DIRTY_GROUP] = "INSERT OR IGNORE INTO temp.dirty_groups (id) VALUES (?1)",
                [DIRTY_GROUP_MEMBERS] = "INSERT OR IGNORE INTO temp.dirty_users (id) "
                                        "SELECT user_id FROM group_members WHERE group_id = ?1",
                [DIRTY_USER_GROUPS] = "INSERT OR IGNORE INTO temp.dirty_groups (id) "
                                      "SELECT group_id FROM group_members WHERE user_id = ?1",
                [DIRTY_UID] = "INSERT OR IGNORE INTO temp.dirty_uid_buckets (bucket) VALUES (?1 >> " BUCKET_SHIFT ")",
                [DIRTY_GID] = "INSERT OR IGNORE INTO temp.dirty_gid_buckets (bucket) VALUES (?1 >> " BUCKET_SHIFT ")",
        };
        int r = store_exec(s, s->pub, sql[what], "i", id);
        return r < 0 ? r : 0;
}

int store_mark_all_dirty(struct roles_store *s) {
        return store_exec_script(s, s->pub,
                                 "INSERT OR IGNORE INTO temp.dirty_users (id) SELECT id FROM users;"
                                 "INSERT OR IGNORE INTO temp.dirty_groups (id) SELECT id FROM groups;"
                                 /* and rows whose user or group is gone (a hand edit) */
                                 "INSERT OR IGNORE INTO temp.dirty_users (id) SELECT user_id FROM main.user_gid_list;"
                                 "INSERT OR IGNORE INTO temp.dirty_groups (id) SELECT group_id FROM main.group_member_list;"
                                 "INSERT OR IGNORE INTO temp.dirty_uid_buckets SELECT DISTINCT uid >> " BUCKET_SHIFT " FROM users;"
                                 "INSERT OR IGNORE INTO temp.dirty_gid_buckets SELECT DISTINCT gid >> " BUCKET_SHIFT " FROM groups;"
                                 /* buckets whose every row is gone must be recomputed (to nothing) too */
                                 "INSERT OR IGNORE INTO temp.dirty_uid_buckets SELECT bucket FROM main.passwd_buckets;"
                                 "INSERT OR IGNORE INTO temp.dirty_gid_buckets SELECT bucket FROM main.group_buckets;");
}
