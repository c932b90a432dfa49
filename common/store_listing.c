/* SPDX-License-Identifier: MIT */
/* The listings behind `rolesctl ... list|show`: rows of named columns, formatted by the caller. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"
#define YESNO(expr) "CASE WHEN " expr " THEN 'yes' ELSE 'no' END"
/* Words for a person in a column of data (ROLES_CELL_NOTE): a BLOB, which such a column
 * (listing_kinds) holds for nothing else, so roles_snapshot_list knows it by its type. */
#define NOTE(words) "CAST('" words "' AS BLOB)"
/* The SQL twin of store_state.c's locked_at(), with now as ?2: -1 is a lock with no end. */
#define LOCKED(col) "(" col " < 0 OR " col " > ?2)"
/* A tally's lock, as user show and user locked both show it. A lock with no end has no time to
 * show (it is not 1969-12-31T23:59:59Z), and one that ran out is no lock: locked_until is a time
 * only while a lock runs. */
#define TALLY_LOCK(t) \
        YESNO(LOCKED(t ".locked_until")) " AS locked, " \
        "CASE WHEN " t ".locked_until < 0 THEN " NOTE("until an administrator unlocks") " " \
        "WHEN " t ".locked_until > ?2 THEN " T(t ".locked_until") " END AS locked_until"

enum which_db { PUB, SEC, STATE };

/* A user's secrets, read from CREDENTIALS and CODES (the tables, or what SQL_SECRETS_SEEN makes
 * of them), with RECOVERY the count of unused recovery codes. */
#define USER_SECRETS(credentials, codes, recovery) \
        "SELECT " YESNO("password_hash IS NOT NULL") " AS password, " T("password_changed_at") " AS password_changed, " \
        YESNO("must_change_password") " AS must_change_password, " \
        T("activated_at") " AS activated_by_first_password, email, " \
        YESNO("totp_secret IS NOT NULL") " AS totp, " recovery " AS recovery_codes_left, " \
        T("last_auth_sensitive_operation_at") " AS last_sensitive_operation, " \
        "(SELECT group_concat(kind, ',') FROM " codes " c WHERE c.user_uuid = ?1 " \
        " AND c.used_at IS NULL AND c.expires_at > ?2) AS pending_codes " \
        "FROM " credentials " WHERE user_uuid = ?1"

/* By the file's version: read from a version 1 secrets.db as it is, through the before-images
 * from version 2, with recovery codes from version 3 (below it, none). */
static const char *const user_secrets_sql[3] = {
        USER_SECRETS("credentials", "codes", "0"),
        USER_SECRETS(SQL_SECRETS_SEEN("credentials"), SQL_SECRETS_SEEN("codes"), "0"),
        USER_SECRETS(SQL_SECRETS_SEEN("credentials"), SQL_SECRETS_SEEN("codes"),
                     "(SELECT count(*) FROM " SQL_SECRETS_SEEN("recovery_codes") " rc WHERE rc.user_uuid = ?1 "
                     "AND " SQL_RECOVERY_USABLE ")"),
};

/* ?1 is the listing's argument (NULL for "all"), ?2 the current time where a query needs it,
 * ?3 to ?6 the filter's (roles_snapshot_list_filtered); sql NULL: the query depends on the file's
 * version (user_secrets_sql). by_user: the first column is a user's uuid, which the rows show as
 * the user's name and uid (state.db has no names, and a connection may not ATTACH roles.db). */
