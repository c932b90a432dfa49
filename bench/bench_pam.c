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
 *       one failure under deny=1), a disabled account and an account imported from shadow whose
 *       sha512crypt hash has not been upgraded yet, all with a wrong password. Their medians
 *       should stay within 5 % of the wrong-password one, so that the time of a refusal tells
 *       nothing. The same cases at minimal argon2 show, in absolute terms, what is not argon2.
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
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <security/pam_appl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
        const char *dir;
        bool keep;
        int runs, default_runs, timing_runs, warmup;
        const char *module, *rolesctl;
} opt = {
        .runs = 400, .default_runs = 25, .timing_runs = 40, .warmup = 3, .module = PAM_ROLES_PATH,
        .rolesctl = ROLESCTL_PATH,
};

static char workdir[PATH_MAX - 128];
static char pamd[PATH_MAX];

/* ---- failures ------------------------------------------------------------------------------ */

static void cleanup(void);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
        va_list ap;
        fputs("bench_pam: setup failed: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        cleanup();
        exit(2);
}

static int wrong_answers;
static void wrong(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wrong(const char *fmt, ...) {
        va_list ap;
        fputs("bench_pam: WRONG ANSWER: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        wrong_answers++;
}

/* ---- clock and statistics ------------------------------------------------------------------ */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

struct stats {
        double p10, median, p90;
        int n;
};

/* Nearest-rank percentile of sorted v: the smallest value with at least pct % at or below it. */
static double percentile(const double *v, int n, int pct) {
        int rank = (pct * n + 99) / 100;
        return v[rank < 1 ? 0 : rank - 1];
}

static struct stats summarize(double *v, int n) {
        struct stats st = { .n = n };
        if (n <= 0)
                return st;
        qsort(v, (size_t) n, sizeof(*v), cmp_double);
        st.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        st.p10 = percentile(v, n, 10);
        st.p90 = percentile(v, n, 90);
        return st;
}

static double *samples(int n) {
        double *v = calloc((size_t) (n > 0 ? n : 1), sizeof(double));
        if (!v)
                die("out of memory");
        return v;
}

static void fmt_time(double seconds, char *buf, size_t size) {
        const char *sign = seconds < 0 ? "-" : "";
        double a = seconds < 0 ? -seconds : seconds;
        if (a < 1e-3)
                snprintf(buf, size, "%s%.1f us", sign, a * 1e6);
        else if (a < 1)
                snprintf(buf, size, "%s%.2f ms", sign, a * 1e3);
        else
                snprintf(buf, size, "%s%.3f s", sign, a);
}

/* ---- the result table -------------------------------------------------------------------- */

struct row {
        char metric[64];
        char p10[16], median[16], p90[16], extra[32], target[24], verdict[8];
};
static struct row table[32];
static size_t n_table;

static struct row *add_row(const char *metric, const struct stats *st) {
        if (n_table >= sizeof(table) / sizeof(table[0]))
                die("too many table rows");
        struct row *r = &table[n_table++];
        snprintf(r->metric, sizeof(r->metric), "%s", metric);
        fmt_time(st->p10, r->p10, sizeof(r->p10));
        fmt_time(st->median, r->median, sizeof(r->median));
        fmt_time(st->p90, r->p90, sizeof(r->p90));
        snprintf(r->extra, sizeof(r->extra), "-");
        snprintf(r->target, sizeof(r->target), "-");
        snprintf(r->verdict, sizeof(r->verdict), "info");
        return r;
}

static void add_section(const char *title) {
        struct stats none = { 0 };
        struct row *r = add_row(title, &none);
        r->p10[0] = r->median[0] = r->p90[0] = r->extra[0] = r->target[0] = r->verdict[0] = '\0';
}

static void print_table(void) {
        printf("\n%-46s %11s %11s %11s  %-18s %-10s %s\n", "metric", "p10", "median", "p90", "vs / overhead",
               "target", "verdict");
        printf("%-46s %11s %11s %11s  %-18s %-10s %s\n", "----------------------------------------------",
               "-----------", "-----------", "-----------", "------------------", "----------", "-------");
        for (size_t i = 0; i < n_table; i++)
                printf("%-46s %11s %11s %11s  %-18s %-10s %s\n", table[i].metric, table[i].p10, table[i].median,
                       table[i].p90, table[i].extra, table[i].target, table[i].verdict);
}

/* ---- the work directory: configurations, databases, service files -------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static void cleanup(void) {
        if (!workdir[0])
                return;
        if (opt.keep)
                fprintf(stderr, "bench_pam: kept %s\n", workdir);
        else
                nftw(workdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        workdir[0] = '\0';
}

static void path_in(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void path_in(char *buf, size_t size, const char *fmt, ...) {
        char rel[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rel, sizeof(rel), fmt, ap);
        va_end(ap);
        if (snprintf(buf, size, "%s/%s", workdir, rel) >= (int) size)
                die("%s/%s: path too long", workdir, rel);
}

static void make_dir(const char *path) {
        if (mkdir(path, 0755) < 0 || chmod(path, 0755) < 0)
                die("mkdir %s: %s", path, strerror(errno));
}

static void write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_file(const char *path, const char *fmt, ...) {
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

/* A roles.conf for the databases in DIR/NAME/. */
static void write_conf(const char *path, const char *dbdir, unsigned t, unsigned m, unsigned p, unsigned deny,
                       unsigned unlock_time) {
        write_file(path,
                   "# bench_pam\n"
                   "public_db  = %s/roles.db\n"
                   "secrets_db = %s/secrets.db\n"
                   "state_db   = %s/state.db\n"
                   "argon2_t_cost = %u\nargon2_m_cost_kib = %u\nargon2_parallelism = %u\n"
                   "deny = %u\nfail_interval = 900\nunlock_time = %u\n",
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
        path_in(err_path, sizeof(err_path), "rolesctl.err");
        int in[2];
        if (pipe2(in, O_CLOEXEC) < 0)
                die("pipe: %s", strerror(errno));
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (null < 0 || err < 0 || dup2(in[0], 0) < 0 || dup2(null, 1) < 0 || dup2(err, 2) < 0)
                        _exit(127);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        close(in[0]);
        if (input) {
                size_t len = strlen(input);
                if (write(in[1], input, len) != (ssize_t) len)
                        die("writing to rolesctl: %s", strerror(errno));
        }
        close(in[1]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        die("waitpid: %s", strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char line[512];
                FILE *f = fopen(err_path, "re");
                fprintf(stderr, "bench_pam: rolesctl");
                for (size_t i = 3; i < n; i++)
                        fprintf(stderr, " %s", argv[i]);
                fprintf(stderr, " exited %d:\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                while (f && fgets(line, sizeof(line), f))
                        fprintf(stderr, "    %s", line);
                if (f)
                        fclose(f);
                die("rolesctl failed");
        }
}

/* The three accounts, a role that grants login.SERVICE, every one of them assigned it. */
static void populate(const char *conf, const char *service) {
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

        /* An account brought in by import, its crypt(3) hash kept until its first login. */
        char dir[PATH_MAX], passwd[PATH_MAX + 16], group[PATH_MAX + 16], shadow[PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s", conf);
        char *dot = strrchr(dir, '.');
        if (dot)
                *dot = '\0';
        snprintf(passwd, sizeof(passwd), "%s.passwd", dir);
        snprintf(group, sizeof(group), "%s.group", dir);
        snprintf(shadow, sizeof(shadow), "%s.shadow", dir);
        write_file(passwd, "%s:x:10900:10900::/home/%s:/bin/sh\n", USER_LEGACY, USER_LEGACY);
        write_file(group, "%s:x:10900:\n", USER_LEGACY);
        write_file(shadow, "%s:%s:19000:0:99999:7:::\n", USER_LEGACY, LEGACY_HASH);
        rolesctl(conf, NULL, "import", "--passwd", passwd, "--group", group, "--shadow", shadow, NULL);
        rolesctl(conf, NULL, "role", "assign", "benchlogin", USER_LEGACY, NULL);
}

static char conf_min[PATH_MAX], conf_default[PATH_MAX], conf_lock[PATH_MAX], conf_lock_min[PATH_MAX];

static void setup(void) {
        const char *base = opt.dir;
        if (!base) {
                base = getenv("TMPDIR");
                if (!base || !*base)
                        base = "/tmp";
        }
        if (snprintf(workdir, sizeof(workdir), "%s/roles-bench-pam-XXXXXX", base) >= (int) sizeof(workdir))
                die("%s: path too long", base);
        if (!mkdtemp(workdir)) {
                workdir[0] = '\0';
                die("mkdtemp under %s: %s", base, strerror(errno));
        }
        if (chmod(workdir, 0755) < 0)
                die("%s: %s", workdir, strerror(errno));

        char db_min[PATH_MAX], db_default[PATH_MAX];
        path_in(db_min, sizeof(db_min), "min");
        path_in(db_default, sizeof(db_default), "default");
        path_in(pamd, sizeof(pamd), "pam.d");
        make_dir(db_min);
        make_dir(db_default);
        make_dir(pamd);

        /* Minimal argon2 (the configuration's floor); the defaults; the defaults with deny=1 and a
         * lock that lasts until unlocked, on the same databases, to lock USER_LOCKED once. deny
         * is otherwise set so high that the wrong-password runs never lock, with the same
         * statements as any deny > 0. */
        path_in(conf_min, sizeof(conf_min), "min.conf");
        path_in(conf_default, sizeof(conf_default), "default.conf");
        path_in(conf_lock, sizeof(conf_lock), "lock.conf");
        path_in(conf_lock_min, sizeof(conf_lock_min), "min-lock.conf");
        write_conf(conf_min, db_min, 1, 8, 1, 1000000, 600);
        write_conf(conf_default, db_default, 3, 65536, 4, 1000000, 600);
        write_conf(conf_lock, db_default, 3, 65536, 4, 1, 0);
        write_conf(conf_lock_min, db_min, 1, 8, 1, 1, 0);

        populate(conf_min, SVC_MIN);
        populate(conf_default, SVC_DEFAULT);

        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_MIN);
        write_file(path,
                   "auth    required %s conf=%s\n"
                   "account required %s conf=%s permission=@service\n",
                   opt.module, conf_min, opt.module, conf_min);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_DEFAULT);
        write_file(path,
                   "auth    required %s conf=%s\n"
                   "account required %s conf=%s permission=@service\n",
                   opt.module, conf_default, opt.module, conf_default);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_LOCK);
        write_file(path, "auth    required %s conf=%s\n", opt.module, conf_lock);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_LOCK_MIN);
        write_file(path, "auth    required %s conf=%s\n", opt.module, conf_lock_min);
        snprintf(path, sizeof(path), "%s/%s", pamd, SVC_PERMIT);
        write_file(path, "auth    required pam_permit.so\naccount required pam_permit.so\n");
        /* What libpam falls back to for a service it does not find: refuse. */
        snprintf(path, sizeof(path), "%s/other", pamd);
        write_file(path, "auth    required pam_deny.so\naccount required pam_deny.so\n");
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

/* What the conversation answers with, and what the modules said to the user through it. */
struct conv_data {
        const char *password;
        char transcript[512];   /* "style:text\n" per message, truncated */
        size_t len;
};

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata) {
        struct conv_data *cd = appdata;
        const char *password = cd->password;
        struct pam_response *r = calloc((size_t) n, sizeof(*r));
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                if (cd->len < sizeof(cd->transcript)) {
                        int k = snprintf(cd->transcript + cd->len, sizeof(cd->transcript) - cd->len, "%d:%s\n",
                                         msg[i]->msg_style, msg[i]->msg ? msg[i]->msg : "");
                        cd->len = k < 0 ? cd->len : cd->len + (size_t) k;
                }
                switch (msg[i]->msg_style) {
                case PAM_PROMPT_ECHO_OFF:
                        if (!(r[i].resp = strdup(password)))
                                goto fail;
                        break;
                case PAM_PROMPT_ECHO_ON:        /* nothing here asks for visible input */
                        goto fail;
                default:                        /* PAM_TEXT_INFO, PAM_ERROR_MSG */
                        break;
                }
        }
        *resp = r;
        return PAM_SUCCESS;
fail:
        for (int i = 0; i < n; i++)
                free(r[i].resp);
        free(r);
        return PAM_CONV_ERR;
}

struct outcome {
        int auth, acct;         /* acct = -1 when not called (auth failed) */
        char transcript[512];   /* the conversation's messages */
        double calls;           /* pam_authenticate + pam_acct_mgmt, seconds */
        double whole;           /* pam_start .. pam_end */
};

static struct outcome transaction(const char *service, const char *user, const char *password) {
        struct conv_data cd = { .password = password };
        struct pam_conv conv = { conversation, &cd };
        struct outcome o = { .acct = -1 };
        pam_handle_t *pamh = NULL;

        double t0 = now_s();
        int r = pam_start_confdir(service, user, &conv, pamd, &pamh);
        if (r != PAM_SUCCESS)
                die("pam_start_confdir(%s): %s", service, pam_strerror(NULL, r));
        if ((r = pam_set_item(pamh, PAM_FAIL_DELAY, (const void *) no_fail_delay)) != PAM_SUCCESS)
                die("pam_set_item(PAM_FAIL_DELAY): %s", pam_strerror(pamh, r));
        double t1 = now_s();
        o.auth = pam_authenticate(pamh, 0);
        if (o.auth == PAM_SUCCESS)
                o.acct = pam_acct_mgmt(pamh, 0);
        double t2 = now_s();
        pam_end(pamh, o.acct >= 0 ? o.acct : o.auth);
        double t3 = now_s();
        o.calls = t2 - t1;
        o.whole = t3 - t0;
        snprintf(o.transcript, sizeof(o.transcript), "%s", cd.transcript);
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
                static int shown;
                if (shown++ < 10)
                        wrong("%s: %s/%s for %s on %s, expected %s/%s", sc->label, pam_code(o.auth), pam_code(o.acct),
                              sc->user, sc->service, pam_code(sc->want_auth), pam_code(sc->want_acct));
                else
                        wrong_answers++;
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
        sc->calls = samples(runs);
        sc->whole = samples(runs);
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
        double t0 = now_s(), last = t0;
        for (int k = 0; k < runs; k++) {
                for (size_t i = 0; i < n; i++)
                        run_once(&sc[i], true);
                double t = now_s();
                if (t - last > 10) {
                        printf("   %s: %d/%d rounds (%.0f s)\n", what, k + 1, runs, t - t0);
                        last = t;
                }
        }
}

static double median_of(struct scenario *sc, bool whole, struct stats *ret) {
        *ret = summarize(whole ? sc->whole : sc->calls, sc->n);
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
        struct stats permit, roles, permit_whole, roles_whole;
        median_of(&sc[0], false, &permit);
        median_of(&sc[1], false, &roles);
        median_of(&sc[0], true, &permit_whole);
        median_of(&sc[1], true, &roles_whole);

        snprintf(title, sizeof(title), "(%s) argon2id %s, %d runs", with_target ? "a" : "b", params, runs);
        add_section(title);
        add_row("  pam_permit: auth + acct", &permit);
        struct row *r = add_row("  pam_roles, right password: auth + acct", &roles);
        char d[16];
        fmt_time(roles.median - permit.median, d, sizeof(d));
        snprintf(r->extra, sizeof(r->extra), "%s%s", roles.median >= permit.median ? "+" : "", d);
        if (with_target) {
                snprintf(r->target, sizeof(r->target), "<= 1 ms");
                snprintf(r->verdict, sizeof(r->verdict), "%s", roles.median - permit.median <= 1e-3 ? "PASS" : "MISS");
        }
        add_row("  pam_permit: pam_start .. pam_end", &permit_whole);
        r = add_row("  pam_roles: pam_start .. pam_end", &roles_whole);
        fmt_time(roles_whole.median - permit_whole.median, d, sizeof(d));
        snprintf(r->extra, sizeof(r->extra), "%s%s", roles_whole.median >= permit_whole.median ? "+" : "", d);
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
 * without: the absolute ones (at minimal argon2, what is not argon2). */
static void bench_refusals(const char *service, const char *lock_service, const char *title, int runs,
                           bool with_target) {
        enum { WRONG, UNKNOWN, LOCKED, DISABLED, LEGACY, LOCKED_RIGHT, DISABLED_RIGHT, N };
        /* Every one a refusal by pam_authenticate, with the same answer and the same messages. */
        struct scenario sc[N] = {
                [WRONG] = SCENARIO("wrong password", service, USER_OK, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [UNKNOWN] = SCENARIO("unknown user", service, USER_UNKNOWN, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [LOCKED] = SCENARIO("locked account", service, USER_LOCKED, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [DISABLED] = SCENARIO("disabled account", service, USER_DISABLED, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [LEGACY] = SCENARIO("imported {crypt} account", service, USER_LEGACY, WRONG_PASSWORD, PAM_AUTH_ERR, -1),
                [LOCKED_RIGHT] = SCENARIO("locked, right password", service, USER_LOCKED, PASSWORD, PAM_AUTH_ERR, -1),
                [DISABLED_RIGHT] = SCENARIO("disabled, right password", service, USER_DISABLED, PASSWORD, PAM_AUTH_ERR, -1),
        };
        lock_account(lock_service, service);
        run_interleaved(sc, N, runs, "refusals");
        for (int i = 0; i < N; i++)
                if (strcmp(sc[i].transcript, sc[WRONG].transcript) != 0)
                        wrong("%s: the conversation differs from a wrong password's", sc[i].label);

        add_section(title);
        struct stats base;
        median_of(&sc[WRONG], false, &base);
        for (int i = 0; i < N; i++) {
                struct stats st;
                char label[64];
                median_of(&sc[i], false, &st);
                snprintf(label, sizeof(label), "  %s", sc[i].label);
                struct row *r = add_row(label, &st);
                if (i == WRONG) {
                        snprintf(r->extra, sizeof(r->extra), "(reference)");
                        continue;
                }
                double rel = base.median > 0 ? (st.median - base.median) / base.median : 0;
                if (!with_target) {
                        char d[16];
                        fmt_time(st.median - base.median, d, sizeof(d));
                        snprintf(r->extra, sizeof(r->extra), "%s%s", st.median >= base.median ? "+" : "", d);
                        continue;
                }
                snprintf(r->extra, sizeof(r->extra), "%+.1f %%", rel * 100);
                snprintf(r->target, sizeof(r->target), "within 5 %%");
                snprintf(r->verdict, sizeof(r->verdict), "%s", rel <= 0.05 && rel >= -0.05 ? "PASS" : "MISS");
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

static int parse_num(const char *s, long min, long max) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v < min || v > max) {
                fprintf(stderr, "bench_pam: bad number '%s' (%ld..%ld)\n", s, min, max);
                exit(2);
        }
        return (int) v;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "dir", required_argument, NULL, 'd' },        { "keep", no_argument, NULL, 'k' },
                { "runs", required_argument, NULL, 'n' },       { "default-runs", required_argument, NULL, 'b' },
                { "timing-runs", required_argument, NULL, 't' }, { "module", required_argument, NULL, 'm' },
                { "rolesctl", required_argument, NULL, 'x' },   { "quick", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },             { NULL, 0, NULL, 0 },
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'd': opt.dir = optarg; break;
                case 'k': opt.keep = true; break;
                case 'n': opt.runs = parse_num(optarg, 1, 1000000); break;
                case 'b': opt.default_runs = parse_num(optarg, 1, 100000); break;
                case 't': opt.timing_runs = parse_num(optarg, 1, 100000); break;
                case 'm': opt.module = optarg; break;
                case 'x': opt.rolesctl = optarg; break;
                case 'q':
                        opt.runs = 50;
                        opt.default_runs = 5;
                        opt.timing_runs = 8;
                        opt.warmup = 1;
                        break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }
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

        struct statfs sfs;
        const char *fs = "?";
        if (statfs(workdir, &sfs) == 0)
                fs = sfs.f_type == 0xEF53 ? "ext4" : sfs.f_type == 0x01021994 ? "tmpfs (fsync is free!)"
                   : sfs.f_type == 0x9123683E ? "btrfs" : sfs.f_type == 0x58465342 ? "xfs" : "other";
        printf("pam_roles benchmark: %s\nin %s (%s), %ld CPUs\n", opt.module, workdir, fs, sysconf(_SC_NPROCESSORS_ONLN));

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

        print_table();
        if (fail_delay_calls)
                printf("(a module asked libpam for a failure delay %d times: replaced by a no-op while measuring)\n",
                       fail_delay_calls);
        cleanup();
        if (wrong_answers) {
                fprintf(stderr, "bench_pam: %d wrong answer(s)\n", wrong_answers);
                return 1;
        }
        printf("all answers as expected\n");
        return 0;
}
