/* SPDX-License-Identifier: MIT */
#include "index_edits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nss_index_read.h"

/* The first size bytes of data, in memory 8-aligned (the reader maps files so). */
static int copy_aligned(const void *data, size_t size, unsigned char **ret) {
        unsigned char *out = aligned_alloc(8, (size + 7) & ~(size_t) 7);
        if (!out)
                return -ENOMEM;
        memcpy(out, data, size);
        *ret = out;
        return 0;
}

static void seal(unsigned char *out, size_t size) {
        struct nss_index_header *h = (void *) out;
        h->file_size = size;
        h->body_checksum = nss_index_checksum(out + sizeof(*h), size - sizeof(*h));
        h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
}

static int base_with_extension(const void *data, size_t size, struct nss_index_file *ret) {
        if (nss_index_file_check(data, size, false, ret) < 0 || !ret->member_ranges)
                return -EBADMSG;
        return 0;
}

int index_strip_extension(const void *data, size_t size, void **ret, size_t *ret_size) {
        struct nss_index_file f;
        unsigned char *out;
        int r = base_with_extension(data, size, &f);
        if (r < 0)
                return r;
        /* The builder lays the extension's arrays out after every section: cut there. */
        uint64_t at = f.offset[NSS_SECTION_GROUP_MEMBERS] < f.offset[NSS_SECTION_MEMBER_RANGES]
                              ? f.offset[NSS_SECTION_GROUP_MEMBERS] : f.offset[NSS_SECTION_MEMBER_RANGES];
        if ((r = copy_aligned(data, at, &out)) < 0)
                return r;
        seal(out, at);
        *ret = out;
        *ret_size = at;
        return 0;
}

int index_set_member_uid(const void *data, size_t size, uint32_t uid, void **ret, size_t *ret_size) {
        struct nss_index_file f;
        unsigned char *out;
        int r = base_with_extension(data, size, &f);
        if (r < 0)
                return r;
        if (f.n[NSS_SECTION_GROUP_MEMBERS] == 0)
                return -EBADMSG;
        if ((r = copy_aligned(data, size, &out)) < 0)
                return r;
        struct nss_index_member m;
        uint64_t at = f.offset[NSS_SECTION_GROUP_MEMBERS];
        memcpy(&m, out + at, sizeof(m));
        m.uid = uid;
        memcpy(out + at, &m, sizeof(m));
        seal(out, size);
        *ret = out;
        *ret_size = size;
        return 0;
}

int index_set_host_flags(const void *data, size_t size, uint32_t flags, void **ret, size_t *ret_size) {
        struct nss_index_file f;
        struct nss_index_host_verdict hv;
        unsigned char *out;
        int r = nss_index_file_check(data, size, false, &f);
        if (r < 0 || !f.host_verdict)
                return -EBADMSG;
        if ((r = copy_aligned(data, size, &out)) < 0)
                return r;
        uint64_t at = size - sizeof(hv);
        memcpy(&hv, out + at, sizeof(hv));
        hv.flags = flags;
        hv.checksum = nss_index_checksum(&hv, offsetof(struct nss_index_host_verdict, checksum));
        memcpy(out + at, &hv, sizeof(hv));
        seal(out, size);
        *ret = out;
        *ret_size = size;
        return 0;
}