static const struct {
        enum which_db db;
        const char *sql;
        bool by_user;
} listings[_ROLES_LIST_MAX] = {
        [ROLES_LIST_USERS] = { .db = PUB, .sql =
                "SELECT name, uid, gid, gecos AS full_name, home, shell, " YESNO("enabled") " AS enabled, "
                T("created_at") " AS created, " T("activated_at") " AS activated, " T("expires_at") " AS expires, uuid "
                "FROM users WHERE ?1 IS NULL OR name = ?1 ORDER BY uid" },
        [ROLES_LIST_USER_GROUPS] = { .db = PUB, .sql =
                "SELECT g.name AS group_name, g.gid, 'primary' AS membership FROM groups g JOIN users u ON u.gid = g.gid "
                "WHERE u.name = ?1 UNION ALL "
                "SELECT g.name, g.gid, 'member' FROM groups g JOIN group_members m ON m.group_id = g.id "
                "JOIN users u ON u.id = m.user_id WHERE u.name = ?1 UNION ALL "
                /* What NSS serves too: published metaroles held now (see roles_nss_user_gids). */
                "SELECT DISTINCT mr.code, mr.gid, 'metarole' FROM users u JOIN role_assignments a ON a.user_id = u.id "
                "JOIN roles r ON r.id = a.role_id JOIN metarole_closure c ON c.root = r.metarole_id "
                "JOIN metaroles mr ON mr.id = c.id WHERE u.name = ?1 AND mr.gid IS NOT NULL "
                "AND " SQL_ASSIGNMENT_CURRENT " AND " SQL_USER_ACTIVE " "
                "ORDER BY 3 DESC, 1" },
        [ROLES_LIST_USER_ROLES] = { .db = PUB, .sql =
                "SELECT r.name AS role, m.code AS metarole, " T("a.until") " AS until, "
                "CASE WHEN a.until IS NOT NULL AND a.until <= ?2 THEN 'ended' ELSE 'current' END AS status "
                "FROM role_assignments a JOIN roles r ON r.id = a.role_id JOIN metaroles m ON m.id = r.metarole_id "
                "JOIN users u ON u.id = a.user_id WHERE u.name = ?1 ORDER BY r.name" },
        [ROLES_LIST_USER_SECRETS] = { .db = SEC, .sql = NULL },
        [ROLES_LIST_USER_STATE] = { .db = STATE, .sql =
                "SELECT coalesce(t.failures, 0) AS failures, " TALLY_LOCK("t") ", "
                T("t.last_failure_at") " AS last_failure, "
                T("k.current_login_at") " AS current_login, k.current_login_ip AS current_login_ip, "
                T("k.last_login_at") " AS last_login, k.last_login_ip AS last_login_ip, "
                "coalesce(k.login_count, 0) AS login_count "
                "FROM (SELECT ?1 AS uuid) x LEFT JOIN tally t ON t.user_uuid = x.uuid "
                "LEFT JOIN tracking k ON k.user_uuid = x.uuid" },
        [ROLES_LIST_GROUPS] = { .db = PUB, .sql =
                "SELECT name, gid, description, (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS members, "
                "uuid FROM groups g WHERE ?1 IS NULL OR name = ?1 ORDER BY gid" },
        [ROLES_LIST_GROUP_MEMBERS] = { .db = PUB, .sql =
                "SELECT u.name AS user, u.uid FROM users u JOIN group_members m ON m.user_id = u.id "
                "JOIN groups g ON g.id = m.group_id WHERE g.name = ?1 ORDER BY u.name" },
        [ROLES_LIST_METAROLES] = { .db = PUB, .sql =
                "SELECT code, name, description, gid AS published_gid, " YESNO("builtin") " AS builtin, "
                "(SELECT group_concat(c.code, ',') FROM metarole_includes i JOIN metaroles c ON c.id = i.child_id "
                " WHERE i.parent_id = m.id) AS includes "
                "FROM metaroles m WHERE ?1 IS NULL OR code = ?1 ORDER BY id" },
        [ROLES_LIST_METAROLE_INCLUDES] = { .db = PUB, .sql =
                "SELECT c.code FROM metarole_includes i JOIN metaroles p ON p.id = i.parent_id "
                "JOIN metaroles c ON c.id = i.child_id WHERE p.code = ?1 ORDER BY c.code" },
        [ROLES_LIST_METAROLE_PERMS] = { .db = PUB, .sql =
                "SELECT p.perm AS permission FROM metarole_perms p JOIN metaroles m ON m.id = p.metarole_id "
                "WHERE m.code = ?1 ORDER BY p.perm" },
        [ROLES_LIST_METAROLE_ROLES] = { .db = PUB, .sql =
                "SELECT r.name AS role FROM roles r JOIN metaroles m ON m.id = r.metarole_id WHERE m.code = ?1 ORDER BY r.name" },
        [ROLES_LIST_ROLES] = { .db = PUB, .sql =
                "SELECT r.name, m.code AS metarole, r.description, "
                "(SELECT count(*) FROM role_assignments a WHERE a.role_id = r.id) AS users "
                "FROM roles r JOIN metaroles m ON m.id = r.metarole_id WHERE ?1 IS NULL OR r.name = ?1 ORDER BY r.name" },
        [ROLES_LIST_ROLE_PERMS] = { .db = PUB, .sql =
                "SELECT p.perm AS permission, CASE p.disabled WHEN 0 THEN 'enabled' ELSE 'disabled' END AS status "
                "FROM role_perms p JOIN roles r ON r.id = p.role_id WHERE r.name = ?1 ORDER BY p.perm" },
        [ROLES_LIST_ROLE_USERS] = { .db = PUB, .sql =
                "SELECT u.name AS user, " T("a.until") " AS until, "
                "CASE WHEN a.until IS NOT NULL AND a.until <= ?2 THEN 'ended' ELSE 'current' END AS status "
                "FROM role_assignments a JOIN users u ON u.id = a.user_id JOIN roles r ON r.id = a.role_id "
                "WHERE r.name = ?1 ORDER BY u.name" },
        [ROLES_LIST_AUDIT] = { .db = SEC, .sql =
                "SELECT id, " T("at") " AS at, actor, action, target, detail FROM audit ORDER BY id" },
        /* ?3: refusals only; ?4: from this time on. Oldest first, as the change audit. */
        [ROLES_LIST_LOGINS] = { .db = STATE, .sql =
                "SELECT id, " T("at") " AS at, user, service, rhost, result, detail FROM login_audit "
                "WHERE (?1 IS NULL OR user = ?1) AND (NOT ?3 OR result IN ('failure', 'refused')) AND at >= ?4 ORDER BY id" },
        /* ?5: fail_interval; ?6: stale tallies too. Without ?6, the live ones: those the next
         * failure adds to, under store_state.c's FRESH (a lock in force, or no lock and a first
         * failure within fail_interval). */
        [ROLES_LIST_LOCKED] = { .db = STATE, .sql =
                "SELECT t.user_uuid, t.failures, " T("t.first_failure_at") " AS first_failure, "
                T("t.last_failure_at") " AS last_failure, " TALLY_LOCK("t") " FROM tally t "
                "WHERE ?6 OR " LOCKED("t.locked_until") " OR (t.locked_until IS NULL AND t.first_failure_at > ?2 - ?5) "
                "ORDER BY t.last_failure_at, t.user_uuid", .by_user = true },
};

