#!/usr/bin/env python3
# test_restart.py: mpmd's supervisor under restarts, recycling and stops (TAP on stdout).
#
# Issue 4's "done when", one section each: a SIGKILLed child is replaced;
# MaxConnectionsPerChild recycles children with no failed request; spare-
# thread maintenance grows and shrinks the number of children; graceful
# restarts (USR1) under keep-alive and new-connection load lose nothing,
# restarts (HUP) switch DocumentRoot; a broken config on restart keeps the
# old generation; graceful stop (WINCH) finishes a slow download, refuses
# new connections meanwhile (sockets closed once the queue is drained),
# and resets no connection of a connect burst; 30 back-to-back graceful restarts leave
# exactly StartServers children; PidFile + "mpmd -k"; User/Group (as root).
# Counts are printed as TAP diagnostics ("# ...").  Only functional upper
# bounds on time, never lower bounds.  Runtime about 25 s.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_restart.py

import hashlib
import shutil
import ssl
import tempfile
import os
import re
import signal
import socket
import subprocess
import threading
import time

import mpmdtest
import tlspki
from mpmdtest import A_TXT, INDEX_HTML, Conn, ProtocolError, Server, run_tests, wait_until

SETTLE = 5.0            # bound for the process tree to reach its configured shape
RESPAWN_BOUND = 2.0     # item 1
GROW_BOUND = 10.0       # item 3
SHRINK_BOUND = 15.0     # item 3
HUP_CONTENT_BOUND = 3.0  # item 4
OLD_GEN_BOUND = 10.0    # item 8
JOIN_BOUND = 20.0       # client threads finish their current request within this
CONNECTION_CLOSE = re.compile(r"\bclose\b", re.I)

# ------------------------------------------------------------ helpers


def n_children(s):
    return len(s.children())


def wait_children(s, count, timeout=SETTLE):
    wait_until(lambda: n_children(s) == count, timeout)
    return s.children()


def errlog_count(s, pattern):
    return len(re.findall(pattern, s.errlog_text()))


def safe_get(port, path, timeout=3.0):
    """(status, body) of a GET on a new connection, or (None, error text)."""
    try:
        with Conn(port, timeout=timeout) as c:
            c.request("GET", path, headers=[("Connection", "close")])
            r = c.read_response()
            return r.status, r.body
    except (OSError, ProtocolError, ValueError) as e:
        return None, "%s: %s" % (type(e).__name__, e)


def classify(exc):
    """Failure kind of a client exception."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ProtocolError):
        return "eof"
    return type(exc).__name__


def kinds(failures):
    """{kind: count} of Load failures."""
    counts = {}
    for _, kind, _ in failures:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


class Load:
    """Client threads hammering one server until stop(): KEEPALIVE threads
    reuse a connection (reconnecting only after a "Connection: close"
    response), FRESH threads open a new connection per request.  Every
    request either succeeds (200 and a body in BODIES) or is a failure;
    a server close/reset of a connection that had not announced
    "Connection: close" is a failure."""

    def __init__(self, port, keepalive=4, fresh=2, path="/a.txt", bodies=(A_TXT,),
                 timeout=5.0, tls=None):
        self.port = port
        self.tls = tls            # Conn's: (ssl context, server name) for HTTPS
        self.path = path
        self.bodies = tuple(bodies)
        self.timeout = timeout
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.reconnects = 0       # "Connection: close" answers on keep-alive connections
        self.failures = []        # (monotonic time, kind, detail)
        self.threads = [threading.Thread(target=self._keepalive, daemon=True)
                        for _ in range(keepalive)]
        self.threads += [threading.Thread(target=self._fresh, daemon=True)
                         for _ in range(fresh)]

    def start(self):
        for th in self.threads:
            th.start()
        return self

    def stop(self):
        self.halt.set()
        deadline = time.monotonic() + JOIN_BOUND
        for th in self.threads:
            th.join(max(0.1, deadline - time.monotonic()))
        return not any(th.is_alive() for th in self.threads)

    def snapshot(self):
        with self.lock:
            return self.ok, len(self.failures), self.reconnects

    def _good(self, r):
        return r.status == 200 and r.body in self.bodies

    def _count(self, r):
        with self.lock:
            if self._good(r):
                self.ok += 1
            else:
                self.failures.append((time.monotonic(), "bad response",
                                      "%s body=%r" % (r.status_line, r.body[:60])))

    def _fail(self, exc, where):
        with self.lock:
            self.failures.append((time.monotonic(), classify(exc),
                                  "%s: %s: %s" % (where, type(exc).__name__, exc)))

    def _keepalive(self):
        conn = None
        while not self.halt.is_set():
            where = "connect"
            try:
                if conn is None:
                    conn = Conn(self.port, timeout=self.timeout, tls=self.tls)
                where = "keep-alive request"
                conn.request("GET", self.path)
                r = conn.read_response()
                self._count(r)
                if CONNECTION_CLOSE.search(r.header("Connection") or ""):
                    conn.close()
                    conn = None
                    with self.lock:
                        self.reconnects += 1
            except (OSError, ProtocolError, ValueError) as e:
                self._fail(e, where)
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
        if conn is not None:
            conn.close()

    def _fresh(self):
        while not self.halt.is_set():
            where = "connect"
            try:
                with Conn(self.port, timeout=self.timeout, tls=self.tls) as c:
                    where = "request on a new connection"
                    c.request("GET", self.path, headers=[("Connection", "close")])
                    self._count(c.read_response())
            except (OSError, ProtocolError, ValueError) as e:
                self._fail(e, where)
                time.sleep(0.01)

    def summary(self):
        return "ok=%d failed=%d %r reconnects-after-Connection:close=%d" % (
            self.ok, len(self.failures), kinds(self.failures), self.reconnects)


class ChildWatcher:
    """Polls the supervisor's children in a thread; remembers every pid seen."""

    def __init__(self, s, interval=0.01):
        self.s = s
        self.interval = interval
        self.seen = set()
        self.max_now = 0
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.halt.is_set():
            kids = mpmdtest.proc_children(self.s.pid)
            self.seen.update(kids)
            self.max_now = max(self.max_now, len(kids))
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.halt.set()
        self.thread.join(5)


