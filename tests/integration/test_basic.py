#!/usr/bin/env python3
# test_basic.py: HTTP behaviour of a running mpmd (TAP on stdout).
#
# Runs the basic GET/HEAD/404/keep-alive set and a concurrency run under
# both MPM event and MPM worker, then the full protocol set (errors,
# directories, content types, big file, curl, wrk, access log) under event.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_basic.py

import http.client
import os
import re
import shutil
import subprocess
import threading
import time

import mpmdtest
from mpmdtest import (A_TXT, INDEX_HTML, SPACE_TXT, SUB_INDEX_HTML, FIXED_MTIME,
                      IMF_FIXDATE_RE, Server, http_date, parse_http_date, run_tests)

FILE_HEADERS = ["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges", "Content-Type",
                "Content-Length"]
ERROR_CT = "text/html; charset=utf-8"
ALLOW = "GET, HEAD, OPTIONS"


def check_200_file(t, r, body, ctype, label, version=None):
    """Status line, exact header order and values of a 200 for a docroot file."""
    t.eq(r.status_line, "HTTP/1.1 200 OK", "%s: status line" % label)
    t.eq(r.names(), FILE_HEADERS, "%s: headers exactly Date, Server, Last-Modified, "
         "ETag, Accept-Ranges, Content-Type, Content-Length (keep-alive: no Connection)" % label)
    date = r.header("Date") or ""
    t.match(IMF_FIXDATE_RE.pattern, date, "%s: Date is IMF-fixdate" % label)
    if IMF_FIXDATE_RE.match(date):
        t.ok(abs(parse_http_date(date) - time.time()) < 300, "%s: Date is now-ish" % label,
             diag="Date: %s" % date)
    want_server = "mpmd/" + version if version else None
    if want_server:
        t.eq(r.header("Server"), want_server, "%s: Server is mpmd/<version of -V>" % label)
    else:
        t.match(r"^mpmd/\S+$", r.header("Server") or "", "%s: Server is mpmd/..." % label)
    t.eq(r.header("Last-Modified"), http_date(FIXED_MTIME), "%s: Last-Modified = mtime" % label)
    t.eq(r.header("Content-Type"), ctype, "%s: Content-Type" % label)
    t.eq(r.header("Content-Length"), str(len(body)), "%s: Content-Length" % label)
    t.ok(r.body == body, "%s: body equals the file" % label,
         diag="got %d bytes: %r" % (len(r.body), r.body[:120]))


def check_error(t, r, code, reason, label):
    t.eq(r.status_line, "HTTP/1.1 %d %s" % (code, reason), "%s: status line" % label)
    t.eq(r.header("Content-Type"), ERROR_CT, "%s: Content-Type" % label)
    t.contains("<title>%d %s</title>" % (code, reason), r.text(), "%s: body title" % label)
    t.eq(r.header("Content-Length"), str(len(r.body)), "%s: Content-Length matches" % label)


# ------------------------------------------------------------ basic set (both MPMs)

def basic_get_head(t, s, tag, version):
    with t.guard("%s GET /" % tag):
        check_200_file(t, s.get("/"), INDEX_HTML, "text/html", "%s GET /" % tag, version)
    with t.guard("%s GET /index.html" % tag):
        check_200_file(t, s.get("/index.html"), INDEX_HTML, "text/html",
                       "%s GET /index.html" % tag, version)
    with t.guard("%s HEAD /a.txt" % tag):
        get = s.get("/a.txt")
        with s.conn() as c:
            # HEAD then GET on one connection: a stray HEAD body would break the 2nd parse.
            c.request("HEAD", "/a.txt")
            head = c.read_response(head=True)
            c.request("GET", "/index.html")
            after = c.read_response()
        t.eq(head.status_line, "HTTP/1.1 200 OK", "%s HEAD: status" % tag)
        t.eq(head.names(), get.names(), "%s HEAD: same header names as GET" % tag)
        t.eq([v for k, v in head.headers if k != "Date"], [v for k, v in get.headers
             if k != "Date"], "%s HEAD: same header values as GET (but Date)" % tag)
        t.eq(head.header("Content-Length"), str(len(A_TXT)), "%s HEAD: Content-Length" % tag)
        t.eq((after.status, after.body), (200, INDEX_HTML),
             "%s HEAD: no body sent (next response on the connection parses)" % tag)


