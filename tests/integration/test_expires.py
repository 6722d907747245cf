#!/usr/bin/env python3
# test_expires.py: ExpiresActive, ExpiresByType, ExpiresDefault and
# FileETag on a running mpmd (TAP on stdout).
#
# Covers: Expires and Cache-Control max-age on static answers from the
# handler threads (a cache miss) and from the listener (a cache hit), on
# 304, not on 404; by exact type, by major/* type and by default; the
# access base (Expires - Date == N) and the modification base (Expires ==
# the file's mtime + N, clamped to Date when past); sections overriding
# per type and ExpiresActive Off in one, virtual hosts over the main
# server; Header set/unset after Expires;
# proxied answers (from memory and streamed) getting Expires, an
# upstream's own Expires left alone, its Cache-Control merged; FileETag
# None/All/-INode along sections (If-None-Match then cannot 304,
# If-Modified-Since still can).  Then, when Debian's apache2 with
# mod_expires is there, the same static config under Apache: the same
# Cache-Control values, Expires - Date deltas and ETag parts.  Bad
# rules are refused by mpmd -t with file:line and one sentence.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_expires.py

import os
import shutil
import tempfile
import time

from mpmdtest import (FIXED_MTIME, Conn, Server, http_date, parse_http_date, run_mpmd,
                      run_tests)
from upstreams import ApacheFront, RawUpstream

HOUR = 3600
CSS_N = 2 * 86400 + 3 * HOUR          # "modification plus 2 days 3 hours"
PAGE_TXT = b"a page in /sub\n"

CONF = """
ExpiresActive On
ExpiresDefault "access plus 1 hour"
ExpiresByType text/css "modification plus 2 days 3 hours"
ExpiresByType text/* A600
ExpiresByType application/json M60
<Location /sub/>
    ExpiresByType text/html "access plus 2 minutes"
</Location>
<Directory {docroot}/sub>
    FileETag All
</Directory>
<Files index.html>
    FileETag -INode
</Files>
<Directory {docroot}/dir_noindex>
    ExpiresActive Off
    FileETag None
</Directory>
<Files bin.dat>
    Header set Cache-Control "no-cache"
</Files>
<Files big.bin>
    Header unset Expires
</Files>
<Files "sp ace.txt">
    ExpiresByType text/plain M60
</Files>
"""

PROXY_CONF = """
ProxyPass /up1/ http://127.0.0.1:{p1}/
ProxyPass /up2/ http://127.0.0.1:{p2}/
ProxyPass /up3/ http://127.0.0.1:{p3}/
ProxyPass /up4/ http://127.0.0.1:{p4}/
"""

UP_PLAIN = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Cache-Control: private\r\nContent-Length: 6\r\nConnection: close\r\n\r\nplain\n")
UP_OWN = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nExpires: Thu, 01 Jan 2037 00:00:00 GMT\r\n"
          b"Content-Length: 4\r\nConnection: close\r\n\r\nown\n")
UP_CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n"
              b"Connection: close\r\n\r\n5\r\nchunk\r\n0\r\n\r\n")
UP_JSON = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           b"Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nContent-Length: 3\r\n"
           b"Connection: close\r\n\r\n{}\n")


def get(port, path, headers=None, method="GET"):
    with Conn(port) as c:
        c.request(method, path, headers=list((headers or {}).items()))
        return c.read_response(head=(method == "HEAD"))


def delta(r):
    """Expires - Date in seconds, or None without Expires."""
    e = r.header("Expires")
    return None if e is None else parse_http_date(e) - parse_http_date(r.header("Date"))


def prepare_docroot(docroot, css_mtime):
    with open(os.path.join(docroot, "sub", "page.txt"), "wb") as f:
        f.write(PAGE_TXT)
    os.utime(os.path.join(docroot, "sub", "page.txt"), (FIXED_MTIME, FIXED_MTIME))
    os.utime(os.path.join(docroot, "style.css"), (css_mtime, css_mtime))


def access_based(t, s, tag):
    for path, n, what in (("/a.txt", 600, "text/* A600"),
                          ("/index.html", 600, "text/* A600 (text/html)"),
                          ("/sub/index.html", 120, "the section's text/html A120"),
                          ("/sub/page.txt", HOUR, "the section has no text/* entry: "
                           "the server's is off there (Apache's merge), default"),
                          ("/x.zzqq", HOUR, "ExpiresDefault access plus 1 hour")):
        for round_ in ("miss (handler thread)", "hit (listener)"):
            r = get(s.port, path)
            t.eq((r.status, delta(r), r.header("Cache-Control")), (200, n, "max-age=%d" % n),
                 "%s GET %s, %s: %s: Expires - Date == %d, max-age=%d"
                 % (tag, path, round_, what, n, n))


