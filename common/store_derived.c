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
 *   group_member_list (group, "a,b")  an ordinary group's member names: getgrnam, getgrent
 *   user_gid_list     (user, "1,2")   the gids of a user's ordinary groups: initgroups
 *
 * The metarole tables are small and recomputed whole; the two lists are recomputed only for
 * the groups and users a change touched (marked in temp.dirty_groups / temp.dirty_users), so
 * an admin change on a 100k-user snapshot stays cheap.
 *
 * Each is computed aside in a temporary table and applied as a difference, so the count of
 * changed rows says whether anything really changed (doctor reports stale rows that way).
 */
#include <errno.h>

#include "store-internal.h"

/* UNION (not UNION ALL) on (root, id) visits each metarole once per root, so even a cycle
 * written behind our back terminates. */
static const char compute_sql[] =
        "CREATE TEMP TABLE IF NOT EXISTS fresh_closure (root INTEGER NOT NULL, id INTEGER NOT NULL,"
        "  PRIMARY KEY (root, id)) WITHOUT ROWID;"
        "CREATE TEMP TABLE IF NOT EXISTS fresh_grants (perm TEXT NOT NULL, metarole_id INTEGER NOT NULL,"
        "  PRIMARY KEY (perm, metarole_id)) WITHOUT ROWID;"
        "DELETE FROM temp.fresh_closure;"
        "DELETE FROM temp.fresh_grants;"
        "WITH RECURSIVE reach(root, id) AS ("
        "  SELECT id, id FROM metaroles"
        "  UNION SELECT reach.root, i.child_id FROM metarole_includes i JOIN reach ON i.parent_id = reach.id)"
        "INSERT INTO temp.fresh_closure SELECT root, id FROM reach;"
        "INSERT OR IGNORE INTO temp.fresh_grants (perm, metarole_id)"
        "  SELECT p.perm, c.root FROM temp.fresh_closure c JOIN metarole_perms p ON p.metarole_id = c.id"
        "  WHERE p.perm <> '*'"
        "  UNION SELECT '*', c.root FROM temp.fresh_closure c JOIN metaroles m ON m.id = c.id"
        "  WHERE m.code = '" ROLES_METAROLE_SUPER_ADMIN "';"
        "CREATE TEMP TABLE IF NOT EXISTS fresh_member_list (group_id INTEGER PRIMARY KEY, members TEXT NOT NULL);"
        "CREATE TEMP TABLE IF NOT EXISTS fresh_gid_list (user_id INTEGER PRIMARY KEY, gids TEXT NOT NULL);"
        "DELETE FROM temp.fresh_member_list;"
        "DELETE FROM temp.fresh_gid_list;"
        "INSERT INTO temp.fresh_member_list SELECT group_id, group_concat(name, ',') FROM ("
        "  SELECT m.group_id, u.name FROM temp.dirty_groups d JOIN group_members m ON m.group_id = d.id"
        "  JOIN users u ON u.id = m.user_id ORDER BY m.group_id, u.name) GROUP BY group_id;"
        "INSERT INTO temp.fresh_gid_list SELECT user_id, group_concat(gid, ',') FROM ("
        "  SELECT m.user_id, g.gid FROM temp.dirty_users d JOIN group_members m ON m.user_id = d.id"
        "  JOIN groups g ON g.id = m.group_id ORDER BY m.user_id, g.gid) GROUP BY user_id;";

static const struct {
        const char *remove_sql;
        const char *add_sql;
} tables[] = {
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
        /* Only the marked groups and users are compared: the others did not change. */
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

int store_mark_dirty(struct roles_store *s, enum store_dirty what, int64_t id) {
        static const char *const sql[] = {
                [DIRTY_USER] = "INSERT OR IGNORE INTO temp.dirty_users (id) VALUES (?1)",
                [DIRTY_GROUP] = "INSERT OR IGNORE INTO temp.dirty_groups (id) VALUES (?1)",
                [DIRTY_GROUP_MEMBERS] = "INSERT OR IGNORE INTO temp.dirty_users (id) "
                                        "SELECT user_id FROM group_members WHERE group_id = ?1",
                [DIRTY_USER_GROUPS] = "INSERT OR IGNORE INTO temp.dirty_groups (id) "
                                      "SELECT group_id FROM group_members WHERE user_id = ?1",
        };
        int r = store_exec(s, s->pub, sql[what], "i", id);
        return r < 0 ? r : 0;
}

int store_mark_all_dirty(struct roles_store *s) {
        return store_exec_script(s, s->pub,
                                 "INSERT OR IGNORE INTO temp.dirty_users (id) SELECT id FROM users;"
                                 "INSERT OR IGNORE INTO temp.dirty_groups (id) SELECT id FROM groups;");
}

int store_refresh_derived(struct roles_store *s) {
        int r, changed = 0;

        if (!(s->flags & ROLES_STORE_WRITE) || sqlite3_total_changes(s->pub) == s->derived_at)
                return 0;
        r = store_exec_script(s, s->pub, compute_sql);
        if (r < 0)
                return store_fail_prefixed(s, r, "computing derived tables: ");
        for (size_t i = 0; i < ROLES_N_ELEMENTS(tables); i++) {
                if ((r = store_exec(s, s->pub, tables[i].remove_sql, "")) < 0)
                        return r;
                changed += r;
                if ((r = store_exec(s, s->pub, tables[i].add_sql, "")) < 0)
                        return r;
                changed += r;
        }
        r = store_exec_script(s, s->pub, "DELETE FROM temp.dirty_users; DELETE FROM temp.dirty_groups;");
        if (r < 0)
                return r;
        s->derived_at = sqlite3_total_changes(s->pub);
        return changed;
}