def proc_ids(pid):
    """(real uid, real gid) from /proc/PID/status, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return None
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)
    gid = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)
    if not uid or not gid:
        return None
    return tuple(int(x) for x in uid.groups()), tuple(int(x) for x in gid.groups())

# ------------------------------------------------------------ 1. SIGKILL


def check_kill_respawn(t):
    tag = "1 respawn"
    with t.guard(tag), Server(start_servers=2, tap=t) as s:
        old = wait_children(s, 2)
        victim = old[0]
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        def replaced():
            kids = s.children()
            return len(kids) == 2 and victim not in kids
        ok = wait_until(replaced, RESPAWN_BOUND, interval=0.01)
        took = time.monotonic() - t0
        t.diag("%s: killed child %d; children before %r, after %r; replaced after %.2f s"
               % (tag, victim, old, s.children(), took))
        t.ok(ok, "%s: SIGKILLed child replaced within %.0f s (polling /proc)"
             % (tag, RESPAWN_BOUND))
        t.eq(safe_get(s.port, "/")[0], 200, "%s: still serving" % tag)

# ------------------------------------------------------------ 2. MaxConnectionsPerChild


def check_max_connections(t):
    tag = "2 MaxConnectionsPerChild"
    total, nthreads = 3000, 8
    with t.guard(tag), Server(start_servers=2, threads=4,
                              conf_extra="MaxConnectionsPerChild 100", tap=t) as s:
        first = set(wait_children(s, 2))
        counter = {"next": 0, "ok": 0, "fail": []}
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if counter["next"] >= total:
                        return
                    counter["next"] += 1
                st, body = safe_get(s.port, "/a.txt", timeout=10.0)
                with lock:
                    if st == 200 and body == A_TXT:
                        counter["ok"] += 1
                    else:
                        counter["fail"].append((st, body if st is None else body[:60]))
        with ChildWatcher(s) as w:
            threads = [threading.Thread(target=worker, daemon=True) for _ in range(nthreads)]
            t0 = time.monotonic()
            for th in threads:
                th.start()
            deadline = t0 + 120
            for th in threads:
                th.join(max(0.1, deadline - time.monotonic()))
            took = time.monotonic() - t0
            wait_until(lambda: not (first & set(s.children())), SETTLE)
        last = set(s.children())
        recycled = set(int(p) for p in re.findall(
            r"\[pid (\d+):[^]]*\] served MaxConnectionsPerChild", s.errlog_text()))
        seen = w.seen | recycled
        t.diag("%s: %d requests (new connection each) from %d threads in %.1f s: ok=%d "
               "failed=%d; distinct child pids seen=%d (polling /proc: %d, logged recycling: "
               "%d); first %r, last %r"
               % (tag, total, nthreads, took, counter["ok"], len(counter["fail"]), len(seen),
                  len(w.seen), len(recycled), sorted(first), sorted(last)))
        t.ok(not any(th.is_alive() for th in threads), "%s: client threads finished" % tag)
        t.eq(counter["fail"][:5], [], "%s: zero failed requests (of %d)" % (tag, total))
        t.eq(counter["ok"], total, "%s: every request answered 200" % tag)
        # 3000 connections at most 100 per child: at least 30 children served them.
        t.ok(len(seen) >= total // 100, "%s: children recycled: %d distinct child pids "
             "(>= %d expected)" % (tag, len(seen), total // 100))
        t.ok(not (first & last), "%s: the first children were replaced" % tag,
             diag="first %r, now %r" % (sorted(first), sorted(last)))
        t.match(r"MaxConnectionsPerChild", s.errlog_text(),
                "%s: error log records the recycling" % tag)

# ------------------------------------------------------------ 3. spare threads


def check_spare_threads(t):
    tag = "3 spare threads"
    nconn = 6
    conf = "MinSpareThreads 2\nMaxSpareThreads 4\nKeepAliveTimeout 60\nMaxKeepAliveRequests 0"
    with t.guard(tag), Server(mpm="worker", threads=2, start_servers=1, server_limit=8,
                              conf_extra=conf, tap=t) as s:
        wait_children(s, 1)
        time.sleep(1.5)   # a maintenance pass or two: the idle server must stay at 1
        before = n_children(s)
        t.eq(before, 1, "%s: idle server runs StartServers=1 child" % tag)
        held = [None] * nconn
        errors = []

        def hold(i):
            try:
                held[i] = Conn(s.port, timeout=GROW_BOUND)
                held[i].request("GET", "/a.txt")
                r = held[i].read_response()
                if r.status != 200:
                    errors.append(r.status_line)
            except (OSError, ProtocolError, ValueError) as e:
                errors.append("%s: %s" % (type(e).__name__, e))
        threads = [threading.Thread(target=hold, args=(i,), daemon=True)
                   for i in range(nconn)]
        try:
            for th in threads:
                th.start()
            want = nconn // 2 + 1   # 3 children's threads held + one with 2 idle threads
            t0 = time.monotonic()
            grown = wait_until(lambda: n_children(s) >= want, GROW_BOUND, interval=0.05)
            peak = n_children(s)
            t.diag("%s: %d idle keep-alive connections held: children %d -> %d after %.1f s"
                   % (tag, nconn, before, peak, time.monotonic() - t0))
            for th in threads:
                th.join(GROW_BOUND)
            t.eq(errors, [], "%s: all %d connections answered" % (tag, nconn))
            t.ok(peak > before, "%s: children count rose under load (%d -> %d)"
                 % (tag, before, peak))
            t.ok(grown, "%s: reached >= %d children (%d connections hold %d threads, plus "
                 "MinSpareThreads=2 idle) within %.0f s" % (tag, want, nconn, nconn, GROW_BOUND))
        finally:
            for c in held:
                if c is not None:
                    c.close()
        # Retiring stops once idle threads <= MaxSpareThreads: 2 threads per
        # child, so at max(StartServers, MaxSpareThreads // ThreadsPerChild).
        floor = max(1, 4 // 2)
        t0 = time.monotonic()
        shrunk = wait_until(lambda: n_children(s) <= floor, SHRINK_BOUND, interval=0.1)
        took = time.monotonic() - t0
        at_floor = n_children(s)
        time.sleep(2.0)     # two more maintenance passes: no further change expected
        after = n_children(s)
        t.diag("%s: connections closed: children %d -> %d after %.1f s (%d two seconds later)"
               % (tag, peak, at_floor, took, after))
        t.ok(shrunk, "%s: children count fell from %d to %d = max(StartServers 1, "
             "MaxSpareThreads 4 / ThreadsPerChild 2) within %.0f s"
             % (tag, peak, floor, SHRINK_BOUND))
        t.eq(after, floor, "%s: and stays there (2 children x 2 idle threads = 4 is not more "
             "than MaxSpareThreads 4; never below StartServers)" % tag)
        t.eq(safe_get(s.port, "/")[0], 200, "%s: still serving" % tag)

# ------------------------------------------------------------ 4. USR1 / HUP under load


def make_alt_root(path, index):
    os.makedirs(path)
    for name, data in (("index.html", index), ("a.txt", A_TXT)):
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def run_usr1_phase(s, gen_re):
    """20 USR1 about 0.3 s apart; returns how many did not log a new generation."""
    missed = 0
    for _ in range(20):
        before = errlog_count(s, gen_re)
        os.kill(s.pid, signal.SIGUSR1)
        if not wait_until(lambda: errlog_count(s, gen_re) > before, 2.0, 0.01):
            missed += 1
        time.sleep(0.3)
    time.sleep(1.0)   # requests in flight at the last restart finish
    return missed


def run_hup_phase(t, s, tag):
    """20 HUP alternating DocumentRoot; returns (times switched, [misses])."""
    roots = [os.path.join(s.dir, "rootA"), os.path.join(s.dir, "rootB")]
    contents = [b"<html>root A</html>\n", b"<html>root B</html>\n"]
    for r, c in zip(roots, contents):
        make_alt_root(r, c)
    switched, slow = 0, []
    for i in range(20):
        s.docroot_conf = roots[i % 2]
        s.write_config()
        os.kill(s.pid, signal.SIGHUP)
        t0 = time.monotonic()
        got = wait_until(lambda: safe_get(s.port, "/")[1] == contents[i % 2],
                         HUP_CONTENT_BOUND, 0.02)
        if got:
            switched += 1
        else:
            slow.append((i, safe_get(s.port, "/")))
            t.diag("%s: HUP %d: new content not served after %.1f s"
                   % (tag, i + 1, time.monotonic() - t0))
    time.sleep(0.5)
    return switched, slow


def check_restarts_under_load(t):
    tag = "4 restarts under load"
    with t.guard(tag), Server(start_servers=2, threads=4, tap=t) as s:
        wait_children(s, 2)
        gen_re = r"graceful restart: generation \d+"
        load = Load(s.port, keepalive=4, fresh=3).start()
        try:
            missed = run_usr1_phase(s, gen_re)
            ok1, nfail1, rec1 = load.snapshot()
            hup = run_hup_phase(t, s, tag)
        finally:
            load.stop()
        usr1_fail = load.failures[:nfail1]
        t.diag("%s: USR1 phase: 20 graceful restarts (%d not logged), load: ok=%d "
               "failed=%d reconnects-after-Connection:close=%d"
               % (tag, missed, ok1, nfail1, rec1))
        for f in usr1_fail[:10]:
            t.diag("  USR1-phase failure: %s %s" % (f[1], f[2]))
        t.eq(missed, 0, "%s: every USR1 made a new generation" % tag)
        t.ok(ok1 > 0, "%s: load made progress during the USR1 phase (%d ok)" % (tag, ok1))
        t.eq(nfail1, 0, "%s: zero failed or reset requests across 20 graceful restarts" % tag)

        switched, slow = hup
        ok2 = load.ok - ok1
        hup_fail = load.failures[nfail1:]
        t.diag("%s: HUP phase: 20 restarts, new DocumentRoot served %d/20 times; load: ok=%d "
               "failed=%d %r" % (tag, switched, ok2, len(hup_fail), kinds(hup_fail)))
        for f in hup_fail[:5]:
            t.diag("  HUP-phase failure: %s %s" % (f[1], f[2]))
        t.eq(switched, 20, "%s: after each HUP the new DocumentRoot is served within %.0f s"
             % (tag, HUP_CONTENT_BOUND))
        t.eq(slow[:3], [], "%s: no HUP left the old content" % tag)
        t.ok(s.is_running(), "%s: supervisor still running" % tag)

def check_restarts_under_load_tls(t):
    """The same 20 graceful restarts with the load over HTTPS: the TLS
    connections of old children finish (close_notify, no reset), new ones
    handshake with the new generation, tickets resume across it."""
    tag = "4b restarts under load over TLS"
    pki_dir = tempfile.mkdtemp(prefix="mpmd-restart-pki-")
    try:
        pki = tlspki.make_pki(pki_dir)
    except (OSError, subprocess.SubprocessError) as e:
        t.skip(tag, "cannot make test certificates with openssl: %s" % e)
        shutil.rmtree(pki_dir, ignore_errors=True)
        return
    tls_port = mpmdtest.free_port()
    extra = ("Listen 127.0.0.1:%d https\n<VirtualHost *:%d>\nServerName a.test\n"
             "SSLEngine on\nSSLCertificateFile %s\nSSLCertificateKeyFile %s\n"
             "</VirtualHost>" % (tls_port, tls_port, pki["ec_crt"], pki["ec_key"]))
    ctx = ssl.create_default_context(cafile=pki["ca"])
    try:
        with t.guard(tag), Server(start_servers=2, threads=4, tap=t, conf_extra=extra) as s:
            wait_children(s, 2)
            gen_re = r"graceful restart: generation \d+"
            load = Load(tls_port, keepalive=4, fresh=3, tls=(ctx, "a.test")).start()
            try:
                missed = run_usr1_phase(s, gen_re)
            finally:
                load.stop()
            t.diag("%s: 20 graceful restarts (%d not logged), load: %s"
                   % (tag, missed, load.summary()))
            for f in load.failures[:10]:
                t.diag("  failure: %s %s" % (f[1], f[2]))
            t.eq(missed, 0, "%s: every USR1 made a new generation" % tag)
            t.ok(load.ok > 0, "%s: load made progress (%d ok)" % (tag, load.ok))
            t.eq(len(load.failures), 0, "%s: zero failed, reset or truncated (no close_notify) "
                 "requests across 20 graceful restarts" % tag)
            t.ok(s.is_running(), "%s: supervisor still running" % tag)
    finally:
        shutil.rmtree(pki_dir, ignore_errors=True)

# ------------------------------------------------------------ 5. broken config


def check_broken_config(t):
    tag = "5 broken config"
    with t.guard(tag), Server(start_servers=2, tap=t) as s:
        kids = set(wait_children(s, 2))
        with open(s.conf) as f:
            good = f.read()
        bad_line = good.count("\n") + 1
        for sig in (signal.SIGUSR1, signal.SIGHUP):
            name = signal.Signals(sig).name
            with open(s.conf, "w") as f:
                f.write(good + "Bogus x\n")
            want = "%s:%d" % (s.conf, bad_line)
            before = s.errlog_text().count(want)
            os.kill(s.pid, sig)
            logged = wait_until(lambda: s.errlog_text().count(want) > before, 3.0)
            time.sleep(0.5)
            statuses = [safe_get(s.port, "/")[0] for _ in range(10)]
            now = set(s.children())
            lines = [ln for ln in s.errlog_text().splitlines() if want in ln]
            t.diag("%s: %s with 'Bogus x' at line %d: children before %r after %r; log: %s"
                   % (tag, name, bad_line, sorted(kids), sorted(now),
                      lines[-1] if lines else "(nothing)"))
            t.ok(logged, "%s: %s: error log names %s" % (tag, name, want),
                 diag=s.errlog_text()[-1500:])
            t.eq(statuses, [200] * 10, "%s: %s: still serving (10 requests)" % (tag, name))
            t.eq(now, kids, "%s: %s: same children pids" % (tag, name))
            t.ok(s.is_running(), "%s: %s: supervisor still running" % (tag, name))
        with open(s.conf, "w") as f:
            f.write(good)
        os.kill(s.pid, signal.SIGUSR1)
        fixed = wait_until(lambda: len(s.children()) == 2 and not (kids & set(s.children())),
                           SETTLE)
        t.diag("%s: fixed config + USR1: children now %r" % (tag, s.children()))
        t.ok(fixed, "%s: fixed config + USR1 replaces the children" % tag)
        t.eq(safe_get(s.port, "/"), (200, INDEX_HTML), "%s: serves after the fix" % tag)

# ------------------------------------------------------------ 6. WINCH, slow download


def slow_fetch(port, path, size, state, rate=12 << 20, deadline=60.0):
    """GET PATH reading at most RATE bytes/s through a 4 KiB receive buffer."""
    sha = hashlib.sha256()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10.0)
        sock.connect(("127.0.0.1", port))
        sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                      % path).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise ProtocolError("EOF in the response head")
            head += chunk
        head, body = head.split(b"\r\n\r\n", 1)
        state["head"] = head.split(b"\r\n", 1)[0].decode("latin-1")
        m = re.search(rb"\r\nContent-Length:\s*(\d+)", head, re.I)
        state["length"] = int(m.group(1)) if m else None
        sha.update(body)
        got = len(body)
        t0 = time.monotonic()
        while got < size:
            if time.monotonic() - t0 > deadline:
                raise TimeoutError("transfer exceeded %.0f s" % deadline)
            ahead = got / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(min(ahead, 0.05))
            chunk = sock.recv(65536)
            if not chunk:
                break
            sha.update(chunk)
            got += len(chunk)
            state["got"] = got
        state["got"] = got
        state["sha"] = sha.hexdigest()
        state["took"] = time.monotonic() - t0
        sock.close()
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        state["error"] = "%s: %s (after %d bytes)" % (type(e).__name__, e, state.get("got", 0))


def connect_outcome(port, outcomes):
    """Try one connection: 'refused', 'timeout' or 'accepted' (appended to OUTCOMES)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.5).close()
        what = "accepted"
    except ConnectionRefusedError:
        what = "refused"
    except OSError:
        what = "timeout"
    outcomes.append(what)
    return what


