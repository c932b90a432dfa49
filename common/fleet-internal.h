/* SPDX-License-Identifier: MIT */
/* What the fleet's source files (common/fleet_*.c) share; nothing else includes this. */
#pragma once

/* The session extension's declarations (sqlite3session_*, sqlite3changeset_*): Debian's
 * libsqlite3 is built with both, the header declares them only when asked. */
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1

#include <libpq-fe.h>

#include "fleet.h"
#include "store-internal.h"

/* The schema in PostgreSQL, and the roles hosts connect in. */
#define FLEET_SCHEMA "roles"

/* The change log keeps the last FLEET_LOG_KEEP changes (each push cuts it); a host further
 * behind, or whose delta is larger than FLEET_DELTA_MAX_BYTES, copies the tables instead. */
#define FLEET_LOG_KEEP 5000
#define FLEET_DELTA_MAX_BYTES (4u << 20)
#define ROLES_STRINGIFY_(x) #x
#define ROLES_STRINGIFY(x) ROLES_STRINGIFY_(x)

struct roles_fleet {
        PGconn *conn;
        struct roles_config cfg;
        char err[512];
        char sqlstate[6];       /* of the server's last error ("": none, or not the server's) */
};

/* The fleet's own objects made, or made again, at ROLES_FLEET_VERSION (fleet_init.c), in the open
 * transaction: init's, after the base tables, and the upgrade's (fleet_upgrade.c). */
int fleet_objects(struct roles_fleet *f);
/* Whether the fleet's objects were made from this build's text of them: a build that fixed a
 * function's body without a new ROLES_FLEET_VERSION makes them again at `fleet upgrade`. */
int fleet_objects_current(struct roles_fleet *f, bool *ret);

/* Record a one-line reason and return r. */
int fleet_fail(struct roles_fleet *f, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The server's reason for res (or the connection's), recorded; -EAGAIN for a serialization
 * failure or a deadlock (run the change again), -EIO otherwise. Clears res. */
int fleet_pg_fail(struct roles_fleet *f, PGresult *res, const char *what);
/* r, or -ENOSYS and a reason naming what, when r is the server's saying it lacks a function or a
 * table (42883, 42P01): a schema of an older fleet version (fleet_init.c), until `rolesctl fleet
 * upgrade` brings it up to this build's. */
int fleet_older(struct roles_fleet *f, int r, const char *what);
/* Run sql with text parameters (NULL: SQL NULL). 0 or the number of rows affected/returned;
 * -errno with the reason recorded. *ret_res (may be NULL) keeps a result with rows. */
int fleet_exec(struct roles_fleet *f, PGresult **ret_res, const char *sql, int n, const char *const *params);
/* BEGIN of a change: SERIALIZABLE; -EROFS and a plain message on a read-only standby. */
int fleet_begin_write(struct roles_fleet *f);

/*
 * The tables PostgreSQL keeps for a host, in the order a full copy writes them. The file says
 * which connection holds them on a host; stream, which changeset of a change carries them.
 */
enum fleet_stream { FLEET_PUBLIC, FLEET_SECRETS, FLEET_AUDIT, FLEET_N_STREAMS };
struct fleet_table {
        const char *name;
        enum fleet_stream stream;
};
extern const struct fleet_table fleet_tables[];
extern const size_t fleet_n_tables;
/* The table of that name the fleet copies, or NULL. */
const struct fleet_table *fleet_find_table(const char *name);
/* The change log's column for each stream, and who may read it. */
extern const char *const fleet_stream_column[FLEET_N_STREAMS];

/* A table's columns as SQLite has them on db (the same schema version as PostgreSQL's). */
#define FLEET_COLUMNS_MAX 16
struct fleet_columns {
        int n;
        char name[FLEET_COLUMNS_MAX][64];
        char type[FLEET_COLUMNS_MAX];   /* 'i' integer, 't' text, 'b' blob */
        bool pk[FLEET_COLUMNS_MAX];
        bool notnull[FLEET_COLUMNS_MAX];
};
int fleet_columns(struct roles_store *s, sqlite3 *db, const char *table, struct fleet_columns *ret);

/* What one changeset (fleet_rows.c) does to PostgreSQL's copy of the tables: rows inserted (by
 * COPY), updated and deleted by primary key, each of which must find its row. The uuids of
 * users deleted are added to deleted (a caller's array of deleted_max). */
int fleet_pg_apply_changeset(struct roles_fleet *f, struct roles_store *s, sqlite3 *db, const void *cs, int n);

/* Every row of table from PostgreSQL into db's table (emptied first), in the open transaction;
 * uuid not NULL: only that user's rows (a table keyed by user_uuid). */
int fleet_copy_table_in(struct roles_fleet *f, struct roles_store *s, sqlite3 *db, const char *table, const char *uuid);
/* Every row of db's table into PostgreSQL's (init: a fresh store's built-in rows). */
int fleet_copy_table_out(struct roles_fleet *f, struct roles_store *s, sqlite3 *db, const char *table);

/* sqlite_sequence (AUTOINCREMENT's high-water marks) both ways: so that an id is never handed
 * out twice in the fleet's history. */
int fleet_sequences_out(struct roles_fleet *f, struct roles_store *s);
int fleet_sequences_in(struct roles_fleet *f, struct roles_store *s);
