/* SPDX-License-Identifier: MIT */
/*
 * rolesctl import [--passwd FILE] [--group FILE] [--shadow FILE]
 *
 * How an administrator migrates from /etc/passwd, /etc/group and /etc/shadow (or the copies
 * libnss-extrausers keeps), and how the benchmark fills roles with the data it compares against
 * nss_files. Every user and group keeps its uid or gid; hashes keep working through PAM, which
 * verifies a legacy crypt(3) hash once and replaces it with argon2id.
 *
 * It runs in three steps, so that any refusal leaves all three databases as they were:
 *
 *   1. read and check the files before the writer lock is taken: the form of every line, names,
 *      ids inside the configured ranges, hashes; duplicates within the files; shadow lines that
 *      name no user of the passwd file;
 *   2. with the writer open, refuse what clashes with roles (names, uids, gids) and resolve
 *      primary gids and group members that name existing groups and users;
 *   3. add groups, then users (with their own uid and gid: no personal group is made), then
 *      memberships, then password hashes, all in one writer: one snapshot, published by main
 *      only when everything succeeded.
 *
 * Each refusal is one line naming the file and line ("/etc/passwd:12: ...").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "cli.h"
#include "passwd_line.h"

/* 100,000 users take about 7 MiB of passwd; this leaves room for any real host. */
#define IMPORT_FILE_MAX ((size_t) 256 << 20)
/* Shadow day counts (lastchg, expire) beyond this are not dates. */
#define IMPORT_DAYS_MAX INT32_MAX

struct source {
        const char *path;       /* as given: named in every message about the file */
        char *data;             /* the whole file, NUL-terminated; lines and fields split in place */
        size_t len;
        char sha256[crypto_hash_sha256_BYTES * 2 + 1];  /* of the file as read, for the audit row */
};

enum hash_kind { HASH_NONE, HASH_ARGON2ID, HASH_CRYPT };

struct imp_group {
        const char *name;
        uint32_t gid;
        unsigned line;
        bool held;              /* roles has its name or gid, or had its gid: looked at in step 2 */
        struct roles_group g;   /* once added */
};

struct imp_shadow {
        const char *name;
        const char *hash;
        enum hash_kind kind;
        int64_t lastchg;        /* days since the epoch; -1: empty (aging off) */
        int64_t expires_at;     /* seconds; 0: never */
        unsigned line;
};

struct imp_user {
        const char *name, *gecos, *home, *shell;
        uint32_t uid, gid;
        bool password_locked;                   /* passwd field '*' or '!': no password login at all */
        unsigned line;
        bool held;                              /* roles has its name or uid, or had its uid */
        const struct imp_shadow *shadow;        /* its shadow line, if any */
        int64_t id;                             /* once added */
        char uuid[ROLES_UUID_LEN + 1];
};

struct imp_member {
        struct imp_group *group;
        const char *name;
        struct imp_user *user;  /* a user of the passwd file; NULL: an existing roles user */
};

/*
 * Records (users, groups, ...) are found by one key each through a hash set of pointers to them:
 * an import of a million users checks and links its records in one pass each, where sorting
 * them by name cost seconds.
 */
struct key_ops {
        uint64_t (*hash)(const void *rec);
        int (*cmp)(const void *x, const void *y);     /* 0: equal keys, which is what "duplicate" means */
};

struct rec_set {
        const struct key_ops *ops;
        const void **slots;     /* open addressing; NULL: empty */
        size_t mask;
};

struct import {
        const struct roles_config *cfg;
        struct source passwd, group, shadow;
        struct imp_group *groups;
        struct imp_user *users;
        struct imp_shadow *shadows;
        struct imp_member *members;
        size_t n_groups, n_users, n_shadows, n_members;
        /* For links and references, and for what roles holds (step 2) */
        struct rec_set users_by_name, users_by_uid, groups_by_name, groups_by_gid;
        size_t n_crypt, n_argon2id;
};

