/* SPDX-License-Identifier: MIT */
/*
 * The host verdict's trailer (nss_index.h) without a database: a delta that carries one is read
 * with it, and still by the previous release's reader's rules (a valid version-1 file whose last
 * bytes are no member extension); a trailer that fails any check is a damaged file; a base never
 * takes one. And when it holds: both halves clear, and both files the versions it stamped, as
 * two scratch files stand in for /etc/passwd and /etc/group: an edit in place, a replacement by
 * rename, a file gone, each ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "index_edits.h"
#include "nss_index_build.h"
#include "nss_index_read.h"

static void *build(enum nss_index_kind kind, size_t *ret_size) {
        const struct nss_index_build_user alice = { "alice", "", "/home/alice", "/bin/sh", 1000, 1000, true, 0, 1,
                                                    NULL, 0, NULL, 0 };
        struct nss_index_identity id = {
                .kind = kind, .serial = kind == NSS_INDEX_BASE ? 7 : 8, .base_id = { 1, 2, 3 }, .base_serial = 7,
        };
        struct nss_index_builder *b = NULL;
        void *data = NULL;
        assert_int_equal(nss_index_builder_new(&b), 0);
        assert_int_equal(nss_index_builder_add_user(b, &alice), 1);
        assert_int_equal(nss_index_builder_finish(b, &id, &data, ret_size), 0);
        nss_index_builder_free(b);
        return data;
}

/* A scratch file's stamp, as the writer takes it from the descriptor it read. */
static struct nss_index_host_stamp stamp_of(const char *path) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        struct roles_file_stamp s = roles_file_stamp_of(&st);
        return nss_index_host_stamp_of(&s);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

struct scratch {
        char dir[64], passwd[96], group[96];
};

