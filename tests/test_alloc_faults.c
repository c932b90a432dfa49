/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure at every point where it can be injected (issue 5). Each operation runs
 * once per allocation it makes, with that allocation failing ("once") or that one and every
 * later one ("from"), until a run completes without reaching the failure. Every run must end
 * in the right answer or a clean failure:
 *
 *   core reads   the right row, decision or resolution; or an error that is not "no such
 *                entry" (a refusal never turns into a grant, nor a grant into a refusal),
 *                with the caller's out-parameter untouched;
 *   core writes  the change whole, or an error with the three files byte-identical, no file
 *                left behind, and each passing PRAGMA integrity_check;
 *   rolesctl     the same, with exactly one "rolesctl: ..." line on stderr and a non-zero exit
 *                (or, failing after the snapshot is published, the change published and the
 *                error saying so: the deleted user's secrets and state rows are doctor's);
 *   NSS          the right entry, or UNAVAIL / TRYAGAIN (never NOTFOUND for an entry that
 *                exists, never wrong data), and the module answers right again afterwards,
 *                both with its store open ("warm") and opening it ("cold", in a forked child);
 *   PAM          through the real libpam: PAM_SUCCESS only when it is due and nothing failed;
 *                never for a wrong password or TOTP code, a locked, disabled or unpermitted
 *                account; never PAM_USER_UNKNOWN for a user that exists; and state.db never
 *                left write-locked by the store the handle keeps until pam_end.
 *
 * Two layers fail, apart. SQLite's allocator (SQLITE_CONFIG_MALLOC wrapping the default one)
 * serves every allocation SQLite makes for the store, the NSS module and the PAM module, which
 * share this process's libsqlite3. libc's malloc, calloc, realloc and reallocarray, interposed
 * by this executable (ALLOC_FAULTS_LIBC), fail for everything else: our own allocations and
 * libc's (fopen, glibc's NSS). PAM is left out of that layer, as libpam's own allocations would
 * fail too. The sanitizers own malloc, so ASan builds compile the libc layer out, and valgrind
 * replaces it, so it is skipped there (where, 50 times slower, every 29th point is taken); the
 * SQLite layer runs everywhere. Failures SQLite declares benign (it carries on without the
 * memory) are counted apart: only they may let an operation that had to fail succeed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <liboath/oath.h>
#include <nss.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <shadow.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "authz.h"
#include "cli.h"
#include "nss_loader.h"
#include "pam_harness.h"
#include "writer.h"
#include "testlib.h"
#include "util.h"

#ifndef NSS_MODULE_PATH
#define NSS_MODULE_PATH ""
#endif
#ifndef PAM_MODULE_PATH
#define PAM_MODULE_PATH ""
#endif

/* No operation here makes this many allocations: reaching it means the loop never ends. */
#define POINTS_MAX 20000

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/*
 * Every point, except under valgrind (some 50 times slower), where the first points and then
 * every 29th are taken: the failure paths it checks for leaks are still of every kind, and a
 * write's thousands of points stay minutes, not hours.
 */
static unsigned long next_point(unsigned long n) {
        return RUNNING_ON_VALGRIND && n >= 64 ? n + 29 : n + 1;
}

/* ---- the allocators that fail on demand ------------------------------------------------------ */

enum fault_layer { LAYER_SQLITE, LAYER_LIBC };
enum fault_mode { FAIL_ONCE, FAIL_FROM };
static const char *const layer_names[] = { "sqlite", "libc" };
static const char *const mode_names[] = { "once", "from" };

static struct {
        bool armed;
        enum fault_layer layer;
        enum fault_mode mode;
        unsigned long target;           /* the allocation to fail, counted from 1 */
        unsigned long seen;             /* allocations while armed */
        unsigned long failed;           /* failures injected */
        unsigned long failed_benign;    /* of those, inside a region SQLite declares benign */
        int benign_depth;
        int in_sqlite;                  /* inside SQLite's allocator: libc's malloc is its, not ours */
} fault;

static bool fault_now(enum fault_layer layer) {
        if (!fault.armed || fault.layer != layer || (layer == LAYER_LIBC && fault.in_sqlite > 0))
                return false;
        fault.seen++;
        if (fault.seen < fault.target || (fault.mode == FAIL_ONCE && fault.seen > fault.target))
                return false;
        fault.failed++;
        if (fault.benign_depth > 0)
                fault.failed_benign++;
        return true;
}

static void fault_arm(enum fault_layer layer, enum fault_mode mode, unsigned long target) {
        fault.layer = layer;
        fault.mode = mode;
        fault.target = target;
        fault.seen = fault.failed = fault.failed_benign = 0;
        fault.armed = true;
}

static void fault_disarm(void) {
        fault.armed = false;
}

static sqlite3_mem_methods sqlite_default;

/* The layers are disjoint: what SQLite asks for fails in this one only, not again in libc's. */
static void *sqlite_malloc(int n) {
        if (fault_now(LAYER_SQLITE))
                return NULL;
        fault.in_sqlite++;
        void *p = sqlite_default.xMalloc(n);
        fault.in_sqlite--;
        return p;
}

static void *sqlite_realloc(void *p, int n) {
        if (fault_now(LAYER_SQLITE))
                return NULL;
        fault.in_sqlite++;
        void *q = sqlite_default.xRealloc(p, n);
        fault.in_sqlite--;
        return q;
}

static void benign_begin(void) {
        fault.benign_depth++;
}

static void benign_end(void) {
        fault.benign_depth--;
}

/* Before anything initializes SQLite: the allocator can only be replaced before that. */
static void install_sqlite_faults(void) {
        sqlite3_mem_methods m;
        if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK)
                abort();
        m = sqlite_default;
        m.xMalloc = sqlite_malloc;
        m.xRealloc = sqlite_realloc;
        if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK)
                abort();
        sqlite3_test_control(SQLITE_TESTCTRL_BENIGN_MALLOC_HOOKS, benign_begin, benign_end);
}

#ifdef ALLOC_FAULTS_LIBC
/* glibc's own allocator under its exported internal names: what these wrappers hand on to, so
 * memory from any of them (or from memalign, not wrapped) can be freed by glibc's free. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n) {
        if (fault_now(LAYER_LIBC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
        if (fault_now(LAYER_LIBC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
        if (fault_now(LAYER_LIBC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __libc_realloc(p, n);
}

/* glibc's reallocarray may reach its realloc without passing through ours. */
void *reallocarray(void *p, size_t n, size_t size) {
        size_t bytes;
        if (__builtin_mul_overflow(n, size, &bytes)) {
                errno = ENOMEM;
                return NULL;
        }
        return realloc(p, bytes);
}
#define N_LAYERS 2
#else
#define N_LAYERS 1
#endif

/* ---- running one operation at every injection point -------------------------------------------- */

enum outcome { RIGHT, CLEAN_FAILURE, WRONG };

/*
 * One operation under test. prepare and judge run unarmed (judge also restores what a
 * successful write changed), act runs armed. The fields after judge are the families' inputs.
 */
struct fault_case {
        const char *name;
        void (*prepare)(struct fault_case *c);
        void (*act)(struct fault_case *c);
        enum outcome (*judge)(struct fault_case *c, char *why, size_t size);
        bool strict;            /* every SQLite failure (not benign) must make it fail */
        bool recheck;           /* state survives the call: after a failure it must answer right */
        bool in_child;          /* run in a forked child: the NSS module opens its store afresh */
        bool sqlite_only;       /* not under the libc layer */
        bool libc_only;         /* not under the SQLite layer: the call opens no database */
        int kind;               /* which call of the family */
        const char *who;        /* a user or group name */
        uint32_t id;
        const char *perm;
        int expected;           /* PAM: the status when nothing fails */
        const char *expect;     /* the reference answer must contain this (a sanity check) */
        char golden[4096];      /* the reference answer, taken unarmed */
};

