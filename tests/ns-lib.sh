# SPDX-License-Identifier: MIT
# What the root-only end-to-end scripts share: entering a private mount namespace, overlays that
# keep the host's files untouched, the name-service and roles configuration, the sanitizer
# runtime a sanitizer-built module needs; and, sourced from here, the one assertion library
# (tests/lib.sh: pass/fail/check/eq/die/need/finish, "N passed, M failed" last).
#
# A script sources this file, then calls
#     ns_enter NAME "$@"     # re-runs the script as root inside `unshare -m`; sets S (a tmpfs)
#     ns_overlay etc var/lib # each directory becomes an overlay whose upper layer is under $S
# and uses lib.sh's checks, ns_user_procs, ns_descends and ns_db_fds. A script may define on_die
# (lib.sh: extra output before a fatal exit) and ns_on_exit (cleanup, run on every exit).

ns_lib_dir=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/lib.sh
. "$ns_lib_dir/lib.sh" || exit 2

# ns_user_procs UID: the processes of this mount namespace whose effective uid is UID,
# space-separated. Only ours: meson runs the other end-to-end scripts at the same time, each in
# a namespace of its own with users of the same uids, and their users' shells rightly hold
# roles.db for their own lookups. (Not pgrep: with the ASan runtime in /etc/ld.so.preload,
# procps' pgrep deadlocks as it starts; and it sees every namespace.)
ns_user_procs() {
        local p key effective ours
        ours=$(readlink /proc/self/ns/mnt) || die "readlink /proc/self/ns/mnt"
        for p in /proc/[0-9]*; do
                [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ours" ] || continue
                { while read -r key _ effective _; do
                        [ "$key" = Uid: ] && { [ "$effective" = "$1" ] && printf '%s ' "${p#/proc/}"; break; }
                done <"$p/status"; } 2>/dev/null
        done
}

# ns_descends PID ANCESTOR: PID is ANCESTOR or one of its descendants (by the PPid chain).
ns_descends() {
        local p=$1 key value
        while [ -n "$p" ] && [ "$p" -gt 1 ]; do
                [ "$p" = "$2" ] && return 0
                value=
                { while read -r key value; do
                        [ "$key" = PPid: ] && break
                done <"/proc/$p/status"; } 2>/dev/null
                p=$value
        done
        return 1
}

# ns_db_fds PID...: "PID (COMM) fd N -> TARGET" for every descriptor of those processes that
# points into /var/lib/roles: the databases, their journals, the lock, staged snapshots.
ns_db_fds() {
        local p f t
        for p in "$@"; do
                for f in /proc/"$p"/fd/*; do
                        t=$(readlink "$f" 2>/dev/null) || continue
                        [[ $t == /var/lib/roles/* ]] && echo "$p ($(cat "/proc/$p/comm" 2>/dev/null)) fd ${f##*/} -> $t"
                done
        done
        return 0
}

# ns_enter NAME ARGS...: outside, check for root and re-run "$0 ARGS..." in a private mount
# namespace with a scratch directory; inside, set S to that directory, mounted as a tmpfs, and
# drop meson's LD_LIBRARY_PATH (only the programs under test may load a sanitizer-built module).
ns_enter() {
        local name=$1
        shift
        if [ "${ROLES_NS_INNER:-}" != 1 ]; then
                if [ "$(id -u)" != 0 ]; then
                        # Not skipped: a test that did not run did not pass.
                        fail "$name: needs root (a private mount namespace with overlays); run the suite as root, as CI does"
                        finish
                fi
                local scratch rc
                scratch=$(mktemp -d "/tmp/roles-$name.XXXXXX") || exit 1
                ROLES_NS_INNER=1 ROLES_NS_SCRATCH=$scratch unshare -m --propagation private -- bash "$0" "$@"
                rc=$?
                # A mount point inside the namespace only: empty on the host.
                rmdir "$scratch" 2>/dev/null
                exit $rc
        fi
        unset LD_LIBRARY_PATH LD_PRELOAD
        S=$ROLES_NS_SCRATCH
        trap 'declare -F ns_on_exit >/dev/null && ns_on_exit' EXIT
        mount -t tmpfs -o mode=0755 tmpfs "$S" || die "mount tmpfs on $S"
        if [ -S /var/run/nscd/socket ] || [ -S /run/nscd/socket ]; then
                die "nscd is running: its cache would answer instead of the modules"
        fi
}

