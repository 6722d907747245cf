#!/usr/bin/env python3
# test_proxy.py: mpmd's reverse proxy (ProxyPass and friends) in front of
# real upstreams (TAP on stdout).
#
# Upstreams (tests/integration/upstreams.py): gunicorn with sync workers
# serving upstreams/wsgi_app.py, a second gunicorn with gthread workers
# and --keep-alive 1 (it closes idle connections after 1-2 s), uvicorn
# serving upstreams/asgi_app.py (SSE), a scripted upstream in this process
# (exact response headers), and a port nobody listens on.  mpmd runs with
# ProxyPass in server context and inside <Location>, an exclusion ("!"),
# ProxyPassReverse, ProxyTimeout and worker parameters (timeout=,
# responsefieldsize=, max= ttl= connectiontimeout= retry=), SetEnv
# proxy-sendcl; then two small configs for ProxyPreserveHost +
# ProxyTrustForwardedFrom and for ProxyAddHeaders Off.
#
# Checked: status, headers and body relayed; hop-by-hop headers dropped
# both ways; X-Forwarded-For/-Host/-Server; the Host the upstream sees;
# Location rewritten; 502 (refused), 504 (slow upstream, ProxyTimeout and
# timeout=), 502 for a response header over responsefieldsize (and the
# error log says so); 100 MB up (PUT and POST with Content-Length,
# chunked) and down (chunked and Content-Length) compared by sha256 while
# the child's VmRSS grows < 16 MB; a chunked body sent on with
# Content-Length under proxy-sendcl; load across the upstream's keep-alive
# expiries without a client error; SSE events relayed one by one.
# Needs python3-gunicorn (and python3-uvicorn for the SSE and <Location>
# parts) for /usr/bin/python3, and curl; skips what is missing.
# Run by hand:
#   MPMD=$PWD/src/mpmd MPMD_SRCDIR=$PWD PYTHONPATH=$PWD/tests/integration \
#       python3 tests/integration/test_proxy.py

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import threading
import time

import mpmdtest
import upstreams as U
from mpmdtest import Conn, run_tests

SERVER_NAME = "proxy.test"
FRONT_HOST = "front.example"
BIG = 100 * U.MIB
SENDCL_SIZE = 20 * U.MIB
RSS_LIMIT_KB = 16 * 1024

RAW_RESPONSE = (b"HTTP/1.1 200 OK\r\n"
                b"Content-Type: text/plain\r\n"
                b"Content-Length: 6\r\n"
                b"Connection: close, X-Resp-Hop\r\n"
                b"X-Resp-Hop: secret\r\n"
                b"Keep-Alive: timeout=123\r\n"
                b"Proxy-Connection: keep-alive\r\n"
                b"Trailer: X-Trail\r\n"
                b"Upgrade: foo/1\r\n"
                b"X-Normal: kept\r\n"
                b"\r\n"
                b"hello\n")


class Ctx:
    """Ports of the upstreams and the work dir."""
    tmp = None
    g = None         # gunicorn, sync workers
    k = None         # gunicorn, gthread, --keep-alive 1
    u = None         # uvicorn (None when not installed)
    raw = None       # RawUpstream
    down = None      # closed port
    u_missing = None  # why uvicorn is not used


def main_conf(c):
    # The ProxyPass lines with worker parameters name their own upstream
    # URLs (/via/NAME/, see wsgi_app.py) and come before /app/: Apache
    # shares one worker (and its parameters) among lines with the same
    # URL, and gives a request the first defined worker whose URL prefixes
    # the target.
    lines = [
        "ServerName %s" % SERVER_NAME,
        "ProxyTimeout 3",
        "ProxyPass /slow1/ http://127.0.0.1:%d/via/slow1/ timeout=1" % c.g,
        "ProxyPass /rfs/ http://127.0.0.1:%d/via/rfs/ responsefieldsize=16384" % c.g,
        ("ProxyPass /x/ http://127.0.0.1:%d/via/x/ max=4 ttl=1 connectiontimeout=1 retry=0"
         % c.g),
        "<Location /sendcl/>",
        "    SetEnv proxy-sendcl 1",
        "</Location>",
        "ProxyPass /sendcl/ http://127.0.0.1:%d/via/sendcl/" % c.g,
        "ProxyPass /app/static/ !",
        "ProxyPass /app/ http://127.0.0.1:%d/" % c.g,
        "ProxyPassReverse /app/ http://127.0.0.1:%d/" % c.g,
        "ProxyPass /ka/ http://127.0.0.1:%d/" % c.k,
        "ProxyPass /down/ http://127.0.0.1:%d/ retry=0" % c.down,
        "ProxyPass /raw/ http://127.0.0.1:%d/" % c.raw.port,
    ]
    if c.u:
        lines += ["<Location /u/>",
                  "    ProxyPass http://127.0.0.1:%d/" % c.u,
                  "</Location>"]
    return "\n".join(lines)


