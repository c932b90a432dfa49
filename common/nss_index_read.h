/* SPDX-License-Identifier: MIT */
/*
 * Reading roles.nss (layout: nss_index.h): libc only, no allocation, no lock; what the NSS
 * module runs inside every process. A file is checked when it is mapped; then every record,
 * string and list is checked against its section before it is followed, so a short, damaged
 * or hostile file is an error or a record left out, never a read outside the mapping.
 *
 * A view is a base and, when it applies to that base, a delta (nss_index.h). Lookups return
 * what the view says now: the delta's record when it has one, else the base's unless the
 * delta supersedes it. Records that must not be served (invalid name or text, ids outside the
 * configured ranges) are reported as -EBADMSG, exactly as if a stored row had failed its
 * check; the host's own accounts are the caller's to apply (host_accounts.h), but for a group's
 * members, which the view's member_host rules out as they are walked.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "file_stamp.h"
#include "nss_index.h"

struct nss_index_file {
        const unsigned char *data;
        size_t size;
        const struct nss_index_header *header;
        const struct nss_index_user *users;
        const struct nss_index_group *groups;
        const uint32_t *ids, *tables[NSS_N_SECTIONS], *superseded_users, *superseded_groups;
        const struct nss_index_membership *memberships;
        /* The member extension's (nss_index.h); NULL, NULL and empty sections when there is none. */
        const struct nss_index_range *member_ranges;    /* n[NSS_SECTION_MEMBER_RANGES] == n[GROUPS] */
        const struct nss_index_member *members;
        /* A delta's host verdict (nss_index.h); NULL when it has none. */
        const struct nss_index_host_verdict *host_verdict;
        const char *strings;
        uint64_t offset[NSS_N_FILE_SECTIONS], n[NSS_N_FILE_SECTIONS];
};

/* The configured ranges: entries outside them are never served. */
struct nss_index_limits {
        uint32_t uid_min, uid_max, gid_min, gid_max;
};

/*
 * What member walks decided of each member that does not depend on the clock (a valid name,
 * ids in the ranges, a name member_host does not hold): two bits a unit, known and servable. A
 * unit is an entry of the base's member extension (the bytes it serves, judged once per view
 * rather than at every enumeration), or, a base without one, a user (judged once rather than
 * once for every group it is in). It holds only as long as the view, its limits and member_host
 * do: whoever changes any of them clears it (all bits zero).
 */
struct nss_index_member_memo {
        uint64_t *words;                /* 32 units a word; NULL: none */
        uint64_t n_words;
};

struct host_accounts;

struct nss_index_view {
        struct nss_index_file base, delta;
        bool has_delta;                 /* the delta applies to this base */
        struct nss_index_limits limits;
        /* Both optional and the caller's: the reader allocates nothing. */
        const struct host_accounts *member_host;        /* no member may have a name its passwd holds */
        struct nss_index_member_memo member_memo;
};

struct nss_index_text {
        const char *p;                  /* into the mapping, not NUL-terminated */
        size_t n;
};

struct nss_index_found_user {
        struct nss_index_text name, gecos, home, shell;
        uint32_t uid, gid;
        bool enabled;
        int64_t expires_at;
        const struct nss_index_file *file;
        uint32_t index;
};

struct nss_index_found_group {
        struct nss_index_text name;
        uint32_t gid;
        enum nss_index_group_kind kind;
        int64_t row;
        const struct nss_index_file *file;
        uint32_t index;
};

/* Check a file's header and sections (data: the whole file, size bytes). -EBADMSG if it is
 * not a roles.nss of version 1, any of it lies outside the file, or it has a member extension's
 * or a host verdict's trailer that fails a check (a file without one is read, its members from
 * IDS; a delta without a verdict has the host's files read). On success
 * *ret points into data. Doctor also asks for the body checksum (check_body). */
int nss_index_file_check(const void *data, size_t size, bool check_body, struct nss_index_file *ret);

/* Whether each entry of a base's member extension is the user it names: that user's uid, gid
 * and name. A reader judges and serves the entry's copies and never looks at the record, so a
 * copy that disagrees would serve what the user record does not say. Reads every member and
 * its user: doctor's check, not a mapping's. 0 (also without an extension) or -EBADMSG. */
int nss_index_members_check(const struct nss_index_file *f);

/*
 * Map path read-only (O_RDONLY | O_CLOEXEC | O_NOFOLLOW; the descriptor is closed before this
 * returns, so no fork inherits it) after checking it and its directory as every roles file is
 * checked (roles_owner_and_mode_trusted: a regular file, its directory not a symlink). ret_stamp
 * (or NULL): the version mapped, to notice a replacement (file_stamp.h). -ENOENT when there is
 * none.
 */
