/* SPDX-License-Identifier: MIT */
/* pam_roles.so: the PAM entry points, and nothing else. */
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>

#include "pam-roles.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*phase_fn)(struct pam_roles *p, int flags);

static int run(enum pam_roles_phase which, phase_fn phase, pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_roles p;
        struct pam_roles_shield shield = { 0 };
        pam_roles_shield_up(&shield);
        int r = pam_roles_begin(&p, pamh, which, &shield, argc, argv);
        if (r == PAM_SUCCESS)
                r = phase(&p, flags);
        if (p.opt.debug)
                pam_syslog(pamh, LOG_DEBUG, "%s: %s", pam_roles_user_for_log(&p), pam_strerror(pamh, r));
        /* A successful auth leaves its store to account, which follows in the same process. */
        pam_roles_end(&p, which == PAM_ROLES_AUTH && r == PAM_SUCCESS);
        pam_roles_shield_down(&p.shield);
        return r;
}

static int authenticate(struct pam_roles *p, int flags) {
        (void) flags;
        return pam_roles_authenticate(p);
}

static int account(struct pam_roles *p, int flags) {
        (void) flags;
        return pam_roles_account(p);
}

static int open_session(struct pam_roles *p, int flags) {
        (void) flags;
        return pam_roles_open_session(p);
}

EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(PAM_ROLES_AUTH, authenticate, pamh, flags, argc, argv);
}

EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        (void) pamh, (void) flags, (void) argc, (void) argv;
        return PAM_SUCCESS;     /* roles grants no credentials beyond what NSS serves */
}

EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(PAM_ROLES_ACCOUNT, account, pamh, flags, argc, argv);
}

EXPORT int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(PAM_ROLES_PASSWORD, pam_roles_chauthtok, pamh, flags, argc, argv);
}

EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(PAM_ROLES_SESSION, open_session, pamh, flags, argc, argv);
}

EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        (void) pamh, (void) flags, (void) argc, (void) argv;
        return PAM_SUCCESS;
}
