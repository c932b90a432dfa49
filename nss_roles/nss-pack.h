/* SPDX-License-Identifier: MIT */
/*
 * Checking entries and packing them into the caller's buffer. Each packer computes the size
 * it needs first and returns -ERANGE before writing anything when the buffer is too small; on
 * success every pointer in the result points into buf.
 */
#pragma once

#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stddef.h>

#include "config.h"
#include "host_accounts.h"
#include "store.h"

/* A field: bytes in a roles_user or in a derived line, not NUL-terminated there. */
struct nss_field {
        const char *p;
        size_t n;
};

/* A passwd entry's fields, pointing into a roles_user or into a derived line (unmodified, so
 * that an entry refused for want of room can be parsed again on the next call). */
struct nss_passwd {
        struct nss_field name, gecos, home, shell;
        uid_t uid;
        gid_t gid;
};

/* A group entry: its members as "a,b,c". Invalid names in it are left out when packing, and
 * so are the host's own users' names when host is set: a roles group must not lend its
 * membership to a local account that shares a name with one of its members. */
struct nss_group {
        struct nss_field name, members;
        gid_t gid;
        const struct host_accounts *host;
};

void nss_passwd_from_user(const struct roles_user *u, struct nss_passwd *ret);

/*
 * Split a derived line of n bytes ("name:x:uid:gid:gecos:home:shell", "name:x:gid:a,b") without
 * changing it, and check it as a stored row is checked: valid name and texts, ids inside the
 * configured ranges. -EBADMSG when it must not be served.
 */
int nss_parse_passwd(const char *line, size_t n, const struct roles_config *cfg, struct nss_passwd *ret);
int nss_parse_group(const char *line, size_t n, const struct roles_config *cfg, struct nss_group *ret);

/* buf: name\0 "x"\0 gecos\0 home\0 shell\0 */
int nss_pack_passwd(const struct nss_passwd *e, struct passwd *pw, char *buf, size_t len);

/*
 * buf: [padding to pointer alignment] char *gr_mem[n + 1] (NULL-terminated)
 *      name\0 "x"\0 member0\0 member1\0 ...
 */
int nss_pack_group(const struct nss_group *e, struct group *gr, char *buf, size_t len);

/*
 * buf: name\0 hash\0 where hash is "!" (disabled or locked out) or "*" (never the real hash).
 * Aging: sp_lstchg in days from the password change, -1 (empty) for what roles does not keep.
 */
int nss_pack_shadow(const struct roles_user *u, const struct roles_nss_shadow *sh, struct spwd *sp, char *buf, size_t len);
