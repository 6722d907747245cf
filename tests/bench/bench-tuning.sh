#!/usr/bin/env bash
# bench-tuning.sh: the tables of docs/tuning.md.  Three shapes of mpmd,
# each with MaxRequestWorkers 50, beside nginx and Apache, under three
# loads; plus the memory of a handler thread.  Run by `make bench-tuning`
# (not by `make bench`: ~15 min; not part of `make check`).
#
#   MPMD=src/mpmd BENCH_DIR=../shared/bench [ROUNDS=3] [DUR=6] \
#     [LOADS="static upstream idle threads"] [APACHE="event worker prefork"] \
#     [QUICK=0] [IDLE_N=10000] [IDLE_LIMIT=20] [MODEL_DUR=10] [KEEP=0] \
#     tests/bench/bench-tuning.sh
#
# Servers (MaxRequestWorkers 50 for every mpmd and Apache shape, so the
# shape is the only difference; access logs off, keep-alive 120 s):
#   mpmd-prefork-50x1  MPM worker, 50 children x ThreadsPerChild 1: one
#                      process per connection, as Apache prefork
#   mpmd-worker-2x25   MPM worker, 2 children x 25 threads: a thread per
#                      connection until it closes
#   mpmd-event-2x25    MPM event, 2 x 25: idle keep-alive connections and
#                      proxied GETs wait in the listener without a thread
#   nginx              worker_processes 2 (an event loop per process)
#   apache-event, apache-worker, apache-prefork
#                      the peer kit's settings (2 x 25; prefork 50 processes)
# Loads (each prints one markdown table, medians of ROUNDS interleaved rounds
# whose order rotates; the servers are started afresh for each load):
#   static    GET /index.html (100 B), wrk -t1 -c32 and -c64, DUR s: fewer
#             and more keep-alive clients than the 50 threads
#   upstream  a reverse proxy to upstream100 -d 100 (every answer after
#             100 ms), 256 clients, wrk -c256 -dMODEL_DUR (bench-lib.sh's
#             model_row, the queueing model's prediction beside)
#   idle      the kit's idle-conns.py: IDLE_N idle keep-alive connections,
#             then 200 fresh requests one after another (the light probe
#             load) while they are held; memory of all the server's
#             processes (RSS and PSS sums) before (after wrk -c50 -d1s, so
#             every thread has run) and while holding; the servers are
#             started afresh for every round
#   threads   mpmd MPM worker, 1 child x ThreadsPerChild 25 and 100, idle
#             after start and after a connection per thread (wrk -cT, 2 s):
#             memory per handler thread
# Run time with the defaults on the 2-core test machine: ~15 min (a round
# takes 5: static 2, upstream 1.3, idle 1.6, threads 0.1).  QUICK=1 (a
# smoke run, ~2 min): ROUNDS=1 DUR=2 MODEL_DUR=3 IDLE_N=1000 IDLE_LIMIT=12
# APACHE=event.
#
# Every server runs in the foreground from this script and is stopped by
# its pid; ports are free ones of 127.0.0.1 below the ephemeral range;
# ulimit -n is raised to the hard limit (10,000 idle connections need
# ~10,100 descriptors in the server and as many in the client).
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
if [ "${QUICK:-0}" = 1 ]; then
    ROUNDS=${ROUNDS:-1} DUR=${DUR:-2} MODEL_DUR=${MODEL_DUR:-3} WARMUP=${WARMUP:-0}
    IDLE_N=${IDLE_N:-1000} IDLE_LIMIT=${IDLE_LIMIT:-12} APACHE=${APACHE:-event}
fi
LOADS=${LOADS:-"static upstream idle threads"}
APACHE=${APACHE:-"event worker prefork"}
IDLE_N=${IDLE_N:-10000}
IDLE_LIMIT=${IDLE_LIMIT:-20}
IDLE_FRESH=${IDLE_FRESH:-200}
THREADS=${THREADS:-"25 100"}
# The thread-bound shapes reach MaxRequestWorkers by design.
LOG_EXPECTED=${LOG_EXPECTED:-"AH10159|reached MaxRequestWorkers|AH00287"}
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd)}
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-tuning

SHAPES="prefork-50x1:worker:50:1 worker-2x25:worker:2:25 event-2x25:event:2:25"
peers="nginx"
for m in $APACHE; do peers="$peers apache-$m"; done
www=$work/www
mkdir -p "$www"
printf '%s\n' '<!DOCTYPE html><html><head><title>bench</title></head><body><p>Hello from the benchmark.</p></body></html>' >"$www/index.html"
chmod -R a+rX "$www"

commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$here" diff --quiet HEAD -- "$here/../../src" "$here/../../include" 2>/dev/null || commit="$commit + uncommitted changes to src/"
echo "# bench-tuning.sh $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "ulimit -n $(ulimit -n); ROUNDS=$ROUNDS DUR=$DUR MODEL_DUR=$MODEL_DUR IDLE_N=$IDLE_N; mpmd $("$work/mpmd" -V 2>/dev/null | head -1)"

