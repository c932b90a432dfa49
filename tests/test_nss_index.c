/* SPDX-License-Identifier: MIT */
/*
 * roles.nss without a database: files compiled by the builder, read by the reader. An ordinary
 * group's members as the member extension carries them (their ids and a copy of their names,
 * judged and served from the list alone), a damaged list, a damaged trailer, a file without the
 * extension (an older writer's) read with the same answers, and every file the builder writes
 * accepted by the previous release's reader, with the same members in IDS.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_accounts.h"
#include "index_edits.h"
#include "nss_index_build.h"
#include "nss_index_read.h"

#define NOW 1000000

/* alice, bob, carol, dave in devs (gid 2000); bob in ops (2001); carol holds the metarole
 * group pub (2002) until NOW + 100; erin (uid 5) is outside the ranges, and in devs too. */
static void *build(enum nss_index_kind kind, size_t *ret_size) {
        static const uint32_t devs[] = { 2000 }, devs_ops[] = { 2000, 2001 };
        static const struct nss_index_membership pub[] = { { .id = 2002, .until = NOW + 100 } };
        const struct nss_index_build_user users[] = {
                { "alice", "", "/home/alice", "/bin/sh", 1000, 1000, true, 0, 1, devs, 1, NULL, 0 },
                { "bob", "", "/home/bob", "/bin/sh", 1001, 1001, true, 0, 2, devs_ops, 2, NULL, 0 },
                { "carol", "", "/home/carol", "/bin/sh", 1002, 1002, true, 0, 3, devs, 1, pub, 1 },
                { "dave", "", "/home/dave", "/bin/sh", 1003, 1003, true, 0, 4, devs, 1, NULL, 0 },
                { "erin", "", "/home/erin", "/bin/sh", 5, 1004, true, 0, 5, devs, 1, NULL, 0 },
        };
        const struct nss_index_build_group groups[] = {
                { "devs", 2000, NSS_INDEX_GROUP_ORDINARY, 1 },
                { "ops", 2001, NSS_INDEX_GROUP_ORDINARY, 2 },
                { "pub", 2002, NSS_INDEX_GROUP_METAROLE, 1 },
        };
        struct nss_index_identity id = { .kind = kind, .serial = 7, .base_id = { 1, 2, 3 }, .base_serial = 7 };
        struct nss_index_builder *b = NULL;
        void *data = NULL;
        assert_int_equal(nss_index_builder_new(&b), 0);
        for (size_t i = 0; kind == NSS_INDEX_BASE && i < sizeof(users) / sizeof(users[0]); i++)
                assert_int_equal(nss_index_builder_add_user(b, &users[i]), 1);
        for (size_t i = 0; kind == NSS_INDEX_BASE && i < sizeof(groups) / sizeof(groups[0]); i++)
                assert_int_equal(nss_index_builder_add_group(b, &groups[i]), 1);
        if (kind == NSS_INDEX_DELTA) {
                /* dave leaves devs (his base record superseded, a new one in no group); frank joins. */
                const struct nss_index_build_user changed[] = {
                        { "dave", "", "/home/dave", "/bin/sh", 1003, 1003, true, 0, 4, NULL, 0, NULL, 0 },
                        { "frank", "", "/home/frank", "/bin/sh", 1005, 1005, true, 0, 6, devs, 1, NULL, 0 },
                };
                for (size_t i = 0; i < 2; i++)
                        assert_int_equal(nss_index_builder_add_user(b, &changed[i]), 1);
                assert_int_equal(nss_index_builder_supersede_user(b, 4), 0);   /* dave: the base's fifth by uid */
                id.serial = 8;
        }
        assert_int_equal(nss_index_builder_finish(b, &id, &data, ret_size), 0);
        nss_index_builder_free(b);
        return data;
}

static struct nss_index_view view_of(void *base, size_t size) {
        struct nss_index_view v = { .limits = { 1000, 60000, 1000, 60000 } };
        assert_int_equal(nss_index_file_check(base, size, true, &v.base), 0);
        return v;
}

static int add_name(void *userdata, const char *name, size_t n) {
        char *list = userdata;
        size_t at = strlen(list);
        assert_true(at + n + 2 < 256);
        if (at)
                list[at++] = ',';
        memcpy(list + at, name, n);
        list[at + n] = '\0';
        return 0;
}

