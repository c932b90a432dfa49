#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The NSS benchmark: one generated data set per size, served to the real glibc by nss_files
# (the lines appended to the namespace's /etc/passwd and /etc/group), by libnss_roles.so.2, and by
# libnss-extrausers and libnss-cache when they are installed; each chained after files as an
# administrator would write it ("passwd: files SOURCE"). bench_nss measures one source per run;
# this script prints one table per size with the roles/files ratio of every operation.
#
#   bench/bench_nss.sh [--build DIR] [--sizes 1000,10000,100000] [--sources files,roles,extrausers,cache]
#                      [--rounds N] [--budget MS] [--quick] [--keep]
#
# Needs root and mount namespaces: everything happens in `unshare -m` with tmpfs overlays on /etc
# and /var/lib (see shared/TESTING-NOTES.md); the host's /etc, /var/lib and /home are never
# touched. Without root it says so and exits 77 (meson: skipped). A wrong answer from any source
# exits 1; a missed target is only reported (MISS).
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
        echo "  roles: loaded with $how in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s;" \
             "roles.db $((size / 1024)) KiB"
}

inner_main() {
        data=$inner/data
        out=$inner
        local scratch
        scratch=$(mktemp -d /tmp/roles-bench-nss-ns.XXXXXX)
        mount -t tmpfs tmpfs "$scratch"
        for d in etc var/lib; do
                mkdir -p "$scratch/$d/u" "$scratch/$d/w"
                mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d/u,workdir=$scratch/$d/w" "/$d"
        done
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
                                cat "$data/passwd" >> /etc/passwd
                                cat "$data/group" >> /etc/group
                                write_nsswitch ""
                                run_bench files "$round"
                                cp "$scratch/passwd.orig" /etc/passwd
                                cp "$scratch/group.orig" /etc/group
                                ;;
                        roles)
                                write_nsswitch roles
                                LD_LIBRARY_PATH=$module_dir run_bench roles "$round" --db /var/lib/roles/roles.db
                                ;;
                        *)
                                write_nsswitch "$src"
                                run_bench "$src" "$round"
                                ;;
                        esac
                done
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
for f in "$bench" "$rolesctl" "$module_dir/libnss_roles.so.2"; do
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
snapshot=(--rolesctl "$work/bin/rolesctl" --module-dir "$work/bin")

