/* SPDX-License-Identifier: MIT */
/*
 * password: a new argon2id hash, after the old password unless the caller is root. Setting it
 * bumps last_auth_sensitive_operation_at and fs_uniquifier (roles_secret_set_password), ends a
 * must-change state, activates an account that came in with a code, and voids pending codes.
 */
#include <errno.h>
#include <security/pam_ext.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "auth.h"
#include "login_slots.h"
#include "pam-roles.h"

static int check_old_password(struct pam_roles *p, int flags) {
        const char *old = NULL;
        /* root changes anyone's password, as passwd(1) lets it (but not an expired password on
         * the way in, which a root daemon asks for on the user's behalf, as pam_unix does); and
         * an account that logged in with a one-time code in this same transaction has no old
         * password to give. A password that must change (imported with lastchg 0, say) is
         * changed with the current one, as pam_unix asks: anyone at the user's keyboard could
         * set one otherwise. */
        if ((pam_roles_caller_uid(&p->shield) == 0 && !(flags & PAM_CHANGE_EXPIRED_AUTHTOK)) ||
            pam_roles_came_in_with_code(p))
                return PAM_SUCCESS;
        int r = pam_roles_get_authtok(p, PAM_OLDAUTHTOK, &old, "Current password: ");
        if (r != PAM_SUCCESS || !old)
                return r == PAM_SUCCESS ? PAM_AUTH_ERR : r;
        struct roles_secret now = { 0 };
        struct roles_tally tally;
        r = pam_roles_check_password(p, old, false, &now, &tally, NULL);
        roles_secret_wipe(&now);
        if (r != PAM_SUCCESS)
                pam_syslog(p->pamh, LOG_NOTICE, "wrong current password for %s", pam_roles_user_for_log(p));
        return r;
}

int pam_roles_chauthtok(struct pam_roles *p, int flags) {
        struct roles_secret sec = { 0 };
        struct roles_hash_params params;
        char hash[ROLES_HASH_ENCODED_MAX];
        const char *pw = NULL;
        int r, status;

        if (!p->known)
                return PAM_USER_UNKNOWN;
        if ((r = roles_secret_get(roles_login_secrets(p->store), p->u.uuid, &sec)) < 0)
                return pam_roles_error(p, r, "reading the account's secrets");
        if (flags & PAM_PRELIM_CHECK) {
                status = check_old_password(p, flags);
                goto out;
        }
        if (!(flags & PAM_UPDATE_AUTHTOK)) {
                status = PAM_SERVICE_ERR;
                goto out;
        }
        if ((status = check_old_password(p, flags)) != PAM_SUCCESS)
                goto out;
        /* libpam asks for the new password twice and compares. */
        r = pam_roles_get_authtok(p, PAM_AUTHTOK, &pw, NULL);
        if (r != PAM_SUCCESS || !pw) {
                status = r == PAM_SUCCESS ? PAM_AUTHTOK_ERR : r;
                goto out;
        }
        size_t len = strlen(pw);
        /* A C string holds no NUL: too long or too short are the refusals left. */
        if ((r = roles_password_policy_check(pw, len, &p->cfg)) < 0) {
                char why[128];
                pam_roles_say(p, PAM_ERROR_MSG, "%s", roles_password_policy_refusal(r, &p->cfg, why, sizeof(why)));
                status = PAM_AUTHTOK_ERR;
                goto out;
        }
        roles_hash_params_from_config(&p->cfg, &params);
        /* The new hash's memory counts toward the host-wide bound, as a verification's does. */
        struct login_slot slot;
        if (login_slot_take(&p->cfg, &slot) < 0) {
                pam_syslog(p->pamh, LOG_WARNING, "password change for %s: no verification slot came free in time",
                           pam_roles_user_for_log(p));
                status = PAM_AUTHTOK_ERR;
                goto out;
        }
        r = roles_password_hash(pw, len, &params, hash);
        login_slot_give_back(&slot);
        if (r < 0) {
                status = PAM_AUTHTOK_ERR;
                goto out;
        }
        r = roles_secret_set_password(roles_login_secrets(p->store), p->u.uuid, hash, false);
        if (r == 0 && p->u.activated_at == 0 && sec.activated_at == 0)
                r = roles_secret_set_activated(roles_login_secrets(p->store), p->u.uuid);
        if (r == 0)
                r = roles_secret_drop_codes(roles_login_secrets(p->store), p->u.uuid);
        roles_wipe(hash, sizeof(hash));
        if (r < 0) {
                status = pam_roles_error(p, r, "storing the new password");
                goto out;
        }
        pam_syslog(p->pamh, LOG_NOTICE, "password changed for %s", pam_roles_user_for_log(p));
        pam_roles_forget_code_login(p);        /* the code stood in for a password once */
        status = PAM_SUCCESS;
out:
        roles_secret_wipe(&sec);
        return status;
}
