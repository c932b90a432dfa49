/* SPDX-License-Identifier: MIT */
/* Opening the three files, the statement cache and the small helpers every query uses. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-internal.h"

int store_fail(struct roles_store *s, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, sizeof(s->err), fmt, ap);
        va_end(ap);
        return r;
}

static int errno_from_sqlite(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:         return 0;
        case SQLITE_NOMEM:      return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:     return -EBUSY;
        case SQLITE_READONLY:   return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:       return -EACCES;
        case SQLITE_CANTOPEN:   return -ENOENT;
        case SQLITE_FULL:       return -ENOSPC;
        case SQLITE_CONSTRAINT: return -EEXIST;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:     return -EIO;    /* the file; -EBADMSG means one bad row */
        case SQLITE_TOOBIG:     return -E2BIG;
        default:                return -EIO;
        }
}

int store_sql_fail(struct roles_store *s, sqlite3 *db, int rc, const char *what) {
        return store_fail(s, errno_from_sqlite(rc), "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int begin_read(struct roles_store *s);

sqlite3_stmt *store_stmt(struct roles_store *s, sqlite3 *db, const char *sql) {
        if (!db) {      /* closed after a failure (roles_snapshot_release): nothing more is read */
                store_fail(s, -EIO, "the database was closed after a failure");
                return NULL;
        }
        /* A reader's first query of an answer begins its read transaction (begin_read). */
        if (db == s->pub && !s->writer && sqlite3_get_autocommit(db) && begin_read(s) < 0)
                return NULL;
        for (size_t i = 0; i < s->n_stmts; i++)
                if (s->stmts[i].sql == sql && s->stmts[i].db == db) {
                        /* Resetting a statement still being stepped would silently end its
                         * caller's loop: a callback must not re-enter the query that calls it. */
                        if (sqlite3_stmt_busy(s->stmts[i].stmt)) {
                                store_fail(s, -EBUSY, "internal error: a query re-entered from its own callback");
                                return NULL;
                        }
                        sqlite3_reset(s->stmts[i].stmt);
                        sqlite3_clear_bindings(s->stmts[i].stmt);
                        return s->stmts[i].stmt;
                }

        if (s->n_stmts == s->n_stmts_allocated) {
                size_t n = s->n_stmts_allocated ? 2 * s->n_stmts_allocated : 32;
                struct stmt_cache_entry *grown = reallocarray(s->stmts, n, sizeof(*grown));
                if (!grown) {
                        store_fail(s, -ENOMEM, "out of memory");
                        return NULL;
                }
                s->stmts = grown;
                s->n_stmts_allocated = n;
        }

        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
                store_sql_fail(s, db, rc, "prepare");
                return NULL;
        }
        s->stmts[s->n_stmts++] = (struct stmt_cache_entry) { db, sql, st };
        return st;
}

static void forget_stmts(struct roles_store *s, sqlite3 *db) {
        size_t j = 0;
        for (size_t i = 0; i < s->n_stmts; i++) {
                if (s->stmts[i].db == db)
                        sqlite3_finalize(s->stmts[i].stmt);
                else
                        s->stmts[j++] = s->stmts[i];
        }
        s->n_stmts = j;
}

/* lifetime: SQLITE_TRANSIENT (SQLite copies each text and blob) or SQLITE_STATIC (the caller's
 * buffers are read where they are, and must outlive the step). */
static int bind_args(struct roles_store *s, sqlite3_stmt *st, const char *types, va_list ap,
                     sqlite3_destructor_type lifetime) {
        int idx = 1, rc = SQLITE_OK;
        for (const char *t = types; *t && rc == SQLITE_OK; t++, idx++) {
                switch (*t) {
                case 't': {
                        const char *v = va_arg(ap, const char *);
                        rc = v ? sqlite3_bind_text(st, idx, v, -1, lifetime) : sqlite3_bind_null(st, idx);
                        break;
                }
                case 'i':
                        rc = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
                        break;
                case 'n':
                        rc = sqlite3_bind_null(st, idx);
                        break;
                case 'b':
                        rc = sqlite3_bind_blob(st, idx, va_arg(ap, const uint8_t *), 32, lifetime);
                        break;
                default:
                        return store_fail(s, -EINVAL, "internal error: bad bind type '%c'", *t);
                }
        }
        if (rc != SQLITE_OK)
                return store_sql_fail(s, sqlite3_db_handle(st), rc, "bind");
        return 0;
}

int store_vbind(struct roles_store *s, sqlite3_stmt *st, const char *types, va_list ap) {
        return bind_args(s, st, types, ap, SQLITE_TRANSIENT);
}

int store_journal_is_wal(struct roles_store *s, sqlite3 *db, const char *pragma, bool *ret_wal) {
        sqlite3_stmt *st = store_stmt(s, db, pragma);
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        const char *mode = r > 0 ? (const char *) sqlite3_column_text(st, 0) : NULL;
        bool wal = mode && strcmp(mode, "wal") == 0;
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret_wal = wal;
        return 0;
}

int store_exec(struct roles_store *s, sqlite3 *db, const char *sql, const char *types, ...) {
        va_list ap;
        va_start(ap, types);
        int r = store_vexec(s, db, sql, types, ap);
        va_end(ap);
        return r;
}

int store_vexec(struct roles_store *s, sqlite3 *db, const char *sql, const char *types, va_list ap) {
        sqlite3_stmt *st = store_stmt(s, db, sql);
        if (!st)
                return -EIO;
        /* Bound where they are, not copied (a copy per value, millions of them in an import, and
         * copies of hashes left in freed memory): the values outlive this call's step, and the
         * bindings are dropped before it returns. */
        int r = bind_args(s, st, types, ap, SQLITE_STATIC);
        int rc = r < 0 ? SQLITE_OK : sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (r < 0)
                return r;
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return store_sql_fail(s, db, rc, "write");
        return sqlite3_changes(db);
}

int store_exec_script(struct roles_store *s, sqlite3 *db, const char *sql) {
        char *msg = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                int r = store_fail(s, errno_from_sqlite(rc), "%s", msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

int store_step_row(struct roles_store *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_sql_fail(s, sqlite3_db_handle(st), rc, "read");
}

/* Only SQL NULL reads as empty: sqlite3_column_text gives NULL when memory runs out too, and
 * converts a BLOB or a number without a word. Read as "", a damaged or hand-edited secrets.db
 * (a totp_secret stored as a BLOB) or an allocation failure would be "not enrolled", and the
 * second factor skipped; so a value of another type is refused, as other malformed ones are.
 * The rule of every reader and of doctor's look at secrets.db alike: one place. */
int store_col_text_check(sqlite3_stmt *st, int col, size_t size, const char **ret_flaw) {
        static const char *const wrong_type[] = {
                [SQLITE_INTEGER] = "is an INTEGER, not text",
                [SQLITE_FLOAT] = "is a REAL, not text",
                [SQLITE_BLOB] = "is a BLOB, not text",
        };
        int type = sqlite3_column_type(st, col);        /* before any conversion */
        if (type == SQLITE_NULL)
                return 0;
        if (type != SQLITE_TEXT) {
                *ret_flaw = type >= 0 && type < (int) ROLES_N_ELEMENTS(wrong_type) && wrong_type[type]
                        ? wrong_type[type] : "is not text";
                return -EBADMSG;
        }
        const char *v = (const char *) sqlite3_column_text(st, col);
        int n = sqlite3_column_bytes(st, col);
        if (!v)
                return -ENOMEM;
        if ((size_t) n >= size) {
                *ret_flaw = "is over-long";
                return -EBADMSG;
        }
        if (memchr(v, '\0', (size_t) n)) {
                *ret_flaw = "holds a NUL byte";
                return -EBADMSG;
        }
        return 1;
}

int store_col_int_check(sqlite3_stmt *st, int col, bool nullable, const char **ret_flaw) {
        return store_value_int_check(sqlite3_column_value(st, col), nullable, ret_flaw);
}

int store_value_int_check(sqlite3_value *v, bool nullable, const char **ret_flaw) {
        static const char *const wrong_type[] = {
                [SQLITE_FLOAT] = "is a REAL, not an integer",
                [SQLITE_TEXT] = "is text, not an integer",
                [SQLITE_BLOB] = "is a BLOB, not an integer",
                [SQLITE_NULL] = "is NULL",
        };
        int type = sqlite3_value_type(v);
        if (type == SQLITE_INTEGER)
                return 1;
        if (type == SQLITE_NULL && nullable)
                return 0;
        *ret_flaw = type >= 0 && type < (int) ROLES_N_ELEMENTS(wrong_type) && wrong_type[type] ? wrong_type[type]
                                                                                               : "is not an integer";
        return -EBADMSG;
}

int64_t store_col_id(sqlite3_stmt *st, int col) {
        const char *flaw;
        return store_col_int_check(st, col, false, &flaw) > 0 ? sqlite3_column_int64(st, col) : -1;
}

int store_col_text(struct roles_store *s, sqlite3_stmt *st, int col, char *dst, size_t size) {
        const char *flaw = NULL;
        int r = store_col_text_check(st, col, size, &flaw);
        if (r == -EBADMSG)
                return store_fail(s, r, "database holds a malformed value: column '%s' %s",
                                  sqlite3_column_name(st, col), flaw);
        if (r < 0)
                return store_fail(s, r, "out of memory reading column '%s'", sqlite3_column_name(st, col));
        if (r == 0) {
                dst[0] = '\0';
                return 0;
        }
        memcpy(dst, sqlite3_column_text(st, col), (size_t) sqlite3_column_bytes(st, col) + 1);
        return 0;
}

int store_require_secrets(struct roles_store *s) {
        if (!s->sec || !s->state)
                return store_fail(s, -EACCES, "secrets.db and state.db are not open (root only)");
        return 0;
}

/*
 * Waiting for another writer (a login counting a failure, an admin change): short sleeps of
 * 0.2-1.2 ms with jitter, for about 10 s in all. SQLite's own busy timeout backs off to 100 ms
 * sleeps, so under contention (many logins at once) some waiters would run out of time while
 * the file sat idle, and a failure would go uncounted.
 */
#define BUSY_WAIT_TOTAL_US (10 * 1000 * 1000)

static int wait_briefly(void *userdata, int count) {
        (void) userdata;
        if ((long) count * 700 > BUSY_WAIT_TOTAL_US)
                return 0;
        unsigned jitter = ((unsigned) count * 2654435761u) ^ (unsigned) getpid();
        usleep(200 + jitter % 1000);
        return 1;
}

void store_wait_when_busy(sqlite3 *db, bool wait) {
        sqlite3_busy_handler(db, wait ? wait_briefly : NULL, NULL);
}

int store_harden(struct roles_store *s, sqlite3 *db) {
        static const struct { int op; int value; } settings[] = {
                { SQLITE_DBCONFIG_DEFENSIVE, 1 },
                { SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0 },
                { SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0 },
                { SQLITE_DBCONFIG_ENABLE_TRIGGER, 0 },
                { SQLITE_DBCONFIG_ENABLE_VIEW, 0 },
                { SQLITE_DBCONFIG_DQS_DML, 0 },
                { SQLITE_DBCONFIG_DQS_DDL, 0 },
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(settings); i++) {
                int rc = sqlite3_db_config(db, settings[i].op, settings[i].value, (int *) NULL);
                if (rc != SQLITE_OK)
                        return store_sql_fail(s, db, rc, "configure connection");
        }
        /* Room for the derived member list of a group that holds every user (100k names). */
        sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 64 << 20);
        sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
        store_wait_when_busy(db, true);
        int r = store_sql_functions(s, db);
        if (r < 0)
                return r;
        return store_exec_script(s, db, "PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = ON;");
}

int store_check_file(struct roles_store *s, const char *path, enum store_file_kind kind) {
        bool must_exist = kind != STORE_FILE_MAY_BE_MISSING;
        char dir[PATH_MAX];
        struct stat st;

        if (roles_strcpy(dir, sizeof(dir), path) < 0)
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", path);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return store_fail(s, -EINVAL, "%s: database paths must be absolute, below a directory", path);
        *slash = '\0';

        /* lstat: SQLite's NOFOLLOW refuses a symlink anywhere in the path, but only once a writer
         * has created the lock and side files behind it, and with a vaguer message. */
        if (lstat(dir, &st) < 0)
                return store_fail(s, -errno, "%s: %s", dir, strerror(errno));
        if (S_ISLNK(st.st_mode))
                return store_fail(s, -EPERM, "%s: refusing a database directory that is a symlink", dir);
        if (!S_ISDIR(st.st_mode) || !roles_owner_and_mode_trusted(&st))
                return store_fail(s, -EPERM, "%s: refusing a database directory that is not owned by root or is group/world-writable", dir);

        if (lstat(path, &st) < 0) {
                if (errno == ENOENT && !must_exist)
                        return 0;
                return store_fail(s, -errno, "%s: %s", path, strerror(errno));
        }
        if (!S_ISREG(st.st_mode))
                return store_fail(s, -EPERM, "%s: refusing a database that is not a regular file (symlink?)", path);
        if (!roles_owner_and_mode_trusted(&st))
                return store_fail(s, -EPERM, "%s: refusing a database that is not owned by root or is group/world-writable", path);
        if (kind == STORE_FILE_SECRET && (st.st_mode & 077))
                return store_fail(s, -EPERM, "%s: refusing a secret database readable by others (mode %04o): chmod 600 it",
                                  path, st.st_mode & 07777);
        return 0;
}

/* "file:PATH?QUERY": SQLite URIs need '%', '?' and '#' escaped; everything else in an absolute
 * path passes. */
static int file_uri(const char *path, const char *query, char *buf, size_t size) {
        size_t o = 0;
        for (const char *p = "file:"; *p; p++)
                buf[o++] = *p;
        for (const char *p = path; *p; p++) {
                if (o + 4 >= size)
                        return -ENAMETOOLONG;
                if (*p == '%' || *p == '?' || *p == '#')
                        o += (size_t) snprintf(buf + o, size - o, "%%%02X", (unsigned char) *p);
                else
                        buf[o++] = *p;
        }
        if (o + 1 + strlen(query) + 1 > size)
                return -ENAMETOOLONG;
        snprintf(buf + o, size - o, "?%s", query);
        return 0;
}

/* query: NULL, or URI parameters for a read-only open ("readonly_shm=1"). */
int store_open_db(struct roles_store *s, const char *path, bool writable, const char *query, sqlite3 **ret) {
        char uri[PATH_MAX + 64];
        sqlite3 *db = NULL;
        /* NOMUTEX: a store is used by one thread at a time (the NSS module holds its own lock),
         * so SQLite's per-call mutex would only cost time. */
        int r, flags = SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_PRIVATECACHE | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX |
                       (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY);

        if (query) {
                if (file_uri(path, query, uri, sizeof(uri)) < 0)
                        return store_fail(s, -ENAMETOOLONG, "%s: path too long", path);
                flags |= SQLITE_OPEN_URI;
        } else if (roles_strcpy(uri, sizeof(uri), path) < 0)
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", path);
        int rc = sqlite3_open_v2(uri, &db, flags, NULL);
        if (rc != SQLITE_OK) {
                r = store_fail(s, errno_from_sqlite(rc), "%s: cannot open: %s", path,
                               db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                goto fail;
        }
        r = store_harden(s, db);
        if (r < 0)
                goto fail;
        *ret = db;
        return 0;
fail:
        sqlite3_close_v2(db);
        return r;
}

/*
 * A reader's read transaction on roles.db: begun by the first query of an answer (store_stmt),
 * so that every query of it reads one committed state, and ended by roles_snapshot_release(),
 * roles_snapshot_refresh() or the close, never held for a caller between calls.
 */
static int begin_read(struct roles_store *s) {
        int r = store_exec_script(s, s->pub, "BEGIN");
        if (r < 0)
                return r;
        /* BEGIN takes no snapshot: the first read does. This one, and it names the state. */
        r = store_serial(s, &s->read_serial);
        if (r < 0)
                sqlite3_exec(s->pub, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* Helpers used by the writer, here so the connection code stays in one place. */
int store_open_writable(struct roles_store *s, const char *path, sqlite3 **ret) {
        int r = store_open_db(s, path, true, NULL, ret);
        if (r < 0)
                return r;
        /* A writer may touch every page of a 100k-user file (rolesctl import): with SQLite's
         * default 2 MiB cache it would re-read most of them from the kernel. This is a ceiling,
         * allocated only as pages are used. */
        return store_exec_script(s, *ret, "PRAGMA cache_size = -65536");
}

void store_close_db(struct roles_store *s, sqlite3 **db) {
        if (!*db)
                return;
        forget_stmts(s, *db);
        sqlite3_close_v2(*db);
        *db = NULL;
}

int store_bind_serial(struct roles_store *s, sqlite3_stmt *st) {
        int64_t serial;
        if (s->sec_version < 2)         /* the statement has no such parameter (SECRETS_READ) */
                return 0;
        int r = store_serial(s, &serial);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, SECRETS_SERIAL_PARAM, serial);
        return 0;
}

int store_fail_prefixed(struct roles_store *s, int r, const char *prefix) {
        char reason[sizeof(s->err)];
        snprintf(reason, sizeof(reason), "%s", s->err);
        return store_fail(s, r, "%s%s", prefix, reason);
}

int store_serial(struct roles_store *s, int64_t *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'serial'");
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        if (r == 0)
                r = store_fail(s, -EBADMSG, "roles.db has no serial number");
        if (r < 0)
                return r;
        *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
}

time_t store_now(const struct roles_store *s) {
        return s->now ? s->now : time(NULL);
}

const char *store_error(const struct roles_store *s) {
        return s->err[0] ? s->err : "unknown error";
}

struct roles_store *store_new(const struct roles_config *cfg, char *errbuf, size_t errlen) {
        struct roles_store *s = calloc(1, sizeof(*s));
        if (!s) {
                /* There is no store to hold the reason: callers print errbuf (rolesctl's one line). */
                if (errbuf && errlen > 0)
                        snprintf(errbuf, errlen, "out of memory");
                return NULL;
        }
        s->cfg = *cfg;
        s->read_serial = -1;
        return s;
}

void store_free(struct roles_store *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_stmts; i++)
                sqlite3_finalize(s->stmts[i].stmt);
        s->n_stmts = 0;
        sqlite3_close_v2(s->pub);
        sqlite3_close_v2(s->sec);
        sqlite3_close_v2(s->state);
        free(s->stmts);
        free(s);
}
