#!/bin/sh
# check-systemd.sh: `make check-systemd` -- mpmd's units under a real
# systemd, booted as PID 1 in a throw-away systemd-nspawn container.
#
# The container is the host's own /usr on an empty tmpfs root
# (--volatile=yes, nothing to download), with its own network namespace
# (port 80 inside is not the host's) and the build tree bind-mounted
# read-only at the same path.  The units are systemd/mpmd.service.in with
# @sbindir@ = the build tree's src/ and @sysconfdir@ = /etc, plus
# systemd/mpmd.socket, plus a drop-in (WatchdogSec=3 for speed, no core
# dumps).  tests/systemd/in-container.sh runs the checks as
# mpmd-test.service and powers the container off with its result.
#
# Needs root, systemd-nspawn (apt-get install systemd-container), curl, and
# mpmd built with libsystemd.  Leaves the host as it found it: nspawn runs
# in a throw-away cgroup removed afterwards, what it leaves under
# /run/systemd is removed, and /dev/null is checked to still be mode 666.
# Exit status 0 when every check passed.  MPMD_KEEP=1 keeps the work dir.
set -u
: "${abs_top_srcdir:?run through make check-systemd}" "${abs_top_builddir:?}"
# make_cgroups, in_cgroups, cgroup_leftovers, restore_host: the host left as found
. "$abs_top_srcdir/tests/systemd/nspawn-host.sh"
MPMD=$abs_top_builddir/src/mpmd
# Where the trees appear inside the container: fixed paths outside /tmp,
# which the container's own tmp.mount would cover (CI may build in /tmp).
IN_BUILD=/opt/mpmd-build
IN_SRC=/opt/mpmd-src
SECONDS_MAX=240           # the whole container run
WORK=

die() { echo "check-systemd: $*" >&2; exit 1; }

preflight() {
    [ "$(id -u)" = 0 ] || die "needs root (systemd-nspawn)"
    command -v systemd-nspawn >/dev/null ||
        die "systemd-nspawn not found: apt-get install -y systemd-container"
    command -v curl >/dev/null || die "curl not found: apt-get install -y curl"
    [ -x /lib/systemd/systemd ] || die "/lib/systemd/systemd not found: apt-get install -y systemd"
    [ -x "$MPMD" ] || die "$MPMD not built: make first"
    "$MPMD" -V | grep -q '^systemd: *yes' ||
        die "$MPMD was built --without-systemd: nothing to check"
}

make_units() {
    units=$WORK/units
    mkdir -p "$units/mpmd.service.d" "$WORK/results"
    sed -e "s|@sbindir@|$IN_BUILD/src|g" -e 's|@sysconfdir@|/etc|g' \
        "$abs_top_srcdir/systemd/mpmd.service.in" >"$units/mpmd.service"
    cp "$abs_top_srcdir/systemd/mpmd.socket" "$units/"
    cat >"$units/mpmd.service.d/test.conf" <<EOF
# check-systemd: trip the watchdog sooner; a watchdog SIGABRT dumps no core.
[Service]
WatchdogSec=3
LimitCORE=0
EOF
    cat >"$units/mpmd-test.service" <<EOF
[Unit]
Description=mpmd checks under systemd (tests/systemd/in-container.sh)
After=basic.target

[Service]
Type=oneshot
TimeoutStartSec=${MPMD_CONTAINER_TIMEOUT:-200}
ExecStart=/bin/sh $IN_SRC/tests/systemd/in-container.sh /results
ExecStopPost=/bin/sh -c 'journalctl -q -u mpmd.service -u mpmd.socket --no-pager >/results/journal.txt 2>&1; systemctl exit \$\$(cat /results/status 2>/dev/null || echo 1)'
EOF
    # A getty on the console could chown the host's /dev/null (see
    # docs/systemd.md); nspawn makes its own /dev, and this masks it too.
    ln -s /dev/null "$units/console-getty.service"
}

cleanup() {
    restore_host
    if [ -n "${MPMD_KEEP:-}" ]; then echo "check-systemd: kept $WORK"; else rm -rf "$WORK"; fi
}

boot() {
    binds="--bind-ro=$abs_top_builddir:$IN_BUILD --bind-ro=$abs_top_srcdir:$IN_SRC"
    # shellcheck disable=SC2086 # $binds is a list
    in_cgroups timeout "$SECONDS_MAX" systemd-nspawn -q -D / --volatile=yes --register=no \
        --keep-unit --private-network $binds --bind-ro="$WORK/units:/etc/systemd/system" \
        --bind="$WORK/results:/results" -b -- systemd.unit=multi-user.target \
        systemd.wants=mpmd-test.service systemd.mask=console-getty.service \
        systemd.show_status=no systemd.firstboot=off \
        </dev/null >"$WORK/console.log" 2>&1
}

preflight
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpmd-check-systemd.XXXXXX") || die "mktemp failed"
nspawn_host_begin check-systemd
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
make_units
make_cgroups
start=$(date +%s)
boot
rc=$?
echo "check-systemd: container exited with $rc after $(($(date +%s) - start)) s"
cat "$WORK/results/log" 2>/dev/null || echo "check-systemd: no results (see the console below)"
status=$(cat "$WORK/results/status" 2>/dev/null || echo missing)
# Whatever ran in the container ran in our throw-away cgroup: nothing may be left.
left=$(cgroup_leftovers)
[ -z "$left" ] || { echo "check-systemd: processes left in the container's cgroup: $left"; status=host; }
restore_host || status=host
echo "check-systemd: host restored: no cgroup or /run/systemd leftovers, /dev/null" \
     "$(stat -c '%a %U:%G' /dev/null)"
if [ "$rc" != 0 ] || [ "$status" != 0 ]; then
    echo "---- console (last 40 lines) ----"
    tail -n 40 "$WORK/console.log"
    echo "---- mpmd's journal (last 60 lines) ----"
    tail -n 60 "$WORK/results/journal.txt" 2>/dev/null
    echo "check-systemd: FAILED (container exit $rc, checks status $status)"
    exit 1
fi
echo "check-systemd: PASSED"
