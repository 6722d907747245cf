#!/usr/bin/env python3
# test_limits.py: request limits and timeouts of a running mpmd (TAP on stdout).
#
# Covers the directives of notes/http11-spec.md: LimitRequestLine,
# LimitRequestFieldSize, LimitRequestFields (default and small values:
# exactly at the limit passes, one byte / field over fails), LimitRequestBody
# (Content-Length over -> 413 before any body byte; a chunked body is never
# read by the static handler: 405 from the head, Connection: close),
# RequestReadTimeout (stalled head, trickled head -> 408 + close; a stalled
# body after its answer -> closed without a 408; an idle new connection
# closed silently; MinRate extension),
# Timeout (stalled write), KeepAliveTimeout, MaxKeepAliveRequests, and a
# 1,000-connection slowloris under MPM event.
# Timing: only upper bounds ("answered within N s"), never lower bounds.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_limits.py

import os
import resource
import select
import shutil
import socket
import tempfile
import threading
import time

from mpmdtest import (A_TXT, INDEX_HTML, Conn, ProtocolError, Server, config_lines, free_port,
                      run_mpmd, run_tests)

ERROR_CT = "text/html; charset=utf-8"
REASONS = {400: "Bad Request", 405: "Method Not Allowed", 408: "Request Timeout",
           413: "Content Too Large", 414: "URI Too Long",
           431: "Request Header Fields Too Large"}
DEFAULT_LINE = 8190
DEFAULT_FIELD_SIZE = 8190
DEFAULT_FIELDS = 100
DEFAULT_BODY = 1073741824
SMALL = "LimitRequestLine 100\nLimitRequestFieldSize 100\nLimitRequestFields 5\n" \
        "LimitRequestBody 100"
TIMEOUTS = "RequestReadTimeout header=2-3,MinRate=500 body=2,MinRate=500"
TIMEOUT_BOUND = 6.0      # header max is 3 s: a 408 must have arrived by then
SLOW_CONNS = 1000


def H(text):
    return text.encode("latin-1")

# ------------------------------------------------------------ helpers


def check_error(t, r, code, label):
    t.eq(r.status_line, "HTTP/1.1 %d %s" % (code, REASONS[code]), "%s: status line" % label)
    t.eq(r.header("Content-Type"), ERROR_CT, "%s: Content-Type" % label)
    title = "<title>%d %s</title>" % (code, REASONS[code])
    t.ok(title in r.text(), "%s: body title" % label, diag=repr(r.body[:300]))


def check_closed(t, c, r, label, timeout=5.0):
    t.eq(r.header("Connection"), "close", "%s: Connection: close" % label)
    t.ok(c.closed_by_peer(timeout), "%s: server closed the connection" % label,
         diag="unread bytes: %r" % c.buf[:200])


def expect_ok(t, s, data, label, code=200, body=A_TXT):
    with t.guard(label), s.conn() as c:
        c.send(data)
        r = c.read_response()
        t.eq(r.status, code, "%s: %d" % (label, code))
        if code == 200:
            t.eq(r.body, body, "%s: body" % label)
        c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        r2 = c.read_response()
        t.eq((r2.status, r2.body), (200, INDEX_HTML), "%s: connection kept" % label)


def expect_closing(t, s, data, code, label):
    with t.guard(label), s.conn() as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server may answer and close while we still send
        r = c.read_response()
        check_error(t, r, code, label)
        check_closed(t, c, r, label)


def check_clean_end(t, c, label):
    """The client sends nothing more: the server sends nothing more either,
    and the connection ends with EOF, not a reset (lingering close)."""
    t.eq(c.ends_cleanly(), "eof", "%s: then EOF, nothing else sent, no reset" % label)


def request_line(n, method="GET"):
    """A request line of exactly N bytes (method SP target SP version) for /a.txt."""
    prefix, suffix = "%s /a.txt?q=" % method, " HTTP/1.1"
    line = prefix + "x" * (n - len(prefix) - len(suffix)) + suffix
    assert len(line) == n
    return line


def with_line(line):
    return H(line + "\r\nHost: 127.0.0.1\r\n\r\n")


def with_field(n):
    """A GET /a.txt whose X-Long header line (name ": " value) is exactly N bytes."""
    field = "X-Long: " + "v" * (n - len("X-Long: "))
    assert len(field) == n
    return H("GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n\r\n" % field)