def host_of(s):
    return "%s:%d" % (FRONT_HOST, s.port)


def as_json(r):
    try:
        return json.loads(r.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return {}


def fetch(s, path, method="GET", headers=None, body=b"", timeout=mpmdtest.IO_TIMEOUT):
    """One request with Host front.example:PORT on a fresh connection."""
    hdrs = [("Host", host_of(s))] + list(headers or [])
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hdrs):
        hdrs.append(("Content-Length", str(len(body))))
    with Conn(s.port, timeout=timeout) as c:
        c.request(method, path, headers=hdrs, body=body)
        return c.read_response(head=(method == "HEAD"))


def timed(fn, *args, **kw):
    """(result or exception text, seconds)."""
    start = time.monotonic()
    try:
        res = fn(*args, **kw)
    except (OSError, mpmdtest.ProtocolError, ValueError) as e:
        res = "error: %s: %s" % (type(e).__name__, e)
    return res, time.monotonic() - start


def status_of(r):
    return r if isinstance(r, str) else r.status

# ---------------------------------------------------------------- checks


def basics(t, s, c):
    r = fetch(s, "/app/echo?a=1&b=2")
    j = as_json(r)
    t.eq(r.status, 200, "GET /app/echo: 200")
    t.eq(r.header("X-Upstream"), "gunicorn", "GET /app/echo: answered by gunicorn")
    t.eq((j.get("method"), j.get("path"), j.get("query")), ("GET", "/echo", "a=1&b=2"),
         "GET /app/echo?a=1&b=2: upstream sees GET /echo, query a=1&b=2")
    r = fetch(s, "/app/echo?q=%2F%20x&y=%41")
    t.eq(as_json(r).get("raw_uri"), "/echo?q=%2F%20x&y=%41",
         "percent-encoded query passed on as sent")
    t.eq(as_json(r).get("headers", {}).get("HTTP_HOST"), "127.0.0.1:%d" % c.g,
         "without ProxyPreserveHost the upstream sees Host 127.0.0.1:GPORT")
    r = fetch(s, "/app/status?code=418")
    t.eq((r.status, r.body), (418, b"status 418\n"), "upstream's 418 and body relayed")
    r = fetch(s, "/app/status?code=204")
    t.eq((r.status, r.body), (204, b""), "upstream's 204 relayed without body")
    r = fetch(s, "/app/no-such-endpoint")
    t.eq((r.status, r.header("X-Upstream")), (404, "gunicorn"), "upstream's own 404 relayed")
    body = os.urandom(100000)
    r = fetch(s, "/app/echo", "POST", [("Content-Type", "application/x-test")], body)
    j = as_json(r)
    t.eq((r.status, j.get("CONTENT_LENGTH"), j.get("CONTENT_TYPE"), j.get("body_len"),
          j.get("body_sha256")),
         (200, "100000", "application/x-test", 100000, hashlib.sha256(body).hexdigest()),
         "POST 100000 bytes with Content-Length: length, type and sha256 at the upstream")
    # Chunked request body from a raw client.
    parts = [os.urandom(5000), os.urandom(17), os.urandom(70000)]
    data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    with Conn(s.port) as cn:
        cn.send(mpmdtest.build_request("POST", "/app/upload", headers=[
            ("Host", host_of(s)), ("Transfer-Encoding", "chunked")]) + data)
        r = cn.read_response()
    j = as_json(r)
    t.eq((r.status, j.get("length"), j.get("sha256")),
         (200, 75017, hashlib.sha256(b"".join(parts)).hexdigest()),
         "chunked POST (3 chunks): body complete at the upstream")
    # HEAD, then more requests on the same client connection.
    with Conn(s.port) as cn:
        cn.request("HEAD", "/app/bigcl?n=1234", headers=[("Host", host_of(s))])
        r = cn.read_response(head=True)
        t.eq((r.status, r.header("Content-Length")), (200, "1234"),
             "HEAD: 200 with the upstream's Content-Length")
        got = []
        try:
            for i in range(5):
                cn.request("GET", "/app/echo?n=%d" % i, headers=[("Host", host_of(s))])
                got.append((cn.read_response().status, i))
        except (OSError, mpmdtest.ProtocolError, ValueError) as e:
            got.append("GET %d: %s: %s" % (len(got), type(e).__name__, e))
        t.eq(got, [(200, i) for i in range(5)],
             "HEAD then 5 GETs on one client connection (no stray body bytes)")
    r = fetch(s, "/x/echo")
    t.eq((r.status, r.header("X-Upstream"), as_json(r).get("via"), as_json(r).get("path")),
         (200, "gunicorn", "x", "/echo"),
         "ProxyPass /x/ http://GPORT/via/x/ max= ttl= connectiontimeout= retry=: /x/echo works")


