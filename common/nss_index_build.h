/* SPDX-License-Identifier: MIT */
/*
 * Compiling roles.nss (layout: nss_index.h) from records handed in one by one. libc only, so
 * that the fuzzer and the tests build files without a database; store_index.c feeds it from
 * roles.db. Records that could not be served (an invalid name, a text that would break a
 * passwd line) are left out here, as readers would leave them out.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "file_stamp.h"
#include "nss_index.h"

struct nss_index_builder;

struct nss_index_build_user {
        const char *name, *gecos, *home, *shell;
        uint32_t uid, gid;
        bool enabled;
        int64_t expires_at;                     /* 0: none */
        int64_t row;
        const uint32_t *gids;                   /* ordinary groups */
        size_t n_gids;
        const struct nss_index_membership *metaroles;   /* id = the published group's gid */
        size_t n_metaroles;
};

struct nss_index_build_group {
        const char *name;
        uint32_t gid;
        enum nss_index_group_kind kind;
        int64_t row;
};

int nss_index_builder_new(struct nss_index_builder **ret);
void nss_index_builder_free(struct nss_index_builder *b);

/* 1 added, 0 left out (not servable), -ENOMEM. */
int nss_index_builder_add_user(struct nss_index_builder *b, const struct nss_index_build_user *u);
int nss_index_builder_add_group(struct nss_index_builder *b, const struct nss_index_build_group *g);

/* A delta: the base's user or group at this index is replaced or gone. */
int nss_index_builder_supersede_user(struct nss_index_builder *b, uint32_t base_index);
int nss_index_builder_supersede_group(struct nss_index_builder *b, uint32_t base_index);

struct nss_index_identity {
        enum nss_index_kind kind;
        uint64_t serial;
        uint8_t base_id[16];
        uint64_t base_serial;
};

/* The whole file in memory (malloc'd), ready to be written. */
int nss_index_builder_finish(struct nss_index_builder *b, const struct nss_index_identity *id,
                             void **ret_data, size_t *ret_size);

/* The host verdict (nss_index.h) at the end of a delta that nss_index_builder_finish() made
 * (data and size, realloc'd and grown): flags (NSS_INDEX_HOST_*) and the stamps of the versions
 * of /etc/passwd and /etc/group they were judged against. -EINVAL for anything but such a
 * delta without one, -ENOMEM. */
struct nss_index_host_stamp nss_index_host_stamp_of(const struct roles_file_stamp *s);
int nss_index_add_host_verdict(void **data, size_t *size, uint32_t flags, const struct nss_index_host_stamp *passwd,
                               const struct nss_index_host_stamp *group);
