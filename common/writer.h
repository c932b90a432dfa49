/* SPDX-License-Identifier: MIT */
/*
 * A writer: the one process changing roles. It holds the lock ("<roles.db>.lock"), changes
 * roles.db in one transaction in place, keeps before-images of the secrets it changes, brings
 * the derived tables and the NSS index (roles.nss) up to date, and publishes at commit; a
 * writer closed without commit changes nothing. rolesctl's changes, and the fleet agent to come.
 *
 * It reads its own transaction through roles_writer_snapshot() and changes secrets.db through
 * roles_writer_secrets() as well as through the administrator's calls below.
 */
#pragma once

#include "secrets.h"
#include "snapshot.h"

struct roles_writer;
struct host_accounts;

enum {
        ROLES_WRITER_CREATE = 1u << 0,  /* create missing files (rolesctl init) */
};

/* Take the lock and begin the change. On failure errbuf (may be NULL) receives the reason. */
int roles_writer_open(const struct roles_config *cfg, unsigned flags, struct roles_writer **ret, char *errbuf,
                      size_t errlen);
/* Commit secrets, then roles.db (publishing the change), then purge what deleted users left. */
int roles_writer_commit(struct roles_writer *w);
/* Closes; an uncommitted change is rolled back. */
void roles_writer_close(struct roles_writer *w);
const char *roles_writer_error(const struct roles_writer *w);

/* The change as it stands, to read; and secrets.db and state.db, to read and write. Both live
 * as long as the writer. */
struct roles_snapshot *roles_writer_snapshot(struct roles_writer *w);
struct roles_secrets *roles_writer_secrets(struct roles_writer *w);

/* Compile roles.nss whole at commit, even if nothing else changed (rolesctl index rebuild;
 * after a restore). */
int roles_writer_rebuild_index(struct roles_writer *w);
/* 1 when roles.nss is missing or not roles.db's serial (a writer killed, or the power lost,
 * between roles.db's commit and the index's rename), 0 when it is, or -errno. */
int roles_writer_index_stale(struct roles_writer *w);

/*
 * Writers about to add rows by the hundred thousand (rolesctl import); n_uuids: how many uuids
 * the change will make (one a group, two a user: its own and its fs_uniquifier).
 *  - The change stops noting row by row what it touches for an NSS index delta: it compiles a
 *    base whole at commit, as a delta that large would anyway.
 *  - roles.db gets a page cache that holds its users and groups (a ceiling, allocated only as
 *    pages are used), which every membership added looks up.
 *  - The secondary indexes of group_members are dropped and made again at commit: sorted once,
 *    rather than each row put at a random place in an index by user.
 *  - The uuids are drawn at once and handed out in ascending order, so each new row's uuid is
 *    above every earlier one's: the indexes on them (users, groups, credentials and its
 *    fs_uniquifier, before_users) grow at their right edge in full pages instead of splitting
 *    pages at random places. Each uuid is as random as roles_uuid_new's; only their order
 *    follows the order rows are added in, which their ids show anyway. Past n_uuids, uuids
 *    are drawn one by one as usual.
 *  - When no id is retired as it begins, none is looked up until one is (roles_retired_id).
 */
int roles_writer_begin_bulk(struct roles_writer *w, size_t n_uuids);

/*
 * The host's own accounts (host_accounts.h) a writer hands out ids around: no uid or gid of the
 * host's files, nor one in a subordinate range of /etc/subuid or /etc/subgid, is allocated, and
 * doctor compares the configured ranges with them and with login.defs. A writer reads the real
 * files (HOST_PATHS_ALL) unless given h here: rolesctl gives the set it checks names with, a test
 * one of its own. h is read again when its files changed, and must outlive the store.
 */
void roles_writer_set_host_accounts(struct roles_writer *w, struct host_accounts *h);

/* Who is acting, for the audit log ("root", "root (login alice)"). */
int roles_writer_set_actor(struct roles_writer *w, const char *actor);

/* Append to the change audit (secrets.db). Writers do this for every change. */
int roles_audit(struct roles_writer *w, const char *action, const char *target, const char *detail_fmt, ...)
        __attribute__((format(printf, 4, 5)));

/*
 * The rest of this change is audited as one row: the rows each mutation would write (roles_audit,
 * the writers' own and the caller's) are left out, and the caller writes the change's one row,
 * saying what it did, with roles_audit_summary. A commit without that row is refused: a change
 * never goes unaudited. An import of 100,000 users wrote 400,000 rows (37 of secrets.db's 61 MB)
 * that said less than its summary does.
 */