def check_winch_slow_download(t):
    tag = "6 WINCH slow download"
    size = 50 << 20
    with t.guard(tag), Server(start_servers=2, tap=t) as s:
        data = os.urandom(size)
        with open(os.path.join(s.docroot, "big50.bin"), "wb") as f:
            f.write(data)
        want_sha = hashlib.sha256(data).hexdigest()
        del data
        state = {"got": 0}
        th = threading.Thread(target=slow_fetch, args=(s.port, "/big50.bin", size, state),
                              daemon=True)
        th.start()
        started = wait_until(lambda: state.get("got", 0) >= (2 << 20) or "error" in state, 10.0)
        at_winch = state.get("got", 0)
        os.kill(s.pid, signal.SIGWINCH)
        t.diag("%s: SIGWINCH sent after %d of %d bytes" % (tag, at_winch, size))
        t.ok(started and "error" not in state and at_winch < size,
             "%s: download in flight when WINCH was sent" % tag, diag=repr(state))
        outcomes = []
        refused = wait_until(lambda: connect_outcome(s.port, outcomes) == "refused", 10.0)
        in_flight = state.get("got", 0) < size and "error" not in state
        t.diag("%s: connects after WINCH: %s" % (tag, " ".join(outcomes)))
        t.ok(refused and in_flight, "%s: a new connection is refused (the listening sockets "
             "are closed) while the download still runs" % tag,
             diag="refused %r, %d of %d bytes" % (refused, state.get("got", 0), size))
        th.join(90)
        t.diag("%s: client got %d bytes in %.1f s; status %r"
               % (tag, state.get("got", 0), state.get("took", -1), state.get("head")))
        t.ok("error" not in state and not th.is_alive(), "%s: transfer ended without error"
             % tag, diag=state.get("error"))
        t.eq(state.get("head"), "HTTP/1.1 200 OK", "%s: status 200" % tag)
        t.eq(state.get("got"), size, "%s: received every byte (%d)" % (tag, size))
        t.eq(state.get("sha"), want_sha, "%s: bytes identical to the file" % tag)
        try:
            rc = s.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = "still running 15 s after the transfer"
        t.eq(rc, 0, "%s: supervisor exits 0 after the transfer" % tag)
        left = wait_until(lambda: not s.leftovers(), 5.0)
        t.ok(left, "%s: no process left" % tag, diag=repr(s.leftovers()))

