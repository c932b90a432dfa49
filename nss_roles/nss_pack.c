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

/* Copy a field and a NUL to *p and advance. */
static char *put_field(char **p, struct nss_field f) {
        char *start = *p;
        memcpy(start, f.p, f.n);
        start[f.n] = '\0';
        *p += f.n + 1;
        return start;
}

static struct nss_field whole(const char *s) {
        return (struct nss_field) { s, strlen(s) };
}

void nss_passwd_from_user(const struct roles_user *u, struct nss_passwd *ret) {
        *ret = (struct nss_passwd) {
                .name = whole(u->name), .gecos = whole(u->gecos), .home = whole(u->home), .shell = whole(u->shell),
                .uid = u->uid, .gid = u->gid,
        };
}

/* Split line[0..n) at ':' into at most max fields; returns how many there were (max + 1 when
 * there were more). */
static size_t split_fields(const char *line, size_t n, struct nss_field *f, size_t max) {
        const char *p = line, *end = line + n;
        for (size_t k = 0;; k++) {
                const char *colon = memchr(p, ':', (size_t) (end - p));
                if (k == max)
                        return max + 1;
                f[k] = (struct nss_field) { p, (size_t) ((colon ? colon : end) - p) };
                if (!colon)
                        return k + 1;
                p = colon + 1;
        }
}

/* A decimal id within [min, max]; false for anything else. */
static bool parse_id(const char *s, size_t n, uint32_t min, uint32_t max, uint32_t *ret) {
        uint64_t v = 0;
        if (n == 0 || n > 10)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v < min || v > max)
                return false;
        *ret = (uint32_t) v;
        return true;
}

int nss_parse_passwd(const char *line, size_t n, const struct roles_config *cfg, struct nss_passwd *ret) {
        struct nss_field f[7];
        uint32_t uid, gid;
        /* util.c's checks, the ones every row passed when it was written, on the fields in place. */
        if (split_fields(line, n, f, 7) != 7 || f[1].n != 1 || f[1].p[0] != 'x' || !roles_name_valid_n(f[0].p, f[0].n) ||
            !parse_id(f[2].p, f[2].n, cfg->uid_min, cfg->uid_max, &uid) ||
            !parse_id(f[3].p, f[3].n, cfg->gid_min, cfg->gid_max, &gid) ||
            !roles_text_valid_n(f[4].p, f[4].n, ROLES_TEXT_MAX) || !roles_path_valid_n(f[5].p, f[5].n) ||
            !roles_path_valid_n(f[6].p, f[6].n))
                return -EBADMSG;
        *ret = (struct nss_passwd) { .name = f[0], .gecos = f[4], .home = f[5], .shell = f[6], .uid = uid, .gid = gid };
        return 0;
}

int nss_parse_group(const char *line, size_t n, const struct roles_config *cfg, struct nss_group *ret) {
        struct nss_field f[4];
        uint32_t gid;
        if (split_fields(line, n, f, 4) != 4 || f[1].n != 1 || f[1].p[0] != 'x' || !roles_name_valid_n(f[0].p, f[0].n) ||
            !parse_id(f[2].p, f[2].n, cfg->gid_min, cfg->gid_max, &gid))
                return -EBADMSG;
        *ret = (struct nss_group) { .name = f[0], .gid = gid, .members = f[3] };
        return 0;
}

int nss_pack_passwd(const struct nss_passwd *e, struct passwd *pw, char *buf, size_t len) {
        size_t need = e->name.n + 1 + 2 + e->gecos.n + 1 + e->home.n + 1 + e->shell.n + 1;
        if (need > len)
                return -ERANGE;
        char *p = buf;
        pw->pw_name = put_field(&p, e->name);
        pw->pw_passwd = put(&p, "x");
        pw->pw_uid = e->uid;
        pw->pw_gid = e->gid;
        pw->pw_gecos = put_field(&p, e->gecos);
        pw->pw_dir = put_field(&p, e->home);
        pw->pw_shell = put_field(&p, e->shell);
        return 0;
}

/* Walk the servable names of e's "a,b,c" list: count them and their bytes, or copy them out. */
static void each_member(const struct nss_group *e, size_t *ret_n, size_t *ret_bytes, char **mem, char **p) {
        size_t n = 0, bytes = 0;
        const char *q = e->members.p, *end = e->members.p + e->members.n;
        while (q < end) {
                const char *comma = memchr(q, ',', (size_t) (end - q));
                struct nss_field name = { q, (size_t) ((comma ? comma : end) - q) };
                if (roles_name_valid_n(name.p, name.n) && !(e->host && host_accounts_has_user_n(e->host, name.p, name.n))) {
                        if (mem)
                                mem[n] = put_field(p, name);
                        n++;
                        bytes += name.n + 1;
                }
                q = comma ? comma + 1 : end;
        }
        *ret_n = n;
        *ret_bytes = bytes;
}

int nss_pack_group(const struct nss_group *e, struct group *gr, char *buf, size_t len) {
        size_t pad = (alignof(char *) - ((uintptr_t) buf % alignof(char *))) % alignof(char *);
        size_t n, member_bytes;
        each_member(e, &n, &member_bytes, NULL, NULL);
        size_t strings = e->name.n + 1 + 2 + member_bytes;
        if (n + 1 > (SIZE_MAX - strings - pad) / sizeof(char *))
                return -ERANGE;
        size_t need = pad + (n + 1) * sizeof(char *) + strings;
        if (need > len)
                return -ERANGE;

        char **mem = (char **) (void *) (buf + pad);
        char *p = (char *) (mem + n + 1);
        gr->gr_name = put_field(&p, e->name);
        gr->gr_passwd = put(&p, "x");
        gr->gr_gid = e->gid;
        each_member(e, &n, &member_bytes, mem, &p);
        mem[n] = NULL;
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
