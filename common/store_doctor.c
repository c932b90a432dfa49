/* SPDX-License-Identifier: MIT */
/* `rolesctl doctor`: what a crash or a hand edit can leave behind, found and put right. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_accounts.h"
#include "store-internal.h"

struct doctor {
        struct roles_store *s;
        roles_report_fn report;
        void *userdata;
        int findings;
};

static void finding(struct doctor *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finding(struct doctor *d, const char *fmt, ...) {
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        d->findings++;
        d->report(d->userdata, line);
}

static int check_integrity(struct doctor *d, sqlite3 *db, const char *file) {
        sqlite3_stmt *st = store_stmt(d->s, db, "PRAGMA integrity_check");
        if (!st)
                return -EIO;
        int r;
        while ((r = store_step_row(d->s, st)) > 0) {
                const char *msg = (const char *) sqlite3_column_text(st, 0);
                if (msg && strcmp(msg, "ok") != 0)
                        finding(d, "%s: integrity: %.200s", file, msg);
        }
        sqlite3_reset(st);
        return r;
}

static int check_mode(struct doctor *d, const char *path, mode_t want) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return store_fail(d->s, -errno, "%s: %s", path, strerror(errno));
        if ((st.st_mode & 07777) == want)
                return 0;
        finding(d, "%s: mode %04o, set to %04o", path, st.st_mode & 07777, want);
        return chmod(path, want) < 0 ? store_fail(d->s, -errno, "%s: %s", path, strerror(errno)) : 0;
}

static int user_exists(struct roles_store *s, const char *uuid) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT 1 FROM users WHERE uuid = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        int r = store_step_row(s, st);
        sqlite3_reset(st);
        return r;
}

/* Rows in secrets.db or state.db whose uuid no user in the snapshot has. */
static int find_orphans(struct doctor *d, sqlite3 *db, const char *sql, const char *what) {
        struct roles_store *s = d->s;
        sqlite3_stmt *st = store_stmt(s, db, sql);
        if (!st)
                return -EIO;
        int r;
        while ((r = store_step_row(s, st)) > 0) {
                const char *uuid = (const char *) sqlite3_column_text(st, 0);
                if (!uuid)
                        continue;
                int e = user_exists(s, uuid);
                if (e < 0) {
                        r = e;
                        break;
                }
                if (e == 0) {
                        finding(d, "%s row of uuid %.40s belongs to no user: removed", what, uuid);
                        if ((r = store_queue_purge(s, uuid, PURGE_ALL)) < 0)
                                break;
                }
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

/* Users without a credentials row get an empty one: no password, so still no login. */
static int find_missing_secrets(struct doctor *d) {
        struct roles_store *s = d->s;
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT uuid, name FROM users ORDER BY uid");
        if (!st)
                return -EIO;
        int r;
        while ((r = store_step_row(s, st)) > 0) {
                char uuid[ROLES_UUID_LEN + 1], name[ROLES_NAME_MAX + 1], fs_uniquifier[ROLES_UUID_LEN + 1];
                if ((r = store_col_text(s, st, 0, uuid, sizeof(uuid))) < 0 ||
                    (r = store_col_text(s, st, 1, name, sizeof(name))) < 0)
                        break;
                if ((r = roles_uuid_new(fs_uniquifier)) < 0 || (r = store_before_keep(s, uuid)) < 0)
                        break;
                r = store_exec(s, s->sec,
                               "INSERT OR IGNORE INTO credentials (user_uuid, fs_uniquifier, created_at) VALUES (?1, ?2, ?3)",
                               "tti", uuid, fs_uniquifier, (int64_t) store_now(s));
                if (r < 0)
                        break;
                if (r > 0)
                        finding(d, "user %s had no secrets row: added an empty one (set a password)", name);
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

/* A user's name for a finding, from the snapshot: 1; 2 for a name readers refuse (named by
 * find_invalid_rows), given by the uuid; 0 when no user has the uuid (find_orphans's); -errno. */
static int user_name(struct roles_store *s, const char *uuid, char *buf, size_t size) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT name FROM users WHERE uuid = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        int r = store_step_row(s, st);
        if (r > 0) {
                const char *name = (const char *) sqlite3_column_text(st, 0);
                if (name && roles_name_valid(name))
                        snprintf(buf, size, "%s", name);
                else {
                        snprintf(buf, size, "of uuid %s", uuid);
                        r = 2;
                }
        }
        sqlite3_reset(st);
        return r;
}

/* What writes a good value in place of a damaged one: run 'rolesctl CMD NAME ARGS'THEN. */
struct secret_fix {
        const char *column, *cmd, *args, *then;
};
static const struct secret_fix secret_fixes[] = {
        { "password_hash", "user passwd", "", "" },
        { "fs_uniquifier", "user passwd", "", " (a new password draws a new one)" },
        { "email", "user mod", " --email ADDR", "" },
        { "totp_secret", "user totp enroll", " --replace", "" },
        { "code_hash", "user reset", "", " for a new code" },
        { "expires_at", "user reset", "", " for a new code" },
        { "used_at", "user reset", "", " for a new code" },
        { "password_changed_at", "user passwd", "", "" },
        { "must_change_password", "user passwd", "", "" },
        { "last_auth_sensitive_operation_at", "user passwd", "", "" },
        { "activated_at", "user passwd", "", "" },
};

/* A table of secrets.db as find_damaged_secrets reads it. */
struct secrets_table {
        const char *sql;        /* the reader's columns, then the user's uuid and a code's kind */
        int uuid_col;
        int (*check)(sqlite3_stmt *st, struct store_row_flaw *ret);
        const char *consequence;
        const char *row;                /* "": a code's kind names it */
        const struct secret_fix *fix;   /* NULL: secret_fixes, by the column */
};

/* One finding for a row a login refuses: the user, the column, what is wrong, what mends it. */
static int name_damaged_row(struct doctor *d, const char *uuid, const char *row, const struct store_row_flaw *flaw,
                            const struct secrets_table *table) {
        char name[ROLES_UUID_LEN + 16];
        int r = user_name(d->s, uuid, name, sizeof(name));
        if (r <= 0)
                return r;
        const struct secret_fix *fix = table->fix;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(secret_fixes) && !fix; i++)
                if (strcmp(secret_fixes[i].column, flaw->column) == 0)
                        fix = &secret_fixes[i];
        if (fix && r == 1)
                finding(d, "user %s: secrets.db: %s%s %s (%s): run 'rolesctl %s %s%s'%s", name, row, flaw->column,
                        flaw->what, table->consequence, fix->cmd, name, fix->args, fix->then);
        else
                finding(d, "user %s: secrets.db: %s%s %s (%s)", name, row, flaw->column, flaw->what,
                        table->consequence);
        return 0;
}

/* The row at st named if the login reader refuses it: 0, -errno. */
static int name_if_damaged(struct doctor *d, sqlite3_stmt *st, const struct secrets_table *table) {
        const char *uuid = (const char *) sqlite3_column_text(st, table->uuid_col);
        const char *kind = (const char *) sqlite3_column_text(st, table->uuid_col + 1);
        struct store_row_flaw flaw;
        char row[64];
        int r = table->check(st, &flaw);
        if (r != -EBADMSG)
                return r;
        if (!uuid)
                return 0;
        snprintf(row, sizeof(row), "%s", table->row);
        if (kind)
                snprintf(row, sizeof(row), "the %.20s code's ", kind);
        return name_damaged_row(d, uuid, row, &flaw, table);
}

/*
 * secrets.db rows a login refuses (fails closed on): written behind rolesctl's back, restored
 * from elsewhere, or damaged. The rule is the login reader's own (store_secret_row_check,
 * store_code_row_check, store_recovery_row_check). Only the user or an administrator can give the secret a right value:
 * named here with the command that writes one, not changed. A spent code is read by no login
 * that could use it (used_at as the reader reads it), and a password change spends them all:
 * not named.
 */
static int find_damaged_secrets(struct doctor *d) {
        static const struct secret_fix new_recovery_codes = {
                "", "user totp recovery-codes", "", " for new codes"
        };
        static const struct secrets_table tables[] = {
                { "SELECT " SQL_CREDENTIALS_READ ", user_uuid, NULL FROM credentials ORDER BY user_uuid", 8,
                  store_secret_row_check, "logins refuse it", "", NULL },
                { "SELECT " SQL_CODE_READ ", user_uuid, kind FROM codes "
                  "WHERE CAST(coalesce(used_at, 0) AS INTEGER) = 0 ORDER BY user_uuid, kind", 3, store_code_row_check,
                  "the code cannot be used", "", NULL },
                { "SELECT " SQL_RECOVERY_READ ", user_uuid, NULL FROM recovery_codes "
                  "WHERE CAST(coalesce(used_at, 0) AS INTEGER) = 0 ORDER BY user_uuid, code_hash", 2,
                  store_recovery_row_check, "the code cannot be used", "a recovery code's ", &new_recovery_codes },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(tables) - (d->s->sec_version < 3); i++) {
                sqlite3_stmt *st = store_stmt(d->s, d->s->sec, tables[i].sql);
                if (!st)
                        return -EIO;
                int r;
                while ((r = store_step_row(d->s, st)) > 0 && (r = name_if_damaged(d, st, &tables[i])) >= 0)
                        ;
                sqlite3_reset(st);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Staged snapshots and index files of writers that died: every writer removes them when it
 * begins (store_writer.c), this one included; doctor says how many there were. */
static void report_swept_stages(struct doctor *d) {
        unsigned n = d->s->stages_swept, n_index = d->s->index_stages_swept;
        if (n > 0)
                finding(d, "%u staged snapshot%s of interrupted writers: removed", n, n == 1 ? "" : "s");
        if (n_index > 0)
                finding(d, "%u NSS index file%s written aside by interrupted writers: removed", n_index,
                        n_index == 1 ? "" : "s");
        if (d->s->restore_stages_swept > 0)
                finding(d, "%u database cop%s of interrupted restores: removed", d->s->restore_stages_swept,
                        d->s->restore_stages_swept == 1 ? "y" : "ies");
        if (d->s->undone_serial)
                finding(d, "a change interrupted before it published snapshot %lld: its secrets.db part undone",
                        (long long) d->s->undone_serial);
        if (d->s->undo_left_out)
                finding(d, "%lld row%s of its before-images could not be put back (damaged, as only a hand edit "
                        "leaves them): %s", (long long) d->s->undo_left_out, d->s->undo_left_out == 1 ? "" : "s",
                        d->s->undo_left_out == 1 ? "its user goes without it" : "their users go without them");
}

/* Rows that refer to a user, group, role or metarole that is gone: only a hand edit (with
 * foreign keys off) leaves them, and ids are never reused, but they are still wrong. */
static int remove_orphans(struct doctor *d) {
        static const struct {
                const char *what;
                const char *sql;
        } orphans[] = {
                { "group memberships", "DELETE FROM group_members WHERE user_id NOT IN (SELECT id FROM users) "
                                       "OR group_id NOT IN (SELECT id FROM groups)" },
                { "role assignments", "DELETE FROM role_assignments WHERE user_id NOT IN (SELECT id FROM users) "
                                      "OR role_id NOT IN (SELECT id FROM roles)" },
                { "role permissions", "DELETE FROM role_perms WHERE role_id NOT IN (SELECT id FROM roles)" },
                { "metarole includes", "DELETE FROM metarole_includes WHERE parent_id NOT IN (SELECT id FROM metaroles) "
                                       "OR child_id NOT IN (SELECT id FROM metaroles)" },
                { "metarole permissions", "DELETE FROM metarole_perms WHERE metarole_id NOT IN (SELECT id FROM metaroles)" },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(orphans); i++) {
                int r = store_exec(d->s, d->s->pub, orphans[i].sql, "");
                if (r < 0)
                        return r;
                if (r > 0)
                        finding(d, "roles.db: %d %s referred to something that is gone: removed", r, orphans[i].what);
        }
        return 0;
}

/*
 * Rows every reader refuses: written behind rolesctl's back with a name that is not one (':', a
 * newline, upper case), an id outside the configured ranges, a field that would break a passwd
 * line. NSS does not serve them and logins refuse them, but nothing else says so. Only an
 * administrator knows what they were meant to be: named here, not changed.
 */
static int find_invalid_rows(struct doctor *d, sqlite3 *db) {
        static const struct {
                const char *what;
                const char *sql;
        } tables[] = {
                { "user", "SELECT " USER_COLUMNS " FROM users ORDER BY id" },
                { "group", "SELECT " GROUP_COLUMNS " FROM groups ORDER BY id" },
                { "role", "SELECT id, name FROM roles ORDER BY id" },
                { "metarole", "SELECT id, code FROM metaroles ORDER BY id" },
        };
        struct roles_store *s = d->s;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(tables); i++) {
                sqlite3_stmt *st = store_stmt(s, db, tables[i].sql);
                if (!st)
                        return -EIO;
                int r;
                while ((r = store_step_row(s, st)) > 0) {
                        struct roles_user u;
                        struct roles_group g;
                        const char *name = (const char *) sqlite3_column_text(st, 1);   /* a metarole's code */
                        int k = i == 0 ? store_read_user(s, st, &u)
                                : i == 1 ? store_read_group(s, st, &g)
                                : name && roles_name_valid(name) ? 0 : -EBADMSG;
                        if (k == -EBADMSG)
                                finding(d, "roles.db: %s row id %lld is not valid (its name, id or a field): NSS and "
                                        "logins ignore it; correct or remove it", tables[i].what,
                                        (long long) sqlite3_column_int64(st, 0));
                        else if (k < 0) {
                                r = k;
                                break;
                        }
                }
                sqlite3_reset(st);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What of NAME, ID (and GID, for a user) the host's own files hold, for a finding's words. */
static void clash_words(bool name, bool id, bool gid, char *buf, size_t size) {
        snprintf(buf, size, "%s%s%s%s%s", name ? "name" : "", name && (id || gid) ? ", " : "", id ? "id" : "",
                 id && gid ? ", " : "", gid ? "primary gid" : "");
}

/*
 * Users, groups and published metaroles that the host's own accounts hide (host_accounts.h):
 * written on another host, restored from a backup, or /etc changed since. NSS and logins ignore
 * them; only an administrator can say which one should give way. Named here, not changed.
 */
static int find_host_clashes(struct doctor *d, sqlite3 *db, const struct host_accounts *host) {
        struct roles_store *s = d->s;
        char what[64];
        int r;

        sqlite3_stmt *st = store_stmt(s, db, "SELECT " USER_COLUMNS " FROM users ORDER BY uid");
        if (!st)
                return -EIO;
        while ((r = store_step_row(s, st)) > 0) {
                struct roles_user u;
                if (store_read_user(s, st, &u) < 0)
                        continue;       /* named by find_invalid_rows */
                if (!host_accounts_user_clashes(host, u.name, strlen(u.name), u.uid, u.gid))
                        continue;
                clash_words(host_accounts_has_user(host, u.name), host_accounts_has_uid(host, u.uid),
                            host_accounts_has_gid(host, u.gid), what, sizeof(what));
                finding(d, "user %s (uid %u, gid %u): the host's own accounts hold its %s: NSS and logins ignore "
                        "it; rename or remove one of them", u.name, u.uid, u.gid, what);
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        st = store_stmt(s, db, "SELECT 'group', name, gid FROM groups UNION ALL "
                               "SELECT 'metarole', code, gid FROM metaroles WHERE gid IS NOT NULL ORDER BY 3");
        if (!st)
                return -EIO;
        while ((r = store_step_row(s, st)) > 0) {
                const char *kind = (const char *) sqlite3_column_text(st, 0);
                const char *name = (const char *) sqlite3_column_text(st, 1);
                int64_t gid = sqlite3_column_int64(st, 2);
                /* Rows readers refuse anyway are named by find_invalid_rows. */
                if (!kind || !name || !roles_name_valid(name) || gid < s->cfg.gid_min || gid > s->cfg.gid_max)
                        continue;
                if (!host_accounts_group_clashes(host, name, strlen(name), (uint32_t) gid))
                        continue;
                clash_words(host_accounts_has_group(host, name), host_accounts_has_gid(host, (uint32_t) gid), false,
                            what, sizeof(what));
                finding(d, "%s %s (gid %lld): the host's own groups hold its %s: NSS and logins ignore it; rename "
                        "or remove one of them", kind, name, (long long) gid, what);
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

/*
 * The configured uid (group: gid) range against the ids the host hands out itself: useradd's
 * (login.defs) and the subordinate ranges. Allocation skips every id already in use, but useradd
 * and usermod --add-subuids know nothing of roles: the next local account or container could
 * take an id a roles user has. Named here; only an administrator can move a range.
 */
static void check_range(struct doctor *d, const struct host_accounts *host, bool group) {
        const char *id = group ? "gid" : "uid";
        uint32_t min = group ? d->s->cfg.gid_min : d->s->cfg.uid_min, max = group ? d->s->cfg.gid_max : d->s->cfg.uid_max;
        struct host_id_range login;
        if (host_accounts_login_range(host, group, &login) && login.first <= max && login.last >= min)
                finding(d, "the configured %s range %u-%u overlaps login.defs' %s (%u-%u): useradd hands out the "
                        "same %ss; move %s_min and %s_max out of it", id, min, max, login.owner, login.first,
                        login.last, id, id, id);

        size_t n, overlaps = 0;
        const struct host_id_range *ranges = host_accounts_subid_ranges(host, group, &n), *first = NULL;
        for (size_t i = 0; i < n; i++)
                if (ranges[i].first <= max && ranges[i].last >= min) {
                        first = first ? first : &ranges[i];
                        overlaps++;
                }
        if (first)
                finding(d, "the configured %s range %u-%u overlaps %zu subordinate range%s of %s (the first %u-%u): "
                        "their owners' containers use those %ss; move %s_min and %s_max out of them", id, min, max,
                        overlaps, overlaps == 1 ? "" : "s", group ? host->subgid.path : host->subuid.path,
                        first->first, first->last, id, id, id);
}

/* What the host's own accounts and ids say against roles.db and the configuration. */
static int check_host(struct doctor *d) {
        const struct host_accounts *host;
        int r = store_host(d->s, &host);
        if (r < 0)
                return r;
        check_range(d, host, false);
        check_range(d, host, true);
        return find_host_clashes(d, d->s->pub, host);
}

/*
 * roles.nss must be what roles.db compiles to: a writer killed between publishing roles.db and
 * the index, a roles.db restored or edited by hand, or a damaged file leave NSS serving
 * something else. Doctor compiles it anew in any case (installed at the commit) and says why
 * when the installed one was not right.
 */
static int check_index(struct doctor *d) {
        const char *why = NULL;
        int r = store_index_compare(d->s, &why);
        if (r < 0)
                return r;
        if (why)
                finding(d, "roles.nss: %s: compiled anew", why);
        return roles_writer_rebuild_index(store_writer(d->s));
}

int roles_writer_doctor(struct roles_writer *w, roles_report_fn report, void *userdata) {
        struct roles_store *s = store_of_writer(w);
        struct doctor d = { s, report, userdata, 0 };
        int r;

        if ((r = check_integrity(&d, s->pub, "roles.db")) < 0 ||
            (r = check_integrity(&d, s->sec, "secrets.db")) < 0 ||
            (r = check_integrity(&d, s->state, "state.db")) < 0)
                return r;
        if ((r = check_mode(&d, s->cfg.public_db, 0644)) < 0 ||
            (r = check_mode(&d, s->cfg.secrets_db, 0600)) < 0 ||
            (r = check_mode(&d, s->cfg.state_db, 0600)) < 0)
                return r;
        if ((r = find_orphans(&d, s->sec, "SELECT user_uuid FROM credentials UNION SELECT user_uuid FROM codes "
                              "UNION SELECT user_uuid FROM recovery_codes",
                              "secrets.db")) < 0 ||
            (r = find_orphans(&d, s->state, "SELECT user_uuid FROM tally UNION SELECT user_uuid FROM tracking "
                              "UNION SELECT user_uuid FROM totp_used", "state.db")) < 0)
                return r;
        report_swept_stages(&d);
        if ((r = find_missing_secrets(&d)) < 0 || (r = find_damaged_secrets(&d)) < 0 ||
            (r = remove_orphans(&d)) < 0 || (r = find_invalid_rows(&d, s->pub)) < 0 || (r = check_host(&d)) < 0)
                return r;
        /* roles.db edited by hand (not through rolesctl) leaves the derived tables stale: rebuild
         * them, and publish only if that changed anything. */
        bool changed_before = sqlite3_total_changes(s->pub) != s->pub_changes_base;
        s->derived_at = -1;
        if ((r = store_refresh_derived(s)) < 0)
                return r;
        if (r > 0)
                finding(&d, "roles.db: %d derived rows were out of date (edited by hand?): rebuilt", r);
        else if (!changed_before)
                s->pub_changes_base = sqlite3_total_changes(s->pub);   /* nothing to publish */
        if ((r = check_index(&d)) < 0)
                return r;
        if (d.findings > 0 && (r = roles_audit(store_writer(s), "doctor", s->cfg.public_db, "findings=%d", d.findings)) < 0)
                return r;
        return d.findings;
}

int store_doctor_check_file(struct roles_store *s, sqlite3 *db, enum store_file which, roles_report_fn report,
                            void *userdata) {
        static const char *const names[] = { [STORE_PUBLIC] = "roles.db", [STORE_SECRETS] = "secrets.db",
                                             [STORE_STATE] = "state.db" };
        struct doctor d = { s, report, userdata, 0 };
        const struct host_accounts *host;
        int r = check_integrity(&d, db, names[which]);
        /* The rows of a damaged file are not worth reading. */
        if (r < 0 || d.findings > 0 || which != STORE_PUBLIC)
                return r < 0 ? r : d.findings;
        if ((r = find_invalid_rows(&d, db)) < 0 || (r = store_host(s, &host)) < 0 ||
            (r = find_host_clashes(&d, db, host)) < 0)
                return r;
        return d.findings;
}
