/* SPDX-License-Identifier: MIT */
/*
 * The fleet as a whole, read in PostgreSQL: what each host reports of itself (roles.hosts, from
 * roles-agent's round) and what every host's logins wrote (roles.events, from the outboxes).
 * Rows go to the same callback as a snapshot's listings (roles_row_fn), so that rolesctl prints
 * them as every other table and --json as every other array.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"

/* A time as the store's listings show one: ISO 8601 in UTC, to the second. */
#define PG_T(expr) "to_char(" expr " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define PG_EPOCH_T(col) PG_T("to_timestamp(" col ")")

/* $1 the user name (NULL: all), $2 failures only, $3 from this time on (epoch seconds). The
 * logins are the failures and successes; a TOTP step and a rehash go with a success and are
 * the fleet's business, not a login of their own. A user deleted since has no name: null; so
 * are what ingest stored as '' for none (no rhost), as in the host's own audit. */
static const struct {
        const char *sql;
        const char *table;      /* what an older schema lacks */
} listings[] = {
        [ROLES_FLEET_HOSTS] = { "SELECT h.host, h.installed AS serial, f.serial - h.installed AS lag, h.outbox_depth, "
                                PG_T("h.last_contact") " AS last_contact "
                                "FROM " FLEET_SCHEMA ".hosts h CROSS JOIN " FLEET_SCHEMA ".fleet f "
                                "WHERE f.id = 1 ORDER BY h.host", FLEET_SCHEMA ".hosts" },
        [ROLES_FLEET_LOGINS] = { "SELECT e.host, e.event_id AS id, " PG_EPOCH_T("e.at") " AS at, u.name AS user, "
                                 "nullif(e.service, '') AS service, nullif(e.rhost, '') AS rhost, e.kind AS result, "
                                 "nullif(e.detail, '') AS detail "
                                 "FROM " FLEET_SCHEMA ".events e LEFT JOIN " FLEET_SCHEMA ".users u ON u.uuid = e.user_uuid "
                                 "WHERE e.kind IN ('failure', 'success') AND ($1::text IS NULL OR u.name = $1) "
                                 "AND (NOT $2::boolean OR e.kind = 'failure') AND e.at >= $3::bigint "
                                 "ORDER BY e.at DESC, e.received_at DESC, e.host, e.event_id DESC",
                                 FLEET_SCHEMA ".events" },
};

/* PostgreSQL's integer types (pg_type's oids, stable): printed bare in JSON. */
static bool is_number(Oid type) {
        return type == 20 || type == 21 || type == 23;
}

int roles_fleet_list(struct roles_fleet *f, enum roles_fleet_listing what, const struct roles_list_filter *filter,
                     roles_row_fn fn, void *userdata) {
        char since[24];
        PGresult *res = NULL;
        snprintf(since, sizeof(since), "%lld", (long long) filter->since);
        const char *params[] = { filter->arg, filter->only_failures ? "true" : "false", since };
        bool filtered = what == ROLES_FLEET_LOGINS;
        int r = fleet_exec(f, &res, listings[what].sql, filtered ? 3 : 0, filtered ? params : NULL);
        if (r < 0)
                return fleet_older(f, r, listings[what].table);
        int n = PQnfields(res);
        if (n > ROLES_LISTING_COLUMNS_MAX) {
                PQclear(res);
                return fleet_fail(f, -E2BIG, "%d columns", n);
        }
        const char *names[ROLES_LISTING_COLUMNS_MAX], *values[ROLES_LISTING_COLUMNS_MAX];
        enum roles_cell kinds[ROLES_LISTING_COLUMNS_MAX];
        for (int i = 0; i < n; i++) {
                names[i] = PQfname(res, i);
                kinds[i] = is_number(PQftype(res, i)) ? ROLES_CELL_NUMBER : ROLES_CELL_TEXT;
        }
        r = 0;
        for (int row = 0; r >= 0 && row < PQntuples(res); row++) {
                for (int i = 0; i < n; i++)
                        values[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
                r = fn(userdata, (size_t) n, names, values, kinds);
        }
        PQclear(res);
        return r < 0 ? fleet_fail(f, r, "%s", strerror(-r)) : 0;
}

int roles_fleet_report(struct roles_fleet *f, int64_t installed, int64_t outbox_depth) {
        char v[2][24];
        snprintf(v[0], sizeof(v[0]), "%lld", (long long) installed);
        snprintf(v[1], sizeof(v[1]), "%lld", (long long) outbox_depth);
        const char *params[] = { v[0], v[1] };
        int r = fleet_exec(f, NULL, "SELECT " FLEET_SCHEMA ".report($1::bigint, $2::bigint)", 2, params);
        r = fleet_older(f, r, FLEET_SCHEMA ".report() (this host's status is not recorded)");
        return r < 0 ? r : 0;
}
