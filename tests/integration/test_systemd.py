#!/usr/bin/env python3
# test_systemd.py: mpmd under systemd's protocols, without a service manager
# (TAP on stdout; see docs/systemd.md).
#
# - sd_notify: a harness AF_UNIX datagram socket as NOTIFY_SOCKET (a path,
#   then the abstract "@name" form) receives every message: READY=1 only
#   once the StartServers children accept (a request made right then is
#   answered at once), STATUS= summaries, WATCHDOG=1 at WATCHDOG_USEC/2 or
#   faster, RELOADING=1 + MONOTONIC_USEC= then READY=1 on SIGUSR1,
#   STOPPING=1 on SIGTERM, MAINPID= when $SYSTEMD_EXEC_PID is another
#   process, ERRNO= when start-up fails; all sent by the supervisor.
# - socket activation through systemd-socket-activate: one socket matched by
#   address, two named sockets (FileDescriptorName= / Listen's 2nd argument)
#   plus a Listen bound by mpmd (and logged), a passed socket no Listen
#   wants (an error naming it), Accept=yes (refused), and reloads during a
#   client loop that never sees a refused connection.
# - sockets passed by hand (as systemd does, keeping its own copy): never
#   closed, no SYN filter on graceful stop, the next start serves what
#   queued meanwhile.
# - journal: with $JOURNAL_STREAM naming stderr, error-log lines are "<N>...".
# - mpmd -k graceful-wait returns once the new configuration answers.
# - systemd-analyze verify / security of the units in systemd/.
# Everything systemd-specific is skipped when mpmd -V says "systemd: no".
# Run by hand:  MPMD=$PWD/src/mpmd python3 tests/integration/test_systemd.py

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import mpmdtest
from sdnotify import Notify, fields, systemd_built
from mpmdtest import (INDEX_HTML, MPMD, SRCDIR, free_port, make_docroot, proc_children,
                      proc_threads, run_tests, wait_until)

START_SERVERS = 3
THREADS = 2
def significant(text):
    """A state change (not a STATUS= or WATCHDOG=1 alone)."""
    return any(k in fields(text) for k in ("READY", "RELOADING", "STOPPING", "ERRNO"))


STATUS_RE = (r"^(\d+) children; Total requests: (\d+); Idle/Busy workers (\d+)/(\d+); "
             r"Requests/sec: [0-9.e+-]+$")

# ---------------------------------------------------------------- an mpmd instance


