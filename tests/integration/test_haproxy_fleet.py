#!/usr/bin/env python3
# test_haproxy_fleet.py: three mpmd instances behind a real HAProxy (TAP on
# stdout; issue 16, docs/scaleout.md).
#
# Three mpmd servers, each in its own directory with its own config, ports,
# PidFile and logs, serve the same site; each has a "Listen ... proxy" port
# for HAProxy (send-proxy-v2) and /server-status restricted to 127.0.0.1.
# HAProxy (Debian's haproxy, started here on loopback) balances them
# round-robin, health-checks GET /server-status?auto (expect ServerUptime)
# every 200 ms (fall 2, rise 1, the checks with a PROXY v2 LOCAL header),
# and has a runtime API socket.  Two backends over the same three servers:
# "be" with L7 retries (retries 3, option redispatch 1, retry-on
# conn-failure empty-response) and "be_plain" with HAProxy's defaults
# (retries 3 on connection failures, to the same server).
#  1 rolling restart under load (wrk -c32 keep-alive and a Python client
#    that checks every answer, both through "be"): for each server in turn,
#    "set server be/mN state drain", wait for 0 current sessions, mpmd -k
#    graceful-stop, wait for the pid to exit, start it again, wait for a
#    health check to reach the new process and HAProxy to say UP, "set
#    server state ready"; then 0 failed requests, and every server served
#    clients after its restart;
#  2 mpmd -k graceful-wait (what systemctl reload runs) on each server under
#    load, HAProxy not told: 0 failed requests through "be" (be_plain's
#    count printed);
#  3 mpmd -k graceful-stop of one server under load, HAProxy not told: the
#    checks take it DOWN; the failed requests of each backend are printed
#    (not asserted), and the slowest request;
#  4 a killed server: kill -9 of one instance's supervisor and children
#    under load on both backends; HAProxy's checks take it DOWN (bounded),
#    every request started after that succeeds; the failed requests before
#    are counted and printed per backend; started again it comes back UP;
#  5 the PROXY protocol: the fleet's access logs name the real client
#    (127.0.0.5 through HAProxy), %{c}a the balancer, and /server-status
#    refuses that client (Require ip decides on the real client).
# Counts are printed as "# rolling restart: N requests, N failed".  Every
# wait is bounded; no pass/fail depends on timing.  Runtime about 30 s.
# Skips (saying why) when haproxy is not installed.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_haproxy_fleet.py

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import haproxytest
from haproxytest import SRV_ADMF_FDRAIN, SRV_ST_RUNNING, SRV_ST_STOPPED, HAProxy
from mpmdtest import (A_TXT, Conn, ProtocolError, Server, file_lines, free_port, run_mpmd,
                      run_tests, wait_until)

MEMBERS = ("m1", "m2", "m3")
BACKENDS = ("be", "be_plain")
CLIENT = "127.0.0.2"        # the Python load client's source address
PROBE = "127.0.0.5"         # section 5's client
SESSIONS_BOUND = 10.0       # drained server: current sessions reach 0
STOP_BOUND = 30.0           # mpmd -k graceful-stop: the pid exits
UP_BOUND = 10.0             # HAProxy sees a started server UP
DOWN_BOUND = 10.0           # HAProxy sees a killed server DOWN
SERVED_BOUND = 10.0         # a server back in rotation gets client requests
LOAD_BOUND = 10.0           # load clients finish their current request
AFTER_DOWN = 300            # requests each Python client makes after DOWN

# maxconn: HAProxy wants about 2 x maxconn file descriptors and refuses to
# start when ulimit -n is lower (1024 is common); the test needs < 100.
HAPROXY_CFG = """global
    maxconn 400
    stats socket {sock} mode 600 level admin
    stats timeout 10s
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    option dontlognull
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s

frontend fe
    bind 127.0.0.1:{fe}
    default_backend be

frontend fe_plain
    bind 127.0.0.1:{fe_plain}
    default_backend be_plain

backend be
    balance roundrobin
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    http-request disable-l7-retry if !METH_GET
{checks}
backend be_plain
    balance roundrobin
{checks}"""

