#!/usr/bin/env python3
# test_apache_compare.py: mpmd against the real Apache httpd (TAP on stdout).
#
# One site configuration (SITE_BLOCK: three name-based <VirtualHost>
# sections on two addresses with Alias, Redirect, RedirectMatch,
# ErrorDocument, Header, Require and <Location>/<LocationMatch>/
# <Directory>/<Files>/<FilesMatch> sections) is written once and embedded
# both in an httpd.conf for Debian's apache2 and in an mpmd config; only
# the server-wide lines (Listen, PidFile, LoadModule, ErrorLog, ...)
# differ.  Both servers get the same requests (REQUESTS) and their answers
# are compared one aspect per TAP line: status, Location, Content-Type
# (2xx and ErrorDocument bodies), every X-* header and Cache-Control
# either side sends, and the body of 2xx and ErrorDocument-supplied
# responses.  Built-in error and redirect pages, Server, Date and ETag
# are not compared.  The ports in Location are written as P1/P2 so the two
# servers (on different ports) compare equal.
#
# Apache runs first (apache2 -f CONF -DFOREGROUND, stopped by pid), then
# mpmd; the answers are compared afterwards.
# APACHE_COMPARE_ONLY_APACHE=1: run only Apache, check its statuses
# against the expected ones in REQUESTS and print every answer as a TAP
# diagnostic (needs no mpmd binary).  APACHE2=PATH: another httpd binary.
# Run by hand:
#   MPMD=src/mpmd PYTHONPATH=tests/integration python3 tests/integration/test_apache_compare.py
#   APACHE_COMPARE_ONLY_APACHE=1 PYTHONPATH=tests/integration \
#       python3 tests/integration/test_apache_compare.py

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import mpmdtest
from mpmdtest import (Conn, Tap, build_request, config_lines, free_port, pid_alive,
                      proc_children, proc_stat, run_tests)

APACHE = os.environ.get("APACHE2") or "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
ONLY_APACHE = os.environ.get("APACHE_COMPARE_ONLY_APACHE") == "1"
APACHE_START_TIMEOUT = 20.0
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

# ---------------------------------------------------------------- the site

# The shared site block.  @P1@, @P2@ become the two ports the server
# listens on, @ROOT@ the directory holding the document roots.
SITE_BLOCK = r'''
# ---- shared site block (the same text in the Apache and the mpmd config)
Header set X-Main inherited
Header set X-Foo server

<VirtualHost 127.0.0.1:@P1@>
    ServerName a.example
    ServerAlias www.a.example *.a.test
    DocumentRoot "@ROOT@/a"
    Alias /static/ "@ROOT@/static/"
    Redirect /old /new
    Redirect permanent /gone http://example.com/elsewhere
    Redirect 410 /dead
    RedirectMatch 301 ^/docs/(.*)\.htm$ /docs/$1.html
    RedirectMatch ^/blog/([0-9]+)$ /posts/$1.html
    ErrorDocument 404 /errors/404.html
    ErrorDocument 403 "Forbidden here"
    ErrorDocument 410 http://example.com/gone-page
    Header set X-Site one
    Header always set X-Always yes
    Header append Cache-Control no-transform
    Header unset X-Foo
    <Directory "@ROOT@/a/sub">
        Header set X-Dir sub
    </Directory>
    <Directory "@ROOT@/a/order">
        Header set X-Order dir
    </Directory>
    <Directory "@ROOT@/a/links">
        Options -FollowSymLinks
    </Directory>
    <Location /order>
        Header set X-Order loc
    </Location>
    <Location /twice/inner>
        Header set X-Twice first
    </Location>
    <Location /twice>
        Header set X-Twice second
    </Location>
    <Location /cached>
        Header set Cache-Control "max-age=60"
        Header append Cache-Control private
    </Location>
    <Location /foo>
        Header set X-Foo location
    </Location>
    <Location /private>
        Require all denied
    </Location>
    <Location /lan>
        Require ip 127.0.0.1
    </Location>
    <Location /wan>
        Require ip 10.0.0.0/8
    </Location>
    <Location /notlocal>
        <RequireAll>
            Require all granted
            Require not ip 127.0.0.0/8
        </RequireAll>
    </Location>
    <Location /anyof>
        <RequireAny>
            Require ip 10.1.0.0/16
            Require ip 127.0.0.1
        </RequireAny>
    </Location>
    <LocationMatch "^/api/v[0-9]+/">
        Header set X-Api matched
    </LocationMatch>
    <Files "*.txt">
        Header set X-Files txt
    </Files>
    <FilesMatch "\.css$">
        Header set X-FilesMatch css
    </FilesMatch>
</VirtualHost>

<VirtualHost 127.0.0.1:@P1@>
    ServerName b.example
    DocumentRoot "@ROOT@/b"
    ErrorDocument 404 "No such page on b"
    Header set X-Site two
</VirtualHost>

<VirtualHost 127.0.0.1:@P2@>
    ServerName c.example
    DocumentRoot "@ROOT@/c"
    Header set X-Site three
    Redirect /old/ http://a.example/new/
</VirtualHost>
# ---- end of the shared site block
'''


