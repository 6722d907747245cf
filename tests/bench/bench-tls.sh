#!/usr/bin/env bash
# bench-tls.sh: mpmd against nginx over HTTPS, side by side, in interleaved
# rounds, with the shared peer kit (../shared/bench).  Run by
# `make bench-tls`; not part of `make check` (timing never decides a test).
#
#   MPMD=src/mpmd BENCH_DIR=../shared/bench [ROUNDS=3] [DURATION=6] \
#     [IDLE_N=10000] [HS_BATCH=400] [HS_RESUME_N=2000] [PORT=8120] [MPMD_MPM=event] \
#     [ROWS="keepalive full resumed idle"] \
#     tests/bench/bench-tls.sh
#
# Both servers get the same certificate (ECDSA P-256, made with
# tests/integration/tlspki.py in a mktemp -d directory), TLS 1.3 only, the
# same TLS 1.3 suites in the same order with the server's order deciding
# (mpmd's defaults; nginx: ssl_conf_command Ciphersuites + prefer_server_ciphers
# on), tickets on, no server-side session cache, the peer kit's doc root.
# mpmd is bench.sh's single-site configuration (2 children x 8 threads, MPM
# event) plus `Listen ... https`, SSLEngine on and the certificate; nginx is
# the kit's nginx.conf.in (2 workers) with its server block replaced by a
# TLS one.  Each server also has a plain listener on the port TLS_OFFSET
# (1000) below its TLS port: http-bench.sh probes it (its probe speaks plain
# HTTP) while a wrk wrapper sends the load to the TLS port.
#
# Rows (ROWS selects; every row is interleaved over ROUNDS rounds whose
# order rotates every round; medians):
#   keepalive  (1) small-keepalive rps (/index.html, wrk -t1 -c64) and
#              (2) 1m-keepalive MiB/s (/f1m.bin, wrk -t1 -c64), through
#              http-bench.sh (its warm-up, DURATION s each)
#   full       (3) full TLS 1.3 handshakes/s: `h2load --h1 -t2 -c B -n B`
#              (B = HS_BATCH: one GET /index.html per connection, nothing to
#              resume), batches repeated for DURATION s
#   resumed    (4) resumed handshakes/s: `h2load --h1 -t2 -c 64 -n HS_RESUME_N
#              -H 'Connection: close'` (each new connection resumes the
#              client's previous session), batches repeated for DURATION s
#   idle       (5) 10,000 idle TLS keep-alive connections (idle-tls.py: full
#              handshake + one request each, held): RSS growth of the server's
#              whole process tree; a freshly started server (quiet
#              configuration, ports PORT+4/PORT+5) for every measurement
# Ports: mpmd PORT, nginx PORT+1, logged mpmd PORT+2, logged nginx PORT+3,
# idle-row mpmd PORT+4, idle-row nginx PORT+5 (plain); TLS TLS_OFFSET above.
# Rows 3-4 run against a second instance of each server with an access log
# (mpmd: %{SSL_SESSION_RESUMED}x, nginx: $ssl_session_reused), so every round
# checks that the handshakes were what the row says (Initial/. vs Resumed/r)
# and prints the counts; rows 1, 2 and 5 run against instances without one.
#
# Prints the kit's summary for rows 1-2, a table per row, the ratio table
# (mpmd/nginx, target, PASS/FAIL) and whether kernel TLS was in use
# (/proc/net/tls_stat).  Targets: small-keepalive >= 1.2, 1m-keepalive >=
# 1.0, full and resumed handshakes >= 1.0, idle RSS growth <= 1.0 x nginx.
# Also prints, before the rows, what each server negotiates, whether it
# sends close_notify after a "Connection: close" response, and how many
# tickets it sends after a resumed TLS 1.3 handshake (work row 4 includes).
# Run time at the defaults: ~5-6 min (ROUNDS=3 DURATION=6); ~75 s with
# ROUNDS=1 DURATION=3.
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd)}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-${DUR:-6}}
PORT=${PORT:-8120}
TLS_OFFSET=${TLS_OFFSET:-1000}
IDLE_N=${IDLE_N:-10000}
HS_BATCH=${HS_BATCH:-400}
HS_RESUME_N=${HS_RESUME_N:-2000}
ROWS=${ROWS:-"keepalive full resumed idle"}
PEERS=$BENCH_DIR/peers
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
PY=${PYTHON3:-python3}
me=bench-tls.sh
[ -x "$PEERS/peers.sh" ] || { echo "$me: no peer kit at $PEERS (set BENCH_DIR)" >&2; exit 2; }
for t in wrk h2load nginx openssl curl; do
    command -v $t >/dev/null || { echo "$me: $t missing" >&2; exit 2; }
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "$me: ROUNDS must be a positive integer" >&2; exit 2; }
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "$me: DURATION must be a positive integer (seconds)" >&2; exit 2; }

