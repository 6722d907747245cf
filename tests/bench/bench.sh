#!/usr/bin/env bash
# bench.sh: mpmd against nginx (and h2o when installed), side by side, in
# interleaved rounds, with the shared peer kit (../shared/bench).  Run by
# `make bench`; not part of `make check` (timing never decides a test).
#
#   MPMD=src/mpmd BENCH_DIR=../shared/bench [ROUNDS=3] [DUR=6] [IDLE=1] [CPU=1] \
#     [MATRIX=1] [ROUTING=full|vhosts|off] [ROUTE_ROOT=0] tests/bench/bench.sh
#
# Prints the peers kit's summary (median [min-max] per server and case), a
# table of mpmd/peer ratios, the routing comparison (below), CPU per request
# under small-c1000 (cpu-share.sh), and the idle-connections run (10,000 idle
# keep-alive connections: RSS growth and fresh-request latency).
#
# Routing comparison (ROUTING=full, the default): a second mpmd, configured
# as the single-site one plus 3 name-based <VirtualHost>s (a.test, b.test,
# c.test) and 20 <Location> sections with `Header set` in b.test's, and an
# nginx with the peer kit's settings, the same 3 server blocks and 20
# `location` blocks with add_header; none of the sections matches the URL.
# All three (single-site mpmd included) get /index.html with "Host: b.test",
# wrk -t1 -c64 (small-keepalive), in max(ROUNDS,3) interleaved rounds whose
# order rotates every round; prints the medians and the ratios routed/single
# (target >= 0.95) and mpmd-routed/nginx-routed (target >= 1.3).  If mpmd
# refuses that configuration (`mpmd -t`) the comparison is skipped with a
# line saying why.  Knobs: ROUTING=vhosts (3 virtual hosts, no location
# sections, on both servers), ROUTING=off; ROUTE_ROOT=1 adds one parent
# section that does match (<Location /> / location /, one more header);
# ROUTE_PORT (default PORT+1, mpmd) and NGINX_ROUTE_PORT (PORT+2).
# MATRIX=0 skips the peers matrix (e.g. MATRIX=0 CPU=0 IDLE=0: routing only).
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd)}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-6}
IDLE=${IDLE:-1}
MATRIX=${MATRIX:-1}
PORT=${PORT:-8086}
ROUTING=${ROUTING:-full}
ROUTE_ROOT=${ROUTE_ROOT:-0}
ROUTE_PORT=${ROUTE_PORT:-$((PORT + 1))}
NGINX_ROUTE_PORT=${NGINX_ROUTE_PORT:-$((PORT + 2))}
PEERS=$BENCH_DIR/peers
[ -x "$PEERS/peers.sh" ] || { echo "bench.sh: no peer kit at $PEERS (set BENCH_DIR)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench.sh: wrk missing (apt-get install wrk)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "bench.sh: nginx missing (run $PEERS/setup.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/mpmd-bench.XXXXXX)
peers="nginx"
command -v h2o >/dev/null && peers="$peers h2o"
mpmd_pid=""
routed_pid=""
nginx_routed=$work/nginx-routed
stop_nginx_routed() {
    local p
    [ -s "$nginx_routed/nginx.pid" ] || return 0
    p=$(cat "$nginx_routed/nginx.pid")
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
}
cleanup() {
    [ -n "$mpmd_pid" ] && kill -TERM "$mpmd_pid" 2>/dev/null && wait "$mpmd_pid" 2>/dev/null
    [ -n "$routed_pid" ] && kill -TERM "$routed_pid" 2>/dev/null && wait "$routed_pid" 2>/dev/null
    stop_nginx_routed
    for p in $peers; do "$PEERS/peers.sh" stop "$p" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT

# Start mpmd -f $1 and wait until it serves /index.html on port $2; its pid
# goes to $started.  Returns 1 if it exits or does not answer within 5 s.
start_mpmd() {
    "$MPMD" -f "$1" &
    started=$!
    for _ in $(seq 50); do
        kill -0 "$started" 2>/dev/null || return 1
        curl -sf -o /dev/null "http://127.0.0.1:$2/index.html" && return 0
        sleep 0.1
    done
    return 1
}

# The single-site configuration for port $1, error log $2 (the routed one
# adds its sections after it).
mpmd_conf() {
    cat <<CONF
# Comparable to the peers: 2 children (nginx: worker_processes 2), sendfile,
# access log off, long keep-alive.
Listen 127.0.0.1:$1
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
ErrorLog $2
LogLevel warn
CONF
}

"$PEERS/mkwww.sh" >/dev/null
mpmd_conf "$PORT" "$work/error.log" > "$work/mpmd.conf"
ulimit -n "$(ulimit -Hn)"
start_mpmd "$work/mpmd.conf" "$PORT"; up=$?
mpmd_pid=$started
[ "$up" = 0 ] || { echo "bench.sh: mpmd did not start on port $PORT (PORT= to pick another)" >&2; exit 1; }
for p in $peers; do "$PEERS/peers.sh" start "$p" >/dev/null || exit 1; done

servers="nginx:8081"
case " $peers " in *" h2o "*) servers="$servers h2o:8085";; esac
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores; ROUNDS=$ROUNDS DUR=$DUR; mpmd $("$MPMD" -V | head -1)"
if [ "$MATRIX" = 1 ]; then
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
fi

# ---- routing: 3 name-based virtual hosts and 20 location sections -------
# Location prefixes of mixed depths; none is a prefix of /index.html.
route_locs="/p01 /p02/a /p03/a/b /p04/a/b/c /api /api/v1 /api/v1/users /api/v2/orders/items
    /static /static/css /static/js/vendor /downloads /blog/2025 /blog/2025/12/post /shop/cart
    /shop/checkout/pay /admin /admin/tools/x/y /assets/img /zz/deep/er/than/most"
# The sites' doc roots: copies of the peers' (so each answers /vhost.txt
# with its own letter), plus /p01/x.txt in b.test's to see a location's header.
route_www() {
    local v
    for v in a b c; do
        mkdir -p "$work/www-$v" && cp "$PEERS"/run/www/* "$work/www-$v/" && echo "$v" > "$work/www-$v/vhost.txt" || return 1
    done
    mkdir -p "$work/www-b/p01" && echo x > "$work/www-b/p01/x.txt"
    chmod 755 "$work" && chmod -R a+rX "$work"/www-?    # nginx's workers run as www-data
}
# mpmd: the single-site configuration on $ROUTE_PORT plus the sections.
route_mpmd_conf() {
    local v i=0 loc
    mpmd_conf "$ROUTE_PORT" "$work/error-routed.log"
    for v in a b c; do
        printf '<VirtualHost 127.0.0.1:%s>\n    ServerName %s.test\n    DocumentRoot %s\n' \
            "$ROUTE_PORT" "$v" "$work/www-$v"
        if [ "$v" = b ] && [ "$ROUTING" = full ]; then
            [ "$ROUTE_ROOT" = 1 ] && printf '    <Location />\n        Header set X-Loc root\n    </Location>\n'
            for loc in $route_locs; do
                i=$((i + 1))
                printf '    <Location %s>\n        Header set X-Loc %02d\n    </Location>\n' "$loc" "$i"
            done
        fi
        printf '</VirtualHost>\n'
    done
}
# nginx: the peer kit's nginx.conf.in as peers.sh renders it, its server
# block replaced by the 3 server blocks (a.test first: the default server).
route_nginx_conf() {
    local v i=0 loc opt blocks=$nginx_routed/servers.conf
    for v in a b c; do
        opt=""; [ "$v" = a ] && opt=" backlog=4096"   # listen options go on one listen only
        printf '  server {\n    listen 127.0.0.1:%s%s;\n    server_name %s.test;\n    root %s;\n    index index.html;\n' \
            "$NGINX_ROUTE_PORT" "$opt" "$v" "$work/www-$v"
        if [ "$v" = b ] && [ "$ROUTING" = full ]; then
            [ "$ROUTE_ROOT" = 1 ] && printf '    location / { add_header X-Loc root; }\n'
            for loc in $route_locs; do
                i=$((i + 1))
                printf '    location %s { add_header X-Loc %02d; }\n' "$loc" "$i"
            done
        fi
        printf '  }\n'
    done > "$blocks"
    sed -e "s|@DIR@|$nginx_routed|g" -e "s|@WWW@|$PEERS/run/www|g" -e "s|@PORT@|$NGINX_ROUTE_PORT|g" \
        "$PEERS/conf/nginx.conf.in" |
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
# A response header (lower-case name $3) of GET $2 with "Host: $1" from port $4; "-" if none.
route_header() {
    curl -s -o /dev/null -D - -H "Host: $1" "http://127.0.0.1:$4$2" | tr -d '\r' |
        awk -v h="$3" 'BEGIN { v = "-" } tolower($1) == h ":" { v = $2 } END { print v }'
}
# What the three rows must see: /vhost.txt by Host, X-Loc only where a section matches.
route_check() {  # LABEL PORT
    local v got want
    for v in a b c; do
        got=$(curl -s -H "Host: $v.test" "http://127.0.0.1:$2/vhost.txt")
        [ "$got" = "$v" ] || echo "WARNING: routing: $1 answered /vhost.txt for Host $v.test with '$got', expected '$v'"
    done
    if [ "$ROUTING" = full ]; then
        got=$(route_header b.test /p01/x.txt x-loc "$2")
        [ "$got" = 01 ] || echo "WARNING: routing: $1 sent X-Loc '$got' for b.test /p01/x.txt, expected 01"
        want=-; [ "$ROUTE_ROOT" = 1 ] && want=root
        got=$(route_header b.test /index.html x-loc "$2")
        [ "$got" = "$want" ] || echo "WARNING: routing: $1 sent X-Loc '$got' for b.test /index.html, expected '$want'"
    fi
}
routing() {
    local what rounds r i n list rot t
    case $ROUTING in
        full) what="3 name-based virtual hosts + 20 location sections (in b.test)";;
        vhosts) what="3 name-based virtual hosts, no location sections";;
        *) echo "bench.sh: ROUTING must be full, vhosts or off, got '$ROUTING'" >&2; return 1;;
    esac
    [ "$ROUTE_ROOT" = 1 ] && [ "$ROUTING" = full ] && what="$what + <Location /> (matches)"
    echo
    echo "## routing: $what; GET /index.html, Host: b.test, wrk -t1 -c64"
    route_www || { echo "routing: skipped: cannot copy the doc root to $work"; return 0; }
    route_mpmd_conf > "$work/mpmd-routed.conf"
    if ! "$MPMD" -t -f "$work/mpmd-routed.conf" > "$work/mpmd-routed.t" 2>&1; then
        echo "routing: skipped: mpmd rejects the routed configuration (mpmd -t): $(grep -v '^Syntax OK' "$work/mpmd-routed.t" | head -1)"
        [ "$ROUTING" = full ] && echo "routing: (ROUTING=vhosts measures the 3 virtual hosts without the location sections)"
        return 0
    fi
    mkdir -p "$nginx_routed/temp"
    route_nginx_conf > "$nginx_routed/nginx.conf" || { echo "routing: skipped: no server block in $PEERS/conf/nginx.conf.in"; return 0; }
    nginx -t -q -p "$nginx_routed/" -c "$nginx_routed/nginx.conf" > "$nginx_routed/t.log" 2>&1 ||
        { echo "routing: skipped: nginx rejects the routed configuration: $(head -1 "$nginx_routed/t.log")"; return 0; }
    nginx -p "$nginx_routed/" -c "$nginx_routed/nginx.conf" > "$nginx_routed/stdout.log" 2>&1 ||
        { echo "routing: skipped: nginx did not start: $(tail -1 "$nginx_routed/stdout.log")"; return 0; }
    for _ in $(seq 30); do [ -s "$nginx_routed/nginx.pid" ] && break; sleep 0.1; done
    start_mpmd "$work/mpmd-routed.conf" "$ROUTE_PORT"; t=$?
    routed_pid=$started
    if [ "$t" != 0 ]; then
        echo "routing: skipped: the routed mpmd did not start on port $ROUTE_PORT (ROUTE_PORT= to pick another): $(tail -1 "$work/error-routed.log" 2>/dev/null)"
        return 0
    fi
    route_check mpmd-routed "$ROUTE_PORT"
    route_check nginx-routed "$NGINX_ROUTE_PORT"
    # wrk through http-bench.sh, with the Host header of the routed case.
    printf '#!/bin/sh\nexec wrk -H "Host: b.test" "$@"\n' > "$work/wrk-host"
    chmod +x "$work/wrk-host"
    rounds=$ROUNDS; [ "$rounds" -lt 3 ] && rounds=3
    list=("mpmd:$PORT" "mpmd-routed:$ROUTE_PORT" "nginx-routed:$NGINX_ROUTE_PORT")
    n=${#list[@]}
    for r in $(seq "$rounds"); do   # interleaved; who goes first rotates
        rot=()
        for i in $(seq 0 $((n - 1))); do rot+=("${list[$(((i + r - 1) % n))]}"); done
        WRK="$work/wrk-host" CASES=small-keepalive ROUNDS=1 DUR=$DUR SERVERS="${rot[0]}" \
            EXTRA="${rot[*]:1}" "$PEERS/run-rounds.sh" | sed "s/^round=1 /round=$r /"
    done > "$work/raw-routing.txt"
    python3 - "$work/raw-routing.txt" "$rounds" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if kv.get("status") == "ok":
        rows[kv["label"]].append(kv)
    elif "case" in kv:
        print("FAILED:", line.strip())
def med(l, m):
    v = [float(k[m]) for k in rows.get(l, [])]
    return statistics.median(v) if v else None
def cell(l):
    r = med(l, "rps")
    return f"{r:.0f} [{med(l, 'p99_ms'):.1f}]" if r else "-"
def ratio(a, b):
    a, b = med(a, "rps"), med(b, "rps")
    return f"{a / b:.2f}" if a and b else "-"
print(f"(median rps of {sys.argv[2]} rounds, p99 ms in brackets)")
print("| case | mpmd single-site | mpmd routed | nginx routed | routed/single (target >= 0.95) "
      "| mpmd-routed/nginx-routed (target >= 1.3) |")
print("|---|---|---|---|---|---|")
print("| small-keepalive, Host: b.test | " + " | ".join(cell(l) for l in ("mpmd", "mpmd-routed", "nginx-routed"))
      + f" | {ratio('mpmd-routed', 'mpmd')} | {ratio('mpmd-routed', 'nginx-routed')} |")
spread = []
for l in ("mpmd", "mpmd-routed", "nginx-routed"):
    v = [float(k["rps"]) for k in rows.get(l, [])]
    e = sum(int(k["errors"]) for k in rows.get(l, []))
    spread.append(f"{l} {min(v):.0f}-{max(v):.0f} ({len(v)} rounds, {e} errors)" if v else f"{l} -")
print("rps min-max: " + "; ".join(spread))
PY
}
[ "$ROUTING" = off ] || routing
[ -n "$routed_pid" ] && kill -TERM "$routed_pid" 2>/dev/null && wait "$routed_pid" 2>/dev/null
routed_pid=""
stop_nginx_routed

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