def html(text):
    return ("<!DOCTYPE html>\n<html><body>%s</body></html>\n" % text).encode()


# {path under @ROOT@: bytes}
SITE_FILES = {
    "main/index.html": html("main server"),
    "a/index.html": html("site A index"),
    "a/style.css": b"body { color: navy; }\n",
    "a/notes.txt": b"notes of site A\n",
    "a/privateother.html": html("not under /private"),
    "a/sub/index.html": html("A sub index"),
    "a/sub/readme.txt": b"readme in sub\n",
    "a/private/index.html": html("private"),
    "a/lan/index.html": html("lan"),
    "a/wan/index.html": html("wan"),
    "a/notlocal/index.html": html("notlocal"),
    "a/anyof/index.html": html("anyof"),
    "a/errors/404.html": html("A custom 404 page"),
    "a/docs/intro.html": html("docs intro"),
    "a/posts/42.html": html("post 42"),
    "a/api/v2/info.html": html("api v2"),
    "a/api/vX/info.html": html("api vX"),
    "a/order/index.html": html("order"),
    "a/twice/inner/index.html": html("twice inner"),
    "a/cached/page.html": html("cached page"),
    "a/foo/page.html": html("foo page"),
    "a/links/real.txt": b"real file behind a link\n",
    "static/logo.txt": b"static logo text\n",
    "static/app.css": b"p { margin: 0; }\n",
    "b/index.html": html("site B index"),
    "b/page.txt": b"page of site B\n",
    "c/index.html": html("site C index"),
}

A = "a.example:@P1@"
B = "b.example:@P1@"
C = "c.example:@P2@"

# (port, Host header or None, method, path, Apache's expected status,
#  ErrorDocument supplies the body, version)
REQUESTS = [
    ("P1", A, "GET", "/", 200),
    ("P1", A, "GET", "/index.html", 200),
    ("P1", A, "HEAD", "/index.html", 200),
    ("P1", A, "GET", "/style.css", 200),
    ("P1", A, "GET", "/notes.txt", 200),
    ("P1", A, "GET", "/sub", 301),
    ("P1", A, "GET", "/sub?q=1", 301),
    ("P1", A, "GET", "/sub/", 200),
    ("P1", A, "GET", "/sub/readme.txt", 200),
    ("P1", A, "GET", "/missing.html", 404, True),
    ("P1", A, "GET", "/nodir/missing.txt", 404, True),
    ("P1", A, "HEAD", "/missing.html", 404),
    ("P1", A, "GET", "/errors/404.html", 200),
    ("P1", A, "GET", "/static/logo.txt", 200),
    ("P1", A, "GET", "/static/app.css", 200),
    ("P1", A, "GET", "/static", 404, True),
    ("P1", A, "GET", "/old", 302),
    ("P1", A, "GET", "/old/page.html?x=1", 302),
    ("P1", A, "GET", "/oldish", 404, True),
    ("P1", A, "GET", "/gone", 301),
    ("P1", A, "GET", "/gone/deeper?y=2", 301),
    ("P1", A, "GET", "/dead", 302),
    ("P1", A, "GET", "/docs/intro.htm", 301),
    ("P1", A, "GET", "/docs/intro.html", 200),
    ("P1", A, "GET", "/blog/42", 302),
    ("P1", A, "GET", "/private", 403, True),
    ("P1", A, "GET", "/private/", 403, True),
    ("P1", A, "GET", "/private/index.html", 403, True),
    ("P1", A, "GET", "/privateother.html", 200),
    ("P1", A, "GET", "/lan/", 200),
    ("P1", A, "GET", "/wan/", 403, True),
    ("P1", A, "GET", "/notlocal/", 403, True),
    ("P1", A, "GET", "/anyof/", 200),
    ("P1", A, "GET", "/api/v2/info.html", 200),
    ("P1", A, "GET", "/api/vX/info.html", 200),
    ("P1", A, "GET", "/order/", 200),
    ("P1", A, "GET", "/twice/inner/", 200),
    ("P1", A, "GET", "/cached/page.html", 200),
    ("P1", A, "GET", "/foo/page.html", 200),
    ("P1", A, "GET", "/sub/link.txt", 200),
    ("P1", A, "GET", "/links/real.txt", 200),
    ("P1", A, "GET", "/links/link.txt", 403, True),
    ("P1", "a.example", "GET", "/old", 302),
    ("P1", "www.a.example:@P1@", "GET", "/", 200),
    ("P1", "x.y.a.test:@P1@", "GET", "/", 200),
    ("P1", "unknown.example:@P1@", "GET", "/", 200),
    ("P1", "B.EXAMPLE.:@P1@", "GET", "/", 200),
    ("P1", None, "GET", "/sub", 301, False, "HTTP/1.0"),
    ("P1", B, "GET", "/", 200),
    ("P1", B, "GET", "/page.txt", 200),
    ("P1", B, "GET", "/missing.html", 404, True),
    ("P1", B, "GET", "/old", 404, True),
    ("P2", C, "GET", "/", 200),
    ("P2", C, "GET", "/old/x.html?z=3", 302),
    ("P2", C, "GET", "/missing.html", 404),
    ("P2", "a.example:@P2@", "GET", "/", 200),
]


