/* SPDX-License-Identifier: MIT */
/*
 * Permission resolution: the one definition PAM, NSS and rolesctl all use.
 *
 *   current roles(user)  = assigned roles whose `until` has not passed at `now` (the only
 *                          place the clock is read: the snapshot holds no time-dependent facts)
 *   metaroles(user)      = the metarole of each current role, plus everything those include,
 *                          transitively (breadth first, so each is reached by a shortest path)
 *   permissions(user)    = enabled permissions of current roles ∪ permissions of metaroles(user),
 *                          less, for each role, what its own disabled lines switch off: a disabled
 *                          code itself and everything under it, a disabled wildcard what it covers
 *   a user holding super-admin is a superuser and holds every permission;
 *   a disabled user, or one whose account has expired, holds nothing.
 *
 * Each grant keeps its provenance (role -> metarole -> included metarole ...) for `perms --why`.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "snapshot.h"

#define ROLES_NONE SIZE_MAX

struct roles_resolved_role {
        int64_t id;
        char name[ROLES_NAME_MAX + 1];
        char metarole_code[ROLES_NAME_MAX + 1];
        int64_t until;                  /* 0: no end */
        bool ended;                     /* until has passed: listed for --why, never counted */
        size_t metarole;                /* index into metaroles; ROLES_NONE when ended */
};

struct roles_resolved_metarole {
        int64_t id;
        char code[ROLES_NAME_MAX + 1];
        size_t via_metarole;            /* the metarole that included it, or ROLES_NONE: a role's own */
        size_t via_role;                /* the role through which it was first reached */
};

enum roles_grant_source { ROLES_GRANT_ROLE, ROLES_GRANT_METAROLE };

struct roles_resolved_grant {
        char perm[ROLES_PERM_MAX + 1];
        enum roles_grant_source source;
        size_t index;                   /* into roles or metaroles, by source */
        bool disabled;                  /* on its role: listed for --why, never counted */
        size_t off_by;                  /* an enabled line of a role that a disabled line of the same
                                         * role switches off whole: that line's index (listed for
                                         * --why, never counted); otherwise ROLES_NONE */
};

struct roles_resolution {
        char user[ROLES_NAME_MAX + 1];
        const char *inactive;           /* NULL, "disabled" or "account expired": holds nothing */
        bool superuser;
        size_t n_roles, n_metaroles, n_grants;
        struct roles_resolved_role *roles;
        struct roles_resolved_metarole *metaroles;
        struct roles_resolved_grant *grants;
};

int roles_resolve(struct roles_snapshot *snap, const struct roles_user *u, time_t now, struct roles_resolution **ret);
void roles_resolution_free(struct roles_resolution *res);

/*
 * Does the resolution hold perm (a concrete code, no wildcard)? On true, *ret_grant (may be
 * NULL) is the index of the first covering grant, or ROLES_NONE when it holds it as superuser.
 */
bool roles_resolution_allows(const struct roles_resolution *res, const char *perm, size_t *ret_grant);

/*
 * Decide for a user by name: 1 yes, 0 no, -errno (-ENOENT: no such user, -EINVAL: not a
 * concrete permission code). The login path's question, answered from the snapshot's derived
 * metarole_grants table in three statements instead of a full resolution; it gives the same
 * answer as roles_resolution_allows(roles_resolve()), which the tests check on random graphs.
 */
int roles_check(struct roles_snapshot *snap, const char *user, const char *perm, time_t now);

/* "role dba -> metarole admin -> metarole user": where grant g came from. */
int roles_resolution_path(const struct roles_resolution *res, size_t g, char *buf, size_t size);
