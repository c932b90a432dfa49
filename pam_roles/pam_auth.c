/* SPDX-License-Identifier: MIT */
/*
 * auth: the password (argon2id, or a crypt(3) hash brought in by import, upgraded on success),
 * then a TOTP code when the user has enrolled; or, in place of the password, a pending
 * activation or reset code, after which the account must set a password.
 *
 * Every path that is not a full success ends in a failure code, and unknown users, locked
 * accounts and accounts without a password all pay one argon2 verification, as a wrong password
 * does, so that neither the answer nor its time tells them apart.
 */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "auth.h"
#include "pam-roles.h"

/*
 * What unknown users, locked accounts and accounts without a password are verified against: an
 * argon2id string with the configured parameters and a fixed salt and digest that no password
 * produces. Verifying it costs one argon2 computation, exactly what a wrong password costs; it
 * is built, not hashed, because libpam unloads the module after every transaction and a hash
 * made on first use would double the time of the first (often the only) call.
 */
static void equal_time_verify(const struct pam_roles *p, const char *password, size_t len) {
        struct roles_hash_params params, ceiling;
        char dummy[ROLES_HASH_ENCODED_MAX];
        roles_hash_params_from_config(&p->cfg, &params);
        roles_hash_ceiling_from_config(&p->cfg, &ceiling);
        snprintf(dummy, sizeof(dummy), "$argon2id$v=19$m=%u,t=%u,p=%u$cm9sZXMtZHVtbXktc2FsdA"
                 "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", params.m_cost_kib, params.t_cost, params.parallelism);
        (void) roles_password_verify(dummy, password, len, &ceiling);
}

/* A typed secret that is a pending, unexpired activation or reset code of this user: consume it. */
static int try_code(struct pam_roles *p, const char *typed) {
        static const enum roles_code_kind kinds[] = { ROLES_CODE_ACTIVATION, ROLES_CODE_RESET };
        time_t now = roles_store_now(p->store);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(kinds); i++) {
                struct roles_code_row row;
                if (roles_secret_get_code(p->store, p->u.uuid, kinds[i], &row) < 0 || row.used_at ||
                    row.expires_at <= (int64_t) now || !roles_code_matches(row.hash, typed, p->u.uuid))
                        continue;
                /* The store's single-use gate decides between racing logins. */
                int r = roles_secret_use_code(p->store, p->u.uuid, kinds[i], row.hash);
                if (r == 0)
                        r = roles_secret_set_must_change(p->store, p->u.uuid, true);
                return r;
        }
        return -EACCES;
}

static int check_totp(struct pam_roles *p, const char *secret) {
        char *code = NULL;
        int64_t last, step;
        int r = pam_roles_prompt(p, "Verification code: ", &code);
        if (r != PAM_SUCCESS)
                return r;
        r = roles_state_totp_last(p->store, p->u.uuid, &last);
        if (r == 0)
                r = roles_totp_verify(secret, code, roles_store_now(p->store), p->cfg.totp_window, last, &step);
        if (r == 0)
                r = roles_state_totp_claim(p->store, p->u.uuid, step);       /* once, even when racing */
        explicit_bzero(code, strlen(code));
        free(code);
        return r == 0 ? PAM_SUCCESS : PAM_AUTH_ERR;
}

/*
 * Record a failure: the tally (for a known user) and the login audit in one state.db
 * transaction, so that an unknown user's refusal writes as much, and takes as long, as a
 * known user's.
 */
static void count_failure(struct pam_roles *p, const char *why) {
        struct roles_tally t;
        const void *service = NULL, *rhost = NULL;
        pam_get_item(p->pamh, PAM_SERVICE, &service);
        pam_get_item(p->pamh, PAM_RHOST, &rhost);
        if (rhost && !roles_text_valid(rhost, ROLES_TEXT_MAX))
                rhost = NULL;
        int r = roles_state_begin(p->store);
        if (r >= 0 && p->known)
                r = roles_state_tally_fail(p->store, p->u.uuid, roles_store_now(p->store), p->cfg.deny,
                                           p->cfg.fail_interval, p->cfg.unlock_time, &t);
        if (r >= 0)
                r = roles_state_audit_login(p->store, pam_roles_user_for_log(p), service, rhost, "failure", why);
        if (r >= 0)
                r = roles_state_end(p->store, true);
        if (r < 0) {
                pam_syslog(p->pamh, LOG_ERR, "recording a failure: %s", roles_store_error(p->store));
                (void) roles_state_end(p->store, false);
        }
        pam_syslog(p->pamh, LOG_NOTICE, "authentication failure for %s: %s", pam_roles_user_for_log(p), why);
}

