/* SPDX-License-Identifier: MIT */
#include "authz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Grow an array by one element; the new element is zeroed. */
static void *grow(void *array, size_t *n, size_t size) {
        void *p = reallocarray(array, *n + 1, size);
        if (!p)
                return NULL;
        memset((char *) p + *n * size, 0, size);
        (*n)++;
        return p;
}

static int add_grant(struct roles_resolution *res, const char *perm, enum roles_grant_source source,
                     size_t index, bool disabled) {
        struct roles_resolved_grant *g = grow(res->grants, &res->n_grants, sizeof(*g));
        if (!g)
                return -ENOMEM;
        res->grants = g;
        g += res->n_grants - 1;
        g->source = source;
        g->index = index;
        g->disabled = disabled;
        g->off_by = ROLES_NONE;
        return roles_strcpy(g->perm, sizeof(g->perm), perm) < 0 ? -EBADMSG : 0;
}

/* The metarole with this id, added (reached via via_metarole / via_role) if not yet seen. */
static int reach_metarole(struct roles_resolution *res, int64_t id, const char *code, size_t via_metarole,
                          size_t via_role, size_t *ret_index) {
        for (size_t i = 0; i < res->n_metaroles; i++)
                if (res->metaroles[i].id == id) {
                        *ret_index = i;
                        return 0;
                }
        struct roles_resolved_metarole *m = grow(res->metaroles, &res->n_metaroles, sizeof(*m));
        if (!m)
                return -ENOMEM;
        res->metaroles = m;
        m += res->n_metaroles - 1;
        m->id = id;
        m->via_metarole = via_metarole;
        m->via_role = via_role;
        if (roles_strcpy(m->code, sizeof(m->code), code) < 0)
                return -EBADMSG;
        if (strcmp(code, ROLES_METAROLE_SUPER_ADMIN) == 0)
                res->superuser = true;
        *ret_index = res->n_metaroles - 1;
        return 0;
}

struct walk {
        struct roles_resolution *res;
        size_t parent;
        time_t now;
};

static int on_assignment(void *userdata, const struct roles_assignment_row *row) {
        struct walk *w = userdata;
        struct roles_resolution *res = w->res;
        struct roles_resolved_role *r = grow(res->roles, &res->n_roles, sizeof(*r));
        if (!r)
                return -ENOMEM;
        res->roles = r;
        r += res->n_roles - 1;
        r->id = row->role_id;
        r->until = row->until;
        r->ended = row->until != 0 && row->until <= (int64_t) w->now;
        r->metarole = ROLES_NONE;
        if (roles_strcpy(r->name, sizeof(r->name), row->role) < 0 ||
            roles_strcpy(r->metarole_code, sizeof(r->metarole_code), row->metarole) < 0)
                return -EBADMSG;
        if (r->ended)
                return 0;
        return reach_metarole(res, row->metarole_id, row->metarole, ROLES_NONE, res->n_roles - 1, &r->metarole);
}

static int on_child(void *userdata, const struct roles_child_row *row) {
        struct walk *w = userdata;
        size_t ignored;
        return reach_metarole(w->res, row->id, row->code, w->parent, w->res->metaroles[w->parent].via_role, &ignored);
}

static int on_role_perm(void *userdata, const struct roles_perm_row *row) {
        struct roles_resolution *res = userdata;
        for (size_t i = 0; i < res->n_roles; i++)
                if (res->roles[i].id == row->owner_id)
                        return res->roles[i].ended ? 0 : add_grant(res, row->perm, ROLES_GRANT_ROLE, i, row->disabled);
        return 0;
}

static int on_metarole_perm(void *userdata, const struct roles_perm_row *row) {
        struct walk *w = userdata;
        return add_grant(w->res, row->perm, ROLES_GRANT_METAROLE, w->parent, false);
}

/*
 * Does a disabled line switch perm off on its role? A disabled code switches off itself and
 * everything under it ("db.drop": db.drop, db.drop.x, ...), a disabled wildcard what it covers:
 * the administrator wrote the line to take that away from the role, so it wins over the role's
 * enabled lines, its wildcards included. perm may be an enabled wildcard too, which is then
 * switched off whole ("db.drop.*" under a disabled "db.drop"): its "*" never matches a word.
 */
static bool switches_off(const char *disabled, const char *perm) {
        size_t n = strlen(disabled);
        return roles_perm_covers(disabled, perm) || (strncmp(disabled, perm, n) == 0 && perm[n] == '.');
}

/* The disabled line of role `role` that switches perm off, or ROLES_NONE. */
static size_t switched_off_by(const struct roles_resolution *res, size_t role, const char *perm) {
        for (size_t i = 0; i < res->n_grants; i++) {
                const struct roles_resolved_grant *d = &res->grants[i];
                if (d->disabled && d->source == ROLES_GRANT_ROLE && d->index == role && switches_off(d->perm, perm))
                        return i;
        }
        return ROLES_NONE;
}

static const char *inactive_reason(const struct roles_user *u, time_t now) {
        if (roles_user_active(u, now))
                return NULL;
        return u->enabled ? "account expired" : "disabled";
}

