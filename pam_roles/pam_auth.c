/* SPDX-License-Identifier: MIT */
/*
 * auth: the password (argon2id, or a crypt(3) hash brought in by import, upgraded on success),
 * then a TOTP code when the user has enrolled; or, in place of the password, a pending
 * activation or reset code, after which the account must set a password.
 *
 * Every path that is not a full success ends in PAM_AUTH_ERR (or a system error before the
 * password is asked), and unknown users, locked or disabled accounts and accounts without a
 * password all pay one argon2 verification and one state.db write, as a wrong password does,
 * so that neither the answer, the messages nor the time tells them apart.
 */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "auth.h"
#include "login_slots.h"
#include "pam-roles.h"

/* The core makes every refusal cost at least one argon2 at the configured parameters, whatever
 * is stored (a cheaper hash, a crypt(3) one, none: ""), which is what an unknown user pays. */
static int verify_stored(const struct pam_roles *p, const char *stored, const char *password, size_t len) {
        struct roles_hash_params params, ceiling;
        roles_hash_params_from_config(&p->cfg, &params);
        roles_hash_ceiling_from_config(&p->cfg, &ceiling);
        return roles_password_verify_stored(stored, password, len, &params, &ceiling);
}

/* Is a typed secret a pending, unexpired activation or reset code of this user? Which one, in
 * *ret_kind and *ret_row: it is consumed only once the login passes the gate (use_code). */
static bool find_code(struct pam_roles *p, const char *typed, enum roles_code_kind *ret_kind,
                      struct roles_code_row *ret_row) {
        static const enum roles_code_kind kinds[] = { ROLES_CODE_ACTIVATION, ROLES_CODE_RESET };
        time_t now = roles_snapshot_now(roles_login_snapshot(p->store));
        for (size_t i = 0; i < ROLES_N_ELEMENTS(kinds); i++) {
                if (roles_secret_get_code(roles_login_secrets(p->store), p->u.uuid, kinds[i], ret_row) < 0 || ret_row->used_at ||
                    ret_row->expires_at <= (int64_t) now || !roles_code_matches(ret_row->hash, typed, p->u.uuid))
                        continue;
                *ret_kind = kinds[i];
                return true;
        }
        return false;
}

/* Consume it; the store's single-use gate decides between racing logins. */
static int use_code(struct pam_roles *p, enum roles_code_kind kind, const struct roles_code_row *row) {
        int r = roles_secret_use_code(roles_login_secrets(p->store), p->u.uuid, kind, row->hash);
        return r < 0 ? r : roles_secret_set_must_change(roles_login_secrets(p->store), p->u.uuid, true);
}

/*
 * The code prompt. *ret_reused: the code is right but of a step this user already used (here or
 * by a racing login). That proves nothing an attacker could not see already (the prompt is only
 * reached with the right password), so it is refused without counting toward deny, and the user
 * is told to wait for the next code: `sudo -l` then `sudo id` within one step must not lock an
 * administrator out.
 */
static int check_totp(struct pam_roles *p, const char *secret, bool *ret_reused) {
        char *code = NULL;
        int64_t last, step;
        *ret_reused = false;
        int r = pam_roles_prompt(p, "Verification code: ", &code);
        if (r != PAM_SUCCESS)
                return r;
        r = roles_state_totp_last(roles_login_secrets(p->store), p->u.uuid, &last);
        if (r == 0)
                r = roles_totp_verify(secret, code, roles_snapshot_now(roles_login_snapshot(p->store)), p->cfg.totp_window, last, &step);
        if (r == 0)
                r = roles_state_totp_claim(roles_login_secrets(p->store), p->u.uuid, step);       /* once, even when racing */
        explicit_bzero(code, strlen(code));
        free(code);
        *ret_reused = r == -EALREADY;
        return r == 0 ? PAM_SUCCESS : PAM_AUTH_ERR;
}

/*
 * A failure's rows, inside the caller's state.db transaction: the tally (for a known user) and
 * the login audit, so that an unknown user's refusal writes as much, and takes as long, as a
 * known user's. A rehearsal (see success_gate) leaves out the lock a count may set: it is on the
 * tally row the count already changed, so SQLite writes the same pages without it.
 */
