/* SPDX-License-Identifier: MIT */
/* index_edit strip IN OUT | index_edit member-uid UID IN OUT | index_edit host-flags FLAGS IN OUT:
 * OUT is IN (a roles.nss or its delta) edited as index_edits.h says, for the end-to-end tests (an
 * older writer's base, a member entry that is not its user, a host verdict that lies). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_edits.h"

static void *read_file(const char *path, size_t *ret_size) {
        FILE *in = fopen(path, "rbe");
        if (!in)
                return NULL;
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
        *ret_size = size;
        return data;
}

static int usage(void) {
        fprintf(stderr, "usage: index_edit strip IN OUT | index_edit member-uid UID IN OUT | "
                "index_edit host-flags FLAGS IN OUT\n");
        return 2;
}

int main(int argc, char **argv) {
        bool strip = argc == 4 && strcmp(argv[1], "strip") == 0;
        bool host_flags = argc == 5 && strcmp(argv[1], "host-flags") == 0;
        if (!strip && !host_flags && !(argc == 5 && strcmp(argv[1], "member-uid") == 0))
                return usage();
        const char *in = argv[argc - 2], *out_path = argv[argc - 1];
        size_t size = 0, out_size = 0;
        void *out = NULL, *data = read_file(in, &size);
        if (!data) {
                perror(in);
                return 1;
        }
        uint32_t number = strip ? 0 : (uint32_t) strtoul(argv[2], NULL, 10);
        int r = strip        ? index_strip_extension(data, size, &out, &out_size)
                : host_flags ? index_set_host_flags(data, size, number, &out, &out_size)
                             : index_set_member_uid(data, size, number, &out, &out_size);
        free(data);
        if (r < 0) {
                fprintf(stderr, "%s: not a %s\n", in,
                        host_flags ? "delta with a host verdict" : "roles.nss with the member extension");
                return 1;
        }
        FILE *f = fopen(out_path, "wbe");
        if (!f || fwrite(out, 1, out_size, f) != out_size || fclose(f) != 0) {
                perror(out_path);
                return 1;
        }
        free(out);
        return 0;
}