int nss_index_map(const char *path, struct nss_index_file *ret, struct roles_file_stamp *ret_stamp);
/* The two halves of nss_index_map(), for a caller that maps a base and its delta, which share a
 * directory: the directory checked once (-EPERM untrusted, -ENOENT missing), then each file. */
int nss_index_dir_trusted(const char *path);
int nss_index_map_in_trusted_dir(const char *path, struct nss_index_file *ret, struct roles_file_stamp *ret_stamp);
void nss_index_unmap(struct nss_index_file *f);

/* Let the pages of f go from this process (they stay in the page cache and come back on the
 * next touch), all but those of the sections in keep (a mask of 1u << enum nss_index_section):
 * an enumeration would otherwise leave the whole file resident in it. */
void nss_index_drop_pages(const struct nss_index_file *f, uint32_t keep);

/* The units of the base's member memo (nss_index_member_memo): its extension's member
 * entries, or without one its users. */
static inline uint64_t nss_index_memo_units(const struct nss_index_file *base) {
        return base->n[base->member_ranges ? NSS_SECTION_GROUP_MEMBERS : NSS_SECTION_USERS];
}

/* Does delta apply to base (a delta naming base's id and serial)? */
bool nss_index_delta_applies(const struct nss_index_file *base, const struct nss_index_file *delta);

/* Does the view's host verdict (nss_index.h) hold: a delta that applies says that no record of
 * it or of its base is the host's, and the files at passwd and group are the versions it judged
 * (a stat of each)? Then the host's own accounts take nothing away from what the view serves. */
bool nss_index_host_verdict_holds(const struct nss_index_view *v, const char *passwd, const char *group);
/* Is the file at path (followed) the version s stamped? */
bool nss_index_host_stamp_current(const struct nss_index_host_stamp *s, const char *path);

/* The serial the view serves. */
uint64_t nss_index_view_serial(const struct nss_index_view *v);

/* Lookups: 0 found, -ENOENT none, -EBADMSG found but not servable. */
int nss_index_user_by_name(const struct nss_index_view *v, const char *name, size_t n, struct nss_index_found_user *ret);
int nss_index_user_by_uid(const struct nss_index_view *v, uint32_t uid, struct nss_index_found_user *ret);
int nss_index_group_by_name(const struct nss_index_view *v, const char *name, size_t n, struct nss_index_found_group *ret);
int nss_index_group_by_gid(const struct nss_index_view *v, uint32_t gid, struct nss_index_found_group *ret);

/*
 * Enumeration in id order: the first user with uid > after (after < 0: the first of all), and
 * likewise for groups by gid. 0 found; -EBADMSG: one that must not be served, whose id is in
 * *ret_id so that the caller can go past it; -ENOENT at the end. hint: the caller's cursor
 * positions, kept between calls to spare a search; any value is safe.
 */
struct nss_index_hint {
        uint64_t base, delta;
};
int nss_index_next_user(const struct nss_index_view *v, int64_t after, struct nss_index_hint *hint,
                        struct nss_index_found_user *ret, uint32_t *ret_id);
int nss_index_next_group(const struct nss_index_view *v, int64_t after, struct nss_index_hint *hint,
                         struct nss_index_found_group *ret, uint32_t *ret_id);

/* Is the user active at now (enabled, not expired)? Members of metarole groups must be. */
bool nss_index_user_active(const struct nss_index_found_user *u, time_t now);

/*
 * A group's members at now, in the view: each servable member's name given to fn (a valid name,
 * ids in the ranges, not a name of the view's member_host; judged through the view's memo when
 * it has one). fn returning non-zero stops the walk with that value.
 */
typedef int (*nss_index_name_fn)(void *userdata, const char *name, size_t n);
int nss_index_group_members(const struct nss_index_view *v, const struct nss_index_found_group *g, time_t now,
                            nss_index_name_fn fn, void *userdata);

/* A user's gids at now: ordinary groups and the published metarole groups held now (the user
 * must be active for those), each given to fn. Gids outside the range are left out. */
typedef int (*nss_index_gid_fn)(void *userdata, uint32_t gid);
int nss_index_user_gids(const struct nss_index_view *v, const struct nss_index_found_user *u, time_t now,
                        nss_index_gid_fn fn, void *userdata);

/* For the writer: f's user (group) at index i, judged by v's limits as lookups judge it; 0, or
 * -EBADMSG for one no lookup serves. */
int nss_index_user_at(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t i,
                      struct nss_index_found_user *ret);
int nss_index_group_at(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t i,
                       struct nss_index_found_group *ret);

/* For the writer: the index of f's user with this roles.db row, or of its group with this kind
 * and row; -1 when there is none. */
int64_t nss_index_user_by_row(const struct nss_index_file *f, int64_t row);
int64_t nss_index_group_by_row(const struct nss_index_file *f, uint32_t kind, int64_t row);
