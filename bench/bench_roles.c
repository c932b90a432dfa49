/* SPDX-License-Identifier: MIT */
/*
 * bench_roles: how fast roles answers the questions that sit on the login path, and what an
 * administrator's change costs, on a database of realistic size.
 *
 *   1. permission check for a user holding 50 roles over a 10-level metarole DAG, in a
 *      snapshot of 100k users and 10k roles: warm (one open store, many checks) and cold
 *      (open + check + close, what a fresh PAM process pays). Target: median <= 50 us.
 *   2. one admin change that republishes the snapshot (open WRITE + one change + commit).
 *      Target: median <= 300 ms.
 *   3. `rolesctl batch` of 1,000 mixed commands, the real binary. Target: <= 2 s.
 *
 * Everything runs in a fresh temporary directory (mkdtemp under $TMPDIR or /tmp, or --dir).
 * Answers are verified against what the generator put in: a wrong answer exits 1. A missed
 * target is only reported (MISS), the exit status stays 0.
 *
 *   bench_roles [--dir DIR] [--keep] [--users N] [--roles N] [--warm N] [--cold N]
 *               [--runs N] [--batch-runs N] [--rolesctl PATH] [--only-check] [--quick]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "benchlib.h"
#include "config.h"
#include "testlib.h"     /* test_error, test_close: a message and a close for any handle */
#include "writer.h"

#ifndef ROLESCTL_PATH
#define ROLESCTL_PATH "/work/main/build/rolesctl/rolesctl"
#endif

/* ---- the generated data set ------------------------------------------------------------- */

#define LEVELS      10          /* metarole DAG depth */
#define WIDTH       6           /* metaroles per level */
#define N_METAROLES (LEVELS * WIDTH)
#define MR_PERMS    3           /* permissions per metarole (plus a few extras below) */
#define USER_ROLES  50          /* roles of the benchmark user */
#define N_GROUPS    200         /* ordinary groups; every user is in one */

#define BENCH_USER   "bench"
#define EMPTY_USER   "bench_empty"      /* no roles at all */
#define DEEP_MR_L    (LEVELS - 1)       /* the metarole holding the "deep" permission ... */
#define DEEP_MR_I    0                  /* ... that no role of the bench user has directly */
#define WILD_MR_L    5
#define WILD_MR_I    2

#define PERM_DEEP      "bench.deep.read"        /* only on m9_0: granted through the deepest level */
#define PERM_DISABLED  "bench.refused.write"    /* on one of the user's roles, disabled */
#define PERM_EXPIRED   "bench.expired.read"     /* on a role whose assignment has ended */
#define PERM_WILD      "svc.deploy.*"           /* role wildcard on one of the user's roles */
#define PERM_MR_WILD   "ops.l5.*"               /* metarole wildcard on m5_2 */
#define PERM_NONE      "nothing.at.all"         /* held by nobody: a full scan of the grants */

/* Role j: metarole j % 60, 2..5 permissions, a wildcard on every 5th, the last one disabled on
 * every 7th. */
static int role_metarole(long j) {
        return (int) (j % N_METAROLES);
}
static int role_nperms(long j) {
        return 2 + (int) (j % 4);
}
static void role_perm(long j, int k, char *buf, size_t size) {
        if (k == 0 && j % 5 == 0)
                snprintf(buf, size, "app%ld.r%ld.*", j % 200, j);
        else
                snprintf(buf, size, "app%ld.res%ld.op%d", j % 200, j % 13, k);
}
static bool role_perm_disabled(long j, int k) {
        return j % 7 == 0 && k == role_nperms(j) - 1;
}

/* The bench user's k-th role: metaroles spread over all levels, never the deep one. */
static long user_role(int k) {
        int level = k % LEVELS, i = (k / LEVELS) % WIDTH;
        if (level == DEEP_MR_L && i == DEEP_MR_I)
                i = WIDTH - 1;
        return level * WIDTH + i + (long) N_METAROLES * (k + 1);
}

/* includes edges: (L,i) -> (L+1,i), (L+1,i+1): diamonds everywhere; plus (L+2,i+2) skips. */
static int mr_edges(int m, int out[3]) {
        int l = m / WIDTH, i = m % WIDTH, n = 0;
        if (l + 1 < LEVELS) {
                out[n++] = (l + 1) * WIDTH + i;
                out[n++] = (l + 1) * WIDTH + (i + 1) % WIDTH;
        }
        if (i % 3 == 0 && l + 2 < LEVELS)
                out[n++] = (l + 2) * WIDTH + (i + 2) % WIDTH;
        return n;
}
static int mr_nperms(int m) {
        return MR_PERMS + (m == DEEP_MR_L * WIDTH + DEEP_MR_I) + (m == WILD_MR_L * WIDTH + WILD_MR_I);
}

