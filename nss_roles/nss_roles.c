/* SPDX-License-Identifier: MIT */
/*
 * libnss_roles.so.2: the glibc entry points for passwd, group and initgroups (shadow:
 * nss_shadow.c). Each one is thin: enter (lock, current view of roles.nss), look up, check
 * against the host's own accounts, pack into the caller's buffer, leave, map the result. errno
 * is left as it was on success; on failure it is set to what *errnop says.
 */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nss-pack.h"
#include "nss-state.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- the host's own accounts win ------------------------------------------------------------ */

/* With the lock held: 0 when the entry is ours to serve, -ENOENT when the host's own files hold
 * its name or one of its ids (never ours: see host_accounts.h), UNAVAIL when they cannot be
 * read. Only an entry roles has needs the rule, so the files are read here, not on every
 * lookup: most lookups that reach roles are for names it does not have (initgroups of every
 * local account), and a process's first one then reads no host file at all. */
static int user_servable(const struct nss_index_found_user *u) {
        const struct host_accounts *h;
        int r = nss_host(&h);
        if (r < 0)
                return r;
        return h && host_accounts_user_clashes(h, u->name.p, u->name.n, u->uid, u->gid) ? -ENOENT : 0;
}

/* The same for a group, whose members are then walked against the same accounts. */
static int group_servable(const struct nss_index_found_group *g) {
        const struct host_accounts *h;
        int r = nss_host(&h);
        if (r < 0)
                return r;
        nss_members_prepare();
        if (!h)
                return 0;
        int clashes = nss_group_clash_known(g);
        if (clashes < 0) {
                clashes = host_accounts_group_clashes(h, g->name.p, g->name.n, g->gid);
                nss_group_clash_keep(g, clashes);
        }
        return clashes ? -ENOENT : 0;
}

/* ---- passwd ---------------------------------------------------------------------------------- */

static enum nss_status lookup_passwd(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved = errno;
        const struct nss_index_view *v;
        struct nss_index_found_user u;
        int r = nss_enter(&v);
        if (r < 0)
                return nss_finish(r, errnop, saved);
        r = name ? nss_index_user_by_name(v, name, strlen(name), &u) : nss_index_user_by_uid(v, uid, &u);
        if (r == 0)
                r = user_servable(&u);
        if (r == 0)
                r = nss_pack_passwd(&u, pw, buf, len);
        nss_leave();
        return nss_finish(r, errnop, saved);
}

EXPORT enum nss_status _nss_roles_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop) {
        return lookup_passwd(name, 0, pw, buf, len, errnop);
}

EXPORT enum nss_status _nss_roles_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop) {
        return lookup_passwd(NULL, uid, pw, buf, len, errnop);
}

/*
 * Enumeration walks the view in id order. The cursor is the last id served: no lock is held
 * between calls, a replaced index is picked up at the next call (from the same place), and an
 * entry that did not fit the caller's buffer (ERANGE) is served again on the next call because
 * the cursor only moves after a success.
 */
struct cursor {
        int64_t after;                  /* the last id served or skipped; -1 before the first */
        struct nss_index_hint hint;
};

static struct cursor pw_cursor = { -1, { 0, 0 } }, gr_cursor = { -1, { 0, 0 } };

static void reset(struct cursor *c) {
        *c = (struct cursor) { -1, { 0, 0 } };
}

/* end*ent resets a cursor and lets the enumeration's pages go: it takes the lock, never the
 * index (what is mapped stays mapped). */
