#!/usr/bin/env python3
# test_cgi.py: CGI programs run by mpmd (TAP on stdout).
#
# The scripts of tests/integration/upstreams/cgi/ are copied to a temp dir
# (made executable there; env.py's first line names a python3 this machine
# has) and mapped with
#   ScriptAlias /cgi-bin/ TMP/cgi/
#   <Directory TMP/cgi2> Options +ExecCGI / AddHandler cgi-script .cgi .sh
#   <Directory TMP/cgi3> AddHandler cgi-script .sh     (no ExecCGI: 403)
#   CGIScriptTimeout 2
# Checked: the meta-variables (GATEWAY_INTERFACE, SERVER_PROTOCOL,
# REQUEST_METHOD, QUERY_STRING, SCRIPT_NAME, SCRIPT_FILENAME, PATH_INFO,
# REMOTE_ADDR, SERVER_PORT, HTTP_* from request headers, CONTENT_LENGTH and
# CONTENT_TYPE of a POST, no HTTP_PROXY from a "Proxy:" header); a POST
# body (Content-Length and chunked) as the script read it; Status: 418; a
# local redirect (Location: /path, answered with that path's output); a
# client redirect (302); stderr in the ErrorLog; CGIScriptTimeout ending a
# hung script's response (504 before any head) within ~5 s and killing its
# whole process group (a background "sleep 60" included); only descriptors
# 0, 1, 2 inherited; a 20 MB answer; AddHandler with and without ExecCGI.
# Needs only /bin/sh and curl.
# Run by hand:
#   MPMD=$PWD/src/mpmd MPMD_SRCDIR=$PWD PYTHONPATH=$PWD/tests/integration \
#       python3 tests/integration/test_cgi.py

import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid

import mpmdtest
import upstreams as U
from mpmdtest import Conn, run_tests

BIG_SIZE = 20 * U.MIB


def make_dirs(tmp):
    """TMP/cgi (every fixture), TMP/cgi2 and TMP/cgi3 (hello.sh, hello.cgi,
    readme.txt); scripts mode 755."""
    cgi = os.path.join(tmp, "cgi")
    shutil.copytree(os.path.join(U.FIXTURES, "cgi"), cgi)
    envpy = os.path.join(cgi, "env.py")
    with open(envpy) as f:
        lines = f.read().split("\n")
    lines[0] = "#!" + U.python_for_scripts()
    with open(envpy, "w") as f:
        f.write("\n".join(lines))
    for name in ("cgi2", "cgi3"):
        d = os.path.join(tmp, name)
        os.makedirs(d)
        shutil.copy(os.path.join(cgi, "hello.sh"), os.path.join(d, "hello.sh"))
        shutil.copy(os.path.join(cgi, "hello.sh"), os.path.join(d, "hello.cgi"))
        with open(os.path.join(d, "readme.txt"), "w") as f:
            f.write("plain file in %s\n" % name)
    for root, dirs, files in os.walk(tmp):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644 if f.endswith(".txt") else 0o755)
    return cgi


def conf(tmp):
    return "\n".join([
        "ServerName cgi.test",
        "ScriptAlias /cgi-bin/ %s/cgi/" % tmp,
        "Alias /cgi2/ %s/cgi2/" % tmp,
        "Alias /cgi3/ %s/cgi3/" % tmp,
        "<Directory %s/cgi2>" % tmp,
        "    Options +ExecCGI",
        "    AddHandler cgi-script .cgi .sh",
        "</Directory>",
        "<Directory %s/cgi3>" % tmp,
        "    AddHandler cgi-script .sh",
        "</Directory>",
        "CGIScriptTimeout 2",
    ])


def fetch(s, path, method="GET", headers=None, body=b"", timeout=mpmdtest.IO_TIMEOUT):
    """One request on a fresh connection, with Host 127.0.0.1:PORT as a
    browser sends it (SERVER_PORT follows the Host's port)."""
    hdrs = [("Host", "127.0.0.1:%d" % s.port)] + list(headers or [])
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hdrs):
        hdrs.append(("Content-Length", str(len(body))))
    with Conn(s.port, timeout=timeout) as c:
        c.request(method, path, headers=hdrs, body=body)
        return c.read_response(head=(method == "HEAD"))


def env_of(r):
    """{NAME: value} of env.sh's output."""
    out = {}
    for line in r.body.decode("utf-8", "replace").split("\n"):
        k, sep, v = line.partition("=")
        if sep and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
            out[k] = v
    return out


