#!/bin/bash
# SPDX-License-Identifier: MIT
# What an unprivileged user can do to roles through setuid programs and the files' modes, with
# the real su, sudo, glibc NSS and libpam in a private mount namespace (issue 5, "Privilege"):
#
#  1. descriptors: after su and sudo no process the user can reach, and none running as the
#     user, holds a descriptor of anything in the database directory; su and sudo themselves
#     keep none of secrets.db or state.db once PAM's phases are done; every descriptor the
#     modules open is close-on-exec; a root process that read a shadow entry or ran PAM's
#     phases hands no secrets.db or state.db to a child that becomes the user without exec;
#  2. the environment: ROLES_CONF, SQLITE_TMPDIR, TMPDIR, HOME, LD_PRELOAD and LD_LIBRARY_PATH
#     set by the user change no answer of sudo or su, create nothing in the user's directories
#     and load none of the user's libraries;
#  3. a database file or directory that is group/world-writable or not owned by root is
#     refused by rolesctl (exit 5, one line, nothing changed), PAM (never success) and NSS
#     (not served: UNAVAIL, so `files` still answers);
#  4. every rolesctl command, run under umask 000, leaves roles.db 0644, secrets.db 0600,
#     state.db 0600, roles.db.lock 0600, the directory 0755, a backup 0600, and nothing else;
#  5. a database path that is a symlink (each file, the lock, the directory) is refused by
#     rolesctl, PAM and NSS, and nothing is written through it.
#
# /etc, /var/lib, /run/sudo, /home and the library directory are private to the namespace (the
# NSS module goes into the library directory, where setuid programs find it); needs root (CI
# runs as root), sudo, pamtester, python3 and a C compiler. Every check is counted; the last line
# says "N passed, M failed".
#
#   test_privilege.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
. "$(dirname "$(realpath "$0")")/ns-lib.sh"

