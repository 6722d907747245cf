#!/usr/bin/env python3
# test_tls_tools.py: mpmd's HTTPS judged by tools nobody on the project
# wrote (TAP on stdout).  One mpmd (MPM event, StartServers 2): the
# harness's plain Listen plus `Listen 127.0.0.1:TLSPORT https` owned by a
# <VirtualHost> (a.test, aliases localhost and 127.0.0.1) with an ECDSA
# P-256 and an RSA 2048 certificate from tlspki.py, everything else at
# mpmd's defaults (SSLProtocol, SSLCipherSuite, SSLHonorCipherOrder,
# tickets).  Its CustomLog records per request the client port, %k, the
# request, the status and %{SSL_PROTOCOL}x %{SSL_SESSION_RESUMED}x
# %{HTTPS}x, so keep-alive reuse is proven from the server's side.
#   1. testssl.sh (-p -s -f -S -P -U, JSON): no HIGH/CRITICAL finding;
#      SSLv2/SSLv3/TLS 1.0/1.1 not offered, TLS 1.2 and 1.3 offered; no
#      NULL/aNULL/EXPORT/LOW/3DES/RC4; renegotiation not vulnerable; its
#      summary printed as TAP diag ($MPMD_TLS_REPORT keeps the JSON).
#   2. sslscan (XML): the same protocol set, no null/anonymous/weak/medium
#      cipher, no insecure renegotiation, the served certificate is the
#      test certificate.
#   3. python requests, httpx and aiohttp (run by /usr/bin/python3, which
#      has the Debian packages), verifying against the test CA, and the
#      stdlib http.client: GET with keep-alive reuse, streamed 3 MB
#      download (sha256), HEAD, 404, the directory-slash redirect to an
#      https Location followed, a 1 MB POST echoed by a CGI script (length,
#      sha256, HTTPS=on), concurrency (httpx 10 threads, aiohttp 20
#      tasks); a client without the CA must refuse the server.
#   4. curl --http1.1 (the checks of test_clients.py over HTTPS, plus
#      verification, ALPN, TLS 1.3, TLS 1.1 refused), wget, Python's ssl
#      (a closing response ends with close_notify), ab (with and without
#      -k), and h2load --h1 -n 2000 -c 20 (2000 succeeded, 0
#      failed/errored, TLSv1.3).
#   5. wrk -t1 -c10 -d2s over https: requests, no socket errors (pass/fail
#      on errors only, no timing).
# A missing tool is a TAP skip naming its Debian package.  Every tool runs
# with a timeout and on 127.0.0.1 only.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_tls_tools.py
# (MPMD_TLS_REPORT=/path/testssl.json keeps testssl's JSON findings)

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import tlspki
import upstreams as U
from mpmdtest import (A_TXT, FIXED_MTIME, INDEX_HTML, SUB_INDEX_HTML, Server, free_port,
                      http_date, run_tests, wait_until)

SYSTEM_PYTHON = "/usr/bin/python3"
TOOL_TIMEOUT = 60
# testssl.sh -p -s -f -S -P -U took 30 s against nginx and 33-50 s
# against mpmd on 2 shared cores.  Left out as too slow for a test: -c (client
# simulation), -e/-E (every cipher one by one), -h (headers: HSTS etc.
# are the site's business, not the TLS layer's).
TESTSSL_TIMEOUT = 240
LM = http_date(FIXED_MTIME)
A_ETAG = '"%x-%x"' % (FIXED_MTIME, len(A_TXT))
LOG_FORMAT = ("%{remote}p %k %m %U%q %>s %{SSL_PROTOCOL}x %{SSL_SESSION_RESUMED}x "
              "%{HTTPS}x")

CONF = """Listen 127.0.0.1:{tlsport} https
LogFormat "{logformat}" tlsconn
<VirtualHost 127.0.0.1:{tlsport}>
    ServerName a.test
    ServerAlias localhost 127.0.0.1
    DocumentRoot {docroot}
    SSLEngine on
    SSLCertificateFile {ec_crt}
    SSLCertificateKeyFile {ec_key}
    SSLCertificateFile {rsa_crt}
    SSLCertificateKeyFile {rsa_key}
    CustomLog {tmp}/tls_access.log tlsconn
    ScriptAlias /cgi-bin/ {tmp}/cgi/
</VirtualHost>
"""


class TlsServer(Server):
    """The harness's Server with the TLS site's DocumentRoot filled in
    (the temp dir exists only once the server is being started)."""

    def __init__(self, template, **kw):
        super().__init__(**kw)
        self.template = template

    def write_config(self):
        self.conf_extra = self.template.replace("{docroot}", self.docroot)
        super().write_config()


class Ctx:
    """What every part needs: the server, the TLS port, the CA, a temp dir."""

    def __init__(self, s, tlsport, pki, tmp):
        self.s = s
        self.port = tlsport
        self.pki = pki
        self.ca = pki["ca"]
        self.tmp = tmp
        self.log = os.path.join(tmp, "tls_access.log")
        self.base = "https://a.test:%d" % tlsport

    def log_lines(self, tag):
        """Parsed lines of the TLS site's access log whose query has t=TAG."""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            f = line.split()
            if len(f) == 8 and re.search(r"[?&]t=%s(&|$)" % re.escape(tag), f[3]):
                out.append({"port": f[0], "k": f[1], "method": f[2], "target": f[3],
                            "status": f[4], "proto": f[5], "resumed": f[6], "https": f[7]})
        return out

    def wait_log(self, tag, n, timeout=5.0):
        wait_until(lambda: len(self.log_lines(tag)) >= n, timeout)
        return self.log_lines(tag)


# CA bundles named in the environment would override what the test passes
# (requests lets REQUESTS_CA_BUNDLE win over a Session's verify): the tools
# run without them, so each trusts exactly what its command line says.
CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
TOOL_ENV = {k: v for k, v in os.environ.items() if k not in CA_ENV}


def run(argv, timeout=TOOL_TIMEOUT):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=TOOL_ENV)
    return p.returncode, p.stdout, p.stderr


def tool(t, name, package, what):
    """Path of NAME, or None after a TAP skip naming the apt PACKAGE."""
    exe = shutil.which(name)
    if not exe:
        t.skip(what, "%s not installed (apt-get install %s)" % (name, package))
    return exe


def sha(data):
    return hashlib.sha256(data).hexdigest()


