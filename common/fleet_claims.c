/* SPDX-License-Identifier: MIT */
/* What roles-agent decides on the primary for a host's logins (fleet_init.c, CLAIMS_SQL). */
#include <errno.h>
#include <stdlib.h>

#include "fleet-internal.h"

/* The serial a claim function returned: 1 won, 0 lost, -errno. */
static int claim(struct roles_fleet *f, const char *sql, int n, const char *const *p, int64_t *ret_serial) {
        PGresult *res = NULL;
        f->err[0] = '\0';
        /* One statement: its own transaction, READ COMMITTED, so that of two racing, the second
         * waits for the first's row and finds it changed. */
        int r = fleet_exec(f, &res, sql, n, p);
        if (r < 0)
                return fleet_older(f, r, "claim functions");
        int64_t serial = r == 1 && !PQgetisnull(res, 0, 0) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
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
