/* SPDX-License-Identifier: MIT */
/* What the store's source files share; nothing outside common/store*.c includes this. */
#pragma once

#include <sqlite3.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/types.h>

#include "host_accounts.h"
#include "login.h"
#include "writer.h"

struct stmt_cache_entry {
        sqlite3 *db;
        const char *sql;        /* compared by address: every statement is a static string */
        sqlite3_stmt *stmt;
};

/* What to remove for a user once the snapshot is published. */
enum {
        PURGE_TALLY    = 1u << 0,       /* state.db lockout tally (unlock) */
        PURGE_TOTP     = 1u << 1,       /* state.db last TOTP step (new secret) */
        PURGE_TRACKING = 1u << 2,       /* state.db login tracking */
        PURGE_SECRETS  = 1u << 3,       /* secrets.db credentials, codes and recovery codes */
        PURGE_ALL      = PURGE_TALLY | PURGE_TOTP | PURGE_TRACKING | PURGE_SECRETS,
};

struct pending_purge {
        char uuid[ROLES_UUID_LEN + 1];
        unsigned what;
};

struct roles_store;

/* A writer whose change also goes elsewhere (fleet_push.c): push runs first thing at commit,
 * before anything is committed, and may refuse the change; a fleet serial it returns (> 0) is
 * recorded in roles.db with it. free runs when the writer closes. */
struct store_push_ops {
        int (*push)(struct roles_store *s, int64_t *ret_fleet_serial);
        void (*free)(struct roles_store *s);
};
/* The fleet serial recorded in roles.db's meta with the change that brought it (0: none). */
int store_fleet_serial(struct roles_store *s, int64_t *ret);
int store_set_fleet_serial(struct roles_store *s, int64_t serial);

/*
 * What a writer does around the reads and the secrets writes that the snapshot and login code
 * share with it: its derived tables brought up to date before a read that uses them, and the
 * before-image of a user's secrets kept before its first change to them. Installed by
 * roles_writer_open, so that the shared code calls no writer code by name: a login links none.
 */
struct store_writer_hooks {
        int (*refresh_derived)(struct roles_store *s);
        int (*keep_before)(struct roles_store *s, const char *uuid);
};

/*
 * The one connection set behind every handle. The public handles (struct roles_snapshot,
 * roles_secrets, roles_login, roles_writer) are types without a definition: each is a struct
 * roles_store seen through what its holder may do, converted at the boundary by the functions
 * below. So a call that needs the writer's lock takes a struct roles_writer, and no function
 * checks a mode at run time.
 */
struct roles_store {
        struct roles_config cfg;
        bool writer;            /* holds the lock; roles.db is read in the change's transaction */
        bool create;            /* a writer that creates missing files (rolesctl init) */
        time_t now;             /* 0: use the real clock */

        sqlite3 *pub;           /* roles.db (a reader's, read-only; a writer's, in its write transaction) */
        int64_t read_serial;    /* readers: the serial of the state last read (-1: none yet) */
        sqlite3 *sec;           /* secrets.db, or NULL */
        int sec_version;        /* its schema version: below 2, no before-images (store_before.c) */
        sqlite3 *state;         /* state.db, or NULL */
        int state_version;      /* its schema version: below 2, no outbox (store_state.c) */

        const struct store_writer_hooks *hooks; /* a writer's (store_writer.c); NULL for others */

