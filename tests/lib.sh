# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The one assertion library of the shell tests, sourced by every tests/test_*.sh (the root
# end-to-end ones through tests/ns-lib.sh). One dialect, one counter, one rule:
#  - every check counts once, in PASSED (pass) or FAILED (fail, which says why on a FAIL: line);
#  - a script ends with `finish`: its "N passed, M failed" is the last line, and its status is
#    non-zero when anything failed; `die` ends it early, counting one more failure;
#  - a tool a test needs and does not find is a failure, never a skip (CI installs its tools):
#    `need PROG... || finish`, or a check that needs the tool fails, it never passes or goes
#    quietly missing.
# The helpers about the last command and about rolesctl use the caller's globals: OUT, ERR and RC
# (the last command's output files and status), ROLESCTL and CONF (what rc runs), T (the
# directory of the databases) and DBS (the database files in it).

PASSED=0
FAILED=0

# ---- the scaffolding of a rolesctl test (test_cli, test_import, test_restore, test_completion) ----

# rolesctl_arg PATH: ROLESCTL, the built rolesctl meson passes, made absolute (the scripts cd);
# usage and exit 2 without one.
rolesctl_arg() {
        if [ -z "${1:-}" ] || [ ! -x "$1" ]; then
                echo "usage: $0 PATH/TO/rolesctl" >&2
                exit 2
        fi
        case $1 in /*) ROLESCTL=$1 ;; *) ROLESCTL=$PWD/$1 ;; esac
}

# scratch_dir NAME: T, a fresh temporary directory (0755: the tests' non-root users read in it)
# that becomes the working directory and is removed on exit, after the script's own
# scratch_cleanup if it defines one; OUT, ERR, RC and DBS as the helpers below use them.
scratch_dir() {
        T=$(mktemp -d "${TMPDIR:-/tmp}/roles-$1.XXXXXX") || exit 2
        chmod 755 "$T"
        trap 'declare -F scratch_cleanup >/dev/null && scratch_cleanup; rm -rf "$T"' EXIT
        cd "$T" || exit 2
        OUT=$T/out
        ERR=$T/err
        RC=0
        DBS="roles.db secrets.db state.db"
}

# test_conf DIR [KEY=VALUE...]: DIR/roles.conf (0644) with its databases in DIR, ids 10000-59999
# and argon2 at its cheapest, each KEY=VALUE given replacing or adding a line (a key may stand
# only once in the file).
test_conf() {
        local dir=$1 arg key
        shift
        local -A value=([public_db]=$dir/roles.db [secrets_db]=$dir/secrets.db [state_db]=$dir/state.db
                [uid_min]=10000 [uid_max]=59999 [gid_min]=10000 [gid_max]=59999
                [argon2_t_cost]=1 [argon2_m_cost_kib]=1024 [argon2_parallelism]=1)
        local order=(public_db secrets_db state_db uid_min uid_max gid_min gid_max argon2_t_cost
                argon2_m_cost_kib argon2_parallelism)
        for arg in "$@"; do
                key=${arg%%=*}
                [ -n "${value[$key]+set}" ] || order+=("$key")
                value[$key]=${arg#*=}
        done
        mkdir -p "$dir" || return 1
        for key in "${order[@]}"; do
                printf '%-19s = %s\n' "$key" "${value[$key]}"
        done >"$dir/roles.conf" && chmod 644 "$dir/roles.conf"
}

pass() {
        PASSED=$((PASSED + 1))
}

# fail WHY
fail() {
        FAILED=$((FAILED + 1))
        echo "FAIL: $*"
}

# finish: the summary line, last; exit status 0 only when nothing failed.
finish() {
        echo "$PASSED passed, $FAILED failed"
        [ "$FAILED" -eq 0 ]
        exit
}

# die WHY: a failure after which the script cannot go on (the setup broke). A script may define
# on_die (extra output, such as the tail of a log) before the summary.
die() {
        echo "FATAL: $*"
        declare -F on_die >/dev/null && on_die
        FAILED=$((FAILED + 1))
        finish
}

# check WHAT COMMAND...: the command succeeds.
check() {
        local what=$1
        shift
        if "$@"; then pass; else fail "$what"; fi
}

# eq WHAT GOT WANT
eq() {
        if [ "$2" = "$3" ]; then pass; else fail "$1: got <<$2>>, want <<$3>>"; fi
}

# need PROG...: each is installed; each missing one is a failure naming the package to install.
# Non-zero when one is missing: the caller stops (`need ... || finish`) or leaves out the checks
# that use it, which then count as the failure.
need() {
        local prog pkg missing=0
        for prog in "$@"; do
                command -v "$prog" >/dev/null 2>&1 && continue
                case ${prog##*/} in
                sshd) pkg=openssh-server ;;
                ssh | ssh-keygen) pkg=openssh-client ;;
                setpriv | runuser | flock | fallocate) pkg=util-linux ;;
                getent | ldd) pkg=libc-bin ;;
                readelf | nm) pkg=binutils ;;
                cc) pkg=gcc ;;
                *) pkg=${prog##*/} ;;
                esac
                fail "$prog is missing (apt-get install $pkg)"
                missing=1
        done
        return $missing
}

