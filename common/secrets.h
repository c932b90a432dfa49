/* SPDX-License-Identifier: MIT */
/*
 * secrets.db and state.db, as a snapshot with secrets reads them (a const view: reads only) and
 * as a login or a writer also writes them (a mutable view). What the administrator alone changes
 * in secrets.db (setting TOTP, codes, unlocking) takes a writer: writer.h.
 *
 * Across files, order replaces transactions: a writer commits secrets rows before the roles.db
 * commit that refers to them, and removes rows of deleted users only after the roles.db commit
 * without them; a reader of a snapshot sees the secrets rows of that snapshot (store_before.c).
 */
#pragma once

#include "records.h"

struct roles_secrets;

const char *roles_secrets_error(const struct roles_secrets *sec);

/* ---- reads ---------------------------------------------------------------------------------- */

int roles_secret_get(const struct roles_secrets *sec, const char *uuid, struct roles_secret *ret);
int roles_secret_get_code(const struct roles_secrets *sec, const char *uuid, enum roles_code_kind kind,
                          struct roles_code_row *ret);
/* Whether the user has a TOTP secret, reading only that column of the row: 1 one logins take,
 * 0 none, -EBADMSG one they refuse (the error says what is wrong), -ENOENT no row, -errno. */
int roles_secret_totp_enrolled(const struct roles_secrets *sec, const char *uuid);
/* How many recovery codes the user has left that a login can spend (SQL_RECOVERY_USABLE: not
 * one doctor names damaged); 0 below secrets.db version 3. */
int roles_secret_recovery_left(const struct roles_secrets *sec, const char *uuid, unsigned *ret);
/* Whether the user is locked out at now. */
int roles_state_tally_get(const struct roles_secrets *sec, const char *uuid, time_t now, struct roles_tally *ret);
/* The last TOTP step accepted (-1: none). */
int roles_state_totp_last(const struct roles_secrets *sec, const char *uuid, int64_t *ret_step);
/* The most recent login before this one (current_login_*): -ENOENT when there was none. */
int roles_state_previous_login(const struct roles_secrets *sec, const char *uuid, int64_t *ret_at, char *ret_ip,
                               size_t ip_size);
/* What a shadow entry says besides the NSS fields. */
int roles_nss_shadow(const struct roles_secrets *sec, const struct roles_user *u, time_t now,
                     struct roles_nss_shadow *ret);

/* ---- what logins write ------------------------------------------------------------------------- */

/* Store a new hash (records.h); bumps password_changed_at, last_auth_sensitive_operation_at and
 * fs_uniquifier. */
int roles_secret_set_password(struct roles_secrets *sec, const char *uuid, const char *encoded_hash,
                              bool must_change);
/* A password the user set at a login: stored as set_password stores it, the account activated (activate),
 * its pending codes dropped, in one secrets.db write: all of it, or nothing. */
int roles_secret_change_password(struct roles_secrets *sec, const char *uuid, const char *encoded_hash,
                                 bool activate);
/*
 * Mark the code with this hash used: -EALREADY if it already was (two racing logins: exactly
 * one wins), -ESTALE if it expired or another code replaced it since it was checked.
 */
int roles_secret_use_code(struct roles_secrets *sec, const char *uuid, enum roles_code_kind kind,
                          const uint8_t hash[static 32]);
/*
 * Spend the unused recovery code with this hash: -EACCES when the user has none such (never
 * issued, spent already, or spent by a login racing this one: exactly one wins).
 */
int roles_secret_use_recovery_code(struct roles_secrets *sec, const char *uuid,
                                   const uint8_t hash[static ROLES_RECOVERY_HASH_LEN]);
/*
 * An account activated by its first password (activated_at in secrets.db counts as well as the
 * administrator's in roles.db), a must-change flag after a one-time code, a rehash (only if the
 * hash is still old_hash), and pending codes dropped once a password is set.
 */
int roles_secret_set_activated(struct roles_secrets *sec, const char *uuid);
int roles_secret_set_must_change(struct roles_secrets *sec, const char *uuid, bool must_change);
int roles_secret_rehash(struct roles_secrets *sec, const char *uuid, const char *old_hash, const char *new_hash);
int roles_secret_drop_codes(struct roles_secrets *sec, const char *uuid);

