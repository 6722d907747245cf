#!/usr/bin/env python3
# test_static.py: static-file semantics of a running mpmd (TAP on stdout).
#
# Covers the "Static files" and "Responses" parts of notes/http11-spec.md:
# the 200 header order with ETag and Accept-Ranges, ETag format and
# stability, every conditional request case of RFC 9110 13.2.2 (with the
# precedence rules), the 304 header set, Range / If-Range, directory 301,
# HEAD == GET minus the body, and a 2.5 GiB sparse file (HEAD, a Range at
# its end, a full streamed GET while another client is served).
# Runs under MPM event (file cache on and off) and MPM worker; the 2.5 GiB
# set under MPM event only.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_static.py

import os
import socket
import threading
import time

from mpmdtest import (A_TXT, FIXED_MTIME, INDEX_HTML, SUB_INDEX_HTML, IMF_FIXDATE_RE, Server,
                      http_date, run_tests, wait_until)

ERROR_CT = "text/html; charset=utf-8"
FILE_HEADERS = ["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges",
                "Content-Type", "Content-Length"]
RANGE_HEADERS = ["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges",
                 "Content-Type", "Content-Range", "Content-Length"]
NOT_MODIFIED_HEADERS = ["Date", "Server", "Last-Modified", "ETag"]
LM = http_date(FIXED_MTIME)
HUGE_SIZE = 5 * 1024 * 1024 * 1024 // 2       # 2.5 GiB
HUGE_TIMEOUT = 60.0                            # per socket operation on the huge file
CHANGE_BOUND = 5.0                             # a changed file shows in its ETag by then


def etag_for(mtime, size):
    return '"%x-%x"' % (mtime, size)


A_ETAG = etag_for(FIXED_MTIME, len(A_TXT))


def check_error(t, r, code, reason, label):
    t.eq(r.status_line, "HTTP/1.1 %d %s" % (code, reason), "%s: status line" % label)
    t.eq(r.header("Content-Type"), ERROR_CT, "%s: Content-Type" % label)
    title = "<title>%d %s</title>" % (code, reason)
    t.ok(title in r.text(), "%s: body title" % label, diag=repr(r.body[:300]))
    t.eq(r.header("Content-Length"), str(len(r.body)), "%s: Content-Length matches" % label)


def check_kept(t, c, label):
    c.request("GET", "/a.txt")
    r = c.read_response()
    t.eq((r.status, r.body), (200, A_TXT), "%s: connection kept (next GET answered)" % label)


def without_date(r):
    return [(k, v) for k, v in r.headers if k != "Date"]

# ------------------------------------------------------------ 200 and ETag


def headers_and_etag(t, s):
    r = s.get("/a.txt")
    t.eq(r.status_line, "HTTP/1.1 200 OK", "GET /a.txt: 200")
    t.eq(r.names(), FILE_HEADERS, "GET /a.txt: Date, Server, Last-Modified, ETag, "
         "Accept-Ranges, Content-Type, Content-Length in this order")
    t.eq(r.header("Accept-Ranges"), "bytes", "Accept-Ranges: bytes")
    t.eq(r.header("Last-Modified"), LM, "Last-Modified is the mtime")
    t.match(r'^"[0-9a-f]+-[0-9a-f]+"$', r.header("ETag") or "",
            "ETag is strong, quoted, lowercase hex mtime-size")
    t.eq(r.header("ETag"), A_ETAG, "ETag of a.txt is \"<mtime hex>-<size hex>\"")
    t.eq(s.get("/a.txt").header("ETag"), A_ETAG, "ETag stable across requests")
    t.eq(s.get("/a.txt", "HEAD").header("ETag"), A_ETAG, "HEAD carries the same ETag")
    big = s.file_bytes("big.bin")
    t.eq(s.get("/big.bin", "HEAD").header("ETag"), etag_for(FIXED_MTIME, len(big)),
         "ETag of big.bin (3 MiB): size in hex")
    t.eq(s.get("/").header("ETag"), etag_for(FIXED_MTIME, len(INDEX_HTML)),
         "GET / (index.html): ETag of the index file")
    path = os.path.join(s.docroot, "etag.txt")
    with open(path, "wb") as f:
        f.write(b"0123456789")
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    t.eq(s.get("/etag.txt").header("ETag"), etag_for(FIXED_MTIME, 10), "new file: ETag")
    # The server may keep validators cached for a moment (FileCacheValid):
    # poll, bounded, until the change shows.
    os.utime(path, (FIXED_MTIME + 255, FIXED_MTIME + 255))
    want = etag_for(FIXED_MTIME + 255, 10)
    got = wait_until(lambda: s.get("/etag.txt").header("ETag") == want, CHANGE_BOUND)
    t.ok(got, "ETag follows a new mtime (within %.0f s)" % CHANGE_BOUND,
         diag="ETag now %r, want %r" % (s.get("/etag.txt").header("ETag"), want))
    with open(path, "ab") as f:
        f.write(b"abcdef")
    os.utime(path, (FIXED_MTIME + 255, FIXED_MTIME + 255))
    want = (etag_for(FIXED_MTIME + 255, 16), b"0123456789abcdef")

    def current():
        r = s.get("/etag.txt")
        return (r.header("ETag"), r.body)
    got = wait_until(lambda: current() == want, CHANGE_BOUND)
    t.ok(got, "ETag and body follow a new size (within %.0f s)" % CHANGE_BOUND,
         diag="now %r, want %r" % (current(), want))

