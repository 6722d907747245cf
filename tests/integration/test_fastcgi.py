#!/usr/bin/env python3
# test_fastcgi.py: mpmd as a FastCGI client of php-fpm (TAP on stdout).
#
# php-fpm (php8.2-fpm) runs in the foreground with a temporary config: one
# pool on 127.0.0.1:<free port>, one on a unix socket in a temp dir.  The
# scripts of tests/integration/upstreams/php/ are copied to a temp dir that
# is mpmd's DocumentRoot.  Three forms of the configuration:
#   <FilesMatch \.php$> SetHandler "proxy:fcgi://127.0.0.1:FPORT" </FilesMatch>
#   <Location /sock/> SetHandler "proxy:unix:SOCK|fcgi://localhost" </Location>
#   ProxyPass /fpm/ fcgi://127.0.0.1:FPORT/DOCROOT/
# Checked: hello.php's body; the variables PHP sees (SCRIPT_FILENAME the
# real file, PATH_INFO, QUERY_STRING, REQUEST_METHOD, CONTENT_LENGTH,
# CONTENT_TYPE, SCRIPT_NAME, REQUEST_URI, DOCUMENT_ROOT, HTTP_HOST,
# REMOTE_ADDR, SERVER_PORT, no HTTPS) in both TCP forms; a POST body's
# sha256; a script-set 404; a Location without status -> 302; error_log()
# text (FCGI_STDERR) in mpmd's ErrorLog; 200 sequential and 200 concurrent
# requests; the unix-socket form; a 10 MB POST and a 20 MB streamed answer
# (curl); HEAD; a missing script -> 404.
# Needs php8.2-fpm; skips when it is missing.
# Run by hand:
#   MPMD=$PWD/src/mpmd MPMD_SRCDIR=$PWD PYTHONPATH=$PWD/tests/integration \
#       python3 tests/integration/test_fastcgi.py

import contextlib
import hashlib
import json
import os
import shutil
import threading

import mpmdtest
import upstreams as U
from mpmdtest import Conn, run_tests

FRONT_HOST = "front.example"
POST_SIZE = 10 * U.MIB
BIG_SIZE = 20 * U.MIB


def make_phpdir(tmp):
    """Copy upstreams/php/ to TMP/php (and hello.php, info.php to
    TMP/php/sock/); returns the directory (no symbolic links in its path)."""
    d = os.path.join(tmp, "php")
    shutil.copytree(os.path.join(U.FIXTURES, "php"), d)
    os.makedirs(os.path.join(d, "sock"))
    for name in ("hello.php", "info.php"):
        shutil.copy(os.path.join(d, name), os.path.join(d, "sock", name))
    for root, dirs, files in os.walk(d):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return os.path.realpath(d)


def conf(fpm, phpdir):
    return "\n".join([
        "ServerName fcgi.test",
        "<FilesMatch \\.php$>",
        '    SetHandler "proxy:fcgi://127.0.0.1:%d"' % fpm.port,
        "</FilesMatch>",
        "<Location /sock/>",
        '    SetHandler "proxy:unix:%s|fcgi://localhost"' % fpm.sock,
        "</Location>",
        "ProxyPass /fpm/ fcgi://127.0.0.1:%d%s/" % (fpm.port, phpdir),
    ])


def host_of(s):
    return "%s:%d" % (FRONT_HOST, s.port)


def fetch(s, path, method="GET", headers=None, body=b""):
    hdrs = [("Host", host_of(s))] + list(headers or [])
    if body:
        hdrs.append(("Content-Length", str(len(body))))
    with Conn(s.port) as c:
        c.request(method, path, headers=hdrs, body=body)
        return c.read_response(head=(method == "HEAD"))


