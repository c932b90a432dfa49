/* SPDX-License-Identifier: MIT */
/* libFuzzer: the passwd/group/shadow line splitter and the member list walk, on an input that is
 * one line of exactly its size (ASan catches a read past it). The fields must be the line's ':'
 * separated parts, in order and whole, their count exact up to max (max + 1 beyond); the members
 * the last field's ',' separated parts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passwd_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *line = malloc(size ? size : 1);
        if (!line)
                return 0;
        memcpy(line, data, size);
        size_t colons = 0;
        for (size_t i = 0; i < size; i++)
                colons += line[i] == ':';

        struct passwd_field f[SHADOW_LINE_FIELDS + 1];
        for (size_t max = 0; max <= SHADOW_LINE_FIELDS; max++) {
                /* The count, or max + 1 for more than max. */
                size_t k = passwd_line_fields(line, size, f, max);
                if (k != (colons + 1 <= max ? colons + 1 : max + 1))
                        abort();
                size_t filled = k < max ? k : max;
                for (size_t i = 0; i < filled; i++) {
                        /* Inside the line, without a ':', each starting right after the one before. */
                        if (f[i].p < line || f[i].n > size || (size_t) (f[i].p - line) > size - f[i].n ||
                            memchr(f[i].p, ':', f[i].n) || (i == 0 ? f[i].p != line : f[i].p != f[i - 1].p + f[i - 1].n + 1))
                                abort();
                }
                /* All of them: they end where the line does. Too many: a ':' follows the last. */
                if (filled == k && k > 0 && f[k - 1].p + f[k - 1].n != line + size)
                        abort();
                if (filled < k && filled > 0 && f[filled - 1].p[f[filled - 1].n] != ':')
                        abort();
                if (filled == 0)
                        continue;
                /* The members of the last field filled: the same, at ','. */
                struct passwd_field m, list = f[filled - 1];
                size_t pos = 0, n_members = 0, commas = 0;
                const char *expect = list.p;
                for (size_t i = 0; i < list.n; i++)
                        commas += list.p[i] == ',';
                while (passwd_line_next_member(list, &pos, &m)) {
                        if (m.p != expect || memchr(m.p, ',', m.n) || m.p + m.n > list.p + list.n)
                                abort();
                        expect = m.p + m.n + 1;
                        n_members++;
                }
                if (n_members != (list.n == 0 ? 0 : commas + 1))
                        abort();
        }
        free(line);
        return 0;
}
