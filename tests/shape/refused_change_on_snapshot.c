/* refused: expected 'struct roles_writer \*' but argument is of type 'struct roles_snapshot \*' */
#include "writer.h"

int wrong(struct roles_snapshot *snap, struct roles_user *u);
int wrong(struct roles_snapshot *snap, struct roles_user *u) {
        return roles_user_add(snap, u);
}