def as_json(r):
    try:
        return json.loads(r.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return {}


def scripts(t, s, phpdir):
    r = fetch(s, "/hello.php")
    t.eq((r.status, r.body), (200, b"Hello, world"), "hello.php: 200 Hello, world")
    t.ok((r.header("Content-Type") or "").startswith("text/plain"),
         "hello.php: the script's Content-Type", diag=r.header("Content-Type"))
    r = fetch(s, "/status.php")
    t.eq((r.status, r.body), (404, b"not here (from status.php)\n"),
         "status.php: the script's 404 and body")
    r = fetch(s, "/redirect.php")
    t.eq(r.status, 302, "redirect.php: Location without a status -> 302")
    t.ok((r.header("Location") or "").endswith("/target"), "redirect.php: Location kept",
         diag=r.header("Location"))
    r = fetch(s, "/stderr.php")
    t.eq((r.status, r.body), (200, b"logged\n"), "stderr.php: 200")
    t.ok(mpmdtest.wait_until(lambda: "from-php-stderr" in s.errlog_text(), 5),
         "stderr.php: its error_log() text (FCGI_STDERR) is in mpmd's ErrorLog",
         diag=s.errlog_text()[-1000:])
    r = fetch(s, "/nope.php")
    t.eq(r.status, 404, "a missing .php file: 404")
    r = fetch(s, "/flush.php")
    t.eq((r.status, r.body), (200, b"one\ntwo\nthree\n"),
         "flush.php (three pieces 150 ms apart): whole, in order")
    t.eq(r.header("Transfer-Encoding"), "chunked",
         "flush.php: streamed from its first pause (chunked)")
    r = fetch(s, "/slowstart.php")
    t.eq((r.status, r.body, r.header("Content-Length")), (200, b"late but whole\n", "15"),
         "slowstart.php (300 ms, then all at once): answered whole with a Content-Length")
    with Conn(s.port) as c:
        c.request("HEAD", "/hello.php", headers=[("Host", host_of(s))])
        r = c.read_response(head=True)
        t.eq((r.status, r.body), (200, b""), "HEAD hello.php: 200, no body")
        c.request("GET", "/hello.php", headers=[("Host", host_of(s))])
        r = c.read_response()
        t.eq((r.status, r.body), (200, b"Hello, world"),
             "GET after HEAD on the same connection")


def variables(t, s, phpdir):
    info = os.path.join(phpdir, "info.php")
    r = fetch(s, "/info.php?q=1", headers=[("X-Test", "fcgi-header")])
    j = as_json(r)
    if t.eq(r.status, 200, "FilesMatch form: info.php?q=1: 200"):
        want = {"SCRIPT_FILENAME": info, "SCRIPT_NAME": "/info.php",
                "REQUEST_URI": "/info.php?q=1", "QUERY_STRING": "q=1",
                "REQUEST_METHOD": "GET", "HTTP_HOST": host_of(s), "REMOTE_ADDR": "127.0.0.1",
                "SERVER_PORT": str(s.port), "DOCUMENT_ROOT": phpdir,
                "HTTP_X_TEST": "fcgi-header"}
        for k, v in want.items():
            t.eq(j.get(k), v, "FilesMatch form: %s" % k)
        t.ok(j.get("PATH_INFO") in (None, ""), "FilesMatch form: no PATH_INFO without one",
             diag=repr(j.get("PATH_INFO")))
        t.ok(j.get("HTTPS") in (None, "", "off"), "FilesMatch form: no HTTPS on plain HTTP",
             diag=repr(j.get("HTTPS")))
    r = fetch(s, "/info.php/extra/path?q=1")
    j = as_json(r)
    if t.eq(r.status, 200, "FilesMatch form: info.php/extra/path?q=1: 200"):
        for k, v in (("SCRIPT_FILENAME", info), ("SCRIPT_NAME", "/info.php"),
                     ("PATH_INFO", "/extra/path"), ("REQUEST_URI", "/info.php/extra/path?q=1"),
                     ("QUERY_STRING", "q=1")):
            t.eq(j.get(k), v, "FilesMatch form with path info: %s" % k)
    r = fetch(s, "/fpm/info.php/extra/path?q=1")
    j = as_json(r)
    if t.eq(r.status, 200, "ProxyPass form: /fpm/info.php/extra/path?q=1: 200"):
        for k, v in (("SCRIPT_FILENAME", info), ("PATH_INFO", "/extra/path"),
                     ("QUERY_STRING", "q=1"), ("REQUEST_METHOD", "GET")):
            t.eq(j.get(k), v, "ProxyPass form: %s" % k)
    body = os.urandom(1000)
    r = fetch(s, "/fpm/info.php", "POST", [("Content-Type", "application/x-test")], body)
    j = as_json(r)
    t.eq((r.status, j.get("REQUEST_METHOD"), j.get("CONTENT_LENGTH"), j.get("CONTENT_TYPE")),
         (200, "POST", "1000", "application/x-test"),
         "ProxyPass form: POST: REQUEST_METHOD, CONTENT_LENGTH, CONTENT_TYPE")
    t.eq((j.get("body_len"), j.get("body_sha256")), (1000, hashlib.sha256(body).hexdigest()),
         "ProxyPass form: POST body length and sha256 as PHP read it")


def unix_socket(t, s, phpdir):
    r = fetch(s, "/sock/hello.php")
    t.eq((r.status, r.body), (200, b"Hello, world"), "unix socket form: hello.php")
    r = fetch(s, "/sock/info.php?u=1")
    j = as_json(r)
    t.eq((j.get("SCRIPT_FILENAME"), j.get("QUERY_STRING")),
         (os.path.join(phpdir, "sock", "info.php"), "u=1"),
         "unix socket form: SCRIPT_FILENAME and QUERY_STRING")


def many(t, s, phpdir):
    bad = []
    for n in range(4):
        with Conn(s.port) as c:
            for i in range(50):
                c.request("GET", "/hello.php?c=%d&i=%d" % (n, i), headers=[("Host", host_of(s))])
                r = c.read_response()
                if (r.status, r.body) != (200, b"Hello, world"):
                    bad.append((n, i, r.status_line))
    t.eq(bad, [], "200 sequential requests (4 keep-alive connections x 50): all Hello, world")
    errors = []
    lock = threading.Lock()

    def worker(n):
        for i in range(25):
            try:
                r = fetch(s, "/info.php?w=%d&i=%d" % (n, i))
                if r.status != 200 or as_json(r).get("QUERY_STRING") != "w=%d&i=%d" % (n, i):
                    raise mpmdtest.ProtocolError("%s %r" % (r.status_line, r.body[:100]))
            except (OSError, mpmdtest.ProtocolError, ValueError) as e:
                with lock:
                    errors.append("worker %d request %d: %s" % (n, i, e))
                return          # one error per client is enough (bounds the run time)
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    t.ok(not any(th.is_alive() for th in threads) and not errors,
         "200 concurrent requests (8 clients x 25, 4 php-fpm workers): each got its own answer",
         diag="\n".join(errors[:10]))


def big(t, s, tmp):
    base = "http://127.0.0.1:%d" % s.port
    src = os.path.join(tmp, "post.bin")
    sha = U.write_pattern_file(src, POST_SIZE)
    rc, out, err = U.curl(["-H", "Content-Type: application/octet-stream", "-H", "Expect:",
                           "--data-binary", "@" + src, "-w", "\n%{http_code}",
                           base + "/info.php"])
    body, _, code = out.rpartition(b"\n")
    try:
        j = json.loads(body.decode())
    except (ValueError, UnicodeDecodeError):
        j = {}
    t.eq((rc, code), (0, b"200"), "10 MB POST to info.php: curl exit 0, status 200")
    t.eq((j.get("CONTENT_LENGTH"), j.get("body_len"), j.get("body_sha256")),
         (str(POST_SIZE), POST_SIZE, sha), "10 MB POST: CONTENT_LENGTH, length and sha256 in PHP")
    if rc:
        t.diag(err)
    os.unlink(src)
    dst = os.path.join(tmp, "big.out")
    rc, out, err = U.curl(["-o", dst, "-w", "%{http_code}", base + "/big.php?n=%d" % BIG_SIZE])
    t.eq((rc, out), (0, b"200"), "big.php?n=20 MB: curl exit 0, status 200")
    t.eq(U.file_sha256(dst), (BIG_SIZE, U.pattern_sha256(BIG_SIZE)),
         "big.php?n=20 MB: size and sha256")
    if os.path.exists(dst):
        os.unlink(dst)


def main(t):
    reason = U.missing_php_fpm()
    if reason:
        t.skip("FastCGI tests", reason)
        return
    if not shutil.which("curl"):
        t.skip("FastCGI tests", "curl not installed")
        return
    tmp = U.mkdtemp("mpmdtest-fcgi-")
    try:
        phpdir = make_phpdir(tmp)
        with contextlib.ExitStack() as stack:
            fpm = U.started(t, stack, "php-fpm", U.start_php_fpm, os.path.join(tmp, "fpm"),
                            tcp=True, unix=True)
            if fpm is None:
                return
            with U.front(t, "fastcgi", conf(fpm, phpdir), docroot_conf=phpdir) as s:
                if s is None:
                    return
                # "many requests" last: a server that loses php-fpm workers
                # under concurrency should not spoil the other checks.
                for name, fn in (("scripts", scripts), ("variables", variables),
                                 ("unix socket", unix_socket),
                                 ("big bodies", lambda t, s, d: big(t, s, tmp)),
                                 ("many requests", many)):
                    with t.guard(name):
                        fn(t, s, phpdir)
                U.no_crash(t, s, "fastcgi")
    finally:
        U.keep_or_remove(tmp)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