/* "FILE:LINE: message", one line, like every rolesctl error. */
__attribute__((format(printf, 4, 5)))
static int fail_at(int exit_code, const struct source *src, unsigned line, const char *fmt, ...) {
        char msg[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return cli_fail(exit_code, "%s:%u: %s", src->path, line, msg);
}

/* A store refusal while applying a line, named by that line. */
static int fail_store_at(struct cli *c, int r, const struct source *src, unsigned line) {
        return fail_at(cli_exit_code(r), src, line, "%s", cli_store_error(c, r));
}

/* ---- reading ------------------------------------------------------------------------------ */

static size_t count_char(const char *data, size_t len, char ch) {
        size_t n = 0;
        for (const char *p = data; (p = memchr(p, ch, len - (size_t) (p - data))); p++)
                n++;
        return n;
}

static int read_source(struct source *src) {
        /* O_NONBLOCK: a FIFO named by mistake is refused below instead of hanging here. */
        int fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return cli_fail(EXIT_ERROR, "%s: %s", src->path, strerror(errno));
        int r = roles_read_fd(fd, IMPORT_FILE_MAX, &src->data, &src->len);
        close(fd);
        if (r == -EINVAL)
                return cli_fail(EXIT_ERROR, "%s: not a regular file", src->path);
        if (r == -EFBIG)
                return cli_fail(EXIT_ERROR, "%s: larger than %zu MiB", src->path, IMPORT_FILE_MAX >> 20);
        if (r < 0)
                return cli_fail(EXIT_ERROR, "%s: %s", src->path, strerror(-r));
        /* Before the lines are split in place: what was imported, as sha256sum(1) prints it. */
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(digest, (const unsigned char *) src->data, src->len);
        sodium_bin2hex(src->sha256, sizeof(src->sha256), digest, sizeof(digest));
        const char *nul = memchr(src->data, '\0', src->len);
        if (nul)
                return fail_at(EXIT_USAGE, src, (unsigned) count_char(src->data, (size_t) (nul - src->data), '\n') + 1,
                               "NUL byte");
        return EXIT_OK;
}

/* The next line of src (its length in *ret_len), split off in place; false at the end. A last
 * line may lack its '\n'. */
static bool next_line(struct source *src, size_t *pos, char **ret, size_t *ret_len) {
        if (*pos >= src->len)
                return false;
        char *line = src->data + *pos;
        char *nl = memchr(line, '\n', src->len - *pos);
        size_t len = nl ? (size_t) (nl - line) : src->len - *pos;
        line[len] = '\0';      /* the '\n', or data[len], already NUL */
        *pos += len + 1;
        *ret = line;
        *ret_len = len;
        return true;
}

typedef int (*line_fn)(struct import *im, char **fields, unsigned line);

/*
 * Run fn over every line of src that has exactly n_fields fields. Blank lines and '#' comments
 * are skipped, as glibc's files backend skips them; NIS compat lines ("+", "-name", "+@netgroup")
 * would import an entry that is not in the file, so they are refused.
 */
static int each_line(struct import *im, struct source *src, size_t n_fields, const char *layout, line_fn fn) {
        struct passwd_field f[SHADOW_LINE_FIELDS];
        char *line, *fields[SHADOW_LINE_FIELDS];
        size_t pos = 0, len;
        unsigned n = 0;
        int r;

        while (next_line(src, &pos, &line, &len)) {
                n++;
                const char *start = line + strspn(line, " \t");
                if (*start == '\0' || *start == '#')
                        continue;
                if (line[0] == '+' || line[0] == '-')
                        return fail_at(EXIT_USAGE, src, n, "NIS compat entries ('+' and '-' lines) cannot be imported: "
                                       "remove them");
                size_t k = passwd_line_fields(line, len, f, n_fields);
                if (k != n_fields)      /* too many: the splitter stops at n_fields + 1; say how many */
                        return fail_at(EXIT_USAGE, src, n, "expected %zu ':'-separated fields (%s), found %zu", n_fields,
                                       layout, k < n_fields ? k : count_char(line, len, ':') + 1);
                for (size_t i = 0; i < n_fields; i++)
                        fields[i] = passwd_line_cut(line, f[i]);
                if ((r = fn(im, fields, n)) != EXIT_OK)
                        return r;
        }
        return EXIT_OK;
}

/* An id field inside [min, max]. */
static int parse_id_in(const struct source *src, unsigned line, const char *what, const char *name, const char *text,
                       uint32_t min, uint32_t max, uint32_t *ret) {
        if (roles_parse_id(text, ret) < 0)
                return fail_at(EXIT_USAGE, src, line, "invalid %s '%.32s' for '%s'", what, text, name);
        if (*ret < min || *ret > max)
                return fail_at(EXIT_USAGE, src, line, "%s %u of '%s' is outside the configured range %u-%u "
                               "(import only the accounts roles should serve)", what, *ret, name, min, max);
        return EXIT_OK;
}

/* ---- group: name:x:gid:member,member --------------------------------------------------------- */

static int parse_members(struct import *im, struct imp_group *g, char *list) {
        struct passwd_field m, all = { list, strlen(list) };
        for (size_t pos = 0; passwd_line_next_member(all, &pos, &m);) {
                char *name = passwd_line_cut(list, m);
                if (!roles_name_valid_n(m.p, m.n))
                        return fail_at(EXIT_USAGE, &im->group, g->line, "invalid member name '%.40s' in group '%s'",
                                       name, g->name);
                im->members[im->n_members++] = (struct imp_member) { .group = g, .name = name };
        }
        return EXIT_OK;
}

static int parse_group(struct import *im, char **f, unsigned line) {
        struct imp_group *g = &im->groups[im->n_groups];
        int r;

        *g = (struct imp_group) { .name = f[0], .line = line };
        if (!roles_name_valid(f[0]))
                return fail_at(EXIT_USAGE, &im->group, line, "invalid group name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                               f[0], ROLES_NAME_MAX);
        /* Group passwords (newgrp) have no place in roles: only "no password here" forms pass. */
        if (strcmp(f[1], "x") != 0 && strcmp(f[1], "!") != 0 && strcmp(f[1], "*") != 0 && f[1][0] != '\0')
                return fail_at(EXIT_USAGE, &im->group, line, "group '%s' has a group password: roles has none; "
                               "use 'x'", f[0]);
        if ((r = parse_id_in(&im->group, line, "gid", f[0], f[2], im->cfg->gid_min, im->cfg->gid_max, &g->gid)) != EXIT_OK)
                return r;
        im->n_groups++;
        return parse_members(im, g, f[3]);
}

/* ---- passwd: name:x:uid:gid:gecos:home:shell ----------------------------------------------- */

static int parse_passwd(struct import *im, char **f, unsigned line) {
        struct imp_user *u = &im->users[im->n_users];
        const struct source *src = &im->passwd;
        char why[ROLES_WHY_MAX];
        int r;

        *u = (struct imp_user) { .name = f[0], .gecos = f[4], .home = f[5], .shell = f[6], .line = line };
        if (!roles_name_valid(f[0]))
                return fail_at(EXIT_USAGE, src, line, "invalid user name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                               f[0], ROLES_NAME_MAX);
        /* The hash belongs in the shadow file; an empty field would mean "no password needed". */
        if (strcmp(f[1], "x") != 0 && strcmp(f[1], "*") != 0 && strcmp(f[1], "!") != 0)
                return fail_at(EXIT_USAGE, src, line, "password field of '%s' must be 'x' ('*' and '!' also "
                               "pass): hashes belong in the shadow file", f[0]);
        /* pam_unix reads the shadow hash only when this field is 'x': with '*' or '!' the account
         * had no password login on its old host, and must not gain one here. */
        u->password_locked = strcmp(f[1], "x") != 0;
        if ((r = parse_id_in(src, line, "uid", f[0], f[2], im->cfg->uid_min, im->cfg->uid_max, &u->uid)) != EXIT_OK ||
            (r = parse_id_in(src, line, "gid", f[0], f[3], im->cfg->gid_min, im->cfg->gid_max, &u->gid)) != EXIT_OK)
                return r;
        if (roles_text_check(u->gecos, ROLES_TEXT_MAX, why, sizeof(why)) < 0)
                return fail_at(EXIT_USAGE, src, line, "invalid full name (gecos) of '%s': %s", f[0], why);
        if (roles_path_check(u->home, why, sizeof(why)) < 0)
                return fail_at(EXIT_USAGE, src, line, "invalid home directory of '%s': %s", f[0], why);
        if (roles_path_check(u->shell, why, sizeof(why)) < 0)
                return fail_at(EXIT_USAGE, src, line, "invalid shell of '%s': %s", f[0], why);
        im->n_users++;
        return EXIT_OK;
}

/* ---- shadow: name:hash:lastchg:min:max:warn:inactive:expire:reserved ---------------------------- */

/*
 * The crypt(3) methods PAM can verify through libxcrypt (roles_crypt_cost says which) are
 * stored; anything else is refused rather than stored as an unverifiable password, and so is
 * one whose verification would cost more than its ceiling, which PAM would refuse anyway.
 */
static int classify_hash(const struct import *im, unsigned line, const char *name, const char *hash,
                         enum hash_kind *ret) {
        const struct source *src = &im->shadow;
        struct roles_hash_params ceiling;
        struct roles_crypt_cost cost;
        struct roles_hash_info info;

        roles_hash_ceiling_from_config(im->cfg, &ceiling);
        /* Empty, "*", "!", "!!", and "!<hash>" (passwd -l): nobody can log in with a password. */
        if (hash[0] == '\0' || hash[0] == '!' || hash[0] == '*')
                *ret = HASH_NONE;
        else if (strncmp(hash, "$argon2id$", 10) == 0) {
                if (strlen(hash) >= ROLES_HASH_ENCODED_MAX || roles_hash_parse(hash, &info) < 0)
                        return fail_at(EXIT_USAGE, src, line, "malformed argon2id hash for '%s'", name);
                *ret = HASH_ARGON2ID;
        } else if (roles_crypt_cost(hash, &ceiling, &cost) == 0) {
                if (cost.above)
                        return fail_at(EXIT_USAGE, src, line, "%s hash of '%s' is too costly to verify: %s %llu, "
                                       "above the ceiling of %llu", cost.method, name, cost.what,
                                       (unsigned long long) cost.value, (unsigned long long) cost.ceiling);
                *ret = HASH_CRYPT;
        } else  /* the hash itself is never echoed: shadow is secret */
                return fail_at(EXIT_USAGE, src, line, "unrecognised password hash for '%s': expected argon2id, yescrypt, "
                               "gost-yescrypt, scrypt, sha512crypt, sha256crypt, bcrypt, md5crypt or DES crypt, or "
                               "'!' or '*' for none", name);
        return EXIT_OK;
}

/* A day count field: empty (-1) or a decimal number of days since the epoch. */
static int parse_days(const struct source *src, unsigned line, const char *what, const char *name, const char *text,
                      int64_t *ret) {
        if (!*text) {
                *ret = -1;
                return EXIT_OK;
        }
        if (roles_parse_int64(text, 0, IMPORT_DAYS_MAX, ret) < 0)
                return fail_at(EXIT_USAGE, src, line, "invalid %s '%.32s' for '%s': a number of days, or empty", what,
                               text, name);
        return EXIT_OK;
}

static int parse_shadow(struct import *im, char **f, unsigned line) {
        static const char *const aging[] = { "lastchg", "min", "max", "warn", "inactive", "expire" };
        struct imp_shadow *sh = &im->shadows[im->n_shadows];
        const struct source *src = &im->shadow;
        int64_t days[ROLES_N_ELEMENTS(aging)];
        int r;

        *sh = (struct imp_shadow) { .name = f[0], .hash = f[1], .line = line };
        if (!roles_name_valid(f[0]))
                return fail_at(EXIT_USAGE, src, line, "invalid user name '%.40s'", f[0]);
        if ((r = classify_hash(im, line, f[0], f[1], &sh->kind)) != EXIT_OK)
                return r;
        /* min, max, warn and inactive are checked for form only: roles keeps no per-user aging. */
        for (size_t i = 0; i < ROLES_N_ELEMENTS(aging); i++)
                if ((r = parse_days(src, line, aging[i], f[0], f[2 + i], &days[i])) != EXIT_OK)
                        return r;
        if (f[8][0])
                return fail_at(EXIT_USAGE, src, line, "the reserved last field of '%s' must be empty", f[0]);
        sh->lastchg = days[0];
        /* In roles 0 means "never expires"; shadow's expire 0 means 1970-01-01 to pam_unix, an
         * expired account, so it stays expired (one second after the epoch). */
        int64_t expire = days[5];
        sh->expires_at = expire < 0 ? 0 : expire == 0 ? 1 : expire * 86400;
        im->n_shadows++;
        return EXIT_OK;
}

/* ---- duplicates and references within the files ---------------------------------------------- */

static uint64_t hash_mix(uint64_t h) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return h;
}

static uint64_t hash_str(const char *p) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *p; p++)
                h = (h ^ (unsigned char) *p) * 0x100000001b3ULL;
        return hash_mix(h);
}

