/* SPDX-License-Identifier: MIT */
/*
 * What every phase shares: the options, the configuration, the store and the user (begin, end),
 * what a successful auth keeps for account, the conversation the login protocol asks through,
 * and the one mapping from its results to PAM codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fork_generation.h"
#include "pam-roles.h"
#include "roles-build.h"

/*
 * Every option is honoured in the phases it names and refused in the others: an option that
 * means nothing where it stands (permission= on a session line, no_totp on an account line) is a
 * mistake in the stack, and a check quietly dropped is how one lets people in.
 */
#define ALL_PHASES ((1u << PAM_ROLES_AUTH) | (1u << PAM_ROLES_ACCOUNT) | (1u << PAM_ROLES_PASSWORD) | (1u << PAM_ROLES_SESSION))
static const struct {
        const char *name;       /* "name", or "name=" for an option with a value */
        unsigned phases;
} options[] = {
        { "debug", ALL_PHASES },
        { "quiet", ALL_PHASES },
        { "conf=", ALL_PHASES },
        { "no_totp", 1u << PAM_ROLES_AUTH },
        { "totp=", 1u << PAM_ROLES_AUTH },
        /* Read by libpam's pam_get_authtok, which auth and password use. */
        { "use_first_pass", (1u << PAM_ROLES_AUTH) | (1u << PAM_ROLES_PASSWORD) },
        { "try_first_pass", (1u << PAM_ROLES_AUTH) | (1u << PAM_ROLES_PASSWORD) },
        { "permission=", (1u << PAM_ROLES_AUTH) | (1u << PAM_ROLES_ACCOUNT) },
};

static const char *const phase_names[] = {
        [PAM_ROLES_AUTH] = "auth", [PAM_ROLES_ACCOUNT] = "account",
        [PAM_ROLES_PASSWORD] = "password", [PAM_ROLES_SESSION] = "session",
};

static int parse_options(struct pam_roles *p, int argc, const char **argv) {
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                size_t k;
                for (k = 0; k < ROLES_N_ELEMENTS(options); k++) {
                        size_t n = strlen(options[k].name);
                        if (options[k].name[n - 1] == '=' ? strncmp(a, options[k].name, n) == 0 : strcmp(a, options[k].name) == 0)
                                break;
                }
                if (k == ROLES_N_ELEMENTS(options)) {
                        /* A typo in a stack must not quietly drop a check: refuse to run. */
                        pam_syslog(p->pamh, LOG_ERR, "unknown option '%s'", a);
                        return PAM_SERVICE_ERR;
                }
                if (!(options[k].phases & (1u << p->phase))) {
                        pam_syslog(p->pamh, LOG_ERR, "option '%s' has no meaning on a%s %s line: refused", a,
                                   p->phase == PAM_ROLES_AUTH || p->phase == PAM_ROLES_ACCOUNT ? "n" : "", phase_names[p->phase]);
                        return PAM_SERVICE_ERR;
                }
                const char *value = strchr(a, '=') ? strchr(a, '=') + 1 : NULL;
                if (strcmp(a, "debug") == 0)
                        p->opt.debug = true;
                else if (strcmp(a, "quiet") == 0)
                        p->opt.quiet = true;
                else if (strcmp(a, "no_totp") == 0)
                        p->opt.no_totp = true;
                else if (strcmp(a, "use_first_pass") == 0)
                        p->opt.use_first_pass = true;
                else if (strcmp(a, "try_first_pass") == 0)
                        p->opt.try_first_pass = true;
                else if (strncmp(a, "conf=", 5) == 0 && value[0] == '/')
                        p->opt.conf = value;
                else if (strncmp(a, "permission=", 11) == 0 && value[0])
                        p->opt.permission = value;
                else if (strcmp(a, "totp=required") == 0)
                        p->opt.totp_required = true;
                else {
                        pam_syslog(p->pamh, LOG_ERR, "option '%s' has a bad value", a);
                        return PAM_SERVICE_ERR;
                }
        }
        /* Asked for and waived on one line: which was meant is anyone's guess. */
        if (p->opt.totp_required && p->opt.no_totp) {
                pam_syslog(p->pamh, LOG_ERR, "options 'totp=required' and 'no_totp' contradict each other: refused");
                return PAM_SERVICE_ERR;
        }
        return PAM_SUCCESS;
}

