/* SPDX-License-Identifier: MIT */
/*
 * Schemas of the three files and their forward migrations. Each file carries its version in
 * PRAGMA user_version; migration N takes a file from version N to N + 1. Only writers
 * (rolesctl) migrate; readers accept exactly the version they know, and a file newer than the
 * code is refused by everyone, never guessed at.
 */
#include <errno.h>
#include <stdio.h>

#include "store-internal.h"

/* roles.db v1: what NSS may serve, as public as /etc/passwd and /etc/group. */
static const char public_v1[] =
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta (key, value) VALUES ('serial', '0');"
        /* AUTOINCREMENT: an id is never reused, so no row left behind by a hand edit can ever
         * attach itself to a later account. */
        "CREATE TABLE users ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  uuid TEXT NOT NULL UNIQUE,"
        "  name TEXT NOT NULL UNIQUE,"
        "  uid INTEGER NOT NULL UNIQUE,"
        "  gid INTEGER NOT NULL,"
        "  gecos TEXT NOT NULL DEFAULT '',"
        "  home TEXT NOT NULL,"
        "  shell TEXT NOT NULL,"
        "  enabled INTEGER NOT NULL DEFAULT 1,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  activated_at INTEGER,"
        "  expires_at INTEGER);"
        "CREATE INDEX users_gid ON users (gid);"
        "CREATE TABLE groups ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  uuid TEXT NOT NULL UNIQUE,"
        "  name TEXT NOT NULL UNIQUE,"
        "  gid INTEGER NOT NULL UNIQUE,"
        "  description TEXT NOT NULL DEFAULT '',"
        "  group_data TEXT NOT NULL DEFAULT '{}',"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL);"
        "CREATE TABLE group_members ("
        "  group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
        "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
        "  PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;"
        "CREATE INDEX group_members_user ON group_members (user_id, group_id);"
        "CREATE TABLE metaroles ("
        "  id INTEGER PRIMARY KEY,"
        "  code TEXT NOT NULL UNIQUE,"
        "  name TEXT NOT NULL DEFAULT '',"
        "  description TEXT NOT NULL DEFAULT '',"
        "  gid INTEGER UNIQUE,"
        "  builtin INTEGER NOT NULL DEFAULT 0,"
        "  created_at INTEGER NOT NULL);"
        "CREATE TABLE metarole_includes ("
        "  parent_id INTEGER NOT NULL REFERENCES metaroles (id) ON DELETE CASCADE,"
        "  child_id INTEGER NOT NULL REFERENCES metaroles (id) ON DELETE CASCADE,"
        "  PRIMARY KEY (parent_id, child_id),"
        "  CHECK (parent_id <> child_id)) WITHOUT ROWID;"
        "CREATE INDEX metarole_includes_child ON metarole_includes (child_id, parent_id);"
        "CREATE TABLE metarole_perms ("
        "  metarole_id INTEGER NOT NULL REFERENCES metaroles (id) ON DELETE CASCADE,"
        "  perm TEXT NOT NULL,"
        "  PRIMARY KEY (metarole_id, perm)) WITHOUT ROWID;"
        "CREATE TABLE roles ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  description TEXT NOT NULL DEFAULT '',"
        "  metarole_id INTEGER NOT NULL REFERENCES metaroles (id),"
        "  created_at INTEGER NOT NULL);"
        "CREATE INDEX roles_metarole ON roles (metarole_id);"
        "CREATE TABLE role_perms ("
        "  role_id INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,"
        "  perm TEXT NOT NULL,"
        "  disabled INTEGER NOT NULL DEFAULT 0,"
        "  PRIMARY KEY (role_id, perm)) WITHOUT ROWID;"
        /* "Which roles hold P (enabled)?" for roles_check. */
        "CREATE INDEX role_perms_enabled ON role_perms (perm, role_id) WHERE disabled = 0;"
        "CREATE TABLE role_assignments ("
        "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
        "  role_id INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,"
        "  until INTEGER,"
        "  assigned_at INTEGER NOT NULL,"
        "  PRIMARY KEY (user_id, role_id)) WITHOUT ROWID;"
        "CREATE INDEX role_assignments_role ON role_assignments (role_id, user_id);"
        /* Derived on every publish (store_derived.c). */
        "CREATE TABLE group_member_list ("
        "  group_id INTEGER PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,"
        "  members TEXT NOT NULL);"
        "CREATE TABLE user_gid_list ("
        "  user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,"
        "  gids TEXT NOT NULL);"
        "CREATE TABLE passwd_buckets (bucket INTEGER PRIMARY KEY, lines TEXT NOT NULL);"
        "CREATE TABLE group_buckets (bucket INTEGER PRIMARY KEY, lines TEXT NOT NULL);"
        "CREATE TABLE metarole_closure ("
        "  root INTEGER NOT NULL,"
        "  id INTEGER NOT NULL,"
        "  PRIMARY KEY (root, id)) WITHOUT ROWID;"
        "CREATE INDEX metarole_closure_id ON metarole_closure (id, root);"
        "CREATE TABLE metarole_grants ("
        "  perm TEXT NOT NULL,"
        "  metarole_id INTEGER NOT NULL,"
        "  PRIMARY KEY (perm, metarole_id)) WITHOUT ROWID;"
        /* The built-in chain super-admin ⊃ admin ⊃ user. */
        "INSERT INTO metaroles (id, code, name, description, builtin, created_at) VALUES"
        "  (1, 'super-admin', 'Super administrator', 'Holds every permission', 1, strftime('%s')),"
        "  (2, 'admin', 'Administrator', '', 1, strftime('%s')),"
        "  (3, 'user', 'User', '', 1, strftime('%s'));"
        "INSERT INTO metarole_includes (parent_id, child_id) VALUES (1, 2), (2, 3);";

