/* SPDX-License-Identifier: MIT */
/*
 * The host verdict (nss_index.h) that a writer puts at the end of the delta it installs.
 *
 * Why: the host's own accounts win (host_accounts.h), so every process that found an entry of
 * ours read /etc/passwd and /etc/group at its first lookup: a third of what the module cost a
 * one-shot `getent` or `id`. The writer judges the records once, against the files as it reads
 * them, with the rule's one copy (host_accounts_user_clashes, _group_clashes, _has_gid); a
 * reader that finds both halves clear and both files unchanged since (their stamps) reads
 * neither. Anything short of that leaves the trailer out, and readers read the files as before:
 * a file changed too recently to be told apart from a later change, a file missing or
 * unreadable, no memory. The verdict never decides a write: it only spares readers work.
 *
 * A base is judged whole when it is compiled, and again only when the files changed since the
 * last verdict: a change carries the base's half over from the installed delta, and judges only
 * its own delta, so it still costs what it changes.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "nss_index_build.h"
#include "nss_index_read.h"
#include "store-internal.h"

/* A file changed less than this before the writer read it may change again within the same
 * timestamp tick (file times are taken from a coarse clock) and keep every stamp: no verdict. */
#define SETTLED_NS (1000L * 1000 * 1000)

static int gid_is_hosts(void *userdata, uint32_t gid) {
        return host_accounts_has_gid(userdata, gid);
}

/*
 * Does the rule leave every record of f alone? f is judged by itself (a delta's records as much
 * as a base's), every id in range (roles.conf's ranges may widen without a new index), every
 * gid a user lists whatever the clock says (now 0: every grant not yet ended, any account not
 * disabled). A record no lookup serves (an invalid name or text) needs no judging.
 */
static bool file_clear(const struct nss_index_file *f, struct host_accounts *h) {
        const struct nss_index_view v = { .base = *f, .limits = { 0, UINT32_MAX, 0, UINT32_MAX } };
        for (uint64_t i = 0; i < f->n[NSS_SECTION_USERS]; i++) {
                struct nss_index_found_user u;
                if (nss_index_user_at(&v, &v.base, i, &u) < 0)
                        continue;
                if (host_accounts_user_clashes(h, u.name.p, u.name.n, u.uid, u.gid) ||
                    nss_index_user_gids(&v, &u, 0, gid_is_hosts, h) != 0)
                        return false;
        }
        for (uint64_t i = 0; i < f->n[NSS_SECTION_GROUPS]; i++) {
                struct nss_index_found_group g;
                if (nss_index_group_at(&v, &v.base, i, &g) == 0 &&
                    host_accounts_group_clashes(h, g.name.p, g.name.n, g.gid))
                        return false;
        }
        return true;
}

static bool settled(const struct roles_file_stamp *st, const struct timespec *now) {
        int64_t changed_ns = (int64_t) st->ctime.tv_sec * 1000000000 + st->ctime.tv_nsec;
        int64_t modified_ns = (int64_t) st->mtime.tv_sec * 1000000000 + st->mtime.tv_nsec;
        int64_t now_ns = (int64_t) now->tv_sec * 1000000000 + now->tv_nsec;
        return st->ino != 0 && changed_ns <= now_ns - SETTLED_NS && modified_ns <= now_ns - SETTLED_NS;
}

static bool same_stamp(const struct nss_index_host_stamp *judged, const struct roles_file_stamp *read) {
        struct nss_index_host_stamp now = nss_index_host_stamp_of(read);
        return memcmp(judged, &now, sizeof(now)) == 0;
}

/* The installed delta's verdict on its base, when it was made against these very files:
 * NSS_INDEX_HOST_BASE_CLEAR or 0; -1 when it cannot say. */
static int carried_base_flag(const struct nss_index_view *installed, const struct nss_index_host_stamp *passwd,
                             const struct nss_index_host_stamp *group) {
        const struct nss_index_host_verdict *hv =
                installed && installed->has_delta ? installed->delta.host_verdict : NULL;
        if (!hv || memcmp(&hv->passwd, passwd, sizeof(*passwd)) != 0 || memcmp(&hv->group, group, sizeof(*group)) != 0)
                return -1;
        return (int) (hv->flags & NSS_INDEX_HOST_BASE_CLEAR);
}

void store_index_judge_host(struct roles_store *s, const struct nss_index_view *installed) {
        struct host_accounts h;
        struct nss_index_file base, delta;
        struct timespec now;
        void **data = s->index_kind == NSS_INDEX_BASE ? &s->index_empty_delta : &s->index_data;
        size_t *size = s->index_kind == NSS_INDEX_BASE ? &s->index_empty_delta_size : &s->index_size;

        host_accounts_init(&h, &HOST_PATHS_ACCOUNTS);
        if (!*data || host_accounts_refresh(&h) < 0 || clock_gettime(CLOCK_REALTIME, &now) < 0 ||
            !settled(&h.passwd.stamp, &now) || !settled(&h.group.stamp, &now))
                goto out;
        struct nss_index_host_stamp passwd = nss_index_host_stamp_of(&h.passwd.stamp);
        struct nss_index_host_stamp group = nss_index_host_stamp_of(&h.group.stamp);
        /* What is judged was compiled just now, or installed by a writer (and checked when mapped). */
        if (s->index_kind == NSS_INDEX_BASE) {
                if (nss_index_file_check(s->index_data, s->index_size, false, &base) < 0)
                        goto out;
        } else if (installed)
                base = installed->base;
        else
                goto out;
        if (nss_index_file_check(*data, *size, false, &delta) < 0)
                goto out;
        int flags = s->index_kind == NSS_INDEX_BASE ? -1 : carried_base_flag(installed, &passwd, &group);
        if (flags < 0)
                flags = file_clear(&base, &h) ? NSS_INDEX_HOST_BASE_CLEAR : 0;
        if (file_clear(&delta, &h))
                flags |= NSS_INDEX_HOST_DELTA_CLEAR;
        /* Without memory for it, no trailer: readers read the files. */
        (void) nss_index_add_host_verdict(data, size, (uint32_t) flags, &passwd, &group);
out:
        host_accounts_done(&h);
}

bool store_index_host_verdict_wrong(const struct nss_index_view *installed) {
        const struct nss_index_host_verdict *hv = installed->has_delta ? installed->delta.host_verdict : NULL;
        struct host_accounts h;
        bool wrong = false;
        if (!hv || !(hv->flags & NSS_INDEX_HOST_CLEAR))
                return false;
        host_accounts_init(&h, &HOST_PATHS_ACCOUNTS);
        /* Judged against other versions of the files than these, it says nothing now. */
        if (host_accounts_refresh(&h) == 0 && same_stamp(&hv->passwd, &h.passwd.stamp) &&
            same_stamp(&hv->group, &h.group.stamp))
                wrong = ((hv->flags & NSS_INDEX_HOST_BASE_CLEAR) && !file_clear(&installed->base, &h)) ||
                        ((hv->flags & NSS_INDEX_HOST_DELTA_CLEAR) && !file_clear(&installed->delta, &h));
        host_accounts_done(&h);
        return wrong;
}
