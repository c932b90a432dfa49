/* SPDX-License-Identifier: MIT */
/*
 * Before-images: what makes a change that publishes a snapshot and also changes existing
 * users' secrets all-or-nothing across secrets.db and roles.db.
 *
 * secrets.db commits before roles.db is renamed into place (a new user's secrets row must exist
 * before the snapshot that names the user). A writer killed between the two, or whose rename
 * failed, would leave an existing user's new email, TOTP secret or code in force with the rest
 * of the change absent. So:
 *
 *   keep     before a writer first touches a user's secrets rows, it copies them (or their
 *            absence) to before_credentials / before_codes / before_recovery_codes and names the
 *            user in before_users;
 *   mark     in the same secrets.db transaction as the change, `publishing` records the serial
 *            of the snapshot about to be published (and the first audit row of the change);
 *   read     a reader whose snapshot is older than that serial reads a named user's rows from
 *            the before-images (SQL_SECRETS_SEEN): the publish has not happened for it;
 *   settle   the next writer, under the lock, compares the mark with the published serial:
 *            published, it drops the images; never published, it puts them back (and marks
 *            the change's audit rows "undone:"), so the change is absent everywhere. The images of a
 *            published change wait for it too (in secrets.db, root-only): dropping them at
 *            once would cost a third transaction, with a failure of its own, on every publish;
 *   clear    in settle, and in a change that publishes nothing (in its own transaction).
 *
 * Outside a writer (PAM: a password change, a rehash, a code spent), a write goes to the live
 * rows and to the before-images alike (store_secrets.c), so that it holds whichever way a
 * publish in flight ends.
 */
#include <errno.h>
#include <stdio.h>

#include "store-internal.h"

/* 1 when the user is newly named in before_users, 0 when this change named it already. */
static int name_user(struct roles_store *s, const char *uuid) {
        if (!s->writer)
                return 0;
        return store_exec(s, s->sec, "INSERT OR IGNORE INTO before_users (user_uuid) VALUES (?1)", "t", uuid);
}

int store_before_keep(struct roles_store *s, const char *uuid) {
        int r = name_user(s, uuid);
        if (r <= 0)             /* kept already in this change, not a writer, or an error */
                return r;
        r = store_exec(s, s->sec, "INSERT INTO before_credentials SELECT * FROM credentials WHERE user_uuid = ?1", "t", uuid);
        if (r >= 0)
                r = store_exec(s, s->sec, "INSERT INTO before_codes SELECT * FROM codes WHERE user_uuid = ?1", "t", uuid);
        if (r >= 0)
                r = store_exec(s, s->sec, "INSERT INTO before_recovery_codes SELECT * FROM recovery_codes WHERE user_uuid = ?1",
                               "t", uuid);
        return r < 0 ? r : 0;
}

int store_before_keep_new(struct roles_store *s, const char *uuid) {
        int r = name_user(s, uuid);
        return r < 0 ? r : 0;
}

int store_before_clear(struct roles_store *s) {
        return store_exec_script(s, s->sec,
                                 "DELETE FROM publishing; DELETE FROM before_users; DELETE FROM before_credentials; "
                                 "DELETE FROM before_codes; DELETE FROM before_recovery_codes");
}

int store_before_mark(struct roles_store *s, int64_t serial) {
        int r = store_exec(s, s->sec, "INSERT INTO publishing (id, serial, audit_from) VALUES (1, ?1, ?2)", "ii", serial,
                           s->audit_from);
        return r < 0 ? r : 0;
}

/*
 * The images back in the live tables. They were copied from those tables, but the before_ tables
 * (CREATE TABLE AS) have none of their rules: a hand edit can leave an image the live table
 * refuses (no fs_uniquifier, a second row of a user, a code of no kind). Put back whole, it would
 * fail every writer from now on, doctor too; left out (OR IGNORE: the live rules' refusals only),
 * its user goes without that row, which fails closed (no secrets row, one code fewer) and which
 * doctor names and mends. How many were left out: s->undo_left_out.
 */
static int put_back(struct roles_store *s) {
        static const struct {
                const char *put, *count;
        } tables[] = {
                { "INSERT OR IGNORE INTO credentials SELECT * FROM before_credentials",
                  "SELECT count(*) FROM before_credentials" },
                { "INSERT OR IGNORE INTO codes SELECT * FROM before_codes", "SELECT count(*) FROM before_codes" },
                { "INSERT OR IGNORE INTO recovery_codes SELECT * FROM before_recovery_codes",
                  "SELECT count(*) FROM before_recovery_codes" },
        };
        s->undo_left_out = 0;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(tables); i++) {
                sqlite3_stmt *st = store_stmt(s, s->sec, tables[i].count);
                if (!st)
                        return -EIO;
                int r = store_step_row(s, st);
                int64_t images = r > 0 ? sqlite3_column_int64(st, 0) : 0;
                sqlite3_reset(st);
                if (r >= 0)
                        r = store_exec(s, s->sec, tables[i].put, "");
                if (r < 0)
                        return r;
                s->undo_left_out += images - r;
        }
        return 0;
}

int store_before_settle(struct roles_store *s, int64_t published) {
        sqlite3_stmt *st = store_stmt(s, s->sec, "SELECT serial FROM publishing WHERE id = 1");
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        int64_t marked = r > 0 ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (r < 0)
                return r;
        if (r > 0 && marked > published) {
                /* That snapshot was never published: the change is undone here too. Its audit
                 * rows stay, marked (ids are never reused, and the log keeps what was tried),
                 * and one more says so, before the rows of the change now starting: undone in
                 * turn, that one would not take this record with it. */
                r = store_exec_script(s, s->sec,
                        "DELETE FROM credentials WHERE user_uuid IN (SELECT user_uuid FROM before_users);"
                        "DELETE FROM codes WHERE user_uuid IN (SELECT user_uuid FROM before_users);"
                        "DELETE FROM recovery_codes WHERE user_uuid IN (SELECT user_uuid FROM before_users);"
                        "UPDATE audit SET action = 'undone:' || action "
                        "WHERE id >= (SELECT audit_from FROM publishing WHERE id = 1) AND action NOT LIKE 'undone:%'");
                if (r >= 0)
                        r = put_back(s);
                char detail[256];
                int n = snprintf(detail, sizeof(detail), "the change that was to publish snapshot %lld was cut short "
                                 "before it: its secrets.db part was undone", (long long) marked);
                if (s->undo_left_out && n > 0 && (size_t) n < sizeof(detail))
                        snprintf(detail + n, sizeof(detail) - (size_t) n, "; %lld row%s of its before-images "
                                 "could not be put back", (long long) s->undo_left_out,
                                 s->undo_left_out == 1 ? "" : "s");
                if (r >= 0)
                        r = store_exec(s, s->sec, "INSERT INTO audit (at, actor, action, target, detail) "
                                       "VALUES (?1, 'roles', 'change.undone', 'roles.db', ?2)", "it",
                                       (int64_t) store_now(s), detail);
                if (r < 0)
                        return r;
                s->undone_serial = marked;
        }
        r = store_before_clear(s);
        if (r < 0)
                return r;
        /* Where this change's own audit rows start, should it be undone in turn. */
        st = store_stmt(s, s->sec, "SELECT coalesce(max(id), 0) + 1 FROM audit");
        if (!st)
                return -EIO;
        r = store_step_row(s, st);
        if (r > 0)
                s->audit_from = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}
