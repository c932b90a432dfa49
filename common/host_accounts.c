/* SPDX-License-Identifier: MIT */
#include "host_accounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passwd_line.h"
#include "util.h"

/* /etc/passwd of a host with a million local accounts is about 60 MiB; refuse beyond that
 * rather than read without bound (the caller then fails closed). */
#define HOST_FILE_MAX (256u << 20)

/* The names' hash table's hash: eight bytes a step (a byte at a time, as FNV does, cost more
 * than the probe it spares), each mixed in with a multiply. */
static uint64_t hash_name(const char *name, size_t n) {
        const uint64_t k = 0x9E3779B97F4A7C15ULL;
        uint64_t h = n * k, w;
        size_t i = 0;
        for (; n - i >= 8; i += 8) {
                memcpy(&w, name + i, 8);
                h = (h ^ w) * k;
                h ^= h >> 29;
        }
        for (w = 0; i < n; i++)
                w = w << 8 | (unsigned char) name[i];
        h = (h ^ w) * k;
        return h ^ h >> 32;
}

/* A name's bit in a file's name filter: from its length and its first and last bytes, three
 * loads and a multiply. Most names that a file does not hold have a bit no name of it sets. */
static unsigned filter_bit(const char *name, size_t n) {
        uint32_t x = (uint32_t) n ^ (uint32_t) (unsigned char) name[0] << 8 ^ (uint32_t) (unsigned char) name[n - 1] << 16;
        return (x * 0x9E3779B1u) >> 22;
}

static int compare_ids(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return (x > y) - (x < y);
}

static int compare_ranges(const void *a, const void *b) {
        const struct host_id_range *x = a, *y = b;
        return (x->first > y->first) - (x->first < y->first);
}

