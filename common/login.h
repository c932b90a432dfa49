/* SPDX-License-Identifier: MIT */
/*
 * A login: a snapshot of roles.db plus secrets.db and state.db opened for what logins write
 * (tallies, TOTP steps, tracking, the login audit, a rehash, a first activation), without the
 * writer's lock: any number of logins run at once, beside a writer. PAM, and the self-check
 * helper and fleet agent to come.
 */
#pragma once

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
