/* SPDX-License-Identifier: MIT */
/*
 * bench_pam: what pam_roles.so costs a login, through the real libpam.
 *
 * Each measured call is a whole PAM transaction as a program makes it: pam_start_confdir with a
 * service file this program writes into a temporary directory (naming pam_roles.so by absolute
 * path, conf= a roles.conf there whose databases rolesctl builds), pam_authenticate, then
 * pam_acct_mgmt when that succeeded (as login, su and sshd do), pam_end. The time of
 * pam_authenticate + pam_acct_mgmt is what the tables show; pam_start..pam_end is shown beside
 * it (libpam loads the stack's modules in pam_start and unloads them in pam_end).
 *
 *   (a) pam_roles at the cheapest argon2id (t=1, m=8 KiB, p=1) against a stack of pam_permit.so:
 *       the module's own overhead. Target: <= 1 ms.
 *   (b) the same at the default parameters (t=3, 64 MiB, p=4): what a login really pays.
 *   (c) at the default parameters: an unknown user, a wrong password, a locked account (locked by
 *       one failure under deny=1), a disabled account, an account whose hash was made before
 *       the cost was raised (m=1 MiB) and an account imported from shadow whose sha512crypt hash
 *       has not been upgraded yet, all with a wrong password. Their medians should stay within
 *       5 % of the wrong-password one, so that the time of a refusal tells nothing. The same
 *       cases at minimal argon2 (but the old hash: nothing is cheaper) show, in absolute terms,
 *       what is not argon2.
 *
 * Cases are interleaved round by round so that drift in the machine's speed hits them alike.
 * Answers are checked (a right password accepted, a wrong one refused, ...): a wrong answer
 * exits 1. A missed target is only reported (MISS), the exit status stays 0. Needs root
 * (state.db and secrets.db are root's); exits 77 (skipped) otherwise.
 *
 *   bench_pam [--dir DIR] [--keep] [--runs N] [--default-runs N] [--timing-runs N]
 *             [--module PATH] [--rolesctl PATH] [--quick]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <security/pam_appl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchlib.h"
#include "pam_harness.h"

#ifndef PAM_ROLES_PATH
#define PAM_ROLES_PATH "/work/main/build/pam_roles/pam_roles.so"
#endif
#ifndef ROLESCTL_PATH
#define ROLESCTL_PATH "/work/main/build/rolesctl/rolesctl"
#endif

#define PASSWORD       "bench password 1"
#define WRONG_PASSWORD "bench password 2"

#define USER_OK       "benchalice"      /* enabled, activated, holds login.<service> */
#define USER_LOCKED   "benchlocked"     /* the same, locked by one failure under deny=1 */
#define USER_DISABLED "benchdisabled"   /* the same, disabled */
#define USER_UNKNOWN  "benchghost"      /* a valid name roles does not know */
#define USER_LEGACY   "benchlegacy"     /* imported from shadow with a sha512crypt hash, never logged in */
#define USER_OLD      "benchold"        /* its hash made at m=1 MiB, before the cost was raised; never logged in */

/* sha512crypt of PASSWORD (crypt(3) with "$6$benchsalt$"), as an imported shadow line has it. */
#define LEGACY_HASH \
        "$6$benchsalt$2lIQ3zbU0up/XSYJUEj8UoAVDtC83lWjz1Wr50hooCDXwHgGJdUShqht7eHesBTAv/r71RS3uvqQa73CPqASb/"

/* Services (file names in the temporary pam.d). */
#define SVC_MIN     "roles-bench-min"   /* pam_roles, minimal argon2 */
#define SVC_DEFAULT "roles-bench"       /* pam_roles, default argon2 */
#define SVC_LOCK    "roles-bench-lock"  /* pam_roles, default argon2, deny=1: to lock USER_LOCKED */
#define SVC_LOCK_MIN "roles-bench-min-lock" /* the same on the minimal-argon2 databases */
#define SVC_PERMIT  "permit-bench"      /* pam_permit.so for both phases */

static struct {
        int runs, default_runs, timing_runs, warmup;
        const char *module, *rolesctl;
} opt = {
        .runs = 400, .default_runs = 25, .timing_runs = 40, .warmup = 3, .module = PAM_ROLES_PATH,
        .rolesctl = ROLESCTL_PATH,
};