/* ---- options, the result table ------------------------------------------------------------ */

static struct {
        long users, roles;
        int warm, cold, runs, batch_runs, batch_cmds;
        const char *rolesctl;
        bool only_check;
} opt = {
        .users = 100000, .roles = 10000, .warm = 5000, .cold = 500, .runs = 7, .batch_runs = 5,
        .batch_cmds = 1000, .rolesctl = ROLESCTL_PATH,
};

static const struct option longopts[] = {
        BENCH_COMMON_OPTIONS,
        { "users", required_argument, NULL, 'u' }, { "roles", required_argument, NULL, 'r' },
        { "warm", required_argument, NULL, 'w' },  { "cold", required_argument, NULL, 'c' },
        { "runs", required_argument, NULL, 'n' },  { "batch-runs", required_argument, NULL, 'b' },
        { "rolesctl", required_argument, NULL, 'x' }, { "only-check", no_argument, NULL, 'o' },
        { "quick", no_argument, NULL, 'q' },       { NULL, 0, NULL, 0 },
};

static char conf_path[PATH_MAX];
static struct roles_config cfg;

static struct bench_table table;

/* target <= 0: informational row. p90 is left out where there are too few runs to have one. */
static void add_row(const char *metric, const struct bench_stats *st, bool with_p90, double target) {
        struct bench_row *r = bench_add_row(&table, metric, st);
        if (!with_p90)
                snprintf(r->p90, sizeof(r->p90), "-");
        if (target > 0)
                bench_target(r, st->median, target);
}

/* ---- setup ---------------------------------------------------------------------------- */

static void cleanup(void) {
        bench_remove_workdir(conf_path[0] ? conf_path : NULL);
}

static void make_workdir(void) {
        bench_make_workdir("roles-bench");

        roles_config_defaults(&cfg);
        snprintf(cfg.public_db, sizeof(cfg.public_db), "%s/roles.db", bench_workdir);
        snprintf(cfg.secrets_db, sizeof(cfg.secrets_db), "%s/secrets.db", bench_workdir);
        snprintf(cfg.state_db, sizeof(cfg.state_db), "%s/state.db", bench_workdir);
        /* 100k users plus their personal groups do not fit the default 10000-59999. */
        cfg.uid_min = cfg.gid_min = 10000;
        cfg.uid_max = cfg.gid_max = 10000 + 4 * (uint32_t) opt.users + 100000;
        cfg.argon2_t_cost = 1;
        cfg.argon2_m_cost_kib = 64;
        cfg.argon2_parallelism = 1;

        bench_path(conf_path, sizeof(conf_path), "roles.conf");
        bench_write_file(conf_path,
                         "public_db = %s\nsecrets_db = %s\nstate_db = %s\n"
                         "uid_min = %u\nuid_max = %u\ngid_min = %u\ngid_max = %u\n"
                         "argon2_t_cost = %u\nargon2_m_cost_kib = %u\nargon2_parallelism = %u\n",
                         cfg.public_db, cfg.secrets_db, cfg.state_db, cfg.uid_min, cfg.uid_max, cfg.gid_min,
                         cfg.gid_max, cfg.argon2_t_cost, cfg.argon2_m_cost_kib, cfg.argon2_parallelism);
}

static struct roles_writer *open_writer(unsigned flags) {
        struct roles_writer *w = NULL;
        char err[512] = "";
        int r = roles_writer_open(&cfg, flags, &w, err, sizeof(err));
        if (r < 0)
                die("roles_writer_open(%#x): %s", flags, err);
        return w;
}

static struct roles_snapshot *open_snapshot(void) {
        struct roles_snapshot *snap = NULL;
        char err[512] = "";
        int r = roles_snapshot_open(&cfg, 0, &snap, err, sizeof(err));
        if (r < 0)
                die("roles_snapshot_open: %s", err);
        return snap;
}

