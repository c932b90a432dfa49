/* SPDX-License-Identifier: MIT */
/*
 * pam_roles.so: the PAM entry points. Each phase begins (shield, options, configuration, store,
 * user), runs one step of the login protocol (common/login.h), maps its result to a PAM code
 * (pam_roles_status) and ends; what a phase keeps for the next is PAM's business, so it is here.
 */
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <string.h>
#include <syslog.h>

#include "pam-roles.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * auth: the password (or a one-time code in its place), then a TOTP code when enrolled. What it
 * found is kept for account, which sshd and sudo run next in the same process, and a login with
 * a code is noted for the password phase of the same transaction.
 */
EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_roles p;
        struct roles_login_found found;
        enum roles_login_reason reason;
        (void) flags;

        int status = pam_roles_begin(&p, pamh, PAM_ROLES_AUTH, argc, argv);
        if (status != PAM_SUCCESS)
                return pam_roles_end(&p, status, false);
        pam_roles_forget_code_login(&p);       /* what an earlier auth of this handle noted */
        if (p.via_helper) {
                /* Nothing is kept for account: this process could not read it anyway. */
                status = pam_roles_status(&p, pam_roles_chkpwd(&p));
                return pam_roles_end(&p, status, false);
        }
        status = pam_roles_status(&p, roles_login_password(&p.attempt, &found, &reason));
        if (status != PAM_SUCCESS)
                return pam_roles_end(&p, status, false);
        /* For account, which judges by this snapshot and these values (see pam_roles_end). Whose
         * findings these are: account takes them only for the same account (uuid) under the same
         * PAM_USER. Both fit (names are at most 32 bytes, uuids 36). */
        p.after_auth = (struct pam_roles_after_auth) { .valid = true, .found = found };
        memcpy(p.after_auth.uuid, p.attempt.u.uuid, sizeof(p.after_auth.uuid));
        memcpy(p.after_auth.user, p.attempt.u.name, sizeof(p.after_auth.user));
        if (found.by_code && pam_roles_note_code_login(&p) < 0)
                return pam_roles_end(&p, PAM_BUF_ERR, false);
        if (p.opt.debug)
                pam_syslog(pamh, LOG_DEBUG, "authenticated %s%s", roles_login_user_for_log(&p.attempt),
                           found.by_code ? " with a one-time code" : "");
        /* A successful auth leaves what it found to account, which follows in the same process. */
        return pam_roles_end(&p, PAM_SUCCESS, true);
}

EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        (void) pamh, (void) flags, (void) argc, (void) argv;
        return PAM_SUCCESS;     /* roles grants no credentials beyond what NSS serves */
}

/* account: is this account allowed in now? Unknown users are PAM_USER_UNKNOWN so that a stack
 * can fall through to another module; everything else that is not a clear yes is a refusal. */
EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_roles p;
        enum roles_login_reason reason;
        (void) flags;

        int status = pam_roles_begin(&p, pamh, PAM_ROLES_ACCOUNT, argc, argv);
        if (status == PAM_SUCCESS)
                status = pam_roles_status(&p, roles_login_account(&p.attempt, p.after_auth.valid ? &p.after_auth.found : NULL,
                                                                  &reason));
        return pam_roles_end(&p, status, false);
}

/*
 * password: a new argon2id hash, after the old password unless the caller is root. Setting it
 * bumps last_auth_sensitive_operation_at and fs_uniquifier (roles_secret_set_password), ends a
 * must-change state, activates an account that came in with a code, and voids pending codes,
 * all in one secrets.db write (roles_secret_change_password).
 */
EXPORT int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_roles p;
        enum roles_login_reason reason;

        int status = pam_roles_begin(&p, pamh, PAM_ROLES_PASSWORD, argc, argv);
        if (status != PAM_SUCCESS)
                return pam_roles_end(&p, status, false);
        bool prelim = flags & PAM_PRELIM_CHECK;
        if (p.attempt.known && !prelim && !(flags & PAM_UPDATE_AUTHTOK))
                return pam_roles_end(&p, PAM_SERVICE_ERR, false);
        /* root changes anyone's password, as passwd(1) lets it (but not an expired password on
         * the way in, which a root daemon asks for on the user's behalf, as pam_unix does); and
         * an account that logged in with a one-time code in this same transaction has no old
         * password to give. A password that must change (imported with lastchg 0, say) is
         * changed with the current one, as pam_unix asks: anyone at the user's keyboard could
         * set one otherwise. */
        bool ask_current = !((pam_roles_caller_uid(&p.shield) == 0 && !(flags & PAM_CHANGE_EXPIRED_AUTHTOK)) ||
                             pam_roles_came_in_with_code(&p));
        status = pam_roles_status(&p, roles_login_chauthtok(&p.attempt, ask_current, prelim, &reason));
        if (status == PAM_SUCCESS && !prelim)
                pam_roles_forget_code_login(&p);       /* the code stood in for a password once */
        return pam_roles_end(&p, status, false);
}

/* A session of a user that is not roles' (an account of the host's own files, a name roles does
 * not know, a host where roles was never set up) has nothing to record: it opens and closes,
 * so that a stack that requires pam_roles' session serves local accounts too. */
static int session_of(int begun) {
        return begun == PAM_USER_UNKNOWN ? PAM_SUCCESS : begun;
}

EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_roles p;
        (void) flags;

        enum roles_login_reason reason;
        int status = session_of(pam_roles_begin(&p, pamh, PAM_ROLES_SESSION, argc, argv));
        if (status == PAM_SUCCESS && p.attempt.snap)
                status = pam_roles_status(&p, roles_login_session(&p.attempt, p.opt.quiet, &reason));
        return pam_roles_end(&p, status, false);
}

/* close_session: nothing to record, only pam_unix's "session closed" line for a roles account. A
 * store that cannot be opened does not keep a session from closing. */
EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_roles p;
        (void) flags;

        int status = session_of(pam_roles_begin(&p, pamh, PAM_ROLES_SESSION, argc, argv));
        if (status == PAM_SUCCESS && p.attempt.snap)
                status = pam_roles_status(&p, roles_login_session_close(&p.attempt));
        return pam_roles_end(&p, status == PAM_SERVICE_ERR ? status : PAM_SUCCESS, false);
}