static int failure_rows(struct pam_roles *p, const char *why, bool rehearse) {
        const void *service = NULL, *rhost = NULL;
        pam_get_item(p->pamh, PAM_SERVICE, &service);
        pam_get_item(p->pamh, PAM_RHOST, &rhost);
        if (rhost && !roles_text_valid(rhost, ROLES_TEXT_MAX))
                rhost = NULL;
        int r = 0;
        if (p->known)
                r = roles_state_tally_fail(roles_login_secrets(p->store), p->u.uuid, roles_snapshot_now(roles_login_snapshot(p->store)), rehearse ? 0 : p->cfg.deny,
                                           p->cfg.fail_interval, p->cfg.unlock_time, NULL);
        if (r >= 0)
                r = roles_state_audit_login(roles_login_secrets(p->store), pam_roles_user_for_log(p), service, rhost, "failure", why);
        return r;
}

static void count_failure(struct pam_roles *p, const char *why) {
        int r = roles_state_begin(roles_login_secrets(p->store));
        if (r >= 0)
                r = failure_rows(p, why, false);
        if (r >= 0)
                r = roles_state_end(roles_login_secrets(p->store), true);
        else
                (void) roles_state_end(roles_login_secrets(p->store), false);
        if (r < 0)
                pam_syslog(p->pamh, LOG_ERR, "recording a failure: %s", roles_login_error(p->store));
        pam_syslog(p->pamh, LOG_NOTICE, "authentication failure for %s: %s", pam_roles_user_for_log(p), why);
}

/*
 * What a right password (or code) passes before anything can tell it was right (the TOTP prompt
 * would), in one state.db write transaction, which waits for the failures racing logins are
 * recording, and holds from its start the lock a commit needs (a reader that never lets go, such
 * as a stopped process, keeps real failures from committing, and so refuses this one too):
 *  - the tally as it now stands: wrong guesses racing this one may have locked the account
 *    while its argon2 ran (it was read before);
 *  - a failure's record, written where its commit would write it, then rolled back (no fsync on
 *    the login path): while state.db cannot take one (a full disk, a read-only filesystem, a
 *    damaged file), wrong passwords go uncounted and guessing is unlimited, so no password may
 *    succeed either.
 * NULL, or why the login is refused; *seen: the tally as it stood.
 */
static const char *success_gate(struct pam_roles *p, struct roles_tally *seen) {
        int r = roles_state_begin_exclusive(roles_login_secrets(p->store));
        if (r >= 0)
                r = roles_state_tally_get(roles_login_secrets(p->store), p->u.uuid, roles_snapshot_now(roles_login_snapshot(p->store)), seen);
        bool locked = r >= 0 && seen->locked_until != 0;
        if (r >= 0 && !locked && (r = failure_rows(p, "(rehearsal)", true)) >= 0)
                r = roles_state_flush(roles_login_secrets(p->store));
        (void) roles_state_end(roles_login_secrets(p->store), false);
        if (r < 0) {
                pam_syslog(p->pamh, LOG_ERR, "failures cannot be counted: %s", roles_login_error(p->store));
                return "failures cannot be counted";
        }
        return locked ? "locked out" : NULL;
}

/* Upgrade a legacy or weaker hash to the configured argon2id, now that the password is known. */
static void maybe_rehash(struct pam_roles *p, const char *stored, const char *password, size_t len) {
        struct roles_hash_params params;
        struct login_slot slot;
        char fresh[ROLES_HASH_ENCODED_MAX];
        roles_hash_params_from_config(&p->cfg, &params);
        /* A new hash takes a slot's memory too; without one, the next login rehashes. */
        if (!roles_password_needs_rehash(stored, &params) || login_slot_take(&p->cfg, &slot) < 0)
                return;
        int r = roles_password_hash(password, len, &params, fresh);
        login_slot_give_back(&slot);
        if (r == 0 &&
            roles_secret_rehash(roles_login_secrets(p->store), p->u.uuid, stored, fresh) < 0)
                pam_syslog(p->pamh, LOG_WARNING, "rehashing the password of %s: %s", pam_roles_user_for_log(p), roles_login_error(p->store));
        roles_wipe(fresh, sizeof(fresh));
}

/*
 * The account and its secrets as they stood at one moment after the password was typed. The
 * prompt may have been open for minutes while an administrator disabled the account, took a
 * role away or set a new password: the read transaction the phase began with is left for one
 * at the state committed last, and the account is read again if that state is another.
 * Otherwise a password set after a disable could be judged with the account of before it
 * (account reads enabled and the permissions from this same store). The secrets are read in
 * that same state (secrets.db's before-images follow roles.db's serial). A user deleted
 * meanwhile: known = false.
 */
