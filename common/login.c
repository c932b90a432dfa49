/* SPDX-License-Identifier: MIT */
/*
 * The login protocol's frame (login.h): whose account a name is, the words of a reason, the
 * caller's conversation and log, and account: may this account be used now. Unknown users are
 * their own result so that a PAM stack can fall through to another module; everything else that
 * is not a clear yes is a refusal.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "authz.h"
#include "host_accounts.h"
#include "login-internal.h"

static const char *const reason_texts[] = {
        [ROLES_LOGIN_R_NONE] = "",
        [ROLES_LOGIN_R_UNKNOWN_USER] = "unknown user",
        [ROLES_LOGIN_R_NO_SECRETS] = "no secrets row",
        [ROLES_LOGIN_R_ACCOUNT_UNREADABLE] = "account unreadable",
        [ROLES_LOGIN_R_TALLY_UNREADABLE] = "tally unreadable",
        [ROLES_LOGIN_R_LOCKED_OUT] = "locked out",
        [ROLES_LOGIN_R_DISABLED] = "account disabled",
        [ROLES_LOGIN_R_EXPIRED] = "account expired",
        [ROLES_LOGIN_R_NOT_ACTIVATED] = "not activated yet",
        [ROLES_LOGIN_R_PERMISSION_UNREADABLE] = "permission unreadable",
        [ROLES_LOGIN_R_LACKS_PERMISSION] = "lacks the permission",
        [ROLES_LOGIN_R_NO_PASSWORD] = "no password given",
        [ROLES_LOGIN_R_WRONG_PASSWORD] = "wrong password",
        [ROLES_LOGIN_R_PASSWORD_TOO_LONG] = "password too long",
        [ROLES_LOGIN_R_HASH_ABOVE_CEILING] = "hash above the ceiling",
        [ROLES_LOGIN_R_BAD_STORED_HASH] = "bad stored hash",
        [ROLES_LOGIN_R_NO_SLOT] = "no verification slot came free in time (a flood?)",
        [ROLES_LOGIN_R_SLOTS_UNUSABLE] = "the verification slots cannot be opened",
        [ROLES_LOGIN_R_CANNOT_COUNT] = "failures cannot be counted",
        [ROLES_LOGIN_R_CODE_USED] = "one-time code already used",
        [ROLES_LOGIN_R_TOTP_WRONG] = "wrong verification code",
        [ROLES_LOGIN_R_TOTP_REUSED] = "verification code already used (not counted as a failure)",
        [ROLES_LOGIN_R_RECOVERY_WRONG] = "recovery code unknown or already used",
        [ROLES_LOGIN_R_NO_TOTP] = "no TOTP enrolled and totp=required",
        [ROLES_LOGIN_R_MUST_CHANGE] = "must change its password",
        [ROLES_LOGIN_R_NEW_PASSWORD_POLICY] = "new password refused by the policy",
        [ROLES_LOGIN_R_NEW_PASSWORD_NOT_MADE] = "new password not made",
        [ROLES_LOGIN_R_CONVERSATION] = "conversation failed",
        [ROLES_LOGIN_R_SYSTEM] = "system error",
};

const char *roles_login_reason_text(enum roles_login_reason reason) {
        return (size_t) reason < ROLES_N_ELEMENTS(reason_texts) && reason_texts[reason] ? reason_texts[reason] : "?";
}

void roles_attempt_init(struct roles_attempt *l, struct roles_login *login, const struct roles_config *cfg,
                        const char *user, const struct roles_login_ops *ops, void *userdata) {
        *l = (struct roles_attempt) { .cfg = cfg, .user = user, .ops = ops, .userdata = userdata };
        roles_attempt_attach(l, login);
}

void roles_attempt_attach(struct roles_attempt *l, struct roles_login *login) {
        l->login = login;
        l->snap = login ? roles_login_snapshot(login) : NULL;
        l->sec = login ? roles_login_secrets(login) : NULL;
}

void login_log(struct roles_attempt *l, int priority, const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        l->ops->log(l->userdata, priority, line);
}

int login_ask(struct roles_attempt *l, enum roles_login_ask what, const char **ret) {
        roles_snapshot_release(l->snap);
        return l->ops->ask(l->userdata, what, ret);
}

void login_inform(struct roles_attempt *l, const char *text) {
        roles_snapshot_release(l->snap);
        l->ops->inform(l->userdata, text);
}

void login_say(struct roles_attempt *l, const char *text) {
        roles_snapshot_release(l->snap);
        l->ops->say(l->userdata, text);
}

const char *roles_login_user_for_log(const struct roles_attempt *l) {
        /* A user name typed at a login prompt can be anything, a password included. */
        return l->user && roles_name_valid(l->user) ? l->user : "(not a valid user name)";
}

