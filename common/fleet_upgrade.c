/* SPDX-License-Identifier: MIT */
/*
 * `rolesctl fleet upgrade`: an older fleet's own objects brought to this build's version
 * (fleet.h, ROLES_FLEET_VERSION; fleet_init.c, objects_sql, the same text init runs).
 *
 * One transaction under an ACCESS EXCLUSIVE lock on roles.fleet, taken first: every change and
 * every host's read of the serial waits the few milliseconds it lasts, and two upgrades at once
 * run one after the other (the second finds the fleet current). No lock is waited for longer
 * than LOCK_WAIT: a host's role may hold roles.fleet (or a view it reads) in a transaction left
 * open, and while the upgrade waited every read and change would queue behind it. Then the
 * transaction is rolled back, what queued goes on, and the upgrade is tried again, LOCK_TRIES in
 * all (a host's round reads in a transaction too, for as long as it takes to copy the fleet). Hosts of this build read an
 * older fleet's tables meanwhile and after (fleet_sync.c); the upgrade takes the next serial,
 * with a change log row of no changesets as a fact's, so that every host runs a round and finds
 * the facts and claims it can now read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet-internal.h"

/* The longest a try waits for any lock it needs, in seconds, and how many tries. */
#define LOCK_WAIT 1
#define LOCK_TRIES 5

/* The schema's tables, views and functions, each as PostgreSQL names it. */
#define OBJECTS_SQL \
        "SELECT c.oid::regclass::text FROM pg_catalog.pg_class c WHERE c.relnamespace = '" FLEET_SCHEMA "'::regnamespace" \
        "  AND c.relkind IN ('r', 'v') UNION ALL SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p" \
        "  WHERE p.pronamespace = '" FLEET_SCHEMA "'::regnamespace"

/* The fleet's version, roles.fleet locked (read as 1 without the column: fleet.h). */
static int lock_version(struct roles_fleet *f, int *ret) {
        PGresult *res = NULL;
        int r = fleet_exec(f, NULL, "SET LOCAL lock_timeout = '" ROLES_STRINGIFY(LOCK_WAIT) "s'", 0, NULL);
        if (r >= 0)
                r = fleet_exec(f, NULL, "LOCK TABLE " FLEET_SCHEMA ".fleet IN ACCESS EXCLUSIVE MODE", 0, NULL);
        /* 3F000 no schema, 42P01 no table: no fleet there */
        if (r < 0 && (strcmp(f->sqlstate, "3F000") == 0 || strcmp(f->sqlstate, "42P01") == 0))
                return fleet_fail(f, -ENOENT, "the account server has no roles schema: run 'rolesctl init' with its source");
        if (r >= 0)
                r = fleet_exec(f, &res, "SELECT coalesce((to_jsonb(f) ->> 'fleet_version')::integer, 1) FROM "
                               FLEET_SCHEMA ".fleet f WHERE f.id = 1", 0, NULL);
        if (r == 0)
                r = fleet_fail(f, -ENOENT, "the account server has no fleet serial: run 'rolesctl init' with its source");
        if (r > 0)
                *ret = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        return r < 0 ? r : 0;
}

/* What the upgrade created: the objects now there that were not in before (an array literal). */
static int created(struct roles_fleet *f, const char *before, char *buf, size_t size) {
        PGresult *res = NULL;
        const char *p[] = { before };
        int r = fleet_exec(f, &res, "SELECT coalesce(string_agg(n, ', ' ORDER BY n), '') FROM (" OBJECTS_SQL ") o(n) "
                           "WHERE n <> ALL ($1::text[])", 1, p);
        if (r > 0)
                snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        return r < 0 ? r : 0;
}

