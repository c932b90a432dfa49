/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "authz.h"
#include "host_accounts.h"
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
                else {
                        pam_syslog(p->pamh, LOG_ERR, "option '%s' has a bad value", a);
                        return PAM_SERVICE_ERR;
                }
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
 * process, judges the account auth found. They are tied to the process and to the
 * configuration's paths: after a fork, or for another conf=, account reads afresh.
 *
 * No store is kept: every call opens its own and closes it before it returns. roles.db is in
 * WAL mode, and its WAL index is mapped read-write by root; the application may fork a child
 * that becomes the user without exec before pam_end (sshd's session process; su's parent), and
 * that child must hold nothing of roles' files, as it must hold nothing of secrets.db and
 * state.db. Opening costs a fraction of a millisecond per call (README: Benchmarks).
 */
#define AFTER_AUTH_DATA "pam_roles_after_auth"

struct kept_auth {
        struct pam_roles_after_auth after_auth;
        pid_t pid;
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
                if (k->pid == getpid() && strcmp(k->public_db, p->cfg.public_db) == 0)
                        p->after_auth = k->after_auth;
        }
        pam_set_data(p->pamh, AFTER_AUTH_DATA, NULL, NULL);     /* for this account only */
        return roles_login_open(&p->cfg, &p->store, err, errlen);
}

/*
 * The host's own accounts win (host_accounts.h): a roles user whose name or ids the host's
 * files hold is not ours to log in, whatever wrote roles.db. And the account the system
 * resolves for PAM_USER must be this one: with another service before roles in nsswitch.conf,
 * a password checked here would log in someone else's uid. A name the system does not resolve
 * at all lends nothing (no program can become it). -EEXIST: not ours; 0: ours; -errno: the
 * check could not be made (refused). A name roles does not know (!roles_knows) gets the same
 * reads and the same lookup, so that the time does not tell it apart, and -ENOENT.
 */