def basic_404(t, s, tag):
    with t.guard("%s 404" % tag), s.conn() as c:
        c.request("GET", "/no-such-file.html")
        r = c.read_response()
        check_error(t, r, 404, "Not Found", "%s 404" % tag)
        t.eq(r.header("Connection"), None, "%s 404: no Connection: close" % tag)
        c.request("GET", "/a.txt")
        r2 = c.read_response()
        t.eq((r2.status, r2.body), (200, A_TXT), "%s 404: connection kept alive" % tag)


def basic_keepalive(t, s, tag):
    with t.guard("%s keep-alive" % tag), s.conn() as c:
        c.request("GET", "/a.txt")
        r1 = c.read_response()
        c.request("GET", "/")
        r2 = c.read_response()
        t.eq((r1.status, r1.body), (200, A_TXT), "%s keep-alive: 1st response" % tag)
        t.eq((r2.status, r2.body), (200, INDEX_HTML), "%s keep-alive: 2nd on same socket" % tag)
        t.ok(not c.closed_by_peer(0.3), "%s keep-alive: connection still open" % tag)
    with t.guard("%s pipelining" % tag), s.conn() as c:
        reqs = [mpmdtest.build_request("GET", p) for p in ("/a.txt", "/", "/sub/")]
        c.send(b"".join(reqs))
        rs = c.read_responses(3)
        t.eq([(r.status, r.body) for r in rs],
             [(200, A_TXT), (200, INDEX_HTML), (200, SUB_INDEX_HTML)],
             "%s pipelining: 3 requests in one send, 3 responses in order" % tag)
    with t.guard("%s pipelining with HEAD" % tag), s.conn() as c:
        c.send(mpmdtest.build_request("HEAD", "/") + mpmdtest.build_request("GET", "/a.txt"))
        rs = c.read_responses(2, heads=[True, False])
        t.eq([(r.status, r.body) for r in rs], [(200, b""), (200, A_TXT)],
             "%s pipelining: HEAD then GET" % tag)
    with t.guard("%s HTTP/1.1 Connection: close" % tag), s.conn() as c:
        c.request("GET", "/a.txt", headers=[("Connection", "close")])
        r = c.read_response()
        t.eq(r.status, 200, "%s Connection: close request: 200" % tag)
        t.eq(r.names(), FILE_HEADERS + ["Connection"],
             "%s Connection: close request: Connection header last" % tag)
        t.eq(r.header("Connection"), "close", "%s Connection: close echoed" % tag)
        t.ok(c.closed_by_peer(), "%s Connection: close: server closed" % tag)
    with t.guard("%s HTTP/1.0 keep-alive" % tag), s.conn() as c:
        c.request("GET", "/a.txt", "HTTP/1.0", [("Connection", "keep-alive")])
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 200 OK", "%s 1.0 keep-alive: status line" % tag)
        t.eq(r.header("Connection"), "keep-alive", "%s 1.0 keep-alive: Connection" % tag)
        c.request("GET", "/", "HTTP/1.0", [("Connection", "keep-alive")])
        r2 = c.read_response()
        t.eq((r2.status, r2.body), (200, INDEX_HTML), "%s 1.0 keep-alive: stays open" % tag)
    with t.guard("%s HTTP/1.0 close" % tag), s.conn() as c:
        c.request("GET", "/a.txt", "HTTP/1.0")
        r = c.read_response()
        t.eq((r.status, r.body), (200, A_TXT), "%s 1.0: 200 with body" % tag)
        t.eq(r.header("Connection"), "close", "%s 1.0: Connection: close" % tag)
        t.ok(c.closed_by_peer(), "%s 1.0: server closed" % tag)


