/* SPDX-License-Identifier: MIT */
/*
 * roles.nss from roles.db (layout: nss_index.h): what a writer compiles inside its transaction
 * and installs once roles.db is committed, and what `rolesctl index rebuild` and doctor do.
 *
 * A change costs what it changes: the writer notes, in temporary tables filled by temporary
 * triggers on its own connection, every user whose NSS facts or memberships a statement
 * touched and every group, and whether the metarole graph or a published metarole changed.
 * It compiles a delta: the users and groups changed since the base (those of the previous
 * delta and this change's), read afresh from roles.db, and the base records they replace. A
 * base is compiled whole instead when there is none or it does not match roles.db (a crash
 * between the commit and the rename, a restored roles.db), when the metarole graph changed
 * (its reach is every holder), or when the delta has grown past a share of the base; an empty
 * delta then replaces the old one. Each file is written aside and fsynced before the change's
 * commit point, so that a disk too full for it fails the change whole, and renamed into place
 * after it: NSS never stays behind a change that rolesctl reported as failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nss_index_build.h"
#include "nss_index_read.h"
#include "store-internal.h"

/* A delta that would replace more than this share of the base's users (or more than this many
 * at least) is not worth keeping: compile a new base. Nor one larger than its base: compiling
 * the base costs no more then, and a reader maps one file's worth of records instead of two (an
 * import into a fresh store compiles a base, not a delta over an empty one). */
#define DELTA_MIN_RECORDS 4096
#define DELTA_BASE_SHARE 32

/*
 * Temporary triggers note what the change touches. Triggers are otherwise off on every
 * connection (store_harden): the writer turns them on for its own connection only after
 * checking that roles.db holds none of its own.
 */
static const char track_sql[] =
        /* No keys: a trigger's INSERT OR IGNORE would take the outer statement's conflict rule
         * (an upsert's), so rows may repeat; every reader of them deduplicates. */
        "CREATE TEMP TABLE index_users (id INTEGER NOT NULL);"
        "CREATE TEMP TABLE index_groups (kind INTEGER NOT NULL, id INTEGER NOT NULL);"
        "CREATE TEMP TABLE index_whole (why INTEGER NOT NULL);"
        "CREATE TEMP TRIGGER index_user_added AFTER INSERT ON main.users"
        "  BEGIN INSERT INTO index_users VALUES (new.id); END;"
        "CREATE TEMP TRIGGER index_user_changed AFTER UPDATE ON main.users"
        "  BEGIN INSERT INTO index_users VALUES (old.id); INSERT INTO index_users VALUES (new.id); END;"
        "CREATE TEMP TRIGGER index_user_deleted AFTER DELETE ON main.users"
        "  BEGIN INSERT INTO index_users VALUES (old.id); END;"
        "CREATE TEMP TRIGGER index_group_added AFTER INSERT ON main.groups"
        "  BEGIN INSERT INTO index_groups VALUES (1, new.id); END;"
        /* a group's gid is in its members' lists: they change with it */
        "CREATE TEMP TRIGGER index_group_changed AFTER UPDATE ON main.groups"
        "  BEGIN INSERT INTO index_groups VALUES (1, old.id); INSERT INTO index_groups VALUES (1, new.id);"
        "  INSERT INTO index_users SELECT user_id FROM main.group_members WHERE group_id IN (old.id, new.id); END;"
        "CREATE TEMP TRIGGER index_group_deleted BEFORE DELETE ON main.groups"
        "  BEGIN INSERT INTO index_groups VALUES (1, old.id);"
        "  INSERT INTO index_users SELECT user_id FROM main.group_members WHERE group_id = old.id; END;"
        "CREATE TEMP TRIGGER index_member_added AFTER INSERT ON main.group_members"
        "  BEGIN INSERT INTO index_users VALUES (new.user_id); END;"
        "CREATE TEMP TRIGGER index_member_removed AFTER DELETE ON main.group_members"
        "  BEGIN INSERT INTO index_users VALUES (old.user_id); END;"
        "CREATE TEMP TRIGGER index_assigned AFTER INSERT ON main.role_assignments"
        "  BEGIN INSERT INTO index_users VALUES (new.user_id); END;"
        "CREATE TEMP TRIGGER index_assignment_changed AFTER UPDATE ON main.role_assignments"
        "  BEGIN INSERT INTO index_users VALUES (old.user_id); INSERT INTO index_users VALUES (new.user_id); END;"
        "CREATE TEMP TRIGGER index_unassigned AFTER DELETE ON main.role_assignments"
        "  BEGIN INSERT INTO index_users VALUES (old.user_id); END;"
        "CREATE TEMP TRIGGER index_role_moved AFTER UPDATE OF metarole_id ON main.roles"
        "  BEGIN INSERT INTO index_users SELECT user_id FROM main.role_assignments WHERE role_id = new.id; END;"
        "CREATE TEMP TRIGGER index_role_deleted BEFORE DELETE ON main.roles"
        "  BEGIN INSERT INTO index_users SELECT user_id FROM main.role_assignments WHERE role_id = old.id; END;"
        "CREATE TEMP TRIGGER index_metarole_added AFTER INSERT ON main.metaroles"
        "  BEGIN INSERT INTO index_whole VALUES (1); END;"
        "CREATE TEMP TRIGGER index_metarole_changed AFTER UPDATE ON main.metaroles"
        "  BEGIN INSERT INTO index_whole VALUES (1); END;"
        "CREATE TEMP TRIGGER index_metarole_deleted AFTER DELETE ON main.metaroles"
        "  BEGIN INSERT INTO index_whole VALUES (1); END;"
        "CREATE TEMP TRIGGER index_included AFTER INSERT ON main.metarole_includes"
        "  BEGIN INSERT INTO index_whole VALUES (1); END;"
        "CREATE TEMP TRIGGER index_excluded AFTER DELETE ON main.metarole_includes"
        "  BEGIN INSERT INTO index_whole VALUES (1); END;";

