#!/bin/sh
# deb-in-container.sh: the checks of mpmd's .deb in a fresh Debian booted
# with systemd as PID 1.
#
# Run by check-deb.sh inside a throw-away systemd-nspawn container (a
# debootstrap root with mpmd's run-time dependencies already installed, no
# network), as mpmd-deb-test.service.  DEB is the package to install.
# Writes TAP-like lines to RESULTS/log and the number of failed checks to
# RESULTS/status; RESULTS/journal.txt keeps mpmd's journal for diagnosis.
#
#   install:  apt-get install ./mpmd_*.deb makes the system user mpmd,
#             enables the default site, enables and starts mpmd.service
#   serve:    the welcome page on port 80; the children run as mpmd; the
#             access log in /var/log/mpmd
#   reload:   systemctl reload mpmd, then another request
#   upgrade:  installing the package again moves the running mpmd to the
#             new binary with mpmd -k upgrade (new MainPID, no restart, no
#             failed request under a curl loop) and does not bring back a
#             default-site link the admin removed; with a broken
#             server.conf the postinst says why, the old binary serves on
#   stop:     systemctl stop mpmd leaves no process and the port closed
#   purge:    apt-get purge mpmd leaves no /etc/mpmd, no unit, no logs
set -u
DEB=${1:?usage: deb-in-container.sh DEB RESULTS_DIR}
RESULTS=${2:?usage: deb-in-container.sh DEB RESULTS_DIR}
LOG=$RESULTS/log
URL=http://127.0.0.1/
SITE_LINK=/etc/mpmd/sites-enabled/000-default.conf
n=0
failed=0
export DEBIAN_FRONTEND=noninteractive

# say, ok, not_ok, check, quote, prop, fetch, wait_for
. "$(dirname "$0")/container-checks.sh"
welcome() { fetch | grep -q '<title>mpmd is running'; }
active() { test "$(systemctl is-active mpmd.service)" = active; }
# dpkg's state of mpmd: installed, config-files, ... or nothing once purged.
# shellcheck disable=SC2016 # ${...} is dpkg-query's format
dpkg_state() { dpkg-query -W -f='${db:Status-Status}' mpmd 2>/dev/null; }

# apt-get, bounded; its output goes to the log as comments.
apt() {
    timeout 180 apt-get -y -q -o Dpkg::Use-Pty=0 "$@" >"$RESULTS/apt.out" 2>&1
    rc=$?
    grep -v -e '^Reading' -e '^Building' -e '^(Reading database' "$RESULTS/apt.out" | quote
    return "$rc"
}

# The user names of the supervisor's children, one per line.
child_users() { ps -o user= --ppid "$(prop MainPID)" | sort -u; }

test_install() {
    check "apt-get install ./$(basename "$DEB")" apt install "$DEB"
    check "dpkg: mpmd is installed" test "$(dpkg_state)" = installed
    entry=$(getent passwd mpmd)
    say "# passwd: $entry"
    uid=$(echo "$entry" | cut -d: -f3)
    check "postinst made the system user mpmd (uid $uid < 1000, home /nonexistent)" \
        test -n "$uid" -a "${uid:-1000}" -lt 1000 -a "$(echo "$entry" | cut -d: -f6)" = /nonexistent
    check "postinst made the group mpmd" getent group mpmd
    check "postinst enabled the default site ($SITE_LINK -> ../sites-available/000-default.conf)" \
        test "$(readlink "$SITE_LINK")" = ../sites-available/000-default.conf
    check "mpmd.service is enabled" test "$(systemctl is-enabled mpmd.service)" = enabled
    check "mpmd.socket is installed but not enabled" \
        test "$(systemctl is-enabled mpmd.socket)" = disabled
    check "systemctl is-active mpmd: active" wait_for 100 active
    systemctl status --no-pager mpmd.service 2>&1 | grep -e '^ *Active:' -e '^ *Status:' | quote
}

test_serve() {
    check "curl $URL gets the welcome page" wait_for 50 welcome
    users=$(child_users)
    say "# users of the children of MainPID $(prop MainPID): $(echo "$users" | tr '\n' ' ')"
    check "the children run as user mpmd" test "$users" = mpmd
    logged() { grep -q '"GET / HTTP/1.1" 200' /var/log/mpmd/access.log 2>/dev/null; }
    check "the request is in /var/log/mpmd/access.log" wait_for 50 logged
}

test_reload() {
    pid=$(prop MainPID)
    check "systemctl reload mpmd" timeout 60 systemctl reload mpmd.service
    check "curl after the reload gets the welcome page" welcome
    check "same supervisor after the reload (MainPID $pid, NRestarts=0)" \
        test "$(prop MainPID)" = "$pid" -a "$(prop NRestarts)" = 0
    users=$(child_users)
    check "the new generation's children run as mpmd: $(echo "$users" | tr '\n' ' ')" \
        test "$users" = mpmd
}