/*
 * The columns that are not plain text and numbers, each of one kind in every listing (a field
 * has one JSON type wherever it appears): ROLES_CELL_BOOL, a YESNO column JSON shows as true and
 * false; ROLES_CELL_LIST, a group_concat column JSON shows as an array of strings;
 * ROLES_CELL_NOTE, a column whose BLOB values (NOTE) are words for a person, null for JSON.
 */
struct column_kind {
        const char *name;
        enum roles_cell kind;
};
static const struct column_kind tally_kinds[] = {
        { "locked", ROLES_CELL_BOOL }, { "locked_until", ROLES_CELL_NOTE }, { NULL, ROLES_CELL_TEXT } };
static const struct column_kind *const listing_kinds[_ROLES_LIST_MAX] = {
        [ROLES_LIST_USERS] = (const struct column_kind[]) { { "enabled", ROLES_CELL_BOOL }, { NULL, ROLES_CELL_TEXT } },
        [ROLES_LIST_USER_SECRETS] = (const struct column_kind[]) {
                { "password", ROLES_CELL_BOOL }, { "must_change_password", ROLES_CELL_BOOL }, { "totp", ROLES_CELL_BOOL },
                { "pending_codes", ROLES_CELL_LIST }, { NULL, ROLES_CELL_TEXT } },
        [ROLES_LIST_USER_STATE] = tally_kinds,
        [ROLES_LIST_LOCKED] = tally_kinds,
        [ROLES_LIST_METAROLES] = (const struct column_kind[]) {
                { "builtin", ROLES_CELL_BOOL }, { "includes", ROLES_CELL_LIST }, { NULL, ROLES_CELL_TEXT } },
};

int roles_snapshot_list(struct roles_snapshot *snap, enum roles_listing what, const char *arg, roles_row_fn fn, void *userdata) {
        const struct roles_list_filter filter = { .arg = arg };
        return roles_snapshot_list_filtered(snap, what, &filter, fn, userdata);
}

