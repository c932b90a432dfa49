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

void nss_passwd_from_user(const struct roles_user *u, struct nss_passwd *ret) {
        *ret = (struct nss_passwd) {
                .name = u->name, .gecos = u->gecos, .home = u->home, .shell = u->shell, .uid = u->uid, .gid = u->gid,
        };
}

/* Cut the next ':'-separated field off *p; NULL when there is none. */
static char *field(char **p) {
        if (!*p)
                return NULL;
        char *start = *p, *colon = strchr(start, ':');
        if (colon) {
                *colon = '\0';
                *p = colon + 1;
        } else
                *p = NULL;
        return start;
}

/* A decimal id within [min, max]; false for anything else. */
static bool parse_id(const char *s, uint32_t min, uint32_t max, uint32_t *ret) {
        uint64_t v = 0;
        if (!s || !*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > UINT32_MAX)
                        return false;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        if (v < min || v > max)
                return false;
        *ret = (uint32_t) v;
        return true;
}

int nss_parse_passwd(char *line, const struct roles_config *cfg, struct nss_passwd *ret) {
        char *p = line;
        char *name = field(&p), *x = field(&p), *uid = field(&p), *gid = field(&p);
        char *gecos = field(&p), *home = field(&p), *shell = field(&p);
        uint32_t u, g;
        if (!shell || p || !x || strcmp(x, "x") != 0 || !roles_name_valid(name) ||
            !parse_id(uid, cfg->uid_min, cfg->uid_max, &u) || !parse_id(gid, cfg->gid_min, cfg->gid_max, &g) ||
            !roles_text_valid(gecos, ROLES_TEXT_MAX) || !roles_path_valid(home) || !roles_path_valid(shell))
                return -EBADMSG;
        *ret = (struct nss_passwd) { .name = name, .gecos = gecos, .home = home, .shell = shell, .uid = u, .gid = g };
        return 0;
}

int nss_parse_group(char *line, const struct roles_config *cfg, struct nss_group *ret) {
        char *p = line;
        char *name = field(&p), *x = field(&p), *gid = field(&p), *members = field(&p);
        uint32_t g;
        if (!members || p || !x || strcmp(x, "x") != 0 || !roles_name_valid(name) ||
            !parse_id(gid, cfg->gid_min, cfg->gid_max, &g))
                return -EBADMSG;
        *ret = (struct nss_group) { .name = name, .gid = g, .members = members };
        return 0;
}

int nss_pack_passwd(const struct nss_passwd *e, struct passwd *pw, char *buf, size_t len) {
        size_t need = strlen(e->name) + 1 + 2 + strlen(e->gecos) + 1 + strlen(e->home) + 1 + strlen(e->shell) + 1;
        if (need > len)
                return -ERANGE;
        char *p = buf;
        pw->pw_name = put(&p, e->name);
        pw->pw_passwd = put(&p, "x");
        pw->pw_uid = e->uid;
        pw->pw_gid = e->gid;
        pw->pw_gecos = put(&p, e->gecos);
        pw->pw_dir = put(&p, e->home);
        pw->pw_shell = put(&p, e->shell);
        return 0;
}

/* Walk the valid names of an "a,b,c" list: count them and their bytes, or copy them out. */
static void each_member(const char *list, size_t *ret_n, size_t *ret_bytes, char **mem, char **p) {
        size_t n = 0, bytes = 0;
        char name[ROLES_NAME_MAX + 1];
        while (*list) {
                size_t k = strcspn(list, ",");
                if (k > 0 && k <= ROLES_NAME_MAX) {
                        memcpy(name, list, k);
                        name[k] = '\0';
                        if (roles_name_valid(name)) {
                                if (mem)
                                        mem[n] = put(p, name);
                                n++;
                                bytes += k + 1;
                        }
                }
                list += k + (list[k] == ',');
        }
        *ret_n = n;
        *ret_bytes = bytes;
}

int nss_pack_group(const struct nss_group *e, struct group *gr, char *buf, size_t len) {
        size_t pad = (alignof(char *) - ((uintptr_t) buf % alignof(char *))) % alignof(char *);
        size_t n, member_bytes;
        each_member(e->members, &n, &member_bytes, NULL, NULL);
        size_t strings = strlen(e->name) + 1 + 2 + member_bytes;
        if (n + 1 > (SIZE_MAX - strings - pad) / sizeof(char *))
                return -ERANGE;
        size_t need = pad + (n + 1) * sizeof(char *) + strings;
        if (need > len)
                return -ERANGE;

        char **mem = (char **) (void *) (buf + pad);
        char *p = (char *) (mem + n + 1);
        gr->gr_name = put(&p, e->name);
        gr->gr_passwd = put(&p, "x");
        gr->gr_gid = e->gid;
        each_member(e->members, &n, &member_bytes, mem, &p);
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
