/* SPDX-License-Identifier: MIT */
/*
 * What logins write, through a login opened as PAM opens it (roles_login_open): the lockout
 * tally (also under 200 racing processes), TOTP steps claimed once, Flask-Security tracking, the
 * login audit, and what PAM may change in secrets.db (activation, must-change, rehash, codes);
 * and the verification of stored hashes, legacy {crypt} ones included.
 */
#include <crypt.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "auth.h"
#include "writer.h"
#include "testlib.h"
#include "util.h"

#define NOW INT64_C(1767225600)         /* 2026-01-01T00:00:00Z: every store's pinned clock */

/* The configuration's defaults, spelled out where a test depends on them. */
#define DENY          5u
#define FAIL_INTERVAL 900u
#define UNLOCK_TIME   600u

#define PARALLEL_FAILURES 200

/* Under valgrind (about 50 times slower) the children would outwait the 10 s busy budget that
 * real logins have: the valgrind test setup asks for fewer of them. */
static int parallel_failures(void) {
        const char *v = getenv("ROLES_TEST_PARALLEL");
        int n = v ? atoi(v) : PARALLEL_FAILURES;
        return n >= 2 && n <= PARALLEL_FAILURES ? n : PARALLEL_FAILURES;
}
#define TOTP_RACES        25

/* ---- fixture: two users with secrets rows, alice with a password and two pending codes ---------- */

struct fixture {
        struct test_env env;                            /* first: test_teardown takes it */
        char alice[ROLES_UUID_LEN + 1];
        char bob[ROLES_UUID_LEN + 1];
        char alice_hash[ROLES_HASH_ENCODED_MAX];
        uint8_t activation[32], reset[32];      /* the code hashes put for alice */
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        test_env_setup(&f->env);
        test_env_init(&f->env);

        struct roles_hash_params params;
        roles_hash_params_from_config(&f->env.cfg, &params);
        assert_int_equal(roles_password_hash("correct horse", 13, &params, f->alice_hash), 0);
        memset(f->activation, 0xa1, sizeof(f->activation));
        memset(f->reset, 0x5e, sizeof(f->reset));

        struct roles_writer *s = test_writer(&f->env);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW);
        assert_int_equal(roles_writer_set_actor(s, "tester"), 0);
        struct roles_user alice = test_user("alice");
        test_user_insert(s, &alice, f->alice_hash);
        memcpy(f->alice, alice.uuid, sizeof(f->alice));
        memcpy(f->bob, test_add_user(s, "bob").uuid, sizeof(f->bob));
        assert_ok(s, roles_secret_put_code(s, f->alice, ROLES_CODE_ACTIVATION, f->activation, NOW + 3600));
        assert_ok(s, roles_secret_put_code(s, f->alice, ROLES_CODE_RESET, f->reset, NOW + 3600));
        test_commit(s);
        *state = f;
        return 0;
}

/* A store as pam_roles opens it, its clock pinned. Returns NULL (no cmocka call) on failure, so
 * forked children can use it too. */
static struct roles_login *login_store_or_null(struct test_env *e, char *err, size_t errlen) {
        struct roles_login *s = NULL;
        if (roles_login_open(&e->cfg, &s, err, errlen) < 0)
                return NULL;
        roles_snapshot_set_now(roles_login_snapshot(s), NOW);
        return s;
}

static struct roles_login *login_store(struct fixture *f) {
        char err[512] = "";
        struct roles_login *s = login_store_or_null(&f->env, err, sizeof(err));
        if (!s)
                fail_msg("roles_login_open: %s", err);
        return s;
}

/* ---- raw SQLite, behind the store's back ---------------------------------------------------- */

static void state_path(const struct fixture *f, char *buf, size_t size) {
        assert_true((size_t) snprintf(buf, size, "%s/state.db", f->env.dir) < size);
}

/* Runs sql (one row expected) against state.db; binds ?1 to arg when given. */
static sqlite3_stmt *raw_row(const struct fixture *f, sqlite3 **ret_db, const char *sql, const char *arg) {
        char path[PATH_MAX];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        state_path(f, path, sizeof(path));
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                fail_msg("open %s: %s", path, sqlite3_errmsg(db));
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (arg)
                sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW)
                fail_msg("%s: no row", sql);
        *ret_db = db;
        return st;
}

