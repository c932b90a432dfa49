/* SPDX-License-Identifier: MIT */
/*
 * The records the store hands out and takes: users, groups, metaroles, roles, a user's secrets,
 * the rows of listings and of what permission resolution reads. Plain data: which handle may
 * read or change them is said by snapshot.h, secrets.h, login.h and writer.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "util.h"

#define ROLES_SCHEMA_PUBLIC  3
#define ROLES_SCHEMA_SECRETS 3
#define ROLES_SCHEMA_STATE   2

struct roles_user {
        int64_t id;
        char uuid[ROLES_UUID_LEN + 1];
        char name[ROLES_NAME_MAX + 1];
        uint32_t uid;
        uint32_t gid;
        char gecos[ROLES_TEXT_MAX + 1];
        char home[ROLES_TEXT_MAX + 1];
        char shell[ROLES_TEXT_MAX + 1];
        bool enabled;
        int64_t created_at, updated_at;
        int64_t activated_at;           /* 0: never activated */
        int64_t expires_at;             /* 0: never expires */
};

/* Is the user able to hold anything at now (enabled, not expired)? The one definition. */
bool roles_user_active(const struct roles_user *u, time_t now);

typedef int (*roles_user_fn)(void *userdata, const struct roles_user *u);

struct roles_group {
        int64_t id;
        char uuid[ROLES_UUID_LEN + 1];
        char name[ROLES_NAME_MAX + 1];
        uint32_t gid;
        char description[ROLES_TEXT_MAX + 1];
        int64_t created_at, updated_at;
};

#define ROLES_METAROLE_SUPER_ADMIN "super-admin"
#define ROLES_METAROLE_ADMIN       "admin"
#define ROLES_METAROLE_USER        "user"

struct roles_metarole {
        int64_t id;
        char code[ROLES_NAME_MAX + 1];
        char name[ROLES_TEXT_MAX + 1];
        char description[ROLES_TEXT_MAX + 1];
        uint32_t gid;                   /* ROLES_ID_INVALID: not published as a group */
        bool builtin;
        int64_t created_at;
};

struct roles_role {
        int64_t id;
        char name[ROLES_NAME_MAX + 1];
        char description[ROLES_TEXT_MAX + 1];
        int64_t metarole_id;
        char metarole[ROLES_NAME_MAX + 1];
        int64_t created_at;
};

struct roles_secret {
        char password_hash[256];        /* empty: no password set */
        int64_t activated_at;           /* 0: not activated by a login */
        int64_t password_changed_at;
        bool must_change_password;
        char fs_uniquifier[ROLES_UUID_LEN + 1];
        int64_t last_auth_sensitive_operation_at;
        char email[ROLES_EMAIL_MAX + 1];
        char totp_secret[64];           /* base32; empty: not enrolled */
};

/* Wipe a roles_secret that held a hash or TOTP secret. */
void roles_secret_wipe(struct roles_secret *sec);

/*
 * What password_hash may hold: an argon2id PHC string ("$argon2id$v=19$m=...", what roles
 * makes), or a legacy crypt(3) hash imported from a shadow file by `rolesctl import`, stored
 * as ROLES_HASH_LEGACY_CRYPT followed by the crypt string exactly as shadow had it
 * ("{crypt}$y$j9T$...": yescrypt, gost-yescrypt, scrypt, sha512crypt, sha256crypt, bcrypt,
 * md5crypt, or 13-character DES). The marker (RFC 2307's userPassword scheme) makes the kind
 * explicit rather than guessed from the crypt prefix, which DES hashes lack: PAM verifies a
 * {crypt} hash with crypt(3) and, on success, replaces it with argon2id; any other form is
 * refused.
 */
#define ROLES_HASH_LEGACY_CRYPT "{crypt}"

enum roles_code_kind { ROLES_CODE_ACTIVATION, ROLES_CODE_RESET };

struct roles_code_row {
        uint8_t hash[32];
        int64_t expires_at;
        int64_t used_at;                /* 0: unused */
};

/* A recovery code's stored hash: roles_code_hash's, as a one-time code's (auth.h). */
#define ROLES_RECOVERY_HASH_LEN 32

/* The lockout tally. locked_until: 0 not locked, -1 until an administrator unlocks. */
struct roles_tally {
        unsigned failures;
        int64_t locked_until;
};

/* What a shadow entry says besides the NSS fields (needs secrets.db and state.db). */
struct roles_nss_shadow {
        int64_t password_changed_at;    /* 0: never */
        bool locked;                    /* lockout in force at now */
};