#define CHECK(s, call)                                                                                        \
        do {                                                                                                  \
                int _r = (call);                                                                              \
                if (_r < 0)                                                                                   \
                        die("%s:%d: %s: %s", __FILE__, __LINE__, #call, test_error(s));                \
        } while (0)

static void commit_store(struct roles_writer *s) {
        CHECK(s, roles_writer_commit(s));
        test_close(s);
}

static void user_name(long i, char *buf, size_t size) {
        snprintf(buf, size, "u%06ld", i);
}

static void populate(void) {
        struct roles_metarole *mr = bench_xcalloc(N_METAROLES, sizeof(*mr));
        struct roles_role role;
        char perm[ROLES_PERM_MAX + 1];
        double t0 = bench_now(), t;

        struct roles_writer *s = open_writer(ROLES_WRITER_CREATE);
        CHECK(s, roles_writer_set_actor(s, "bench"));

        /* The metarole DAG. */
        for (int m = 0; m < N_METAROLES; m++) {
                snprintf(mr[m].code, sizeof(mr[m].code), "m%d_%d", m / WIDTH, m % WIDTH);
                snprintf(mr[m].name, sizeof(mr[m].name), "Metarole %d of level %d", m % WIDTH, m / WIDTH);
                CHECK(s, roles_metarole_add(s, &mr[m]));
                for (int k = 0; k < MR_PERMS; k++) {
                        snprintf(perm, sizeof(perm), "mr.l%d.m%d.p%d", m / WIDTH, m % WIDTH, k);
                        CHECK(s, roles_metarole_grant(s, &mr[m], perm));
                }
        }
        CHECK(s, roles_metarole_grant(s, &mr[DEEP_MR_L * WIDTH + DEEP_MR_I], PERM_DEEP));
        CHECK(s, roles_metarole_grant(s, &mr[WILD_MR_L * WIDTH + WILD_MR_I], PERM_MR_WILD));
        for (int m = 0; m < N_METAROLES; m++) {
                int out[3], n = mr_edges(m, out);
                for (int e = 0; e < n; e++)
                        CHECK(s, roles_metarole_include(s, &mr[m], &mr[out[e]]));
        }

        /* Roles. */
        long *role_ids = bench_xcalloc((size_t) opt.roles, sizeof(long));
        for (long j = 0; j < opt.roles; j++) {
                role = (struct roles_role) { 0 };
                snprintf(role.name, sizeof(role.name), "r%05ld", j);
                memcpy(role.metarole, mr[role_metarole(j)].code, sizeof(role.metarole));
                CHECK(s, roles_role_add(s, &role));
                role_ids[j] = role.id;
                for (int k = 0; k < role_nperms(j); k++) {
                        role_perm(j, k, perm, sizeof(perm));
                        CHECK(s, roles_role_grant(s, &role, perm));
                        if (role_perm_disabled(j, k))
                                CHECK(s, roles_role_set_disabled(s, &role, perm, true));
                }
        }
        t = bench_now();
        printf("  metaroles, edges and %ld roles: %.2f s\n", opt.roles, t - t0);
        t0 = t;

        /* Users, each with 1-3 roles. */
        struct roles_user u;
        int64_t *user_ids = bench_xcalloc((size_t) opt.users, sizeof(int64_t));
        for (long i = 0; i < opt.users; i++) {
                u = (struct roles_user) { .uid = ROLES_ID_INVALID, .gid = ROLES_ID_INVALID, .enabled = true };
                user_name(i, u.name, sizeof(u.name));
                snprintf(u.gecos, sizeof(u.gecos), "Bench User %ld", i);
                CHECK(s, roles_user_add(s, &u));
                user_ids[i] = u.id;
                for (int t2 = 0; t2 <= i % 3; t2++) {
                        struct roles_role rr = { .id = role_ids[(i * 7 + t2 * 131) % opt.roles] };
                        snprintf(rr.name, sizeof(rr.name), "r%05ld", (i * 7 + t2 * 131) % opt.roles);
                        CHECK(s, roles_role_assign(s, &rr, &u, 0));
                }
                if (i && i % 20000 == 0) {
                        printf("  ... %ld users (%.1f s)\n", i, bench_now() - t0);
                        fflush(stdout);
                }
        }
        t = bench_now();
        printf("  %ld users (roles_user_add + 1-3 role assignments each): %.2f s\n", opt.users, t - t0);
        t0 = t;

        /* Ordinary groups: every user is a member of one. */
        struct roles_group *groups = bench_xcalloc(N_GROUPS, sizeof(*groups));
        for (int g = 0; g < N_GROUPS; g++) {
                groups[g] = (struct roles_group) { .gid = ROLES_ID_INVALID };
                snprintf(groups[g].name, sizeof(groups[g].name), "g%03d", g);
                CHECK(s, roles_group_add(s, &groups[g]));
        }
        for (long i = 0; i < opt.users; i++) {
                u = (struct roles_user) { .id = user_ids[i] };
                user_name(i, u.name, sizeof(u.name));
                CHECK(s, roles_group_add_member(s, &groups[i % N_GROUPS], &u));
        }
        t = bench_now();
        printf("  %d groups, %ld memberships: %.2f s\n", N_GROUPS, opt.users, t - t0);
        t0 = t;

        /* The benchmark user: 50 current roles, one expired one. */
        u = (struct roles_user) { .uid = ROLES_ID_INVALID, .gid = ROLES_ID_INVALID, .enabled = true };
        snprintf(u.name, sizeof(u.name), "%s", BENCH_USER);
        CHECK(s, roles_user_add(s, &u));
        for (int k = 0; k < USER_ROLES; k++) {
                CHECK(s, roles_role_by_name(roles_writer_snapshot(s), (snprintf(role.name, sizeof(role.name), "r%05ld", user_role(k)), role.name),
                                            &role));
                CHECK(s, roles_role_assign(s, &role, &u, 0));
                if (k == 0) {
                        CHECK(s, roles_role_grant(s, &role, PERM_DISABLED));
                        CHECK(s, roles_role_set_disabled(s, &role, PERM_DISABLED, true));
                } else if (k == 1) {
                        CHECK(s, roles_role_grant(s, &role, PERM_WILD));
                }
        }
        role = (struct roles_role) { .name = "bench_expired" };
        memcpy(role.metarole, mr[0].code, sizeof(role.metarole));
        CHECK(s, roles_role_add(s, &role));
        CHECK(s, roles_role_grant(s, &role, PERM_EXPIRED));
        CHECK(s, roles_role_assign(s, &role, &u, (int64_t) time(NULL) - 3600));

        u = (struct roles_user) { .uid = ROLES_ID_INVALID, .gid = ROLES_ID_INVALID, .enabled = true };
        snprintf(u.name, sizeof(u.name), "%s", EMPTY_USER);
        CHECK(s, roles_user_add(s, &u));

        commit_store(s);
        printf("  the benchmark user, commit: %.2f s\n", bench_now() - t0);
        free(groups);
        free(user_ids);
        free(role_ids);
        free(mr);
}

/* ---- 1. permission check -------------------------------------------------------------------- */

struct expectation {
        const char *user, *perm;
        int allowed;
};

static const struct expectation expectations[] = {
        { BENCH_USER, PERM_DEEP, 1 },                   /* only through the deepest level */
        { BENCH_USER, "mr.l0.m0.p0", 1 },               /* the metarole of a role, directly */
        { BENCH_USER, "mr.l9.m0.p2", 1 },               /* m9_0 again, another permission */
        { BENCH_USER, "svc.deploy.prod", 1 },           /* role wildcard */
        { BENCH_USER, "svc.deploy", 0 },                /* a wildcard covers the subtree only */
        { BENCH_USER, "ops.l5.restart", 1 },            /* metarole wildcard, reached through includes */
        { BENCH_USER, PERM_DISABLED, 0 },               /* disabled on its role */
        { BENCH_USER, PERM_EXPIRED, 0 },                /* assignment ended an hour ago */
        { BENCH_USER, PERM_NONE, 0 },                   /* nobody has it */
        { EMPTY_USER, PERM_DEEP, 0 },                   /* no roles, nothing */
        { "no_such_user", PERM_DEEP, -ENOENT },
};

/* What the resolution of the bench user must contain, computed from the generator alone. */
static void expected_resolution(size_t *ret_roles, size_t *ret_metaroles, size_t *ret_grants) {
        bool seen[N_METAROLES] = { false };
        int queue[N_METAROLES], head = 0, tail = 0;
        size_t grants = 0;

        for (int k = 0; k < USER_ROLES; k++) {
                long j = user_role(k);
                grants += (size_t) role_nperms(j) + (k == 0 || k == 1);
                int m = role_metarole(j);
                if (!seen[m]) {
                        seen[m] = true;
                        queue[tail++] = m;
                }
        }
        while (head < tail) {
                int out[3], n = mr_edges(queue[head++], out);
                for (int e = 0; e < n; e++)
                        if (!seen[out[e]]) {
                                seen[out[e]] = true;
                                queue[tail++] = out[e];
                        }
        }
        for (int i = 0; i < tail; i++)
                grants += (size_t) mr_nperms(queue[i]);
        *ret_roles = USER_ROLES;
        *ret_metaroles = (size_t) tail;
        *ret_grants = grants;
}

static void verify_answers(struct roles_snapshot *s) {
        time_t now = time(NULL);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(expectations); i++) {
                const struct expectation *e = &expectations[i];
                int r = roles_check(s, e->user, e->perm, now);
                if (r != e->allowed)
                        wrong("check %s %s = %d, expected %d", e->user, e->perm, r, e->allowed);
        }

        struct roles_user u;
        struct roles_resolution *res = NULL;
        CHECK(s, roles_user_by_name(s, BENCH_USER, &u));
        CHECK(s, roles_resolve(s, &u, now, &res));
        size_t want_roles, want_mr, want_grants;
        expected_resolution(&want_roles, &want_mr, &want_grants);
        /* The ended assignment is listed (for --why) but marked ended and never counted. */
        size_t current = 0, ended = 0;
        for (size_t i = 0; i < res->n_roles; i++) {
                if (!res->roles[i].ended)
                        current++;
                else if (strcmp(res->roles[i].name, "bench_expired") == 0 && res->roles[i].metarole == ROLES_NONE)
                        ended++;
                else
                        wrong("role %s of %s is marked ended", res->roles[i].name, BENCH_USER);
        }
        if (current != want_roles || ended != 1 || res->n_metaroles != want_mr || res->n_grants != want_grants)
                wrong("resolution of %s: %zu current + %zu ended roles, %zu metaroles, %zu grants; expected %zu + 1, %zu, %zu",
                      BENCH_USER, current, ended, res->n_metaroles, res->n_grants, want_roles, want_mr, want_grants);
        if (res->superuser)
                wrong("%s resolved as a superuser", BENCH_USER);

        /* The deep permission must come from m9_0, reached through includes, not from a role. */
        size_t g = ROLES_NONE;
        char path[1024] = "", deep[32];
        snprintf(deep, sizeof(deep), "metarole m%d_%d", DEEP_MR_L, DEEP_MR_I);
        if (!roles_resolution_allows(res, PERM_DEEP, &g) || g == ROLES_NONE)
                wrong("%s not granted by a grant", PERM_DEEP);
        else if (res->grants[g].source != ROLES_GRANT_METAROLE ||
                 res->metaroles[res->grants[g].index].via_metarole == ROLES_NONE ||
                 roles_resolution_path(res, g, path, sizeof(path)) < 0 || !strstr(path, deep))
                wrong("%s granted the wrong way: '%s'", PERM_DEEP, path);
        printf("  %s: %zu current roles (+%zu ended), %zu metaroles reached, %zu grants; %s via: %s\n", BENCH_USER,
               current, ended, res->n_metaroles, res->n_grants, PERM_DEEP, path);
        roles_resolution_free(res);
}