/* roles.db v2: every uid and gid that a user, a group or a published metarole of roles has had,
 * written in the transaction that takes it away (a delete, an unpublish). Allocation never
 * hands one out again: a process left running as a deleted account, or a file it left, must
 * never become the next account's (store_groups.c). One row per id: its last owner. */
static const char public_v2[] =
        "CREATE TABLE retired_ids ("
        "  kind TEXT NOT NULL CHECK (kind IN ('uid', 'gid')),"
        "  id INTEGER NOT NULL,"
        "  name TEXT NOT NULL,"
        "  retired_at INTEGER NOT NULL,"
        "  PRIMARY KEY (kind, id)) WITHOUT ROWID;";

/* roles.db v3: what NSS serves is compiled into roles.nss (store_index.c), so the tables that
 * precomputed its answers go, and a change no longer rewrites them. */
static const char public_v3[] =
        "DROP TABLE group_member_list;"
        "DROP TABLE user_gid_list;"
        "DROP TABLE passwd_buckets;"
        "DROP TABLE group_buckets;";

/* secrets.db v1: what the administrator sets that must stay secret. Keyed by user uuid. */
static const char secrets_v1[] =
        "CREATE TABLE credentials ("
        "  user_uuid TEXT PRIMARY KEY,"
        "  password_hash TEXT,"
        "  password_changed_at INTEGER,"
        "  must_change_password INTEGER NOT NULL DEFAULT 0,"
        "  fs_uniquifier TEXT NOT NULL UNIQUE,"
        "  last_auth_sensitive_operation_at INTEGER,"
        "  email TEXT,"
        "  user_data TEXT NOT NULL DEFAULT '{}',"
        "  totp_secret TEXT,"
        "  activated_at INTEGER,"
        "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE codes ("
        "  user_uuid TEXT NOT NULL,"
        "  kind TEXT NOT NULL CHECK (kind IN ('activation', 'reset')),"
        "  code_hash BLOB NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  expires_at INTEGER NOT NULL,"
        "  used_at INTEGER,"
        "  PRIMARY KEY (user_uuid, kind)) WITHOUT ROWID;"
        "CREATE TABLE audit ("
        "  id INTEGER PRIMARY KEY,"
        "  at INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  target TEXT NOT NULL,"
        "  detail TEXT NOT NULL DEFAULT '');";

/* secrets.db v2: the before-images that make a change all-or-nothing across secrets.db and
 * roles.db (store_before.c). They copy credentials and codes column for column (SELECT *):
 * a migration that adds a column to one adds it to its before_ table too. */
static const char secrets_v2[] =
        "CREATE TABLE publishing ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  serial INTEGER NOT NULL,"
        "  audit_from INTEGER NOT NULL);"
        "CREATE TABLE before_users (user_uuid TEXT PRIMARY KEY) WITHOUT ROWID;"
        "CREATE TABLE before_credentials AS SELECT * FROM credentials WHERE 0;"
        "CREATE INDEX before_credentials_user ON before_credentials (user_uuid);"
        "CREATE TABLE before_codes AS SELECT * FROM codes WHERE 0;"
        "CREATE INDEX before_codes_user ON before_codes (user_uuid, kind);";

/* secrets.db v3: the recovery codes of a TOTP enrolment, each spent once at the code prompt in
 * place of a TOTP code; only a BLAKE2b hash bound to the user's uuid is kept (auth.h). A change
 * that sets them is all-or-nothing with the rest (store_before.c): their before-images too. */