def check_reuse(t, c, tag, n, what, status="200"):
    """The server logged N requests tagged TAG, all on one TLS connection:
    one client port and keep-alive counts 0..N-1, TLS 1.3, HTTPS on."""
    lines = c.wait_log(tag, n)
    t.eq(len(lines), n, "%s: %d requests in the TLS site's access log" % (what, n))
    t.eq(len({ln["port"] for ln in lines}), 1,
         "%s: all %d on one connection (one client port in the log)" % (what, n))
    t.eq([ln["k"] for ln in lines], [str(i) for i in range(n)],
         "%s: %%k counts 0..%d (keep-alive requests on that connection)" % (what, n - 1))
    t.eq(sorted({(ln["status"], ln["proto"], ln["https"]) for ln in lines}),
         [(status, "TLSv1.3", "on")],
         "%s: logged %s, %%{SSL_PROTOCOL}x TLSv1.3, %%{HTTPS}x on" % (what, status))

# ------------------------------------------------------------ 1. testssl.sh


def testssl(t, c):
    exe = tool(t, "testssl", "testssl.sh", "testssl.sh scan")
    if not exe:
        return
    out = os.path.join(c.tmp, "testssl.json")      # must not exist: no --overwrite in 3.0.8
    argv = [exe, "--quiet", "--color", "0", "--warnings", "batch", "--nodns", "none",
            "--ip", "127.0.0.1", "--add-ca", c.ca, "--openssl-timeout", "10",
            "--connect-timeout", "10", "--jsonfile", out, "-p", "-s", "-f", "-S", "-P", "-U",
            "https://a.test:%d" % c.port]
    start = time.monotonic()
    rc, stdout, stderr = run(argv, timeout=TESTSSL_TIMEOUT)
    took = time.monotonic() - start
    t.diag("testssl.sh: %.0f s: %s" % (took, " ".join(argv[1:])))
    text = (stdout + stderr).decode("utf-8", "replace")
    # Its exit status is the number of sections that met a problem (each
    # also leaves a WARN finding), or 242-255 for its own errors.
    t.ok(rc < 242, "testssl.sh: ran to its end (exit %d: no tool error)" % rc, diag=text[-3000:])
    try:
        with open(out) as f:
            findings = json.load(f)
    except (OSError, ValueError) as e:
        t.ok(False, "testssl.sh: JSON findings written", diag="%s\n%s" % (e, text[-3000:]))
        return
    t.ok(isinstance(findings, list) and len(findings) > 20,
         "testssl.sh: JSON findings written", diag=text[-3000:])
    report = os.environ.get("MPMD_TLS_REPORT")
    if report:
        shutil.copyfile(out, report)
        t.diag("testssl.sh JSON kept at %s" % report)
    by_id = {}
    for f in findings:
        by_id.setdefault(f.get("id"), f)

    def finding(fid):
        return by_id.get(fid, {}).get("finding", "<missing>")

    # The summary, for the record.
    counts = {}
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    t.diag("testssl severities: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    protos = ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3"]
    t.diag("testssl protocols: %s" % "; ".join("%s %s" % (p, finding(p)) for p in protos))
    t.diag("testssl ALPN: %s; negotiated: %s, %s" % (
        finding("ALPN"), finding("protocol_negotiated"), finding("cipher_negotiated")))
    cats = ["cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
            "cipherlist_3DES_IDEA", "cipherlist_AVERAGE", "cipherlist_STRONG"]
    t.diag("testssl cipher categories: %s" % "; ".join(
        "%s %s" % (k[len("cipherlist_"):], finding(k)) for k in cats))
    t.diag("testssl cipher order: %s; TLSv1.2: %s; TLSv1.3: %s" % (
        finding("cipher_order"), finding("cipherorder_TLSv1_2"), finding("cipherorder_TLSv1_3")))
    t.diag("testssl PFS: %s; curves: %s" % (finding("PFS"), finding("PFS_ECDHE_curves")))
    t.diag("testssl session resumption: tickets %s, IDs %s; ticket: %s" % (
        finding("sessionresumption_ticket"), finding("sessionresumption_ID"),
        finding("TLS_session_ticket")))
    vulns = ["heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego",
             "secure_client_renego", "CRIME_TLS", "BREACH", "POODLE_SSL", "fallback_SCSV",
             "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4"]
    t.diag("testssl vulnerabilities: %s" % "; ".join(
        "%s %s (%s)" % (v, by_id.get(v, {}).get("severity", "?"), finding(v)) for v in vulns))
    for f in findings:
        if f["severity"] in ("LOW", "MEDIUM", "WARN"):
            t.diag("testssl %s %s: %s" % (f["severity"], f["id"], f["finding"]))

    # testssl's session-resumption probes save the session of a first
    # `openssl s_client </dev/null` and offer it in a second; a TLS 1.3
    # ticket comes after the handshake, and that s_client often quits
    # before reading it, leaving no session: "check failed because of
    # connect problem" (seen against nginx too, 12 of 30 plain s_client
    # runs).  That WARN is the tool's race; any other WARN is a failure.
    warns = [f for f in findings if f["severity"] == "WARN"]
    racy = [f for f in warns if f["id"].startswith("sessionresumption_") and
            "connect problem" in f["finding"]]
    t.eq(["%s: %s" % (f["id"], f["finding"]) for f in warns if f not in racy], [],
         "testssl.sh: no WARN finding (scan problem) but its racy session-resumption probe")
    t.eq(rc, len(racy), "testssl.sh: exit 0, or one more for each of that probe's WARNs "
         "(its exit counts the problems met)")
    bad = [f for f in findings if f["severity"] in ("HIGH", "CRITICAL")]
    for f in bad:
        t.diag("testssl %s %s: %s" % (f["severity"], f["id"], f["finding"]))
    t.eq(["%s %s" % (f["severity"], f["id"]) for f in bad], [],
         "testssl.sh: no finding of severity HIGH or CRITICAL")
    for p in protos[:4]:
        t.eq(finding(p), "not offered", "testssl.sh: %s not offered" % p)
    for p in protos[4:]:
        t.ok(finding(p).startswith("offered"), "testssl.sh: %s offered" % p,
             diag=finding(p))
    for k in cats[:5]:
        t.eq(finding(k), "not offered", "testssl.sh: %s ciphers not offered"
             % k[len("cipherlist_"):])
    t.ok(finding("RC4").startswith("not vulnerable"), "testssl.sh: no RC4 cipher",
         diag=finding("RC4"))
    t.ok(finding("SWEET32").startswith("not vulnerable"), "testssl.sh: no 64-bit block "
         "cipher (SWEET32)", diag=finding("SWEET32"))
    t.ok(finding("secure_client_renego").startswith("not vulnerable"),
         "testssl.sh: client-initiated renegotiation not vulnerable",
         diag=finding("secure_client_renego"))
    t.ok(by_id.get("secure_renego", {}).get("severity") == "OK",
         "testssl.sh: secure renegotiation (RFC 5746) rated OK", diag=by_id.get("secure_renego"))
    t.eq(by_id.get("cipher_order", {}).get("severity"), "OK",
         "testssl.sh: the server enforces its cipher order (SSLHonorCipherOrder default)")
    t.eq(finding("ALPN"), "http/1.1", "testssl.sh: ALPN offers http/1.1 only")
    t.eq(finding("cert_chain_of_trust <cert#1>")[:7], "passed.",
         "testssl.sh: certificate chain of trust passed (test CA)")