/* What the last act saw: a status and the answer as text. */
static struct {
        int r;
        bool after_open;        /* core reads: the store opened, the failure is the lookup's */
        bool touched;           /* an out-parameter was written although the call failed */
        char text[8192];
} got;

static enum outcome run_once(struct fault_case *c, bool armed, enum fault_layer layer, enum fault_mode mode,
                             unsigned long n, char *why, size_t size) {
        if (c->prepare)
                c->prepare(c);
        if (armed)
                fault_arm(layer, mode, n);
        c->act(c);
        fault_disarm();
        return c->judge(c, why, size);
}

/* One run with allocation n failing, and the rules every case shares. */
static enum outcome run_checked(struct fault_case *c, enum fault_layer layer, enum fault_mode mode, unsigned long n,
                                unsigned long *ret_seen, bool *ret_injected, char *why, size_t size) {
        enum outcome o = run_once(c, true, layer, mode, n, why, size);
        unsigned long failed = fault.failed, benign = fault.failed_benign;

        *ret_seen = fault.seen;
        *ret_injected = failed > 0;
        if (o == WRONG)
                return o;
        if (failed == 0 && o != RIGHT) {
                char reason[512];
                snprintf(reason, sizeof(reason), "%s", why);
                snprintf(why, size, "failed although no allocation failed (%lu made): %.400s", fault.seen, reason);
                return WRONG;
        }
        /* libc's failures may be swallowed by design: best-effort work (sweeping a dead writer's
         * staged copies), or glibc's NSS taking a service it could not ask (files, when fopen
         * fails) as "try the next one" when rolesctl asks whether a name is a local one. */
        if (c->strict && layer == LAYER_SQLITE && failed > benign && o == RIGHT) {
                snprintf(why, size, "succeeded although %lu allocation(s) failed", failed - benign);
                return WRONG;
        }
        if (failed > 0 && c->recheck) {
                char again[512] = "";
                if (run_once(c, false, layer, mode, 0, again, sizeof(again)) != RIGHT) {
                        snprintf(why, size, "wrong answer after recovering from the failure: %s", again);
                        return WRONG;
                }
        }
        return o;
}

struct child_report {
        enum outcome outcome;
        unsigned long seen;
        bool injected;
        char why[512];
};

static enum outcome run_checked_in_child(struct fault_case *c, enum fault_layer layer, enum fault_mode mode,
                                         unsigned long n, unsigned long *ret_seen, bool *ret_injected, char *why,
                                         size_t size) {
        struct child_report rep = { .outcome = WRONG };
        int fds[2], status = 0;

        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                rep.outcome = run_checked(c, layer, mode, n, &rep.seen, &rep.injected, rep.why, sizeof(rep.why));
                _exit(write(fds[1], &rep, sizeof(rep)) == (ssize_t) sizeof(rep) ? 0 : 1);
        }
        close(fds[1]);
        ssize_t got_bytes = read(fds[0], &rep, sizeof(rep));
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (got_bytes != (ssize_t) sizeof(rep) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                snprintf(why, size, "the child died: %s (status %#x)",
                         WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no report", status);
                return WRONG;
        }
        *ret_seen = rep.seen;
        *ret_injected = rep.injected;
        snprintf(why, size, "%s", rep.why);
        return rep.outcome;
}

static double seconds_since(const struct timespec *start) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - start->tv_sec) + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Fail allocation 1, 2, ... until a run makes fewer; returns how many points there were (the
 * allocations of that last run). */
static unsigned long inject_each(struct fault_case *c, enum fault_layer layer, enum fault_mode mode) {
        unsigned long clean = 0;
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (unsigned long n = 1; n <= POINTS_MAX; n = next_point(n)) {
                char why[512] = "";
                unsigned long seen = 0;
                bool injected = false;
                enum outcome o = c->in_child ? run_checked_in_child(c, layer, mode, n, &seen, &injected, why, sizeof(why))
                                             : run_checked(c, layer, mode, n, &seen, &injected, why, sizeof(why));
                if (o == WRONG)
                        fail_msg("%s [%s, %s]: allocation %lu failing: %s", c->name, layer_names[layer],
                                 mode_names[mode], n, why);
                if (!injected) {
                        print_message("    %-44s %-6s %-4s %5lu points, %5lu clean failures, %6.1f s\n", c->name,
                                      layer_names[layer], mode_names[mode], seen, clean, seconds_since(&start));
                        return seen;
                }
                clean += o == CLEAN_FAILURE;
        }
        fail_msg("%s [%s, %s]: still allocating after %d injection points", c->name, layer_names[layer],
                 mode_names[mode], POINTS_MAX);
        return 0;
}

/* The reference answer, unarmed: it must be right by the case's own sanity check. */
static void take_golden(struct fault_case *c) {
        if (c->prepare)
                c->prepare(c);
        c->act(c);
        if (got.r < 0 || !strstr(got.text, c->expect))
                fail_msg("%s: reference run answered %d \"%s\", expected it to contain \"%s\"", c->name, got.r,
                         got.text, c->expect);
        if (strlen(got.text) >= sizeof(c->golden))
                fail_msg("%s: reference answer too long", c->name);
        memcpy(c->golden, got.text, strlen(got.text) + 1);
        char why[512] = "";
        if (c->judge(c, why, sizeof(why)) != RIGHT)
                fail_msg("%s: reference run judged wrong: %s", c->name, why);
}

static void run_cases(struct fault_case *cases, size_t n) {
        /* valgrind puts its own malloc in place of this executable's too: no libc layer there. */
        int n_layers = RUNNING_ON_VALGRIND ? 1 : N_LAYERS;
        for (size_t i = 0; i < n; i++) {
                if (cases[i].expect)
                        take_golden(&cases[i]);
                for (int layer = 0; layer < n_layers; layer++) {
                        if ((layer == LAYER_LIBC && cases[i].sqlite_only) ||
                            (layer == LAYER_SQLITE && cases[i].libc_only))
                                continue;
                        unsigned long once = inject_each(&cases[i], layer, FAIL_ONCE);
                        unsigned long from = inject_each(&cases[i], layer, FAIL_FROM);
                        /* Every operation here has SQLite allocate: both passes really ran. */
                        if (layer == LAYER_SQLITE)
                                assert_true(once > 0 && from > 0);
                }
        }
}

/* ---- the database ----------------------------------------------------------------------------------- */

static struct test_env env;
static char conf_path[PATH_MAX], pam_dir[PATH_MAX], stderr_path[PATH_MAX];
static const char password[] = "correct horse battery";
static char new_hash[ROLES_HASH_ENCODED_MAX];

/* RFC 6238's test secret: tom's TOTP. */
#define TOTP_SECRET_B32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define TOTP_SECRET_RAW "12345678901234567890"

#define GID_DEVS 20100u
#define GID_STAFF 20500u

/*
 * alice   operator (-> senior -> crew: login.test; db.read on the role), in devs
 * rita    no role, in devs: refused by permission=login.test (a uid no other test's processes
 *         run as: user del refuses a user some process runs as, and meson runs tests side by side)
 * tom     operator, TOTP enrolled
 * lou     operator, locked out until an administrator unlocks
 * dan     operator, disabled
 */
static struct roles_user alice, rita, tom, lou, dan;

static void add_user(struct roles_writer *s, const char *name, uint32_t uid, bool enabled, const char *hash,
                     struct roles_user *ret) {
        struct roles_user u = test_user(name);
        u.uid = uid;
        u.enabled = enabled;
        u.activated_at = (int64_t) time(NULL);
        snprintf(u.gecos, sizeof(u.gecos), "%c%s", name[0] - 'a' + 'A', name + 1);
        test_user_insert(s, &u, hash);
        *ret = u;
}

