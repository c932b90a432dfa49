/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests: a private directory with real database files, per test. */
#pragma once

#include <limits.h>

#include "config.h"
#include "host_accounts.h"
#include "store.h"

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

/* Create the three files (like `rolesctl init`) and publish the first snapshot. */
void test_env_init(struct test_env *e);

/* Open a writer (ROLES_STORE_WRITE | SECRETS) or a reader (flags as given); fails the test on error. */
struct roles_store *test_writer(struct test_env *e);
struct roles_store *test_reader(struct test_env *e, unsigned flags);

/* Commit and close a writer, failing the test on error. */
void test_commit(struct roles_store *s);

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
                        fail_msg("%s = %d: %s", #expr, r_, roles_store_error(s));                 \
        } while (0)

/* Map the environment's roles.nss (and its delta, when it applies) as the NSS module does,
 * with the configured ranges; test_index_close unmaps it. */
struct nss_index_view;
void test_index_view(struct test_env *e, struct nss_index_view *ret);
void test_index_close(struct nss_index_view *v);

/* Read a whole file into a malloc'd buffer (for byte-for-byte comparisons). */
char *test_read_file(const char *path, size_t *ret_len);
