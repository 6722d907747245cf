#!/bin/sh
# check-deb.sh: `make check-deb` -- builds mpmd's Debian package and checks
# it in a fresh Debian booted with a real systemd as PID 1.
#
#   1. `make distdir` into a work directory (so the distribution tarball's
#      file list, debian/ included, is what gets built), then
#      `dpkg-buildpackage -us -uc` there: .deb, .dsc, .changes land in the
#      work directory, not next to the source tree.
#   2. lintian on the .changes: no errors (warnings are listed).
#   3. A minimal root of the host's Debian release by debootstrap
#      (--variant=minbase; systemd, dbus, curl, procps and every package of
#      the .deb's Depends: the container has no network, so apt-get must
#      find them installed).  It needs the Debian mirror (debootstrap's
#      default, or MPMD_DEB_MIRROR), ~1 minute and ~260 MB under TMPDIR.
#   4. systemd-nspawn boots it (its own network namespace: port 80 inside
#      is not the host's); tests/systemd/deb-in-container.sh installs the
#      .deb with apt-get, checks the service, the welcome page on port 80,
#      the children's user, reload, upgrade, stop and purge.
#
# Needs root, dpkg-dev, debhelper, fakeroot, lintian, debootstrap,
# systemd-container and the build dependencies in debian/control
# (dpkg-buildpackage names what is missing).  Leaves the host as it found
# it, as check-systemd.sh does: nspawn runs in a throw-away cgroup removed
# afterwards, what it leaves under /run/systemd is removed, /dev/null is
# checked to still be mode 666, the work directory is deleted (MPMD_KEEP=1
# keeps it).  Every step is bounded in time.  Exit status 0 when every
# check passed.
set -u
: "${abs_top_srcdir:?run through make check-deb}" "${abs_top_builddir:?}"
# make_cgroups, in_cgroups, cgroup_leftovers, restore_host: the host left as found
. "$abs_top_srcdir/tests/systemd/nspawn-host.sh"
MAKE=${MAKE:-make}
BUILD_SECONDS=900          # make distdir + dpkg-buildpackage
ROOTFS_SECONDS=600         # debootstrap
CONTAINER_SECONDS=300      # the whole container run
WORK=
n=0
failed=0

die() { echo "check-deb: $*" >&2; exit 1; }
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

preflight() {
    [ "$(id -u)" = 0 ] || die "needs root (debootstrap, systemd-nspawn)"
    for tool in dpkg-buildpackage:dpkg-dev dh:debhelper fakeroot:fakeroot lintian:lintian \
                debootstrap:debootstrap systemd-nspawn:systemd-container; do
        command -v "${tool%%:*}" >/dev/null ||
            die "${tool%%:*} not found: apt-get install -y ${tool#*:}"
    done
    [ -r /etc/os-release ] || die "no /etc/os-release: cannot tell the Debian release"
    SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$SUITE" ] || die "no VERSION_CODENAME in /etc/os-release"
}

