#!/bin/bash
# SPDX-License-Identifier: MIT
# The manual pages document what the code does, taken from the code, not from a list kept here:
#  - rolesctl(8): every command of rolesctl's command tables and of `rolesctl --help`, each with
#    an entry of its own (a line beginning with the command) that names every option its usage
#    prints (`rolesctl CMD --unknown-option` prints the usage), with the sub-commands the usage
#    names (`user totp enroll|disable`); every global option main.c accepts and every option
#    `rolesctl --help` prints;
#  - pam_roles(8): an entry under OPTIONS for every option of pam_common.c's option table;
#  - roles.conf(5): an entry under KEYS for every key of common/config.c's key table, saying its
#    default as roles_config_defaults sets it (a key it leaves empty: a default all the same);
#  - roles-agent(8): an entry under OPTIONS for every option of roles_agent.c's getopt table, and
#    one under EXIT STATUS for every exit code of its enum;
#  - nss-roles(8): an entry under DATABASES for every database libnss_roles.so.2 exports entry
#    points for (nm), the functions it serves, and its nsswitch.conf line under EXAMPLES;
#  - every page renders without a warning from man (MANWIDTH=80) or from `groff -ww -z -man`.
# A check runs on the page as man renders it, so text in a roff comment does not count. Each kind
# of check is shown to fail on a rendered page with one entry taken out.
#
#   test_man.sh ROLESCTL NSS_LIB SOURCE_ROOT MAN_DIR
set -u
ROLESCTL=${1:?usage: test_man.sh ROLESCTL NSS_LIB SOURCE_ROOT MAN_DIR}
NSS_LIB=${2:?}
SRC=${3:?}
MAN=${4:?}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh" || exit 2
need man groff nm || finish