static void build_database(void) {
        struct roles_hash_params params;
        char hash[ROLES_HASH_ENCODED_MAX];
        roles_hash_params_from_config(&env.cfg, &params);
        assert_int_equal(roles_password_hash(password, strlen(password), &params, hash), 0);
        static const char another[] = "another password";
        assert_int_equal(roles_password_hash(another, strlen(another), &params, new_hash), 0);

        struct roles_writer *s = test_writer(&env);
        add_user(s, "alice", 10100, true, hash, &alice);
        add_user(s, "rita", 10989, true, hash, &rita);
        add_user(s, "tom", 10102, true, hash, &tom);
        add_user(s, "lou", 10103, true, hash, &lou);
        add_user(s, "dan", 10104, false, hash, &dan);
        assert_ok(s, roles_secret_set_totp(s, tom.uuid, TOTP_SECRET_B32));

        struct roles_group devs = test_add_group(s, "devs", GID_DEVS);
        assert_ok(s, roles_group_add_member(s, &devs, &alice));
        assert_ok(s, roles_group_add_member(s, &devs, &rita));

        struct roles_metarole crew = test_add_metarole(s, "crew"), senior = test_add_metarole(s, "senior");
        assert_ok(s, roles_metarole_include(s, &senior, &crew));
        assert_ok(s, roles_metarole_grant(s, &crew, "login.test"));
        assert_ok(s, roles_metarole_publish(s, &crew, GID_STAFF));

        struct roles_role operator = test_add_role(s, "operator", "senior");
        assert_ok(s, roles_role_grant(s, &operator, "db.read"));
        const struct roles_user *holders[] = { &alice, &tom, &lou, &dan };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(holders); i++)
                assert_ok(s, roles_role_assign(s, &operator, holders[i], 0));
        test_commit(s);

        /* lou: one failure with deny = 1 and no unlock time, as PAM would count it. */
        struct roles_tally t;
        struct roles_login *l = test_login(&env);
        assert_ok(l, roles_state_tally_fail(roles_login_secrets(l), lou.uuid, time(NULL), 1, 900, 0, &t));
        assert_int_equal(t.locked_until, -1);
        test_close(l);
}

static void write_configuration(void) {
        char text[4 * PATH_MAX];
        snprintf(conf_path, sizeof(conf_path), "%s/roles.conf", env.dir);
        int n = snprintf(text, sizeof(text),
                 "public_db = %s\nsecrets_db = %s\nstate_db = %s\n" TEST_CONF_ID_RANGES
                 "argon2_t_cost = 1\nargon2_m_cost_kib = 1024\nargon2_parallelism = 1\n",
                 env.cfg.public_db, env.cfg.secrets_db, env.cfg.state_db);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        test_write_file(conf_path, text);

        /* The PAM stack: the module under test by absolute path, its configuration by conf=. */
        snprintf(pam_dir, sizeof(pam_dir), "%s/pam.d", env.dir);
        assert_int_equal(mkdir(pam_dir, 0755), 0);
        char service[PATH_MAX + 16];
        snprintf(service, sizeof(service), "%s/roles-faults", pam_dir);
        n = snprintf(text, sizeof(text),
                     "auth    required %s conf=%s\n"
                     "account required %s conf=%s permission=login.test\n",
                     PAM_MODULE_PATH, conf_path, PAM_MODULE_PATH, conf_path);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        test_write_file(service, text);
}

/* ---- the files as they were: compare, check, restore ---------------------------------------------- */

struct file_image {
        const char *path;
        mode_t mode;
        char *data;
        size_t len;
        bool wal;               /* roles.db, secrets.db: judged by rows (a checkpoint rewrites bytes) */
        uint64_t rows;          /* then: the digest of every row of every table */
};

/* Every row of every table of a database, as one number (FNV-1a over the text of each value):
 * what a reader can see of it, whichever of the file and its WAL holds it. */
static uint64_t rows_digest(const char *path) {
        sqlite3 *db = NULL;
        sqlite3_stmt *tables = NULL;
        uint64_t h = 0xcbf29ce484222325ULL;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name", -1,
                                            &tables, NULL), SQLITE_OK);
        while (sqlite3_step(tables) == SQLITE_ROW) {
                char sql[256];
                sqlite3_stmt *rows = NULL;
                snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1, 2", (const char *) sqlite3_column_text(tables, 0));
                if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK)
                        snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1", (const char *) sqlite3_column_text(tables, 0)),
                        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
                while (sqlite3_step(rows) == SQLITE_ROW)
                        for (int c = 0; c < sqlite3_column_count(rows); c++) {
                                const unsigned char *v = sqlite3_column_text(rows, c);
                                for (const unsigned char *q = v ? v : (const unsigned char *) "\x01NULL"; *q; q++)
                                        h = (h ^ *q) * 0x100000001b3ULL;
                                h = (h ^ 0xff) * 0x100000001b3ULL;
                        }
                sqlite3_finalize(rows);
        }
        sqlite3_finalize(tables);
        sqlite3_close(db);
        return h;
}

/* roles.db's WAL folded into it and emptied, so that its bytes alone are its state. */
static void checkpoint(const char *path) {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
}
static struct file_image pristine[3];
static char pristine_listing[1024];

/* The directory's entries, sorted, one string: a staged snapshot or a journal left shows here. */
static void list_dir(char *buf, size_t size) {
        struct dirent **names;
        int n = scandir(env.dir, &names, NULL, alphasort);
        assert_true(n >= 0);
        size_t len = 0;
        buf[0] = '\0';
        for (int i = 0; i < n; i++) {
                /* The WALs and WAL indexes are SQLite's: they come and go with connections. */
                const char *suffix = strrchr(names[i]->d_name, '-');
                if (!suffix || (strcmp(suffix, "-wal") != 0 && strcmp(suffix, "-shm") != 0))
                        len += (size_t) snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s ",
                                                 names[i]->d_name);
                free(names[i]);
        }
        free(names);
        assert_true(len < size);
}

static int integrity(const char *path, char *why, size_t size) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        const char *result = rc == SQLITE_ROW ? (const char *) sqlite3_column_text(st, 0) : NULL;
        int r = result && strcmp(result, "ok") == 0 ? 0 : -EIO;
        if (r < 0)
                snprintf(why, size, "%s: integrity_check: %s", path, result ? result : sqlite3_errstr(rc));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return r;
}

static void take_pristine(void) {
        const char *paths[] = { env.cfg.public_db, env.cfg.secrets_db, env.cfg.state_db };
        const mode_t modes[] = { 0644, 0600, 0600 };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(pristine); i++) {
                pristine[i] = (struct file_image) { .path = paths[i], .mode = modes[i], .wal = i < 2 };
                if (pristine[i].wal) {
                        checkpoint(paths[i]);
                        pristine[i].rows = rows_digest(paths[i]);
                }
                pristine[i].data = test_read_file(paths[i], &pristine[i].len);
                assert_non_null(pristine[i].data);
                char why[512];
                if (integrity(paths[i], why, sizeof(why)) < 0)
                        fail_msg("%s", why);
        }
        list_dir(pristine_listing, sizeof(pristine_listing));
}

static bool file_is_pristine(const struct file_image *p) {
        size_t len;
        if (p->wal)
                return rows_digest(p->path) == p->rows;
        char *now = test_read_file(p->path, &len);
        bool same = now && len == p->len && memcmp(now, p->data, len) == 0;
        free(now);
        return same;
}

