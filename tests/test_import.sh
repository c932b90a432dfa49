#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests of `rolesctl import`: a passwd/group/shadow import and what it leaves in the
# three databases, and for every bad input the exit code, exactly one "rolesctl: FILE:LINE: ..."
# line on stderr, nothing on stdout, and the three database files unchanged byte for byte.
#
#   tests/test_import.sh PATH/TO/rolesctl        (meson passes the built binary)
#
# Self-contained: everything lives in a fresh temporary directory, removed on exit. Failures
# are counted, not fatal; the last line is "N passed, M failed" and the exit status is non-zero
# when anything failed. (The 100k-user timing is measured by hand, not here.)

set -u

# Before the cd below, which a relative $0 would not survive.
HERE=$(dirname "$(realpath "$0")") || exit 2
# The one assertion library (tests/lib.sh): run_ok, run_refused, err_has, eq, sql, ...
# Without it every assertion would be "command not found" and the run would count 0 failures.
. "$HERE/lib.sh" || exit 2
rolesctl_arg "${1:-}"
scratch_dir import
test_conf "$T" uid_max=19999 gid_min=20000 gid_max=29999 home_base=/srv/home default_shell=/bin/sh
CONF=$T/roles.conf
IN=$T/in
mkdir "$IN"

# ---- helpers -------------------------------------------------------------------------------

# sql's results are compared in $(...), where a missing sqlite3 cannot be counted: count it here.
need sqlite3

# hash_of USER: what secrets.db holds as USER's password hash (empty: none; "(no row)": USER has
# no credentials row, or no such user, which must not read as "no hash").
hash_of() {
        sql "$T/secrets.db" "ATTACH '$T/roles.db' AS pub; SELECT coalesce((SELECT coalesce(password_hash, '')
                FROM credentials WHERE user_uuid = (SELECT uuid FROM pub.users WHERE name = '$1')), '(no row)')"
}

# put NAME: write stdin to $IN/NAME (the files each bad case imports).
put() {
        cat >"$IN/$1"
}

# bad_import CODE DESC WHERE ARGS...: a refused import whose one error line names WHERE ("file:line").
bad_import() {
        local code=$1 desc=$2 where=$3
        shift 3
        run_refused "$code" "$desc" rc import "$@"
        err_has "$desc: names the place" "$where"
}

SHA512='$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0'
MD5='$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc.'
YESCRYPT='$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7'
BCRYPT='$2b$05$abcdefghijklmnopqrstuuJ0aCHRVc7bpSqzN7LKDpW7PQLAv9ehK'
DES='abJnggxhB/yWI'
ARGON2ID='$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'

# ---- what roles holds before the import ------------------------------------------------------

run_ok "init" rc init
run_ok "an existing group" rc group add oldgroup --gid 20500
run_ok "an existing user in it" rc user add olduser --uid 10500 --gid 20500
run_ok "a metarole" rc metarole add ops
run_ok "published as a group" rc metarole publish ops --gid 20700

# ---- refusals: each leaves every file as it was -----------------------------------------------

# Good files the bad cases vary; every case imports exactly the files it names.
put passwd <<'EOF'
alice:x:10001:20001:Alice Liddell,,,:/home/alice:/bin/bash
EOF
put group <<'EOF'
alice:x:20001:
EOF

# arguments and files
run_refused 2 "import without files" rc import
err_has "import without files: says what to give" "--passwd"
run_refused 2 "import with an unknown option" rc import --passwd "$IN/passwd" --frob x
run_refused 2 "import with a positional argument" rc import "$IN/passwd"
run_refused 5 "a missing file" rc import --passwd "$IN/nope"
err_has "a missing file: names it" "$IN/nope"
run_refused 5 "a directory" rc import --group "$IN"
err_has "a directory: names it" "$IN"
printf 'import --passwd %s --group %s\n' "$IN/passwd" "$IN/group" >"$T/imp.batch"
run_refused 2 "import inside a batch" rc batch "$T/imp.batch"
err_has "import inside a batch: says so" "cannot run inside a batch"

# ids outside the configured ranges (checked up front, first offender named)
put p <<'EOF'
# a comment and a blank line still count as lines

