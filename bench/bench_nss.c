/* SPDX-License-Identifier: MIT */
/*
 * bench_nss: what a name lookup costs through the real glibc NSS with whatever source
 * /etc/nsswitch.conf names. It links no part of roles: it measures glibc and the module glibc
 * loads, exactly as `ls -l`, `id` or `sshd` would meet them. bench/bench_nss.sh runs it once per
 * source inside a private mount namespace and prints the comparison tables.
 *
 *   bench_nss gen --users N --out DIR
 *       Write the data set: DIR/passwd and DIR/group (only the generated lines), the sorted
 *       indexes libnss-cache reads beside its .cache files (DIR/passwd.cache.ixname, .ixuid,
 *       DIR/group.cache.ixname, .ixgid; offsets into a .cache file that is a copy of DIR/passwd
 *       or DIR/group), DIR/roles.batch (the same data as rolesctl commands) and DIR/meta.
 *       N users "userNNNNNN" (uid 200000 + i) each with a private group of the same name and
 *       gid; N/10 groups "grpNNNNNN" (gid 1300000 + j); each user in 3 of those; the user in
 *       the middle ("heavy") in about 1000 groups (every one of the N/10 when there are fewer,
 *       topped up with other users' private groups). DIR/group.big: one more group "grpbig"
 *       (gid 1299999) of the first min(N, 100000) users, kept apart from DIR/group so that the
 *       other figures do not change; DIR/big.batch adds it with rolesctl.
 *
 *   bench_nss run --data DIR --source NAME [--db PATH] [--empty-module PATH] [--floor-module PATH]
 *                 [--iters N] [--budget MS] [--passes N] [--oneshot N] [--probes N] [--quick]
 *       Measure through glibc, with keys drawn at random (the same sequence for every source)
 *       from DIR: getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r, getgrouplist of the heavy
 *       user, getpwent_r and getgrent_r per entry over a whole enumeration, one-shot
 *       `getent passwd NAME` (fork + exec + wait), peak RSS; and the cost of the first lookup
 *       in a fresh process, taken apart (module and libsqlite3 load, open, schema, query; with
 *       --empty-module, the same load and call of a module that does nothing, as the floor;
 *       with --floor-module, of one that only reads roles.conf and maps roles.nss).
 *       Every answer is checked against DIR; a wrong one makes the exit status 1.
 *
 *   bench_nss grow --data DIR [--budget MS] [--quick]
 *       A caller that grows its buffer in 1 KiB steps: getgrnam_r of the big group (DIR/group.big,
 *       min(N, 100000) members, served by the source beside the others), starting at 1 KiB, 1 KiB
 *       more on each ERANGE; the whole loop timed, and its answer checked.
 *
 *   bench_nss spawn [--in FILE] -- PROGRAM ARG...
 *       Runs PROGRAM (stdin from FILE, stdout to /dev/null) and prints "NS WRITE_BYTES STATUS":
 *       the whole process's time, what it wrote to storage (/proc/PID/io write_bytes, read while
 *       it is a zombie), its exit status; exits with that status. For an admin change's cost.
 *
 *   bench_nss probe ...
 *       Internal: one fresh-process measurement, spawned by run.
 *
 * Output of run, one fact per line, whitespace separated (bench_nss.sh reads it):
 *   R OP MEDIAN_NS P90_NS N          a timed operation (per call, or per entry for *ent)
 *   V KEY VALUE                      a scalar (rss_peak_kib, entries, ...)
 *   # ...                            a comment
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <nss.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"
#include "nss_loader.h"

#define UID_BASE        200000u         /* user i: uid and private gid UID_BASE + i */
#define GID_BASE        1300000u        /* shared group j: gid GID_BASE + j */
#define GROUPS_PER_USER 3
#define HEAVY_GROUPS    1000
#define NAME_LEN        32              /* "user000000", "grp000000": room to spare */
#define GETENT          "/usr/bin/getent"
#define BIG_GROUP       "grpbig"
#define BIG_GID         1299999u        /* below GID_BASE: no shared group has it */
#define BIG_MEMBERS_MAX 100000

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: the same key sequence for every source. */
static uint64_t rng_state;
static uint64_t rng(void) {
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* ==== gen ===================================================================================== */

struct idlist {
        uint32_t *v;
        size_t n, cap;
};

static void idlist_add(struct idlist *l, uint32_t x) {
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 4;
                l->v = realloc(l->v, l->cap * sizeof(*l->v));
                if (!l->v)
                        die("out of memory");
        }
        l->v[l->n++] = x;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

struct ixrec {
        char key[NAME_LEN];
        long offset;
};

static int cmp_ixrec(const void *a, const void *b) {
        return strcmp(((const struct ixrec *) a)->key, ((const struct ixrec *) b)->key);
}

/*
 * libnss-cache's index: fixed-width records "key\0offset\0" padded with NULs, each ending in
 * '\n', sorted by strcmp on the key (so uids sort as text), offset = the line's byte offset in
 * the .cache file. The module binary-searches it (mmap) and reads the line at the offset.
 */
static void write_index(const char *dir, const char *file, struct ixrec *recs, size_t n) {
        char path[PATH_MAX], num[32];
        size_t width = 0;
        qsort(recs, n, sizeof(*recs), cmp_ixrec);
        for (size_t i = 0; i < n; i++) {
                size_t w = strlen(recs[i].key) + 1 + (size_t) snprintf(num, sizeof(num), "%ld", recs[i].offset) + 1;
                if (w > width)
                        width = w;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        FILE *f = fopen(path, "we");
        if (!f)
                die("%s: %s", path, strerror(errno));
        char *rec = bench_xcalloc(width + 1, 1);
        for (size_t i = 0; i < n; i++) {
                memset(rec, 0, width + 1);
                size_t k = strlen(recs[i].key) + 1;
                memcpy(rec, recs[i].key, k);
                snprintf(rec + k, width - k, "%ld", recs[i].offset);
                rec[width] = '\n';
                fwrite(rec, 1, width + 1, f);
        }
        free(rec);
        if (fclose(f) != 0)
                die("%s: %s", path, strerror(errno));
}

static FILE *open_out(const char *dir, const char *file) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        FILE *f = fopen(path, "we");
        if (!f)
                die("%s: %s", path, strerror(errno));
        return f;
}

static void close_out(FILE *f, const char *file) {
        if (ferror(f) | (fclose(f) != 0))
                die("writing %s failed", file);
}

static void user_name(long i, char *buf) {
        snprintf(buf, NAME_LEN, "user%06d", (int) (i % 10000000));
}

static void group_name(long j, char *buf) {
        snprintf(buf, NAME_LEN, "grp%06d", (int) (j % 10000000));
}

static int cmd_gen(int argc, char **argv) {
        static const struct option longopts[] = {
                { "users", required_argument, NULL, 'u' },
                { "out", required_argument, NULL, 'o' },
                { NULL, 0, NULL, 0 },
        };
        long n_users = 1000;
        const char *dir = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                switch (c) {
                case 'u': n_users = bench_parse_num(optarg, 100, 1000000); break;
                case 'o': dir = optarg; break;
                default: die("usage: bench_nss gen --users N --out DIR");
                }
        }
        if (!dir)
                die("usage: bench_nss gen --users N --out DIR");
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                die("%s: %s", dir, strerror(errno));

        long n_groups = n_users / 10;
        long heavy = n_users / 2;
        /* Members of each shared group, and of the private groups that the heavy user tops up. */
        struct idlist *shared = bench_xcalloc((size_t) n_groups, sizeof(*shared));
        struct idlist *private = bench_xcalloc((size_t) n_users, sizeof(*private));
        long step = n_groups / GROUPS_PER_USER + 1;
        for (long i = 0; i < n_users; i++) {
                long h = (long) (((uint64_t) i * 2654435761u) % (uint64_t) n_groups);
                for (int k = 0; k < GROUPS_PER_USER; k++) {
                        long j = (h + k * step) % n_groups;
                        if (i != heavy)
                                idlist_add(&shared[j], (uint32_t) i);
                }
        }
        long heavy_groups = 0;
        if (n_groups >= HEAVY_GROUPS) {
                for (long k = 0; k < HEAVY_GROUPS; k++)
                        idlist_add(&shared[k * n_groups / HEAVY_GROUPS], (uint32_t) heavy);
                heavy_groups = HEAVY_GROUPS;
        } else {
                for (long j = 0; j < n_groups; j++)
                        idlist_add(&shared[j], (uint32_t) heavy);
                for (long i = 0; heavy_groups < HEAVY_GROUPS - n_groups && i < n_users; i++)
                        if (i != heavy) {
                                idlist_add(&private[i], (uint32_t) heavy);
                                heavy_groups++;
                        }
                heavy_groups += n_groups;
        }
        for (long j = 0; j < n_groups; j++)
                qsort(shared[j].v, shared[j].n, sizeof(uint32_t), cmp_u32);

        /* passwd (and its libnss-cache indexes). */
        size_t n_grp_lines = (size_t) (n_users + n_groups);
        struct ixrec *ix_name = bench_xcalloc((size_t) n_users, sizeof(*ix_name));
        struct ixrec *ix_id = bench_xcalloc((size_t) n_users, sizeof(*ix_id));
        char name[NAME_LEN], gname[NAME_LEN];
        FILE *f = open_out(dir, "passwd");
        for (long i = 0; i < n_users; i++) {
                uint32_t uid = UID_BASE + (uint32_t) i;
                user_name(i, name);
                long off = ftell(f);
                snprintf(ix_name[i].key, NAME_LEN, "%s", name);
                snprintf(ix_id[i].key, NAME_LEN, "%" PRIu32, uid);
                ix_name[i].offset = ix_id[i].offset = off;
                fprintf(f, "%s:x:%" PRIu32 ":%" PRIu32 ":Bench User %ld:/home/%s:/bin/bash\n", name, uid, uid, i, name);
        }
        close_out(f, "passwd");
        write_index(dir, "passwd.cache.ixname", ix_name, (size_t) n_users);
        write_index(dir, "passwd.cache.ixuid", ix_id, (size_t) n_users);
        free(ix_name);
        free(ix_id);

        /* group: the private groups in user order, a shared group after every tenth user (as
         * groups get created over a host's life), members sorted by name. */
        ix_name = bench_xcalloc(n_grp_lines, sizeof(*ix_name));
        ix_id = bench_xcalloc(n_grp_lines, sizeof(*ix_id));
        size_t nix = 0;
        f = open_out(dir, "group");
        for (long i = 0, j = 0; i < n_users || j < n_groups;) {
                bool emit_shared = j < n_groups && (i >= n_users || (i > 0 && i % 10 == 0 && j < i / 10));
                struct idlist *members;
                uint32_t gid;
                if (emit_shared) {
                        group_name(j, gname);
                        gid = GID_BASE + (uint32_t) j;
                        members = &shared[j++];
                } else {
                        user_name(i, gname);
                        gid = UID_BASE + (uint32_t) i;
                        members = &private[i++];
                }
                long off = ftell(f);
                snprintf(ix_name[nix].key, NAME_LEN, "%s", gname);
                snprintf(ix_id[nix].key, NAME_LEN, "%" PRIu32, gid);
                ix_name[nix].offset = ix_id[nix].offset = off;
                nix++;
                fprintf(f, "%s:x:%" PRIu32 ":", gname, gid);
                for (size_t k = 0; k < members->n; k++) {
                        user_name(members->v[k], name);
                        fprintf(f, "%s%s", k ? "," : "", name);
                }
                fputc('\n', f);
        }
        close_out(f, "group");
        write_index(dir, "group.cache.ixname", ix_name, nix);
        write_index(dir, "group.cache.ixgid", ix_id, nix);
        free(ix_name);
        free(ix_id);

        /* The same data as rolesctl commands (when `rolesctl import` is not there). */
        f = open_out(dir, "roles.batch");
        for (long j = 0; j < n_groups; j++) {
                group_name(j, gname);
                fprintf(f, "group add %s --gid %" PRIu32 "\n", gname, GID_BASE + (uint32_t) j);
        }
        for (long i = 0; i < n_users; i++) {
                user_name(i, name);
                /* No --gid: a personal group of the same name with gid = uid, as in the files. */
                fprintf(f, "user add %s --uid %" PRIu32 " --full-name 'Bench User %ld' --home /home/%s --shell /bin/bash\n",
                        name, UID_BASE + (uint32_t) i, i, name);
        }
        for (long j = 0; j < n_groups; j++) {
                group_name(j, gname);
                for (size_t k = 0; k < shared[j].n; k++) {
                        user_name(shared[j].v[k], name);
                        fprintf(f, "group adduser %s %s\n", gname, name);
                }
        }
        for (long i = 0; i < n_users; i++) {
                user_name(i, gname);
                for (size_t k = 0; k < private[i].n; k++) {
                        user_name(private[i].v[k], name);
                        fprintf(f, "group adduser %s %s\n", gname, name);
                }
        }
        close_out(f, "roles.batch");

        /* The big group, for the caller that grows its buffer (issue 12: 100k members). */
        long big_members = n_users < BIG_MEMBERS_MAX ? n_users : BIG_MEMBERS_MAX;
        f = open_out(dir, "group.big");
        fprintf(f, "%s:x:%u:", BIG_GROUP, BIG_GID);
        for (long i = 0; i < big_members; i++) {
                user_name(i, name);
                fprintf(f, "%s%s", i ? "," : "", name);
        }
        fputc('\n', f);
        close_out(f, "group.big");
        f = open_out(dir, "big.batch");
        fprintf(f, "group add %s --gid %u\n", BIG_GROUP, BIG_GID);
        for (long i = 0; i < big_members; i++) {
                user_name(i, name);
                fprintf(f, "group adduser %s %s\n", BIG_GROUP, name);
        }
        close_out(f, "big.batch");

        f = open_out(dir, "meta");
        user_name(heavy, name);
        fprintf(f, "users %ld\ngroups %ld\nprivate_groups %ld\nheavy %s\nheavy_groups %ld\nuid_min %u\nuid_max %u\n"
                "gid_min %u\ngid_max %u\nbig_members %ld\n", n_users, n_groups, n_users, name, heavy_groups, UID_BASE,
                UID_BASE + (unsigned) n_users - 1, UID_BASE, GID_BASE + (unsigned) n_groups - 1, big_members);
        close_out(f, "meta");

        for (long j = 0; j < n_groups; j++)
                free(shared[j].v);
        for (long i = 0; i < n_users; i++)
                free(private[i].v);
        free(shared);
        free(private);
        printf("generated %ld users, %ld groups (+%ld private), heavy user %s in %ld groups, in %s\n", n_users,
               n_groups, n_users, name, heavy_groups, dir);
        return 0;
}

