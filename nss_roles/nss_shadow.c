/* SPDX-License-Identifier: MIT */
/*
 * Shadow: the entry points, served through the plugin (nss-shadow.h) that the first shadow call
 * of a process loads from next to this module. Without root (or the plugin) there is no shadow
 * entry to give: UNAVAIL, and glibc goes on to the next service.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nss-pack.h"
#include "nss-shadow.h"
#include "nss-state.h"

#define EXPORT __attribute__((visibility("default")))

/* Shadow entries fetched per visit to the stores while enumerating. */
#define PAGE 128

static const struct roles_shadow_plugin *plugin;

/* The plugin's path: this module's own directory, as the dynamic loader found it (a setuid
 * program's loader only looks in the system's directories), never the environment. */
static int plugin_path(char *buf, size_t size) {
        Dl_info info;
        if (dladdr((void *) plugin_path, &info) == 0 || !info.dli_fname)
                return -ENOENT;
        const char *slash = strrchr(info.dli_fname, '/');
        int n = slash ? snprintf(buf, size, "%.*s/%s", (int) (slash - info.dli_fname), info.dli_fname, ROLES_SHADOW_PLUGIN_FILE)
                      : snprintf(buf, size, "%s", ROLES_SHADOW_PLUGIN_FILE);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* With the lock held. Loaded once, never unloaded. */
static int load_plugin(void) {
        char path[PATH_MAX];
        if (plugin)
                return 0;
        int r = plugin_path(path, sizeof(path));
        if (r < 0)
                return nss_unavailable(r);
        void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!handle)
                return nss_unavailable(-ENOENT);
        const struct roles_shadow_plugin *p = dlsym(handle, ROLES_SHADOW_PLUGIN_SYMBOL);
        if (!p || p->abi != ROLES_SHADOW_PLUGIN_ABI) {
                dlclose(handle);
                return nss_unavailable(-ELIBBAD);
        }
        plugin = p;
        return 0;
}

/* The lock, the configuration, the plugin. The caller holds the lock on success. */
static int enter(void) {
        int r = nss_begin();
        if (r < 0)
                return r;
        if ((r = nss_prepare()) < 0 || (r = load_plugin()) < 0) {
                nss_leave();
                return r;
        }
        return 0;
}

/* 0 when the entry is ours to serve, -ENOENT when the host's own files hold its name or an id,
 * UNAVAIL when they cannot be read (as nss_roles.c's user_servable). */
static int servable(const struct roles_user *u) {
        const struct host_accounts *h;
        int r = nss_host_files(&h);
        if (r < 0)
                return r;
        return host_accounts_user_clashes(h, u->name, strlen(u->name), u->uid, u->gid) ? -ENOENT : 0;
}

/* What the plugin could not read (no store: not root, no files) is not "no such entry". */
static int from_plugin(int r) {
        return r == -ENOENT || r == -EINVAL || r == -ENOMEM || r == -EBADMSG ? r : r < 0 ? nss_unavailable(r) : r;
}

EXPORT enum nss_status _nss_roles_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_shadow_entry e;
        int r = enter();
        if (r < 0)
                return nss_finish(r, errnop, saved);
        r = from_plugin(plugin->by_name(nss_config(), name, time(NULL), &e));
        if (r == 0)
                r = servable(&e.user);
        if (r == 0)
                r = nss_pack_shadow(&e.user, &e.shadow, sp, buf, len);
        nss_leave();
        return nss_finish(r, errnop, saved);
}

/*
 * Enumeration is rare (root, pwck): pages of entries, each read in one visit to the stores, which
 * close before the call returns; between calls only the page is held, which holds no secret. An
 * entry is as of the visit that read its page.
 */
static struct {
        struct roles_shadow_entry *page;
        size_t n, next;
        uint32_t after;         /* the last uid served */
        bool exhausted;
} sp_cursor;

static void reset(void) {
        free(sp_cursor.page);
        memset(&sp_cursor, 0, sizeof(sp_cursor));
}

/* The next page after sp_cursor.after; the caller holds the lock. -ENOENT at the end. */
static int fetch_page(void) {
        if (!sp_cursor.page && !(sp_cursor.page = calloc(PAGE, sizeof(*sp_cursor.page))))
                return -ENOMEM;
        sp_cursor.n = sp_cursor.next = 0;
        int r = from_plugin(plugin->page(nss_config(), sp_cursor.after, time(NULL), sp_cursor.page, PAGE));
        if (r < 0)
                return r;
        sp_cursor.n = (size_t) r;
        sp_cursor.exhausted = r < PAGE;
        return r == 0 ? -ENOENT : 0;
}

EXPORT enum nss_status _nss_roles_setspent(int stayopen);
enum nss_status _nss_roles_setspent(int stayopen) {
        int saved = errno, errnop;
        (void) stayopen;
        int r = enter();
        if (r < 0) {
                if (nss_begin() == 0) {
                        reset();
                        nss_leave();
                }
                return nss_finish(r, &errnop, saved);
        }
        reset();
        nss_leave();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_roles_endspent(void);
enum nss_status _nss_roles_endspent(void) {
        int saved = errno, errnop;
        int r = nss_begin();
        if (r < 0)
                return nss_finish(r, &errnop, saved);
        reset();
        nss_leave();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_roles_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop) {
        int saved = errno;
        int r = enter();
        if (r < 0)
                return nss_finish(r, errnop, saved);
        while (r == 0) {
                if (sp_cursor.next == sp_cursor.n && (r = sp_cursor.exhausted ? -ENOENT : fetch_page()) < 0)
                        break;
                const struct roles_shadow_entry *e = &sp_cursor.page[sp_cursor.next];
                r = servable(&e->user);
                if (r == -ENOENT) {
                        sp_cursor.after = e->user.uid;  /* as if it were not there */
                        sp_cursor.next++;
                        r = 0;
                        continue;
                }
                if (r == 0)
                        r = nss_pack_shadow(&e->user, &e->shadow, sp, buf, len);
                if (r == 0) {
                        sp_cursor.after = e->user.uid;
                        sp_cursor.next++;
                }
                break;
        }
        nss_leave();
        return nss_finish(r, errnop, saved);
}