static int cmp_u32(uint32_t a, uint32_t b) {
        return (a > b) - (a < b);
}

static uint64_t user_name_hash(const void *x) {
        return hash_str(((const struct imp_user *) x)->name);
}

static int user_name_cmp(const void *x, const void *y) {
        return strcmp(((const struct imp_user *) x)->name, ((const struct imp_user *) y)->name);
}

static uint64_t user_uid_hash(const void *x) {
        return hash_mix(((const struct imp_user *) x)->uid);
}

static int user_uid_cmp(const void *x, const void *y) {
        return cmp_u32(((const struct imp_user *) x)->uid, ((const struct imp_user *) y)->uid);
}

static uint64_t group_name_hash(const void *x) {
        return hash_str(((const struct imp_group *) x)->name);
}

static int group_name_cmp(const void *x, const void *y) {
        return strcmp(((const struct imp_group *) x)->name, ((const struct imp_group *) y)->name);
}

static uint64_t group_gid_hash(const void *x) {
        return hash_mix(((const struct imp_group *) x)->gid);
}

static int group_gid_cmp(const void *x, const void *y) {
        return cmp_u32(((const struct imp_group *) x)->gid, ((const struct imp_group *) y)->gid);
}

static uint64_t shadow_name_hash(const void *x) {
        return hash_str(((const struct imp_shadow *) x)->name);
}

