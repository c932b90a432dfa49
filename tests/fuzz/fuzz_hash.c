/* SPDX-License-Identifier: MIT */
/* libFuzzer: the stored-hash parser and its ceilings. A string the parser accepts never makes
 * verification ask for more than the ceiling, and nothing crashes or leaks. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Small ceilings keep each verification cheap; the ceiling check is what is tested. */
        static const struct roles_hash_params ceiling = { .t_cost = 2, .m_cost_kib = 256, .parallelism = 2 };
        /* What a refusal pays at the least (a dummy verification): the cheapest argon2. */
        static const struct roles_hash_params params = { .t_cost = 1, .m_cost_kib = 8, .parallelism = 1 };
        struct roles_hash_info info;
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        int parsed = roles_hash_parse(s, &info);
        int r = roles_password_verify_stored(s, "fuzz", 4, &params, &ceiling);
        if (parsed == 0 && (info.params.t_cost > ceiling.t_cost || info.params.m_cost_kib > ceiling.m_cost_kib ||
                            info.params.parallelism > ceiling.parallelism) && r != -E2BIG)
                abort();        /* above the ceiling: refused before argon2 is asked */
        if (r == 0 && strncmp(s, "{crypt}", 7) != 0)
                abort();        /* no string verifies "fuzz" unless it is a hash of it */
        free(s);
        return 0;
}
