/* SPDX-License-Identifier: MIT */
/*
 * The fleet (FLEET.md): PostgreSQL holds the truth, every host keeps its files at the fleet's
 * latest serial. One model for both directions, so that nothing is written twice:
 *
 *  - A change is what the writer did to roles.db and secrets.db in its transaction, as SQLite's
 *    session extension records it (a changeset: rows inserted, deleted, updated, by primary
 *    key). rolesctl with `source` runs every command on a local copy of the fleet's files
 *    (fleet_cache) through the same writer, with the same validation, and at commit pushes the
 *    change to PostgreSQL (fleet_push.c) in one SERIALIZABLE transaction that takes the next
 *    fleet serial only if it is still the one the copy was at: every change conflicts with
 *    every other one made at the same time, and the loser is run again on a fresh copy. Write
 *    skew (two halves of a metarole cycle) cannot pass.
 *  - PostgreSQL keeps the replicated tables row for row (the truth, for a full copy) and each
 *    change's changesets under its serial (the change log, for a delta).
 *  - A host (roles-agent) applies the changesets since its serial to its files with the writer,
 *    or copies the tables whole when it has nothing or is too far behind, checks the result
 *    and publishes it as any change (fleet_sync.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "records.h"

struct roles_fleet;
struct roles_writer;

/*
 * The version of the fleet's own objects in PostgreSQL (fleet_init.c: its functions, views,
 * fleet-only tables and grants), in roles.fleet's fleet_version; apart from the versions of the
 * files' schemas (public_version, secrets_version), which the tables follow.
 *   1  made before the write path: no events, ingest, lockout, hosts, facts or claims, and no
 *      fleet_version column (read as 1)
 *   2  the write path (issue 16)
 * A build reads an older fleet's tables (the read path) and says to run `rolesctl fleet upgrade`;
 * a newer fleet it refuses: the hosts are upgraded first.
 */
#define ROLES_FLEET_VERSION 2

/*
 * The name the fleet knows this host by: the PostgreSQL role its source connects as, which
 * ingest keys the host's events by (FLEET.md, "Write path"). The `user` the source names (in
 * either of libpq's forms), read without connecting; "" when it names none (libpq's default is
 * then PGUSER, a service file's or the login name, nothing rolesctl can know for roles-agent),
 * names one roles_host_role_valid refuses, or is not a connection string libpq parses. 0, or
 * -EINVAL when source is empty: not a fleet host.
 */
int roles_fleet_host_role(const char *source, char ret[static ROLES_HOST_ROLE_MAX + 1]);

/*
 * Connect to cfg->source: TLS verify-full against cfg->fleet_ca (required unless the source is
 * a Unix socket), whatever the connection string or the environment ask for; a connection
 * string holding a password is refused (a passfile or a client certificate instead: roles.conf
 * is world-readable). On failure errbuf holds one line.
 */
int roles_fleet_connect(const struct roles_config *cfg, struct roles_fleet **ret, char *errbuf, size_t errlen);
void roles_fleet_close(struct roles_fleet *f);
const char *roles_fleet_error(const struct roles_fleet *f);
/* The libpq connection (roles-agent's LISTEN and its wait on the socket). */
struct pg_conn *roles_fleet_conn(struct roles_fleet *f);

/* Create the schema, the host roles and serial 1 holding a fresh store's rows (rolesctl init
 * with a source). -EEXIST when it is there already. */
int roles_fleet_init(struct roles_fleet *f);

/* Whether the role connected is a superuser (as the server reported it on connecting). The
 * functions hosts call are SECURITY DEFINER and run as the schema's owner, the role that made
 * them: a superuser there is a superuser behind every host's call. */
bool roles_fleet_as_superuser(const struct roles_fleet *f);

struct roles_fleet_upgrade_result {
        int from, to;           /* the fleet's version before and after (equal: nothing to do, unless remade) */
        bool remade;            /* at this version already, its objects made again from this build's text */
        int64_t serial;         /* the serial the upgrade took (0: none) */
        char created[1024];     /* the tables, views and functions it created, ", " between them */
};

/*
 * `rolesctl fleet upgrade`: bring the fleet's own objects to ROLES_FLEET_VERSION in one
 * transaction, under a lock that holds off every change and every host's read meanwhile, taking
 * the next serial (so that every host runs a round). Already at it: nothing done, 0; but objects
 * made from another build's text of them (a function's body fixed since, at the same version) are
 * made again, without a serial (hosts read nothing new), and remade says so. -EPROTO: the
 * fleet is newer than this build (upgrade this host first); -ENOENT: no fleet there.
 */
int roles_fleet_upgrade(struct roles_fleet *f, const char *actor, struct roles_fleet_upgrade_result *ret);

/* The fleet's serial (one indexed row). */
int roles_fleet_serial(struct roles_fleet *f, int64_t *ret);

