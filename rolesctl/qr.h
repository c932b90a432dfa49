/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* Whether the environment's locale is UTF-8 (the half blocks can be drawn). */
bool qr_locale_utf8(void);

/* Draw text as a QR code on out: half blocks when utf8, else '#'. 0 or -errno. */
int qr_print(FILE *out, const char *text, bool utf8);