static void raw_done(sqlite3 *db, sqlite3_stmt *st) {
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static int64_t raw_int(const struct fixture *f, const char *sql, const char *arg) {
        sqlite3 *db;
        sqlite3_stmt *st = raw_row(f, &db, sql, arg);
        int64_t v = sqlite3_column_int64(st, 0);
        raw_done(db, st);
        return v;
}

/* The tracking row of a user: times, ips ("" for NULL, "(null)" is never stored) and count. */
struct tracking {
        int64_t last_at, current_at, count;
        bool last_ip_null, current_ip_null;
        char last_ip[64], current_ip[64];
};

static struct tracking raw_tracking(const struct fixture *f, const char *uuid) {
        struct tracking t = { 0 };
        sqlite3 *db;
        sqlite3_stmt *st = raw_row(f, &db,
                                   "SELECT last_login_at, last_login_ip, current_login_at, current_login_ip, login_count "
                                   "FROM tracking WHERE user_uuid = ?1",
                                   uuid);
        t.last_at = sqlite3_column_int64(st, 0);
        t.last_ip_null = sqlite3_column_type(st, 1) == SQLITE_NULL;
        snprintf(t.last_ip, sizeof(t.last_ip), "%s", t.last_ip_null ? "" : (const char *) sqlite3_column_text(st, 1));
        t.current_at = sqlite3_column_int64(st, 2);
        t.current_ip_null = sqlite3_column_type(st, 3) == SQLITE_NULL;
        snprintf(t.current_ip, sizeof(t.current_ip), "%s",
                 t.current_ip_null ? "" : (const char *) sqlite3_column_text(st, 3));
        t.count = sqlite3_column_int64(st, 4);
        raw_done(db, st);
        return t;
}

/* ---- forked children ------------------------------------------------------------------------------ */

/*
 * Start n children that all wait on one pipe and then run fn(f, i) at once; returns the exit
 * codes (fn's return, 0..125) in codes[]. Children never call cmocka: a failed assertion there
 * would long-jump into a copy of the runner.
 */
typedef int (*child_fn)(struct fixture *f, int i, const void *arg);

static void run_children(struct fixture *f, int n, child_fn fn, const void *arg, int *codes) {
        int gate[2];
        pid_t *pids = calloc((size_t) n, sizeof(*pids));
        assert_non_null(pids);
        assert_int_equal(pipe(gate), 0);
        fflush(NULL);
        for (int i = 0; i < n; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        char c;
                        close(gate[1]);
                        while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                                ;
                        close(gate[0]);
                        _exit(fn(f, i, arg));
                }
        }
        close(gate[0]);
        close(gate[1]);         /* every child sees EOF now: they start together */
        for (int i = 0; i < n; i++) {
                int status;
                while (waitpid(pids[i], &status, 0) < 0)
                        assert_int_equal(errno, EINTR);
                codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        free(pids);
}

/* ---- the lockout tally ---------------------------------------------------------------------------- */

static struct roles_tally tally_at(struct roles_login *s, const char *uuid, int64_t now) {
        struct roles_tally t = { .failures = 12345, .locked_until = 12345 };
        assert_ok(s, roles_state_tally_get(roles_login_secrets(s), uuid, (time_t) now, &t));
        return t;
}

static struct roles_tally fail_at(struct roles_login *s, const char *uuid, int64_t now, unsigned deny,
                                  unsigned unlock_time) {
        struct roles_tally t = { .failures = 12345, .locked_until = 12345 };
        assert_ok(s, roles_state_tally_fail(roles_login_secrets(s), uuid, (time_t) now, deny, FAIL_INTERVAL, unlock_time, &t));
        return t;
}

static void test_tally_counts(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);

        /* Nothing recorded: no failures, not locked. */
        struct roles_tally t = tally_at(s, f->alice, NOW);
        assert_int_equal(t.failures, 0);
        assert_true(t.locked_until == 0);

        for (unsigned i = 1; i < DENY; i++) {
                t = fail_at(s, f->alice, NOW + i, DENY, UNLOCK_TIME);
                assert_int_equal(t.failures, i);
                assert_true(t.locked_until == 0);
                t = tally_at(s, f->alice, NOW + i);
                assert_int_equal(t.failures, i);
                assert_true(t.locked_until == 0);
        }
        /* Per user: bob has none of alice's failures. */
        t = tally_at(s, f->bob, NOW + DENY);
        assert_int_equal(t.failures, 0);
        assert_int_equal(raw_int(f, "SELECT count(*) FROM tally", NULL), 1);

        /* deny = 0 never locks. */
        for (int i = 0; i < 20; i++)
                t = fail_at(s, f->bob, NOW + i, 0, UNLOCK_TIME);
        assert_int_equal(t.failures, 20);
        assert_true(t.locked_until == 0);
        test_close(s);
}

