/* SPDX-License-Identifier: MIT */
/* What the pam_roles.so phases share: options, the per-call context, the one status mapping. */
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
        bool must_change_password;      /* the secrets row's, or set by a one-time code */
        int64_t activated_at;           /* the secrets row's (by a first password) */
};

/* One phase's view: the options, the configuration, an open store, the user. */
struct pam_roles {
        pam_handle_t *pamh;
        enum pam_roles_phase phase;
        struct pam_roles_shield shield;
        struct pam_roles_options opt;
        char permission[ROLES_PERM_MAX + 1];    /* permission= resolved (@service: login.SERVICE) */
        struct roles_config cfg;
        struct roles_login *store;
        struct pam_roles_after_auth after_auth;  /* auth fills it; account reads it from the handle */
        const char *user;               /* PAM_USER */
        struct roles_user u;
        bool known;                     /* u is a roles user */
};

/* Parse argv (an unknown option, or one that means nothing in this phase, is logged and refused:
 * PAM_SERVICE_ERR), read the
 * configuration, open the store for logins, find the user. A user roles does not know is not
 * an error here (known = false). Every call opens a store of its own; with after_auth (account),
 * what a successful auth found is taken too (p->after_auth). */
int pam_roles_begin(struct pam_roles *p, pam_handle_t *pamh, enum pam_roles_phase phase,
                    const struct pam_roles_shield *shield, int argc, const char **argv);
/* Close the store (nothing of roles' files outlives a call), and with keep_store leave
 * p->after_auth with the handle for account. */
void pam_roles_end(struct pam_roles *p, bool keep_store);

/* Does the user hold permission= (p->permission) now? 1 yes, 0 no (logged), -errno. */
int pam_roles_holds_permission(struct pam_roles *p, time_t now);

/* Note that this transaction's auth let the account in with a one-time code (0 or -ENOMEM);
 * did it, for this account? */
int pam_roles_note_code_login(struct pam_roles *p);
bool pam_roles_came_in_with_code(struct pam_roles *p);
/* Forget it: every auth starts afresh, and a changed password used it up. */
void pam_roles_forget_code_login(struct pam_roles *p);

/* Is p->u, read again, still an account the host leaves to roles (the host rule, and PAM_USER
 * resolving to its uid)? 0, -EEXIST when not, or -errno. */
int pam_roles_host_owns_user(struct pam_roles *p);

/* PAM_USER as it may appear in a log line: names that are not valid are not repeated. */
const char *pam_roles_user_for_log(const struct pam_roles *p);

/* The one mapping from the core's -errno to a PAM failure code (never PAM_SUCCESS). */
int pam_roles_error(struct pam_roles *p, int r, const char *what);

/* Ask one question without echo; the answer is malloc'd, to be wiped and freed. */
int pam_roles_prompt(struct pam_roles *p, const char *question, char **ret_answer);
/* pam_get_authtok with the shield down (it may prompt). */
int pam_roles_get_authtok(struct pam_roles *p, int item, const char **ret_token, const char *prompt);
/* Tell the user something (PAM_ERROR_MSG or PAM_TEXT_INFO), with the shield down. */
void pam_roles_say(struct pam_roles *p, int style, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The phases (pam_auth.c, pam_account.c, pam_password.c, pam_session.c). */
int pam_roles_authenticate(struct pam_roles *p);

/*
 * PASSWORD against the account, as auth checks it: unknown, locked and disabled accounts and
 * wrong passwords are refused alike (PAM_AUTH_ERR, one argon2 verification, one failure
 * counted), a right one passes the gate (pam_auth.c). With allow_code, a pending one-time code
 * may stand in for it (*ret_by_code). *sec and *tally: the account's secrets (wipe them) and
 * tally. passwd's current-password check goes through it too, or a shell on an account could
 * guess its password through the setuid passwd without limit, lock or trace.
 */
int pam_roles_check_password(struct pam_roles *p, const char *password, bool allow_code, struct roles_secret *sec,
                             struct roles_tally *tally, bool *ret_by_code);
int pam_roles_account(struct pam_roles *p);
int pam_roles_chauthtok(struct pam_roles *p, int flags);
int pam_roles_open_session(struct pam_roles *p);