/* No staged snapshot, journal or other file left in the directory. */
static bool nothing_left_behind(char *why, size_t size) {
        char listing[sizeof(pristine_listing)];
        list_dir(listing, sizeof(listing));
        if (strcmp(listing, pristine_listing) == 0)
                return true;
        snprintf(why, size, "the directory holds \"%s\", before the call \"%s\"", listing, pristine_listing);
        return false;
}

/* Byte-identical files (so as sound as they were: take_pristine checked them) and nothing
 * added to the directory. */
static enum outcome files_unchanged(char *why, size_t size) {
        for (size_t i = 0; i < ROLES_N_ELEMENTS(pristine); i++)
                if (!file_is_pristine(&pristine[i])) {
                        snprintf(why, size, "%s changed although the call failed", pristine[i].path);
                        return WRONG;
                }
        return nothing_left_behind(why, size) ? CLEAN_FAILURE : WRONG;
}

/*
 * The documented failure of roles.db's own commit ("cannot publish"): the writer undoes the
 * secrets.db half at once and commits over what it may have left in the WAL, so the files
 * differ byte for byte from before, but none of the change is there to any reader. absent:
 * whether a reader sees none of it.
 */
static enum outcome undone_at_once(bool absent, char *why, size_t size) {
        if (!absent) {
                snprintf(why, size, "failed to publish, but (some of) the change is there");
                return WRONG;
        }
        for (size_t i = 0; i < ROLES_N_ELEMENTS(pristine); i++)
                if (integrity(pristine[i].path, why, size) < 0)
                        return WRONG;
        return nothing_left_behind(why, size) ? CLEAN_FAILURE : WRONG;
}

/* Put back what a successful write changed (a new file renamed over, as the writer does). */
static void restore_pristine(void) {
        for (size_t i = 0; i < ROLES_N_ELEMENTS(pristine); i++) {
                const struct file_image *p = &pristine[i];
                char tmp[PATH_MAX + 16];
                if (file_is_pristine(p))
                        continue;
                snprintf(tmp, sizeof(tmp), "%s.restore", p->path);
                int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, p->mode);
                assert_true(fd >= 0);
                assert_int_equal(fchmod(fd, p->mode), 0);
                assert_int_equal(write(fd, p->data, p->len), (ssize_t) p->len);
                assert_int_equal(close(fd), 0);
                assert_int_equal(rename(tmp, p->path), 0);
                if (p->wal) {   /* its WAL held what is undone now: it goes (the next opener makes one) */
                        char side[PATH_MAX + 16];
                        snprintf(side, sizeof(side), "%s-wal", p->path);
                        unlink(side);
                        snprintf(side, sizeof(side), "%s-shm", p->path);
                        unlink(side);
                }
        }
}

/* ---- core reads: open, lookups, roles_check, roles_resolve ---------------------------------------------- */

enum core_read { READ_OPEN, READ_USER_BY_NAME, READ_USER_BY_UID, READ_GROUP_BY_NAME, READ_CHECK, READ_RESOLVE };

static void describe_user(const struct roles_user *u, char *buf, size_t size) {
        snprintf(buf, size, "%lld %s %s:%u:%u:%s:%s:%s enabled=%d created=%lld updated=%lld activated=%lld expires=%lld",
                 (long long) u->id, u->uuid, u->name, u->uid, u->gid, u->gecos, u->home, u->shell, u->enabled,
                 (long long) u->created_at, (long long) u->updated_at, (long long) u->activated_at,
                 (long long) u->expires_at);
}

static void describe_resolution(const struct roles_resolution *res, char *buf, size_t size) {
        size_t len = (size_t) snprintf(buf, size, "%s inactive=%s super=%d roles:", res->user,
                                       res->inactive ? res->inactive : "-", res->superuser);
        for (size_t i = 0; i < res->n_roles && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, " %s/%s/%zu", res->roles[i].name,
                                         res->roles[i].metarole_code, res->roles[i].metarole);
        for (size_t i = 0; i < res->n_metaroles && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, " metarole %s via %zu/%zu", res->metaroles[i].code,
                                         res->metaroles[i].via_metarole, res->metaroles[i].via_role);
        for (size_t i = 0; i < res->n_grants && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, " grant %s %d/%zu%s", res->grants[i].perm,
                                         res->grants[i].source, res->grants[i].index,
                                         res->grants[i].disabled ? " disabled" : "");
}

#define SENTINEL 0xA5

static bool all_sentinel(const void *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (((const unsigned char *) p)[i] != SENTINEL)
                        return false;
        return true;
}

/* The lookup itself, on a store that opened: 0 with got.text filled, or -errno. */
static int core_lookup(struct roles_snapshot *s, const struct fault_case *c) {
        union {
                struct roles_user u;
                struct roles_group g;
                struct roles_resolution *res;
        } out;
        int r;

        memset(&out, SENTINEL, sizeof(out));
        switch (c->kind) {
        case READ_USER_BY_NAME:
        case READ_USER_BY_UID:
                r = c->kind == READ_USER_BY_NAME ? roles_user_by_name(s, c->who, &out.u) : roles_user_by_uid(s, c->id, &out.u);
                if (r == 0)
                        describe_user(&out.u, got.text, sizeof(got.text));
                break;
        case READ_GROUP_BY_NAME:
                r = roles_group_by_name(s, c->who, &out.g);
                if (r == 0)
                        snprintf(got.text, sizeof(got.text), "%lld %s %s:%u %s", (long long) out.g.id, out.g.uuid,
                                 out.g.name, out.g.gid, out.g.description);
                break;
        case READ_CHECK:
                r = roles_check(s, c->who, c->perm, time(NULL));
                if (r >= 0)
                        snprintf(got.text, sizeof(got.text), "%s %s: %d", c->who, c->perm, r);
                return r < 0 ? r : 0;
        case READ_RESOLVE: {
                struct roles_user u;
                r = roles_user_by_name(s, c->who, &u);
                if (r == 0)
                        r = roles_resolve(s, &u, time(NULL), &out.res);
                if (r == 0) {
                        describe_resolution(out.res, got.text, sizeof(got.text));
                        roles_resolution_free(out.res);
                }
                break;
        }
        default:
                r = -EINVAL;
        }
        got.touched = r < 0 && !all_sentinel(&out, sizeof(out));
        return r;
}

static void act_core_read(struct fault_case *c) {
        struct roles_snapshot *s = (struct roles_snapshot *) &got;      /* a sentinel: must stay on failure */
        char err[512] = "";

        got.text[0] = '\0';
        got.after_open = false;
        got.touched = false;
        if (c->kind == READ_OPEN) {
                /* test_open_kind fails the test itself if a failed open wrote its output */
                got.r = test_open_kind(&env.cfg, (enum test_handle) c->id, err, sizeof(err));
                got.touched = got.r < 0 && !err[0];
                got.after_open = got.r >= 0;
                if (got.r >= 0)
                        snprintf(got.text, sizeof(got.text), "opened %u", (unsigned) c->id);
                return;
        }
        got.r = roles_snapshot_open(&env.cfg, 0, &s, err, sizeof(err));
        if (got.r < 0) {
                got.touched = s != (struct roles_snapshot *) &got || !err[0];
                return;
        }
        got.after_open = true;
        got.r = core_lookup(s, c);
        roles_snapshot_close(s);
}

static enum outcome judge_core_read(struct fault_case *c, char *why, size_t size) {
        if (got.touched) {
                snprintf(why, size, "failed with %d but wrote its out-parameter (or gave no reason)", got.r);
                return WRONG;
        }
        if (got.r >= 0) {
                if (c->golden[0] && strcmp(got.text, c->golden) != 0) {
                        snprintf(why, size, "answered \"%s\", not \"%s\"", got.text, c->golden);
                        return WRONG;
                }
                return RIGHT;
        }
        /* A lookup that fails must not say the entry is not there (NSS: NOTFOUND, PAM: unknown). */
        if (got.after_open && (got.r == -ENOENT || got.r == -EINVAL || got.r == -EBADMSG)) {
                snprintf(why, size, "failed with %s: a refusal or \"no such entry\" for what exists", strerror(-got.r));
                return WRONG;
        }
        return CLEAN_FAILURE;
}