static void test_tally_interval(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);

        fail_at(s, f->alice, NOW, DENY, UNLOCK_TIME);
        fail_at(s, f->alice, NOW + 10, DENY, UNLOCK_TIME);
        /* Still inside fail_interval of the first failure: counted on. */
        struct roles_tally t = fail_at(s, f->alice, NOW + FAIL_INTERVAL - 1, DENY, UNLOCK_TIME);
        assert_int_equal(t.failures, 3);
        /* Once the first failure is fail_interval old, the count starts afresh. */
        t = fail_at(s, f->alice, NOW + 2 * FAIL_INTERVAL, DENY, UNLOCK_TIME);
        assert_int_equal(t.failures, 1);
        assert_true(t.locked_until == 0);
        assert_int_equal(raw_int(f, "SELECT first_failure_at FROM tally WHERE user_uuid = ?1", f->alice),
                         NOW + 2 * FAIL_INTERVAL);
        /* ... and counts on from there. */
        t = fail_at(s, f->alice, NOW + 2 * FAIL_INTERVAL + 1, DENY, UNLOCK_TIME);
        assert_int_equal(t.failures, 2);
        test_close(s);
}

static void test_tally_locks_for_unlock_time(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);
        const unsigned deny = 3;
        struct roles_tally t;

        fail_at(s, f->alice, NOW, deny, UNLOCK_TIME);
        fail_at(s, f->alice, NOW + 1, deny, UNLOCK_TIME);
        t = fail_at(s, f->alice, NOW + 2, deny, UNLOCK_TIME);
        assert_int_equal(t.failures, 3);
        assert_true(t.locked_until == NOW + 2 + UNLOCK_TIME);

        t = tally_at(s, f->alice, NOW + 3);
        assert_true(t.locked_until == NOW + 2 + UNLOCK_TIME);

        /* Failures while locked are counted but do not push the end of the lock out. */
        t = fail_at(s, f->alice, NOW + 100, deny, UNLOCK_TIME);
        assert_int_equal(t.failures, 4);
        assert_true(t.locked_until == NOW + 2 + UNLOCK_TIME);

        /* The lock runs out at locked_until. */
        t = tally_at(s, f->alice, NOW + 2 + UNLOCK_TIME - 1);
        assert_true(t.locked_until == NOW + 2 + UNLOCK_TIME);
        t = tally_at(s, f->alice, NOW + 2 + UNLOCK_TIME);
        assert_true(t.locked_until == 0);
        t = tally_at(s, f->alice, NOW + 100000);
        assert_true(t.locked_until == 0);

        /* Long after (first failure older than fail_interval): one failure, a fresh count. */
        t = fail_at(s, f->alice, NOW + 100000, deny, UNLOCK_TIME);
        assert_int_equal(t.failures, 1);
        assert_true(t.locked_until == 0);
        test_close(s);
}

static void test_tally_locks_until_unlocked(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);
        const unsigned deny = 2;
        struct roles_tally t;

        fail_at(s, f->alice, NOW, deny, 0);
        t = fail_at(s, f->alice, NOW + 1, deny, 0);
        assert_int_equal(t.failures, 2);
        assert_true(t.locked_until == -1);

        /* No time ends it, and no failure long after restarts the count. */
        t = tally_at(s, f->alice, NOW + 10 * 365 * 86400);
        assert_true(t.locked_until == -1);
        t = fail_at(s, f->alice, NOW + 10 * 365 * 86400, deny, 0);
        assert_int_equal(t.failures, 3);
        assert_true(t.locked_until == -1);
        /* Nor one with a time-limited configuration. */
        t = fail_at(s, f->alice, NOW + 20 * 365 * 86400, deny, UNLOCK_TIME);
        assert_true(t.locked_until == -1);

        /* Only a reset (a success, or rolesctl user unlock) does. */
        assert_ok(s, roles_state_tally_reset(roles_login_secrets(s), f->alice));
        t = tally_at(s, f->alice, NOW + 2);
        assert_int_equal(t.failures, 0);
        assert_true(t.locked_until == 0);
        test_close(s);
}

/*
 * pam_faillock's rule: once a lock has run out, the whole deny budget is back (its records are
 * voided), so a single mistyped password after the lock does not lock the account again.
 */
static void test_tally_budget_back_after_lock(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);
        struct roles_tally t;

        /* The defaults: unlock_time (600) shorter than fail_interval (900). */
        for (unsigned i = 0; i < DENY; i++)
                t = fail_at(s, f->alice, NOW + i, DENY, UNLOCK_TIME);
        assert_true(t.locked_until == NOW + DENY - 1 + UNLOCK_TIME);
        int64_t after = NOW + DENY - 1 + UNLOCK_TIME + 1;
        assert_true(tally_at(s, f->alice, after).locked_until == 0);
        t = fail_at(s, f->alice, after, DENY, UNLOCK_TIME);
        assert_true(t.locked_until == 0);
        assert_int_equal(t.failures, 1);
        /* ... and the budget is whole: deny - 1 more failures still do not lock. */
        for (unsigned i = 1; i < DENY - 1; i++)
                t = fail_at(s, f->alice, after + i, DENY, UNLOCK_TIME);
        assert_int_equal(t.failures, DENY - 1);
        assert_true(t.locked_until == 0);
        t = fail_at(s, f->alice, after + DENY, DENY, UNLOCK_TIME);
        assert_true(t.locked_until == after + DENY + UNLOCK_TIME);
        test_close(s);
}