static int shadow_name_cmp(const void *x, const void *y) {
        return strcmp(((const struct imp_shadow *) x)->name, ((const struct imp_shadow *) y)->name);
}

/* One member per group and name. */
static uint64_t member_hash(const void *x) {
        const struct imp_member *m = x;
        return hash_str(m->name) ^ hash_mix((uint64_t) (uintptr_t) m->group);
}

static int member_cmp(const void *x, const void *y) {
        const struct imp_member *a = x, *b = y;
        return a->group != b->group || strcmp(a->name, b->name) != 0;
}

static const struct key_ops user_by_name = { user_name_hash, user_name_cmp };
static const struct key_ops user_by_uid = { user_uid_hash, user_uid_cmp };
static const struct key_ops group_by_name = { group_name_hash, group_name_cmp };
static const struct key_ops group_by_gid = { group_gid_hash, group_gid_cmp };
static const struct key_ops shadow_by_name = { shadow_name_hash, shadow_name_cmp };
static const struct key_ops member_by_group_and_name = { member_hash, member_cmp };

/* Room for n records, at most half full; -ENOMEM. */
static int rec_set_init(struct rec_set *set, const struct key_ops *ops, size_t n) {
        size_t size = 16;
        while (size < 2 * n)
                size *= 2;
        *set = (struct rec_set) { .ops = ops, .slots = calloc(size, sizeof(*set->slots)), .mask = size - 1 };
        return set->slots ? 0 : -ENOMEM;
}

static void rec_set_free(struct rec_set *set) {
        free(set->slots);
        set->slots = NULL;
}

/* The slot of the record with key's key, or of the empty slot where it would go. */
static const void **rec_set_slot(const struct rec_set *set, const void *key) {
        for (size_t i = set->ops->hash(key) & set->mask;; i = (i + 1) & set->mask)
                if (!set->slots[i] || set->ops->cmp(key, set->slots[i]) == 0)
                        return &set->slots[i];
}

/* The record with key's key, or NULL. */
static const void *rec_set_find(const struct rec_set *set, const void *key) {
        return *rec_set_slot(set, key);
}

/*
 * Put the n records of size bytes at base into a new set by ops, in file order, and find the
 * first one that repeats an earlier record's key (*ret_dup, NULL: every key is unique) with the
 * record it repeats (*ret_first). The set is kept in *ret_set if given, else freed.
 */
static int index_and_check(void *base, size_t n, size_t size, const struct key_ops *ops, struct rec_set *ret_set,
                           const void **ret_dup, const void **ret_first) {
        struct rec_set set;
        *ret_dup = *ret_first = NULL;
        if (rec_set_init(&set, ops, n) < 0)
                return cli_fail(EXIT_ERROR, "out of memory");
        for (size_t i = 0; i < n; i++) {
                const void *rec = (const char *) base + i * size;
                const void **slot = rec_set_slot(&set, rec);
                if (*slot) {
                        *ret_dup = rec;
                        *ret_first = *slot;
                        break;
                }
                *slot = rec;
        }
        if (ret_set)
                *ret_set = set;
        else
                rec_set_free(&set);
        return EXIT_OK;
}

static int check_group_duplicates(struct import *im) {
        const void *dup, *first;
        int r;

        if ((r = index_and_check(im->groups, im->n_groups, sizeof(*im->groups), &group_by_name, &im->groups_by_name, &dup, &first)) != EXIT_OK)
                return r;
        if (dup) {
                const struct imp_group *d = dup, *f = first;
                return fail_at(EXIT_CONFLICT, &im->group, d->line, "group '%s' appears twice (first on line %u)", d->name,
                               f->line);
        }
        if ((r = index_and_check(im->groups, im->n_groups, sizeof(*im->groups), &group_by_gid, &im->groups_by_gid, &dup, &first)) != EXIT_OK)
                return r;
        if (dup) {
                const struct imp_group *d = dup, *f = first;
                return fail_at(EXIT_CONFLICT, &im->group, d->line, "gid %u of '%s' is also the gid of '%s' (line %u)",
                               d->gid, d->name, f->name, f->line);
        }
        return EXIT_OK;
}