root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
EOF
bad_import 2 "uid outside the range" "$IN/p:3:" --passwd "$IN/p"
err_has "uid outside the range: says which and the range" "uid 0 of 'root' is outside the configured range 10000-19999"
put p <<'EOF'
bob:x:10002:20001::/home/bob:/bin/sh
carl:x:10003:500::/home/carl:/bin/sh
EOF
bad_import 2 "primary gid outside the range" "$IN/p:2:" --passwd "$IN/p" --group "$IN/group"
put g <<'EOF'
fine:x:20002:
sudo:x:27:alice
EOF
bad_import 2 "group gid outside the range" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
put p <<'EOF'
bob:x:99999:20001::/home/bob:/bin/sh
EOF
bad_import 2 "uid above the range" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"

# duplicates within the files
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
bob:x:10002:20001::/home/bob:/bin/sh
alice:x:10003:20001::/home/alice:/bin/sh
EOF
bad_import 4 "a user name twice" "$IN/p:3:" --passwd "$IN/p" --group "$IN/group"
err_has "a user name twice: names the first line" "first on line 1"
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
bob:x:10002:20001::/home/bob:/bin/sh
carl:x:10002:20001::/home/carl:/bin/sh
EOF
bad_import 4 "a uid twice" "$IN/p:3:" --passwd "$IN/p" --group "$IN/group"
err_has "a uid twice: names both users" "uid 10002 of 'carl' is also the uid of 'bob' (line 2)"
put g <<'EOF'
alice:x:20001:
crew:x:20002:
crew:x:20003:
EOF
bad_import 4 "a group name twice" "$IN/g:3:" --passwd "$IN/passwd" --group "$IN/g"
put g <<'EOF'
alice:x:20001:
crew:x:20001:
EOF
bad_import 4 "a gid twice" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
put g <<'EOF'
alice:x:20001:
crew:x:20002:alice,olduser,alice
EOF
bad_import 4 "a member twice in one group" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
put s <<EOF
alice:$SHA512:19000:0:99999:7:::
alice:$MD5:19000:0:99999:7:::
EOF
bad_import 4 "two shadow lines for a user" "$IN/s:2:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"

# clashes with what roles holds (the writer is open by then: still nothing changes)
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
olduser:x:10002:20001::/home/olduser:/bin/sh
EOF
bad_import 4 "a user that exists in roles" "$IN/p:2:" --passwd "$IN/p" --group "$IN/group"
err_has "existing user: says so" "user 'olduser' already exists in roles"
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
newbie:x:10500:20001::/home/newbie:/bin/sh
EOF
bad_import 4 "a uid that roles uses" "$IN/p:2:" --passwd "$IN/p" --group "$IN/group"
err_has "existing uid: names its owner" "roles user 'olduser'"
put g <<'EOF'
alice:x:20001:
oldgroup:x:20002:
EOF
bad_import 4 "a group that exists in roles" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
put g <<'EOF'
alice:x:20001:
newgroup:x:20500:
EOF
bad_import 4 "a gid that roles uses" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
err_has "existing gid: names its group" "roles group 'oldgroup'"
# Published metaroles share the group name and gid spaces: refused while adding (late, after
# other groups were added to the staged snapshot), still with the line and nothing changed.
put g <<'EOF'
alice:x:20001:
one:x:20002:
two:x:20700:
EOF
bad_import 4 "the gid of a published metarole" "$IN/g:3:" --passwd "$IN/passwd" --group "$IN/g"
put g <<'EOF'
alice:x:20001:
one:x:20002:
ops:x:20003:
EOF
bad_import 4 "the name of a published metarole" "$IN/g:3:" --passwd "$IN/passwd" --group "$IN/g"

# references that lead nowhere
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
bob:x:10002:20999::/home/bob:/bin/sh
EOF
bad_import 3 "a primary gid that no group has" "$IN/p:2:" --passwd "$IN/p" --group "$IN/group"
err_has "unknown primary gid: says which" "primary gid 20999 of 'bob'"
put g <<'EOF'
alice:x:20001:
crew:x:20002:alice,ghost
EOF
bad_import 3 "a member that is no user" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
err_has "unknown member: names it" "member 'ghost' of group 'crew'"
put s <<EOF
alice:$SHA512:19000:0:99999:7:::
ghost:$SHA512:19000:0:99999:7:::
EOF
bad_import 3 "a shadow line for no user" "$IN/s:2:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
put s <<EOF
olduser:$SHA512:19000:0:99999:7:::
EOF
bad_import 3 "a shadow line for an existing roles user (import never changes a password)" "$IN/s:1:" \
        --shadow "$IN/s"

