/* SPDX-License-Identifier: MIT */
/* A QR code drawn on a terminal, for an authenticator app to scan (rolesctl user totp). */
#include "qr.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

/* The quiet zone around the symbol, in modules: the standard's 4 would make a 45-column code
 * 53 wide; scanners read a terminal's code with 2, as google-authenticator draws it. */
#define QUIET 2

/* Does the environment's locale (LC_ALL, LC_CTYPE, LANG) speak UTF-8? Asked of a locale object
 * of its own: the process's locale stays "C", which the rest of rolesctl's output assumes. */
bool qr_locale_utf8(void) {
        locale_t loc = newlocale(LC_CTYPE_MASK, "", (locale_t) 0);
        if (loc == (locale_t) 0)
                return false;
        bool utf8 = strcmp(nl_langinfo_l(CODESET, loc), "UTF-8") == 0;
        freelocale(loc);
        return utf8;
}

/* Module (x, y), the quiet zone included: true when it is light. */
static bool light(const QRcode *q, int x, int y) {
        x -= QUIET, y -= QUIET;
        return x < 0 || y < 0 || x >= q->width || y >= q->width || !(q->data[y * q->width + x] & 1);
}

/*
 * Light modules are drawn (the terminal's foreground), dark ones left blank (its background): on
 * the usual light-on-dark terminal that is dark on light, as a scanner expects, and scanners read
 * the inverse too. UTF-8: two rows a line with the half blocks (a square module in a cell twice
 * as high as wide); otherwise one row a line, two columns a module, with '#'.
 */
int qr_print(FILE *out, const char *text, bool utf8) {
        static const char *const cells[4] = { " ", "\u2584", "\u2580", "\u2588" };     /* by top light, bottom light */
        QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
        if (!q)
                return errno ? -errno : -EINVAL;
        int size = q->width + 2 * QUIET;
        for (int y = 0; y < size; y += utf8 ? 2 : 1) {
                for (int x = 0; x < size; x++) {
                        if (utf8)
                                fputs(cells[(light(q, x, y) ? 2 : 0) | (y + 1 >= size || light(q, x, y + 1) ? 1 : 0)], out);
                        else
                                fputs(light(q, x, y) ? "##" : "  ", out);
                }
                fputc('\n', out);
        }
        /* The modules spell the URI, secret and all. */
        roles_wipe(q->data, (size_t) q->width * (size_t) q->width);
        QRcode_free(q);
        return ferror(out) ? -EIO : 0;
}