# Times in ns, to a readable unit.
print_tables() {        # N DIR
        awk -v N="$1" -v dir="$2" -v srcs="$sources" -v rounds="$rounds" '
        function fmt(ns) {
                if (ns == "") return "-"
                if (ns < 1000) return sprintf("%.0f ns", ns)
                if (ns < 1e6) return sprintf("%.1f us", ns / 1e3)
                if (ns < 1e9) return sprintf("%.2f ms", ns / 1e6)
                return sprintf("%.2f s", ns / 1e9)
        }
        function fmtkib(k) { return k == "" ? "-" : sprintf("%.1f MiB", k / 1024) }
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
        function load(src,    f, line, p, r, k, acc, keys, nk) {
                nk = 0
                for (r = 1; r <= rounds; r++) {
                        f = dir "/" src "." r ".out"
                        while ((getline line < f) > 0) {
                                split(line, p, " ")
                                if (p[1] != "R" && p[1] != "V") continue
                                if (p[1] == "V" && (p[2] == "wrong" || p[2] == "failed")) {
                                        val[src, p[2]] += p[3]; continue
                                }
                                if (!(p[2] in acc)) keys[++nk] = p[2]
                                acc[p[2]] = acc[p[2]] " " p[3]
                        }
                        close(f)
                }
                for (k = 1; k <= nk; k++) val[src, keys[k]] = median(acc[keys[k]])
                f = dir "/" src ".load"
                while ((getline line < f) > 0) {
                        split(line, p, " ")
                        if (p[1] == "V") val[src, p[2]] = p[3]
                        else if (p[1] == "T") { sub(/^T [^ ]+ /, "", line); txt[src, p[2]] = line }
                }
                close(f)
                present[src] = ((src, "rss_peak_kib") in val)
        }
        # kind: "r" = roles/files ratio at most t; "rss" = roles at most files + t KiB; "" = info
        function row(label, op, kind, t, isrss,    f, r, rt, tgt, verdict, i, s, extra) {
                f = val["files", op]; r = val["roles", op]
                if (isrss) { fv = fmtkib(f); rv = fmtkib(r); rt = (f == "" || r == "") ? "-" : sprintf("%+.1f MiB", (r - f) / 1024) }
                else { fv = fmt(f); rv = fmt(r); rt = ratio(r, f) }
                tgt = "-"; verdict = "info"
                if (kind != "" && f != "" && r != "") {
                        if (kind == "r") { tgt = (t < 0.1) ? sprintf("<= 1/%.0f", 1 / t) : sprintf("<= %.2fx", t); ok = (r <= t * f) }
                        else if (kind == "rss") { tgt = sprintf("<= files+%d MiB", t / 1024); ok = (r <= f + t) }
                        verdict = ok ? "PASS" : "MISS"
                        if (ok) pass++; else miss++
                }
                extra = ""
                for (i = 1; i <= nx; i++) {
                        s = xs[i]
                        if (!present[s]) continue
                        if (isrss) extra = extra sprintf("  %-22s", fmtkib(val[s, op]) " (" ((val[s, op] == "" || f == "") ? "-" : sprintf("%+.1f", (val[s, op] - f) / 1024)) ")")
                        else extra = extra sprintf("  %-22s", fmt(val[s, op]) " (" ratio(val[s, op], f) ")")
                }
                printf "%-34s %11s %11s %11s %15s %-7s%s\n", label, fv, rv, rt, tgt, verdict, extra
        }
        BEGIN {
                n = split(srcs, all, ",")
                nx = 0
                for (i = 1; i <= n; i++) if (all[i] != "files" && all[i] != "roles") xs[++nx] = all[i]
                load("files"); load("roles")
                for (i = 1; i <= nx; i++) load(xs[i])
                big = (N >= 100000)     # the targets are stated at N = 100k
                printf "\n=== N = %d users, %d groups (+%d private), heavy user in ~1000 groups; median of %d round(s) ===\n", N, N / 10, N, rounds
                if (("roles", "load_seconds") in val)
                        printf "roles loaded with %s in %s s; roles.db %.1f MiB\n", txt["roles", "load_how"], val["roles", "load_seconds"], val["roles", "db_bytes"] / 1048576
                hdr = ""
                for (i = 1; i <= nx; i++) if (present[xs[i]]) hdr = hdr sprintf("  %-22s", xs[i] " (/files)")
                for (i = 1; i <= nx; i++) if (!present[xs[i]]) printf "(%s: not measured, module not installed)\n", xs[i]
                printf "%-34s %11s %11s %11s %15s %-7s%s\n", "op (median)", "files", "roles", "roles/files", "target" (big ? "" : "@100k"), "verdict", hdr
                if (big) {
                        row("getpwnam_r", "getpwnam_r", "r", 1 / 350)
                        row("getpwuid_r", "getpwuid_r", "r", 1 / 350)
                } else {
                        row("getpwnam_r", "getpwnam_r"); row("getpwuid_r", "getpwuid_r")
                }
                row("getgrnam_r", "getgrnam_r"); row("getgrgid_r", "getgrgid_r")
                if (big) row("getgrouplist, 1000-group user", "getgrouplist_heavy", "r", 1 / 250)
                else row("getgrouplist, 1000-group user", "getgrouplist_heavy")
                row("getgrouplist, ordinary user", "getgrouplist_user")
                row("getpwnam_r, unknown name", "getpwnam_r_miss")
                if (big) {
                        row("getpwent, per entry", "getpwent_per_entry", "r", 1.75)
                        row("getgrent, per entry", "getgrent_per_entry", "r", 2.2)
                        row("one-shot getent passwd NAME", "oneshot_getent", "r", 0.3)
                        row("peak RSS (bench process)", "rss_peak_kib", "rss", 4096, 1)
                } else {
                        row("getpwent, per entry", "getpwent_per_entry"); row("getgrent, per entry", "getgrent_per_entry")
                        row("one-shot getent passwd NAME", "oneshot_getent")
                        row("peak RSS (bench process)", "rss_peak_kib", "", 0, 1)
                }
                row("  RSS before any lookup", "rss_before_nss_kib", "", 0, 1)
                row("  one-shot getent: its peak RSS", "oneshot_rss_kib", "", 0, 1)

                # The first lookup of a fresh process, taken apart (roles).
                fe = val["roles", "spawn_getent_version"]; os = val["roles", "oneshot_getent"]
                if (fe != "" && os != "") {
                        printf "\none-shot breakdown (roles, medians over fresh processes):\n"
                        printf "  %-62s %10s\n", "fork + exec + exit of getent --version (no NSS)", fmt(fe)
                        printf "  %-62s %10s\n", "one-shot getent passwd NAME, roles", fmt(os)
                        printf "  %-62s %10s\n", "one-shot getent passwd NAME, files", fmt(val["files", "oneshot_getent"])
                        printf "  %-62s %10s", "  roles over fork + exec", fmt(os - fe)
                        if (N == 1000) {
                                ok = (os - fe <= 1e6); if (ok) pass++; else miss++
                                printf "   target <= 1 ms: %s", ok ? "PASS" : "MISS"
                        }
                        printf "\n"
                        printf "  %-62s %10s\n", "first getpwnam_r through glibc (nsswitch, files, roles, lookup)", fmt(val["roles", "first_glibc_first_call"])
                        printf "  %-62s %10s\n", "second getpwnam_r through glibc", fmt(val["roles", "first_glibc_second_call"])
                        printf "  %-62s %10s\n", "  dlopen libnss_roles.so.2 (and libsqlite3)", fmt(val["roles", "first_module_dlopen"])
                        printf "  %-62s %10s\n", "  first _nss_roles_getpwnam_r (config, open, schema, lookup)", fmt(val["roles", "first_module_first_call"])
                        printf "  %-62s %10s\n", "  second _nss_roles_getpwnam_r", fmt(val["roles", "first_module_second_call"])
                        printf "  %-62s %10s\n", "  with libsqlite3 alone: dlopen libsqlite3", fmt(val["roles", "first_sqlite_dlopen"])
                        printf "  %-62s %10s\n", "    sqlite3_open_v2 (immutable)", fmt(val["roles", "first_sqlite_open"])
                        printf "  %-62s %10s\n", "    PRAGMA user_version", fmt(val["roles", "first_sqlite_user_version"])
                        printf "  %-62s %10s\n", "    prepare the user lookup (reads and parses the schema)", fmt(val["roles", "first_sqlite_prepare_schema"])
                        printf "  %-62s %10s\n", "    first step (the lookup itself)", fmt(val["roles", "first_sqlite_first_step"])
                        printf "  %-62s %10s\n", "  files, first getpwnam_r through glibc", fmt(val["files", "first_glibc_first_call"])
                }
                for (s in present) if (present[s] && val[s, "wrong"] > 0) { printf "WRONG ANSWERS from %s: %d\n", s, val[s, "wrong"]; bad = 1 }
                for (s in present) if ((s, "failed") in val) { printf "%s: bench_nss failed (exit %s)\n", s, val[s, "failed"]; bad = 1 }
                printf "targets: %d PASS, %d MISS\n", pass, miss
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
exit $status
