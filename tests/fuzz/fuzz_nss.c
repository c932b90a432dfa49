/* SPDX-License-Identifier: MIT */
/* libFuzzer: the NSS module's line parsers and packers, with random lines and buffer sizes.
 * Whatever is packed lies inside the buffer, and whatever is served holds only valid fields. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nss-pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct roles_config cfg;
        struct nss_passwd pe;
        struct nss_group ge;
        struct passwd pw;
        struct group gr;
        if (size < 2)
                return 0;
        roles_config_defaults(&cfg);
        size_t buflen = (size_t) data[0] * 8 + data[1];
        const char *line = (const char *) data + 2;
        size_t n = size - 2;
        char *buf = malloc(buflen ? buflen : 1);
        if (!buf)
                return 0;

        if (nss_parse_passwd(line, n, &cfg, &pe) == 0) {
                if (pe.uid < cfg.uid_min || pe.uid > cfg.uid_max || memchr(pe.name.p, ':', pe.name.n))
                        abort();
                if (nss_pack_passwd(&pe, &pw, buf, buflen) == 0 &&
                    (pw.pw_name < buf || pw.pw_shell + strlen(pw.pw_shell) >= buf + buflen || strchr(pw.pw_gecos, '\n')))
                        abort();
        }
        if (nss_parse_group(line, n, &cfg, &ge) == 0 && nss_pack_group(&ge, &gr, buf, buflen) == 0) {
                for (char **m = gr.gr_mem; *m; m++)
                        if (*m < buf || *m + strlen(*m) >= buf + buflen || !roles_name_valid(*m))
                                abort();
        }
        free(buf);
        return 0;
}