/* The members of the group with this gid, "a,b,c"; "-" when there is no such group. */
static const char *members(const struct nss_index_view *v, uint32_t gid) {
        static char list[256];
        struct nss_index_found_group g;
        list[0] = '\0';
        if (nss_index_group_by_gid(v, gid, &g) < 0)
                return "-";
        assert_int_equal(nss_index_group_members(v, &g, NOW, add_name, list), 0);
        return list;
}

/* The base's member entry of devs for the user with this name. */
static struct nss_index_member *entry(struct nss_index_view *v, const char *name) {
        struct nss_index_found_group g;
        assert_int_equal(nss_index_group_by_gid(v, 2000, &g), 0);
        const struct nss_index_range list = v->base.member_ranges[g.index];
        for (uint32_t k = 0; k < list.count; k++) {
                struct nss_index_member *m = (struct nss_index_member *) &v->base.members[list.first + k];
                if (m->name.length == strlen(name) && memcmp(v->base.strings + m->name.offset, name, m->name.length) == 0)
                        return m;
        }
        fail_msg("no entry for %s", name);
        return NULL;
}

static void test_members_carried(void **state) {
        (void) state;
        size_t size;
        void *data = build(NSS_INDEX_BASE, &size);
        struct nss_index_view v = view_of(data, size);
        assert_non_null(v.base.member_ranges);
        assert_int_equal(v.base.n[NSS_SECTION_MEMBER_RANGES], 3);
        /* devs has five entries (erin's too: the ranges are the reader's), ops one. */
        assert_int_equal(v.base.n[NSS_SECTION_GROUP_MEMBERS], 6);
        assert_string_equal(members(&v, 2000), "alice,bob,carol,dave");
        assert_string_equal(members(&v, 2001), "bob");
        assert_string_equal(members(&v, 2002), "carol");
        /* Copies, one run of bytes for the group, none of them the user's own name. */
        struct nss_index_member *alice = entry(&v, "alice"), *bob = entry(&v, "bob");
        struct nss_index_found_user u;
        assert_int_equal(nss_index_user_by_name(&v, "alice", 5, &u), 0);
        assert_ptr_not_equal(v.base.strings + alice->name.offset, u.name.p);
        assert_int_equal(bob->name.offset, alice->name.offset + alice->name.length);
        assert_int_equal(alice->uid, 1000);
        assert_int_equal(alice->gid, 1000);
        assert_int_equal(alice->user, u.index);

        /* What is served is what the entry says, judged from it alone: bob's copy made invalid
         * leaves bob out of devs (his own record, and ops, still serve him); dave's entry with a
         * uid outside the range leaves him out. */
        ((char *) v.base.strings)[bob->name.offset] = 'B';
        entry(&v, "dave")->uid = 5;
        assert_string_equal(members(&v, 2000), "alice,carol");
        assert_string_equal(members(&v, 2001), "bob");
        assert_int_equal(nss_index_user_by_name(&v, "bob", 3, &u), 0);
        free(data);
}

static void test_host_member_left_out(void **state) {
        (void) state;
        char dir[] = "/tmp/test_nss_index.XXXXXX", passwd[64], group[64];
        assert_non_null(mkdtemp(dir));
        snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
        snprintf(group, sizeof(group), "%s/group", dir);
        FILE *f = fopen(passwd, "we");
        assert_non_null(f);
        fputs("root:x:0:0::/root:/bin/sh\ncarol:x:900:900::/:/bin/sh\n", f);
        assert_int_equal(fclose(f), 0);
        assert_non_null(f = fopen(group, "we"));
        assert_int_equal(fclose(f), 0);
        struct host_accounts host;
        host_accounts_init(&host, &(struct host_paths) { passwd, group, NULL, NULL, NULL });
        assert_int_equal(host_accounts_refresh(&host), 0);

        size_t size;
        void *data = build(NSS_INDEX_BASE, &size);
        struct nss_index_view v = view_of(data, size);
        v.member_host = &host;
        assert_string_equal(members(&v, 2000), "alice,bob,dave");
        assert_string_equal(members(&v, 2002), "");
        host_accounts_done(&host);
        free(data);
        unlink(passwd);
        unlink(group);
        rmdir(dir);
}

