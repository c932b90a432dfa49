/* SPDX-License-Identifier: MIT */
/*
 * test_nss_fork: children of a threaded parent must never hang in NSS (issue 12).
 *
 * A threaded program forks and the child resolves a name before exec, the usual way to drop
 * privileges. Only the forking thread lives on in the child: a lock another thread of the parent
 * held at the fork stays held there for ever. glibc resets its own (malloc, stdio, NSS) around
 * fork; a library's process-wide mutexes (SQLite's) it cannot. So an NSS module that enters
 * SQLite in the child may wait for ever when the parent uses SQLite in another thread.
 *
 *   test_nss_fork sqlite|pam --user NAME --gid GID [--children N] [--timeout S] [--dir DIR]
 *                            [--service SERVICE --auth-user NAME --password PASSWORD]
 *
 *   sqlite: threads open, query and close a database of their own (DIR/t*.db) in a loop;
 *   pam:    threads run pam_start(SERVICE, the --auth-user) + pam_authenticate with PASSWORD +
 *           pam_end in a loop, as a threaded authentication server does (pam_roles enters
 *           SQLite); every one must succeed.
 * Meanwhile the main thread forks N children, one every millisecond or so. Each child calls
 * getpwnam(NAME), getpwnam("root"), getgrouplist for both (NAME must be in GID, root in 0), and
 * _exit(0), or _exit(3) on a wrong answer. A child still alive TIMEOUT seconds after its fork
 * is hung: it is killed with SIGKILL and counted. No child outlives this program (each asks for
 * SIGKILL on its parent's death, and every one is reaped before it exits).
 *
 * Before the threads start the parent looks the names up once itself, as any server has by then:
 * the child then finds the NSS module loaded and does not dlopen it (glibc's loader lock, which a
 * thread in pam_start's dlopen may hold at the fork, is not the module's business).
 *
 * Prints "VARIANT: N children, H hung, W wrong, D died" and exits 0 when every child exited 0,
 * 1 otherwise, 2 when the test could not run.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pam_harness.h"

#define N_THREADS 3
#define MAX_CHILDREN 10000
#define CHILD_WRONG 3

static struct {
        const char *variant, *user, *auth_user, *dir, *service, *password;
        gid_t gid;
        int children;
        double timeout;
} opt = { .children = 200, .timeout = 5.0, .dir = "/tmp" };

static atomic_bool stop;
static atomic_long rounds;      /* loop iterations of all threads: proof they ran during the forks */
static atomic_long thread_errors;

static void fatal(const char *msg) {
        fprintf(stderr, "test_nss_fork: %s\n", msg);
        exit(2);
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---- the parent's threads -------------------------------------------------------------------- */

static void *sqlite_thread(void *arg) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/t%ld.db", opt.dir, (long) (intptr_t) arg);
        while (!atomic_load(&stop)) {
                sqlite3 *db = NULL;
                int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
                if (rc == SQLITE_OK)
                        rc = sqlite3_exec(db,
                                          "CREATE TABLE IF NOT EXISTS t(x);"
                                          "INSERT INTO t VALUES (randomblob(64));"
                                          "SELECT count(*), max(length(x)) FROM t;"
                                          "DELETE FROM t WHERE rowid % 50 = 0;",
                                          NULL, NULL, NULL);
                if (rc != SQLITE_OK)
                        atomic_fetch_add(&thread_errors, 1);
                sqlite3_close_v2(db);
                atomic_fetch_add(&rounds, 1);
        }
        return NULL;
}

static void *pam_thread(void *arg) {
        (void) arg;
        struct pam_harness h = { .replies = { opt.password } };
        while (!atomic_load(&stop)) {
                int rc = pam_harness_start(&h, opt.service, opt.auth_user, NULL);
                if (rc == PAM_SUCCESS) {
                        rc = pam_authenticate(h.pamh, PAM_SILENT);
                        pam_harness_end(&h, rc);
                }
                if (rc != PAM_SUCCESS)
                        atomic_fetch_add(&thread_errors, 1);
                atomic_fetch_add(&rounds, 1);
        }
        return NULL;
}

/* ---- the children ---------------------------------------------------------------------------- */

/* Which call each child is in (shared with the children): where the hung ones stopped. */
static const char *const step_names[] = { "fork", "getpwnam(user)", "getpwnam(root)", "getgrouplist(user)",
                                          "getgrouplist(root)", "_exit" };
#define N_STEPS (sizeof(step_names) / sizeof(step_names[0]))
static volatile unsigned char *steps;

static bool in_list(const gid_t *list, int n, gid_t gid) {
        for (int i = 0; i < n; i++)
                if (list[i] == gid)
                        return true;
        return false;
}

/* What a child does between fork and exec: only NSS calls, then _exit. The answers count too,
 * so that a module that gave up (NSS_STATUS_UNAVAIL) instead of hanging does not pass. */
static int lookups(volatile unsigned char *step) {
        gid_t list[256];
        int n = 256;
        *step = 1;
        struct passwd *pw = getpwnam(opt.user);
        if (!pw)
                return CHILD_WRONG;
        gid_t primary = pw->pw_gid;
        *step = 2;
        pw = getpwnam("root");
        if (!pw || pw->pw_uid != 0)
                return CHILD_WRONG;
        *step = 3;
        if (getgrouplist(opt.user, primary, list, &n) < 0 || !in_list(list, n, opt.gid))
                return CHILD_WRONG;
        n = 256;
        *step = 4;
        if (getgrouplist("root", 0, list, &n) < 0 || !in_list(list, n, 0))
                return CHILD_WRONG;
        *step = 5;
        return 0;
}