# malformed lines
put p <<'EOF'
alice:x:10001:20001::/home/alice
EOF
bad_import 2 "passwd: too few fields" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
err_has "too few fields: says how many" "expected 7 ':'-separated fields"
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh:extra
EOF
bad_import 2 "passwd: too many fields" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put g <<'EOF'
alice:x:20001
EOF
bad_import 2 "group: too few fields" "$IN/g:1:" --passwd "$IN/passwd" --group "$IN/g"
put g <<'EOF'
alice:x:20001::
EOF
bad_import 2 "group: too many fields" "$IN/g:1:" --passwd "$IN/passwd" --group "$IN/g"
put s <<EOF
alice:$SHA512:19000:0:99999:7::
EOF
bad_import 2 "shadow: too few fields" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
put s <<EOF
alice:$SHA512:19000:0:99999:7::::
EOF
bad_import 2 "shadow: too many fields" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
put p <<'EOF'
Alice:x:10001:20001::/home/alice:/bin/sh
EOF
bad_import 2 "passwd: an invalid user name" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<'EOF'
averyveryveryveryverylongusername1:x:10001:20001::/home/a:/bin/sh
EOF
bad_import 2 "passwd: a name longer than 32 bytes" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put g <<'EOF'
alice:x:20001:
Staff:x:20002:
EOF
bad_import 2 "group: an invalid group name" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
put g <<'EOF'
alice:x:20001:alice,Bob
EOF
bad_import 2 "group: an invalid member name" "$IN/g:1:" --passwd "$IN/passwd" --group "$IN/g"
put g <<'EOF'
alice:x:20001:alice,
EOF
bad_import 2 "group: an empty member name" "$IN/g:1:" --passwd "$IN/passwd" --group "$IN/g"
printf 'alice:x:10001:20001:Alice\001Liddell:/home/alice:/bin/sh\n' >"$IN/p"
bad_import 2 "passwd: a control character in gecos" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
printf 'alice:x:10001:20001:Alice:/home/alice:/bin/sh\r\n' >"$IN/p"
bad_import 2 "passwd: a CRLF line ending" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
printf 'alice:x:10001:20001:\033[31mred:/home/alice:/bin/sh\n' >"$IN/p"
bad_import 2 "passwd: an escape sequence in gecos" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<'EOF'
alice:x:10001:20001::home/alice:/bin/sh
EOF
bad_import 2 "passwd: a relative home" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<'EOF'
alice:x:10001:20001::/home/al ice:/bin/sh
EOF
bad_import 2 "passwd: a home with a space" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<'EOF'
alice:x:10001:20001::/home/alice:
EOF
bad_import 2 "passwd: an empty shell" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<'EOF'
alice:x:10o01:20001::/home/alice:/bin/sh
EOF
bad_import 2 "passwd: a uid that is no number" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<'EOF'
alice:x:-10001:20001::/home/alice:/bin/sh
EOF
bad_import 2 "passwd: a negative uid" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<'EOF'
alice::10001:20001::/home/alice:/bin/sh
EOF
bad_import 2 "passwd: an empty password field" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put p <<EOF
alice:$SHA512:10001:20001::/home/alice:/bin/sh
EOF
bad_import 2 "passwd: a hash in the passwd file" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put g <<'EOF'
alice:$1$abc$def:20001:
EOF
bad_import 2 "group: a group password" "$IN/g:1:" --passwd "$IN/passwd" --group "$IN/g"
printf 'alice:x:10001:20001::/home/alice:/bin/sh\nbob:x:10002:20001:\0:/home/bob:/bin/sh\n' >"$IN/p"
bad_import 2 "passwd: a NUL byte" "$IN/p:2:" --passwd "$IN/p" --group "$IN/group"

# NIS compat lines
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
+::::::
EOF
bad_import 2 "passwd: a NIS '+' line" "$IN/p:2:" --passwd "$IN/p" --group "$IN/group"
err_has "NIS line: says why" "NIS compat"
put p <<'EOF'
-bob:x:::::
alice:x:10001:20001::/home/alice:/bin/sh
EOF
bad_import 2 "passwd: a NIS '-' line" "$IN/p:1:" --passwd "$IN/p" --group "$IN/group"
put g <<'EOF'
alice:x:20001:
+@admins:::
EOF
bad_import 2 "group: a NIS '+' line" "$IN/g:2:" --passwd "$IN/passwd" --group "$IN/g"
put s <<'EOF'
+::::::::
EOF
bad_import 2 "shadow: a NIS '+' line" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"

