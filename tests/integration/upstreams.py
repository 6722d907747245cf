# upstreams.py: real upstream servers for mpmd's gateway tests
# (test_proxy.py, test_websocket.py, test_fastcgi.py, test_cgi.py).
# Stdlib only; runs in the test script's process.
#
# Owns: starting gunicorn (tests/integration/upstreams/wsgi_app.py),
# uvicorn (upstreams/asgi_app.py) and php-fpm (upstreams/php/) on a free
# 127.0.0.1 port or a unix socket in a temp dir, each in its own session
# and stopped by its process group id (class Upstream); a scripted
# in-process HTTP upstream that records what it received (RawUpstream);
# front(): mpmd (mpmdtest.Server) with a gateway config, where a config
# mpmd refuses is one clear "not ok" line; curl and memory helpers.
#
# Machine fact: python3-gunicorn, python3-uvicorn and python3-websockets
# are Debian packages, importable only by Debian's /usr/bin/python3 (the
# python3 running the tests may be another build), so every process
# importing them is started as "/usr/bin/python3 -m ..." (MPMD_DEBIAN_PYTHON
# overrides the path; MPMD_PHP_FPM the php-fpm binary).
#
# MPMD_GATEWAY_REFERENCE=apache runs the same tests against Debian's
# apache2 with the same gateway directives (mod_proxy, mod_proxy_http,
# mod_proxy_fcgi, mod_proxy_wstunnel, mod_cgi), to check the tests
# themselves; mpmd-only directives are dropped and the checks where mpmd's
# specification departs from Apache (502 for a refused connection,
# X-Forwarded-For from untrusted clients, killing the whole CGI process
# group, no thread per WebSocket tunnel) are expected to fail there.

import contextlib
import hashlib
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import mpmdtest
from mpmdtest import Server, ServerError, free_port, proc_children

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "upstreams")
DEBIAN_PYTHON = os.environ.get("MPMD_DEBIAN_PYTHON", "/usr/bin/python3")
PHP_FPM = os.environ.get("MPMD_PHP_FPM") or shutil.which("php-fpm8.2") or "/usr/sbin/php-fpm8.2"
REFERENCE = os.environ.get("MPMD_GATEWAY_REFERENCE", "")
UPSTREAM_START_TIMEOUT = 20.0
UPSTREAM_STOP_TIMEOUT = 5.0
MIB = 1024 * 1024

# ---------------------------------------------------------------- what is installed

_module_cache = {}


