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
#include <time.h>

#include "nss_index_read.h"
#include "records.h"

/* buf: name\0 "x"\0 gecos\0 home\0 shell\0 */
int nss_pack_passwd(const struct nss_index_found_user *u, struct passwd *pw, char *buf, size_t len);

/*
 * buf: [padding to pointer alignment] char *gr_mem[n + 1] (NULL-terminated)
 *      name\0 "x"\0 member0\0 member1\0 ...
 * Members are the group's at now in the view, less the names of its member_host's users (a roles
 * group must not lend its membership to a local account that shares a name with one of its
 * members). The size is computed first and kept for the next call (key: generation): a caller
 * that grows its buffer step by step is not made to walk a large group again at every step.
 */
int nss_pack_group(const struct nss_index_view *v, const struct nss_index_found_group *g, time_t now,
                   uint64_t generation, struct group *gr, char *buf, size_t len);

/*
 * buf: name\0 hash\0 where hash is "!" (disabled or locked out) or "*" (never the real hash).
 * Aging: sp_lstchg in days from the password change, -1 (empty) for what roles does not keep.
 */
int nss_pack_shadow(const struct roles_user *u, const struct roles_nss_shadow *sh, struct spwd *sp, char *buf, size_t len);
