/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool roles_name_valid_n(const char *name, size_t n) {
        if (!name || n == 0 || n > ROLES_NAME_MAX || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(is_lower_alnum(name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-'))
                        return false;
        return true;
}

bool roles_name_valid(const char *name) {
        /* One byte past the limit is enough to know it is too long. */
        return name && roles_name_valid_n(name, strnlen(name, ROLES_NAME_MAX + 1));
}

bool roles_perm_valid(const char *perm, bool allow_wildcard) {
        if (!perm || strlen(perm) > ROLES_PERM_MAX)
                return false;
        const char *word = perm;
        for (;;) {
                const char *end = word;
                while (is_lower_alnum(*end) || *end == '_' || *end == '-')
                        end++;
                if (end == word) {
                        /* An empty word is only allowed as the "*" ending a wildcard grant. */
                        return allow_wildcard && word != perm && word[0] == '*' && word[1] == '\0';
                }
                if (*end == '\0')
                        return true;
                if (*end != '.')
                        return false;
                word = end + 1;
        }
}

bool roles_perm_covers(const char *grant, const char *perm) {
        size_t n = strlen(grant);
        if (n >= 2 && grant[n - 1] == '*' && grant[n - 2] == '.')
                return strncmp(grant, perm, n - 1) == 0 && perm[n - 1] != '\0';
        return strcmp(grant, perm) == 0;
}

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 if it is not one. Overlong
 * forms, surrogates and code points past U+10FFFF are not well-formed. */
size_t roles_utf8_len_n(const char *s, size_t avail) {
        const unsigned char *p = (const unsigned char *) s;
        size_t need;
        if (avail == 0)
                return 0;
        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                need = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                need = 3;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                need = 4;
        else
                return 0;
        /* Never look past what the caller has: the continuation bytes must all be there. */
        if (need > avail)
                return 0;
        for (size_t i = 1; i < need; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        /* Overlong forms, surrogates and code points past U+10FFFF are not well-formed. */
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
            (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
                return 0;
        return need;
}

size_t roles_utf8_len(const char *s) {
        return roles_utf8_len_n(s, strnlen(s, 4));
}

size_t roles_utf8_code_points(const char *s, size_t n) {
        size_t count = 0;
        /* A byte that starts no well-formed character counts as one: never fewer characters
         * than there are units someone had to type or guess. */
        for (size_t i = 0; i < n; count++) {
                size_t k = roles_utf8_len_n(s + i, n - i);
                i += k ? k : 1;
        }
        return count;
}

/*
 * The one check of free text and paths, on text[0..n) (which need not be NUL-terminated: the
 * NSS module checks fields in place): well-formed UTF-8 of at most max bytes, no ':' (it would
 * split a passwd or group line), no control character (C0, DEL, C1); a path also starts with '/'
 * and holds no ',' or space.
 */
static bool text_ok(const char *text, size_t n, size_t max, bool path) {
        if (!text || n > max || (path && (n == 0 || text[0] != '/')))
                return false;
        const unsigned char *p = (const unsigned char *) text;
        for (size_t i = 0; i < n;) {
                size_t k = roles_utf8_len_n(text + i, n - i);
                if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == ':')) ||
                    (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) || (path && (p[i] == ',' || p[i] == ' ')))
                        return false;
                i += k;
        }
        return true;
}

bool roles_text_valid(const char *text, size_t max) {
        /* One byte past max is enough to know it is too long. */
        return text && text_ok(text, strnlen(text, max + 1), max, false);
}

bool roles_text_valid_n(const char *text, size_t n, size_t max) {
        return text_ok(text, n, max, false);
}

bool roles_path_valid(const char *path) {
        return path && text_ok(path, strnlen(path, ROLES_TEXT_MAX + 1), ROLES_TEXT_MAX, true);
}

bool roles_path_valid_n(const char *path, size_t n) {
        return text_ok(path, n, ROLES_TEXT_MAX, true);
}

bool roles_email_valid(const char *email) {
        if (!roles_text_valid(email, ROLES_EMAIL_MAX))
                return false;
        const char *at = strchr(email, '@');
        return at && at != email && at[1] && !strchr(at + 1, '@') && !strpbrk(email, " \t,;<>\"");
}

int roles_parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret) {
        if (!s || !*s)
                return -EINVAL;
        const char *p = s;
        if (*p == '-')
                p++;
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (const char *q = p; *q; q++)
                if (*q < '0' || *q > '9')
                        return -EINVAL;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int roles_parse_id(const char *s, uint32_t *ret_id) {
        int64_t v;
        if (s && s[0] == '-')
                return -EINVAL;
        int r = roles_parse_int64(s, 0, (int64_t) UINT32_MAX - 1, &v);
        if (r < 0)
                return r;
        *ret_id = (uint32_t) v;
        return 0;
}

/* Does s follow pattern exactly, where 'd' stands for one ASCII digit? */
static bool layout_matches(const char *s, const char *pattern) {
        for (; *pattern; s++, pattern++)
                if (*pattern == 'd' ? !(*s >= '0' && *s <= '9') : *s != *pattern)
                        return false;
        return *s == '\0';
}

static int parse_time(const char *s, time_t now, int64_t *ret_time);

int roles_parse_time(const char *s, time_t now, int64_t *ret_time) {
        int64_t t;
        int r = parse_time(s, now, &t);
        if (r < 0)
                return r;
        /* 0 means "no end" to the store: the epoch itself must never be taken for it (an
         * administrator locking an account with 1970-01-01 would unlock it forever). */
        if (t <= 0)
                return -ERANGE;
        *ret_time = t;
        return 0;
}

static int parse_time(const char *s, time_t now, int64_t *ret_time) {
        if (!s || !*s)
                return -EINVAL;

        if (s[0] == '@')
                return roles_parse_int64(s + 1, 0, INT64_MAX / 2, ret_time);

        if (s[0] == '+') {
                size_t n = strlen(s);
                static const struct { char unit; int64_t seconds; } units[] = {
                        { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
                };
                int64_t mult = 1;
                char digits[24];
                if (n < 2 || n - 1 >= sizeof(digits))
                        return -EINVAL;
                memcpy(digits, s + 1, n - 1);
                digits[n - 1] = '\0';
                for (size_t i = 0; i < ROLES_N_ELEMENTS(units); i++)
                        if (digits[n - 2] == units[i].unit) {
                                mult = units[i].seconds;
                                digits[n - 2] = '\0';
                        }
                int64_t v;
                if (digits[0] == '-' || roles_parse_int64(digits, 0, INT64_MAX / 2 / 604800, &v) < 0)
                        return -EINVAL;
                *ret_time = (int64_t) now + v * mult;
                return 0;
        }

        /* strptime alone would take "2026-1-1" and " 2026-01-01": insist on the documented layout. */
        if (!layout_matches(s, "dddd-dd-dd") && !layout_matches(s, "dddd-dd-ddTdd:dd") &&
            !layout_matches(s, "dddd-dd-ddTdd:ddZ") && !layout_matches(s, "dddd-dd-ddTdd:dd:dd") &&
            !layout_matches(s, "dddd-dd-ddTdd:dd:ddZ"))
                return -EINVAL;

        struct tm tm = { 0 };
        const char *end = strptime(s, "%Y-%m-%d", &tm);
        if (!end)
                return -EINVAL;
        if (*end == 'T') {
                const char *t = strptime(end + 1, "%H:%M:%S", &tm);
                if (!t)
                        t = strptime(end + 1, "%H:%M", &tm);
                if (!t)
                        return -EINVAL;
                end = t;
                if (*end == 'Z')
                        end++;
        }
        if (*end != '\0' || tm.tm_year < 70)
                return -EINVAL;
        /* Reject dates and times that timegm would normalise (2026-02-31, 10:00:60). */
        struct tm check = tm;
        time_t t = timegm(&check);
        if (t == (time_t) -1 || check.tm_mday != tm.tm_mday || check.tm_mon != tm.tm_mon ||
            check.tm_hour != tm.tm_hour || check.tm_min != tm.tm_min || check.tm_sec != tm.tm_sec)
                return -EINVAL;
        *ret_time = (int64_t) t;
        return 0;
}

char *roles_format_time(int64_t t, char buf[static 21]) {
        struct tm tm;
        time_t tt = (time_t) t;
        if (!gmtime_r(&tt, &tm) || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
                /* Never show a truncated (different) number. */
                if (snprintf(buf, 21, "@%lld", (long long) t) >= 21)
                        snprintf(buf, 21, "(invalid time)");
        }
        return buf;
}

int roles_uuid_new(char ret_uuid[static ROLES_UUID_LEN + 1]) {
        uint8_t b[16];
        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                return -EIO;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        snprintf(ret_uuid, ROLES_UUID_LEN + 1,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

bool roles_uuid_valid(const char *uuid) {
        if (!uuid || strlen(uuid) != ROLES_UUID_LEN)
                return false;
        for (int i = 0; i < ROLES_UUID_LEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? uuid[i] != '-' : !((uuid[i] >= '0' && uuid[i] <= '9') || (uuid[i] >= 'a' && uuid[i] <= 'f')))
                        return false;
        }
        return true;
}

int roles_strcpy(char *dst, size_t size, const char *src) {
        size_t n = strlen(src);
        if (n >= size) {
                if (size > 0)
                        dst[0] = '\0';
                return -ENAMETOOLONG;
        }
        memcpy(dst, src, n + 1);
        return 0;
}

int roles_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        size_t size = (size_t) st.st_size, have = 0;
        char *data = malloc(size + 1);
        if (!data)
                return -ENOMEM;
        while (have < size) {
                ssize_t n = read(fd, data + have, size - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        free(data);
                        return r;
                }
                have += (size_t) n;
        }
        data[have] = '\0';
        *ret_data = data;
        *ret_len = have;
        return 0;
}
