/* SPDX-License-Identifier: MIT */
#include "nss-state.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "host_accounts.h"
#include "roles-build.h"

/* How often, at most, we look whether roles.db was replaced (a rename by rolesctl). */
#define RECHECK_NS (1000L * 1000 * 1000)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool inside;       /* recursion guard: a lookup from within a lookup */

static struct {
        bool forked;            /* set in a child by the atfork handler: drop inherited connections */
        bool forked_child;      /* this process was forked without exec (never cleared: exec resets it) */
        struct roles_config cfg;
        struct roles_store *stores[2];
        dev_t dev;
        ino_t ino;
        struct timespec checked;
        struct host_accounts host;      /* /etc/passwd and /etc/group, read by the first lookup */
        struct timespec host_checked;
        uint64_t generation;            /* bumped by a new snapshot and by new host files */
} state;

static void drop_stores(void) {
        for (size_t i = 0; i < ROLES_N_ELEMENTS(state.stores); i++) {
                roles_store_close(state.stores[i]);
                state.stores[i] = NULL;
        }
}

static int load_config(void) {
        struct roles_config cfg;
        const char *path = roles_config_path(NULL);
        roles_config_defaults(&cfg);
        int r = roles_config_load(path, &cfg, NULL, 0);
        /* Every key has a default: a missing /etc/roles.conf means the defaults; a missing
         * $ROLES_CONF is an error (it names a file that should be there). */
        if (r < 0 && !(r == -ENOENT && strcmp(path, ROLES_DEFAULT_CONF) == 0))
                return r;
        state.cfg = cfg;
        return 0;
}

static bool elapsed(const struct timespec *since, const struct timespec *now) {
        long long ns = (long long) (now->tv_sec - since->tv_sec) * 1000000000LL + (now->tv_nsec - since->tv_nsec);
        return ns >= RECHECK_NS || ns < 0;
}

/* Close what the snapshot's replacement (or a fork) made stale. */
static void check_current(void) {
        struct timespec now;
        struct stat st;

        if (state.forked) {
                /* Inherited across fork, their roles.db descriptors already closed by fork_child:
                 * the child gets connections of its own. (A child made by a raw clone() that
                 * skips the handler still works: the connections only pread an immutable file,
                 * without locks or a shared offset.) */
                drop_stores();
                state.forked = false;
        }
        if (!state.stores[0] && !state.stores[1])
                return;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
        if (!elapsed(&state.checked, &now))
                return;
        state.checked = now;
        if (stat(state.cfg.public_db, &st) < 0 || st.st_dev != state.dev || st.st_ino != state.ino)
                drop_stores();
}

static int open_store(enum nss_db db) {
        struct stat st;
        int r;

        bool first = !state.stores[0] && !state.stores[1];
        if (first && (r = load_config()) < 0)
                return r;
        /* The inode is read before and after opening, until they agree: a file replaced in
         * between could otherwise be served under the old file's inode number until the next
         * change (the freed number may come back for the next snapshot). */
        for (int attempt = 0; attempt < 3; attempt++) {
                struct stat after;
                if (stat(state.cfg.public_db, &st) < 0)
                        return -errno;
                r = roles_store_open(&state.cfg, ROLES_STORE_FORK_SAFE | (db == NSS_DB_SECRETS ? ROLES_STORE_SECRETS : 0),
                                     &state.stores[db], NULL, 0);
                if (r < 0)
                        return r;
                if (stat(state.cfg.public_db, &after) == 0 && after.st_dev == st.st_dev && after.st_ino == st.st_ino) {
                        if (first) {
                                state.dev = st.st_dev;
                                state.ino = st.st_ino;
                                clock_gettime(CLOCK_MONOTONIC_COARSE, &state.checked);
                                return 0;
                        }
                        if (st.st_dev == state.dev && st.st_ino == state.ino)
                                return 0;
                        /* The other store is of an older snapshot: start both afresh. */
                        drop_stores();
                        first = true;
                        continue;
                }
                roles_store_close(state.stores[db]);
                state.stores[db] = NULL;
        }
        return -EAGAIN;
}

