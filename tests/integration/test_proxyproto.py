#!/usr/bin/env python3
# test_proxyproto.py: the PROXY protocol on Listens marked for it (TAP on stdout).
#
# Under MPM event and MPM worker, a server with its harness port plain, a
# port "Listen ... proxy", a port owned by a <VirtualHost> with
# "RemoteIPProxyProtocol On", and an https port "Listen ... https proxy":
#  1 v1 TCP4 / TCP6 / UNKNOWN and v2 TCP4 / TCP6 / LOCAL headers, whole and
#    split across packets with the request pipelined behind them: the
#    access log's %a and %h show the header's source (LOCAL / UNKNOWN: the
#    socket's own 127.0.0.1);
#  2 Require ip decides on the header's source;
#  3 ProxyPass: the upstream's X-Forwarded-For is the header's source, and
#    a CGI script's REMOTE_ADDR;
#  4 no header, a garbled one, a stalled one: the connection is closed
#    without an answer (the stalled one after RequestReadTimeout header=);
#    the error log says why;
#  5 RemoteIPProxyProtocol On in a virtual host marks its address;
#  6 https: the PROXY header comes before the TLS handshake;
#  7 a real HAProxy (send-proxy, send-proxy-v2 with health checks)
#    in front: curl from 127.0.0.2 and from ::1 is logged with that address;
#  8 RemoteIPProxyProtocolExceptions in a virtual host: a client it names
#    (127.0.0.2) is served without a header and its address logged (a
#    header from it is a bad request, as in Apache: it is not looked
#    for); other clients still need one; a bad address is a config error
#    naming file:line.
# Runtime about 15 s.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_proxyproto.py

import http.server
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import haproxytest
import mpmdtest
import tlspki
from haproxytest import HAProxy
from mpmdtest import A_TXT, Conn, Server, free_port, run_tests, wait_until

MPMS = ("event", "worker")
LOG_BOUND = 5.0
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
GET_A = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def v1(proto, src, dst, sport, dport):
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def v2(cmd, src=None, dst=None, sport=0, dport=0, tlvs=b""):
    """A v2 header: CMD 0 LOCAL, 1 PROXY; addresses of either family."""
    if src is None:
        fam, block = 0x00, b""
    elif ":" in src:
        fam = 0x21
        block = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                 + struct.pack("!HH", sport, dport))
    else:
        fam = 0x11
        block = (socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
                 + struct.pack("!HH", sport, dport))
    body = block + tlvs
    return V2_SIG + struct.pack("!BBH", 0x20 | cmd, fam, len(body)) + body


