#!/usr/bin/env python3
# test_process.py: mpmd's process model (TAP on stdout).
#
# Process tree (1 supervisor + StartServers children, 1 + ThreadsPerChild
# threads each) in both MPM modes, clean stop on SIGTERM and SIGINT (exit 0,
# no process left, PidFile written then removed, port released), and
# replacement of a child killed with SIGKILL, and connection bursts shared
# between the children (src/mpm/balance.c).
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_process.py

import os
import signal

import mpmdtest
from mpmdtest import INDEX_HTML, Server, proc_stat, proc_threads, run_tests, wait_until

START_SERVERS = 3
THREADS = 5
CHILD_THREADS = mpmdtest.child_threads(THREADS)
SETTLE = 5.0    # bound for the tree to reach its configured shape


def tree_shape(s):
    """(number of children, sorted thread counts) of the running server."""
    kids = s.children()
    return len(kids), sorted(proc_threads(k) for k in kids)


def wait_tree(s):
    want = (START_SERVERS, [CHILD_THREADS] * START_SERVERS)
    wait_until(lambda: tree_shape(s) == want, SETTLE)
    return s.children()


def read_pidfile(s):
    try:
        with open(s.pidfile) as f:
            return f.read()
    except OSError:
        return None


def check_tree(t, s, tag):
    kids = wait_tree(s)
    t.ok(s.is_running(), "%s: supervisor (the started pid) runs in the foreground" % tag)
    t.eq(len(kids), START_SERVERS, "%s: supervisor has StartServers=%d children"
         % (tag, START_SERVERS))
    for k in kids:
        t.eq(proc_threads(k), CHILD_THREADS, "%s: child %d has 1 + ThreadsPerChild=%d threads"
             % (tag, k, THREADS))
        st = proc_stat(k)
        t.eq(st[1] if st else None, s.pid, "%s: child %d's parent is the supervisor" % (tag, k))
    for k in kids:   # grandchildren would be an error in the process model
        t.eq(mpmdtest.proc_children(k), [], "%s: child %d has no children of its own" % (tag, k))
    content = wait_until(lambda: read_pidfile(s), SETTLE)
    t.eq((content or "").strip(), str(s.pid), "%s: PidFile holds the supervisor pid" % tag)
    r = s.get("/")
    t.eq((r.status, r.body), (200, INDEX_HTML), "%s: serves /" % tag)


def check_stop(t, s, sig, tag):
    signame = signal.Signals(sig).name
    s.children()
    pids = dict(s.known)
    rc = s.stop(sig)
    t.eq(rc, 0, "%s: %s -> supervisor exits with status 0 within %d s"
         % (tag, signame, mpmdtest.STOP_TIMEOUT))
    left = wait_until(lambda: not s.leftovers(), mpmdtest.STOP_TIMEOUT) or s.leftovers()
    t.ok(left is True, "%s: %s -> no process left (%d recorded pids)" % (tag, signame, len(pids)),
         diag="still alive: %r" % (left,))
    t.ok(not os.path.exists(s.pidfile), "%s: %s -> PidFile removed" % (tag, signame))
    t.ok(mpmdtest.port_is_free(s.port), "%s: %s -> port released" % (tag, signame))