T=$(mktemp -d "${TMPDIR:-/tmp}/roles-man.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
OUT=$T/out
ERR=$T/err
RC=0

# ---- the pages as man renders them --------------------------------------------------------------

# render PAGE: $T/PAGE.txt as an administrator's `man` shows it at 80 columns (UTF-8, as a
# terminal is), and no warning from man or from groff with every warning on.
render() {
        local page=$1 src=$MAN/$1
        if [ ! -s "$src" ]; then
                fail "$src: not built"
                return 1
        fi
        grep -qE '@(DEFAULT_CONF|CHKPWD_PATH)@' "$src" && fail "$page: a @VARIABLE@ left unsubstituted"
        if ! LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat man --warnings -l "$src" >"$T/$page.txt" 2>"$T/$page.man-warn" ||
                [ -s "$T/$page.man-warn" ] || [ ! -s "$T/$page.txt" ]; then
                fail "$page: man -l: $(head -c 600 "$T/$page.man-warn")"
        else
                pass
        fi
        if groff -ww -z -man "$src" 2>"$T/$page.groff-warn" && [ ! -s "$T/$page.groff-warn" ]; then
                pass
        else
                fail "$page: groff -ww -z -man: $(head -c 600 "$T/$page.groff-warn")"
        fi
}

# section TEXT NAME: the lines of section NAME (a heading at column 0, up to the next).
section() {
        awk -v name="$2" '/^[^ ]/ { on = ($0 == name); next } on' "$1"
}

# A term is a line at the body's indent (7 spaces) that begins an entry; the entry runs to the
# next line at that indent that begins with one of STARTS (newline-separated), or to the next
# heading. flat joins the lines, a word broken after its hyphen ("--pass-" / "word") whole again.
entry() {
        awk -v item="$2" -v starts="$3" '
                function begins(line, s) {
                        return substr(line, 1, 7) == "       " && index(substr(line, 8), s) == 1 &&
                               (s ~ /=$/ || substr(line, 8 + length(s), 1) ~ /^[ ,=]?$/)
                }
                BEGIN { n = split(starts, list, "\n") }
                /^[^ ]/ || /^   [^ ]/ { if (on) exit }
                on && substr($0, 1, 7) == "       " && substr($0, 8, 1) != " " {
                        for (i = 1; i <= n; i++) if (list[i] != item && begins($0, list[i])) exit
                }
                !on && begins($0, item) { on = 1 }
                on' "$1"
}

flat() {
        sed 's/^ *//' | awk '{ if (prev ~ /-$/) printf "%s", $0; else printf "%s%s", (NR > 1 ? " " : ""), $0; prev = $0 } END { print "" }'
}

# has_word TEXT WORD: WORD stands on its own in TEXT (not inside a longer option or name).
has_word() {
        local w=${2//./\\.}
        grep -qE -- "(^|[^a-z0-9_-])${w}([^a-z0-9_-]|\$)" <<<"$1"
}

# has_entry FILE SECTION ITEM STARTS: SECTION of FILE has an entry for ITEM; prints it.
has_entry() {
        section "$1" "$2" >"$T/section"
        local text
        text=$(entry "$T/section" "$3" "$4" | flat)
        [ -n "$text" ] || return 1
        printf '%s\n' "$text"
}

# ---- what the code knows ------------------------------------------------------------------------

# table_lines FILE START: the lines of the C table (or function) whose first line contains
# START, up to its closing brace at column 0.
table_lines() {
        awk -v start="$2" 'index($0, start) { on = 1; next } on && /^}/ { exit } on' "$1"
}

# rolesctl's commands: "noun" or "noun verb" from every `const struct command NAME[] = {` table.
# A table line that opens an entry must parse, so that an entry this test cannot read fails it.
commands=()
declare -A takes_verb=()
for f in "$SRC"/rolesctl/*.c; do
        grep -q 'const struct command [a-z_]*\[\] = {' "$f" || continue
        while IFS= read -r line; do
                case $line in *'{'*) ;; *) continue ;; esac
                if [[ $line =~ ^[[:space:]]*\{\ \"([a-z]+)\",\ (NULL|\"([a-z]+)\"), ]]; then
                        noun=${BASH_REMATCH[1]} verb=${BASH_REMATCH[3]}
                        commands+=("$noun${verb:+ $verb}")
                        [ -n "$verb" ] && takes_verb[$noun]=1
                else
                        fail "${f#"$SRC"/}: a command table line this test cannot read: $line"
                fi
        done < <(table_lines "$f" 'const struct command ')
done
check "rolesctl's command tables: only ${#commands[@]} commands found" [ ${#commands[@]} -ge 20 ]

# ... and every command `rolesctl --help` names, one a line under "commands:" ("  user add   what
# it does"): a noun of the tables, then its verb when the noun takes one.
run_cmd "$ROLESCTL" --help
if [ "$RC" -eq 0 ] && [ -s "$OUT" ]; then pass; else fail "rolesctl --help"; show_last; fi
cp "$OUT" "$T/help"
while IFS= read -r segment; do
        read -r noun second _ <<<"$segment"
        [[ ${noun:-} =~ ^[a-z]+$ ]] || continue        # a usage's continuation line
        if [ -n "${takes_verb[$noun]:-}" ]; then
                [[ ${second:-} =~ ^[a-z]+(\|[a-z]+)*$ ]] || { fail "--help: '$segment': no verb"; continue; }
                IFS='|' read -ra verbs <<<"$second"
                for v in "${verbs[@]}"; do commands+=("$noun $v"); done
        elif printf '%s\n' "${commands[@]}" | grep -qx -- "$noun"; then
                :
        else
                fail "--help names '$noun', which no command table has"
        fi
done < <(sed -n '/^commands:$/,/^$/p' "$T/help" | tail -n +2)
mapfile -t commands < <(printf '%s\n' "${commands[@]}" | sort -u)

# Each command's usage (what it prints for an unknown option), with the sub-commands it names:
# "user totp enroll|disable NAME" makes "user totp enroll" and "user totp disable".
cat >"$T/roles.conf" <<EOF
public_db  = $T/roles.db
secrets_db = $T/secrets.db
state_db   = $T/state.db
EOF
chmod 644 "$T/roles.conf"
declare -A usage=()
pages_commands=()
for cmd in "${commands[@]}"; do
        # shellcheck disable=SC2086 # the command's words
        run_cmd "$ROLESCTL" --conf "$T/roles.conf" $cmd --no-such-option-for-the-man-test
        u=$(sed -n 's/.*usage: rolesctl //p' "$ERR")
        if [ -z "$u" ]; then
                fail "rolesctl $cmd: prints no usage"
                show_last
                continue
        fi
        rest=${u#"$cmd"}
        read -r sub _ <<<"$rest"
        if [ "$rest" != "$u" ] && [[ ${sub:-} =~ ^[a-z]+(\|[a-z]+)*$ ]]; then
                IFS='|' read -ra subs <<<"$sub"
                for s in "${subs[@]}"; do
                        pages_commands+=("$cmd $s")
                        usage["$cmd $s"]=$u
                done
        else
                pages_commands+=("$cmd")
                usage[$cmd]=$u
        fi
done
[ -e "$T/roles.db" ] && fail "asking for the usages created $T/roles.db"

# The global options main.c accepts, and every option --help prints.
mapfile -t global_opts < <(grep -oE 'argv\[i\], "-{1,2}[a-z]+(-[a-z]+)*' "$SRC/rolesctl/main.c" | sed 's/.*"//' | sort -u)
check "rolesctl/main.c: only ${#global_opts[@]} global options found" [ ${#global_opts[@]} -ge 4 ]
mapfile -t help_opts < <(grep -oE -- '--[a-z]+(-[a-z]+)*' "$T/help" | sort -u)

# pam_roles' options: pam_common.c's option table ("name", or "name=" for one with a value).
mapfile -t pam_opts < <(table_lines "$SRC/pam_roles/pam_common.c" '} options[] = {' | grep -oE '^[[:space:]]*\{ "[a-z_]+=?"' | sed 's/.*"\(.*\)"/\1/')
n_entries=$(table_lines "$SRC/pam_roles/pam_common.c" '} options[] = {' | grep -cE '^[[:space:]]*\{')
check "pam_common.c's option table: ${#pam_opts[@]} options read of $n_entries entries" \
        [ ${#pam_opts[@]} -ge 5 -a ${#pam_opts[@]} -eq "$n_entries" ]

# roles.conf's keys: config.c's key table (PATH_KEY(name), U32_KEY(name, ...)), and each key's
# default from roles_config_defaults.
# A key of a kind of its own is written out: { "name", KEY_KIND, ... }.
mapfile -t conf_keys < <(table_lines "$SRC/common/config.c" 'static const struct key keys[] = {' |
        sed -nE 's/^[[:space:]]*[A-Z0-9_]+\(([a-z0-9_]+).*/\1/p; s/^[[:space:]]*\{ "([a-z0-9_]+)", KEY_.*/\1/p')
n_entries=$(table_lines "$SRC/common/config.c" 'static const struct key keys[] = {' | grep -cE '^[[:space:]]*([A-Z0-9_]+\(|\{ ")')
check "config.c's key table: ${#conf_keys[@]} keys read of $n_entries entries" \
        [ ${#conf_keys[@]} -ge 20 -a ${#conf_keys[@]} -eq "$n_entries" ]
declare -A conf_default=()
while IFS='=' read -r k v; do
        conf_default[$k]=$v
done < <(table_lines "$SRC/common/config.c" 'void roles_config_defaults(' |
        sed -n 's/^[[:space:]]*\.\([a-z0-9_]*\) = "\{0,1\}\([^",]*\)"\{0,1\},$/\1=\2/p')

# roles-agent's options (its getopt_long table: { "name", ...) and exit codes (EXIT_NAME = N).
agent_src=$SRC/agent/roles_agent.c
mapfile -t agent_opts < <(table_lines "$agent_src" 'static const struct option options[] = {' |
        grep -oE '\{ "[a-z]+(-[a-z]+)*"' | sed 's/.*"\(.*\)"/--\1/')
check "roles_agent.c's option table: only ${#agent_opts[@]} options" [ ${#agent_opts[@]} -ge 5 ]
mapfile -t agent_codes < <(grep -E '^enum \{ EXIT_' "$agent_src" | grep -oE 'EXIT_[A-Z_]+ = [0-9]+' | sed 's/.* = //')
check "roles_agent.c's exit codes: only ${#agent_codes[@]}" [ ${#agent_codes[@]} -ge 4 ]

# The NSS databases the module serves: its exported entry points.
mapfile -t nss_funcs < <(nm -D --defined-only "$NSS_LIB" | awk '$3 ~ /^_nss_roles_/ { sub(/^_nss_roles_/, "", $3); print $3 }' | sort -u)
check "nm $NSS_LIB: only ${#nss_funcs[@]} entry points" [ ${#nss_funcs[@]} -ge 4 ]
declare -A nss_db=()
nss_calls=()
for fn in "${nss_funcs[@]}"; do
        case $fn in
        initgroups_dyn) nss_db[initgroups]=1; nss_calls+=(initgroups) ;;
        set??ent | end??ent | get??ent_r | get??nam_r | get??uid_r | get??gid_r)
                case $fn in
                *pw*) nss_db[passwd]=1 ;;
                *gr*) nss_db[group]=1 ;;
                *sp*) nss_db[shadow]=1 ;;
                *) fail "entry point _nss_roles_$fn of no database this test knows" ;;
                esac
                case $fn in get*) nss_calls+=("${fn%_r}") ;; esac ;;
        *) fail "entry point _nss_roles_$fn that this test cannot map to a database" ;;
        esac
done

# ---- the checks ---------------------------------------------------------------------------------

# check_command TEXT CMD: CMD has an entry in COMMANDS, naming every option of its usage.
check_command() {
        local text opt missing=""
        text=$(has_entry "$1" COMMANDS "$2" "$cmd_starts") || { echo "no entry for '$2' in COMMANDS"; return 1; }
        while read -r opt; do
                has_word "$text" "$opt" || missing+=" $opt"
        done < <(grep -oE -- '--[a-z]+(-[a-z]+)*' <<<"${usage[$2]}")
        [ -z "$missing" ] || { echo "the entry of '$2' lacks$missing"; return 1; }
}

# check_option TEXT OPT: a global option, in OPTIONS.
check_option() {
        has_word "$(section "$1" OPTIONS | flat)" "$2" || { echo "OPTIONS lacks $2"; return 1; }
}

# check_anywhere TEXT WORD
check_anywhere() {
        has_word "$(flat <"$1")" "$2" || { echo "the page lacks $2"; return 1; }
}

# check_pam TEXT OPT: an entry under OPTIONS.
check_pam() {
        has_entry "$1" OPTIONS "$2" "$pam_starts" >/dev/null || { echo "no entry for $2 under OPTIONS"; return 1; }
}

# check_key TEXT KEY: an entry under KEYS ("key = ..."), with "Default: VALUE".
check_key() {
        local text want=${conf_default[$2]:-}
        text=$(has_entry "$1" KEYS "$2 =" "$key_starts") || { echo "no entry '$2 = ...' under KEYS"; return 1; }
        if [ -z "$want" ]; then
                # Left empty by roles_config_defaults: the page says what that means.
                grep -qE -- "Default: [a-z]" <<<"$text" || { echo "the entry of $2 says no default: $text"; return 1; }
                return 0
        fi
        grep -qE -- "Default: ${want//./\\.}([^0-9a-z_/.]|\.( |\$)|\$)" <<<"$text" ||
                { echo "the entry of $2 does not say 'Default: $want': $text"; return 1; }
}

# check_agent_option TEXT OPT: an entry under OPTIONS of roles-agent(8).
check_agent_option() {
        has_entry "$1" OPTIONS "$2" "$agent_opt_starts" >/dev/null || { echo "no entry for $2 under OPTIONS"; return 1; }
}

# check_exit TEXT CODE: an entry under EXIT STATUS.
check_exit() {
        has_entry "$1" "EXIT STATUS" "$2" "$agent_code_starts" >/dev/null || { echo "no entry for $2 under EXIT STATUS"; return 1; }
}

# check_db TEXT DB: an entry under DATABASES, and its nsswitch.conf line under EXAMPLES.
check_db() {
        has_entry "$1" DATABASES "$2" "$db_starts" >/dev/null || { echo "no entry for $2 under DATABASES"; return 1; }
        [ "$2" = initgroups ] && return 0     # glibc takes initgroups from the group line
        section "$1" EXAMPLES | grep -qE "^ +$2: .*[[:space:]]roles\$" || { echo "EXAMPLES has no '$2: ... roles' line"; return 1; }
}

# check_call TEXT FUNC: a function the module serves is named under DATABASES.
check_call() {
        has_word "$(section "$1" DATABASES | flat)" "$2" || { echo "DATABASES does not name $2"; return 1; }
}

# expect_all PAGE CHECK ITEM...: `CHECK PAGE_TEXT ITEM` passes for each ITEM.
expect_all() {
        local page=$1 check=$2 item why
        shift 2
        for item in "$@"; do
                if why=$("$check" "$T/$page.txt" "$item"); then pass; else fail "$page: $why"; fi
        done
}

# canary PAGE ITEM CHECK ARG...: with ITEM's entry taken out of the rendered page (its lines, up to
# the next entry), `CHECK PAGE_TEXT ARG...` fails: the checks above can fail.
canary() {
        local page=$1 item=$2 check=$3
        shift 3
        awk -v item="$item" '
                substr($0, 1, 7) == "       " && substr($0, 8, 1) != " " { skip = index(substr($0, 8), item) == 1 }
                /^[^ ]/ || /^   [^ ]/ { skip = 0 }
                !skip' "$T/$page.txt" >"$T/canary.txt"
        if cmp -s "$T/$page.txt" "$T/canary.txt"; then
                fail "canary: $page has no entry '$item' to take out"
        elif "$check" "$T/canary.txt" "$@" >/dev/null; then
                fail "canary: $page without its entry '$item' still passes $check"
        else
                pass
        fi
}

pam_starts=$(printf '%s\n' "${pam_opts[@]}")
key_starts=$(printf '%s =\n' "${conf_keys[@]}")
db_starts=$(printf '%s\n' "${!nss_db[@]}")
cmd_starts=$(printf '%s\n' "${pages_commands[@]}")
agent_opt_starts=$(printf '%s\n' "${agent_opts[@]}")
agent_code_starts=$(printf '%s\n' "${agent_codes[@]}")

render rolesctl.8 && {
        expect_all rolesctl.8 check_command "${pages_commands[@]}"
        expect_all rolesctl.8 check_option "${global_opts[@]}"
        expect_all rolesctl.8 check_anywhere "${help_opts[@]}"
        canary rolesctl.8 "user totp enroll" check_command "user totp enroll"
}
render pam_roles.8 && {
        expect_all pam_roles.8 check_pam "${pam_opts[@]}"
        canary pam_roles.8 "no_totp" check_pam no_totp
}
render roles.conf.5 && {
        expect_all roles.conf.5 check_key "${conf_keys[@]}"
        canary roles.conf.5 "login_slot_wait_ms =" check_key login_slot_wait_ms
        canary roles.conf.5 "fleet_ca =" check_key fleet_ca
}
render roles-agent.8 && {
        expect_all roles-agent.8 check_agent_option "${agent_opts[@]}"
        expect_all roles-agent.8 check_exit "${agent_codes[@]}"
        canary roles-agent.8 "--once" check_agent_option --once
        canary roles-agent.8 "2" check_exit 2
}
# roles_chkpwd(8): its modes, as chkpwd-protocol.h defines them.
mapfile -t chkpwd_modes < <(grep -oE '^#define CHKPWD_MODE_[A-Z_]+ +"[a-z-]+"' "$SRC/chkpwd/chkpwd-protocol.h" | sed 's/.*"\(.*\)"/\1/')
chkpwd_defines=$(grep -c '^#define CHKPWD_MODE_' "$SRC/chkpwd/chkpwd-protocol.h")
check "chkpwd-protocol.h's modes: ${#chkpwd_modes[@]} read of $chkpwd_defines" \
        [ ${#chkpwd_modes[@]} -ge 1 -a ${#chkpwd_modes[@]} -eq "$chkpwd_defines" ]
render roles_chkpwd.8 && expect_all roles_chkpwd.8 check_anywhere "${chkpwd_modes[@]}"
render nss-roles.8 && {
        expect_all nss-roles.8 check_db "${!nss_db[@]}"
        expect_all nss-roles.8 check_call "${nss_calls[@]}"
        canary nss-roles.8 "shadow" check_db shadow
}

finish