[ $# -eq 3 ] || { echo "usage: test_privilege.sh ROLESCTL PAM_MODULE NSS_LIB_DIR" >&2; exit 1; }
ns_enter privilege "$@"
R=$(realpath "$1")
M=$(realpath "$2")
L=$(realpath "$3")
PY=/usr/bin/python3    # not a per-user shim: the users below run it too

need sudo su runuser pamtester "$PY" cc getent setpriv || finish
[ "$(stat -c %a /usr/bin/sudo)" = 4755 ] && [ "$(stat -c %a /usr/bin/su)" = 4755 ] || die "sudo and su must be setuid root"

watch_pid=
ns_on_exit() {
        [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
}

# ---- the namespace ------------------------------------------------------------------------------
libdir=$(dirname "$(realpath "$(ldd /usr/bin/sudo | awk '$1 == "libc.so.6" { print $3 }')")")
[ -d "$libdir" ] && [ "$libdir" != / ] || die "cannot find the library directory"
ns_overlay etc var/lib "${libdir#/}"
mount -t tmpfs -o mode=0755 tmpfs /home || die "tmpfs on /home"
[ -d /run/sudo ] && { mount -t tmpfs -o mode=0711 tmpfs /run/sudo || die "tmpfs on /run/sudo"; }
# Failed logins below are many: su must not sleep after each (util-linux su reads FAIL_DELAY).
sed -i '/^FAIL_DELAY/d' /etc/login.defs && echo 'FAIL_DELAY 0' >>/etc/login.defs
# Many wrong passwords below, on purpose: no lockout.
ns_configure 'deny = 1000
'
D=/var/lib/roles
DBS="roles.db secrets.db state.db"

# The modules under test: pam_roles.so named by absolute path, libnss_roles.so.2 in the
# library directory (setuid programs ignore LD_LIBRARY_PATH).
mkdir -m 0755 "$S/lib"
cp "$M" "$S/lib/pam_roles.so" && chmod 0644 "$S/lib/pam_roles.so" || die "copy the PAM module"
MOD=$S/lib/pam_roles.so
cp "$L/libnss_roles.so.2" "$libdir/" && chmod 0644 "$libdir/libnss_roles.so.2" || die "copy the NSS module"
mkdir -p "$libdir/roles" && cp "$L/roles/roles-nss-shadow.so" "$libdir/roles/" && chmod 0644 "$libdir/roles/roles-nss-shadow.so" ||
        die "copy the NSS module's shadow plugin"
# Sanitizer-built modules are now loaded by every program that resolves a name: the runtime
# goes first everywhere, through the namespace's /etc/ld.so.preload.
preload=$(ns_sanitizer_preload "$MOD")
if [ -n "$preload" ]; then
        echo "# the modules are ASan-built: $preload in /etc/ld.so.preload"
        tr ' ' '\n' <<<"$preload" >/etc/ld.so.preload
        export "${ns_sanitizer_options[@]}"
fi

cat >/etc/pam.d/roles <<EOF
auth     required $MOD
account  required $MOD
password required $MOD
session  required $MOD
EOF
cat >/etc/pam.d/su <<EOF
auth     required $MOD
account  required $MOD
session  required $MOD
EOF
cat >/etc/pam.d/sudo <<EOF
auth     required $MOD
account  required $MOD permission=sudo
session  required $MOD
EOF
ns_sudoers

# ---- the data -------------------------------------------------------------------------------------
# alice administers (the published metarole group admin, which sudoers trusts, and `sudo`);
# mallory is the attacker, bob an ordinary user.
"$R" init >/dev/null || die "rolesctl init"
"$R" batch >/dev/null <<'BATCH' || die "rolesctl batch"
metarole grant admin sudo
metarole publish admin --gid 20900
role add sysadmin --metarole admin
user add alice --uid 10100
user add mallory --uid 10101
user add bob --uid 10102
role assign sysadmin alice
BATCH
pw() { echo "pw-$1-Secret9"; }
for u in alice mallory bob; do
        pw "$u" | "$R" user passwd "$u" --stdin >/dev/null || die "rolesctl user passwd $u"
done
EVIL_PW=Evil-Pass-666
[ "$(id -u alice)" = 10100 ] || die "alice does not resolve through libnss_roles.so.2"
install -d -m 0700 -o alice -g alice /home/alice && install -d -m 0700 -o mallory -g mallory /home/mallory || die "homes"

# ---- 1. descriptors ---------------------------------------------------------------------------------
# private_fds PID...: what ns_db_fds lists, leaving out roles.db itself (public, like /etc/passwd).
private_fds() { ns_db_fds "$@" | grep -v -- "-> $D/roles\.db\$"; }
none() {        # none WHAT LINES: LINES is empty
        if [ -z "$2" ]; then pass; else fail "$1: $(tr '\n' ';' <<<"$2" | head -c 400)"; fi
}

# What a session runs as its user: its shell's and its parent's descriptors, then every
# descriptor of every process of this mount namespace it can reach at all (the other end-to-end
# scripts run at the same time, with users of the same uids whose shells rightly hold roles.db);
# then it waits for the go-ahead, so that root can look at the user's processes while the
# session is alive.
PROBE='for p in $$ $PPID; do echo "== /proc/$p/fd"; ls -l /proc/$p/fd 2>&1; done
echo "== reachable"; ns=$(readlink /proc/self/ns/mnt)
for p in /proc/[0-9]*; do [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$ns" ] || continue
for f in $p/fd/*; do t=$(readlink "$f" 2>/dev/null) && echo "$f -> $t"; done; done
echo READY; read x <'"$S/go"
# probe_pid N: the process whose descriptors the probe listed first (its shell) or second (its
# parent); su's password prompt may precede the first line.
probe_pid() { sed -n 's|.*== /proc/\([0-9]*\)/fd$|\1|p' "$S/session.out" | sed -n "${1}p"; }
# check_probe WHAT: the probe saw its own descriptors and, among them and everything else it
# could reach, nothing in the database directory.
check_probe() {
        local own reach
        own=$(sed -n '1,/^== reachable/p' "$S/session.out")
        reach=$(sed -n '/^== reachable/,/^READY/p' "$S/session.out")
        grep -qE ' 0 -> ' <<<"$own" && grep -qE '/fd/0 -> ' <<<"$reach" && pass ||
                fail "$1: the probe did not list descriptors: $(head -c 300 "$S/session.out")"
        none "$1: descriptors the user's session can see" "$(grep -- "-> $D/" <<<"$own$reach")"
}

# session WHAT PARENT UIDS INPUT COMMAND...: COMMAND runs $PROBE through PARENT (su or sudo)
# with INPUT on stdin. While the probe waits: it saw nothing in the database directory; no
# process running as one of UIDS that PARENT started holds anything there, and no other one
# (the shell sudo was run from) holds anything private: such a shell may hold the public
# roles.db for its own lookups, as it may hold /etc/passwd; and PARENT, which keeps the PAM
# handle until the session ends, holds neither secrets.db nor state.db.
session() {
        local what=$1 parent=$2 uids=$3 input=$4 uid procs ppid
        shift 4
        rm -f "$S/go" && mkfifo -m 0666 "$S/go" && : >"$S/session.out" || die "mkfifo"
        printf '%s\n' "$input" | timeout 60 "$@" >"$S/session.out" 2>&1 &
        local pid=$!
        # Up to the command's own 60 s: under ASan on a loaded 2-core machine, sudo's argon2 and
        # the modules' start took more than the 15 s this once allowed.
        for _ in $(seq 1200); do
                grep -q '^READY' "$S/session.out" && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        if ! grep -q '^READY' "$S/session.out"; then
                fail "$what did not start: $(head -c 300 "$S/session.out")"
                kill "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                return
        fi
        check_probe "$what"
        ppid=$(probe_pid 2)
        [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = "$parent" ] && pass || fail "$what: the probe's parent ($ppid) is not $parent"
        local started=0 p ours theirs
        for uid in $uids; do
                procs=$(ns_user_procs "$uid")
                [ -n "$procs" ] && pass || fail "$what: no process runs as uid $uid during the session"
                ours='' theirs=''
                for p in $procs; do
                        if ns_descends "$p" "$ppid"; then ours+=" $p"; else theirs+=" $p"; fi
                done
                [ -n "$ours" ] && started=$((started + 1))
                # shellcheck disable=SC2086
                none "$what: processes of uid $uid that $parent started hold" "$(ns_db_fds $ours)"
                # shellcheck disable=SC2086
                none "$what: other processes of uid $uid hold" "$(private_fds $theirs)"
        done
        [ "$started" -gt 0 ] && pass || fail "$what: no process of uid $uids descends from $parent ($ppid)"
        none "$what: $parent itself (root) holds, meanwhile" "$(private_fds "$ppid")"
        echo go >"$S/go"
        wait "$pid" && pass || fail "$what: the session failed: $(head -c 300 "$S/session.out")"
}
# su: mallory becomes alice with alice's password, given on stdin (su reads it through PAM's
# conversation); /etc/pam.d/su is pam_roles alone.
session "su mallory -> alice" su 10100 "$(pw alice)" runuser -u mallory -- su -c "$PROBE" alice
# sudo: alice, from a shell of her own (`&& :` keeps bash from exec'ing sudo), runs the probe
# as bob. Without SHELL in its environment (runuser -u passes the caller's on), her shell looks
# her up through NSS as it starts, and so holds roles.db whatever the caller's environment.
session "sudo alice -> bob" sudo "10100 10102" "$(pw alice)" \
        env -u SHELL runuser -u alice -- bash -c "sudo -S -k -p '' -u bob bash -c '$PROBE' && :"

# Close-on-exec, and children that drop privileges without exec. fdprobe.py (run as root) looks
# a name up through glibc (passwd or shadow) or runs PAM's phases through libpam, prints the
# database descriptors it then holds with their flags, and then either execs `ls -l
# /proc/self/fd` or forks a child that becomes uid 10100 without exec and lists its own.
cat >"$S/fdprobe.py" <<'PYEOF'
import ctypes, fcntl, os, sys

DIR = sys.argv[1] + "/"
what, arg, then = sys.argv[2], sys.argv[3], sys.argv[4]
libc = ctypes.CDLL(None, use_errno=True)

def held():
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith(DIR):
            cloexec = fcntl.fcntl(int(fd), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
            access = ("r", "w", "rw")[fcntl.fcntl(int(fd), fcntl.F_GETFL) & os.O_ACCMODE]
            print("held", fd, target, "cloexec" if cloexec else "inherited", access, flush=True)

def pam(service, user, password, phases):
    class Message(ctypes.Structure):
        _fields_ = [("style", ctypes.c_int), ("msg", ctypes.c_char_p)]
    class Response(ctypes.Structure):
        _fields_ = [("resp", ctypes.c_void_p), ("retcode", ctypes.c_int)]
    CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Message)),
                            ctypes.POINTER(ctypes.POINTER(Response)), ctypes.c_void_p)
    class Conv(ctypes.Structure):
        _fields_ = [("conv", CONV), ("data", ctypes.c_void_p)]
    libc.calloc.restype = libc.strdup.restype = ctypes.c_void_p
    def answer(n, msgs, resp, data):
        r = ctypes.cast(libc.calloc(n, ctypes.sizeof(Response)), ctypes.POINTER(Response))
        for i in range(n):
            if msgs[i].contents.style == 1:         # PAM_PROMPT_ECHO_OFF
                r[i].resp = libc.strdup(password.encode())
        resp[0] = r
        return 0
    libpam = ctypes.CDLL("libpam.so.0")
    conv = Conv(CONV(answer), None)
    h = ctypes.c_void_p()
    assert libpam.pam_start(service.encode(), user.encode(), ctypes.byref(conv), ctypes.byref(h)) == 0
    fns = {"auth": libpam.pam_authenticate, "account": libpam.pam_acct_mgmt, "session": libpam.pam_open_session}
    for phase in phases.split(","):
        print(phase, fns[phase](h, 0), flush=True)
    return h, conv          # pam_end comes with the process's end, as in a session

if what == "passwd":
    libc.getpwnam.restype = ctypes.c_void_p
    print("found" if libc.getpwnam(arg.encode()) else "not found", flush=True)
elif what == "shadow":
    libc.getspnam.restype = ctypes.c_void_p
    print("found" if libc.getspnam(arg.encode()) else "not found", flush=True)
elif what == "shadow-enumeration":     # the first entries, and no endspent yet
    libc.getspent.restype = ctypes.c_void_p
    libc.setspent()
    print("found" if all(libc.getspent() for _ in range(int(arg))) else "not found", flush=True)
else:
    service, user, password, phases = arg.split(":")
    pam_handle = pam(service, user, password, phases)
held()
if then == "exec":
    print("exec", flush=True)
    os.execv("/bin/ls", ["ls", "-l", "/proc/self/fd"])
pid = os.fork()
if pid == 0:
    os.setgroups([])
    os.setgid(10100)
    os.setuid(10100)
    print("child", flush=True)
    held()
    os._exit(0)
os.waitpid(pid, 0)
PYEOF
# fdprobe WANT WHAT ARG exec|fork: sets OUT (everything the probe printed), which must hold the
# line WANT: the lookup found its entry, or PAM's last phase returned the status wanted.
fdprobe() {
        local want=$1
        shift
        OUT=$(timeout 60 "$PY" "$S/fdprobe.py" "$D" "$@" 2>&1)
        grep -qx "$want" <<<"$OUT" && pass || fail "fdprobe $*: no line '$want' in: ${OUT:0:300}"
}
# before / after: the probe's "held" lines before exec or fork, and what the exec'd ls or the
# child saw in the database directory.
before() { sed -n '/^\(exec\|child\)$/q; /^held /p' <<<"$OUT"; }
after() { sed -n '/^\(exec\|child\)$/,$p' <<<"$OUT" | grep -- "$D/"; }
# cloexec WHAT EXPECTED_FILES: before exec the probe held exactly EXPECTED_FILES (so the check
# is not vacuous), every one close-on-exec; after exec nothing.
cloexec() {
        local what=$1 want=$2 got
        got=$(before | awk '{ sub(".*/", "", $3); print $3 }' | sort -u | tr '\n' ' ')
        eq "$what: databases held before exec" "$got" "$want"
        none "$what: descriptors without close-on-exec" "$(before | grep -v ' cloexec ')"
        grep -q '^exec$' <<<"$OUT" && pass || fail "$what: the probe did not exec: ${OUT:0:300}"
        none "$what: held after exec" "$(after)"
}
# The NSS module maps roles.nss and closes its descriptor at once: it holds none.
fdprobe found passwd alice exec
none "NSS passwd: held once getpwnam returned" "$(before)"
fdprobe found shadow alice exec
none "NSS shadow: held once getspnam returned" "$(before)"
# /etc/shadow's own entries come first: read them all, and one of roles'.
# An enumeration reads a page of entries in one visit to the databases and holds none of them
# between calls.
fdprobe found shadow-enumeration "$(($(wc -l </etc/shadow) + 1))" exec
none "NSS shadow enumeration: held between getspent calls" "$(before)"
fdprobe "auth 0" pam "roles:alice:$(pw alice):auth" exec
# A successful auth keeps no database open: PAM opens the stores in every call and closes them
# before it returns; what account needs of auth it keeps as values.
none "PAM auth: held once pam_authenticate returned" "$(before)"

# A child that becomes alice without exec (as sshd's session process does) inherits nothing:
# nothing after a passwd or shadow lookup (the NSS module holds no descriptor), nor after PAM's
# phases.
fdprobe found passwd alice fork
none "fork after getpwnam: the parent holds" "$(before)"
grep -qx child <<<"$OUT" && pass || fail "fork after getpwnam: the child did not run: ${OUT:0:300}"
none "fork after getpwnam: the child holds" "$(after)"
fdprobe found shadow alice fork
none "fork after getspnam: the child holds" "$(after)"
fdprobe found shadow-enumeration "$(($(wc -l </etc/shadow) + 1))" fork
none "fork during a shadow enumeration: the child holds" "$(after)"
# auth alone (a stack whose account is another module's): the kept snapshot stays in the
# parent until pam_end, and a child that becomes alice without exec gets none of it.
# PAM asks the system (getpwnam) whether PAM_USER is the roles account; neither PAM nor the NSS
# module holds a descriptor after its call (nss_public is kept as a filter for what NSS once held).
nss_public() { grep -v " $D/roles.db cloexec r\$"; }
fdprobe "auth 0" pam "roles:alice:$(pw alice):auth" fork
none "fork after PAM's auth alone: the parent holds" "$(before)"
none "fork after PAM's auth alone: the child holds" "$(after)"
fdprobe "session 0" pam "roles:alice:$(pw alice):auth,account,session" fork
none "PAM after auth, account, session: the process holds" "$(before | nss_public)"
n=$(before | grep -c " $D/roles.db ")
[ "$n" -le 1 ] && pass || fail "PAM after auth, account, session: $n descriptors of roles.db (the NSS module's one at most)"
none "fork after PAM's phases: the child holds" "$(after)"
fdprobe "auth 7" pam "roles:alice:wrong-password:auth" fork       # PAM_AUTH_ERR
none "PAM after a failed auth: the process holds" "$(before | nss_public)"

# ---- 2. what the user's environment changes in setuid programs: nothing ---------------------------------
# mallory's own directories: an attacker's roles configuration and databases (in which alice
# and mallory have a password mallory knows, and mallory holds the published admin group that
# sudoers trusts), a temporary directory, a home, and libraries that log when loaded.
A=/home/mallory
chmod 0755 "$A"
mkdir -p "$A/evil/db" "$A/tmp" "$A/home" "$A/lib" "$S/spy" && chmod 0777 "$S/spy" || die "mallory's directories"
# instance_conf CONF DIR: a configuration (0644) for databases in DIR, with the scripts' ids and
# cheap hashing.
instance_conf() {
        printf 'public_db = %s/roles.db\nsecrets_db = %s/secrets.db\nstate_db = %s/state.db\n%s' "$2" "$2" "$2" \
                "$ns_conf_ids" >"$1"
        printf 'argon2_t_cost = 1\nargon2_m_cost_kib = 1024\nargon2_parallelism = 1\n' >>"$1"
        chmod 0644 "$1"
}
# evil_instance CONF DIR: a roles instance where mallory is an administrator.
evil_instance() {
        instance_conf "$1" "$2"
        "$R" --conf "$1" init >/dev/null && "$R" --conf "$1" batch >/dev/null <<'BATCH' || die "the instance of $1"
metarole grant admin sudo
metarole publish admin --gid 20900
role add sysadmin --metarole admin
user add alice --uid 10100
user add mallory --uid 10101
role assign sysadmin mallory
BATCH
        for u in alice mallory; do echo "$EVIL_PW" | "$R" --conf "$1" user passwd "$u" --stdin >/dev/null || die "evil password of $u"; done
}
evil_instance "$A/evil/roles.conf" "$A/evil/db"
chown -R mallory: "$A"
# The same, root's own: another roles instance on the host (a staging copy, a test), named by
# a configuration that passes every ownership check.
evil_instance /etc/roles-other.conf /var/lib/roles-other

cat >"$S/spy.c" <<EOF
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void spy(void) {
        char line[128];
        int fd = open("$S/spy/log", O_WRONLY | O_APPEND | O_CREAT, 0666);
        int n = snprintf(line, sizeof(line), "loaded into pid %d uid %d euid %d\n", getpid(), getuid(), geteuid());
        if (fd >= 0 && n > 0 && write(fd, line, (size_t) n) < 0)
                n = 0;
        close(fd);
}
EOF
cc -shared -fPIC -o "$A/lib/libspy.so" "$S/spy.c" || die "build the spy library"
# Under the names of what the modules and libpam load, for LD_LIBRARY_PATH.
for n in libnss_roles.so.2 libsqlite3.so.0 libpam.so.0; do cp "$A/lib/libspy.so" "$A/lib/$n"; done
chown -R mallory: "$A/lib"

# The positive controls: mallory's configuration is valid and makes her an admin, where
# $ROLES_CONF is honoured (her own unprivileged processes), and her libraries do log.
out=$(runuser -u mallory -- env ROLES_CONF="$A/evil/roles.conf" getent group admin)
[[ ,${out##*:}, == *,mallory,* ]] && pass || fail "control: mallory's own getent with ROLES_CONF: <<$out>>, want mallory in admin"
[[ ,$(getent group admin | cut -d: -f4), != *,mallory,* ]] && pass || fail "control: mallory is in the real admin group"
# (behind the sanitizer runtime, which must come first in a process that has it)
runuser -u mallory -- env LD_PRELOAD="${preload:+${preload// /:}:}$A/lib/libspy.so" true
runuser -u mallory -- env LD_LIBRARY_PATH="$A/lib" getent passwd alice >/dev/null
eq "control: the spy library logs when loaded (LD_PRELOAD, LD_LIBRARY_PATH)" "$(wc -l <"$S/spy/log")" 2
: >"$S/spy/log"

# inotify on mallory's temporary directory and home: every event, with the name it concerns.
cat >"$S/watch.py" <<'PYEOF'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_CLOEXEC)
paths = {libc.inotify_add_watch(fd, p.encode(), 0xfff): p for p in sys.argv[2:]}   # IN_ALL_EVENTS
assert fd >= 0 and all(w >= 0 for w in paths)
with open(sys.argv[1], "a", buffering=1) as out:
    out.write("watching\n")
    while True:
        data, i = os.read(fd, 65536), 0
        while i < len(data):
            wd, mask, _, n = struct.unpack_from("iIII", data, i)
            name = data[i + 16:i + 16 + n].rstrip(b"\0").decode(errors="replace")
            out.write("%s/%s %#x\n" % (paths.get(wd, "?"), name, mask))
            i += 16 + n
PYEOF
"$PY" "$S/watch.py" "$S/events" "$A/tmp" "$A/home" &
watch_pid=$!
for _ in $(seq 100); do grep -q '^watching$' "$S/events" 2>/dev/null && break; sleep 0.05; done
grep -q '^watching$' "$S/events" 2>/dev/null || die "the inotify watcher did not start"
# events_flush: every event until now is in $S/events (they come in order: once a marker's
# removal is there, so is everything before it).
events_flush() {
        local marker=$A/tmp/.marker-$RANDOM
        : >"$marker" && rm "$marker"
        for _ in $(seq 200); do grep -q "^$marker 0x200\$" "$S/events" && return 0; sleep 0.05; done
        die "the inotify watcher fell behind"
}
# The watcher sees a temporary file even when it is unlinked at once, as SQLite's are.
runuser -u mallory -- env SQLITE_TMPDIR="$A/tmp" sqlite3 :memory: "PRAGMA temp_store = FILE; PRAGMA cache_size = 10;
        CREATE TEMP TABLE t (x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
        INSERT INTO t SELECT randomblob(3000) FROM c" || fail "control: sqlite3 with a temporary file"
events_flush
grep -q "^$A/tmp/etilqs_.* 0x100\$" "$S/events" && pass || fail "control: no IN_CREATE of SQLite's temporary file: $(head -c 300 "$S/events")"
events_seen=$(wc -l <"$S/events")

# answers VAR=VALUE...: what sudo and su answer alice and mallory (exit status, and the last line
# su's command printed) with these variables in their environment, one word per question.
as_user() {     # as_user USER INPUT COMMAND...
        local user=$1 input=$2 out rc
        shift 2
        out=$(printf '%s\n' "$input" | timeout 60 runuser -u "$user" -- env "${vars[@]}" "$@" 2>/dev/null)
        rc=$?
        printf '%s:%s ' "$rc" "$(tail -n 1 <<<"$out" | tr -d ' ')"
}
answers() {
        local vars=("$@")
        as_user alice "$(pw alice)" sudo -S -k -p '' true
        as_user alice "$EVIL_PW" sudo -S -k -p '' true
        as_user alice "$(pw alice)" sudo -S -k -p '' -v
        as_user mallory "$(pw mallory)" sudo -S -k -p '' true
        as_user mallory "$EVIL_PW" sudo -S -k -p '' true
        as_user mallory "$(pw alice)" su -c 'id -u' alice
        as_user mallory "$EVIL_PW" su -c 'id -u' alice
        as_user mallory "$(pw mallory)" su -c 'id -G' mallory
}
# alice's sudo; her evil password; sudo -v; mallory's sudo (not in sudoers), with her evil
# password; su to alice, with the evil password; mallory's groups as su sets them up (through
# NSS in su). The commands print numbers: su without "-" hands the caller's environment to
# the target's shell, where $ROLES_CONF is honoured as in any unprivileged process, so a name
# looked up there would show what the target's own processes make of it, not what su read.
want='0: 1: 0: 1: 1: 0:10100 1: 0:10101 '
base=$(answers)
eq "the answers without any variable" "$base" "$want"
all=("ROLES_CONF=$A/evil/roles.conf" "SQLITE_TMPDIR=$A/tmp" "TMPDIR=$A/tmp" "HOME=$A/home"
        "LD_PRELOAD=$A/lib/libspy.so" "LD_LIBRARY_PATH=$A/lib")
for v in "${all[@]}" "ROLES_CONF=/etc/roles-other.conf"; do
        eq "the answers with $v" "$(answers "$v")" "$want"
done
eq "the answers with all of them" "$(answers "${all[@]}")" "$want"
events_flush
none "files touched in mallory's TMPDIR or HOME" "$(tail -n +$((events_seen + 1)) "$S/events" | grep -v "^$A/tmp/\.marker-")"
none "mallory's libraries loaded" "$(cat "$S/spy/log")"
kill "$watch_pid" && wait "$watch_pid" 2>/dev/null
watch_pid=

# ---- 3. a database file or directory others can write, or not owned by root: refused ------------------
# files_state: what must not change when a command is refused (contents, names, modes, owners).
files_state() { (cd "$D" && ls -lA --time-style=+ . && md5sum $DBS) 2>&1; }
# refused_cli WHAT ARGS...: rolesctl exits 5 with one line "rolesctl: ...", and changes nothing.
refused_cli() {
        local what=$1 before rc
        shift
        before=$(files_state)
        "$R" "$@" >"$S/cli.out" 2>"$S/cli.err" </dev/null
        rc=$?
        if [ $rc -eq 5 ] && [ "$(wc -l <"$S/cli.err")" -eq 1 ] && grep -q '^rolesctl: .*refusing' "$S/cli.err"; then pass; else
                fail "$what: rolesctl $*: exit status $rc, want 5 and one line 'rolesctl: ...refusing...' ($(head -c 300 "$S/cli.err"))"
        fi
        eq "$what: rolesctl ${*:1:2} changes nothing" "$(files_state)" "$before"
}
# pam_refused WHAT: alice's right password through the roles service is not a success.
pam_refused() {
        local out rc
        out=$(printf '%s\n' "$(pw alice)" | timeout 60 pamtester roles alice authenticate acct_mgmt 2>&1)
        rc=$?
        [ $rc -eq 1 ] && pass || fail "$1: pamtester: exit status $rc, want 1 (a PAM failure): ${out:0:300}"
}
# served AS_UID DATABASE NAME: getent's answer (its exit status) as that uid (setpriv takes
# numbers: runuser would need the name that may not resolve).
served() { setpriv --reuid="$1" --regid="$1" --clear-groups getent "$2" "$3" >/dev/null 2>&1; echo $?; }
# The answers a file that cannot be trusted must give, from NSS: roles.nss (and its delta) and
# their directory are the passwd and group data, so none is served (UNAVAIL: `files` still
# answers); shadow's plugin needs roles.db, secrets.db and state.db, not the index. A file owned by the calling process's own user is
# trusted in that user's processes only (rolesctl, PAM and every setuid program run as root):
# they could change what they see anyway, with $ROLES_CONF or LD_PRELOAD.
nss_refused() {        # nss_refused WHAT TARGET DEFECT
        local what=$1 target=$2 defect=$3 public=2 shadow=2
        eq "$what: getent passwd root (files) still answers" "$(served 0 passwd root)" 0
        case $target in roles.db | secrets.db | state.db) public=0 ;; roles.nss*) shadow=0 ;; esac
        eq "$what: getent passwd alice as root" "$(served 0 passwd alice)" $public
        eq "$what: getent group admin as alice" "$(served 10100 group admin)" $public
        [ "$defect" = "owned by mallory" ] && [ $public = 2 ] && public=0
        eq "$what: getent passwd alice as mallory" "$(served 10101 passwd alice)" $public
        eq "$what: getent shadow alice as root" "$(served 0 shadow alice)" $shadow
}
healthy() {     # healthy WHAT: everything answers again
        "$R" user show alice >/dev/null 2>&1 && pass || fail "$1: rolesctl user show alice fails"
        eq "$1: getent shadow alice" "$(served 0 shadow alice)" 0
}
for target in . roles.db roles.nss roles.nss-delta secrets.db state.db; do
        mode=$(stat -c %a "$D/$target")
        defects=("group-writable" "world-writable" "owned by mallory")
        [ "$target" = secrets.db ] || [ "$target" = state.db ] && defects+=("readable by others")
        for defect in "${defects[@]}"; do
                what="${target/#./the directory}, $defect"
                case $defect in
                group-writable) chmod g+w "$D/$target" ;;
                world-writable) chmod o+w "$D/$target" ;;
                "owned by mallory") chown mallory "$D/$target" ;;
                "readable by others") chmod o+r "$D/$target" ;;
                esac
                # rolesctl and PAM do not read the index (a writer compiles a new one in its place;
                # a name NSS cannot resolve is one no program can become)
                case $target in roles.nss*) ;; *)
                        refused_cli "$what" user show alice
                        refused_cli "$what" user mod alice --full-name "Changed"
                        pam_refused "$what" ;;
                esac
                nss_refused "$what" "$target" "$defect"
                chown root "$D/$target" && chmod "$mode" "$D/$target"
                healthy "$what, repaired"
        done
