/* SPDX-License-Identifier: MIT */
/* What the pam_roles.so phases share: options, the per-call context, the conversation, the one
 * status mapping. The login protocol itself is common/login.h's. */
#pragma once

#include <security/pam_modules.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "login.h"

/* pam_shield.c: the caller of a setuid program cannot stop it while it works with the
 * databases. Up for a whole phase, down around every conversation. */
struct pam_roles_shield {
        bool up;
        uid_t ruid, euid, suid;         /* the caller's, put back when it comes down */
        sigset_t saved_mask;
};
void pam_roles_shield_up(struct pam_roles_shield *sh);
void pam_roles_shield_down(struct pam_roles_shield *sh);
/* The real uid of whoever runs the program, shield or not. */
uid_t pam_roles_caller_uid(const struct pam_roles_shield *sh);

enum pam_roles_phase { PAM_ROLES_AUTH, PAM_ROLES_ACCOUNT, PAM_ROLES_PASSWORD, PAM_ROLES_SESSION };

struct pam_roles_options {
        bool debug;
        bool quiet;
        bool no_totp;
        bool totp_required;             /* totp=required */
        bool use_first_pass;
        bool try_first_pass;
        const char *conf;               /* conf=PATH */
        const char *permission;         /* permission=CODE or @service */
};

/* What a successful auth found, for account to judge by (with auth's snapshot): the store it
 * keeps has let secrets.db and state.db go. It belongs to the account it was found for: an
 * application may change PAM_USER between the phases, and another user is judged afresh. */
struct pam_roles_after_auth {
        bool valid;
        char uuid[ROLES_UUID_LEN + 1];  /* the account authenticated */
        char user[ROLES_NAME_MAX + 1];  /* its name, PAM_USER at the time */
        struct roles_login_found found;
};

/* One phase's view: the options, the configuration, the login (its store, PAM_USER, the user). */
struct pam_roles {
        pam_handle_t *pamh;
        enum pam_roles_phase phase;
        struct pam_roles_shield shield;
        struct pam_roles_options opt;
        char permission[ROLES_PERM_MAX + 1];    /* permission= resolved (@service: login.SERVICE) */
        struct roles_config cfg;
        struct roles_attempt attempt;           /* the login handle, user (PAM_USER), u, known */
        struct pam_roles_after_auth after_auth;  /* auth fills it; account reads it from the handle */
        int conv_status;                /* why the conversation failed (ROLES_LOGIN_CONV_ERROR) */
        bool via_helper;                /* auth without privilege: roles_chkpwd checks (no store) */
        char *code;                     /* the verification code typed, wiped by pam_roles_end */
};

/*
 * Raise the shield, parse argv (an unknown option, or one that means nothing in this phase, is
 * logged and refused: PAM_SERVICE_ERR), read the configuration, open the store for logins, find
 * the user. A user roles does not know is not an error here (known = false). Every call opens a
 * store of its own; account takes what a successful auth found too (p->after_auth).
 */
int pam_roles_begin(struct pam_roles *p, pam_handle_t *pamh, enum pam_roles_phase phase, int argc, const char **argv);
/* Log status (debug), close the store (nothing of roles' files outlives a call), with keep
 * leave p->after_auth with the handle for account, lower the shield; status is returned. */
int pam_roles_end(struct pam_roles *p, int status, bool keep);

/* pam_chkpwd.c: roles_login_password run by the setuid helper roles_chkpwd, for a process
 * without privilege (p->via_helper); its result, as the protocol's own. */
enum roles_login_result pam_roles_chkpwd(struct pam_roles *p);

/* The one mapping from a login result to a PAM code. */
int pam_roles_status(struct pam_roles *p, enum roles_login_result result);

/* Note that this transaction's auth let the account in with a one-time code (0 or -ENOMEM);
 * did it, for this account? */
int pam_roles_note_code_login(struct pam_roles *p);
bool pam_roles_came_in_with_code(struct pam_roles *p);
/* Forget it: every auth starts afresh, and a changed password used it up. */
void pam_roles_forget_code_login(struct pam_roles *p);

/* Tell the user something (PAM_ERROR_MSG or PAM_TEXT_INFO), with the shield down. */
void pam_roles_say(struct pam_roles *p, int style, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

