/* SPDX-License-Identifier: MIT */
/*
 * account: is this account allowed in now? Unknown users are PAM_USER_UNKNOWN so that a stack
 * can fall through to another module; everything else that is not a clear yes is a refusal.
 */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "authz.h"
#include "pam-roles.h"

int pam_roles_account(struct pam_roles *p) {
        struct roles_secret sec = { 0 };
        time_t now;
        int r, status = PAM_PERM_DENIED;

        if (!p->known)
                return PAM_USER_UNKNOWN;
        now = roles_snapshot_now(roles_login_snapshot(p->store));
        if (!p->u.enabled) {
                pam_syslog(p->pamh, LOG_NOTICE, "account %s is disabled", pam_roles_user_for_log(p));
                return PAM_PERM_DENIED;
        }
        if (p->u.expires_at != 0 && p->u.expires_at <= (int64_t) now) {
                pam_syslog(p->pamh, LOG_NOTICE, "account %s has expired", pam_roles_user_for_log(p));
                return PAM_ACCT_EXPIRED;
        }
        /* Right after a successful auth in this process: what it found, with its snapshot
         * (its store no longer holds secrets.db and state.db). */
        if (p->after_auth.valid) {
                sec.must_change_password = p->after_auth.must_change_password;
                sec.activated_at = p->after_auth.activated_at;
        } else if ((r = roles_secret_get(roles_login_secrets(p->store), p->u.uuid, &sec)) < 0) {
                status = pam_roles_error(p, r, "reading the account's state");
                goto out;
        }
        /* No lockout here: the failure tally guards the password and the codes, which auth
         * checks. An account whose credential was verified another way (sshd's public key: it
         * runs account alone) is not refused because someone guessed at its password, as
         * pam_faillock does not refuse it. */
        if (p->opt.permission) {
                r = pam_roles_holds_permission(p, now);
                if (r < 0) {
                        status = pam_roles_error(p, r, "checking the permission");
                        goto out;
                }
                if (r == 0)
                        goto out;
        }
        /* Activated by the administrator (roles.db) or by a first password (secrets.db); an
         * account that came in with a one-time code must set its password now. */
        if (sec.must_change_password)
                status = PAM_NEW_AUTHTOK_REQD;
        else if (p->u.activated_at == 0 && sec.activated_at == 0) {
                pam_syslog(p->pamh, LOG_NOTICE, "account %s is not activated yet", pam_roles_user_for_log(p));
                status = PAM_PERM_DENIED;
        } else
                status = PAM_SUCCESS;
out:
        roles_secret_wipe(&sec);
        return status;
}
