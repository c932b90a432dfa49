/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util.h"

/* A string of n copies of c (n < size). */
static char *repeat(char *buf, size_t size, char c, size_t n) {
        assert_true(n < size);
        memset(buf, c, n);
        buf[n] = '\0';
        return buf;
}

/* ---- names ------------------------------------------------------------------------------- */

static void test_name_valid(void **state) {
        (void) state;

        assert_true(roles_name_valid("alice"));
        assert_true(roles_name_valid("a"));
        assert_true(roles_name_valid("_"));
        assert_true(roles_name_valid("_svc"));
        assert_true(roles_name_valid("bob2"));
        assert_true(roles_name_valid("db.admin"));
        assert_true(roles_name_valid("super-admin"));
        assert_true(roles_name_valid("x_y.z-1"));
        assert_true(roles_name_valid("a-"));
        assert_true(roles_name_valid("a."));
}

static void test_name_invalid(void **state) {
        (void) state;

        assert_false(roles_name_valid(NULL));
        assert_false(roles_name_valid(""));
        assert_false(roles_name_valid("Alice"));
        assert_false(roles_name_valid("alicE"));
        assert_false(roles_name_valid("1alice"));
        assert_false(roles_name_valid("0"));
        assert_false(roles_name_valid("-alice"));
        assert_false(roles_name_valid(".alice"));
        assert_false(roles_name_valid("."));
        assert_false(roles_name_valid(".."));
        assert_false(roles_name_valid("al:ice"));
        assert_false(roles_name_valid("alice:"));
        assert_false(roles_name_valid(":"));
        assert_false(roles_name_valid("al\nice"));
        assert_false(roles_name_valid("alice\n"));
        assert_false(roles_name_valid("\nalice"));
        assert_false(roles_name_valid("al ice"));
        assert_false(roles_name_valid("al\tice"));
        assert_false(roles_name_valid("al/ice"));
        assert_false(roles_name_valid("al,ice"));
        assert_false(roles_name_valid("al@ice"));
        assert_false(roles_name_valid("al\x7f" "ice"));
        assert_false(roles_name_valid("zo\xc3\xab"));     /* UTF-8 */
        assert_false(roles_name_valid("\xff"));
}

static void test_name_embedded_nul(void **state) {
        (void) state;

        /* A C string ends at the first NUL: whatever follows can never reach a passwd line,
         * so the check is on the visible part. A leading NUL is an empty name. */
        static const char two[2] = { 'a', '\0' };
        assert_true(roles_name_valid(two));
        static const char nul_first[3] = { '\0', 'a', '\0' };
        assert_false(roles_name_valid(nul_first));
        static const char hidden_colon[4] = { 'a', '\0', ':', '\0' };
        assert_true(roles_name_valid(hidden_colon));
        assert_int_equal(strlen(hidden_colon), 1);
        static const char bad_then_nul[4] = { ':', '\0', 'a', '\0' };
        assert_false(roles_name_valid(bad_then_nul));
}

static void test_name_length(void **state) {
        char buf[64];
        (void) state;

        assert_true(roles_name_valid(repeat(buf, sizeof(buf), 'a', 31)));
        assert_true(roles_name_valid(repeat(buf, sizeof(buf), 'a', ROLES_NAME_MAX)));
        assert_int_equal(strlen(buf), 32);
        assert_false(roles_name_valid(repeat(buf, sizeof(buf), 'a', ROLES_NAME_MAX + 1)));
        assert_false(roles_name_valid(repeat(buf, sizeof(buf), 'a', 60)));
        /* The 33rd byte is refused even when it is otherwise a fine character. */
        repeat(buf, sizeof(buf), 'b', 32);
        buf[32] = '_';
        buf[33] = '\0';
        assert_false(roles_name_valid(buf));
}

/* ---- permission codes ----------------------------------------------------------------------- */

