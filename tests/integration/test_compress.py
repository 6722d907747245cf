#!/usr/bin/env python3
# test_compress.py: gzip and Brotli content coding (Compress,
# AddOutputFilterByType DEFLATE|BROTLI_COMPRESS, SetOutputFilter,
# CompressMinSize, CompressStatic, DeflateAlterETag) of a running mpmd
# (TAP on stdout).
#
# Every coded body is decoded here (zlib for gzip, the brotli module for
# br) and compared with the file's or the upstream's identity bytes.
#   1 curl --compressed round-trip: a 10 KiB HTML file (file cache, with
#     Content-Length) and a 1 MiB text file (> FileCacheMaxFileSize:
#     coded as it streams, chunked);
#   2 Accept-Encoding negotiation table (q-values, *, x-gzip, case,
#     malformed q) on the cached and on the streamed file;
#   3 Vary (identity and coded; none for image/png or under
#     CompressMinSize), ETag suffixes, If-None-Match with the coded and the
#     identity ETag, If-Range;
#   4 Range on a cached file in gzip (a slice of the coded body), on the
#     big file (identity 206);
#   5 HEAD == GET minus the body (cached coded, streamed coded, identity);
#   6 CompressStatic: FILE.gz / FILE.br served byte for byte with FILE's
#     Content-Type, a stale .gz not served, a .gz without CompressStatic
#     not served, a large file's .gz (not cached) served, Range and
#     If-None-Match on it, FILE and FILE.gz replaced, and FILE.gz a
#     symbolic link out of the document root under -FollowSymLinks;
#   7 sections: Compress Off in <Location>, DEFLATE only and
#     BROTLI_COMPRESS only in <Directory>, virtual hosts with and without,
#     SetOutputFilter, Compress On TYPE, type/* then a later setting for
#     one type, CompressMinSize in <Location> (and 255/256 bytes),
#     DeflateAlterETag NoChange / Remove, coder settings per vhost, a
#     cached file that changes;
#   8 configuration errors under mpmd -t (FILE:LINE and the directive);
#   9 proxied (ProxyPass to an http.server upstream in this process),
#     FastCGI (php-fpm, skipped without) and CGI responses: coded with the
#     upstream's Content-Length dropped, large ones streamed; upstream
#     Content-Encoding, no-transform, 206 and 404 left alone; Vary
#     extended; a streaming upstream (and a flushing PHP script) whose
#     first part must reach the client decoded before it is let go on to
#     the rest (a threading.Event / a file the test creates, no timing);
#     pipelined coded answers, HTTP/1.0, Accept-Encoding in two field
#     lines, ErrorDocument pages, concurrent first requests;
#  10 the file cache: the second coded answer of a keep-alive connection
#     is the same bytes and counted in mpmd_file_cache_hits_total;
#  11 MPM worker for a subset;
#  12 the same files and Accept-Encoding table against Debian's apache2
#     with mod_deflate and mod_brotli: Content-Encoding and Vary asserted
#     equal where both follow the same rule, the known differences (Apache
#     ignores q-values and *, has no minimum size) printed as diagnostics.
#
# The brotli module is Debian's python3-brotli: when the python3 running
# this has none, the script runs itself again under /usr/bin/python3
# (stdlib otherwise).  Needs curl; apache2 for part 12 and php-fpm for
# FastCGI (each skipped without).
# Run by hand (after make):  python3 tests/integration/test_compress.py