static int host_owns_user(struct pam_roles *p, bool roles_knows) {
        struct host_accounts host;
        struct passwd pw, *found = NULL;
        char buf[16384];
        bool clash = false;
        int r;

        host_accounts_init(&host, &HOST_PATHS_ACCOUNTS);
        r = host_accounts_refresh(&host);
        if (r < 0) {
                pam_syslog(p->pamh, LOG_ERR, "cannot read %s and %s to check %s against the host's own accounts: %s",
                           HOST_PASSWD_PATH, HOST_GROUP_PATH, pam_roles_user_for_log(p), strerror(-r));
                goto out;
        }
        clash = roles_knows && host_accounts_user_clashes(&host, p->u.name, strlen(p->u.name), p->u.uid, p->u.gid);
        /* getpwnam_r's "not found" is 0 with no entry, or one of these (getpwnam(3)). */
        r = getpwnam_r(p->user, &pw, buf, sizeof(buf), &found);
        if (r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
                r = 0;
        if (!roles_knows) {
                r = -ENOENT;
                goto out;
        }
        if (clash) {
                pam_syslog(p->pamh, LOG_WARNING, "roles user %s (uid %u, gid %u) is not used: the host's own "
                           "accounts hold its name or ids", pam_roles_user_for_log(p), p->u.uid, p->u.gid);
                r = -EEXIST;
        } else if (r != 0) {
                pam_syslog(p->pamh, LOG_ERR, "cannot resolve %s through the name services: %s",
                           pam_roles_user_for_log(p), strerror(r));
                r = -r;
        } else if (found && pw.pw_uid != p->u.uid) {
                pam_syslog(p->pamh, LOG_WARNING, "roles user %s (uid %u) is not used: the system resolves that "
                           "name to uid %u", pam_roles_user_for_log(p), p->u.uid, (unsigned) pw.pw_uid);
                r = -EEXIST;
        }
out:
        explicit_bzero(buf, sizeof(buf));
        host_accounts_done(&host);
        return r;
}

/* p->u and p->known for PAM_USER: a roles account the host does not hold, or not ours. */
static int find_user(struct pam_roles *p) {
        int r = roles_user_by_name(roles_login_snapshot(p->store), p->user, &p->u);
        if (r == 0 || r == -ENOENT || r == -EINVAL) {
                int k = host_owns_user(p, r == 0);
                r = r == 0 ? k : k < 0 && k != -ENOENT ? k : r;
        }
        if (r == -EEXIST)
                explicit_bzero(&p->u, sizeof(p->u));    /* not ours: judged as a name roles does not know */
        else if (r < 0 && r != -ENOENT && r != -EINVAL)
                return pam_roles_error(p, r, "looking up the user");
        p->known = r == 0;
        return PAM_SUCCESS;
}

int pam_roles_host_owns_user(struct pam_roles *p) {
        return host_owns_user(p, true);
}

/* The store (the one auth kept, with after_auth), then p->u and p->known. */
static int store_and_user(struct pam_roles *p, bool after_auth) {
        char err[512];
        if (open_store(p, after_auth, err, sizeof(err)) < 0) {
                pam_syslog(p->pamh, LOG_ERR, "%s", err);
                return PAM_AUTHINFO_UNAVAIL;
        }
        return find_user(p);
}

int pam_roles_begin(struct pam_roles *p, pam_handle_t *pamh, enum pam_roles_phase phase,
                    const struct pam_roles_shield *shield, int argc, const char **argv) {
        bool after_auth = phase == PAM_ROLES_ACCOUNT;
        char err[512];
        int r;

        *p = (struct pam_roles) { .pamh = pamh, .phase = phase, .shield = *shield };
        if ((r = parse_options(p, argc, argv)) != PAM_SUCCESS)
                return r;
        if (p->opt.permission && permission_code(p, p->permission, sizeof(p->permission)) < 0) {
                pam_syslog(pamh, LOG_ERR, "permission=%s is not a permission code", p->opt.permission);
                return PAM_SERVICE_ERR;
        }

        /* conf= from the stack, else the default: never $ROLES_CONF, which the user may set
         * for su or sudo (roles_config_path reads it only outside setuid programs anyway). */
        const char *path = p->opt.conf ? p->opt.conf : ROLES_DEFAULT_CONF;
        roles_config_defaults(&p->cfg);
        r = roles_config_load(path, &p->cfg, err, sizeof(err));
        if (r < 0 && !(r == -ENOENT && !p->opt.conf)) {
                pam_syslog(pamh, LOG_ERR, "%s", err);
                return PAM_AUTHINFO_UNAVAIL;
        }

        pam_roles_shield_down(&p->shield);     /* it may prompt */
        r = pam_get_user(pamh, &p->user, NULL);
        pam_roles_shield_up(&p->shield);
        if (r != PAM_SUCCESS || !p->user || !*p->user)
                return r == PAM_SUCCESS ? PAM_USER_UNKNOWN : r;

        if ((r = store_and_user(p, after_auth)) != PAM_SUCCESS)
                return r;
        /* What a successful auth kept is its account's only: the same uuid under the same name.
         * Another PAM_USER is judged afresh, from nothing kept, with a store of its own (the kept
         * one holds the snapshot alone). */
        if (p->after_auth.valid && !(p->known && strcmp(p->after_auth.uuid, p->u.uuid) == 0 &&
                                     strcmp(p->after_auth.user, p->user) == 0)) {
                pam_syslog(pamh, LOG_NOTICE, "PAM_USER is now %s, not the account auth found: judged afresh",
                           pam_roles_user_for_log(p));
                explicit_bzero(&p->after_auth, sizeof(p->after_auth));
                explicit_bzero(&p->u, sizeof(p->u));
                if ((r = find_user(p)) != PAM_SUCCESS)
                        return r;
        }
        return PAM_SUCCESS;
}

/*
 * Only a successful auth keeps something, for account, and only values: the store is closed
 * here, whatever the phase, so that nothing of roles' files is inherited by whatever the
 * application forks next (sshd's unprivileged child, which serves the session as the user;
 * su's parent for the whole session).
 */
void pam_roles_end(struct pam_roles *p, bool keep_store) {
        struct kept_auth *k = keep_store && p->after_auth.valid ? calloc(1, sizeof(*k)) : NULL;
        if (k) {
                k->after_auth = p->after_auth;
                k->pid = getpid();
                snprintf(k->public_db, sizeof(k->public_db), "%s", p->cfg.public_db);
                /* Without it, account reads secrets.db itself. */
                if (pam_set_data(p->pamh, AFTER_AUTH_DATA, k, kept_auth_free) != PAM_SUCCESS)
                        kept_auth_free(p->pamh, k, 0);
        }
        roles_login_close(p->store);
        p->store = NULL;
        explicit_bzero(&p->u, sizeof(p->u));
}

int pam_roles_holds_permission(struct pam_roles *p, time_t now) {
        int r = roles_check(roles_login_snapshot(p->store), p->user, p->permission, now);
        if (r == 0)
                pam_syslog(p->pamh, LOG_NOTICE, "%s does not hold %s", pam_roles_user_for_log(p), p->permission);
        return r;
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
        char *uuid = strdup(p->u.uuid);
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
        return p->known && pam_get_data(p->pamh, CODE_LOGIN_DATA, &data) == PAM_SUCCESS && data &&
               strcmp(data, p->u.uuid) == 0;
}

const char *pam_roles_user_for_log(const struct pam_roles *p) {
        /* A user name typed at a login prompt can be anything, a password included. */
        return p->user && roles_name_valid(p->user) ? p->user : "(not a valid user name)";
}

int pam_roles_error(struct pam_roles *p, int r, const char *what) {
        pam_syslog(p->pamh, LOG_ERR, "%s: %s", what, p->store ? roles_login_error(p->store) : strerror(-r));
        switch (r) {
        case -ENOMEM:
                return PAM_BUF_ERR;
        case -ENOENT:
                /* Only a user roles does not know may fall through to the next module; a
                 * known user whose secrets row is missing is refused. */
                return p->known ? PAM_AUTHINFO_UNAVAIL : PAM_USER_UNKNOWN;
        default:
                return PAM_AUTHINFO_UNAVAIL;
        }
}

/*
 * The conversation may take minutes, or for ever (a stopped su: the shield is down while it
 * prompts): no read transaction is held across it, or it would keep roles.db's WAL from being
 * checkpointed (roles_snapshot_release). What is read after it is read afresh.
 */
static void converse_begin(struct pam_roles *p) {
        if (p->store)
                roles_snapshot_release(roles_login_snapshot(p->store));
        pam_roles_shield_down(&p->shield);
}

int pam_roles_get_authtok(struct pam_roles *p, int item, const char **ret_token, const char *prompt) {
        converse_begin(p);
        int r = pam_get_authtok(p->pamh, item, ret_token, prompt);
        pam_roles_shield_up(&p->shield);
        return r;
}

void pam_roles_say(struct pam_roles *p, int style, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        converse_begin(p);
        (void) pam_vprompt(p->pamh, style, NULL, fmt, ap);
        pam_roles_shield_up(&p->shield);
        va_end(ap);
}

int pam_roles_prompt(struct pam_roles *p, const char *question, char **ret_answer) {
        char *answer = NULL;
        converse_begin(p);
        int r = pam_prompt(p->pamh, PAM_PROMPT_ECHO_OFF, &answer, "%s", question);
        pam_roles_shield_up(&p->shield);
        if (r != PAM_SUCCESS) {
                if (answer) {
                        explicit_bzero(answer, strlen(answer));
                        free(answer);
                }
                return r;
        }
        if (!answer)
                return PAM_CONV_ERR;
        *ret_answer = answer;
        return PAM_SUCCESS;
}