def meta(t, s, cgi):
    r = fetch(s, "/cgi-bin/env.sh/a/b?x=1&y=%41", headers=[
        ("X-Test", "hello-cgi"), ("Proxy", "http://evil.example:1/")])
    e = env_of(r)
    t.eq(r.status, 200, "env.sh: 200")
    t.ok((r.header("Content-Type") or "").startswith("text/plain"), "env.sh: its Content-Type",
         diag=r.header("Content-Type"))
    want = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": "GET", "QUERY_STRING": "x=1&y=%41",
            "SCRIPT_NAME": "/cgi-bin/env.sh", "SCRIPT_FILENAME": os.path.join(cgi, "env.sh"),
            "PATH_INFO": "/a/b", "REMOTE_ADDR": "127.0.0.1", "SERVER_PORT": str(s.port),
            "HTTP_X_TEST": "hello-cgi"}
    for k, v in want.items():
        t.eq(e.get(k), v, "env.sh/a/b: %s" % k)
    t.ok("HTTP_PROXY" not in e, "a Proxy: request header does not become HTTP_PROXY (httpoxy)",
         diag="HTTP_PROXY=%r" % e.get("HTTP_PROXY"))
    r = fetch(s, "/cgi-bin/env.sh", "POST", [("Content-Type", "application/x-test")], b"abc=1")
    e = env_of(r)
    t.eq((r.status, e.get("REQUEST_METHOD"), e.get("CONTENT_LENGTH"), e.get("CONTENT_TYPE"),
          e.get("PATH_INFO"), e.get("QUERY_STRING")),
         (200, "POST", "5", "application/x-test", None, ""),
         "POST to env.sh: REQUEST_METHOD, CONTENT_LENGTH, CONTENT_TYPE; no PATH_INFO, "
         "empty QUERY_STRING")


def bodies(t, s, cgi):
    body = os.urandom(1000000)
    r = fetch(s, "/cgi-bin/env.py", "POST", [("Content-Type", "application/octet-stream")], body,
              timeout=20)
    try:
        j = json.loads(r.body.decode())
    except (ValueError, UnicodeDecodeError):
        j = {}
    t.eq((r.status, j.get("body_len"), j.get("body_sha256")),
         (200, len(body), hashlib.sha256(body).hexdigest()),
         "env.py: a 1 MB POST body arrives on stdin whole (sha256)")
    t.eq(j.get("env", {}).get("CONTENT_LENGTH"), str(len(body)), "env.py: CONTENT_LENGTH")
    parts = [os.urandom(3000), os.urandom(1), os.urandom(65536)]
    data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    with Conn(s.port, timeout=20) as c:
        c.send(mpmdtest.build_request("POST", "/cgi-bin/env.py", headers=[
            ("Host", "127.0.0.1:%d" % s.port), ("Transfer-Encoding", "chunked")]) + data)
        r = c.read_response()
    try:
        j = json.loads(r.body.decode())
    except (ValueError, UnicodeDecodeError):
        j = {}
    t.eq((r.status, j.get("body_len"), j.get("body_sha256")),
         (200, 68537, hashlib.sha256(b"".join(parts)).hexdigest()),
         "env.py: a chunked POST body arrives on stdin whole")
    dst = os.path.join(os.path.dirname(cgi), "big.out")
    rc, out, err = U.curl(["-o", dst, "-w", "%{http_code}",
                           "http://127.0.0.1:%d/cgi-bin/big.sh?n=%d" % (s.port, BIG_SIZE)])
    t.eq((rc, out), (0, b"200"), "big.sh?n=20 MB: curl exit 0, status 200")
    t.eq(U.file_sha256(dst), (BIG_SIZE, hashlib.sha256(bytes(BIG_SIZE)).hexdigest()),
         "big.sh?n=20 MB: size and sha256")
    if os.path.exists(dst):
        os.unlink(dst)


def responses(t, s, cgi):
    r = fetch(s, "/cgi-bin/status.sh")
    t.eq((r.status, r.body), (418, b"short and stout\n"), "status.sh: Status: 418 and body")
    r = fetch(s, "/cgi-bin/local.sh?from=local")
    e = env_of(r)
    t.eq((r.status, e.get("SCRIPT_NAME"), e.get("GATEWAY_INTERFACE"), e.get("REQUEST_METHOD")),
         (200, "/cgi-bin/env.sh", "CGI/1.1", "GET"),
         "local.sh: Location: /cgi-bin/env.sh answered with env.sh's output (local redirect)")
    t.eq(r.header("Location"), None, "local.sh: no Location sent to the client")
    r = fetch(s, "/cgi-bin/client.sh")
    t.eq((r.status, r.header("Location")), (302, "http://example.com/x"),
         "client.sh: absolute Location -> 302")
    r = fetch(s, "/cgi-bin/stderr.sh")
    t.eq((r.status, r.body), (200, b"stderr written\n"), "stderr.sh: 200")
    t.ok(mpmdtest.wait_until(lambda: "cgi-stderr-marker" in s.errlog_text(), 5),
         "stderr.sh: its standard error is in the ErrorLog", diag=s.errlog_text()[-1000:])
    r = fetch(s, "/cgi-bin/fds.sh")
    fds = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        m = re.search(r"\s(\d+) -> (.*)$", line)
        if m:
            fds[int(m.group(1))] = m.group(2)
    extra = {fd: target for fd, target in fds.items()
             if fd > 2 and not re.match(r"^/proc/\d+/fd$", target)}
    t.ok(r.status == 200 and {0, 1, 2} <= set(fds),
         "fds.sh: 200 and descriptors 0, 1, 2 open", diag=r.body[-1000:])
    t.eq(extra, {}, "fds.sh: no descriptor but 0, 1, 2 inherited")
    r = fetch(s, "/cgi-bin/nope.sh")
    t.eq(r.status, 404, "a missing script under ScriptAlias: 404")


