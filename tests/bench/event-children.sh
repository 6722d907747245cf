#!/usr/bin/env bash
# event-children.sh: MPM event's static p99 against the number of
# children (docs/tuning.md, "Fast static files").  Starts mpmd three times
# from a temporary directory on free ports of 127.0.0.1: MPM event with
# 2 children x 25 threads, with 1 child x 25, and MPM worker 2 x 25.
# ROUNDS interleaved rounds of `wrk -t1 -c32 -d${DUR}s --latency` on a
# 100-byte file, each shape unpinned and then pinned with taskset (the
# server's threads on core 0, wrk on core 1).  Prints a line per run, the
# median table, and for one extra unpinned run per shape how long each
# busy thread ran and waited for a CPU (/proc/PID/task/TID/schedstat).
# Stops everything it started, by pid.  Not part of make bench; by hand:
#   MPMD=src/mpmd tests/bench/event-children.sh
set -u
export LC_ALL=C
: "${MPMD:?set MPMD to the mpmd binary}"
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-6}
SHAPES=("event 2 25" "event 1 25" "worker 2 25")
command -v wrk >/dev/null || { echo "event-children: wrk missing" >&2; exit 2; }
command -v taskset >/dev/null || { echo "event-children: taskset missing (util-linux)" >&2; exit 2; }
work=$(mktemp -d /tmp/mpmd-event-children.XXXXXX)
declare -A port spid
cleanup() {
    local p
    for p in "${spid[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${spid[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {  # NAME MPM CHILDREN THREADS
    port[$1]=$(free_port)
    cat >"$work/$1.conf" <<EOF
Listen 127.0.0.1:${port[$1]}
DocumentRoot $work/www
MPM $2
StartServers $3
ServerLimit $3
ThreadsPerChild $4
MaxRequestWorkers $(($3 * $4))
MinSpareThreads 1
MaxSpareThreads 1000
KeepAliveTimeout 120
MaxKeepAliveRequests 0
ErrorLog $work/$1.err
PidFile $work/$1.pid
EOF
    "$MPMD" -f "$work/$1.conf" >"$work/$1.out" 2>&1 &
    spid[$1]=$!
}

server_pids() { echo "${spid[$1]}"; pgrep -P "${spid[$1]}"; }

pin() {  # NAME CPUS: every thread of the server
    local p
    for p in $(server_pids "$1"); do taskset -a -p -c "$2" "$p" >/dev/null; done
}

measure() {  # NAME PINNED(yes|no): prints "rps p99_ms"
    local out url=http://127.0.0.1:${port[$1]}/small.txt
    if [ "$2" = yes ]; then
        pin "$1" 0
        out=$(taskset -c 1 wrk -t1 -c32 -d"${DUR}s" --latency "$url")
        pin "$1" 0-1
    else
        out=$(wrk -t1 -c32 -d"${DUR}s" --latency "$url")
    fi
    awk '/Requests\/sec/ { rps = $2 }
         $1 == "99%" { v = $2; if (v ~ /us$/) v = v / 1000; else if (v ~ /ms$/) v = v + 0;
                       else if (v ~ /s$/) v = v * 1000; p99 = v }
         END { printf "%.0f %.2f\n", rps, p99 }' <<<"$out"
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
for s in "${SHAPES[@]}"; do
    read -r mpm kids threads <<<"$s"
    name=$mpm-${kids}x$threads
    names+=("$name")
    start "$name" "$mpm" "$kids" "$threads"
done
sleep 2
for name in "${names[@]}"; do
    kill -0 "${spid[$name]}" 2>/dev/null || { echo "event-children: $name did not start:"; cat "$work/$name.out"; exit 1; }
done

results=$work/results
: >"$results"
for round in $(seq "$ROUNDS"); do
    for name in "${names[@]}"; do
        for pinned in no yes; do
            read -r rps p99 <<<"$(measure "$name" "$pinned")"
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
    read -r rps p99 <<<"$(measure "$name" no)"
    schedstat "$name" >"$work/after"
    echo "$name: $rps rps, p99 $p99 ms"
    join "$work/before" "$work/after" | awk '{
        run = ($5 - $2) / 1e6; wait = ($6 - $3) / 1e6
        if (run > 100) printf "  thread %s: ran %.0f ms, waited for a CPU %.0f ms\n", $1, run, wait }'
done
