/* SPDX-License-Identifier: MIT */
/*
 * Rows between SQLite and PostgreSQL, both ways, for the tables a host receives.
 *
 * Column names and types come from SQLite's own schema on the connection at hand (a roles.db or
 * secrets.db of the version PostgreSQL's schema was made from), never from the data: a
 * changeset names only its table and a column count, and a table or count this build does not
 * know is refused. Values keep SQLite's storage classes: integers and text as text parameters,
 * blobs as binary ones (COPY: bytea's hex form); NULL as NULL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"

const struct fleet_table fleet_tables[] = {
        { "users", FLEET_PUBLIC }, { "groups", FLEET_PUBLIC }, { "group_members", FLEET_PUBLIC },
        { "metaroles", FLEET_PUBLIC }, { "metarole_includes", FLEET_PUBLIC }, { "metarole_perms", FLEET_PUBLIC },
        { "roles", FLEET_PUBLIC }, { "role_perms", FLEET_PUBLIC }, { "role_assignments", FLEET_PUBLIC },
        { "retired_ids", FLEET_PUBLIC },
        { "credentials", FLEET_SECRETS }, { "codes", FLEET_SECRETS }, { "recovery_codes", FLEET_SECRETS },
        { "audit", FLEET_AUDIT },
};
const size_t fleet_n_tables = ROLES_N_ELEMENTS(fleet_tables);
const char *const fleet_stream_column[FLEET_N_STREAMS] = { "public_cs", "secrets_cs", "audit_cs" };

const struct fleet_table *fleet_find_table(const char *name) {
        for (size_t i = 0; i < fleet_n_tables; i++)
                if (strcmp(fleet_tables[i].name, name) == 0)
                        return &fleet_tables[i];
        return NULL;
}

int fleet_columns(struct roles_store *s, sqlite3 *db, const char *table, struct fleet_columns *ret) {
        struct fleet_columns c = { 0 };
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "SELECT name, upper(type), pk, \"notnull\" FROM pragma_table_info(?1) ORDER BY cid",
                                    -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_sql_fail(s, db, rc, table);
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(st, 0), *type = (const char *) sqlite3_column_text(st, 1);
                if (c.n >= FLEET_COLUMNS_MAX || !name || strlen(name) >= sizeof(c.name[0]) || strchr(name, '"')) {
                        sqlite3_finalize(st);
                        return store_fail(s, -E2BIG, "%s: a column this build cannot copy", table);
                }
                strcpy(c.name[c.n], name);
                c.type[c.n] = type && strstr(type, "INT") ? 'i' : type && strcmp(type, "BLOB") == 0 ? 'b' : 't';
                c.pk[c.n] = sqlite3_column_int(st, 2) > 0;
                c.notnull[c.n] = sqlite3_column_int(st, 3) != 0;
                c.n++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_sql_fail(s, db, rc, table);
        if (c.n == 0)
                return store_fail(s, -EPROTO, "%s: no such table", table);
        *ret = c;
        return 0;
}

/* ---- values as parameters -------------------------------------------------------------- */

struct params {
        int n;
        const char *val[FLEET_COLUMNS_MAX * 2];
        int len[FLEET_COLUMNS_MAX * 2];
        int fmt[FLEET_COLUMNS_MAX * 2];
        char num[FLEET_COLUMNS_MAX * 2][24];
};

static void param_add(struct params *p, sqlite3_value *v) {
        int i = p->n++;
        p->fmt[i] = 0;
        p->len[i] = 0;
        switch (v ? sqlite3_value_type(v) : SQLITE_NULL) {
        case SQLITE_INTEGER:
                snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long) sqlite3_value_int64(v));
                p->val[i] = p->num[i];
                break;
        case SQLITE_BLOB:
                p->val[i] = sqlite3_value_blob(v) ? sqlite3_value_blob(v) : "";
                p->len[i] = sqlite3_value_bytes(v);
                p->fmt[i] = 1;
                break;
        case SQLITE_NULL:
                p->val[i] = NULL;
                break;
        default:
                p->val[i] = (const char *) sqlite3_value_text(v);
                break;
        }
}