static void test_damaged_members(void **state) {
        (void) state;
        size_t size;
        void *data = build(NSS_INDEX_BASE, &size);
        struct nss_index_view v = view_of(data, size);
        struct nss_index_found_group g;
        assert_int_equal(nss_index_group_by_gid(&v, 2000, &g), 0);
        struct nss_index_range *devs = (struct nss_index_range *) &v.base.member_ranges[g.index];
        struct nss_index_range good = *devs;
        /* A range past the list, or running off its end: no members. */
        *devs = (struct nss_index_range) { 7, 0 };
        assert_string_equal(members(&v, 2000), "");
        *devs = (struct nss_index_range) { good.first + 2, UINT32_MAX };
        assert_string_equal(members(&v, 2000), "");
        *devs = (struct nss_index_range) { UINT32_MAX, 2 };
        assert_string_equal(members(&v, 2000), "");
        *devs = good;
        /* An entry whose name lies outside STRINGS, or names no user: that member left out. */
        struct nss_index_member *bob = entry(&v, "bob"), *carol = entry(&v, "carol");
        bob->name.offset = (uint32_t) v.base.n[NSS_SECTION_STRINGS] - 1;
        carol->user = (uint32_t) v.base.n[NSS_SECTION_USERS];
        assert_string_equal(members(&v, 2000), "alice,dave");
        bob->name.length = UINT32_MAX;
        bob->name.offset = 1;
        assert_string_equal(members(&v, 2000), "alice,dave");
        free(data);
}

/* The view's memo keeps a judgement for each member entry, the bytes it serves: the same
 * answers through it, and bob's entry in ops judged apart from his entry in devs. */
static void test_memo_by_entry(void **state) {
        (void) state;
        size_t size;
        void *data = build(NSS_INDEX_BASE, &size);
        struct nss_index_view v = view_of(data, size);
        uint64_t words[1] = { 0 };
        v.member_memo = (struct nss_index_member_memo) { words, 1 };
        assert_string_equal(members(&v, 2000), "alice,bob,carol,dave");
        assert_string_equal(members(&v, 2001), "bob");
        assert_int_not_equal(words[0], 0);
        assert_string_equal(members(&v, 2000), "alice,bob,carol,dave");
        /* ops' bob is an entry of its own: made invalid, that one is judged on its own. */
        struct nss_index_found_group g;
        assert_int_equal(nss_index_group_by_gid(&v, 2001, &g), 0);
        const struct nss_index_member *ops_bob = &v.base.members[v.base.member_ranges[g.index].first];
        words[0] = 0;
        ((char *) v.base.strings)[ops_bob->name.offset] = '-';
        assert_string_equal(members(&v, 2001), "");
        assert_string_equal(members(&v, 2000), "alice,bob,carol,dave");
        free(data);
}

/* Every answer the view gives, as text. */
static void describe(const struct nss_index_view *v, char *out, size_t size) {
        struct nss_index_hint hint = { 0, 0 };
        struct nss_index_found_group g;
        struct nss_index_found_user u;
        uint32_t id;
        size_t at = 0;
        int r;
        out[0] = '\0';
        for (int64_t after = -1; (r = nss_index_next_user(v, after, &hint, &u, &id)) != -ENOENT; after = id)
                if (r == 0)
                        at += (size_t) snprintf(out + at, size - at, "%.*s:%u ", (int) u.name.n, u.name.p, u.uid);
        hint = (struct nss_index_hint) { 0, 0 };
        for (int64_t after = -1; (r = nss_index_next_group(v, after, &hint, &g, &id)) != -ENOENT; after = id)
                if (r == 0)
                        at += (size_t) snprintf(out + at, size - at, "%.*s:%u:%s ", (int) g.name.n, g.name.p, g.gid,
                                                members(v, g.gid));
        assert_true(at < size);
}

