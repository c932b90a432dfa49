/* SPDX-License-Identifier: MIT */
/*
 * `rolesctl backup FILE`: one tar archive (POSIX ustar) holding roles.db, secrets.db and
 * state.db as they stand at one moment. The writer lock keeps roles.db and secrets.db still;
 * each file is read with sqlite3_serialize inside a transaction, so pages written by a login
 * meanwhile are either all in or all out, and roles.db comes with what its WAL holds folded
 * in: each entry is a whole database by itself. Restore with tar -x.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-internal.h"

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

int roles_writer_backup(struct roles_writer *w, const char *path) {
        struct roles_store *s = store_of_writer(w);
        char tmp[PATH_MAX];
        static const uint8_t end[2 * TAR_BLOCK];
        int fd = -1, r;

        if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int) sizeof(tmp))
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", path);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return store_fail(s, -errno, "%s: %s", path, strerror(errno));
        if (fchmod(fd, 0600) < 0) {
                r = store_fail(s, -errno, "%s: %s", tmp, strerror(errno));
                goto out;
        }
        /* roles.db as this writer's transaction reads it (nothing changed in it yet): its
         * committed pages, the WAL's included, as one file. */
        if ((r = add_db(s, fd, "roles.db", s->pub, 0644)) < 0 ||
            (r = add_db(s, fd, "secrets.db", s->sec, 0600)) < 0 ||
            (r = add_db(s, fd, "state.db", s->state, 0600)) < 0)
                goto out;
        r = roles_write_all(fd, end, sizeof(end));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                store_fail(s, r, "%s: %s", path, strerror(-r));
                goto out;
        }
        tmp[0] = '\0';
        r = roles_audit(store_writer(s), "backup", path, "%s", "");
out:
        if (fd >= 0)
                close(fd);
        if (tmp[0])
                unlink(tmp);
        return r;
}