/* The one number a count(*) query on roles.db answers. */
static int count_rows(struct roles_store *s, const char *sql, int64_t *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, sql);
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        if (r > 0)
                *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

int store_index_track(struct roles_store *s) {
        int64_t n = 0;
        /* SQLite builds a schema object from its row's sql, whatever the row's type says: a
         * trigger is one whose sql has the word (no other object of roles.db's has). */
        int r = count_rows(s, "SELECT count(*) FROM main.sqlite_schema "
                              "WHERE type = 'trigger' OR sql LIKE '%trigger%'", &n);
        if (r < 0)
                return r;
        if (n > 0)
                return store_fail(s, -EBADMSG, "%s holds triggers that rolesctl did not make: refusing to write it",
                                  s->cfg.public_db);
        int rc = sqlite3_db_config(s->pub, SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, (int *) NULL);
        if (rc != SQLITE_OK)
                return store_sql_fail(s, s->pub, rc, "configure connection");
        return store_exec_script(s, s->pub, track_sql);
}

int store_index_untrack(struct roles_store *s) {
        /* Every temporary trigger is one of ours: store_index_track refused a roles.db that holds
         * any trigger. Dropped, not merely disabled, so that statements already prepared with
         * them are prepared again without. */
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT group_concat('DROP TRIGGER temp.\"' || name || '\";', '') "
                                      "FROM temp.sqlite_schema WHERE type = 'trigger'");
        char *script = NULL;
        if (!st)
                return -EIO;
        int r = store_step_row(s, st);
        if (r > 0 && sqlite3_column_type(st, 0) == SQLITE_TEXT && !(script = strdup((const char *) sqlite3_column_text(st, 0))))
                r = store_fail(s, -ENOMEM, "out of memory");
        sqlite3_reset(st);
        if (r >= 0 && script)
                r = store_exec_script(s, s->pub, script);
        free(script);
        if (r < 0)
                return r;
        s->index_requested = true;
        return 0;
}

/* ---- reading roles.db into a builder ------------------------------------------------------------ */

/* Rows restricted to the changed set (a delta) or all (a base). */
enum scope { ALL, CHANGED };

static const char *const users_sql[2] = {
        "SELECT id, name, uid, gid, gecos, home, shell, enabled, coalesce(expires_at, 0) FROM users ORDER BY id",
        "SELECT id, name, uid, gid, gecos, home, shell, enabled, coalesce(expires_at, 0) FROM users "
        "WHERE id IN (SELECT id FROM temp.index_users) ORDER BY id",
};
/* Memberships by user: for a base, every one with its group's id, which the gids read beforehand
 * (group_gids) turn into a gid: joined to groups, each row would look its group up at a random
 * place (7.3 s at a million users in 3 groups each, 0.9 s this way). For a delta, the few
 * changed users' with their gids. */
