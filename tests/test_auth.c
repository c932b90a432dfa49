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
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <argon2.h>
#include <cmocka.h>
#include <crypt.h>
#include <dlfcn.h>
#include <liboath/oath.h>
#include <sodium.h>

#include "auth.h"
#include "config.h"
#include "login_slots.h"
#include "util.h"

/* Cheap parameters: the tests check behaviour, not cost. */
static const struct roles_hash_params cheap = { .t_cost = 1, .m_cost_kib = 1024, .parallelism = 1 };

static const char uuid_a[] = "0b8e5a4e-6f0e-4c1b-9d2a-3c4d5e6f7a8b";
static const char uuid_b[] = "1c9f6b5f-7a1f-4d2c-8e3b-4d5e6f7a8b9c";

/* RFC 6238 appendix B: the SHA1 seed "12345678901234567890". */
static const char rfc_secret[] = "12345678901234567890";
static const char rfc_secret_b32[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

static struct roles_hash_params default_ceiling(void) {
        struct roles_config cfg;
        struct roles_hash_params ceiling;

        roles_config_defaults(&cfg);
        roles_hash_ceiling_from_config(&cfg, &ceiling);
        return ceiling;
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b) {
        return (double) (b->tv_sec - a->tv_sec) * 1e3 + (double) (b->tv_nsec - a->tv_nsec) / 1e6;
}

static void make_hash(const char *password, const struct roles_hash_params *params,
                      char out[static ROLES_HASH_ENCODED_MAX]) {
        assert_int_equal(roles_password_hash(password, strlen(password), params, out), 0);
}

/* The "$SALT$HASH" tail of a real hash, to build strings that differ only in the header. */
static const char *salt_and_hash(const char *encoded) {
        const char *p = encoded;
        for (int i = 0; i < 3; i++) {
                p = strchr(p + 1, '$');
                assert_non_null(p);
        }
        return p;
}

/* ---- argon2id ---------------------------------------------------------------------------- */

static void test_params_from_config(void **state) {
        struct roles_config cfg;
        struct roles_hash_params p;
        (void) state;

        roles_config_defaults(&cfg);
        roles_hash_params_from_config(&cfg, &p);
        assert_int_equal(p.t_cost, 3);
        assert_int_equal(p.m_cost_kib, 65536);
        assert_int_equal(p.parallelism, 4);
}

static void test_ceiling_from_config(void **state) {
        struct roles_config cfg;
        struct roles_hash_params c;
        (void) state;

        /* The defaults are the RFC 9106 values: four times those. */
        roles_config_defaults(&cfg);
        roles_hash_ceiling_from_config(&cfg, &c);
        assert_int_equal(c.t_cost, 12);
        assert_int_equal(c.m_cost_kib, 262144);
        assert_int_equal(c.parallelism, 16);

        /* Configuring cheaper hashes must not lower the ceiling below RFC 9106 x 4 ... */
        cfg.argon2_t_cost = 1;
        cfg.argon2_m_cost_kib = 1024;
        cfg.argon2_parallelism = 1;
        roles_hash_ceiling_from_config(&cfg, &c);
        assert_int_equal(c.t_cost, 12);
        assert_int_equal(c.m_cost_kib, 262144);
        assert_int_equal(c.parallelism, 16);

        /* ... and dearer ones raise it. */
        cfg.argon2_t_cost = 10;
        cfg.argon2_m_cost_kib = 131072;
        cfg.argon2_parallelism = 8;
        roles_hash_ceiling_from_config(&cfg, &c);
        assert_int_equal(c.t_cost, 40);
        assert_int_equal(c.m_cost_kib, 524288);
        assert_int_equal(c.parallelism, 32);

        /* The largest values the config accepts do not overflow. */
        cfg.argon2_t_cost = 64;
        cfg.argon2_m_cost_kib = 4 * 1024 * 1024;
        cfg.argon2_parallelism = 64;
        roles_hash_ceiling_from_config(&cfg, &c);
        assert_int_equal(c.t_cost, 256);
        assert_int_equal(c.m_cost_kib, 16 * 1024 * 1024);
        assert_int_equal(c.parallelism, 256);
}

static void test_hash_verify(void **state) {
        struct roles_hash_params ceiling = default_ceiling();
        char h[ROLES_HASH_ENCODED_MAX];
        (void) state;

        make_hash("correct horse battery staple", &cheap, h);
        assert_true(strncmp(h, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
        assert_true(strlen(h) < ROLES_HASH_ENCODED_MAX);

        assert_int_equal(roles_password_verify(h, "correct horse battery staple", 28, &ceiling), 0);
        assert_int_equal(roles_password_verify(h, "correct horse battery stapl", 27, &ceiling), -EACCES);
        assert_int_equal(roles_password_verify(h, "correct horse battery staple!", 29, &ceiling), -EACCES);
        assert_int_equal(roles_password_verify(h, "Correct horse battery staple", 28, &ceiling), -EACCES);
        assert_int_equal(roles_password_verify(h, "", 0, &ceiling), -EACCES);

        /* The length is what counts, not a NUL: embedded NULs are part of the password. */
        char with_nul[] = "ab\0cd";
        make_hash("", &cheap, h);
        assert_int_equal(roles_password_verify(h, "", 0, &ceiling), 0);
        assert_int_equal(roles_password_hash(with_nul, 5, &cheap, h), 0);
        assert_int_equal(roles_password_verify(h, with_nul, 5, &ceiling), 0);
        assert_int_equal(roles_password_verify(h, with_nul, 2, &ceiling), -EACCES);
}

static void test_hash_parse(void **state) {
        const struct roles_hash_params other = { .t_cost = 2, .m_cost_kib = 2048, .parallelism = 2 };
        struct roles_hash_info info;
        char h[ROLES_HASH_ENCODED_MAX];
        (void) state;

        make_hash("pw", &cheap, h);
        assert_int_equal(roles_hash_parse(h, &info), 0);
        assert_int_equal(info.version, 0x13);
        assert_int_equal(info.params.t_cost, 1);
        assert_int_equal(info.params.m_cost_kib, 1024);
        assert_int_equal(info.params.parallelism, 1);
        assert_int_equal(info.salt_len, ROLES_HASH_SALT_LEN);
        assert_int_equal(info.hash_len, ROLES_HASH_LEN);

        make_hash("pw", &other, h);
        assert_int_equal(roles_hash_parse(h, &info), 0);
        assert_int_equal(info.params.t_cost, 2);
        assert_int_equal(info.params.m_cost_kib, 2048);
        assert_int_equal(info.params.parallelism, 2);

        /* Base64 lengths with each remainder: 12 chars = 9 bytes, 11 = 8, 10 = 7 (too short). */
        assert_int_equal(roles_hash_parse("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAA$AAAAAAAAAAA", &info), 0);
        assert_int_equal(info.salt_len, 9);
        assert_int_equal(info.hash_len, 8);
        assert_int_equal(roles_hash_parse("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAA$AAAAAAAAAAA", &info), -EINVAL);
        /* The largest values a uint32 holds still parse (the ceiling, not the parser, stops them). */
        assert_int_equal(roles_hash_parse("$argon2id$v=19$m=4294967295,t=4294967295,p=16777215$AAAAAAAAAAA$AAAAAAAAAAA",
                                          &info), 0);
        assert_int_equal(info.params.m_cost_kib, UINT32_MAX);
        assert_int_equal(info.params.t_cost, UINT32_MAX);
}

static void test_hash_salted(void **state) {
        struct roles_hash_params ceiling = default_ceiling();
        char a[ROLES_HASH_ENCODED_MAX], b[ROLES_HASH_ENCODED_MAX];
        (void) state;

        make_hash("same password", &cheap, a);
        make_hash("same password", &cheap, b);
        assert_string_not_equal(a, b);
        /* Not just the hash: the salts themselves differ. */
        assert_false(strncmp(salt_and_hash(a), salt_and_hash(b), 23) == 0);
        assert_int_equal(roles_password_verify(a, "same password", 13, &ceiling), 0);
        assert_int_equal(roles_password_verify(b, "same password", 13, &ceiling), 0);
}

static void test_hash_malformed(void **state) {
        struct roles_hash_params ceiling = default_ceiling();
        struct roles_hash_info info;
        char h[ROLES_HASH_ENCODED_MAX], buf[2 * ROLES_HASH_ENCODED_MAX];
        (void) state;

        make_hash("pw", &cheap, h);
        const char *tail = salt_and_hash(h);   /* "$SALT$HASH" */

        static const char *const headers[] = {
                "$argon2i$v=19$m=1024,t=1,p=1",
                "$argon2d$v=19$m=1024,t=1,p=1",
                "$ARGON2ID$v=19$m=1024,t=1,p=1",
                "$argon2$v=19$m=1024,t=1,p=1",
                "argon2id$v=19$m=1024,t=1,p=1",
                "$argon2id$m=1024,t=1,p=1",                 /* version missing (argon2 1.0) */
                "$argon2id$v=16$m=1024,t=1,p=1",
                "$argon2id$v=019$m=1024,t=1,p=1",
                "$argon2id$v=19$m=1024,t=1",                 /* p missing */
                "$argon2id$v=19$m=1024,p=1",                 /* t missing */
                "$argon2id$v=19$t=1,p=1",                    /* m missing */
                "$argon2id$v=19$t=1,m=1024,p=1",             /* order */
                "$argon2id$v=19$m=1024,t=1,p=1,keyid=AAAA",  /* argon2 1.0 extras */
                "$argon2id$v=19$m=1024,t=1,p=",
                "$argon2id$v=19$m=,t=1,p=1",
                "$argon2id$v=19$m=01024,t=1,p=1",            /* leading zero */
                "$argon2id$v=19$m=+1024,t=1,p=1",
                "$argon2id$v=19$m=-1024,t=1,p=1",
                "$argon2id$v=19$m= 1024,t=1,p=1",
                "$argon2id$v=19$m=1024 ,t=1,p=1",
                "$argon2id$v=19$m=0x400,t=1,p=1",
                "$argon2id$v=19$m=4294967296,t=1,p=1",       /* UINT32_MAX + 1 */
                "$argon2id$v=19$m=18446744073709551616,t=1,p=1",
                "$argon2id$v=19$m=99999999999999999999999999,t=1,p=1",
                "$argon2id$v=19$m=1024,t=4294967296,p=1",
                "$argon2id$v=19$m=1024,t=1,p=4294967297",
                "$argon2id$v=19$m=1024,t=0,p=1",             /* argon2 needs t >= 1 */
                "$argon2id$v=19$m=1024,t=1,p=0",             /* ... p >= 1 */
                "$argon2id$v=19$m=7,t=1,p=1",                /* ... m >= 8 p */
                "$argon2id$v=19$m=1024,t=1,p=16777216",      /* ... p < 2^24 */
                "$argon2id$v=19$M=1024,T=1,P=1",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(headers); i++) {
                snprintf(buf, sizeof(buf), "%s%s", headers[i], tail);
                if (roles_hash_parse(buf, &info) != -EINVAL)
                        fail_msg("accepted: %s", buf);
                assert_int_equal(roles_password_verify(buf, "pw", 2, &ceiling), -EINVAL);
                assert_true(roles_password_needs_rehash(buf, &cheap));
        }

        static const char *const strings[] = {
                "",
                "$",
                "$argon2id",
                "$argon2id$",
                "$argon2id$v=19",
                "$argon2id$v=19$",
                "$argon2id$v=19$m=1024,t=1,p=1",
                "$argon2id$v=19$m=1024,t=1,p=1$",
                "$argon2id$v=19$m=1024,t=1,p=1$$",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$",
                "$argon2id$v=19$m=1024,t=1,p=1$$AAAAAAAAAAAAAAAAAAAAAA",
                /* padding, which argon2 never writes */
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA==",
                /* characters outside standard base64 (URL-safe, space, '*') */
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAA-AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAA_AAAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAA AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAA*A",
                /* a lone final character (6 bits do not make a byte) */
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                /* unused trailing bits set: a second spelling of the same bytes */
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAB$AAAAAAAAAAAAAAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAB",
                /* salt or hash shorter than 8 or longer than 64 bytes */
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAA",
                "$argon2id$v=19$m=1024,t=1,p=1$"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "$AAAAAAAAAAAAAAAAAAAAAA",
                /* trailing junk */
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA$",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA\n",
                "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
                " $argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                /* other schemes */
                "$6$saltsalt$abcdefghijklmnopqrstuvwxyz",
                "$2y$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
                "*",
                "!",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(strings); i++) {
                if (roles_hash_parse(strings[i], &info) != -EINVAL)
                        fail_msg("accepted: %s", strings[i]);
                assert_int_equal(roles_password_verify(strings[i], "pw", 2, &ceiling), -EINVAL);
                assert_true(roles_password_needs_rehash(strings[i], &cheap));
        }

        assert_int_equal(roles_hash_parse(NULL, &info), -EINVAL);
        assert_int_equal(roles_password_verify(NULL, "pw", 2, &ceiling), -EINVAL);
        assert_true(roles_password_needs_rehash(NULL, &cheap));

        /* Too long as a whole, even if every part were fine. */
        memset(buf, 'A', sizeof(buf));
        snprintf(buf, sizeof(buf), "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$");
        buf[strlen(buf)] = 'A';
        buf[ROLES_HASH_ENCODED_MAX] = '\0';
        assert_int_equal(roles_hash_parse(buf, &info), -EINVAL);
        assert_int_equal(roles_password_verify(buf, "pw", 2, &ceiling), -EINVAL);

        /*
         * Every truncation of a real hash is either refused as malformed or, where it is
         * still well formed (a shorter hash part), fails to verify: none ever matches.
         */
        size_t n = strlen(h);
        for (size_t len = 0; len < n; len++) {
                memcpy(buf, h, len);
                buf[len] = '\0';
                int r = roles_password_verify(buf, "pw", 2, &ceiling);
                if (r != -EINVAL && r != -EACCES)
                        fail_msg("truncation to %zu bytes: %d", len, r);
                if (len <= (size_t) (tail - h) + 23)    /* up to the end of the salt: malformed */
                        assert_int_equal(r, -EINVAL);
        }

        /* Tamper with each hash character: the result is malformed or a mismatch. */
        memcpy(buf, h, n + 1);
        for (size_t i = (size_t) (tail - h) + 24; i < n; i++) {
                char saved = buf[i];
                buf[i] = saved == 'A' ? 'B' : 'A';
                int r = roles_password_verify(buf, "pw", 2, &ceiling);
                if (r != -EINVAL && r != -EACCES)
                        fail_msg("tampered at %zu: %d", i, r);
                buf[i] = saved;
        }
        assert_int_equal(roles_password_verify(buf, "pw", 2, &ceiling), 0);
}

static void test_hash_above_ceiling(void **state) {
        struct roles_hash_params ceiling = default_ceiling();
        struct roles_hash_info info;
        struct timespec a, b;
        char h[ROLES_HASH_ENCODED_MAX], buf[ROLES_HASH_ENCODED_MAX];
        (void) state;

        assert_int_equal(ceiling.m_cost_kib, 262144);
        make_hash("pw", &cheap, h);
        const char *tail = salt_and_hash(h);

        /* 4 GiB of memory asked for: must be refused at once, with nothing allocated. */
        snprintf(buf, sizeof(buf), "$argon2id$v=19$m=4194304,t=1,p=1%s", tail);
        assert_int_equal(roles_hash_parse(buf, &info), 0);
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(roles_password_verify(buf, "pw", 2, &ceiling), -E2BIG);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_true(elapsed_ms(&a, &b) < 50.0);

        static const char *const headers[] = {
                "$argon2id$v=19$m=262145,t=1,p=1",         /* one above each ceiling */
                "$argon2id$v=19$m=1024,t=13,p=1",
                "$argon2id$v=19$m=1024,t=1,p=17",
                "$argon2id$v=19$m=4294967295,t=4294967295,p=16777215",
                "$argon2id$v=19$m=65536,t=4000000000,p=1",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(headers); i++) {
                snprintf(buf, sizeof(buf), "%s%s", headers[i], tail);
                clock_gettime(CLOCK_MONOTONIC, &a);
                assert_int_equal(roles_password_verify(buf, "pw", 2, &ceiling), -E2BIG);
                clock_gettime(CLOCK_MONOTONIC, &b);
                assert_true(elapsed_ms(&a, &b) < 50.0);
        }

        /* The bounds are inclusive: a ceiling equal to the stored parameters lets it through. */
        const struct roles_hash_params exact = cheap;
        assert_int_equal(roles_password_verify(h, "pw", 2, &exact), 0);
        assert_int_equal(roles_password_verify(h, "px", 2, &exact), -EACCES);
        const struct roles_hash_params low_t = { .t_cost = 0, .m_cost_kib = 1024, .parallelism = 1 };
        const struct roles_hash_params low_m = { .t_cost = 1, .m_cost_kib = 1023, .parallelism = 1 };
        const struct roles_hash_params low_p = { .t_cost = 1, .m_cost_kib = 1024, .parallelism = 0 };
        assert_int_equal(roles_password_verify(h, "pw", 2, &low_t), -E2BIG);
        assert_int_equal(roles_password_verify(h, "pw", 2, &low_m), -E2BIG);
        assert_int_equal(roles_password_verify(h, "pw", 2, &low_p), -E2BIG);
}

static void test_password_too_long(void **state) {
        struct roles_hash_params ceiling = default_ceiling();
        char h[ROLES_HASH_ENCODED_MAX], untouched[ROLES_HASH_ENCODED_MAX];
        struct timespec a, b;
        char *pw;
        (void) state;

        pw = malloc(ROLES_PASSWORD_MAX + 2);
        assert_non_null(pw);
        memset(pw, 'x', ROLES_PASSWORD_MAX + 1);
        pw[ROLES_PASSWORD_MAX + 1] = '\0';

        memset(h, '#', sizeof(h));
        memcpy(untouched, h, sizeof(h));
        assert_int_equal(roles_password_hash(pw, ROLES_PASSWORD_MAX + 1, &cheap, h), -E2BIG);
        assert_memory_equal(h, untouched, sizeof(h));   /* ret_ left alone on failure */

        /* Exactly the maximum is fine. */
        assert_int_equal(roles_password_hash(pw, ROLES_PASSWORD_MAX, &cheap, h), 0);
        assert_int_equal(roles_password_verify(h, pw, ROLES_PASSWORD_MAX, &ceiling), 0);

        /* One byte more is refused before any hashing, even against a well-formed hash. */
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(roles_password_verify(h, pw, ROLES_PASSWORD_MAX + 1, &ceiling), -E2BIG);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_true(elapsed_ms(&a, &b) < 50.0);
        assert_int_equal(roles_password_verify(h, pw, SIZE_MAX, &ceiling), -E2BIG);

        free(pw);
}

/* rolesctl and PAM's password change both ask this one function. */
static void test_password_policy(void **state) {
        struct roles_config cfg;
        char *pw;
        (void) state;

        roles_config_defaults(&cfg);
        assert_int_equal(cfg.password_min_length, 8);
        /* Characters, not bytes: 日本語 is 9 bytes, 3 characters; 8 CJK characters pass. */
        assert_int_equal(roles_password_policy_check("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, &cfg), -ERANGE);
        assert_int_equal(roles_password_policy_check("日本語日本語日本", strlen("日本語日本語日本"), &cfg), 0);
        assert_int_equal(roles_password_policy_check("日本語日本語日", strlen("日本語日本語日"), &cfg), -ERANGE);
        assert_int_equal(roles_password_policy_check("1234567", 7, &cfg), -ERANGE);
        assert_int_equal(roles_password_policy_check("12345678", 8, &cfg), 0);
        assert_int_equal(roles_password_policy_check("", 0, &cfg), -ERANGE);
        /* Bytes that are not UTF-8 count one each. */
        assert_int_equal(roles_password_policy_check("\xff\xfe\xfd\xfc\xfb\xfa\xf9", 7, &cfg), -ERANGE);
        assert_int_equal(roles_password_policy_check("\xe6\x97\xa5\xff\xfe\xfd\xfc\xfb", 8, &cfg), -ERANGE);
        assert_int_equal(roles_password_policy_check("\xe6\x97\xa5\xff\xfe\xfd\xfc\xfb\xfa\xf9", 10, &cfg), 0);
        /* A NUL, whatever the length. */
        assert_int_equal(roles_password_policy_check("abcd\0efghij", 11, &cfg), -EINVAL);
        cfg.password_min_length = 3;
        assert_int_equal(roles_password_policy_check("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, &cfg), 0);

        /* At most ROLES_PASSWORD_MAX bytes, however few characters they make. */
        pw = malloc(ROLES_PASSWORD_MAX + 3);
        assert_non_null(pw);
        for (size_t i = 0; i + 3 <= ROLES_PASSWORD_MAX + 3; i += 3)
                memcpy(pw + i, "\xe6\x97\xa5", 3);
        assert_int_equal(roles_password_policy_check(pw, ROLES_PASSWORD_MAX - 1, &cfg), 0);
        assert_int_equal(roles_password_policy_check(pw, ROLES_PASSWORD_MAX + 2, &cfg), -E2BIG);
        memset(pw, 'x', ROLES_PASSWORD_MAX + 1);
        assert_int_equal(roles_password_policy_check(pw, ROLES_PASSWORD_MAX, &cfg), 0);
        assert_int_equal(roles_password_policy_check(pw, ROLES_PASSWORD_MAX + 1, &cfg), -E2BIG);
        free(pw);

        /* And one wording of its refusals, which both say. */
        char why[128];
        assert_string_equal(roles_password_policy_refusal(-ERANGE, &cfg, why, sizeof(why)),
                            "password too short: at least 3 characters");
        assert_string_equal(roles_password_policy_refusal(-E2BIG, &cfg, why, sizeof(why)),
                            "password too long: at most 4096 bytes");
        assert_string_equal(roles_password_policy_refusal(-EINVAL, &cfg, why, sizeof(why)),
                            "the password contains a NUL byte");
}

static void test_hash_bad_params(void **state) {
        char h[ROLES_HASH_ENCODED_MAX];
        const struct roles_hash_params zero_t = { .t_cost = 0, .m_cost_kib = 1024, .parallelism = 1 };
        const struct roles_hash_params zero_p = { .t_cost = 1, .m_cost_kib = 1024, .parallelism = 0 };
        const struct roles_hash_params low_m = { .t_cost = 1, .m_cost_kib = 15, .parallelism = 2 };
        (void) state;

        assert_int_equal(roles_password_hash("pw", 2, &zero_t, h), -EINVAL);
        assert_int_equal(roles_password_hash("pw", 2, &zero_p, h), -EINVAL);
        assert_int_equal(roles_password_hash("pw", 2, &low_m, h), -EINVAL);
        assert_int_equal(roles_password_hash(NULL, 0, &cheap, h), -EINVAL);
}

static void test_needs_rehash(void **state) {
        char h[ROLES_HASH_ENCODED_MAX], buf[ROLES_HASH_ENCODED_MAX];
        struct roles_hash_params p = cheap;
        (void) state;

        make_hash("pw", &cheap, h);
        assert_false(roles_password_needs_rehash(h, &cheap));

        p.t_cost = 2;
        assert_true(roles_password_needs_rehash(h, &p));
        p = cheap;
        p.m_cost_kib = 2048;
        assert_true(roles_password_needs_rehash(h, &p));
        p = cheap;
        p.parallelism = 2;
        assert_true(roles_password_needs_rehash(h, &p));

        /* Stronger stored parameters than configured also mean "rehash to the configured ones". */
        const struct roles_hash_params stronger = { .t_cost = 2, .m_cost_kib = 2048, .parallelism = 2 };
        make_hash("pw", &stronger, h);
        assert_true(roles_password_needs_rehash(h, &cheap));
        assert_false(roles_password_needs_rehash(h, &stronger));

        /* Same parameters, but a salt or hash shorter than we make: rehash. */
        snprintf(buf, sizeof(buf), "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAA$%s", strrchr(h, '$') + 1);
        assert_true(roles_password_needs_rehash(buf, &cheap));
        snprintf(buf, sizeof(buf), "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAA");
        assert_true(roles_password_needs_rehash(buf, &cheap));

        /* Not argon2id, or not a hash at all. */
        assert_true(roles_password_needs_rehash("$6$saltsalt$abcdefghijklmnopqrstuvwxyz", &cheap));
        assert_true(roles_password_needs_rehash("", &cheap));
        assert_true(roles_password_needs_rehash(NULL, &cheap));
        assert_true(roles_password_needs_rehash(h, NULL));
}

/* ---- what a refusal costs --------------------------------------------------------------------- */

/*
 * The argon2 work the core does, counted rather than timed (nothing here depends on the machine's
 * load): this argon2id_verify is the one the core, linked into this program, calls; it counts
 * the call and hands it on to libargon2's.
 */
static struct {
        struct roles_hash_params configured;
        int calls;
        int full;       /* calls at the configured m and t or above */
} argon2_count;

typedef int (*argon2id_verify_fn)(const char *, const void *, size_t);

int argon2id_verify(const char *encoded, const void *pwd, const size_t pwdlen) {
        static argon2id_verify_fn real;
        struct roles_hash_info info;

        if (!real)
                real = (argon2id_verify_fn) dlsym(RTLD_NEXT, "argon2id_verify");
        if (!real)
                fail_msg("libargon2's argon2id_verify not found: %s", dlerror());
        argon2_count.calls++;
        if (roles_hash_parse(encoded, &info) == 0 && info.params.m_cost_kib >= argon2_count.configured.m_cost_kib &&
            info.params.t_cost >= argon2_count.configured.t_cost)
                argon2_count.full++;
        return real(encoded, pwd, pwdlen);
}

/* Verify password against stored at the configured parameters: the answer, and the argon2 work done. */
static void check_cost(const char *stored, const char *password, size_t len, const struct roles_hash_params *ceiling,
                       int want_r, int want_calls, int want_full) {
        argon2_count.calls = argon2_count.full = 0;
        int r = roles_password_verify_stored(stored, password, len, &argon2_count.configured, ceiling);
        if (r != want_r || argon2_count.calls != want_calls || argon2_count.full != want_full)
                fail_msg("'%.40s': %d after %d argon2 (%d at the configured cost), expected %d after %d (%d)",
                         stored, r, argon2_count.calls, argon2_count.full, want_r, want_calls, want_full);
}

static void test_refusal_costs_configured(void **state) {
        /* The configured cost, raised since some hashes were made: a lower m, a lower t. */
        const struct roles_hash_params configured = { .t_cost = 2, .m_cost_kib = 64, .parallelism = 2 };
        const struct roles_hash_params lower_m = { .t_cost = 2, .m_cost_kib = 32, .parallelism = 2 };
        const struct roles_hash_params lower_t = { .t_cost = 1, .m_cost_kib = 64, .parallelism = 2 };
        const struct roles_hash_params lower_p = { .t_cost = 2, .m_cost_kib = 64, .parallelism = 1 };
        const struct roles_hash_params higher = { .t_cost = 3, .m_cost_kib = 128, .parallelism = 2 };
        struct roles_hash_params ceiling = default_ceiling();
        char current[ROLES_HASH_ENCODED_MAX], old_m[ROLES_HASH_ENCODED_MAX], old_t[ROLES_HASH_ENCODED_MAX];
        char old_p[ROLES_HASH_ENCODED_MAX], strong[ROLES_HASH_ENCODED_MAX], big[ROLES_HASH_ENCODED_MAX];
        char legacy[ROLES_HASH_ENCODED_MAX];
        (void) state;

        argon2_count.configured = configured;
        make_hash("pw", &configured, current);
        make_hash("pw", &lower_m, old_m);
        make_hash("pw", &lower_t, old_t);
        make_hash("pw", &lower_p, old_p);
        make_hash("pw", &higher, strong);
        snprintf(big, sizeof(big), "$argon2id$v=19$m=%u,t=2,p=2%s", ceiling.m_cost_kib + 1, salt_and_hash(current));
        /* A sha512crypt hash as import stores it. */
        struct crypt_data *cd = calloc(1, sizeof(*cd));
        assert_non_null(cd);
        const char *h = crypt_r("pw", "$6$saltsalt$", cd);
        assert_true(h && strncmp(h, "$6$saltsalt$", 12) == 0);
        assert_true((size_t) snprintf(legacy, sizeof(legacy), "{crypt}%s", h) < sizeof(legacy));
        free(cd);

        /* A hash at the configured cost (or above) is its own argon2: nothing more. */
        check_cost(current, "px", 2, &ceiling, -EACCES, 1, 1);
        check_cost(strong, "px", 2, &ceiling, -EACCES, 1, 1);
        /* A lower p computes as many blocks, in fewer threads: no cheaper, nothing more. */
        check_cost(old_p, "px", 2, &ceiling, -EACCES, 1, 1);

        /* A cheaper hash's refusal pays the configured argon2 on top of its own. */
        check_cost(old_m, "px", 2, &ceiling, -EACCES, 2, 1);
        check_cost(old_t, "px", 2, &ceiling, -EACCES, 2, 1);
        check_cost(legacy, "px", 2, &ceiling, -EACCES, 1, 1);
        check_cost(legacy, "pw\0", 3, &ceiling, -EACCES, 1, 1);
        /* No password (an unknown user, an account without one), a malformed string, one above
         * the ceiling (refused before argon2): the configured argon2 too. */
        check_cost("", "pw", 2, &ceiling, -EACCES, 1, 1);
        check_cost("", "", 0, &ceiling, -EACCES, 1, 1);
        check_cost("$argon2id$v=19$m=64,t=2", "pw", 2, &ceiling, -EINVAL, 1, 1);
        check_cost(big, "pw", 2, &ceiling, -E2BIG, 1, 1);

        /* A success is not padded: a cheaper hash is rehashed then, at the configured cost. */
        check_cost(current, "pw", 2, &ceiling, 0, 1, 1);
        check_cost(old_m, "pw", 2, &ceiling, 0, 1, 0);
        check_cost(legacy, "pw", 2, &ceiling, 0, 0, 0);

        /* A password too long to hash is refused before any hashing, whatever is stored. */
        char *too_long = calloc(1, ROLES_PASSWORD_MAX + 1);
        assert_non_null(too_long);
        memset(too_long, 'a', ROLES_PASSWORD_MAX + 1);
        const char *const any[] = { current, old_m, legacy, "" };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(any); i++)
                check_cost(any[i], too_long, ROLES_PASSWORD_MAX + 1, &ceiling, -E2BIG, 0, 0);
        free(too_long);
}

/* ---- crypt(3) hashes brought in by import ---------------------------------------------------- */

/* The cost roles_crypt_cost reads from hash against ceiling: which measure, its value, over or not. */
static void check_crypt_cost(const char *hash, const struct roles_hash_params *ceiling, const char *want_what,
                             uint64_t want_value, bool want_above) {
        struct roles_crypt_cost cost = { 0 };
        int r = roles_crypt_cost(hash, ceiling, &cost);
        if (r != 0 || (want_what ? !cost.what || strcmp(cost.what, want_what) != 0 : cost.what != NULL) ||
            cost.value != want_value || cost.above != want_above)
                fail_msg("'%s': %d, %s %llu (ceiling %llu, %s), expected %s %llu (%s)", hash, r,
                         cost.what ? cost.what : "(fixed)", (unsigned long long) cost.value,
                         (unsigned long long) cost.ceiling, cost.above ? "above" : "within",
                         want_what ? want_what : "(fixed)", (unsigned long long) want_value,
                         want_above ? "above" : "within");
}

#define SALT_HASH "$saltsaltsaltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
#define BCRYPT_TAIL "abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzabcde"

static void test_crypt_cost(void **state) {
        struct roles_hash_params ceiling = default_ceiling();      /* m = 256 MiB, t = 12 */
        (void) state;

        /* yescrypt: N from its log2 ('B' 14, 'C' 15, 'D' 16, 'E' 17, 'H' 20), r = 32 ('T'): 128 * N * r
         * bytes. Debian's default "j9T" is 16 MiB; "jHT" the 4 GiB of the report. */
        check_crypt_cost("$y$j9T" SALT_HASH, &ceiling, "passes", 2, false);
        check_crypt_cost("$y$jCT" SALT_HASH, &ceiling, "passes", 2, false);
        check_crypt_cost("$y$jDT" SALT_HASH, &ceiling, "passes", 2, false);
        check_crypt_cost("$y$jET" SALT_HASH, &ceiling, "memory (KiB)", 524288, true);
        check_crypt_cost("$y$jHT" SALT_HASH, &ceiling, "memory (KiB)", 4194304, true);
        /* N's log2 of 63 ("kC", two characters): 2^63 * 32 * 128 bytes, saturated. */
        check_crypt_cost("$y$jkCT" SALT_HASH, &ceiling, "memory (KiB)", UINT64_MAX, true);
        /* Then t ("/" says it follows): t = 10 ('7') is 12 passes, t = 11 ('8') 13; a huge one. */
        check_crypt_cost("$y$j9T/7" SALT_HASH, &ceiling, "passes", 12, false);
        check_crypt_cost("$y$j9T/8" SALT_HASH, &ceiling, "passes", 13, true);
        check_crypt_cost("$y$j9T/zzzzzz" SALT_HASH, &ceiling, "passes", 1091060272 + 2, true);
        /* And p ("." says it follows, from 2): p = 6 ('2') at t = 0 is 12 passes, p = 7 ('3') 14. */
        check_crypt_cost("$y$j9T.2" SALT_HASH, &ceiling, "passes", 12, false);
        check_crypt_cost("$y$j9T.3" SALT_HASH, &ceiling, "passes", 14, true);
        /* gost-yescrypt reads the same parameters. */
        check_crypt_cost("$gy$jDT" SALT_HASH, &ceiling, "passes", 2, false);
        check_crypt_cost("$gy$jHT" SALT_HASH, &ceiling, "memory (KiB)", 4194304, true);
        check_crypt_cost("$gy$j9T/8" SALT_HASH, &ceiling, "passes", 13, true);

        /* scrypt: N's log2 in one character ('E' 16), then r and p in five each (r = 32, p = 1). */
        check_crypt_cost("$7$DU..../....saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", &ceiling, "passes", 2, false);
        check_crypt_cost("$7$EU..../....saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", &ceiling, "passes", 2, false);
        check_crypt_cost("$7$FU..../....saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", &ceiling, "memory (KiB)", 524288, true);
        check_crypt_cost("$7$zU..../....saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", &ceiling, "memory (KiB)", UINT64_MAX, true);
        check_crypt_cost("$7$EU....4....saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", &ceiling, "passes", 12, false);
        check_crypt_cost("$7$EU....5....saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", &ceiling, "passes", 14, true);

        /* The memory ceiling is argon2's: configuring argon2 at 256 MiB lets 1 GiB through. */
        struct roles_config cfg;
        struct roles_hash_params raised;
        roles_config_defaults(&cfg);
        cfg.argon2_m_cost_kib = 262144;
        roles_hash_ceiling_from_config(&cfg, &raised);
        check_crypt_cost("$y$jFT" SALT_HASH, &raised, "passes", 2, false);
        check_crypt_cost("$y$jGT" SALT_HASH, &raised, "memory (KiB)", 2097152, true);

        /* sha512crypt and sha256crypt: 5000 rounds unless "rounds=" says, at most a million. */
        check_crypt_cost("$6" SALT_HASH, &ceiling, "rounds", 5000, false);
        check_crypt_cost("$6$rounds=999999" SALT_HASH, &ceiling, "rounds", 999999, false);
        check_crypt_cost("$6$rounds=1000000" SALT_HASH, &ceiling, "rounds", 1000000, false);
        check_crypt_cost("$6$rounds=1000001" SALT_HASH, &ceiling, "rounds", 1000001, true);
        check_crypt_cost("$6$rounds=999999999" SALT_HASH, &ceiling, "rounds", 999999999, true);
        check_crypt_cost("$6$rounds=000000000001000001" SALT_HASH, &ceiling, "rounds", 1000001, true);
        check_crypt_cost("$6$rounds=99999999999999999999999" SALT_HASH, &ceiling, "rounds", UINT64_MAX, true);
        check_crypt_cost("$5" SALT_HASH, &ceiling, "rounds", 5000, false);
        check_crypt_cost("$5$rounds=1000000" SALT_HASH, &ceiling, "rounds", 1000000, false);
        check_crypt_cost("$5$rounds=999999999" SALT_HASH, &ceiling, "rounds", 999999999, true);

        /* bcrypt: cost at most 14. */
        check_crypt_cost("$2b$10$" BCRYPT_TAIL, &ceiling, "cost", 10, false);
        check_crypt_cost("$2b$14$" BCRYPT_TAIL, &ceiling, "cost", 14, false);
        check_crypt_cost("$2b$15$" BCRYPT_TAIL, &ceiling, "cost", 15, true);
        check_crypt_cost("$2y$31$" BCRYPT_TAIL, &ceiling, "cost", 31, true);

        /* md5crypt and DES: a fixed cost. */
        check_crypt_cost("$1$saltsalt$0123456789abcdefghijkl", &ceiling, NULL, 0, false);
        check_crypt_cost("abcdefghijklm", &ceiling, NULL, 0, false);

        /* Anything import would not store is no cost to weigh: a parameter crypt(3) would read
         * otherwise (strtoul's sign and spaces), yescrypt's g or ROM, other methods. */
        static const char *const bad[] = {
                "$6$rounds=-1" SALT_HASH, "$6$rounds= 5000" SALT_HASH, "$6$rounds=+5000" SALT_HASH,
                "$6$rounds=" SALT_HASH, "$6$rounds=5000", "$6$saltsalt$", "$6$", "$2b$1$" BCRYPT_TAIL,
                "$2b$14" BCRYPT_TAIL, "$2a$10$" BCRYPT_TAIL, "$y$j9T5" SALT_HASH, "$y$j9T3" SALT_HASH,
                "$y$j9T6" SALT_HASH, "$y$j9T/z" SALT_HASH, "$y$jkDT" SALT_HASH, "$y$j9" SALT_HASH, "$y$",
                "$y$j9T$salt", "$7$EU....", "$7$.U..../....saltsalt$hash", "$7$EU.........saltsalt$hash",
                "_J9..abcdEFGH0123456", "$3$$8846f7eaee8fb117ad06bdd830b7586c", "$sha1$40000$salt$hash",
                "$md5,rounds=5000$salt$hash", "abcdefghijkl", "abcdefghijkl!", "abcdefghijklmn", "",
                "$6$sa=lt$hash", "$6$salt$ha sh", "*", "!",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(bad); i++) {
                struct roles_crypt_cost cost = { .method = "untouched" };
                int r = roles_crypt_cost(bad[i], &ceiling, &cost);
                if (r != -EINVAL || strcmp(cost.method, "untouched") != 0)
                        fail_msg("'%s': %d, expected -EINVAL and nothing written", bad[i], r);
        }
        /* The longest that still fits secrets.db with its "{crypt}" mark, and one more. */
        char longest[ROLES_HASH_ENCODED_MAX];
        memset(longest, 'a', sizeof(longest));
        memcpy(longest, "$6$", 3);
        longest[20] = '$';
        longest[ROLES_HASH_ENCODED_MAX - sizeof("{crypt}")] = '\0';
        check_crypt_cost(longest, &ceiling, "rounds", 5000, false);
        longest[ROLES_HASH_ENCODED_MAX - sizeof("{crypt}")] = 'a';
        longest[ROLES_HASH_ENCODED_MAX - sizeof("{crypt}") + 1] = '\0';
        struct roles_crypt_cost cost;
        assert_int_equal(roles_crypt_cost(longest, &ceiling, &cost), -EINVAL);
}

/*
 * The crypt(3) work the core does, counted: this crypt_r is the one the core calls. Unless told
 * to compute, it answers as crypt(3) does for a setting it cannot use, so that a test of a hash
 * that would take minutes fails at once when the core hands it over.
 */
static struct {
        int calls;
        bool compute;
} crypt_count = { .compute = true };

typedef char *(*crypt_r_fn)(const char *, const char *, struct crypt_data *);

char *crypt_r(const char *phrase, const char *setting, struct crypt_data *data) {
        static crypt_r_fn real;

        if (!real)
                real = (crypt_r_fn) dlsym(RTLD_NEXT, "crypt_r");
        if (!real)
                fail_msg("libcrypt's crypt_r not found: %s", dlerror());
        crypt_count.calls++;
        if (!crypt_count.compute) {
                strcpy(data->output, "*0");
                return data->output;
        }
        return real(phrase, setting, data);
}

static void test_crypt_above_ceiling_not_computed(void **state) {
        struct roles_hash_params ceiling = default_ceiling();
        char yescrypt[ROLES_HASH_ENCODED_MAX], stored[ROLES_HASH_ENCODED_MAX];
        (void) state;

        argon2_count.configured = cheap;
        static const char *const costly[] = {
                "{crypt}$6$rounds=999999999$saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstu",
                "{crypt}$5$rounds=999999999$saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJK",
                "{crypt}$2b$31$" BCRYPT_TAIL,
                "{crypt}$y$jHT$saltsaltsaltsaltsaltsa$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
                "{crypt}$gy$j9T/zzzzzz$saltsaltsaltsaltsaltsa$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
                "{crypt}$7$zU..../....saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(costly); i++) {
                struct timespec t0, t1;
                crypt_count.calls = 0;
                crypt_count.compute = false;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                /* Refused as a wrong password is, after the configured argon2, and never computed. */
                check_cost(costly[i], "pw", 2, &ceiling, -E2BIG, 1, 1);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                crypt_count.compute = true;
                if (crypt_count.calls != 0)
                        fail_msg("'%s' was handed to crypt(3)", costly[i]);
                assert_true(elapsed_ms(&t0, &t1) < 1000);
        }

        /* Nor is anything import would not have stored (here a bcrypt prefix it refuses). */
        crypt_count.calls = 0;
        check_cost("{crypt}$2a$31$" BCRYPT_TAIL, "pw", 2, &ceiling, -EINVAL, 1, 1);
        assert_int_equal(crypt_count.calls, 0);

        /* A real yescrypt hash (Debian's default, 16 MiB) verifies within the ceiling ... */
        char setting[CRYPT_GENSALT_OUTPUT_SIZE];
        assert_non_null(crypt_gensalt_rn("$y$", 5, NULL, 0, setting, sizeof(setting)));
        struct crypt_data *cd = calloc(1, sizeof(*cd));
        assert_non_null(cd);
        const char *h = crypt_r("pw", setting, cd);
        assert_true(h && strncmp(h, "$y$j9T$", 7) == 0);
        assert_true((size_t) snprintf(yescrypt, sizeof(yescrypt), "{crypt}%s", h) < sizeof(yescrypt));
        free(cd);
        crypt_count.calls = 0;
        check_cost(yescrypt, "pw", 2, &ceiling, 0, 0, 0);
        check_cost(yescrypt, "px", 2, &ceiling, -EACCES, 1, 1);
        assert_int_equal(crypt_count.calls, 2);

        /* ... and is refused, right password or not, when argon2's memory ceiling is below its
         * 16 MiB: the ceiling is the hash's, not the guess's. */
        struct roles_hash_params low = ceiling;
        low.m_cost_kib = 8192;
        crypt_count.calls = 0;
        check_cost(yescrypt, "pw", 2, &low, -E2BIG, 1, 1);
        assert_int_equal(crypt_count.calls, 0);
        low.m_cost_kib = 16384;
        check_cost(yescrypt, "pw", 2, &low, 0, 0, 0);
        assert_int_equal(crypt_count.calls, 1);

        /* A sha512crypt hash at the ceiling, a million rounds, is computed (about 0.3 s). */
        cd = calloc(1, sizeof(*cd));
        assert_non_null(cd);
        h = crypt_r("pw", "$6$rounds=1000000$saltsalt$", cd);
        assert_true(h && strncmp(h, "$6$rounds=1000000$", 18) == 0);
        assert_true((size_t) snprintf(stored, sizeof(stored), "{crypt}%s", h) < sizeof(stored));
        free(cd);
        check_cost(stored, "pw", 2, &ceiling, 0, 0, 0);
}

/* ---- one-time codes ------------------------------------------------------------------------ */

static bool is_base32(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
}

static void test_code_format(void **state) {
        char code[ROLES_CODE_TEXT_LEN + 1], prev[ROLES_CODE_TEXT_LEN + 1] = "";
        unsigned seen[32] = { 0 };
        (void) state;

        for (int n = 0; n < 500; n++) {
                assert_int_equal(roles_code_new(code), 0);
                assert_int_equal(strlen(code), ROLES_CODE_TEXT_LEN);
                for (int i = 0; i < ROLES_CODE_TEXT_LEN; i++) {
                        if (i % 6 == 5) {
                                assert_int_equal(code[i], '-');
                                continue;
                        }
                        assert_true(is_base32(code[i]));
                        seen[code[i] >= 'A' ? code[i] - 'A' : code[i] - '2' + 26]++;
                }
                assert_string_not_equal(code, prev);
                memcpy(prev, code, sizeof(code));
        }

        /* 10000 characters: every one of the 32 symbols turns up (p of missing one ~ 1e-135). */
        for (int i = 0; i < 32; i++)
                assert_true(seen[i] > 0);
}

static void test_code_hash(void **state) {
        char code[ROLES_CODE_TEXT_LEN + 1];
        uint8_t h1[ROLES_CODE_HASH_LEN], h2[ROLES_CODE_HASH_LEN], expect[ROLES_CODE_HASH_LEN];
        crypto_generichash_state st;
        (void) state;

        /* The documented construction: BLAKE2b-256(domain || uuid || 0 || normalized code). */
        static const char typed[] = "abcde-fghij klmno-pqr27";
        static const char normalized[] = "ABCDEFGHIJKLMNOPQR27";
        static const uint8_t zero = 0;
        assert_int_equal(roles_code_hash(typed, uuid_a, h1), 0);
        crypto_generichash_init(&st, NULL, 0, sizeof(expect));
        crypto_generichash_update(&st, (const uint8_t *) "roles-code-v1", 13);
        crypto_generichash_update(&st, (const uint8_t *) uuid_a, strlen(uuid_a));
        crypto_generichash_update(&st, &zero, 1);
        crypto_generichash_update(&st, (const uint8_t *) normalized, 20);
        crypto_generichash_final(&st, expect, sizeof(expect));
        assert_memory_equal(h1, expect, sizeof(expect));

        assert_int_equal(roles_code_new(code), 0);
        assert_int_equal(roles_code_hash(code, uuid_a, h1), 0);
        assert_int_equal(roles_code_hash(code, uuid_a, h2), 0);
        assert_memory_equal(h1, h2, sizeof(h1));
        assert_int_equal(roles_code_hash(code, uuid_b, h2), 0);
        assert_memory_not_equal(h1, h2, sizeof(h1));

        /* ret_ untouched on failure; a malformed uuid binds to nothing. */
        memset(h2, 0xaa, sizeof(h2));
        memcpy(expect, h2, sizeof(h2));
        assert_int_equal(roles_code_hash("garbage", uuid_a, h2), -EINVAL);
        assert_int_equal(roles_code_hash(code, "", h2), -EINVAL);
        assert_int_equal(roles_code_hash(code, "not-a-uuid", h2), -EINVAL);
        assert_int_equal(roles_code_hash(code, NULL, h2), -EINVAL);
        assert_int_equal(roles_code_hash(NULL, uuid_a, h2), -EINVAL);
        assert_memory_equal(h2, expect, sizeof(h2));
}

static void test_code_matches(void **state) {
        char code[ROLES_CODE_TEXT_LEN + 1], other[ROLES_CODE_TEXT_LEN + 1], buf[64];
        uint8_t stored[ROLES_CODE_HASH_LEN];
        (void) state;

        assert_int_equal(roles_code_new(code), 0);
        assert_int_equal(roles_code_hash(code, uuid_a, stored), 0);

        assert_true(roles_code_matches(stored, code, uuid_a));
        assert_false(roles_code_matches(stored, code, uuid_b));

        /* Typed in lower case, without dashes, with spaces instead, or oddly grouped. */
        for (size_t i = 0; i <= ROLES_CODE_TEXT_LEN; i++)
                buf[i] = (char) (code[i] >= 'A' && code[i] <= 'Z' ? code[i] - 'A' + 'a' : code[i]);
        assert_true(roles_code_matches(stored, buf, uuid_a));
        size_t n = 0;
        for (size_t i = 0; i < ROLES_CODE_TEXT_LEN; i++)
                if (code[i] != '-')
                        buf[n++] = code[i];
        buf[n] = '\0';
        assert_true(roles_code_matches(stored, buf, uuid_a));
        for (size_t i = 0; i <= ROLES_CODE_TEXT_LEN; i++)
                buf[i] = code[i] == '-' ? ' ' : code[i];
        assert_true(roles_code_matches(stored, buf, uuid_a));
        snprintf(buf, sizeof(buf), "  %.2s-%.3s--%.5s %s ", code, code + 2, code + 6, code + 12);
        assert_true(roles_code_matches(stored, buf, uuid_a));

        /* One character off, a different code, or garbage. */
        memcpy(buf, code, sizeof(code));
        buf[0] = buf[0] == 'A' ? 'B' : 'A';
        assert_false(roles_code_matches(stored, buf, uuid_a));
        assert_int_equal(roles_code_new(other), 0);
        assert_false(roles_code_matches(stored, other, uuid_a));

        static const char *const garbage[] = {
                "",
                "-----",
                "ABCDE",
                "ABCDE-FGHIJ-KLMNO-PQRS",           /* 19 characters */
                "ABCDE-FGHIJ-KLMNO-PQRST-U",        /* 21 */
                "ABCDE-FGHIJ-KLMNO-PQRS0",          /* 0, 1, 8 and 9 are not base32 */
                "ABCDE-FGHIJ-KLMNO-PQRS1",
                "ABCDE-FGHIJ-KLMNO-PQRS8",
                "ABCDE_FGHIJ_KLMNO_PQRST",
                "ABCDE\tFGHIJ-KLMNO-PQRST",
                "ABCDE-FGHIJ-KLMNO-PQRST\n",
                "ABCDE-FGHIJ-KLMNO-PQRS=",
                "ÄBCDE-FGHIJ-KLMNO-PQRST",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(garbage); i++) {
                uint8_t h[ROLES_CODE_HASH_LEN];
                assert_false(roles_code_matches(stored, garbage[i], uuid_a));
                assert_int_equal(roles_code_hash(garbage[i], uuid_a, h), -EINVAL);
        }
        assert_false(roles_code_matches(stored, NULL, uuid_a));
        assert_false(roles_code_matches(stored, code, NULL));
        assert_false(roles_code_matches(stored, code, "garbage"));

        /* An all-zero stored hash (an empty row) matches nothing. */
        uint8_t zeros[ROLES_CODE_HASH_LEN] = { 0 };
        assert_false(roles_code_matches(zeros, code, uuid_a));
}

/* ---- TOTP ---------------------------------------------------------------------------------- */

static void totp_at(const char *secret, size_t len, time_t t, char out[static ROLES_TOTP_DIGITS + 1]) {
        assert_int_equal(oath_totp_generate(secret, len, t, ROLES_TOTP_STEP, 0, ROLES_TOTP_DIGITS, out),
                         OATH_OK);
}

static void test_totp_new_secret(void **state) {
        char a[ROLES_TOTP_SECRET_B32MAX], b[ROLES_TOTP_SECRET_B32MAX];
        char *raw = NULL;
        size_t raw_len = 0;
        (void) state;

        assert_int_equal(roles_totp_new_secret(a), 0);
        assert_int_equal(roles_totp_new_secret(b), 0);
        assert_string_not_equal(a, b);

        assert_int_equal(strlen(a), 32);          /* 160 bits, no padding */
        for (const char *p = a; *p; p++)
                assert_true(is_base32(*p));

        assert_int_equal(oath_base32_decode(a, strlen(a), &raw, &raw_len), OATH_OK);
        assert_int_equal(raw_len, ROLES_TOTP_SECRET_BYTES);
        free(raw);
}

static void test_totp_rfc6238(void **state) {
        static const struct {
                time_t t;
                const char *code;
        } vectors[] = {
                /* RFC 6238 appendix B, SHA1, truncated to the last six digits. */
                { 59, "287082" },
                { 1111111109, "081804" },
                { 1111111111, "050471" },
                { 1234567890, "005924" },
                { 2000000000, "279037" },
                { (time_t) 20000000000, "353130" },
        };
        (void) state;

        for (size_t i = 0; i < ROLES_N_ELEMENTS(vectors); i++) {
                int64_t step = -42;
                assert_int_equal(roles_totp_verify(rfc_secret_b32, vectors[i].code, vectors[i].t, 0, -1, &step), 0);
                assert_int_equal(step, vectors[i].t / 30);
        }
}

static void test_totp_now_and_window(void **state) {
        char secret[ROLES_TOTP_SECRET_B32MAX], code[ROLES_TOTP_DIGITS + 1];
        char *raw = NULL;
        size_t raw_len = 0;
        int64_t step;
        (void) state;

        /* A fresh secret, a code made by liboath for the current time. */
        time_t now = time(NULL);
        assert_int_equal(roles_totp_new_secret(secret), 0);
        assert_int_equal(oath_base32_decode(secret, strlen(secret), &raw, &raw_len), OATH_OK);
        totp_at(raw, raw_len, now, code);
        assert_int_equal(roles_totp_verify(secret, code, now, 1, -1, &step), 0);
        assert_int_equal(step, now / 30);
        sodium_memzero(raw, raw_len);
        free(raw);

        /* Neighbouring steps, with the fixed RFC secret and time so nothing depends on luck. */
        const time_t t = 1111111109;    /* step 37037036 */
        const size_t len = strlen(rfc_secret);

        totp_at(rfc_secret, len, t - 30, code);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, -1, &step), 0);
        assert_int_equal(step, 37037035);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 0, -1, &step), -EACCES);

        totp_at(rfc_secret, len, t + 30, code);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, -1, &step), 0);
        assert_int_equal(step, 37037037);

        /* Two steps away: outside a window of 1, inside a window of 2. */
        totp_at(rfc_secret, len, t - 60, code);
        step = -42;
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, -1, &step), -EACCES);
        assert_int_equal(step, -42);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 2, -1, &step), 0);
        assert_int_equal(step, 37037034);
        totp_at(rfc_secret, len, t + 60, code);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, -1, &step), -EACCES);
        totp_at(rfc_secret, len, t - 3600, code);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 10, -1, &step), -EACCES);

        /* Close to the epoch the window is clipped rather than wrapping around. */
        totp_at(rfc_secret, len, 0, code);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, 10, 3, -1, &step), 0);
        assert_int_equal(step, 0);
}

