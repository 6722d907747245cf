#!/usr/bin/env python3
# test_vhosts.py: name-based virtual hosts of a running mpmd (TAP on stdout).
#
# Three <VirtualHost> sections on two Listen addresses, as an Apache
# operator writes them: two name-based sites on the harness's port (one
# with ServerAlias names and a wildcard) and one on a second port.  Driven
# with curl --resolve (the Host a browser would send) and raw requests:
# selection by ServerName and ServerAlias, the first site as the default
# for unknown or missing Host, the second address's own site, an
# absolute-form target's host winning over Host, the same path cached
# separately per site, a site's own AccessLog and ErrorLog, and mpmd -S.
# MPM event and worker.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_vhosts.py

import os
import shutil
import subprocess
import tempfile

import mpmdtest
from mpmdtest import Server, free_port, run_mpmd, run_tests

SITES = {"a": b"<p>site A</p>\n", "b": b"<p>site B</p>\n", "c": b"<p>site C</p>\n"}


def make_sites(tmp):
    for name, body in SITES.items():
        os.makedirs(os.path.join(tmp, name))
        for fname, data in (("index.html", body), ("x.zzqq", b"zz\n")):
            with open(os.path.join(tmp, name, fname), "wb") as f:
                f.write(data)


def vhost_conf(tmp, port, port2):
    return "\n".join([
        "Listen 127.0.0.1:%d" % port2,
        "AddType application/x-main zzqq",
        "<VirtualHost *:%d>" % port,
        "    ServerName a.example",
        "    ServerAlias www.a.example *.a.test",
        "    DocumentRoot %s/a" % tmp,
        "</VirtualHost>",
        "<VirtualHost *:%d>" % port,
        "    ServerName b.example",
        "    DocumentRoot %s/b" % tmp,
        "    AddType application/x-site-b .ZZQQ",
        "    AccessLog %s/b-access.log common" % tmp,
        "    ErrorLog %s/b-error.log" % tmp,
        "    <Location /denied>",
        "        Require all denied",
        "    </Location>",
        "</VirtualHost>",
        "<VirtualHost 127.0.0.1:%d>" % port2,
        "    ServerName c.example",
        "    DocumentRoot %s/c" % tmp,
        "</VirtualHost>",
    ])


def curl(host, port, path="/index.html"):
    """curl --resolve HOST:PORT:127.0.0.1 http://HOST:PORT/PATH -> (status, body)."""
    p = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10",
                        "--resolve", "%s:%d:127.0.0.1" % (host, port),
                        "http://%s:%d%s" % (host, port, path)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code or 0), body


def raw(port, data):
    with mpmdtest.Conn(port) as c:
        c.send(data)
        r = c.read_response()
        return r.status, r.body


def check_sites(t, s, port2, tag):
    for host, want in [("a.example", "a"), ("b.example", "b"), ("www.a.example", "a"),
                       ("x.y.a.test", "a"), ("unknown.example", "a")]:
        t.eq(curl(host, s.port), (200, SITES[want]),
             "%s: curl --resolve %s -> site %s" % (tag, host, want))
    t.eq(curl("c.example", port2), (200, SITES["c"]), "%s: second address -> site c" % tag)
    t.eq(curl("a.example", port2), (200, SITES["c"]),
         "%s: second address, Host a.example -> its only site c" % tag)
    t.eq(raw(s.port, b"GET /index.html HTTP/1.1\r\nHost: B.EXAMPLE.:%d\r\n\r\n" % s.port),
         (200, SITES["b"]), "%s: Host case, port and trailing dot ignored" % tag)
    t.eq(raw(s.port, b"GET /index.html HTTP/1.0\r\n\r\n"), (200, SITES["a"]),
         "%s: HTTP/1.0 without Host -> the default (first) site" % tag)
    t.eq(raw(s.port, b"GET http://b.example/index.html HTTP/1.1\r\nHost: a.example\r\n\r\n"),
         (200, SITES["b"]), "%s: absolute-form target's host wins over Host" % tag)
    for host, want in [("a.example", "application/x-main"), ("b.example", "application/x-site-b")]:
        with mpmdtest.Conn(s.port) as c:
            c.request("GET", "/x.zzqq", headers=[("Host", host)])
            t.eq(c.read_response().header("Content-Type"), want,
                 "%s: AddType for %s: %s (a site adds to the main server's)" % (tag, host, want))
    # The same path from the file cache, alternating sites on one connection.
    with mpmdtest.Conn(s.port) as c:
        got = []
        for host in ["a.example", "b.example"] * 3:
            c.request("GET", "/index.html", headers=[("Host", host)])
            got.append(c.read_response().body)
    t.eq(got, [SITES["a"], SITES["b"]] * 3,
         "%s: one path, two sites, cached apart (6 requests on one connection)" % tag)