/* permission=CODE, or permission=@service for login.<PAM_SERVICE>. */
static int permission_code(struct pam_roles *p, char *buf, size_t size) {
        const char *want = p->opt.permission;
        if (want[0] == '@') {
                const void *service = NULL;
                if (pam_get_item(p->pamh, PAM_SERVICE, &service) != PAM_SUCCESS || !service)
                        return -EINVAL;
                if (snprintf(buf, size, "login.%s", (const char *) service) >= (int) size)
                        return -EINVAL;
        } else if (roles_strcpy(buf, size, want) < 0)
                return -EINVAL;
        return roles_perm_valid(buf, false) ? 0 : -EINVAL;
}

/*
 * A successful auth keeps what account needs from secrets.db and state.db with the PAM handle
 * (pam_set_data), as values: account, which sshd and sudo run right after it in the same
 * process, judges the account auth found. They are tied to the process (its fork generation:
 * fork_generation.h) and to the configuration's paths: in a forked child, or for another conf=,
 * account reads afresh.
 *
 * No store is kept: every call opens its own and closes it before it returns. roles.db is in
 * WAL mode, and its WAL index is mapped read-write by root; the application may fork a child
 * that becomes the user without exec before pam_end (sshd's session process; su's parent), and
 * that child must hold nothing of roles' files, as it must hold nothing of secrets.db and
 * state.db. Opening costs a fraction of a millisecond per call (docs/benchmarks.md).
 */
#define AFTER_AUTH_DATA "pam_roles_after_auth"

struct kept_auth {
        struct pam_roles_after_auth after_auth;
        uint64_t fork_generation;
        char public_db[PATH_MAX];
};

static void kept_auth_free(pam_handle_t *pamh, void *data, int error_status) {
        (void) pamh, (void) error_status;
        explicit_bzero(data, sizeof(struct kept_auth));
        free(data);
}

static int open_store(struct pam_roles *p, bool after_auth, char *err, size_t errlen) {
        const void *data = NULL;
        if (after_auth && pam_get_data(p->pamh, AFTER_AUTH_DATA, &data) == PAM_SUCCESS && data) {
                const struct kept_auth *k = data;
                if (k->fork_generation == roles_fork_generation() && strcmp(k->public_db, p->cfg.public_db) == 0)
                        p->after_auth = k->after_auth;
        }
        pam_set_data(p->pamh, AFTER_AUTH_DATA, NULL, NULL);     /* for this account only */
        struct roles_login *login;
        int r = roles_login_open(&p->cfg, &login, err, errlen);
        if (r >= 0)
                roles_attempt_attach(&p->attempt, login);
        return r;
}

/*
 * The conversation may take minutes, or for ever (a stopped su: the shield is down while it
 * prompts): no read transaction is held across it, or it would keep roles.db's WAL from being
 * checkpointed (roles_snapshot_release). What is read after it is read afresh.
 */
static void converse_begin(struct pam_roles *p) {
        if (p->attempt.snap)
                roles_snapshot_release(p->attempt.snap);
        pam_roles_shield_down(&p->shield);
}

void pam_roles_say(struct pam_roles *p, int style, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        converse_begin(p);
        (void) pam_vprompt(p->pamh, style, NULL, fmt, ap);
        pam_roles_shield_up(&p->shield);
        va_end(ap);
}

static void forget_code(struct pam_roles *p) {
        if (p->code) {
                explicit_bzero(p->code, strlen(p->code));
                free(p->code);
                p->code = NULL;
        }
}

/* The verification code, kept in p->code until the next one or the end of the phase. */
static int prompt_code(struct pam_roles *p) {
        char *answer = NULL;
        forget_code(p);
        int r = pam_prompt(p->pamh, PAM_PROMPT_ECHO_OFF, &answer, "%s", "Verification code: ");
        if (r == PAM_SUCCESS && answer)
                p->code = answer;
        else if (answer) {
                explicit_bzero(answer, strlen(answer));
                free(answer);
        }
        return r == PAM_SUCCESS && !p->code ? PAM_CONV_ERR : r;
}