/* ==== the data set, as run reads it back ======================================================= */

struct entry {
        char name[NAME_LEN];
        uint32_t id;
        uint32_t n_members;
};

static struct {
        struct entry *users, *groups;
        size_t n_users, n_groups;
        char heavy[NAME_LEN];
        uint32_t heavy_gid;
        int heavy_ngroups;              /* what getgrouplist must return: primary + memberships */
} ds;

/* Line by line (getline), so the data set costs this process only its compact arrays: peak RSS
 * stays about the NSS source, not the benchmark. */
static size_t read_entries(const char *dir, const char *file, struct entry **ret, bool count_members) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        FILE *f = fopen(path, "re");
        if (!f)
                die("%s: %s", path, strerror(errno));
        size_t n = 0, cap = 1024;
        struct entry *v = bench_xcalloc(cap, sizeof(*v));
        char *line = NULL;
        size_t len = 0;
        while (getline(&line, &len, f) > 0) {
                char *save, *nm = strtok_r(line, ":", &save), *pw = strtok_r(NULL, ":", &save);
                char *id = strtok_r(NULL, ":\n", &save), *rest = strtok_r(NULL, "\n", &save);
                (void) pw;
                if (!nm || !id || strlen(nm) >= NAME_LEN)
                        die("%s: malformed line %zu", path, n + 1);
                if (n == cap) {
                        cap *= 2;
                        v = realloc(v, cap * sizeof(*v));
                        if (!v)
                                die("out of memory");
                }
                memset(&v[n], 0, sizeof(v[n]));
                snprintf(v[n].name, NAME_LEN, "%s", nm);
                v[n].id = (uint32_t) strtoul(id, NULL, 10);
                if (count_members && rest && *rest) {
                        v[n].n_members = 1;
                        for (char *p = rest; *p; p++)
                                v[n].n_members += *p == ',';
                        /* Is the heavy user a member? (names never contain one another) */
                        size_t hl = strlen(ds.heavy);
                        for (char *p = strstr(rest, ds.heavy); p; p = strstr(p + 1, ds.heavy))
                                if ((p == rest || p[-1] == ',') && (p[hl] == ',' || p[hl] == '\0')) {
                                        ds.heavy_ngroups++;
                                        break;
                                }
                }
                n++;
        }
        free(line);
        fclose(f);
        *ret = v;
        return n;
}