HOP_REQUEST = [("Connection", "keep-alive, X-Secret-Hop, Upgrade"), ("X-Secret-Hop", "1"),
               ("Keep-Alive", "timeout=9"), ("TE", "trailers"),
               ("Proxy-Connection", "keep-alive"), ("Trailer", "X-Trail"),
               ("Upgrade", "foo/1"), ("X-Normal", "yes")]


def hop_by_hop(t, s, c):
    r = fetch(s, "/app/echo", headers=HOP_REQUEST)
    h = as_json(r).get("headers", {})
    t.eq(h.get("HTTP_X_NORMAL"), "yes", "request: an end-to-end header is forwarded")
    for name in ("HTTP_X_SECRET_HOP", "HTTP_KEEP_ALIVE", "HTTP_TE", "HTTP_PROXY_CONNECTION",
                 "HTTP_TRAILER", "HTTP_UPGRADE"):
        t.ok(name not in h, "request: %s not forwarded" % name[5:].replace("_", "-").title(),
             diag="upstream saw %s: %r" % (name, h.get(name)))
    conn = [x.strip().lower() for x in (h.get("HTTP_CONNECTION") or "").split(",") if x.strip()]
    t.ok(set(conn) <= {"close", "keep-alive"},
         "request: the client's Connection header not forwarded (only mpmd's own)",
         diag="upstream saw Connection: %r" % h.get("HTTP_CONNECTION"))
    # The exact request head, at the scripted upstream.
    r = fetch(s, "/raw/x", headers=HOP_REQUEST)
    t.eq((r.status, r.body, r.header("X-Normal")), (200, b"hello\n", "kept"),
         "scripted upstream: status, body and end-to-end header relayed")
    for name in ("X-Resp-Hop", "Proxy-Connection", "Trailer", "Upgrade"):
        t.eq(r.header(name), None, "response: %s not forwarded" % name)
    t.ok("123" not in (r.header("Keep-Alive") or ""),
         "response: the upstream's Keep-Alive not forwarded", diag=r.header("Keep-Alive"))
    t.ok("x-resp-hop" not in (r.header("Connection") or "").lower(),
         "response: the upstream's Connection tokens not forwarded",
         diag="Connection: %r" % r.header("Connection"))
    heads = list(c.raw.heads)
    if t.ok(heads, "scripted upstream received the request"):
        names = U.head_names(heads[-1])
        bad = [n for n in ("x-secret-hop", "keep-alive", "te", "proxy-connection", "trailer",
                           "upgrade") if n in names]
        t.eq(bad, [], "request head at the upstream: no hop-by-hop header of the client")


