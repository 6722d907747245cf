#!/usr/bin/env python3
# test_tls.py: HTTPS of a running mpmd (TAP on stdout).
#
# A throw-away PKI (tlspki.py) and, under MPM event and MPM worker, a server
# with an https Listen and four TLS sites on it (a.test with an ECDSA and an
# RSA certificate, b.test, c.test with a chain, localhost with a.test's
# certificates) plus two plain sites on the harness's port.  Driven with
# Python's ssl module, curl and openssl s_client:
#  1 requests over TLS: exact bodies, keep-alive, pipelining, 3 MB file by
#    sha256, HEAD, a 200 KB and a chunked POST read by a CGI script (which
#    sees HTTPS=on), a 200 KB POST to a file (405, then a clean end);
#  2 curl: verified, ALPN http/1.1, the chain of c.test;
#  3 s_client: ALPN, h2-only (no ALPN, HTTP/1.1 anyway), ECDSA and RSA-PSS
#    from one site, TLS 1.3 by default, 1.2 on demand, 1.1 refused (checked
#    against an openssl s_server first so the refusal means something),
#    renegotiation refused;
#  4 SNI: a certificate per name, default site for an unknown or no name,
#    421 for a Host with other certificates, the Host's site for the same
#    certificates, 400 for HTTP/1.0 without Host after SNI;
#  5 resumption: 20 s_client -sess_in and 8 Python sessions resumed, on at
#    least 2 children (%P in the access log), TLS 1.2 too, and after a
#    graceful restart with a ticket from before it;
#  7 robustness: garbage, plain HTTP and aborted transfers leave every
#    child alive, 50 clients x 5 keep-alive requests;
#  8 close_notify before the server closes (Python's ssl raises
#    SSLEOFError without it);
#  9 https:// in redirects, Redirect to https from a plain site, HSTS with
#    Header always, %{HTTPS}x and the other SSL log variables;
# 10 kTLS available or the fallback announced.
# Once: 6 configuration errors with mpmd -t (FILE:LINE, the file named).
# Then, under both MPMs, a second server with SSLSessionTickets off (never
# resumed), RequestReadTimeout header=2 (a stalled handshake is closed),
# KeepAliveTimeout 1 (close_notify on the idle close), and graceful restarts
# onto a broken certificate (old one kept, error logged) and onto a replaced
# one (new one served).
# Bounds are upper bounds only.  Runtime about 35 s.
# Run by hand:  python3 tests/integration/test_tls.py  (MPMD=/abs/path/mpmd for another binary)

import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import mpmdtest
import tlspki
from mpmdtest import (A_TXT, INDEX_HTML, SUB_INDEX_HTML, Server, config_lines, docroot_files,
                      free_port, run_mpmd, run_tests, wait_until)

MPMS = ("event", "worker")
IO = 5.0                # every socket operation
LOG_BOUND = 5.0         # a request's access-log line reaches its file
RESTART_BOUND = 10.0    # a graceful restart has replaced the children / logged its error
STALL_BOUND = 8.0       # RequestReadTimeout header=2 (Timeout is 10: the bound tells them apart)
TOOL_TIMEOUT = 20       # one curl / openssl run
RESUME_N = 20           # s_client -sess_in runs per batch
PY_RESUME_N = 8         # Python connections resumed at once
BATCHES = 3             # batches tried until the resumed ones landed on >= 2 children
CLIENTS, PER_CLIENT = 50, 5
BIG = "big.bin"
SITES = {"b": b"<p>site b.test</p>\n", "c": b"<p>site c.test</p>\n",
         "l": b"<p>site localhost</p>\n"}
# The access log of the TLS tests: one line, space-separated fields.
LOGFMT = ("%P %{SSL_SESSION_RESUMED}x %{SSL_PROTOCOL}x %{SSL_CIPHER}x %{SSL_TLS_SNI}x "
          "%{HTTPS}x %>s %U %{X-Tag}i")
