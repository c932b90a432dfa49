/* refused: discards 'const' qualifier */
#include "snapshot.h"
#include "secrets.h"

int wrong(struct roles_snapshot *snap, const char *uuid);
int wrong(struct roles_snapshot *snap, const char *uuid) {
        struct roles_tally t;
        return roles_state_tally_fail(roles_snapshot_secrets(snap), uuid, 0, 5, 900, 600, &t);
}