#define CORE_READ(name_, kind_, ...) \
        { .name = name_, .act = act_core_read, .judge = judge_core_read, .kind = kind_, __VA_ARGS__ }

static struct fault_case core_reads[] = {
        CORE_READ("open read-only", READ_OPEN, .id = TEST_SNAPSHOT, .expect = "opened"),
        CORE_READ("open with secrets.db and state.db", READ_OPEN, .id = TEST_SNAPSHOT_SECRETS, .expect = "opened"),
        CORE_READ("open for a login", READ_OPEN, .id = TEST_LOGIN, .expect = "opened"),
        CORE_READ("roles_user_by_name", READ_USER_BY_NAME, .who = "alice", .expect = "alice:10100:10100:Alice:"),
        CORE_READ("roles_user_by_uid", READ_USER_BY_UID, .id = 10989, .expect = "rita:10989:10989:Rita:"),
        CORE_READ("roles_group_by_name", READ_GROUP_BY_NAME, .who = "devs", .expect = "devs:20100"),
        CORE_READ("roles_check, granted through metaroles", READ_CHECK, .who = "alice", .perm = "login.test",
                  .expect = "alice login.test: 1"),
        CORE_READ("roles_check, granted by the role", READ_CHECK, .who = "alice", .perm = "db.read",
                  .expect = "alice db.read: 1"),
        CORE_READ("roles_check, refused (no role)", READ_CHECK, .who = "rita", .perm = "login.test",
                  .expect = "rita login.test: 0"),
        CORE_READ("roles_check, refused (not held)", READ_CHECK, .who = "alice", .perm = "sudo",
                  .expect = "alice sudo: 0"),
        CORE_READ("roles_check, refused (disabled)", READ_CHECK, .who = "dan", .perm = "db.read",
                  .expect = "dan db.read: 0"),
        CORE_READ("roles_resolve", READ_RESOLVE, .who = "alice",
                  .expect = "metarole crew via 0/0 grant db.read 0/0 grant login.test 1/1"),
};

static void test_core_reads(void **state) {
        (void) state;
        run_cases(core_reads, ROLES_N_ELEMENTS(core_reads));
}

/* ---- core writes: a user added and published, a password, a failure count ------------------------------- */

enum core_write { WRITE_USER_ADD, WRITE_PASSWORD, WRITE_TALLY, WRITE_LOGIN_PASSWORD };

static int core_user_add(void) {
        struct roles_writer *s = NULL;
        int r = roles_writer_open(&env.cfg, 0, &s, NULL, 0);
        if (r < 0)
                return r;
        struct roles_user u = { .uid = 10200, .gid = ROLES_ID_INVALID, .enabled = true };
        roles_strcpy(u.name, sizeof(u.name), "carl");
        if ((r = roles_user_add(s, &u)) >= 0 && (r = roles_secret_set_email(s, u.uuid, "carl@example.org")) >= 0 &&
            (r = roles_audit(s, "user.add", u.name, "uid %u", u.uid)) >= 0)
                r = roles_writer_commit(s);
        if (r < 0)
                snprintf(got.text, sizeof(got.text), "%s", test_error(s));
        test_close(s);
        return r;
}

static int core_password(void) {
        struct roles_writer *s = NULL;
        struct roles_user u;
        int r = roles_writer_open(&env.cfg, 0, &s, NULL, 0);
        if (r < 0)
                return r;
        if ((r = roles_user_by_name(roles_writer_snapshot(s), "alice", &u)) >= 0 && (r = roles_secret_set_password(roles_writer_secrets(s), u.uuid, new_hash, false)) >= 0 &&
            (r = roles_audit(s, "user.passwd", u.name, "%s", "")) >= 0)
                r = roles_writer_commit(s);
        test_close(s);
        return r;
}

/* A login's password change: the hash, the activation and the codes dropped, whole or not at all. */
static int core_login_password(void) {
        struct roles_login *s = NULL;
        int r = roles_login_open(&env.cfg, &s, NULL, 0);
        if (r < 0)
                return r;
        r = roles_secret_change_password(roles_login_secrets(s), alice.uuid, new_hash, true);
        test_close(s);
        return r;
}

static int core_tally(void) {
        struct roles_login *s = NULL;
        struct roles_tally t = { .failures = 99 };
        int r = roles_login_open(&env.cfg, &s, NULL, 0);
        if (r < 0)
                return r;
        r = roles_state_tally_fail(roles_login_secrets(s), rita.uuid, time(NULL), 5, 900, 600, &t);
        if (r >= 0 && (t.failures != 1 || t.locked_until != 0))
                r = -EPROTO;    /* what it says it counted is not what it counted */
        test_close(s);
        return r;
}

static void act_core_write(struct fault_case *c) {
        static int (*const ops[])(void) = {
                [WRITE_USER_ADD] = core_user_add,
                [WRITE_PASSWORD] = core_password,
                [WRITE_TALLY] = core_tally,
                [WRITE_LOGIN_PASSWORD] = core_login_password,
        };
        got.r = ops[c->kind]();
}

/* Is the change there, whole? (A reader's view of all three files.) */
static bool change_is_there(int kind, char *why, size_t size) {
        struct roles_snapshot *s = test_reader(&env, ROLES_SNAPSHOT_SECRETS);
        struct roles_user u;
        struct roles_secret sec;
        struct roles_tally t = { 0 };
        bool there = false;
        switch (kind) {
        case WRITE_USER_ADD:
                there = roles_user_by_name(s, "carl", &u) == 0 && roles_secret_get(roles_snapshot_secrets(s), u.uuid, &sec) == 0 &&
                        strcmp(sec.email, "carl@example.org") == 0;
                break;
        case WRITE_PASSWORD:
        case WRITE_LOGIN_PASSWORD:
                there = roles_secret_get(roles_snapshot_secrets(s), alice.uuid, &sec) == 0 && strcmp(sec.password_hash, new_hash) == 0 &&
                        file_is_pristine(&pristine[0]);         /* a secret alone publishes nothing */
                break;
        case WRITE_TALLY:
                there = roles_state_tally_get(roles_snapshot_secrets(s), rita.uuid, time(NULL), &t) == 0 && t.failures == 1 &&
                        file_is_pristine(&pristine[0]) && file_is_pristine(&pristine[1]);
                break;
        }
        test_close(s);
        if (!there)
                snprintf(why, size, "reported success, but the change is not (all) there");
        for (size_t i = 0; there && i < ROLES_N_ELEMENTS(pristine); i++)
                there = integrity(pristine[i].path, why, size) == 0;
        return there;
}

static enum outcome judge_core_write(struct fault_case *c, char *why, size_t size) {
        enum outcome o;
        if (got.r == 0)
                o = change_is_there(c->kind, why, size) ? RIGHT : WRONG;
        else if (c->kind == WRITE_USER_ADD && strstr(got.text, "cannot publish"))
                o = undone_at_once(!change_is_there(c->kind, why, size), why, size);
        else
                o = files_unchanged(why, size);
        restore_pristine();
        return o;
}

#define CORE_WRITE(name_, kind_) \
        { .name = name_, .act = act_core_write, .judge = judge_core_write, .kind = kind_, .strict = true }

static struct fault_case core_writes[] = {
        CORE_WRITE("user add + email + audit + commit", WRITE_USER_ADD),
        CORE_WRITE("password set + audit + commit", WRITE_PASSWORD),
        CORE_WRITE("failure count (state.db)", WRITE_TALLY),
        CORE_WRITE("password change at a login (secrets.db)", WRITE_LOGIN_PASSWORD),
};

