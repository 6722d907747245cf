# mpmdtest.py: shared harness for mpmd's integration tests (stdlib only).
#
# Owns: TAP output (class Tap), starting/stopping a real mpmd in a private
# temp directory with a generated config and document root (class Server),
# and raw-socket HTTP helpers (class Conn, class Response, request()).
# Runs in the test script's process; the server is a child process started
# with subprocess.Popen (foreground: the Popen pid is the supervisor).
#
# Environment: MPMD = path of the built binary (default: <srcdir>/src/mpmd),
# MPMD_SRCDIR = source tree (default: two levels above this file),
# MPMD_KEEP=1 keeps the temp directories for inspection,
# MPMD_TEST_TIMEOUT = watchdog for a whole script in seconds (default 600).

import contextlib
import email.utils
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

IO_TIMEOUT = 5.0        # every socket operation
# ThreadSanitizer runs two threads of its own in every process (seen with
# gcc 12's libtsan), so under make check-tsan a child has two more threads
# than mpmd starts.
SANITIZER_THREADS = 2 if os.environ.get("MPMD_SANITIZER") == "tsan" else 0


def child_threads(handlers):
    """Threads a child should have: its listener, HANDLERS handler threads,
    and whatever the sanitizer adds."""
    return 1 + handlers + SANITIZER_THREADS