static const struct option longopts[] = {
        BENCH_COMMON_OPTIONS,
        { "runs", required_argument, NULL, 'n' },       { "default-runs", required_argument, NULL, 'b' },
        { "timing-runs", required_argument, NULL, 't' }, { "module", required_argument, NULL, 'm' },
        { "rolesctl", required_argument, NULL, 'x' },   { "quick", no_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 },
};

static char pamd[PATH_MAX];

/* The result table: p10 / median / p90 of each case, and its difference to a reference. */
static struct bench_table table = { .columns = BENCH_COL_P10 | BENCH_COL_VS };

/* ---- the work directory: configurations, databases, service files -------------------------- */

static void cleanup(void) {
        bench_remove_workdir(NULL);
}

static void make_dir(const char *path) {
        if (mkdir(path, 0755) < 0 || chmod(path, 0755) < 0)
                die("mkdir %s: %s", path, strerror(errno));
}

/* A roles.conf for the databases in DIR/NAME/. */
static void write_conf(const char *path, const char *dbdir, unsigned t, unsigned m, unsigned p, unsigned deny,
                       unsigned unlock_time) {
        bench_write_file(path,
                         "# bench_pam\n"
                         "public_db  = %s/roles.db\n"
                         "secrets_db = %s/secrets.db\n"
                         "state_db   = %s/state.db\n"
                         "argon2_t_cost = %u\nargon2_m_cost_kib = %u\nargon2_parallelism = %u\n"
                         "deny = %u\nfail_interval = 900\nunlock_time = %u\n"
                         /* The bench's ids (10900, and rolesctl's allocations after it). */
                         "uid_min = 10000\nuid_max = 59999\ngid_min = 10000\ngid_max = 59999\n",
                         dbdir, dbdir, dbdir, t, m, p, deny, unlock_time);
}

/* Runs rolesctl --conf CONF ARGS..., with input on stdin when given; dies unless it exits 0. */
static void rolesctl(const char *conf, const char *input, ...) {
        const char *argv[16] = { opt.rolesctl, "--conf", conf };
        size_t n = 3;
        va_list ap;
        va_start(ap, input);
        for (const char *a; (a = va_arg(ap, const char *));) {
                if (n + 1 >= sizeof(argv) / sizeof(argv[0]))
                        die("too many rolesctl arguments");
                argv[n++] = a;
        }
        va_end(ap);
        argv[n] = NULL;

        char err_path[PATH_MAX];
        bench_path(err_path, sizeof(err_path), "rolesctl.err");
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (err < 0)
                die("%s: %s", err_path, strerror(errno));
        /* The input goes into the pipe before rolesctl starts: a password line, far below the
         * pipe's capacity, so the write does not wait for a reader. */
        int in[2];
        if (pipe2(in, O_CLOEXEC) < 0)
                die("pipe: %s", strerror(errno));
        if (input) {
                size_t len = strlen(input);
                if (write(in[1], input, len) != (ssize_t) len)
                        die("writing to rolesctl: %s", strerror(errno));
        }
        close(in[1]);
        int rc = bench_run((char *const *) argv, in[0], -1, err, NULL);
        close(in[0]);
        close(err);
        if (rc != 0) {
                fprintf(stderr, "bench_pam: rolesctl");
                for (size_t i = 3; i < n; i++)
                        fprintf(stderr, " %s", argv[i]);
                fprintf(stderr, " exited %d:\n", rc);
                bench_show_file(err_path);
                die("rolesctl failed");
        }
}

/* The three accounts, a role that grants login.SERVICE, every one of them assigned it; and, when
 * old_conf is given (the same databases at a lower cost), USER_OLD with a hash made by it. */