/*
 * fork() while another thread holds the lock would leave the child's copy locked for ever (the
 * thread that would release it does not exist there), and its state half-changed. So fork waits
 * for the lock, and both sides release it; the child then drops the parent's connections on its
 * first call (check_current). Knowing about fork this way also spares a getpid() per call.
 *
 * A child that becomes a user without exec (sshd's session process) must not keep roles.db open
 * until a lookup it may never make, and SQLite must not be called here (another thread may have
 * held one of its mutexes at the fork): the stores read roles.db through descriptors of their
 * own (ROLES_STORE_FORK_SAFE), which the child closes at once. Holding the lock, no thread was
 * reading through them at the fork. vfork() and posix_spawn() run no handlers, but their child
 * execs at once, and the descriptors are close-on-exec.
 */
static void fork_prepare(void) {
        pthread_mutex_lock(&lock);
}

static void fork_release(void) {
        pthread_mutex_unlock(&lock);
}

static void fork_child(void) {
        roles_store_close_inherited_snapshots();
        state.forked = true;
        state.forked_child = true;
        pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void nss_state_init(void) {
        pthread_atfork(fork_prepare, fork_release, fork_child);
}

int nss_begin(void) {
        if (inside)
                return -EDEADLK;
        inside = true;
        pthread_mutex_lock(&lock);
        return 0;
}

/*
 * The host's own files, read by the first lookup of a process and then looked at no more than
 * once a second, as roles.db is. Unreadable: no answer at all (the rule cannot be applied).
 */
static int check_host(void) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
        if (state.host.passwd.loaded && state.host.group.loaded && !elapsed(&state.host_checked, &now))
                return 0;
        if (!state.host.passwd.path)
                host_accounts_init(&state.host, &HOST_PATHS_ACCOUNTS);
        uint64_t before = state.host.generation;
        int r = host_accounts_refresh(&state.host);
        if (r < 0)
                return r;
        state.host_checked = now;
        if (state.host.generation != before)
                state.generation++;
        return 0;
}

static int unavailable(int r) {
        return r == -ENOMEM ? r : -(NSS_E_UNAVAIL | (r > -NSS_E_UNAVAIL ? -r : EIO));
}

int nss_store(enum nss_db db, struct roles_store **ret) {
        check_current();
        int r = check_host();
        if (r < 0)
                return unavailable(r);
        if (!state.stores[db]) {
                r = open_store(db);
                /* Whatever kept the database from opening (missing, unreadable, not a database, a
                 * newer schema, a bad configuration), it is not "no such entry": the answer is
                 * UNAVAIL, with the reason in *errnop. */
                if (r < 0)
                        return unavailable(r);
                state.generation++;
        }
        *ret = state.stores[db];
        return 0;
}

const struct host_accounts *nss_host(void) {
        return &state.host;
}

uint64_t nss_generation(void) {
        return state.generation;
}

int nss_enter(enum nss_db db, struct roles_store **ret) {
        int r = nss_begin();
        if (r < 0)
                return r;
        r = nss_store(db, ret);
        if (r < 0)
                nss_leave();
        return r;
}

void nss_leave(void) {
        pthread_mutex_unlock(&lock);
        inside = false;
}

void nss_close_store(enum nss_db db) {
        roles_store_close(state.stores[db]);
        state.stores[db] = NULL;
}

void nss_release_before_setuid(void) {
        if (state.forked_child && geteuid() == 0)
                nss_close_store(NSS_DB_PUBLIC);
}

void nss_lock(void) {
        pthread_mutex_lock(&lock);
}

void nss_unlock(void) {
        pthread_mutex_unlock(&lock);
}

enum nss_status nss_status_from(int r, int *errnop) {
        if (r < 0 && (-r & NSS_E_UNAVAIL)) {
                *errnop = -r & ~NSS_E_UNAVAIL;
                return NSS_STATUS_UNAVAIL;
        }
        switch (r) {
        case 0:
                return NSS_STATUS_SUCCESS;
        case -ENOENT:           /* no such entry */
        case -EINVAL:           /* a name that cannot exist */
        case -EBADMSG:          /* a row that must not be served */
                *errnop = ENOENT;
                return NSS_STATUS_NOTFOUND;
        case -ERANGE:           /* the caller's buffer: try again with a larger one */
                *errnop = ERANGE;
                return NSS_STATUS_TRYAGAIN;
        case -ENOMEM:
                *errnop = ENOMEM;
                return NSS_STATUS_TRYAGAIN;
        default:                /* no database, unreadable, corrupt, newer schema: not ours to answer */
                *errnop = r < 0 ? -r : EIO;
                return NSS_STATUS_UNAVAIL;
        }
}