# ---- the last command: $OUT, $ERR, $RC ------------------------------------------------------------

# run_cmd CMD...: CMD with nothing on stdin (/dev/null); sets RC, fills $OUT and $ERR.
run_cmd() {
        "$@" </dev/null >"$OUT" 2>"$ERR"
        RC=$?
}

# run_cmd_in INPUT CMD...: the same with INPUT on stdin.
run_cmd_in() {
        local input=$1
        shift
        printf '%s' "$input" | "$@" >"$OUT" 2>"$ERR"
        RC=$?
}

show_last() {
        echo "      exit $RC; stdout: $(head -c 600 "$OUT" | sed 's/^/|/' | tr '\n' ' ')"
        echo "      stderr: $(head -c 600 "$ERR" | tr '\n' ' ')"
}

# err_has DESC TEXT: the last stderr contains TEXT.
err_has() {
        if grep -qF -- "$2" "$ERR"; then
                pass
        else
                fail "$1: stderr lacks '$2'"
                show_last
        fi
}

# err_lacks WHAT TEXT: the last command's stderr does not hold TEXT.
err_lacks() {
        if grep -qF -- "$2" "$ERR"; then
                fail "$1: stderr holds '$2'"
                show_last
        else
                pass
        fi
}

# out_has DESC TEXT / out_lacks DESC TEXT / out_match DESC ERE: about the last stdout.
out_has() {
        if grep -qF -- "$2" "$OUT"; then
                pass
        else
                fail "$1: output lacks '$2'"
                show_last
        fi
}

out_lacks() {
        if grep -qF -- "$2" "$OUT"; then
                fail "$1: output has '$2'"
                show_last
        else
                pass
        fi
}

out_match() {
        if grep -qE -- "$2" "$OUT"; then
                pass
        else
                fail "$1: output matches no line of /$2/"
                show_last
        fi
}

# field DESC KEY VALUE: a "show" line "KEY   VALUE" (key: value layout) in the last stdout.
field() {
        if awk -v k="$2" -v v="$3" '
                { line = $0; key = $1; sub(/^[^ ]+ +/, "", line) }
                key == k && line == v { found = 1 }
                END { exit !found }' "$OUT"; then
                pass
        else
                fail "$1: no line '$2 $3'"
                show_last
        fi
}

# json_valid DESC: the last stdout is valid JSON.
json_valid() {
        need python3 || return 0
        if python3 -m json.tool "$OUT" >/dev/null 2>"$T/json.err"; then
                pass
        else
                fail "$1: invalid JSON: $(cat "$T/json.err")"
                show_last
        fi
}

# json_true DESC PYEXPR: PYEXPR over the parsed last stdout `d` is true.
json_true() {
        need python3 || return 0
        if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + "\n)") else 1)' "$OUT" "$2" 2>"$T/json.err"; then
                pass
        else
                fail "$1: JSON does not satisfy: $2 $(head -c 300 "$T/json.err")"
                show_last
        fi
}

