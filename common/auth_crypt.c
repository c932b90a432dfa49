/* SPDX-License-Identifier: MIT */
/*
 * What verifying a crypt(3) hash brought in by import would cost, read from the hash itself
 * the way libxcrypt reads it, so that a hash demanding gigabytes or minutes is refused before
 * crypt(3) ever sees it: at import, and again at login (secrets.db may have been tampered with).
 */
#include "auth.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* The base-64 alphabet of crypt(3): "./0-9A-Za-z", value 0 to 63. */
static int crypt_b64(char c) {
        if (c >= '.' && c <= '9')
                return c - '.';
        if (c >= 'A' && c <= 'Z')
                return c - 'A' + 12;
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 38;
        return -1;
}

static uint64_t mul_sat(uint64_t a, uint64_t b) {
        uint64_t r;
        return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a + b < a ? UINT64_MAX : a + b;
}

static void set_cost(struct roles_crypt_cost *c, const char *what, uint64_t value, uint64_t ceiling) {
        c->what = what;
        c->value = value;
        c->ceiling = ceiling;
        c->above = value > ceiling;
}

/*
 * One number of a yescrypt parameter field: a variable-length code whose first character
 * says how many follow. Its first 48 values are one character each; each larger range
 * takes one more character (6 more bits) and fewer first characters (8, 4, 2, 1, 1),
 * up to six characters in all. min is added (N's log2 and r start at 1, p at 2).
 * Returns the character after the number, or NULL; a value past 32 bits (which libxcrypt
 * would wrap) is refused.
 */
static const char *yescrypt_number(const char *s, uint32_t min, uint32_t *ret) {
        int c = crypt_b64(*s++);
        if (c < 0)
                return NULL;

        uint64_t v = min;
        unsigned start = 0, end = 47, more = 0;
        while ((unsigned) c > end) {
                v += (uint64_t) (end + 1 - start) << (6 * more);
                start = end + 1;
                end = start + (62 - end) / 2;
                more++;
        }
        v += (uint64_t) ((unsigned) c - start) << (6 * more);
        while (more--) {
                if ((c = crypt_b64(*s++)) < 0)
                        return NULL;
                v += (uint64_t) c << (6 * more);
        }
        if (v > UINT32_MAX)
                return NULL;
        *ret = (uint32_t) v;
        return s;
}

/* Fixed-width little-endian field of five characters (30 bits), as scrypt's r and p are written. */
static const char *scrypt_number(const char *s, uint32_t *ret) {
        uint32_t v = 0;
        for (unsigned i = 0; i < 5; i++) {
                int c = crypt_b64(s[i]);
                if (c < 0)
                        return NULL;
                v |= (uint32_t) c << (6 * i);
        }
        *ret = v;
        return s + 5;
}

/*
 * yescrypt and scrypt fill 128 * r * N bytes (their other buffers grow with p, which the passes
 * bound). The time: one pass to fill that memory and, per lane (p), one more (scrypt;
 * yescrypt's default t = 0 does a third), 1.5 more for t = 1 and t more for larger t: (t + 2) * p
 * passes bounds each of these.
 */
static void memory_hard_cost(uint32_t n_log2, uint32_t r, uint32_t p, uint32_t t,
                             const struct roles_hash_params *ceiling, struct roles_crypt_cost *ret) {
        uint64_t kib = n_log2 >= 64 ? UINT64_MAX : mul_sat(r, n_log2 >= 3 ? 1ull << (n_log2 - 3) : 1);
        uint64_t passes = mul_sat(p, (uint64_t) t + 2);

        /*
         * The argon2 ceilings apply: memory at most argon2's m (never below 256 MiB, sixteen
         * times Debian's default yescrypt of N = 4096 and r = 32), passes at most argon2's t
         * (never below 12).
         */
        if (kib > ceiling->m_cost_kib)
                set_cost(ret, "memory (KiB)", kib, ceiling->m_cost_kib);
        else
                set_cost(ret, "passes", passes, ceiling->t_cost);
}

/* "$y$" and "$gy$" (which hands the same parameters to yescrypt): flavor, N, r, then optionally p and t. */
static const char *yescrypt_params(const char *s, const struct roles_hash_params *ceiling,
                                   struct roles_crypt_cost *ret) {
        uint32_t flavor, n_log2, r, have = 0, p = 1, t = 0;

        if (!(s = yescrypt_number(s, 0, &flavor)) || !(s = yescrypt_number(s, 1, &n_log2)) ||
            !(s = yescrypt_number(s, 1, &r)))
                return NULL;
        if (*s != '$' && !(s = yescrypt_number(s, 1, &have)))
                return NULL;
        /* Bit 0: p follows; bit 1: t follows. g (bit 2) and a ROM (bit 3) libxcrypt refuses, and
         * any higher bit it would skip without reading: refused here before a guess is made. */
        if (have > 3 || flavor > 2 + 255 || n_log2 > 63 || r == 0)
                return NULL;
        if ((have & 1) && !(s = yescrypt_number(s, 2, &p)))
                return NULL;
        if ((have & 2) && !(s = yescrypt_number(s, 1, &t)))
                return NULL;
        if (*s != '$')
                return NULL;
        memory_hard_cost(n_log2, r, p, t, ceiling, ret);
        return s + 1;
}

