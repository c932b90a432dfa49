/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "roles-build.h"
#include "util.h"

#define CONFIG_FILE_MAX (64 * 1024)

enum key_kind { KEY_PATH, KEY_U32, KEY_ISSUER, KEY_TEXT, KEY_HOST_SECRETS };

struct key {
        const char *name;
        enum key_kind kind;
        size_t offset;
        uint32_t min, max;      /* for KEY_U32 */
};

#define PATH_KEY(f)          { #f, KEY_PATH, offsetof(struct roles_config, f), 0, 0 }
#define U32_KEY(f, lo, hi)   { #f, KEY_U32, offsetof(struct roles_config, f), lo, hi }

static const struct key keys[] = {
        PATH_KEY(public_db),
        PATH_KEY(secrets_db),
        PATH_KEY(state_db),
        U32_KEY(uid_min, 1, UINT32_MAX - 1),
        U32_KEY(uid_max, 1, UINT32_MAX - 1),
        U32_KEY(gid_min, 1, UINT32_MAX - 1),
        U32_KEY(gid_max, 1, UINT32_MAX - 1),
        PATH_KEY(home_base),
        PATH_KEY(default_shell),
        U32_KEY(argon2_t_cost, 1, 64),
        U32_KEY(argon2_m_cost_kib, 8, 4 * 1024 * 1024),
        U32_KEY(argon2_parallelism, 1, 64),
        U32_KEY(deny, 0, 1000000),
        U32_KEY(fail_interval, 1, UINT32_MAX - 1),
        U32_KEY(unlock_time, 0, UINT32_MAX - 1),
        U32_KEY(activation_ttl, 60, UINT32_MAX - 1),
        U32_KEY(reset_ttl, 60, UINT32_MAX - 1),
        U32_KEY(totp_window, 0, 10),
        { "totp_issuer", KEY_ISSUER, offsetof(struct roles_config, totp_issuer), 0, 0 },
        U32_KEY(password_min_length, 1, 1024),
        U32_KEY(login_audit_keep, 0, 1000000000),
        U32_KEY(login_memory_max_kib, 8, UINT32_MAX - 1),
        U32_KEY(login_slot_wait_ms, 0, 600000),
        { "source", KEY_TEXT, offsetof(struct roles_config, source), 0, 0 },
        PATH_KEY(fleet_ca),
        PATH_KEY(fleet_cache),
        U32_KEY(fleet_poll, 1, 86400),
        U32_KEY(outbox_max, 1, 100000000),
        { "host_secrets", KEY_HOST_SECRETS, offsetof(struct roles_config, host_secrets_none), 0, 0 },
};

void roles_config_defaults(struct roles_config *cfg) {
        *cfg = (struct roles_config) {
                .public_db = "/var/lib/roles/roles.db",
                .secrets_db = "/var/lib/roles/secrets.db",
                .state_db = "/var/lib/roles/state.db",
                /* Above systemd's container range, below its foreign range and 2^31: clear of
                 * login.defs' UID_MIN..UID_MAX, the subordinate ranges and every range systemd
                 * reserves (README, /etc/roles.conf). */
                .uid_min = 1879048192,
                .uid_max = 2147352575,
                .gid_min = 1879048192,
                .gid_max = 2147352575,
                .home_base = "/home",
                .default_shell = "/bin/bash",
                .argon2_t_cost = 3,
                .argon2_m_cost_kib = 65536,
                .argon2_parallelism = 4,
                .deny = 5,
                .fail_interval = 900,
                .unlock_time = 600,
                .activation_ttl = 259200,
                .reset_ttl = 86400,
                .totp_window = 1,
                .password_min_length = 8,
                .login_audit_keep = 100000,
                /* Four verifications at the default argon2 (64 MiB each) at once, host-wide: a
                 * flood of unauthenticated attempts holds a small machine to 256 MiB. */
                .login_memory_max_kib = 262144,
                .login_slot_wait_ms = 20000,
                .fleet_cache = "/var/cache/roles",
                .fleet_poll = 30,
                .outbox_max = 100000,
        };
}

static int fail(char *errbuf, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *errbuf, size_t errlen, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (errbuf && errlen > 0)
                vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
        return r;
}