static void populate(const char *conf, const char *old_conf, const char *service) {
        char perm[128];
        snprintf(perm, sizeof(perm), "login.%s", service);
        rolesctl(conf, NULL, "init", NULL);
        rolesctl(conf, NULL, "role", "add", "benchlogin", "--metarole", "user", NULL);
        rolesctl(conf, NULL, "role", "grant", "benchlogin", perm, NULL);
        static const char *const users[] = { USER_OK, USER_LOCKED, USER_DISABLED };
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
                rolesctl(conf, PASSWORD "\n", "user", "add", users[i], "--password-stdin", NULL);
                rolesctl(conf, NULL, "role", "assign", "benchlogin", users[i], NULL);
        }
        rolesctl(conf, NULL, "user", "disable", USER_DISABLED, NULL);
        if (old_conf) {
                rolesctl(old_conf, PASSWORD "\n", "user", "add", USER_OLD, "--password-stdin", NULL);
                rolesctl(conf, NULL, "role", "assign", "benchlogin", USER_OLD, NULL);
        }

        /* An account brought in by import, its crypt(3) hash kept until its first login. */
        char dir[PATH_MAX], passwd[PATH_MAX + 16], group[PATH_MAX + 16], shadow[PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s", conf);
        char *dot = strrchr(dir, '.');
        if (dot)
                *dot = '\0';
        snprintf(passwd, sizeof(passwd), "%s.passwd", dir);
        snprintf(group, sizeof(group), "%s.group", dir);
        snprintf(shadow, sizeof(shadow), "%s.shadow", dir);
        bench_write_file(passwd, "%s:x:10900:10900::/home/%s:/bin/sh\n", USER_LEGACY, USER_LEGACY);
        bench_write_file(group, "%s:x:10900:\n", USER_LEGACY);
        bench_write_file(shadow, "%s:%s:19000:0:99999:7:::\n", USER_LEGACY, LEGACY_HASH);
        rolesctl(conf, NULL, "import", "--passwd", passwd, "--group", group, "--shadow", shadow, NULL);
        rolesctl(conf, NULL, "role", "assign", "benchlogin", USER_LEGACY, NULL);
}

static char conf_min[PATH_MAX], conf_default[PATH_MAX], conf_lock[PATH_MAX], conf_lock_min[PATH_MAX],
        conf_old[PATH_MAX];

static void setup(void) {
        bench_make_workdir("roles-bench-pam");

        char db_min[PATH_MAX], db_default[PATH_MAX];
        bench_path(db_min, sizeof(db_min), "min");
        bench_path(db_default, sizeof(db_default), "default");
        bench_path(pamd, sizeof(pamd), "pam.d");
        make_dir(db_min);
        make_dir(db_default);
        make_dir(pamd);

        /* Minimal argon2 (the configuration's floor); the defaults; the defaults with deny=1 and a
         * lock that lasts until unlocked, on the same databases, to lock USER_LOCKED once; the
         * defaults but m=1 MiB, what USER_OLD's hash was made with. deny is otherwise set so
         * high that the wrong-password runs never lock, with the same statements as any deny > 0. */
        bench_path(conf_min, sizeof(conf_min), "min.conf");
        bench_path(conf_default, sizeof(conf_default), "default.conf");
        bench_path(conf_lock, sizeof(conf_lock), "lock.conf");
        bench_path(conf_lock_min, sizeof(conf_lock_min), "min-lock.conf");
        bench_path(conf_old, sizeof(conf_old), "old.conf");
        write_conf(conf_min, db_min, 1, 8, 1, 1000000, 600);
        write_conf(conf_default, db_default, 3, 65536, 4, 1000000, 600);
        write_conf(conf_lock, db_default, 3, 65536, 4, 1, 0);
        write_conf(conf_lock_min, db_min, 1, 8, 1, 1, 0);
        write_conf(conf_old, db_default, 3, 1024, 4, 1000000, 600);

        populate(conf_min, NULL, SVC_MIN);
        populate(conf_default, conf_old, SVC_DEFAULT);

        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_MIN);
        bench_write_file(path,
                         "auth    required %s conf=%s\n"
                         "account required %s conf=%s permission=@service\n",
                         opt.module, conf_min, opt.module, conf_min);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_DEFAULT);
        bench_write_file(path,
                         "auth    required %s conf=%s\n"
                         "account required %s conf=%s permission=@service\n",
                         opt.module, conf_default, opt.module, conf_default);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_LOCK);
        bench_write_file(path, "auth    required %s conf=%s\n", opt.module, conf_lock);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_LOCK_MIN);
        bench_write_file(path, "auth    required %s conf=%s\n", opt.module, conf_lock_min);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_PERMIT);
        bench_write_file(path, "auth    required pam_permit.so\naccount required pam_permit.so\n");
        /* What libpam falls back to for a service it does not find: refuse. */
        snprintf(path, sizeof(path), "%s/other", pamd);
        bench_write_file(path, "auth    required pam_deny.so\naccount required pam_deny.so\n");
}

/* ---- one PAM transaction ---------------------------------------------------------------------- */

static int fail_delay_calls;

