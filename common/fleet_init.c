/* SPDX-License-Identifier: MIT */
/*
 * `rolesctl init` with a source: the schema in PostgreSQL, made from a fresh store's own.
 *
 * Every table a host receives is there column for column (fleet_columns of a store that init
 * made in a temporary directory), with its primary key and nothing more: the rules a row obeys
 * are the writer's, checked before a change is pushed; a second copy of them in SQL would drift.
 * Around them, what only the fleet has:
 *   fleet      one row: the serial (every change takes the next one, in its transaction), the
 *              schema versions of the files it describes and the version of the fleet's own
 *              objects (fleet.h, ROLES_FLEET_VERSION; a host with an older build refuses)
 *   changes    each serial's changesets, by stream: public (every host), secrets (hosts with
 *              host_secrets = all), audit (the administrators only)
 *   sequences  AUTOINCREMENT's high-water marks, so that no id is handed out twice
 *   events     what hosts' logins wrote, by (host, event id), through ingest() alone
 *   hosts      what each host last reported of itself (installed serial, outbox depth, when),
 *              through report() alone
 *   roles_host, roles_host_secrets
 *              NOLOGIN roles to make each host's login role a member of: SELECT on the serial,
 *              the public tables and the host_changes view, EXECUTE on ingest and report; the second also
 *              on the secrets
 * Serial 1 is init itself: the built-in metaroles, copied from the fresh store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "fleet-internal.h"

/*
 * The fleet's facts: what no row of roles.db or secrets.db says, yet every host must know with
 * the next serial (FLEET.md, "Write path"). One row per user, tagged with the serial that last
 * changed it, so that a host reads those in (installed, new] whatever happened in between:
 *   fleet_locks  the fleet's lockout: locked_until (-1: until an administrator unlocks; NULL:
 *                unlocked everywhere, which clears every host's tally). A lock only grows until
 *                an unlock, here as on the hosts, so that a full copy and a delta agree.
 *   totp_steps   the last TOTP step used anywhere: it only goes up.
 * Each publish_* takes the next serial as a change does (every change updates that one row: a
 * push racing it retries), with a change log row of no changesets, so a host's delta has every
 * serial. SECURITY DEFINER with a fixed search_path, EXECUTE for their owner alone: the ingest
 * function (run as the owner) and rolesctl (the administrator) call them; hosts only read.
 * Host login roles read the locks (roles_host: a key-only host refuses locked accounts too) and
 * the steps with the secrets they go with (roles_host_secrets).
 * A lock or an unlock takes the account's lockout lock, as the ingest's count does (and holds it
 * to its commit): an unlock that comes while an ingest counts waits for that count's lock, and
 * one that comes first is seen by the count, which would otherwise lock again, after the unlock,
 * for the failures the unlock cleared.
 */