# shadow fields
put s <<'EOF'
alice:$9$notamethod$abc:19000:0:99999:7:::
EOF
bad_import 2 "shadow: an unknown hash method" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
if grep -qF 'notamethod' "$ERR"; then fail "an unknown hash is not echoed"; else pass; fi
put s <<'EOF'
alice:plaintext:19000:0:99999:7:::
EOF
bad_import 2 "shadow: a clear-text password" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
if grep -qF 'plaintext' "$ERR"; then fail "a clear-text password is not echoed"; else pass; fi
put s <<'EOF'
alice:$6$saltonly:19000:0:99999:7:::
EOF
bad_import 2 "shadow: a crypt hash without its hash part" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" \
        --shadow "$IN/s"
put s <<'EOF'
alice:$argon2id$v=19$m=1024,t=1,p=1$bad:19000:0:99999:7:::
EOF
bad_import 2 "shadow: a malformed argon2id hash" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
# Hashes whose verification would cost more than its ceiling (each would take gigabytes or
# minutes per login attempt): refused, naming the line, the method and what is too costly. They
# need not be valid to be read for their cost.
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
bob:x:10002:20001::/home/bob:/bin/sh
EOF
HASH86=hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0
YESCRYPT_TAIL='F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7'
costly_import() {
        local desc=$1 hash=$2 what=$3
        put s <<EOF
alice:$SHA512:19000:0:99999:7:::
bob:$hash:19000:0:99999:7:::
EOF
        bad_import 2 "shadow: $desc" "$IN/s:2:" --passwd "$IN/p" --group "$IN/group" --shadow "$IN/s"
        err_has "shadow: $desc: says what" "$what"
}
costly_import "sha512crypt of 999999999 rounds" "\$6\$rounds=999999999\$saltsalt\$$HASH86" \
        "sha512crypt hash of 'bob' is too costly to verify: rounds 999999999, above the ceiling of 1000000"
costly_import "sha256crypt of 1000001 rounds" "\$5\$rounds=1000001\$saltsalt\$${HASH86:0:43}" \
        "sha256crypt hash of 'bob' is too costly to verify: rounds 1000001, above the ceiling of 1000000"
costly_import "bcrypt of cost 31" "\$2b\$31\$abcdefghijklmnopqrstuuJ0aCHRVc7bpSqzN7LKDpW7PQLAv9ehK" \
        "bcrypt hash of 'bob' is too costly to verify: cost 31, above the ceiling of 14"
costly_import "yescrypt of 4 GiB" "\$y\$jHT\$$YESCRYPT_TAIL" \
        "yescrypt hash of 'bob' is too costly to verify: memory (KiB) 4194304, above the ceiling of 262144"
costly_import "yescrypt of a huge t" "\$y\$j9T/zzzzzz\$$YESCRYPT_TAIL" \
        "yescrypt hash of 'bob' is too costly to verify: passes 1091060274, above the ceiling of 12"
costly_import "gost-yescrypt of 512 MiB" "\$gy\$jET\$$YESCRYPT_TAIL" \
        "gost-yescrypt hash of 'bob' is too costly to verify: memory (KiB) 524288, above the ceiling of 262144"
costly_import "scrypt of 512 MiB" "\$7\$FU..../....saltsalt\$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7" \
        "scrypt hash of 'bob' is too costly to verify: memory (KiB) 524288, above the ceiling of 262144"

put s <<EOF
alice:$SHA512:yesterday:0:99999:7:::
EOF
bad_import 2 "shadow: lastchg that is no number" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
put s <<EOF
alice:$SHA512:19000:0:99999:7::-1:
EOF
bad_import 2 "shadow: a negative expire" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"
put s <<EOF
alice:$SHA512:19000:0:99999:7:::junk
EOF
bad_import 2 "shadow: a non-empty reserved field" "$IN/s:1:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/s"

# The first offender is the one named, whatever comes after it.
put p <<'EOF'
alice:x:10001:20001::/home/alice:/bin/sh
bob:x:10002:20001::relative:/bin/sh
carl:x:5:20001::/home/carl:/bin/sh
EOF
bad_import 2 "two bad lines: the first is named" "$IN/p:2:" --passwd "$IN/p" --group "$IN/group"

# ---- the import ----------------------------------------------------------------------------

put group <<'EOF'
# groups: personal ones, shared ones, one holding an existing roles user
alice:x:20001:
bob:x:20002:

crew:x:20010:alice,bob,olduser
devs:x:20011:bob,carl
empty:x:20012:
EOF
put passwd <<'EOF'
alice:x:10001:20001:Alice Liddell,Room 1,,:/home/alice:/bin/bash
bob:x:10002:20002:Bob:/home/bob:/bin/sh
carl:x:10003:20010::/home/carl:/bin/zsh
dora:x:10004:20500:Dora (in an existing group):/home/dora:/bin/sh
erin:x:10005:20010:Erin:/home/erin:/bin/sh
fred:x:10006:20010:Fred:/home/fred:/bin/sh
gail:x:10007:20010:Gail:/home/gail:/bin/sh
hugo:x:10008:20010:Hugo:/home/hugo:/bin/sh
ines:x:10009:20010:Ines:/home/ines:/bin/sh
jack:x:10010:20010:Jack:/home/jack:/bin/sh
kate:x:10011:20010:Kate:/home/kate:/bin/sh
EOF
put shadow <<EOF
alice:$SHA512:19000:0:99999:7:::
bob:$YESCRYPT:0:0:99999:7:::
carl:$ARGON2ID:19000:0:99999:7::20000:
dora:!:19000:0:99999:7:::
erin:*:19000:0:99999:7:::
fred:!!:19000::::::
gail::19000::::::
hugo:!$SHA512:19000:0:99999:7:::
ines:$DES::::::0:
jack:$BCRYPT:19000::::::
kate:$MD5:19000::::::
EOF

before=$(serial)
run_ok "import passwd, group and shadow" rc import --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/shadow"
eq "import: one summary line, and the no-password line" "$(wc -l <"$OUT")" 2
out_has "import: summary" "imported 5 groups, 11 users, 5 memberships, 6 password hashes (5 legacy crypt, 1 argon2id)"
out_has "import: users without a password" "5 users without a password"
eq "import publishes one snapshot" "$(serial)" "$((before + 1))"

run_ok "user show alice" rc user show alice
field "alice uid kept" uid 10001
field "alice gid kept" gid 20001
field "alice gecos" full_name "Alice Liddell,Room 1,,"
field "alice home" home /home/alice
field "alice shell" shell /bin/bash
field "alice enabled" enabled yes
out_match "alice activated now" '^activated +[0-9]{4}-[0-9]{2}-[0-9]{2}T'
field "alice never expires" expires -
field "alice has a password" password yes
field "alice: lastchg is the password change time" password_changed 2022-01-08T00:00:00Z
field "alice: lastchg > 0 forces no change" must_change_password no
out_match "alice primary group" '^  alice +20001 +primary$'
out_match "alice in crew" '^  crew +20010 +member$'

run_ok "user show bob" rc user show bob
field "bob: lastchg 0 means change at next login" must_change_password yes
out_match "bob in devs" '^  devs +20011 +member$'

run_ok "user show carl --json" rc --json user show carl
json_valid "user show carl --json"
json_true "carl: uid, gid, shell, expire mapped (20000 days), member of devs, primary crew" \
        'd["user"]["uid"] == 10003 and d["user"]["gid"] == 20010 and d["user"]["shell"] == "/bin/zsh" and
         d["user"]["expires"] == "2024-10-04T00:00:00Z" and d["user"]["enabled"] is True and
         d["secrets"]["password"] is True and
         sorted((g["group_name"], g["membership"]) for g in d["groups"]) == [("crew", "primary"), ("devs", "member")]'

run_ok "user show dora" rc user show dora
field "dora: primary group is an existing roles group" gid 20500
field "dora: '!' stores no password" password no
run_ok "user show ines" rc user show ines
field "ines: expire 0 stays expired (pam_unix reads it as 1970-01-01)" expires 1970-01-01T00:00:01Z

run_ok "group show crew" rc group show crew
field "crew gid kept" gid 20010
field "crew members" members 3
out_match "crew holds an existing roles user" '^  olduser +10500$'
run_ok "group show empty" rc group show empty
field "a group without members" members 0
run_ok "group list" rc group list
out_lacks "no personal group was made for carl" "carl"

# The import is one audit row, with its counts and the sha256 of each file (sha256sum's): not a
# row per user, group, membership and hash, which made most of secrets.db after a large import.
run_ok "audit" rc audit
sum() { sha256sum "$1" | cut -d' ' -f1; }
out_match "audit: the import, its counts and its files' digests" \
        "import +$IN/passwd +groups=5 users=11 memberships=5 hashes=6 legacy_crypt=5 passwd_sha256=$(sum "$IN/passwd") group_sha256=$(sum "$IN/group") shadow_sha256=$(sum "$IN/shadow")\$"
