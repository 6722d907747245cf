#!/usr/bin/env bash
# bench-compress.sh: compression and Basic auth, mpmd against nginx side by
# side in interleaved rounds (issue 15's rows).  Run by `make bench-compress`
# and `make bench`; not part of `make check` (timing never decides a test).
#
#   MPMD=src/mpmd BENCH_DIR=../shared/bench [ROUNDS=3] [DURATION=6] [PORT=8140] \
#     [MPMD_MPM=event] [ROWS="gzip10k gzip1m auth"] tests/bench/bench-compress.sh
#
# The same doc root for both (mktemp -d): page10k.html, 10 KiB of HTML made
# from this repository's docs (text that compresses as real pages do), and
# text1m.txt, 1 MiB of the repository's sources and docs.  mpmd is bench.sh's
# single-site configuration (2 children x 8 threads) with `Compress On`
# (gzip level 6, Brotli quality 5: the defaults); nginx is the peer kit's
# nginx.conf.in (2 workers) with `gzip on; gzip_comp_level 6; gzip_types
# text/plain; gzip_vary on` (nginx has no Brotli in Debian).
#
# Rows (wrk -t1; DURATION s each, after a 1 s warm-up; the order of the
# servers rotates every round; medians):
#   gzip10k  (1) rps of GET /page10k.html with "Accept-Encoding: gzip, br",
#            -c64: mpmd answers br from its file cache, nginx gzips every
#            request.  Target: mpmd >= 2 x nginx.
#   gzip1m   (2) rps of GET /text1m.txt with "Accept-Encoding: gzip", -c8:
#            both compress 1 MiB on the fly at level 6 (the file is above
#            mpmd's FileCacheMaxFileSize, so nothing is cached).  Target:
#            >= 1.0 x nginx.
#   auth     (3) mpmd alone: rps of GET /auth/page10k.html with a correct
#            "Authorization: Basic" for a bcrypt (cost 10) user, against GET
#            /open/page10k.html on the same server, -c64, identity.  Target:
#            auth >= 0.8 x open.
# Every round first checks what each server sends (the Content-Encoding, the
# decoded bytes equal the file's, the 200 of the auth request) and prints it.
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd)}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-${DUR:-6}}
PORT=${PORT:-8140}
ROWS=${ROWS:-"gzip10k gzip1m auth"}
PEERS=$BENCH_DIR/peers
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
me=bench-compress.sh
[ -f "$PEERS/conf/nginx.conf.in" ] || { echo "$me: no peer kit at $PEERS (set BENCH_DIR)" >&2; exit 2; }
for t in wrk nginx curl htpasswd; do
    command -v $t >/dev/null || { echo "$me: $t missing" >&2; exit 2; }
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "$me: ROUNDS must be a positive integer" >&2; exit 2; }
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "$me: DURATION must be a positive integer" >&2; exit 2; }
MPMD_P=$PORT NGINX_P=$((PORT + 1))

