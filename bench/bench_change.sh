#!/bin/bash
# SPDX-License-Identifier: MIT
# What one admin change costs: `rolesctl group add` on a roles.db of N users (imported from a
# generated passwd file), its wall time and the bytes it wrote (ru_oublock of the child: pages it
# dirtied, counted when dirtied, so buffered writes count too). Prints the median of RUNS; then
# a batch of 100 changes, `rolesctl index rebuild` (the index compiled from scratch) and the
# files' sizes. bench_nss.sh reports the same beside its lookups; this one reaches 1M users.
#
#   bench_change.sh ROLESCTL USERS [RUNS] [DIR]
set -eu
R=$1 N=$2 RUNS=${3:-7}
D=${4:-$(mktemp -d /var/tmp/bench_change.XXXXXX)}
mkdir -p "$D/db"
chmod 755 "$D" "$D/db"
cat >"$D/roles.conf" <<CONF
public_db = $D/db/roles.db
secrets_db = $D/db/secrets.db
state_db = $D/db/state.db
uid_min = 100000
uid_max = 3000000
gid_min = 100000
gid_max = 3000000
CONF
if [ ! -e "$D/db/roles.db" ]; then
        awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "bu%07d:x:%d:%d:bench user:/home/bu%07d:/bin/bash\n", i, 200000 + i, 100000, i }' >"$D/passwd"
        printf 'benchg:x:100000:\n' >"$D/group"
        "$R" --conf "$D/roles.conf" init >/dev/null
        t0=$(date +%s.%N)
        "$R" --conf "$D/roles.conf" import --passwd "$D/passwd" --group "$D/group" >/dev/null
        echo "# import of $N users: $(echo "$(date +%s.%N) - $t0" | bc) s; roles.db $(($(stat -c %s "$D/db/roles.db") / 1024)) KiB"
fi
python3 - "$R" "$D/roles.conf" "$RUNS" "$N" <<'PY'
import os, sys, time
r, conf, runs, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ms, kib = [], []
tag = "%d" % os.getpid()
for i in range(runs):
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execv(r, [r, "--conf", conf, "group", "add", "bench%s_%d" % (tag, i)])
    _, st, ru = os.wait4(pid, 0)
    ms.append((time.monotonic() - t0) * 1000)
    kib.append(ru.ru_oublock * 512 / 1024)
    if st != 0:
        sys.exit("rolesctl group add failed")
ms.sort(); kib.sort()
print("users %s: group add median %.1f ms (min %.1f, max %.1f), written median %.0f KiB (max %.0f)"
      % (n, ms[len(ms) // 2], ms[0], ms[-1], kib[len(kib) // 2], kib[-1]))

def timed(args, stdin=None):
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        if stdin:
            os.dup2(os.open(stdin, os.O_RDONLY), 0)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.execv(r, [r, "--conf", conf] + args)
    _, st, ru = os.wait4(pid, 0)
    if st != 0:
        sys.exit("rolesctl %s failed" % " ".join(args))
    return (time.monotonic() - t0) * 1000, ru.ru_oublock * 512 / 1024
batch = "/tmp/bench_change.%s.batch" % tag
with open(batch, "w") as f:
    for i in range(100):
        f.write("group add batch%s_%d\n" % (tag, i))
t, k = timed(["batch", batch], stdin=batch)
os.unlink(batch)
print("users %s: batch of 100 group adds %.1f ms, written %.0f KiB" % (n, t, k))
t, k = timed(["index", "rebuild"])
print("users %s: index rebuild %.1f ms, written %.0f KiB" % (n, t, k))
PY
for f in roles.db roles.db-wal roles.nss roles.nss-delta secrets.db; do
        printf '# %s %s KiB\n' "$f" "$(($(stat -c %s "$D/db/$f" 2>/dev/null || echo 0) / 1024))"
done
echo "# $D"