class Instance:
    """A temp dir with a docroot and config, and an mpmd process started in it."""

    def __init__(self, t, listen_lines=None, extra="", error_log=True, start_servers=START_SERVERS):
        self.t = t
        self.dir = tempfile.mkdtemp(prefix="mpmdsd-")
        self.port = free_port()
        make_docroot(os.path.join(self.dir, "htdocs"))
        self.listen_lines = listen_lines
        self.extra = extra
        self.error_log = error_log
        self.start_servers = start_servers
        self.procs = []
        self.failed_before = t.failed
        self.write_conf()

    @property
    def conf(self):
        return os.path.join(self.dir, "mpmd.conf")

    @property
    def pidfile(self):
        return os.path.join(self.dir, "mpmd.pid")

    def write_conf(self, docroot=None, extra=None):
        lines = mpmdtest.config_lines(self.port, self.dir, docroot or os.path.join(
            self.dir, "htdocs"), threads=THREADS, start_servers=self.start_servers,
            conf_extra=self.extra if extra is None else extra)
        if self.listen_lines is not None:
            lines = [ln for ln in lines if not ln.startswith("Listen ")] + self.listen_lines
        if not self.error_log:
            lines = [ln for ln in lines if not ln.startswith("ErrorLog ")]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def spawn(self, argv=None, env=None, **kw):
        out = open(os.path.join(self.dir, "stderr.log"), "ab")
        full_env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                  "LISTEN_FDNAMES", "JOURNAL_STREAM", "SYSTEMD_EXEC_PID"):
            full_env.pop(k, None)
        full_env.update(env or {})
        try:
            p = subprocess.Popen(argv or [MPMD, "-f", self.conf], stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, cwd=self.dir,
                                 env=full_env, start_new_session=True, **kw)
        finally:
            out.close()
        self.procs.append(p)
        return p

    def text(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            os.kill(p.pid, sig)
        return self.wait(p, timeout)

    def wait(self, p, timeout=10):
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait(5)
        if self.t.failed > self.failed_before:
            for name in ("stderr.log", "error.log"):
                text = self.text(name).splitlines()[-20:]
                if text:
                    self.t.diag("---- %s ----\n%s" % (name, "\n".join(text)))
        shutil.rmtree(self.dir, ignore_errors=True)


def get(port, path="/", timeout=5.0):
    with mpmdtest.Conn(port, timeout=timeout) as c:
        c.request("GET", path, headers=[("Connection", "close")])
        return c.read_response()


def timed_get(port):
    start = time.monotonic()
    try:
        r = get(port)
        return r.status, r.body, time.monotonic() - start
    except (OSError, mpmdtest.ProtocolError) as e:
        return str(e), b"", time.monotonic() - start


def kids_ready_shape(pid):
    kids = proc_children(pid)
    return len(kids), sorted(proc_threads(k) for k in kids)


def socket_inode(pid, fd):
    try:
        link = os.readlink("/proc/%d/fd/%d" % (pid, fd))
    except OSError:
        return None
    m = re.match(r"socket:\[(\d+)\]", link)
    return int(m.group(1)) if m else None

# ---------------------------------------------------------------- sd_notify


def check_first_ready(t, inst, n, p):
    msg = n.wait_for(significant, 10)
    if not t.ok(msg is not None, "notify: a state message arrives within 10 s"):
        return None
    shape = kids_ready_shape(p.pid)        # right at READY=1, before anything else
    status, body, secs = timed_get(inst.port)
    f = fields(msg[1])
    t.eq(f.get("READY"), "1", "notify: the first state message is READY=1")
    t.eq(shape, (START_SERVERS, [mpmdtest.child_threads(THREADS)] * START_SERVERS),
         "notify: at READY=1 StartServers=%d children run with their threads" % START_SERVERS)
    t.ok(status == 200 and body == INDEX_HTML and secs < 1.0,
         "notify: a request made when READY=1 arrives is answered at once",
         diag="status %r in %.3f s" % (status, secs))
    t.match(STATUS_RE, f.get("STATUS"), "notify: READY=1 carries a STATUS= summary")
    t.ok("MAINPID" not in f, "notify: no MAINPID= when mpmd is the started process")
    before = [m[1] for m in n.log[:-1]]
    t.ok(all(m == "WATCHDOG=1" for m in before),
         "notify: nothing but WATCHDOG=1 before READY=1", diag=before)
    return msg


def check_status_updates(t, inst, n):
    for _ in range(5):
        get(inst.port)
    msg = n.wait_for(lambda text: "STATUS" in fields(text) and "READY" not in fields(text), 5)
    if not t.ok(msg is not None, "notify: a STATUS= update follows within 5 s"):
        return
    m = re.match(STATUS_RE, fields(msg[1])["STATUS"])
    if t.ok(m is not None, "notify: STATUS= is a one-line summary", diag=msg[1]):
        t.eq(int(m.group(1)), START_SERVERS, "notify: STATUS= counts the children")
        t.ok(int(m.group(2)) >= 6, "notify: STATUS= total requests counts the 6 requests made",
             diag=msg[1])
        t.eq(int(m.group(3)) + int(m.group(4)), START_SERVERS * THREADS,
             "notify: STATUS= idle + busy workers = children x ThreadsPerChild")


def check_watchdog(t, n, since):
    pings = [m[2] for m in n.log if m[1] == "WATCHDOG=1" and m[2] >= since]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    t.ok(len(pings) >= 4, "notify: WATCHDOG=1 keeps coming (%d in the run)" % len(pings))
    t.ok(gaps and max(gaps) <= 1.0,
         "notify: WATCHDOG=1 at least every WATCHDOG_USEC/2 = 1 s",
         diag="gaps: %r" % [round(g, 3) for g in gaps])


def check_reload(t, inst, n, p):
    before = time.monotonic()
    old = set(proc_children(p.pid))
    os.kill(p.pid, signal.SIGUSR1)
    msg = n.wait_for(significant, 10)
    after = time.monotonic()
    f = fields(msg[1]) if msg else {}
    t.eq(f.get("RELOADING"), "1", "notify: SIGUSR1 -> RELOADING=1")
    usec = int(f.get("MONOTONIC_USEC", "0"))
    t.ok(before * 1e6 - 1000 <= usec <= after * 1e6 + 1000,
         "notify: MONOTONIC_USEC= is CLOCK_MONOTONIC in microseconds",
         diag="usec %d, window %d..%d" % (usec, before * 1e6, after * 1e6))
    msg = n.wait_for(significant, 10)
    new = [k for k in proc_children(p.pid) if k not in old]
    status, body, secs = timed_get(inst.port)
    t.eq(fields(msg[1]).get("READY") if msg else None, "1", "notify: then READY=1 again")
    t.ok(len(new) >= START_SERVERS, "notify: READY=1 after the new generation's children started",
         diag="new children %r" % new)
    t.ok(status == 200 and secs < 1.0, "notify: a request right at that READY=1 is answered",
         diag="status %r in %.3f s" % (status, secs))


def test_notify(t, tmp):
    inst = Instance(t)
    n = Notify(tmp)
    try:
        p = inst.spawn(env={"NOTIFY_SOCKET": n.env, "WATCHDOG_USEC": "2000000"})
        start = time.monotonic()
        if check_first_ready(t, inst, n, p) is None:
            return
        check_status_updates(t, inst, n)
        check_reload(t, inst, n, p)
        n.drain(1.5)
        os.kill(p.pid, signal.SIGTERM)
        msg = n.wait_for(significant, 10)
        t.eq(msg[1] if msg else None, "STOPPING=1", "notify: SIGTERM -> STOPPING=1")
        t.eq(inst.stop(p), 0, "notify: supervisor exits 0")
        check_watchdog(t, n, start)
        states = [m[1].split("\n")[0] for m in n.log if significant(m[1])]
        t.eq(states, ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
             "notify: state messages in order")
        senders = set(m[0] for m in n.log)
        t.eq(senders, {p.pid}, "notify: every message comes from the supervisor")
    finally:
        n.close()
        inst.close()


def test_notify_abstract_mainpid(t, tmp):
    inst = Instance(t)
    n = Notify(tmp, abstract=True)
    try:
        p = inst.spawn(env={"NOTIFY_SOCKET": n.env, "SYSTEMD_EXEC_PID": "1"})
        msg = n.wait_for(significant, 10)
        f = fields(msg[1]) if msg else {}
        t.eq(f.get("READY"), "1", "abstract NOTIFY_SOCKET (@name): READY=1 arrives")
        t.eq(f.get("MAINPID"), str(p.pid),
             "SYSTEMD_EXEC_PID names another process: READY=1 carries MAINPID=")
        t.ok(not any(m[1] == "WATCHDOG=1" for m in n.log), "no WATCHDOG_USEC: no WATCHDOG=1")
        os.kill(p.pid, signal.SIGTERM)
        msg = n.wait_for(significant, 10)
        t.eq(msg[1] if msg else None, "STOPPING=1", "abstract NOTIFY_SOCKET: STOPPING=1")
        inst.stop(p)
    finally:
        n.close()
        inst.close()


def test_notify_errno(t, tmp):
    inst = Instance(t)
    n = Notify(tmp)
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", inst.port))
        blocker.listen(1)
        p = inst.spawn(env={"NOTIFY_SOCKET": n.env})
        rc = inst.wait(p)
        msg = n.wait_for(significant, 5)
        f = fields(msg[1]) if msg else {}
        t.eq(rc, 1, "start-up failure: exit status 1")
        t.eq(f.get("ERRNO"), "98", "start-up failure: ERRNO=98 (EADDRINUSE) sent to systemd")
        t.contains("Address already in use", f.get("STATUS"),
                   "start-up failure: STATUS= says why")
        t.ok("READY" not in f, "start-up failure: no READY=1")
    finally:
        blocker.close()
        n.close()
        inst.close()

# ---------------------------------------------------------------- journal


def test_journal_prefix(t, tmp):
    inst = Instance(t, error_log=False, extra="LogLevel notice")
    try:
        path = os.path.join(inst.dir, "stderr.log")
        open(path, "wb").close()
        st = os.stat(path)
        p = inst.spawn(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
        wait_until(lambda: timed_get(inst.port)[0] == 200, 10)
        os.kill(p.pid, signal.SIGUSR1)
        wait_until(lambda: "generation 2" in inst.text("stderr.log"), 5)
        inst.stop(p)
        lines = [ln for ln in inst.text("stderr.log").splitlines() if ln]
        t.ok(any(ln.startswith("<5>graceful restart: generation 2") for ln in lines),
             "JOURNAL_STREAM names stderr: lines carry <N> priority prefixes", diag=lines)
        t.ok(lines and all(re.match(r"<\d>", ln) for ln in lines),
             "JOURNAL_STREAM names stderr: every line has a prefix, none Apache's", diag=lines)
        p = inst.spawn(env={"JOURNAL_STREAM": "1:1"})
        wait_until(lambda: timed_get(inst.port)[0] == 200, 10)
        inst.stop(p)
        last = inst.text("stderr.log").splitlines()[-1:]
        t.ok(last and last[0].startswith("[") and "[mpmd:notice]" in last[0],
             "JOURNAL_STREAM naming another file: Apache-style lines", diag=last)
    finally:
        inst.close()

# ---------------------------------------------------------------- socket activation


def activate_argv(inst, sockets, names=None, accept=False):
    argv = [shutil.which("systemd-socket-activate")]
    for port in sockets:
        argv += ["-l", "127.0.0.1:%d" % port]
    if names:
        argv.append("--fdname=" + ":".join(names))
    if accept:
        argv.append("--accept")
    return argv + ["-E", "NOTIFY_SOCKET", MPMD, "-f", inst.conf]


def wait_listening(port, timeout=5):
    """Wait until something listens on 127.0.0.1:PORT, without connecting
    (a connection would start the daemon behind systemd-socket-activate)."""
    want = "0100007F:%04X" % port

    def listening():
        with open("/proc/net/tcp") as f:
            rows = [ln.split() for ln in f]
        return any(len(r) > 3 and r[1] == want and r[3] == "0A" for r in rows)
    return wait_until(listening, timeout)


def client_loop(port, stop, counts):
    while not stop.is_set():
        try:
            r = get(port, timeout=5)
            counts["ok" if r.status == 200 else "bad"] += 1
        except ConnectionRefusedError:
            counts["refused"] += 1
        except (OSError, mpmdtest.ProtocolError):
            counts["error"] += 1


def test_activation_one(t, tmp):
    inst = Instance(t)
    n = Notify(tmp)
    try:
        p = inst.spawn(activate_argv(inst, [inst.port]), env={"NOTIFY_SOCKET": n.env})
        t.ok(wait_listening(inst.port), "activation: systemd-socket-activate listens")
        status, body, _ = timed_get(inst.port)     # the first connection starts mpmd
        t.ok(status == 200 and body == INDEX_HTML,
             "activation: the first connection (queued before mpmd ran) is answered",
             diag=status)
        t.ok(n.wait_for(lambda x: "READY" in fields(x), 10) is not None,
             "activation: READY=1 (NOTIFY_SOCKET passed with -E)")
        ino = socket_inode(p.pid, 3)
        t.ok(ino is not None, "activation: mpmd (the activator's pid) holds the socket as fd 3")
        t.ok("no socket from systemd matches" not in inst.text("error.log"),
             "activation: the Listen matched the passed socket by address (nothing bound)")
        counts = {"ok": 0, "bad": 0, "refused": 0, "error": 0}
        stop = threading.Event()
        th = threading.Thread(target=client_loop, args=(inst.port, stop, counts))
        th.start()
        try:
            for i in range(5):
                time.sleep(0.2)
                os.kill(p.pid, signal.SIGUSR1)
                n.wait_for(lambda x: "READY" in fields(x), 10)
            time.sleep(0.2)
        finally:
            stop.set()
            th.join(15)
        t.diag("client loop during 5 reloads: %r" % counts)
        t.ok(counts["ok"] > 20 and counts["refused"] == 0 and counts["error"] == 0 and
             counts["bad"] == 0, "activation: reloads under a client loop: refused 0, errors 0",
             diag=counts)
        t.eq(socket_inode(p.pid, 3), ino, "activation: the passed socket survives the reloads")
        t.eq(inst.stop(p), 0, "activation: SIGTERM -> exit 0")
    finally:
        n.close()
        inst.close()


def test_activation_named(t, tmp):
    ports = [free_port() for _ in range(4)]     # web, alt (passed); Q (named, unused); R
    inst = Instance(t, listen_lines=[
        "Listen 127.0.0.1:%d" % ports[0],
        "Listen 127.0.0.1:%d alt" % ports[2],
        "Listen 127.0.0.1:%d" % ports[3]])
    try:
        p = inst.spawn(activate_argv(inst, ports[:2], ["web", "alt"]))
        wait_listening(ports[0])
        status, _, _ = timed_get(ports[0])
        t.eq(status, 200, "two sockets: the one matched by address answers")
        status, _, _ = timed_get(ports[1])
        t.eq(status, 200, "two sockets: the one matched by FileDescriptorName (alt) answers")
        t.eq(socket_inode(p.pid, 4) is not None, True, "two sockets: fds 3 and 4 passed")
        status, _, _ = timed_get(ports[2])
        t.ok(status != 200, "two sockets: a named Listen's own address is not bound",
             diag=status)
        status, _, _ = timed_get(ports[3])
        t.eq(status, 200, "two sockets: a Listen no passed socket matches is bound by mpmd")
        t.contains("Listen 127.0.0.1:%d: no socket from systemd matches; bound it" % ports[3],
                   inst.text("error.log"), "two sockets: ... and that is logged")
        t.eq(inst.stop(p), 0, "two sockets: SIGTERM -> exit 0")
    finally:
        inst.close()


def test_activation_errors(t, tmp):
    ports = [free_port() for _ in range(2)]
    inst = Instance(t, listen_lines=["Listen 127.0.0.1:%d" % ports[0]])
    try:
        p = inst.spawn(activate_argv(inst, ports, ["web", "extra"]))
        wait_listening(ports[0])
        timed_get(ports[0])
        rc = inst.wait(p)
        out = inst.text("stderr.log")
        t.eq(rc, 1, "unwanted passed socket: mpmd exits 1")
        t.contains('systemd passed socket fd 4 (name "extra", address 127.0.0.1:%d) but no '
                   'Listen directive asks for it' % ports[1], out,
                   "unwanted passed socket: the error names its fd, name and address")
        inst.listen_lines = ["Listen 127.0.0.1:%d" % ports[0]]
        inst.write_conf()
        p = inst.spawn(activate_argv(inst, ports[:1], accept=True))
        wait_listening(ports[0])
        timed_get(ports[0])
        wait_until(lambda: "Accept=yes" in inst.text("stderr.log"), 5)
        t.contains("the socket unit has Accept=yes", inst.text("stderr.log"),
                   "Accept=yes (a connected socket) is refused with a clear message")
        inst.stop(p)
    finally:
        inst.close()


def spawn_with_socket(inst, lsock, notify):
    """Start mpmd with LSOCK as fd 3, the way systemd passes it."""
    fd = lsock.fileno()
    cmd = ('exec 3<&%d %d<&-; LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=http exec "$0" -f "$1"'
           % (fd, fd))
    return inst.spawn(["/bin/sh", "-c", cmd, MPMD, inst.conf], env={"NOTIFY_SOCKET": notify.env},
                      pass_fds=(fd,))


def test_passed_socket_kept(t, tmp):
    inst = Instance(t)
    n = Notify(tmp)
    lsock = socket.socket()
    try:
        lsock.bind(("127.0.0.1", inst.port))
        lsock.listen(16)
        p = spawn_with_socket(inst, lsock, n)
        t.ok(n.wait_for(lambda x: "READY" in fields(x), 10) is not None,
             "kept socket: mpmd takes a socket passed as systemd does")
        t.eq(timed_get(inst.port)[0], 200, "kept socket: served")
        t.eq(inst.stop(p, signal.SIGWINCH), 0, "kept socket: graceful stop (SIGWINCH) -> exit 0")
        c = None
        try:
            c = mpmdtest.Conn(inst.port, timeout=2)
            c.request("GET", "/", headers=[("Connection", "close")])
            queued = True
        except OSError as e:
            queued = "connect: %s" % e
        t.ok(queued is True, "kept socket: after a graceful stop new connections still queue "
             "(no SYN filter on systemd's socket)", diag=queued)
        p = spawn_with_socket(inst, lsock, n)
        try:
            r = c.read_response() if c else None
        except (OSError, mpmdtest.ProtocolError) as e:
            r = e
        t.ok(getattr(r, "status", None) == 200,
             "kept socket: the next start answers what queued meanwhile", diag=r)
        n.wait_for(lambda x: "READY" in fields(x), 10)
        os.kill(p.pid, signal.SIGUSR1)
        n.wait_for(lambda x: "READY" in fields(x), 10)
        t.eq(socket_inode(p.pid, 3), os.fstat(lsock.fileno()).st_ino,
             "kept socket: still fd 3 after a reload")
        t.eq(inst.stop(p), 0, "kept socket: SIGTERM -> exit 0")
        t.eq(timed_get(inst.port)[0] != 200 and lsock.fileno() >= 0, True,
             "kept socket: nothing answers after the stop, the socket is still ours")
        if c:
            c.close()
    finally:
        lsock.close()
        n.close()
        inst.close()

# ---------------------------------------------------------------- -k graceful-wait


def test_graceful_wait(t, tmp):
    inst = Instance(t, start_servers=2)
    try:
        roots = []
        for i in range(2):
            root = os.path.join(inst.dir, "root%d" % i)
            os.makedirs(root)
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write("root %d\n" % i)
            roots.append(root)
        p = inst.spawn()
        wait_until(lambda: timed_get(inst.port)[0] == 200, 10)
        seen, slow = [], 0.0
        for i in range(10):
            inst.write_conf(docroot=roots[i % 2])
            start = time.monotonic()
            rc, _, err = mpmdtest.run_mpmd(["-f", inst.conf, "-k", "graceful-wait"], timeout=40)
            slow = max(slow, time.monotonic() - start)
            status, body, _ = timed_get(inst.port)
            seen.append((rc, status, body.decode("latin-1").strip(), err.strip()))
        want = [(0, 200, "root %d" % (i % 2), "") for i in range(10)]
        t.eq(seen, want, "graceful-wait: exit 0, and the very next request sees the new config "
             "(10 of 10)")
        t.ok(slow < 5, "graceful-wait: returns within 5 s (slowest %.2f s)" % slow)
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        with open(inst.conf, "a") as f:      # parses, but the reload cannot bind it
            f.write("Listen 127.0.0.1:%d\n" % blocker.getsockname()[1])
        rc, _, err = mpmdtest.run_mpmd(["-f", inst.conf, "-k", "graceful-wait"], timeout=40)
        blocker.close()
        t.eq(rc, 1, "graceful-wait: the reload fails (Listen cannot bind) -> exit 1")
        t.contains("the graceful restart failed: ", err, "graceful-wait: says the reload failed")
        t.contains("Address already in use", err, "graceful-wait: ... with the reason")
        t.eq(timed_get(inst.port)[0], 200, "graceful-wait: the old generation still serves")
        inst.write_conf(docroot=roots[0])
        inst.stop(p)
        rc, _, err = mpmdtest.run_mpmd(["-f", inst.conf, "-k", "graceful-wait"], timeout=40)
        t.eq(rc, 1, "graceful-wait: no server -> exit 1")
        t.ok(not os.path.exists(inst.pidfile + ".state"), "the state file is removed at exit")
    finally:
        inst.close()

# ---------------------------------------------------------------- units


def make_units(tmp):
    units = os.path.join(tmp, "units")
    os.makedirs(units)
    with open(os.path.join(SRCDIR, "systemd", "mpmd.service.in")) as f:
        text = f.read()
    text = text.replace("@sbindir@", os.path.dirname(os.path.abspath(MPMD)))
    text = text.replace("@sysconfdir@", "/etc")
    with open(os.path.join(units, "mpmd.service"), "w") as f:
        f.write(text)
    shutil.copy(os.path.join(SRCDIR, "systemd", "mpmd.socket"), units)
    man = os.path.join(tmp, "man")     # Documentation= man pages, from docs/
    for sect, page in (("8", "mpmd.8"), ("5", "mpmd.conf.5")):
        os.makedirs(os.path.join(man, "man" + sect), exist_ok=True)
        shutil.copy(os.path.join(SRCDIR, "docs", page), os.path.join(man, "man" + sect))
    return units, man


UNITS_LOAD = "/run/systemd/systemd-units-load"   # systemd-analyze touches it


def test_units(t, tmp):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        t.skip("systemd-analyze verify", "systemd-analyze not installed")
        return
    had_units_load = os.path.exists(UNITS_LOAD)
    try:
        check_units(t, tmp, analyze)
    finally:
        if not had_units_load:
            try:
                os.unlink(UNITS_LOAD)
            except OSError:
                pass


def check_units(t, tmp, analyze):
    units, man = make_units(tmp)
    env = dict(os.environ, MANPATH=man)
    p = subprocess.run([analyze, "verify", os.path.join(units, "mpmd.service"),
                        os.path.join(units, "mpmd.socket")], capture_output=True, env=env,
                       timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    t.ok(p.returncode == 0 and out.strip() == "",
         "systemd-analyze verify mpmd.service mpmd.socket: no output", diag=out)
    p = subprocess.run([analyze, "security", "--offline=true",
                        os.path.join(units, "mpmd.service")], capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    m = re.search(r"Overall exposure level for mpmd.service: ([0-9.]+)", out)
    t.ok(m and float(m.group(1)) < 3.0, "systemd-analyze security: exposure under 3.0",
         diag=out[-500:])
    if m:
        t.diag("exposure: %s" % m.group(0))

# ---------------------------------------------------------------- main


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmdsd-top-")
    try:
        with t.guard("graceful-wait"):
            test_graceful_wait(t, tmp)
        with t.guard("journal prefix"):
            test_journal_prefix(t, tmp)
        if not systemd_built():
            t.skip("sd_notify, socket activation, units", "mpmd -V: built --without-systemd")
            return
        for name, fn in (("notify", test_notify), ("notify abstract", test_notify_abstract_mainpid),
                         ("notify errno", test_notify_errno)):
            with t.guard(name):
                fn(t, tmp)
        if not shutil.which("systemd-socket-activate"):
            t.skip("socket activation", "systemd-socket-activate not installed")
        else:
            for name, fn in (("activation", test_activation_one),
                             ("activation named", test_activation_named),
                             ("activation errors", test_activation_errors)):
                with t.guard(name):
                    fn(t, tmp)
        with t.guard("passed socket kept"):
            test_passed_socket_kept(t, tmp)
        with t.guard("units"):
            test_units(t, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
