#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests of rolesctl: every command's happy path, and for every bad input the exit
# code, exactly one "rolesctl: ..." line on stderr, nothing on stdout, and the three database
# files unchanged byte for byte.
#
#   tests/test_cli.sh PATH/TO/rolesctl        (meson passes the built binary; run as root in CI)
#
# Self-contained: everything lives in a fresh temporary directory, removed on exit. Failures
# are counted, not fatal; the last line is "N passed, M failed" and the exit status is non-zero
# when anything failed.

set -u

# Before the cd below, which a relative $0 would not survive.
HERE=$(dirname "$(realpath "$0")") || exit 2
# The one assertion library (tests/lib.sh): run_ok, run_refused, err_has, eq, sql, ...
# Without it every assertion would be "command not found" and the run would count 0 failures.
. "$HERE/lib.sh" || exit 2
rolesctl_arg "${1:-}"
scratch_dir cli
# home_base and default_shell are not the defaults: they prove the file is read.
test_conf "$T" home_base=/srv/home default_shell=/bin/sh password_min_length=8
CONF=$T/roles.conf

# ---- helpers ------------------------------------------------------------------------------

# stat_mode FILE
stat_mode() {
        stat -c %a "$1" 2>/dev/null
}

# sql's results are compared in $(...), where a missing sqlite3 cannot be counted: count it here.
need sqlite3

CODE_RE='[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}'
TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
ACTOR=$(id -un 2>/dev/null || echo "uid $(id -u)")

# ---- before init ---------------------------------------------------------------------------

run_ok "--help" "$ROLESCTL" --help
out_match "--help: one line per command saying what it does" '^  role assign +Give a user a role'
for cmd in "user add" "user totp" "user locked" "group adduser" "metarole publish" "role unassign" init check perms audit \
        backup batch doctor import "index rebuild" "fleet status" "fleet upgrade" help; do
        out_match "--help lists $cmd" "^  $cmd +[A-Z][a-z]"
done
HELP_ALL=$(cat "$OUT")
for args in --help --version help "user add --help"; do
        # shellcheck disable=SC2086 # the words of a command line
        "$ROLESCTL" $args </dev/null >/dev/full 2>"$ERR"
        RC=$?
        eq "$args to /dev/full: an error" "$RC" 5
        one_error && pass || { fail "$args to /dev/full: one 'rolesctl: ' line"; show_last; }
done
run_ok "help" "$ROLESCTL" help
eq "help prints what --help prints" "$(cat "$OUT")" "$HELP_ALL"
run_ok "help fleet upgrade" "$ROLESCTL" help fleet upgrade
out_has "help fleet upgrade: what it does" "Bring an older fleet's schema in PostgreSQL to this build's version"
out_has "help fleet upgrade: its usage" "usage: rolesctl fleet upgrade"
run_ok "help user add" "$ROLESCTL" help user add
out_has "help user add: what it does" "Create a user"
out_has "help user add: its usage" "usage: rolesctl user add NAME [--uid N] [--group NAME | --gid N]"
HELP_ADD=$(cat "$OUT")
run_ok "user add --help" "$ROLESCTL" user add --help
eq "COMMAND --help prints what help COMMAND prints" "$(cat "$OUT")" "$HELP_ADD"
run_ok "-h after a command's arguments" "$ROLESCTL" role assign dbadmin -h
out_has "role assign -h: its usage" "usage: rolesctl role assign ROLE USER [--until TIME]"
run_ok "help of a one-word command" "$ROLESCTL" help check
out_has "help check: its usage" "usage: rolesctl check USER PERM"
run_ok "help user" "$ROLESCTL" help user
out_match "help user: user's commands" '^  user passwd +Set'
out_lacks "help user: only user's" "group add"
run_ok "user --help" "$ROLESCTL" user --help
out_match "user --help: user's commands" '^  user passwd +Set'
run_ok "help reads no configuration" "$ROLESCTL" --conf "$T/no-such.conf" help check
run_ok "--help after a command reads no configuration" "$ROLESCTL" --conf "$T/no-such.conf" user del x --help
run_refused 2 "help of an unknown command" rc help frobnicate
run_refused 2 "help of a command with too many words" rc help user add alice
run_ok "--version" "$ROLESCTL" --version
out_match "--version" '^rolesctl [0-9]'

run_refused 5 "user list before init (no database)" rc user list
err_has "before init: names the database" "roles.db"
# The boot's check (roles-index.service) on a host where roles was never set up: nothing to do,
# exit 0, and nothing made; an index without its roles.db is refused, not left to NSS in silence.
run_ok "index rebuild --if-stale before init" rc index rebuild --if-stale
out_has "index rebuild --if-stale before init: says why nothing is done" "roles is not initialised"
eq "index rebuild --if-stale before init: makes nothing" "$(ls -A "$T" | grep -cE '\.(db|nss|lock)')" 0
: >"$T/roles.nss"
run_refused 5 "index rebuild --if-stale: roles.nss without roles.db" rc index rebuild --if-stale
err_has "index rebuild --if-stale: roles.nss without roles.db: names it" "roles.nss"
rm -f "$T/roles.nss"

# ---- init ----------------------------------------------------------------------------------

run_ok "init" rc init
for f in $DBS; do
        if [ -f "$T/$f" ]; then pass; else fail "init: $f not created"; fi
done
eq "roles.db mode" "$(stat_mode "$T/roles.db")" 644
eq "secrets.db mode" "$(stat_mode "$T/secrets.db")" 600
eq "state.db mode" "$(stat_mode "$T/state.db")" 600
eq "roles.db owner" "$(stat -c %u "$T/roles.db")" "$(id -u)"

run_ok "metarole list after init" rc metarole list
for m in super-admin admin user; do
        out_match "built-in metarole $m" "^$m +"
done

run_refused 2 "init --password-stdin without --admin" rc init --password-stdin
run_refused 2 "init --activation without --admin" rc init --activation
run_refused_in $'longenough1\n' 2 "init --admin with --password-stdin and --activation" \
        rc init --admin boss --password-stdin --activation
run_refused 2 "init --admin with an invalid name" rc init --admin Boss --activation
run_refused_in $'short\n' 2 "init --admin with a short password" rc init --admin boss --password-stdin
err_has "short password: says why" "too short"

run_ok_in $'boss password\n' "init --admin boss --password-stdin" rc init --admin boss --password-stdin
run_ok "user show boss" rc user show boss
field "boss has a password" password yes
field "boss is enabled" enabled yes
out_match "boss holds the super-admin role" '^  super-admin +super-admin +- +current'
run_ok "init --admin second --activation" rc init --admin second --activation
out_match "init --activation prints a code" "^activation code for second: $CODE_RE \\(valid until $TIME_RE\\)\$"
run_refused 4 "init --admin with an existing user" rc init --admin boss --activation
run_ok "init again keeps the data" rc init
run_ok "user add --help" rc user add helpme --help
run_refused 3 "--help after a command does not run it" rc user show helpme
run_ok "user show boss after a second init" rc user show boss

# ---- user add ------------------------------------------------------------------------------

run_ok_in $'correct horse battery\n' "user add with every field option" \
        rc user add alice --uid 12001 --full-name "Alice Liddell" --home /home/alice2 --shell /bin/zsh \
        --email alice@example.com --expires 2099-12-31 --password-stdin
run_ok "user show alice" rc user show alice
field "alice name" name alice
field "alice uid" uid 12001
field "alice gid (personal group, gid = uid)" gid 12001
field "alice full name" full_name "Alice Liddell"
field "alice home" home /home/alice2
field "alice shell" shell /bin/zsh
field "alice expires" expires 2099-12-31T00:00:00Z
field "alice is activated at once" enabled yes
out_match "alice activated" "^activated +$TIME_RE\$"
field "alice password" password yes
field "alice email" email alice@example.com
field "alice totp" totp no
field "alice no failures" failures 0
out_match "alice primary group listed" '^  alice +12001 +primary$'
out_match "alice uuid" '^uuid +[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

run_ok "user show alice --json" rc --json user show alice
json_valid "user show --json"
json_true "user show --json fields" \
        'd["user"]["name"] == "alice" and d["user"]["uid"] == 12001 and d["user"]["gid"] == 12001 and
         d["user"]["full_name"] == "Alice Liddell" and d["user"]["home"] == "/home/alice2" and
         d["user"]["shell"] == "/bin/zsh" and d["user"]["expires"] == "2099-12-31T00:00:00Z" and
         d["secrets"]["email"] == "alice@example.com" and d["secrets"]["password"] is True and
         d["groups"] == [{"group_name": "alice", "gid": 12001, "membership": "primary"}] and d["roles"] == [] and
         d["state"]["login_count"] == 0'

run_ok "group add crew --gid --description" rc group add crew --gid 15000 --description "Staff members"
run_ok "user add --group --activation" rc user add bob --group crew --activation
out_match "--activation prints one code line" "^activation code for bob: $CODE_RE \\(valid until $TIME_RE\\)\$"
eq "--activation prints exactly one line" "$(wc -l <"$OUT")" 1
run_ok "user show bob" rc user show bob
field "bob primary gid from --group" gid 15000
field "bob not activated yet" activated -
field "bob has no password" password no
field "bob has a pending activation code" pending_codes activation
out_match "bob's primary group is crew" '^  crew +15000 +primary$'
run_ok "group show bob: no personal group when --group is given" rc group list
out_lacks "no group named bob" "personal group of bob"

run_ok "user add --gid" rc user add carol --gid 15000 --uid 12003
run_ok "user show carol" rc user show carol
field "carol gid from --gid" gid 15000
field "carol uid" uid 12003

run_ok "user add with defaults" rc user add dave
run_ok "user show dave" rc user show dave
field "dave home from home_base" home /srv/home/dave
field "dave shell from default_shell" shell /bin/sh
field "dave expires never" expires -
out_match "dave uid allocated in range" '^uid +1[0-9]{4}$'

name32=abcdefghijklmnopqrstuvwxyz_01234
run_ok "user add with a 32-byte name" rc user add "$name32"
run_ok "user del the 32-byte name" rc user del "$name32"

# JSON string escaping: quotes, a backslash and UTF-8 come back exactly.
run_ok "user add with quotes and a backslash in the full name" rc user add quincy --full-name 'Zoë "Q" \ Back'
run_ok "user show quincy --json" rc --json user show quincy
json_valid "escaped full name"
json_true "escaped full name round-trips" 'd["user"]["full_name"] == "Zoë \"Q\" \\ Back"'

# ---- user mod, list, passwd, enable/disable, unlock, reset, totp, del ----------------------

run_ok "user mod with every option" rc user mod dave --full-name "Dave Dee" --home /home/dd --shell /bin/bash \
        --email dave@example.org --expires 2030-01-02T03:04:05Z
run_ok "user show dave after mod" rc user show dave
field "mod full name" full_name "Dave Dee"
field "mod home" home /home/dd
field "mod shell" shell /bin/bash
field "mod email" email dave@example.org
field "mod expires" expires 2030-01-02T03:04:05Z
run_ok "user mod --group" rc user mod dave --group crew
run_ok "user show dave" rc user show dave
field "mod --group" gid 15000
run_ok "user mod --gid" rc user mod dave --gid 15000
run_ok "user mod --expires @EPOCH" rc user mod dave --expires @2000000000
run_ok "user show dave" rc user show dave
field "@EPOCH expiry" expires 2033-05-18T03:33:20Z
run_ok "user mod --expires +N" rc user mod dave --expires +2w
run_ok "user show dave" rc user show dave
out_match "+2w expiry" "^expires +$TIME_RE\$"
run_ok "user mod --expires never" rc user mod dave --expires never
run_ok "user show dave" rc user show dave
field "never clears expiry" expires -