static int user_and_secrets_now(struct pam_roles *p, struct roles_secret *ret_sec) {
        int r = roles_snapshot_refresh(roles_login_snapshot(p->store));
        if (r > 0) {
                /* The account as the new state has it, held to the host rule again. */
                r = roles_user_by_name(roles_login_snapshot(p->store), p->user, &p->u);
                if (r == 0 && (r = pam_roles_host_owns_user(p)) == -EEXIST)
                        r = -ENOENT;
                if (r == -ENOENT || r == -EINVAL)
                        p->known = false;
        }
        if (r < 0)
                return r;
        return roles_secret_get(roles_login_secrets(p->store), p->u.uuid, ret_sec);
}

/*
 * Why this account may not even try its password, or NULL. Every refusal reads what a wrong
 * password reads (the account as it stands now, its secrets and its failure tally; for an
 * unknown user, by a uuid no account has), so that the reads cost the same whoever is refused,
 * as the argon2 verification and the state.db write that follow do.
 */
static const char *refusal_before_password(struct pam_roles *p, struct roles_secret *sec, struct roles_tally *tally) {
        /* roles_uuid_new makes version 4 uuids: the nil uuid is never an account's. */
        static const char no_account[] = "00000000-0000-0000-0000-000000000000";
        int r_secret = p->known ? user_and_secrets_now(p, sec) : roles_secret_get(roles_login_secrets(p->store), no_account, sec);
        const char *uuid = p->known ? p->u.uuid : no_account;   /* a user deleted meanwhile: unknown */
        int r_tally = roles_state_tally_get(roles_login_secrets(p->store), uuid, roles_snapshot_now(roles_login_snapshot(p->store)), tally);
        if (!p->known)
                return "unknown user";
        if (r_secret < 0)
                return r_secret == -ENOENT ? "no secrets row" : "account unreadable";
        if (r_tally < 0)
                return "tally unreadable";
        if (tally->locked_until != 0)
                return "locked out";
        if (!p->u.enabled)
                return "account disabled";
        /* permission= on an auth line: a screen locker, a VPN or a web front end may call auth
         * alone. Judged before the password, so the answer says nothing about it either. */
        int held = p->opt.permission ? pam_roles_holds_permission(p, roles_snapshot_now(roles_login_snapshot(p->store))) : 1;
        if (held < 0)
                return "permission unreadable";
        if (held == 0)
                return "lacks the permission";
        return NULL;
}

static int check_password(struct pam_roles *p, const char *password, bool allow_code, struct roles_secret *sec,
                          struct roles_tally *tally, bool *ret_by_code) {
        int r;
        size_t len = strlen(password);

        /* Unknown, locked and disabled accounts get a wrong password's answer (PAM_AUTH_ERR, not
         * PAM_USER_UNKNOWN), its messages and its time, whatever password was typed. */
        const char *refusal = refusal_before_password(p, sec, tally);
        if (refusal) {
                (void) verify_stored(p, "", password, len);
                count_failure(p, refusal);
                return PAM_AUTH_ERR;
        }

        r = verify_stored(p, sec->password_hash, password, len);
        bool by_code = false;
        enum roles_code_kind code_kind = ROLES_CODE_ACTIVATION;
        struct roles_code_row code = { 0 };
        if (r == -EACCES && allow_code && find_code(p, password, &code_kind, &code))
                by_code = true;
        else if (r < 0) {
                /* -E2BIG is also the answer to a typed password too long to be hashed at all. */
                count_failure(p, r == -EACCES ? "wrong password" : len > ROLES_PASSWORD_MAX ? "password too long" :
                                 r == -E2BIG ? "hash above the ceiling" : "bad stored hash");
                return PAM_AUTH_ERR;
        }

        const char *gate = success_gate(p, tally);
        if (gate && strcmp(gate, "locked out") == 0)
                count_failure(p, gate);         /* as a locked account's refusal is */
        else if (gate)
                pam_syslog(p->pamh, LOG_NOTICE, "authentication failure for %s: %s", pam_roles_user_for_log(p), gate);
        if (gate)
                return PAM_AUTH_ERR;
        /* A code is spent only by a login that gets this far (not by one the gate refuses). */
        if (by_code && use_code(p, code_kind, &code) < 0) {
                count_failure(p, "one-time code already used");
                return PAM_AUTH_ERR;
        }
        if (ret_by_code)
                *ret_by_code = by_code;
        return PAM_SUCCESS;
}