eq "audit: no row per user added" "$(sql "$T/secrets.db" "SELECT count(*) FROM audit WHERE target = 'kate'")" 0
out_lacks "audit: no row per hash" "imported legacy crypt"
eq "audit: the import is one row" "$(sql "$T/secrets.db" "SELECT count(*) FROM audit WHERE id > (SELECT max(id) FROM audit WHERE action = 'metarole.publish')")" 1

eq "sha512crypt stored with the {crypt} marker, as shadow had it" "$(hash_of alice)" "{crypt}$SHA512"
eq "yescrypt stored with the marker" "$(hash_of bob)" "{crypt}$YESCRYPT"
eq "argon2id stored as is" "$(hash_of carl)" "$ARGON2ID"
eq "DES stored with the marker" "$(hash_of ines)" "{crypt}$DES"
eq "bcrypt stored with the marker" "$(hash_of jack)" "{crypt}$BCRYPT"
eq "md5crypt stored with the marker" "$(hash_of kate)" "{crypt}$MD5"
for u in dora erin fred gail hugo; do
        eq "no hash stored for $u ('!', '*', '!!', empty, '!<hash>')" "$(hash_of "$u")" ""
done
eq "every imported user has a secrets row" \
        "$(sql "$T/secrets.db" "SELECT count(*) FROM credentials")" \
        "$(sql "$T/roles.db" "SELECT count(*) FROM users")"
eq "lastchg 19000 days" "$(sql "$T/secrets.db" "SELECT count(*) FROM credentials WHERE password_changed_at = 1641600000")" 4
eq "expires_at from expire (days)" "$(sql "$T/roles.db" "SELECT expires_at FROM users WHERE name = 'carl'")" 1728000000
eq "no personal groups" "$(sql "$T/roles.db" "SELECT count(*) FROM groups")" 6

# Importing the same files again clashes with what the first import made.
bad_import 4 "the same import twice" "$IN/group:2:" --passwd "$IN/passwd" --group "$IN/group" --shadow "$IN/shadow"

# The imported data is ordinary roles data.
run_ok "group adduser into an imported group" rc group adduser empty alice
run_ok "user del an imported user" rc user del kate

# ---- one file at a time, and --json ---------------------------------------------------------

put g2 <<'EOF'
ops2:x:20100:alice,olduser
EOF
run_ok "import --group alone (members are existing users)" rc --json import --group "$IN/g2"
json_valid "import --json"
json_true "import --json counts" \
        'd == {"ok": True, "action": "import", "groups": 1, "users": 0, "memberships": 2, "password_hashes": 0,
               "legacy_crypt": 0, "argon2id": 0, "users_without_password": 0}'
put p2 <<'EOF'
zoe:x:10100:20100:Zoe:/home/zoe:/bin/sh
EOF
run_ok "import --passwd alone (primary group from the previous import)" rc import --passwd "$IN/p2"
out_has "one user, no hash" "imported 0 groups, 1 user, 0 memberships, 0 password hashes"
out_has "the user without a password is counted" "1 user without a password"
put empty </dev/null
run_ok "import of an empty file" rc import --passwd "$IN/empty"
out_has "an empty import" "imported 0 groups, 0 users"

# ---- ids of deleted roles accounts are never imported ------------------------------------------
# A process or a file a deleted account left must never become an imported account's.
run_ok "a user to delete" rc user add gone --uid 10600
run_ok "deleted: its uid is retired" rc user del gone
run_ok "a group to delete" rc group add goneg --gid 20900
run_ok "deleted: its gid is retired" rc group del goneg
put p <<'EOF'
fine:x:10601:20500::/home/fine:/bin/sh
back:x:10600:20500::/home/back:/bin/sh
EOF
bad_import 4 "a uid a deleted roles user had" "$IN/p:2:" --passwd "$IN/p"
err_has "retired uid: names its last owner" "uid 10600 of 'back' was the uid of roles user 'gone' until "
put g <<'EOF'
backg:x:20900:
EOF
bad_import 4 "a gid a deleted roles group had" "$IN/g:1:" --group "$IN/g"
err_has "retired gid: names its last owner" "gid 20900 of 'backg' was the gid of roles group 'goneg' until "

# ---- the end -------------------------------------------------------------------------------

finish