# Ports: plain P, TLS P+TLS_OFFSET.
MPMD_P=$PORT NGINX_P=$((PORT + 1)) MPMD_LOG_P=$((PORT + 2)) NGINX_LOG_P=$((PORT + 3))
MPMD_IDLE_P=$((PORT + 4)) NGINX_IDLE_P=$((PORT + 5))
tls() { echo $(($1 + TLS_OFFSET)); }
SUITES13=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256

work=$(mktemp -d "${TMPDIR:-/tmp}/mpmd-bench-tls.XXXXXX") || exit 1
mpmd_pid="" mpmd_log_pid="" mpmd_idle_pid=""
stop_pid() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    wait "$1" 2>/dev/null
}
stop_nginx() {  # $1: its directory
    local p
    [ -s "$1/nginx.pid" ] || return 0
    p=$(cat "$1/nginx.pid")
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
}
cleanup() {
    stop_pid "$mpmd_pid"; stop_pid "$mpmd_log_pid"; stop_pid "$mpmd_idle_pid"
    stop_nginx "$work/nginx"; stop_nginx "$work/nginx-log"; stop_nginx "$work/nginx-idle"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The limit 10,000 idle connections need (client and servers inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null
case " $ROWS " in *" idle "*)
    n=$(ulimit -n)
    [ "$n" = unlimited ] || [ "$n" -ge $((IDLE_N + 200)) ] ||
        { echo "$me: ulimit -n is $n (hard $(ulimit -Hn)); the idle row needs $((IDLE_N + 200)) (IDLE_N= for fewer)" >&2; exit 2; };;
esac

"$PEERS/mkwww.sh" >/dev/null || { echo "$me: $PEERS/mkwww.sh failed" >&2; exit 1; }
WWW=$PEERS/run/www
pki=$work/pki
"$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import tlspki; tlspki.make_pki(sys.argv[2])' \
    "$TOP/tests/integration" "$pki" || { echo "$me: tlspki.make_pki failed" >&2; exit 1; }
# nginx's master reads the certificate as root; the workers need nothing of it.
chmod 755 "$work"

# ---- mpmd ----------------------------------------------------------------
# bench.sh's single-site configuration plus TLS; $3...: more lines.
mpmd_conf() {
    local plain=$1 err=$2
    shift 2
    cat <<CONF
# As bench.sh's single-site mpmd (2 children, sendfile, long keep-alive), plus TLS.
Listen 127.0.0.1:$plain http
Listen 127.0.0.1:$(tls "$plain") https
DocumentRoot $WWW
MPM ${MPMD_MPM:-event}
StartServers 2
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
KeepAliveTimeout 120
MaxKeepAliveRequests 0
ErrorLog $err
LogLevel notice
SSLEngine on
SSLCertificateFile $pki/ec.crt
SSLCertificateKeyFile $pki/ec.key
SSLProtocol TLSv1.3
CONF
    printf '%s\n' "$@"
}
mpmd_conf "$MPMD_P" "$work/error.log" "AccessLog off" > "$work/mpmd.conf"
mpmd_conf "$MPMD_LOG_P" "$work/error-log.log" \
    'LogFormat "%{SSL_PROTOCOL}x %{SSL_CIPHER}x %{SSL_SESSION_RESUMED}x %{SSL_TLS_SNI}x %{HTTPS}x %>s" tlsbench' \
    "CustomLog $work/access-mpmd.log tlsbench" > "$work/mpmd-log.conf"
mpmd_conf "$MPMD_IDLE_P" "$work/error-idle.log" "AccessLog off" > "$work/mpmd-idle.conf"
for c in mpmd mpmd-log mpmd-idle; do
    "$MPMD" -t -f "$work/$c.conf" > "$work/$c.t" 2>&1 ||
        { echo "$me: mpmd rejects the $c configuration (mpmd -t): $(grep -v '^Syntax OK' "$work/$c.t" | head -3)" >&2; exit 1; }
done
# Start mpmd -f $1; wait until it serves /index.html over plain HTTP on $2
# and over TLS on $2+TLS_OFFSET.  Its pid goes to $started.
start_mpmd() {
    "$MPMD" -f "$1" &
    started=$!
    for _ in $(seq 50); do
        kill -0 "$started" 2>/dev/null || return 1
        curl -sf -o /dev/null "http://127.0.0.1:$2/index.html" &&
            curl -sfk -o /dev/null "https://127.0.0.1:$(tls "$2")/index.html" && return 0
        sleep 0.1
    done
    return 1
}

# ---- nginx ---------------------------------------------------------------
# The kit's nginx.conf.in as peers.sh renders it, its server block replaced
# by a TLS one (plus the plain twin for http-bench.sh's probe).  $1: dir,
# $2: plain port, $3: access log file or "off".
nginx_conf() {
    local d=$1 plain=$2 alog=$3 blocks=$1/server.conf ktls=""
    [ -e /proc/net/tls_stat ] && ktls="    ssl_conf_command Options KTLS;"
    {
        [ "$alog" != off ] &&
            echo "  log_format tlsbench '\$ssl_protocol \$ssl_cipher \$ssl_session_reused \$ssl_server_name \$https \$status';"
        cat <<BLOCK
  server {
    listen 127.0.0.1:$(tls "$plain") ssl backlog=4096;
    listen 127.0.0.1:$plain backlog=4096;
    root $WWW;
    index index.html;
    ssl_certificate     $pki/ec.crt;
    ssl_certificate_key $pki/ec.key;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites $SUITES13;
    ssl_prefer_server_ciphers on;
    ssl_session_tickets on;
    ssl_session_timeout 1h;
$ktls
BLOCK
        [ "$alog" != off ] && echo "    access_log $alog tlsbench;"
        echo "  }"
    } > "$blocks"
    sed -e "s|@DIR@|$d|g" -e "s|@WWW@|$WWW|g" -e "s|@PORT@|$plain|g" "$PEERS/conf/nginx.conf.in" |
    awk -v blocks="$blocks" '
        !done && /^[ \t]*server[ \t]*\{/ { skip = 1; depth = 0 }
        skip {
            depth += gsub(/\{/, "{") - gsub(/\}/, "}")
            if (depth == 0) { skip = 0; done = 1; while ((getline l < blocks) > 0) print l }
            next
        }
        { print }
        END { if (!done) exit 1 }'
}
start_nginx() {  # $1: dir, $2: plain port, $3: access log or off
    local d=$1
    mkdir -p "$d/temp"
    chown www-data "$d" 2>/dev/null || chmod 1777 "$d"
    nginx_conf "$d" "$2" "$3" > "$d/nginx.conf" || { echo "$me: no server block in $PEERS/conf/nginx.conf.in" >&2; return 1; }
    nginx -t -q -p "$d/" -c "$d/nginx.conf" > "$d/t.log" 2>&1 ||
        { echo "$me: nginx rejects its configuration: $(head -2 "$d/t.log")" >&2; return 1; }
    nginx -p "$d/" -c "$d/nginx.conf" > "$d/stdout.log" 2>&1 ||
        { echo "$me: nginx did not start: $(tail -1 "$d/stdout.log")" >&2; return 1; }
    for _ in $(seq 50); do
        curl -sfk -o /dev/null "https://127.0.0.1:$(tls "$2")/index.html" && return 0
        sleep 0.1
    done
    echo "$me: nginx in $d does not answer on port $(tls "$2")" >&2
    return 1
}

start_nginx "$work/nginx" "$NGINX_P" off || exit 1
start_nginx "$work/nginx-log" "$NGINX_LOG_P" "$work/access-nginx.log" || exit 1
start_mpmd "$work/mpmd.conf" "$MPMD_P"; up=$?; mpmd_pid=$started
[ "$up" = 0 ] || { echo "$me: mpmd did not start on ports $MPMD_P/$(tls "$MPMD_P") (PORT= to pick others): $(tail -2 "$work/error.log" 2>/dev/null)" >&2; exit 1; }
start_mpmd "$work/mpmd-log.conf" "$MPMD_LOG_P"; up=$?; mpmd_log_pid=$started
[ "$up" = 0 ] || { echo "$me: the logged mpmd did not start on ports $MPMD_LOG_P/$(tls "$MPMD_LOG_P"): $(tail -2 "$work/error-log.log" 2>/dev/null)" >&2; exit 1; }

# What each server negotiates (one handshake each, with the client the rows use).
negotiated() {  # $1: TLS port -> "TLSv1.3 TLS_AES_128_GCM_SHA256 ECDSA"
    echo | openssl s_client -connect "127.0.0.1:$1" -CAfile "$pki/ca.crt" 2>/dev/null |
        awk '/^New, /{p=$2; c=$NF} /^Peer signature type:/{s=$4} END{sub(",", "", p); print p, c, s}'
}
# What a client sees at the end of a "Connection: close" response: a
# close_notify alert ("yes") or a bare TCP close ("no").  $1: TLS port.
close_notify() {
    printf 'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
        timeout 5 openssl s_client -connect "127.0.0.1:$1" -ign_eof -msg 2>/dev/null |
        awk '/^<<< .*Alert.*close_notify/ { n++ } END { print (n ? "yes" : "no") }'
}
# NewSessionTicket messages the server sends after a resumed TLS 1.3
# handshake (nginx renews the ticket every time; 0 saves the server that
# work in row 4).  $1: TLS port.
tickets_after_resume() {
    local f=$work/sess.$1.pem req='GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
    printf "$req" | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$1" -sess_out "$f" -ign_eof >/dev/null 2>&1
    (printf "$req"; sleep 1) | timeout 5 openssl s_client -connect "127.0.0.1:$1" -sess_in "$f" -msg 2>/dev/null |
        awk '/^Reused,/ { r = 1 } /^<<< .*NewSessionTicket/ { n++ } END { print (r ? n + 0 : "none (did not resume)") }'
}
tls_stat() { [ -r /proc/net/tls_stat ] && awk '$1 == "TlsTxSw" { print $2 }' /proc/net/tls_stat; }
ktls_before=$(tls_stat)

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores; ROUNDS=$ROUNDS DURATION=$DURATION; mpmd $("$MPMD" -V | head -1); $(nginx -v 2>&1 | sed 's|nginx version: ||'); $(openssl version | cut -d' ' -f1-2)"
echo "# same certificate (ECDSA P-256) on both; TLS 1.3; negotiated: mpmd $(negotiated "$(tls "$MPMD_P")"), nginx $(negotiated "$(tls "$NGINX_P")")"
echo "# close_notify after a Connection: close response: mpmd $(close_notify "$(tls "$MPMD_P")"), nginx $(close_notify "$(tls "$NGINX_P")"); tickets sent after a resumed TLS 1.3 handshake: mpmd $(tickets_after_resume "$(tls "$MPMD_P")"), nginx $(tickets_after_resume "$(tls "$NGINX_P")")"
if [ -e /proc/net/tls_stat ]; then
    echo "# kTLS: /proc/net/tls_stat present; mpmd says: $(grep -o 'kTLS: .*' "$work/error.log" | head -1)"
else
    echo "# kTLS: not in use (no /proc/net/tls_stat: the kernel's tls module is not loaded or not built); mpmd says: $(grep -o 'kTLS: .*' "$work/error.log" | head -1)"
fi

# One rotation of LIST over R rounds: prints the order for round $1.
rotate() {  # $1 round, rest: items
    local r=$1 n i
    shift
    n=$#
    local a=("$@")
    for i in $(seq 0 $((n - 1))); do printf '%s ' "${a[$(((i + r - 1) % n))]}"; done
}

: > "$work/rows.txt"   # row=NAME label=L round=R value=V [p99_ms=..] [extra]

# ---- rows 1-2: keep-alive throughput through http-bench.sh ----------------
row_keepalive() {
    cat > "$work/wrk-tls" <<EOF
#!/bin/sh
# wrk over TLS for http-bench.sh: it probes the plain port P, wrk gets https://HOST:(P+$TLS_OFFSET)
for a; do
  case \$a in
    http://*) hp=\${a#http://}; path=/\${hp#*/}; hp=\${hp%%/*}; h=\${hp%:*}; p=\${hp##*:}
              set -- "\$@" "https://\$h:\$((p + $TLS_OFFSET))\$path";;
    *) set -- "\$@" "\$a";;
  esac
  shift
done
exec wrk "\$@"
EOF
    chmod +x "$work/wrk-tls"
    echo
    echo "## rows 1-2: keep-alive over TLS (http-bench.sh through wrk-tls: wrk -t1 -c64, DURATION=$DURATION s, warm-up 2 s)"
    local r
    for r in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2046
        set -- $(rotate "$r" "mpmd-tls:$MPMD_P" "nginx-tls:$NGINX_P")
        WRK="$work/wrk-tls" CASES="small-keepalive 1m-keepalive" ROUNDS=1 DUR=$DURATION \
            SERVERS="$1" EXTRA="$2" "$PEERS/run-rounds.sh" | sed "s/^round=1 /round=$r /"
    done > "$work/raw-keepalive.txt"
    "$PEERS/summarize.py" "$work/raw-keepalive.txt" | awk '
        /^## / { keep = ($2 == "rps:" || $2 == "mib_s:" || $2 == "errors:") }
        keep'
    "$PY" - "$work/raw-keepalive.txt" >> "$work/rows.txt" <<'PY'
import sys
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if kv.get("status") != "ok":
        if "case" in kv:
            print("row=%s label=%s round=%s failed=1" % (kv["case"], kv["label"].replace("-tls", ""), kv["round"]))
        continue
    m = "mib_s" if kv["case"] == "1m-keepalive" else "rps"
    print("row=%s label=%s round=%s value=%s p99_ms=%s errors=%s" % (
        kv["case"], kv["label"].replace("-tls", ""), kv["round"], kv[m], kv["p99_ms"], kv["errors"]))
PY
}

# ---- rows 3-4: handshakes per second, checked in the access logs ----------
# h2load batches for DURATION seconds of wall time against TLS port $2:
#   full:    `h2load --h1 -t2 -c B -n B` (B = HS_BATCH): one request per
#            client, each on a new connection with a full handshake (a fresh
#            h2load has no session to resume); B stays under mpmd's listen
#            backlog (511, Apache's ListenBacklog) so the row measures
#            handshakes, not SYN retransmits.
#   resumed: `h2load --h1 -t2 -c 64 -n HS_RESUME_N -H 'Connection: close'`:
#            every response ends the connection and h2load's next connection
#            resumes the session it had (the first 64 of each batch are full).
# Prints "REQUESTS SECONDS FAILED": the requests that succeeded, the sum of
# h2load's "finished in" times (its start-up not counted), the failed ones.
h2load_batches() {
    local row=$1 port=$2 end out=$work/h2load.out
    end=$(($(date +%s) + DURATION))
    : > "$out.all"
    while :; do
        if [ "$row" = full ]; then
            h2load --h1 -t2 -c "$HS_BATCH" -n "$HS_BATCH" "https://127.0.0.1:$port/index.html" > "$out" 2>&1
        else
            h2load --h1 -t2 -c 64 -n "$HS_RESUME_N" -H 'Connection: close' \
                "https://127.0.0.1:$port/index.html" > "$out" 2>&1
        fi
        cat "$out" >> "$out.all"
        [ "$(date +%s)" -lt "$end" ] || break
    done
    awk '
        /^finished in / { t = $3; sub(/,$/, "", t)
            if (t ~ /ms$/) s += t / 1000; else if (t ~ /us$/) s += t / 1e6; else s += t + 0 }
        /^requests: / { ok += $8; bad += $10 + $12 + $14 }
        END { printf "%d %.3f %d\n", ok, s, bad }' "$out.all"
}
log_count() {  # $1: log file -> "INITIAL RESUMED OTHER"
    awk '{ if ($3 == "Resumed" || $3 == "r") r++; else if ($3 == "Initial" || $3 == ".") i++; else o++ }
         END { printf "%d %d %d\n", i, r, o }' "$1" 2>/dev/null || echo "0 0 0"
}
row_handshakes() {  # $1: full|resumed
    local row=$1 r s port logf n secs bad i0 r0 o0 i1 r1 o1 how
    how="h2load --h1 -t2 -c $HS_BATCH -n $HS_BATCH (one request per connection), repeated"
    [ "$row" = resumed ] && how="h2load --h1 -t2 -c 64 -n $HS_RESUME_N -H 'Connection: close', repeated"
    echo
    echo "## row $([ "$row" = full ] && echo 3 || echo 4): $row TLS 1.3 handshakes/s ($how for $DURATION s; GET /index.html; access log on for both)"
    for r in $(seq "$ROUNDS"); do
        for s in $(rotate "$r" mpmd nginx); do
            if [ "$s" = mpmd ]; then port=$(tls "$MPMD_LOG_P"); logf=$work/access-mpmd.log
            else port=$(tls "$NGINX_LOG_P"); logf=$work/access-nginx.log; fi
            read -r i0 r0 o0 < <(log_count "$logf")
            read -r n secs bad < <(h2load_batches "$row" "$port")
            sleep 0.5
            read -r i1 r1 o1 < <(log_count "$logf")
            echo "row=$row label=$s round=$r value=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }') requests=$n seconds=$secs failed=$bad log_initial=$((i1 - i0)) log_resumed=$((r1 - r0)) log_other=$((o1 - o0))" |
                tee -a "$work/rows.txt"
            sleep 1
        done
    done
}

# ---- row 5: idle TLS connections ------------------------------------------
# Each measurement gets a server started for it (the quiet configuration on
# its own ports): memory a server freed stays in its heap, so a second run
# on the same processes would show less growth than the first.
row_idle() {
    local r s port pid line up
    echo
    echo "## row 5: $IDLE_N idle TLS keep-alive connections (idle-tls.py: full handshake + GET /index.html each, held; RSS of the whole process tree of a freshly started server)"
    for r in $(seq "$ROUNDS"); do
        for s in $(rotate "$r" mpmd nginx); do
            if [ "$s" = mpmd ]; then
                start_mpmd "$work/mpmd-idle.conf" "$MPMD_IDLE_P"; up=$?; mpmd_idle_pid=$started
                [ "$up" = 0 ] || { echo "WARNING: the idle row's mpmd did not start: $(tail -1 "$work/error-idle.log")"; stop_pid "$mpmd_idle_pid"; mpmd_idle_pid=""; continue; }
                port=$(tls "$MPMD_IDLE_P"); pid=$mpmd_idle_pid
            else
                start_nginx "$work/nginx-idle" "$NGINX_IDLE_P" off || continue
                port=$(tls "$NGINX_IDLE_P"); pid=$(cat "$work/nginx-idle/nginx.pid")
            fi
            line=$("$PY" "$HERE/idle-tls.py" "127.0.0.1:$port" -n "$IDLE_N" --pid "$pid" --label "$s" \
                   --cafile "$pki/ca.crt" --tls13 2>"$work/idle-$s.err") || tail -3 "$work/idle-$s.err"
            if [ "$s" = mpmd ]; then stop_pid "$mpmd_idle_pid"; mpmd_idle_pid=""
            else stop_nginx "$work/nginx-idle"; fi
            [ -n "$line" ] || continue
            echo "round=$r $line"
            # the fields the summary needs, as row=idle ... value=GROWTH_KB
            echo "$line" | awk -v r="$r" -v s="$s" '{
                for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                printf "row=idle label=%s round=%s value=%s opened=%s rss_before_kb=%s rss_holding_kb=%s per_conn_b=%s fresh_p99_ms=%s\n",
                    s, r, v["growth_kb"], v["opened"], v["rss_before_kb"], v["rss_holding_kb"], v["per_conn_b"], v["fresh_p99_ms"]
            }' >> "$work/rows.txt"
            sleep 1
        done
    done
}

for row in $ROWS; do
    case $row in
        keepalive) row_keepalive;;
        full|resumed) row_handshakes "$row";;
        idle) row_idle;;
        *) echo "$me: unknown row '$row' (keepalive full resumed idle)" >&2; exit 2;;
    esac
