/* SPDX-License-Identifier: MIT */
/*
 * The module's state. A process maps roles.nss (and its delta, when one applies) at its first
 * lookup and then looks at the two paths at most once a second: a file replaced by rename has
 * another inode, and the view is mapped anew. Mapping closes its descriptor at once; the
 * mappings are read-only and survive fork harmlessly (the child reads the same immutable
 * pages). The only lock is our own mutex, taken by the atfork prepare handler, so a fork never
 * leaves it held in the child; no other library's lock is ever taken on a lookup's path.
 */
#include "nss-state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "file_stamp.h"
#include "fork_generation.h"
#include "roles-build.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The recursion guard (a lookup from within a lookup): the thread inside one, stored by that
 * thread alone while it holds the lock, so a thread reads its own id here only from inside a
 * lookup. Not a thread-local: a TLS block made every process's dlopen link the dynamic loader
 * (__tls_get_addr) and allocate, and each thread's first lookup set its block up. */
static _Atomic pthread_t holder;

static struct {
        bool configured;
        struct roles_config cfg;
        char base_path[ROLES_INDEX_PATH_SIZE], delta_path[ROLES_INDEX_PATH_SIZE];
        struct nss_index_view view;
        bool mapped;
        struct roles_file_stamp base, delta;    /* what is mapped; the delta's { 0 }: there was none */
        struct roles_recheck view_checked;
        struct host_accounts host;      /* /etc/passwd and /etc/group, read unless host_clear */
        bool host_clear;                /* the view's host verdict holds: the rule takes nothing away */
        struct roles_recheck host_checked;
        uint64_t generation;            /* bumped by a new view, new host files, the configuration read */
        uint64_t memo_generation;       /* the generation the memos were cleared at */
        struct nss_index_member_memo group_memo;        /* nss_group_clash_known(), a base group a unit */
        uint64_t fork_generation;       /* the process's when the state was last used */
} state;

static void unmap_view(void) {
        nss_index_unmap(&state.view.base);
        nss_index_unmap(&state.view.delta);
        state.view.has_delta = false;
        state.mapped = false;
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
        char base[ROLES_INDEX_PATH_SIZE], delta[ROLES_INDEX_PATH_SIZE];
        if (roles_config_index_path(&cfg, false, base, sizeof(base)) < 0 ||
            roles_config_index_path(&cfg, true, delta, sizeof(delta)) < 0)
                return -ENAMETOOLONG;
        /* Another file (a child given another $ROLES_CONF): what is mapped is not it. */
        if (state.mapped && (strcmp(base, state.base_path) != 0 || strcmp(delta, state.delta_path) != 0))
                unmap_view();
        memcpy(state.base_path, base, sizeof(base));
        memcpy(state.delta_path, delta, sizeof(delta));
        state.cfg = cfg;
        state.view.limits = (struct nss_index_limits) { cfg.uid_min, cfg.uid_max, cfg.gid_min, cfg.gid_max };
        state.configured = true;
        /* The limits may be others (a child given another $ROLES_CONF): what was judged by them is not. */
        state.generation++;
        return 0;
}

/*
 * Map the base, then the delta. A delta that names the base mapped is its own: the two are one
 * consistent state (a newer base installed since shows at the next look, within a second). A
 * delta for another base means a writer installed a new base and its delta in between: the
 * base mapped is stale, and alone it would lack changes we may have served. Try again. After
 * three tries, the base alone if its path still holds it: consistent, at worst a change behind
 * until the next look. No delta file at all: the base alone. (The base's path is not looked at
 * again when the delta is its own: one system call less in every process's first lookup.)
 */
static int map_view(void) {
        unmap_view();
        /* The delta's path is the base's with another suffix (roles_config_index_path): one
         * directory, looked at once. */
        int r = nss_index_dir_trusted(state.base_path);
        if (r < 0)
                return r;
        for (int attempt = 0; attempt < 3; attempt++) {
                struct nss_index_file base = { 0 }, delta = { 0 };
                struct roles_file_stamp b, d = { 0 };
                r = nss_index_map_in_trusted_dir(state.base_path, &base, &b);
                if (r == 0 && base.header->kind != NSS_INDEX_BASE)
                        r = -EBADMSG;
                if (r < 0) {
                        nss_index_unmap(&base);
                        return r;
                }
                int rd = nss_index_map_in_trusted_dir(state.delta_path, &delta, &d);
                /* A delta that is there but cannot be trusted or read: no answer rather than the
                 * base without the changes it carries (a writer always installs one). */
                if (rd < 0 && rd != -ENOENT) {
                        nss_index_unmap(&base);
                        return rd;
                }
                bool applies = rd == 0 && nss_index_delta_applies(&base, &delta);
                if (applies || rd < 0 || (attempt == 2 && roles_file_stamp_current(state.base_path, &b))) {
                        state.view.base = base;
                        if (applies)
                                state.view.delta = delta;
                        else
                                nss_index_unmap(&delta);
                        state.view.has_delta = applies;
                        state.base = b;
                        state.delta = d;
                        state.mapped = true;
                        state.generation++;
                        /* Its host verdict is another: judge the host's files again at the next look. */
                        state.host_checked = (struct roles_recheck) { 0 };
                        return 0;
                }
                nss_index_unmap(&base);
                nss_index_unmap(&delta);
        }
        return -EAGAIN;
}