# ------------------------------------------------------------ conditionals


def conditional_cases():
    """(label, headers, expected status) for GET /a.txt."""
    weak = "W/" + A_ETAG
    old = http_date(FIXED_MTIME - 1)
    older = http_date(FIXED_MTIME - 86400)
    newer = http_date(FIXED_MTIME + 86400)
    return [
        ("If-None-Match current ETag", [("If-None-Match", A_ETAG)], 304),
        ("If-None-Match weak form of it (weak comparison)", [("If-None-Match", weak)], 304),
        ("If-None-Match other ETag", [("If-None-Match", '"abc-1"')], 200),
        ("If-None-Match list containing it", [("If-None-Match", '"abc-1", ' + A_ETAG)], 304),
        ("If-None-Match list without it", [("If-None-Match", '"abc-1", W/"x-2"')], 200),
        ("If-None-Match *", [("If-None-Match", "*")], 304),
        ("If-Modified-Since = Last-Modified", [("If-Modified-Since", LM)], 304),
        ("If-Modified-Since later", [("If-Modified-Since", newer)], 304),
        ("If-Modified-Since 1 s earlier", [("If-Modified-Since", old)], 200),
        ("If-Modified-Since invalid date", [("If-Modified-Since", "not a date")], 200),
        ("If-Modified-Since RFC 850 form", [("If-Modified-Since",
                                              "Tuesday, 14-Nov-23 22:13:20 GMT")], 304),
        ("If-Modified-Since asctime form", [("If-Modified-Since",
                                              "Tue Nov 14 22:13:20 2023")], 304),
        ("If-None-Match other + If-Modified-Since matching (IMS ignored)",
         [("If-None-Match", '"abc-1"'), ("If-Modified-Since", LM)], 200),
        ("If-None-Match current + If-Modified-Since old (IMS ignored)",
         [("If-None-Match", A_ETAG), ("If-Modified-Since", older)], 304),
        ("If-Match current ETag", [("If-Match", A_ETAG)], 200),
        ("If-Match other ETag", [("If-Match", '"abc-1"')], 412),
        ("If-Match weak form (strong comparison fails)", [("If-Match", weak)], 412),
        ("If-Match list containing it", [("If-Match", '"abc-1", ' + A_ETAG)], 200),
        ("If-Match *", [("If-Match", "*")], 200),
        ("If-Match fails while If-None-Match would match",
         [("If-Match", '"abc-1"'), ("If-None-Match", A_ETAG)], 412),
        ("If-Match ok, If-None-Match matches", [("If-Match", A_ETAG),
                                                ("If-None-Match", A_ETAG)], 304),
        ("If-Unmodified-Since = Last-Modified", [("If-Unmodified-Since", LM)], 200),
        ("If-Unmodified-Since 1 s earlier", [("If-Unmodified-Since", old)], 412),
        ("If-Unmodified-Since invalid date", [("If-Unmodified-Since", "yesterday")], 200),
        ("If-Match current + If-Unmodified-Since earlier (IUS ignored)",
         [("If-Match", A_ETAG), ("If-Unmodified-Since", old)], 200),
        ("If-Unmodified-Since earlier + If-None-Match matches",
         [("If-Unmodified-Since", old), ("If-None-Match", A_ETAG)], 412),
        ("If-Unmodified-Since ok + If-Modified-Since ok",
         [("If-Unmodified-Since", newer), ("If-Modified-Since", LM)], 304),
    ]


