#!/usr/bin/env python3
# test_websocket.py: WebSocket tunnels through mpmd's reverse proxy
# (TAP on stdout).
#
# uvicorn serves upstreams/asgi_app.py (a WebSocket echo at /ws); mpmd
# (MPM event, one child of 16 handler threads) proxies it with both forms
# of the configuration: "ProxyPass /ws/ ws://.../ws" and "ProxyPass /up/
# http://.../ upgrade=websocket", and a plain http:// ProxyPass without
# upgrade= (there the Upgrade header must not be forwarded, so the
# handshake fails).  The client is upstreams/ws_client.py, run by Debian's
# /usr/bin/python3 (python3-websockets).
#
# Checked: handshakes; 10,000 echoed messages (text and binary, 1 byte to
# 200 KB) on one tunnel, 1,000 on the other form; 1,000 WebSockets open at
# once through a child with 16 threads (so no thread is held per tunnel):
# mpmd holds all 1,000 client connections and uvicorn all 1,000 upstream
# ones, the child has far fewer threads than tunnels, every tunnel still
# echoes afterwards; after the client closes them, mpmd lets go of them
# and still serves.
# Needs python3-uvicorn and python3-websockets; skips when missing.
# Run by hand:
#   MPMD=$PWD/src/mpmd MPMD_SRCDIR=$PWD PYTHONPATH=$PWD/tests/integration \
#       python3 tests/integration/test_websocket.py

import contextlib
import json

import mpmdtest
import upstreams as U
from mpmdtest import Conn, peer_ports_held, proc_threads, run_tests

THREADS = 16
IDLE = 1000
ECHO_MESSAGES = 10000


def conf(u):
    # /plain/ names its own upstream URL and comes first: Apache shares one
    # worker, upgrade= included, among ProxyPass lines with the same URL.
    return "\n".join([
        "ProxyPass /plain/ http://127.0.0.1:%d/via/plain/" % u,
        "ProxyPass /ws/ ws://127.0.0.1:%d/ws" % u,
        "ProxyPass /up/ http://127.0.0.1:%d/ upgrade=websocket" % u,
    ])


def handshakes(t, s):
    base = "ws://127.0.0.1:%d" % s.port
    for path, label in (("/ws/", "ProxyPass /ws/ ws://UPORT/ws"),
                        ("/up/ws", "ProxyPass /up/ http://UPORT/ upgrade=websocket")):
        r = U.ws_run("handshake", base + path, timeout=30)
        t.ok(r.get("ok") and r.get("status") == 101, "%s: handshake 101 and a first echo" % label,
             diag=json.dumps(r))
    r = U.ws_run("handshake", base + "/plain/ws", timeout=30)
    t.ok(not r.get("ok") and r.get("status") not in (None, 101),
         "plain ProxyPass without upgrade=websocket: Upgrade not forwarded, handshake refused "
         "with an HTTP status", diag=json.dumps(r))
    r = mpmdtest.request(s.port, "GET", "/plain/echo?p=1")
    t.eq((r.status, r.header("X-Upstream")), (200, "uvicorn"),
         "plain ProxyPass: ordinary HTTP request reaches uvicorn")
    r = mpmdtest.request(s.port, "GET", "/up/echo?p=2")
    j = json.loads(r.body or b"{}") if r.status == 200 else {}
    t.eq((r.status, j.get("query")), (200, "p=2"),
         "upgrade=websocket route: ordinary HTTP request (no Upgrade) still proxied")


def echo_many(t, s):
    base = "ws://127.0.0.1:%d" % s.port
    r = U.ws_run("echo", base + "/ws/", ECHO_MESSAGES, timeout=120)
    t.ok(r.get("ok") and r.get("matched") == ECHO_MESSAGES,
         "ws:// form: %d messages echoed in order (%s s)" % (ECHO_MESSAGES, r.get("seconds")),
         diag=json.dumps(r))
    r = U.ws_run("echo", base + "/up/ws", 1000, timeout=60)
    t.ok(r.get("ok") and r.get("matched") == 1000,
         "upgrade=websocket form: 1000 messages echoed in order (%s s)" % r.get("seconds"),
         diag=json.dumps(r))