struct child {
        pid_t pid;
        double forked;
        int status;             /* -1: not reaped yet */
        bool killed;
};

/* Reaps every child that ended; kills those past their deadline (they are reaped next time). */
static int reap(struct child *c, int n, double timeout) {
        int alive = 0;
        for (int i = 0; i < n; i++) {
                if (c[i].status >= 0)
                        continue;
                int status;
                pid_t r = waitpid(c[i].pid, &status, WNOHANG);
                if (r == c[i].pid) {
                        c[i].status = status;
                        continue;
                }
                if (r < 0 && errno != EINTR) {
                        perror("test_nss_fork: waitpid");
                        exit(2);
                }
                alive++;
                if (!c[i].killed && now_s() - c[i].forked > timeout) {
                        kill(c[i].pid, SIGKILL);
                        c[i].killed = true;
                }
        }
        return alive;
}

static void usage(FILE *f) {
        fputs("usage: test_nss_fork sqlite|pam --user NAME --gid GID [--children N] [--timeout S] [--dir DIR]\n"
              "                     [--service SERVICE --auth-user NAME --password PASSWORD]\n",
              f);
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "user", required_argument, NULL, 'u' },     { "gid", required_argument, NULL, 'g' },
                { "children", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
                { "dir", required_argument, NULL, 'd' },      { "service", required_argument, NULL, 's' },
                { "password", required_argument, NULL, 'p' }, { "auth-user", required_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                switch (c) {
                case 'u': opt.user = optarg; break;
                case 'g': opt.gid = (gid_t) strtoul(optarg, NULL, 10); break;
                case 'n': opt.children = atoi(optarg); break;
                case 't': opt.timeout = atof(optarg); break;
                case 'd': opt.dir = optarg; break;
                case 's': opt.service = optarg; break;
                case 'p': opt.password = optarg; break;
                case 'a': opt.auth_user = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc - 1 || !opt.user || opt.children < 1 || opt.children > MAX_CHILDREN ||
            opt.timeout <= 0) {
                usage(stderr);
                return 2;
        }
        opt.variant = argv[optind];
        void *(*thread_fn)(void *);
        if (strcmp(opt.variant, "sqlite") == 0)
                thread_fn = sqlite_thread;
        else if (strcmp(opt.variant, "pam") == 0 && opt.service && opt.auth_user && opt.password)
                thread_fn = pam_thread;
        else {
                usage(stderr);
                return 2;
        }

        /* The parent's own lookups, before any thread (see the top): they must succeed, or the
         * children's checks mean nothing. */
        steps = mmap(NULL, MAX_CHILDREN + 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (steps == MAP_FAILED)
                fatal("mmap failed");
        int rc = lookups(&steps[MAX_CHILDREN]);
        if (rc != 0)
                fatal("the parent's own lookups (the user, root, their groups) failed: is NSS set up?");

        struct child *kids = calloc((size_t) opt.children, sizeof(*kids));
        pthread_t threads[N_THREADS];
        if (!kids)
                fatal("out of memory");
        for (long i = 0; i < N_THREADS; i++)
                if (pthread_create(&threads[i], NULL, thread_fn, (void *) (intptr_t) i) != 0)
                        fatal("pthread_create failed");
        /* Let the threads get going before the first fork. */
        while (atomic_load(&rounds) < N_THREADS)
                usleep(1000);

        fflush(NULL);
        pid_t parent = getpid();
        long rounds_at_start = atomic_load(&rounds);
        for (int i = 0; i < opt.children; i++) {
                kids[i].status = -1;
                kids[i].forked = now_s();
                kids[i].pid = fork();
                if (kids[i].pid == 0) {
                        /* Dies with the parent, whatever ends the parent. */
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != parent)
                                _exit(4);
                        _exit(lookups(&steps[i]));
                }
                if (kids[i].pid < 0) {
                        perror("test_nss_fork: fork");
                        opt.children = i;
                        break;
                }
                reap(kids, i + 1, opt.timeout);
                /* A random pause, so that the forks land at every point of the threads' loops. */
                usleep((useconds_t) (200 + rand() % 1500));
        }
        long rounds_during = atomic_load(&rounds) - rounds_at_start;
        while (reap(kids, opt.children, opt.timeout) > 0)
                usleep(10000);
        atomic_store(&stop, true);
        for (int i = 0; i < N_THREADS; i++)
                pthread_join(threads[i], NULL);

        int hung = 0, wrong = 0, died = 0, hung_at[N_STEPS] = { 0 };
        for (int i = 0; i < opt.children; i++) {
                int st = kids[i].status;
                if (kids[i].killed && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
                        hung++;
                        hung_at[steps[i] < N_STEPS ? steps[i] : 0]++;
                }
                else if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_WRONG)
                        wrong++;
                else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        died++;
        }
        free(kids);
        printf("%s: %d children, %d hung (alive after %.1f s), %d wrong, %d died; %ld thread rounds during the "
               "forks, %ld thread errors\n",
               opt.variant, opt.children, hung, opt.timeout, wrong, died, rounds_during,
               atomic_load(&thread_errors));
        for (size_t s = 0; s < N_STEPS; s++)
                if (hung_at[s])
                        printf("  %d hung in %s\n", hung_at[s], step_names[s]);
        if (rounds_during < 1 || atomic_load(&thread_errors) > 0) {
                fprintf(stderr, "test_nss_fork: the parent's threads did not run cleanly during the forks\n");
                return 2;
        }
        return hung || wrong || died ? 1 : 0;
}