/* "$7$": N's log2 in one character, then r and p in five each; no t. */
static const char *scrypt_params(const char *s, const struct roles_hash_params *ceiling,
                                 struct roles_crypt_cost *ret) {
        int n_log2 = crypt_b64(*s);
        uint32_t r, p;

        if (n_log2 < 1 || !(s = scrypt_number(s + 1, &r)) || !(s = scrypt_number(s, &p)) || r == 0 || p == 0)
                return NULL;
        memory_hard_cost((uint32_t) n_log2, r, p, 0, ceiling, ret);
        return s;
}

/*
 * "$6$" and "$5$": "rounds=N$" first, or 5000 rounds. libxcrypt reads N with strtoul, so a
 * sign or a space would be read too: anything but digits and '$' is refused instead.
 */
static const char *sha_params(const char *s, const struct roles_hash_params *ceiling,
                              struct roles_crypt_cost *ret) {
        uint64_t rounds = 5000;
        (void) ceiling;

        if (strncmp(s, "rounds=", 7) == 0) {
                s += 7;
                if (*s < '0' || *s > '9')
                        return NULL;
                for (rounds = 0; *s >= '0' && *s <= '9'; s++)
                        rounds = add_sat(mul_sat(rounds, 10), (uint64_t) (*s - '0'));
                if (*s++ != '$')
                        return NULL;
        }
        set_cost(ret, "rounds", rounds, ROLES_CRYPT_SHA_ROUNDS_MAX);
        return s;
}

/* "$2b$" and "$2y$": two digits, the log2 of the rounds, then '$' (returned: salt and hash
 * follow it as one run of 53 characters). */
static const char *bcrypt_params(const char *s, const struct roles_hash_params *ceiling,
                                 struct roles_crypt_cost *ret) {
        (void) ceiling;

        if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != '$')
                return NULL;
        uint64_t cost = (uint64_t) (s[0] - '0') * 10 + (uint64_t) (s[1] - '0');
        set_cost(ret, "cost", cost, ROLES_CRYPT_BCRYPT_COST_MAX);
        return s + 2;
}

/* md5crypt: 1000 rounds, always (what stays zero: nothing to measure). */
static const char *fixed_params(const char *s, const struct roles_hash_params *ceiling,
                                struct roles_crypt_cost *ret) {
        (void) ceiling;
        (void) ret;
        return s;
}

static bool crypt_char(char c) {
        return crypt_b64(c) >= 0;
}

int roles_crypt_cost(const char *hash, const struct roles_hash_params *ceiling, struct roles_crypt_cost *ret) {
        static const struct {
                const char *prefix, *method;
                const char *(*params)(const char *, const struct roles_hash_params *, struct roles_crypt_cost *);
        } methods[] = {
                { "$y$", "yescrypt", yescrypt_params },
                { "$gy$", "gost-yescrypt", yescrypt_params },
                { "$7$", "scrypt", scrypt_params },
                { "$6$", "sha512crypt", sha_params },
                { "$5$", "sha256crypt", sha_params },
                { "$2b$", "bcrypt", bcrypt_params },
                { "$2y$", "bcrypt", bcrypt_params },
                { "$1$", "md5crypt", fixed_params },
        };
        struct roles_crypt_cost cost = { 0 };

        if (!hash || !ceiling)
                return -EINVAL;
        /* Room for the "{crypt}" mark and the NUL in a stored hash. */
        size_t n = strnlen(hash, ROLES_HASH_ENCODED_MAX);
        if (n > ROLES_HASH_ENCODED_MAX - sizeof("{crypt}"))
                return -EINVAL;

        /* Traditional DES: two characters of salt and eleven of hash, 25 rounds, always. */
        if (hash[0] != '$') {
                if (n != 13)
                        return -EINVAL;
                for (size_t i = 0; i < n; i++)
                        if (!crypt_char(hash[i]))
                                return -EINVAL;
                *ret = (struct roles_crypt_cost) { .method = "DES crypt" };
                return 0;
        }

        for (size_t i = 0; i < ROLES_N_ELEMENTS(methods); i++) {
                size_t k = strlen(methods[i].prefix);
                if (strncmp(hash, methods[i].prefix, k) != 0)
                        continue;
                cost.method = methods[i].method;
                const char *salt = methods[i].params(hash + k, ceiling, &cost);
                /* Then a salt and the hash in crypt's alphabet, a '$' before the hash. */
                const char *last = salt ? strrchr(salt, '$') : NULL;
                if (!last || !last[1])
                        return -EINVAL;
                for (const char *p = salt; *p; p++)
                        if (!crypt_char(*p) && *p != '$')
                                return -EINVAL;
                *ret = cost;
                return 0;
        }
        return -EINVAL;
}