static void test_without_extension(void **state) {
        (void) state;
        size_t size, delta_size, old_size;
        void *data = build(NSS_INDEX_BASE, &size), *delta = build(NSS_INDEX_DELTA, &delta_size), *old_data;
        assert_int_equal(index_strip_extension(data, size, &old_data, &old_size), 0);
        assert_true(old_size < size);
        char want[1024], got[1024];

        struct nss_index_view v = view_of(data, size), old = view_of(old_data, old_size);
        assert_null(old.base.member_ranges);
        assert_int_equal(old.base.n[NSS_SECTION_GROUP_MEMBERS], 0);
        describe(&v, want, sizeof(want));
        describe(&old, got, sizeof(got));
        assert_string_equal(got, want);
        assert_non_null(strstr(want, "devs:2000:alice,bob,carol,dave "));
        /* With the memo the module keeps (a user's judgement, without the extension). */
        uint64_t words[1] = { 0 };
        old.member_memo = (struct nss_index_member_memo) { words, 1 };
        describe(&old, got, sizeof(got));
        assert_string_equal(got, want);

        /* A delta carries no extension, and applies to either base: an older writer's delta
         * over a new base, a new writer's over an older base. */
        assert_int_equal(nss_index_file_check(delta, delta_size, true, &v.delta), 0);
        assert_null(v.delta.member_ranges);
        old.delta = v.delta;
        assert_true(nss_index_delta_applies(&v.base, &v.delta));
        assert_true(nss_index_delta_applies(&old.base, &old.delta));
        v.has_delta = old.has_delta = true;
        words[0] = 0;
        describe(&v, want, sizeof(want));
        describe(&old, got, sizeof(got));
        assert_string_equal(got, want);
        if (!strstr(want, "devs:2000:alice,bob,carol,frank "))
                fail_msg("with the delta: %s", want);
        free(data);
        free(delta);
        free(old_data);
}

/*
 * The previous release's header and section checks (0d0a9f5's nss_index_file_check, its
 * acceptance logic copied here with its constants spelled out). Frozen on purpose: it is what
 * the module that long-running processes still have mapped after an upgrade (or run again after
 * a downgrade) applies, and every file the builder writes must pass it, whatever the reader of
 * this tree accepts. Do not "update" it with the layout.
 */
static bool old_reader_accepts(const void *data, size_t size) {
        static const size_t section_elem[13] = { 80, 32, 4, 4, 4, 4, 4, 4, 4, 16, 1, 4, 4 };
        const unsigned char *p = data;
        uint32_t version, header_size, byte_order, kind;
        uint64_t file_size, n[13], header_checksum;
        if (size < 288 || ((uintptr_t) data & 7) != 0)
                return false;
        memcpy(&version, p + 8, 4);
        memcpy(&header_size, p + 12, 4);
        memcpy(&byte_order, p + 16, 4);
        memcpy(&kind, p + 20, 4);
        memcpy(&file_size, p + 32, 8);
        memcpy(&header_checksum, p + 280, 8);
        if (memcmp(p, "ROLESNSS", 8) != 0 || version != 1 || header_size != 288 || byte_order != 0x01020304u ||
            file_size != size || (kind != 1 && kind != 2) || header_checksum != nss_index_checksum(p, 280))
                return false;
        for (size_t s = 0; s < 13; s++) {
                uint64_t off, count;
                memcpy(&off, p + 64 + 16 * s, 8);
                memcpy(&count, p + 64 + 16 * s + 8, 8);
                if (off < 288 || off % 8 != 0 || off > size || count > (size - off) / section_elem[s] ||
                    count > UINT32_MAX)
                        return false;
                if (s >= 2 && s <= 7 && (count & (count - 1)) != 0)
                        return false;
                n[s] = count;
        }
        if (kind == 1 && (n[11] || n[12]))
                return false;
        for (size_t s = 2; s <= 7; s++)
                if (n[s] < n[s <= 4 ? 0 : 1])
                        return false;
        uint64_t body_checksum;
        memcpy(&body_checksum, p + 272, 8);
        return body_checksum == nss_index_checksum(p + 288, size - 288);
}

