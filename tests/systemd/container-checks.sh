# container-checks.sh: sourced by in-container.sh and deb-in-container.sh,
# the scripts that run inside the systemd-nspawn container.  TAP-like
# lines go to $LOG; the caller sets LOG, URL, n=0 and failed=0.
#
#   ok DESC / not_ok DESC / check DESC CMD...   one numbered result
#   say TEXT, quote (stdin as "#   " comments)    diagnostics in the log
#   prop NAME          a property of mpmd.service (systemctl show)
#   fetch              curl $URL, bounded
#   wait_for TENTHS CMD...   retry CMD up to TENTHS tenths of a second
#   client_loop        curl $URL until /tmp/client-stop exists (run it with &)
#   client_loop_end PID WHAT   stop it, log its counts, check none failed
# POSIX sh.

say() { printf '%s\n' "$*" >>"$LOG"; }
ok() { n=$((n + 1)); say "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); say "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else not_ok "$desc"; fi; }
quote() { sed 's/^/#   /' >>"$LOG"; }
prop() { systemctl show -p "$1" --value mpmd.service; }
fetch() { curl -sS --max-time 10 "$URL" 2>&1; }

wait_for() {
    tries=$1; shift
    while [ "$tries" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

# curl in a loop until /tmp/client-stop exists; exit codes to /tmp/client-codes
# (7: connection refused).
client_loop() {
    rm -f /tmp/client-stop /tmp/client-codes
    while [ ! -e /tmp/client-stop ]; do
        curl -s --max-time 10 -o /dev/null "$URL"
        echo $? >>/tmp/client-codes
        sleep 0.05
    done
}

# Stop the client_loop PID, log its exit codes, and check that every
# request across WHAT succeeded (and that some were made).
client_loop_end() {
    touch /tmp/client-stop
    wait "$1"
    answered=$(grep -c '^0$' /tmp/client-codes)
    say "# curl loop across $2: $answered answered, exit codes:" \
        "$(sort /tmp/client-codes | uniq -c | tr -s ' \n' ' ')"
    check "no failed request across $2 ($answered answered)" \
        test "$(grep -vc '^0$' /tmp/client-codes)" = 0 -a "$answered" -gt 0
}