# ------------------------------------------------------------ 2. sslscan


def sslscan(t, c):
    exe = tool(t, "sslscan", "sslscan", "sslscan")
    if not exe:
        return
    out = os.path.join(c.tmp, "sslscan.xml")
    rc, stdout, stderr = run([exe, "--no-colour", "--show-certificate", "--xml=" + out,
                              "--sni-name=a.test", "127.0.0.1:%d" % c.port])
    text = (stdout + stderr).decode("utf-8", "replace")
    t.eq(rc, 0, "sslscan: exit 0")
    try:
        root = ET.parse(out).getroot()
    except (OSError, ET.ParseError) as e:
        t.ok(False, "sslscan: XML parsed", diag="%s\n%s" % (e, text[-3000:]))
        return
    prot = {"%s %s" % (p.get("type"), p.get("version")): p.get("enabled")
            for p in root.iter("protocol")}
    t.diag("sslscan protocols: %s" % prot)
    t.eq(prot, {"ssl 2": "0", "ssl 3": "0", "tls 1.0": "0", "tls 1.1": "0",
                "tls 1.2": "1", "tls 1.3": "1"},
         "sslscan: SSLv2, SSLv3, TLS 1.0, 1.1 disabled; TLS 1.2 and 1.3 enabled")
    ciphers = [x.attrib for x in root.iter("cipher")]
    t.diag("sslscan ciphers: %s" % "; ".join("%s %s %s %s" % (
        x.get("sslversion"), x.get("cipher"), x.get("strength"), x.get("status"))
        for x in ciphers))
    t.ok(any(x.get("sslversion") == "TLSv1.3" for x in ciphers) and
         any(x.get("sslversion") == "TLSv1.2" for x in ciphers),
         "sslscan: TLS 1.2 and TLS 1.3 cipher suites listed", diag=ciphers)
    weak = [x for x in ciphers if x.get("strength") in ("null", "anonymous", "weak", "medium")
            or int(x.get("bits", "0")) < 128]
    t.eq(weak, [], "sslscan: no null, anonymous, weak or medium cipher, none under 128 bits")
    t.eq(sorted({x.get("sslversion") for x in ciphers}), ["TLSv1.2", "TLSv1.3"],
         "sslscan: ciphers accepted only with TLS 1.2 and 1.3")
    reneg = [x.attrib for x in root.iter("renegotiation")]
    # sslscan 2.0.7: supported="1" secure="0" is insecure (legacy)
    # renegotiation; secure="1" means RFC 5746 renegotiation info, which is
    # harmless; OpenSSL 3 servers over TLS 1.3 show supported="0".
    t.ok(len(reneg) == 1 and (reneg[0].get("supported") == "0" or
                              reneg[0].get("secure") == "1"),
         "sslscan: no insecure renegotiation", diag=reneg)
    t.diag("sslscan renegotiation: %s" % reneg)
    hb = [x.attrib for x in root.iter("heartbleed")]
    t.ok(hb and all(x.get("vulnerable") == "0" for x in hb), "sslscan: not vulnerable to "
         "heartbleed", diag=hb)
    blob = root.find(".//certificate-blob")
    with open(c.pki["ec_crt"]) as f:
        want = f.read().strip()
    t.eq(blob.text.strip() if blob is not None and blob.text else None, want,
         "sslscan: the certificate served for SNI a.test is the test ECDSA certificate")
    short = root.find(".//certificate[@type='short']")
    t.ok(short is not None and short.findtext("subject") == "a.test" and
         short.findtext("issuer") == "mpmd test CA" and
         short.findtext("expired") == "false" and short.findtext("self-signed") == "false",
         "sslscan: subject a.test, issuer mpmd test CA, not expired, not self-signed",
         diag=ET.tostring(short).decode() if short is not None else text[-2000:])

# ------------------------------------------------------------ 3. python clients

# Client scripts run by /usr/bin/python3 (Debian's packages); each prints
# one JSON object, a step that raised holds {"error": ...}.  a.test is
# mapped to 127.0.0.1 inside the client, so the URL host, SNI, Host header
# and certificate check all say a.test.
PRELUDE = r"""
import asyncio, hashlib, json, os, socket, ssl, sys, threading
port, ca = int(sys.argv[1]), sys.argv[2]
base = "https://a.test:%d" % port
_gai = socket.getaddrinfo
def _map(host, *a, **k):
    return _gai("127.0.0.1" if host == "a.test" else host, *a, **k)
socket.getaddrinfo = _map
H = lambda b: hashlib.sha256(b).hexdigest()
BODY = (b"0123456789abcdef" * 65536)[:1000003]      # 1 MB POST body
out = {"post_sha": H(BODY)}
def step(name, fn):
    try:
        out[name] = fn()
    except Exception as e:
        out[name] = {"error": "%s: %s" % (type(e).__name__, e)}
def echo(status, text):
    j = json.loads(text)
    e = j["env"]
    return [status, j["body_len"], j["body_sha256"], e.get("HTTPS"), e.get("REQUEST_SCHEME"),
            e.get("SSL_PROTOCOL")]
"""

