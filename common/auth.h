/* SPDX-License-Identifier: MIT */
/*
 * Secrets: argon2id password hashes, one-time activation/reset codes, TOTP.
 * Links libargon2, libsodium and liboath; never linked into the NSS module.
 * Convention: 0 on success, -errno on failure, ret_ parameters untouched on failure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct roles_config;

/* ---- argon2id ------------------------------------------------------------------------ */

struct roles_hash_params {
        uint32_t t_cost;
        uint32_t m_cost_kib;
        uint32_t parallelism;
};

#define ROLES_PASSWORD_MAX     4096   /* longer passwords are refused before any hashing */
#define ROLES_HASH_SALT_LEN    16
#define ROLES_HASH_LEN         32
#define ROLES_HASH_ENCODED_MAX 256

/*
 * The password policy, the one check of a new password wherever it is set (rolesctl, PAM's
 * password change): -E2BIG past ROLES_PASSWORD_MAX bytes, -EINVAL when it holds a NUL byte,
 * -ERANGE when it has fewer than cfg->password_min_length characters (roles_utf8_code_points:
 * code points, and a byte that is not UTF-8 as one), 0 when it may be set.
 */
int roles_password_policy_check(const char *password, size_t len, const struct roles_config *cfg);
/* The words of a refusal r of roles_password_policy_check (or -E2BIG for a line too long to be
 * read), the same wherever a password is set: in buf, which is returned. */
const char *roles_password_policy_refusal(int r, const struct roles_config *cfg, char *buf, size_t size);

/* The parameters new hashes are made with. */
void roles_hash_params_from_config(const struct roles_config *cfg, struct roles_hash_params *ret);

/*
 * The most a stored hash may demand before we refuse to verify it (so a tampered row cannot
 * make us allocate gigabytes): four times the larger of the configured value and the
 * RFC 9106 default, for each of t, m and p.
 */
void roles_hash_ceiling_from_config(const struct roles_config *cfg, struct roles_hash_params *ret);

/* What an encoded "$argon2id$v=19$m=..,t=..,p=..$salt$hash" string says, checked for form only. */
struct roles_hash_info {
        uint32_t version;
        struct roles_hash_params params;
        size_t salt_len;     /* decoded bytes */
        size_t hash_len;     /* decoded bytes */
};
int roles_hash_parse(const char *encoded, struct roles_hash_info *ret);

/* Hash a password (at most ROLES_PASSWORD_MAX bytes) with a fresh salt from libsodium. */
int roles_password_hash(const char *password, size_t len, const struct roles_hash_params *params,
                        char ret_encoded[static ROLES_HASH_ENCODED_MAX]);

/*
 * 0 when password matches, -EACCES when it does not, -EINVAL for a malformed hash, -E2BIG
 * when the stored parameters exceed the ceiling (nothing is allocated in that case).
 * The comparison is constant-time (libargon2).
 */
int roles_password_verify(const char *encoded, const char *password, size_t len,
                          const struct roles_hash_params *ceiling);

/*
 * Verify against what secrets.db holds: an argon2id string (roles_password_verify), a crypt(3)
 * hash brought in by import, stored as "{crypt}" + the hash, checked with crypt_r and compared
 * in constant time, or "" for no password (an account without one, an unknown user), which
 * nothing matches (-EACCES). Same results as roles_password_verify; a crypt(3) hash is first
 * read by roles_crypt_cost, and never computed when it is above its ceiling (-E2BIG) or not
 * one import accepts (-EINVAL).
 *
 * Every refusal costs at least one argon2id verification at params (the configured parameters),
 * so that its time tells neither unknown names nor accounts whose hash is cheaper: when the
 * stored hash did not cost that (a crypt(3) hash, argon2id with a lower m or t, as after the
 * cost was raised, no password, a malformed string or one above the ceiling), a verification
 * against a dummy at params follows. A password longer than ROLES_PASSWORD_MAX is refused
 * before any hashing, whatever is stored. A success is not padded (a cheaper hash is then
 * rehashed at params, see roles_password_needs_rehash).
 */
int roles_password_verify_stored(const char *stored, const char *password, size_t len,
                                 const struct roles_hash_params *params,
                                 const struct roles_hash_params *ceiling);

/* True if the stored hash was made with parameters other than params (or is not argon2id). */
bool roles_password_needs_rehash(const char *encoded, const struct roles_hash_params *params);

