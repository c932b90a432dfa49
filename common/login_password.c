/* SPDX-License-Identifier: MIT */
/*
 * The password, the codes and the password change (login.h): argon2id, or a crypt(3) hash
 * brought in by import, upgraded on success; then a TOTP code when the user has enrolled; or,
 * in place of the password, a pending activation or reset code, after which the account must
 * set a password.
 *
 * Every path that is not a full success ends in ROLES_LOGIN_AUTH_FAILED (or a system error
 * before the password is asked), and unknown users, locked or disabled accounts and accounts
 * without a password all pay one argon2 verification and one state.db write, as a wrong
 * password does, so that neither the answer, the messages nor the time tells them apart.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "agent-protocol.h"
#include "agent_client.h"
#include "auth.h"
#include "login-internal.h"
#include "login_slots.h"

/* The core makes every refusal cost at least one argon2 at the configured parameters, whatever
 * is stored (a cheaper hash, a crypt(3) one, none: ""), which is what an unknown user pays. */
static int verify_stored(const struct roles_attempt *l, const char *stored, const char *password, size_t len) {
        struct roles_hash_params params, ceiling;
        roles_hash_params_from_config(l->cfg, &params);
        roles_hash_ceiling_from_config(l->cfg, &ceiling);
        return roles_password_verify_stored(stored, password, len, &params, &ceiling);
}

/*
 * In a fleet (cfg->source), what must be decided once for every host (a one-time code spent, a
 * password changed) is the primary's: the request goes to roles-agent's socket
 * (agent-protocol.h), the agent runs it there in one statement and installs the serial here
 * before it answers. Nothing is written here: the host's files follow the fleet. 0 won; -ESTALE
 * lost (spent, or changed, meanwhile); -EHOSTUNREACH: the agent or the primary cannot be
 * reached (said to the user: what, "not changed" say), nothing changed.
 */
static int fleet_ask(struct roles_attempt *l, char *request, int n, const char *what) {
        char answer[64];
        int r = n > 0 && n < AGENT_REQUEST_MAX ? roles_agent_ask(request, (size_t) n, answer, sizeof(answer)) : -E2BIG;
        explicit_bzero(request, (size_t) (n > 0 && n < AGENT_REQUEST_MAX ? n : 0));
        if (r == 0 && strcmp(answer, AGENT_WON) == 0)
                return 0;
        if (r == 0 && strcmp(answer, AGENT_LOST) == 0) {
                login_log(l, LOG_NOTICE, "%s for %s refused by the account server", what, roles_login_user_for_log(l));
                return -ESTALE;
        }
        char text[128];
        snprintf(text, sizeof(text), "%s: the account server cannot be reached.", what);
        text[0] = (char) (text[0] >= 'a' && text[0] <= 'z' ? text[0] - 'a' + 'A' : text[0]);
        login_say(l, text);
        login_log(l, LOG_ERR, "%s for %s: the account server cannot be reached (roles-agent: %s)", what,
                  roles_login_user_for_log(l), r < 0 ? strerror(-r) : answer);
        return -EHOSTUNREACH;
}

/* A one-time code spent on the primary (kind: "activation", "reset", "recovery"). */
static int fleet_claim_code(struct roles_attempt *l, const char *kind, const uint8_t hash[static ROLES_CODE_HASH_LEN]) {
        char request[AGENT_REQUEST_MAX], hex[2 * ROLES_CODE_HASH_LEN + 1];
        for (size_t i = 0; i < ROLES_CODE_HASH_LEN; i++)
                snprintf(hex + 2 * i, 3, "%02x", hash[i]);
        int n = snprintf(request, sizeof(request), AGENT_REQ_CODE "\n%s\n%s\n%s\n", l->u.uuid, kind, hex);
        int r = fleet_ask(l, request, n, "login not completed");
        /* What the agent installed, for what this login reads next (the recovery codes left). */
        if (r == 0 && roles_snapshot_refresh(l->snap) > 0)
                (void) login_reread_user(l);
        return r;
}

/* Is a typed secret a pending, unexpired activation or reset code of this user? Which one, in
 * *ret_kind and *ret_row: it is consumed only once the login passes the gate (use_code). */