static void test_tally_reset(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);

        fail_at(s, f->alice, NOW, DENY, UNLOCK_TIME);
        fail_at(s, f->alice, NOW + 1, DENY, UNLOCK_TIME);
        fail_at(s, f->bob, NOW + 1, DENY, UNLOCK_TIME);
        assert_ok(s, roles_state_tally_reset(roles_login_secrets(s), f->alice));
        struct roles_tally t = tally_at(s, f->alice, NOW + 2);
        assert_int_equal(t.failures, 0);
        assert_true(t.locked_until == 0);
        /* Only alice's. */
        assert_int_equal(tally_at(s, f->bob, NOW + 2).failures, 1);
        /* Resetting nothing is fine. */
        assert_ok(s, roles_state_tally_reset(roles_login_secrets(s), f->alice));
        /* And counting starts again at 1. */
        assert_int_equal(fail_at(s, f->alice, NOW + 3, DENY, UNLOCK_TIME).failures, 1);

        /* A locked account is unlocked by a reset. */
        for (unsigned i = 0; i < DENY; i++)
                t = fail_at(s, f->bob, NOW + 10, DENY, UNLOCK_TIME);
        assert_true(t.locked_until == NOW + 10 + UNLOCK_TIME);
        assert_ok(s, roles_state_tally_reset(roles_login_secrets(s), f->bob));
        assert_true(tally_at(s, f->bob, NOW + 11).locked_until == 0);
        test_close(s);
}

/* Exit codes of the children below. */
enum { CHILD_OK = 0, CHILD_ALREADY = 1, CHILD_OPEN_FAILED = 2, CHILD_CALL_FAILED = 3, CHILD_WRONG = 4 };

static int child_fail(struct fixture *f, int i, const void *arg) {
        (void) i;
        (void) arg;
        char err[512];
        struct roles_tally t = { 0 };
        struct roles_login *s = login_store_or_null(&f->env, err, sizeof(err));
        if (!s) {
                fprintf(stderr, "child %d: open: %s\n", i, err);
                return CHILD_OPEN_FAILED;
        }
        int r = roles_state_tally_fail(roles_login_secrets(s), f->alice, NOW, 3, FAIL_INTERVAL, UNLOCK_TIME, &t);
        if (r < 0)
                fprintf(stderr, "child %d: tally_fail: %s\n", i, test_error(s));
        test_close(s);
        if (r < 0)
                return CHILD_CALL_FAILED;
        return t.failures >= 1 && t.failures <= PARALLEL_FAILURES ? CHILD_OK : CHILD_WRONG;
}

static void test_tally_parallel(void **state) {
        struct fixture *f = *state;
        int codes[PARALLEL_FAILURES], n = parallel_failures();
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        run_children(f, n, child_fail, NULL, codes);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("%d parallel failures recorded in %.2f s\n", n,
                      (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) * 1e-9);
        int bad = 0;
        for (int i = 0; i < n; i++)
                if (codes[i] != CHILD_OK) {
                        print_error("child %d exited %d\n", i, codes[i]);
                        bad++;
                }
        assert_int_equal(bad, 0);

        /* Every failure counted exactly once, and the account locked (deny = 3). */
        struct roles_login *s = login_store(f);
        struct roles_tally t = tally_at(s, f->alice, NOW);
        assert_int_equal(t.failures, n);
        assert_true(t.locked_until == NOW + UNLOCK_TIME);
        test_close(s);
        assert_int_equal(raw_int(f, "SELECT failures FROM tally WHERE user_uuid = ?1", f->alice), n);
}

/* ---- TOTP steps --------------------------------------------------------------------------------- */

static void test_totp_claim(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);
        int64_t last = 42;
        const int64_t step = NOW / ROLES_TOTP_STEP;

        assert_ok(s, roles_state_totp_last(roles_login_secrets(s), f->alice, &last));
        assert_true(last == -1);

        assert_ok(s, roles_state_totp_claim(roles_login_secrets(s), f->alice, step));
        assert_ok(s, roles_state_totp_last(roles_login_secrets(s), f->alice, &last));
        assert_true(last == step);

        /* The same step again, or an older one: refused, and nothing moves back. */
        assert_int_equal(roles_state_totp_claim(roles_login_secrets(s), f->alice, step), -EALREADY);
        assert_int_equal(roles_state_totp_claim(roles_login_secrets(s), f->alice, step - 1), -EALREADY);
        assert_int_equal(roles_state_totp_claim(roles_login_secrets(s), f->alice, 0), -EALREADY);
        assert_ok(s, roles_state_totp_last(roles_login_secrets(s), f->alice, &last));
        assert_true(last == step);

        /* A newer one succeeds, even skipping steps. */
        assert_ok(s, roles_state_totp_claim(roles_login_secrets(s), f->alice, step + 1));
        assert_ok(s, roles_state_totp_claim(roles_login_secrets(s), f->alice, step + 5));
        assert_int_equal(roles_state_totp_claim(roles_login_secrets(s), f->alice, step + 3), -EALREADY);
        assert_ok(s, roles_state_totp_last(roles_login_secrets(s), f->alice, &last));
        assert_true(last == step + 5);

        /* Per user. */
        assert_ok(s, roles_state_totp_last(roles_login_secrets(s), f->bob, &last));
        assert_true(last == -1);
        assert_ok(s, roles_state_totp_claim(roles_login_secrets(s), f->bob, step));
        test_close(s);
}