import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import brotli
except ImportError:
    brotli = None
    if (os.environ.get("MPMD_COMPRESS_REEXEC") != "1" and os.access(SYSTEM_PYTHON, os.X_OK)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.environ["MPMD_COMPRESS_REEXEC"] = "1"
        sys.stdout.flush()
        try:
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
        except OSError:
            pass

import contextlib                            # noqa: E402
import grp                                   # noqa: E402
import gzip                                  # noqa: E402
import hashlib                               # noqa: E402
import http.server                           # noqa: E402
import io                                    # noqa: E402
import pwd                                   # noqa: E402
import re                                    # noqa: E402
import shutil                                # noqa: E402
import subprocess                            # noqa: E402
import tempfile                              # noqa: E402
import threading                             # noqa: E402
import zlib                                  # noqa: E402

import mpmdtest                              # noqa: E402
from mpmdtest import (FIXED_MTIME, Conn, Server, free_port, run_tests,  # noqa: E402
                      wait_until)

APACHE = os.environ.get("APACHE2") or "/usr/sbin/apache2"
CACHE_MAX = 65536                  # FileCacheMaxFileSize set in every config
STREAM_WAIT = 15.0                 # the streaming upstream waits this long for the test
VHOST_ON, VHOST_OFF = "on.example", "off.example"

# ---------------------------------------------------------------- content


def text_bytes(n, seed):
    """N bytes of compressible but not trivial HTML-ish text."""
    out, size, i = [], 0, 0
    while size < n:
        h = hashlib.sha256(("%s-%d" % (seed, i)).encode()).hexdigest()[:12]
        line = ("<p class=\"%s\">line %d of %s: the quick brown fox jumps over the lazy dog"
                " %s</p>\n" % (("odd", "even", "third")[i % 3], i, seed, h)).encode()
        out.append(line)
        size += len(line)
        i += 1
    return b"".join(out)[:n]


PAGE = text_bytes(10 * 1024, "page")           # 10 KiB text/html, cached
BIG = text_bytes(3 * 1024 * 1024, "big")       # 3 MiB text/plain: over COMPRESS_WHOLE_MAX, streamed
MID = text_bytes(1024 * 1024, "mid")           # 1 MiB text/plain: not cached, coded whole
SMALL = text_bytes(100, "small")               # under CompressMinSize
PNG = b"\x89PNG\r\n\x1a\n" + text_bytes(4096, "png")   # image/png, compressible bytes
JS = text_bytes(8 * 1024, "js")
CSS = text_bytes(5 * 1024, "css")
BLOB = text_bytes(5 * 1024, "blob")            # application/octet-stream
BIGJS = text_bytes(200 * 1024, "bigjs")         # CompressStatic, not cached
CACHETEST = text_bytes(6 * 1024, "cachetest")
NOISE = b"".join(hashlib.sha256(b"noise %d" % i).digest() for i in range(128))  # 4 KiB
NOTES = text_bytes(5 * 1024, "notes")
CHG = [text_bytes(7 * 1024, "chg one"), text_bytes(7 * 1024, "chg two")]
SEC = text_bytes(2048, "sec")                  # cached
SECBIG = text_bytes(100 * 1024, "secbig")      # not cached
ERR_BIG = text_bytes(100 * 1024, "big error page")     # > FileCacheMaxFileSize
ERR_SMALL = text_bytes(3 * 1024, "small error page")


def gz_file_bytes(data, name):
    """A .gz as gzip(1) would write it (FNAME set: never what mpmd's zlib
    stream looks like, so serving it is recognisable)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buf, mtime=FIXED_MTIME,
                       compresslevel=9) as g:
        g.write(data)
    return buf.getvalue()


SECRET_GZ = gz_file_bytes(b"SECRET: outside the document root\n" * 20, "secret")


def br_file_bytes(data):
    return brotli.compress(data, quality=11, lgwin=22) if brotli else None


CGI_SCRIPT = "#!/bin/sh\nprintf 'Content-Type: text/html\\r\\n\\r\\n'\ncat '%s'\n"


ROOT = [None]


def make_root(root):
    """The document root shared by every server; returns {url path: bytes}."""
    ROOT[0] = root
    files = {
        "page.html": PAGE, "big.txt": BIG, "mid.txt": MID, "small.html": SMALL, "pic.png": PNG,
        "blob.bin": BLOB, "cachetest.html": CACHETEST, "cachetest2.html": CACHETEST,
        "nocomp/page.html": PAGE, "gzonly/page.html": PAGE, "bronly/page.html": PAGE,
        "all/blob.bin": BLOB, "all/pic.png": PNG, "min/page.html": PAGE,
        "pre/app.js": JS, "pre/app.js.gz": gz_file_bytes(JS, "app.js"),
        "pre/old.css": CSS, "pre/old.css.gz": gz_file_bytes(b"stale content\n", "old.css"),
        "pre/blob.bin": BLOB, "pre/blob.bin.gz": gz_file_bytes(BLOB, "blob.bin"),
        "pre/bigapp.js": BIGJS, "pre/bigapp.js.gz": gz_file_bytes(BIGJS, "bigapp.js"),
        "nostatic/app.js": JS, "nostatic/app.js.gz": gz_file_bytes(JS, "app.js"),
        "min255.html": PAGE[:255], "min256.html": PAGE[:256], "noise.txt": NOISE,
        "notes.txt": NOTES, "pre/chg.js": CHG[0], "pre/chg.js.gz": gz_file_bytes(CHG[0], "1"),
        "errors/big404.html": ERR_BIG, "errors/small404.html": ERR_SMALL,
        "zero/empty.txt": b"", "zero/one.txt": b"x",
        "race/one.html": PAGE, "race/two.css": CSS, "race/three.txt": NOTES,
    }
    if brotli:
        files["pre/app.js.br"] = br_file_bytes(JS)
    for rel, data in files.items():
        full = os.path.join(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        os.utime(full, (FIXED_MTIME, FIXED_MTIME))
    # pre/nolinks (Options -FollowSymLinks): sec.txt.gz is a symbolic link
    # to a file outside the document root.
    outside = os.path.join(os.path.dirname(root), "outside")
    os.makedirs(outside, exist_ok=True)
    with open(os.path.join(outside, "secret.gz"), "wb") as f:
        f.write(SECRET_GZ)
    os.utime(os.path.join(outside, "secret.gz"), (FIXED_MTIME + 100, FIXED_MTIME + 100))
    os.makedirs(os.path.join(root, "pre/nolinks"), exist_ok=True)
    for name, data in (("sec.txt", SEC), ("secbig.txt", SECBIG)):
        full = os.path.join(root, "pre/nolinks", name)
        with open(full, "wb") as f:
            f.write(data)
        os.utime(full, (FIXED_MTIME, FIXED_MTIME))
        os.symlink(os.path.join(outside, "secret.gz"), full + ".gz")
    stale = os.path.join(root, "pre/old.css.gz")
    os.utime(stale, (FIXED_MTIME - 3600, FIXED_MTIME - 3600))
    cgi = os.path.join(os.path.dirname(root), "cgi")
    os.makedirs(cgi, exist_ok=True)
    with open(os.path.join(cgi, "page.sh"), "w") as f:
        f.write(CGI_SCRIPT % os.path.join(root, "page.html"))
    os.chmod(os.path.join(cgi, "page.sh"), 0o755)
    with open(os.path.join(cgi, "page.gz"), "wb") as f:
        f.write(gz_file_bytes(PAGE, "page"))
    with open(os.path.join(cgi, "gz.sh"), "w") as f:
        f.write("#!/bin/sh\nprintf 'Content-Type: text/html\\r\\nContent-Encoding: gzip\\r\\n"
                "\\r\\n'\ncat '%s'\n" % os.path.join(cgi, "page.gz"))
    os.chmod(os.path.join(cgi, "gz.sh"), 0o755)
    for d in (root, cgi):
        for dirpath, dirnames, _ in os.walk(d):
            os.chmod(dirpath, 0o755)
    return files

# ---------------------------------------------------------------- decoding and fields


class NoBrotli(Exception):
    pass


def decode(coding, body):
    """BODY decoded from CODING (None: identity); raises when it is not a
    complete, single stream of that coding."""
    if coding is None:
        return body
    if coding == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(body) + d.flush()
        if not d.eof or d.unused_data:
            raise ValueError("gzip stream unfinished or followed by %d bytes"
                             % len(d.unused_data))
        return out
    if coding == "br":
        if brotli is None:
            raise NoBrotli()
        return brotli.decompress(body)
    raise ValueError("unknown coding %r" % coding)


def ce(resp):
    return resp.header("Content-Encoding")


def vary_tokens(resp):
    toks = set()
    for v in resp.header_all("Vary"):
        toks.update(x.strip().lower() for x in v.split(",") if x.strip())
    return toks


def varies(resp):
    return "accept-encoding" in vary_tokens(resp)


def fetch(port, path, ae=None, method="GET", extra=(), host=None):
    hdrs = []
    if host:
        hdrs.append(("Host", host))
    if ae is not None:
        hdrs.append(("Accept-Encoding", ae))
    hdrs.extend(extra)
    return mpmdtest.request(port, method, path, headers=hdrs)


def check_body(t, tag, resp, want, desc):
    """The body decoded by its Content-Encoding equals WANT."""
    try:
        got = decode(ce(resp), resp.body)
    except NoBrotli:
        t.skip("%s: %s decodes" % (tag, desc), "no brotli module")
        return
    except Exception as e:  # noqa: BLE001 - a bad stream is a failure
        t.ok(False, "%s: %s decodes" % (tag, desc), diag="%s: %s" % (type(e).__name__, e))
        return
    t.ok(got == want, "%s: %s decodes to the identity bytes" % (tag, desc),
         diag="decoded %d bytes, want %d; first difference at %s"
         % (len(got), len(want), next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                                      min(len(got), len(want)))))


def with_suffix(etag, coding):
    return etag[:-1] + "-" + coding + '"'

# ---------------------------------------------------------------- the python upstream


class Upstream:
    """http.server on a free 127.0.0.1 port in threads of this process.
    Paths: /html (text/html; charset, Content-Length, ETag), /gz (its own
    Content-Encoding: gzip), /notransform, /missing (404), /partial (206),
    /png, /small, /stream/KEY (chunked: FIRST, then waits for
    events[KEY], then REST)."""

    HTML = text_bytes(8 * 1024, "upstream")
    GZ = gz_file_bytes(HTML, "")
    FIRST = text_bytes(3000, "first part")
    REST = text_bytes(20000, "rest")

    def __init__(self):
        self.events = {}
        self.released = {}           # KEY -> True when the test let it go on in time
        up = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, fields, body):
                self.send_response(status)
                for k, v in fields:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.wfile.flush()

            def do_HEAD(self):
                if self.path.startswith("/stream/"):
                    self.send(404, [], b"")
                else:
                    self.do_GET()

            def chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def do_GET(self):
                html = ("Content-Type", "text/html; charset=utf-8")
                p = self.path
                if p == "/html":
                    self.send(200, [html, ("ETag", '"up-1"')], up.HTML)
                elif p == "/gz":
                    self.send(200, [html, ("Content-Encoding", "gzip")], up.GZ)
                elif p == "/notransform":
                    self.send(200, [html, ("Cache-Control", "public, no-transform")], up.HTML)
                elif p == "/missing":
                    self.send(404, [html], up.HTML)
                elif p == "/partial":
                    self.send(206, [html, ("Content-Range", "bytes 0-%d/%d"
                                           % (len(up.HTML) - 1, 2 * len(up.HTML)))], up.HTML)
                elif p == "/png":
                    self.send(200, [("Content-Type", "image/png")], PNG)
                elif p == "/vary":
                    self.send(200, [html, ("Vary", "Cookie")], up.HTML)
                elif p == "/varystar":
                    self.send(200, [html, ("Vary", "*")], up.HTML)
                elif p == "/big":
                    self.send(200, [html], BIG[:300 * 1024])
                elif p == "/bigchunked":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(BIG), 65536):
                        self.chunk(BIG[i:i + 65536])
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                elif p == "/small":
                    self.send(200, [html], SMALL)
                elif p.startswith("/stream/"):
                    key = p[len("/stream/"):]
                    ev = up.events.setdefault(key, threading.Event())
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.chunk(up.FIRST)
                    up.released[key] = ev.wait(STREAM_WAIT)
                    self.chunk(up.REST)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                else:
                    self.send(404, [("Content-Type", "text/plain")], b"no such path\n")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={
            "poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def stop(self):
        for ev in self.events.values():
            ev.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

# ---------------------------------------------------------------- configs


def main_conf(root, cgi, up_port, port2):
    return "\n".join([
        "Compress On",
        "FileCacheSize 16777216",
        "FileCacheMaxFileSize %d" % CACHE_MAX,
        "Listen 127.0.0.1:%d" % port2,
        "ScriptAlias /cgi/ %s/" % cgi,
        "ProxyPass /up/ http://127.0.0.1:%d/" % up_port,
        "<Directory %s/pre>" % root,
        "    CompressStatic On",
        "</Directory>",
        "<Location /nocomp>",
        "    Compress Off",
        "</Location>",
        "<Directory %s/pre/nolinks>" % root,
        "    Options -FollowSymLinks",
        "</Directory>",
        "<Location /e1>",
        "    ErrorDocument 404 /errors/big404.html",
        "</Location>",
        "<Location /e2>",
        "    ErrorDocument 404 /errors/small404.html",
        "</Location>",
        "<Directory %s/gzonly>" % root,
        "    AddOutputFilterByType DEFLATE text/html",
        "</Directory>",
        "<Directory %s/bronly>" % root,
        "    AddOutputFilterByType BROTLI_COMPRESS text/html",
        "</Directory>",
        "<Location /metrics>",
        "    SetHandler metrics",
        "</Location>",
        "<VirtualHost *:%d>" % port2,
        "    ServerName %s" % VHOST_ON,
        "    DocumentRoot %s" % root,
        "</VirtualHost>",
        "<VirtualHost *:%d>" % port2,
        "    ServerName %s" % VHOST_OFF,
        "    DocumentRoot %s" % root,
        "    Compress Off",
        "</VirtualHost>",
    ])


def sections_conf(root, port2):
    """No compression in the main server; vhosts with their own settings."""
    return "\n".join([
        "FileCacheMaxFileSize %d" % CACHE_MAX,
        "FileCacheValid 0",
        "Listen 127.0.0.1:%d" % port2,
        "<VirtualHost *:%d>" % port2,
        "    ServerName z.example",
        "    DocumentRoot %s" % root,
        "    Compress On",
        "    DeflateAlterETag NoChange",
        "    <Location /all>",
        "        SetOutputFilter DEFLATE",
        "    </Location>",
        "    <Location /min>",
        "        CompressMinSize 20000",
        "    </Location>",
        "    <Location /zero>",
        "        CompressMinSize 0",
        "    </Location>",
        "</VirtualHost>",
        "<VirtualHost *:%d>" % port2,
        "    ServerName y.example",
        "    DocumentRoot %s" % root,
        "    Compress On text/plain",
        "    DeflateAlterETag Remove",
        "</VirtualHost>",
        "<VirtualHost *:%d>" % port2,
        "    ServerName x.example",
        "    DocumentRoot %s" % root,
        "    AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html",
        "    BrotliCompressionQuality 11",
        "    DeflateCompressionLevel 1",
        "    DeflateWindowSize 9",
        "    DeflateMemLevel 1",
        "    BrotliCompressionWindow 10",
        "</VirtualHost>",
        "<VirtualHost *:%d>" % port2,
        "    ServerName w.example",
        "    DocumentRoot %s" % root,
        "    AddOutputFilterByType DEFLATE text/*",
        "    AddOutputFilterByType BROTLI_COMPRESS text/html",
        "</VirtualHost>",
    ])

# ---------------------------------------------------------------- 1 curl


def curl_roundtrip(t, tag, port, tmp, path, want, streamed):
    out, hdr = os.path.join(tmp, "curl.body"), os.path.join(tmp, "curl.head")
    p = subprocess.run(["curl", "-s", "--compressed", "--max-time", "30", "-D", hdr, "-o", out,
                        "http://127.0.0.1:%d%s" % (port, path)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if not t.eq(p.returncode, 0, "%s: curl --compressed %s exits 0" % (tag, path)):
        return
    with open(out, "rb") as f:
        body = f.read()
    with open(hdr, "rb") as f:
        head = f.read().decode("latin-1").lower()
    t.ok("content-encoding: br" in head, "%s: curl %s: coded in br (curl offers gzip and br)"
         % (tag, path), diag=head)
    if streamed:
        t.ok("transfer-encoding: chunked" in head and "content-length" not in head,
             "%s: curl %s: streamed (chunked, no Content-Length)" % (tag, path), diag=head)
    else:
        t.ok("content-length" in head, "%s: curl %s: Content-Length" % (tag, path), diag=head)
    t.ok(body == want, "%s: curl --compressed %s: %d bytes equal to the file" % (tag, path,
                                                                                 len(want)),
         diag="got %d bytes" % len(body))

# ---------------------------------------------------------------- 2 negotiation

# (Accept-Encoding or None for no field, the Content-Encoding expected)
NEGOTIATION = [
    (None, None),
    ("", None),
    ("gzip", "gzip"),
    ("br", "br"),
    ("gzip, br", "br"),
    ("br;q=0.5, gzip", "gzip"),
    ("gzip;q=0", None),
    ("*", "br"),
    ("*;q=0", None),
    ("identity", None),
    ("x-gzip", "gzip"),
    ("GZIP", "gzip"),
    ("Br", "br"),
    ("br;q=1.0, gzip;q=1", "br"),
    ("gzip;q=2", None),
    ("gzip;q=abc", None),
    ("gzip;q=0.5, br;q=0.4", "gzip"),
    ("gzip, br;q=0", "gzip"),
    ("*, br;q=0", "gzip"),
    ("*;q=0, gzip", "gzip"),
    ("deflate", None),
    ("deflate, gzip;q=0.001", "gzip"),
    ("gzip;q=0.000, br;q=0", None),
    ("gzip ; q=0.8 , br ; q=0.7", "gzip"),
    ("GZip;Q=1", "gzip"),
    ("x-gzip;q=0.9, br;q=0.8", "gzip"),
    ("identity;q=1, *;q=0.5", "br"),
    ("gzip;q=1.001", None),
    ("br;q=0.5;level=3, gzip;q=0.4", "br"),
]


def negotiation(t, tag, port, path, want, table=NEGOTIATION, host=None):
    for ae, expect in table:
        r = fetch(port, path, ae, host=host)
        label = "%s: %s with Accept-Encoding %s" % (tag, path, "(none)" if ae is None
                                                   else repr(ae))
        if not t.eq((r.status, ce(r)), (200, expect), label + " -> " + (expect or "identity")):
            continue
        t.ok(varies(r), label + ": Vary: Accept-Encoding", diag=r.headers)
        if expect is not None:
            t.ok(r.header("Content-Length") is None if path == "/big.txt"
                 else r.header("Content-Length") == str(len(r.body)),
                 label + ": framing (chunked when streamed, else Content-Length)",
                 diag=r.headers)
        check_body(t, tag, r, want, "%s %s" % (path, ae))

# ---------------------------------------------------------------- 3 Vary, ETag, conditionals


def vary_etag(t, tag, port, big=True):
    ident = fetch(port, "/page.html")
    etag = ident.header("ETag")
    t.ok(etag and etag.startswith('"') and etag.endswith('"'), "%s: identity ETag %s" % (tag, etag))
    t.ok(varies(ident), "%s: identity answer of a compressible file has Vary: Accept-Encoding"
         % tag, diag=ident.headers)
    g = fetch(port, "/page.html", "gzip")
    b = fetch(port, "/page.html", "br")
    t.eq(g.header("ETag"), with_suffix(etag, "gzip"), "%s: gzip variant's ETag has -gzip" % tag)
    t.eq(b.header("ETag"), with_suffix(etag, "br"), "%s: br variant's ETag has -br" % tag)
    t.eq(g.header("Content-Type"), ident.header("Content-Type"),
         "%s: coded answer keeps the Content-Type" % tag)
    t.eq(g.header("Last-Modified"), ident.header("Last-Modified"),
         "%s: coded answer keeps Last-Modified" % tag)
    for path in ("/pic.png", "/small.html"):
        r = fetch(port, path, "gzip, br")
        t.eq((r.status, ce(r), varies(r)), (200, None, False),
             "%s: %s with gzip, br: identity and no Vary" % (tag, path))
        t.eq(r.body, {"/pic.png": PNG, "/small.html": SMALL}[path], "%s: %s body" % (tag, path))
    for path, want in (("/min255.html", None), ("/min256.html", "gzip")):
        r = fetch(port, path, "gzip")
        t.eq((r.status, ce(r), varies(r)), (200, want, want is not None),
             "%s: %s (CompressMinSize 256) -> %s" % (tag, path, want or "identity, no Vary"))
        check_body(t, tag, r, PAGE[:int(path[4:7])], path)
    r = fetch(port, "/noise.txt", "gzip")
    t.eq((r.status, ce(r), varies(r), r.body), (200, None, True, NOISE),
         "%s: incompressible cached text/plain asked in gzip: identity, with Vary" % tag)
    t.eq(r.header("ETag"), fetch(port, "/noise.txt").header("ETag"),
         "%s: ... and the identity ETag" % tag)
    # If-None-Match
    r = fetch(port, "/page.html", "gzip", extra=[("If-None-Match", g.header("ETag"))])
    t.eq(r.status, 304, "%s: If-None-Match with the gzip ETag, gzip: 304" % tag)
    t.eq(r.header("ETag"), g.header("ETag"), "%s: that 304 carries the gzip ETag" % tag)
    t.ok(varies(r), "%s: that 304 carries Vary: Accept-Encoding" % tag, diag=r.headers)
    t.eq(ce(r), "gzip", "%s: that 304 carries Content-Encoding gzip (as the code does)" % tag)
    r = fetch(port, "/page.html", "gzip", extra=[("If-None-Match", etag)])
    t.eq((r.status, ce(r)), (200, "gzip"),
         "%s: If-None-Match with the identity ETag while asking gzip: 200 gzip" % tag)
    check_body(t, tag, r, PAGE, "that 200")
    r = fetch(port, "/page.html", None, extra=[("If-None-Match", etag)])
    t.eq((r.status, ce(r)), (304, None), "%s: If-None-Match identity ETag, no coding: 304" % tag)
    t.ok(varies(r), "%s: identity 304 has Vary" % tag, diag=r.headers)
    r = fetch(port, "/page.html", "br", extra=[("If-None-Match", g.header("ETag"))])
    t.eq((r.status, ce(r)), (200, "br"),
         "%s: If-None-Match with the gzip ETag while asking br: 200 br" % tag)
    r = fetch(port, "/page.html", "gzip, br",
              extra=[("If-None-Match", '"x", %s' % b.header("ETag"))])
    t.eq(r.status, 304, "%s: If-None-Match list holding the br ETag, gzip, br: 304" % tag)
    # If-Range on the cached file
    full = g.body
    r = fetch(port, "/page.html", "gzip", extra=[("Range", "bytes=0-99"),
                                                  ("If-Range", g.header("ETag"))])
    t.eq((r.status, r.body), (206, full[:100]),
         "%s: If-Range with the gzip ETag: 206, the first 100 coded bytes" % tag)
    r = fetch(port, "/page.html", "gzip", extra=[("Range", "bytes=0-99"), ("If-Range", etag)])
    t.eq((r.status, ce(r), r.body), (200, "gzip", full),
         "%s: If-Range with the identity ETag while asking gzip: the whole gzip 200" % tag)
    if not big:
        return
    bi = fetch(port, "/big.txt", None, method="HEAD")
    betag = bi.header("ETag")
    bg = fetch(port, "/big.txt", "gzip")
    t.eq(bg.header("ETag"), with_suffix(betag, "gzip"), "%s: big gzip ETag has -gzip" % tag)
    r = fetch(port, "/big.txt", "gzip", extra=[("If-None-Match", bg.header("ETag"))])
    t.eq((r.status, r.body), (304, b""), "%s: big: If-None-Match gzip ETag: 304" % tag)
    t.ok(varies(r), "%s: big: that 304 has Vary" % tag, diag=r.headers)
    r = fetch(port, "/big.txt", "gzip", extra=[("If-None-Match", betag)])
    t.eq((r.status, ce(r)), (200, "gzip"),
         "%s: big: If-None-Match identity ETag while asking gzip: 200 gzip" % tag)
    check_body(t, tag, r, BIG, "big 200 after If-None-Match")

# ---------------------------------------------------------------- 4 Range


def ranges(t, tag, port):
    full = fetch(port, "/page.html", "gzip")
    n = len(full.body)
    r = fetch(port, "/page.html", "gzip", extra=[("Range", "bytes=10-109")])
    t.eq((r.status, ce(r)), (206, "gzip"), "%s: Range on the cached file, gzip: 206 gzip" % tag)
    t.eq(r.header("Content-Range"), "bytes 10-109/%d" % n,
         "%s: Content-Range counts the coded bytes" % tag)
    t.eq(r.body, full.body[10:110], "%s: the 206 body is that slice of the gzip body" % tag)
    t.eq(r.header("ETag"), full.header("ETag"), "%s: the 206 has the gzip ETag" % tag)
    t.ok(varies(r), "%s: the coded 206 has Vary" % tag, diag=r.headers)
    r = fetch(port, "/page.html", "gzip", extra=[("Range", "bytes=-50")])
    t.eq((r.status, r.body, r.header("Content-Range")),
         (206, full.body[-50:], "bytes %d-%d/%d" % (n - 50, n - 1, n)),
         "%s: suffix Range bytes=-50 on the gzip variant" % tag)
    r = fetch(port, "/page.html", "gzip", extra=[("Range", "bytes=%d-" % (n + 10))])
    t.eq((r.status, r.header("Content-Range")), (416, "bytes */%d" % n),
         "%s: a Range past the coded length: 416 with the coded length" % tag)
    r = fetch(port, "/page.html", None, extra=[("Range", "bytes=10-109")])
    t.eq((r.status, ce(r), r.body), (206, None, PAGE[10:110]),
         "%s: Range without Accept-Encoding: identity slice" % tag)
    r = fetch(port, "/big.txt", "gzip", extra=[("Range", "bytes=100-199")])
    t.eq((r.status, ce(r)), (206, None), "%s: Range on the big file, gzip: identity 206" % tag)
    t.eq((r.header("Content-Range"), r.body), ("bytes 100-199/%d" % len(BIG), BIG[100:200]),
         "%s: big identity 206: Content-Range and body" % tag)
    t.ok(varies(r), "%s: big identity 206 has Vary" % tag, diag=r.headers)
    # A file the cache does not keep but small enough to code whole (at most
    # 2 MiB): a Content-Length, and ranges of the coded bytes, as a cached one.
    for coding, decode in (("gzip", gzip.decompress), ("br", brotli and brotli.decompress)):
        if decode is None:
            continue
        m = fetch(port, "/mid.txt", coding)
        t.eq((m.status, ce(m), m.header("Transfer-Encoding")), (200, coding, None),
             "%s: 1 MiB uncached file, %s: 200 coded, not chunked" % (tag, coding))
        t.eq(m.header("Content-Length"), str(len(m.body)),
             "%s: 1 MiB %s: Content-Length is the coded length" % (tag, coding))
        t.ok(decode(m.body) == MID, "%s: 1 MiB %s decodes to the file" % (tag, coding))
        t.ok(len(m.body) < len(MID) // 2, "%s: 1 MiB %s is coded smaller" % (tag, coding),
             diag=len(m.body))
        h = fetch(port, "/mid.txt", coding, method="HEAD")
        t.eq((h.status, ce(h), h.header("Content-Length"), h.body),
             (200, coding, m.header("Content-Length"), b""),
             "%s: 1 MiB %s HEAD: the GET's head" % (tag, coding))
        n = len(m.body)
        r = fetch(port, "/mid.txt", coding, extra=[("Range", "bytes=1000-1999")])
        t.eq((r.status, ce(r), r.header("Content-Range"), r.body),
             (206, coding, "bytes 1000-1999/%d" % n, m.body[1000:2000]),
             "%s: Range on the 1 MiB %s: the slice of the coded bytes" % (tag, coding))
        r = fetch(port, "/mid.txt", coding, extra=[("If-None-Match", m.header("ETag"))])
        t.eq(r.status, 304, "%s: 1 MiB %s: If-None-Match with its ETag: 304" % (tag, coding))

# ---------------------------------------------------------------- 5 HEAD


def head_fields(resp):
    """The head but Date and Transfer-Encoding: a HEAD answer MAY omit
    Transfer-Encoding (RFC 9112 6.1), and mpmd does for coded streams."""
    return [(k.lower(), v) for k, v in resp.headers
            if k.lower() not in ("date", "transfer-encoding")]


def head_equals_get(t, tag, port):
    for path, ae in (("/page.html", "gzip"), ("/page.html", "br"), ("/page.html", None),
                     ("/big.txt", "gzip"), ("/big.txt", "br"), ("/small.html", "gzip"),
                     ("/pre/app.js", "gzip"), ("/pre/bigapp.js", "gzip")):
        g = fetch(port, path, ae)
        h = fetch(port, path, ae, method="HEAD")
        t.eq(head_fields(h), head_fields(g), "%s: HEAD %s (%s) has GET's head" % (tag, path, ae))
        t.eq((h.status, h.body), (g.status, b""), "%s: HEAD %s status, no body" % (tag, path))
        if g.header("Content-Length") is None:
            t.eq(h.header("Content-Length"), None,
                 "%s: HEAD %s (%s): no Content-Length, as GET's streamed answer" % (tag, path, ae))

# ---------------------------------------------------------------- 6 CompressStatic


def compress_static(t, tag, port, files):
    ident = fetch(port, "/pre/app.js")
    ctype = ident.header("Content-Type")
    for coding, ext in (("gzip", "gz"), ("br", "br")):
        if coding == "br" and brotli is None:
            t.skip("%s: CompressStatic .br" % tag, "no brotli module")
            continue
        for attempt in (1, 2):               # the first fills the cache, the second is a hit
            r = fetch(port, "/pre/app.js", coding)
            t.eq((r.status, ce(r)), (200, coding),
                 "%s: /pre/app.js %s (request %d): %s" % (tag, coding, attempt, coding))
            t.ok(r.body == files["pre/app.js." + ext],
                 "%s: /pre/app.js %s (request %d): body is app.js.%s byte for byte"
                 % (tag, coding, attempt, ext),
                 diag="got %d bytes, file has %d" % (len(r.body), len(files["pre/app.js." + ext])))
        t.eq(r.header("Content-Type"), ctype, "%s: precompressed %s: app.js's Content-Type %s"
             % (tag, coding, ctype))
        t.eq(r.header("ETag"), with_suffix(ident.header("ETag"), coding),
             "%s: precompressed %s: the ETag with the suffix" % (tag, coding))
        t.ok(varies(r), "%s: precompressed %s: Vary" % (tag, coding), diag=r.headers)
    r = fetch(port, "/pre/old.css", "gzip")
    t.eq((r.status, ce(r)), (200, "gzip"), "%s: old.css (stale .gz beside it): gzip" % tag)
    t.ok(r.body != files["pre/old.css.gz"], "%s: the stale old.css.gz is not served" % tag)
    check_body(t, tag, r, CSS, "old.css coded by the server")
    r = fetch(port, "/pre/blob.bin", "gzip")
    t.eq((r.status, ce(r), r.header("Content-Type")), (200, "gzip", "application/octet-stream"),
         "%s: blob.bin (type not configured) with a fresh .gz: served in gzip" % tag)
    t.ok(r.body == files["pre/blob.bin.gz"], "%s: blob.bin.gz byte for byte" % tag)
    r = fetch(port, "/pre/blob.bin", "br")
    t.eq((r.status, ce(r), r.body), (200, None, BLOB),
         "%s: blob.bin asked in br (no .br, type not configured): identity" % tag)
    t.ok(varies(r), "%s: ... with Vary (it has a gzip variant)" % tag, diag=r.headers)
    r = fetch(port, "/pre/bigapp.js", "gzip")
    t.eq((r.status, ce(r), r.header("Content-Length")),
         (200, "gzip", str(len(files["pre/bigapp.js.gz"]))),
         "%s: bigapp.js (%d bytes, not cached): its .gz with Content-Length" % (tag, len(BIGJS)))
    t.ok(r.body == files["pre/bigapp.js.gz"], "%s: bigapp.js.gz byte for byte" % tag)
    r = fetch(port, "/pre/bigapp.js", "br")
    t.eq((r.status, ce(r)), (200, "br"), "%s: bigapp.js in br (no .br): coded as it streams"
         % tag)
    check_body(t, tag, r, BIGJS, "bigapp.js br")
    r = fetch(port, "/nostatic/app.js", "gzip")
    t.eq((r.status, ce(r)), (200, "gzip"), "%s: /nostatic/app.js (no CompressStatic): gzip" % tag)
    t.ok(r.body != files["nostatic/app.js.gz"],
         "%s: ... compressed by the server, not its .gz" % tag)
    check_body(t, tag, r, JS, "nostatic/app.js")
    # FILE and FILE.gz replaced (newer): the new .gz is served once the
    # cache sees the change (FileCacheValid 1).
    r = fetch(port, "/pre/chg.js", "gzip")
    t.eq((ce(r), r.body), ("gzip", files["pre/chg.js.gz"]), "%s: chg.js.gz served" % tag)
    new_gz = gz_file_bytes(CHG[1], "2")
    for rel, data in (("pre/chg.js.gz", new_gz), ("pre/chg.js", CHG[1])):
        full = os.path.join(ROOT[0], rel)
        with open(full + ".tmp", "wb") as f:
            f.write(data)
        os.utime(full + ".tmp", (FIXED_MTIME + 10, FIXED_MTIME + 10))
        os.rename(full + ".tmp", full)
    t.ok(wait_until(lambda: fetch(port, "/pre/chg.js", "gzip").body == new_gz, 5),
         "%s: after chg.js and chg.js.gz change, the new .gz is served" % tag)
    r = fetch(port, "/pre/chg.js")
    t.eq(r.body, CHG[1], "%s: and the new identity" % tag)
    # Options -FollowSymLinks: FILE.gz a link out of the document root.
    r = fetch(port, "/pre/nolinks/sec.txt.gz")
    t.eq(r.status, 403, "%s: sec.txt.gz (a symbolic link, -FollowSymLinks) asked for: 403" % tag)
    for name, data in (("sec.txt", SEC), ("secbig.txt", SECBIG)):
        r = fetch(port, "/pre/nolinks/" + name, "gzip")
        t.ok(r.status == 200 and r.body != SECRET_GZ,
             "%s: %s in gzip: the linked %s.gz is not served either" % (tag, name, name),
             diag="status %d, %s, %d bytes: %r" % (r.status, ce(r), len(r.body), r.body[:40]))
        check_body(t, tag, r, data, "%s in gzip (-FollowSymLinks)" % name)
    # A Range on a precompressed large file applies to the .gz bytes.
    gz = files["pre/bigapp.js.gz"]
    r = fetch(port, "/pre/bigapp.js", "gzip", extra=[("Range", "bytes=0-99")])
    t.eq((r.status, ce(r), r.header("Content-Range"), r.body),
         (206, "gzip", "bytes 0-99/%d" % len(gz), gz[:100]),
         "%s: Range on bigapp.js in gzip: a slice of bigapp.js.gz" % tag)
    etag = fetch(port, "/pre/bigapp.js", "gzip", method="HEAD").header("ETag")
    r = fetch(port, "/pre/bigapp.js", "gzip", extra=[("If-None-Match", etag)])
    t.eq(r.status, 304, "%s: If-None-Match with bigapp.js's gzip ETag %s: 304" % (tag, etag))
    r = fetch(port, "/pre/app.js.gz", "gzip, br")
    t.eq((r.status, ce(r), r.body), (200, None, files["pre/app.js.gz"]),
         "%s: the .gz itself asked for: as it is, not coded again" % tag)

# ---------------------------------------------------------------- 7 sections


def sections_main(t, tag, port, port2):
    r = fetch(port, "/nocomp/page.html", "gzip, br")
    t.eq((r.status, ce(r), varies(r), r.body), (200, None, False, PAGE),
         "%s: <Location /nocomp> Compress Off: identity, no Vary" % tag)
    negotiation(t, tag + " DEFLATE only", port, "/gzonly/page.html", PAGE,
                [("br", None), ("gzip, br", "gzip"), ("*", "gzip"), ("gzip", "gzip"),
                 ("br;q=1, gzip;q=0.1", "gzip")])
    negotiation(t, tag + " BROTLI_COMPRESS only", port, "/bronly/page.html", PAGE,
                [("gzip", None), ("gzip, br", "br"), ("*", "br"), ("br;q=0.1, gzip", "br")])
    r = fetch(port2, "/page.html", "gzip, br", host=VHOST_ON)
    t.eq((r.status, ce(r), varies(r)), (200, "br", True),
         "%s: vhost %s (inherits Compress On): br" % (tag, VHOST_ON))
    check_body(t, tag, r, PAGE, "vhost on page.html")
    r = fetch(port2, "/page.html", "gzip, br", host=VHOST_OFF)
    t.eq((r.status, ce(r), varies(r), r.body), (200, None, False, PAGE),
         "%s: vhost %s (Compress Off) beside it: identity, no Vary" % (tag, VHOST_OFF))
    r = fetch(port2, "/big.txt", "gzip", host=VHOST_OFF)
    t.eq((r.status, ce(r), r.header("Content-Length")), (200, None, str(len(BIG))),
         "%s: vhost %s: big file identity with Content-Length" % (tag, VHOST_OFF))


def sections_other(t, tag, port, port2, root):
    r = fetch(port, "/page.html", "gzip, br")
    t.eq((r.status, ce(r), varies(r)), (200, None, False),
         "%s: main server without compression: identity, no Vary" % tag)
    r = fetch(port2, "/page.html", "gzip, br", host="z.example")
    t.eq((r.status, ce(r)), (200, "br"), "%s: vhost z.example with Compress On: br" % tag)
    ident = fetch(port2, "/page.html", None, host="z.example")
    t.eq(r.header("ETag"), ident.header("ETag"),
         "%s: DeflateAlterETag NoChange: the identity ETag" % tag)
    r = fetch(port2, "/all/blob.bin", "gzip, br", host="z.example")
    t.eq((r.status, ce(r), varies(r)), (200, "gzip", True),
         "%s: SetOutputFilter DEFLATE: application/octet-stream in gzip" % tag)
    check_body(t, tag, r, BLOB, "SetOutputFilter blob.bin")
    r = fetch(port2, "/all/pic.png", "gzip, br", host="z.example")
    t.eq((r.status, ce(r), varies(r)), (200, None, False),
         "%s: SetOutputFilter DEFLATE: image/png still identity, no Vary" % tag)
    r = fetch(port2, "/min/page.html", "gzip, br", host="z.example")
    t.eq((r.status, ce(r), varies(r)), (200, None, False),
         "%s: <Location /min> CompressMinSize 20000: the 10 KiB file is identity" % tag)
    for path, want in (("/zero/empty.txt", b""), ("/zero/one.txt", b"x")):
        for coding in ("gzip", "br"):
            r = fetch(port2, path, coding, host="z.example")
            t.eq(r.status, 200, "%s: CompressMinSize 0: %s (%d bytes) in %s: 200"
                 % (tag, path, len(want), coding))
            t.ok(varies(r), "%s: ... Vary" % tag, diag=r.headers)
            check_body(t, tag, r, want, "%s %s (sent %s)" % (path, coding, ce(r)))
    r = fetch(port2, "/page.html", "gzip, br", host="y.example")
    t.eq((r.status, ce(r), varies(r)), (200, None, False),
         "%s: Compress On text/plain: text/html identity" % tag)
    r = fetch(port2, "/big.txt", "gzip", host="y.example")
    t.eq((r.status, ce(r)), (200, "gzip"), "%s: Compress On text/plain: text/plain gzip" % tag)
    t.eq(r.header("ETag"), None, "%s: DeflateAlterETag Remove: no ETag" % tag)
    check_body(t, tag, r, BIG, "y.example big.txt")
    r = fetch(port2, "/page.html", "gzip", host="x.example")
    t.eq((r.status, ce(r)), (200, "gzip"),
         "%s: AddOutputFilterByType DEFLATE;BROTLI_COMPRESS: gzip" % tag)
    check_body(t, tag, r, PAGE, "x.example level 1")
    r = fetch(port2, "/page.html", "br", host="x.example")
    t.eq((r.status, ce(r)), (200, "br"), "%s: ... br" % tag)
    check_body(t, tag, r, PAGE, "x.example quality 11")
    for coding in ("gzip", "br"):
        r = fetch(port2, "/big.txt", coding, host="x.example")
        t.eq((r.status, ce(r)), (200, None), "%s: x.example: text/plain not configured (%s)"
             % (tag, coding))
    r = fetch(port2, "/notes.txt", "gzip", host="y.example")
    t.eq((r.status, ce(r), r.header("ETag")), (200, "gzip", None),
         "%s: y.example cached text/plain in gzip, DeflateAlterETag Remove: no ETag" % tag)
    check_body(t, tag, r, NOTES, "y.example notes.txt")
    # text/* then BROTLI_COMPRESS text/html: the last setting for text/html wins.
    for path, ae, want in (("/page.html", "gzip", None), ("/page.html", "gzip, br", "br"),
                           ("/big.txt", "gzip", "gzip"), ("/big.txt", "br", None),
                           ("/pic.png", "gzip, br", None)):
        r = fetch(port2, path, ae, host="w.example")
        t.eq((r.status, ce(r)), (200, want), "%s: w.example (DEFLATE text/*, then "
             "BROTLI_COMPRESS text/html): %s with %r -> %s" % (tag, path, ae, want or "identity"))
    # A cached file that changes: its coded variant goes with it.
    path = os.path.join(root, "change.html")
    for n, data in enumerate((PAGE, CSS + PAGE)):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.utime(path + ".tmp", (FIXED_MTIME + n, FIXED_MTIME + n))
        os.rename(path + ".tmp", path)
        for _ in range(2):
            r = fetch(port2, "/change.html", "gzip, br", host="w.example")
        t.eq((r.status, ce(r)), (200, "br"), "%s: change.html version %d in br" % (tag, n))
        check_body(t, tag, r, data, "change.html version %d (FileCacheValid 0)" % n)

# ---------------------------------------------------------------- 8 configuration errors

BAD_CONFIGS = [
    ("AddOutputFilterByType INCLUDES text/html", "AddOutputFilterByType"),
    ("AddOutputFilterByType DEFLATE;SUBSTITUTE text/html", "AddOutputFilterByType"),
    ("AddOutputFilterByType DEFLATE html", "AddOutputFilterByType"),
    ("DeflateCompressionLevel 12", "DeflateCompressionLevel"),
    ("DeflateCompressionLevel 0", "DeflateCompressionLevel"),
    ("Compress maybe", "Compress"),
    ("Compress Off text/html", "Compress"),
    ("BrotliCompressionQuality 12", "BrotliCompressionQuality"),
    ("DeflateWindowSize 16", "DeflateWindowSize"),
    ("DeflateAlterETag Sometimes", "DeflateAlterETag"),
    ("CompressMinSize lots", "CompressMinSize"),
    ("SetOutputFilter GZIP", "SetOutputFilter"),
]

GOOD_CONFIG = [
    "Compress On", "Compress On text/plain application/*", "CompressMinSize 0",
    "AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html text/* */*",
    "SetOutputFilter BROTLI_COMPRESS", "CompressStatic On", "DeflateCompressionLevel 9",
    "DeflateMemLevel 8", "DeflateWindowSize 9", "BrotliCompressionQuality 0",
    "BrotliCompressionWindow 24", "DeflateAlterETag Remove", "BrotliAlterETag NoChange",
    "<Location /x>", "Compress Off", "</Location>",
]


def config_errors(t, tmp):
    base = mpmdtest.config_lines(free_port(), tmp, tmp)
    path = os.path.join(tmp, "check.conf")
    with open(path, "w") as f:
        f.write("\n".join(base + GOOD_CONFIG) + "\n")
    rc, out, err = mpmdtest.run_mpmd(["-t", "-f", path])
    t.eq(rc, 0, "mpmd -t accepts every compression directive", ) or t.diag(out + err)
    for line, directive in BAD_CONFIGS:
        lines = base + ["# filler", line, "# after"]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, out, err = mpmdtest.run_mpmd(["-t", "-f", path])
        text = out + err
        at = "%s:%d" % (path, len(base) + 2)
        t.ok(rc != 0 and at in text and directive in text,
             "mpmd -t refuses %r at FILE:LINE naming %s" % (line, directive),
             diag="exit %d, want %s; output: %s" % (rc, at, text))

# ---------------------------------------------------------------- 9 proxy and CGI


def read_chunk(c):
    """One chunk of a chunked body on Conn C: its bytes, or None at the end."""
    size = int(c._read_until(b"\r\n").split(b";")[0].strip(), 16)
    if size == 0:
        while c._read_until(b"\r\n"):
            pass
        return None
    data = c._read_exact(size)
    c._read_until(b"\r\n")
    return data


def streaming_upstream(t, tag, port, up, coding):
    if coding == "br" and brotli is None:
        t.skip("%s: streamed br upstream" % tag, "no brotli module")
        return
    key = "%s-%s-%d" % (tag.replace(" ", "_"), coding, free_port())
    ev = up.events.setdefault(key, threading.Event())
    first_in_time = False
    try:
        with Conn(port, timeout=10.0) as c:
            c.request("GET", "/up/stream/" + key, headers=[("Accept-Encoding", coding)])
            raw = c._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
            fields = {}
            for line in raw[1:]:
                k, _, v = line.partition(":")
                fields[k.strip().lower()] = v.strip()
            t.eq((raw[0].split(" ")[1], fields.get("content-encoding"),
                  fields.get("transfer-encoding")), ("200", coding, "chunked"),
                 "%s: streaming upstream in %s: 200, coded, chunked" % (tag, coding))
            dec = (zlib.decompressobj(16 + zlib.MAX_WBITS) if coding == "gzip"
                   else brotli.Decompressor())
            got = b""
            while len(got) < len(up.FIRST):
                data = read_chunk(c)
                if data is None:
                    break
                got += dec.decompress(data) if coding == "gzip" else dec.process(data)
            # The upstream records KEY only once it has gone on to the rest.
            first_in_time = key not in up.released
            t.ok(got == up.FIRST and first_in_time,
                 "%s: %s: the upstream's first part arrives decoded before it sends the rest"
                 % (tag, coding), diag="decoded %d bytes of %d first" % (len(got),
                                                                        len(up.FIRST)))
            ev.set()
            while True:
                data = read_chunk(c)
                if data is None:
                    break
                got += dec.decompress(data) if coding == "gzip" else dec.process(data)
            if coding == "gzip":
                got += dec.flush()
                done = dec.eof
            else:
                done = dec.is_finished()
            t.ok(got == up.FIRST + up.REST and done,
                 "%s: %s: the whole stream decodes to both parts, the coded stream finished"
                 % (tag, coding), diag="%d bytes, finished %s" % (len(got), done))
    finally:
        ev.set()
    t.ok(wait_until(lambda: key in up.released, 5) and up.released.get(key),
         "%s: %s: the upstream was let go on by the test, not by its timeout" % (tag, coding))


def proxied(t, tag, port, up):
    for coding in ("gzip", "br"):
        r = fetch(port, "/up/html", coding)
        t.eq((r.status, ce(r)), (200, coding), "%s: proxied text/html in %s" % (tag, coding))
        t.ok(r.header("Content-Length") in (None, str(len(r.body))) and
             r.header("Content-Length") != str(len(up.HTML)),
             "%s: proxied %s: the upstream's Content-Length is gone (none, or the coded "
             "length when the whole body came at once)" % (tag, coding), diag=r.headers)
        t.ok(varies(r), "%s: proxied %s: Vary" % (tag, coding), diag=r.headers)
        t.eq(r.header("ETag"), '"up-1-%s"' % coding, "%s: proxied %s: ETag suffix" % (tag, coding))
        check_body(t, tag, r, up.HTML, "proxied %s" % coding)
    r = fetch(port, "/up/html", None)
    t.eq((r.status, ce(r), r.header("Content-Length"), r.body),
         (200, None, str(len(up.HTML)), up.HTML),
         "%s: proxied, no Accept-Encoding: identity with the upstream's Content-Length" % tag)
    t.ok(varies(r), "%s: ... and Vary: Accept-Encoding" % tag, diag=r.headers)
    r = fetch(port, "/up/gz", "gzip, br")
    t.eq((r.status, ce(r), r.body), (200, "gzip", up.GZ),
         "%s: upstream's own Content-Encoding gzip: bytes untouched" % tag)
    r = fetch(port, "/up/gz", "br")
    t.eq((ce(r), r.body), ("gzip", up.GZ),
         "%s: ... also when the client asked only br" % tag)
    r = fetch(port, "/up/notransform", "gzip, br")
    t.eq((r.status, ce(r), r.body), (200, None, up.HTML),
         "%s: upstream Cache-Control: no-transform: untouched" % tag)
    r = fetch(port, "/up/missing", "gzip, br")
    t.eq((r.status, ce(r), r.body), (404, None, up.HTML),
         "%s: upstream 404 text/html: not compressed" % tag)
    r = fetch(port, "/up/partial", "gzip, br")
    t.eq((r.status, ce(r), r.body), (206, None, up.HTML),
         "%s: upstream 206 with Content-Range: not compressed" % tag)
    r = fetch(port, "/up/png", "gzip, br")
    t.eq((r.status, ce(r), varies(r), r.body), (200, None, False, PNG),
         "%s: upstream image/png: identity, no Vary" % tag)
    r = fetch(port, "/up/small", "gzip, br")
    t.eq((r.status, ce(r), r.body), (200, None, SMALL),
         "%s: upstream 100-byte text/html with Content-Length: under CompressMinSize" % tag)
    for path, want in (("/up/big", BIG[:300 * 1024]), ("/up/bigchunked", BIG)):
        for coding in ("gzip", "br"):
            r = fetch(port, path, coding)
            t.eq((r.status, ce(r), r.header("Content-Length")), (200, coding, None),
                 "%s: proxied %s (%d bytes) in %s: streamed coded, no Content-Length"
                 % (tag, path, len(want), coding))
            check_body(t, tag, r, want, "proxied %s %s" % (path, coding))
    r = fetch(port, "/up/vary", "gzip")
    t.eq((ce(r), vary_tokens(r)), ("gzip", {"cookie", "accept-encoding"}),
         "%s: upstream Vary: Cookie is extended with Accept-Encoding" % tag)
    t.eq(len(r.header_all("Vary")), 1, "%s: ... in one Vary field" % tag)
    r = fetch(port, "/up/varystar", "gzip")
    t.eq((ce(r), r.header_all("Vary")), ("gzip", ["*"]), "%s: upstream Vary: * stays *" % tag)
    check_body(t, tag, r, up.HTML, "Vary: * upstream")
    r = fetch(port, "/up/html", "gzip", method="HEAD")
    t.eq((r.status, ce(r), varies(r), r.header("Content-Length")), (200, "gzip", True, None),
         "%s: HEAD of proxied text/html with gzip: coded head, no Content-Length" % tag)
    for coding in ("gzip", "br"):
        streaming_upstream(t, tag, port, up, coding)


def cgi(t, tag, port):
    r = fetch(port, "/cgi/gz.sh", "gzip, br")
    t.eq((r.status, ce(r), r.body), (200, "gzip", gz_file_bytes(PAGE, "page")),
         "%s: CGI with its own Content-Encoding gzip: bytes untouched" % tag)
    r = fetch(port, "/cgi/page.sh", "gzip")
    t.eq((r.status, ce(r)), (200, "gzip"), "%s: CGI text/html in gzip" % tag)
    check_body(t, tag, r, PAGE, "CGI gzip")
    r = fetch(port, "/cgi/page.sh", None)
    t.eq((r.status, ce(r), r.body), (200, None, PAGE), "%s: CGI without Accept-Encoding" % tag)

# FastCGI (php-fpm): scripts in TMP/php.
PHP_PAGE = """<?php
header('Content-Type: text/html; charset=utf-8');
readfile('%s');
"""
PHP_FLUSH = """<?php
while (ob_get_level()) ob_end_flush();
header('Content-Type: text/plain');
echo file_get_contents('%s');
flush();
$go = '%s/go-' . $_GET['k'];
for ($i = 0; $i < 1500 && !file_exists($go); $i++) { usleep(10000); clearstatcache(); }
echo file_exists($go) ? file_get_contents('%s') : 'TIMEOUT';
flush();
"""
PHP_BIN = """<?php
header('Content-Type: application/octet-stream');
readfile('%s');
"""


def fastcgi(t, tmp, root):
    import upstreams as U
    reason = U.missing_php_fpm()
    if reason:
        t.skip("FastCGI compression", reason)
        return
    phpdir = os.path.join(tmp, "php")
    os.makedirs(phpdir)
    first, rest = os.path.join(phpdir, "first.txt"), os.path.join(phpdir, "rest.txt")
    with open(first, "wb") as f:
        f.write(Upstream.FIRST)
    with open(rest, "wb") as f:
        f.write(Upstream.REST)
    for name, text in (("page.php", PHP_PAGE % os.path.join(root, "page.html")),
                       ("flush.php", PHP_FLUSH % (first, phpdir, rest)),
                       ("bin.php", PHP_BIN % os.path.join(root, "blob.bin"))):
        with open(os.path.join(phpdir, name), "w") as f:
            f.write(text)
    for d in (phpdir,):
        os.chmod(d, 0o777)
    with contextlib.ExitStack() as stack:
        fpm = U.started(t, stack, "php-fpm", U.start_php_fpm, os.path.join(tmp, "fpm"))
        if fpm is None:
            return
        conf = "Compress On\nProxyPass /fpm/ fcgi://127.0.0.1:%d%s/" % (fpm.port, phpdir)
        with Server(conf_extra=conf, start_servers=1, server_limit=2, tap=t,
                    docroot_conf=root) as s:
            for coding in ("gzip", "br"):
                r = fetch(s.port, "/fpm/page.php", coding)
                t.eq((r.status, ce(r)), (200, coding), "fastcgi: page.php in %s" % coding)
                t.ok(varies(r), "fastcgi: page.php %s: Vary" % coding, diag=r.headers)
                check_body(t, "fastcgi", r, PAGE, "page.php %s" % coding)
            r = fetch(s.port, "/fpm/page.php", None)
            t.eq((r.status, ce(r), r.body), (200, None, PAGE), "fastcgi: page.php identity")
            r = fetch(s.port, "/fpm/bin.php", "gzip, br")
            t.eq((r.status, ce(r), r.body), (200, None, BLOB),
                 "fastcgi: application/octet-stream (not configured): identity")
            for coding in ("gzip", "br"):
                if coding == "br" and brotli is None:
                    continue
                key = "%s%d" % (coding, free_port())
                go = os.path.join(phpdir, "go-" + key)
                try:
                    with Conn(s.port, timeout=10.0) as c:
                        c.request("GET", "/fpm/flush.php?k=" + key,
                                  headers=[("Accept-Encoding", coding)])
                        resp_head = c._read_until(b"\r\n\r\n").decode("latin-1").lower()
                        t.ok("content-encoding: %s" % coding in resp_head and
                             "transfer-encoding: chunked" in resp_head,
                             "fastcgi: streaming script in %s: coded, chunked" % coding,
                             diag=resp_head)
                        dec = (zlib.decompressobj(16 + zlib.MAX_WBITS) if coding == "gzip"
                               else brotli.Decompressor())
                        feed = dec.decompress if coding == "gzip" else dec.process
                        got = b""
                        while len(got) < len(Upstream.FIRST):
                            data = read_chunk(c)
                            if data is None:
                                break
                            got += feed(data)
                        t.ok(got == Upstream.FIRST and not os.path.exists(go),
                             "fastcgi: %s: the script's first flush arrives decoded while it "
                             "waits" % coding, diag="%d bytes" % len(got))
                        with open(go, "w") as f:
                            f.write("go")
                        while True:
                            data = read_chunk(c)
                            if data is None:
                                break
                            got += feed(data)
                        t.eq(got, Upstream.FIRST + Upstream.REST,
                             "fastcgi: %s: the whole stream decodes to both parts" % coding)
                finally:
                    with open(go, "w") as f:
                        f.write("go")
            t.ok(s.is_running(), "fastcgi: server still running")

# ---------------------------------------------------------------- 10 the file cache


def cache_hits(port):
    r = fetch(port, "/metrics")
    m = re.search(r"^mpmd_file_cache_hits_total (\d+)", r.text(), re.M)
    return int(m.group(1)) if m else None


def file_cache(t, tag, port):
    before = cache_hits(port)
    if not t.ok(before is not None, "%s: /metrics shows mpmd_file_cache_hits_total" % tag):
        return
    with Conn(port) as c:
        bodies = []
        for path in ("/cachetest.html", "/cachetest.html", "/cachetest2.html",
                     "/cachetest2.html"):
            c.request("GET", path, headers=[("Accept-Encoding", "gzip")])
            bodies.append(c.read_response())
    a, b = bodies[0], bodies[1]
    t.eq((a.status, ce(a), b.status, ce(b)), (200, "gzip", 200, "gzip"),
         "%s: two gzip requests for a small file on one connection" % tag)
    t.ok(a.body == b.body, "%s: the second (from the cache's variant) is the same bytes" % tag)
    check_body(t, tag, b, CACHETEST, "cached variant")
    t.ok(bodies[2].body == a.body and bodies[3].body == a.body,
         "%s: the same content under another name: the same gzip bytes" % tag)
    wait_until(lambda: (cache_hits(port) or 0) >= before + 2, 3)
    now = cache_hits(port)
    t.ok(now is not None and now >= before + 2,
         "%s: mpmd_file_cache_hits_total grew by at least 2 (%s -> %s)" % (tag, before, now))

# ---------------------------------------------------------------- 12 Apache


def apache_conf(adir, root, ports):
    import test_apache_compare as AC
    static = AC.compiled_in_modules()
    lines = ['ServerRoot "%s"' % adir, 'DefaultRuntimeDir "%s"' % adir,
             'PidFile "%s/apache.pid"' % adir, 'ErrorLog "%s/error.log"' % adir,
             "LogLevel warn"]
    for mod in ("mpm_event", "authz_core", "mime", "dir", "unixd", "filter", "deflate",
                "brotli"):
        if "mod_" + mod not in static:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (mod, AC.APACHE_MODULES, mod))
    lines += ["Listen 127.0.0.1:%d" % ports["P1"], "Listen 127.0.0.1:%d" % ports["P2"],
              "ServerName localhost", "TypesConfig /etc/mime.types",
              'DocumentRoot "%s"' % root, "StartServers 1", "ServerLimit 2", "ThreadLimit 4",
              "ThreadsPerChild 4", "MaxRequestWorkers 8", "MinSpareThreads 4",
              "MaxSpareThreads 8", "KeepAlive On", "Timeout 10",
              "AddOutputFilterByType BROTLI_COMPRESS;DEFLATE text/html text/plain"]
    if os.geteuid() == 0:
        user, group = "nobody", "nogroup"
        try:
            group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
        except KeyError:
            user, group = "#65534", "#65534"
        lines += ["User %s" % user, "Group %s" % group]
    return "\n".join(lines) + "\n"


# Rows where Apache and mpmd are expected to choose alike: no q-values that
# matter, no "*", no alias.
APACHE_AGREE = [None, "", "gzip", "br", "gzip, br", "GZIP", "Br", "identity", "*;q=0",
                "br;q=1.0, gzip;q=1", "deflate", "GZip;Q=1"]
APACHE_FILES = ["/page.html", "/big.txt", "/pic.png"]


def apache_compare(t, tmp, root):
    if not os.access(APACHE, os.X_OK):
        t.skip("apache2 comparison", "apache2 not installed (%s)" % APACHE)
        return
    import test_apache_compare as AC
    adir = os.path.join(tmp, "apache")
    os.makedirs(adir)
    os.chmod(adir, 0o755)
    d = AC.Daemon("apache", adir, lambda conf: [APACHE, "-f", conf, "-DFOREGROUND"],
                  lambda ports: apache_conf(adir, root, ports), AC.APACHE_START_TIMEOUT)
    aes = [ae for ae, _ in NEGOTIATION]
    paths = APACHE_FILES + ["/small.html"]
    answers = {}
    try:
        if not t.ok(d.start(), "apache2 starts with mod_deflate and mod_brotli",
                    diag=d.output()):
            return
        for path in paths:
            for ae in aes:
                answers[(path, ae)] = fetch(d.ports["P1"], path, ae)
        a_etag = answers[("/page.html", "gzip")].header("ETag")
        a_inm = fetch(d.ports["P1"], "/page.html", "gzip", extra=[("If-None-Match", a_etag)])
    finally:
        d.stop()
    conf = "AddOutputFilterByType BROTLI_COMPRESS;DEFLATE text/html text/plain\n" \
           "FileCacheMaxFileSize %d" % CACHE_MAX
    with Server(conf_extra=conf, start_servers=1, server_limit=2, tap=t,
                docroot_conf=root) as s:
        differ = []
        for path in paths:
            for ae in aes:
                a, m = answers[(path, ae)], fetch(s.port, path, ae)
                label = "apache vs mpmd: %s, Accept-Encoding %s" % (
                    path, "(none)" if ae is None else repr(ae))
                same = (ce(a), varies(a)) == (ce(m), varies(m))
                if ae in APACHE_AGREE and path in APACHE_FILES:
                    t.eq((ce(m), varies(m)), (ce(a), varies(a)),
                         label + ": same Content-Encoding and Vary")
                    if ce(a) in ("gzip", "br"):
                        t.ok((a.header("ETag") or "").endswith('-%s"' % ce(a)) and
                             (m.header("ETag") or "").endswith('-%s"' % ce(m)),
                             label + ": both ETags carry the -%s suffix" % ce(a),
                             diag="apache %s, mpmd %s" % (a.header("ETag"), m.header("ETag")))
                        want = {"/page.html": PAGE, "/big.txt": BIG}[path]
                        check_body(t, "apache", a, want, label)
                elif not same:
                    differ.append("%s: apache %s%s, mpmd %s%s" % (
                        label, ce(a) or "identity", " +Vary" if varies(a) else "",
                        ce(m) or "identity", " +Vary" if varies(m) else ""))
        m_etag = fetch(s.port, "/page.html", "gzip").header("ETag")
        m_inm = fetch(s.port, "/page.html", "gzip", extra=[("If-None-Match", m_etag)])
        t.eq(m_inm.status, 304, "mpmd: If-None-Match with its gzip ETag: 304")
        t.diag("known differences from Apache (mpmd follows RFC 9110 q-values, '*' and "
               "x-gzip, and has CompressMinSize; Apache ignores q): %d" % len(differ))
        for line in differ:
            t.diag("  " + line)
        t.diag("If-None-Match with the gzip variant's own ETag: apache (%s) %d, mpmd (%s) %d"
               % (a_etag, a_inm.status, m_etag, m_inm.status))

# ---------------------------------------------------------------- main


def framing(t, tag, port, up):
    """Coded answers one after another on a keep-alive connection, and to
    HTTP/1.0 (no chunked coding: the end of the connection ends the body)."""
    reqs = [("/big.txt", "gzip", BIG), ("/page.html", "br", PAGE), ("/big.txt", None, BIG),
            ("/up/html", "gzip", up.HTML), ("/big.txt", "br", BIG), ("/page.html", "gzip", PAGE)]
    with Conn(port, timeout=10.0) as c:
        for path, ae, _ in reqs:
            c.request("GET", path, headers=[("Accept-Encoding", ae)] if ae else [])
        got = c.read_responses(len(reqs))
    for (path, ae, want), r in zip(reqs, got):
        t.eq((r.status, ce(r)), (200, ae), "%s: pipelined %s (%s)" % (tag, path, ae))
        check_body(t, tag, r, want, "pipelined %s %s" % (path, ae))
    for path, want in (("/big.txt", BIG), ("/page.html", PAGE), ("/up/html", up.HTML),
                       ("/up/bigchunked", BIG)):
        with Conn(port, timeout=10.0) as c:
            c.request("GET", path, version="HTTP/1.0", headers=[("Accept-Encoding", "gzip")])
            r = c.read_response()
            t.eq((r.status, ce(r), r.header("Transfer-Encoding")), (200, "gzip", None),
                 "%s: HTTP/1.0 %s in gzip, not chunked" % (tag, path))
            check_body(t, tag, r, want, "HTTP/1.0 %s" % path)
    # Two Accept-Encoding field lines are one list (RFC 9110 5.3).
    for fields, want in ((["identity", "gzip"], "gzip"), (["gzip;q=0", "br"], "br"),
                         (["deflate", "br;q=0.5, gzip;q=0.4"], "br")):
        r = fetch(port, "/page.html", extra=[("Accept-Encoding", v) for v in fields])
        t.eq(ce(r), want, "%s: Accept-Encoding in two field lines %r -> %s" % (tag, fields, want))


def error_documents(t, tag, port):
    """ErrorDocument pages (404) asked for in gzip: whatever the coding,
    the head must say it and the body decode to the page."""
    for loc, page in (("/e1", ERR_BIG), ("/e2", ERR_SMALL)):
        for ae in ("gzip", "br", None):
            r = fetch(port, loc + "/missing", ae)
            t.eq(r.status, 404, "%s: %s/missing (%s): 404" % (tag, loc, ae))
            t.ok(ce(r) in ((None, "gzip", "br") if ae else (None,)),
                 "%s: %s/missing (%s): a coding the client took" % (tag, loc, ae),
                 diag=r.headers)
            check_body(t, tag, r, page, "ErrorDocument %s (%s, sent %s)" % (loc, ae, ce(r)))


def race(t, tag, port):
    """Fresh cached files asked for at once in gzip, br and identity by
    many clients: variants are made once, every answer decodes right."""
    jobs = [(path, ae) for path in ("/race/one.html", "/race/two.css", "/race/three.txt")
            for ae in ("gzip", "br", None, "gzip, br", "gzip")] * 3
    wants = {"/race/one.html": PAGE, "/race/two.css": CSS, "/race/three.txt": NOTES}
    results = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def one(i):
        path, ae = jobs[i]
        try:
            start.wait(10)
            r = fetch(port, path, ae)
            results[i] = (r.status, ce(r), decode(ce(r), r.body) == wants[path])
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = repr(e)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    want = [(200, {"gzip": "gzip", "br": "br", None: None, "gzip, br": "br"}[ae], True)
            for _, ae in jobs]
    if brotli is None:
        want = [w if w[1] != "br" else r for w, r in zip(want, results)]
    bad = [(jobs[i], results[i]) for i in range(len(jobs)) if results[i] != want[i]]
    t.ok(not bad, "%s: %d concurrent first requests for 3 files in gzip/br/identity: all "
         "right" % (tag, len(jobs)), diag=bad[:5])


def run_main_server(t, tmp, root, files, cgidir, up, mpm, full):
    tag = mpm
    port2 = free_port()
    conf = main_conf(root, cgidir, up.port, port2)
    with t.guard("%s server" % tag), Server(conf_extra=conf, mpm=mpm, start_servers=1,
                                             server_limit=2, tap=t, docroot_conf=root) as s:
        sets = [("curl", lambda: (curl_roundtrip(t, tag, s.port, tmp, "/page.html", PAGE, False),
                                  curl_roundtrip(t, tag, s.port, tmp, "/big.txt", BIG, True))),
                ("negotiation cached", lambda: negotiation(t, tag, s.port, "/page.html", PAGE,
                                                           NEGOTIATION if full
                                                           else NEGOTIATION[:8])),
                ("negotiation streamed", lambda: negotiation(t, tag, s.port, "/big.txt", BIG,
                                                             NEGOTIATION if full
                                                             else NEGOTIATION[:8])),
                ("vary/etag", lambda: vary_etag(t, tag, s.port, big=full)),
                ("ranges", lambda: ranges(t, tag, s.port)),
                ("HEAD", lambda: head_equals_get(t, tag, s.port)),
                ("proxy", lambda: proxied(t, tag, s.port, up)),
                ("framing", lambda: framing(t, tag, s.port, up)),
                ("ErrorDocument", lambda: error_documents(t, tag, s.port)),
                ("race", lambda: race(t, tag, s.port))]
        if full:
            sets += [("CompressStatic", lambda: compress_static(t, tag, s.port, files)),
                     ("sections", lambda: sections_main(t, tag, s.port, port2)),
                     ("CGI", lambda: cgi(t, tag, s.port)),
                     ("file cache", lambda: file_cache(t, tag, s.port))]
        for name, fn in sets:
            with t.guard("%s: %s" % (tag, name)):
                fn()
        t.ok(s.is_running(), "%s: server still running" % tag)
        t.ok("AddressSanitizer" not in s.stderr_text(), "%s: no sanitizer report" % tag)


def main(t):
    if brotli is None:
        t.diag("no brotli module for %s: br bodies are not decoded (skips)" % sys.executable)
    tmp = tempfile.mkdtemp(prefix="mpmdtest-compress-")
    up = None
    try:
        os.chmod(tmp, 0o755)
        root = os.path.join(os.path.realpath(tmp), "www")
        files = make_root(root)
        cgidir = os.path.join(os.path.realpath(tmp), "cgi")
        up = Upstream()
        run_main_server(t, tmp, root, files, cgidir, up, "event", True)
        run_main_server(t, tmp, root, files, cgidir, up, "worker", False)
        port2 = free_port()
        with t.guard("sections server"), Server(conf_extra=sections_conf(root, port2),
                                                 start_servers=1, server_limit=2, tap=t,
                                                 docroot_conf=root) as s:
            sections_other(t, "sections", s.port, port2, root)
            t.ok(s.is_running(), "sections: server still running")
        with t.guard("fastcgi"):
            fastcgi(t, tmp, root)
        with t.guard("config errors"):
            config_errors(t, tmp)
        with t.guard("apache comparison"):
            apache_compare(t, tmp, root)
    finally:
        if up is not None:
            up.stop()
        if os.environ.get("MPMD_KEEP"):
            sys.stdout.write("# kept %s\n" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    t.diag("test_compress: %d checks, %d failed" % (t.n, t.failed))


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
