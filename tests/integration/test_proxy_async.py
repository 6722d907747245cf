#!/usr/bin/env python3
# test_proxy_async.py: the reverse proxy's listener-side path (MPM event:
# a proxied request without a body is sent upstream and its response read
# by the listener's event loop, no handler thread; src/modules/
# proxy_async.c) against the handler-thread path every request takes in
# MPM worker (src/modules/proxy_http.c), which must give the same answers
# (TAP on stdout).
#
# The upstream is scripted in this process (class Scripted: a threaded
# socket server on 127.0.0.1, port chosen by the kernel) and answers by the
# last segment of the request path with exact bytes and timing: /split
# (body 5 ms after the head), /split-head (the head in two writes),
# /slow-body (body 300 ms after the head), /chunked (with a trailer),
# /chunked-pause (pauses of 60 ms, one in the middle of a chunk),
# /close-delimited, /head-cl, /204, /304, /404 and /404big and /500 (the
# upstream's own bodies), /garbage (not HTTP), /cut and /cut-late (Content-
# Length 1000, 10 bytes, close), /never, /big?n= and /bigchunked?n= (a
# known byte pattern), /sse (5 events 100 ms apart), /sse-step and
# /accel-step (X-Accel-Buffering: no; each event waits until the client
# acknowledges the one before), /once (answers keep-alive, then drops the
# next request on that connection unanswered), /once-fin (closes right
# after answering), /barrier?n=N&k=KEY (no answer until N requests of KEY
# are open at once, bounded), /gate?k=KEY (no answer until the test opens
# the gate, bounded).
#
# Checked, under MPM event and again under MPM worker with the same
# expectations (except where noted): status and body bytes (sha256 for
# 65000, 65536, 70000 and 1 MiB), valid framing (one Content-Length or one
# chunked, never both or twice; small chunked and close-delimited upstream
# bodies reach the client with a Content-Length under event), HEAD without
# body, 204/304 without body; the upstream's 404 and 500 bodies kept where
# mpmd's ErrorDocument replaces its own 404 and 502; a pooled connection
# the upstream drops is retried (the upstream counts the drops); 502 for a
# refused port and for garbage, a cut response never seen whole, 504 for
# timeout=1, each named in the error log; 20 pipelined requests answered
# in order; clients that leave while their request waits upstream do not
# hurt the child; SSE and X-Accel-Buffering: no streamed event by event.
# MPM event only: 30 clients wait on one barrier in a child with one
# handler thread (only possible when a waiting request holds no thread).
# Both MPMs: SIGUSR1 while 20 requests wait (all complete), SIGTERM while
# 20 wait on /never (every process gone within 15 s).
# No timing assertions: waits are bounded, never measured.
# Run by hand:
#   MPMD=$PWD/src/mpmd MPMD_SRCDIR=$PWD PYTHONPATH=$PWD/tests/integration \
#       python3 tests/integration/test_proxy_async.py

import contextlib
import hashlib
import os
import select
import signal
import socket
import struct
import threading
import time
import urllib.parse

import mpmdtest
import upstreams as U
from mpmdtest import Conn, ProtocolError, run_tests, wait_until

SERVER_NAME = "proxy-async.test"
BIG_SIZES = (65000, 65536, 70000, 1048576)
BARRIER_N = 30
BARRIER_TIMEOUT = 6.0       # the upstream answers 503 when a barrier is not met
GATE_TIMEOUT = 8.0
STEP_ACK_TIMEOUT = 2.0      # a streamed event not acknowledged by then: the rest at once
NEVER_BOUND = 30.0          # /never holds its connection at most this long
IDLE_BOUND = 30.0           # an idle upstream connection is closed after this
STOP_BOUND = 15.0           # SIGTERM -> every mpmd process gone
SSE_EVENTS = 5
STEP_EVENTS = 4
ERRDOC_404 = b"<html><body>local missing page (ErrorDocument 404)</body></html>\n"
ERRDOC_500 = "mpmd ErrorDocument 500 text"
ERRDOC_502 = "mpmd ErrorDocument 502 text"
LOCAL_A_TXT = mpmdtest.A_TXT
CLIENT_ERRORS = (OSError, ProtocolError, ValueError)

# ---------------------------------------------------------------- what the upstream sends


def small_body(name, target):
    """The body of every small response: names the behaviour and the target."""
    return ("%s body for %s\n" % (name, target)).encode()


def pattern(n):
    return b"".join(U.pattern_chunks(n))


def sse_event(i):
    return b"id: %d\nevent: tick\ndata: %d\n\n" % (i, i)


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def dechunk(raw):
    """(body, rest) of chunked RAW; raises ValueError when incomplete."""
    body, pos = b"", 0
    while True:
        eol = raw.index(b"\r\n", pos)
        size = int(raw[pos:eol].split(b";")[0].strip(), 16)
        pos = eol + 2
        if size == 0:
            end = raw.index(b"\r\n\r\n", pos - 2)
            return body, raw[end + 4:]
        if len(raw) < pos + size + 2:
            raise ValueError("chunk cut short")
        body += raw[pos:pos + size]
        pos += size + 2