/* A field of a log line as pam_unix writes it: the caller's and the remote side's words, kept
 * only when they are plain text (a newline would forge a line). */
static const char *log_field(const char *text) {
        return text && roles_text_valid(text, ROLES_TEXT_MAX) ? text : "";
}

void login_log_failure(struct roles_attempt *l, enum roles_login_reason why) {
        /* A name roles does not know is most often a local account the next module of a
         * fall-through stack logs in: nothing to say unless debugging. A name that is not valid
         * may be a password typed at the login prompt: it is never repeated (no user= field). */
        int priority = why == ROLES_LOGIN_R_UNKNOWN_USER ? LOG_DEBUG : LOG_NOTICE;
        bool named = l->user && roles_name_valid(l->user);
        login_log(l, priority, "authentication failure; logname=%s uid=%u euid=%u tty=%s ruser=%s rhost=%s %s%s",
                  log_field(l->logname), (unsigned) l->caller_uid, (unsigned) l->caller_euid, log_field(l->tty),
                  log_field(l->ruser), log_field(l->rhost), named ? " user=" : "", named ? l->user : "");
        /* Why, when it is not the plain wrong password that line means (as pam_faillock says a
         * lock on a line of its own). */
        if (why != ROLES_LOGIN_R_WRONG_PASSWORD)
                login_log(l, priority, "authentication failure for %s: %s", roles_login_user_for_log(l),
                          roles_login_reason_text(why));
}

enum roles_login_result roles_attempt_error(struct roles_attempt *l, int r, const char *what) {
        login_log(l, LOG_ERR, "%s: %s", what, l->login ? roles_login_error(l->login) : strerror(-r));
        return r == -ENOMEM ? ROLES_LOGIN_NO_MEMORY : ROLES_LOGIN_SYSTEM_ERROR;
}

/*
 * The host's own accounts win (host_accounts.h): a roles user whose name or ids the host's
 * files hold is not ours to log in, whatever wrote roles.db. And the account the system
 * resolves for the name must be this one: with another service before roles in nsswitch.conf,
 * a password checked here would log in someone else's uid. A name the system does not resolve
 * at all lends nothing (no program can become it). -EEXIST: not ours; 0: ours; -errno: the
 * check could not be made (refused). A name roles does not know (!roles_knows) gets the same
 * reads and the same lookup, so that the time does not tell it apart, and -ENOENT.
 */