done

# ---- 4. modes after every rolesctl command, under umask 000 --------------------------------------------
# A fresh instance, made and changed by rolesctl (and logins through PAM) running with umask 000.
U=/var/lib/roles-umask
UC=/etc/roles-umask.conf
instance_conf "$UC" "$U"
mkdir -m 0755 "$S/bk"
# modes_kept WHAT: the directory and every file in it as docs/reference.md says, and nothing else there.
modes_kept() {
        local got
        got=$(cd "$U" && stat -c '%n %a %U:%G' . * .[!.]* 2>/dev/null | tr '\n' ' ')
        # login.slots (the login memory slots) comes with the first PAM verification.
        got=${got/login.slots 600 root:root /}
        eq "$1: modes" "$got" ". 755 root:root roles.db 644 root:root roles.db-shm 644 root:root roles.db-wal 644 root:root roles.db.lock 600 root:root roles.nss 644 root:root roles.nss-delta 644 root:root secrets.db 600 root:root secrets.db-shm 600 root:root secrets.db-wal 600 root:root state.db 600 root:root "
}
# umask0 WHAT INPUT ARGS...: rolesctl ARGS with INPUT on stdin under umask 000; it succeeds.
umask0() {
        local what=$1 input=$2
        shift 2
        if (umask 000 && printf '%s' "$input" | "$R" --conf "$UC" "$@" >"$S/u.out" 2>"$S/u.err"); then pass; else
                fail "$what: rolesctl $* failed: $(head -c 300 "$S/u.err")"
        fi
        modes_kept "$what"
}
umask0 init "" init
umask0 "user add --password-stdin" "Pass-Word-1
" user add ann --password-stdin
umask0 "user add --activation" "" user add ben --activation
umask0 "user mod" "" user mod ann --full-name "Ann A"
umask0 "user passwd" "Pass-Word-2
" user passwd ann --stdin
umask0 "user totp enroll" "" user totp enroll ben
umask0 "user disable" "" user disable ben
umask0 "user enable" "" user enable ben
umask0 "user reset" "" user reset ann
umask0 "user unlock" "" user unlock ann
umask0 "group add" "" group add crew
umask0 "group adduser" "" group adduser crew ann
umask0 "metarole add" "" metarole add ops --includes user
umask0 "metarole grant" "" metarole grant ops login.sshd
umask0 "metarole publish" "" metarole publish ops
umask0 "role add" "" role add op --metarole ops
umask0 "role grant" "" role grant op db.read
umask0 "role assign" "" role assign op ann --until +1d
umask0 batch "group add team
group adduser team ann
role unassign op ann
metarole unpublish ops
" batch
mkdir -p "$S/imp"
echo 'imported:x:30000:' >"$S/imp/group"
echo 'ivy:x:30001:30000::/home/ivy:/bin/bash' >"$S/imp/passwd"
echo 'ivy:!:19000:0:99999:7:::' >"$S/imp/shadow"
umask0 import "" import --passwd "$S/imp/passwd" --group "$S/imp/group" --shadow "$S/imp/shadow"
umask0 backup "" backup "$S/bk/roles.tar"
# A backup holds every hash and TOTP secret: 0600, whatever the umask, even over a looser file.
: >"$S/bk/old.tar" && chmod 0644 "$S/bk/old.tar"
umask0 "backup over a 0644 file" "" backup "$S/bk/old.tar"
eq "backup files: modes, and nothing left beside them" "$(cd "$S/bk" && stat -c '%n %a %U' * .[!.]* 2>/dev/null | tr '\n' ' ')" \
        "old.tar 600 root roles.tar 600 root "
