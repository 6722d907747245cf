#!/usr/bin/env bash
# bench-upstreams.sh: mpmd's upstream handlers (reverse proxy, FastCGI, CGI)
# against nginx and Apache, in interleaved rounds, plus the queueing-model
# table and the fork/posix_spawn micro-measurement.  Run by `make bench`
# after bench.sh; not part of `make check` (timing never decides a test).
#
#   MPMD=src/mpmd [ROUNDS=3] [DUR=6] [ROWS="proxy php cgi model spawn"] \
#     [WARMUP=1] [PAUSE=1] [WRK_TIMEOUT=5s] [MODEL_DUR=10] [SPAWNS=2000] \
#     [SPAWN_ROUNDS=$ROUNDS] [KEEP=0] tests/bench/bench-upstreams.sh
#
# Run time with the defaults on the 2-core test machine: ~15 min (proxy
# 1.5, php 2.5, cgi 1, model 4.5 -- mostly the 1x1 server working off 250
# queued requests after each run --, spawn 5: fork+exec of a 1 GiB process
# takes ~50 ms there).  A smoke run: ROUNDS=1 DUR=3 SPAWNS=300, ~4 min.
#
# Rows (each prints a table: rps median [min-max] and p99 latency median
# [min-max] per server, the non-2xx and socket-error counts wrk reported,
# "busy conns" = rps x mean latency, i.e. how many of wrk's connections
# were getting answers (Little's law; far below -c means the others were
# starved and the row is marked STALLED), and the ratios mpmd/peer):
#   proxy  GET / through a reverse proxy to upstream100 (a 100-byte body
#          with Content-Length, keep-alive), wrk -t1 -c64 and -c256:
#          mpmd `ProxyPass / http://127.0.0.1:UP/` vs nginx proxy_pass to an
#          `upstream { keepalive 64; }` with HTTP/1.1 and Connection "".
#          upstream100.c rather than h2o: one binary also serves the model
#          row (-d 100, a timer per request), it has no configuration or
#          file system in the way, and one epoll process answering a canned
#          reply costs less CPU per request than h2o's file handler, which
#          matters when server, upstream and wrk share 2 cores.
#   php    GET /hello.php (`<?php echo "Hello, world\n";`) from ONE php-fpm
#          pool shared by all (pm=static, pm.max_children=8), wrk -c32:
#          mpmd <FilesMatch> SetHandler "proxy:fcgi://..." (a connection per
#          request, mpmd's and Apache's default), mpmd-reuse `ProxyPass /
#          fcgi://.../DIR/ enablereuse=On max=4`, nginx fastcgi_pass with
#          fastcgi_keep_conn on and `keepalive 4` (per worker), nginx-close
#          (fastcgi_pass without keep_conn, nginx's default), Apache
#          proxy_fcgi with SetHandler and a <Proxy> block `ProxySet
#          enablereuse=on max=4`.  php-fpm gives every open connection a
#          child until it is closed, so kept connections per server are held
#          to 8 = pm.max_children (4 per child/worker x 2); more would leave
#          requests in php-fpm's backlog behind idle kept connections.
#          The servers that keep connections (mpmd-reuse, nginx, apache) are
#          restarted after each of their runs, and every run waits until no
#          connection to php-fpm is open: an idle kept connection left by
#          one server holds a php-fpm child the next one would need (nginx
#          and Apache keep theirs until they restart; mpmd's sweeper closes
#          its idle ones ttl= seconds after their last use).
#   cgi    GET /cgi-bin/hello.sh (#!/bin/sh, a printf), wrk -c8: mpmd
#          ScriptAlias vs Apache mod_cgid ScriptAlias.
#   model  upstream100 -d 100 (every answer after 100 ms, by a timer),
#          256 clients, wrk -c256 -d$MODEL_DUR: mpmd worker 1x1 ("prefork":
#          a thread per connection, one of them), worker 16 children x 1
#          thread ("prefork 16"), worker 2x25, event 2x25 and event 1x1 (a
#          proxied GET waits in the listener, holding no thread), and
#          nginx; the queueing-theory prediction next to each.
#   spawn  spawn-cost.c: /bin/true started $SPAWNS times by a process with
#          1 GiB of touched memory and 30 threads, fork+exec vs posix_spawn,
#          $SPAWN_ROUNDS rounds (why mpmd's CGI handler uses posix_spawn).
#
# Comparable settings (2 cores shared by server, upstream and wrk; nothing
# is pinned): mpmd runs 2 children x 25 threads (StartServers 2, event MPM,
# MaxRequestWorkers 50; its proxy pool sets no max=, as nginx sets no
# limit), nginx worker_processes 2, Apache the event MPM
# with 2 processes x 25 threads (the peer kit's apache-event settings).
# Access logs are off everywhere, client keep-alive is long everywhere.
# upstream100 is one epoll process (~70k rps alone on one core here), far
# more than any proxy in front of it reaches on the other core.
#
# Every server runs in the foreground from this script and is stopped by
# its pid; everything lives in a temporary directory (KEEP=1 keeps it and
# prints its name); ports are free ones below the ephemeral range.  The
# mpmd binary is copied first, so a rebuild during the run does not matter.
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-6}
ROWS=${ROWS:-"proxy php cgi model spawn"}
WARMUP=${WARMUP:-1}
PAUSE=${PAUSE:-1}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
MODEL_DUR=${MODEL_DUR:-10}
MODEL_TIMEOUT=${MODEL_TIMEOUT:-30s}
SPAWNS=${SPAWNS:-2000}
SPAWN_ROUNDS=${SPAWN_ROUNDS:-$ROUNDS}
KEEP=${KEEP:-0}
FPM=${FPM:-$(command -v php-fpm8.2 || command -v php-fpm || echo php-fpm)}
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}