# ------------------------------------------------------------ 7. WINCH, connect burst


def check_winch_burst(t):
    tag = "7 WINCH burst"
    nthreads = 20
    with t.guard(tag), Server(start_servers=2, threads=4, tap=t) as s:
        wait_children(s, 2)
        lock = threading.Lock()
        events = []        # (kind, monotonic time of the connect outcome, detail)
        halt = threading.Event()

        def add(kind, when, detail=""):
            with lock:
                events.append((kind, when, detail))

        def client():
            while not halt.is_set():
                try:
                    c = Conn(s.port, timeout=5.0)
                except ConnectionRefusedError:
                    add("refused", time.monotonic())
                    time.sleep(0.02)
                    continue
                except OSError as e:
                    add("connect " + classify(e), time.monotonic(), str(e))
                    continue
                connected = time.monotonic()
                try:
                    with c:
                        c.request("GET", "/", headers=[("Connection", "close")])
                        r = c.read_response()
                    if r.status == 200 and r.body == INDEX_HTML:
                        add("ok", connected)
                    else:
                        add("bad", connected, r.status_line)
                except (OSError, ProtocolError, ValueError) as e:
                    add(classify(e), connected, "%s: %s" % (type(e).__name__, e))
        threads = [threading.Thread(target=client, daemon=True) for _ in range(nthreads)]
        for th in threads:
            th.start()
        time.sleep(0.5)
        winch_at = time.monotonic()
        os.kill(s.pid, signal.SIGWINCH)
        time.sleep(2.0)
        halt.set()
        for th in threads:
            th.join(JOIN_BOUND)
        try:
            rc = s.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = "still running"
        counts = {}
        for kind, _, _ in events:
            counts[kind] = counts.get(kind, 0) + 1
        after = {}
        for kind, when, _ in events:
            if when >= winch_at:
                after[kind] = after.get(kind, 0) + 1
        t.diag("%s: %d threads; all outcomes %r; outcomes after WINCH %r"
               % (tag, nthreads, counts, after))
        lost = [e for e in events if e[0] in ("reset", "eof", "timeout", "bad")]
        for e in lost[:10]:
            t.diag("  lost: %s at WINCH%+.3f s: %s" % (e[0], e[1] - winch_at, e[2]))
        t.ok(not any(th.is_alive() for th in threads), "%s: client threads finished" % tag)
        t.eq(len(lost), 0, "%s: resets == 0 (no accepted connection reset, closed early, "
             "stalled or answered wrongly)" % tag)
        t.ok(counts.get("ok", 0) > 0, "%s: ok > 0 (%d)" % (tag, counts.get("ok", 0)))
        oks = [w for k, w, _ in events if k == "ok"]
        refused = [w for k, w, _ in events if k == "refused"]
        last_ok = max(oks) if oks else None
        first_refused = min(refused) if refused else None
        t.diag("%s: last successful connect at WINCH%+.3f s, first refused at %s"
               % (tag, (last_ok - winch_at) if oks else 0,
                  "WINCH%+.3f s" % (first_refused - winch_at) if refused else "never"))
        t.ok(first_refused is None or last_ok is None or last_ok < first_refused,
             "%s: once a connect was refused, no later connect succeeded" % tag)
        t.ok(first_refused is None or first_refused > winch_at,
             "%s: no connect refused before WINCH" % tag)
        t.eq(rc, 0, "%s: supervisor exits 0" % tag)