REQUESTS_SCRIPT = PRELUDE + r"""
import requests
T = 20
def get():
    r = requests.get(base + "/big.bin?t=rq-get", verify=ca, timeout=T)
    return [r.status_code, len(r.content), H(r.content), r.headers.get("ETag")]
def session():
    with requests.Session() as s:
        s.verify = ca
        s.trust_env = False
        res = []
        for path in ("/a.txt", "/", "/a.txt", "/bin.dat", "/"):
            r = s.get(base + path + "?t=rq-sess", timeout=T)
            res.append([r.status_code, H(r.content)])
        pool = s.get_adapter(base).poolmanager.connection_from_url(base)
        return [res, pool.num_connections]
def rng():
    r = requests.get(base + "/bin.dat?t=rq-range", headers={"Range": "bytes=10-19"},
                     verify=ca, timeout=T)
    return [r.status_code, r.content.hex()]
def stream():
    h, n, chunks = hashlib.sha256(), 0, 0
    with requests.get(base + "/big.bin?t=rq-stream", stream=True, verify=ca, timeout=T) as r:
        for chunk in r.iter_content(65536):
            h.update(chunk); n += len(chunk); chunks += 1
        return [r.status_code, n, h.hexdigest(), chunks > 1]
def head():
    r = requests.head(base + "/a.txt?t=rq-head", verify=ca, timeout=T)
    return [r.status_code, r.headers.get("Content-Length"), len(r.content)]
def missing():
    r = requests.get(base + "/no-such-file.txt?t=rq-404", verify=ca, timeout=T)
    return r.status_code
def redirect():
    r = requests.get(base + "/sub", verify=ca, timeout=T)
    return [[h.status_code for h in r.history],
            r.history[0].headers.get("Location") if r.history else None,
            r.status_code, r.url, H(r.content)]
def post():
    r = requests.post(base + "/cgi-bin/env.py?t=rq-post", data=BODY, verify=ca, timeout=T)
    return echo(r.status_code, r.text)
def noverify():
    try:
        requests.get(base + "/a.txt?t=rq-noverify", timeout=T)
        return "no error"
    except requests.exceptions.SSLError as e:
        return "SSLError" if "CERTIFICATE_VERIFY_FAILED" in str(e) else str(e)
for name, fn in [("get", get), ("session", session), ("range", rng), ("stream", stream),
                 ("head", head), ("404", missing), ("redirect", redirect), ("post", post),
                 ("noverify", noverify)]:
    step(name, fn)
print(json.dumps(out))
"""

HTTPX_SCRIPT = PRELUDE + r"""
import httpx
ctx = ssl.create_default_context(cafile=ca)
T = 20
def tls_version(r):
    ns = r.extensions.get("network_stream")
    obj = ns.get_extra_info("ssl_object") if ns is not None else None
    return obj.version() if obj is not None else None
with httpx.Client(verify=ctx, timeout=T) as cl:
    def keepalive():
        res, vers = [], set()
        for path in ("/a.txt", "/", "/a.txt", "/bin.dat", "/"):
            r = cl.get(base + path + "?t=hx-sess")
            res.append([r.status_code, H(r.content)])
            vers.add(r.http_version)
        return [res, sorted(vers), tls_version(r)]
    def stream():
        h, n = hashlib.sha256(), 0
        with cl.stream("GET", base + "/big.bin?t=hx-stream") as r:
            for chunk in r.iter_bytes():
                h.update(chunk); n += len(chunk)
            return [r.status_code, n, h.hexdigest()]
    def head():
        r = cl.head(base + "/a.txt?t=hx-head")
        return [r.status_code, r.headers.get("Content-Length"), len(r.content)]
    def missing():
        return cl.get(base + "/no-such-file.txt?t=hx-404").status_code
    def redirect():
        r = cl.get(base + "/sub", follow_redirects=True)
        return [[h.status_code for h in r.history],
                r.history[0].headers.get("Location") if r.history else None,
                r.status_code, str(r.url), H(r.content)]
    def post():
        r = cl.post(base + "/cgi-bin/env.py?t=hx-post", content=BODY)
        return echo(r.status_code, r.text)
    def threads():
        res, lock = [], threading.Lock()
        def worker(i):
            for j in range(5):
                try:
                    r = cl.get(base + "/bin.dat?t=hx-conc&i=%d&j=%d" % (i, j))
                    item = [r.status_code, H(r.content)]
                except Exception as e:
                    item = ["%s: %s" % (type(e).__name__, e), None]
                with lock:
                    res.append(item)
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
        for x in ts: x.start()
        for x in ts: x.join(60)
        return [len(res), sorted([list(x) for x in set(tuple(x) for x in res)])]
    for name, fn in [("keepalive", keepalive), ("stream", stream), ("head", head),
                     ("404", missing), ("redirect", redirect), ("post", post),
                     ("threads", threads)]:
        step(name, fn)
def noverify():
    try:
        httpx.get(base + "/a.txt?t=hx-noverify", timeout=T)
        return "no error"
    except httpx.ConnectError as e:
        return "ConnectError" if "CERTIFICATE_VERIFY_FAILED" in str(e) else str(e)
step("noverify", noverify)
print(json.dumps(out))
"""

AIOHTTP_SCRIPT = PRELUDE + r"""
import aiohttp
from aiohttp.abc import AbstractResolver
class Loopback(AbstractResolver):
    async def resolve(self, host, port=0, family=socket.AF_INET):
        if host != "a.test":
            raise OSError("unexpected host %s" % host)
        return [{"hostname": host, "host": "127.0.0.1", "port": port,
                 "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}]
    async def close(self):
        pass
ctx = ssl.create_default_context(cafile=ca)
T = aiohttp.ClientTimeout(total=30)
async def fetch(s, path):
    async with s.get(base + path) as r:
        return [r.status, H(await r.read())]
async def main():
    conn = aiohttp.TCPConnector(ssl=ctx, resolver=Loopback(), limit=100)
    async with aiohttp.ClientSession(connector=conn, timeout=T) as s:
        async def keepalive():
            res = []
            for path in ("/a.txt", "/", "/a.txt", "/bin.dat", "/"):
                res.append(await fetch(s, path + "?t=aio-sess"))
            return res
        async def conc(tag):
            res = await asyncio.gather(*[fetch(s, "/bin.dat?t=%s&i=%d" % (tag, i))
                                         for i in range(20)], return_exceptions=True)
            res = [x if isinstance(x, list) else [repr(x), None] for x in res]
            return [len(res), sorted([list(x) for x in set(tuple(x) for x in res)])]
        async def stream():
            h, n = hashlib.sha256(), 0
            async with s.get(base + "/big.bin?t=aio-stream") as r:
                tls = r.connection.transport.get_extra_info("ssl_object") \
                    if r.connection else None
                async for chunk in r.content.iter_chunked(65536):
                    h.update(chunk); n += len(chunk)
                return [r.status, n, h.hexdigest(), tls.version() if tls else None]
        async def head():
            async with s.head(base + "/a.txt?t=aio-head") as r:
                return [r.status, r.headers.get("Content-Length"), len(await r.read())]
        async def missing():
            async with s.get(base + "/no-such-file.txt?t=aio-404") as r:
                await r.read()
                return r.status
        async def redirect():
            async with s.get(base + "/sub") as r:
                return [[h.status for h in r.history],
                        r.history[0].headers.get("Location") if r.history else None,
                        r.status, str(r.url), H(await r.read())]
        async def post():
            async with s.post(base + "/cgi-bin/env.py?t=aio-post", data=BODY) as r:
                return echo(r.status, await r.text())
        for name, coro in [("keepalive", keepalive), ("conc1", lambda: conc("aio-c1")),
                           ("conc2", lambda: conc("aio-c2")), ("stream", stream),
                           ("head", head), ("404", missing), ("redirect", redirect),
                           ("post", post)]:
            try:
                out[name] = await coro()
            except Exception as e:
                out[name] = {"error": "%s: %s" % (type(e).__name__, e)}
    conn2 = aiohttp.TCPConnector(resolver=Loopback())
    async with aiohttp.ClientSession(connector=conn2, timeout=T) as s:
        try:
            async with s.get(base + "/a.txt?t=aio-noverify") as r:
                out["noverify"] = "no error"
        except aiohttp.ClientConnectorCertificateError:
            out["noverify"] = "CertificateError"
        except Exception as e:
            out["noverify"] = "%s: %s" % (type(e).__name__, e)
asyncio.run(main())
print(json.dumps(out))
"""