# ---- the static servers (loads static and idle) ------------------------------
# Starts the three mpmd shapes and the peers serving $www; fills targets[]
# (LABEL=URL, the order of the tables) and tpid[LABEL].
declare -A tpid tkids
static_servers() {  # LOAD
    local spec label mpm kids thr p d peer ports
    targets=()
    ports=$(free_ports $(($(wc -w <<<"$SHAPES") + $(wc -w <<<"$peers"))))
    for spec in $SHAPES; do
        IFS=: read -r label mpm kids thr <<<"$spec"
        p=${ports%% *}; ports=${ports#* }
        d=$work/$1-$label; mkdir -p "$d"
        mpmd_conf "$p" "$d" "$mpm" "$kids" "$thr" "$www" >"$d/mpmd.conf"
        start_mpmd "$1-$label" "$d/mpmd.conf" "$p" /index.html || continue
        wait_kids "$started" "$kids"
        targets+=("mpmd-$label=http://127.0.0.1:$p/index.html"); tpid[mpmd-$label]=$started
        tkids[mpmd-$label]=$(kids_of "$started")
    done
    for peer in $peers; do
        p=${ports%% *}; ports=${ports#* }
        d=$work/$1-$peer; mkdir -p "$d/temp"
        case $peer in
            nginx)
                nginx_conf "$p" "$d" "  server { listen 127.0.0.1:$p backlog=4096; root $www; }" >"$d/nginx.conf"
                start_nginx nginx "$d" "$p" /index.html || continue;;
            apache-*)
                apache_conf "$p" "$d" "EnableSendfile On
DocumentRoot $www
DirectoryIndex index.html
<Directory $www>
  Require all granted
</Directory>" "${peer#apache-}" >"$d/apache2.conf"
                start_apache "$peer" "$d" "$p" /index.html || continue;;
        esac
        targets+=("$peer=http://127.0.0.1:$p/index.html"); tpid[$peer]=$started
    done
}
labels() { local t; for t in "${targets[@]}"; do printf '%s ' "${t%%=*}"; done; }
logs_report() {  # LOAD
    local t label
    for t in "${targets[@]}"; do
        label=${t%%=*}
        case $label in
            mpmd-*) mpmd_report "$label" "$work/$1-${label#mpmd-}" "${tpid[$label]}" "${tkids[$label]}";;
            *) peer_log_report "$label" "$work/$1-$label/error.log";;
        esac
    done
}

