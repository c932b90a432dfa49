#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The NSS benchmark: one generated data set per size, served to the real glibc by nss_files
# (the namespace's /etc/passwd and /etc/group with the lines appended), by libnss_roles.so.2, and by
# libnss-extrausers and libnss-cache when they are installed; each chained after files as an
# administrator would write it ("passwd: files SOURCE"). bench_nss measures one source per run;
# this script prints one table per size with every source's figure, roles' ratio to the
# reference (files, or libnss-cache) and issue 12's target with OK or MISS, then roles' admin
# costs: import, one change and a batch of 100 (time and bytes written to disk), the index
# compile (`rolesctl index rebuild`, n/a where rolesctl has none), and the files' sizes.
#
#   bench/bench_nss.sh [--build DIR] [--sizes 1000,10000,100000] [--sources files,roles,extrausers,cache]
#                      [--rounds N] [--budget MS] [--quick] [--keep]
#
# Needs root and mount namespaces: everything happens in `unshare -m` with overlays on /etc (its
# upper layer on a tmpfs) and /var/lib (its upper layer in the work directory, on disk, so that an
# admin change pays its fsyncs and its writes are counted: /proc/PID/io write_bytes, which tmpfs
# never increases); the host's /etc, /var/lib and /home are never
# touched. Without root it says so and exits 77 (meson: skipped). A wrong answer from any source,
# or an admin change that fails or is not seen through glibc, exits 1; a missed target is only
# reported (MISS).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$here/.." && pwd)/build
sizes=1000,10000,100000
sources=files,roles,extrausers,cache
quick=
keep=
budget=1000
rounds=3
inner=
rolesctl_snap=
module_snap=

usage() {
        cat <<EOF
usage: bench/bench_nss.sh [--build DIR] [--sizes 1000,10000,100000] [--sources files,roles,extrausers,cache]
                          [--rounds N] [--budget MS] [--quick] [--keep]
  --build DIR    the meson build directory (default: $build)
  --sizes LIST   numbers of users, comma separated (N/10 groups each)
  --sources LIST which sources to run (files always runs: it is the reference)
  --quick        few iterations (a smoke test, or for profiling)
  --rounds N     run every source N times in turn; the tables show the median (default $rounds)
  --budget MS    time budget per operation and round (default $budget)
  --keep         keep the work directory (data sets, raw outputs)
EOF
}

while [ $# -gt 0 ]; do
        case "$1" in
        --build) build=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --sources) sources=$2; shift 2 ;;
        --quick) quick=--quick; shift ;;
        --keep) keep=1; shift ;;
        --budget) budget=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --inner) inner=$2; shift 2 ;;          # internal: run the sources for one size, in the namespace
        --rolesctl) rolesctl_snap=$2; shift 2 ;;        # internal: the snapshot taken at the start
        --module-dir) module_snap=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
        esac
done
build=$(cd "$build" && pwd)
bench=$build/bench/bench_nss
rolesctl=$build/rolesctl/rolesctl
module_dir=$build/nss_roles
rolesctl=${rolesctl_snap:-$rolesctl}
module_dir=${module_snap:-$module_dir}

have_module() {         # is libnss_NAME.so.2 where glibc's dlopen finds it?
        ldconfig -p | grep -q "libnss_$1\.so\.2 "
}

# ---- inside the namespace: one size, every source ---------------------------------------------

# files_data PASSWD_LINES GROUP_LINES: the namespace's /etc/passwd and /etc/group with those files'
# lines appended ("": none), bound over them for files' runs; files_data_end takes them away.
# The namespace's own two files are never written: a host's do not change between its lookups,
# and roles' index was judged against them as they are (its host verdict, common/nss_index.h).
files_data() {
        cat "$scratch/passwd.orig" ${1:+"$1"} > "$scratch/passwd.files"
        cat "$scratch/group.orig" ${2:+"$2"} > "$scratch/group.files"
        mount --bind "$scratch/passwd.files" /etc/passwd && mount --bind "$scratch/group.files" /etc/group
}

files_data_end() {
        umount /etc/passwd /etc/group
}

write_nsswitch() {      # SOURCE (empty: files alone)
        cat > /etc/nsswitch.conf <<EOF
passwd: files${1:+ $1}
group:  files${1:+ $1}
shadow: files
hosts:  files
EOF
}