def modification_based(t, s, tag, css_mtime):
    for round_ in ("miss", "hit"):
        r = get(s.port, "/style.css")
        date = parse_http_date(r.header("Date"))
        t.eq(parse_http_date(r.header("Expires") or "Thu, 01 Jan 1970 00:00:00 GMT"),
             css_mtime + CSS_N, "%s GET /style.css (%s): Expires == mtime + 2 days 3 hours"
             % (tag, round_))
        t.eq(r.header("Cache-Control"), "max-age=%d" % (css_mtime + CSS_N - date - 1),
             "%s GET /style.css (%s): max-age == mtime + N - Date - 1 (the whole seconds "
             "left from the request's exact time, as Apache)" % (tag, round_))
    for round_ in ("miss", "hit"):
        r = get(s.port, "/sp%20ace.txt")
        t.eq((r.header("Expires"), r.header("Cache-Control")), (r.header("Date"), "max-age=0"),
             "%s GET /sp ace.txt (%s): M60 on a file modified in 2023: past, so Expires == "
             "Date, max-age=0" % (tag, round_))


def not_modified_and_errors(t, s, tag):
    r = get(s.port, "/a.txt")
    r304 = get(s.port, "/a.txt", {"If-None-Match": r.header("ETag")})
    t.eq((r304.status, delta(r304), r304.header("Cache-Control")), (304, 600, "max-age=600"),
         "%s 304 of /a.txt: Expires and Cache-Control by its type (text/*), as Apache" % tag)
    r404 = get(s.port, "/no-such-file.txt")
    t.eq((r404.status, r404.header("Expires"), r404.header("Cache-Control")), (404, None, None),
         "%s 404: no Expires, no Cache-Control" % tag)
    r = get(s.port, "/dir_noindex/file.txt")
    t.eq((r.status, r.header("Expires"), r.header("Cache-Control")), (200, None, None),
         "%s ExpiresActive Off in a <Directory>: nothing added" % tag)


def header_interplay(t, s, tag):
    r = get(s.port, "/bin.dat")
    t.eq((r.header("Cache-Control"), delta(r)), ("no-cache", HOUR),
         "%s Header set Cache-Control after Expires: no-cache replaces max-age, Expires stays"
         % tag)
    r = get(s.port, "/big.bin", method="HEAD")
    t.eq((r.header("Expires"), r.header("Cache-Control")), (None, "max-age=%d" % HOUR),
         "%s Header unset Expires: removed, max-age stays" % tag)


def file_etags(t, s, tag):
    ino = os.stat(os.path.join(s.docroot, "sub", "page.txt")).st_ino
    r = get(s.port, "/sub/page.txt")
    t.eq(r.header("ETag"), '"%x-%x-%x"' % (ino, FIXED_MTIME, len(PAGE_TXT)),
         "%s FileETag All in <Directory .../sub>: inode-mtime-size" % tag)
    r = get(s.port, "/sub/index.html")
    t.match(r'^"%x-[0-9a-f]+"$' % FIXED_MTIME, r.header("ETag") or "",
            "%s FileETag -INode in <Files> over All: mtime-size" % tag)
    r = get(s.port, "/a.txt")
    t.match(r'^"%x-[0-9a-f]+"$' % FIXED_MTIME, r.header("ETag") or "",
            "%s no FileETag: the default MTime Size" % tag)
    for round_ in ("miss", "hit"):
        r = get(s.port, "/dir_noindex/file.txt")
        t.eq((r.status, r.header("ETag")), (200, None),
             "%s FileETag None (%s): no ETag" % (tag, round_))
    guess = '"%x-%x"' % (FIXED_MTIME, len(r.body))
    r = get(s.port, "/dir_noindex/file.txt", {"If-None-Match": guess})
    t.eq(r.status, 200, "%s FileETag None: If-None-Match cannot give 304" % tag)
    r = get(s.port, "/dir_noindex/file.txt", {"If-Modified-Since": http_date(FIXED_MTIME)})
    t.eq(r.status, 304, "%s FileETag None: If-Modified-Since still gives 304" % tag)