static void test_perm_valid(void **state) {
        char buf[256];
        (void) state;

        assert_true(roles_perm_valid("sudo", false));
        assert_true(roles_perm_valid("login.sshd", false));
        assert_true(roles_perm_valid("db.backup.read", false));
        assert_true(roles_perm_valid("a_b-c.d0", false));
        assert_true(roles_perm_valid("0", false));
        assert_true(roles_perm_valid("sudo", true));

        /* Wildcards: only ".*" at the end, only when allowed, never alone. */
        assert_true(roles_perm_valid("db.*", true));
        assert_true(roles_perm_valid("db.backup.*", true));
        assert_false(roles_perm_valid("db.*", false));
        assert_false(roles_perm_valid("*", true));
        assert_false(roles_perm_valid("*", false));
        assert_false(roles_perm_valid("*.db", true));
        assert_false(roles_perm_valid("db.*.read", true));
        assert_false(roles_perm_valid("db*", true));
        assert_false(roles_perm_valid("db.x*", true));
        assert_false(roles_perm_valid("db.**", true));
        assert_false(roles_perm_valid("db.*.", true));

        /* Malformed words. */
        assert_false(roles_perm_valid(NULL, true));
        assert_false(roles_perm_valid("", true));
        assert_false(roles_perm_valid("a..b", true));
        assert_false(roles_perm_valid("a.", true));
        assert_false(roles_perm_valid("a.", false));
        assert_false(roles_perm_valid(".a", true));
        assert_false(roles_perm_valid(".", true));
        assert_false(roles_perm_valid("Sudo", true));
        assert_false(roles_perm_valid("db.Read", true));
        assert_false(roles_perm_valid("db read", true));
        assert_false(roles_perm_valid("db:read", true));
        assert_false(roles_perm_valid("db/read", true));
        assert_false(roles_perm_valid("db.read\n", true));

        /* At most 128 bytes. */
        assert_true(roles_perm_valid(repeat(buf, sizeof(buf), 'p', ROLES_PERM_MAX), false));
        assert_false(roles_perm_valid(repeat(buf, sizeof(buf), 'p', ROLES_PERM_MAX + 1), false));
        repeat(buf, sizeof(buf), 'p', ROLES_PERM_MAX - 2);
        strcat(buf, ".*");
        assert_int_equal(strlen(buf), ROLES_PERM_MAX);
        assert_true(roles_perm_valid(buf, true));
        strcat(buf, "x");
        assert_false(roles_perm_valid(buf, true));
}

static void test_perm_covers(void **state) {
        (void) state;

        assert_true(roles_perm_covers("db.*", "db.x"));
        assert_true(roles_perm_covers("db.*", "db.x.y"));
        assert_false(roles_perm_covers("db.*", "db"));
        assert_false(roles_perm_covers("db.*", "dbx.y"));
        assert_false(roles_perm_covers("db.*", "dbx"));
        assert_false(roles_perm_covers("db.*", "d"));
        assert_false(roles_perm_covers("db.*", "x.db.y"));
        assert_true(roles_perm_covers("db.backup.*", "db.backup.read"));
        assert_false(roles_perm_covers("db.backup.*", "db.read"));
        assert_false(roles_perm_covers("db.backup.*", "db.backupx.read"));

        /* Exact grants cover exactly themselves. */
        assert_true(roles_perm_covers("sudo", "sudo"));
        assert_false(roles_perm_covers("sudo", "sudo.x"));
        assert_false(roles_perm_covers("sudo", "sud"));
        assert_false(roles_perm_covers("sudo.x", "sudo"));
        assert_false(roles_perm_covers("login.sshd", "login.su"));
}

/* ---- free text, paths, emails ----------------------------------------------------------------- */

static void test_text_valid(void **state) {
        char buf[300];
        (void) state;

        assert_true(roles_text_valid("", 10));
        assert_true(roles_text_valid("Alice Liddell, Room 4", ROLES_TEXT_MAX));
        assert_true(roles_text_valid("Zo\xc3\xab", ROLES_TEXT_MAX));     /* UTF-8 passes */
        assert_false(roles_text_valid(NULL, 10));
        assert_false(roles_text_valid("a:b", ROLES_TEXT_MAX));
        assert_false(roles_text_valid("a\nb", ROLES_TEXT_MAX));
        assert_false(roles_text_valid("a\rb", ROLES_TEXT_MAX));
        assert_false(roles_text_valid("a\tb", ROLES_TEXT_MAX));
        assert_false(roles_text_valid("a\x1b[31m", ROLES_TEXT_MAX));
        assert_false(roles_text_valid("a\x7f", ROLES_TEXT_MAX));
        assert_false(roles_text_valid("\x01", ROLES_TEXT_MAX));

        /* max bytes are fine, one more is not. */
        assert_true(roles_text_valid(repeat(buf, sizeof(buf), 'x', 10), 10));
        assert_false(roles_text_valid(repeat(buf, sizeof(buf), 'x', 11), 10));
        assert_true(roles_text_valid(repeat(buf, sizeof(buf), 'x', ROLES_TEXT_MAX), ROLES_TEXT_MAX));
        assert_false(roles_text_valid(repeat(buf, sizeof(buf), 'x', ROLES_TEXT_MAX + 1), ROLES_TEXT_MAX));
}