static int exec_params(struct roles_fleet *f, const char *sql, const struct params *p) {
        PGresult *res = PQexecParams(f->conn, sql, p->n, NULL, p->val, p->len, p->fmt, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                return fleet_pg_fail(f, res, "the account server");
        int n = atoi(PQcmdTuples(res));
        PQclear(res);
        return n;
}

/* ---- COPY out: runs of rows of one table --------------------------------------------------- */

struct copy_out {
        struct roles_fleet *f;
        const char *table;      /* the run's table, NULL when none is open */
        char *buf;
        size_t len, size;
};

static int grow(struct copy_out *co, size_t more) {
        if (co->len + more <= co->size)
                return 0;
        size_t size = co->size ? co->size : 4096;
        while (size < co->len + more)
                size *= 2;
        char *b = realloc(co->buf, size);
        if (!b)
                return -ENOMEM;
        co->buf = b;
        co->size = size;
        return 0;
}

static void put_text(struct copy_out *co, const unsigned char *t, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = t[i];
                const char *esc = ch == '\\' ? "\\\\" : ch == '\t' ? "\\t" : ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : NULL;
                if (esc) {
                        memcpy(co->buf + co->len, esc, 2);
                        co->len += 2;
                } else
                        co->buf[co->len++] = (char) ch;
        }
}

static int copy_value(struct copy_out *co, sqlite3_value *v) {
        static const char hex[] = "0123456789abcdef";
        int type = v ? sqlite3_value_type(v) : SQLITE_NULL;
        size_t n = type == SQLITE_NULL ? 0 : (size_t) sqlite3_value_bytes(v);
        if (grow(co, 2 * n + 32) < 0)
                return -ENOMEM;
        if (type == SQLITE_NULL) {
                memcpy(co->buf + co->len, "\\N", 2);
                co->len += 2;
        } else if (type == SQLITE_INTEGER)
                co->len += (size_t) sprintf(co->buf + co->len, "%lld", (long long) sqlite3_value_int64(v));
        else if (type == SQLITE_BLOB) {
                const unsigned char *b = sqlite3_value_blob(v);
                memcpy(co->buf + co->len, "\\\\x", 3);
                co->len += 3;
                for (size_t i = 0; i < n; i++) {
                        co->buf[co->len++] = hex[b[i] >> 4];
                        co->buf[co->len++] = hex[b[i] & 15];
                }
        } else
                put_text(co, sqlite3_value_text(v), n);
        return 0;
}

static int copy_end(struct copy_out *co) {
        struct roles_fleet *f = co->f;
        if (!co->table)
                return 0;
        co->table = NULL;
        int ok = co->len == 0 || PQputCopyData(f->conn, co->buf, (int) co->len) == 1;
        co->len = 0;
        if (PQputCopyEnd(f->conn, ok ? NULL : "roles: sending rows failed") != 1)
                return fleet_pg_fail(f, NULL, "the account server");
        PGresult *res = PQgetResult(f->conn);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                return fleet_pg_fail(f, res, "the account server");
        PQclear(res);
        while ((res = PQgetResult(f->conn)))
                PQclear(res);
        return 0;
}

