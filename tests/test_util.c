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
#include <unistd.h>

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

/* Every byte value at every place after the first of a 24-byte name (checked eight bytes at a
 * time where it can be), against the rule byte by byte. */
static void test_name_every_byte_everywhere(void **state) {
        char buf[24];
        (void) state;
        for (size_t at = 1; at < sizeof(buf); at++)
                for (unsigned b = 0; b < 256; b++) {
                        memset(buf, 'a', sizeof(buf));
                        buf[at] = (char) b;
                        bool valid = (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '_' || b == '.' || b == '-';
                        if (roles_name_valid_n(buf, sizeof(buf)) != valid)
                                fail_msg("byte 0x%02x at %zu: %s", b, at, valid ? "refused" : "accepted");
                }
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

/* Every byte value at every place of a long text or path (checked eight plain bytes at a time
 * where it can be), against the rule byte by byte: a single byte of 0x80 or more is not UTF-8. */
static void test_text_every_byte_everywhere(void **state) {
        char buf[24];
        (void) state;
        for (size_t at = 1; at < sizeof(buf); at++)
                for (unsigned b = 1; b < 256; b++) {
                        memset(buf, 'a', sizeof(buf));
                        buf[0] = '/';
                        buf[at] = (char) b;
                        bool text = b >= 0x20 && b <= 0x7e && b != ':';
                        bool path = text && b != ',' && b != ' ';
                        if (roles_text_valid_n(buf, sizeof(buf), ROLES_TEXT_MAX) != text ||
                            roles_path_valid_n(buf, sizeof(buf)) != path)
                                fail_msg("byte 0x%02x at %zu: text %d, path %d", b, at, !text, !path);
                }
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

/* ---- code points that do not show as themselves ------------------------------------------------ */

/* prefix, the code point in UTF-8, suffix. */
static char *with_code_point(char *buf, size_t size, const char *prefix, uint32_t cp, const char *suffix) {
        char u[5] = { 0 };
        if (cp < 0x80) {
                u[0] = (char) cp;
        } else if (cp < 0x800) {
                u[0] = (char) (0xc0 | cp >> 6);
                u[1] = (char) (0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
                u[0] = (char) (0xe0 | cp >> 12);
                u[1] = (char) (0x80 | (cp >> 6 & 0x3f));
                u[2] = (char) (0x80 | (cp & 0x3f));
        } else {
                u[0] = (char) (0xf0 | cp >> 18);
                u[1] = (char) (0x80 | (cp >> 12 & 0x3f));
                u[2] = (char) (0x80 | (cp >> 6 & 0x3f));
                u[3] = (char) (0x80 | (cp & 0x3f));
        }
        assert_true((size_t) snprintf(buf, size, "%s%s%s", prefix, u, suffix) < size);
        return buf;
}

/* One or more code points of each class the brief names, and their neighbours that stay. */
static const uint32_t refused_samples[] = {
        0x0000, 0x0001, 0x001f, 0x007f,                         /* Cc: C0, DEL */
        0x0080, 0x0085, 0x009b, 0x009f,                         /* Cc: C1 */
        0x00ad, 0x0600, 0x0605, 0x061c, 0x06dd, 0x070f,         /* Cf */
        0x0890, 0x0891, 0x08e2, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f,
        0x202a, 0x202d, 0x202e, 0x2060, 0x2064, 0x2066, 0x2069, 0x206f, 0xfeff,
        0xfff9, 0xfffb, 0x110bd, 0x110cd, 0x13430, 0x1343f, 0x1bca0, 0x1bca3,
        0x1d173, 0x1d17a, 0xe0001, 0xe0020, 0xe0041, 0xe007f,
        0x2028,                                                 /* Zl */
        0x2029,                                                 /* Zp */
        0x00a0, 0x1680, 0x2000, 0x2007, 0x200a, 0x202f, 0x205f, 0x3000,    /* Zs but U+0020 */
        0x115f, 0x1160, 0x3164, 0xffa0, 0x034f,                 /* invisible fillers, CGJ */
        0x17b4, 0x17b5, 0x180b, 0x180d, 0x180f,                 /* other ignorables */
        0xfe00, 0xfe0f, 0xe0100, 0xe01ef,                       /* variation selectors */
        0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x1ffff, 0x2fffe, 0xeffff, 0x10fffe, 0x10ffff, /* noncharacters */
        0xe000, 0xf8ff, 0xf0000, 0xffffd, 0x100000, 0x10fffd,   /* private use */
};
static const uint32_t allowed_samples[] = {
        0x0020, 0x0021, 0x007e, 0x00a1, 0x00ac, 0x00ae, 0x00e9, 0x0350, 0x05d0, 0x0627, 0x0606,
        0x061b, 0x061d, 0x115e, 0x1161, 0x167f, 0x1681, 0x17b6, 0x180a, 0x1810, 0x1fff, 0x2010,
        0x2027, 0x2030, 0x205e, 0x2070, 0x2ffb, 0x3001, 0x3163, 0x3165, 0x65e5, 0xd7ff, 0xf900,
        0xfdcf, 0xfdf0, 0xfdfd, 0xfe10, 0xfefe, 0xff9f, 0xffa1, 0xfffc, 0xfffd, 0x10000, 0x110bc,
        0x1d172, 0x1d17b, 0x1f600, 0x1fffd, 0x20000, 0xdfffd, 0xe1000, 0xefffd,
};

static void test_refused_code_points(void **state) {
        char buf[64], why[ROLES_WHY_MAX], want[32];
        (void) state;

        for (size_t i = 0; i < ROLES_N_ELEMENTS(refused_samples); i++) {
                uint32_t cp = refused_samples[i];
                assert_true(roles_code_point_refused(cp));
                /* In a full name, a path and an email, and fields checked in place (NSS). */
                with_code_point(buf, sizeof(buf), "Ann", cp, "Lee");
                size_t n = cp == 0 ? 7 : strlen(buf);   /* a NUL only as a field in place */
                assert_false(roles_text_valid_n(buf, n, ROLES_TEXT_MAX));
                if (cp == 0)
                        continue;
                assert_false(roles_text_valid(buf, ROLES_TEXT_MAX));
                /* The error says which code point. */
                assert_int_equal(roles_text_check(buf, ROLES_TEXT_MAX, why, sizeof(why)), -EINVAL);
                snprintf(want, sizeof(want), "U+%04X is not allowed", (unsigned) cp);
                if (!strstr(why, want))
                        fail_msg("U+%04X: \"%s\" does not say \"%s\"", (unsigned) cp, why, want);
                with_code_point(buf, sizeof(buf), "/home/a", cp, "b");
                assert_false(roles_path_valid(buf));
                assert_false(roles_path_valid_n(buf, strlen(buf)));
                assert_int_equal(roles_path_check(buf, why, sizeof(why)), -EINVAL);
                assert_non_null(strstr(why, want));
                with_code_point(buf, sizeof(buf), "a", cp, "b@example.org");
                assert_false(roles_email_valid(buf));
                assert_int_equal(roles_email_check(buf, why, sizeof(why)), -EINVAL);
                assert_non_null(strstr(why, want));
        }
        for (size_t i = 0; i < ROLES_N_ELEMENTS(allowed_samples); i++) {
                uint32_t cp = allowed_samples[i];
                if (roles_code_point_refused(cp))
                        fail_msg("U+%04X is refused", (unsigned) cp);
                with_code_point(buf, sizeof(buf), "Ann", cp, "Lee");
                assert_true(roles_text_valid(buf, ROLES_TEXT_MAX));
                assert_true(roles_text_valid_n(buf, strlen(buf), ROLES_TEXT_MAX));
                assert_int_equal(roles_text_check(buf, ROLES_TEXT_MAX, why, sizeof(why)), 0);
        }
}

/* What the other refusals say, and that a check leaves why alone when it passes. */
static void test_text_check_why(void **state) {
        char why[ROLES_WHY_MAX];
        (void) state;

        assert_int_equal(roles_text_check("a:b", ROLES_TEXT_MAX, why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "':' is not allowed");
        assert_int_equal(roles_text_check("a\x1b[31m", ROLES_TEXT_MAX, why, sizeof(why)), -EINVAL);
        assert_non_null(strstr(why, "U+001B is not allowed"));
        assert_int_equal(roles_text_check("ab\xff", ROLES_TEXT_MAX, why, sizeof(why)), -EILSEQ);
        assert_string_equal(why, "not well-formed UTF-8 (at byte 3)");
        assert_int_equal(roles_text_check("abcd", 3, why, sizeof(why)), -E2BIG);
        assert_string_equal(why, "longer than 3 bytes");
        assert_int_equal(roles_text_check(NULL, 3, NULL, 0), -EINVAL);
        assert_int_equal(roles_path_check("home/a", why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "not an absolute path");
        assert_int_equal(roles_path_check("/home/a b", why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "a space is not allowed");
        assert_int_equal(roles_path_check("/home/a,b", why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "',' is not allowed");
        assert_int_equal(roles_email_check("a@b@c", why, sizeof(why)), -EINVAL);
        assert_non_null(strstr(why, "one '@'"));
        /* A small buffer truncates, never overflows; NULL asks for no reason. */
        assert_int_equal(roles_text_check("a\xe2\x80\xae", ROLES_TEXT_MAX, why, 8), -EINVAL);
        assert_string_equal(why, "U+202E ");
        assert_int_equal(roles_text_check("a\xe2\x80\xae", ROLES_TEXT_MAX, NULL, 0), -EINVAL);
        strcpy(why, "untouched");
        assert_int_equal(roles_text_check("Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac", ROLES_TEXT_MAX, why, sizeof(why)), 0);
        assert_string_equal(why, "untouched");
}

static void test_utf8_decode(void **state) {
        uint32_t cp = 7;
        (void) state;
        assert_int_equal(roles_utf8_decode_n("A", 1, &cp), 1);
        assert_int_equal(cp, 0x41);
        assert_int_equal(roles_utf8_decode_n("\xc3\xab", 2, &cp), 2);
        assert_int_equal(cp, 0xeb);
        assert_int_equal(roles_utf8_decode_n("\xe2\x80\xae", 3, &cp), 3);
        assert_int_equal(cp, 0x202e);
        assert_int_equal(roles_utf8_decode_n("\xf4\x8f\xbf\xbf", 4, &cp), 4);
        assert_int_equal(cp, 0x10ffff);
        assert_int_equal(roles_utf8_decode_n("\xf3\xa0\x80\x81", 4, &cp), 4);
        assert_int_equal(cp, 0xe0001);
        /* Not well-formed, or cut short: 0, and cp untouched. */
        cp = 7;
        assert_int_equal(roles_utf8_decode_n("\xe2\x80\xae", 2, &cp), 0);
        assert_int_equal(roles_utf8_decode_n("\xc0\xaf", 2, &cp), 0);
        assert_int_equal(roles_utf8_decode_n("\xed\xa0\x80", 3, &cp), 0);
        assert_int_equal(roles_utf8_decode_n("\xf4\x90\x80\x80", 4, &cp), 0);
        assert_int_equal(cp, 7);
}

/*
 * The table against Unicode's own data, code point by code point, as python3's unicodedata
 * knows it: every Cc, Cf, Zl, Zp, Co, Zs but U+0020 and noncharacter is refused; no letter,
 * mark, number, punctuation or symbol is, but the invisible ones refused on purpose. Code points
 * unassigned in that version may go either way (the table holds some of Unicode 15's).
 */
static const char unicode_data_py[] =
        "import sys, unicodedata as u\n"
        "print('V', u.unidata_version)\n"
        "def ranges(tag, pred):\n"
        "    start = None\n"
        "    for c in range(0x110001):\n"
        "        inside = c <= 0x10ffff and pred(c, u.category(chr(c)))\n"
        "        if inside and start is None: start = c\n"
        "        if not inside and start is not None: print(tag, start, c - 1); start = None\n"
        "ranges('R', lambda c, k: k in ('Cc', 'Cf', 'Zl', 'Zp', 'Co') or (k == 'Zs' and c != 0x20) or\n"
        "       0xfdd0 <= c <= 0xfdef or c & 0xfffe == 0xfffe)\n"
        "ranges('G', lambda c, k: k[0] in 'LMNPS' or c == 0x20)\n";

static bool refused_on_purpose(uint32_t cp) {
        static const struct { uint32_t first, last; } graphic[] = {
                { 0x034f, 0x034f },     /* combining grapheme joiner */
                { 0x115f, 0x1160 },     /* Hangul fillers */
                { 0x17b4, 0x17b5 },     /* Khmer inherent vowels */
                { 0x180b, 0x180f },     /* Mongolian free variation selectors */
                { 0x3164, 0x3164 },     /* Hangul filler */
                { 0xfe00, 0xfe0f },     /* variation selectors */
                { 0xffa0, 0xffa0 },     /* halfwidth Hangul filler */
                { 0xe0100, 0xe01ef },   /* variation selectors supplement */
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(graphic); i++)
                if (cp >= graphic[i].first && cp <= graphic[i].last)
                        return true;
        return false;
}

static void test_refused_matches_unicode_data(void **state) {
        char path[] = "/tmp/roles-unicode-XXXXXX", cmd[128], tag[4], version[32] = "";
        unsigned long first, last, n_ranges = 0, bad = 0, checked = 0;
        (void) state;

        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, unicode_data_py, sizeof(unicode_data_py) - 1), (ssize_t) sizeof(unicode_data_py) - 1);
        close(fd);
        snprintf(cmd, sizeof(cmd), "python3 %s", path);
        FILE *py = popen(cmd, "r");
        assert_non_null(py);
        assert_int_equal(fscanf(py, "V %31s\n", version), 1);
        while (fscanf(py, "%3s %lu %lu\n", tag, &first, &last) == 3) {
                n_ranges++;
                for (unsigned long cp = first; cp <= last; cp++, checked++) {
                        bool refused = roles_code_point_refused((uint32_t) cp);
                        bool want = tag[0] == 'R' || refused_on_purpose((uint32_t) cp);
                        if (refused != want && bad++ < 20)
                                print_error("U+%04lX (%s): %s, want %s\n", cp, tag[0] == 'R' ? "Cc/Cf/Zl/Zp/Zs/Co/noncharacter" :
                                            "graphic", refused ? "refused" : "allowed", want ? "refused" : "allowed");
                }
        }
        int status = pclose(py);
        unlink(path);
        assert_int_equal(status, 0);
        print_message("Unicode %s: %lu ranges, %lu code points checked\n", version, n_ranges, checked);
        /* python3 ran and said something: a missing python3 is a failure, not a pass. */
        assert_true(n_ranges > 100 && checked > 100000);
        assert_int_equal(bad, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf8_len_bounded),
                cmocka_unit_test(test_utf8_code_points),
                cmocka_unit_test(test_utf8_decode),
                cmocka_unit_test(test_refused_code_points),
                cmocka_unit_test(test_text_check_why),
                cmocka_unit_test(test_refused_matches_unicode_data),
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_name_invalid),
                cmocka_unit_test(test_name_embedded_nul),
                cmocka_unit_test(test_name_length),
                cmocka_unit_test(test_name_every_byte_everywhere),
                cmocka_unit_test(test_perm_valid),
                cmocka_unit_test(test_perm_covers),
                cmocka_unit_test(test_text_valid),
                cmocka_unit_test(test_valid_n),
                cmocka_unit_test(test_path_valid),
                cmocka_unit_test(test_text_every_byte_everywhere),
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