done

for s in "mpmd:$mpmd_pid" "mpmd-log:$mpmd_log_pid"; do
    kill -0 "${s#*:}" 2>/dev/null || echo "WARNING: ${s%%:*} (pid ${s#*:}) exited during the run"
done
ktls_after=$(tls_stat)

echo
"$PY" - "$work/rows.txt" "$ROUNDS" "$IDLE_N" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if "value" in kv:
        rows[(kv["row"], kv["label"])].append(kv)
    elif kv.get("failed"):
        print("FAILED:", line.strip())
spec = [  # row, case text, unit, bracket field, target, higher-is-better
    ("small-keepalive", "small-keepalive rps", "rps", "p99_ms", 1.2, True),
    ("1m-keepalive", "1m-keepalive MiB/s", "MiB/s", "p99_ms", 1.0, True),
    ("full", "full handshakes/s", "conn/s", None, 1.0, True),
    ("resumed", "resumed handshakes/s", "conn/s", None, 1.0, True),
    ("idle", "idle RSS growth kB", "kB", None, 1.0, False),
]
def med(row, label, field="value"):
    v = [float(k[field]) for k in rows.get((row, label), []) if k.get(field) not in (None, "", "nan")]
    return statistics.median(v) if v else None
print(f"## mpmd / nginx over TLS (median of {sys.argv[2]} rounds; p99 ms in brackets where wrk measured it)")
print("| case | mpmd | nginx | mpmd/nginx | target | verdict |")
print("|---|---|---|---|---|---|")
for row, text, unit, br, target, up in spec:
    a, b = med(row, "mpmd"), med(row, "nginx")
    if a is None and b is None:
        continue
    def cell(l, v):
        if v is None:
            return "-"
        s = f"{v:.0f}"
        if br and med(row, l, br) is not None:
            s += f" [{med(row, l, br):.1f}]"
        return s
    ratio = a / b if a is not None and b else None
    if ratio is None:
        verdict = "FAIL (no data)"
    else:
        verdict = "PASS" if (ratio >= target if up else ratio <= target) else "FAIL"
    tgt = (">= " if up else "<= ") + f"{target}"
    print(f"| {text} | {cell('mpmd', a)} | {cell('nginx', b)} | {ratio:.2f} | {tgt} | {verdict} |"
          if ratio is not None else f"| {text} | {cell('mpmd', a)} | {cell('nginx', b)} | - | {tgt} | {verdict} |")