/* The next serial, as a fact takes one: a change log row without changesets, hosts woken. */
static int take_serial(struct roles_fleet *f, const char *actor, int64_t *ret) {
        PGresult *res = NULL;
        char version[16], serial[24];
        snprintf(version, sizeof(version), "%d", ROLES_FLEET_VERSION);
        const char *p[] = { version };
        int r = fleet_exec(f, &res, "UPDATE " FLEET_SCHEMA ".fleet SET serial = serial + 1, fleet_version = $1::integer "
                           "WHERE id = 1 RETURNING serial", 1, p);
        if (r > 0) {
                *ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                snprintf(serial, sizeof(serial), "%lld", (long long) *ret);
        }
        PQclear(res);
        const char *q[] = { serial, actor };
        if (r > 0)
                r = fleet_exec(f, NULL, "INSERT INTO " FLEET_SCHEMA ".changes (serial, actor) VALUES ($1::bigint, $2)", 2, q);
        if (r >= 0)
                r = fleet_exec(f, NULL, "DELETE FROM " FLEET_SCHEMA ".changes WHERE serial <= $1::bigint - "
                               ROLES_STRINGIFY(FLEET_LOG_KEEP), 1, q);
        if (r >= 0)
                r = fleet_exec(f, NULL, "SELECT pg_notify('roles_serial', $1)", 1, q);
        return r < 0 ? r : 0;
}

static int upgrade_once(struct roles_fleet *f, const char *actor, struct roles_fleet_upgrade_result *ret) {
        struct roles_fleet_upgrade_result res = { 0 };
        PGresult *before = NULL;
        char who[256];
        int r;

        f->err[0] = f->sqlstate[0] = '\0';
        if ((r = fleet_begin_write(f)) < 0 || (r = lock_version(f, &res.from)) < 0)
                goto out;
        res.to = res.from;
        if (res.from > ROLES_FLEET_VERSION) {
                r = fleet_fail(f, -EPROTO, "the fleet's schema is version %d, newer than this build's (%d): upgrade roles "
                               "on this host first", res.from, ROLES_FLEET_VERSION);
                goto out;
        }
        bool current = false;
        if (res.from == ROLES_FLEET_VERSION && ((r = fleet_objects_current(f, &current)) < 0 || current))
                goto out;
        snprintf(who, sizeof(who), "fleet upgrade from version %d to %d (%s)", res.from, ROLES_FLEET_VERSION, actor);
        if ((r = fleet_exec(f, &before, "SELECT coalesce(array_agg(n), '{}')::text FROM (" OBJECTS_SQL ") o(n)", 0, NULL)) < 0 ||
            (r = fleet_objects(f)) < 0 ||
            (r = created(f, PQgetvalue(before, 0, 0), res.created, sizeof(res.created))) < 0 ||
            (res.from < ROLES_FLEET_VERSION && (r = take_serial(f, who, &res.serial)) < 0) ||
            (r = fleet_exec(f, NULL, "COMMIT", 0, NULL)) < 0)
                goto out;
        res.remade = res.from == ROLES_FLEET_VERSION;
        res.to = ROLES_FLEET_VERSION;
out:
        /* 55P03 lock_not_available: lock_timeout, the fleet's tables held by another session */
        if (r < 0 && strcmp(f->sqlstate, "55P03") == 0)
                r = fleet_fail(f, -EBUSY, "the fleet's tables are in use by another session (%d tries of %d s): "
                               "nothing changed; try again", LOCK_TRIES, LOCK_WAIT);
        if (PQtransactionStatus(f->conn) != PQTRANS_IDLE)
                PQclear(PQexec(f->conn, "ROLLBACK"));
        PQclear(before);
        if (r >= 0)
                *ret = res;
        return r < 0 ? r : 0;
}

int roles_fleet_upgrade(struct roles_fleet *f, const char *actor, struct roles_fleet_upgrade_result *ret) {
        for (int attempt = 1;; attempt++) {
                int r = upgrade_once(f, actor, ret);
                if (r != -EBUSY || attempt == LOCK_TRIES)
                        return r;
                nanosleep(&(struct timespec) { 0, 200 * 1000 * 1000 }, NULL);
        }
}
