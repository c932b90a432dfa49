/* SPDX-License-Identifier: MIT */
/*
 * The writer: how a change reaches the three files.
 *
 *   begin   take <roles.db>.lock; open secrets.db in a write transaction; open roles.db
 *           read-write in place (WAL mode) and BEGIN IMMEDIATE on it.
 *   ...     the change edits roles.db and secrets.db in their transactions (adds and updates
 *           only; removals of a deleted user's secrets and state are queued).
 *   commit  bump the serial; write roles.db's pages to its WAL as frames no commit refers to;
 *           commit secrets.db, marked with the new serial; COMMIT roles.db (the commit point:
 *           one frame that makes the change visible to every reader at once); then purge what
 *           the queue names from state.db and secrets.db.
 *
 * Readers read the last committed state while the writer writes (WAL), so neither waits for the
 * other. A crash at any point leaves either the old state or the new one: frames without their
 * commit frame are ignored by every reader and overwritten by the next writer. At worst orphan
 * secrets or state rows refer to no user (doctor removes them) - never a user whose secrets row
 * belongs to someone else, since rows are keyed by uuid. Between the commit of secrets.db and
 * that of roles.db, readers of the old state read the secrets it goes with, and a change that
 * never committed in roles.db is undone by the next writer (store_before.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-internal.h"

#define LOCK_WAIT_MS 30000

static int dir_of(const char *path, char *buf, size_t size) {
        if (roles_strcpy(buf, size, path) < 0)
                return -ENAMETOOLONG;
        char *slash = strrchr(buf, '/');
        if (!slash)
                return -EINVAL;
        *(slash == buf ? slash + 1 : slash) = '\0';
        return 0;
}

static int fsync_dir(const char *path) {
        char dir[PATH_MAX];
        int r = dir_of(path, dir, sizeof(dir));
        if (r < 0)
                return r;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* An exclusive flock on fd, waiting while another writer holds it: up to LOCK_WAIT_MS in all
 * (*waited, in ms, carries over from one lock to the next). path names the lock in messages. */
static int lock_waiting(struct roles_store *s, int fd, const char *path, int *waited) {
        for (; flock(fd, LOCK_EX | LOCK_NB) < 0; *waited += 50) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return store_fail(s, -errno, "%s: %s", path, strerror(errno));
                if (*waited >= LOCK_WAIT_MS)
                        return store_fail(s, -EBUSY, "another rolesctl has held %s for %d s; try again", path,
                                          LOCK_WAIT_MS / 1000);
                usleep(50 * 1000);
        }
        return 0;
}

/*
 * Writers serialize on <roles.db>.lock (what every build takes) and then on roles.db's
 * directory. A lock file removed or replaced while a writer holds it (root tidying up what looks
 * like a stale lock) lets the next writer lock a new file and run alongside the holder: SQLite
 * keeps their databases apart, but not the NSS index, which the holder could install after the
 * other's, over it (NSS then serves an older state than roles.db). The directory cannot be
 * replaced under its files; it is locked second, so that an older writer, which takes the file
 * alone, is still kept out by the file.
 */
static int take_lock(struct roles_store *s) {
        char path[PATH_MAX], dir[PATH_MAX];
        int waited = 0, r;
        if (snprintf(path, sizeof(path), "%s.lock", s->cfg.public_db) >= (int) sizeof(path) ||
            dir_of(s->cfg.public_db, dir, sizeof(dir)) < 0)
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", s->cfg.public_db);
        s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (s->lock_fd < 0 && errno == ELOOP)   /* O_NOFOLLOW met a symlink: a file problem, not a conflict */
                return store_fail(s, -EPERM, "%s: refusing a lock file that is a symlink", path);
        if (s->lock_fd < 0)
                return store_fail(s, -errno, "%s: %s", path, strerror(errno));
        if ((r = lock_waiting(s, s->lock_fd, path, &waited)) < 0)
                return r;
        /* (store_check_file has refused a directory that is a symlink or not root's) */
        s->lock_dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (s->lock_dir_fd < 0)
                return store_fail(s, -errno, "%s: %s", dir, strerror(errno));
        return lock_waiting(s, s->lock_dir_fd, path, &waited);
}

/* Create a root-only database file if it is missing (init), with the mode set explicitly so
 * that no umask can loosen it. */
static int ensure_file(struct roles_store *s, const char *path, mode_t mode) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
        if (fd < 0)
                return errno == EEXIST ? 0 : store_fail(s, -errno, "%s: %s", path, strerror(errno));
        int r = fchmod(fd, mode) < 0 ? store_fail(s, -errno, "%s: %s", path, strerror(errno)) : 0;
        close(fd);
        return r;
}

static int ensure_dir(struct roles_store *s, const char *path) {
        char dir[PATH_MAX];
        if (dir_of(path, dir, sizeof(dir)) < 0)
                return store_fail(s, -EINVAL, "%s: bad path", path);
        if (mkdir(dir, 0755) < 0) {
                if (errno == EEXIST)
                        return 0;
                return store_fail(s, -errno, "%s: %s", dir, strerror(errno));
        }
        /* Whatever the umask: unprivileged NSS callers must be able to reach roles.db. */
        if (chmod(dir, 0755) < 0)
                return store_fail(s, -errno, "%s: %s", dir, strerror(errno));
        return 0;
}

