/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests: a private directory with real database files, per test. */
#pragma once

#include <limits.h>
#include <stdint.h>

#include "config.h"
#include "host_accounts.h"
#include "login.h"
#include "writer.h"

struct test_env {
        char dir[ROLES_CONFIG_PATH_SIZE - 16];  /* room for the file names below, within a config path */
        struct roles_config cfg;
        struct host_accounts host;      /* what the stores opened here take as the host's: nothing */
};

/* mkdtemp under $TMPDIR or /tmp (mode 0755), a config pointing there with the ids 10000-59999
 * the tests use, cheap argon2 parameters. The stores test_writer and test_reader open see a
 * host without accounts or other ids (not the machine's /etc), so that what they allocate and
 * what doctor says does not depend on where the tests run. */
void test_env_setup(struct test_env *e);
/* Those ids as configuration lines, for a roles.conf of a test's own. */
#define TEST_CONF_ID_RANGES "uid_min = 10000\nuid_max = 59999\ngid_min = 10000\ngid_max = 59999\n"
/* Remove the directory and everything in it. */
void test_env_teardown(struct test_env *e);
/* Write text to path (created, or truncated and written in place), failing the test on error. */
void test_write_file(const char *path, const char *text);

/* Create the three files (like `rolesctl init`) and publish the first snapshot. */
void test_env_init(struct test_env *e);

/* Open a writer, a snapshot (flags: ROLES_SNAPSHOT_*) or a login; fails the test on error. */
struct roles_writer *test_writer(struct test_env *e);
struct roles_snapshot *test_reader(struct test_env *e, unsigned flags);
struct roles_login *test_login(struct test_env *e);

/* Commit and close a writer, failing the test on error. */
void test_commit(struct roles_writer *w);

/* Open a handle of that kind and close it at once: the open's result, with the reason in err on
 * failure (the test fails if a failed open touched its output). For tests that try each kind. */
enum test_handle { TEST_SNAPSHOT, TEST_SNAPSHOT_SECRETS, TEST_LOGIN, TEST_WRITER, TEST_WRITER_CREATE };
int test_open_kind(const struct roles_config *cfg, enum test_handle kind, char *err, size_t errlen);

/* Any handle's reason and close, for tests that hold several kinds. */
#define test_error(h)                                                                             \
        _Generic((h), struct roles_writer *: roles_writer_error, struct roles_snapshot *: roles_snapshot_error, \
                 struct roles_login *: roles_login_error, struct roles_secrets *: roles_secrets_error,     \
                 const struct roles_secrets *: roles_secrets_error)(h)
#define test_close(h)                                                                             \
        _Generic((h), struct roles_writer *: roles_writer_close, struct roles_snapshot *: roles_snapshot_close, \
                 struct roles_login *: roles_login_close)(h)

/* cmocka fixtures: a struct test_env in *state, with the three files created (test_setup) or
 * not yet (test_setup_empty); test_teardown removes it all. */
int test_setup(void **state);
int test_setup_empty(void **state);
int test_teardown(void **state);

/* Fail with the store's reason when a call that should work does not. */
#define assert_ok(s, expr)                                                                        \
        do {                                                                                      \
                int r_ = (expr);                                                                  \
                if (r_ < 0)                                                                       \
                        fail_msg("%s = %d: %s", #expr, r_, test_error(s));                 \
        } while (0)

/* ---- the model, built through the store API; each fails the test on error ---------------------- */

/* A user as roles_user_add takes it: NAME (too long fails the test), enabled, uid and personal
 * group chosen by the store. The caller may set any other field before test_user_insert. */
struct roles_user test_user(const char *name);
/* roles_user_add(U) (which fills in its id, uuid, uid and gid), then PASSWORD_HASH (an encoded
 * hash; NULL: none) as its password. */
void test_user_insert(struct roles_writer *s, struct roles_user *u, const char *password_hash);
/* test_user(NAME), inserted without a password. */
struct roles_user test_add_user(struct roles_writer *s, const char *name);
/* A group NAME with GID (ROLES_ID_INVALID: the store picks one). */
struct roles_group test_add_group(struct roles_writer *s, const char *name, uint32_t gid);
/* A metarole CODE, unpublished. */
struct roles_metarole test_add_metarole(struct roles_writer *s, const char *code);
/* A role NAME of the metarole METAROLE. */
struct roles_role test_add_role(struct roles_writer *s, const char *name, const char *metarole);

/* Map the environment's roles.nss (and its delta, when it applies) as the NSS module does,
 * with the configured ranges; test_index_close unmaps it. */
struct nss_index_view;
void test_index_view(struct test_env *e, struct nss_index_view *ret);
void test_index_close(struct nss_index_view *v);

/* Read a whole file into a malloc'd buffer (for byte-for-byte comparisons). */
char *test_read_file(const char *path, size_t *ret_len);
