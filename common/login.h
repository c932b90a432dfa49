/* SPDX-License-Identifier: MIT */
/*
 * The login protocol: who may try a password, what a refusal costs, when a password, a one-time
 * code or a TOTP code lets an account in, when an account may be used, how a password is
 * changed. It lives here, not in the PAM module, so that it is written once, read in one place
 * and tested without libpam (tests/test_login.c); pam_roles only converses, parses its options
 * and maps a result to a PAM code.
 *
 * What it promises, whoever calls it:
 *  - every refusal of a password (an unknown user, a locked, disabled or password-less account,
 *    a wrong password) gets the same result, pays one argon2 verification at the configured
 *    cost and one state.db write (the tally and the login audit), so that neither the answer
 *    nor the time tells them apart;
 *  - no right password succeeds while state.db could not record a failure (the rehearsal gate);
 *  - a one-time code and a TOTP step work once, even between racing logins;
 *  - the argon2 memory of all logins at once is bounded host-wide (login_slots.h).
 *
 * The caller owns the conversation: the protocol asks for passwords and codes through
 * ops->ask, tells the user through ops->say, and logs through ops->log. No read transaction of
 * the store is held across any of them (a prompt may wait for minutes).
 *
 * The handle (struct roles_login) is a snapshot of roles.db plus secrets.db and state.db opened
 * for what logins write (tallies, TOTP steps, tracking, the login audit, a rehash, a first
 * activation), without the writer's lock: any number of logins run at once, beside a writer.
 * An attempt (struct roles_attempt) is one user's try over it: its steps run the protocol.
 *
 * Convention: the protocol's steps return an enum roles_login_result and, in *ret_reason, why
 * (ROLES_LOGIN_R_NONE on success); roles_login_reason_text words it for a log.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "secrets.h"
#include "snapshot.h"

struct roles_login;

/* On failure errbuf (may be NULL) receives the one-line reason. */
int roles_login_open(const struct roles_config *cfg, struct roles_login **ret, char *errbuf, size_t errlen);
void roles_login_close(struct roles_login *l);
const char *roles_login_error(const struct roles_login *l);

/* What the login reads, and what it writes; both live as long as the login. */
struct roles_snapshot *roles_login_snapshot(struct roles_login *l);
struct roles_secrets *roles_login_secrets(struct roles_login *l);

struct host_paths;

/* Numbered: they are roles_chkpwd's exit statuses too (chkpwd/roles_chkpwd.c), which a
 * pam_roles.so of another build may read. Never renumber; add at the end. */
enum roles_login_result {
        ROLES_LOGIN_OK = 0,
        ROLES_LOGIN_AUTH_FAILED = 1,    /* the password or code was refused (or could not be judged) */
        ROLES_LOGIN_DENIED = 2,         /* the account may not be used now */
        ROLES_LOGIN_EXPIRED = 3,        /* the account has expired */
        ROLES_LOGIN_MUST_CHANGE = 4,    /* the account may be used once it has set a new password */
        ROLES_LOGIN_UNKNOWN_USER = 5,   /* not a roles account: another service may know it */
        ROLES_LOGIN_NOT_CHANGED = 6,    /* the new password was refused or could not be made */
        ROLES_LOGIN_CONV_ERROR = 7,     /* ops->ask failed: the caller knows why */
        ROLES_LOGIN_NO_MEMORY = 8,
        ROLES_LOGIN_SYSTEM_ERROR = 9,   /* a database could not be read or written */
        ROLES_LOGIN_RESULT_MAX = ROLES_LOGIN_SYSTEM_ERROR,
};

