/* SPDX-License-Identifier: MIT */
/* A writer's changes to metaroles and roles: add, delete, include, grant, publish, assign. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"
static int check_perm(struct roles_store *s, const char *perm) {
        if (!roles_perm_valid(perm, true))
                return store_fail(s, -EINVAL, "invalid permission '%.64s': dotted lower-case words "
                                  "(a.b.c, or a.b.* for a subtree), at most %d bytes", perm, ROLES_PERM_MAX);
        return 0;
}

/* The result of a statement that must change one row: 0 rows changed is the caller's error. */
static int change_one(struct roles_store *s, int r, int err_if_none, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int change_one(struct roles_store *s, int r, int err_if_none, const char *fmt, ...) {
        if (r == 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(s->err, sizeof(s->err), fmt, ap);
                va_end(ap);
                return err_if_none;
        }
        return r < 0 ? r : 0;
}

int roles_metarole_add(struct roles_writer *w, struct roles_metarole *m) {
        struct roles_store *s = store_of_writer(w);
        char why[ROLES_WHY_MAX];
        int r;
        if (!roles_name_valid(m->code))
                return store_fail(s, -EINVAL, "invalid metarole code '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                  m->code, ROLES_NAME_MAX);
        if (roles_text_check(m->name, ROLES_TEXT_MAX, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid metarole name: %s", why);
        if (roles_text_check(m->description, ROLES_TEXT_MAX, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid description: %s", why);
        struct roles_metarole existing;
        r = roles_metarole_by_code(store_snapshot(s), m->code, &existing);
        if (r == 0)
                return store_fail(s, -EEXIST, "metarole '%s' already exists", m->code);
        if (r != -ENOENT)
                return r;
        int64_t now = store_now(s);
        r = store_exec(s, s->pub, "INSERT INTO metaroles (code, name, description, created_at) VALUES (?1, ?2, ?3, ?4)",
                       "ttti", m->code, m->name, m->description, now);
        if (r < 0)
                return r;
        int64_t id = sqlite3_last_insert_rowid(s->pub);
        if ((r = roles_audit(store_writer(s), "metarole.add", m->code, "%s", "")) < 0)
                return r;
        m->id = id;
        m->gid = ROLES_ID_INVALID;
        m->builtin = false;
        m->created_at = now;
        return 0;
}

int roles_metarole_delete(struct roles_writer *w, const struct roles_metarole *m) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (m->builtin)
                return store_fail(s, -EBUSY, "metarole '%s' is built in and cannot be deleted", m->code);
        sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT name FROM roles WHERE metarole_id = ?1 LIMIT 1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, m->id);
        r = store_step_row(s, st);
        if (r > 0)
                r = store_fail(s, -EBUSY, "metarole '%s' is still the metarole of role '%s'", m->code,
                               (const char *) sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        if (r < 0)
                return r;
        r = store_exec(s, s->pub, "DELETE FROM metaroles WHERE id = ?1", "i", m->id);
        if ((r = change_one(s, r, -ENOENT, "no such metarole '%s'", m->code)) < 0)
                return r;
        if (m->gid != ROLES_ID_INVALID && (r = store_retire_id(s, true, m->gid, m->code)) < 0)
                return r;
        return roles_audit(store_writer(s), "metarole.del", m->code, "%s", "");
}

int roles_metarole_include(struct roles_writer *w, const struct roles_metarole *parent, const struct roles_metarole *child) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (parent->id == child->id)
                return store_fail(s, -ELOOP, "metarole '%s' cannot include itself", parent->code);
        /* parent -> child closes a cycle exactly when child already reaches parent. */
        sqlite3_stmt *st = store_stmt(s, s->pub,
                "WITH RECURSIVE reach(id) AS (SELECT ?1 UNION SELECT i.child_id FROM metarole_includes i "
                "JOIN reach ON i.parent_id = reach.id) SELECT 1 FROM reach WHERE id = ?2");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, child->id);
        sqlite3_bind_int64(st, 2, parent->id);
        r = store_step_row(s, st);
        sqlite3_reset(st);
        if (r < 0)
                return r;
        if (r > 0)
                return store_fail(s, -ELOOP, "'%s' already includes '%s' (directly or through others): "
                                  "this would make a cycle", child->code, parent->code);
        r = store_exec(s, s->pub, "INSERT OR IGNORE INTO metarole_includes (parent_id, child_id) VALUES (?1, ?2)", "ii",
                       parent->id, child->id);
        if ((r = change_one(s, r, -EEXIST, "'%s' already includes '%s'", parent->code, child->code)) < 0)
                return r;
        return roles_audit(store_writer(s), "metarole.include", parent->code, "child=%s", child->code);
}

int roles_metarole_exclude(struct roles_writer *w, const struct roles_metarole *parent, const struct roles_metarole *child) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (parent->builtin && child->builtin)
                return store_fail(s, -EBUSY, "the built-in chain super-admin > admin > user cannot be changed");
        r = store_exec(s, s->pub, "DELETE FROM metarole_includes WHERE parent_id = ?1 AND child_id = ?2", "ii",
                       parent->id, child->id);
        if ((r = change_one(s, r, -ENOENT, "'%s' does not include '%s'", parent->code, child->code)) < 0)
                return r;
        return roles_audit(store_writer(s), "metarole.exclude", parent->code, "child=%s", child->code);
}

int roles_metarole_grant(struct roles_writer *w, const struct roles_metarole *m, const char *perm) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if ((r = check_perm(s, perm)) < 0)
                return r;
        r = store_exec(s, s->pub, "INSERT OR IGNORE INTO metarole_perms (metarole_id, perm) VALUES (?1, ?2)", "it",
                       m->id, perm);
        if ((r = change_one(s, r, -EEXIST, "metarole '%s' already has '%s'", m->code, perm)) < 0)
                return r;
        return roles_audit(store_writer(s), "metarole.grant", m->code, "perm=%s", perm);
}

int roles_metarole_revoke(struct roles_writer *w, const struct roles_metarole *m, const char *perm) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if ((r = check_perm(s, perm)) < 0)
                return r;
        r = store_exec(s, s->pub, "DELETE FROM metarole_perms WHERE metarole_id = ?1 AND perm = ?2", "it", m->id, perm);
        if ((r = change_one(s, r, -ENOENT, "metarole '%s' does not have '%s'", m->code, perm)) < 0)
                return r;
        return roles_audit(store_writer(s), "metarole.revoke", m->code, "perm=%s", perm);
}