        /* writer only */
        int lock_fd;            /* <roles.db>.lock, flocked */
        int lock_dir_fd;        /* roles.db's directory, flocked too (store_writer.c: take_lock) */
        unsigned stages_swept;  /* staged copies left by writers of before WAL, removed at begin */
        unsigned index_stages_swept;    /* index files a killed writer left aside, removed at begin */
        unsigned restore_stages_swept;  /* new files of a killed restore, removed at begin */
        bool committed;
        bool allow_retired;     /* a requested id may be a retired one (roles_writer_allow_retired_ids) */
        bool no_retired_ids;    /* bulk: retired_ids was empty when the change began and nothing was
                                 * retired since, so no id is retired (roles_retired_id) */
        bool bulk;              /* roles_writer_begin_bulk: its before-images are dropped once published */
        bool pub_migrated;      /* roles.db was migrated: publish even without row changes */
        int pub_changes_base;   /* sqlite3_total_changes() of roles.db once the transaction began */
        int derived_at;         /* sqlite3_total_changes() when the derived tables were last rebuilt */
        void *index_data;       /* a compiled roles.nss or delta, waiting to be installed */
        size_t index_size;
        void *index_empty_delta;        /* with a base: the empty delta installed after it */
        size_t index_empty_delta_size;
        int index_kind;         /* enum nss_index_kind */
        /* The compiled files written aside and fsynced before the commit point ("" none): the
         * base (or delta), then a base's empty delta. Installing them is then only renames. */
        char index_staged[2][PATH_MAX];
        bool index_requested;   /* compile a base even if nothing changed (roles_writer_rebuild_index) */
        char *bulk_indexes;     /* CREATE INDEX statements of indexes dropped for a bulk change */
        uint8_t (*uuid_pool)[ROLES_UUID_BYTES];  /* drawn in advance, ascending (store_uuid_new) */
        size_t uuid_pool_n, uuid_pool_next;
        struct pending_purge *purges;
        size_t n_purges;
        int64_t audit_from;     /* the first secrets.db audit row of this change (store_before.c) */
        bool audit_as_one;      /* the writers' own audit rows are left out (roles_writer_audit_as_one) */
        bool audit_summarised;  /* and the change's one row was written */
        int64_t undone_serial;  /* a change that never published this snapshot, undone at our start */
        int64_t undo_left_out;  /* rows of its before-images the live tables refused (store_before.c) */
        char actor[128];
        const struct store_push_ops *push_ops;  /* a change pushed at commit, or NULL */
        void *push_state;
        struct host_accounts own_host;  /* the real files, read only if no other set is given */
        struct host_accounts *host;     /* what allocation skips (roles_writer_set_host_accounts) */

        /* Grows as statements are first used; bounded by the static SQL strings of the code. */
        struct stmt_cache_entry *stmts;
        size_t n_stmts, n_stmts_allocated;

        char err[512];
};

static inline struct roles_store *store_of_snapshot(struct roles_snapshot *h) {
        return (struct roles_store *) h;
}
static inline const struct roles_store *store_of_snapshot_const(const struct roles_snapshot *h) {
        return (const struct roles_store *) h;
}
/* A read-only view of secrets is const to its holder; reading uses the statement cache. */
static inline struct roles_store *store_of_secrets(const struct roles_secrets *h) {
        return (struct roles_store *) h;
}
static inline struct roles_store *store_of_writer(struct roles_writer *h) {
        return (struct roles_store *) h;
}
static inline struct roles_store *store_of_login(struct roles_login *h) {
        return (struct roles_store *) h;
}
static inline struct roles_snapshot *store_snapshot(struct roles_store *s) {
        return (struct roles_snapshot *) s;
}
static inline struct roles_secrets *store_secrets(struct roles_store *s) {
        return (struct roles_secrets *) s;
}
static inline struct roles_writer *store_writer(struct roles_store *s) {
        return (struct roles_writer *) s;
}