def forwarded(t, s, c):
    r = fetch(s, "/app/echo")
    h = as_json(r).get("headers", {})
    t.eq(h.get("HTTP_X_FORWARDED_FOR"), "127.0.0.1", "X-Forwarded-For: the client address")
    t.eq(h.get("HTTP_X_FORWARDED_HOST"), host_of(s), "X-Forwarded-Host: the Host the client sent")
    t.eq(h.get("HTTP_X_FORWARDED_SERVER"), SERVER_NAME, "X-Forwarded-Server: ServerName")
    r = fetch(s, "/app/echo", headers=[("X-Forwarded-For", "6.6.6.6")])
    t.eq(as_json(r).get("headers", {}).get("HTTP_X_FORWARDED_FOR"), "127.0.0.1",
         "an untrusted client's X-Forwarded-For: 6.6.6.6 is dropped, replaced by its address")


def reverse(t, s, c):
    r = fetch(s, "/app/redirect")
    t.eq(r.status, 302, "/app/redirect: 302 relayed")
    t.eq(r.header("Location"), "http://%s/app/target" % host_of(s),
         "ProxyPassReverse: Location http://127.0.0.1:GPORT/target -> http://HOST/app/target")


def exclusion(t, s, c):
    d = os.path.join(s.docroot, "app", "static")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "a.txt"), "wb") as f:
        f.write(b"local static file\n")
    r = fetch(s, "/app/static/a.txt")
    t.eq((r.status, r.body, r.header("X-Upstream")), (200, b"local static file\n", None),
         "ProxyPass /app/static/ ! (listed first): served from DocumentRoot, not proxied")
    r = fetch(s, "/app/staticx")
    t.eq(r.header("X-Upstream"), "gunicorn", "/app/staticx (outside the exclusion) is proxied")


def location_form(t, s, c):
    if not c.u:
        t.skip("<Location /u/> ProxyPass URL", c.u_missing)
        return
    r = fetch(s, "/u/echo?z=9")
    j = as_json(r)
    t.eq((r.status, r.header("X-Upstream"), j.get("path"), j.get("query")),
         (200, "uvicorn", "/echo", "z=9"),
         "<Location /u/> ProxyPass http://UPORT/: /u/echo?z=9 -> uvicorn /echo?z=9")


def failures(t, s, c):
    r, secs = timed(fetch, s, "/down/echo")
    t.eq(status_of(r), 502, "upstream port closed: 502")
    t.ok(secs < 5, "upstream port closed: answered within 5 s", diag="%.2f s" % secs)
    r, secs = timed(fetch, s, "/slow1/slow?s=0.2", timeout=10)
    t.eq(status_of(r), 200, "timeout=1, upstream answers in 0.2 s: 200")
    r, secs = timed(fetch, s, "/slow1/slow?s=4", timeout=10)
    t.eq(status_of(r), 504, "timeout=1, upstream takes 4 s: 504")
    t.ok(secs < 2.2, "timeout=1 (worker) wins over ProxyTimeout 3: 504 within 2.2 s",
         diag="%.2f s" % secs)
    r, secs = timed(fetch, s, "/app/slow?s=5", timeout=10)
    t.eq(status_of(r), 504, "ProxyTimeout 3, upstream takes 5 s: 504")
    t.ok(2.5 <= secs < 4.9, "ProxyTimeout 3: 504 after about 3 s", diag="%.2f s" % secs)


def field_size(t, s, c):
    r = fetch(s, "/app/bighead?n=7000")
    t.eq((r.status, len(r.header("X-Big") or "")), (200, 7000),
         "7000-byte response header under the default responsefieldsize (8192): relayed")
    r = fetch(s, "/app/bighead?n=10000")
    t.eq(r.status, 502, "10000-byte response header over the default responsefieldsize: 502")
    t.ok(mpmdtest.wait_until(lambda: "responsefieldsize" in s.errlog_text().lower(), 5),
         "the error log names responsefieldsize", diag=s.errlog_text()[-1500:])
    r = fetch(s, "/rfs/bighead?n=10000")
    t.eq((r.status, len(r.header("X-Big") or "")), (200, 10000),
         "responsefieldsize=16384: the 10000-byte header relayed")


def curl_json(args):
    """curl ARGS writing the body to stdout: (exit, status, parsed JSON, stderr)."""
    rc, out, err = U.curl(args + ["-w", "\n%{http_code}"])
    body, _, code = out.rpartition(b"\n")
    try:
        j = json.loads(body.decode())
    except (ValueError, UnicodeDecodeError):
        j = {"_raw": body[:300]}
    return rc, int(code) if code.strip().isdigit() else -1, j, err


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def unlink_quiet(*paths):
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