# ---- 1, 2: the package ----------------------------------------------
build_package() {
    version=$(sed -n 's/^VERSION = //p' "$abs_top_builddir/Makefile")
    [ -n "$version" ] || die "no VERSION in $abs_top_builddir/Makefile"
    src=$WORK/build/mpmd-$version
    mkdir -p "$WORK/build"
    t=$(date +%s)
    if ! timeout 120 "$MAKE" -s -C "$abs_top_builddir" distdir distdir="$src" \
            >"$WORK/distdir.log" 2>&1; then
        tail -n 20 "$WORK/distdir.log"
        not_ok "make distdir"
        return 1
    fi
    if [ ! -x "$src/debian/rules" ]; then
        not_ok "the distribution has an executable debian/rules (EXTRA_DIST)"
        return 1
    fi
    if (cd "$src" && timeout "$BUILD_SECONDS" dpkg-buildpackage -us -uc) \
            >"$WORK/build.log" 2>&1; then
        DEB=$(ls "$WORK"/build/mpmd_"$version"_*.deb 2>/dev/null | head -n 1)
    else
        DEB=
    fi
    if [ -z "$DEB" ]; then
        tail -n 40 "$WORK/build.log"
        not_ok "dpkg-buildpackage -us -uc (log above)"
        return 1
    fi
    ok "dpkg-buildpackage -us -uc built $(cd "$WORK/build" && ls ./*.deb ./*.dsc |
        sed 's|^\./||' | tr '\n' ' ')in $(elapsed "$t")"
    grep -E '^# (TOTAL|PASS|FAIL):' "$WORK/build.log" | sed 's/^/#   unit tests: /'
    dpkg-deb -f "$DEB" Depends | sed 's/^/#   Depends: /'
    timeout 300 lintian --fail-on error "$WORK"/build/*.changes >"$WORK/lintian.log" 2>&1
    rc=$?
    sed 's/^/#   lintian: /' "$WORK/lintian.log"
    counts="$(grep -c '^E: ' "$WORK/lintian.log") errors, $(grep -c '^W: ' "$WORK/lintian.log") warnings"
    if [ "$rc" = 0 ]; then ok "lintian: no errors ($counts)"; else not_ok "lintian: $counts"; fi
}

# ---- 3: the root filesystem --------------------------------------------
# The .deb's Depends as package names: versions and alternatives dropped
# (the first alternative is taken).
deb_depends() {
    dpkg-deb -f "$DEB" Depends | tr ',' '\n' |
        sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' | grep . | tr '\n' ',' |
        sed 's/,$//'
}

make_root() {
    ROOT=$WORK/root
    include=systemd,dbus,curl,procps,$(deb_depends)
    t=$(date +%s)
    # shellcheck disable=SC2086 # MPMD_DEB_MIRROR: empty or one URL
    if timeout "$ROOTFS_SECONDS" debootstrap --variant=minbase --include="$include" \
            "$SUITE" "$ROOT" ${MPMD_DEB_MIRROR:-} >"$WORK/debootstrap.log" 2>&1; then
        ok "debootstrap --variant=minbase $SUITE with $include in $(elapsed "$t")"
    else
        tail -n 20 "$WORK/debootstrap.log"
        not_ok "debootstrap --variant=minbase $SUITE (the Debian mirror must be reachable;" \
            "MPMD_DEB_MIRROR=URL picks another)"
        return 1
    fi
    # The test, the package, its unit; a getty on the console could chown
    # the host's /dev/null (docs/systemd.md): mask it.
    mkdir -p "$ROOT/opt/mpmd-test" "$ROOT/results"
    cp "$abs_top_srcdir/tests/systemd/deb-in-container.sh" \
       "$abs_top_srcdir/tests/systemd/container-checks.sh" "$DEB" "$ROOT/opt/mpmd-test/"
    cat >"$ROOT/etc/systemd/system/mpmd-deb-test.service" <<EOF
[Unit]
Description=mpmd package checks (tests/systemd/deb-in-container.sh)
After=basic.target

[Service]
Type=oneshot
TimeoutStartSec=$((CONTAINER_SECONDS - 60))
ExecStart=/bin/sh /opt/mpmd-test/deb-in-container.sh /opt/mpmd-test/$(basename "$DEB") /results
ExecStopPost=/bin/sh -c 'journalctl -q -u mpmd.service --no-pager >/results/journal.txt 2>&1; systemctl exit \$\$(cat /results/status 2>/dev/null || echo 1)'
EOF
    ln -sf /dev/null "$ROOT/etc/systemd/system/console-getty.service"
}

# ---- 4: the container, and leaving the host as found -----------------
cleanup() {
    restore_host "$WORK"
    if [ -n "${MPMD_KEEP:-}" ]; then
        echo "check-deb: kept $WORK"
    elif [ -n "$WORK" ]; then
        rm -rf "$WORK"
    fi
}

boot() {
    in_cgroups timeout "$CONTAINER_SECONDS" systemd-nspawn -q -D "$ROOT" --register=no \
        --keep-unit --private-network --bind="$WORK/results:/results" \
        -b -- systemd.unit=multi-user.target systemd.wants=mpmd-deb-test.service \
        systemd.mask=console-getty.service systemd.show_status=no systemd.firstboot=off \
        </dev/null >"$WORK/console.log" 2>&1
}

run_container() {
    mkdir -p "$WORK/results"
    make_cgroups
    t=$(date +%s)
    boot
    rc=$?
    echo "# container exited with $rc after $(elapsed "$t")"
    if [ -s "$WORK/results/log" ]; then
        # Its checks, numbered after ours.
        while IFS= read -r line; do
            case $line in
            "ok "*) ok "${line#ok [0-9]* - }" ;;
            "not ok "*) not_ok "${line#not ok [0-9]* - }" ;;
            1..*) ;;
            *) echo "$line" ;;
            esac
        done <"$WORK/results/log"
    else
        not_ok "the container wrote no results (console below)"
    fi
    status=$(cat "$WORK/results/status" 2>/dev/null || echo missing)
    if [ "$rc" != 0 ] || [ "$status" != 0 ]; then
        echo "---- console (last 40 lines) ----"
        tail -n 40 "$WORK/console.log"
        echo "---- mpmd's journal (last 60 lines) ----"
        tail -n 60 "$WORK/results/journal.txt" 2>/dev/null
        [ "$status" = 0 ] && not_ok "the container exited with $rc"
    fi
    # Whatever ran in the container ran in our throw-away cgroup.
    left=$(cgroup_leftovers)
    if [ -z "$left" ]; then ok "no process left in the container's cgroup"
    else not_ok "processes left in the container's cgroup: $left"; fi
}

preflight
start=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpmd-check-deb.XXXXXX") || die "mktemp failed"
nspawn_host_begin check-deb
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
build_package && make_root && run_container
if restore_host "$WORK"; then
    ok "host restored: no cgroup, mount or /run/systemd leftovers, /dev/null 666 root:root"
else
    not_ok "host restored (see above)"
fi
echo "1..$n"
if [ "$failed" != 0 ]; then
    echo "check-deb: FAILED ($failed of $n checks) after $(elapsed "$start")"
    exit 1
fi
echo "check-deb: PASSED ($n checks) in $(elapsed "$start")"
