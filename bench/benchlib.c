/* SPDX-License-Identifier: MIT */
/* benchlib: what the benchmark programs share (see benchlib.h). libc only. */
#include "benchlib.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- failures ------------------------------------------------------------------------------ */

static const char *prog = "bench";
static const char *die_prefix = "";
static void (*die_cleanup)(void);

int bench_wrong_answers;

void bench_init(const char *name, const char *prefix, void (*cleanup)(void)) {
        prog = name;
        die_prefix = prefix;
        die_cleanup = cleanup;
}

void die(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "%s: %s", prog, die_prefix);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        if (die_cleanup)
                die_cleanup();
        exit(2);
}

void wrong(const char *fmt, ...) {
        va_list ap;
        if (bench_wrong_answers++ >= 10)
                return;
        fprintf(stderr, "%s: WRONG ANSWER: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int bench_exit_status(void) {
        if (bench_wrong_answers) {
                fprintf(stderr, "%s: %d wrong answer(s)\n", prog, bench_wrong_answers);
                return 1;
        }
        printf("all answers as expected\n");
        return 0;
}

void *bench_xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                die("out of memory");
        return p;
}

/* ---- options ------------------------------------------------------------------------------- */

struct bench_options bench_opt;

void bench_options(int argc, char **argv, const struct option *longopts, void (*usage)(FILE *f),
                   bool (*own)(int c)) {
        int c;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'd': bench_opt.dir = optarg; break;
                case 'k': bench_opt.keep = true; break;
                case 'h': usage(stdout); exit(0);
                default:
                        if (!own(c)) {
                                usage(stderr);
                                exit(2);
                        }
                }
        }
        if (optind != argc) {
                usage(stderr);
                exit(2);
        }
}

long bench_parse_num(const char *s, long min, long max) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                fprintf(stderr, "%s: bad number '%s' (%ld..%ld)\n", prog, s, min, max);
                exit(2);
        }
        return v;
}

/* ---- clock and statistics ------------------------------------------------------------------ */

double bench_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

double *bench_samples(int n) {
        return bench_xcalloc((size_t) (n > 0 ? n : 1), sizeof(double));
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Nearest rank of sorted v, in integers: ceil(pct * n / 100) without a rounding error. */
static double percentile(const double *v, int n, int pct) {
        int rank = (pct * n + 99) / 100;
        return v[rank < 1 ? 0 : rank - 1];
}

struct bench_stats bench_summarize(double *v, int n) {
        struct bench_stats st = { .n = n };
        if (n <= 0)
                return st;
        qsort(v, (size_t) n, sizeof(*v), cmp_double);
        st.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        st.p10 = percentile(v, n, 10);
        st.p90 = percentile(v, n, 90);
        st.min = v[0];
        st.max = v[n - 1];
        return st;
}

void bench_fmt_time(double seconds, char *buf, size_t size) {
        const char *sign = seconds < 0 ? "-" : "";
        double a = seconds < 0 ? -seconds : seconds;
        if (a < 1e-3)
                snprintf(buf, size, "%s%.1f us", sign, a * 1e6);
        else if (a < 1)
                snprintf(buf, size, "%s%.2f ms", sign, a * 1e3);
        else
                snprintf(buf, size, "%s%.3f s", sign, a);
}

/* ---- the result table ---------------------------------------------------------------------- */

struct bench_row *bench_add_row(struct bench_table *t, const char *metric, const struct bench_stats *st) {
        if (t->n >= sizeof(t->rows) / sizeof(t->rows[0]))
                die("too many table rows");
        struct bench_row *r = &t->rows[t->n++];
        snprintf(r->metric, sizeof(r->metric), "%s", metric);
        bench_fmt_time(st->p10, r->p10, sizeof(r->p10));
        bench_fmt_time(st->median, r->median, sizeof(r->median));
        bench_fmt_time(st->p90, r->p90, sizeof(r->p90));
        snprintf(r->vs, sizeof(r->vs), "-");
        snprintf(r->target, sizeof(r->target), "-");
        snprintf(r->verdict, sizeof(r->verdict), "info");
        return r;
}

/* A section is a row whose cells are all empty: bench_print_table shows its title alone. */
void bench_add_section(struct bench_table *t, const char *title) {
        struct bench_stats none = { 0 };
        struct bench_row *r = bench_add_row(t, title, &none);
        r->p10[0] = r->median[0] = r->p90[0] = r->vs[0] = r->target[0] = r->verdict[0] = '\0';
}

void bench_verdict(struct bench_row *r, const char *target, bool pass) {
        snprintf(r->target, sizeof(r->target), "%s", target);
        snprintf(r->verdict, sizeof(r->verdict), "%s", pass ? "PASS" : "MISS");
}

/* Targets are round numbers: "<= 50 us", "<= 300 ms", "<= 2 s". */
void bench_target(struct bench_row *r, double value, double limit) {
        char t[24];
        if (limit < 1e-3)
                snprintf(t, sizeof(t), "<= %g us", limit * 1e6);
        else if (limit < 1)
                snprintf(t, sizeof(t), "<= %g ms", limit * 1e3);
        else
                snprintf(t, sizeof(t), "<= %g s", limit);
        bench_verdict(r, t, value <= limit);
}

void bench_vs_time(struct bench_row *r, double diff) {
        char d[16];
        bench_fmt_time(diff, d, sizeof(d));
        snprintf(r->vs, sizeof(r->vs), "%s%s", diff >= 0 ? "+" : "", d);
}

static void print_line(const struct bench_table *t, const char *metric, const char *p10, const char *median,
                       const char *p90, const char *vs, const char *target, const char *verdict) {
        printf("%-46s", metric);
        if (t->columns & BENCH_COL_P10)
                printf(" %11s", p10);
        printf(" %11s %11s", median, p90);
        /* Two spaces between right- and left-aligned columns, one between left-aligned ones. */
        if (t->columns & BENCH_COL_VS)
                printf("  %-18s %-10s", vs, target);
        else
                printf("  %-10s", target);
        printf(" %s\n", verdict);
}

void bench_print_table(const struct bench_table *t) {
        putchar('\n');
        print_line(t, "metric", "p10", "median", "p90", "vs / overhead", "target", "verdict");
        print_line(t, "----------------------------------------------", "-----------", "-----------", "-----------",
                   "------------------", "----------", "-------");
        for (size_t i = 0; i < t->n; i++) {
                const struct bench_row *r = &t->rows[i];
                if (!r->verdict[0])
                        printf("%s\n", r->metric);
                else
                        print_line(t, r->metric, r->p10, r->median, r->p90, r->vs, r->target, r->verdict);
        }
}

/* ---- processes and files ------------------------------------------------------------------- */

/* The child's write_bytes from /proc/PID/io (-1 when unreadable), while it is a zombie. */
static long long zombie_write_bytes(pid_t pid) {
        char path[64], line[128];
        long long v = -1;
        snprintf(path, sizeof(path), "/proc/%d/io", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "write_bytes: %lld", &v) == 1)
                        break;
        fclose(f);
        return v;
}