def rss_ok(t, w, label):
    t.ok(w.growth() < RSS_LIMIT_KB, "%s: child RSS grew < 16 MB (%d kB)" % (label, w.growth()),
         diag=w.describe())


def big_transfers(t, s, c):
    base = "http://127.0.0.1:%d" % s.port
    src = os.path.join(c.tmp, "up.bin")
    sha = U.write_pattern_file(src, BIG)
    out = os.path.join(c.tmp, "down.bin")
    hdr = os.path.join(c.tmp, "down.head")
    for path, label in (("/app/big?n=%d" % BIG, "100 MB down, chunked"),
                        ("/app/bigcl?n=%d" % BIG, "100 MB down, Content-Length")):
        with U.RssWatch(s) as w:
            rc, _, err = U.curl(["-D", hdr, "-o", out, base + path])
        status, headers = U.parse_head(read_bytes(hdr))
        t.eq((rc, status), (0, 200), "%s: curl exit 0, status 200" % label)
        if rc:
            t.diag(err)
        t.eq(U.file_sha256(out), (BIG, sha), "%s: size and sha256" % label)
        if "bigcl" in path:
            t.eq(U.header_of(headers, "Content-Length"), str(BIG),
                 "%s: the upstream's Content-Length relayed" % label)
        rss_ok(t, w, label)
        unlink_quiet(out, hdr)
    uploads = [("100 MB PUT, Content-Length", ["-T", src]),
               ("100 MB POST, Content-Length", ["-T", src, "-X", "POST"]),
               ("100 MB POST, chunked", ["-T", src, "-X", "POST",
                                         "-H", "Transfer-Encoding: chunked"])]
    for label, args in uploads:
        with U.RssWatch(s) as w:
            rc, status, j, err = curl_json(args + ["-H", "Expect:", base + "/app/upload"])
        t.eq((rc, status), (0, 200), "%s: curl exit 0, status 200" % label)
        if rc:
            t.diag(err)
        t.eq((j.get("length"), j.get("sha256")), (BIG, sha),
             "%s: length and sha256 at the upstream" % label)
        if "chunked" not in label:
            t.eq(j.get("CONTENT_LENGTH"), str(BIG), "%s: upstream sees Content-Length" % label)
        rss_ok(t, w, label)
    os.unlink(src)
    src = os.path.join(c.tmp, "sendcl.bin")
    sha = U.write_pattern_file(src, SENDCL_SIZE)
    label = "20 MB chunked POST under SetEnv proxy-sendcl 1"
    with U.RssWatch(s) as w:
        rc, status, j, err = curl_json(["-T", src, "-X", "POST", "-H", "Expect:",
                                        "-H", "Transfer-Encoding: chunked",
                                        base + "/sendcl/upload"])
    t.eq((rc, status, j.get("length"), j.get("sha256")), (0, 200, SENDCL_SIZE, sha),
         "%s: body complete at the upstream" % label)
    t.eq((j.get("CONTENT_LENGTH"), j.get("HTTP_TRANSFER_ENCODING")), (str(SENDCL_SIZE), None),
         "%s: sent on with Content-Length, not chunked" % label)
    rss_ok(t, w, label)
    small = src + ".2m"
    sha = U.write_pattern_file(small, 2 * U.MIB)
    rc, status, j, err = curl_json(["-T", small, "-X", "POST", base + "/app/upload"])
    t.eq((rc, status, j.get("length"), j.get("sha256")), (0, 200, 2 * U.MIB, sha),
         "2 MB POST with curl's Expect: 100-continue: body complete at the upstream")
    unlink_quiet(src, small)


