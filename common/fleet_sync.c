/* SPDX-License-Identifier: MIT */
/*
 * A host's files brought to the fleet's latest serial (FLEET.md, "Read path"), by roles-agent
 * and by rolesctl for its copy.
 *
 * Everything is read in one REPEATABLE READ READ ONLY transaction, a consistent cut of the
 * fleet (a hot standby serves it as well as the primary), and applied inside one writer change
 * of the files: the lock, one transaction per file, before-images of the secrets it changes,
 * derived tables and the NSS index brought up for what changed, the same publish as any other
 * change. So a host is on the old serial or the new one, never between, whatever kills the
 * agent; a change the next round finds half-applied was never committed.
 *
 *   delta  the changesets since the host's serial, applied in order (SQLite's
 *          sqlite3changeset_apply). A row a host changed itself (a login's rehash, a code it
 *          spent) gives way to the fleet's; a row a change expects and cannot find means the
 *          files are not what the serial says: the round starts again as a full copy.
 *   full   every table emptied and copied whole (a new host, one too far behind, or a delta
 *          that did not apply).
 * Then the checks every reader makes of the files: quick_check, and on a full copy the rows
 * readers would ignore (logged, not refused: NSS and logins skip them as they would anywhere)
 * and the names the host's own accounts hide. The serial never goes back.
 *
 * The fleet's facts (fleet_init.c: its lockout, the TOTP steps used) come in the same
 * transaction, those tagged with a serial in (installed, new], and go into state.db, where logins
 * read them (apply_facts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"


struct sync {
        struct roles_fleet *f;
        const struct roles_config *cfg;
        unsigned flags;
        struct roles_store *s;
        struct roles_fleet_sync_result *res;
        PGresult *locks, *steps;        /* the facts to install: (uuid, locked_until), (uuid, step) */
};

static bool wants(const struct sync *y, enum fleet_stream stream) {
        if (y->flags & ROLES_FLEET_SYNC_ADMIN)
                return true;
        return stream == FLEET_PUBLIC || (stream == FLEET_SECRETS && !y->cfg->host_secrets_none);
}

static int conflict(void *ctx, int type, sqlite3_changeset_iter *it) {
        (void) ctx;
        const char *table;
        int ncol, op, indirect;
        sqlite3changeset_op(it, &table, &ncol, &op, &indirect);
        switch (type) {
        case SQLITE_CHANGESET_DATA:             /* the row differs here: the fleet's wins */
        case SQLITE_CHANGESET_CONFLICT:
                return SQLITE_CHANGESET_REPLACE;
        case SQLITE_CHANGESET_NOTFOUND:         /* gone already (a cascade): a deletion is done */
                return op == SQLITE_DELETE ? SQLITE_CHANGESET_OMIT : SQLITE_CHANGESET_ABORT;
        default:
                return SQLITE_CHANGESET_ABORT;
        }
}

/* What a change means for a host beyond its rows: a deleted user's secrets and state go (as
 * the writer purges them after publishing), a new TOTP secret voids the last step used, and
 * every user whose secrets it touches keeps a before-image. */
