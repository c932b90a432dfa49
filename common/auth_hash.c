/* SPDX-License-Identifier: MIT */
#include "auth.h"
#include "auth-internal.h"

#include <argon2.h>
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

/* RFC 9106, section 4, second recommended option: what the ceiling never drops below. */
#define RFC9106_T_COST      3
#define RFC9106_M_COST_KIB  65536
#define RFC9106_PARALLELISM 4

/* Decoded salt and hash lengths we accept in a stored string. */
#define HASH_PART_MIN 8
#define HASH_PART_MAX 64

static uint32_t max_u32(uint32_t a, uint32_t b) {
        return a > b ? a : b;
}

void roles_hash_params_from_config(const struct roles_config *cfg, struct roles_hash_params *ret) {
        *ret = (struct roles_hash_params) {
                .t_cost = cfg->argon2_t_cost,
                .m_cost_kib = cfg->argon2_m_cost_kib,
                .parallelism = cfg->argon2_parallelism,
        };
}

int roles_password_policy_check(const char *password, size_t len, const struct roles_config *cfg) {
        if (len > ROLES_PASSWORD_MAX)
                return -E2BIG;
        /* Only stdin can carry one: libpam's strings end at the first NUL, so the rest would be
         * silently dropped at login. */
        if (memchr(password, '\0', len))
                return -EINVAL;
        /* Characters, not bytes: 日本語 is 9 bytes but 3 characters. */
        if (roles_utf8_code_points(password, len) < cfg->password_min_length)
                return -ERANGE;
        return 0;
}

const char *roles_password_policy_refusal(int r, const struct roles_config *cfg, char *buf, size_t size) {
        if (r == -E2BIG)
                snprintf(buf, size, "password too long: at most %d bytes", ROLES_PASSWORD_MAX);
        else if (r == -EINVAL)
                snprintf(buf, size, "the password contains a NUL byte");
        else
                snprintf(buf, size, "password too short: at least %u characters", cfg->password_min_length);
        return buf;
}

void roles_hash_ceiling_from_config(const struct roles_config *cfg, struct roles_hash_params *ret) {
        /*
         * The config parser bounds the three values (t <= 64, m <= 4 GiB, p <= 64), so four
         * times any of them still fits in 32 bits.
         */
        *ret = (struct roles_hash_params) {
                .t_cost = 4 * max_u32(cfg->argon2_t_cost, RFC9106_T_COST),
                .m_cost_kib = 4 * max_u32(cfg->argon2_m_cost_kib, RFC9106_M_COST_KIB),
                .parallelism = 4 * max_u32(cfg->argon2_parallelism, RFC9106_PARALLELISM),
        };
}

/* Is each of a's t, m and p at most b's? */
static bool params_within(const struct roles_hash_params *a, const struct roles_hash_params *b) {
        return a->t_cost <= b->t_cost && a->m_cost_kib <= b->m_cost_kib && a->parallelism <= b->parallelism;
}

/*
 * The same lower bounds libargon2 enforces (at least one pass, one lane, and two blocks per
 * lane per sync point); a string breaking them can never have come out of argon2.
 */
static bool params_sane(const struct roles_hash_params *p) {
        return p->t_cost >= ARGON2_MIN_TIME &&
               p->parallelism >= ARGON2_MIN_LANES && p->parallelism <= ARGON2_MAX_LANES &&
               (uint64_t) p->m_cost_kib >= 8 * (uint64_t) p->parallelism;
}

/*
 * A decimal uint32 exactly as argon2 prints one: digits only, no sign, no leading zero.
 * Returns the character after the number, or NULL.
 */
static const char *parse_u32(const char *s, uint32_t *ret) {
        uint64_t v = 0;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return NULL;
        if (*p == '0' && p[1] >= '0' && p[1] <= '9')
                return NULL;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (uint64_t) (*p - '0');
                if (v > UINT32_MAX)
                        return NULL;
        }
        *ret = (uint32_t) v;
        return p;
}

static bool is_b64(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
}

static unsigned b64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return (unsigned) (c - 'A');
        if (c >= 'a' && c <= 'z')
                return (unsigned) (c - 'a') + 26;
        if (c >= '0' && c <= '9')
                return (unsigned) (c - '0') + 52;
        return c == '+' ? 62 : 63;
}

/*
 * Unpadded standard base64 as argon2 emits it, running up to end (a '$' or the terminating
 * NUL). Like argon2's own decoder, a length that leaves a lone character and unused
 * trailing bits that are not zero are refused, so each byte string has one spelling.
 * Only the length is needed: argon2 decodes the bytes itself when verifying.
 */