def conditionals(t, s):
    for label, hdrs, want in conditional_cases():
        with t.guard(label), s.conn() as c:
            c.request("GET", "/a.txt", headers=hdrs)
            r = c.read_response()
            if want == 200:
                t.eq((r.status_line, r.body), ("HTTP/1.1 200 OK", A_TXT), "%s: 200" % label)
            elif want == 304:
                t.eq(r.status_line, "HTTP/1.1 304 Not Modified", "%s: 304" % label)
            else:
                check_error(t, r, 412, "Precondition Failed", label)
            check_kept(t, c, label)
    with t.guard("304 header set"), s.conn() as c:
        c.request("GET", "/a.txt", headers=[("If-None-Match", A_ETAG)])
        r = c.read_response()
        t.eq(r.names(), NOT_MODIFIED_HEADERS,
             "304: exactly Date, Server, Last-Modified, ETag (no Content-Length/Type)")
        t.eq((r.header("Last-Modified"), r.header("ETag")), (LM, A_ETAG),
             "304: Last-Modified and ETag values")
        t.match(IMF_FIXDATE_RE.pattern, r.header("Date") or "", "304: Date is IMF-fixdate")
        # A body after the head would be read as the next response's status line.
        c.request("GET", "/index.html")
        r2 = c.read_response()
        t.eq((r2.status, r2.body), (200, INDEX_HTML), "304: no body (next response parses)")
    with t.guard("304 for If-Modified-Since header set"):
        r = s.get("/a.txt", headers=[("If-Modified-Since", LM)])
        t.eq(r.names(), NOT_MODIFIED_HEADERS, "304 via If-Modified-Since: same header set")
    with t.guard("conditional HEAD"):
        r = s.get("/a.txt", "HEAD", headers=[("If-None-Match", A_ETAG)])
        t.eq(r.status, 304, "HEAD + If-None-Match current: 304")
        r = s.get("/a.txt", "HEAD", headers=[("If-Match", '"abc-1"')])
        t.eq(r.status, 412, "HEAD + If-Match other: 412")
    with t.guard("conditional on 404"):
        r = s.get("/no-such-file", headers=[("If-None-Match", "*")])
        t.eq(r.status, 404, "If-None-Match * on a missing file: 404")

# ------------------------------------------------------------ Range


def range_cases(size):
    """(label, Range value, (A, B) for 206 | 416 | 200)."""
    return [
        ("bytes=0-99", "bytes=0-99", (0, 99)),
        ("bytes=100-199", "bytes=100-199", (100, 199)),
        ("bytes=0-0 (first byte)", "bytes=0-0", (0, 0)),
        ("last byte", "bytes=%d-%d" % (size - 1, size - 1), (size - 1, size - 1)),
        ("open-ended bytes=A-", "bytes=%d-" % (size - 400), (size - 400, size - 1)),
        ("bytes=0- (whole file as 206)", "bytes=0-", (0, size - 1)),
        ("suffix bytes=-100", "bytes=-100", (size - 100, size - 1)),
        ("suffix longer than the file", "bytes=-%d" % (size * 2), (0, size - 1)),
        ("B beyond the end is clamped", "bytes=%d-%d" % (size - 10, size * 3), (size - 10,
                                                                              size - 1)),
        ("A = SIZE", "bytes=%d-" % size, 416),
        ("A > SIZE", "bytes=%d-%d" % (size + 5, size + 10), 416),
        ("bytes=-0", "bytes=-0", 416),
        ("two ranges", "bytes=0-1,5-6", 200),
        ("two ranges, one unsatisfiable", "bytes=0-1,%d-" % (size + 1), 200),
        ("bytes=5-2 (invalid)", "bytes=5-2", 200),
        ("items=0-1 (unknown unit)", "items=0-1", 200),
        ("bytes=x- (invalid)", "bytes=x-", 200),
        ("bytes= (empty)", "bytes=", 200),
        ("bytes=- (no numbers)", "bytes=-", 200),
    ]