static void test_core_writes(void **state) {
        (void) state;
        run_cases(core_writes, ROLES_N_ELEMENTS(core_writes));
}

/* ---- rolesctl: commands run as main() runs them, stderr captured ------------------------------------------- */

/* A user added is the core case above (the same store calls): here a user deleted, whose
 * secrets and state are purged after the snapshot without them is published; and a user named
 * after a local account (daemon, uid 1, in every /etc/passwd), which must be refused even when
 * glibc's files service cannot read /etc/passwd (it would then answer "not found"); it joins devs,
 * so no group of its name is looked up (which would catch it too). */
enum cli_command { CLI_USER_DEL, CLI_USER_ADD_LOCAL };

static struct {
        struct cli c;
        char *out;
        size_t out_len;
        int saved_stderr;
        char err[1024];
} cli_run;

static void prepare_cli(struct fault_case *c) {
        (void) c;
        cli_run.c = (struct cli) { .cfg = env.cfg };
        roles_strcpy(cli_run.c.actor, sizeof(cli_run.c.actor), "root");
        cli_run.c.out = open_memstream(&cli_run.out, &cli_run.out_len);
        assert_non_null(cli_run.c.out);
        fflush(stderr);
        cli_run.saved_stderr = dup(STDERR_FILENO);
        int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0 && cli_run.saved_stderr >= 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        close(fd);
}

static void act_cli(struct fault_case *c) {
        static const char *const commands[][5] = {
                [CLI_USER_DEL] = { "user", "del", "rita", NULL },
                [CLI_USER_ADD_LOCAL] = { "user", "add", "daemon", "--group=devs", NULL },
        };
        char *argv[5] = { NULL };
        int argc = 0;
        for (; commands[c->kind][argc]; argc++)
                argv[argc] = (char *) commands[c->kind][argc];

        /* What rolesctl's main does after reading its configuration. */
        got.r = cli_finish(&cli_run.c, cli_dispatch(&cli_run.c, argc, argv));
}

static bool cli_change_is_there(int kind) {
        struct roles_snapshot *s = test_reader(&env, 0);
        struct roles_user u;
        bool there = kind == CLI_USER_DEL && roles_user_by_name(s, "rita", &u) == -ENOENT;
        test_close(s);
        return there;
}

static enum outcome judge_cli(struct fault_case *c, char *why, size_t size) {
        fflush(stderr);
        assert_int_equal(dup2(cli_run.saved_stderr, STDERR_FILENO), STDERR_FILENO);
        close(cli_run.saved_stderr);
        fclose(cli_run.c.out);
        free(cli_run.out);
        size_t len = 0;
        char *err = test_read_file(stderr_path, &len);
        assert_non_null(err);
        snprintf(cli_run.err, sizeof(cli_run.err), "%.*s", (int) len, err);
        free(err);

        enum outcome o;
        if (got.r == EXIT_OK && c->kind == CLI_USER_ADD_LOCAL) {
                snprintf(why, size, "exit 0: a roles user named after a local account was added");
                o = WRONG;
        } else if (got.r == EXIT_OK) {
                o = len == 0 && cli_change_is_there(c->kind) ? RIGHT : WRONG;
                if (o == WRONG)
                        snprintf(why, size, "exit 0, but the change is not there (stderr \"%s\")", cli_run.err);
        } else if (len == 0 || strncmp(cli_run.err, "rolesctl: ", 10) != 0 || strchr(cli_run.err, '\n') != cli_run.err + len - 1) {
                snprintf(why, size, "exit %d without exactly one \"rolesctl: \" line on stderr: \"%s\"", got.r, cli_run.err);
                o = WRONG;
        } else if (c->kind == CLI_USER_ADD_LOCAL && got.r == EXIT_CONFLICT && strstr(cli_run.err, "is a local account")) {
                o = files_unchanged(why, size) == CLEAN_FAILURE ? RIGHT : WRONG;
        } else if (strstr(cli_run.err, "cannot publish")) {
                o = undone_at_once(!cli_change_is_there(c->kind), why, size);
        } else if (c->kind == CLI_USER_DEL && strstr(cli_run.err, "is published") && cli_change_is_there(c->kind)) {
                /* The documented late failure: the snapshot without rita is out; her secrets and
                 * state rows stay behind as orphans for doctor (DESIGN: order replaces transactions). */
                o = integrity(env.cfg.secrets_db, why, size) == 0 && integrity(env.cfg.state_db, why, size) == 0 &&
                    nothing_left_behind(why, size) ? CLEAN_FAILURE : WRONG;
        } else {
                o = files_unchanged(why, size);
                if (o == WRONG)
                        snprintf(why + strlen(why), size - strlen(why), " (stderr \"%s\")", cli_run.err);
        }
        restore_pristine();
        return o;
}

#define CLI(name_, kind_) \
        { .name = name_, .prepare = prepare_cli, .act = act_cli, .judge = judge_cli, .kind = kind_, .strict = true }

static struct fault_case cli_writes[] = {
        CLI("rolesctl user del rita", CLI_USER_DEL),
        { .name = "rolesctl user add daemon (a local account)", .prepare = prepare_cli, .act = act_cli,
          .judge = judge_cli, .kind = CLI_USER_ADD_LOCAL, .libc_only = true },
};

static void test_cli_writes(void **state) {
        (void) state;
        run_cases(cli_writes, ROLES_N_ELEMENTS(cli_writes));
}

/* ---- the NSS module through dlopen ------------------------------------------------------------------------- */

/* The entry points this test calls, as glibc would: looked up by name in the dlopen()ed module. */
static struct nss_module nss;

static void load_nss_module(void) {
        /* Not dlclose()d: glibc never unloads an NSS module, and this one keeps its store. */
        char err[PATH_MAX + 128];
        if (nss_module_load(NSS_MODULE_PATH, "roles", &nss, err, sizeof(err)) < 0)
                fail_msg("%s", err);
}

enum nss_call { NSS_PWNAM, NSS_PWUID, NSS_GRNAM, NSS_GRGID, NSS_SPNAM, NSS_INITGROUPS, NSS_PWENT, NSS_GRENT };

/* Enumerations end with NOTFOUND; everything else is one entry, SUCCESS. */
static bool nss_enumerates(int kind) {
        return kind == NSS_PWENT || kind == NSS_GRENT;
}

static struct {
        int err;
        char buf[4096];
        gid_t *groups;
        long start, size;
} nss_run;