CGI_SCRIPT = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "HTTPS=$HTTPS"
echo "REQUEST_SCHEME=$REQUEST_SCHEME"
echo "SSL_PROTOCOL=$SSL_PROTOCOL"
echo "SSL_TLS_SNI=$SSL_TLS_SNI"
echo "SHA=$(sha256sum | cut -d' ' -f1)"
"""
HSTS = "max-age=63072000"

# ------------------------------------------------------------ setup


def sha(data):
    return hashlib.sha256(data).hexdigest()


def make_sites(tmp):
    for name, body in SITES.items():
        os.makedirs(os.path.join(tmp, name))
        with open(os.path.join(tmp, name, "index.html"), "wb") as f:
            f.write(body)
    os.makedirs(os.path.join(tmp, "cgi"))
    script = os.path.join(tmp, "cgi", "env.cgi")
    with open(script, "w") as f:
        f.write(CGI_SCRIPT)
    os.chmod(tmp, 0o755)
    for sub in list(SITES) + ["cgi"]:
        for root, _dirs, files in os.walk(os.path.join(tmp, sub)):
            os.chmod(root, 0o755)
            for fname in files:
                os.chmod(os.path.join(root, fname), 0o755 if fname.endswith(".cgi") else 0o644)


def tls_site(name, docroot, certs, extra=()):
    lines = ["<VirtualHost *:{tport}>", "    ServerName %s" % name,
             "    DocumentRoot %s" % docroot, "    SSLEngine on"]
    for crt, key in certs:
        lines += ["    SSLCertificateFile %s" % crt, "    SSLCertificateKeyFile %s" % key]
    return lines + ["    %s" % x for x in extra] + ["</VirtualHost>"]


def main_conf(tmp, pki):
    a_certs = [(pki["ec_crt"], pki["ec_key"]), (pki["rsa_crt"], pki["rsa_key"])]
    lines = ["Listen 127.0.0.1:{tport} https",
             "SSLSessionTicketKeyLifetime 60",
             'LogFormat "%s" tlsfmt' % LOGFMT,
             "CustomLog {dir}/tls.log tlsfmt",
             "<VirtualHost *:{port}>", "    ServerName plain.test",
             "    DocumentRoot {dir}/htdocs", "</VirtualHost>",
             "<VirtualHost *:{port}>", "    ServerName redir.test",
             "    Redirect permanent / https://a.test:{tport}/", "</VirtualHost>"]
    lines += tls_site("a.test", "{dir}/htdocs", a_certs,
                      ['Header always set Strict-Transport-Security "%s"' % HSTS,
                       "ScriptAlias /cgi-bin/ %s/cgi/" % tmp])
    lines += tls_site("b.test", "%s/b" % tmp, [(pki["b_crt"], pki["b_key"])])
    lines += tls_site("c.test", "%s/c" % tmp, [(pki["chain_crt"], pki["chain_key"])])
    lines += tls_site("localhost", "%s/l" % tmp, a_certs)
    return "\n".join(lines)


def aux_conf():
    lines = ["Listen 127.0.0.1:{tport} https",
             "SSLSessionTickets off",
             "RequestReadTimeout header=2",
             "KeepAliveTimeout 1",
             'LogFormat "%s" tlsfmt' % LOGFMT,
             "CustomLog {dir}/tls.log tlsfmt"]
    lines += tls_site("a.test", "{dir}/htdocs", [("{dir}/live.crt", "{dir}/live.key")])
    return "\n".join(lines)


class TlsServer(Server):
    """A Server whose extra config is a template: {dir}, {port} and {tport}
    (a TLS port picked here) are filled in when the config is written.
    COPIES: {name in the temp dir: source file} copied there first."""

    def __init__(self, template, copies=None, **kw):
        self.template = template
        self.copies = copies or {}
        self.tport = None
        super().__init__(**kw)

    def write_config(self):
        for name, src in self.copies.items():
            shutil.copyfile(src, os.path.join(self.dir, name))
        self.tport = free_port()
        self.conf_extra = (self.template.replace("{dir}", self.dir)
                           .replace("{port}", str(self.port))
                           .replace("{tport}", str(self.tport)))
        super().write_config()

    def path(self, name):
        return os.path.join(self.dir, name)

    def tls_log(self):
        """The tlsfmt lines, split into fields."""
        try:
            with open(self.path("tls.log"), encoding="latin-1") as f:
                return [line.split() for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def tagged(self, prefix):
        """Log lines whose X-Tag starts with PREFIX."""
        return [x for x in self.tls_log() if len(x) == 9 and x[8].startswith(prefix)]

    def wait_tagged(self, prefix, n):
        wait_until(lambda: len(self.tagged(prefix)) >= n, LOG_BOUND)
        return self.tagged(prefix)

# ------------------------------------------------------------ clients


def req(method, path, host="a.test", headers=(), body=b"", version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def contexts(pki):
    """verify: the CA and the host name; anyname: the CA only."""
    verify = ssl.create_default_context(cafile=pki["ca"])
    anyname = ssl.create_default_context(cafile=pki["ca"])
    anyname.check_hostname = False
    return verify, anyname


def subject_cn(cert):
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


class TlsConn(mpmdtest.Conn):
    """A TLS client connection with mpmdtest.Conn's reading helpers.
    Unexpected EOFs are errors (suppress_ragged_eofs=False): a recv that
    returns b"" means the server sent close_notify."""

    def __init__(self, port, ctx, sni="a.test", session=None, timeout=IO):
        self.port = port
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=sni, session=session,
                                        suppress_ragged_eofs=False)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(timeout)

    def get(self, path, host="a.test", headers=(), method="GET", body=b""):
        self.send(req(method, path, host, headers, body))
        return self.read_response(head=(method == "HEAD"))

    def cn(self):
        return subject_cn(self.sock.getpeercert())

    def end(self, timeout=IO):
        """How the server ends the connection once the client has read all:
        "close_notify" (recv gives b""), "data", "timeout", or the error."""
        if self.buf:
            return "data"
        if self.eof:
            return "close_notify"
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return "timeout"
        except ssl.SSLEOFError as e:
            return "EOF without close_notify (%s)" % e
        except OSError as e:
            return "%s: %s" % (type(e).__name__, e)
        if data:
            self.buf += data
            return "data"
        self.eof = True
        return "close_notify"


def raw_exchange(port, data, bound=IO):
    """Send DATA on a plain TCP connection, read until the server ends it:
    (how: eof/reset/timeout, bytes received, seconds taken)."""
    start = time.monotonic()
    got, how = b"", "timeout"
    with socket.create_connection(("127.0.0.1", port), timeout=IO) as s:
        s.sendall(data)
        deadline = start + bound
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = s.recv(4096)
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                how = "reset"
                break
            if not d:
                how = "eof"
                break
            got += d
    return how, got, time.monotonic() - start


def run_tool(argv, stdin=b"", timeout=TOOL_TIMEOUT):
    """(returncode, stdout+stderr as text) of a bounded tool run."""
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("latin-1")


def s_client(port, args, stdin=b""):
    return run_tool(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                    stdin)


def curl(args):
    p = subprocess.run(["curl", "-s", "--max-time", "10"] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT)
    return p.returncode, p.stdout, p.stderr.decode("latin-1")


def children_ready(s, n=2):
    return wait_until(lambda: len(s.children()) >= n, RESTART_BOUND)

# ------------------------------------------------------------ 1 requests


def check_requests(t, s, tag, ctx):
    files = docroot_files()
    with t.guard("%s requests" % tag), TlsConn(s.tport, ctx) as c:
        r = c.get("/index.html")
        t.eq((r.status, r.body), (200, INDEX_HTML), "%s: GET /index.html over TLS: 200 and "
             "the file's bytes" % tag)
        t.eq(c.sock.version(), "TLSv1.3", "%s: TLS 1.3 by default (Python client)" % tag)
        got = [(x.status, x.body) for x in (c.get("/a.txt"), c.get("/sub/index.html"))]
        t.eq(got, [(200, A_TXT), (200, SUB_INDEX_HTML)],
             "%s: 2 more requests on the same TLS connection (keep-alive)" % tag)
        c.send(req("GET", "/sub/index.html") + req("GET", "/index.html") + req("GET", "/a.txt"))
        got = [(x.status, x.body) for x in c.read_responses(3)]
        t.eq(got, [(200, SUB_INDEX_HTML), (200, INDEX_HTML), (200, A_TXT)],
             "%s: 3 pipelined requests in one send: 3 answers in order" % tag)
        for path in (BIG, "bin.dat"):
            r = c.get("/" + path)
            t.eq((r.status, len(r.body), sha(r.body)), (200, len(files[path]), sha(files[path])),
                 "%s: GET /%s (%d bytes): sha256 of the body" % (tag, path, len(files[path])))
        r = c.get("/" + BIG, method="HEAD")
        t.eq((r.status, r.header("Content-Length")), (200, str(len(files[BIG]))),
             "%s: HEAD /%s: 200 with the file's length" % (tag, BIG))
        r = c.get("/a.txt")
        t.eq((r.status, r.body), (200, A_TXT), "%s: after HEAD no body bytes came: the next "
             "answer is the next request's" % tag)
    with t.guard("%s POST to CGI" % tag), TlsConn(s.tport, ctx) as c:
        body = os.urandom(200 * 1024)
        r = c.get("/cgi-bin/env.cgi", method="POST", body=body,
                  headers=[("Content-Length", str(len(body))),
                           ("Content-Type", "application/octet-stream")])
        t.eq(r.status, 200, "%s: POST 200 KB to a CGI script over TLS: 200" % tag)
        t.contains("SHA=%s\n" % sha(body), r.text(),
                   "%s: the script read the 200 KB body whole (sha256)" % tag)
        for want in ("HTTPS=on\n", "REQUEST_SCHEME=https\n", "SSL_TLS_SNI=a.test\n"):
            t.contains(want, r.text(), "%s: CGI environment has %s" % (tag, want.strip()))
        t.match(r"SSL_PROTOCOL=TLSv1\.3\n", r.text(), "%s: CGI SSL_PROTOCOL=TLSv1.3" % tag)
        # A body this large ends the connection after the answer (as over TCP).
        if (r.header("Connection") or "").lower() == "close":
            t.eq(c.end(), "close_notify", "%s: the CGI answer said Connection: close: "
                 "close_notify follows" % tag)
    with t.guard("%s chunked POST to CGI" % tag), TlsConn(s.tport, ctx) as c:
        chunks = [os.urandom(n) for n in (1, 5000, 70000, 333)]
        coded = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in chunks) + b"0\r\n\r\n"
        r = c.get("/cgi-bin/env.cgi", method="POST", body=coded,
                  headers=[("Transfer-Encoding", "chunked")])
        t.eq(r.status, 200, "%s: chunked POST (75 KB) to the CGI script over TLS: 200" % tag)
        t.contains("SHA=%s\n" % sha(b"".join(chunks)), r.text(),
                   "%s: the script read the chunked body whole (sha256)" % tag)
    with t.guard("%s POST to a file" % tag), TlsConn(s.tport, ctx) as c:
        body = b"x" * (200 * 1024)
        c.send(req("POST", "/a.txt", headers=[("Content-Length", str(len(body)))], body=body))
        r = c.read_response()
        t.eq(r.status, 405, "%s: POST 200 KB to a file over TLS: 405" % tag)
        if (r.header("Connection") or "").lower() == "close":
            t.eq(c.end(), "close_notify", "%s: after the 405 with Connection: close the "
                 "connection ends with close_notify" % tag)
        else:
            t.eq(c.get("/a.txt").body, A_TXT, "%s: after the 405 the connection serves the "
                 "next request" % tag)

# ------------------------------------------------------------ 2 curl


def check_curl(t, s, tag, pki):
    if not shutil.which("curl"):
        t.skip("%s curl" % tag, "curl not installed")
        return
    P = s.tport

    def url(host, path="/"):
        return ["--cacert", pki["ca"], "--resolve", "%s:%d:127.0.0.1" % (host, P),
                "https://%s:%d%s" % (host, P, path)]
    with t.guard("%s curl" % tag):
        rc, out, err = curl(["-v", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}"]
                            + url("a.test"))
        t.eq((rc, out), (0, b"200 0"), "%s: curl --cacert https://a.test/: 200, certificate "
             "verified" % tag)
        t.contains("ALPN: server accepted http/1.1", err, "%s: curl -v: ALPN http/1.1" % tag)
        rc, out, err = curl(url("a.test", "/" + BIG))
        t.eq((rc, sha(out)), (0, sha(docroot_files()[BIG])),
             "%s: curl GET /%s: sha256 of the body" % (tag, BIG))
        rc, out, err = curl(["-w", "\n%{http_code} %{ssl_verify_result}"] + url("c.test"))
        t.eq((rc, out), (0, SITES["c"] + b"\n200 0"), "%s: curl https://c.test/ verified with "
             "the root CA only (the intermediate is served)" % tag)

# ------------------------------------------------------------ 3 s_client


def tls11_client_works(pki):
    """Does `s_client -tls1_1 -cipher DEFAULT:@SECLEVEL=0` complete TLS 1.1
    against openssl s_server on this machine?  (output of the run)"""
    port = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                            "-cert", pki["rsa_crt"], "-key", pki["rsa_key"], "-tls1_1",
                            "-cipher", "DEFAULT:@SECLEVEL=0"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        if not wait_until(lambda: any(local == port and state == "0A" for local, _, state, _
                                      in mpmdtest._tcp_sockets()), 5):
            return False, "openssl s_server did not listen"
        rc, out = s_client(port, ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])
        return (rc == 0 and re.search(r"Protocol\s*:\s*TLSv1\.1", out) is not None
                and "Cipher is (NONE)" not in out), out
    finally:
        srv.kill()
        srv.wait(5)


def check_s_client(t, s, tag, pki, tls11):
    P = s.tport
    sni = ["-servername", "a.test"]
    get_close = req("GET", "/a.txt", headers=[("Connection", "close")])
    with t.guard("%s s_client" % tag):
        rc, out = s_client(P, sni + ["-alpn", "h2,http/1.1"])
        t.contains("ALPN protocol: http/1.1", out, "%s: s_client -alpn h2,http/1.1: http/1.1"
                   % tag)
        rc, out = s_client(P, sni + ["-alpn", "h2", "-ign_eof"], get_close)
        t.contains("No ALPN negotiated", out, "%s: s_client -alpn h2: no ALPN" % tag)
        t.ok("HTTP/1.1 200 OK" in out and A_TXT.decode() in out,
             "%s: ... and HTTP/1.1 works on it" % tag, diag=out[-600:])
        for sigalg, kind, bits in (("ECDSA+SHA256", "ECDSA", 256),
                                   ("rsa_pss_rsae_sha256", "RSA-PSS", 2048)):
            rc, out = s_client(P, sni + ["-CAfile", pki["ca"], "-sigalgs", sigalg])
            t.ok("Peer signature type: %s\n" % kind in out and
                 "Server public key is %d bit" % bits in out and
                 "subject=CN = a.test" in out and "Verify return code: 0 (ok)" in out,
                 "%s: -sigalgs %s: a.test's %d-bit %s certificate, verified" % (tag, sigalg, bits,
                                                                           kind), diag=out[-1500:])
        rc, out = s_client(P, sni)
        t.match(r"^New, TLSv1\.3, Cipher is TLS_", out, "%s: s_client: TLS 1.3 by default" % tag,
                re.M)
        rc, out = s_client(P, sni + ["-tls1_2", "-ign_eof"], get_close)
        t.ok(re.search(r"Protocol\s*:\s*TLSv1\.2", out) and "HTTP/1.1 200 OK" in out,
             "%s: s_client -tls1_2: TLS 1.2, request answered" % tag, diag=out[-1500:])
        if tls11 is None:
            t.skip("%s: TLS 1.1 refused" % tag, "this openssl cannot do TLS 1.1 even with "
                   "SECLEVEL=0 (checked against openssl s_server)")
        else:
            rc, out = s_client(P, sni + ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])
            t.ok(rc != 0 and "alert protocol version" in out and "Cipher is (NONE)" in out,
                 "%s: s_client -tls1_1 (which does TLS 1.1 with openssl s_server): refused "
                 "with alert protocol version" % tag, diag=out[-1500:])
        # Renegotiation: R on s_client's stdin asks for it (TLS 1.2).
        cmd = ("(sleep 0.5; echo R; sleep 1; echo hello; sleep 0.5) | openssl s_client "
               "-connect 127.0.0.1:%d -tls1_2 -servername a.test" % P)
        rc, out = run_tool(["sh", "-c", cmd])
        t.ok("RENEGOTIATING" in out and "no renegotiation" in out,
             "%s: client-initiated renegotiation refused (no renegotiation alert)" % tag,
             diag="rc %d\n%s" % (rc, out[-1500:]))
        with TlsConn(P, ssl.create_default_context(cafile=pki["ca"])) as c:
            t.eq(c.get("/a.txt").body, A_TXT, "%s: served after the s_client runs" % tag)

# ------------------------------------------------------------ 4 SNI


def check_sni(t, s, tag, pki):
    verify, anyname = contexts(pki)
    P = s.tport

    def fetch(ctx, sni, host, path="/index.html", version="HTTP/1.1"):
        with TlsConn(P, ctx, sni) as c:
            c.send(req("GET", path, host, version=version))
            r = c.read_response()
            return c.cn(), r.status, r.body
    cases = [
        (verify, "a.test", "a.test", "HTTP/1.1", ("a.test", 200, INDEX_HTML),
         "SNI a.test: a.test's certificate and site"),
        (verify, "b.test", "b.test", "HTTP/1.1", ("b.test", 200, SITES["b"]),
         "SNI b.test: b.test's certificate and site"),
        (verify, "c.test", "c.test", "HTTP/1.1", ("c.test", 200, SITES["c"]),
         "SNI c.test: leaf + intermediate verified with the root CA only"),
        (anyname, "x.test", "a.test", "HTTP/1.1", ("a.test", 200, INDEX_HTML),
         "unknown SNI: the default (first) site's certificate"),
        (anyname, None, "a.test", "HTTP/1.1", ("a.test", 200, INDEX_HTML),
         "no SNI: the default site's certificate"),
        (anyname, None, "b.test", "HTTP/1.1", ("a.test", 200, SITES["b"]),
         "no SNI, Host b.test: the Host's site"),
        (verify, "a.test", "localhost", "HTTP/1.1", ("a.test", 200, SITES["l"]),
         "SNI a.test, Host localhost (same certificate files): the Host's site"),
    ]
    for ctx, sni, host, version, want, what in cases:
        with t.guard("%s %s" % (tag, what)):
            t.eq(fetch(ctx, sni, host, version=version), want, "%s: %s" % (tag, what))
    for sni, host in (("a.test", "b.test"), ("b.test", "a.test"), ("c.test", "localhost")):
        with t.guard("%s 421" % tag):
            got = fetch(verify, sni, host)[1]
            t.eq(got, 421, "%s: SNI %s, Host %s (other certificates): 421 Misdirected Request"
                 % (tag, sni, host))
    with t.guard("%s no Host" % tag):
        t.eq(fetch(verify, "a.test", None, "/", "HTTP/1.0")[1], 400,
             "%s: SNI a.test, HTTP/1.0 without Host: 400" % tag)
        t.eq(fetch(anyname, None, None, "/index.html", "HTTP/1.0")[1:], (200, INDEX_HTML),
             "%s: no SNI, HTTP/1.0 without Host: 200 from the default site" % tag)

# ------------------------------------------------------------ 5 resumption


def sclient_ticket(port, sess, extra=()):
    """One s_client run that saves its session (with the ticket) in SESS."""
    get = req("GET", "/a.txt", headers=[("Connection", "close"), ("X-Tag", "ticket")])
    return s_client(port, ["-quiet", "-servername", "a.test", "-sess_out", sess, "-ign_eof"]
                    + list(extra), get)


def sclient_batch(port, sess, n, prefix, workdir, extra=()):
    """N s_client -sess_in SESS started at once, each sending one request
    tagged PREFIX-i; their outputs."""
    procs = []
    try:
        for i in range(n):
            rq = os.path.join(workdir, "req-%s-%d" % (prefix, i))
            with open(rq, "wb") as f:
                f.write(req("GET", "/a.txt", headers=[("X-Tag", "%s-%d" % (prefix, i)),
                                                      ("Connection", "close")]))
            with open(rq, "rb") as f:
                procs.append(subprocess.Popen(
                    ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername",
                     "a.test", "-sess_in", sess, "-ign_eof"] + list(extra),
                    stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        outs = []
        for p in procs:
            try:
                out = p.communicate(timeout=TOOL_TIMEOUT)[0]
            except subprocess.TimeoutExpired:
                p.kill()
                out = p.communicate()[0] + b"\n[killed: timeout]"
            outs.append(out.decode("latin-1"))
        return outs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)


def reused(out):
    return re.search(r"^Reused, ", out, re.M) is not None


def resumed_everywhere(t, s, tag, what, run_batch, n, proto):
    """RUN_BATCH(prefix) -> [True if resumed]; batches until the Resumed log
    lines come from >= 2 children (at most BATCHES)."""
    pids, total, resumed, lines = set(), 0, 0, []
    for b in range(BATCHES):
        prefix = "%s-%s-%d-" % (tag, what.replace(" ", "_"), b)
        got = run_batch(prefix)
        total += len(got)
        resumed += sum(1 for x in got if x)
        batch_lines = s.wait_tagged(prefix, len(got))
        lines += batch_lines
        pids |= {x[0] for x in batch_lines if x[1] == "Resumed"}
        if len(pids) >= 2:
            break
    t.eq((resumed, total), (total, total), "%s: %s: %d/%d resumed" % (tag, what, resumed, total))
    bad = [x for x in lines if x[1:3] != ["Resumed", proto] or x[4:7] != ["a.test", "on", "200"]]
    t.ok(len(lines) == total and not bad, "%s: %s: every log line says Resumed %s a.test on 200"
         % (tag, what, proto), diag="lines %d of %d; not matching: %r" % (len(lines), total,
                                                                        bad[:5]))
    t.ok(len(pids) >= 2, "%s: %s: resumed on %d children (>= 2): a ticket from one child "
         "resumes on another" % (tag, what, len(pids)), diag="pids %r" % sorted(pids))
    return pids


def check_resumption(t, s, tag, pki):
    P = s.tport
    verify, _ = contexts(pki)
    state = {}
    t.ok(children_ready(s), "%s: 2 children running" % tag)
    with t.guard("%s s_client TLS 1.3 resumption" % tag):
        sess = s.path("s13.pem")
        rc, out = sclient_ticket(P, sess)
        t.ok("HTTP/1.1 200 OK" in out and os.path.exists(sess) and os.path.getsize(sess) > 0,
             "%s: s_client -sess_out: answered, a TLS 1.3 session saved" % tag,
             diag=out[-800:])
        state["s13"] = sess
        resumed_everywhere(t, s, tag, "s_client TLS 1.3",
                           lambda prefix: [reused(o) for o in
                                           sclient_batch(P, sess, RESUME_N, prefix, s.dir)],
                           RESUME_N, "TLSv1.3")
    with t.guard("%s Python TLS 1.3 resumption" % tag):
        with TlsConn(P, verify) as c0:
            c0.get("/a.txt", headers=[("X-Tag", "py-initial")])
            sess = c0.sock.session
            first = c0.sock.session_reused
        t.ok(sess is not None and sess.has_ticket and not first,
             "%s: Python: a new session with a ticket" % tag)
        state["py"] = (verify, sess)

        def py_batch(prefix):
            conns = []
            try:
                for _ in range(PY_RESUME_N):          # all open at once: spread over children
                    conns.append(TlsConn(P, verify, session=sess))
                for i, c in enumerate(conns):
                    c.send(req("GET", "/a.txt", headers=[("X-Tag", "%s%d" % (prefix, i))]))
                return [c.read_response().status == 200 and c.sock.session_reused
                        for c in conns]
            finally:
                for c in conns:
                    c.close()
        resumed_everywhere(t, s, tag, "Python TLS 1.3", py_batch, PY_RESUME_N, "TLSv1.3")
    with t.guard("%s TLS 1.2 resumption" % tag):
        sess = s.path("s12.pem")
        rc, out = sclient_ticket(P, sess, ["-tls1_2"])
        t.ok("HTTP/1.1 200 OK" in out and os.path.exists(sess) and os.path.getsize(sess) > 0,
             "%s: s_client -tls1_2 -sess_out: answered, session saved" % tag, diag=out[-800:])
        outs = sclient_batch(P, sess, 5, "%s-r12-" % tag, s.dir, ["-tls1_2"])
        t.eq(sum(1 for o in outs if reused(o)), 5, "%s: 5/5 s_client -tls1_2 -sess_in: Reused"
             % tag)
        lines = s.wait_tagged("%s-r12-" % tag, 5)
        t.eq(sorted(x[1] + " " + x[2] for x in lines), ["Resumed TLSv1.2"] * 5,
             "%s: logged as Resumed TLSv1.2" % tag)
        ctx12 = ssl.create_default_context(cafile=pki["ca"])
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        with TlsConn(P, ctx12) as c0:
            c0.get("/a.txt")
            sess12 = c0.sock.session
        got = []
        for _ in range(3):
            with TlsConn(P, ctx12, session=sess12) as c:
                got.append((c.sock.version(), c.get("/a.txt").status, c.sock.session_reused))
        t.eq(got, [("TLSv1.2", 200, True)] * 3, "%s: Python TLS 1.2: 3/3 resumed" % tag)
    return state


def check_restart_resumption(t, s, tag, state):
    """Graceful restart (USR1) with the same config: tickets from before it
    still resume on the new generation's children."""
    P = s.tport
    with t.guard("%s resumption across a graceful restart" % tag):
        old = set(s.children())
        os.kill(s.pid, signal.SIGUSR1)
        t.ok(wait_until(lambda: len(s.children()) >= 2 and not (set(s.children()) & old),
                        RESTART_BOUND),
             "%s: USR1: a new generation of children" % tag,
             diag="old %r now %r" % (sorted(old), s.children()))
        if "s13" in state:
            outs = sclient_batch(P, state["s13"], 3, "%s-after-" % tag, s.dir)
            t.eq([reused(o) for o in outs], [True] * 3, "%s: s_client ticket from before the "
                 "restart: Reused after it" % tag)
            lines = s.wait_tagged("%s-after-" % tag, 3)
            t.ok(len(lines) == 3 and all(x[1] == "Resumed" and int(x[0]) not in old
                                         for x in lines),
                 "%s: ... by children of the new generation" % tag, diag=repr(lines))
        if "py" in state:
            ctx, sess = state["py"]
            with TlsConn(P, ctx, session=sess) as c:
                t.eq((c.get("/a.txt").status, c.sock.session_reused), (200, True),
                     "%s: Python session from before the restart: resumed after it" % tag)

