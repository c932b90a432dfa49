/* SPDX-License-Identifier: MIT */
/* How rolesctl prints text it did not write: below everything else that prints (cli.c's error
 * lines, output.c's tables and JSON), so neither calls the other for it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/*
 * Text from the database (and what an error line repeats) is printed so that it can neither
 * drive the terminal, break the output's format nor show as other text: bytes that are not
 * well-formed UTF-8 and the code points no text may hold (controls, format and bidi controls,
 * separators, invisible ones: roles_code_point_refused) are shown as \xNN per byte in text, as
 * \uNNNN (a surrogate pair past U+FFFF) in JSON, where a stray byte is \u00NN.
 */
static void out_escaped(FILE *f, const char *s, bool json) {
        for (const char *p = s; *p;) {
                uint32_t cp;
                size_t k = roles_utf8_decode_n(p, strnlen(p, 4), &cp);
                if (k == 0) {
                        fprintf(f, json ? "\\u%04x" : "\\x%02x", (unsigned char) *p);
                        p++;
                        continue;
                }
                if (roles_code_point_refused(cp)) {
                        if (!json)
                                for (size_t i = 0; i < k; i++)
                                        fprintf(f, "\\x%02x", (unsigned char) p[i]);
                        else if (cp > 0xffff)
                                fprintf(f, "\\u%04x\\u%04x", (unsigned) (0xd800 + ((cp - 0x10000) >> 10)),
                                        (unsigned) (0xdc00 + ((cp - 0x10000) & 0x3ff)));
                        else
                                fprintf(f, "\\u%04x", (unsigned) cp);
                        p += k;
                        continue;
                }
                if (json && (cp == '"' || cp == '\\'))
                        fputc('\\', f);
                fwrite(p, 1, k, f);
                p += k;
        }
}

void out_json_string(FILE *f, const char *s) {
        fputc('"', f);
        out_escaped(f, s, true);
        fputc('"', f);
}

void out_text(FILE *f, const char *s) {
        out_escaped(f, s, false);
}