static void load_dataset(const char *dir) {
        char path[PATH_MAX], key[64], value[64];
        snprintf(path, sizeof(path), "%s/meta", dir);
        FILE *f = fopen(path, "re");
        if (!f)
                die("%s: %s (run bench_nss gen first)", path, strerror(errno));
        while (fscanf(f, "%63s %63s", key, value) == 2)
                if (strcmp(key, "heavy") == 0)
                        snprintf(ds.heavy, sizeof(ds.heavy), "%.31s", value);
        fclose(f);
        if (!ds.heavy[0])
                die("%s: no heavy user", path);
        ds.n_users = read_entries(dir, "passwd", &ds.users, false);
        ds.heavy_ngroups = 1;   /* the primary group */
        ds.n_groups = read_entries(dir, "group", &ds.groups, true);
        for (size_t i = 0; i < ds.n_users; i++)
                if (strcmp(ds.users[i].name, ds.heavy) == 0)
                        ds.heavy_gid = ds.users[i].id;  /* private group: gid = uid */
        if (!ds.n_users || !ds.n_groups || !ds.heavy_gid)
                die("%s: empty or inconsistent data set", dir);
}

/* ==== output ===================================================================================== */

/* Samples are nanoseconds (as doubles, for bench_summarize); sorts v. */
static void report(const char *op, double *v, size_t n) {
        struct bench_stats st = bench_summarize(v, (int) n);
        printf("R %s %" PRId64 " %" PRId64 " %zu\n", op, (int64_t) st.median, (int64_t) st.p90, n);
}

