# sdnotify.py: a NOTIFY_SOCKET receiver for the tests that play systemd's
# part (test_systemd.py, test_upgrade.py), and whether mpmd was built with
# libsystemd.  The receiver sees each sender's pid (SO_PASSCRED), as
# systemd does when it checks NotifyAccess=.

import array
import os
import re
import socket
import subprocess
import tempfile
import time

import mpmdtest

SCM_CREDENTIALS = 2     # <sys/socket.h>; not exported by Python's socket module
SO_PASSCRED = 16


def systemd_built():
    try:
        _, out, _ = mpmdtest.run_mpmd(["-V"])
    except (OSError, subprocess.SubprocessError):
        return False
    return re.search(r"^systemd:\s+yes", out, re.M) is not None


def fields(text):
    """A notification's KEY=VALUE lines as a dict."""
    return dict(line.split("=", 1) for line in text.split("\n") if "=" in line)


class Notify:
    """A NOTIFY_SOCKET: .env is its address, recv() returns (pid, text, time)."""

    def __init__(self, tmpdir, abstract=False):
        tmpdir = tempfile.mkdtemp(dir=tmpdir)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "mpmd-test-%d-%s" % (os.getpid(), os.path.basename(tmpdir))
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.env = os.path.join(tmpdir, "notify.sock")
            self.sock.bind(self.env)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_PASSCRED, 1)
        self.log = []           # every (pid, text, time) received

    def close(self):
        self.sock.close()

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == SCM_CREDENTIALS:
                pid = array.array("i", cdata[:12])[0]
        msg = (pid, data.decode("utf-8", "replace"), time.monotonic())
        self.log.append(msg)
        return msg

    def wait_for(self, pred, timeout, pid=None):
        """Receive until a message whose text satisfies PRED (and that PID
        sent, if given); None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            msg = self.recv(left)
            if msg is None:
                return None
            if pred(msg[1]) and (pid is None or msg[0] == pid):
                return msg

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.recv(max(0.01, end - time.monotonic()))
