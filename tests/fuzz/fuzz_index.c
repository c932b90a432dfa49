/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the roles.nss reader (common/nss_index_read.c) and the NSS packers, on random and
 * mutated files, with the member extension and without (an older writer's; the corpus began
 * with such files), deltas with a host verdict and without.
 * Input: two bytes of buffer size, two of the base's size (little-endian; 0 or more than there
 * is: all of it, no delta), one byte of flags, then the base and the delta. Unless flag 1 is
 * set, each file's size and header checksum are made right, and the checksum of a trailer
 * whose magic ends the file (a base's member extension, a delta's host verdict), so that
 * mutations reach past those checks into the sections and the trailers. Every lookup,
 * enumeration and member walk runs; whatever is served must be valid and lie inside the
 * mapping, and whatever is packed inside the caller's buffer (ASan sees any read outside: each
 * file is copied into a buffer of exactly its size). With flag 16 the member walks are judged
 * against a host's passwd (the module's member_host) that holds alice and carol, names the
 * seeds' users have: no member list may then name either.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_accounts.h"
#include "nss-pack.h"

/* The host the member walks of a run with flag 16 are judged against (LLVMFuzzerInitialize),
 * and that run's: NULL, none. */
static struct host_accounts host;
static const struct host_accounts *judged_by;

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        char dir[] = "/tmp/fuzz_index.XXXXXX", passwd[64], group[64];
        if (!mkdtemp(dir))
                abort();
        snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
        snprintf(group, sizeof(group), "%s/group", dir);
        write_file(passwd, "root:x:0:0::/root:/bin/sh\nalice:x:900:900::/:/bin/sh\ncarol:x:901:901::/:/bin/sh\n");
        write_file(group, "root:x:0:\n");
        host_accounts_init(&host, &(struct host_paths) { passwd, group, NULL, NULL, NULL });
        if (host_accounts_refresh(&host) < 0 || !host_accounts_has_user(&host, "alice"))
                abort();
        /* (read once: the files are not needed again) */
        unlink(passwd);
        unlink(group);
        rmdir(dir);
        return 0;
}

/* A member name served: valid, and never one the host's passwd holds. */
static void check_member(const char *name, size_t n) {
        if (!roles_name_valid_n(name, n) || (judged_by && host_accounts_has_user_n(judged_by, name, n)))
                abort();
}

static void *file_copy(const uint8_t *data, size_t n, bool fix) {
        if (n == 0)
                return NULL;
        void *copy = aligned_alloc(8, (n + 7) & ~(size_t) 7);
        if (!copy)
                abort();
        memcpy(copy, data, n);
        struct nss_index_header *h = copy;
        struct nss_index_extension e;
        struct nss_index_host_verdict hv;
        if (fix && n >= sizeof(*h) + sizeof(e)) {
                memcpy(&e, (char *) copy + n - sizeof(e), sizeof(e));
                if (memcmp(e.magic, NSS_INDEX_EXTENSION_MAGIC, sizeof(e.magic)) == 0) {
                        e.checksum = nss_index_checksum(&e, offsetof(struct nss_index_extension, checksum));
                        memcpy((char *) copy + n - sizeof(e), &e, sizeof(e));
                }
        }
        if (fix && n >= sizeof(*h) + sizeof(hv)) {
                memcpy(&hv, (char *) copy + n - sizeof(hv), sizeof(hv));
                if (memcmp(hv.magic, NSS_INDEX_HOST_MAGIC, sizeof(hv.magic)) == 0) {
                        hv.checksum = nss_index_checksum(&hv, offsetof(struct nss_index_host_verdict, checksum));
                        memcpy((char *) copy + n - sizeof(hv), &hv, sizeof(hv));
                }
        }
        if (fix && n >= sizeof(*h)) {
                h->file_size = n;
                h->header_checksum = nss_index_checksum(h, offsetof(struct nss_index_header, header_checksum));
        }
        return copy;
}

static void in_map(const struct nss_index_file *f, const void *p, size_t n) {
        if (n && ((const unsigned char *) p < f->data || (const unsigned char *) p + n > f->data + f->size))
                abort();
}

static void check_user(const struct nss_index_view *v, const struct nss_index_found_user *u) {
        in_map(u->file, u->name.p, u->name.n);
        in_map(u->file, u->shell.p, u->shell.n);
        if (!roles_name_valid_n(u->name.p, u->name.n) || u->uid < v->limits.uid_min || u->uid > v->limits.uid_max ||
            memchr(u->gecos.p, '\n', u->gecos.n) || memchr(u->home.p, ':', u->home.n))
                abort();
}

static int count_name(void *userdata, const char *name, size_t n) {
        check_member(name, n);
        ++*(size_t *) userdata;
        return 0;
}

static int count_gid(void *userdata, uint32_t gid) {
        (void) gid;
        ++*(size_t *) userdata;
        return 0;
}

