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

/* Users fetched per round trip while enumerating shadow, metarole groups likewise. */
#define PAGE 128

static enum nss_status finish(int r, int *errnop, int saved_errno) {
        enum nss_status status = nss_status_from(r, errnop);
        errno = status == NSS_STATUS_SUCCESS ? saved_errno : *errnop;
        return status;
}

/*
 * Enumeration of passwd and ordinary groups walks the snapshot's buckets of derived lines
 * (512 ids each): one query per bucket, then lines parsed and checked one by one. The cursor
 * is "bucket b, offset o": no statement or lock is held between calls, a replaced snapshot is
 * picked up at the next bucket, and an entry that did not fit the caller's buffer (ERANGE) is
 * served again on the next call because the offset only moves after a success.
 */
struct bucket_cursor {
        char *lines;            /* the current bucket's text, or NULL */
        size_t pos;             /* offset of the next line in it */
        int64_t next_bucket;    /* the bucket to fetch when this one is done */
        bool done;
};

typedef int (*bucket_fetch_fn)(struct roles_store *s, int64_t first, int64_t *ret_bucket, char **ret_lines);

static void bucket_reset(struct bucket_cursor *c) {
        free(c->lines);
        *c = (struct bucket_cursor) { 0 };
}

/*
 * The next line (copied into line, NUL-terminated) and the offset after it, refilling from the
 * store as needed. -ENOENT at the end. Lines longer than the buffer cannot be valid and are
 * skipped.
 */
static int bucket_next_line(struct roles_store *s, struct bucket_cursor *c, bucket_fetch_fn fetch,
                            char **ret_line, size_t *ret_next) {
        for (;;) {
                if (c->done)
                        return -ENOENT;
                if (!c->lines) {
                        int64_t bucket;
                        int r = fetch(s, c->next_bucket, &bucket, &c->lines);
                        if (r == -ENOENT) {
                                c->done = true;
                                return r;
                        }
                        if (r < 0)
                                return r;
                        c->pos = 0;
                        c->next_bucket = bucket + 1;
                }
                if (c->lines[c->pos] == '\0') {
                        free(c->lines);
                        c->lines = NULL;
                        continue;
                }
                char *line = c->lines + c->pos;
                size_t n = strcspn(line, "\n");
                *ret_line = line;
                *ret_next = c->pos + n + (line[n] == '\n');
                return (int) n;
        }
}

/* ---- the host's own accounts win --------------------------------------------------------------- */

/* With the lock held: is this entry one the host's own files hold by name or id (so never
 * ours to serve)? See host_accounts.h. */
static bool user_clashes(const struct roles_user *u) {
        return host_accounts_user_clashes(nss_host(), u->name, strlen(u->name), u->uid, u->gid);
}

static bool passwd_line_clashes(const struct nss_passwd *e) {
        return host_accounts_user_clashes(nss_host(), e->name.p, e->name.n, e->uid, e->gid);
}

static bool group_clashes(const char *name, size_t name_len, gid_t gid) {
        return host_accounts_group_clashes(nss_host(), name, name_len, gid);
}

/* ---- passwd ---------------------------------------------------------------------------------- */

