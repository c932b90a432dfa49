# shellcheck shell=bash
# Assertions shared by the rolesctl test scripts (test_cli.sh, test_import.sh), sourced by them.
# They use the caller's globals: ROLESCTL and CONF (what rc runs), T (the temp dir), DBS (the
# database files), OUT, ERR and RC (the last command's), PASSED and FAILED (the counters).
# The JSON checks need python3 and sql needs sqlite3 (CI installs both): a check whose tool is
# missing fails, it never passes or goes quietly missing.

rc() {
        "$ROLESCTL" --conf "$CONF" "$@"
}

pass() {
        PASSED=$((PASSED + 1))
}

fail() {
        FAILED=$((FAILED + 1))
        echo "FAIL: $*"
}

show_last() {
        echo "      exit $RC; stdout: $(head -c 600 "$OUT" | sed 's/^/|/' | tr '\n' ' ')"
        echo "      stderr: $(head -c 600 "$ERR" | tr '\n' ' ')"
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

# eq DESC GOT WANT
eq() {
        if [ "$2" = "$3" ]; then
                pass
        else
                fail "$1: got '$2', want '$3'"
        fi
}

# need TOOL DESC: TOOL is installed; otherwise the check DESC fails, naming what is missing.
need() {
        command -v "$1" >/dev/null 2>&1 && return 0
        fail "$2: $1 is missing (apt-get install $1)"
        return 1
}

# json_valid DESC: the last stdout is valid JSON.
json_valid() {
        need python3 "$1" || return 0
        if python3 -m json.tool "$OUT" >/dev/null 2>"$T/json.err"; then
                pass
        else
                fail "$1: invalid JSON: $(cat "$T/json.err")"
                show_last
        fi
}

# json_true DESC PYEXPR: PYEXPR over the parsed last stdout `d` is true.
json_true() {
        need python3 "$1" || return 0
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

# sql DB SQL: the rows of a read-only query. It runs inside $(...), where a failure could not be
# counted (and its message would become the value compared), so a missing sqlite3 is one line on
# stderr and a non-zero status here; a script that uses sql counts the failure with
# `need sqlite3 ...` in its own shell, since two empty results compare equal.
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