# The package upgrade: installing it again runs the postinst's configure
# with the installed version as $2, as an upgrade does.  It must move the
# running mpmd to the new /usr/sbin/mpmd with mpmd -k upgrade (new MainPID,
# same invocation of the service, no failed request), not restart it.
test_upgrade() {
    old=$(prop MainPID)
    inv=$(prop InvocationID)
    rm "$SITE_LINK"
    client_loop &
    loop=$!
    t=$(date +%s)
    check "apt-get install --reinstall ./$(basename "$DEB") (the upgrade path) under a curl loop" \
        apt install --reinstall "$DEB"
    say "# the reinstall took $(($(date +%s) - t)) s"
    check "the postinst ran mpmd -k upgrade: $(grep -e '-k upgrade' "$RESULTS/apt.out" | head -n 1)" \
        grep -q -e '-k upgrade: pid [0-9]* serves' "$RESULTS/apt.out"
    moved() { new=$(prop MainPID); [ "$new" != "$old" ] && [ "${new:-0}" != 0 ]; }
    wait_for 100 moved
    check "MainPID follows the new supervisor ($old -> $(prop MainPID))" moved
    new=$(prop MainPID)
    check "mpmd.service was not restarted: same InvocationID, active (running), NRestarts=0" \
        test "$(prop InvocationID)/$(prop SubState)/$(prop NRestarts)" = "$inv/running/0"
    check "the old supervisor ($old) exits" wait_for 100 test ! -d "/proc/$old"
    check "the PidFile names MainPID $new" test "$(cat /run/mpmd/mpmd.pid 2>/dev/null)" = "$new"
    check "MainPID runs the new /usr/sbin/mpmd" test "$(readlink "/proc/$new/exe")" = /usr/sbin/mpmd
    client_loop_end "$loop" "the package upgrade"
    journalctl -q -u mpmd.service --no-pager | grep -i -e upgrade -e 'main pid' -e 'not our child' -e Stopp -e Start |
        tail -n 6 | quote
    check "the default site stays disabled after the upgrade (no $SITE_LINK)" \
        test ! -e "$SITE_LINK" -a ! -L "$SITE_LINK"
    ln -s ../sites-available/000-default.conf "$SITE_LINK"
    check "systemctl reload mpmd after enabling the site again" timeout 60 systemctl reload mpmd.service
    check "curl gets the welcome page again" welcome
}

# A package upgrade whose new mpmd cannot start (here: server.conf has an
# unknown directive, so mpmd -k upgrade refuses): the postinst says why
# and that the old binary keeps serving, succeeds, and restarts nothing.
test_upgrade_fails() {
    old=$(prop MainPID)
    inv=$(prop InvocationID)
    cp -p /etc/mpmd/server.conf /tmp/server.conf.saved
    echo 'NoSuchDirective on' >>/etc/mpmd/server.conf
    check "apt-get install --reinstall with a broken server.conf succeeds" \
        apt install --reinstall "$DEB"
    check "the postinst says: $(grep -e 'keeps serving' "$RESULTS/apt.out" | head -n 1)" \
        grep -q 'upgrade to the new binary failed; the old binary keeps serving' "$RESULTS/apt.out"
    check "the postinst gives mpmd's reason: $(grep -e 'NoSuchDirective' "$RESULTS/apt.out" | head -n 1)" \
        grep -q 'NoSuchDirective' "$RESULTS/apt.out"
    check "the old supervisor is still MainPID ($old), same InvocationID, active (running)" \
        test "$(prop MainPID)/$(prop InvocationID)/$(prop SubState)" = "$old/$inv/running"
    check "the old supervisor still serves the welcome page" welcome
    cp -p /tmp/server.conf.saved /etc/mpmd/server.conf
    timeout 60 mpmd -f /etc/mpmd/server.conf -k upgrade >/tmp/upgrade.out 2>&1
    rc=$?
    quote </tmp/upgrade.out
    check "with server.conf restored, mpmd -k upgrade finishes the upgrade by hand" test "$rc" = 0
    moved_same() { moved && [ "$(prop InvocationID)" = "$inv" ]; }
    wait_for 100 moved_same
    check "MainPID moved ($old -> $(prop MainPID)), same InvocationID" moved_same
    check "curl gets the welcome page from the new supervisor" welcome
}

test_stop() {
    check "systemctl stop mpmd" timeout 60 systemctl stop mpmd.service
    check "mpmd.service is inactive" test "$(systemctl is-active mpmd.service)" = inactive
    # After the upgrades above the main pid is one systemd did not fork.
    killed=$(journalctl -q -u mpmd.service --no-pager | grep -c 'signal SIGKILL')
    check "a graceful stop of the upgraded supervisor: Result=$(prop Result), $killed SIGKILL lines" \
        test "$(prop Result)" = success -a "$killed" = 0
    left=$(pgrep -x mpmd | tr '\n' ' ')
    check "no mpmd process left: '$left'" test -z "$left"
    check "port 80 closed" sh -c "! curl -s --max-time 5 $URL >/dev/null 2>&1"
}

test_purge() {
    check "apt-get purge mpmd" apt purge mpmd
    state=$(dpkg_state)
    check "dpkg: mpmd is gone (state '$state')" test -z "$state" -o "$state" = not-installed
    left=$(find /etc/mpmd 2>/dev/null | tr '\n' ' ')
    check "no /etc/mpmd left: '$left'" test ! -e /etc/mpmd
    check "no /etc/logrotate.d/mpmd left" test ! -e /etc/logrotate.d/mpmd
    check "no /var/log/mpmd left" test ! -e /var/log/mpmd
    units=$(find /lib/systemd /usr/lib/systemd /etc/systemd -name 'mpmd.*' 2>/dev/null | tr '\n' ' ')
    check "no mpmd unit or enablement link left: '$units'" test -z "$units"
    check "systemd no longer knows mpmd.service" \
        sh -c '! systemctl cat mpmd.service >/dev/null 2>&1'
    check "the user mpmd stays (Debian practice: its uid is not reused)" getent passwd mpmd
}

: >"$LOG"
say "# package: $DEB"
test_install
test_serve
test_reload
test_upgrade
test_upgrade_fails
test_stop
test_purge
say "1..$n"
echo "$failed" >"$RESULTS/status"
[ "$failed" = 0 ]