CHECKS = """    option httpchk
    http-check send meth GET uri /server-status?auto ver HTTP/1.1 hdr Host fleet
    http-check expect string ServerUptime
    default-server check inter 200ms fall 2 rise 1 send-proxy-v2 check-send-proxy
"""


class Member:
    """One mpmd of the fleet: its Server, its PROXY port and access log."""

    def __init__(self, name, tmp):
        self.name = name
        self.pp = free_port()
        self.log = os.path.join(tmp, "%s-access.log" % name)
        self.conf_extra = "\n".join([
            "Listen 127.0.0.1:%d proxy" % self.pp,
            "<Location /server-status>",
            "    SetHandler server-status",
            "    Require ip 127.0.0.1",
            "</Location>",
            'LogFormat "%a %{c}a %>s %U" fleet',
            "CustomLog %s fleet" % self.log,
        ])
        self.srv = None

    def lines(self):
        return file_lines(self.log)

    def served_since(self, start, path="/a.txt"):
        """Requests for PATH answered 200 in the log lines after the first START."""
        return sum(1 for line in self.lines()[start:] if line.endswith(" 200 " + path))

    def pids(self):
        return [self.srv.pid] + self.srv.children()


class PyLoad:
    """THREADS keep-alive clients through HAProxy, each checking every
    answer (200 and the file's bytes); a failure is recorded with the time
    its request started, and the client reconnects."""

    def __init__(self, port, threads=3, source=CLIENT):
        self.port = port
        self.source = source
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.slowest = 0.0          # seconds, the longest successful request
        self.failures = []          # (monotonic start of the request, what happened)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.halt.set()
        for th in self.threads:
            th.join(LOAD_BOUND)
        return not any(th.is_alive() for th in self.threads)

    def total(self):
        with self.lock:
            return self.ok + len(self.failures)

    def _run(self):
        conn = None
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = Conn(self.port, source=self.source, timeout=10)
                conn.request("GET", "/a.txt")
                r = conn.read_response()
                good = r.status == 200 and r.body == A_TXT
                took = time.monotonic() - t0
                with self.lock:
                    if good:
                        self.ok += 1
                        self.slowest = max(self.slowest, took)
                    else:
                        self.failures.append((t0, "%s, %d body bytes" % (r.status_line,
                                                                        len(r.body))))
                if "close" in (r.header("Connection") or "").lower():
                    conn.close()
                    conn = None
            except (OSError, ProtocolError, ValueError) as e:
                with self.lock:
                    self.failures.append((t0, "%s: %s" % (type(e).__name__, e)))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