static const char *const gids_sql[2] = {
        "SELECT user_id, group_id FROM group_members ORDER BY user_id, group_id",
        "SELECT m.user_id, g.gid FROM group_members m JOIN groups g ON g.id = m.group_id "
        "WHERE m.user_id IN (SELECT id FROM temp.index_users) ORDER BY m.user_id",
};
/* A published metarole held through any role: the grant ends with the last assignment that
 * reaches it (0: one that does not end). */
#define HELD_SQL(where) \
        "SELECT a.user_id, m.gid, CASE WHEN min(coalesce(a.until, 0)) = 0 THEN 0 ELSE max(a.until) END " \
        "FROM role_assignments a JOIN roles r ON r.id = a.role_id JOIN metarole_closure c ON c.root = r.metarole_id " \
        "JOIN metaroles m ON m.id = c.id WHERE m.gid IS NOT NULL " where " GROUP BY a.user_id, m.gid ORDER BY a.user_id"
static const char *const held_sql[2] = {
        HELD_SQL(""),
        HELD_SQL("AND a.user_id IN (SELECT id FROM temp.index_users)"),
};
static const char *const groups_sql[2] = {
        "SELECT 1, id, name, gid FROM groups UNION ALL SELECT 2, id, code, gid FROM metaroles WHERE gid IS NOT NULL",
        "SELECT 1, id, name, gid FROM groups WHERE id IN (SELECT id FROM temp.index_groups WHERE kind = 1) "
        "UNION ALL SELECT 2, id, code, gid FROM metaroles WHERE gid IS NOT NULL "
        "AND id IN (SELECT id FROM temp.index_groups WHERE kind = 2)",
};

static bool id32(int64_t v) {
        return v >= 0 && v <= UINT32_MAX;
}

/* A growing list, refilled per user. */
struct lists {
        uint32_t *gids;
        size_t n_gids, size_gids;
        struct nss_index_membership *held;
        size_t n_held, size_held;
};

static int grow(void **p, size_t *size, size_t need, size_t elem) {
        if (need <= *size)
                return 0;
        size_t n = *size ? *size * 2 : 16;
        while (n < need)
                n *= 2;
        void *q = reallocarray(*p, n, elem);
        if (!q)
                return -ENOMEM;
        *p = q;
        *size = n;
        return 0;
}

/* Every group's gid by its id, ascending (a base's memberships name groups by id). */
struct group_gids {
        int64_t *ids;
        uint32_t *gids;
        size_t n, size;
};

static void group_gids_free(struct group_gids *g) {
        free(g->ids);
        free(g->gids);
        *g = (struct group_gids) { 0 };
}

static int group_gids_load(struct roles_store *s, struct group_gids *ret) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT id, gid FROM groups ORDER BY id");
        struct group_gids g = { 0 };
        size_t size_gids = 0;
        int r = 0, rc;
        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t gid = store_col_id(st, 1);
                if (!id32(gid))
                        continue;       /* not servable: its members are not given it */
                if ((r = grow((void **) &g.ids, &g.size, g.n + 1, sizeof(*g.ids))) < 0 ||
                    (r = grow((void **) &g.gids, &size_gids, g.n + 1, sizeof(*g.gids))) < 0)
                        break;
                g.ids[g.n] = sqlite3_column_int64(st, 0);
                g.gids[g.n++] = (uint32_t) gid;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_sql_fail(s, s->pub, rc, "reading groups");
        sqlite3_reset(st);
        if (r < 0) {
                group_gids_free(&g);
                return r;
        }
        *ret = g;
        return 0;
}

