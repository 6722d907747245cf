#!/usr/bin/env bash
# bench.sh: mpmd against nginx (and h2o when installed), side by side, in
# interleaved rounds, with the shared peer kit (../shared/bench).  Run by
# `make bench`; not part of `make check` (timing never decides a test).
#
#   MPMD=src/mpmd BENCH_DIR=../shared/bench [ROUNDS=3] [DUR=6] [IDLE=1] [CPU=1] tests/bench/bench.sh
#
# Prints the peers kit's summary (median [min-max] per server and case), a
# table of mpmd/peer ratios, CPU per request under small-c1000
# (cpu-share.sh), and the idle-connections run (10,000 idle keep-alive
# connections: RSS growth and fresh-request latency).
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd)}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-6}
IDLE=${IDLE:-1}
PORT=${PORT:-8086}
PEERS=$BENCH_DIR/peers
[ -x "$PEERS/peers.sh" ] || { echo "bench.sh: no peer kit at $PEERS (set BENCH_DIR)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench.sh: wrk missing (apt-get install wrk)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "bench.sh: nginx missing (run $PEERS/setup.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/mpmd-bench.XXXXXX)
peers="nginx"
command -v h2o >/dev/null && peers="$peers h2o"
mpmd_pid=""
cleanup() {
    [ -n "$mpmd_pid" ] && kill -TERM "$mpmd_pid" 2>/dev/null && wait "$mpmd_pid" 2>/dev/null
    for p in $peers; do "$PEERS/peers.sh" stop "$p" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT

"$PEERS/mkwww.sh" >/dev/null
cat > "$work/mpmd.conf" <<CONF
# Comparable to the peers: 2 children (nginx: worker_processes 2), sendfile,
# access log off, long keep-alive.
Listen 127.0.0.1:$PORT
DocumentRoot $PEERS/run/www
MPM event
StartServers 2
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
KeepAliveTimeout 120
MaxKeepAliveRequests 0
AccessLog off
ErrorLog $work/error.log
LogLevel warn
CONF
ulimit -n "$(ulimit -Hn)"
"$MPMD" -f "$work/mpmd.conf" &
mpmd_pid=$!
up=0
for _ in $(seq 50); do
    kill -0 "$mpmd_pid" 2>/dev/null || break
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/index.html" && { up=1; break; }
    sleep 0.1
done
[ "$up" = 1 ] || { echo "bench.sh: mpmd did not start on port $PORT (PORT= to pick another)" >&2; exit 1; }
for p in $peers; do "$PEERS/peers.sh" start "$p" >/dev/null || exit 1; done

servers="nginx:8081"
case " $peers " in *" h2o "*) servers="$servers h2o:8085";; esac
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores; ROUNDS=$ROUNDS DUR=$DUR; mpmd $("$MPMD" -V | head -1)"
ROUNDS=$ROUNDS DUR=$DUR SERVERS="$servers" EXTRA="mpmd:$PORT" "$PEERS/run-rounds.sh" > "$work/raw.txt"
"$PEERS/summarize.py" "$work/raw.txt"
python3 - "$work/raw.txt" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if kv.get("status") == "ok":
        rows[(kv["label"], kv["case"])].append(kv)
cases = ["small-keepalive", "small-close", "10k-keepalive", "1m-keepalive", "small-c1000"]
metric = {"1m-keepalive": "mib_s"}
peers = sorted({l for l, _ in rows if l != "mpmd"})
def med(l, c, m):
    v = [float(k[m]) for k in rows.get((l, c), [])]
    return statistics.median(v) if v else None
print("\n## mpmd / peer (median rps; MiB/s for 1m-keepalive; p99 ms in brackets)")
print("| case | mpmd | " + " | ".join(f"{p} | mpmd/{p}" for p in peers) + " |")
print("|---|---|" + "---|---|" * len(peers))
for c in cases:
    m = metric.get(c, "rps")
    ours = med("mpmd", c, m)
    cells = [f"{ours:.0f} [{med('mpmd', c, 'p99_ms'):.1f}]" if ours else "-"]
    for p in peers:
        theirs = med(p, c, m)
        cells.append(f"{theirs:.0f} [{med(p, c, 'p99_ms'):.1f}]" if theirs else "-")
        cells.append(f"{ours / theirs:.2f}" if ours and theirs else "-")
    print(f"| {c} | " + " | ".join(cells) + " |")
PY
if [ "${CPU:-1}" = 1 ]; then
    tree() { local k; k=$(pgrep -d, -P "$1"); echo "$1${k:+,$k}"; }  # a pid and its children
    targets="mpmd:$PORT:$(tree "$mpmd_pid") nginx:8081:$(tree "$(cat "$PEERS/run/nginx/nginx.pid")")"
    case " $peers " in *" h2o "*) targets="$targets h2o:8085:$(tree "$(cat "$PEERS/run/h2o/h2o.pid")")";; esac
    for conns in 64 1000; do
        echo
        echo "## /index.html, wrk -t1 -c$conns: CPU per request (cpu-share.sh; wrk near 1.0 core = load-generator bound)"
        for round in $(seq "$ROUNDS"); do
            # shellcheck disable=SC2086
            CONNS=$conns "$(dirname "$0")/cpu-share.sh" $targets
        done | tee "$work/cpu-$conns.txt"
        python3 - "$work/cpu-$conns.txt" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    f = line.split()
    for kv in f[1:]:
        if "=" in kv:
            k, v = kv.split("=", 1)
            rows[f[0]][k].append(float(v))
print("| server (median) | rps | server CPU, cores | CPU us/request | ctx switches/request | wrk CPU, cores |")
print("|---|---|---|---|---|---|")
for label, m in rows.items():
    med = {k: statistics.median(v) for k, v in m.items()}
    print(f"| {label} | {med['rps']:.0f} | {med['server_cpu']:.2f} | {med['cpu_us_per_req']:.1f} | "
          f"{med['ctxsw_per_req']:.3f} | {med['wrk_cpu']:.2f} |")
PY
    done
fi
if [ "$IDLE" = 1 ]; then
    echo
    echo "## 10,000 idle keep-alive connections"
    python3 "$BENCH_DIR/idle-conns.py" 127.0.0.1:8081 -n 10000 \
        --pid "$(cat "$PEERS/run/nginx/nginx.pid")" --label nginx 2>"$work/idle-nginx.err" ||
        tail -3 "$work/idle-nginx.err"
    sleep 3
    python3 "$BENCH_DIR/idle-conns.py" "127.0.0.1:$PORT" -n 10000 --pid "$mpmd_pid" \
        --label mpmd 2>"$work/idle-mpmd.err" || tail -3 "$work/idle-mpmd.err"
fi