static int child_claim(struct fixture *f, int i, const void *arg) {
        const int64_t step = *(const int64_t *) arg;
        char err[512];
        struct roles_login *s = login_store_or_null(&f->env, err, sizeof(err));
        if (!s) {
                fprintf(stderr, "child %d: open: %s\n", i, err);
                return CHILD_OPEN_FAILED;
        }
        int r = roles_state_totp_claim(roles_login_secrets(s), f->alice, step);
        if (r < 0 && r != -EALREADY)
                fprintf(stderr, "child %d: totp_claim: %s\n", i, test_error(s));
        test_close(s);
        return r == 0 ? CHILD_OK : r == -EALREADY ? CHILD_ALREADY : CHILD_CALL_FAILED;
}

static void test_totp_claim_race(void **state) {
        struct fixture *f = *state;
        const int64_t first = NOW / ROLES_TOTP_STEP;

        /* Two logins typing the same code at the same moment: exactly one gets in, every time. */
        for (int round = 0; round < TOTP_RACES; round++) {
                int64_t step = first + round;
                int codes[2];
                run_children(f, 2, child_claim, &step, codes);
                int ok = (codes[0] == CHILD_OK) + (codes[1] == CHILD_OK);
                int already = (codes[0] == CHILD_ALREADY) + (codes[1] == CHILD_ALREADY);
                if (ok != 1 || already != 1)
                        fail_msg("round %d: children exited %d and %d (want one 0 and one 1)", round, codes[0], codes[1]);
        }
        struct roles_login *s = login_store(f);
        int64_t last;
        assert_ok(s, roles_state_totp_last(roles_login_secrets(s), f->alice, &last));
        assert_true(last == first + TOTP_RACES - 1);
        test_close(s);
}

/* ---- tracking and the login audit -------------------------------------------------------------- */

static void test_track_login(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);
        int64_t at = 0;
        char ip[64];

        assert_int_equal(roles_state_previous_login(roles_login_secrets(s), f->alice, &at, ip, sizeof(ip)), -ENOENT);

        /* The first login: last = current = now, count 1. */
        assert_ok(s, roles_state_track_login(roles_login_secrets(s), f->alice, (time_t) NOW, "192.0.2.1"));
        struct tracking t = raw_tracking(f, f->alice);
        assert_true(t.last_at == NOW);
        assert_true(t.current_at == NOW);
        assert_string_equal(t.last_ip, "192.0.2.1");
        assert_string_equal(t.current_ip, "192.0.2.1");
        assert_int_equal(t.count, 1);
        assert_ok(s, roles_state_previous_login(roles_login_secrets(s), f->alice, &at, ip, sizeof(ip)));
        assert_true(at == NOW);
        assert_string_equal(ip, "192.0.2.1");

        /* The second: current moves to last. */
        assert_ok(s, roles_state_track_login(roles_login_secrets(s), f->alice, (time_t) (NOW + 60), "198.51.100.7"));
        t = raw_tracking(f, f->alice);
        assert_true(t.last_at == NOW);
        assert_string_equal(t.last_ip, "192.0.2.1");
        assert_true(t.current_at == NOW + 60);
        assert_string_equal(t.current_ip, "198.51.100.7");
        assert_int_equal(t.count, 2);

        /* A local login (no PAM_RHOST, or an empty one) stores no address. */
        assert_ok(s, roles_state_track_login(roles_login_secrets(s), f->alice, (time_t) (NOW + 120), NULL));
        t = raw_tracking(f, f->alice);
        assert_true(t.last_at == NOW + 60);
        assert_string_equal(t.last_ip, "198.51.100.7");
        assert_true(t.current_at == NOW + 120);
        assert_true(t.current_ip_null);
        assert_int_equal(t.count, 3);
        assert_ok(s, roles_state_track_login(roles_login_secrets(s), f->alice, (time_t) (NOW + 180), ""));
        t = raw_tracking(f, f->alice);
        assert_true(t.last_ip_null);
        assert_true(t.current_ip_null);
        assert_int_equal(t.count, 4);

        /* Someone else's first login, without an address. */
        assert_ok(s, roles_state_track_login(roles_login_secrets(s), f->bob, (time_t) NOW, NULL));
        t = raw_tracking(f, f->bob);
        assert_true(t.last_at == NOW && t.current_at == NOW);
        assert_true(t.last_ip_null && t.current_ip_null);
        assert_int_equal(t.count, 1);
        test_close(s);
}

