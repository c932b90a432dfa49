/* SPDX-License-Identifier: MIT */
/* Shared by login*.c only. */
#pragma once

#include "login.h"

/* A log line through ops->log, formatted here. */
void login_log(struct roles_attempt *l, int priority, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Ask through ops->ask, holding no read transaction meanwhile (a prompt may wait for minutes):
 * what is read after it is read afresh. 0 (*ret may be NULL: nothing given) or -errno. */
int login_ask(struct roles_attempt *l, enum roles_login_ask what, const char **ret);
void login_say(struct roles_attempt *l, const char *text);
void login_inform(struct roles_attempt *l, const char *text);

/* PAM_RHOST for the login audit: NULL unless it is plain text (the remote side names it). */

/* Re-read l->u after the store moved to a newer state, held to the host rule again (known =
 * false for a user deleted or no longer roles' meanwhile). 0 or -errno. */
int login_reread_user(struct roles_attempt *l);

/* Does the account hold l->permission now? 1 yes, 0 no (logged), -errno. */
int login_holds_permission(struct roles_attempt *l, time_t now);

/* Why the account as it stands may not be used (roles_user_active, the one definition):
 * ROLES_LOGIN_R_DISABLED, ROLES_LOGIN_R_EXPIRED, or ROLES_LOGIN_R_NONE. */
enum roles_login_reason login_inactive(const struct roles_attempt *l, time_t now);

/* An authentication failure logged as pam_unix logs one ("authentication failure; logname= uid=
 * euid= tty= ruser= rhost=  user="), and why on a line of its own unless it is a wrong password;
 * at LOG_DEBUG for a name roles does not know. */
void login_log_failure(struct roles_attempt *l, enum roles_login_reason why);

/* The remote host PAM names (PAM_RHOST), when it is plain text; NULL otherwise. */
const char *login_rhost(const struct roles_attempt *l);
/* A row of the login audit (state.db) for this attempt: result ("failure", "success", "session",
 * "password", "rehash", ...), detail; the user as log lines name it, the service, and the
 * remote host when it is plain text. 0 or -errno. */
int login_audit(struct roles_attempt *l, const char *result, const char *detail);