def with_fields(n):
    """A GET /a.txt with exactly N header fields (Host included)."""
    extra = "".join("X-F%d: v\r\n" % i for i in range(n - 1))
    return H("GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % extra)


def post_head(length, extra=""):
    return H("POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n%s\r\n"
             % (length, extra))

# ------------------------------------------------------------ size limits


def size_limits(t, s, tag, line, field_size, fields):
    expect_ok(t, s, with_line(request_line(line)),
              "%s request line of exactly %d bytes" % (tag, line))
    expect_ok(t, s, with_line(request_line(line, "OPTIONS")),
              "%s OPTIONS request line of exactly %d bytes" % (tag, line), body=b"")
    expect_closing(t, s, with_line(request_line(line + 1)), 414,
                   "%s request line of %d bytes" % (tag, line + 1))
    expect_closing(t, s, with_line(request_line(line + 1, "OPTIONS")), 414,
                   "%s OPTIONS request line of %d bytes" % (tag, line + 1))
    expect_ok(t, s, with_field(field_size),
              "%s header line of exactly %d bytes" % (tag, field_size))
    expect_closing(t, s, with_field(field_size + 1), 431,
                   "%s header line of %d bytes" % (tag, field_size + 1))
    expect_ok(t, s, with_fields(fields), "%s exactly %d header fields" % (tag, fields))
    expect_closing(t, s, with_fields(fields + 1), 431,
                   "%s %d header fields" % (tag, fields + 1))


def body_limit_small(t, s, tag):
    expect_ok(t, s, post_head(100) + b"b" * 100, "%s Content-Length = limit (100)" % tag, 405)
    label = "%s Content-Length over the limit" % tag
    with t.guard(label), s.conn() as c:
        c.send(post_head(101))            # no body byte is ever sent
        r = c.read_response()
        check_error(t, r, 413, label)
        check_closed(t, c, r, label)
        check_clean_end(t, c, label)
    label = "%s Content-Length over the limit, body sent anyway" % tag
    with t.guard(label), s.conn() as c:
        try:   # 256 KiB the server never reads: lingering close lets us read the 413
            c.send(post_head(256 << 10) + b"b" * (256 << 10))
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
        check_error(t, r, 413, label)
        check_closed(t, c, r, label)
        check_clean_end(t, c, label)
    # A chunked body has no size in the head: mpmd answers the static file's
    # 405 from the head with "Connection: close" and never reads the body,
    # so the body limit cannot matter (no 413), whatever the body's size.
    chunked = b"POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    for what, body in [("= limit (100)", b"32\r\n" + b"c" * 50 + b"\r\n32\r\n" + b"d" * 50
                        + b"\r\n0\r\n\r\n"),
                       ("over the limit", b"3c\r\n" + b"e" * 60 + b"\r\n3c\r\n" + b"f" * 60
                        + b"\r\n")]:   # 120 > 100; no last chunk sent
        label = "%s chunked body %s" % (tag, what)
        with t.guard(label), s.conn() as c:
            c.send(chunked)
            r = c.read_response()        # before any body byte
            check_error(t, r, 405, label)
            t.eq(r.header("Connection"), "close", "%s: Connection: close" % label)
            c.send(body + b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            check_clean_end(t, c, label)


def body_limit_default(t, s, tag):
    label = "%s Content-Length = default LimitRequestBody, Expect" % tag
    with t.guard(label), s.conn() as c:
        c.send(post_head(DEFAULT_BODY, "Expect: 100-continue\r\n"))
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 405 Method Not Allowed",
             "%s: 405, not 413 (limit not exceeded), no 100 Continue" % label)
        t.eq(r.header("Connection"), "close", "%s: Connection: close" % label)
        check_clean_end(t, c, label)
    label = "%s Content-Length over default LimitRequestBody" % tag
    with t.guard(label), s.conn() as c:
        c.send(post_head(DEFAULT_BODY + 1))
        r = c.read_response()
        check_error(t, r, 413, label)
        check_closed(t, c, r, label)
    label = "%s over default LimitRequestBody with Expect" % tag
    with t.guard(label), s.conn() as c:
        c.send(post_head(DEFAULT_BODY + 1, "Expect: 100-continue\r\n"))
        r = c.read_response()
        check_error(t, r, 413, "%s: 413, no 100 Continue" % label)
        t.eq(r.header("Connection"), "close", "%s: Connection: close" % label)
        check_clean_end(t, c, label)

# ------------------------------------------------------------ RequestReadTimeout