class Echo(http.server.BaseHTTPRequestHandler):
    """The upstream for ProxyPass: answers with the X-Forwarded-For it got."""

    def do_GET(self):
        body = ("xff=%s\n" % self.headers.get("X-Forwarded-For", "-")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Setup:
    def __init__(self, tmp, pki, mpm, upstream):
        self.tmp = tmp
        self.pp = free_port()       # Listen ... proxy
        self.vh = free_port()       # owned by a vhost with RemoteIPProxyProtocol On
        self.tp = free_port()       # Listen ... https proxy
        self.ex = free_port()       # vhost: RemoteIPProxyProtocol On, with exceptions
        self.log = os.path.join(tmp, "pp-%s.log" % mpm)
        self.extra = "\n".join([
            "Listen 127.0.0.1:%d proxy" % self.pp,
            "Listen 127.0.0.1:%d" % self.vh,
            "Listen 127.0.0.1:%d https proxy" % self.tp,
            "Listen 127.0.0.1:%d" % self.ex,
            "RequestReadTimeout header=2 body=20",
            'LogFormat "%a %h %>s %U %{c}a" ppfmt',
            "CustomLog %s ppfmt" % self.log,
            "<Location /sub/>",
            "    Require ip 192.0.2.0/24 2001:db8::/32",
            "</Location>",
            "ProxyPass /up/ http://127.0.0.1:%d/" % upstream,
            "ScriptAlias /cgi/ %s/cgi/" % tmp,
            "<VirtualHost 127.0.0.1:%d>" % self.vh,
            "    ServerName vh.test",
            "    RemoteIPProxyProtocol On",
            "</VirtualHost>",
            "<VirtualHost 127.0.0.1:%d>" % self.ex,
            "    ServerName ex.test",
            "    RemoteIPProxyProtocol On",
            "    RemoteIPProxyProtocolExceptions 10.1 192.0.2.0/255.255.255.0",
            "    RemoteIPProxyProtocolExceptions 127.0.0.2/32",
            "</VirtualHost>",
            "<VirtualHost 127.0.0.1:%d>" % self.tp,
            "    ServerName localhost",
            "    SSLEngine on",
            "    SSLCertificateFile %s" % pki["ec_crt"],
            "    SSLCertificateKeyFile %s" % pki["ec_key"],
            "</VirtualHost>",
        ])

    def lines(self):
        return mpmdtest.file_lines(self.log)

    def logged(self, line, start):
        """Wait until LINE is among the log lines after the first START."""
        return wait_until(lambda: line in self.lines()[start:], LOG_BOUND)


def exchange(port, pieces, pause=0.05):
    """Send PIECES (a pause between them) on a new connection; the response."""
    with Conn(port) as c:
        for i, p in enumerate(pieces):
            if i:
                time.sleep(pause)
            c.send(p)
        return c.read_response()


def check_headers(t, s, port, what):
    """Section 1: each header kind, whole and split."""
    cases = [
        ("v1 TCP4 whole", [v1("TCP4", "192.0.2.7", "10.0.0.1", 51000, 80) + GET_A], "192.0.2.7"),
        ("v1 TCP4 split, request pipelined",
         [b"PROX", b"Y TCP4 198.51.100.9 10.0.0.1 4000 80\r",
          b"\n" + GET_A], "198.51.100.9"),
        ("v1 TCP6", [v1("TCP6", "2001:db8::7", "::1", 1, 2), GET_A], "2001:db8::7"),
        ("v1 UNKNOWN", [b"PROXY UNKNOWN\r\n" + GET_A], "127.0.0.1"),
        ("v2 TCP4 in three pieces",
         [v2(1, "203.0.113.5", "10.0.0.1", 1234, 80)[:7],
          v2(1, "203.0.113.5", "10.0.0.1", 1234, 80)[7:20],
          v2(1, "203.0.113.5", "10.0.0.1", 1234, 80)[20:] + GET_A], "203.0.113.5"),
        ("v2 TCP6 with TLVs", [v2(1, "2001:db8::42", "::1", 5, 80,
                                  tlvs=b"\x04\x00\x02\x00\x00" + b"\x02\x00\x01x") + GET_A],
         "2001:db8::42"),
        ("v2 LOCAL (a health check)", [v2(0) + GET_A], "127.0.0.1"),
    ]
    for desc, pieces, addr in cases:
        with t.guard("%s: %s" % (what, desc)):
            start = len(s.lines())
            r = exchange(port, pieces)
            t.ok(r.status == 200 and r.body == A_TXT, "%s: %s answered 200" % (what, desc),
                 repr(r))
            line = "%s %s 200 /a.txt 127.0.0.1" % (addr, addr)
            t.ok(s.logged(line, start), "%s: %s logged as %s" % (what, desc, addr),
                 "log: %r" % s.lines()[start:])


def check_require(t, port):
    """Section 2."""
    for src, want in (("192.0.2.7", 200), ("198.51.100.1", 403), ("2001:db8::9", 200),
                      ("2001:db9::9", 403)):
        with t.guard("Require ip for %s" % src):
            fam = "TCP6" if ":" in src else "TCP4"
            dst = "::1" if ":" in src else "127.0.0.1"
            r = exchange(port, [v1(fam, src, dst, 1000, 80) +
                                b"GET /sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
            t.eq(r.status, want, "Require ip 192.0.2.0/24 2001:db8::/32: %s gets %d" % (src, want))


def check_xff(t, port):
    """Section 3 (and CGI's REMOTE_ADDR)."""
    with t.guard("CGI REMOTE_ADDR"):
        r = exchange(port, [v1("TCP6", "2001:db8::cafe", "::1", 1, 80) +
                            b"GET /cgi/env.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        t.eq((r.status, r.body), (200, b"remote=2001:db8::cafe\n"),
             "CGI: REMOTE_ADDR is the header's source")
    with t.guard("X-Forwarded-For"):
        r = exchange(port, [v2(1, "192.0.2.99", "10.0.0.1", 1, 80) +
                            b"GET /up/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        t.eq((r.status, r.body), (200, b"xff=192.0.2.99\n"),
             "ProxyPass: the upstream's X-Forwarded-For is the header's source")


def closed_without_answer(port, pieces, timeout=mpmdtest.IO_TIMEOUT):
    with Conn(port) as c:
        for p in pieces:
            c.send(p)
        return c.closed_by_peer(timeout)


def check_refusals(t, srv, port, what):
    """Section 4."""
    cases = [("no header", [GET_A]),
             ("leading zero", [b"PROXY TCP4 192.0.2.07 10.0.0.1 1 2\r\n" + GET_A]),
             ("v2 version 1", [V2_SIG + b"\x11\x11\x00\x0c" + b"\x00" * 12 + GET_A]),
             ("v1 without CRLF in 107 bytes", [b"PROXY UNKNOWN " + b"x" * 120])]
    for desc, pieces in cases:
        with t.guard("%s: %s" % (what, desc)):
            t.ok(closed_without_answer(port, pieces), "%s: %s: closed without an answer"
                 % (what, desc))
    with t.guard("%s: stalled header" % what):
        t0 = time.monotonic()
        closed = closed_without_answer(port, [b"PROXY TCP4 "], timeout=8)
        took = time.monotonic() - t0
        t.ok(closed and took < 6, "%s: a stalled header is closed after RequestReadTimeout "
             "header=2 (%.1f s)" % (what, took))
    t.ok(wait_until(lambda: "RemoteIPProxyProtocol: no PROXY protocol header"
                    in srv.errlog_text(), LOG_BOUND),
         "%s: the error log says why" % what, srv.errlog_text()[-600:])


def check_tls(t, s, pki):
    """Section 6."""
    ctx = ssl.create_default_context(cafile=pki["ca"])
    with t.guard("https after a PROXY header"):
        start = len(s.lines())
        raw = socket.create_connection(("127.0.0.1", s.tp), timeout=5)
        raw.sendall(v2(1, "192.0.2.77", "10.0.0.1", 9, 443))
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(GET_A)
            data = mpmdtest.recv_to_eof(tls)
        t.ok(data.startswith(b"HTTP/1.1 200") and data.endswith(A_TXT),
             "https: the PROXY v2 header, then the TLS handshake and a request", data[:200])
        t.ok(s.logged("192.0.2.77 192.0.2.77 200 /a.txt 127.0.0.1", start), "https: logged "
             "with the header's source, %{c}a the socket's", s.lines()[start:])


def exchange_from(source, port, data):
    """Send DATA from address SOURCE on a new connection; the response, or None
    when the server closes without one."""
    with Conn(port, source=source) as c:
        c.send(data)
        if c.closed_by_peer(mpmdtest.IO_TIMEOUT) and not c.buf:
            return None
        return c.read_response()


def check_exceptions(t, s, what):
    """Section 8."""
    start = len(s.lines())
    r = exchange_from("127.0.0.2", s.ex, GET_A)
    t.ok(r is not None and r.status == 200 and r.body == A_TXT,
         "%s: a client RemoteIPProxyProtocolExceptions names is served without a header"
         % what, r)
    t.ok(s.logged("127.0.0.2 127.0.0.2 200 /a.txt 127.0.0.2", start),
         "%s: and logged with its own address" % what, s.lines()[start:])
    r = exchange_from("127.0.0.2", s.ex, v1("TCP4", "192.0.2.9", "10.0.0.1", 5, 80) + GET_A)
    t.ok(r is not None and r.status == 400, "%s: a PROXY header from an excepted client is "
         "not looked for: 400, as Apache answers" % what, r)
    r = exchange_from("127.0.0.1", s.ex, GET_A)
    t.ok(r is None, "%s: a client not excepted still needs a header" % what, r)
    start = len(s.lines())
    r = exchange_from("127.0.0.1", s.ex, v1("TCP4", "192.0.2.9", "10.0.0.1", 5, 80) + GET_A)
    t.ok(r is not None and r.status == 200, "%s: and is served with one" % what, r)
    t.ok(s.logged("192.0.2.9 192.0.2.9 200 /a.txt 127.0.0.1", start),
         "%s: logged with the header's source" % what, s.lines()[start:])


def check_exception_errors(t, tmp):
    """Section 8: configuration errors name the file, line and directive."""
    for bad in ("300.1.1.1", "10.0.0.0/33", "example.com"):
        path = os.path.join(tmp, "bad-except.conf")
        with open(path, "w") as f:
            f.write("Listen 127.0.0.1:%d\nRemoteIPProxyProtocol On\n"
                    "RemoteIPProxyProtocolExceptions 127.0.0.1 %s\n" % (free_port(), bad))
        rc, out, err = mpmdtest.run_mpmd(["-t", "-f", path])
        t.ok(rc != 0 and ("%s:3:" % path) in err and "RemoteIPProxyProtocolExceptions" in err
             and bad in err, "RemoteIPProxyProtocolExceptions %s: -t names %s:3 and the "
             "directive" % (bad, os.path.basename(path)), err)


def run_server(t, tmp, pki, mpm, upstream):
    s = Setup(tmp, pki, mpm, upstream)
    with Server(conf_extra=s.extra, mpm=mpm, tap=t) as srv:
        what = "MPM %s" % mpm
        r = exchange(srv.port, [GET_A])
        t.eq(r.status, 200, "%s: the plain Listen still answers without a header" % what)
        check_headers(t, s, s.pp, what + " Listen proxy")
        check_headers(t, s, s.vh, what + " vhost RemoteIPProxyProtocol On")
        check_require(t, s.pp)
        check_xff(t, s.pp)
        check_refusals(t, srv, s.pp, what + " Listen proxy")
        check_refusals(t, srv, s.vh, what + " vhost RemoteIPProxyProtocol On")
        check_tls(t, s, pki)
        check_exceptions(t, s, what)
        if mpm == "event":
            check_haproxy(t, s)


# ------------------------------------------------------------ HAProxy

HAPROXY_CFG = """global
    maxconn 100
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend v1
    bind 127.0.0.1:{h1}
    bind [::1]:{h1}
    default_backend mpmd_v1
frontend v2
    bind 127.0.0.1:{h2}
    default_backend mpmd_v2
backend mpmd_v1
    server s1 127.0.0.1:{pp} send-proxy
backend mpmd_v2
    option httpchk GET /a.txt
    server s2 127.0.0.1:{pp} send-proxy-v2 check inter 300ms check-send-proxy
"""


def curl(url, source):
    return subprocess.run(["curl", "-sS", "-g", "--interface", source, "--max-time", "5", url],
                          capture_output=True, timeout=10)


def check_haproxy(t, s):
    """Section 7."""
    why = haproxytest.missing()
    if why:
        t.skip("HAProxy in front", why)
        return
    if shutil.which("curl") is None:
        t.skip("HAProxy in front", "no curl")
        return
    h1, h2 = free_port(), free_port()
    with t.guard("haproxy in front"), \
            HAProxy(s.tmp, HAPROXY_CFG.format(h1=h1, h2=h2, pp=s.pp), [h1, h2]):
        t.ok(True, "haproxy started")
        start = len(s.lines())
        for desc, url, source, addr in (
                ("send-proxy (v1)", "http://127.0.0.1:%d/a.txt" % h1, "127.0.0.2", "127.0.0.2"),
                ("send-proxy (v1) from IPv6", "http://[::1]:%d/a.txt" % h1, "::1", "::1"),
                ("send-proxy-v2", "http://127.0.0.1:%d/a.txt" % h2, "127.0.0.3", "127.0.0.3")):
            out = curl(url, source)
            t.ok(out.returncode == 0 and out.stdout == A_TXT, "haproxy %s: curl gets a.txt"
                 % desc, out.stderr.decode(errors="replace") + repr(out.stdout[:200]))
            t.ok(s.logged("%s %s 200 /a.txt 127.0.0.1" % (addr, addr), start),
                 "haproxy %s: logged as the client %s" % (desc, addr), s.lines()[start:])
        # The health checks (check-send-proxy with v2) come as LOCAL: the
        # socket's own address.
        t.ok(s.logged("127.0.0.1 127.0.0.1 200 /a.txt 127.0.0.1", start),
             "haproxy send-proxy-v2 health checks are answered (logged as 127.0.0.1)",
             s.lines()[start:])


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmd-pp-")
    os.chmod(tmp, 0o755)
    os.makedirs(os.path.join(tmp, "cgi"))
    script = os.path.join(tmp, "cgi", "env.cgi")
    with open(script, "w") as f:
        f.write('#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nremote=%s\\n" "$REMOTE_ADDR"\n')
    os.chmod(script, 0o755)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        pki = tlspki.make_pki(os.path.join(tmp, "pki"))
        for mpm in MPMS:
            run_server(t, tmp, pki, mpm, srv.server_address[1])
        check_exception_errors(t, tmp)
    finally:
        srv.shutdown()
        if not os.environ.get("MPMD_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests(main)