# What the handshake rows were, from the access logs.
for row in ("full", "resumed"):
    for l in ("mpmd", "nginx"):
        rs = rows.get((row, l), [])
        if not rs:
            continue
        n = sum(int(k["requests"]) for k in rs)
        bad = sum(int(k["failed"]) for k in rs)
        ini = sum(int(k["log_initial"]) for k in rs)
        res = sum(int(k["log_resumed"]) for k in rs)
        oth = sum(int(k["log_other"]) for k in rs)
        want, got = (ini, "Initial") if row == "full" else (res, "Resumed")
        tot = ini + res + oth
        share = want / tot if tot else 0
        ok = "ok" if tot and share >= (0.99 if row == "full" else 0.95) else "CHECK"
        print(f"{row} handshakes, {l}: {n} requests ({bad} failed, h2load); access log {ini} initial /"
              f" {res} resumed / {oth} other: {100 * share:.1f} % {got} [{ok}]")
for l in ("mpmd", "nginx"):
    rs = rows.get(("idle", l), [])
    if rs:
        print(f"idle, {l}: opened " + ", ".join(f"{k['opened']}" for k in rs) + f" of {sys.argv[3]};"
              " per connection " + ", ".join(f"{k['per_conn_b']} B" for k in rs) +
              "; fresh TLS request p99 " + ", ".join(f"{k['fresh_p99_ms']} ms" for k in rs))
PY
if [ -n "$ktls_before" ]; then
    echo "kTLS: active? TlsTxSw went from $ktls_before to $ktls_after during the run ($((ktls_after - ktls_before)) connections sent through the kernel)"
else
    echo "kTLS: not active (no /proc/net/tls_stat on this kernel: every TLS byte was encrypted in user space by both servers)"
fi
[ -s "$work/error.log" ] && grep -v -e 'kTLS: ' -e 'notice' "$work/error.log" | head -5 | sed 's/^/mpmd error log: /'
exit 0