/* The resident memory now, split: RssAnon is this process's own (heap, stack, what a module
 * allocated), RssFile the pages of files it has mapped (libraries, and an index such as
 * roles.nss: clean page-cache pages shared with every other process, dropped by the kernel at
 * will), as /proc/self/status counts them. */
static void print_rss_split(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        if (!f)
                die("/proc/self/status: %s", strerror(errno));
        while (fgets(line, sizeof(line), f)) {
                long kib;
                if (sscanf(line, "RssAnon: %ld", &kib) == 1)
                        printf("V rss_anon_kib %ld\n", kib);
                else if (sscanf(line, "RssFile: %ld", &kib) == 1)
                        printf("V rss_file_kib %ld\n", kib);
        }
        fclose(f);
}

/* ==== run: timed lookups ========================================================================= */

static struct {
        const char *data, *source, *db;
        const char *empty_module;       /* bench/nss_empty.c's library: the floor of a first lookup */
        const char *floor_module;       /* the same built with NSS_BENCH_FLOOR: an index module's floor */
        long iters;
        double budget;
        int passes, oneshot, probes;
} opt = { .iters = 20000, .budget = 2.0, .passes = 5, .oneshot = 200, .probes = 40 };

static char pwbuf[16 << 10];
static char grbuf[1 << 20];

typedef bool (*lookup_fn)(size_t i);

static bool do_getpwnam(size_t i) {
        struct passwd pw, *res = NULL;
        int rc = getpwnam_r(ds.users[i].name, &pw, pwbuf, sizeof(pwbuf), &res);
        if (rc != 0 || !res || res->pw_uid != ds.users[i].id) {
                wrong("getpwnam_r(%s): rc %d, %s", ds.users[i].name, rc, res ? "wrong uid" : "not found");
                return false;
        }
        return true;
}

static bool do_getpwuid(size_t i) {
        struct passwd pw, *res = NULL;
        int rc = getpwuid_r(ds.users[i].id, &pw, pwbuf, sizeof(pwbuf), &res);
        if (rc != 0 || !res || strcmp(res->pw_name, ds.users[i].name) != 0) {
                wrong("getpwuid_r(%u): rc %d, %s", ds.users[i].id, rc, res ? "wrong name" : "not found");
                return false;
        }
        return true;
}

static bool check_group(const struct group *res, size_t i, const char *call, int rc) {
        size_t n = 0;
        if (rc == 0 && res)
                while (res->gr_mem[n])
                        n++;
        if (rc != 0 || !res || res->gr_gid != ds.groups[i].id || strcmp(res->gr_name, ds.groups[i].name) != 0 ||
            n != ds.groups[i].n_members) {
                wrong("%s(%s): rc %d, %s (members %zu, expected %u)", call, ds.groups[i].name, rc,
                      res ? "wrong entry" : "not found", n, ds.groups[i].n_members);
                return false;
        }
        return true;
}

static bool do_getgrnam(size_t i) {
        struct group gr, *res = NULL;
        int rc = getgrnam_r(ds.groups[i].name, &gr, grbuf, sizeof(grbuf), &res);
        return check_group(res, i, "getgrnam_r", rc);
}

static bool do_getgrgid(size_t i) {
        struct group gr, *res = NULL;
        int rc = getgrgid_r(ds.groups[i].id, &gr, grbuf, sizeof(grbuf), &res);
        return check_group(res, i, "getgrgid_r", rc);
}

static gid_t glist[1 << 14];

static bool do_getgrouplist_heavy(size_t i) {
        (void) i;
        int ng = (int) (sizeof(glist) / sizeof(glist[0]));
        int r = getgrouplist(ds.heavy, ds.heavy_gid, glist, &ng);
        if (r < 0 || ng != ds.heavy_ngroups) {
                wrong("getgrouplist(%s): %d groups, expected %d", ds.heavy, r < 0 ? r : ng, ds.heavy_ngroups);
                return false;
        }
        return true;
}

static bool do_getgrouplist_user(size_t i) {
        int ng = (int) (sizeof(glist) / sizeof(glist[0]));
        if (strcmp(ds.users[i].name, ds.heavy) == 0)
                return true;
        int r = getgrouplist(ds.users[i].name, ds.users[i].id, glist, &ng);
        if (r < 0 || ng < 2 || ng > 1 + GROUPS_PER_USER + 1) {
                wrong("getgrouplist(%s): %d groups, expected 1 + %d (or one more at small N)", ds.users[i].name,
                      r < 0 ? r : ng, GROUPS_PER_USER);
                return false;
        }
        return true;
}

static bool do_getpwnam_miss(size_t i) {
        struct passwd pw, *res = NULL;
        char name[32];
        snprintf(name, sizeof(name), "nosuch%06zu", i);
        int rc = getpwnam_r(name, &pw, pwbuf, sizeof(pwbuf), &res);
        if (rc != 0 || res) {
                wrong("getpwnam_r(%s): rc %d, %s", name, rc, res ? "found" : "error");
                return false;
        }
        return true;
}