static int check_user_duplicates(struct import *im) {
        const void *dup, *first;
        int r;

        if ((r = index_and_check(im->users, im->n_users, sizeof(*im->users), &user_by_name, &im->users_by_name, &dup, &first)) != EXIT_OK)
                return r;
        if (dup) {
                const struct imp_user *d = dup, *f = first;
                return fail_at(EXIT_CONFLICT, &im->passwd, d->line, "user '%s' appears twice (first on line %u)", d->name,
                               f->line);
        }
        if ((r = index_and_check(im->users, im->n_users, sizeof(*im->users), &user_by_uid, &im->users_by_uid, &dup, &first)) != EXIT_OK)
                return r;
        if (dup) {
                const struct imp_user *d = dup, *f = first;
                return fail_at(EXIT_CONFLICT, &im->passwd, d->line, "uid %u of '%s' is also the uid of '%s' (line %u)",
                               d->uid, d->name, f->name, f->line);
        }
        return EXIT_OK;
}

static int check_shadow_duplicates(struct import *im) {
        const void *dup, *first;
        int r = index_and_check(im->shadows, im->n_shadows, sizeof(*im->shadows), &shadow_by_name, NULL, &dup, &first);
        if (r == EXIT_OK && dup) {
                const struct imp_shadow *d = dup, *f = first;
                r = fail_at(EXIT_CONFLICT, &im->shadow, d->line, "'%s' has a second shadow line (first on line %u)",
                            d->name, f->line);
        }
        return r;
}

static int check_member_duplicates(struct import *im) {
        const void *dup, *first;
        int r = index_and_check(im->members, im->n_members, sizeof(*im->members), &member_by_group_and_name, NULL, &dup, &first);
        if (r == EXIT_OK && dup) {
                const struct imp_member *d = dup;
                r = fail_at(EXIT_CONFLICT, &im->group, d->group->line, "'%s' is listed twice as a member of '%s'",
                            d->name, d->group->name);
        }
        return r;
}

static struct imp_user *find_user(const struct import *im, const char *name) {
        struct imp_user key = { .name = name };
        return (struct imp_user *) rec_set_find(&im->users_by_name, &key);
}

static bool file_has_gid(const struct import *im, uint32_t gid) {
        struct imp_group key = { .gid = gid };
        return rec_set_find(&im->groups_by_gid, &key) != NULL;
}

/* Tie shadow lines and group members to the users of the passwd file. */
static int link_files(struct import *im) {
        for (size_t i = 0; i < im->n_shadows; i++) {
                struct imp_user *u = find_user(im, im->shadows[i].name);
                /* Import creates accounts; it never changes the password of one that exists. */
                if (!u)
                        return fail_at(EXIT_NOT_FOUND, &im->shadow, im->shadows[i].line, "'%s' is no user of the passwd "
                                       "file (import sets passwords only for the accounts it creates)", im->shadows[i].name);
                u->shadow = &im->shadows[i];
        }
        for (size_t i = 0; i < im->n_members; i++)
                im->members[i].user = find_user(im, im->members[i].name);
        return EXIT_OK;
}

/* ---- step 1: read and check the files ------------------------------------------------------- */

static size_t n_lines(const struct source *src) {
        return src->data ? count_char(src->data, src->len, '\n') + 1 : 0;
}

static int load_files(struct import *im) {
        struct source *srcs[] = { &im->group, &im->passwd, &im->shadow };
        int r;

        for (size_t i = 0; i < ROLES_N_ELEMENTS(srcs); i++)
                if (srcs[i]->path && (r = read_source(srcs[i])) != EXIT_OK)
                        return r;
        /* Sized once from the line counts: no record moves, so pointers between them stay valid. */
        size_t n_member_max = im->group.data ? count_char(im->group.data, im->group.len, ',') + n_lines(&im->group) : 0;
        im->groups = calloc(n_lines(&im->group) + 1, sizeof(*im->groups));
        im->users = calloc(n_lines(&im->passwd) + 1, sizeof(*im->users));
        im->shadows = calloc(n_lines(&im->shadow) + 1, sizeof(*im->shadows));
        im->members = calloc(n_member_max + 1, sizeof(*im->members));
        if (!im->groups || !im->users || !im->shadows || !im->members)
                return cli_fail(EXIT_ERROR, "out of memory");

        if (im->group.data &&
            (r = each_line(im, &im->group, GROUP_LINE_FIELDS, "name:x:gid:members", parse_group)) != EXIT_OK)
                return r;
        if (im->passwd.data &&
            (r = each_line(im, &im->passwd, PASSWD_LINE_FIELDS, "name:x:uid:gid:gecos:home:shell", parse_passwd)) != EXIT_OK)
                return r;
        if (im->shadow.data &&
            (r = each_line(im, &im->shadow, SHADOW_LINE_FIELDS, "name:hash:lastchg:min:max:warn:inactive:expire:reserved",
                           parse_shadow)) != EXIT_OK)
                return r;
        return EXIT_OK;
}

static int check_files(struct import *im) {
        int r;
        if ((r = check_group_duplicates(im)) != EXIT_OK || (r = check_member_duplicates(im)) != EXIT_OK ||
            (r = check_user_duplicates(im)) != EXIT_OK || (r = check_shadow_duplicates(im)) != EXIT_OK)
                return r;
        return link_files(im);
}

/* ---- step 2: what roles already holds ------------------------------------------------------- */

/* Mark the record of the set with key's key, if there is one. */
static void mark_held(const struct rec_set *set, const void *key, size_t held_offset) {
        const void *rec = rec_set_find(set, key);
        if (rec)
                *(bool *) ((char *) rec + held_offset) = true;
}

/* Every name and id roles holds or held, marked on the records that have it: only those are
 * looked up one by one below, with the calls that say what the clash is. For an import into a
 * roles that holds few, that is a pass over what it holds instead of four lookups a record. */