int roles_resolve(struct roles_snapshot *s, const struct roles_user *u, time_t now, struct roles_resolution **ret) {
        struct roles_resolution *res = calloc(1, sizeof(*res));
        int r = 0;

        if (!res)
                return -ENOMEM;
        memcpy(res->user, u->name, sizeof(res->user));

        res->inactive = inactive_reason(u, now);
        if (res->inactive)
                goto done;

        struct walk top = { res, ROLES_NONE, now };
        r = roles_snapshot_user_assignments(s, u->id, on_assignment, &top);
        if (r < 0)
                goto fail;
        /* Breadth first over `includes`: metaroles[] doubles as the queue, and the first visit
         * of each metarole is along a shortest path, which is what --why shows. */
        for (size_t i = 0; i < res->n_metaroles; i++) {
                struct walk w = { res, i, now };
                r = roles_snapshot_metarole_children(s, res->metaroles[i].id, on_child, &w);
                if (r < 0)
                        goto fail;
        }
        r = roles_snapshot_user_role_perms(s, u->id, on_role_perm, res);
        if (r < 0)
                goto fail;
        /* Once all of a role's lines are in: which enabled ones its disabled ones take whole. */
        for (size_t i = 0; i < res->n_grants; i++)
                if (!res->grants[i].disabled && res->grants[i].source == ROLES_GRANT_ROLE)
                        res->grants[i].off_by = switched_off_by(res, res->grants[i].index, res->grants[i].perm);
        for (size_t i = 0; i < res->n_metaroles; i++) {
                struct walk w = { res, i, now };
                r = roles_snapshot_metarole_perms(s, res->metaroles[i].id, on_metarole_perm, &w);
                if (r < 0)
                        goto fail;
        }
done:
        *ret = res;
        return 0;
fail:
        roles_resolution_free(res);
        return r;
}

void roles_resolution_free(struct roles_resolution *res) {
        if (!res)
                return;
        free(res->roles);
        free(res->metaroles);
        free(res->grants);
        free(res);
}

bool roles_resolution_allows(const struct roles_resolution *res, const char *perm, size_t *ret_grant) {
        if (res->inactive || !roles_perm_valid(perm, false))
                return false;
        for (size_t i = 0; i < res->n_grants; i++) {
                const struct roles_resolved_grant *g = &res->grants[i];
                if (g->disabled || !roles_perm_covers(g->perm, perm) ||
                    (g->source == ROLES_GRANT_ROLE && switched_off_by(res, g->index, perm) != ROLES_NONE))
                        continue;
                if (ret_grant)
                        *ret_grant = i;
                return true;
        }
        if (res->superuser) {
                if (ret_grant)
                        *ret_grant = ROLES_NONE;
                return true;
        }
        return false;
}

/*
 * The codes a check looks up, in one array: first each code above perm ("db", "db.backup" for
 * db.backup.read), which counts only as a disabled line (it switches off what is under it);
 * then perm itself, each "prefix.*" above it, nearest first, and last "*" (what the derived
 * metarole_grants table says of a metarole reaching super-admin). *ret_perm is perm's index.
 * This mirrors roles_perm_covers(), switches_off() and the superuser rule; test_authz holds the
 * two paths equal. A code of k words gives 2k candidates, at most ROLES_PERM_MAX + 1.
 */
static size_t check_candidates(const char *perm, char buf[static ROLES_PERM_MAX + 2][ROLES_PERM_MAX + 3],
                               const char **ret, size_t *ret_perm) {
        size_t n = 0, len = strlen(perm);
        for (size_t i = 0; i < len; i++)
                if (perm[i] == '.') {
                        memcpy(buf[n], perm, i);
                        buf[n][i] = '\0';
                        ret[n] = buf[n];
                        n++;
                }
        *ret_perm = n;
        memcpy(buf[n], perm, len + 1);
        ret[n] = buf[n];
        n++;
        for (size_t i = len; i > 0; i--)
                if (perm[i - 1] == '.') {
                        memcpy(buf[n], perm, i);
                        memcpy(buf[n] + i, "*", 2);
                        ret[n] = buf[n];
                        n++;
                }
        ret[n++] = "*";
        return n;
}

struct ids {
        int64_t *id;
        size_t n;
};

