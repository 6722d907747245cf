#!/usr/bin/env python3
# test_clients.py: real HTTP clients against a running mpmd (TAP on stdout).
#
# curl (GET, HEAD, Range, If-Modified-Since, connection reuse, a POST with
# Expect: 100-continue answered from the head, no 100 Continue), wget
# (downloads compared byte for byte), ab (plain and keep-alive: no failed or
# non-2xx requests), python
# requests (run by /usr/bin/python3 in a subprocess: GET compared, a Session
# with 5 keep-alive GETs on one connection) and the stdlib http.client.
# A missing tool is a TAP skip naming its Debian package.
# Runs under MPM event.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_clients.py

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile

from mpmdtest import A_TXT, FIXED_MTIME, INDEX_HTML, IO_TIMEOUT, Server, http_date, run_tests

SYSTEM_PYTHON = "/usr/bin/python3"
TOOL_TIMEOUT = 60
LM = http_date(FIXED_MTIME)
A_ETAG = '"%x-%x"' % (FIXED_MTIME, len(A_TXT))


def run(argv, timeout=TOOL_TIMEOUT):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def tool(t, name, package, what):
    """Path of NAME, or None after a TAP skip naming the apt PACKAGE."""
    exe = shutil.which(name)
    if not exe:
        t.skip(what, "%s not installed (apt-get install %s)" % (name, package))
    return exe

# ------------------------------------------------------------ curl


def curl(t, s, tmp):
    exe = tool(t, "curl", "curl", "curl tests")
    if not exe:
        return
    base = "http://127.0.0.1:%d" % s.port
    cmd = [exe, "-s", "--max-time", "20"]
    out = os.path.join(tmp, "curl.out")
    with t.guard("curl GET"):
        rc, stdout, _ = run(cmd + [base + "/a.txt"])
        t.eq((rc, stdout), (0, A_TXT), "curl GET /a.txt: exit 0, body")
    with t.guard("curl -I"):
        rc, stdout, _ = run(cmd + ["-I", base + "/a.txt"])
        text = stdout.decode("latin-1")
        t.eq(rc, 0, "curl -I: exit 0")
        t.ok(text.startswith("HTTP/1.1 200 OK\r\n"), "curl -I: HTTP/1.1 200 OK", diag=text)
        for line in ("ETag: %s" % A_ETAG, "Accept-Ranges: bytes",
                     "Content-Length: %d" % len(A_TXT), "Last-Modified: %s" % LM):
            t.contains("\r\n%s\r\n" % line, text, "curl -I: %s" % line)
        t.ok(text.endswith("\r\n\r\n"), "curl -I: head only", diag=text[-200:])
    with t.guard("curl -r"):
        rc, stdout, _ = run(cmd + ["-r", "0-4", "-o", out, "-w", "%{http_code}",
                                   base + "/a.txt"])
        with open(out, "rb") as f:
            body = f.read()
        t.eq((rc, stdout, body), (0, b"206", A_TXT[:5]), "curl -r 0-4: 206, first 5 bytes")
        data = s.file_bytes("bin.dat")
        rc, stdout, _ = run(cmd + ["-r", "1000-", "-o", out, "-w", "%{http_code}",
                                   base + "/bin.dat"])
        with open(out, "rb") as f:
            body = f.read()
        t.ok(rc == 0 and stdout == b"206" and body == data[1000:],
             "curl -r 1000-: 206, the rest of bin.dat", diag=(rc, stdout, len(body)))
    with t.guard("curl -z"):
        os.unlink(out)
        rc, stdout, _ = run(cmd + ["-z", LM, "-o", out, "-w", "%{http_code}",
                                   base + "/a.txt"])
        size = os.path.getsize(out) if os.path.exists(out) else 0
        t.eq((rc, stdout, size), (0, b"304", 0), "curl -z <Last-Modified>: 304, no body")
        rc, stdout, _ = run(cmd + ["-z", http_date(FIXED_MTIME - 3600), "-o", out, "-w",
                                   "%{http_code}", base + "/a.txt"])
        with open(out, "rb") as f:
            body = f.read()
        t.eq((rc, stdout, body), (0, b"200", A_TXT), "curl -z <an hour earlier>: 200, body")
    with t.guard("curl reuse"):
        rc, stdout, stderr = run(cmd + ["-v", base + "/a.txt", base + "/"])
        t.eq((rc, stdout), (0, A_TXT + INDEX_HTML), "curl two URLs: both bodies")
        t.match(r"(?i)re-?using existing connection", stderr.decode("latin-1"),
                "curl two URLs: second one re-uses the connection")
    with t.guard("curl POST 100-continue"):
        payload = os.path.join(tmp, "payload.bin")
        with open(payload, "wb") as f:
            f.write(b"p" * 100000)
        # mpmd answers from the head: curl, waiting for 100 Continue, gets the
        # final 405 instead and never sends the body (size_upload 0), where a
        # server waiting for the body would have made it send after its 1 s.
        rc, stdout, stderr = run(cmd + ["-v", "-o", out, "-w", "%{http_code} %{size_upload}",
                                        "-H", "Expect: 100-continue",
                                        "--data-binary", "@" + payload, base + "/a.txt"])
        err = stderr.decode("latin-1")
        t.eq((rc, stdout), (0, b"405 0"), "curl POST 100 KB (Expect: 100-continue): 405 "
             "before any body byte was uploaded")
        t.ok("> Expect: 100-continue" in err and " 100 Continue" not in err,
             "curl POST 100 KB: sent Expect, no 100 Continue", diag=err[-1500:])
        t.ok("< Connection: close" in err, "curl POST 100 KB: Connection: close",
             diag=err[-1500:])

