/* SPDX-License-Identifier: MIT */
/*
 * A roles.nss of version 1, for the tests of the reader's upgrade path: what an older writer
 * compiled, made from a version-2 file that says the same (its ordinary groups' members as user
 * indices in IDS again, no GROUP_MEMBERS, the older header). The writer never writes one.
 */
#pragma once

#include <stddef.h>

/* 0 and *ret (malloc'd, 8-aligned), *ret_size; -EBADMSG when data is no version-2 file. */
int index_to_v1(const void *data, size_t size, void **ret, size_t *ret_size);
