/* SPDX-License-Identifier: MIT */
/*
 * The reader of roles.nss. Nothing read from the file is followed before it is checked: the
 * header and section extents when the file is mapped (file_check), then each record index
 * against its section's count, each string and list against its pool (text, range), each hash
 * probe bounded by the table's size. A check that fails leaves the record out (-EBADMSG) or ends
 * the walk; it never reads outside the mapping.
 */
#include "nss_index_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_accounts.h"
#include "util.h"

static const size_t section_elem[NSS_N_FILE_SECTIONS] = {
        [NSS_SECTION_USERS] = sizeof(struct nss_index_user),
        [NSS_SECTION_GROUPS] = sizeof(struct nss_index_group),
        [NSS_SECTION_USER_BY_NAME] = sizeof(uint32_t),
        [NSS_SECTION_USER_BY_UID] = sizeof(uint32_t),
        [NSS_SECTION_USER_BY_ROW] = sizeof(uint32_t),
        [NSS_SECTION_GROUP_BY_NAME] = sizeof(uint32_t),
        [NSS_SECTION_GROUP_BY_GID] = sizeof(uint32_t),
        [NSS_SECTION_GROUP_BY_ROW] = sizeof(uint32_t),
        [NSS_SECTION_IDS] = sizeof(uint32_t),
        [NSS_SECTION_MEMBERSHIPS] = sizeof(struct nss_index_membership),
        [NSS_SECTION_STRINGS] = 1,
        [NSS_SECTION_SUPERSEDED_USERS] = sizeof(uint32_t),
        [NSS_SECTION_SUPERSEDED_GROUPS] = sizeof(uint32_t),
        [NSS_SECTION_GROUP_MEMBERS] = sizeof(struct nss_index_member),
        [NSS_SECTION_MEMBER_RANGES] = sizeof(struct nss_index_range),
};

static bool is_table(size_t s) {
        return s >= NSS_SECTION_USER_BY_NAME && s <= NSS_SECTION_GROUP_BY_ROW;
}

/* An array of count elements of elem bytes at off: 8-aligned, within [from, to)? */
static bool extent_within(uint64_t off, uint64_t count, size_t elem, uint64_t from, uint64_t to) {
        return off % 8 == 0 && off >= from && off <= to && count <= (to - off) / elem && count <= UINT32_MAX;
}

/*
 * The member extension (nss_index.h), in f's last bytes when they lie after every section
 * (sections_end): 0 and f's GROUP_MEMBERS and MEMBER_RANGES set when there is one, 0 and none
 * when there is no trailer, -EBADMSG when a trailer fails a check.
 */
static int extension_check(struct nss_index_file *f, uint64_t sections_end) {
        struct nss_index_extension e;
        if (f->size < sections_end || f->size - sections_end < sizeof(e))
                return 0;
        uint64_t at = f->size - sizeof(e);
        memcpy(&e, f->data + at, sizeof(e));
        if (memcmp(e.magic, NSS_INDEX_EXTENSION_MAGIC, sizeof(e.magic)) != 0)
                return 0;
        uint64_t n_groups = f->n[NSS_SECTION_GROUPS];
        if (e.version != NSS_INDEX_EXTENSION_VERSION || e.size != sizeof(e) ||
            e.checksum != nss_index_checksum(&e, offsetof(struct nss_index_extension, checksum)) ||
            f->header->kind != NSS_INDEX_BASE ||
            !extent_within(e.ranges_offset, n_groups, sizeof(struct nss_index_range), sections_end, at) ||
            !extent_within(e.members_offset, e.members_count, sizeof(struct nss_index_member), sections_end, at))
                return -EBADMSG;
        f->offset[NSS_SECTION_MEMBER_RANGES] = e.ranges_offset;
        f->n[NSS_SECTION_MEMBER_RANGES] = n_groups;
        f->offset[NSS_SECTION_GROUP_MEMBERS] = e.members_offset;
        f->n[NSS_SECTION_GROUP_MEMBERS] = e.members_count;
        f->member_ranges = (const void *) (f->data + e.ranges_offset);
        f->members = (const void *) (f->data + e.members_offset);
        return 0;
}

/*
 * The host verdict (nss_index.h), in a delta's last bytes when they lie after every section: 0
 * and f's host_verdict set when there is one, 0 and none when there is no trailer, -EBADMSG
 * when a trailer fails a check.
 */
static int host_verdict_check(struct nss_index_file *f, uint64_t sections_end) {
        struct nss_index_host_verdict hv;
        if (f->header->kind != NSS_INDEX_DELTA || f->size < sections_end || f->size - sections_end < sizeof(hv))
                return 0;
        uint64_t at = f->size - sizeof(hv);
        memcpy(&hv, f->data + at, sizeof(hv));
        if (memcmp(hv.magic, NSS_INDEX_HOST_MAGIC, sizeof(hv.magic)) != 0)
                return 0;
        if (at % 8 != 0 || hv.version != NSS_INDEX_HOST_VERSION || hv.size != sizeof(hv) ||
            (hv.flags & ~(uint32_t) NSS_INDEX_HOST_CLEAR) != 0 || hv.reserved != 0 ||
            hv.checksum != nss_index_checksum(&hv, offsetof(struct nss_index_host_verdict, checksum)))
                return -EBADMSG;
        f->host_verdict = (const void *) (f->data + at);
        return 0;
}