def read_text(path):
    try:
        with open(path, encoding="latin-1") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def check_logs(t, s, tmp, tag):
    """b.example logs to its own files; a.example to the main server's."""
    b_access, b_error = os.path.join(tmp, "b-access.log"), os.path.join(tmp, "b-error.log")
    main_access, main_error = os.path.join(s.dir, "access.log"), os.path.join(s.dir, "error.log")
    mark = tag.replace(" ", "-")
    t.eq(curl("b.example", s.port, "/b-%s" % mark)[0], 404, "%s: b.example 404 for the log" % tag)
    t.eq(curl("a.example", s.port, "/a-%s" % mark)[0], 404, "%s: a.example 404 for the log" % tag)
    t.eq(curl("b.example", s.port, "/denied/%s" % mark)[0], 403, "%s: Require all denied: 403" % tag)
    t.ok(mpmdtest.wait_until(lambda: "/denied/%s" % mark in read_text(b_access) and
                             "/a-%s" % mark in read_text(main_access), 10),
         "%s: both access logs written" % tag)
    b_lines, main_lines = read_text(b_access), read_text(main_access)
    t.ok('"GET /b-%s HTTP/1.1" 404' % mark in b_lines and "/a-%s" % mark not in b_lines,
         "%s: b.example's requests in its own AccessLog only" % tag, diag=b_lines[-400:])
    t.ok("/b-%s" % mark not in main_lines and '"GET /a-%s HTTP/1.1" 404' % mark in main_lines,
         "%s: a.example's in the main AccessLog, b.example's not" % tag, diag=main_lines[-400:])
    t.ok('" 403 ' in b_lines and "curl/" not in b_lines and "curl/" in main_lines,
         "%s: b.example's AccessLog in its own format (common: no User-Agent)" % tag)
    t.ok(mpmdtest.wait_until(lambda: "denied by server configuration: /denied/%s" % mark
                             in read_text(b_error), 10),
         "%s: the refusal is in b.example's ErrorLog" % tag, diag=read_text(b_error)[-400:])
    t.ok("/denied/%s" % mark not in read_text(main_error),
         "%s: and not in the main ErrorLog" % tag)


def check_dump(t, s, port, port2, tmp):
    rc, out, err = run_mpmd(["-S", "-f", s.conf])
    lines = out.splitlines()
    t.eq(rc, 0, "-S: exit 0")
    t.eq(lines[:2], ["VirtualHost configuration:",
                     "%-22s is a NameVirtualHost" % ("*:%d" % port)],
         "-S: the shared address is a NameVirtualHost")
    t.ok("         port %d namevhost b.example (%s:" % (port, s.conf) in out and
         "                 alias *.a.test" in lines and
         any(line.startswith("127.0.0.1:%d" % port2) and "c.example" in line
             for line in lines),
         "-S: names, aliases and the second address listed", diag=out)
    t.ok("Syntax OK" in err, "-S: Syntax OK", diag=err)


def main(t):
    if not shutil.which("curl"):
        t.skip("virtual hosts", "curl not installed")
        return
    tmp = tempfile.mkdtemp(prefix="mpmdtest-vhosts-")
    try:
        make_sites(tmp)
        for mpm in ("event", "worker"):
            port2 = free_port()
            tag = "%s vhosts" % mpm
            with t.guard(tag), Server(mpm=mpm, tap=t, conf_extra="") as s:
                # The harness picks the port at start: rewrite the config with
                # the sections for it, then restart gracefully onto it.
                with open(s.conf, "a") as f:
                    f.write(vhost_conf(tmp, s.port, port2) + "\n")
                os.kill(s.pid, mpmdtest.signal.SIGUSR1)
                t.ok(mpmdtest.wait_until(lambda: curl("b.example", s.port)[1] == SITES["b"],
                                         10), "%s: sections in force after USR1" % tag)
                check_sites(t, s, port2, tag)
                check_logs(t, s, tmp, tag)
                if mpm == "event":
                    check_dump(t, s, s.port, port2, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
