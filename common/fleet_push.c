/* SPDX-License-Identifier: MIT */
/*
 * rolesctl with a source: the change the writer made on the local copy, pushed to PostgreSQL.
 *
 * Sessions (SQLite's session extension) record every row the change inserts, updates or
 * deletes in the tables the fleet keeps, cascades included, one changeset per stream. At commit,
 * before anything is committed here, one SERIALIZABLE transaction on the server:
 *   1. takes the next serial only if the fleet is still at the copy's serial: every change
 *      updates that one row, so two changes made at once conflict, whatever rows they touch
 *      (the two halves of a metarole cycle included), and the second is run again on a fresh
 *      copy, where the writer's own check refuses it;
 *   2. applies the changesets to the server's tables, each row found where the copy had it;
 *   3. records them in the change log under the new serial, for hosts to apply.
 * Only then does the local copy commit, with the new serial recorded. If it cannot, the next
 * command brings the copy up from the log like any other change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"

struct push {
        struct roles_fleet *f;
        sqlite3_session *session[FLEET_N_STREAMS];
        int64_t base;           /* the fleet serial the copy was at */
        int64_t pushed;         /* the serial the change took, once pushed */
};

static void push_free(struct roles_store *s) {
        struct push *p = s->push_state;
        if (!p)
                return;
        for (int i = 0; i < FLEET_N_STREAMS; i++)
                if (p->session[i])
                        sqlite3session_delete(p->session[i]);
        free(p);
        s->push_state = NULL;
}

struct changesets {
        void *cs[FLEET_N_STREAMS];
        int n[FLEET_N_STREAMS];
};

static int send(struct roles_store *s, struct push *p, const struct changesets *c, int64_t *ret_serial) {
        struct roles_fleet *f = p->f;
        PGresult *res = NULL;
        char base[24], serial[24], versions[2][16];
        int r;

        snprintf(base, sizeof(base), "%lld", (long long) p->base);
        const char *bp[] = { base };
        if ((r = fleet_begin_write(f)) < 0)
                return r;
        r = fleet_exec(f, &res, "UPDATE " FLEET_SCHEMA ".fleet SET serial = serial + 1 WHERE id = 1 AND serial = $1 "
                       "RETURNING serial, public_version, secrets_version", 1, bp);
        if (r == 0)
                r = fleet_fail(f, -EAGAIN, "another change took the fleet's next serial first");
        if (r < 0)
                goto out;
        snprintf(serial, sizeof(serial), "%s", PQgetvalue(res, 0, 0));
        snprintf(versions[0], sizeof(versions[0]), "%d", ROLES_SCHEMA_PUBLIC);
        snprintf(versions[1], sizeof(versions[1]), "%d", ROLES_SCHEMA_SECRETS);
        if (strcmp(PQgetvalue(res, 0, 1), versions[0]) != 0 || strcmp(PQgetvalue(res, 0, 2), versions[1]) != 0) {
                r = fleet_fail(f, -EPROTO, "the account server's schema (roles.db %s, secrets.db %s) is not this "
                               "build's (%s, %s)", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), versions[0], versions[1]);
                goto out;
        }
        for (int i = 0; i < FLEET_N_STREAMS && r >= 0; i++)
                r = fleet_pg_apply_changeset(f, s, i == FLEET_PUBLIC ? s->pub : s->sec, c->cs[i], c->n[i]);
        if (r < 0 || (r = fleet_sequences_out(f, s)) < 0)
                goto out;
        const char *values[] = { serial, s->actor, c->cs[0], c->cs[1], c->cs[2] };
        int lengths[] = { 0, 0, c->n[0], c->n[1], c->n[2] }, formats[] = { 0, 0, 1, 1, 1 };
        for (int i = 0; i < FLEET_N_STREAMS; i++)
                if (c->n[i] == 0)
                        values[2 + i] = NULL;
        PQclear(res);
        res = PQexecParams(f->conn, "INSERT INTO " FLEET_SCHEMA ".changes (serial, actor, public_cs, secrets_cs, audit_cs) "
                           "VALUES ($1, $2, $3, $4, $5)", 5, NULL, values, lengths, formats, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                r = fleet_pg_fail(f, res, "the account server");
                res = NULL;
                goto out;
        }
        /* The log keeps the last FLEET_LOG_KEEP changes: a host further behind copies the tables
         * (the gap shows: fleet_sync.c checks every serial). */
        const char *np[] = { serial };
        if ((r = fleet_exec(f, NULL, "DELETE FROM " FLEET_SCHEMA ".changes WHERE serial <= $1::bigint - "
                            ROLES_STRINGIFY(FLEET_LOG_KEEP), 1, np)) < 0)
                goto out;
        /* Agents connected to the primary may LISTEN rather than wait for their next poll. */
        if ((r = fleet_exec(f, NULL, "SELECT pg_notify('roles_serial', $1)", 1, np)) < 0 ||
            (r = fleet_exec(f, NULL, "COMMIT", 0, NULL)) < 0)
                goto out;
        *ret_serial = strtoll(serial, NULL, 10);
        r = 0;