static int note_change(struct sync *y, enum fleet_stream stream, const void *cs, int n) {
        struct roles_store *s = y->s;
        sqlite3_changeset_iter *it = NULL;
        int totp_col = -1, r = 0;
        if (sqlite3changeset_start(&it, n, (void *) cs) != SQLITE_OK)
                return store_fail(s, -ENOMEM, "reading a change");
        while (r >= 0 && sqlite3changeset_next(it) == SQLITE_ROW) {
                const char *table;
                int ncol, op, indirect;
                sqlite3_value *v = NULL;
                sqlite3changeset_op(it, &table, &ncol, &op, &indirect);
                /* sqlite3changeset_apply writes any table of the file it is given: the host's
                 * meta, derived tables, before-images. The fleet's own, of this stream, only. */
                const struct fleet_table *t = fleet_find_table(table);
                if (!t || t->stream != stream) {
                        r = store_fail(s, -EPROTO, "the change names a table the fleet does not copy there: %.64s", table);
                        break;
                }
                if (stream == FLEET_PUBLIC) {
                        if (op == SQLITE_DELETE && strcmp(table, "users") == 0 &&
                            sqlite3changeset_old(it, 1, &v) == SQLITE_OK && v && sqlite3_value_type(v) == SQLITE_TEXT)
                                r = store_queue_purge(s, (const char *) sqlite3_value_text(v), PURGE_ALL);
                        continue;
                }
                if (stream != FLEET_SECRETS)
                        continue;
                /* user_uuid leads every secrets table's key */
                if ((op == SQLITE_INSERT ? sqlite3changeset_new(it, 0, &v) : sqlite3changeset_old(it, 0, &v)) != SQLITE_OK ||
                    !v || sqlite3_value_type(v) != SQLITE_TEXT) {
                        r = store_fail(s, -EPROTO, "%s: a change without its user", table);
                        break;
                }
                const char *uuid = (const char *) sqlite3_value_text(v);
                r = store_before_keep(s, uuid);
                if (r < 0 || strcmp(table, "credentials") != 0 || op == SQLITE_DELETE)
                        continue;
                if (totp_col < 0) {
                        struct fleet_columns c;
                        if ((r = fleet_columns(s, s->sec, "credentials", &c)) < 0)
                                break;
                        for (int i = 0; i < c.n; i++)
                                if (strcmp(c.name[i], "totp_secret") == 0)
                                        totp_col = i;
                }
                sqlite3_value *secret = NULL;
                if (totp_col >= 0 && totp_col < ncol && sqlite3changeset_new(it, totp_col, &secret) == SQLITE_OK && secret)
                        r = store_queue_purge(s, uuid, PURGE_TOTP);
        }
        sqlite3changeset_finalize(it);
        return r < 0 ? r : 0;
}

static int apply_one(struct sync *y, enum fleet_stream stream, const void *cs, int n) {
        struct roles_store *s = y->s;
        if (n == 0)
                return 0;
        int r = note_change(y, stream, cs, n);
        if (r < 0)
                return r;
        sqlite3 *db = stream == FLEET_PUBLIC ? s->pub : s->sec;
        int rc = sqlite3changeset_apply(db, n, (void *) cs, NULL, conflict, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, -ESTALE, "a change does not apply to these files (%s)", sqlite3_errstr(rc));
        return 0;
}

/* The changes after the host's serial, in order; -ESTALE (copy the tables) when they do not
 * apply. */
static int apply_delta(struct sync *y, int64_t to) {
        struct roles_fleet *f = y->f;
        PGresult *res = NULL;
        char from[24], upto[24];
        snprintf(from, sizeof(from), "%lld", (long long) y->res->from);
        snprintf(upto, sizeof(upto), "%lld", (long long) to);
        const char *p[] = { from, upto };
        const char *sql = y->flags & ROLES_FLEET_SYNC_ADMIN
                ? "SELECT serial, public_cs, secrets_cs, audit_cs FROM " FLEET_SCHEMA ".changes WHERE serial > $1 AND serial <= $2 ORDER BY serial"
                : !y->cfg->host_secrets_none
                ? "SELECT c.serial, c.public_cs, s.secrets_cs FROM " FLEET_SCHEMA ".host_changes c JOIN " FLEET_SCHEMA ".host_secret_changes s "
                  "USING (serial) WHERE serial > $1 AND serial <= $2 ORDER BY serial"
                : "SELECT serial, public_cs FROM " FLEET_SCHEMA ".host_changes WHERE serial > $1 AND serial <= $2 ORDER BY serial";
        res = PQexecParams(f->conn, sql, 2, NULL, p, NULL, NULL, 1);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                return fleet_pg_fail(f, res, "the account server");
        int rows = PQntuples(res), r = 0;
        size_t bytes = 0;
        /* Every serial in between is there, in order (binary int8: big-endian), or the log was
         * cut: copy the tables. A delta larger than a full copy would be is one too: applied
         * row by row, with triggers, it costs more. */
        if ((int64_t) rows != to - y->res->from)
                r = -ESTALE;
        for (int i = 0; r >= 0 && i < rows; i++) {
                const unsigned char *b = (const unsigned char *) PQgetvalue(res, i, 0);
                uint64_t serial = 0;
                for (int k = 0; k < 8 && PQgetlength(res, i, 0) == 8; k++)
                        serial = serial << 8 | b[k];
                if ((int64_t) serial != y->res->from + 1 + i)
                        r = -ESTALE;
                for (int k = 1; k < PQnfields(res); k++)
                        bytes += (size_t) PQgetlength(res, i, k);
        }
        if (bytes > FLEET_DELTA_MAX_BYTES)
                r = -ESTALE;
        for (int i = 0; r >= 0 && i < rows; i++)
                for (int k = 1; r >= 0 && k < PQnfields(res); k++)
                        if (!PQgetisnull(res, i, k))
                                r = apply_one(y, (enum fleet_stream) (k - 1), PQgetvalue(res, i, k), PQgetlength(res, i, k));
        if (r >= 0)
                y->res->changes = (size_t) rows;
        PQclear(res);
        return r;
}

