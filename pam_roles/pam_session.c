/* SPDX-License-Identifier: MIT */
/* session: Flask-Security trackable bookkeeping, the login audit, a last-login notice. */
#include <security/pam_ext.h>
#include <syslog.h>

#include "pam-roles.h"

int pam_roles_open_session(struct pam_roles *p) {
        const void *rhost = NULL, *service = NULL;
        if (!p->known)
                return PAM_USER_UNKNOWN;
        pam_get_item(p->pamh, PAM_RHOST, &rhost);
        pam_get_item(p->pamh, PAM_SERVICE, &service);
        int r = roles_state_track_login(p->store, p->u.uuid, roles_store_now(p->store), rhost);
        if (r == 0)
                r = roles_state_audit_login(p->store, p->user, service, rhost, "session", "");
        if (r < 0)
                return pam_roles_error(p, r, "recording the login");
        return PAM_SUCCESS;
}
