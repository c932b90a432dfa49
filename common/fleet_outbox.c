/* SPDX-License-Identifier: MIT */
/*
 * roles-agent's shipping of the host's outbox (FLEET.md, "Write path"; the rows are PAM's,
 * store_state.c). A batch is the oldest rows, read in one state.db read, turned into one JSON
 * array by SQLite itself (no quoting of ours), and given to roles.ingest(), which keys them by
 * (the host's login role, the row's id) and ignores those it has: only then are the rows deleted
 * here, by id range (ids only grow, and a row written after the read has a greater id than any
 * read). Killed between ingest's commit and the delete, the agent sends the same rows again at
 * its next round and nothing is counted twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"

/* Rows per ingest call: a batch of a few hundred kB, one statement on the server. */
#define OUTBOX_BATCH 1000

static const char batch_sql[] =
        "SELECT count(*), coalesce(max(id), 0), json_group_array(json_object('id', id, 'at', at, 'kind', kind, "
        "'user_uuid', user_uuid, 'service', service, 'rhost', rhost, 'step', step, 'detail', detail)) "
        "FROM (SELECT * FROM outbox ORDER BY id LIMIT " ROLES_STRINGIFY(OUTBOX_BATCH) ")";

/* Open state.db as a writer opens it: migrated to the version that has the outbox. */
static int open_state(struct roles_fleet *f, struct roles_store *s) {
        int r = store_open_writable(s, s->cfg.state_db, &s->state);
        if (r >= 0)
                r = store_exec_script(s, s->state, "BEGIN IMMEDIATE");
        if (r >= 0)
                r = store_schema_check(s, s->state, STORE_STATE, true, &s->state_version);
        if (r >= 0)
                r = store_exec_script(s, s->state, "COMMIT");
        return r < 0 ? fleet_fail(f, r, "%s", store_error(s)) : 0;
}

static int state_count(struct roles_fleet *f, struct roles_store *s, size_t *ret) {
        sqlite3_stmt *st = store_stmt(s, s->state, "SELECT count(*) FROM outbox");
        int r = st ? store_step_row(s, st) : -EIO;
        if (r > 0)
                *ret = (size_t) sqlite3_column_int64(st, 0);
        if (st)
                sqlite3_reset(st);
        return r < 0 ? fleet_fail(f, r, "%s", store_error(s)) : 0;
}

/* One batch: *ret_sent rows sent (0: the outbox is empty), *ret_new of them new to the server. */
static int ship_batch(struct roles_fleet *f, struct roles_store *s, size_t *ret_sent, size_t *ret_new) {
        sqlite3_stmt *st = store_stmt(s, s->state, batch_sql);
        PGresult *res = NULL;
        char *json = NULL;
        int64_t last = 0;
        int r = st ? store_step_row(s, st) : -EIO;
        if (r > 0) {
                *ret_sent = (size_t) sqlite3_column_int64(st, 0);
                last = sqlite3_column_int64(st, 1);
                const char *text = (const char *) sqlite3_column_text(st, 2);
                json = text ? strdup(text) : NULL;
                if (!json)
                        r = store_fail(s, -ENOMEM, "out of memory");
        }
        if (st)
                sqlite3_reset(st);
        if (r <= 0) {
                free(json);
                return r < 0 ? fleet_fail(f, r, "%s", store_error(s)) : fleet_fail(f, -EIO, "state.db: no answer");
        }
        if (*ret_sent == 0) {
                free(json);
                return 0;
        }
        const char *params[] = { json };
        r = fleet_exec(f, &res, "SELECT " FLEET_SCHEMA ".ingest($1::jsonb)", 1, params);
        free(json);
        if (r < 0)
                return fleet_older(f, r, FLEET_SCHEMA ".ingest() (this host's outbox stays queued)");
        *ret_new = (size_t) strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        /* Acknowledged: the rows read, and no other, go (ids only grow). */
        r = store_exec(s, s->state, "DELETE FROM outbox WHERE id <= ?1", "i", last);
        return r < 0 ? fleet_fail(f, r, "%s", store_error(s)) : 0;
}

int roles_fleet_ship(struct roles_fleet *f, const struct roles_config *cfg, struct roles_fleet_ship_result *ret) {
        char err[512];
        struct roles_store *s = store_new(cfg, err, sizeof(err));
        int r;
        *ret = (struct roles_fleet_ship_result) { 0 };
        if (!s)
                return fleet_fail(f, -ENOMEM, "%s", err);
        if ((r = open_state(f, s)) < 0)
                goto out;
        for (;;) {
                size_t sent = 0, fresh = 0;
                if ((r = ship_batch(f, s, &sent, &fresh)) < 0 || sent == 0)
                        break;
                ret->sent += sent;
                ret->fresh += fresh;
                if (sent < OUTBOX_BATCH)
                        break;
        }
        /* The depth: what is left, shipped or not (a failure leaves the whole queue). */
        if (state_count(f, s, &ret->depth) < 0 && r >= 0)
                r = -EIO;
out:
        store_free(s);
        return r < 0 ? r : 0;
}