/* What an old reader serves as a group's members: IDS's user indices, the users' names. */
static void ids_members(const struct nss_index_file *f, uint32_t group, char *out) {
        const struct nss_index_group *g = &f->groups[group];
        out[0] = '\0';
        assert_true((uint64_t) g->members.first + g->members.count <= f->n[NSS_SECTION_IDS]);
        for (uint32_t k = 0; k < g->members.count; k++) {
                uint32_t user = f->ids[g->members.first + k];
                assert_true(user < f->n[NSS_SECTION_USERS]);
                add_name(out, f->strings + f->users[user].name.offset, f->users[user].name.length);
        }
}

static void test_old_reader_accepts(void **state) {
        (void) state;
        size_t size, delta_size;
        void *data = build(NSS_INDEX_BASE, &size), *delta = build(NSS_INDEX_DELTA, &delta_size);
        assert_true(old_reader_accepts(data, size));
        assert_true(old_reader_accepts(delta, delta_size));
        /* A delta with a host verdict too (its trailer is no member extension's). */
        struct nss_index_host_stamp stamp = { .ino = 1 };
        assert_int_equal(nss_index_add_host_verdict(&delta, &delta_size, NSS_INDEX_HOST_CLEAR, &stamp, &stamp), 0);
        assert_true(old_reader_accepts(delta, delta_size));
        /* (the copy refuses what the old reader refused) */
        ((unsigned char *) data)[300] ^= 1;
        assert_false(old_reader_accepts(data, size));
        ((unsigned char *) data)[300] ^= 1;

        /* Its members, from IDS, are the extension's: every ordinary group's, in order. */
        struct nss_index_view v = view_of(data, size);
        char old[256], carried[256];
        for (uint32_t g = 0; g < v.base.n[NSS_SECTION_GROUPS]; g++) {
                if (v.base.groups[g].kind != NSS_INDEX_GROUP_ORDINARY)
                        continue;
                ids_members(&v.base, g, old);
                struct nss_index_range list = v.base.member_ranges[g];
                carried[0] = '\0';
                for (uint32_t k = 0; k < list.count; k++) {
                        const struct nss_index_member *m = &v.base.members[list.first + k];
                        add_name(carried, v.base.strings + m->name.offset, m->name.length);
                }
                assert_string_equal(old, carried);
        }
        /* (devs: erin too, whom the ranges leave out when served) */
        ids_members(&v.base, 0, old);
        assert_string_equal(old, "erin,alice,bob,carol,dave");
        free(data);
        free(delta);
}

/* A trailer edited by fix (its checksum made right again unless fix spoils it), on a copy. */
static int trailer_check(const void *data, size_t size, void (*fix)(struct nss_index_extension *, uint64_t),
                         uint64_t arg) {
        unsigned char *copy = aligned_alloc(8, size);
        assert_non_null(copy);
        memcpy(copy, data, size);
        struct nss_index_extension e;
        memcpy(&e, copy + size - sizeof(e), sizeof(e));
        uint64_t checksum = e.checksum;
        fix(&e, arg);
        if (e.checksum == checksum)
                e.checksum = nss_index_checksum(&e, offsetof(struct nss_index_extension, checksum));
        memcpy(copy + size - sizeof(e), &e, sizeof(e));
        struct nss_index_file f;
        int r = nss_index_file_check(copy, size, false, &f);
        /* Whatever is accepted is walked, within the mapping. */
        if (r == 0) {
                struct nss_index_view v = { .base = f, .limits = { 1000, 60000, 1000, 60000 } };
                char out[1024];
                describe(&v, out, sizeof(out));
        }
        free(copy);
        return r;
}

static void spoil_checksum(struct nss_index_extension *e, uint64_t arg) { e->checksum ^= arg; }
static void set_version(struct nss_index_extension *e, uint64_t arg) { e->version = (uint32_t) arg; }
static void set_size(struct nss_index_extension *e, uint64_t arg) { e->size = (uint32_t) arg; }
static void set_ranges(struct nss_index_extension *e, uint64_t arg) { e->ranges_offset = arg; }
static void set_members(struct nss_index_extension *e, uint64_t arg) { e->members_offset = arg; }
static void set_count(struct nss_index_extension *e, uint64_t arg) { e->members_count = arg; }
static void keep(struct nss_index_extension *e, uint64_t arg) { (void) e, (void) arg; }

/* Each member entry is its user (doctor's check): the builder's are; one whose uid is another's,
 * its checksums right, is not; a base without the extension has none to check. */