int roles_metarole_publish(struct roles_writer *w, struct roles_metarole *m, uint32_t gid) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (m->gid != ROLES_ID_INVALID)
                return store_fail(s, -EEXIST, "metarole '%s' is already published as gid %u", m->code, m->gid);
        r = store_group_name_taken(s, m->code);
        if (r < 0)
                return r;
        if (r > 0)
                return store_fail(s, -EEXIST, "a group named '%s' already exists", m->code);
        if ((r = store_pick_gid(s, gid, &gid)) < 0)
                return r;
        r = store_exec(s, s->pub, "UPDATE metaroles SET gid = ?2 WHERE id = ?1", "ii", m->id, (int64_t) gid);
        if (r < 0 || (r = roles_audit(store_writer(s), "metarole.publish", m->code, "gid=%u", gid)) < 0)
                return r;
        m->gid = gid;
        return 0;
}

int roles_metarole_unpublish(struct roles_writer *w, struct roles_metarole *m) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (m->gid == ROLES_ID_INVALID)
                return store_fail(s, -ENOENT, "metarole '%s' is not published", m->code);
        r = store_exec(s, s->pub, "UPDATE metaroles SET gid = NULL WHERE id = ?1", "i", m->id);
        if (r < 0 || (r = store_retire_id(s, true, m->gid, m->code)) < 0 ||
            (r = roles_audit(store_writer(s), "metarole.unpublish", m->code, "%s", "")) < 0)
                return r;
        m->gid = ROLES_ID_INVALID;
        return 0;
}