START_TIMEOUT = 10.0    # server start: connect + first answer
STOP_TIMEOUT = 10.0     # SIGTERM -> exit
FIXED_MTIME = 1700000000  # Tue, 14 Nov 2023 22:13:20 GMT; set on every docroot file

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("MPMD_SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
MPMD = os.environ.get("MPMD") or os.path.join(SRCDIR, "src", "mpmd")

IMF_FIXDATE_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$")

# ---------------------------------------------------------------- TAP


class Watchdog(BaseException):
    """Raised by SIGALRM when a whole script overruns; not swallowed by Tap.guard."""


def _clean_desc(text):
    # '#' would start a TAP directive; keep descriptions on one line.
    return " ".join(str(text).replace("#", "No.").split())


class Tap:
    """Minimal TAP producer: ok/eq/..., guard() for exceptions, done() prints the plan."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.n = 0
        self.failed = 0

    def _emit(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            self._emit("# " + line)

    def ok(self, cond, desc, diag=None):
        self.n += 1
        cond = bool(cond)
        self._emit("%s %d - %s" % ("ok" if cond else "not ok", self.n, _clean_desc(desc)))
        if not cond:
            self.failed += 1
            if diag is not None:
                self.diag(diag)
        return cond

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, diag="got:  %r\nwant: %r" % (_short(got), _short(want)))

    def ne(self, got, unwanted, desc):
        return self.ok(got != unwanted, desc, diag="got unwanted value %r" % (_short(got),))

    def contains(self, needle, haystack, desc):
        return self.ok(haystack is not None and needle in haystack, desc,
                       diag="%r not found in:\n%s" % (_short(needle), _short(haystack, 2000)))

    def match(self, pattern, text, desc, flags=0):
        m = re.search(pattern, text or "", flags)
        self.ok(m is not None, desc,
                diag="pattern %r not found in:\n%s" % (pattern, _short(text, 2000)))
        return m

    def skip(self, desc, reason):
        self.n += 1
        self._emit("ok %d - %s # SKIP %s" % (self.n, _clean_desc(desc), _clean_desc(reason)))

    def fail_exception(self, desc):
        etype, exc = sys.exc_info()[:2]
        summary = _short(str(exc).split("\n", 1)[0], 160)
        self.ok(False, "%s: uncaught %s: %s" % (desc, etype.__name__, summary),
                diag=traceback.format_exc())

    @contextlib.contextmanager
    def guard(self, desc):
        """Run a block; an exception in it becomes one 'not ok' with the traceback."""
        try:
            yield
        except Watchdog:
            raise
        except Exception:  # noqa: BLE001 - every test failure must be reported
            self.fail_exception(desc)

    def done(self):
        self._emit("1..%d" % self.n)
        return 0


def _short(value, limit=300):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d more)" % (len(text) - limit)


def run_tests(main):
    """Entry point for a test script: main(tap).  Exit 0 unless the harness itself broke."""
    t = Tap()
    if not os.access(MPMD, os.X_OK):
        print("Bail out! mpmd binary not found or not executable: %s (set MPMD=...)" % MPMD)
        sys.stdout.flush()
        return 1

    def on_alarm(signum, frame):
        raise Watchdog("script watchdog expired")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(os.environ.get("MPMD_TEST_TIMEOUT", "600")))
    status = 0
    try:
        with t.guard("test script"):
            main(t)
    except Watchdog:
        t.fail_exception("watchdog")
        status = 1
    except BaseException:  # noqa: BLE001 - harness crash (KeyboardInterrupt, SystemExit)
        t.fail_exception("harness")
        status = 1
    finally:
        signal.alarm(0)
    t.done()
    return status

# ---------------------------------------------------------------- HTTP client side


class Response:
    """A parsed HTTP response: .version .status .reason .headers [(name, value)] .body."""

    def __init__(self, status_line, headers, body, raw_head):
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        self.version = parts[0]
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def names(self):
        return [k for k, _ in self.headers]

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %r %r body=%d bytes>" % (self.status_line, self.headers, len(self.body))


class ProtocolError(Exception):
    pass


def build_request(method, path, version="HTTP/1.1", headers=None, body=b"", host="127.0.0.1"):
    """Bytes of one request; a Host header is added for HTTP/1.1 unless host is None."""
    lines = ["%s %s %s" % (method, path, version)]
    hdrs = list(headers or [])
    if host is not None and version == "HTTP/1.1" and not any(
            k.lower() == "host" for k, _ in hdrs):
        lines.append("Host: %s" % host)
    for k, v in hdrs:
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Conn:
    """One client TCP connection with a read buffer; every socket op times out (5 s).
    SOURCE: the local address to connect from (127.0.0.2 ...), else the kernel's choice.
    TLS: (ssl.SSLContext, server_hostname) to speak HTTPS (the handshake is done
    at once; a server that ends the connection without close_notify then makes
    reads raise ssl.SSLEOFError)."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, tls=None, source=None):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        if tls is not None:
            ctx, name = tls
            try:
                self.sock = ctx.wrap_socket(self.sock, server_hostname=name)
            except BaseException:
                self.sock.close()
                raise
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, path, version="HTTP/1.1", headers=None, body=b""):
        self.send(build_request(method, path, version, headers, body))

    def _fill(self):
        if self.eof:
            return False
        chunk = self.sock.recv(262144)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                data, self.buf = self.buf[:i], self.buf[i + len(marker):]
                return data
            if not self._fill():
                raise ProtocolError("connection closed before %r (have %r)"
                                    % (marker, self.buf[:200]))

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ProtocolError("connection closed after %d of %d body bytes"
                                    % (len(self.buf), n))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_to_eof(self):
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        return data

    def _read_chunked(self):
        body = b""
        while True:
            size_line = self._read_until(b"\r\n").split(b";")[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while self._read_until(b"\r\n"):   # trailers up to the empty line
                    pass
                return body
            body += self._read_exact(size)
            self._read_until(b"\r\n")

    def read_response(self, head=False):
        """Read one full response; head=True: the request was HEAD (no body)."""
        raw = self._read_until(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            if ":" not in line:
                raise ProtocolError("bad header line %r" % line)
            k, v = line.split(":", 1)
            headers.append((k, v.strip(" \t")))
        resp = Response(lines[0], headers, b"", raw)
        if not resp.version.startswith("HTTP/") or resp.status < 0:
            raise ProtocolError("bad status line %r" % lines[0])
        if head or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            resp.body = self._read_chunked()
        elif resp.header("Content-Length") is not None:
            resp.body = self._read_exact(int(resp.header("Content-Length")))
        else:
            resp.body = self._read_to_eof()
        return resp

    def read_responses(self, n, heads=None):
        """Read N responses in order; heads[i] True when request i was HEAD."""
        got = []
        for i in range(n):
            try:
                got.append(self.read_response(head=bool(heads and heads[i])))
            except (OSError, ProtocolError, ValueError) as e:
                raise ProtocolError("response %d of %d: %s: %s; received before: %r"
                                    % (i + 1, n, type(e).__name__, e,
                                       [r.status_line for r in got])) from e
        return got

    def closed_by_peer(self, timeout=IO_TIMEOUT):
        """True if the server closes (EOF or reset) with no further bytes within TIMEOUT."""
        if self.buf:
            return False
        if self.eof:
            return True
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        finally:
            self.sock.settimeout(self.timeout)
        if data:
            self.buf += data
            return False
        self.eof = True
        return True

    def ends_cleanly(self, timeout=IO_TIMEOUT):
        """Call once the client has sent all it will send on a connection the
        server is closing.  The server must send nothing more but its FIN
        (EOF, not a reset); then the client shuts down its own side and waits
        (bounded) until the kernel has finished the connection, and a reset
        that arrived meanwhile (the server closed while bytes of ours were
        still coming in: no lingering close) shows as an error on the socket.
        Returns "eof" for a clean end, else what went wrong: "data" (bytes
        arrived; kept in buf), "reset" or "timeout" (no EOF within TIMEOUT)."""
        if self.buf:
            return "data"
        self.sock.settimeout(timeout)
        try:
            while not self.eof:
                data = self.sock.recv(4096)
                if data:
                    self.buf += data
                    return "data"
                self.eof = True
        except socket.timeout:
            return "timeout"
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        finally:
            self.sock.settimeout(self.timeout)
        try:
            local, peer = self.sock.getsockname()[1], self.sock.getpeername()[1]
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:                 # ENOTCONN: a reset already closed it
            return "reset"
        wait_until(lambda: not tcp_connected(local, peer), timeout, 0.01)
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return "eof" if err == 0 else "reset"


def request(port, method, path, version="HTTP/1.1", headers=None, body=b""):
    """One request on a fresh connection; returns the Response."""
    with Conn(port) as c:
        c.request(method, path, version, headers, body)
        return c.read_response(head=(method == "HEAD"))


def raw_request(port, data, head=False):
    """Send exact bytes on a fresh connection, read one response."""
    with Conn(port) as c:
        c.send(data)
        return c.read_response(head=head)


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def parse_http_date(text):
    return email.utils.parsedate_to_datetime(text).timestamp()

# ---------------------------------------------------------------- processes


def file_lines(path):
    """The lines of the file at PATH (a log being written), [] if it is not there yet."""
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def recv_to_eof(sock):
    """Everything SOCK (plain or TLS, with a timeout set) receives until the peer closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


_HANDED_OUT = set()  # ports free_port() returned: never returned twice by one test


def free_port():
    """A 127.0.0.1 port free right now, and not one this test was given
    before (the kernel may hand the same free port to two binds in a row)."""
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


_RESERVED = []   # sockets bound by closed_port(), held until the test exits


def closed_port():
    """A 127.0.0.1 port that refuses connections for as long as the test
    runs: bound (without SO_REUSEADDR) but never listened on, so no server
    started later, by this test or another, can be given it (a port that
    free_port() found free can be handed out again at once)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    _RESERVED.append(s)
    return s.getsockname()[1]


def port_is_free(port):
    """True if we can bind 127.0.0.1:PORT right now (with SO_REUSEADDR, like a server)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def proc_children(pid):
    """Direct children of PID (all its threads), from /proc/PID/task/*/children."""
    kids = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return sorted(set(kids))


def proc_stat(pid):
    """(state, ppid, starttime) of PID, or None when it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def proc_threads(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return -1


def _tcp_sockets():
    """(local port, peer port, state, inode) of every TCP socket in
    /proc/net/tcp and tcp6 (state in the kernel's hex: 01 ESTABLISHED,
    06 TIME_WAIT, 0A LISTEN)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                rows = [line.split() for line in f]
        except OSError:
            continue
        for fields in rows:
            yield (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16),
                   fields[3], fields[9])


def tcp_peer_ports(port, established_only=True):
    """{socket inode: peer port} of the TCP sockets (only ESTABLISHED ones, or
    any connected one) whose local port is PORT (the server's side of its
    connections), from /proc/net."""
    found = {}
    for local, peer, state, inode in _tcp_sockets():
        wanted = state == "01" if established_only else state != "0A"
        if wanted and local == port:
            found[inode] = peer
    return found


def tcp_connected(local_port, peer_port):
    """True while /proc/net/tcp* lists a connection LOCAL_PORT -> PEER_PORT
    in any state but TIME_WAIT (it is not finished yet)."""
    return any(local == local_port and peer == peer_port and state != "06"
               for local, peer, state, _ in _tcp_sockets())


def peer_ports_held(pid, port, established_only=True):
    """Peer ports of the connections to PORT that process PID holds open
    (ESTABLISHED ones, or also those the peer has closed)."""
    sockets = tcp_peer_ports(port, established_only)
    held = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return held
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in sockets:
            held.add(sockets[link[8:-1]])
    return held


def pid_alive(pid, starttime=None):
    """True if PID exists, is not a zombie and (if given) still has STARTTIME."""
    st = proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return starttime is None or st[2] == starttime


def wait_until(pred, timeout, interval=0.05):
    """Poll PRED until true or TIMEOUT seconds; returns the last value of PRED()."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def run_mpmd(args, timeout=10.0):
    """Run mpmd with ARGS to completion: (returncode, stdout, stderr).  Bounded."""
    p = subprocess.run([MPMD] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def mpmd_version():
    """The version printed by mpmd -V ('mpmd/<version>'), or None."""
    try:
        _, out, err = run_mpmd(["-V"])
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"mpmd/(\S+)", out + err)
    return m.group(1) if m else None

# ---------------------------------------------------------------- document root

INDEX_HTML = (b"<!DOCTYPE html>\n<html><head><title>mpmd test index</title></head>\n"
              b"<body><p>mpmd integration test document root</p></body></html>\n")
A_TXT = b"hello from a.txt\n"
SUB_INDEX_HTML = b"<!DOCTYPE html>\n<html><body>sub directory index</body></html>\n"
NOINDEX_FILE = b"a file in a directory without index\n"
SPACE_TXT = b"file name with a space\n"
STYLE_CSS = b"body { color: black; }\n"
UNKNOWN_BODY = b"unknown extension\n"
_random_cache = {}


def _random_bytes(name, size):
    # Same random content for every Server in one script (generated once).
    if name not in _random_cache:
        _random_cache[name] = os.urandom(size)
    return _random_cache[name]


def docroot_files():
    """{relative path: bytes} of every readable file the harness creates."""
    return {
        "index.html": INDEX_HTML,
        "a.txt": A_TXT,
        "sub/index.html": SUB_INDEX_HTML,
        "dir_noindex/file.txt": NOINDEX_FILE,
        "sp ace.txt": SPACE_TXT,
        "style.css": STYLE_CSS,
        "x.zzqq": UNKNOWN_BODY,
        "bin.dat": _random_bytes("bin.dat", 100 * 1024),
        "big.bin": _random_bytes("big.bin", 3 * 1024 * 1024),
    }


def make_docroot(path):
    os.makedirs(path)
    for rel, data in docroot_files().items():
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        os.utime(full, (FIXED_MTIME, FIXED_MTIME))
    noperm = os.path.join(path, "noperm.txt")
    with open(noperm, "wb") as f:
        f.write(b"you may not read this\n")
    os.chmod(noperm, 0)
    os.utime(noperm, (FIXED_MTIME, FIXED_MTIME))


def mime_types_lookup(ext, path="/etc/mime.types"):
    """What /etc/mime.types maps EXT to, else application/octet-stream."""
    try:
        with open(path) as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) > 1 and ext.lower() in (e.lower() for e in fields[1:]):
                    return fields[0]
    except OSError:
        pass
    return "application/octet-stream"

# ---------------------------------------------------------------- config + server


def config_lines(port, tmpdir, docroot, mpm="event", threads=4, start_servers=2,
                 server_limit=16, conf_extra=""):
    """The config the harness writes, as a list of lines (no newlines)."""
    workers = server_limit * threads
    lines = [
        "# generated by tests/integration/mpmdtest.py",
        "Listen 127.0.0.1:%d" % port,
        "DocumentRoot %s" % docroot,
        "MPM %s" % mpm,
        "StartServers %d" % start_servers,
        "ServerLimit %d" % server_limit,
        "ThreadsPerChild %d" % threads,
        "MaxRequestWorkers %d" % workers,
        "MinSpareThreads 1",
        "MaxSpareThreads %d" % workers,
        "KeepAlive On",
        "KeepAliveTimeout 5",
        "MaxKeepAliveRequests 100",
        "Timeout 10",
        "ErrorLog %s" % os.path.join(tmpdir, "error.log"),
        "LogLevel info",
        "AccessLog %s combined" % os.path.join(tmpdir, "access.log"),
        "PidFile %s" % os.path.join(tmpdir, "mpmd.pid"),
    ]
    if conf_extra:
        lines.extend(conf_extra.rstrip("\n").split("\n"))
    return lines


class ServerError(Exception):
    pass


class Server:
    """A running mpmd in a private temp dir.  Use as a context manager.

    Attributes: port, pid, proc, dir, docroot, conf, known (pid -> starttime of
    every process seen in the tree), returncode (after stop)."""

    def __init__(self, conf_extra="", mpm="event", threads=4, start_servers=2,
                 server_limit=16, tap=None, args=(), docroot_conf=None, chdir=None):
        """ARGS: extra command-line arguments; "{dir}" in them becomes the temp dir."""
        self.conf_extra = conf_extra
        self.mpm = mpm
        self.threads = threads
        self.start_servers = start_servers
        self.server_limit = server_limit
        self.tap = tap
        self.args = list(args)
        self.docroot_conf = docroot_conf
        self.chdir = chdir
        self.dir = None
        self.proc = None
        self.pid = None
        self.port = None
        self.known = {}
        self.returncode = None
        self._failed_at_start = tap.failed if tap else 0

    # -- files
    @property
    def docroot(self):
        return os.path.join(self.dir, "htdocs")

    @property
    def conf(self):
        return os.path.join(self.dir, "mpmd.conf")

    @property
    def pidfile(self):
        return os.path.join(self.dir, "mpmd.pid")

    @property
    def access_log(self):
        return os.path.join(self.dir, "access.log")

    def _read(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def errlog_text(self):
        return self._read("error.log")

    def stderr_text(self):
        return self._read("stderr.log")

    def access_text(self):
        return self._read("access.log")

    def write_config(self):
        docroot = self.docroot_conf if self.docroot_conf is not None else self.docroot
        lines = config_lines(self.port, self.dir, docroot, self.mpm, self.threads,
                             self.start_servers, self.server_limit, self.conf_extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- lifecycle
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="mpmdtest-")
        try:
            make_docroot(self.docroot)
            self._start()
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self._cleanup()
        return False

    def _launch(self, mode="wb"):
        err = open(os.path.join(self.dir, "stderr.log"), mode)
        try:
            argv = [MPMD, "-f", self.conf] + [a.replace("{dir}", self.dir) for a in self.args]
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                cwd=self.chdir or self.dir, start_new_session=True)
        finally:
            err.close()
        self.pid = self.proc.pid
        self.known[self.pid] = proc_stat(self.pid)[2] if proc_stat(self.pid) else None

    def _start(self):
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            self.write_config()
            self._launch()
            if self._wait_ready():
                return
            last = self.stderr_text() + self.errlog_text()
            self._kill_everything()
            if "Address already in use" not in last:
                break
        raise ServerError("mpmd did not start (exit %r); output:\n%s"
                          % (self.proc.returncode if self.proc else None, last[-3000:]))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            self.children()
            if self._answers(min(2.0, max(0.1, deadline - time.monotonic()))):
                self.children()
                return True
            time.sleep(0.05)
        return False

    def _answers(self, timeout):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def children(self):
        """Current children of the supervisor; also remembers them for cleanup."""
        kids = proc_children(self.pid) if self.pid else []
        for k in kids:
            if k not in self.known:
                st = proc_stat(k)
                if st:
                    self.known[k] = st[2]
        return kids

    def start_again(self):
        """Start the server again after it stopped (or was killed): same
        directory, config and ports (a rolling restart).  Raises ServerError
        if it does not answer within START_TIMEOUT."""
        if self.is_running():
            raise ServerError("start_again: pid %d is still running" % self.pid)
        self._launch("ab")
        if not self._wait_ready():
            last = self.stderr_text() + self.errlog_text()
            self._kill_everything()
            raise ServerError("mpmd did not start again (exit %r); output:\n%s"
                              % (self.proc.returncode, last[-3000:]))

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send SIG, wait up to TIMEOUT; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.children()
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.returncode = None
                return None
        self.returncode = self.proc.returncode
        return self.returncode

    def leftovers(self):
        """Recorded pids (supervisor included) that still exist as the same process."""
        return [p for p, st in self.known.items() if pid_alive(p, st)]

    def _kill_everything(self):
        if self.proc is not None and self.proc.poll() is None:
            self.children()
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def _cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.stop()
        finally:
            self._kill_everything()
            if self.tap is not None and self.tap.failed > self._failed_at_start:
                self.dump_logs()
            if self.dir and not os.environ.get("MPMD_KEEP"):
                shutil.rmtree(self.dir, ignore_errors=True)
            elif self.dir:
                sys.stdout.write("# kept %s\n" % self.dir)

    def dump_logs(self, lines=30):
        for name in ("stderr.log", "error.log"):
            text = self._read(name).splitlines()[-lines:]
            if text:
                self.tap.diag("---- %s (last %d lines) ----" % (name, len(text)))
                self.tap.diag("\n".join(text))

    # -- client shortcuts
    def conn(self, timeout=IO_TIMEOUT):
        return Conn(self.port, timeout=timeout)

    def get(self, path, method="GET", version="HTTP/1.1", headers=None, body=b""):
        return request(self.port, method, path, version, headers, body)

    def raw(self, data, head=False):
        return raw_request(self.port, data, head)

    def file_bytes(self, rel):
        with open(os.path.join(self.docroot, rel), "rb") as f:
            return f.read()