def handlers(t, s, cgi):
    for path in ("/cgi2/hello.sh", "/cgi2/hello.cgi"):
        r = fetch(s, path)
        t.eq((r.status, r.body), (200, b"hello from cgi\n"),
             "AddHandler cgi-script + Options +ExecCGI: %s runs" % path)
    r = fetch(s, "/cgi2/readme.txt")
    t.eq((r.status, r.body), (200, b"plain file in cgi2\n"),
         "AddHandler directory: other extensions served as files")
    r = fetch(s, "/cgi3/hello.sh")
    t.eq(r.status, 403, "AddHandler cgi-script without ExecCGI: 403")
    t.ok(b"hello from cgi" not in r.body, "without ExecCGI: the script did not run")


def sleepers(marker):
    return {pid: argv for pid, argv in U.procs_with_env(marker).items()}


def timeout_case(t, s, script, label):
    """Request SCRIPT (which hangs in "sleep 60" with another "sleep 60" in
    the background); a header puts MARKER into the environment of every
    process it starts.  Returns (status or None, seconds, what ended it)."""
    mark = uuid.uuid4().hex
    entry = "HTTP_X_MARK=%s" % mark
    result = {}

    def client():
        start = time.monotonic()
        try:
            with Conn(s.port, timeout=15) as c:
                c.request("GET", "/cgi-bin/%s" % script, headers=[
                    ("Host", "127.0.0.1:%d" % s.port), ("X-Mark", mark)])
                head = c._read_until(b"\r\n\r\n")
                parts = head.split(b" ", 2)
                result["status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
                low = head.lower()
                try:
                    m = re.search(rb"\r\ncontent-length: *(\d+)", low)
                    if m:
                        c._read_exact(int(m.group(1)))
                    elif re.search(rb"\r\ntransfer-encoding: *chunked", low):
                        c._read_chunked()
                    else:
                        c._read_to_eof()
                    result["end"] = "complete response"
                except mpmdtest.ProtocolError:
                    result["end"] = "connection closed mid-body"
        except (OSError, mpmdtest.ProtocolError, ValueError) as e:
            result["end"] = "%s: %s" % (type(e).__name__, e)
        result["secs"] = time.monotonic() - start

    th = threading.Thread(target=client, daemon=True)
    th.start()
    seen = mpmdtest.wait_until(
        lambda: sum(1 for argv in sleepers(entry).values() if argv == ["sleep", "60"]) >= 2, 1.8)
    t.ok(seen, "%s: the script runs, with its two 'sleep 60' processes" % label,
         diag=repr(sleepers(entry)))
    th.join(12)
    t.ok(not th.is_alive() and result.get("secs", 99) < 5.5,
         "%s: CGIScriptTimeout 2 ends the response within 5.5 s (%s after %.1f s)"
         % (label, result.get("end"), result.get("secs", -1)))
    gone = mpmdtest.wait_until(lambda: not sleepers(entry), 5, 0.1)
    left = sleepers(entry)
    t.ok(gone, "%s: the script's whole process group is gone afterwards" % label,
         diag="left: %r" % left)
    U.kill_pids(left)
    return result


def timeouts(t, s, cgi):
    res = timeout_case(t, s, "nohead.sh", "nohead.sh (no output)")
    t.eq(res.get("status"), 504, "nohead.sh: 504 when the script sent no head in time")
    timeout_case(t, s, "sleep.sh", "sleep.sh (head sent, then hangs)")
    r = fetch(s, "/cgi2/hello.sh")
    t.eq(r.status, 200, "the server still runs CGI programs afterwards")


def main(t):
    if not shutil.which("curl"):
        t.skip("CGI tests", "curl not installed")
        return
    tmp = U.mkdtemp("mpmdtest-cgi-")
    try:
        cgi = make_dirs(tmp)
        with U.front(t, "cgi", conf(tmp)) as s:
            if s is None:
                return
            for name, fn in (("meta-variables", meta), ("bodies", bodies),
                             ("responses", responses), ("handlers", handlers),
                             ("timeouts", timeouts)):
                with t.guard(name):
                    fn(t, s, cgi)
            U.no_crash(t, s, "cgi")
    finally:
        U.keep_or_remove(tmp)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