def run_client_script(t, c, name, script, modules, package):
    """Run SCRIPT under /usr/bin/python3; its JSON, or None after a skip/failure."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        t.skip("%s tests" % name, "%s missing (apt-get install %s)" % (SYSTEM_PYTHON, package))
        return None
    rc, _, _ = run([SYSTEM_PYTHON, "-c", "import " + modules])
    if rc != 0:
        t.skip("%s tests" % name, "%s not importable by %s (apt-get install %s)"
               % (modules, SYSTEM_PYTHON, package))
        return None
    rc, stdout, stderr = run([SYSTEM_PYTHON, "-c", script, str(c.port), c.ca], timeout=120)
    t.ok(rc == 0, "%s script: exit 0" % name, diag=stderr.decode("utf-8", "replace")[-2000:])
    try:
        return json.loads(stdout.decode("utf-8"))
    except ValueError:
        t.ok(False, "%s script: JSON output" % name,
             diag=(stdout + stderr).decode("utf-8", "replace")[-2000:])
        return None


def want_common(c):
    """Expected values shared by the three python clients."""
    s = c.s
    big, bindat = s.file_bytes("big.bin"), s.file_bytes("bin.dat")
    return {
        "big": big,
        "session": [[200, sha(b)] for b in (A_TXT, INDEX_HTML, A_TXT, bindat, INDEX_HTML)],
        "redirect": [[301], "https://a.test:%d/sub/" % c.port, 200,
                     "https://a.test:%d/sub/" % c.port, sha(SUB_INDEX_HTML)],
        "head": [200, str(len(A_TXT)), 0],
        "bin": [200, sha(bindat)],
    }


def check_post(t, got, who, post_sha):
    t.eq(got, [200, 1000003, post_sha, "on", "https", "TLSv1.3"],
         "%s: 1 MB POST to a CGI script: 200, it read every byte (length, sha256), "
         "HTTPS=on, REQUEST_SCHEME=https, SSL_PROTOCOL=TLSv1.3" % who)


def python_requests(t, c):
    out = run_client_script(t, c, "requests", REQUESTS_SCRIPT, "requests", "python3-requests")
    if out is None:
        return
    w = want_common(c)
    big = w["big"]
    t.eq(out["get"], [200, len(big), sha(big), '"%x-%x"' % (FIXED_MTIME, len(big))],
         "requests.get /big.bin over TLS: 200, length, sha256, ETag")
    t.eq(out["session"], [w["session"], 1],
         "requests.Session: 5 GETs right, all on one pooled connection")
    check_reuse(t, c, "rq-sess", 5, "requests.Session")
    t.eq(out["range"], [206, c.s.file_bytes("bin.dat")[10:20].hex()],
         "requests Range bytes=10-19: 206 and the bytes")
    t.eq(out["stream"], [200, len(big), sha(big), True],
         "requests stream=True /big.bin: 200, every byte (sha256), in several chunks")
    t.eq(out["head"], w["head"], "requests HEAD /a.txt: 200, Content-Length, no body")
    t.eq(out["404"], 404, "requests GET of a missing file: 404")
    t.eq(out["redirect"], w["redirect"],
         "requests GET /sub: 301 to https://a.test:PORT/sub/, followed to the index")
    check_post(t, out["post"], "requests", out["post_sha"])
    t.eq(out["noverify"], "SSLError",
         "requests without the test CA: certificate verify failed (verification is real)")


def python_httpx(t, c):
    out = run_client_script(t, c, "httpx", HTTPX_SCRIPT, "httpx", "python3-httpx")
    if out is None:
        return
    w = want_common(c)
    big = w["big"]
    ka = out["keepalive"]
    t.eq(ka[:2] if isinstance(ka, list) else ka, [w["session"], ["HTTP/1.1"]],
         "httpx.Client(verify=ssl context): 5 GETs right, HTTP/1.1")
    if isinstance(ka, list) and ka[2] is not None:
        t.eq(ka[2], "TLSv1.3", "httpx: the connection is TLS 1.3")
    check_reuse(t, c, "hx-sess", 5, "httpx.Client")
    t.eq(out["stream"], [200, len(big), sha(big)],
         "httpx Client.stream /big.bin: 200, every byte (sha256)")
    t.eq(out["head"], w["head"], "httpx HEAD /a.txt: 200, Content-Length, no body")
    t.eq(out["404"], 404, "httpx GET of a missing file: 404")
    t.eq(out["redirect"], w["redirect"],
         "httpx follow_redirects GET /sub: 301 to https://a.test:PORT/sub/, then the index")
    check_post(t, out["post"], "httpx", out["post_sha"])
    t.eq(out["threads"], [50, [w["bin"]]],
         "httpx: 10 threads x 5 GETs of /bin.dat on one Client: all 200, right bytes")
    lines = c.wait_log("hx-conc", 50)
    ports = {ln["port"] for ln in lines}
    t.ok(len(lines) == 50 and len(ports) <= 10,
         "httpx threads: 50 requests logged on at most 10 connections (pool reuse)",
         diag="%d lines, %d client ports" % (len(lines), len(ports)))
    t.eq(out["noverify"], "ConnectError",
         "httpx without the test CA: certificate verify failed")


def python_aiohttp(t, c):
    out = run_client_script(t, c, "aiohttp", AIOHTTP_SCRIPT, "aiohttp", "python3-aiohttp")
    if out is None:
        return
    w = want_common(c)
    big = w["big"]
    t.eq(out["keepalive"], w["session"], "aiohttp: 5 sequential GETs right")
    check_reuse(t, c, "aio-sess", 5, "aiohttp ClientSession")
    t.eq(out["conc1"], [20, [w["bin"]]],
         "aiohttp: 20 concurrent GETs of /bin.dat: all 200, right bytes")
    t.eq(out["conc2"], [20, [w["bin"]]],
         "aiohttp: 20 more concurrent GETs on the same session: all right")
    l1, l2 = c.wait_log("aio-c1", 20), c.wait_log("aio-c2", 20)
    p1, p2 = {ln["port"] for ln in l1}, {ln["port"] for ln in l2}
    t.ok(len(l1) == 20 and len(l2) == 20 and len(p1 | p2) <= 20 and p2 <= p1,
         "aiohttp: the second 20 reused the first 20's TLS connections",
         diag="%d+%d lines, ports first %d, second %d, union %d"
         % (len(l1), len(l2), len(p1), len(p2), len(p1 | p2)))
    t.eq(out["stream"], [200, len(big), sha(big), "TLSv1.3"],
         "aiohttp streamed /big.bin: 200, every byte (sha256), TLS 1.3")
    t.eq(out["head"], w["head"], "aiohttp HEAD /a.txt: 200, Content-Length, no body")
    t.eq(out["404"], 404, "aiohttp GET of a missing file: 404")
    t.eq(out["redirect"], w["redirect"],
         "aiohttp GET /sub: 301 to https://a.test:PORT/sub/, followed to the index")
    check_post(t, out["post"], "aiohttp", out["post_sha"])
    t.eq(out["noverify"], "CertificateError",
         "aiohttp without the test CA: certificate error")


def httpclient(t, c):
    """The stdlib http.client over TLS to 127.0.0.1 (no SNI: an IP address;
    the certificate's IP SAN is checked), as test_clients.py does over TCP."""
    ctx = ssl.create_default_context(cafile=c.ca)
    hc = http.client.HTTPSConnection("127.0.0.1", c.port, timeout=10, context=ctx)
    try:
        steps = []
        hc.request("GET", "/a.txt?t=hc")
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("ETag")))
        sock = hc.sock
        version = sock.version() if sock is not None else None
        hc.request("HEAD", "/a.txt?t=hc")
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("Content-Length")))
        hc.request("GET", "/a.txt?t=hc", headers={"If-None-Match": A_ETAG})
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("Content-Length")))
        hc.request("GET", "/a.txt?t=hc", headers={"Range": "bytes=6-9"})
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("Content-Range")))
        hc.request("POST", "/a.txt?t=hc", body=b"a=1&b=2",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = hc.getresponse()
        steps.append((r.status, bool(r.read()), r.getheader("Allow")))
        same = hc.sock is sock and sock is not None
    finally:
        hc.close()
    want = [(200, A_TXT, A_ETAG), (200, b"", str(len(A_TXT))), (304, b"", None),
            (206, A_TXT[6:10], "bytes 6-9/%d" % len(A_TXT)), (405, True, "GET, HEAD, OPTIONS")]
    names = ["GET", "HEAD", "conditional GET (304)", "Range GET (206)", "POST (405)"]
    for name, got, exp in zip(names, steps, want):
        t.eq(got, exp, "http.client over TLS: %s" % name)
    t.eq(version, "TLSv1.3", "http.client: TLS 1.3 negotiated")
    t.ok(same, "http.client: the 5 requests (POST included) on one TLS connection")
    lines = c.wait_log("hc", 5)
    t.eq(([ln["k"] for ln in lines], len({ln["port"] for ln in lines})),
         (["0", "1", "2", "3", "4"], 1),
         "http.client: the server logged 5 requests on one connection, %k 0..4")

# ------------------------------------------------------------ 4. curl, wget, ab, h2load


def curl(t, c):
    exe = tool(t, "curl", "curl", "curl tests")
    if not exe:
        return
    base = c.base
    cmd = [exe, "-s", "--http1.1", "--max-time", "20", "--cacert", c.ca,
           "--resolve", "a.test:%d:127.0.0.1" % c.port]
    out = os.path.join(c.tmp, "curl.out")
    with t.guard("curl GET"):
        rc, stdout, stderr = run(cmd + ["-v", "-w", "%{ssl_verify_result}",
                                        base + "/a.txt?t=curl-get"])
        err = stderr.decode("latin-1")
        t.eq((rc, stdout), (0, A_TXT + b"0"), "curl GET /a.txt: exit 0, body, "
             "ssl_verify_result 0 (verified against the test CA)")
        t.match(r"SSL connection using TLSv1\.3 / TLS_", err, "curl: TLS 1.3 negotiated")
        t.match(r"ALPN: server accepted http/1\.1", err, "curl: ALPN http/1.1 accepted")
        t.match(r"subject: CN=a\.test", err, "curl: served the a.test certificate")
    with t.guard("curl -I"):
        rc, stdout, _ = run(cmd + ["-I", base + "/a.txt?t=curl-head"])
        text = stdout.decode("latin-1")
        t.eq(rc, 0, "curl -I: exit 0")
        t.ok(text.startswith("HTTP/1.1 200 OK\r\n"), "curl -I: HTTP/1.1 200 OK", diag=text)
        for line in ("ETag: %s" % A_ETAG, "Accept-Ranges: bytes",
                     "Content-Length: %d" % len(A_TXT), "Last-Modified: %s" % LM):
            t.contains("\r\n%s\r\n" % line, text, "curl -I: %s" % line)
        t.ok(text.endswith("\r\n\r\n"), "curl -I: head only", diag=text[-200:])
    with t.guard("curl -r"):
        rc, stdout, _ = run(cmd + ["-r", "0-4", "-o", out, "-w", "%{http_code}",
                                   base + "/a.txt?t=curl-range"])
        with open(out, "rb") as f:
            body = f.read()
        t.eq((rc, stdout, body), (0, b"206", A_TXT[:5]), "curl -r 0-4: 206, first 5 bytes")
        data = c.s.file_bytes("bin.dat")
        rc, stdout, _ = run(cmd + ["-r", "1000-", "-o", out, "-w", "%{http_code}",
                                   base + "/bin.dat?t=curl-range"])
        with open(out, "rb") as f:
            body = f.read()
        t.ok(rc == 0 and stdout == b"206" and body == data[1000:],
             "curl -r 1000-: 206, the rest of bin.dat", diag=(rc, stdout, len(body)))
    with t.guard("curl -z"):
        os.unlink(out)
        rc, stdout, _ = run(cmd + ["-z", LM, "-o", out, "-w", "%{http_code}",
                                   base + "/a.txt?t=curl-z"])
        size = os.path.getsize(out) if os.path.exists(out) else 0
        t.eq((rc, stdout, size), (0, b"304", 0), "curl -z <Last-Modified>: 304, no body")
    with t.guard("curl big"):
        big = c.s.file_bytes("big.bin")
        rc, stdout, _ = run(cmd + ["-o", out, "-w", "%{http_code} %{size_download}",
                                   base + "/big.bin?t=curl-big"])
        with open(out, "rb") as f:
            body = f.read()
        t.ok(rc == 0 and stdout == b"200 %d" % len(big) and body == big,
             "curl GET /big.bin (3 MB): 200, identical", diag=(rc, stdout, len(body)))
    with t.guard("curl reuse"):
        rc, stdout, stderr = run(cmd + ["-v", base + "/a.txt?t=curl-reuse",
                                        base + "/?t=curl-reuse", base + "/a.txt?t=curl-reuse"])
        t.eq((rc, stdout), (0, A_TXT + INDEX_HTML + A_TXT), "curl three URLs: all bodies")
        t.match(r"(?i)re-?using existing connection", stderr.decode("latin-1"),
                "curl three URLs: re-uses the connection")
        check_reuse(t, c, "curl-reuse", 3, "curl three URLs")
    with t.guard("curl redirect"):
        rc, stdout, _ = run(cmd + ["-L", "-w", " %{http_code} %{num_redirects} %{url_effective}",
                                   base + "/sub"])
        t.eq((rc, stdout), (0, SUB_INDEX_HTML + b" 200 1 " + (base + "/sub/").encode()),
             "curl -L /sub: one redirect, to https://a.test:PORT/sub/, its index")
    with t.guard("curl POST 100-continue"):
        payload = os.path.join(c.tmp, "payload.bin")
        with open(payload, "wb") as f:
            f.write(b"p" * 100000)
        rc, stdout, stderr = run(cmd + ["-v", "-o", out, "-w", "%{http_code} %{size_upload}",
                                        "-H", "Expect: 100-continue",
                                        "--data-binary", "@" + payload,
                                        base + "/a.txt?t=curl-post"])
        err = stderr.decode("latin-1")
        t.eq((rc, stdout), (0, b"405 0"), "curl POST 100 KB (Expect: 100-continue): 405 "
             "before any body byte was uploaded")
        t.ok("> Expect: 100-continue" in err and " 100 Continue" not in err,
             "curl POST 100 KB: sent Expect, no 100 Continue", diag=err[-1500:])
        t.ok("< Connection: close" in err, "curl POST 100 KB: Connection: close",
             diag=err[-1500:])
    with t.guard("curl POST echo"):
        rc, stdout, _ = run(cmd + ["--data-binary", "@" + payload,
                                   base + "/cgi-bin/env.py?t=curl-echo"])
        try:
            j = json.loads(stdout.decode("utf-8"))
        except ValueError:
            j = {"output": stdout[:300]}
        t.eq((rc, j.get("body_len"), j.get("body_sha256"), j.get("env", {}).get("HTTPS")),
             (0, 100000, sha(b"p" * 100000), "on"),
             "curl POST 100 KB to a CGI script: it read every byte, HTTPS=on")
    with t.guard("curl --http2"):
        # mpmd offers only http/1.1 by ALPN: a client asking for h2 first
        # gets HTTP/1.1.
        argv = [a for a in cmd if a != "--http1.1"]
        rc, stdout, stderr = run(argv + ["--http2", "-v", "-w", " %{http_version}",
                                         base + "/a.txt?t=curl-h2"])
        t.eq((rc, stdout), (0, A_TXT + b" 1.1"), "curl --http2: answered in HTTP/1.1")
        t.match(r"ALPN: server accepted http/1\.1", stderr.decode("latin-1"),
                "curl --http2: ALPN picked http/1.1")
    with t.guard("curl no CA"):
        rc, stdout, _ = run([exe, "-s", "--http1.1", "--max-time", "20", "--resolve",
                             "a.test:%d:127.0.0.1" % c.port, base + "/a.txt?t=curl-noca"])
        t.eq(rc, 60, "curl without the test CA: exit 60 (certificate not verified)")
    with t.guard("curl TLS 1.1"):
        # Old protocols refused (the client opens its SECLEVEL: otherwise
        # it can't speak TLS 1.1 at all and the check proves nothing).
        rc, stdout, _ = run(cmd + ["--tlsv1.1", "--tls-max", "1.1", "--ciphers",
                                   "DEFAULT:@SECLEVEL=0", "-w", "%{http_code}",
                                   base + "/a.txt?t=curl-tls11"])
        t.ok(rc == 35 and stdout == b"000", "curl --tls-max 1.1: handshake refused (exit 35)",
             diag=(rc, stdout))


def wget(t, c):
    exe = tool(t, "wget", "wget", "wget tests")
    if not exe:
        return
    for name in ("big.bin", "bin.dat", "a.txt"):
        with t.guard("wget %s" % name):
            out = os.path.join(c.tmp, "wget-" + name)
            rc, _, stderr = run([exe, "-q", "--tries=1", "--timeout=20", "--ca-certificate",
                                 c.ca, "-O", out, "https://127.0.0.1:%d/%s" % (c.port, name)])
            t.eq(rc, 0, "wget -q https %s: exit 0" % name)
            with open(out, "rb") as f:
                got = f.read()
            t.ok(got == c.s.file_bytes(name), "wget %s over TLS: file equals the served one"
                 % name, diag="got %d bytes" % len(got))


def ab(t, c):
    exe = tool(t, "ab", "apache2-utils", "ab tests")
    if not exe:
        return
    for flags, what in [([], "ab -n 200 -c 10 https"), (["-k"], "ab -k -n 200 -c 10 https")]:
        with t.guard(what):
            rc, stdout, stderr = run([exe] + flags + ["-n", "200", "-c", "10", "-s", "20",
                                                      "https://127.0.0.1:%d/a.txt" % c.port])
            out = stdout.decode("latin-1") + stderr.decode("latin-1")
            t.eq(rc, 0, "%s: exit 0" % what)
            t.match(r"Complete requests:\s+200\b", out, "%s: 200 complete" % what)
            t.contains("Failed requests:        0\n", out, "%s: Failed requests: 0" % what)
            t.ok("Non-2xx responses" not in out, "%s: no Non-2xx responses" % what, diag=out)
            t.match(r"SSL/TLS Protocol:\s+TLSv1\.3", out, "%s: TLS 1.3" % what)
            if flags:
                t.match(r"Keep-Alive requests:\s+200\b", out,
                        "%s: all 200 on HTTP/1.0 keep-alive connections" % what)


def close_notify(t, c):
    """Python's ssl (suppress_ragged_eofs off) reads a response to its end:
    a server that closes the connection must send close_notify first,
    else OpenSSL 3 clients see "unexpected eof while reading" (ab counts
    such responses as failed)."""
    ctx = ssl.create_default_context(cafile=c.ca)
    for req, what in [(b"GET /a.txt?t=cn10 HTTP/1.0\r\nHost: a.test\r\n\r\n", "HTTP/1.0"),
                      (b"GET /a.txt?t=cn11 HTTP/1.1\r\nHost: a.test\r\nConnection: close"
                       b"\r\n\r\n", "HTTP/1.1 Connection: close")]:
        data, end = b"", None
        with socket.create_connection(("127.0.0.1", c.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="a.test",
                                 suppress_ragged_eofs=False) as s:
                s.sendall(req)
                try:
                    while True:
                        d = s.recv(65536)
                        if not d:
                            end = "close_notify"
                            break
                        data += d
                except ssl.SSLError as e:
                    end = "SSLError: %s" % e
                except OSError as e:
                    end = "%s: %s" % (type(e).__name__, e)
        t.eq((data.split(b"\r\n", 1)[0], data.endswith(A_TXT), end),
             (b"HTTP/1.1 200 OK", True, "close_notify"),
             "%s over TLS: the answer, then close_notify before the server's FIN" % what)


def h2load(t, c):
    exe = tool(t, "h2load", "nghttp2-client", "h2load --h1 over TLS")
    if not exe:
        return
    rc, stdout, stderr = run([exe, "--h1", "-n", "2000", "-c", "20",
                              "https://127.0.0.1:%d/index.html" % c.port])
    out = (stdout + stderr).decode("utf-8", "replace")
    t.eq(rc, 0, "h2load: exit 0")
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out, re.M)
    t.ok(m is not None, "h2load: a requests: line", diag=out[-2000:])
    if m:
        t.eq((m.group(1), m.group(4), m.group(5), m.group(6), m.group(7)),
             ("2000", "2000", "0", "0", "0"),
             "h2load --h1 -n 2000 -c 20: 2000 succeeded, 0 failed, 0 errored, 0 timeout")
    t.match(r"^status codes: 2000 2xx", out, "h2load: 2000 status 2xx", re.M)
    t.match(r"^TLS Protocol: TLSv1\.3$", out, "h2load: TLS Protocol: TLSv1.3", re.M)
    t.match(r"^Application protocol: http/1\.1$", out, "h2load: application protocol "
            "http/1.1", re.M)
    for line in out.splitlines():
        if line.startswith(("TLS Protocol", "Cipher", "Server Temp Key", "requests:")):
            t.diag("h2load: " + line)

# ------------------------------------------------------------ 5. wrk


def wrk(t, c):
    exe = tool(t, "wrk", "wrk", "wrk over TLS")
    if not exe:
        return
    rc, stdout, stderr = run([exe, "-t1", "-c10", "-d2s",
                              "https://127.0.0.1:%d/index.html" % c.port], timeout=30)
    out = (stdout + stderr).decode("utf-8", "replace")
    t.eq(rc, 0, "wrk: exit 0")
    m = re.search(r"^\s*(\d+) requests in ", out, re.M)
    t.ok(m is not None and int(m.group(1)) > 0, "wrk -t1 -c10 -d2s https: requests done",
         diag=out)
    t.ok("Socket errors" not in out, "wrk https: no socket errors (connect, read, write, "
         "timeout)", diag=out)
    t.ok("Non-2xx or 3xx" not in out, "wrk https: every answer 2xx", diag=out)

# ------------------------------------------------------------ main


def tls_answers(port, ca, timeout=2.0):
    """A TLS handshake (SNI a.test, verified) and a HEAD on PORT work."""
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname="a.test") as s:
                s.sendall(b"HEAD / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/1.1 ")
    except (OSError, ssl.SSLError):
        return False


