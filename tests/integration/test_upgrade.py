#!/usr/bin/env python3
# test_upgrade.py: zero-downtime binary upgrade, mpmd -k upgrade / SIGUSR2 (TAP on stdout).
#
# Issue 16's "done when": mpmd runs from a copy of the built binary; the
# copy is replaced on disk (a new file, as a package upgrade does) and
# upgraded to 10 times in a row while wrk -c64 and h2load -m4 (pipelined)
# run in loops; no request may fail: wrk's socket errors and non-2xx,
# h2load's failed/errored/timeout are summed and printed ("# ..."), and
# must all be 0.  Each upgrade gives a new supervisor pid running the new
# file, the PidFile follows it, the old supervisor exits.  Then the file
# is replaced by a broken binary (a script that exits 1 with a message),
# one that hangs (UpgradeTimeout 2 here), and the config is broken under
# a good binary: each time -k upgrade (or SIGUSR2) fails with the reason
# and the old supervisor serves on.  A second SIGUSR2 during an upgrade is
# refused.  Last, with a NOTIFY_SOCKET receiver, the new supervisor sends
# READY=1 with MAINPID=<its pid> and the old one MAINPID=<new pid>.
#
# The script makes itself a child subreaper: an old supervisor's exit
# reparents the new one (its child) to this script, which reaps it.
# Bounded waits only; every process is stopped by pid; 127.0.0.1 only.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_upgrade.py

import ctypes
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
from mpmdtest import INDEX_HTML, free_port, make_docroot, pid_alive, run_tests, wait_until

MPMD = mpmdtest.MPMD
UPGRADES = 10
UPGRADE_TIMEOUT = 2       # UpgradeTimeout in the test config (the hanging binary)
WAIT = 30.0               # bound for an upgrade to finish, an old supervisor to exit
LOAD_SECONDS = 6          # each wrk / h2load run; runs repeat until the upgrades are done
LOAD_SETTLE = 0.3         # an upgrade starts once every load run has connected (pacing)
LOAD_LEFT = 3             # ... and has this much of its time left
PR_SET_CHILD_SUBREAPER = 36

# ---------------------------------------------------------------- processes


