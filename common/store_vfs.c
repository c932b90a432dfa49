/* SPDX-License-Identifier: MIT */
/*
 * The snapshot VFS: how a store opened with ROLES_STORE_FORK_SAFE reads roles.db.
 *
 * The NSS module keeps a connection to roles.db for the life of a process. A process that
 * forks without exec (sshd's monitor, forking the child that becomes the user) would hand its
 * descriptor to the child, and the child's copy of SQLite cannot be asked to close it: SQLite
 * must not be called from an atfork handler (another thread may have held one of its mutexes
 * at the fork), and the child may never make another lookup. So the snapshot's descriptors are
 * opened here, not by SQLite's unix VFS, and noted in a small table that
 * roles_store_close_inherited_snapshots() closes without SQLite, allocation or lock.
 *
 * The file is immutable (a writer renames a new one over it, never writes in place): reads are
 * pread(), the size is fstat(), locks are no-ops, and SQLite is told SQLITE_IOCAP_IMMUTABLE.
 * Everything that is not about the open file goes to the unix VFS. Registered once, under a
 * name of its own and not as the default: the PAM module and rolesctl open their stores
 * through the unix VFS, for writing, and never reach this one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-internal.h"

/*
 * One slot per open snapshot file. A slot holds FREE, the descriptor + 1 (so that zeroed memory
 * is all free: the atfork handler may run in a process that never opened a snapshot), or
 * CLOSED: closed in a forked child, while the connection still refers to the slot until the
 * child drops it (were it FREE, another file could take it, and that late xClose would close
 * the newcomer's descriptor).
 *
 * Slots come in chunks chained from a static first one; a chunk is added (never removed while
 * the module is loaded) when all are taken, so a threaded PAM server may keep any number of
 * authenticated handles, and no handle makes another fail. The fork handler walks the chain
 * with atomic loads alone: no lock, no allocation.
 */
#define SLOTS_PER_CHUNK 32
enum { SLOT_FREE = 0, SLOT_CLOSED = -1 };
struct slot_chunk {
        atomic_int slots[SLOTS_PER_CHUNK];
        struct slot_chunk *_Atomic next;
};
static struct slot_chunk first_chunk;

struct snapshot_file {
        sqlite3_file base;      /* first: SQLite passes the file as a sqlite3_file */
        atomic_int *slot;
};

/* The descriptor to read, or -1 when a fork closed it. */
static int file_fd(sqlite3_file *file) {
        int v = atomic_load_explicit(((struct snapshot_file *) file)->slot, memory_order_relaxed);
        return v > 0 ? v - 1 : -1;
}

static int snapshot_close(sqlite3_file *file) {
        int v = atomic_exchange(((struct snapshot_file *) file)->slot, SLOT_FREE);
        if (v > 0)
                close(v - 1);
        return SQLITE_OK;
}