static enum nss_status end_enumeration(struct cursor *c) {
        int saved = errno, errnop;
        int r = nss_begin();
        if (r < 0)
                return nss_finish(r, &errnop, saved);
        reset(c);
        nss_enumeration_ended();
        nss_leave();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

/* set*ent resets too, and says whether the index is there to enumerate (UNAVAIL lets glibc
 * move on to the next service at once). */
static enum nss_status start_enumeration(struct cursor *c) {
        int saved = errno, errnop;
        const struct nss_index_view *v;
        int r = nss_enter(&v);
        if (r < 0) {
                end_enumeration(c);
                return nss_finish(r, &errnop, saved);
        }
        reset(c);
        nss_leave();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_roles_setpwent(int stayopen);
enum nss_status _nss_roles_setpwent(int stayopen) {
        (void) stayopen;
        return start_enumeration(&pw_cursor);
}

EXPORT enum nss_status _nss_roles_endpwent(void);
enum nss_status _nss_roles_endpwent(void) {
        return end_enumeration(&pw_cursor);
}

EXPORT enum nss_status _nss_roles_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved = errno;
        const struct nss_index_view *v;
        int r = nss_enter(&v);
        if (r < 0)
                return nss_finish(r, errnop, saved);
        for (;;) {
                struct nss_index_found_user u;
                uint32_t id;
                r = nss_index_next_user(v, pw_cursor.after, &pw_cursor.hint, &u, &id);
                if (r == -ENOENT) {
                        nss_enumeration_ended();
                        break;
                }
                if (r == 0)
                        r = user_servable(&u);
                if (r == -EBADMSG || r == -ENOENT) {
                        pw_cursor.after = id;   /* not servable: as if it were not there */
                        continue;
                }
                if (r == 0)
                        r = nss_pack_passwd(&u, pw, buf, len);
                if (r == 0) {
                        pw_cursor.after = id;
                        nss_enumerated(false);
                }
                break;
        }
        nss_leave();
        return nss_finish(r, errnop, saved);
}

/* ---- group ------------------------------------------------------------------------------------ */

static enum nss_status lookup_group(const char *name, gid_t gid, struct group *gr, char *buf, size_t len, int *errnop) {
        int saved = errno;
        const struct nss_index_view *v;
        struct nss_index_found_group g;
        int r = nss_enter(&v);
        if (r < 0)
                return nss_finish(r, errnop, saved);
        r = name ? nss_index_group_by_name(v, name, strlen(name), &g) : nss_index_group_by_gid(v, gid, &g);
        if (r == 0)
                r = group_servable(&g);
        if (r == 0)
                r = nss_pack_group(v, &g, time(NULL), nss_generation(), gr, buf, len);
        nss_leave();
        return nss_finish(r, errnop, saved);
}

EXPORT enum nss_status _nss_roles_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *errnop) {
        return lookup_group(name, 0, gr, buf, len, errnop);
}

EXPORT enum nss_status _nss_roles_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop) {
        return lookup_group(NULL, gid, gr, buf, len, errnop);
}

EXPORT enum nss_status _nss_roles_setgrent(int stayopen);
enum nss_status _nss_roles_setgrent(int stayopen) {
        (void) stayopen;
        return start_enumeration(&gr_cursor);
}

EXPORT enum nss_status _nss_roles_endgrent(void);
enum nss_status _nss_roles_endgrent(void) {
        return end_enumeration(&gr_cursor);
}

EXPORT enum nss_status _nss_roles_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop) {
        int saved = errno;
        const struct nss_index_view *v;
        int r = nss_enter(&v);
        if (r < 0)
                return nss_finish(r, errnop, saved);
        time_t now = time(NULL);
        for (;;) {
                struct nss_index_found_group g;
                uint32_t id;
                r = nss_index_next_group(v, gr_cursor.after, &gr_cursor.hint, &g, &id);
                if (r == -ENOENT) {
                        nss_enumeration_ended();
                        break;
                }
                if (r == 0)
                        r = group_servable(&g);
                if (r == -EBADMSG || r == -ENOENT) {
                        gr_cursor.after = id;   /* not servable: as if it were not there */
                        continue;
                }
                if (r == 0)
                        r = nss_pack_group(v, &g, now, nss_generation(), gr, buf, len);
                if (r == 0) {
                        gr_cursor.after = id;
                        nss_enumerated(true);
                }
                break;
        }
        nss_leave();
        return nss_finish(r, errnop, saved);
}

/* ---- initgroups ------------------------------------------------------------------------------- */

struct gid_list {
        gid_t *gids;
        size_t n, size;
};

static int add_gid(void *userdata, uint32_t gid) {
        struct gid_list *l = userdata;
        if (l->n == l->size) {
                size_t size = l->size ? l->size * 2 : 64;
                gid_t *g = reallocarray(l->gids, size, sizeof(gid_t));
                if (!g)
                        return -ENOMEM;
                l->gids = g;
                l->size = size;
        }
        l->gids[l->n++] = gid;
        return 0;
}

