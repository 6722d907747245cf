#!/bin/sh
# in-container.sh: the mpmd checks that need a real systemd (PID 1).
#
# Run by check-systemd.sh inside a throw-away systemd-nspawn container, as
# mpmd-test.service; the units under test (systemd/mpmd.service.in with the
# build tree's binary, systemd/mpmd.socket, a drop-in shortening
# WatchdogSec=) are already in /etc/systemd/system.  Writes TAP-like lines
# to RESULTS/log and the exit status (0: all passed) to RESULTS/status;
# RESULTS/journal.txt keeps mpmd's journal for diagnosis.
#
#   start:    systemctl start mpmd.socket; the first request starts mpmd
#   status:   systemctl status shows mpmd's STATUS= text
#   reload:   20 x (new config; systemctl reload mpmd && curl) sees the new one
#   upgrade:  mpmd -k upgrade (docs/systemd.md, as written): MainPID follows
#             the new supervisor, the service stays active, nothing refused
#   watchdog: SIGSTOP to the supervisor trips WatchdogSec=; Restart= brings
#             it back on the socket systemd kept
#   stop:     systemctl stop leaves no process behind, the port closed
#   fleet:    docs/scaleout.md's drain-restart (taken from the page) restarts
#             mpmd.service behind HAProxy with systemctl restart: no curl
#             request through HAProxy fails
set -u
RESULTS=${1:?usage: in-container.sh RESULTS_DIR}
LOG=$RESULTS/log
MPMD=$(systemctl show -p ExecStart --value mpmd.service | sed -n 's/.*path=\([^ ;]*\).*/\1/p')
URL=http://127.0.0.1/
n=0
failed=0

# say, ok, not_ok, check, quote, prop, fetch, wait_for
. "$(dirname "$0")/container-checks.sh"

# The children's user and the process shape every config here shares.
shape_config() {
    cat <<EOF
User nobody
Group nogroup
StartServers 2
ServerLimit 16
ThreadsPerChild 4
MaxRequestWorkers 64
EOF
}

write_config() {
    mkdir -p "/srv/www$1"
    printf 'config %s\n' "$1" >"/srv/www$1/index.html"
    cat >/etc/mpmd/server.conf <<EOF
# written by tests/systemd/in-container.sh (config $1)
Listen 80
DocumentRoot /srv/www$1
$(shape_config)
MinSpareThreads 1
MaxSpareThreads 64
LogLevel notice
AccessLog /var/log/mpmd/access.log combined
PidFile /run/mpmd/mpmd.pid
EOF
}

# Every process running the mpmd binary (by /proc/PID/exe).
mpmd_pids() {
    for d in /proc/[0-9]*; do
        [ "$(readlink "$d/exe" 2>/dev/null)" = "$MPMD" ] && echo "${d#/proc/}"
    done
}

test_start() {
    check "systemctl start mpmd.socket" systemctl start mpmd.socket
    check "mpmd.service is not running before the first connection" \
        test "$(prop ActiveState)" = inactive
    body=$(fetch)
    check "the first request (it starts mpmd.service) is answered: $body" \
        test "$body" = "config 0"
    running() { test "$(prop SubState)" = running; }
    check "mpmd.service turns active (running) at READY=1" wait_for 50 running
}

test_status() {
    has_status() { systemctl status --no-pager mpmd.service 2>&1 | grep -q 'Status: ".*Total requests'; }
    check "systemctl status shows mpmd's STATUS= text" wait_for 60 has_status
    systemctl status --no-pager mpmd.service 2>&1 | grep -e '^ *Active:' -e '^ *Status:' | quote
    journalctl -q -u mpmd.service -o json --no-pager >"$RESULTS/journal.json" 2>&1
    journal_notice() { grep '"MESSAGE":"mpmd started' "$RESULTS/journal.json" | grep -q '"PRIORITY":"5"'; }
    check "journal: mpmd's \"<5>mpmd started\" line arrives as PRIORITY=5, prefix stripped" \
        journal_notice
}

test_reloads() {
    good=0
    seen=""
    i=1
    while [ "$i" -le 20 ]; do
        write_config "$i"
        if systemctl reload mpmd.service; then
            body=$(fetch)
        else
            body="(reload failed)"
        fi
        [ "$body" = "config $i" ] && good=$((good + 1))
        seen="$seen $i:${body#config }"
        i=$((i + 1))
    done
    say "# reload && curl, config:answer ->$seen"
    check "systemctl reload mpmd && curl sees the new config: $good of 20" test "$good" = 20
    check "mpmd.service still the first process after 20 reloads (NRestarts=0)" \
        test "$(prop NRestarts)" = 0
}