def ranges(t, s):
    data = s.file_bytes("bin.dat")
    size = len(data)
    etag = etag_for(FIXED_MTIME, size)
    for label, value, want in range_cases(size):
        label = "Range %s" % label
        with t.guard(label), s.conn() as c:
            c.request("GET", "/bin.dat", headers=[("Range", value)])
            r = c.read_response()
            if isinstance(want, tuple):
                a, b = want
                t.eq(r.status_line, "HTTP/1.1 206 Partial Content", "%s: 206" % label)
                t.eq(r.names(), RANGE_HEADERS, "%s: header order (Content-Range before "
                     "Content-Length)" % label)
                t.eq(r.header("Content-Range"), "bytes %d-%d/%d" % (a, b, size),
                     "%s: Content-Range" % label)
                t.eq(r.header("Content-Length"), str(b - a + 1), "%s: Content-Length" % label)
                t.ok(r.body == data[a:b + 1], "%s: exactly bytes %d-%d" % (label, a, b),
                     diag="got %d bytes" % len(r.body))
                t.eq(r.header("ETag"), etag, "%s: ETag" % label)
            elif want == 416:
                check_error(t, r, 416, "Range Not Satisfiable", label)
                t.eq(r.header("Content-Range"), "bytes */%d" % size,
                     "%s: Content-Range bytes */SIZE" % label)
            else:
                t.eq(r.status_line, "HTTP/1.1 200 OK", "%s: 200" % label)
                t.eq(r.names(), FILE_HEADERS, "%s: plain 200 headers" % label)
                t.ok(r.body == data, "%s: whole file" % label,
                     diag="got %d bytes" % len(r.body))
            check_kept(t, c, label)
    big = s.file_bytes("big.bin")
    with t.guard("Range in big.bin"):
        a, b = 1234567, 2345678
        r = s.get("/big.bin", headers=[("Range", "bytes=%d-%d" % (a, b))])
        t.eq((r.status, r.header("Content-Range")), (206, "bytes %d-%d/%d" % (a, b, len(big))),
             "Range in the middle of big.bin: 206 + Content-Range")
        t.ok(r.body == big[a:b + 1], "Range in big.bin: exact bytes (file offset honoured)")
    with t.guard("pipelined ranges"), s.conn() as c:
        c.request("GET", "/bin.dat", headers=[("Range", "bytes=10-19")])
        c.request("GET", "/bin.dat", headers=[("Range", "bytes=-5")])
        c.request("GET", "/a.txt")
        rs = c.read_responses(3)
        t.eq([(r.status, r.body) for r in rs], [(206, data[10:20]), (206, data[-5:]),
                                                (200, A_TXT)],
             "two pipelined Range requests then a GET on one connection")
    with t.guard("Range on an empty file"):
        path = os.path.join(s.docroot, "empty.txt")
        open(path, "wb").close()
        r = s.get("/empty.txt", headers=[("Range", "bytes=0-")])
        check_error(t, r, 416, "Range Not Satisfiable", "Range on an empty file")
        t.eq(r.header("Content-Range"), "bytes */0", "empty file: Content-Range bytes */0")
    with t.guard("HEAD + Range"):
        r = s.get("/bin.dat", "HEAD", headers=[("Range", "bytes=0-99")])
        t.eq(r.status_line, "HTTP/1.1 200 OK", "HEAD + Range: 200 (Range ignored)")
        t.eq((r.header("Content-Length"), r.header("Content-Range")), (str(size), None),
             "HEAD + Range: full Content-Length, no Content-Range")
    for method in ("POST", "DELETE"):
        with t.guard("%s + Range" % method):
            r = s.get("/bin.dat", method, headers=[("Range", "bytes=0-99")])
            t.eq((r.status, r.header("Content-Range")), (405, None),
                 "%s + Range: 405, Range ignored" % method)
    with t.guard("Range + If-None-Match"):
        r = s.get("/bin.dat", headers=[("Range", "bytes=0-99"), ("If-None-Match", etag)])
        t.eq(r.status, 304, "Range + matching If-None-Match: 304 (conditional first)")
        r = s.get("/bin.dat", headers=[("Range", "bytes=0-99"), ("If-Match", '"abc-1"')])
        t.eq(r.status, 412, "Range + failing If-Match: 412")
    if_range(t, s, data, etag)


def if_range(t, s, data, etag):
    size = len(data)
    cases = [("current ETag", etag, True),
             ("other ETag", '"abc-1"', False),
             ("weak form of the current ETag", "W/" + etag, False),
             ("exact Last-Modified", LM, True),
             ("a later date", http_date(FIXED_MTIME + 60), False),
             ("an earlier date", http_date(FIXED_MTIME - 60), False),
             ("garbage", "whatever", False)]
    for what, value, honoured in cases:
        label = "If-Range %s" % what
        with t.guard(label):
            r = s.get("/bin.dat", headers=[("Range", "bytes=100-149"), ("If-Range", value)])
            if honoured:
                t.eq((r.status, r.header("Content-Range"), r.body),
                     (206, "bytes 100-149/%d" % size, data[100:150]),
                     "%s: range honoured (206)" % label)
            else:
                t.eq((r.status, r.header("Content-Range")), (200, None),
                     "%s: 200 whole file" % label)
                t.ok(r.body == data, "%s: whole body" % label)

