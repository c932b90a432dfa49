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

int nss_pack_passwd(const struct roles_user *u, struct passwd *pw, char *buf, size_t len) {
        size_t need = strlen(u->name) + 1 + 2 + strlen(u->gecos) + 1 + strlen(u->home) + 1 + strlen(u->shell) + 1;
        if (need > len)
                return -ERANGE;
        char *p = buf;
        pw->pw_name = put(&p, u->name);
        pw->pw_passwd = put(&p, "x");
        pw->pw_uid = u->uid;
        pw->pw_gid = u->gid;
        pw->pw_gecos = put(&p, u->gecos);
        pw->pw_dir = put(&p, u->home);
        pw->pw_shell = put(&p, u->shell);
        return 0;
}

int nss_pack_group(const char *name, gid_t gid, const char *const *members, size_t n,
                   struct group *gr, char *buf, size_t len) {
        size_t pad = (alignof(char *) - ((uintptr_t) buf % alignof(char *))) % alignof(char *);
        size_t need = pad, strings = strlen(name) + 1 + 2;
        for (size_t i = 0; i < n; i++)
                strings += strlen(members[i]) + 1;
        if (n + 1 > (SIZE_MAX - strings - pad) / sizeof(char *))
                return -ERANGE;
        need += (n + 1) * sizeof(char *) + strings;
        if (need > len)
                return -ERANGE;

        char **mem = (char **) (void *) (buf + pad);
        char *p = (char *) (mem + n + 1);
        gr->gr_name = put(&p, name);
        gr->gr_passwd = put(&p, "x");
        gr->gr_gid = gid;
        for (size_t i = 0; i < n; i++)
                mem[i] = put(&p, members[i]);
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
