# shellcheck shell=bash
# Assertions shared by the rolesctl test scripts (test_cli.sh, test_import.sh), sourced by them.
# They use the caller's globals: ROLESCTL and CONF (what rc runs), T (the temp dir), DBS (the
# database files), OUT, ERR and RC (the last command's), PASSED and FAILED (the counters),
# HAVE_PYTHON and HAVE_SQLITE.

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

# json_true DESC PYEXPR: with python3, PYEXPR over the parsed last stdout `d` is true.
json_true() {
        $HAVE_PYTHON || { pass; return; }
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

# sql DB SQL: one value from a database, read-only (sqlite3, else python3's sqlite3 module).
sql() {
        if $HAVE_SQLITE3; then
                sqlite3 -readonly "$1" "$2"
        elif $HAVE_PYTHON; then
                python3 -c '
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))' "$1" "$2"
        else
                return 1
        fi
}

serial() {
        sql "$T/roles.db" "SELECT value FROM meta WHERE key = 'serial'"
}