class Req:
    def __init__(self, port, host, method, path, want, errdoc=False, version="HTTP/1.1"):
        self.port, self.host, self.method, self.path = port, host, method, path
        self.want, self.errdoc, self.version = want, errdoc, version

    def label(self):
        host = "no Host" if self.host is None else "Host " + self.host.replace("@", "")
        return "%s %s %s (%s, %s)" % (self.method, self.path, self.version, host, self.port)


def make_site(root):
    for rel, data in SITE_FILES.items():
        full = os.path.join(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    # Symbolic links: followed by default (Options FollowSymLinks), refused
    # under <Directory .../links> with Options -FollowSymLinks.
    for link, target in (("a/links/link.txt", "real.txt"), ("a/sub/link.txt", "readme.txt")):
        os.symlink(target, os.path.join(root, link))
    for d, _dirs, files in os.walk(root):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)


def render(text, ports, root):
    return text.replace("@P1@", str(ports["P1"])).replace(
        "@P2@", str(ports["P2"])).replace("@ROOT@", root)

# ---------------------------------------------------------------- the two configs


def compiled_in_modules():
    try:
        out = subprocess.run([APACHE, "-l"], stdin=subprocess.DEVNULL, capture_output=True,
                             timeout=20).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return set()
    return set(re.findall(r"(mod_\w+)\.c", out))


def apache_conf(adir, root, ports):
    static = compiled_in_modules()
    lines = [
        "# generated by tests/integration/test_apache_compare.py",
        'ServerRoot "%s"' % adir,
        'DefaultRuntimeDir "%s"' % adir,
        'PidFile "%s/apache.pid"' % adir,
        'ErrorLog "%s/error.log"' % adir,
        "LogLevel warn",
    ]
    for mod in ("mpm_event", "authz_core", "authz_host", "alias", "headers", "mime", "dir",
                "log_config", "unixd"):
        if "mod_" + mod not in static:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (mod, APACHE_MODULES, mod))
    lines += [
        'CustomLog "%s/access.log" "%%h %%t \\"%%r\\" %%>s %%b \\"%%{Host}i\\""' % adir,
        "Listen 127.0.0.1:%d" % ports["P1"],
        "Listen 127.0.0.1:%d" % ports["P2"],
        "ServerName localhost",
        "TypesConfig /etc/mime.types",
        'DocumentRoot "%s/main"' % root,
        "StartServers 1",
        "ServerLimit 2",
        "ThreadLimit 4",
        "ThreadsPerChild 4",
        "MaxRequestWorkers 8",
        "MinSpareThreads 4",
        "MaxSpareThreads 8",
        "KeepAlive On",
        "Timeout 10",
    ]
    if os.geteuid() == 0:
        user, group = "nobody", "nogroup"
        try:
            group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
        except KeyError:
            user, group = "#65534", "#65534"
        lines += ["User %s" % user, "Group %s" % group]
    return "\n".join(lines) + "\n" + render(SITE_BLOCK, ports, root)