#define FACTS_SQL \
        "CREATE TABLE IF NOT EXISTS " FLEET_SCHEMA ".fleet_locks (user_uuid text PRIMARY KEY, locked_until bigint," \
        "  serial bigint NOT NULL, reset_at bigint NOT NULL DEFAULT 0);" \
        /* reset_at came after the table, in a build before the fleet had a version */ \
        "ALTER TABLE " FLEET_SCHEMA ".fleet_locks ADD COLUMN IF NOT EXISTS reset_at bigint NOT NULL DEFAULT 0;" \
        "CREATE INDEX IF NOT EXISTS fleet_locks_serial_idx ON " FLEET_SCHEMA ".fleet_locks (serial);" \
        "CREATE TABLE IF NOT EXISTS " FLEET_SCHEMA ".totp_steps (user_uuid text PRIMARY KEY, last_step bigint NOT NULL," \
        "  serial bigint NOT NULL);" \
        "CREATE INDEX IF NOT EXISTS totp_steps_serial_idx ON " FLEET_SCHEMA ".totp_steps (serial);" \
        "GRANT SELECT ON " FLEET_SCHEMA ".fleet_locks TO roles_host;" \
        "GRANT SELECT ON " FLEET_SCHEMA ".totp_steps TO roles_host_secrets;" \
        /* The serial a fact takes, for a user the fleet has (a fact about no one would reach \
         * no host: refused, so that a wrong uuid shows). */ \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".fact_serial(user_uuid text, actor text) RETURNS bigint" \
        "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$" \
        "  DECLARE s bigint; BEGIN" \
        "    IF NOT EXISTS (SELECT FROM " FLEET_SCHEMA ".users u WHERE u.uuid = fact_serial.user_uuid) THEN" \
        "      RAISE EXCEPTION 'no user with uuid %', fact_serial.user_uuid USING ERRCODE = 'no_data_found'; END IF;" \
        "    UPDATE " FLEET_SCHEMA ".fleet SET serial = serial + 1 WHERE id = 1 RETURNING serial INTO s;" \
        "    IF s IS NULL THEN RAISE EXCEPTION 'the fleet has no serial'; END IF;" \
        "    INSERT INTO " FLEET_SCHEMA ".changes (serial, actor) VALUES (s, fact_serial.actor);" \
        "    DELETE FROM " FLEET_SCHEMA ".changes WHERE serial <= s - " ROLES_STRINGIFY(FLEET_LOG_KEEP) ";" \
        "    PERFORM pg_notify('roles_serial', s::text);" \
        "    RETURN s; END $f$;" \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".publish_lock(user_uuid text, locked_until bigint, actor text DEFAULT 'fleet')" \
        "  RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$" \
        "  #variable_conflict use_column\n" \
        "  DECLARE s bigint; l bigint := nullif(publish_lock.locked_until, 0); BEGIN" \
        "    PERFORM pg_advisory_xact_lock(hashtext('roles lockout ' || publish_lock.user_uuid));" \
        "    s := " FLEET_SCHEMA ".fact_serial(publish_lock.user_uuid, publish_lock.actor);" \
        "    INSERT INTO " FLEET_SCHEMA ".fleet_locks AS f (user_uuid, locked_until, serial, reset_at)" \
        "      VALUES (publish_lock.user_uuid, l, s, CASE WHEN l IS NULL THEN floor(extract(epoch FROM now()))::bigint ELSE 0 END)" \
        "      ON CONFLICT (user_uuid) DO UPDATE SET serial = s," \
        "      reset_at = CASE WHEN l IS NULL THEN floor(extract(epoch FROM now()))::bigint ELSE f.reset_at END," \
        "      locked_until = CASE WHEN l IS NULL OR f.locked_until IS NULL THEN l" \
        "        WHEN l < 0 OR f.locked_until < 0 THEN -1 ELSE greatest(l, f.locked_until) END;" \
        "    RETURN s; END $f$;" \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".publish_unlock(user_uuid text, actor text DEFAULT 'fleet') RETURNS bigint" \
        "  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp" \
        "  AS $f$ SELECT " FLEET_SCHEMA ".publish_lock(user_uuid, NULL, actor) $f$;" \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".publish_totp_step(user_uuid text, step bigint, actor text DEFAULT 'fleet')" \
        "  RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$" \
        "  #variable_conflict use_column\n" \
        "  DECLARE s bigint := " FLEET_SCHEMA ".fact_serial(publish_totp_step.user_uuid, publish_totp_step.actor); BEGIN" \
        "    INSERT INTO " FLEET_SCHEMA ".totp_steps AS t (user_uuid, last_step, serial)" \
        "      VALUES (publish_totp_step.user_uuid, publish_totp_step.step, s) ON CONFLICT (user_uuid) DO UPDATE" \
        "      SET serial = s, last_step = greatest(t.last_step, excluded.last_step);" \
        "    RETURN s; END $f$;" \
        "REVOKE EXECUTE ON FUNCTION " FLEET_SCHEMA ".fact_serial(text, text), " FLEET_SCHEMA ".publish_lock(text, bigint, text)," \
        "  " FLEET_SCHEMA ".publish_unlock(text, text), " FLEET_SCHEMA ".publish_totp_step(text, bigint, text) FROM PUBLIC;"

/*
 * What each host last said of itself (`rolesctl fleet status`): the serial it has installed, its
 * outbox's depth and when it said so, one row per host login role. roles-agent reports once a
 * round, also when nothing changed: last_contact is when the host was last heard from. The host
 * is session_user, as for ingest: a host cannot report for another. Hosts have no grant on the
 * table, EXECUTE on report alone.
 */