static void scratch_make(struct scratch *s) {
        strcpy(s->dir, "/tmp/roles-verdict.XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        snprintf(s->passwd, sizeof(s->passwd), "%s/passwd", s->dir);
        snprintf(s->group, sizeof(s->group), "%s/group", s->dir);
        write_file(s->passwd, "root:x:0:0::/root:/bin/sh\n");
        write_file(s->group, "root:x:0:\n");
}

static void scratch_remove(struct scratch *s) {
        unlink(s->passwd);
        unlink(s->group);
        rmdir(s->dir);
}

/* A view of a base and a delta with a verdict of flags on the scratch files as they are now. */
struct verdict_view {
        void *base, *delta;
        struct nss_index_view v;
};

static void verdict_view_make(struct verdict_view *vv, const struct scratch *s, uint32_t flags) {
        size_t base_size, delta_size;
        vv->base = build(NSS_INDEX_BASE, &base_size);
        vv->delta = build(NSS_INDEX_DELTA, &delta_size);
        struct nss_index_host_stamp p = stamp_of(s->passwd), g = stamp_of(s->group);
        assert_int_equal(nss_index_add_host_verdict(&vv->delta, &delta_size, flags, &p, &g), 0);
        vv->v = (struct nss_index_view) { .limits = { 1000, 60000, 1000, 60000 } };
        assert_int_equal(nss_index_file_check(vv->base, base_size, true, &vv->v.base), 0);
        assert_int_equal(nss_index_file_check(vv->delta, delta_size, true, &vv->v.delta), 0);
        vv->v.has_delta = nss_index_delta_applies(&vv->v.base, &vv->v.delta);
        assert_true(vv->v.has_delta);
}

static void verdict_view_free(struct verdict_view *vv) {
        free(vv->base);
        free(vv->delta);
}

/* The trailer is read back as written; the previous release's rules accept the file (its
 * last bytes are no member extension's); a base takes none. */
static void test_trailer_read(void **state) {
        (void) state;
        size_t size;
        void *delta = build(NSS_INDEX_DELTA, &size);
        struct nss_index_file f;
        assert_int_equal(nss_index_file_check(delta, size, true, &f), 0);
        assert_null(f.host_verdict);

        struct nss_index_host_stamp p = { .dev = 1, .ino = 2, .size = 3, .mtime_sec = 4, .ctime_sec = 5 }, g = p;
        g.ino = 9;
        assert_int_equal(nss_index_add_host_verdict(&delta, &size, NSS_INDEX_HOST_CLEAR, &p, &g), 0);
        assert_int_equal(nss_index_file_check(delta, size, true, &f), 0);
        assert_non_null(f.host_verdict);
        assert_int_equal(f.host_verdict->flags, NSS_INDEX_HOST_CLEAR);
        assert_int_equal(f.host_verdict->group.ino, 9);
        assert_int_equal(f.n[NSS_SECTION_USERS], 1);
        assert_null(f.member_ranges);
        /* A trailer does not take a second one. */
        assert_int_equal(nss_index_add_host_verdict(&delta, &size, 0, &p, &g), -EINVAL);
        free(delta);

        void *base = build(NSS_INDEX_BASE, &size);
        assert_int_equal(nss_index_add_host_verdict(&base, &size, NSS_INDEX_HOST_CLEAR, &p, &g), -EINVAL);
        free(base);
}

/* Each field spoiled, the trailer's checksum made right again (but for the checksum's own case):
 * a damaged file. */
static void test_trailer_damaged(void **state) {
        (void) state;
        static const struct {
                size_t offset, width;
                uint64_t value;
        } spoils[] = {
                { offsetof(struct nss_index_host_verdict, version), 4, 2 },
                { offsetof(struct nss_index_host_verdict, size), 4, 120 },
                { offsetof(struct nss_index_host_verdict, flags), 4, 4 },
                { offsetof(struct nss_index_host_verdict, reserved), 4, 1 },
                { offsetof(struct nss_index_host_verdict, checksum), 8, 0 },
        };
        struct nss_index_host_stamp p = { .ino = 1 };
        for (size_t i = 0; i < sizeof(spoils) / sizeof(spoils[0]); i++) {
                size_t size;
                void *delta = build(NSS_INDEX_DELTA, &size);
                assert_int_equal(nss_index_add_host_verdict(&delta, &size, NSS_INDEX_HOST_CLEAR, &p, &p), 0);
                struct nss_index_host_verdict hv;
                unsigned char *at = (unsigned char *) delta + size - sizeof(hv);
                memcpy(&hv, at, sizeof(hv));
                memcpy((unsigned char *) &hv + spoils[i].offset, &spoils[i].value, spoils[i].width);
                if (spoils[i].offset != offsetof(struct nss_index_host_verdict, checksum))
                        hv.checksum = nss_index_checksum(&hv, offsetof(struct nss_index_host_verdict, checksum));
                memcpy(at, &hv, sizeof(hv));
                struct nss_index_header *h = delta;
                h->body_checksum = nss_index_checksum((unsigned char *) delta + sizeof(*h), size - sizeof(*h));
                h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
                struct nss_index_file f;
                assert_int_equal(nss_index_file_check(delta, size, false, &f), -EBADMSG);
                free(delta);
        }
}

/* index_edit's lie: other flags, every checksum right. */
static void test_trailer_edited(void **state) {
        (void) state;
        size_t size, edited_size;
        void *delta = build(NSS_INDEX_DELTA, &size), *edited = NULL;
        struct nss_index_host_stamp p = { .ino = 1 };
        struct nss_index_file f;
        assert_int_equal(index_set_host_flags(delta, size, 0, &edited, &edited_size), -EBADMSG);
        assert_int_equal(nss_index_add_host_verdict(&delta, &size, NSS_INDEX_HOST_DELTA_CLEAR, &p, &p), 0);
        assert_int_equal(index_set_host_flags(delta, size, NSS_INDEX_HOST_CLEAR, &edited, &edited_size), 0);
        assert_int_equal(nss_index_file_check(edited, edited_size, true, &f), 0);
        assert_int_equal(f.host_verdict->flags, NSS_INDEX_HOST_CLEAR);
        free(edited);
        free(delta);
}

static void test_holds(void **state) {
        (void) state;
        struct scratch s;
        struct verdict_view vv;
        scratch_make(&s);

        verdict_view_make(&vv, &s, NSS_INDEX_HOST_CLEAR);
        assert_true(nss_index_host_verdict_holds(&vv.v, s.passwd, s.group));
        /* Not without its delta, nor for other files. */
        vv.v.has_delta = false;
        assert_false(nss_index_host_verdict_holds(&vv.v, s.passwd, s.group));
        vv.v.has_delta = true;
        assert_false(nss_index_host_verdict_holds(&vv.v, s.group, s.passwd));
        verdict_view_free(&vv);

        /* One half not clear. */
        for (uint32_t flags = 0; flags < NSS_INDEX_HOST_CLEAR; flags++) {
                verdict_view_make(&vv, &s, flags);
                assert_false(nss_index_host_verdict_holds(&vv.v, s.passwd, s.group));
                verdict_view_free(&vv);
        }

        /* An edit in place that keeps the size: its times moved. */
        verdict_view_make(&vv, &s, NSS_INDEX_HOST_CLEAR);
        struct stat before;
        assert_int_equal(stat(s.passwd, &before), 0);
        usleep(20000);  /* past the coarse clock's tick that file times are taken from */
        int fd = open(s.passwd, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "toor", 4, 0), 4);
        close(fd);
        struct stat after;
        assert_int_equal(stat(s.passwd, &after), 0);
        assert_int_equal(after.st_size, before.st_size);
        assert_int_equal(after.st_ino, before.st_ino);
        assert_false(nss_index_host_verdict_holds(&vv.v, s.passwd, s.group));
        verdict_view_free(&vv);

        /* A replacement by rename. */
        verdict_view_make(&vv, &s, NSS_INDEX_HOST_CLEAR);
        char tmp[128];
        snprintf(tmp, sizeof(tmp), "%s/group.new", s.dir);
        write_file(tmp, "root:x:0:\n");
        assert_int_equal(rename(tmp, s.group), 0);
        assert_false(nss_index_host_verdict_holds(&vv.v, s.passwd, s.group));
        verdict_view_free(&vv);

        /* A file gone. */
        verdict_view_make(&vv, &s, NSS_INDEX_HOST_CLEAR);
        assert_true(nss_index_host_verdict_holds(&vv.v, s.passwd, s.group));
        unlink(s.group);
        assert_false(nss_index_host_verdict_holds(&vv.v, s.passwd, s.group));
        verdict_view_free(&vv);
        scratch_remove(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_trailer_read),
                cmocka_unit_test(test_trailer_damaged),
                cmocka_unit_test(test_trailer_edited),
                cmocka_unit_test(test_holds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