static int mark_taken(void *userdata, enum roles_taken kind, const char *name, uint32_t id) {
        struct import *im = userdata;
        const struct imp_user user = { .name = name, .uid = id };
        const struct imp_group group = { .name = name, .gid = id };
        switch (kind) {
        case ROLES_TAKEN_USER:
                mark_held(&im->users_by_name, &user, offsetof(struct imp_user, held));
                mark_held(&im->users_by_uid, &user, offsetof(struct imp_user, held));
                break;
        case ROLES_TAKEN_RETIRED_UID:
                mark_held(&im->users_by_uid, &user, offsetof(struct imp_user, held));
                break;
        case ROLES_TAKEN_GROUP:
                mark_held(&im->groups_by_name, &group, offsetof(struct imp_group, held));
                mark_held(&im->groups_by_gid, &group, offsetof(struct imp_group, held));
                break;
        case ROLES_TAKEN_RETIRED_GID:
                mark_held(&im->groups_by_gid, &group, offsetof(struct imp_group, held));
                break;
        }
        return 0;
}

/* Lookups that should find nothing: 0 means a clash, -ENOENT is fine, anything else is a store error. */
/* An id that a deleted roles account or group had: an import never reuses one (a process or a
 * file of the old owner would become the imported account's), and has no --force. */
static int check_not_retired(struct cli *c, struct roles_writer *s, bool group, uint32_t id, const char *name,
                             const struct source *src, unsigned line) {
        char owner[ROLES_TEXT_MAX + 1], when[21];
        int64_t at = 0;
        int r = roles_retired_id(s, group, id, owner, sizeof(owner), &at);
        if (r < 0)
                return fail_store_at(c, r, src, line);
        if (r > 0)
                return fail_at(EXIT_CONFLICT, src, line, "%s %u of '%s' was the %s of roles %s '%s' until %s: a retired "
                               "id is never handed out again", group ? "gid" : "uid", id, name, group ? "gid" : "uid",
                               group ? "group" : "user", owner, roles_format_time(at, when));
        return EXIT_OK;
}

static int check_groups_against_roles(struct cli *c, struct roles_writer *s, struct import *im) {
        struct roles_group g;
        int r;

        for (size_t i = 0; i < im->n_groups; i++) {
                const struct imp_group *ig = &im->groups[i];
                if (!ig->held)
                        continue;
                if ((r = roles_group_by_name(roles_writer_snapshot(s), ig->name, &g)) == 0)
                        return fail_at(EXIT_CONFLICT, &im->group, ig->line, "group '%s' already exists in roles", ig->name);
                if (r == -ENOENT && (r = roles_group_by_gid(roles_writer_snapshot(s), ig->gid, &g)) == 0)
                        return fail_at(EXIT_CONFLICT, &im->group, ig->line, "gid %u of '%s' is already the gid of roles "
                                       "group '%s'", ig->gid, ig->name, g.name);
                if (r != -ENOENT)
                        return fail_store_at(c, r, &im->group, ig->line);
                if ((r = check_not_retired(c, s, true, ig->gid, ig->name, &im->group, ig->line)) != EXIT_OK)
                        return r;
        }
        return EXIT_OK;
}

/* A user whose name or uid roles holds or held (mark_taken): which, named by its line. */
static int check_held_user(struct cli *c, struct roles_writer *s, const struct import *im, const struct imp_user *iu) {
        struct roles_user u;
        int r;
        if ((r = roles_user_by_name(roles_writer_snapshot(s), iu->name, &u)) == 0)
                return fail_at(EXIT_CONFLICT, &im->passwd, iu->line, "user '%s' already exists in roles", iu->name);
        if (r == -ENOENT && (r = roles_user_by_uid(roles_writer_snapshot(s), iu->uid, &u)) == 0)
                return fail_at(EXIT_CONFLICT, &im->passwd, iu->line, "uid %u of '%s' is already the uid of roles "
                               "user '%s'", iu->uid, iu->name, u.name);
        if (r != -ENOENT)
                return fail_store_at(c, r, &im->passwd, iu->line);
        return check_not_retired(c, s, false, iu->uid, iu->name, &im->passwd, iu->line);
}

static int check_users_against_roles(struct cli *c, struct roles_writer *s, struct import *im) {
        struct roles_group g;
        int r;

        for (size_t i = 0; i < im->n_users; i++) {
                const struct imp_user *iu = &im->users[i];
                if (iu->held && (r = check_held_user(c, s, im, iu)) != EXIT_OK)
                        return r;
                if (file_has_gid(im, iu->gid))
                        continue;
                r = roles_group_by_gid(roles_writer_snapshot(s), iu->gid, &g);
                if (r == -ENOENT)
                        return fail_at(EXIT_NOT_FOUND, &im->passwd, iu->line, "primary gid %u of '%s' is no group of the "
                                       "group file nor of roles", iu->gid, iu->name);
                if (r < 0)
                        return fail_store_at(c, r, &im->passwd, iu->line);
        }
        return EXIT_OK;
}

static int check_members_against_roles(struct cli *c, struct roles_writer *s, struct import *im) {
        struct roles_user u;
        for (size_t i = 0; i < im->n_members; i++) {
                const struct imp_member *m = &im->members[i];
                if (m->user)
                        continue;
                int r = roles_user_by_name(roles_writer_snapshot(s), m->name, &u);
                if (r == -ENOENT)
                        return fail_at(EXIT_NOT_FOUND, &im->group, m->group->line, "member '%s' of group '%s' is no user "
                                       "of the passwd file nor of roles", m->name, m->group->name);
                if (r < 0)
                        return fail_store_at(c, r, &im->group, m->group->line);
        }
        return EXIT_OK;
}

/* ---- step 3: apply -------------------------------------------------------------------------- */