def make_cgi(tmp):
    """TMP/cgi/env.py (upstreams/cgi/env.py: environment + body length and
    sha256 as JSON) with a python3 this machine has."""
    d = os.path.join(tmp, "cgi")
    os.makedirs(d)
    with open(os.path.join(U.FIXTURES, "cgi", "env.py")) as f:
        lines = f.read().split("\n")
    lines[0] = "#!" + U.python_for_scripts()
    path = os.path.join(d, "env.py")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    os.chmod(d, 0o755)
    os.chmod(path, 0o755)


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmdtest-tlstools-")
    os.chmod(tmp, 0o755)
    try:
        pki = tlspki.make_pki(os.path.join(tmp, "pki"))
        make_cgi(tmp)
        tlsport = free_port()
        conf = CONF.replace("{logformat}", LOG_FORMAT.replace('"', '\\"'))
        for k, v in [("{tlsport}", str(tlsport)), ("{tmp}", tmp)] + [
                ("{%s}" % k, v) for k, v in pki.items()]:
            conf = conf.replace(k, v)
        with t.guard("server"), TlsServer(conf, mpm="event", start_servers=2, tap=t) as s:
            if not t.ok(wait_until(lambda: tls_answers(tlsport, pki["ca"]), 10.0, 0.2),
                        "the https Listen answers a verified TLS handshake (SNI a.test)",
                        diag=s.errlog_text()[-2000:]):
                return          # every tool would only repeat this failure
            c = Ctx(s, tlsport, pki, tmp)
            for name, fn in [("testssl.sh", testssl), ("sslscan", sslscan),
                             ("python requests", python_requests),
                             ("python httpx", python_httpx),
                             ("python aiohttp", python_aiohttp),
                             ("http.client", httpclient), ("curl", curl), ("wget", wget),
                             ("close_notify", close_notify), ("ab", ab),
                             ("h2load", h2load), ("wrk", wrk)]:
                start = time.monotonic()
                with t.guard(name):
                    fn(t, c)
                t.diag("%s: %.1f s" % (name, time.monotonic() - start))
            t.ok(s.is_running(), "server still running after every tool")
            t.eq(s.get("/a.txt").status, 200, "plain Listen still answers")
            t.ok(tls_answers(tlsport, pki["ca"]), "https Listen still answers")
            err = s.errlog_text()
            t.ok(not re.search(r"child \d+ exited", err),
                 "error log: no child exited (crashed) during the tools' runs",
                 diag=err[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