static void pack_group(const struct nss_index_view *v, const struct nss_index_found_group *g, char *buf, size_t len) {
        struct group gr;
        static uint64_t generation;
        if (nss_pack_group(v, g, 1000, ++generation, &gr, buf, len) == 0)
                for (char **m = gr.gr_mem; *m; m++) {
                        if (*m < buf || *m + strlen(*m) >= buf + len)
                                abort();
                        check_member(*m, strlen(*m));
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 5)
                return 0;
        size_t buflen = (size_t) data[0] * 8 + data[1], rest = size - 5;
        size_t split = (size_t) data[2] | (size_t) data[3] << 8;
        uint8_t flags = data[4];
        if (split == 0 || split > rest)
                split = rest;
        bool fix = !(flags & 1);
        void *base = file_copy(data + 5, split, fix), *delta = file_copy(data + 5 + split, rest - split, fix);
        char *buf = malloc(buflen ? buflen : 1);
        uint64_t *memo = NULL;
        struct nss_index_view v = { .limits = { 1000, 60000, 1000, 60000 } };
        judged_by = v.member_host = flags & 16 ? &host : NULL;
        if (!buf)
                abort();
        if (!base || nss_index_file_check(base, split, flags & 2, &v.base) < 0)
                goto out;
        if (delta && nss_index_file_check(delta, rest - split, false, &v.delta) == 0)
                v.has_delta = nss_index_delta_applies(&v.base, &v.delta) || (flags & 4);
        /* An extension accepted lies inside the file, a range for each group. */
        if (v.base.member_ranges) {
                if (v.base.n[NSS_SECTION_MEMBER_RANGES] != v.base.n[NSS_SECTION_GROUPS])
                        abort();
                in_map(&v.base, v.base.member_ranges, v.base.n[NSS_SECTION_MEMBER_RANGES] * sizeof(struct nss_index_range));
                in_map(&v.base, v.base.members, v.base.n[NSS_SECTION_GROUP_MEMBERS] * sizeof(struct nss_index_member));
        }
        if (v.has_delta && v.delta.member_ranges)
                abort();        /* a delta carries none */
        /* A host verdict accepted: a delta's, inside the file, flags known; a base carries none. */
        if (v.base.host_verdict ||
            (v.delta.host_verdict && (v.delta.header->kind != NSS_INDEX_DELTA ||
                                      (v.delta.host_verdict->flags & ~(uint32_t) NSS_INDEX_HOST_CLEAR))))
                abort();
        if (v.delta.host_verdict)
                in_map(&v.delta, v.delta.host_verdict, sizeof(*v.delta.host_verdict));
        /* Member walks with and without the memo the module keeps (what they judge, once). */
        if (flags & 8) {
                /* (as nss_state.c sizes it) */
                uint64_t units = nss_index_memo_units(&v.base);
                uint64_t words = (units + 31) / 32;
                memo = calloc(words ? words : 1, sizeof(*memo));
                if (!memo)
                        abort();
                v.member_memo = (struct nss_index_member_memo) { memo, words };
        }

        static const char *const names[] = { "alice", "bob", "devs", "admin", "a", "" };
        struct nss_index_found_user u;
        struct nss_index_found_group g;
        struct passwd pw;
        size_t n = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (nss_index_user_by_name(&v, names[i], strlen(names[i]), &u) == 0) {
                        check_user(&v, &u);
                        nss_index_user_gids(&v, &u, 1000, count_gid, &n);
                        nss_pack_passwd(&u, &pw, buf, buflen);
                }
                if (nss_index_group_by_name(&v, names[i], strlen(names[i]), &g) == 0)
                        pack_group(&v, &g, buf, buflen);
        }
        for (uint32_t id = 999; id < 1010; id++) {
                if (nss_index_user_by_uid(&v, id, &u) == 0)
                        check_user(&v, &u);
                if (nss_index_group_by_gid(&v, id, &g) == 0)
                        nss_index_group_members(&v, &g, 1000, count_name, &n);
        }
        struct nss_index_hint hint = { 0, 0 };
        uint32_t id, steps = 0;
        for (int64_t after = -1; nss_index_next_user(&v, after, &hint, &u, &id) != -ENOENT && steps < 100000; steps++) {
                if ((int64_t) id <= after)
                        abort();        /* always forward: enumeration ends */
                after = id;
                if (nss_index_user_by_uid(&v, id, &u) == 0)
                        nss_pack_passwd(&u, &pw, buf, buflen);
        }
        hint = (struct nss_index_hint) { 0, 0 };
        for (int64_t after = -1; nss_index_next_group(&v, after, &hint, &g, &id) != -ENOENT && steps < 200000; steps++) {
                if ((int64_t) id <= after)
                        abort();
                after = id;
                if (nss_index_group_by_gid(&v, id, &g) == 0)
                        pack_group(&v, &g, buf, buflen);
        }
out:
        free(base);
        free(delta);
        free(buf);
        free(memo);
        return 0;
}