static int check_view(void) {
        struct timespec now = roles_recheck_clock();
        if (state.mapped && !roles_recheck_due(&state.view_checked, &now))
                return 0;
        bool current = state.mapped && roles_file_stamp_current(state.base_path, &state.base) &&
                       roles_file_stamp_current(state.delta_path, &state.delta);
        int r = current ? 0 : map_view();
        if (r == 0)
                roles_recheck_done(&state.view_checked, &now);
        return r;
}

/* Read again whichever of /etc/passwd and /etc/group changed (the first time: both). */
static int read_host_files(void) {
        if (!state.host.passwd.path)
                host_accounts_init(&state.host, &HOST_PATHS_ACCOUNTS);
        uint64_t before = state.host.generation;
        int r = host_accounts_refresh(&state.host);
        if (r == 0 && state.host.generation != before)
                state.generation++;
        return r;
}

/*
 * The host's own files, looked at when a process first finds an entry of its own (nss_host) and
 * then no more than once a second, as the index is. When the view's host verdict holds (its
 * writer found no entry of it that the files, as they are now, hold: nss_index.h), two stats
 * and nothing to read; else both files are read. Unreadable: no answer at all (the rule cannot
 * be applied).
 */
static int check_host(void) {
        struct timespec now = roles_recheck_clock();
        if ((state.host_clear || (state.host.passwd.loaded && state.host.group.loaded)) &&
            !roles_recheck_due(&state.host_checked, &now))
                return 0;
        bool clear = nss_index_host_verdict_holds(&state.view, HOST_PASSWD_PATH, HOST_GROUP_PATH);
        int r = clear ? 0 : read_host_files();
        if (r < 0)
                return r;
        roles_recheck_done(&state.host_checked, &now);
        if (clear != state.host_clear)
                state.generation++;
        state.host_clear = clear;
        return 0;
}

/* A memo of units two bits each, current: made at the size asked for (anonymous pages of our
 * own: no allocator's lock on a lookup's path), zeroed when stale. Without memory for it, none. */
