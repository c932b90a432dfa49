/* SPDX-License-Identifier: MIT */
#include "host_accounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* /etc/passwd of a host with a million local accounts is about 60 MiB; refuse beyond that
 * rather than read without bound (the caller then fails closed). */
#define HOST_FILE_MAX (256u << 20)

struct name_key {
        const char *p;
        size_t n;
};

static int compare_names(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int compare_key_name(const void *key, const void *elem) {
        const struct name_key *k = key;
        const char *name = *(const char *const *) elem;
        int c = strncmp(k->p, name, k->n);
        /* k is a prefix of name (or equal): equal only if name ends there. */
        return c != 0 ? c : -(name[k->n] != '\0');
}

static int compare_ids(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return (x > y) - (x < y);
}

static void file_clear(struct host_file *f) {
        free(f->text);
        free(f->names);
        free(f->ids);
        f->text = NULL;
        f->names = NULL;
        f->ids = NULL;
        f->n_names = f->n_ids = 0;
}

static bool same_version(const struct host_file *f, const struct stat *st) {
        return f->loaded && f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
               f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
               f->ctime.tv_sec == st->st_ctim.tv_sec && f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void remember_version(struct host_file *f, const struct stat *st) {
        f->dev = st->st_dev;
        f->ino = st->st_ino;
        f->size = st->st_size;
        f->mtime = st->st_mtim;
        f->ctime = st->st_ctim;
        f->loaded = true;
}

/*
 * Every line's first field is a name the host holds, whatever the rest of the line looks like:
 * counting too much here only ever hides a roles account, never lends one a local name. Lines
 * glibc's files service skips ('#' comments, NIS '+'/'-' entries) add their names too, for the
 * same reason. Leading blanks are skipped, as glibc's parser skips them (" sudo:x:27:" is the
 * group sudo to glibc). The third field is the id where glibc's strtoul would read one there.
 */
static int parse_file(struct host_file *f, char *text, size_t len) {
        size_t lines = 1;
        for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
        const char **names = calloc(lines, sizeof(*names));
        uint32_t *ids = calloc(lines, sizeof(*ids));
        if (!names || !ids) {
                free(names);
                free(ids);
                return -ENOMEM;
        }
        size_t n_names = 0, n_ids = 0;
        for (char *line = text; line < text + len;) {
                char *nl = memchr(line, '\n', (size_t) (text + len - line));
                char *end = nl ? nl : text + len;
                *end = '\0';
                while (line < end && (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\v' || *line == '\f'))
                        line++;
                char *f1 = strchr(line, ':');
                char *f2 = f1 ? strchr(f1 + 1, ':') : NULL;
                char *f3 = f2 ? strchr(f2 + 1, ':') : NULL;
                if (f1 && f1 > line) {
                        *f1 = '\0';
                        names[n_names++] = line;
                }
                if (f2) {
                        if (f3)
                                *f3 = '\0';
                        char *id_end;
                        errno = 0;
                        unsigned long id = strtoul(f2 + 1, &id_end, 10);
                        if (id_end != f2 + 1 && *id_end == '\0' && errno == 0 && id <= UINT32_MAX)
                                ids[n_ids++] = (uint32_t) id;
                }
                line = end + 1;
        }
        qsort(names, n_names, sizeof(*names), compare_names);
        qsort(ids, n_ids, sizeof(*ids), compare_ids);
        file_clear(f);
        f->text = text;
        f->names = names;
        f->ids = ids;
        f->n_names = n_names;
        f->n_ids = n_ids;
        return 0;
}

/* 1 read again, 0 unchanged, -errno. */
static int refresh_file(struct host_file *f) {
        struct stat st;
        if (stat(f->path, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                if (f->loaded && f->ino == 0)
                        return 0;
                file_clear(f);
                *f = (struct host_file) { .path = f->path, .loaded = true };  /* missing: empty, ino 0 */
                return 1;
        }
        if (same_version(f, &st))
                return 0;
        int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -EAGAIN : -errno;
        char *text = NULL;
        size_t len = 0;
        int r = fstat(fd, &st) < 0 ? -errno : roles_read_fd(fd, HOST_FILE_MAX, &text, &len);
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
        remember_version(f, &st);
        return 1;
}

void host_accounts_init(struct host_accounts *h, const char *passwd_path, const char *group_path) {
        *h = (struct host_accounts) { .passwd = { .path = passwd_path }, .group = { .path = group_path } };
}

void host_accounts_done(struct host_accounts *h) {
        file_clear(&h->passwd);
        file_clear(&h->group);
        h->passwd.loaded = h->group.loaded = false;
}

int host_accounts_refresh(struct host_accounts *h) {
        int r = refresh_file(&h->passwd);
        if (r >= 0) {
                int g = refresh_file(&h->group);
                r = g < 0 ? g : r | g;
        }
        if (r < 0) {
                /* Nothing half-known is used: the next call reads both again. */
                h->passwd.loaded = h->group.loaded = false;
                return r;
        }
        if (r > 0)
                h->generation++;
        return 0;
}

static bool has_name(const struct host_file *f, const char *name, size_t n) {
        struct name_key k = { name, n };
        return bsearch(&k, f->names, f->n_names, sizeof(*f->names), compare_key_name) != NULL;
}

static bool has_id(const struct host_file *f, uint32_t id) {
        return bsearch(&id, f->ids, f->n_ids, sizeof(*f->ids), compare_ids) != NULL;
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

bool host_accounts_user_clashes(const struct host_accounts *h, const char *name, size_t name_len, uint32_t uid,
                                uint32_t gid) {
        return has_name(&h->passwd, name, name_len) || has_id(&h->passwd, uid) || has_id(&h->group, gid);
}

bool host_accounts_group_clashes(const struct host_accounts *h, const char *name, size_t name_len, uint32_t gid) {
        return has_name(&h->group, name, name_len) || has_id(&h->group, gid);
}
