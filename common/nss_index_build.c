/* SPDX-License-Identifier: MIT */
/*
 * The writer of roles.nss. Records are collected as they come (strings into one buffer, gid and
 * membership lists into pools), then finish() sorts them, inverts the users' lists into the
 * groups' member lists (a base), builds the hash tables and lays the sections out one after
 * the other, each 8-aligned, behind the header.
 */
#include "nss_index_build.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nss_index_read.h"
#include "util.h"

/* A growable array of elements of one size. */
struct vec {
        void *data;
        size_t n, size, elem;
};

static int vec_reserve(struct vec *v, size_t more) {
        if (v->n + more <= v->size)
                return 0;
        size_t size = v->size ? v->size : 64;
        while (size < v->n + more) {
                if (size > SIZE_MAX / 2 / v->elem)
                        return -ENOMEM;
                size *= 2;
        }
        void *d = realloc(v->data, size * v->elem);
        if (!d)
                return -ENOMEM;
        v->data = d;
        v->size = size;
        return 0;
}

static int vec_append(struct vec *v, const void *elems, size_t n) {
        int r = vec_reserve(v, n);
        if (r < 0)
                return r;
        if (n)
                memcpy((char *) v->data + v->n * v->elem, elems, n * v->elem);
        v->n += n;
        return 0;
}

#define VEC(type) { .elem = sizeof(type) }
#define AT(v, type, i) (((type *) (v).data)[i])

struct nss_index_builder {
        struct vec users, groups, ids, memberships, members, ranges, strings, superseded_users, superseded_groups;
};

int nss_index_builder_new(struct nss_index_builder **ret) {
        struct nss_index_builder *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        *b = (struct nss_index_builder) {
                .users = VEC(struct nss_index_user), .groups = VEC(struct nss_index_group),
                .ids = VEC(uint32_t), .memberships = VEC(struct nss_index_membership),
                .members = VEC(struct nss_index_member), .ranges = VEC(struct nss_index_range),
                .strings = VEC(char),
                .superseded_users = VEC(uint32_t), .superseded_groups = VEC(uint32_t),
        };
        *ret = b;
        return 0;
}

void nss_index_builder_free(struct nss_index_builder *b) {
        if (!b)
                return;
        struct vec *all[] = { &b->users, &b->groups, &b->ids, &b->memberships, &b->members, &b->ranges, &b->strings,
                              &b->superseded_users, &b->superseded_groups };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(all); i++)
                free(all[i]->data);
        free(b);
}

static int add_string(struct nss_index_builder *b, const char *s, struct nss_index_string *ret) {
        size_t n = strlen(s);
        if (n > UINT32_MAX || b->strings.n > UINT32_MAX - n)
                return -E2BIG;
        ret->offset = (uint32_t) b->strings.n;
        ret->length = (uint32_t) n;
        return vec_append(&b->strings, s, n);
}

static int add_range(struct vec *pool, const void *elems, size_t n, struct nss_index_range *ret) {
        if (n > UINT32_MAX || pool->n > UINT32_MAX - n)
                return -E2BIG;
        ret->first = (uint32_t) pool->n;
        ret->count = (uint32_t) n;
        return vec_append(pool, elems, n);
}

int nss_index_builder_add_user(struct nss_index_builder *b, const struct nss_index_build_user *u) {
        /* What the reader checks, checked here too: what it would refuse is not written. */
        if (!roles_name_valid(u->name) || !roles_text_valid(u->gecos, ROLES_TEXT_MAX) || !roles_path_valid(u->home) ||
            !roles_path_valid(u->shell))
                return 0;
        struct nss_index_user rec = {
                .uid = u->uid, .gid = u->gid, .flags = u->enabled ? NSS_INDEX_USER_ENABLED : 0,
                .expires_at = u->expires_at, .row = u->row,
        };
        int r;
        if ((r = add_string(b, u->name, &rec.name)) < 0 || (r = add_string(b, u->gecos, &rec.gecos)) < 0 ||
            (r = add_string(b, u->home, &rec.home)) < 0 || (r = add_string(b, u->shell, &rec.shell)) < 0 ||
            (r = add_range(&b->ids, u->gids, u->n_gids, &rec.groups)) < 0 ||
            (r = add_range(&b->memberships, u->metaroles, u->n_metaroles, &rec.metaroles)) < 0 ||
            (r = vec_append(&b->users, &rec, 1)) < 0)
                return r;
        return 1;
}

