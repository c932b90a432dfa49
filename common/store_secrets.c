/* SPDX-License-Identifier: MIT */
/* secrets.db (credentials, one-time codes) and the state.db operations an administrator makes. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "store-internal.h"


void roles_secret_wipe(struct roles_secret *sec) {
        /* explicit_bzero cannot be optimised away, unlike memset on a dying object. */
        explicit_bzero(sec, sizeof(*sec));
}

const char *const store_code_kinds[] = {
        [ROLES_CODE_ACTIVATION] = "activation",
        [ROLES_CODE_RESET] = "reset",
};

/* The text columns of SQL_CREDENTIALS_READ and the room roles_secret_get has for them. */
#define SECRET_FIELD(col, name) { col, #name, sizeof(((struct roles_secret *) 0)->name) }
static const struct {
        int col;
        const char *name;
        size_t size;
} credentials_text[] = {
        SECRET_FIELD(0, password_hash),
        SECRET_FIELD(3, fs_uniquifier),
        SECRET_FIELD(5, email),
        SECRET_FIELD(6, totp_secret),
};
enum { COL_TOTP_SECRET = 6, TEXT_TOTP_SECRET = 3 };

/* The integer columns of SQL_CREDENTIALS_READ and SQL_CODE_READ: another type would read as 0
 * (a must-change flag of 'yes' as "no", a used_at of 'spent' as "not spent"). */
struct int_column {
        int col;
        const char *name;
        bool nullable;
};
static const struct int_column credentials_int[] = {
        { 1, "password_changed_at", true },
        { 2, "must_change_password", false },
        { 4, "last_auth_sensitive_operation_at", true },
        { 7, "activated_at", true },
};
static const struct int_column code_int[] = {
        { 1, "expires_at", false },
        { 2, "used_at", true },
};

static int int_columns_check(sqlite3_stmt *st, const struct int_column *cols, size_t n, struct store_row_flaw *ret) {
        for (size_t i = 0; i < n; i++) {
                const char *what = NULL;
                if (store_col_int_check(st, cols[i].col, cols[i].nullable, &what) < 0) {
                        *ret = (struct store_row_flaw) { cols[i].name, what };
                        return -EBADMSG;
                }
        }
        return 0;
}

/* Text column i of credentials_text as the login reader takes it: 0 NULL, 1 text, -EBADMSG
 * (*ret says why), -ENOMEM. */
static int credentials_text_check(sqlite3_stmt *st, size_t i, struct store_row_flaw *ret) {
        const char *what = NULL;
        int r = store_col_text_check(st, credentials_text[i].col, credentials_text[i].size, &what);
        /* Enrolled is not NULL (as listings count it): an empty secret is a damaged one, not "not
         * enrolled", or the second factor would be skipped. */
        if (r > 0 && credentials_text[i].col == COL_TOTP_SECRET && sqlite3_column_bytes(st, COL_TOTP_SECRET) == 0) {
                what = "is empty";
                r = -EBADMSG;
        }
        if (r == -EBADMSG)
                *ret = (struct store_row_flaw) { credentials_text[i].name, what };
        return r;
}

int store_secret_row_check(sqlite3_stmt *st, struct store_row_flaw *ret) {
        for (size_t i = 0; i < ROLES_N_ELEMENTS(credentials_text); i++) {
                int r = credentials_text_check(st, i, ret);
                if (r < 0)
                        return r;
        }
        return int_columns_check(st, credentials_int, ROLES_N_ELEMENTS(credentials_int), ret);
}

#define CODE_HASH_LEN sizeof(((struct roles_code_row *) 0)->hash)
_Static_assert(CODE_HASH_LEN == ROLES_RECOVERY_HASH_LEN, "one hash check for both kinds of code");

/* A code's hash as a login compares it: a 32-byte BLOB, or it can never match. */
static int code_hash_check(sqlite3_value *hash, struct store_row_flaw *ret) {
        if (sqlite3_value_type(hash) != SQLITE_BLOB || (size_t) sqlite3_value_bytes(hash) != CODE_HASH_LEN) {
                *ret = (struct store_row_flaw) { "code_hash", "is not a 32-byte BLOB" };
                return -EBADMSG;
        }
        return 0;
}

