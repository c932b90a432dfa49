#!/bin/bash
# SPDX-License-Identifier: MIT
#
# rolesctl restore FILE, the counterpart of rolesctl backup: the restored state is the one served
# (a serial above the live one, roles.nss compiled anew), a live roles.db-wal or secrets.db-wal
# does not leak into it, a backup holds what the WALs hold, the files get their modes, the restore is audited; and a hostile or damaged archive (a
# symlink, '../', an extra, missing or repeated member, a truncated archive, a bad checksum, a
# corrupt database, a schema newer than this build, a row every reader refuses) is refused with
# one error line and nothing changed.
#
#   tests/test_restore.sh PATH/TO/rolesctl    (meson passes the built binary; run as root in CI)
#
# Self-contained, in a fresh temporary directory as tests/test_cli.sh; the last line is "N passed,
# M failed" and the exit status is non-zero when anything failed.

set -u

HERE=$(dirname "$(realpath "$0")") || exit 2
. "$HERE/lib.sh" || exit 2
rolesctl_arg "${1:-}"
READERS=()
scratch_cleanup() { [ ${#READERS[@]} -gt 0 ] && kill "${READERS[@]}" 2>/dev/null; }
scratch_dir restore
test_conf "$T" password_min_length=8
CONF=$T/roles.conf
need sqlite3
need python3
need sha256sum

users() {
        sql "$T/roles.db" "SELECT name FROM users ORDER BY name" | tr '\n' ' '
}

# mktar OUT ENTRY...: a ustar archive as Python's tarfile writes one. ENTRY is NAME=FILE (a
# regular member with FILE's bytes), NAME@TARGET (a symlink), NAME/ (a directory).
mktar() {
        python3 - "$@" <<'PY'
import io, sys, tarfile
out, entries = sys.argv[1], sys.argv[2:]
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    for e in entries:
        if "=" in e:
            name, path = e.split("=", 1)
            data = open(path, "rb").read()
            i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o600
            t.addfile(i, io.BytesIO(data))
        elif "@" in e:
            name, target = e.split("@", 1)
            i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target
            t.addfile(i)
        else:
            i = tarfile.TarInfo(e.rstrip("/")); i.type = tarfile.DIRTYPE; i.mode = 0o755
            t.addfile(i)
PY
}

# ---- the state to go back to ----------------------------------------------------------------

rc init >/dev/null || die "rolesctl init"
rc user add alice --uid 12001 >/dev/null || die "user add alice"
rc user add bob --uid 12002 >/dev/null || die "user add bob"
rc group add devs --gid 12500 >/dev/null || die "group add devs"
rc group adduser devs alice >/dev/null || die "group adduser"
echo 'correct horse battery' | rc user passwd alice --stdin >/dev/null || die "user passwd"
run_ok "backup" rc backup "$T/good.tar"
mkdir "$T/x" && tar -xf "$T/good.tar" -C "$T/x" || die "tar -x of the backup"
# A path that names something other than a regular file (a device such as /dev/null or
# /dev/full, a FIFO, a symlink such as /dev/stdout) is refused (a conflict), not replaced by the
# archive: the new archive is renamed into place, which would turn /dev/null into a file of
# root's. Stand-ins in $T here.
mkfifo "$T/fifo" && mknod "$T/null" c 1 3 && ln -s /proc/self/fd/1 "$T/stdout" || die "a FIFO, a device, a symlink"
for target in fifo null stdout; do
        run_refused 4 "backup onto a $target" rc backup "$T/$target"
        err_has "backup onto a $target: says why" "not a regular file"
done
[ -p "$T/fifo" ] && [ -c "$T/null" ] && [ -L "$T/stdout" ] && pass ||
        fail "backup replaced the FIFO, the device or the symlink: $(ls -l "$T/fifo" "$T/null" "$T/stdout")"
eq "no archive left beside them" "$(find "$T" -maxdepth 1 \( -name 'fifo.*' -o -name 'null.*' -o -name 'stdout.*' \) | wc -l)" 0
rm -f "$T/fifo" "$T/null" "$T/stdout"

# ---- a change after the backup ------------------------------------------------------------

rc user add carol --uid 12003 >/dev/null || die "user add carol"
eq "setup: carol added" "$(users)" "alice bob carol "
live_serial=$(serial)

# ---- refused: hostile or damaged archives, nothing changed -----------------------------------

refuse() {      # refuse DESC TAR WORDS-OF-THE-ERROR
        run_refused 5 "restore refuses $1" rc restore "$2"
        err_has "restore refuses $1: says why" "$3"
}

cp "$T/x/roles.db" "$T/r.db"; cp "$T/x/secrets.db" "$T/s.db"; cp "$T/x/state.db" "$T/st.db"
mktar "$T/link.tar" roles.db@/etc/shadow secrets.db="$T/s.db" state.db="$T/st.db"
refuse "a symlink member" "$T/link.tar" "roles.db"
mktar "$T/dotdot.tar" roles.db="$T/r.db" secrets.db="$T/s.db" ../x="$T/st.db"
refuse "a ../ member" "$T/dotdot.tar" "../x"
mktar "$T/abs.tar" roles.db="$T/r.db" secrets.db="$T/s.db" /etc/passwd="$T/st.db"
refuse "an absolute member" "$T/abs.tar" "/etc/passwd"
mktar "$T/extra.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db="$T/st.db" evil.so="$T/st.db"
refuse "an extra member" "$T/extra.tar" "evil.so"
mktar "$T/dir.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db/
refuse "a directory member" "$T/dir.tar" "state.db"
mktar "$T/twice.tar" roles.db="$T/r.db" secrets.db="$T/s.db" roles.db="$T/r.db"
refuse "a member twice" "$T/twice.tar" "twice"
mktar "$T/nosecrets.tar" roles.db="$T/r.db" state.db="$T/st.db"
refuse "an archive without secrets.db" "$T/nosecrets.tar" "secrets.db"
head -c $(( $(stat -c %s "$T/good.tar") / 2 )) "$T/good.tar" >"$T/short.tar"
refuse "a truncated archive" "$T/short.tar" "truncated"
cp "$T/good.tar" "$T/sum.tar"
printf 'X' | dd of="$T/sum.tar" bs=1 seek=3 conv=notrunc 2>/dev/null
refuse "a header with a bad checksum" "$T/sum.tar" "checksum"
: >"$T/empty.tar"
refuse "an empty file" "$T/empty.tar" "truncated"
# Zeros that never end (a restore holds the writer lock: every change would wait for it).
run_refused 5 "restore refuses endless zeros" timeout 60 "$ROLESCTL" --conf "$CONF" restore /dev/zero
err_has "restore refuses endless zeros: says why" "more zeros after its end-of-archive block than a tar record holds"
{ cat "$T/good.tar"; head -c $((2 << 20)) /dev/zero; } >"$T/padded.tar"
refuse "an archive padded with 2 MiB of zeros" "$T/padded.tar" "more zeros after its end-of-archive block"
run_refused 3 "restore of a missing file" rc restore "$T/no-such.tar"

# A corrupt roles.db: a b-tree page overwritten.
cp "$T/x/roles.db" "$T/bad.db"
page=$(sql "$T/bad.db" "PRAGMA page_size")
dd if=/dev/urandom of="$T/bad.db" bs="$page" seek=3 count=1 conv=notrunc 2>/dev/null
mktar "$T/corrupt.tar" roles.db="$T/bad.db" secrets.db="$T/s.db" state.db="$T/st.db"
refuse "a corrupt roles.db" "$T/corrupt.tar" "roles.db"

# A schema newer than this build.
cp "$T/x/secrets.db" "$T/new.db" && sqlite3 "$T/new.db" "PRAGMA user_version = 999" || die "sqlite3"
mktar "$T/newer.tar" roles.db="$T/r.db" secrets.db="$T/new.db" state.db="$T/st.db"
refuse "a newer schema" "$T/newer.tar" "newer than this build"

# Rows every reader refuses, written behind rolesctl's back: bad_row DESC SQL WORDS-OF-THE-ERROR.
bad_row() {
        cp "$T/x/roles.db" "$T/row.db" && sqlite3 "$T/row.db" "$2" || die "sqlite3 $2"
        mktar "$T/row.tar" roles.db="$T/row.db" secrets.db="$T/s.db" state.db="$T/st.db"
        refuse "$1" "$T/row.tar" "$3"
}
bad_row "a user of uid 0" "UPDATE users SET uid = 0 WHERE name = 'bob'" "not valid"
bad_row "a user named root" "UPDATE users SET name = 'root' WHERE name = 'bob'" "root"
bad_row "a user name with a colon" "UPDATE users SET name = 'a:b' WHERE name = 'bob'" "not valid"
bad_row "a group of gid 0" "UPDATE groups SET gid = 0 WHERE name = 'devs'" "not valid"
# An id of another type is not one the UNIQUE index compares with the integers: read as an
# integer, it would be alice's uid (or a group's gid) a second time.
bad_row "a uid stored as a REAL" "UPDATE users SET uid = 12001.5 WHERE name = 'bob'" "not valid"
bad_row "a uid stored as a BLOB" "UPDATE users SET uid = CAST('12001' AS BLOB) WHERE name = 'bob'" "not valid"
bad_row "a primary gid stored as a BLOB" "UPDATE users SET gid = CAST('12001' AS BLOB) WHERE name = 'bob'" "not valid"
bad_row "a gid stored as a REAL" "UPDATE groups SET gid = 12001.5 WHERE name = 'devs'" "not valid"

# Schema objects roles does not make. A trigger would fire in every later writer of roles.db (the
# writer turns triggers on for its own), and SQLite builds the object from the row's sql whatever
# its type says: bob kept enabled, or put back after a delete, whatever the administrator does.
bad_row "a trigger in roles.db" \
        "CREATE TRIGGER keep AFTER UPDATE ON users BEGIN UPDATE users SET enabled = 1 WHERE name = 'bob'; END" \
        "trigger 'keep', which this build of roles does not make"
bad_row "a trigger whose schema row does not say 'trigger'" \
        "CREATE TRIGGER keep AFTER UPDATE ON users BEGIN UPDATE users SET enabled = 1 WHERE name = 'bob'; END;
         PRAGMA writable_schema = ON; UPDATE sqlite_schema SET type = 'Trigger' WHERE name = 'keep'" \
        "Trigger 'keep', which this build of roles does not make"
bad_row "a users table of another shape" "ALTER TABLE users ADD COLUMN extra TEXT" \
        "table 'users', which this build of roles does not make"
bad_row "an index roles does not make" "CREATE INDEX users_shell ON users (shell)" "index 'users_shell'"
# An older file is checked against its own version, before a migration runs on it: here a
# version 2 roles.db whose group_buckets (which version 3 drops) is a virtual table.
bad_row "an older file with a virtual table where a table was" \
        "CREATE VIRTUAL TABLE group_buckets USING fts5 (lines); CREATE TABLE group_member_list (group_id INTEGER PRIMARY KEY
         REFERENCES groups (id) ON DELETE CASCADE, members TEXT NOT NULL); CREATE TABLE user_gid_list (user_id INTEGER
         PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, gids TEXT NOT NULL); CREATE TABLE passwd_buckets (bucket
         INTEGER PRIMARY KEY, lines TEXT NOT NULL); PRAGMA user_version = 2" "table 'group_buckets'"
cp "$T/x/secrets.db" "$T/trig.db" &&
        sqlite3 "$T/trig.db" "CREATE TRIGGER t AFTER INSERT ON publishing BEGIN DELETE FROM credentials; END" || die "sqlite3"
mktar "$T/trig.tar" roles.db="$T/r.db" secrets.db="$T/trig.db" state.db="$T/st.db"
refuse "a trigger in secrets.db" "$T/trig.tar" "secrets.db holds trigger 't'"

# Outbox ids no host hands out (2^20 a second from the epoch stays below 2^53 for centuries): at
# the largest, every fleet login's event, and with it the login, would fail (the database is
# "full"); past 2^53 the fleet's ids are no longer exact numbers.
bad_state() {   # bad_state DESC SQL WORDS-OF-THE-ERROR
        cp "$T/x/state.db" "$T/ob.db" && sqlite3 "$T/ob.db" "$2" || die "sqlite3 $2"
        mktar "$T/ob.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db="$T/ob.db"
        refuse "$1" "$T/ob.tar" "$3"
}
bad_state "an outbox sequence at its largest" "UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'outbox'" \
        "state.db: its outbox ids run past 2^53"
bad_state "an outbox row past 2^53" "INSERT INTO outbox (id, at, kind, user_uuid) VALUES (9007199254740993, 0, 'failure', 'x')" \
        "state.db: its outbox ids run past 2^53"
# A login_audit row at the largest id: SQLite then draws each new row's id at random, and the
# pruning that keeps the newest login_audit_keep rows by id deletes rows at random.
bad_state "a login_audit row at the largest id" \
        "INSERT INTO login_audit (id, at, user, result) VALUES (9223372036854775807, 0, 'x', 'failure')" \
        "state.db: its login_audit ids run past 2^53"
# The same in roles.db: every 'user add' would fail, "database or disk is full", and doctor see nothing.
bad_row "a users sequence at its largest" "UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'users'" \
        "roles.db: its users ids run past 2^53"
bad_row "a group whose id is the largest" "UPDATE groups SET id = 9223372036854775807 WHERE name = 'devs'" \
        "roles.db: its groups ids run past 2^53"

eq "refused restores left carol" "$(users)" "alice bob carol "
eq "refused restores left the serial" "$(serial)" "$live_serial"
leftovers=$(find "$T" -maxdepth 1 -name '.*restore*' | wc -l)
eq "refused restores left no temporary file" "$leftovers" 0
run_refused 2 "restore without a file" rc restore
run_refused 2 "restore with two files" rc restore a.tar b.tar
run_refused_in $'user add jack\nrestore x.tar\n' 2 "restore cannot run inside a batch" rc batch

# ---- more changes, left in the WALs of roles.db and secrets.db --------------------------------

# hold_read DB QUERY: a reader (the sqlite3 shell) in a read transaction on DB, which keeps writers
# from checkpointing DB's WAL and from emptying it as the last connection closes. Its pid is
# added to READERS; closing fd HELD_FD ends it.
hold_read() {
        local fifo=$T/hold.${#READERS[@]}
        mkfifo "$fifo"
        sqlite3 -readonly "$1" <"$fifo" >/dev/null 2>&1 &
        READERS+=($!)
        exec {HELD_FD}>"$fifo"
        echo "BEGIN; $2;" >&"$HELD_FD"
        sleep 0.3
}
# in_wal WHAT DB: DB is in WAL mode and its WAL holds frames.
in_wal() {
        local wal
        wal=$(stat -c %s "$2-wal" 2>/dev/null || echo 0)
        if [ "$wal" -gt 0 ] && [ "$(sql "$2" "PRAGMA main.journal_mode")" = wal ]; then
                pass
        else
                fail "setup: $1 not in $(basename "$2")'s WAL ($wal bytes)"
        fi
}
# erin's row and bob's disabling only in roles.db-wal, bob's new password only in secrets.db-wal:
# SQLite would replay each WAL onto any file put in its database's place.
hold_read "$T/roles.db" "SELECT count(*) FROM users"
roles_fd=$HELD_FD
rc user add erin --uid 12005 >/dev/null || die "user add erin"
rc user disable bob >/dev/null || die "user disable bob"
hold_read "$T/secrets.db" "SELECT count(*) FROM credentials"
secrets_fd=$HELD_FD
echo 'bob new password' | rc user passwd bob --stdin >/dev/null || die "user passwd bob"
bob_uuid=$(sql "$T/roles.db" "SELECT uuid FROM users WHERE name = 'bob'")
bob_hashed="SELECT count(*) FROM credentials WHERE password_hash IS NOT NULL AND user_uuid = '$bob_uuid'"
# A backup taken now holds both: each member is its database with its WAL folded in.
run_ok "backup with changes in the WALs" rc backup "$T/wal.tar"
mkdir "$T/w" && tar -xf "$T/wal.tar" -C "$T/w" || die "tar -x of the backup with changes in the WALs"
eq "the backup holds secrets.db's WAL content" "$(sql "$T/w/secrets.db" "$bob_hashed")" 1
eq "the backup holds roles.db's WAL content" "$(sql "$T/w/roles.db" "SELECT count(*) FROM users WHERE name = 'erin'")" 1
exec {roles_fd}>&- {secrets_fd}>&-
wait "${READERS[@]}" 2>/dev/null
READERS=()
in_wal "bob's password" "$T/secrets.db"
in_wal "the changes" "$T/roles.db"
eq "setup: erin added" "$(users)" "alice bob carol erin "
live_serial=$(serial)

# ---- the restore ---------------------------------------------------------------------------

sum=$(sha256sum "$T/good.tar" | cut -d' ' -f1)
run_ok "restore" rc restore "$T/good.tar"
out_match "restore says what it restored" "^restored .*good\\.tar.*2 users, 3 groups"
eq "restored: carol and erin are gone, alice and bob are there" "$(users)" "alice bob "
eq "restored: bob enabled again" "$(sql "$T/roles.db" "SELECT enabled FROM users WHERE name = 'bob'")" 1
eq "restored roles.db is intact" "$(sql "$T/roles.db" "PRAGMA integrity_check")" ok
eq "restored roles.db is in WAL mode" "$(sql "$T/roles.db" "PRAGMA journal_mode")" wal
new_serial=$(serial)
if [ "$new_serial" -gt "$live_serial" ]; then pass; else fail "restored serial $new_serial is not above the live $live_serial"; fi
eq "modes" "$(stat -c '%a %U' "$T/roles.db" "$T/secrets.db" "$T/state.db" | tr '\n' ' ')" "644 root 600 root 600 root "
eq "WAL files recreated, readable" "$(stat -c '%a %U' "$T/roles.db-wal" "$T/roles.db-shm" | tr '\n' ' ')" "644 root 644 root "
eq "secrets.db's WAL files recreated, root's alone" "$(stat -c '%a %U' "$T/secrets.db-wal" "$T/secrets.db-shm" | tr '\n' ' ')" "600 root 600 root "
eq "restored secrets.db is in WAL mode" "$(sql "$T/secrets.db" "PRAGMA journal_mode")" wal
eq "bob's password, only in the live secrets.db-wal, is not restored" "$(sql "$T/secrets.db" "$bob_hashed")" 0
eq "no journal left" "$(ls -a "$T" | grep -c -- '-journal$')" 0
eq "no temporary file left" "$(find "$T" -maxdepth 1 -name '.*restore*' | wc -l)" 0
run_ok "user show of a restored user" rc user show alice
run_refused 3 "user show of the user added after the backup" rc user show carol
run_ok "group show lists the restored member" rc group show devs
out_has "restored group holds alice" "alice"
run_ok "doctor after the restore" rc doctor
# (The test's ranges overlap login.defs': doctor says so, and nothing else.)
out_lacks "doctor: roles.nss is the restored roles.db's" "roles.nss"
out_lacks "doctor: nothing else to repair" "roles.db"
alice_uuid=$(sql "$T/roles.db" "SELECT uuid FROM users WHERE name = 'alice'")
eq "alice's password hash restored" "$(sql "$T/secrets.db" "SELECT count(*) FROM credentials WHERE password_hash IS NOT NULL AND user_uuid = '$alice_uuid'")" 1
run_ok "audit" rc --json audit
json_true "the restore is audited with the archive's sha256 and its counts" \
        'any(r["action"] == "restore" and "'"$sum"'" in r["detail"] and "users=2" in r["detail"] and "groups=3" in r["detail"] for r in d)'
json_true "the audit kept the rows written after the backup" \
        'any(r["action"] == "user.add" and r["target"] == "carol" for r in d)'
run_ok "a change after the restore" rc user add dave --uid 12004
eq "the change is published above the restored serial" "$(serial)" $((new_serial + 1))
# carol (12003) and erin (12005) were made after the backup: their files and processes keep their
# ids, which a restore retires as a delete does, never to be handed out again.
run_refused 4 "carol's uid is not handed out again" rc user add frank --uid 12003
err_has "carol's uid: says it was hers" "uid 12003 was the uid of 'carol'"
run_refused 4 "erin's gid is not handed out again" rc group add crew --gid 12005
run_ok "a user added after the restore" rc user add frank
eq "frank gets neither carol's nor erin's uid" "$(sql "$T/roles.db" "SELECT uid FROM users WHERE name = 'frank'")" 12006

# --json: one object like other changes.
run_ok "restore --json" rc --json restore "$T/good.tar"
json_true "restore --json answers an object" 'd["ok"] is True and d["action"] == "restore" and d["users"] == 2 and d["groups"] == 3 and d["sha256"] == "'"$sum"'"'

# state.db is optional: an archive without it restores an empty state.
mktar "$T/nostate.tar" roles.db="$T/r.db" secrets.db="$T/s.db"
run_ok "restore without state.db" rc restore "$T/nostate.tar"
eq "state.db restored empty" "$(sql "$T/state.db" "SELECT count(*) FROM tally")" 0
eq "state.db mode" "$(stat -c %a "$T/state.db")" 600

# ---- a fleet host's archive: its outbox kept on that host only ----------------------------------
# The outbox holds the login events a fleet host has not shipped yet; the fleet knows a host by the
# role its source connects as. Restored on another host, they would be shipped as that host's and
# counted twice. Nothing here connects: a source only names the role.
for h in hostA hostB; do
        { cat "$CONF"; echo "source = host=$T/no-server dbname=fleet user=$h"; } >"$T/$h.conf"
done
{ cat "$CONF"; echo "source = postgresql://hostA@localhost/fleet"; } >"$T/hostA-uri.conf"
{ cat "$CONF"; echo "source = host=$T/no-server dbname=fleet"; } >"$T/nouser.conf"
as() { local h=$1; shift; "$ROLESCTL" --conf "$T/$h.conf" "$@"; }
queue() {       # queue N: N failures of alice's in the live outbox, as PAM writes them on a fleet host
        local i
        for i in $(seq "$1"); do
                sqlite3 "$T/state.db" "INSERT INTO outbox (at, kind, user_uuid) VALUES (strftime('%s'), 'failure', '$alice_uuid')" ||
                        die "sqlite3: queue an event"
        done
}
queued() { sql "$T/state.db" "SELECT count(*) FROM outbox"; }
shipped() { sqlite3 "$T/state.db" "DELETE FROM outbox" || die "sqlite3: empty the outbox"; }

# The rest of a host's own state: whose logins, from where, it records. Host A's, in its archive.
OTHER_UUID=00000000-0000-4000-8000-00000000000b
host_state() {  # host_state NAME: a login of alice's on host NAME, tracked and audited; and a lock
        sqlite3 "$T/state.db" "DELETE FROM tracking; DELETE FROM login_audit; DELETE FROM tally;
                INSERT INTO tracking (user_uuid, last_login_at, last_login_ip, login_count) VALUES
                        ('$alice_uuid', 1, 'from-$1', 1);
                INSERT INTO login_audit (at, user, service, result) VALUES (1, 'alice', 'sshd-$1', 'success');
                INSERT INTO tally VALUES ('$2', 5, 1, 1, -1)" || die "sqlite3: host state"
}
seen_from() { sql "$T/state.db" "SELECT last_login_ip FROM tracking"; }
audited() { sql "$T/state.db" "SELECT group_concat(service) FROM login_audit"; }
locked() {
        sql "$T/state.db" "SELECT group_concat(user_uuid) FROM (SELECT user_uuid FROM tally WHERE locked_until < 0 ORDER BY 1)"
}
both_locked=$(printf '%s\n' "$alice_uuid" "$OTHER_UUID" | sort | paste -sd,)
host_state A "$alice_uuid"
queue 3
run_ok "fleet host A: backup" as hostA backup "$T/a.tar"
eq "the archive names its host" "$(tar -xOf "$T/a.tar" fleet-host)" hostA
eq "the archive begins with roles.db" "$(tar -tf "$T/a.tar" | tr '\n' ' ')" "roles.db secrets.db state.db fleet-host "
run_ok "fleet host A (source as a URI): backup" as hostA-uri backup "$T/a-uri.tar"
eq "the archive names the URI's user" "$(tar -xOf "$T/a-uri.tar" fleet-host)" hostA
run_ok "a single host: backup" rc backup "$T/single.tar"
eq "a single host's archive names no host" "$(tar -tf "$T/single.tar" | tr '\n' ' ')" "roles.db secrets.db state.db "

# Host B: its own 2 events stay queued, host A's 3 are not taken for B's. Its own login tracking
# and audit stay too, not A's; A's lock of alice is kept (fail closed), and B's own lock beside it.
shipped; queue 2
host_state B "$OTHER_UUID"
run_ok "host A's archive restored on host B" as hostB restore "$T/a.tar"
eq "host B: only its own 2 events queued" "$(queued)" 2
out_has "host B: says the archive's events are not kept" "not kept: the archive's 3 unshipped outbox events: the archive is host hostA's, not this host's (hostB)"
eq "host B: its own login tracking, not host A's" "$(seen_from)" from-B
eq "host B: its own login audit, not host A's" "$(audited)" sshd-B
eq "host B: host A's lock and its own" "$(locked)" "$both_locked"
out_has "host B: says whose login records it keeps" "kept: this host's login tracking and login audit, not the \
archive's, and its lockout tallies beside the archive's: the archive is host hostA's, not this host's (hostB)"
run_ok "audit" rc --json audit
json_true "the restore's audit names the archive's host, the events not kept, the host's state kept" \
        'any(r["action"] == "restore" and "archive_host=hostA outbox_dropped=3 host_state=live" in r["detail"]
             for r in d)'
shipped; queue 1
run_ok "restore --json on host B" as hostB --json restore "$T/a.tar"
json_true "restore --json: the archive's host, the events not kept, the host's state kept" \
        'd["archive_host"] == "hostA" and d["outbox_dropped"] == 3 and d["host_state"] == "live"'
eq "host B (--json): its own event queued" "$(queued)" 1

# Host A: its own archive's events are kept, with what its live outbox holds (as before).
shipped; queue 2
run_ok "host A's archive restored on host A" as hostA restore "$T/a.tar"
eq "host A: the archive's 3 events and the live 2 queued" "$(queued)" 5
out_lacks "host A: nothing said of its outbox" "not kept"
out_lacks "host A: nothing said of its login records" "kept: "
eq "host A (rebuilt from its own archive): its login tracking back" "$(seen_from)" from-A
eq "host A: its login audit back" "$(audited)" sshd-A
shipped; queue 1
run_ok "host A's archive restored on host A (source as a URI)" as hostA-uri restore "$T/a.tar"
eq "host A (URI): the archive's 3 events and the live one queued" "$(queued)" 4

# Fail closed: an archive that names no host (a single host's, or one of before this) is not known
# to be a fleet host's own; nor is any archive on a fleet host whose source names no user.
shipped; queue 3
run_ok "a single host: backup with 3 events queued" rc backup "$T/unnamed.tar"
shipped; queue 1
run_ok "an archive naming no host restored on host B" as hostB restore "$T/unnamed.tar"
eq "host B: only its own event queued" "$(queued)" 1
out_has "host B: says why" "not kept: the archive's 3 unshipped outbox events: the archive does not say which fleet host wrote it"
shipped; queue 1
run_ok "host A's archive on a host whose source names no user" as nouser restore "$T/a.tar"
eq "no user: only the live event queued" "$(queued)" 1
out_has "no user: says why" "this host's source names no user to compare"
shipped; queue 1
run_ok "an archive naming no host restored on a single host" rc restore "$T/unnamed.tar"
eq "a single host: the archive's events kept, as before" "$(queued)" 4
out_lacks "a single host: nothing said of its outbox" "not kept"

# A single host's archive names no host: only the administrator can say it is another machine's
# (--other-host, a clone), and then its login records stay this host's as on a fleet host.
host_state A "$alice_uuid"
run_ok "a single host: backup" rc backup "$T/single-a.tar"
host_state B "$OTHER_UUID"
run_ok "a single host: restore --other-host" rc restore --other-host "$T/single-a.tar"
eq "--other-host: this host's login tracking" "$(seen_from)" from-B
eq "--other-host: this host's login audit" "$(audited)" sshd-B
eq "--other-host: the archive's lock and this host's" "$(locked)" "$both_locked"
out_has "--other-host: says why" "kept: this host's login tracking and login audit, not the archive's, and its lockout \
tallies beside the archive's: restored with --other-host"
host_state B "$OTHER_UUID"
run_ok "a single host: restore, the archive its own" rc restore "$T/single-a.tar"
eq "without --other-host: the archive's login tracking" "$(seen_from)" from-A
eq "without --other-host: the archive's login audit" "$(audited)" sshd-A
run_refused 2 "--other-host takes no value" rc restore --other-host=yes "$T/single-a.tar"

# The fleet-host member is data too; and nothing changed by a refused archive.
printf 'host A\n' >"$T/spaced"
mktar "$T/spaced.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db="$T/st.db" fleet-host="$T/spaced"
refuse "a fleet-host that is not a role name" "$T/spaced.tar" "fleet-host does not hold a host's role name"
head -c 200 /dev/zero | tr '\0' a >"$T/long"
mktar "$T/long.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db="$T/st.db" fleet-host="$T/long"
refuse "a fleet-host too long for a role name" "$T/long.tar" "fleet-host does not hold a host's role name"
printf 'hostA' >"$T/nonl"
mktar "$T/nonl.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db="$T/st.db" fleet-host="$T/nonl"
refuse "a fleet-host without its newline" "$T/nonl.tar" "fleet-host does not hold a host's role name"
for bad in 'hostA \n' 'host\0A\n' 'hostA\r\n' 'hostA\n\n' '\n'; do
        printf "$bad" >"$T/odd"
        mktar "$T/odd.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db="$T/st.db" fleet-host="$T/odd"
        refuse "a fleet-host of $(printf '%q' "$(printf "$bad")")" "$T/odd.tar" "fleet-host does not hold a host's role name"
done
tar -xOf "$T/a.tar" fleet-host >"$T/named" || die "tar -x fleet-host"
mktar "$T/hosttwice.tar" roles.db="$T/r.db" secrets.db="$T/s.db" fleet-host="$T/named" fleet-host="$T/named"
refuse "a fleet-host twice" "$T/hosttwice.tar" "fleet-host is in it twice"
mktar "$T/hostlink.tar" roles.db="$T/r.db" secrets.db="$T/s.db" fleet-host@/etc/hostname
refuse "a fleet-host symlink" "$T/hostlink.tar" "fleet-host is a symbolic link"
eq "refused restores left the outbox" "$(queued)" 4

# PostgreSQL takes a connection's user name as it is: HOSTA is another role than hostA.
tar -xOf "$T/a.tar" state.db >"$T/a-state.db" || die "tar -x state.db"
printf 'HOSTA\n' >"$T/upper"
mktar "$T/upper.tar" roles.db="$T/r.db" secrets.db="$T/s.db" state.db="$T/a-state.db" fleet-host="$T/upper"
shipped; queue 1
run_ok "an archive of host HOSTA restored on host hostA" as hostA restore "$T/upper.tar"
out_has "host hostA: HOSTA's events not kept" "the archive is host HOSTA's, not this host's (hostA)"
eq "host hostA: only its own event queued" "$(queued)" 1

# ---- room on the databases' filesystem -----------------------------------------------------------
# A member's size is the archive header's word (a sparse archive reads as zeros, whatever its size
# on disk). The logins write on that filesystem meanwhile, and refuse a login they cannot record:
# a member that would leave less than a 32nd of it free is refused before anything is written.
need unshare
head -c $((20 << 20)) /dev/zero >"$T/big.db"
mktar "$T/big.tar" roles.db="$T/big.db" secrets.db="$T/s.db"
small() {       # small ARCHIVE: init and restore ARCHIVE with the databases on a 16 MiB tmpfs
        unshare -m --propagation private bash -c '
                mkdir -p "$1/small" && mount -t tmpfs -o size=16m,mode=0755 tmpfs "$1/small" || exit 99
                sed "s|$1/|$1/small/|" "$1/roles.conf" >"$1/small/roles.conf"
                "$2" --conf "$1/small/roles.conf" init >/dev/null || exit 98
                "$2" --conf "$1/small/roles.conf" restore "$3"' small "$T" "$ROLESCTL" "$1"
}
run_cmd small "$T/good.tar"
last_ok "a restore on a small filesystem"
run_cmd small "$T/big.tar"
eq "a member that would fill the filesystem: refused (5)" "$RC" 5
err_has "a member that would fill the filesystem: says why" \
        "roles.db (20971520 bytes) would leave less than a 32nd of its filesystem free"

# ---- a restore killed before it renamed anything ----------------------------------------------
# Killed at its first rename, its new files (whole copies of the databases, password hashes
# included, with the journals SQLite made while they were checked) stay beside the live ones: the
# next writer removes them, doctor among them, and says so.
need strace
left_aside() { find "$T" -maxdepth 1 -name '.*.db.restore-*' | wc -l; }
for settle in "group add swept" doctor; do
        # (in a $(...) of its own, whose stderr takes the shell's "Killed")
        eq "a restore killed at its first rename" "$({ strace -f -o /dev/null -e trace=rename \
                -e inject=rename:signal=KILL "$ROLESCTL" --conf "$CONF" restore "$T/good.tar" >/dev/null 2>&1
                echo $?; } 2>/dev/null)" 137
        [ "$(left_aside)" -gt 0 ] && pass || fail "a killed restore: nothing was left aside"
        run_ok "the next writer after a killed restore: $settle" rc $settle
        eq "$settle removes what the killed restore left" "$(left_aside)" 0