/* Group several state.db writes into one transaction (one fsync): begin, then end with commit
 * true, or false to roll back. The transaction never outlives end: a commit that fails is rolled
 * back, and ending needs no memory (a lock left held would stop every other login's count). */
int roles_state_begin(struct roles_secrets *sec);
/* The same, holding from the start the lock a commit needs (rollback-journal mode: EXCLUSIVE,
 * which waits for every reader; WAL: the writer's lock, as begin takes). What a login's gate
 * takes: a rehearsal that only took begin's lock would pass while a reader that never lets go
 * (a stopped process) keeps every real failure from committing. */
int roles_state_begin_exclusive(struct roles_secrets *sec);
int roles_state_end(struct roles_secrets *sec, bool commit);

/* Inside that transaction: fail now if a disk could not take its commit (-ENOSPC, or SQLite's
 * error). With a rollback journal, SQLite has journaled every page the transaction changed, and
 * the commit adds the header page (its change counter) and writes the pages added past the end
 * of the file: the header is journaled here and the filesystem must have room for the growth.
 * In WAL mode the pages wait in the cache until the commit: they are appended to the WAL here,
 * with the header, as frames no commit refers to (a rollback forgets them). */
int roles_state_flush(struct roles_secrets *sec);

/* Clear the count a successful login found (seen, read in a write transaction), only if it is
 * still that count and no lock is in force: failures that racing logins recorded since, and a
 * lock they set, stay. 1 cleared, 0 left as it was, -errno. */
int roles_state_tally_clear_seen(struct roles_secrets *sec, const char *uuid, const struct roles_tally *seen,
                                 time_t now);
/*
 * Count a failed attempt, atomically (one write transaction): failures older than fail_interval
 * start the count afresh; reaching deny (> 0) locks for unlock_time seconds (0: until unlocked).
 * ret, when not NULL, gets the tally as it then stands.
 */
int roles_state_tally_fail(struct roles_secrets *sec, const char *uuid, time_t now, unsigned deny,
                           unsigned fail_interval, unsigned unlock_time, struct roles_tally *ret);
/* A full success clears the count. */
int roles_state_tally_reset(struct roles_secrets *sec, const char *uuid);
/* Claim a TOTP step newer than the last: -EALREADY when that step (or a later one) was already
 * used, even by a login racing this one. */
int roles_state_totp_claim(struct roles_secrets *sec, const char *uuid, int64_t step);
/* The fleet's lock on a user, as a round of roles-agent installs it (fleet_sync.c): locked_until
 * 0 (unlocked everywhere) clears the tally as an unlock does; a lock in force raises the tally's
 * lock (-1: until unlocked), never lowers it; one that ran out by now changes nothing. Applied
 * twice, the same. */
int roles_state_fleet_lock(struct roles_secrets *sec, const char *uuid, int64_t locked_until, time_t now);
/* Flask-Security trackable: last := current (or now the first time), current := (now, ip), count + 1. */
int roles_state_track_login(struct roles_secrets *sec, const char *uuid, time_t now, const char *ip);
/*
 * A fleet host's outbox (FLEET.md, "Write path"): append one event, inside the caller's state.db
 * transaction, so that it is recorded exactly when the event is. A no-op on a single host (no
 * source) and on a state.db not yet migrated to version 2. kind: "failure", "success",
 * "totp_step" or "rehash"; step: the TOTP step (totp_step), or -1; service, rhost, detail: may be
 * NULL. Bounded by outbox_max rows: beyond it the oldest successes go, nothing else ever does.
 */
int roles_state_outbox_add(struct roles_secrets *sec, const char *kind, const char *uuid, const char *service,
                           const char *rhost, int64_t step, const char *detail);
/* The audit log of logins: result is "success", "failure", "locked", ... */
int roles_state_audit_login(struct roles_secrets *sec, const char *user, const char *service, const char *rhost,
                            const char *result, const char *detail);