static int ids_add(struct ids *l, int64_t id) {
        int64_t *p = reallocarray(l->id, l->n + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        l->id = p;
        l->id[l->n++] = id;
        return 0;
}

static bool ids_have(const struct ids *l, int64_t id) {
        for (size_t i = 0; i < l->n; i++)
                if (l->id[i] == id)
                        return true;
        return false;
}

struct check {
        struct roles_snapshot *store;
        int64_t user_id;
        time_t now;
        struct ids holders;     /* metaroles holding a candidate */
        struct ids granting;    /* roles of current assignments holding a candidate, enabled */
        struct ids off;         /* the user's roles whose own disabled line switches perm off */
        bool allowed;
};

static int on_holder(void *userdata, int64_t id) {
        struct check *c = userdata;
        return ids_add(&c->holders, id);
}

static bool current(const struct check *c, const struct roles_check_row *row) {
        return row->until == 0 || row->until > (int64_t) c->now;
}

/* An assignment whose role's metarole holds the permission (through the derived closure). */
static int on_assignment_metarole(void *userdata, const struct roles_check_row *row) {
        struct check *c = userdata;
        c->allowed = current(c, row) && ids_have(&c->holders, row->metarole_id);
        return c->allowed ? 1 : 0;
}

/* An assignment whose role holds the permission itself, enabled. */
static int on_role_granting(void *userdata, const struct roles_check_row *row) {
        struct check *c = userdata;
        return current(c, row) ? ids_add(&c->granting, row->role_id) : 0;
}

/* An assignment whose role has a disabled line switching the permission off. */
static int on_role_off(void *userdata, const struct roles_check_row *row) {
        struct check *c = userdata;
        return ids_add(&c->off, row->role_id);
}

enum lookup { LOOKUP_HOLDERS, LOOKUP_GRANTING, LOOKUP_OFF };

/* Look candidates up, as many at a time as the store's statements take. */
static int lookup(struct check *c, enum lookup what, const char *const *candidates, size_t n) {
        int r = 0;
        for (size_t first = 0; r >= 0 && first < n; first += ROLES_CHECK_CANDIDATES) {
                size_t chunk = n - first < ROLES_CHECK_CANDIDATES ? n - first : ROLES_CHECK_CANDIDATES;
                r = what == LOOKUP_HOLDERS
                    ? roles_snapshot_metarole_holders(c->store, candidates + first, chunk, on_holder, c)
                    : roles_snapshot_check_role_grants(c->store, c->user_id, what == LOOKUP_OFF, candidates + first, chunk,
                                                    what == LOOKUP_OFF ? on_role_off : on_role_granting, c);
        }
        return r;
}

int roles_check(struct roles_snapshot *s, const char *user, const char *perm, time_t now) {
        char buf[ROLES_PERM_MAX + 2][ROLES_PERM_MAX + 3];
        const char *candidates[ROLES_PERM_MAX + 2];
        struct check c = { .store = s, .now = now };
        struct roles_user u;
        size_t at;
        int r;

        if (!roles_perm_valid(perm, false))
                return -EINVAL;
        if ((r = roles_user_by_name(s, user, &u)) < 0)
                return r;
        if (inactive_reason(&u, now))
                return 0;
        c.user_id = u.id;

        /* Metaroles first (few, and where most permissions live): perm, its wildcards and "*",
         * which only the derived metarole table can hold. A role's disabled line is no concern
         * of theirs. */
        size_t n = check_candidates(perm, buf, candidates, &at);
        r = lookup(&c, LOOKUP_HOLDERS, candidates + at, n - at);
        if (r >= 0 && c.holders.n > 0)
                r = roles_snapshot_check_assignments(s, u.id, on_assignment_metarole, &c);
        /* Then the roles themselves: those holding perm or a wildcard above it, enabled, less
         * those whose own disabled line (perm, a code or a wildcard above it) switches it off. */
        if (r >= 0 && !c.allowed)
                r = lookup(&c, LOOKUP_GRANTING, candidates + at, n - at - 1);
        if (r >= 0 && c.granting.n > 0)
                r = lookup(&c, LOOKUP_OFF, candidates, n - 1);
        for (size_t i = 0; r >= 0 && !c.allowed && i < c.granting.n; i++)
                c.allowed = !ids_have(&c.off, c.granting.id[i]);
        free(c.holders.id);
        free(c.granting.id);
        free(c.off.id);
        return r < 0 ? r : c.allowed;
}

static int append(char *buf, size_t size, size_t *len, const char *kind, const char *name) {
        int n = snprintf(buf + *len, size - *len, "%s%s %s", *len ? " -> " : "", kind, name);
        if (n < 0 || (size_t) n >= size - *len)
                return -ENOBUFS;
        *len += (size_t) n;
        return 0;
}

/* Append the chain that reached metarole m, from the role down to m. via_metarole always
 * points to an earlier entry, so the recursion ends; its depth is the chain's length. */
static int append_chain(const struct roles_resolution *res, size_t m, char *buf, size_t size, size_t *len) {
        const struct roles_resolved_metarole *mr = &res->metaroles[m];
        int r = mr->via_metarole == ROLES_NONE ? append(buf, size, len, "role", res->roles[mr->via_role].name)
                                               : append_chain(res, mr->via_metarole, buf, size, len);
        return r < 0 ? r : append(buf, size, len, "metarole", mr->code);
}

int roles_resolution_path(const struct roles_resolution *res, size_t g, char *buf, size_t size) {
        size_t len = 0;

        if (g >= res->n_grants || size == 0)
                return -EINVAL;
        buf[0] = '\0';
        const struct roles_resolved_grant *gr = &res->grants[g];
        if (gr->source == ROLES_GRANT_ROLE)
                return append(buf, size, &len, "role", res->roles[gr->index].name);
        return append_chain(res, gr->index, buf, size, &len);
}
