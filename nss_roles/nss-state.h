/* SPDX-License-Identifier: MIT */
/*
 * The module's per-process state: the configuration, one read-only connection to the snapshot
 * (and one to secrets.db for shadow, root only), the enumeration cursors, and the lock that
 * serializes them. Nothing is held across a return to the caller but the lock-free cursors.
 */
#pragma once

#include <nss.h>
#include <stdbool.h>

#include "host_accounts.h"
#include "store.h"

enum nss_db { NSS_DB_PUBLIC, NSS_DB_SECRETS };

/*
 * Take the module lock (refusing re-entry from the same thread) and return a store that is
 * open, belongs to this process (not inherited across fork) and is the current snapshot
 * (checked against the file's inode at most once a second). On success the caller holds the
 * lock and must nss_leave(); on failure nothing is held.
 */
int nss_enter(enum nss_db db, struct roles_store **ret);
void nss_leave(void);

/* With the lock held after nss_enter()/nss_store(): the host's own accounts, current to within
 * a second, which every entry must be checked against before it is served (host_accounts.h). */
const struct host_accounts *nss_host(void);

/* Changes whenever what an answer depends on may have changed (a new snapshot or new host
 * files), for what the entry points cache between calls. */
uint64_t nss_generation(void);

/* nss_enter() in two steps, for a call that needs a store only now and then: nss_begin() takes
 * the lock (-EDEADLK on re-entry, nothing held); nss_store(), with the lock held, returns the
 * store as nss_enter() does, and on failure the caller still holds the lock. */
int nss_begin(void);
int nss_store(enum nss_db db, struct roles_store **ret);

/*
 * Close one store; the caller holds the lock. Shadow closes its store (secrets.db and state.db)
 * before every return, in lookups and enumerations alike: a root process that read a shadow
 * entry and then forks a child that becomes a user without exec (sshd, after pam_unix's account
 * check) must not hand that child descriptors of secrets.db.
 */
void nss_close_store(enum nss_db db);

/*
 * After initgroups; the caller holds the lock. A root process forked without exec that asks for
 * a user's groups is about to become that user (sshd's session process: initgroups as root, then
 * setuid, and it serves the connection as the user without exec): it keeps no connection to
 * roles.db, as it would otherwise for the rest of its life. (fork itself closes the inherited
 * ones.) Root processes that were not forked (daemons, getgrouplist in a loop) keep theirs; they
 * do not become anyone.
 */
void nss_release_before_setuid(void);

/* Only the lock, for what touches the cursors but no database (and so cannot re-enter). */
void nss_lock(void);
void nss_unlock(void);

/* nss_enter() fails with -(NSS_E_UNAVAIL | errno) when the store cannot be opened (and -ENOMEM,
 * -EDEADLK as they are): nss_status_from() makes that NSS_STATUS_UNAVAIL with *errnop = errno. */
#define NSS_E_UNAVAIL 0x10000

/* The one mapping from the core's 0 / -errno to NSS statuses and *errnop. */
enum nss_status nss_status_from(int r, int *errnop);