/* Record a one-line reason and return r. */
int store_fail(struct roles_store *s, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Put prefix before the reason already recorded, and return r. */
int store_fail_prefixed(struct roles_store *s, int r, const char *prefix);

/* Record SQLite's reason for rc on db and return the matching -errno. */
int store_sql_fail(struct roles_store *s, sqlite3 *db, int rc, const char *what);

/* A prepared statement for static sql on db, cached for the store's life, reset and unbound. */
sqlite3_stmt *store_stmt(struct roles_store *s, sqlite3 *db, const char *sql);

/* Run a statement that returns no rows, binding the given text/int64 params (a mini printf:
 * "t" text, "i" int64, "n" null, "b" 32-byte blob). Returns sqlite3_changes() or -errno. */
int store_exec(struct roles_store *s, sqlite3 *db, const char *sql, const char *types, ...);
int store_vbind(struct roles_store *s, sqlite3_stmt *st, const char *types, va_list ap);

int store_vexec(struct roles_store *s, sqlite3 *db, const char *sql, const char *types, va_list ap);

/* Before-images of the secrets a writer changes (store_before.c). keep: before a writer's first
 * change to a user's secrets rows (no-op outside a writer); mark: in the secrets.db transaction
 * of a change that publishes SERIAL; settle: at a writer's start, finish or undo a change whose
 * mark names a snapshot newer than PUBLISHED; clear: once nothing needs them. */
int store_before_keep(struct roles_store *s, const char *uuid);
/* keep for a uuid this change has just made: no secrets row can hold it yet, so there is nothing
 * to copy, only the user to name. */
int store_before_keep_new(struct roles_store *s, const char *uuid);
int store_before_mark(struct roles_store *s, int64_t serial);
int store_before_settle(struct roles_store *s, int64_t published);
int store_before_clear(struct roles_store *s);

/* Bind the reader's snapshot serial to SECRETS_SERIAL_PARAM of a statement on secrets.db. */
int store_bind_serial(struct roles_store *s, sqlite3_stmt *st);

/* Run a journal_mode pragma (pragma: "PRAGMA journal_mode" or one that sets it) and say whether
 * the file is in WAL mode after it. */
int store_journal_is_wal(struct roles_store *s, sqlite3 *db, const char *pragma, bool *ret_wal);

/* Execute a script of several statements (schema, pragmas). */
int store_exec_script(struct roles_store *s, sqlite3 *db, const char *sql);

/* Steps a statement expected to yield at most one row: 1 row, 0 none, -errno. */
int store_step_row(struct roles_store *s, sqlite3_stmt *st);

/* Whether a column reads as text of at most size - 1 bytes: 0 SQL NULL (read as ""), 1 text;
 * -EBADMSG for a value of another type, over-long or holding a NUL (*ret_flaw says which, as
 * "is a BLOB, not text"); -ENOMEM. */
int store_col_text_check(sqlite3_stmt *st, int col, size_t size, const char **ret_flaw);
/* Whether a column reads as an integer: 1 it is one, 0 SQL NULL where nullable; -EBADMSG for
 * any other value (*ret_flaw says which, as "is text, not an integer"): sqlite3_column_int64
 * would read it as 0, or as the number text begins with. */
int store_col_int_check(sqlite3_stmt *st, int col, bool nullable, const char **ret_flaw);
/* The same of a value (a function's argument). */
int store_value_int_check(sqlite3_value *v, bool nullable, const char **ret_flaw);
/* Copy a text column into a fixed buffer, "" for SQL NULL (and only for it); what
 * store_col_text_check refuses fails (-EBADMSG), as no memory for it does (-ENOMEM). */
int store_col_text(struct roles_store *s, sqlite3_stmt *st, int col, char *dst, size_t size);
/* An id (a uid, a gid) as every reader takes it: an INTEGER; -1 (no id) for a value of another
 * type. A REAL or a BLOB is not what the column's UNIQUE index compares with the integers: read
 * as an integer, it would be another row's id a second time. */
int64_t store_col_id(sqlite3_stmt *st, int col);

/* A new uuid (roles_uuid_new), the next of the pool drawn by roles_writer_begin_bulk if any. */
int store_uuid_new(struct roles_store *s, char ret_uuid[static ROLES_UUID_LEN + 1]);

/* -EPERM unless secrets.db and state.db are open (a snapshot opened without them). */
int store_require_secrets(struct roles_store *s);

static inline int store_hook_refresh_derived(struct roles_store *s) {
        return s->hooks ? s->hooks->refresh_derived(s) : 0;
}
static inline int store_hook_keep_before(struct roles_store *s, const char *uuid) {
        return s->hooks ? s->hooks->keep_before(s, uuid) : 0;
}

/* The base of every handle (store.c): allocate one for cfg (NULL, with "out of memory" in errbuf,
 * when there is no memory), read its serial and clock, say its last reason, and free it with its
 * connections and statements. */
struct roles_store *store_new(const struct roles_config *cfg, char *errbuf, size_t errlen);
void store_free(struct roles_store *s);
int store_serial(struct roles_store *s, int64_t *ret);
time_t store_now(const struct roles_store *s);
const char *store_error(const struct roles_store *s);
/* A snapshot's (secrets false) or a login's files, opened (snapshot.c). */
int store_open_reader(const struct roles_config *cfg, bool secrets, bool secrets_writable, struct roles_store **ret,
                      char *errbuf, size_t errlen);
int store_open_db(struct roles_store *s, const char *path, bool writable, const char *query, sqlite3 **ret);

/* Schema creation and forward migration of each file; refuses a version newer than ours.
 * Returns 1 when it migrated, 0 when the file was current. */
enum store_file { STORE_PUBLIC, STORE_SECRETS, STORE_STATE };
int store_schema_check(struct roles_store *s, sqlite3 *db, enum store_file which, bool migrate, int *ret_version);
/* A file from elsewhere (restore), before any migration: every object of its schema one this
 * build makes at its version, as it makes it; -EBADMSG otherwise (0 for a version newer than
 * this build's, which store_schema_check refuses). */
int store_schema_check_objects(struct roles_store *s, sqlite3 *db, enum store_file which);

/* Apply the defensive connection settings. */
int store_harden(struct roles_store *s, sqlite3 *db);
/* Whether db waits a while for another writer's lock (the default) or fails at once (busy). */
void store_wait_when_busy(sqlite3 *db, bool wait);

/* Connections (store.c). */
int store_open_writable(struct roles_store *s, const char *path, sqlite3 **ret);

void store_close_db(struct roles_store *s, sqlite3 **db);

/* Writer: take the lock, open the three files in write transactions; commit: secrets.db, then
 * roles.db (the commit point). (store_writer.c) */
int store_writer_begin(struct roles_store *s);
int store_writer_commit(struct roles_store *s);
void store_writer_abort(struct roles_store *s);
/* Restore: put the checked files tmp[enum store_file] in place of the live ones, and begin the
 * change again on them (a tmp put in place is emptied: ""). */
int store_writer_replace_files(struct roles_store *s, char *const tmp[3]);

/* Doctor's checks of a file a restore is about to put in place (store_doctor.c): its integrity
 * and, for roles.db, the rows every reader refuses and those the host's own accounts hide. Each
 * problem is reported as one line; returns how many, or -errno. */
int store_doctor_check_file(struct roles_store *s, sqlite3 *db, enum store_file which, roles_report_fn report,
                            void *userdata);

/* Writers: bring the derived tables (the metarole closure and grants) up to date if roles.db
 * changed since they were built; returns how many derived rows differed. */
int store_refresh_derived(struct roles_store *s);

/*
 * The NSS index (store_index.c). track: at a writer's start, note what the change touches;
 * prepare: inside the change's transaction, compile the delta (or a new base) into memory;
 * stage: before the commit point, write it aside (a full disk fails the change there);
 * install: once roles.db is published, rename it into place; discard: forget a prepared one.
 */
int store_index_track(struct roles_store *s);
/* Stop tracking (roles_writer_begin_bulk): a base is compiled at commit. */
int store_index_untrack(struct roles_store *s);
int store_index_prepare(struct roles_store *s, int64_t published, int64_t serial);
int store_index_stage(struct roles_store *s);
int store_index_install(struct roles_store *s);
void store_index_discard(struct roles_store *s);
int store_index_rebuild(struct roles_store *s);
/* 1 when the installed index is missing, unreadable or of another serial than roles.db. */
int store_index_stale(struct roles_store *s);
struct nss_index_view;

/* The host verdict (store_index_host.c) at the end of the delta prepared in s (with a base: its
 * empty delta), judged against /etc/passwd and /etc/group as they are now; installed: the view a
 * delta was compiled onto, whose verdict on its base may be carried over (NULL with a base).
 * Left out when it cannot be judged: readers then read the files. */
void store_index_judge_host(struct roles_store *s, const struct nss_index_view *installed);
/* Doctor: does the installed view's verdict clear a record that the files, as it stamped them,
 * hold? */
bool store_index_host_verdict_wrong(const struct nss_index_view *installed);
/* Doctor: compile a base from roles.db (kept for install) and say why the installed index is
 * not it (*ret_why NULL: it is, as far as can be told). */
int store_index_compare(struct roles_store *s, const char **ret_why);

/*
 * A staged snapshot, as writers of before WAL made them: "DIR/.BASE.stage-XXXXXX" next to
 * roles.db (DIR/BASE). One left by a writer that died then is removed by the next writer.
 */
#define STORE_STAGE_INFIX "%s.stage-"
int store_stage_name(const char *public_db, char *buf, size_t size);
/* A restore's new file beside the live database DIR/BASE: "DIR/.BASE.restore-XXXXXX". A killed
 * restore's are removed by the next writer, as staged snapshots are. */
int store_restore_name(const char *live, char *buf, size_t size);

/* A statement on a user's secrets rows, and the same statement on their before-images. */
#define ON_TABLE(head, table, tail) ((const char *const[2]) { head table tail, head "before_" table tail })

/* The codes table's kind column, by enum roles_code_kind (store_secrets.c). */
extern const char *const store_code_kinds[];

/* Write a user's secrets rows with SQL[0], and their before-images with SQL[1] (store_secrets.c);
 * the rows changed, or -errno. Then 0 when a row was changed, -ENOENT (with the reason) when the
 * user has no secrets row, or r's error. */
int store_secrets_write(struct roles_store *s, const char *uuid, const char *const sql[2], const char *types, ...);
int store_require_credentials(struct roles_store *s, int r);

/* Queue a secrets/state clean-up for after the snapshot is published. */
int store_queue_purge(struct roles_store *s, const char *uuid, unsigned what);

/* Check a database file before opening it: regular, not a symlink, owned by root (or us), not
 * group/world-writable, in a directory that is not a symlink nor group/world-writable; a secret
 * one must not be readable by anyone else either. */
enum store_file_kind { STORE_FILE_PUBLIC, STORE_FILE_SECRET, STORE_FILE_MAY_BE_MISSING };
int store_check_file(struct roles_store *s, const char *path, enum store_file_kind kind);

/* The SQL twins of a current assignment (authz.c) and of roles_user_active(), for queries that
 * judge many rows at once, with now as ?2: NULL and 0 both mean "never ends" there, as they do
 * in C (sqlite3_column_int64 reads NULL as 0), and any enabled value but 0 is enabled. */
/*
 * The rows of a secrets.db table (credentials or codes) as a reader of the snapshot whose serial
 * is bound to ?9 must see them: a user's rows from before a change whose snapshot that reader
 * does not have (still to come, or never published), the live rows otherwise (store_before.c).
 */
#define SECRETS_SERIAL_PARAM 9
#define SQL_BEFORE_IN_FORCE \
        "(user_uuid IN (SELECT user_uuid FROM before_users) AND coalesce((SELECT serial FROM publishing), 0) > ?9)"
#define SQL_SECRETS_SEEN(table) \
        "(SELECT * FROM " table " WHERE NOT " SQL_BEFORE_IN_FORCE \
        " UNION ALL SELECT * FROM before_" table " WHERE " SQL_BEFORE_IN_FORCE ")"
/* A read of TABLE as HEAD TABLE TAIL: [1] through SQL_SECRETS_SEEN, [0] the table alone, for a
 * version 1 secrets.db (no before-images; readers read it until a writer migrates it). */
#define SECRETS_READ(head, table, tail) ((const char *const[2]) { head table tail, head SQL_SECRETS_SEEN(table) tail })
#define store_secrets_sql(s, sql) ((sql)[(s)->sec_version >= 2])

/*
 * What a login refuses in a secrets.db row (-EBADMSG, *ret naming the column and what is wrong
 * with it), in a row selected with these columns first: the one rule of the login reader
 * (roles_secret_get, roles_secret_get_code) and of doctor, which names such rows, so that the
 * two cannot drift apart. 0 when the row is good, -ENOMEM.
 */
#define SQL_CREDENTIALS_READ \
        "password_hash, password_changed_at, must_change_password, fs_uniquifier, " \
        "last_auth_sensitive_operation_at, email, totp_secret, activated_at"
#define SQL_CODE_READ "code_hash, expires_at, used_at"
struct store_row_flaw {
        const char *column;
        const char *what;       /* "is empty", "is a BLOB, not text", ... */
};
int store_secret_row_check(sqlite3_stmt *st, struct store_row_flaw *ret);
int store_code_row_check(sqlite3_stmt *st, struct store_row_flaw *ret);
/*
 * The same of a recovery code, whose rule SQL needs too, to count the codes a login can spend
 * (user show's "codes left"): SQL_RECOVERY_USABLE, the check and used_at NULL, through the SQL
 * function roles_recovery_usable that store_sql_functions gives every connection.
 */
#define SQL_RECOVERY_READ "code_hash, used_at"
#define SQL_RECOVERY_USABLE "roles_recovery_usable(" SQL_RECOVERY_READ ")"
int store_recovery_row_check(sqlite3_stmt *st, struct store_row_flaw *ret);
int store_sql_functions(struct roles_store *s, sqlite3 *db);

/* The least id a fleet host's outbox hands out next: its creation time (or a restore's), 2^20
 * ids a second (store_schema.c, state.db v2). */
#define SQL_OUTBOX_ID_FLOOR "(CAST(strftime('%s', 'now') AS INTEGER) * 1048576)"
#define SQL_ASSIGNMENT_CURRENT "(coalesce(a.until, 0) = 0 OR a.until > ?2)"
#define SQL_USER_ACTIVE "(u.enabled != 0 AND (coalesce(u.expires_at, 0) = 0 OR u.expires_at > ?2))"

/* The columns store_read_user() expects, in order, and the reader itself (validating). */
#define USER_COLUMNS \
        "id, uuid, name, uid, gid, gecos, home, shell, enabled, created_at, updated_at, activated_at, expires_at"
int store_read_user(struct roles_store *s, sqlite3_stmt *st, struct roles_user *ret);

/* The same for groups. */
#define GROUP_COLUMNS "id, uuid, name, gid, description, created_at, updated_at"
int store_read_group(struct roles_store *s, sqlite3_stmt *st, struct roles_group *ret);

/* Does used_sql ("SELECT 1 ... WHERE id = ?1") find id? 1 yes, 0 no, -errno. */
int store_id_used(struct roles_store *s, const char *used_sql, int64_t id);

/* The host's accounts, read again if their files changed; -errno (with the reason) if one
 * cannot be read: then nothing may be allocated. */
int store_host(struct roles_store *s, const struct host_accounts **ret);

/* Allocate the lowest id above the highest in use, else the first gap, in [min, max], that
 * neither roles nor the host (uids, or gids for group) uses. The queries take ?1 = min and
 * ?2 = max: the highest id in use, and every id used or retired, ascending, without repeats. */
struct store_id_sql {
        const char *max;
        const char *ordered;
};
int store_alloc_id(struct roles_store *s, const struct store_id_sql *sql, bool group, uint32_t min, uint32_t max,
                   uint32_t *ret);

/* Check a requested gid, or allocate one, among groups and published metaroles. */
int store_pick_gid(struct roles_store *s, uint32_t requested, uint32_t *ret);

/* Refuse (-EEXIST, naming its last owner) a requested id that was retired, unless allowed. */
int store_check_retired(struct roles_store *s, bool group, uint32_t id);

/* Record in this change that id is no longer name's: it is never allocated again. */
int store_retire_id(struct roles_store *s, bool group, uint32_t id, const char *name);

/* Is a gid taken by a group or a published metarole, or a name by either? */
int store_gid_taken(struct roles_store *s, uint32_t gid);
int store_group_name_taken(struct roles_store *s, const char *name);