def timed_408(t, label, start, send_more):
    """Wait for a 408 while SEND_MORE() (called every 0.5 s) may trickle bytes."""
    c = Conn(start["port"], timeout=10.0)
    try:
        t0 = time.monotonic()
        c.send(start["data"])
        deadline = t0 + 10.0
        while time.monotonic() < deadline:
            readable, _, _ = select.select([c.sock], [], [], 0.5)
            if readable:
                break
            try:
                send_more(c)
            except (BrokenPipeError, ConnectionResetError):
                break
        for _ in range(start.get("responses", 0)):
            t.eq(c.read_response().status, 200, "%s: earlier request answered" % label)
        r = c.read_response()
        elapsed = time.monotonic() - t0
        check_error(t, r, 408, label)
        t.ok(elapsed < TIMEOUT_BOUND, "%s: 408 within %.0f s" % (label, TIMEOUT_BOUND),
             diag="took %.2f s" % elapsed)
        check_closed(t, c, r, label)
    finally:
        c.close()


def read_timeouts(t, s, tag):
    head = b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with t.guard("%s stalled head" % tag):
        timed_408(t, "%s stalled head" % tag, {"port": s.port, "data": head},
                  lambda c: None)
    with t.guard("%s trickled head" % tag):
        trickle = iter(b"X-Slow: " + b"a" * 1000)

        def one_byte(c):
            c.send(bytes([next(trickle)]))
        timed_408(t, "%s head trickled 1 byte / 0.5 s" % tag,
                  {"port": s.port, "data": head}, one_byte)
    with t.guard("%s stalled second head" % tag):
        timed_408(t, "%s stalled head after a first request" % tag,
                  {"port": s.port, "data": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + head,
                   "responses": 1}, lambda c: None)
    label = "%s stalled body" % tag
    with t.guard(label), Conn(s.port, timeout=10.0) as c:
        # The 405 goes out from the head; the small body is then read to be
        # dropped, under the body timeout (2 s).  The body stalls: the
        # connection ends, with no 408 since the request is already answered.
        t0 = time.monotonic()
        c.send(post_head(100) + b"0123456789")
        r = c.read_response()
        t.eq((r.status, r.header("Connection")), (405, None),
             "%s: 405 from the head, connection kept for the body" % label)
        t.ok(c.closed_by_peer(TIMEOUT_BOUND), "%s: closed within %.0f s"
             % (label, TIMEOUT_BOUND), diag="took %.2f s" % (time.monotonic() - t0))
        t.eq(c.buf, b"", "%s: no 408 after the 405" % label)
    label = "%s idle new connection" % tag
    with t.guard(label), Conn(s.port, timeout=10.0) as c:
        t.ok(c.closed_by_peer(8.0), "%s: closed within 8 s" % label,
             diag="received %r" % c.buf[:200])
        t.eq(c.buf, b"", "%s: closed silently (no 408 sent)" % label)
    with t.guard("%s after timeouts" % tag):
        t.eq(s.get("/a.txt").status, 200, "%s server serves after the timeouts" % tag)


def steady_sender(s, data, rate, then=None):
    """Send RATE bytes of DATA at once, the rest at about RATE bytes/s in 60-byte
    pieces (pacing only, nothing is asserted on time); returns the response,
    or with THEN (a request sent after DATA) both responses."""
    step = 60
    pause = step / float(rate)
    with Conn(s.port, timeout=10.0) as c:
        c.send(data[:rate])
        for i in range(rate, len(data), step):
            time.sleep(pause)
            c.send(data[i:i + step])
        if then is None:
            return c.read_response()
        c.send(then)
        return c.read_responses(2)