/*
 * The write model of roles.db and secrets.db, set on the writer's connection; all but the WAL
 * mode itself are the connection's own and set every time.
 *  - WAL (persists in the file: set once, by init or by the first writer after an upgrade,
 *    which is the migration): readers go on reading the last committed state while a writer
 *    writes, and a change writes only the pages it changed. For secrets.db too: with a
 *    rollback journal its commit takes the EXCLUSIVE lock, which waits for every reader and
 *    keeps every reader out until the journal is gone; a writer stopped there (SIGSTOP, a
 *    debugger, a paused VM), or a change too big for its page cache (which takes that lock at
 *    the first spill, until its commit), would refuse every login and hang `getent shadow`.
 *  - synchronous=FULL: the WAL is fsynced at every commit, so a change rolesctl reported done
 *    survives a power loss. NORMAL would keep the file consistent but could lose the last
 *    commits, and roles.db's commit is the cross-file commit point: secrets.db, committed
 *    before it, and the purge of a deleted user's secrets, after it, are durable; the change
 *    they belong to must be too.
 *  - the WAL and the -shm persist when the last connection closes (truncated, not removed):
 *    a reader of roles.db that is not root cannot create them, and needs them to read a WAL
 *    database. SQLite creates both with the database's mode and owner (0600 root for
 *    secrets.db: they hold its pages).
 *  - journal_size_limit: after a checkpoint the WAL is cut back to 4 MiB (a big import's WAL
 *    does not stay on disk); auto-checkpoint (every 1000 pages) keeps it from growing while
 *    readers come and go.
 * An emptied file is left as it is (the schema check refuses it, unchanged): switching it to
 * WAL would write its header. init's, new, is switched.
 */
static int use_wal(struct roles_store *s, sqlite3 *db, const char *path) {
        int r, persist = 1;

        if (sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist) != SQLITE_OK)
                return store_fail(s, -EIO, "%s: cannot keep its WAL", path);
        sqlite3_stmt *st = store_stmt(s, db, "PRAGMA page_count");
        if (!st)
                return -EIO;
        r = store_step_row(s, st);
        bool empty = r > 0 && sqlite3_column_int64(st, 0) == 0;
        sqlite3_reset(st);
        if (r < 0)
                return r;
        if (!empty || (s->create)) {
                bool wal = false;
                if ((r = store_journal_is_wal(s, db, "PRAGMA journal_mode = WAL", &wal)) < 0)
                        return r;
                if (!wal)
                        return store_fail(s, -EIO, "%s: cannot switch to WAL mode", path);
        }
        return store_exec_script(s, db, "PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 4194304");
}