run_ok "user list" rc user list
out_match "user list header" '^name +uid +gid '
for u in boss second alice bob carol dave quincy; do
        out_match "user list has $u" "^$u +[0-9]+ +[0-9]+ "
done
run_ok "user list --json" rc --json user list
json_valid "user list --json"
json_true "user list --json has 7 users" \
        'isinstance(d, list) and sorted(u["name"] for u in d) == ["alice", "bob", "boss", "carol", "dave", "quincy", "second"]'

# rolesctl's own options anywhere on the line
run_ok "--json after the command" "$ROLESCTL" user list --json --conf "$CONF"
json_true "--json after the command: JSON" 'isinstance(d, list) and any(u["name"] == "alice" for u in d)'
run_ok "--conf=FILE and --json between the words" "$ROLESCTL" user --conf="$CONF" show --json alice
json_true "--json between the words: JSON" 'd["user"]["name"] == "alice"'
run_ok "--json after a command's own option" rc user add globopt --shell /bin/sh --json
run_ok "user show globopt" rc user show globopt
field "an option after --json kept its value" shell /bin/sh
run_ok "a value spelt like a global option, given with =" rc user mod globopt --full-name=--json
run_ok "user show globopt" rc user show globopt
field "the value is the option's, not rolesctl's" full_name --json
run_ok "user del globopt" rc user del globopt
run_refused 2 "--conf at the end without its value" "$ROLESCTL" user list --conf
run_ok_in $'check alice login.sshd\n' "--json after batch" rc batch --json
out_match "--json after batch: JSON" '^\{"user":"alice",'
run_refused_in $'check alice login.sshd --json\n' 2 "--json inside a batch line" rc batch
err_has "--json inside a batch line: says where it goes" "give it on rolesctl's command line"
run_refused_in $'user list --conf /etc/x.conf\n' 2 "--conf inside a batch line" rc batch
err_has "--conf inside a batch line: says where it goes" "'--conf' is for the whole batch"
run_refused_in $'--conf=/etc/x.conf user list\n' 2 "--conf=FILE inside a batch line" rc batch
err_has "--conf=FILE inside a batch line: says why" "is for the whole batch"

run_ok_in $'another passphrase\n' "user passwd --stdin" rc user passwd bob --stdin
run_ok "user show bob" rc user show bob
field "passwd sets a password" password yes
out_match "passwd records the change time" "^password_changed +$TIME_RE\$"

run_ok "user disable" rc user disable alice
run_ok "user show alice" rc user show alice
field "disabled" enabled no
run_ok "perms of a disabled user" rc perms alice --why
out_has "disabled user holds nothing" "alice holds nothing: disabled"
run_ok "user enable" rc user enable alice
run_ok "user show alice" rc user show alice
field "enabled again" enabled yes

run_ok "user unlock" rc user unlock alice
run_ok "user show alice" rc user show alice
field "unlock leaves no failures" failures 0
field "unlock leaves no lock" locked_until -

run_ok "user reset" rc user reset alice
out_match "reset prints a code" "^reset code for alice: $CODE_RE \\(valid until $TIME_RE\\)\$"
run_ok "user show alice" rc user show alice
field "pending reset code" pending_codes reset
field "reset keeps the password" password yes
run_ok "user reset --json" rc --json user reset alice
json_valid "user reset --json"
json_true "user reset --json has the code" \
        'd["user"] == "alice" and len(d["reset_code"]) == 23 and d["expires"].endswith("Z")'
# A password set by the administrator voids pending codes, as one set through PAM does.
run_ok_in $'a new passphrase\n' "user passwd after a reset" rc user passwd alice --stdin
run_ok "user show alice" rc user show alice
field "user passwd voids the pending reset code" pending_codes -

# TOTP as google-authenticator enrols: a QR code (half blocks in a UTF-8 locale, '#' otherwise)
# over the otpauth URI, the issuer the host name unless roles.conf names one, ten recovery codes.
HOST_ISSUER=$(python3 -c 'import socket, urllib.parse; print(urllib.parse.quote(socket.gethostname(), safe=""))')
run_ok "user totp enroll" env LC_ALL=C.UTF-8 "$ROLESCTL" --conf "$CONF" user totp enroll alice
out_match "enroll draws the QR code in half blocks" '^[ ▀▄█]{20,}$'
out_match "enroll prints an otpauth URI with a secret" '^otpauth://totp/[^ ]*[?&]secret=[A-Z2-7]{16,}'
out_match "the issuer is the host name, in the label and the parameter" \
        "^otpauth://totp/$HOST_ISSUER:alice\\?secret=[A-Z2-7]+&issuer=$HOST_ISSUER&"
eq "enroll prints ten recovery codes" "$(grep -cE '^  [A-Z2-7]{5}(-[A-Z2-7]{5}){3}$' "$OUT")" 10
run_ok "user show alice" rc user show alice
field "totp enrolled" totp yes
field "recovery codes left" recovery_codes_left 10
run_refused 4 "enroll over a secret without --replace" rc user totp enroll alice
err_has "enroll without --replace says why" "give --replace"
run_refused 2 "--replace goes with enroll only" rc user totp disable alice --replace
run_ok "user totp enroll --replace, not UTF-8" env LC_ALL=C "$ROLESCTL" --conf "$CONF" user totp enroll alice --replace
out_match "the QR code in '#' where the locale is not UTF-8" '^(##|  ){20,}$'
out_lacks "no half block outside UTF-8" '▀'
sed 's/^home_base .*/&\ntotp_issuer = ACME Corp (ssh)/' "$CONF" >"$T/issuer.conf"
chmod 644 "$T/issuer.conf"
run_ok "user totp enroll --replace --json, issuer from roles.conf" "$ROLESCTL" --conf "$T/issuer.conf" --json user totp enroll alice --replace
json_valid "totp enroll --json"
json_true "totp --json: issuer, URI (URL-encoded issuer), ten codes, no QR" \
        'd["user"] == "alice" and d["totp"] == "enrolled" and d["issuer"] == "ACME Corp (ssh)" and
         d["otpauth"].startswith("otpauth://totp/ACME%20Corp%20%28ssh%29:alice?secret=") and
         "&issuer=ACME%20Corp%20%28ssh%29&" in d["otpauth"] and len(d["recovery_codes"]) == 10 and
         len(set(d["recovery_codes"])) == 10 and all(len(c) == 23 for c in d["recovery_codes"])'
run_ok "user totp recovery-codes" rc user totp recovery-codes alice
eq "recovery-codes prints ten codes" "$(grep -cE '^  [A-Z2-7]{5}(-[A-Z2-7]{5}){3}$' "$OUT")" 10
out_lacks "recovery-codes draws no QR code" '##'
run_ok "user totp recovery-codes --json" rc --json user totp recovery-codes alice
json_true "recovery-codes --json: ten codes" 'd["user"] == "alice" and len(d["recovery_codes"]) == 10'
eq "the old recovery codes are gone" "$(sqlite3 "$T/secrets.db" 'SELECT count(*) FROM recovery_codes')" 10
run_ok "user totp disable" rc user totp disable alice
run_ok "user show alice" rc user show alice
field "totp disabled" totp no
field "no recovery codes without TOTP" recovery_codes_left 0
run_refused 3 "recovery-codes without TOTP" rc user totp recovery-codes alice

run_ok "user del" rc user del quincy
run_refused 3 "user show after del" rc user show quincy
run_refused 3 "the personal group goes with the user" rc group show quincy

# ---- groups --------------------------------------------------------------------------------

run_ok "group add --gid --description" rc group add devs --gid 16000 --description "Developers"
run_ok "group add with an allocated gid" rc group add scratch
run_ok "group adduser" rc group adduser devs alice
run_ok "group adduser" rc group adduser devs bob
run_ok "group show devs" rc group show devs
field "group name" name devs
field "group gid" gid 16000
field "group description" description Developers
field "group member count" members 2
out_match "member alice listed" '^  alice +12001$'
out_match "member bob listed" '^  bob +[0-9]+$'
run_ok "group show --json" rc --json group show devs
json_valid "group show --json"
json_true "group show --json" \
        'd["group"]["gid"] == 16000 and sorted(m["user"] for m in d["members"]) == ["alice", "bob"]'
run_ok "user show alice lists the membership" rc user show alice
out_match "membership in user show" '^  devs +16000 +member$'
run_ok "group list" rc group list
out_match "group list has devs" '^devs +16000 +Developers +2 '
out_match "group list has crew" '^crew +15000 +Staff members '
run_ok "group list --json" rc --json group list
json_valid "group list --json"
json_true "group list --json" 'any(g["name"] == "devs" and g["gid"] == 16000 for g in d)'
run_ok "group deluser" rc group deluser devs bob
run_ok "group show devs" rc group show devs
out_lacks "bob removed" "  bob "
field "one member left" members 1
run_ok "group del" rc group del scratch
run_refused 3 "group show after del" rc group show scratch
run_ok "user add with a uid whose gid is taken" rc user add uma --uid 16000
run_ok "user show uma" rc user show uma
field "uid as asked" uid 16000
out_match "personal group on another gid" '^gid +1[0-9]{4}$'
out_lacks "not the taken gid" "gid                        16000"
run_ok "personal group with another member" rc group adduser uma alice
run_ok "user del uma" rc user del uma
run_ok "a personal group still in use stays" rc group show uma
out_match "the other member is kept" '^  alice +12001$'
run_ok "group del of the orphaned personal group" rc group del uma

# ---- metaroles -----------------------------------------------------------------------------

run_ok "metarole add --name --description --includes" \
        rc metarole add ops --name Operators --description "Operations crew" --includes user
run_ok "metarole add --includes" rc metarole add dba --includes ops
run_ok "metarole add" rc metarole add audit
run_ok "metarole add --includes a list" rc metarole add web --includes ops,audit
run_ok "metarole show web" rc metarole show web
field "two includes" includes ops,audit
run_ok "metarole include" rc metarole include dba audit
run_ok "metarole show dba" rc metarole show dba
out_match "include added" '^  audit$'
run_ok "metarole exclude" rc metarole exclude dba audit
run_ok "metarole show dba" rc metarole show dba
out_lacks "include removed" "  audit"
run_ok "metarole grant" rc metarole grant ops login.sshd
run_ok "metarole grant on a built-in" rc metarole grant user 'mail.*'
run_ok "metarole grant" rc metarole grant audit logs.read
run_ok "metarole revoke" rc metarole revoke audit logs.read
run_ok "metarole show ops" rc metarole show ops
field "metarole code" code ops
field "metarole name" name Operators
field "metarole description" description "Operations crew"
field "not built in" builtin no
out_match "permission listed" '^  login\.sshd$'
run_ok "metarole show ops --json" rc --json metarole show ops
json_valid "metarole show --json"
json_true "metarole show --json" \
        'd["metarole"]["name"] == "Operators" and d["includes"] == [{"code": "user"}] and
         d["metarole"]["includes"] == ["user"] and
         d["permissions"] == [{"permission": "login.sshd"}]'
run_ok "metarole list" rc metarole list
out_match "built-in listed as such" '^super-admin +Super administrator .* yes +admin$'
out_match "ops listed" '^ops +Operators +Operations crew +- +no +user$'
run_ok "metarole list --json" rc --json metarole list
json_valid "metarole list --json"
json_true "metarole list --json" \
        '{m["code"] for m in d} >= {"super-admin", "admin", "user", "ops", "dba", "audit", "web"}'
json_true "metarole list --json: includes an array in every row, builtin a boolean" \
        'all(isinstance(m["includes"], list) and isinstance(m["builtin"], bool) for m in d) and
         [m["includes"] for m in d if m["code"] == "super-admin"] == [["admin"]] and
         [m["includes"] for m in d if m["code"] == "user"] == [[]]'