int nss_index_file_check(const void *data, size_t size, bool check_body, struct nss_index_file *ret) {
        const struct nss_index_header *h = data;
        struct nss_index_file f = { .data = data, .size = size, .header = h };
        uint64_t sections_end = sizeof(*h);

        if (size < sizeof(*h) || ((uintptr_t) data & 7) != 0)
                return -EBADMSG;
        if (memcmp(h->magic, NSS_INDEX_MAGIC, sizeof(h->magic)) != 0 || h->version != NSS_INDEX_VERSION ||
            h->header_size != sizeof(*h) || h->byte_order != NSS_INDEX_BYTE_ORDER || h->file_size != size ||
            (h->kind != NSS_INDEX_BASE && h->kind != NSS_INDEX_DELTA) ||
            h->header_checksum != nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum)))
                return -EBADMSG;
        for (size_t s = 0; s < NSS_N_SECTIONS; s++) {
                uint64_t off = h->sections[s].offset, count = h->sections[s].count;
                if (!extent_within(off, count, section_elem[s], sizeof(*h), size))
                        return -EBADMSG;
                if (is_table(s) && (count & (count - 1)) != 0)  /* 0 or a power of two */
                        return -EBADMSG;
                f.offset[s] = off;
                f.n[s] = count;
                if (off + count * section_elem[s] > sections_end)
                        sections_end = off + count * section_elem[s];
        }
        for (size_t s = NSS_N_SECTIONS; s < NSS_N_FILE_SECTIONS; s++)
                f.offset[s] = sizeof(*h);       /* none unless the extension says: empty, inside the file */
        /* A base supersedes nothing; tables must be able to hold their records. */
        if (h->kind == NSS_INDEX_BASE && (f.n[NSS_SECTION_SUPERSEDED_USERS] || f.n[NSS_SECTION_SUPERSEDED_GROUPS]))
                return -EBADMSG;
        for (size_t s = NSS_SECTION_USER_BY_NAME; s <= NSS_SECTION_GROUP_BY_ROW; s++) {
                uint64_t records = f.n[s <= NSS_SECTION_USER_BY_ROW ? NSS_SECTION_USERS : NSS_SECTION_GROUPS];
                if (f.n[s] < records)
                        return -EBADMSG;
        }
        if (extension_check(&f, sections_end) < 0 || host_verdict_check(&f, sections_end) < 0)
                return -EBADMSG;
        if (check_body && h->body_checksum != nss_index_checksum((const char *) data + sizeof(*h), size - sizeof(*h)))
                return -EBADMSG;

        const unsigned char *base = data;
#define SECTION(s) ((const void *) (base + f.offset[s]))
        f.users = SECTION(NSS_SECTION_USERS);
        f.groups = SECTION(NSS_SECTION_GROUPS);
        for (size_t s = 0; s < NSS_N_SECTIONS; s++)
                f.tables[s] = is_table(s) ? SECTION(s) : NULL;
        f.ids = SECTION(NSS_SECTION_IDS);
        f.memberships = SECTION(NSS_SECTION_MEMBERSHIPS);
        f.strings = SECTION(NSS_SECTION_STRINGS);
        f.superseded_users = SECTION(NSS_SECTION_SUPERSEDED_USERS);
        f.superseded_groups = SECTION(NSS_SECTION_SUPERSEDED_GROUPS);
#undef SECTION
        *ret = f;
        return 0;
}

int nss_index_dir_trusted(const char *path) {
        /* Whoever could write the directory could put another index there. */
        int r = roles_parent_dir_trusted(path);
        return r < 0 && r != -ENOENT ? -EPERM : r;
}

int nss_index_map(const char *path, struct nss_index_file *ret, struct roles_file_stamp *ret_stamp) {
        int r = nss_index_dir_trusted(path);
        return r < 0 ? r : nss_index_map_in_trusted_dir(path, ret, ret_stamp);
}

int nss_index_map_in_trusted_dir(const char *path, struct nss_index_file *ret, struct roles_file_stamp *ret_stamp) {
        struct stat st;
        void *data = MAP_FAILED;
        int r;

        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        /* Whoever could write it could serve any account: only root (or, for tests and
         * unprivileged setups, this process's own user) may. */
        if (!S_ISREG(st.st_mode) || !roles_owner_and_mode_trusted(&st)) {
                r = -EPERM;
                goto out;
        }
        if (st.st_size < (off_t) sizeof(struct nss_index_header) || (uint64_t) st.st_size > SIZE_MAX) {
                r = -EBADMSG;
                goto out;
        }
        data = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (data == MAP_FAILED) {
                r = -errno;
                goto out;
        }
        r = nss_index_file_check(data, (size_t) st.st_size, false, ret);
        if (r < 0) {
                munmap(data, (size_t) st.st_size);
                goto out;
        }
        if (ret_stamp)
                *ret_stamp = roles_file_stamp_of(&st);
out:
        close(fd);
        return r;
}

