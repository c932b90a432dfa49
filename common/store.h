/* SPDX-License-Identifier: MIT */
/*
 * The store: the three SQLite files and every SQL statement roles runs.
 *
 *   roles.db    0644  public: users' NSS fields, groups, memberships, metaroles, roles,
 *                     permissions. In WAL mode: a writer changes it in place in one
 *                     transaction; readers read the last committed state meanwhile.
 *   secrets.db  0600  hashes, one-time codes, TOTP secrets, email, user_data, change audit.
 *   state.db    0600  what logins write: tallies, tracking, last TOTP step, login audit.
 *
 * A writer serializes on "<roles.db>.lock". Across files, order replaces transactions:
 * secrets rows are committed before the roles.db commit that refers to them, and rows of
 * deleted users are removed only after the roles.db commit without them.
 *
 * Convention: 0 (or a count) on success, -errno on failure with a one-line reason available
 * from roles_store_error(); ret_ parameters are untouched on failure. A store is used by one
 * thread at a time; callers that share one across threads serialize on their own lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "util.h"

struct roles_store;

enum {
        ROLES_STORE_SECRETS = 1u << 0,   /* also open secrets.db and state.db (root only) */
        ROLES_STORE_WRITE   = 1u << 1,   /* take the writer lock and open roles.db for a change */
        ROLES_STORE_CREATE  = 1u << 2,   /* with WRITE: create missing files (rolesctl init) */
        ROLES_STORE_LOGIN   = 1u << 3,   /* secrets.db and state.db writable, no writer lock (PAM) */
};

#define ROLES_SCHEMA_PUBLIC  3
#define ROLES_SCHEMA_SECRETS 2
#define ROLES_SCHEMA_STATE   1

/* On failure errbuf (may be NULL) receives the one-line reason. */
int roles_store_open(const struct roles_config *cfg, unsigned flags, struct roles_store **ret,
                     char *errbuf, size_t errlen);

/* Writer only: commit secrets, then roles.db (publishing the change), then purge what deleted
 * users left. */
int roles_store_commit(struct roles_store *s);

/* Writers: compile roles.nss whole at commit, even if nothing else changed (rolesctl index
 * rebuild; after a restore). */
int roles_store_rebuild_index(struct roles_store *s);

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
int roles_store_begin_bulk(struct roles_store *s, size_t n_uuids);

/* Closes; an uncommitted writer is rolled back. */
void roles_store_close(struct roles_store *s);

const char *roles_store_error(const struct roles_store *s);
const struct roles_config *roles_store_config(const struct roles_store *s);

/*
 * The host's own accounts (host_accounts.h) a writer hands out ids around: no uid or gid of the
 * host's files, nor one in a subordinate range of /etc/subuid or /etc/subgid, is allocated, and
 * doctor compares the configured ranges with them and with login.defs. A writer reads the real
 * files (HOST_PATHS_ALL) unless given h here: rolesctl gives the set it checks names with, a test
 * one of its own. h is read again when its files changed, and must outlive the store.
 */
struct host_accounts;
void roles_store_set_host_accounts(struct roles_store *s, struct host_accounts *h);

/* Who is acting, for the audit log ("root", "root (login alice)"). */
int roles_store_set_actor(struct roles_store *s, const char *actor);

/* The clock used for created_at, until checks and so on; tests may pin it. */
time_t roles_store_now(const struct roles_store *s);
void roles_store_set_now(struct roles_store *s, time_t now);

/* The serial number of the state read (bumped by every change that publishes). */
int roles_store_serial(struct roles_store *s, int64_t *ret);

/*
 * Readers (not ROLES_STORE_WRITE) read roles.db in read transactions: the first query of an
 * answer begins one, and every later query reads the same committed state, whatever a writer
 * commits meanwhile, until it is released. Release before anything that may take long (a
 * prompt): a held read transaction keeps the WAL from being checkpointed past it. The next
 * query then begins a new one, at the state committed last. Never held by a closed store.
 */
void roles_store_release(struct roles_store *s);

/* A reader opens roles.db's WAL index read-only, and SQLite shares one index per file within a
 * process: a writer opened while a reader store of the same process is open fails (-EROFS).
 * Close readers first (rolesctl does); a reader opened while a writer is open is fine. */

/* Readers: release, and begin a read transaction at the state committed last. 1 when its serial
 * differs from the one read before (a change was published since), 0 when not, -errno. */