run_ok "metarole publish --gid" rc metarole publish ops --gid 17000
run_ok "metarole show ops" rc metarole show ops
field "published gid" published_gid 17000
run_refused 4 "a group cannot take a published metarole's name" rc group add ops
run_refused 4 "a group cannot take a published metarole's gid" rc group add opsgroup --gid 17000
run_refused 4 "publish twice" rc metarole publish ops
run_ok "metarole unpublish" rc metarole unpublish ops
run_ok "metarole show ops" rc metarole show ops
field "unpublished" published_gid -
run_ok "metarole publish with an allocated gid" rc metarole publish web
run_ok "metarole show web" rc metarole show web
out_match "allocated gid" '^published_gid +[0-9]+$'
run_ok "metarole add for del" rc metarole add scratchm
run_ok "metarole del" rc metarole del scratchm
run_refused 3 "metarole show after del" rc metarole show scratchm

# ---- roles, assignments, resolution ------------------------------------------------------

run_ok "role add --metarole --description" rc role add dbadmin --metarole dba --description "Database admins"
run_ok "role grant" rc role grant dbadmin db.backup.read
run_ok "role grant" rc role grant dbadmin db.drop
run_ok "role grant a wildcard" rc role grant dbadmin 'reports.*'
run_ok "role disable" rc role disable dbadmin db.drop
run_ok "role show" rc role show dbadmin
field "role name" name dbadmin
field "role metarole" metarole dba
field "role description" description "Database admins"
out_match "enabled permission" '^  db\.backup\.read +enabled$'
out_match "disabled permission" '^  db\.drop +disabled$'
run_ok "role assign" rc role assign dbadmin alice
run_ok "role show" rc role show dbadmin
out_match "assignment listed" '^  alice +- +current$'
run_ok "role show --json" rc --json role show dbadmin
json_valid "role show --json"
json_true "role show --json" \
        'd["role"]["metarole"] == "dba" and {"permission": "db.drop", "status": "disabled"} in d["permissions"] and
         d["users"][0]["user"] == "alice"'
run_ok "role list" rc role list
out_match "role list" '^dbadmin +dba +Database admins +1$'
out_match "init's role listed" '^super-admin +super-admin '
run_ok "role list --json" rc --json role list
json_valid "role list --json"
json_true "role list --json" 'any(r["name"] == "dbadmin" and r["users"] == 1 for r in d)'

run_ok "perms" rc perms alice
eq "perms lists what counts, sorted" "$(cat "$OUT")" "db.backup.read
login.sshd
mail.*
reports.*"
run_ok "perms --why" rc perms alice --why
out_match "why: the role" '^role dbadmin +metarole dba$'
out_match "why: a role's own grant" '^db\.backup\.read +role dbadmin$'
out_match "why: a disabled permission" '^db\.drop +role dbadmin +\(disabled on the role: not granted\)$'
out_match "why: a metarole chain" '^login\.sshd +role dbadmin -> metarole dba -> metarole ops$'
out_match "why: a longer chain to a wildcard" \
        '^mail\.\* +role dbadmin -> metarole dba -> metarole ops -> metarole user$'
out_match "why: a wildcard on the role" '^reports\.\* +role dbadmin$'
run_ok "perms --why --json" rc --json perms alice --why
json_valid "perms --why --json"
json_true "perms --why --json" \
        'd["user"] == "alice" and d["active"] and not d["superuser"] and d["metaroles"] == ["dba", "ops", "user"] and
         {"permission": "db.drop", "via": "role dbadmin", "disabled": True} in d["permissions"] and
         {"permission": "login.sshd", "via": "role dbadmin -> metarole dba -> metarole ops", "disabled": False}
           in d["permissions"]'
run_ok "perms --json" rc --json perms alice
json_valid "perms --json"
json_true "perms --json leaves out disabled grants" \
        'sorted(p["permission"] for p in d["permissions"]) == ["db.backup.read", "login.sshd", "mail.*", "reports.*"]'

run_ok "check: a role grant" rc check alice db.backup.read
eq "check prints yes" "$(cat "$OUT")" yes
run_exits 0 "check: through a metarole chain" rc check alice login.sshd
run_exits 0 "check: covered by a wildcard" rc check alice reports.daily.pdf
run_exits 0 "check: a wildcard from an included metarole" rc check alice mail.read
run_exits 1 "check: a wildcard does not cover its stem" rc check alice reports
run_exits 1 "check: nor a sibling prefix" rc check alice reportsx.daily
run_exits 1 "check: a disabled permission" rc check alice db.drop
eq "check prints no" "$(cat "$OUT")" no
run_exits 1 "check: never granted" rc check alice sudo
run_cmd rc --json check alice db.drop
eq "check --json exit" "$RC" 1
json_true "check --json" 'd == {"user": "alice", "permission": "db.drop", "allowed": False}'
run_ok "role enable" rc role enable dbadmin db.drop
run_exits 0 "check: enabled again" rc check alice db.drop
run_ok "role revoke" rc role revoke dbadmin db.backup.read
run_exits 1 "check: revoked" rc check alice db.backup.read

# --until: one running, one ended (a time in the past), one that ends while we watch.
run_ok "role assign --until in the future" rc role assign dbadmin carol --until +1h
run_ok "perms carol --why" rc perms carol --why
out_match "why: a running --until grant" "^role dbadmin +metarole dba, until $TIME_RE\$"
run_exits 0 "check: a running --until grant counts" rc check carol login.sshd
run_ok "role add jit" rc role add jit --metarole user --description "just in time"
run_ok "role grant jit" rc role grant jit sudo
run_ok "role assign --until in the past" rc role assign jit bob --until @1000
run_ok "perms bob --why" rc perms bob --why
out_match "why: an expired --until grant" '^role jit +metarole user, ended 1970-01-01T00:16:40Z: not counted$'
out_lacks "an expired grant gives nothing" "sudo"
out_lacks "nor its metarole's permissions" "mail.*"
run_exits 1 "check: an expired --until grant" rc check bob sudo
run_ok "perms bob --why --json" rc --json perms bob --why
json_true "perms --json: ended role" \
        'd["roles"] == [{"role": "jit", "ended": True, "until": "1970-01-01T00:16:40Z"}] and d["permissions"] == []'
run_ok "role show jit" rc role show jit
out_match "role show marks the ended grant" '^  bob +1970-01-01T00:16:40Z +ended$'
run_ok "role assign --until +1s" rc role assign jit carol --until +1s
sleep 1.2
run_exits 1 "check: a --until grant stops counting when it ends" rc check carol sudo
run_ok "perms carol --why" rc perms carol --why
out_match "why: the grant that just ended" "^role jit +metarole user, ended $TIME_RE: not counted\$"
run_ok "role assign again replaces --until" rc role assign jit carol --until 2099-01-01T00:00:00Z
run_exits 0 "check: extended grant counts" rc check carol sudo
run_ok "role unassign" rc role unassign jit carol
run_exits 1 "check: unassigned" rc check carol sudo
run_ok "role unassign" rc role unassign dbadmin carol
run_exits 1 "check: unassigned" rc check carol login.sshd

# superuser
run_ok "perms boss" rc perms boss
out_has "superuser in perms" "* (superuser: every permission)"
run_ok "perms boss --why" rc perms boss --why
out_match "why: superuser" '^\* +superuser: role super-admin -> metarole super-admin$'
out_match "why: superuser's role" '^role super-admin +metarole super-admin$'
run_exits 0 "check: a superuser holds anything" rc check boss anything.at.all
run_ok "perms boss --json" rc --json perms boss
json_true "perms --json superuser" 'd["superuser"] is True and "super-admin" in d["metaroles"]'

# expired account
run_ok "user mod --expires in the past" rc user mod carol --expires 2000-01-01
run_ok "role assign to an expired account" rc role assign dbadmin carol
run_ok "perms carol" rc perms carol --why
out_has "an expired account holds nothing" "carol holds nothing: account expired"
run_exits 1 "check: an expired account" rc check carol login.sshd

run_ok "role add for del" rc role add scratchr --metarole user
run_ok "role del" rc role del scratchr
run_refused 3 "role show after del" rc role show scratchr

# ---- audit ---------------------------------------------------------------------------------

run_ok "audit" rc audit
out_match "audit header" '^id +at +actor +action +target +detail$'
out_match "audit: user.add alice by the acting user" "^[0-9]+ +$TIME_RE +$ACTOR \\(uid $(id -u)(; login [^)]*)?\\) +user\\.add +alice +uid=12001"
out_match "audit: role.assign" "^[0-9]+ +$TIME_RE +$ACTOR.* +role\\.assign +dbadmin +user=alice"
out_match "audit: metarole.include" "^[0-9]+ +$TIME_RE +$ACTOR.* +metarole\\.include +dba +child=audit"
out_match "audit: user.passwd" " user\\.passwd +bob"
out_match "audit: user.del" " user\\.del +quincy"
run_ok "audit --json" rc --json audit
json_valid "audit --json"
json_true "audit --json rows carry the acting user" \
        'len(d) > 20 and all(r["actor"].split(" ")[0] == "'"$ACTOR"'" for r in d) and
         any(r["action"] == "group.adduser" and r["target"] == "devs" and r["detail"] == "user=alice" for r in d)'

# ---- backup --------------------------------------------------------------------------------

before=$(serial)
run_ok "backup" rc backup "$T/backup.tar"
if [ -f "$T/backup.tar" ]; then pass; else fail "backup: no file"; fi
eq "backup mode" "$(stat_mode "$T/backup.tar")" 600
eq "backup holds the three files" "$(tar -tf "$T/backup.tar" 2>&1 | sort | tr '\n' ' ')" "roles.db secrets.db state.db "
mkdir -p "$T/restore"
if tar -xf "$T/backup.tar" -C "$T/restore"; then pass; else fail "backup: tar -x failed"; fi
eq "restored roles.db opens and holds alice" \
        "$(sql "$T/restore/roles.db" "SELECT uid FROM users WHERE name = 'alice'" 2>&1)" 12001
eq "restored roles.db is intact" "$(sql "$T/restore/roles.db" "PRAGMA integrity_check" 2>&1)" ok
eq "restored secrets.db is intact" "$(sql "$T/restore/secrets.db" "PRAGMA integrity_check" 2>&1)" ok
eq "restored state.db is intact" "$(sql "$T/restore/state.db" "PRAGMA integrity_check" 2>&1)" ok
eq "restored roles.db is the snapshot the backup saw" "$(sql "$T/restore/roles.db" \
        "SELECT value FROM meta WHERE key = 'serial'" 2>&1)" "$before"
run_refused 2 "backup without a file" rc backup
run_refused 2 "backup with two files" rc backup a.tar b.tar

# ---- batch ---------------------------------------------------------------------------------

cat >"$T/good.batch" <<'EOF'
# a comment, then a blank line

user add erin --full-name "Erin Example" --uid 13000
user add frank --full-name "Frank O'Brien"
group add team --description "The team"   # trailing comment
group adduser team erin
group adduser team frank
metarole add deploy --includes ops
metarole grant deploy deploy.web
role add deployer --metarole deploy
role assign deployer erin
check erin deploy.web
check frank deploy.web
user show erin
EOF
before=$(serial)
run_ok "batch FILE" rc batch "$T/good.batch"
eq "batch FILE publishes one snapshot" "$(serial)" "$((before + 1))"
eq "batch output: check answers in order" "$(head -n 2 "$OUT" | tr '\n' ' ')" "yes no "
field "batch output: user show" full_name "Erin Example"
run_ok "after batch" rc user show frank
field "batch quoting" full_name "Frank O'Brien"
run_ok "after batch" rc group show team
field "batch: memberships" members 2
run_exits 0 "after batch: resolution" rc check erin login.sshd