/* One cold check, timed in its three phases; a function of its own so that a profiler can
 * be pointed at it (valgrind --tool=callgrind --toggle-collect=cold_once). */
__attribute__((noinline)) static int cold_once(time_t now, double t[4]) {
        t[0] = bench_now();
        struct roles_snapshot *s = open_snapshot();
        t[1] = bench_now();
        int r = roles_check(s, BENCH_USER, PERM_DEEP, now);
        t[2] = bench_now();
        test_close(s);
        t[3] = bench_now();
        return r;
}

/* opt.warm checks of one permission on the same open store, each timed: a row of the table. */
static void warm_checks(struct roles_snapshot *s, time_t now, const char *perm, int want, double *v,
                        const char *metric) {
        for (int i = 0; i < opt.warm; i++) {
                double t0 = bench_now();
                int r = roles_check(s, BENCH_USER, perm, now);
                v[i] = bench_now() - t0;
                if (r != want) {
                        wrong("warm check %s %s = %d", BENCH_USER, perm, r);
                        break;
                }
        }
        struct bench_stats st = bench_summarize(v, opt.warm);
        add_row(metric, &st, true, 50e-6);
}

static void bench_check(void) {
        time_t now = time(NULL);
        struct roles_snapshot *s = open_snapshot();
        double *v = bench_samples(opt.warm > opt.cold ? opt.warm : opt.cold);
        struct bench_stats st;

        verify_answers(s);

        /* Warm: the same open store, as a long-running process would use it. */
        for (int i = 0; i < 200; i++)
                (void) roles_check(s, BENCH_USER, PERM_DEEP, now);
        warm_checks(s, now, PERM_DEEP, 1, v, "check, warm (roles_check, granted)");
        warm_checks(s, now, PERM_NONE, 0, v, "check, warm (roles_check, refused)");

        /* Where the warm time goes: user lookup, resolve, decide. */
        struct roles_user u;
        double *vr = bench_samples(opt.warm), *va = bench_samples(opt.warm), *vu = bench_samples(opt.warm);
        for (int i = 0; i < opt.warm; i++) {
                struct roles_resolution *res = NULL;
                double t0 = bench_now();
                CHECK(s, roles_user_by_name(s, BENCH_USER, &u));
                double t1 = bench_now();
                CHECK(s, roles_resolve(s, &u, now, &res));
                double t2 = bench_now();
                bool ok = roles_resolution_allows(res, PERM_NONE, NULL);
                double t3 = bench_now();
                roles_resolution_free(res);
                vu[i] = t1 - t0;
                vr[i] = t2 - t1;
                va[i] = t3 - t2;
                if (ok)
                        wrong("warm allows %s", PERM_NONE);
        }
        st = bench_summarize(vu, opt.warm);
        add_row("  of which roles_user_by_name", &st, true, 0);
        st = bench_summarize(vr, opt.warm);
        add_row("  of which roles_resolve", &st, true, 0);
        st = bench_summarize(va, opt.warm);
        add_row("  of which resolution_allows (full scan)", &st, true, 0);
        free(vr);
        free(va);
        free(vu);
        test_close(s);

        /* Cold: a fresh store each time, as a new PAM process pays (the file stays in the page cache). */
        double *vo = bench_samples(opt.cold), *vk = bench_samples(opt.cold), *vc = bench_samples(opt.cold);
        for (int i = 0; i < opt.cold; i++) {
                double t[4];
                int r = cold_once(now, t);
                double t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3];
                v[i] = t3 - t0;
                vo[i] = t1 - t0;
                vk[i] = t2 - t1;
                vc[i] = t3 - t2;
                if (r != 1) {
                        wrong("cold check %s %s = %d", BENCH_USER, PERM_DEEP, r);
                        break;
                }
        }
        st = bench_summarize(v, opt.cold);
        add_row("check, cold (open + roles_check + close)", &st, true, 50e-6);
        st = bench_summarize(vo, opt.cold);
        add_row("  of which roles_store_open", &st, true, 0);
        st = bench_summarize(vk, opt.cold);
        add_row("  of which first roles_check", &st, true, 0);
        st = bench_summarize(vc, opt.cold);
        add_row("  of which roles_store_close", &st, true, 0);
        free(vo);
        free(vk);
        free(vc);
        free(v);
}