def concurrency(t, s, tag, clients=50, per_client=20):
    paths = [("/", INDEX_HTML), ("/a.txt", A_TXT), ("/sub/", SUB_INDEX_HTML),
             ("/bin.dat", s.file_bytes("bin.dat"))]
    errors = []
    good = [0]
    lock = threading.Lock()

    def client(n):
        conn = None
        try:
            for i in range(per_client):
                path, want = paths[(n + i) % len(paths)]
                if conn is None:
                    # MPM worker: a connection may wait in the queue while
                    # keep-alive clients hold every thread; allow for a
                    # loaded machine.
                    conn = s.conn(timeout=30)
                conn.request("GET", path)
                r = conn.read_response()
                if r.status != 200 or r.body != want:
                    raise AssertionError("%s -> %s, %d bytes" % (path, r.status_line,
                                                                 len(r.body)))
                with lock:
                    good[0] += 1
                if n % 2:   # odd clients: a new connection per request
                    conn.close()
                    conn = None
        except Exception as e:  # noqa: BLE001 - collected and reported below
            with lock:
                errors.append("client %d: %s: %s" % (n, type(e).__name__, e))
        finally:
            if conn is not None:
                conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    t.ok(not any(th.is_alive() for th in threads), "%s concurrency: all clients finished" % tag)
    t.ok(not errors, "%s concurrency: %d clients x %d requests without error"
         % (tag, clients, per_client), diag="\n".join(errors[:10]))
    t.eq(good[0], clients * per_client, "%s concurrency: all responses 200 with right body"
         % tag)
    t.ok(s.is_running(), "%s concurrency: supervisor still running" % tag)


def basic_set(t, mpm, version):
    tag = mpm
    with t.guard("%s server" % tag), Server(mpm=mpm, threads=4, start_servers=2, tap=t) as s:
        basic_get_head(t, s, tag, version)
        basic_404(t, s, tag)
        basic_keepalive(t, s, tag)
        with t.guard("%s big file" % tag):
            big = s.file_bytes("big.bin")
            r = s.get("/big.bin")
            t.eq((r.status, r.header("Content-Length")), (200, str(len(big))),
                 "%s big.bin: 200, Content-Length 3 MiB" % tag)
            t.ok(r.body == big, "%s big.bin: body equals the file (sendfile path)" % tag,
                 diag="got %d bytes, want %d" % (len(r.body), len(big)))
        with t.guard("%s concurrency" % tag):
            concurrency(t, s, tag)
        if mpm == "event":
            full_set(t, s)

# ------------------------------------------------------------ full set (event)


def full_set(t, s):
    for name, fn in [("content types", content_types), ("files", files), ("403", forbidden),
                     ("400", bad_requests), ("405/OPTIONS", methods),
                     ("directories", directories), ("http.client", httpclient),
                     ("access log", access_log), ("curl", curl), ("wrk", wrk)]:
        with t.guard(name):
            fn(t, s)


def content_types(t, s):
    for path, want in [("/index.html", "text/html"), ("/a.txt", "text/plain"),
                       ("/style.css", "text/css"), ("/x.zzqq", "application/octet-stream"),
                       ("/bin.dat", mpmdtest.mime_types_lookup("dat"))]:
        r = s.get(path, "HEAD")
        t.eq((r.status, r.header("Content-Type")), (200, want), "Content-Type of %s" % path)