static void no_fail_delay(int retval, unsigned usec_delay, void *appdata) {
        /* libpam calls this after every pam_authenticate: measure the modules, not a delay one of
         * them asked for (pam_fail_delay), and count that one did. */
        (void) retval;
        (void) appdata;
        if (usec_delay > 0)
                fail_delay_calls++;
}

struct outcome {
        int auth, acct;         /* acct = -1 when not called (auth failed) */
        char transcript[512];   /* the conversation's messages */
        double calls;           /* pam_authenticate + pam_acct_mgmt, seconds */
        double whole;           /* pam_start .. pam_end */
};

static struct outcome transaction(const char *service, const char *user, const char *password) {
        struct pam_harness h = { .replies = { password } };
        struct outcome o = { .acct = -1 };

        double t0 = bench_now();
        int r = pam_harness_start(&h, service, user, pamd);
        if (r != PAM_SUCCESS)
                die("pam_start_confdir(%s): %s", service, pam_strerror(NULL, r));
        if ((r = pam_set_item(h.pamh, PAM_FAIL_DELAY, (const void *) no_fail_delay)) != PAM_SUCCESS)
                die("pam_set_item(PAM_FAIL_DELAY): %s", pam_strerror(h.pamh, r));
        double t1 = bench_now();
        o.auth = pam_authenticate(h.pamh, 0);
        if (o.auth == PAM_SUCCESS)
                o.acct = pam_acct_mgmt(h.pamh, 0);
        double t2 = bench_now();
        pam_harness_end(&h, o.acct >= 0 ? o.acct : o.auth);
        double t3 = bench_now();
        o.calls = t2 - t1;
        o.whole = t3 - t0;
        snprintf(o.transcript, sizeof(o.transcript), "%s", h.transcript);
        return o;
}

static const char *pam_code(int r) {
        switch (r) {
        case -1: return "(not called)";
        case PAM_SUCCESS: return "PAM_SUCCESS";
        case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
        case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
        case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
        case PAM_ACCT_EXPIRED: return "PAM_ACCT_EXPIRED";
        case PAM_NEW_AUTHTOK_REQD: return "PAM_NEW_AUTHTOK_REQD";
        case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
        case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
        case PAM_MAXTRIES: return "PAM_MAXTRIES";
        default: return "(other)";
        }
}

/* A case: who logs in where with what, and the answer that must come back. */
struct scenario {
        const char *label;
        const char *service, *user, *password;
        int want_auth, want_acct;
        double *calls, *whole;  /* samples */
        int n;
        char transcript[512];   /* the first run's messages: every run must say the same */
        bool said;
};

#define SCENARIO(label_, service_, user_, password_, auth_, acct_) \
        { .label = (label_), .service = (service_), .user = (user_), .password = (password_), \
          .want_auth = (auth_), .want_acct = (acct_) }

static void run_once(struct scenario *sc, bool record) {
        struct outcome o = transaction(sc->service, sc->user, sc->password);
        if (o.auth != sc->want_auth || o.acct != sc->want_acct) {
                wrong("%s: %s/%s for %s on %s, expected %s/%s", sc->label, pam_code(o.auth), pam_code(o.acct),
                      sc->user, sc->service, pam_code(sc->want_auth), pam_code(sc->want_acct));
        }
        if (!sc->said) {
                snprintf(sc->transcript, sizeof(sc->transcript), "%s", o.transcript);
                sc->said = true;
        } else if (strcmp(sc->transcript, o.transcript) != 0)
                wrong("%s: the conversation changed between runs", sc->label);
        if (record) {
                sc->calls[sc->n] = o.calls;
                sc->whole[sc->n] = o.whole;
                sc->n++;
        }
}

static void scenario_init(struct scenario *sc, int runs) {
        sc->calls = bench_samples(runs);
        sc->whole = bench_samples(runs);
        sc->n = 0;
}

static void scenario_free(struct scenario *sc) {
        free(sc->calls);
        free(sc->whole);
}

/* Warm up, then runs rounds in which each scenario runs once, in turn. */
static void run_interleaved(struct scenario *sc, size_t n, int runs, const char *what) {
        for (size_t i = 0; i < n; i++)
                scenario_init(&sc[i], runs);
        for (int w = 0; w < opt.warmup; w++)
                for (size_t i = 0; i < n; i++)
                        run_once(&sc[i], false);
        double t0 = bench_now(), last = t0;
        for (int k = 0; k < runs; k++) {
                for (size_t i = 0; i < n; i++)
                        run_once(&sc[i], true);
                double t = bench_now();
                if (t - last > 10) {
                        printf("   %s: %d/%d rounds (%.0f s)\n", what, k + 1, runs, t - t0);
                        last = t;
                }
        }
}