tar -tf "$S/bk/roles.tar" | sort | tr '\n' ' ' | grep -qx 'roles.db secrets.db state.db ' && pass ||
        fail "backup: the archive holds <<$(tar -tf "$S/bk/roles.tar" | tr '\n' ' ')>>"
umask0 doctor "" doctor
umask0 "user del" "" user del ben
umask0 "group del" "" group del crew
for cmd in "user list" "user show ann" "audit" "perms ann" "metarole list"; do
        # shellcheck disable=SC2086
        umask0 "$cmd" "" $cmd
done
# Logins write state.db (and a password change secrets.db) from inside other programs, whose
# umask may be anything.
sed "s|\$| conf=$UC|" /etc/pam.d/roles >/etc/pam.d/roles-umask
(umask 000 && printf 'wrong\n' | pamtester roles-umask ann authenticate >/dev/null 2>&1) && fail "PAM under umask 000: a wrong password succeeded" || pass
modes_kept "PAM failure count under umask 000"
(umask 000 && printf 'Pass-Word-2\nPass-Word-4\nPass-Word-4\n' |
        pamtester roles-umask ann authenticate chauthtok open_session >"$S/u.out" 2>&1) && pass ||
        fail "PAM under umask 000: auth, chauthtok, session for ann: $(head -c 300 "$S/u.out")"
