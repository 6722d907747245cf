# bench-lib.sh: what the upstream and tuning benchmarks share; sourced by
# tests/bench/bench-upstreams.sh and tests/bench/bench-tuning.sh (not run
# on its own).  It starts servers in the foreground from a temporary
# directory, each on a free port of 127.0.0.1, and stops each by its pid;
# it runs wrk and keeps one key=value line per run in $raw; it prints the
# median tables.
#
# The sourcing script sets MPMD (and the knobs it documents: ROUNDS, DUR,
# WARMUP, PAUSE, WRK_TIMEOUT, MODEL_DUR, MODEL_TIMEOUT, KEEP), then calls
#   bench_init NAME     # checks, work dir, traps, ulimit -n, copies mpmd,
#                       # builds upstream100.c; sets $work and $raw
# Everything it starts goes to pids[] and is stopped by stop_all (and on
# exit, INT or TERM).
set -u
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CC=${CC:-cc}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-6}
WARMUP=${WARMUP:-1}
PAUSE=${PAUSE:-1}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
MODEL_DUR=${MODEL_DUR:-10}
MODEL_TIMEOUT=${MODEL_TIMEOUT:-30s}
KEEP=${KEEP:-0}
# Log lines a row expects (an extended regular expression, e.g. "reached
# MaxRequestWorkers"): counted in the reports, not shown as problems.
LOG_EXPECTED=${LOG_EXPECTED:-AH10159}
pids=()                      # everything started here, stopped by pid
root=0; [ "$(id -u)" = 0 ] && root=1

bench_init() {  # NAME (for messages and the temporary directory's name)
    : "${MPMD:?set MPMD to the mpmd binary}"
    command -v wrk >/dev/null || { echo "$1: wrk missing" >&2; exit 2; }
    [ -x "$MPMD" ] || { echo "$1: $MPMD is not executable" >&2; exit 2; }
    work=$(mktemp -d "/tmp/mpmd-$1.XXXXXX")
    chmod 755 "$work"            # nginx's and Apache's workers run as www-data
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    # The servers inherit it: 10,000 idle connections need more than 1024.
    ulimit -n "$(ulimit -Hn)"
    cp "$MPMD" "$work/mpmd" || exit 2
    "$CC" -O2 -o "$work/upstream100" "$here/upstream100.c" || { echo "$1: cannot build upstream100.c" >&2; exit 2; }
    raw=$work/raw.txt
    : >"$raw"
    # wrk's summary as one key=value line (measure).
cat > "$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRES requests=%d duration_us=%d c=%d r=%d w=%d s=%d t=%d p50_us=%d p99_us=%d max_us=%d mean_us=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
EOF
}

stop_pid() {  # PID: TERM, up to 10 s, then KILL (and KILL to children it left)
    local p=$1 kids k
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
    kids=$(pgrep -P "$p")
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    for k in $kids; do kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null; done
    return 0
}
stop_all() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[$i]}"; done
    pids=()
}
cleanup() {
    stop_all
    if [ "$KEEP" = 1 ]; then echo "(kept $work)"; else rm -rf "$work"; fi
}
# N free TCP ports on 127.0.0.1, below the ephemeral range (so no outgoing
# connection takes one between this check and the server's bind).
free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
got = []
while len(got) < int(sys.argv[1]):
    p = random.randrange(10000, max(lo, 10001))
    if p in got:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        got.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, got)))
PY
}

