/* SPDX-License-Identifier: MIT */
#include "index_v1.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nss_index_read.h"

int index_to_v1(const void *data, size_t size, void **ret, size_t *ret_size) {
        struct nss_index_file f;
        if (nss_index_file_check(data, size, false, &f) < 0 || f.version != NSS_INDEX_VERSION)
                return -EBADMSG;
        /* IDS grows by every ordinary group's members, appended in the groups' order. */
        uint64_t extra = 0;
        for (uint64_t g = 0; g < f.n[NSS_SECTION_GROUPS]; g++)
                if (f.groups[g].kind == NSS_INDEX_GROUP_ORDINARY)
                        extra += f.groups[g].members.count;
        uint64_t count[NSS_N_SECTIONS_V1], offset[NSS_N_SECTIONS_V1], at = sizeof(struct nss_index_header_v1);
        size_t elem[NSS_N_SECTIONS_V1];
        for (size_t s = 0; s < NSS_N_SECTIONS_V1; s++) {
                count[s] = f.n[s] + (s == NSS_SECTION_IDS ? extra : 0);
                /* (each section's own element size: nss_index.h) */
                elem[s] = s == NSS_SECTION_STRINGS ? 1 : s == NSS_SECTION_USERS ? sizeof(struct nss_index_user)
                        : s == NSS_SECTION_GROUPS ? sizeof(struct nss_index_group)
                        : s == NSS_SECTION_MEMBERSHIPS ? sizeof(struct nss_index_membership) : sizeof(uint32_t);
                offset[s] = at;
                at = (at + count[s] * elem[s] + 7) & ~(uint64_t) 7;
        }
        unsigned char *out = aligned_alloc(8, at);
        if (!out)
                return -ENOMEM;
        memset(out, 0, at);
        for (size_t s = 0; s < NSS_N_SECTIONS_V1; s++)
                memcpy(out + offset[s], f.data + f.offset[s], f.n[s] * elem[s]);
        struct nss_index_group *groups = (void *) (out + offset[NSS_SECTION_GROUPS]);
        uint32_t *ids = (void *) (out + offset[NSS_SECTION_IDS]);
        uint64_t next = f.n[NSS_SECTION_IDS];
        for (uint64_t g = 0; g < f.n[NSS_SECTION_GROUPS]; g++) {
                if (groups[g].kind != NSS_INDEX_GROUP_ORDINARY)
                        continue;
                struct nss_index_range r = groups[g].members;
                groups[g].members.first = (uint32_t) next;
                for (uint32_t k = 0; k < r.count; k++)
                        ids[next++] = f.members[r.first + k].user;
        }
        struct nss_index_header_v1 *h = (void *) out;
        memcpy(h, f.header, offsetof(struct nss_index_header_v1, sections));
        h->version = NSS_INDEX_VERSION_1;
        h->header_size = sizeof(*h);
        h->file_size = at;
        for (size_t s = 0; s < NSS_N_SECTIONS_V1; s++)
                h->sections[s] = (struct nss_index_section_ref) { offset[s], count[s] };
        h->body_checksum = nss_index_checksum(out + sizeof(*h), at - sizeof(*h));
        h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header_v1, header_checksum));
        *ret = out;
        *ret_size = at;
        return 0;
}
