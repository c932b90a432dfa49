/* SPDX-License-Identifier: MIT */
/* A writer's changes to users: checks, allocation of ids and a personal group, add, update, delete. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"

static const char uid_used_sql[] = "SELECT 1 FROM users WHERE uid = ?1";
static int check_user_fields(struct roles_store *s, const struct roles_user *u) {
        char why[ROLES_WHY_MAX];
        if (!roles_name_valid(u->name))
                return store_fail(s, -EINVAL, "invalid user name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                  u->name, ROLES_NAME_MAX);
        if (roles_text_check(u->gecos, ROLES_TEXT_MAX, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid full name: %s", why);
        if (u->home[0] && roles_path_check(u->home, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid home directory: %s", why);
        if (u->shell[0] && roles_path_check(u->shell, why, sizeof(why)) < 0)
                return store_fail(s, -EINVAL, "invalid shell: %s", why);
        if (u->expires_at < 0 || u->activated_at < 0)
                return store_fail(s, -EINVAL, "invalid date");
        return 0;
}

static int pick_uid(struct roles_store *s, uint32_t requested, uint32_t *ret) {
        const struct roles_config *c = &s->cfg;
        if (requested != ROLES_ID_INVALID) {
                if (requested < c->uid_min || requested > c->uid_max)
                        return store_fail(s, -ERANGE, "uid %u is outside the configured range %u-%u",
                                          requested, c->uid_min, c->uid_max);
                int r = store_id_used(s, uid_used_sql, requested);
                if (r < 0)
                        return r;
                if (r > 0)
                        return store_fail(s, -EEXIST, "uid %u is already in use", requested);
                if ((r = store_check_retired(s, false, requested)) < 0)
                        return r;
                *ret = requested;
                return 0;
        }
        static const struct store_id_sql uid_sql = {
                .max = "SELECT max(uid) FROM users WHERE uid BETWEEN ?1 AND ?2",
                .ordered = "SELECT uid FROM users WHERE uid BETWEEN ?1 AND ?2 "
                           "UNION SELECT id FROM retired_ids WHERE kind = 'uid' AND id BETWEEN ?1 AND ?2 ORDER BY 1",
        };
        int r = store_alloc_id(s, &uid_sql, false, c->uid_min, c->uid_max, ret);
        if (r == -ENOSPC)
                return store_fail(s, r, "no free uid left in %u-%u", c->uid_min, c->uid_max);
        return r;
}

/* The user's primary group: an existing roles group, or a new personal group of the same name. */
static int pick_primary_group(struct roles_store *s, struct roles_user *u) {
        struct roles_group g = { 0 };
        int r;

        if (u->gid != ROLES_ID_INVALID) {
                /* An invalid value, as for --uid and user mod: not merely a group not found. */
                if (u->gid < s->cfg.gid_min || u->gid > s->cfg.gid_max)
                        return store_fail(s, -ERANGE, "gid %u is outside the configured range %u-%u",
                                          u->gid, s->cfg.gid_min, s->cfg.gid_max);
                r = roles_group_by_gid(store_snapshot(s), u->gid, &g);
                if (r == -ENOENT)
                        return store_fail(s, r, "no roles group has gid %u", u->gid);
                return r;
        }
        r = store_group_name_taken(s, u->name);
        if (r < 0)
                return r;
        if (r > 0)
                return store_fail(s, -EEXIST, "a group named '%s' already exists: give --group or --gid", u->name);
        memcpy(g.name, u->name, sizeof(g.name));
        snprintf(g.description, sizeof(g.description), "personal group of %s", u->name);
        /* Like useradd with USERGROUPS_ENAB: the group's gid matches the uid when it can, which
         * it cannot when the host uses that gid (allocation then skips it too), nor when a group
         * had it once (unless a reuse is forced: a returning account's own old group). */
        const struct host_accounts *host;
        if ((r = store_host(s, &host)) < 0)
                return r;
        g.gid = u->uid;
        r = store_gid_taken(s, g.gid);
        if (r == 0 && !s->allow_retired)
                r = roles_retired_id(store_writer(s), true, g.gid, NULL, 0, NULL);
        if (r < 0)
                return r;
        if (r > 0 || g.gid < s->cfg.gid_min || g.gid > s->cfg.gid_max || host_accounts_id_used(host, g.gid, true))
                g.gid = ROLES_ID_INVALID;
        r = roles_group_add(store_writer(s), &g);
        if (r < 0)
                return r;
        u->gid = g.gid;
        return 0;
}