test_upgrade() {
    old=$(prop MainPID)
    client_loop &
    loop=$!
    "$MPMD" -f /etc/mpmd/server.conf -k upgrade >/tmp/upgrade.out 2>&1
    rc=$?
    quote </tmp/upgrade.out
    check "mpmd -k upgrade under systemd exits 0" test "$rc" = 0
    moved() { new=$(prop MainPID); [ "$new" != "$old" ] && [ "${new:-0}" != 0 ]; }
    check "MainPID follows the new supervisor ($old -> $(prop MainPID))" wait_for 100 moved
    new=$(prop MainPID)
    { systemctl show -p MainPID mpmd; systemctl is-active mpmd; } 2>&1 | quote
    check "PidFile names MainPID" test "$(cat /run/mpmd/mpmd.pid)" = "$new"
    check "the old supervisor ($old) exits" wait_for 100 test ! -d "/proc/$old"
    check "mpmd.service stays active (running), NRestarts=0" \
        test "$(prop SubState)/$(prop NRestarts)" = running/0
    systemctl status --no-pager mpmd.service 2>&1 | grep -e '^ *Active:' -e '^ *Main PID:' | quote
    journalctl -q -u mpmd.service --no-pager | grep -i -e upgrade -e 'main pid' | tail -n 6 | quote
    body=$(fetch)
    check "the new supervisor serves: $body" test "$body" = "config 20"
    client_loop_end "$loop" "the upgrade"
}

test_watchdog() {
    old=$(prop MainPID)
    if [ "${old:-0}" = 0 ]; then   # kill -STOP 0 would stop this script
        not_ok "watchdog: mpmd.service has no main process to stop"
        return
    fi
    client_loop &
    loop=$!
    kill -STOP "$old"
    changed() { new=$(prop MainPID); [ "$new" != "$old" ] && [ "$new" != 0 ] &&
                [ "$(prop SubState)" = running ]; }
    check "SIGSTOP to the supervisor: systemd restarts mpmd (new MainPID)" wait_for 300 changed
    journalctl -q -u mpmd.service --no-pager | grep -i -e watchdog -e 'Scheduled restart' | quote
    check "the journal says the watchdog fired" \
        sh -c 'journalctl -q -u mpmd.service --no-pager | grep -q "Watchdog timeout"'
    check "NRestarts=1" test "$(prop NRestarts)" = 1
    check "mpmd.socket stayed active" test "$(systemctl show -p SubState --value mpmd.socket)" = running
    body=$(fetch)
    check "the restarted mpmd answers on the kept socket: $body" test "$body" = "config 20"
    check "the stopped supervisor ($old) is gone" test ! -d "/proc/$old"
    touch /tmp/client-stop
    wait "$loop"
    refused=$(grep -c '^7$' /tmp/client-codes)
    answered=$(grep -c '^0$' /tmp/client-codes)
    say "# curl loop across the watchdog restart: $answered answered, $refused refused," \
        "$(grep -vc -e '^0$' -e '^7$' /tmp/client-codes) other errors (exit codes:" \
        "$(sort /tmp/client-codes | uniq -c | tr -s ' \n' ' '))"
    check "no connection refused across the watchdog restart ($answered answered)" \
        test "$refused" = 0 -a "$answered" -gt 0
}

test_stop() {
    check "systemctl stop mpmd.service mpmd.socket" systemctl stop mpmd.service mpmd.socket
    left=$(mpmd_pids)
    check "no mpmd process left: '${left}'" test -z "$left"
    check "port 80 closed" sh -c "! curl -s --max-time 5 $URL >/dev/null 2>&1"
}

# The fleet: mpmd.service (m1) and a second mpmd (m2) behind HAProxy, as
# docs/scaleout.md sets them up (its haproxy.cfg taken from the page); the
# page's drain-restart script restarts m1 with systemctl restart while curl
# loops through HAProxy.  Runs after test_stop: mpmd.socket is stopped, so
# mpmd.service binds its own Listens.
FLEET=/run/fleet
fleet_config() {    # fleet_config LISTEN PIDFILE ERRORLOG: an instance behind HAProxy
    cat <<EOF
Listen $1 proxy
DocumentRoot /srv/www20
$(shape_config)
KeepAliveTimeout 2
PidFile $2
ErrorLog $3
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
EOF
}

# The text docs/scaleout.md writes with "cat > PATH <<'EOF'" ... "EOF".
doc_heredoc() {     # doc_heredoc PATH
    sed -n "\\|^cat > $1 <<'EOF'\$|,/^EOF\$/p" "$(dirname "$0")/../../docs/scaleout.md" | sed '1d;$d'
}

# docs/scaleout.md's haproxy.cfg for m1 and m2 (m3 left out), its admin
# socket in $FLEET, checks every 200 ms rather than every second.
fleet_haproxy_config() {
    doc_heredoc /tmp/fleet/haproxy.cfg |
        sed -e "s|/tmp/fleet/|$FLEET/|" -e 's/ inter 1s / inter 200ms /' -e '/^ *server m3 /d'
}

hap_cmd() { echo "$*" | socat stdio "UNIX-CONNECT:$FLEET/haproxy.sock"; }
# show servers state: column 6 srv_op_state (2 up), 7 srv_admin_state
fleet_state() { hap_cmd "show servers state be" | awk -v s="$1" '$4 == s { print $6 "/" $7 }'; }
fleet_up() { [ "$(fleet_state m1)" = 2/0 ] && [ "$(fleet_state m2)" = 2/0 ]; }
# show stat: column 8 stot, the sessions HAProxy has sent to the server
fleet_stot() { hap_cmd "show stat" | awk -F, -v s="$1" '$1 == "be" && $2 == s { print $8 }'; }