def files(t, s):
    big = s.file_bytes("big.bin")
    with s.conn() as c:   # big body then another request on the same connection
        c.request("GET", "/big.bin")
        c.request("GET", "/a.txt")
        rs = c.read_responses(2)
        t.ok(rs[0].body == big and rs[1].body == A_TXT,
             "big.bin pipelined with a.txt: both bodies intact")
    binary = s.file_bytes("bin.dat")
    r = s.get("/bin.dat")
    t.ok(r.status == 200 and r.body == binary, "bin.dat (100 KiB random): body equals")
    r = s.get("/a.txt?x=1&y=2")
    t.eq((r.status, r.body), (200, A_TXT), "query string ignored for lookup")
    r = s.get("/sp%20ace.txt")
    t.eq((r.status, r.body), (200, SPACE_TXT), "percent-encoded name /sp%20ace.txt")
    r = s.get("/%61.txt")
    t.eq((r.status, r.body), (200, A_TXT), "percent-encoded letter /%61.txt")


def forbidden(t, s):
    with s.conn() as c:
        c.request("GET", "/dir_noindex/")
        r = c.read_response()
        check_error(t, r, 403, "Forbidden", "directory without index")
        c.request("GET", "/a.txt")
        t.eq(c.read_response().status, 200, "403: connection kept alive")
    if os.geteuid() == 0:
        t.skip("unreadable file (chmod 000) -> 403", "running as root: root reads anyway")
    else:
        check_error(t, s.get("/noperm.txt"), 403, "Forbidden", "unreadable file")


def bad_requests(t, s):
    cases = [("/../etc/passwd", "dot-dot above root"),
             ("/a/../../etc/passwd", "dot-dot climbing out"),
             ("/%2e%2e/%2e%2e/etc/passwd", "encoded dot-dot"),
             ("/%2e%2e%2fetc/passwd", "encoded dot-dot and slash"),
             ("/a.txt%00.html", "encoded NUL"),
             ("/%00", "encoded NUL alone")]
    for path, what in cases:
        with t.guard("400 %s" % what), s.conn() as c:
            c.request("GET", path)
            r = c.read_response()
            check_error(t, r, 400, "Bad Request", "400 %s %s" % (what, path))
            t.ok(b"root:" not in r.body, "400 %s: no passwd content" % what)
            t.eq(r.header("Connection"), "close", "400 %s: Connection: close" % what)
            t.ok(c.closed_by_peer(), "400 %s: server closed the connection" % what)
    with t.guard("400 garbage"), s.conn() as c:
        c.send(b"GARBAGE\r\n\r\n")
        r = c.read_response()
        check_error(t, r, 400, "Bad Request", "400 garbage request line")
        t.eq(r.header("Connection"), "close", "400 garbage: Connection: close")
        t.ok(c.closed_by_peer(), "400 garbage: server closed the connection")
    t.ok(s.get("/a.txt").status == 200, "server fine after bad requests")


def methods(t, s):
    with s.conn() as c:
        for method, body in [("POST", b"x=1&y=2"), ("PUT", b"new content\n"), ("DELETE", b"")]:
            hdrs = [("Content-Length", str(len(body)))] if body else []
            if body:
                hdrs.append(("Content-Type", "application/x-www-form-urlencoded"))
            c.request(method, "/a.txt", headers=hdrs, body=body)
            r = c.read_response()
            check_error(t, r, 405, "Method Not Allowed", "%s /a.txt" % method)
            t.eq(r.header("Allow"), ALLOW, "%s /a.txt: Allow header" % method)
            c.request("GET", "/a.txt")
            r2 = c.read_response()
            t.eq((r2.status, r2.body), (200, A_TXT), "%s: connection kept alive" % method)
    t.eq(s.file_bytes("a.txt"), A_TXT, "PUT/DELETE did not touch the file")
    with s.conn() as c:
        c.request("OPTIONS", "/a.txt")
        r = c.read_response()
        t.eq(r.status_line, "HTTP/1.1 200 OK", "OPTIONS: 200")
        t.eq(r.header("Allow"), ALLOW, "OPTIONS: Allow")
        t.eq((r.header("Content-Length"), r.body), ("0", b""), "OPTIONS: Content-Length: 0")