out:
        PQclear(res);
        if (r < 0 && PQtransactionStatus(f->conn) != PQTRANS_IDLE)
                PQclear(PQexec(f->conn, "ROLLBACK"));
        return r;
}

static int push(struct roles_store *s, int64_t *ret_serial) {
        struct push *p = s->push_state;
        struct changesets c = { 0 };
        bool any = false;
        int r = 0;

        for (int i = 0; i < FLEET_N_STREAMS && r >= 0; i++) {
                int rc = sqlite3session_changeset(p->session[i], &c.n[i], &c.cs[i]);
                if (rc != SQLITE_OK)
                        r = store_fail(s, -ENOMEM, "recording the change: %s", sqlite3_errstr(rc));
                any |= c.n[i] > 0;
        }
        if (r >= 0 && any && (r = send(s, p, &c, ret_serial)) < 0)
                r = store_fail(s, r, "%s", roles_fleet_error(p->f));
        else if (r >= 0 && any)
                p->pushed = *ret_serial;
        for (int i = 0; i < FLEET_N_STREAMS; i++)
                sqlite3_free(c.cs[i]);
        return r;
}

static const struct store_push_ops push_ops = { .push = push, .free = push_free };

int roles_writer_push_to(struct roles_writer *w, struct roles_fleet *f) {
        struct roles_store *s = store_of_writer(w);
        struct push *p = calloc(1, sizeof(*p));
        int r;
        if (!p)
                return store_fail(s, -ENOMEM, "out of memory");
        p->f = f;
        s->push_ops = &push_ops;
        s->push_state = p;
        if ((r = store_fleet_serial(s, &p->base)) < 0)
                return r;
        for (int i = 0; i < FLEET_N_STREAMS; i++) {
                sqlite3 *db = i == FLEET_PUBLIC ? s->pub : s->sec;
                if (sqlite3session_create(db, "main", &p->session[i]) != SQLITE_OK)
                        return store_fail(s, -ENOMEM, "out of memory");
                for (size_t k = 0; k < fleet_n_tables; k++)
                        if (fleet_tables[k].stream == (enum fleet_stream) i &&
                            sqlite3session_attach(p->session[i], fleet_tables[k].name) != SQLITE_OK)
                                return store_fail(s, -ENOMEM, "recording the change: %s", fleet_tables[k].name);
        }
        return 0;
}

int64_t roles_writer_pushed(struct roles_writer *w) {
        struct roles_store *s = store_of_writer(w);
        const struct push *p = s->push_ops == &push_ops ? s->push_state : NULL;
        return p ? p->pushed : 0;
}

int roles_fleet_publish_unlock(struct roles_fleet *f, const char *name, const char *actor, int64_t *ret_serial) {
        PGresult *res = NULL;
        const char *p[] = { name, actor };
        f->err[0] = '\0';
        /* One statement: the user found and the fact published (fleet_init.c) at one serial. */
        int r = fleet_exec(f, &res, "SELECT " FLEET_SCHEMA ".publish_unlock(uuid, $2) FROM " FLEET_SCHEMA ".users WHERE name = $1",
                           2, p);
        r = fleet_older(f, r, FLEET_SCHEMA ".publish_unlock()");
        if (r == 0)
                r = fleet_fail(f, -ENOENT, "no such user '%s'", name);
        else if (r > 0)
                *ret_serial = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        return r < 0 ? r : 0;
}