static const char *parse_b64(const char *s, size_t *ret_len) {
        const char *p = s;

        while (is_b64(*p))
                p++;

        size_t n = (size_t) (p - s);
        if (n % 4 == 1)
                return NULL;
        if (n % 4 != 0) {
                unsigned unused_bits = n % 4 == 2 ? 4 : 2;
                if (b64_value(p[-1]) & ((1u << unused_bits) - 1))
                        return NULL;
        }
        *ret_len = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
        return p;
}

static const char *skip_literal(const char *s, const char *literal) {
        size_t n = strlen(literal);
        return strncmp(s, literal, n) == 0 ? s + n : NULL;
}

int roles_hash_parse(const char *encoded, struct roles_hash_info *ret) {
        struct roles_hash_info info = { .version = ARGON2_VERSION_13 };
        const char *p;

        if (!encoded || strnlen(encoded, ROLES_HASH_ENCODED_MAX) >= ROLES_HASH_ENCODED_MAX)
                return -EINVAL;

        /*
         * Only the one form we write is accepted, byte for byte: every value parsed here is
         * the value libargon2 will read from the same string, so the ceiling checked against
         * it is the one that applies when argon2 allocates.
         */
        p = skip_literal(encoded, "$argon2id$v=19$m=");
        if (p)
                p = parse_u32(p, &info.params.m_cost_kib);
        if (p)
                p = skip_literal(p, ",t=");
        if (p)
                p = parse_u32(p, &info.params.t_cost);
        if (p)
                p = skip_literal(p, ",p=");
        if (p)
                p = parse_u32(p, &info.params.parallelism);
        if (p)
                p = skip_literal(p, "$");
        if (p)
                p = parse_b64(p, &info.salt_len);
        if (p)
                p = skip_literal(p, "$");
        if (p)
                p = parse_b64(p, &info.hash_len);
        if (!p || *p != '\0')
                return -EINVAL;

        if (!params_sane(&info.params) ||
            info.salt_len < HASH_PART_MIN || info.salt_len > HASH_PART_MAX ||
            info.hash_len < HASH_PART_MIN || info.hash_len > HASH_PART_MAX)
                return -EINVAL;

        *ret = info;
        return 0;
}

static int argon2_to_errno(int r) {
        switch (r) {
        case ARGON2_OK:
                return 0;
        case ARGON2_VERIFY_MISMATCH:
                return -EACCES;
        case ARGON2_MEMORY_ALLOCATION_ERROR:
                return -ENOMEM;
        case ARGON2_THREAD_FAIL:
                return -EAGAIN;
        default:
                return -EINVAL;
        }
}

int roles_password_hash(const char *password, size_t len, const struct roles_hash_params *params,
                        char ret_encoded[static ROLES_HASH_ENCODED_MAX]) {
        uint8_t salt[ROLES_HASH_SALT_LEN];
        char encoded[ROLES_HASH_ENCODED_MAX];
        int r;

        if (!password || !params || !params_sane(params))
                return -EINVAL;
        if (len > ROLES_PASSWORD_MAX)
                return -E2BIG;

        r = auth_libs_ready();
        if (r < 0)
                return r;

        randombytes_buf(salt, sizeof(salt));
        r = argon2_to_errno(argon2id_hash_encoded(params->t_cost, params->m_cost_kib,
                                                  params->parallelism, password, len,
                                                  salt, sizeof(salt), ROLES_HASH_LEN,
                                                  encoded, sizeof(encoded)));
        if (r < 0)
                return r;

        memcpy(ret_encoded, encoded, sizeof(encoded));
        return 0;
}

int roles_password_verify(const char *encoded, const char *password, size_t len,
                          const struct roles_hash_params *ceiling) {
        struct roles_hash_info info;
        int r;

        if (!password || !ceiling)
                return -EINVAL;
        /* Refused before anything is hashed: argon2 would happily digest megabytes. */
        if (len > ROLES_PASSWORD_MAX)
                return -E2BIG;

        r = roles_hash_parse(encoded, &info);
        if (r < 0)
                return r;

        /* A tampered row must not make us allocate gigabytes or spin for minutes. */
        if (!params_within(&info.params, ceiling))
                return -E2BIG;

        /* argon2 compares the computed and stored hash in constant time. */
        return argon2_to_errno(argon2id_verify(encoded, password, len));
}

