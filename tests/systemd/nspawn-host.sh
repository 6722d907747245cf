# nspawn-host.sh: sourced by check-systemd.sh and check-deb.sh -- running
# a systemd-nspawn container so that the host is left as it was found.
#
#   nspawn_host_begin TAG   note what already exists under /run/systemd;
#                           set NSPAWN_TAG (the prefix of messages)
#   make_cgroups            a throw-away cgroup (in each hierarchy nspawn
#                           uses) under ours, in CGROUPS
#   in_cgroups CMD...       run CMD inside those cgroups (exec)
#   cgroup_leftovers        the pids still in them (nothing after a clean run)
#   restore_host [DIR]      remove the cgroups and what nspawn left under
#                           /run/systemd, lazily unmount anything still
#                           mounted below DIR (debootstrap mounts proc and
#                           sys in its root), and put /dev/null back to 666
#                           root:root if a getty changed it (docs/systemd.md);
#                           status 1 if the host had been changed.
#
# The caller defines die().  POSIX sh.

# What nspawn may make under /run/systemd (locks/: image locks of a
# directory root), innermost first; removed afterwards unless it was there.
NSPAWN_RUN_DIRS="/run/systemd/nspawn/locks /run/systemd/nspawn/propagate /run/systemd/nspawn
    /run/systemd/nspawn-root"
NSPAWN_TAG=nspawn
CGROUPS=
RUN_BEFORE=

nspawn_host_begin() {
    NSPAWN_TAG=$1
    RUN_BEFORE=
    for f in $NSPAWN_RUN_DIRS; do
        [ -e "$f" ] && RUN_BEFORE="$RUN_BEFORE $f"
    done
    [ "$(stat -c %a /dev/null)" = 666 ] || echo "$NSPAWN_TAG: warning: /dev/null is" \
        "$(stat -c %a /dev/null) before the test" >&2
}

make_cgroups() {
    name=mpmd-$NSPAWN_TAG.$$
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        set -- "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)"
    else
        set -- "/sys/fs/cgroup/systemd$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)"
        [ -f /sys/fs/cgroup/unified/cgroup.controllers ] &&
            set -- "$@" "/sys/fs/cgroup/unified$(sed -n 's/^0:://p' /proc/self/cgroup)"
    fi
    for parent; do
        mkdir "${parent%/}/$name" || die "cannot make a cgroup under $parent"
        CGROUPS="$CGROUPS ${parent%/}/$name"
    done
}

in_cgroups() {
    procs=""
    for cg in $CGROUPS; do procs="$procs $cg/cgroup.procs"; done
    sh -c 'for f in $0; do echo $$ >"$f" || exit 1; done; exec "$@"' "$procs" "$@"
}

cgroup_leftovers() {
    for cg in $CGROUPS; do find "$cg" -name cgroup.procs -exec cat {} +; done | sort -u
}

remove_cgroups() {
    for cg in $CGROUPS; do
        tries=50
        while [ -d "$cg" ] && [ "$tries" -gt 0 ]; do
            find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
            [ -d "$cg" ] && sleep 0.1
            tries=$((tries - 1))
        done
        if [ -d "$cg" ]; then
            echo "$NSPAWN_TAG: cannot remove cgroup $cg" >&2
            return 1
        fi
    done
}

restore_host() {
    host_ok=0
    remove_cgroups || host_ok=1
    CGROUPS=
    for f in $NSPAWN_RUN_DIRS; do
        case " $RUN_BEFORE " in *" $f "*) ;; *) [ -d "$f" ] && rmdir "$f" ;; esac
    done
    if [ -n "${1:-}" ]; then
        for m in $(awk -v w="$1/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
            umount -l "$m" || host_ok=1
        done
    fi
    if [ "$(stat -c '%a %U:%G' /dev/null)" != "666 root:root" ]; then
        echo "$NSPAWN_TAG: /dev/null was changed to $(stat -c '%a %U:%G' /dev/null);" \
             "restoring 666 root:root" >&2
        chown root:root /dev/null && chmod 666 /dev/null
        host_ok=1
    fi
    return "$host_ok"
}
