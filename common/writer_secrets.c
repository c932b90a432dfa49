/* SPDX-License-Identifier: MIT */
/* What the administrator alone changes in secrets.db and state.db (a writer). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"
int roles_secret_set_password_changed_at(struct roles_writer *w, const char *uuid, int64_t at) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (at <= 0)
                return store_fail(s, -EINVAL, "invalid password change time");
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials", " SET password_changed_at = ?2 WHERE user_uuid = ?1"),
                          "ti", uuid, at);
        return store_require_credentials(s, r);
}

int roles_secret_clear_password(struct roles_writer *w, const char *uuid) {
        struct roles_store *s = store_of_writer(w);
        int r;
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials", " SET password_hash = NULL WHERE user_uuid = ?1"),
                          "t", uuid);
        return store_require_credentials(s, r);
}

int roles_secret_set_email(struct roles_writer *w, const char *uuid, const char *email) {
        struct roles_store *s = store_of_writer(w);
        char why[ROLES_WHY_MAX];
        int r;
        if (email && *email && roles_email_check(email, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid email address: %s", why);
        r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials", " SET email = nullif(?2, '') WHERE user_uuid = ?1"),
                          "tt", uuid, email ? email : "");
        return store_require_credentials(s, r);
}

int roles_secret_set_totp(struct roles_writer *w, const char *uuid, const char *base32) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (!base32) {
                r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials",
                                  " SET totp_secret = NULL WHERE user_uuid = ?1 AND totp_secret IS NOT NULL"), "t", uuid);
                if (r == 0)
                        return store_fail(s, -ENOENT, "TOTP is not enrolled");
        } else
                r = store_secrets_write(s, uuid, ON_TABLE("UPDATE ", "credentials", " SET totp_secret = ?2 WHERE user_uuid = ?1"),
                                  "tt", uuid, base32);
        if ((r = store_require_credentials(s, r)) < 0)
                return r;
        /* A new secret starts a new step history. */
        return store_queue_purge(s, uuid, PURGE_TOTP);
}

enum { N_CODE_KINDS = ROLES_CODE_RESET + 1 };

/*
 * The user's codes a login refuses (store_code_row_check), of either kind, removed: a new code
 * takes the place of a damaged one of the other kind too. There is no command for a new
 * activation code, and a reset code serves as well: doctor names user reset for either, which
 * must mend it, not leave it named for ever.
 */
static int drop_damaged_codes(struct roles_store *s, const char *uuid) {
        bool damaged[N_CODE_KINDS] = { false };
        struct store_row_flaw flaw;
        sqlite3_stmt *st = store_stmt(s, s->sec, "SELECT " SQL_CODE_READ ", kind FROM codes WHERE user_uuid = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        int r;
        while ((r = store_step_row(s, st)) > 0) {
                const char *kind = (const char *) sqlite3_column_text(st, 3);
                int k = store_code_row_check(st, &flaw);
                if (k == -ENOMEM) {
                        r = store_fail(s, k, "out of memory reading secrets.db");
                        break;
                }
                for (size_t i = 0; i < N_CODE_KINDS && kind; i++)
                        damaged[i] = damaged[i] || (k == -EBADMSG && strcmp(kind, store_code_kinds[i]) == 0);
        }
        sqlite3_reset(st);
        for (size_t i = 0; i < N_CODE_KINDS && r >= 0; i++)
                if (damaged[i])
                        r = store_secrets_write(s, uuid, ON_TABLE("DELETE FROM ", "codes",
                                          " WHERE user_uuid = ?1 AND kind = ?2"), "tt", uuid, store_code_kinds[i]);
        return r < 0 ? r : 0;
}

int roles_secret_put_code(struct roles_writer *w, const char *uuid, enum roles_code_kind kind,
                          const uint8_t hash[32], int64_t expires_at) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if ((r = drop_damaged_codes(s, uuid)) < 0)
                return r;
        /* A writer's: outside one, the before-image would gain a row its user never had. */
        r = store_secrets_write(s, uuid, ON_TABLE("INSERT OR REPLACE INTO ", "codes",
                          " (user_uuid, kind, code_hash, created_at, expires_at, used_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL)"),
                          "ttbii", uuid, store_code_kinds[kind], hash, (int64_t) store_now(s), expires_at);
        return r < 0 ? r : 0;
}

int roles_secret_set_recovery_codes(struct roles_writer *w, const char *uuid,
                                    const uint8_t (*hashes)[ROLES_RECOVERY_HASH_LEN], size_t n) {
        struct roles_store *s = store_of_writer(w);
        int64_t now = store_now(s);
        /* The old set goes whole, spent codes too: they are a record of nothing now. */
        int r = store_secrets_write(s, uuid, ON_TABLE("DELETE FROM ", "recovery_codes", " WHERE user_uuid = ?1"), "t", uuid);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = store_secrets_write(s, uuid, ON_TABLE("INSERT INTO ", "recovery_codes",
                                  " (user_uuid, code_hash, created_at, used_at) VALUES (?1, ?2, ?3, NULL)"),
                                  "tbi", uuid, hashes[i], now);
        return r < 0 ? r : 0;
}

int roles_state_unlock(struct roles_writer *w, const char *uuid) {
        struct roles_store *s = store_of_writer(w);
        return store_queue_purge(s, uuid, PURGE_TALLY);
}
