/* SPDX-License-Identifier: MIT */
/* libFuzzer: TOTP verification with random secrets, codes, times and windows. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 10)
                return 0;
        int64_t now = 0, step = -1;
        memcpy(&now, data, 8);
        unsigned window = data[8] % 12;
        char *s = malloc(size - 9 + 1);
        if (!s)
                return 0;
        memcpy(s, data + 9, size - 9);
        s[size - 9] = '\0';
        /* "SECRET\nCODE" */
        char *nl = strchr(s, '\n');
        if (nl) {
                *nl = '\0';
                int r = roles_totp_verify(s, nl + 1, (time_t) now, window, -1, &step);
                if (r == 0 && (strlen(nl + 1) != ROLES_TOTP_DIGITS || step < 0))
                        abort();
        }
        free(s);
        return 0;
}
