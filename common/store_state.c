/* SPDX-License-Identifier: MIT */
/*
 * state.db: what logins on this host write. Every change is one short write transaction, so
 * two logins racing each other count (and claim TOTP steps) exactly once each.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "store-internal.h"

/*
 * Ending a transaction must not need memory: a ROLLBACK that could not be parsed would leave
 * state.db write-locked, and every other login unable to count a failure, for as long as the
 * PAM handle keeps the store (an sshd session). So both ends are prepared (and cached) before
 * the transaction begins.
 */
static const char commit_sql[] = "COMMIT", rollback_sql[] = "ROLLBACK";

static int state_begin(struct roles_store *s, const char *sql) {
        if (!store_stmt(s, s->state, commit_sql) || !store_stmt(s, s->state, rollback_sql))
                return -EIO;
        return store_exec_script(s, s->state, sql);
}

int roles_state_begin(struct roles_secrets *sec) {
        struct roles_store *s = store_of_secrets(sec);
        return state_begin(s, "BEGIN IMMEDIATE");
}

int roles_state_begin_exclusive(struct roles_secrets *sec) {
        struct roles_store *s = store_of_secrets(sec);
        return state_begin(s, "BEGIN EXCLUSIVE");
}

/* A commit that fails is rolled back: the transaction never outlives the call. */
int roles_state_end(struct roles_secrets *sec, bool commit) {
        struct roles_store *s = store_of_secrets(sec);
        int r = 0;
        if (sqlite3_get_autocommit(s->state))
                return store_fail(s, -EINVAL, "internal error: no state.db transaction");
        if (commit && (r = store_exec(s, s->state, commit_sql, "")) >= 0)
                return 0;
        (void) store_exec(s, s->state, rollback_sql, "");
        return r;
}

/* A one-value query of state.db (a pragma). No answer returns -EIO itself, not store_fail's
 * result: the compiler cannot see that that is negative, and would take a 0 from it for a value
 * left unset in every caller (-Wmaybe-uninitialized at -O3). */
static int state_int(struct roles_store *s, const char *sql, int64_t *ret) {
        sqlite3_stmt *st = store_stmt(s, s->state, sql);
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        if (r > 0)
                *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (r == 0) {
                (void) store_fail(s, -EIO, "%s: no answer", sql);
                return -EIO;
        }
        return r < 0 ? r : 0;
}

int roles_state_flush(struct roles_secrets *sec) {
        struct roles_store *s = store_of_secrets(sec);
        int r = 0;
        if (sqlite3_get_autocommit(s->state))
                return store_fail(s, -EINVAL, "internal error: no state.db transaction");
        bool wal = false;
        if ((r = store_journal_is_wal(s, s->state, "PRAGMA journal_mode", &wal)) < 0)
                return r;
        /* A commit also writes the file's header (page 1: a change counter, or WAL's commit
         * frame): rewriting user_version as it is makes the header one of the pages written. */
        int64_t version;
        char set_version[64];
        if ((r = state_int(s, "PRAGMA user_version", &version)) < 0)
                return r;
        snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %lld", (long long) version);
        if ((r = store_exec_script(s, s->state, set_version)) < 0)
                return r;
        if (wal) {
                int rc = sqlite3_db_cacheflush(s->state);
                return rc == SQLITE_OK ? 0 : store_sql_fail(s, s->state, rc, "state.db");
        }
        int64_t pages, page_size;
        if ((r = state_int(s, "PRAGMA page_count", &pages)) < 0 ||
            (r = state_int(s, "PRAGMA page_size", &page_size)) < 0)
                return r;
        struct stat file;
        struct statvfs fs;
        if (stat(s->cfg.state_db, &file) < 0 || statvfs(s->cfg.state_db, &fs) < 0)
                return store_fail(s, -errno, "%s: %s", s->cfg.state_db, strerror(errno));
        /* Room for the growth and a block the filesystem may need to map it (root's blocks: PAM
         * runs as root). */
        int64_t grow = pages * page_size - (int64_t) file.st_size;
        if (grow > 0 && (int64_t) fs.f_bfree * (int64_t) fs.f_frsize < grow + (int64_t) fs.f_frsize)
                return store_fail(s, -ENOSPC, "%s: no room for %lld more bytes", s->cfg.state_db, (long long) grow);
        return 0;
}

static bool locked_at(int64_t locked_until, time_t now) {
        return locked_until < 0 || locked_until > (int64_t) now;
}

