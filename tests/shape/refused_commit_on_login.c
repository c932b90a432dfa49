/* refused: expected 'struct roles_writer \*' but argument is of type 'struct roles_login \*' */
#include "login.h"
#include "writer.h"

int wrong(struct roles_login *l);
int wrong(struct roles_login *l) {
        return roles_writer_commit(l);
}
