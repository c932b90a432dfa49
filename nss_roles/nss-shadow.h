/* SPDX-License-Identifier: MIT */
/*
 * Shadow entries need secrets.db and state.db (the password's age, whether a lockout holds),
 * which only SQLite reads and only root may open. So that libsqlite3 is not loaded into every
 * process that resolves a name, the shadow half lives in a plugin, roles/roles-nss-shadow.so
 * next to libnss_roles.so.2, which the module dlopen()s on the first shadow call of a process
 * (root's: login, su, sshd, pwck). This is the interface between the two, both built from the
 * same tree; abi guards against a plugin of another build.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "secrets.h"
#include "snapshot.h"

#define ROLES_SHADOW_PLUGIN_ABI 1
#define ROLES_SHADOW_PLUGIN_FILE "roles/roles-nss-shadow.so"
#define ROLES_SHADOW_PLUGIN_SYMBOL "roles_shadow_plugin"

struct roles_shadow_entry {
        struct roles_user user;
        struct roles_nss_shadow shadow;
};

struct roles_shadow_plugin {
        unsigned abi;
        /* Each call opens the stores, reads, and closes them before it returns: no descriptor
         * of secrets.db outlives the call (a forked child that becomes a user inherits none). */
        int (*by_name)(const struct roles_config *cfg, const char *name, time_t now, struct roles_shadow_entry *ret);
        /* Up to n entries with uid > after, by uid: how many (0 at the end), or -errno. */
        int (*page)(const struct roles_config *cfg, uint32_t after, time_t now, struct roles_shadow_entry *out, size_t n);
};