run_bench() {           # SOURCE ROUND [extra bench_nss args]
        local src=$1 round=$2; shift 2
        local rc=0 file=$out/$src.$round.out
        "$bench" run --data "$data" --source "$src" --budget "$budget" $quick "$@" > "$file" || rc=$?
        if [ $rc -ne 0 ]; then
                echo "bench_nss: $src: exit $rc" >&2
                echo "V failed $rc" >> "$file"
        fi
}

load_roles() {
        local uid_max gid_max
        uid_max=$(awk '$1 == "uid_max" { print $2 }' "$data/meta")
        gid_max=$(awk '$1 == "gid_max" { print $2 }' "$data/meta")
        cat > /etc/roles.conf <<EOF
uid_min = 200000
uid_max = $uid_max
gid_min = 200000
gid_max = $gid_max
argon2_t_cost = 1
argon2_m_cost_kib = 1024
argon2_parallelism = 1
EOF
        "$rolesctl" init > /dev/null
        local t0 t1 err=$out/rolesctl.err how
        t0=$(date +%s.%N)
        if "$rolesctl" import --passwd "$data/passwd" --group "$data/group" > /dev/null 2> "$err"; then
                how="rolesctl import --passwd --group"
        else
                if grep -q "unknown command" "$err"; then
                        how="rolesctl batch (rolesctl import is not available in this build)"
                else
                        how="rolesctl batch (rolesctl import failed: $(head -1 "$err"))"
                fi
                "$rolesctl" batch "$data/roles.batch" > /dev/null
        fi
        t1=$(date +%s.%N)
        local size
        size=$(stat -c %s /var/lib/roles/roles.db)
        echo "V load_seconds $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" > "$out/roles.load"
        echo "V db_bytes $size" >> "$out/roles.load"
        echo "T load_how $how" >> "$out/roles.load"
        file_sizes loaded >> "$out/roles.load"
        echo "  roles: loaded with $how in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s;" \
             "roles.db $((size / 1024)) KiB; host verdict: $(host_verdict)"
}

# host_verdict: whether the installed delta says that no roles entry is the host's (its flags, 3:
# both halves clear; common/nss_index.h), so that lookups read neither /etc/passwd nor /etc/group
# while those stay as they are; "none" when it carries no verdict (an older build, files changed
# less than a second before the import).
host_verdict() {
        python3 - /var/lib/roles/roles.nss-delta <<'PY'
import struct, sys
try:
    data = open(sys.argv[1], "rb").read()
except OSError:
    data = b""
t = data[-128:]
print(struct.unpack_from("=I", t, 16)[0] if len(data) >= 416 and t[:8] == b"ROLESHST" else "none")
PY
}

# file_sizes WHEN: "V WHEN_FILE_bytes SIZE" for roles.db, roles.nss and secrets.db (none for a
# file that is not there: the table says n/a).
file_sizes() {
        local f
        for f in roles.db roles.nss secrets.db; do
                [ -e "/var/lib/roles/$f" ] && echo "V $1_${f%%.*}_${f##*.}_bytes $(stat -c %s "/var/lib/roles/$f")"
        done
        return 0
}

# Does this rolesctl compile the NSS index (issue 12: `rolesctl index rebuild`)?
have_index_rebuild() {
        "$rolesctl" index rebuild --help > /dev/null 2>&1 ||
                "$rolesctl" --help 2> /dev/null | grep -q 'index rebuild'
}

# spawn_admin KEY [--in FILE] -- ARGV...: one rolesctl process, timed, with the bytes it wrote
# (bench_nss spawn); "S KEY NS BYTES" into roles.admin, or a wrong answer when it failed.
spawn_admin() {
        local key=$1 res rc=0; shift
        res=$("$bench" spawn "$@") || rc=$?
        if [ $rc -ne 0 ]; then
                echo "bench_nss: $key: $* exited $rc" >&2
                echo "V admin_wrong 1" >> "$out/roles.admin"
                return 1
        fi
        echo "S $key ${res% *}" >> "$out/roles.admin"
}

