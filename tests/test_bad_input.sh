#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input everywhere (issue 5). Every name, text, permission code, time and id that rolesctl
# takes, on its command line, in batch lines and in import files, is given ':', a newline, a tab,
# NUL, control characters, an escape sequence, C1 controls, malformed UTF-8, code points that do
# not show as themselves (bidi overrides, zero width and no-break spaces, line separators,
# fillers, variation selectors, tags, private use, noncharacters), 10,000 bytes, SQL and printf
# metacharacters; ids are given 0, -1, 2^31, 2^32-1 and their neighbours; passwords
# of 0 bytes, 4 KiB + 1, 1 MiB and an endless stream go through `rolesctl user passwd --stdin`,
# pamtester and the real libpam; PAM_USER and PAM_RHOST hold the same bytes. Each is refused
# with exit status 2 and one clean `rolesctl: ` line (what it echoes is escaped), in bounded time
# and memory, and leaves the databases byte for byte as they were; none ever shows in `getent
# passwd`/`group` through the module, and pam_roles logs no invalid user name at all. Valid UTF-8
# ("Zoë Ñandú") and SQL or printf look-alikes in free text are accepted and come back exactly, so
# the refusals are not over-broad; rows holding the bad bytes written straight into roles.db are
# never served.
#
# Runs as root in a private mount namespace (tests/ns-lib.sh): /etc, /var/lib and /dev are
# overlays, so the host's files are never touched. Needs pamtester, sqlite3, python3 and GNU time.
# Every check is counted; the last line says "N passed, M failed".
#
#   test_bad_input.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
HERE=$(dirname "$(realpath "$0")")
# shellcheck source=tests/ns-lib.sh
. "$HERE/ns-lib.sh"
[ $# -eq 3 ] || { echo "usage: test_bad_input.sh ROLESCTL PAM_MODULE NSS_LIB_DIR" >&2; exit 1; }
ns_enter bad-input "$@"
R=$(realpath "$1")
P=$(realpath "$2")
L=$(realpath "$3")

# What lib.sh's rolesctl helpers (one_error, snapshot, unchanged, json_true, sql) work on.
ROLESCTL=$R CONF=/etc/roles.conf T=/var/lib/roles DBS="roles.db secrets.db state.db"
OUT=$S/out ERR=$S/err RC=0

need pamtester sqlite3 python3 || finish
/usr/bin/time -f %M true 2>/dev/null || die "GNU time is missing (apt-get install time)"
[ -f "$P" ] || die "no PAM module at $P"
[ -f "$L/libnss_roles.so.2" ] || die "no NSS module in $L"
PY=$(python3 -c 'import sys; print(sys.executable)') || die "python3 does not run"

ns_on_exit() { [ -n "${ns_syslog_pid:-}" ] && kill "$ns_syslog_pid" 2>/dev/null; }
ns_overlay etc var/lib
ns_private_dev
ns_syslog "$S/syslog"
# No lockout: the PAM cases below fail many logins of one account on purpose.
ns_configure "deny = 1000
"

# The modules under test, readable by anyone; only the programs under test load them.
mkdir -m 0755 "$S/lib"
cp "$P" "$S/lib/pam_roles.so" && cp "$L/libnss_roles.so.2" "$S/lib/" || die "copy the modules"
chmod 0644 "$S/lib/pam_roles.so" "$S/lib/libnss_roles.so.2"
MOD=$S/lib/pam_roles.so
under_test=(env "LD_LIBRARY_PATH=$S/lib")
preload=$(ns_sanitizer_preload "$MOD")
[ -n "$preload" ] && under_test+=("LD_PRELOAD=$preload" "${ns_sanitizer_options[@]}")
for phase in auth account password session; do echo "$phase required $MOD"; done >/etc/pam.d/roles

# ---- the bad values ----------------------------------------------------------------------------------
# Bytes no name or text may hold, each set inside an otherwise valid value.
bad_labels=(colon newline tab cr soh esc-seq del c1-nel c1-csi byte-ff overlong-slash truncated-euro surrogate past-u10ffff)
bad_bytes=(: $'\n' $'\t' $'\r' $'\x01' $'\x1b[31m' $'\x7f' $'\xc2\x85' $'\xc2\x9b' $'\xff' $'\xc0\xaf' $'\xe2\x82' $'\xed\xa0\x80' $'\xf4\x90\x80\x80')
# Code points that do not show as themselves: a bidi override, a zero width space, a line
# separator, a no-break space, an invisible filler, a variation selector, a tag, private use and a
# noncharacter (U+202E, U+200B, U+2028, U+00A0, U+3164, U+FE0F, U+E0041, U+E000, U+FDD0).
bad_labels+=(u202e-rlo u200b-zwsp u2028-line-sep u00a0-nbsp u3164-filler ufe0f-vs16 ue0041-tag ue000-private-use
        ufdd0-noncharacter)
bad_bytes+=($'\xe2\x80\xae' $'\xe2\x80\x8b' $'\xe2\x80\xa8' $'\xc2\xa0' $'\xe3\x85\xa4' $'\xef\xb8\x8f' $'\xf3\xa0\x81\x81'
        $'\xee\x80\x80' $'\xef\xb7\x90')
# repeat CHAR N: N bytes of CHAR.
repeat() { head -c "$2" /dev/zero | tr '\0' "$1"; }
LONG=$(repeat a 10000)
SQL="x'; DROP TABLE users; --"
FMT='%n%s%x%p'
# Whole values that no name, permission or time may be (free text may hold the last two).
whole_labels=(empty 10000-bytes sql printf)
whole_values=("" "$LONG" "$SQL" "$FMT")
# Ids: root, -1, 2^31, 2^32-1, 2^32, 2^64, nobody, just outside the configured 10000-59999, and
# forms that are not plain decimal (the last: Arabic-Indic digits).
bad_ids=(0 -1 2147483648 4294967295 4294967296 18446744073709551616 65534 9999 60000 "" " 10050" "10050 " +10050
        0x2742 1e4 $'10050\n' 10050.0 $'\xd9\xa1\xd9\xa0\xd9\xa0\xd9\xa5\xd9\xa0')
# Points in time that are not one of the documented forms, or not after the epoch.
bad_times=(1970-01-01 @0 @-1 +-5s 2026-02-31 2026-1-1 " 2030-01-01" 2030-01-01T25:00 @9223372036854775807
        +99999999999999w 99999-01-01)

# ---- how a case is judged ------------------------------------------------------------------------------
# Bounds for inputs of 1 MiB or endless: each answer within TIME_MAX ms, and the peak resident set
# (KiB) less than 1 MiB above that of the same program given 0 bytes: nothing held the input.
TIME_MAX=5000 RSS_SLACK=1024

# section NAME: prints how many cases the previous section ran and in how long, then starts anew.
section() {
        [ -n "${section_name:-}" ] && echo "# $section_name: $cases cases, $((SECONDS - section_start)) s"
        section_name=$1 cases=0 section_start=$SECONDS
}
# clean_file FILE: its lines are well-formed UTF-8 (no overlong forms, surrogates or code points
# past U+10FFFF) without control characters (C0 but the newline, DEL, C1) or other code points
# that do not show as themselves (format and bidi controls, separators, spaces but U+0020,
# default ignorables, variation selectors, private use, noncharacters: PCRE's Unicode data).
clean_file() {
        ! LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1" && ! LC_ALL=C.UTF-8 grep -qavx '.*' "$1" &&
                ! LC_ALL=C.UTF-8 grep -qaP '[\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{DI}\p{VS}\p{NChar}]|(?! )\p{Zs}' "$1"
}
clean_text() {
        printf '%s\n' "$1" >"$S/text"
        clean_file "$S/text"
}
# The last stderr as a terminal reading the log may see it: control bytes shown (cat -v).
show_last_escaped() {
        echo "      exit $RC; stderr: $(head -c 300 "$ERR" | cat -v | tr '\n' '|')"
}
dir_listing() { (shopt -s dotglob nullglob; echo "$T"/*); }
take_snapshot() {
        snapshot
        listing=$(dir_listing)
}
# judge WHAT WANT_RC: the last command exited WANT_RC with exactly one clean "rolesctl: " line on
# stderr, nothing on stdout, and every database file and the directory's listing exactly as at
# the last snapshot. One case.
judge() {
        local why=
        if [ "$RC" -ne "$2" ]; then
                why="exit status $RC, want $2"
        elif ! one_error; then
                why="stderr is not one 'rolesctl: ' line"
        elif ! clean_file "$ERR"; then
                why="the error line carries a raw control character, malformed UTF-8 or a code point that does not show as itself"
        elif [ -s "$OUT" ]; then
                why="something was printed on stdout"
        elif ! unchanged >/dev/null || [ "$(dir_listing)" != "$listing" ]; then
                why="the databases changed"
        fi
        if [ -z "$why" ]; then pass; else fail "$1: $why"; show_last_escaped; fi
        cases=$((cases + 1))
}
# refuses WHAT ARGS...: `rolesctl ARGS`, with nothing on stdin, is refused as invalid (exit 2).
refuses() {
        local what=$1
        shift
        "$R" "$@" </dev/null >"$OUT" 2>"$ERR"
        RC=$?
        judge "$what" 2
}
accepts() {
        local what=$1
        shift
        "$R" "$@" </dev/null >"$OUT" 2>"$ERR"
        RC=$?
        if [ "$RC" -eq 0 ] && [ ! -s "$ERR" ]; then pass; else fail "$what: refused"; show_last_escaped; fi
        cases=$((cases + 1))
}
# fill TEMPLATE VALUE: the template's words, each '@' in a word replaced by VALUE (in "a@b@x.org",
# the first: an email keeps its own '@'), into the array `filled`.
fill() {
        local w
        read -ra filled <<<"$1"
        for w in "${!filled[@]}"; do filled[$w]=${filled[$w]/@/"$2"}; done
}
# refuses_with TEMPLATE VALUE WHAT: `rolesctl TEMPLATE` with VALUE in place of '@' is refused.
refuses_with() {
        fill "$1" "$2"
        refuses "$3" "${filled[@]}"
}
# measured INPUT CMD...: CMD with the file INPUT on stdin, stdout in $OUT and stderr in $ERR, and
# a minute at most; sets RC, MS (wall-clock milliseconds) and KIB (its peak resident set, from
# GNU time: the process that forks it counts too, and GNU time is small, unlike python or bash).
measured() {
        local input=$1 t0
        shift
        t0=$(date +%s%N)
        /usr/bin/time -f %M -o "$S/rss" timeout 60 "$@" <"$input" >"$OUT" 2>"$ERR"
        RC=$?
        MS=$((($(date +%s%N) - t0) / 1000000))
        KIB=$(tail -n 1 "$S/rss")
}
# bounded WHAT KIB0: the last measured command took at most TIME_MAX ms and RSS_SLACK KiB more
# than KIB0.
bounded() {
        if [ "$MS" -le $TIME_MAX ] && [ "$KIB" -le $(($2 + RSS_SLACK)) ]; then pass; else
                fail "$1: $MS ms and $KIB KiB (0 bytes: $2 KiB), want at most $TIME_MAX ms and $RSS_SLACK KiB more"
        fi
}
# nss DB [KEY]: `getent -s roles DB [-- KEY]` through the module under test; sets RC and GOT.
nss() {
        GOT=$("${under_test[@]}" getent -s roles "$1" ${2+-- "$2"} 2>&1)
        RC=$?
}
# nss_none WHAT DB KEY: the module has no such entry. One case.
nss_none() {
        nss "$2" "$3"
        if [ "$RC" -eq 2 ] && [ -z "$GOT" ]; then pass; else
                fail "$1: getent -s roles $2: exit status $RC, <<$(cat -v <<<"$GOT" | head -c 200)>>"
        fi
        cases=$((cases + 1))
}
# names_served DB WANT: enumeration through the module gives exactly these names, every line
# well-formed UTF-8 without control characters.
names_served() {
        nss "$1"
        [ "$RC" -eq 0 ] && clean_text "$GOT" && pass ||
                fail "getent -s roles $1: exit status $RC, or a control character: $(cat -v <<<"$GOT" | head -c 400)"
        eq "getent -s roles $1: the names" "$(cut -d: -f1 <<<"$GOT" | sort | tr '\n' ' ')" "$2"
}

# ---- the data ------------------------------------------------------------------------------------------
PW='Correct-Horse-9'
rc init >/dev/null || die "rolesctl init"
chmod 0755 /var/lib/roles
rc batch >/dev/null <<'BATCH' || die "rolesctl batch"
group add team --description "the team"
metarole add ops --name "Operations"
role add oncall --metarole ops
role grant oncall login.sshd
BATCH
for u in alice pwu; do
        echo "$PW" | rc user add "$u" --password-stdin >/dev/null || die "rolesctl user add $u"
done

# ---- accepted: valid UTF-8, and SQL or printf look-alikes in free text, come back exactly -----------------------
section "accepted text"
ZOE='Zoë Ñandú'
accepts "full name '$ZOE'" user add zoe --full-name "$ZOE"
accepts "full name with SQL" user add bobby --full-name "$SQL"
accepts "full name with printf formats" user add fmt --full-name "$FMT"
accepts "group description in UTF-8" group add crew --description "Équipe — 東京"
accepts "metarole name in UTF-8, description with SQL" metarole add intl --name "Ünïcode ✓" --description "$SQL"
accepts "role description with printf formats" role add fmtrole --metarole ops --description "$FMT"
# Right-to-left scripts are letters, not controls: only the invisible controls are refused.
accepts "role description in Hebrew, Arabic and CJK" role add rtlrole --metarole ops \
        --description "דוד בן־גוריון — محمد — 山田太郎"
for u in zoe:"$ZOE" bobby:"$SQL" fmt:"$FMT"; do
        name=${u%%:*} gecos=${u#*:}
        nss passwd "$name"
        [[ $GOT == "$name:x:"+([0-9])":"+([0-9])":$gecos:/home/$name:/bin/bash" ]] && pass ||
                fail "getent passwd $name: <<$GOT>>, want the full name <<$gecos>> exactly"
done
rc --json group show crew >"$OUT"
json_true "group show crew: the description" 'd["group"]["description"] == "Équipe — 東京"'
rc --json metarole show intl >"$OUT"
json_true "metarole show intl: name and description" \
        'd["metarole"]["name"] == "Ünïcode ✓" and d["metarole"]["description"] == "x'"'"'; DROP TABLE users; --"'
eq "the users table is still there" "$(sql /var/lib/roles/roles.db 'SELECT count(*) FROM users')" 5

# ---- names of users, groups, metaroles and roles, on creation and on lookup ------------------------------------
take_snapshot
section "names"
name_commands=("user add @" "group add @" "metarole add @" "role add @ --metarole ops" "user show @"
        "user mod @ --full-name x" "user passwd @ --stdin" "user del @" "user reset @" "user totp enroll @"
        "group del @" "group adduser team @" "role assign oncall @" "role grant @ login.sshd" "check @ login.sshd"
        "perms @" "user add newu --group @" "role add newr --metarole @" "metarole add newm --includes @"
        "metarole include ops @" "metarole publish @")
for cmd in "${name_commands[@]}"; do
        for i in "${!bad_bytes[@]}"; do refuses_with "$cmd" "ab${bad_bytes[$i]}cd" "$cmd: ${bad_labels[$i]}"; done
        for i in "${!whole_values[@]}"; do
                # An empty --includes list includes nothing: not a bad value.
                [[ $cmd == *--includes* && -z ${whole_values[$i]} ]] && continue
                refuses_with "$cmd" "${whole_values[$i]}" "$cmd: ${whole_labels[$i]}"
        done
        refuses_with "$cmd" Alice "$cmd: upper case"
done

# ---- free text: full name, home, shell, email, descriptions, a metarole's name --------------------------------
section "free text"
text_commands=("user add newu --full-name Ann@Lee" "user mod alice --full-name Ann@Lee"
        "user add newu --home /home/a@b" "user mod alice --home /home/a@b"
        "user add newu --shell /bin/a@sh" "user mod alice --shell /bin/a@sh"
        "user add newu --email a@b@example.org" "user mod alice --email a@b@example.org"
        "group add newg --description Ann@Lee" "metarole add newm --name Ann@Lee"
        "metarole add newm --description Ann@Lee" "role add newr --metarole ops --description Ann@Lee")
for cmd in "${text_commands[@]}"; do
        for i in "${!bad_bytes[@]}"; do refuses_with "$cmd" "${bad_bytes[$i]}" "$cmd: ${bad_labels[$i]}"; done
        refuses_with "$cmd" "$LONG" "$cmd: 10000 bytes"
done
# The error line names the code point it refused.
refuses "user mod: a right-to-left override in the full name" user mod alice --full-name $'Ann\xe2\x80\xaeLee'
grep -qF 'invalid full name: U+202E is not allowed' "$ERR" && pass ||
        fail "user mod --full-name U+202E: the error does not name it: $(cat -v "$ERR")"
refuses "user add: a relative home" user add newu --home home/newu
refuses "user add: a home with a space" user add newu --home "/home/a b"
refuses "user add: an email without @" user add newu --email nobody.example.org

# ---- permission codes, times, ids ---------------------------------------------------------------------------
section "permissions, times and ids"
for cmd in "role grant oncall @" "role revoke oncall @" "metarole grant ops @" "check alice @"; do
        for i in "${!bad_bytes[@]}"; do refuses_with "$cmd" "login${bad_bytes[$i]}sshd" "$cmd: ${bad_labels[$i]}"; done
        for i in "${!whole_values[@]}"; do refuses_with "$cmd" "${whole_values[$i]}" "$cmd: ${whole_labels[$i]}"; done
        for p in '*' Login.sshd login..sshd .login login. 'login.*.sshd'; do refuses_with "$cmd" "$p" "$cmd: '$p'"; done
done
for cmd in "user add newu --expires @" "user mod alice --expires @" "role assign oncall alice --until @"; do
        for i in "${!bad_bytes[@]}"; do refuses_with "$cmd" "2030-01-01${bad_bytes[$i]}" "$cmd: ${bad_labels[$i]}"; done
        for i in "${!whole_values[@]}"; do refuses_with "$cmd" "${whole_values[$i]}" "$cmd: ${whole_labels[$i]}"; done
        for t in "${bad_times[@]}"; do refuses_with "$cmd" "$t" "$cmd: '$t'"; done
done
for cmd in "user add newu --uid @" "user add newu --gid @" "user mod alice --gid @" "group add newg --gid @" \
        "metarole publish ops --gid @"; do
        for id in "${bad_ids[@]}"; do refuses_with "$cmd" "$id" "$cmd: '$(cat -v <<<"$id")'"; done
done

# ---- rolesctl's own command line -------------------------------------------------------------------------------
section "command line"
for i in "${!bad_bytes[@]}"; do
        b=${bad_bytes[$i]} what=${bad_labels[$i]}
        refuses "unknown command: $what" "us${b}er" list
        refuses "unknown verb: $what" user "li${b}st"
        refuses "unknown option: $what" user add newu "--fu${b}ll-name" x
        refuses "unknown global option: $what" "--js${b}on" user list
        refuses "configuration file: $what" --conf "/etc/roles${b}.conf" user list
done
refuses "unknown command: 10000 bytes" "$LONG"
refuses "an option given twice" user add newu --full-name a --full-name b

# ---- init --admin on a fresh directory: nothing may be created ----------------------------------------------------
section "init"
mkdir -m 0755 "$S/fresh"
printf 'public_db = %s\nsecrets_db = %s\nstate_db = %s\n' "$S/fresh/roles.db" "$S/fresh/secrets.db" \
        "$S/fresh/state.db" >"$S/fresh.conf"
for i in "${!bad_bytes[@]}"; do
        refuses "init --admin: ${bad_labels[$i]}" --conf "$S/fresh.conf" init --admin "ab${bad_bytes[$i]}cd"
done
for i in "${!whole_values[@]}"; do
        refuses "init --admin: ${whole_labels[$i]}" --conf "$S/fresh.conf" init --admin "${whole_values[$i]}"
done
eq "init: nothing was created" "$(ls -A "$S/fresh")" ""

# ---- batch lines: the same bytes, NUL, carriage returns, long lines, from a file and from stdin --------------------
section "batch lines"
# batch_refuses WHAT LINES: a batch of a good line, then LINES ("@NUL@" stands for a NUL byte), is
# refused as a whole, from a file and from stdin.
batch_refuses() {
        { echo "group add batchok"; printf '%s\n' "$2"; } | sed 's/@NUL@/\x00/g' >"$S/batch"
        refuses "batch FILE: $1" batch "$S/batch"
        "$R" batch <"$S/batch" >"$OUT" 2>"$ERR"
        RC=$?
        judge "batch on stdin: $1" 2
}
# quote BYTES: one batch word holding BYTES ('...' with each ' written as '\'').
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
for i in "${!bad_bytes[@]}"; do
        b=${bad_bytes[$i]} what=${bad_labels[$i]}
        batch_refuses "user name, $what" "user add $(quote "ab${b}cd")"
        batch_refuses "full name, $what" "user add newu --full-name $(quote "Ann${b}Lee")"
        batch_refuses "permission, $what" "role grant oncall $(quote "login${b}sshd")"
        batch_refuses "until, $what" "role assign oncall alice --until $(quote "2030-01-01${b}")"
done
for i in "${!whole_values[@]}"; do
        batch_refuses "user name, ${whole_labels[$i]}" "user add $(quote "${whole_values[$i]}")"
done
for id in 0 -1 2147483648 4294967295; do batch_refuses "gid $id" "group add newg --gid $id"; done
batch_refuses "NUL in a word" "user add ab@NUL@cd"
batch_refuses "NUL after the command" "group list @NUL@ user add newu"
batch_refuses "NUL inside quotes" "user add newu --full-name 'Ann@NUL@Lee'"
batch_refuses "a carriage return inside a word" "user add newu --full-name Ann"$'\r'"Lee"
batch_refuses "an unbalanced quote" "user add 'newu"
batch_refuses "a password read inside a batch" "user passwd alice --stdin"
batch_refuses "a line of 10000 bytes" "user add newu --full-name $LONG"
# Past the 64 KiB a line may hold, followed by a good line: refused, not taken for the end of the
# batch (getline's failed allocation was, and the lines before it were committed).
batch_refuses "a line of 100 KiB" "$(repeat a $((100 << 10)))
group add batchok2"
# 64 MiB of NUL bytes without a line end: refused after the first 64 KiB, in bounded time and
# memory (a whole-line reader would hold all of it; from /dev/zero, until memory ran out).
printf 'nonsense\n' >"$S/batch"
measured "$S/batch" "$R" batch
kib0=$KIB
measured <(head -c $((64 << 20)) /dev/zero) "$R" batch
judge "batch on stdin: 64 MiB without a line end" 2
bounded "batch on stdin: 64 MiB without a line end" "$kib0"

# ---- import files: each field of passwd, group and shadow -----------------------------------------------------
section "import files"
# The files refused below differ from these, which import accepts (at the end), in one field.
imp_passwd=(impu x 30501 30500 "Imp User" /home/impu /bin/bash)
imp_group=(impg x 30500 impu)
imp_shadow=(impu '!' 19000 0 99999 7 "" "" "")
# write_import FILE FIELD VALUE: the three files, FILE's FIELD (from 0) replaced by VALUE ("@NUL@"
# stands for a NUL byte).
write_import() {
        local name
        for name in passwd group shadow; do
                local -n base=imp_$name
                local fields=("${base[@]}")
                [ "$name" = "$1" ] && fields[$2]=$3
                (IFS=:; printf '%s\n' "${fields[*]}") | sed 's/@NUL@/\x00/g' >"$S/imp.$name"
        done
}
import_args=(import --passwd "$S/imp.passwd" --group "$S/imp.group" --shadow "$S/imp.shadow")
import_refuses() {
        write_import "$1" "$2" "$3"
        refuses "import: $4" "${import_args[@]}"
}
for spec in "passwd 0 name ab@cd" "passwd 4 gecos Imp@User" "passwd 5 home /home/imp@u" "passwd 6 shell /bin/ba@sh" \
        "group 0 name ab@cd" "group 3 members im@pu" "shadow 0 name im@pu" "shadow 1 hash \$6\$salt\$ab@cd" \
        "shadow 2 lastchg 190@00" "shadow 7 expire 200@00"; do
        read -r file field what template <<<"$spec"
        for i in "${!bad_bytes[@]}"; do
                import_refuses "$file" "$field" "${template/@/"${bad_bytes[$i]}"}" "$file $what, ${bad_labels[$i]}"
        done
        import_refuses "$file" "$field" "${template/@/@NUL@}" "$file $what, NUL"
        import_refuses "$file" "$field" "${template/@/"$LONG"}" "$file $what, 10000 bytes"
done
for spec in "passwd 0 name" "group 0 name" "group 3 members"; do
        read -r file field what <<<"$spec"
        for i in "${!whole_values[@]}"; do
                [ "$file $field $i" = "group 3 0" ] && continue       # a group without members is fine
                import_refuses "$file" "$field" "${whole_values[$i]}" "$file $what, ${whole_labels[$i]}"
        done
done
for spec in "passwd 2 uid" "passwd 3 gid" "group 2 gid"; do
        read -r file field what <<<"$spec"
        for id in "${bad_ids[@]}"; do
                [[ $id == *$'\n'* ]] && continue        # a newline makes two lines: covered above
                import_refuses "$file" "$field" "$id" "$file $what '$id'"
        done
done
write_import none
accepts "import: the unchanged files are accepted" "${import_args[@]}"

# ---- passwords through rolesctl: 0 bytes, a NUL, 4 KiB + 1, 1 MiB, endless ---------------------------------------
section "passwords through rolesctl"
take_snapshot
printf '\n' >"$S/pw.0"
printf 'Correct\0Horse-9\n' >"$S/pw.nul"
{ repeat b 4096; echo; } >"$S/pw.4096"
{ repeat b 4097; echo; } >"$S/pw.4097"
{ repeat a $((1 << 20)); echo; } >"$S/pw.1m"
ln -s /dev/zero "$S/pw.endless"         # never ends its line
for cmd in "user passwd pwu --stdin" "user add newu --password-stdin"; do
        read -ra words <<<"$cmd"
        figures=
        for size in 0 nul 4097 1m endless; do
                measured "$S/pw.$size" "$R" "${words[@]}"
                judge "$cmd, password $size" 2
                [ "$size" = 0 ] && kib0=$KIB
                bounded "$cmd, password $size" "$kib0"
                figures="$figures $size: $MS ms $KIB KiB;"
        done
        echo "# $cmd, refused (peak RSS):$figures"
done
measured "$S/pw.4096" "$R" user passwd pwu --stdin
eq "user passwd --stdin: 4096 bytes, the limit, are accepted" "$RC" 0

# ---- PAM: PAM_USER and PAM_RHOST holding the bad bytes ---------------------------------------------------------
section "PAM"
uuid_pwu=$(rc --json user show pwu | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["user"]["uuid"])')
hash_pwu() { sql /var/lib/roles/secrets.db "SELECT password_hash FROM credentials WHERE user_uuid = '$uuid_pwu'"; }
# pt INPUT [-I ITEM=VALUE] SERVICE USER OPS...: pamtester with the file INPUT on stdin; sets RC,
# MS, KIB and PTOUT (both streams: the prompts go to stderr).
pt() {
        local input=$1
        shift
        measured "$input" "${under_test[@]}" pamtester "$@"
        PTOUT=$(cat "$OUT" "$ERR")
}
# pam_refused WHAT ERE: the last pt failed as PAM failures do (status 1, no sanitizer report), with
# output matching ERE. One case.
pam_refused() {
        if [ "$RC" -eq 1 ] && ! grep -qE 'Sanitizer|runtime error:' <<<"$PTOUT" && grep -qiE "$2" <<<"$PTOUT"; then
                pass
        else
                fail "$1: exit status $RC, want 1 and /$2/ ($(tr '\n' ' ' <<<"$PTOUT" | head -c 300 | cat -v))"
        fi
        cases=$((cases + 1))
}
printf '%s\n' "$PW" >"$S/pw.good"
# Every bad user name carries "zq9": pam_roles must never log it, nor store it in the login audit.
pam_users=()
for b in "${bad_bytes[@]}"; do pam_users+=("ab${b}zq9"); done
pam_users+=("${LONG}zq9" "zq9'; DROP TABLE users; --" "zq9%n%s%x%p" "Zq9")
pam_labels=("${bad_labels[@]}" 10000-bytes sql printf upper-case)
# With debug, so that pam_roles says what it made of each name (a name that is not roles' is
# logged only then): that it never repeats one is what is checked.
for phase in auth account password session; do echo "$phase required $MOD debug"; done >/etc/pam.d/roles
syslog_before=$(wc -l <"$S/syslog")
for i in "${!pam_users[@]}"; do
        u=${pam_users[$i]} what="PAM_USER ${pam_labels[$i]}"
        pt "$S/pw.good" roles "$u" authenticate
        pam_refused "$what: authenticate" 'Authentication failure|User not known'
        pt /dev/null roles "$u" acct_mgmt
        pam_refused "$what: acct_mgmt" 'User not known'
        pt "$S/pw.good" roles "$u" chauthtok
        pam_refused "$what: chauthtok" 'User not known|Authentication token manipulation error'
done
sleep 0.3       # the last datagrams may still be on their way to the catcher
tail -n +$((syslog_before + 1)) "$S/syslog" | grep 'pam_roles' >"$S/syslog.pam"
for phase in auth account password session; do echo "$phase required $MOD"; done >/etc/pam.d/roles
n=$(grep -c 'authentication failure for (not a valid user name)' "$S/syslog.pam")
[ "$n" -ge "${#pam_users[@]}" ] && pass || fail "syslog: $n 'authentication failure for (not a valid user name)' lines, want ${#pam_users[@]}"
grep -q zq9 "$S/syslog.pam" && fail "syslog: pam_roles logged an invalid user name: $(grep zq9 "$S/syslog.pam" | head -n 2 | cat -v)" || pass
clean_file "$S/syslog.pam" && pass || fail "syslog: a control character in pam_roles' lines: $(cat -v "$S/syslog.pam" | head -c 300)"
eq "login audit: no invalid user name stored" "$(sql /var/lib/roles/state.db "SELECT count(*) FROM login_audit WHERE user LIKE '%zq9%'")" 0
n=$(sql /var/lib/roles/state.db "SELECT count(*) FROM login_audit WHERE user = '(not a valid user name)'")
[ "$n" -ge "${#pam_users[@]}" ] && pass || fail "login audit: $n rows for '(not a valid user name)', want ${#pam_users[@]}"

# PAM_RHOST comes from the remote side: a session opens, but what it holds is neither kept nor shown.
for i in "${!bad_bytes[@]}"; do
        pt /dev/null -I "rhost=192.0.2.1${bad_bytes[$i]}" roles alice open_session
        [ "$RC" -eq 0 ] && pass || fail "PAM_RHOST ${bad_labels[$i]}: open_session exit status $RC"
        clean_text "$PTOUT" && pass || fail "PAM_RHOST ${bad_labels[$i]}: the Last login notice shows it: $(cat -v <<<"$PTOUT")"
done
eq "PAM_RHOST: nothing of it kept in tracking" \
        "$(sql /var/lib/roles/state.db "SELECT count(*) FROM tracking WHERE current_login_ip IS NOT NULL OR last_login_ip IS NOT NULL")" 0
eq "PAM_RHOST: nothing of it kept in the login audit" "$(sql /var/lib/roles/state.db "SELECT count(*) FROM login_audit WHERE rhost <> ''")" 0

# ---- PAM: passwords of 0 bytes, 4 KiB + 1 and 1 MiB ---------------------------------------------------------------
# pamtester answers through libpam_misc's misc_conv, which hands a module at most the first 4095
# bytes of a line and the rest as the next answers: refused, in bounded time and memory. (The
# chauthtok lines are digits that do not repeat, so that no two 4095-byte pieces match.)
{ seq 1 2000 | tr -d '\n' | head -c 4097; echo; } >"$S/pw.seq4097"
{ seq 1 200000 | tr -d '\n' | head -c $((1 << 20)); echo; } >"$S/pw.seq1m"
hash0=$(hash_pwu)
for size in 0 4097 1m; do
        pt "$S/pw.$size" roles pwu authenticate
        pam_refused "pamtester authenticate, $size bytes" 'Authentication failure'
        [ "$size" = 0 ] && kib0=$KIB
        bounded "pamtester authenticate, $size bytes" "$kib0"
done
echo "# pamtester authenticate: 1 MiB refused in $MS ms, peak RSS $KIB KiB (0 bytes: $kib0 KiB)"
for size in seq4097 seq1m; do
        cat "$S/pw.$size" "$S/pw.$size" >"$S/pw.twice"
        pt "$S/pw.twice" roles pwu chauthtok
        pam_refused "pamtester chauthtok, $size bytes" 'do not match|Authentication token manipulation error'
        bounded "pamtester chauthtok, $size bytes" "$kib0"
done
echo "# pamtester chauthtok: 1 MiB refused in $MS ms, peak RSS $KIB KiB"
eq "pamtester chauthtok: the password is unchanged" "$(hash_pwu)" "$hash0"

# The whole answer through the real libpam: a conversation of our own (ctypes) hands the module
# every byte. Prints the status, milliseconds, growth of the peak resident set (KiB) and status
# name on one line, then each message the module showed on a line of its own.
# The conversation and libpam copy each answer (and a sanitizer's quarantine keeps the freed
# copies resident): a 1 MiB answer may grow the process by a few MiB, not more than this (KiB).
LIBPAM_RSS_MAX=16384
pam_client() {
        "${under_test[@]}" "$PY" - "$@" <<'PY'
import ctypes, sys, time
from ctypes import CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int, c_size_t, c_void_p, memmove, sizeof
# malloc as the process resolves it (a sanitizer's, when one is preloaded): libpam frees the answers.
libc, pam = ctypes.CDLL(None), ctypes.CDLL("libpam.so.0")
libc.malloc.restype, libc.malloc.argtypes = c_void_p, [c_size_t]
libc.calloc.restype, libc.calloc.argtypes = c_void_p, [c_size_t, c_size_t]
class Message(Structure): _fields_ = [("style", c_int), ("msg", c_char_p)]
class Response(Structure): _fields_ = [("resp", c_void_p), ("retcode", c_int)]
CONV = CFUNCTYPE(c_int, c_int, POINTER(POINTER(Message)), POINTER(POINTER(Response)), c_void_p)
class Conv(Structure): _fields_ = [("conv", CONV), ("appdata", c_void_p)]
pam.pam_start.argtypes = [c_char_p, c_char_p, POINTER(Conv), POINTER(c_void_p)]
pam.pam_authenticate.argtypes = pam.pam_chauthtok.argtypes = pam.pam_end.argtypes = [c_void_p, c_int]
pam.pam_strerror.argtypes, pam.pam_strerror.restype = [c_void_p, c_int], c_char_p
service, user, op = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3]
answers = [open(f, "rb").read().rstrip(b"\n") for f in sys.argv[4:]]

shown = []

def converse(n, messages, ret, _):
    replies = ctypes.cast(libc.calloc(n, sizeof(Response)), POINTER(Response))
    for i in range(n):
        if messages[i].contents.style in (1, 2):        # PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON
            a = (answers.pop(0) if answers else b"") + b"\0"
            replies[i].resp = libc.malloc(len(a))
            memmove(replies[i].resp, a, len(a))
        else:                                           # PAM_ERROR_MSG, PAM_TEXT_INFO
            shown.append(messages[i].contents.msg.decode("utf-8", "backslashreplace"))
    ret[0] = replies
    return 0

def peak_kib():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))

conv, h = Conv(CONV(converse), None), c_void_p()
if pam.pam_start(service, user, byref(conv), byref(h)) != 0:
    sys.exit("pam_start failed")
before, t = peak_kib(), time.monotonic()
r = (pam.pam_authenticate if op == "auth" else pam.pam_chauthtok)(h, 0)
print(r, int((time.monotonic() - t) * 1000), peak_kib() - before, pam.pam_strerror(h, r).decode())
print("\n".join(shown))
pam.pam_end(h, r)
PY
}
# libpam_case WHAT WANT_STATUS WANT_MESSAGE_ERE auth|chauthtok ANSWER_FILE...: pwu on the "roles"
# service. One case.
libpam_case() {
        local what=$1 want=$2 message=$3 got
        shift 3
        got=$(pam_client roles pwu "$@" 2>&1)
        read -r RC MS GREW _ <<<"$got"
        if [ "$RC" = "$want" ] && [ "$MS" -le $TIME_MAX ] && [ "$GREW" -le $LIBPAM_RSS_MAX ] &&
                grep -qE "$message" <<<"$got"; then
                pass
        else
                fail "libpam: $what: <<$(head -c 300 <<<"$got")>>, want status $want and /$message/ within $TIME_MAX ms and $LIBPAM_RSS_MAX KiB"
        fi
        cases=$((cases + 1))
}
PAM_AUTH_ERR=7 PAM_AUTHTOK_ERR=20
syslog_before=$(wc -l <"$S/syslog")
libpam_case "authenticate, 0 bytes" $PAM_AUTH_ERR "" auth "$S/pw.0"
libpam_case "authenticate, the password and one byte more (4097)" $PAM_AUTH_ERR "" auth "$S/pw.4097"
libpam_case "authenticate, 1 MiB" $PAM_AUTH_ERR "" auth "$S/pw.1m"
echo "# libpam authenticate: 1 MiB refused in $MS ms, peak RSS grew $GREW KiB"
libpam_case "authenticate, the password of 4096 bytes" 0 "" auth "$S/pw.4096"
libpam_case "chauthtok, 0 bytes" $PAM_AUTHTOK_ERR "at least 8 characters" chauthtok "$S/pw.0" "$S/pw.0"
libpam_case "chauthtok, 4097 bytes" $PAM_AUTHTOK_ERR "at most 4096 bytes" chauthtok "$S/pw.4097" "$S/pw.4097"
libpam_case "chauthtok, 1 MiB" $PAM_AUTHTOK_ERR "at most 4096 bytes" chauthtok "$S/pw.1m" "$S/pw.1m"
echo "# libpam chauthtok: 1 MiB refused in $MS ms, peak RSS grew $GREW KiB"
eq "libpam chauthtok: the password is unchanged" "$(hash_pwu)" "$hash0"
sleep 0.3
n=$(tail -n +$((syslog_before + 1)) "$S/syslog" | grep -c 'authentication failure for pwu: password too long')
eq "syslog: the passwords over 4096 bytes are logged as too long" "$n" 2

# ---- NSS: what getent sees through the module ---------------------------------------------------------------
section "NSS"
for i in "${!pam_users[@]}"; do
        u=${pam_users[$i]} what="name ${pam_labels[$i]}"
        for db in passwd group shadow; do nss_none "$what" "$db" "$u"; done
        # getent initgroups prints the name it was given, then the groups: none here.
        nss initgroups "$u"
        GOT=${GOT%"${GOT##*[! ]}"}
        [ "$RC" -eq 0 ] && [ "$GOT" = "$u" ] && pass ||
                fail "$what: getent -s roles initgroups: exit status $RC, <<$(cat -v <<<"$GOT" | head -c 200)>>"
        cases=$((cases + 1))
done
for id in 0 -1 2147483648 4294967295 4294967296 65534 9999 60000; do
        for db in passwd group; do nss_none "id $id" "$db" "$id"; done
done
users_want="alice bobby fmt impu pwu zoe "
groups_want="alice bobby crew fmt impg pwu team zoe "
names_served passwd "$users_want"
names_served group "$groups_want"

# Rows holding the bad bytes written straight into roles.db (no rolesctl), then compiled into
# roles.nss by `rolesctl index rebuild`: users whose name, full name, home or shell holds one,
# looked up by name and by uid; groups whose name holds one; and groups gcN whose one member is
# the user with a bad name (served without that member).
gid_team=$(sql /var/lib/roles/roles.db "SELECT gid FROM groups WHERE name = 'team'")
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
{
        echo "BEGIN;"
        for i in "${!bad_bytes[@]}"; do
                b="CAST(X'$(hex "${bad_bytes[$i]}")' AS TEXT)"
                for f in 0 1 2 3; do
                        n=$((i * 4 + f)) name="'tamper$((i * 4 + f))'" gecos="''" home="'/home/t'" shell="'/bin/sh'"
                        case $f in
                        0) name="'tq' || $b || 'x$n'" ;;
                        1) gecos="'A' || $b || 'B'" ;;
                        2) home="'/home/' || $b" ;;
                        3) shell="'/bin/' || $b" ;;
                        esac
                        printf "INSERT INTO users (uuid, name, uid, gid, gecos, home, shell, created_at, updated_at) "
                        printf "VALUES ('00000000-0000-4000-8000-%012d', %s, %d, %d, %s, %s, %s, 0, 0);\n" \
                                "$n" "$name" $((20000 + n)) "$gid_team" "$gecos" "$home" "$shell"
                        printf "INSERT INTO groups (uuid, name, gid, created_at, updated_at) "
                        printf "VALUES ('00000000-0000-4000-9000-%012d', 'gb' || %s || '%d', %d, 0, 0);\n" "$n" "$b" "$n" $((30000 + n))
                        printf "INSERT INTO groups (uuid, name, gid, created_at, updated_at) "
                        printf "VALUES ('00000000-0000-4000-a000-%012d', 'gc%d', %d, 0, 0);\n" "$n" "$n" $((40000 + n))
                        [ $f = 0 ] && printf "INSERT INTO group_members (group_id, user_id) SELECT g.id, u.id FROM groups g, users u "
                        [ $f = 0 ] && printf "WHERE g.name = 'gc%d' AND u.uuid = '00000000-0000-4000-8000-%012d';\n" "$n" "$n"
                done
        done
        echo "COMMIT;"
} | sqlite3 /var/lib/roles/roles.db || die "sqlite3: the tampered rows"
rc index rebuild >"$OUT" 2>"$ERR" || die "rolesctl index rebuild: $(cat "$ERR")"
for i in "${!bad_bytes[@]}"; do
        for f in 0 1 2 3; do
                n=$((i * 4 + f)) key=tamper$((i * 4 + f))
                [ $f = 0 ] && key="tq${bad_bytes[$i]}x$n"
                nss_none "tampered row $n (${bad_labels[$i]}) by name" passwd "$key"
                nss_none "tampered row $n (${bad_labels[$i]}) by uid" passwd $((20000 + n))
        done
done
names_served passwd "$users_want"
# A group whose only member has a bad name is served without members; a group with a bad name
# not at all.
nss group
tampered_groups=$(LC_ALL=C grep -avE "^($(tr ' ' '|' <<<"${groups_want% }")):|^gc[0-9]+:x:4[0-9]{4}:$" <<<"$GOT")
eq "tampered groups: nothing served but the gcN groups without their bad member" "$(cat -v <<<"$tampered_groups")" ""
clean_text "$GOT" && pass || fail "tampered group lines: a control character served: $(cat -v <<<"$GOT" | head -c 300)"

# What rolesctl prints of a text written behind its back shows such code points escaped: \xNN in
# text, \uNNNN in JSON (a C1 control as itself, not as the bytes of its UTF-8 form).
sqlite3 /var/lib/roles/roles.db "UPDATE groups SET description = 'A' || CAST(X'e280ae' AS TEXT) || 'B' ||
        CAST(X'f3a08181' AS TEXT) || 'C' || CAST(X'c285' AS TEXT) || 'D' WHERE name = 'team'" || die "sqlite3: team's description"
rc group show team >"$OUT" 2>"$ERR"
grep -qF 'A\xe2\x80\xaeB\xf3\xa0\x81\x81C\xc2\x85D' "$OUT" && clean_file "$OUT" && pass ||
        fail "group show: a tampered description is not shown escaped: $(cat -v "$OUT" | tr '\n' '|')"
rc --json group show team >"$OUT" 2>"$ERR"
clean_file "$OUT" && pass || fail "group show --json: a raw code point: $(cat -v "$OUT" | tr '\n' '|')"
grep -qF '"A\u202eB\udb40\udc41C\u0085D"' "$OUT" && pass || fail "group show --json: the description is not escaped as \\uNNNN: $(cat -v "$OUT")"
json_true "group show --json: the escaped description reads back as stored" \
        'd["group"]["description"] == "A\u202eB\U000e0041C\x85D"'

section "done"
echo "# pam_roles' syslog lines during the bad PAM_USER cases: $(wc -l <"$S/syslog.pam")"
finish
