#!/bin/sh
# sanitizer-check.sh: make check-asan / make check-tsan.
#
# Owns $abs_top_builddir/build-KIND/: a separate build of the same sources
# with the sanitizer in CFLAGS, configured with the current build's
# configure arguments (CFLAGS and --enable-fuzzing dropped, --enable-werror
# added), then `make check` there.  Every sanitizer report (tests, unit
# test children and the servers the integration tests start) goes to
# build-KIND/san-logs/ through log_path; the run fails when the suite fails
# or any report exists, and prints the reports.  Runs in the make process
# that invoked the target; the main build is never touched.
#
# Usage (from Makefile.am): abs_top_srcdir=... abs_top_builddir=... MAKE=...
#   sh tests/sanitizer-check.sh asan|tsan
#
# An automake tree that was configured in place cannot also be the source
# of a VPATH build ("source directory already configured"), so in that
# case the sources are copied first with `make distdir` into build-KIND/src
# (timestamps kept, so rebuilds stay incremental).
set -eu

kind=${1:?usage: sanitizer-check.sh asan|tsan}
: "${abs_top_srcdir:?}" "${abs_top_builddir:?}"
MAKE=${MAKE:-make}

case $kind in
asan) san_cflags='-fsanitize=address,undefined -fno-omit-frame-pointer -g -O1' ;;
tsan) san_cflags='-fsanitize=thread -g -O1' ;;
*) echo "sanitizer-check.sh: unknown sanitizer '$kind' (asan or tsan)" >&2; exit 2 ;;
esac

top=$abs_top_builddir/build-$kind
build=$top/build
logs=$top/san-logs
mkdir -p "$top"

# Quote $1 for the shell (single quotes).
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# The current build's configure arguments, minus what we must not inherit.
configure_args() {
    eval "set -- $("$abs_top_builddir/config.status" --config)"
    out= werror=no
    for a in "$@"; do
        case $a in
        CFLAGS=*|--enable-fuzzing|--enable-fuzzing=*|--srcdir=*|--cache-file=*|-C) continue ;;
        --enable-werror|--enable-werror=yes) werror=yes ;;
        esac
        out="$out $(quote "$a")"
    done
    [ $werror = yes ] || out="$out '--enable-werror'"
    printf '%s\n' "$out"
}

# Where the sub-build takes its sources from.
source_tree() {
    if [ ! -f "$abs_top_srcdir/config.status" ]; then
        printf '%s\n' "$abs_top_srcdir"
        return
    fi
    echo "check-$kind: copying the sources (make distdir) to $top/src" >&2
    if ! "$MAKE" -C "$abs_top_builddir" distdir distdir="$top/src" >"$top/distdir.log" 2>&1; then
        cat "$top/distdir.log" >&2
        echo "check-$kind: make distdir failed (is a new file missing from EXTRA_DIST or a _SOURCES list?)" >&2
        exit 1
    fi
    printf '%s\n' "$top/src"
}

src=$(source_tree)
args=$(configure_args)
stamp="$src | $args | CFLAGS=$san_cflags"
if [ ! -f "$build/config.status" ] || [ "$(cat "$top/configure.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "check-$kind: configuring $build with$args CFLAGS='$san_cflags'" >&2
    rm -rf "$build" "$top/configure.stamp"
    mkdir -p "$build"
    eval "set -- $args"
    if ! (cd "$build" && "$src/configure" "$@" CFLAGS="$san_cflags") >"$top/configure.log" 2>&1; then
        tail -n 30 "$top/configure.log" >&2
        echo "check-$kind: configure failed; see $top/configure.log and $build/config.log" >&2
        exit 1
    fi
    printf '%s\n' "$stamp" >"$top/configure.stamp"
fi

rm -rf "$logs"
mkdir -p "$logs"
# Tests that count threads or time things may look at this (TSan adds
# threads of its own to every process).
MPMD_SANITIZER=$kind
export MPMD_SANITIZER
case $kind in
asan)
    ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$logs/asan"
    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
    export ASAN_OPTIONS UBSAN_OPTIONS ;;
tsan)
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan"
    export TSAN_OPTIONS ;;
esac

status=0
rm -f "$build/test-suite.log"
"$MAKE" -C "$build" check || status=$?

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
    for f in $reports; do
        echo "==== check-$kind: sanitizer report $f" >&2
        cat "$f" >&2
    done
    echo "check-$kind: FAILED: $(echo "$reports" | wc -l) sanitizer report(s) in $logs" >&2
    exit 1
fi
if [ $status -ne 0 ]; then
    if [ -f "$build/test-suite.log" ]; then
        echo "check-$kind: FAILED: make check failed; see $build/test-suite.log" >&2
    else
        echo "check-$kind: FAILED: the $kind build failed (see the compiler output above)" >&2
    fi
    exit $status
fi
echo "check-$kind: passed, no sanitizer reports"