static void test_path_valid(void **state) {
        char buf[300];
        (void) state;

        assert_true(roles_path_valid("/"));
        assert_true(roles_path_valid("/home/alice"));
        assert_true(roles_path_valid("/bin/bash"));
        assert_true(roles_path_valid("/usr/sbin/nologin"));
        assert_false(roles_path_valid(NULL));
        assert_false(roles_path_valid(""));
        assert_false(roles_path_valid("home/alice"));
        assert_false(roles_path_valid("./x"));
        assert_false(roles_path_valid("~/x"));
        assert_false(roles_path_valid("/home/a:b"));
        assert_false(roles_path_valid("/home/a\nb"));
        assert_false(roles_path_valid("/home/a\tb"));
        assert_false(roles_path_valid("/home/a\x7f"));
        assert_false(roles_path_valid("/home/a,b"));
        assert_false(roles_path_valid("/home/a b"));

        buf[0] = '/';
        repeat(buf + 1, sizeof(buf) - 1, 'd', ROLES_TEXT_MAX - 1);
        assert_int_equal(strlen(buf), ROLES_TEXT_MAX);
        assert_true(roles_path_valid(buf));
        strcat(buf, "d");
        assert_false(roles_path_valid(buf));
}

static void test_email_valid(void **state) {
        char buf[300];
        (void) state;

        assert_true(roles_email_valid("alice@example.org"));
        assert_true(roles_email_valid("a@b"));
        assert_true(roles_email_valid("first.last+tag@sub.example.org"));
        assert_false(roles_email_valid(NULL));
        assert_false(roles_email_valid(""));
        assert_false(roles_email_valid("alice"));
        assert_false(roles_email_valid("@example.org"));
        assert_false(roles_email_valid("alice@"));
        assert_false(roles_email_valid("a@b@c"));
        assert_false(roles_email_valid("al ice@example.org"));
        assert_false(roles_email_valid("alice@exa mple.org"));
        assert_false(roles_email_valid("alice@example.org\n"));
        assert_false(roles_email_valid("alice\t@example.org"));
        assert_false(roles_email_valid("alice:x@example.org"));
        assert_false(roles_email_valid("<alice@example.org>"));
        assert_false(roles_email_valid("\"a\"@example.org"));
        assert_false(roles_email_valid("a@b,c@d"));
        assert_false(roles_email_valid("a@b;c"));

        /* At most 254 bytes. */
        repeat(buf, sizeof(buf), 'a', ROLES_EMAIL_MAX - 2);
        strcat(buf, "@b");
        assert_int_equal(strlen(buf), ROLES_EMAIL_MAX);
        assert_true(roles_email_valid(buf));
        strcat(buf, "c");
        assert_false(roles_email_valid(buf));
}

/* ---- numbers ------------------------------------------------------------------------------------ */