# ------------------------------------------------------------ directories, HEAD


def directories(t, s):
    # Absolute, from the Host as sent (Apache's mod_dir, UseCanonicalName Off).
    for target, location in [("/sub", "http://127.0.0.1/sub/"),
                             ("/sub?x=1&y=2", "http://127.0.0.1/sub/?x=1&y=2"),
                             ("/s%75b", "http://127.0.0.1/s%75b/")]:
        label = "directory %s" % target
        with t.guard(label), s.conn() as c:
            c.request("GET", target)
            r = c.read_response()
            t.eq(r.status_line, "HTTP/1.1 301 Moved Permanently", "%s: 301" % label)
            t.eq(r.header("Location"), location, "%s: Location %s" % (label, location))
            t.eq(r.header("Connection"), None, "%s: no Connection: close" % label)
            check_kept(t, c, label)
    r = s.get("/sub/")
    t.eq((r.status, r.body), (200, SUB_INDEX_HTML), "/sub/ still 200")


def head_equals_get(t, s):
    data = s.file_bytes("bin.dat")
    cases = [("200", "/a.txt", [], [], 200),
             ("200 index", "/", [], [], 200),
             ("Range (HEAD ignores it: = GET without Range)", "/bin.dat",
              [("Range", "bytes=0-9")], [], 200),
             ("404", "/no-such-file", [], [], 404),
             ("304", "/a.txt", [("If-None-Match", A_ETAG)], [("If-None-Match", A_ETAG)], 304),
             ("412", "/a.txt", [("If-Match", '"x-1"')], [("If-Match", '"x-1"')], 412),
             ("301", "/sub", [], [], 301)]
    for what, path, head_hdrs, get_hdrs, code in cases:
        label = "HEAD == GET minus body: %s" % what
        with t.guard(label), s.conn() as c:
            c.request("GET", path, headers=get_hdrs)
            get = c.read_response()
            c.request("HEAD", path, headers=head_hdrs)
            head = c.read_response(head=True)
            c.request("GET", "/a.txt")
            after = c.read_response()
            t.eq((get.status, head.status), (code, code), "%s: status %d" % (label, code))
            t.eq(without_date(head), without_date(get), "%s: same headers (but Date)" % label)
            t.eq((after.status, after.body), (200, A_TXT),
                 "%s: HEAD sent no body (next response parses)" % label)
    with t.guard("206 GET vs HEAD"):
        get = s.get("/bin.dat", headers=[("Range", "bytes=0-9")])
        t.eq((get.status, get.body), (206, data[:10]), "GET + Range: 206 (HEAD gets 200)")

# ------------------------------------------------------------ > 2 GiB


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF before the end of the head (%r)" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.lower(), v.strip()) for k, v in (ln.split(":", 1) for ln in lines[1:]))
    return lines[0], headers, rest


def small_get(path, port, headers, limit):
    """GET PATH; returns (status line, {lowercase name: value}, body), body None
    (not read) unless the response announces at most LIMIT bytes."""
    req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path
    req += "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=HUGE_TIMEOUT) as sock:
        sock.sendall(req.encode("latin-1"))
        status, hdrs, body = read_head(sock)
        length = int(hdrs.get("content-length", "-1"))
        if not 0 <= length <= limit:
            return status, hdrs, None
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, hdrs, body


def huge_file(t, s):
    path = os.path.join(s.docroot, "huge.bin")
    with open(path, "wb"):
        pass
    os.truncate(path, HUGE_SIZE)
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    with t.guard("huge HEAD"):
        r = s.get("/huge.bin", "HEAD")
        t.eq((r.status, r.header("Content-Length")), (200, str(HUGE_SIZE)),
             "2.5 GiB sparse file: HEAD Content-Length %d" % HUGE_SIZE)
        t.eq(r.header("ETag"), etag_for(FIXED_MTIME, HUGE_SIZE), "2.5 GiB file: ETag")
    for value, (a, b) in [("bytes=-100", (HUGE_SIZE - 100, HUGE_SIZE - 1)),
                          ("bytes=2147483600-2147483699", (2147483600, 2147483699)),
                          ("bytes=%d-" % (HUGE_SIZE - 7), (HUGE_SIZE - 7, HUGE_SIZE - 1))]:
        with t.guard("huge Range %s" % value):
            status, headers, body = small_get("/huge.bin", s.port, [("Range", value)],
                                              b - a + 1)
            t.eq((status, headers.get("content-range")),
                 ("HTTP/1.1 206 Partial Content", "bytes %d-%d/%d" % (a, b, HUGE_SIZE)),
                 "2.5 GiB file Range %s: 206 + Content-Range" % value)
            t.ok(body == bytes(b - a + 1), "2.5 GiB file Range %s: %d zero bytes"
                 % (value, b - a + 1), diag="got %r" % (body if body is None else len(body)))
    with t.guard("huge GET"):
        huge_get(t, s)


