/* SPDX-License-Identifier: MIT */
/*
 * A snapshot: roles.db opened read-only (and, for a snapshot with secrets or a login, secrets.db
 * and state.db), its read transactions, and the small accessors every reader has. The lookups
 * are in store_users.c, store_groups.c and store_roles.c; listings in store_listing.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store-internal.h"

/*
 * A reader's roles.db. Read-only; roles.db is in WAL mode (store_writer.c), so a reader reads
 * the last committed state while a writer writes, and never waits for one. A reader never
 * checkpoints when it closes (that is the writers' work, and the last connection to close
 * would otherwise also try to delete -wal and -shm, which unprivileged readers need to find).
 * Readers, root's too, open the WAL index read-only (readonly_shm): they never write a byte
 * there, so a full disk cannot fail them (the first read-write opener truncates the index
 * and grows it again), a login's reads cannot free or take the room a tally write needs, and
 * no process holds a writable mapping of it to hand to a forked child. With no writer open,
 * such a reader reads the WAL itself (emptied by the last writer that closed); with one, it
 * reads the index that writer keeps.
 * A small page cache keeps the interior pages (what lookups revisit) and costs 512 KiB, not
 * SQLite's default 2 MiB.
 */
static int open_public_as(struct roles_store *s, const char *query, sqlite3 **ret) {
        sqlite3 *db = NULL;
        int r = store_open_db(s, s->cfg.public_db, false, query, &db);
        if (r >= 0 && sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *) NULL) != SQLITE_OK)
                r = store_sql_fail(s, db, SQLITE_ERROR, "configure connection");
        if (r < 0) {
                store_close_db(s, &db);
                return r;
        }
        *ret = db;
        return 0;
}

/*
 * A reader whose WAL index is read-only cannot create it, nor the WAL: writers keep both, but
 * another program (the sqlite3 shell) removes them when it closes last. Root makes them again
 * with one read through a read-write index (and leaves them, not checkpointing on close).
 */
static void ensure_wal_files(struct roles_store *s) {
        char wal[PATH_MAX + 8], shm[PATH_MAX + 8];
        sqlite3 *db = NULL;
        snprintf(wal, sizeof(wal), "%s-wal", s->cfg.public_db);
        snprintf(shm, sizeof(shm), "%s-shm", s->cfg.public_db);
        if (geteuid() != 0 || (access(wal, F_OK) == 0 && access(shm, F_OK) == 0))
                return;
        if (open_public_as(s, NULL, &db) < 0)
                return;         /* the reader's own open says why */
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
        store_close_db(s, &db);
}

static int open_public(struct roles_store *s, sqlite3 **ret) {
        sqlite3 *db = NULL;
        int r = store_check_file(s, s->cfg.public_db, STORE_FILE_PUBLIC);
        if (r >= 0) {
                ensure_wal_files(s);
                r = open_public_as(s, "readonly_shm=1", &db);
        }
        if (r >= 0)
                r = store_exec_script(s, db, "PRAGMA cache_size = -512");
        if (r >= 0)
                r = store_schema_check(s, db, STORE_PUBLIC, false, NULL);
        /* Only root can create the WAL and its index, which a reader of a WAL database needs
         * (writers keep them; a restore from a backup, or another program, may remove them). */
        if (r == -EROFS && geteuid() != 0)
                r = store_fail(s, -EACCES, "%s: only root can read it until root has opened it again (its -wal "
                               "and -shm files are missing): run 'rolesctl doctor'", s->cfg.public_db);
        /* Checking the schema read roles.db in a transaction of its own: the first answer
         * starts the reader's (store_stmt). */
        if (r < 0) {
                store_close_db(s, &db);
                return r;
        }
        *ret = db;
        return 0;
}

/*
 * A reader's secrets.db (root's only), in WAL mode as roles.db (store_writer.c), so that a
 * writer inside its commit keeps no login out. Like a reader of roles.db, it never checkpoints
 * when it closes (the writers do; a closing checkpoint takes the file's EXCLUSIVE lock, which
 * a stopped login would keep), and leaves -wal and -shm in place. A secrets.db no writer has
 * switched yet (an upgrade) is read in rollback-journal mode until one does.
 */
