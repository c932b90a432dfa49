/* SPDX-License-Identifier: MIT */
/*
 * `rolesctl backup FILE`: one tar archive (POSIX ustar) holding roles.db, secrets.db and
 * state.db as they stand at one moment. The writer lock keeps roles.db and secrets.db still;
 * each file is read with sqlite3_serialize inside a transaction, so pages written by a login
 * meanwhile are either all in or all out, and roles.db and secrets.db come with what their
 * WALs hold folded in: each entry is a whole database by itself.
 *
 * `rolesctl restore FILE`: the same archive put back. Not tar -x: that would leave the live
 * roles.db-wal and secrets.db-wal beside the restored files (SQLite replays a WAL onto
 * whatever file has the name),
 * restore whatever owner, mode, link or path a hostile archive names, and run while logins read
 * and write. Here the archive is data: its three members are written to new files, checked, and
 * renamed into place under the writer lock (store_writer_replace_files).
 *
 * A fleet host's archive also names the host (a fourth member, fleet-host: the role its outbox
 * is shipped as). state.db's outbox holds events the host had not shipped yet; put back on
 * another host, they would be shipped again as that host's, and the fleet would count each
 * failure twice, towards a lockout, and place the logins on the wrong host. So restore keeps the
 * archive's outbox only when the archive is this host's own (prepare_state). Nor, then, its login
 * tracking and login audit: the logins they record happened on that host, and here they would be
 * shown as this host's (the "last login" a user is told, the audit an administrator reads). Its
 * tallies and used TOTP steps are kept, fail closed: a lock stays until an administrator lifts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store-internal.h"

/* A table whose ids count up, and whether it has handed out one past 2^53 (check_counters). */
struct counted {
        const char *table, *past_sql;
};
#define COUNTED(table) { table, "SELECT (SELECT max(seq) FROM sqlite_sequence WHERE name = '" table "') > " \
                         "9007199254740992 OR (SELECT max(id) FROM " table ") > 9007199254740992" }

/* The archive's members: what backup writes and all that restore accepts. */
static const struct member {
        const char *name;
        enum store_file which;
        mode_t mode;            /* the live file's */
        bool required;          /* state.db: tallies and login tracking, nothing a restore needs */
        struct counted counted[2];
} members[] = {
        { "roles.db", STORE_PUBLIC, 0644, true, { COUNTED("users"), COUNTED("groups") } },
        { "secrets.db", STORE_SECRETS, 0600, true, { { NULL, NULL } } },
        { "state.db", STORE_STATE, 0600, false, { COUNTED("outbox"), COUNTED("login_audit") } },
};

/* The archive's fourth member, written by a fleet host only: its role (roles_fleet_host_role) and
 * a newline. After the databases, so that an archive begins with roles.db whoever wrote it. */
#define HOST_MEMBER "fleet-host"

static sqlite3 *member_db(struct roles_store *s, enum store_file which) {
        return which == STORE_PUBLIC ? s->pub : which == STORE_SECRETS ? s->sec : s->state;
}

static const char *member_path(const struct roles_store *s, enum store_file which) {
        return which == STORE_PUBLIC ? s->cfg.public_db : which == STORE_SECRETS ? s->cfg.secrets_db : s->cfg.state_db;
}

#define TAR_BLOCK 512

static int tar_entry(int fd, const char *name, const void *data, size_t size, time_t mtime, mode_t mode) {
        uint8_t h[TAR_BLOCK] = { 0 };
        static const uint8_t zeros[TAR_BLOCK];

        snprintf((char *) h, 100, "%s", name);
        snprintf((char *) h + 100, 8, "%07o", (unsigned) mode);
        snprintf((char *) h + 108, 8, "%07o", 0u);
        snprintf((char *) h + 116, 8, "%07o", 0u);
        snprintf((char *) h + 124, 12, "%011llo", (unsigned long long) size);
        snprintf((char *) h + 136, 12, "%011llo", (unsigned long long) mtime);
        memset(h + 148, ' ', 8);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        snprintf((char *) h + 265, 32, "root");
        snprintf((char *) h + 297, 32, "root");
        unsigned sum = 0;
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);

        int r = roles_write_all(fd, h, sizeof(h));
        if (r >= 0)
                r = roles_write_all(fd, data, size);
        if (r >= 0 && size % TAR_BLOCK)
                r = roles_write_all(fd, zeros, TAR_BLOCK - size % TAR_BLOCK);
        return r;
}