def huge_get(t, s):
    side = {}

    def other_client():
        try:
            side["resp"] = s.get("/")
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            side["error"] = "%s: %s" % (type(e).__name__, e)

    sock = socket.create_connection(("127.0.0.1", s.port), timeout=HUGE_TIMEOUT)
    try:
        sock.settimeout(HUGE_TIMEOUT)
        sock.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, headers, rest = read_head(sock)
        t.eq((status, headers.get("content-length")), ("HTTP/1.1 200 OK", str(HUGE_SIZE)),
             "2.5 GiB GET: 200 with Content-Length")
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        total = len(rest)
        nonzero = rest.count(0) != len(rest)
        other = None
        started = time.monotonic()
        while total < HUGE_SIZE:
            n = sock.recv_into(view, min(len(buf), HUGE_SIZE - total))
            if n == 0:
                break
            if buf.count(0, 0, n) != n:
                nonzero = True
            total += n
            if other is None and total >= 64 << 20:
                # Mid-transfer, with our reading paused: the server's socket
                # for the big file is full; another client must still be served.
                other = threading.Thread(target=other_client, daemon=True)
                other.start()
                other.join(15)
        elapsed = time.monotonic() - started
        t.eq(total, HUGE_SIZE, "2.5 GiB GET: exactly %d body bytes streamed" % HUGE_SIZE)
        t.ok(not nonzero, "2.5 GiB GET: all bytes zero")
        t.diag("2.5 GiB streamed in %.1f s" % elapsed)
        t.ok(other is not None and not other.is_alive(),
             "another client's GET / finished while the 2.5 GiB transfer was under way")
        r = side.get("resp")
        t.ok(r is not None and r.status == 200 and r.body == INDEX_HTML,
             "another client's GET / answered 200 during the transfer",
             diag=side.get("error") or repr(r))
        sock.sendall(b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, headers, rest = read_head(sock)
        t.eq(status, "HTTP/1.1 200 OK", "after the 2.5 GiB body, the connection serves again")
    finally:
        sock.close()

# ------------------------------------------------------------ main


class Tagged:
    """A Tap whose descriptions all start with TAG (one static set per server flavour)."""

    def __init__(self, tap, tag):
        self.tap = tap
        self.tag = tag

    def _d(self, desc):
        return "%s %s" % (self.tag, desc)

    def ok(self, cond, desc, diag=None):
        return self.tap.ok(cond, self._d(desc), diag)

    def eq(self, got, want, desc):
        return self.tap.eq(got, want, self._d(desc))

    def match(self, pattern, text, desc, flags=0):
        return self.tap.match(pattern, text, self._d(desc), flags)

    def guard(self, desc):
        return self.tap.guard(self._d(desc))

    def diag(self, text):
        self.tap.diag(text)


# (tag, Server keyword arguments, run the 2.5 GiB set).  The file cache
# (FileCacheSize) answers small files from the listener: the same set runs
# with it on (default), off, and under MPM worker.
FLAVOURS = [("event", {"mpm": "event"}, True),
            ("event-nocache", {"mpm": "event", "conf_extra": "FileCacheSize 0"}, False),
            ("worker", {"mpm": "worker"}, False)]


def main(t):
    for tag, kwargs, huge in FLAVOURS:
        tt = Tagged(t, tag)
        with tt.guard("server"), Server(threads=4, start_servers=2, tap=t, **kwargs) as s:
            sets = [("headers/ETag", headers_and_etag), ("conditionals", conditionals),
                    ("ranges", ranges), ("directories", directories),
                    ("HEAD == GET", head_equals_get)]
            if huge:
                sets.append(("2.5 GiB file", huge_file))
            for name, fn in sets:
                with tt.guard(name):
                    fn(tt, s)
            tt.ok(s.is_running(), "server still running")


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
