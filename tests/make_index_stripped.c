/* SPDX-License-Identifier: MIT */
/* make_index_stripped IN OUT: OUT is IN (a roles.nss) without its member extension, as an older
 * writer compiled it (index_strip.h), for the end-to-end tests of the upgrade path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_strip.h"

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: make_index_stripped IN OUT\n");
                return 2;
        }
        FILE *in = fopen(argv[1], "rbe");
        if (!in) {
                perror(argv[1]);
                return 1;
        }
        size_t size = 0, room = 1 << 16;
        char *data = aligned_alloc(8, room);
        for (size_t got; data && (got = fread(data + size, 1, room - size, in)) > 0;) {
                size += got;
                if (size == room) {
                        char *bigger = aligned_alloc(8, room * 2);
                        if (bigger)
                                memcpy(bigger, data, size);
                        free(data);
                        data = bigger;
                        room *= 2;
                }
        }
        fclose(in);
        void *out = NULL;
        size_t out_size = 0;
        if (!data || index_strip_extension(data, size, &out, &out_size) < 0) {
                fprintf(stderr, "%s: not a roles.nss with the member extension\n", argv[1]);
                return 1;
        }
        FILE *f = fopen(argv[2], "wbe");
        if (!f || fwrite(out, 1, out_size, f) != out_size || fclose(f) != 0) {
                perror(argv[2]);
                return 1;
        }
        free(data);
        free(out);
        return 0;
}