# ---- load: static ------------------------------------------------------------
load_static() {
    echo
    echo "## static: GET /index.html (100 B, keep-alive), wrk -t1 -c32 and -c64, ${DUR}s"
    static_servers static
    [ ${#targets[@]} -gt 0 ] && rounds static "c32:32 c64:64" "${targets[@]}"
    table static "$(labels)" mpmd-event-2x25
    logs_report static
    stop_all
}

# ---- load: upstream ----------------------------------------------------------
load_upstream() {
    model_row "$SHAPES" "$peers"
}

# ---- load: idle --------------------------------------------------------------
load_idle() {
    local r i n t label url out=$work/idle.txt
    echo
    echo "## idle: $IDLE_N idle keep-alive connections (idle-conns.py, --time-limit $IDLE_LIMIT), $IDLE_FRESH fresh requests while held"
    [ -f "$BENCH_DIR/idle-conns.py" ] || { echo "idle: skipped: no $BENCH_DIR/idle-conns.py (set BENCH_DIR)"; return 0; }
    : >"$out"
    # Fresh servers every round: a server that held 10,000 connections keeps
    # (part of) that memory after they close, and the next round's "before"
    # would include it.
    for r in $(seq "$ROUNDS"); do
        static_servers "idle-r$r"
        n=${#targets[@]}
        for i in $(seq 0 $((n - 1))); do
            t=${targets[$(((i + r - 1) % n))]}
            label=${t%%=*}; url=${t#*=}
            url=${url#http://}
            # Every thread or process has served once: "before" is a warm server.
            wrk -t1 -c50 -d1s "${t#*=}" >/dev/null 2>&1
            drain "${t#*=}" >/dev/null
            timeout $((IDLE_LIMIT + 20)) python3 "$BENCH_DIR/idle-conns.py" "${url%%/*}" -n "$IDLE_N" \
                --pid "${tpid[$label]}" --label "$label" --time-limit "$IDLE_LIMIT" --hold 5 \
                --fresh "$IDLE_FRESH" >>"$out" 2>>"$work/idle.err" ||
                grep -q "label=$label .*opened" "$out" || echo "idle: $label round $r: $(tail -1 "$work/idle.err")"
            drain "${t#*=}" >/dev/null
            sleep "$PAUSE"
        done
        logs_report "idle-r$r"
        stop_all
    done
    python3 - "$out" "$IDLE_N" "$(labels)" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if "label" in kv:
        rows[kv["label"]].append(kv)
N = int(sys.argv[2])
def med(l, k, f=float):
    return statistics.median(f(x[k]) for x in l)
print(f"| server | idle connections held (of {N:,}) | processes | RSS before, kB | RSS holding, kB | PSS before, kB "
      "| PSS holding, kB | per idle connection (PSS growth) median [min-max] | fresh requests answered (of tried) | fresh p99 ms |")
print("|---|---|---|---|---|---|---|---|---|---|")
for label in sys.argv[3].split():
    l = rows.get(label)
    if not l:
        print(f"| {label} | - | - | - | - | - | - | - | - | - |")
        continue
    held = med(l, "opened", int)
    per = "-"
    if held >= N / 2:
        g = [(int(x["pss_holding_kb"]) - int(x["pss_before_kb"])) * 1024 / max(1, int(x["opened"])) for x in l]
        per = f"{statistics.median(g):,.0f} B [{min(g):,.0f}-{max(g):,.0f}]"
    ok = statistics.median(int(x["fresh_ok"].split("/")[0]) for x in l)
    tried = statistics.median(int(x["fresh_attempted"]) for x in l)
    p99 = [float(x["fresh_p99_ms"]) for x in l if x["fresh_p99_ms"] != "nan"]
    p99 = f"{statistics.median(p99):.2f}" if p99 else "-"
    print(f"| {label} | {held:,.0f} | {med(l, 'procs_holding', int):.0f} | {med(l, 'rss_before_kb'):,.0f} "
          f"| {med(l, 'rss_holding_kb'):,.0f} | {med(l, 'pss_before_kb'):,.0f} | {med(l, 'pss_holding_kb'):,.0f} "
          f"| {per} | {ok:.0f} of {tried:.0f} | {p99} |")
n = {len(v) for v in rows.values()}
print(f"({'/'.join(map(str, sorted(n)))} round(s) per cell, medians.  RSS counts a page shared by several processes "
      "once per process, PSS shares it out.  A thread-per-connection server holds as many connections as it has "
      "threads or processes; the others wait in the kernel's listen queue unanswered, and so do the fresh "
      "requests (each given 2 s).)")
PY
}

# ---- load: threads -----------------------------------------------------------
mem_of() {  # PID: "RSS-kB PSS-kB PROCESSES" of PID and its children
    local p rss=0 pss=0 n=0 a b
    for p in $1 $(pgrep -P "$1"); do
        a=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
        b=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
        rss=$((rss + ${a:-0})); pss=$((pss + ${b:-0})); n=$((n + 1))
    done
    echo "$rss $pss $n"
}
load_threads() {
    local r t p d m
    echo
    echo "## threads: mpmd MPM worker, 1 child x ThreadsPerChild $THREADS; idle after start, then after wrk -c<threads> -d2s"
    for r in $(seq "$ROUNDS"); do
        for t in $THREADS; do
            p=$(free_ports 1); d=$work/threads-$t; mkdir -p "$d"
            mpmd_conf "$p" "$d" worker 1 "$t" "$www" >"$d/mpmd.conf"
            start_mpmd "threads-$t" "$d/mpmd.conf" "$p" /index.html || continue
            sleep 1
            m=$(mem_of "$started")
            wrk -t1 -c"$t" -d2s "http://127.0.0.1:$p/index.html" >/dev/null 2>&1
            sleep 1
            echo "threads=$t round=$r idle=${m// /,} loaded=$(mem_of "$started" | tr ' ' ,)" >>"$work/threads.txt"
            stop_all
        done
    done
    python3 - "$work/threads.txt" "$THREADS" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split())
    rows[int(kv["threads"])].append({k: list(map(int, kv[k].split(","))) for k in ("idle", "loaded")})
def med(t, k, i):
    return statistics.median(x[k][i] for x in rows[t])
ts = [int(t) for t in sys.argv[2].split() if int(t) in rows]
print("| ThreadsPerChild | RSS idle, kB | PSS idle, kB | RSS after a connection per thread, kB | PSS after, kB |")
print("|---|---|---|---|---|")
for t in ts:
    print(f"| {t} | {med(t, 'idle', 0):,.0f} | {med(t, 'idle', 1):,.0f} | {med(t, 'loaded', 0):,.0f} | {med(t, 'loaded', 1):,.0f} |")
if len(ts) >= 2:
    a, b = ts[0], ts[-1]
    per = [(med(b, k, 1) - med(a, k, 1)) / (b - a) for k in ("idle", "loaded")]
    print(f"Per handler thread (PSS, ({b} - {a}) threads): {per[0]:.0f} kB idle, {per[1]:.0f} kB after serving "
          f"({len(rows[a])} round(s), medians; supervisor + 1 child)")
PY
}

for load in $LOADS; do
    case $load in
        static|upstream|idle|threads) "load_$load";;
        *) echo "bench-tuning.sh: unknown load '$load' (static upstream idle threads)" >&2;;
    esac
done
