/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#include "nss_index_read.h"
#include "util.h"

void test_env_setup(struct test_env *e) {
        const char *tmp = getenv("TMPDIR");
        snprintf(e->dir, sizeof(e->dir), "%s/roles-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(e->dir));
        assert_int_equal(chmod(e->dir, 0755), 0);
        roles_config_defaults(&e->cfg);
        snprintf(e->cfg.public_db, sizeof(e->cfg.public_db), "%s/roles.db", e->dir);
        snprintf(e->cfg.secrets_db, sizeof(e->cfg.secrets_db), "%s/secrets.db", e->dir);
        snprintf(e->cfg.state_db, sizeof(e->cfg.state_db), "%s/state.db", e->dir);
        /* Not the default range: the tests were written for these ids. */
        e->cfg.uid_min = e->cfg.gid_min = 10000;
        e->cfg.uid_max = e->cfg.gid_max = 59999;
        host_accounts_init(&e->host, &(struct host_paths) { NULL });
        e->cfg.argon2_t_cost = 1;
        e->cfg.argon2_m_cost_kib = 1024;
        e->cfg.argon2_parallelism = 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

void test_env_teardown(struct test_env *e) {
        if (e->dir[0])
                nftw(e->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        e->dir[0] = '\0';
        host_accounts_done(&e->host);
}

void test_write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static struct roles_writer *writer_or_fail(struct test_env *e, unsigned flags) {
        struct roles_writer *w = NULL;
        char err[512] = "";
        int r = roles_writer_open(&e->cfg, flags, &w, err, sizeof(err));
        if (r < 0)
                fail_msg("roles_writer_open(%#x): %s", flags, err);
        roles_writer_set_host_accounts(w, &e->host);
        return w;
}

void test_env_init(struct test_env *e) {
        test_commit(writer_or_fail(e, ROLES_WRITER_CREATE));
}

struct roles_writer *test_writer(struct test_env *e) {
        return writer_or_fail(e, 0);
}

struct roles_snapshot *test_reader(struct test_env *e, unsigned flags) {
        struct roles_snapshot *snap = NULL;
        char err[512] = "";
        int r = roles_snapshot_open(&e->cfg, flags, &snap, err, sizeof(err));
        if (r < 0)
                fail_msg("roles_snapshot_open(%#x): %s", flags, err);
        return snap;
}

struct roles_login *test_login(struct test_env *e) {
        struct roles_login *l = NULL;
        char err[512] = "";
        int r = roles_login_open(&e->cfg, &l, err, sizeof(err));
        if (r < 0)
                fail_msg("roles_login_open: %s", err);
        return l;
}

int test_open_kind(const struct roles_config *cfg, enum test_handle kind, char *err, size_t errlen) {
        void *const sentinel = (void *) 0x1;
        void *h = sentinel;
        int r;
        switch (kind) {
        case TEST_SNAPSHOT:
        case TEST_SNAPSHOT_SECRETS:
                r = roles_snapshot_open(cfg, kind == TEST_SNAPSHOT_SECRETS ? ROLES_SNAPSHOT_SECRETS : 0,
                                        (struct roles_snapshot **) &h, err, errlen);
                if (r == 0)
                        roles_snapshot_close(h);
                break;
        case TEST_LOGIN:
                r = roles_login_open(cfg, (struct roles_login **) &h, err, errlen);
                if (r == 0)
                        roles_login_close(h);
                break;
        default:
                r = roles_writer_open(cfg, kind == TEST_WRITER_CREATE ? ROLES_WRITER_CREATE : 0,
                                      (struct roles_writer **) &h, err, errlen);
                if (r == 0)
                        roles_writer_close(h);
                break;
        }
        if (r < 0 && h != sentinel)
                fail_msg("a failed open (kind %d, %d) changed its output", (int) kind, r);
        return r;
}

void test_commit(struct roles_writer *w) {
        int r = roles_writer_commit(w);
        if (r < 0)
                fail_msg("commit: %s", roles_writer_error(w));
        roles_writer_close(w);
}

struct roles_user test_user(const char *name) {
        struct roles_user u = { .uid = ROLES_ID_INVALID, .gid = ROLES_ID_INVALID, .enabled = true };
        assert_int_equal(roles_strcpy(u.name, sizeof(u.name), name), 0);
        return u;
}

void test_user_insert(struct roles_writer *s, struct roles_user *u, const char *password_hash) {
        assert_ok(s, roles_user_add(s, u));
        if (password_hash)
                assert_ok(s, roles_secret_set_password(roles_writer_secrets(s), u->uuid, password_hash, false));
}

struct roles_user test_add_user(struct roles_writer *s, const char *name) {
        struct roles_user u = test_user(name);
        test_user_insert(s, &u, NULL);
        return u;
}

struct roles_group test_add_group(struct roles_writer *s, const char *name, uint32_t gid) {
        struct roles_group g = { .gid = gid };
        assert_int_equal(roles_strcpy(g.name, sizeof(g.name), name), 0);
        assert_ok(s, roles_group_add(s, &g));
        return g;
}

struct roles_metarole test_add_metarole(struct roles_writer *s, const char *code) {
        struct roles_metarole m = { 0 };
        assert_int_equal(roles_strcpy(m.code, sizeof(m.code), code), 0);
        assert_ok(s, roles_metarole_add(s, &m));
        return m;
}

struct roles_role test_add_role(struct roles_writer *s, const char *name, const char *metarole) {
        struct roles_role r = { 0 };
        assert_int_equal(roles_strcpy(r.name, sizeof(r.name), name), 0);
        assert_int_equal(roles_strcpy(r.metarole, sizeof(r.metarole), metarole), 0);
        assert_ok(s, roles_role_add(s, &r));
        return r;
}

char *test_read_file(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t cap = 0, len = 0;
        for (;;) {
                if (len + 65536 > cap) {
                        cap = (cap + 65536) * 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                size_t n = fread(buf + len, 1, cap - len, f);
                len += n;
                if (n == 0)
                        break;
        }
        fclose(f);
        *ret_len = len;
        return buf;
}

static int setup_env(void **state, bool init) {
        struct test_env *e = calloc(1, sizeof(*e));
        if (!e)
                return -1;
        test_env_setup(e);
        if (init)
                test_env_init(e);
        *state = e;
        return 0;
}

int test_setup(void **state) {
        return setup_env(state, true);
}

int test_setup_empty(void **state) {
        return setup_env(state, false);
}

int test_teardown(void **state) {
        struct test_env *e = *state;
        test_env_teardown(e);
        free(e);
        return 0;
}

void test_index_view(struct test_env *e, struct nss_index_view *ret) {
        char path[PATH_MAX];
        *ret = (struct nss_index_view) {
                .limits = { e->cfg.uid_min, e->cfg.uid_max, e->cfg.gid_min, e->cfg.gid_max },
        };
        assert_int_equal(roles_config_index_path(&e->cfg, false, path, sizeof(path)), 0);
        assert_int_equal(nss_index_map(path, &ret->base, NULL), 0);
        assert_int_equal(roles_config_index_path(&e->cfg, true, path, sizeof(path)), 0);
        if (nss_index_map(path, &ret->delta, NULL) == 0)
                ret->has_delta = nss_index_delta_applies(&ret->base, &ret->delta);
}

void test_index_close(struct nss_index_view *v) {
        nss_index_unmap(&v->base);
        nss_index_unmap(&v->delta);
}