# ---- rolesctl -----------------------------------------------------------------------------------

rc() {
        "$ROLESCTL" --conf "$CONF" "$@"
}

snapshot() {
        rm -rf "$T/snap"
        mkdir "$T/snap"
        local f
        for f in $DBS; do
                [ -e "$T/$f" ] && cp -p "$T/$f" "$T/snap/$f"
        done
}

# unchanged: every database file is byte for byte what snapshot saw (or still missing).
unchanged() {
        local f
        for f in $DBS; do
                if [ -e "$T/snap/$f" ]; then
                        cmp -s "$T/snap/$f" "$T/$f" || { echo "$f changed"; return 1; }
                elif [ -e "$T/$f" ]; then
                        echo "$f appeared"
                        return 1
                fi
        done
        return 0
}

# one_error: stderr is exactly one newline-terminated line starting with "rolesctl: ".
one_error() {
        [ "$(wc -l <"$ERR")" -eq 1 ] && [ "$(head -c 10 "$ERR")" = "rolesctl: " ] &&
                [ "$(tail -c 1 "$ERR" | od -An -c | tr -d ' ')" = '\n' ]
}

# last_ok DESC: the last command exited 0 with nothing on stderr.
last_ok() {
        if [ "$RC" -eq 0 ] && [ ! -s "$ERR" ]; then
                pass
        else
                fail "$1: expected success"
                show_last
        fi
}

# last_refused CODE DESC: the last command exited CODE with one error line, nothing on stdout, and
# left the databases as snapshot saw them.
last_refused() {
        local why
        if [ "$RC" -ne "$1" ]; then
                fail "$2: expected exit $1"
                show_last
        elif ! one_error; then
                fail "$2: expected exactly one 'rolesctl: ' line on stderr"
                show_last
        elif [ -s "$OUT" ]; then
                fail "$2: expected nothing on stdout"
                show_last
        elif ! why=$(unchanged); then
                fail "$2: a refused command changed the databases ($why)"
                show_last
        else
                pass
        fi
}

# run_ok DESC CMD... / run_ok_in INPUT DESC CMD...: CMD exits 0 and says nothing on stderr.
run_ok() {
        local desc=$1
        shift
        run_cmd "$@"
        last_ok "$desc"
}

run_ok_in() {
        local input=$1 desc=$2
        shift 2
        run_cmd_in "$input" "$@"
        last_ok "$desc"
}

# run_exits CODE DESC CMD...: CMD exits CODE and says nothing on stderr (check's "no": 1).
run_exits() {
        local code=$1 desc=$2
        shift 2
        run_cmd "$@"
        if [ "$RC" -eq "$code" ] && [ ! -s "$ERR" ]; then
                pass
        else
                fail "$desc: expected exit $code and a quiet stderr"
                show_last
        fi
}

# run_refused CODE DESC CMD... / run_refused_in INPUT CODE DESC CMD...: CMD is refused with exit
# CODE, one error line, nothing on stdout, and the databases unchanged byte for byte.
run_refused() {
        local code=$1 desc=$2
        shift 2
        snapshot
        run_cmd "$@"
        last_refused "$code" "$desc"
}

run_refused_in() {
        local input=$1 code=$2 desc=$3
        shift 3
        snapshot
        run_cmd_in "$input" "$@"
        last_refused "$code" "$desc"
}

# sql DB SQL: the rows of a read-only query. It runs inside $(...), where a failure could not be
# counted (and its message would become the value compared), so a missing sqlite3 is one line on
# stderr and a non-zero status here; a script that uses sql counts the failure with
# `need sqlite3` in its own shell, since two empty results compare equal.
sql() {
        if ! command -v sqlite3 >/dev/null 2>&1; then
                echo "sql: sqlite3 is missing (apt-get install sqlite3)" >&2
                return 127
        fi
        sqlite3 -readonly "$1" "$2"
}

serial() {
        sql "$T/roles.db" "SELECT value FROM meta WHERE key = 'serial'"
}