def proxied(t, s, tag):
    r = get(s.port, "/up1/x")
    t.eq((r.status, delta(r), r.header("Cache-Control")), (200, 600, "private, max-age=600"),
         "%s proxied text/plain: Expires by text/*, max-age merged into the upstream's "
         "Cache-Control" % tag)
    r = get(s.port, "/up2/x")
    t.eq((r.header("Expires"), r.header("Cache-Control")),
         ("Thu, 01 Jan 2037 00:00:00 GMT", None),
         "%s proxied answer with its own Expires: left alone" % tag)
    r = get(s.port, "/up3/x")
    t.eq((r.status, r.body, delta(r), r.header("Cache-Control")),
         (200, b"chunk", HOUR, "max-age=%d" % HOUR),
         "%s proxied chunked (streamed) answer: Expires by ExpiresDefault" % tag)
    r = get(s.port, "/up4/x")
    t.eq((r.status, r.header("Expires"), r.header("Cache-Control")), (200, None, None),
         "%s proxied application/json under M60: no file, nothing (as Apache)" % tag)


class DocrootConf:
    """A server whose conf_extra may name its docroot as {docroot} (known
    only once its temp dir is made)."""

    def write_config(self):
        self.conf_extra = self.conf_extra.replace("{docroot}", self.docroot).replace(
            "{port}", str(self.port))
        super().write_config()


class ExpiresServer(DocrootConf, Server):
    pass


BAD = [('ExpiresByType text/css "access plus 1 fortnight"',
        "ExpiresByType: expected a unit (years, months, weeks, days, hours, minutes, seconds) "
        "in 'access plus 1 fortnight', got 'fortnight'"),
       ('ExpiresDefault "later plus 1 day"', "ExpiresDefault: expected 'access', 'now' or "
        "'modification' to begin 'later plus 1 day'"),
       ("ExpiresDefault A12x", "ExpiresDefault: expected seconds (0 to 2147483647) after 'A'"),
       ("ExpiresByType css A60", "ExpiresByType: expected a media type such as text/css"),
       ("ExpiresActive Maybe", "ExpiresActive: expected On or Off, got 'Maybe'"),
       ("FileETag +All", "FileETag: 'All' cannot be used with '+' or '-'"),
       ("FileETag Digest", "FileETag: expected INode, MTime, Size, All or None")]