bool roles_password_needs_rehash(const char *encoded, const struct roles_hash_params *params) {
        struct roles_hash_info info;

        if (!params || roles_hash_parse(encoded, &info) < 0)
                return true;

        return info.params.t_cost != params->t_cost ||
               info.params.m_cost_kib != params->m_cost_kib ||
               info.params.parallelism != params->parallelism ||
               info.salt_len != ROLES_HASH_SALT_LEN ||
               info.hash_len != ROLES_HASH_LEN;
}

/* A crypt(3) hash brought in by import, without its "{crypt}" mark. */
static int crypt_verify(const char *hash, const char *password, size_t len,
                        const struct roles_hash_params *ceiling) {
        struct roles_crypt_cost cost;
        struct crypt_data *data = NULL;
        char *pw = NULL;
        int r;

        if (memchr(password, '\0', len))
                return -EACCES;
        /* Import refuses a hash above its ceiling, but secrets.db may have been written since:
         * one such hash must not cost gigabytes or minutes per attempt. Nor is any method
         * import would not have stored handed to crypt(3), whose cost is not bounded here. */
        r = roles_crypt_cost(hash, ceiling, &cost);
        if (r < 0)
                return r;
        if (cost.above)
                return -E2BIG;
        /* crypt_data is large (about 32 KiB): on the heap, wiped after. */
        if (!(data = calloc(1, sizeof(*data))) || !(pw = malloc(len + 1))) {
                r = -ENOMEM;
                goto out;
        }
        memcpy(pw, password, len);
        pw[len] = '\0';
        const char *out = crypt_r(pw, hash, data);
        size_t n = strlen(hash);
        /* crypt_r returns "*0"/"*1" or NULL on a bad setting; the result must equal the stored
         * string exactly, compared without an early exit. */
        if (!out || out[0] == '*' || strlen(out) != n)
                r = -EACCES;
        else
                r = sodium_memcmp(out, hash, n) == 0 ? 0 : -EACCES;
out:
        if (pw) {
                roles_wipe(pw, len + 1);
                free(pw);
        }
        if (data) {
                roles_wipe(data, sizeof(*data));
                free(data);
        }
        return r;
}

/*
 * Does verifying stored cost at least one argon2id at params? Only an argon2id string within the
 * ceiling (above it, nothing is computed) whose m and t are at least params' does. p is left out:
 * a lower p computes the same m * t blocks in fewer threads, which takes no less time.
 */
static bool costs_at_least(const char *stored, const struct roles_hash_params *params,
                           const struct roles_hash_params *ceiling) {
        struct roles_hash_info info;

        return roles_hash_parse(stored, &info) == 0 && params_within(&info.params, ceiling) &&
               info.params.m_cost_kib >= params->m_cost_kib && info.params.t_cost >= params->t_cost;
}

/*
 * One argon2id verification at params, against a fixed salt ("roles-dummy-salt") and an
 * all-zero digest that no password produces. Built, not hashed: libpam unloads the module
 * after every transaction, so a hash made on first use would cost a second argon2 on every
 * call.
 */
static void dummy_verify(const char *password, size_t len, const struct roles_hash_params *params) {
        char dummy[ROLES_HASH_ENCODED_MAX];

        snprintf(dummy, sizeof(dummy), "$argon2id$v=19$m=%u,t=%u,p=%u$cm9sZXMtZHVtbXktc2FsdA"
                 "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", params->m_cost_kib, params->t_cost,
                 params->parallelism);
        (void) argon2id_verify(dummy, password, len);
}

int roles_password_verify_stored(const char *stored, const char *password, size_t len,
                                 const struct roles_hash_params *params,
                                 const struct roles_hash_params *ceiling) {
        static const char legacy[] = "{crypt}";
        int r;

        if (!stored || !password || !params || !ceiling || !params_sane(params))
                return -EINVAL;
        /* Refused before anything is hashed, whatever is stored: the length is the caller's own. */
        if (len > ROLES_PASSWORD_MAX)
                return -E2BIG;

        if (strncmp(stored, legacy, sizeof(legacy) - 1) == 0)
                r = crypt_verify(stored + sizeof(legacy) - 1, password, len, ceiling);
        else if (stored[0] == '\0')
                r = -EACCES;
        else
                r = roles_password_verify(stored, password, len, ceiling);

        /*
         * Whatever was stored, a refusal pays at least the configured argon2, as an unknown user's
         * does: otherwise its time would tell the accounts whose hash predates a raise of the
         * cost, or came from shadow, from the others and from names that are no account.
         */
        if (r < 0 && !costs_at_least(stored, params, ceiling))
                dummy_verify(password, len, params);
        return r;
}
