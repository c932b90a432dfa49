/* SPDX-License-Identifier: MIT */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "auth-internal.h"
#include "util.h"

#define CODE_CHARS       20     /* 20 base32 characters carry 100 bits */
#define CODE_GROUP       5
#define CODE_RANDOM_LEN  13     /* bytes drawn: 104 bits, the first 100 are used */

/* Changing how codes are hashed means a new domain string, so old hashes can never match. */
static const char code_domain[] = "roles-code-v1";

static const char base32_alphabet[32] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int roles_code_new(char ret_code[static ROLES_CODE_TEXT_LEN + 1]) {
        uint8_t random[CODE_RANDOM_LEN];
        char code[ROLES_CODE_TEXT_LEN + 1];
        unsigned acc = 0, acc_bits = 0;
        size_t in = 0, out = 0;
        int r;

        r = auth_libs_ready();
        if (r < 0)
                return r;

        randombytes_buf(random, sizeof(random));

        for (unsigned i = 0; i < CODE_CHARS; i++) {
                if (acc_bits < 5) {
                        acc = (acc << 8) | random[in++];
                        acc_bits += 8;
                }
                acc_bits -= 5;
                if (i > 0 && i % CODE_GROUP == 0)
                        code[out++] = '-';
                code[out++] = base32_alphabet[(acc >> acc_bits) & 31];
        }
        code[out] = '\0';

        memcpy(ret_code, code, sizeof(code));
        sodium_memzero(random, sizeof(random));
        sodium_memzero(code, sizeof(code));
        return 0;
}

/*
 * The code as typed, reduced to its 20 base32 characters: lower case is folded, dashes and
 * spaces are dropped, anything else (or a wrong count) makes it malformed.
 */
static int code_normalize(const char *code, char ret[static CODE_CHARS]) {
        size_t n = 0;

        for (const char *p = code; *p; p++) {
                char c = *p;

                if (c == '-' || c == ' ')
                        continue;
                if (c >= 'a' && c <= 'z')
                        c = (char) (c - 'a' + 'A');
                if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
                        return -EINVAL;
                if (n >= CODE_CHARS)
                        return -EINVAL;
                ret[n++] = c;
        }
        return n == CODE_CHARS ? 0 : -EINVAL;
}

int roles_code_hash(const char *code, const char *user_uuid, uint8_t ret_hash[static ROLES_CODE_HASH_LEN]) {
        crypto_generichash_state state;
        char normalized[CODE_CHARS];
        uint8_t hash[ROLES_CODE_HASH_LEN];
        static const uint8_t separator = 0;
        int r;

        /* Bound to a well-formed uuid only: a hash for "no user" must not exist. */
        if (!code || !roles_uuid_valid(user_uuid))
                return -EINVAL;

        r = auth_libs_ready();
        if (r < 0)
                return r;

        r = code_normalize(code, normalized);
        if (r < 0)
                goto out;

        /*
         * domain || uuid || 0 || code. The uuid has a fixed length and no NUL, so no two
         * (uuid, code) pairs feed the same bytes.
         */
        if (crypto_generichash_init(&state, NULL, 0, sizeof(hash)) != 0 ||
            crypto_generichash_update(&state, (const uint8_t *) code_domain, strlen(code_domain)) != 0 ||
            crypto_generichash_update(&state, (const uint8_t *) user_uuid, strlen(user_uuid)) != 0 ||
            crypto_generichash_update(&state, &separator, 1) != 0 ||
            crypto_generichash_update(&state, (const uint8_t *) normalized, sizeof(normalized)) != 0 ||
            crypto_generichash_final(&state, hash, sizeof(hash)) != 0) {
                r = -EIO;
                goto out;
        }

        memcpy(ret_hash, hash, sizeof(hash));
        r = 0;
out:
        sodium_memzero(&state, sizeof(state));
        sodium_memzero(normalized, sizeof(normalized));
        sodium_memzero(hash, sizeof(hash));
        return r;
}

bool roles_code_matches(const uint8_t stored[static ROLES_CODE_HASH_LEN], const char *code,
                        const char *user_uuid) {
        uint8_t hash[ROLES_CODE_HASH_LEN];
        bool match;

        if (!stored || roles_code_hash(code, user_uuid, hash) < 0)
                return false;

        match = sodium_memcmp(hash, stored, sizeof(hash)) == 0;
        sodium_memzero(hash, sizeof(hash));
        return match;
}
