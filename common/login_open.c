/* SPDX-License-Identifier: MIT */
/*
 * A login's handle: the snapshot and secrets views over one connection set whose secrets.db
 * and state.db are writable (snapshot.c opens them).
 */
#include "store-internal.h"

int roles_login_open(const struct roles_config *cfg, struct roles_login **ret, char *errbuf, size_t errlen) {
        struct roles_store *s;
        int r = store_open_reader(cfg, true, true, &s, errbuf, errlen);
        if (r < 0)
                return r;
        *ret = (struct roles_login *) s;
        return 0;
}

void roles_login_close(struct roles_login *l) {
        store_free(store_of_login(l));
}

const char *roles_login_error(const struct roles_login *l) {
        return store_error((const struct roles_store *) l);
}

struct roles_snapshot *roles_login_snapshot(struct roles_login *l) {
        return store_snapshot(store_of_login(l));
}

struct roles_secrets *roles_login_secrets(struct roles_login *l) {
        return store_secrets(store_of_login(l));
}