def check_respawn(t, s, tag):
    old = wait_tree(s)
    if not t.eq(len(old), START_SERVERS, "%s: %d children before the kill" % (tag, START_SERVERS)):
        return
    victim = old[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        kids = s.children()
        return (len(kids) == START_SERVERS and victim not in kids
                and any(k not in old for k in kids))
    t.ok(wait_until(replaced, SETTLE), "%s: SIGKILLed child %d reaped and replaced within %d s"
         % (tag, victim, SETTLE), diag="children now: %r (before: %r)" % (s.children(), old))
    new = [k for k in s.children() if k not in old]
    for k in new:
        wait_until(lambda: proc_threads(k) == CHILD_THREADS, SETTLE)
        t.eq(proc_threads(k), CHILD_THREADS, "%s: new child %d has %d threads"
             % (tag, k, CHILD_THREADS))
    statuses = [s.get("/").status for _ in range(12)]
    t.eq(statuses, [200] * 12, "%s: still answering after the kill (12 connections)" % tag)
    t.ok(s.is_running(), "%s: supervisor survived the child's death" % tag)


def check_busy_child_stops_accepting(t, s, tag):
    """MPM worker, 1 thread per child: a connection that holds a child's only
    handler (a head that never completes) must not strand later connections
    in that child's queue; the sibling takes them (Apache's behaviour)."""
    import socket
    wait_until(lambda: len(s.children()) == 2, SETTLE)
    holder = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    try:
        holder.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        statuses = []
        for _ in range(10):
            try:
                with mpmdtest.Conn(s.port, timeout=3) as c:
                    c.request("GET", "/")
                    statuses.append(c.read_response().status)
            except Exception as e:  # a stranded connection times out here
                statuses.append(repr(e))
        t.eq(statuses, [200] * 10, "%s: 10 new connections answered while a child's only "
             "handler is held (Timeout is 10 s, client waits 3 s)" % tag)
    finally:
        holder.close()


BURST = 200


def open_burst(port, n):
    """N connections opened back to back (a burst in the accept queue), then
    one request answered on each; returns the open keep-alive Conns."""
    conns = [mpmdtest.Conn(port) for _ in range(n)]
    for c in conns:
        c.request("GET", "/")
    statuses = [c.read_response().status for c in conns]
    return conns, statuses


def held_by_child(s, conns):
    """{child pid: number of CONNS it holds}, by matching our local ports with
    the peer ports of each child's sockets."""
    ours = {c.sock.getsockname()[1] for c in conns}
    return {k: len(ours & mpmdtest.peer_ports_held(k, s.port)) for k in s.children()}


def check_burst_is_shared(t, s, tag):
    """A burst of connections is shared between 2 children (each child is
    woken for every connection; without balancing one could take them all),
    and a child already holding most connections leaves the next burst to its
    idle sibling."""
    # Both children ready (all their threads started, the step before a
    # child marks itself READY): a child lists its READY siblings when it
    # first accepts and then once a second, so a burst that meets a sibling
    # still starting is not shared.
    threads = mpmdtest.child_threads(s.threads)
    t.ok(wait_until(lambda: len(s.children()) == 2 and
                    all(mpmdtest.proc_threads(k) == threads for k in s.children()), SETTLE),
         "%s: 2 children with %d threads each" % (tag, threads))
    conns, statuses = open_burst(s.port, BURST)
    try:
        t.eq(statuses, [200] * BURST, "%s: %d connections opened at once all answered"
             % (tag, BURST))
        held = held_by_child(s, conns)
        t.eq(sum(held.values()), BURST, "%s: every connection found in a child (%r)"
             % (tag, held))
        t.ok(min(held.values()) >= BURST * 45 // 100, "%s: each child holds >= 45%% of the "
             "burst" % tag, "held: %r" % held)
        # Leave one child all the load: close what the other holds.
        loaded = max(held, key=held.get)
        mine = mpmdtest.peer_ports_held(loaded, s.port)
        keep = [c for c in conns if c.sock.getsockname()[1] in mine]
        for c in conns:
            if c not in keep:
                c.close()
        conns = list(keep)
        n = len(keep)
        others = [k for k in held if k != loaded]
        t.ok(wait_until(lambda: not any(mpmdtest.peer_ports_held(k, s.port, False)
                                        for k in others), SETTLE),
             "%s: the other child closed its connections" % tag)
        more, statuses = open_burst(s.port, n)
        conns += more
        t.eq(statuses, [200] * n, "%s: a second burst of %d answered" % (tag, n))
        got = held_by_child(s, more)
        t.diag("second burst: %r (loaded child %d)" % (got, loaded))
        idle = [k for k in got if k != loaded]
        t.ok(idle and got[idle[0]] >= n * 7 // 10, "%s: the idle child takes >= 70%% of a "
             "burst while its sibling holds %d connections" % (tag, n))
    finally:
        for c in conns:
            c.close()


def main(t):
    tag = "burst"
    with t.guard(tag), Server(start_servers=2, server_limit=2, tap=t,
                              conf_extra="KeepAliveTimeout 30") as s:
        check_burst_is_shared(t, s, tag)
    tag = "worker busy"
    with t.guard(tag), Server(mpm="worker", threads=1, start_servers=2, tap=t) as s:
        check_busy_child_stops_accepting(t, s, tag)
    for mpm in ("event", "worker"):
        tag = "%s tree" % mpm
        with t.guard(tag), Server(mpm=mpm, threads=THREADS, start_servers=START_SERVERS,
                                  tap=t) as s:
            check_tree(t, s, tag)
            check_stop(t, s, signal.SIGTERM, tag)
        tag = "%s SIGINT" % mpm
        with t.guard(tag), Server(mpm=mpm, threads=THREADS, start_servers=START_SERVERS,
                                  tap=t) as s:
            wait_tree(s)
            check_stop(t, s, signal.SIGINT, tag)
        tag = "%s respawn" % mpm
        with t.guard(tag), Server(mpm=mpm, threads=THREADS, start_servers=START_SERVERS,
                                  tap=t) as s:
            check_respawn(t, s, tag)
            check_stop(t, s, signal.SIGTERM, tag)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