/* Time each call; stop at opt.iters calls, or at the time budget once there are enough. */
static void measure(const char *op, lookup_fn fn, size_t n_keys, uint64_t seed) {
        const size_t min_n = 15;
        size_t cap = (size_t) opt.iters, n = 0;
        double *v = bench_xcalloc(cap, sizeof(*v));
        rng_state = seed;
        for (int w = 0; w < 3; w++)     /* warm: the first call is measured on its own, by probes */
                fn((size_t) (rng() % n_keys));
        int64_t start = now_ns(), budget = (int64_t) (opt.budget * 1e9);
        while (n < cap && (n < min_n || now_ns() - start < budget)) {
                size_t k = (size_t) (rng() % n_keys);
                int64_t t0 = now_ns();
                fn(k);
                v[n++] = (double) (now_ns() - t0);
        }
        report(op, v, n);
        free(v);
}

/* Enumeration: a whole setXXent/getXXent_r/endXXent pass, divided by the entries it gave. */
static void measure_enum(bool groups) {
        int passes = opt.passes;
        double *v = bench_xcalloc((size_t) passes, sizeof(*v));
        size_t entries = 0;
        int64_t budget_end = now_ns() + (int64_t) (opt.budget * 2e9);
        int p;
        for (p = 0; p < passes; p++) {
                size_t n = 0, ours = 0;
                int64_t t0 = now_ns();
                if (!groups) {
                        struct passwd pw, *res;
                        setpwent();
                        while (getpwent_r(&pw, pwbuf, sizeof(pwbuf), &res) == 0) {
                                n++;
                                ours += res->pw_uid >= UID_BASE;
                        }
                        endpwent();
                } else {
                        struct group gr, *res;
                        setgrent();
                        while (getgrent_r(&gr, grbuf, sizeof(grbuf), &res) == 0) {
                                n++;
                                ours += res->gr_gid >= UID_BASE;
                        }
                        endgrent();
                }
                int64_t dt = now_ns() - t0;
                size_t expect = groups ? ds.n_groups : ds.n_users;
                if (ours != expect)
                        wrong("%s enumeration gave %zu generated entries, expected %zu", groups ? "group" : "passwd",
                              ours, expect);
                entries = n;
                v[p] = n ? (double) dt / (double) n : 0;
                if (p >= 2 && now_ns() > budget_end) {
                        p++;
                        break;
                }
        }
        struct bench_stats st = bench_summarize(v, p);
        /* Per entry, in ns with one decimal. */
        printf("R %s %.1f %.1f %d\n", groups ? "getgrent_per_entry" : "getpwent_per_entry", st.median, st.p90, p);
        printf("V %s %zu\n", groups ? "group_entries" : "passwd_entries", entries);
        free(v);
}

/* ==== run: processes ================================================================================ */

/* fork + exec + wait, timed; stdout to out_fd (or /dev/null), stdin and stderr to /dev/null. */
static int spawn(char *const argv[], int out_fd, double *ret_ns, long *ret_maxrss_kib) {
        struct rusage ru;
        int64_t t0 = now_ns();
        int rc = bench_run(argv, -1, out_fd, -1, &ru);
        if (ret_ns)
                *ret_ns = (double) (now_ns() - t0);
        if (ret_maxrss_kib)
                *ret_maxrss_kib = ru.ru_maxrss;
        return rc;
}

/* `getent passwd NAME` for random users, the whole process timed. */
static void measure_oneshot(void) {
        int n = opt.oneshot;
        double *v = bench_xcalloc((size_t) n, sizeof(*v)), *vb = bench_xcalloc((size_t) n, sizeof(*vb));
        double *vr = bench_xcalloc((size_t) n, sizeof(*vr));
        int64_t budget_end = now_ns() + (int64_t) (opt.budget * 2e9);
        int i;
        rng_state = 7;
        for (i = 0; i < n; i++) {
                size_t k = (size_t) (rng() % ds.n_users);
                char *argv[] = { GETENT, "passwd", ds.users[k].name, NULL };
                long rss;
                int rc = spawn(argv, -1, &v[i], &rss);
                vr[i] = (double) rss;
                if (rc != 0)
                        wrong("getent passwd %s exited %d", ds.users[k].name, rc);
                /* The same process without NSS: what fork + exec + ld.so + exit cost. */
                char *argv_b[] = { GETENT, "--version", NULL };
                spawn(argv_b, -1, &vb[i], NULL);
                if (i >= 14 && now_ns() > budget_end) {
                        i++;
                        break;
                }
        }
        report("oneshot_getent", v, (size_t) i);
        report("spawn_getent_version", vb, (size_t) i);
        printf("V oneshot_rss_kib %" PRId64 "\n", (int64_t) bench_summarize(vr, i).median);
        free(v);
        free(vb);
        free(vr);
}

/* ==== probes: the first lookup of a fresh process, taken apart =========================================== */

static void probe_out(const char *key, int64_t ns) {
        printf("P %s %" PRId64 "\n", key, ns);
}

/* The first two lookups through glibc: NSS setup, the source's load and open, then a warm one. */
static int probe_first(const char *name1, const char *name2) {
        struct passwd pw, *res = NULL;
        int64_t t0 = now_ns();
        int rc = getpwnam_r(name1, &pw, pwbuf, sizeof(pwbuf), &res);
        int64_t t1 = now_ns();
        if (rc != 0 || !res)
                return 1;
        rc = getpwnam_r(name2, &pw, pwbuf, sizeof(pwbuf), &res);
        int64_t t2 = now_ns();
        if (rc != 0 || !res)
                return 1;
        probe_out("glibc_first_call", t1 - t0);
        probe_out("glibc_second_call", t2 - t1);
        return 0;
}

/* The first lookup of a local account, which files answers from the top of the namespace's own
 * /etc/passwd without loading any other source: a process's fixed cost of NSS, the reference
 * for what a source adds to the first lookup. */
static int probe_local(const char *name) {
        struct passwd pw, *res = NULL;
        int64_t t0 = now_ns();
        int rc = getpwnam_r(name, &pw, pwbuf, sizeof(pwbuf), &res);
        int64_t t1 = now_ns();
        if (rc != 0 || !res)
                return 1;
        probe_out("local_first_call", t1 - t0);
        return 0;
}

