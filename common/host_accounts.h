/* SPDX-License-Identifier: MIT */
/*
 * The host's own accounts: the names and ids in /etc/passwd and /etc/group, read from the
 * files themselves (never through NSS, which would ask roles back, and whose "not found" from
 * an unreadable file could pass a check that could not look).
 *
 * Why: roles.db may come from anywhere (a restored backup, another host, the fleet, a hand
 * edit), and /etc may change after roles.db was written. A roles group named "sudo", or a roles
 * user named "root", would borrow what the host gives that name (sudoers' %sudo, PAM_USER=root).
 * So the host's accounts always win: a roles user or group that shares a name or an id with
 * them is never served by NSS nor logged in by PAM (host_accounts_user_clashes and
 * host_accounts_group_clashes are that rule, the one copy of it).
 *
 * Links libc only: the NSS module uses it in every process that resolves a name. Not
 * thread-safe: each owner serializes its use (the NSS module under its lock).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define HOST_PASSWD_PATH "/etc/passwd"
#define HOST_GROUP_PATH  "/etc/group"

/* One file as last read: its names and ids sorted for bsearch, and what identifies that
 * version of it (a rename or an edit in place changes one of these). */
struct host_file {
        const char *path;
        char *text;                     /* the file, ':' and '\n' turned into NULs */
        const char **names;
        uint32_t *ids;
        size_t n_names, n_ids;
        bool loaded;                    /* read at least once; a missing file is an empty one */
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime, ctime;
};

struct host_accounts {
        struct host_file passwd, group;
        uint64_t generation;            /* bumped whenever either file was read again */
};

/* Paths are kept as given (string constants): the default files, or a test's. */
void host_accounts_init(struct host_accounts *h, const char *passwd_path, const char *group_path);
void host_accounts_done(struct host_accounts *h);

/*
 * Read again whichever file changed since it was last read (the first call reads both). 0, or
 * -errno when a file exists but cannot be read: the caller must then refuse (fail closed), and
 * the sets keep their last contents for nobody to use. A missing file holds no accounts.
 */
int host_accounts_refresh(struct host_accounts *h);

bool host_accounts_has_user(const struct host_accounts *h, const char *name);
/* The same for a name of n bytes that is not NUL-terminated (a member in an "a,b,c" list). */
bool host_accounts_has_user_n(const struct host_accounts *h, const char *name, size_t n);
bool host_accounts_has_uid(const struct host_accounts *h, uint32_t uid);
bool host_accounts_has_group(const struct host_accounts *h, const char *name);
bool host_accounts_has_group_n(const struct host_accounts *h, const char *name, size_t n);
bool host_accounts_has_gid(const struct host_accounts *h, uint32_t gid);

/*
 * The rule. A roles user clashes when the host has its name or its uid as a user, or its
 * primary gid as a group (it would be a member of that local group). A roles group (or a
 * published metarole group) clashes when the host has its name or its gid as a group. Names
 * are name_len bytes, NUL-terminated or not (a field of a derived line).
 */
bool host_accounts_user_clashes(const struct host_accounts *h, const char *name, size_t name_len, uint32_t uid,
                                uint32_t gid);
bool host_accounts_group_clashes(const struct host_accounts *h, const char *name, size_t name_len, uint32_t gid);