static void file_clear(struct host_file *f) {
        free(f->text);
        free(f->names);
        free(f->name_slots);
        free(f->ids);
        free(f->gids);
        free(f->ranges);
        f->text = NULL;
        f->names = NULL;
        f->name_slots = NULL;
        f->ids = NULL;
        f->gids = NULL;
        f->ranges = NULL;
        f->n_names = f->n_name_slots = f->n_ids = f->n_gids = f->n_ranges = 0;
        memset(f->name_filter, 0, sizeof(f->name_filter));
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * The next line of text..end (end: the NUL after the file), leading blanks skipped (as glibc's and
 * shadow's parsers skip them), NUL-terminated in place, its length in *ret_len; *next is where the
 * line after it starts. A NUL inside a line ends it, as it does for glibc and shadow, which read
 * lines as C strings: strchrnul finds either end in the one pass.
 */
static char *next_line(char *line, char *end, char **next, size_t *ret_len) {
        char *stop = strchrnul(line, '\n');
        char *nl = *stop == '\n' ? stop : memchr(stop, '\n', (size_t) (end - stop));
        char *after = nl ? nl : end;
        *stop = *after = '\0';
        *next = after + 1;
        while (line < stop && is_blank(*line))
                line++;
        *ret_len = (size_t) (stop - line);
        return line;
}

/* A number that strtoull reads at p in base, without a sign (what follows it does not matter). */
static bool parse_number(const char *p, int base, uint64_t *ret) {
        char *end;
        if (*p == '-' || *p == '+')
                return false;
        errno = 0;
        unsigned long long v = strtoull(p, &end, base);
        if (end == p || errno != 0)
                return false;
        *ret = v;
        return true;
}

/* The id a whole field holds, where glibc's strtoul would read one there. */
static bool field_id(const char *field, uint32_t *ret) {
        char *end;
        errno = 0;
        unsigned long id = strtoul(field, &end, 10);
        if (end == field || *end != '\0' || errno != 0 || id > UINT32_MAX)
                return false;
        *ret = (uint32_t) id;
        return true;
}

/*
 * The names by hash, behind the filter: the NSS module checks a name against the host's for every
 * entry an enumeration serves and every member of its groups, where a binary search and its string
 * comparisons cost 26 ns a name (here, 25 local accounts), the table 10 ns, and the filter 4 ns
 * for a name the file does not hold (most). At least twice as many slots as names, so a probe
 * ends soon (and always: some slot is empty).
 */
static int index_names(struct host_file *out) {
        size_t n_slots = 1;
        if (out->n_names == 0)
                return 0;
        while (n_slots < 2 * out->n_names)
                n_slots <<= 1;
        out->name_slots = calloc(n_slots, sizeof(*out->name_slots));
        if (!out->name_slots)
                return -ENOMEM;
        out->n_name_slots = n_slots;
        for (size_t i = 0; i < out->n_names; i++) {
                size_t n = strlen(out->names[i]);
                uint64_t h = hash_name(out->names[i], n);
                size_t at = h & (n_slots - 1);
                while (out->name_slots[at].index)
                        at = (at + 1) & (n_slots - 1);
                out->name_slots[at] = (struct host_name_slot) { (uint32_t) i + 1, (uint32_t) (h >> 32) };
                unsigned bit = filter_bit(out->names[i], n);
                out->name_filter[bit / 64] |= 1ULL << (bit % 64);
        }
        return 0;
}

/*
 * passwd, group: every line's first field is a name the host holds, whatever the rest of the line
 * looks like: counting too much here only ever hides a roles account, never lends one a local
 * name. Lines glibc's files service skips ('#' comments, NIS '+'/'-' entries) add their names
 * too, for the same reason. The third field is the id where glibc's strtoul would read one there,
 * and passwd's fourth the primary gid (which no line of /etc/group needs to hold).
 */
static int parse_accounts(struct host_file *out, char *text, size_t len, size_t lines, bool passwd) {
        out->names = calloc(lines, sizeof(*out->names));
        out->ids = calloc(lines, sizeof(*out->ids));
        out->gids = passwd ? calloc(lines, sizeof(*out->gids)) : NULL;
        if (!out->names || !out->ids || (passwd && !out->gids))
                return -ENOMEM;
        for (char *line = text, *next; line < text + len; line = next) {
                size_t n;
                line = next_line(line, text + len, &next, &n);
                struct passwd_field f[4];
                size_t k = passwd_line_fields(line, n, f, passwd ? 4 : 3);
                if (k >= 2 && f[0].n > 0)
                        out->names[out->n_names++] = passwd_line_cut(line, f[0]);
                if (k >= 3 && field_id(passwd_line_cut(line, f[2]), &out->ids[out->n_ids]))
                        out->n_ids++;
                if (k >= 4 && passwd && field_id(passwd_line_cut(line, f[3]), &out->gids[out->n_gids]))
                        out->n_gids++;
        }
        qsort(out->ids, out->n_ids, sizeof(*out->ids), compare_ids);
        if (passwd)
                qsort(out->gids, out->n_gids, sizeof(*out->gids), compare_ids);
        return index_names(out);
}

/*
 * subuid, subgid: "owner:start:count" per line, the owner a name or a uid. Every range counts,
 * whoever owns it, and a line with numbers where shadow's stricter parser would refuse it counts
 * too ('#' lines, trailing text): an id counted too many is only one roles does not hand out.
 */
static int parse_subids(struct host_file *out, char *text, size_t len, size_t lines) {
        out->ranges = calloc(lines, sizeof(*out->ranges));
        if (!out->ranges)
                return -ENOMEM;
        for (char *line = text, *next; line < text + len; line = next) {
                size_t n;
                line = next_line(line, text + len, &next, &n);
                struct passwd_field f[3];
                uint64_t start, count;
                /* strtoull stops at the ':' after a number: what follows it does not matter. */
                if (passwd_line_fields(line, n, f, 3) < 3 || !parse_number(f[1].p, 10, &start) ||
                    !parse_number(f[2].p, 10, &count) || start > UINT32_MAX || count == 0)
                        continue;
                uint64_t last = count - 1 > UINT32_MAX - start ? UINT32_MAX : start + count - 1;
                out->ranges[out->n_ranges++] = (struct host_id_range) {
                        .first = (uint32_t) start, .last = (uint32_t) last, .owner = passwd_line_cut(line, f[0]),
                };
        }
        qsort(out->ranges, out->n_ranges, sizeof(*out->ranges), compare_ranges);
        uint32_t reach = 0;
        for (size_t i = 0; i < out->n_ranges; i++) {
                reach = out->ranges[i].last > reach ? out->ranges[i].last : reach;
                out->ranges[i].reach = reach;
        }
        return 0;
}

/*
 * login.defs: "KEY value" lines. As in shadow's getdef, '#' starts a comment line, the last line
 * of a key wins, a number may be given in any base strtoul(..., 0) reads, and a key that is
 * missing or not a number is the built-in default.
 */
static int parse_login_defs(struct host_file *out, char *text, size_t len) {
        static const struct {
                const char *key;
                size_t range;
                bool last;
        } keys[] = {
                { "UID_MIN", 0, false }, { "UID_MAX", 0, true }, { "GID_MIN", 1, false }, { "GID_MAX", 1, true },
        };
        out->ranges = calloc(2, sizeof(*out->ranges));
        if (!out->ranges)
                return -ENOMEM;
        out->n_ranges = 2;
        out->ranges[0] = (struct host_id_range) { HOST_LOGIN_ID_MIN, HOST_LOGIN_ID_MAX, 0, "UID_MIN..UID_MAX" };
        out->ranges[1] = (struct host_id_range) { HOST_LOGIN_ID_MIN, HOST_LOGIN_ID_MAX, 0, "GID_MIN..GID_MAX" };
        for (char *line = text, *next; line < text + len; line = next) {
                size_t n;
                line = next_line(line, text + len, &next, &n);
                size_t key_len = strcspn(line, " \t\r\v\f");
                const char *value = line + key_len;
                while (is_blank(*value))
                        value++;
                uint64_t v;
                for (size_t i = 0; i < ROLES_N_ELEMENTS(keys); i++) {
                        if (strlen(keys[i].key) != key_len || strncmp(line, keys[i].key, key_len) != 0 ||
                            !parse_number(value, 0, &v) || v > UINT32_MAX)
                                continue;
                        struct host_id_range *r = &out->ranges[keys[i].range];
                        *(keys[i].last ? &r->last : &r->first) = (uint32_t) v;
                }
        }
        return 0;
}

static int parse_file(struct host_file *f, char *text, size_t len) {
        struct host_file parsed = { 0 };
        size_t lines = 1;
        for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
        int r = f->kind == HOST_FILE_PASSWD || f->kind == HOST_FILE_GROUP
                        ? parse_accounts(&parsed, text, len, lines, f->kind == HOST_FILE_PASSWD)
                : f->kind == HOST_FILE_SUBIDS ? parse_subids(&parsed, text, len, lines)
                : parse_login_defs(&parsed, text, len);
        if (r < 0) {
                file_clear(&parsed);
                return r;
        }
        file_clear(f);
        f->text = text;
        f->names = parsed.names;
        f->name_slots = parsed.name_slots;
        f->n_name_slots = parsed.n_name_slots;
        memcpy(f->name_filter, parsed.name_filter, sizeof(f->name_filter));
        f->ids = parsed.ids;
        f->gids = parsed.gids;
        f->ranges = parsed.ranges;
        f->n_names = parsed.n_names;
        f->n_ids = parsed.n_ids;
        f->n_gids = parsed.n_gids;
        f->n_ranges = parsed.n_ranges;
        return 0;
}

/* A file that is not there: an empty one, except /etc/passwd and /etc/group, which are always
 * there (one that is missing is no proof that the host has no accounts, and the rule must not
 * pass everything then). 1 changed, 0 unchanged (it was already missing), -errno. */
static int file_missing(struct host_file *f) {
        if (f->kind == HOST_FILE_PASSWD || f->kind == HOST_FILE_GROUP)
                return -ENOENT;
        if (f->loaded && f->stamp.ino == 0)
                return 0;
        file_clear(f);
        *f = (struct host_file) { .path = f->path, .kind = f->kind, .loaded = true };     /* stamp { 0 } */
        return 1;
}

/* 1 read again, 0 unchanged, -errno. */
static int refresh_file(struct host_file *f) {
        struct stat st;
        if (!f->path) {
                f->loaded = true;
                return 0;
        }
        /* Once read, a stat says whether it changed. The first time, the open's own fstat is
         * that look (a process's first name lookup pays for every system call here). */
        if (f->loaded) {
                if (stat(f->path, &st) < 0)
                        return errno == ENOENT ? file_missing(f) : -errno;
                struct roles_file_stamp now = roles_file_stamp_of(&st);
                if (roles_file_stamp_equal(&now, &f->stamp))
                        return 0;
        }
        int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                /* Gone between the stat and the open: being replaced; look again next time. */
                return f->loaded ? -EAGAIN : file_missing(f);
        }
        char *text = NULL;
        size_t len = 0;
        int r = fstat(fd, &st) < 0 ? -errno : roles_read_fd_stat(fd, &st, HOST_FILE_MAX, &text, &len);
        close(fd);
        if (r < 0)
                return r;
        r = parse_file(f, text, len);
        if (r < 0) {
                free(text);
                return r;
        }
        /* The version of what was read (fstat of the open file), not of what stat saw: a file
         * replaced in between is read again next time. */
        f->stamp = roles_file_stamp_of(&st);
        f->loaded = true;
        return 1;
}

#define HOST_N_FILES 5

/* Every file of h, in the order they are read. */
static void files_of(struct host_accounts *h, struct host_file *ret[static HOST_N_FILES]) {
        ret[0] = &h->passwd;
        ret[1] = &h->group;
        ret[2] = &h->subuid;
        ret[3] = &h->subgid;
        ret[4] = &h->login_defs;
}

void host_accounts_init(struct host_accounts *h, const struct host_paths *paths) {
        *h = (struct host_accounts) {
                .passwd = { .path = paths->passwd, .kind = HOST_FILE_PASSWD },
                .group = { .path = paths->group, .kind = HOST_FILE_GROUP },
                .subuid = { .path = paths->subuid, .kind = HOST_FILE_SUBIDS },
                .subgid = { .path = paths->subgid, .kind = HOST_FILE_SUBIDS },
                .login_defs = { .path = paths->login_defs, .kind = HOST_FILE_LOGIN_DEFS },
        };
}

static void forget_all(struct host_file *files[static HOST_N_FILES]) {
        for (size_t i = 0; i < HOST_N_FILES; i++)
                files[i]->loaded = false;
}

void host_accounts_done(struct host_accounts *h) {
        struct host_file *files[HOST_N_FILES];
        files_of(h, files);
        for (size_t i = 0; i < HOST_N_FILES; i++)
                file_clear(files[i]);
        forget_all(files);
}

int host_accounts_refresh(struct host_accounts *h) {
        struct host_file *files[HOST_N_FILES];
        int changed = 0;
        files_of(h, files);
        for (size_t i = 0; i < HOST_N_FILES; i++) {
                int r = refresh_file(files[i]);
                if (r < 0) {
                        /* Nothing half-known is used: the next call reads them all again. */
                        forget_all(files);
                        h->failed = files[i]->path;
                        return r;
                }
                changed |= r;
        }
        h->failed = NULL;
        if (changed)
                h->generation++;
        return 0;
}

/* Is name (n bytes) one of f's names, exactly? */
static bool has_name(const struct host_file *f, const char *name, size_t n) {
        if (f->n_name_slots == 0 || n == 0)
                return false;
        unsigned bit = filter_bit(name, n);
        if (!(f->name_filter[bit / 64] & 1ULL << (bit % 64)))
                return false;
        size_t mask = f->n_name_slots - 1;
        uint64_t h = hash_name(name, n);
        for (size_t at = h & mask; f->name_slots[at].index; at = (at + 1) & mask) {
                const char *host = f->names[f->name_slots[at].index - 1];
                if (f->name_slots[at].hash == (uint32_t) (h >> 32) && strnlen(host, n + 1) == n &&
                    memcmp(host, name, n) == 0)
                        return true;
        }
        return false;
}

static bool in_ids(const uint32_t *ids, size_t n, uint32_t id) {
        /* bsearch's array must not be NULL, even for no elements (a file with no ids). Outside
         * the sorted ids' span first: roles' ids lie above all of a host's, and initgroups asks
         * this of every gid of a user in a thousand groups (the search was a third of its time). */
        return n > 0 && id >= ids[0] && id <= ids[n - 1] && bsearch(&id, ids, n, sizeof(*ids), compare_ids) != NULL;
}

static bool has_id(const struct host_file *f, uint32_t id) {
        return in_ids(f->ids, f->n_ids, id);
}

bool host_accounts_has_user(const struct host_accounts *h, const char *name) {
        return has_name(&h->passwd, name, strlen(name));
}

bool host_accounts_has_user_n(const struct host_accounts *h, const char *name, size_t n) {
        return has_name(&h->passwd, name, n);
}

bool host_accounts_has_uid(const struct host_accounts *h, uint32_t uid) {
        return has_id(&h->passwd, uid);
}

bool host_accounts_has_group(const struct host_accounts *h, const char *name) {
        return has_name(&h->group, name, strlen(name));
}

bool host_accounts_has_group_n(const struct host_accounts *h, const char *name, size_t n) {
        return has_name(&h->group, name, n);
}

bool host_accounts_has_gid(const struct host_accounts *h, uint32_t gid) {
        return has_id(&h->group, gid);
}

/* A gid is the host's when /etc/group has it, or when a local account has it as its primary gid
 * without a line in /etc/group (useradd -N -g): that account's group-owned files are its. */
static bool host_gid(const struct host_accounts *h, uint32_t gid) {
        return has_id(&h->group, gid) || host_accounts_has_primary_gid(h, gid);
}

bool host_accounts_user_clashes(const struct host_accounts *h, const char *name, size_t name_len, uint32_t uid,
                                uint32_t gid) {
        return has_name(&h->passwd, name, name_len) || has_id(&h->passwd, uid) || host_gid(h, gid);
}

bool host_accounts_group_clashes(const struct host_accounts *h, const char *name, size_t name_len, uint32_t gid) {
        return has_name(&h->group, name, name_len) || host_gid(h, gid);
}

/* The ranges of f that start at or before id: how many, so that [n - 1] is the last of them. */
static size_t ranges_upto(const struct host_file *f, uint32_t id) {
        size_t lo = 0, hi = f->n_ranges;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (f->ranges[mid].first <= id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

const struct host_id_range *host_accounts_subid_range(const struct host_accounts *h, uint32_t id, bool group) {
        const struct host_file *f = group ? &h->subgid : &h->subuid;
        size_t n = ranges_upto(f, id);
        if (n == 0 || f->ranges[n - 1].reach < id)
                return NULL;
        /* reach says one of them holds id: the nearest is the likeliest. */
        for (size_t i = n; i-- > 0;)
                if (f->ranges[i].last >= id)
                        return &f->ranges[i];
        return NULL;
}

bool host_accounts_has_primary_gid(const struct host_accounts *h, uint32_t gid) {
        return in_ids(h->passwd.gids, h->passwd.n_gids, gid);
}

/* An id of the host's accounts: a uid, or a gid of a group or of an account's primary group. */
static bool account_id(const struct host_accounts *h, uint32_t id, bool group) {
        return group ? has_id(&h->group, id) || host_accounts_has_primary_gid(h, id) : has_id(&h->passwd, id);
}

bool host_accounts_id_used(const struct host_accounts *h, uint32_t id, bool group) {
        return account_id(h, id, group) || host_accounts_subid_range(h, id, group);
}

bool host_accounts_next_unused(const struct host_accounts *h, uint32_t from, bool group, uint32_t *ret) {
        const struct host_file *subids = group ? &h->subgid : &h->subuid;
        for (uint64_t id = from; id <= UINT32_MAX;) {
                size_t n = ranges_upto(subids, (uint32_t) id);
                /* The range that reaches furthest starts at or before id: it holds id..reach. */
                if (n > 0 && subids->ranges[n - 1].reach >= id)
                        id = (uint64_t) subids->ranges[n - 1].reach + 1;
                else if (account_id(h, (uint32_t) id, group))
                        id++;
                else {
                        *ret = (uint32_t) id;
                        return true;
                }
        }
        return false;
}

bool host_accounts_login_range(const struct host_accounts *h, bool group, struct host_id_range *ret) {
        const struct host_file *f = &h->login_defs;
        if (!f->path)
                return false;
        if (f->n_ranges == 2)
                *ret = f->ranges[group];
        else    /* a missing file: shadow's defaults */
                *ret = (struct host_id_range) { HOST_LOGIN_ID_MIN, HOST_LOGIN_ID_MAX, 0,
                                                group ? "GID_MIN..GID_MAX" : "UID_MIN..UID_MAX" };
        return true;
}

const struct host_id_range *host_accounts_subid_ranges(const struct host_accounts *h, bool group, size_t *ret_n) {
        const struct host_file *f = group ? &h->subgid : &h->subuid;
        *ret_n = f->n_ranges;
        return f->ranges;
}