static bool find_code(struct roles_attempt *l, const char *typed, enum roles_code_kind *ret_kind,
                      struct roles_code_row *ret_row) {
        static const enum roles_code_kind kinds[] = { ROLES_CODE_ACTIVATION, ROLES_CODE_RESET };
        time_t now = roles_snapshot_now(l->snap);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(kinds); i++) {
                if (roles_secret_get_code(l->sec, l->u.uuid, kinds[i], ret_row) < 0 || ret_row->used_at ||
                    ret_row->expires_at <= (int64_t) now || !roles_code_matches(ret_row->hash, typed, l->u.uuid))
                        continue;
                *ret_kind = kinds[i];
                return true;
        }
        return false;
}

/* Consume it; the store's single-use gate decides between racing logins. */
static int use_code(struct roles_attempt *l, enum roles_code_kind kind, const struct roles_code_row *row) {
        if (l->cfg->source[0])
                return fleet_claim_code(l, kind == ROLES_CODE_ACTIVATION ? "activation" : "reset", row->hash);
        int r = roles_secret_use_code(l->sec, l->u.uuid, kind, row->hash);
        return r < 0 ? r : roles_secret_set_must_change(l->sec, l->u.uuid, true);
}

/*
 * A recovery code typed at the code prompt (hash: the code's, bound to the account): spent once,
 * even between racing logins, and recorded in the login audit with the number left, which the
 * user is told too. The audit row is written after the code is spent (secrets.db's used_at is
 * the record that holds it): one that cannot be written is logged, and the login goes on, since
 * refusing it now would cost the user the code for nothing. NONE or RECOVERY_WRONG.
 */
static enum roles_login_reason use_recovery_code(struct roles_attempt *l, const uint8_t hash[static ROLES_CODE_HASH_LEN]) {
        unsigned left = 0;
        char detail[64];
        int r = l->cfg->source[0] ? fleet_claim_code(l, "recovery", hash) : roles_secret_use_recovery_code(l->sec, l->u.uuid, hash);
        if (r == -EHOSTUNREACH)
                return ROLES_LOGIN_R_SYSTEM;    /* not the code's fault: not counted */
        if (r < 0)
                return ROLES_LOGIN_R_RECOVERY_WRONG;
        if (roles_secret_recovery_left(l->sec, l->u.uuid, &left) < 0)
                login_log(l, LOG_ERR, "counting the recovery codes of %s: %s", roles_login_user_for_log(l),
                          roles_login_error(l->login));
        snprintf(detail, sizeof(detail), "recovery code used, %u left", left);
        if (login_audit(l, "recovery", detail) < 0)
                login_log(l, LOG_ERR, "recording a recovery code's use: %s", roles_login_error(l->login));
        login_log(l, LOG_NOTICE, "%s for %s", detail, roles_login_user_for_log(l));
        snprintf(detail, sizeof(detail), "Recovery code used: %u left.", left);
        login_inform(l, detail);
        return ROLES_LOGIN_R_NONE;
}

/* A fleet event of this login (roles_state_outbox_add), inside its state.db transaction. */
static int login_outbox(struct roles_attempt *l, const char *kind, int64_t step, const char *detail) {
        return roles_state_outbox_add(l->sec, kind, l->u.uuid, l->service, login_rhost(l), step, detail);
}

/* A TOTP step claimed once, even when racing, and its outbox event with it (in fleet mode every
 * host must refuse the step once it is published). -EALREADY: already used. */
static int claim_totp_step(struct roles_attempt *l, int64_t step) {
        int r = roles_state_begin(l->sec);
        if (r >= 0)
                r = roles_state_totp_claim(l->sec, l->u.uuid, step);
        if (r >= 0)
                r = login_outbox(l, "totp_step", step, NULL);
        if (r >= 0)
                return roles_state_end(l->sec, true);
        (void) roles_state_end(l->sec, false);
        return r;
}

/*
 * The code prompt: NONE, TOTP_WRONG, TOTP_REUSED, RECOVERY_WRONG or CONVERSATION. Reused: the
 * code is right but of a step this user already used (here or by a racing login). That proves
 * nothing an attacker could not see already (the prompt is only reached with the right
 * password), so it is refused without counting toward deny, and the user is told to wait for
 * the next code: `sudo -l` then `sudo id` within one step must not lock an administrator out.
 * What has a recovery code's shape (20 base32 characters, as one-time codes have; a TOTP code is
 * 6 digits) is taken for one; *ret_recovery says which it was, for the success row.
 */