static enum nss_status lookup_passwd(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        struct roles_user u;
        struct nss_passwd e;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = name ? roles_user_by_name(s, name, &u) : roles_user_by_uid(s, uid, &u);
        if (r == 0 && user_clashes(&u))
                r = -ENOENT;
        nss_leave();
        if (r == 0) {
                nss_passwd_from_user(&u, &e);
                r = nss_pack_passwd(&e, pw, buf, len);
        }
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

static struct bucket_cursor pw_cursor;

/* end*ent only resets a cursor: it takes the lock, never the database. */
static enum nss_status reset_cursor(void (*reset)(void *), void *cursor) {
        int saved = errno;
        nss_lock();
        reset(cursor);
        nss_unlock();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

/* set*ent resets too, and says whether the database is there to enumerate (UNAVAIL lets glibc
 * move on to the next service at once). */
static enum nss_status start_enumeration(enum nss_db db, void (*reset)(void *), void *cursor) {
        int saved = errno, errnop;
        struct roles_store *s;
        int r = nss_enter(db, &s);
        if (r < 0) {
                reset_cursor(reset, cursor);
                return finish(r, &errnop, saved);
        }
        reset(cursor);
        nss_leave();
        errno = saved;
        return NSS_STATUS_SUCCESS;
}

static void reset_bucket_cursor(void *c) {
        bucket_reset(c);
}

EXPORT enum nss_status _nss_roles_setpwent(int stayopen);
enum nss_status _nss_roles_setpwent(int stayopen) {
        (void) stayopen;
        return start_enumeration(NSS_DB_PUBLIC, reset_bucket_cursor, &pw_cursor);
}

EXPORT enum nss_status _nss_roles_endpwent(void);
enum nss_status _nss_roles_endpwent(void) {
        return reset_cursor(reset_bucket_cursor, &pw_cursor);
}

EXPORT enum nss_status _nss_roles_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        for (;;) {
                char *line;
                size_t next;
                struct nss_passwd e;
                r = bucket_next_line(s, &pw_cursor, roles_nss_passwd_bucket, &line, &next);
                if (r < 0)
                        break;
                if (nss_parse_passwd(line, (size_t) r, roles_store_config(s), &e) < 0 || passwd_line_clashes(&e)) {
                        pw_cursor.pos = next;   /* not servable: as if it were not there */
                        continue;
                }
                r = nss_pack_passwd(&e, pw, buf, len);
                if (r == 0)
                        pw_cursor.pos = next;
                break;
        }
        nss_leave();
        return finish(r, errnop, saved);
}

/* ---- group ------------------------------------------------------------------------------------ */

/* Members are read and the entry packed under the lock, so both come from one snapshot. */
static int fill_group(struct roles_store *s, const struct roles_nss_group *g, struct group *gr, char *buf, size_t len) {
        char *members = NULL;
        int r = roles_nss_group_members(s, g, time(NULL), &members);
        if (r == 0) {
                struct nss_group e = { .name = { g->name, strlen(g->name) }, .gid = g->gid,
                                       .members = { members, strlen(members) }, .host = nss_host() };
                r = nss_pack_group(&e, gr, buf, len);
        }
        free(members);
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
        if (r == 0 && group_clashes(g.name, strlen(g.name), g.gid))
                r = -ENOENT;
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

/* Ordinary groups from the buckets first, then the published metaroles (their members change
 * with the clock, so they have no derived lines). */
static struct {
        struct bucket_cursor buckets;
        struct roles_nss_group page[PAGE];
        size_t n, next;
        uint32_t after;
        bool exhausted;
} gr_cursor;

static void reset_group_cursor(void *unused) {
        (void) unused;
        bucket_reset(&gr_cursor.buckets);
        memset(&gr_cursor, 0, sizeof(gr_cursor));
}

static int add_group_to_page(void *userdata, const struct roles_nss_group *g) {
        (void) userdata;
        gr_cursor.page[gr_cursor.n++] = *g;
        return 0;
}

EXPORT enum nss_status _nss_roles_setgrent(int stayopen);
enum nss_status _nss_roles_setgrent(int stayopen) {
        (void) stayopen;
        return start_enumeration(NSS_DB_PUBLIC, reset_group_cursor, NULL);
}

EXPORT enum nss_status _nss_roles_endgrent(void);
enum nss_status _nss_roles_endgrent(void) {
        return reset_cursor(reset_group_cursor, NULL);
}

/* The next ordinary group from the buckets: 0 packed, -ENOENT when they are done. */
static int next_bucket_group(struct roles_store *s, struct group *gr, char *buf, size_t len) {
        for (;;) {
                char *line;
                size_t next;
                struct nss_group e;
                int r = bucket_next_line(s, &gr_cursor.buckets, roles_nss_group_bucket, &line, &next);
                if (r < 0)
                        return r;
                r = nss_parse_group(line, (size_t) r, roles_store_config(s), &e);
                if (r == 0 && group_clashes(e.name.p, e.name.n, e.gid))
                        r = -EBADMSG;
                if (r == 0) {
                        e.host = nss_host();
                        r = nss_pack_group(&e, gr, buf, len);
                }
                if (r == -EBADMSG) {
                        gr_cursor.buckets.pos = next;   /* not servable: as if it were not there */
                        continue;
                }
                if (r == 0)
                        gr_cursor.buckets.pos = next;
                return r;
        }
}

/* The next published metarole group: 0 packed, -ENOENT at the end. */
static int next_metarole_group(struct roles_store *s, struct group *gr, char *buf, size_t len) {
        for (;;) {
                if (gr_cursor.next == gr_cursor.n) {
                        if (gr_cursor.exhausted)
                                return -ENOENT;
                        gr_cursor.n = gr_cursor.next = 0;
                        int r = roles_nss_metarole_groups_after(s, gr_cursor.after, PAGE, add_group_to_page, NULL);
                        if (r < 0)
                                return r;
                        gr_cursor.exhausted = r == 0;
                        if (gr_cursor.n == 0)
                                return -ENOENT;
                }
                const struct roles_nss_group *g = &gr_cursor.page[gr_cursor.next];
                if (group_clashes(g->name, strlen(g->name), g->gid)) {
                        gr_cursor.after = gr_cursor.page[gr_cursor.next++].gid;   /* as if it were not there */
                        continue;
                }
                int r = fill_group(s, g, gr, buf, len);
                if (r == 0)
                        gr_cursor.after = gr_cursor.page[gr_cursor.next++].gid;
                return r;
        }
}

EXPORT enum nss_status _nss_roles_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop) {
        int saved = errno;
        struct roles_store *s;
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = next_bucket_group(s, gr, buf, len);
        if (r == -ENOENT)
                r = next_metarole_group(s, gr, buf, len);
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

/*
 * The gids of roles groups whose name is a host group's (found by looking each host group name
 * up in the snapshot), kept until the snapshot or the host files change. Their gid is not the
 * host's, so only their name says they must not be handed out. The caller holds the lock.
 */
static struct {
        bool valid;
        uint64_t generation;
        gid_t *gids;
        size_t n;
} named_clashes;

static int refresh_named_clashes(struct roles_store *s) {
        const struct host_accounts *h = nss_host();
        if (named_clashes.valid && named_clashes.generation == nss_generation())
                return 0;
        gid_t *gids = calloc(h->group.n_names + 1, sizeof(gid_t));
        size_t n = 0;
        if (!gids)
                return -ENOMEM;
        for (size_t i = 0; i < h->group.n_names; i++) {
                struct roles_nss_group g;
                int r = roles_nss_group_by_name(s, h->group.names[i], &g);
                if (r == 0)
                        gids[n++] = g.gid;
                else if (r != -ENOENT) {
                        free(gids);
                        return r;
                }
        }
        free(named_clashes.gids);
        named_clashes.gids = gids;
        named_clashes.n = n;
        named_clashes.generation = nss_generation();
        named_clashes.valid = true;
        return 0;
}

/* Leave out of l the gids the host's files forbid us to hand out (see host_accounts.h). */
static void drop_clashing_gids(struct gid_list *l) {
        size_t kept = 0;
        for (size_t i = 0; i < l->n; i++) {
                bool clash = host_accounts_has_gid(nss_host(), l->gids[i]);
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
        struct roles_store *s;
        struct roles_user u;
        struct gid_list l = { 0 };
        int r = nss_enter(NSS_DB_PUBLIC, &s);
        if (r < 0)
                return finish(r, errnop, saved);
        r = roles_user_by_name(s, user, &u);
        if (r == 0 && user_clashes(&u))
                r = -ENOENT;
        if (r == 0)
                r = roles_nss_user_gids(s, &u, time(NULL), add_gid, &l);
        if (r == 0 && (r = refresh_named_clashes(s)) == 0)
                drop_clashing_gids(&l);
        nss_release_before_setuid();
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
        if (r == 0 && user_clashes(&u))
                r = -ENOENT;
        if (r == 0)
                r = fill_shadow(s, &u, sp, buf, len);
        nss_close_store(NSS_DB_SECRETS);
        nss_leave();
        return finish(r, errnop, saved);
}

/*
 * Shadow enumeration is rare (root, pwck): pages of users, each read with what shadow shows of
 * it (password age, lockout) in one visit to the stores, which close before the call returns.
 * So between calls an enumeration holds no descriptor of secrets.db or state.db that a child
 * forked meanwhile (without exec, becoming a user) could inherit: only the page, which holds no
 * secret. An entry is as of the visit that read its page.
 */
struct shadow_entry {
        struct roles_user user;
        struct roles_nss_shadow shadow;
};

static struct {
        struct shadow_entry *page;
        size_t n, next;
        uint32_t after;         /* the last uid served */
        bool exhausted;
} sp_cursor;

/* setspent and endspent: the cursor, and the store (set*ent opened it to see it is there). */
static void reset_shadow_cursor(void *unused) {
        (void) unused;
        free(sp_cursor.page);
        memset(&sp_cursor, 0, sizeof(sp_cursor));
        nss_close_store(NSS_DB_SECRETS);
}

static int add_user_to_page(void *userdata, const struct roles_user *u) {
        (void) userdata;
        sp_cursor.page[sp_cursor.n++].user = *u;
        return 0;
}

/* The next page after sp_cursor.after; the caller holds the lock. -ENOENT at the end. */
static int fetch_shadow_page(void) {
        struct roles_store *s;
        if (!sp_cursor.page && !(sp_cursor.page = calloc(PAGE, sizeof(*sp_cursor.page))))
                return -ENOMEM;
        int r = nss_store(NSS_DB_SECRETS, &s);
        if (r < 0)
                return r;
        sp_cursor.n = sp_cursor.next = 0;
        r = roles_nss_users_after(s, sp_cursor.after, PAGE, add_user_to_page, NULL);
        if (r >= 0)
                sp_cursor.exhausted = r == 0;
        time_t now = time(NULL);
        for (size_t i = 0; r >= 0 && i < sp_cursor.n; i++)
                r = roles_nss_shadow(s, &sp_cursor.page[i].user, now, &sp_cursor.page[i].shadow);
        nss_close_store(NSS_DB_SECRETS);
        if (r < 0) {
                /* Read again on the next call, from where the last served entry left off. */
                sp_cursor.n = 0;
                sp_cursor.exhausted = false;
                return r;
        }
        return sp_cursor.n == 0 ? -ENOENT : 0;
}

EXPORT enum nss_status _nss_roles_setspent(int stayopen);
enum nss_status _nss_roles_setspent(int stayopen) {
        (void) stayopen;
        return start_enumeration(NSS_DB_SECRETS, reset_shadow_cursor, NULL);
}

EXPORT enum nss_status _nss_roles_endspent(void);
enum nss_status _nss_roles_endspent(void) {
        return reset_cursor(reset_shadow_cursor, NULL);
}

EXPORT enum nss_status _nss_roles_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop);
enum nss_status _nss_roles_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop) {
        int saved = errno;
        int r = nss_begin();
        if (r < 0)
                return finish(r, errnop, saved);
        while (r == 0) {
                if (sp_cursor.next == sp_cursor.n && (r = sp_cursor.exhausted ? -ENOENT : fetch_shadow_page()) < 0)
                        break;
                const struct shadow_entry *e = &sp_cursor.page[sp_cursor.next];
                if (user_clashes(&e->user)) {
                        sp_cursor.after = e->user.uid;  /* as if it were not there */
                        sp_cursor.next++;
                        continue;
                }
                r = nss_pack_shadow(&e->user, &e->shadow, sp, buf, len);
                if (r == 0) {
                        sp_cursor.after = e->user.uid;
                        sp_cursor.next++;
                }
                break;
        }
        nss_leave();
        return finish(r, errnop, saved);
}
