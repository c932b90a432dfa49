/* SPDX-License-Identifier: MIT */
/*
 * The login protocol (common/login.h) driven without libpam, against real database files: the
 * conversation is a script of answers, the log a counter. What PAM maps to its codes is checked
 * here at its source: right and wrong passwords, an unknown user paying what a wrong password
 * pays, the lockout, a one-time code that must then set a password, TOTP codes right, wrong and
 * reused, recovery codes in their place, totp_required, and the accounts account refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <liboath/oath.h>
#include <sqlite3.h>
#include <syslog.h>

#include "auth.h"
#include "host_accounts.h"
#include "login.h"
#include "testlib.h"

#define NOW INT64_C(1767225600)         /* 2026-01-01T00:00:00Z: every store's pinned clock */
#define DENY 3u

static const char pw_right[] = "correct horse battery";
/* RFC 6238 appendix B: the SHA1 seed "12345678901234567890". */
static const char totp_raw[] = "12345678901234567890";
static const char totp_b32[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/* Names no host resolves, so that the host rule leaves them to roles. */
static const char *const names[] = { "lgnalice", "lgncarol", "lgntotp", "lgnexp", "lgndis" };

struct fixture {
        struct test_env env;                            /* first: test_teardown takes it */
        struct host_paths no_host;                      /* the host's own accounts: none */
        char code[ROLES_CODE_TEXT_LEN + 1];             /* lgncarol's activation code */
        char recovery[3][ROLES_CODE_TEXT_LEN + 1];      /* lgntotp's recovery codes */
        char uuid[ROLES_N_ELEMENTS(names)][ROLES_UUID_LEN + 1];
};

/* ---- the conversation: a script of answers, what was said, how many lines were logged ------- */

struct conv {
        const char *answers[4];
        size_t next;
        bool fail;                      /* the conversation breaks at the next question */
        char said[256];
        char informed[256];
        unsigned logged;
        unsigned logged_above_debug;    /* lines a PAM stack without debug would log */
        char log[2048];                 /* every line, one per line, "PRIORITY TEXT" */
};

static int ask(void *userdata, enum roles_login_ask what, const char **ret_answer) {
        struct conv *c = userdata;
        (void) what;
        if (c->fail)
                return -EIO;
        assert_true(c->next < ROLES_N_ELEMENTS(c->answers));
        *ret_answer = c->answers[c->next++];
        return 0;
}

static void say(void *userdata, const char *text) {
        struct conv *c = userdata;
        snprintf(c->said, sizeof(c->said), "%s", text);
}

static void inform(void *userdata, const char *text) {
        struct conv *c = userdata;
        snprintf(c->informed, sizeof(c->informed), "%s", text);
}

static void log_line(void *userdata, int priority, const char *text) {
        struct conv *c = userdata;
        size_t n = strlen(c->log);
        snprintf(c->log + n, sizeof(c->log) - n, "%d %s\n", priority, text);
        c->logged++;
        if (priority != LOG_DEBUG)
                c->logged_above_debug++;
}

static const struct roles_login_ops ops = { .ask = ask, .say = say, .inform = inform, .log = log_line };

/* ---- fixture ------------------------------------------------------------------------------ */

static void add_user(struct roles_writer *s, const char *name, bool enabled, int64_t expires_at,
                     char uuid[static ROLES_UUID_LEN + 1]) {
        struct roles_user u = { .uid = ROLES_ID_INVALID, .gid = ROLES_ID_INVALID, .enabled = enabled,
                                .activated_at = NOW - 60, .expires_at = expires_at };
        assert_int_equal(roles_strcpy(u.name, sizeof(u.name), name), 0);
        assert_ok(s, roles_user_add(s, &u));
        memcpy(uuid, u.uuid, ROLES_UUID_LEN + 1);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        char hash[ROLES_HASH_ENCODED_MAX];
        uint8_t code_hash[ROLES_CODE_HASH_LEN];
        struct roles_hash_params params;

        if (!f)
                return -1;
        test_env_setup(&f->env);
        test_env_init(&f->env);
        f->env.cfg.deny = DENY;
        roles_hash_params_from_config(&f->env.cfg, &params);
        assert_int_equal(roles_password_hash(pw_right, strlen(pw_right), &params, hash), 0);

        struct roles_writer *s = test_writer(&f->env);
        roles_snapshot_set_now(roles_writer_snapshot(s), NOW);
        assert_int_equal(roles_writer_set_actor(s, "tester"), 0);
        add_user(s, "lgnalice", true, 0, f->uuid[0]);
        add_user(s, "lgncarol", true, 0, f->uuid[1]);
        add_user(s, "lgntotp", true, 0, f->uuid[2]);
        add_user(s, "lgnexp", true, NOW - 1, f->uuid[3]);
        add_user(s, "lgndis", false, 0, f->uuid[4]);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(names); i++)
                if (i != 1)
                        assert_ok(s, roles_secret_set_password(roles_writer_secrets(s), f->uuid[i], hash, false));
        /* lgncarol: no password, an activation code (as `rolesctl user add --activation`). */
        assert_int_equal(roles_code_new(f->code), 0);
        assert_int_equal(roles_code_hash(f->code, f->uuid[1], code_hash), 0);
        assert_ok(s, roles_secret_put_code(s, f->uuid[1], ROLES_CODE_ACTIVATION, code_hash, NOW + 3600));
        assert_ok(s, roles_secret_set_totp(s, f->uuid[2], totp_b32));
        uint8_t recovery_hashes[ROLES_N_ELEMENTS(f->recovery)][ROLES_RECOVERY_HASH_LEN];
        for (size_t i = 0; i < ROLES_N_ELEMENTS(f->recovery); i++) {
                assert_int_equal(roles_code_new(f->recovery[i]), 0);
                assert_int_equal(roles_code_hash(f->recovery[i], f->uuid[2], recovery_hashes[i]), 0);
        }
        assert_ok(s, roles_secret_set_recovery_codes(s, f->uuid[2], recovery_hashes, ROLES_N_ELEMENTS(recovery_hashes)));
        test_commit(s);
        *state = f;
        return 0;
}