# Start CMD... in the background, remember its pid in $started and pids[].
start_bg() {  # LOGFILE CMD...
    local log=$1; shift
    "$@" >>"$log" 2>&1 &
    started=$!
    pids+=("$started")
}
# Wait until URL answers with status $2 (default 200), up to 10 s; 1 if not
# or if pid $3 exits meanwhile.
wait_http() {  # URL [STATUS] [PID]
    local code
    for _ in $(seq 100); do
        [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")
        [ "$code" = "${2:-200}" ] && return 0
        sleep 0.1
    done
    return 1
}
# Check that URL answers 200 with a body containing $2; else a warning.
check_body() {  # LABEL URL TEXT
    local got code
    got=$(curl -s --max-time 5 -w '\n%{http_code}' "$2")
    code=${got##*$'\n'}
    if [ "$code" != 200 ] || [[ "$got" != *"$3"* ]]; then
        echo "WARNING: $1: $2 answered status $code, body '$(printf %s "${got%$'\n'*}" | head -c 120)'; expected 200 with '$3' (not measured)"
        return 1
    fi
}

# ---- configurations --------------------------------------------------------
mpmd_conf() {  # PORT DIR MPM CHILDREN THREADS [DOCROOT]: the common part
    local port=$1 d=$2 mpm=$3 kids=$4 thr=$5 root_dir=${6:-$2/www}
    cat <<CONF
# $kids children x $thr threads ($mpm): comparable to nginx worker_processes 2
# and Apache event 2 x 25 (see the script's header).
Listen 127.0.0.1:$port
DocumentRoot $root_dir
MPM $mpm
StartServers $kids
ServerLimit $kids
ThreadsPerChild $thr
MaxRequestWorkers $((kids * thr))
MinSpareThreads 1
MaxSpareThreads $((kids * thr))
KeepAliveTimeout 120
MaxKeepAliveRequests 0
AccessLog off
ErrorLog $d/error.log
LogLevel warn
CONF
}
nginx_conf() {  # PORT DIR HTTP-BLOCK-LINES (upstream blocks + the server's locations)
    local port=$1 d=$2
    [ "$root" = 1 ] && echo "user www-data;"
    cat <<CONF
# The peer kit's nginx settings: 2 worker processes, access log off.
worker_processes 2;
worker_rlimit_nofile 20000;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; multi_accept off; }
http {
  default_type text/plain;
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  client_body_temp_path $d/temp/body; proxy_temp_path $d/temp/proxy; fastcgi_temp_path $d/temp/fcgi;
  uwsgi_temp_path $d/temp/uwsgi; scgi_temp_path $d/temp/scgi;
$3
}
CONF
}
# Apache with the peer kit's settings for MPM (default event): event and
# worker 2 processes x 25 threads (the kit's apache-event and apache-worker),
# prefork 50 processes (MaxRequestWorkers 50, as the other two).
# nginx as a reverse proxy to 127.0.0.1:UP, keeping 64 idle upstream
# connections per worker (as mpmd's pool keeps its own).
nginx_proxy_conf() {  # PORT DIR UP
    nginx_conf "$1" "$2" "
  upstream up { server 127.0.0.1:$3; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:$1 backlog=4096;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }"
}
apache_conf() {  # PORT DIR EXTRA-LINES [MPM] (EXTRA: modules beyond the base, the site)
    local port=$1 d=$2 mpm=${4:-event} procs
    case $mpm in
        event) procs="StartServers 2
ServerLimit 2
ThreadsPerChild 25
ThreadLimit 25
MaxRequestWorkers 50
MinSpareThreads 25
MaxSpareThreads 75
AsyncRequestWorkerFactor 400";;
        worker) procs="StartServers 2
ServerLimit 2
ThreadsPerChild 25
ThreadLimit 25
MaxRequestWorkers 50
MinSpareThreads 25
MaxSpareThreads 75";;
        prefork) procs="StartServers 50
ServerLimit 50
MaxRequestWorkers 50
MinSpareServers 5
MaxSpareServers 50";;
        *) echo "apache_conf: unknown MPM '$mpm'" >&2; return 1;;
    esac
    cat <<CONF
# The peer kit's apache-$mpm settings ($mpm MPM, MaxRequestWorkers 50).
ServerRoot /etc/apache2
DefaultRuntimeDir $d
PidFile $d/apache2.pid
Mutex file:$d default
ErrorLog $d/error.log
LogLevel warn
ServerName localhost
Listen 127.0.0.1:$port
ListenBacklog 4096
LoadModule mpm_${mpm}_module /usr/lib/apache2/modules/mod_mpm_$mpm.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
TypesConfig /etc/mime.types
$procs
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 120
Timeout 60
HostnameLookups Off
<Directory />
  Options None
  AllowOverride None
  Require all denied
