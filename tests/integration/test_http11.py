#!/usr/bin/env python3
# test_http11.py: HTTP/1.1 message framing of a running mpmd (TAP on stdout).
#
# Covers the "Framing (RFC 9112)" part of notes/http11-spec.md with exact
# request bytes: persistence rules, pipelining with Content-Length and
# chunked bodies (trailers included), answers sent from the head (no 100
# Continue ever; Expect: 100-continue, a chunked or large body -> Connection:
# close and a clean EOF; a small body is dropped and the connection kept),
# HTTP/1.0 keep-alive, absolute-form, OPTIONS *, and the 400/417/501/505
# cases (Host, CL+TE, double CL, transfer codings, invalid characters,
# obs-fold, bare LF).  Every closing status is checked for "Connection: close" and an EOF
# from the server; every keeping status by a second request on the same
# connection.  The whole set runs under MPM event and MPM worker.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_http11.py

import time

import mpmdtest
from mpmdtest import A_TXT, INDEX_HTML, SUB_INDEX_HTML, Server, run_tests

ERROR_CT = "text/html; charset=utf-8"
ALLOW = "GET, HEAD, OPTIONS"
FILE_HEADERS = ["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges",
                "Content-Type", "Content-Length"]
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 417: "Expectation Failed", 501: "Not Implemented",
           505: "HTTP Version Not Supported"}
CLOSING = (400, 408, 413, 414, 417, 431, 501, 505)

GET_A = b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def H(text):
    """Bytes of TEXT (latin-1): test requests are written as str with exact \\r\\n."""
    return text.encode("latin-1")

# ------------------------------------------------------------ helpers


def check_error(t, r, code, label):
    """Status line, Content-Type, title and Content-Length of an error page."""
    t.eq(r.status_line, "HTTP/1.1 %d %s" % (code, REASONS[code]), "%s: status line" % label)
    t.eq(r.header("Content-Type"), ERROR_CT, "%s: Content-Type" % label)
    title = "<title>%d %s</title>" % (code, REASONS[code])
    t.ok(title in r.text(), "%s: body title" % label, diag=repr(r.body[:300]))
    t.eq(r.header("Content-Length"), str(len(r.body)), "%s: Content-Length matches" % label)


def check_closed(t, c, r, label):
    t.eq(r.header("Connection"), "close", "%s: Connection: close" % label)
    t.ok(c.closed_by_peer(), "%s: server closed the connection" % label,
         diag="unread bytes: %r" % c.buf[:200])


def check_kept(t, c, label):
    """The connection still serves: a GET /a.txt on it answers 200 with the file."""
    c.send(GET_A)
    r = c.read_response()
    t.eq((r.status, r.body), (200, A_TXT), "%s: connection kept (next GET answered)" % label)


def expect_closing(t, s, data, code, label):
    """Send DATA on a fresh connection: exactly one CODE error page, then EOF."""
    with t.guard(label), s.conn() as c:
        c.send(data)
        r = c.read_response()
        check_error(t, r, code, label)
        check_closed(t, c, r, label)


def expect_kept(t, s, data, code, label, body=None):
    """Send DATA on a fresh connection: a CODE response, then the connection still serves."""
    with t.guard(label), s.conn() as c:
        c.send(data)
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 %d %s" % (code, REASONS[code]), "%s: status line" % label)
        if body is not None:
            t.ok(r.body == body, "%s: body" % label, diag="got %r" % r.body[:200])
        t.eq(r.header("Connection"), None, "%s: no Connection header" % label)
        check_kept(t, c, label)


def read_final(c, head=False):
    """Read responses until a non-1xx one; returns (list of 1xx status lines, final)."""
    interim = []
    while True:
        r = c.read_response(head=head)
        if 100 <= r.status < 200:
            interim.append(r.raw_head)
            continue
        return interim, r

# ------------------------------------------------------------ persistence