/* ---- 2. one admin change ------------------------------------------------------------------ */

static int64_t snapshot_serial(void) {
        struct roles_snapshot *s = open_snapshot();
        int64_t serial = 0;
        CHECK(s, roles_snapshot_serial(s, &serial));
        test_close(s);
        return serial;
}

static void bench_change(void) {
        double *v = bench_samples(opt.runs), *vo = bench_samples(opt.runs), *vc = bench_samples(opt.runs);
        int64_t serial0 = snapshot_serial();
        struct bench_stats st;
        char name[ROLES_NAME_MAX + 1];

        for (int kind = 0; kind < 2; kind++) {
                for (int i = 0; i < opt.runs; i++) {
                        double t0 = bench_now();
                        struct roles_writer *s = open_writer(0);
                        CHECK(s, roles_writer_set_actor(s, "bench"));
                        double t1 = bench_now();
                        if (kind == 0) {
                                struct roles_group g = { .gid = ROLES_ID_INVALID };
                                snprintf(g.name, sizeof(g.name), "chg%" PRId64 "_%d", serial0, i);
                                CHECK(s, roles_group_add(s, &g));
                        } else {
                                struct roles_role role;
                                CHECK(s, roles_role_by_name(roles_writer_snapshot(s), "r00001", &role));
                                char perm[64];
                                snprintf(perm, sizeof(perm), "chg.s%" PRId64 ".p%d", serial0, i);
                                CHECK(s, roles_role_grant(s, &role, perm));
                        }
                        double t2 = bench_now();
                        commit_store(s);
                        double t3 = bench_now();
                        v[i] = t3 - t0;
                        vo[i] = t1 - t0;
                        vc[i] = t3 - t2;
                }
                st = bench_summarize(v, opt.runs);
                add_row(kind == 0 ? "admin change: group add (open+add+commit)" : "admin change: role grant",
                        &st, true, 300e-3);
                if (kind == 1) {
                        st = bench_summarize(vo, opt.runs);
                        add_row("  of which open WRITE (lock + copy)", &st, true, 0);
                        st = bench_summarize(vc, opt.runs);
                        add_row("  of which commit (fsync + rename)", &st, true, 0);
                }
        }

        /* Every change must have been published, each exactly once. */
        int64_t serial1 = snapshot_serial();
        if (serial1 != serial0 + 2 * opt.runs)
                wrong("snapshot serial went from %" PRId64 " to %" PRId64 " over %d changes", serial0, serial1,
                      2 * opt.runs);
        struct roles_snapshot *s = open_snapshot();
        struct roles_group g;
        snprintf(name, sizeof(name), "chg%" PRId64 "_%d", serial0, opt.runs - 1);
        if (roles_group_by_name(s, name, &g) < 0)
                wrong("group %s missing after its change was committed", name);
        char perm[64];
        snprintf(perm, sizeof(perm), "chg.s%" PRId64 ".p%d", serial0, opt.runs - 1);
        char user[ROLES_NAME_MAX + 1];
        /* u000000 holds r00000 only; find a user of r00001: i*7 % roles == 1 */
        long holder = -1;
        for (long i = 0; i < opt.users && holder < 0; i++)
                if ((i * 7) % opt.roles == 1)
                        holder = i;
        if (holder >= 0) {
                user_name(holder, user, sizeof(user));
                if (roles_check(s, user, perm, time(NULL)) != 1)
                        wrong("%s should hold %s after the role grant", user, perm);
        }
        test_close(s);
        free(v);
        free(vo);
        free(vc);
}