def debian_python_has(*modules):
    """True when DEBIAN_PYTHON can import every one of MODULES."""
    key = tuple(modules)
    if key not in _module_cache:
        ok = os.access(DEBIAN_PYTHON, os.X_OK)
        if ok:
            try:
                p = subprocess.run([DEBIAN_PYTHON, "-c", "import " + ", ".join(modules)],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
                ok = p.returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
        _module_cache[key] = ok
    return _module_cache[key]


def missing_python(*packages):
    """None when DEBIAN_PYTHON imports every module; else the skip reason.
    PACKAGES: (module, Debian package) pairs."""
    gone = [pkg for mod, pkg in packages if not debian_python_has(mod)]
    if gone:
        return "%s not installed (for %s)" % (", ".join(gone), DEBIAN_PYTHON)
    return None


def missing_php_fpm():
    if not os.access(PHP_FPM, os.X_OK):
        return "php-fpm (php8.2-fpm) not installed (%s)" % PHP_FPM
    return None


def python_for_scripts():
    """A python3 for CGI scripts: Debian's if present, else the one running us."""
    return DEBIAN_PYTHON if os.access(DEBIAN_PYTHON, os.X_OK) else sys.executable


def raise_nofile(want=20000):
    """Soft RLIMIT_NOFILE up to WANT (bounded by the hard limit), inherited
    by every process started afterwards; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft

# ---------------------------------------------------------------- byte pattern

# Must equal upstreams/common.py (PATTERN, pattern_chunks) and php/big.php.
PATTERN_LEN = 65521
PATTERN = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(2048))[:PATTERN_LEN]


def pattern_chunks(n, chunk=1 << 20):
    doubled = PATTERN * ((chunk // PATTERN_LEN) + 2)
    pos = 0
    while pos < n:
        size = min(chunk, n - pos)
        off = pos % PATTERN_LEN
        yield doubled[off:off + size]
        pos += size


def pattern_sha256(n):
    h = hashlib.sha256()
    for c in pattern_chunks(n):
        h.update(c)
    return h.hexdigest()


def write_pattern_file(path, n):
    """Write the first N pattern bytes to PATH; returns their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for c in pattern_chunks(n):
            f.write(c)
            h.update(c)
    return h.hexdigest()


def file_sha256(path):
    """(size, sha256 hex) of a file; (-1, None) when it cannot be read."""
    h = hashlib.sha256()
    n = 0
    try:
        with open(path, "rb") as f:
            while True:
                data = f.read(1 << 20)
                if not data:
                    break
                n += len(data)
                h.update(data)
    except OSError:
        return -1, None
    return n, h.hexdigest()

# ---------------------------------------------------------------- upstream processes


class UpstreamError(Exception):
    pass


class Upstream:
    """One upstream server process, the leader of its own session: stop()
    signals its process group (its id is the pid) and waits, bounded."""

    def __init__(self, name, argv, workdir, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.dir = workdir
        self.log = os.path.join(workdir, "%s.log" % name)
        self.port = None
        self.sock = None
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=cwd or workdir,
                                         env=env, start_new_session=True)
        finally:
            logf.close()
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_text(self, limit=3000):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")[-limit:]
        except OSError:
            return ""

    def _signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self):
        """SIGTERM the process group, SIGKILL after UPSTREAM_STOP_TIMEOUT;
        then SIGKILL whatever is left of the group (workers)."""
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(UPSTREAM_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                try:
                    self.proc.wait(UPSTREAM_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
        self._signal_group(signal.SIGKILL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def _http_answers(port, path, timeout):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                       % (path, port)).encode())
            return s.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def _accepts(addr, timeout):
    family = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _wait_ready(up, ready):
    deadline = time.monotonic() + UPSTREAM_START_TIMEOUT
    while time.monotonic() < deadline:
        if not up.alive():
            return False
        if ready():
            return True
        time.sleep(0.1)
    return False


def _start_with_retries(name, make, ready_of):
    """make(port) -> Upstream; retried on a fresh port (3 tries) when the
    port was taken meanwhile.  Raises UpstreamError with the log."""
    last = ""
    for _attempt in range(3):
        port = free_port()
        up = make(port)
        up.port = port
        if _wait_ready(up, lambda: ready_of(up)):
            return up
        last = up.log_text()
        up.stop()
        if "already in use" not in last:
            break
    raise UpstreamError("%s did not start; its output:\n%s" % (name, last))


def _debian_env(extra=None):
    env = dict(os.environ)
    # Debian's python must not pick up modules of the other python3.
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
        env.pop(k, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def start_gunicorn(workdir, worker_class="sync", workers=4, threads=4, keep_alive=2,
                   name="gunicorn"):
    """gunicorn serving upstreams/wsgi_app.py on 127.0.0.1:<free port>.
    worker_class sync (closes every connection after its response) or
    gthread (keeps connections alive KEEP_ALIVE seconds)."""
    def make(port):
        argv = [DEBIAN_PYTHON, "-m", "gunicorn", "--chdir", FIXTURES,
                "--bind", "127.0.0.1:%d" % port, "--workers", str(workers),
                "--worker-class", worker_class, "--keep-alive", str(keep_alive),
                "--timeout", "120", "--graceful-timeout", "2", "--log-level", "warning",
                "--error-logfile", "-"]
        if worker_class == "gthread":
            argv += ["--threads", str(threads)]
        argv.append("wsgi_app:app")
        return Upstream(name, argv, workdir,
                        env=_debian_env({"MPMD_UPSTREAM_PORT": str(port)}))
    return _start_with_retries(name, make,
                               lambda up: _http_answers(up.port, "/status?code=200", 2.0))


def start_uvicorn(workdir, name="uvicorn"):
    """uvicorn serving upstreams/asgi_app.py (HTTP and WebSocket) on 127.0.0.1:<free port>."""
    def make(port):
        argv = [DEBIAN_PYTHON, "-m", "uvicorn", "--app-dir", FIXTURES, "--host", "127.0.0.1",
                "--port", str(port), "--ws", "websockets", "--log-level", "warning",
                "--no-access-log", "--timeout-keep-alive", "5", "asgi_app:app"]
        return Upstream(name, argv, workdir, env=_debian_env())
    return _start_with_retries(name, make, lambda up: _http_answers(up.port, "/echo", 2.0))


def start_php_fpm(workdir, tcp=True, unix=False, children=4, name="php-fpm"):
    """php-fpm in the foreground with a temporary config: a pool on
    127.0.0.1:<free port> (TCP) and/or one on WORKDIR/run/php.sock (UNIX),
    pm = static with CHILDREN workers each, errors of the scripts sent to
    the web server (no error_log set: FCGI_STDERR).  .port / .sock."""
    rundir = os.path.join(workdir, "run")
    os.makedirs(rundir, exist_ok=True)
    os.chmod(workdir, 0o755)
    os.chmod(rundir, 0o755)
    sock = os.path.join(rundir, "php.sock")
    root = os.geteuid() == 0

    def pool(pname, listen):
        lines = ["[%s]" % pname, "listen = %s" % listen]
        if root:
            lines += ["user = root", "group = root"]
        lines += ["listen.mode = 0666", "pm = static", "pm.max_children = %d" % children,
                  "catch_workers_output = yes", "decorate_workers_output = no",
                  "request_terminate_timeout = 60",
                  "php_admin_value[post_max_size] = 512M",
                  "php_admin_value[upload_max_filesize] = 512M",
                  "php_admin_value[memory_limit] = 512M",
                  "php_admin_value[output_buffering] = 0",
                  "php_admin_flag[log_errors] = on",
                  "php_admin_flag[display_errors] = off"]
        return lines

    def make(port):
        conf = os.path.join(workdir, "php-fpm.conf")
        lines = ["[global]", "error_log = %s" % os.path.join(workdir, "php-fpm-error.log"),
                 "daemonize = no", "pid = %s" % os.path.join(rundir, "php-fpm.pid")]
        if tcp:
            lines += pool("tcp", "127.0.0.1:%d" % port)
        if unix:
            try:
                os.unlink(sock)
            except OSError:
                pass
            lines += pool("unix", sock)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        argv = [PHP_FPM, "-F", "-O", "-n", "-y", conf, "-p", workdir]
        if root:
            argv.append("-R")
        up = Upstream(name, argv, workdir)
        up.sock = sock if unix else None
        return up

    def ready(up):
        return ((not tcp or _accepts(("127.0.0.1", up.port), 1.0)) and
                (not unix or _accepts(sock, 1.0)))
    up = _start_with_retries(name, make, ready)
    if not tcp:
        up.port = None
    return up


def started(t, stack, desc, fn, *args, **kw):
    """fn(*args, **kw) -> Upstream, stopped when STACK (an ExitStack)
    closes; None after a "not ok" line with the upstream's output when it
    does not start."""
    try:
        up = fn(*args, **kw)
    except UpstreamError as e:
        t.ok(False, "%s starts" % desc, diag=str(e))
        return None
    stack.callback(up.stop)
    return up


# ---------------------------------------------------------------- scripted upstream


class RawUpstream:
    """An HTTP upstream in a thread of the test process: for each
    connection, reads one request head (and a Content-Length body),
    records the head's bytes in .heads, sends RESPONSE and closes."""

    def __init__(self, response):
        self.response = response
        self.heads = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(5.0)
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, rest = buf.partition(b"\r\n\r\n")
            self.heads.append(head)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip() or 0)
            while len(rest) < length:
                data = conn.recv(65536)
                if not data:
                    break
                rest += data
            conn.sendall(self.response)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def stop(self):
        self._stop.set()
        self.lsock.close()
        self._thread.join(2.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def head_names(head):
    """Lower-cased header names of a raw request head."""
    return [line.split(b":", 1)[0].strip().lower().decode("latin-1")
            for line in head.split(b"\r\n")[1:] if b":" in line]

# ---------------------------------------------------------------- the front server


class ApacheFront(Server):
    """Debian's apache2 with the same gateway directives, in place of mpmd
    (MPMD_GATEWAY_REFERENCE=apache): same interface as mpmdtest.Server."""

    APACHE = os.environ.get("APACHE2") or "/usr/sbin/apache2"
    MODULES = "/usr/lib/apache2/modules"
    DROPPED = ("proxytrustforwardedfrom",)

    def write_config(self):
        import grp
        import pwd
        static = set()
        try:
            out = subprocess.run([self.APACHE, "-l"], stdin=subprocess.DEVNULL,
                                 capture_output=True, timeout=20).stdout.decode()
            static = {line.strip()[:-2] for line in out.splitlines() if line.strip().endswith(".c")}
        except (OSError, subprocess.SubprocessError):
            pass
        docroot = self.docroot_conf if self.docroot_conf is not None else self.docroot
        workers = self.server_limit * self.threads
        lines = ['ServerRoot "%s"' % self.dir, 'DefaultRuntimeDir "%s"' % self.dir,
                 'PidFile "%s"' % self.pidfile, 'ErrorLog "%s/error.log"' % self.dir,
                 "LogLevel warn"]
        mods = ["mpm_%s" % self.mpm, "authz_core", "authz_host", "alias", "mime", "dir",
                "log_config", "unixd", "env", "headers", "proxy", "proxy_http", "proxy_fcgi",
                "proxy_wstunnel", "cgi"]
        for mod in mods:
            if "mod_" + mod not in static:
                lines.append("LoadModule %s_module %s/mod_%s.so" % (mod, self.MODULES, mod))
        lines += ["Listen 127.0.0.1:%d" % self.port, "TypesConfig /etc/mime.types",
                  'DocumentRoot "%s"' % docroot, "StartServers %d" % self.start_servers,
                  "ServerLimit %d" % self.server_limit, "ThreadLimit %d" % self.threads,
                  "ThreadsPerChild %d" % self.threads, "MaxRequestWorkers %d" % workers,
                  "MinSpareThreads %d" % self.threads, "MaxSpareThreads %d" % workers,
                  "KeepAlive On", "KeepAliveTimeout 5", "MaxKeepAliveRequests 100",
                  "Timeout 10",
                  'CustomLog "%s" combined' % self.access_log,
                  'LogFormat "%h %l %u %t \\"%r\\" %>s %b" combined']
        if os.geteuid() == 0:
            user, group = "nobody", "nogroup"
            try:
                group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
            except KeyError:
                user, group = "#65534", "#65534"
            lines += ["User %s" % user, "Group %s" % group]
        for line in self.conf_extra.split("\n"):
            if line.strip().split(" ", 1)[0].lower() in self.DROPPED:
                lines.append("# (mpmd only) " + line)
            else:
                lines.append(line)
        os.chmod(self.dir, 0o755)
        for d, _dirs, _files in os.walk(self.docroot):
            os.chmod(d, 0o755)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _start(self):
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            self.write_config()
            err = open(os.path.join(self.dir, "stderr.log"), "wb")
            try:
                self.proc = subprocess.Popen(
                    [self.APACHE, "-f", self.conf, "-DFOREGROUND"], stdin=subprocess.DEVNULL,
                    stdout=err, stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
            finally:
                err.close()
            self.pid = self.proc.pid
            st = mpmdtest.proc_stat(self.pid)
            self.known[self.pid] = st[2] if st else None
            if self._wait_ready():
                return
            last = self.stderr_text() + self.errlog_text()
            self._kill_everything()
            if "Address already in use" not in last:
                break
        raise ServerError("apache2 did not start; output:\n%s" % last[-3000:])


def front_name():
    return "apache2" if REFERENCE == "apache" else "mpmd"


def _config_error(text):
    """The line of mpmd's output that says what it refused, if any."""
    for line in text.splitlines():
        if ": " in line and ("mpmd.conf:" in line or "error" in line.lower()
                             or "unknown" in line.lower() or "invalid" in line.lower()):
            return line.strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


@contextlib.contextmanager
def front(t, tag, conf_extra, **kw):
    """mpmd (or Apache, see REFERENCE) with CONF_EXTRA, as a context manager
    yielding the running server, or None after one "not ok" line naming
    what mpmd refused (a config it cannot load yet is one clear failure)."""
    cls = ApacheFront if REFERENCE == "apache" else Server
    srv = cls(conf_extra=conf_extra, tap=t, **kw)
    try:
        srv.__enter__()
    except ServerError as e:
        text = str(e)
        t.ok(False, "%s: %s starts with the config (%s)" % (tag, front_name(),
                                                          _config_error(text.split("\n", 1)[-1])),
             diag="config lines:\n%s\n%s" % (conf_extra, text[-2000:]))
        yield None
        return
    t.ok(True, "%s: %s starts with the config" % (tag, front_name()))
    try:
        yield srv
    finally:
        srv.__exit__(None, None, None)

def no_crash(t, s, tag):
    """One check: no child of S died of a signal (mpmd: "child N exited:
    signal ..."; Apache: "exit signal") while the tests ran."""
    text = s.errlog_text()
    m = re.search(r"^.*(exited: signal|exit signal).*$", text, re.M)
    t.ok(m is None, "%s: no child of %s died of a signal" % (tag, front_name()),
         diag=m.group(0) if m else None)

# ---------------------------------------------------------------- clients


def curl(args, timeout=60, stall=10):
    """Run curl ARGS, bounded: at most TIMEOUT seconds in all, and given up
    when under 1 kB/s for STALL seconds (a stalled transfer fails fast):
    (exit code, stdout bytes, stderr text)."""
    argv = ["curl", "-sS", "--max-time", str(int(timeout) - 5), "--connect-timeout", "5",
            "--speed-limit", "1024", "--speed-time", str(stall)] + args
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, b"", "curl did not finish within %d s" % timeout
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def parse_head(raw):
    """(status, [(name, value)]) of the last response head in a curl -D dump."""
    blocks = [b for b in raw.decode("latin-1").split("\r\n\r\n") if b.strip()]
    if not blocks:
        return -1, []
    lines = blocks[-1].split("\r\n")
    parts = lines[0].split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return status, headers


def header_of(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None

WS_CLIENT = os.path.join(FIXTURES, "ws_client.py")


def _last_json(out, err, what):
    lines = [line for line in out.decode("utf-8", "replace").splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"ok": False, "error": "%s printed no result; stdout %r, stderr %r"
                % (what, out[-500:], err[-1500:])}


def ws_run(mode, url, *args, timeout=90):
    """Run upstreams/ws_client.py MODE URL ARGS to its end (bounded): its
    JSON result, or {"ok": False, "error": ...}."""
    argv = [DEBIAN_PYTHON, WS_CLIENT, mode, url] + [str(a) for a in args]
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           env=_debian_env())
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "ws_client.py %s did not finish within %d s"
                % (mode, timeout)}
    return _last_json(p.stdout, p.stderr.decode("utf-8", "replace"), "ws_client.py " + mode)


class WsIdle:
    """ws_client.py idle URL COUNT as a running process: phase() reads its
    next JSON line (bounded), echo() tells it to go on; stop() kills its
    process group."""

    def __init__(self, url, count):
        argv = [DEBIAN_PYTHON, WS_CLIENT, "idle", url, str(count)]
        self.errf = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errf, env=_debian_env(),
                                     start_new_session=True)
        self.buf = b""

    def phase(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return {"error": "no result from ws_client.py within %d s" % timeout}
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                self.errf.seek(0)
                return {"error": "ws_client.py ended: %r" % self.errf.read()[-1500:]}
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        try:
            return json.loads(line.decode())
        except ValueError:
            return {"error": "bad line from ws_client.py: %r" % line[:300]}

    def echo(self):
        try:
            self.proc.stdin.write(b"echo\n")
            self.proc.stdin.flush()
        except OSError:
            pass

    def stop(self, timeout=15):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.proc.stdout.close()
        self.errf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

# ---------------------------------------------------------------- process inspection


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class RssWatch:
    """Samples VmRSS of the server's children every 20 ms while a transfer
    runs; growth() is the largest rise of any one child over its first
    sample, in kB."""

    def __init__(self, server):
        self.server = server
        self.first = {}
        self.peak = {}
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        for pid in proc_children(self.server.pid):
            kb = vm_rss_kb(pid)
            if kb is None:
                continue
            self.first.setdefault(pid, kb)
            self.peak[pid] = max(self.peak.get(pid, 0), kb)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.02)

    def __enter__(self):
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(2.0)
        self._sample()
        return False

    def growth(self):
        return max([self.peak[p] - self.first[p] for p in self.peak] or [0])

    def describe(self):
        return ", ".join("pid %d: %d -> %d kB" % (p, self.first[p], self.peak[p])
                         for p in sorted(self.peak))


def procs_with_env(entry):
    """{pid: argv} of the processes whose environment holds ENTRY
    ("NAME=value"); a marker a test put into a CGI request's headers
    reaches everything the script starts."""
    want = entry.encode()
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
            if want not in env:
                continue
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = [a.decode("latin-1") for a in f.read().split(b"\0") if a]
            st = mpmdtest.proc_stat(pid)
            if st is None or st[0] in ("Z", "X"):
                continue
            found[pid] = argv
        except OSError:
            continue
    return found


def kill_pids(pids):
    """SIGKILL PIDS (cleanup of processes a test made start)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def mkdtemp(prefix):
    """A temp dir readable by everyone (Apache's children run as nobody)."""
    d = os.path.realpath(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, 0o755)
    return d


def keep_or_remove(path):
    if os.environ.get("MPMD_KEEP"):
        sys.stdout.write("# kept %s\n" % path)
    else:
        shutil.rmtree(path, ignore_errors=True)
