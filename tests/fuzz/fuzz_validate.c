/* SPDX-License-Identifier: MIT */
/* libFuzzer: every validator and parser that sees names, codes, texts, ids and times. What is
 * accepted must never hold a byte that could break a passwd or group line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

        if (roles_name_valid(s) && (strlen(s) > ROLES_NAME_MAX || strpbrk(s, ":,\n \t")))
                abort();
        if (roles_text_valid(s, ROLES_TEXT_MAX) && (strpbrk(s, ":\n\r\t") || strlen(s) > ROLES_TEXT_MAX))
                abort();
        if (roles_path_valid(s) && (s[0] != '/' || strpbrk(s, ":\n, ")))
                abort();
        bool perm = roles_perm_valid(s, false), wild = roles_perm_valid(s, true);
        if (perm && (!wild || strchr(s, '*')))
                abort();
        (void) roles_email_valid(s);

        /* A grant and a permission, split at the first newline. */
        char *nl = strchr(s, '\n');
        if (nl) {
                *nl = '\0';
                if (roles_perm_valid(s, true) && roles_perm_valid(nl + 1, false))
                        (void) roles_perm_covers(s, nl + 1);
                *nl = '\n';
        }

        uint32_t id;
        int64_t v, t;
        if (roles_parse_id(s, &id) == 0 && id == UINT32_MAX)
                abort();
        (void) roles_parse_int64(s, INT64_MIN, INT64_MAX, &v);
        if (roles_parse_time(s, 1767225600, &t) == 0 && t <= 0)
                abort();
        for (const char *p = s; *p;) {
                size_t k = roles_utf8_len(p);
                p += k ? k : 1;
        }
        free(s);
        return 0;
}