/*
 * Append our gids to glibc's array, growing it once within limit (<= 0: no limit). Our list
 * has no duplicates of its own (gids are unique across groups and published metaroles), so
 * each gid is compared only with the entries earlier services put there (a handful), not with
 * the ones we add: a user in a thousand groups costs a copy, not half a million comparisons.
 */
static int append_gids(const struct gid_list *l, gid_t skip, long *start, long *size, gid_t **groupsp, long limit) {
        long need = *start + (long) l->n;
        if (need > *size) {
                long new_size = limit > 0 && need > limit ? limit : need;
                if (new_size > *size) {
                        gid_t *g = reallocarray(*groupsp, (size_t) new_size, sizeof(gid_t));
                        if (!g)
                                return -ENOMEM;
                        *groupsp = g;
                        *size = new_size;
                }
        }
        long before = *start;
        for (size_t i = 0; i < l->n && *start < *size; i++) {
                bool present = l->gids[i] == skip;
                for (long k = 0; k < before && !present; k++)
                        present = (*groupsp)[k] == l->gids[i];
                if (!present)
                        (*groupsp)[(*start)++] = l->gids[i];
        }
        return 0;
}

/*
 * The gids of roles groups whose name is a host group's (found by looking each host group name
 * up in the view), kept until the view or the host files change. Their gid is not the host's,
 * so only their name says they must not be handed out. The caller holds the lock.
 */
static struct {
        bool valid;
        uint64_t generation;
        gid_t *gids;
        size_t n;
} named_clashes;

static int refresh_named_clashes(const struct nss_index_view *v, const struct host_accounts *h) {
        if (named_clashes.valid && named_clashes.generation == nss_generation())
                return 0;
        gid_t *gids = calloc(h->group.n_names + 1, sizeof(gid_t));
        size_t n = 0;
        if (!gids)
                return -ENOMEM;
        for (size_t i = 0; i < h->group.n_names; i++) {
                struct nss_index_found_group g;
                if (nss_index_group_by_name(v, h->group.names[i], strlen(h->group.names[i]), &g) == 0)
                        gids[n++] = g.gid;
        }
        free(named_clashes.gids);
        named_clashes.gids = gids;
        named_clashes.n = n;
        named_clashes.generation = nss_generation();
        named_clashes.valid = true;
        return 0;
}

/* Leave out of l the gids the host's files forbid us to hand out (see host_accounts.h). */
static void drop_clashing_gids(struct gid_list *l, const struct host_accounts *h) {
        size_t kept = 0;
        for (size_t i = 0; i < l->n; i++) {
                bool clash = host_accounts_has_gid(h, l->gids[i]);
                for (size_t k = 0; k < named_clashes.n && !clash; k++)
                        clash = named_clashes.gids[k] == l->gids[i];
                if (!clash)
                        l->gids[kept++] = l->gids[i];
        }
        l->n = kept;
}

EXPORT enum nss_status _nss_roles_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                                 gid_t **groupsp, long limit, int *errnop);
enum nss_status _nss_roles_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                          gid_t **groupsp, long limit, int *errnop) {
        int saved = errno;
        const struct nss_index_view *v;
        struct nss_index_found_user u;
        struct gid_list l = { 0 };
        const struct host_accounts *h;
        int r = nss_enter(&v);
        if (r < 0)
                return nss_finish(r, errnop, saved);
        r = nss_index_user_by_name(v, user, strlen(user), &u);
        if (r == 0)
                r = user_servable(&u);
        if (r == 0)
                r = nss_index_user_gids(v, &u, time(NULL), add_gid, &l);
        if (r == 0 && (r = nss_host(&h)) == 0 && h && (r = refresh_named_clashes(v, h)) == 0)
                drop_clashing_gids(&l, h);
        nss_leave();
        if (r == 0)
                r = append_gids(&l, group, start, size, groupsp, limit);
        free(l.gids);
        return nss_finish(r, errnop, saved);
}
