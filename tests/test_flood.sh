#!/bin/bash
# SPDX-License-Identifier: MIT
# A flood of unauthenticated password attempts against the argon2 memory bound: 100 attempts at
# once for unknown users, each verifying against 32 MiB, with login_memory_max_kib allowing two
# at a time (64 MiB). A sampler looks at every pamtester of this namespace every 10 ms: how many
# hold at least 16 MiB above their own smallest size (a verification's memory) peaks at two (three
# when one gives its slot back and another takes it during one scan; without the bound it was all
# of them). Meanwhile bob's right password still logs in.
#
#   test_flood.sh ROLESCTL PAM_MODULE NSS_LIB_DIR
set -u
. "$(dirname "$0")/ns-lib.sh"

ns_enter_e2e flood "$@"
need pamtester python3 || finish
N=100
ns_overlay etc var/lib
ns_configure "login_memory_max_kib = 65536
login_slot_wait_ms = 120000
"
# The verification cost under test: 32 MiB, one pass (in place of ns_configure's cheap ones).
sed -i -e 's/^argon2_m_cost_kib.*/argon2_m_cost_kib = 32768/' -e 's/^argon2_t_cost.*/argon2_t_cost = 1/' /etc/roles.conf
grep -q '^argon2_m_cost_kib = 32768' /etc/roles.conf || die "roles.conf: $(cat /etc/roles.conf)"
ns_modules "$P" "$L"
printf 'auth required %s\naccount required %s\n' "$MOD" "$MOD" >/etc/pam.d/roles
PW=correct-horse-battery
"$R" init >/dev/null || die "rolesctl init"
printf '%s\n' "$PW" | "$R" user add bob --password-stdin >/dev/null || die "rolesctl user add bob"

python3 - "$S/peak" <<'PY' &
import os, sys, time
ours = os.readlink("/proc/self/ns/mnt")
smallest, peak, holders_peak, seen, idle = {}, 0, 0, 0, 0
while idle < 100:                       # one second without any pamtester: the flood is over
    total, holders, found = 0, 0, 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if open(f"/proc/{pid}/comm").read().strip() != "pamtester" or os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                continue
            rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
        found += 1
        smallest[pid] = min(smallest.get(pid, rss), rss)
        total += rss - smallest[pid]
        holders += rss - smallest[pid] >= 16 * 1024      # half a verification's 32 MiB, at least
    seen = max(seen, found)
    peak = max(peak, total)
    holders_peak = max(holders_peak, holders)
    idle = 0 if found else idle + 1
    time.sleep(0.01)
open(sys.argv[1], "w").write(f"{peak} {holders_peak} {seen}\n")
PY
sampler=$!
for i in $(seq "$N"); do
        printf 'guess-%s' "$i" | timeout 300 pamtester roles "nobody$i" authenticate >/dev/null 2>&1 &
done
sleep 1
t0=$(date +%s%3N)
printf '%s' "$PW" | timeout 300 pamtester roles bob authenticate >"$S/bob.out" 2>&1
eq "flood: bob's right password during the flood" "$?" 0
echo "# bob waited $(($(date +%s%3N) - t0)) ms during the flood"
wait "$sampler"
read -r peak holders seen <"$S/peak"
echo "# $seen pamtester processes at once at most; at most $holders held a verification's memory at once;" \
        "what they held above their own smallest size peaked at $((peak / 1024)) MiB (bound 64 MiB: two)"
[ "$seen" -ge $((N / 2)) ] && pass || fail "flood: only $seen attempts ran at once: the flood did not happen"
# Two slots; a third while one process gives its slot back and another takes it during one scan.
[ "$holders" -le 3 ] && pass || fail "flood: $holders attempts held a verification's memory at once (2 slots)"
finish