class Scripted:
    """A scripted HTTP/1.1 upstream on 127.0.0.1 in threads of this process:
    keep-alive connections, one thread each; answers by the last path
    segment (module comment).  Counters under .cond: total[name] requests
    received, active[name] requests being answered, dropped (requests
    closed unanswered on a /once connection), step_acked[key] events of a
    step stream acknowledged in time, barrier_peak[key]."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(256)
        self.port = self.lsock.getsockname()[1]
        self.cond = threading.Condition()
        self.total, self.active = {}, {}
        self.dropped = 0
        self.barriers, self.barrier_peak = {}, {}
        self.gates, self.acks, self.step_acked = {}, {}, {}
        self.conns = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # -- test side
    def count(self, table, name):
        with self.cond:
            return getattr(self, table).get(name, 0)

    def drops(self):
        with self.cond:
            return self.dropped

    def _event(self, table, key):
        with self.cond:
            if key not in table:
                table[key] = threading.Event()
            return table[key]

    def open_gate(self, key):
        self._event(self.gates, key).set()

    def ack(self, key, i):
        self._event(self.acks, (key, i)).set()

    def stop(self):
        self._stop.set()
        with self.cond:
            self.cond.notify_all()
            conns = list(self.conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        self.lsock.close()
        self._thread.join(2.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- server side
    def _accept(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self.lsock], [], [], 0.2)
            if not r:
                continue
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            with self.cond:
                self.conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _recv(self, conn, bound):
        """Bytes, b"" at EOF or error, None when stopped or BOUND passed."""
        deadline = time.monotonic() + bound
        while not self._stop.is_set() and time.monotonic() < deadline:
            r, _, _ = select.select([conn], [], [], 0.2)
            if r:
                try:
                    return conn.recv(65536)
                except OSError:
                    return b""
        return None

    def _serve(self, conn):
        conn.settimeout(10.0)
        buf, doomed = b"", False
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    data = self._recv(conn, IDLE_BOUND)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                if doomed:
                    with self.cond:
                        self.dropped += 1
                    return          # a request on a /once connection: closed unanswered
                method, target = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
                keep = self._answer(conn, method, target)
                if keep == "doomed":
                    doomed = True
                elif not keep:
                    return
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _answer(self, conn, method, target):
        path, _, query = target.partition("?")
        name = path.rsplit("/", 1)[-1]
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        with self.cond:
            self.total[name] = self.total.get(name, 0) + 1
            self.active[name] = self.active.get(name, 0) + 1
        try:
            return self._behave(conn, method, target, name, q)
        finally:
            with self.cond:
                self.active[name] -= 1
                self.cond.notify_all()

    def _head(self, status, fields, target):
        lines = ["HTTP/1.1 %s" % status] + ["%s: %s" % kv for kv in fields]
        lines.append("X-Target: %s" % target)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _behave(self, conn, method, target, name, q):
        head_only = method == "HEAD"
        send = conn.sendall
        body = small_body(name, target)
        text = [("Content-Type", "text/plain")]

        def with_cl(status, data, fields=None):
            h = self._head(status, (fields or text) + [("Content-Length", len(data))], target)
            send(h if head_only else h + data)
            return True

        if name == "split":
            send(self._head("200 OK", text + [("Content-Length", len(body))], target))
            self._stop.wait(0.005)
            if not head_only:
                send(body)
            return True
        if name == "split-head":
            h = self._head("200 OK", text + [("Content-Length", len(body))], target)
            send(h[:12])
            self._stop.wait(0.005)
            send(h[12:] if head_only else h[12:] + body)
            return True
        if name == "slow-body":
            send(self._head("200 OK", text + [("Content-Length", len(body))], target))
            self._stop.wait(0.3)
            if not head_only:
                send(body)
            return True
        if name == "chunked":
            h = self._head("200 OK", text + [("Transfer-Encoding", "chunked"),
                                             ("Trailer", "X-Check")], target)
            parts = [body[:7], body[7:9], body[9:]]
            send(h if head_only else
                 h + b"".join(chunk(p) for p in parts) + b"0\r\nX-Check: yes\r\n\r\n")
            return True
        if name == "chunked-pause":
            h = self._head("200 OK", text + [("Transfer-Encoding", "chunked")], target)
            if head_only:
                send(h)
                return True
            second = chunk(body[5:])
            send(h + chunk(body[:5]))
            self._stop.wait(0.06)
            send(second[:5])                # the size line and part of the data
            self._stop.wait(0.06)
            send(second[5:] + b"0\r\n\r\n")
            return True
        if name == "close-delimited":
            send(self._head("200 OK", text, target) + (b"" if head_only else body))
            return False
        if name == "head-cl":
            return with_cl("200 OK", b"h" * 1234)
        if name == "204":
            send(self._head("204 No Content", [], target))
            return True
        if name == "304":
            send(self._head("304 Not Modified", [("ETag", '"v1"')], target))
            return True
        if name == "404":
            return with_cl("404 Not Found", body)
        if name == "404big":
            return with_cl("404 Not Found", pattern(70000),
                           [("Content-Type", "application/octet-stream")])
        if name == "500":
            return with_cl("500 Internal Server Error", body)
        if name == "garbage":
            send(b"THIS IS NOT HTTP\r\nat all, no status line\r\n\r\n")
            return False
        if name in ("cut", "cut-late"):
            h = self._head("200 OK", text + [("Content-Length", 1000)], target)
            send(h + b"0123456789")
            if name == "cut-late":
                self._stop.wait(0.1)
            return False
        if name == "never":
            while True:
                data = self._recv(conn, NEVER_BOUND)
                if not data:            # mpmd closed it, or stopped, or bound
                    return False
        if name == "big":
            return with_cl("200 OK", pattern(int(q.get("n", "0"))),
                           [("Content-Type", "application/octet-stream")])
        if name == "bigchunked":
            data = pattern(int(q.get("n", "0")))
            h = self._head("200 OK", [("Content-Type", "application/octet-stream"),
                                      ("Transfer-Encoding", "chunked")], target)
            send(h if head_only else
                 h + b"".join(chunk(data[i:i + 16384]) for i in range(0, len(data), 16384))
                 + b"0\r\n\r\n")
            return True
        if name == "sse":
            send(self._head("200 OK", [("Content-Type", "text/event-stream"),
                                       ("Cache-Control", "no-cache"),
                                       ("Transfer-Encoding", "chunked")], target))
            for i in range(SSE_EVENTS):
                if i:
                    self._stop.wait(0.1)
                send(chunk(sse_event(i)))
            send(b"0\r\n\r\n")
            return True
        if name in ("sse-step", "accel-step"):
            return self._step(conn, name, target, q.get("k", ""))
        if name == "once":
            with_cl("200 OK", body)
            return "doomed"
        if name == "once-fin":
            with_cl("200 OK", body)
            return False
        if name == "barrier":
            key, n = q.get("k", ""), int(q.get("n", "1"))
            with self.cond:
                self.barriers[key] = self.barriers.get(key, 0) + 1
                self.barrier_peak[key] = max(self.barrier_peak.get(key, 0), self.barriers[key])
                self.cond.notify_all()
                met = self.cond.wait_for(
                    lambda: self.barriers[key] >= n or self._stop.is_set(), BARRIER_TIMEOUT)
                have = self.barriers[key]
            if met and not self._stop.is_set():
                return with_cl("200 OK", body)
            return with_cl("503 Service Unavailable",
                           ("barrier %s not met: %d of %d\n" % (key, have, n)).encode())
        if name == "gate":
            if self._event(self.gates, q.get("k", "")).wait(GATE_TIMEOUT):
                return with_cl("200 OK", body)
            return with_cl("503 Service Unavailable", b"gate never opened\n")
        return with_cl("200 OK", body)

    def _step(self, conn, name, target, key):
        """Events one at a time, each after the client acknowledged the one
        before (bounded: without an ack the rest goes at once)."""
        if name == "sse-step":
            fields = [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]
            frame, end, keep = chunk, b"0\r\n\r\n", True
        else:
            fields = [("Content-Type", "text/plain"), ("X-Accel-Buffering", "no")]
            frame, end, keep = (lambda d: d), b"", False      # close-delimited
        conn.sendall(self._head("200 OK", fields, target))
        waiting = True
        for i in range(STEP_EVENTS):
            conn.sendall(frame(sse_event(i)))
            if waiting and i < STEP_EVENTS - 1:
                if self._event(self.acks, (key, i)).wait(STEP_ACK_TIMEOUT):
                    with self.cond:
                        self.step_acked[key] = self.step_acked.get(key, 0) + 1
                else:
                    waiting = False
        if end:
            conn.sendall(end)
        return keep

# ---------------------------------------------------------------- client side


class Ctx:
    up = None        # Scripted: /p/ and /t/
    once = None      # Scripted of its own for /o/ (its own connection pool)
    down = None      # a closed port


def main_conf(c):
    # /t/ names its own URL and comes first: a request gets the first
    # worker whose URL prefixes its target (Apache's rule, see test_proxy.py).
    return "\n".join([
        "ServerName %s" % SERVER_NAME,
        "ErrorDocument 404 /missing.html",
        'ErrorDocument 500 "%s"' % ERRDOC_500,
        'ErrorDocument 502 "%s"' % ERRDOC_502,
        "ProxyPass /t/ http://127.0.0.1:%d/t/ timeout=1" % c.up.port,
        "ProxyPass /p/ http://127.0.0.1:%d/" % c.up.port,
        "ProxyPass /o/ http://127.0.0.1:%d/" % c.once.port,
        "ProxyPass /down/ http://127.0.0.1:%d/ retry=0" % c.down,
    ])


def desc_of(r):
    if isinstance(r, str):
        return r
    return "%s %r body %d bytes %r" % (r.status_line, r.headers, len(r.body), r.body[:120])


def fetch(s, method, path, timeout=mpmdtest.IO_TIMEOUT):
    """One request on a fresh connection: the Response, or "error: ..."."""
    try:
        with Conn(s.port, timeout=timeout) as cn:
            cn.request(method, path)
            return cn.read_response(head=(method == "HEAD"))
    except CLIENT_ERRORS as e:
        return "error: %s: %s" % (type(e).__name__, e)


def framing_problems(r, want, head=False):
    """What is wrong with R's framing.  WANT: "cl" (a Content-Length equal
    to the body), "chunked", "any" (one of the two), or for HEAD the
    Content-Length value expected (None: not checked)."""
    if isinstance(r, str):
        return [r]
    te = [v.strip().lower() for v in r.header_all("Transfer-Encoding")]
    cl = r.header_all("Content-Length")
    probs = []
    if len(te) > 1:
        probs.append("Transfer-Encoding %d times" % len(te))
    if len(cl) > 1:
        probs.append("Content-Length %d times" % len(cl))
    if te and cl:
        probs.append("both Content-Length and Transfer-Encoding")
    if te and te != ["chunked"]:
        probs.append("Transfer-Encoding %r" % te)
    if r.status in (204, 304):
        if te:
            probs.append("Transfer-Encoding on a %d" % r.status)
        if r.status == 204 and cl:
            probs.append("Content-Length on a 204")
        return probs
    if head:
        if want is not None and cl != [want]:
            probs.append("HEAD: Content-Length %r, want %r" % (cl, want))
        return probs
    if want == "cl" and (len(cl) != 1 or cl[0] != str(len(r.body))):
        probs.append("want Content-Length %d, have %r (TE %r)" % (len(r.body), cl, te))
    if want == "chunked" and te != ["chunked"]:
        probs.append("want chunked, have TE %r CL %r" % (te, cl))
    if want == "any" and not te and not cl:
        probs.append("neither Content-Length nor chunked (close-delimited to an HTTP/1.1 client)")
    return probs


def digest(r):
    """(status, body) for small bodies, (status, length, sha256) for big ones."""
    if isinstance(r, str):
        return r
    if len(r.body) > 4096:
        return (r.status, len(r.body), hashlib.sha256(r.body).hexdigest())
    return (r.status, r.body)


def want_big(status, n):
    return (status, n, U.pattern_sha256(n))


def check(t, tag, label, r, want, framing, head=False):
    t.eq(digest(r), want, "%s: %s: status and body" % (tag, label))
    probs = framing_problems(r, framing, head)
    what = "HEAD" if head else framing or "no body: no Transfer-Encoding, no length on a 204"
    t.ok(not probs, "%s: %s: framing (%s)" % (tag, label, what),
         diag="%s\n%s" % ("; ".join(probs), desc_of(r)))


def new_log(s, mark):
    return s.errlog_text()[mark:]


def log_mark(s):
    return len(s.errlog_text())

# ---------------------------------------------------------------- cases


def case_bodies(t, s, c, tag, event):
    """Case 1: framings, HEAD, 204/304, big bodies."""
    # Under event a small complete chunked or close-delimited body is
    # decoded by the listener and sent with a Content-Length.  (/chunked
    # arrives in one write; /close-delimited's FIN follows its one write at
    # once, well within ASYNC_PATIENCE_MS.)  The thread path may use either.
    small_cl = "cl" if event else "any"
    for name, framing in (("split", "cl"), ("split-head", "cl"), ("slow-body", "cl"),
                          ("chunked", small_cl), ("close-delimited", small_cl),
                          ("chunked-pause", "any")):
        target = "/%s?x=%s" % (name, name)
        r = fetch(s, "GET", "/p" + target)
        check(t, tag, "GET /p/%s" % name, r, (200, small_body(name, target)), framing)
        if not isinstance(r, str):
            t.eq((r.header("X-Target"), r.header("Trailer"), r.header("X-Check")),
                 (target, None, None),
                 "%s: GET /p/%s: end-to-end field relayed, no Trailer field, no trailer as a "
                 "field" % (tag, name))
    for n in BIG_SIZES:
        r = fetch(s, "GET", "/p/big?n=%d" % n, timeout=10)
        check(t, tag, "GET /p/big?n=%d (Content-Length)" % n, r, want_big(200, n), "cl")
    for n in (65000, 1048576):
        r = fetch(s, "GET", "/p/bigchunked?n=%d" % n, timeout=10)
        check(t, tag, "GET /p/bigchunked?n=%d" % n, r, want_big(200, n), "any")
    # HEAD, then a GET on the same connection: no stray body bytes.
    for path, cl in (("/p/head-cl", "1234"), ("/p/big?n=70000", "70000"),
                     ("/p/chunked", None), ("/p/close-delimited", None)):
        label = "HEAD %s then GET /p/split on the same connection" % path
        try:
            with Conn(s.port) as cn:
                cn.request("HEAD", path)
                r = cn.read_response(head=True)
                closed = (r.header("Connection") or "").lower() == "close"
                if not closed:
                    cn.request("GET", "/p/split?after=head")
                    r2 = cn.read_response()
                    got2 = (r2.status, r2.body)
                else:
                    got2 = "connection closed by mpmd"
                extra = b"" if closed or cn.closed_by_peer(0.2) else cn.buf
        except CLIENT_ERRORS as e:
            r, got2, extra = "error: %s: %s" % (type(e).__name__, e), None, b""
        t.eq(r if isinstance(r, str) else r.status, 200, "%s: %s: 200" % (tag, label))
        t.ok(not isinstance(r, str) and not framing_problems(r, cl, head=True) and not extra,
             "%s: %s: no body, framing fields sane%s" % (
                 tag, label, ", Content-Length %s kept" % cl if cl else ""),
             diag="%s\nextra bytes %r" % (desc_of(r), extra[:200]))
        if got2 != "connection closed by mpmd":
            t.eq(got2, (200, small_body("split", "/split?after=head")),
                 "%s: %s: the GET after it answered right" % (tag, label))
    for code in ("204", "304"):
        try:
            with Conn(s.port) as cn:
                cn.request("GET", "/p/%s" % code)
                r = cn.read_response()
                cn.request("GET", "/p/split?after=%s" % code)
                r2 = cn.read_response()
                got2 = (r2.status, r2.body)
        except CLIENT_ERRORS as e:
            r, got2 = "error: %s: %s" % (type(e).__name__, e), None
        check(t, tag, "GET /p/%s" % code, r, (int(code), b""), None)
        t.eq(got2, (200, small_body("split", "/split?after=%s" % code)),
             "%s: GET /p/%s then GET on the same connection: no stray bytes" % (tag, code))


def case_errordoc(t, s, c, tag, event):
    """Case 2: the upstream's error bodies kept, mpmd's own replaced."""
    r = fetch(s, "GET", "/no-such-file.txt")
    t.eq(digest(r), (404, ERRDOC_404), "%s: local 404: the ErrorDocument /missing.html" % tag)
    r = fetch(s, "GET", "/p/404")
    t.eq(digest(r), (404, small_body("404", "/404")),
         "%s: the upstream's 404 relayed with its own body, not the ErrorDocument" % tag)
    r = fetch(s, "GET", "/p/404big", timeout=10)
    t.eq(digest(r), want_big(404, 70000),
         "%s: the upstream's 404 with a 70000-byte body (streamed) kept as it is" % tag)
    r = fetch(s, "GET", "/p/500")
    t.eq(digest(r), (500, small_body("500", "/500")),
         "%s: the upstream's 500 keeps its body despite ErrorDocument 500" % tag)
    r = fetch(s, "GET", "/p/garbage?errdoc=1")
    t.eq(digest(r), (502, ERRDOC_502.encode()),
         "%s: mpmd's own 502 (garbage upstream) gets ErrorDocument 502" % tag)


def case_retry(t, s, c, tag, event):
    """Case 3: /once twice on one connection, and on two connections."""
    before = c.once.drops()
    got = []
    try:
        with Conn(s.port) as cn:
            for i in range(2):
                cn.request("GET", "/o/once?conn=one&i=%d" % i)
                r = cn.read_response()
                got.append((r.status, r.body))
    except CLIENT_ERRORS as e:
        got.append("error: %s: %s" % (type(e).__name__, e))
    t.eq(got, [(200, small_body("once", "/once?conn=one&i=%d" % i)) for i in range(2)],
         "%s: /once twice on one client connection: both 200" % tag)
    mid = c.once.drops()
    t.ok(mid > before, "%s: ... the second went out on the pooled connection, which the "
         "upstream dropped unanswered, and was retried (drops %d -> %d)" % (tag, before, mid))
    got = [digest(fetch(s, "GET", "/o/once?conn=two&i=%d" % i)) for i in range(2)]
    t.eq(got, [(200, small_body("once", "/once?conn=two&i=%d" % i)) for i in range(2)],
         "%s: /once on two client connections: both 200" % tag)
    after = c.once.drops()
    t.ok(after > mid, "%s: ... retried after the upstream dropped the pooled connection "
         "(drops %d -> %d)" % (tag, mid, after))
    got = [digest(fetch(s, "GET", "/o/once-fin?i=%d" % i)) for i in range(3)]
    t.eq(got, [(200, small_body("once-fin", "/once-fin?i=%d" % i)) for i in range(3)],
         "%s: /once-fin (upstream closes right after each answer) three times: all 200" % tag)


def case_failures(t, s, c, tag, event):
    """Case 4: 502, cut responses, 504; the error log names the cause."""
    mark = log_mark(s)
    r = fetch(s, "GET", "/down/x")
    t.eq(r if isinstance(r, str) else r.status, 502, "%s: refused upstream port: 502" % tag)
    t.ok(wait_until(lambda: "cannot connect to" in new_log(s, mark), 5),
         "%s: refused: the error log says 'cannot connect to'" % tag, diag=new_log(s, mark))
    mark = log_mark(s)
    r = fetch(s, "GET", "/p/garbage")
    t.eq(r if isinstance(r, str) else r.status, 502, "%s: garbage from the upstream: 502" % tag)
    t.ok(wait_until(lambda: "does not start with an HTTP/1.x status line" in new_log(s, mark), 5),
         "%s: garbage: the error log names it (no HTTP/1.x status line)" % tag,
         diag=new_log(s, mark))
    for name in ("cut", "cut-late"):
        mark = log_mark(s)
        r = fetch(s, "GET", "/p/%s" % name)
        ok = (r.status == 502 if not isinstance(r, str)
              else "connection closed after 10 of 1000 body bytes" in r)
        t.ok(ok, "%s: /p/%s (Content-Length 1000, 10 bytes, close): a 502 or a response cut "
             "short with the connection closed, never a whole 200" % (tag, name), diag=desc_of(r))
        t.ok(wait_until(lambda: "incomplete response from" in new_log(s, mark)
                        or "cut short" in new_log(s, mark), 5),
             "%s: /p/%s: the error log says incomplete / cut short" % (tag, name),
             diag=new_log(s, mark))
    mark = log_mark(s)
    r = fetch(s, "GET", "/t/never", timeout=8)
    t.eq(r if isinstance(r, str) else r.status, 504, "%s: /t/never with timeout=1: 504" % tag)
    t.ok(wait_until(lambda: "no response from" in new_log(s, mark)
                    and "answered 504" in new_log(s, mark), 5),
         "%s: /t/never: the error log says 'no response from' ... (answered 504)" % tag,
         diag=new_log(s, mark))
    r = fetch(s, "GET", "/p/split?after=failures")
    t.eq(digest(r), (200, small_body("split", "/split?after=failures")),
         "%s: after the failures the same upstream still answers" % tag)


PIPELINE = [("GET", "/p/split?i=0"), ("GET", "/p/chunked?i=1"), ("HEAD", "/p/head-cl?i=2"),
            ("GET", "/a.txt"), ("GET", "/p/204?i=4"), ("GET", "/p/big?n=70000&i=5"),
            ("GET", "/p/304?i=6"), ("GET", "/p/404?i=7"), ("GET", "/p/close-delimited?i=8"),
            ("GET", "/p/slow-body?i=9"), ("GET", "/p/chunked-pause?i=10"),
            ("GET", "/p/big?n=65000&i=11"), ("GET", "/p/split-head?i=12"),
            ("GET", "/p/sse?i=13"), ("GET", "/p/once-fin?i=14"), ("GET", "/p/x/plain?i=15"),
            ("GET", "/p/bigchunked?n=1048576&i=16"), ("GET", "/no-such-file?i=17"),
            ("HEAD", "/p/chunked?i=18"), ("GET", "/p/split?i=19")]


def pipeline_expected(method, path):
    """(status, body digest, X-Target) of one pipelined request."""
    if not path.startswith("/p/"):
        return ((200, LOCAL_A_TXT) if path == "/a.txt" else (404, ERRDOC_404)), None
    target = path[2:]
    name = target.split("?")[0].rsplit("/", 1)[-1]
    q = dict(urllib.parse.parse_qsl(target.partition("?")[2]))
    if method == "HEAD" or name in ("204", "304"):
        status = int(name) if name in ("204", "304") else 200
        return (status, b""), target
    if name in ("big", "bigchunked"):
        return want_big(200, int(q["n"])), target
    if name == "sse":
        return (200, b"".join(sse_event(i) for i in range(SSE_EVENTS))), target
    return (404 if name == "404" else 200, small_body(name, target)), target


def case_pipeline(t, s, c, tag, event):
    """Case 5: 20 requests in one write, answered in order."""
    data = b"".join(mpmdtest.build_request(m, p) for m, p in PIPELINE)
    heads = [m == "HEAD" for m, _ in PIPELINE]
    try:
        with Conn(s.port, timeout=10) as cn:
            cn.send(data)
            got = cn.read_responses(len(PIPELINE), heads)
    except CLIENT_ERRORS as e:
        t.ok(False, "%s: 20 pipelined requests: all answered" % tag, diag=str(e))
        return
    want = [pipeline_expected(m, p) for m, p in PIPELINE]
    t.eq([(digest(r), r.header("X-Target")) for r in got], want,
         "%s: 20 pipelined requests (proxied, local, HEAD, 204/304, big, slow, SSE) in one "
         "write: 20 responses in order, right status and body" % tag)
    bad = ["%d %s: %s" % (i, p, "; ".join(framing_problems(r, None if m == "HEAD" else "any",
                                                            m == "HEAD")))
           for i, ((m, p), r) in enumerate(zip(PIPELINE, got))
           if framing_problems(r, None if m == "HEAD" else "any", m == "HEAD")]
    t.eq(bad, [], "%s: 20 pipelined responses: framing sane" % tag)


def case_sse(t, s, c, tag, event):
    """Case 9: events streamed."""
    r = fetch(s, "GET", "/p/sse?k=plain", timeout=8)
    want = b"".join(sse_event(i) for i in range(SSE_EVENTS))
    t.eq(digest(r), (200, want), "%s: /p/sse: 200, the %d events intact" % (tag, SSE_EVENTS))
    t.eq(None if isinstance(r, str) else r.body.count(b"event: tick\n"), SSE_EVENTS,
         "%s: /p/sse: %d events counted" % (tag, SSE_EVENTS))
    t.ok(not isinstance(r, str) and (r.header("Content-Type") or "").startswith(
        "text/event-stream") and not framing_problems(r, "chunked"),
         "%s: /p/sse: text/event-stream, chunked" % tag, diag=desc_of(r))
    for name in ("sse-step", "accel-step"):
        key = "%s-%s" % (tag, name)
        body, problem = step_stream(s, c.up, "/p/%s?k=%s" % (name, key), key)
        want = b"".join(sse_event(i) for i in range(STEP_EVENTS))
        t.eq((problem, body), (None, want),
             "%s: /p/%s: %d events, content intact, chunked to the client" % (
                 tag, name, STEP_EVENTS))
        acked = c.up.count("step_acked", key)
        t.eq(acked, STEP_EVENTS - 1,
             "%s: /p/%s: each event reached the client before the upstream sent the next "
             "(acknowledged %d of %d)" % (tag, name, acked, STEP_EVENTS - 1))


def step_stream(s, up, path, key):
    """Read a streamed response, acknowledging each event as it arrives:
    (decoded body, None) or (bytes so far, what went wrong)."""
    try:
        with Conn(s.port, timeout=10) as cn:
            cn.request("GET", path)
            head = cn._read_until(b"\r\n\r\n").decode("latin-1")
            if not head.startswith("HTTP/1.1 200") or \
                    "transfer-encoding: chunked" not in head.lower():
                return cn.buf, "head %r" % head
            raw, seen = cn.buf, 0
            cn.buf = b""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                while seen < STEP_EVENTS and b"data: %d\n\n" % seen in raw:
                    up.ack(key, seen)
                    seen += 1
                try:
                    return dechunk(raw)[0], None
                except ValueError:
                    pass
                data = cn.sock.recv(65536)
                if not data:
                    return raw, "EOF before the end of the chunked body"
                raw += data
            return raw, "no end within 15 s"
    except CLIENT_ERRORS as e:
        return b"", "%s: %s" % (type(e).__name__, e)


def linger0(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def case_leavers(t, s, c, tag, event):
    """Case 6: clients that leave while their request waits upstream."""
    kids = s.children()
    before = {"slow-body": c.up.count("total", "slow-body"), "never": c.up.count("total", "never")}
    conns = []
    try:
        for path in ("/p/slow-body?leave=fin", "/p/slow-body?leave=rst", "/t/never?leave=fin",
                     "/t/never?leave=rst"):
            cn = Conn(s.port)
            conns.append((path, cn))
            cn.request("GET", path)
        arrived = wait_until(lambda: all(c.up.count("total", n) >= before[n] + 2
                                         for n in before), 5)
        t.ok(arrived, "%s: 2 requests on /p/slow-body and 2 on /t/never reached the upstream"
             % tag)
        for path, cn in conns:
            if "rst" in path:
                linger0(cn.sock)
    finally:
        for _path, cn in conns:
            cn.close()
    # Bounded: /slow-body answers after 0.3 s, /t/never times out after 1 s.
    wait_until(lambda: c.up.count("active", "slow-body") == 0
               and c.up.count("active", "never") == 0, 8)
    r = fetch(s, "GET", "/p/split?after=leavers")
    t.eq(digest(r), (200, small_body("split", "/split?after=leavers")),
         "%s: after 4 clients left (FIN and reset) while waiting upstream: the next proxied "
         "request answered" % tag)
    r = fetch(s, "GET", "/a.txt")
    t.eq(digest(r), (200, LOCAL_A_TXT), "%s: ... and a static file" % tag)
    t.eq(s.children(), kids, "%s: the same child before and after (none died)" % tag)


def main_server(t, c, mpm):
    tag = mpm
    event = mpm == "event"
    with U.front(t, "%s: proxy" % tag, main_conf(c), mpm=mpm, threads=8, start_servers=1,
                 server_limit=1) as s:
        if s is None:
            return
        with open(os.path.join(s.docroot, "missing.html"), "wb") as f:
            f.write(ERRDOC_404)
        for name, fn in (("bodies", case_bodies), ("ErrorDocument", case_errordoc),
                         ("retry", case_retry), ("failures", case_failures),
                         ("pipelining", case_pipeline), ("SSE", case_sse),
                         ("clients leaving", case_leavers)):
            with t.guard("%s: %s" % (tag, name)):
                fn(t, s, c, tag, event)
        U.no_crash(t, s, tag)


def barrier_server(t, c):
    """Case 7: one child, one handler thread, 30 requests waiting at once.
    Not run under MPM worker: there each waiting request holds the child's
    only handler thread, so the upstream never sees more than one barrier
    request open at once and the barrier cannot be met (every request
    would just wait for BARRIER_TIMEOUT and get the upstream's 503)."""
    tag = "event, ThreadsPerChild 1"
    with U.front(t, tag, main_conf(c), mpm="event", threads=1, start_servers=1,
                 server_limit=1) as s:
        if s is None:
            return
        kids = s.children()
        t.eq(len(kids), 1, "%s: one child" % tag)
        key = "event-%d" % s.port
        path = "/p/barrier?n=%d&k=%s" % (BARRIER_N, key)
        results = [None] * BARRIER_N

        def client(i):
            results[i] = digest(fetch(s, "GET", path, timeout=BARRIER_TIMEOUT + 4))
        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(BARRIER_N)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(BARRIER_TIMEOUT + 8)
        t.ok(not any(th.is_alive() for th in threads), "%s: the 30 clients finished" % tag)
        want = (200, small_body("barrier", path[2:]))
        t.eq([i for i, r in enumerate(results) if r != want], [],
             "%s: 30 concurrent GET /p/barrier?n=30: all 200 (the upstream saw at most %d "
             "open at once)" % (tag, c.up.count("barrier_peak", key)))
        if results[0] != want:
            t.diag("first answer: %r" % (results[0],))
        t.eq(s.children(), kids, "%s: still the same single child" % tag)
        U.no_crash(t, s, tag)


def start_clients(s, paths, timeout):
    """One thread per path, each a GET on a fresh connection: (threads, results)."""
    results = [None] * len(paths)

    def client(i):
        results[i] = fetch(s, "GET", paths[i], timeout=timeout)
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(paths))]
    for th in threads:
        th.start()
    return threads, results


