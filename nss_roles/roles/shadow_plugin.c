/* SPDX-License-Identifier: MIT */
/*
 * roles-nss-shadow.so: the shadow half of libnss_roles.so.2 (nss-shadow.h). It reads roles.db,
 * secrets.db and state.db through a snapshot with secrets, so it links libsqlite3; the module loads it only
 * for a shadow call. Every call opens the stores and closes them before returning.
 */
#include <errno.h>

#include "nss-shadow.h"

/* A database that is missing or empty is no answer at all, not "no such user". */
static int open_snapshot(const struct roles_config *cfg, struct roles_snapshot **ret) {
        int r = roles_snapshot_open(cfg, ROLES_SNAPSHOT_SECRETS, ret, NULL, 0);
        return r == -ENOENT ? -ENXIO : r;
}

static int by_name(const struct roles_config *cfg, const char *name, time_t now, struct roles_shadow_entry *ret) {
        struct roles_snapshot *s;
        struct roles_shadow_entry e;
        int r = open_snapshot(cfg, &s);
        if (r < 0)
                return r;
        r = roles_user_by_name(s, name, &e.user);
        if (r == 0)
                r = roles_nss_shadow(roles_snapshot_secrets(s), &e.user, now, &e.shadow);
        roles_snapshot_close(s);
        if (r == 0)
                *ret = e;
        return r;
}

struct page {
        struct roles_shadow_entry *out;
        size_t n, max;
};

static int add_user(void *userdata, const struct roles_user *u) {
        struct page *p = userdata;
        if (p->n < p->max)
                p->out[p->n++].user = *u;
        return 0;
}

static int page(const struct roles_config *cfg, uint32_t after, time_t now, struct roles_shadow_entry *out, size_t n) {
        struct roles_snapshot *s;
        struct page p = { out, 0, n };
        int r = open_snapshot(cfg, &s);
        if (r < 0)
                return r;
        r = roles_nss_users_after(s, after, n, add_user, &p);
        for (size_t i = 0; r >= 0 && i < p.n; i++)
                r = roles_nss_shadow(roles_snapshot_secrets(s), &out[i].user, now, &out[i].shadow);
        roles_snapshot_close(s);
        return r < 0 ? r : (int) p.n;
}

__attribute__((visibility("default"))) extern const struct roles_shadow_plugin roles_shadow_plugin;
const struct roles_shadow_plugin roles_shadow_plugin = {
        .abi = ROLES_SHADOW_PLUGIN_ABI,
        .by_name = by_name,
        .page = page,
};