work=$(mktemp -d "${TMPDIR:-/tmp}/mpmd-bench-compress.XXXXXX") || exit 1
mpmd_pid=""
cleanup() {
    if [ -n "$mpmd_pid" ]; then kill -TERM "$mpmd_pid" 2>/dev/null && wait "$mpmd_pid" 2>/dev/null; fi
    if [ -s "$work/nginx/nginx.pid" ]; then
        p=$(cat "$work/nginx/nginx.pid")
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"

# ---- the doc root ------------------------------------------------------------
www=$work/www
mkdir -p "$www/open" "$www/auth"
{
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>mpmd</title></head><body>'
    sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/^/<p>/' "$TOP"/docs/*.md
} | head -c 10240 > "$www/page10k.html"
cat "$TOP"/docs/*.md "$TOP"/src/*/*.c "$TOP"/docs/*.md "$TOP"/src/*/*.c | head -c 1048576 > "$www/text1m.txt"
[ "$(stat -c %s "$www/text1m.txt")" = 1048576 ] || { echo "$me: could not make a 1 MiB text file" >&2; exit 1; }
cp "$www/page10k.html" "$www/open/"
cp "$www/page10k.html" "$www/auth/"
chmod -R a+rX "$www"
htpasswd -bcB -C 10 "$work/htpasswd" bench s3cret-bench >/dev/null 2>&1
creds=$(printf 'bench:s3cret-bench' | base64)

# ---- the servers -------------------------------------------------------------
cat > "$work/mpmd.conf" <<CONF
Listen 127.0.0.1:$MPMD_P
DocumentRoot $www
MPM ${MPMD_MPM:-event}
StartServers 2
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
KeepAliveTimeout 120
MaxKeepAliveRequests 0
ErrorLog $work/error.log
LogLevel notice
AccessLog off
Compress On
<Location /open/>
  Compress Off
</Location>
<Location /auth/>
  Compress Off
  AuthType Basic
  AuthName "bench"
  AuthUserFile $work/htpasswd
  Require valid-user
</Location>
CONF
if ! "$MPMD" -t -f "$work/mpmd.conf" > "$work/t.log" 2>&1; then
    case " $ROWS " in *" auth "*)
        echo "# mpmd rejects the auth row's configuration ($(grep -v 'Syntax OK' "$work/t.log" | head -1)): row 3 skipped"
        ROWS=${ROWS//auth/}
        sed -i '/<Location \/auth\/>/,/<\/Location>/d' "$work/mpmd.conf";;
    esac
    "$MPMD" -t -f "$work/mpmd.conf" > "$work/t.log" 2>&1 ||
        { echo "$me: mpmd rejects its configuration: $(head -2 "$work/t.log")" >&2; exit 1; }
fi
"$MPMD" -f "$work/mpmd.conf" &
mpmd_pid=$!

d=$work/nginx
mkdir -p "$d/temp"
chown www-data "$d" 2>/dev/null || chmod 1777 "$d"
cat > "$d/server.conf" <<BLOCK
  gzip on;
  gzip_comp_level 6;
  gzip_types text/plain;
  gzip_vary on;
  server {
    listen 127.0.0.1:$NGINX_P backlog=4096;
    root $www;
    index index.html;
  }
BLOCK
sed -e "s|@DIR@|$d|g" -e "s|@WWW@|$www|g" -e "s|@PORT@|$NGINX_P|g" "$PEERS/conf/nginx.conf.in" |
awk -v blocks="$d/server.conf" '
    !done && /^[ \t]*server[ \t]*\{/ { skip = 1; depth = 0 }
    skip {
        depth += gsub(/\{/, "{") - gsub(/\}/, "}")
        if (depth == 0) { skip = 0; done = 1; while ((getline l < blocks) > 0) print l }
        next
    }
    { print }' > "$d/nginx.conf"
nginx -t -q -p "$d/" -c "$d/nginx.conf" > "$d/t.log" 2>&1 ||
    { echo "$me: nginx rejects its configuration: $(head -2 "$d/t.log")" >&2; exit 1; }
nginx -p "$d/" -c "$d/nginx.conf" > "$d/stdout.log" 2>&1 ||
    { echo "$me: nginx did not start: $(tail -1 "$d/stdout.log")" >&2; exit 1; }
for p in $MPMD_P $NGINX_P; do
    for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$p/page10k.html" && break; sleep 0.1; done
    curl -sf -o /dev/null "http://127.0.0.1:$p/page10k.html" ||
        { echo "$me: nothing answers on port $p (PORT= to pick others)" >&2; exit 1; }
done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores; ROUNDS=$ROUNDS DURATION=$DURATION; mpmd $("$MPMD" -V | head -1) MPM ${MPMD_MPM:-event}; $(nginx -v 2>&1 | sed 's|nginx version: ||')"

# What a server sends: "CODING BYTES-ON-THE-WIRE ok|MISMATCH" (decoded with
# curl --compressed and compared with the file).  $1 port, $2 path, $3 A-E.
probe() {
    local enc size
    enc=$(curl -s -o /dev/null -D - -H "Accept-Encoding: $3" "http://127.0.0.1:$1$2" |
          tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" { print $2 }')
    size=$(curl -s -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $3" "http://127.0.0.1:$1$2")
    if curl -s --compressed -H "Accept-Encoding: $3" "http://127.0.0.1:$1$2" | cmp -s - "$www${2#/auth}"; then
        echo "${enc:-identity} $size ok"
    else
        echo "${enc:-identity} $size MISMATCH"
    fi
}

# rps of wrk: $1 URL, $2 connections, rest: wrk options.
rps() {
    local url=$1 c=$2
    shift 2
    wrk -t1 -c"$c" -d1s "$@" "$url" > /dev/null 2>&1
    wrk -t1 -c"$c" -d"${DURATION}s" "$@" "$url" 2>&1 | awk '/^Requests\/sec:/ { print $2 } /Non-2xx|Socket errors/ { print "# " $0 > "/dev/stderr" }'
}

: > "$work/rows.txt"   # ROW LABEL ROUND VALUE
for r in $(seq "$ROUNDS"); do
    for row in $ROWS; do
        case $row in
            gzip10k) path=/page10k.html ae="gzip, br" c=64 a=mpmd b=nginx;;
            gzip1m) path=/text1m.txt ae="gzip" c=8 a=mpmd b=nginx;;
            auth) path=/auth/page10k.html ae=identity c=64 a=mpmd-auth b=mpmd-open;;
            *) echo "$me: unknown row $row" >&2; exit 2;;
        esac
        order="$a $b"
        [ $((r % 2)) = 0 ] && order="$b $a"
        for label in $order; do
            case $label in
                mpmd) port=$MPMD_P p=$path hdr=();;
                nginx) port=$NGINX_P p=$path hdr=();;
                mpmd-auth) port=$MPMD_P p=/auth/page10k.html hdr=(-H "Authorization: Basic $creds");;
                mpmd-open) port=$MPMD_P p=/open/page10k.html hdr=();;
            esac
            if [ "$label" = mpmd-auth ]; then
                code=$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" "http://127.0.0.1:$port$p")
                check="status $code"
            else
                check=$(probe "$port" "$p" "$ae")
            fi
            v=$(rps "http://127.0.0.1:$port$p" "$c" -H "Accept-Encoding: $ae" "${hdr[@]}")
            echo "row=$row label=$label round=$r rps=${v:-0} sends: $check"
            echo "$row $label $r ${v:-0}" >> "$work/rows.txt"
        done
    done
done

echo
echo "## medians (rps) and ratios"
python3 - "$work/rows.txt" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    row, label, rnd, v = line.split()
    rows.setdefault(row, {}).setdefault(label, []).append(float(v))
spec = {"gzip10k": ("mpmd", "nginx", 2.0, "10 KiB HTML, Accept-Encoding: gzip, br"),
        "gzip1m": ("mpmd", "nginx", 1.0, "1 MiB text compressed on the fly (gzip)"),
        "auth": ("mpmd-auth", "mpmd-open", 0.8, "Basic auth (bcrypt 10) vs none, cached 10 KiB")}
print("| row | what | %-9s | %-9s | ratio | target | |" % ("a", "b"))
print("|---|---|---|---|---|---|---|")
for row, (a, b, target, what) in spec.items():
    if row not in rows:
        continue
    ma, mb = statistics.median(rows[row][a]), statistics.median(rows[row][b])
    ratio = ma / mb if mb else 0
    print("| %s | %s | %s %.0f | %s %.0f | %.2f | >= %.1f | %s |" % (
        row, what, a, ma, b, mb, ratio, target, "PASS" if ratio >= target else "FAIL"))
PY
