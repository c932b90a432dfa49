#!/bin/bash
# SPDX-License-Identifier: MIT
# The full fleet lab (not in CI; FLEET.md "The lab", issue 15's table): PostgreSQL 15 and hosts as
# tests/fleet/lib.sh makes them (every host's files on tmpfs), measured:
#  - one rolesctl change to installed on every host, p50 and p99 over CHANGES changes, for each
#    host count of --curve at --users users (default 1, 10, 20, 50 hosts at 10,000);
#  - the same for --big-hosts hosts at --big-users users (default 20 at 100,000);
#  - a new host joining at --big-users (a full copy): from its agent's start to installed;
#  - --kills SIGKILLs of roles-agent at random points of a round (default 300), each checked
#    (the host on the old or the new serial, never a mix; the next round completes).
# It prints a table; the checks are counted as in every test ("N passed, M failed" last).
#
#   lab.sh ROLESCTL PAM_MODULE NSS_LIB_DIR ROLES_AGENT [--curve "1 10 20 50"] [--users 10000]
#          [--big-hosts 20] [--big-users 100000] [--changes 20] [--kills 300] [--poll 1]
set -u
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "$0")/lib.sh"

CURVE="1 10 20 50" USERS=10000 BIG_HOSTS=20 BIG_USERS=100000 CHANGES=20 KILLS=300 FLEET_POLL=1
args=()
while [ $# -gt 0 ]; do
        case $1 in
        --curve) CURVE=$2; shift 2 ;;
        --users) USERS=$2; shift 2 ;;
        --big-hosts) BIG_HOSTS=$2; shift 2 ;;
        --big-users) BIG_USERS=$2; shift 2 ;;
        --changes) CHANGES=$2; shift 2 ;;
        --kills) KILLS=$2; shift 2 ;;
        --poll) FLEET_POLL=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
        esac
done
# The programs, as the rest of the script and ns_enter_e2e take them.
set -- "${args[@]}"
# The options travel into the namespace through the environment (ns_enter re-runs the script with
# its positional arguments only).
export LAB_CURVE=${LAB_CURVE:-$CURVE} LAB_USERS=${LAB_USERS:-$USERS} LAB_BIG_HOSTS=${LAB_BIG_HOSTS:-$BIG_HOSTS}
export LAB_BIG_USERS=${LAB_BIG_USERS:-$BIG_USERS} LAB_CHANGES=${LAB_CHANGES:-$CHANGES} LAB_KILLS=${LAB_KILLS:-$KILLS}
export LAB_POLL=${LAB_POLL:-$FLEET_POLL}
ns_e2e_extra=(ROLES_AGENT)
ns_enter_e2e fleet-lab "$@"
A=$(realpath -m "$4")
FLEET_POLL=$LAB_POLL
ns_on_exit() { fleet_cleanup; }
fleet_setup

TABLE=()
row() { TABLE+=("$(printf '%-44s %s' "$1" "$2")"); echo "# $1: $2"; }

# seed FROM TO: users FROM to TO of fleet_seed's imported (the group with the first).
seed() {
        local t0
        [ -e "$S/seed/passwd" ] && [ "$(wc -l <"$S/seed/passwd")" -ge "$2" ] || fleet_seed "$2" "$S/seed" || die "the seed"
        sed -n "$1,$2p" "$S/seed/passwd" >"$S/seed/slice.passwd"
        sed -n "$1,$2p" "$S/seed/shadow" >"$S/seed/slice.shadow"
        # The group once: import refuses a group the fleet has.
        local group=(--group "$S/seed/group")
        [ "$1" -gt 1 ] && group=()
        t0=$(date +%s%N)
        arc import --passwd "$S/seed/slice.passwd" "${group[@]}" --shadow "$S/seed/slice.shadow" >/dev/null ||
                die "rolesctl import of users $1-$2"
        row "import of $(($2 - $1 + 1)) users" "$((($(date +%s%N) - t0) / 1000000)) ms"
}

arc init >/dev/null || die "rolesctl init against PostgreSQL"
seed 1 "$LAB_USERS"
running=0
# hosts_up N: hosts 1..N running their agents, and all on the latest serial.
hosts_up() {
        local n late
        for n in $(seq "$1"); do
                [ -n "${AGENT_PID[$n]:-}" ] || fleet_host_start "$n"
        done
        for n in $(seq $(($1 + 1)) "$running"); do
                fleet_agent_stop "$n"
        done
        running=$1
        late=$(fleet_wait_serial "$(fleet_serial)" 300 $(seq "$1")) || die "hosts not on the latest serial after 300 s: $late"
}

for h in $LAB_CURVE; do
        hosts_up "$h"
        fleet_latency "c$h" "$LAB_CHANGES" $(seq "$h")
        row "$h hosts, $LAB_USERS users, $LAB_CHANGES changes" "$LATENCY"
done

# 100k: the users added to the fleet (the running hosts take them as one change), then measured.
hosts_up "$LAB_BIG_HOSTS"
seed $((LAB_USERS + 1)) "$LAB_BIG_USERS"
hosts_up "$LAB_BIG_HOSTS"
fleet_latency big "$LAB_CHANGES" $(seq "$LAB_BIG_HOSTS")
row "$LAB_BIG_HOSTS hosts, $LAB_BIG_USERS users, $LAB_CHANGES changes" "$LATENCY"

# A new host joining: a full copy of the fleet, from its agent's start to the serial installed.
new=$((LAB_BIG_HOSTS + 1))
for n in $LAB_CURVE; do [ "$n" -ge "$new" ] && new=$((n + 1)); done
fleet_host_make "$new"
s=$(fleet_serial)
t0=$(date +%s.%N)
fleet_agent_start "$new"
if late=$(fleet_wait_serial "$s" 300 "$new"); then
        row "a new host joining at $LAB_BIG_USERS users" \
                "$(awk -v a="$(fleet_install_time "$new" "$s")" -v b="$t0" 'BEGIN { printf "%.3f s", a - b }')"
        eq "the new host serves the last imported user" \
                "$(fleet_in "$new" getent passwd "$(printf 'lu%07d' "$LAB_BIG_USERS")" | cut -d: -f1)" "$(printf 'lu%07d' "$LAB_BIG_USERS")"
else
        fail "a new host at $LAB_BIG_USERS users: not on serial $s after 300 s"
fi

# SIGKILLs, on the new host (its agent stopped for them, started again after).
failed_before=$FAILED
fleet_kills "$new" "$LAB_KILLS" k
row "$LAB_KILLS SIGKILLs in rounds of $((KILL_WINDOW / 1000)) ms" "$((FAILED - failed_before)) failed checks"

echo
echo "# the fleet lab, poll $FLEET_POLL s, $(nproc) cores"
printf '%s\n' "${TABLE[@]}"
finish