command -v wrk >/dev/null || { echo "bench-upstreams.sh: wrk missing" >&2; exit 2; }
[ -x "$MPMD" ] || { echo "bench-upstreams.sh: $MPMD is not executable" >&2; exit 2; }
work=$(mktemp -d /tmp/mpmd-bench-up.XXXXXX)
chmod 755 "$work"            # nginx's and Apache's workers run as www-data
pids=()                      # everything started here, stopped by pid
root=0; [ "$(id -u)" = 0 ] && root=1

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
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"
cp "$MPMD" "$work/mpmd" || exit 2
"$CC" -O2 -o "$work/upstream100" "$here/upstream100.c" || { echo "bench-upstreams.sh: cannot build upstream100.c" >&2; exit 2; }

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
apache_conf() {  # PORT DIR EXTRA-LINES (modules beyond the base and the site)
    local port=$1 d=$2
    cat <<CONF
# The peer kit's apache-event settings: event MPM, 2 processes x 25 threads.
ServerRoot /etc/apache2
DefaultRuntimeDir $d
PidFile $d/apache2.pid
Mutex file:$d default
ErrorLog $d/error.log
LogLevel warn
ServerName localhost
Listen 127.0.0.1:$port
ListenBacklog 4096
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
TypesConfig /etc/mime.types
StartServers 2
ServerLimit 2
ThreadsPerChild 25
ThreadLimit 25
MaxRequestWorkers 50
MinSpareThreads 25
MaxSpareThreads 75
MaxConnectionsPerChild 0
AsyncRequestWorkerFactor 400
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
    start_bg "$2/stdout.log" apache2 -f "$2/apache2.conf" -D FOREGROUND
    wait_http "http://127.0.0.1:$3$4" 200 "$started" ||
        { echo "WARNING: $1 did not answer: $(tail -2 "$2/error.log" 2>/dev/null)"; return 1; }
}
start_upstream() {  # PORT [DELAY_MS]
    start_bg "$work/upstream-$1.log" "$work/upstream100" -p "$1" -d "${2:-0}"
    wait_http "http://127.0.0.1:$1/" 200 "$started" || { echo "WARNING: upstream100 on $1 did not start"; return 1; }
}