class Wrk:
    """wrk -t1 -c32 (keep-alive) through HAProxy until stop() (SIGINT to its
    pid: wrk then prints its summary).  A Lua delay() of 5 ms between a
    connection's requests keeps it from taking both CPUs."""

    def __init__(self, port, tmp):
        self.exe = shutil.which("wrk")
        self.script = os.path.join(tmp, "delay.lua")
        self.out = os.path.join(tmp, "wrk.out")
        self.url = "http://127.0.0.1:%d/a.txt" % port
        self.proc = None

    def start(self):
        with open(self.script, "w") as f:
            f.write("function delay()\n  return 5\nend\n")
        out = open(self.out, "wb")
        try:
            self.proc = subprocess.Popen([self.exe, "-t1", "-c32", "-d600s", "--timeout", "10s",
                                          "-s", self.script, self.url],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()
        return self

    def stop(self):
        """(requests, failed, its output): failed = non-2xx/3xx + socket errors."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(LOAD_BOUND)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with open(self.out) as f:
            text = f.read()
        m = re.search(r"(\d+) requests in", text)
        requests = int(m.group(1)) if m else None
        failed = 0
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        if m:
            failed += int(m.group(1))
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      text)
        if m:
            failed += sum(int(x) for x in m.groups())
        return requests, failed, text

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def describe(failures, limit=10):
    return "\n".join("%s" % what for _, what in failures[:limit]) or "(none)"


def hap_errors(hap, limit=20):
    """HAProxy's log lines of requests that were not normal (dontlog-normal
    leaves only those: retried, redispatched, failed)."""
    lines = [l for l in hap.output().splitlines() if l.startswith("127.")]
    return "\n".join(lines[-limit:]) or "(no such line in HAProxy's log)"


def set_state(t, hap, name, state):
    for be in BACKENDS:
        answer = hap.set_state(be, name, state)
        if answer:
            t.diag("set server %s/%s state %s: %s" % (be, name, state, answer))


def restart_member(t, hap, m):
    """Section 1, one server: drain, graceful-stop, start, back in rotation."""
    name = m.name
    set_state(t, hap, name, "drain")
    t.ok(all(hap.servers_state(be)[name][1] & SRV_ADMF_FDRAIN for be in BACKENDS),
         "%s: HAProxy shows it drained (admin state 0x08)" % name, hap.cmd("show servers state"))
    t.ok(all(hap.wait_sessions_zero(be, name, SESSIONS_BOUND) for be in BACKENDS),
         "%s: drained: HAProxy shows 0 current sessions on it" % name,
         [hap.stat(be, name)["scur"] for be in BACKENDS])
    rc, out, err = run_mpmd(["-f", m.srv.conf, "-k", "graceful-stop"])
    t.eq(rc, 0, "%s: mpmd -k graceful-stop" % name)
    try:
        m.srv.proc.wait(STOP_BOUND)
    except subprocess.TimeoutExpired:
        pass
    t.ok(m.srv.proc.poll() is not None, "%s: pid %d exited after graceful-stop" % (name, m.srv.pid),
         out + err)
    t.ok(not m.srv.leftovers(), "%s: no process of it left" % name, m.srv.leftovers())
    start = len(m.lines())
    m.srv.start_again()
    t.ok(wait_until(lambda: m.served_since(start, "/server-status") > 0, UP_BOUND),
         "%s: started again (pid %d); HAProxy's health checks reach it" % (name, m.srv.pid),
         m.lines()[start:][-5:])
    t.ok(all(hap.wait_op_state(be, name, SRV_ST_RUNNING, UP_BOUND) for be in BACKENDS),
         "%s: HAProxy reports it UP" % name, hap.cmd("show servers state"))
    set_state(t, hap, name, "ready")
    t.ok(wait_until(lambda: m.served_since(start) > 0, SERVED_BOUND),
         "%s: back in rotation: serves clients after its restart" % name)


def rolling_restart(t, hap, members, fe, tmp):
    """Section 1."""
    wrk = Wrk(fe, tmp)
    marks = [len(m.lines()) for m in members]
    with contextlib.ExitStack() as stack:
        load = stack.enter_context(PyLoad(fe))
        if wrk.exe:
            wrk.start()
            stack.callback(wrk.kill)
        t.ok(wait_until(lambda: load.total() > 100, LOAD_BOUND), "load running through HAProxy")
        for m in members:
            restart_member(t, hap, m)
        # Some more load on the whole fleet before the counts close.
        n = load.total()
        wait_until(lambda: load.total() > n + 300, LOAD_BOUND)
        t.ok(load.stop(), "Python load clients stopped")
        if wrk.exe:
            requests, wfailed, text = wrk.stop()
    t.diag("rolling restart (python, %d connections): %d requests, %d failed, slowest %.2f s"
           % (len(load.threads), load.total(), len(load.failures), load.slowest))
    t.eq(len(load.failures), 0, "rolling restart: 0 failed requests (Python client)")
    if load.failures:
        t.diag(describe(load.failures))
        t.diag(hap_errors(hap))
    if wrk.exe:
        t.diag("rolling restart (wrk -c32): %s requests, %d failed" % (requests, wfailed))
        t.ok(requests and wfailed == 0, "rolling restart: 0 failed requests (wrk -c32)",
             text + hap_errors(hap))
    else:
        t.skip("rolling restart: 0 failed requests (wrk -c32)", "wrk not installed")
    for m, mark in zip(members, marks):
        t.ok(m.served_since(mark) > 0, "%s served requests during the rolling restart" % m.name)


def killed_member(t, hap, m, fe, fe_plain):
    """Section 4."""
    name = m.name
    with PyLoad(fe) as load, PyLoad(fe_plain) as plain:
        t.ok(wait_until(lambda: load.total() > 100 and plain.total() > 100, LOAD_BOUND),
             "load running through both backends")
        pids = m.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            m.srv.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        t.diag("%s: kill -9 %s" % (name, " ".join(map(str, pids))))
        down = all(hap.wait_op_state(be, name, SRV_ST_STOPPED, DOWN_BOUND) for be in BACKENDS)
        t_down = time.monotonic()
        t.ok(down, "%s killed: HAProxy's health checks take it DOWN" % name,
             hap.cmd("show servers state"))
        n1, n2 = load.total(), plain.total()
        t.ok(wait_until(lambda: load.total() > n1 + AFTER_DOWN and plain.total() > n2 + AFTER_DOWN,
                        LOAD_BOUND), "load goes on on the two servers left")
    for what, ld in (("be: retry-on conn-failure empty-response, redispatch", load),
                     ("be_plain: HAProxy's default retries", plain)):
        after = [f for f in ld.failures if f[0] >= t_down]
        t.diag("killed instance (%s): %d requests, %d failed (%d after DOWN), slowest %.2f s"
               % (what, ld.total(), len(ld.failures), len(after), ld.slowest))
        if ld.failures:
            t.diag(describe(ld.failures, 5))
        t.eq(len(after), 0, "killed instance (%s): every request after DOWN succeeds" % what)
    m.srv.start_again()
    t.ok(all(hap.wait_op_state(be, name, SRV_ST_RUNNING, UP_BOUND) for be in BACKENDS),
         "%s started again: HAProxy reports it UP" % name, hap.cmd("show servers state"))


def graceful_restarts(t, hap, members, fe, fe_plain):
    """Section 2: mpmd -k graceful-wait (what systemctl reload runs) on each
    server in turn, HAProxy not told: the listening sockets stay open."""
    marks = [len(m.lines()) for m in members]
    with PyLoad(fe) as load, PyLoad(fe_plain) as plain:
        t.ok(wait_until(lambda: load.total() > 100 and plain.total() > 100, LOAD_BOUND),
             "load running through both backends")
        for m in members:
            rc, out, err = run_mpmd(["-f", m.srv.conf, "-k", "graceful-wait"], timeout=40)
            t.eq(rc, 0, "%s: mpmd -k graceful-wait (HAProxy not told)" % m.name)
        n1, n2 = load.total(), plain.total()
        wait_until(lambda: load.total() > n1 + AFTER_DOWN and plain.total() > n2 + AFTER_DOWN,
                   LOAD_BOUND)
    for what, ld in (("be", load), ("be_plain", plain)):
        t.diag("graceful restarts (%s): %d requests, %d failed, slowest %.2f s"
               % (what, ld.total(), len(ld.failures), ld.slowest))
        if ld.failures:
            t.diag(describe(ld.failures, 5))
    t.eq(len(load.failures), 0, "graceful restarts: 0 failed requests through be")
    for m, mark in zip(members, marks):
        t.ok(m.served_since(mark) > 0, "%s served requests during the graceful restarts"
             % m.name)


def stop_without_drain(t, hap, m, fe, fe_plain):
    """Section 3: mpmd -k graceful-stop with HAProxy not told; counted, not asserted."""
    name = m.name
    with PyLoad(fe) as load, PyLoad(fe_plain) as plain:
        t.ok(wait_until(lambda: load.total() > 100 and plain.total() > 100, LOAD_BOUND),
             "load running through both backends")
        rc, out, err = run_mpmd(["-f", m.srv.conf, "-k", "graceful-stop"])
        t.eq(rc, 0, "%s: mpmd -k graceful-stop, HAProxy not told" % name)
        try:
            m.srv.proc.wait(STOP_BOUND)
        except subprocess.TimeoutExpired:
            pass
        t.ok(m.srv.proc.poll() is not None, "%s: pid %d exited" % (name, m.srv.pid))
        t.ok(all(hap.wait_op_state(be, name, SRV_ST_STOPPED, DOWN_BOUND) for be in BACKENDS),
             "%s: HAProxy's health checks take it DOWN" % name, hap.cmd("show servers state"))
        n1, n2 = load.total(), plain.total()
        wait_until(lambda: load.total() > n1 + AFTER_DOWN and plain.total() > n2 + AFTER_DOWN,
                   LOAD_BOUND)
    for what, ld in (("be", load), ("be_plain", plain)):
        t.diag("graceful-stop without drain (%s): %d requests, %d failed, slowest %.2f s"
               % (what, ld.total(), len(ld.failures), ld.slowest))
        if ld.failures:
            t.diag(describe(ld.failures, 5))
    m.srv.start_again()
    t.ok(all(hap.wait_op_state(be, name, SRV_ST_RUNNING, UP_BOUND) for be in BACKENDS),
         "%s started again: HAProxy reports it UP" % name, hap.cmd("show servers state"))


def proxy_protocol(t, members, fe):
    """Section 5."""
    marks = [len(m.lines()) for m in members]
    for path, want in (("/a.txt", 200), ("/server-status?auto", 403)):
        with Conn(fe, source=PROBE) as c:
            c.request("GET", path, headers=[("Connection", "close")])
            r = c.read_response()
        t.eq(r.status, want, "client %s through HAProxy: GET %s answers %d" % (PROBE, path, want))
    line = "%s 127.0.0.1 200 /a.txt" % PROBE
    t.ok(wait_until(lambda: any(line in m.lines()[k:] for m, k in zip(members, marks)), 5),
         "PROXY v2: the fleet's access log names the client %s, %%{c}a the balancer" % PROBE,
         [m.lines()[k:][-5:] for m, k in zip(members, marks)])
    t.ok(any("%s 127.0.0.1 403 /server-status" % PROBE in l for m, k in zip(members, marks)
             for l in m.lines()[k:]),
         "Require ip 127.0.0.1 on /server-status decides on the real client")
    t.ok(all(any(l.startswith(CLIENT + " 127.0.0.1 200 ") for l in m.lines()) for m in members),
         "every server logged the load client %s, not the balancer" % CLIENT)


def main(t):
    why = haproxytest.missing()
    if why:
        t.skip("mpmd fleet behind HAProxy", why)
        return
    tmp = tempfile.mkdtemp(prefix="mpmd-fleet-")
    try:
        with contextlib.ExitStack() as stack:
            members = [Member(name, tmp) for name in MEMBERS]
            for m in members:
                m.srv = stack.enter_context(Server(conf_extra=m.conf_extra, tap=t))
            fe, fe_plain = free_port(), free_port()
            sock = os.path.join(tmp, "haproxy.sock")
            servers = "".join("    server %s 127.0.0.1:%d\n" % (m.name, m.pp) for m in members)
            cfg = HAPROXY_CFG.format(sock=sock, fe=fe, fe_plain=fe_plain,
                                     checks=CHECKS + servers)
            hap = stack.enter_context(HAProxy(tmp, cfg, [fe, fe_plain], sock))
            t.ok(all(hap.wait_op_state(be, m.name, SRV_ST_RUNNING, UP_BOUND)
                     for be in BACKENDS for m in members),
                 "HAProxy's health checks (GET /server-status?auto over PROXY v2) see the "
                 "three servers UP", hap.cmd("show servers state"))
            with t.guard("rolling restart"):
                rolling_restart(t, hap, members, fe, tmp)
            with t.guard("graceful restarts"):
                graceful_restarts(t, hap, members, fe, fe_plain)
            with t.guard("graceful-stop without drain"):
                stop_without_drain(t, hap, members[2], fe, fe_plain)
            with t.guard("killed instance"):
                killed_member(t, hap, members[1], fe, fe_plain)
            with t.guard("PROXY protocol"):
                proxy_protocol(t, members, fe)
            t.eq(hap.stop(), 0, "haproxy soft-stopped (SIGUSR1): exit 0")
    finally:
        if os.environ.get("MPMD_KEEP"):
            t.diag("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests(main)
