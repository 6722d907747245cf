#!/usr/bin/env bash
# event-children.sh: MPM event's static p99 against the number of
# children (docs/tuning.md, "Fast static files").  Starts mpmd three times
# from a temporary directory on free ports of 127.0.0.1: MPM event with
# 2 children x 25 threads, with 1 child x 25, and MPM worker 2 x 25.
# ROUNDS interleaved rounds of `wrk -t1 -c32 -d${DUR}s` (bench-lib.sh's report.lua) on a
# 100-byte file, each shape unpinned and then pinned with taskset (the
# server's threads on core 0, wrk on core 1).  Prints a line per run, the
# median table, and for one extra unpinned run per shape how long each
# busy thread ran and waited for a CPU (/proc/PID/task/TID/schedstat).
# Stops everything it started, by pid.  Not part of make bench; by hand:
#   MPMD=src/mpmd tests/bench/event-children.sh
# Servers, ports, configs and stopping come from bench-lib.sh.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/bench-lib.sh"
SHAPES=("event 2 25" "event 1 25" "worker 2 25")
command -v taskset >/dev/null || { echo "event-children: taskset missing (util-linux)" >&2; exit 2; }
bench_init event-children
declare -A port spid             # per shape: its port, its supervisor's pid

server_pids() { echo "${spid[$1]}"; kids_of "${spid[$1]}"; }   # NAME

pin() {  # NAME CPUS: every thread of the server
    local p
    for p in $(server_pids "$1"); do taskset -a -p -c "$2" "$p" >/dev/null; done
}

run_wrk() {  # NAME PINNED(yes|no): prints "rps p99_ms"
    local out url=http://127.0.0.1:${port[$1]}/small.txt
    local wrk=(wrk -t1 -c32 -d"${DUR}s" -s "$work/report.lua" "$url")
    if [ "$2" = yes ]; then
        pin "$1" 0
        out=$(taskset -c 1 "${wrk[@]}")
        pin "$1" 0-1
    else
        out=$("${wrk[@]}")
    fi
    awk '/^WRKRES / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                      printf "%.0f %.2f\n", v["requests"] / (v["duration_us"] / 1e6),
                             v["p99_us"] / 1000 }' <<<"$out"
}

schedstat() {  # NAME: "pid/tid run_ns wait_ns slices" for every thread
    local p t
    for p in $(server_pids "$1"); do
        for t in /proc/"$p"/task/*; do echo "$p/${t##*/} $(cat "$t/schedstat" 2>/dev/null)"; done
    done | sort
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

mkdir -p "$work/www"
head -c 75 /dev/zero | base64 -w 0 >"$work/www/small.txt"   # 100 bytes
names=()
read -r -a ports <<<"$(free_ports ${#SHAPES[@]})"
for s in "${SHAPES[@]}"; do
    read -r mpm kids threads <<<"$s"
    name=$mpm-${kids}x$threads
    port[$name]=${ports[${#names[@]}]}
    mkdir -p "$work/$name"
    mpmd_conf "${port[$name]}" "$work/$name" "$mpm" "$kids" "$threads" "$work/www" \
        >"$work/$name/mpmd.conf"
    start_mpmd "$name" "$work/$name/mpmd.conf" "${port[$name]}" /small.txt || exit 1
    spid[$name]=$started
    wait_kids "$started" "$kids"
    names+=("$name")
done

results=$work/results
: >"$results"
for round in $(seq "$ROUNDS"); do
    for name in "${names[@]}"; do
        for pinned in no yes; do
            read -r rps p99 <<<"$(run_wrk "$name" "$pinned")"
            echo "round $round $name pinned=$pinned rps=$rps p99=${p99}ms"
            echo "$name $pinned $rps $p99" >>"$results"
        done
    done
done

echo
echo "| shape | rps | p99 ms | rps, pinned | p99 ms, pinned |"
echo "|---|---|---|---|---|"
for name in "${names[@]}"; do
    row="| $name"
    for pinned in no yes; do
        rps=$(awk -v n="$name" -v p="$pinned" '$1 == n && $2 == p { print $3 }' "$results" | median)
        p99=$(awk -v n="$name" -v p="$pinned" '$1 == n && $2 == p { print $4 }' "$results" | median)
        row="$row | $rps | $p99"
    done
    echo "$row |"
done
echo "(medians of $ROUNDS rounds; wrk -t1 -c32 -d${DUR}s; pinned: server on core 0, wrk on core 1)"

echo
echo "Threads that ran more than 100 ms in one more unpinned run each:"
for name in "${names[@]}"; do
    schedstat "$name" >"$work/before"
    read -r rps p99 <<<"$(run_wrk "$name" no)"
    schedstat "$name" >"$work/after"
    echo "$name: $rps rps, p99 $p99 ms"
    join "$work/before" "$work/after" | awk '{
        run = ($5 - $2) / 1e6; wait = ($6 - $3) / 1e6
        if (run > 100) printf "  thread %s: ran %.0f ms, waited for a CPU %.0f ms\n", $1, run, wait }'
done
