/* SPDX-License-Identifier: MIT */
/*
 * Concurrency through the real components, no root needed: pam_roles.so loaded by the real
 * libpam (pam_start_confdir with service files written into a temporary directory, naming the
 * built module by absolute path and conf= a roles.conf there), rolesctl run as a child process
 * for every administrative change, libnss_roles.so.2 dlopen()ed, real SQLite files.
 *
 *   - 200 logins with a wrong password at once, each in its own process, under deny=3: state.db
 *     counts exactly 200 failures (and 200 audit rows), the account is locked, and the right
 *     password is refused until `rolesctl user unlock`.
 *   - The same TOTP code typed by 2 to 8 racing logins, 50 rounds (a new secret each round):
 *     exactly one gets in.
 *   - An administrator's change made while a login's password prompt is open: the login
 *     decides on the state when its password is checked, all of it from that one moment.
 *   - Logins and NSS lookups during a long stream of rolesctl changes: every answer is the one
 *     some committed state that held during the call gives (see test_logins_during_admin_stream).
 *
 * Children never call cmocka (a failed assertion there would long-jump into a copy of the
 * runner): they write what they saw into shared memory, and the parent judges it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <liboath/oath.h>
#include <limits.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nss_loader.h"
#include "pam_harness.h"

#ifndef PAM_MODULE_PATH
#define PAM_MODULE_PATH ""
#endif
#ifndef ROLESCTL_PATH
#define ROLESCTL_PATH ""
#endif
#ifndef NSS_MODULE_PATH
#define NSS_MODULE_PATH ""
#endif

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Services in the temporary pam.d: auth and account, deny=3 or no lockout at all. */
#define SVC_DENY3 "conc-deny3"
#define SVC_LOGIN "conc-login"  /* account permission=login.x */

#define XM_GID 20000u           /* the metarole xm (holds login.x), published as a group */
#define FLIP_UID 10200u         /* the stream's user (personal group gid = uid) */

#define VICTIM_PASSWORD "victim password"
#define TOTP_PASSWORD "totp user password"