static int add_db(struct roles_store *s, int fd, const char *name, sqlite3 *db, mode_t mode) {
        sqlite3_int64 size = 0;
        /* roles.db and secrets.db are already inside this writer's transactions; state.db needs
         * its own. */
        bool own_txn = sqlite3_get_autocommit(db);
        if (own_txn) {
                int r = store_exec_script(s, db, "BEGIN");
                if (r < 0)
                        return r;
        }
        unsigned char *data = sqlite3_serialize(db, "main", &size, 0);
        if (own_txn)
                sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (!data)
                return store_fail(s, -ENOMEM, "cannot read %s for the backup", name);
        int r = tar_entry(fd, name, data, (size_t) size, store_now(s), mode);
        explicit_bzero(data, (size_t) size);    /* every hash and TOTP secret */
        sqlite3_free(data);
        return r < 0 ? store_fail(s, r, "writing the backup: %s", strerror(-r)) : 0;
}

/*
 * The archive is written to an unnamed file in FILE's directory (O_TMPFILE) and given its name
 * only once whole: a backup killed while it writes (or the power lost) leaves nothing, where a
 * named temporary, "FILE.XXXXXX" (0600, every password hash), stayed for no one to remove.
 * Where the filesystem has no unnamed files (NFS, vfat, some FUSE ones), a named one as before.
 */
static int backup_open_unnamed(const char *path) {
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        int n = !slash          ? snprintf(dir, sizeof(dir), ".")
                : slash == path ? snprintf(dir, sizeof(dir), "/")
                                : snprintf(dir, sizeof(dir), "%.*s", (int) (slash - path), path);
        if (n < 0 || (size_t) n >= sizeof(dir))
                return -ENAMETOOLONG;
        int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
                return -EOPNOTSUPP;
        return fd < 0 ? -errno : fd;
}

/* Link the unnamed file fd as name, which must not exist: -EEXIST when it does. */
static int link_unnamed(int fd, const char *name) {
        char proc[64];
        if (linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
                return 0;
        /* (AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH; /proc's link is open(2)'s way for the rest.) */
        if (errno != ENOENT && errno != EPERM)
                return -errno;
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

/* Give the unnamed file fd the name path: linked there when nothing is, else replacing what is,
 * linked beside it under a fresh name and renamed over it (an archive to FILE always replaces
 * FILE whole). */
static int backup_name_unnamed(int fd, const char *path) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        char tmp[PATH_MAX];
        int r = link_unnamed(fd, path);
        for (int tries = 0; r == -EEXIST && tries < 100; tries++) {
                unsigned char rnd[6];
                if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
                        return -EIO;
                char suffix[sizeof(rnd) + 1];
                for (size_t i = 0; i < sizeof(rnd); i++)
                        suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
                suffix[sizeof(rnd)] = '\0';
                if (snprintf(tmp, sizeof(tmp), "%s.%s", path, suffix) >= (int) sizeof(tmp))
                        return -ENAMETOOLONG;
                r = link_unnamed(fd, tmp);
                if (r == 0 && rename(tmp, path) < 0) {
                        r = -errno;
                        unlink(tmp);
                }
                if (r == 0)
                        return 0;
        }
        return r;
}

int roles_writer_backup(struct roles_writer *w, const char *path, const char *host_role) {
        struct roles_store *s = store_of_writer(w);
        char tmp[PATH_MAX] = "";        /* the named temporary, where the filesystem has no unnamed ones */
        static const uint8_t end[2 * TAR_BLOCK];
        int fd, r;

        if (host_role && host_role[0] && !roles_host_role_valid(host_role, strlen(host_role)))
                return store_fail(s, -EINVAL, "'%s' is not a host's role name", host_role);
        /* The archive is renamed into place, which replaces whatever the path names: a device
         * (/dev/null, /dev/full), a FIFO or a symlink (/dev/stdout) would become a file of
         * root's. Only a regular file, an older backup, is replaced. */
        struct stat st;
        if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
                return store_fail(s, -EEXIST, "%s: not a regular file (a backup is written as a new file in its place)",
                                  path);
        if (strlen(path) + sizeof(".XXXXXX") > sizeof(tmp))
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", path);
        fd = backup_open_unnamed(path);
        if (fd == -EOPNOTSUPP) {
                snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
                fd = mkostemp(tmp, O_CLOEXEC);
                if (fd < 0) {
                        tmp[0] = '\0';
                        fd = -errno;
                }
        }
        if (fd < 0)
                return store_fail(s, fd, "%s: %s", path, strerror(-fd));
        if (fchmod(fd, 0600) < 0) {
                r = store_fail(s, -errno, "%s: %s", tmp[0] ? tmp : path, strerror(errno));
                goto out;
        }
        /* roles.db as this writer's transaction reads it (nothing changed in it yet): its
         * committed pages, the WAL's included, as one file. */
        for (size_t i = 0; i < ROLES_N_ELEMENTS(members); i++)
                if ((r = add_db(s, fd, members[i].name, member_db(s, members[i].which), members[i].mode)) < 0)
                        goto out;
        if (host_role && host_role[0]) {
                char line[ROLES_HOST_ROLE_MAX + 2];
                int len = snprintf(line, sizeof(line), "%s\n", host_role);
                if ((r = tar_entry(fd, HOST_MEMBER, line, (size_t) len, store_now(s), 0600)) < 0) {
                        store_fail(s, r, "writing the backup: %s", strerror(-r));
                        goto out;
                }
        }
        r = roles_write_all(fd, end, sizeof(end));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0)
                r = !tmp[0] ? backup_name_unnamed(fd, path) : rename(tmp, path) < 0 ? -errno : 0;
        if (r < 0) {
                store_fail(s, r, "%s: %s", path, strerror(-r));
                goto out;
        }
        tmp[0] = '\0';
        r = roles_audit(store_writer(s), "backup", path, "%s", "");
out:
        close(fd);
        if (tmp[0])
                unlink(tmp);
        return r;
}

