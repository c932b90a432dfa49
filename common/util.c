/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_name_char(char c) {
        return is_lower_alnum(c) || c == '_' || c == '.' || c == '-';
}

/*
 * Are the 8 bytes at p all name bytes (a-z, 0-9, '_', '.', '-')? The NSS module checks the name
 * of every entry it serves and of every member of every group, and byte by byte that was the
 * largest part of a group enumeration left. With no byte of 0x80 or more, (x | 0x80..) - c and
 * 0x80.. + c - x borrow across no byte, so each byte's high bit says exactly whether it is >= c,
 * and <= c.
 */
static bool name_word(const char *p) {
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        uint64_t x;
        memcpy(&x, p, sizeof(x));
        if (x & highs)
                return false;
        uint64_t y = x | highs;
#define AT_LEAST(c) (y - ones * (c))
#define AT_MOST(c) (ones * (0x80 + (c)) - x)
        uint64_t ok = (AT_LEAST('a') & AT_MOST('z')) | (AT_LEAST('0') & AT_MOST('9')) | (AT_LEAST('-') & AT_MOST('.')) |
                      (AT_LEAST('_') & AT_MOST('_'));
#undef AT_LEAST
#undef AT_MOST
        return (ok & highs) == highs;
}

bool roles_name_valid_n(const char *name, size_t n) {
        if (!name || n == 0 || n > ROLES_NAME_MAX || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
                return false;
        size_t i = 0;
        for (; n - i >= 8; i += 8)
                if (!name_word(name + i))
                        return false;
        for (; i < n; i++)
                if (!is_name_char(name[i]))
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

size_t roles_utf8_decode_n(const char *s, size_t avail, uint32_t *ret_cp) {
        const unsigned char *p = (const unsigned char *) s;
        size_t k = roles_utf8_len_n(s, avail);
        if (k == 0)
                return 0;
        /* The lead byte's payload: all of an ASCII byte, then 5, 4 or 3 bits. */
        uint32_t cp = k == 1 ? p[0] : p[0] & (0x7fu >> k);
        for (size_t i = 1; i < k; i++)
                cp = cp << 6 | (p[i] & 0x3fu);
        *ret_cp = cp;
        return k;
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
 * Code points that do not show as themselves, sorted and disjoint for the binary search: with
 * one of them in a full name, a description or a path, what a terminal or `getent passwd`
 * shows is not what is stored (U+202E reverses the rest of a line, U+200B and the fillers are
 * invisible, U+2028 breaks a line where no newline is, a no-break space passes for a space).
 * Taken from Unicode 14.0: every Cc, Cf, Zl, Zp and Zs (but U+0020) code point, private use (Co),
 * noncharacters, and the rest of Default_Ignorable_Code_Point and Variation_Selector (fillers,
 * the combining grapheme joiner, variation selectors, unassigned ignorables); plus Unicode 15's
 * format controls U+13439-U+1343F. test_util's test_refused_matches_unicode_data checks the table
 * against python3's unicodedata on every code point.
 */
static const struct {
        uint32_t first, last;
} refused_code_points[] = {
        { 0x0000, 0x001f },     /* Cc: C0 controls */
        { 0x007f, 0x00a0 },     /* Cc: DEL, C1 controls; Zs: no-break space */
        { 0x00ad, 0x00ad },     /* Cf: soft hyphen */
        { 0x034f, 0x034f },     /* combining grapheme joiner */
        { 0x0600, 0x0605 },     /* Cf: Arabic number signs */
        { 0x061c, 0x061c },     /* Cf: Arabic letter mark (bidi) */
        { 0x06dd, 0x06dd },     /* Cf: Arabic end of ayah */
        { 0x070f, 0x070f },     /* Cf: Syriac abbreviation mark */
        { 0x0890, 0x0891 },     /* Cf: Arabic pound and piastre marks above */
        { 0x08e2, 0x08e2 },     /* Cf: Arabic disputed end of ayah */
        { 0x115f, 0x1160 },     /* Hangul choseong and jungseong fillers */
        { 0x1680, 0x1680 },     /* Zs: Ogham space mark */
        { 0x17b4, 0x17b5 },     /* Khmer inherent vowels (ignorable) */
        { 0x180b, 0x180f },     /* Mongolian free variation selectors; Cf: vowel separator */
        { 0x2000, 0x200f },     /* Zs: en quad to hair space; Cf: zero width space, ZWNJ, ZWJ, LRM, RLM */
        { 0x2028, 0x202f },     /* Zl, Zp; Cf: bidi embeddings and overrides; Zs: narrow no-break space */
        { 0x205f, 0x206f },     /* Zs: medium mathematical space; Cf: word joiner, invisible operators,
                                 * bidi isolates, deprecated format controls (U+2065: unassigned, ignorable) */
        { 0x3000, 0x3000 },     /* Zs: ideographic space */
        { 0x3164, 0x3164 },     /* Hangul filler */
        { 0xe000, 0xf8ff },     /* Co: private use area */
        { 0xfdd0, 0xfdef },     /* noncharacters */
        { 0xfe00, 0xfe0f },     /* variation selectors */
        { 0xfeff, 0xfeff },     /* Cf: zero width no-break space (byte order mark) */
        { 0xffa0, 0xffa0 },     /* halfwidth Hangul filler */
        { 0xfff0, 0xfffb },     /* unassigned ignorables; Cf: interlinear annotation controls */
        { 0xfffe, 0xffff },     /* noncharacters */
        { 0x110bd, 0x110bd },   /* Cf: Kaithi number sign */
        { 0x110cd, 0x110cd },   /* Cf: Kaithi number sign above */
        { 0x13430, 0x1343f },   /* Cf: Egyptian hieroglyph format controls */
        { 0x1bca0, 0x1bca3 },   /* Cf: shorthand format controls */
        { 0x1d173, 0x1d17a },   /* Cf: musical symbol format controls */
        { 0x1fffe, 0x1ffff },   /* noncharacters at the end of each plane */
        { 0x2fffe, 0x2ffff },
        { 0x3fffe, 0x3ffff },
        { 0x4fffe, 0x4ffff },
        { 0x5fffe, 0x5ffff },
        { 0x6fffe, 0x6ffff },
        { 0x7fffe, 0x7ffff },
        { 0x8fffe, 0x8ffff },
        { 0x9fffe, 0x9ffff },
        { 0xafffe, 0xaffff },
        { 0xbfffe, 0xbffff },
        { 0xcfffe, 0xcffff },
        { 0xdfffe, 0xdffff },
        { 0xe0000, 0xe0fff },   /* Cf: language tag and tags; variation selectors supplement; ignorable */
        { 0xefffe, 0x10ffff },  /* noncharacters; Co: supplementary private use areas A and B */
};

bool roles_code_point_refused(uint32_t cp) {
        size_t lo = 0, hi = ROLES_N_ELEMENTS(refused_code_points);
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cp < refused_code_points[mid].first)
                        hi = mid;
                else if (cp > refused_code_points[mid].last)
                        lo = mid + 1;
                else
                        return true;
        }
        return false;
}

/* Say why in why (when the caller wants to know) and return r. */
static int refuse(int r, char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(int r, char *why, size_t why_size, const char *fmt, ...) {
        if (why && why_size > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(why, why_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

/*
 * Are the 8 bytes at p all printable ASCII that text_check lets through without a second look
 * (0x20-0x7e but ':'; for a path, no ',' or space either)? Most of a gecos, home or shell is,
 * and the NSS module checks all three on every entry it serves: a word at a time, with the
 * byte tests of "Bit Twiddling Hacks" (hasless, hasmore; each tells exactly whether some byte is
 * below or above the bound, borrows and carries only ever adding a false "yes").
 */
static bool plain_word(const char *p, bool path) {
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        uint64_t x;
        memcpy(&x, p, sizeof(x));
        uint64_t below = (x - ones * (path ? 0x21 : 0x20)) & ~x;               /* a byte < 0x20 (0x21) */
        uint64_t above = (x + ones * (127 - 0x7e)) | x;                         /* a byte > 0x7e */
        uint64_t colon = x ^ ones * ':', comma = x ^ ones * ',';
        uint64_t equal = ((colon - ones) & ~colon) | (path ? (comma - ones) & ~comma : 0);  /* a ':' (','): 0 there */
        return ((below | above | equal) & highs) == 0;
}

/*
 * The one check of free text and paths, on text[0..n) (which need not be NUL-terminated: the
 * NSS module checks fields in place): well-formed UTF-8 of at most max bytes, no ':' (it would
 * split a passwd or group line), no refused code point; a path also starts with '/' and holds
 * no ',' or space.
 */
static int text_check(const char *text, size_t n, size_t max, bool path, char *why, size_t why_size) {
        if (!text)
                return refuse(-EINVAL, why, why_size, "missing");
        if (n > max)
                return refuse(-E2BIG, why, why_size, "longer than %zu bytes", max);
        if (path && (n == 0 || text[0] != '/'))
                return refuse(-EINVAL, why, why_size, "not an absolute path");
        for (size_t i = 0; i < n;) {
                if (n - i >= 8 && plain_word(text + i, path)) {
                        i += 8;
                        continue;
                }
                uint32_t cp = (unsigned char) text[i];
                size_t k = 1;
                if (cp >= 0x80 && (k = roles_utf8_decode_n(text + i, n - i, &cp)) == 0)
                        return refuse(-EILSEQ, why, why_size, "not well-formed UTF-8 (at byte %zu)", i + 1);
                if (cp == ':' || (path && cp == ','))
                        return refuse(-EINVAL, why, why_size, "'%c' is not allowed", (char) cp);
                if (path && cp == ' ')
                        return refuse(-EINVAL, why, why_size, "a space is not allowed");
                /* Printable ASCII is most of what is checked: it needs no search. */
                if ((cp < 0x20 || cp > 0x7e) && roles_code_point_refused(cp))
                        return refuse(-EINVAL, why, why_size, "U+%04X is not allowed (a control, format, bidi, "
                                      "separator, invisible, private-use or noncharacter code point)", (unsigned) cp);
                i += k;
        }
        return 0;
}

int roles_text_check(const char *text, size_t max, char *why, size_t why_size) {
        /* One byte past max is enough to know it is too long. */
        return text_check(text, text ? strnlen(text, max + 1) : 0, max, false, why, why_size);
}

bool roles_text_valid(const char *text, size_t max) {
        return roles_text_check(text, max, NULL, 0) == 0;
}

bool roles_text_valid_n(const char *text, size_t n, size_t max) {
        return text_check(text, n, max, false, NULL, 0) == 0;
}

int roles_path_check(const char *path, char *why, size_t why_size) {
        return text_check(path, path ? strnlen(path, ROLES_TEXT_MAX + 1) : 0, ROLES_TEXT_MAX, true, why, why_size);
}

bool roles_path_valid(const char *path) {
        return roles_path_check(path, NULL, 0) == 0;
}

bool roles_path_valid_n(const char *path, size_t n) {
        return text_check(path, n, ROLES_TEXT_MAX, true, NULL, 0) == 0;
}

int roles_email_check(const char *email, char *why, size_t why_size) {
        int r = roles_text_check(email, ROLES_EMAIL_MAX, why, why_size);
        if (r < 0)
                return r;
        const char *at = strchr(email, '@');
        if (!at || at == email || !at[1] || strchr(at + 1, '@') || strpbrk(email, " \t,;<>\""))
                return refuse(-EINVAL, why, why_size, "not an address: one '@' with text on both sides, "
                              "no spaces, ',', ';', '<', '>' or '\"'");
        return 0;
}

bool roles_email_valid(const char *email) {
        return roles_email_check(email, NULL, 0) == 0;
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

const char *roles_format_end(int64_t t, char buf[static 21]) {
        return t == 0 ? "never" : roles_format_time(t, buf);
}

void roles_uuid_mark_v4(uint8_t b[static ROLES_UUID_BYTES]) {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
}

int roles_uuid_new(char ret_uuid[static ROLES_UUID_LEN + 1]) {
        uint8_t b[ROLES_UUID_BYTES];
        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                return -EIO;
        roles_uuid_mark_v4(b);
        roles_uuid_format(b, ret_uuid);
        return 0;
}

void roles_uuid_format(const uint8_t b[static ROLES_UUID_BYTES], char ret_uuid[static ROLES_UUID_LEN + 1]) {
        /* By hand rather than snprintf: an import formats millions. */
        static const char hex[] = "0123456789abcdef";
        char *o = ret_uuid;
        for (int i = 0; i < ROLES_UUID_BYTES; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *o++ = '-';
                *o++ = hex[b[i] >> 4];
                *o++ = hex[b[i] & 0xf];
        }
        *o = '\0';
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
        return roles_read_fd_stat(fd, &st, max, ret_data, ret_len);
}

int roles_write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int roles_read_fd_stat(int fd, const struct stat *st, size_t max, char **ret_data, size_t *ret_len) {
        if (!S_ISREG(st->st_mode))
                return -EINVAL;
        if ((uint64_t) st->st_size > max)
                return -EFBIG;
        size_t size = (size_t) st->st_size, have = 0;
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

bool roles_owner_and_mode_trusted(const struct stat *st) {
        return (st->st_uid == 0 || st->st_uid == geteuid()) && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

int roles_parent_dir_trusted(const char *path) {
        char dir[PATH_MAX];
        struct stat st;
        if (roles_strcpy(dir, sizeof(dir), path) < 0)
                return -ENAMETOOLONG;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return -EINVAL;
        *slash = '\0';
        if (lstat(dir, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) && roles_owner_and_mode_trusted(&st) ? 0 : -EPERM;
}
