/* SPDX-License-Identifier: MIT */
/*
 * An NSS module loaded as glibc loads it: dlopen()ed by path, its entry points looked up by
 * name (_nss_NAME_getpwnam_r, ...). Shared by the tests and the benchmarks: libc and libdl only,
 * no cmocka, so that forked children, bench_nss (which links no part of roles) and a build
 * without the tests can use it.
 */
#pragma once

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stddef.h>
#include <sys/types.h>

struct nss_module {
        void *handle;
        enum nss_status (*getpwnam_r)(const char *, struct passwd *, char *, size_t, int *);
        enum nss_status (*getpwuid_r)(uid_t, struct passwd *, char *, size_t, int *);
        enum nss_status (*setpwent)(int);
        enum nss_status (*getpwent_r)(struct passwd *, char *, size_t, int *);
        enum nss_status (*endpwent)(void);
        enum nss_status (*getgrnam_r)(const char *, struct group *, char *, size_t, int *);
        enum nss_status (*getgrgid_r)(gid_t, struct group *, char *, size_t, int *);
        enum nss_status (*setgrent)(int);
        enum nss_status (*getgrent_r)(struct group *, char *, size_t, int *);
        enum nss_status (*endgrent)(void);
        enum nss_status (*getspnam_r)(const char *, struct spwd *, char *, size_t, int *);
        enum nss_status (*setspent)(int);
        enum nss_status (*getspent_r)(struct spwd *, char *, size_t, int *);
        enum nss_status (*endspent)(void);
        enum nss_status (*initgroups_dyn)(const char *, gid_t, long *, long *, gid_t **, long, int *);
};

/* dlopen(PATH, RTLD_NOW | RTLD_LOCAL) into RET->handle, every entry point NULL: 0, or -ENOENT
 * with dlerror()'s text in ERR (RET untouched). Split from nss_module_resolve so that bench_nss
 * can time the dlopen alone. */
int nss_module_open(const char *path, struct nss_module *ret, char *err, size_t errsize);

/* Looks up _nss_NAME_<entry point> for each one above; one the module lacks stays NULL, as glibc
 * leaves it. 0 when it has them all, else -ENOENT with the first one missing named in ERR. */
int nss_module_resolve(struct nss_module *m, const char *name, char *err, size_t errsize);

/* Both, for a module that must have every entry point: 0, or -ENOENT with the reason in ERR (the
 * module closed again, RET untouched). Never dlclose() a module that has been called: glibc never
 * unloads one, and roles' keeps its store for the life of the process. */
int nss_module_load(const char *path, const char *name, struct nss_module *ret, char *err, size_t errsize);