int roles_state_tally_get(const struct roles_secrets *sec, const char *uuid, time_t now, struct roles_tally *ret) {
        struct roles_store *s = store_of_secrets(sec);
        struct roles_tally t = { 0 };
        int r;
        sqlite3_stmt *st = store_stmt(s, s->state, "SELECT failures, coalesce(locked_until, 0) FROM tally WHERE user_uuid = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        r = store_step_row(s, st);
        if (r > 0) {
                t.failures = (unsigned) sqlite3_column_int64(st, 0);
                t.locked_until = sqlite3_column_int64(st, 1);
                if (t.locked_until != 0 && !locked_at(t.locked_until, now))
                        t.locked_until = 0;     /* the lock has run out */
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

static int tally_fail(struct roles_store *s, const char *uuid, time_t now, unsigned deny, unsigned fail_interval,
                      unsigned unlock_time, struct roles_tally *ret) {
        int r;
        /* One statement does the read-modify-write, so parallel failures each count once. A count
         * starts afresh when its first failure is older than fail_interval, or when the lock it
         * led to has run out (the full deny budget comes back with the unlock). */
#define FRESH "((locked_until IS NOT NULL AND locked_until >= 0 AND locked_until <= ?2) OR " \
              "(locked_until IS NULL AND first_failure_at <= ?2 - ?3))"
        r = store_exec(s, s->state,
                       "INSERT INTO tally (user_uuid, failures, first_failure_at, last_failure_at, locked_until) "
                       "VALUES (?1, 1, ?2, ?2, NULL) ON CONFLICT (user_uuid) DO UPDATE SET "
                       "failures = CASE WHEN " FRESH " THEN 1 ELSE failures + 1 END, "
                       "first_failure_at = CASE WHEN " FRESH " THEN ?2 ELSE first_failure_at END, "
                       "locked_until = CASE WHEN " FRESH " THEN NULL ELSE locked_until END, "
                       "last_failure_at = ?2",
                       "tii", uuid, (int64_t) now, (int64_t) fail_interval);
#undef FRESH
        if (r < 0)
                return r;
        if (deny > 0) {
                r = store_exec(s, s->state,
                               "UPDATE tally SET locked_until = ?3 WHERE user_uuid = ?1 AND failures >= ?2 "
                               "AND (locked_until IS NULL OR (locked_until >= 0 AND locked_until <= ?4))",
                               "tiii", uuid, (int64_t) deny, unlock_time ? (int64_t) now + unlock_time : (int64_t) -1,
                               (int64_t) now);
                if (r < 0)
                        return r;
        }
        return ret ? roles_state_tally_get(store_secrets(s), uuid, now, ret) : 0;
}

int roles_state_tally_fail(struct roles_secrets *sec, const char *uuid, time_t now, unsigned deny, unsigned fail_interval,
                           unsigned unlock_time, struct roles_tally *ret) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        /* The count and the lock it may set go together: inside the caller's transaction, or
         * in one of their own. */
        bool own = sqlite3_get_autocommit(s->state);
        if (own && (r = roles_state_begin(store_secrets(s))) < 0)
                return r;
        r = tally_fail(s, uuid, now, deny, fail_interval, unlock_time, ret);
        if (own) {
                int k = roles_state_end(store_secrets(s), r >= 0);
                if (r >= 0)
                        r = k;
        }
        return r;
}

int roles_state_tally_clear_seen(struct roles_secrets *sec, const char *uuid, const struct roles_tally *seen, time_t now) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_exec(s, s->state,
                       "DELETE FROM tally WHERE user_uuid = ?1 AND failures = ?2 "
                       "AND (locked_until IS NULL OR (locked_until >= 0 AND locked_until <= ?3))",
                       "tii", uuid, (int64_t) seen->failures, (int64_t) now);
        return r < 0 ? r : r > 0;
}

int roles_state_tally_reset(struct roles_secrets *sec, const char *uuid) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_exec(s, s->state, "DELETE FROM tally WHERE user_uuid = ?1", "t", uuid);
        return r < 0 ? r : 0;
}

int roles_state_fleet_lock(struct roles_secrets *sec, const char *uuid, int64_t locked_until, time_t now) {
        struct roles_store *s = store_of_secrets(sec);
        if (locked_until == 0)
                return roles_state_tally_reset(sec, uuid);
        /* A lock that has run out is no news, and written it would restart the count the host
         * keeps (FRESH above): only one in force is. A count the host had goes on under it; a
         * lock of the host's own that ends later, or never, stays. */
        if (!locked_at(locked_until, now))
                return 0;
        int r = store_exec(s, s->state,
                           "INSERT INTO tally (user_uuid, failures, first_failure_at, last_failure_at, locked_until) "
                           "VALUES (?1, 0, ?2, ?2, ?3) ON CONFLICT (user_uuid) DO UPDATE SET locked_until = ?3 "
                           "WHERE coalesce(locked_until, 0) >= 0 AND (?3 < 0 OR coalesce(locked_until, 0) < ?3)",
                           "tii", uuid, (int64_t) now, locked_until);
        return r < 0 ? r : 0;
}

int roles_state_totp_last(const struct roles_secrets *sec, const char *uuid, int64_t *ret_step) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        sqlite3_stmt *st = store_stmt(s, s->state, "SELECT last_step FROM totp_used WHERE user_uuid = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        r = store_step_row(s, st);
        int64_t step = r > 0 ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret_step = step;
        return 0;
}