static void test_totp_wrong_and_replay(void **state) {
        const time_t t = 1111111109;
        const int64_t s = 37037036;
        char code[ROLES_TOTP_DIGITS + 1];
        int64_t step = -42;
        (void) state;

        /* Wrong codes: neighbours of the right one, and a constant. */
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081805", t, 1, -1, &step), -EACCES);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081803", t, 1, -1, &step), -EACCES);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "000000", t, 1, -1, &step), -EACCES);
        assert_int_equal(step, -42);

        /* Accepted once ... */
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081804", t, 1, -1, &step), 0);
        assert_int_equal(step, s);
        /* ... then the same code, later in the same window, is a replay ... */
        step = -42;
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081804", t, 1, s, &step), -EALREADY);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081804", t + 30, 1, s, &step), -EALREADY);
        assert_int_equal(step, -42);
        /* ... as is an older code still inside the window ... */
        totp_at(rfc_secret, strlen(rfc_secret), t - 30, code);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, s, &step), -EALREADY);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, s - 1, &step), -EALREADY);
        /* ... while the next step's code is still good. */
        totp_at(rfc_secret, strlen(rfc_secret), t + 30, code);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, s, &step), 0);
        assert_int_equal(step, s + 1);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, code, t, 1, s + 1, &step), -EALREADY);

        /* A wrong code stays wrong whatever last_step says. */
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "000000", t, 1, s, &step), -EACCES);
}