# ns_overlay DIR...: each /DIR becomes an overlay whose writes land in $S/ovl/DIR.
ns_overlay() {
        local d
        for d in "$@"; do
                mkdir -p "$S/ovl/$d/u" "$S/ovl/$d/w"
                mount -t overlay overlay -o "lowerdir=/$d,upperdir=$S/ovl/$d/u,workdir=$S/ovl/$d/w" "/$d" ||
                        die "overlay on /$d"
        done
        if [ -e "$S/ovl/etc" ]; then
                touch /etc/.roles-ns-probe && [ -e "$S/ovl/etc/u/.roles-ns-probe" ] || die "/etc is not the private overlay"
                rm -f /etc/.roles-ns-probe
        fi
}

# The ids the scripts use, not the default range: lines for every roles.conf they write.
ns_conf_ids=$'uid_min = 10000\nuid_max = 59999\ngid_min = 10000\ngid_max = 59999\n'

# ns_configure [EXTRA_CONF_LINES]: passwd/group/shadow from files then roles; /etc/roles.conf
# with those ids, the cheapest argon2 parameters (and the extra lines); useradd's range in
# login.defs (the last line of a key wins) moved below those ids, as doctor would ask; no roles
# databases yet.
ns_configure() {
        ns_configure_etc "${1:-}"
        rm -rf /var/lib/roles
}

# ns_configure_etc [EXTRA_CONF_LINES]: ns_configure's part in /etc only (a fleet lab host, whose
# /var/lib/roles is a tmpfs of its own, keeps it).
ns_configure_etc() {
        sed -i -E '/^(passwd|group|shadow|gshadow):/d' /etc/nsswitch.conf
        cat >>/etc/nsswitch.conf <<'NSS'
passwd:         files roles
group:          files roles
shadow:         files roles
gshadow:        files
NSS
        printf '%sargon2_t_cost = 1\nargon2_m_cost_kib = 1024\nargon2_parallelism = 1\n%s' "$ns_conf_ids" "${1:-}" \
                >/etc/roles.conf
        chmod 0644 /etc/roles.conf
        printf 'UID_MAX 9999\nGID_MAX 9999\n' >>/etc/login.defs
}

# ns_sanitizer_preload MODULE: the libraries a process must preload to run a sanitizer-built
# MODULE (empty for a normal build). libasan exports crypt_r (an interceptor that binds the real
# one when the process starts), so an ASan-linked module may not name libcrypt.so.1 as NEEDED:
# without libcrypt in the initial library list its crypt_r would call a null pointer.
ns_sanitizer_preload() {
        local rt crypt_lib
        rt=$(ldd "$1" 2>/dev/null | awk '/libasan\.so/ { print $3 }')
        [ -n "$rt" ] || return 0
        crypt_lib=$(ldconfig -p | awk '$1 == "libcrypt.so.1" && /x86-64/ { print $NF; exit }')
        echo "$rt${crypt_lib:+ $crypt_lib}"
}
# Sanitizer options for the programs under test: any report is an exit status of 99.
ns_sanitizer_options=("ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=99"
        "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=99")

# ns_private_dev: /dev becomes an overlay (for a /dev/log of our own), its submounts put back
# from a bind of the real /dev taken first.
ns_private_dev() {
        local d
        mkdir -p "$S/hostdev"
        mount --rbind /dev "$S/hostdev" || die "bind /dev"
        ns_overlay dev
        for d in pts shm mqueue; do
                if mountpoint -q "$S/hostdev/$d"; then
                        mount --bind "$S/hostdev/$d" "/dev/$d" || die "put back /dev/$d"
                fi
        done
}

# ns_syslog FILE: catch syslog(3) messages on the namespace's /dev/log (after ns_private_dev),
# one per line in FILE; sets ns_syslog_pid (kill it in ns_on_exit). Returns once a probe arrived.
ns_syslog() {
        rm -f /dev/log
        python3 - "$1" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
with open(sys.argv[1], "a", buffering=1) as f:
    while True:
        f.write(s.recv(8192).decode("utf-8", "backslashreplace").rstrip("\n") + "\n")
PY
        ns_syslog_pid=$!
        local _
        for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
        [ -S /dev/log ] || die "the syslog catcher did not start"
        logger -t roles-ns probe
        for _ in $(seq 50); do grep -q 'roles-ns.*probe' "$1" 2>/dev/null && break; sleep 0.1; done
        grep -q 'roles-ns.*probe' "$1" 2>/dev/null || die "syslog messages do not arrive"
}