int roles_store_refresh(struct roles_store *s);

/* Append to the change audit (secrets.db). Writers do this for every change. */
int roles_audit(struct roles_store *s, const char *action, const char *target, const char *detail_fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- users ------------------------------------------------------------------------------ */

struct roles_user {
        int64_t id;
        char uuid[ROLES_UUID_LEN + 1];
        char name[ROLES_NAME_MAX + 1];
        uint32_t uid;
        uint32_t gid;
        char gecos[ROLES_TEXT_MAX + 1];
        char home[ROLES_TEXT_MAX + 1];
        char shell[ROLES_TEXT_MAX + 1];
        bool enabled;
        int64_t created_at, updated_at;
        int64_t activated_at;           /* 0: never activated */
        int64_t expires_at;             /* 0: never expires */
};

int roles_user_by_name(struct roles_store *s, const char *name, struct roles_user *ret);
int roles_user_by_uid(struct roles_store *s, uint32_t uid, struct roles_user *ret);

/*
 * Add a user. uid == ROLES_ID_INVALID allocates one; gid == ROLES_ID_INVALID creates a
 * personal group of the same name (gid = uid when free). Empty home/shell take the
 * configured defaults. Also creates the user's secrets row (no password yet).
 * On success u->id, uuid, uid, gid and the timestamps are filled in.
 */
int roles_user_add(struct roles_store *s, struct roles_user *u);

/* Rewrite the user's NSS fields, enabled, activation and expiry (by u->id). */
int roles_user_update(struct roles_store *s, const struct roles_user *u);

/* Delete the user, their memberships, assignments and personal group; secrets and state go after publishing. */
int roles_user_delete(struct roles_store *s, const struct roles_user *u);

/*
 * Every uid and gid a user, group or published metarole of roles has had is retired when it is
 * taken away (user del, group del, metarole unpublish or del): allocation never hands it out
 * again, and a request for one (--uid, --gid) is refused with -EEXIST unless allowed here (a
 * deliberate reuse: --force). Writers only.
 */
void roles_store_allow_retired_ids(struct roles_store *s, bool allow);

/* Was this uid (gid when group) retired? 1 with its last owner's name and when (either may be
 * NULL), 0 no, -errno. Writers only. */
int roles_retired_id(struct roles_store *s, bool group, uint32_t id, char *ret_name, size_t name_size, int64_t *ret_at);

/*
 * Every name and id roles holds or held: each user's name and uid, each group's name and gid,
 * each retired uid and gid (with its last owner's name), as the rows have them (not checked:
 * only for finding which of many names and ids need a look with the calls above, as an import
 * does). fn returns 0 to go on, or a negative value that stops and is returned. Writers only.
 */
enum roles_taken { ROLES_TAKEN_USER, ROLES_TAKEN_GROUP, ROLES_TAKEN_RETIRED_UID, ROLES_TAKEN_RETIRED_GID };
typedef int (*roles_taken_fn)(void *userdata, enum roles_taken kind, const char *name, uint32_t id);
int roles_store_each_taken(struct roles_store *s, roles_taken_fn fn, void *userdata);

/* ---- groups ----------------------------------------------------------------------------- */

struct roles_group {
        int64_t id;
        char uuid[ROLES_UUID_LEN + 1];
        char name[ROLES_NAME_MAX + 1];
        uint32_t gid;
        char description[ROLES_TEXT_MAX + 1];
        int64_t created_at, updated_at;
};

int roles_group_by_name(struct roles_store *s, const char *name, struct roles_group *ret);
int roles_group_by_gid(struct roles_store *s, uint32_t gid, struct roles_group *ret);
/* gid == ROLES_ID_INVALID allocates one. */
int roles_group_add(struct roles_store *s, struct roles_group *g);
/* Refused (-EBUSY) while the group is some user's primary group. */
int roles_group_delete(struct roles_store *s, const struct roles_group *g);
int roles_group_add_member(struct roles_store *s, const struct roles_group *g, const struct roles_user *u);
int roles_group_remove_member(struct roles_store *s, const struct roles_group *g, const struct roles_user *u);

/* ---- metaroles ----------------------------------------------------------------------------- */

#define ROLES_METAROLE_SUPER_ADMIN "super-admin"
#define ROLES_METAROLE_ADMIN       "admin"
#define ROLES_METAROLE_USER        "user"

struct roles_metarole {
        int64_t id;
        char code[ROLES_NAME_MAX + 1];
        char name[ROLES_TEXT_MAX + 1];
        char description[ROLES_TEXT_MAX + 1];
        uint32_t gid;                   /* ROLES_ID_INVALID: not published as a group */
        bool builtin;
        int64_t created_at;
};

int roles_metarole_by_code(struct roles_store *s, const char *code, struct roles_metarole *ret);
int roles_metarole_add(struct roles_store *s, struct roles_metarole *m);
/* Refused for built-in metaroles and while a role still has it (-EBUSY). */
int roles_metarole_delete(struct roles_store *s, const struct roles_metarole *m);
/* parent includes child; an edge that would close a cycle is refused with -ELOOP. */
int roles_metarole_include(struct roles_store *s, const struct roles_metarole *parent, const struct roles_metarole *child);
int roles_metarole_exclude(struct roles_store *s, const struct roles_metarole *parent, const struct roles_metarole *child);
int roles_metarole_grant(struct roles_store *s, const struct roles_metarole *m, const char *perm);
int roles_metarole_revoke(struct roles_store *s, const struct roles_metarole *m, const char *perm);
/* Publish as a Unix group named after the code; gid == ROLES_ID_INVALID allocates one. */
int roles_metarole_publish(struct roles_store *s, struct roles_metarole *m, uint32_t gid);
int roles_metarole_unpublish(struct roles_store *s, struct roles_metarole *m);

/* ---- roles --------------------------------------------------------------------------------- */

struct roles_role {
        int64_t id;
        char name[ROLES_NAME_MAX + 1];
        char description[ROLES_TEXT_MAX + 1];
        int64_t metarole_id;
        char metarole[ROLES_NAME_MAX + 1];
        int64_t created_at;
};

int roles_role_by_name(struct roles_store *s, const char *name, struct roles_role *ret);
/* r->metarole names the metarole. */
int roles_role_add(struct roles_store *s, struct roles_role *r);
int roles_role_delete(struct roles_store *s, const struct roles_role *r);
int roles_role_grant(struct roles_store *s, const struct roles_role *r, const char *perm);
int roles_role_revoke(struct roles_store *s, const struct roles_role *r, const char *perm);
int roles_role_set_disabled(struct roles_store *s, const struct roles_role *r, const char *perm, bool disabled);
/* until == 0: no end. Re-assigning replaces the end. */
int roles_role_assign(struct roles_store *s, const struct roles_role *r, const struct roles_user *u, int64_t until);
int roles_role_unassign(struct roles_store *s, const struct roles_role *r, const struct roles_user *u);

/* ---- secrets.db and state.db ------------------------------------------------------------------ */

struct roles_secret {
        char password_hash[256];        /* empty: no password set */
        int64_t activated_at;           /* 0: not activated by a login */
        int64_t password_changed_at;
        bool must_change_password;
        char fs_uniquifier[ROLES_UUID_LEN + 1];
        int64_t last_auth_sensitive_operation_at;
        char email[ROLES_EMAIL_MAX + 1];
        char totp_secret[64];           /* base32; empty: not enrolled */
};

int roles_secret_get(struct roles_store *s, const char *uuid, struct roles_secret *ret);
/* Wipe a roles_secret that held a hash or TOTP secret. */
void roles_secret_wipe(struct roles_secret *sec);

/*
 * What password_hash may hold: an argon2id PHC string ("$argon2id$v=19$m=...", what roles
 * makes), or a legacy crypt(3) hash imported from a shadow file by `rolesctl import`, stored
 * as ROLES_HASH_LEGACY_CRYPT followed by the crypt string exactly as shadow had it
 * ("{crypt}$y$j9T$...": yescrypt, gost-yescrypt, scrypt, sha512crypt, sha256crypt, bcrypt,
 * md5crypt, or 13-character DES). The marker (RFC 2307's userPassword scheme) makes the kind
 * explicit rather than guessed from the crypt prefix, which DES hashes lack: PAM verifies a
 * {crypt} hash with crypt(3) and, on success, replaces it with argon2id; any other form is
 * refused.
 */
#define ROLES_HASH_LEGACY_CRYPT "{crypt}"

/* Store a new hash (above); bumps password_changed_at, last_auth_sensitive_operation_at and fs_uniquifier. */
int roles_secret_set_password(struct roles_store *s, const char *uuid, const char *encoded_hash, bool must_change);
/* Say when the password was last changed (at > 0): an imported shadow line's "lastchg". */
int roles_secret_set_password_changed_at(struct roles_store *s, const char *uuid, int64_t at);
/* Clear the password (the account cannot log in with one until it is set). */
int roles_secret_clear_password(struct roles_store *s, const char *uuid);
int roles_secret_set_email(struct roles_store *s, const char *uuid, const char *email);
/* base32 == NULL removes the secret (TOTP disabled). */
int roles_secret_set_totp(struct roles_store *s, const char *uuid, const char *base32);

enum roles_code_kind { ROLES_CODE_ACTIVATION, ROLES_CODE_RESET };

/* Replace the user's pending code of that kind. */
int roles_secret_put_code(struct roles_store *s, const char *uuid, enum roles_code_kind kind,
                          const uint8_t hash[32], int64_t expires_at);

struct roles_code_row {
        uint8_t hash[32];
        int64_t expires_at;
        int64_t used_at;                /* 0: unused */
};
int roles_secret_get_code(struct roles_store *s, const char *uuid, enum roles_code_kind kind, struct roles_code_row *ret);
/*
 * Mark the code with this hash used: -EALREADY if it already was (two racing logins: exactly
 * one wins), -ESTALE if it expired or another code replaced it since it was checked.
 */
int roles_secret_use_code(struct roles_store *s, const char *uuid, enum roles_code_kind kind,
                          const uint8_t hash[static 32]);

/* Clear the lockout tally (done in state.db after publishing). */
int roles_state_unlock(struct roles_store *s, const char *uuid);

/* ---- listings ------------------------------------------------------------------------------------ */

/*
 * Listings and "show" details come as rows of named text columns (NULL for no value), so the
 * CLI can print tables or JSON without knowing SQL. Times are ISO 8601 UTC.
 */
enum roles_listing {
        ROLES_LIST_USERS,               /* arg: NULL for all, or a user name */
        ROLES_LIST_USER_GROUPS,         /* arg: user name */
        ROLES_LIST_USER_ROLES,          /* arg: user name */
        ROLES_LIST_USER_SECRETS,        /* arg: user uuid (needs secrets.db) */
        ROLES_LIST_USER_STATE,          /* arg: user uuid (needs state.db) */
        ROLES_LIST_GROUPS,              /* arg: NULL or a group name */
        ROLES_LIST_GROUP_MEMBERS,       /* arg: group name */
        ROLES_LIST_METAROLES,           /* arg: NULL or a code */
        ROLES_LIST_METAROLE_INCLUDES,   /* arg: code */
        ROLES_LIST_METAROLE_PERMS,      /* arg: code */
        ROLES_LIST_METAROLE_ROLES,      /* arg: code */
        ROLES_LIST_ROLES,               /* arg: NULL or a role name */
        ROLES_LIST_ROLE_PERMS,          /* arg: role name */
        ROLES_LIST_ROLE_USERS,          /* arg: role name */
        ROLES_LIST_AUDIT,               /* arg: NULL (needs secrets.db) */
        _ROLES_LIST_MAX,
};

/* The most columns a listing has. */
#define ROLES_LISTING_COLUMNS_MAX 16

/* What a value is, so that JSON can print it as such (text prints each value as it is). */
enum roles_cell {
        ROLES_CELL_TEXT,
        ROLES_CELL_NUMBER,              /* printed bare */
        ROLES_CELL_BOOL,                /* "yes" or "no": true or false */
        ROLES_CELL_NOTE,                /* words for a person where a program reads null ("until
                                         * an administrator unlocks" where there is no time) */
};

typedef int (*roles_row_fn)(void *userdata, size_t n, const char *const *names, const char *const *values,
                            const enum roles_cell *kinds);

/* Returns the number of rows, or -errno (a callback's negative return stops and is returned). */
int roles_store_list(struct roles_store *s, enum roles_listing what, const char *arg, roles_row_fn fn, void *userdata);

/*
 * Write a consistent copy of the three files as one tar archive (mode 0600) holding roles.db,
 * secrets.db and state.db, each a single file (roles.db's WAL folded in); restore with tar -x
 * into the database directory. Needs a writer (the lock keeps roles.db and secrets.db still)
 * with ROLES_STORE_SECRETS.
 */
int roles_store_backup(struct roles_store *s, const char *path);

/* ---- what permission resolution reads (authz.c) ------------------------------------------------ */

struct roles_assignment_row {
        int64_t role_id;
        const char *role;
        int64_t until;                  /* 0: no end */
        int64_t metarole_id;
        const char *metarole;
};
struct roles_perm_row {
        int64_t owner_id;               /* role or metarole id */
        const char *perm;
        bool disabled;
};
struct roles_child_row {
        int64_t id;
        const char *code;
};

/* Callbacks return 0 to go on or -errno to stop (that value is returned). */
typedef int (*roles_assignment_fn)(void *userdata, const struct roles_assignment_row *row);
typedef int (*roles_perm_fn)(void *userdata, const struct roles_perm_row *row);
typedef int (*roles_child_fn)(void *userdata, const struct roles_child_row *row);

/* All the user's role assignments, ended or not: whether one counts is authz's decision. */
int roles_store_user_assignments(struct roles_store *s, int64_t user_id, roles_assignment_fn fn, void *userdata);
/* Permissions (enabled and disabled) on every role assigned to the user. */
int roles_store_user_role_perms(struct roles_store *s, int64_t user_id, roles_perm_fn fn, void *userdata);
/* Metaroles that metarole_id includes directly. */
int roles_store_metarole_children(struct roles_store *s, int64_t metarole_id, roles_child_fn fn, void *userdata);
/* Permissions carried by a metarole. */
int roles_store_metarole_perms(struct roles_store *s, int64_t metarole_id, roles_perm_fn fn, void *userdata);

/*
 * What roles_check reads. Candidates are the codes that would cover the permission asked
 * about (itself, its "prefix.*" forms, and "*" for super-admin) or, as a role's disabled line,
 * switch it off (the codes above it too), at most ROLES_CHECK_CANDIDATES per call.
 */
#define ROLES_CHECK_CANDIDATES 8

struct roles_check_row {
        int64_t role_id;
        int64_t until;                  /* 0: no end */
        int64_t metarole_id;
};
typedef int (*roles_check_fn)(void *userdata, const struct roles_check_row *row);
typedef int (*roles_id_fn)(void *userdata, int64_t id);

/* Each of the user's assignments (role, until, the role's metarole). */
int roles_store_check_assignments(struct roles_store *s, int64_t user_id, roles_check_fn fn, void *userdata);
/* The user's assignments whose role itself holds one of the candidates: enabled, or (disabled
 * true) as a disabled line. */
int roles_store_check_role_grants(struct roles_store *s, int64_t user_id, bool disabled, const char *const *candidates,
                                  size_t n, roles_check_fn fn, void *userdata);
/* Metaroles holding one of the candidates, themselves or through what they include. */
int roles_store_metarole_holders(struct roles_store *s, const char *const *candidates, size_t n,
                                 roles_id_fn fn, void *userdata);

/* ---- doctor -------------------------------------------------------------------------------------- */

/*
 * Check and repair (writer with secrets): integrity of the three files, file modes, secrets and
 * state rows whose uuid no user has (removed after the next publish), users without a secrets
 * row (given an empty one: they still cannot log in until a password is set), and staged
 * snapshots left by a crashed writer of before WAL. Each finding is passed to report as one line.
 * Returns the number of findings, or -errno.
 */
typedef void (*roles_report_fn)(void *userdata, const char *line);
int roles_store_doctor(struct roles_store *s, roles_report_fn report, void *userdata);

/* ---- what the NSS module's shadow half serves (store_nss.c) ---------------------------------------- */

typedef int (*roles_user_fn)(void *userdata, const struct roles_user *u);

/*
 * Users for shadow enumeration: up to limit servable users with uid > after, by uid; rows that
 * must not be served are skipped without shortening the page. Returns 1 when more may follow,
 * 0 at the end, or -errno.
 */
int roles_nss_users_after(struct roles_store *s, uint32_t after, size_t limit, roles_user_fn fn, void *userdata);

/* What a shadow entry says besides the NSS fields (needs secrets.db and state.db). */
struct roles_nss_shadow {
        int64_t password_changed_at;    /* 0: never */
        bool locked;                    /* lockout in force at now */
};
int roles_nss_shadow(struct roles_store *s, const struct roles_user *u, time_t now, struct roles_nss_shadow *ret);

/* Is the user able to hold anything at now (enabled, not expired)? The one definition. */
bool roles_user_active(const struct roles_user *u, time_t now);

/* ---- what logins write (state.db; store_state.c) -------------------------------------------------- */

/* Group several state.db writes into one transaction (one fsync): begin, then end with commit
 * true, or false to roll back. The transaction never outlives end: a commit that fails is rolled
 * back, and ending needs no memory (a lock left held would stop every other login's count). */
int roles_state_begin(struct roles_store *s);
/* The same, holding from the start the lock a commit needs (rollback-journal mode: EXCLUSIVE,
 * which waits for every reader; WAL: the writer's lock, as begin takes). What a login's gate
 * takes: a rehearsal that only took begin's lock would pass while a reader that never lets go
 * (a stopped process) keeps every real failure from committing. */
int roles_state_begin_exclusive(struct roles_store *s);
int roles_state_end(struct roles_store *s, bool commit);

/* Inside that transaction: fail now if a disk could not take its commit (-ENOSPC, or SQLite's
 * error). With a rollback journal, SQLite has journaled every page the transaction changed, and
 * the commit adds the header page (its change counter) and writes the pages added past the end
 * of the file: the header is journaled here and the filesystem must have room for the growth.
 * In WAL mode the pages wait in the cache until the commit: they are appended to the WAL here,
 * with the header, as frames no commit refers to (a rollback forgets them). */
int roles_state_flush(struct roles_store *s);

/* The lockout tally. locked_until: 0 not locked, -1 until an administrator unlocks. */
struct roles_tally {
        unsigned failures;
        int64_t locked_until;
};

/* Clear the count a successful login found (seen, read in a write transaction), only if it is
 * still that count and no lock is in force: failures that racing logins recorded since, and a
 * lock they set, stay. 1 cleared, 0 left as it was, -errno. */
int roles_state_tally_clear_seen(struct roles_store *s, const char *uuid, const struct roles_tally *seen, time_t now);

/* Whether the user is locked out at now. */
int roles_state_tally_get(struct roles_store *s, const char *uuid, time_t now, struct roles_tally *ret);

/*
 * Count a failed attempt, atomically (one write transaction): failures older than fail_interval
 * start the count afresh; reaching deny (> 0) locks for unlock_time seconds (0: until unlocked).
 * ret, when not NULL, gets the tally as it then stands.
 */
int roles_state_tally_fail(struct roles_store *s, const char *uuid, time_t now, unsigned deny, unsigned fail_interval,
                           unsigned unlock_time, struct roles_tally *ret);

/* A full success clears the count. */
int roles_state_tally_reset(struct roles_store *s, const char *uuid);

/* The last TOTP step accepted (-1: none), and claiming a newer one: -EALREADY when that step
 * (or a later one) was already used, even by a login racing this one. */
int roles_state_totp_last(struct roles_store *s, const char *uuid, int64_t *ret_step);
int roles_state_totp_claim(struct roles_store *s, const char *uuid, int64_t step);

/* Flask-Security trackable: last := current (or now the first time), current := (now, ip), count + 1. */
int roles_state_track_login(struct roles_store *s, const char *uuid, time_t now, const char *ip);

/* The most recent login before this one (current_login_*): -ENOENT when there was none. */
int roles_state_previous_login(struct roles_store *s, const char *uuid, int64_t *ret_at, char *ret_ip, size_t ip_size);

/* The audit log of logins: result is "success", "failure", "locked", ... */
int roles_state_audit_login(struct roles_store *s, const char *user, const char *service, const char *rhost,
                            const char *result, const char *detail);

/*
 * What PAM changes in secrets.db (it never writes roles.db): an account activated by its first
 * password (activated_at in secrets.db counts as well as the administrator's in roles.db), a
 * must-change flag after a one-time code, a rehash (only if the hash is still old_hash), and
 * pending codes dropped once a password is set.
 */
int roles_secret_set_activated(struct roles_store *s, const char *uuid);
int roles_secret_set_must_change(struct roles_store *s, const char *uuid, bool must_change);
int roles_secret_rehash(struct roles_store *s, const char *uuid, const char *old_hash, const char *new_hash);
int roles_secret_drop_codes(struct roles_store *s, const char *uuid);