/* A new user as the store sees it; false if a field does not fit (parsing made sure they do). */
static bool user_of(const struct imp_user *iu, int64_t activated_at, struct roles_user *u) {
        *u = (struct roles_user) {
                .id = iu->id, .uid = iu->uid, .gid = iu->gid, .enabled = true, .activated_at = activated_at,
                .expires_at = iu->shadow ? iu->shadow->expires_at : 0,
        };
        memcpy(u->uuid, iu->uuid, sizeof(u->uuid));
        return roles_strcpy(u->name, sizeof(u->name), iu->name) >= 0 &&
               roles_strcpy(u->gecos, sizeof(u->gecos), iu->gecos) >= 0 &&
               roles_strcpy(u->home, sizeof(u->home), iu->home) >= 0 &&
               roles_strcpy(u->shell, sizeof(u->shell), iu->shell) >= 0;
}

static int add_groups(struct cli *c, struct roles_writer *s, struct import *im) {
        for (size_t i = 0; i < im->n_groups; i++) {
                struct imp_group *ig = &im->groups[i];
                ig->g = (struct roles_group) { .gid = ig->gid };
                if (roles_strcpy(ig->g.name, sizeof(ig->g.name), ig->name) < 0)
                        return fail_at(EXIT_USAGE, &im->group, ig->line, "group name too long");
                int r = roles_group_add(s, &ig->g);
                if (r < 0)
                        return fail_store_at(c, r, &im->group, ig->line);
        }
        return EXIT_OK;
}

static int add_users(struct cli *c, struct roles_writer *s, struct import *im) {
        struct roles_user u;

        for (size_t i = 0; i < im->n_users; i++) {
                struct imp_user *iu = &im->users[i];
                /* Both ids given: roles_user_add keeps them and makes no personal group. Activated
                 * now, as roles_user_add stamps created_at (never the other way round). */
                if (!user_of(iu, roles_snapshot_now(roles_writer_snapshot(s)), &u))
                        return fail_at(EXIT_USAGE, &im->passwd, iu->line, "a field of '%s' is too long", iu->name);
                int r = roles_user_add(s, &u);
                if (r < 0)
                        return fail_store_at(c, r, &im->passwd, iu->line);
                iu->id = u.id;
                memcpy(iu->uuid, u.uuid, sizeof(iu->uuid));
        }
        return EXIT_OK;
}

static int add_members(struct cli *c, struct roles_writer *s, struct import *im) {
        struct roles_user u = { 0 };

        for (size_t i = 0; i < im->n_members; i++) {
                const struct imp_member *m = &im->members[i];
                int r = 0;
                /* A user of the file: its id and name, what a membership is made of (copying
                 * all of the user, three million times, cost seconds). */
                if (m->user) {
                        u.id = m->user->id;
                        if (roles_strcpy(u.name, sizeof(u.name), m->user->name) < 0)
                                return fail_at(EXIT_USAGE, &im->passwd, m->user->line, "a field of '%s' is too long",
                                               m->name);
                } else
                        r = roles_user_by_name(roles_writer_snapshot(s), m->name, &u);
                if (r >= 0)
                        r = roles_group_add_member(s, &m->group->g, &u);
                if (r < 0)
                        return fail_store_at(c, r, &im->group, m->group->line);
        }
        return EXIT_OK;
}

static int set_hash(struct roles_writer *s, const struct imp_user *iu) {
        const struct imp_shadow *sh = iu->shadow;
        char stored[ROLES_HASH_ENCODED_MAX];
        bool legacy = sh->kind == HASH_CRYPT;

        /* Checked when parsing to fit with the marker. */
        snprintf(stored, sizeof(stored), "%s%s", legacy ? ROLES_HASH_LEGACY_CRYPT : "", sh->hash);
        /* shadow's lastchg 0 means "must change at next login"; other days are when it changed. */
        int r = roles_secret_set_password(roles_writer_secrets(s), iu->uuid, stored, sh->lastchg == 0);
        if (r >= 0 && sh->lastchg > 0)
                r = roles_secret_set_password_changed_at(s, iu->uuid, sh->lastchg * 86400);
        roles_wipe(stored, sizeof(stored));
        return r;
}

static int set_hashes(struct cli *c, struct roles_writer *s, struct import *im) {
        for (size_t i = 0; i < im->n_users; i++) {
                const struct imp_user *iu = &im->users[i];
                if (!iu->shadow || iu->shadow->kind == HASH_NONE || iu->password_locked)
                        continue;
                int r = set_hash(s, iu);
                if (r < 0)
                        return fail_store_at(c, r, &im->shadow, iu->shadow->line);
                if (iu->shadow->kind == HASH_CRYPT)
                        im->n_crypt++;
                else
                        im->n_argon2id++;
        }
        return EXIT_OK;
}

/* " KIND_sha256=HEX" for a file given, "" for one not. */
static const char *digest_field(char *buf, size_t size, const char *kind, const struct source *src) {
        if (!src->path)
                return "";
        snprintf(buf, size, " %s_sha256=%s", kind, src->sha256);
        return buf;
}

/*
 * An import is one row of the change audit: its counts and the digest of each file, from which
 * an administrator can tell what was imported (sha256sum the files kept), where a row per user,
 * group, membership and hash (four per user) made most of secrets.db.
 */