# ns_sudoers [LINE...]: /etc/sudoers trusting root and the group admin (a published metarole in
# the tests), one password try, plus the LINEs; no /etc/sudoers.d.
ns_sudoers() {
        {
                printf '%s\n' 'Defaults env_reset' 'Defaults !lecture' 'Defaults passwd_tries=1' \
                        'root    ALL=(ALL:ALL) ALL' '%admin  ALL=(ALL:ALL) ALL'
                [ $# -eq 0 ] || printf '%s\n' "$@"
        } >/etc/sudoers
        chown root:root /etc/sudoers && chmod 0440 /etc/sudoers && rm -rf /etc/sudoers.d || die "write /etc/sudoers"
}

# ---- memcheck -------------------------------------------------------------------------------------
# With ROLES_TEST_VALGRIND=1 (`meson test --setup valgrind` sets it for shell tests, through
# tests/valgrind.sh), the programs under test run under valgrind memcheck: a script puts
# "${ns_valgrind[@]}" (empty otherwise) right before each one and calls ns_valgrind_verdict after.
ns_valgrind=()

# ns_valgrind_setup MODULE...: after ns_enter. A sanitizer-built module cannot run under valgrind.
ns_valgrind_setup() {
        [ "${ROLES_TEST_VALGRIND:-}" = 1 ] || return 0
        need valgrind || finish     # ROLES_TEST_VALGRIND=1 asks for it
        local m
        for m in "$@"; do
                [ -z "$(ns_sanitizer_preload "$m")" ] || die "$m is sanitizer-built: valgrind needs a build without -Db_sanitize"
        done
        # Where any user can run it (the checks made as nobody), with logs anyone can write.
        mkdir -m 0755 "$S/valgrind" && mkdir -m 1777 "$S/valgrind/log" &&
                install -m 0755 "$ns_lib_dir/valgrind.sh" "$S/valgrind/" || die "set up $S/valgrind"
        ns_valgrind=("$S/valgrind/valgrind.sh" "--log-file=$S/valgrind/log/%p.log" --track-fds=yes)
        echo "# the programs under test run under valgrind memcheck"
}

# ns_valgrind_verdict WHAT [FD_ERE]: when memcheck is on, one check per process it ran since the
# last verdict: no error and, with FD_ERE, no descriptor of a path matching FD_ERE still open at
# exit. No process at all is a failure too: the program under test escaped memcheck. Call it in
# the script's own shell, not in a $(...) subshell, whose counts would be lost.
ns_valgrind_verdict() {
        [ ${#ns_valgrind[@]} -gt 0 ] || return 0
        local what=$1 fd_ere=${2:-} log n=0 open
        for log in "$S"/valgrind/log/*.log; do
                [ -e "$log" ] || continue
                n=$((n + 1))
                open=
                [ -n "$fd_ere" ] && open=$(grep -oE "Open file descriptor [0-9]+: ($fd_ere).*" "$log")
                if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
                        # No summary at all: valgrind was killed (a timeout) before the end.
                        fail "valgrind: $what: $(grep -oE 'ERROR SUMMARY: [0-9]+ errors' "$log" || echo 'no error summary')"
                        ns_valgrind_errors "$log"
                elif [ -n "$open" ]; then
                        fail "valgrind: $what: still open at exit: $(tr '\n' ' ' <<<"$open")"
                else
                        pass
                fi
                rm -f "$log"
        done
        [ "$n" -gt 0 ] || fail "valgrind: $what: no memcheck log (the program did not run under valgrind)"
}
# The error reports of a memcheck log, without its banner and summaries, descriptors and the
# "possibly lost" blocks, which are not errors.
ns_valgrind_errors() {
        sed -E 's/^==[0-9]+== ?//' "$1" |
                awk -v RS= -v ORS='\n\n' '!/^(Memcheck,|Use --track-origins|FILE DESCRIPTORS|Open file descriptor|HEAP SUMMARY|LEAK SUMMARY|Reachable blocks|For lists|For counts|ERROR SUMMARY)/ && !/are possibly lost in/' |
                sed 's/^/#   /' | head -n 80
}

# ns_system_modules MODULE_DIR: the built libnss_roles.so.2 (MODULE_DIR holds it, and its shadow
# plugin in roles/) goes into the
# library directory itself, through an overlay of this namespace, so that every program finds it,
# setuid ones (which ignore LD_LIBRARY_PATH) included; with a sanitizer-built module its runtime
# goes into /etc/ld.so.preload (after ns_overlay etc) and the sanitizer options are exported.
ns_system_modules() {
        local libc libdir rt
        libc=$(ldd /bin/true | awk '/libc\.so\.6/ { print $3 }')
        libdir=$(dirname "$(realpath "$libc")")
        mkdir -p "$S/syslib/u" "$S/syslib/w"
        cp "$1/libnss_roles.so.2" "$S/syslib/u/" && chmod 0644 "$S/syslib/u/libnss_roles.so.2" || die "copy the NSS module"
        mkdir -p "$S/syslib/u/roles" && cp "$1/roles/roles-nss-shadow.so" "$S/syslib/u/roles/" &&
                chmod 0644 "$S/syslib/u/roles/roles-nss-shadow.so" || die "copy the NSS module's shadow plugin"
        mount -t overlay overlay -o "lowerdir=$libdir,upperdir=$S/syslib/u,workdir=$S/syslib/w" "$libdir" ||
                die "overlay on $libdir"
        rt=$(ns_sanitizer_preload "$1/libnss_roles.so.2")
        if [ -n "$rt" ]; then
                tr ' ' '\n' <<<"$rt" >/etc/ld.so.preload
                export "${ns_sanitizer_options[@]}"
        fi
}

# ns_modules PAM_MODULE NSS_LIB_DIR: after ns_overlay etc: the NSS module where every program
# finds it (ns_system_modules), and the PAM module copied where anyone may read it; sets MOD.
ns_modules() {
        ns_system_modules "$2"
        mkdir -m 0755 "$S/lib" && cp "$1" "$S/lib/pam_roles.so" && chmod 0644 "$S/lib/pam_roles.so" ||
                die "copy the PAM module"
        MOD=$S/lib/pam_roles.so
}

# ns_enter_e2e NAME ROLESCTL PAM_MODULE NSS_LIB_DIR [EXTRA...]: a root end-to-end script's usual
# start: its three arguments (and, with ns_e2e_extra set to their names, as many more) checked,
# ns_enter, and R, P, L their absolute paths.
ns_e2e_extra=()
ns_enter_e2e() {
        local name=$1
        shift
        [ $# -eq $((3 + ${#ns_e2e_extra[@]})) ] ||
                { echo "usage: $(basename "$0") ROLESCTL PAM_MODULE NSS_LIB_DIR ${ns_e2e_extra[*]}" >&2; exit 1; }
        ns_enter "$name" "$@"
        R=$(realpath "$1")
        P=$(realpath "$2")
        L=$(realpath "$3")
}

# ---- sshd -----------------------------------------------------------------------------------------
# ns_sshd_start: a real sshd on 127.0.0.1 at a free port (PORT), PAM and passwords on, logging to
# $S/sshd.log, its pid in ns_sshd_pid (the caller kills it in ns_on_exit); sshd runs under
# `env "${ns_sshd_env[@]}"` (a sanitizer runtime, say). Host keys and /run/sshd are the caller's.
ns_sshd_env=()
ns_sshd_pid=
ns_port_free() {
        python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}
ns_sshd_start() {
        local port
        for _ in 1 2 3 4 5 6 7 8; do
                port=$((2222 + RANDOM % 30000))
                ns_port_free "$port" || continue
                : >"$S/sshd.log"
                env "${ns_sshd_env[@]}" /usr/sbin/sshd -D -o ListenAddress=127.0.0.1 -p "$port" -o UsePAM=yes \
                        -o PasswordAuthentication=yes -o KbdInteractiveAuthentication=yes \
                        -o PidFile="$S/sshd.pid" -E "$S/sshd.log" 2>"$S/sshd.stderr" &
                ns_sshd_pid=$!
                for _ in $(seq 100); do
                        grep -q "Server listening on 127.0.0.1 port $port" "$S/sshd.log" && { PORT=$port; return 0; }
                        kill -0 "$ns_sshd_pid" 2>/dev/null || break
                        sleep 0.05
                done
                kill "$ns_sshd_pid" 2>/dev/null; wait "$ns_sshd_pid" 2>/dev/null
                ns_sshd_pid=
        done
        return 1
}
