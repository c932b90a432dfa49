#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Bash completion of rolesctl, as a shell runs it: a real bash with bash-completion loaded
# sources the installed script (rolesctl/completion.bash), COMP_WORDS, COMP_CWORD, COMP_LINE
# and COMP_POINT are set as readline sets them for a line with the cursor at its end, and
# COMPREPLY is what it offers. Commands and options are compared with what `rolesctl help`
# prints (the script knows none of them); names come from a real roles.db. A user who cannot
# read the databases gets no names and no error; 10k users complete in well under a second.
#
#   tests/test_completion.sh PATH/TO/rolesctl PATH/TO/completion.bash
set -u

ROLESCTL=${1:?usage: test_completion.sh ROLESCTL COMPLETION_SCRIPT}
SCRIPT=${2:?usage: test_completion.sh ROLESCTL COMPLETION_SCRIPT}
case $ROLESCTL in /*) ;; *) ROLESCTL=$PWD/$ROLESCTL ;; esac
case $SCRIPT in /*) ;; *) SCRIPT=$PWD/$SCRIPT ;; esac
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh" || exit 2

BASH_COMPLETION=/usr/share/bash-completion/bash_completion
if [ ! -r "$BASH_COMPLETION" ]; then
        fail "$BASH_COMPLETION is missing (apt-get install bash-completion)"
        finish
fi
need setpriv || finish

scratch_dir completion

test_conf "$T/db"
CONF=$T/db/roles.conf
AS=()

# complete_line LINE [ENV=VALUE...]: what the shell offers for LINE, the cursor at its end, one
# candidate a line, sorted, into $OUT; the completion's stderr into $ERR. rolesctl is found on
# PATH as the shell would find it; ROLES_CONF is $CONF unless an ENV argument says otherwise; the
# shell runs as "${AS[@]}" says (nothing: as this script).
# Words are split as readline splits them: at blanks, and around each character of
# COMP_WORDBREAKS that rolesctl's words may hold ('=').
complete_line() {
        local line=$1
        shift
        "${AS[@]}" env PATH="$(dirname "$ROLESCTL"):$PATH" ROLES_CONF="$CONF" "$@" bash --norc --noprofile -c '
                . "$1" >/dev/null 2>&1 || { echo "cannot source $1" >&2; exit 3; }
                . "$2" || { echo "cannot source $2" >&2; exit 3; }
                COMP_LINE=$3
                COMP_POINT=${#COMP_LINE}
                COMP_WORDS=()
                for w in $COMP_LINE; do
                        while [[ $w == *=* ]]; do
                                COMP_WORDS+=("${w%%=*}" "=")
                                w=${w#*=}
                        done
                        [ -n "$w" ] && COMP_WORDS+=("$w")
                done
                [[ $COMP_LINE == *" " || ${COMP_WORDS[-1]} == "=" ]] && COMP_WORDS+=("")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMPREPLY=()
                spec=$(complete -p rolesctl) || exit 3
                func=${spec#*-F }
                func=${func%% *}
                "$func" rolesctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
        ' _ "$BASH_COMPLETION" "$SCRIPT" "$line" 2>"$ERR" | LC_ALL=C sort >"$OUT"
        RC=${PIPESTATUS[0]}
}

# offers LINE WANT...: the completion of LINE is exactly WANT (in any order), without a word
# on stderr.
offers() {
        local line=$1 got want
        shift
        complete_line "$line"
        got=$(tr '\n' ' ' <"$OUT")
        want=
        [ $# -eq 0 ] || want=$(printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ')
        eq "'$line' offers" "$got" "$want"
        eq "'$line': exit status" "$RC" 0
        eq "'$line': stderr" "$(cat "$ERR")" ""
}

# offers_list LINE FILE: the same, WANT read from FILE (one a line).
offers_list() {
        local words
        mapfile -t words <"$2"
        offers "$1" "${words[@]}"
}

# ---- commands and options, from rolesctl's help ------------------------------------------------

"$ROLESCTL" --help >"$T/help" || fail "rolesctl --help"
# The first word of each command line of --help ("  user add   Create ..."), and a noun's verbs.
awk '/^  [a-z]/ { print $1 }' "$T/help" | sort -u >"$T/first-words"
check "--help lists the nouns" grep -qx user "$T/first-words"
offers_list "rolesctl " "$T/first-words"
offers "rolesctl us" user
offers "rolesctl --json user sh" show
offers "rolesctl user --js" --json

"$ROLESCTL" help user | awk '{ print $2 }' >"$T/user-verbs"
check "help user lists show" grep -qx show "$T/user-verbs"
offers_list "rolesctl user " "$T/user-verbs"
offers_list "rolesctl --json user " "$T/user-verbs"
offers "rolesctl metarole pub" publish
offers "rolesctl fleet " status upgrade
offers "rolesctl fleet up" upgrade

# user add's options as its usage prints them, and --help.
{ "$ROLESCTL" help user add | grep -oE -- '--[a-z-]+'; echo --help; } | sort -u >"$T/add-options"
check "user add's usage has --full-name" grep -qx -- --full-name "$T/add-options"
offers_list "rolesctl user add --" "$T/add-options"
offers "rolesctl user add alice --full" --full-name
offers "rolesctl user add alice --uid 10005 --u" # given once, not offered again
offers "rolesctl --js" --json
offers "rolesctl --conf $CONF --v" --version
offers "rolesctl user totp " enroll disable recovery-codes
offers "rolesctl help user a" add
offers "rolesctl help gr" group

# ---- names from roles.db -----------------------------------------------------------------------

run_cmd "$ROLESCTL" --conf "$CONF" init
last_ok "init"
run_cmd_in "user add alice
user add albert
user add bob
group add devs
group add deploy
metarole add ops
metarole grant ops login.sshd
metarole grant ops service.restart
metarole grant ops service.*
role add oncall --metarole ops
role add observer --metarole ops
" "$ROLESCTL" --conf "$CONF" batch
last_ok "batch of users, groups, a metarole and roles"

offers "rolesctl user show al" albert alice
offers "rolesctl user show " albert alice bob
offers "rolesctl user add al" # a new name: no existing one offered
offers "rolesctl group adduser G " albert alice bob
offers "rolesctl group adduser de" deploy devs
offers "rolesctl group show dev" devs
offers "rolesctl user mod alice --group d" deploy devs
offers "rolesctl user mod alice --group=de" deploy devs
offers "rolesctl role assign o" observer oncall
offers "rolesctl role assign oncall b" bob
offers "rolesctl role add db --metarole o" ops
"$ROLESCTL" --conf "$CONF" --json metarole list | grep -oE '"code":"[^"]*"' | cut -d'"' -f4 >"$T/metaroles"
check "metarole list holds ops" grep -qx ops "$T/metaroles"
offers_list "rolesctl metarole include ops " "$T/metaroles"
offers "rolesctl check bob login." login.sshd
# A wildcard grant is a word, not a pattern of the directory the shell is in.
touch "$T/service.glob"
offers "rolesctl check bob serv" "service.*" service.restart
rm -f "$T/service.glob"
offers "rolesctl --conf $CONF user show b" bob
offers "rolesctl --json user show --json b" bob
offers "rolesctl user show alice " # NAME is its only argument

# Files where the usage says FILE, DIR or PATH.
touch "$T/backup-here.tar"
offers "rolesctl backup $T/backup-h" "$T/backup-here.tar"
offers "rolesctl --conf $T/db/roles.c" "$T/db/roles.conf"

# The protocol scripts read: the kind of word first, then the candidates.
run_cmd "$ROLESCTL" help --complete -- --conf "$CONF" user show al
last_ok "help --complete"
eq "help --complete: the kind, then the names" "$(head -n 1 "$OUT") $(tail -n +2 "$OUT" | LC_ALL=C sort | tr "\n" " ")" "user albert alice "

# ---- databases that cannot be read: nothing, and no error --------------------------------------

complete_line "rolesctl user show " ROLES_CONF="$T/nowhere/roles.conf"
eq "missing configuration: nothing offered" "$(cat "$OUT")" ""
eq "missing configuration: stderr" "$(cat "$ERR")" ""
echo "no_such_key = 1" >"$T/broken.conf"
complete_line "rolesctl user show " ROLES_CONF="$T/broken.conf"
eq "broken configuration: nothing offered" "$(cat "$OUT")" ""
eq "broken configuration: stderr" "$(cat "$ERR")" ""
complete_line "rolesctl us" ROLES_CONF="$T/broken.conf"
eq "broken configuration: commands still offered" "$(cat "$OUT")" "user"

# A user who may not read the databases' directory (nobody; as a user, a directory they closed).
test_conf "$T/closed"
CLOSED=$T/closed/roles.conf
"$ROLESCTL" --conf "$CLOSED" init >/dev/null 2>&1 || fail "init in $T/closed"
"$ROLESCTL" --conf "$CLOSED" user add carol >/dev/null 2>&1 || fail "user add carol"
if [ "$(id -u)" -eq 0 ]; then
        chmod 700 "$T/closed"
        AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
else
        chmod 000 "$T/closed"
        AS=()
fi
cp "$CLOSED" "$T/closed.conf" && chmod 644 "$T/closed.conf"
complete_line "rolesctl user show " ROLES_CONF="$T/closed.conf"
eq "unreadable databases: nothing offered" "$(cat "$OUT")" ""
eq "unreadable databases: stderr" "$(cat "$ERR")" ""
eq "unreadable databases: exit status" "$RC" 0
complete_line "rolesctl user sh" ROLES_CONF="$T/closed.conf"
eq "unreadable databases: commands still offered" "$(cat "$OUT")" "show"
AS=()
chmod 755 "$T/closed"

# ---- 10k users: well under a second ------------------------------------------------------------

for i in $(seq 10000 19999); do echo "user add u$i"; done >"$T/many"
"$ROLESCTL" --conf "$CONF" batch "$T/many" >/dev/null 2>"$ERR" || fail "batch of 10k users: $(head -c 300 "$ERR")"
start=$(date +%s%N)
complete_line "rolesctl user show u1999"
ms=$((($(date +%s%N) - start) / 1000000))
eq "10k users: u1999 completes to its ten" "$(wc -l <"$OUT")" 10
echo "      completion of 'user show u1999' among 10k users, bash and bash-completion included: ${ms} ms"
start=$(date +%s%N)
complete_line "rolesctl user show "
ms_all=$((($(date +%s%N) - start) / 1000000))
eq "10k users: every name offered" "$(wc -l <"$OUT")" 10003
echo "      completion of 'user show ' (all 10003 names): ${ms_all} ms"
check "10k users: ${ms} ms and ${ms_all} ms are under 1000 ms" [ "$ms" -lt 1000 ] && [ "$ms_all" -lt 1000 ]

finish