def signals_server(t, c, mpm):
    """Case 8: SIGUSR1 while 20 requests wait (10 on /slow-body, 10 on a
    gate opened once the new child is there), then SIGTERM while 20 wait
    on /never."""
    tag = "%s, signals" % mpm
    with U.front(t, tag, main_conf(c), mpm=mpm, threads=25, start_servers=1,
                 server_limit=1) as s:
        if s is None:
            return
        with t.guard("%s: graceful restart" % tag):
            old = set(s.children())
            gate = "%s-%d" % (mpm, s.port)
            base = {n: c.up.count("total", n) for n in ("slow-body", "gate")}
            paths = (["/p/slow-body?usr1=%d" % i for i in range(10)] +
                     ["/p/gate?k=%s&i=%d" % (gate, i) for i in range(10)])
            threads, results = start_clients(s, paths, GATE_TIMEOUT + 4)
            arrived = wait_until(lambda: all(c.up.count("total", n) >= base[n] + 10
                                             for n in base), 5)
            t.ok(arrived, "%s: 20 requests waiting upstream" % tag)
            os.kill(s.pid, signal.SIGUSR1)
            t.ok(wait_until(lambda: set(s.children()) - old, 5),
                 "%s: SIGUSR1: a new child started" % tag)
            c.up.open_gate(gate)
            for th in threads:
                th.join(GATE_TIMEOUT + 6)
            want = [(200, small_body(p[3:].split("?")[0], p[2:])) for p in paths]
            bad = ["%s -> %s" % (p, desc_of(r)) for p, r, w in zip(paths, results, want)
                   if digest(r) != w]
            t.eq(bad, [], "%s: SIGUSR1 while 10 requests wait on /p/slow-body and 10 on a "
                 "gate: all 20 complete 200s" % tag)
            t.ok(wait_until(lambda: not (old & set(s.children())), 10),
                 "%s: the old child exited after its requests" % tag,
                 diag="old %s now %s" % (old, s.children()))
            r = fetch(s, "GET", "/p/split?after=usr1")
            t.eq(digest(r), (200, small_body("split", "/split?after=usr1")),
                 "%s: the new child answers" % tag)
            U.no_crash(t, s, tag)
        with t.guard("%s: SIGTERM" % tag):
            base = c.up.count("total", "never")
            threads, results = start_clients(s, ["/p/never?term=%d" % i for i in range(20)],
                                             STOP_BOUND + 5)
            arrived = wait_until(lambda: c.up.count("total", "never") >= base + 20, 5)
            t.ok(arrived, "%s: 20 requests waiting on /p/never" % tag)
            s.children()                # remember every pid for leftovers()
            status = s.stop(signal.SIGTERM, timeout=STOP_BOUND)
            t.ok(status is not None, "%s: SIGTERM with 20 requests waiting: the supervisor "
                 "exits by itself within %d s (exit %r)" % (tag, STOP_BOUND, status))
            left = wait_until(lambda: not s.leftovers(), 2) or s.leftovers()
            t.ok(left is True, "%s: ... and no mpmd process is left" % tag,
                 diag="left: %r" % (left,))
            for th in threads:
                th.join(5)
            t.ok(not any(th.is_alive() for th in threads),
                 "%s: the 20 waiting clients' connections ended" % tag)


def main(t):
    c = Ctx()
    with contextlib.ExitStack() as stack:
        c.up = stack.enter_context(Scripted())
        c.once = stack.enter_context(Scripted())
        c.down = mpmdtest.closed_port()
        for mpm in ("event", "worker"):
            main_server(t, c, mpm)
        with t.guard("barrier"):
            barrier_server(t, c)
        for mpm in ("event", "worker"):
            with t.guard("%s signals" % mpm):
                signals_server(t, c, mpm)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
