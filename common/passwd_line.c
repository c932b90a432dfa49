/* SPDX-License-Identifier: MIT */
#include "passwd_line.h"

#include <string.h>

size_t passwd_line_fields(const char *line, size_t len, struct passwd_field *fields, size_t max) {
        size_t at = 0;
        for (size_t count = 0; count < max; count++) {
                /* memchr, never strchr: the length bounds the search, not a NUL. */
                const char *colon = memchr(line + at, ':', len - at);
                size_t end = colon ? (size_t) (colon - line) : len;
                fields[count] = (struct passwd_field) { line + at, end - at };
                if (!colon)
                        return count + 1;
                at = end + 1;
        }
        /* A ':' after the max-th field (or max 0: the line is a field): more than max, whatever
         * the rest holds, which is not looked at. */
        return max + 1;
}

bool passwd_line_next_member(struct passwd_field list, size_t *pos, struct passwd_field *ret) {
        /* Past the end: after the last member, *pos is list.n + 1 (a list ending in ',' still
         * has its empty last member at list.n). */
        if (list.n == 0 || *pos > list.n)
                return false;
        const char *start = list.p + *pos;
        const char *comma = memchr(start, ',', list.n - *pos);
        size_t n = comma ? (size_t) (comma - start) : list.n - *pos;
        *ret = (struct passwd_field) { start, n };
        *pos += n + 1;
        return true;
}

char *passwd_line_cut(char *line, struct passwd_field f) {
        /* The same address as f.p, reached from the writable line. */
        char *s = line + (f.p - line);
        s[f.n] = '\0';
        return s;
}