enum roles_login_reason {
        ROLES_LOGIN_R_NONE,
        ROLES_LOGIN_R_UNKNOWN_USER,
        ROLES_LOGIN_R_NO_SECRETS,               /* a known account without a secrets row */
        ROLES_LOGIN_R_ACCOUNT_UNREADABLE,
        ROLES_LOGIN_R_TALLY_UNREADABLE,
        ROLES_LOGIN_R_LOCKED_OUT,
        ROLES_LOGIN_R_DISABLED,
        ROLES_LOGIN_R_EXPIRED,
        ROLES_LOGIN_R_NOT_ACTIVATED,
        ROLES_LOGIN_R_PERMISSION_UNREADABLE,
        ROLES_LOGIN_R_LACKS_PERMISSION,
        ROLES_LOGIN_R_NO_PASSWORD,              /* none given (ops->ask answered nothing) */
        ROLES_LOGIN_R_WRONG_PASSWORD,
        ROLES_LOGIN_R_PASSWORD_TOO_LONG,
        ROLES_LOGIN_R_HASH_ABOVE_CEILING,
        ROLES_LOGIN_R_BAD_STORED_HASH,
        ROLES_LOGIN_R_NO_SLOT,                  /* no verification slot came free in time */
        ROLES_LOGIN_R_SLOTS_UNUSABLE,           /* the slots file cannot be opened */
        ROLES_LOGIN_R_CANNOT_COUNT,             /* the rehearsal gate: state.db cannot take a failure */
        ROLES_LOGIN_R_CODE_USED,                /* a one-time code a racing login spent first */
        ROLES_LOGIN_R_TOTP_WRONG,
        ROLES_LOGIN_R_TOTP_REUSED,              /* right, but of a step already used: not counted */
        ROLES_LOGIN_R_RECOVERY_WRONG,           /* a recovery code never issued, or spent already */
        ROLES_LOGIN_R_NO_TOTP,                  /* totp_required, and the account has not enrolled */
        ROLES_LOGIN_R_MUST_CHANGE,
        ROLES_LOGIN_R_NEW_PASSWORD_POLICY,      /* the new password breaks the policy (said to the user) */
        ROLES_LOGIN_R_NEW_PASSWORD_NOT_MADE,    /* no slot for its hash, or hashing failed */
        ROLES_LOGIN_R_CONVERSATION,
        ROLES_LOGIN_R_SYSTEM,
};

/* The reason as log lines give it ("wrong password", "locked out", ...). */
const char *roles_login_reason_text(enum roles_login_reason reason);

/* What the protocol asks the caller for (ops->ask). */
enum roles_login_ask {
        ROLES_LOGIN_ASK_PASSWORD,       /* the password, to log in */
        ROLES_LOGIN_ASK_CURRENT,        /* the current password, to change it */
        ROLES_LOGIN_ASK_NEW,            /* the new password (asked twice and compared by the caller) */
        ROLES_LOGIN_ASK_CODE,           /* the TOTP code */
};

struct roles_login_ops {
        /* 0 with *ret_answer the answer (or NULL: none given), which stays the caller's and
         * valid until the next ask or the end of the login; < 0 when the conversation failed. */
        int (*ask)(void *userdata, enum roles_login_ask what, const char **ret_answer);
        /* An error message for the user. */
        void (*say)(void *userdata, const char *text);
        /* A notice for the user (the last login, when a session opens). */
        void (*inform)(void *userdata, const char *text);
        /* A log line at a syslog(3) priority. LOG_DEBUG lines are for a caller asked to debug:
         * what concerns an account that is not roles' (a local user whose login falls through
         * to another module) is logged at LOG_DEBUG only. */
        void (*log)(void *userdata, int priority, const char *text);
};

/* One attempt to log in, over a login handle: set the first block (roles_attempt_init), then
 * find the user. */
struct roles_attempt {
        struct roles_login *login;              /* the handle (roles_login_open) */
        const struct roles_config *cfg;
        const char *user;                       /* the name asked for */
        const char *service, *rhost;            /* for the login audit; NULL when unknown */
        /* Who asks, for log lines in pam_unix's form (authentication failure; logname= uid= euid=
         * tty= ruser= rhost= user=, session opened for user U(uid=N) by L(uid=M)): NULL when
         * unknown; text that is not plain is left out. */
        const char *logname, *tty, *ruser;
        uid_t caller_uid, caller_euid;
        const char *permission;                 /* NULL, or a code the account must hold */
        bool no_totp;                           /* the password alone, even when enrolled */
        bool totp_required;                     /* refuse an account without TOTP, as a wrong password */
        const struct host_paths *host;          /* the host's own accounts; NULL: HOST_PATHS_ACCOUNTS */
        const struct roles_login_ops *ops;
        void *userdata;

        struct roles_snapshot *snap;            /* the handle's views (roles_attempt_init) */
        struct roles_secrets *sec;

        struct roles_user u;                    /* roles_login_find_user */
        bool known;                             /* u is a roles account the host leaves to roles */
};

void roles_attempt_init(struct roles_attempt *l, struct roles_login *login, const struct roles_config *cfg,
                        const char *user, const struct roles_login_ops *ops, void *userdata);
/* Give the attempt its handle (NULL: none yet, or closed), when it is opened after init. */
void roles_attempt_attach(struct roles_attempt *l, struct roles_login *login);

/*
 * l->u and l->known for l->user: a roles account whose name and ids the host's own files do not
 * hold, and that the system resolves to its own uid. A user roles does not know (or that is not
 * roles' to log in) is not an error (known = false), and pays the same reads and lookups.
 * OK, or NO_MEMORY or SYSTEM_ERROR when it could not be decided (logged).
 */
