/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every part of roles: validation of the names and texts that can
 * reach a passwd line, time parsing and formatting, uuids. Links libc only, so the NSS
 * module may use it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define ROLES_NAME_MAX      32    /* user, group, role and metarole code length */
#define ROLES_PERM_MAX      128   /* permission code length */
#define ROLES_TEXT_MAX      255   /* gecos, description, home, shell */
#define ROLES_EMAIL_MAX     254
#define ROLES_UUID_LEN      36
#define ROLES_ID_INVALID    UINT32_MAX

#define ROLES_N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* A name of a user, group, role or metarole: [a-z_][a-z0-9_.-]*, 1..32 bytes. The _n form checks
 * name[0..n), which need not be NUL-terminated (the NSS module checks fields in place). */
bool roles_name_valid(const char *name);
bool roles_name_valid_n(const char *name, size_t n);

/*
 * A permission code: dotted lower-case words ([a-z0-9_-]+ separated by single dots), at
 * most 128 bytes. With allow_wildcard, the last word may be "*" ("db.*"); a lone "*" is
 * never valid: holding every permission is what super-admin means.
 */
bool roles_perm_valid(const char *perm, bool allow_wildcard);

/* Does a grant (exact code or "prefix.*") cover perm? Both must already be valid. */
bool roles_perm_covers(const char *grant, const char *perm);

/* Length of the well-formed UTF-8 character at s (1-4 bytes), or 0 if it is not one; the _n
 * form never reads past avail bytes (for fields that are not NUL-terminated). */
size_t roles_utf8_len(const char *s);
size_t roles_utf8_len_n(const char *s, size_t avail);

/* The well-formed UTF-8 character at s (never reading past avail bytes): its length (1-4) and its
 * code point in *ret_cp, or 0 (and *ret_cp untouched) if it is not one. */
size_t roles_utf8_decode_n(const char *s, size_t avail, uint32_t *ret_cp);

/* How many characters s[0..n) holds: each well-formed UTF-8 character counts one, and so does
 * each byte that starts none (a password need not be UTF-8). What password_min_length counts. */
size_t roles_utf8_code_points(const char *s, size_t n);

/*
 * Code points no text may hold because they do not show as themselves: controls (Cc), format and
 * bidi controls (Cf), line and paragraph separators, spaces other than U+0020, invisible fillers,
 * variation selectors, private use and noncharacters (the table in util.c says which).
 */
bool roles_code_point_refused(uint32_t cp);

/* Room for what the _check functions say about a refused value. */
#define ROLES_WHY_MAX 160

/*
 * Free text that may land in a passwd or group line: well-formed UTF-8 of at most max bytes,
 * without ':' or a refused code point (roles_code_point_refused). The _check form returns 0,
 * -E2BIG (too long), -EILSEQ (not well-formed) or -EINVAL, and on failure says why in why
 * ("U+202E is not allowed (...)"; why may be NULL). The _n form checks text[0..n).
 */
int roles_text_check(const char *text, size_t max, char *why, size_t why_size);
bool roles_text_valid(const char *text, size_t max);
bool roles_text_valid_n(const char *text, size_t n, size_t max);

/* An absolute path: text as above of at most ROLES_TEXT_MAX bytes, also without ',' or a space. */
int roles_path_check(const char *path, char *why, size_t why_size);
bool roles_path_valid(const char *path);
bool roles_path_valid_n(const char *path, size_t n);

/* A plausible email address: text as above of at most 254 bytes, one '@' with text on both
 * sides, no spaces, ',', ';', '<', '>' or '"'. */
int roles_email_check(const char *email, char *why, size_t why_size);
bool roles_email_valid(const char *email);

/* Parse a decimal uid/gid; refuses signs, spaces, overflow and (uid_t)-1. */
int roles_parse_id(const char *s, uint32_t *ret_id);

/* Parse a strictly decimal signed 64-bit integer. */
int roles_parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/*
 * Parse a point in time given on the command line: "YYYY-MM-DD" (midnight UTC),
 * "YYYY-MM-DDTHH:MM[:SS][Z]" (UTC, digits exactly so), "@EPOCH", or "+N[smhdw]" from now.
 * The result is always after the epoch (-ERANGE otherwise): 0 stands for "no end".
 */
int roles_parse_time(const char *s, time_t now, int64_t *ret_time);

/* Format as ISO 8601 UTC ("2026-11-21T23:40:00Z"); buf must hold 21 bytes. */
char *roles_format_time(int64_t t, char buf[static 21]);
/* An end (an expiry, an assignment's until) as the audit shows it: the time, or "never" for 0. */
const char *roles_format_end(int64_t t, char buf[static 21]);

/* A random (version 4) uuid in lower-case text, from getrandom(2). */
int roles_uuid_new(char ret_uuid[static ROLES_UUID_LEN + 1]);

/* The parts of roles_uuid_new, for uuids drawn in bulk: set the version and variant bits of 16
 * random bytes; write them as text. Text sorts as the bytes do (fixed width, lower-case hex). */
#define ROLES_UUID_BYTES 16
void roles_uuid_mark_v4(uint8_t b[static ROLES_UUID_BYTES]);
void roles_uuid_format(const uint8_t b[static ROLES_UUID_BYTES], char ret_uuid[static ROLES_UUID_LEN + 1]);

bool roles_uuid_valid(const char *uuid);

/*
 * Read a whole regular file from fd (at most max bytes; -EFBIG beyond) into a malloc'd
 * buffer with a NUL after the end.
 */
int roles_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len);

/* The same, for a caller that has just fstat'ed fd itself (st): one system call fewer, which the
 * NSS module's first lookup in a process pays for every file it reads. */
int roles_read_fd_stat(int fd, const struct stat *st, size_t max, char **ret_data, size_t *ret_len);

/* Write all of buf to fd, through short writes and EINTR: 0 or -errno. */
int roles_write_all(int fd, const void *buf, size_t len);

/* strlcpy-like: copies and returns -ENAMETOOLONG (leaving dst empty) if src does not fit. */
int roles_strcpy(char *dst, size_t size, const char *src);

/*
 * The one rule for a file or directory roles trusts (databases, the NSS index, their
 * directory): owned by root, or by this process's effective user (tests, unprivileged setups),
 * and writable by neither group nor others. st from lstat or fstat.
 */
struct stat;
bool roles_owner_and_mode_trusted(const struct stat *st);

/* The directory that holds path (absolute): a directory, not a symlink, trusted as above.
 * 0, -EPERM when it is not, -EINVAL for a relative path, -errno when it cannot be looked at. */
int roles_parent_dir_trusted(const char *path);