int store_code_row_check(sqlite3_stmt *st, struct store_row_flaw *ret) {
        int r = code_hash_check(sqlite3_column_value(st, 0), ret);
        return r < 0 ? r : int_columns_check(st, code_int, ROLES_N_ELEMENTS(code_int), ret);
}

static int recovery_check(sqlite3_value *hash, sqlite3_value *used_at, struct store_row_flaw *ret) {
        const char *what = NULL;
        int r = code_hash_check(hash, ret);
        if (r >= 0 && store_value_int_check(used_at, true, &what) < 0) {
                *ret = (struct store_row_flaw) { "used_at", what };
                r = -EBADMSG;
        }
        return r;
}

int store_recovery_row_check(sqlite3_stmt *st, struct store_row_flaw *ret) {
        return recovery_check(sqlite3_column_value(st, 0), sqlite3_column_value(st, 1), ret);
}

/* roles_recovery_usable(code_hash, used_at): 1 for a code a login can spend, else 0. */
static void sql_recovery_usable(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
        struct store_row_flaw flaw;
        (void) argc;
        sqlite3_result_int(ctx, recovery_check(argv[0], argv[1], &flaw) == 0 &&
                                sqlite3_value_type(argv[1]) == SQLITE_NULL);
}

int store_sql_functions(struct roles_store *s, sqlite3 *db) {
        /* DIRECTONLY: for this code's own statements, never a schema's (a view, a trigger). */
        int rc = sqlite3_create_function_v2(db, "roles_recovery_usable", 2,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                            sql_recovery_usable, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : store_sql_fail(s, db, rc, "define SQL functions");
}

/* The login's words for what store_secret_row_check or store_code_row_check refused. */
static int refuse_row(struct roles_store *s, int r, const struct store_row_flaw *flaw) {
        if (r == -EBADMSG)
                return store_fail(s, r, "secrets.db holds a malformed row: %s %s (run 'rolesctl doctor')",
                                  flaw->column, flaw->what);
        return store_fail(s, r, "out of memory reading secrets.db");
}

/* The user's credentials row at st (SQL_CREDENTIALS_READ): 1, -ENOENT when there is none, -errno.
 * The caller resets st. */
static int credentials_row(struct roles_store *s, const char *uuid, sqlite3_stmt **ret_st) {
        sqlite3_stmt *st = store_stmt(s, s->sec, store_secrets_sql(s, SECRETS_READ(
                "SELECT " SQL_CREDENTIALS_READ " FROM ", "credentials", " WHERE user_uuid = ?1")));
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        int r = store_bind_serial(s, st);
        if (r >= 0)
                r = store_step_row(s, st);
        if (r == 0)
                r = store_fail(s, -ENOENT, "no secrets row for this user (run 'rolesctl doctor')");
        *ret_st = st;
        return r;
}

int roles_secret_get(const struct roles_secrets *secrets, const char *uuid, struct roles_secret *ret) {
        struct roles_store *s = store_of_secrets(secrets);
        struct roles_secret sec = { 0 };
        struct store_row_flaw flaw;
        sqlite3_stmt *st = NULL;

        int r = credentials_row(s, uuid, &st);
        if (r > 0 && (r = store_secret_row_check(st, &flaw)) < 0)
                r = refuse_row(s, r, &flaw);
        if (r >= 0) {
                sec.password_changed_at = sqlite3_column_int64(st, 1);
                sec.must_change_password = sqlite3_column_int(st, 2) != 0;
                sec.last_auth_sensitive_operation_at = sqlite3_column_int64(st, 4);
                sec.activated_at = sqlite3_column_int64(st, 7);
                if ((r = store_col_text(s, st, 0, sec.password_hash, sizeof(sec.password_hash))) >= 0 &&
                    (r = store_col_text(s, st, 3, sec.fs_uniquifier, sizeof(sec.fs_uniquifier))) >= 0 &&
                    (r = store_col_text(s, st, 5, sec.email, sizeof(sec.email))) >= 0)
                        r = store_col_text(s, st, COL_TOTP_SECRET, sec.totp_secret, sizeof(sec.totp_secret));
        }
        if (st)
                sqlite3_reset(st);
        if (r < 0) {
                roles_secret_wipe(&sec);
                return r;
        }
        *ret = sec;
        roles_secret_wipe(&sec);
        return 0;
}

int roles_secret_totp_enrolled(const struct roles_secrets *secrets, const char *uuid) {
        struct roles_store *s = store_of_secrets(secrets);
        struct store_row_flaw flaw;
        sqlite3_stmt *st = NULL;

        /* Only the secret, by the login's rule for it: what else the row holds is no business of
         * the commands that mend the secret, and must not stop them. */
        int r = credentials_row(s, uuid, &st);
        if (r > 0 && (r = credentials_text_check(st, TEXT_TOTP_SECRET, &flaw)) == -EBADMSG)
                r = store_fail(s, r, "secrets.db holds a damaged TOTP secret: %s %s", flaw.column, flaw.what);
        else if (r == -ENOMEM)
                r = refuse_row(s, r, &flaw);
        if (st)
                sqlite3_reset(st);
        return r;
}

/*
 * Several secrets.db writes made one, outside a writer (whose transaction holds them already):
 * outside a transaction, the savepoint is one, and its RELEASE commits; nested, it is undone
 * alone. A RELEASE that fails (busy) leaves the savepoint open, so a failure then ends it with
 * ROLLBACK. release: r, the work's result, or the RELEASE's failure; either rolls back.
 */
static int secrets_savepoint(struct roles_store *s, bool *ret_outermost) {
        *ret_outermost = sqlite3_get_autocommit(s->sec);
        return store_exec_script(s, s->sec, "SAVEPOINT secrets_write");
}

static int secrets_release(struct roles_store *s, bool outermost, int r) {
        if (r >= 0)
                r = store_exec_script(s, s->sec, "RELEASE secrets_write");
        if (r < 0)
                sqlite3_exec(s->sec, outermost ? "ROLLBACK" : "ROLLBACK TO secrets_write; RELEASE secrets_write", NULL,
                             NULL, NULL);
        return r;
}

/*
 * Write a user's secrets rows (SQL[0]; SQL[1] is the same write of the before-images): in a
 * writer, once their before-image is kept; outside one (PAM), to both, in one transaction, so
 * that the write holds whichever way a publish in flight ends (store_before.c); a version 1
 * file has no before-images. Returns the rows changed, or -errno.
 */
int store_secrets_write(struct roles_store *s, const char *uuid, const char *const sql[2], const char *types, ...) {
        va_list ap;
        int r;

        if (s->writer) {
                if ((r = store_hook_keep_before(s, uuid)) < 0)
                        return r;
                va_start(ap, types);
                r = store_vexec(s, s->sec, sql[0], types, ap);
                va_end(ap);
                return r;
        }
        bool outermost;
        if ((r = secrets_savepoint(s, &outermost)) < 0)
                return r;
        int changed = 0;
        for (int i = 0; i < (s->sec_version >= 2 ? 2 : 1) && r >= 0; i++) {
                va_start(ap, types);
                r = store_vexec(s, s->sec, sql[i], types, ap);
                va_end(ap);
                changed += r > 0 ? r : 0;
        }
        r = secrets_release(s, outermost, r);
        return r < 0 ? r : changed;
}

int store_require_credentials(struct roles_store *s, int r) {
        if (r == 0)
                return store_fail(s, -ENOENT, "no secrets row for this user (run 'rolesctl doctor')");
        return r < 0 ? r : 0;
}

int roles_secret_set_password(struct roles_secrets *sec, const char *uuid, const char *encoded_hash, bool must_change) {
        struct roles_store *s = store_of_secrets(sec);
        char fs_uniquifier[ROLES_UUID_LEN + 1];
        int r;
        if (!encoded_hash || !*encoded_hash || strlen(encoded_hash) >= sizeof(((struct roles_secret *) 0)->password_hash))
                return store_fail(s, -EINVAL, "invalid password hash");
        if ((r = roles_uuid_new(fs_uniquifier)) < 0)
                return store_fail(s, r, "no randomness for a uuid");
        int64_t now = store_now(s);
        /* A new password ends every older session: bump the sensitive-operation time and the
         * uniquifier that Flask-Security style tokens are bound to. It writes every column a
         * login takes but the email and the TOTP secret, so that it mends them all (doctor names
         * it): an activated_at logins refuse (not an integer, store_col_int_check) becomes NULL,
         * "not activated by a first password", since what it was cannot be known; an account the
         * administrator activated (roles.db) stays activated. */
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials",
                          " SET password_hash = ?2, password_changed_at = ?3, must_change_password = ?4, "
                          "last_auth_sensitive_operation_at = ?3, fs_uniquifier = ?5, "
                          "activated_at = CASE WHEN typeof(activated_at) = 'integer' THEN activated_at END "
                          "WHERE user_uuid = ?1"),
                          "ttiit", uuid, encoded_hash, now, (int64_t) must_change, fs_uniquifier);
        return store_require_credentials(s, r);
}