# ------------------------------------------------------------ wget


def wget(t, s, tmp):
    exe = tool(t, "wget", "wget", "wget tests")
    if not exe:
        return
    for name in ("big.bin", "bin.dat", "a.txt"):
        with t.guard("wget %s" % name):
            out = os.path.join(tmp, "wget-" + name)
            rc, _, stderr = run([exe, "-q", "--tries=1", "--timeout=20", "-O", out,
                                 "http://127.0.0.1:%d/%s" % (s.port, name)])
            t.eq(rc, 0, "wget -q -O %s: exit 0" % name)
            with open(out, "rb") as f:
                got = f.read()
            t.ok(got == s.file_bytes(name), "wget %s: file equals the served one" % name,
                 diag="got %d bytes" % len(got))

# ------------------------------------------------------------ ab


def ab(t, s):
    exe = tool(t, "ab", "apache2-utils", "ab tests")
    if not exe:
        return
    for flags, what in [([], "ab -n 200 -c 10"), (["-k"], "ab -k -n 200 -c 10")]:
        with t.guard(what):
            rc, stdout, stderr = run([exe] + flags + ["-n", "200", "-c", "10", "-s", "20",
                                                      "http://127.0.0.1:%d/a.txt" % s.port])
            out = stdout.decode("latin-1") + stderr.decode("latin-1")
            t.eq(rc, 0, "%s: exit 0" % what)
            t.match(r"Complete requests:\s+200\b", out, "%s: 200 complete" % what)
            t.contains("Failed requests:        0\n", out, "%s: Failed requests: 0" % what)
            t.ok("Non-2xx responses" not in out, "%s: no Non-2xx responses" % what, diag=out)
            if flags:
                t.match(r"Keep-Alive requests:\s+200\b", out,
                        "%s: all 200 on HTTP/1.0 keep-alive connections" % what)

# ------------------------------------------------------------ python requests


REQUESTS_SCRIPT = r"""
import hashlib, json, sys
import requests
base = "http://127.0.0.1:%d" % int(sys.argv[1])
out = {}
r = requests.get(base + "/big.bin", timeout=20)
out["get"] = [r.status_code, len(r.content), hashlib.sha256(r.content).hexdigest(),
              r.headers.get("ETag")]
with requests.Session() as s:
    res = []
    for path in ("/a.txt", "/", "/a.txt", "/bin.dat", "/"):
        r = s.get(base + path, timeout=20)
        res.append([r.status_code, hashlib.sha256(r.content).hexdigest()])
    pool = s.get_adapter(base).poolmanager.connection_from_url(base)
    out["session"] = res
    out["connections"] = pool.num_connections
r = requests.get(base + "/bin.dat", headers={"Range": "bytes=10-19"}, timeout=20)
out["range"] = [r.status_code, r.content.hex()]
print(json.dumps(out))
"""