modes_kept "PAM password change and session under umask 000"

# ---- 5. a database path that is a symlink: refused ----------------------------------------------------
# Each file, in turn, moved to a root-owned directory elsewhere (modes intact) and replaced by a
# symlink to it; then the lock; then the directory itself. Nothing is read or written through
# the link: the same refusals as above, and the file behind it unchanged.
mkdir -m 0755 /var/lib/roles-elsewhere
# refused_link WHAT FILE: every reader and writer refuses the symlinked FILE.
refused_link() {
        local what=$1 file=$2 public=2 shadow=2 behind
        behind=$(md5sum "/var/lib/roles-elsewhere/$file" 2>/dev/null)
        case $file in roles.nss*) ;; *)
                refused_cli "$what" user show alice
                refused_cli "$what" user mod alice --full-name "Changed"
                pam_refused "$what" ;;
        esac
        case $file in roles.db | secrets.db | state.db) public=0 ;; roles.nss*) shadow=0 ;; esac
        eq "$what: getent passwd alice as root" "$(served 0 passwd alice)" $public
        eq "$what: getent passwd alice as alice" "$(served 10100 passwd alice)" $public
        eq "$what: getent shadow alice as root" "$(served 0 shadow alice)" $shadow
        eq "$what: the file behind the link is unchanged" "$(md5sum "/var/lib/roles-elsewhere/$file" 2>/dev/null)" "$behind"
}
for f in $DBS roles.nss roles.nss-delta; do
        mv "$D/$f" /var/lib/roles-elsewhere/ && ln -s "/var/lib/roles-elsewhere/$f" "$D/$f" || die "symlink $f"
        refused_link "$f is a symlink" "$f"
        rm "$D/$f" && mv "/var/lib/roles-elsewhere/$f" "$D/" || die "put $f back"
        healthy "$f put back"
