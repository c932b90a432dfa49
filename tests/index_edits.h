/* SPDX-License-Identifier: MIT */
/*
 * roles.nss files edited as no writer of this build would write them, checksums made right again
 * (a file a hostile or broken writer installed, not one damaged by chance), for the tests of
 * what the reader and doctor make of them:
 *  - without the member extension, as an older writer compiled it: the same file up to the end
 *    of its sections (its ordinary groups' members in IDS, as every base has them), the
 *    extension's arrays and trailer cut off;
 *  - with the first member entry's uid other than its user's;
 *  - a delta whose host verdict (nss_index.h) says other flags than its writer found.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* 0 and *ret (malloc'd, 8-aligned), *ret_size; -EBADMSG when data is no base with the extension. */
int index_strip_extension(const void *data, size_t size, void **ret, size_t *ret_size);

/* The same, with the first member entry's uid set to uid. */
int index_set_member_uid(const void *data, size_t size, uint32_t uid, void **ret, size_t *ret_size);
/* A delta with a host verdict, its flags set to flags; -EBADMSG when data is no such delta. */
int index_set_host_flags(const void *data, size_t size, uint32_t flags, void **ret, size_t *ret_size);