/* The gid of the group with this id; false if it has none to serve. */
static bool group_gid(const struct group_gids *g, int64_t id, uint32_t *ret) {
        size_t lo = 0, hi = g->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (g->ids[mid] == id) {
                        *ret = g->gids[mid];
                        return true;
                }
                if (g->ids[mid] < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

/* The next row of st whose first column is user (rows come ordered by user). 1 a row of this
 * user, 0 none (st stays on the next user's row), -errno. */
static int row_of(struct roles_store *s, sqlite3_stmt *st, bool *pending, bool *done, int64_t user) {
        for (;;) {
                if (*done)
                        return 0;
                if (!*pending) {
                        int rc = sqlite3_step(st);
                        if (rc == SQLITE_DONE) {
                                *done = true;
                                return 0;
                        }
                        if (rc != SQLITE_ROW)
                                return store_sql_fail(s, s->pub, rc, "reading memberships");
                        *pending = true;
                }
                int64_t at = sqlite3_column_int64(st, 0);
                if (at > user)
                        return 0;
                *pending = false;
                if (at == user)
                        return 1;
        }
}

static int add_users(struct roles_store *s, struct nss_index_builder *b, enum scope scope) {
        sqlite3_stmt *users = store_stmt(s, s->pub, users_sql[scope]);
        sqlite3_stmt *gids = store_stmt(s, s->pub, gids_sql[scope]);
        sqlite3_stmt *held = store_stmt(s, s->pub, held_sql[scope]);
        struct lists l = { 0 };
        struct group_gids by_id = { 0 };
        bool gids_pending = false, gids_done = false, held_pending = false, held_done = false;
        int r = 0, rc = SQLITE_OK;

        if (!users || !gids || !held)
                return -EIO;
        if (scope == ALL && (r = group_gids_load(s, &by_id)) < 0)
                goto out;
        while ((rc = sqlite3_step(users)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(users, 0);
                l.n_gids = l.n_held = 0;
                while ((r = row_of(s, gids, &gids_pending, &gids_done, id)) > 0) {
                        /* A group's id, or (a change's users only) its gid. */
                        int64_t column = scope == ALL ? sqlite3_column_int64(gids, 1) : store_col_id(gids, 1);
                        uint32_t gid = (uint32_t) column;
                        if (scope == ALL ? !group_gid(&by_id, column, &gid) : !id32(column))
                                continue;
                        if ((r = grow((void **) &l.gids, &l.size_gids, l.n_gids + 1, sizeof(uint32_t))) < 0)
                                goto out;
                        l.gids[l.n_gids++] = gid;
                }
                while (r == 0 && (r = row_of(s, held, &held_pending, &held_done, id)) > 0) {
                        int64_t gid = store_col_id(held, 1);
                        if (!id32(gid))
                                continue;
                        if ((r = grow((void **) &l.held, &l.size_held, l.n_held + 1, sizeof(*l.held))) < 0)
                                goto out;
                        l.held[l.n_held++] = (struct nss_index_membership) {
                                .id = (uint32_t) gid, .until = sqlite3_column_int64(held, 2) };
                }
                if (r < 0)
                        goto out;
                int64_t uid = store_col_id(users, 2), gid = store_col_id(users, 3);
                const char *texts[4];
                for (int c = 0; c < 4; c++)
                        texts[c] = (const char *) sqlite3_column_text(users, c == 0 ? 1 : c + 3);
                if (!id32(uid) || !id32(gid) || !texts[0] || !texts[1] || !texts[2] || !texts[3])
                        continue;       /* not servable: left out, as a reader would */
                struct nss_index_build_user u = {
                        .name = texts[0], .gecos = texts[1], .home = texts[2], .shell = texts[3],
                        .uid = (uint32_t) uid, .gid = (uint32_t) gid, .enabled = sqlite3_column_int64(users, 7) != 0,
                        .expires_at = sqlite3_column_int64(users, 8), .row = id,
                        .gids = l.gids, .n_gids = l.n_gids, .metaroles = l.held, .n_metaroles = l.n_held,
                };
                if ((r = nss_index_builder_add_user(b, &u)) < 0)
                        goto out;
        }
        r = rc == SQLITE_DONE ? 0 : store_sql_fail(s, s->pub, rc, "reading users");
out:
        sqlite3_reset(users);
        sqlite3_reset(gids);
        sqlite3_reset(held);
        free(l.gids);
        free(l.held);
        group_gids_free(&by_id);
        return r;
}

static int add_groups(struct roles_store *s, struct nss_index_builder *b, enum scope scope) {
        sqlite3_stmt *st = store_stmt(s, s->pub, groups_sql[scope]);
        int r = 0, rc;
        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(st, 2);
                int64_t gid = store_col_id(st, 3);
                if (!name || !id32(gid))
                        continue;
                struct nss_index_build_group g = {
                        .name = name, .gid = (uint32_t) gid, .kind = (enum nss_index_group_kind) sqlite3_column_int(st, 0),
                        .row = sqlite3_column_int64(st, 1),
                };
                if ((r = nss_index_builder_add_group(b, &g)) < 0)
                        break;
        }
        if (r >= 0)
                r = rc == SQLITE_DONE ? 0 : store_sql_fail(s, s->pub, rc, "reading groups");
        sqlite3_reset(st);
        return r < 0 ? r : 0;
}

/* ---- installing a file -------------------------------------------------------------------------- */

static int fsync_parent(const char *path) {
        char dir[PATH_MAX];
        if (roles_strcpy(dir, sizeof(dir), path) < 0)
                return -ENAMETOOLONG;
        char *slash = strrchr(dir, '/');
        if (!slash)
                return -EINVAL;
        *(slash == dir ? slash + 1 : slash) = '\0';
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* Write data aside as "DIR/.BASE.XXXXXX" (its name in ret_tmp), 0644, fsynced: all the room
 * the file takes is taken here, before the commit point. */
static int stage_file(struct roles_store *s, const char *path, const void *data, size_t size,
                      char ret_tmp[static PATH_MAX]) {
        char tmp[PATH_MAX];
        const char *slash = strrchr(path, '/');
        if (!slash || snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int) (slash - path), path, slash + 1) >= (int) sizeof(tmp))
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", path);
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return store_fail(s, -errno, "%s: %s", tmp, strerror(errno));
        int r = 0;
        for (size_t done = 0; done < size;) {
                ssize_t w = write(fd, (const char *) data + done, size - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        r = -errno;
                        break;
                }
                done += (size_t) w;
        }
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        close(fd);
        if (r < 0) {
                unlink(tmp);
                return store_fail(s, r, "%s: cannot write the NSS index: %s", path, strerror(-r));
        }
        memcpy(ret_tmp, tmp, sizeof(tmp));
        return 0;
}

static void unstage(char tmp[static PATH_MAX]) {
        if (tmp[0])
                unlink(tmp);
        tmp[0] = '\0';
}

/* ---- base and delta ------------------------------------------------------------------------------ */

/* An empty delta for the base in s->index_data, compiled with it: installed over the previous
 * base's, so that the two files are always there and a reader never has to tell "no delta"
 * from "not yet". */
static int empty_delta(struct roles_store *s, void **ret_data, size_t *ret_size) {
        const struct nss_index_header *base = s->index_data;   /* just compiled: trusted */
        struct nss_index_identity id = { .kind = NSS_INDEX_DELTA, .serial = base->serial, .base_serial = base->serial };
        struct nss_index_builder *b = NULL;
        memcpy(id.base_id, base->base_id, sizeof(id.base_id));
        int r = nss_index_builder_new(&b);
        if (r >= 0)
                r = nss_index_builder_finish(b, &id, ret_data, ret_size);
        nss_index_builder_free(b);
        return r < 0 ? store_fail(s, r, "compiling the NSS index delta: %s", strerror(-r)) : 0;
}

/* A new base, in memory: s->index_* (installed by store_index_install). */
static int compile_base(struct roles_store *s, int64_t serial) {
        struct nss_index_builder *b = NULL;
        struct nss_index_identity id = { .kind = NSS_INDEX_BASE, .serial = (uint64_t) serial, .base_serial = (uint64_t) serial };
        int r;

        if (getrandom(id.base_id, sizeof(id.base_id), 0) != (ssize_t) sizeof(id.base_id))
                return store_fail(s, -EIO, "no random bytes for the index's id");
        if ((r = nss_index_builder_new(&b)) < 0 || (r = add_users(s, b, ALL)) < 0 || (r = add_groups(s, b, ALL)) < 0 ||
            (r = nss_index_builder_finish(b, &id, &s->index_data, &s->index_size)) < 0 ||
            (r = empty_delta(s, &s->index_empty_delta, &s->index_empty_delta_size)) < 0)
                goto out;
        s->index_kind = NSS_INDEX_BASE;
out:
        if (r < 0 && !s->err[0])
                store_fail(s, r, "compiling the NSS index: %s", strerror(-r));
        nss_index_builder_free(b);
        return r;
}

/* The installed index: its base, and its delta if that applies (nss_index_read.h). */
struct installed {
        struct nss_index_view view;
};

static void installed_close(struct installed *i) {
        nss_index_unmap(&i->view.base);
        nss_index_unmap(&i->view.delta);
}

static int installed_open(struct roles_store *s, struct installed *ret) {
        char path[PATH_MAX];
        *ret = (struct installed) { 0 };
        if (roles_config_index_path(&s->cfg, false, path, sizeof(path)) < 0)
                return -ENAMETOOLONG;
        int r = nss_index_map(path, &ret->view.base, NULL);
        if (r < 0 || ret->view.base.header->kind != NSS_INDEX_BASE) {
                installed_close(ret);
                return r < 0 ? r : -EBADMSG;
        }
        if (roles_config_index_path(&s->cfg, true, path, sizeof(path)) < 0) {
                installed_close(ret);
                return -ENAMETOOLONG;
        }
        if (nss_index_map(path, &ret->view.delta, NULL) == 0)
                ret->view.has_delta = nss_index_delta_applies(&ret->view.base, &ret->view.delta);
        return 0;
}

/* What the previous delta changed counts as changed still: its rows go into the temp tables. */
static int carry_over(struct roles_store *s, const struct nss_index_view *v) {
        const struct nss_index_file *d = &v->delta, *b = &v->base;
        int r = 0;
        for (uint64_t i = 0; r >= 0 && i < d->n[NSS_SECTION_USERS]; i++)
                r = store_exec(s, s->pub, "INSERT INTO temp.index_users VALUES (?1)", "i", d->users[i].row);
        for (uint64_t i = 0; r >= 0 && i < d->n[NSS_SECTION_SUPERSEDED_USERS]; i++)
                if (d->superseded_users[i] < b->n[NSS_SECTION_USERS])
                        r = store_exec(s, s->pub, "INSERT INTO temp.index_users VALUES (?1)", "i",
                                       b->users[d->superseded_users[i]].row);
        for (uint64_t i = 0; r >= 0 && i < d->n[NSS_SECTION_GROUPS]; i++)
                r = store_exec(s, s->pub, "INSERT INTO temp.index_groups VALUES (?1, ?2)", "ii",
                               (int64_t) d->groups[i].kind, d->groups[i].row);
        for (uint64_t i = 0; r >= 0 && i < d->n[NSS_SECTION_SUPERSEDED_GROUPS]; i++)
                if (d->superseded_groups[i] < b->n[NSS_SECTION_GROUPS])
                        r = store_exec(s, s->pub, "INSERT INTO temp.index_groups VALUES (?1, ?2)", "ii",
                                       (int64_t) b->groups[d->superseded_groups[i]].kind,
                                       b->groups[d->superseded_groups[i]].row);
        return r < 0 ? r : 0;
}


/* The base records that the changed rows replace or remove. */
static int supersede(struct roles_store *s, struct nss_index_builder *b, const struct nss_index_file *base) {
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT 0, id FROM temp.index_users UNION SELECT kind, id FROM temp.index_groups");
        int r = 0, rc;
        if (!st)
                return -EIO;
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                int kind = sqlite3_column_int(st, 0);
                int64_t row = sqlite3_column_int64(st, 1);
                int64_t i = kind == 0 ? nss_index_user_by_row(base, row) : nss_index_group_by_row(base, (uint32_t) kind, row);
                if (i >= 0)
                        r = kind == 0 ? nss_index_builder_supersede_user(b, (uint32_t) i)
                                      : nss_index_builder_supersede_group(b, (uint32_t) i);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_sql_fail(s, s->pub, rc, "reading the changed rows");
        sqlite3_reset(st);
        return r;
}

/* 0 compiled (s->index_*); 1 the delta would be too large (compile a base); -errno. */
static int write_delta(struct roles_store *s, const struct nss_index_view *v, int64_t serial) {
        struct nss_index_builder *b = NULL;
        struct nss_index_identity id = {
                .kind = NSS_INDEX_DELTA, .serial = (uint64_t) serial, .base_serial = v->base.header->serial,
        };
        int64_t n_users = 0, n_groups = 0;
        int r;

        memcpy(id.base_id, v->base.header->base_id, sizeof(id.base_id));
        if (v->has_delta && (r = carry_over(s, v)) < 0)
                return r;
        if ((r = count_rows(s, "SELECT count(DISTINCT id) FROM temp.index_users", &n_users)) < 0 ||
            (r = count_rows(s, "SELECT count(*) FROM (SELECT DISTINCT kind, id FROM temp.index_groups)", &n_groups)) < 0)
                return r;
        uint64_t in_base = (uint64_t) v->base.n[NSS_SECTION_USERS] + v->base.n[NSS_SECTION_GROUPS];
        uint64_t floor = in_base < DELTA_MIN_RECORDS ? in_base : DELTA_MIN_RECORDS;
        uint64_t share = v->base.n[NSS_SECTION_USERS] / DELTA_BASE_SHARE;
        uint64_t limit = share > floor ? share : floor;
        if ((uint64_t) (n_users + n_groups) > limit)
                return 1;
        if ((r = nss_index_builder_new(&b)) < 0 || (r = add_users(s, b, CHANGED)) < 0 ||
            (r = add_groups(s, b, CHANGED)) < 0 || (r = supersede(s, b, &v->base)) < 0 ||
            (r = nss_index_builder_finish(b, &id, &s->index_data, &s->index_size)) < 0)
                goto out;
        s->index_kind = NSS_INDEX_DELTA;
out:
        if (r < 0 && !s->err[0])
                store_fail(s, r, "compiling the NSS index delta: %s", strerror(-r));
        nss_index_builder_free(b);
        return r;
}

int store_index_prepare(struct roles_store *s, int64_t published, int64_t serial) {
        struct installed inst;
        store_index_discard(s);
        int64_t whole = 0;
        int r = count_rows(s, "SELECT count(*) FROM temp.index_whole", &whole);
        if (r < 0)
                return r;
        /* A delta only onto the index of the state this change started from. */
        if (!s->pub_migrated && !s->index_requested && whole == 0 && installed_open(s, &inst) == 0) {
                if (nss_index_view_serial(&inst.view) == (uint64_t) published)
                        r = write_delta(s, &inst.view, serial);
                else
                        r = 1;
                if (r == 0)
                        store_index_judge_host(s, &inst.view);
                installed_close(&inst);
                if (r <= 0)
                        return r;
        }
        r = compile_base(s, serial);
        if (r >= 0)
                store_index_judge_host(s, NULL);
        return r;
}

/* Write the prepared index aside before the commit point: a change whose index does not fit
 * fails whole, rather than publishing roles.db with NSS left on the state before it. */
int store_index_stage(struct roles_store *s) {
        char path[PATH_MAX], delta[PATH_MAX];
        int r;
        if (!s->index_data || s->index_staged[0][0])
                return 0;
        if (roles_config_index_path(&s->cfg, false, path, sizeof(path)) < 0 ||
            roles_config_index_path(&s->cfg, true, delta, sizeof(delta)) < 0)
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", s->cfg.public_db);
        bool base = s->index_kind == NSS_INDEX_BASE;
        r = stage_file(s, base ? path : delta, s->index_data, s->index_size, s->index_staged[0]);
        if (r >= 0 && base)
                r = stage_file(s, delta, s->index_empty_delta, s->index_empty_delta_size, s->index_staged[1]);
        if (r < 0)
                store_index_discard(s);
        return r;
}

int store_index_install(struct roles_store *s) {
        char path[PATH_MAX], delta[PATH_MAX];
        int r;
        if (!s->index_data)
                return 0;
        if (roles_config_index_path(&s->cfg, false, path, sizeof(path)) < 0 ||
            roles_config_index_path(&s->cfg, true, delta, sizeof(delta)) < 0)
                return store_fail(s, -ENAMETOOLONG, "%s: path too long", s->cfg.public_db);
        /* (Staged already by a change; an index rebuild alone publishes nothing, and stages now.) */
        if ((r = store_index_stage(s)) < 0)
                return r;
        /* Nothing is allocated or written here, after roles.db was published: only renamed.
         * A base first, then its empty delta over its predecessor's: a reader that meets the new
         * base with the old delta ignores the delta (another base's), and one that meets the old
         * base with the new delta looks again (nss_state.c). */
        bool base = s->index_kind == NSS_INDEX_BASE;
        const char *target[2] = { base ? path : delta, delta };
        for (int i = 0; r >= 0 && i < 2 && s->index_staged[i][0]; i++) {
                if (rename(s->index_staged[i], target[i]) < 0)
                        r = store_fail(s, -errno, "%s: cannot write the NSS index: %s", target[i], strerror(errno));
                else
                        s->index_staged[i][0] = '\0';
        }
        if (r >= 0 && (r = fsync_parent(path)) < 0)
                store_fail(s, r, "%s: fsync of the directory failed: %s", path, strerror(-r));
        store_index_discard(s);
        return r;
}

void store_index_discard(struct roles_store *s) {
        unstage(s->index_staged[0]);
        unstage(s->index_staged[1]);
        free(s->index_data);
        free(s->index_empty_delta);
        s->index_data = s->index_empty_delta = NULL;
        s->index_size = s->index_empty_delta_size = 0;
}

int store_index_stale(struct roles_store *s) {
        struct installed inst;
        int64_t serial;
        int r = store_serial(s, &serial);
        if (r < 0)
                return r;
        if (installed_open(s, &inst) < 0)
                return 1;
        bool stale = nss_index_view_serial(&inst.view) != (uint64_t) serial;
        installed_close(&inst);
        return stale;
}

int store_index_rebuild(struct roles_store *s) {
        int64_t serial;
        int r = 0;
        if (!s->index_data || s->index_kind != NSS_INDEX_BASE) {
                store_index_discard(s);
                r = store_serial(s, &serial);
                if (r >= 0)
                        r = compile_base(s, serial);
        }
        if (r >= 0)
                store_index_judge_host(s, NULL);
        return r < 0 ? r : store_index_install(s);
}

/* ---- what a view says, as one number ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, const void *p, size_t n) {
        return (h ^ nss_index_checksum(p, n)) * 0x100000001b3ULL;
}

static int digest_gid(void *userdata, uint32_t gid) {
        uint64_t *sum = userdata;
        *sum += nss_index_hash_id(gid) | 1;     /* a set: order does not count */
        return 0;
}