void nss_index_unmap(struct nss_index_file *f) {
        if (f->data)
                munmap((void *) f->data, f->size);
        *f = (struct nss_index_file) { 0 };
}

void nss_index_drop_pages(const struct nss_index_file *f, uint32_t keep) {
        struct extent {
                size_t start, end;
        } kept[NSS_N_FILE_SECTIONS];
        size_t page = (size_t) sysconf(_SC_PAGESIZE), n = 0, at = 0;
        if (!f->data)
                return;
        /* The kept sections' pages (file_check checked every extent against the file), sorted by
         * where they start; the pages between them, and after the last, go. */
        for (size_t s = 0; s < NSS_N_FILE_SECTIONS; s++) {
                size_t offset = (size_t) f->offset[s], bytes = (size_t) f->n[s] * section_elem[s];
                if (!(keep & 1u << s) || bytes == 0)
                        continue;
                struct extent e = { offset / page * page, (offset + bytes + page - 1) / page * page };
                if (e.end > f->size)
                        e.end = f->size;
                size_t k = n++;
                for (; k > 0 && kept[k - 1].start > e.start; k--)
                        kept[k] = kept[k - 1];
                kept[k] = e;
        }
        for (size_t k = 0; k <= n; k++) {
                size_t start = k < n ? kept[k].start : f->size;
                if (start > at)
                        (void) madvise((void *) (f->data + at), start - at, MADV_DONTNEED);
                if (k < n && kept[k].end > at)
                        at = kept[k].end;
        }
}

bool nss_index_host_verdict_holds(const struct nss_index_view *v, const char *passwd, const char *group) {
        const struct nss_index_host_verdict *hv = v->has_delta ? v->delta.host_verdict : NULL;
        return hv && hv->flags == NSS_INDEX_HOST_CLEAR && nss_index_host_stamp_current(&hv->passwd, passwd) &&
               nss_index_host_stamp_current(&hv->group, group);
}

bool nss_index_host_stamp_current(const struct nss_index_host_stamp *s, const char *path) {
        struct roles_file_stamp fs = {
                .dev = (dev_t) s->dev, .ino = (ino_t) s->ino, .size = (off_t) s->size,
                .mtime = { (time_t) s->mtime_sec, (long) s->mtime_nsec },
                .ctime = { (time_t) s->ctime_sec, (long) s->ctime_nsec },
        };
        /* A stamp that this system's types cannot hold is no file's. */
        return fs.ino != 0 && (uint64_t) fs.dev == s->dev && (uint64_t) fs.ino == s->ino && fs.size >= 0 &&
               (uint64_t) fs.size == s->size && roles_file_stamp_current(path, &fs);
}

bool nss_index_delta_applies(const struct nss_index_file *base, const struct nss_index_file *delta) {
        return base->header && delta->header && base->header->kind == NSS_INDEX_BASE &&
               delta->header->kind == NSS_INDEX_DELTA &&
               memcmp(base->header->base_id, delta->header->base_id, sizeof(base->header->base_id)) == 0 &&
               delta->header->base_serial == base->header->serial;
}

uint64_t nss_index_view_serial(const struct nss_index_view *v) {
        return v->has_delta ? v->delta.header->serial : v->base.header ? v->base.header->serial : 0;
}

/* ---- records ---------------------------------------------------------------------------------- */

static bool text(const struct nss_index_file *f, struct nss_index_string s, struct nss_index_text *ret) {
        if (s.offset > f->n[NSS_SECTION_STRINGS] || s.length > f->n[NSS_SECTION_STRINGS] - s.offset)
                return false;
        *ret = (struct nss_index_text) { f->strings + s.offset, s.length };
        return true;
}

static bool range(struct nss_index_range r, uint64_t pool) {
        return r.first <= pool && r.count <= pool - r.first;
}

static int read_user(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t i,
                     struct nss_index_found_user *ret) {
        if (i >= f->n[NSS_SECTION_USERS])
                return -EBADMSG;
        const struct nss_index_user *u = &f->users[i];
        struct nss_index_found_user found = {
                .uid = u->uid, .gid = u->gid, .enabled = u->flags & NSS_INDEX_USER_ENABLED,
                .expires_at = u->expires_at, .file = f, .index = (uint32_t) i,
        };
        /* util.c's checks, the ones every row passed when it was written, on the bytes in place. */
        if (!text(f, u->name, &found.name) || !text(f, u->gecos, &found.gecos) || !text(f, u->home, &found.home) ||
            !text(f, u->shell, &found.shell) || !roles_name_valid_n(found.name.p, found.name.n) ||
            !roles_text_valid_n(found.gecos.p, found.gecos.n, ROLES_TEXT_MAX) ||
            !roles_path_valid_n(found.home.p, found.home.n) || !roles_path_valid_n(found.shell.p, found.shell.n) ||
            u->uid < v->limits.uid_min || u->uid > v->limits.uid_max || u->gid < v->limits.gid_min ||
            u->gid > v->limits.gid_max)
                return -EBADMSG;
        *ret = found;
        return 0;
}