static void test_parse_id(void **state) {
        uint32_t id;
        (void) state;

        assert_int_equal(roles_parse_id("0", &id), 0);
        assert_int_equal(id, 0);
        assert_int_equal(roles_parse_id("1", &id), 0);
        assert_int_equal(id, 1);
        assert_int_equal(roles_parse_id("10000", &id), 0);
        assert_int_equal(id, 10000);
        assert_int_equal(roles_parse_id("4294967294", &id), 0);
        assert_int_equal(id, 4294967294u);

        /* Refused, and the result untouched. */
        static const char *const bad[] = {
                "-1", "-0", "4294967295", "4294967296", "99999999999999999999", " 5", "5 ", "+5", "",
                "5x", "0x10", "1e3", "\t5", "5\n",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(bad); i++) {
                id = 4242;
                int r = roles_parse_id(bad[i], &id);
                if (r >= 0)
                        fail_msg("roles_parse_id(\"%s\") accepted", bad[i]);
                assert_int_equal(id, 4242);
        }
        assert_int_equal(roles_parse_id(NULL, &id), -EINVAL);
        assert_int_equal(roles_parse_id("-1", &id), -EINVAL);
        assert_int_equal(roles_parse_id("+5", &id), -EINVAL);
        assert_int_equal(roles_parse_id(" 5", &id), -EINVAL);
        assert_int_equal(roles_parse_id("", &id), -EINVAL);
        assert_int_equal(roles_parse_id("4294967295", &id), -ERANGE);
        assert_int_equal(roles_parse_id("4294967296", &id), -ERANGE);
        assert_int_equal(id, 4242);
}