static int host_owns_user(struct roles_attempt *l, bool roles_knows) {
        struct host_accounts host;
        struct passwd pw, *found = NULL;
        char buf[16384];
        bool clash = false;
        int r;

        const struct host_paths *paths = l->host ? l->host : &HOST_PATHS_ACCOUNTS;
        host_accounts_init(&host, paths);
        r = host_accounts_refresh(&host);
        if (r < 0) {
                login_log(l, LOG_ERR, "cannot read %s and %s to check %s against the host's own accounts: %s",
                          paths->passwd, paths->group, roles_login_user_for_log(l), strerror(-r));
                goto out;
        }
        clash = roles_knows && host_accounts_user_clashes(&host, l->u.name, strlen(l->u.name), l->u.uid, l->u.gid);
        /* getpwnam_r's "not found" is 0 with no entry, or one of these (getpwnam(3)). */
        r = getpwnam_r(l->user, &pw, buf, sizeof(buf), &found);
        if (r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
                r = 0;
        if (!roles_knows) {
                r = -ENOENT;
                goto out;
        }
        if (clash) {
                login_log(l, LOG_WARNING, "roles user %s (uid %u, gid %u) is not used: the host's own "
                          "accounts hold its name or ids", roles_login_user_for_log(l), l->u.uid, l->u.gid);
                r = -EEXIST;
        } else if (r != 0) {
                login_log(l, LOG_ERR, "cannot resolve %s through the name services: %s",
                          roles_login_user_for_log(l), strerror(r));
                r = -r;
        } else if (found && pw.pw_uid != l->u.uid) {
                login_log(l, LOG_WARNING, "roles user %s (uid %u) is not used: the system resolves that "
                          "name to uid %u", roles_login_user_for_log(l), l->u.uid, (unsigned) pw.pw_uid);
                r = -EEXIST;
        }
out:
        explicit_bzero(buf, sizeof(buf));
        host_accounts_done(&host);
        return r;
}

int roles_login_host_account(const struct roles_attempt *l) {
        struct host_accounts host;
        host_accounts_init(&host, l->host ? l->host : &HOST_PATHS_ACCOUNTS);
        int r = host_accounts_refresh(&host);
        r = r == 0 && l->user && host_accounts_has_user(&host, l->user);
        host_accounts_done(&host);
        return r;
}

enum roles_login_result roles_login_find_user(struct roles_attempt *l) {
        explicit_bzero(&l->u, sizeof(l->u));
        int r = roles_user_by_name(l->snap, l->user, &l->u);
        if (r == 0 || r == -ENOENT || r == -EINVAL) {
                int k = host_owns_user(l, r == 0);
                r = r == 0 ? k : k < 0 && k != -ENOENT ? k : r;
        }
        if (r == -EEXIST)
                explicit_bzero(&l->u, sizeof(l->u));    /* not ours: judged as a name roles does not know */
        else if (r < 0 && r != -ENOENT && r != -EINVAL)
                return roles_attempt_error(l, r, "looking up the user");
        l->known = r == 0;
        return ROLES_LOGIN_OK;
}

int login_reread_user(struct roles_attempt *l) {
        int r = roles_user_by_name(l->snap, l->user, &l->u);
        if (r == 0 && (r = host_owns_user(l, true)) == -EEXIST)
                r = -ENOENT;
        if (r == -ENOENT || r == -EINVAL)
                l->known = false;
        return r;
}

int login_holds_permission(struct roles_attempt *l, time_t now) {
        int r = roles_check(l->snap, l->user, l->permission, now);
        if (r == 0)
                login_log(l, LOG_NOTICE, "%s does not hold %s", roles_login_user_for_log(l), l->permission);
        return r;
}

enum roles_login_reason login_inactive(const struct roles_attempt *l, time_t now) {
        if (roles_user_active(&l->u, now))
                return ROLES_LOGIN_R_NONE;
        return l->u.enabled ? ROLES_LOGIN_R_EXPIRED : ROLES_LOGIN_R_DISABLED;
}

enum roles_login_result roles_login_account(struct roles_attempt *l, const struct roles_login_found *found,
                                            enum roles_login_reason *ret_reason) {
        struct roles_secret sec = { 0 };
        enum roles_login_result result = ROLES_LOGIN_DENIED;
        enum roles_login_reason reason;
        int r;

        if (!l->known) {
                *ret_reason = ROLES_LOGIN_R_UNKNOWN_USER;
                return ROLES_LOGIN_UNKNOWN_USER;
        }
        time_t now = roles_snapshot_now(l->snap);
        reason = login_inactive(l, now);
        if (reason != ROLES_LOGIN_R_NONE) {
                login_log(l, LOG_NOTICE, "account %s %s", roles_login_user_for_log(l),
                          reason == ROLES_LOGIN_R_DISABLED ? "is disabled" : "has expired");
                *ret_reason = reason;
                return reason == ROLES_LOGIN_R_DISABLED ? ROLES_LOGIN_DENIED : ROLES_LOGIN_EXPIRED;
        }
        /* Right after a successful auth in this process: what it found, with its snapshot
         * (its store no longer holds secrets.db and state.db). */
        if (found) {
                sec.must_change_password = found->must_change_password;
                sec.activated_at = found->activated_at;
        } else if ((r = roles_secret_get(l->sec, l->u.uuid, &sec)) < 0) {
                result = roles_attempt_error(l, r, "reading the account's state");
                reason = ROLES_LOGIN_R_ACCOUNT_UNREADABLE;
                goto out;
        }
        if (l->permission) {
                r = login_holds_permission(l, now);
                if (r < 0) {
                        result = roles_attempt_error(l, r, "checking the permission");
                        reason = ROLES_LOGIN_R_PERMISSION_UNREADABLE;
                        goto out;
                }
                if (r == 0) {
                        reason = ROLES_LOGIN_R_LACKS_PERMISSION;
                        goto out;
                }
        }
        /* Activated by the administrator (roles.db) or by a first password (secrets.db); an
         * account that came in with a one-time code must set its password now. */
        if (sec.must_change_password) {
                result = ROLES_LOGIN_MUST_CHANGE;
                reason = ROLES_LOGIN_R_MUST_CHANGE;
        } else if (l->u.activated_at == 0 && sec.activated_at == 0) {
                login_log(l, LOG_NOTICE, "account %s is not activated yet", roles_login_user_for_log(l));
                reason = ROLES_LOGIN_R_NOT_ACTIVATED;
        } else
                result = ROLES_LOGIN_OK;
out:
        roles_secret_wipe(&sec);
        *ret_reason = reason;
        return result;
}

/* The remote side names its host (PAM_RHOST): kept only if it is plain text. */
static const char *plain_or_null(const char *text, size_t max) {
        return text && roles_text_valid(text, max) ? text : NULL;
}

const char *login_rhost(const struct roles_attempt *l) {
        return plain_or_null(l->rhost, ROLES_TEXT_MAX);
}

int login_audit(struct roles_attempt *l, const char *result, const char *detail) {
        return roles_state_audit_login(l->sec, roles_login_user_for_log(l), l->service, login_rhost(l), result, detail);
}

enum roles_login_result roles_login_session(struct roles_attempt *l, bool quiet, enum roles_login_reason *ret_reason) {
        const char *rhost = plain_or_null(l->rhost, ROLES_TEXT_MAX);
        *ret_reason = ROLES_LOGIN_R_NONE;
        if (!l->known)
                return ROLES_LOGIN_OK;
        if (!quiet) {
                int64_t at;
                char ip[256], when[21], line[320];
                if (roles_state_previous_login(l->sec, l->u.uuid, &at, ip, sizeof(ip)) == 0) {
                        const char *from = plain_or_null(ip[0] ? ip : NULL, sizeof(ip) - 1);
                        snprintf(line, sizeof(line), "Last login: %s%s%s", roles_format_time(at, when),
                                 from ? " from " : "", from ? from : "");
                        login_inform(l, line);
                }
        }
        int r = roles_state_track_login(l->sec, l->u.uuid, roles_snapshot_now(l->snap), rhost);
        if (r == 0)
                r = login_audit(l, "session", "");
        if (r < 0) {
                *ret_reason = ROLES_LOGIN_R_SYSTEM;
                return roles_attempt_error(l, r, "recording the login");
        }
        login_log(l, LOG_INFO, "session opened for user %s(uid=%u) by %s(uid=%u)", l->user, (unsigned) l->u.uid,
                  log_field(l->logname), (unsigned) l->caller_uid);
        return ROLES_LOGIN_OK;
}

enum roles_login_result roles_login_session_close(struct roles_attempt *l) {
        if (l->known)
                login_log(l, LOG_INFO, "session closed for user %s", l->user);
        return ROLES_LOGIN_OK;
}