/* One login as pam_roles makes it: a store of its own, its clock pinned, the user found. */
struct login {
        struct roles_attempt l;
        struct conv conv;
        enum roles_login_reason reason;
        struct roles_login_found found;
};

static void login_begin(struct fixture *f, struct login *g, const char *user) {
        struct roles_login *s = test_login(&f->env);
        roles_snapshot_set_now(roles_login_snapshot(s), NOW);
        memset(g, 0, sizeof(*g));
        roles_attempt_init(&g->l, s, &f->env.cfg, user, &ops, &g->conv);
        g->l.service = "test";
        g->l.host = &f->no_host;
        assert_int_equal(roles_login_find_user(&g->l), ROLES_LOGIN_OK);
}

static void login_end(struct login *g) {
        roles_login_close(g->l.login);
}

/* One authentication of user with these answers: the result, the reason in g->reason. */
static enum roles_login_result auth(struct fixture *f, struct login *g, const char *user, const char *password,
                                    const char *code) {
        login_begin(f, g, user);
        g->conv.answers[0] = password;
        g->conv.answers[1] = code;
        enum roles_login_result r = roles_login_password(&g->l, &g->found, &g->reason);
        login_end(g);
        return r;
}

static enum roles_login_result account(struct fixture *f, const char *user, const struct roles_login_found *found,
                                       enum roles_login_reason *ret_reason) {
        struct login g;
        login_begin(f, &g, user);
        enum roles_login_result r = roles_login_account(&g.l, found, ret_reason);
        login_end(&g);
        return r;
}

static unsigned failures_of(struct fixture *f, size_t who) {
        struct roles_snapshot *s = test_reader(&f->env, ROLES_SNAPSHOT_SECRETS);
        struct roles_tally t;
        assert_ok(s, roles_state_tally_get(roles_snapshot_secrets(s), f->uuid[who], NOW, &t));
        test_close(s);
        return t.failures;
}

/* One number from state.db, read as it is on disk. */
static int64_t state_number(struct fixture *f, const char *sql) {
        char path[PATH_MAX];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        snprintf(path, sizeof(path), "%s/state.db", f->env.dir);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

static int64_t audit_rows(struct fixture *f, const char *result) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM login_audit WHERE result = '%s'", result);
        return state_number(f, sql);
}

static int64_t outbox_rows(struct fixture *f, const char *kind) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE kind LIKE '%s'", kind);
        return state_number(f, sql);
}