# ---- measuring -------------------------------------------------------------
cat > "$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRES requests=%d duration_us=%d c=%d r=%d w=%d s=%d t=%d p50_us=%d p99_us=%d max_us=%d mean_us=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
EOF
# One wrk run; appends a key=value line to $raw.  The Non-2xx and socket
# error lines of wrk's own report are kept as non2xx= and sock=c/r/w/t.
measure() {  # ROW LABEL CASE CONNS SECONDS TIMEOUT URL
    local out=$work/wrk.out res non2xx sock
    wrk -t1 -c"$4" -d"$5"s --timeout "$6" -s "$work/report.lua" "$7" >"$out" 2>&1
    res=$(grep '^WRKRES ' "$out" | tail -1)
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sock=$(awk '/Socket errors:/ { gsub(",", ""); print $4 "/" $6 "/" $8 "/" $10 }' "$out")
    if [ -z "$res" ]; then
        echo "row=$1 label=$2 case=$3 conns=$4 status=failed why=$(head -c 200 "$out" | tr -s ' \n' '__')" >>"$raw"
        return
    fi
    echo "row=$1 label=$2 case=$3 conns=$4 status=ok ${res#WRKRES } non2xx=${non2xx:-0} sock=${sock:-0/0/0/0}" >>"$raw"
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
# The median table of one row, ratios against the first label (mpmd).
table() {  # ROW "LABELS in order"
    python3 - "$raw" "$1" "$2" <<'PY'
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
ours = [l for l in order if l.startswith("mpmd")]
print("| case | server | rps median [min-max] | p99 ms median [min-max] | non-2xx | socket errors c/r/w/t "
      "| busy conns | mpmd/server rps | mpmd/server p99 |")
print("|---|---|---|---|---|---|---|---|---|")
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
            print(f"| {c} | {label} | - | - | - | - | - | - | - |")
            continue
        r, p = med(l, "rps"), med(l, "p99")
        non2xx = sum(int(x["non2xx"]) for x in l)
        sock = [sum(int(x["sock"].split("/")[i]) for x in l) for i in range(4)]
        rr, pr = ("-", "-") if label in ours else (cell(c, label, "rps"), cell(c, label, "p99"))
        busy = statistics.median(x["rps"] * int(x["mean_us"]) / 1e6 for x in l)
        conns = int(l[0]["conns"])
        flag = ""
        if busy < 0.8 * conns:
            flag = " STALLED"
            stalled.append(f"{label} ({c})")
        print(f"| {c} | {label} | {r[0]:.0f} [{r[1]:.0f}-{r[2]:.0f}] | {p[0]:.2f} [{p[1]:.2f}-{p[2]:.2f}] "
              f"| {non2xx} | {'/'.join(map(str, sock))} | {busy:.1f}/{conns}{flag} | {rr} | {pr} |")
n = {len(v) for v in rows.values()}
print(f"({'/'.join(map(str, sorted(n)))} round(s) per cell; mpmd/server rps > 1 and p99 < 1 favour mpmd; "
      "busy conns = rps x mean latency (Little's law): the wrk connections that were getting answers)")
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
    local pat='[:[](warn|error|crit|alert|emerg)]'
    n=$(grep -ciE "$pat" "$log" 2>/dev/null || true)
    if [ "${n:-0}" -gt 0 ]; then
        echo "mpmd error log ($1, $n warn/error lines; first 5):"
        grep -iE "$pat" "$log" | head -5 | sed 's/^/    /'
        if [ "$KEEP" = 1 ]; then echo "    (config $2/mpmd.conf)"; else echo "    config:"; sed 's/^/      /' "$2/mpmd.conf"; fi
    fi
}
kids_of() { pgrep -P "$1" | sort | tr '\n' ' '; }
peer_log_report() {  # LABEL LOGFILE (AH10159 is the peer settings' start-up remark)
    local n pat='\[(error|crit|alert|emerg)\]|\[[a-z_]*:(error|crit|alert|emerg)\]|(ERROR|WARNING):'
    n=$(grep -E "$pat" "$2" 2>/dev/null | grep -vc AH10159 || true)
    [ "${n:-0}" -gt 0 ] && { echo "$1 error log: $n error lines, e.g.:"; grep -E "$pat" "$2" | grep -v AH10159 | head -3 | sed 's/^/    /'; }
    return 0
}

raw=$work/raw.txt
: >"$raw"
echo "# bench-upstreams.sh $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "ROUNDS=$ROUNDS DUR=$DUR; mpmd $("$work/mpmd" -V 2>/dev/null | head -1)"

# ---- row: proxy -------------------------------------------------------------
row_proxy() {
    local up p_m p_n d targets=()
    read -r up p_m p_n <<<"$(free_ports 3)"
    echo
    echo "## proxy: GET / -> upstream100 (100-byte body, keep-alive), wrk -t1 -c64 and -c256, ${DUR}s"
    start_upstream "$up" || return 0
    d=$work/proxy-mpmd; mkdir -p "$d/www"
    { mpmd_conf "$p_m" "$d" event 2 25; echo "ProxyPass / http://127.0.0.1:$up/"; } >"$d/mpmd.conf"
    start_mpmd proxy-mpmd "$d/mpmd.conf" "$p_m" / && check_body mpmd "http://127.0.0.1:$p_m/" abcdefghij &&
        targets+=("mpmd=http://127.0.0.1:$p_m/")
    local mpid=$started kids; kids=$(kids_of "$mpid")
    d=$work/proxy-nginx; mkdir -p "$d/temp"
    nginx_conf "$p_n" "$d" "
  upstream up { server 127.0.0.1:$up; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:$p_n backlog=4096;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }" >"$d/nginx.conf"
    start_nginx nginx "$d" "$p_n" / && check_body nginx "http://127.0.0.1:$p_n/" abcdefghij &&
        targets+=("nginx=http://127.0.0.1:$p_n/")
    [ ${#targets[@]} -gt 0 ] && rounds proxy "c64:64 c256:256" "${targets[@]}"
    table proxy "mpmd nginx"
    mpmd_report proxy "$work/proxy-mpmd" "$mpid" "$kids"
    peer_log_report nginx "$work/proxy-nginx/error.log"
    stop_all
}

# ---- row: php ---------------------------------------------------------------
row_php() {
    local fpm p_m p_r p_n p_nc p_a d targets=() www=$work/php
    read -r fpm p_m p_r p_n p_nc p_a <<<"$(free_ports 6)"
    php_fpm_port=$fpm php_p_r=$p_r php_p_n=$p_n php_p_a=$p_a
    echo
    echo "## php: GET /hello.php from one php-fpm pool (pm=static, max_children=8), wrk -t1 -c32, ${DUR}s"
    echo "(mpmd: SetHandler proxy:fcgi, a new connection per request, its default and Apache's;" \
         "mpmd-reuse: ProxyPass fcgi:// enablereuse=On max=4; nginx: fastcgi_keep_conn, keepalive 4/worker;" \
         "nginx-close: fastcgi_pass without keep_conn (its default);" \
         "apache: SetHandler + <Proxy> enablereuse=on max=4." \
         "mpmd-reuse, nginx and apache are restarted after each of their runs: kept connections hold php-fpm children)"
    command -v "$FPM" >/dev/null || { echo "php: skipped: no php-fpm (FPM=...)"; return 0; }
    mkdir -p "$www" "$work/fpm"
    printf '<?php echo "Hello, world\\n";\n' >"$www/hello.php"
    echo static >"$www/index.html"   # readiness checks that take no php-fpm connection
    chmod -R a+rX "$www"
    {
        printf '[global]\npid = %s/fpm.pid\nerror_log = %s/error.log\ndaemonize = no\n' "$work/fpm" "$work/fpm"
        printf '[bench]\nlisten = 127.0.0.1:%s\nlisten.backlog = 4096\npm = static\npm.max_children = 8\npm.max_requests = 0\n' "$fpm"
        [ "$root" = 1 ] && printf 'user = root\ngroup = root\n'
    } >"$work/fpm/fpm.conf"
    local rflag=(); [ "$root" = 1 ] && rflag=(-R)
    start_bg "$work/fpm/stdout.log" "$FPM" -F "${rflag[@]}" -y "$work/fpm/fpm.conf"
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$fpm") 2>/dev/null && break; sleep 0.1; done

    d=$work/php-mpmd; mkdir -p "$d"
    { mpmd_conf "$p_m" "$d" event 2 25 "$www"
      printf '<FilesMatch \\.php$>\n  SetHandler "proxy:fcgi://127.0.0.1:%s"\n</FilesMatch>\n' "$fpm"; } >"$d/mpmd.conf"
    start_mpmd php-mpmd "$d/mpmd.conf" "$p_m" /index.html && check_body mpmd "http://127.0.0.1:$p_m/hello.php" "Hello, world" &&
        targets+=("mpmd=http://127.0.0.1:$p_m/hello.php")
    local mpid=$started kids; kids=$(kids_of "$mpid")

    # mpmd-reuse: kept connections (enablereuse=On; max=4 per child x 2
    # children = pm.max_children, php-fpm's rule: each open connection holds
    # a php-fpm child).  Skipped if this mpmd rejects it.
    php_mpid_r=""; php_kids_r=""
    d=$work/php-mpmd-reuse; mkdir -p "$d"
    { mpmd_conf "$p_r" "$d" event 2 25 "$www"
      printf 'ProxyPass /fpm/ fcgi://127.0.0.1:%s%s/ enablereuse=On max=4\n' "$fpm" "$www"; } >"$d/mpmd.conf"
    if ! "$work/mpmd" -t -f "$d/mpmd.conf" >"$d/t.log" 2>&1; then
        echo "mpmd-reuse: skipped: mpmd rejects $(tail -1 "$d/mpmd.conf"): $(grep -v '^Syntax OK' "$d/t.log" | head -1)"
    elif php_up mpmd-reuse && check_body mpmd-reuse "http://127.0.0.1:$p_r/fpm/hello.php" "Hello, world"; then
        targets+=("mpmd-reuse=http://127.0.0.1:$p_r/fpm/hello.php")
        php_kids_r=$(kids_of "$php_mpid_r")
    fi

    d=$work/php-nginx; mkdir -p "$d/temp"
    # keepalive is per worker: 2 x 4 idle connections = pm.max_children.
    # keepalive_timeout 1s: the idle ones close after 1 s (mpmd's ttl default).
    nginx_conf "$p_n" "$d" "
  upstream fpm { server 127.0.0.1:$fpm; keepalive 4; keepalive_requests 10000000; keepalive_timeout 1s; }
  server {
    listen 127.0.0.1:$p_n backlog=4096;
    root $www;
    location ~ \\.php\$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_pass fpm;
      fastcgi_keep_conn on;
    }
  }
  # nginx-close: nginx's default, a connection per request.
  server {
    listen 127.0.0.1:$p_nc backlog=4096;
    root $www;
    location ~ \\.php\$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_pass 127.0.0.1:$fpm;
    }
  }" >"$d/nginx.conf"
    if php_up nginx; then
        check_body nginx "http://127.0.0.1:$p_n/hello.php" "Hello, world" &&
            targets+=("nginx=http://127.0.0.1:$p_n/hello.php")
        check_body nginx-close "http://127.0.0.1:$p_nc/hello.php" "Hello, world" &&
            targets+=("nginx-close=http://127.0.0.1:$p_nc/hello.php")
    fi

    d=$work/php-apache; mkdir -p "$d"
    apache_conf "$p_a" "$d" "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so
DocumentRoot $www
<Directory $www>
  Require all granted
</Directory>
<FilesMatch \\.php\$>
  SetHandler \"proxy:fcgi://127.0.0.1:$fpm/\"
</FilesMatch>
# max=4 per child x 2 = pm.max_children: with the default max (ThreadsPerChild)
# 24 of the 32 connections sat in php-fpm's backlog behind kept connections.
<Proxy \"fcgi://127.0.0.1:$fpm/\">
  ProxySet enablereuse=on max=4
</Proxy>" >"$d/apache2.conf"
    php_up apache && check_body apache "http://127.0.0.1:$p_a/hello.php" "Hello, world" &&
        targets+=("apache=http://127.0.0.1:$p_a/hello.php")

    # Start every measurement with all 8 php-fpm children free.
    php_restart mpmd-reuse; php_restart nginx; php_restart apache
    [ ${#targets[@]} -gt 0 ] && BEFORE_HOOK=php_before AFTER_HOOK=php_restart rounds php "c32:32" "${targets[@]}"
    table php "mpmd mpmd-reuse nginx nginx-close apache"
    mpmd_report php "$work/php-mpmd" "$mpid" "$kids"
    [ -n "$php_mpid_r" ] && mpmd_report php-reuse "$work/php-mpmd-reuse" "$php_mpid_r" "$php_kids_r"
    peer_log_report nginx "$work/php-nginx/error.log"
    peer_log_report apache "$work/php-apache/error.log"
    peer_log_report php-fpm "$work/fpm/error.log"
    stop_all
}
# (Re)start one of the php row's kept-connection servers (readiness on a
# static file, so no php-fpm connection is left open).
declare -A php_pid
php_up() {  # LABEL
    case $1 in
        mpmd-reuse) start_mpmd php-mpmd-reuse "$work/php-mpmd-reuse/mpmd.conf" "$php_p_r" /index.html || return 1
                    php_mpid_r=$started;;
        nginx) start_nginx nginx "$work/php-nginx" "$php_p_n" /index.html || return 1;;
        apache) start_apache apache "$work/php-apache" "$php_p_a" /index.html || return 1;;
        *) return 0;;
    esac
    php_pid[$1]=$started
}
php_restart() {  # LABEL: after its run, a server that keeps connections starts afresh
    case $1 in
        mpmd-reuse|nginx|apache) [ -n "${php_pid[$1]:-}" ] || return 0
            stop_pid "${php_pid[$1]}"
            php_up "$1" || echo "WARNING: php: $1 did not restart"
            [ "$1" = mpmd-reuse ] && php_kids_r=$(kids_of "$php_mpid_r");;
    esac
    return 0
}
php_before() {  # LABEL: wait (up to 10 s) until no connection holds a php-fpm child
    local n
    for _ in $(seq 100); do
        n=$(ss -Htn state established "( dport = :$php_fpm_port )" 2>/dev/null | wc -l)
        [ "$n" = 0 ] && return 0
        sleep 0.1
    done
    echo "WARNING: php: $n connections still open to php-fpm before $1's run"
}