static char *trim(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

bool roles_config_source_valid(const char *value) {
        size_t n = strnlen(value, ROLES_TEXT_MAX + 1);
        if (n == 0 || n > ROLES_TEXT_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (value[i] < ' ' || value[i] > '~')
                        return false;
        return true;
}

bool roles_host_role_valid(const char *text, size_t len) {
        if (len == 0 || len > ROLES_HOST_ROLE_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (text[i] <= ' ' || text[i] > '~')
                        return false;
        return true;
}

static int set_key(struct roles_config *cfg, const struct key *k, const char *value) {
        char *field = (char *) cfg + k->offset;
        if (k->kind == KEY_PATH) {
                if (!roles_path_valid(value))
                        return -EINVAL;
                return roles_strcpy(field, ROLES_CONFIG_PATH_SIZE, value) < 0 ? -EINVAL : 0;
        }
        /* Empty: the host name, found when a user enrols (it may change after this is read). */
        if (k->kind == KEY_ISSUER)
                return roles_text_valid(value, ROLES_TOTP_ISSUER_MAX) ? roles_strcpy(field, ROLES_TOTP_ISSUER_MAX + 1, value) : -EINVAL;
        if (k->kind == KEY_TEXT)
                return roles_config_source_valid(value) ? roles_strcpy(field, ROLES_CONFIG_PATH_SIZE, value) : -EINVAL;
        if (k->kind == KEY_HOST_SECRETS) {
                if (strcmp(value, "all") != 0 && strcmp(value, "none") != 0)
                        return -EINVAL;
                *(bool *) (void *) field = strcmp(value, "none") == 0;
                return 0;
        }
        int64_t v;
        if (roles_parse_int64(value, k->min, k->max, &v) < 0)
                return -ERANGE;
        *(uint32_t *) (void *) field = (uint32_t) v;
        return 0;
}

int roles_config_parse(const char *text, size_t len, const char *origin, struct roles_config *cfg,
                       char *errbuf, size_t errlen) {
        struct roles_config new_cfg = *cfg;
        unsigned lineno = 0, uid_line = 0, gid_line = 0;   /* last line setting each range */
        unsigned argon2_line = 0;                           /* last line setting m or p */
        unsigned seen[ROLES_N_ELEMENTS(keys)] = { 0 };     /* the line that set each key */
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char line[1024];
                lineno++;
                if (n >= sizeof(line))
                        return fail(errbuf, errlen, -EINVAL, "%s:%u: line too long", origin, lineno);
                if (memchr(p, '\0', n))
                        return fail(errbuf, errlen, -EINVAL, "%s:%u: NUL byte", origin, lineno);
                memcpy(line, p, n);
                line[n] = '\0';
                p += n + (nl ? 1 : 0);

                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                char *s = trim(line);
                if (*s == '\0')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq)
                        return fail(errbuf, errlen, -EINVAL, "%s:%u: expected 'key = value'", origin, lineno);
                *eq = '\0';
                char *key = trim(s), *value = trim(eq + 1);

                const struct key *k = NULL;
                size_t index = 0;
                for (size_t i = 0; i < ROLES_N_ELEMENTS(keys); i++)
                        if (strcmp(keys[i].name, key) == 0) {
                                k = &keys[i];
                                index = i;
                        }
                if (!k)
                        return fail(errbuf, errlen, -EINVAL, "%s:%u: unknown key '%.64s'", origin, lineno, key);
                /* A key given twice is a mistake waiting to be misread: the first one would look
                 * like the setting in force. */
                if (seen[index])
                        return fail(errbuf, errlen, -EINVAL, "%s:%u: %s is already set on line %u", origin, lineno,
                                    key, seen[index]);
                seen[index] = lineno;
                if (set_key(&new_cfg, k, value) < 0) {
                        if (k->kind == KEY_PATH)
                                return fail(errbuf, errlen, -EINVAL, "%s:%u: %s: '%.64s' is not an absolute path",
                                            origin, lineno, k->name, value);
                        if (k->kind == KEY_ISSUER)
                                return fail(errbuf, errlen, -EINVAL, "%s:%u: %s: not printable text of at most %d "
                                            "bytes without ':'", origin, lineno, k->name, ROLES_TOTP_ISSUER_MAX);
                        if (k->kind == KEY_TEXT)
                                return fail(errbuf, errlen, -EINVAL, "%s:%u: %s: not printable ASCII of at most %d "
                                            "bytes", origin, lineno, k->name, ROLES_TEXT_MAX);
                        if (k->kind == KEY_HOST_SECRETS)
                                return fail(errbuf, errlen, -EINVAL, "%s:%u: %s: '%.64s' is neither 'all' nor 'none'",
                                            origin, lineno, k->name, value);
                        return fail(errbuf, errlen, -EINVAL, "%s:%u: %s: '%.64s' is not a number from %u to %u",
                                    origin, lineno, k->name, value, k->min, k->max);
                }
                if (k->offset == offsetof(struct roles_config, uid_min) ||
                    k->offset == offsetof(struct roles_config, uid_max))
                        uid_line = lineno;
                if (k->offset == offsetof(struct roles_config, gid_min) ||
                    k->offset == offsetof(struct roles_config, gid_max))
                        gid_line = lineno;
                if (k->offset == offsetof(struct roles_config, argon2_m_cost_kib) ||
                    k->offset == offsetof(struct roles_config, argon2_parallelism))
                        argon2_line = lineno;
        }

        if (new_cfg.uid_min > new_cfg.uid_max)
                return fail(errbuf, errlen, -EINVAL, "%s:%u: uid_min (%u) is greater than uid_max (%u)", origin,
                            uid_line, new_cfg.uid_min, new_cfg.uid_max);
        if (new_cfg.gid_min > new_cfg.gid_max)
                return fail(errbuf, errlen, -EINVAL, "%s:%u: gid_min (%u) is greater than gid_max (%u)", origin,
                            gid_line, new_cfg.gid_min, new_cfg.gid_max);

        /* argon2 needs 8 KiB of memory per lane: parameters it refuses would fail every hash and
         * make the equal-time verification of refusals return at once. */
        if (new_cfg.argon2_m_cost_kib < 8 * new_cfg.argon2_parallelism)
                return fail(errbuf, errlen, -EINVAL, "%s:%u: argon2_m_cost_kib (%u) is less than 8 per lane "
                            "(argon2_parallelism = %u)", origin, argon2_line, new_cfg.argon2_m_cost_kib,
                            new_cfg.argon2_parallelism);

        *cfg = new_cfg;
        return 0;
}

int roles_config_load(const char *path, struct roles_config *cfg, char *errbuf, size_t errlen) {
        struct stat st;
        char *text = NULL;
        size_t len = 0;
        int r;

        /* O_NONBLOCK: a FIFO there is refused below as not a regular file, not waited on for a
         * writer (NSS reads this in every process that looks up a name). A regular file's reads
         * do not see the flag. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return fail(errbuf, errlen, -errno, "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0) {
                r = fail(errbuf, errlen, -errno, "%s: %s", path, strerror(errno));
                goto out;
        }
        /* It names the databases: whoever can write it decides what every login reads. */
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_uid != 0 && st.st_uid != geteuid())) {
                r = fail(errbuf, errlen, -EPERM, "%s: refusing a configuration file that is group/world-writable "
                         "or not owned by root", path);
                goto out;
        }
        r = roles_read_fd_stat(fd, &st, CONFIG_FILE_MAX, &text, &len);
        if (r < 0) {
                r = fail(errbuf, errlen, r, "%s: not a readable regular file of at most 64 KiB: %s", path, strerror(-r));
                goto out;
        }
        r = roles_config_parse(text, len, path, cfg, errbuf, errlen);