int roles_user_add(struct roles_writer *w, struct roles_user *u) {
        struct roles_store *s = store_of_writer(w);
        struct roles_user n = *u;
        char fs_uniquifier[ROLES_UUID_LEN + 1];
        int r;

        if ((r = check_user_fields(s, &n)) < 0)
                return r;
        struct roles_user existing;
        r = roles_user_by_name(store_snapshot(s), n.name, &existing);
        if (r == 0)
                return store_fail(s, -EEXIST, "user '%s' already exists", n.name);
        if (r != -ENOENT)
                return r;
        /* Everything that can be refused is checked before the personal group is created. */
        if (!n.home[0] && snprintf(n.home, sizeof(n.home), "%s/%s", s->cfg.home_base, n.name) >= (int) sizeof(n.home))
                return store_fail(s, -ENAMETOOLONG, "home directory too long");
        if (!n.shell[0] && roles_strcpy(n.shell, sizeof(n.shell), s->cfg.default_shell) < 0)
                return store_fail(s, -ENAMETOOLONG, "default shell too long");
        if (!roles_path_valid(n.home) || !roles_path_valid(n.shell))
                return store_fail(s, -EINVAL, "invalid home directory or shell");
        if ((r = pick_uid(s, n.uid, &n.uid)) < 0 || (r = pick_primary_group(s, &n)) < 0)
                return r;
        if ((r = store_uuid_new(s, n.uuid)) < 0 || (r = store_uuid_new(s, fs_uniquifier)) < 0)
                return store_fail(s, r, "no randomness for a uuid");
        n.created_at = n.updated_at = store_now(s);

        /* The 0 timestamps mean "not set": stored as NULL. */
        r = store_exec(s, s->pub,
                       "INSERT INTO users (uuid, name, uid, gid, gecos, home, shell, enabled, created_at, updated_at, "
                       "activated_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, nullif(?11, 0), nullif(?12, 0))",
                       "ttiitttiiiii", n.uuid, n.name, (int64_t) n.uid, (int64_t) n.gid, n.gecos, n.home, n.shell,
                       (int64_t) n.enabled, n.created_at, n.updated_at, n.activated_at, n.expires_at);
        if (r < 0)
                return r;
        n.id = sqlite3_last_insert_rowid(s->pub);

        /* Its before-image is no row: a change undone takes the new user's secrets away too. */
        r = store_before_keep_new(s, n.uuid);
        if (r >= 0)
                r = store_exec(s, s->sec, "INSERT INTO credentials (user_uuid, fs_uniquifier, created_at) VALUES (?1, ?2, ?3)",
                               "tti", n.uuid, fs_uniquifier, n.created_at);
        if (r < 0)
                return r;
        r = roles_audit(store_writer(s), "user.add", n.name, "uid=%u gid=%u uuid=%s", n.uid, n.gid, n.uuid);
        if (r < 0)
                return r;
        *u = n;
        return 0;
}

int roles_user_update(struct roles_writer *w, const struct roles_user *u) {
        struct roles_store *s = store_of_writer(w);
        int r;
        if ((r = check_user_fields(s, u)) < 0)
                return r;
        if (!roles_path_valid(u->home) || !roles_path_valid(u->shell))
                return store_fail(s, -EINVAL, "invalid home directory or shell");
        if (u->gid < s->cfg.gid_min || u->gid > s->cfg.gid_max)
                return store_fail(s, -ERANGE, "gid %u is outside the configured range", u->gid);
        struct roles_group g;
        r = roles_group_by_gid(store_snapshot(s), u->gid, &g);
        if (r == -ENOENT)
                return store_fail(s, r, "no roles group has gid %u", u->gid);
        if (r < 0)
                return r;

        r = store_exec(s, s->pub,
                       "UPDATE users SET gid = ?2, gecos = ?3, home = ?4, shell = ?5, enabled = ?6, updated_at = ?7, "
                       "activated_at = nullif(?8, 0), expires_at = nullif(?9, 0) WHERE id = ?1",
                       "iitttiiii", u->id, (int64_t) u->gid, u->gecos, u->home, u->shell, (int64_t) u->enabled,
                       (int64_t) store_now(s), u->activated_at, u->expires_at);
        if (r == 0)
                return store_fail(s, -ENOENT, "no such user '%s'", u->name);
        if (r < 0)
                return r;
        char when[21];
        return roles_audit(store_writer(s), "user.mod", u->name, "gid=%u enabled=%d expires_at=%s", u->gid, u->enabled,
                           roles_format_end(u->expires_at, when));
}

int roles_user_delete(struct roles_writer *w, const struct roles_user *u) {
        struct roles_store *s = store_of_writer(w);
        int r;

        r = store_exec(s, s->pub, "DELETE FROM users WHERE id = ?1", "i", u->id);
        if (r == 0)
                return store_fail(s, -ENOENT, "no such user '%s'", u->name);
        if (r < 0)
                return r;
        /* Like userdel: the personal group goes too when nobody else uses it. */
        r = store_exec(s, s->pub,
                       "DELETE FROM groups WHERE name = ?1 AND gid = ?2 "
                       "AND NOT EXISTS (SELECT 1 FROM users WHERE gid = ?2) "
                       "AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id)",
                       "ti", u->name, (int64_t) u->gid);
        if (r < 0 || (r > 0 && (r = store_retire_id(s, true, u->gid, u->name)) < 0) ||
            (r = store_retire_id(s, false, u->uid, u->name)) < 0)
                return r;
        r = store_queue_purge(s, u->uuid, PURGE_ALL);
        if (r < 0)
                return r;
        return roles_audit(store_writer(s), "user.del", u->name, "uid=%u uuid=%s", u->uid, u->uuid);
}