# ------------------------------------------------------------ 7 robustness


def check_robustness(t, s, tag, pki):
    P = s.tport
    verify, _ = contexts(pki)
    before = {k: mpmdtest.proc_stat(k)[2] for k in s.children() if mpmdtest.proc_stat(k)}
    with t.guard("%s garbage" % tag):
        how, got, _ = raw_exchange(P, b"\x16\x03\x01\xff\xff" + os.urandom(200))
        t.ok(how in ("eof", "reset") and not got.startswith(b"HTTP/"),
             "%s: garbage instead of a ClientHello: the server closes" % tag,
             diag="%s after %r" % (how, got[:60]))
        how, got, _ = raw_exchange(P, req("GET", "/"))
        # Closed, perhaps after a TLS alert or (as Apache does) a plain 400.
        t.ok(how in ("eof", "reset") and (not got or got[:1] == b"\x15" or
                                          re.match(rb"HTTP/1\.[01] 400 ", got)),
             "%s: plain HTTP to the TLS port: closed (at most an alert or a 400)" % tag,
             diag="%s after %r" % (how, got[:60]))
        if got:
            t.diag("%s: plain HTTP to the TLS port got %r" % (tag, got[:16]))
    with t.guard("%s aborted transfers" % tag):
        for how in ("reset", "FIN"):
            c = TlsConn(P, verify)
            c.send(req("GET", "/" + BIG))
            n = 0
            while n < 65536:
                d = c.sock.recv(65536)
                if not d:
                    break
                n += len(d)
            if how == "reset":
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            with TlsConn(P, verify) as c2:
                t.eq((c2.get("/a.txt").status, n >= 65536), (200, True),
                     "%s: client gone (%s) after %d bytes of /%s: next client served"
                     % (tag, how, n, BIG))
    with t.guard("%s concurrent clients" % tag):
        results = []
        lock = threading.Lock()

        def client(i):
            got = []
            try:
                with TlsConn(P, verify) as c:
                    for j in range(PER_CLIENT):
                        r = c.get("/a.txt" if j % 2 else "/index.html")
                        got.append(r.status == 200 and r.body == (A_TXT if j % 2 else INDEX_HTML))
            except (OSError, mpmdtest.ProtocolError, ValueError) as e:
                got.append("%s: %s" % (type(e).__name__, e))
            with lock:
                results.append(got)
        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(CLIENTS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        ok = sum(1 for got in results for x in got if x is True)
        t.eq(ok, CLIENTS * PER_CLIENT, "%s: %d TLS clients at once x %d keep-alive requests: "
             "all 200 with the right body" % (tag, CLIENTS, PER_CLIENT))
        errors = [x for got in results for x in got if x is not True]
        if errors:
            t.diag("errors: %r" % errors[:5])
    with t.guard("%s children alive" % tag):
        dead = [k for k, st in before.items() if not mpmdtest.pid_alive(k, st)]
        t.eq(dead, [], "%s: no child died during the robustness checks" % tag)

# ------------------------------------------------------------ 7b half a record


def children_cpu_ticks(s):
    """User + system clock ticks used so far by the server's children."""
    total = 0
    for pid in s.children():
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def check_half_record(t, s, tag, pki):
    """A client stops in the middle of a TLS record: the server waits for the
    rest without spinning (SSL_has_pending is true for half a record; only
    decrypted bytes may wake the listener), then answers when it comes."""
    verify, _ = contexts(pki)
    with t.guard("%s half a record" % tag), \
            socket.create_connection(("127.0.0.1", s.tport), timeout=IO) as raw:
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = verify.wrap_bio(inc, out, server_hostname="a.test")
        deadline = time.monotonic() + IO
        while time.monotonic() < deadline:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(out.read())
                inc.write(raw.recv(65536))
        raw.sendall(out.read())
        obj.write(req("GET", "/a.txt"))
        record = out.read()
        raw.sendall(record[:len(record) // 2])
        time.sleep(0.2)
        before = children_cpu_ticks(s)
        time.sleep(1.0)
        used = children_cpu_ticks(s) - before
        t.ok(used < 30, "%s: half a record pending for 1 s: the children used %d clock ticks "
             "(< 30: no busy loop)" % (tag, used))
        raw.sendall(record[len(record) // 2:])
        got = b""
        while b"\r\n\r\n" not in got and time.monotonic() < deadline + IO:
            inc.write(raw.recv(65536))
            try:
                got += obj.read(65536)
            except ssl.SSLWantReadError:
                pass
        t.ok(got.startswith(b"HTTP/1.1 200 "), "%s: the rest of the record: answered" % tag,
             diag=repr(got[:80]))

# ------------------------------------------------------------ 8 clean close


def check_clean_close(t, s, tag, pki):
    verify, _ = contexts(pki)
    with t.guard("%s close_notify" % tag), TlsConn(s.tport, verify) as c:
        r = c.get("/a.txt", headers=[("Connection", "close")])
        t.eq((r.status, r.body, (r.header("Connection") or "").lower()), (200, A_TXT, "close"),
             "%s: Connection: close over TLS: 200, Connection: close" % tag)
        t.eq(c.end(), "close_notify", "%s: then close_notify before the close (no SSLEOFError)"
             % tag)

# ------------------------------------------------------------ 9 scheme


def check_scheme(t, s, tag, pki):
    P = s.tport
    verify, _ = contexts(pki)
    with t.guard("%s scheme" % tag):
        with TlsConn(P, verify) as c:
            r = c.get("/sub", host="a.test:%d" % P)
            loc = r.header("Location") or ""
            t.ok(r.status == 301 and loc.startswith("https://") and loc.endswith("/sub/"),
                 "%s: /sub over TLS: 301 to https://.../sub/" % tag,
                 diag="%s Location %r" % (r.status_line, loc))
            r = c.get("/index.html", headers=[("X-Tag", "%s-https" % tag)])
            t.eq(r.header("Strict-Transport-Security"), HSTS, "%s: HSTS on a TLS 200" % tag)
            r = c.get("/no-such-file")
            t.eq((r.status, r.header("Strict-Transport-Security")), (404, HSTS),
                 "%s: HSTS on a TLS 404 too (Header always)" % tag)
        with mpmdtest.Conn(s.port) as c:
            c.request("GET", "/x/y?q=1", headers=[("Host", "redir.test")])
            r = c.read_response()
            t.eq((r.status, r.header("Location")), (301, "https://a.test:%d/x/y?q=1" % P),
                 "%s: Redirect permanent / https://a.test:P/ on the plain port" % tag)
            c.request("GET", "/index.html", headers=[("Host", "plain.test"),
                                                     ("X-Tag", "%s-plain" % tag)])
            r = c.read_response()
            t.eq((r.status, r.body, r.header("Strict-Transport-Security")),
                 (200, INDEX_HTML, None), "%s: plain site: 200, no HSTS" % tag)
        tls_line = s.wait_tagged("%s-https" % tag, 1)
        plain_line = s.wait_tagged("%s-plain" % tag, 1)
        t.ok(len(tls_line) == 1 and tls_line[0][1] == "Initial" and
             tls_line[0][2] == "TLSv1.3" and tls_line[0][3].startswith("TLS_AES_") and
             tls_line[0][4:8] == ["a.test", "on", "200", "/index.html"],
             "%s: access log over TLS: Initial TLSv1.3 TLS_AES_* a.test on" % tag,
             diag=repr(tls_line))
        t.ok(len(plain_line) == 1 and plain_line[0][1:8] == ["-"] * 5 + ["200", "/index.html"],
             "%s: access log on the plain port: - for every SSL variable and %%{HTTPS}x" % tag,
             diag=repr(plain_line))

# ------------------------------------------------------------ 10 kTLS


def tls_stat():
    stats = {}
    with open("/proc/net/tls_stat") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                stats[parts[0]] = int(parts[1])
    return stats


def check_ktls(t, s, tag, pki):
    err = s.errlog_text()
    if not os.path.exists("/proc/net/tls_stat"):
        t.contains("kTLS: not available", err, "%s: error log says kTLS: not available" % tag)
        t.skip("%s: kTLS transfer" % tag, "no /proc/net/tls_stat: kernel tls module not "
               "loaded (the read + SSL_write path is what the large-file checks tested)")
        return
    t.contains("kTLS: available", err, "%s: error log says kTLS: available" % tag)
    with t.guard("%s kTLS" % tag):
        before = tls_stat()
        verify, _ = contexts(pki)
        with TlsConn(s.tport, verify) as c:
            r = c.get("/" + BIG)
        after = tls_stat()
        t.eq(sha(r.body), sha(docroot_files()[BIG]), "%s: kTLS: /%s intact" % (tag, BIG))
        grew = [k for k in ("TlsTxSw", "TlsTxDevice") if after.get(k, 0) > before.get(k, 0)]
        t.ok(grew, "%s: kTLS: TlsTxSw or TlsTxDevice went up" % tag,
             diag="before %r after %r" % (before, after))

# ------------------------------------------------------------ 6 configuration errors


def check_config_errors(t, tmp, pki):
    port = free_port()
    docroot = os.path.join(tmp, "cfg-htdocs")
    os.makedirs(docroot, exist_ok=True)
    base = config_lines(free_port(), os.path.join(tmp, "cfg"), docroot) + [
        "Listen 127.0.0.1:%d https" % port, "SSLEngine on"]
    crt_line = len(base) + 1

    def conf(name, extra, certs=((pki["ec_crt"], pki["ec_key"]),)):
        lines = list(base)
        for crt, key in certs:
            lines.append("SSLCertificateFile %s" % crt)
            if key:
                lines.append("SSLCertificateKeyFile %s" % key)
        lines += list(extra)
        path = os.path.join(tmp, name + ".conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path, len(lines)

    def check(name, extra=(), certs=((pki["ec_crt"], pki["ec_key"]),), want=(), line=None,
              ok=False):
        path, last = conf(name, extra, certs)
        rc, out, err = run_mpmd(["-t", "-f", path])
        text = out + err
        if ok:
            t.ok(rc == 0 and "Syntax OK" in text, "-t %s: exit 0, Syntax OK" % name, diag=text)
            return
        at = "%s:%d: " % (path, line if line is not None else last)
        t.ok(rc != 0 and at in text and all(w in text for w in want),
             "-t %s: exit non-zero, %sDIRECTIVE ... %s" % (name, at.replace(path, "CONF"),
                                                          " ".join(want)),
             diag="rc %d\n%s" % (rc, text))
    with t.guard("config errors"):
        check("tls-good", ok=True)
        with open(os.path.join(tmp, "both.pem"), "w") as f:
            for p in (pki["ec_crt"], pki["ec_key"]):
                with open(p) as src:
                    f.write(src.read())
        check("tls-key-in-cert-file", certs=((os.path.join(tmp, "both.pem"), None),), ok=True)
        check("tls-two-certs", certs=((pki["ec_crt"], pki["ec_key"]),
                                      (pki["rsa_crt"], pki["rsa_key"])), ok=True)
        check("tls-ticket-lifetime-60", ["SSLSessionTicketKeyLifetime 60"], ok=True)
        check("tls-bad-cert", certs=((pki["bad_crt"], pki["ec_key"]),),
              want=["SSLCertificateFile", pki["bad_crt"]], line=crt_line)
        check("tls-key-mismatch", certs=((pki["ec_crt"], pki["other_key"]),),
              want=[pki["other_key"]], line=crt_line + 1)
        missing = os.path.join(tmp, "no-such.crt")
        check("tls-missing-cert", certs=((missing, pki["ec_key"]),),
              want=["SSLCertificateFile", missing], line=crt_line)
        check("tls-missing-key", certs=((pki["ec_crt"], missing + ".key"),),
              want=["SSLCertificateKeyFile", missing + ".key"], line=crt_line + 1)
        check("tls-protocol", ["SSLProtocol +TLSv9"], want=["SSLProtocol", "TLSv9"])
        check("tls-cipher", ["SSLCipherSuite NOSUCHCIPHER"], want=["SSLCipherSuite"])
        check("tls-cipher13", ["SSLCipherSuite TLSv1.3 NOSUCHSUITE"], want=["SSLCipherSuite"])
        check("tls-confcmd", ["SSLOpenSSLConfCmd NoSuchCmd x"],
              want=["SSLOpenSSLConfCmd", "NoSuchCmd"])
        check("tls-ticket-lifetime-59", ["SSLSessionTicketKeyLifetime 59"],
              want=["SSLSessionTicketKeyLifetime"])
        # An https Listen whose site has no certificate (no SSL directive at all).
        lines = [x for x in base if x != "SSLEngine on"]
        path = os.path.join(tmp, "tls-no-cert.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, out, err = run_mpmd(["-t", "-f", path])
        t.ok(rc != 0 and "%s:%d: Listen" % (path, len(base) - 1) in out + err,
             "-t tls-no-cert: https Listen without a certificate: exit non-zero, "
             "CONF:LINE: Listen", diag="rc %d\n%s" % (rc, out + err))

# ------------------------------------------------------------ aux server


def check_aux(t, mpm, pki):
    """SSLSessionTickets off, RequestReadTimeout header=2, KeepAliveTimeout 1;
    restarts onto a broken and onto a new certificate."""
    verify, anyname = contexts(pki)
    with t.guard("%s aux server" % mpm), TlsServer(aux_conf(), mpm=mpm, tap=t, copies={
            "live.crt": pki["ec_crt"], "live.key": pki["ec_key"]}) as s:
        P = s.tport
        tag = "%s tickets off" % mpm
        with t.guard(tag):
            for proto, extra in (("TLS 1.3", []), ("TLS 1.2", ["-tls1_2"])):
                sess = s.path("off%s.pem" % proto[-1])
                rc, out = sclient_ticket(P, sess, extra)
                t.ok("HTTP/1.1 200 OK" in out, "%s: s_client %s answered" % (tag, proto),
                     diag=out[-600:])
                outs = (sclient_batch(P, sess, 3, "off%s-" % proto[-1], s.dir, extra)
                        if os.path.exists(sess) else [])
                # Without tickets s_client may have no session to save (TLS 1.3).
                t.ok(not any(reused(o) for o in outs) and
                     all(re.search(r"^New, ", o, re.M) for o in outs),
                     "%s: %s: %s" % (tag, proto, "s_client -sess_in: New, never Reused" if outs
                                     else "no session saved by s_client -sess_out"),
                     diag="\n".join(o[-400:] for o in outs[:1]))
            for proto, version in (("TLS 1.3", ssl.TLSVersion.TLSv1_3),
                                   ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
                ctx = ssl.create_default_context(cafile=pki["ca"])
                ctx.maximum_version = version
                with TlsConn(P, ctx) as c0:
                    c0.get("/a.txt", headers=[("X-Tag", "offpy-%s-0" % proto[-1])])
                    psess = c0.sock.session
                t.ok(psess is None or not psess.has_ticket, "%s: Python %s: no ticket"
                     % (tag, proto))
                with TlsConn(P, ctx, session=psess) as c:
                    got = (c.sock.version(), c.get("/a.txt", headers=[
                        ("X-Tag", "offpy-%s-1" % proto[-1])]).status, c.sock.session_reused)
                t.eq(got, ("TLSv1.%s" % proto[-1], 200, False),
                     "%s: Python %s with the previous session: not resumed" % (tag, proto))
            lines = s.wait_tagged("offpy-", 4)
            t.eq([x[1] for x in lines], ["Initial"] * 4, "%s: logged as Initial" % tag)
        tag = "%s stalled handshake" % mpm
        with t.guard(tag):
            hello = b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc\x03\x03" + os.urandom(94)
            how, got, took = raw_exchange(P, hello, STALL_BOUND)
            t.ok(how in ("eof", "reset"), "%s: half a ClientHello, then nothing: closed by the "
                 "server (RequestReadTimeout header=2, bound %.0f s)" % (tag, STALL_BOUND),
                 diag="%s after %.1f s, got %r" % (how, took, got[:40]))
            t.diag("%s: closed after %.1f s (%s)" % (tag, took, how))
            with TlsConn(P, verify) as c:
                t.eq(c.get("/a.txt").status, 200, "%s: served afterwards" % tag)
        tag = "%s keep-alive timeout" % mpm
        with t.guard(tag), TlsConn(P, verify) as c:
            t.eq(c.get("/a.txt").status, 200, "%s: request answered" % tag)
            t.eq(c.end(timeout=IO), "close_notify", "%s: the idle connection (KeepAliveTimeout "
                 "1) ends with close_notify" % tag)
        tag = "%s restart onto a broken certificate" % mpm
        with t.guard(tag):
            old = set(s.children())
            seen = len(s.errlog_text())
            shutil.copyfile(pki["bad_crt"], s.path("live.crt"))
            os.kill(s.pid, signal.SIGUSR1)
            t.ok(wait_until(lambda: s.path("live.crt") in s.errlog_text()[seen:], RESTART_BOUND),
                 "%s: the error log names the certificate file" % tag,
                 diag=s.errlog_text()[seen:][-1500:])
            with TlsConn(P, verify) as c:
                t.eq((c.get("/a.txt").status, c.cn()), (200, "a.test"),
                     "%s: still served with the old certificate" % tag)
            t.eq(sorted(set(s.children()) & old), sorted(old),
                 "%s: the old children still run" % tag)
        tag = "%s restart onto a new certificate" % mpm
        with t.guard(tag):
            shutil.copyfile(pki["b_crt"], s.path("live.crt"))
            shutil.copyfile(pki["b_key"], s.path("live.key"))
            os.kill(s.pid, signal.SIGUSR1)

            def cn_now():
                try:
                    with TlsConn(P, anyname) as c:
                        return c.cn()
                except (OSError, ssl.SSLError):
                    return None
            got = wait_until(lambda: cn_now() == "b.test", RESTART_BOUND, 0.2)
            t.ok(got, "%s: new connections get the new certificate (CN b.test)" % tag,
                 diag="CN now %r" % cn_now())

# ------------------------------------------------------------ main


def main(t):
    if not shutil.which("openssl"):
        t.skip("HTTPS", "openssl not installed (it makes the test certificates)")
        return
    tmp = tempfile.mkdtemp(prefix="mpmdtest-tls-")
    try:
        pki = tlspki.make_pki(os.path.join(tmp, "pki"))
        make_sites(tmp)
        tls11_ok, tls11_out = tls11_client_works(pki)
        tls11 = True if tls11_ok else None
        t.diag("TLS 1.1 refusal check: s_client -tls1_1 -cipher DEFAULT:@SECLEVEL=0 %s "
               "against openssl s_server -tls1_1" % ("completes TLS 1.1" if tls11_ok else
                                                     "FAILS (the refusal check is skipped)"))
        if not tls11_ok:
            t.diag(str(tls11_out)[-800:])
        check_config_errors(t, tmp, pki)
        for mpm in MPMS:
            with t.guard("%s server" % mpm), TlsServer(main_conf(tmp, pki), mpm=mpm, threads=8,
                                                       start_servers=2, tap=t) as s:
                verify, _ = contexts(pki)
                check_requests(t, s, mpm, verify)
                check_curl(t, s, mpm, pki)
                check_s_client(t, s, mpm, pki, tls11)
                check_sni(t, s, mpm, pki)
                state = check_resumption(t, s, mpm, pki)
                check_clean_close(t, s, mpm, pki)
                check_scheme(t, s, mpm, pki)
                check_ktls(t, s, mpm, pki)
                check_robustness(t, s, mpm, pki)
                check_half_record(t, s, mpm, pki)
                check_restart_resumption(t, s, mpm, state)
        for mpm in MPMS:
            check_aux(t, mpm, pki)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