def become_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap(pid):
    """Collect PID if it is our (adopted) child and has exited."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def gone(pid):
    reap(pid)
    return not pid_alive(pid)


def stop_pid(pid, timeout=10.0):
    """SIGTERM PID (a supervisor), then SIGKILL its group if it lingers."""
    if gone(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if wait_until(lambda: gone(pid), timeout):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return wait_until(lambda: gone(pid), 5)


# ---------------------------------------------------------------- an instance


class Instance:
    """A temp dir with a copy of mpmd (bin/mpmd), a config and docroot."""

    def __init__(self, t, extra=""):
        self.t = t
        self.dir = tempfile.mkdtemp(prefix="mpmdup-")
        self.bin = os.path.join(self.dir, "bin", "mpmd")
        os.mkdir(os.path.dirname(self.bin))
        self.install(MPMD)
        self.port = free_port()
        make_docroot(os.path.join(self.dir, "htdocs"))
        self.extra = extra
        self.write_conf()
        self.proc = None
        self.pids = []            # every supervisor pid seen
        self.failed_before = t.failed

    @property
    def conf(self):
        return os.path.join(self.dir, "mpmd.conf")

    @property
    def pidfile(self):
        return os.path.join(self.dir, "mpmd.pid")

    def write_conf(self, more=""):
        lines = mpmdtest.config_lines(self.port, self.dir, os.path.join(self.dir, "htdocs"),
                                      threads=4, start_servers=2, conf_extra=self.extra)
        # h2load cannot re-send pipelined requests after a Connection: close
        # (test_close.py); only the upgrade may close connections here.
        lines = [ln for ln in lines if not ln.startswith("MaxKeepAliveRequests")]
        lines += ["MaxKeepAliveRequests 0", "UpgradeTimeout %d" % UPGRADE_TIMEOUT]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + more)

    def install(self, src):
        """Replace bin/mpmd with a copy of SRC: a new file (inode), as an upgrade writes."""
        tmp = self.bin + ".new"
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o755)
        os.rename(tmp, self.bin)

    def install_script(self, text):
        tmp = self.bin + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.rename(tmp, self.bin)

    def start(self, env=None):
        out = open(os.path.join(self.dir, "stderr.log"), "ab")
        full_env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                  "LISTEN_FDNAMES", "SYSTEMD_EXEC_PID", "MPMD_UPGRADE"):
            full_env.pop(k, None)
        full_env.update(env or {})
        try:
            # Started by a path relative to its directory, as an operator might.
            self.proc = subprocess.Popen(["bin/mpmd", "-f", self.conf], cwd=self.dir,
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=full_env,
                                         start_new_session=True)
        finally:
            out.close()
        self.pids.append(self.proc.pid)
        return wait_until(lambda: self.state().startswith("generation 1 ready"), WAIT)

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def state(self):
        return self.text("mpmd.pid.state")

    def text(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def ctl(self, *args, timeout=WAIT + 20):
        """mpmd -f CONF ARGS with the binary under test (not bin/mpmd): (rc, out, err)."""
        p = subprocess.run([MPMD, "-f", self.conf] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout, cwd=self.dir)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def get(self):
        try:
            with mpmdtest.Conn(self.port, timeout=5) as c:
                c.request("GET", "/index.html", headers=[("Connection", "close")])
                r = c.read_response()
                return r.status == 200 and r.body == INDEX_HTML
        except (OSError, mpmdtest.ProtocolError, ValueError):
            return False

    def close(self):
        for pid in reversed(self.pids):
            stop_pid(pid)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(5)
        if self.t.failed > self.failed_before:
            for name in ("stderr.log", "error.log"):
                text = self.text(name).splitlines()[-25:]
                if text:
                    self.t.diag("---- %s ----\n%s" % (name, "\n".join(text)))
        shutil.rmtree(self.dir, ignore_errors=True)

# ---------------------------------------------------------------- load


class LoadLoop:
    """Runs a load tool again and again until stop(), summing its counts."""

    def __init__(self, name, argv, parse):
        self.name = name
        self.argv = argv
        self.parse = parse
        self.totals = {}
        self.runs = 0
        self.current = None       # start of the run going on, or None
        self.bad_output = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def early_in_run(self):
        """A run has been going for LOAD_SETTLE s and has LOAD_LEFT s left."""
        start = self.current
        return (start is not None and
                LOAD_SETTLE <= time.monotonic() - start <= LOAD_SECONDS - LOAD_LEFT)

    def running_since(self, when):
        """Whether the run going on now started before WHEN (monotonic)."""
        start = self.current
        return start is not None and start <= when

    def stop(self):
        self.halt.set()
        self.thread.join(60)
        return not self.thread.is_alive()

    def _run(self):
        while not self.halt.is_set():
            self.current = time.monotonic()
            p = subprocess.run(self.argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=60)
            self.current = None
            out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
            counts = self.parse(out)
            if counts is None or p.returncode != 0:
                self.bad_output.append(out[-800:])
                continue
            self.runs += 1
            for k, v in counts.items():
                self.totals[k] = self.totals.get(k, 0) + v


def parse_wrk(out):
    m = re.search(r"(\d+) requests in", out)
    if not m:
        return None
    counts = {"requests": int(m.group(1)), "socket errors": 0, "non-2xx": 0}
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if e:
        counts["socket errors"] = sum(int(x) for x in e.groups())
    n = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if n:
        counts["non-2xx"] = int(n.group(1))
    return counts


def parse_h2load(out):
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    c = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not m or not c:
        return None
    return {"succeeded": int(m.group(4)), "failed": int(m.group(5)), "errored": int(m.group(6)),
            "timeout": int(m.group(7)), "non-2xx": sum(int(c.group(i)) for i in (2, 3, 4))}

# ---------------------------------------------------------------- tests


def upgrade_once(t, inst, i, spans=None):
    """One mpmd -k upgrade to a fresh copy of the binary; returns the new pid or None.
    SPANS: gets (start, end) of the hand-over: from the signal until the new
    supervisor serves and the old one was told to stop."""
    old = inst.pid()
    inst.install(MPMD)
    ino = os.stat(inst.bin).st_ino
    start = time.monotonic()
    rc, out, err = inst.ctl("-k", "upgrade")
    if spans is not None:
        spans.append((start, time.monotonic()))
    new = inst.pid()
    ok = rc == 0 and new not in (None, old)
    try:
        ok = ok and os.stat("/proc/%d/exe" % new).st_ino == ino
    except OSError:
        ok = False
    if new and new not in inst.pids:
        inst.pids.append(new)
    exited = wait_until(lambda: gone(old), WAIT)
    if not t.ok(ok and exited, "upgrade %s: -k upgrade exits 0, pid %s -> %s runs the new file, "
                "the old supervisor exits" % (i, old, new), diag="rc=%d %s%s exited=%s"
                % (rc, out, err, exited)):
        return None
    return new


def test_upgrades_under_load(t, inst):
    wrk, h2load = shutil.which("wrk"), shutil.which("h2load")
    url = "http://127.0.0.1:%d/index.html" % inst.port
    loads = []
    if wrk:
        loads.append(LoadLoop("wrk", [wrk, "-t1", "-c64", "-d%ds" % LOAD_SECONDS, url], parse_wrk))
    else:
        t.skip("wrk -c64 during upgrades", "wrk not installed")
    if h2load:
        loads.append(LoadLoop("h2load", [h2load, "--h1", "-c8", "-m4", "-D", str(LOAD_SECONDS), url],
                              parse_h2load))
    else:
        t.skip("h2load -m4 during upgrades", "h2load not installed (nghttp2-client)")
    for ld in loads:
        ld.start()
    try:
        # An upgrade counts once every load ran through its whole hand-over;
        # one that did not (a slow machine) is simply followed by another.
        done = attempts = 0
        while done < UPGRADES and attempts < 2 * UPGRADES:
            attempts += 1
            wait_until(lambda: all(ld.early_in_run() for ld in loads), 3 * LOAD_SECONDS)
            spans = []
            if upgrade_once(t, inst, attempts, spans) is None:
                break
            done += all(ld.running_since(spans[0][0]) for ld in loads)
    finally:
        stopped = [ld.stop() for ld in loads]
    t.eq(done, UPGRADES, "%d upgrades in a row, each while every load ran (%d attempts)"
         % (UPGRADES, attempts))
    t.ok(all(stopped), "load loops finished")
    t.ok(os.path.exists(inst.pidfile) and not os.path.exists(inst.pidfile + ".oldbin"),
         "PidFile names the last supervisor; no PidFile.oldbin left")
    for ld in loads:
        t.diag("%s: %d runs, totals %r" % (ld.name, ld.runs, ld.totals))
        t.ok(ld.runs > 0 and not ld.bad_output, "%s ran (%d runs)" % (ld.name, ld.runs),
             diag="\n".join(ld.bad_output[-2:]))
    if wrk:
        w = loads[0].totals
        t.diag("upgrades under wrk -c64: %d requests, %d socket errors, %d non-2xx"
               % (w.get("requests", 0), w.get("socket errors", 0), w.get("non-2xx", 0)))
        t.ok(w.get("requests", 0) > 0 and w.get("socket errors", 0) == 0 and
             w.get("non-2xx", 0) == 0, "wrk -c64 across %d upgrades: 0 failed requests" % done)
    if h2load:
        h = loads[-1].totals
        failed = h.get("failed", 0) + h.get("errored", 0) + h.get("timeout", 0)
        t.diag("upgrades under h2load --h1 -c8 -m4: %d succeeded, %d failed, %d errored, "
               "%d timeout, %d non-2xx" % (h.get("succeeded", 0), h.get("failed", 0),
                                            h.get("errored", 0), h.get("timeout", 0),
                                            h.get("non-2xx", 0)))
        t.ok(h.get("succeeded", 0) > 0 and failed == 0 and h.get("non-2xx", 0) == 0,
             "h2load -m4 across %d upgrades: 0 failed requests" % done)
    pid = inst.pid()
    kids = wait_until(lambda: len(mpmdtest.proc_children(pid)) == 2 and mpmdtest.proc_children(pid), 10)
    t.ok(kids, "the last supervisor has StartServers (2) children", diag=repr(kids))
    t.ok(inst.get(), "the last supervisor serves")


def expect_failure(t, inst, what, reason_re, via_signal=False):
    """Upgrade to whatever bin/mpmd is now; it must fail with REASON_RE and the old one serve."""
    old = inst.pid()
    if via_signal:
        before = inst.state()
        os.kill(old, signal.SIGUSR2)
        wait_until(lambda: inst.state() != before and " failed " in inst.state()
                   and inst.pid() == old, WAIT)
        rc, msg = 1, inst.state()
    else:
        rc, out, err = inst.ctl("-k", "upgrade")
        msg = err
    t.ok(rc != 0 and re.search(reason_re, msg), "%s: the upgrade fails naming the reason"
         % what, diag="rc=%s %r" % (rc, msg))
    t.eq(inst.pid(), old, "%s: PidFile names the old supervisor again" % what)
    t.ok(pid_alive(old) and inst.get(), "%s: the old supervisor serves on" % what)
    t.ok(re.search(r"upgrade failed: .*" + reason_re, inst.text("error.log")),
         "%s: the error log says why" % what)
    t.ok(not os.path.exists(inst.pidfile + ".oldbin"), "%s: no PidFile.oldbin left" % what)
    t.ok(re.search(r"generation \d+ failed reload \d+: upgrade failed: ", inst.state()),
         "%s: the state file says failed" % what, diag=inst.state())


def new_pids(inst, since):
    """Pids the error log says upgrades started, after byte offset SINCE."""
    return [int(p) for p in re.findall(r"upgrade: started \S+ as pid (\d+)",
                                       inst.text("error.log")[since:])]


def test_broken_binaries(t, inst):
    inst.install_script("#!/bin/sh\necho 'mpmd-test: this binary is broken' >&2\nexit 1\n")
    expect_failure(t, inst, "a binary that exits 1",
                   r"new binary exited with status 1: mpmd-test: this binary is broken")
    since = len(inst.text("error.log"))
    inst.install_script("#!/bin/sh\necho 'mpmd-test: hanging' >&2\nexec sleep 120\n")
    expect_failure(t, inst, "a binary that never reports ready",
                   r"did not report ready within UpgradeTimeout \(%d s\): mpmd-test: hanging"
                   % UPGRADE_TIMEOUT)
    hung = new_pids(inst, since)
    t.ok(hung and all(gone(p) for p in hung), "the hanging binary was stopped", diag=repr(hung))
    # A second SIGUSR2 (and -k upgrade) while one is under way is refused.
    since = len(inst.text("error.log"))
    old = inst.pid()
    os.kill(old, signal.SIGUSR2)
    wait_until(lambda: new_pids(inst, since), 5)
    os.kill(old, signal.SIGUSR2)
    rc, _, err = inst.ctl("-k", "upgrade")
    t.ok(wait_until(lambda: "SIGUSR2 ignored: an upgrade is already under way"
                    in inst.text("error.log")[since:], 5),
         "SIGUSR2 during an upgrade: ignored, logged")
    t.ok(rc != 0 and "already under way" in err, "-k upgrade during an upgrade: refused",
         diag="rc=%d %s" % (rc, err))
    t.ok(wait_until(lambda: " failed " in inst.state() and inst.pid() == old, WAIT),
         "the hanging upgrade ends; the old supervisor serves", diag=inst.state())
    # A good binary that rejects the configuration: the reason is FILE:LINE.
    inst.install(MPMD)
    inst.write_conf("BogusDirective 1\n")
    rc, _, err = inst.ctl("-k", "upgrade")
    t.ok(rc != 0 and "BogusDirective" in err, "-k upgrade with a broken config: exit 1, the "
         "config error", diag="rc=%d %s" % (rc, err))
    expect_failure(t, inst, "SIGUSR2 with a config the new binary rejects",
                   r"new binary exited with status 1: \S*mpmd.conf:\d+: BogusDirective",
                   via_signal=True)
    inst.write_conf()
    t.ok(upgrade_once(t, inst, "after the failures") is not None,
         "an upgrade after the failures succeeds")
    # An upgrade while a graceful restart's children still finish.
    os.kill(inst.pid(), signal.SIGUSR1)
    t.ok(upgrade_once(t, inst, "during a graceful restart") is not None,
         "an upgrade right after SIGUSR1 succeeds")


def test_notify(t):
    inst = Instance(t)
    n = Notify(inst.dir)
    try:
        if not t.ok(inst.start(env={"NOTIFY_SOCKET": n.env}), "notify: mpmd starts"):
            return
        old = inst.pid()
        t.ok(n.wait_for(lambda text: "READY=1" in text, 10), "notify: READY=1 at start")
        inst.install(MPMD)
        new = upgrade_once(t, inst, "under NOTIFY_SOCKET")
        if new is None:
            return
        ready = n.wait_for(lambda text: "READY=1" in text, 10, pid=new)
        f = fields(ready[1]) if ready else {}
        t.eq(f.get("MAINPID"), str(new), "notify: the new supervisor sends READY=1 with "
             "MAINPID=<its pid> (needs NotifyAccess=all)")
        handover = [m for m in n.log if m[0] == old and "MAINPID=" in m[1]]
        handover = handover or [n.wait_for(lambda text: "MAINPID=" in text, 5, pid=old)]
        t.ok(handover[0] and fields(handover[0][1]).get("MAINPID") == str(new),
             "notify: the old supervisor (the main pid) sends MAINPID=<new pid>",
             diag=repr(n.log[-6:]))
        t.ok(not any(m[0] == old and "STOPPING=1" in m[1] for m in n.log),
             "notify: the old supervisor does not say STOPPING=1 (the service goes on)")
    finally:
        n.close()
        inst.close()


def main(t):
    t.diag("subreaper: %s" % become_subreaper())
    inst = Instance(t)
    try:
        if not t.ok(inst.start(), "mpmd starts from a copy of the binary (bin/mpmd)",
                    diag=inst.text("stderr.log")):
            return
        with t.guard("upgrades under load"):
            test_upgrades_under_load(t, inst)
        with t.guard("broken binaries"):
            test_broken_binaries(t, inst)
    finally:
        inst.close()
    if not systemd_built():
        t.skip("notify", "mpmd -V: built --without-systemd (no sd_notify)")
        return
    with t.guard("notify"):
        test_notify(t)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