static int copy_all(struct sync *y) {
        struct roles_store *s = y->s;
        /* Before-images of every secret there was, and every user named: a copy cut short
         * between the two commits is undone whole (store_before.c). */
        static const char keep_sql[] =
                "INSERT OR IGNORE INTO before_users SELECT user_uuid FROM credentials UNION SELECT user_uuid FROM codes "
                "UNION SELECT user_uuid FROM recovery_codes;"
                "INSERT INTO before_credentials SELECT * FROM credentials;"
                "INSERT INTO before_codes SELECT * FROM codes;"
                "INSERT INTO before_recovery_codes SELECT * FROM recovery_codes;";
        static const char name_new_sql[] =
                "INSERT OR IGNORE INTO before_users SELECT user_uuid FROM credentials UNION SELECT user_uuid FROM codes "
                "UNION SELECT user_uuid FROM recovery_codes;";
        int r = store_exec_script(s, s->sec, keep_sql);
        for (size_t i = 0; r >= 0 && i < fleet_n_tables; i++) {
                const struct fleet_table *t = &fleet_tables[i];
                sqlite3 *db = t->stream == FLEET_PUBLIC ? s->pub : s->sec;
                if (wants(y, t->stream))
                        r = fleet_copy_table_in(y->f, s, db, t->name, NULL);
                else if (t->stream == FLEET_SECRETS)    /* host_secrets = none: none kept */
                        r = store_exec_script(s, db, strcmp(t->name, "credentials") == 0 ? "DELETE FROM credentials"
                                              : strcmp(t->name, "codes") == 0 ? "DELETE FROM codes" : "DELETE FROM recovery_codes");
                if (r < 0 && !y->f->err[0])
                        fleet_fail(y->f, r, "%s", store_error(s));
        }
        if (r >= 0)
                r = store_exec_script(s, s->sec, name_new_sql);
        y->res->full = true;
        return r;
}

/*
 * The users whose secrets a claim changed in (installed, to] (fleet_init.c, `claimed`): their rows
 * of every secrets table copied whole as the primary has them at to, over what the delta left,
 * each user's before-image kept first as any change of their secrets keeps it. A full copy has
 * them already; a host without the secrets has none to change.
 */
static int apply_claimed(struct sync *y, int64_t to) {
        static const char *const tables[] = { "credentials", "codes", "recovery_codes" };
        PGresult *res = NULL;
        char from[24], upto[24];
        if (y->res->full || !wants(y, FLEET_SECRETS))
                return 0;
        snprintf(from, sizeof(from), "%lld", (long long) y->res->from);
        snprintf(upto, sizeof(upto), "%lld", (long long) to);
        const char *p[] = { from, upto };
        int r = fleet_exec(y->f, &res, "SELECT user_uuid FROM " FLEET_SCHEMA ".claimed WHERE serial > $1::bigint "
                           "AND serial <= $2::bigint", 2, p);
        for (int i = 0; r > 0 && i < PQntuples(res); i++) {
                const char *uuid = PQgetvalue(res, i, 0);
                if (store_before_keep(y->s, uuid) < 0) {
                        r = fleet_fail(y->f, -EIO, "%s", store_error(y->s));
                        break;
                }
                for (size_t k = 0; r >= 0 && k < ROLES_N_ELEMENTS(tables); k++)
                        r = fleet_copy_table_in(y->f, y->s, y->s->sec, tables[k], uuid);
                if (r >= 0)
                        r = 1;
        }
        PQclear(res);
        return r < 0 ? r : 0;
}

/*
 * The facts that changed in (installed, to], of users the fleet has at to (a deleted user's go
 * with the rest of their state). A full copy takes every lock and step too, both monotonic, so
 * harmless to take again, and the way a host that had no secrets before, or lost its state.db,
 * gets them; but an unlock only since the installed serial: one the host installed already
 * would clear the failures it has counted since.
 */