static void test_parse_int64(void **state) {
        int64_t v;
        (void) state;

        assert_int_equal(roles_parse_int64("-5", -10, 10, &v), 0);
        assert_int_equal(v, -5);
        assert_int_equal(roles_parse_int64("10", -10, 10, &v), 0);
        assert_int_equal(v, 10);
        assert_int_equal(roles_parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
        assert_true(v == INT64_MAX);
        assert_int_equal(roles_parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
        assert_true(v == INT64_MIN);

        v = 77;
        assert_int_equal(roles_parse_int64("11", -10, 10, &v), -ERANGE);
        assert_int_equal(roles_parse_int64("-11", -10, 10, &v), -ERANGE);
        assert_int_equal(roles_parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
        assert_int_equal(roles_parse_int64("-", -10, 10, &v), -EINVAL);
        assert_int_equal(roles_parse_int64("--1", -10, 10, &v), -EINVAL);
        assert_int_equal(roles_parse_int64("1-", -10, 10, &v), -EINVAL);
        assert_int_equal(roles_parse_int64("", -10, 10, &v), -EINVAL);
        assert_int_equal(roles_parse_int64(NULL, -10, 10, &v), -EINVAL);
        assert_int_equal(v, 77);
}

/* ---- time ----------------------------------------------------------------------------------------- */

#define JAN1_2026 INT64_C(1767225600)   /* 2026-01-01T00:00:00Z */

static void test_parse_time_dates(void **state) {
        int64_t t;
        (void) state;

        assert_int_equal(roles_parse_time("2026-01-01", 0, &t), 0);
        assert_true(t == JAN1_2026);
        /* The epoch itself would read as "no end": refused, not taken. */
        assert_int_equal(roles_parse_time("1970-01-01", 0, &t), -ERANGE);
        assert_int_equal(roles_parse_time("1970-01-02", 0, &t), 0);
        assert_true(t == 86400);
        assert_int_equal(roles_parse_time("2024-02-29", 0, &t), 0);       /* leap year */
        assert_true(t == INT64_C(1709164800));
        assert_int_equal(roles_parse_time("2026-12-31", 0, &t), 0);
        assert_true(t == JAN1_2026 + 364 * 86400);

        /* Date and time, UTC with or without Z, with or without seconds. */
        assert_int_equal(roles_parse_time("2026-01-01T10:00", 0, &t), 0);
        assert_true(t == JAN1_2026 + 10 * 3600);
        assert_int_equal(roles_parse_time("2026-01-01T10:00Z", 0, &t), 0);
        assert_true(t == JAN1_2026 + 10 * 3600);
        assert_int_equal(roles_parse_time("2026-01-01T10:20:30", 0, &t), 0);
        assert_true(t == JAN1_2026 + 10 * 3600 + 20 * 60 + 30);
        assert_int_equal(roles_parse_time("2026-01-01T10:20:30Z", 0, &t), 0);
        assert_true(t == JAN1_2026 + 10 * 3600 + 20 * 60 + 30);
        assert_int_equal(roles_parse_time("2026-01-01T23:59:59Z", 0, &t), 0);
        assert_true(t == JAN1_2026 + 86399);

        /* The given now does not matter for absolute times. */
        assert_int_equal(roles_parse_time("2026-01-01", 123456789, &t), 0);
        assert_true(t == JAN1_2026);
}

static void test_parse_time_epoch_and_relative(void **state) {
        const time_t now = 1000000;
        int64_t t;
        (void) state;

        assert_int_equal(roles_parse_time("@0", now, &t), -ERANGE);
        assert_int_equal(roles_parse_time("@1", now, &t), 0);
        assert_true(t == 1);
        assert_int_equal(roles_parse_time("@1767225600", now, &t), 0);
        assert_true(t == JAN1_2026);

        assert_int_equal(roles_parse_time("+2h", now, &t), 0);
        assert_true(t == now + 7200);
        assert_int_equal(roles_parse_time("+90", now, &t), 0);
        assert_true(t == now + 90);
        assert_int_equal(roles_parse_time("+90s", now, &t), 0);
        assert_true(t == now + 90);
        assert_int_equal(roles_parse_time("+15m", now, &t), 0);
        assert_true(t == now + 900);
        assert_int_equal(roles_parse_time("+3d", now, &t), 0);
        assert_true(t == now + 3 * 86400);
        assert_int_equal(roles_parse_time("+2w", now, &t), 0);
        assert_true(t == now + 2 * 604800);
        assert_int_equal(roles_parse_time("+0h", now, &t), 0);
        assert_true(t == now);
        /* Relative to the now given, not the clock. */
        assert_int_equal(roles_parse_time("+1h", 0, &t), 0);
        assert_true(t == 3600);
}

static void test_parse_time_invalid(void **state) {
        static const char *const bad[] = {
                "", "tomorrow", "now", "2026", "2026-01", "2026-02-31", "2026-02-30", "2025-02-29", "2026-04-31",
                "2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32", "1969-12-31", "20260-01-01",
                "2026-01-01T", "2026-01-01T24:00", "2026-01-01T10:60", "2026-01-01Tx", "2026-01-01T10:00Zx",
                "2026-01-01T10:00:00+01:00", "2026-01-01x", "2026-12-31T23:59:60", "2026-01-01T10:00:60",
                "@", "@-1", "@12a", "@ 5", "+", "+h", "+2x", "+-5", "+2hh", "+ 2h", "+2.5h",
                "+99999999999999999999d", "-2h",
                /* Only the documented layout, digits exactly so. */
                " 2026-01-01", "2026-01-01 ", "2026-1-1", "2026-01-1", "2026-01-01T1:02", "2026-01-01T10:2",
                "2026-01-01 10:00", "2026-01-01t10:00", "2026-01-01T10:00z", "2026-01- 1", "2026-01-01T 10:00",
                "2026/01/01", "+02026-01-01",
        };
        (void) state;

        for (size_t i = 0; i < ROLES_N_ELEMENTS(bad); i++) {
                int64_t t = 4242;
                int r = roles_parse_time(bad[i], 1000000, &t);
                if (r >= 0)
                        fail_msg("roles_parse_time(\"%s\") accepted as %lld", bad[i], (long long) t);
                if (t != 4242)
                        fail_msg("roles_parse_time(\"%s\") touched the result", bad[i]);
        }
        int64_t t;
        assert_int_equal(roles_parse_time(NULL, 0, &t), -EINVAL);
        assert_int_equal(roles_parse_time("2026-02-31", 0, &t), -EINVAL);
}

static void test_format_time(void **state) {
        char buf[21];
        (void) state;

        assert_string_equal(roles_format_time(0, buf), "1970-01-01T00:00:00Z");
        assert_string_equal(roles_format_time(JAN1_2026, buf), "2026-01-01T00:00:00Z");
        assert_string_equal(roles_format_time(JAN1_2026 + 10 * 3600 + 20 * 60 + 30, buf), "2026-01-01T10:20:30Z");
        assert_string_equal(roles_format_time(INT64_C(253402300799), buf), "9999-12-31T23:59:59Z");
        assert_ptr_equal(roles_format_time(0, buf), buf);
        assert_int_equal(strlen(roles_format_time(JAN1_2026, buf)), 20);

        /* Beyond four-digit years: the epoch number, never a wrong date. */
        assert_string_equal(roles_format_time(INT64_C(253402300800), buf), "@253402300800");
        assert_string_equal(roles_format_time(INT64_C(400000000000), buf), "@400000000000");
        assert_string_equal(roles_format_time(INT64_MAX, buf), "@9223372036854775807");

        /* A value whose number does not fit in 21 bytes must not be shown truncated (a different
         * number): whatever is printed must not parse back to something else. */
        roles_format_time(INT64_MIN, buf);
        assert_true(strlen(buf) < 21);
        assert_string_not_equal(buf, "@-922337203685477580");

        /* Round trip through the parser. */
        for (int64_t t = 1; t < INT64_C(4000000000); t += INT64_C(86400) * 365 + 12345) {
                int64_t back;
                assert_int_equal(roles_parse_time(roles_format_time(t, buf), 0, &back), 0);
                assert_true(back == t);
        }
}

/* ---- uuids and strings ---------------------------------------------------------------------------- */

static void test_uuid(void **state) {
        char a[ROLES_UUID_LEN + 1], b[ROLES_UUID_LEN + 1];
        (void) state;

        for (int i = 0; i < 200; i++) {
                memset(a, 'X', sizeof(a));
                assert_int_equal(roles_uuid_new(a), 0);
                assert_int_equal(strlen(a), ROLES_UUID_LEN);
                assert_true(roles_uuid_valid(a));
                /* Lower-case hex in 8-4-4-4-12, version 4, RFC 4122 variant. */
                for (int j = 0; j < ROLES_UUID_LEN; j++) {
                        if (j == 8 || j == 13 || j == 18 || j == 23)
                                assert_int_equal(a[j], '-');
                        else
                                assert_non_null(strchr("0123456789abcdef", a[j]));
                }
                assert_int_equal(a[14], '4');
                assert_non_null(strchr("89ab", a[19]));
                assert_int_equal(roles_uuid_new(b), 0);
                assert_string_not_equal(a, b);
        }
}

static void test_uuid_valid(void **state) {
        (void) state;

        assert_true(roles_uuid_valid("0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8b"));
        assert_false(roles_uuid_valid(NULL));
        assert_false(roles_uuid_valid(""));
        assert_false(roles_uuid_valid("0B8E5A4E-6F0E-4C1B-9D2A-3C4D5E6F7A8B"));
        assert_false(roles_uuid_valid("0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8"));
        assert_false(roles_uuid_valid("0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8bc"));
        assert_false(roles_uuid_valid("0b8e5a4e06f0e-4c1b-9d2a-3c4d5e6f7a8b"));
        assert_false(roles_uuid_valid("0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8g"));
        assert_false(roles_uuid_valid("0b8e5a4e-6f0e-4c1b-9d2a:3c4d5e6f7a8b"));
}

static void test_strcpy(void **state) {
        char buf[6];
        (void) state;

        assert_int_equal(roles_strcpy(buf, sizeof(buf), "hello"), 0);
        assert_string_equal(buf, "hello");
        assert_int_equal(roles_strcpy(buf, sizeof(buf), ""), 0);
        assert_string_equal(buf, "");
        memcpy(buf, "xxxxx", 6);
        assert_int_equal(roles_strcpy(buf, sizeof(buf), "hello!"), -ENAMETOOLONG);
        assert_string_equal(buf, "");
}


static void test_utf8_len_bounded(void **state) {
        (void) state;
        /* A 2-, 3- and 4-byte character cut short by the length: never read past it (the fuzzer
         * found the NSS parser reading beyond a field's end). */
        assert_int_equal(roles_utf8_len_n("\xc3\xa7", 2), 2);
        assert_int_equal(roles_utf8_len_n("\xc3\xa7", 1), 0);
        assert_int_equal(roles_utf8_len_n("\xe2\x82\xac", 2), 0);
        assert_int_equal(roles_utf8_len_n("\xe2\x82\xac", 3), 3);
        assert_int_equal(roles_utf8_len_n("\xf0\x9f\x98\x80", 3), 0);
        assert_int_equal(roles_utf8_len_n("\xf0\x9f\x98\x80", 4), 4);
        assert_int_equal(roles_utf8_len_n("a", 0), 0);
        assert_int_equal(roles_utf8_len("\xe2\x82"), 0);
}

/* What password_min_length counts: characters, and a byte that starts none as one. */
static void test_utf8_code_points(void **state) {
        (void) state;
        assert_int_equal(roles_utf8_code_points("", 0), 0);
        assert_int_equal(roles_utf8_code_points("password", 8), 8);
        assert_int_equal(roles_utf8_code_points("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9), 3);     /* 日本語 */
        assert_int_equal(roles_utf8_code_points("Zo\xc3\xab", 4), 3);
        assert_int_equal(roles_utf8_code_points("\xf0\x9f\x98\x80!", 5), 2);
        /* Stray, overlong, surrogate and truncated bytes: one each. */
        assert_int_equal(roles_utf8_code_points("\xff\xfe", 2), 2);
        assert_int_equal(roles_utf8_code_points("\xc0\xaf", 2), 2);
        assert_int_equal(roles_utf8_code_points("\xed\xa0\x80", 3), 3);
        assert_int_equal(roles_utf8_code_points("a\xe6\x97", 3), 3);
        /* Only n bytes are looked at: a character cut by n is bytes. */
        assert_int_equal(roles_utf8_code_points("\xe6\x97\xa5", 2), 2);
        assert_int_equal(roles_utf8_code_points("ab\0cd", 5), 5);
}

/* The _n forms check a field in place (the NSS module's lines): only its n bytes, as the
 * NUL-terminated forms check a whole string. */
static void test_valid_n(void **state) {
        (void) state;
        const char line[] = "alice:x:10000:10000:Zo\xc3\xab:/home/alice:/bin/sh";
        assert_true(roles_name_valid_n(line, 5));
        assert_false(roles_name_valid_n(line, 6));              /* the ':' */
        assert_false(roles_name_valid_n(line, 0));
        assert_false(roles_name_valid_n("abcdefghijklmnopqrstuvwxyz0123456789", 33));
        assert_true(roles_name_valid_n("abcdefghijklmnopqrstuvwxyz0123456789", 32));
        assert_false(roles_name_valid_n("ab\0cd", 5));
        const char *gecos = strstr(line, "Zo");
        assert_true(roles_text_valid_n(gecos, 4, ROLES_TEXT_MAX));
        assert_false(roles_text_valid_n(gecos, 3, ROLES_TEXT_MAX));     /* a character cut short */
        assert_false(roles_text_valid_n(gecos, 5, ROLES_TEXT_MAX));     /* the ':' */
        assert_false(roles_text_valid_n(gecos, 4, 3));
        assert_true(roles_text_valid_n(gecos, 0, ROLES_TEXT_MAX));
        assert_false(roles_text_valid_n("a\0b", 3, ROLES_TEXT_MAX));
        assert_false(roles_text_valid_n(NULL, 0, ROLES_TEXT_MAX));
        const char *home = strstr(line, "/home");
        assert_true(roles_path_valid_n(home, 11));
        assert_false(roles_path_valid_n(home, 12));
        assert_false(roles_path_valid_n(home, 0));
        assert_false(roles_path_valid_n("/a b", 4));
        assert_false(roles_path_valid_n("/a,b", 4));
        assert_true(roles_path_valid_n("/a,b", 2));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf8_len_bounded),
                cmocka_unit_test(test_utf8_code_points),
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_name_invalid),
                cmocka_unit_test(test_name_embedded_nul),
                cmocka_unit_test(test_name_length),
                cmocka_unit_test(test_perm_valid),
                cmocka_unit_test(test_perm_covers),
                cmocka_unit_test(test_text_valid),
                cmocka_unit_test(test_valid_n),
                cmocka_unit_test(test_path_valid),
                cmocka_unit_test(test_email_valid),
                cmocka_unit_test(test_parse_id),
                cmocka_unit_test(test_parse_int64),
                cmocka_unit_test(test_parse_time_dates),
                cmocka_unit_test(test_parse_time_epoch_and_relative),
                cmocka_unit_test(test_parse_time_invalid),
                cmocka_unit_test(test_format_time),
                cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_uuid_valid),
                cmocka_unit_test(test_strcpy),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