int roles_role_add(struct roles_writer *w, struct roles_role *role) {
        struct roles_store *s = store_of_writer(w);
        struct roles_metarole m;
        char why[ROLES_WHY_MAX];
        int r;

        if (!roles_name_valid(role->name))
                return store_fail(s, -EINVAL, "invalid role name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                  role->name, ROLES_NAME_MAX);
        if (roles_text_check(role->description, ROLES_TEXT_MAX, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid description: %s", why);
        if ((r = roles_metarole_by_code(store_snapshot(s), role->metarole, &m)) < 0)
                return r;
        struct roles_role existing;
        r = roles_role_by_name(store_snapshot(s), role->name, &existing);
        if (r == 0)
                return store_fail(s, -EEXIST, "role '%s' already exists", role->name);
        if (r != -ENOENT)
                return r;
        int64_t now = store_now(s);
        r = store_exec(s, s->pub, "INSERT INTO roles (name, description, metarole_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                       "ttii", role->name, role->description, m.id, now);
        if (r < 0)
                return r;
        int64_t id = sqlite3_last_insert_rowid(s->pub);
        if ((r = roles_audit(store_writer(s), "role.add", role->name, "metarole=%s", m.code)) < 0)
                return r;
        role->id = id;
        role->metarole_id = m.id;
        role->created_at = now;
        return 0;
}

int roles_role_delete(struct roles_writer *w, const struct roles_role *role) {
        struct roles_store *s = store_of_writer(w);
        int r;
        r = store_exec(s, s->pub, "DELETE FROM roles WHERE id = ?1", "i", role->id);
        if ((r = change_one(s, r, -ENOENT, "no such role '%s'", role->name)) < 0)
                return r;
        return roles_audit(store_writer(s), "role.del", role->name, "%s", "");
}

int roles_role_grant(struct roles_writer *w, const struct roles_role *role, const char *perm) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if ((r = check_perm(s, perm)) < 0)
                return r;
        r = store_exec(s, s->pub, "INSERT OR IGNORE INTO role_perms (role_id, perm) VALUES (?1, ?2)", "it", role->id, perm);
        if ((r = change_one(s, r, -EEXIST, "role '%s' already has '%s'", role->name, perm)) < 0)
                return r;
        return roles_audit(store_writer(s), "role.grant", role->name, "perm=%s", perm);
}

int roles_role_revoke(struct roles_writer *w, const struct roles_role *role, const char *perm) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if ((r = check_perm(s, perm)) < 0)
                return r;
        r = store_exec(s, s->pub, "DELETE FROM role_perms WHERE role_id = ?1 AND perm = ?2", "it", role->id, perm);
        if ((r = change_one(s, r, -ENOENT, "role '%s' does not have '%s'", role->name, perm)) < 0)
                return r;
        return roles_audit(store_writer(s), "role.revoke", role->name, "perm=%s", perm);
}

int roles_role_set_disabled(struct roles_writer *w, const struct roles_role *role, const char *perm, bool disabled) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if ((r = check_perm(s, perm)) < 0)
                return r;
        r = store_exec(s, s->pub, "UPDATE role_perms SET disabled = ?3 WHERE role_id = ?1 AND perm = ?2 AND disabled <> ?3",
                       "iti", role->id, perm, (int64_t) disabled);
        if (r == 0) {
                /* Nothing changed: either the permission is not there, or it already is so. */
                sqlite3_stmt *st = store_stmt(s, s->pub, "SELECT 1 FROM role_perms WHERE role_id = ?1 AND perm = ?2");
                if (!st)
                        return -EIO;
                sqlite3_bind_int64(st, 1, role->id);
                sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
                r = store_step_row(s, st);
                sqlite3_reset(st);
                if (r < 0)
                        return r;
                return r > 0 ? store_fail(s, -EEXIST, "'%s' on role '%s' is already %s", perm, role->name,
                                          disabled ? "disabled" : "enabled")
                             : store_fail(s, -ENOENT, "role '%s' does not have '%s'", role->name, perm);
        }
        if (r < 0)
                return r;
        return roles_audit(store_writer(s), disabled ? "role.disable" : "role.enable", role->name, "perm=%s", perm);
}

int roles_role_assign(struct roles_writer *w, const struct roles_role *role, const struct roles_user *u, int64_t until) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if (until < 0)
                return store_fail(s, -EINVAL, "invalid end time");
        r = store_exec(s, s->pub,
                       "INSERT INTO role_assignments (user_id, role_id, until, assigned_at) VALUES (?1, ?2, nullif(?3, 0), ?4) "
                       "ON CONFLICT (user_id, role_id) DO UPDATE SET until = excluded.until, assigned_at = excluded.assigned_at",
                       "iiii", u->id, role->id, until, (int64_t) store_now(s));
        if (r < 0)
                return r;
        char when[21];
        return roles_audit(store_writer(s), "role.assign", role->name, "user=%s until=%s", u->name, roles_format_end(until, when));
}

int roles_role_unassign(struct roles_writer *w, const struct roles_role *role, const struct roles_user *u) {
        struct roles_store *s = store_of_writer(w);
        int r;
        r = store_exec(s, s->pub, "DELETE FROM role_assignments WHERE user_id = ?1 AND role_id = ?2", "ii", u->id, role->id);
        if ((r = change_one(s, r, -ENOENT, "user '%s' does not have role '%s'", u->name, role->name)) < 0)
                return r;
        return roles_audit(store_writer(s), "role.unassign", role->name, "user=%s", u->name);
}