/* dlopen lib, then its _nss_NAME_getpwnam_r twice, each expected to answer want; "P PREFIX_dlopen",
 * "_first_call", "_second_call". */
static int probe_library(const char *prefix, const char *lib, const char *name, enum nss_status want,
                         const char *name1, const char *name2) {
        char key[64], why[PATH_MAX + 128];
        struct nss_module m;
        int64_t t0 = now_ns();
        int r = nss_module_open(lib, &m, why, sizeof(why));
        int64_t t1 = now_ns();
        if (r < 0)
                return 1;
        /* Only getpwnam_r is called: the empty module has no other entry point. */
        (void) nss_module_resolve(&m, name, why, sizeof(why));
        if (!m.getpwnam_r)
                return 1;
        struct passwd pw;
        int err = 0;
        int64_t t2 = now_ns();
        enum nss_status st1 = m.getpwnam_r(name1, &pw, pwbuf, sizeof(pwbuf), &err);
        int64_t t3 = now_ns();
        enum nss_status st2 = m.getpwnam_r(name2, &pw, pwbuf, sizeof(pwbuf), &err);
        int64_t t4 = now_ns();
        if (st1 != want || st2 != want)
                return 1;
        snprintf(key, sizeof(key), "%s_dlopen", prefix);
        probe_out(key, t1 - t0);
        snprintf(key, sizeof(key), "%s_first_call", prefix);
        probe_out(key, t3 - t2);
        snprintf(key, sizeof(key), "%s_second_call", prefix);
        probe_out(key, t4 - t3);
        return 0;
}

/* The module by itself: dlopen (the module and what it links), then its getpwnam_r called
 * directly, twice. */
static int probe_module(const char *module, const char *name1, const char *name2) {
        char lib[64];
        snprintf(lib, sizeof(lib), "libnss_%s.so.2", module);
        return probe_library("module", lib, module, NSS_STATUS_SUCCESS, name1, name2);
}

/* The same with bench/nss_empty.c, a module that links libc alone and answers NOTFOUND at once:
 * what loading and calling any NSS module costs a process, the floor under a module's first
 * lookup on this machine. */
static int probe_empty(const char *path, const char *name1, const char *name2) {
        return probe_library("empty", path, "benchempty", NSS_STATUS_NOTFOUND, name1, name2);
}

/* The same with the floor module (bench/nss_empty.c built with NSS_BENCH_FLOOR): it reads
 * roles.conf and maps roles.nss at its first call, no more. */
static int probe_floor(const char *path, const char *name1, const char *name2) {
        return probe_library("floor", path, "benchfloor", NSS_STATUS_NOTFOUND, name1, name2);
}

/* What the module's first call does, step by step, with libsqlite3 itself (dlopen'd: this program
 * links nothing but libc): load, open immutable, read the schema version, prepare the user lookup
 * (this parses the whole schema), run it. */
static int probe_sqlite(const char *db, const char *name) {
        typedef struct sqlite3 sqlite3;
        typedef struct sqlite3_stmt sqlite3_stmt;
        int64_t t0 = now_ns();
        void *h = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
        int64_t t1 = now_ns();
        if (!h)
                return 1;
        int (*open_v2)(const char *, sqlite3 **, int, const char *);
        int (*prepare)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
        int (*step)(sqlite3_stmt *);
        int (*finalize)(sqlite3_stmt *);
        int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
        int (*close_v2)(sqlite3 *);
        *(void **) &open_v2 = dlsym(h, "sqlite3_open_v2");
        *(void **) &prepare = dlsym(h, "sqlite3_prepare_v2");
        *(void **) &step = dlsym(h, "sqlite3_step");
        *(void **) &finalize = dlsym(h, "sqlite3_finalize");
        *(void **) &bind_text = dlsym(h, "sqlite3_bind_text");
        *(void **) &close_v2 = dlsym(h, "sqlite3_close_v2");
        if (!open_v2 || !prepare || !step || !finalize || !bind_text || !close_v2)
                return 1;
        char uri[PATH_MAX + 32];
        snprintf(uri, sizeof(uri), "file:%s?immutable=1", db);
        sqlite3 *conn = NULL;
        sqlite3_stmt *st = NULL;
        const int READONLY = 0x1, URI = 0x40, ROW = 100;
        int64_t t2 = now_ns();
        if (open_v2(uri, &conn, READONLY | URI, NULL) != 0)
                return 1;
        int64_t t3 = now_ns();
        if (prepare(conn, "PRAGMA user_version", -1, &st, NULL) != 0 || step(st) != ROW)
                return 1;
        finalize(st);
        int64_t t4 = now_ns();
        if (prepare(conn, "SELECT id, uuid, name, uid, gid, gecos, home, shell, enabled, created_at, updated_at, "
                          "activated_at, expires_at FROM users WHERE name = ?1", -1, &st, NULL) != 0)
                return 1;
        int64_t t5 = now_ns();
        bind_text(st, 1, name, -1, NULL);
        if (step(st) != ROW)
                return 1;
        int64_t t6 = now_ns();
        finalize(st);
        close_v2(conn);
        probe_out("sqlite_dlopen", t1 - t0);
        probe_out("sqlite_open", t3 - t2);
        probe_out("sqlite_user_version", t4 - t3);
        probe_out("sqlite_prepare_schema", t5 - t4);
        probe_out("sqlite_first_step", t6 - t5);
        return 0;
}

static int cmd_probe(int argc, char **argv) {
        if (argc >= 4 && strcmp(argv[1], "first") == 0)
                return probe_first(argv[2], argv[3]);
        if (argc >= 5 && strcmp(argv[1], "module") == 0)
                return probe_module(argv[2], argv[3], argv[4]);
        if (argc >= 5 && strcmp(argv[1], "empty") == 0)
                return probe_empty(argv[2], argv[3], argv[4]);
        if (argc >= 5 && strcmp(argv[1], "floor") == 0)
                return probe_floor(argv[2], argv[3], argv[4]);
        if (argc >= 4 && strcmp(argv[1], "sqlite") == 0)
                return probe_sqlite(argv[2], argv[3]);
        if (argc >= 3 && strcmp(argv[1], "local") == 0)
                return probe_local(argv[2]);
        if (argc >= 2 && strcmp(argv[1], "noop") == 0)
                return 0;
        die("usage: bench_nss probe first NAME NAME | local NAME | module MOD NAME NAME | empty PATH NAME NAME | "
            "floor PATH NAME NAME | "
            "sqlite DB NAME | noop");
}