def persistence(t, s, tag):
    with t.guard("%s 1.1 persistent" % tag), s.conn() as c:
        c.send(GET_A)
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 200 OK", "%s 1.1 default: 200" % tag)
        t.eq(r.names(), FILE_HEADERS, "%s 1.1 default: header order of the spec, no "
             "Connection header" % tag)
        check_kept(t, c, "%s 1.1 default" % tag)
        t.ok(not c.closed_by_peer(0.3), "%s 1.1 default: still open after two" % tag)
    for value in ("close", "Close"):
        label = "%s 1.1 Connection: %s" % (tag, value)
        with t.guard(label), s.conn() as c:
            c.send(H("GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: %s\r\n\r\n"
                     % value))
            r = c.read_response()
            t.eq((r.status, r.body), (200, A_TXT), "%s: 200 with body" % label)
            t.eq(r.names(), FILE_HEADERS + ["Connection"], "%s: Connection header last" % label)
            check_closed(t, c, r, label)
    with t.guard("%s 1.0 default close" % tag), s.conn() as c:
        c.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 200 OK", "%s 1.0 no Host: 200, HTTP/1.1 status" % tag)
        t.eq(r.body, A_TXT, "%s 1.0: body" % tag)
        t.eq(r.names(), FILE_HEADERS + ["Connection"], "%s 1.0: Connection header last" % tag)
        check_closed(t, c, r, "%s 1.0 default" % tag)
    for value in ("keep-alive", "Keep-Alive"):
        label = "%s 1.0 Connection: %s" % (tag, value)
        with t.guard(label), s.conn() as c:
            c.send(H("GET /a.txt HTTP/1.0\r\nConnection: %s\r\n\r\n" % value))
            r = c.read_response()
            t.eq((r.status, r.body), (200, A_TXT), "%s: 200 with body" % label)
            t.eq(r.names(), FILE_HEADERS + ["Connection"], "%s: header order" % label)
            t.eq(r.header("Connection"), "keep-alive", "%s: Connection: keep-alive" % label)
            c.send(H("HEAD / HTTP/1.0\r\nConnection: %s\r\n\r\n" % value))
            r = c.read_response(head=True)
            t.eq((r.status, r.header("Connection")), (200, "keep-alive"),
                 "%s: HEAD on the same connection, still keep-alive" % label)
            c.send(H("GET /no-such-file HTTP/1.0\r\nConnection: %s\r\n\r\n" % value))
            r = c.read_response()
            t.eq((r.status, r.header("Connection")), (404, "keep-alive"),
                 "%s: 404 keeps a 1.0 keep-alive connection" % label)
            c.send(b"GET / HTTP/1.0\r\n\r\n")
            r = c.read_response()
            t.eq((r.status, r.body), (200, INDEX_HTML), "%s: 4th request served" % label)
            check_closed(t, c, r, "%s: then a plain 1.0 request" % label)
    with t.guard("%s byte by byte" % tag), s.conn() as c:
        for i in range(len(GET_A)):
            c.send(GET_A[i:i + 1])
            time.sleep(0.002)
        r = c.read_response()
        t.eq((r.status, r.body), (200, A_TXT), "%s request sent one byte per send: 200" % tag)
    with t.guard("%s 50 pipelined" % tag), s.conn() as c:
        paths = [("/a.txt", A_TXT), ("/", INDEX_HTML), ("/sub/", SUB_INDEX_HTML)] * 17
        paths = paths[:50]
        c.send(b"".join(mpmdtest.build_request("GET", p) for p, _ in paths))
        rs = c.read_responses(len(paths))
        t.ok([(r.status, r.body) for r in rs] == [(200, b) for _, b in paths],
             "%s 50 pipelined GETs in one send: answered in order" % tag)

# ------------------------------------------------------------ pipelining with bodies