static int apply(struct cli *c, struct roles_writer *s, struct import *im) {
        char passwd_field[96], group_field[96], shadow_field[96];
        int r;
        roles_writer_audit_as_one(s);
        if ((r = add_groups(c, s, im)) != EXIT_OK || (r = add_users(c, s, im)) != EXIT_OK ||
            (r = add_members(c, s, im)) != EXIT_OK || (r = set_hashes(c, s, im)) != EXIT_OK)
                return r;
        const char *first = im->passwd.path ? im->passwd.path : im->group.path ? im->group.path : im->shadow.path;
        r = roles_audit_summary(s, "import", first,
                                "groups=%zu users=%zu memberships=%zu hashes=%zu legacy_crypt=%zu%s%s%s", im->n_groups,
                                im->n_users, im->n_members, im->n_crypt + im->n_argon2id, im->n_crypt,
                                digest_field(passwd_field, sizeof(passwd_field), "passwd", &im->passwd),
                                digest_field(group_field, sizeof(group_field), "group", &im->group),
                                digest_field(shadow_field, sizeof(shadow_field), "shadow", &im->shadow));
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

/*
 * No imported name may be one this host already resolves to a local account or group, and no
 * imported id one the host's own files hold (host_accounts.h): such an account would never be
 * served, and its members' groups would go to the local one.
 */
static int check_local_names(struct cli *c, const struct import *im) {
        const struct host_accounts *h;
        int r = cli_host(c, &h);
        if (r != EXIT_OK)
                return r;
        for (size_t i = 0; i < im->n_users; i++) {
                const struct imp_user *u = &im->users[i];
                if (host_accounts_user_clashes(h, u->name, strlen(u->name), u->uid, u->gid))
                        return fail_at(EXIT_CONFLICT, &im->passwd, u->line, "user '%s' (uid %u, gid %u): the host's "
                                       "own accounts hold its name or ids", u->name, u->uid, u->gid);
                if ((r = cli_check_local_name_in(c, h, u->name, false)) != EXIT_OK)
                        return r;
        }
        for (size_t i = 0; i < im->n_groups; i++) {
                const struct imp_group *g = &im->groups[i];
                if (host_accounts_group_clashes(h, g->name, strlen(g->name), g->gid))
                        return fail_at(EXIT_CONFLICT, &im->group, g->line, "group '%s' (gid %u): the host's own "
                                       "groups hold its name or gid", g->name, g->gid);
                if ((r = cli_check_local_name_in(c, h, g->name, true)) != EXIT_OK)
                        return r;
        }
        return EXIT_OK;
}

/* ---- the command -------------------------------------------------------------------------- */

#define PLURAL(n, suffix) ((n) == 1 ? "" : (suffix))

/* Printed by main once the snapshot is published. */
static void print_summary(struct cli *c, const struct import *im) {
        size_t hashes = im->n_crypt + im->n_argon2id, without = im->n_users - hashes;
        if (c->json) {
                cli_answer_number(c, "groups", (long long) im->n_groups);
                cli_answer_number(c, "users", (long long) im->n_users);
                cli_answer_number(c, "memberships", (long long) im->n_members);
                cli_answer_number(c, "password_hashes", (long long) hashes);
                cli_answer_number(c, "legacy_crypt", (long long) im->n_crypt);
                cli_answer_number(c, "argon2id", (long long) im->n_argon2id);
                cli_answer_number(c, "users_without_password", (long long) without);
                return;
        }
        fprintf(c->out, "imported %zu group%s, %zu user%s, %zu membership%s, %zu password hash%s (%zu legacy crypt, "
                "%zu argon2id)\n", im->n_groups, PLURAL(im->n_groups, "s"), im->n_users, PLURAL(im->n_users, "s"),
                im->n_members, PLURAL(im->n_members, "s"), hashes, PLURAL(hashes, "es"), im->n_crypt, im->n_argon2id);
        if (without > 0)
                fprintf(c->out, "%zu user%s without a password (none in shadow, or '!' or '*'): no password login until "
                        "one is set\n", without, PLURAL(without, "s"));
}

static void import_free(struct import *im) {
        /* The shadow file held hashes: wipe it, and every copy made from it, before freeing. */
        if (im->shadow.data)
                roles_wipe(im->shadow.data, im->shadow.len);
        free(im->shadow.data);
        free(im->passwd.data);
        free(im->group.data);
        free(im->groups);
        free(im->users);
        free(im->shadows);
        free(im->members);
        rec_set_free(&im->users_by_name);
        rec_set_free(&im->users_by_uid);
        rec_set_free(&im->groups_by_name);
        rec_set_free(&im->groups_by_gid);
}

enum { O_PASSWD, O_GROUP, O_SHADOW };

int cmd_import(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = {
                [O_PASSWD] = { "passwd", true }, [O_GROUP] = { "group", true }, [O_SHADOW] = { "shadow", true },
                { NULL, false },
        };
        struct import im = { .cfg = &c->cfg };
        struct roles_writer *s;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, spec, 0, &a) < 0)
                return EXIT_USAGE;
        im.passwd.path = args_opt(&a, O_PASSWD);
        im.group.path = args_opt(&a, O_GROUP);
        im.shadow.path = args_opt(&a, O_SHADOW);
        if (!im.passwd.path && !im.group.path && !im.shadow.path)
                return cli_fail(EXIT_USAGE, "nothing to import; usage: %s", cli_usage(c));

        /* The files are read and checked before the writer lock is taken, as a password is. */
        if ((r = load_files(&im)) != EXIT_OK || (r = check_files(&im)) != EXIT_OK ||
            (r = check_local_names(c, &im)) != EXIT_OK)
                goto out;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                goto out;
        if ((r = roles_writer_begin_bulk(s, im.n_groups + 2 * im.n_users)) < 0) {
                r = cli_fail_store(c, r);
                goto out;
        }
        if ((r = roles_writer_each_taken(s, mark_taken, &im)) < 0) {
                r = cli_fail_store(c, r);
                goto out;
        }
        if ((r = check_groups_against_roles(c, s, &im)) != EXIT_OK ||
            (r = check_users_against_roles(c, s, &im)) != EXIT_OK ||
            (r = check_members_against_roles(c, s, &im)) != EXIT_OK || (r = apply(c, s, &im)) != EXIT_OK)
                goto out;
        print_summary(c, &im);
out:
        import_free(&im);
        return r;
}