static void test_members_check(void **state) {
        (void) state;
        size_t size, edited_size, old_size;
        void *data = build(NSS_INDEX_BASE, &size), *edited, *old_data;
        struct nss_index_view v = view_of(data, size);
        assert_true(v.base.n[NSS_SECTION_GROUP_MEMBERS] > 0);
        assert_int_equal(nss_index_members_check(&v.base), 0);

        assert_int_equal(index_set_member_uid(data, size, v.base.members[0].uid + 1, &edited, &edited_size), 0);
        struct nss_index_file f;
        assert_int_equal(nss_index_file_check(edited, edited_size, true, &f), 0);
        assert_int_equal(nss_index_members_check(&f), -EBADMSG);
        free(edited);

        assert_int_equal(index_strip_extension(data, size, &old_data, &old_size), 0);
        assert_int_equal(nss_index_file_check(old_data, old_size, true, &f), 0);
        assert_int_equal(nss_index_members_check(&f), 0);
        free(old_data);
        free(data);
}

static void test_damaged_trailer(void **state) {
        (void) state;
        size_t size;
        void *data = build(NSS_INDEX_BASE, &size);
        struct nss_index_view v = view_of(data, size);
        uint64_t trailer = size - sizeof(struct nss_index_extension), ranges = v.base.offset[NSS_SECTION_MEMBER_RANGES],
                 members = v.base.offset[NSS_SECTION_GROUP_MEMBERS], strings_end = v.base.offset[NSS_SECTION_STRINGS] +
                                                                                  v.base.n[NSS_SECTION_STRINGS];
        assert_int_equal(trailer_check(data, size, keep, 0), 0);
        assert_int_equal(trailer_check(data, size, spoil_checksum, 1), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_version, 2), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_size, 40), -EBADMSG);
        /* Offsets: misaligned, inside the sections (here STRINGS), in the header, at or past the
         * trailer, far out. */
        assert_int_equal(trailer_check(data, size, set_ranges, ranges + 4), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_ranges, (strings_end - 1) & ~(uint64_t) 7), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_members, 8), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_members, trailer + 8), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_ranges, UINT64_MAX - 7), -EBADMSG);
        /* Counts: the ranges (one per group, three) where only one fits before the trailer, the
         * members past the trailer or past any size. */
        assert_int_equal(trailer_check(data, size, set_ranges, trailer - 8), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_count, (trailer - members) / 24 + 1), -EBADMSG);
        assert_int_equal(trailer_check(data, size, set_count, UINT64_MAX), -EBADMSG);
        /* Fewer members than the ranges name: accepted, and those ranges serve no one. */
        assert_int_equal(trailer_check(data, size, set_count, 1), 0);

        /* A delta carries none: one with a trailer is damaged. */
        size_t delta_size;
        void *delta = build(NSS_INDEX_DELTA, &delta_size);
        unsigned char *bigger = aligned_alloc(8, delta_size + sizeof(struct nss_index_extension));
        assert_non_null(bigger);
        memcpy(bigger, delta, delta_size);
        struct nss_index_extension e = { .version = NSS_INDEX_EXTENSION_VERSION, .size = sizeof(e),
                                         .ranges_offset = delta_size, .members_offset = delta_size };
        memcpy(e.magic, NSS_INDEX_EXTENSION_MAGIC, sizeof(e.magic));
        e.checksum = nss_index_checksum(&e, offsetof(struct nss_index_extension, checksum));
        memcpy(bigger + delta_size, &e, sizeof(e));
        struct nss_index_header *h = (void *) bigger;
        h->file_size = delta_size + sizeof(e);
        h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
        struct nss_index_file f;
        assert_int_equal(nss_index_file_check(bigger, delta_size + sizeof(e), false, &f), -EBADMSG);
        free(bigger);
        free(delta);
        free(data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_members_carried),
                cmocka_unit_test(test_host_member_left_out),
                cmocka_unit_test(test_damaged_members),
                cmocka_unit_test(test_memo_by_entry),
                cmocka_unit_test(test_without_extension),
                cmocka_unit_test(test_old_reader_accepts),
                cmocka_unit_test(test_members_check),
                cmocka_unit_test(test_damaged_trailer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