/* ---- crypt(3) hashes brought in by import ---------------------------------------------- */

/*
 * The ceilings of the crypt(3) methods whose cost is time alone (README "Imported crypt(3)
 * hashes are marked"): one sha512crypt of a million rounds takes about 0.3 s and one bcrypt of
 * cost 14 about 0.9 s on a 2020s core; the defaults are 5000 rounds and cost 5 to 12.
 */
#define ROLES_CRYPT_SHA_ROUNDS_MAX  1000000
#define ROLES_CRYPT_BCRYPT_COST_MAX 14

/* What verifying a crypt(3) hash costs, against its ceiling. */
struct roles_crypt_cost {
        const char *method;     /* "yescrypt", "sha512crypt", ..., "DES crypt" */
        const char *what;       /* the measure: "rounds", "KiB of memory", ...; NULL for a fixed cost */
        uint64_t value;         /* saturated at UINT64_MAX */
        uint64_t ceiling;
        bool above;             /* value > ceiling: never to be computed */
};

/*
 * Read the cost of a crypt(3) hash as import stores it (without the "{crypt}" mark), the way
 * libxcrypt would read it: yescrypt "$y$" and gost-yescrypt "$gy$" (memory 128 * N * r, passes
 * from t and p), scrypt "$7$" (the same), sha512crypt "$6$" and sha256crypt "$5$" (rounds,
 * ROLES_CRYPT_SHA_ROUNDS_MAX), bcrypt "$2b$"/"$2y$" (ROLES_CRYPT_BCRYPT_COST_MAX), md5crypt "$1$"
 * and 13-character DES (fixed costs). The memory-hard ones are held to the argon2 ceiling:
 * memory at most its m, passes over that memory at most its t.
 * 0 with *ret filled (ret->above says whether it is over its ceiling), -EINVAL for anything
 * else (another method, a malformed or unbounded parameter, a character outside crypt's
 * alphabet, no salt or hash, too long to store).
 */
int roles_crypt_cost(const char *hash, const struct roles_hash_params *ceiling, struct roles_crypt_cost *ret);

/* ---- one-time codes ------------------------------------------------------------------- */

/*
 * Activation and reset codes: 100 random bits shown as "XXXXX-XXXXX-XXXXX-XXXXX" (RFC 4648
 * base32). Only a BLAKE2b hash bound to the user's uuid is ever stored, so a code is useless
 * for any other user and a stolen secrets.db does not reveal pending codes.
 */
#define ROLES_CODE_TEXT_LEN 23
#define ROLES_CODE_HASH_LEN 32

int roles_code_new(char ret_code[static ROLES_CODE_TEXT_LEN + 1]);

/* Hash a code as typed (case, dashes and spaces ignored) for the user with this uuid. */
int roles_code_hash(const char *code, const char *user_uuid, uint8_t ret_hash[static ROLES_CODE_HASH_LEN]);

/* Constant-time: does code, typed by the user with user_uuid, match the stored hash? */
bool roles_code_matches(const uint8_t stored[static ROLES_CODE_HASH_LEN], const char *code,
                        const char *user_uuid);

/* ---- TOTP (RFC 6238, SHA1, 6 digits, 30 s) ---------------------------------------------- */

#define ROLES_TOTP_SECRET_BYTES  20
#define ROLES_TOTP_SECRET_B32MAX 64
#define ROLES_TOTP_STEP          30
#define ROLES_TOTP_DIGITS        6

/* A fresh 160-bit secret, base32 without padding. */
int roles_totp_new_secret(char ret_base32[static ROLES_TOTP_SECRET_B32MAX]);

/* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30 (malloc'd). */
int roles_totp_uri(const char *issuer, const char *account, const char *base32, char **ret_uri);

/*
 * Check a code at time now, accepting window steps either side. A step at or before
 * last_step (the last one accepted for this user, -1 if none) is refused with -EALREADY, so
 * a code works once. On success *ret_step is the matching step, to be stored as last_step.
 * -EACCES for a wrong code, -EINVAL for a malformed code or secret.
 */
int roles_totp_verify(const char *base32, const char *code, time_t now, unsigned window,
                      int64_t last_step, int64_t *ret_step);

/* Wipe a secret (sodium_memzero). */
void roles_wipe(void *p, size_t len);