fleet_tools() {     # 0 if haproxy and socat are there, else a SKIP line
    for tool in haproxy socat; do
        if ! command -v "$tool" >/dev/null; then
            n=$((n + 1))
            say "ok $n - # SKIP drain-restart under systemd: $tool not installed (apt-get install $tool)"
            return 1
        fi
    done
}

# m1 (mpmd.service), m2 (a plain mpmd, pid in $m2) and HAProxy in front.
fleet_start() {
    mkdir -p "$FLEET"
    # The container's /etc is empty (--volatile=yes): the awk alternative
    # Debian's /usr/bin/awk points to is missing.
    [ -e /usr/bin/awk ] || { mkdir -p /etc/alternatives && ln -sf /usr/bin/mawk /etc/alternatives/awk; }
    check "awk runs (the alternatives link)" sh -c "echo x | awk '{ print }' >/dev/null"
    # m1 writes where mpmd.service's sandbox lets it (RuntimeDirectory, LogsDirectory).
    fleet_config 127.0.0.1:28011 /run/mpmd/mpmd.pid /var/log/mpmd/error.log \
        >/etc/mpmd/server.conf
    check "fleet: systemctl start mpmd.service (m1)" systemctl start mpmd.service
    fleet_config 127.0.0.1:28012 "$FLEET/m2.pid" "$FLEET/m2-error.log" >"$FLEET/m2.conf"
    "$MPMD" -f "$FLEET/m2.conf" >"$FLEET/m2.out" 2>&1 &
    m2=$!
    fleet_haproxy_config >"$FLEET/haproxy.cfg"
    haproxy -c -q -f "$FLEET/haproxy.cfg" 2>&1 | quote
    haproxy -f "$FLEET/haproxy.cfg" -D -p "$FLEET/haproxy.pid" 2>&1 | quote
    check "fleet: HAProxy's checks see m1 and m2 up" wait_for 100 fleet_up
    hap_cmd "show servers state be" 2>&1 | quote
}

# docs/scaleout.md's drain-restart, as written, under a curl loop through HAProxy.
fleet_drain_restart() {
    doc_heredoc /usr/local/sbin/drain-restart >"$FLEET/drain-restart"
    check "docs/scaleout.md's drain-restart script found ($(wc -l <"$FLEET/drain-restart") lines)" \
        grep -q '^hap "set server \$BE/\$srv state drain"' "$FLEET/drain-restart"
    old=$(prop MainPID)
    old_id=$(prop InvocationID)
    saved_url=$URL
    URL=http://127.0.0.1:28001/
    client_loop &
    loop=$!
    sleep 1
    SOCK=$FLEET/haproxy.sock timeout 90 sh "$FLEET/drain-restart" m1 systemctl restart mpmd \
        >"$FLEET/drain.out" 2>&1
    rc=$?
    tail -n 20 "$FLEET/drain.out" | quote
    check "drain-restart m1 systemctl restart mpmd exits 0" test "$rc" = 0
    check "mpmd.service restarted: MainPID $old -> $(prop MainPID), a new InvocationID" \
        test "$(prop MainPID)" != "$old" -a "$(prop InvocationID)" != "$old_id" \
        -a "$(prop SubState)" = running
    check "HAProxy has m1 up and ready again ($(fleet_state m1))" test "$(fleet_state m1)" = 2/0
    before=$(fleet_stot m1)
    sleep 1
    client_loop_end "$loop" "drain-restart m1 systemctl restart mpmd (through HAProxy)"
    check "m1 gets requests again after the restart (HAProxy's stot $before -> $(fleet_stot m1))" \
        test "$(fleet_stot m1)" -gt "${before:-0}"
    URL=$saved_url
}

fleet_stop() {
    hap_pid=$(cat "$FLEET/haproxy.pid")
    kill "$hap_pid" "$m2" 2>/dev/null
    # m2 removes its PidFile once its children are gone.
    check "HAProxy and m2 stopped" wait_for 100 test ! -d "/proc/$hap_pid" -a ! -e "$FLEET/m2.pid"
    wait "$m2"
    check "systemctl stop mpmd.service" systemctl stop mpmd.service
    left=$(mpmd_pids)
    check "no mpmd process left after the fleet check: '${left}'" test -z "$left"
}

test_fleet() {
    fleet_tools || return
    fleet_start
    fleet_drain_restart
    fleet_stop
}

: >"$LOG"
say "# mpmd binary: $MPMD"
mkdir -p /etc/mpmd
write_config 0
test_start
test_status
test_reloads
test_upgrade
test_watchdog
test_stop
test_fleet
say "1..$n"
echo "$failed" >"$RESULTS/status"
[ "$failed" = 0 ]
