/* SPDX-License-Identifier: MIT */
/*
 * /etc/roles.conf: "key = value" lines, '#' starts a comment running to the end of the line.
 * Every key has a code default; an unknown key or a bad value is an error naming the line.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* A path in roles.conf is at most ROLES_TEXT_MAX bytes (roles_path_valid), so the fields hold
 * that, not PATH_MAX: the NSS module reads this struct at a process's first lookup, and five
 * PATH_MAX fields are 20 KiB of stack and bss to fault in (a third of that lookup's cost). */
#define ROLES_CONFIG_PATH_SIZE (ROLES_TEXT_MAX + 1)

/* roles_config_index_path's result: public_db without ".db", then ".nss-delta". */
#define ROLES_INDEX_PATH_SIZE (ROLES_CONFIG_PATH_SIZE + sizeof(".nss-delta"))

/* totp_issuer: what an authenticator app shows above the code, at most a host name's length
 * (HOST_NAME_MAX), the host name being its default. */
#define ROLES_TOTP_ISSUER_MAX 64

/* A PostgreSQL role name (NAMEDATALEN - 1): the name a fleet host is known by, the role its
 * source connects as (roles_fleet_host_role). */
#define ROLES_HOST_ROLE_MAX 63

struct roles_config {
        char public_db[ROLES_CONFIG_PATH_SIZE];
        char secrets_db[ROLES_CONFIG_PATH_SIZE];
        char state_db[ROLES_CONFIG_PATH_SIZE];
        uint32_t uid_min, uid_max;
        uint32_t gid_min, gid_max;
        char home_base[ROLES_CONFIG_PATH_SIZE];
        char default_shell[ROLES_CONFIG_PATH_SIZE];
        uint32_t argon2_t_cost;
        uint32_t argon2_m_cost_kib;
        uint32_t argon2_parallelism;
        uint32_t deny;
        uint32_t fail_interval;
        uint32_t unlock_time;
        uint32_t activation_ttl;
        uint32_t reset_ttl;
        uint32_t totp_window;
        char totp_issuer[ROLES_TOTP_ISSUER_MAX + 1];    /* "": the host name (roles_config_totp_issuer) */
        uint32_t password_min_length;
        uint32_t login_audit_keep;      /* newest login_audit rows kept (0: all) */
        uint32_t login_memory_max_kib;  /* argon2 memory of all logins at once, host-wide */
        uint32_t login_slot_wait_ms;    /* how long a login waits for its share of it */
        /* The fleet (FLEET.md): empty source, a single host. */
        char source[ROLES_CONFIG_PATH_SIZE];    /* a libpq connection string, never with a password */
        char fleet_ca[ROLES_CONFIG_PATH_SIZE];  /* the CA the server's certificate must chain to */
        char fleet_cache[ROLES_CONFIG_PATH_SIZE];       /* rolesctl's copy of the fleet's files */
        uint32_t fleet_poll;            /* seconds between roles-agent's looks at the serial */
        uint32_t outbox_max;            /* rows the outbox keeps before its oldest successes go */
        bool host_secrets_none;         /* host_secrets = none: no hashes, TOTP secrets or codes */
};

void roles_config_defaults(struct roles_config *cfg);

/* A source as roles.conf and --source take it: a libpq connection string or URI, printable ASCII
 * (spaces included) of at most ROLES_TEXT_MAX bytes. What it says is libpq's to parse. */
bool roles_config_source_valid(const char *value);

/* A fleet host's role as roles records it (roles_fleet_host_role, a backup's fleet-host member):
 * len bytes of printable ASCII without a space (one word in an audit row), 1 to
 * ROLES_HOST_ROLE_MAX of them. Other names PostgreSQL allows are not recorded. */
bool roles_host_role_valid(const char *text, size_t len);

/*
 * Read a configuration file over the defaults. On failure *cfg is left untouched and errbuf
 * holds one line ("/etc/roles.conf:7: unknown key 'foo'"). A missing file is -ENOENT.
 */
int roles_config_load(const char *path, struct roles_config *cfg, char *errbuf, size_t errlen);

/* Parse configuration text (for tests and fuzzing); origin names it in messages. */
int roles_config_parse(const char *text, size_t len, const char *origin, struct roles_config *cfg,
                       char *errbuf, size_t errlen);

/*
 * The configuration file to read: an explicit path if given, else $ROLES_CONF read with
 * secure_getenv (ignored in setuid programs), else the built-in default.
 */
const char *roles_config_path(const char *explicit_path);

/*
 * The issuer of a TOTP enrolment: totp_issuer, or by default the host name (gethostname). Text
 * as roles_text_check takes it (printable, no ':', which separates the issuer from the account
 * in the Key Uri Format's label), at most ROLES_TOTP_ISSUER_MAX bytes. 0, or -EINVAL with the
 * reason in why (a host name that is not such text: set totp_issuer), or gethostname's -errno.
 */
int roles_config_totp_issuer(const struct roles_config *cfg, char ret[static ROLES_TOTP_ISSUER_MAX + 1], char *why,
                             size_t why_size);

/*
 * The compiled NSS index next to public_db (nss_index.h): public_db without its ".db" suffix,
 * then ".nss" (the base) or ".nss-delta"; /var/lib/roles/roles.db gives /var/lib/roles/roles.nss.
 */
int roles_config_index_path(const struct roles_config *cfg, bool delta, char *buf, size_t size);