def mpmd_conf(mdir, root, ports):
    lines = config_lines(ports["P1"], mdir, os.path.join(root, "main"), threads=4,
                         start_servers=1, server_limit=2,
                         conf_extra="Listen 127.0.0.1:%d" % ports["P2"])
    return "\n".join(lines) + "\n" + render(SITE_BLOCK, ports, root)

# ---------------------------------------------------------------- processes


class Daemon:
    """One server (Apache or mpmd) run in the foreground as a child process."""

    def __init__(self, name, workdir, make_argv, make_conf, start_timeout):
        self.name = name
        self.dir = workdir
        self.make_argv = make_argv
        self.make_conf = make_conf
        self.start_timeout = start_timeout
        self.proc = None
        self.ports = None
        self.known = {}
        self.conf = os.path.join(workdir, name + ".conf")

    def _read(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def output(self, limit=3000):
        text = ""
        for name in ("stderr.log", "error.log"):
            part = self._read(name)
            if part.strip():
                text += "---- %s ----\n%s" % (name, part if part.endswith("\n") else part + "\n")
        return text[-limit:]

    def start(self):
        """Start on two fresh ports (3 tries when a port was taken); True when both answer."""
        for _attempt in range(3):
            self.ports = {"P1": free_port(), "P2": free_port()}
            if self.ports["P1"] == self.ports["P2"]:
                continue
            with open(self.conf, "w") as f:
                f.write(self.make_conf(self.ports))
            for name in ("stderr.log", "error.log"):
                try:
                    os.unlink(os.path.join(self.dir, name))
                except OSError:
                    pass
            err = open(os.path.join(self.dir, "stderr.log"), "wb")
            try:
                self.proc = subprocess.Popen(
                    self.make_argv(self.conf), stdin=subprocess.DEVNULL, stdout=err,
                    stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
            finally:
                err.close()
            st = proc_stat(self.proc.pid)
            self.known[self.proc.pid] = st[2] if st else None
            if self._wait_ready():
                return True
            self.stop()
            if "Address already in use" not in self.output():
                return False
        return False

    def _remember_children(self):
        for k in proc_children(self.proc.pid):
            if k not in self.known:
                st = proc_stat(k)
                if st:
                    self.known[k] = st[2]

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            self._remember_children()
            if all(self._answers(p) for p in self.ports.values()):
                self._remember_children()
                return True
            time.sleep(0.1)
        return False

    @staticmethod
    def _answers(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
                s.settimeout(2.0)
                s.sendall(b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def stop(self):
        """SIGTERM the server by pid, SIGKILL after STOP_TIMEOUT; then any child left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._remember_children()
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        for pid, start in self.known.items():
            if pid != self.proc.pid and pid_alive(pid, start):
                mpmdtest.wait_until(lambda: not pid_alive(pid, start), 2.0)
                if pid_alive(pid, start):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

# ---------------------------------------------------------------- requests


def fetch(req, ports):
    """Send REQ to the server on PORTS; the Response, or an error string."""
    headers = [] if req.host is None else [("Host", render(req.host, ports, ""))]
    data = build_request(req.method, req.path, req.version, headers, host=None)
    try:
        with Conn(ports[req.port]) as c:
            c.send(data)
            return c.read_response(head=(req.method == "HEAD"))
    except (OSError, mpmdtest.ProtocolError, ValueError) as e:
        return "error: %s: %s" % (type(e).__name__, e)


def norm(text, ports):
    """TEXT with the server's own ports written P1, P2."""
    if text is None:
        return None
    for key, port in ports.items():
        text = re.sub(r":%d(?![0-9])" % port, ":" + key, text)
    return text


def joined(resp, name):
    values = resp.header_all(name)
    return ", ".join(values) if values else None


def compared_headers(*resps):
    names = {}
    for r in resps:
        for k, _ in r.headers:
            if k.lower().startswith("x-") or k.lower() == "cache-control":
                names.setdefault(k.lower(), k)
    return [names[k] for k in sorted(names)]


def summary(resp, ports):
    """One-line description of a response for the diagnostics."""
    if isinstance(resp, str):
        return [resp]
    out = ["%s" % resp.status_line]
    for k, v in resp.headers:
        if k.lower() in ("location", "content-type", "content-length", "cache-control") \
                or k.lower().startswith("x-"):
            out.append("  %s: %s" % (k, norm(v, ports)))
    if resp.body:
        out.append("  body %d bytes: %r" % (len(resp.body), resp.body[:100]))
    return out


def body_compared(req, a, m):
    if req.method == "HEAD":
        return False
    return req.errdoc or 200 <= a.status < 300 or 200 <= m.status < 300


def compare(t, req, a, aports, m, mports):
    """TAP lines comparing Apache's answer A with mpmd's M; True when all agree."""
    name = req.label()
    before = t.failed
    if isinstance(a, str) or isinstance(m, str):
        t.ok(False, "%s: both answer" % name,
             diag="apache: %s\nmpmd:   %s" % (summary(a, aports)[0], summary(m, mports)[0]))
        return False

    def same(what, av, mv):
        t.ok(av == mv, "%s: %s" % (name, what),
             diag="apache: %s\nmpmd:   %s" % (mpmdtest._short(av), mpmdtest._short(mv)))

    same("status", a.status, m.status)
    al, ml = norm(a.header("Location"), aports), norm(m.header("Location"), mports)
    if al is not None or ml is not None:
        same("Location", al, ml)
    if req.errdoc or 200 <= a.status < 300 or 200 <= m.status < 300:
        same("Content-Type", a.header("Content-Type"), m.header("Content-Type"))
    for h in compared_headers(a, m):
        same(h, joined(a, h), joined(m, h))
    if body_compared(req, a, m):
        same("body", a.body, m.body)
    return t.failed == before

# ---------------------------------------------------------------- main


def run_apache(tmp, root, t):
    adir = os.path.join(tmp, "apache")
    os.makedirs(adir)
    os.chmod(adir, 0o755)
    d = Daemon("apache", adir, lambda conf: [APACHE, "-f", conf, "-DFOREGROUND"],
               lambda ports: apache_conf(adir, root, ports), APACHE_START_TIMEOUT)
    try:
        if not t.ok(d.start(), "apache2 starts with the shared site config",
                    diag=d.output()):
            return None, None
        return d.ports, [fetch(r, d.ports) for r in map(lambda x: Req(*x), REQUESTS)]
    finally:
        d.stop()


def run_mpmd(tmp, root, t):
    mdir = os.path.join(tmp, "mpmd")
    os.makedirs(mdir)
    d = Daemon("mpmd", mdir, lambda conf: [mpmdtest.MPMD, "-f", conf],
               lambda ports: mpmd_conf(mdir, root, ports), START_TIMEOUT)
    try:
        if not t.ok(d.start(), "mpmd starts with the shared site config",
                    diag="exit status %r; output:\n%s" % (
                        d.proc.poll() if d.proc else None, d.output())):
            return None, None
        return d.ports, [fetch(r, d.ports) for r in map(lambda x: Req(*x), REQUESTS)]
    finally:
        d.stop()


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmdtest-apache-")
    try:
        os.chmod(tmp, 0o755)          # Apache's children run as nobody when we are root
        root = os.path.join(os.path.realpath(tmp), "www")
        make_site(root)
        reqs = [Req(*x) for x in REQUESTS]
        aports, aresp = run_apache(tmp, root, t)
        if aresp is None:
            return
        if ONLY_APACHE:
            for req, resp in zip(reqs, aresp):
                status = resp if isinstance(resp, str) else resp.status
                t.ok(status == req.want, "apache: %s -> %s" % (req.label(), req.want),
                     diag="got %s" % (status,))
                t.diag("\n".join(summary(resp, aports)))
            return
        mports, mresp = run_mpmd(tmp, root, t)
        if mresp is None:
            return
        agreed = 0
        for req, a, m in zip(reqs, aresp, mresp):
            if compare(t, req, a, aports, m, mports):
                agreed += 1
        t.diag("compared %d requests: %d agreed, %d differed"
               % (len(reqs), agreed, len(reqs) - agreed))
    finally:
        if os.environ.get("MPMD_KEEP"):
            sys.stdout.write("# kept %s\n" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def entry():
    if not os.access(APACHE, os.X_OK):
        print("1..0 # SKIP apache2 not installed (%s)" % APACHE)
        return 0
    if not ONLY_APACHE:
        return run_tests(main)
    t = Tap()

    def on_alarm(signum, frame):
        raise mpmdtest.Watchdog("script watchdog expired")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(os.environ.get("MPMD_TEST_TIMEOUT", "600")))
    try:
        with t.guard("test script"):
            main(t)
    except mpmdtest.Watchdog:
        t.fail_exception("watchdog")
    finally:
        signal.alarm(0)
    t.done()
    return 0


if __name__ == "__main__":
    raise SystemExit(entry())