/* Upgrade a legacy or weaker hash to the configured argon2id, now that the password is known. */
static void maybe_rehash(struct pam_roles *p, const char *stored, const char *password, size_t len) {
        struct roles_hash_params params;
        char fresh[ROLES_HASH_ENCODED_MAX];
        roles_hash_params_from_config(&p->cfg, &params);
        if (!roles_password_needs_rehash(stored, &params))
                return;
        if (roles_password_hash(password, len, &params, fresh) == 0 &&
            roles_secret_rehash(p->store, p->u.uuid, stored, fresh) < 0)
                pam_syslog(p->pamh, LOG_WARNING, "rehashing the password of %s: %s", pam_roles_user_for_log(p), roles_store_error(p->store));
        roles_wipe(fresh, sizeof(fresh));
}

int pam_roles_authenticate(struct pam_roles *p) {
        struct roles_secret sec = { 0 };
        struct roles_tally tally = { 0 };
        struct roles_hash_params ceiling;
        const char *password = NULL;
        int r, status = PAM_AUTH_ERR;

        r = pam_get_authtok(p->pamh, PAM_AUTHTOK, &password, NULL);
        if (r != PAM_SUCCESS || !password)
                return r == PAM_SUCCESS ? PAM_AUTH_ERR : r;
        size_t len = strlen(password);
        roles_hash_ceiling_from_config(&p->cfg, &ceiling);

        if (!p->known) {
                equal_time_verify(p, password, len);
                count_failure(p, "unknown user");
                return PAM_USER_UNKNOWN;
        }
        r = roles_secret_get(p->store, p->u.uuid, &sec);
        if (r < 0) {
                equal_time_verify(p, password, len);
                count_failure(p, "no secrets row");
                return PAM_AUTH_ERR;
        }
        r = roles_state_tally_get(p->store, p->u.uuid, roles_store_now(p->store), &tally);
        if (r < 0 || tally.locked_until != 0) {
                equal_time_verify(p, password, len);
                count_failure(p, r < 0 ? "tally unreadable" : "locked out");
                goto out;
        }

        if (sec.password_hash[0]) {
                r = roles_password_verify_stored(sec.password_hash, password, len, &ceiling);
                /* A crypt(3) hash is far quicker to refuse than argon2id: pay the difference, so
                 * the time does not tell which accounts still have one. */
                if (r < 0 && strncmp(sec.password_hash, ROLES_HASH_LEGACY_CRYPT, strlen(ROLES_HASH_LEGACY_CRYPT)) == 0)
                        equal_time_verify(p, password, len);
        } else {
                equal_time_verify(p, password, len);
                r = -EACCES;
        }
        bool by_code = false;
        if (r == -EACCES && try_code(p, password) == 0)
                by_code = true;
        else if (r < 0) {
                count_failure(p, r == -EACCES ? "wrong password" : r == -E2BIG ? "hash above the ceiling" : "bad stored hash");
                goto out;
        }

        if (sec.totp_secret[0] && !p->opt.no_totp && !by_code) {
                status = check_totp(p, sec.totp_secret);
                if (status != PAM_SUCCESS) {
                        count_failure(p, "wrong or reused verification code");
                        goto out;
                }
        }
        if (!by_code)
                maybe_rehash(p, sec.password_hash, password, len);
        /* A write to state.db only when there is a count to clear: most logins have none. */
        if (tally.failures > 0 && roles_state_tally_reset(p->store, p->u.uuid) < 0) {
                status = pam_roles_error(p, -EIO, "clearing the failure count");
                goto out;
        }
        status = PAM_SUCCESS;
        if (p->opt.debug)
                pam_syslog(p->pamh, LOG_DEBUG, "authenticated %s%s", pam_roles_user_for_log(p), by_code ? " with a one-time code" : "");
out:
        roles_secret_wipe(&sec);
        return status;
}