done
# The lock: a writer must not create or truncate what it points to.
rm -f "$D/roles.db.lock" && ln -s /var/lib/roles-elsewhere/lock-target "$D/roles.db.lock" || die "symlink the lock"
refused_cli "roles.db.lock is a symlink" user mod alice --full-name "Changed"
grep -q 'roles\.db\.lock' "$S/cli.err" && pass || fail "roles.db.lock is a symlink: the error does not name it: $(head -c 300 "$S/cli.err")"
[ ! -e /var/lib/roles-elsewhere/lock-target ] && pass || fail "roles.db.lock is a symlink: rolesctl created its target"
rm "$D/roles.db.lock"
# The directory: /var/lib/roles a symlink to a directory holding the three files (and no lock,
# which a writer must not create there either). files_state looks through the link.
mv "$D" /var/lib/roles-real && ln -s /var/lib/roles-real "$D" || die "symlink the directory"
what="the directory is a symlink"
refused_cli "$what" user show alice
refused_cli "$what" user mod alice --full-name "Changed"
refused_cli "$what" init
grep -q 'directory that is a symlink' "$S/cli.err" && pass || fail "$what: the error does not say so: $(head -c 300 "$S/cli.err")"
pam_refused "$what"
eq "$what: getent passwd alice as root" "$(served 0 passwd alice)" 2
eq "$what: getent shadow alice as root" "$(served 0 shadow alice)" 2
rm "$D" && mv /var/lib/roles-real "$D" || die "put the directory back"
healthy "the directory put back"

finish