done
out_has "doctor says what it removed" "database copies of interrupted restores: removed"
run_ok "doctor, again" rc doctor
grep -q 'interrupted restores' "$OUT" && fail "doctor, again: still finds copies: $(head -c 300 "$OUT")" || pass

# ---- a backup killed while it writes ---------------------------------------------------------
# The archive holds every password hash: a backup killed before it is whole leaves nothing
# beside FILE (no "FILE.XXXXXX", 0600, for no one to remove), and an archive already there as it
# was. Killed at its archive's fsync (its first: every member written) and at a write inside it.
mkdir "$T/bk" || die "mkdir $T/bk"
for at in fsync:when=1 write:when=3; do
        for before in none archive; do
                rm -f "$T"/bk/* "$T"/bk/.[!.]*
                [ "$before" = archive ] && cp "$T/good.tar" "$T/bk/b.tar"
                eq "a backup killed at $at ($before before)" "$({ strace -f -o /dev/null -e trace="${at%%:*}" \
                        -e inject="$at":signal=KILL "$ROLESCTL" --conf "$CONF" backup "$T/bk/b.tar" >/dev/null 2>&1
                        echo $?; } 2>/dev/null)" 137
                if [ "$before" = archive ]; then
                        eq "a backup killed at $at: leaves the archive there as it was" \
                                "$(ls -A "$T/bk") $(cmp "$T/good.tar" "$T/bk/b.tar" && echo same)" "b.tar same"
                else
                        eq "a backup killed at $at: leaves nothing" "$(ls -A "$T/bk")" ""
                fi
        done
done
run_ok "a backup after the killed ones" rc backup "$T/bk/b.tar"
eq "a backup after the killed ones: the archive alone, 0600" "$(ls -A "$T/bk") $(stat -c %a "$T/bk/b.tar")" "b.tar 600"
run_ok "a backup over an archive" rc backup "$T/bk/b.tar"
eq "a backup over an archive: the archive alone, 0600" "$(ls -A "$T/bk") $(stat -c %a "$T/bk/b.tar")" "b.tar 600"
tar -tf "$T/bk/b.tar" >"$T/bk.list" 2>&1
eq "a backup over an archive: its members" "$(tr '\n' ' ' <"$T/bk.list")" "roles.db secrets.db state.db "

# ---- a trigger put in the live roles.db by other means (tar -x, sqlite3) ------------------------
# The writer turns triggers on for its own and refuses a roles.db that holds any other, whatever
# the schema row's type says (SQLite builds the object from its sql).
sqlite3 "$T/roles.db" "CREATE TRIGGER keep AFTER UPDATE ON users BEGIN UPDATE users SET enabled = 1 WHERE name = 'bob'; END;
        PRAGMA writable_schema = ON; UPDATE sqlite_schema SET type = 'Trigger' WHERE name = 'keep'" || die "sqlite3: a trigger"
run_refused 5 "a writer refuses a roles.db holding a trigger its schema row does not call one" rc user disable bob
err_has "a writer refuses a roles.db holding a trigger: says why" "holds triggers that rolesctl did not make"

finish
