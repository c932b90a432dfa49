/* SPDX-License-Identifier: MIT */
#include "nss-pack.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

/* Copy s (with its NUL) to *p and advance; the caller has checked the room. */
static char *put(char **p, const char *s) {
        size_t n = strlen(s) + 1;
        char *start = *p;
        memcpy(start, s, n);
        *p += n;
        return start;
}

static char *put_text(char **p, struct nss_index_text t) {
        char *start = *p;
        memcpy(start, t.p, t.n);
        start[t.n] = '\0';
        *p += t.n + 1;
        return start;
}

int nss_pack_passwd(const struct nss_index_found_user *u, struct passwd *pw, char *buf, size_t len) {
        size_t need = u->name.n + 1 + 2 + u->gecos.n + 1 + u->home.n + 1 + u->shell.n + 1;
        if (need > len)
                return -ERANGE;
        char *p = buf;
        pw->pw_name = put_text(&p, u->name);
        pw->pw_passwd = put(&p, "x");
        pw->pw_uid = u->uid;
        pw->pw_gid = u->gid;
        pw->pw_gecos = put_text(&p, u->gecos);
        pw->pw_dir = put_text(&p, u->home);
        pw->pw_shell = put_text(&p, u->shell);
        return 0;
}

/* A group of at most this many members is walked once: the count keeps their names (1 KiB of
 * stack) and the copy takes them from there. A larger one is walked again to be copied. */
#define MEMBERS_KEPT 64

/* The member walk's two passes: count the names and their bytes, then copy them out. */
struct member_walk {
        size_t n, bytes;
        char **mem;             /* NULL: counting */
        char *p;
        size_t max_n, max_bytes;        /* copying: what was counted (room for no more) */
        struct nss_index_text *kept;    /* counting: the first MEMBERS_KEPT names, or NULL */
};

static int walk_member(void *userdata, const char *name, size_t n) {
        struct member_walk *w = userdata;
        if (w->mem && (w->n == w->max_n || n + 1 > w->max_bytes - w->bytes))
                return -EIO;    /* not what was counted: never past the room */
        if (w->mem)
                w->mem[w->n] = put_text(&w->p, (struct nss_index_text) { name, n });
        else if (w->kept && w->n < MEMBERS_KEPT)
                w->kept[w->n] = (struct nss_index_text) { name, n };
        w->n++;
        w->bytes += n + 1;
        return 0;
}

/* The size of the last group counted, for the retries of a caller that grows its buffer. */
static struct {
        bool valid;
        uint64_t generation;
        const void *record;
        time_t now;
        size_t n, bytes;
} counted;

int nss_pack_group(const struct nss_index_view *v, const struct nss_index_found_group *g, time_t now,
                   uint64_t generation, struct group *gr, char *buf, size_t len) {
        const void *record = &g->file->groups[g->index];
        struct nss_index_text kept[MEMBERS_KEPT];
        struct member_walk w = { 0 };
        if (counted.valid && counted.generation == generation && counted.record == record && counted.now == now) {
                w.n = counted.n;
                w.bytes = counted.bytes;
        } else {
                w.kept = kept;
                int r = nss_index_group_members(v, g, now, walk_member, &w);
                if (r < 0)
                        return r;
                counted.valid = true;
                counted.generation = generation;
                counted.record = record;
                counted.now = now;
                counted.n = w.n;
                counted.bytes = w.bytes;
        }
        size_t pad = (alignof(char *) - ((uintptr_t) buf % alignof(char *))) % alignof(char *);
        size_t strings = g->name.n + 1 + 2 + w.bytes;
        if (w.n + 1 > (SIZE_MAX - strings - pad) / sizeof(char *))
                return -ERANGE;
        size_t need = pad + (w.n + 1) * sizeof(char *) + strings;
        if (need > len)
                return -ERANGE;

        char **mem = (char **) (void *) (buf + pad);
        struct member_walk fill = { .mem = mem, .p = (char *) (mem + w.n + 1), .max_n = w.n, .max_bytes = w.bytes };
        /* The names the count kept, or the same walk of the same mapping at the same now: the
         * same names, which fit. */
        int r = 0;
        if (w.kept && w.n <= MEMBERS_KEPT)
                for (size_t i = 0; i < w.n; i++)
                        mem[fill.n++] = put_text(&fill.p, kept[i]);
        else
                r = nss_index_group_members(v, g, now, walk_member, &fill);
        if (r < 0 || fill.n != w.n)
                return r < 0 ? r : -EIO;
        gr->gr_name = put_text(&fill.p, g->name);
        gr->gr_passwd = put(&fill.p, "x");
        gr->gr_gid = g->gid;
        mem[fill.n] = NULL;
        gr->gr_mem = mem;
        return 0;
}

int nss_pack_shadow(const struct roles_user *u, const struct roles_nss_shadow *sh, struct spwd *sp, char *buf, size_t len) {
        const char *hash = !u->enabled || sh->locked ? "!" : "*";
        size_t need = strlen(u->name) + 1 + strlen(hash) + 1;
        if (need > len)
                return -ERANGE;
        char *p = buf;
        sp->sp_namp = put(&p, u->name);
        sp->sp_pwdp = put(&p, hash);
        sp->sp_lstchg = sh->password_changed_at > 0 ? (long) (sh->password_changed_at / 86400) : -1;
        sp->sp_min = -1;
        sp->sp_max = -1;
        sp->sp_warn = -1;
        sp->sp_inact = -1;
        /* expires_at is the moment the account stops; shadow counts whole days since the epoch. */
        sp->sp_expire = u->expires_at > 0 ? (long) (u->expires_at / 86400) : -1;
        sp->sp_flag = ~0UL;
        return 0;
}
