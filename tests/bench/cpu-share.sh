#!/usr/bin/env bash
# cpu-share.sh: where the time goes, per server.  Runs
# `wrk -t1 -c$CONNS` (default 1000: small-c1000; 64: small-keepalive)
# against each LABEL:PORT:PIDS target (PIDS: comma-separated
# processes whose threads are the server), samples /proc for the middle
# MEASURE seconds, and prints one line per target: requests/s, CPU the
# server used (cores), its CPU per request (µs), context switches per
# request, and the CPU wrk itself used (cores).  When wrk is at ~1.0 core
# the case measures the load generator's share of the 2 cores, not the
# server's ceiling.  Called by bench.sh; by hand:
#   tests/bench/cpu-share.sh mpmd:8086:$(pgrep -d, -P $MPMD_PID) nginx:8081:...
set -u
CONNS=${CONNS:-1000}
DUR=${DUR:-8}
MEASURE=${MEASURE:-4}
ulimit -n "$(ulimit -Hn)"

# "cpu_ticks ctx_switches" summed over every thread of the given pids.
sample() {
    local ticks=0 ctx=0 p t st
    for p in "$@"; do
        for t in /proc/"$p"/task/*; do
            read -r -a st < "$t/stat" 2>/dev/null || continue
            ticks=$((ticks + st[13] + st[14]))
            ctx=$((ctx + $(awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' "$t/status" 2>/dev/null)))
        done
    done
    echo "$ticks $ctx"
}

hz=$(getconf CLK_TCK)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for target in "$@"; do
    label=${target%%:*}; rest=${target#*:}; port=${rest%%:*}; pids=${rest#*:}
    IFS=, read -r -a pidv <<<"$pids"
    wrk -t1 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$port/index.html" >"$out" 2>&1 &
    wpid=$!
    sleep $(((DUR - MEASURE) / 2))
    read -r s0 c0 <<<"$(sample "${pidv[@]}")"
    w0=$(awk '{ print $14 + $15 }' /proc/$wpid/stat)
    t0=$(date +%s.%N)
    sleep "$MEASURE"
    read -r s1 c1 <<<"$(sample "${pidv[@]}")"
    w1=$(awk '{ print $14 + $15 }' /proc/$wpid/stat)
    t1=$(date +%s.%N)
    wait "$wpid"
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$out")
    awk -v l="$label" -v rps="${rps:-0}" -v s="$((s1 - s0))" -v c="$((c1 - c0))" \
        -v w="$((w1 - w0))" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN {
        el = t1 - t0; req = rps * el
        if (req <= 0) { printf "%-6s wrk failed\n", l; exit }
        printf "%-6s rps=%.0f server_cpu=%.2f cores cpu_us_per_req=%.1f ctxsw_per_req=%.3f wrk_cpu=%.2f cores\n",
            l, rps, s / hz / el, s / hz * 1e6 / req, c / req, w / hz / el }'
done