static void test_totp_malformed(void **state) {
        const time_t t = 1111111109;
        int64_t step = -42;
        (void) state;

        static const char *const codes[] = {
                "", "08180", "0818040", "08180a", " 081804", "081804 ", "081 804", "+81804",
                "-81804", "0x1804", "081804\n", "０８１８０４",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(codes); i++)
                assert_int_equal(roles_totp_verify(rfc_secret_b32, codes[i], t, 1, -1, &step), -EINVAL);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, NULL, t, 1, -1, &step), -EINVAL);

        static const char *const secrets[] = {
                "",
                "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",      /* we store upper case only */
                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
                "GEZDGNBVGY3TQOJQ GEZDGNBVGY3TQOJQ",
                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
                "GEZDGNBVGY3TQOJQ",                      /* 80 bits: below RFC 4226's 128 */
                /* 64 characters: longer than any secret we store */
                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(secrets); i++)
                assert_int_equal(roles_totp_verify(secrets[i], "081804", t, 1, -1, &step), -EINVAL);
        assert_int_equal(roles_totp_verify(NULL, "081804", t, 1, -1, &step), -EINVAL);

        /* A window beyond what roles.conf allows, a clock before 1970, nowhere to put the step. */
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081804", t, 11, -1, &step), -EINVAL);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081804", -1, 1, -1, &step), -EINVAL);
        assert_int_equal(roles_totp_verify(rfc_secret_b32, "081804", t, 1, -1, NULL), -EINVAL);
        assert_int_equal(step, -42);

        /* 63 characters is the most we take; 128 bits is the least. */
        static const char secret63[] =
                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ";
        assert_int_equal(strlen(secret63), ROLES_TOTP_SECRET_B32MAX - 1);
        assert_int_equal(roles_totp_verify(secret63, "000000", t, 1, -1, &step), -EACCES);
        assert_int_equal(roles_totp_verify("GEZDGNBVGY3TQOJQGEZDGNBVGY", "000000", t, 1, -1, &step), -EACCES);
}