# Roles' admin costs, after the lookups (they change roles.db): one change (group add, then
# checked through glibc, as any process would see it), a batch of 100 changes, the index compile.
measure_admin() {
        local k i reps=5 name
        [ -n "$quick" ] && reps=2
        : > "$out/roles.admin"
        write_nsswitch roles
        for ((k = 1; k <= reps; k++)); do
                name=benchchg$k
                spawn_admin change -- "$rolesctl" group add "$name" || continue
                if ! LD_LIBRARY_PATH=$module_dir getent group "$name" > /dev/null; then
                        echo "bench_nss: roles: group $name, just added, is not served through glibc" >&2
                        echo "V admin_wrong 1" >> "$out/roles.admin"
                fi
        done
        for ((k = 1; k <= (reps + 1) / 2; k++)); do
                for ((i = 1; i <= 100; i++)); do echo "group add benchbat${k}x$i"; done > "$out/batch100"
                spawn_admin batch100 --in "$out/batch100" -- "$rolesctl" batch || continue
                if ! LD_LIBRARY_PATH=$module_dir getent group "benchbat${k}x100" > /dev/null; then
                        echo "bench_nss: roles: group benchbat${k}x100, just added, is not served through glibc" >&2
                        echo "V admin_wrong 1" >> "$out/roles.admin"
                fi
        done
        if have_index_rebuild; then
                for ((k = 1; k <= (reps + 1) / 2; k++)); do
                        spawn_admin index -- "$rolesctl" index rebuild
                done
        else
                echo "T index n/a (this rolesctl has no index rebuild)" >> "$out/roles.admin"
        fi
        file_sizes after >> "$out/roles.admin"
}

# The big group (DIR/group.big) for the caller that grows its buffer, into roles.db after the
# admin figures (files and extrausers get it for their grow run only).
load_big_group() {
        local err=$out/rolesctl-big.err
        "$rolesctl" import --group "$data/group.big" > /dev/null 2> "$err" && return 0
        "$rolesctl" batch "$data/big.batch" > /dev/null && return 0
        echo "bench_nss: roles: the big group could not be added" >&2
        echo "V admin_wrong 1" >> "$out/roles.admin"
}

run_grow() {            # SOURCE
        local rc=0 file=$out/$1.grow.out
        "$bench" grow --data "$data" --budget "$budget" $quick > "$file" || rc=$?
        if [ $rc -ne 0 ]; then
                echo "bench_nss grow: $1: exit $rc" >&2
                echo "V failed $rc" >> "$file"
        fi
}