static struct {
        char dir[PATH_MAX - 64];
        char deny3_conf[PATH_MAX];      /* deny = 3, unlock_time = 600 */
        char open_conf[PATH_MAX];       /* deny = 0: failures never lock (racing losers must not) */
        char pamd[PATH_MAX];
        char public_db[PATH_MAX], state_db[PATH_MAX];
} fx;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void sleep_us(long us) {
        struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Memory that forked children write and the parent reads. */
static void *shared_alloc(size_t size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(p != MAP_FAILED);
        return p;
}

/* ---- rolesctl, as a child process ------------------------------------------------------------ */

/*
 * Run `rolesctl --conf OPEN_CONF ARGS...` with input on its stdin (NULL: none) and its stdout in
 * out (NULL: discarded). Returns its exit status, 128 + a signal, or -1 when it could not run.
 * No cmocka here: the stream's writer, a forked child, runs it too.
 */
static int rolesctl_argv(const char *input, char *out, size_t outsize, const char *const *args) {
        const char *argv[24] = { "rolesctl", "--conf", fx.open_conf };
        size_t n = 3;
        for (size_t i = 0; args[i] && n < N_ELEMENTS(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;

        int in[2], outp[2];
        if (pipe(in) < 0)
                return -1;
        if (pipe(outp) < 0) {
                close(in[0]);
                close(in[1]);
                return -1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                dup2(in[0], STDIN_FILENO);
                dup2(outp[1], STDOUT_FILENO);
                close(in[0]);
                close(in[1]);
                close(outp[0]);
                close(outp[1]);
                execv(ROLESCTL_PATH, (char *const *) argv);
                _exit(127);
        }
        close(in[0]);
        close(outp[1]);
        /* The input is one short line: it fits the pipe, so it is written before reading. */
        bool fed = pid > 0 && (!input || write(in[1], input, strlen(input)) == (ssize_t) strlen(input));
        close(in[1]);
        size_t len = 0;
        for (;;) {
                char scratch[256];
                bool keep = out && len + 1 < outsize;
                ssize_t k = read(outp[0], keep ? out + len : scratch, keep ? outsize - len - 1 : sizeof(scratch));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += keep ? (size_t) k : 0;
        }
        close(outp[0]);
        if (out && outsize > 0)
                out[len] = '\0';
        int status;
        if (pid < 0)
                return -1;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        if (!fed)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The same with the arguments inline, NULL-terminated. */
static int rolesctl(const char *input, char *out, size_t outsize, ...) {
        const char *args[20];
        size_t n = 0;
        va_list ap;
        va_start(ap, outsize);
        for (const char *a; (a = va_arg(ap, const char *)) && n < N_ELEMENTS(args) - 1;)
                args[n++] = a;
        va_end(ap);
        args[n] = NULL;
        return rolesctl_argv(input, out, outsize, args);
}

#define ROLESCTL_OK(...)                                                                                   \
        do {                                                                                               \
                int rc_ = rolesctl(NULL, NULL, 0, __VA_ARGS__, (const char *) NULL);                      \
                if (rc_ != 0)                                                                              \
                        fail_msg("rolesctl %s: exit %d", #__VA_ARGS__, rc_);                               \
        } while (0)

static void add_user(const char *name, const char *uid, const char *password) {
        char input[128];
        snprintf(input, sizeof(input), "%s\n", password);
        int rc = rolesctl(input, NULL, 0, "user", "add", name, "--uid", uid, "--password-stdin", (const char *) NULL);
        if (rc != 0)
                fail_msg("rolesctl user add %s: exit %d", name, rc);
        ROLESCTL_OK("role", "assign", "loginx", name);
}

/* ---- PAM, in this process or a forked one ----------------------------------------------------- */

struct login {
        const char *service, *user, *password;
        const char *code;                       /* the answer to "Verification code: " */
        void (*typing)(void *arg);              /* runs when the password is asked, before the answer */
        void (*coding)(void *arg);              /* the same, when the code is asked */
        void *arg;
};

#define NOT_CALLED (-1)
#define NOT_STARTED (-2)

struct outcome {
        int auth, acct;         /* PAM codes; acct NOT_CALLED when auth failed */
        double seconds;         /* pam_start to pam_end */
};

static bool logged_in(struct outcome o) {
        return o.auth == PAM_SUCCESS && o.acct == PAM_SUCCESS;
}

/* The harness's prompt hook: prompt 0 asks the password, prompt 1 the code. */
static void on_prompt(size_t i, void *arg) {
        const struct login *l = arg;
        void (*hook)(void *) = i == 0 ? l->typing : l->coding;
        if (hook)
                hook(l->arg);
}

/* One login as sshd or login makes it: auth, then account when auth succeeded. */
static struct outcome pam_login(const struct login *l) {
        /* A NULL password or code ends the replies: the prompt for it fails the conversation. */
        struct pam_harness h = { .replies = { l->password, l->code }, .on_prompt = on_prompt, .arg = (void *) l };
        struct outcome o = { NOT_STARTED, NOT_CALLED, 0 };
        double t0 = now_s();
        if (pam_harness_start(&h, l->service, l->user, fx.pamd) != PAM_SUCCESS)
                return o;
        o.auth = pam_authenticate(h.pamh, PAM_SILENT);
        if (o.auth == PAM_SUCCESS)
                o.acct = pam_acct_mgmt(h.pamh, PAM_SILENT);
        pam_harness_end(&h, o.acct == NOT_CALLED ? o.auth : o.acct);
        o.seconds = now_s() - t0;
        return o;
}

/*
 * n logins in n forked processes released together (a process-shared barrier: they pass it
 * only when all of them and the parent are at it); each one's outcome by index. A child that
 * died is reported as { NOT_STARTED, 128 + signal }. The caller unmaps the result (race_done).
 */
typedef struct login (*login_maker)(int i, void *arg);

struct race {
        pthread_barrier_t start;
        int n;
        struct outcome out[];
};

static struct race *race(int n, login_maker make, void *arg) {
        struct race *r = shared_alloc(sizeof(*r) + (size_t) n * sizeof(r->out[0]));
        pthread_barrierattr_t attr;
        pid_t *pids = calloc((size_t) n, sizeof(*pids));
        assert_non_null(pids);
        assert_int_equal(pthread_barrierattr_init(&attr), 0);
        assert_int_equal(pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), 0);
        assert_int_equal(pthread_barrier_init(&r->start, &attr, (unsigned) n + 1), 0);
        r->n = n;
        fflush(NULL);
        for (int i = 0; i < n; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        alarm(120);
                        pthread_barrier_wait(&r->start);
                        struct login l = make(i, arg);
                        r->out[i] = pam_login(&l);
                        _exit(0);
                }
                if (pids[i] < 0)
                        fail_msg("fork: %s (the %d started wait for the barrier until their alarm)", strerror(errno), i);
        }
        pthread_barrier_wait(&r->start);
        for (int i = 0; i < n; i++) {
                int status;
                while (waitpid(pids[i], &status, 0) < 0)
                        assert_int_equal(errno, EINTR);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        r->out[i] = (struct outcome) { NOT_STARTED, WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255, 0 };
        }
        free(pids);
        return r;
}

static void race_done(struct race *r) {
        pthread_barrier_destroy(&r->start);
        munmap(r, sizeof(*r) + (size_t) r->n * sizeof(r->out[0]));
}

/* ---- reading the databases behind the module's back ---------------------------------------------- */

/* The first column of the first row of sql (?1 bound to arg), as an integer; -1 for no row. */
static int64_t db_int(const char *path, const char *sql, const char *arg) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (arg)
                sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
        int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static void user_uuid(const char *name, char *buf, size_t size) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(fx.public_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT uuid FROM users WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
                fail_msg("roles.db: %s", sqlite3_errmsg(db));
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        snprintf(buf, size, "%s", (const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* ---- the fixture: one directory, two configurations, the PAM services, the users ---------------- */

static void write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_file(const char *path, const char *fmt, ...) {
        FILE *f = fopen(path, "we");
        if (!f)
                fail_msg("%s: %s", path, strerror(errno));
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        assert_int_equal(fclose(f), 0);
}

static void write_conf(const char *path, unsigned deny) {
        write_file(path,
                   "public_db = %s\nsecrets_db = %s/secrets.db\nstate_db = %s\n"
                   "uid_min = 10000\nuid_max = 59999\ngid_min = 10000\ngid_max = 59999\n"
                   "argon2_t_cost = 1\nargon2_m_cost_kib = 8\nargon2_parallelism = 1\n"
                   "deny = %u\nunlock_time = 600\n",
                   fx.public_db, fx.dir, fx.state_db, deny);
}

static void write_service(const char *name, const char *conf, const char *account_options) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", fx.pamd, name);
        write_file(path, "auth    required %s conf=%s\naccount required %s conf=%s%s\n", PAM_MODULE_PATH, conf,
                   PAM_MODULE_PATH, conf, account_options);
}

static int group_setup(void **state) {
        (void) state;
        const char *tmp = getenv("TMPDIR");
        snprintf(fx.dir, sizeof(fx.dir), "%s/roles-conc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fx.dir) || chmod(fx.dir, 0755) < 0)
                return -1;
        snprintf(fx.public_db, sizeof(fx.public_db), "%s/roles.db", fx.dir);
        snprintf(fx.state_db, sizeof(fx.state_db), "%s/state.db", fx.dir);
        snprintf(fx.deny3_conf, sizeof(fx.deny3_conf), "%s/deny3.conf", fx.dir);
        snprintf(fx.open_conf, sizeof(fx.open_conf), "%s/open.conf", fx.dir);
        snprintf(fx.pamd, sizeof(fx.pamd), "%s/pam.d", fx.dir);
        if (mkdir(fx.pamd, 0755) < 0)
                return -1;
        write_conf(fx.deny3_conf, 3);
        write_conf(fx.open_conf, 0);
        write_service(SVC_DENY3, fx.deny3_conf, "");
        write_service(SVC_LOGIN, fx.open_conf, " permission=login.x");

        ROLESCTL_OK("init");
        ROLESCTL_OK("metarole", "add", "xm");
        ROLESCTL_OK("metarole", "grant", "xm", "login.x");
        ROLESCTL_OK("metarole", "publish", "xm", "--gid", "20000");
        ROLESCTL_OK("role", "add", "loginx", "--metarole", "xm");
        add_user("victim", "10100", VICTIM_PASSWORD);
        add_user("totpu", "10101", TOTP_PASSWORD);
        return 0;
}

static int remove_tree(const char *dir) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
        (void) state;
        return remove_tree(fx.dir);
}

/* ---- 1. parallel wrong passwords under deny=3 ---------------------------------------------------- */

#define PARALLEL_LOGINS 200

/* Under valgrind the children would outwait the 10 s that a login waits for state.db: the
 * valgrind test setup asks for fewer of them (as in test_state). */
static int parallel_logins(void) {
        const char *v = getenv("ROLES_TEST_PARALLEL");
        int n = v ? atoi(v) : PARALLEL_LOGINS;
        return n >= 2 && n <= PARALLEL_LOGINS ? n : PARALLEL_LOGINS;
}

static struct login victim_login(const char *password) {
        return (struct login) { .service = SVC_DENY3, .user = "victim", .password = password };
}

static struct login wrong_password(int i, void *arg) {
        (void) i, (void) arg;
        return victim_login("not the victim's password");
}

static void test_parallel_wrong_passwords(void **state) {
        (void) state;
        int n = parallel_logins();
        char uuid[64];
        user_uuid("victim", uuid, sizeof(uuid));
        const char *tally_sql = "SELECT failures FROM tally WHERE user_uuid = ?1";

        /* The stack works, and no failure is on record. */
        struct login right = victim_login(VICTIM_PASSWORD);
        assert_true(logged_in(pam_login(&right)));
        assert_int_equal(db_int(fx.state_db, tally_sql, uuid), -1);

        double t0 = now_s();
        struct race *r = race(n, wrong_password, NULL);
        double took = now_s() - t0;
        int refused = 0;
        double slowest = 0;
        for (int i = 0; i < n; i++) {
                slowest = r->out[i].seconds > slowest ? r->out[i].seconds : slowest;
                if (r->out[i].auth == PAM_AUTH_ERR && r->out[i].acct == NOT_CALLED)
                        refused++;
                else
                        print_error("login %d: auth %d, account %d (want PAM_AUTH_ERR, not called)\n", i,
                                    r->out[i].auth, r->out[i].acct);
        }
        race_done(r);
        /* Each login waits about 10 s at most for state.db: the slowest one says how close that was. */
        print_message("%d parallel wrong passwords through libpam in %.2f s (the slowest login %.2f s)\n", n, took,
                      slowest);
        assert_int_equal(refused, n);

        /* Each counted once, with its audit row; the account locked for unlock_time. */
        assert_int_equal(db_int(fx.state_db, tally_sql, uuid), n);
        int64_t locked_until = db_int(fx.state_db, "SELECT locked_until FROM tally WHERE user_uuid = ?1", uuid);
        int64_t now = (int64_t) time(NULL);
        assert_true(locked_until > now && locked_until <= now + 600);
        assert_int_equal(db_int(fx.state_db, "SELECT count(*) FROM login_audit WHERE user = ?1 AND result = 'failure'",
                                "victim"),
                         n);

        /* The right password is refused now, and counted too; an unlock lets it in again. */
        struct outcome late = pam_login(&right);
        assert_int_equal(late.auth, PAM_AUTH_ERR);
        assert_int_equal(db_int(fx.state_db, tally_sql, uuid), n + 1);
        ROLESCTL_OK("user", "unlock", "victim");
        assert_true(logged_in(pam_login(&right)));
        assert_int_equal(db_int(fx.state_db, tally_sql, uuid), -1);
}

/* ---- 2. one TOTP code, racing logins ----------------------------------------------------------------- */

#define TOTP_ROUNDS 50

/* The code for now of the secret in an otpauth:// URI, as an authenticator app computes it. */
static void totp_code_now(const char *uri, char code[static 7]) {
        const char *p = strstr(uri, "secret=");
        assert_non_null(p);
        p += strlen("secret=");
        size_t b32len = strcspn(p, "&\n\"");
        char *secret = NULL;
        size_t len = 0;
        assert_int_equal(oath_base32_decode(p, b32len, &secret, &len), OATH_OK);
        assert_int_equal(oath_totp_generate(secret, len, time(NULL), OATH_TOTP_DEFAULT_TIME_STEP_SIZE,
                                            OATH_TOTP_DEFAULT_START_TIME, 6, code),
                         OATH_OK);
        free(secret);
}

static struct login totp_login(int i, void *arg) {
        (void) i;
        return (struct login) { .service = SVC_LOGIN, .user = "totpu", .password = TOTP_PASSWORD, .code = arg };
}

static void test_totp_race(void **state) {
        (void) state;
        assert_int_equal(oath_init(), OATH_OK);
        int logins = 0;
        double t0 = now_s();
        for (int round = 0; round < TOTP_ROUNDS; round++) {
                /* A new secret each round: its codes have never been used. */
                char uri[4096], code[7];
                int rc = rolesctl(NULL, uri, sizeof(uri), "--json", "user", "totp", "enroll", "totpu", "--replace",
                                  (const char *) NULL);
                if (rc != 0)
                        fail_msg("round %d: rolesctl user totp enroll: exit %d", round, rc);
                totp_code_now(uri, code);

                int n = 2 + round % 7;
                struct race *r = race(n, totp_login, code);
                int in = 0, refused = 0;
                for (int i = 0; i < n; i++) {
                        in += logged_in(r->out[i]);
                        refused += r->out[i].auth == PAM_AUTH_ERR;
                }
                race_done(r);
                logins += n;
                if (in != 1 || refused != n - 1)
                        fail_msg("round %d: %d racers with one code: %d logged in, %d refused (want 1 and %d)", round, n,
                                 in, refused, n - 1);
        }
        print_message("%d rounds, %d racing logins with TOTP in %.2f s\n", TOTP_ROUNDS, logins, now_s() - t0);
        oath_done();
        ROLESCTL_OK("user", "totp", "disable", "totpu");
}

/*
 * The code prompt may stay open while others guess: three wrong passwords lock the account
 * (deny=3) before the right code is typed. The lock holds for this login too: it was checked
 * before the prompt, and must be again after it (a stack that asks pam_roles for auth only
 * would let it in otherwise).
 */
static void three_wrong_passwords(void *arg) {
        (void) arg;
        pid_t pid = fork();
        if (pid == 0) {
                struct login wrong = { .service = SVC_DENY3, .user = "totpu", .password = "not totpu's password" };
                int refused = 0;
                for (int i = 0; i < 3; i++)
                        refused += pam_login(&wrong).auth == PAM_AUTH_ERR;
                _exit(refused == 3 ? 0 : 1);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("the three wrong passwords were not all refused");
}

static void test_lock_while_code_prompt_open(void **state) {
        (void) state;
        char uri[4096], code[7], uuid[64];
        const char *tally_sql = "SELECT failures FROM tally WHERE user_uuid = ?1";
        user_uuid("totpu", uuid, sizeof(uuid));
        ROLESCTL_OK("user", "unlock", "totpu");         /* no count from the races before */
        assert_int_equal(db_int(fx.state_db, tally_sql, uuid), -1);
        assert_int_equal(rolesctl(NULL, uri, sizeof(uri), "--json", "user", "totp", "enroll", "totpu", (const char *) NULL), 0);
        totp_code_now(uri, code);
        struct login l = { .service = SVC_DENY3, .user = "totpu", .password = TOTP_PASSWORD, .code = code,
                           .coding = three_wrong_passwords };
        struct outcome o = pam_login(&l);
        if (o.auth != PAM_AUTH_ERR)
                fail_msg("auth %d, account %d: the right password and code got past a lock set meanwhile", o.auth, o.acct);
        /* Counted as a locked account's attempt, and the lock stays. */
        assert_int_equal(db_int(fx.state_db, tally_sql, uuid), 4);
        ROLESCTL_OK("user", "unlock", "totpu");
        ROLESCTL_OK("user", "totp", "disable", "totpu");
}

/*
 * The code prompt may stay open for minutes too. An account disabled meanwhile is refused by auth
 * itself when the code comes, as a disabled account's password is (counted): an application that
 * calls auth alone (a VPN, a screen locker, with permission= on its auth line) has no account
 * phase to catch it.
 */
static void disable_codeslow(void *arg) {
        (void) arg;
        ROLESCTL_OK("user", "disable", "codeslow");
}

static void test_disabled_while_code_prompt_open(void **state) {
        (void) state;
        char uri[4096], code[7], uuid[64];
        add_user("codeslow", "10301", TOTP_PASSWORD);
        user_uuid("codeslow", uuid, sizeof(uuid));
        assert_int_equal(rolesctl(NULL, uri, sizeof(uri), "--json", "user", "totp", "enroll", "codeslow", (const char *) NULL), 0);
        totp_code_now(uri, code);
        struct login l = { .service = SVC_LOGIN, .user = "codeslow", .password = TOTP_PASSWORD, .code = code,
                           .coding = disable_codeslow };
        struct outcome o = pam_login(&l);
        if (o.auth != PAM_AUTH_ERR)
                fail_msg("auth %d, account %d: auth let in an account disabled while its code prompt was open", o.auth,
                         o.acct);
        assert_int_equal(db_int(fx.state_db, "SELECT failures FROM tally WHERE user_uuid = ?1", uuid), 1);
        ROLESCTL_OK("user", "del", "codeslow");
}

/* ---- 3. a change while the password prompt is open --------------------------------------------------- */

/*
 * Run "COMMAND ARGS...; COMMAND ARGS..." through rolesctl (words split at spaces; a word that
 * starts with '<' begins the text, to the end of that command, given on its stdin).
 */
static void run_script(const char *script) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", script ? script : "");
        for (char *save = NULL, *cmd = strtok_r(buf, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save)) {
                char input[128] = "";
                char *lt = strchr(cmd, '<');
                if (lt) {
                        *lt = '\0';
                        snprintf(input, sizeof(input), "%s\n", lt + 1);
                }
                const char *args[16];
                size_t n = 0;
                for (char *w = NULL, *word = strtok_r(cmd, " ", &w); word && n < N_ELEMENTS(args) - 1;
                     word = strtok_r(NULL, " ", &w))
                        args[n++] = word;
                args[n] = NULL;
                int rc = rolesctl_argv(lt ? input : NULL, NULL, 0, args);
                if (rc != 0)
                        fail_msg("rolesctl %s: exit %d", script, rc);
        }
}

static void run_script_hook(void *arg) {
        run_script(arg);
}

/*
 * The prompt may stay open for minutes (sshd allows two) while an administrator disables the
 * account, takes a role away or sets a new password. The answer must be the one the state
 * when the password is checked gives: never the enabled flag and roles from when the prompt
 * opened with the secrets of later (a new password let in on an account disabled all along).
 */
static void test_change_while_prompt_open(void **state) {
        (void) state;
        static const struct {
                const char *what;
                const char *before, *during, *after;    /* rolesctl scripts (run_script) */
                const char *typed;
                bool logged_in;
        } cases[] = {
                { "account disabled while the prompt was open",
                  NULL, "user disable slow", "user enable slow", "slow password A", false },
                { "account disabled, then given a new password, while the prompt was open",
                  NULL, "user disable slow; user passwd slow --stdin <slow password B", "user enable slow",
                  "slow password B", false },
                { "role with login.x unassigned while the prompt was open",
                  NULL, "role unassign loginx slow", "role assign loginx slow", "slow password B", false },
                { "account enabled while the prompt was open",
                  "user disable slow", "user enable slow", NULL, "slow password B", true },
                { "old password typed after a new one was set",
                  NULL, "user passwd slow --stdin <slow password C", NULL, "slow password B", false },
                { "new password typed after it was set",
                  NULL, "user passwd slow --stdin <slow password D", NULL, "slow password D", true },
                { "account deleted while the prompt was open",
                  NULL, "user del slow", NULL, "slow password D", false },
        };
        add_user("slow", "10300", "slow password A");
        for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
                run_script(cases[i].before);
                struct login l = { .service = SVC_LOGIN, .user = "slow", .password = cases[i].typed,
                                   .typing = run_script_hook, .arg = (void *) cases[i].during };
                struct outcome o = pam_login(&l);
                if (logged_in(o) != cases[i].logged_in)
                        fail_msg("%s: auth %d, account %d: %s", cases[i].what, o.auth, o.acct,
                                 cases[i].logged_in ? "refused" : "logged in on a state that never held at the password");
                run_script(cases[i].after);
        }
}

/* ---- 4. logins and lookups during a stream of admin changes ---------------------------------------------- */

/*
 * A writer runs STREAM_COMMANDS rolesctl commands, one after the other, that walk the user flip
 * around a cycle (disable; new password; unassign the role carrying login.x; enable; assign;
 * new full name and home), while logins (auth + account permission=login.x) and NSS lookups run
 * in other processes. What each command leaves is known in advance (truth[k]: the state after
 * k commands), and every call records the commands finished when it began and those begun when
 * it ended: the states that may have held during the call are truth[lo..hi], and its answer
 * must be the one at least one of them gives.
 *
 * The cycle is built so that mixing two states is visible: a login that opened on an enabled
 * account with the role, and was given a password set after the account was disabled, finds
 * no state in its window that lets it in (enable and assign come two and three commands later).
 * Some logins type the next password and wait, at the prompt, for the writer to move on, as a
 * person typing slowly does.
 */
#define STREAM_COMMANDS 180     /* 30 cycles */
#define STREAM_LOGINERS 3
#define MAX_LOGINS 3000         /* per login process */
#define MAX_LOOKUPS 20000
#define FRESH_EVERY 8           /* one lookup round in a newly forked process every 8 */
#define NSS_RECHECK_SLACK 1.2   /* s: a running process sees a replaced snapshot within a second */

struct truth {
        bool enabled, granted;  /* roles.db */
        int password;           /* secrets.db: flip's password is stream_password(password) */
        int gen;                /* roles.db: full name "Flip <gen>", home /home/flip-<gen> */
};

static void stream_password(int k, char *buf, size_t size) {
        snprintf(buf, size, "stream password %04d", k);
}

/* Command k (1-based) of the stream: what it changes in t, and its command line. */
struct command_line {
        const char *args[8];
        char arg_a[64], arg_b[64], input[64];
};

static void stream_command(int k, struct truth *t, struct command_line *c) {
        memset(c, 0, sizeof(*c));
        switch ((k - 1) % 6) {
        case 0:
                t->enabled = false;
                c->args[0] = "user", c->args[1] = "disable", c->args[2] = "flip";
                break;
        case 1:
                t->password++;
                stream_password(t->password, c->input, sizeof(c->input) - 1);
                strcat(c->input, "\n");
                c->args[0] = "user", c->args[1] = "passwd", c->args[2] = "flip", c->args[3] = "--stdin";
                break;
        case 2:
                t->granted = false;
                c->args[0] = "role", c->args[1] = "unassign", c->args[2] = "loginx", c->args[3] = "flip";
                break;
        case 3:
                t->enabled = true;
                c->args[0] = "user", c->args[1] = "enable", c->args[2] = "flip";
                break;
        case 4:
                t->granted = true;
                c->args[0] = "role", c->args[1] = "assign", c->args[2] = "loginx", c->args[3] = "flip";
                break;
        default:
                t->gen++;
                snprintf(c->arg_a, sizeof(c->arg_a), "Flip %d", t->gen);
                snprintf(c->arg_b, sizeof(c->arg_b), "/home/flip-%d", t->gen);
                c->args[0] = "user", c->args[1] = "mod", c->args[2] = "flip", c->args[3] = "--full-name";
                c->args[4] = c->arg_a, c->args[5] = "--home", c->args[6] = c->arg_b;
                break;
        }
}

static bool allows_login(const struct truth *t, int typed) {
        return t->password == typed && t->enabled && t->granted;
}

struct login_record {
        int lo, hi;             /* commands finished at the start, begun at the end */
        int typed, waited;      /* the password typed, and how many commands it waited for */
        struct outcome o;
};

enum lookup_kind { LOOKUP_PASSWD, LOOKUP_INITGROUPS, LOOKUP_GROUP };

struct lookup_record {
        int lo, hi;
        enum lookup_kind kind;
        bool fresh;             /* in a newly forked process (else a long-running one) */
        int status;             /* enum nss_status */
        int value;              /* passwd: gen; initgroups, group: flip holds xm (0/1); -1: malformed */
};

struct stream {
        atomic_int started, done;       /* commands begun, and finished (committed) */
        atomic_int failed;              /* the first command that did not exit 0 */
        atomic_bool over;
        double done_at[STREAM_COMMANDS + 1];    /* now_s() when each command finished */
        struct truth truth[STREAM_COMMANDS + 1];
        atomic_int n_logins[STREAM_LOGINERS];
        struct login_record logins[STREAM_LOGINERS][MAX_LOGINS];
        atomic_int n_lookups;
        struct lookup_record lookups[MAX_LOOKUPS];
};

static struct stream *stream;

static void run_writer(void) {
        struct truth t = stream->truth[0];
        for (int k = 1; k <= STREAM_COMMANDS; k++) {
                struct command_line c;
                stream_command(k, &t, &c);
                atomic_store(&stream->started, k);
                int rc = rolesctl_argv(c.input[0] ? c.input : NULL, NULL, 0, c.args);
                if (rc != 0) {
                        fprintf(stderr, "stream command %d (%s %s): exit %d\n", k, c.args[0], c.args[1], rc);
                        atomic_store(&stream->failed, k);
                        break;
                }
                stream->done_at[k] = now_s();
                atomic_store(&stream->done, k);
        }
        atomic_store(&stream->over, true);
}

/* What a slow typist's prompt waits for: the writer to finish this many more commands. */
struct slow_typing {
        int until;
};

static void wait_for_writer(void *arg) {
        const struct slow_typing *w = arg;
        while (atomic_load(&stream->done) < w->until && !atomic_load(&stream->over))
                sleep_us(200);
}

static unsigned next_random(unsigned *seed) {
        *seed = *seed * 1103515245u + 12345u;
        return *seed >> 16;
}

static void run_logins(int id) {
        unsigned seed = 0x5eed0000u + (unsigned) id;
        while (!atomic_load(&stream->over)) {
                int n = atomic_load(&stream->n_logins[id]);
                if (n == MAX_LOGINS)
                        break;
                struct login_record *rec = &stream->logins[id][n];
                rec->lo = atomic_load(&stream->done);
                /* Half the logins type the password of the state they start in, half the next one;
                 * half answer at once, the others once the writer has finished 1, 2 or 3 more. */
                unsigned r = next_random(&seed);
                rec->typed = stream->truth[rec->lo].password + (int) (r & 1);
                rec->waited = (r >> 1) & 1 ? 1 + (int) ((r >> 2) % 3) : 0;
                char password[64];
                stream_password(rec->typed, password, sizeof(password));
                struct slow_typing w = { rec->lo + rec->waited };
                struct login l = { .service = SVC_LOGIN, .user = "flip", .password = password,
                                   .typing = rec->waited ? wait_for_writer : NULL, .arg = &w };
                rec->o = pam_login(&l);
                rec->hi = atomic_load(&stream->started);
                atomic_store(&stream->n_logins[id], n + 1);
        }
}

/* ---- the NSS side of the stream ---- */

static struct nss_module nss;

/* gen from a consistent passwd entry of flip ("Flip N" and /home/flip-N, the same N), or -1. */
static int passwd_gen(const struct passwd *pw) {
        int gen;
        char gecos[32], home[32];
        if (pw->pw_uid != FLIP_UID || pw->pw_gid != FLIP_UID || strcmp(pw->pw_name, "flip") != 0 ||
            strcmp(pw->pw_shell, "/bin/bash") != 0 || sscanf(pw->pw_gecos, "Flip %d", &gen) != 1)
                return -1;
        snprintf(gecos, sizeof(gecos), "Flip %d", gen);
        snprintf(home, sizeof(home), "/home/flip-%d", gen);
        return strcmp(pw->pw_gecos, gecos) == 0 && strcmp(pw->pw_dir, home) == 0 ? gen : -1;
}

static int lookup(enum lookup_kind kind, int *ret_value) {
        char buf[4096];
        int errnop = 0;
        enum nss_status st;
        if (kind == LOOKUP_PASSWD) {
                struct passwd pw;
                st = nss.getpwnam_r("flip", &pw, buf, sizeof(buf), &errnop);
                *ret_value = st == NSS_STATUS_SUCCESS ? passwd_gen(&pw) : -1;
        } else if (kind == LOOKUP_GROUP) {
                /* The other users hold xm all along: flip is there or not, once at most. */
                struct group gr;
                st = nss.getgrnam_r("xm", &gr, buf, sizeof(buf), &errnop);
                int flips = 0;
                for (size_t i = 0; st == NSS_STATUS_SUCCESS && gr.gr_mem[i]; i++)
                        flips += strcmp(gr.gr_mem[i], "flip") == 0;
                *ret_value = st == NSS_STATUS_SUCCESS && gr.gr_gid == XM_GID && flips <= 1 ? flips : -1;
        } else {
                long start = 1, size = 4;
                gid_t *groups = calloc((size_t) size, sizeof(gid_t));
                if (!groups)
                        return NSS_STATUS_TRYAGAIN;
                groups[0] = FLIP_UID;
                st = nss.initgroups_dyn("flip", FLIP_UID, &start, &size, &groups, -1, &errnop);
                /* The personal group is the primary one (never added); xm is the only other. */
                *ret_value = start == 1 ? 0 : start == 2 && groups[1] == XM_GID ? 1 : -1;
                free(groups);
        }
        return (int) st;
}

/* The commands finished by `at` (now_s()), from the writer's clock readings. */
static int done_by(double at) {
        int k = atomic_load(&stream->done);
        while (k > 0 && stream->done_at[k] > at)
                k--;
        return k;
}

/*
 * One lookup of each kind. A new process opens the snapshot current at its first call and keeps
 * it for the others: their window starts with the process. A running process looks at most once
 * a second whether roles.db was replaced: it may answer from any snapshot current in the second
 * before the call.
 */
static void record_lookups(bool fresh) {
        int fresh_lo = atomic_load(&stream->done);
        for (int kind = LOOKUP_PASSWD; kind <= LOOKUP_GROUP; kind++) {
                int i = atomic_fetch_add(&stream->n_lookups, 1);
                if (i >= MAX_LOOKUPS)
                        return;
                struct lookup_record *rec = &stream->lookups[i];
                rec->lo = fresh ? fresh_lo : done_by(now_s() - NSS_RECHECK_SLACK);
                rec->kind = (enum lookup_kind) kind;
                rec->fresh = fresh;
                rec->status = lookup(rec->kind, &rec->value);
                rec->hi = atomic_load(&stream->started);
        }
}

static void run_lookups(void) {
        /* Before the module's first call: it reads its configuration when it opens the store. */
        setenv("ROLES_CONF", fx.open_conf, 1);
        char err[PATH_MAX + 128];
        if (nss_module_load(NSS_MODULE_PATH, "roles", &nss, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s\n", err);
                _exit(3);
        }
        for (unsigned round = 0; !atomic_load(&stream->over) && atomic_load(&stream->n_lookups) < MAX_LOOKUPS; round++) {
                if (round % FRESH_EVERY != 0) {
                        record_lookups(false);
                        sleep_us(500);
                        continue;
                }
                /* A new process: the module drops the connections it inherited and opens the
                 * snapshot current now. */
                pid_t pid = fork();
                if (pid == 0) {
                        record_lookups(true);
                        _exit(0);
                }
                int status;
                if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        _exit(5);
        }
}

/* Fork a child running fn; it ends with _exit(0) unless fn exits otherwise. */
static pid_t spawn(void (*fn)(int), int arg) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(300);
                fn(arg);
                _exit(0);
        }
        return pid;
}

static void writer_main(int unused) {
        (void) unused;
        run_writer();
}

static void lookups_main(int unused) {
        (void) unused;
        run_lookups();
}

static bool lookup_allowed(const struct lookup_record *rec) {
        for (int k = rec->lo; k <= rec->hi; k++) {
                const struct truth *t = &stream->truth[k];
                int want = rec->kind == LOOKUP_PASSWD ? t->gen : t->enabled && t->granted;
                if (rec->value == want)
                        return true;
        }
        return false;
}

static void describe_window(int lo, int hi, char *buf, size_t size) {
        size_t len = 0;
        for (int k = lo; k <= hi && len < size; k++) {
                const struct truth *t = &stream->truth[k];
                int n = snprintf(buf + len, size - len, " [%d: %s, %s, password %d, gen %d]", k,
                                 t->enabled ? "enabled" : "disabled", t->granted ? "login.x" : "no login.x", t->password,
                                 t->gen);
                len += n > 0 ? (size_t) n : 0;
        }
}

/* Every login's answer is one that some state of its window gives. */
static void check_logins(int *ret_in, int *ret_out, int *ret_torn_chances) {
        char states[1024];
        for (int id = 0; id < STREAM_LOGINERS; id++) {
                for (int i = 0; i < atomic_load(&stream->n_logins[id]); i++) {
                        const struct login_record *rec = &stream->logins[id][i];
                        bool can_in = false, can_out = false, wrong_password = false, denied = false;
                        for (int k = rec->lo; k <= rec->hi; k++) {
                                const struct truth *t = &stream->truth[k];
                                can_in |= allows_login(t, rec->typed);
                                can_out |= !allows_login(t, rec->typed);
                                wrong_password |= t->password != rec->typed;
                                denied |= !t->enabled || !t->granted;
                        }
                        bool in = logged_in(rec->o);
                        /* A refusal is a wrong password (auth) or a denied account (either phase,
                         * depending on where the module judges it), never an error. */
                        bool refusal_ok = (rec->o.auth == PAM_AUTH_ERR && (wrong_password || denied)) ||
                                          ((rec->o.auth == PAM_SUCCESS && rec->o.acct == PAM_PERM_DENIED) && denied);
                        describe_window(rec->lo, rec->hi, states, sizeof(states));
                        if (in && !can_in)
                                fail_msg("login %d.%d (password %d, waited for %d commands) got in, but no state that "
                                         "held during it allows that:%s", id, i, rec->typed, rec->waited, states);
                        if (!in && (!can_out || !refusal_ok))
                                fail_msg("login %d.%d (password %d, waited for %d commands) refused with auth %d, "
                                         "account %d, which no state that held during it gives:%s",
                                         id, i, rec->typed, rec->waited, rec->o.auth, rec->o.acct, states);
                        *(in ? ret_in : ret_out) += 1;
                        /* Opened on an enabled account with the role, typed the next password once
                         * it was set, and no state of its window lets it in: a login that mixed the
                         * account of its start with the secrets of its end would have got in. */
                        const struct truth *first = &stream->truth[rec->lo];
                        int typed_at_k = rec->lo + rec->waited < STREAM_COMMANDS ? rec->lo + rec->waited : STREAM_COMMANDS;
                        const struct truth *typed_at = &stream->truth[typed_at_k];
                        if (first->enabled && first->granted && typed_at->password == rec->typed && !can_in)
                                (*ret_torn_chances)++;
                }
        }
}

static void check_lookups(int *ret_fresh, int *ret_running) {
        char states[1024];
        static const char *const kinds[] = { "getpwnam(flip)", "initgroups(flip)", "getgrnam(xm)" };
        int n = atomic_load(&stream->n_lookups);
        for (int i = 0; i < n && i < MAX_LOOKUPS; i++) {
                const struct lookup_record *rec = &stream->lookups[i];
                describe_window(rec->lo, rec->hi, states, sizeof(states));
                if (rec->status != NSS_STATUS_SUCCESS || rec->value < 0 || !lookup_allowed(rec))
                        fail_msg("%s in a %s process: status %d, value %d, which no state of its window gives:%s",
                                 kinds[rec->kind], rec->fresh ? "new" : "running", rec->status, rec->value, states);
                *(rec->fresh ? ret_fresh : ret_running) += 1;
        }
}

static void test_logins_during_admin_stream(void **state) {
        (void) state;
        stream = shared_alloc(sizeof(*stream));
        stream->truth[0] = (struct truth) { .enabled = true, .granted = true, .password = 0, .gen = 0 };
        for (int k = 1; k <= STREAM_COMMANDS; k++) {
                struct command_line unused;
                stream->truth[k] = stream->truth[k - 1];
                stream_command(k, &stream->truth[k], &unused);
        }
        char password[64];
        stream_password(0, password, sizeof(password));
        add_user("flip", "10200", password);
        ROLESCTL_OK("user", "mod", "flip", "--full-name", "Flip 0", "--home", "/home/flip-0");

        double t0 = now_s();
        pid_t pids[STREAM_LOGINERS + 2];
        pids[0] = spawn(writer_main, 0);
        pids[1] = spawn(lookups_main, 0);
        for (int i = 0; i < STREAM_LOGINERS; i++)
                pids[2 + i] = spawn(run_logins, i);
        for (size_t i = 0; i < N_ELEMENTS(pids); i++) {
                int status;
                while (waitpid(pids[i], &status, 0) < 0)
                        assert_int_equal(errno, EINTR);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        fail_msg("stream process %zu ended with status %#x", i, status);
        }
        double took = now_s() - t0;
        assert_int_equal(atomic_load(&stream->failed), 0);
        assert_int_equal(atomic_load(&stream->done), STREAM_COMMANDS);

        int in = 0, out = 0, torn_chances = 0, fresh = 0, running = 0;
        check_logins(&in, &out, &torn_chances);
        check_lookups(&fresh, &running);
        print_message("%d commands in %.1f s; %d logins (%d in, %d refused; %d could have shown a torn read), "
                      "%d lookups in running processes, %d in new ones\n",
                      STREAM_COMMANDS, took, in + out, in, out, torn_chances, running, fresh);
        /* Enough of everything for the checks to mean something. */
        assert_true(in >= 20 && out >= 20 && torn_chances >= 5);
        assert_true(running >= 100 && fresh >= 20);

        /* The writer did what the model says: the last state, seen by rolesctl and a login. */
        const struct truth *last = &stream->truth[STREAM_COMMANDS];
        assert_int_equal(rolesctl(NULL, NULL, 0, "check", "flip", "login.x", (const char *) NULL),
                         last->enabled && last->granted ? 0 : 1);
        stream_password(last->password, password, sizeof(password));
        struct login l = { .service = SVC_LOGIN, .user = "flip", .password = password };
        assert_int_equal(logged_in(pam_login(&l)), allows_login(last, last->password));
        munmap(stream, sizeof(*stream));
}

int main(void) {
        if (!PAM_MODULE_PATH[0] || !ROLESCTL_PATH[0] || !NSS_MODULE_PATH[0]) {
                fprintf(stderr, "built without the paths of pam_roles.so, rolesctl and libnss_roles.so.2\n");
                return 2;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parallel_wrong_passwords),
                cmocka_unit_test(test_totp_race),
                cmocka_unit_test(test_lock_while_code_prompt_open),
                cmocka_unit_test(test_disabled_while_code_prompt_open),
                cmocka_unit_test(test_change_while_prompt_open),
                cmocka_unit_test(test_logins_during_admin_stream),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