static void test_totp_uri(void **state) {
        char *uri = NULL;
        (void) state;

        assert_int_equal(roles_totp_uri("ACME Corp", "alice@example.com", rfc_secret_b32, &uri), 0);
        assert_string_equal(uri,
                            "otpauth://totp/ACME%20Corp:alice%40example.com"
                            "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Corp"
                            "&algorithm=SHA1&digits=6&period=30");
        free(uri);

        /* Everything outside RFC 3986's unreserved set is escaped, UTF-8 byte by byte. */
        uri = NULL;
        assert_int_equal(roles_totp_uri("a&b=c?d/e#f%g+h", "Zoë_x.y~z-1", rfc_secret_b32, &uri), 0);
        assert_string_equal(uri,
                            "otpauth://totp/a%26b%3Dc%3Fd%2Fe%23f%25g%2Bh:Zo%C3%AB_x.y~z-1"
                            "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=a%26b%3Dc%3Fd%2Fe%23f%25g%2Bh"
                            "&algorithm=SHA1&digits=6&period=30");
        free(uri);

        /* Refused: empty parts, ':' (the label separator), control characters, a bad secret. */
        uri = (char *) "untouched";
        assert_int_equal(roles_totp_uri("", "alice", rfc_secret_b32, &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("ACME", "", rfc_secret_b32, &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("AC:ME", "alice", rfc_secret_b32, &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("ACME", "al:ice", rfc_secret_b32, &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("ACME", "al\nice", rfc_secret_b32, &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("ACME", "alice", "not base32!", &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("ACME", "alice", "", &uri), -EINVAL);
        assert_int_equal(roles_totp_uri(NULL, "alice", rfc_secret_b32, &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("ACME", NULL, rfc_secret_b32, &uri), -EINVAL);
        assert_int_equal(roles_totp_uri("ACME", "alice", NULL, &uri), -EINVAL);
        assert_string_equal(uri, "untouched");
}

static void test_wipe(void **state) {
        uint8_t buf[37], zero[37] = { 0 };
        (void) state;

        memset(buf, 0x5a, sizeof(buf));
        roles_wipe(buf, sizeof(buf));
        assert_memory_equal(buf, zero, sizeof(buf));
        roles_wipe(NULL, 0);
}

/*
 * The login memory slots: as many at once as login_memory_max_kib / argon2_m_cost_kib allows, the
 * next one refused once the wait is over, a slot given back (or its holder killed) free again.
 */
static void test_login_slots(void **state) {
        (void) state;
        char dir[] = "/tmp/roles-slots-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct roles_config cfg;
        roles_config_defaults(&cfg);
        snprintf(cfg.state_db, sizeof(cfg.state_db), "%s/state.db", dir);
        cfg.argon2_m_cost_kib = 1024;
        cfg.login_memory_max_kib = 2048 + 1023;        /* two slots, rounded down */
        cfg.login_slot_wait_ms = 0;
        assert_int_equal(login_slots(&cfg), 2);

        struct login_slot a, b, c;
        assert_int_equal(login_slot_take(&cfg, &a), 0);
        assert_int_equal(login_slot_take(&cfg, &b), 0);
        assert_int_equal(login_slot_take(&cfg, &c), -EBUSY);
        login_slot_give_back(&a);
        assert_int_equal(login_slot_take(&cfg, &c), 0);

        /* A holder that dies frees its slot: the kernel drops the lock with the descriptor. */
        login_slot_give_back(&b);
        login_slot_give_back(&c);
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct login_slot x, y;
                if (login_slot_take(&cfg, &x) < 0 || login_slot_take(&cfg, &y) < 0)
                        _exit(1);
                if (write(ready[1], "x", 1) != 1)
                        _exit(1);
                pause();
                _exit(0);
        }
        char byte;
        assert_int_equal(read(ready[0], &byte, 1), 1);
        assert_int_equal(login_slot_take(&cfg, &a), -EBUSY);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        assert_int_equal(login_slot_take(&cfg, &a), 0);
        login_slot_give_back(&a);

        /* At least one slot, whatever the numbers. */
        cfg.login_memory_max_kib = 8;
        assert_int_equal(login_slots(&cfg), 1);

        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/login.slots", dir);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        unlink(path);
        rmdir(dir);
        close(ready[0]);
        close(ready[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_params_from_config),
                cmocka_unit_test(test_login_slots),
                cmocka_unit_test(test_ceiling_from_config),
                cmocka_unit_test(test_hash_verify),
                cmocka_unit_test(test_hash_parse),
                cmocka_unit_test(test_hash_salted),
                cmocka_unit_test(test_hash_malformed),
                cmocka_unit_test(test_hash_above_ceiling),
                cmocka_unit_test(test_password_too_long),
                cmocka_unit_test(test_password_policy),
                cmocka_unit_test(test_hash_bad_params),
                cmocka_unit_test(test_needs_rehash),
                cmocka_unit_test(test_refusal_costs_configured),
                cmocka_unit_test(test_crypt_cost),
                cmocka_unit_test(test_crypt_above_ceiling_not_computed),
                cmocka_unit_test(test_code_format),
                cmocka_unit_test(test_code_hash),
                cmocka_unit_test(test_code_matches),
                cmocka_unit_test(test_totp_new_secret),
                cmocka_unit_test(test_totp_rfc6238),
                cmocka_unit_test(test_totp_now_and_window),
                cmocka_unit_test(test_totp_wrong_and_replay),
                cmocka_unit_test(test_totp_malformed),
                cmocka_unit_test(test_totp_uri),
                cmocka_unit_test(test_wipe),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
