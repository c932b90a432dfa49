/* SPDX-License-Identifier: MIT */
/* session: Flask-Security trackable bookkeeping, the login audit, a last-login notice. */
#include <security/pam_ext.h>
#include <syslog.h>

#include "pam-roles.h"

int pam_roles_open_session(struct pam_roles *p) {
        const char *rhost = p->attempt.rhost;
        /* Not ours (root, whom sudo opens the session for; a local account): nothing to record.
         * A session grants no access, so this is a success, not PAM_IGNORE, which would make a
         * stack of pam_roles alone refuse every session of a local account. */
        if (!p->attempt.known)
                return PAM_SUCCESS;
        if (!p->opt.quiet) {
                int64_t at;
                char ip[256], when[21];
                /* The host is whatever the remote side said: shown only if it is plain text. */
                if (roles_state_previous_login(p->attempt.sec, p->attempt.u.uuid, &at, ip, sizeof(ip)) == 0)
                        pam_roles_say(p, PAM_TEXT_INFO, "Last login: %s%s%s", roles_format_time(at, when),
                                 ip[0] && roles_text_valid(ip, sizeof(ip) - 1) ? " from " : "",
                                 ip[0] && roles_text_valid(ip, sizeof(ip) - 1) ? ip : "");
        }
        /* PAM_RHOST comes from the remote side: kept only if it is plain text. */
        if (rhost && !roles_text_valid(rhost, ROLES_TEXT_MAX))
                rhost = NULL;
        int r = roles_state_track_login(p->attempt.sec, p->attempt.u.uuid, roles_snapshot_now(p->attempt.snap), rhost);
        if (r == 0)
                r = roles_state_audit_login(p->attempt.sec, p->attempt.user, p->attempt.service, rhost, "session", "");
        if (r < 0)
                return pam_roles_status(p, roles_attempt_error(&p->attempt, r, "recording the login"));
        return PAM_SUCCESS;
}
