#!/bin/sh
# status-screenshot.sh: the picture in docs/monitoring.md.  Starts mpmd from
# this tree on a free loopback port with server-status, puts it under load
# with wrk (static files and a slow CGI script, so threads show busy), and
# takes a screenshot of /server-status with headless Chromium (Debian
# package chromium).  Writes docs/server-status.png and the HTML it shows,
# docs/server-status.html.  Run from the source tree after `make`.
set -eu
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "needs chromium (apt-get install chromium)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk" >&2; exit 2; }
work=$(mktemp -d /tmp/mpmd-shot.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/www" "$work/cgi"
cp www/* "$work/www/"
printf '#!/bin/sh\nsleep 0.3\nprintf "Content-Type: text/plain\\r\\n\\r\\nslow\\n"\n' > "$work/cgi/slow"
chmod 755 "$work/cgi/slow"
cat > "$work/mpmd.conf" <<CONF
Listen 127.0.0.1:$port
ServerName status.example
DocumentRoot "$work/www"
ErrorLog "$work/error.log"
CustomLog "$work/access.log" combined
StartServers 2
ThreadsPerChild 25
ExtendedStatus On
ScriptAlias /cgi/ "$work/cgi/"
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1 ::1
</Location>
CONF
src/mpmd -f "$work/mpmd.conf" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
wrk -t1 -c32 -d8s "http://127.0.0.1:$port/index.html" >/dev/null &
w1=$!
wrk -t1 -c12 -d8s "http://127.0.0.1:$port/cgi/slow" >/dev/null &
w2=$!
sleep 3
curl -s "http://127.0.0.1:$port/server-status" > docs/server-status.html
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1500 \
    --screenshot="$PWD/docs/server-status.png" "http://127.0.0.1:$port/server-status" \
    >/dev/null 2>&1
wait $w1 $w2
echo "wrote docs/server-status.png and docs/server-status.html"