#define HOSTS_SQL \
        "CREATE TABLE IF NOT EXISTS " FLEET_SCHEMA ".hosts (host text PRIMARY KEY, installed bigint NOT NULL," \
        "  outbox_depth bigint NOT NULL, last_contact timestamptz NOT NULL);" \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".report(installed bigint, outbox_depth bigint) RETURNS void" \
        "  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$" \
        "  INSERT INTO " FLEET_SCHEMA ".hosts AS h (host, installed, outbox_depth, last_contact)" \
        "    VALUES (session_user, $1, $2, now()) ON CONFLICT (host) DO UPDATE" \
        "    SET installed = excluded.installed, outbox_depth = excluded.outbox_depth," \
        "    last_contact = excluded.last_contact $f$;" \
        "REVOKE ALL ON FUNCTION " FLEET_SCHEMA ".report(bigint, bigint) FROM PUBLIC;" \
        "GRANT EXECUTE ON FUNCTION " FLEET_SCHEMA ".report(bigint, bigint) TO roles_host;"

/*
 * What hosts decide on the primary at once, through roles-agent's socket (FLEET.md, "Write
 * path", synchronous operations; agent-protocol.h): one statement each, so that of two hosts
 * racing, one wins and the other sees the row it changed.
 *   change_password  compare-and-set on the hash the host read (the pending codes voided, the
 *                    account activated when asked), with the next serial.
 *   claim_code       a one-time code spent (UPDATE ... WHERE used_at IS NULL), with the next serial.
 * A row a function changes has no changeset (hosts apply changesets, and SQLite's format is
 * SQLite's to write), so it reaches hosts the way the facts do: `claimed` names each user whose
 * secrets rows such a function changed, tagged with the serial, and a host's sync copies that
 * user's rows of credentials, codes and recovery_codes whole, as the primary has them at the
 * serial it installs (fleet_sync.c, apply_claimed), after the delta; a full copy has them
 * already. One mechanism for every claim to come, and no second writer of the rows' rules.
 * EXECUTE for hosts that hold the secrets (roles_host_secrets): the compare-and-set needs the
 * hash the host read, which only they have.
 */