static const char secrets_v3[] =
        "CREATE TABLE recovery_codes ("
        "  user_uuid TEXT NOT NULL,"
        "  code_hash BLOB NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  used_at INTEGER,"
        "  PRIMARY KEY (user_uuid, code_hash)) WITHOUT ROWID;"
        "CREATE TABLE before_recovery_codes AS SELECT * FROM recovery_codes WHERE 0;"
        "CREATE INDEX before_recovery_codes_user ON before_recovery_codes (user_uuid);";

/* state.db v1: what logins on this host write. Keyed by user uuid. */
static const char state_v1[] =
        "CREATE TABLE tracking ("
        "  user_uuid TEXT PRIMARY KEY,"
        "  last_login_at INTEGER,"
        "  last_login_ip TEXT,"
        "  current_login_at INTEGER,"
        "  current_login_ip TEXT,"
        "  login_count INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
        "CREATE TABLE tally ("
        "  user_uuid TEXT PRIMARY KEY,"
        "  failures INTEGER NOT NULL,"
        "  first_failure_at INTEGER NOT NULL,"
        "  last_failure_at INTEGER NOT NULL,"
        "  locked_until INTEGER) WITHOUT ROWID;"
        "CREATE TABLE totp_used ("
        "  user_uuid TEXT PRIMARY KEY,"
        "  last_step INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE login_audit ("
        "  id INTEGER PRIMARY KEY,"
        "  at INTEGER NOT NULL,"
        "  user TEXT NOT NULL,"
        "  service TEXT NOT NULL DEFAULT '',"
        "  rhost TEXT NOT NULL DEFAULT '',"
        "  result TEXT NOT NULL,"
        "  detail TEXT NOT NULL DEFAULT '');";

/* state.db v2: the outbox of a fleet host (FLEET.md, "Write path"). In fleet mode the transaction
 * that records a login's event also appends it here; roles-agent ships the rows to PostgreSQL,
 * which keys them by (host, id), and deletes what was acknowledged. AUTOINCREMENT: an id is never
 * handed out twice, so a row shipped again after a crash is recognised, never counted twice. And
 * ids start at the outbox's creation time, 2^20 a second: a state.db made again (lost, removed)
 * hands out none the fleet has had from this host, which it would drop as sent twice (the file
 * before would have had to hand out a million ids for every second between the two creations;
 * a restored one is raised above the live file's, store_backup.c). 2^20 a second stays below
 * 2^53 for a century: exact as a JSON number too. The
 * index finds the oldest successes, the first to go when the outbox is full (store_state.c). */
static const char state_v2[] =
        "CREATE TABLE outbox ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  at INTEGER NOT NULL,"
        "  kind TEXT NOT NULL CHECK (kind IN ('failure', 'success', 'totp_step', 'rehash')),"
        "  user_uuid TEXT NOT NULL,"
        "  service TEXT NOT NULL DEFAULT '',"
        "  rhost TEXT NOT NULL DEFAULT '',"
        "  step INTEGER,"
        "  detail TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX outbox_kind ON outbox (kind, id);"
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', " SQL_OUTBOX_ID_FLOOR ");";

struct table {
        const char *name;
        int since;                      /* the version that added it */
        int until;                      /* the version that dropped it, 0 if none did */
};

struct schema {
        const char *file;               /* for messages */
        int version;                    /* what this code writes */
        int readable_from;              /* the oldest version readers use as it is (only writers migrate) */
        const char *const *migrations;  /* migrations[n]: version n -> n + 1 */
        const struct table *tables;     /* every table of the current version, NULL-terminated */
};

static const char *const public_migrations[] = { public_v1, public_v2, public_v3 };
static const char *const secrets_migrations[] = { secrets_v1, secrets_v2, secrets_v3 };
static const char *const state_migrations[] = { state_v1, state_v2 };

