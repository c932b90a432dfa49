/* SPDX-License-Identifier: MIT */
/*
 * Placeholder for the helpers shared by the unit tests (temporary directories, databases);
 * linked into every test binary by tests/meson.build. test_auth.c needs none of them.
 */
extern int roles_testlib_placeholder;
