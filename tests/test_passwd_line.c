/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "passwd_line.h"
#include "util.h"

/* Field f is exactly want (n bytes, which may hold a NUL). */
#define assert_field(f, want, want_n) do { \
        assert_int_equal((f).n, (want_n)); \
        assert_memory_equal((f).p, (want), (want_n)); \
} while (0)

/*
 * text[0..n) copied to the very end of a readable page with an unreadable one after it: a read at
 * or past n faults, where a copy in an ordinary buffer would read on into what follows unseen.
 */
struct fenced {
        char *map;
        size_t page;
        char *p;
};

static void fence(struct fenced *f, const char *text, size_t n) {
        f->page = (size_t) sysconf(_SC_PAGESIZE);
        assert_true(n <= f->page);
        f->map = mmap(NULL, 2 * f->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(f->map != MAP_FAILED);
        assert_int_equal(mprotect(f->map + f->page, f->page, PROT_NONE), 0);
        f->p = f->map + f->page - n;
        memcpy(f->p, text, n);
}

static void unfence(struct fenced *f) {
        munmap(f->map, 2 * f->page);
}

static void test_passwd_fields(void **state) {
        (void) state;
        static const char line[] = "alice:x:10000:10001:Alice Liddell:/home/alice:/bin/bash";
        struct passwd_field f[PASSWD_LINE_FIELDS];
        assert_int_equal(passwd_line_fields(line, strlen(line), f, PASSWD_LINE_FIELDS), 7);
        assert_field(f[0], "alice", 5);
        assert_field(f[1], "x", 1);
        assert_field(f[2], "10000", 5);
        assert_field(f[3], "10001", 5);
        assert_field(f[4], "Alice Liddell", 13);
        assert_field(f[5], "/home/alice", 11);
        assert_field(f[6], "/bin/bash", 9);
}

/* Empty fields are fields: "::" is three, an empty line one. */
static void test_empty_fields(void **state) {
        (void) state;
        struct passwd_field f[SHADOW_LINE_FIELDS];
        assert_int_equal(passwd_line_fields("", 0, f, 1), 1);
        assert_field(f[0], "", 0);
        assert_int_equal(passwd_line_fields("::", 2, f, 3), 3);
        for (size_t i = 0; i < 3; i++)
                assert_field(f[i], "", 0);
        static const char shadow[] = "alice:$y$j9T$salt$hash:20000:0:99999:7:::";
        assert_int_equal(passwd_line_fields(shadow, strlen(shadow), f, SHADOW_LINE_FIELDS), 9);
        assert_field(f[1], "$y$j9T$salt$hash", 16);
        assert_field(f[5], "7", 1);
        assert_field(f[8], "", 0);
}

/* Too many and too few: the count says so (too many as max + 1), and nothing past fields[max)
 * is written. */
static void test_field_count(void **state) {
        (void) state;
        struct passwd_field f[GROUP_LINE_FIELDS + 1];
        const struct passwd_field guard = { "guard", 5 };
        f[GROUP_LINE_FIELDS] = guard;
        static const char many[] = "wheel:x:10:a,b:extra:more";
        assert_int_equal(passwd_line_fields(many, strlen(many), f, GROUP_LINE_FIELDS), GROUP_LINE_FIELDS + 1);
        assert_field(f[3], "a,b", 3);   /* the last field filled ends at its ':' */
        assert_ptr_equal(f[GROUP_LINE_FIELDS].p, guard.p);
        assert_int_equal(f[GROUP_LINE_FIELDS].n, guard.n);
        /* One ':' too many, at the very end: an empty fifth field is still a fifth field. */
        assert_int_equal(passwd_line_fields("wheel:x:10:a,b:", 15, f, GROUP_LINE_FIELDS), GROUP_LINE_FIELDS + 1);
        assert_int_equal(passwd_line_fields("wheel:x:10:a,b", 14, f, GROUP_LINE_FIELDS), GROUP_LINE_FIELDS);
        assert_int_equal(passwd_line_fields("wheel:x:10", 10, f, GROUP_LINE_FIELDS), 3);
        assert_field(f[2], "10", 2);
        assert_int_equal(passwd_line_fields("wheel", 5, f, GROUP_LINE_FIELDS), 1);
        assert_field(f[0], "wheel", 5);
        /* max 0: every line has more fields than that, and nothing is written. */
        assert_int_equal(passwd_line_fields(many, strlen(many), NULL, 0), 1);
        assert_int_equal(passwd_line_fields("", 0, NULL, 0), 1);
}

/* A line without its '\n', at the very end of what is readable: nothing past it is read, and
 * what lies past the length given (more fields, a next line) is not part of the line. */
static void test_bounded(void **state) {
        (void) state;
        static const char line[] = "bob:x:10002:10002:Bob:/home/bob:/bin/sh";
        struct passwd_field f[PASSWD_LINE_FIELDS];
        struct fenced fl;
        fence(&fl, line, strlen(line));
        assert_int_equal(passwd_line_fields(fl.p, strlen(line), f, PASSWD_LINE_FIELDS), 7);
        assert_field(f[6], "/bin/sh", 7);
        /* A line ending in ':' right at the fence: an empty last field, at the end. */
        assert_int_equal(passwd_line_fields(fl.p, 4, f, PASSWD_LINE_FIELDS), 2);
        assert_field(f[1], "", 0);
        assert_ptr_equal(f[1].p, fl.p + 4);
        unfence(&fl);

        static const char two[] = "carol:x:1:2\nmallory:x:0:0";
        assert_int_equal(passwd_line_fields(two, 11, f, PASSWD_LINE_FIELDS), 4);
        assert_field(f[3], "2", 1);
        assert_int_equal(passwd_line_fields(two, 3, f, PASSWD_LINE_FIELDS), 1);
        assert_field(f[0], "car", 3);
}

/* A NUL is a byte of its field, not the line's end: the validators then refuse the field. */
static void test_embedded_nul(void **state) {
        (void) state;
        static const char line[] = "root\0evil:x:0:0:\0:/root:/bin/sh";
        struct passwd_field f[PASSWD_LINE_FIELDS];
        assert_int_equal(passwd_line_fields(line, sizeof(line) - 1, f, PASSWD_LINE_FIELDS), 7);
        assert_field(f[0], "root\0evil", 9);
        assert_field(f[4], "\0", 1);
        assert_field(f[6], "/bin/sh", 7);
        assert_false(roles_name_valid_n(f[0].p, f[0].n));
        assert_false(roles_text_valid_n(f[4].p, f[4].n, ROLES_TEXT_MAX));
}

/* Overlong fields are split whole (never cut to fit), for the validators to refuse. */
static void test_overlong_fields(void **state) {
        (void) state;
        size_t big = 100000, len = 0;
        char *line = malloc(big + 200);
        assert_non_null(line);
        const char *name = "abcdefghijklmnopqrstuvwxyz0123456";       /* 33 bytes */
        len += (size_t) sprintf(line, "%s:x:10000:10000:", name);
        memset(line + len, 'g', big);
        len += big;
        len += (size_t) sprintf(line + len, ":/home/x:/bin/sh");
        struct passwd_field f[PASSWD_LINE_FIELDS];
        assert_int_equal(passwd_line_fields(line, len, f, PASSWD_LINE_FIELDS), 7);
        assert_int_equal(f[0].n, 33);
        assert_false(roles_name_valid_n(f[0].p, f[0].n));
        assert_true(roles_name_valid_n(f[0].p, 32));
        assert_int_equal(f[4].n, big);
        assert_false(roles_text_valid_n(f[4].p, f[4].n, ROLES_TEXT_MAX));
        assert_field(f[5], "/home/x", 7);
        free(line);
}

/* Every member of list[0..n), joined back with '|' (an empty member shows as nothing). */
static const char *members(const char *list, size_t n, char *buf, size_t size) {
        struct passwd_field m, all = { list, n };
        size_t used = 0, count = 0;
        buf[0] = '\0';
        for (size_t pos = 0; passwd_line_next_member(all, &pos, &m); count++) {
                assert_true(used + m.n + 2 < size);
                if (count > 0)
                        buf[used++] = '|';
                memcpy(buf + used, m.p, m.n);
                used += m.n;
                buf[used] = '\0';
        }
        return buf;
}

static void test_members(void **state) {
        (void) state;
        char buf[256];
        assert_string_equal(members("", 0, buf, sizeof(buf)), "");
        assert_string_equal(members("a", 1, buf, sizeof(buf)), "a");
        assert_string_equal(members("alice,bob,carol", 15, buf, sizeof(buf)), "alice|bob|carol");
        /* Empty members are members (of length 0), for the caller to refuse. */
        assert_string_equal(members("a,", 2, buf, sizeof(buf)), "a|");
        assert_string_equal(members(",a", 2, buf, sizeof(buf)), "|a");
        assert_string_equal(members("a,,b", 4, buf, sizeof(buf)), "a||b");
        assert_string_equal(members(",", 1, buf, sizeof(buf)), "|");

        /* Counted: one empty member is one, not none. */
        struct passwd_field m, all = { ",", 1 };
        size_t pos = 0, count = 0;
        while (passwd_line_next_member(all, &pos, &m))
                count++;
        assert_int_equal(count, 2);
        /* After the end, *ret stays as it was. */
        m = (struct passwd_field) { "kept", 4 };
        assert_false(passwd_line_next_member(all, &pos, &m));
        assert_field(m, "kept", 4);

        /* Bounded: the list ends at its length, at the fence, with or without a last ','. */
        struct fenced fl;
        fence(&fl, "alice,bob,", 10);
        assert_string_equal(members(fl.p, 10, buf, sizeof(buf)), "alice|bob|");
        assert_string_equal(members(fl.p, 9, buf, sizeof(buf)), "alice|bob");
        assert_string_equal(members(fl.p, 3, buf, sizeof(buf)), "ali");
        unfence(&fl);
        /* A NUL is part of its member. */
        all = (struct passwd_field) { "a\0b,c", 5 };
        pos = 0;
        assert_true(passwd_line_next_member(all, &pos, &m));
        assert_field(m, "a\0b", 3);
        assert_false(roles_name_valid_n(m.p, m.n));
}

/* A caller that owns its line keeps fields as strings: each cut over the byte after it. */
static void test_cut(void **state) {
        (void) state;
        char line[] = "wheel:x:10:alice,bob";
        struct passwd_field f[GROUP_LINE_FIELDS], m;
        assert_int_equal(passwd_line_fields(line, strlen(line), f, GROUP_LINE_FIELDS), GROUP_LINE_FIELDS);
        char *name = passwd_line_cut(line, f[0]), *list = passwd_line_cut(line, f[3]);
        assert_ptr_equal(name, line);
        assert_string_equal(name, "wheel");
        assert_string_equal(list, "alice,bob");
        size_t pos = 0;
        assert_true(passwd_line_next_member(f[3], &pos, &m));
        assert_string_equal(passwd_line_cut(line, m), "alice");
        assert_true(passwd_line_next_member(f[3], &pos, &m));
        assert_string_equal(passwd_line_cut(line, m), "bob");
        assert_false(passwd_line_next_member(f[3], &pos, &m));
        assert_memory_equal(line, "wheel\0x:10:alice\0bob", sizeof(line));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_passwd_fields),
                cmocka_unit_test(test_empty_fields),
                cmocka_unit_test(test_field_count),
                cmocka_unit_test(test_bounded),
                cmocka_unit_test(test_embedded_nul),
                cmocka_unit_test(test_overlong_fields),
                cmocka_unit_test(test_members),
                cmocka_unit_test(test_cut),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