before=$(serial)
run_ok_in $'user add gina\nuser add hank\ngroup adduser team gina\n' "batch from stdin" rc batch
eq "batch from stdin publishes one snapshot" "$(serial)" "$((before + 1))"
run_ok "after batch from stdin" rc group show team
field "batch from stdin: membership" members 3
before=$(serial)
run_ok_in $'user add ivan\nuser mod ivan --full-name Ivan\n' "batch - (stdin)" rc batch -
eq "batch - publishes one snapshot" "$(serial)" "$((before + 1))"

# no password is ever waited for while the batch holds the writer lock
printf 'user add pwuser --password-stdin\n' >"$T/pw.batch"
run_refused_in $'batch password\n' 2 "batch FILE with --password-stdin is refused" rc batch "$T/pw.batch"
err_has "batch password refusal says what to do" "user passwd"
run_refused 3 "refused password batch left nothing" rc user show pwuser

# a failing line in the middle changes nothing
printf 'user add jack\ngroup add jills\nuser add erin\nuser add kate\n' >"$T/bad.batch"
before=$(serial)
run_refused 4 "batch with a failing line in the middle" rc batch "$T/bad.batch"
err_has "batch error names the line" "batch line 3:"
err_has "batch error says why" "user 'erin' already exists"
eq "failed batch: serial unchanged" "$(serial)" "$before"
run_refused 3 "failed batch: the line before the failure left nothing" rc user show jack
run_refused 3 "failed batch: nor the group" rc group show jills
# Given the wrong file (a shadow file, a list of codes), a batch error names the file, the line
# and what was wrong, never the words that could be secrets.
printf 'group add fine\nroot:$6$SALTsalt$H4shV4lueN0tT0B3Pr1nted:19000:0:99999:7:::\n' >"$T/shadow.batch"
run_refused 2 "batch of a shadow file" rc batch "$T/shadow.batch"
err_has "batch error names the file and line" "$T/shadow.batch: batch line 2:"
err_lacks "batch error does not repeat a hash" 'H4shV4lue'
printf 'user add ABCDE-FGHIJ-KLMNO-PQRST\n' >"$T/codes.batch"
run_refused 2 "batch of codes" rc batch "$T/codes.batch"
err_lacks "batch error does not repeat a code" 'ABCDE-FGHIJ'
printf '%s\n' "user add \"x'S3cr3tPassw0rd\"" "user frob \"it's My Secret\"" >"$T/quote.batch"
run_refused 2 "batch of a password with a quote in it" rc batch "$T/quote.batch"
err_lacks "batch error does not repeat a password with a quote in it" 'S3cr3t'
printf '%s\n' "user frob \"it's My Secret\"" >"$T/quote2.batch"
run_refused 2 "batch of an unknown verb with a quote in it" rc batch "$T/quote2.batch"
err_lacks "batch error does not repeat a word with a quote in it" 'My Secret'
run_refused_in $'user add jack\nrole add lonely\nuser add kate\n' 2 "batch from stdin with a usage error in the middle" rc batch
err_has "batch usage error names the line" "batch line 2:"
run_refused_in $'user add jack\nrole grant dbadmin A.B\n' 2 "batch with an invalid permission" rc batch
run_refused_in $'user add jack\ninit\n' 2 "init cannot run inside a batch" rc batch
run_refused_in $'user add jack\nbatch\n' 2 "batch cannot nest" rc batch
run_refused_in $'user add jack\nbackup x.tar\n' 2 "backup cannot run inside a batch" rc batch
run_refused_in $'user add "jack\n' 2 "batch with an unbalanced quote" rc batch
run_refused_in $'user add jack --password-stdin\n' 2 "--password-stdin inside a batch read from stdin" rc batch
printf 'user passwd alice\n' >"$T/pw2.batch"
run_refused 2 "user passwd (terminal prompt) inside a batch" rc batch "$T/pw2.batch"
run_refused_in $'user add jack\nfrobnicate\n' 2 "batch with an unknown command" rc batch
run_refused 5 "batch from a missing file" rc batch "$T/no-such.batch"
run_refused 2 "batch with two files" rc batch a b

# ---- JSON: one type per field, an answer for every change, errors as objects ----------------

run_ok "user list --json (types)" rc user list --json
json_true "user list --json: enabled a boolean, ids numbers, in every row" \
        'all(isinstance(u["enabled"], bool) and type(u["uid"]) is int and type(u["gid"]) is int for u in d)'
run_ok "user show --json (types)" rc user show alice --json
json_true "user show --json: the same types as the listing" \
        'd["user"]["enabled"] is True and type(d["user"]["uid"]) is int and d["secrets"]["totp"] in (True, False) and
         isinstance(d["secrets"]["must_change_password"], bool) and isinstance(d["secrets"]["pending_codes"], list) and
         isinstance(d["state"]["locked"], bool) and type(d["state"]["failures"]) is int'
run_ok "metarole show --json (types)" rc metarole show super-admin --json
json_true "metarole show --json: includes an array, builtin a boolean" \
        'd["metarole"]["includes"] == ["admin"] and d["metarole"]["builtin"] is True and d["includes"] == [{"code": "admin"}]'

run_ok "user add --json answers" rc user add jsonu --json
json_true "user add --json: an object naming the change and the uid given" \
        'd["ok"] is True and d["action"] == "user.add" and d["user"] == "jsonu" and type(d["uid"]) is int and
         type(d["gid"]) is int'
run_ok "group add --json answers" rc --json group add jsong
json_true "group add --json" 'd["ok"] is True and d["action"] == "group.add" and d["group"] == "jsong" and type(d["gid"]) is int'
run_ok "group adduser --json answers" rc --json group adduser jsong jsonu
json_true "group adduser --json" 'd == {"ok": True, "action": "group.adduser", "group": "jsong", "user": "jsonu"}'
run_ok "role grant --json answers" rc role grant dbadmin json.test --json
json_true "role grant --json" 'd == {"ok": True, "action": "role.grant", "role": "dbadmin", "permission": "json.test"}'
run_ok "metarole include --json answers" rc --json metarole include web dba
json_true "metarole include --json" 'd == {"ok": True, "action": "metarole.include", "parent": "web", "child": "dba"}'
run_ok "metarole exclude --json answers" rc --json metarole exclude web dba
run_ok "user disable --json answers" rc --json user disable jsonu
json_true "user disable --json" 'd == {"ok": True, "action": "user.disable", "user": "jsonu"}'
run_ok_in $'user enable jsonu\ncheck jsonu json.test\ngroup deluser jsong jsonu\n' "batch --json answers each line" \
        rc --json batch
if python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if [r.get("action") for r in rows] == ["user.enable", None, "group.deluser", "batch"] and
         rows[1]["allowed"] is False and all(r.get("ok", True) is True for r in rows) else 1)' "$OUT"; then
        pass
else
        fail "batch --json: one JSON object a line, each change answered, then the batch"
        show_last
fi
run_ok "user del --json answers" rc --json user del jsonu
json_true "user del --json" 'd == {"ok": True, "action": "user.del", "user": "jsonu"}'
run_ok "group del --json answers" rc --json group del jsong

# json_error CODE DESC CMD...: refused with exit CODE, nothing on stdout, one JSON object on stderr
# saying so.
json_error() {
        local code=$1 desc=$2
        shift 2
        snapshot
        run_cmd "$@"
        if [ "$RC" -eq "$code" ] && [ ! -s "$OUT" ] && [ "$(wc -l <"$ERR")" -eq 1 ] && unchanged >/dev/null &&
                python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["ok"] is False and d["exit"] == int(sys.argv[2]) and isinstance(d["error"], str) else 1)' \
                        "$ERR" "$code" 2>/dev/null; then
                pass
        else
                fail "$desc: expected exit $code, a JSON error object on stderr and nothing on stdout"
                show_last
        fi
}
json_error 4 "an error under --json" rc --json user add alice
err_has "an error under --json: says why" "user 'alice' already exists"
json_error 3 "not found under --json" rc user show nobody --json
json_error 2 "a usage error under --json" rc --json usr list
err_has "a usage error under --json: did you mean" "did you mean 'user'?"
json_error 4 "a batch error under --json" rc --json batch "$T/bad.batch"
err_has "a batch error under --json: names the line" "batch line 3:"

# ---- bad inputs ----------------------------------------------------------------------------
# names this host already resolves to local accounts or groups outside roles' ranges
if getent passwd backup >/dev/null; then
        run_refused 4 "user add of a local account's name (backup)" rc user add backup
        err_has "local account refusal names the uid" "local account on this host"
fi
if getent group users >/dev/null; then
        run_refused 4 "group add of a local group's name (users)" rc group add users
        run_refused 4 "user add whose personal group would take a local group's name" rc user add users
fi

# user names
run_refused 2 "user name with ':'" rc user add 'a:b'
run_refused 2 "user name with a newline" rc user add $'a\nb'
run_refused 2 "user name in upper case" rc user add Alice
run_refused 2 "user name with a leading digit" rc user add 1abc
run_refused 2 "user name of 33 bytes" rc user add "${name32}x"
run_refused 2 "user name empty" rc user add ''
run_refused 2 "user name with a space" rc user add 'a b'
run_refused 2 "user name with a slash" rc user add 'a/b'
run_refused 2 "group name with ':'" rc group add 'g:x'
run_refused 2 "role name in upper case" rc role add Admins --metarole user
run_refused 2 "metarole code with a newline" rc metarole add $'m\nx'

# ids
run_refused 2 "uid 0" rc user add zed --uid 0
run_refused 2 "uid above the range" rc user add zed --uid 60000
run_refused 2 "uid below the range" rc user add zed --uid 9999
run_refused 4 "duplicate uid" rc user add zed --uid 12001
run_refused 2 "uid -1" rc user add zed --uid -1
run_refused 2 "uid abc" rc user add zed --uid abc
run_refused 2 "uid 2^32" rc user add zed --uid 4294967296
run_refused 2 "uid with trailing junk" rc user add zed --uid 12345x
run_refused 2 "gid 0" rc group add zed --gid 0
run_refused 4 "duplicate gid" rc group add zed --gid 16000
run_refused 2 "gid abc for a user" rc user add zed --gid abc
run_refused 3 "a primary gid that is no roles group" rc user add zed --gid 44444
run_refused 2 "--group and --gid together" rc user add zed --group crew --gid 15000
run_refused 2 "publish with gid 0" rc metarole publish audit --gid 0

# duplicates
run_refused 4 "duplicate user" rc user add alice
run_refused 4 "a user named like an existing group" rc user add crew
run_refused 4 "duplicate group" rc group add devs
run_refused 4 "duplicate role" rc role add dbadmin --metarole user
run_refused 4 "duplicate metarole" rc metarole add ops
run_refused 4 "duplicate membership" rc group adduser devs alice
run_refused 4 "duplicate role grant" rc role grant dbadmin db.drop
run_refused 4 "duplicate metarole grant" rc metarole grant ops login.sshd
run_refused 4 "duplicate include" rc metarole include dba ops