def keepalive_race(t, s, c):
    """4 client threads, requests 0.5-1.5 s apart for 8 s, through a pool of
    upstream connections that gunicorn closes after 1-2 s idle."""
    errors, done = [], [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + 8.0

    def one(cn, i, n):
        path = "/ka/echo?t=%d&n=%d" % (i, n)
        cn.request("GET", path, headers=[("Host", host_of(s))])
        r = cn.read_response()
        if r.status != 200 or as_json(r).get("query") != "t=%d&n=%d" % (i, n):
            raise mpmdtest.ProtocolError("%s -> %s %r" % (path, r.status_line, r.body[:100]))
        return r

    def worker(i):
        rnd = random.Random(1000 + i)
        cn, n = None, 0
        try:
            while time.monotonic() < stop_at:
                burst = 3 if rnd.random() < 0.2 else 1
                for _ in range(burst):
                    n += 1
                    try:
                        if cn is None:
                            cn = Conn(s.port)
                        r = one(cn, i, n)
                        if i % 2 == 0 or (r.header("Connection") or "").lower() == "close":
                            cn.close()      # even threads: a new connection each time
                            cn = None
                        with lock:
                            done[0] += 1
                    except (OSError, mpmdtest.ProtocolError, ValueError) as e:
                        with lock:
                            errors.append("thread %d request %d: %s: %s"
                                          % (i, n, type(e).__name__, e))
                        if cn is not None:
                            cn.close()
                        cn = None
                time.sleep(rnd.uniform(0.5, 1.5))
        finally:
            if cn is not None:
                cn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    t.ok(not any(th.is_alive() for th in threads), "keep-alive load: client threads finished")
    t.eq(errors, [], "keep-alive load: %d requests across the upstream's keep-alive "
         "expiries (gunicorn --keep-alive 1), no error" % done[0])
    t.ok(done[0] >= 16, "keep-alive load: at least 16 requests made (%d)" % done[0])


def graceful_under_load(t, s, c):
    """3 graceful restarts (SIGUSR1, as `mpmd -k graceful`) while 4 client
    threads keep sending proxied requests: every request gets its answer."""
    errors, done = [], [0]
    lock = threading.Lock()
    stop = threading.Event()

    def worker(i):
        cn, n = None, 0
        while not stop.is_set():
            n += 1
            try:
                if cn is None:
                    cn = Conn(s.port)
                cn.request("GET", "/ka/echo?g=%d&n=%d" % (i, n), headers=[("Host", host_of(s))])
                r = cn.read_response()
                if r.status != 200:
                    raise mpmdtest.ProtocolError("status %s" % r.status_line)
                if (r.header("Connection") or "").lower() == "close":
                    cn.close()          # the old child's last answer on this connection
                    cn = None
                with lock:
                    done[0] += 1
            except (OSError, mpmdtest.ProtocolError, ValueError) as e:
                with lock:
                    errors.append("thread %d request %d: %s: %s" % (i, n, type(e).__name__, e))
                if cn is not None:
                    cn.close()
                cn = None
        if cn is not None:
            cn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(4)]
    for th in threads:
        th.start()
    before = set(s.children())
    for _ in range(3):
        time.sleep(1.0)
        os.kill(s.pid, signal.SIGUSR1)
    time.sleep(1.5)
    stop.set()
    for th in threads:
        th.join(30)
    t.ok(not any(th.is_alive() for th in threads), "graceful restarts: client threads finished")
    t.eq(errors, [], "3 graceful restarts under proxied load: %d requests, no error" % done[0])
    t.ok(before and not (before & set(s.children())),
         "graceful restarts: the children were replaced", diag="%s -> %s" % (before, s.children()))


def sse(t, s, c):
    if not c.u:
        t.skip("SSE through the proxy", c.u_missing)
        return
    with Conn(s.port, timeout=5) as cn:
        cn.request("GET", "/u/sse", headers=[("Host", host_of(s)),
                                             ("Accept", "text/event-stream")])
        start = time.monotonic()
        raw = cn._read_until(b"\r\n\r\n")
        head = raw.decode("latin-1")
        seen = {}
        stream = cn.buf
        deadline = start + 8
        while len(seen) < 5 and time.monotonic() < deadline:
            for i in range(5):
                if i not in seen and b"data: %d\n\n" % i in stream:
                    seen[i] = time.monotonic()
            if len(seen) == 5:
                break
            try:
                data = cn.sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            stream += data
    t.ok(head.startswith("HTTP/1.1 200") and "text/event-stream" in head.lower(),
         "SSE: 200 text/event-stream", diag=head)
    t.eq(sorted(seen), list(range(5)), "SSE: all 5 events arrived")
    times = [seen[i] for i in sorted(seen)]
    spread = times[-1] - times[0] if len(times) > 1 else 0.0
    t.ok(len(times) == 5 and times == sorted(times) and spread >= 1.0,
         "SSE: events arrived one by one (first to last %.2f s apart, upstream: 1.2 s)" % spread,
         diag="arrival offsets: %s" % ["%.2f" % (x - start) for x in times])


