/* SPDX-License-Identifier: MIT */
/*
 * libnss_roles.so.2: the glibc entry points. Each one is thin: enter (lock, current store),
 * ask the store, pack into the caller's buffer, leave, map the result. errno is left as it was
 * on success; on failure it is set to what *errnop says.
 */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nss-pack.h"
#include "nss-state.h"

#define EXPORT __attribute__((visibility("default")))

/* Rows fetched per round trip while enumerating. */
#define PAGE 128

static enum nss_status finish(int r, int *errnop, int saved_errno) {
        enum nss_status status = nss_status_from(r, errnop);
        errno = status == NSS_STATUS_SUCCESS ? saved_errno : *errnop;
        return status;
}

/* ---- passwd ---------------------------------------------------------------------------------- */

static enum nss_status lookup_passwd(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        struct roles_user u;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = name ? roles_user_by_name(s, name, &u) : roles_user_by_uid(s, uid, &u);
        nss_leave();
        if (r == 0)
                r = nss_pack_passwd(&u, pw, buf, len);
        return finish(r, errnop, saved);
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
 * Enumeration: pages of rows keyed by id ("everything after the last id served"), so no
 * statement or lock is held between calls, a replaced snapshot is picked up cleanly, and an
 * entry that did not fit the caller's buffer is served again on the next call.
 */
struct user_cursor {
        struct roles_user *page;
        size_t n, next;
        uint32_t after;         /* the last uid served */
        bool started, exhausted;
};

static struct user_cursor pw_cursor, sp_cursor;

static void cursor_reset(struct user_cursor *c) {
        free(c->page);
        *c = (struct user_cursor) { .started = true };
}

static int add_to_page(void *userdata, const struct roles_user *u) {
        struct user_cursor *c = userdata;
        c->page[c->n++] = *u;
        return 0;
}

/* The next user to serve (refilling the page), or -ENOENT at the end. Called under the lock. */
static int cursor_peek(struct roles_store *s, struct user_cursor *c, const struct roles_user **ret) {
        if (!c->started)
                cursor_reset(c);
        if (c->next == c->n) {
                if (c->exhausted)
                        return -ENOENT;
                if (!c->page && !(c->page = calloc(PAGE, sizeof(*c->page))))
                        return -ENOMEM;
                c->n = c->next = 0;
                int r = roles_nss_users_after(s, c->after, PAGE, add_to_page, c);
                if (r < 0)
                        return r;
                c->exhausted = r == 0;
                if (c->n == 0)
                        return -ENOENT;
        }
        *ret = &c->page[c->next];
        return 0;
}

static void cursor_advance(struct user_cursor *c) {
        c->after = c->page[c->next].uid;
        c->next++;
}

static enum nss_status setent(struct user_cursor *c) {
        struct roles_store *s;
        int ignored, saved = errno;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, &ignored, saved);
        cursor_reset(c);
        nss_leave();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

static enum nss_status endent(struct user_cursor *c) {
        struct roles_store *s;
        int ignored, saved = errno;
        if (nss_enter(NSS_DB_PUBLIC, &s) == 0) {
                free(c->page);
                *c = (struct user_cursor) { 0 };
                nss_leave();
        }
        (void) ignored;
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_roles_setpwent(int stayopen);
enum nss_status _nss_roles_setpwent(int stayopen) {
        (void) stayopen;
        return setent(&pw_cursor);
}

EXPORT enum nss_status _nss_roles_endpwent(void);
enum nss_status _nss_roles_endpwent(void) {
        return endent(&pw_cursor);
}

EXPORT enum nss_status _nss_roles_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        const struct roles_user *u;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = cursor_peek(s, &pw_cursor, &u);
        if (r == 0)
                r = nss_pack_passwd(u, pw, buf, len);
        if (r == 0)
                cursor_advance(&pw_cursor);
        nss_leave();
        return finish(r, errnop, saved);
}

/* ---- group ------------------------------------------------------------------------------------ */

/* Members are read and the entry packed under the lock, so both come from one snapshot. */
static int fill_group(struct roles_store *s, const struct roles_nss_group *g, struct group *gr, char *buf, size_t len) {
        struct nss_names members = { 0 };
        int r = roles_nss_group_members(s, g, time(NULL), nss_names_add, &members);
        if (r == 0)
                r = nss_pack_group(g->name, g->gid, (const char *const *) members.names, members.n, gr, buf, len);
        nss_names_free(&members);
        return r;
}

static enum nss_status lookup_group(const char *name, gid_t gid, struct group *gr, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        struct roles_nss_group g;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = name ? roles_nss_group_by_name(s, name, &g) : roles_nss_group_by_gid(s, gid, &g);
        if (r == 0)
                r = fill_group(s, &g, gr, buf, len);
        nss_leave();
        return finish(r, errnop, saved);
}

EXPORT enum nss_status _nss_roles_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *errnop) {
        return lookup_group(name, 0, gr, buf, len, errnop);
}