static void test_audit_login(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);

        assert_int_equal(raw_int(f, "SELECT count(*) FROM login_audit", NULL), 0);
        roles_snapshot_set_now(roles_login_snapshot(s), NOW + 5);
        assert_ok(s, roles_state_audit_login(roles_login_secrets(s), "alice", "sshd", "192.0.2.1", "failure", "wrong password"));
        assert_int_equal(raw_int(f, "SELECT count(*) FROM login_audit", NULL), 1);

        sqlite3 *db;
        sqlite3_stmt *st = raw_row(f, &db, "SELECT at, user, service, rhost, result, detail FROM login_audit", NULL);
        assert_true(sqlite3_column_int64(st, 0) == NOW + 5);
        assert_string_equal((const char *) sqlite3_column_text(st, 1), "alice");
        assert_string_equal((const char *) sqlite3_column_text(st, 2), "sshd");
        assert_string_equal((const char *) sqlite3_column_text(st, 3), "192.0.2.1");
        assert_string_equal((const char *) sqlite3_column_text(st, 4), "failure");
        assert_string_equal((const char *) sqlite3_column_text(st, 5), "wrong password");
        raw_done(db, st);

        /* Missing service, host and detail are stored empty, never NULL. */
        assert_ok(s, roles_state_audit_login(roles_login_secrets(s), "bob", NULL, NULL, "session", NULL));
        assert_int_equal(raw_int(f, "SELECT count(*) FROM login_audit", NULL), 2);
        assert_int_equal(raw_int(f,
                                 "SELECT count(*) FROM login_audit WHERE user = 'bob' AND service = '' AND rhost = '' "
                                 "AND result = 'session' AND detail = ''",
                                 NULL),
                         1);
        test_close(s);
}

/* login_audit_keep: the newest rows stay, the oldest go in batches of 256 ids (so between keep
 * and keep + 255 rows are there); 0 keeps every row. */
static void audit_rows(struct fixture *f, uint32_t keep, int n) {
        f->env.cfg.login_audit_keep = keep;
        struct roles_login *s = login_store(f);
        assert_ok(s, roles_state_begin(roles_login_secrets(s)));
        for (int i = 0; i < n; i++)
                assert_ok(s, roles_state_audit_login(roles_login_secrets(s), "alice", "sshd", "", "failure", "wrong password"));
        assert_ok(s, roles_state_end(roles_login_secrets(s), true));
        test_close(s);
}

static void test_audit_login_keeps_newest(void **state) {
        struct fixture *f = *state;

        /* Pruned at ids 256, 512, 768 and 1024, the last time down to 1024 - 100. */
        audit_rows(f, 100, 1100);
        assert_int_equal(raw_int(f, "SELECT count(*) FROM login_audit", NULL), 176);
        assert_int_equal(raw_int(f, "SELECT min(id) FROM login_audit", NULL), 925);
        assert_int_equal(raw_int(f, "SELECT max(id) FROM login_audit", NULL), 1100);

        /* A failed write prunes nothing: the rows go with the transaction that wrote the 1280th. */
        f->env.cfg.login_audit_keep = 100;
        struct roles_login *s = login_store(f);
        assert_ok(s, roles_state_begin(roles_login_secrets(s)));
        for (int i = 0; i < 180; i++)
                assert_ok(s, roles_state_audit_login(roles_login_secrets(s), "bob", "su", "", "failure", ""));
        assert_ok(s, roles_state_end(roles_login_secrets(s), false));
        test_close(s);
        assert_int_equal(raw_int(f, "SELECT count(*) FROM login_audit", NULL), 176);

        /* 0: everything stays. */
        audit_rows(f, 0, 300);
        assert_int_equal(raw_int(f, "SELECT count(*) FROM login_audit", NULL), 476);
}

/* A snapshot opened without secrets has no state.db to offer: no secrets view at all. One opened
 * with them reads state.db, and its view is const, so that what logins write does not compile
 * against it (tests/test_handle_types.sh). */
static void test_state_needs_login_store(void **state) {
        struct fixture *f = *state;
        struct roles_snapshot *s = test_reader(&f->env, 0);
        assert_null(roles_snapshot_secrets(s));
        test_close(s);

        s = test_reader(&f->env, ROLES_SNAPSHOT_SECRETS);
        const struct roles_secrets *view = roles_snapshot_secrets(s);
        assert_non_null(view);
        struct roles_tally t = { .failures = 12345 };
        int64_t step = 12345;
        assert_ok(view, roles_state_tally_get(view, f->alice, (time_t) NOW, &t));
        assert_int_equal(t.failures, 0);
        assert_ok(view, roles_state_totp_last(view, f->alice, &step));
        assert_int_equal(step, -1);
        test_close(s);
}