int bench_run_io(char *const argv[], int in, int out, int err, struct rusage *ru, long long *ret_write_bytes) {
        pid_t pid = fork();
        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(in >= 0 ? in : null, 0) < 0 || dup2(out >= 0 ? out : null, 1) < 0 ||
                    dup2(err >= 0 ? err : null, 2) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        if (ret_write_bytes) {
                /* Ended but not reaped: its /proc/PID/io still holds what it wrote. */
                siginfo_t info;
                while (waitid(P_PID, (id_t) pid, &info, WEXITED | WNOWAIT) < 0)
                        if (errno != EINTR)
                                die("waitid: %s", strerror(errno));
                *ret_write_bytes = zombie_write_bytes(pid);
        }
        int status;
        struct rusage ignored;
        while (wait4(pid, &status, 0, ru ? ru : &ignored) < 0)
                if (errno != EINTR)
                        die("wait4: %s", strerror(errno));
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int bench_run(char *const argv[], int in, int out, int err, struct rusage *ru) {
        return bench_run_io(argv, in, out, err, ru, NULL);
}

void bench_show_file(const char *path) {
        FILE *f = fopen(path, "re");
        char line[512];
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                fprintf(stderr, "    %s", line);
        fclose(f);
}

void bench_write_file(const char *path, const char *fmt, ...) {
        FILE *f = fopen(path, "we");
        va_list ap;
        if (!f)
                die("%s: %s", path, strerror(errno));
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        if (fclose(f) != 0)
                die("%s: %s", path, strerror(errno));
}

/* ---- the work directory -------------------------------------------------------------------- */

char bench_workdir[240];

void bench_make_workdir(const char *name) {
        const char *dir = bench_opt.dir;
        if (!dir) {
                dir = getenv("TMPDIR");
                if (!dir || !*dir)
                        dir = "/tmp";
        }
        if (snprintf(bench_workdir, sizeof(bench_workdir), "%s/%s-XXXXXX", dir, name) >= (int) sizeof(bench_workdir))
                die("%s: path too long", dir);
        if (!mkdtemp(bench_workdir)) {
                bench_workdir[0] = '\0';
                die("mkdtemp under %s: %s", dir, strerror(errno));
        }
        if (chmod(bench_workdir, 0755) < 0)
                die("%s: %s", bench_workdir, strerror(errno));
}

void bench_path(char *buf, size_t size, const char *fmt, ...) {
        char rel[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rel, sizeof(rel), fmt, ap);
        va_end(ap);
        if (snprintf(buf, size, "%s/%s", bench_workdir, rel) >= (int) size)
                die("%s/%s: path too long", bench_workdir, rel);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

void bench_remove_workdir(const char *conf) {
        if (!bench_workdir[0])
                return;
        if (bench_opt.keep && conf)
                fprintf(stderr, "%s: kept %s (conf %s)\n", prog, bench_workdir, conf);
        else if (bench_opt.keep)
                fprintf(stderr, "%s: kept %s\n", prog, bench_workdir);
        else
                nftw(bench_workdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        bench_workdir[0] = '\0';
}

const char *bench_fs_name(const char *path) {
        struct statfs sfs;
        if (statfs(path, &sfs) != 0)
                return "?";
        return sfs.f_type == 0xEF53 ? "ext4" : sfs.f_type == 0x01021994 ? "tmpfs (fsync is free!)"
             : sfs.f_type == 0x9123683E ? "btrfs" : sfs.f_type == 0x58465342 ? "xfs" : "other";
}