struct roles_fleet_sync_result {
        int64_t from, to;       /* the serial installed before and after */
        bool full;              /* a full copy rather than a delta */
        size_t changes;         /* changes applied (a delta) */
        unsigned findings;      /* rows readers ignore (logged, installed: readers skip them) */
        char finding[256];      /* the first of them */
        char refused[256];      /* set, with -ESTALE or -EPROTO returned: why nothing was installed */
        size_t locks, steps;    /* the fleet's facts installed in state.db: locks and unlocks, TOTP steps */
        char warning[256];      /* set: the serial is installed, but this went wrong after (logged) */
        int fleet_version;      /* the fleet's (ROLES_FLEET_VERSION); older: its tables only, no facts or claims */
};

enum {
        ROLES_FLEET_SYNC_FULL = 1u << 0,        /* copy everything, even with a delta at hand */
        ROLES_FLEET_SYNC_ADMIN = 1u << 1,       /* rolesctl's copy: every stream, the audit too */
};

/*
 * Bring the files cfg names to the fleet's latest serial, through the writer (the lock, one
 * transaction, the same publish as any change). -ESTALE: the fleet is behind the files (a
 * restored primary, a lagging standby): refused, nothing changed. -EPROTO: a newer schema than
 * this build's (files or fleet version), or a change that does not apply: refused, nothing
 * changed. ret->to == ret->from: nothing new. An older fleet version: its tables installed, not
 * the facts or claims it has no tables for (ret->fleet_version says so).
 */
int roles_fleet_sync(struct roles_fleet *f, const struct roles_config *cfg, unsigned flags,
                     struct roles_fleet_sync_result *ret);

struct roles_fleet_ship_result {
        size_t sent;            /* outbox rows sent and acknowledged (then deleted here) */
        size_t fresh;           /* of them, new to the server (the rest it had: sent again) */
        size_t depth;           /* rows left in the outbox */
};

/*
 * Ship the outbox of the state.db cfg names (migrating it first if it is older) to the
 * server's ingest function, batch by batch, deleting each batch once acknowledged (fleet_outbox.c).
 * -ENOSYS: the server's schema has no ingest (an older fleet version); nothing shipped, nothing lost.
 */
int roles_fleet_ship(struct roles_fleet *f, const struct roles_config *cfg, struct roles_fleet_ship_result *ret);

/* The fleet serial the files cfg names are at (0: none yet). */
int roles_fleet_installed(const struct roles_config *cfg, int64_t *ret, char *errbuf, size_t errlen);

/*
 * Record what w changes and push it at commit (rolesctl with a source): roles_writer_commit
 * then fails with -EAGAIN, changing nothing anywhere, when another change took the fleet's next
 * serial first (run the command again on a fresh copy), and with the server's reason when the
 * push fails otherwise. f must outlive the commit.
 */
int roles_writer_push_to(struct roles_writer *w, struct roles_fleet *f);

/* The fleet serial w's change took when it was pushed (0: not pushed). Its local commit may still
 * fail after that: the change is in the fleet, and the copy catches up at its next sync. */
int64_t roles_writer_pushed(struct roles_writer *w);

/* `rolesctl user unlock` with a source: the fleet's lock on the user named cleared, a fact every
 * host installs at its next round (its tally cleared), at the serial returned. -ENOENT: the fleet
 * has no such user. */
int roles_fleet_publish_unlock(struct roles_fleet *f, const char *name, const char *actor, int64_t *ret_serial);

/* roles-agent, once a round (also when nothing changed): this host's installed serial and outbox
 * depth, with the time, in roles.hosts (fleet_status.c). -ENOSYS: the server's schema has no
 * report function (an older fleet version); nothing recorded. */
int roles_fleet_report(struct roles_fleet *f, int64_t installed, int64_t outbox_depth);

/* What rolesctl reads of the whole fleet in PostgreSQL, as listings (fleet_status.c). */
enum roles_fleet_listing {
        ROLES_FLEET_HOSTS,      /* every host that reported: its serial, lag, outbox depth, last contact */
        ROLES_FLEET_LOGINS,     /* roles.events, newest first; filter as ROLES_LIST_LOGINS's */
};

/* The rows of a listing, each given to fn as roles_snapshot_list gives them. -ENOSYS: the
 * server's schema lacks what the listing reads (an older fleet version); the reason is recorded. */
int roles_fleet_list(struct roles_fleet *f, enum roles_fleet_listing what, const struct roles_list_filter *filter,
                     roles_row_fn fn, void *userdata);

/*
 * A password change decided on the primary (roles-agent, for a login's, agent-protocol.h):
 * new_hash replaces old_hash ("" for none) only if the account's hash is still old_hash, with the
 * next serial (*ret_serial). 1 won, 0 lost (changed meanwhile, or no such account), -errno with
 * the reason recorded (the connection's state says whether the server was lost).
 */
int roles_fleet_change_password(struct roles_fleet *f, const char *uuid, const char *old_hash, const char *new_hash,
                                const char *fs_uniquifier, bool activate, int64_t *ret_serial);

/* A one-time code spent on the primary (kind "activation", "reset" or "recovery"; hash_hex, the
 * code's hash in hex): 1 won, 0 lost (spent already, expired, replaced), -errno as above. */
int roles_fleet_claim_code(struct roles_fleet *f, const char *uuid, const char *kind, const char *hash_hex,
                           int64_t *ret_serial);