def pipelining_bodies(t, s, tag):
    # Every request here is answered from its head.  A body of known length
    # up to 64 KiB is then read and dropped and the connection serves the
    # next request: the body must not be taken for requests.  A chunked
    # body (unknown length) ends the connection instead ("Connection:
    # close", lingering close): nothing after it may be answered, in
    # particular not a request smuggled inside the body.
    smuggle = b"GET /no-such-file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    cases = [
        ("POST Content-Length body",
         H("POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
           "Content-Length: %d\r\n\r\n" % len(smuggle)) + smuggle, 405, True),
        ("PUT Content-Length 0",
         b"PUT /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", 405, True),
        ("POST chunked with extensions and trailers",
         b"POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"5\r\nhello\r\n6;name=value\r\n world\r\nA\r\n0123456789\r\n"
         b"0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n", 405, False),
        ("POST chunked carrying a request, no trailers",
         b"POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
         + H("%x\r\n" % len(smuggle)) + smuggle + b"\r\n0\r\n\r\n", 405, False),
        ("GET with a Content-Length body",
         b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\nabcd", 200, True),
        ("GET with a chunked body and trailer",
         b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 200, False),
        ("DELETE with a body",
         b"DELETE /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nxyz", 405,
         True),
    ]
    for what, req, code, kept in cases:
        label = "%s pipelined %s" % (tag, what)
        with t.guard(label), s.conn() as c:
            c.send(req + GET_A + b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            if not kept:
                r = c.read_response()
                t.eq(r.status, code, "%s: %d" % (label, code))
                if code == 405:
                    t.eq(r.header("Allow"), ALLOW, "%s: Allow" % label)
                t.eq(r.header("Connection"), "close", "%s: Connection: close (chunked body "
                     "not read)" % label)
                t.eq(c.ends_cleanly(), "eof", "%s: nothing else answered, then EOF" % label)
                continue
            rs = c.read_responses(3, heads=[False, False, True])
            t.eq(rs[0].status, code, "%s: %d" % (label, code))
            if code == 405:
                t.eq(rs[0].header("Allow"), ALLOW, "%s: Allow" % label)
            t.eq((rs[1].status, rs[1].body), (200, A_TXT), "%s: next GET 200 /a.txt" % label)
            t.eq((rs[2].status, rs[2].header("Content-Length")), (200, str(len(INDEX_HTML))),
                 "%s: then HEAD / 200" % label)
            t.eq([r.header("Connection") for r in rs], [None, None, None],
                 "%s: no Connection: close" % label)
            t.ok(not c.closed_by_peer(0.3), "%s: connection still open" % label,
                 diag="unexpected bytes %r" % c.buf[:200])
    label = "%s body in pieces after the answer" % tag
    with t.guard(label), s.conn() as c:
        body = b"k=" + b"v" * 998
        c.send(H("POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                 % len(body)))
        r = c.read_response()       # answered from the head, before any body byte
        t.eq((r.status, r.header("Connection")), (405, None),
             "%s: 405 before the body, connection kept" % label)
        for i in range(0, len(body), 100):
            c.send(body[i:i + 100])
            time.sleep(0.01)
        check_kept(t, c, label)
    # At most 64 KiB of a known-length body are read and dropped to keep
    # the connection; a longer one closes it.
    for size, kept in ((64 << 10, True), ((64 << 10) + 1, False), (1 << 20, False)):
        label = "%s %d-byte body" % (tag, size)
        with t.guard(label), s.conn() as c:
            c.send(H("PUT /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                     % size) + b"z" * size + GET_A)
            if kept:
                rs = c.read_responses(2)
                t.eq([(r.status, r.header("Connection")) for r in rs], [(405, None), (200, None)],
                     "%s: PUT 405, pipelined GET 200, kept" % label)
                t.eq(rs[1].body, A_TXT, "%s: body of the GET" % label)
            else:
                r = c.read_response()
                t.eq((r.status, r.header("Connection")), (405, "close"),
                     "%s: PUT 405 with Connection: close" % label)
                t.eq(c.ends_cleanly(), "eof", "%s: pipelined GET not answered, then EOF"
                     % label)
    label = "%s lingering close" % tag
    with t.guard(label), s.conn() as c:
        # The server answers 400 and closes while 256 KiB it never reads are
        # arriving: with a lingering close the client still reads the 400.
        try:
            c.send(b"GARBAGE\r\n\r\n" + b"x" * (256 << 10))
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
        check_error(t, r, 400, "%s: 400 readable after unread junk" % label)
        check_closed(t, c, r, label)
    label = "%s closing error mid-pipeline" % tag
    with t.guard(label), s.conn() as c:
        c.send(GET_A + b"FOO / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + GET_A)
        rs = c.read_responses(2)
        t.eq([r.status for r in rs], [200, 501], "%s: 200 then 501" % label)
        check_closed(t, c, rs[1], label)

# ------------------------------------------------------------ Expect
#
# mpmd answers a request with a body as soon as its head is in and never
# sends "100 Continue" (RFC 9110 10.1.1 lets a server send the final status
# instead).  A client that sent "Expect: 100-continue" may or may not send
# the body after that answer, so the answer says "Connection: close" and the
# server lingers: whatever the client still sends is read and dropped, and
# the connection ends with an EOF, not a reset.


def check_clean_end(t, c, label):
    """Everything the client will send is sent: the server sends no more
    bytes and the connection ends with EOF, not a reset (lingering close)."""
    how = c.ends_cleanly()
    t.eq(how, "eof", "%s: then EOF, no further response, no reset" % label)


def expect(t, s, tag):
    label = "%s Expect 100-continue (Content-Length)" % tag
    with t.guard(label), s.conn() as c:
        body = b"name=value&x=1"
        c.send(H("POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                 "Content-Length: %d\r\n\r\n" % len(body)))
        r = c.read_response()       # no body byte sent yet: a server waiting for it times out
        t.eq(r.raw_head.split(b"\r\n")[0], b"HTTP/1.1 405 Method Not Allowed",
             "%s: the final 405 first, no 100 Continue, before any body byte" % label)
        t.eq(r.header("Allow"), ALLOW, "%s: Allow" % label)
        t.eq(r.header("Connection"), "close", "%s: Connection: close" % label)
        c.send(body)                # the client may still send the body (RFC 9110 10.1.1)
        check_clean_end(t, c, label)
    label = "%s Expect 100-continue, body never sent" % tag
    with t.guard(label), s.conn() as c:
        c.send(b"POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
               b"Content-Length: 10\r\n\r\n")
        r = c.read_response()
        t.eq((r.status, r.header("Connection")), (405, "close"),
             "%s: 405, Connection: close" % label)
        check_clean_end(t, c, label)
    label = "%s Expect 100-continue (chunked)" % tag
    with t.guard(label), s.conn() as c:
        c.send(b"PUT /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response()
        t.eq((r.status, r.header("Connection")), (405, "close"),
             "%s: 405 with Connection: close first, no 100 Continue" % label)
        c.send(b"4\r\ndata\r\n0\r\nX-Sum: 1\r\n\r\n" + GET_A)
        check_clean_end(t, c, "%s: body and a GET sent anyway" % label)
    label = "%s Expect 100-Continue (case-insensitive)" % tag
    with t.guard(label), s.conn() as c:
        # Without the expectation a 2-byte body would keep the connection:
        # the close shows that "100-Continue" was recognised.
        c.send(b"POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-Continue\r\n"
               b"Content-Length: 2\r\n\r\n")
        r = c.read_response()
        t.eq((r.status, r.header("Connection")), (405, "close"),
             "%s: 405, Connection: close" % label)
        c.send(b"ok")
        check_clean_end(t, c, label)
    label = "%s Expect 100-continue with the body sent at once" % tag
    with t.guard(label), s.conn() as c:
        c.send(b"POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
               b"Content-Length: 3\r\n\r\nabc" + GET_A)
        interim, r = read_final(c)
        t.eq(interim, [], "%s: no 100 Continue" % label)
        t.eq((r.status, r.header("Connection")), (405, "close"),
             "%s: final 405, Connection: close" % label)
        check_clean_end(t, c, "%s: pipelined GET not answered" % label)
    label = "%s no Expect, small body sent after the answer" % tag
    with t.guard(label), s.conn() as c:
        body = b"name=value&x=1"
        c.send(H("POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: %d\r\n\r\n" % len(body)))
        r = c.read_response()
        t.eq((r.status, r.header("Allow"), r.header("Connection")), (405, ALLOW, None),
             "%s: 405 before any body byte, no Connection: close" % label)
        c.send(body)                # read and dropped by the server
        check_kept(t, c, label)
    label = "%s HTTP/1.0 Expect 100-continue ignored" % tag
    with t.guard(label), s.conn() as c:
        c.send(b"POST /a.txt HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 405 Method Not Allowed",
             "%s: no 100 for HTTP/1.0, straight 405" % label)
    label = "%s HTTP/1.0 keep-alive Expect 100-continue ignored" % tag
    with t.guard(label), s.conn() as c:
        # RFC 9110 10.1.1: the expectation of a 1.0 request is ignored, so
        # its small body does not cost the connection.
        c.send(b"POST /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n"
               b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
        r = c.read_response()
        t.eq((r.status, r.header("Connection")), (405, "keep-alive"),
             "%s: 405, Connection: keep-alive" % label)
        c.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        t.eq((r.status, r.body), (200, A_TXT), "%s: next GET answered" % label)
    for value in ("foo", "200-ok"):
        expect_closing(t, s, H("POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: %s\r\n"
                               "Content-Length: 2\r\n\r\nab" % value),
                       417, "%s Expect: %s" % (tag, value))
    expect_closing(t, s, b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo\r\n\r\n",
                   417, "%s GET with Expect: foo" % tag)

# ------------------------------------------------------------ targets, methods, versions


def targets(t, s, tag):
    for target, body in [("http://anything/a.txt", A_TXT),
                         ("http://anything:8080/a.txt?x=1", A_TXT),
                         ("http://127.0.0.1/sub/", SUB_INDEX_HTML)]:
        expect_kept(t, s, H("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % target), 200,
                    "%s absolute-form %s" % (tag, target), body=body)
    label = "%s absolute-form HEAD" % tag
    with t.guard(label), s.conn() as c:
        c.send(b"HEAD http://anything/a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        r = c.read_response(head=True)
        t.eq((r.status, r.header("Content-Length")), (200, str(len(A_TXT))), label)
        check_kept(t, c, label)
    for target in ("*", "/a.txt", "/"):
        label = "%s OPTIONS %s" % (tag, target)
        with t.guard(label), s.conn() as c:
            c.send(H("OPTIONS %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % target))
            r = c.read_response()
            t.eq(r.status_line, "HTTP/1.1 200 OK", "%s: 200" % label)
            t.eq(r.header("Allow"), ALLOW, "%s: Allow" % label)
            t.eq((r.header("Content-Length"), r.body), ("0", b""), "%s: Content-Length: 0"
                 % label)
            check_kept(t, c, label)
    for data, what in [(b"GET a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "GET a.txt"),
                       (b"GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "GET *"),
                       (b"HEAD a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HEAD a.txt")]:
        expect_closing(t, s, data, 400, "%s target %s" % (tag, what))


def methods(t, s, tag):
    for method in ("FOO", "BREW", "get"):
        expect_closing(t, s, H("%s / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % method), 501,
                       "%s unknown method %s" % (tag, method))
    for method in ("POST", "PUT", "DELETE", "PATCH", "TRACE"):
        label = "%s %s /a.txt" % (tag, method)
        with t.guard(label), s.conn() as c:
            c.send(H("%s /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % method))
            r = c.read_response()
            check_error(t, r, 405, label)
            t.eq(r.header("Allow"), ALLOW, "%s: Allow" % label)
            t.eq(r.header("Connection"), None, "%s: no Connection: close" % label)
            check_kept(t, c, label)


def versions(t, s, tag):
    for version in ("HTTP/2.0", "HTTP/3.0", "HTTP/0.9"):
        expect_closing(t, s, H("GET /a.txt %s\r\nHost: 127.0.0.1\r\n\r\n" % version), 505,
                       "%s %s" % (tag, version))
    expect_kept(t, s, b"GET /a.txt HTTP/1.2\r\nHost: 127.0.0.1\r\n\r\n", 200,
                "%s HTTP/1.2 served as 1.1" % tag, body=A_TXT)
    for data, what in [(b"GARBAGE\r\n\r\n", "GARBAGE"),
                       (b"GET /\r\n\r\n", "GET / (no version)"),
                       (b"GET / FOO/1.1\r\nHost: 127.0.0.1\r\n\r\n", "GET / FOO/1.1")]:
        expect_closing(t, s, data, 400, "%s garbage request line %s" % (tag, what))

# ------------------------------------------------------------ 400 cases


def host_rules(t, s, tag):
    expect_closing(t, s, b"GET /a.txt HTTP/1.1\r\n\r\n", 400, "%s 1.1 without Host" % tag)
    expect_closing(t, s, b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                   "%s 1.1 with two Host fields" % tag)
    expect_closing(t, s, b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400,
                   "%s 1.1 with two identical Host fields" % tag)


def body_framing(t, s, tag):
    post = "POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    expect_closing(t, s, H(post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "0\r\n\r\n") + GET_A,
                   400, "%s Content-Length with Transfer-Encoding" % tag)
    expect_closing(t, s, H(post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                           "0\r\n\r\n") + GET_A,
                   400, "%s Transfer-Encoding with Content-Length" % tag)
    expect_closing(t, s, H(post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef"),
                   400, "%s two different Content-Length" % tag)
    expect_closing(t, s, H(post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nabcde"),
                   400, "%s two equal Content-Length" % tag)
    for value in ("abc", "-1", "1.5", "5x"):
        expect_closing(t, s, H(post + "Content-Length: %s\r\n\r\nabcde" % value), 400,
                       "%s Content-Length: %s" % (tag, value))
    for value in ("gzip", "chunked, gzip", "foo"):
        expect_closing(t, s, H(post + "Transfer-Encoding: %s\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                               % value), 400, "%s Transfer-Encoding: %s" % (tag, value))
    expect_closing(t, s, H(post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"
                           "\r\n5\r\nhello\r\n0\r\n\r\n"), 400,
                   "%s Transfer-Encoding fields chunked then gzip" % tag)
    expect_closing(t, s, b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Transfer-Encoding: gzip\r\n\r\n", 400, "%s GET with TE gzip" % tag)


def bad_chars(t, s, tag):
    base = "GET /a.txt HTTP/1.1\r\n"
    names = [("Host : x", "Host : x (space before colon)"),
             ("Host: 127.0.0.1\r\nX-Foo : bar", "X-Foo : bar"),
             ("Host: 127.0.0.1\r\nX-Foo\t: bar", "tab before colon"),
             ("Host: 127.0.0.1\r\nX\x01: y", "X\\x01 in name"),
             ("Host: 127.0.0.1\r\nX@Y: z", "@ in name"),
             ("Host: 127.0.0.1\r\n: empty-name", "empty name"),
             ("Host: 127.0.0.1\r\nNoColonHere", "line without colon")]
    for line, what in names:
        expect_closing(t, s, H(base + line + "\r\n\r\n"), 400, "%s header name: %s"
                       % (tag, what))
    for ch in (0x00, 0x01, 0x08, 0x0b, 0x0c, 0x0d, 0x1f, 0x7f):
        expect_closing(t, s, H(base + "Host: 127.0.0.1\r\nX-Ctl: a%cb\r\n\r\n" % ch), 400,
                       "%s control char 0x%02x in a value" % (tag, ch))
    expect_kept(t, s, H(base + "Host: 127.0.0.1\r\nX-Tab: a\tb\r\n\r\n"), 200,
                "%s HT inside a value is fine" % tag, body=A_TXT)
    expect_kept(t, s, H(base + "Host: 127.0.0.1\r\nX-Obs: caf\xe9 \xff\r\n\r\n"), 200,
                "%s obs-text (0x80-0xff) in a value is fine" % tag, body=A_TXT)


def obs_fold_and_lf(t, s, tag):
    folds = [(b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n\r\n", "SP"),
             (b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n\tb\r\n\r\n", "HT"),
             (b"GET /a.txt HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n", "first field")]
    for data, what in folds:
        expect_closing(t, s, data, 400, "%s obs-fold (%s)" % (tag, what))
    lfs = [(b"GET /a.txt HTTP/1.1\nHost: 127.0.0.1\r\n\r\n", "after request line"),
           (b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\nX-A: b\r\n\r\n", "after a header"),
           (b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\n", "ending the head"),
           (b"GET /a.txt HTTP/1.1\nHost: 127.0.0.1\n\n", "everywhere")]
    for data, what in lfs:
        expect_closing(t, s, data, 400, "%s bare LF %s" % (tag, what))

# ------------------------------------------------------------ main


def run_set(t, mpm):
    tag = mpm
    with t.guard("%s server" % tag), Server(mpm=mpm, threads=4, start_servers=2, tap=t) as s:
        for name, fn in [("persistence", persistence), ("pipelining", pipelining_bodies),
                         ("expect", expect), ("targets", targets), ("methods", methods),
                         ("versions", versions), ("host", host_rules),
                         ("body framing", body_framing), ("bad chars", bad_chars),
                         ("obs-fold/LF", obs_fold_and_lf)]:
            with t.guard("%s %s" % (tag, name)):
                fn(t, s, tag)
        t.ok(s.is_running() and s.get("/a.txt").body == A_TXT,
             "%s server still serves after all bad requests" % tag)


def main(t):
    for mpm in ("event", "worker"):
        run_set(t, mpm)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
