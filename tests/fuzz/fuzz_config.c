/* SPDX-License-Identifier: MIT */
/* libFuzzer: the /etc/roles.conf parser. Any input either parses into a configuration that
 * satisfies the parser's own invariants, or is refused with a message and no change. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct roles_config cfg, before;
        char err[512];
        roles_config_defaults(&cfg);
        before = cfg;
        int r = roles_config_parse((const char *) data, size, "fuzz", &cfg, err, sizeof(err));
        if (r < 0) {
                if (memcmp(&cfg, &before, sizeof(cfg)) != 0 || !memchr(err, '\0', sizeof(err)))
                        abort();        /* a refusal must change nothing and say why */
        } else if (cfg.uid_min > cfg.uid_max || cfg.gid_min > cfg.gid_max || cfg.public_db[0] != '/')
                abort();
        return 0;
}
