/* SPDX-License-Identifier: MIT */
/*
 * The module's per-process state: the configuration, the mapped index (roles.nss and its
 * delta), the host's own accounts, and the lock that serializes them. Nothing is held across
 * a return to the caller but the mappings and the enumeration cursors; no descriptor is ever
 * kept open, so no fork inherits one.
 */
#pragma once

#include <nss.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "host_accounts.h"
#include "nss_index_read.h"

/*
 * Take the module lock (refusing re-entry from the same thread: -EDEADLK, nothing held) and
 * return the view of the index as it is now (looked at again at most once a second: a file
 * replaced by rename is mapped anew), with the host's accounts current to within a second. On
 * success the caller holds the lock and must nss_leave(); on failure nothing is held.
 */
int nss_enter(const struct nss_index_view **ret);
void nss_leave(void);

/* With the lock held, after nss_enter(): the host's own accounts, which every entry of the view
 * must be checked against before it is served (host_accounts.h), read or looked at again now if
 * due; NULL when the view's host verdict holds (no entry of it is the host's: nothing to check);
 * UNAVAIL (as nss_enter fails) when they cannot be read. Then nss_generation() covers them too. */
int nss_host(const struct host_accounts **ret);
/* The same read whatever the view says, for entries that are not the view's (shadow's). */
int nss_host_files(const struct host_accounts **ret);
/* With the lock held, after nss_host(), before a group's members are walked: the view's
 * member_host is the host's accounts, and its member memo is ready and current (made at the
 * process's first group walk, cleared whenever nss_generation() changes; without memory for it,
 * a walk judges every member as it goes). */
void nss_members_prepare(void);
/* With the lock held, after nss_members_prepare(): what the host's files said of a base group
 * (host_accounts_group_clashes), kept as the member memo is: 1 it clashes, 0 it does not, -1
 * not known (not a base group, or no memory for the memo); and keeping what was found. An
 * enumeration otherwise looks every group up in the host's files at every pass. */
int nss_group_clash_known(const struct nss_index_found_group *g);
void nss_group_clash_keep(const struct nss_index_found_group *g, bool clashes);
/* With the lock held, after nss_prepare(): the configuration. */
const struct roles_config *nss_config(void);

/* Changes whenever what an answer depends on may have changed (a new index or new host files),
 * for what the entry points keep between calls. */
uint64_t nss_generation(void);

/* With the lock held, after an enumeration (groups: of the group database) served another
 * entry: every so many, the pages it streamed past are let go (nss_index_drop_pages; a group
 * enumeration keeps the users' records and the strings, which its member lists reach at random),
 * and all of them when it ends (its last entry served, or end*ent), so that walking the whole
 * index leaves this process's memory as it was, as a walk through /etc/passwd would. */
void nss_enumerated(bool groups);
void nss_enumeration_ended(void);

/* The lock alone, for what needs no index (cursor resets, shadow: nss_shadow.c). -EDEADLK on
 * re-entry. With it held, nss_prepare() loads the configuration as nss_enter() does, without
 * the index. */
int nss_begin(void);
int nss_prepare(void);

/* nss_enter() fails with -(NSS_E_UNAVAIL | errno) when the index cannot be used (missing,
 * unreadable, damaged, a bad configuration), and -EDEADLK as it is: nss_status_from() makes
 * that NSS_STATUS_UNAVAIL with *errnop = errno. */
#define NSS_E_UNAVAIL 0x10000
int nss_unavailable(int r);

/* The one mapping from the core's 0 / -errno to NSS statuses and *errnop. */
enum nss_status nss_status_from(int r, int *errnop);

/* An entry point's end: the status for r, errno as it was on success, else *errnop. */
enum nss_status nss_finish(int r, int *errnop, int saved_errno);
