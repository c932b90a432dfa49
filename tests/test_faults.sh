#!/bin/bash
# SPDX-License-Identifier: MIT
# Faults, end to end: damaged, missing, locked, full, read-only databases and a rolesctl killed
# mid-write, each met by the real components. PAM (pamtester) never grants; NSS (getent through
# glibc) answers UNAVAIL, so `files` still answers, and never serves an entry from a broken file;
# rolesctl exits non-zero with one line and leaves every file byte-identical and intact; a killed
# writer leaves every change whole or absent across the three files.
#
# Runs as root in a private mount namespace (tests/ns-lib.sh): /etc and /var/lib are overlays,
# /var/lib/roles a tmpfs of its own (filled up, remounted read-only). Every check is counted; the
# last line says "N passed, M failed". About a minute and a half, most of it the locks (31 s), the
# kill loop (25 s) and a writer held inside its secrets.db commit (15 s).
# ROLES_FAULTS="damaged locked disk_full read_only killed cut_short held index" picks groups.
#
#   test_faults.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
[ $# -eq 3 ] || { echo "usage: test_faults.sh ROLESCTL PAM_MODULE NSS_LIB_DIR" >&2; exit 1; }
here=$(dirname "$(realpath "$0")")
# shellcheck source=tests/ns-lib.sh
. "$here/ns-lib.sh"
ns_enter faults "$@"

R=$(realpath "$1")
P=$(realpath "$2")
L=$(realpath "$3")
need pamtester sqlite3 python3 flock runuser fallocate strace || finish
[ -f "$P" ] || die "no PAM module at $P"
[ -f "$L/libnss_roles.so.2" ] || die "no NSS module in $L"

ns_overlay etc var/lib
ns_configure $'deny = 3\nfail_interval = 900\nunlock_time = 0\n'
DB=/var/lib/roles
mkdir -m 0755 "$DB"
# A tmpfs of its own: resized and filled for the disk-full cases, remounted read-only.
mount -t tmpfs -o mode=0755,size=64m tmpfs "$DB" || die "tmpfs on $DB"

# What the rolesctl helpers of tests/lib.sh work on: rc, snapshot, unchanged, one_error, serial.
# Its snapshots live in $DB/snap.
ROLESCTL=$R CONF=/etc/roles.conf T=$DB DBS="roles.db secrets.db state.db"
OUT=$S/out ERR=$S/err RC=0

# The modules under test, where every user can read them; only the programs under test load them.
mkdir -m 0755 "$S/lib"
cp "$P" "$S/lib/pam_roles.so" && cp "$L/libnss_roles.so.2" "$S/lib/" || die "copy the modules"
chmod 0644 "$S/lib/"*
mkdir -m 0755 "$S/lib/roles" && cp "$L/roles/roles-nss-shadow.so" "$S/lib/roles/" && chmod 0644 "$S/lib/roles/"* ||
        die "copy the NSS module's shadow plugin"
preload=$(ns_sanitizer_preload "$S/lib/pam_roles.so")
modenv=(env "LD_LIBRARY_PATH=$S/lib")
[ -n "$preload" ] && modenv+=("LD_PRELOAD=$preload" "${ns_sanitizer_options[@]}")

cat >/etc/pam.d/faults <<EOF
auth     required $S/lib/pam_roles.so
account  required $S/lib/pam_roles.so permission=login.faults
session  required $S/lib/pam_roles.so
EOF

PW='Correct-Horse-9'
pw_alice='alice:x:10100:10100:Alice Archer:/home/alice:/bin/bash'
pw_root=$(grep '^root:' /etc/passwd)
gr_root=$(grep '^root:' /etc/group)
sp_root=$(grep '^root:' /etc/shadow)

# ---- running the programs under test ------------------------------------------------------------------
# cli ARGS...: rolesctl, stdin passed through; sets RC (stdout in $OUT, stderr in $ERR).
cli() {
        "$R" "$@" >"$OUT" 2>"$ERR"
        RC=$?
}
# pt PASSWORD OPS...: pamtester for $pt_user (alice) on the $pt_service (faults) service; sets
# RC and PT (all its output).
pt_user=alice pt_service=faults
pt() {
        PT=$(printf '%s\n' "$1" | timeout 60 "${modenv[@]}" pamtester "$pt_service" "$pt_user" "${@:2}" 2>&1)
        RC=$?
}
sanitizer_report() { grep -qE 'ERROR: AddressSanitizer|runtime error:' <<<"$1"; }
# granted WHAT / refused WHAT: the last pt. A refusal is pamtester's exit status 1 with the module
# loaded and no sanitizer report (a crash or a hang is another status).
granted() {
        if [ "$RC" -eq 0 ] && ! sanitizer_report "$PT"; then pass; else fail "$1: exit status $RC, want 0 ($(tr '\n' ' ' <<<"$PT" | head -c 300))"; fi
}
refused() {
        if [ "$RC" -ne 1 ] || sanitizer_report "$PT" || grep -qiE 'Module is unknown|dlopen' <<<"$PT"; then
                fail "$1: exit status $RC, want 1, a refusal ($(tr '\n' ' ' <<<"$PT" | head -c 300))"
        else
                pass
        fi
}
# ge [-u USER] DB KEY: getent with the NSS module (as USER when given); sets RC and GE.
ge() {
        local as=()
        [ "$1" = -u ] && { as=(runuser -u "$2" --); shift 2; }
        GE=$("${as[@]}" "${modenv[@]}" getent "$@" 2>"$S/ge.err")
        RC=$?
        [ -s "$S/ge.err" ] && GE="$GE [stderr: $(head -c 300 "$S/ge.err")]"
}
# answers WHAT RC OUT: the last ge.
answers() {
        if [ "$RC" -eq "$2" ] && [ "$GE" = "$3" ]; then pass; else fail "$1: exit status $RC <<$GE>>, want $2 <<$3>>"; fi
}
# nss_order roles|files: which module is asked first. "roles [NOTFOUND=return] files" tells
# UNAVAIL (files is asked next: root resolves) from NOTFOUND (the lookup stops: root does not).
nss_order() {
        sed -i -E '/^(passwd|group|shadow):/d' /etc/nsswitch.conf
        if [ "$1" = roles ]; then
                printf '%s:\troles [NOTFOUND=return] files\n' passwd group shadow >>/etc/nsswitch.conf
        else
                printf '%s:\tfiles roles\n' passwd group shadow >>/etc/nsswitch.conf
        fi
}

# ---- the databases --------------------------------------------------------------------------------------
# ro_db FILE: the URI a check opens FILE with: read-only, and with roles.db's WAL index read-only
# too, as roles' readers open it (a read-write opener would rebuild the index, and so write and
# take room on a full disk that the programs under test do not).
ro_db() { echo "file:$1?readonly_shm=1"; }
# intact FILE...: in $T, PRAGMA integrity_check says ok, read-only (a hot journal left behind is
# not ok).
intact() {
        local f v
        for f in "$@"; do
                v=$(sqlite3 -readonly "$(ro_db "$T/$f")" 'PRAGMA integrity_check' 2>&1)
                [ "$v" = ok ] || { echo "$f: integrity_check: $v"; return 1; }
        done
}
# no_leftovers: no journal, no staged snapshot and no staged index is left in $T (the WALs and WAL
# indexes of roles.db and secrets.db stay by design: unprivileged readers need roles.db's).
no_leftovers() {
        local left
        left=$(cd "$T" && ls -A | grep -E -- '-journal$|-wal$|\.stage-|^\.roles\.nss' | grep -vxE 'roles\.db-wal|secrets\.db-wal')
        [ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
base=$S/base
save_base() {
        # The WALs and WAL indexes too: writers keep them, as on a real host; and the index.
        rm -rf "$base" && mkdir "$base" && cp -a "$DB"/{roles,secrets,state}.db "$DB"/{roles,secrets}.db-{wal,shm} "$DB"/roles.nss* "$base/"
}
# restore: the directory holds exactly the saved databases again.
restore() {
        rm -rf "${DB:?}"/* "$DB"/.[!.]*
        cp -a "$base"/* "$DB/"
}
# cli_refused WHAT INTACT_FILES...: the last cli failed with one line, and changed nothing.
cli_refused() {
        local what=$1 why
        shift
        if [ "$RC" -eq 0 ] || [ "$RC" -eq 1 ]; then
                fail "$what: exit status $RC, want an error ($(head -c 300 "$ERR"))"
        elif ! one_error; then
                fail "$what: not one error line: $(head -c 400 "$ERR" | tr '\n' '|')"
        elif ! why=$(unchanged && intact "$@" && no_leftovers); then
                fail "$what: $why"
        else
                pass
        fi
}

rc init >/dev/null || die "rolesctl init"
rc batch >/dev/null <<'BATCH' || die "rolesctl batch"
role add staff --metarole user
role grant staff login.faults
role add kept --metarole user
group add devs --gid 20100
user add alice --uid 10100 --full-name "Alice Archer"
group adduser devs alice
role assign staff alice
BATCH
echo "$PW" | rc user passwd alice --stdin >/dev/null || die "rolesctl user passwd alice"
# Enough users that a write copies and rebuilds something (the kill loop's windows).
for i in $(seq 300); do echo "user add bulk$i"; done | rc batch >/dev/null || die "rolesctl batch (bulk)"
save_base
sp_alice=$("${modenv[@]}" getent shadow alice) || die "getent shadow alice"

# ---- 1. missing, unreadable, truncated, random, newer, a table gone ------------------------------------
# damage FILE FAULT
damage() {
        local f=$DB/$1
        case $2 in
        missing) rm -f "$f" ;;
        directory) rm -f "$f" && mkdir -m 0755 "$f" ;;
        mode-0600) chmod 0600 "$f" ;;
        half) truncate -s $(($(stat -c %s "$f") / 2)) "$f" ;;
        empty) truncate -s 0 "$f" ;;
        random) head -c "$(stat -c %s "$f")" /dev/urandom >"$f" ;;
        newer) case $1 in
                roles.nss*) printf '\x63\x00\x00\x00' | dd of="$f" bs=1 seek=8 conv=notrunc status=none ;;   # version 99
                *) sqlite3 "$f" "PRAGMA user_version = $(($(sqlite3 "$f" 'PRAGMA user_version') + 1))" ;;
                esac ;;
        no-*) sqlite3 "$f" "DROP TABLE ${2#no-}" ;;
        esac || die "damage $1 $2"
}

# roles.db broken: passwd and group still served (from roles.nss alone), shadow UNAVAIL (its
# plugin reads roles.db); no login; no change.
roles_db_broken() {
        local what="roles.db $1" as=()
        [ "$1" = mode-0600 ] && as=(-u nobody)       # root reads any mode
        ge "${as[@]}" passwd root; answers "$what: getent passwd root (roles.nss says NOTFOUND: no fall-through)" 2 ""
        ge "${as[@]}" passwd alice; answers "$what: getent passwd alice (from roles.nss)" 0 "$pw_alice"
        [ "$1" = mode-0600 ] && return
        ge shadow root; answers "$what: getent shadow root" 0 "$sp_root"
        ge shadow alice; answers "$what: getent shadow alice (not served)" 2 ""
        login_refused "$what"
        changes_refused "$what" secrets.db state.db
}
# roles.nss broken: nothing of passwd and group is served (root still is, by files); shadow
# still is (its plugin reads the databases); the next change compiles a new index in its place.
roles_nss_broken() {
        local what="$1 $2" as=()
        [ "$2" = mode-0600 ] && as=(-u nobody)       # root reads any mode
        ge "${as[@]}" passwd root; answers "$what: getent passwd root (UNAVAIL: on to files)" 0 "$pw_root"
        ge "${as[@]}" group root; answers "$what: getent group root" 0 "$gr_root"
        ge "${as[@]}" passwd alice; answers "$what: getent passwd alice (not served)" 2 ""
        ge "${as[@]}" passwd 10100; answers "$what: getent passwd 10100" 2 ""
        ge "${as[@]}" group devs; answers "$what: getent group devs" 2 ""
        [ "$2" = mode-0600 ] && return
        ge shadow alice; answers "$what: getent shadow alice (from the databases)" 0 "$sp_alice"
        [ "$2" = directory ] && rm -rf "${DB:?}/$1"
        cli user add carol
        [ "$RC" -eq 0 ] && pass || fail "$what: rolesctl user add carol: exit status $RC ($(head -c 300 "$ERR"))"
        ge passwd alice; answers "$what, after a change: getent passwd alice" 0 "$pw_alice"
}
# secrets.db or state.db broken: passwd and group still served (from roles.db alone), shadow
# UNAVAIL, no login, no change.
side_db_broken() {
        local what="$1 $2" others
        others=$(tr ' ' '\n' <<<"$DBS" | grep -vx "$1" | tr '\n' ' ')
        ge passwd alice; answers "$what: getent passwd alice (roles.db is fine)" 0 "$pw_alice"
        ge shadow root; answers "$what: getent shadow root (UNAVAIL: on to files)" 0 "$sp_root"
        ge shadow alice; answers "$what: getent shadow alice (not served)" 2 ""
        login_refused "$what"
        # shellcheck disable=SC2086
        changes_refused "$what" $others
}
login_refused() {
        pt "$PW" authenticate; refused "$1: auth, right password"
        pt wrong-password authenticate; refused "$1: auth, wrong password"
        pt "" acct_mgmt; refused "$1: account"
}
# changes_refused WHAT INTACT_FILES...: writes fail, change nothing (a broken file included: a
# directory in a file's place stays an empty directory) and leave the intact files intact.
changes_refused() {
        local what=$1 DBS f
        shift
        DBS=$(cd "$DB" && for f in roles.db secrets.db state.db; do [ -f "$f" ] && echo "$f"; done)
        snapshot
        cli user add carol; cli_refused "$what: rolesctl user add" "$@"
        cli user passwd alice --stdin <<<'New-Password-1'; cli_refused "$what: rolesctl user passwd" "$@"
        for f in roles.db secrets.db state.db; do
                [ ! -d "$DB/$f" ] || [ -z "$(ls -A "$DB/$f")" ] || fail "$what: the directory in $f's place was written to"
        done
}

faults_damaged() {
        local fault
        nss_order roles
        ge passwd alice; answers "intact: getent passwd alice" 0 "$pw_alice"
        ge passwd root; answers "intact: getent passwd root (roles says NOTFOUND: no fall-through)" 2 ""
        pt "$PW" authenticate acct_mgmt; granted "intact: auth and account"
        for fault in missing directory mode-0600 half empty random newer no-users no-metarole_closure; do
                restore
                damage roles.db "$fault"
                roles_db_broken "$fault"
        done
        for f in roles.nss roles.nss-delta; do
                for fault in directory mode-0600 half empty random newer; do
                        restore
                        damage "$f" "$fault"
                        roles_nss_broken "$f" "$fault"
                done
        done
        restore
        damage roles.nss missing
        roles_nss_broken roles.nss missing
        for fault in missing directory half empty random newer no-credentials; do
                restore
                damage secrets.db "$fault"
                side_db_broken secrets.db "$fault"
        done
        for fault in missing directory half empty random newer no-tally no-login_audit; do
                restore
                damage state.db "$fault"
                side_db_broken state.db "$fault"
        done
        restore
        nss_order files
}

# ---- 2. a lock held for a minute -------------------------------------------------------------------------
# Three copies of the databases, each with its own configuration, PAM service and one lock held
# on it: an exclusive SQLite lock on state.db, one on secrets.db, the writers' flock on
# roles.db.lock. Every client runs at once, so the case costs one wait, not nine.
HOLD=60
lock_set() {
        local d=/var/lib/roles-$1
        mkdir -m 0755 "$d" && cp -a "$base"/* "$d/" || die "lock set $1"
        { cat /etc/roles.conf; printf '%s_db = %s/%s.db\n' public "$d" roles secrets "$d" secrets state "$d" state; } \
                >"/etc/roles-$1.conf"
        sed "s|pam_roles.so|pam_roles.so conf=/etc/roles-$1.conf|" /etc/pam.d/faults >"/etc/pam.d/faults-$1"
}
# hold NAME sqlite|sqlite-reserved DB | hold NAME flock FILE: one process takes the lock (SQLite's
# exclusive lock, or its reserved one: others read, none writes), touches $S/lk/NAME.held and
# keeps the lock $HOLD s (or until it is killed).
declare -A holder
hold() {
        local name=$1 how=$2 file=$3 _
        if [ "$how" = sqlite ] || [ "$how" = sqlite-reserved ]; then
                python3 -c 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE" if sys.argv[4] == "sqlite-reserved" else "BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))' "$file" "$S/lk/$name.held" "$HOLD" "$how" &
        else
                (exec 9>>"$file" && flock -x 9 && touch "$S/lk/$name.held" && exec sleep "$HOLD") &
        fi
        holder[$name]=$!
        for _ in $(seq 100); do [ -e "$S/lk/$name.held" ] && return; sleep 0.1; done
        die "the $name lock was not taken"
}
# write_locked DB: another process holds DB's write lock (a write that does not wait is refused).
write_locked() {
        ! python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("ROLLBACK")' "$1" 2>/dev/null
}
# client NAME INPUT COMMAND...: in the background, with the line INPUT on stdin; stdout+stderr in
# $S/lk/NAME.out (stderr alone in NAME.err), "STATUS MILLISECONDS" in NAME.rc.
client() {
        local name=$1 input=$2
        shift 2
        (
                start=$(date +%s%N)
                "$@" <<<"$input" >"$S/lk/$name.out" 2>"$S/lk/$name.err"
                rc=$?
                cat "$S/lk/$name.err" >>"$S/lk/$name.out"
                echo "$rc $(( ($(date +%s%N) - start) / 1000000 ))" >"$S/lk/$name.rc"
        ) &
        client_pid[$name]=$!
}
declare -A client_pid
# result NAME: RC, MS (how long it took), PT (its output), ERR (its stderr file).
result() {
        read -r RC MS <"$S/lk/$1.rc"
        PT=$(cat "$S/lk/$1.out")
        ERR=$S/lk/$1.err
}
# within NAME MAX_SECONDS: the client returned in time (and did not hang).
within() {
        result "$1"
        echo "# $1: $((MS / 1000)).$(printf %03d $((MS % 1000))) s"
        [ "$MS" -lt $(($2 * 1000)) ] && pass || fail "$1: took $MS ms, want under $2 s"
}

# A lock that racing wrong passwords set while a right one's argon2 ran: the right one read the
# tally before (unlocked) and is refused at the gate it passes after, which waits for the writes
# in progress. Here one process holds state.db's write lock, then locks alice, while the login waits.
lock_while_verifying() {
        restore
        rm -f "$S/lk/gate.held"
        python3 -c 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(1.5)
db.execute("INSERT INTO tally (user_uuid, failures, first_failure_at, last_failure_at, locked_until) "
           "VALUES (?, 3, strftime(\"%s\"), strftime(\"%s\"), -1)", (sys.argv[3],))
db.execute("COMMIT")' "$DB/state.db" "$S/lk/gate.held" "$(sqlite3 -readonly "$(ro_db "$DB/roles.db")" "SELECT uuid FROM users WHERE name = 'alice'")" &
        local holder=$! _
        for _ in $(seq 100); do [ -e "$S/lk/gate.held" ] && break; sleep 0.05; done
        pt "$PW" authenticate; refused "auth, right password, locked by others while it was verified"
        wait "$holder" && pass || fail "the locking process failed"
        eq "the lock stays" "$(sqlite3 -readonly "$DB/state.db" "SELECT locked_until FROM tally")" -1
        restore
}

faults_locked() {
        local set name op c why
        mkdir -p "$S/lk"
        lock_while_verifying
        for set in lk-state lk-secrets lk-writer lk-reserved lk-changing; do
                lock_set "$set"
        done
        # A reset code typed while state.db can be read but not written: refused at the gate, and
        # not spent by that refusal.
        local code
        code=$("$R" --conf /etc/roles-lk-reserved.conf user reset alice | grep -oE '[A-Z2-7]{5}(-[A-Z2-7]{5}){3}')
        [ -n "$code" ] || die "user reset alice (lk-reserved)"
        hold reserved sqlite-reserved /var/lib/roles-lk-reserved/state.db
        hold state sqlite /var/lib/roles-lk-state/state.db
        hold secrets sqlite /var/lib/roles-lk-secrets/secrets.db
        hold writer flock /var/lib/roles-lk-writer/roles.db.lock
        for set in lk-state lk-secrets lk-writer; do
                T=/var/lib/roles-$set snapshot
                c="/etc/roles-$set.conf"
                client "$set-add" "" "$R" --conf "$c" user add carol
                client "$set-auth" "$PW" "${modenv[@]}" pamtester "faults-$set" alice authenticate
                client "$set-wrong" wrong-password "${modenv[@]}" pamtester "faults-$set" alice authenticate
                client "$set-getent" "" env ROLES_CONF="$c" "${modenv[@]}" getent passwd alice
        done
        client lk-reserved-code "$code" "${modenv[@]}" pamtester faults-lk-reserved alice authenticate
        # A change in progress (a batch still reading its input) holds secrets.db's write lock from
        # its start to its commit. A login whose hash is below the configured cost (raised here)
        # would upgrade it: that upgrade waits for no writer, and the login goes on without it.
        sed -i 's/^argon2_t_cost = 1$/argon2_t_cost = 2/' /etc/roles-lk-changing.conf
        mkfifo "$S/lk/changing.in"
        "$R" --conf /etc/roles-lk-changing.conf batch <"$S/lk/changing.in" >/dev/null 2>&1 &
        holder[changing]=$!
        exec {changing_in}>"$S/lk/changing.in"
        echo "group add held" >&"$changing_in"
        # (Begun once secrets.db's write lock is taken: a write that does not wait is refused.)
        for _ in $(seq 100); do write_locked /var/lib/roles-lk-changing/secrets.db && break; sleep 0.1; done
        write_locked /var/lib/roles-lk-changing/secrets.db || die "the batch did not begin its change"
        client lk-changing-auth "$PW" "${modenv[@]}" pamtester faults-lk-changing alice authenticate
        # Two writers of one set would queue on the writers' lock (the second waiting for the first):
        # a second one starts when the first is done, except where that lock is the one held.
        client lk-writer-passwd New-Password-1 "$R" --conf /etc/roles-lk-writer.conf user passwd alice --stdin
        wait "${client_pid[lk-state-add]}" "${client_pid[lk-secrets-add]}"
        for set in lk-state lk-secrets; do
                client "$set-passwd" New-Password-1 "$R" --conf "/etc/roles-$set.conf" user passwd alice --stdin
        done
        wait "${client_pid[@]}"
        for name in state secrets writer reserved; do
                kill -0 "${holder[$name]}" 2>/dev/null && pass || fail "the $name lock ended before its clients did"
        done

        # A locked state.db or secrets.db: writes give up after the store's busy wait, about 10 s
        # of short sleeps (counted, so longer on a loaded machine: 15 s was seen), and so do
        # logins, which write state.db. secrets.db is in WAL mode: its lock held keeps writers
        # out, never a login, which only reads it here.
        for set in lk-state lk-secrets; do
                for op in add passwd; do
                        within "$set-$op" 20
                        [ "$RC" -gt 1 ] && one_error && grep -q 'locked' "$ERR" && pass || fail "$set-$op: exit status $RC, stderr <<$(cat "$ERR")>>"
                done
        done
        within lk-state-auth 20; refused "lk-state: auth, right password, while locked"
        within lk-state-wrong 20; refused "lk-state: auth, wrong password, while locked"
        within lk-secrets-auth 5; granted "lk-secrets: auth, right password, while secrets.db is locked"
        within lk-secrets-wrong 5; refused "lk-secrets: auth, wrong password, while secrets.db is locked"
        within lk-reserved-code 20; refused "lk-reserved: auth with a reset code while state.db cannot be written"
        # The writers' lock: rolesctl gives up after its own wait (30 s); logins never take that lock.
        for op in add passwd; do
                within "lk-writer-$op" 35
                [ "$RC" -gt 1 ] && one_error && grep -q 'try again' "$ERR" && pass || fail "lk-writer-$op: exit status $RC, stderr <<$(cat "$ERR")>>"
        done
        within lk-writer-auth 5; granted "lk-writer: auth, right password, while a writer holds the lock"
        within lk-changing-auth 5; granted "lk-changing: auth, right password, its hash not upgraded during a change"
        exec {changing_in}>&-
        wait "${holder[changing]}" && pass || fail "lk-changing: the batch failed"
        unset "holder[changing]"
        pt_service=faults-lk-changing pt "$PW" authenticate; granted "lk-changing: auth once the change is done"
        eq "lk-changing: the hash upgraded then" "$(sqlite3 /var/lib/roles-lk-changing/secrets.db \
                "SELECT count(*) FROM credentials WHERE password_hash LIKE '%t=2%'")" 1
        within lk-writer-wrong 5; refused "lk-writer: auth, wrong password, while a writer holds the lock"
        # Readers never wait for a writer (roles.db in WAL mode): names resolve whatever is locked.
        for set in lk-state lk-secrets lk-writer; do
                within "$set-getent" 2
                eq "$set: getent passwd alice while locked" "$RC $PT" "0 $pw_alice"
        done

        for name in state secrets writer reserved; do
                kill "${holder[$name]}" && wait "${holder[$name]}" 2>/dev/null
        done
        pt_service=faults-lk-reserved pt "$code" authenticate
        granted "lk-reserved: the reset code, not spent by the login refused while state.db was locked, works after"
        # Released: nothing changed but the failure counted where state.db was free, and everything works
        # again.
        for set in lk-writer lk-secrets; do
                eq "$set: the wrong password was recorded" \
                        "$(sqlite3 "/var/lib/roles-$set/state.db" "SELECT count(*) FROM login_audit WHERE result = 'failure'")" 1
        done
        for set in lk-state lk-secrets lk-writer; do
                T=/var/lib/roles-$set
                [ $set != lk-state ] && DBS="roles.db secrets.db"
                why=$(unchanged && intact roles.db secrets.db state.db) && pass || fail "$set: after the locks: $why"
                DBS="roles.db secrets.db state.db"
                "$R" --conf "/etc/roles-$set.conf" user add carol >/dev/null && pass || fail "$set: user add after the lock"
                pt_service=faults-$set pt "$PW" authenticate; granted "$set: auth after the lock"
        done
        T=$DB
}

# ---- 3. disk full ----------------------------------------------------------------------------------------
# fill_to KIB: a filler file leaves KIB KiB free on the databases' tmpfs.
fill_to() {
        rm -f "$DB/filler"
        local free
        free=$(stat -f -c '%a * %S' "$DB")
        fallocate -l $((free - $1 * 1024)) "$DB/filler" || die "fill $DB to $1 KiB"
}
# write_when_full KIB USER INPUT COMMAND...: with KIB KiB free, the write (INPUT on its stdin)
# either succeeds whole (USER in roles.db with a secrets row) or fails with one line and changes
# nothing.
write_when_full() {
        local kib=$1 user=$2 input=$3 why
        shift 3
        restore
        snapshot
        fill_to "$kib"
        cli "$@" <<<"$input"
        if [ "$RC" -ne 0 ]; then
                cli_refused "$kib KiB free: rolesctl $*" roles.db secrets.db state.db
        elif ! why=$(intact roles.db secrets.db state.db && no_leftovers && complete "$user"); then
                fail "$kib KiB free: rolesctl $* succeeded, but: $why"
        else
                pass
        fi
        [ "$RC" -eq 0 ] && full_ok=$((full_ok + 1)) || full_refused=$((full_refused + 1))
}
# complete USER: in roles.db with a secrets row (a password hash when set).
complete() {
        local uuid
        uuid=$(sqlite3 -readonly "$(ro_db "$DB/roles.db")" "SELECT uuid FROM users WHERE name = '$1'")
        [ -n "$uuid" ] || { echo "$1 is not in roles.db"; return 1; }
        [ "$(sqlite3 -readonly "$DB/secrets.db" "SELECT count(*) FROM credentials WHERE user_uuid = '$uuid'")" = 1 ] ||
                { echo "$1 has no secrets row"; return 1; }
}
# tally: alice's failure count.
tally() {
        sqlite3 -readonly "$DB/state.db" "SELECT coalesce(sum(failures), 0) FROM tally"
}
faults_disk_full() {
        local roles_kib kib why
        # Every 4 KiB page from nothing free to more than a change needs (its pages in roles.db's
        # WAL, the side files' journals; up to the size of roles.db, which older writers copied
        # whole): each step fails somewhere else.
        roles_kib=$(($(stat -c %s "$base/roles.db") / 1024))
        full_ok=0 full_refused=0
        for kib in 0 4 8 16 32 $(seq $((roles_kib - 8)) 4 $((roles_kib + 96))); do
                write_when_full "$kib" carol "$PW" user add carol --password-stdin
                write_when_full "$kib" carol $'group add crew\nuser add carol --group crew\nrole assign kept carol' batch
                write_when_full "$kib" alice New-Password-1 user passwd alice --stdin
        done
        echo "# disk full: $full_refused writes refused cleanly, $full_ok completed (roles.db is $roles_kib KiB)"
        [ "$full_refused" -gt 0 ] && [ "$full_ok" -gt 0 ] && pass || fail "disk full: the steps did not cross the limit"

        # Logins: a failure that cannot be counted is still a refusal, and while no failure can be
        # counted no password succeeds either (guessing would be unlimited); account writes nothing.
        restore
        snapshot
        fill_to 0
        pt wrong-password authenticate; refused "disk full: auth, wrong password"
        pt "$PW" authenticate; refused "disk full: auth, right password (failures cannot be counted)"
        pt "" acct_mgmt; granted "disk full: account (reads only)"
        why=$(unchanged && intact roles.db secrets.db state.db && no_leftovers) && pass || fail "disk full: logins: $why"
        # A count from before the disk filled that cannot be cleared.
        restore
        pt wrong-password authenticate; refused "a failure counted"
        eq "the failure is counted" "$(tally)" 1
        snapshot
        fill_to 0
        pt "$PW" authenticate; refused "disk full: auth, right password (the count cannot be cleared)"
        why=$(unchanged && intact roles.db secrets.db state.db && no_leftovers) && pass || fail "disk full: a count kept: $why"
        # Every fill level, in both journal modes (DESIGN.md allows WAL for state.db, where a rolled
        # back transaction would never have written anything): wherever a wrong password could not
        # be counted, the right one is refused too. Not vacuous: in each mode some levels count the
        # wrong password and some cannot.
        local mode counted uncounted before
        for mode in delete wal; do
                counted=0 uncounted=0
                for kib in $(seq 0 4 96); do
                        restore
                        [ "$(sqlite3 "$DB/state.db" "PRAGMA journal_mode = $mode")" = "$mode" ] || die "journal_mode $mode"
                        # Counted with room to read: in WAL mode a reader needs room for the -shm file.
                        before=$(tally)
                        fill_to "$kib"
                        pt wrong-password authenticate; refused "$mode, $kib KiB free: auth, wrong password"
                        rm -f "$DB/filler"
                        if [ "$(tally)" -gt "$before" ]; then
                                counted=$((counted + 1))
                        else
                                uncounted=$((uncounted + 1))
                                fill_to "$kib"
                                pt "$PW" authenticate; refused "$mode, $kib KiB free: auth, right password, while a wrong one went uncounted"
                        fi
                done
                echo "# disk full, $mode journal: the wrong password counted at $counted levels, not at $uncounted"
                [ "$counted" -gt 0 ] && [ "$uncounted" -gt 0 ] && pass || fail "disk full, $mode journal: the levels did not cross the limit"
        done
        # Space again: everything works, nothing was lost.
        restore
        rm -f "$DB/filler"
        pt "$PW" authenticate; granted "space again: auth, right password"
        eq "space again: the count is cleared" "$(tally)" 0
        pt wrong-password authenticate; refused "space again: auth, wrong password"
        eq "space again: the failure is counted" "$(tally)" 1
        cli user add carol --password-stdin <<<"$PW"
        why=$(intact roles.db secrets.db state.db && no_leftovers && complete carol) && pass || fail "space again: user add: $why"
}

# ---- 4. a read-only filesystem ------------------------------------------------------------------------
# A real deployment (a read-only /var): names resolve and reads work; changes are refused; no
# password succeeds, since no failure could be counted (DESIGN.md: fail closed); account, which
# writes nothing, still answers.
faults_read_only() {
        local why
        restore
        snapshot
        mount -o remount,ro "$DB" || die "remount $DB read-only"
        cli user add carol; cli_refused "read-only: rolesctl user add" roles.db secrets.db state.db
        cli user passwd alice --stdin <<<New-Password-1; cli_refused "read-only: rolesctl user passwd" roles.db secrets.db state.db
        cli batch <<<'group add crew'; cli_refused "read-only: rolesctl batch" roles.db secrets.db state.db
        cli user unlock alice; cli_refused "read-only: rolesctl user unlock" roles.db secrets.db state.db
        cli check alice login.faults; eq "read-only: rolesctl check" "$RC" 0
        cli user show alice; eq "read-only: rolesctl user show" "$RC $(grep -c "^name  *alice$" "$OUT")" "0 1"
        ge passwd alice; answers "read-only: getent passwd alice" 0 "$pw_alice"
        ge group devs; answers "read-only: getent group devs" 0 "devs:x:20100:alice"
        ge -u nobody passwd alice; answers "read-only: getent passwd alice as nobody" 0 "$pw_alice"
        pt "$PW" authenticate; refused "read-only: auth, right password (failures cannot be counted)"
        pt wrong-password authenticate; refused "read-only: auth, wrong password"
        pt "" acct_mgmt; granted "read-only: account (reads only)"
        pt "" open_session; refused "read-only: session (the login cannot be recorded)"
        why=$(unchanged && intact roles.db secrets.db state.db && no_leftovers) && pass || fail "read-only: $why"
        mount -o remount,rw "$DB" || die "remount $DB read-write"
        pt "$PW" authenticate acct_mgmt; granted "read-write again: auth and account"
        cli user add carol --password-stdin <<<"$PW"
        why=$(intact roles.db secrets.db state.db && no_leftovers && complete carol) && pass || fail "read-write again: user add: $why"
}

# ---- 5. rolesctl killed mid-write ----------------------------------------------------------------------
# One account goes round and round: added by a batch (user, personal group, a second group, the
# membership, a role), given a password (secrets.db alone), deleted by a batch (its secrets and
# state purged after the publish). Each step is a rolesctl killed with SIGKILL after a random
# delay; whatever the step had reached, the next check sees the state before it or after it,
# in every file at once, and a later rolesctl carries on.
KILLS=300
KILL_BUDGET=120         # seconds; the loop stops there even short of KILLS (then it fails)
add_batch=$'user add kuser\ngroup add kgrp\ngroup adduser kgrp kuser\nrole assign kept kuser'
del_batch=$'user del kuser\ngroup del kgrp'
# probe: one line "integrity|pieces|users without secrets|orphan secrets|kuser's hash", with every
# journal a kill left behind rolled back first, and roles.db's WAL recovered (committed frames
# in, the rest ignored), as the next opener of the file would.
probe() {
        local main="(SELECT group_concat(integrity_check) FROM pragma_integrity_check)"
        sqlite3 "$DB/roles.db" "ATTACH '$DB/secrets.db' AS s; ATTACH '$DB/state.db' AS st;
SELECT $main
    || (SELECT group_concat(integrity_check) FROM s.pragma_integrity_check)
    || (SELECT group_concat(integrity_check) FROM st.pragma_integrity_check),
  (SELECT count(*) FROM users WHERE name = 'kuser') + (SELECT count(*) FROM groups WHERE name IN ('kuser', 'kgrp'))
    + (SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id
       WHERE g.name = 'kgrp' AND u.name = 'kuser')
    + (SELECT count(*) FROM role_assignments a JOIN users u ON u.id = a.user_id WHERE u.name = 'kuser'),
  (SELECT count(*) FROM users WHERE uuid NOT IN (SELECT user_uuid FROM s.credentials)),
  (SELECT count(*) FROM s.credentials WHERE user_uuid NOT IN (SELECT uuid FROM users)),
  (SELECT coalesce(c.password_hash, '') FROM s.credentials c JOIN users u ON u.uuid = c.user_uuid WHERE u.name = 'kuser');"
}
# run_killed INPUT COMMAND...: rolesctl with INPUT on stdin, killed after 0..$kill_max_ms ms
# unless done by then; sets KILLED (true/false). The range follows how long a write takes (an
# ASan build, a loaded machine): it shrinks after a write that finished first and grows after a
# kill, so that about two kills in three land somewhere in the write, from start to exit.
run_killed() {
        local input=$1 pid st
        shift
        "$R" "$@" <<<"$input" >/dev/null 2>"$S/killed.err" &
        pid=$!
        sleep_ms $((RANDOM % (kill_max_ms + 1)))
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null     # (and no "Killed" notice from the shell)
        st=$?
        KILLED=false
        case $st in
        0) kill_max_ms=$((kill_max_ms - kill_max_ms / 8)) ;;
        137) KILLED=true kill_max_ms=$((kill_max_ms + kill_max_ms / 16 + 1)) ;;
        *) fail "rolesctl $*: exit status $st before the kill: $(head -c 300 "$S/killed.err")" ;;
        esac
}
# sleep_ms N: a read that times out on a pipe nobody writes to; a fork of sleep(1) would take
# longer than most of the delays.
exec {never}<> <(:)
sleep_ms() {
        read -r -t "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))" -u "$never" _
}
# landed STEP PIECES HASH: "yes" (the step's change is there, whole: all five pieces of kuser
# added or gone, a new hash), "no" (nothing of it), or "pieces".
landed() {
        local whole=5 none=0
        case $1 in
        passwd) [ "$3" != "$hash" ] && echo yes || echo no; return ;;
        del) whole=0 none=5 ;;
        esac
        if [ "$2" = "$whole" ]; then echo yes; elif [ "$2" = "$none" ]; then echo no; else echo pieces; fi
}
faults_killed() {
        local step=add gen=0 hash='' new_hash integrity pieces unsecret orphans stages what kills=0 start=$SECONDS
        local failed_before=$FAILED
        local -A before=() after=() done=()
        restore
        kill_max_ms=20
        while [ "$kills" -lt "$KILLS" ] && [ $((SECONDS - start)) -lt "$KILL_BUDGET" ]; do
                case $step in
                add) run_killed "$add_batch" batch ;;
                passwd) run_killed "Kill-Pass-$((gen + 1))" user passwd kuser --stdin ;;
                del) run_killed "$del_batch" batch ;;
                esac
                $KILLED && kills=$((kills + 1))
                IFS='|' read -r integrity pieces unsecret orphans new_hash <<<"$(probe)"
                stages=$(find "$DB" -maxdepth 1 -name '.roles.db.stage-*' | wc -l)
                LANDED=$(landed "$step" "$pieces" "$new_hash")
                what="after $($KILLED && echo "a killed ")$step"
                if [ "$integrity" != okokok ]; then
                        fail "$what: integrity: $integrity"
                elif [ "$unsecret" != 0 ]; then
                        fail "$what: $unsecret users without a secrets row"
                elif [ "$stages" -gt 1 ]; then
                        # The next writer removes what a killed one staged: copies never pile up.
                        fail "$what: $stages staged copies left"
                elif [ "$LANDED" = pieces ] || { ! $KILLED && [ "$LANDED" = no ]; }; then
                        fail "$what: kuser is in pieces ($pieces of 5), or a finished step is missing"
                else
                        pass
                fi
                [ "$FAILED" -eq "$failed_before" ] || break
                if ! $KILLED; then
                        done[$step]=$((${done[$step]:-0} + 1))
                elif [ "$LANDED" = yes ]; then
                        after[$step]=$((${after[$step]:-0} + 1))
                else
                        before[$step]=$((${before[$step]:-0} + 1))
                fi
                [ "$LANDED" = yes ] || continue
                case $step in
                add) step=passwd ;;
                passwd)
                        gen=$((gen + 1))
                        hash=$new_hash
                        # The hash is the new password's, whole.
                        pt_user=kuser pt "Kill-Pass-$gen" authenticate
                        granted "$what: the new password works"
                        step=del ;;
                del) step=add hash='' ;;
                esac
        done
        echo "# kill loop: $kills kills in $((SECONDS - start)) s (kills after 0-$kill_max_ms ms at the end); orphan secrets rows left: $orphans"
        for step in add passwd del; do
                echo "#   $step: killed before it landed ${before[$step]:-0}, killed after ${after[$step]:-0}, finished first ${done[$step]:-0}"
        done
        [ "$kills" -ge "$KILLS" ] && pass || fail "only $kills kills in ${KILL_BUDGET} s"
        [ $((${before[add]:-0} + ${before[del]:-0})) -gt 0 ] && [ $((${after[add]:-0} + ${after[del]:-0})) -gt 0 ] && pass ||
                fail "the kills did not land both before and after a publish"
        kill_settle "$orphans"
}
# kill_settle ORPHANS: doctor finds only what the kills may leave (staged copies, orphan rows;
# or nothing, when every kill landed where it leaves neither), and afterwards nothing.
kill_settle() {
        local stages unexpected
        stages=$(find "$DB" -maxdepth 1 -name '.roles.db.stage-*' | wc -l)
        cli doctor
        eq "doctor after the kills" "$RC" 0
        unexpected=$(grep -vE '^[0-9]+ staged snapshots? of interrupted writers: removed$|^[0-9]+ NSS index files? written aside by interrupted writers: removed$|^(secrets|state)\.db row of uuid [0-9a-f-]+ belongs to no user: removed$|^a change interrupted before it published snapshot [0-9]+: its secrets\.db part undone$|^no problems found$' "$OUT")
        eq "doctor finds only staged copies and orphan rows" "$unexpected" ""
        eq "doctor removes the staged copy left" "$(grep -oE '^[0-9]+ staged' "$OUT" | grep -oE '[0-9]+' || echo 0)" "$stages"
        # (Unless doctor undid a change that a kill cut short between its commit and its rename:
        # a user that change added then has no secrets row left to remove.)
        if grep -q '^a change interrupted' "$OUT"; then
                [ "$(grep -c '^secrets\.db row' "$OUT")" -le "$1" ] && pass || fail "doctor removes more orphan rows than were left"
        else
                eq "doctor removes the orphan secrets rows" "$(grep -c '^secrets\.db row' "$OUT")" "$1"
        fi
        cli doctor
        eq "doctor, again" "$RC $(cat "$OUT")" "0 no problems found"
        echo "# kill loop: doctor removed $stages staged copies and $1 orphan secrets rows"
}

# ---- 6. a change cut short between its two commits ----------------------------------------------------
# secrets.db commits before roles.db's COMMIT, which publishes the change. A batch that changes
# alice's public fields and her secrets (shell, email, TOTP) and adds carol is stopped by strace
# in roles.db's commit, its commit frame written but the fsync after it not made and the WAL
# index not told: held there (readers go on, in the old state) and then killed, with no other
# reader (the next opener recovers the WAL and finds the commit), or killed there while a reader
# holds the WAL index (nobody sees the commit; the next writer undoes the change and publishes
# over it, and the change must not come back once everyone has closed); or that fsync fails (EIO).
# Every reader (rolesctl, getent, pamtester) sees the whole change or none of it, before and
# after the next writer settles what was left; nothing of an unpublished change stays anywhere.
cut_batch=$'user mod alice --shell /bin/zsh --email new@example.org\nuser totp enroll alice\nuser add carol'
old_state='/bin/bash old@example.org no absent'
new_state='/bin/zsh new@example.org yes present'
# seen: "SHELL EMAIL TOTP CAROL" as rolesctl and getent read them; the two must agree.
seen() {
        local show nss carol=absent
        show=$("$R" user show alice 2>&1)
        ge passwd alice
        nss=$(cut -d: -f7 <<<"$GE")
        ge passwd carol
        [ "$RC" -eq 0 ] && carol=present
        [ "$nss" = "$(awk '$1 == "shell" { print $2 }' <<<"$show")" ] || echo "getent and rolesctl disagree: $nss"
        echo "$(awk '$1 == "shell" || $1 == "email" || $1 == "totp" { printf "%s ", $2 }' <<<"$show")$carol"
}
# The secrets.db bookkeeping: "UNPUBLISHED_MARKS BEFORE_IMAGES ORPHAN_SECRETS CAROL_AUDIT_ROWS"
# (a mark is unpublished when its serial is above roles.db's; carol's audit rows are two, her
# user and her personal group, not counting those of an undone change, marked "undone:"). A
# published change's images wait for the next writer. (Read-only: a read-write opener of
# roles.db would recover its WAL, and the case with a reader holding the index must not.)
bookkeeping() {
        sqlite3 -readonly "$DB/roles.db" "ATTACH 'file:$DB/secrets.db?mode=ro' AS s;
SELECT (SELECT count(*) FROM s.publishing WHERE serial > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'serial'))
    || ' ' || (SELECT count(*) FROM s.before_users) || ' '
    || (SELECT count(*) FROM s.credentials WHERE user_uuid NOT IN (SELECT uuid FROM users)) || ' '
    || (SELECT count(*) FROM s.audit WHERE target = 'carol' AND action NOT LIKE 'undone:%');"
}
# marked: secrets.db's mark of a change in flight (0: none).
marked() { sqlite3 -readonly "$DB/secrets.db" "SELECT coalesce(max(serial), 0) FROM publishing"; }
# cut_setup WHAT: the base, with alice's email set.
cut_setup() {
        restore
        cli user mod alice --email old@example.org
        eq "$1: the email set" "$RC" 0
}
# cut_run STRACE_ARGS...: the batch under strace; sets RC. (An ASan build's leak checker cannot
# run under ptrace: it would turn the exit status into 1.)
cut_run() {
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
                strace -f -o /dev/null "$@" "$R" batch <<<"$cut_batch" >"$OUT" 2>"$ERR"
        RC=$?
}
# On roles.db's WAL, its fsync: made once per commit (synchronous=FULL), after the commit frame.
at_commit=(-P "$DB/roles.db-wal" -e trace=fsync,fdatasync)
# alice_logs_in WHAT yes|no: her password alone logs her in while TOTP is not enrolled; with it
# enrolled, the code prompt gets nothing and refuses.
alice_logs_in() {
        pt "$PW" authenticate
        if [ "$2" = yes ]; then granted "$1: alice's password alone"; else refused "$1: alice's password alone (TOTP enrolled)"; fi
}
# next_writer WHAT STATE: another change settles what was left; STATE stays, and doctor is content.
next_writer() {
        cli group add "cut$RANDOM"
        eq "$1: the next change" "$RC" 0
        eq "$1: seen after the next change" "$(seen)" "$2"
        cli doctor
        eq "$1: doctor after the next change" "$RC $(cat "$OUT")" "0 no problems found"
}
# kill_held WHAT PID: the rolesctl under the strace of PID, held in an injected delay, is killed
# (and strace, which would sit out the rest of its delay).
kill_held() {
        local child= tracer p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = rolesctl ] && ns_descends "${p#/proc/}" "$2" && child=${p#/proc/}
        done
        [ -n "$child" ] && pass || fail "$1: no rolesctl held"
        tracer=$(awk '$1 == "PPid:" { print $2 }' "/proc/${child:-none}/status" 2>/dev/null)
        kill -9 "${child:-none}" 2>/dev/null
        [ -n "$tracer" ] && kill -9 "$tracer" 2>/dev/null
        wait "$2" 2>/dev/null
}
# held_in_fsync WHAT PID: wait (up to 30 s) until the rolesctl under the strace of PID is in
# fsync or fdatasync (x86_64: 74, 75), where the injected delay holds it.
held_in_fsync() { held_in "$1" "$2" "its commit's fsync" 74 75; }
# held_in WHAT PID WHERE NR...: the same, for the system calls NR... (WHERE names them).
held_in() {
        local p nr want
        for _ in $(seq 600); do
                for p in /proc/[0-9]*; do
                        [ "$(cat "$p/comm" 2>/dev/null)" = rolesctl ] && ns_descends "${p#/proc/}" "$2" || continue
                        read -r nr _ <"$p/syscall" 2>/dev/null || continue
                        for want in "${@:4}"; do
                                [ "$nr" = "$want" ] && { pass; return 0; }
                        done
                done
                sleep 0.05
        done
        fail "$1: the writer never reached $3"
}
faults_cut_short() {
        local what spid published holder show
        what="stopped in the roles.db commit, then killed"
        cut_setup "$what"
        published=$(serial)
        # Held before the fsync of its commit frame: secrets.db committed, the WAL index not told.
        cut_run "${at_commit[@]}" -e inject=fsync,fdatasync:delay_enter=30000000 2>/dev/null &
        spid=$!
        for _ in $(seq 600); do
                [ "$(marked)" -gt "$published" ] && break
                sleep 0.05
        done
        # Then until it sits in the held fsync itself, its commit frame written: secrets.db's
        # mark comes first, and on a loaded machine the writer may take longer than any fixed
        # sleep to get from there to its WAL (the kill would then leave no commit frame).
        held_in_fsync "$what" "$spid"
        # The writer, held inside its roles.db commit, blocks no reader: names resolve, rolesctl
        # reads, alice logs in, each in the state before the change.
        eq "$what: seen while the writer is held" "$(seen)" "$old_state"
        eq "$what: left while the writer is held" "$(bookkeeping)" "1 2 1 2"
        alice_logs_in "$what: while the writer is held" yes
        kill_held "$what" "$spid"
        # No one holds the WAL index: the next opener recovers the WAL and finds the commit frame.
        # So roles.db has the change while roles.nss, which the killed writer never installed,
        # does not: rolesctl reads the new state, NSS serves the old one whole, never a mix
        # (docs/reference.md: roles.db's commit and roles.nss's rename are two steps).
        show=$("$R" user show alice 2>&1)
        eq "$what: rolesctl reads" "$(awk '$1 == "shell" || $1 == "email" || $1 == "totp" { printf "%s ", $2 }' <<<"$show")" \
                "/bin/zsh new@example.org yes "
        ge passwd alice
        eq "$what: NSS still serves the old state" "$(cut -d: -f7 <<<"$GE")" /bin/bash
        ge passwd carol
        eq "$what: NSS does not serve carol yet" "$RC" 2
        eq "$what: left (marked, images, orphans, audit)" "$(bookkeeping)" "0 2 0 2"
        alice_logs_in "$what" no
        # doctor sees that the index is behind and compiles it anew: then both agree.
        cli doctor
        grep -q "roles.nss: of another serial than roles.db: compiled anew" "$OUT" && pass ||
                fail "$what: doctor did not name the stale index: $(head -c 300 "$OUT")"
        eq "$what: seen after doctor" "$(seen)" "$new_state"
        next_writer "$what" "$new_state"
        eq "$what: left after the next change" "$(bookkeeping)" "0 0 0 2"

        what="killed in the roles.db commit, a reader holding the WAL index"
        cut_setup "$what"
        published=$(serial)
        python3 -c 'import sqlite3, sys, time
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
db.execute("SELECT count(*) FROM users").fetchall()
open(sys.argv[2], "w").close()
time.sleep(600)' "$DB/roles.db" "$S/holder.ready" &
        holder=$!
        for _ in $(seq 100); do [ -e "$S/holder.ready" ] && break; sleep 0.05; done
        # A change first, which the reader keeps from being checkpointed away: the batch then
        # appends to a WAL that has a header, and its first fsync there is its commit's (a WAL
        # started afresh has its header synced before any frame).
        cli group add "pre$RANDOM"
        eq "$what: a change before" "$RC" 0
        published=$(serial)
        cut_run "${at_commit[@]}" -e inject=fsync,fdatasync:signal=KILL 2>/dev/null
        eq "$what: rolesctl was killed" "$RC" 137
        eq "$what: seen" "$(seen)" "$old_state"
        eq "$what: left (marked, images, orphans, audit)" "$(bookkeeping)" "1 2 1 2"
        alice_logs_in "$what" yes
        # doctor, a writer, is the next: it says what it undid (and removed: the index delta the
        # batch wrote aside before its commit), and publishes over it.
        cli doctor
        eq "$what: doctor" "$RC $(sort "$OUT" | tr '\n' '|')" \
                "0 1 NSS index file written aside by interrupted writers: removed|a change interrupted before it published snapshot $((published + 1)): its secrets.db part undone|"
        eq "$what: the undo in the audit log" "$(sqlite3 "$DB/secrets.db" "SELECT count(*) FROM audit WHERE action = 'change.undone'")" 1
        next_writer "$what" "$old_state"
        kill "$holder"; wait "$holder" 2>/dev/null
        rm -f "$S/holder.ready"
        # Everyone has closed: the next opener recovers the WAL, and the undone change stays undone.
        eq "$what: seen once the reader is gone" "$(seen)" "$old_state"
        eq "$what: left after the next change" "$(bookkeeping)" "0 0 0 0"

        what="the roles.db commit fails"
        cut_setup "$what"
        cut_run "${at_commit[@]}" -e inject=fsync,fdatasync:error=EIO:when=1
        if [ "$RC" -gt 1 ] && one_error && grep -q 'cannot publish' "$ERR"; then pass; else
                fail "$what: exit status $RC, want one error line about publishing: $(head -c 300 "$ERR")"
        fi
        eq "$what: seen" "$(seen)" "$old_state"
        eq "$what: left (marked, images, orphans, audit)" "$(bookkeeping)" "0 0 0 0"
        alice_logs_in "$what" yes
        cli doctor
        eq "$what: doctor" "$RC $(cat "$OUT")" "0 no problems found"
}

# ---- 6b. a writer stopped inside its secrets.db commit -------------------------------------------------------
# A writer stopped (SIGSTOP, a debugger, a ^Z'd terminal, a paused VM) inside its secrets.db
# commit, held here by strace in that commit's fsync, blocks no reader: secrets.db is in WAL mode
# like roles.db. Logins (PAM) and `getent shadow` answer at once, each in the state before the
# change, and the change lands whole once the writer goes on.
faults_held() {
        local what="a writer held inside its secrets.db commit" spid
        restore
        mkdir -p "$S/lk"
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
                strace -f -o /dev/null -P "$DB/secrets.db" -P "$DB/secrets.db-wal" -e trace=fsync,fdatasync \
                -e inject=fsync,fdatasync:delay_enter=15000000:when=1 "$R" user add heldu >"$S/held.out" 2>&1 &
        spid=$!
        # Twice, apart: a fsync not held (another file's) is over long before the second look.
        held_in_fsync "$what" "$spid"
        sleep 0.3
        held_in_fsync "$what: still" "$spid"
        client held-auth "$PW" "${modenv[@]}" pamtester faults alice authenticate
        client held-shadow "" timeout 30 "${modenv[@]}" getent shadow alice
        wait "${client_pid[held-auth]}" "${client_pid[held-shadow]}"
        within held-auth 5; granted "$what: auth, right password"
        within held-shadow 5; eq "$what: getent shadow alice" "$RC $PT" "0 $sp_alice"
        ge passwd heldu
        eq "$what: heldu not served before the commit" "$RC" 2
        wait "$spid"
        eq "$what: the writer, let go" "$? $(cat "$S/held.out")" "0 "
        ge passwd heldu
        eq "$what: heldu served after it" "$RC" 0
        cli doctor
        eq "$what: doctor" "$RC $(cat "$OUT")" "0 no problems found"
}

# ---- 7. the NSS index ------------------------------------------------------------------------------------
# roles.nss and its delta are the third part of every change: NSS reads them, PAM and rolesctl
# read roles.db. A change is all or nothing across the three, however full the disk.
# nss_agrees WHAT: getent serves the metarole group "user" exactly when roles.db publishes it.
nss_agrees() {
        local gid
        gid=$(sqlite3 -readonly "$(ro_db "$DB/roles.db")" "SELECT coalesce(gid, '') FROM metaroles WHERE code = 'user'")
        ge group user
        if [ -n "$gid" ]; then
                eq "$1: NSS serves what roles.db publishes" "$RC $(cut -d: -f1,3 <<<"$GE")" "0 user:$gid"
        else
                eq "$1: NSS serves nothing roles.db does not publish" "$RC" 2
        fi
}
# index_when_full KIB: publishing a metarole compiles a new base of the index. With KIB KiB free,
# room for the change's pages in the WAL but perhaps not for that base: it succeeds whole, or
# fails with one line and changes nothing, the index included; NSS and roles.db agree either way.
index_when_full() {
        local DBS="roles.db secrets.db state.db roles.nss roles.nss-delta"
        restore
        snapshot
        fill_to "$1"
        cli metarole publish user
        if [ "$RC" -ne 0 ]; then
                cli_refused "$1 KiB free: metarole publish" roles.db secrets.db state.db
                full_refused=$((full_refused + 1))
        else
                full_ok=$((full_ok + 1))
        fi
        rm -f "$DB/filler"
        nss_agrees "$1 KiB free: metarole publish"
}
faults_index() {
        local index_kib kib
        index_kib=$(($(stat -c %s "$base/roles.nss") / 1024))
        full_ok=0 full_refused=0
        for kib in $(seq 0 8 $((2 * index_kib + 96))); do
                index_when_full "$kib"
        done
        echo "# index: $full_refused publishes refused cleanly, $full_ok completed (roles.nss is $index_kib KiB)"
        [ "$full_refused" -gt 0 ] && [ "$full_ok" -gt 0 ] && pass || fail "index, disk full: the steps did not cross the limit"

        # A writer killed at its first rename, the index's, after roles.db's commit: the index
        # written aside stays behind, and the next writer (doctor, here the second time) removes it.
        local what="killed at the index's rename"
        for settle in "group add kgx" doctor; do
                restore
                # (in a $(...) of its own, whose stderr takes the shell's "Killed")
                eq "$what: killed" "$({ strace -f -o /dev/null -e trace=rename -e inject=rename:signal=KILL \
                        "$R" metarole publish user >/dev/null 2>&1; echo $?; } 2>/dev/null)" 137
                [ "$(index_aside)" -gt 0 ] && pass || fail "$what: nothing was written aside"
                cli $settle
                eq "$what: $settle" "$RC" 0
                eq "$what: $settle removes what was written aside" "$(index_aside)" 0
                nss_agrees "$what: after $settle"
        done
        grep -qxE '[0-9]+ NSS index files? written aside by interrupted writers: removed' "$OUT" && pass ||
                fail "$what: doctor does not say what it removed: $(head -c 300 "$OUT")"
        cli doctor
        eq "$what: doctor, again" "$RC $(cat "$OUT")" "0 no problems found"

        # Power lost there (a kill stands for it), then the boot's roles-index.service, before
        # any writer: `index rebuild --if-stale` compiles the index that lags behind roles.db (NSS
        # would keep serving the state before the change, a removal from a published metarole
        # group still granting sudo), and leaves a current one as it is, not even rewritten.
        what="index rebuild --if-stale after a kill at the index's rename"
        restore
        eq "$what: killed" "$({ strace -f -o /dev/null -e trace=rename -e inject=rename:signal=KILL \
                "$R" metarole publish user >/dev/null 2>&1; echo $?; } 2>/dev/null)" 137
        ge group user
        eq "$what: NSS serves the state before the change" "$RC" 2
        cli index rebuild --if-stale
        eq "$what" "$RC $(cat "$OUT")" "0 roles.nss: of another serial than roles.db: compiled anew"
        nss_agrees "$what"
        local compiled
        compiled=$(stat -c '%n %i %z' "$DB"/roles.nss*)
        cli index rebuild --if-stale
        eq "$what, again" "$RC $(cat "$OUT")" "0 roles.nss: roles.db's: nothing to do"
        eq "$what, again: the current index is not rewritten" "$(stat -c '%n %i %z' "$DB"/roles.nss*)" "$compiled"
        cli doctor
        eq "$what: doctor then" "$RC $(cat "$OUT")" "0 no problems found"

        # The writers' lock file removed (root tidying up) while its holder, its change committed,
        # is about to rename its index (held there by strace: x86_64 rename is 82). The next
        # writer waits for the holder all the same, and the holder's index never goes over its:
        # NSS serves what roles.db says once both are done. Held 10 s: held_in's look through
        # /proc must find it held on a loaded machine (2 s was missed in CI), and the next writer
        # waits less than its 30 s for the lock.
        what="the lock file removed under its holder"
        restore
        # (An ASan build's leak checker cannot run under ptrace: it would turn the exit status into 1.)
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
                strace -f -o /dev/null -e trace=rename -e inject=rename:delay_enter=10000000:when=1 \
                "$R" metarole publish user >"$S/holder.out" 2>&1 &
        local holder=$!
        held_in "$what" "$holder" "the index's rename" 82
        rm "$DB/roles.db.lock"
        cli group add kgy
        eq "$what: the next writer" "$RC" 0
        wait "$holder"
        eq "$what: the holder" "$? $(cat "$S/holder.out")" "0 "
        ge group kgy
        eq "$what: NSS serves the next writer's group" "$RC" 0
        nss_agrees "$what"
        cli doctor
        eq "$what: doctor" "$RC $(cat "$OUT")" "0 no problems found"
}
# index_aside: how many index files a writer wrote aside are in $DB.
index_aside() { find "$DB" -maxdepth 1 -name '.roles.nss*' | wc -l; }

# ---- run ---------------------------------------------------------------------------------------------------
# $ROLES_FAULTS may name some of the groups (a developer's shortcut); CI runs them all.
groups=${ROLES_FAULTS:-damaged locked disk_full read_only killed cut_short held index}
[ -n "${ROLES_FAULTS:-}" ] && echo "# only: $groups"
for g in $groups; do
        declare -F "faults_$g" >/dev/null || die "no such group of faults: $g"
        start=$SECONDS
        "faults_$g"
        echo "# faults_$g: $((SECONDS - start)) s"
done
finish