static enum roles_login_reason check_totp(struct roles_attempt *l, const char *secret, bool *ret_recovery) {
        const char *code = NULL;
        uint8_t hash[ROLES_CODE_HASH_LEN];
        int64_t last, step;
        int r = login_ask(l, ROLES_LOGIN_ASK_CODE, &code);
        if (r < 0)
                return ROLES_LOGIN_R_CONVERSATION;
        if (!code)
                return ROLES_LOGIN_R_TOTP_WRONG;
        if (roles_code_hash(code, l->u.uuid, hash) == 0) {
                enum roles_login_reason why = use_recovery_code(l, hash);
                roles_wipe(hash, sizeof(hash));
                *ret_recovery = true;
                return why;
        }
        r = roles_state_totp_last(l->sec, l->u.uuid, &last);
        if (r == 0)
                r = roles_totp_verify(secret, code, roles_snapshot_now(l->snap), l->cfg->totp_window, last, &step);
        if (r == 0)
                r = claim_totp_step(l, step);
        return r == 0 ? ROLES_LOGIN_R_NONE : r == -EALREADY ? ROLES_LOGIN_R_TOTP_REUSED : ROLES_LOGIN_R_TOTP_WRONG;
}

/*
 * A failure's rows, inside the caller's state.db transaction: the tally (for a known user) and
 * the login audit, so that an unknown user's refusal writes as much, and takes as long, as a
 * known user's. A rehearsal (see success_gate) leaves out the lock a count may set: it is on the
 * tally row the count already changed, so SQLite writes the same pages without it.
 */
static int failure_rows(struct roles_attempt *l, const char *why, bool rehearse) {
        int r = 0;
        if (l->known)
                r = roles_state_tally_fail(l->sec, l->u.uuid, roles_snapshot_now(l->snap), rehearse ? 0 : l->cfg->deny,
                                           l->cfg->fail_interval, l->cfg->unlock_time, NULL);
        /* The fleet counts an account's failures across hosts: a name no account has is not shipped
         * (nothing to lock, and an unbounded flood of them must not fill the outbox). */
        if (r >= 0 && l->known)
                r = login_outbox(l, "failure", -1, why);
        if (r >= 0)
                r = login_audit(l, "failure", why);
        return r;
}

/* A refusal's rows in one state.db write: a failure's (counted), or, for a refusal that is not
 * counted (a reused code), the login audit's row alone, as "refused": every refusal is in the
 * audit, and its "failure" rows stay those that count (the fleet's events, a lock). */
static void record_refusal(struct roles_attempt *l, enum roles_login_reason why, bool counted) {
        const char *text = roles_login_reason_text(why);
        int r = roles_state_begin(l->sec);
        if (r >= 0)
                r = counted ? failure_rows(l, text, false) : login_audit(l, "refused", text);
        if (r >= 0)
                r = roles_state_end(l->sec, true);
        else
                (void) roles_state_end(l->sec, false);
        if (r < 0)
                login_log(l, LOG_ERR, "recording a refusal: %s", roles_login_error(l->login));
}