/* Spawn one kind of probe opt.probes times; print the median of each field it reports, and of
 * the whole process. */
#define MAX_FIELDS 8
static void run_probes(const char *label, char *const argv[]) {
        int n = opt.probes;
        struct field {
                char key[48];
                double *v;
                size_t n;
        } fields[MAX_FIELDS];
        size_t n_fields = 0;
        double *whole = bench_xcalloc((size_t) n, sizeof(*whole));
        int ok = 0;
        for (int i = 0; i < n; i++) {
                FILE *tmp = tmpfile();
                if (!tmp)
                        die("tmpfile: %s", strerror(errno));
                int rc = spawn(argv, fileno(tmp), &whole[ok], NULL);
                if (rc != 0) {
                        fclose(tmp);
                        printf("# probe %s failed (exit %d): skipped\n", label, rc);
                        break;
                }
                ok++;
                rewind(tmp);
                char key[48];
                int64_t ns;
                while (fscanf(tmp, "P %47s %" SCNd64 "\n", key, &ns) == 2) {
                        size_t f;
                        for (f = 0; f < n_fields && strcmp(fields[f].key, key) != 0; f++)
                                ;
                        if (f == n_fields) {
                                if (n_fields == MAX_FIELDS)
                                        continue;
                                snprintf(fields[f].key, sizeof(fields[f].key), "%s", key);
                                fields[f].v = bench_xcalloc((size_t) n, sizeof(double));
                                fields[f].n = 0;
                                n_fields++;
                        }
                        fields[f].v[fields[f].n++] = (double) ns;
                }
                fclose(tmp);
        }
        if (ok > 0) {
                char op[128];
                snprintf(op, sizeof(op), "probe_%.40s_process", label);
                report(op, whole, (size_t) ok);
                for (size_t f = 0; f < n_fields; f++) {
                        snprintf(op, sizeof(op), "first_%.47s", fields[f].key);
                        report(op, fields[f].v, fields[f].n);
                }
        }
        for (size_t f = 0; f < n_fields; f++)
                free(fields[f].v);
        free(whole);
}

static void measure_first_call(void) {
        char self[PATH_MAX];
        ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (l < 0)
                die("/proc/self/exe: %s", strerror(errno));
        self[l] = '\0';
        char *u1 = ds.users[ds.n_users / 3].name, *u2 = ds.users[ds.n_users / 3 + 1].name;

        char *noop[] = { self, "probe", "noop", NULL };
        run_probes("noop", noop);
        char *first[] = { self, "probe", "first", u1, u2, NULL };
        run_probes("first", first);
        char *local[] = { self, "probe", "local", "root", NULL };
        run_probes("local", local);
        if (strcmp(opt.source, "files") != 0) {
                char *module[] = { self, "probe", "module", (char *) opt.source, u1, u2, NULL };
                run_probes("module", module);
        }
        if (opt.empty_module) {
                char *empty[] = { self, "probe", "empty", (char *) opt.empty_module, u1, u2, NULL };
                run_probes("empty", empty);
        }
        if (opt.floor_module) {
                char *floor[] = { self, "probe", "floor", (char *) opt.floor_module, u1, u2, NULL };
                run_probes("floor", floor);
        }
        if (opt.db) {
                char *sq[] = { self, "probe", "sqlite", (char *) opt.db, u1, NULL };
                run_probes("sqlite", sq);
        }
}

static int cmd_run(int argc, char **argv) {
        static const struct option longopts[] = {
                { "data", required_argument, NULL, 'd' },   { "source", required_argument, NULL, 's' },
                { "db", required_argument, NULL, 'b' },     { "iters", required_argument, NULL, 'i' },
                { "budget", required_argument, NULL, 't' }, { "passes", required_argument, NULL, 'p' },
                { "oneshot", required_argument, NULL, 'o' }, { "probes", required_argument, NULL, 'r' },
                { "empty-module", required_argument, NULL, 'e' },
                { "floor-module", required_argument, NULL, 'f' },
                { "quick", no_argument, NULL, 'q' },        { NULL, 0, NULL, 0 },
        };
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                switch (c) {
                case 'd': opt.data = optarg; break;
                case 's': opt.source = optarg; break;
                case 'b': opt.db = optarg; break;
                case 'e': opt.empty_module = optarg; break;
                case 'f': opt.floor_module = optarg; break;
                case 'i': opt.iters = bench_parse_num(optarg, 15, 100000000); break;
                case 't': opt.budget = (double) bench_parse_num(optarg, 1, 3600000) / 1000.0; break;
                case 'p': opt.passes = (int) bench_parse_num(optarg, 3, 1000); break;
                case 'o': opt.oneshot = (int) bench_parse_num(optarg, 15, 100000); break;
                case 'r': opt.probes = (int) bench_parse_num(optarg, 1, 100000); break;
                case 'q':
                        opt.iters = 200;
                        opt.budget = 0.2;
                        opt.passes = 3;
                        opt.oneshot = 15;
                        opt.probes = 5;
                        break;
                default:
                        die("usage: bench_nss run --data DIR --source NAME [--db PATH] [--empty-module PATH] "
                            "[--floor-module PATH] [--iters N] [--budget MS] [--passes N] [--oneshot N] "
                            "[--probes N] [--quick]");
                }
        }
        if (!opt.data || !opt.source)
                die("run needs --data DIR and --source NAME");
        setvbuf(stdout, NULL, _IOLBF, 0);

        load_dataset(opt.data);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("# bench_nss source=%s users=%zu groups=%zu heavy=%s (%d groups)\n", opt.source, ds.n_users,
               ds.n_groups, ds.heavy, ds.heavy_ngroups);
        printf("V rss_before_nss_kib %ld\n", ru.ru_maxrss);

        /* Fresh processes first (they do not depend on this one's state). */
        measure_first_call();
        measure_oneshot();

        measure("getpwnam_r", do_getpwnam, ds.n_users, 1);
        measure("getpwuid_r", do_getpwuid, ds.n_users, 2);
        measure("getgrnam_r", do_getgrnam, ds.n_groups, 3);
        measure("getgrgid_r", do_getgrgid, ds.n_groups, 4);
        measure("getgrouplist_heavy", do_getgrouplist_heavy, 1, 5);
        measure("getgrouplist_user", do_getgrouplist_user, ds.n_users, 6);
        measure("getpwnam_r_miss", do_getpwnam_miss, 1000000, 8);
        measure_enum(false);
        measure_enum(true);

        getrusage(RUSAGE_SELF, &ru);
        printf("V rss_peak_kib %ld\n", ru.ru_maxrss);
        print_rss_split();
        printf("V wrong %d\n", bench_wrong_answers);
        return bench_wrong_answers ? 1 : 0;
}

