#!/bin/sh
# quickstart.sh: from a fresh Debian 12 checkout to a running mpmd.
#
#   ./quickstart.sh          install build dependencies if missing, build, and
#                            run mpmd in the foreground on http://127.0.0.1:8080
#                            serving www/ (Ctrl-C stops it)
#   ./quickstart.sh check    same preparation (and the upstreams and tools the
#                            tests use: gunicorn, uvicorn, php-fpm, promtool,
#                            haproxy), then run the whole test suite (make
#                            check) and print
#                            "N passed, N failed"
#   ./quickstart.sh summary  print that line again for the last run
#
# Nothing is installed outside the build tree except the Debian packages;
# sudo is used for apt-get only when not run as root.
set -eu
cd "$(dirname "$0")"

DEPS="build-essential autoconf automake pkg-config libevent-dev libhttp-parser-dev libpcre2-dev libssl-dev openssl zlib1g-dev libbrotli-dev libdeflate-dev \
check libsystemd-dev python3 python3-requests curl wget wrk apache2-utils nghttp2-client apache2"

# The upstreams the integration tests start (reverse proxy, FastCGI,
# WebSocket), the balancer they put in front (haproxy) and the monitoring
# tools they check against (promtool, prometheus_client's parser,
# logrotate): only for `check`.
TEST_DEPS="gunicorn python3-uvicorn python3-websockets php8.2-fpm php8.2-cli \
prometheus prometheus-apache-exporter python3-prometheus-client logrotate \
testssl.sh sslscan python3-httpx python3-aiohttp python3-brotli haproxy"

install_deps() {
    missing=""
    for p in $DEPS; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' \
            || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "quickstart: installing build dependencies:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
}

build() {
    [ -x configure ] || autoreconf -fi
    [ -f Makefile ] || ./configure --enable-werror
    make -j"$(nproc)"
}

# Print the automake summary of test-suite.log as "N passed, N failed".
summarize() {
    log=test-suite.log
    [ -f "$log" ] || { echo "0 passed, 1 failed"; return; }
    awk '/^# (PASS|XFAIL):/ {p += $3} /^# (FAIL|XPASS|ERROR):/ {f += $3} /^# SKIP:/ {s += $3}
         END {printf "%d passed, %d failed, %d skipped\n", p, f, s}' "$log"
}

run_checks() {
    status=0
    make -j"$(nproc)" check || status=$?
    if [ "$status" -ne 0 ]; then
        echo "quickstart: test failures; the logs of the failing tests follow" >&2
        cat test-suite.log >&2 || true
    fi
    summarize
    return "$status"
}

if [ "${1:-run}" = summary ]; then
    summarize
    exit 0
fi
[ "${1:-run}" = check ] && DEPS="$DEPS $TEST_DEPS"
install_deps
build
case "${1:-run}" in
    run)
        echo "quickstart: serving $(pwd)/www on http://127.0.0.1:8080 (Ctrl-C stops)"
        exec src/mpmd -d "$(pwd)" -f etc/server.conf
        ;;
    check)
        run_checks
        ;;
    *)
        echo "usage: $0 [run|check]" >&2
        exit 2
        ;;
esac