#define CLAIMS_SQL \
        "CREATE TABLE IF NOT EXISTS " FLEET_SCHEMA ".claimed (user_uuid text PRIMARY KEY, serial bigint NOT NULL);" \
        "CREATE INDEX IF NOT EXISTS claimed_serial_idx ON " FLEET_SCHEMA ".claimed (serial);" \
        "GRANT SELECT ON " FLEET_SCHEMA ".claimed TO roles_host_secrets;" \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".claim_serial(user_uuid text, actor text) RETURNS bigint" \
        "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$" \
        "  #variable_conflict use_column\n" \
        "  DECLARE s bigint := " FLEET_SCHEMA ".fact_serial(claim_serial.user_uuid, claim_serial.actor); BEGIN" \
        "    INSERT INTO " FLEET_SCHEMA ".claimed AS c (user_uuid, serial) VALUES (claim_serial.user_uuid, s)" \
        "      ON CONFLICT (user_uuid) DO UPDATE SET serial = s;" \
        "    RETURN s; END $f$;" \
        /* 0: lost (the hash is no longer old_hash, or no such account); else the serial. */ \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".change_password(user_uuid text, old_hash text, new_hash text," \
        "  fs_uniquifier text, activate boolean) RETURNS bigint" \
        "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$" \
        "  #variable_conflict use_column\n" \
        "  DECLARE now_s bigint := floor(extract(epoch FROM now()))::bigint; BEGIN" \
        "    UPDATE " FLEET_SCHEMA ".credentials c SET password_hash = change_password.new_hash," \
        "      password_changed_at = now_s, must_change_password = 0, last_auth_sensitive_operation_at = now_s," \
        "      fs_uniquifier = change_password.fs_uniquifier," \
        "      activated_at = CASE WHEN change_password.activate THEN coalesce(c.activated_at, now_s) ELSE c.activated_at END" \
        "      WHERE c.user_uuid = change_password.user_uuid" \
        "      AND coalesce(c.password_hash, '') = coalesce(change_password.old_hash, '');" \
        "    IF NOT FOUND THEN RETURN 0; END IF;" \
        "    UPDATE " FLEET_SCHEMA ".codes SET used_at = now_s WHERE user_uuid = change_password.user_uuid AND used_at IS NULL;" \
        "    RETURN " FLEET_SCHEMA ".claim_serial(change_password.user_uuid, 'password change (' || session_user || ')');" \
        "  END $f$;" \
        /* A one-time code spent: kind 'activation' or 'reset' (roles.codes, only while unused and \
         * unexpired; the account must then set a password) or 'recovery' (roles.recovery_codes, \
         * while unused). 0: lost (spent already, expired, replaced, never issued); else the serial. */ \
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".claim_code(user_uuid text, kind text, code_hash bytea) RETURNS bigint" \
        "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$" \
        "  #variable_conflict use_column\n" \
        "  DECLARE now_s bigint := floor(extract(epoch FROM now()))::bigint; n bigint; BEGIN" \
        "    IF claim_code.kind = 'recovery' THEN" \
        "      UPDATE " FLEET_SCHEMA ".recovery_codes r SET used_at = now_s WHERE r.user_uuid = claim_code.user_uuid" \
        "        AND r.code_hash = claim_code.code_hash AND r.used_at IS NULL;" \
        "      GET DIAGNOSTICS n = ROW_COUNT;" \
        "    ELSE" \
        "      UPDATE " FLEET_SCHEMA ".codes c SET used_at = now_s WHERE c.user_uuid = claim_code.user_uuid" \
        "        AND c.kind = claim_code.kind AND c.code_hash = claim_code.code_hash AND c.used_at IS NULL" \
        "        AND c.expires_at > now_s;" \
        "      GET DIAGNOSTICS n = ROW_COUNT;" \
        "      IF n > 0 THEN UPDATE " FLEET_SCHEMA ".credentials c SET must_change_password = 1" \
        "        WHERE c.user_uuid = claim_code.user_uuid; END IF;" \
        "    END IF;" \
        "    IF n = 0 THEN RETURN 0; END IF;" \
        "    RETURN " FLEET_SCHEMA ".claim_serial(claim_code.user_uuid, claim_code.kind || ' code (' || session_user || ')');" \
        "  END $f$;" \
        "REVOKE EXECUTE ON FUNCTION " FLEET_SCHEMA ".claim_serial(text, text)," \
        "  " FLEET_SCHEMA ".change_password(text, text, text, text, boolean), " FLEET_SCHEMA ".claim_code(text, text, bytea) FROM PUBLIC;" \
        "GRANT EXECUTE ON FUNCTION " FLEET_SCHEMA ".change_password(text, text, text, text, boolean)," \
        "  " FLEET_SCHEMA ".claim_code(text, text, bytea) TO roles_host_secrets;"

/* What every fleet version has, and init alone makes: the serial, the change log, the sequences. */
static const char base_sql[] =
        "CREATE TABLE " FLEET_SCHEMA ".fleet (id integer PRIMARY KEY CHECK (id = 1), serial bigint NOT NULL,"
        "  public_version integer NOT NULL, secrets_version integer NOT NULL);"
        "CREATE TABLE " FLEET_SCHEMA ".changes (serial bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),"
        "  actor text NOT NULL, public_cs bytea, secrets_cs bytea, audit_cs bytea);"
        "CREATE TABLE " FLEET_SCHEMA ".sequences (name text PRIMARY KEY, seq bigint NOT NULL);";

/*
 * The fleet's own objects at ROLES_FLEET_VERSION (fleet.h): init makes them on a new schema, `rolesctl
 * fleet upgrade` again on an older fleet's. So every statement is one that changes nothing when
 * what it makes is there already (IF NOT EXISTS, OR REPLACE, grants given again), and one text
 * serves both: an upgraded fleet is a fresh one. A later version that changes a table's columns
 * or a function's signature adds its ALTER or DROP here, before what it replaces.
 */