/* ---- 3. rolesctl batch -------------------------------------------------------------------- */

/* rolesctl with stdin and stdout on /dev/null, stderr into err_path: its exit status. */
static int run_rolesctl(char *const argv[], const char *err_path) {
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (err < 0)
                die("%s: %s", err_path, strerror(errno));
        int rc = bench_run(argv, -1, -1, err, NULL);
        close(err);
        return rc;
}

/* 1,000 commands in blocks of ten: a group, three members, a role, two grants, two
 * assignments (one time-boxed), a user. */
static void write_batch(const char *path, const char *tag, int n_cmds, long *ret_assignee) {
        FILE *f = fopen(path, "we");
        if (!f)
                die("%s: %s", path, strerror(errno));
        char u1[24], u2[24], u3[24], u4[24], u5[24];
        int n = 0;
        for (int b = 0; n < n_cmds; b++) {
                long base = ((long) b * 997 + 13) % opt.users;
                user_name(base, u1, sizeof(u1));
                user_name((base + 1) % opt.users, u2, sizeof(u2));
                user_name((base + 2) % opt.users, u3, sizeof(u3));
                user_name((base + 3) % opt.users, u4, sizeof(u4));
                user_name((base + 4) % opt.users, u5, sizeof(u5));
                if (b == 0)
                        *ret_assignee = (base + 3) % opt.users;
                char l[10][160];
                snprintf(l[0], sizeof(l[0]), "group add bg%s_%d --description 'batch group %d'", tag, b, b);
                snprintf(l[1], sizeof(l[1]), "group adduser bg%s_%d %s", tag, b, u1);
                snprintf(l[2], sizeof(l[2]), "group adduser bg%s_%d %s", tag, b, u2);
                snprintf(l[3], sizeof(l[3]), "group adduser bg%s_%d %s", tag, b, u3);
                snprintf(l[4], sizeof(l[4]), "role add br%s_%d --metarole m%d_%d", tag, b, b % LEVELS, b % WIDTH);
                snprintf(l[5], sizeof(l[5]), "role grant br%s_%d batch.t%s.b%d.read", tag, b, tag, b);
                snprintf(l[6], sizeof(l[6]), "role grant br%s_%d batch.t%s.b%d.admin.*", tag, b, tag, b);
                snprintf(l[7], sizeof(l[7]), "role assign br%s_%d %s", tag, b, u4);
                snprintf(l[8], sizeof(l[8]), "role assign br%s_%d %s --until +1d", tag, b, u5);
                snprintf(l[9], sizeof(l[9]), "user add bu%s_%d --full-name 'Batch user %d'", tag, b, b);
                for (int k = 0; k < 10 && n < n_cmds; k++, n++)
                        fprintf(f, "%s\n", l[k]);
        }
        if (fclose(f) != 0)
                die("%s: %s", path, strerror(errno));
}