/*
 * Listings and "show" details come as rows of named text columns (NULL for no value), so the
 * CLI can print tables or JSON without knowing SQL. Times are ISO 8601 UTC.
 */
enum roles_listing {
        ROLES_LIST_USERS,               /* arg: NULL for all, or a user name */
        ROLES_LIST_USER_GROUPS,         /* arg: user name */
        ROLES_LIST_USER_ROLES,          /* arg: user name */
        ROLES_LIST_USER_SECRETS,        /* arg: user uuid (needs secrets.db) */
        ROLES_LIST_USER_STATE,          /* arg: user uuid (needs state.db) */
        ROLES_LIST_GROUPS,              /* arg: NULL or a group name */
        ROLES_LIST_GROUP_MEMBERS,       /* arg: group name */
        ROLES_LIST_METAROLES,           /* arg: NULL or a code */
        ROLES_LIST_METAROLE_INCLUDES,   /* arg: code */
        ROLES_LIST_METAROLE_PERMS,      /* arg: code */
        ROLES_LIST_METAROLE_ROLES,      /* arg: code */
        ROLES_LIST_ROLES,               /* arg: NULL or a role name */
        ROLES_LIST_ROLE_PERMS,          /* arg: role name */
        ROLES_LIST_ROLE_USERS,          /* arg: role name */
        ROLES_LIST_AUDIT,               /* arg: NULL (needs secrets.db) */
        ROLES_LIST_LOGINS,              /* arg: NULL or a user name; the filter (needs state.db) */
        ROLES_LIST_LOCKED,              /* arg: NULL; the filter (needs state.db) */
        _ROLES_LIST_MAX,
};

/* What a listing that takes more than its argument is filtered by (roles_snapshot_list_filtered). */
struct roles_list_filter {
        const char *arg;                /* as roles_snapshot_list's */
        bool only_failures;             /* ROLES_LIST_LOGINS: refusals only */
        int64_t since;                  /* ROLES_LIST_LOGINS: rows at or after this time (0: all) */
        bool all;                       /* ROLES_LIST_LOCKED: stale tallies too (a count the next
                                         * failure starts afresh, a lock that ran out) */
};

/* The most columns a listing has. */
#define ROLES_LISTING_COLUMNS_MAX 16

/* What a value is, so that JSON can print it as such (text prints each value as it is). */
enum roles_cell {
        ROLES_CELL_TEXT,
        ROLES_CELL_NUMBER,              /* printed bare */
        ROLES_CELL_BOOL,                /* "yes" or "no": true or false */
        ROLES_CELL_NOTE,                /* words for a person where a program reads null ("until
                                         * an administrator unlocks" where there is no time) */
        ROLES_CELL_LIST,                /* "a,b": a JSON array of strings, [] for no value */
};

typedef int (*roles_row_fn)(void *userdata, size_t n, const char *const *names, const char *const *values,
                            const enum roles_cell *kinds);

struct roles_assignment_row {
        int64_t role_id;
        const char *role;
        int64_t until;                  /* 0: no end */
        int64_t metarole_id;
        const char *metarole;
};
struct roles_perm_row {
        int64_t owner_id;               /* role or metarole id */
        const char *perm;
        bool disabled;
};
struct roles_child_row {
        int64_t id;
        const char *code;
};

/* Callbacks return 0 to go on or -errno to stop (that value is returned). */
typedef int (*roles_assignment_fn)(void *userdata, const struct roles_assignment_row *row);
typedef int (*roles_perm_fn)(void *userdata, const struct roles_perm_row *row);
typedef int (*roles_child_fn)(void *userdata, const struct roles_child_row *row);

/*
 * What roles_check reads. Candidates are the codes that would cover the permission asked
 * about (itself, its "prefix.*" forms, and "*" for super-admin) or, as a role's disabled line,
 * switch it off (the codes above it too), at most ROLES_CHECK_CANDIDATES per call.
 */
#define ROLES_CHECK_CANDIDATES 8

struct roles_check_row {
        int64_t role_id;
        int64_t until;                  /* 0: no end */
        int64_t metarole_id;
};
typedef int (*roles_check_fn)(void *userdata, const struct roles_check_row *row);
typedef int (*roles_id_fn)(void *userdata, int64_t id);

enum roles_taken { ROLES_TAKEN_USER, ROLES_TAKEN_GROUP, ROLES_TAKEN_RETIRED_UID, ROLES_TAKEN_RETIRED_GID };
typedef int (*roles_taken_fn)(void *userdata, enum roles_taken kind, const char *name, uint32_t id);

typedef void (*roles_report_fn)(void *userdata, const char *line);
