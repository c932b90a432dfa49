/* SPDX-License-Identifier: MIT */
/* pam_roles.so: the PAM entry points, and nothing else. */
#include <security/pam_modules.h>

#include "pam-roles.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*phase_fn)(struct pam_roles *p, int flags);

static int authenticate(struct pam_roles *p, int flags);

static int account(struct pam_roles *p, int flags);

static int run(phase_fn phase, pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_roles p;
        int r = pam_roles_begin(&p, pamh, phase == account, argc, argv);
        if (r == PAM_SUCCESS)
                r = phase(&p, flags);
        /* A successful auth leaves its store to account, which follows in the same process. */
        pam_roles_end(&p, phase == authenticate && r == PAM_SUCCESS);
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
        return run(authenticate, pamh, flags, argc, argv);
}

EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        (void) pamh, (void) flags, (void) argc, (void) argv;
        return PAM_SUCCESS;     /* roles grants no credentials beyond what NSS serves */
}

EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(account, pamh, flags, argc, argv);
}

EXPORT int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(pam_roles_chauthtok, pamh, flags, argc, argv);
}

EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return run(open_session, pamh, flags, argc, argv);
}

EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        (void) pamh, (void) flags, (void) argc, (void) argv;
        return PAM_SUCCESS;
}
