# haproxytest.py: a real HAProxy (Debian's haproxy package) in front of mpmd,
# for the integration tests (stdlib only; test_proxyproto.py and
# test_haproxy_fleet.py).
#
# Owns: finding the binary (missing() says why a test must skip), writing
# a config, starting "haproxy -f CFG -db" in the foreground as a child
# (its own session; stopped by its pid, SIGTERM then SIGKILL, bounded), and
# the runtime API over the "stats socket" unix socket: cmd(), show_stat(),
# servers_state(), with waits for a server's state that are all bounded.

import csv
import io
import os
import shutil
import signal
import socket
import subprocess

from mpmdtest import recv_to_eof, wait_until

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
START_TIMEOUT = 5.0     # haproxy start: every frontend port accepts
STOP_TIMEOUT = 5.0      # SIGTERM -> exit
CMD_TIMEOUT = 5.0       # one runtime API command

# "show servers state" columns 5 and 6 (HAProxy 2.6 include/haproxy/server-t.h)
SRV_ST_STOPPED, SRV_ST_STARTING, SRV_ST_RUNNING, SRV_ST_STOPPING = 0, 1, 2, 3
SRV_ADMF_FMAINT, SRV_ADMF_FDRAIN = 0x01, 0x08


def missing():
    """None if a usable haproxy is installed, else why not (a skip reason)."""
    if not os.access(HAPROXY, os.X_OK):
        return "no haproxy binary (apt-get install haproxy)"
    return None


def connects(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class HAProxyError(Exception):
    pass


class HAProxy:
    """A running haproxy.  CFG_TEXT is the whole configuration; PORTS the
    frontend ports to wait for; SOCK the stats socket's path if the config
    declares one ("stats socket SOCK level admin").  Use as a context
    manager."""

    def __init__(self, dir, cfg_text, ports, sock=None):
        self.dir = dir
        self.cfg = os.path.join(dir, "haproxy.cfg")
        self.log = os.path.join(dir, "haproxy.out")
        self.cfg_text = cfg_text
        self.ports = list(ports)
        self.sock = sock
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def output(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self):
        with open(self.cfg, "w") as f:
            f.write(self.cfg_text)
        check = subprocess.run([HAPROXY, "-c", "-f", self.cfg], capture_output=True,
                               timeout=10)
        if check.returncode != 0:
            raise HAProxyError("haproxy -c rejects the config:\n%s"
                               % (check.stdout + check.stderr).decode("utf-8", "replace"))
        out = open(self.log, "wb")
        try:
            self.proc = subprocess.Popen([HAPROXY, "-f", self.cfg, "-db"],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()

        def ready():
            if self.proc.poll() is not None:
                return True
            if not all(connects(p) for p in self.ports):
                return False
            return self.sock is None or self._try_cmd("show info") is not None
        wait_until(ready, START_TIMEOUT)
        if self.proc.poll() is not None or not ready():
            self.stop()
            raise HAProxyError("haproxy did not start; output:\n%s" % self.output()[-2000:])

    def stop(self):
        """Soft stop (SIGUSR1: HAProxy closes its listeners and idle
        connections, then exits 0), SIGTERM and then SIGKILL after
        STOP_TIMEOUT each, all by pid; returns the exit status."""
        if self.proc is None:
            return None
        for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        return self.proc.returncode

    # -- the runtime API
    def cmd(self, line):
        """One runtime API command on the stats socket; its whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(CMD_TIMEOUT)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            data = recv_to_eof(s)
        return data.decode("utf-8", "replace")

    def _try_cmd(self, line):
        try:
            return self.cmd(line)
        except OSError:
            return None

    def show_stat(self):
        """'show stat' as a list of dicts keyed by the CSV header (pxname,
        svname, scur, status, ...)."""
        text = self.cmd("show stat")
        if text.startswith("# "):
            text = text[2:]
        return list(csv.DictReader(io.StringIO(text)))

    def stat(self, backend, server):
        for row in self.show_stat():
            if row["pxname"] == backend and row["svname"] == server:
                return row
        raise HAProxyError("no server %s/%s in show stat" % (backend, server))

    def servers_state(self, backend):
        """{server name: (operational state, admin state)} from 'show servers state'."""
        found = {}
        for line in self.cmd("show servers state %s" % backend).splitlines():
            f = line.split()
            if len(f) > 6 and f[0].isdigit():
                found[f[3]] = (int(f[5]), int(f[6]))
        return found

    def op_state(self, backend, server):
        return self.servers_state(backend).get(server, (None, None))[0]

    def set_state(self, backend, server, state):
        """'set server BE/SRV state ready|drain|maint'; the answer (empty when accepted)."""
        return self.cmd("set server %s/%s state %s" % (backend, server, state)).strip()

    def wait_op_state(self, backend, server, want, timeout):
        """Wait (bounded) until SERVER's operational state is WANT; True if it is."""
        return wait_until(lambda: self.op_state(backend, server) == want, timeout, 0.05)

    def wait_sessions_zero(self, backend, server, timeout):
        """Wait (bounded) until HAProxy has no current session on SERVER."""
        return wait_until(lambda: self.stat(backend, server)["scur"] == "0", timeout, 0.05)