# unknown objects
run_refused 3 "unknown user: show" rc user show nobody
run_refused 3 "unknown user: mod" rc user mod nobody --full-name X
run_refused 3 "unknown user: del" rc user del nobody
run_refused 3 "unknown user: enable" rc user enable nobody
run_refused 3 "unknown user: disable" rc user disable nobody
run_refused 3 "unknown user: unlock" rc user unlock nobody
run_refused 3 "unknown user: reset" rc user reset nobody
run_refused 3 "unknown user: totp enroll" rc user totp enroll nobody
run_refused_in $'long enough pw\n' 3 "unknown user: passwd" rc user passwd nobody --stdin
run_refused 3 "unknown user: check" rc check nobody login.sshd
run_refused 3 "unknown user: perms" rc perms nobody
run_refused 3 "unknown user: adduser" rc group adduser devs nobody
run_refused 3 "unknown user: assign" rc role assign dbadmin nobody
run_refused 3 "unknown group: show" rc group show nogroup
run_refused 3 "unknown group: del" rc group del nogroup
run_refused 3 "unknown group: adduser" rc group adduser nogroup alice
run_refused 3 "unknown group: user add --group" rc user add zed --group nogroup
run_refused 3 "unknown group: user mod --group" rc user mod alice --group nogroup
run_refused 3 "not a member: deluser" rc group deluser devs bob
run_refused 3 "unknown role: show" rc role show norole
run_refused 3 "unknown role: del" rc role del norole
run_refused 3 "unknown role: grant" rc role grant norole a.b
run_refused 3 "unknown role: assign" rc role assign norole alice
run_refused 3 "not assigned: unassign" rc role unassign jit alice
run_refused 3 "not granted: role revoke" rc role revoke dbadmin never.granted
run_refused 3 "not granted: role disable" rc role disable dbadmin never.granted
run_refused 3 "unknown metarole: show" rc metarole show nometa
run_refused 3 "unknown metarole: del" rc metarole del nometa
run_refused 3 "unknown metarole: grant" rc metarole grant nometa a.b
run_refused 3 "unknown metarole: include parent" rc metarole include nometa ops
run_refused 3 "unknown metarole: include child" rc metarole include ops nometa
run_refused 3 "unknown metarole: publish" rc metarole publish nometa
run_refused 3 "unknown metarole: role add --metarole" rc role add zedrole --metarole nometa
run_refused 3 "unknown metarole in --includes leaves no half-made metarole" rc metarole add zedm --includes ops,nometa
run_refused 3 "not included: exclude" rc metarole exclude web dba
run_refused 3 "not granted: metarole revoke" rc metarole revoke ops never.granted
run_refused 3 "not published: unpublish" rc metarole unpublish ops

# cycles, built-ins, things in use
run_refused 4 "include that makes a cycle" rc metarole include ops dba
err_has "cycle is named" "cycle"
run_refused 4 "include that makes a longer cycle" rc metarole include user web
run_refused 4 "a metarole including itself" rc metarole include ops ops
run_refused 4 "delete a built-in metarole: user" rc metarole del user
run_refused 4 "delete a built-in metarole: admin" rc metarole del admin
run_refused 4 "delete a built-in metarole: super-admin" rc metarole del super-admin
err_has "built-in refusal says why" "built in"
run_refused 4 "exclude within the built-in chain" rc metarole exclude admin user
run_refused 4 "delete a metarole a role still uses" rc metarole del dba
run_refused 4 "group del of a primary group" rc group del crew
err_has "primary group refusal names the user" "primary group"
run_refused 2 "role add without --metarole" rc role add lonely
err_has "role add without --metarole says why" "--metarole"

# permission codes
for p in A.B a..b '*' .a a. a.*.b 'a b' ''; do
        run_refused 2 "role grant of invalid permission '$p'" rc role grant dbadmin "$p"
done
for p in A.B a..b '*'; do
        run_refused 2 "metarole grant of invalid permission '$p'" rc metarole grant ops "$p"
done
run_refused 2 "check of a wildcard" rc check alice 'login.*'
run_refused 2 "check of an invalid code" rc check alice A.B

# dates
for d in 2024-13-01 2024-02-30 2024-01-01T25:00Z yesterday '' +5x @abc; do
        run_refused 2 "user mod --expires '$d'" rc user mod alice --expires "$d"
done
run_refused 2 "user add --expires garbage" rc user add zed --expires tomorrow
run_refused 2 "role assign --until garbage" rc role assign dbadmin alice --until soon
run_refused 2 "role assign --until 2024-02-30" rc role assign dbadmin alice --until 2024-02-30

# other field values
run_refused 2 "full name with ':'" rc user mod alice --full-name 'a:b'
run_refused 2 "full name with a newline" rc user mod alice --full-name $'a\nb'
run_refused 2 "relative home" rc user mod alice --home relative/home
run_refused 2 "home with ':'" rc user mod alice --home /home/a:b
run_refused 2 "shell with a newline" rc user mod alice --shell $'/bin/sh\n'
# An empty value (an unset shell variable) is no value: refused, not taken as the default.
for opt in --home --shell; do
        run_refused 2 "user add with an empty $opt" rc user add emptyval "$opt" ''
        err_has "user add with an empty $opt: says which" "$opt: empty"
        run_refused 2 "user mod with an empty $opt" rc user mod alice "$opt" ''
        err_has "user mod with an empty $opt: says which" "$opt: empty"
done
run_refused 2 "invalid email" rc user mod alice --email not-an-address
run_refused 2 "user mod with nothing to change" rc user mod alice

# options and commands
run_refused 2 "unknown option to user add" rc user add zed --bogus
run_refused 2 "unknown global option" rc --bogus user list
run_refused 2 "unknown short option" rc user list -x
run_refused 2 "an option given twice" rc user add zed --uid 13100 --uid 13101
run_refused 2 "an option without its value" rc user add zed --uid
run_refused 2 "a flag with a value" rc user add zed --activation=yes
run_refused 2 "unknown command" rc frobnicate
run_refused 2 "unknown user subcommand" rc user frobnicate
run_refused 2 "unknown totp action" rc user totp frob alice
run_refused 2 "a noun without a verb" rc user

# did you mean: the closest known name, only when it is close
run_refused 2 "a misspelt command" rc usr list
err_has "a misspelt command: did you mean" "did you mean 'user'?"
run_refused 2 "a misspelt verb" rc role assing dbadmin alice
err_has "a misspelt verb: did you mean" "did you mean 'role assign'?"
run_refused 2 "a misspelt one-word command" rc chekc alice login.sshd
err_has "a misspelt one-word command: did you mean" "did you mean 'check'?"
run_refused 2 "a misspelt option" rc user add zed --fulname Zed
err_has "a misspelt option: did you mean" "did you mean '--full-name'?"
run_refused 2 "a misspelt global option" rc --jsno user list
err_has "a misspelt global option: did you mean" "did you mean '--json'?"
run_refused 2 "a command like no other" rc frobnicate
err_lacks "a command like no other: no guess" "did you mean"
run_refused 2 "an option like no other" rc user add zed --bogus
err_lacks "an option like no other: no guess" "did you mean"

# argument counts
run_refused 2 "user show without a name" rc user show
run_refused 2 "user show with two names" rc user show alice bob
run_refused 2 "user add without a name" rc user add
run_refused 2 "user del with two names" rc user del alice bob
run_refused 2 "user list with an argument" rc user list alice
run_refused 2 "check with one argument" rc check alice
run_refused 2 "check with three arguments" rc check alice a.b c.d
run_refused 2 "perms without a user" rc perms
run_refused 2 "group adduser with one argument" rc group adduser devs
run_refused 2 "group adduser with three arguments" rc group adduser devs alice bob
run_refused 2 "role assign with one argument" rc role assign dbadmin
run_refused 2 "metarole include with one argument" rc metarole include ops
run_refused 2 "role grant with three arguments" rc role grant dbadmin a.b c.d
run_refused 2 "audit with an argument" rc audit all
run_refused 2 "init with an argument" rc init now

# passwords
run_refused_in $'short\n' 2 "password shorter than the minimum (user add)" rc user add zed --password-stdin
err_has "short password: names the minimum" "at least 8"
run_refused_in '' 2 "empty password" rc user add zed --password-stdin
run_refused_in $'seven77\n' 2 "password one shorter than the minimum (passwd)" rc user passwd alice --stdin
run_refused_in $'long enough pw\n' 2 "--password-stdin together with --activation" rc user add zed --password-stdin --activation
run_refused 2 "passwd without a terminal or --stdin" rc user passwd alice

# the command line as a whole
run_refused 2 "no command at all" rc
err_has "no command: points to --help" "rolesctl --help"

# configuration
cat >"$T/bad.conf" <<EOF
public_db = $T/roles.db
secrets_db = $T/secrets.db
frobnicate = 1
state_db = $T/state.db
EOF
run_refused 2 "config with an unknown key" "$ROLESCTL" --conf "$T/bad.conf" user add zed
err_has "unknown key: names the file and line" "bad.conf:3"
err_has "unknown key: names the key" "frobnicate"
printf 'public_db = %s\nuid_min = lots\n' "$T/roles.db" >"$T/bad2.conf"
run_refused 2 "config with a bad value" "$ROLESCTL" --conf "$T/bad2.conf" user add zed
err_has "bad value: names the line" "bad2.conf:2"
printf 'public_db = relative.db\n' >"$T/bad3.conf"
run_refused 2 "config with a relative path" "$ROLESCTL" --conf "$T/bad3.conf" user list
run_refused 2 "--conf pointing to a missing file" "$ROLESCTL" --conf "$T/missing.conf" user list
err_has "missing config: names the file" "missing.conf"
run_refused 2 "--conf= pointing to a missing file" "$ROLESCTL" --conf="$T/missing.conf" user list
run_refused 2 "\$ROLES_CONF pointing to a missing file" env ROLES_CONF="$T/missing.conf" "$ROLESCTL" user list
cp "$CONF" "$T/ww.conf"
chmod 666 "$T/ww.conf"
run_refused 2 "a world-writable config file is refused" "$ROLESCTL" --conf "$T/ww.conf" user list
run_ok "--conf=FILE" "$ROLESCTL" --conf="$CONF" user show alice
run_ok "\$ROLES_CONF" env ROLES_CONF="$CONF" "$ROLESCTL" user show alice

# files
run_refused 5 "backup into a missing directory" rc backup "$T/no/such/dir/b.tar"

# ---- a disabled code on a role wins over that role's wildcard --------------------------------
# check and perms --why must agree: wdba grants db.* with db.drop disabled, so walt holds
# db.backup but not db.drop nor what is under it; another role granting db.drop still grants it.

run_ok "disabled under a wildcard: metarole" rc metarole add wmeta
run_ok "disabled under a wildcard: role" rc role add wdba --metarole wmeta
run_ok "disabled under a wildcard: grant db.*" rc role grant wdba 'db.*'
run_ok "disabled under a wildcard: grant db.drop" rc role grant wdba db.drop
run_ok "disabled under a wildcard: disable db.drop" rc role disable wdba db.drop
run_ok "disabled under a wildcard: user" rc user add walt
run_ok "disabled under a wildcard: grant db.drop.*" rc role grant wdba 'db.drop.*'
run_ok "disabled under a wildcard: assign" rc role assign wdba walt
run_exits 0 "check: the wildcard grants a sibling" rc check walt db.backup
run_exits 1 "check: a disabled code wins over its role's wildcard" rc check walt db.drop
run_exits 1 "check: and over what is under it" rc check walt db.drop.x
run_exits 1 "check: and over the role's wildcard under it" rc check walt db.drop.x.y
run_ok "perms --why: disabled under a wildcard" rc perms walt --why
out_match "why: the wildcard counts" '^db\.\* +role wdba$'
out_match "why: the disabled code is not granted" '^db\.drop +role wdba +\(disabled on the role: not granted\)$'
out_match "why: an enabled line under the disabled code is switched off" \
        '^db\.drop\.\* +role wdba +\(switched off by db\.drop, disabled on the role: not granted\)$'
run_ok "perms --why --json: disabled under a wildcard" rc --json perms walt --why
json_true "perms --why --json: what switched a line off" \
        '{"permission": "db.drop.*", "via": "role wdba", "disabled": False, "switched_off_by": "db.drop"} in d["permissions"]
         and {"permission": "db.*", "via": "role wdba", "disabled": False} in d["permissions"]'
