/* SPDX-License-Identifier: MIT */
/*
 * A roles.nss without the member extension, for the tests of the reader's path for a base an
 * older writer compiled: the same file up to the end of its sections (its ordinary groups'
 * members in IDS, as every base has them), its extension's arrays and trailer cut off.
 */
#pragma once

#include <stddef.h>

/* 0 and *ret (malloc'd, 8-aligned), *ret_size; -EBADMSG when data is no base with the extension. */
int index_strip_extension(const void *data, size_t size, void **ret, size_t *ret_size);