def variant_preserve(t, c):
    conf = "\n".join(["ServerName %s" % SERVER_NAME, "ProxyPreserveHost On",
                      "ProxyTrustForwardedFrom 127.0.0.1",
                      "ProxyPass /app/ http://127.0.0.1:%d/" % c.g])
    with front(t, "ProxyPreserveHost On, ProxyTrustForwardedFrom 127.0.0.1", conf) as s:
        if s is None:
            return False
        h = as_json(fetch(s, "/app/echo")).get("headers", {})
        t.eq(h.get("HTTP_HOST"), host_of(s), "ProxyPreserveHost On: upstream sees the client's Host")
        t.eq(h.get("HTTP_X_FORWARDED_FOR"), "127.0.0.1",
             "trusted client without X-Forwarded-For: its address")
        h = as_json(fetch(s, "/app/echo", headers=[("X-Forwarded-For", "6.6.6.6")])).get(
            "headers", {})
        t.eq(h.get("HTTP_X_FORWARDED_FOR"), "6.6.6.6, 127.0.0.1",
             "trusted client's X-Forwarded-For kept and appended to")
    return True


def variant_noheaders(t, c):
    conf = "\n".join(["ServerName %s" % SERVER_NAME, "ProxyAddHeaders Off",
                      "ProxyPass /app/ http://127.0.0.1:%d/" % c.g])
    with front(t, "ProxyAddHeaders Off", conf) as s:
        if s is None:
            return False
        h = as_json(fetch(s, "/app/echo")).get("headers", {})
        t.eq([k for k in ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST",
                          "HTTP_X_FORWARDED_SERVER") if k in h], [],
             "ProxyAddHeaders Off: no X-Forwarded-* headers added")
    return True


front = U.front


def main(t):
    reason = U.missing_python(("gunicorn", "python3-gunicorn"))
    if reason:
        t.skip("reverse proxy tests", reason)
        return
    if not shutil.which("curl"):
        t.skip("reverse proxy tests", "curl not installed")
        return
    c = Ctx()
    c.tmp = U.mkdtemp("mpmdtest-proxy-")
    try:
        with contextlib.ExitStack() as stack:
            g = U.started(t, stack, "gunicorn (sync)", U.start_gunicorn, c.tmp)
            k = U.started(t, stack, "gunicorn (gthread, --keep-alive 1)", U.start_gunicorn,
                          c.tmp, worker_class="gthread", workers=2, threads=8, keep_alive=1,
                          name="gunicorn-ka")
            if g is None or k is None:
                return
            c.g, c.k = g.port, k.port
            c.u_missing = U.missing_python(("uvicorn", "python3-uvicorn"),
                                           ("websockets", "python3-websockets"))
            if not c.u_missing:
                u = U.started(t, stack, "uvicorn", U.start_uvicorn, c.tmp)
                if u is None:
                    return
                c.u = u.port
            c.raw = stack.enter_context(U.RawUpstream(RAW_RESPONSE))
            c.down = mpmdtest.closed_port()
            with front(t, "proxy", main_conf(c), threads=8, start_servers=1,
                       server_limit=1) as s:
                if s is None:
                    return
                for name, fn in (("basics", basics), ("hop-by-hop", hop_by_hop),
                                 ("X-Forwarded", forwarded), ("ProxyPassReverse", reverse),
                                 ("exclusion", exclusion), ("Location form", location_form),
                                 ("failures", failures), ("responsefieldsize", field_size),
                                 ("SSE", sse), ("keep-alive load", keepalive_race),
                                 ("graceful restarts", graceful_under_load),
                                 ("big transfers", big_transfers)):
                    with t.guard(name):
                        fn(t, s, c)
                U.no_crash(t, s, "proxy")
            with t.guard("ProxyPreserveHost"):
                variant_preserve(t, c)
            with t.guard("ProxyAddHeaders"):
                variant_noheaders(t, c)
    finally:
        U.keep_or_remove(c.tmp)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
