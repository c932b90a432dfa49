/* SPDX-License-Identifier: MIT */
/* What roles-agent decides on the primary for a host's logins (fleet_init.c, CLAIMS_SQL). */
#include <errno.h>
#include <stdlib.h>

#include "agent-protocol.h"
#include "fleet-internal.h"

/* The serial a claim function returned: 1 won, 0 lost, -errno. */
static int claim(struct roles_fleet *f, const char *sql, int n, const char *const *p, int64_t *ret_serial) {
        PGresult *res = NULL;
        int64_t serial = 0;
        f->err[0] = '\0';
        /* One statement in a transaction of its own, READ COMMITTED, so that of two racing, the
         * second waits for the first's row and finds it changed; bounded, so that a claim waiting
         * for a row is given up (rolled back) before the login that asked for it gives up
         * (agent-protocol.h): SET LOCAL, which a pooler in transaction mode keeps to this one. */
        int r = fleet_exec(f, NULL, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL);
        if (r >= 0)
                r = fleet_exec(f, NULL, "SET LOCAL statement_timeout = " ROLES_STRINGIFY(AGENT_CLAIM_TIMEOUT_MS), 0, NULL);
        if (r >= 0 && (r = fleet_exec(f, &res, sql, n, p)) >= 0) {
                serial = r == 1 && !PQgetisnull(res, 0, 0) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
                r = fleet_exec(f, NULL, "COMMIT", 0, NULL);
        }
        PQclear(res);
        if (r < 0 && PQtransactionStatus(f->conn) != PQTRANS_IDLE)
                PQclear(PQexec(f->conn, "ROLLBACK"));
        if (r < 0)
                return fleet_older(f, r, "claim functions");
        *ret_serial = serial;
        return serial > 0;
}

int roles_fleet_claim_code(struct roles_fleet *f, const char *uuid, const char *kind, const char *hash_hex,
                           int64_t *ret_serial) {
        const char *p[] = { uuid, kind, hash_hex };
        return claim(f, "SELECT " FLEET_SCHEMA ".claim_code($1, $2, decode($3, 'hex'))", 3, p, ret_serial);
}

int roles_fleet_change_password(struct roles_fleet *f, const char *uuid, const char *old_hash, const char *new_hash,
                                const char *fs_uniquifier, bool activate, int64_t *ret_serial) {
        const char *p[] = { uuid, old_hash, new_hash, fs_uniquifier, activate ? "true" : "false" };
        return claim(f, "SELECT " FLEET_SCHEMA ".change_password($1, $2, $3, $4, $5::boolean)", 5, p, ret_serial);
}