static double median_of(struct scenario *sc, bool whole, struct bench_stats *ret) {
        *ret = bench_summarize(whole ? sc->whole : sc->calls, sc->n);
        return ret->median;
}

/* ---- (a) and (b): overhead over pam_permit -------------------------------------------------- */

static void bench_overhead(const char *service, const char *params, int runs, bool with_target) {
        struct scenario sc[] = {
                SCENARIO("permit", SVC_PERMIT, USER_OK, PASSWORD, PAM_SUCCESS, PAM_SUCCESS),
                SCENARIO("roles", service, USER_OK, PASSWORD, PAM_SUCCESS, PAM_SUCCESS),
        };
        run_interleaved(sc, 2, runs, params);

        char title[64];
        struct bench_stats permit, roles, permit_whole, roles_whole;
        median_of(&sc[0], false, &permit);
        median_of(&sc[1], false, &roles);
        median_of(&sc[0], true, &permit_whole);
        median_of(&sc[1], true, &roles_whole);

        snprintf(title, sizeof(title), "(%s) argon2id %s, %d runs", with_target ? "a" : "b", params, runs);
        bench_add_section(&table, title);
        bench_add_row(&table, "  pam_permit: auth + acct", &permit);
        struct bench_row *r = bench_add_row(&table, "  pam_roles, right password: auth + acct", &roles);
        bench_vs_time(r, roles.median - permit.median);
        if (with_target)
                bench_target(r, roles.median - permit.median, 1e-3);
        bench_add_row(&table, "  pam_permit: pam_start .. pam_end", &permit_whole);
        r = bench_add_row(&table, "  pam_roles: pam_start .. pam_end", &roles_whole);
        bench_vs_time(r, roles_whole.median - permit_whole.median);
        scenario_free(&sc[0]);
        scenario_free(&sc[1]);
}

/* ---- (c): what a refusal's time tells ---------------------------------------------------------- */

static void lock_account(const char *lock_service, const char *service) {
        /* One wrong password under deny=1 (unlock_time 0): locked until an administrator unlocks. */
        struct scenario lock = SCENARIO("lock", lock_service, USER_LOCKED, WRONG_PASSWORD, PAM_AUTH_ERR, -1);
        run_once(&lock, false);
        /* From now on even the right password is refused, through the ordinary service. */
        struct scenario check = SCENARIO("locked, right password", service, USER_LOCKED, PASSWORD, PAM_AUTH_ERR, -1);
        run_once(&check, false);
}

/* With target: the relative differences of the medians against a wrong password (<= 5 %);
 * without: the absolute ones (at minimal argon2, what is not argon2, where no hash is older and
 * cheaper: OLD, the last case, is left out). */