/* The login's questions (login.h): the passwords through pam_get_authtok, which honours
 * use_first_pass and try_first_pass and asks a new one twice; the code through the
 * conversation. libpam's answer is kept for pam_roles_status. */
static int ask(void *userdata, enum roles_login_ask what, const char **ret_answer) {
        struct pam_roles *p = userdata;
        const char *answer = NULL;
        int r;
        converse_begin(p);
        switch (what) {
        case ROLES_LOGIN_ASK_CODE:
                r = prompt_code(p);
                answer = p->code;
                break;
        case ROLES_LOGIN_ASK_CURRENT:
                r = pam_get_authtok(p->pamh, PAM_OLDAUTHTOK, &answer, "Current password: ");
                break;
        case ROLES_LOGIN_ASK_PASSWORD:
        case ROLES_LOGIN_ASK_NEW:
        default:
                r = pam_get_authtok(p->pamh, PAM_AUTHTOK, &answer, NULL);
                break;
        }
        pam_roles_shield_up(&p->shield);
        p->conv_status = r;
        if (r != PAM_SUCCESS)
                return -EIO;
        *ret_answer = answer;
        return 0;
}

static void say(void *userdata, const char *text) {
        pam_roles_say(userdata, PAM_ERROR_MSG, "%s", text);
}

static void inform(void *userdata, const char *text) {
        pam_roles_say(userdata, PAM_TEXT_INFO, "%s", text);
}

/* LOG_DEBUG lines only with debug: that is where the core puts what concerns accounts that are
 * not roles' (login.h), so that a local login through a fall-through stack logs nothing here. */
static void log_line(void *userdata, int priority, const char *text) {
        struct pam_roles *p = userdata;
        if (priority != LOG_DEBUG || p->opt.debug)
                pam_syslog(p->pamh, priority, "%s", text);
}

/*
 * roles was never set up on this host: no database directory (before `rolesctl init`). Then it
 * knows nobody, and answers as for any name it does not know, quietly: a package enables the PAM
 * profile before the administrator runs init, and local accounts log in meanwhile. A directory
 * that is there with its databases missing or damaged stays an error, refused and logged.
 */
static bool never_initialised(const struct roles_config *cfg) {
        char dir[sizeof(cfg->public_db)];
        struct stat st;
        if (roles_strcpy(dir, sizeof(dir), cfg->public_db) < 0)
                return false;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return false;
        *slash = '\0';
        return lstat(dir, &st) < 0 && errno == ENOENT;
}

/* The store (the one auth kept, with after_auth), then the user (login.h: whose it is). */
static int store_and_user(struct pam_roles *p, bool after_auth) {
        char err[512];
        if (open_store(p, after_auth, err, sizeof(err)) < 0) {
                if (never_initialised(&p->cfg)) {
                        if (p->opt.debug)
                                pam_syslog(p->pamh, LOG_DEBUG, "%s: roles is not set up here, it knows no user", err);
                        return PAM_USER_UNKNOWN;
                }
                pam_syslog(p->pamh, LOG_ERR, "%s", err);
                return PAM_AUTHINFO_UNAVAIL;
        }
        return pam_roles_status(p, roles_login_find_user(&p->attempt));
}