def concurrent_gets(port, path, n):
    """N GETs of PATH at once, each on its own connection: their statuses."""
    import threading
    out = [None] * n

    def one(i):
        try:
            with Conn(port) as c:
                c.request("GET", path)
                out[i] = c.read_response().status
        except Exception as e:             # noqa: BLE001 - reported as the status
            out[i] = repr(e)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return out


def held_connections(s):
    return sum(len(peer_ports_held(k, s.port)) for k in s.children())


def many_idle(t, s, up):
    limit = U.raise_nofile(20000)
    if limit < 2 * IDLE + 500:
        t.skip("%d idle WebSockets" % IDLE, "RLIMIT_NOFILE hard limit %d < %d"
               % (limit, 2 * IDLE + 500))
        return
    url = "ws://127.0.0.1:%d/up/ws" % s.port
    with U.WsIdle(url, IDLE) as w:
        r = w.phase(60)
        t.ok(r.get("opened") == IDLE and r.get("failed") == 0,
             "%d WebSockets opened through mpmd and all open at once (%s s)"
             % (IDLE, r.get("seconds")), diag=json.dumps(r))
        kids = s.children()
        threads = sum(max(0, proc_threads(k)) for k in kids)
        held = held_connections(s)
        upstream_held = len(peer_ports_held(up.pid, up.port))
        t.ok(held >= IDLE, "mpmd's children hold all %d client connections (%d)" % (IDLE, held))
        t.ok(upstream_held >= IDLE,
             "uvicorn holds all %d tunnel connections from mpmd (%d)" % (IDLE, upstream_held))
        t.ok(r.get("opened") == IDLE and 0 < threads < IDLE,
             "%d children with %d threads in all (ThreadsPerChild %d) carry %d tunnels: "
             "no thread per tunnel" % (len(kids), threads, THREADS, IDLE))
        statuses = concurrent_gets(s.port, "/plain/echo", 2 * THREADS)
        t.eq(statuses, [200] * (2 * THREADS),
             "with the %d tunnels open, %d requests at once are all answered: the handler "
             "threads are free" % (IDLE, 2 * THREADS))
        w.echo()
        r = w.phase(60)
        t.ok(r.get("echoed") == IDLE and r.get("failed") == 0,
             "every one of the %d idle WebSockets echoes afterwards" % IDLE, diag=json.dumps(r))
    t.ok(mpmdtest.wait_until(lambda: held_connections(s) < 10, 15, 0.2),
         "after the client closed them, mpmd lets go of the tunnels",
         diag="still held: %d" % held_connections(s))
    with Conn(s.port) as c:
        c.request("GET", "/plain/echo")
        t.eq(c.read_response().status, 200, "mpmd serves normally afterwards")


def main(t):
    reason = U.missing_python(("uvicorn", "python3-uvicorn"), ("websockets", "python3-websockets"))
    if reason:
        t.skip("WebSocket proxy tests", reason)
        return
    U.raise_nofile(20000)          # inherited by uvicorn and mpmd
    tmp = U.mkdtemp("mpmdtest-ws-")
    try:
        with contextlib.ExitStack() as stack:
            up = U.started(t, stack, "uvicorn", U.start_uvicorn, tmp)
            if up is None:
                return
            with U.front(t, "websocket", conf(up.port), mpm="event", threads=THREADS,
                         start_servers=1, server_limit=1) as s:
                if s is None:
                    return
                for name, fn in (("handshakes", handshakes), ("echo", echo_many)):
                    with t.guard(name):
                        fn(t, s)
                with t.guard("idle WebSockets"):
                    many_idle(t, s, up)
                U.no_crash(t, s, "websocket")
    finally:
        U.keep_or_remove(tmp)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