inner_main() {
        data=$inner/data
        out=$inner
        local scratch
        scratch=$(mktemp -d /tmp/roles-bench-nss-ns.XXXXXX)
        mount -t tmpfs tmpfs "$scratch"
        mkdir -p "$scratch/etc/u" "$scratch/etc/w" "$out/varlib/u" "$out/varlib/w"
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/etc/u,workdir=$scratch/etc/w" /etc
        mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$out/varlib/u,workdir=$out/varlib/w" /var/lib
        cp /etc/passwd "$scratch/passwd.orig"
        cp /etc/group "$scratch/group.orig"

        # Set every source up once. Only files needs its data out of the way while the others
        # run (they are chained after files), so it is appended for its own runs only.
        local -a run=(files)
        IFS=, read -r -a want <<< "$sources"
        for src in "${want[@]}"; do
                case "$src" in
                files)
                        ;;
                roles)
                        # Loaded as on a host whose nsswitch.conf chains roles after files
                        # alone: rolesctl then asks no other service about each new name (with
                        # nss_systemd chained in, that costs about 150 us a name, see README).
                        write_nsswitch roles
                        load_roles
                        run+=(roles)
                        ;;
                extrausers)
                        if ! have_module extrausers; then
                                echo "  extrausers: libnss_extrausers.so.2 not installed (apt-get install libnss-extrausers): skipped"
                                continue
                        fi
                        mkdir -p /var/lib/extrausers
                        cp "$data/passwd" "$data/group" /var/lib/extrausers/
                        run+=(extrausers)
                        ;;
                cache)
                        if ! have_module cache; then
                                echo "  cache: libnss_cache.so.2 not installed (apt-get install libnss-cache): skipped"
                                continue
                        fi
                        cp "$data/passwd" /etc/passwd.cache
                        cp "$data/group" /etc/group.cache
                        # The indexes must not be older than the .cache files, or the module
                        # falls back to a linear scan.
                        for f in passwd.cache.ixname passwd.cache.ixuid group.cache.ixname group.cache.ixgid; do
                                cp "$data/$f" "/etc/$f"
                                touch -d '+1 second' "/etc/$f"
                        done
                        run+=(cache)
                        ;;
                *)
                        echo "unknown source '$src'" >&2
                        ;;
                esac
        done

        # Rounds of every source in turn: a burst of load on the machine then hits all sources
        # alike, and the tables take the median over rounds.
        for ((round = 1; round <= rounds; round++)); do
                echo "  round $round/$rounds: ${run[*]}"
                for src in "${run[@]}"; do
                        case "$src" in
                        files)
                                files_data "$data/passwd" "$data/group"
                                write_nsswitch ""
                                run_bench files "$round"
                                files_data_end
                                ;;
                        roles)
                                write_nsswitch roles
                                LD_LIBRARY_PATH=$module_dir run_bench roles "$round" --db /var/lib/roles/roles.db \
                                        --empty-module "$module_dir/libnss_benchempty.so.2" \
                                        --floor-module "$module_dir/libnss_benchfloor.so.2"
                                ;;
                        *)
                                write_nsswitch "$src"
                                run_bench "$src" "$round"
                                ;;
                        esac
                done
        done

        # Roles' admin costs, then the caller that grows its buffer, once per source.
        local has_roles=
        for src in "${run[@]}"; do [ "$src" = roles ] && has_roles=1; done
        if [ -n "$has_roles" ]; then
                echo "  admin changes: roles"
                measure_admin
                echo "  the big group: loading it into roles"
                load_big_group
        fi
        echo "  buffer grown 1 KiB at a time: ${run[*]}"
        for src in "${run[@]}"; do
                case "$src" in
                files)
                        # The namespace's own groups and the big one, not the N others: the
                        # retries are what is measured, not a scan past every other group.
                        files_data "" "$data/group.big"
                        write_nsswitch ""
                        run_grow files
                        files_data_end
                        ;;
                roles)
                        write_nsswitch roles
                        LD_LIBRARY_PATH=$module_dir run_grow roles
                        ;;
                extrausers)
                        # Its group file holds the big group alone, as files' does: the retries,
                        # not a scan past every other group, are what is measured.
                        cp /var/lib/extrausers/group "$scratch/extrausers.group"
                        cp "$data/group.big" /var/lib/extrausers/group
                        write_nsswitch extrausers
                        run_grow extrausers
                        cp "$scratch/extrausers.group" /var/lib/extrausers/group
                        ;;
                *)      # libnss-cache: the line would need its indexes rebuilt; not measured
                        ;;
                esac
        done
        umount /etc /var/lib
        umount "$scratch"
        rmdir "$scratch"
}

if [ -n "$inner" ]; then
        inner_main
        exit 0
fi

# ---- outside: generate, run each size in a fresh namespace, print the tables ---------------------------

if [ "$(id -u)" -ne 0 ]; then
        echo "bench_nss.sh: needs root (a private mount namespace with overlays on /etc and /var/lib): skipped"
        exit 77
fi
for f in "$bench" "$rolesctl" "$module_dir/libnss_roles.so.2" "$build/bench/libnss_benchempty.so.2" \
        "$build/bench/libnss_benchfloor.so.2"; do
        [ -e "$f" ] || { echo "bench_nss.sh: $f missing: build first (ninja -C $build)" >&2; exit 2; }
done
if ! unshare -m --propagation private true 2> /dev/null; then
        echo "bench_nss.sh: no mount namespaces here: skipped"
        exit 77
fi

