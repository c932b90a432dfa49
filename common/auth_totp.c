/* SPDX-License-Identifier: MIT */
#include "auth.h"

#include <errno.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth-internal.h"
#include "util.h"

/*
 * RFC 4226 (R6) asks for shared secrets of at least 128 bits; ours have 160. Anything
 * shorter in the database did not come from roles_totp_new_secret() and is refused.
 */
#define TOTP_SECRET_MIN_BYTES 16

/* The largest window roles.conf allows; more would accept a code for minutes. */
#define TOTP_WINDOW_MAX 10

/* Google Authenticator's key URI format: label "issuer:account", issuer repeated as a parameter. */
#define URI_FORMAT "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d"

void roles_wipe(void *p, size_t len) {
        if (p)
                sodium_memzero(p, len);
}

/* Base32 as we store it: upper-case RFC 4648 alphabet, no padding, non-empty, bounded. */
static bool secret_valid(const char *base32) {
        size_t n = 0;

        if (!base32 || !*base32)
                return false;
        for (const char *p = base32; *p; p++, n++) {
                if (n >= ROLES_TOTP_SECRET_B32MAX - 1)
                        return false;
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= '2' && *p <= '7')))
                        return false;
        }
        return true;
}

int roles_totp_new_secret(char ret_base32[static ROLES_TOTP_SECRET_B32MAX]) {
        uint8_t secret[ROLES_TOTP_SECRET_BYTES];
        char *encoded = NULL;
        size_t encoded_len = 0, n;
        int r;

        r = auth_libs_ready();
        if (r < 0)
                return r;

        randombytes_buf(secret, sizeof(secret));

        if (oath_base32_encode((const char *) secret, sizeof(secret), &encoded, &encoded_len) != OATH_OK) {
                r = -ENOMEM;
                goto out;
        }

        /* 160 bits need no padding, but strip it anyway should the length ever change. */
        n = strcspn(encoded, "=");
        if (n == 0 || n >= ROLES_TOTP_SECRET_B32MAX) {
                r = -EINVAL;
                goto out;
        }

        memcpy(ret_base32, encoded, n);
        ret_base32[n] = '\0';
        r = 0;
out:
        sodium_memzero(secret, sizeof(secret));
        if (encoded) {
                sodium_memzero(encoded, encoded_len);
                free(encoded);
        }
        return r;
}

static bool is_unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 percent-encoding of everything but unreserved characters; malloc'd. */
static char *percent_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out, *q;

        out = malloc(3 * n + 1);
        if (!out)
                return NULL;

        q = out;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (is_unreserved(*p)) {
                        *q++ = (char) *p;
                } else {
                        *q++ = '%';
                        *q++ = hex[*p >> 4];
                        *q++ = hex[*p & 15];
                }
        }
        *q = '\0';
        return out;
}

int roles_totp_uri(const char *issuer, const char *account, const char *base32, char **ret_uri) {
        char *issuer_enc = NULL, *account_enc = NULL, *uri = NULL;
        int r, n = 0;

        /*
         * Key URI format: neither part may contain ':' (the label separator); control
         * characters have no business in an authenticator app either.
         */
        if (!issuer || !*issuer || !roles_text_valid(issuer, ROLES_TEXT_MAX) ||
            !account || !*account || !roles_text_valid(account, ROLES_TEXT_MAX) ||
            !secret_valid(base32) || !ret_uri)
                return -EINVAL;

        issuer_enc = percent_encode(issuer);
        account_enc = percent_encode(account);
        if (!issuer_enc || !account_enc) {
                r = -ENOMEM;
                goto out;
        }

        /* Sized exactly first, so the secret is written once and never left in a realloc'd block. */
        n = snprintf(NULL, 0, URI_FORMAT, issuer_enc, account_enc, base32, issuer_enc,
                     ROLES_TOTP_DIGITS, ROLES_TOTP_STEP);
        if (n < 0) {
                r = -EINVAL;
                goto out;
        }
        uri = malloc((size_t) n + 1);
        if (!uri) {
                r = -ENOMEM;
                goto out;
        }
        if (snprintf(uri, (size_t) n + 1, URI_FORMAT, issuer_enc, account_enc, base32, issuer_enc,
                     ROLES_TOTP_DIGITS, ROLES_TOTP_STEP) != n) {
                r = -EINVAL;
                goto out;
        }

        *ret_uri = uri;
        uri = NULL;
        r = 0;
out:
        if (uri) {
                sodium_memzero(uri, (size_t) n + 1);
                free(uri);
        }
        free(issuer_enc);
        free(account_enc);
        return r;
}

static bool code_valid(const char *code) {
        if (!code)
                return false;
        for (int i = 0; i < ROLES_TOTP_DIGITS; i++)
                if (code[i] < '0' || code[i] > '9')
                        return false;
        return code[ROLES_TOTP_DIGITS] == '\0';
}

int roles_totp_verify(const char *base32, const char *code, time_t now, unsigned window,
                      int64_t last_step, int64_t *ret_step) {
        char *secret = NULL;
        size_t secret_len = 0;
        char expected[ROLES_TOTP_DIGITS + 1];
        int64_t current, matched = -1;
        int r;

        /* Without somewhere to record the step, a code could be replayed: refuse. */
        if (!code_valid(code) || !secret_valid(base32) || !ret_step ||
            window > TOTP_WINDOW_MAX || now < 0)
                return -EINVAL;

        r = auth_libs_ready();
        if (r < 0)
                return r;

        if (oath_base32_decode(base32, strlen(base32), &secret, &secret_len) != OATH_OK) {
                r = -EINVAL;
                goto out;
        }
        if (secret_len < TOTP_SECRET_MIN_BYTES) {
                r = -EINVAL;
                goto out;
        }

        /*
         * Every step in the window is computed and compared, match or not, so the time
         * taken does not say which step (if any) matched. Should the code match several
         * steps, the latest one is taken: storing an earlier one would let the same code
         * be accepted again for the later step.
         */
        current = (int64_t) now / ROLES_TOTP_STEP;
        for (int64_t step = current - (int64_t) window; step <= current + (int64_t) window; step++) {
                if (step < 0)
                        continue;
                if (oath_hotp_generate(secret, secret_len, (uint64_t) step, ROLES_TOTP_DIGITS,
                                       false, OATH_HOTP_DYNAMIC_TRUNCATION, expected) != OATH_OK) {
                        r = -EIO;
                        goto out;
                }
                if (sodium_memcmp(expected, code, ROLES_TOTP_DIGITS) == 0)
                        matched = step;
        }

        if (matched < 0)
                r = -EACCES;
        else if (matched <= last_step)
                r = -EALREADY;
        else {
                *ret_step = matched;
                r = 0;
        }
out:
        sodium_memzero(expected, sizeof(expected));
        if (secret) {
                sodium_memzero(secret, secret_len);
                free(secret);
        }
        return r;
}