def directories(t, s):
    r = s.get("/sub/")
    t.eq((r.status, r.body), (200, SUB_INDEX_HTML), "/sub/ serves sub/index.html")
    t.eq(r.header("Content-Type"), "text/html", "/sub/: Content-Type text/html")
    r = s.get("/sub/?q=1")
    t.eq((r.status, r.body), (200, SUB_INDEX_HTML), "/sub/?q=1 serves sub/index.html")
    r = s.get("/sub")
    t.eq(r.status_line, "HTTP/1.1 301 Moved Permanently", "/sub: 301")
    t.ok((r.header("Location") or "").endswith("/sub/"), "/sub: Location ends in /sub/",
         diag="Location: %r" % r.header("Location"))


def httpclient(t, s):
    hc = http.client.HTTPConnection("127.0.0.1", s.port, timeout=mpmdtest.IO_TIMEOUT)
    try:
        hc.request("GET", "/")
        r1 = hc.getresponse()
        b1 = r1.read()
        sock1 = hc.sock
        hc.request("GET", "/a.txt")
        r2 = hc.getresponse()
        b2 = r2.read()
        sock2 = hc.sock
    finally:
        hc.close()
    t.eq((r1.status, b1, r2.status, b2), (200, INDEX_HTML, 200, A_TXT),
         "http.client: two requests answered")
    t.ok(sock1 is not None and sock1 is sock2, "http.client: both on one connection")


def access_log(t, s):
    r = s.get("/a.txt?probe=access", headers=[("Referer", "http://ref.example/"),
                                              ("User-Agent", "mpmdtest/1")])
    t.eq(r.status, 200, "access log probe: 200")
    pat = re.compile(r'^127\.0\.0\.1 \S+ \S+ \[[^\]]+\] "GET /a\.txt\?probe=access HTTP/1\.1" '
                     r'200 %d "http://ref\.example/" "mpmdtest/1"$' % len(A_TXT), re.M)
    found = mpmdtest.wait_until(lambda: pat.search(s.access_text()), 5.0)
    t.ok(found, "access log: combined line with request line, status, bytes, referer, UA",
         diag="access.log:\n" + s.access_text()[-2000:])
    r = s.get("/no-such-probe")
    pat404 = re.compile(r'"GET /no-such-probe HTTP/1\.1" 404 ')
    t.ok(mpmdtest.wait_until(lambda: pat404.search(s.access_text()), 5.0),
         "access log: 404 logged", diag="access.log:\n" + s.access_text()[-2000:])


def curl(t, s):
    exe = shutil.which("curl")
    if not exe:
        t.skip("curl fetches /", "curl not installed")
        return
    p = subprocess.run([exe, "-s", "-D-", "--max-time", "10",
                        "http://127.0.0.1:%d/" % s.port], capture_output=True, timeout=20)
    t.eq(p.returncode, 0, "curl: exit 0")
    t.ok(p.stdout.startswith(b"HTTP/1.1 200 OK\r\n"), "curl: HTTP/1.1 200 OK",
         diag=p.stdout[:300])
    t.ok(p.stdout.endswith(b"\r\n\r\n" + INDEX_HTML), "curl: body is index.html",
         diag=p.stdout[-300:])


def wrk(t, s):
    exe = shutil.which("wrk")
    if not exe:
        t.skip("wrk -c64 without errors", "wrk not installed")
        return
    p = subprocess.run([exe, "-t1", "-c64", "-d2s", "http://127.0.0.1:%d/" % s.port],
                       capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    t.eq(p.returncode, 0, "wrk: exit 0")
    t.match(r"\d+ requests in", out, "wrk: ran requests")
    t.ok("Socket errors" not in out, "wrk: no socket errors", diag=out)
    t.ok("Non-2xx" not in out, "wrk: no non-2xx responses", diag=out)
    t.ok(s.is_running() and s.get("/").status == 200, "server answers after wrk")


def main(t):
    version = mpmdtest.mpmd_version()
    t.ok(version, "mpmd -V prints mpmd/<version>")
    for mpm in ("event", "worker"):
        basic_set(t, mpm, version)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