int roles_secret_change_password(struct roles_secrets *sec, const char *uuid, const char *encoded_hash, bool activate) {
        struct roles_store *s = store_of_secrets(sec);
        bool outermost;
        int r;
        /* All or nothing: a password stored while the codes stay valid would be reported "not
         * changed", and a reset code that was meant to be spent by it could still be used. */
        if ((r = secrets_savepoint(s, &outermost)) < 0)
                return r;
        r = roles_secret_set_password(sec, uuid, encoded_hash, false);
        if (r >= 0 && activate)
                r = roles_secret_set_activated(sec, uuid);
        if (r >= 0)
                r = roles_secret_drop_codes(sec, uuid);
        r = secrets_release(s, outermost, r);
        return r < 0 ? r : 0;
}

int roles_secret_get_code(const struct roles_secrets *sec, const char *uuid, enum roles_code_kind kind, struct roles_code_row *ret) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        sqlite3_stmt *st = store_stmt(s, s->sec, store_secrets_sql(s, SECRETS_READ(
                "SELECT " SQL_CODE_READ " FROM ", "codes", " WHERE user_uuid = ?1 AND kind = ?2")));
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, store_code_kinds[kind], -1, SQLITE_STATIC);
        r = store_bind_serial(s, st);
        if (r >= 0)
                r = store_step_row(s, st);
        if (r == 0)
                r = store_fail(s, -ENOENT, "no %s code pending", store_code_kinds[kind]);
        struct store_row_flaw flaw;
        if (r > 0 && (r = store_code_row_check(st, &flaw)) < 0)
                r = refuse_row(s, r, &flaw);
        if (r >= 0) {
                const void *hash = sqlite3_column_blob(st, 0);
                if (!hash)
                        r = store_fail(s, -ENOMEM, "out of memory reading secrets.db");
                else {
                        memcpy(ret->hash, hash, CODE_HASH_LEN);
                        ret->expires_at = sqlite3_column_int64(st, 1);
                        ret->used_at = sqlite3_column_int64(st, 2);
                        r = 0;
                }
        }
        sqlite3_reset(st);
        return r;
}