static void bench_refusals(const char *service, const char *lock_service, const char *title, int runs,
                           bool with_target) {
        enum { WRONG, UNKNOWN, LOCKED, DISABLED, LEGACY, LOCKED_RIGHT, DISABLED_RIGHT, OLD, N_ALL };
        const int N = with_target ? N_ALL : OLD;
        /* Every one a refusal by pam_authenticate, with the same answer and the same messages. */
        struct scenario sc[N_ALL] = {
                [WRONG] = SCENARIO("wrong password", service, USER_OK, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [UNKNOWN] = SCENARIO("unknown user", service, USER_UNKNOWN, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [LOCKED] = SCENARIO("locked account", service, USER_LOCKED, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [DISABLED] = SCENARIO("disabled account", service, USER_DISABLED, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [LEGACY] = SCENARIO("imported {crypt} account", service, USER_LEGACY, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [LOCKED_RIGHT] = SCENARIO("locked, right password", service, USER_LOCKED, PASSWORD, PAM_AUTH_ERR, -1),
                [DISABLED_RIGHT] = SCENARIO("disabled, right password", service, USER_DISABLED, PASSWORD, PAM_AUTH_ERR, -1),
                [OLD] = SCENARIO("old hash (m=1 MiB, cost raised)", service, USER_OLD, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
        };
        lock_account(lock_service, service);
        run_interleaved(sc, (size_t) N, runs, "refusals");
        for (int i = 0; i < N; i++)
                if (strcmp(sc[i].transcript, sc[WRONG].transcript) != 0)
                        wrong("%s: the conversation differs from a wrong password's", sc[i].label);

        bench_add_section(&table, title);
        struct bench_stats base;
        median_of(&sc[WRONG], false, &base);
        for (int i = 0; i < N; i++) {
                struct bench_stats st;
                char label[64];
                median_of(&sc[i], false, &st);
                snprintf(label, sizeof(label), "  %s", sc[i].label);
                struct bench_row *r = bench_add_row(&table, label, &st);
                if (i == WRONG) {
                        snprintf(r->vs, sizeof(r->vs), "(reference)");
                        continue;
                }
                double rel = base.median > 0 ? (st.median - base.median) / base.median : 0;
                if (!with_target) {
                        bench_vs_time(r, st.median - base.median);
                        continue;
                }
                snprintf(r->vs, sizeof(r->vs), "%+.1f %%", rel * 100);
                bench_verdict(r, "within 5 %", rel <= 0.05 && rel >= -0.05);
        }
        for (int i = 0; i < N; i++)
                scenario_free(&sc[i]);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f) {
        fputs("usage: bench_pam [--dir DIR] [--keep] [--runs N] [--default-runs N] [--timing-runs N]\n"
              "                 [--module PATH] [--rolesctl PATH] [--quick]\n"
              "  --runs N          (a) rounds at minimal argon2 (default 400)\n"
              "  --default-runs N  (b) rounds at the default argon2 (default 25)\n"
              "  --timing-runs N   (c) rounds of the refusal cases (default 40)\n"
              "  --quick           50 / 5 / 8 rounds (an answer check, for CI)\n",
              f);
}

/* The options of this program (--dir, --keep and --help are benchlib's). */
static bool option(int c) {
        switch (c) {
        case 'n': opt.runs = (int) bench_parse_num(optarg, 1, 1000000); break;
        case 'b': opt.default_runs = (int) bench_parse_num(optarg, 1, 100000); break;
        case 't': opt.timing_runs = (int) bench_parse_num(optarg, 1, 100000); break;
        case 'm': opt.module = optarg; break;
        case 'x': opt.rolesctl = optarg; break;
        case 'q':
                opt.runs = 50;
                opt.default_runs = 5;
                opt.timing_runs = 8;
                opt.warmup = 1;
                break;
        default: return false;
        }
        return true;
}

int main(int argc, char **argv) {
        bench_init("bench_pam", "setup failed: ", cleanup);
        bench_options(argc, argv, longopts, usage, option);
        if (geteuid() != 0) {
                fprintf(stderr, "bench_pam: needs root (pam_roles writes state.db, which is root's); skipped\n");
                return 77;
        }
        if (opt.module[0] != '/' || access(opt.module, R_OK) < 0) {
                fprintf(stderr, "bench_pam: %s: not an absolute path to a readable module\n", opt.module);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        umask(0022);
        setup();

        printf("pam_roles benchmark: %s\nin %s (%s), %ld CPUs\n", opt.module, bench_workdir, bench_fs_name(bench_workdir),
               sysconf(_SC_NPROCESSORS_ONLN));

        printf("(a) minimal argon2id, %d rounds\n", opt.runs);
        bench_overhead(SVC_MIN, "t=1 m=8KiB p=1", opt.runs, true);
        char title[64];
        snprintf(title, sizeof(title), "(a) refusals at t=1 m=8KiB p=1, %d runs", opt.runs);
        bench_refusals(SVC_MIN, SVC_LOCK_MIN, title, opt.runs, false);
        printf("(b) default argon2id, %d rounds\n", opt.default_runs);
        bench_overhead(SVC_DEFAULT, "t=3 m=64MiB p=4", opt.default_runs, false);
        printf("(c) refusals at the default argon2id, %d rounds\n", opt.timing_runs);
        snprintf(title, sizeof(title), "(c) refusals at t=3 m=64MiB p=4, %d runs", opt.timing_runs);
        bench_refusals(SVC_DEFAULT, SVC_LOCK, title, opt.timing_runs, true);

        bench_print_table(&table);
        if (fail_delay_calls)
                printf("(a module asked libpam for a failure delay %d times: replaced by a no-op while measuring)\n",
                       fail_delay_calls);
        cleanup();
        return bench_exit_status();
}