def python_requests(t, s):
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        t.skip("python requests tests", "%s missing (apt-get install python3-requests)"
               % SYSTEM_PYTHON)
        return
    rc, _, _ = run([SYSTEM_PYTHON, "-c", "import requests"])
    if rc != 0:
        t.skip("python requests tests", "requests not importable by %s "
               "(apt-get install python3-requests)" % SYSTEM_PYTHON)
        return
    with t.guard("python requests"):
        rc, stdout, stderr = run([SYSTEM_PYTHON, "-c", REQUESTS_SCRIPT, str(s.port)])
        t.ok(rc == 0, "requests script: exit 0",
             diag=stderr.decode("utf-8", "replace")[-2000:])
        out = json.loads(stdout.decode("utf-8"))
        big = s.file_bytes("big.bin")
        t.eq(out["get"], [200, len(big), hashlib.sha256(big).hexdigest(),
                          '"%x-%x"' % (FIXED_MTIME, len(big))],
             "requests.get /big.bin: 200, length, sha256, ETag")
        want = [[200, hashlib.sha256(b).hexdigest()] for b in
                (A_TXT, INDEX_HTML, A_TXT, s.file_bytes("bin.dat"), INDEX_HTML)]
        t.eq(out["session"], want, "requests.Session: 5 GETs, statuses and bodies")
        t.eq(out["connections"], 1, "requests.Session: all 5 on one keep-alive connection")
        t.eq(out["range"], [206, s.file_bytes("bin.dat")[10:20].hex()],
             "requests Range bytes=10-19: 206 and the bytes")

# ------------------------------------------------------------ http.client


def httpclient(t, s):
    hc = http.client.HTTPConnection("127.0.0.1", s.port, timeout=IO_TIMEOUT)
    try:
        steps = []
        hc.request("GET", "/a.txt")
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("ETag")))
        sock = hc.sock
        hc.request("HEAD", "/a.txt")
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("Content-Length")))
        hc.request("GET", "/a.txt", headers={"If-None-Match": A_ETAG})
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("Content-Length")))
        hc.request("GET", "/a.txt", headers={"Range": "bytes=6-9"})
        r = hc.getresponse()
        steps.append((r.status, r.read(), r.getheader("Content-Range")))
        hc.request("POST", "/a.txt", body=b"a=1&b=2",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = hc.getresponse()
        steps.append((r.status, bool(r.read()), r.getheader("Allow")))
        same = hc.sock is sock and sock is not None   # the small POST body kept it
        # A chunked body has no known length: answered from the head with
        # "Connection: close"; http.client then opens a new connection.
        hc.request("PUT", "/a.txt", body=iter([b"chunk one ", b"chunk two"]),
                   encode_chunked=True)
        r = hc.getresponse()
        steps.append((r.status, bool(r.read()), r.getheader("Allow")))
        put_conn = r.getheader("Connection")
        hc.request("GET", "/")
        r = hc.getresponse()
        steps.append((r.status, r.read(), None))
    finally:
        hc.close()
    want = [(200, A_TXT, A_ETAG), (200, b"", str(len(A_TXT))), (304, b"", None),
            (206, A_TXT[6:10], "bytes 6-9/%d" % len(A_TXT)), (405, True, "GET, HEAD, OPTIONS"),
            (405, True, "GET, HEAD, OPTIONS"), (200, INDEX_HTML, None)]
    names = ["GET", "HEAD", "conditional GET (304)", "Range GET (206)", "POST (405)",
             "chunked PUT (405)", "GET /"]
    for name, got, exp in zip(names, steps, want):
        t.eq(got, exp, "http.client %s" % name)
    t.ok(same, "http.client: the first 5 requests (POST included) on one connection")
    t.eq(put_conn, "close", "http.client chunked PUT: Connection: close")

# ------------------------------------------------------------ main


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmdclients-")
    try:
        with t.guard("server"), Server(mpm="event", tap=t) as s:
            for name, fn in [("curl", lambda: curl(t, s, tmp)),
                             ("wget", lambda: wget(t, s, tmp)),
                             ("ab", lambda: ab(t, s)),
                             ("python requests", lambda: python_requests(t, s)),
                             ("http.client", lambda: httpclient(t, s))]:
                with t.guard(name):
                    fn()
            t.ok(s.is_running(), "server still running after all clients")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