static int copy_row(struct copy_out *co, const char *table, const struct fleet_columns *c, sqlite3_value **v) {
        struct roles_fleet *f = co->f;
        if (co->table && strcmp(co->table, table) != 0) {
                int r = copy_end(co);
                if (r < 0)
                        return r;
        }
        if (!co->table) {
                char sql[1024];
                size_t len = (size_t) snprintf(sql, sizeof(sql), "COPY " FLEET_SCHEMA ".%s (", table);
                for (int i = 0; i < c->n; i++)
                        len += (size_t) snprintf(sql + len, sizeof(sql) - len, "%s\"%s\"", i ? ", " : "", c->name[i]);
                snprintf(sql + len, sizeof(sql) - len, ") FROM STDIN");
                PGresult *res = PQexec(f->conn, sql);
                if (PQresultStatus(res) != PGRES_COPY_IN)
                        return fleet_pg_fail(f, res, "the account server");
                PQclear(res);
                co->table = table;
        }
        for (int i = 0; i < c->n; i++) {
                if ((i && grow(co, 1) < 0) || copy_value(co, v[i]) < 0)
                        return fleet_fail(f, -ENOMEM, "out of memory");
                if (i + 1 < c->n)
                        co->buf[co->len++] = '\t';
        }
        if (grow(co, 1) < 0)
                return fleet_fail(f, -ENOMEM, "out of memory");
        co->buf[co->len++] = '\n';
        if (co->len >= 1 << 20) {
                if (PQputCopyData(f->conn, co->buf, (int) co->len) != 1)
                        return fleet_pg_fail(f, NULL, "the account server");
                co->len = 0;
        }
        return 0;
}

/* ---- a changeset applied to PostgreSQL ------------------------------------------------------ */

static int update_row(struct roles_fleet *f, const char *table, const struct fleet_columns *c, sqlite3_changeset_iter *it) {
        struct params p = { 0 };
        char sql[2048];
        size_t len = (size_t) snprintf(sql, sizeof(sql), "UPDATE " FLEET_SCHEMA ".%s SET ", table);
        for (int i = 0; i < c->n; i++) {
                sqlite3_value *v = NULL;
                if (sqlite3changeset_new(it, i, &v) != SQLITE_OK || !v)
                        continue;
                param_add(&p, v);
                len += (size_t) snprintf(sql + len, sizeof(sql) - len, "%s\"%s\" = $%d", p.n > 1 ? ", " : "", c->name[i], p.n);
        }
        if (p.n == 0)
                return 0;
        bool first = true;
        for (int i = 0; i < c->n; i++) {
                sqlite3_value *v = NULL;
                if (!c->pk[i])
                        continue;
                if (sqlite3changeset_old(it, i, &v) != SQLITE_OK || !v)
                        return fleet_fail(f, -EPROTO, "%s: an update without its key", table);
                param_add(&p, v);
                len += (size_t) snprintf(sql + len, sizeof(sql) - len, "%s\"%s\" = $%d", first ? " WHERE " : " AND ",
                                         c->name[i], p.n);
                first = false;
        }
        if (len >= sizeof(sql))
                return fleet_fail(f, -E2BIG, "%s: statement too long", table);
        int r = exec_params(f, sql, &p);
        return r < 0 ? r : r == 1 ? 0 : fleet_fail(f, -EPROTO, "%s: a row the change updates is not on the account "
                                                   "server: its copy differs from this one", table);
}

static int delete_row(struct roles_fleet *f, const char *table, const struct fleet_columns *c, sqlite3_changeset_iter *it) {
        struct params p = { 0 };
        char sql[1024];
        size_t len = (size_t) snprintf(sql, sizeof(sql), "DELETE FROM " FLEET_SCHEMA ".%s", table);
        for (int i = 0; i < c->n; i++) {
                sqlite3_value *v = NULL;
                if (!c->pk[i])
                        continue;
                if (sqlite3changeset_old(it, i, &v) != SQLITE_OK || !v)
                        return fleet_fail(f, -EPROTO, "%s: a deletion without its key", table);
                param_add(&p, v);
                len += (size_t) snprintf(sql + len, sizeof(sql) - len, "%s\"%s\" = $%d", p.n > 1 ? " AND " : " WHERE ",
                                         c->name[i], p.n);
        }
        int r = exec_params(f, sql, &p);
        return r < 0 ? r : r == 1 ? 0 : fleet_fail(f, -EPROTO, "%s: a row the change deletes is not on the account "
                                                   "server: its copy differs from this one", table);
}