def config_errors(t):
    tmp = tempfile.mkdtemp(prefix="mpmdtest-expires-")
    try:
        for line, want in BAD:
            conf = os.path.join(tmp, "bad.conf")
            with open(conf, "w") as f:
                f.write("Listen 127.0.0.1:8\nDocumentRoot %s\n<Location /x>\n%s\n</Location>\n"
                        % (tmp, line))
            rc, out, err = run_mpmd(["-t", "-f", conf])
            t.ok(rc != 0 and ("%s:4: %s" % (conf, want)) in out + err,
                 "mpmd -t refuses '%s' with file:line and the sentence" % line,
                 diag=(rc, out + err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def serve(t, tag, kwargs, extra=""):
    css_mtime = int(time.time()) - 1000
    with RawUpstream(UP_PLAIN) as u1, RawUpstream(UP_OWN) as u2, \
            RawUpstream(UP_CHUNKED) as u3, RawUpstream(UP_JSON) as u4:
        proxy = PROXY_CONF.format(p1=u1.port, p2=u2.port, p3=u3.port, p4=u4.port)
        with t.guard(tag), ExpiresServer(tap=t, conf_extra=extra + CONF + proxy, **kwargs) as s:
            prepare_docroot(s.docroot, css_mtime)
            for fn in (access_based, not_modified_and_errors, header_interplay, file_etags,
                       proxied):
                with t.guard("%s %s" % (tag, fn.__name__)):
                    fn(t, s, tag)
            with t.guard("%s modification_based" % tag):
                modification_based(t, s, tag, css_mtime)
            t.ok(s.is_running(), "%s server still running" % tag)


VHOST_CONF = """
ExpiresActive On
ExpiresByType text/* A600
<VirtualHost *:{port}>
    ServerName default.example
    DocumentRoot {docroot}
</VirtualHost>
<VirtualHost *:{port}>
    ServerName v.example
    DocumentRoot {docroot}
    ExpiresDefault A42
    ExpiresByType text/plain A43
    FileETag Size
</VirtualHost>
<VirtualHost *:{port}>
    ServerName off.example
    DocumentRoot {docroot}
    ExpiresActive Off
</VirtualHost>
"""

# (Host, path, Cache-Control wanted, why)
VHOST_CASES = [
    ("default.example", "/a.txt", "max-age=600", "the main server's text/* inherited"),
    ("v.example", "/a.txt", "max-age=43", "the host's own text/plain entry"),
    ("v.example", "/index.html", "max-age=42", "the host has entries but no text/*: the "
     "main server's is off there (Apache's merge), its ExpiresDefault"),
    ("v.example", "/bin.dat", "max-age=42", "the host's ExpiresDefault"),
    ("off.example", "/a.txt", None, "ExpiresActive Off in the host"),
]


def vhosts(t, cls, name):
    """Run VHOST_CASES on a server of CLS; returns {(host, path): summary}."""
    seen = {}
    with t.guard("%s virtual hosts" % name), cls(tap=t, conf_extra=VHOST_CONF) as s:
        for host, path, want, why in VHOST_CASES:
            r = get(s.port, path, {"Host": host})
            seen[(host, path)] = summary(r, path, r.header("Last-Modified"))
            if name == "mpmd":
                t.eq(r.header("Cache-Control"), want, "%s %s%s: %s" % (name, host, path, why))
        if name == "mpmd":
            r = get(s.port, "/a.txt", {"Host": "v.example"})
            t.eq(r.header("ETag"), '"%x"' % len(r.body), "FileETag Size in a <VirtualHost>")
    return seen


class ApacheExpires(DocrootConf, ApacheFront):
    """apache2 with mod_expires too."""

    def write_config(self):
        super().write_config()
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("LoadModule headers_module",
                            "LoadModule expires_module %s/mod_expires.so\n"
                            "LoadModule headers_module" % self.MODULES, 1)
        with open(self.conf, "w") as f:
            f.write(text)


COMPARED = ["/a.txt", "/index.html", "/sub/index.html", "/sub/page.txt", "/style.css",
            "/bin.dat", "/dir_noindex/file.txt", "/no-such-file.txt", "/sp%20ace.txt",
            "/sub"]


M_PATHS = ("/style.css",)   # modification-based: Expires - Date depends on when


def summary(r, path, lm):
    """What must not depend on when the request ran: the status, how many
    parts the ETag has (None: no ETag), Expires - Date (access rules) or Expires - mtime
    (modification rules), and max-age's gap to Expires - Date."""
    cc, d = r.header("Cache-Control"), delta(r)
    etag = r.header("ETag")
    parts = None if etag is None else len(etag.strip('W/"').split("-"))   # FileETag's choice
    if d is None:
        return [r.status, parts, cc]
    age = int(cc.split("max-age=")[1]) if cc and "max-age=" in cc else None
    base = parse_http_date(lm) if path in M_PATHS else parse_http_date(r.header("Date"))
    return [r.status, parts, cc.split("max-age=")[0] if cc else None,
            parse_http_date(r.header("Expires")) - base, None if age is None else d - age]


def observe(port, path):
    r = get(port, path)
    lm = r.header("Last-Modified")
    out = summary(r, path, lm)
    if r.status == 200:
        out += summary(get(port, path, {"If-Modified-Since": lm}), path, lm)
    return out


def compare_with_apache(t, mine):
    if not (os.access(ApacheFront.APACHE, os.X_OK)
            and os.path.exists(os.path.join(ApacheFront.MODULES, "mod_expires.so"))):
        t.skip("the same config under apache2", "apache2 or mod_expires.so missing")
        return
    css_mtime = int(time.time()) - 1000
    seen = {}
    for name, cls in (("apache2", ApacheExpires), ("mpmd", ExpiresServer)):
        with t.guard("%s for the comparison" % name), cls(tap=t, conf_extra=CONF) as s:
            prepare_docroot(s.docroot, css_mtime)
            seen[name] = {p: observe(s.port, p) for p in COMPARED}
    theirs = vhosts(t, ApacheExpires, "apache2")
    for key in mine:
        t.eq(mine[key], theirs.get(key), "as apache2: %s%s" % key)
    if len(seen) < 2:
        return
    for p in COMPARED:
        t.eq(seen["mpmd"][p], seen["apache2"][p],
             "as apache2: %s status, ETag parts, Cache-Control, Expires - Date (or - mtime), "
             "max-age's gap to it (and for its 304)" % p)


def main(t):
    config_errors(t)
    serve(t, "event", {"mpm": "event"})
    serve(t, "event-nocache", {"mpm": "event"}, "FileCacheSize 0\n")
    serve(t, "worker", {"mpm": "worker"})
    compare_with_apache(t, vhosts(t, ExpiresServer, "mpmd"))


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