/* ---- what PAM changes in secrets.db -------------------------------------------------------------- */

static struct roles_secret secret_of(struct roles_login *s, const char *uuid) {
        struct roles_secret sec;
        assert_ok(s, roles_secret_get(roles_login_secrets(s), uuid, &sec));
        return sec;
}

static void test_secret_rehash(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);
        struct roles_hash_params params;
        char fresh[ROLES_HASH_ENCODED_MAX], other[ROLES_HASH_ENCODED_MAX];
        roles_hash_params_from_config(&f->env.cfg, &params);
        assert_int_equal(roles_password_hash("correct horse", 13, &params, fresh), 0);
        assert_int_equal(roles_password_hash("someone else's", 14, &params, other), 0);

        struct roles_secret before = secret_of(s, f->alice);
        assert_string_equal(before.password_hash, f->alice_hash);

        /* The stored hash is no longer the one verified (the password changed meanwhile): kept. */
        assert_ok(s, roles_secret_rehash(roles_login_secrets(s), f->alice, other, fresh));
        struct roles_secret after = secret_of(s, f->alice);
        assert_string_equal(after.password_hash, f->alice_hash);

        /* Still the old one: replaced, and nothing else moves (not a password change). */
        roles_snapshot_set_now(roles_login_snapshot(s), NOW + 1000);
        assert_ok(s, roles_secret_rehash(roles_login_secrets(s), f->alice, f->alice_hash, fresh));
        after = secret_of(s, f->alice);
        assert_string_equal(after.password_hash, fresh);
        assert_true(after.password_changed_at == before.password_changed_at);
        assert_true(after.last_auth_sensitive_operation_at == before.last_auth_sensitive_operation_at);
        assert_string_equal(after.fs_uniquifier, before.fs_uniquifier);
        assert_int_equal(after.must_change_password, before.must_change_password);

        /* Twice with the same old hash (two logins racing): the second finds it gone. */
        assert_ok(s, roles_secret_rehash(roles_login_secrets(s), f->alice, f->alice_hash, other));
        after = secret_of(s, f->alice);
        assert_string_equal(after.password_hash, fresh);

        /* bob has no password: nothing to match. */
        assert_ok(s, roles_secret_rehash(roles_login_secrets(s), f->bob, "", fresh));
        after = secret_of(s, f->bob);
        assert_string_equal(after.password_hash, "");

        roles_secret_wipe(&before);
        roles_secret_wipe(&after);
        test_close(s);
}

static void test_secret_drop_codes(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);
        struct roles_code_row row;

        /* The reset code was used before (a login with it), the activation one is pending. */
        roles_snapshot_set_now(roles_login_snapshot(s), NOW + 5);
        assert_ok(s, roles_secret_use_code(roles_login_secrets(s), f->alice, ROLES_CODE_RESET, f->reset));

        /* A new password drops what is pending; a used code keeps its time. */
        roles_snapshot_set_now(roles_login_snapshot(s), NOW + 10);
        assert_ok(s, roles_secret_drop_codes(roles_login_secrets(s), f->alice));
        assert_ok(s, roles_secret_get_code(roles_login_secrets(s), f->alice, ROLES_CODE_ACTIVATION, &row));
        assert_true(row.used_at == NOW + 10);
        assert_ok(s, roles_secret_get_code(roles_login_secrets(s), f->alice, ROLES_CODE_RESET, &row));
        assert_true(row.used_at == NOW + 5);

        /* A dropped code no longer logs in. */
        assert_int_equal(roles_secret_use_code(roles_login_secrets(s), f->alice, ROLES_CODE_ACTIVATION, f->activation), -EALREADY);
        /* A user without codes: nothing to do, no error. */
        assert_ok(s, roles_secret_drop_codes(roles_login_secrets(s), f->bob));
        test_close(s);
}