# ------------------------------------------------------------ 8. 30 graceful restarts


def check_restart_storm(t):
    tag = "8 30 graceful restarts"
    # MaxSpareThreads 8 (2 children x 4 threads): children the load made the
    # new generations fork beyond StartServers must be retired again.
    with t.guard(tag), Server(start_servers=2, threads=4, conf_extra="MaxSpareThreads 8",
                              tap=t) as s:
        wait_children(s, 2)
        gen_re = r"graceful restart: generation \d+"
        load = Load(s.port, keepalive=4, fresh=2).start()
        peak = 0
        try:
            time.sleep(0.3)
            for _ in range(30):
                before = errlog_count(s, gen_re)
                os.kill(s.pid, signal.SIGUSR1)
                wait_until(lambda: errlog_count(s, gen_re) > before, 2.0, 0.005)
                peak = max(peak, n_children(s))
            time.sleep(0.3)
        finally:
            load.stop()
        gens = errlog_count(s, gen_re)
        t0 = time.monotonic()
        settled = wait_until(lambda: n_children(s) == 2, OLD_GEN_BOUND, 0.05)
        t.diag("%s: %d restarts logged, peak %d children, %d children %.1f s after the load "
               "stopped; load during the restarts: %s"
               % (tag, gens, peak, n_children(s), time.monotonic() - t0, load.summary()))
        for f in load.failures[:10]:
            t.diag("  failure: %s %s" % (f[1], f[2]))
        t.eq(gens, 30, "%s: 30 new generations" % tag)
        t.ok(settled, "%s: exactly StartServers=2 children within %.0f s (now %d: %r)"
             % (tag, OLD_GEN_BOUND, n_children(s), s.children()))
        statuses = [safe_get(s.port, "/")[0] for _ in range(10)]
        t.eq(statuses, [200] * 10, "%s: serves requests afterwards" % tag)
        bad = [ln for ln in s.errlog_text().splitlines()
               if re.search(r"scoreboard|cannot", ln, re.I)]
        t.eq(bad[:5], [], "%s: error log has no 'scoreboard' or 'cannot' lines" % tag)