/*
 * The verification's memory is bounded host-wide (login_slots.h): a slot is held from before
 * the argon2 to the answer. None free in time: refused as a wrong password is (the same answer
 * and words), but not counted, for the password was not looked at.
 */
int pam_roles_check_password(struct pam_roles *p, const char *password, bool allow_code, struct roles_secret *sec,
                             struct roles_tally *tally, bool *ret_by_code) {
        struct login_slot slot;
        int r = login_slot_take(&p->cfg, &slot);
        if (r < 0) {
                pam_syslog(p->pamh, r == -EBUSY ? LOG_WARNING : LOG_ERR, "authentication refused for %s: %s",
                           pam_roles_user_for_log(p), r == -EBUSY ? "no verification slot came free in time (a flood?)" :
                           "the verification slots cannot be opened");
                return PAM_AUTH_ERR;
        }
        int status = check_password(p, password, allow_code, sec, tally, ret_by_code);
        login_slot_give_back(&slot);
        return status;
}

int pam_roles_authenticate(struct pam_roles *p) {
        struct roles_secret sec = { 0 };
        struct roles_tally tally = { 0 };
        const char *password = NULL;
        bool by_code = false;
        int r, status;

        pam_roles_forget_code_login(p);        /* what an earlier auth of this handle noted */
        r = pam_roles_get_authtok(p, PAM_AUTHTOK, &password, NULL);
        if (r != PAM_SUCCESS || !password)
                return r == PAM_SUCCESS ? PAM_AUTH_ERR : r;
        size_t len = strlen(password);
        status = pam_roles_check_password(p, password, true, &sec, &tally, &by_code);
        if (status != PAM_SUCCESS)
                goto out;

        if (sec.totp_secret[0] && !p->opt.no_totp && !by_code) {
                bool reused;
                status = check_totp(p, sec.totp_secret, &reused);
                if (status != PAM_SUCCESS && reused) {
                        pam_syslog(p->pamh, LOG_NOTICE, "authentication refused for %s: verification code already "
                                   "used (not counted as a failure)", pam_roles_user_for_log(p));
                        pam_roles_say(p, PAM_ERROR_MSG, "This verification code was already used: wait for the next one.");
                        goto out;
                }
                if (status != PAM_SUCCESS) {
                        count_failure(p, "wrong verification code");
                        goto out;
                }
                /* The prompt may have been open for minutes, while racing guesses locked the
                 * account. */
                status = PAM_AUTH_ERR;
                if ((r = roles_state_tally_get(roles_login_secrets(p->store), p->u.uuid, roles_snapshot_now(roles_login_snapshot(p->store)), &tally)) < 0 ||
                    tally.locked_until != 0) {
                        count_failure(p, r < 0 ? "tally unreadable" : "locked out");
                        goto out;
                }
        }
        if (!by_code)
                maybe_rehash(p, sec.password_hash, password, len);
        /* A write to state.db only when there is a count to clear: most logins have none. The
         * count found, and only that: failures racing logins recorded since stay counted. */
        if (tally.failures > 0 &&
            roles_state_tally_clear_seen(roles_login_secrets(p->store), p->u.uuid, &tally, roles_snapshot_now(roles_login_snapshot(p->store))) < 0) {
                status = pam_roles_error(p, -EIO, "clearing the failure count");
                goto out;
        }
        status = PAM_SUCCESS;
        /* For account, which judges by this snapshot and these values (see pam_roles_end). */
        p->after_auth = (struct pam_roles_after_auth) {
                .valid = true,
                .must_change_password = sec.must_change_password || by_code,
                .activated_at = sec.activated_at,
        };
        /* Whose findings these are: account takes them only for the same account (uuid) under the
         * same PAM_USER. Both fit (names are at most 32 bytes, uuids 36). */
        memcpy(p->after_auth.uuid, p->u.uuid, sizeof(p->after_auth.uuid));
        memcpy(p->after_auth.user, p->u.name, sizeof(p->after_auth.user));
        if (by_code && pam_roles_note_code_login(p) < 0) {
                status = PAM_BUF_ERR;
                goto out;
        }
        if (p->opt.debug)
                pam_syslog(p->pamh, LOG_DEBUG, "authenticated %s%s", pam_roles_user_for_log(p), by_code ? " with a one-time code" : "");
out:
        roles_secret_wipe(&sec);
        return status;
}