int pam_roles_begin(struct pam_roles *p, pam_handle_t *pamh, enum pam_roles_phase phase, int argc, const char **argv) {
        static const struct roles_login_ops ops = { .ask = ask, .say = say, .inform = inform, .log = log_line };
        bool after_auth = phase == PAM_ROLES_ACCOUNT;
        const char *user = NULL;
        char err[512];
        int r;

        *p = (struct pam_roles) { .pamh = pamh, .phase = phase };
        pam_roles_shield_up(&p->shield);
        roles_attempt_init(&p->attempt, NULL, &p->cfg, NULL, &ops, p);
        if ((r = parse_options(p, argc, argv)) != PAM_SUCCESS)
                return r;
        if (p->opt.permission && permission_code(p, p->permission, sizeof(p->permission)) < 0) {
                pam_syslog(pamh, LOG_ERR, "permission=%s is not a permission code", p->opt.permission);
                return PAM_SERVICE_ERR;
        }

        pam_roles_shield_down(&p->shield);     /* it may prompt */
        r = pam_get_user(pamh, &user, NULL);
        pam_roles_shield_up(&p->shield);
        if (r != PAM_SUCCESS || !user || !*user)
                return r == PAM_SUCCESS ? PAM_USER_UNKNOWN : r;

        /* What the login audit, the log lines and the protocol take from PAM. */
        const void *service = NULL, *rhost = NULL, *tty = NULL, *ruser = NULL;
        pam_get_item(pamh, PAM_SERVICE, &service);
        pam_get_item(pamh, PAM_RHOST, &rhost);
        pam_get_item(pamh, PAM_TTY, &tty);
        pam_get_item(pamh, PAM_RUSER, &ruser);
        p->attempt.user = user;
        p->attempt.service = service;
        p->attempt.rhost = rhost;
        p->attempt.tty = tty;
        p->attempt.ruser = ruser;
        p->attempt.logname = pam_modutil_getlogin(pamh);
        /* The caller's ids, as pam_unix logs them (the shield lends root's while it is up). */
        p->attempt.caller_uid = pam_roles_caller_uid(&p->shield);
        p->attempt.caller_euid = p->shield.up ? p->shield.euid : geteuid();
        p->attempt.permission = p->opt.permission ? p->permission : NULL;
        p->attempt.no_totp = p->opt.no_totp;
        p->attempt.totp_required = p->opt.totp_required;
        if (roles_login_host_account(&p->attempt) == 1) {
                if (p->opt.debug)
                        pam_syslog(pamh, LOG_DEBUG, "%s is an account of the host's own files: left to the "
                                   "rest of the stack", user);
                return PAM_USER_UNKNOWN;
        }
        /* The configuration only now: the host's own accounts (root above all) are left to the
         * rest of the stack before anything of roles is read, so that a roles.conf that cannot
         * be used (a typo, a key of a newer version, a mode refused) locks none of them out of a
         * stack whose account line refuses on any error (the Debian profile's). conf= from the
         * stack, else the default: never $ROLES_CONF, which the user may set for su or sudo
         * (roles_config_path reads it only outside setuid programs anyway). */
        const char *path = p->opt.conf ? p->opt.conf : ROLES_DEFAULT_CONF;
        roles_config_defaults(&p->cfg);
        r = roles_config_load(path, &p->cfg, err, sizeof(err));
        if (r < 0 && !(r == -ENOENT && !p->opt.conf)) {
                pam_syslog(pamh, LOG_ERR, "%s", err);
                return PAM_AUTHINFO_UNAVAIL;
        }
        /* Without privilege secrets.db and state.db cannot be opened: auth asks the setuid
         * helper, which opens them for the caller's own account only (pam_chkpwd.c). A process
         * that owns the databases itself (a test's) opens them as root does. */
        if (phase == PAM_ROLES_AUTH && geteuid() != 0 &&
            faccessat(AT_FDCWD, p->cfg.secrets_db, R_OK | W_OK, AT_EACCESS) < 0) {
                p->via_helper = true;
                return PAM_SUCCESS;
        }
        if ((r = store_and_user(p, after_auth)) != PAM_SUCCESS)
                return r;
        /* What a successful auth kept is its account's only: the same uuid under the same name.
         * Another PAM_USER is judged afresh, from nothing kept, with a store of its own (the kept
         * one holds the snapshot alone). */
        if (p->after_auth.valid && !(p->attempt.known && strcmp(p->after_auth.uuid, p->attempt.u.uuid) == 0 &&
                                     strcmp(p->after_auth.user, user) == 0)) {
                pam_syslog(pamh, LOG_NOTICE, "PAM_USER is now %s, not the account auth found: judged afresh",
                           roles_login_user_for_log(&p->attempt));
                explicit_bzero(&p->after_auth, sizeof(p->after_auth));
                return pam_roles_status(p, roles_login_find_user(&p->attempt));
        }
        return PAM_SUCCESS;
}