static void bench_batch(void) {
        char batch_path[PATH_MAX], err_path[PATH_MAX];
        double *v = bench_samples(opt.batch_runs);
        struct bench_stats st;

        if (access(opt.rolesctl, X_OK) < 0)
                die("%s: %s (give --rolesctl PATH)", opt.rolesctl, strerror(errno));
        bench_path(batch_path, sizeof(batch_path), "batch.txt");
        bench_path(err_path, sizeof(err_path), "rolesctl.err");

        for (int i = 0; i < opt.batch_runs; i++) {
                char tag[24];
                long assignee = 0;
                snprintf(tag, sizeof(tag), "%" PRId64, snapshot_serial());
                write_batch(batch_path, tag, opt.batch_cmds, &assignee);
                char *argv[] = { (char *) opt.rolesctl, "--conf", conf_path, "batch", batch_path, NULL };
                double t0 = bench_now();
                int rc = run_rolesctl(argv, err_path);
                v[i] = bench_now() - t0;
                if (rc != 0) {
                        wrong("rolesctl batch exited %d:", rc);
                        bench_show_file(err_path);
                        free(v);
                        return;
                }
                /* The batch must be published: its first assignee holds the first role's grants. */
                struct roles_snapshot *s = open_snapshot();
                char user[24], perm[96];
                user_name(assignee, user, sizeof(user));
                snprintf(perm, sizeof(perm), "batch.t%s.b0.admin.users.add", tag);
                if (roles_check(s, user, perm, time(NULL)) != 1)
                        wrong("after the batch, %s should hold %s", user, perm);
                struct roles_user bu;
                char bu_name[64];
                snprintf(bu_name, sizeof(bu_name), "bu%s_%d", tag, opt.batch_cmds / 10 - 1);
                if (roles_user_by_name(s, bu_name, &bu) < 0)
                        wrong("after the batch, user %s should exist", bu_name);
                test_close(s);
        }
        st = bench_summarize(v, opt.batch_runs);
        char metric[64];
        snprintf(metric, sizeof(metric), "rolesctl batch, %d commands (process)", opt.batch_cmds);
        add_row(metric, &st, opt.batch_runs >= 5, 2.0);

        /* For scale: one rolesctl check, a whole process (exec, config, open, check). */
        int n = 21;
        double *vp = bench_samples(n);
        for (int i = 0; i < n; i++) {
                char *argv[] = { (char *) opt.rolesctl, "--conf", conf_path, "check", BENCH_USER, PERM_DEEP, NULL };
                double t0 = bench_now();
                int rc = run_rolesctl(argv, err_path);
                vp[i] = bench_now() - t0;
                if (rc != 0) {
                        wrong("rolesctl check %s %s exited %d", BENCH_USER, PERM_DEEP, rc);
                        bench_show_file(err_path);
                        break;
                }
        }
        st = bench_summarize(vp, n);
        add_row("rolesctl check (whole process)", &st, true, 0);
        free(vp);
        free(v);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f) {
        fputs("usage: bench_roles [--dir DIR] [--keep] [--users N] [--roles N] [--warm N] [--cold N]\n"
              "                   [--runs N] [--batch-runs N] [--rolesctl PATH] [--only-check] [--quick]\n"
              "  --quick       10k users, fewer iterations (for profiling under valgrind)\n"
              "  --only-check  measure the permission check only (no admin change, no batch)\n",
              f);
}