static int digest_name(void *userdata, const char *name, size_t n) {
        uint64_t *sum = userdata;
        *sum += nss_index_checksum(name, n) | 1;
        return 0;
}

/*
 * Every user and group the view serves, with their lists, as one number: two views that serve
 * the same entries (a base alone, or another base with a delta) give the same digest. now = 0
 * counts every grant whatever its end, so the digest does not change with the clock.
 */
static uint64_t view_digest(const struct nss_index_view *in) {
        struct nss_index_view v = *in;
        struct nss_index_hint hint = { 0, 0 };
        struct nss_index_found_user u;
        struct nss_index_found_group g;
        uint64_t h = 0xcbf29ce484222325ULL;
        uint32_t id;
        int r;

        v.limits = (struct nss_index_limits) { 0, UINT32_MAX, 0, UINT32_MAX };
        for (int64_t after = -1; (r = nss_index_next_user(&v, after, &hint, &u, &id)) != -ENOENT; after = id) {
                uint64_t gids = 0;
                if (r < 0)
                        continue;
                nss_index_user_gids(&v, &u, 0, digest_gid, &gids);
                uint64_t fields[] = { u.uid, u.gid, u.enabled, (uint64_t) u.expires_at, gids };
                h = mix(mix(mix(mix(mix(h, fields, sizeof(fields)), u.name.p, u.name.n), u.gecos.p, u.gecos.n),
                            u.home.p, u.home.n), u.shell.p, u.shell.n);
        }
        hint = (struct nss_index_hint) { 0, 0 };
        for (int64_t after = -1; (r = nss_index_next_group(&v, after, &hint, &g, &id)) != -ENOENT; after = id) {
                uint64_t members = 0;
                if (r < 0)
                        continue;
                nss_index_group_members(&v, &g, 0, digest_name, &members);
                uint64_t fields[] = { g.gid, g.kind, (uint64_t) g.row, members };
                h = mix(mix(h, fields, sizeof(fields)), g.name.p, g.name.n);
        }
        return h;
}

