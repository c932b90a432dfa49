/* SPDX-License-Identifier: MIT */
/*
 * The connection to PostgreSQL and the schema there (FLEET.md).
 *
 * TLS is not the connection string's to choose: roles.conf is world-readable and the
 * environment is the caller's, so sslmode=verify-full and sslrootcert=fleet_ca are put after
 * whatever the source says (libpq keeps the last value of a key), and a source without a CA is
 * refused unless it names a Unix socket (a local server, no network between); verify-full holds
 * for a socket too (libpq skips TLS only there), so that no host the connection may reach over
 * TCP (a second host, a hostaddr, a service file's) goes without it. A password in the
 * source would be readable by every user of the host: refused, a passfile or a client
 * certificate instead.
 *
 * Nothing is set on the session (every name is qualified, bytea_output is set per transaction):
 * behind pgbouncer in transaction mode, a session's settings would follow the server connection,
 * not ours.
 *
 * The schema is the SQLite one, table for table (fleet_columns reads it from a fresh store):
 * the rules that keep rows valid run in the writer before a change is pushed, and exist once.
 * PostgreSQL adds what only it can hold: the fleet's serial, the change log, the roles.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet-internal.h"
#include "roles-build.h"

int fleet_fail(struct roles_fleet *f, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->err, sizeof(f->err), fmt, ap);
        va_end(ap);
        return r;
}

/* The first line of a server or libpq message, without its trailing newline. */
static const char *first_line(const char *msg, char *buf, size_t size) {
        snprintf(buf, size, "%s", msg && *msg ? msg : "unknown error");
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

int fleet_pg_fail(struct roles_fleet *f, PGresult *res, const char *what) {
        char line[400];
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(f->conn);
        /* 40001 serialization_failure, 40P01 deadlock_detected: the change is run again. */
        bool retry = state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
        snprintf(f->sqlstate, sizeof(f->sqlstate), "%s", state ? state : "");
        fleet_fail(f, retry ? -EAGAIN : -EIO, "%s: %s", what, first_line(msg, line, sizeof(line)));
        PQclear(res);
        return retry ? -EAGAIN : PQstatus(f->conn) == CONNECTION_OK ? -EIO : -ECONNRESET;
}

int fleet_older(struct roles_fleet *f, int r, const char *what) {
        if (r >= 0 || (strcmp(f->sqlstate, "42883") != 0 && strcmp(f->sqlstate, "42P01") != 0))
                return r;
        return fleet_fail(f, -ENOSYS, "the account server has no %s: the fleet's schema is older than this build's "
                          "(version %d); run 'rolesctl fleet upgrade' once", what, ROLES_FLEET_VERSION);
}

int fleet_exec(struct roles_fleet *f, PGresult **ret_res, const char *sql, int n, const char *const *params) {
        PGresult *res = PQexecParams(f->conn, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
                return fleet_pg_fail(f, res, "the account server");
        int count = st == PGRES_TUPLES_OK ? PQntuples(res) : atoi(PQcmdTuples(res));
        if (ret_res)
                *ret_res = res;
        else
                PQclear(res);
        return count;
}

bool roles_fleet_as_superuser(const struct roles_fleet *f) {
        const char *super = PQparameterStatus(f->conn, "is_superuser");
        return super && strcmp(super, "on") == 0;
}

int fleet_begin_write(struct roles_fleet *f) {
        /* A hot standby would refuse the transaction with "cannot use serializable mode in a hot
         * standby", true but no help to whoever pointed rolesctl at it. The server reports the
         * state on connecting (PostgreSQL 14 and later; unknown: the server decides). */
        const char *standby = PQparameterStatus(f->conn, "in_hot_standby");
        if (standby && strcmp(standby, "on") == 0)
                return fleet_fail(f, -EROFS, "the account server is a read-only standby: changes are made on the "
                                  "primary");
        return fleet_exec(f, NULL, "BEGIN ISOLATION LEVEL SERIALIZABLE", 0, NULL);
}

static bool names_unix_socket(const PQconninfoOption *opts) {
        for (const PQconninfoOption *o = opts; o->keyword; o++)
                if (strcmp(o->keyword, "host") == 0)
                        return o->val && o->val[0] == '/';
        return false;
}

static bool has_password(const PQconninfoOption *opts) {
        for (const PQconninfoOption *o = opts; o->keyword; o++)
                if ((strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0) && o->val && o->val[0])
                        return true;
        return false;
}

static void ignore_notice(void *userdata, const char *message) {
        (void) userdata;
        (void) message;
}

int roles_fleet_host_role(const char *source, char ret[static ROLES_HOST_ROLE_MAX + 1]) {
        if (!source[0])
                return -EINVAL;
        PQconninfoOption *opts = PQconninfoParse(source, NULL);
        ret[0] = '\0';
        for (const PQconninfoOption *o = opts; o && o->keyword; o++) {
                if (strcmp(o->keyword, "user") != 0 || !o->val)
                        continue;
                size_t len = strlen(o->val);
                if (roles_host_role_valid(o->val, len))
                        memcpy(ret, o->val, len + 1);
        }
        PQconninfoFree(opts);
        return 0;
}

int roles_fleet_connect(const struct roles_config *cfg, struct roles_fleet **ret, char *errbuf, size_t errlen) {
        struct roles_fleet *f = calloc(1, sizeof(*f));
        char *perr = NULL;
        PQconninfoOption *opts = NULL;
        int r;

        if (!f) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        f->cfg = *cfg;
        if (!cfg->source[0]) {
                r = fleet_fail(f, -EINVAL, "no source in roles.conf: not a fleet");
                goto out;
        }
        opts = PQconninfoParse(cfg->source, &perr);
        if (!opts) {
                r = fleet_fail(f, -EINVAL, "source: %s", perr ? first_line(perr, f->err, sizeof(f->err)) : "out of memory");
                goto out;
        }
        if (has_password(opts)) {
                r = fleet_fail(f, -EPERM, "source: refusing a password in the connection string (roles.conf is "
                               "readable by every user): use a passfile or a client certificate");
                goto out;
        }
        bool local = names_unix_socket(opts);
        if (!local && !cfg->fleet_ca[0]) {
                r = fleet_fail(f, -EPERM, "source: fleet_ca is not set: roles reaches a server over the network "
                               "only with TLS verify-full against a CA named in roles.conf");
                goto out;
        }
        /* Ours last: libpq keeps the last value given for a key. verify-full even for a socket
         * (libpq uses no TLS there): the source's first host says nothing of the others, of a
         * hostaddr (TCP whatever host says), nor of what a service file or PGHOSTADDR add, so
         * any of them reached over TCP must pass TLS too. Without a CA, nothing can chain to
         * /dev/null: a socket or nothing. GSSAPI encryption would stand in for TLS: never. */
        const char *keys[] = { "dbname", "sslmode", "sslrootcert", "gssencmode", "application_name",
                               "connect_timeout", NULL };
        const char *vals[] = { cfg->source, "verify-full", cfg->fleet_ca[0] ? cfg->fleet_ca : "/dev/null",
                               "disable", "roles", "10", NULL };
        f->conn = PQconnectdbParams(keys, vals, 1);
        if (!f->conn || PQstatus(f->conn) != CONNECTION_OK) {
                char line[400];
                r = fleet_fail(f, -ECONNREFUSED, "the account server cannot be reached: %s",
                               first_line(f->conn ? PQerrorMessage(f->conn) : "out of memory", line, sizeof(line)));
                goto out;
        }
        /* The server's notices (a shutdown's "terminating connection") are not ours to print
         * into the caller's output: what fails is reported by the call that fails. */
        PQsetNoticeProcessor(f->conn, ignore_notice, NULL);
        *ret = f;
        f = NULL;
        r = 0;
out:
        if (f)
                snprintf(errbuf, errlen, "%s", f->err);
        PQconninfoFree(opts);
        PQfreemem(perr);
        roles_fleet_close(f);
        return r;
}

void roles_fleet_close(struct roles_fleet *f) {
        if (!f)
                return;
        PQfinish(f->conn);
        explicit_bzero(f, sizeof(*f));
        free(f);
}

const char *roles_fleet_error(const struct roles_fleet *f) {
        return f->err;
}

PGconn *roles_fleet_conn(struct roles_fleet *f) {
        return f->conn;
}

int roles_fleet_serial(struct roles_fleet *f, int64_t *ret) {
        PGresult *res = NULL;
        int r = fleet_exec(f, &res, "SELECT serial FROM " FLEET_SCHEMA ".fleet WHERE id = 1", 0, NULL);
        if (r == 0)
                r = fleet_fail(f, -ENOENT, "the account server has no roles schema: run 'rolesctl init' there");
        if (r > 0) {
                *ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                r = 0;
        }
        PQclear(res);
        return r;
}