/* A deleted user's secrets: on a single host the writer purges them after publishing, outside
 * the change; here they go with it. */
static int purge_user_secrets(struct roles_fleet *f, sqlite3_changeset_iter *it) {
        sqlite3_value *v = NULL;
        if (sqlite3changeset_old(it, 1, &v) != SQLITE_OK || !v || sqlite3_value_type(v) != SQLITE_TEXT)
                return fleet_fail(f, -EPROTO, "users: a deletion without its uuid");
        const char *uuid = (const char *) sqlite3_value_text(v);
        static const char *const sql[] = { "DELETE FROM " FLEET_SCHEMA ".credentials WHERE user_uuid = $1",
                                           "DELETE FROM " FLEET_SCHEMA ".codes WHERE user_uuid = $1",
                                           "DELETE FROM " FLEET_SCHEMA ".recovery_codes WHERE user_uuid = $1" };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(sql); i++) {
                int r = fleet_exec(f, NULL, sql[i], 1, &uuid);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fleet_pg_apply_changeset(struct roles_fleet *f, struct roles_store *s, sqlite3 *db, const void *cs, int n) {
        struct copy_out co = { .f = f };
        struct fleet_columns c;
        char cols_of[64] = "";
        sqlite3_changeset_iter *it = NULL;
        int r = 0, rc;

        if (n == 0)
                return 0;
        if ((rc = sqlite3changeset_start(&it, n, (void *) cs)) != SQLITE_OK)
                return fleet_fail(f, -ENOMEM, "reading the change: %s", sqlite3_errstr(rc));
        while (r >= 0 && sqlite3changeset_next(it) == SQLITE_ROW) {
                const char *table;
                int ncol, op, indirect;
                sqlite3changeset_op(it, &table, &ncol, &op, &indirect);
                if (!fleet_find_table(table)) {
                        r = fleet_fail(f, -EPROTO, "the change names a table the fleet does not copy: %.64s", table);
                        break;
                }
                if (strcmp(cols_of, table) != 0) {
                        if ((r = fleet_columns(s, db, table, &c)) < 0) {
                                r = fleet_fail(f, r, "%s", store_error(s));
                                break;
                        }
                        snprintf(cols_of, sizeof(cols_of), "%s", table);
                }
                if (ncol != c.n) {
                        r = fleet_fail(f, -EPROTO, "%s: %d columns in the change, %d here", table, ncol, c.n);
                        break;
                }
                if (op == SQLITE_INSERT) {
                        sqlite3_value *v[FLEET_COLUMNS_MAX];
                        for (int i = 0; i < c.n; i++)
                                if (sqlite3changeset_new(it, i, &v[i]) != SQLITE_OK)
                                        v[i] = NULL;
                        r = copy_row(&co, table, &c, v);
                        continue;
                }
                if ((r = copy_end(&co)) < 0)
                        break;
                if (op == SQLITE_UPDATE)
                        r = update_row(f, table, &c, it);
                else {
                        r = delete_row(f, table, &c, it);
                        if (r >= 0 && strcmp(table, "users") == 0)
                                r = purge_user_secrets(f, it);
                }
        }
        if (r >= 0)
                r = copy_end(&co);
        else if (co.table) {
                PQputCopyEnd(f->conn, "roles: change abandoned");
                PGresult *res;
                while ((res = PQgetResult(f->conn)))
                        PQclear(res);
        }
        rc = sqlite3changeset_finalize(it);
        free(co.buf);
        if (r >= 0 && rc != SQLITE_OK)
                r = fleet_fail(f, -EPROTO, "reading the change: %s", sqlite3_errstr(rc));
        return r;
}

/* ---- whole tables ------------------------------------------------------------------------- */

int fleet_copy_table_out(struct roles_fleet *f, struct roles_store *s, sqlite3 *db, const char *table) {
        struct copy_out co = { .f = f };
        struct fleet_columns c;
        sqlite3_stmt *st = NULL;
        char sql[128];
        int r = fleet_columns(s, db, table, &c), rc;
        if (r < 0)
                return fleet_fail(f, r, "%s", store_error(s));
        snprintf(sql, sizeof(sql), "SELECT * FROM main.\"%s\"", table);
        if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
                return fleet_fail(f, -EIO, "%s: %s", table, sqlite3_errmsg(db));
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                sqlite3_value *v[FLEET_COLUMNS_MAX];
                for (int i = 0; i < c.n; i++)
                        v[i] = sqlite3_column_value(st, i);
                r = copy_row(&co, table, &c, v);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = fleet_fail(f, -EIO, "%s: %s", table, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        if (r >= 0)
                r = copy_end(&co);
        free(co.buf);
        return r;
}

static int hex_value(char ch) {
        return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* bytea's text output ("\x" and hex digits) into a blob bound to parameter i. */
static int bind_bytea(sqlite3_stmt *st, int i, const char *text, int len) {
        if (len < 2 || text[0] != '\\' || text[1] != 'x' || len % 2)
                return -EPROTO;
        size_t n = (size_t) (len - 2) / 2;
        unsigned char *b = malloc(n ? n : 1);
        if (!b)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                int hi = hex_value(text[2 + 2 * k]), lo = hex_value(text[3 + 2 * k]);
                if (hi < 0 || lo < 0) {
                        free(b);
                        return -EPROTO;
                }
                b[k] = (unsigned char) (hi << 4 | lo);
        }
        return sqlite3_bind_blob(st, i, b, (int) n, free) == SQLITE_OK ? 0 : -ENOMEM;
}

static int bind_result_row(sqlite3_stmt *st, const struct fleet_columns *c, const PGresult *res) {
        for (int i = 0; i < c->n; i++) {
                if (PQgetisnull(res, 0, i)) {
                        sqlite3_bind_null(st, i + 1);
                        continue;
                }
                const char *text = PQgetvalue(res, 0, i);
                int len = PQgetlength(res, 0, i);
                if (c->type[i] == 'i') {
                        char *end;
                        errno = 0;
                        long long v = strtoll(text, &end, 10);
                        if (errno || end == text || *end)
                                return -EPROTO;
                        sqlite3_bind_int64(st, i + 1, v);
                } else if (c->type[i] == 'b') {
                        int r = bind_bytea(st, i + 1, text, len);
                        if (r < 0)
                                return r;
                } else
                        sqlite3_bind_text(st, i + 1, text, len, SQLITE_TRANSIENT);
        }
        return 0;
}

int fleet_copy_table_in(struct roles_fleet *f, struct roles_store *s, sqlite3 *db, const char *table, const char *uuid) {
        struct fleet_columns c;
        sqlite3_stmt *ins = NULL;
        char sel[1024], sql[1024], del[128];
        int r = fleet_columns(s, db, table, &c), rc;
        if (r < 0)
                return fleet_fail(f, r, "%s", store_error(s));
        size_t ls = (size_t) snprintf(sel, sizeof(sel), "SELECT "), li = (size_t) snprintf(sql, sizeof(sql), "INSERT INTO main.\"%s\" VALUES (", table);
        for (int i = 0; i < c.n; i++) {
                ls += (size_t) snprintf(sel + ls, sizeof(sel) - ls, "%s\"%s\"", i ? ", " : "", c.name[i]);
                li += (size_t) snprintf(sql + li, sizeof(sql) - li, "%s?", i ? ", " : "");
        }
        snprintf(sel + ls, sizeof(sel) - ls, " FROM " FLEET_SCHEMA ".%s%s", table, uuid ? " WHERE user_uuid = $1" : "");
        snprintf(sql + li, sizeof(sql) - li, ")");
        snprintf(del, sizeof(del), "DELETE FROM main.\"%s\"%s", table, uuid ? " WHERE user_uuid = ?1" : "");
        sqlite3_stmt *d = NULL;
        if (sqlite3_prepare_v2(db, del, -1, &d, NULL) != SQLITE_OK ||
            (uuid && sqlite3_bind_text(d, 1, uuid, -1, SQLITE_STATIC) != SQLITE_OK) || sqlite3_step(d) != SQLITE_DONE ||
            (rc = sqlite3_prepare_v2(db, sql, -1, &ins, NULL)) != SQLITE_OK) {
                sqlite3_finalize(d);
                return fleet_fail(f, -EIO, "%s: %s", table, sqlite3_errmsg(db));
        }
        sqlite3_finalize(d);
        if (!PQsendQueryParams(f->conn, sel, uuid ? 1 : 0, NULL, uuid ? &uuid : NULL, NULL, NULL, 0) ||
            !PQsetSingleRowMode(f->conn)) {
                sqlite3_finalize(ins);
                return fleet_pg_fail(f, NULL, "the account server");
        }
        PGresult *res;
        while ((res = PQgetResult(f->conn))) {
                ExecStatusType status = PQresultStatus(res);
                if (r >= 0 && status == PGRES_SINGLE_TUPLE) {
                        if (PQnfields(res) != c.n)
                                r = fleet_fail(f, -EPROTO, "%s: the account server's columns differ", table);
                        else if ((r = bind_result_row(ins, &c, res)) < 0)
                                r = fleet_fail(f, r, "%s: a value that is not of its column's type", table);
                        else if ((rc = sqlite3_step(ins)) != SQLITE_DONE)
                                r = fleet_fail(f, -EIO, "%s: %s", table, sqlite3_errmsg(db));
                        sqlite3_reset(ins);
                        sqlite3_clear_bindings(ins);
                } else if (r >= 0 && status != PGRES_TUPLES_OK) {
                        r = fleet_pg_fail(f, res, "the account server");
                        continue;
                }
                PQclear(res);
        }
        sqlite3_finalize(ins);
        return r;
}

/* ---- AUTOINCREMENT's marks --------------------------------------------------------------- */

int fleet_sequences_out(struct roles_fleet *f, struct roles_store *s) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT name, seq FROM main.sqlite_sequence");
        if (!st)
                return fleet_fail(f, -EIO, "%s", store_error(s));
        int r = 0;
        while (r >= 0 && sqlite3_step(st) == SQLITE_ROW) {
                char seq[24];
                snprintf(seq, sizeof(seq), "%lld", (long long) sqlite3_column_int64(st, 1));
                const char *p[] = { (const char *) sqlite3_column_text(st, 0), seq };
                r = fleet_exec(f, NULL, "INSERT INTO " FLEET_SCHEMA ".sequences (name, seq) VALUES ($1, $2) "
                               "ON CONFLICT (name) DO UPDATE SET seq = greatest(" FLEET_SCHEMA ".sequences.seq, excluded.seq)", 2, p);
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int fleet_sequences_in(struct roles_fleet *f, struct roles_store *s) {
        PGresult *res = NULL;
        int r = fleet_exec(f, &res, "SELECT name, seq FROM " FLEET_SCHEMA ".sequences", 0, NULL);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                const char *name = PQgetvalue(res, i, 0);
                if (strcmp(name, "users") != 0 && strcmp(name, "groups") != 0)
                        continue;
                int64_t seq = strtoll(PQgetvalue(res, i, 1), NULL, 10);
                /* (sqlite_sequence has no key: a row per table, kept by hand) */
                r = store_exec(s, s->pub, "DELETE FROM main.sqlite_sequence WHERE name = ?1", "t", name);
                if (r >= 0)
                        r = store_exec(s, s->pub, "INSERT INTO main.sqlite_sequence (name, seq) VALUES (?1, ?2)", "ti", name, seq);
                if (r < 0)
                        r = fleet_fail(f, r, "%s", store_error(s));
        }
        PQclear(res);
        return r < 0 ? r : 0;
}
