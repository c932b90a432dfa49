/* SPDX-License-Identifier: MIT */
#include "index_strip.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nss_index_read.h"

int index_strip_extension(const void *data, size_t size, void **ret, size_t *ret_size) {
        struct nss_index_file f;
        if (nss_index_file_check(data, size, false, &f) < 0 || !f.member_ranges)
                return -EBADMSG;
        /* The builder lays the extension's arrays out after every section: cut there. */
        uint64_t at = f.offset[NSS_SECTION_GROUP_MEMBERS] < f.offset[NSS_SECTION_MEMBER_RANGES]
                              ? f.offset[NSS_SECTION_GROUP_MEMBERS] : f.offset[NSS_SECTION_MEMBER_RANGES];
        unsigned char *out = aligned_alloc(8, at);
        if (!out)
                return -ENOMEM;
        memcpy(out, data, at);
        struct nss_index_header *h = (void *) out;
        h->file_size = at;
        h->body_checksum = nss_index_checksum(out + sizeof(*h), at - sizeof(*h));
        h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
        *ret = out;
        *ret_size = at;
        return 0;
}