static int snapshot_read(sqlite3_file *file, void *buf, int amount, sqlite3_int64 offset) {
        int fd = file_fd(file);
        size_t want = (size_t) amount, got = 0;
        if (fd < 0)
                return SQLITE_IOERR_READ;
        while (got < want) {
                ssize_t n = pread(fd, (char *) buf + got, want - got, (off_t) offset + (off_t) got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return SQLITE_IOERR_READ;
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        if (got < want) {
                /* Past the end: SQLite requires the rest zeroed. */
                memset((char *) buf + got, 0, want - got);
                return SQLITE_IOERR_SHORT_READ;
        }
        return SQLITE_OK;
}

static int snapshot_write(sqlite3_file *file, const void *buf, int amount, sqlite3_int64 offset) {
        (void) file, (void) buf, (void) amount, (void) offset;
        return SQLITE_READONLY;
}

static int snapshot_truncate(sqlite3_file *file, sqlite3_int64 size) {
        (void) file, (void) size;
        return SQLITE_READONLY;
}

static int snapshot_sync(sqlite3_file *file, int flags) {
        (void) file, (void) flags;
        return SQLITE_OK;
}

static int snapshot_file_size(sqlite3_file *file, sqlite3_int64 *ret) {
        struct stat st;
        int fd = file_fd(file);
        if (fd < 0 || fstat(fd, &st) < 0)
                return SQLITE_IOERR_FSTAT;
        *ret = st.st_size;
        return SQLITE_OK;
}

/* Nobody writes the file in place: there is nothing to lock against. */
static int snapshot_lock(sqlite3_file *file, int level) {
        (void) file, (void) level;
        return SQLITE_OK;
}

static int snapshot_check_reserved_lock(sqlite3_file *file, int *ret) {
        (void) file;
        *ret = 0;
        return SQLITE_OK;
}

static int snapshot_file_control(sqlite3_file *file, int op, void *arg) {
        (void) file, (void) op, (void) arg;
        return SQLITE_NOTFOUND;
}

static int snapshot_sector_size(sqlite3_file *file) {
        (void) file;
        return 4096;            /* the unix VFS's default */
}

static int snapshot_device_characteristics(sqlite3_file *file) {
        (void) file;
        return SQLITE_IOCAP_IMMUTABLE;
}

/* Version 1: no shared memory (no WAL) and no mmap, so every read is a pread on our descriptor. */
static const sqlite3_io_methods snapshot_io = {
        .iVersion = 1,
        .xClose = snapshot_close,
        .xRead = snapshot_read,
        .xWrite = snapshot_write,
        .xTruncate = snapshot_truncate,
        .xSync = snapshot_sync,
        .xFileSize = snapshot_file_size,
        .xLock = snapshot_lock,
        .xUnlock = snapshot_lock,
        .xCheckReservedLock = snapshot_check_reserved_lock,
        .xFileControl = snapshot_file_control,
        .xSectorSize = snapshot_sector_size,
        .xDeviceCharacteristics = snapshot_device_characteristics,
};

static atomic_int *claim_slot(int fd) {
        for (struct slot_chunk *c = &first_chunk;;) {
                for (size_t i = 0; i < SLOTS_PER_CHUNK; i++) {
                        int expected = SLOT_FREE;
                        if (atomic_compare_exchange_strong(&c->slots[i], &expected, fd + 1))
                                return &c->slots[i];
                }
                struct slot_chunk *next = atomic_load(&c->next);
                if (!next) {
                        struct slot_chunk *fresh = calloc(1, sizeof(*fresh));
                        if (!fresh)
                                return NULL;
                        /* Another thread may have chained one meanwhile: then use that one. */
                        if (atomic_compare_exchange_strong(&c->next, &next, fresh))
                                next = fresh;
                        else
                                free(fresh);
                }
                c = next;
        }
}

static int snapshot_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *ret_flags) {
        struct snapshot_file *f = (struct snapshot_file *) file;
        (void) vfs;
        f->base.pMethods = NULL;        /* SQLite closes only a file whose open succeeded */
        /* Only the database itself, read-only: an immutable file has no journal and temp_store is
         * MEMORY, and any other file would be a descriptor the fork handler does not know of. */
        if (!name || !(flags & SQLITE_OPEN_MAIN_DB) || !(flags & SQLITE_OPEN_READONLY))
                return SQLITE_CANTOPEN;
        int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return SQLITE_CANTOPEN;
        f->slot = claim_slot(fd);
        if (!f->slot) {
                close(fd);
                return SQLITE_CANTOPEN;
        }
        f->base.pMethods = &snapshot_io;
        if (ret_flags)
                *ret_flags = flags;
        return SQLITE_OK;
}

static int snapshot_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
        (void) vfs, (void) name, (void) sync_dir;
        return SQLITE_IOERR_DELETE;
}

/* The rest is the unix VFS's. */
static sqlite3_vfs *unix_vfs;

static int unix_access(sqlite3_vfs *vfs, const char *name, int flags, int *ret) {
        (void) vfs;
        return unix_vfs->xAccess(unix_vfs, name, flags, ret);
}

static int unix_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
        (void) vfs;
        return unix_vfs->xFullPathname(unix_vfs, name, size, out);
}