static const char objects_sql[] =
        /* 1: a fleet of before the version, which the column's default says (fleet.h) */
        "ALTER TABLE " FLEET_SCHEMA ".fleet ADD COLUMN IF NOT EXISTS fleet_version integer NOT NULL DEFAULT 1;"
        /* md5 of this text, as the build that last made these objects had it (fleet_objects_current) */
        "ALTER TABLE " FLEET_SCHEMA ".fleet ADD COLUMN IF NOT EXISTS objects_digest text;"
        "CREATE OR REPLACE VIEW " FLEET_SCHEMA ".host_changes AS SELECT serial, public_cs FROM " FLEET_SCHEMA ".changes;"
        "CREATE OR REPLACE VIEW " FLEET_SCHEMA ".host_secret_changes AS SELECT serial, secrets_cs FROM " FLEET_SCHEMA ".changes;"
        "DO $$ BEGIN"
        "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'roles_host') THEN"
        "    CREATE ROLE roles_host NOLOGIN; END IF;"
        "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'roles_host_secrets') THEN"
        "    CREATE ROLE roles_host_secrets NOLOGIN IN ROLE roles_host; END IF;"
        "END $$;"
        "GRANT USAGE ON SCHEMA " FLEET_SCHEMA " TO roles_host;"
        "GRANT SELECT ON " FLEET_SCHEMA ".fleet, " FLEET_SCHEMA ".sequences, " FLEET_SCHEMA ".host_changes TO roles_host;"
        "GRANT SELECT ON " FLEET_SCHEMA ".host_secret_changes TO roles_host_secrets;"
        /* What hosts' logins wrote (FLEET.md, "Write path"): each host's outbox rows, keyed by
         * the host's login role and its outbox id. Only ingest writes here: hosts have no grant
         * on the table. */
        "CREATE TABLE IF NOT EXISTS " FLEET_SCHEMA ".events (host text NOT NULL, event_id bigint NOT NULL,"
        "  at bigint NOT NULL, kind text NOT NULL, user_uuid text NOT NULL, service text NOT NULL,"
        "  rhost text NOT NULL, step bigint, detail text NOT NULL,"
        "  received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (host, event_id));"
        "CREATE INDEX IF NOT EXISTS events_user ON " FLEET_SCHEMA ".events (user_uuid, kind, at);"
        /* The fleet lockout's policy: the administrator's roles.conf at init (deny, fail_interval,
         * unlock_time); UPDATE it to change the fleet's. */
        "CREATE TABLE IF NOT EXISTS " FLEET_SCHEMA ".lockout (id integer PRIMARY KEY CHECK (id = 1), deny integer NOT NULL,"
        "  fail_interval bigint NOT NULL, unlock_time bigint NOT NULL);"
        /* One call per batch of a host's outbox (roles-agent, fleet_outbox.c): the rows as a JSON
         * array of objects with the outbox's columns. The host is session_user, the role the
         * host logged in as, never a value it sends: a host cannot speak for another. An
         * event's time is the host's clock, taken no later than now: a host whose clock is ahead
         * (or that says so) must not date a success after the failures other hosts see next,
         * hiding them from the lockout below, nor failures after an unlock to come, which would
         * then count against it; and no time outside what to_timestamp shows (`rolesctl
         * logins`) is stored.
         * Idempotent: a batch sent again (the agent killed before it deleted what was
         * acknowledged) adds nothing. Returns the number of events that were new. SECURITY
         * DEFINER with a fixed search_path, so that nothing a caller puts in its path is run. */
        "CREATE OR REPLACE FUNCTION " FLEET_SCHEMA ".ingest(batch jsonb) RETURNS bigint"
        "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$"
        "DECLARE n bigint; failed text[]; steps_of text[]; steps bigint[]; u text; i int; c bigint;"
        "  p record; now_s bigint := floor(extract(epoch FROM now()))::bigint; since bigint; locked bigint;"
        "  max_step bigint := now_s / " ROLES_STRINGIFY(ROLES_TOTP_STEP) " + 10;"
        "BEGIN"
        "  WITH ins AS ("
        "    INSERT INTO " FLEET_SCHEMA ".events (host, event_id, at, kind, user_uuid, service, rhost, step, detail)"
        "    SELECT session_user, e.id, least(greatest(e.at, 0), now_s), e.kind, e.user_uuid, coalesce(e.service, ''),"
        "           coalesce(e.rhost, ''),"
        "           e.step, coalesce(e.detail, '')"
        "    FROM jsonb_to_recordset(batch) AS e(id bigint, at bigint, kind text, user_uuid text, service text,"
        "                                       rhost text, step bigint, detail text)"
        "    WHERE e.kind IN ('failure', 'success', 'totp_step', 'rehash')"
        "    ON CONFLICT (host, event_id) DO NOTHING RETURNING kind, user_uuid, step)"
        "  SELECT count(*), array_agg(DISTINCT user_uuid) FILTER (WHERE kind = 'failure'),"
        "         array_agg(user_uuid ORDER BY user_uuid, step) FILTER (WHERE kind = 'totp_step' AND step <= max_step),"
        "         array_agg(step ORDER BY user_uuid, step) FILTER (WHERE kind = 'totp_step' AND step <= max_step)"
        "    INTO n, failed, steps_of, steps FROM ins;"
        /* TOTP steps used: each account's highest of the batch, published when above the
         * fleet's (publish_totp_step takes a serial: every host refuses the code next round).
         * None past the current step and roles.conf's largest totp_window (10): a code matches
         * no later step, and a step once published never goes down, so one from a host whose
         * clock is far ahead (or that says so) would refuse the account's every code
         * everywhere, a new secret's too. */
        "  FOR i IN 1 .. coalesce(array_length(steps_of, 1), 0) LOOP"
        "    CONTINUE WHEN i < array_length(steps_of, 1) AND steps_of[i + 1] = steps_of[i];"
        "    IF steps[i] > coalesce((SELECT t.last_step FROM " FLEET_SCHEMA ".totp_steps t WHERE t.user_uuid = steps_of[i]), -1)"
        "       AND EXISTS (SELECT FROM " FLEET_SCHEMA ".users WHERE uuid = steps_of[i]) THEN"
        "      PERFORM " FLEET_SCHEMA ".publish_totp_step(steps_of[i], steps[i], 'fleet (' || session_user || ')');"
        "    END IF;"
        "  END LOOP;"
        /* The fleet lockout: an account's failures on every host since the later of its last
         * success, its last unlock, the end of its last lock and fail_interval ago (times in
         * seconds: a failure in the same second counts, the safer reading); deny of them lock it
         * everywhere (publish_lock). Only rows this batch inserted trigger it, so a
         * batch sent again locks nothing anew. Counted under a per-account lock: of two hosts'
         * batches ingested at once, the second to count sees the first's rows. */
        "  SELECT * INTO p FROM " FLEET_SCHEMA ".lockout WHERE id = 1;"
        "  IF p.deny > 0 THEN"
        "    FOREACH u IN ARRAY coalesce(failed, '{}'::text[]) LOOP"
        "      PERFORM pg_advisory_xact_lock(hashtext('roles lockout ' || u));"
        "      locked := NULL; since := 0;"
        "      SELECT l.locked_until, l.reset_at INTO locked, since FROM " FLEET_SCHEMA ".fleet_locks l WHERE l.user_uuid = u;"
        "      CONTINUE WHEN locked IS NOT NULL AND (locked < 0 OR locked > now_s);"
        "      since := greatest(coalesce(since, 0), coalesce(locked, 0), now_s - p.fail_interval,"
        "        coalesce((SELECT max(e.at) FROM " FLEET_SCHEMA ".events e WHERE e.user_uuid = u AND e.kind = 'success'), 0));"
        "      SELECT count(*) INTO c FROM " FLEET_SCHEMA ".events e WHERE e.user_uuid = u AND e.kind = 'failure' AND e.at >= since;"
        "      IF c >= p.deny AND EXISTS (SELECT FROM " FLEET_SCHEMA ".users WHERE uuid = u) THEN"
        "        PERFORM " FLEET_SCHEMA ".publish_lock(u, CASE WHEN p.unlock_time = 0 THEN -1 ELSE now_s + p.unlock_time END,"
        "                                             'fleet lockout (' || session_user || ')');"
        "      END IF;"
        "    END LOOP;"
        "  END IF;"
        "  RETURN n;"
        "END $f$;"
        "REVOKE ALL ON FUNCTION " FLEET_SCHEMA ".ingest(jsonb) FROM PUBLIC;"
        "GRANT EXECUTE ON FUNCTION " FLEET_SCHEMA ".ingest(jsonb) TO roles_host;"
        HOSTS_SQL
        FACTS_SQL CLAIMS_SQL;