/* The detail of the newest login audit row with this result ("" when there is none). */
static void audit_detail(struct fixture *f, const char *result, char *buf, size_t size) {
        char path[PATH_MAX];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        snprintf(path, sizeof(path), "%s/state.db", f->env.dir);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT detail FROM login_audit WHERE result = ?1 ORDER BY id DESC LIMIT 1",
                                            -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, result, -1, SQLITE_STATIC);
        snprintf(buf, size, "%s", sqlite3_step(st) == SQLITE_ROW ? (const char *) sqlite3_column_text(st, 0) : "");
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* The newest login_audit row's result and detail, "RESULT DETAIL". */
static void last_audit(struct fixture *f, char *buf, size_t size) {
        char path[PATH_MAX];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        snprintf(path, sizeof(path), "%s/state.db", f->env.dir);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT user || ' ' || result || ' ' || detail FROM login_audit "
                                            "ORDER BY id DESC LIMIT 1", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        snprintf(buf, size, "%s", (const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static unsigned recovery_left(struct fixture *f, size_t who) {
        struct roles_snapshot *s = test_reader(&f->env, ROLES_SNAPSHOT_SECRETS);
        unsigned n = 99;
        assert_ok(s, roles_secret_recovery_left(roles_snapshot_secrets(s), f->uuid[who], &n));
        test_close(s);
        return n;
}

/* CPU time, not wall time: a verification is work, a state.db write mostly waiting for fsync. */
static double ms_since(const struct timespec *a) {
        struct timespec b;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        return (double) (b.tv_sec - a->tv_sec) * 1e3 + (double) (b.tv_nsec - a->tv_nsec) / 1e6;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_right_and_wrong_password(void **state) {
        struct fixture *f = *state;
        struct login g;

        assert_int_equal(auth(f, &g, "lgnalice", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_WRONG_PASSWORD);
        assert_string_equal(roles_login_reason_text(g.reason), "wrong password");
        assert_int_equal(failures_of(f, 0), 1);
        assert_int_equal(audit_rows(f, "failure"), 1);

        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(g.reason, ROLES_LOGIN_R_NONE);
        assert_false(g.found.by_code);
        assert_false(g.found.must_change_password);
        assert_int_equal(failures_of(f, 0), 0);         /* a success clears the count it found */

        enum roles_login_reason why;
        assert_int_equal(account(f, "lgnalice", &g.found, &why), ROLES_LOGIN_OK);
        assert_int_equal(account(f, "lgnalice", NULL, &why), ROLES_LOGIN_OK);

        /* No answer at all is a refusal, not counted; a broken conversation is its own result. */
        assert_int_equal(auth(f, &g, "lgnalice", NULL, NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_NO_PASSWORD);
        login_begin(f, &g, "lgnalice");
        g.conv.fail = true;
        assert_int_equal(roles_login_password(&g.l, &g.found, &g.reason), ROLES_LOGIN_CONV_ERROR);
        login_end(&g);
        assert_int_equal(failures_of(f, 0), 0);
}

/* An argon2 long enough to see in CPU time, and no lockout in the way of repeated refusals. */
static void slow_argon2(struct fixture *f) {
        f->env.cfg.argon2_t_cost = 4;
        f->env.cfg.argon2_m_cost_kib = 8192;
        f->env.cfg.deny = 0;
}

/* The least CPU time of three refusals of user's password (one question each), each for reason
 * want: the least, as the noise of a shared machine only ever adds. */
static double least_refusal_ms(struct fixture *f, const char *user, const char *password, bool totp_required,
                               enum roles_login_reason want) {
        double least = 1e9;
        for (int i = 0; i < 3; i++) {
                struct login g;
                struct timespec t0;
                login_begin(f, &g, user);
                g.l.totp_required = totp_required;
                g.conv.answers[0] = password;
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
                assert_int_equal(roles_login_password(&g.l, &g.found, &g.reason), ROLES_LOGIN_AUTH_FAILED);
                double ms = ms_since(&t0);
                login_end(&g);
                assert_int_equal(g.reason, want);
                assert_int_equal(g.conv.next, 1);       /* the same questions as a wrong password */
                least = ms < least ? ms : least;
        }
        return least;
}

/* An unknown user gets a wrong password's answer, writes its state.db row and pays its argon2:
 * with no verification it would answer in a fraction of the CPU time. */
static void test_unknown_user_pays_the_same(void **state) {
        struct fixture *f = *state;

        slow_argon2(f);
        double wrong = least_refusal_ms(f, "lgnalice", "not the password", false, ROLES_LOGIN_R_WRONG_PASSWORD);
        double unknown = least_refusal_ms(f, "lgnnobody", "not the password", false, ROLES_LOGIN_R_UNKNOWN_USER);
        assert_int_equal(audit_rows(f, "failure"), 6);
        assert_true(unknown >= wrong / 2);
        print_message("# least CPU of a refusal: wrong password %.1f ms, unknown user %.1f ms\n", wrong, unknown);

        enum roles_login_reason why;
        assert_int_equal(account(f, "lgnnobody", NULL, &why), ROLES_LOGIN_UNKNOWN_USER);
        assert_int_equal(why, ROLES_LOGIN_R_UNKNOWN_USER);
}

/* deny wrong passwords lock the account: then even the right one is refused, and counted. */
static void test_lockout_after_deny(void **state) {
        struct fixture *f = *state;
        struct login g;

        for (unsigned i = 0; i < DENY; i++) {
                assert_int_equal(auth(f, &g, "lgnalice", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
                assert_int_equal(g.reason, ROLES_LOGIN_R_WRONG_PASSWORD);
        }
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_LOCKED_OUT);
        assert_int_equal(audit_rows(f, "failure"), DENY + 1);
        /* account does not judge the tally (a public key is not a guessed password). */
        enum roles_login_reason why;
        assert_int_equal(account(f, "lgnalice", NULL, &why), ROLES_LOGIN_OK);
}

/* A one-time code stands in for the password once; the account must then set one, which
 * activates it and ends the must-change state. The new password is held to the policy. */
static void test_code_then_must_change(void **state) {
        struct fixture *f = *state;
        struct login g;
        enum roles_login_reason why;
        char policy[128];

        assert_int_equal(auth(f, &g, "lgncarol", pw_right, NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_WRONG_PASSWORD);       /* it has none */
        assert_int_equal(auth(f, &g, "lgncarol", f->code, NULL), ROLES_LOGIN_OK);
        assert_true(g.found.by_code);
        assert_true(g.found.must_change_password);
        struct roles_login_found found = g.found;
        assert_int_equal(account(f, "lgncarol", &found, &why), ROLES_LOGIN_MUST_CHANGE);
        assert_int_equal(account(f, "lgncarol", NULL, &why), ROLES_LOGIN_MUST_CHANGE);
        /* Used: a second login with it is a wrong password. */
        assert_int_equal(auth(f, &g, "lgncarol", f->code, NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_WRONG_PASSWORD);

        /* The change, without the current password (the code stood in for it). */
        login_begin(f, &g, "lgncarol");
        g.conv.answers[0] = "short";
        assert_int_equal(roles_login_chauthtok(&g.l, false, false, &g.reason), ROLES_LOGIN_NOT_CHANGED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_NEW_PASSWORD_POLICY);
        /* The words rolesctl gives too. */
        assert_string_equal(g.conv.said, roles_password_policy_refusal(-ERANGE, &f->env.cfg, policy, sizeof(policy)));
        assert_non_null(strstr(g.conv.said, "at least 8 characters"));
        g.conv.answers[1] = "a fresh password";
        assert_int_equal(roles_login_chauthtok(&g.l, false, false, &g.reason), ROLES_LOGIN_OK);
        login_end(&g);
        assert_int_equal(account(f, "lgncarol", NULL, &why), ROLES_LOGIN_OK);
        assert_int_equal(auth(f, &g, "lgncarol", "a fresh password", NULL), ROLES_LOGIN_OK);
        assert_false(g.found.must_change_password);

        /* With the current password asked: a wrong one is refused and counted as auth's are. */
        unsigned before = failures_of(f, 1);
        login_begin(f, &g, "lgncarol");
        g.conv.answers[0] = "not the password";
        assert_int_equal(roles_login_chauthtok(&g.l, true, false, &g.reason), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_WRONG_PASSWORD);
        login_end(&g);
        assert_int_equal(failures_of(f, 1), before + 1);
}

/* TOTP through the callback: the right code once, the same step again refused but not counted
 * (and the user told), a wrong code refused and counted. */
static void test_totp(void **state) {
        struct fixture *f = *state;
        struct login g;
        char code[16], wrong[16];

        assert_int_equal(oath_init(), OATH_OK);
        assert_int_equal(oath_totp_generate(totp_raw, strlen(totp_raw), (time_t) NOW, ROLES_TOTP_STEP, 0,
                                            ROLES_TOTP_DIGITS, code), OATH_OK);
        snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);

        assert_int_equal(auth(f, &g, "lgntotp", pw_right, code), ROLES_LOGIN_OK);
        assert_int_equal(g.conv.next, 2);               /* the code was asked */

        assert_int_equal(auth(f, &g, "lgntotp", pw_right, code), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_TOTP_REUSED);
        assert_non_null(strstr(g.conv.said, "already used"));
        assert_int_equal(failures_of(f, 2), 0);

        assert_int_equal(auth(f, &g, "lgntotp", pw_right, wrong), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_TOTP_WRONG);
        assert_int_equal(failures_of(f, 2), 1);

        /* The password alone (no_totp) lets an enrolled account in but clears no count: the count
         * guards the codes too, and a caller that may pick no_totp (roles_chkpwd's) would
         * otherwise guess codes without end, clearing its count with the password it knows. */
        login_begin(f, &g, "lgntotp");
        g.l.no_totp = true;
        g.conv.answers[0] = pw_right;
        assert_int_equal(roles_login_password(&g.l, &g.found, &g.reason), ROLES_LOGIN_OK);
        login_end(&g);
        assert_int_equal(g.conv.next, 1);
        assert_int_equal(failures_of(f, 2), 1);

        /* A wrong password never reaches the code prompt. */
        assert_int_equal(auth(f, &g, "lgntotp", "not the password", code), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.conv.next, 1);
        (void) oath_done();
}

/* Change secrets.db behind the store's back, as a damaged, hand-edited or restored file would
 * be: sql, with ?1 the uuid of names[who] (who past names: no parameter, a schema change). */
static void secrets_edit(struct fixture *f, const char *sql, size_t who) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_open_v2(f->env.cfg.secrets_db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        if (who < ROLES_N_ELEMENTS(names))
                sqlite3_bind_text(st, 1, f->uuid[who], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        if (who < ROLES_N_ELEMENTS(names))
                assert_int_equal(sqlite3_changes(db), 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* A TOTP secret that is not text, or empty, is a damaged record: the login is refused, even
 * with the right code, and never let in on the password alone as "not enrolled". */
static void test_totp_secret_damaged(void **state) {
        struct fixture *f = *state;
        struct login g;
        char code[16];
        static const char *const damage[] = {
                "UPDATE credentials SET totp_secret = CAST(totp_secret AS BLOB) WHERE user_uuid = ?1",
                "UPDATE credentials SET totp_secret = X'' WHERE user_uuid = ?1",
                "UPDATE credentials SET totp_secret = '' WHERE user_uuid = ?1",
        };

        assert_int_equal(oath_init(), OATH_OK);
        assert_int_equal(oath_totp_generate(totp_raw, strlen(totp_raw), (time_t) NOW, ROLES_TOTP_STEP, 0,
                                            ROLES_TOTP_DIGITS, code), OATH_OK);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(damage); i++) {
                secrets_edit(f, damage[i], 2);
                assert_int_equal(auth(f, &g, "lgntotp", pw_right, NULL), ROLES_LOGIN_AUTH_FAILED);
                assert_int_equal(g.reason, ROLES_LOGIN_R_ACCOUNT_UNREADABLE);
                assert_int_equal(auth(f, &g, "lgntotp", pw_right, code), ROLES_LOGIN_AUTH_FAILED);
                assert_int_equal(g.reason, ROLES_LOGIN_R_ACCOUNT_UNREADABLE);
                secrets_edit(f, "UPDATE credentials SET totp_secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' "
                             "WHERE user_uuid = ?1", 2);
        }
        /* A password hash that is not text is refused as well, not read as "no password". */
        secrets_edit(f, "UPDATE credentials SET password_hash = CAST(password_hash AS BLOB) WHERE user_uuid = ?1", 0);
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_ACCOUNT_UNREADABLE);
        (void) oath_done();
}

/* A password change is one secrets.db write: when dropping the pending codes fails (their table
 * gone for the moment), the password is not changed either, as the answer says. */
static void test_password_change_whole_or_not(void **state) {
        struct fixture *f = *state;
        struct login g;

        login_begin(f, &g, "lgnalice");
        secrets_edit(f, "ALTER TABLE codes RENAME TO codes_away", SIZE_MAX);
        g.conv.answers[0] = "a fresh password";
        assert_int_not_equal(roles_login_chauthtok(&g.l, false, false, &g.reason), ROLES_LOGIN_OK);
        assert_int_equal(g.reason, ROLES_LOGIN_R_SYSTEM);
        login_end(&g);
        secrets_edit(f, "ALTER TABLE codes_away RENAME TO codes", SIZE_MAX);
        assert_int_equal(auth(f, &g, "lgnalice", "a fresh password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
}

/* A recovery code stands in for a TOTP code once, typed as printed or not (case, dashes); its
 * use is in the login audit with the number left, which the user is told. Spent, or never
 * issued, it is a wrong code: refused and counted. */
static void test_recovery_codes(void **state) {
        struct fixture *f = *state;
        struct login g;
        char detail[128], other[ROLES_CODE_TEXT_LEN + 1], typed[ROLES_CODE_TEXT_LEN + 1];

        assert_int_equal(recovery_left(f, 2), 3);
        assert_int_equal(auth(f, &g, "lgntotp", pw_right, f->recovery[0]), ROLES_LOGIN_OK);
        assert_int_equal(g.conv.next, 2);
        assert_string_equal(g.conv.informed, "Recovery code used: 2 left.");
        assert_int_equal(recovery_left(f, 2), 2);
        assert_int_equal(audit_rows(f, "recovery"), 1);
        audit_detail(f, "recovery", detail, sizeof(detail));
        assert_string_equal(detail, "recovery code used, 2 left");
        assert_int_equal(failures_of(f, 2), 0);
        audit_detail(f, "success", detail, sizeof(detail));
        assert_string_equal(detail, "password and recovery code");

        /* Spent: refused, counted, nothing more spent. */
        assert_int_equal(auth(f, &g, "lgntotp", pw_right, f->recovery[0]), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_RECOVERY_WRONG);
        assert_int_equal(failures_of(f, 2), 1);
        assert_int_equal(recovery_left(f, 2), 2);
        audit_detail(f, "failure", detail, sizeof(detail));
        assert_string_equal(detail, "recovery code unknown or already used");

        /* Another account's code shape, never issued to this one: the same. */
        assert_int_equal(roles_code_new(other), 0);
        assert_int_equal(auth(f, &g, "lgntotp", pw_right, other), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_RECOVERY_WRONG);
        assert_int_equal(failures_of(f, 2), 2);

        /* Lower case, without dashes. */
        size_t n = 0;
        for (const char *p = f->recovery[1]; *p; p++)
                if (*p != '-')
                        typed[n++] = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        typed[n] = '\0';
        assert_int_equal(auth(f, &g, "lgntotp", pw_right, typed), ROLES_LOGIN_OK);
        assert_int_equal(recovery_left(f, 2), 1);
        assert_int_equal(failures_of(f, 2), 0);         /* the success cleared the count */
        assert_int_equal(audit_rows(f, "recovery"), 2);

        /* Not at the password prompt: it is no password. */
        assert_int_equal(auth(f, &g, "lgntotp", f->recovery[2], NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_WRONG_PASSWORD);
        assert_int_equal(recovery_left(f, 2), 1);
}

/* totp_required: an account that has not enrolled gets a wrong password's answer, count and
 * argon2 (its right password included), and the reason says why; an enrolled one logs in. */
static void test_totp_required(void **state) {
        struct fixture *f = *state;
        struct login g;
        char code[16], detail[128];

        slow_argon2(f);
        double wrong = least_refusal_ms(f, "lgnalice", "not the password", false, ROLES_LOGIN_R_WRONG_PASSWORD);
        double refused = least_refusal_ms(f, "lgnalice", pw_right, true, ROLES_LOGIN_R_NO_TOTP);
        assert_true(refused >= wrong / 2);
        print_message("# least CPU of a refusal: wrong password %.1f ms, no TOTP and required %.1f ms\n", wrong, refused);
        assert_int_equal(failures_of(f, 0), 6);
        audit_detail(f, "failure", detail, sizeof(detail));
        assert_string_equal(detail, "no TOTP enrolled and totp=required");
        assert_string_equal(roles_login_reason_text(ROLES_LOGIN_R_NO_TOTP), "no TOTP enrolled and totp=required");

        assert_int_equal(oath_init(), OATH_OK);
        assert_int_equal(oath_totp_generate(totp_raw, strlen(totp_raw), (time_t) NOW, ROLES_TOTP_STEP, 0,
                                            ROLES_TOTP_DIGITS, code), OATH_OK);
        login_begin(f, &g, "lgntotp");
        g.l.totp_required = true;
        g.conv.answers[0] = pw_right;
        g.conv.answers[1] = code;
        assert_int_equal(roles_login_password(&g.l, &g.found, &g.reason), ROLES_LOGIN_OK);
        login_end(&g);
        (void) oath_done();
}

/* account refuses expired and disabled accounts; auth refuses a disabled one as a wrong password
 * (its answer and its count), and leaves expiry to account, which says so. */
static void test_expired_and_disabled(void **state) {
        struct fixture *f = *state;
        struct login g;
        enum roles_login_reason why;

        assert_int_equal(account(f, "lgnexp", NULL, &why), ROLES_LOGIN_EXPIRED);
        assert_int_equal(why, ROLES_LOGIN_R_EXPIRED);
        assert_int_equal(account(f, "lgndis", NULL, &why), ROLES_LOGIN_DENIED);
        assert_int_equal(why, ROLES_LOGIN_R_DISABLED);

        assert_int_equal(auth(f, &g, "lgndis", pw_right, NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(g.reason, ROLES_LOGIN_R_DISABLED);
        assert_int_equal(failures_of(f, 4), 1);
        assert_int_equal(auth(f, &g, "lgnexp", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(account(f, "lgnexp", &g.found, &why), ROLES_LOGIN_EXPIRED);
}

/* A session: tracked and audited; the second one tells the first; a user roles does not have
 * records nothing and is no failure. */
static void test_session(void **state) {
        struct fixture *f = *state;
        struct login g;
        enum roles_login_reason reason;

        login_begin(f, &g, "lgnalice");
        g.l.rhost = "203.0.113.7";
        assert_int_equal(roles_login_session(&g.l, false, &reason), ROLES_LOGIN_OK);
        assert_int_equal(reason, ROLES_LOGIN_R_NONE);
        assert_string_equal(g.conv.informed, "");               /* no login before this one */
        login_end(&g);
        assert_int_equal(audit_rows(f, "session"), 1);

        login_begin(f, &g, "lgnalice");
        assert_int_equal(roles_login_session(&g.l, false, &reason), ROLES_LOGIN_OK);
        assert_string_equal(g.conv.informed, "Last login: 2026-01-01T00:00:00Z from 203.0.113.7");
        login_end(&g);
        login_begin(f, &g, "lgnalice");
        assert_int_equal(roles_login_session(&g.l, true, &reason), ROLES_LOGIN_OK);
        assert_string_equal(g.conv.informed, "");               /* quiet */
        login_end(&g);
        assert_int_equal(audit_rows(f, "session"), 3);

        memset(&g, 0, sizeof(g));
        struct roles_login *l = test_login(&f->env);
        roles_attempt_init(&g.l, l, &f->env.cfg, "nosuchuser", &ops, &g.conv);
        g.l.host = &f->no_host;
        assert_int_equal(roles_login_find_user(&g.l), ROLES_LOGIN_OK);
        assert_false(g.l.known);
        assert_int_equal(roles_login_session(&g.l, false, &reason), ROLES_LOGIN_OK);
        roles_login_close(l);
        assert_int_equal(audit_rows(f, "session"), 3);
}

/* Every successful authentication is in the login audit, and how it came in; so are a rehash
 * and a password change through the protocol. */
static void test_audit_of_successes(void **state) {
        struct fixture *f = *state;
        struct login g;
        char row[256], code[16];

        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(audit_rows(f, "success"), 1);
        last_audit(f, row, sizeof(row));
        assert_string_equal(row, "lgnalice success password");

        assert_int_equal(oath_init(), OATH_OK);
        assert_int_equal(oath_totp_generate(totp_raw, strlen(totp_raw), (time_t) NOW, ROLES_TOTP_STEP, 0,
                                            ROLES_TOTP_DIGITS, code), OATH_OK);
        assert_int_equal(auth(f, &g, "lgntotp", pw_right, code), ROLES_LOGIN_OK);
        (void) oath_done();
        last_audit(f, row, sizeof(row));
        assert_string_equal(row, "lgntotp success password and TOTP");

        assert_int_equal(auth(f, &g, "lgncarol", f->code, NULL), ROLES_LOGIN_OK);
        last_audit(f, row, sizeof(row));
        assert_string_equal(row, "lgncarol success activation code");

        /* A stored hash weaker than the configuration: upgraded on the login, and recorded. */
        f->env.cfg.argon2_t_cost++;
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(audit_rows(f, "rehash"), 1);
        assert_int_equal(audit_rows(f, "success"), 4);
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(audit_rows(f, "rehash"), 1);           /* once */

        /* A password change (root's: no current password asked). */
        login_begin(f, &g, "lgncarol");
        g.conv.answers[0] = "a fresh password";
        assert_int_equal(roles_login_chauthtok(&g.l, false, false, &g.reason), ROLES_LOGIN_OK);
        login_end(&g);
        last_audit(f, row, sizeof(row));
        assert_string_equal(row, "lgncarol password changed by uid 0");
}

/* Log lines in pam_unix's form; an account that is not roles' logs nothing but debug lines; a
 * name that is not valid (a password typed at the login prompt?) is never repeated. */
static void test_log_lines(void **state) {
        struct fixture *f = *state;
        struct login g;
        enum roles_login_reason reason;

        login_begin(f, &g, "lgnalice");
        g.l.rhost = "127.0.0.1";
        g.l.tty = "ssh";
        g.l.logname = "";
        g.l.caller_uid = 1000;
        g.conv.answers[0] = "not the password";
        assert_int_equal(roles_login_password(&g.l, &g.found, &g.reason), ROLES_LOGIN_AUTH_FAILED);
        login_end(&g);
        assert_string_equal(g.conv.log, "5 authentication failure; logname= uid=1000 euid=0 tty=ssh ruser= "
                                        "rhost=127.0.0.1  user=lgnalice\n");

        /* Why, on a line of its own, when it is not a wrong password. */
        login_begin(f, &g, "lgndis");
        g.conv.answers[0] = pw_right;
        assert_int_equal(roles_login_password(&g.l, &g.found, &g.reason), ROLES_LOGIN_AUTH_FAILED);
        login_end(&g);
        assert_non_null(strstr(g.conv.log, "user=lgndis\n5 authentication failure for lgndis: account disabled\n"));

        /* Not roles': debug lines only, in every phase; still a failure row (what it pays). */
        int64_t failures = audit_rows(f, "failure");
        const char *const others[] = { "lgnnobody", "Secret-Password!" };
        for (size_t i = 0; i < ROLES_N_ELEMENTS(others); i++) {
                assert_int_equal(auth(f, &g, others[i], "whatever", NULL), ROLES_LOGIN_AUTH_FAILED);
                assert_int_equal(g.conv.logged_above_debug, 0);
                assert_null(strstr(g.conv.log, "Secret-Password!"));
                assert_int_equal(account(f, others[i], NULL, &reason), ROLES_LOGIN_UNKNOWN_USER);
                login_begin(f, &g, others[i]);
                g.conv.answers[0] = "a fresh password";
                assert_int_equal(roles_login_chauthtok(&g.l, true, false, &reason), ROLES_LOGIN_UNKNOWN_USER);
                assert_int_equal(roles_login_session(&g.l, false, &reason), ROLES_LOGIN_OK);
                assert_int_equal(roles_login_session_close(&g.l), ROLES_LOGIN_OK);
                login_end(&g);
                assert_int_equal(g.conv.logged, 0);
        }
        assert_int_equal(audit_rows(f, "failure"), failures + 2);

        /* The session's lines, as pam_unix writes them. */
        login_begin(f, &g, "lgnalice");
        g.l.logname = "bob";
        g.l.caller_uid = 1000;
        assert_int_equal(roles_login_session(&g.l, true, &reason), ROLES_LOGIN_OK);
        assert_int_equal(roles_login_session_close(&g.l), ROLES_LOGIN_OK);
        login_end(&g);
        char want[256];
        snprintf(want, sizeof(want), "6 session opened for user lgnalice(uid=%u) by bob(uid=1000)\n"
                 "6 session closed for user lgnalice\n", g.l.u.uid);
        assert_string_equal(g.conv.log, want);
}

/*
 * A fleet host (a source in roles.conf; PAM never connects to it) queues its login events in the
 * outbox, in the transaction that records them; a single host writes none. The bound: beyond
 * outbox_max rows the oldest successes go, failures never. Unknown names are not queued.
 */
static void test_outbox(void **state) {
        struct fixture *f = *state;
        struct login g;
        time_t started = time(NULL) - 1;

        f->env.cfg.deny = 0;
        assert_int_equal(auth(f, &g, "lgnalice", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(outbox_rows(f, "%"), 0);

        snprintf(f->env.cfg.source, sizeof(f->env.cfg.source), "host=/nonexistent dbname=roles");
        f->env.cfg.outbox_max = 3;
        assert_int_equal(auth(f, &g, "lgnalice", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(auth(f, &g, "lgnnobody", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(auth(f, &g, "lgnalice", "not the password either", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(outbox_rows(f, "failure"), 2);
        /* Ids start at the file's creation time, 2^20 a second: a state.db made again (lost,
         * removed) never hands out an id the fleet has seen from this host, which it would drop
         * as sent twice. */
        assert_true(state_number(f, "SELECT min(id) FROM outbox") >= (int64_t) started << 20);
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE user_uuid = '%s' AND service = 'test' "
                 "AND detail = 'wrong password' AND at = %lld", f->uuid[0], (long long) NOW);
        assert_int_equal(state_number(f, sql), 2);
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(outbox_rows(f, "success"), 1);
        int64_t first_success = state_number(f, "SELECT min(id) FROM outbox WHERE kind = 'success'");
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        /* Full: the oldest success went. */
        assert_int_equal(outbox_rows(f, "%"), 3);
        assert_int_equal(outbox_rows(f, "failure"), 2);
        assert_true(state_number(f, "SELECT min(id) FROM outbox WHERE kind = 'success'") > first_success);
        /* Failures push out the last success, then pass the bound: never dropped. */
        for (int i = 0; i < 3; i++)
                assert_int_equal(auth(f, &g, "lgnalice", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(outbox_rows(f, "success"), 0);
        assert_int_equal(outbox_rows(f, "failure"), 5);
        assert_int_equal(audit_rows(f, "failure"), 7);
}

/* A TOTP step used is queued with the success, in fleet mode. */
static void test_outbox_totp(void **state) {
        struct fixture *f = *state;
        struct login g;
        char code[16];
        snprintf(f->env.cfg.source, sizeof(f->env.cfg.source), "host=/nonexistent dbname=roles");
        assert_int_equal(oath_init(), OATH_OK);
        assert_int_equal(oath_totp_generate(totp_raw, strlen(totp_raw), (time_t) NOW, ROLES_TOTP_STEP, 0,
                                            ROLES_TOTP_DIGITS, code), OATH_OK);
        assert_int_equal(auth(f, &g, "lgntotp", pw_right, code), ROLES_LOGIN_OK);
        assert_int_equal(state_number(f, "SELECT step FROM outbox WHERE kind = 'totp_step'"), NOW / ROLES_TOTP_STEP);
        assert_int_equal(outbox_rows(f, "success"), 1);
}

/* A state.db of version 1 (before the outbox): logins go on, writing no outbox, until the next
 * writer migrates it; then they queue. */
static void test_outbox_state_v1(void **state) {
        struct fixture *f = *state;
        struct login g;
        char path[PATH_MAX];
        snprintf(f->env.cfg.source, sizeof(f->env.cfg.source), "host=/nonexistent dbname=roles");
        snprintf(path, sizeof(path), "%s/state.db", f->env.dir);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "DROP TABLE outbox; PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(auth(f, &g, "lgnalice", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(failures_of(f, 0), 1);
        assert_int_equal(auth(f, &g, "lgnalice", pw_right, NULL), ROLES_LOGIN_OK);
        assert_int_equal(state_number(f, "PRAGMA user_version"), 1);

        struct roles_writer *w = test_writer(&f->env);
        test_commit(w);
        assert_int_equal(state_number(f, "PRAGMA user_version"), ROLES_SCHEMA_STATE);
        assert_int_equal(auth(f, &g, "lgnalice", "not the password", NULL), ROLES_LOGIN_AUTH_FAILED);
        assert_int_equal(outbox_rows(f, "failure"), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_right_and_wrong_password, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_unknown_user_pays_the_same, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_lockout_after_deny, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_code_then_must_change, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_totp, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_totp_secret_damaged, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_password_change_whole_or_not, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_recovery_codes, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_totp_required, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_expired_and_disabled, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_session, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_audit_of_successes, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_log_lines, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_outbox, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_outbox_totp, setup, test_teardown),
                cmocka_unit_test_setup_teardown(test_outbox_state_v1, setup, test_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