run_ok "perms: disabled under a wildcard" rc perms walt
eq "perms: the wildcard, not the disabled code" "$(cat "$OUT")" "db.*"
run_ok "disabled under a wildcard: another role" rc role add wdrop --metarole wmeta
run_ok "disabled under a wildcard: it grants db.drop" rc role grant wdrop db.drop
run_ok "disabled under a wildcard: assign it" rc role assign wdrop walt
run_exits 0 "check: another role's db.drop still counts" rc check walt db.drop
run_exits 1 "check: it grants db.drop exactly" rc check walt db.drop.x

# ---- user show: a lockout, with and without an end ---------------------------------------------
# A lock until an administrator unlocks (deny reached with unlock_time = 0) is stored as
# locked_until -1: shown as locked with no end, never as a time in 1969. The tally is written
# as pam_roles writes it (tests/test_faults.sh does the same); no PAM stack here.

# lock_state USER LOCKED_UNTIL [FAILURES [SECONDS_AGO]]: USER's tally after FAILURES (deny: 5)
# failures, the first SECONDS_AGO (60) ago and the last a minute after it (or now, if sooner),
# locked until LOCKED_UNTIL (NULL: no lock).
lock_state() {
        local uuid
        uuid=$(sql "$T/roles.db" "SELECT uuid FROM users WHERE name = '$1'") || { fail "lock_state: no uuid for $1"; return; }
        local q="INSERT OR REPLACE INTO tally (user_uuid, failures, first_failure_at, last_failure_at, locked_until)
                 VALUES ('$uuid', ${3:-5}, strftime('%s') - ${4:-60}, strftime('%s') - max(${4:-60} - 60, 0), $2)"
        sqlite3 "$T/state.db" "$q" || fail "lock_state: sqlite3 failed"
}

run_ok "lockout: user" rc user add lola
run_ok "lockout: never locked" rc user show lola
field "lockout: never locked: not locked" locked no
field "lockout: never locked: no end" locked_until -
run_ok "lockout: never locked --json" rc --json user show lola
json_true "lockout: never locked --json" 'd["state"]["locked"] is False and d["state"]["locked_until"] is None'

lock_state lola -1
run_ok "lockout: until unlocked" rc user show lola
field "lockout: until unlocked: locked" locked yes
field "lockout: until unlocked: says so" locked_until "until an administrator unlocks"
out_lacks "lockout: until unlocked: no time in 1969" "1969"
run_ok "lockout: until unlocked --json" rc --json user show lola
json_true "lockout: until unlocked --json" 'd["state"]["locked"] is True and d["state"]["locked_until"] is None'

lock_state lola "strftime('%s') + 3600"
run_ok "lockout: until a time" rc user show lola
field "lockout: until a time: locked" locked yes
out_match "lockout: until a time: the time" "^locked_until +$TIME_RE\$"
run_ok "lockout: until a time --json" rc --json user show lola
json_true "lockout: until a time --json" \
        'd["state"]["locked"] is True and d["state"]["locked_until"] > __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime())'

lock_state lola "strftime('%s') - 1"
run_ok "lockout: run out" rc user show lola
field "lockout: run out: not locked" locked no
field "lockout: run out: no end shown" locked_until -
run_ok "lockout: run out --json" rc --json user show lola
json_true "lockout: run out --json" 'd["state"]["locked"] is False and d["state"]["locked_until"] is None'

lock_state lola -1
run_ok "lockout: unlock" rc user unlock lola
run_ok "lockout: unlocked" rc --json user show lola
json_true "lockout: unlocked --json" 'd["state"]["locked"] is False and d["state"]["locked_until"] is None'

# ---- the login audit and login state, as an administrator reads them ----------------------------
# Rows written as pam_roles writes them (tests/test_pam.sh and test_login.c check that it does).
# login_row USER RESULT DETAIL SECONDS_AGO
login_row() {
        sqlite3 "$T/state.db" "INSERT INTO login_audit (at, user, service, rhost, result, detail)
                VALUES (strftime('%s') - $4, '$1', 'sshd', '203.0.113.9', '$2', '$3')" || fail "login_row: sqlite3 failed"
}
login_row lola failure "wrong password" 7200
login_row lola success password 60
login_row nobody failure "unknown user" 30
run_ok "logins" rc logins
out_match "logins: header" '^id +at +user +service +rhost +result +detail$'
out_match "logins: a refusal, its time in ISO 8601" "^[0-9]+ +$TIME_RE +lola +sshd +203\\.0\\.113\\.9 +failure +wrong password\$"
out_match "logins: a success" "^[0-9]+ +$TIME_RE +lola +sshd +203\\.0\\.113\\.9 +success +password\$"
run_ok "logins --failed" rc logins --failed
out_lacks "logins --failed: no success" "success"
out_match "logins --failed: names roles does not know too, as lastb" "^[0-9]+ +$TIME_RE +nobody +sshd .* failure +unknown user\$"
run_ok "logins --user lola --since -1h" rc logins --user lola --since -1h
eq "logins --user --since: lola's last hour, one row" "$(grep -c ' lola ' "$OUT")" 1
out_match "logins --user --since: the success" ' lola .* success '
run_ok "logins --since an ISO time" rc logins --since "$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)"
eq "logins --since an ISO time: all three" "$(grep -cE "^[0-9]+ +$TIME_RE" "$OUT")" 3
run_ok "logins --since a date in the future" rc logins --since 2099-01-01
eq "logins --since the future: nothing" "$(grep -cE "^[0-9]+ " "$OUT")" 0
run_ok "logins --json" rc --json logins --user lola
json_valid "logins --json"
json_true "logins --json: typed, times in ISO 8601 UTC" \
        'len(d) == 2 and all(isinstance(r["id"], int) and __import__("re").fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["at"])
         for r in d) and [r["result"] for r in d] == ["failure", "success"]'
run_refused 2 "logins --since a time it cannot read" rc logins --since yesterday
run_refused 2 "logins --user a name that is not valid" rc logins --user 'Not A Name'
run_refused 2 "logins with an argument" rc logins lola

# user show: the current login, the failures and the lock.
lock_state lola "strftime('%s') + 3600"
sqlite3 "$T/state.db" "INSERT OR REPLACE INTO tracking (user_uuid, last_login_at, last_login_ip, current_login_at,
        current_login_ip, login_count) VALUES ((SELECT '$(sql "$T/roles.db" "SELECT uuid FROM users WHERE name = 'lola'")'),
        strftime('%s') - 86400, '198.51.100.1', strftime('%s') - 60, '203.0.113.9', 2)" || fail "tracking: sqlite3 failed"
run_ok "user show: login state" rc user show lola
field "user show: failures" failures 5
out_match "user show: the last failure, ISO 8601" "^last_failure +$TIME_RE\$"
out_match "user show: the current login" "^current_login +$TIME_RE\$"
field "user show: from where" current_login_ip 203.0.113.9
field "user show: the login before" last_login_ip 198.51.100.1
run_ok "user show --json: login state" rc --json user show lola
json_true "user show --json: login state" \
        'd["state"]["failures"] == 5 and d["state"]["locked"] is True and d["state"]["current_login_ip"] == "203.0.113.9"'
run_ok "user unlock lola" rc user unlock lola
run_refused 3 "user show root: not a roles user" rc user show root
err_has "user show root: says it is the host's" "local account on this host"

# ---- user locked: who is failing or locked out, as faillock shows it --------------------------
# Tallies written as above. fail_interval is 900 s (the default): 2000 s ago is a stale count,
# which the next failure starts afresh, and a lock that ran out is none: --all shows those too.
run_ok "user locked: users" rc user add fay
run_ok "user locked: users" rc user add lex
run_ok "user locked: nobody failing yet" rc user locked
eq "user locked: nobody failing yet: no rows" "$(grep -cv '^name ' "$OUT")" 0
lock_state fay NULL 2
lock_state lex "strftime('%s') + 3600"
lock_state lola -1
lock_state bob NULL 3 2000
lock_state walt "strftime('%s') - 1"
# A tally of a uuid no user has (doctor removes those): no name to show, so no row.
sqlite3 "$T/state.db" "INSERT INTO tally (user_uuid, failures, first_failure_at, last_failure_at, locked_until)
        VALUES ('00000000-0000-4000-8000-00000000dead', 9, strftime('%s') - 60, strftime('%s'), -1)" ||
        fail "user locked: orphan tally: sqlite3 failed"
run_ok "user locked" rc user locked
out_match "user locked: header" '^name +uid +failures +first_failure +last_failure +locked +locked_until$'
out_match "user locked: 2 failures, no lock" "^fay +[0-9]+ +2 +$TIME_RE +$TIME_RE +no +-\$"
out_match "user locked: a lock until a time" "^lex +[0-9]+ +5 +$TIME_RE +$TIME_RE +yes +$TIME_RE\$"
out_match "user locked: a lock with no end" "^lola +[0-9]+ +5 +$TIME_RE +$TIME_RE +yes +until an administrator unlocks\$"
out_lacks "user locked: no time in 1969" "1969"
eq "user locked: only live tallies, none of a uuid no user has" "$(grep -cv '^name ' "$OUT")" 3
run_ok "user locked --all" rc user locked --all
out_match "user locked --all: a stale count" "^bob +[0-9]+ +3 +$TIME_RE +$TIME_RE +no +-\$"
out_match "user locked --all: a lock that ran out" "^walt +[0-9]+ +5 +$TIME_RE +$TIME_RE +no +-\$"
eq "user locked --all: every tally of a user, none of a uuid no user has" "$(grep -cv '^name ' "$OUT")" 5
out_lacks "user locked --all: no orphan" " 9 "
# For json_true: iso(v), whether v is a time in ISO 8601 UTC.
ISO_PY='(iso := lambda v: isinstance(v, str) and __import__("re").fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v) is not None)'
run_ok "user locked --json" rc --json user locked
json_valid "user locked --json"
json_true "user locked --json: typed, with user show's field names" \
        "$ISO_PY"' and (by := {r["name"]: r for r in d}) is not None
         and sorted(by) == ["fay", "lex", "lola"]
         and all(sorted(r) == ["failures", "first_failure", "last_failure", "locked", "locked_until", "name", "uid"]
                 and type(r["uid"]) is int and type(r["failures"]) is int and iso(r["first_failure"]) and iso(r["last_failure"])
                 for r in d)
         and by["fay"]["failures"] == 2 and by["fay"]["locked"] is False and by["fay"]["locked_until"] is None
         and by["lex"]["locked"] is True and iso(by["lex"]["locked_until"])
         and by["lola"]["locked"] is True and by["lola"]["locked_until"] is None'
run_ok "user locked: user show says the same" rc --json user show lex
json_true "user locked: user show says the same: failures, lock" \
        "$ISO_PY"' and d["state"]["failures"] == 5 and d["state"]["locked"] is True and iso(d["state"]["locked_until"])'
run_ok "user unlock lex" rc user unlock lex
run_ok "user locked after unlock" rc user locked
out_lacks "user locked after unlock: lex gone" "lex"
out_has "user locked after unlock: the others stay" "fay"
run_refused 2 "user locked with an argument" rc user locked fay
run_refused 2 "user locked --bogus" rc user locked --bogus
# Failure counts and locks are the secrets view's (state.db is 0600, as secrets.db), as user
# show's are: refused as audit and logins are.
need setpriv
run_refused 5 "user locked: not root" setpriv --reuid=nobody --regid=nogroup --clear-groups "$ROLESCTL" --conf "$CONF" user locked
err_has "user locked: not root: says what it cannot read" "secrets.db: cannot open"
for u in fay lola bob walt; do
        run_ok "user locked: unlock $u" rc user unlock "$u"