static int create_table(struct roles_fleet *f, struct roles_store *s, sqlite3 *db, const struct fleet_table *t) {
        struct fleet_columns c;
        char sql[2048];
        int r = fleet_columns(s, db, t->name, &c);
        if (r < 0)
                return fleet_fail(f, r, "%s", store_error(s));
        size_t len = (size_t) snprintf(sql, sizeof(sql), "CREATE TABLE " FLEET_SCHEMA ".%s (", t->name);
        for (int i = 0; i < c.n; i++)
                len += (size_t) snprintf(sql + len, sizeof(sql) - len, "%s\"%s\" %s%s", i ? ", " : "", c.name[i],
                                         c.type[i] == 'i' ? "bigint" : c.type[i] == 'b' ? "bytea" : "text",
                                         c.notnull[i] ? " NOT NULL" : "");
        len += (size_t) snprintf(sql + len, sizeof(sql) - len, ", PRIMARY KEY (");
        for (int i = 0, k = 0; i < c.n; i++)
                if (c.pk[i])
                        len += (size_t) snprintf(sql + len, sizeof(sql) - len, "%s\"%s\"", k++ ? ", " : "", c.name[i]);
        len += (size_t) snprintf(sql + len, sizeof(sql) - len, ")); GRANT SELECT ON " FLEET_SCHEMA ".%s TO %s", t->name,
                                 t->stream == FLEET_PUBLIC ? "roles_host" : t->stream == FLEET_SECRETS ? "roles_host_secrets"
                                                                                                  : "CURRENT_USER");
        if (len >= sizeof(sql))
                return fleet_fail(f, -E2BIG, "%s: statement too long", t->name);
        PGresult *res = PQexec(f->conn, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                return fleet_pg_fail(f, res, "creating the schema");
        PQclear(res);
        return 0;
}

static void remove_dir(const char *dir) {
        DIR *dp = opendir(dir);
        struct dirent *de;
        while (dp && (de = readdir(dp)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
                        unlinkat(dirfd(dp), de->d_name, 0);
        if (dp)
                closedir(dp);
        rmdir(dir);
}

int fleet_objects(struct roles_fleet *f) {
        PGresult *res = PQexec(f->conn, objects_sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                return fleet_pg_fail(f, res, "the fleet's own objects");
        PQclear(res);
        /* (at init the fleet's row comes after: fill() records the digest there) */
        const char *text[] = { objects_sql };
        int r = fleet_exec(f, NULL, "UPDATE " FLEET_SCHEMA ".fleet SET objects_digest = md5($1) WHERE id = 1", 1, text);
        if (r < 0)
                return r;
        /* The lockout's policy: the administrator's roles.conf, where the fleet has none yet. */
        char policy[3][16];
        snprintf(policy[0], sizeof(policy[0]), "%u", f->cfg.deny);
        snprintf(policy[1], sizeof(policy[1]), "%u", f->cfg.fail_interval);
        snprintf(policy[2], sizeof(policy[2]), "%u", f->cfg.unlock_time);
        const char *p[] = { policy[0], policy[1], policy[2] };
        r = fleet_exec(f, NULL, "INSERT INTO " FLEET_SCHEMA ".lockout (id, deny, fail_interval, unlock_time) "
                       "VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING", 3, p);
        return r < 0 ? r : 0;
}

int fleet_objects_current(struct roles_fleet *f, bool *ret) {
        PGresult *res = NULL;
        const char *text[] = { objects_sql };
        /* (through to_jsonb: a fleet made before the column has none, and is not current) */
        int r = fleet_exec(f, &res, "SELECT coalesce(to_jsonb(f) ->> 'objects_digest' = md5($1), false) FROM "
                           FLEET_SCHEMA ".fleet f WHERE f.id = 1", 1, text);
        if (r > 0)
                *ret = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        return r < 0 ? r : 0;
}

static int fill(struct roles_fleet *f, struct roles_store *s) {
        char versions[3][16];
        snprintf(versions[0], sizeof(versions[0]), "%d", ROLES_SCHEMA_PUBLIC);
        snprintf(versions[1], sizeof(versions[1]), "%d", ROLES_SCHEMA_SECRETS);
        snprintf(versions[2], sizeof(versions[2]), "%d", ROLES_FLEET_VERSION);
        const char *p[] = { versions[0], versions[1], versions[2], objects_sql };
        PGresult *res = PQexec(f->conn, base_sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                return fleet_pg_fail(f, res, "creating the schema");
        PQclear(res);
        int r = fleet_objects(f);
        for (size_t i = 0; r >= 0 && i < fleet_n_tables; i++) {
                sqlite3 *db = fleet_tables[i].stream == FLEET_PUBLIC ? s->pub : s->sec;
                r = create_table(f, s, db, &fleet_tables[i]);
                if (r >= 0)
                        r = fleet_copy_table_out(f, s, db, fleet_tables[i].name);
        }
        if (r >= 0)
                r = fleet_sequences_out(f, s);
        if (r >= 0)
                r = fleet_exec(f, NULL, "INSERT INTO " FLEET_SCHEMA ".fleet (id, serial, public_version, secrets_version, "
                               "fleet_version, objects_digest) VALUES (1, 1, $1, $2, $3, md5($4))", 4, p);
        if (r >= 0)
                r = fleet_exec(f, NULL, "INSERT INTO " FLEET_SCHEMA ".changes (serial, actor) VALUES (1, 'init')", 0, NULL);
        return r < 0 ? r : 0;
}

int roles_fleet_init(struct roles_fleet *f) {
        char dir[] = "/tmp/roles-fleet-init-XXXXXX", err[512];
        struct roles_config cfg = f->cfg;
        struct roles_writer *w = NULL;
        PGresult *res = NULL;
        int r;

        if (!mkdtemp(dir))
                return fleet_fail(f, -errno, "a temporary directory: %s", strerror(errno));
        if (snprintf(cfg.public_db, sizeof(cfg.public_db), "%s/roles.db", dir) >= (int) sizeof(cfg.public_db) ||
            snprintf(cfg.secrets_db, sizeof(cfg.secrets_db), "%s/secrets.db", dir) >= (int) sizeof(cfg.secrets_db) ||
            snprintf(cfg.state_db, sizeof(cfg.state_db), "%s/state.db", dir) >= (int) sizeof(cfg.state_db)) {
                r = fleet_fail(f, -ENAMETOOLONG, "%s: path too long", dir);
                goto out;
        }
        if ((r = roles_writer_open(&cfg, ROLES_WRITER_CREATE, &w, err, sizeof(err))) < 0) {
                r = fleet_fail(f, r, "%s", err);
                goto out;
        }
        if ((r = fleet_exec(f, &res, "SELECT 1 FROM pg_namespace WHERE nspname = '" FLEET_SCHEMA "'", 0, NULL)) < 0)
                goto out;
        if (r > 0) {
                r = fleet_fail(f, -EEXIST, "the account server has a roles schema already");
                goto out;
        }
        if ((r = fleet_begin_write(f)) < 0 ||
            (r = fleet_exec(f, NULL, "CREATE SCHEMA " FLEET_SCHEMA, 0, NULL)) < 0 ||
            (r = fill(f, store_of_writer(w))) < 0 || (r = fleet_exec(f, NULL, "COMMIT", 0, NULL)) < 0)
                goto out;
out:
        if (r < 0 && PQtransactionStatus(f->conn) != PQTRANS_IDLE)
                PQclear(PQexec(f->conn, "ROLLBACK"));
        PQclear(res);
        roles_writer_close(w);
        remove_dir(dir);
        return r < 0 ? r : 0;
}
