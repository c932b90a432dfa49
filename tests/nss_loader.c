/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "nss_loader.h"

int nss_module_open(const char *path, struct nss_module *ret, char *err, size_t errsize) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(err, errsize, "dlopen(%s): %s", path, dlerror());
                return -ENOENT;
        }
        *ret = (struct nss_module) { .handle = h };
        return 0;
}

/* One entry point: *FN (a function pointer, written through its object representation as the
 * dlsym manual does) set to _nss_NAME_SUFFIX, or NULL and -ENOENT with its name in ERR when this
 * is the first one missing (*R still 0). */
static void resolve_one(void *handle, const char *name, const char *suffix, void **fn, int *r, char *err,
                        size_t errsize) {
        char sym[128];
        snprintf(sym, sizeof(sym), "_nss_%s_%s", name, suffix);
        *fn = dlsym(handle, sym);
        if (!*fn && *r == 0) {
                snprintf(err, errsize, "no %s", sym);
                *r = -ENOENT;
        }
}

int nss_module_resolve(struct nss_module *m, const char *name, char *err, size_t errsize) {
        int r = 0;
#define RESOLVE(fn) resolve_one(m->handle, name, #fn, (void **) &m->fn, &r, err, errsize)
        RESOLVE(getpwnam_r);
        RESOLVE(getpwuid_r);
        RESOLVE(setpwent);
        RESOLVE(getpwent_r);
        RESOLVE(endpwent);
        RESOLVE(getgrnam_r);
        RESOLVE(getgrgid_r);
        RESOLVE(setgrent);
        RESOLVE(getgrent_r);
        RESOLVE(endgrent);
        RESOLVE(getspnam_r);
        RESOLVE(setspent);
        RESOLVE(getspent_r);
        RESOLVE(endspent);
        RESOLVE(initgroups_dyn);
#undef RESOLVE
        return r;
}

int nss_module_load(const char *path, const char *name, struct nss_module *ret, char *err, size_t errsize) {
        struct nss_module m;
        int r = nss_module_open(path, &m, err, errsize);
        if (r < 0)
                return r;
        r = nss_module_resolve(&m, name, err, errsize);
        if (r < 0) {
                dlclose(m.handle);
                return r;
        }
        *ret = m;
        return 0;
}