static void test_secret_activated_must_change(void **state) {
        struct fixture *f = *state;
        struct roles_login *s = login_store(f);

        assert_true(secret_of(s, f->bob).activated_at == 0);
        roles_snapshot_set_now(roles_login_snapshot(s), NOW + 7);
        assert_ok(s, roles_secret_set_activated(roles_login_secrets(s), f->bob));
        assert_true(secret_of(s, f->bob).activated_at == NOW + 7);
        /* The first activation stays. */
        roles_snapshot_set_now(roles_login_snapshot(s), NOW + 70);
        assert_ok(s, roles_secret_set_activated(roles_login_secrets(s), f->bob));
        assert_true(secret_of(s, f->bob).activated_at == NOW + 7);

        assert_false(secret_of(s, f->bob).must_change_password);
        assert_ok(s, roles_secret_set_must_change(roles_login_secrets(s), f->bob, true));
        assert_true(secret_of(s, f->bob).must_change_password);
        assert_ok(s, roles_secret_set_must_change(roles_login_secrets(s), f->bob, false));
        assert_false(secret_of(s, f->bob).must_change_password);

        /* A uuid without a secrets row. */
        assert_int_equal(roles_secret_set_activated(roles_login_secrets(s), "00000000-0000-4000-8000-000000000000"), -ENOENT);
        assert_int_equal(roles_secret_set_must_change(roles_login_secrets(s), "00000000-0000-4000-8000-000000000000", true), -ENOENT);
        test_close(s);
}

/* ---- verifying what secrets.db holds -------------------------------------------------------------- */

static void test_verify_stored(void **state) {
        struct fixture *f = *state;
        struct roles_hash_params params, ceiling;
        roles_hash_params_from_config(&f->env.cfg, &params);
        roles_hash_ceiling_from_config(&f->env.cfg, &ceiling);

        /* A sha512crypt hash as an imported shadow line has it. */
        struct crypt_data *cd = calloc(1, sizeof(*cd));
        assert_non_null(cd);
        const char *h = crypt_r("hunter22", "$6$saltsalt$", cd);
        assert_non_null(h);
        assert_true(strncmp(h, "$6$saltsalt$", 12) == 0);
        char stored[ROLES_HASH_ENCODED_MAX];
        assert_true((size_t) snprintf(stored, sizeof(stored), "%s%s", ROLES_HASH_LEGACY_CRYPT, h) < sizeof(stored));
        free(cd);

        assert_int_equal(roles_password_verify_stored(stored, "hunter22", 8, &params, &ceiling), 0);
        assert_int_equal(roles_password_verify_stored(stored, "hunter23", 8, &params, &ceiling), -EACCES);
        assert_int_equal(roles_password_verify_stored(stored, "hunter2", 7, &params, &ceiling), -EACCES);
        assert_int_equal(roles_password_verify_stored(stored, "", 0, &params, &ceiling), -EACCES);
        /* Length is what counts, not a NUL inside. */
        assert_true(roles_password_verify_stored(stored, "hunter22\0x", 10, &params, &ceiling) < 0);
        /* Any hash from crypt(3) needs rehashing to argon2id. */
        assert_true(roles_password_needs_rehash(stored, &params));

        /* Malformed or locked {crypt} strings never verify, whatever the password. */
        static const char *const bad[] = {
                "{crypt}*", "{crypt}", "{crypt}!", "{crypt}*0", "{crypt}*1", "{crypt}$6$", "{crypt}$6$saltsalt$",
                "{crypt}$99$xx$yy",
        };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(bad); i++) {
                int r = roles_password_verify_stored(bad[i], "hunter22", 8, &params, &ceiling);
                if (r >= 0)
                        fail_msg("'%s' verified (%d)", bad[i], r);
                r = roles_password_verify_stored(bad[i], "", 0, &params, &ceiling);
                if (r >= 0)
                        fail_msg("'%s' verified an empty password (%d)", bad[i], r);
        }
        /* A locked shadow hash ("!" before it, passwd -l) never verifies either. */
        char locked[ROLES_HASH_ENCODED_MAX];
        assert_true((size_t) snprintf(locked, sizeof(locked), "%s!%s", ROLES_HASH_LEGACY_CRYPT,
                                      stored + strlen(ROLES_HASH_LEGACY_CRYPT)) < sizeof(locked));
        assert_true(roles_password_verify_stored(locked, "hunter22", 8, &params, &ceiling) < 0);
        /* A bare crypt string without the marker is not argon2id: refused, not guessed at. */
        assert_true(roles_password_verify_stored(stored + strlen(ROLES_HASH_LEGACY_CRYPT), "hunter22", 8, &params, &ceiling) < 0);

        /* An argon2id string still goes to argon2. */
        assert_int_equal(roles_password_verify_stored(f->alice_hash, "correct horse", 13, &params, &ceiling), 0);
        assert_int_equal(roles_password_verify_stored(f->alice_hash, "correct horsf", 13, &params, &ceiling), -EACCES);
        assert_false(roles_password_needs_rehash(f->alice_hash, &params));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_tally_counts, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tally_interval, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tally_locks_for_unlock_time, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tally_locks_until_unlocked, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tally_budget_back_after_lock, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tally_reset, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_tally_parallel, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_totp_claim, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_totp_claim_race, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_track_login, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_audit_login, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_audit_login_keeps_newest, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_state_needs_login_store, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secret_rehash, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secret_drop_codes, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_secret_activated_must_change, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_verify_stored, setup, test_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