</Directory>
$3
CONF
    [ "$root" = 1 ] && printf 'User www-data\nGroup www-data\n'
}

start_mpmd() {  # LABEL CONF PORT PATH: start, wait for PATH to answer 200
    start_bg "$work/$1.out" "$work/mpmd" -f "$2"
    wait_http "http://127.0.0.1:$3$4" 200 "$started" ||
        { echo "WARNING: $1 did not answer http://127.0.0.1:$3$4: $(tail -2 "$work/$1.out" "$(dirname "$2")/error.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
}
start_nginx() {  # LABEL DIR PORT PATH
    command -v nginx >/dev/null || { echo "WARNING: nginx missing: $1 skipped"; return 1; }
    nginx -t -q -p "$2/" -c "$2/nginx.conf" >"$2/t.log" 2>&1 ||
        { echo "WARNING: nginx rejects $2/nginx.conf: $(head -2 "$2/t.log")"; return 1; }
    start_bg "$2/stdout.log" nginx -p "$2/" -c "$2/nginx.conf"
    wait_http "http://127.0.0.1:$3$4" 200 "$started" ||
        { echo "WARNING: $1 did not answer: $(tail -2 "$2/error.log" 2>/dev/null)"; return 1; }
}
start_apache() {  # LABEL DIR PORT PATH
    command -v apache2 >/dev/null || { echo "WARNING: apache2 missing: $1 skipped"; return 1; }
    apache2 -t -f "$2/apache2.conf" >"$2/t.log" 2>&1 ||
        { echo "WARNING: apache2 rejects $2/apache2.conf: $(grep -v 'Syntax OK' "$2/t.log" | head -2)"; return 1; }
    # setsid: Apache signals its whole process group when it stops (prefork
    # does: SIGTERM to getpgrp()), which would be this script's.
    start_bg "$2/stdout.log" setsid apache2 -f "$2/apache2.conf" -D FOREGROUND
    wait_http "http://127.0.0.1:$3$4" 200 "$started" ||
        { echo "WARNING: $1 did not answer: $(tail -2 "$2/error.log" 2>/dev/null)"; return 1; }
}
start_upstream() {  # PORT [DELAY_MS]
    start_bg "$work/upstream-$1.log" "$work/upstream100" -p "$1" -d "${2:-0}"
    wait_http "http://127.0.0.1:$1/" 200 "$started" || { echo "WARNING: upstream100 on $1 did not start"; return 1; }
}

# ---- measuring -------------------------------------------------------------
# One wrk run; appends a key=value line to $raw.  The Non-2xx and socket
# error lines of wrk's own report are kept as non2xx= and sock=c/r/w/t;
# lq= is the server's listen queue half-way through the run (connections
# the kernel completed that the server has not accepted: clients waiting
# for a thread or process of a server that accepts only when one is free).
measure() {  # ROW LABEL CASE CONNS SECONDS TIMEOUT URL
    local out=$work/wrk.out res non2xx sock lq port=${7#http://*:}
    port=${port%%/*}
    wrk -t1 -c"$4" -d"$5"s --timeout "$6" -s "$work/report.lua" "$7" >"$out" 2>&1 &
    sleep "$(awk -v d="$5" 'BEGIN { print d / 2 }')"
    lq=$(ss -Hltn "sport = :$port" 2>/dev/null | awk '{ n += $2 } END { print n + 0 }')
    wait $!
    res=$(grep '^WRKRES ' "$out" | tail -1)
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sock=$(awk '/Socket errors:/ { gsub(",", ""); print $4 "/" $6 "/" $8 "/" $10 }' "$out")
    if [ -z "$res" ]; then
        echo "row=$1 label=$2 case=$3 conns=$4 status=failed why=$(head -c 200 "$out" | tr -s ' \n' '__')" >>"$raw"
        return
    fi
    echo "row=$1 label=$2 case=$3 conns=$4 status=ok ${res#WRKRES } non2xx=${non2xx:-0} sock=${sock:-0/0/0/0} lq=$lq" >>"$raw"
}
warm() {  # CONNS URL
    [ "$WARMUP" -gt 0 ] && wrk -t1 -c"$1" -d"$WARMUP"s "$2" >/dev/null 2>&1
    return 0
}
# The interleaved rounds: for every round and case, every target once,
# the order rotating by round.  TARGETS: LABEL=URL ...; CASES: NAME:CONNS ...
# BEFORE_HOOK / AFTER_HOOK, when set, name functions called with the label
# before the warm-up and after the measurement.
rounds() {  # ROW "CASES" TARGET...
    local row=$1 cases=$2; shift 2
    local list=("$@") n=$# r i c t label url
    for r in $(seq "$ROUNDS"); do
        for c in $cases; do
            for i in $(seq 0 $((n - 1))); do
                t=${list[$(((i + r - 1) % n))]}
                label=${t%%=*}; url=${t#*=}
                [ -n "${BEFORE_HOOK:-}" ] && "$BEFORE_HOOK" "$label"
                warm "${c#*:}" "$url"
                measure "$row" "$label" "${c%%:*}" "${c#*:}" "$DUR" "$WRK_TIMEOUT" "$url"
                [ -n "${AFTER_HOOK:-}" ] && "$AFTER_HOOK" "$label"
                sleep "$PAUSE"
            done
        done
    done
}
# The median table of one row, with the ratios of every mpmd label (or of
# the one given) to each peer.
table() {  # ROW "LABELS in order" [MPMD-LABEL]
    python3 - "$raw" "$1" "$2" "${3:-}" <<'PY'
import collections, statistics, sys
raw, row, order = sys.argv[1], sys.argv[2], sys.argv[3].split()
rows = collections.defaultdict(list)
cases = []
for line in open(raw):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if kv.get("row") != row:
        continue
    if kv["case"] not in cases:
        cases.append(kv["case"])
    if kv.get("status") != "ok":
        print("FAILED:", line.strip())
        continue
    kv["rps"] = int(kv["requests"]) / (int(kv["duration_us"]) / 1e6)
    kv["p99"] = int(kv["p99_us"]) / 1000
    rows[(kv["case"], kv["label"])].append(kv)
def med(l, k):
    v = [x[k] for x in l]
    return statistics.median(v), min(v), max(v)
ours = [sys.argv[4]] if sys.argv[4] else [l for l in order if l.startswith("mpmd")]
us = ours[0] if len(ours) == 1 else "mpmd"
print("| case | server | rps median [min-max] | p99 ms median [min-max] | non-2xx | socket errors c/r/w/t "
      f"| busy conns | not accepted | {us}/server rps | {us}/server p99 |")
print("|---|---|---|---|---|---|---|---|---|---|")
stalled = []
def ratio(c, m, l, k):
    a, b = rows.get((c, m)), rows.get((c, l))
    if not a or not b or not med(b, k)[0]:
        return None
    return med(a, k)[0] / med(b, k)[0]
def cell(c, l, k):
    got = [(m, ratio(c, m, l, k)) for m in ours]
    got = [(m, x) for m, x in got if x is not None]
    if len(ours) == 1:
        return f"{got[0][1]:.2f}" if got else "-"
    return ", ".join(f"{m} {x:.2f}" for m, x in got) or "-"
for c in cases:
    for label in order:
        l = rows.get((c, label))
        if not l:
            print(f"| {c} | {label} | - | - | - | - | - | - | - | - |")
            continue
        r, p = med(l, "rps"), med(l, "p99")
        non2xx = sum(int(x["non2xx"]) for x in l)
        sock = [sum(int(x["sock"].split("/")[i]) for x in l) for i in range(4)]
        rr, pr = ("-", "-") if label in ours or label.startswith("mpmd") else (cell(c, label, "rps"), cell(c, label, "p99"))
        busy = statistics.median(x["rps"] * int(x["mean_us"]) / 1e6 for x in l)
        conns = int(l[0]["conns"])
        lq = statistics.median(int(x.get("lq", 0)) for x in l)
        mean_ms = statistics.median(int(x["mean_us"]) for x in l) / 1000
        flag = ""
        # busy conns leaves out wrk's own time between an answer and the next
        # request: a fair count only where the server's latency dominates.
        if lq > 0.2 * conns or (mean_ms >= 10 and busy < 0.8 * conns):
            flag = " STALLED"
            stalled.append(f"{label} ({c})")
        print(f"| {c} | {label} | {r[0]:.0f} [{r[1]:.0f}-{r[2]:.0f}] | {p[0]:.2f} [{p[1]:.2f}-{p[2]:.2f}] "
              f"| {non2xx} | {'/'.join(map(str, sock))} | {busy:.1f}/{conns}{flag} | {lq:.0f} | {rr} | {pr} |")
n = {len(v) for v in rows.values()}
print(f"({'/'.join(map(str, sorted(n)))} round(s) per cell; {us}/server rps > 1 and p99 < 1 favour {us}; "
      "busy conns = rps x mean latency (Little's law): the wrk connections that were getting answers, "
      "where latency is much more than wrk's time per request; not accepted: the server's listen queue "
      "half-way through the run, clients waiting for a free thread or process)")
if stalled:
    print("STALLED: " + ", ".join(stalled) + ": fewer than 80% of the connections got answers; the rest "
          "waited (wrk counts a timeout error for each of them every 2 s past --timeout), so rps and "
          "latency are those of fewer clients and not comparable")
PY
}
# mpmd's error log after a row, and whether its children were replaced.
mpmd_report() {  # LABEL DIR PID CHILDREN-BEFORE
    local log=$2/error.log n now
    now=$(pgrep -P "$3" | sort | tr '\n' ' ')
    if ! kill -0 "$3" 2>/dev/null; then
        echo "MPMD PROBLEM: $1: mpmd (pid $3) is gone; config $2/mpmd.conf"
    elif [ "$now" != "$4" ]; then
        echo "MPMD PROBLEM: $1: children changed during the row (before: $4; after: $now): a crash or a restart; config $2/mpmd.conf"
    fi
    local pat='[:[](warn|error|crit|alert|emerg)]' x
    n=$(grep -iE "$pat" "$log" 2>/dev/null | grep -cvE "$LOG_EXPECTED" || true)
    x=$(grep -iE "$pat" "$log" 2>/dev/null | grep -cE "$LOG_EXPECTED" || true)
    [ "${x:-0}" -gt 0 ] && echo "$1: $x expected log line(s) (/$LOG_EXPECTED/)"
    if [ "${n:-0}" -gt 0 ]; then
        echo "mpmd error log ($1, $n warn/error lines; first 5):"
        grep -iE "$pat" "$log" | grep -vE "$LOG_EXPECTED" | head -5 | sed 's/^/    /'
        if [ "$KEEP" = 1 ]; then echo "    (config $2/mpmd.conf)"; else echo "    config:"; sed 's/^/      /' "$2/mpmd.conf"; fi
    fi
}
kids_of() { pgrep -P "$1" | sort | tr '\n' ' '; }
# Wait (up to 10 s) until PID has N children: mpmd starts StartServers
# children a few at a time, and mpmd_report compares the children after a
# row with those before.
wait_kids() {  # PID N
    for _ in $(seq 100); do [ "$(pgrep -cP "$1")" -ge "$2" ] && return 0; sleep 0.1; done
    echo "WARNING: pid $1 has $(pgrep -cP "$1") of $2 children after 10 s"
}
peer_log_report() {  # LABEL LOGFILE (AH10159 is the peer settings' start-up remark)
    local n x pat='\[(error|crit|alert|emerg)\]|\[[a-z_]*:(error|crit|alert|emerg)\]|(ERROR|WARNING):'
    n=$(grep -E "$pat" "$2" 2>/dev/null | grep -cvE "$LOG_EXPECTED" || true)
    x=$(grep -E "$pat" "$2" 2>/dev/null | grep -E "$LOG_EXPECTED" | grep -vc AH10159 || true)
    [ "${x:-0}" -gt 0 ] && echo "$1: $x expected log line(s) (/$LOG_EXPECTED/)"
    [ "${n:-0}" -gt 0 ] && { echo "$1 error log: $n error lines, e.g.:"; grep -E "$pat" "$2" | grep -vE "$LOG_EXPECTED" | head -3 | sed 's/^/    /'; }
    return 0
}

# ---- row: model -------------------------------------------------------------
# After a run the server may still be working off requests whose clients
# wrk has closed (e.g. 255 queued behind one thread); wait until a fresh
# request takes < 0.5 s (at most 60 s) so the next run starts clean.
drain() {  # URL -> seconds waited
    local t0=$SECONDS t
    while [ $((SECONDS - t0)) -lt 60 ]; do
        t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 3 "$1")
        [ "${t%% *}" = 200 ] && awk -v x="${t#* }" 'BEGIN { exit !(x < 0.5) }' && break
        sleep 0.5
    done
    echo $((SECONDS - t0))
}
# The queueing-model row: upstream100 -d 100 (every answer after 100 ms, by
# a timer), 256 clients (wrk -c256 -d$MODEL_DUR), against mpmd shapes and
# peers, the prediction of the model beside each (docs/tuning.md).
#   SPECS: mpmd shapes LABEL:MPM:CHILDREN:THREADS (label mpmd-LABEL)
#   PEERS: any of nginx apache-event apache-worker apache-prefork
# C, the requests served at once: a thread per connection in MPM worker
# (children x threads); in MPM event a proxied GET waits in the listener
# and holds no thread, so no limit (as nginx); Apache's mod_proxy_http
# holds a thread (a process in prefork) while it waits, so 50 for each.
model_row() {  # "SPECS" "PEERS"
    local up d ports targets=() spec label mpm kids thr p i=0 peer meta=$work/model-meta.txt
    local nspecs nports
    nspecs=$(wc -w <<<"$1"); nports=$((1 + nspecs + $(wc -w <<<"$2")))
    read -r up ports <<<"$(free_ports "$nports")"
    echo
    echo "## model: upstream answers after 100 ms; 256 clients, wrk -t1 -c256 -d${MODEL_DUR}s (--timeout $MODEL_TIMEOUT)"
    start_upstream "$up" 100 || return 0
    : >"$meta"
    local mpids=() mdirs=() mkids=() mlabels=()
    for spec in $1; do
        IFS=: read -r label mpm kids thr <<<"$spec"
        p=${ports%% *}; ports=${ports#* }
        d=$work/model-$label; mkdir -p "$d/www"
        { mpmd_conf "$p" "$d" "$mpm" "$kids" "$thr"; echo "ProxyPass / http://127.0.0.1:$up/"; } >"$d/mpmd.conf"
        if [ "$mpm" = worker ]; then
            printf 'mpmd-%s|%d|worker MPM, %d child(ren) x %d thread(s), a thread per connection\n' "$label" $((kids * thr)) "$kids" "$thr"
        else
            printf 'mpmd-%s|256|event MPM, %d child(ren) x %d thread(s), the listener waits\n' "$label" "$kids" "$thr"
        fi >>"$meta"
        if start_mpmd "model-$label" "$d/mpmd.conf" "$p" /; then
            wait_kids "$started" "$kids"
            targets+=("mpmd-$label=http://127.0.0.1:$p/")
            mpids+=("$started"); mdirs+=("$d"); mkids+=("$(kids_of "$started")"); mlabels+=("mpmd-$label")
        fi
    done
    for peer in $2; do
        p=${ports%% *}; ports=${ports#* }
        d=$work/model-$peer; mkdir -p "$d/temp"
        case $peer in
            nginx)
                echo "nginx|256|2 workers, no limit" >>"$meta"
                nginx_proxy_conf "$p" "$d" "$up" >"$d/nginx.conf"
                start_nginx nginx "$d" "$p" / && targets+=("nginx=http://127.0.0.1:$p/");;
            apache-event|apache-worker|apache-prefork)
                mpm=${peer#apache-}
                echo "$peer|50|$mpm MPM, mod_proxy_http holds a worker while it waits" >>"$meta"
                apache_conf "$p" "$d" "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
ProxyPass / http://127.0.0.1:$up/" "$mpm" >"$d/apache2.conf"
                start_apache "$peer" "$d" "$p" / && targets+=("$peer=http://127.0.0.1:$p/");;
            *) echo "model_row: unknown peer '$peer'" >&2;;
        esac
    done
    local r n=${#targets[@]} t url
    for r in $(seq "$ROUNDS"); do
        for i in $(seq 0 $((n - 1))); do
            t=${targets[$(((i + r - 1) % n))]}
            label=${t%%=*}; url=${t#*=}
            measure model "$label" c256 256 "$MODEL_DUR" "$MODEL_TIMEOUT" "$url"
            echo "row=model-drain label=$label drain_s=$(drain "$url")" >>"$raw"
        done
    done
    python3 - "$raw" "$meta" <<'PY'
import collections, statistics, sys
# The servers in order: LABEL|C|WHAT (C: requests served at once).
conc, what = {}, {}
for line in open(sys.argv[2]):
    label, c, w = line.rstrip("\n").split("|", 2)
    conc[label], what[label] = int(c), w
rows, drains = collections.defaultdict(list), collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if kv.get("row") == "model-drain":
        drains[kv["label"]].append(int(kv["drain_s"]))
    if kv.get("row") != "model":
        continue
    if kv.get("status") != "ok":
        print("FAILED:", line.strip())
        continue
    kv["rps"] = int(kv["requests"]) / (int(kv["duration_us"]) / 1e6)
    kv["p99"] = int(kv["p99_us"]) / 1000
    kv["p50"] = int(kv["p50_us"]) / 1000
    rows[kv["label"]].append(kv)
N, S = 256, 0.1
print("Prediction (closed loop, N = 256 clients, S = 0.1 s, C requests served at once): "
      "throughput X = min(N, C) / S; latency by Little's law N / X (S when C >= N).")
print("| server | concurrency C | predicted rps | measured rps median [min-max] | measured/predicted "
      "| predicted latency ms | p50 ms | p99 ms median [min-max] | busy conns | not accepted | non-2xx | socket errors c/r/w/t | drain s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for label, c in conc.items():
    l = rows.get(label)
    if not l:
        print(f"| {label} | {c} | {min(N, c) / S:.0f} | - | - | - | - | - | - | - | - | - | - |")
        continue
    busy = statistics.median(x["rps"] * int(x["mean_us"]) / 1e6 for x in l)
    rps = [x["rps"] for x in l]; p99 = [x["p99"] for x in l]
    x_pred = min(N, c) / S
    lat = N / x_pred * 1000
    sock = [sum(int(x["sock"].split("/")[i]) for x in l) for i in range(4)]
    print(f"| {label} ({what[label]}) | {c} | {x_pred:.0f} | {statistics.median(rps):.0f} [{min(rps):.0f}-{max(rps):.0f}] "
          f"| {statistics.median(rps) / x_pred:.2f} | {lat:.0f} | {statistics.median(x['p50'] for x in l):.0f} "
          f"| {statistics.median(p99):.0f} [{min(p99):.0f}-{max(p99):.0f}] | {busy:.0f}/{N} "
          f"| {statistics.median(int(x.get('lq', 0)) for x in l):.0f} | {sum(int(x['non2xx']) for x in l)} "
          f"| {'/'.join(map(str, sock))} | {max(drains.get(label, [0]))} |")
print("Notes: worker MPM keeps a thread on each keep-alive connection, so C of the 256 wrk connections are "
      "served (latency ~S) and the others wait the whole run; in MPM event a proxied GET holds no thread "
      "while it waits, so the thread count is not C; wrk reports only completed requests, so "
      "where the predicted latency exceeds the run the measured p99 is cut off at about the run's length. "
      "'busy conns': rps x mean latency, the connections that got answers. "
      "'not accepted': the server's listen queue half-way through the run. "
      "'drain s': seconds after wrk stopped until a fresh request took < 0.5 s (requests of closed "
      "connections still being worked off).")
PY
    for i in "${!mpids[@]}"; do mpmd_report "${mlabels[$i]}" "${mdirs[$i]}" "${mpids[$i]}" "${mkids[$i]}"; done
    for peer in $2; do peer_log_report "$peer" "$work/model-$peer/error.log"; done
    stop_all
}