static void *unix_dlopen(sqlite3_vfs *vfs, const char *name) {
        (void) vfs;
        return unix_vfs->xDlOpen(unix_vfs, name);
}

static void unix_dlerror(sqlite3_vfs *vfs, int size, char *out) {
        (void) vfs;
        unix_vfs->xDlError(unix_vfs, size, out);
}

static void (*unix_dlsym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
        (void) vfs;
        return unix_vfs->xDlSym(unix_vfs, handle, symbol);
}

static void unix_dlclose(sqlite3_vfs *vfs, void *handle) {
        (void) vfs;
        unix_vfs->xDlClose(unix_vfs, handle);
}

static int unix_randomness(sqlite3_vfs *vfs, int size, char *out) {
        (void) vfs;
        return unix_vfs->xRandomness(unix_vfs, size, out);
}

static int unix_sleep(sqlite3_vfs *vfs, int microseconds) {
        (void) vfs;
        return unix_vfs->xSleep(unix_vfs, microseconds);
}

static int unix_current_time(sqlite3_vfs *vfs, double *ret) {
        (void) vfs;
        return unix_vfs->xCurrentTime(unix_vfs, ret);
}

static int unix_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
        (void) vfs;
        return unix_vfs->xGetLastError(unix_vfs, size, out);
}

static int unix_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *ret) {
        (void) vfs;
        return unix_vfs->xCurrentTimeInt64(unix_vfs, ret);
}

/* The name carries this copy's address: a process may hold two copies of the store (rolesctl
 * linked with it, and the NSS module it loads), and each copy's table must see its own files. */
static char vfs_name[64];

static sqlite3_vfs snapshot_vfs = {
        .iVersion = 2,
        .szOsFile = sizeof(struct snapshot_file),
        .zName = vfs_name,
        .xOpen = snapshot_open,
        .xDelete = snapshot_delete,
        .xAccess = unix_access,
        .xFullPathname = unix_full_pathname,
        .xDlOpen = unix_dlopen,
        .xDlError = unix_dlerror,
        .xDlSym = unix_dlsym,
        .xDlClose = unix_dlclose,
        .xRandomness = unix_randomness,
        .xSleep = unix_sleep,
        .xCurrentTime = unix_current_time,
        .xGetLastError = unix_get_last_error,
        .xCurrentTimeInt64 = unix_current_time_int64,
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

static void register_snapshot_vfs(void) {
        unix_vfs = sqlite3_vfs_find("unix");
        if (!unix_vfs || unix_vfs->iVersion < 2)
                return;
        snapshot_vfs.mxPathname = unix_vfs->mxPathname;
        snprintf(vfs_name, sizeof(vfs_name), "roles-snapshot-%p", (void *) &snapshot_vfs);
        register_rc = sqlite3_vfs_register(&snapshot_vfs, 0);
}

/* A module unloaded with its VFS still registered would leave SQLite a dangling entry. */
__attribute__((destructor)) static void unregister_snapshot_vfs(void) {
        if (register_rc == SQLITE_OK)
                sqlite3_vfs_unregister(&snapshot_vfs);
        /* libpam unloads the PAM module at every pam_end: the chunks go with it (no snapshot is
         * open by then: every store was closed). */
        struct slot_chunk *c = atomic_exchange(&first_chunk.next, NULL);
        while (c) {
                struct slot_chunk *next = atomic_load(&c->next);
                free(c);
                c = next;
        }
}

int store_snapshot_vfs(const char **ret) {
        pthread_once(&register_once, register_snapshot_vfs);
        if (register_rc != SQLITE_OK)
                return -ENOSYS;
        *ret = vfs_name;
        return 0;
}

void roles_store_close_inherited_snapshots(void) {
        for (struct slot_chunk *c = &first_chunk; c; c = atomic_load(&c->next))
                for (size_t i = 0; i < SLOTS_PER_CHUNK; i++) {
                        int v = atomic_load_explicit(&c->slots[i], memory_order_relaxed);
                        if (v > 0) {
                                close(v - 1);
                                atomic_store_explicit(&c->slots[i], SLOT_CLOSED, memory_order_relaxed);
                        }
                }
}
