/* SPDX-License-Identifier: MIT */
/*
 * roles.nss without a database: files compiled by the builder, read by the reader. An ordinary
 * group's members as version 2 carries them (their ids and a copy of their names, judged and
 * served from the list alone), a damaged list, and a version-1 file (an older writer's) read
 * with the same answers.
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
#include "index_v1.h"
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
        const struct nss_index_group *rec = &v->base.groups[g.index];
        for (uint32_t k = 0; k < rec->members.count; k++) {
                struct nss_index_member *m = (struct nss_index_member *) &v->base.members[rec->members.first + k];
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
        assert_int_equal(v.base.version, NSS_INDEX_VERSION);
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
        struct nss_index_group *devs = (struct nss_index_group *) &v.base.groups[g.index];
        struct nss_index_range good = devs->members;
        /* A range past the list, or running off its end: no members. */
        devs->members = (struct nss_index_range) { 7, 0 };
        assert_string_equal(members(&v, 2000), "");
        devs->members = (struct nss_index_range) { good.first + 2, UINT32_MAX };
        assert_string_equal(members(&v, 2000), "");
        devs->members = (struct nss_index_range) { UINT32_MAX, 2 };
        assert_string_equal(members(&v, 2000), "");
        devs->members = good;
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
        const struct nss_index_member *ops_bob = &v.base.members[v.base.groups[g.index].members.first];
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

static void test_version_1_read(void **state) {
        (void) state;
        size_t size, delta_size, v1_size, v1_delta_size;
        void *data = build(NSS_INDEX_BASE, &size), *delta = build(NSS_INDEX_DELTA, &delta_size), *v1, *v1_delta;
        assert_int_equal(index_to_v1(data, size, &v1, &v1_size), 0);
        assert_int_equal(index_to_v1(delta, delta_size, &v1_delta, &v1_delta_size), 0);
        char want[1024], got[1024];

        struct nss_index_view v2 = view_of(data, size), old = view_of(v1, v1_size);
        assert_int_equal(old.base.version, NSS_INDEX_VERSION_1);
        assert_int_equal(old.base.n[NSS_SECTION_GROUP_MEMBERS], 0);
        describe(&v2, want, sizeof(want));
        describe(&old, got, sizeof(got));
        assert_string_equal(got, want);
        assert_non_null(strstr(want, "devs:2000:alice,bob,carol,dave "));
        /* With the memo the module keeps (a user's judgement, in version 1). */
        uint64_t words[1] = { 0 };
        old.member_memo = (struct nss_index_member_memo) { words, 1 };
        describe(&old, got, sizeof(got));
        assert_string_equal(got, want);

        /* Each with its own delta; a delta of the other version does not apply. */
        assert_int_equal(nss_index_file_check(delta, delta_size, true, &v2.delta), 0);
        assert_int_equal(nss_index_file_check(v1_delta, v1_delta_size, true, &old.delta), 0);
        assert_true(nss_index_delta_applies(&v2.base, &v2.delta));
        assert_true(nss_index_delta_applies(&old.base, &old.delta));
        assert_false(nss_index_delta_applies(&v2.base, &old.delta));
        assert_false(nss_index_delta_applies(&old.base, &v2.delta));
        v2.has_delta = old.has_delta = true;
        words[0] = 0;
        describe(&v2, want, sizeof(want));
        describe(&old, got, sizeof(got));
        assert_string_equal(got, want);
        if (!strstr(want, "devs:2000:alice,bob,carol,frank "))
                fail_msg("with the delta: %s", want);

        /* A version-1 header with a wrong size or checksum is refused as a version 2's would be. */
        struct nss_index_file f;
        assert_int_equal(nss_index_file_check(v1, v1_size - 8, false, &f), -EBADMSG);
        ((struct nss_index_header_v1 *) v1)->header_checksum ^= 1;
        assert_int_equal(nss_index_file_check(v1, v1_size, false, &f), -EBADMSG);
        free(data);
        free(delta);
        free(v1);
        free(v1_delta);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_members_carried),
                cmocka_unit_test(test_host_member_left_out),
                cmocka_unit_test(test_damaged_members),
                cmocka_unit_test(test_memo_by_entry),
                cmocka_unit_test(test_version_1_read),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