work=$(mktemp -d /tmp/roles-bench-nss.XXXXXX)
chmod 0755 "$work"
cleanup() {
        if [ -n "$keep" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The module and rolesctl as they are now: a rebuild during a long run cannot mix versions.
mkdir -p "$work/bin"
cp "$rolesctl" "$work/bin/rolesctl"
cp "$module_dir/libnss_roles.so.2" "$work/bin/libnss_roles.so.2"
cp "$build/bench/libnss_benchempty.so.2" "$work/bin/libnss_benchempty.so.2"
cp "$build/bench/libnss_benchfloor.so.2" "$work/bin/libnss_benchfloor.so.2"
snapshot=(--rolesctl "$work/bin/rolesctl" --module-dir "$work/bin")

# Times in ns, to a readable unit. One table per size: every source's figure, roles' ratio to
# the reference (files, or cache for the one-shot target), issue 12's target at that size and OK
# or MISS; then roles' admin costs. Each size also adds a line to $work/admin.summary.
print_tables() {        # N DIR
        awk -v N="$1" -v dir="$2" -v srcs="$sources" -v rounds="$rounds" -v summary="$work/admin.summary" '
        function fmt(ns) {
                if (ns == "") return "-"
                if (ns < 1000) return sprintf("%.0f ns", ns)
                if (ns < 1e6) return sprintf("%.1f us", ns / 1e3)
                if (ns < 1e9) return sprintf("%.2f ms", ns / 1e6)
                return sprintf("%.2f s", ns / 1e9)
        }
        function fmtkib(k) { return k == "" ? "-" : sprintf("%.1f MiB", k / 1024) }
        function fmtbytes(b) {
                if (b == "") return "n/a"
                if (b < 0) return "?"
                if (b < 1048576) return sprintf("%.0f KiB", b / 1024)
                return sprintf("%.1f MiB", b / 1048576)
        }
        function ratio(a, b) {
                if (a == "" || b == "" || b == 0) return "-"
                if (a / b < 0.1) return sprintf("1/%.0f", b / a)
                return sprintf("%.2fx", a / b)
        }
        # Each value: the median over the rounds (files src.1.out ... src.R.out).
        function median(list,    v, n, i, j, t) {
                n = split(list, v, " ")
                for (i = 2; i <= n; i++)
                        for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
                if (n == 0) return ""
                return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        function readout(src, f, acc, keys,    line, p) {
                while ((getline line < f) > 0) {
                        split(line, p, " ")
                        if (p[1] == "V" && (p[2] == "wrong" || p[2] == "failed" || p[2] == "admin_wrong")) {
                                val[src, p[2]] += p[3]; continue
                        }
                        if (p[1] == "S") {      # S KEY NS BYTES: an admin command
                                if (!((p[2] "_ns") in acc)) { keys[++nk] = p[2] "_ns"; keys[++nk] = p[2] "_bytes" }
                                acc[p[2] "_ns"] = acc[p[2] "_ns"] " " p[3]
                                acc[p[2] "_bytes"] = acc[p[2] "_bytes"] " " p[4]
                                continue
                        }
                        if (p[1] == "T") { sub(/^T [^ ]+ /, "", line); txt[src, p[2]] = line; continue }
                        if (p[1] != "R" && p[1] != "V") continue
                        if (!(p[2] in acc)) keys[++nk] = p[2]
                        acc[p[2]] = acc[p[2]] " " p[3]
                }
                close(f)
        }
        function load(src,    r, k, acc, keys) {
                nk = 0
                for (r = 1; r <= rounds; r++) readout(src, dir "/" src "." r ".out", acc, keys)
                readout(src, dir "/" src ".grow.out", acc, keys)
                readout(src, dir "/" src ".load", acc, keys)
                readout(src, dir "/" src ".admin", acc, keys)
                for (k = 1; k <= nk; k++) val[src, keys[k]] = median(acc[keys[k]])
                present[src] = ((src, "rss_peak_kib") in val)
                # What a source adds to a process first lookup: its first getpwnam_r minus that
                # of root, which files answers alone from the top of the namespace /etc/passwd.
                if ((src, "first_glibc_first_call") in val && (src, "first_local_first_call") in val)
                        val[src, "first_over_local"] = val[src, "first_glibc_first_call"] - val[src, "first_local_first_call"]
                if ((src, "first_floor_dlopen") in val)
                        val[src, "first_floor"] = val[src, "first_floor_dlopen"] + val[src, "first_floor_first_call"]
        }
        function cell(s, op, isrss) {
                if (!present[s]) return "-"
                return isrss ? fmtkib(val[s, op]) : fmt(val[s, op])
        }
        # kind: "r" roles at most t x the reference (ref, default files); "rss" roles at most files
        # + t KiB; "abs" roles at most t ns; "" information only.
        function row(label, op, kind, t, isrss, ref,    f, r, rt, tgt, verdict, ok, refname) {
                if (ref == "") ref = "files"
                f = val[ref, op]; r = val["roles", op]
                refname = (ref == "files") ? "" : " " ref
                if (isrss) rt = (f == "" || r == "") ? "-" : sprintf("%+.1f MiB", (r - f) / 1024)
                else if (kind == "abs") rt = "-"
                else rt = ratio(r, f) refname
                tgt = "-"; verdict = "info"
                if (kind == "r") tgt = ((t < 0.1) ? sprintf("<= 1/%.0f", 1 / t) : sprintf("<= %.2fx", t)) refname
                else if (kind == "rss") tgt = sprintf("<= files+%d MiB", t / 1024)
                else if (kind == "abs") tgt = "<= " fmt(t)
                if (kind != "") {
                        if (r == "" || (kind != "abs" && (f == "" || !present[ref]))) verdict = "n/a"
                        else {
                                if (kind == "r") ok = (r <= t * f)
                                else if (kind == "rss") ok = (r <= f + t)
                                else ok = (r <= t)
                                verdict = ok ? "OK" : "MISS"
                                if (ok) pass++; else miss++
                        }
                }
                printf "%-38s %10s %10s %10s %10s %14s %16s %s\n", label, cell("files", op, isrss), cell("roles", op, isrss),
                        cell("extrausers", op, isrss), cell("cache", op, isrss), rt, tgt, verdict
        }
        # An admin figure of roles: VALUE (already formatted), OK when NUM <= LIMIT (LIMIT "" : info).
        function arow(label, shown, num, limit, limit_shown,    verdict, ok) {
                verdict = "info"
                if (limit != "") {
                        if (num == "") verdict = "n/a"
                        else { ok = (num + 0 <= limit + 0); verdict = ok ? "OK" : "MISS"; if (ok) pass++; else miss++ }
                }
                printf "%-50s %14s %16s %s\n", label, shown, limit == "" ? "-" : "<= " limit_shown, verdict
        }
        BEGIN {
                n = split(srcs, all, ",")
                for (i = 1; i <= n; i++) if (all[i] != "files" && all[i] != "roles") load(all[i])
                load("files"); load("roles")
                big = (N >= 100000 && N < 1000000)      # the targets stated at 100k
                huge = (N >= 1000000)                   # those stated at 1M ("as at 100k" for lookups)
                large = big || huge
                printf "\n=== N = %d users, %d groups (+%d private), heavy user in ~1000 groups; median of %d round(s) ===\n", N, N / 10, N, rounds
                for (i = 1; i <= n; i++)
                        if (all[i] != "files" && all[i] != "roles" && !present[all[i]])
                                printf "(%s: not measured, module not installed)\n", all[i]
                printf "%-38s %10s %10s %10s %10s %14s %16s %s\n", "op (median)", "files", "roles", "extrausers", "cache",
                        "roles/ref", "target", "verdict"
                row("getpwnam_r", "getpwnam_r", large ? "r" : "", 1 / 400)
                row("getpwuid_r", "getpwuid_r", large ? "r" : "", 1 / 400)
                row("getgrnam_r", "getgrnam_r"); row("getgrgid_r", "getgrgid_r")
                row("getgrouplist, 1000-group user", "getgrouplist_heavy", big ? "r" : "", 1 / 300)
                row("getgrouplist, ordinary user", "getgrouplist_user")
                row("getpwnam_r, unknown name", "getpwnam_r_miss")
                row("getpwent, per entry", "getpwent_per_entry", big ? "r" : "", 1.3)
                row("getgrent, per entry", "getgrent_per_entry", big ? "r" : "", 1.3)
                if (N == 1000) row("one-shot getent passwd NAME", "oneshot_getent", "r", 1.10)
                else row("one-shot getent passwd NAME", "oneshot_getent", large ? "r" : "", 0.25)
                if (large) row("one-shot getent passwd NAME, vs cache", "oneshot_getent", "r", 1.0, 0, "cache")
                row("first lookup, over files own (root)", "first_over_local", "abs", 60000)
                row("  floor: conf read, index mapped, no more", "first_floor")
                row("peak RSS (bench process)", "rss_peak_kib", big ? "rss" : "", 1024, 1)
                row("  RSS before any lookup", "rss_before_nss_kib", "", 0, 1)
                row("  at the end: its own (RssAnon)", "rss_anon_kib", "", 0, 1)
                row("  at the end: mapped files (RssFile)", "rss_file_kib", "", 0, 1)
                row("  one-shot getent: its peak RSS", "oneshot_rss_kib", "", 0, 1)
                row("getgrnam_r big group, +1 KiB/ERANGE", "getgrnam_grow", large ? "r" : "", 1.0)
                printf "(big group: %d members, %s calls to reach %s; files and extrausers hold it alone, libnss-cache not measured)\n",
                        N < 100000 ? N : 100000, val["roles", "grow_calls"] == "" ? "-" : val["roles", "grow_calls"],
                        fmtbytes(val["roles", "grow_bytes"])

                # Roles admin costs (issue 12 targets at 100k and 1M).
                printf "\n%-50s %14s %16s %s\n", "roles admin (median; disk: write_bytes)", "roles", "target", "verdict"
                imp = val["roles", "load_seconds"]
                arow("import (" txt["roles", "load_how"] ")", imp == "" ? "-" : imp " s", imp, huge ? 60 : "", "60 s")
                cn = val["roles", "change_ns"]; cb = val["roles", "change_bytes"]
                arow("one change (rolesctl group add), whole process", fmt(cn), cn, big ? 50e6 : huge ? 300e6 : "", big ? "50 ms" : "300 ms")
                arow("  written to disk", fmtbytes(cb), cb, big ? 1048576 : "", "1 MiB")
                bn = val["roles", "batch100_ns"]; bb = val["roles", "batch100_bytes"]
                arow("batch of 100 changes (rolesctl batch)", fmt(bn), bn, "", "")
                arow("  written to disk", fmtbytes(bb), bb, "", "")
                ix = val["roles", "index_ns"]
                arow("compile the index (rolesctl index rebuild)", ix == "" ? "n/a" : fmt(ix), ix, big ? 1e9 : "", "1 s")
                arow("  written to disk", fmtbytes(val["roles", "index_bytes"]), "", "", "")
                arow("roles.db after import", fmtbytes(val["roles", "loaded_roles_db_bytes"]), "", "", "")
                arow("roles.nss after import", fmtbytes(val["roles", "loaded_roles_nss_bytes"]), "", "", "")
                arow("secrets.db after import", fmtbytes(val["roles", "loaded_secrets_db_bytes"]), "", "", "")
                if (("roles", "load_seconds") in val)
                        printf "%d|%s|%s|%s|%s|%s|%s|%s|%s|%s\n", N, imp == "" ? "-" : imp " s", fmt(cn), fmtbytes(cb), fmt(bn),
                                fmtbytes(bb), ix == "" ? "n/a" : fmt(ix), fmtbytes(val["roles", "loaded_roles_db_bytes"]),
                                fmtbytes(val["roles", "loaded_roles_nss_bytes"]), fmtbytes(val["roles", "loaded_secrets_db_bytes"]) >> summary

                # The first lookup of a fresh process, taken apart (roles).
                fe = val["roles", "spawn_getent_version"]; os = val["roles", "oneshot_getent"]
                if (fe != "" && os != "") {
                        printf "\none-shot breakdown (roles, medians over fresh processes):\n"
                        printf "  %-62s %10s\n", "fork + exec + exit of getent --version (no NSS)", fmt(fe)
                        printf "  %-62s %10s\n", "one-shot getent passwd NAME, roles", fmt(os)
                        printf "  %-62s %10s\n", "one-shot getent passwd NAME, files", fmt(val["files", "oneshot_getent"])
                        printf "  %-62s %10s\n", "  roles over fork + exec", fmt(os - fe)
                        printf "  %-62s %10s\n", "first getpwnam_r through glibc (nsswitch, files, roles, lookup)", fmt(val["roles", "first_glibc_first_call"])
                        printf "  %-62s %10s\n", "first getpwnam_r of root through glibc (files alone)", fmt(val["roles", "first_local_first_call"])
                        printf "  %-62s %10s\n", "second getpwnam_r through glibc", fmt(val["roles", "first_glibc_second_call"])
                        printf "  %-62s %10s\n", "  dlopen libnss_roles.so.2 (and what it links)", fmt(val["roles", "first_module_dlopen"])
                        printf "  %-62s %10s\n", "  first _nss_roles_getpwnam_r (config, open, lookup)", fmt(val["roles", "first_module_first_call"])
                        printf "  %-62s %10s\n", "  second _nss_roles_getpwnam_r", fmt(val["roles", "first_module_second_call"])
                        ed = val["roles", "first_empty_dlopen"]; ec = val["roles", "first_empty_first_call"]
                        if (ed != "") {
                                printf "  %-62s %10s\n", "  a module that does nothing (bench/nss_empty.c): dlopen", fmt(ed)
                                printf "  %-62s %10s\n", "    its first getpwnam_r", fmt(ec)
                                printf "  %-62s %10s\n", "  roles over that floor (dlopen + first call)",
                                        fmt(val["roles", "first_module_dlopen"] + val["roles", "first_module_first_call"] - ed - ec)
                        }
                        fd = val["roles", "first_floor_dlopen"]; fc = val["roles", "first_floor_first_call"]
                        if (fd != "") {
                                printf "  %-62s %10s\n", "  a module that reads roles.conf, maps roles.nss, no more: dlopen", fmt(fd)
                                printf "  %-62s %10s\n", "    its first getpwnam_r", fmt(fc)
                                printf "  %-62s %10s\n", "    together: the least an index module costs here, before glibc", fmt(fd + fc)
                        }
                        printf "  %-62s %10s\n", "  with libsqlite3 alone: dlopen libsqlite3", fmt(val["roles", "first_sqlite_dlopen"])
                        printf "  %-62s %10s\n", "    sqlite3_open_v2 (immutable)", fmt(val["roles", "first_sqlite_open"])
                        printf "  %-62s %10s\n", "    PRAGMA user_version", fmt(val["roles", "first_sqlite_user_version"])
                        printf "  %-62s %10s\n", "    prepare the user lookup (reads and parses the schema)", fmt(val["roles", "first_sqlite_prepare_schema"])
                        printf "  %-62s %10s\n", "    first step (the lookup itself)", fmt(val["roles", "first_sqlite_first_step"])
                        printf "  %-62s %10s\n", "  files, first getpwnam_r through glibc", fmt(val["files", "first_glibc_first_call"])
                }
                for (s in present) if (present[s] && val[s, "wrong"] > 0) { printf "WRONG ANSWERS from %s: %d\n", s, val[s, "wrong"]; bad = 1 }
                for (s in present) if ((s, "failed") in val) { printf "%s: bench_nss failed (exit %s)\n", s, val[s, "failed"]; bad = 1 }
                if (val["roles", "admin_wrong"] > 0) { printf "roles: %d admin change(s) failed or not visible through glibc\n", val["roles", "admin_wrong"]; bad = 1 }
                printf "targets: %d OK, %d MISS\n", pass, miss
                exit bad
        }'
}

status=0
IFS=, read -r -a size_list <<< "$sizes"
echo "NSS benchmark: sizes $sizes; sources ${sources}; $(nproc) CPUs; glibc $(ldd --version | head -1 | awk '{ print $NF }')"
rev=$(git -C "$here" describe --always --dirty 2> /dev/null || echo unknown)
echo "roles $rev, built in $build (module and rolesctl copied at start)"
for n in "${size_list[@]}"; do
        dir=$work/$n
        mkdir -p "$dir"
        echo "N = $n (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        echo -n "  "
        "$bench" gen --users "$n" --out "$dir/data"
        unshare -m --propagation private -- "$0" --inner "$dir" --build "$build" --sources "$sources" \
                --budget "$budget" --rounds "$rounds" "${snapshot[@]}" $quick || status=$?
        print_tables "$n" "$dir" || status=1
done
if [ -s "$work/admin.summary" ]; then
        echo
        echo "roles admin costs by size (write_bytes: /proc/PID/io of the rolesctl process, read before it is reaped):"
        printf '%-9s %9s %10s %10s %10s %10s %10s %10s %10s %10s\n' users import "one chg" written "batch 100" written \
                index roles.db roles.nss secrets.db
        awk -F'|' '{ printf "%-9s %9s %10s %10s %10s %10s %10s %10s %10s %10s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' \
                "$work/admin.summary"
fi
exit $status