int roles_snapshot_list_filtered(struct roles_snapshot *snap, enum roles_listing what,
                                 const struct roles_list_filter *filter, roles_row_fn fn, void *userdata) {
        struct roles_store *s = store_of_snapshot(snap);
        const char *arg = filter->arg;
        if ((unsigned) what >= _ROLES_LIST_MAX)
                return store_fail(s, -EINVAL, "internal error: unknown listing");
        int r = listings[what].db == PUB ? store_hook_refresh_derived(s) : store_require_secrets(s);
        if (r < 0)
                return r;
        sqlite3 *db = listings[what].db == PUB ? s->pub : listings[what].db == SEC ? s->sec : s->state;
        const char *sql = listings[what].sql ? listings[what].sql :
                          user_secrets_sql[s->sec_version >= 3 ? 2 : s->sec_version >= 2 ? 1 : 0];
        sqlite3_stmt *st = store_stmt(s, db, sql);
        if (!st)
                return -EIO;
        int n_params = sqlite3_bind_parameter_count(st);
        if (n_params >= 1)
                sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        if (n_params >= 2)
                sqlite3_bind_int64(st, 2, (int64_t) store_now(s));
        if (n_params >= 4) {
                sqlite3_bind_int(st, 3, filter->only_failures);
                sqlite3_bind_int64(st, 4, filter->since);
        }
        if (n_params >= 6) {
                sqlite3_bind_int64(st, 5, (int64_t) s->cfg.fail_interval);
                sqlite3_bind_int(st, 6, filter->all);
        }
        if (listings[what].db == SEC && (r = store_bind_serial(s, st)) < 0)
                return r;

        /* by_user: the SQL's column 0 (the uuid) becomes the row's columns 0 and 1 (name and uid),
         * and its column i the row's i + 1. */
        const size_t shift = listings[what].by_user;
        size_t n = (size_t) sqlite3_column_count(st);
        if (n + shift > ROLES_LISTING_COLUMNS_MAX) {
                sqlite3_reset(st);
                return store_fail(s, -E2BIG, "internal error: listing too wide");
        }
        const char *names[ROLES_LISTING_COLUMNS_MAX] = { "name", "uid" }, *values[ROLES_LISTING_COLUMNS_MAX];
        enum roles_cell declared[ROLES_LISTING_COLUMNS_MAX], kinds[ROLES_LISTING_COLUMNS_MAX];
        for (size_t i = shift; i < n; i++) {
                names[i + shift] = sqlite3_column_name(st, (int) i);
                declared[i + shift] = ROLES_CELL_TEXT;
                for (const struct column_kind *k = listing_kinds[what]; k && k->name; k++)
                        if (strcmp(names[i + shift], k->name) == 0)
                                declared[i + shift] = k->kind;
        }

        int rows = 0;
        struct roles_user u;
        char uid[16];
        while ((r = store_step_row(s, st)) > 0) {
                if (listings[what].by_user) {
                        const char *uuid = (const char *) sqlite3_column_text(st, 0);
                        /* A row of a uuid no user has is left out: doctor removes those. */
                        r = uuid && roles_uuid_valid(uuid) ? roles_user_by_uuid(snap, uuid, &u) : -ENOENT;
                        if (r == -ENOENT)
                                continue;
                        if (r < 0)
                                break;
                        snprintf(uid, sizeof(uid), "%u", u.uid);
                        values[0] = u.name;
                        values[1] = uid;
                        kinds[0] = ROLES_CELL_TEXT;
                        kinds[1] = ROLES_CELL_NUMBER;
                }
                for (size_t i = shift; i < n; i++) {
                        int type = sqlite3_column_type(st, (int) i);
                        enum roles_cell d = declared[i + shift];
                        kinds[i + shift] = d == ROLES_CELL_BOOL || d == ROLES_CELL_LIST ? d
                                         : type == SQLITE_INTEGER || type == SQLITE_FLOAT ? ROLES_CELL_NUMBER
                                         : type == SQLITE_BLOB && d == ROLES_CELL_NOTE ? ROLES_CELL_NOTE
                                         : ROLES_CELL_TEXT;
                        values[i + shift] = (const char *) sqlite3_column_text(st, (int) i);
                }
                r = fn(userdata, n + shift, names, values, kinds);
                if (r < 0)
                        break;
                rows++;
        }
        sqlite3_reset(st);
        return r < 0 ? r : rows;
}