out:
        free(text);
        close(fd);
        return r;
}

const char *roles_config_path(const char *explicit_path) {
        if (explicit_path)
                return explicit_path;
        const char *env = secure_getenv("ROLES_CONF");
        if (env && *env)
                return env;
        return ROLES_DEFAULT_CONF;
}

int roles_config_totp_issuer(const struct roles_config *cfg, char ret[static ROLES_TOTP_ISSUER_MAX + 1], char *why,
                             size_t why_size) {
        char name[ROLES_TOTP_ISSUER_MAX + 2] = "";
        if (cfg->totp_issuer[0])
                return roles_strcpy(ret, ROLES_TOTP_ISSUER_MAX + 1, cfg->totp_issuer);
        /* One byte more than an issuer may have, so that a longer name shows as too long rather
         * than cut (gethostname truncates silently on some systems). */
        if (gethostname(name, sizeof(name) - 1) < 0)
                return fail(why, why_size, -errno, "cannot read the host name: %s", strerror(errno));
        char reason[128];
        if (!name[0] || roles_text_check(name, ROLES_TOTP_ISSUER_MAX, reason, sizeof(reason)) < 0)
                return fail(why, why_size, -EINVAL, "the host name cannot be a TOTP issuer (%s): set totp_issuer "
                            "in roles.conf", name[0] ? reason : "empty");
        return roles_strcpy(ret, ROLES_TOTP_ISSUER_MAX + 1, name);
}

int roles_config_index_path(const struct roles_config *cfg, bool delta, char *buf, size_t size) {
        size_t n = strlen(cfg->public_db);
        if (n >= 3 && strcmp(cfg->public_db + n - 3, ".db") == 0)
                n -= 3;
        /* Joined by hand: the NSS module calls this at a process's first lookup, where
         * snprintf's first use costs more page faults than the rest of the join. */
        const char *suffix = delta ? ".nss-delta" : ".nss";
        size_t m = strlen(suffix);
        if (n + m >= size)
                return -ENAMETOOLONG;
        memcpy(buf, cfg->public_db, n);
        memcpy(buf + n, suffix, m + 1);
        return 0;
}