static int read_facts(struct sync *y, int64_t to) {
        char from[24], upto[24];
        snprintf(from, sizeof(from), "%lld", (long long) y->res->from);
        snprintf(upto, sizeof(upto), "%lld", (long long) to);
        const char *p[] = { from, upto, y->res->full ? "true" : "false" };
        int r = fleet_exec(y->f, &y->locks, "SELECT l.user_uuid, coalesce(l.locked_until, 0) FROM " FLEET_SCHEMA ".fleet_locks l "
                           "JOIN " FLEET_SCHEMA ".users u ON u.uuid = l.user_uuid WHERE l.serial <= $2::bigint "
                           "AND (l.serial > $1::bigint OR ($3::boolean AND l.locked_until IS NOT NULL))", 3, p);
        if (r < 0 || y->cfg->host_secrets_none)         /* the steps go with the secrets */
                return r;
        return fleet_exec(y->f, &y->steps, "SELECT t.user_uuid, t.last_step FROM " FLEET_SCHEMA ".totp_steps t "
                          "JOIN " FLEET_SCHEMA ".users u ON u.uuid = t.user_uuid WHERE t.serial <= $2::bigint "
                          "AND (t.serial > $1::bigint OR $3::boolean)", 3, p);
}

/*
 * The facts into state.db, through the code logins use, in one transaction of state.db's. Before
 * roles.db's commit: a round killed after this and before that installed the facts but not the
 * serial, and the next round reads them again and applies them again; each is harmless twice
 * (a lock and a step only raise what is there, an unlock clears it again: at worst failures
 * counted in between, only after such a crash). A roles.db commit that then fails leaves facts
 * the fleet published already: true, only early. After it, a fact could be lost to a crash
 * between the two commits. The steps go again after the commit when the change purged TOTP
 * steps (a new secret: store_writer.c purges after publishing): a step used since is one of the
 * new secret's.
 */
static int apply_facts(struct sync *y, bool steps_only) {
        struct roles_secrets *sec = store_secrets(y->s);
        int nlocks = y->locks && !steps_only ? PQntuples(y->locks) : 0, nsteps = y->steps ? PQntuples(y->steps) : 0;
        if (nlocks + nsteps == 0)
                return 0;
        time_t now = store_now(y->s);
        int r = roles_state_begin(sec);
        for (int i = 0; r >= 0 && i < nlocks; i++)
                r = roles_state_fleet_lock(sec, PQgetvalue(y->locks, i, 0), strtoll(PQgetvalue(y->locks, i, 1), NULL, 10), now);
        for (int i = 0; r >= 0 && i < nsteps; i++)
                if ((r = roles_state_totp_claim(sec, PQgetvalue(y->steps, i, 0), strtoll(PQgetvalue(y->steps, i, 1), NULL, 10))) == -EALREADY)
                        r = 0;          /* this host has that step, or a later one */
        if (r >= 0 && (r = roles_state_end(sec, true)) >= 0 && !steps_only) {
                y->res->locks = (size_t) nlocks;
                y->res->steps = (size_t) nsteps;
        }
        if (r >= 0)
                return 0;
        if (!sqlite3_get_autocommit(y->s->state))
                (void) roles_state_end(sec, false);
        return r;
}

/* Which streams the files were last brought up with ("all", "none", "admin"): a host whose
 * host_secrets changed holds secrets it must not, or lacks those it should, and no delta of later
 * changes would right that; a full copy does. */
static const char *streams_kept(const struct sync *y) {
        return y->flags & ROLES_FLEET_SYNC_ADMIN ? "admin" : y->cfg->host_secrets_none ? "none" : "all";
}