done
sqlite3 "$T/state.db" "DELETE FROM tally WHERE user_uuid = '00000000-0000-4000-8000-00000000dead'" ||
        fail "user locked: orphan tally: sqlite3 failed"

# Times in the change audit are ISO 8601 too, not epochs.
run_ok "role assign --until, for the audit" rc role assign dbadmin lola --until 2099-01-01T00:00:00Z
run_ok "user mod --expires, for the audit" rc user mod lola --expires 2098-01-01
run_ok "audit" rc audit
out_match "audit: an assignment's end in ISO 8601" ' role\.assign +dbadmin +user=lola until=2099-01-01T00:00:00Z$'
out_match "audit: an expiry in ISO 8601" ' user\.mod +lola +gid=[0-9]+ enabled=1 expires_at=2098-01-01T00:00:00Z$'
eq "audit: no epoch left" "$(grep -cE '(until|expires_at)=[0-9]+( |$)' "$OUT")" 0

# ---- password_min_length counts characters, not bytes ----------------------------------------------
# 日本語 is 9 bytes but 3 characters: short of a minimum of 8 (it passed when bytes were counted).
# Eight CJK characters (24 bytes) are enough. A byte that is not UTF-8 counts as one character.
JA3=日本語 JA8=日本語日本語日本
run_refused_in "$JA3"$'\n' 2 "user passwd --stdin: 日本語 (3 characters, 9 bytes) against a minimum of 8" \
        rc user passwd alice --stdin
err_has "日本語: names the minimum in characters" "at least 8 characters"
run_refused_in "$JA3"$'\n' 2 "user add --password-stdin: 日本語 against a minimum of 8" rc user add cjk --password-stdin
run_refused_in "$JA3"$'\xff\xfe\xfd\xfc\n' 2 "user passwd --stdin: 日本語 and 4 stray bytes (7 characters, 13 bytes)" \
        rc user passwd alice --stdin
run_refused_in $'\xff\xfe\xfd\xfc\xfb\xfa\xf9\n' 2 "user passwd --stdin: 7 stray bytes" rc user passwd alice --stdin
run_ok_in "$JA8"$'\n' "user passwd --stdin: 8 CJK characters" rc user passwd alice --stdin
run_ok_in "$JA8"$'\n' "user add --password-stdin: 8 CJK characters" rc user add cjk --password-stdin
run_ok_in "$JA3"$'\xff\xfe\xfd\xfc\xfb\n' "user passwd --stdin: 日本語 and 5 stray bytes (8 characters)" \
        rc user passwd alice --stdin