int roles_secret_use_code(struct roles_secrets *sec, const char *uuid, enum roles_code_kind kind,
                          const uint8_t hash[static 32]) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        /* The single-use gate, even for racing logins: only the code that was verified (not one
         * reissued meanwhile), only while it is unused and unexpired. */
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "codes",
                          " SET used_at = ?3 WHERE user_uuid = ?1 AND kind = ?2 AND code_hash = ?4 "
                          "AND used_at IS NULL AND expires_at > ?3"),
                          "ttib", uuid, store_code_kinds[kind], (int64_t) store_now(s), hash);
        if (r == 0) {
                struct roles_code_row row;
                r = roles_secret_get_code(store_secrets(s), uuid, kind, &row);
                if (r < 0)
                        return r;
                if (row.used_at)
                        return store_fail(s, -EALREADY, "the %s code was already used", store_code_kinds[kind]);
                return store_fail(s, -ESTALE, "the %s code has expired or was replaced", store_code_kinds[kind]);
        }
        return r < 0 ? r : 0;
}

int roles_secret_recovery_left(const struct roles_secrets *sec, const char *uuid, unsigned *ret) {
        struct roles_store *s = store_of_secrets(sec);
        if (s->sec_version < 3) {
                *ret = 0;
                return 0;
        }
        sqlite3_stmt *st = store_stmt(s, s->sec, "SELECT count(*) FROM " SQL_SECRETS_SEEN("recovery_codes")
                                      " WHERE user_uuid = ?1 AND " SQL_RECOVERY_USABLE);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        int r = store_bind_serial(s, st);
        if (r >= 0)
                r = store_step_row(s, st);
        if (r > 0) {
                *ret = (unsigned) sqlite3_column_int64(st, 0);
                r = 0;
        }
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int roles_secret_use_recovery_code(struct roles_secrets *sec, const char *uuid,
                                   const uint8_t hash[static ROLES_RECOVERY_HASH_LEN]) {
        struct roles_store *s = store_of_secrets(sec);
        if (s->sec_version < 3)
                return store_fail(s, -EACCES, "no such recovery code");
        /* The codes this reader's snapshot has (SQL_SECRETS_SEEN): after a published change that
         * renewed them, the old ones stay as before-images until the next writer, and must not
         * count. */
        sqlite3_stmt *st = store_stmt(s, s->sec, "SELECT " SQL_RECOVERY_READ " FROM " SQL_SECRETS_SEEN("recovery_codes")
                                      " WHERE user_uuid = ?1 AND code_hash = ?2");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, hash, ROLES_RECOVERY_HASH_LEN, SQLITE_STATIC);
        struct store_row_flaw flaw;
        bool seen = false;
        int r = store_bind_serial(s, st);
        /* The rule that counts the codes left (SQL_RECOVERY_USABLE): no code is spent that is not
         * counted, and a damaged one is refused as every damaged secrets.db row is. */
        while (r >= 0 && (r = store_step_row(s, st)) > 0) {
                if ((r = store_recovery_row_check(st, &flaw)) < 0) {
                        r = refuse_row(s, r, &flaw);
                        break;
                }
                seen = seen || sqlite3_column_type(st, 1) == SQLITE_NULL;
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        if (!seen)
                return store_fail(s, -EACCES, "no such recovery code");
        /* The single-use gate, even for racing logins: only while unused. The live row and its
         * before-image are spent alike (whichever way a publish in flight ends); either will do. */
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "recovery_codes",
                          " SET used_at = ?3 WHERE user_uuid = ?1 AND code_hash = ?2 AND used_at IS NULL"),
                          "tbi", uuid, hash, (int64_t) store_now(s));
        if (r == 0)
                return store_fail(s, -EACCES, "no such recovery code");
        return r < 0 ? r : 0;
}