static const struct table public_tables[] = {
        { "meta", 1, 0 }, { "users", 1, 0 }, { "groups", 1, 0 }, { "group_members", 1, 0 }, { "metaroles", 1, 0 },
        { "metarole_includes", 1, 0 }, { "metarole_perms", 1, 0 }, { "roles", 1, 0 }, { "role_perms", 1, 0 },
        { "role_assignments", 1, 0 }, { "group_member_list", 1, 3 }, { "user_gid_list", 1, 3 },
        { "passwd_buckets", 1, 3 }, { "group_buckets", 1, 3 }, { "metarole_closure", 1, 0 }, { "metarole_grants", 1, 0 }, { "retired_ids", 2, 0 }, { NULL, 0, 0 },
};
static const struct table secrets_tables[] = {
        { "credentials", 1, 0 }, { "codes", 1, 0 }, { "audit", 1, 0 }, { "publishing", 2, 0 }, { "before_users", 2, 0 },
        { "before_credentials", 2, 0 }, { "before_codes", 2, 0 }, { "recovery_codes", 3, 0 },
        { "before_recovery_codes", 3, 0 }, { NULL, 0, 0 },
};
static const struct table state_tables[] = {
        { "tracking", 1, 0 }, { "tally", 1, 0 }, { "totp_used", 1, 0 }, { "login_audit", 1, 0 }, { "outbox", 2, 0 }, { NULL, 0, 0 },
};

static const struct schema schemas[] = {
        /* Only writers read retired_ids, and only NSS read the tables version 3 dropped: readers
         * read a version 1 or 2 roles.db as it is, so that logins go on after an upgrade until the
         * first change migrates it (and compiles roles.nss). */
        [STORE_PUBLIC]  = { "roles.db", ROLES_SCHEMA_PUBLIC, 1, public_migrations, public_tables },
        /* A version 1 secrets.db has no before-images, so no change of it can be in flight:
         * readers read its tables as they are, and logins go on after an upgrade until a writer
         * migrates the file (store_before.c). Below version 3, no user has recovery codes. */
        [STORE_SECRETS] = { "secrets.db", ROLES_SCHEMA_SECRETS, 1, secrets_migrations, secrets_tables },
        /* Only fleet logins write the outbox, and only into a version 2 file (store_state.c): a
         * version 1 state.db serves logins as it is until a writer (rolesctl, roles-agent's
         * round) migrates it. */
        [STORE_STATE]   = { "state.db", ROLES_SCHEMA_STATE, 1, state_migrations, state_tables },
};

/*
 * A file of the right version that lacks one of its tables was damaged or edited by hand.
 * Used anyway, it would answer from the tables that are left: a group whose members resolve
 * no more, a login allowed while its failures could not be counted. So it is refused whole,
 * as a newer file is.
 */
/*
 * Every table the code reads is there. Asked of the schema SQLite has already parsed (a hash
 * lookup per table, loading the schema if this is the connection's first question), not with
 * SQL: this runs on every open, in every login and in every process's first name lookup.
 */
static int check_tables(struct roles_store *s, sqlite3 *db, const struct schema *sc, int version) {
        for (const struct table *t = sc->tables; t->name; t++) {
                if (t->since > version || (t->until && t->until <= version))
                        continue;
                /* No column named: only whether the table exists (a view is an error too). */
                int rc = sqlite3_table_column_metadata(db, "main", t->name, NULL, NULL, NULL, NULL, NULL, NULL);
                if (rc == SQLITE_ERROR)
                        return store_fail(s, -EPROTO, "%s has no table '%s': damaged or edited by hand; restore it from a backup",
                                          sc->file, t->name);
                if (rc != SQLITE_OK)
                        return store_sql_fail(s, db, rc, sc->file);
        }
        return 0;
}

static int read_version(struct roles_store *s, sqlite3 *db, const char *file, int *ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                int r = store_sql_fail(s, db, rc, file);
                sqlite3_finalize(st);
                return r;
        }
        *ret = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return 0;
}

/* 0 when the file was current (or, for a reader, old enough to read as it is), 1 when it was
 * migrated, -errno. *ret_version (may be NULL): the version the file now has. */
int store_schema_check(struct roles_store *s, sqlite3 *db, enum store_file which, bool migrate, int *ret_version) {
        const struct schema *sc = &schemas[which];
        int version = 0, r;

        r = read_version(s, db, sc->file, &version);
        if (r < 0)
                return r;
        if (version > sc->version)
                return store_fail(s, -EPROTO, "%s has schema version %d, newer than this build of roles knows (%d); "
                                  "upgrade roles", sc->file, version, sc->version);
        if (version == sc->version || (!migrate && version >= sc->readable_from && version > 0)) {
                r = check_tables(s, db, sc, version);
                if (r >= 0 && ret_version)
                        *ret_version = version;
                return r;
        }
        /* Version 0 is an empty file (or not a roles database): only init creates a schema
         * there. A writer that did would replace a roles.db truncated to nothing with an
         * empty one, and leave every user's secrets to be purged as orphans. */
        if (!migrate || (version == 0 && !s->create)) {
                if (version == 0)
                        return store_fail(s, -ENOENT, "%s is empty: restore it from a backup (or start afresh with "
                                          "'rolesctl init')", sc->file);
                return store_fail(s, -EPROTO, "%s has schema version %d, older than this build (%d): "
                                  "run 'rolesctl init' to migrate it", sc->file, version, sc->version);
        }

        /* The caller holds a transaction (or a staged copy), so a failed step changes nothing. */
        for (; version < sc->version; version++) {
                r = store_exec_script(s, db, sc->migrations[version]);
                if (r < 0) {
                        char prefix[128];
                        snprintf(prefix, sizeof(prefix), "%s: migration to version %d failed: ", sc->file, version + 1);
                        return store_fail_prefixed(s, r, prefix);
                }
                char pragma[64];
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
                r = store_exec_script(s, db, pragma);
                if (r < 0)
                        return r;
        }
        r = check_tables(s, db, sc, version);
        if (r < 0)
                return r;
        if (ret_version)
                *ret_version = version;
        return 1;
}