static int open_side_file(struct roles_store *s, const char *path, enum store_file which, sqlite3 **ret) {
        bool create = s->create;
        int r;

        if (create) {
                r = ensure_file(s, path, 0600);
                if (r < 0)
                        return r;
        }
        r = store_check_file(s, path, STORE_FILE_SECRET);
        if (r == -ENOENT)
                return store_fail(s, r, "%s does not exist: run 'rolesctl init'", path);
        if (r < 0)
                return r;
        r = store_open_writable(s, path, ret);
        if (r < 0)
                return r;
        /* secrets.db in WAL mode, as roles.db (use_wal); state.db as it is (store_state.c). */
        if (which == STORE_SECRETS && (r = use_wal(s, *ret, path)) < 0)
                return r;
        r = store_exec_script(s, *ret, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_schema_check(s, *ret, which, true, which == STORE_SECRETS ? &s->sec_version : &s->state_version);
        if (r < 0)
                return r;
        /* state.db is what every login writes: never hold it across the change. */
        if (which == STORE_STATE)
                r = store_exec_script(s, *ret, "COMMIT");
        return r < 0 ? r : 0;
}

int store_stage_name(const char *public_db, char *buf, size_t size) {
        const char *slash = strrchr(public_db, '/');
        if (!slash)
                return -EINVAL;
        int n = snprintf(buf, size, "%.*s/." STORE_STAGE_INFIX "XXXXXX", (int) (slash - public_db), public_db, slash + 1);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int store_restore_name(const char *live, char *buf, size_t size) {
        const char *slash = strrchr(live, '/');
        if (!slash)
                return -EINVAL;
        int n = snprintf(buf, size, "%.*s/.%s.restore-XXXXXX", (int) (slash - live), live, slash + 1);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* Whether name is prefix, 6 characters and one of suffixes (NULL-terminated); *ret_main: the
 * suffix is "" (the file itself, not a journal of it). */
static bool named_like(const char *name, const char *prefix, size_t prefix_len, const char *const *suffixes,
                       bool *ret_main) {
        if (strncmp(name, prefix, prefix_len) != 0 || strlen(name) < prefix_len + 6)
                return false;
        for (; *suffixes; suffixes++)
                if (strcmp(name + prefix_len + 6, *suffixes) == 0) {
                        *ret_main = !**suffixes;
                        return true;
                }
        return false;
}

/*
 * Regular files named exactly like pattern ("DIR/.NAME" + "XXXXXX"), with one of suffixes
 * (NULL-terminated; "" for none), removed; how many without a suffix, or 0. Best effort: one
 * that cannot be removed is doctor's to report.
 */
static unsigned sweep(const char *pattern_path, const char *const *suffixes) {
        char pattern[PATH_MAX];
        unsigned swept = 0;
        if (roles_strcpy(pattern, sizeof(pattern), pattern_path) < 0)
                return 0;
        char *slash = strrchr(pattern, '/');
        if (!slash)
                return 0;
        *slash = '\0';
        const char *dir = pattern[0] ? pattern : "/", *prefix = slash + 1;
        size_t prefix_len = strlen(prefix) - 6;         /* without "XXXXXX" */

        DIR *dp = opendir(dir);
        if (!dp)
                return 0;
        struct dirent *de;
        bool main_file;
        while ((de = readdir(dp))) {
                struct stat st;
                if (named_like(de->d_name, prefix, prefix_len, suffixes, &main_file) &&
                    fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                    unlinkat(dirfd(dp), de->d_name, 0) == 0 && main_file)
                        swept++;
        }
        closedir(dp);
        return swept;
}

/*
 * What writers that died (SIGKILL, a crash, the OOM killer) left aside; only the holder of the
 * lock writes these, so under it none is live, and every writer removes them (a readdir):
 *  - staged copies of roles.db, ".BASE.stage-XXXXXX", by writers of before WAL (an upgrade
 *    finds them);
 *  - the NSS index and its delta written aside before the commit point, ".roles.nss.XXXXXX"
 *    and ".roles.nss-delta.XXXXXX" (store_index.c): a base is as large as the users, and a
 *    writer killed at every change would otherwise fill the disk that logins write to;
 *  - a restore's new files, ".BASE.restore-XXXXXX" beside each live database, with the journals
 *    SQLite made for them while they were checked (store_backup.c): whole copies of the
 *    databases, password hashes included.
 */
static void sweep_stages(struct roles_store *s) {
        static const char *const alone[] = { "", NULL };
        static const char *const with_journals[] = { "", "-journal", "-wal", "-shm", NULL };
        const char *const live[] = { s->cfg.public_db, s->cfg.secrets_db, s->cfg.state_db };
        char pattern[PATH_MAX], index[PATH_MAX];
        if (store_stage_name(s->cfg.public_db, pattern, sizeof(pattern)) == 0)
                s->stages_swept += sweep(pattern, alone);
        for (int delta = 0; delta < 2; delta++) {
                if (roles_config_index_path(&s->cfg, delta, index, sizeof(index)) < 0)
                        continue;
                const char *slash = strrchr(index, '/');
                if (slash && snprintf(pattern, sizeof(pattern), "%.*s/.%s.XXXXXX", (int) (slash - index), index,
                                      slash + 1) < (int) sizeof(pattern))
                        s->index_stages_swept += sweep(pattern, alone);
        }
        for (size_t i = 0; i < ROLES_N_ELEMENTS(live); i++)
                if (store_restore_name(live[i], pattern, sizeof(pattern)) == 0)
                        s->restore_stages_swept += sweep(pattern, with_journals);
}

static int open_public(struct roles_store *s) {
        const char *path = s->cfg.public_db;
        int r;

        if ((s->create) && (r = ensure_file(s, path, 0644)) < 0)
                return r;
        r = store_check_file(s, path, STORE_FILE_PUBLIC);
        if (r == -ENOENT)
                return store_fail(s, r, "%s does not exist: run 'rolesctl init'", path);
        if (r < 0)
                return r;
        /* What writers that died left aside. */
        sweep_stages(s);
        r = store_open_writable(s, path, &s->pub);
        if (r >= 0)
                r = use_wal(s, s->pub, path);
        if (r >= 0)
                r = store_exec_script(s, s->pub, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_schema_check(s, s->pub, STORE_PUBLIC, true, NULL);
        if (r < 0)
                return r;
        s->pub_migrated = r > 0;
        r = store_index_track(s);
        if (r < 0)
                return r;
        s->pub_changes_base = sqlite3_total_changes(s->pub);
        /* A migrated file may lack derived rows altogether: build them before it is used. */
        s->derived_at = s->pub_migrated ? -1 : s->pub_changes_base;
        return 0;
}

/* The three files opened for a change, under the lock: a change cut short between its two
 * commits is finished or undone before ours starts. */
static int open_files(struct roles_store *s) {
        int64_t published;
        int r = open_side_file(s, s->cfg.secrets_db, STORE_SECRETS, &s->sec);
        if (r >= 0)
                r = open_side_file(s, s->cfg.state_db, STORE_STATE, &s->state);
        if (r >= 0)
                r = open_public(s);
        if (r >= 0)
                r = store_serial(s, &published);
        return r < 0 ? r : store_before_settle(s, published);
}

int store_writer_begin(struct roles_store *s) {
        int r;

        if (s->create) {
                r = ensure_dir(s, s->cfg.public_db);
                if (r >= 0)
                        r = ensure_dir(s, s->cfg.secrets_db);
                if (r >= 0)
                        r = ensure_dir(s, s->cfg.state_db);
                if (r < 0)
                        return r;
        }
        r = store_check_file(s, s->cfg.public_db, STORE_FILE_MAY_BE_MISSING);
        if (r < 0)
                return r;
        r = take_lock(s);
        return r < 0 ? r : open_files(s);
}

/* Move the file named DB SUFFIX to DB SUFFIX ".restore-old" (back, with back), if there is one. */
static int move_aside(struct roles_store *s, const char *db, const char *suffix, bool back) {
        char path[PATH_MAX], aside[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s", db, suffix) >= (int) sizeof(path) ||
            snprintf(aside, sizeof(aside), "%s%s.restore-old", db, suffix) >= (int) sizeof(aside))
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", db);
        if (rename(back ? aside : path, back ? path : aside) < 0 && errno != ENOENT)
                return store_fail(s, -errno, "%s: %s", back ? aside : path, strerror(errno));
        return 0;
}

static int remove_file(struct roles_store *s, const char *db, const char *suffix) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s", db, suffix) >= (int) sizeof(path))
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", db);
        if (unlink(path) < 0 && errno != ENOENT)
                return store_fail(s, -errno, "%s: %s", path, strerror(errno));
        return 0;
}

static int put_in_place(struct roles_store *s, const char *tmp, const char *live) {
        if (rename(tmp, live) < 0)
                return store_fail(s, -errno, "cannot put %s in place: %s", live, strerror(errno));
        return 0;
}

/* tmp in live's place, live's WAL and -shm moved aside first (and back should that fail). */
static int put_with_wal_aside(struct roles_store *s, const char *tmp, const char *live) {
        int r = move_aside(s, live, "-wal", false);
        if (r < 0)
                return r;
        if ((r = move_aside(s, live, "-shm", false)) < 0 || (r = put_in_place(s, tmp, live)) < 0) {
                move_aside(s, live, "-shm", true);
                move_aside(s, live, "-wal", true);
        }
        return r;
}

/*
 * A restore (store_backup.c): the checked files tmp[STORE_PUBLIC], [STORE_SECRETS] and
 * [STORE_STATE], each in its live file's directory, take the live files' places, and the change
 * begins again on them, the lock held throughout.
 *  - Our connections keep their locks until the files have moved: roles.db's WAL write lock,
 *    secrets.db's and state.db's RESERVED locks. So no login is inside a transaction of its own
 *    on secrets.db or state.db (its journal would be left, by name, beside the new file: hot,
 *    and replayed onto it after a crash); one that starts later finds its file moved, and SQLite
 *    refuses it the write (SQLITE_READONLY_DBMOVED).
 *  - The old files' journals go: secrets.db-journal, state.db-journal, roles.db-journal (the
 *    restored files are in rollback mode until they are reopened), and the WALs of roles.db
 *    and secrets.db with their -shm. SQLite replays a WAL onto whatever file has the name: the
 *    live database's frames would be applied to the restored one. A WAL holds committed
 *    changes not yet in its file, so each is moved aside until its file is in place, and back
 *    should that fail (secrets.db's live rows, its WAL's included, are in the restored file's
 *    before-images by then).
 *  - secrets.db and state.db move first, roles.db last: its rename is the commit point. The
 *    restored secrets.db carries the live rows as before-images, marked with the restored
 *    roles.db's serial (store_backup.c): if roles.db never moves (a crash, a failed rename),
 *    readers of the old roles.db read the live secrets from them, and the next writer puts them
 *    back (store_before_settle). state.db (tallies, login tracking) stays the restored one.
 *  - The old connections close only then: SQLite neither checkpoints a WAL into a file that
 *    was moved nor removes the WAL by name.
 */
int store_writer_replace_files(struct roles_store *s, char *const tmp[3]) {
        const char *pub = s->cfg.public_db, *sec = s->cfg.secrets_db, *state = s->cfg.state_db;
        int r = store_exec_script(s, s->state, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        if ((r = remove_file(s, sec, "-journal")) < 0 || (r = remove_file(s, state, "-journal")) < 0 ||
            (r = remove_file(s, pub, "-journal")) < 0 || (r = put_with_wal_aside(s, tmp[STORE_SECRETS], sec)) < 0 ||
            (r = remove_file(s, sec, "-wal.restore-old")) < 0 || (r = remove_file(s, sec, "-shm.restore-old")) < 0 ||
            (r = put_in_place(s, tmp[STORE_STATE], state)) < 0 ||
            (r = put_with_wal_aside(s, tmp[STORE_PUBLIC], pub)) < 0)
                return r;
        tmp[STORE_PUBLIC][0] = tmp[STORE_SECRETS][0] = tmp[STORE_STATE][0] = '\0';
        if ((r = remove_file(s, pub, "-wal.restore-old")) < 0 || (r = remove_file(s, pub, "-shm.restore-old")) < 0)
                return r;
        if ((r = fsync_dir(sec)) < 0 || (r = fsync_dir(state)) < 0 || (r = fsync_dir(pub)) < 0)
                return store_fail(s, r, "the databases are restored, but an fsync of their directory failed: %s",
                                  strerror(-r));
        store_writer_abort(s);
        store_close_db(s, &s->sec);
        store_close_db(s, &s->state);
        return open_files(s);
}

int store_queue_purge(struct roles_store *s, const char *uuid, unsigned what) {
        struct pending_purge *p = reallocarray(s->purges, s->n_purges + 1, sizeof(*p));
        if (!p)
                return store_fail(s, -ENOMEM, "out of memory");
        s->purges = p;
        p = &s->purges[s->n_purges++];
        *p = (struct pending_purge) { .what = what };
        return roles_strcpy(p->uuid, sizeof(p->uuid), uuid);
}

static int purge_one(struct roles_store *s, sqlite3 *db, const char *sql, const struct pending_purge *p, unsigned flag) {
        if (!(p->what & flag))
                return 0;
        int r = store_exec(s, db, sql, "t", p->uuid);
        return r < 0 ? r : 0;
}

static int purge_file(struct roles_store *s, sqlite3 *db, bool secrets) {
        int r = store_exec_script(s, db, "BEGIN IMMEDIATE");
        for (size_t i = 0; r >= 0 && i < s->n_purges; i++) {
                const struct pending_purge *p = &s->purges[i];
                if (secrets) {
                        r = purge_one(s, db, "DELETE FROM credentials WHERE user_uuid = ?1", p, PURGE_SECRETS);
                        if (r >= 0)
                                r = purge_one(s, db, "DELETE FROM codes WHERE user_uuid = ?1", p, PURGE_SECRETS);
                        if (r >= 0)
                                r = purge_one(s, db, "DELETE FROM recovery_codes WHERE user_uuid = ?1", p, PURGE_SECRETS);
                        /* The deleted user's before-images too: published, the deletion needs
                         * none, and they hold the user's hash and secrets. */
                        if (r >= 0)
                                r = purge_one(s, db, "DELETE FROM before_credentials WHERE user_uuid = ?1", p, PURGE_SECRETS);
                        if (r >= 0)
                                r = purge_one(s, db, "DELETE FROM before_codes WHERE user_uuid = ?1", p, PURGE_SECRETS);
                        if (r >= 0)
                                r = purge_one(s, db, "DELETE FROM before_recovery_codes WHERE user_uuid = ?1", p,
                                              PURGE_SECRETS);
                } else {
                        r = purge_one(s, db, "DELETE FROM tally WHERE user_uuid = ?1", p, PURGE_TALLY);
                        if (r >= 0)
                                r = purge_one(s, db, "DELETE FROM totp_used WHERE user_uuid = ?1", p, PURGE_TOTP);
                        if (r >= 0)
                                r = purge_one(s, db, "DELETE FROM tracking WHERE user_uuid = ?1", p, PURGE_TRACKING);
                }
        }
        if (r < 0) {
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        return store_exec_script(s, db, "COMMIT");
}

static int purge(struct roles_store *s) {
        if (s->n_purges == 0)
                return 0;
        int r = purge_file(s, s->state, false);
        if (r < 0)
                return r;
        return purge_file(s, s->sec, true);
}

/* Settle the before-images now, in a secrets.db transaction of their own, rather than at the
 * next writer's start: published is the serial roles.db holds (store_before_settle). Best effort:
 * failing, they wait for the next writer, as every change's do. */
static void settle_now(struct roles_store *s, int64_t published) {
        if (store_exec_script(s, s->sec, "BEGIN IMMEDIATE") < 0)
                return;
        if (store_before_settle(s, published) < 0 || store_exec_script(s, s->sec, "COMMIT") < 0)
                sqlite3_exec(s->sec, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * roles.db's COMMIT failed. Its commit frame may have reached the WAL all the same, with the WAL
 * index never saying so (the fsync after it failed): a later recovery of the WAL would find it
 * and publish the change. A commit of ours, written over its frames, ends that chain; only then
 * is the secrets.db half undone at once. Otherwise the next writer undoes it, and publishes over
 * it in turn (store_writer_commit).
 */
static void undo_after_failed_commit(struct roles_store *s, int64_t published) {
        sqlite3_exec(s->pub, "ROLLBACK", NULL, NULL, NULL);
        if (sqlite3_exec(s->pub, "BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'serial'; COMMIT", NULL,
                         NULL, NULL) != SQLITE_OK) {
                sqlite3_exec(s->pub, "ROLLBACK", NULL, NULL, NULL);
                return;
        }
        settle_now(s, published);
}

static int uuid_cmp(const void *a, const void *b) {
        return memcmp(a, b, ROLES_UUID_BYTES);
}

/* n random uuids in ascending order, in s->uuid_pool. */
static int draw_uuids(struct roles_store *s, size_t n) {
        uint8_t (*pool)[ROLES_UUID_BYTES] = calloc(n ? n : 1, ROLES_UUID_BYTES);
        int r = 0;
        if (!pool)
                return store_fail(s, -ENOMEM, "out of memory");
        for (size_t done = 0, size = n * ROLES_UUID_BYTES; done < size;) {
                ssize_t got = getrandom((uint8_t *) pool + done, size - done, 0);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0) {
                        r = store_fail(s, -EIO, "no randomness for uuids");
                        goto out;
                }
                done += (size_t) got;
        }
        for (size_t i = 0; i < n; i++)
                roles_uuid_mark_v4(pool[i]);
        qsort(pool, n, ROLES_UUID_BYTES, uuid_cmp);
        free(s->uuid_pool);
        s->uuid_pool = pool;
        s->uuid_pool_n = n;
        s->uuid_pool_next = 0;
        pool = NULL;
out:
        free(pool);
        return r;
}

int store_uuid_new(struct roles_store *s, char ret_uuid[static ROLES_UUID_LEN + 1]) {
        if (s->uuid_pool_next >= s->uuid_pool_n)
                return roles_uuid_new(ret_uuid);
        roles_uuid_format(s->uuid_pool[s->uuid_pool_next++], ret_uuid);
        return 0;
}

/*
 * A bulk change drops the secondary indexes of group_members (which a change in bulk adds group
 * by group, so that an index by user would take each row at a random place) and makes them
 * again at commit, from their own definitions: CREATE INDEX sorts once and writes full pages.
 * Inside the change's transaction: a change that does not commit never dropped them. Only a
 * definition that is one CREATE INDEX statement is run again (roles.db's schema is its
 * writer's to trust, but not to run as a script); any other index stays as it is.
 */
static int drop_bulk_indexes(struct roles_store *s) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT group_concat(sql || ';', ''), "
                                      "group_concat('DROP INDEX main.\"' || name || '\";', '') FROM main.sqlite_schema "
                                      "WHERE type = 'index' AND tbl_name = 'group_members' AND sql LIKE 'CREATE INDEX %' "
                                      "AND instr(sql, ';') = 0 AND instr(name, '\"') = 0");
        char *create = NULL, *drop = NULL;
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        if (r > 0 && sqlite3_column_type(st, 0) == SQLITE_TEXT &&
            (!(create = strdup((const char *) sqlite3_column_text(st, 0))) ||
             !(drop = strdup((const char *) sqlite3_column_text(st, 1)))))
                r = store_fail(s, -ENOMEM, "out of memory");
        sqlite3_reset(st);
        if (r > 0 && drop)
                r = store_exec_script(s, s->pub, drop);
        if (r < 0)
                goto out;
        free(s->bulk_indexes);
        s->bulk_indexes = create;
        create = NULL;
        r = 0;
out:
        free(create);
        free(drop);
        return r;
}

static int restore_bulk_indexes(struct roles_store *s) {
        if (!s->bulk_indexes)
                return 0;
        int r = store_exec_script(s, s->pub, s->bulk_indexes);
        if (r < 0)
                return r;
        free(s->bulk_indexes);
        s->bulk_indexes = NULL;
        return 0;
}

/* A change in bulk asks whether each of its ids is retired: usually none is. */
static int note_no_retired_ids(struct roles_store *s) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT EXISTS (SELECT 1 FROM retired_ids)");
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        if (r > 0)
                s->no_retired_ids = sqlite3_column_int(st, 0) == 0;
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int roles_writer_begin_bulk(struct roles_writer *w, size_t n_uuids) {
        struct roles_store *s = store_of_writer(w);
        int r;
        /* Each membership added looks its user and its group up (foreign keys), at random places:
         * the users and groups of a million users take about 200 MiB of roles.db. (secrets.db's
         * rows all go to the right edge, and a larger cache there only costs memory.) */
        static const char cache_sql[] = "PRAGMA cache_size = -262144";
        if ((r = store_exec_script(s, s->pub, cache_sql)) < 0 ||
            (r = draw_uuids(s, n_uuids)) < 0 || (r = drop_bulk_indexes(s)) < 0 || (r = note_no_retired_ids(s)) < 0)
                return r;
        s->bulk = true;
        return store_index_untrack(s);
}

/* A change that touched only secrets or state (a password, an unlock, a backup) leaves roles.db
 * as it is: same serial, nothing for readers to reload. (The NSS index is compiled anew if that
 * was asked for, roles_writer_rebuild_index, or if it is not roles.db's.) */
static int commit_without_publishing(struct roles_store *s) {
        /* An index a writer killed between roles.db's commit and its rename left behind is
         * compiled anew by the next writer, whatever that writer changes: until then NSS would
         * resolve a name to what roles.db no longer says, and PAM refuse that user's logins. */
        int r = s->index_requested ? 1 : store_index_stale(s);
        if (r > 0)
                r = store_index_rebuild(s);
        if (r >= 0)
                r = store_before_clear(s);
        if (r >= 0)
                r = store_exec_script(s, s->sec, "COMMIT");
        if (r < 0)
                return r;
        store_writer_abort(s);
        s->committed = true;
        return purge(s);
}

/* The fleet serial roles.db was last brought to (FLEET.md; 0: not a fleet's, or none yet). */
int store_fleet_serial(struct roles_store *s, int64_t *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT value FROM meta WHERE key = 'fleet_serial'");
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        int64_t v = 0;
        if (r > 0 && roles_parse_int64((const char *) sqlite3_column_text(st, 0), 0, INT64_MAX, &v) < 0)
                r = store_fail(s, -EBADMSG, "roles.db: its fleet serial is not a number");
        sqlite3_reset(st);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int store_set_fleet_serial(struct roles_store *s, int64_t serial) {
        int r = store_exec(s, s->pub, "INSERT OR REPLACE INTO meta (key, value) VALUES ('fleet_serial', ?1)", "i", serial);
        return r < 0 ? r : 0;
}

/*
 * Room for roles.db's commit frame, taken before secrets.db commits. The change's pages are in
 * roles.db's WAL already; its COMMIT appends one frame more (page 1 with the commit flag). A
 * rollback journal gave back at secrets.db's commit the room it took; secrets.db's WAL frames
 * stay until a checkpoint, and could take the last blocks that frame needs: roles.db's COMMIT
 * would fail after secrets.db's (undone, but no longer "nothing changed"). Blocks for two
 * frames past the WAL's end are allocated now, its size kept (SQLite reads a WAL up to its
 * size), so that a full disk fails the change here, whole. A filesystem without fallocate goes
 * without (the next writer undoes such a change: store_before.c).
 */
static int reserve_commit_frame(struct roles_store *s) {
        char wal[PATH_MAX + 8];
        int64_t page_size = 0;
        struct stat st;
        int fd = -1, r;

        if (snprintf(wal, sizeof(wal), "%s-wal", s->cfg.public_db) >= (int) sizeof(wal))
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", s->cfg.public_db);
        sqlite3_stmt *stmt = store_stmt(s, s->pub, "PRAGMA page_size");
        if (!stmt)
                return -EIO;
        r = store_step_row(s, stmt);
        if (r > 0)
                page_size = sqlite3_column_int64(stmt, 0);
        sqlite3_reset(stmt);
        if (r <= 0)
                return r < 0 ? r : store_fail(s, -EIO, "%s: no page size", s->cfg.public_db);
        fd = open(wal, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 ||
            (fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, 2 * (page_size + 24)) < 0 && errno != EOPNOTSUPP))
                r = store_fail(s, -errno, "%s: %s", wal, strerror(errno));
        else
                r = 0;
        if (fd >= 0)
                close(fd);
        return r;
}

int store_writer_commit(struct roles_store *s) {
        int64_t published, serial, fleet_serial = 0;
        int r = s->push_ops ? s->push_ops->push(s, &fleet_serial) : 0;
        if (r >= 0 && fleet_serial > 0)
                r = store_set_fleet_serial(s, fleet_serial);
        if (r >= 0)
                r = restore_bulk_indexes(s);
        if (r < 0)
                return r;

        /* A change undone at our start (store_before_settle) is published over too: the killed
         * writer may have written its commit frame without making it visible (it died before
         * the WAL index said so), and a later recovery of the WAL would find it. Frames of ours
         * written over its own end that chain. */
        if (!s->pub_migrated && s->undone_serial == 0 && sqlite3_total_changes(s->pub) == s->pub_changes_base)
                return commit_without_publishing(s);

        r = store_refresh_derived(s);
        if (r < 0)
                return r;
        r = store_serial(s, &published);
        if (r < 0)
                return r;
        serial = published + 1;
        r = store_exec(s, s->pub, "UPDATE meta SET value = ?1 WHERE key = 'serial'", "i", serial);
        if (r >= 0)
                r = store_exec(s, s->pub, "INSERT OR REPLACE INTO meta (key, value) VALUES ('published_at', ?1)", "i",
                               (int64_t) store_now(s));
        /* The index is compiled from the change's own view of roles.db, installed once that is
         * published. */
        if (r >= 0)
                r = store_index_prepare(s, published, serial);
        /* The change's pages go to the WAL now, as frames no commit refers to: a full disk fails
         * here, before secrets.db commits, and the commit below appends little. */
        if (r >= 0 && sqlite3_db_cacheflush(s->pub) != SQLITE_OK)
                r = store_sql_fail(s, s->pub, sqlite3_extended_errcode(s->pub), s->cfg.public_db);
        /* And the index is written aside, fsynced: after the commit only renames are left, so a
         * disk too full for it fails the change here, whole, instead of publishing roles.db while
         * NSS stays on the state before it. */
        if (r >= 0)
                r = store_index_stage(s);
        if (r >= 0)
                r = reserve_commit_frame(s);
        if (r < 0)
                return r;

        /* Secrets first: the state about to be committed may refer to new rows. */
        r = store_before_mark(s, serial);
        if (r >= 0)
                r = store_exec_script(s, s->sec, "COMMIT");
        if (r < 0)
                return r;

        r = store_exec_script(s, s->pub, "COMMIT");
        if (r < 0) {
                store_fail_prefixed(s, r, "cannot publish: roles.db: ");
                undo_after_failed_commit(s, published);
                return r;
        }
        s->committed = true;
        /* init created roles.db (and its WAL): its directory entry must last too. */
        if ((s->create) && (r = fsync_dir(s->cfg.public_db)) < 0)
                return store_fail(s, r, "%s: fsync of the directory failed: %s", s->cfg.public_db, strerror(-r));
        /* Between the commit and the renames, NSS serves the previous state and PAM the new one;
         * after a crash here the next writer (or doctor) compiles a new base. */
        r = store_index_install(s);
        if (r < 0)
                return store_fail_prefixed(s, r, "the change is published, but the NSS index is not "
                                           "(run 'rolesctl index rebuild'): ");

        r = purge(s);
        if (r < 0)
                return store_fail_prefixed(s, r, "the change is published, but removing the deleted users' secrets "
                                           "failed (run 'rolesctl doctor'): ");
        /* A change in bulk named every user it made in the before-images: a million rows after an
         * import of a million users, which the next change (a group add, say) would spend 300 ms
         * dropping at its start. The import drops them now instead. */
        if (s->bulk)
                settle_now(s, serial);
        return 0;
}

void store_writer_abort(struct roles_store *s) {
        store_index_discard(s);
        /* Closing roles.db's connection rolls its transaction back: no statement to prepare, so
         * nothing that could fail and leave it open. */
        store_close_db(s, &s->pub);
        if (s->sec && !sqlite3_get_autocommit(s->sec))
                sqlite3_exec(s->sec, "ROLLBACK", NULL, NULL, NULL);
}

int roles_writer_rebuild_index(struct roles_writer *w) {
        struct roles_store *s = store_of_writer(w);
        /* (a flag, not a row: a row would count as a change of roles.db, and publish it) */
        s->index_requested = true;
        return 0;
}

int roles_writer_index_stale(struct roles_writer *w) {
        return store_index_stale(store_of_writer(w));
}

int roles_writer_commit(struct roles_writer *w) {
        struct roles_store *s = store_of_writer(w);
        if (s->committed)
                return store_fail(s, -EALREADY, "internal error: committed twice");
        if (s->audit_as_one && !s->audit_summarised)
                return store_fail(s, -EINVAL, "internal error: a change audited as one has no audit row");
        return store_writer_commit(s);
}

static const struct store_writer_hooks writer_hooks = {
        .refresh_derived = store_refresh_derived,
        .keep_before = store_before_keep,
};

int roles_writer_open(const struct roles_config *cfg, unsigned flags, struct roles_writer **ret, char *errbuf,
                      size_t errlen) {
        struct roles_store *s = store_new(cfg, errbuf, errlen);
        int r;

        if (!s)
                return -ENOMEM;
        s->writer = true;
        s->create = flags & ROLES_WRITER_CREATE;
        s->lock_fd = s->lock_dir_fd = -1;
        s->hooks = &writer_hooks;
        roles_strcpy(s->actor, sizeof(s->actor), "unknown");
        host_accounts_init(&s->own_host, &HOST_PATHS_ALL);
        s->host = &s->own_host;
        r = store_writer_begin(s);
        if (r < 0) {
                if (errbuf && errlen > 0)
                        snprintf(errbuf, errlen, "%s", s->err);
                roles_writer_close(store_writer(s));
                return r;
        }
        *ret = store_writer(s);
        return 0;
}

void roles_writer_close(struct roles_writer *w) {
        struct roles_store *s = store_of_writer(w);
        if (!s)
                return;
        if (!s->committed)
                store_writer_abort(s);
        if (s->push_ops)
                s->push_ops->free(s);
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        if (s->lock_dir_fd >= 0)
                close(s->lock_dir_fd);
        free(s->uuid_pool);
        free(s->bulk_indexes);
        free(s->purges);
        host_accounts_done(&s->own_host);
        store_free(s);
}

const char *roles_writer_error(const struct roles_writer *w) {
        return store_error((const struct roles_store *) w);
}

struct roles_snapshot *roles_writer_snapshot(struct roles_writer *w) {
        return store_snapshot(store_of_writer(w));
}

struct roles_secrets *roles_writer_secrets(struct roles_writer *w) {
        return store_secrets(store_of_writer(w));
}

void roles_writer_set_host_accounts(struct roles_writer *w, struct host_accounts *h) {
        struct roles_store *s = store_of_writer(w);
        s->host = h;
}

int store_host(struct roles_store *s, const struct host_accounts **ret) {
        int r = host_accounts_refresh(s->host);
        if (r < 0)
                return store_fail(s, r, "cannot read %s to see which ids the host uses: %s", s->host->failed,
                                  strerror(-r));
        *ret = s->host;
        return 0;
}

int roles_writer_set_actor(struct roles_writer *w, const char *actor) {
        struct roles_store *s = store_of_writer(w);
        if (!roles_text_valid(actor, sizeof(s->actor) - 1))
                return store_fail(s, -EINVAL, "invalid actor name");
        return roles_strcpy(s->actor, sizeof(s->actor), actor);
}

__attribute__((format(printf, 4, 0)))
static int audit_row(struct roles_store *s, const char *action, const char *target, const char *detail_fmt, va_list ap) {
        char detail[512];
        vsnprintf(detail, sizeof(detail), detail_fmt, ap);
        int r = store_exec(s, s->sec, "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                           "ittt" "t", (int64_t) store_now(s), s->actor, action, target, detail);
        return r < 0 ? r : 0;
}

int roles_audit(struct roles_writer *w, const char *action, const char *target, const char *detail_fmt, ...) {
        struct roles_store *s = store_of_writer(w);
        va_list ap;
        if (s->audit_as_one)
                return 0;       /* the change's one row says it (roles_audit_summary) */
        va_start(ap, detail_fmt);
        int r = audit_row(s, action, target, detail_fmt, ap);
        va_end(ap);
        return r;
}

void roles_writer_audit_as_one(struct roles_writer *w) {
        struct roles_store *s = store_of_writer(w);
        s->audit_as_one = true;
}

int roles_audit_summary(struct roles_writer *w, const char *action, const char *target, const char *detail_fmt, ...) {
        struct roles_store *s = store_of_writer(w);
        va_list ap;
        va_start(ap, detail_fmt);
        int r = audit_row(s, action, target, detail_fmt, ap);
        va_end(ap);
        if (r == 0)
                s->audit_summarised = true;
        return r;
}