int store_index_compare(struct roles_store *s, const char **ret_why) {
        struct installed inst;
        int64_t serial;
        int r = store_serial(s, &serial);
        store_index_discard(s);
        if (r >= 0)
                r = compile_base(s, serial);
        if (r < 0)
                return r;
        const struct nss_index_header *fresh = s->index_data;
        const char *why = NULL;
        r = installed_open(s, &inst);
        if (r == -ENOENT) {
                *ret_why = "missing";
                return 0;
        }
        if (r == 0)
                r = nss_index_file_check(inst.view.base.data, inst.view.base.size, true, &inst.view.base);
        if (r == 0 && inst.view.has_delta)
                r = nss_index_file_check(inst.view.delta.data, inst.view.delta.size, true, &inst.view.delta);
        if (r < 0)
                why = "damaged or unreadable";
        else if (nss_index_members_check(&inst.view.base) < 0)
                why = "damaged: a member entry is not its user";
        else if (!inst.view.base.member_ranges)
                why = "without its member lists (an older writer's)";
        else if (nss_index_view_serial(&inst.view) != (uint64_t) serial)
                why = "of another serial than roles.db";
        else if (store_index_host_verdict_wrong(&inst.view))
                why = "damaged: it says no entry of it is the host's, and one is";
        else {
                /* What it serves, against what roles.db compiles to now. */
                struct nss_index_view fresh_view = { 0 };
                if (nss_index_file_check(fresh, s->index_size, false, &fresh_view.base) < 0 ||
                    view_digest(&fresh_view) != view_digest(&inst.view))
                        why = "out of date (roles.db edited by hand?)";
        }
        installed_close(&inst);
        *ret_why = why;
        return 0;
}