# ---- row: cgi ---------------------------------------------------------------
row_cgi() {
    local p_m p_a d targets=() cgi=$work/cgi
    read -r p_m p_a <<<"$(free_ports 2)"
    echo
    echo "## cgi: GET /cgi-bin/hello.sh (#!/bin/sh printf), wrk -t1 -c8, ${DUR}s"
    mkdir -p "$cgi"
    printf '#!/bin/sh\nprintf '"'"'Content-Type: text/plain\\n\\nHello\\n'"'"'\n' >"$cgi/hello.sh"
    chmod 755 "$cgi" "$cgi/hello.sh"
    d=$work/cgi-mpmd; mkdir -p "$d/www"
    { mpmd_conf "$p_m" "$d" event 2 25; printf 'ScriptAlias /cgi-bin/ %s/\nCGIScriptTimeout 30\n' "$cgi"; } >"$d/mpmd.conf"
    start_mpmd cgi-mpmd "$d/mpmd.conf" "$p_m" /cgi-bin/hello.sh && check_body mpmd "http://127.0.0.1:$p_m/cgi-bin/hello.sh" Hello &&
        targets+=("mpmd=http://127.0.0.1:$p_m/cgi-bin/hello.sh")
    local mpid=$started kids; kids=$(kids_of "$mpid")
    d=$work/cgi-apache; mkdir -p "$d"
    apache_conf "$p_a" "$d" "LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
ScriptSock $d/cgid.sock
ScriptAlias /cgi-bin/ $cgi/
<Directory $cgi>
  Require all granted
</Directory>" >"$d/apache2.conf"
    start_apache apache "$d" "$p_a" /cgi-bin/hello.sh && check_body apache "http://127.0.0.1:$p_a/cgi-bin/hello.sh" Hello &&
        targets+=("apache=http://127.0.0.1:$p_a/cgi-bin/hello.sh")
    [ ${#targets[@]} -gt 0 ] && rounds cgi "c8:8" "${targets[@]}"
    table cgi "mpmd apache"
    mpmd_report cgi "$work/cgi-mpmd" "$mpid" "$kids"
    peer_log_report apache "$work/cgi-apache/error.log"
    stop_all
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
row_model() {
    local up d ports targets=() spec label mpm kids thr p i=0
    read -r up ports <<<"$(free_ports 7)"
    set -- $ports
    echo
    echo "## model: upstream answers after 100 ms; 256 clients, wrk -t1 -c256 -d${MODEL_DUR}s (--timeout $MODEL_TIMEOUT)"
    start_upstream "$up" 100 || return 0
    local mpids=() mdirs=() mkids=() mlabels=()
    for spec in prefork-1x1:worker:1:1 prefork-16x1:worker:16:1 worker-2x25:worker:2:25 event-2x25:event:2:25 event-1x1:event:1:1; do
        IFS=: read -r label mpm kids thr <<<"$spec"
        p=$1; shift
        d=$work/model-$label; mkdir -p "$d/www"
        { mpmd_conf "$p" "$d" "$mpm" "$kids" "$thr"; echo "ProxyPass / http://127.0.0.1:$up/"; } >"$d/mpmd.conf"
        if start_mpmd "model-$label" "$d/mpmd.conf" "$p" /; then
            targets+=("mpmd-$label=http://127.0.0.1:$p/")
            mpids+=("$started"); mdirs+=("$d"); mkids+=("$(kids_of "$started")"); mlabels+=("mpmd-$label")
        fi
    done
    p=$1
    d=$work/model-nginx; mkdir -p "$d/temp"
    nginx_conf "$p" "$d" "
  upstream up { server 127.0.0.1:$up; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:$p backlog=4096;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }" >"$d/nginx.conf"
    start_nginx nginx "$d" "$p" / && targets+=("nginx-2w=http://127.0.0.1:$p/")
    local r n=${#targets[@]} t url
    for r in $(seq "$ROUNDS"); do
        for i in $(seq 0 $((n - 1))); do
            t=${targets[$(((i + r - 1) % n))]}
            label=${t%%=*}; url=${t#*=}
            measure model "$label" c256 256 "$MODEL_DUR" "$MODEL_TIMEOUT" "$url"
            echo "row=model-drain label=$label drain_s=$(drain "$url")" >>"$raw"
        done
    done
    python3 - "$raw" <<'PY'
import collections, statistics, sys
# C: requests served at once.  A thread per connection in MPM worker; in MPM
# event a proxied GET waits in the listener (no thread): no limit, like nginx.
conc = {"mpmd-prefork-1x1": 1, "mpmd-prefork-16x1": 16, "mpmd-worker-2x25": 50, "mpmd-event-2x25": 256,
        "mpmd-event-1x1": 256, "nginx-2w": 256}
what = {"mpmd-prefork-1x1": "worker MPM, 1 child x 1 thread",
        "mpmd-prefork-16x1": "worker MPM, 16 children x 1 thread",
        "mpmd-worker-2x25": "worker MPM, 2 x 25 (a thread per connection)",
        "mpmd-event-2x25": "event MPM, 2 x 25, the listener waits",
        "mpmd-event-1x1": "event MPM, 1 child x 1 thread, the listener waits",
        "nginx-2w": "2 workers, no limit"}
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
      "| predicted latency ms | p50 ms | p99 ms median [min-max] | busy conns | non-2xx | socket errors c/r/w/t | drain s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for label, c in conc.items():
    l = rows.get(label)
    if not l:
        print(f"| {label} | {c} | {min(N, c) / S:.0f} | - | - | - | - | - | - | - | - | - |")
        continue
    busy = statistics.median(x["rps"] * int(x["mean_us"]) / 1e6 for x in l)
    rps = [x["rps"] for x in l]; p99 = [x["p99"] for x in l]
    x_pred = min(N, c) / S
    lat = N / x_pred * 1000
    sock = [sum(int(x["sock"].split("/")[i]) for x in l) for i in range(4)]
    print(f"| {label} ({what[label]}) | {c} | {x_pred:.0f} | {statistics.median(rps):.0f} [{min(rps):.0f}-{max(rps):.0f}] "
          f"| {statistics.median(rps) / x_pred:.2f} | {lat:.0f} | {statistics.median(x['p50'] for x in l):.0f} "
          f"| {statistics.median(p99):.0f} [{min(p99):.0f}-{max(p99):.0f}] | {busy:.0f}/{N} | {sum(int(x['non2xx']) for x in l)} "
          f"| {'/'.join(map(str, sock))} | {max(drains.get(label, [0]))} |")
print("Notes: worker MPM keeps a thread on each keep-alive connection, so C of the 256 wrk connections are "
      "served (latency ~S) and the others wait the whole run; in MPM event a proxied GET holds no thread "
      "while it waits, so the thread count is not C; wrk reports only completed requests, so "
      "where the predicted latency exceeds the run the measured p99 is cut off at about the run's length. "
      "'busy conns': rps x mean latency, the connections that got answers. "
      "'drain s': seconds after wrk stopped until a fresh request took < 0.5 s (requests of closed "
      "connections still being worked off).")
PY
    for i in "${!mpids[@]}"; do mpmd_report "${mlabels[$i]}" "${mdirs[$i]}" "${mpids[$i]}" "${mkids[$i]}"; done
    peer_log_report nginx "$work/model-nginx/error.log"
    stop_all
}

# ---- row: spawn -------------------------------------------------------------
row_spawn() {
    echo
    echo "## spawn: /bin/true x $SPAWNS from a process with 1 GiB touched and 30 threads (spawn-cost.c)"
    "$CC" -O2 -pthread -o "$work/spawn-cost" "$here/spawn-cost.c" || { echo "spawn: cannot build spawn-cost.c"; return 0; }
    "$work/spawn-cost" -n "$SPAWNS" -m 1024 -t 30 -r "$SPAWN_ROUNDS" /bin/true
}

for row in $ROWS; do
    case $row in
        proxy|php|cgi|model|spawn) "row_$row";;
        *) echo "bench-upstreams.sh: unknown row '$row' (proxy php cgi model spawn)" >&2;;
    esac
done
