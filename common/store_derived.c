/* SPDX-License-Identifier: MIT */
/*
 * Derived tables of roles.db: facts computed from the admin tables when a change is committed,
 * so that the login path answers with a few index probes. Nothing here depends on the clock;
 * `until` and expiry are judged at lookup time.
 *
 *   metarole_closure (root, id)       every metarole each metarole reaches through includes
 *                                     (itself included): who holds what, and who is in a
 *                                     published metarole group (roles.nss is compiled from it)
 *   metarole_grants  (perm, metarole) every permission each metarole holds, itself or through
 *                                     includes, and '*' when it reaches super-admin: roles_check
 *
 * Both are small and recomputed whole, aside in a temporary table, and applied as a difference,
 * so the count of changed rows says whether anything really changed (doctor reports stale rows
 * that way). What NSS serves is compiled into roles.nss instead (store_index.c).
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
        "  WHERE m.code = '" ROLES_METAROLE_SUPER_ADMIN "';";

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

        if (!s->writer || sqlite3_total_changes(s->pub) == s->derived_at)
                return 0;
        if ((r = store_exec_script(s, s->pub, compute_sql)) < 0 || (r = apply(s, lists, ROLES_N_ELEMENTS(lists), &changed)) < 0)
                return store_fail_prefixed(s, r, "computing derived tables: ");
        s->derived_at = sqlite3_total_changes(s->pub);
        return changed;
}