/* Count a refusal (one state.db write) and log it: what every refusal of a password pays. */
static enum roles_login_result count_failure(struct roles_attempt *l, enum roles_login_reason why,
                                             enum roles_login_reason *ret_reason) {
        record_refusal(l, why, true);
        login_log_failure(l, why);
        *ret_reason = why;
        return ROLES_LOGIN_AUTH_FAILED;
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
 * NONE, LOCKED_OUT or CANNOT_COUNT; *seen: the tally as it stood.
 */
static enum roles_login_reason success_gate(struct roles_attempt *l, struct roles_tally *seen) {
        int r = roles_state_begin_exclusive(l->sec);
        if (r >= 0)
                r = roles_state_tally_get(l->sec, l->u.uuid, roles_snapshot_now(l->snap), seen);
        bool locked = r >= 0 && seen->locked_until != 0;
        if (r >= 0 && !locked && (r = failure_rows(l, "(rehearsal)", true)) >= 0)
                r = roles_state_flush(l->sec);
        (void) roles_state_end(l->sec, false);
        if (r < 0) {
                login_log(l, LOG_ERR, "failures cannot be counted: %s", roles_login_error(l->login));
                return ROLES_LOGIN_R_CANNOT_COUNT;
        }
        return locked ? ROLES_LOGIN_R_LOCKED_OUT : ROLES_LOGIN_R_NONE;
}

/* Upgrade a legacy or weaker hash to the configured argon2id, now that the password is known.
 * What was upgraded, for the login audit, or NULL: none was (or could be). */
static const char *maybe_rehash(struct roles_attempt *l, const char *stored, const char *password, size_t len) {
        struct roles_hash_params params;
        struct login_slot slot;
        char fresh[ROLES_HASH_ENCODED_MAX];
        roles_hash_params_from_config(l->cfg, &params);
        /* A new hash takes a slot's memory too; without one, the next login rehashes. */
        if (!roles_password_needs_rehash(stored, &params) || login_slot_take(l->cfg, &slot) < 0)
                return NULL;
        int r = roles_password_hash(password, len, &params, fresh);
        login_slot_give_back(&slot);
        if (r == 0 && (r = roles_secret_rehash(l->sec, l->u.uuid, stored, fresh)) < 0)
                login_log(l, LOG_WARNING, "rehashing the password of %s: %s", roles_login_user_for_log(l),
                          roles_login_error(l->login));
        roles_wipe(fresh, sizeof(fresh));
        if (r < 0)
                return NULL;
        return strncmp(stored, ROLES_HASH_LEGACY_CRYPT, strlen(ROLES_HASH_LEGACY_CRYPT)) == 0 ?
               "crypt(3) hash replaced by argon2id" : "argon2id hash upgraded to the configured cost";
}

/*
 * A successful authentication's record, in one state.db write: the failure count it found
 * (seen; NULL: leave the count alone) cleared (and only that: failures racing logins recorded since stay counted), a rehash of its
 * hash, and the "success" row saying how it came in (how: "password", "password and TOTP",
 * "password and recovery code", or the one-time code that stood in for the password).
 */
static int success_rows(struct roles_attempt *l, const struct roles_tally *seen, const char *rehashed, const char *how) {
        int r = roles_state_begin(l->sec);
        if (r >= 0 && seen && seen->failures > 0)
                r = roles_state_tally_clear_seen(l->sec, l->u.uuid, seen, roles_snapshot_now(l->snap));
        if (r >= 0 && rehashed)
                r = login_audit(l, "rehash", rehashed);
        if (r >= 0 && rehashed)
                r = login_outbox(l, "rehash", -1, rehashed);
        if (r >= 0)
                r = login_audit(l, "success", how);
        if (r >= 0)
                r = login_outbox(l, "success", -1, how);
        if (r >= 0)
                return roles_state_end(l->sec, true);
        (void) roles_state_end(l->sec, false);
        return r;
}

/*
 * The account and its secrets as they stood at one moment after the password was typed. The
 * prompt may have been open for minutes while an administrator disabled the account, took a
 * role away or set a new password: the read transaction the login began with is left for one
 * at the state committed last, and the account is read again if that state is another.
 * Otherwise a password set after a disable could be judged with the account of before it
 * (account reads enabled and the permissions from this same store). The secrets are read in
 * that same state (secrets.db's before-images follow roles.db's serial). A user deleted
 * meanwhile: known = false.
 */
static int user_and_secrets_now(struct roles_attempt *l, struct roles_secret *ret_sec) {
        int r = roles_snapshot_refresh(l->snap);
        if (r > 0)
                r = login_reread_user(l);
        if (r < 0)
                return r;
        return roles_secret_get(l->sec, l->u.uuid, ret_sec);
}

/*
 * Why this account may not even try its password, or NONE. Every refusal reads what a wrong
 * password reads (the account as it stands now, its secrets and its failure tally; for an
 * unknown user, by a uuid no account has), so that the reads cost the same whoever is refused,
 * as the argon2 verification and the state.db write that follow do. An expired account may
 * try: account says it has expired (the one judge of expiry, and its answer is its own).
 */
static enum roles_login_reason refusal_before_password(struct roles_attempt *l, struct roles_secret *sec,
                                                       struct roles_tally *tally) {
        /* roles_uuid_new makes version 4 uuids: the nil uuid is never an account's. */
        static const char no_account[] = "00000000-0000-0000-0000-000000000000";
        int r_secret = l->known ? user_and_secrets_now(l, sec) : roles_secret_get(l->sec, no_account, sec);
        const char *uuid = l->known ? l->u.uuid : no_account;   /* a user deleted meanwhile: unknown */
        time_t now = roles_snapshot_now(l->snap);
        int r_tally = roles_state_tally_get(l->sec, uuid, now, tally);
        if (!l->known)
                return ROLES_LOGIN_R_UNKNOWN_USER;
        if (r_secret < 0)
                return r_secret == -ENOENT ? ROLES_LOGIN_R_NO_SECRETS : ROLES_LOGIN_R_ACCOUNT_UNREADABLE;
        if (r_tally < 0)
                return ROLES_LOGIN_R_TALLY_UNREADABLE;
        if (tally->locked_until != 0)
                return ROLES_LOGIN_R_LOCKED_OUT;
        if (login_inactive(l, now) == ROLES_LOGIN_R_DISABLED)
                return ROLES_LOGIN_R_DISABLED;
        /* permission= on an auth line: a screen locker, a VPN or a web front end may call auth
         * alone. Judged before the password, so the answer says nothing about it either. */
        int held = l->permission ? login_holds_permission(l, now) : 1;
        if (held < 0)
                return ROLES_LOGIN_R_PERMISSION_UNREADABLE;
        if (held == 0)
                return ROLES_LOGIN_R_LACKS_PERMISSION;
        /* totp=required: a second factor is the rule here, and an account without one is
         * refused as one without the permission is, before its password says anything. */
        if (l->totp_required && !sec->totp_secret[0])
                return ROLES_LOGIN_R_NO_TOTP;
        return ROLES_LOGIN_R_NONE;
}

static enum roles_login_result check_password(struct roles_attempt *l, const char *password, bool allow_code,
                                              struct roles_secret *sec, struct roles_tally *tally,
                                              const char **ret_code_used, enum roles_login_reason *ret_reason) {
        size_t len = strlen(password);

        /* Unknown, locked and disabled accounts get a wrong password's answer, its messages and
         * its time, whatever password was typed. */
        enum roles_login_reason refusal = refusal_before_password(l, sec, tally);
        if (refusal != ROLES_LOGIN_R_NONE) {
                (void) verify_stored(l, "", password, len);
                return count_failure(l, refusal, ret_reason);
        }

        int r = verify_stored(l, sec->password_hash, password, len);
        bool by_code = false;
        enum roles_code_kind code_kind = ROLES_CODE_ACTIVATION;
        struct roles_code_row code = { 0 };
        if (r == -EACCES && allow_code && find_code(l, password, &code_kind, &code))
                by_code = true;
        else if (r < 0)
                /* -E2BIG is also the answer to a typed password too long to be hashed at all. */
                return count_failure(l, r == -EACCES ? ROLES_LOGIN_R_WRONG_PASSWORD :
                                        len > ROLES_PASSWORD_MAX ? ROLES_LOGIN_R_PASSWORD_TOO_LONG :
                                        r == -E2BIG ? ROLES_LOGIN_R_HASH_ABOVE_CEILING : ROLES_LOGIN_R_BAD_STORED_HASH,
                                     ret_reason);

        enum roles_login_reason gate = success_gate(l, tally);
        if (gate == ROLES_LOGIN_R_LOCKED_OUT)
                return count_failure(l, gate, ret_reason);      /* as a locked account's refusal is */
        if (gate != ROLES_LOGIN_R_NONE) {
                /* Not counted: state.db cannot take it. */
                login_log_failure(l, gate);
                *ret_reason = gate;
                return ROLES_LOGIN_AUTH_FAILED;
        }
        /* A code is spent only by a login that gets this far (not by one the gate refuses). */
        if (by_code && (r = use_code(l, code_kind, &code)) == -EHOSTUNREACH) {
                /* Not the code's fault, and not spent: not counted. */
                login_log_failure(l, ROLES_LOGIN_R_SYSTEM);
                *ret_reason = ROLES_LOGIN_R_SYSTEM;
                return ROLES_LOGIN_AUTH_FAILED;
        }
        if (by_code && r < 0)
                return count_failure(l, ROLES_LOGIN_R_CODE_USED, ret_reason);
        *ret_code_used = !by_code ? NULL : code_kind == ROLES_CODE_ACTIVATION ? "activation code" : "reset code";
        return ROLES_LOGIN_OK;
}

/*
 * Ask for a password and check it, as auth and the current password of a change both do. The
 * verification's memory is bounded host-wide (login_slots.h): a slot is held from before the
 * argon2 to the answer. None free in time: refused as a wrong password is (the same answer and
 * words), but not counted, for the password was not looked at. *sec and *tally: the account's
 * secrets (wipe them) and tally; *ret_password: the password (the caller's); *ret_code_used: the
 * kind of one-time code that stood in for it ("activation code", "reset code"), or NULL.
 */
static enum roles_login_result ask_and_check(struct roles_attempt *l, enum roles_login_ask what, bool allow_code,
                                             struct roles_secret *sec, struct roles_tally *tally,
                                             const char **ret_password, const char **ret_code_used,
                                             enum roles_login_reason *ret_reason) {
        const char *password = NULL;
        struct login_slot slot;

        if (login_ask(l, what, &password) < 0) {
                *ret_reason = ROLES_LOGIN_R_CONVERSATION;
                return ROLES_LOGIN_CONV_ERROR;
        }
        if (!password) {
                *ret_reason = ROLES_LOGIN_R_NO_PASSWORD;
                return ROLES_LOGIN_AUTH_FAILED;
        }
        int r = login_slot_take(l->cfg, &slot);
        if (r < 0) {
                *ret_reason = r == -EBUSY ? ROLES_LOGIN_R_NO_SLOT : ROLES_LOGIN_R_SLOTS_UNUSABLE;
                login_log(l, r == -EBUSY ? LOG_WARNING : LOG_ERR, "authentication refused for %s: %s",
                          roles_login_user_for_log(l), roles_login_reason_text(*ret_reason));
                return ROLES_LOGIN_AUTH_FAILED;
        }
        enum roles_login_result result = check_password(l, password, allow_code, sec, tally, ret_code_used, ret_reason);
        login_slot_give_back(&slot);
        if (result == ROLES_LOGIN_OK)
                *ret_password = password;
        return result;
}

/* The TOTP step of a login that passed its password: NONE, or why it is refused (counted or,
 * for a reused code, told to the user). */
static enum roles_login_result totp_step(struct roles_attempt *l, const char *secret, struct roles_tally *tally,
                                         bool *ret_recovery, enum roles_login_reason *ret_reason) {
        enum roles_login_reason why = check_totp(l, secret, ret_recovery);
        if (why == ROLES_LOGIN_R_TOTP_REUSED || why == ROLES_LOGIN_R_SYSTEM) {
                login_log(l, LOG_NOTICE, "authentication refused for %s: %s", roles_login_user_for_log(l),
                          roles_login_reason_text(why));
                if (why == ROLES_LOGIN_R_TOTP_REUSED) {
                        record_refusal(l, why, false);
                        login_say(l, "This verification code was already used: wait for the next one.");
                }
                *ret_reason = why;
                return ROLES_LOGIN_AUTH_FAILED;
        }
        if (why != ROLES_LOGIN_R_NONE) {
                /* A conversation that failed is counted as a wrong code, and answers as it failed. */
                enum roles_login_result result =
                        count_failure(l, why == ROLES_LOGIN_R_CONVERSATION ? ROLES_LOGIN_R_TOTP_WRONG : why, ret_reason);
                *ret_reason = why;
                return why == ROLES_LOGIN_R_CONVERSATION ? ROLES_LOGIN_CONV_ERROR : result;
        }
        /* The prompt may have been open for minutes, while racing guesses locked the account or
         * an administrator disabled or deleted it or took its permission away: it is judged again
         * as before its password, on the state now (an application that calls auth alone has no
         * account phase to do it). */
        struct roles_secret now = { 0 };
        enum roles_login_reason refusal = refusal_before_password(l, &now, tally);
        roles_secret_wipe(&now);
        if (refusal != ROLES_LOGIN_R_NONE)
                return count_failure(l, refusal, ret_reason);
        return ROLES_LOGIN_OK;
}

enum roles_login_result roles_login_password(struct roles_attempt *l, struct roles_login_found *ret_found,
                                             enum roles_login_reason *ret_reason) {
        struct roles_secret sec = { 0 };
        struct roles_tally tally = { 0 };
        const char *password = NULL, *code_used = NULL, *rehashed = NULL;
        enum roles_login_reason reason = ROLES_LOGIN_R_NONE;
        /* The password past the code prompt, for the rehash: ops->ask's answer lasts only until
         * the next ask (roles_chkpwd reads the code into the buffer the password was in). A
         * right password is at most ROLES_PASSWORD_MAX bytes. */
        char kept[ROLES_PASSWORD_MAX + 1];

        enum roles_login_result result = ask_and_check(l, ROLES_LOGIN_ASK_PASSWORD, true, &sec, &tally, &password,
                                                       &code_used, &reason);
        bool by_code = code_used != NULL;
        if (result != ROLES_LOGIN_OK)
                goto out;
        bool with_totp = sec.totp_secret[0] && !l->no_totp && !by_code, recovery = false;
        if (with_totp) {
                if (roles_strcpy(kept, sizeof(kept), password) < 0) {
                        login_log(l, LOG_ERR, "a password of more than %d bytes passed its check", ROLES_PASSWORD_MAX);
                        result = ROLES_LOGIN_SYSTEM_ERROR;
                        reason = ROLES_LOGIN_R_SYSTEM;
                        goto out;
                }
                password = kept;
        }
        if (with_totp && (result = totp_step(l, sec.totp_secret, &tally, &recovery, &reason)) != ROLES_LOGIN_OK)
                goto out;
        if (!by_code)
                rehashed = maybe_rehash(l, sec.password_hash, password, strlen(password));
        /* Every successful authentication is recorded, as every failure is: the state.db write
         * it costs clears the failure count found too. Not recorded, not let in. */
        const char *how = by_code ? code_used : recovery ? "password and recovery code" :
                          with_totp ? "password and TOTP" : "password";
        /* The password alone of an account enrolled in TOTP (no_totp) clears no count: the count
         * guards the codes too, and a caller that may pick no_totp (roles_chkpwd's, run by hand)
         * would otherwise guess codes without end, clearing its count with the password it knows. */
        bool proved_all = !(sec.totp_secret[0] && !with_totp && !by_code);
        if (success_rows(l, proved_all ? &tally : NULL, rehashed, how) < 0) {
                result = roles_attempt_error(l, -EIO, "recording the login");
                reason = ROLES_LOGIN_R_SYSTEM;
                goto out;
        }
        *ret_found = (struct roles_login_found) {
                .by_code = by_code,
                .must_change_password = sec.must_change_password || by_code,
                .activated_at = sec.activated_at,
        };
out:
        roles_secret_wipe(&sec);
        roles_wipe(kept, sizeof(kept));
        *ret_reason = reason;
        return result;
}

/* The current password, checked as auth checks one (no code stands in for it): a shell on an
 * account could otherwise guess its password through the setuid passwd without limit, lock or
 * trace. */
static enum roles_login_result check_current(struct roles_attempt *l, enum roles_login_reason *ret_reason) {
        struct roles_secret now = { 0 };
        struct roles_tally tally;
        const char *password = NULL, *code_used = NULL;
        enum roles_login_result result = ask_and_check(l, ROLES_LOGIN_ASK_CURRENT, false, &now, &tally, &password,
                                                       &code_used, ret_reason);
        roles_secret_wipe(&now);
        if (result == ROLES_LOGIN_AUTH_FAILED && *ret_reason != ROLES_LOGIN_R_NO_PASSWORD)
                login_log(l, LOG_NOTICE, "wrong current password for %s", roles_login_user_for_log(l));
        return result;
}

/* Hash the new password and store it, activating the account and voiding its codes. */
static enum roles_login_result set_password(struct roles_attempt *l, const struct roles_secret *sec, const char *pw,
                                            enum roles_login_reason *ret_reason) {
        struct roles_hash_params params;
        struct login_slot slot;
        char hash[ROLES_HASH_ENCODED_MAX];
        size_t len = strlen(pw);

        /* A C string holds no NUL: too long or too short are the refusals left. */
        int r = roles_password_policy_check(pw, len, l->cfg);
        if (r < 0) {
                char why[128];
                login_say(l, roles_password_policy_refusal(r, l->cfg, why, sizeof(why)));
                *ret_reason = ROLES_LOGIN_R_NEW_PASSWORD_POLICY;
                return ROLES_LOGIN_NOT_CHANGED;
        }
        /* The new hash's memory counts toward the host-wide bound, as a verification's does. */
        *ret_reason = ROLES_LOGIN_R_NEW_PASSWORD_NOT_MADE;
        if (login_slot_take(l->cfg, &slot) < 0) {
                login_log(l, LOG_WARNING, "password change for %s: no verification slot came free in time",
                          roles_login_user_for_log(l));
                return ROLES_LOGIN_NOT_CHANGED;
        }
        roles_hash_params_from_config(l->cfg, &params);
        r = roles_password_hash(pw, len, &params, hash);
        login_slot_give_back(&slot);
        if (r < 0)
                return ROLES_LOGIN_NOT_CHANGED;
        if (l->cfg->source[0]) {
                char fs_uniquifier[ROLES_UUID_LEN + 1], request[AGENT_REQUEST_MAX];
                r = roles_uuid_new(fs_uniquifier);
                int n = snprintf(request, sizeof(request), AGENT_REQ_PASSWORD "\n%s\n%s\n%s\n%s\n%d\n", l->u.uuid,
                                 sec->password_hash, hash, fs_uniquifier, l->u.activated_at == 0 && sec->activated_at == 0);
                if (r >= 0 && (r = fleet_ask(l, request, n, "password not changed")) == -ESTALE)
                        login_say(l, "Password not changed: it was changed meanwhile. Try again.");
                roles_wipe(hash, sizeof(hash));
                if (r < 0) {
                        *ret_reason = ROLES_LOGIN_R_SYSTEM;
                        return ROLES_LOGIN_NOT_CHANGED;
                }
        } else {
                r = roles_secret_change_password(l->sec, l->u.uuid, hash,
                                                 l->u.activated_at == 0 && sec->activated_at == 0);
                roles_wipe(hash, sizeof(hash));
        }
        if (r < 0) {
                *ret_reason = ROLES_LOGIN_R_SYSTEM;
                return roles_attempt_error(l, r, "storing the new password");
        }
        login_log(l, LOG_NOTICE, "password changed for %s", roles_login_user_for_log(l));
        /* The password is changed whatever happens to its record: a record that cannot be
         * written is logged, not turned into a refusal the user would take for "not changed". */
        char detail[64];
        snprintf(detail, sizeof(detail), "changed by uid %u", (unsigned) l->caller_uid);
        if (login_audit(l, "password", detail) < 0)
                login_log(l, LOG_ERR, "recording the password change of %s: %s", roles_login_user_for_log(l),
                          roles_login_error(l->login));
        *ret_reason = ROLES_LOGIN_R_NONE;
        return ROLES_LOGIN_OK;
}

enum roles_login_result roles_login_chauthtok(struct roles_attempt *l, bool ask_current, bool prelim_only,
                                              enum roles_login_reason *ret_reason) {
        struct roles_secret sec = { 0 };
        const char *pw = NULL;
        enum roles_login_result result = ROLES_LOGIN_OK;
        enum roles_login_reason reason = ROLES_LOGIN_R_NONE;
        int r;

        if (!l->known) {
                *ret_reason = ROLES_LOGIN_R_UNKNOWN_USER;
                return ROLES_LOGIN_UNKNOWN_USER;
        }
        if ((r = roles_secret_get(l->sec, l->u.uuid, &sec)) < 0) {
                *ret_reason = ROLES_LOGIN_R_ACCOUNT_UNREADABLE;
                return roles_attempt_error(l, r, "reading the account's secrets");
        }
        if (ask_current && (result = check_current(l, &reason)) != ROLES_LOGIN_OK)
                goto out;
        if (prelim_only)
                goto out;
        /* The caller asks for the new password twice and compares. */
        if (login_ask(l, ROLES_LOGIN_ASK_NEW, &pw) < 0) {
                result = ROLES_LOGIN_CONV_ERROR;
                reason = ROLES_LOGIN_R_CONVERSATION;
        } else if (!pw) {
                result = ROLES_LOGIN_NOT_CHANGED;
                reason = ROLES_LOGIN_R_NO_PASSWORD;
        } else
                result = set_password(l, &sec, pw, &reason);
out:
        roles_secret_wipe(&sec);
        *ret_reason = reason;
        return result;
}
