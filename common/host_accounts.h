/* SPDX-License-Identifier: MIT */
/*
 * The host's own accounts: the names and ids in /etc/passwd and /etc/group, and the ids the host
 * hands out itself (/etc/subuid, /etc/subgid, login.defs), read from the files themselves (never
 * through NSS, which would ask roles back, and whose "not found" from an unreadable file could
 * pass a check that could not look).
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

#include "file_stamp.h"

#define HOST_PASSWD_PATH     "/etc/passwd"
#define HOST_GROUP_PATH      "/etc/group"
#define HOST_SUBUID_PATH     "/etc/subuid"
#define HOST_SUBGID_PATH     "/etc/subgid"
#define HOST_LOGIN_DEFS_PATH "/etc/login.defs"

/* What useradd hands out when login.defs does not say (shadow's own defaults). */
#define HOST_LOGIN_ID_MIN 1000u
#define HOST_LOGIN_ID_MAX 60000u

/* The ids first..last, and who holds them: the owner field of a subordinate range (a name or a
 * uid, as the file gives it), or login.defs' keys for its ranges. */
struct host_id_range {
        uint32_t first, last;
        uint32_t reach;                 /* the highest last of this range and of all sorted before it */
        const char *owner;
};

enum host_file_kind {
        HOST_FILE_PASSWD,               /* name:x:uid:gid:... */
        HOST_FILE_GROUP,                /* name:x:gid:... */
        HOST_FILE_SUBIDS,               /* subuid, subgid: owner:start:count */
        HOST_FILE_LOGIN_DEFS,           /* login.defs: KEY value */
};

/* A slot of the names' hash table (linear probing): the name's index + 1 (0: empty) and the
 * hash's high half, so that a probe compares a name only when its hash matches. */
struct host_name_slot {
        uint32_t index;
        uint32_t hash;
};

/* One file as last read: its names (with a hash table of them) and its ids sorted for binary
 * search (or its ranges), and what identifies that version of it (a rename or an edit in place
 * changes one of these). */
struct host_file {
        const char *path;               /* NULL: not read, holds nothing */
        enum host_file_kind kind;
        char *text;                     /* the file, ':' and '\n' turned into NULs */
        const char **names;
        struct host_name_slot *name_slots;      /* names by hash (host_accounts.c) */
        uint64_t name_filter[16];       /* a bit per (length, first, last byte) class of the names */
        size_t n_name_slots;            /* a power of two, more than n_names; 0 with no names */
        uint32_t *ids;
        uint32_t *gids;                 /* passwd: the primary gids */
        size_t n_names, n_ids, n_gids;
        struct host_id_range *ranges;   /* subids: sorted by first; login.defs: [0] uids, [1] gids */
        size_t n_ranges;
        bool loaded;                    /* read at least once; a missing file is an empty one */
        struct roles_file_stamp stamp;  /* of what was read; { 0 }: it was missing */
};

/* Which files to read; NULL: that one is not read and holds nothing. Kept as given (string
 * constants): the default files, or a test's. */
struct host_paths {
        const char *passwd, *group;
        const char *subuid, *subgid;
        const char *login_defs;
};

/* Every file: for whoever hands out ids (rolesctl, the store's writers and doctor). */
#define HOST_PATHS_ALL \
        ((const struct host_paths) { HOST_PASSWD_PATH, HOST_GROUP_PATH, HOST_SUBUID_PATH, HOST_SUBGID_PATH, \
                                     HOST_LOGIN_DEFS_PATH })
/* The two files the rule below needs: the NSS and PAM modules read no more. */
#define HOST_PATHS_ACCOUNTS ((const struct host_paths) { HOST_PASSWD_PATH, HOST_GROUP_PATH, NULL, NULL, NULL })

struct host_accounts {
        struct host_file passwd, group, subuid, subgid, login_defs;
        uint64_t generation;            /* bumped whenever a file was read again */
        const char *failed;             /* the file the last failed refresh could not read */
};

void host_accounts_init(struct host_accounts *h, const struct host_paths *paths);
void host_accounts_done(struct host_accounts *h);

/*
 * Read again whichever file changed since it was last read (the first call reads them all). 0,
 * or -errno when a file exists but cannot be read (h->failed names it): the caller must then
 * refuse (fail closed), and the sets keep their last contents for nobody to use. A missing file
 * holds no accounts and no ranges (login.defs: shadow's defaults).
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

/*
 * Ids the host hands out itself, besides those of its accounts: subordinate ranges (user
 * namespaces, containers) and what useradd allocates from. Whoever allocates ids for roles
 * skips them all, or a roles user would own a local user's files or a container's.
 */

/* A range of /etc/subuid (group: /etc/subgid) that holds id, or NULL. */
const struct host_id_range *host_accounts_subid_range(const struct host_accounts *h, uint32_t id, bool group);

/* Is gid the primary gid of an account of /etc/passwd (with or without a line in /etc/group)? */
bool host_accounts_has_primary_gid(const struct host_accounts *h, uint32_t gid);

/* Does the host use id: a uid of /etc/passwd or an id of /etc/subuid (group: a gid of
 * /etc/group, a primary gid of /etc/passwd or an id of /etc/subgid)? */
bool host_accounts_id_used(const struct host_accounts *h, uint32_t id, bool group);

/* The first id from `from` on that the host does not use (as above) in *ret; false when it uses
 * every one up to UINT32_MAX. */
bool host_accounts_next_unused(const struct host_accounts *h, uint32_t from, bool group, uint32_t *ret);

/* The uids (group: gids) useradd hands out to regular accounts, UID_MIN..UID_MAX of login.defs
 * (shadow's defaults for a key or a file that is missing); false when login.defs is not read. */
bool host_accounts_login_range(const struct host_accounts *h, bool group, struct host_id_range *ret);

/* The subordinate ranges of /etc/subuid (group: /etc/subgid), sorted by first id. */
const struct host_id_range *host_accounts_subid_ranges(const struct host_accounts *h, bool group, size_t *ret_n);