/* ---- restore ------------------------------------------------------------------------------ */

/* ustar's largest size (11 octal digits); GNU's base-256 sizes are not read. */
#define TAR_SIZE_MAX 077777777777ull
#define RESTORE_CHUNK ((size_t) 64 << 10)

struct restore {
        struct roles_store *s;
        const char *path;               /* the archive */
        int fd;
        crypto_hash_sha256_state sha;
        uint8_t *buf;                   /* RESTORE_CHUNK bytes, wiped: secrets.db passes through */
        char tmp[3][PATH_MAX];          /* the new files, by enum store_file; "" when none */
        bool seen[3];                   /* by enum store_file: the archive held it */
        bool seen_host;                 /* the archive held fleet-host, res->archive_host */
        bool own;                       /* the archive is known to be this host's own (prepare_state) */
        struct roles_restore_result *res;
};

static int refuse(struct restore *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct restore *rs, const char *fmt, ...) {
        char why[384];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return store_fail(rs->s, -EBADMSG, "%s: nothing restored: %s", rs->path, why);
}

/* Up to n bytes of the archive, fewer only at its end; hashed as read. */
static ssize_t read_some(struct restore *rs, void *buf, size_t n) {
        size_t got = 0;
        while (got < n) {
                ssize_t k = read(rs->fd, (uint8_t *) buf + got, n - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return store_fail(rs->s, -errno, "%s: %s", rs->path, strerror(errno));
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        crypto_hash_sha256_update(&rs->sha, buf, got);
        return (ssize_t) got;
}

/* A header's numeric field: octal digits, perhaps after spaces, then only spaces and NULs. */
static bool parse_octal(const uint8_t *f, size_t len, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0, digits = 0;
        while (i < len && f[i] == ' ')
                i++;
        for (; i < len && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
                if (v > (UINT64_MAX >> 3))
                        return false;
                v = v * 8 + (uint64_t) (f[i] - '0');
        }
        for (; i < len; i++)
                if (f[i] != ' ' && f[i] != '\0')
                        return false;
        *ret = v;
        return digits > 0;
}

/* A header's name (prefix/name) for a message: printable ASCII, '?' for anything else. */
static void member_name(const uint8_t h[TAR_BLOCK], char out[258]) {
        size_t n = 0;
        for (size_t i = 345; i < 500 && h[i]; i++)
                out[n++] = h[i] >= 0x20 && h[i] < 0x7f ? (char) h[i] : '?';
        if (n > 0)
                out[n++] = '/';
        for (size_t i = 0; i < 100 && h[i]; i++)
                out[n++] = h[i] >= 0x20 && h[i] < 0x7f ? (char) h[i] : '?';
        out[n] = '\0';
}

static const char *member_type(uint8_t type) {
        switch (type) {
        case '1': return "a hard link";
        case '2': return "a symbolic link";
        case '3': return "a character device";
        case '4': return "a block device";
        case '5': return "a directory";
        case '6': return "a FIFO";
        default:  return "not a regular file";
        }
}

/* A new file beside the live one, "DIR/.BASE.restore-XXXXXX", with the live file's mode. */
static int create_tmp(struct restore *rs, const struct member *m, int *ret_fd) {
        const char *live = member_path(rs->s, m->which);
        char *tmp = rs->tmp[m->which];
        if (store_restore_name(live, tmp, PATH_MAX) < 0) {
                tmp[0] = '\0';
                return store_fail(rs->s, -ENAMETOOLONG, "%s: path too long", live);
        }
        int fd = mkostemp(tmp, O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                int r = store_fail(rs->s, -errno, "%s: %s", tmp, strerror(errno));
                tmp[0] = '\0';
                return r;
        }
        if (fchmod(fd, m->mode) < 0) {
                int r = store_fail(rs->s, -errno, "%s: %s", tmp, strerror(errno));
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* The zeros after a member of size bytes, to the end of its last block. */
static int skip_padding(struct restore *rs, const char *name, uint64_t size) {
        if (size % TAR_BLOCK == 0)
                return 0;
        size_t pad = TAR_BLOCK - size % TAR_BLOCK;
        ssize_t got = read_some(rs, rs->buf, pad);
        if (got >= 0 && (size_t) got < pad)
                got = refuse(rs, "truncated: it ends inside %s", name);
        return got < 0 ? (int) got : 0;
}

/* fleet-host, of size bytes: a role name as roles_fleet_host_role gives one, then a newline. */
static int read_host(struct restore *rs, uint64_t size) {
        char text[ROLES_HOST_ROLE_MAX + 1];
        if (size < 2 || size > sizeof(text))
                return refuse(rs, "%s does not hold a host's role name", HOST_MEMBER);
        ssize_t got = read_some(rs, text, (size_t) size);
        if (got >= 0 && (uint64_t) got < size)
                got = refuse(rs, "truncated: it ends inside %s", HOST_MEMBER);
        if (got < 0)
                return (int) got;
        if (text[size - 1] != '\n' || !roles_host_role_valid(text, (size_t) size - 1))
                return refuse(rs, "%s does not hold a host's role name", HOST_MEMBER);
        memcpy(rs->res->archive_host, text, (size_t) size - 1);
        rs->res->archive_host[size - 1] = '\0';
        return skip_padding(rs, HOST_MEMBER, size);
}

/*
 * A member's size is its header's word: a sparse archive reads as gigabytes of zeros whatever
 * room it takes on disk. Its bytes go to the databases' filesystem, where the logins write
 * meanwhile and refuse a login they cannot record (a failure counted, state.db's growth): a
 * member that would leave less than a 32nd of that filesystem free is refused before any of it is
 * written.
 */
static int check_room(struct restore *rs, const struct member *m, int fd, uint64_t size) {
        struct statvfs fs;
        if (fstatvfs(fd, &fs) < 0)
                return store_fail(rs->s, -errno, "%s: %s", rs->tmp[m->which], strerror(errno));
        uint64_t room = (uint64_t) fs.f_bavail * fs.f_frsize, keep = (uint64_t) fs.f_blocks * fs.f_frsize / 32;
        if (size > room || room - size < keep)
                return store_fail(rs->s, -ENOSPC, "%s: nothing restored: %s (%llu bytes) would leave less than a 32nd "
                                  "of its filesystem free", rs->path, m->name, (unsigned long long) size);
        return 0;
}

/* The member whose header is h, checked; a database copied to a new file and synced. */
static int read_member(struct restore *rs, const uint8_t h[TAR_BLOCK]) {
        const struct member *m = NULL;
        char name[258];
        uint64_t sum, size;
        unsigned computed = 0;
        int fd = -1, r;

        for (size_t i = 0; i < TAR_BLOCK; i++)
                computed += i >= 148 && i < 156 ? ' ' : h[i];
        if (!parse_octal(h + 148, 8, &sum) || sum != computed)
                return refuse(rs, "a header's checksum is wrong: not a tar archive, or a damaged one");
        if (memcmp(h + 257, "ustar", 6) != 0 && memcmp(h + 257, "ustar  ", 8) != 0)
                return refuse(rs, "not a ustar archive (as rolesctl backup writes)");
        member_name(h, name);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(members); i++)
                if (strcmp(name, members[i].name) == 0)
                        m = &members[i];
        bool host = strcmp(name, HOST_MEMBER) == 0;
        if (!m && !host)
                return refuse(rs, "a member named '%s': a backup holds roles.db, secrets.db, state.db and "
                              HOST_MEMBER ", nothing else", name);
        const char *what = host ? HOST_MEMBER : m->name;
        bool *seen = host ? &rs->seen_host : &rs->seen[m->which];
        if (h[156] != '0' && h[156] != '\0')
                return refuse(rs, "%s is %s", what, member_type(h[156]));
        if (*seen)
                return refuse(rs, "%s is in it twice", what);
        if (!parse_octal(h + 124, 12, &size) || size > TAR_SIZE_MAX)
                return refuse(rs, "%s: its size is not one a ustar header holds", what);
        *seen = true;
        if (host)
                return read_host(rs, size);

        if ((r = create_tmp(rs, m, &fd)) < 0)
                return r;
        if ((r = check_room(rs, m, fd, size)) < 0)
                goto out;
        for (uint64_t left = size; left > 0;) {
                size_t n = left < RESTORE_CHUNK ? (size_t) left : RESTORE_CHUNK;
                ssize_t got = read_some(rs, rs->buf, n);
                if (got >= 0 && (size_t) got < n)
                        got = refuse(rs, "truncated: it ends inside %s", m->name);
                if (got < 0) {
                        r = (int) got;
                        goto out;
                }
                if ((r = roles_write_all(fd, rs->buf, n)) < 0) {
                        r = store_fail(rs->s, r, "%s: %s", rs->tmp[m->which], strerror(-r));
                        goto out;
                }
                left -= n;
        }
        if ((r = skip_padding(rs, m->name, size)) < 0)
                goto out;
        if (fsync(fd) < 0)
                r = store_fail(rs->s, -errno, "%s: %s", rs->tmp[m->which], strerror(errno));
out:
        close(fd);
        return r;
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* Every member to its new file; then, after the end-of-archive block, only the zeros that pad
 * an archive to its record size. */
/* tar's records are 10 KiB unless written with a larger blocking factor; no tool pads an archive
 * with a megabyte of zeros, but /dev/zero, or a pipe from a hostile end, never stops sending them
 * (to a restore that holds the writer lock). */
#define TAR_RECORD_MAX ((size_t) 1 << 20)

static int read_archive(struct restore *rs) {
        uint8_t h[TAR_BLOCK];
        ssize_t got;
        int r;
        for (;;) {
                if ((got = read_some(rs, h, sizeof(h))) < 0)
                        return (int) got;
                if ((size_t) got < sizeof(h))
                        return refuse(rs, "truncated: it ends before its end-of-archive block");
                if (all_zero(h, sizeof(h)))
                        break;
                if ((r = read_member(rs, h)) < 0)
                        return r;
        }
        for (size_t padding = 0; (got = read_some(rs, rs->buf, RESTORE_CHUNK)) > 0;) {
                if (!all_zero(rs->buf, (size_t) got))
                        return refuse(rs, "data after its end-of-archive block");
                if ((padding += (size_t) got) > TAR_RECORD_MAX)
                        return refuse(rs, "more zeros after its end-of-archive block than a tar record holds");
        }
        if (got < 0)
                return (int) got;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(members); i++)
                if (members[i].required && !rs->seen[members[i].which])
                        return refuse(rs, "%s is missing from it", members[i].name);
        return 0;
}

static void keep_first(void *userdata, const char *line) {
        char *first = userdata;
        if (!first[0])
                snprintf(first, 256, "%s", line);
}

/*
 * Open a new file and check it as a writer would find it: a database (in rollback-journal mode:
 * a reader that is not root can read it without a WAL until the writer reopens it), nothing in
 * its schema this build does not make (a trigger would fire in every later writer; checked before
 * a migration runs on it), a schema version this build knows (an older one migrated here, as the
 * next writer would), then doctor's checks.
 * The transaction is left open for the caller's changes.
 */
static int open_checked(struct restore *rs, const struct member *m, sqlite3 **db) {
        struct roles_store *s = rs->s;
        char prefix[PATH_MAX + 64], first[256] = "";
        bool create = s->create;
        snprintf(prefix, sizeof(prefix), "%s: nothing restored: %s: ", rs->path, m->name);

        int r = store_open_db(s, rs->tmp[m->which], true, NULL, db);
        if (r >= 0)
                r = store_exec_script(s, *db, "PRAGMA journal_mode = DELETE; BEGIN IMMEDIATE");
        if (r >= 0)
                r = store_schema_check_objects(s, *db, m->which);
        if (r >= 0) {
                s->create = !rs->seen[m->which];        /* a state.db the archive lacked: made empty */
                r = store_schema_check(s, *db, m->which, true, NULL);
                s->create = create;
        }
        if (r >= 0 && (r = store_doctor_check_file(s, *db, m->which, keep_first, first)) > 0)
                r = store_fail(s, -EBADMSG, "%s", first);
        return r < 0 ? store_fail_prefixed(s, r, prefix) : 0;
}

/* Every row of table src on from into table dst on to (the same columns, in the same order); one
 * whose key dst has already, left out if keep_dst, else an error. */
static int copy_rows(struct roles_store *s, sqlite3 *from, const char *src, sqlite3 *to, const char *dst, bool keep_dst) {
        sqlite3_stmt *rd = NULL, *wr = NULL;
        char sql[512];
        int r = 0, rc;

        snprintf(sql, sizeof(sql), "SELECT * FROM %s", src);
        if ((rc = sqlite3_prepare_v2(from, sql, -1, &rd, NULL)) != SQLITE_OK) {
                r = store_sql_fail(s, from, rc, src);
                goto out;
        }
        int n = sqlite3_column_count(rd);
        size_t len = (size_t) snprintf(sql, sizeof(sql), "INSERT %sINTO %s VALUES (?", keep_dst ? "OR IGNORE " : "", dst);
        for (int i = 1; i < n && len < sizeof(sql); i++)
                len += (size_t) snprintf(sql + len, sizeof(sql) - len, ",?");
        if (len + 2 > sizeof(sql)) {
                r = store_fail(s, -E2BIG, "%s: too many columns", src);
                goto out;
        }
        memcpy(sql + len, ")", 2);
        if ((rc = sqlite3_prepare_v2(to, sql, -1, &wr, NULL)) != SQLITE_OK) {
                r = store_sql_fail(s, to, rc, dst);
                goto out;
        }
        while ((rc = sqlite3_step(rd)) == SQLITE_ROW) {
                for (int i = 0; i < n; i++)
                        sqlite3_bind_value(wr, i + 1, sqlite3_column_value(rd, i));
                if ((rc = sqlite3_step(wr)) != SQLITE_DONE) {
                        r = store_sql_fail(s, to, rc, dst);
                        goto out;
                }
                sqlite3_reset(wr);
        }
        if (rc != SQLITE_DONE)
                r = store_sql_fail(s, from, rc, src);
out:
        sqlite3_finalize(rd);
        sqlite3_finalize(wr);
        return r;
}

/*
 * The uids and gids the live roles.db has handed out that the restored one holds no more (the
 * accounts made after the archive was, the ids retired since), retired in it as a delete
 * retires them (store_retire_id; the live owner named). Those accounts' files and processes keep
 * their ids: a restore does not take back what was done, and the next account must not inherit
 * them.
 */
static int retire_live_ids(struct restore *rs, sqlite3 *db) {
        struct roles_store *s = rs->s;
        int r = copy_rows(s, s->pub, "retired_ids", db, "retired_ids", true);
        sqlite3_stmt *live = r < 0 ? NULL
                : store_stmt(s, s->pub, "SELECT 'uid', uid, name FROM users "
                             "UNION ALL SELECT 'gid', gid, name FROM groups "
                             "UNION ALL SELECT 'gid', gid, code FROM metaroles WHERE gid IS NOT NULL");
        if (!live)
                return r < 0 ? r : -EIO;
        while ((r = store_step_row(s, live)) > 0) {
                const char *kind = (const char *) sqlite3_column_text(live, 0);
                const char *name = (const char *) sqlite3_column_text(live, 2);
                int64_t id = sqlite3_column_int64(live, 1);
                sqlite3_stmt *held = store_stmt(s, db,
                                                "SELECT EXISTS (SELECT 1 FROM users WHERE ?1 = 'uid' AND uid = ?2) "
                                                "OR EXISTS (SELECT 1 FROM groups WHERE ?1 = 'gid' AND gid = ?2) "
                                                "OR EXISTS (SELECT 1 FROM metaroles WHERE ?1 = 'gid' AND gid = ?2)");
                if (!held) {
                        r = -EIO;
                        break;
                }
                sqlite3_bind_text(held, 1, kind, -1, SQLITE_STATIC);
                sqlite3_bind_int64(held, 2, id);
                r = store_step_row(s, held);
                bool in_use = r > 0 && sqlite3_column_int(held, 0);
                sqlite3_reset(held);
                if (r >= 0 && !in_use && name)
                        r = store_exec(s, db, "INSERT OR REPLACE INTO retired_ids (kind, id, name, retired_at) "
                                       "VALUES (?1, ?2, ?3, ?4)", "titi", kind, id, name, (int64_t) store_now(s));
                if (r < 0)
                        break;
        }
        sqlite3_reset(live);
        return r < 0 ? r : 0;
}

/* The restored roles.db: a serial above the live one's, so that every reader (and the NSS
 * index, which never goes back to an older serial) takes it for the newer state. And no fleet
 * serial: which one the archive's rows are is the archive's word, not the fleet's. Kept, one
 * above the fleet's would have every agent round refused ("below the installed") and the host
 * never get a change again; one at the live serial would keep whatever rows the fleet took away
 * (the round has nothing to send). Without one, the next round copies the fleet whole. The live
 * file's ids it lacks are retired (retire_live_ids). */
static int prepare_public(struct restore *rs, sqlite3 *db) {
        struct roles_store *s = rs->s;
        int64_t live;
        int r = store_serial(s, &live);
        if (r < 0)
                return r;
        rs->res->serial = live + 1;
        r = store_exec(s, db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('serial', ?1), ('published_at', ?2)",
                       "ii", rs->res->serial, (int64_t) store_now(s));
        if (r >= 0)
                r = store_exec(s, db, "DELETE FROM meta WHERE key IN ('fleet_serial', 'fleet_streams')", "");
        if (r >= 0)
                r = retire_live_ids(rs, db);
        sqlite3_stmt *st = r < 0 ? NULL
                : store_stmt(s, db, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM groups)");
        if (!st)
                return r < 0 ? r : -EIO;
        r = store_step_row(s, st);
        if (r > 0) {
                rs->res->users = sqlite3_column_int64(st, 0);
                rs->res->groups = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        return r < 0 ? r : store_exec_script(s, db, "COMMIT");
}

/*
 * The restored secrets.db, made to commit with roles.db (store_writer_replace_files): the live
 * secrets as before-images of every user either file knows, marked with the restored roles.db's
 * serial. A reader of the old roles.db reads the live secrets from them; should roles.db never be
 * put in place, the next writer puts them back. The audit is the live log: a restore does not
 * take back what was done, only the state it left.
 */
static int prepare_secrets(struct restore *rs, sqlite3 *db) {
        static const char *const kept[][2] = {
                { "credentials", "before_credentials" },
                { "codes", "before_codes" },
                { "recovery_codes", "before_recovery_codes" },
                { "audit", "audit" },
        };
        struct roles_store *s = rs->s;
        int r = store_exec_script(s, db, "DELETE FROM publishing; DELETE FROM before_users; "
                                  "DELETE FROM before_credentials; DELETE FROM before_codes; "
                                  "DELETE FROM before_recovery_codes; DELETE FROM audit");
        for (size_t i = 0; r >= 0 && i < ROLES_N_ELEMENTS(kept); i++)
                r = copy_rows(s, s->sec, kept[i][0], db, kept[i][1], false);
        if (r >= 0)
                r = store_exec_script(s, db,
                        "INSERT OR IGNORE INTO before_users SELECT user_uuid FROM before_credentials "
                        "UNION SELECT user_uuid FROM before_codes UNION SELECT user_uuid FROM before_recovery_codes "
                        "UNION SELECT user_uuid FROM credentials UNION SELECT user_uuid FROM codes "
                        "UNION SELECT user_uuid FROM recovery_codes");
        if (r >= 0)
                r = store_exec(s, db, "INSERT INTO publishing (id, serial, audit_from) "
                               "VALUES (1, ?1, (SELECT coalesce(max(id), 0) + 1 FROM audit))", "i", rs->res->serial);
        return r < 0 ? r : store_exec_script(s, db, "COMMIT");
}

/*
 * Another host's state.db, made this host's: the live login tracking and login audit in place of
 * the archive's (those logins were on the other host), and the live tallies and used TOTP steps
 * added to the archive's for users it has none of. A user the two both have keeps the archive's:
 * its lock, if any, stays (fail closed), as its used step does.
 */
static int keep_host_state(struct restore *rs, sqlite3 *db) {
        static const struct {
                const char *table;
                const char *replace;    /* the live rows in place of the archive's, else added */
        } tables[] = {
                { "tracking", "DELETE FROM tracking" }, { "login_audit", "DELETE FROM login_audit" },
                { "tally", NULL }, { "totp_used", NULL },
        };
        struct roles_store *s = rs->s;
        int r = 0;
        for (size_t i = 0; r >= 0 && i < ROLES_N_ELEMENTS(tables); i++) {
                if (tables[i].replace)  /* a literal: store_stmt keeps statements by their text's address */
                        r = store_exec(s, db, tables[i].replace, "");
                if (r >= 0)
                        r = copy_rows(s, s->state, tables[i].table, db, tables[i].table, true);
        }
        return r;
}

/* The restored state.db: its outbox (a fleet host's events not yet shipped) goes on above every
 * id the live file has handed out and above the floor of now: the fleet has those ids from this
 * host already, and would drop as sent twice the events given them again. And it keeps what the
 * live outbox still holds: those logins happened (the fleet's lockout counts the failures), and a
 * restore does not take back what was done. An id both files have is one event (the restored
 * file is the live one's past, or has ids below a later file's floor): the fleet has it once.
 * The archive's own rows go unless it is this host's (own): another host's events, which the
 * fleet has or will have from that host, shipped from here would be counted again; and so does
 * the rest of its per-host state (keep_host_state). */
static int prepare_state(struct restore *rs, sqlite3 *db) {
        struct roles_store *s = rs->s;
        int64_t live = 0;
        sqlite3_stmt *st = store_stmt(s, s->state, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'");
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        if (r > 0)
                live = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (r >= 0 && !rs->own && (r = store_exec(s, db, "DELETE FROM outbox", "")) >= 0)
                rs->res->outbox_dropped = sqlite3_changes(db);
        if (r >= 0 && !rs->own)
                r = keep_host_state(rs, db);
        if (r >= 0 && s->state_version >= 2)
                r = copy_rows(s, s->state, "outbox", db, "outbox", true);
        if (r >= 0)
                r = store_exec(s, db, "INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', 0 "
                               "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')", "");
        if (r >= 0)
                r = store_exec(s, db, "UPDATE sqlite_sequence SET seq = max(seq, ?1, " SQL_OUTBOX_ID_FLOOR ") "
                               "WHERE name = 'outbox'", "i", live);
        return r < 0 ? r : store_exec_script(s, db, "COMMIT");
}

/*
 * The largest id a counting table of an archive may have handed out: 2^53. Outbox ids are 2^20
 * a second from the epoch (state.db's floor), below it for centuries, and the fleet's ids are
 * exact JSON numbers up to it; users, groups and the login audit count one by one. At 2^63 - 1
 * (an AUTOINCREMENT sequence, or a row's id) every insert fails, "database or disk is full":
 * every 'user add', or every fleet login's event and the login with it, and doctor sees nothing
 * wrong. In login_audit, SQLite then draws each new id at random, and the pruning that keeps
 * the newest rows by id deletes rows at random.
 */
static int check_counters(struct restore *rs, const struct member *m, sqlite3 *db) {
        for (const struct counted *c = m->counted; c < m->counted + ROLES_N_ELEMENTS(m->counted) && c->table; c++) {
                sqlite3_stmt *st = store_stmt(rs->s, db, c->past_sql);
                if (!st)
                        return -EIO;
                int r = store_step_row(rs->s, st);
                bool past = r > 0 && sqlite3_column_int(st, 0);
                sqlite3_reset(st);
                if (r < 0)
                        return r;
                if (past)
                        return refuse(rs, "%s: its %s ids run past 2^53, which no host hands out", m->name, c->table);
        }
        return 0;
}

/* Each new file checked, and prepared to be put in place: roles.db first (its serial is
 * secrets.db's mark). */
static int check_files(struct restore *rs) {
        struct roles_store *s = rs->s;
        sqlite3 *db = NULL;
        int r = 0, fd;
        if (!rs->seen[STORE_STATE] && (r = create_tmp(rs, &members[STORE_STATE], &fd)) >= 0)
                close(fd);
        for (size_t i = 0; r >= 0 && i < ROLES_N_ELEMENTS(members); i++) {
                const struct member *m = &members[i];
                r = open_checked(rs, m, &db);
                if (r >= 0)
                        r = check_counters(rs, m, db);
                if (r >= 0 && m->which == STORE_PUBLIC)
                        r = prepare_public(rs, db);
                else if (r >= 0 && m->which == STORE_SECRETS)
                        r = prepare_secrets(rs, db);
                else if (r >= 0)
                        r = prepare_state(rs, db);
                store_close_db(s, &db);
        }
        return r;
}

int roles_writer_restore(struct roles_writer *w, const char *path, const char *host_role, bool other_host,
                         struct roles_restore_result *ret) {
        struct roles_store *s = store_of_writer(w);
        struct roles_restore_result res = { 0 };
        struct restore rs = { .s = s, .path = path, .res = &res };
        unsigned char digest[crypto_hash_sha256_BYTES];
        int r;

        rs.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (rs.fd < 0)
                return store_fail(s, -errno, "%s: %s", path, strerror(errno));
        if (!(rs.buf = malloc(RESTORE_CHUNK))) {
                r = store_fail(s, -ENOMEM, "out of memory");
                goto out;
        }
        crypto_hash_sha256_init(&rs.sha);
        if ((r = read_archive(&rs)) < 0)
                goto out;
        /* Not a fleet host: nothing here ships an outbox, as before. A fleet host whose role is
         * not known (its source names none) cannot tell its own archive from another's. */
        rs.own = !other_host && (!host_role || (host_role[0] && strcmp(host_role, res.archive_host) == 0));
        res.host_state_live = !rs.own;
        if ((r = check_files(&rs)) < 0)
                goto out;
        crypto_hash_sha256_final(&rs.sha, digest);
        sodium_bin2hex(res.sha256, sizeof(res.sha256), digest, sizeof(digest));
        res.with_state = rs.seen[STORE_STATE];

        char *tmp[3] = { rs.tmp[0], rs.tmp[1], rs.tmp[2] };
        if ((r = store_writer_replace_files(s, tmp)) < 0)
                goto out;
        /* A roles.db migrated above may lack derived rows: built now, published if they differ. */
        s->derived_at = -1;
        if ((r = store_refresh_derived(s)) == 0)
                s->pub_changes_base = sqlite3_total_changes(s->pub);
        if (r >= 0)
                r = roles_writer_rebuild_index(w);
        /* Whose archive it was, and the events of another host's not kept (prepare_state). */
        char fleet[sizeof(res.archive_host) + 64] = "";
        if (res.archive_host[0])
                snprintf(fleet, sizeof(fleet), " archive_host=%s", res.archive_host);
        if (res.outbox_dropped)
                snprintf(fleet + strlen(fleet), sizeof(fleet) - strlen(fleet), " outbox_dropped=%lld",
                         (long long) res.outbox_dropped);
        if (res.host_state_live)
                snprintf(fleet + strlen(fleet), sizeof(fleet) - strlen(fleet), " host_state=live");
        if (r >= 0)
                r = roles_audit(w, "restore", path, "sha256=%s users=%lld groups=%lld serial=%lld%s%s", res.sha256,
                                (long long) res.users, (long long) res.groups, (long long) res.serial,
                                res.with_state ? "" : " state=empty", fleet);
        if (r >= 0)
                *ret = res;
out:
        for (size_t i = 0; i < ROLES_N_ELEMENTS(rs.tmp); i++)
                if (rs.tmp[i][0])
                        unlink(rs.tmp[i]);
        if (rs.buf)
                explicit_bzero(rs.buf, RESTORE_CHUNK);
        free(rs.buf);
        close(rs.fd);
        return r < 0 ? r : 0;
}