/* At most 64 bytes of a schema row's text for a message: printable ASCII, '?' for the rest. */
static void printable(const unsigned char *text, char out[65]) {
        size_t n = 0;
        for (; text && text[n] && n < 64; n++)
                out[n] = text[n] >= 0x20 && text[n] < 0x7f ? (char) text[n] : '?';
        out[n] = '\0';
}

/*
 * A file restored from an archive holds what its writer put in it, schema included, and SQLite
 * builds each schema object from its row's sql, whatever the row's type or name say. A trigger
 * in roles.db would fire in every later writer (which turns triggers on for its own, and counts
 * those of type 'trigger' only): an account the administrator disables or deletes put back at
 * once. A table of another shape would take copy_rows' values in other columns. So every row of
 * the file's schema must be one the migrations of this build write up to the file's version, word
 * for word (compared with an empty file made here; ANALYZE's sqlite_stat1, which only steers
 * query plans, allowed): checked before any migration runs its statements on the file's tables.
 */
int store_schema_check_objects(struct roles_store *s, sqlite3 *db, enum store_file which) {
        const struct schema *sc = &schemas[which];
        sqlite3 *made = NULL;
        sqlite3_stmt *rd = NULL, *find = NULL;
        int version = 0, rc;

        int r = read_version(s, db, sc->file, &version);
        if (r < 0 || version > sc->version)
                return r;       /* a newer file: store_schema_check says so */
        rc = sqlite3_open_v2(":memory:", &made, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE,
                             NULL);
        if (rc != SQLITE_OK) {
                r = store_fail(s, -ENOMEM, "cannot open a database in memory: %s", sqlite3_errstr(rc));
                goto out;
        }
        if ((r = store_harden(s, made)) < 0)
                goto out;
        for (int v = 0; v < version && r >= 0; v++)
                r = store_exec_script(s, made, sc->migrations[v]);
        if (r >= 0)
                r = store_exec_script(s, made, "ANALYZE");
        if (r < 0)
                goto out;
        rc = sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM main.sqlite_schema", -1, &rd, NULL);
        if (rc != SQLITE_OK) {
                r = store_sql_fail(s, db, rc, sc->file);
                goto out;
        }
        if ((rc = sqlite3_prepare_v2(made, "SELECT 1 FROM main.sqlite_schema WHERE type = ?1 AND name = ?2 AND "
                                     "tbl_name = ?3 AND sql IS ?4", -1, &find, NULL)) != SQLITE_OK) {
                r = store_sql_fail(s, made, rc, "schema");
                goto out;
        }
        while ((rc = sqlite3_step(rd)) == SQLITE_ROW) {
                for (int i = 0; i < 4; i++)
                        sqlite3_bind_value(find, i + 1, sqlite3_column_value(rd, i));
                rc = sqlite3_step(find);
                sqlite3_reset(find);
                if (rc == SQLITE_ROW)
                        continue;
                if (rc != SQLITE_DONE) {
                        r = store_sql_fail(s, made, rc, "schema");
                        goto out;
                }
                char type[65], name[65];
                printable(sqlite3_column_text(rd, 0), type);
                printable(sqlite3_column_text(rd, 1), name);
                r = store_fail(s, -EBADMSG, "%s holds %s '%s', which this build of roles does not make (or not so): "
                               "edited by hand, or not a roles file", sc->file, type, name);
                goto out;
        }
        if (rc != SQLITE_DONE)
                r = store_sql_fail(s, db, rc, sc->file);
out:
        sqlite3_finalize(rd);
        sqlite3_finalize(find);
        sqlite3_close_v2(made);
        return r;
}
