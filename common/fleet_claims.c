/* SPDX-License-Identifier: MIT */
/* What roles-agent decides on the primary for a host's logins (fleet_init.c, CLAIMS_SQL). */
#include <errno.h>
#include <stdlib.h>

#include "fleet-internal.h"

int roles_fleet_change_password(struct roles_fleet *f, const char *uuid, const char *old_hash, const char *new_hash,
                                const char *fs_uniquifier, bool activate, int64_t *ret_serial) {
        PGresult *res = NULL;
        const char *p[] = { uuid, old_hash, new_hash, fs_uniquifier, activate ? "true" : "false" };
        f->err[0] = '\0';
        /* One statement: its own transaction, READ COMMITTED, so that of two racing, the second
         * waits for the first's row and finds the hash changed. */
        int r = fleet_exec(f, &res, "SELECT " FLEET_SCHEMA ".change_password($1, $2, $3, $4, $5::boolean)", 5, p);
        if (r < 0)
                return r;
        int64_t serial = r == 1 && !PQgetisnull(res, 0, 0) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
        *ret_serial = serial;
        return serial > 0;
}
