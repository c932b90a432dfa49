/* SPDX-License-Identifier: MIT */
/*
 * benchlib: what the benchmark programs share. Failures (die, wrong), the clock, statistics
 * over samples, the result table with its PASS / MISS / info verdicts, running a program, and
 * the temporary work directory. It uses nothing but libc, so that bench_nss, which links no
 * part of roles (it measures glibc), can use it too.
 *
 * die() and wrong() keep the short names every program's checks are written with; the rest is
 * prefixed bench_.
 */
#ifndef ROLES_BENCHLIB_H
#define ROLES_BENCHLIB_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>

/* ---- failures ------------------------------------------------------------------------------ */

/* Called first in main: PROG starts every message; DIE_PREFIX follows it in die()'s (bench_roles
 * and bench_pam say "setup failed: ", bench_nss nothing, as its die() also reports bad usage);
 * CLEANUP (may be NULL) runs before die() exits, to remove the work directory. */
void bench_init(const char *prog, const char *die_prefix, void (*cleanup)(void));

/* "PROG: DIE_PREFIX...", the cleanup, exit status 2: the benchmark could not be run at all. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* "PROG: WRONG ANSWER: ..." and one more in bench_wrong_answers. Only the first ten are shown:
 * a measuring loop that goes wrong goes wrong on every call. */
void wrong(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int bench_wrong_answers;

/* After the table: "PROG: N wrong answer(s)" on stderr and 1, or "all answers as expected"
 * and 0. A missed target is no failure: it shows as MISS in the table only. */
int bench_exit_status(void);

/* calloc that dies when out of memory; n or size 0 still gives a block to free. */
void *bench_xcalloc(size_t n, size_t size);

/* ---- options ------------------------------------------------------------------------------- */

/* The options of bench_roles and bench_pam that belong to the work directory, and --help. Put
 * BENCH_COMMON_OPTIONS first in the program's long options; its own letters must differ. */
#define BENCH_COMMON_OPTIONS \
        { "dir", required_argument, NULL, 'd' }, { "keep", no_argument, NULL, 'k' }, \
        { "help", no_argument, NULL, 'h' }

struct bench_options {
        const char *dir;        /* --dir: where the work directory goes (NULL: $TMPDIR or /tmp) */
        bool keep;              /* --keep: leave it for a look afterwards */
};
extern struct bench_options bench_opt;

/* Parses argv with LONGOPTS: the common options here, every other one through OWN (optarg set),
 * which returns false for one it does not know. --help: USAGE on stdout, exit 0; a bad option
 * or an operand: USAGE on stderr, exit 2. */
void bench_options(int argc, char **argv, const struct option *longopts, void (*usage)(FILE *f),
                   bool (*own)(int c));

/* A bad number on the command line: says so and exits 2. */
long bench_parse_num(const char *s, long min, long max);

/* ---- clock and statistics ------------------------------------------------------------------ */

/* CLOCK_MONOTONIC, in seconds. */
double bench_now(void);

/* Room for n samples (at least one), zeroed. */
double *bench_samples(int n);

struct bench_stats {
        double p10, median, p90, min, max;
        int n;
};

/* Sorts v. The median is the mean of the middle two of an even count; p10 and p90 are nearest
 * rank (the smallest sample with at least that share at or below it). All zero when n <= 0. */
struct bench_stats bench_summarize(double *v, int n);

/* "12.3 us", "4.56 ms", "1.234 s", with a "-" when negative. */
void bench_fmt_time(double seconds, char *buf, size_t size);

/* ---- the result table ---------------------------------------------------------------------- */

/* Optional columns; median, p90, target and verdict are always there. */
#define BENCH_COL_P10 0x1u      /* p10 before the median */
#define BENCH_COL_VS  0x2u      /* "vs / overhead": a difference to a reference row */

struct bench_row {
        char metric[64];
        char p10[16], median[16], p90[16], vs[32], target[24], verdict[8];
};

struct bench_table {
        unsigned columns;       /* BENCH_COL_* */
        size_t n;
        struct bench_row rows[32];
};

/* A row with the statistics of st, "-" for vs and target, verdict "info". The caller may
 * rewrite any cell, or give the row a target (bench_target, bench_verdict). */
struct bench_row *bench_add_row(struct bench_table *t, const char *metric, const struct bench_stats *st);

/* A line with a title only, above the rows it heads. */
void bench_add_section(struct bench_table *t, const char *title);

/* Target "<= LIMIT" (seconds), PASS when value <= limit, else MISS. */
void bench_target(struct bench_row *r, double value, double limit);

/* Any other target, worded by the caller, and whether it was met. */
void bench_verdict(struct bench_row *r, const char *target, bool pass);

/* The vs cell: a time difference, signed ("+1.08 ms", "-6.1 us"). */
void bench_vs_time(struct bench_row *r, double diff);

void bench_print_table(const struct bench_table *t);

/* ---- processes and files ------------------------------------------------------------------- */

/* fork + exec ARGV (ARGV[0] a path) with stdin, stdout and stderr on IN, OUT and ERR (-1:
 * /dev/null), and wait: its exit status, or 128 + the signal that ended it (127: could not
 * exec). RU, when not NULL, gets the child's resource use (its peak RSS). */
int bench_run(char *const argv[], int in, int out, int err, struct rusage *ru);

/* bench_run, and the bytes the child wrote to storage (/proc/PID/io write_bytes, read between
 * its end and its reaping; -1 when unreadable) in *RET_WRITE_BYTES. The kernel counts a page when
 * it is dirtied, on filesystems with writeback only: nothing on tmpfs. */
int bench_run_io(char *const argv[], int in, int out, int err, struct rusage *ru, long long *ret_write_bytes);

/* Copies a file to stderr, each line indented: what a failed program said. */
void bench_show_file(const char *path);

/* Writes a whole file (mode 0644 under the umask) or dies. */
void bench_write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the work directory -------------------------------------------------------------------- */

/* DIR/NAME-XXXXXX (DIR: --dir, else $TMPDIR, else /tmp), made by mkdtemp and opened to 0755:
 * rolesctl and the modules read in it as they would in /var/lib/roles. */
extern char bench_workdir[240];      /* a roles.conf path holds 255 bytes: room for the file names */
void bench_make_workdir(const char *name);

/* The path of a file in the work directory: WORKDIR/ then FMT, or die when it does not fit. */
void bench_path(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Removes the work directory, or with --keep leaves it and says where it is (and CONF, a
 * configuration in it to run rolesctl with, when not NULL). Does nothing the second time. */
void bench_remove_workdir(const char *conf);

/* What the work directory is on (an fsync on tmpfs costs nothing: say so beside the figures). */
const char *bench_fs_name(const char *path);

#endif