enum roles_login_result roles_login_find_user(struct roles_attempt *l);

/*
 * Whether l->user is an account of the host's own files (/etc/passwd). Such a name is never
 * roles' to log in (the host's accounts win: it is pam_unix's), and that it exists is no secret
 * (the file is world-readable, and every program resolves it), so a front end passes it on at
 * once: nothing asked, checked, counted, written or logged, no argon2 paid. This is what lets
 * pam_roles stand before pam_unix in every service without costing a local login anything.
 * 1 yes, 0 no or the files cannot be read (then the protocol's own checks judge the name,
 * which refuse it as they refuse any name that is not roles').
 */
int roles_login_host_account(const struct roles_attempt *l);

/* l->user as it may appear in a log line: names that are not valid are not repeated. */
const char *roles_login_user_for_log(const struct roles_attempt *l);

/* The result for a core -errno (ROLES_LOGIN_NO_MEMORY or ROLES_LOGIN_SYSTEM_ERROR), logged with
 * what was being done. */
enum roles_login_result roles_attempt_error(struct roles_attempt *l, int r, const char *what);

/* What a successful roles_login_password found, for roles_login_account to judge by. */
struct roles_login_found {
        bool by_code;                   /* a one-time code stood in for the password */
        bool must_change_password;      /* the secrets row's, or set by that code */
        int64_t activated_at;           /* the secrets row's (by a first password) */
};

/*
 * Authenticate: the password (ops->ask PASSWORD), or in its place a pending activation or reset
 * code (the account must then set a password), then, when enrolled and not no_totp, a TOTP code
 * (ops->ask CODE), or in its place one of the account's recovery codes, spent (and recorded in
 * the login audit, the codes left told through ops->inform). A legacy or weaker hash is
 * upgraded, the failure count found is cleared. With totp_required, an account that has not
 * enrolled is refused before its password is looked at, as a locked one is (a wrong password's
 * answer and cost, counted). OK with *ret_found; AUTH_FAILED for every refusal; CONV_ERROR,
 * NO_MEMORY, SYSTEM_ERROR.
 */
enum roles_login_result roles_login_password(struct roles_attempt *l, struct roles_login_found *ret_found,
                                             enum roles_login_reason *ret_reason);

/*
 * May the account be used now (enabled, not expired, permission held, activated)? found: what
 * roles_login_password found in this process, or NULL to read the secrets row. No lockout here:
 * an account whose credential was verified another way (sshd's public key) is not refused
 * because someone guessed at its password. OK, MUST_CHANGE, DENIED, EXPIRED, UNKNOWN_USER,
 * NO_MEMORY, SYSTEM_ERROR.
 */
enum roles_login_result roles_login_account(struct roles_attempt *l, const struct roles_login_found *found,
                                            enum roles_login_reason *ret_reason);

/*
 * Change the password. ask_current: verify the current one first (ops->ask CURRENT), as auth
 * verifies a password, refusals and all; a caller that need not (root, or an account that came
 * in with a one-time code) says false. prelim_only: only that verification (PAM's preliminary
 * pass). The new password (ops->ask NEW) is held to the password policy (refusals said to the
 * user), hashed, stored; that ends a must-change state, activates the account if it was not,
 * and voids pending codes. OK, AUTH_FAILED (the current password), NOT_CHANGED, UNKNOWN_USER,
 * CONV_ERROR, NO_MEMORY, SYSTEM_ERROR.
 */
enum roles_login_result roles_login_chauthtok(struct roles_attempt *l, bool ask_current, bool prelim_only,
                                              enum roles_login_reason *ret_reason);

/*
 * A session opened for the account: Flask-Security's trackable bookkeeping (the current login
 * becomes the last, the count goes up), a "session" row in the login audit and pam_unix's
 * "session opened for user U(uid=N) by L(uid=M)" log line; unless quiet, the login before this
 * one is told to the user (ops->inform). An account that is not roles' (root, whom sudo opens a
 * session for; a local account) has nothing to record and nothing is logged: OK, for a session
 * grants no access. OK, NO_MEMORY, SYSTEM_ERROR.
 */
enum roles_login_result roles_login_session(struct roles_attempt *l, bool quiet, enum roles_login_reason *ret_reason);

/* A session closed: pam_unix's "session closed for user U" for a roles account, nothing for
 * another. Always OK. */
enum roles_login_result roles_login_session_close(struct roles_attempt *l);