void roles_writer_audit_as_one(struct roles_writer *w);
int roles_audit_summary(struct roles_writer *w, const char *action, const char *target, const char *detail_fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- users ------------------------------------------------------------------------------ */

/*
 * Add a user. uid == ROLES_ID_INVALID allocates one; gid == ROLES_ID_INVALID creates a
 * personal group of the same name (gid = uid when free). Empty home/shell take the
 * configured defaults. Also creates the user's secrets row (no password yet).
 * On success u->id, uuid, uid, gid and the timestamps are filled in.
 */
int roles_user_add(struct roles_writer *w, struct roles_user *u);

/* Rewrite the user's NSS fields, enabled, activation and expiry (by u->id). */
int roles_user_update(struct roles_writer *w, const struct roles_user *u);

/* Delete the user, their memberships, assignments and personal group; secrets and state go after
 * publishing. */
int roles_user_delete(struct roles_writer *w, const struct roles_user *u);

/*
 * Every uid and gid a user, group or published metarole of roles has had is retired when it is
 * taken away (user del, group del, metarole unpublish or del): allocation never hands it out
 * again, and a request for one (--uid, --gid) is refused with -EEXIST unless allowed here (a
 * deliberate reuse: --force).
 */
void roles_writer_allow_retired_ids(struct roles_writer *w, bool allow);

/* Was this uid (gid when group) retired? 1 with its last owner's name and when (either may be
 * NULL), 0 no, -errno. */
int roles_retired_id(struct roles_writer *w, bool group, uint32_t id, char *ret_name, size_t name_size,
                     int64_t *ret_at);

/*
 * Every name and id roles holds or held: each user's name and uid, each group's name and gid,
 * each retired uid and gid (with its last owner's name), as the rows have them (not checked:
 * only for finding which of many names and ids need a look with the calls above, as an import
 * does). fn returns 0 to go on, or a negative value that stops and is returned.
 */
int roles_writer_each_taken(struct roles_writer *w, roles_taken_fn fn, void *userdata);

/* ---- groups ----------------------------------------------------------------------------- */

/* gid == ROLES_ID_INVALID allocates one. */
int roles_group_add(struct roles_writer *w, struct roles_group *g);
/* Refused (-EBUSY) while the group is some user's primary group. */
int roles_group_delete(struct roles_writer *w, const struct roles_group *g);
int roles_group_add_member(struct roles_writer *w, const struct roles_group *g, const struct roles_user *u);
int roles_group_remove_member(struct roles_writer *w, const struct roles_group *g, const struct roles_user *u);

/* ---- metaroles ----------------------------------------------------------------------------- */

int roles_metarole_add(struct roles_writer *w, struct roles_metarole *m);
/* Refused for built-in metaroles and while a role still has it (-EBUSY). */
int roles_metarole_delete(struct roles_writer *w, const struct roles_metarole *m);
/* parent includes child; an edge that would close a cycle is refused with -ELOOP. */
int roles_metarole_include(struct roles_writer *w, const struct roles_metarole *parent,
                           const struct roles_metarole *child);
int roles_metarole_exclude(struct roles_writer *w, const struct roles_metarole *parent,
                           const struct roles_metarole *child);
int roles_metarole_grant(struct roles_writer *w, const struct roles_metarole *m, const char *perm);
int roles_metarole_revoke(struct roles_writer *w, const struct roles_metarole *m, const char *perm);
/* Publish as a Unix group named after the code; gid == ROLES_ID_INVALID allocates one. */
int roles_metarole_publish(struct roles_writer *w, struct roles_metarole *m, uint32_t gid);
int roles_metarole_unpublish(struct roles_writer *w, struct roles_metarole *m);

/* ---- roles --------------------------------------------------------------------------------- */

/* r->metarole names the metarole. */
int roles_role_add(struct roles_writer *w, struct roles_role *r);
int roles_role_delete(struct roles_writer *w, const struct roles_role *r);
int roles_role_grant(struct roles_writer *w, const struct roles_role *r, const char *perm);
int roles_role_revoke(struct roles_writer *w, const struct roles_role *r, const char *perm);
int roles_role_set_disabled(struct roles_writer *w, const struct roles_role *r, const char *perm, bool disabled);
/* until == 0: no end. Re-assigning replaces the end. */
int roles_role_assign(struct roles_writer *w, const struct roles_role *r, const struct roles_user *u, int64_t until);
int roles_role_unassign(struct roles_writer *w, const struct roles_role *r, const struct roles_user *u);

/* ---- what the administrator changes in secrets.db and state.db ------------------------------- */

/* Say when the password was last changed (at > 0): an imported shadow line's "lastchg". */
int roles_secret_set_password_changed_at(struct roles_writer *w, const char *uuid, int64_t at);
/* Clear the password (the account cannot log in with one until it is set). */
int roles_secret_clear_password(struct roles_writer *w, const char *uuid);
int roles_secret_set_email(struct roles_writer *w, const char *uuid, const char *email);
/* base32 == NULL removes the secret (TOTP disabled). */
int roles_secret_set_totp(struct roles_writer *w, const char *uuid, const char *base32);
/* Replace the user's pending code of that kind. */
int roles_secret_put_code(struct roles_writer *w, const char *uuid, enum roles_code_kind kind,
                          const uint8_t hash[32], int64_t expires_at);
/* Replace the user's recovery codes (auth.h) with these n hashes: n 0 leaves none (TOTP
 * removed). */
int roles_secret_set_recovery_codes(struct roles_writer *w, const char *uuid,
                                    const uint8_t (*hashes)[ROLES_RECOVERY_HASH_LEN], size_t n);
/* Clear the lockout tally (done in state.db after publishing). */
int roles_state_unlock(struct roles_writer *w, const char *uuid);

/* ---- backup and doctor ------------------------------------------------------------------------ */

/*
 * Write a consistent copy of the three files as one tar archive (mode 0600) holding roles.db,
 * secrets.db and state.db, each a single file (roles.db's WAL folded in); restore with
 * roles_writer_restore. The writer's lock keeps roles.db and secrets.db still. host_role: the
 * fleet role this host ships its outbox as (roles_fleet_host_role), recorded in the archive as
 * a fourth member, fleet-host; NULL or "" for none (a single host's archive is as it always was).
 */
int roles_writer_backup(struct roles_writer *w, const char *path, const char *host_role);

struct roles_restore_result {
        char sha256[65];        /* of the archive, as sha256sum(1) prints it */
        int64_t users, groups;  /* rows of the restored roles.db */
        int64_t serial;         /* the restored roles.db's serial, above the live one's */
        bool with_state;        /* the archive held state.db (else an empty one was made) */
        char archive_host[ROLES_HOST_ROLE_MAX + 1];     /* its fleet-host member; "" without one */
        int64_t outbox_dropped; /* the archive's outbox rows not kept: another host's events */
        bool host_state_live;   /* not known to be this host's archive: the live login tracking
                                 * and login audit kept, not the archive's (another host's) */
};

/*
 * Put the three files of a backup archive in place of the live ones. The archive is read as
 * data: exactly the regular members roles.db, secrets.db and, optionally, state.db and
 * fleet-host, nothing else. Each is written to a new file beside its live one and checked
 * (integrity, a schema this build knows, no row every reader refuses) before anything is
 * replaced; then, under this writer's lock, the live journals go and the files are renamed into
 * place, roles.db last. The restored roles.db gets a serial above the live one's, so every
 * reader takes it for the newer state; the audit keeps the live log, with one "restore" row; the
 * NSS index is compiled at commit. -errno with one line of reason (and nothing changed) when the
 * archive is refused.
 *
 * host_role: this host's fleet role (roles_fleet_host_role), NULL when it is not a fleet host.
 * The archive's outbox (events its host had not shipped yet) is kept only when the archive is
 * this host's own: host_role is NULL, or names the role the archive's fleet-host member names.
 * Another host's events would be shipped again as this host's, and counted twice by the fleet;
 * an archive that names no host (older, or a single host's) is not known to be this host's.
 * Nor are its login tracking and login audit kept then (res->host_state_live). other_host: the
 * administrator's word that the archive is another machine's, whatever it names (a single host's
 * archive names none): treated as one not known to be this host's.
 */
int roles_writer_restore(struct roles_writer *w, const char *path, const char *host_role, bool other_host,
                         struct roles_restore_result *ret);

/*
 * Check and repair : integrity of the three files, file modes, secrets and
 * state rows whose uuid no user has (removed after the next publish), users without a secrets
 * row (given an empty one: they still cannot log in until a password is set), and staged
 * snapshots left by a crashed writer of before WAL. Each finding is passed to report as one line.
 * Returns the number of findings, or -errno.
 */
int roles_writer_doctor(struct roles_writer *w, roles_report_fn report, void *userdata);