static int read_group(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t i,
                      struct nss_index_found_group *ret) {
        if (i >= f->n[NSS_SECTION_GROUPS])
                return -EBADMSG;
        const struct nss_index_group *g = &f->groups[i];
        struct nss_index_found_group found = {
                .gid = g->gid, .kind = g->kind, .row = g->row, .file = f, .index = (uint32_t) i,
        };
        if (!text(f, g->name, &found.name) || !roles_name_valid_n(found.name.p, found.name.n) ||
            (g->kind != NSS_INDEX_GROUP_ORDINARY && g->kind != NSS_INDEX_GROUP_METAROLE) ||
            g->gid < v->limits.gid_min || g->gid > v->limits.gid_max)
                return -EBADMSG;
        *ret = found;
        return 0;
}

/* Binary search of a sorted list. */
static bool listed(const uint32_t *list, uint64_t n, uint32_t x) {
        uint64_t lo = 0, hi = n;
        while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (list[mid] == x)
                        return true;
                if (list[mid] < x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

static bool user_superseded(const struct nss_index_view *v, uint32_t base_index) {
        return v->has_delta && listed(v->delta.superseded_users, v->delta.n[NSS_SECTION_SUPERSEDED_USERS], base_index);
}

static bool group_superseded(const struct nss_index_view *v, uint32_t base_index) {
        return v->has_delta && listed(v->delta.superseded_groups, v->delta.n[NSS_SECTION_SUPERSEDED_GROUPS], base_index);
}

/* ---- hash lookups -------------------------------------------------------------------------------- */

enum key_kind { KEY_NAME, KEY_ID };

struct key {
        enum key_kind kind;
        const char *name;
        size_t n;
        uint64_t id;
};

static bool user_matches(const struct nss_index_file *f, uint64_t i, enum nss_index_section table, const struct key *k) {
        const struct nss_index_user *u = &f->users[i];
        struct nss_index_text t;
        switch (table) {
        case NSS_SECTION_USER_BY_NAME:
                return text(f, u->name, &t) && t.n == k->n && memcmp(t.p, k->name, k->n) == 0;
        case NSS_SECTION_USER_BY_UID:
                return u->uid == k->id;
        default:
                return (uint64_t) u->row == k->id;
        }
}

static bool group_matches(const struct nss_index_file *f, uint64_t i, enum nss_index_section table, const struct key *k) {
        const struct nss_index_group *g = &f->groups[i];
        struct nss_index_text t;
        switch (table) {
        case NSS_SECTION_GROUP_BY_NAME:
                return text(f, g->name, &t) && t.n == k->n && memcmp(t.p, k->name, k->n) == 0;
        case NSS_SECTION_GROUP_BY_GID:
                return g->gid == k->id;
        default:
                return nss_index_group_row_key(g->kind, g->row) == k->id;
        }
}

/* The record index the table holds for key, or -1. At most every slot once. */
static int64_t probe(const struct nss_index_file *f, enum nss_index_section table, const struct key *k) {
        bool users = table <= NSS_SECTION_USER_BY_ROW;
        uint64_t n_slots = f->n[table], records = f->n[users ? NSS_SECTION_USERS : NSS_SECTION_GROUPS];
        if (n_slots == 0)
                return -1;
        uint64_t mask = n_slots - 1;
        uint64_t at = (k->kind == KEY_NAME ? nss_index_hash_name(k->name, k->n) : nss_index_hash_id(k->id)) & mask;
        for (uint64_t step = 0; step < n_slots; step++, at = (at + 1) & mask) {
                uint32_t slot = f->tables[table][at];
                if (slot == 0)
                        return -1;
                if (slot - 1 >= records)
                        continue;       /* damaged: not a record */
                if (users ? user_matches(f, slot - 1, table, k) : group_matches(f, slot - 1, table, k))
                        return slot - 1;
        }
        return -1;
}

static int find_user(const struct nss_index_view *v, enum nss_index_section table, const struct key *k,
                     struct nss_index_found_user *ret) {
        int64_t i;
        if (v->has_delta && (i = probe(&v->delta, table, k)) >= 0)
                return read_user(v, &v->delta, (uint64_t) i, ret);
        if (!v->base.header || (i = probe(&v->base, table, k)) < 0 || user_superseded(v, (uint32_t) i))
                return -ENOENT;
        return read_user(v, &v->base, (uint64_t) i, ret);
}

static int find_group(const struct nss_index_view *v, enum nss_index_section table, const struct key *k,
                      struct nss_index_found_group *ret) {
        int64_t i;
        if (v->has_delta && (i = probe(&v->delta, table, k)) >= 0)
                return read_group(v, &v->delta, (uint64_t) i, ret);
        if (!v->base.header || (i = probe(&v->base, table, k)) < 0 || group_superseded(v, (uint32_t) i))
                return -ENOENT;
        return read_group(v, &v->base, (uint64_t) i, ret);
}

int nss_index_user_by_name(const struct nss_index_view *v, const char *name, size_t n, struct nss_index_found_user *ret) {
        struct key k = { KEY_NAME, name, n, 0 };
        return find_user(v, NSS_SECTION_USER_BY_NAME, &k, ret);
}

int nss_index_user_by_uid(const struct nss_index_view *v, uint32_t uid, struct nss_index_found_user *ret) {
        struct key k = { KEY_ID, NULL, 0, uid };
        return find_user(v, NSS_SECTION_USER_BY_UID, &k, ret);
}

int nss_index_group_by_name(const struct nss_index_view *v, const char *name, size_t n, struct nss_index_found_group *ret) {
        struct key k = { KEY_NAME, name, n, 0 };
        return find_group(v, NSS_SECTION_GROUP_BY_NAME, &k, ret);
}

int nss_index_group_by_gid(const struct nss_index_view *v, uint32_t gid, struct nss_index_found_group *ret) {
        struct key k = { KEY_ID, NULL, 0, gid };
        return find_group(v, NSS_SECTION_GROUP_BY_GID, &k, ret);
}

/* The id at position i of a list in the pool its kind uses: a metarole group's (or user's) in
 * MEMBERSHIPS, with the grant's end; an ordinary one's in IDS. i is checked by the caller. */
static uint32_t list_id(const struct nss_index_file *f, bool metarole, uint64_t i, int64_t *ret_until) {
        if (ret_until)
                *ret_until = metarole ? f->memberships[i].until : 0;
        return metarole ? f->memberships[i].id : f->ids[i];
}

/*
 * A base group's members named by user index (a metarole group's; every group's without the extension) are
 * in no order that helps the cache: each costs a miss on its record and then one on its name,
 * and taken one after the other those misses were most of an enumeration's time (a group of 30:
 * 60 misses in a row, ~150 ns each here; what the extension's lists in place are for). So the walk asks
 * for a batch's records, then for their names, before it checks the first of them: the misses
 * overlap. Only what was checked against its section is prefetched (a prefetch never faults, but
 * nothing unchecked is followed). Always inlined: GCC 12 takes a function that only prefetches
 * for one without effects and drops its calls.
 */
#define MEMBER_BATCH 16

static inline __attribute__((always_inline)) void prefetch_records(const struct nss_index_file *f, bool metarole,
                                                                   uint64_t first, uint32_t n) {
        for (uint32_t k = 0; k < n; k++) {
                uint32_t user = list_id(f, metarole, first + k, NULL);
                if (user < f->n[NSS_SECTION_USERS])
                        __builtin_prefetch(&f->users[user]);
        }
}

static inline __attribute__((always_inline)) void prefetch_names(const struct nss_index_file *f, bool metarole,
                                                                 uint64_t first, uint32_t n) {
        for (uint32_t k = 0; k < n; k++) {
                uint32_t user = list_id(f, metarole, first + k, NULL);
                struct nss_index_text name;
                if (user < f->n[NSS_SECTION_USERS] && text(f, f->users[user].name, &name) && name.n > 0)
                        __builtin_prefetch(name.p);
        }
}

static inline __attribute__((always_inline)) void prefetch_members(const struct nss_index_file *f, bool metarole,
                                                                   uint64_t first, uint32_t n) {
        prefetch_records(f, metarole, first, n);
        prefetch_names(f, metarole, first, n);
}

/* Does a base group's list name its members by user index (a metarole group's, and every list
 * of a base without the member extension), rather than carry them (an ordinary group's, in the
 * extension)? */
static bool lists_users(const struct nss_index_file *f, const struct nss_index_group *g) {
        return g->kind == NSS_INDEX_GROUP_METAROLE || !f->member_ranges;
}

/* An enumeration serves a group a call, and glibc's and its caller's work come in between: time
 * for memory to answer. So each call asks for what the next two walks read first: the names of
 * the next group's members (whose records the call before asked for), and the records of the
 * members of the group after it. */
static inline __attribute__((always_inline)) void prefetch_ahead(const struct nss_index_file *f, uint64_t pos) {
        for (uint64_t ahead = 1; ahead <= 2; ahead++) {
                if (pos + ahead >= f->n[NSS_SECTION_GROUPS])
                        return;
                const struct nss_index_group *g = &f->groups[pos + ahead];
                bool metarole = g->kind == NSS_INDEX_GROUP_METAROLE;
                if (!lists_users(f, g) || !range(g->members, f->n[metarole ? NSS_SECTION_MEMBERSHIPS : NSS_SECTION_IDS]))
                        continue;       /* (a list of members in place is read in order: nothing to ask for) */
                uint32_t n = g->members.count < 2 * MEMBER_BATCH ? g->members.count : 2 * MEMBER_BATCH;
                if (ahead == 1)
                        prefetch_names(f, metarole, g->members.first, n);
                else
                        prefetch_records(f, metarole, g->members.first, n);
        }
}

/* ---- enumeration ----------------------------------------------------------------------------------- */

static uint32_t user_id_at(const struct nss_index_file *f, uint64_t i) {
        return f->users[i].uid;
}

static uint32_t group_id_at(const struct nss_index_file *f, uint64_t i) {
        return f->groups[i].gid;
}

/* The first position at or after which ids exceed after, starting from the hint when it is
 * right (the usual case: the previous call's position), else by binary search. */
static inline __attribute__((always_inline)) uint64_t position_after(const struct nss_index_file *f, uint64_t n, uint32_t (*id_at)(const struct nss_index_file *, uint64_t),
                               int64_t after, uint64_t hint) {
        if (after < 0)
                return 0;
        /* The hint is where the previous call stopped: usually the entry it served, so the answer
         * is the next one. */
        for (uint64_t at = hint; at <= hint + 1 && at <= n; at++)
                if ((at == 0 || id_at(f, at - 1) <= after) && (at == n || id_at(f, at) > after))
                        return at;
        uint64_t lo = 0, hi = n;
        while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (id_at(f, mid) <= after)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Which side holds the next record: the base (skipping what the delta supersedes) or the
 * delta. 0 and *ret_file, *ret_pos; -ENOENT at the end. */
static inline __attribute__((always_inline)) int next_record(const struct nss_index_view *v, bool users, int64_t after, struct nss_index_hint *hint,
                       const struct nss_index_file **ret_file, uint64_t *ret_pos) {
        enum nss_index_section s = users ? NSS_SECTION_USERS : NSS_SECTION_GROUPS;
        uint32_t (*id_at)(const struct nss_index_file *, uint64_t) = users ? user_id_at : group_id_at;
        uint64_t b = UINT64_MAX, d = UINT64_MAX;
        if (v->base.header) {
                uint64_t n = v->base.n[s];
                b = position_after(&v->base, n, id_at, after, hint->base);
                /* (id <= after only in a file out of order: skipped, so every call moves forward) */
                while (b < n && ((int64_t) id_at(&v->base, b) <= after ||
                                 (users ? user_superseded(v, (uint32_t) b) : group_superseded(v, (uint32_t) b))))
                        b++;
                hint->base = b;
                if (b == n)
                        b = UINT64_MAX;
        }
        if (v->has_delta) {
                uint64_t n = v->delta.n[s];
                d = position_after(&v->delta, n, id_at, after, hint->delta);
                while (d < n && (int64_t) id_at(&v->delta, d) <= after)
                        d++;
                hint->delta = d;
                if (d == n)
                        d = UINT64_MAX;
        }
        if (b == UINT64_MAX && d == UINT64_MAX)
                return -ENOENT;
        if (d == UINT64_MAX || (b != UINT64_MAX && id_at(&v->base, b) <= id_at(&v->delta, d))) {
                *ret_file = &v->base;
                *ret_pos = b;
        } else {
                *ret_file = &v->delta;
                *ret_pos = d;
        }
        return 0;
}

int nss_index_next_user(const struct nss_index_view *v, int64_t after, struct nss_index_hint *hint,
                        struct nss_index_found_user *ret, uint32_t *ret_id) {
        const struct nss_index_file *f;
        uint64_t pos;
        int r = next_record(v, true, after, hint, &f, &pos);
        if (r < 0)
                return r;
        *ret_id = f->users[pos].uid;
        return read_user(v, f, pos, ret);
}

int nss_index_next_group(const struct nss_index_view *v, int64_t after, struct nss_index_hint *hint,
                         struct nss_index_found_group *ret, uint32_t *ret_id) {
        const struct nss_index_file *f;
        uint64_t pos;
        int r = next_record(v, false, after, hint, &f, &pos);
        if (r < 0)
                return r;
        *ret_id = f->groups[pos].gid;
        if (f == &v->base)
                prefetch_ahead(f, pos);
        return read_group(v, f, pos, ret);
}

/* ---- memberships ------------------------------------------------------------------------------------ */

/* The one rule for "active" in the index: enabled, and not expired at now. */
static bool active(bool enabled, int64_t expires_at, time_t now) {
        return enabled && (expires_at == 0 || expires_at > now);
}

bool nss_index_user_active(const struct nss_index_found_user *u, time_t now) {
        return active(u->enabled, u->expires_at, now);
}

static bool grant_current(int64_t until, time_t now) {
        return until == 0 || until > now;
}

/* Whether a member may be named, whatever the clock says: only as a user that is served (a
 * valid name, ids in the ranges; its name is all a member list needs, so the only text
 * checked), and never under a name the host's passwd holds. */
static bool member_judged(const struct nss_index_view *v, struct nss_index_text name, uint32_t uid, uint32_t gid) {
        return roles_name_valid_n(name.p, name.n) && uid >= v->limits.uid_min && uid <= v->limits.uid_max &&
               gid >= v->limits.gid_min && gid <= v->limits.gid_max &&
               !(v->member_host && host_accounts_has_user_n(v->member_host, name.p, name.n));
}

/* The same for a user, by its record. */
static bool member_servable(const struct nss_index_view *v, const struct nss_index_file *f, const struct nss_index_user *u,
                            struct nss_index_text *ret_name) {
        return text(f, u->name, ret_name) && member_judged(v, *ret_name, u->uid, u->gid);
}

/* The view's memo of unit i (nss_index_read.h): its two bits, or NULL when it keeps none. */
static uint64_t *memo_word(const struct nss_index_view *v, uint64_t i, unsigned *ret_shift) {
        if (i / 32 >= v->member_memo.n_words)
                return NULL;
        *ret_shift = (unsigned) (i % 32) * 2;
        return &v->member_memo.words[i / 32];
}

/* The same through the view's memo, for the users of a base without the extension: judged once, then remembered. */
static bool member_servable_memo(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t user,
                                 struct nss_index_text *ret_name) {
        const struct nss_index_user *u = &f->users[user];
        unsigned shift;
        uint64_t *word = f == &v->base && !f->member_ranges ? memo_word(v, user, &shift) : NULL;
        if (!word)
                return member_servable(v, f, u, ret_name);
        if (*word >> shift & 1)
                return (*word >> shift & 2) && text(f, u->name, ret_name);
        bool ok = member_servable(v, f, u, ret_name);
        *word |= (uint64_t) (ok ? 3 : 1) << shift;
        return ok;
}

/* A member, given by its user record, and for a metarole group only if the user is active and
 * holds it now. */
static int give_member(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t user, int64_t until,
                       bool metarole, time_t now, nss_index_name_fn fn, void *userdata) {
        struct nss_index_text name;
        if (user >= f->n[NSS_SECTION_USERS] || !member_servable_memo(v, f, user, &name))
                return 0;
        const struct nss_index_user *u = &f->users[user];
        if (metarole && !(grant_current(until, now) && active(u->flags & NSS_INDEX_USER_ENABLED, u->expires_at, now)))
                return 0;
        return fn(userdata, name.p, name.n);
}

/* The base record whose members g's are: g itself in the base, else the base's group with
 * g's gid, kind and row. NULL when there is none. */
static const struct nss_index_group *base_record(const struct nss_index_view *v, const struct nss_index_found_group *g) {
        if (g->file == &v->base)
                return &v->base.groups[g->index];
        if (!v->base.header)
                return NULL;
        struct key k = { KEY_ID, NULL, 0, g->gid };
        int64_t i = probe(&v->base, NSS_SECTION_GROUP_BY_GID, &k);
        if (i < 0 || v->base.groups[i].kind != g->kind || v->base.groups[i].row != g->row)
                return NULL;
        return &v->base.groups[i];
}

/*
 * An ordinary group's members in a base's member extension: each entry carries what judging and serving
 * it takes (its ids, a copy of its name laid out after the previous member's), so the walk reads
 * the list and the names in order and never a user's record.
 */
static int carried_members(const struct nss_index_view *v, const struct nss_index_group *b, nss_index_name_fn fn,
                           void *userdata) {
        const struct nss_index_file *f = &v->base;
        int r;
        /* (b is one of the base's groups, and the ranges are one per group: file_check) */
        struct nss_index_range list = f->member_ranges[b - f->groups];
        if (!range(list, f->n[NSS_SECTION_GROUP_MEMBERS]))
                return 0;       /* damaged: no members rather than someone else's */
        for (uint32_t k = 0; k < list.count; k++) {
                const struct nss_index_member *m = &f->members[(uint64_t) list.first + k];
                struct nss_index_text name;
                if (m->user >= f->n[NSS_SECTION_USERS] || user_superseded(v, m->user) || !text(f, m->name, &name))
                        continue;
                /* The memo holds the judgement of this entry, the bytes served: */
                unsigned shift;
                uint64_t *word = memo_word(v, (uint64_t) list.first + k, &shift);
                if (word && (*word >> shift & 1)) {
                        if (!(*word >> shift & 2))
                                continue;
                } else {
                        bool ok = member_judged(v, name, m->uid, m->gid);
                        if (word)
                                *word |= (uint64_t) (ok ? 3 : 1) << shift;
                        if (!ok)
                                continue;
                }
                if ((r = fn(userdata, name.p, name.n)) != 0)
                        return r;
        }
        return 0;
}

int nss_index_members_check(const struct nss_index_file *f) {
        for (uint64_t i = 0; f->members && i < f->n[NSS_SECTION_GROUP_MEMBERS]; i++) {
                const struct nss_index_member *m = &f->members[i];
                struct nss_index_text copy, name;
                if (m->user >= f->n[NSS_SECTION_USERS])
                        return -EBADMSG;
                const struct nss_index_user *u = &f->users[m->user];
                if (m->uid != u->uid || m->gid != u->gid || !text(f, m->name, &copy) || !text(f, u->name, &name) ||
                    copy.n != name.n || memcmp(copy.p, name.p, name.n) != 0)
                        return -EBADMSG;
        }
        return 0;
}

int nss_index_group_members(const struct nss_index_view *v, const struct nss_index_found_group *g, time_t now,
                            nss_index_name_fn fn, void *userdata) {
        bool metarole = g->kind == NSS_INDEX_GROUP_METAROLE;
        const struct nss_index_group *b = base_record(v, g);
        int r;

        if (b && !lists_users(&v->base, b)) {
                if ((r = carried_members(v, b, fn, userdata)) != 0)
                        return r;
        } else if (b) {
                const struct nss_index_file *f = &v->base;
                if (!range(b->members, f->n[metarole ? NSS_SECTION_MEMBERSHIPS : NSS_SECTION_IDS]))
                        return 0;       /* damaged: no members rather than someone else's */
                for (uint32_t k = 0; k < b->members.count; k++) {
                        if (k % MEMBER_BATCH == 0)
                                prefetch_members(f, metarole, (uint64_t) b->members.first + k,
                                                 b->members.count - k < MEMBER_BATCH ? b->members.count - k : MEMBER_BATCH);
                        int64_t until;
                        uint32_t user = list_id(f, metarole, (uint64_t) b->members.first + k, &until);
                        if (user_superseded(v, user))
                                continue;
                        if ((r = give_member(v, f, user, until, metarole, now, fn, userdata)) != 0)
                                return r;
                }
        }
        if (!v->has_delta)
                return 0;
        /* The delta's users list their own groups. */
        const struct nss_index_file *f = &v->delta;
        for (uint64_t i = 0; i < f->n[NSS_SECTION_USERS]; i++) {
                const struct nss_index_user *u = &f->users[i];
                struct nss_index_range list = metarole ? u->metaroles : u->groups;
                if (!range(list, f->n[metarole ? NSS_SECTION_MEMBERSHIPS : NSS_SECTION_IDS]))
                        continue;
                for (uint32_t k = 0; k < list.count; k++) {
                        int64_t until;
                        if (list_id(f, metarole, (uint64_t) list.first + k, &until) != g->gid)
                                continue;
                        if ((r = give_member(v, f, i, until, metarole, now, fn, userdata)) != 0)
                                return r;
                        break;
                }
        }
        return 0;
}

int nss_index_user_gids(const struct nss_index_view *v, const struct nss_index_found_user *u, time_t now,
                        nss_index_gid_fn fn, void *userdata) {
        const struct nss_index_file *f = u->file;
        const struct nss_index_user *rec = &f->users[u->index];
        int r;

        if (range(rec->groups, f->n[NSS_SECTION_IDS]))
                for (uint32_t k = 0; k < rec->groups.count; k++) {
                        uint32_t gid = f->ids[rec->groups.first + k];
                        if (gid >= v->limits.gid_min && gid <= v->limits.gid_max && (r = fn(userdata, gid)) != 0)
                                return r;
                }
        if (!nss_index_user_active(u, now) || !range(rec->metaroles, f->n[NSS_SECTION_MEMBERSHIPS]))
                return 0;
        for (uint32_t k = 0; k < rec->metaroles.count; k++) {
                const struct nss_index_membership *m = &f->memberships[rec->metaroles.first + k];
                if (grant_current(m->until, now) && m->id >= v->limits.gid_min && m->id <= v->limits.gid_max &&
                    (r = fn(userdata, m->id)) != 0)
                        return r;
        }
        return 0;
}

int nss_index_user_at(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t i,
                      struct nss_index_found_user *ret) {
        return read_user(v, f, i, ret);
}

int nss_index_group_at(const struct nss_index_view *v, const struct nss_index_file *f, uint64_t i,
                       struct nss_index_found_group *ret) {
        return read_group(v, f, i, ret);
}

int64_t nss_index_user_by_row(const struct nss_index_file *f, int64_t row) {
        struct key k = { KEY_ID, NULL, 0, (uint64_t) row };
        return probe(f, NSS_SECTION_USER_BY_ROW, &k);
}

int64_t nss_index_group_by_row(const struct nss_index_file *f, uint32_t kind, int64_t row) {
        struct key k = { KEY_ID, NULL, 0, nss_index_group_row_key(kind, row) };
        return probe(f, NSS_SECTION_GROUP_BY_ROW, &k);
}
