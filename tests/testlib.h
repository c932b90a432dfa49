/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests: a private directory with real database files, per test. */
#pragma once

#include <limits.h>

#include "config.h"
#include "store.h"

struct test_env {
        char dir[PATH_MAX - 64];   /* room for the file names below */
        struct roles_config cfg;
};

/* mkdtemp under $TMPDIR or /tmp (mode 0755), a config pointing there, cheap argon2 parameters. */
void test_env_setup(struct test_env *e);
/* Remove the directory and everything in it. */
void test_env_teardown(struct test_env *e);

/* Create the three files (like `rolesctl init`) and publish the first snapshot. */
void test_env_init(struct test_env *e);

/* Open a writer (ROLES_STORE_WRITE | SECRETS) or a reader (flags as given); fails the test on error. */
struct roles_store *test_writer(struct test_env *e);
struct roles_store *test_reader(struct test_env *e, unsigned flags);

/* Commit and close a writer, failing the test on error. */
void test_commit(struct roles_store *s);

/* Read a whole file into a malloc'd buffer (for byte-for-byte comparisons). */
char *test_read_file(const char *path, size_t *ret_len);