# ------------------------------------------------------------ 9. PidFile and -k


def check_k_signals(t):
    tag = "9 -k"
    with t.guard(tag), Server(start_servers=2, tap=t) as s:
        old = set(wait_children(s, 2))
        wait_until(lambda: os.path.exists(s.pidfile), SETTLE)
        rc, out, err = mpmdtest.run_mpmd(["-k", "graceful", "-f", s.conf])
        t.eq(rc, 0, "%s: 'mpmd -k graceful' exits 0" % tag)
        replaced = wait_until(lambda: n_children(s) == 2 and not (old & set(s.children())),
                              SETTLE)
        t.diag("%s: -k graceful: children %r -> %r" % (tag, sorted(old), s.children()))
        t.ok(replaced, "%s: -k graceful replaced the children" % tag)
        t.eq(safe_get(s.port, "/")[0], 200, "%s: serves after -k graceful" % tag)
        rc, out, err = mpmdtest.run_mpmd(["-k", "stop", "-f", s.conf])
        t.eq(rc, 0, "%s: 'mpmd -k stop' exits 0" % tag)
        try:
            src = s.proc.wait(mpmdtest.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            src = "still running"
        t.eq(src, 0, "%s: supervisor exits 0 after -k stop" % tag)
        t.ok(not os.path.exists(s.pidfile), "%s: PidFile removed" % tag)
        rc, out, err = mpmdtest.run_mpmd(["-k", "stop", "-f", s.conf])
        t.diag("%s: -k stop with no server: exit %d, stderr %r" % (tag, rc, err.strip()))
        t.eq(rc, 1, "%s: -k stop with no server running exits 1" % tag)
        t.ok(err.strip() != "", "%s: ... with a message on stderr" % tag)

# ------------------------------------------------------------ 10. User/Group


def check_user_group(t):
    # A child drops its privileges first thing (src/mpm/child.c child_main:
    # child_drop_privileges = setgid, initgroups, setuid), before it sets up
    # its listener, starts its handler threads and marks itself ready; it
    # accepts connections only in listener_run, after all that.  Two
    # consequences are checked:
    # - /proc is sampled only once every child is ready, seen from outside
    #   as: all its threads started (listener + ThreadsPerChild handlers)
    #   and its ids switched, waited for with a bound.  Sampling right after
    #   the server first answers could catch a child between setgid and
    #   setuid (seen once: uid 0, gid nogroup).
    # - No request is ever served before the drop.  The server itself tells:
    #   noperm.txt (root's, mode 000) can be opened by root only, so a child
    #   still running as uid 0 answers it 200, a dropped one 403.  Both
    #   children are SIGKILLed and requests are queued at once in the listen
    #   socket (kept open by the supervisor): the respawned children take
    #   them with their very first accepts.  Every answer must be 403.
    tag = "10 User/Group"
    if os.geteuid() != 0:
        t.skip("%s: children run as User/Group" % tag, "not running as root")
        return
    try:
        import grp
        import pwd
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrnam("nogroup")
    except (ImportError, KeyError):
        t.skip("%s: children run as User/Group" % tag, "no user nobody or group nogroup")
        return
    want = ((nobody.pw_uid,) * 4, (nogroup.gr_gid,) * 4)
    threads = 4

    def ready(kids):
        return (len(kids) == 2 and
                all(proc_ids(k) == want and
                    mpmdtest.proc_threads(k) == mpmdtest.child_threads(threads)
                    for k in kids))

    with t.guard(tag), Server(start_servers=2, threads=threads,
                              conf_extra="User nobody\nGroup nogroup", tap=t) as s:
        os.chmod(s.dir, 0o755)
        for dirpath, dirs, files in os.walk(s.docroot):
            os.chmod(dirpath, 0o755)
            for name in files:
                if name != "noperm.txt":
                    os.chmod(os.path.join(dirpath, name), 0o644)
        ok = wait_until(lambda: ready(s.children()), SETTLE)
        kids = s.children()
        ids = {k: proc_ids(k) for k in kids}
        sup = proc_ids(s.pid)
        t.diag("%s: nobody=%d nogroup=%d; supervisor %r; children %r"
               % (tag, nobody.pw_uid, nogroup.gr_gid, sup, ids))
        t.ok(ok, "%s: 2 children ready (ids switched, %d threads) within %.0f s"
             % (tag, mpmdtest.child_threads(threads), SETTLE),
             diag="threads %r" % {k: mpmdtest.proc_threads(k) for k in kids})
        t.eq(len(kids), 2, "%s: 2 children" % tag)
        for k, v in ids.items():
            t.eq(v, want, "%s: child %d runs as nobody:nogroup (real, effective, saved, fs)"
                 % (tag, k))
        t.eq(sup[0] if sup else None, (0, 0, 0, 0), "%s: supervisor stays root" % tag)
        t.eq(safe_get(s.port, "/"), (200, INDEX_HTML), "%s: serves the docroot" % tag)
        t.eq(safe_get(s.port, "/noperm.txt")[0], 403,
             "%s: root-only noperm.txt: 403 (the serving process is not root)" % tag)
        rounds, per_round = 3, 8
        statuses = []
        for rnd in range(rounds):
            old = s.children()
            for k in old:
                os.kill(k, signal.SIGKILL)
            conns = []
            try:
                for _ in range(per_round):      # queued until a new child accepts
                    c = Conn(s.port, timeout=10.0)
                    conns.append(c)
                    c.request("GET", "/noperm.txt", headers=[("Connection", "close")])
                for c in conns:
                    try:
                        statuses.append(c.read_response().status)
                    except (OSError, ProtocolError, ValueError) as e:
                        statuses.append("%s: %s" % (type(e).__name__, e))
            finally:
                for c in conns:
                    c.close()
            replaced = wait_until(lambda: ready(s.children()) and
                                  not set(s.children()) & set(old), SETTLE)
            new = s.children()
            t.diag("%s: round %d: killed %r, children now %r" % (tag, rnd + 1, old, new))
            t.ok(replaced, "%s: round %d: both children replaced, ready as nobody:nogroup"
                 % (tag, rnd + 1), diag="before %r, after %r" % (old, new))
        t.eq(statuses, [403] * (rounds * per_round),
             "%s: %d requests queued while children restarted: all 403, none served "
             "as root" % (tag, rounds * per_round))


def main(t):
    check_kill_respawn(t)
    check_max_connections(t)
    check_spare_threads(t)
    check_restarts_under_load(t)
    check_restarts_under_load_tls(t)
    check_broken_config(t)
    check_winch_slow_download(t)
    check_winch_burst(t)
    check_restart_storm(t)
    check_k_signals(t)
    check_user_group(t)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