int nss_index_builder_add_group(struct nss_index_builder *b, const struct nss_index_build_group *g) {
        if (!roles_name_valid(g->name) || (g->kind != NSS_INDEX_GROUP_ORDINARY && g->kind != NSS_INDEX_GROUP_METAROLE))
                return 0;
        struct nss_index_group rec = { .gid = g->gid, .kind = g->kind, .row = g->row };
        int r;
        if ((r = add_string(b, g->name, &rec.name)) < 0 || (r = vec_append(&b->groups, &rec, 1)) < 0)
                return r;
        return 1;
}

int nss_index_builder_supersede_user(struct nss_index_builder *b, uint32_t base_index) {
        return vec_append(&b->superseded_users, &base_index, 1);
}

int nss_index_builder_supersede_group(struct nss_index_builder *b, uint32_t base_index) {
        return vec_append(&b->superseded_groups, &base_index, 1);
}

static int cmp_user(const void *a, const void *b) {
        const struct nss_index_user *x = a, *y = b;
        return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_group(const void *a, const void *b) {
        const struct nss_index_group *x = a, *y = b;
        if (x->gid != y->gid)
                return x->gid < y->gid ? -1 : 1;
        return x->kind < y->kind ? -1 : x->kind > y->kind;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* Sorted, without repeats. */
static void sort_unique(struct vec *v) {
        uint32_t *a = v->data;
        size_t kept = 0;
        if (v->n == 0)
                return;
        qsort(a, v->n, sizeof(uint32_t), cmp_u32);
        for (size_t i = 0; i < v->n; i++)
                if (kept == 0 || a[kept - 1] != a[i])
                        a[kept++] = a[i];
        v->n = kept;
}

/* ---- strings ------------------------------------------------------------------------------- */

static int move_string(struct vec *out, const struct vec *in, struct nss_index_string *s) {
        uint32_t at = (uint32_t) out->n;
        int r = vec_append(out, (const char *) in->data + s->offset, s->length);
        if (r == 0)
                s->offset = at;
        return r;
}

/*
 * The strings again, in the order their readers meet them: every user's name (by uid), every
 * group's name (by gid), then the users' other texts. A group's members are users in no order
 * that helps, and their names are all a member list reads: kept together, they are a few pages
 * that stay in the cache and the TLB rather than one name in every fifty bytes of texts.
 */
static int gather_strings(struct nss_index_builder *b) {
        struct vec out = VEC(char);
        struct nss_index_user *users = b->users.data;
        struct nss_index_group *groups = b->groups.data;
        int r = vec_reserve(&out, b->strings.n);
        for (size_t u = 0; r == 0 && u < b->users.n; u++)
                r = move_string(&out, &b->strings, &users[u].name);
        for (size_t g = 0; r == 0 && g < b->groups.n; g++)
                r = move_string(&out, &b->strings, &groups[g].name);
        for (size_t u = 0; r == 0 && u < b->users.n; u++)
                if ((r = move_string(&out, &b->strings, &users[u].gecos)) == 0 &&
                    (r = move_string(&out, &b->strings, &users[u].home)) == 0)
                        r = move_string(&out, &b->strings, &users[u].shell);
        if (r < 0) {
                free(out.data);
                return r;
        }
        free(b->strings.data);
        b->strings = out;
        return 0;
}

/* ---- hash tables --------------------------------------------------------------------------- */

static uint64_t table_slots(size_t n) {
        uint64_t slots = 1;
        if (n == 0)
                return 0;
        while (slots < 2 * (uint64_t) n)
                slots <<= 1;
        return slots;
}

/* Put index + 1 at the first free slot from hash: the first key put wins among equal ones. */
static void table_put(uint32_t *slots, uint64_t n_slots, uint64_t hash, uint32_t index) {
        uint64_t mask = n_slots - 1;
        for (uint64_t i = hash & mask;; i = (i + 1) & mask)
                if (slots[i] == 0) {
                        slots[i] = index + 1;
                        return;
                }
}

/* ---- the file --------------------------------------------------------------------------------- */

struct layout {
        size_t elem[NSS_N_FILE_SECTIONS];
        uint64_t count[NSS_N_FILE_SECTIONS];
        uint64_t offset[NSS_N_FILE_SECTIONS];
        uint64_t size;
};

/* The sections in order, then (extension) the member extension's arrays and its trailer. */
static int lay_out(struct layout *l, bool extension) {
        uint64_t at = sizeof(struct nss_index_header);
        for (size_t s = 0; s < (extension ? NSS_N_FILE_SECTIONS : NSS_N_SECTIONS); s++) {
                at = (at + 7) & ~(uint64_t) 7;
                if (l->count[s] > (UINT64_MAX - at) / l->elem[s])
                        return -E2BIG;
                l->offset[s] = at;
                at += l->count[s] * l->elem[s];
        }
        l->size = ((at + 7) & ~(uint64_t) 7) + (extension ? sizeof(struct nss_index_extension) : 0);
        return l->size > SIZE_MAX ? -E2BIG : 0;
}

/* The index of the group with this gid, or -1. */
static long find_group(const struct nss_index_group *groups, const uint32_t *by_gid, uint64_t n_slots, uint32_t gid) {
        for (uint64_t i = n_slots ? nss_index_hash_id(gid) & (n_slots - 1) : 0; n_slots && by_gid[i]; i = (i + 1) & (n_slots - 1))
                if (groups[by_gid[i] - 1].gid == gid)
                        return (long) by_gid[i] - 1;
        return -1;
}

/*
 * A base's group member lists, from the users' own lists: count, then place (two passes, so
 * each group's members are contiguous). by_gid maps a gid to its group (a table by gid). An
 * ordinary group's members carry their user's ids (their names: copy_member_names).
 */
static int invert_memberships(struct nss_index_builder *b, const uint32_t *by_gid, uint64_t n_slots) {
        struct nss_index_group *groups = b->groups.data;
        const struct nss_index_user *users = b->users.data;
        size_t n_members = 0, n_memberships = 0;
        uint32_t *fill = NULL;
        int r = 0;

        for (size_t g = 0; g < b->groups.n; g++)
                groups[g].members = (struct nss_index_range) { 0, 0 };
        for (size_t u = 0; u < b->users.n; u++) {
                for (uint32_t k = 0; k < users[u].groups.count; k++) {
                        long g = find_group(groups, by_gid, n_slots, AT(b->ids, uint32_t, users[u].groups.first + k));
                        if (g >= 0 && groups[g].kind == NSS_INDEX_GROUP_ORDINARY)
                                groups[g].members.count++, n_members++;
                }
                for (uint32_t k = 0; k < users[u].metaroles.count; k++) {
                        long g = find_group(groups, by_gid, n_slots, AT(b->memberships, struct nss_index_membership, users[u].metaroles.first + k).id);
                        if (g >= 0 && groups[g].kind == NSS_INDEX_GROUP_METAROLE)
                                groups[g].members.count++, n_memberships++;
                }
        }
        size_t members_at = b->members.n, memberships_at = b->memberships.n;
        if (n_members > UINT32_MAX - members_at || n_memberships > UINT32_MAX - memberships_at)
                return -E2BIG;
        if ((r = vec_reserve(&b->members, n_members)) < 0 || (r = vec_reserve(&b->memberships, n_memberships)) < 0)
                return r;
        users = b->users.data;  /* (not moved: only the pools grew) */
        fill = calloc(b->groups.n + 1, sizeof(uint32_t));
        if (!fill)
                return -ENOMEM;
        for (size_t g = 0; g < b->groups.n; g++) {
                bool ordinary = groups[g].kind == NSS_INDEX_GROUP_ORDINARY;
                size_t *at = ordinary ? &members_at : &memberships_at;
                groups[g].members.first = (uint32_t) *at;
                *at += groups[g].members.count;
        }
        b->members.n += n_members;
        b->memberships.n += n_memberships;
        for (size_t u = 0; u < b->users.n; u++) {
                for (uint32_t k = 0; k < users[u].groups.count; k++) {
                        long g = find_group(groups, by_gid, n_slots, AT(b->ids, uint32_t, users[u].groups.first + k));
                        if (g >= 0 && groups[g].kind == NSS_INDEX_GROUP_ORDINARY)
                                AT(b->members, struct nss_index_member, groups[g].members.first + fill[g]++) =
                                        (struct nss_index_member) { .user = (uint32_t) u, .uid = users[u].uid,
                                                                    .gid = users[u].gid };
                }
                for (uint32_t k = 0; k < users[u].metaroles.count; k++) {
                        const struct nss_index_membership *m =
                                &AT(b->memberships, struct nss_index_membership, users[u].metaroles.first + k);
                        long g = find_group(groups, by_gid, n_slots, m->id);
                        if (g >= 0 && groups[g].kind == NSS_INDEX_GROUP_METAROLE)
                                AT(b->memberships, struct nss_index_membership, groups[g].members.first + fill[g]++) =
                                        (struct nss_index_membership) { .id = (uint32_t) u, .until = m->until };
                }
        }
        free(fill);
        return 0;
}

/* Each ordinary group's members' names, copied after the other strings in the order of the
 * groups and their lists: a group's member names are one run of bytes, and an enumeration of
 * the groups reads them all in order. */
static int copy_member_names(struct nss_index_builder *b) {
        struct nss_index_member *members = b->members.data;
        const struct nss_index_user *users = b->users.data;
        size_t bytes = 0;
        for (size_t m = 0; m < b->members.n; m++)
                bytes += users[members[m].user].name.length;
        if (bytes > UINT32_MAX - b->strings.n)
                return -E2BIG;
        int r = vec_reserve(&b->strings, bytes);
        if (r < 0)
                return r;
        char *strings = b->strings.data;        /* (reserved: appending moves nothing) */
        for (size_t m = 0; m < b->members.n; m++) {
                struct nss_index_string name = users[members[m].user].name;
                memcpy(strings + b->strings.n, strings + name.offset, name.length);
                members[m].name = (struct nss_index_string) { (uint32_t) b->strings.n, name.length };
                b->strings.n += name.length;
        }
        return 0;
}

/* The member extension's ranges (each group's list in the members), and the lists again in
 * IDS as user indices, for a reader that does not know the extension (nss_index.h). */
static int list_members_twice(struct nss_index_builder *b) {
        size_t n_members = b->members.n, ids_at = b->ids.n;
        if (n_members > UINT32_MAX - ids_at)
                return -E2BIG;
        int r;
        if ((r = vec_reserve(&b->ranges, b->groups.n)) < 0 || (r = vec_reserve(&b->ids, n_members)) < 0)
                return r;
        const struct nss_index_member *members = b->members.data;
        for (size_t m = 0; m < n_members; m++)
                AT(b->ids, uint32_t, ids_at + m) = members[m].user;
        b->ids.n += n_members;
        struct nss_index_group *groups = b->groups.data;
        for (size_t g = 0; g < b->groups.n; g++) {
                bool ordinary = groups[g].kind == NSS_INDEX_GROUP_ORDINARY;
                AT(b->ranges, struct nss_index_range, g) = ordinary ? groups[g].members : (struct nss_index_range) { 0, 0 };
                if (ordinary)
                        groups[g].members.first += (uint32_t) ids_at;
        }
        b->ranges.n = b->groups.n;
        return 0;
}

int nss_index_builder_finish(struct nss_index_builder *b, const struct nss_index_identity *id,
                             void **ret_data, size_t *ret_size) {
        struct layout l = { 0 };
        uint32_t *tables[6] = { 0 };
        char *data = NULL;
        int r;

        if (b->users.n >= UINT32_MAX || b->groups.n >= UINT32_MAX)
                return -E2BIG;
        if (b->users.n)
                qsort(b->users.data, b->users.n, sizeof(struct nss_index_user), cmp_user);
        if (b->groups.n)
                qsort(b->groups.data, b->groups.n, sizeof(struct nss_index_group), cmp_group);
        sort_unique(&b->superseded_users);
        sort_unique(&b->superseded_groups);
        if ((r = gather_strings(b)) < 0)
                return r;

        static const enum nss_index_section table_section[6] = {
                NSS_SECTION_USER_BY_NAME, NSS_SECTION_USER_BY_UID, NSS_SECTION_USER_BY_ROW,
                NSS_SECTION_GROUP_BY_NAME, NSS_SECTION_GROUP_BY_GID, NSS_SECTION_GROUP_BY_ROW,
        };
        uint64_t n_user_slots = table_slots(b->users.n), n_group_slots = table_slots(b->groups.n);
        for (size_t t = 0; t < 6; t++) {
                uint64_t n = t < 3 ? n_user_slots : n_group_slots;
                if (n && !(tables[t] = calloc(n, sizeof(uint32_t)))) {
                        r = -ENOMEM;
                        goto out;
                }
                l.count[table_section[t]] = n;
        }
        const struct nss_index_user *users = b->users.data;
        for (size_t u = 0; u < b->users.n; u++) {
                const char *name = (const char *) b->strings.data + users[u].name.offset;
                table_put(tables[0], n_user_slots, nss_index_hash_name(name, users[u].name.length), (uint32_t) u);
                table_put(tables[1], n_user_slots, nss_index_hash_id(users[u].uid), (uint32_t) u);
                table_put(tables[2], n_user_slots, nss_index_hash_id((uint64_t) users[u].row), (uint32_t) u);
        }
        /* Ordinary groups first: a metarole may share an ordinary group's name, and the group wins. */
        const struct nss_index_group *groups = b->groups.data;
        for (uint32_t kind = NSS_INDEX_GROUP_ORDINARY; kind <= NSS_INDEX_GROUP_METAROLE; kind++)
                for (size_t g = 0; g < b->groups.n; g++) {
                        if (groups[g].kind != kind)
                                continue;
                        const char *name = (const char *) b->strings.data + groups[g].name.offset;
                        table_put(tables[3], n_group_slots, nss_index_hash_name(name, groups[g].name.length), (uint32_t) g);
                        table_put(tables[4], n_group_slots, nss_index_hash_id(groups[g].gid), (uint32_t) g);
                        table_put(tables[5], n_group_slots,
                                  nss_index_hash_id(nss_index_group_row_key(groups[g].kind, groups[g].row)), (uint32_t) g);
                }
        if (id->kind == NSS_INDEX_BASE &&
            ((r = invert_memberships(b, tables[4], n_group_slots)) < 0 || (r = copy_member_names(b)) < 0 ||
             (r = list_members_twice(b)) < 0))
                goto out;
        if (id->kind == NSS_INDEX_DELTA)
                for (size_t g = 0; g < b->groups.n; g++)
                        AT(b->groups, struct nss_index_group, g).members = (struct nss_index_range) { 0, 0 };

        bool extension = id->kind == NSS_INDEX_BASE;
        const struct vec *vecs[NSS_N_FILE_SECTIONS] = {
                [NSS_SECTION_USERS] = &b->users, [NSS_SECTION_GROUPS] = &b->groups, [NSS_SECTION_IDS] = &b->ids,
                [NSS_SECTION_MEMBERSHIPS] = &b->memberships, [NSS_SECTION_GROUP_MEMBERS] = &b->members,
                [NSS_SECTION_MEMBER_RANGES] = &b->ranges, [NSS_SECTION_STRINGS] = &b->strings,
                [NSS_SECTION_SUPERSEDED_USERS] = &b->superseded_users,
                [NSS_SECTION_SUPERSEDED_GROUPS] = &b->superseded_groups,
        };
        for (size_t s = 0; s < NSS_N_FILE_SECTIONS; s++) {
                l.elem[s] = vecs[s] ? vecs[s]->elem : sizeof(uint32_t);
                if (vecs[s])
                        l.count[s] = vecs[s]->n;
        }
        if ((r = lay_out(&l, extension)) < 0)
                goto out;
        data = calloc(1, l.size);
        if (!data) {
                r = -ENOMEM;
                goto out;
        }
        struct nss_index_header *h = (struct nss_index_header *) (void *) data;
        memcpy(h->magic, NSS_INDEX_MAGIC, sizeof(h->magic));
        h->version = NSS_INDEX_VERSION;
        h->header_size = sizeof(*h);
        h->byte_order = NSS_INDEX_BYTE_ORDER;
        h->kind = id->kind;
        h->serial = id->serial;
        h->file_size = l.size;
        memcpy(h->base_id, id->base_id, sizeof(h->base_id));
        h->base_serial = id->base_serial;
        for (size_t s = 0; s < (extension ? NSS_N_FILE_SECTIONS : NSS_N_SECTIONS); s++) {
                if (s < NSS_N_SECTIONS)
                        h->sections[s] = (struct nss_index_section_ref) { l.offset[s], l.count[s] };
                const void *src = vecs[s] ? vecs[s]->data : NULL;
                for (size_t t = 0; t < 6; t++)
                        if (table_section[t] == s)
                                src = tables[t];
                if (l.count[s])
                        memcpy(data + l.offset[s], src, l.count[s] * l.elem[s]);
        }
        if (extension) {
                struct nss_index_extension e = {
                        .version = NSS_INDEX_EXTENSION_VERSION, .size = sizeof(e),
                        .ranges_offset = l.offset[NSS_SECTION_MEMBER_RANGES],
                        .members_offset = l.offset[NSS_SECTION_GROUP_MEMBERS],
                        .members_count = l.count[NSS_SECTION_GROUP_MEMBERS],
                };
                memcpy(e.magic, NSS_INDEX_EXTENSION_MAGIC, sizeof(e.magic));
                e.checksum = nss_index_checksum(&e, offsetof(struct nss_index_extension, checksum));
                memcpy(data + l.size - sizeof(e), &e, sizeof(e));
        }
        h->body_checksum = nss_index_checksum(data + sizeof(*h), l.size - sizeof(*h));
        h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
        *ret_data = data;
        *ret_size = l.size;
        data = NULL;
        r = 0;
out:
        free(data);
        for (size_t t = 0; t < 6; t++)
                free(tables[t]);
        return r;
}

struct nss_index_host_stamp nss_index_host_stamp_of(const struct roles_file_stamp *s) {
        return (struct nss_index_host_stamp) {
                .dev = (uint64_t) s->dev, .ino = (uint64_t) s->ino, .size = (uint64_t) s->size,
                .mtime_sec = (int64_t) s->mtime.tv_sec, .mtime_nsec = (uint32_t) s->mtime.tv_nsec,
                .ctime_sec = (int64_t) s->ctime.tv_sec, .ctime_nsec = (uint32_t) s->ctime.tv_nsec,
        };
}

int nss_index_add_host_verdict(void **data, size_t *size, uint32_t flags, const struct nss_index_host_stamp *passwd,
                               const struct nss_index_host_stamp *group) {
        struct nss_index_header *h = *data;
        struct nss_index_file f;
        struct nss_index_host_verdict hv = {
                .version = NSS_INDEX_HOST_VERSION, .size = sizeof(hv), .flags = flags & NSS_INDEX_HOST_CLEAR,
                .passwd = *passwd, .group = *group,
        };
        if (nss_index_file_check(*data, *size, false, &f) < 0 || h->kind != NSS_INDEX_DELTA || f.host_verdict ||
            *size % 8 != 0 || *size > SIZE_MAX - sizeof(hv))
                return -EINVAL;
        unsigned char *grown = realloc(*data, *size + sizeof(hv));
        if (!grown)
                return -ENOMEM;
        memcpy(hv.magic, NSS_INDEX_HOST_MAGIC, sizeof(hv.magic));
        hv.checksum = nss_index_checksum(&hv, offsetof(struct nss_index_host_verdict, checksum));
        memcpy(grown + *size, &hv, sizeof(hv));
        *size += sizeof(hv);
        h = (struct nss_index_header *) (void *) grown;
        h->file_size = *size;
        h->body_checksum = nss_index_checksum(grown + sizeof(*h), *size - sizeof(*h));
        h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
        *data = grown;
        return 0;
}