/*
 * Only a successful auth keeps something, for account, and only values: the store is closed
 * here, whatever the phase, so that nothing of roles' files is inherited by whatever the
 * application forks next (sshd's unprivileged child, which serves the session as the user;
 * su's parent for the whole session).
 */
int pam_roles_end(struct pam_roles *p, int status, bool keep) {
        if (p->opt.debug)
                pam_syslog(p->pamh, LOG_DEBUG, "%s: %s", roles_login_user_for_log(&p->attempt), pam_strerror(p->pamh, status));
        struct kept_auth *k = keep && p->after_auth.valid ? calloc(1, sizeof(*k)) : NULL;
        if (k) {
                k->after_auth = p->after_auth;
                k->fork_generation = roles_fork_generation();
                snprintf(k->public_db, sizeof(k->public_db), "%s", p->cfg.public_db);
                /* Without it, account reads secrets.db itself. */
                if (pam_set_data(p->pamh, AFTER_AUTH_DATA, k, kept_auth_free) != PAM_SUCCESS)
                        kept_auth_free(p->pamh, k, 0);
        }
        roles_login_close(p->attempt.login);
        roles_attempt_attach(&p->attempt, NULL);
        explicit_bzero(&p->attempt.u, sizeof(p->attempt.u));
        forget_code(p);
        pam_roles_shield_down(&p->shield);
        return status;
}

/*
 * A login with a one-time code, noted with the PAM handle for the password phase of the same
 * transaction: that account has no current password to give (activation) or has forgotten it
 * (reset), and the code stood in for it. Nothing else lets passwd skip the current password.
 */
#define CODE_LOGIN_DATA "pam_roles_code_login"

static void free_data(pam_handle_t *pamh, void *data, int error_status) {
        (void) pamh, (void) error_status;
        free(data);
}

int pam_roles_note_code_login(struct pam_roles *p) {
        char *uuid = strdup(p->attempt.u.uuid);
        if (!uuid || pam_set_data(p->pamh, CODE_LOGIN_DATA, uuid, free_data) != PAM_SUCCESS) {
                free(uuid);
                return -ENOMEM;
        }
        return 0;
}

void pam_roles_forget_code_login(struct pam_roles *p) {
        pam_set_data(p->pamh, CODE_LOGIN_DATA, NULL, NULL);
}

bool pam_roles_came_in_with_code(struct pam_roles *p) {
        const void *data = NULL;
        return p->attempt.known && pam_get_data(p->pamh, CODE_LOGIN_DATA, &data) == PAM_SUCCESS && data &&
               strcmp(data, p->attempt.u.uuid) == 0;
}

int pam_roles_status(struct pam_roles *p, enum roles_login_result result) {
        switch (result) {
        case ROLES_LOGIN_OK:
                return PAM_SUCCESS;
        case ROLES_LOGIN_AUTH_FAILED:
                return PAM_AUTH_ERR;
        case ROLES_LOGIN_DENIED:
                return PAM_PERM_DENIED;
        case ROLES_LOGIN_EXPIRED:
                return PAM_ACCT_EXPIRED;
        case ROLES_LOGIN_MUST_CHANGE:
                return PAM_NEW_AUTHTOK_REQD;
        case ROLES_LOGIN_UNKNOWN_USER:
                /* Only a user roles does not know may fall through to the next module. */
                return PAM_USER_UNKNOWN;
        case ROLES_LOGIN_NOT_CHANGED:
                return PAM_AUTHTOK_ERR;
        case ROLES_LOGIN_CONV_ERROR:
                /* libpam's own answer (PAM_CONV_ERR, PAM_CONV_AGAIN, PAM_ABORT ...), as it came. */
                return p->conv_status != PAM_SUCCESS ? p->conv_status : PAM_CONV_ERR;
        case ROLES_LOGIN_NO_MEMORY:
                return PAM_BUF_ERR;
        case ROLES_LOGIN_SYSTEM_ERROR:
        default:
                return PAM_AUTHINFO_UNAVAIL;
        }
}
