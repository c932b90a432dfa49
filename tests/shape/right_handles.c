/* The calls of the refused_*.c snippets, each on the handle that may make it: this compiles. */
#include "login.h"
#include "writer.h"

int right(struct roles_writer *w, struct roles_login *l, struct roles_snapshot *snap, struct roles_user *u);
int right(struct roles_writer *w, struct roles_login *l, struct roles_snapshot *snap, struct roles_user *u) {
        struct roles_tally t;
        (void) snap;
        return roles_user_add(w, u) + roles_writer_commit(w) +
               roles_state_tally_fail(roles_login_secrets(l), u->uuid, 0, 5, 900, 600, &t) +
               roles_user_by_name(roles_login_snapshot(l), u->name, u);
}