int roles_secret_set_activated(struct roles_secrets *sec, const char *uuid) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials",
                          " SET activated_at = coalesce(activated_at, ?2) WHERE user_uuid = ?1"), "ti", uuid, (int64_t) store_now(s));
        return store_require_credentials(s, r);
}

int roles_secret_set_must_change(struct roles_secrets *sec, const char *uuid, bool must_change) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials", " SET must_change_password = ?2 WHERE user_uuid = ?1"),
                          "ti", uuid, (int64_t) must_change);
        return store_require_credentials(s, r);
}

int roles_secret_rehash(struct roles_secrets *sec, const char *uuid, const char *old_hash, const char *new_hash) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        /* Only if nobody changed the password meanwhile; not a password change, so nothing else moves.
         * And without waiting: an administrator's change holds secrets.db's write lock from its
         * start to its commit (a batch, an import), and the login would wait out the busy wait
         * (10 s) for a write that the next login makes as well. */
        store_wait_when_busy(s->sec, false);
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials",
                          " SET password_hash = ?3 WHERE user_uuid = ?1 AND password_hash = ?2"), "ttt", uuid, old_hash, new_hash);
        store_wait_when_busy(s->sec, true);
        return r < 0 ? r : 0;
}

int roles_secret_drop_codes(struct roles_secrets *sec, const char *uuid) {
        struct roles_store *s = store_of_secrets(sec);
        int r;
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "codes", " SET used_at = ?2 WHERE user_uuid = ?1 AND used_at IS NULL"),
                          "ti", uuid, (int64_t) store_now(s));
        return r < 0 ? r : 0;
}
