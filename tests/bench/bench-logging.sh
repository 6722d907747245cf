#!/usr/bin/env bash
# bench-logging.sh: what access logging and the extended scoreboard cost
# mpmd, against nginx with its access log on, in interleaved rounds, with
# the shared peer kit (../shared/bench).  Run by `make bench` after
# bench.sh; not part of `make check` (timing never decides a test).
#
#   MPMD=src/mpmd BENCH_DIR=../shared/bench [ROUNDS=3] [DUR=6] [JSON=0] \
#     [PORT=8096] tests/bench/bench-logging.sh
#
# Servers, started side by side (ports PORT..PORT+3; QUIET_PORT,
# LOGGED_PORT, NGINX_PORT, JSON_PORT override them one by one):
#   mpmd-quiet    bench.sh's single-site mpmd (2 children, event MPM,
#                 8 threads each), ExtendedStatus Off, no access log
#   mpmd-logged   the same with ExtendedStatus On, `CustomLog FILE combined`
#                 and <Location /server-status> / <Location /metrics>
#                 handlers (configured, not requested during the run)
#   nginx-logged  the peer kit's nginx.conf.in with `access_log FILE
#                 combined;` instead of `access_log off;`
#   mpmd-json     (JSON=1) mpmd-logged with `CustomLog FILE json`
# The log files are on disk, in a mktemp -d directory under TMPDIR (/tmp),
# removed at the end.  Every server gets /index.html of the peer kit's
# run/www (~100 B), wrk -t1 -c64 (http-bench.sh's small-keepalive, with its
# warm-up), DUR seconds, in ROUNDS interleaved rounds whose order rotates
# every round (3 rounds or more for the acceptance numbers).
#
# Prints the median [min-max] rps per server, the ratios mpmd-logged /
# mpmd-quiet (target >= 0.9) and mpmd-logged / nginx-logged (target >= 1.2)
# with PASS/FAIL, and per logging server the access log's lines divided by
# the requests wrk reported over the whole run, warm-ups and http-bench.sh's
# 3 HEAD probes per run included (~1.00: every request was logged; wrk does
# not count the responses in flight when it stops, so slightly above 1).
# Run time at the defaults: ~10 s per server and round (2 s warm-up, DUR,
# pauses), i.e. ~1.5 min for 3 servers x 3 rounds (2 min with JSON=1).
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd)}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-6}
JSON=${JSON:-0}
PORT=${PORT:-8096}
QUIET_PORT=${QUIET_PORT:-$PORT}
LOGGED_PORT=${LOGGED_PORT:-$((PORT + 1))}
NGINX_PORT=${NGINX_PORT:-$((PORT + 2))}
JSON_PORT=${JSON_PORT:-$((PORT + 3))}
PEERS=$BENCH_DIR/peers
me=bench-logging.sh
[ -x "$PEERS/peers.sh" ] || { echo "$me: no peer kit at $PEERS (set BENCH_DIR)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "$me: wrk missing (apt-get install wrk)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "$me: nginx missing (run $PEERS/setup.sh)" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "$me: ROUNDS must be a positive integer" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mpmd-bench-logging.XXXXXX") || exit 1
ngx=$work/nginx-logged
quiet_pid="" logged_pid="" json_pid=""
stop_pid() {  # TERM one server this script started, and wait for it
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    wait "$1" 2>/dev/null
}
stop_nginx() {
    local p
    [ -s "$ngx/nginx.pid" ] || return 0
    p=$(cat "$ngx/nginx.pid")
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
}
stop_all() {
    stop_pid "$quiet_pid"; stop_pid "$logged_pid"; stop_pid "$json_pid"
    quiet_pid="" logged_pid="" json_pid=""
    stop_nginx
}
cleanup() {
    stop_all
    rm -rf "$work"   # the access logs with it
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# bench.sh's single-site configuration for port $1, error log $2; what
# follows $2 is appended (the logging lines).
mpmd_conf() {
    local port=$1 err=$2
    shift 2
    cat <<CONF
# As bench.sh's single-site mpmd: 2 children (nginx: worker_processes 2),
# sendfile, long keep-alive.
Listen 127.0.0.1:$port
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
ErrorLog $err
LogLevel warn
CONF
    printf '%s\n' "$@"
}
logged_lines() {  # $1: the log file, $2: its format
    printf '%s\n' "ExtendedStatus On" "CustomLog $1 $2" \
        "<Location /server-status>" "    SetHandler server-status" "</Location>" \
        "<Location /metrics>" "    SetHandler metrics" "</Location>"
}
# nginx: the peer kit's nginx.conf.in as peers.sh renders it, its
# `access_log off;` replaced by a combined access log to $1 (or one added
# at the top of the http block if it has no access_log line).
nginx_conf() {
    sed -e "s|@DIR@|$ngx|g" -e "s|@WWW@|$PEERS/run/www|g" -e "s|@PORT@|$NGINX_PORT|g" \
        "$PEERS/conf/nginx.conf.in" |
    awk -v path="$1" '
        /^[ \t]*access_log[ \t]/ { sub(/access_log[^;]*;/, "access_log " path " combined;"); n++ }
        { lines[NR] = $0 }
        END {
            for (i = 1; i <= NR; i++) {
                print lines[i]
                if (!n && !added && lines[i] ~ /^[ \t]*http[ \t]*\{/) {
                    print "  access_log " path " combined;"; added = 1
                }
            }
            if (!n && !added) exit 1
        }'
}

"$PEERS/mkwww.sh" >/dev/null || { echo "$me: $PEERS/mkwww.sh failed" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
mpmd_conf "$QUIET_PORT" "$work/error-quiet.log" "ExtendedStatus Off" "AccessLog off" > "$work/mpmd-quiet.conf"
mpmd_conf "$LOGGED_PORT" "$work/error-logged.log" $'\n# logging' "$(logged_lines "$work/access.log" combined)" \
    > "$work/mpmd-logged.conf"
mpmd_conf "$JSON_PORT" "$work/error-json.log" $'\n# logging' "$(logged_lines "$work/access-json.log" json)" \
    > "$work/mpmd-json.conf"
confs="quiet logged"; [ "$JSON" = 1 ] && confs="$confs json"
for c in $confs; do
    "$MPMD" -t -f "$work/mpmd-$c.conf" > "$work/mpmd-$c.t" 2>&1 ||
        { echo "$me: mpmd rejects the mpmd-$c configuration (mpmd -t): $(grep -v '^Syntax OK' "$work/mpmd-$c.t" | head -1)" >&2; exit 1; }
done

# nginx's workers run as www-data: they must reach the temp dirs and, should
# the log be reopened, the log directory.
mkdir -p "$ngx/temp"
chmod 755 "$work"
chown www-data "$ngx" 2>/dev/null || chmod 1777 "$ngx"
nginx_conf "$ngx/access.log" > "$ngx/nginx.conf" || { echo "$me: no http block in $PEERS/conf/nginx.conf.in" >&2; exit 1; }
nginx -t -q -p "$ngx/" -c "$ngx/nginx.conf" > "$ngx/t.log" 2>&1 ||
    { echo "$me: nginx rejects its configuration: $(head -1 "$ngx/t.log")" >&2; exit 1; }
nginx -p "$ngx/" -c "$ngx/nginx.conf" > "$ngx/stdout.log" 2>&1 ||
    { echo "$me: nginx did not start: $(tail -1 "$ngx/stdout.log")" >&2; exit 1; }
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/index.html" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/index.html" ||
    { echo "$me: nginx-logged does not answer on port $NGINX_PORT (NGINX_PORT= to pick another)" >&2; exit 1; }

start_mpmd "$work/mpmd-quiet.conf" "$QUIET_PORT"; up=$?; quiet_pid=$started
[ "$up" = 0 ] || { echo "$me: mpmd-quiet did not start on port $QUIET_PORT (PORT= to pick another): $(tail -1 "$work/error-quiet.log" 2>/dev/null)" >&2; exit 1; }
start_mpmd "$work/mpmd-logged.conf" "$LOGGED_PORT"; up=$?; logged_pid=$started
[ "$up" = 0 ] || { echo "$me: mpmd-logged did not start on port $LOGGED_PORT: $(tail -1 "$work/error-logged.log" 2>/dev/null)" >&2; exit 1; }
if [ "$JSON" = 1 ]; then
    start_mpmd "$work/mpmd-json.conf" "$JSON_PORT"; up=$?; json_pid=$started
    [ "$up" = 0 ] || { echo "$me: mpmd-json did not start on port $JSON_PORT: $(tail -1 "$work/error-json.log" 2>/dev/null)" >&2; exit 1; }
fi

# What the servers must do before they are measured: the handlers answer on
# the logged mpmds, each log gets a line per request; then the logs are
# emptied (all three servers append, O_APPEND), so what the run leaves in
# them is the run's.
list=("mpmd-quiet:$QUIET_PORT" "mpmd-logged:$LOGGED_PORT" "nginx-logged:$NGINX_PORT")
logs=("mpmd-logged:$work/access.log" "nginx-logged:$ngx/access.log")
if [ "$JSON" = 1 ]; then
    list+=("mpmd-json:$JSON_PORT")
    logs+=("mpmd-json:$work/access-json.log")
fi
for s in "${list[@]}"; do
    [ "${s%%:*}" = mpmd-quiet ] || [ "${s%%:*}" = nginx-logged ] && continue
    p=${s##*:}
    curl -sf "http://127.0.0.1:$p/server-status?auto" | grep -q '^Total Accesses' ||
        echo "WARNING: ${s%%:*}: /server-status?auto has no 'Total Accesses' line"
    curl -sf "http://127.0.0.1:$p/metrics" | grep -q '^# TYPE' ||
        echo "WARNING: ${s%%:*}: /metrics has no '# TYPE' line"
done
for l in "${logs[@]}"; do
    [ -s "${l#*:}" ] || echo "WARNING: ${l%%:*}: nothing in its access log ${l#*:} after the checks"
done
samples=()
for l in "${logs[@]}"; do samples+=("${l%%:*}: $(head -1 "${l#*:}" 2>/dev/null)"); : > "${l#*:}"; done
[ -s "$work/error-quiet.log" ] && echo "WARNING: mpmd-quiet wrote to its error log: $(tail -1 "$work/error-quiet.log")"

# wrk through http-bench.sh, counting every request wrk reports (warm-ups
# included) per port, for the log-lines check.
cat > "$work/wrk-count" <<EOF
#!/bin/sh
out=\$(mktemp "$work/wrk.XXXXXX") || exit 1
wrk "\$@" > "\$out" 2>&1; rc=\$?
cat "\$out"
for a in "\$@"; do url=\$a; done
port=\$(echo "\$url" | sed -n 's|^http://[^/]*:\([0-9]*\).*|\1|p')
n=\$(awk '\$2 == "requests" && \$3 == "in" { print \$1 }' "\$out")
echo "\${port:-?} \${n:-0}" >> "$work/wrk-requests.txt"
rm -f "\$out"
exit \$rc
EOF
chmod +x "$work/wrk-count"
: > "$work/wrk-requests.txt"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores; ROUNDS=$ROUNDS DUR=$DUR; mpmd $("$MPMD" -V | head -1)"
echo
echo "## access logging: GET /index.html (~100 B), wrk -t1 -c64, logs on disk in ${TMPDIR:-/tmp}"
[ "$ROUNDS" -lt 3 ] && echo "(ROUNDS=$ROUNDS: fewer than the 3 rounds the acceptance rows need)"
n=${#list[@]}
for r in $(seq "$ROUNDS"); do   # interleaved; who goes first rotates
    rot=()
    for i in $(seq 0 $((n - 1))); do rot+=("${list[$(((i + r - 1) % n))]}"); done
    WRK="$work/wrk-count" CASES=small-keepalive ROUNDS=1 DUR=$DUR SERVERS="${rot[0]}" \
        EXTRA="${rot[*]:1}" "$PEERS/run-rounds.sh" | sed "s/^round=1 /round=$r /"
done > "$work/raw.txt"
for s in "mpmd-quiet:$quiet_pid" "mpmd-logged:$logged_pid" "mpmd-json:$json_pid"; do
    [ -n "${s#*:}" ] && ! kill -0 "${s#*:}" 2>/dev/null && echo "WARNING: ${s%%:*} (pid ${s#*:}) exited during the run"
done
# The line counts once the servers have stopped (every line written).
stop_all
: > "$work/lines.txt"
for l in "${logs[@]}"; do
    name=${l%%:*}
    for s in "${list[@]}"; do [ "${s%%:*}" = "$name" ] && port=${s##*:}; done
    echo "$name $port $(wc -l < "${l#*:}")" >> "$work/lines.txt"
done
python3 - "$work/raw.txt" "$ROUNDS" "$work/wrk-requests.txt" "$work/lines.txt" "${list[@]}" <<'PY'
import collections, statistics, sys
raw, rounds, wrkf, linesf, servers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
labels = [s.split(":")[0] for s in servers]
rows = collections.defaultdict(list)
for line in open(raw):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if kv.get("status") == "ok":
        rows[kv["label"]].append(kv)
    elif "case" in kv:
        print("FAILED:", line.strip())
sent = collections.Counter()
for line in open(wrkf):
    f = line.split()
    if len(f) == 2 and f[1].isdigit():
        sent[f[0]] += int(f[1])
lines = {}
for line in open(linesf):
    name, port, n = line.split()
    lines[name] = (port, int(n))
def rps(l):
    return [float(k["rps"]) for k in rows.get(l, [])]
def med(l):
    v = rps(l)
    return statistics.median(v) if v else None
print(f"(median [min-max] rps of {rounds} rounds, median p99 ms; log lines / requests wrk reported)")
print("| server | rps | p99 ms | errors | log lines / requests |")
print("|---|---|---|---|---|")
for l in labels:
    v = rps(l)
    cell = f"{statistics.median(v):.0f} [{min(v):.0f}-{max(v):.0f}]" if v else "-"
    p99 = [float(k["p99_ms"]) for k in rows.get(l, [])]
    err = sum(int(k["errors"]) for k in rows.get(l, []))
    if l in lines:
        port, n = lines[l]
        s = sent.get(port, 0)
        logc = f"{n} / {s} = {n / s:.3f}" if s else f"{n} / 0"
    else:
        logc = "- (no log)"
    print(f"| {l} | {cell} | {statistics.median(p99):.1f} | {err} | {logc} |" if p99 else
          f"| {l} | - | - | {err} | {logc} |")
print()
print("| ratio (median rps) | value | target | verdict |")
print("|---|---|---|---|")
checks = [("mpmd-logged", "mpmd-quiet", 0.9), ("mpmd-logged", "nginx-logged", 1.2)]
if "mpmd-json" in labels:
    checks += [("mpmd-json", "mpmd-quiet", None), ("mpmd-json", "nginx-logged", None)]
for a, b, target in checks:
    ma, mb = med(a), med(b)
    if not (ma and mb):
        print(f"| {a} / {b} | - | {'>= ' + str(target) if target else '-'} | {'FAIL (no data)' if target else '-'} |")
        continue
    r = ma / mb
    verdict = ("PASS" if r >= target else "FAIL") if target else "(info)"
    print(f"| {a} / {b} | {r:.2f} | {'>= ' + str(target) if target else '-'} | {verdict} |")
PY
echo
echo "first line of each log (the pre-run check request):"
printf '  %s\n' "${samples[@]}"