static int streams_changed(struct sync *y, bool *ret) {
        sqlite3_stmt *st = store_stmt(y->s, y->s->pub, "SELECT value FROM meta WHERE key = 'fleet_streams'");
        if (!st)
                return -EIO;
        int r = store_step_row(y->s, st);
        const char *v = r > 0 ? (const char *) sqlite3_column_text(st, 0) : NULL;
        *ret = !v || strcmp(v, streams_kept(y)) != 0;
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

static void count_finding(void *userdata, const char *line) {
        struct sync *y = userdata;
        if (y->res->findings++ == 0)
                snprintf(y->res->finding, sizeof(y->res->finding), "%s", line);
}

static int check(struct sync *y) {
        struct roles_store *s = y->s;
        static const char *const sql[] = { "PRAGMA quick_check" };
        for (int k = 0; k < 2; k++) {
                sqlite3 *db = k == 0 ? s->pub : s->sec;
                sqlite3_stmt *st = store_stmt(s, db, sql[0]);
                if (!st)
                        return -EIO;
                int r = store_step_row(s, st);
                bool ok = r > 0 && sqlite3_column_text(st, 0) && strcmp((const char *) sqlite3_column_text(st, 0), "ok") == 0;
                sqlite3_reset(st);
                if (r < 0)
                        return r;
                if (!ok)
                        return store_fail(s, -EPROTO, "%s fails its quick_check after the change", k == 0 ? "roles.db" : "secrets.db");
        }
        if (!y->res->full)
                return 0;
        int r = store_doctor_check_file(s, s->pub, STORE_PUBLIC, count_finding, y);
        return r < 0 ? r : 0;
}

static int refuse(struct sync *y, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct sync *y, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(y->res->refused, sizeof(y->res->refused), fmt, ap);
        va_end(ap);
        return fleet_fail(y->f, r, "%s", y->res->refused);
}

/* One attempt: 1 installed, 0 nothing new, -ESTALE from a delta that did not apply (try a full
 * copy), other -errno. */
static int sync_once(struct sync *y, bool full) {
        struct roles_fleet *f = y->f;
        struct roles_writer *w = NULL;
        PGresult *res = NULL;
        char err[512];
        int64_t to;
        int r;

        if ((r = roles_writer_open(y->cfg, ROLES_WRITER_CREATE, &w, err, sizeof(err))) < 0)
                return fleet_fail(f, r, "%s", err);
        y->s = store_of_writer(w);
        roles_writer_set_actor(w, y->flags & ROLES_FLEET_SYNC_ADMIN ? "rolesctl (fleet copy)" : "roles-agent");
        if ((r = store_fleet_serial(y->s, &y->res->from)) < 0) {
                r = fleet_fail(f, r, "%s", store_error(y->s));
                goto out;
        }
        if ((r = fleet_exec(f, NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL)) < 0 ||
            (r = fleet_exec(f, NULL, "SET LOCAL bytea_output = hex", 0, NULL)) < 0 ||
            (r = fleet_exec(f, &res, "SELECT serial, public_version, secrets_version, coalesce((to_jsonb(f) ->> "
                            "'fleet_version')::integer, 1) FROM " FLEET_SCHEMA ".fleet f WHERE id = 1", 0, NULL)) < 0)
                goto out;
        if (r == 0) {
                r = refuse(y, -EPROTO, "the account server has no fleet serial: run 'rolesctl init' with its source");
                goto out;
        }
        to = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        int pub_version = atoi(PQgetvalue(res, 0, 1)), sec_version = atoi(PQgetvalue(res, 0, 2));
        y->res->to = y->res->from;
        /* An older fleet: its tables, not the facts and claims it has none of (fleet.h). */
        y->res->fleet_version = atoi(PQgetvalue(res, 0, 3));
        bool older = y->res->fleet_version < ROLES_FLEET_VERSION;
        if (y->res->fleet_version > ROLES_FLEET_VERSION) {
                r = refuse(y, -EPROTO, "refused serial %lld: the fleet's schema is version %d, newer than this build's "
                           "(%d): upgrade roles on this host first", (long long) to, y->res->fleet_version,
                           ROLES_FLEET_VERSION);
                goto out;
        }
        if (pub_version != ROLES_SCHEMA_PUBLIC || sec_version != ROLES_SCHEMA_SECRETS) {
                r = refuse(y, -EPROTO, "refused serial %lld: the fleet's schema (roles.db %d, secrets.db %d) is %s this "
                           "build's (%d, %d): %s", (long long) to, pub_version, sec_version,
                           pub_version > ROLES_SCHEMA_PUBLIC || sec_version > ROLES_SCHEMA_SECRETS ? "newer than" : "not",
                           ROLES_SCHEMA_PUBLIC, ROLES_SCHEMA_SECRETS, "upgrade roles on the hosts first");
                goto out;
        }
        if (to < y->res->from) {
                r = refuse(y, -ESTALE, "refused serial %lld: below the installed %lld (a primary restored from an older "
                           "backup, or a standby behind): nothing installed", (long long) to, (long long) y->res->from);
                goto out;
        }
        bool other_streams;
        if ((r = streams_changed(y, &other_streams)) < 0)
                goto out;
        if (to == y->res->from && !other_streams) {
                /* Nothing new. Committing no change still compiles the NSS index anew if it is not
                 * roles.db's serial (store_writer.c): a round killed between roles.db's commit and
                 * the index's rename left it a serial behind, and NSS would serve that until the
                 * next change. The read of the fleet ends first: a compile must not hold it open
                 * (an upgrade waits for it). */
                if ((r = fleet_exec(f, NULL, "COMMIT", 0, NULL)) >= 0 && (r = roles_writer_commit(w)) < 0)
                        fleet_fail(f, r, "%s", roles_writer_error(w));
                goto out;
        }
        if (!full && !other_streams && y->res->from > 0 && to - y->res->from <= FLEET_LOG_KEEP) {
                r = apply_delta(y, to);
                if (r == -ESTALE)
                        goto out;
        } else
                r = copy_all(y);
        if (r >= 0 && !older)
                r = apply_claimed(y, to);
        if (r >= 0)
                r = fleet_sequences_in(f, y->s);
        if (r >= 0 && !older && !(y->flags & ROLES_FLEET_SYNC_ADMIN))    /* rolesctl's copy has no logins */
                r = read_facts(y, to);
        if (r >= 0 && ((r = store_exec(y->s, y->s->pub, "INSERT OR REPLACE INTO meta (key, value) VALUES ('fleet_streams', ?1)",
                                       "t", streams_kept(y))) < 0 || (r = store_set_fleet_serial(y->s, to)) < 0))
                fleet_fail(f, r, "%s", store_error(y->s));
        if (r >= 0 && (r = fleet_exec(f, NULL, "COMMIT", 0, NULL)) < 0)
                goto out;
        if (r >= 0 && (r = check(y)) < 0)
                fleet_fail(f, r, "refused serial %lld: %s", (long long) to, store_error(y->s));
        bool purges = y->s->n_purges > 0;
        if (r >= 0 && (r = apply_facts(y, false)) < 0)
                fleet_fail(f, r, "state.db: %s", store_error(y->s));
        if (r >= 0 && (r = roles_writer_commit(w)) < 0)
                fleet_fail(f, r, "%s", roles_writer_error(w));
        if (r >= 0) {
                y->res->to = to;
                r = 1;
        }
        if (r >= 0 && purges && apply_facts(y, true) < 0)
                /* Installed; only the steps used elsewhere are missing here, until one comes again
                 * (a login on this host still refuses a step at or below its own). */
                snprintf(y->res->warning, sizeof(y->res->warning), "the TOTP steps used elsewhere after a new secret: %s",
                         store_error(y->s));
out:
        PQclear(res);
        PQclear(y->locks);
        PQclear(y->steps);
        y->locks = y->steps = NULL;
        if (PQtransactionStatus(f->conn) != PQTRANS_IDLE)
                PQclear(PQexec(f->conn, "ROLLBACK"));
        if (r < 0 && !f->err[0])
                fleet_fail(f, r, "%s", store_error(y->s));
        roles_writer_close(w);
        y->s = NULL;
        return r;
}

int roles_fleet_sync(struct roles_fleet *f, const struct roles_config *cfg, unsigned flags,
                     struct roles_fleet_sync_result *ret) {
        struct roles_fleet_sync_result res = { 0 };
        struct sync y = { .f = f, .cfg = cfg, .flags = flags, .res = &res };
        f->err[0] = '\0';
        int r = sync_once(&y, flags & ROLES_FLEET_SYNC_FULL);
        if (r == -ESTALE && !res.refused[0]) {
                /* A delta that did not apply: the files are not what their serial says. */
                f->err[0] = '\0';
                res = (struct roles_fleet_sync_result) { 0 };
                r = sync_once(&y, true);
        }
        *ret = res;
        return r < 0 ? r : 0;
}

int roles_fleet_installed(const struct roles_config *cfg, int64_t *ret, char *errbuf, size_t errlen) {
        struct roles_snapshot *snap = NULL;
        int r = roles_snapshot_open(cfg, 0, &snap, errbuf, errlen);
        if (r < 0)
                return r;
        struct roles_store *s = store_of_snapshot(snap);
        r = store_fleet_serial(s, ret);
        if (r < 0)
                snprintf(errbuf, errlen, "%s", store_error(s));
        roles_snapshot_close(snap);
        return r;
}