static int open_secrets(struct roles_store *s, bool writable) {
        int persist = 1;
        int r = store_open_db(s, s->cfg.secrets_db, writable, NULL, &s->sec);
        if (r < 0)
                return r;
        if (sqlite3_db_config(s->sec, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *) NULL) != SQLITE_OK ||
            sqlite3_file_control(s->sec, "main", SQLITE_FCNTL_PERSIST_WAL, &persist) != SQLITE_OK)
                return store_sql_fail(s, s->sec, SQLITE_ERROR, "configure connection");
        return 0;
}

/*
 * A snapshot's (or a login's) files: roles.db read-only, and with secrets, secrets.db and state.db
 * (read-write for a login, which writes what logins write; read-only for a snapshot).
 */
int store_open_reader(const struct roles_config *cfg, bool secrets, bool secrets_writable,
                       struct roles_store **ret, char *errbuf, size_t errlen) {
        struct roles_store *s = store_new(cfg, errbuf, errlen);
        int r;

        if (!s)
                return -ENOMEM;
        r = open_public(s, &s->pub);
        if (r >= 0 && secrets) {
                r = store_check_file(s, cfg->secrets_db, STORE_FILE_SECRET);
                if (r >= 0)
                        r = open_secrets(s, secrets_writable);
                if (r >= 0)
                        r = store_schema_check(s, s->sec, STORE_SECRETS, false, &s->sec_version);
                if (r >= 0)
                        r = store_check_file(s, cfg->state_db, STORE_FILE_SECRET);
                if (r >= 0)
                        r = store_open_db(s, cfg->state_db, secrets_writable, NULL, &s->state);
                if (r >= 0)
                        r = store_schema_check(s, s->state, STORE_STATE, false, &s->state_version);
        }
        if (r < 0) {
                if (errbuf && errlen > 0)
                        snprintf(errbuf, errlen, "%s", s->err);
                store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int roles_snapshot_open(const struct roles_config *cfg, unsigned flags, struct roles_snapshot **ret,
                        char *errbuf, size_t errlen) {
        struct roles_store *s;
        int r = store_open_reader(cfg, flags & ROLES_SNAPSHOT_SECRETS, false, &s, errbuf, errlen);
        if (r < 0)
                return r;
        *ret = store_snapshot(s);
        return 0;
}

void roles_snapshot_close(struct roles_snapshot *snap) {
        store_free(store_of_snapshot(snap));
}

const char *roles_snapshot_error(const struct roles_snapshot *snap) {
        return store_error(store_of_snapshot_const(snap));
}

const char *roles_secrets_error(const struct roles_secrets *sec) {
        return store_error(store_of_secrets(sec));
}

const struct roles_secrets *roles_snapshot_secrets(struct roles_snapshot *snap) {
        struct roles_store *s = store_of_snapshot(snap);
        return s->sec && s->state ? store_secrets(s) : NULL;
}

int roles_snapshot_serial(struct roles_snapshot *snap, int64_t *ret) {
        return store_serial(store_of_snapshot(snap), ret);
}

void roles_snapshot_release(struct roles_snapshot *snap) {
        struct roles_store *s = store_of_snapshot(snap);
        /* A read transaction: nothing to lose. But one that could not be ended would have what is
         * read next read from the old state, and hold the WAL back: then nothing more is read at
         * all (every later read fails, so every answer that needs one fails closed). */
        if (!s->writer && s->pub && !sqlite3_get_autocommit(s->pub) &&
            store_exec(s, s->pub, "COMMIT", "") < 0)
                store_close_db(s, &s->pub);
}

int roles_snapshot_refresh(struct roles_snapshot *snap) {
        struct roles_store *s = store_of_snapshot(snap);
        int64_t held = s->read_serial, serial;
        int r;
        if (s->writer)          /* a writer's view reads its own transaction */
                return 0;
        roles_snapshot_release(store_snapshot(s));
        r = store_serial(s, &serial);     /* begins the next read transaction */
        if (r < 0)
                return r;
        return serial != held;
}

const struct roles_config *roles_snapshot_config(const struct roles_snapshot *snap) {
        const struct roles_store *s = store_of_snapshot_const(snap);
        return &s->cfg;
}

time_t roles_snapshot_now(const struct roles_snapshot *snap) {
        const struct roles_store *s = store_of_snapshot_const(snap);
        return s->now ? s->now : time(NULL);
}

void roles_snapshot_set_now(struct roles_snapshot *snap, time_t now) {
        struct roles_store *s = store_of_snapshot(snap);
        s->now = now;
}