def min_rate(t, s, tag):
    # header=1-10,MinRate=500: a client sending 600 bytes at once and then 600 B/s
    # for ~3 s stays at least 1 s ahead of its deadline (1 s + 1 s per 500 bytes)
    # the whole time; without the extension it would have been cut at 1 s.
    lines = "".join("X-Pad-%02d: %s\r\n" % (i, "p" * 47) for i in range(40))
    head = H("GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines + "\r\n")
    with t.guard("%s MinRate head" % tag):
        r = steady_sender(s, head, 600)
        t.eq((r.status, r.body), (200, A_TXT), "%s head of %d bytes at 600 B/s over ~4 s: "
             "served (MinRate extends header=1)" % (tag, len(head)))
    body = b"b" * 2400
    with t.guard("%s MinRate body" % tag):
        # Answered from the head; the body is then read (and dropped) under
        # body=1,MinRate=500: only if the server read it to the end does the
        # GET sent after it get an answer on the same connection.
        rs = steady_sender(s, post_head(len(body)) + body, 600,
                           then=b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        t.eq([(r.status, r.header("Connection")) for r in rs], [(405, None), (200, None)],
             "%s body of 2400 bytes at 600 B/s: read to the end, next GET answered "
             "(MinRate extends body=1)" % tag)
    label = "%s LimitRequestBody 0 = unlimited" % tag
    with t.guard(label), s.conn() as c:
        c.send(post_head(1 << 40, "Expect: 100-continue\r\n"))
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 405 Method Not Allowed", "%s: 1 TiB Content-Length "
             "accepted (405, not 413; no 100 Continue)" % label)
        t.eq(r.header("Connection"), "close", "%s: Connection: close" % label)
        check_clean_end(t, c, label)

# ------------------------------------------------------------ keep-alive, Timeout


def keepalive(t, s, tag):
    label = "%s KeepAliveTimeout 1" % tag
    with t.guard(label), s.conn() as c:
        c.request("GET", "/a.txt")
        r = c.read_response()
        t.eq((r.status, r.header("Connection")), (200, None), "%s: 200, kept" % label)
        t0 = time.monotonic()
        closed = c.closed_by_peer(5.0)
        t.ok(closed, "%s: idle connection closed within 5 s" % label,
             diag="waited %.1f s" % (time.monotonic() - t0))
    label = "%s MaxKeepAliveRequests 3" % tag
    with t.guard(label), s.conn() as c:
        got = []
        for path in ("/a.txt", "/", "/a.txt"):
            c.request("GET", path)
            got.append(c.read_response())
        t.eq([r.status for r in got], [200, 200, 200], "%s: three 200" % label)
        t.eq([r.header("Connection") for r in got], [None, None, "close"],
             "%s: only the 3rd carries Connection: close" % label)
        t.ok(c.closed_by_peer(), "%s: closed after the 3rd" % label)
    label = "%s MaxKeepAliveRequests 3 pipelined" % tag
    with t.guard(label), s.conn() as c:
        c.send(b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 4)
        rs = c.read_responses(3)
        t.eq([(r.status, r.header("Connection")) for r in rs],
             [(200, None), (200, None), (200, "close")],
             "%s: 4 pipelined, 3 answered, the 3rd with Connection: close" % label)
        t.ok(c.closed_by_peer(), "%s: closed, 4th not answered" % label,
             diag="extra bytes %r" % c.buf[:200])
    label = "%s HTTP/1.0 keep-alive MaxKeepAliveRequests 3" % tag
    with t.guard(label), s.conn() as c:
        got = []
        for _ in range(3):
            c.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            got.append(c.read_response())
        t.eq([r.header("Connection") for r in got], ["keep-alive", "keep-alive", "close"],
             "%s: keep-alive, keep-alive, close" % label)
        t.ok(c.closed_by_peer(), "%s: closed after the 3rd" % label)


def stalled_write(t, s, tag, timeout):
    size = 256 << 20
    path = os.path.join(s.docroot, "stall.bin")
    with open(path, "wb"):
        pass
    os.truncate(path, size)
    label = "%s Timeout %d: stalled write" % (tag, timeout)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(10.0)
        sock.connect(("127.0.0.1", s.port))
        sock.sendall(b"GET /stall.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        # The client reads nothing for Timeout + 4 s: the server's writes make no
        # progress and it must give up; then whatever was buffered is drained.
        time.sleep(timeout + 4)
        total, eof = 0, False
        buf = bytearray(1 << 20)
        try:
            while total < size + 4096:
                n = sock.recv_into(buf)
                if n == 0:
                    eof = True
                    break
                total += n
        except ConnectionResetError:
            eof = True
        except socket.timeout:
            pass
        t.ok(eof and total < size, "%s: server closed before sending the 256 MiB" % label,
             diag="received %d bytes, eof=%r" % (total, eof))
    finally:
        sock.close()
    t.eq(s.get("/a.txt").status, 200, "%s: server serves afterwards" % label)

# ------------------------------------------------------------ slowloris


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


def slowloris(t):
    hard = raise_nofile()
    if hard < 2100:
        t.skip("slowloris with %d connections" % SLOW_CONNS,
               "RLIMIT_NOFILE hard limit %d < 2100" % hard)
        return
    with t.guard("slowloris server"), Server(mpm="event", tap=t) as s:
        socks, failed = [], []
        stop = threading.Event()
        state = {"rounds": 0, "closed": 0}
        head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slowloris: " + b"s" * 200
        try:
            for _ in range(SLOW_CONNS):
                try:
                    sk = socket.create_connection(("127.0.0.1", s.port), timeout=5.0)
                    sk.setblocking(False)
                    socks.append(sk)
                except OSError as e:
                    failed.append(str(e))
            t.ok(len(socks) == SLOW_CONNS, "slowloris: %d connections opened" % SLOW_CONNS,
                 diag="opened %d; %s" % (len(socks), "; ".join(failed[:5])))

            def loris():
                alive = list(socks)
                pos = 0
                while not stop.is_set() and pos < len(head):
                    for sk in list(alive):
                        try:
                            sk.send(head[pos:pos + 1])
                        except BlockingIOError:
                            pass
                        except OSError:
                            alive.remove(sk)
                            state["closed"] += 1
                    pos += 1
                    state["rounds"] += 1
                    stop.wait(1.0)

            th = threading.Thread(target=loris, daemon=True)
            th.start()
            got = [None]
            # Let the slowloris run for a couple of rounds, then measure one GET.
            stop.wait(2.5)
            t0 = time.monotonic()
            try:
                got[0] = s.get("/")
            except (OSError, ProtocolError) as e:
                got[0] = e
            elapsed = time.monotonic() - t0
            r = got[0]
            t.ok(not isinstance(r, Exception) and r.status == 200 and r.body == INDEX_HTML,
                 "slowloris: a normal GET / answered 200", diag=repr(r))
            t.ok(elapsed < 1.0, "slowloris: normal GET answered within 1 s",
                 diag="took %.3f s" % elapsed)
            stop.wait(1.5)
            stop.set()
            th.join(10)
            t.ok(not th.is_alive(), "slowloris: sender thread finished")
            t.ok(state["rounds"] >= 3, "slowloris: sent at least 3 bytes on every connection",
                 diag="rounds %d" % state["rounds"])
            t.diag("slowloris: %d rounds, %d connections closed by the server meanwhile"
                   % (state["rounds"], state["closed"]))
        finally:
            stop.set()
            for sk in socks:
                sk.close()
        t.ok(s.is_running(), "slowloris: server still running")
        t.eq(s.get("/a.txt").status, 200, "slowloris: server serves after the slowloris")

# ------------------------------------------------------------ directive syntax

ACCEPTED = ["RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500",
            "RequestReadTimeout header=10",
            "RequestReadTimeout header=10-20",
            "RequestReadTimeout header=10,MinRate=100",
            "RequestReadTimeout body=10",
            "RequestReadTimeout body=5-30,MinRate=1000",
            "RequestReadTimeout header=0 body=0",
            "LimitRequestLine 100\nLimitRequestFieldSize 200\nLimitRequestFields 10",
            "LimitRequestBody 0",
            "LimitRequestBody 1073741824",
            "Timeout 1"]
REJECTED = ["RequestReadTimeout header=abc",
            "RequestReadTimeout nosuch=10",
            "LimitRequestFields many",
            "LimitRequestBody -1"]


def directive_syntax(t):
    tmp = tempfile.mkdtemp(prefix="mpmdlimits-")
    try:
        docroot = os.path.join(tmp, "htdocs")
        os.makedirs(docroot)
        conf = os.path.join(tmp, "mpmd.conf")
        for extra in ACCEPTED + REJECTED:
            with open(conf, "w") as f:
                f.write("\n".join(config_lines(free_port(), tmp, docroot,
                                               conf_extra=extra)) + "\n")
            rc, out, err = run_mpmd(["-t", "-f", conf])
            what = extra.replace("\n", "; ")
            if extra in ACCEPTED:
                t.eq(rc, 0, "mpmd -t accepts %s" % what) or t.diag(out + err)
            else:
                t.ne(rc, 0, "mpmd -t rejects %s" % what)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

# ------------------------------------------------------------ main


def main(t):
    with t.guard("directive syntax"):
        directive_syntax(t)
    with t.guard("default limits server"), Server(mpm="event", tap=t) as s:
        size_limits(t, s, "default", DEFAULT_LINE, DEFAULT_FIELD_SIZE, DEFAULT_FIELDS)
        body_limit_default(t, s, "default")
    with t.guard("small limits server"), Server(mpm="event", tap=t, conf_extra=SMALL) as s:
        size_limits(t, s, "small", 100, 100, 5)
        body_limit_small(t, s, "small")
    for mpm in ("event", "worker"):
        with t.guard("%s timeouts server" % mpm), Server(mpm=mpm, tap=t,
                                                         conf_extra=TIMEOUTS) as s:
            read_timeouts(t, s, mpm)
    with t.guard("MinRate server"), Server(
            mpm="event", tap=t, conf_extra="RequestReadTimeout header=1-10,MinRate=500 "
            "body=1,MinRate=500\nLimitRequestBody 0") as s:
        min_rate(t, s, "MinRate")
    with t.guard("keep-alive server"), Server(
            mpm="event", tap=t,
            conf_extra="KeepAliveTimeout 1\nMaxKeepAliveRequests 3\nTimeout 2") as s:
        keepalive(t, s, "keep-alive")
        stalled_write(t, s, "keep-alive", 2)
    slowloris(t)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