/* ==== grow: a caller that grows its buffer 1 KiB at a time =========================================== */

static int cmd_grow(int argc, char **argv) {
        static const struct option longopts[] = {
                { "data", required_argument, NULL, 'd' },
                { "budget", required_argument, NULL, 't' },
                { "quick", no_argument, NULL, 'q' },
                { NULL, 0, NULL, 0 },
        };
        const char *data = NULL;
        double budget = 2.0;
        int max_loops = 15, c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                switch (c) {
                case 'd': data = optarg; break;
                case 't': budget = (double) bench_parse_num(optarg, 1, 3600000) / 1000.0; break;
                case 'q': max_loops = 3; budget = 0.2; break;
                default: die("usage: bench_nss grow --data DIR [--budget MS] [--quick]");
                }
        }
        if (!data)
                die("usage: bench_nss grow --data DIR [--budget MS] [--quick]");
        char path[PATH_MAX], key[64], value[64];
        long members = -1;
        snprintf(path, sizeof(path), "%s/meta", data);
        FILE *f = fopen(path, "re");
        if (!f)
                die("%s: %s", path, strerror(errno));
        while (fscanf(f, "%63s %63s", key, value) == 2)
                if (strcmp(key, "big_members") == 0)
                        members = strtol(value, NULL, 10);
        fclose(f);
        if (members < 1)
                die("%s: no big_members (made by an older bench_nss gen?)", path);
        setvbuf(stdout, NULL, _IOLBF, 0);

        double *v = bench_xcalloc((size_t) max_loops, sizeof(*v));
        size_t size = 0;
        long calls = 0;
        int n = 0;
        int64_t end = now_ns() + (int64_t) (budget * 1e9);
        do {
                struct group gr, *res = NULL;
                char *buf = NULL;
                int rc;
                calls = 0;
                size = 0;
                int64_t t0 = now_ns();
                do {
                        size += 1024;
                        free(buf);
                        buf = malloc(size);
                        if (!buf)
                                die("out of memory");
                        rc = getgrnam_r(BIG_GROUP, &gr, buf, size, &res);
                        calls++;
                } while (rc == ERANGE);
                v[n++] = (double) (now_ns() - t0);
                long got = 0;
                if (rc == 0 && res)
                        while (res->gr_mem[got])
                                got++;
                if (rc != 0 || !res || res->gr_gid != BIG_GID || got != members) {
                        wrong("getgrnam_r(%s) growing by 1 KiB: rc %d, %s, %ld members (expected %ld)", BIG_GROUP, rc,
                              res ? "found" : "not found", got, members);
                        free(buf);
                        break;
                }
                free(buf);
        } while (n < max_loops && (n < 3 || now_ns() < end));
        report("getgrnam_grow", v, (size_t) n);
        printf("V grow_calls %ld\nV grow_bytes %zu\n", calls, size);
        printf("V wrong %d\n", bench_wrong_answers);
        free(v);
        return bench_wrong_answers ? 1 : 0;
}

/* ==== spawn: the cost of one admin command ========================================================== */

static int cmd_spawn(int argc, char **argv) {
        int in = -1, i = 1;
        if (argc >= 3 && strcmp(argv[1], "--in") == 0) {
                in = open(argv[2], O_RDONLY | O_CLOEXEC);
                if (in < 0)
                        die("%s: %s", argv[2], strerror(errno));
                i = 3;
        }
        if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc)
                die("usage: bench_nss spawn [--in FILE] -- PROGRAM ARG...");
        long long written = -1;
        int64_t t0 = now_ns();
        int rc = bench_run_io(argv + i + 1, in, -1, 2, NULL, &written);
        int64_t dt = now_ns() - t0;
        printf("%" PRId64 " %lld %d\n", dt, written, rc);
        return rc;
}

int main(int argc, char **argv) {
        bench_init("bench_nss", "", NULL);
        if (argc >= 2 && strcmp(argv[1], "gen") == 0)
                return cmd_gen(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "run") == 0)
                return cmd_run(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "probe") == 0)
                return cmd_probe(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "grow") == 0)
                return cmd_grow(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "spawn") == 0)
                return cmd_spawn(argc - 1, argv + 1);
        fputs("usage: bench_nss gen --users N --out DIR\n"
              "       bench_nss run --data DIR --source NAME [--db PATH] [--empty-module PATH]\n"
              "                     [--floor-module PATH] [--iters N] [--budget MS] [--passes N] [--oneshot N]\n"
              "                     [--probes N] [--quick]\n"
              "       bench_nss grow --data DIR [--budget MS] [--quick]\n"
              "       bench_nss spawn [--in FILE] -- PROGRAM ARG...\n"
              "  Run inside a private mount namespace with nsswitch.conf naming the source: see bench_nss.sh.\n",
              argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