static void memo_prepare(struct nss_index_member_memo *m, uint64_t units, bool stale) {
        uint64_t words = (units + 31) / 32;
        if (m->words && m->n_words == words) {
                if (stale)
                        memset(m->words, 0, words * sizeof(*m->words));
                return;
        }
        if (m->words)
                munmap(m->words, m->n_words * sizeof(*m->words));
        *m = (struct nss_index_member_memo) { 0 };
        void *p = words ? mmap(NULL, words * sizeof(*m->words), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                        : MAP_FAILED;
        if (p != MAP_FAILED)
                *m = (struct nss_index_member_memo) { p, words };
}

/*
 * The memos, made when a process first walks a group's members and zeroed whenever the
 * generation moves: two bits for each of the base's member entries (a base without the member
 * extension: each of its users; nss_index_read.h), 75 KiB at 100,000 users in three groups each; and two for each
 * of its groups (what the host's files said of it), 27 KiB at 110,000 groups.
 */
void nss_members_prepare(void) {
        const struct nss_index_file *base = &state.view.base;
        uint64_t units = nss_index_memo_units(base);
        bool stale = state.memo_generation != state.generation;
        state.view.member_host = state.host_clear ? NULL : &state.host;
        state.memo_generation = state.generation;
        memo_prepare(&state.view.member_memo, units, stale);
        memo_prepare(&state.group_memo, base->n[NSS_SECTION_GROUPS], stale);
}

static uint64_t *group_memo_word(const struct nss_index_found_group *g, unsigned *ret_shift) {
        if (g->file != &state.view.base || g->index / 32 >= state.group_memo.n_words)
                return NULL;
        *ret_shift = (g->index % 32) * 2;
        return &state.group_memo.words[g->index / 32];
}

int nss_group_clash_known(const struct nss_index_found_group *g) {
        unsigned shift;
        uint64_t *word = group_memo_word(g, &shift);
        return word && (*word >> shift & 1) ? (int) (*word >> shift & 2) >> 1 : -1;
}

void nss_group_clash_keep(const struct nss_index_found_group *g, bool clashes) {
        unsigned shift;
        uint64_t *word = group_memo_word(g, &shift);
        if (word)
                *word |= (uint64_t) (clashes ? 3 : 1) << shift;
}

/* fork() while another thread holds the lock would leave the child's copy locked for ever (the
 * thread that would release it does not exist there), and the state half-changed. So fork
 * waits for the lock, and both sides release it. vfork() and posix_spawn() run no handlers,
 * but their child execs at once. */
static void fork_prepare(void) {
        pthread_mutex_lock(&lock);
}

static void fork_release(void) {
        pthread_mutex_unlock(&lock);
}

/* Registered at load, not at a first lookup: that may run inside another library's fork
 * handler, where registering one waits for ever (fork_generation.c registers its own so). */
__attribute__((constructor)) static void nss_state_init(void) {
        pthread_atfork(fork_prepare, fork_release, fork_release);
        state.fork_generation = roles_fork_generation();
}

/* With the lock held. A child reads the configuration and looks at the files at its first
 * lookup, not up to a second later: it may be a new session that must see the change just
 * made, or have been given another $ROLES_CONF. */
static void forget_checks_after_fork(void) {
        uint64_t now = roles_fork_generation();
        if (state.fork_generation == now)
                return;
        state.fork_generation = now;
        state.configured = false;
        state.view_checked = state.host_checked = (struct roles_recheck) { 0 };
}

/* Entries an enumeration serves between two drops of the pages it streamed past: about 1 MiB
 * of records and strings. */
#define ENUMERATED_PER_DROP 4096

/*
 * The group members of a base without the member extension are users taken at random, by their records and names: pages
 * let go every 4096 groups were all faulted back in by the next 4096 (every window of groups
 * reaches all the users), which cost a tenth of a group enumeration's time at 100k users. So a
 * group enumeration of such a base keeps the users' records and the strings until it ends. A
 * base's member extension carries the groups' members in place (nss_index.h): an enumeration of it
 * streams through everything it reads, and lets all of it go.
 */
static uint32_t streamed_keep(bool groups) {
        return groups && !state.view.base.member_ranges ? 1u << NSS_SECTION_USERS | 1u << NSS_SECTION_STRINGS : 0;
}

static void drop_pages(uint32_t keep) {
        nss_index_drop_pages(&state.view.base, keep);
        nss_index_drop_pages(&state.view.delta, keep);
}

void nss_enumerated(bool groups) {
        static unsigned served;
        if (++served < ENUMERATED_PER_DROP)
                return;
        served = 0;
        drop_pages(streamed_keep(groups));
}

void nss_enumeration_ended(void) {
        drop_pages(0);
}

int nss_unavailable(int r) {
        return r == -ENOMEM ? r : -(NSS_E_UNAVAIL | (r > -NSS_E_UNAVAIL ? -r : EIO));
}

int nss_begin(void) {
        pthread_t self = pthread_self();
        if (pthread_equal(atomic_load_explicit(&holder, memory_order_relaxed), self))
                return -EDEADLK;
        pthread_mutex_lock(&lock);
        atomic_store_explicit(&holder, self, memory_order_relaxed);
        forget_checks_after_fork();
        return 0;
}

int nss_prepare(void) {
        int r = state.configured ? 0 : load_config();
        return r < 0 ? nss_unavailable(r) : 0;
}

int nss_enter(const struct nss_index_view **ret) {
        int r = nss_begin();
        if (r < 0)
                return r;
        r = nss_prepare();
        /* Whatever kept the index from being mapped (missing, unreadable, damaged, a bad
         * configuration), it is not "no such entry": the answer is UNAVAIL, with the reason. */
        if (r >= 0 && (r = check_view()) < 0)
                r = nss_unavailable(r);
        if (r < 0) {
                nss_leave();
                return r;
        }
        *ret = &state.view;
        return 0;
}

void nss_leave(void) {
        atomic_store_explicit(&holder, (pthread_t) 0, memory_order_relaxed);
        pthread_mutex_unlock(&lock);
}

int nss_host(const struct host_accounts **ret) {
        int r = check_host();
        if (r < 0)
                return nss_unavailable(r);
        *ret = state.host_clear ? NULL : &state.host;
        return 0;
}

int nss_host_files(const struct host_accounts **ret) {
        int r = read_host_files();
        if (r < 0)
                return nss_unavailable(r);
        *ret = &state.host;
        return 0;
}

const struct roles_config *nss_config(void) {
        return &state.cfg;
}

uint64_t nss_generation(void) {
        return state.generation;
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
        case -EBADMSG:          /* a record that must not be served */
                *errnop = ENOENT;
                return NSS_STATUS_NOTFOUND;
        case -ERANGE:           /* the caller's buffer: try again with a larger one */
                *errnop = ERANGE;
                return NSS_STATUS_TRYAGAIN;
        case -ENOMEM:
                *errnop = ENOMEM;
                return NSS_STATUS_TRYAGAIN;
        default:                /* no index, unreadable, damaged: not ours to answer */
                *errnop = r < 0 ? -r : EIO;
                return NSS_STATUS_UNAVAIL;
        }
}

enum nss_status nss_finish(int r, int *errnop, int saved_errno) {
        enum nss_status status = nss_status_from(r, errnop);
        errno = status == NSS_STATUS_SUCCESS ? saved_errno : *errnop;
        return status;
}