EXPORT enum nss_status _nss_roles_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop) {
        return lookup_group(NULL, gid, gr, buf, len, errnop);
}

static struct {
        struct roles_nss_group page[PAGE];
        size_t n, next;
        uint32_t after;
        bool exhausted;
} gr_cursor;

static int add_group_to_page(void *userdata, const struct roles_nss_group *g) {
        (void) userdata;
        gr_cursor.page[gr_cursor.n++] = *g;
        return 0;
}

EXPORT enum nss_status _nss_roles_setgrent(int stayopen);
enum nss_status _nss_roles_setgrent(int stayopen) {
        int saved = errno;
        struct roles_store *s;
        int ignored, r = nss_enter(NSS_DB_PUBLIC, &s);
        (void) stayopen;
        if (r < 0)
                return finish(r, &ignored, saved);
        memset(&gr_cursor, 0, sizeof(gr_cursor));
        nss_leave();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_roles_endgrent(void);
enum nss_status _nss_roles_endgrent(void) {
        return _nss_roles_setgrent(0);
}

EXPORT enum nss_status _nss_roles_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        if (gr_cursor.next == gr_cursor.n) {
                if (gr_cursor.exhausted)
                        r = -ENOENT;
                else {
                        gr_cursor.n = gr_cursor.next = 0;
                        r = roles_nss_groups_after(s, gr_cursor.after, PAGE, add_group_to_page, NULL);
                        if (r >= 0) {
                                gr_cursor.exhausted = r == 0;
                                r = gr_cursor.n == 0 ? -ENOENT : 0;
                        }
                }
        }
        if (r == 0)
                r = fill_group(s, &gr_cursor.page[gr_cursor.next], gr, buf, len);
        if (r == 0)
                gr_cursor.after = gr_cursor.page[gr_cursor.next++].gid;
        nss_leave();
        return finish(r, errnop, saved);
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

EXPORT enum nss_status _nss_roles_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                                 gid_t **groupsp, long limit, int *errnop);
enum nss_status _nss_roles_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                          gid_t **groupsp, long limit, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        struct roles_user u;
        struct gid_list l = { 0 };
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = roles_user_by_name(s, user, &u);
        if (r == 0)
                r = roles_nss_user_gids(s, &u, time(NULL), add_gid, &l);
        nss_leave();
        if (r == 0)
                r = append_gids(&l, group, start, size, groupsp, limit);
        free(l.gids);
        return finish(r, errnop, saved);
}

/* ---- shadow (root only: it needs secrets.db) ------------------------------------------------------ */

static int fill_shadow(struct roles_store *s, const struct roles_user *u, struct spwd *sp, char *buf, size_t len) {
        struct roles_nss_shadow sh;
        int r = roles_nss_shadow(s, u, time(NULL), &sh);
        return r < 0 ? r : nss_pack_shadow(u, &sh, sp, buf, len);
}

EXPORT enum nss_status _nss_roles_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        struct roles_user u;
        int r = nss_enter(NSS_DB_SECRETS, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = roles_user_by_name(s, name, &u);
        if (r == 0)
                r = fill_shadow(s, &u, sp, buf, len);
        nss_leave();
        return finish(r, errnop, saved);
}

EXPORT enum nss_status _nss_roles_setspent(int stayopen);
enum nss_status _nss_roles_setspent(int stayopen) {
        (void) stayopen;
        return setent(&sp_cursor);
}

EXPORT enum nss_status _nss_roles_endspent(void);
enum nss_status _nss_roles_endspent(void) {
        return endent(&sp_cursor);
}

EXPORT enum nss_status _nss_roles_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        const struct roles_user *u;
        int r = nss_enter(NSS_DB_SECRETS, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = cursor_peek(s, &sp_cursor, &u);
        if (r == 0)
                r = fill_shadow(s, u, sp, buf, len);
        if (r == 0)
                cursor_advance(&sp_cursor);
        nss_leave();
        return finish(r, errnop, saved);
}
