/* SPDX-License-Identifier: MIT */
/*
 * Packing entries into the caller's buffer. Each packer computes the size it needs first and
 * returns -ERANGE before writing anything when the buffer is too small; on success every
 * pointer in the result points into buf.
 */
#pragma once

#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stddef.h>

#include "store.h"

/* buf: name\0 "x"\0 gecos\0 home\0 shell\0 */
int nss_pack_passwd(const struct roles_user *u, struct passwd *pw, char *buf, size_t len);

/*
 * buf: [padding to pointer alignment] char *gr_mem[n + 1] (NULL-terminated)
 *      name\0 "x"\0 member0\0 member1\0 ...
 */
int nss_pack_group(const char *name, gid_t gid, const char *const *members, size_t n,
                   struct group *gr, char *buf, size_t len);

/*
 * buf: name\0 hash\0 where hash is "!" (disabled or locked out) or "*" (never the real hash).
 * Aging: sp_lstchg in days from the password change, -1 (empty) for what roles does not keep.
 */
int nss_pack_shadow(const struct roles_user *u, const struct roles_nss_shadow *sh, struct spwd *sp, char *buf, size_t len);