/* The options of this program (--dir, --keep and --help are benchlib's). */
static bool option(int c) {
        switch (c) {
        case 'u': opt.users = bench_parse_num(optarg, 1000, 1000000); break;
        case 'r': opt.roles = bench_parse_num(optarg, (long) N_METAROLES * (USER_ROLES + 1), 1000000); break;
        case 'w': opt.warm = (int) bench_parse_num(optarg, 1, 10000000); break;
        case 'c': opt.cold = (int) bench_parse_num(optarg, 1, 1000000); break;
        case 'n': opt.runs = (int) bench_parse_num(optarg, 1, 1000); break;
        case 'b': opt.batch_runs = (int) bench_parse_num(optarg, 1, 1000); break;
        case 'x': opt.rolesctl = optarg; break;
        case 'o': opt.only_check = true; break;
        case 'q':
                opt.users = 10000;
                opt.warm = 200;
                opt.cold = 50;
                opt.runs = 3;
                opt.batch_runs = 1;
                break;
        default: return false;
        }
        return true;
}

int main(int argc, char **argv) {
        bench_init("bench_roles", "setup failed: ", cleanup);
        bench_options(argc, argv, longopts, usage, option);
        setvbuf(stdout, NULL, _IOLBF, 0);
        umask(0022);
        make_workdir();

        printf("roles benchmark in %s (%s)\n", bench_workdir, bench_fs_name(bench_workdir));
        printf("generating: %ld users, %ld roles, %d metaroles in %d levels, %d groups\n", opt.users, opt.roles,
               N_METAROLES, LEVELS, N_GROUPS);
        double t0 = bench_now();
        populate();
        double gen = bench_now() - t0;
        struct stat sb;
        if (stat(cfg.public_db, &sb) < 0)
                die("%s: %s", cfg.public_db, strerror(errno));
        printf("generated in %.1f s; roles.db is %.1f MiB\n", gen, (double) sb.st_size / (1024.0 * 1024.0));

        printf("1. permission check\n");
        bench_check();
        if (!opt.only_check) {
                printf("2. admin change (%d runs each)\n", opt.runs);
                bench_change();
                printf("3. rolesctl batch (%d runs)\n", opt.batch_runs);
                bench_batch();
        }
        bench_print_table(&table);
        cleanup();
        return bench_exit_status();
}
