/* SPDX-License-Identifier: MIT */
/*
 * A snapshot: roles.db opened read-only, read in read transactions. What rolesctl's read
 * commands, permission checks (authz.h) and the shadow plugin read, and what a login
 * (login.h) and a writer (writer.h) read through.
 *
 * The files:
 *   roles.db    0644  public: users' NSS fields, groups, memberships, metaroles, roles,
 *                     permissions. In WAL mode: a writer changes it in place in one
 *                     transaction; readers read the last committed state meanwhile.
 *   secrets.db  0600  hashes, one-time codes, TOTP secrets, email, user_data, change audit.
 *   state.db    0600  what logins write: tallies, tracking, last TOTP step, login audit.
 *
 * Each handle type says what its holder may do: a snapshot reads roles.db (and, opened with
 * ROLES_SNAPSHOT_SECRETS, reads secrets.db and state.db through a read-only secrets view); a
 * login also writes what logins write; a writer changes everything. There is no mode flag to
 * check at run time: a function that changes roles.db takes a struct roles_writer.
 *
 * Convention: 0 (or a count) on success, -errno on failure with a one-line reason available
 * from the handle's _error(); ret_ parameters are untouched on failure. A handle is used by one
 * thread at a time; callers that share one across threads serialize on their own lock.
 */
#pragma once

#include "records.h"

struct roles_snapshot;
struct roles_secrets;

enum {
        ROLES_SNAPSHOT_SECRETS = 1u << 0,       /* also open secrets.db and state.db, read-only (root) */
};

/* On failure errbuf (may be NULL) receives the one-line reason. */
int roles_snapshot_open(const struct roles_config *cfg, unsigned flags, struct roles_snapshot **ret,
                        char *errbuf, size_t errlen);
void roles_snapshot_close(struct roles_snapshot *snap);
const char *roles_snapshot_error(const struct roles_snapshot *snap);
const struct roles_config *roles_snapshot_config(const struct roles_snapshot *snap);

/* secrets.db and state.db, read-only, when opened with ROLES_SNAPSHOT_SECRETS; else NULL. */
const struct roles_secrets *roles_snapshot_secrets(struct roles_snapshot *snap);

/* The clock used for created_at, until checks and so on; tests may pin it. */
time_t roles_snapshot_now(const struct roles_snapshot *snap);
void roles_snapshot_set_now(struct roles_snapshot *snap, time_t now);

/* The serial number of the state read (bumped by every change that publishes). */
int roles_snapshot_serial(struct roles_snapshot *snap, int64_t *ret);

/*
 * A snapshot reads roles.db in read transactions: the first query of an answer begins one,
 * and every later query reads the same committed state, whatever a writer commits meanwhile,
 * until it is released. Release before anything that may take long (a prompt): a held read
 * transaction keeps the WAL from being checkpointed past it. The next query then begins a new
 * one, at the state committed last. Never held by a closed snapshot. (A writer's view reads its
 * own transaction: release and refresh do nothing there.)
 *
 * A snapshot opens roles.db's WAL index read-only, and SQLite shares one index per file within
 * a process: a writer opened while a snapshot of the same process is open fails (-EROFS). Close
 * snapshots first (rolesctl does); a snapshot opened while a writer is open is fine.
 */
void roles_snapshot_release(struct roles_snapshot *snap);

/* Release, and begin a read transaction at the state committed last. 1 when its serial differs
 * from the one read before (a change was published since), 0 when not, -errno. */
int roles_snapshot_refresh(struct roles_snapshot *snap);

/* ---- lookups ------------------------------------------------------------------------------ */

int roles_user_by_name(struct roles_snapshot *snap, const char *name, struct roles_user *ret);
int roles_user_by_uid(struct roles_snapshot *snap, uint32_t uid, struct roles_user *ret);
/* By the uuid that keys secrets.db's and state.db's rows. */
int roles_user_by_uuid(struct roles_snapshot *snap, const char *uuid, struct roles_user *ret);
int roles_group_by_name(struct roles_snapshot *snap, const char *name, struct roles_group *ret);
int roles_group_by_gid(struct roles_snapshot *snap, uint32_t gid, struct roles_group *ret);
int roles_metarole_by_code(struct roles_snapshot *snap, const char *code, struct roles_metarole *ret);
int roles_role_by_name(struct roles_snapshot *snap, const char *name, struct roles_role *ret);

/* Rows of a listing (records.h). Those of secrets.db and state.db (USER_SECRETS, USER_STATE,
 * AUDIT) need a snapshot with secrets, a login's or a writer's (-EACCES otherwise). Returns the
 * number of rows, or -errno (a callback's negative return stops and is returned). */
int roles_snapshot_list(struct roles_snapshot *snap, enum roles_listing what, const char *arg, roles_row_fn fn,
                        void *userdata);
/* The same, with a filter beyond the argument (records.h). */
int roles_snapshot_list_filtered(struct roles_snapshot *snap, enum roles_listing what,
                                 const struct roles_list_filter *filter, roles_row_fn fn, void *userdata);

/* ---- what permission resolution reads (authz.c) ------------------------------------------ */

/* All the user's role assignments, ended or not: whether one counts is authz's decision. */
int roles_snapshot_user_assignments(struct roles_snapshot *snap, int64_t user_id, roles_assignment_fn fn,
                                    void *userdata);
/* Permissions (enabled and disabled) on every role assigned to the user. */
int roles_snapshot_user_role_perms(struct roles_snapshot *snap, int64_t user_id, roles_perm_fn fn, void *userdata);
/* Metaroles that metarole_id includes directly. */
int roles_snapshot_metarole_children(struct roles_snapshot *snap, int64_t metarole_id, roles_child_fn fn,
                                     void *userdata);
/* Permissions carried by a metarole. */
int roles_snapshot_metarole_perms(struct roles_snapshot *snap, int64_t metarole_id, roles_perm_fn fn, void *userdata);
/* Each of the user's assignments (role, until, the role's metarole). */
int roles_snapshot_check_assignments(struct roles_snapshot *snap, int64_t user_id, roles_check_fn fn, void *userdata);
/* The user's assignments whose role itself holds one of the candidates: enabled, or (disabled
 * true) as a disabled line. */
int roles_snapshot_check_role_grants(struct roles_snapshot *snap, int64_t user_id, bool disabled,
                                     const char *const *candidates, size_t n, roles_check_fn fn, void *userdata);
/* Metaroles holding one of the candidates, themselves or through what they include. */
int roles_snapshot_metarole_holders(struct roles_snapshot *snap, const char *const *candidates, size_t n,
                                    roles_id_fn fn, void *userdata);

/* ---- what the NSS module's shadow half serves (store_nss.c) ------------------------------- */

/*
 * Users for shadow enumeration: up to limit servable users with uid > after, by uid; rows that
 * must not be served are skipped without shortening the page. Returns 1 when more may follow,
 * 0 at the end, or -errno.
 */
int roles_nss_users_after(struct roles_snapshot *snap, uint32_t after, size_t limit, roles_user_fn fn,
                          void *userdata);