static size_t append(char *text, size_t len, size_t size, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t append(char *text, size_t len, size_t size, const char *fmt, ...) {
        va_list ap;
        if (len >= size)
                return len;
        va_start(ap, fmt);
        int n = vsnprintf(text + len, size - len, fmt, ap);
        va_end(ap);
        return n < 0 ? len : len + (size_t) n;
}

static size_t append_passwd(size_t len, const struct passwd *pw) {
        return append(got.text, len, sizeof(got.text), "%s:%s:%u:%u:%s:%s:%s\n", pw->pw_name, pw->pw_passwd,
                      (unsigned) pw->pw_uid, (unsigned) pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
}

static size_t append_group(size_t len, const struct group *gr) {
        len = append(got.text, len, sizeof(got.text), "%s:%s:%u:", gr->gr_name, gr->gr_passwd, (unsigned) gr->gr_gid);
        for (size_t i = 0; gr->gr_mem[i]; i++)
                len = append(got.text, len, sizeof(got.text), "%s%s", i ? "," : "", gr->gr_mem[i]);
        return append(got.text, len, sizeof(got.text), "\n");
}

static void prepare_nss(struct fault_case *c) {
        if (c->kind != NSS_INITGROUPS)
                return;
        /* As glibc calls it: the primary group first, in an array the module may grow. */
        nss_run.size = 2;
        nss_run.start = 1;
        nss_run.groups = calloc((size_t) nss_run.size, sizeof(gid_t));
        if (!nss_run.groups)
                abort();
        nss_run.groups[0] = c->id;
}

/* Up to a few hundred entries, each appended as it came; got.r is the status that ended it. */
static void enumerate(const struct fault_case *c) {
        bool pw = c->kind == NSS_PWENT;
        size_t len = 0;
        enum nss_status st = pw ? nss.setpwent(0) : nss.setgrent(0);
        for (int i = 0; st == NSS_STATUS_SUCCESS && i < 500; i++) {
                struct passwd p;
                struct group g;
                st = pw ? nss.getpwent_r(&p, nss_run.buf, sizeof(nss_run.buf), &nss_run.err)
                        : nss.getgrent_r(&g, nss_run.buf, sizeof(nss_run.buf), &nss_run.err);
                if (st == NSS_STATUS_SUCCESS)
                        len = pw ? append_passwd(len, &p) : append_group(len, &g);
        }
        if (pw)
                nss.endpwent();
        else
                nss.endgrent();
        got.r = st;
}

static void act_nss(struct fault_case *c) {
        struct passwd pw;
        struct group gr;
        struct spwd sp;
        enum nss_status st = NSS_STATUS_UNAVAIL;
        size_t len = 0;

        got.text[0] = '\0';
        nss_run.err = 0;
        switch (c->kind) {
        case NSS_PWNAM:
        case NSS_PWUID:
                st = c->kind == NSS_PWNAM ? nss.getpwnam_r(c->who, &pw, nss_run.buf, sizeof(nss_run.buf), &nss_run.err)
                                          : nss.getpwuid_r(c->id, &pw, nss_run.buf, sizeof(nss_run.buf), &nss_run.err);
                if (st == NSS_STATUS_SUCCESS)
                        append_passwd(0, &pw);
                break;
        case NSS_GRNAM:
        case NSS_GRGID:
                st = c->kind == NSS_GRNAM ? nss.getgrnam_r(c->who, &gr, nss_run.buf, sizeof(nss_run.buf), &nss_run.err)
                                          : nss.getgrgid_r(c->id, &gr, nss_run.buf, sizeof(nss_run.buf), &nss_run.err);
                if (st == NSS_STATUS_SUCCESS)
                        append_group(0, &gr);
                break;
        case NSS_SPNAM:
                st = nss.getspnam_r(c->who, &sp, nss_run.buf, sizeof(nss_run.buf), &nss_run.err);
                if (st == NSS_STATUS_SUCCESS)
                        snprintf(got.text, sizeof(got.text), "%s:%s:%ld:%ld:%ld:%ld:%ld:%ld\n", sp.sp_namp, sp.sp_pwdp,
                                 sp.sp_lstchg, sp.sp_min, sp.sp_max, sp.sp_warn, sp.sp_inact, sp.sp_expire);
                break;
        case NSS_INITGROUPS:
                st = nss.initgroups_dyn(c->who, c->id, &nss_run.start, &nss_run.size, &nss_run.groups, 0, &nss_run.err);
                for (long i = 0; st == NSS_STATUS_SUCCESS && i < nss_run.start; i++)
                        len = append(got.text, len, sizeof(got.text), "%u ", (unsigned) nss_run.groups[i]);
                break;
        case NSS_PWENT:
        case NSS_GRENT:
                enumerate(c);
                return;
        }
        got.r = st;
}

static enum outcome judge_nss(struct fault_case *c, char *why, size_t size) {
        enum nss_status st = got.r;
        bool done = nss_enumerates(c->kind) ? st == NSS_STATUS_NOTFOUND : st == NSS_STATUS_SUCCESS;
        enum outcome o;

        free(nss_run.groups);
        nss_run.groups = NULL;
        if (done && strcmp(got.text, c->golden) == 0)
                o = RIGHT;
        else if ((st == NSS_STATUS_UNAVAIL || (st == NSS_STATUS_TRYAGAIN && nss_run.err != ERANGE)) &&
                 strncmp(c->golden, got.text, strlen(got.text)) == 0)
                o = CLEAN_FAILURE;      /* an enumeration may stop early, never serve a wrong entry */
        else
                o = WRONG;
        if (o == WRONG)
                snprintf(why, size, "status %d (errno %d) with \"%s\"; the right answer is \"%s\"", st, nss_run.err,
                         got.text, c->golden);
        /* The reference run answers the module's status, not -errno. */
        got.r = 0;
        return o;
}

#define NSS(name_, kind_, ...) \
        { .name = name_, .prepare = prepare_nss, .act = act_nss, .judge = judge_nss, .kind = kind_, \
          .recheck = true, __VA_ARGS__ }

/* Warm: in this process, with the module's store open after the first call. */
static struct fault_case nss_warm[] = {
        NSS("getpwnam_r", NSS_PWNAM, .who = "alice", .libc_only = true, .expect = "alice:x:10100:10100:Alice:"),
        NSS("getpwuid_r", NSS_PWUID, .id = 10989, .libc_only = true, .expect = "rita:x:10989:10989:Rita:"),
        NSS("getgrnam_r (members)", NSS_GRNAM, .who = "devs", .libc_only = true, .expect = "devs:x:20100:alice,rita"),
        NSS("getgrnam_r (published metarole)", NSS_GRNAM, .who = "crew", .libc_only = true, .expect = "crew:x:20500:alice,tom,lou\n"),
        NSS("getgrgid_r", NSS_GRGID, .id = GID_DEVS, .libc_only = true, .expect = "devs:x:20100:alice,rita"),
        NSS("getspnam_r", NSS_SPNAM, .who = "lou", .expect = "lou:!:"),
        NSS("initgroups_dyn", NSS_INITGROUPS, .who = "alice", .id = 10100, .libc_only = true, .expect = "10100 20100 20500 "),
        NSS("getpwent_r", NSS_PWENT, .libc_only = true, .expect = "alice:x:10100"),
        NSS("getgrent_r", NSS_GRENT, .libc_only = true, .expect = "crew:x:20500:alice,tom,lou\n"),
};

/*
 * Cold: each run in a forked child, where the module reads its configuration and looks at the
 * index afresh (shadow's plugin opens the databases on every call: warm covers that; it is the
 * only NSS call with SQLite under it, the others being libc alone). One of the two allocates a
 * list of its own (the gids).
 */
static struct fault_case nss_cold[] = {
        NSS("cold getpwnam_r", NSS_PWNAM, .who = "alice", .in_child = true, .libc_only = true, .expect = "alice:x:10100:10100:Alice:"),
        NSS("cold initgroups_dyn", NSS_INITGROUPS, .who = "alice", .id = 10100, .in_child = true, .libc_only = true,
            .expect = "10100 20100 20500 "),
};

static void test_nss_warm(void **state) {
        (void) state;
        run_cases(nss_warm, ROLES_N_ELEMENTS(nss_warm));
}

static void test_nss_cold(void **state) {
        (void) state;
        run_cases(nss_cold, ROLES_N_ELEMENTS(nss_cold));
}

/* ---- the PAM module through libpam ------------------------------------------------------------------------ */

enum pam_call { CALL_AUTH, CALL_ACCOUNT };
enum totp_answer { TOTP_NONE, TOTP_RIGHT, TOTP_WRONG };

static struct {
        struct pam_harness h;
        char code[ROLES_TOTP_DIGITS + 1];
} pam_run;

static void totp_code_at(time_t t, char out[static ROLES_TOTP_DIGITS + 1]) {
        assert_int_equal(oath_totp_generate(TOTP_SECRET_RAW, strlen(TOTP_SECRET_RAW), t, ROLES_TOTP_STEP, 0,
                                            ROLES_TOTP_DIGITS, out), OATH_OK);
}

/* A code that no step in the accepted window (now and one step either side) has. */
static void wrong_totp_code(char out[static ROLES_TOTP_DIGITS + 1]) {
        char window[3][ROLES_TOTP_DIGITS + 1];
        time_t now = time(NULL);
        for (int i = 0; i < 3; i++)
                totp_code_at(now + (i - 1) * ROLES_TOTP_STEP, window[i]);
        for (unsigned v = 0;; v++) {
                snprintf(out, ROLES_TOTP_DIGITS + 1, "%06u", v);
                if (strcmp(out, window[0]) && strcmp(out, window[1]) && strcmp(out, window[2]))
                        return;
        }
}

static void prepare_pam(struct fault_case *c) {
        pam_run.code[0] = '\0';
        if (c->id == TOTP_RIGHT)
                totp_code_at(time(NULL), pam_run.code);
        else if (c->id == TOTP_WRONG)
                wrong_totp_code(pam_run.code);
        /* The password typed, then the code (empty when the case has none). */
        pam_run.h = (struct pam_harness) { .replies = { c->perm, pam_run.code } };
        int r = pam_harness_start(&pam_run.h, "roles-faults", c->who, pam_dir);
        if (r != PAM_SUCCESS)
                fail_msg("pam_start_confdir: %s", pam_strerror(NULL, r));
}

static void act_pam(struct fault_case *c) {
        pam_handle_t *pamh = pam_run.h.pamh;
        got.r = c->kind == CALL_AUTH ? pam_authenticate(pamh, 0) : pam_acct_mgmt(pamh, 0);
        snprintf(got.text, sizeof(got.text), "%s", pam_strerror(pamh, got.r));
}

/* Can another login write state.db now? Not if a transaction was left open: the PAM handle keeps
 * its store (with the lock) until pam_end, which sshd calls only when the session ends. */
static bool state_db_writable(void) {
        sqlite3 *db = NULL;
        bool ok = sqlite3_open_v2(env.cfg.state_db, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
                  sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(db);      /* rolls the empty transaction back */
        return ok;
}

static enum outcome judge_pam(struct fault_case *c, char *why, size_t size) {
        int status = got.r;
        bool writable = state_db_writable();
        /* An unknown user's refusal may come out of libpam as either. */
        bool right = status == c->expected || (c->expected == PAM_USER_UNKNOWN && status == PAM_AUTH_ERR);
        enum outcome o = right ? RIGHT : CLEAN_FAILURE;
        pam_harness_end(&pam_run.h, status);
        restore_pristine();     /* a counted failure, a claimed TOTP step, the login audit */
        if (!right && (status == PAM_SUCCESS || status == PAM_USER_UNKNOWN)) {
                snprintf(why, size, "%s for %s (%s when nothing fails)", got.text, c->who,
                         pam_strerror(NULL, c->expected));
                o = WRONG;
        } else if (!writable) {
                snprintf(why, size, "%s, and state.db is left write-locked until pam_end", got.text);
                o = WRONG;
        }
        got.r = 0;
        snprintf(got.text, sizeof(got.text), "%s", pam_strerror(NULL, status));
        return o;
}

/* who: PAM_USER; perm: the password typed; id: the TOTP answer; expected: the status when
 * nothing fails, the only one that may be PAM_SUCCESS, and only then is it strict. */
#define PAM(name_, kind_, user_, typed_, totp_, expected_) \
        { .name = name_, .prepare = prepare_pam, .act = act_pam, .judge = judge_pam, .kind = kind_, .who = user_, \
          .perm = typed_, .id = totp_, .expected = expected_, .strict = expected_ == PAM_SUCCESS, \
          .sqlite_only = true }

static struct fault_case pam_cases[] = {
        PAM("auth, right password", CALL_AUTH, "alice", password, TOTP_NONE, PAM_SUCCESS),
        PAM("auth, wrong password", CALL_AUTH, "alice", "wrong password", TOTP_NONE, PAM_AUTH_ERR),
        PAM("auth, right password and TOTP code", CALL_AUTH, "tom", password, TOTP_RIGHT, PAM_SUCCESS),
        PAM("auth, right password, wrong TOTP code", CALL_AUTH, "tom", password, TOTP_WRONG, PAM_AUTH_ERR),
        PAM("auth, right password, locked out", CALL_AUTH, "lou", password, TOTP_NONE, PAM_AUTH_ERR),
        PAM("auth, unknown user", CALL_AUTH, "zqnouser", password, TOTP_NONE, PAM_USER_UNKNOWN),
        PAM("account, permitted", CALL_ACCOUNT, "alice", password, TOTP_NONE, PAM_SUCCESS),
        PAM("account, without the permission", CALL_ACCOUNT, "rita", password, TOTP_NONE, PAM_PERM_DENIED),
        PAM("account, disabled", CALL_ACCOUNT, "dan", password, TOTP_NONE, PAM_PERM_DENIED),
        /* A password lockout is auth's: account lets a key login in. */
        PAM("account, password locked out", CALL_ACCOUNT, "lou", password, TOTP_NONE, PAM_SUCCESS),
};

static void test_pam(void **state) {
        (void) state;
        /* Without injection each case answers as expected (the loop's last run checks it too). */
        for (size_t i = 0; i < ROLES_N_ELEMENTS(pam_cases); i++) {
                char why[512] = "";
                struct fault_case *c = &pam_cases[i];
                if (run_once(c, false, LAYER_SQLITE, FAIL_ONCE, 0, why, sizeof(why)) != RIGHT)
                        fail_msg("%s: %s without injection, expected %s: %s", c->name, got.text,
                                 pam_strerror(NULL, c->expected), why);
        }
        run_cases(pam_cases, ROLES_N_ELEMENTS(pam_cases));
}

/* ---- setup ---------------------------------------------------------------------------------------------- */

static int group_setup(void **state) {
        (void) state;
        test_env_setup(&env);
        test_env_init(&env);
        build_database();
        write_configuration();
        snprintf(stderr_path, sizeof(stderr_path), "%s.stderr", env.dir);
        take_pristine();
        /* Before the module's first call: it reads the configuration when it opens its store. */
        setenv("ROLES_CONF", conf_path, 1);
        load_nss_module();
        return 0;
}

static int group_teardown(void **state) {
        (void) state;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(pristine); i++)
                free(pristine[i].data);
        unlink(stderr_path);
        test_env_teardown(&env);
        return 0;
}

#ifdef __SANITIZE_ADDRESS__
/* Freed memory ASan keeps poisoned (256 MiB by default) makes every fork of the cold NSS runs
 * copy that much more: a smaller quarantine still catches a use right after a free. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
        return "quarantine_size_mb=16";
}
#endif

int main(void) {
        install_sqlite_faults();
        /* pam_roles logs every refusal to syslog: thousands of runs would flood the host's log. */
        setlogmask(LOG_UPTO(LOG_EMERG));
        const struct CMUnitTest tests[] = {
                /* Cold first: under ASan, each fork copies all the memory the process has. */
                cmocka_unit_test(test_nss_cold),
                cmocka_unit_test(test_nss_warm),
                cmocka_unit_test(test_core_reads),
                cmocka_unit_test(test_core_writes),
                cmocka_unit_test(test_cli_writes),
                cmocka_unit_test(test_pam),
        };
        /* One part alone while working on it, e.g. ALLOC_FAULTS_ONLY=test_pam. */
        if (getenv("ALLOC_FAULTS_ONLY"))
                cmocka_set_test_filter(getenv("ALLOC_FAULTS_ONLY"));
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