int roles_state_totp_claim(struct roles_secrets *sec, const char *uuid, int64_t step) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_exec(s, s->state,
                       "INSERT INTO totp_used (user_uuid, last_step) VALUES (?1, ?2) ON CONFLICT (user_uuid) "
                       "DO UPDATE SET last_step = excluded.last_step WHERE last_step < excluded.last_step",
                       "ti", uuid, step);
        if (r == 0)
                return store_fail(s, -EALREADY, "this code was already used");
        return r < 0 ? r : 0;
}

int roles_state_track_login(struct roles_secrets *sec, const char *uuid, time_t now, const char *ip) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_exec(s, s->state,
                       /* As Flask-Security's trackable: the last login is the previous current one, or
                        * this one the first time. */
                       "INSERT INTO tracking (user_uuid, last_login_at, last_login_ip, current_login_at, current_login_ip, "
                       "login_count) VALUES (?1, ?2, ?3, ?2, ?3, 1) ON CONFLICT (user_uuid) DO UPDATE SET "
                       "last_login_at = coalesce(current_login_at, ?2), last_login_ip = coalesce(current_login_ip, ?3), "
                       "current_login_at = ?2, current_login_ip = ?3, login_count = login_count + 1",
                       "tit", uuid, (int64_t) now, ip && *ip ? ip : NULL);
        return r < 0 ? r : 0;
}

/*
 * The login audit keeps its newest login_audit_keep rows: every refusal writes one, unknown
 * users' too, so without a bound anyone who can reach sshd could grow state.db until the disk is
 * full (and then, failing closed, nobody could log in). Ids only grow, so the oldest go by id
 * range, in batches, inside the transaction that wrote the row: a rehearsal of a failure's
 * record prunes (and rolls back) exactly what the record itself would.
 */
#define AUDIT_PRUNE_EVERY 256

int roles_state_audit_login(struct roles_secrets *sec, const char *user, const char *service, const char *rhost,
                            const char *result, const char *detail) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_exec(s, s->state,
                       "INSERT INTO login_audit (at, user, service, rhost, result, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       "itttt" "t", (int64_t) store_now(s), user ? user : "", service ? service : "",
                       rhost ? rhost : "", result, detail ? detail : "");
        if (r < 0)
                return r;
        int64_t id = sqlite3_last_insert_rowid(s->state), keep = s->cfg.login_audit_keep;
        if (keep > 0 && id > keep && id % AUDIT_PRUNE_EVERY == 0)
                r = store_exec(s, s->state, "DELETE FROM login_audit WHERE id <= ?1", "i", id - keep);
        return r < 0 ? r : 0;
}

/*
 * The bound: only when the id range could hold more than outbox_max rows (two lookups of the
 * primary key) are the rows counted. Then the oldest successes go, as many as are over: they
 * only say who came in when (the tracking fields). Failures (the fleet's lockout counts them),
 * TOTP steps (a code spent must be spent everywhere) and rehashes never go: past the bound the
 * outbox grows with them alone, which the lockout itself limits per account.
 */
int roles_state_outbox_add(struct roles_secrets *sec, const char *kind, const char *uuid, const char *service,
                           const char *rhost, int64_t step, const char *detail) {
        struct roles_store *s = store_of_secrets(sec);
        int64_t first = 0, rows = 0, max = s->cfg.outbox_max;
        int r;
        if (!s->cfg.source[0] || s->state_version < 2)
                return 0;
        r = store_exec(s, s->state,
                       "INSERT INTO outbox (at, kind, user_uuid, service, rhost, step, detail) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, -1), ?7)",
                       "itttt" "it", (int64_t) store_now(s), kind, uuid, service ? service : "", rhost ? rhost : "",
                       step, detail ? detail : "");
        if (r < 0)
                return r;
        int64_t id = sqlite3_last_insert_rowid(s->state);
        if ((r = state_int(s, "SELECT coalesce(min(id), 0) FROM outbox", &first)) < 0)
                return r;
        if (id - first + 1 <= max)
                return 0;
        if ((r = state_int(s, "SELECT count(*) FROM outbox", &rows)) < 0)
                return r;
        if (rows <= max)
                return 0;
        r = store_exec(s, s->state,
                       "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind = 'success' ORDER BY id LIMIT ?1)",
                       "i", rows - max);
        return r < 0 ? r : 0;
}

int roles_state_previous_login(const struct roles_secrets *sec, const char *uuid, int64_t *ret_at, char *ret_ip, size_t ip_size) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        sqlite3_stmt *st = store_stmt(s, s->state,
                "SELECT current_login_at, coalesce(current_login_ip, '') FROM tracking "
                "WHERE user_uuid = ?1 AND current_login_at IS NOT NULL");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        r = store_step_row(s, st);
        if (r > 0) {
                *ret_at = sqlite3_column_int64(st, 0);
                r = store_col_text(s, st, 1, ret_ip, ip_size);
        } else if (r == 0)
                r = -ENOENT;
        sqlite3_reset(st);
        return r;
}