# ---- a deleted account's uid and gid are never handed out again ---------------------------------
# A process or a file left by a deleted account must never become the next account's: ids are
# retired, allocation skips them, and one asked for by number is refused unless --force.
run_ok "retired ids: user add rex" rc user add rex
rex_uid=$(sql "$T/roles.db" "SELECT uid FROM users WHERE name = 'rex'")
rex_gid=$(sql "$T/roles.db" "SELECT gid FROM users WHERE name = 'rex'")
run_ok "retired ids: user del rex" rc user del rex
run_ok "retired ids: user add rey after rex's delete" rc user add rey
rey=$(sql "$T/roles.db" "SELECT uid || ' ' || gid FROM users WHERE name = 'rey'")
eq "retired ids: rey gets neither rex's uid nor his gid" \
        "$([ "${rey% *}" -gt "$rex_uid" ] && [ "${rey#* }" != "$rex_gid" ] && echo fresh)" fresh
run_refused 4 "retired ids: user add --uid of rex's uid" rc user add rez --uid "$rex_uid"
err_has "retired ids: the refusal names rex" "uid $rex_uid was the uid of 'rex' until "
err_has "retired ids: the refusal names --force" "--force"
run_ok "retired ids: user add --uid of rex's uid --force" rc user add rez --uid "$rex_uid" --force
eq "retired ids: rez has rex's uid" "$(sql "$T/roles.db" "SELECT uid FROM users WHERE name = 'rez'")" "$rex_uid"
run_ok "retired ids: group add retg --gid 15500" rc group add retg --gid 15500
run_ok "retired ids: group del retg" rc group del retg
run_refused 4 "retired ids: group add --gid of a deleted group's gid" rc group add retg2 --gid 15500
err_has "retired ids: the group refusal names retg" "gid 15500 was the gid of 'retg' until "
run_ok "retired ids: group add --gid of a deleted group's gid --force" rc group add retg2 --gid 15500 --force
run_ok "retired ids: metarole add retm" rc metarole add retm
run_ok "retired ids: metarole publish retm --gid 15600" rc metarole publish retm --gid 15600
run_ok "retired ids: metarole unpublish retm" rc metarole unpublish retm
run_refused 4 "retired ids: metarole publish --gid of its own former gid" rc metarole publish retm --gid 15600
run_ok "retired ids: metarole publish --gid of its own former gid --force" rc metarole publish retm --gid 15600 --force
run_refused_in "user del rez"$'\n'"user add rez2 --uid $rex_uid"$'\n' 4 "retired ids: batch: --uid of a uid retired on line 1" \
        rc batch
err_has "retired ids: batch: names the line" "batch line 2: uid $rex_uid was the uid of 'rez' until "
run_ok "retired ids: user del rez --force (no process runs as it either way)" rc user del rez --force
run_ok "retired ids: audit" rc audit
out_match "retired ids: the audit names the actor with its uid" \
        "^[0-9]+ +$TIME_RE +$ACTOR \\(uid $(id -u)(; login [^)]*, uid [0-9]+| login uid [0-9]+)?\\) +user\\.del +rez "

# ---- doctor names the secrets.db rows logins refuse ----------------------------------------------
# A hand edit or a restore from elsewhere can leave a secret logins refuse (they fail closed):
# doctor names each, once, with the command that mends it, changes none, and those commands do.
for u in dtotp dhash dcode dflag dspent; do
        run_ok "damaged secrets: user add $u" rc user add "$u"
done
run_ok "damaged secrets: user reset dcode" rc user reset dcode
run_ok "damaged secrets: user reset dspent" rc user reset dspent
uuid_of() { sql "$T/roles.db" "SELECT uuid FROM users WHERE name = '$1'"; }
sqlite3 "$T/secrets.db" "UPDATE credentials SET totp_secret = '' WHERE user_uuid = '$(uuid_of dtotp)';
        UPDATE credentials SET password_hash = CAST('\$argon2id\$' AS BLOB) WHERE user_uuid = '$(uuid_of dhash)';
        UPDATE codes SET code_hash = 'not a hash' WHERE user_uuid = '$(uuid_of dcode)';
        UPDATE credentials SET must_change_password = 'yes' WHERE user_uuid = '$(uuid_of dflag)';
        UPDATE codes SET used_at = 'spent' WHERE user_uuid = '$(uuid_of dspent)'" ||
        fail "damaged secrets: sqlite3 failed"
run_ok "damaged secrets: doctor" rc doctor
out_has "damaged secrets: doctor names the empty TOTP secret" \
        "user dtotp: secrets.db: totp_secret is empty (logins refuse it): run 'rolesctl user totp enroll dtotp --replace'"
out_has "damaged secrets: doctor names the BLOB password hash" \
        "user dhash: secrets.db: password_hash is a BLOB, not text (logins refuse it): run 'rolesctl user passwd dhash'"
out_has "damaged secrets: doctor names the text code hash" \
        "user dcode: secrets.db: the reset code's code_hash is not a 32-byte BLOB (the code cannot be used): run 'rolesctl user reset dcode' for a new code"
out_has "damaged secrets: doctor names the text must-change flag" \
        "user dflag: secrets.db: must_change_password is text, not an integer (logins refuse it): run 'rolesctl user passwd dflag'"
out_has "damaged secrets: doctor names the text used_at" \
        "user dspent: secrets.db: the reset code's used_at is text, not an integer (the code cannot be used): run 'rolesctl user reset dspent' for a new code"
eq "damaged secrets: one line each" "$(grep -c 'secrets\.db: ' "$OUT")" 5
run_ok "damaged secrets: doctor again" rc doctor
eq "damaged secrets: named, not changed" "$(grep -c 'secrets\.db: ' "$OUT")" 5
run_ok "damaged secrets: the command doctor names for dtotp" rc user totp enroll dtotp --replace
run_ok_in $'a mended passphrase\n' "damaged secrets: the command doctor names for dhash" rc user passwd dhash --stdin
run_ok "damaged secrets: the command doctor names for dcode" rc user reset dcode
run_ok_in $'a mended passphrase\n' "damaged secrets: the command doctor names for dflag" rc user passwd dflag --stdin
run_ok "damaged secrets: the command doctor names for dspent" rc user reset dspent
run_ok "damaged secrets: doctor after the commands it named" rc doctor
out_lacks "damaged secrets: nothing left to name" "secrets.db: "
for u in dtotp dhash dcode dflag dspent; do
        run_ok "damaged secrets: user del $u" rc user del "$u"
done

# ---- the TOTP commands on a damaged credentials row ----------------------------------------------
# Each repair command works whatever else in the row is damaged, and whatever is wrong with the
# TOTP secret itself: a damaged secret is there (enroll wants --replace), and is no secret to give
# recovery codes for. Damage of each kind: wrong type, empty, over-long, text in an integer column
# (a number in a text column is stored as text: SQLite's TEXT affinity).
for u in tblob tlong tempty thash tflag tmail; do
        run_ok "damaged row, totp: user add $u" rc user add "$u"
        run_ok "damaged row, totp: user totp enroll $u" rc user totp enroll "$u"
done
sqlite3 "$T/secrets.db" "UPDATE credentials SET totp_secret = CAST('JBSWY3DPEHPK3PXP' AS BLOB) WHERE user_uuid = '$(uuid_of tblob)';
        UPDATE credentials SET totp_secret = hex(zeroblob(200)) WHERE user_uuid = '$(uuid_of tlong)';
        UPDATE credentials SET totp_secret = '' WHERE user_uuid = '$(uuid_of tempty)';
        UPDATE credentials SET password_hash = CAST('\$argon2id\$' AS BLOB) WHERE user_uuid = '$(uuid_of thash)';
        UPDATE credentials SET must_change_password = 'yes' WHERE user_uuid = '$(uuid_of tflag)';
        UPDATE credentials SET email = '' WHERE user_uuid = '$(uuid_of tmail)';
        UPDATE credentials SET activated_at = 'now' WHERE user_uuid = '$(uuid_of tmail)'" ||
        fail "damaged row, totp: sqlite3 failed"
run_ok "damaged row, totp: doctor" rc doctor
cp "$OUT" "$T/doctor.out"
for u in tblob tlong tempty; do
        eq "damaged row, totp: doctor names enroll --replace for $u" "$(grep -c "^user $u: secrets\.db: totp_secret .* \
(logins refuse it): run 'rolesctl user totp enroll $u --replace'\$" "$T/doctor.out")" 1
        run_refused 4 "damaged row, totp: enroll over $u's damaged secret without --replace" rc user totp enroll "$u"
        err_has "damaged row, totp: $u: says why" "give --replace"
        run_refused 4 "damaged row, totp: no recovery codes for $u's damaged secret" rc user totp recovery-codes "$u"
        err_has "damaged row, totp: $u: names the repair" "run 'rolesctl user totp enroll $u --replace'"
done
for u in thash tflag tmail; do
        run_ok "damaged row, totp: user totp recovery-codes $u (another column damaged)" rc user totp recovery-codes "$u"
        run_ok "damaged row, totp: user totp enroll $u --replace (another column damaged)" \
                rc user totp enroll "$u" --replace
        run_ok "damaged row, totp: user totp disable $u (another column damaged)" rc user totp disable "$u"
        run_ok "damaged row, totp: user totp enroll $u (another column damaged)" rc user totp enroll "$u"
done
for u in tblob tlong tempty; do
        run_ok "damaged row, totp: the command doctor names for $u" rc user totp enroll "$u" --replace
        eq "damaged row, totp: $u has a secret again" \
                "$(sqlite3 "$T/secrets.db" "SELECT typeof(totp_secret), length(totp_secret) > 0 FROM credentials
                        WHERE user_uuid = '$(uuid_of "$u")'")" "text|1"
done
for u in thash tflag tmail; do
        eq "damaged row, totp: doctor names user passwd for $u" \
                "$(grep -c "^user $u: secrets\.db: .* (logins refuse it): run 'rolesctl user passwd $u'\$" "$T/doctor.out")" 1
        run_ok_in $'a mended passphrase\n' "damaged row, totp: the command doctor names for $u" rc user passwd "$u" --stdin
done
run_ok "damaged row, totp: doctor after" rc doctor
out_lacks "damaged row, totp: nothing left to name" "secrets.db: "
for u in tblob tlong tempty thash tflag tmail; do
        run_ok "damaged row, totp: user del $u" rc user del "$u"
done

# ---- every kind of damage, mended by the command doctor names ------------------------------------
# One user per damage, every other column of the row good: doctor names one command for each, which
# is run as named (a password on standard input, an address for ADDR), and doctor names nothing after.
declare -A damage=(
        [xmailblob]="email = CAST('a@example.org' AS BLOB)"
        [xmaillong]="email = hex(zeroblob(300))"
        [xmailnul]="email = CAST(X'61006240652E6F7267' AS TEXT)"
        [xfsblob]="fs_uniquifier = CAST(fs_uniquifier AS BLOB)"
        [xhashnul]="password_hash = CAST(X'2461726700' AS TEXT)"
        [xchanged]="password_changed_at = 1.5"
        [xsensitive]="last_auth_sensitive_operation_at = X'00'"
        [xactivated]="activated_at = 'yesterday'"
        [xmustchange]="must_change_password = 2.5"
)
for u in "${!damage[@]}"; do
        run_ok "every damage: user add $u" rc user add "$u"
        sqlite3 "$T/secrets.db" "UPDATE credentials SET ${damage[$u]} WHERE user_uuid = '$(uuid_of "$u")'" ||
                fail "every damage: sqlite3 failed for $u"
done
run_ok "every damage: doctor" rc doctor
cp "$OUT" "$T/doctor.out"
for u in "${!damage[@]}"; do
        line=$(grep "^user $u: secrets\.db: " "$T/doctor.out")
        cmd=$(sed -n "s/.*: run 'rolesctl \([^']*\)'.*/\1/p" <<<"$line")
        if [ -z "$cmd" ]; then
                fail "every damage: doctor names no command for $u: <<$line>>"
                continue
        fi
        read -ra words <<<"${cmd//ADDR/$u@example.org}"
        if [ "${words[1]}" = passwd ]; then
                run_ok_in $'a mended passphrase\n' "every damage: $u: rolesctl $cmd" rc "${words[@]}" --stdin
        else
                run_ok "every damage: $u: rolesctl $cmd" rc "${words[@]}"
        fi
done
run_ok "every damage: doctor after the commands it named" rc doctor
out_lacks "every damage: nothing left to name" "secrets.db: "
for u in "${!damage[@]}"; do
        run_ok "every damage: user del $u" rc user del "$u"
done

# ---- recovery codes doctor names, counted as a login counts them ---------------------------------
# One rule: a code whose hash is not a 32-byte BLOB can never be spent, one whose used_at is text
# is refused; neither is a code left, and doctor names both with the command that gives new ones.
run_ok "damaged recovery codes: user add rdamage" rc user add rdamage
run_ok "damaged recovery codes: user totp enroll rdamage" rc user totp enroll rdamage
rd=$(uuid_of rdamage)
sqlite3 "$T/secrets.db" "UPDATE recovery_codes SET code_hash = hex(code_hash) WHERE user_uuid = '$rd' AND code_hash IN
                (SELECT code_hash FROM recovery_codes WHERE user_uuid = '$rd' ORDER BY code_hash LIMIT 2);
        UPDATE recovery_codes SET used_at = 'spent' WHERE user_uuid = '$rd' AND code_hash IN (SELECT code_hash
                FROM recovery_codes WHERE user_uuid = '$rd' AND typeof(code_hash) = 'blob' ORDER BY code_hash LIMIT 1)" ||
        fail "damaged recovery codes: sqlite3 failed"
run_ok "damaged recovery codes: user show" rc user show rdamage
field "damaged recovery codes: not counted as left" recovery_codes_left 7
run_ok "damaged recovery codes: doctor" rc doctor
eq "damaged recovery codes: doctor names each" "$(grep -c "^user rdamage: secrets\.db: a recovery code's \
\(code_hash is not a 32-byte BLOB\|used_at is text, not an integer\) (the code cannot be used): \
run 'rolesctl user totp recovery-codes rdamage' for new codes\$" "$OUT")" 3
run_ok "damaged recovery codes: the command doctor names" rc user totp recovery-codes rdamage
run_ok "damaged recovery codes: doctor after" rc doctor
out_lacks "damaged recovery codes: nothing left to name" "rdamage"
run_ok "damaged recovery codes: user show after" rc user show rdamage
field "damaged recovery codes: ten left" recovery_codes_left 10
run_ok "damaged recovery codes: user del rdamage" rc user del rdamage

# ---- a damaged activation code, mended by the command doctor names --------------------------------
# There is no command for a new activation code: doctor names user reset, whose code serves as
# well, and the damaged code must go with it, or doctor would name it for ever.
for u in acthash actexp; do
        run_ok "damaged activation code: user add $u --activation" rc user add "$u" --activation
done
sqlite3 "$T/secrets.db" "UPDATE codes SET code_hash = 'not a hash' WHERE user_uuid = '$(uuid_of acthash)';
        UPDATE codes SET expires_at = 'soon' WHERE user_uuid = '$(uuid_of actexp)'" ||
        fail "damaged activation code: sqlite3 failed"
run_ok "damaged activation code: doctor" rc doctor
for u in acthash actexp; do
        out_match "damaged activation code: doctor names user reset for $u" \
                "^user $u: secrets\.db: the activation code's .*: run 'rolesctl user reset $u' for a new code\$"
done
for u in acthash actexp; do
        run_ok "damaged activation code: the command doctor names for $u" rc user reset "$u"
done
run_ok "damaged activation code: doctor after" rc doctor
out_lacks "damaged activation code: nothing left to name" "secrets.db: "
for u in acthash actexp; do
        run_ok "damaged activation code: user del $u" rc user del "$u"
done

# ---- output that cannot be written ------------------------------------------------------------
# A command's output is held back until its change is published, so output that then cannot be
# written (a full disk, a pipe whose reader went away) finds the change made: a TOTP secret or a
# reset code nobody saw. rolesctl says so in its one line and exits non-zero; it never dies of
# SIGPIPE in silence, which would leave the administrator believing nothing changed.
run_ok "unwritable output: a user" rc user add wout
"$ROLESCTL" --conf "$CONF" user totp enroll wout </dev/null >/dev/full 2>"$ERR"
RC=$?
eq "totp enroll to /dev/full: an error" "$RC" 5
one_error && pass || { fail "totp enroll to /dev/full: one 'rolesctl: ' line"; show_last; }
err_has "totp enroll to /dev/full: says the change was made" "the change was made"
run_ok "unwritable output: show" rc user show wout
field "the secret was enrolled all the same" totp yes
# A pipe whose reader is gone before the code is written (EPIPE, SIGPIPE).
{ sleep 0.5; "$ROLESCTL" --conf "$CONF" user reset wout </dev/null 2>"$ERR"; echo $? >"$T/pipe-rc"; } | true
RC=$(cat "$T/pipe-rc")
eq "user reset into a closed pipe: an error, not SIGPIPE" "$RC" 5
one_error && pass || { fail "user reset into a closed pipe: one 'rolesctl: ' line"; show_last; }
err_has "user reset into a closed pipe: says the change was made" "the change was made"
# A listing into a pipe whose reader is gone ends as any filter does (SIGPIPE, no message):
# `rolesctl audit | head` must not complain.
{ sleep 0.5; "$ROLESCTL" --conf "$CONF" user list </dev/null 2>"$ERR"; echo $? >"$T/pipe-rc"; } | true
RC=$(cat "$T/pipe-rc")
eq "user list into a closed pipe: ended by SIGPIPE" "$RC" 141
[ ! -s "$ERR" ] && pass || { fail "user list into a closed pipe: something on stderr"; show_last; }
# Nothing was changed: the output error is the only one, with nothing saying a change was made.
"$ROLESCTL" --conf "$CONF" user show wout </dev/null >/dev/full 2>"$ERR"
RC=$?
eq "user show to /dev/full: an error" "$RC" 5
err_lacks "user show to /dev/full: no change to speak of" "the change was made"
run_ok "unwritable output: user del" rc user del wout

# ---- closed standard descriptors -------------------------------------------------------------
# Run with stdin, stdout or stderr closed (cron, a daemon, `<&-`), rolesctl must not let a file
# it opens take their number: a batch read from a closed stdin read roles.db.lock instead (empty:
# exit 0, an empty change committed), and with stderr closed the error line went into
# roles.db.lock. A closed descriptor stays one that cannot be used.
snapshot
"$ROLESCTL" --conf "$CONF" batch <&- >"$OUT" 2>"$ERR"
RC=$?
last_refused 5 "batch with stdin closed"
err_has "batch with stdin closed: says why" "Bad file descriptor"
cp -p "$T/roles.db.lock" "$T/lock.before" 2>/dev/null || : >"$T/lock.before"
"$ROLESCTL" --conf "$CONF" group adduser nosuchgroup alice </dev/null >/dev/null 2>&-
RC=$?
eq "an error with stderr closed: still the error's status" "$RC" 3
cmp -s "$T/lock.before" "$T/roles.db.lock" && pass ||
        fail "an error with stderr closed was written into roles.db.lock: <<$(head -c 200 "$T/roles.db.lock")>>"

# ---- ^C at the password prompt ---------------------------------------------------------------
# The prompt turns echo off on the terminal; ^C there must not leave it off for the shell that
# follows (rolesctl still ends as ^C ends it, and nothing changes).
snapshot
tty_after=$(python3 - "$ROLESCTL" "$CONF" <<'PY'
import os, pty, select, signal, sys, termios, time
signal.alarm(60)
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["rolesctl", "--conf", sys.argv[2], "user", "passwd", "alice"])
seen = b""
while b"password:" not in seen and select.select([fd], [], [], 10)[0]:
    seen += os.read(fd, 100)
# Typed once echo is off: the prompt comes first, and turning echo off flushes what came before.
for _ in range(500):
    if not termios.tcgetattr(fd)[3] & termios.ECHO:
        break
    time.sleep(0.01)
os.write(fd, b"typed\x03")
_, status = os.waitpid(pid, 0)
echo = termios.tcgetattr(fd)[3] & termios.ECHO
print("prompted" if b"password:" in seen else "no prompt",
      "SIGINT" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT else f"status {status}",
      "echo on" if echo else "echo off")
PY
)
eq "^C at the password prompt: the terminal echoes again" "$tty_after" "prompted SIGINT echo on"
why=$(unchanged) && pass || fail "^C at the password prompt changed the databases ($why)"

# ---- the end -------------------------------------------------------------------------------

finish
