#!/usr/bin/env python3
# test_status.py: the server-status and metrics handlers (TAP on stdout).
#
# A server with `SetHandler server-status` (Apache's mod_status: HTML,
# ?auto, ?json, ?refresh, ?notable) and `SetHandler metrics` (Prometheus
# text format 0.0.4), for MPM event and again for MPM worker, StartServers 2:
#   1. a load the test sends itself (static files of known sizes, 404s,
#      HEADs, POSTs -> 405, keep-alive, pipelined, HTTP/1.0, fresh
#      connections), after which ?auto, ?json, the HTML page and /metrics
#      agree exactly with what was sent: requests by method and status
#      class, body bytes, connections accepted, histogram _count;
#   2. ?auto as collectd and apache_exporter read it: hostname first,
#      Apache 2.4.71's keys in Apache's order, ServerVersion in the
#      exporter's Name/MAJ.MIN.PATCH shape, every numeric value a Go float,
#      Scoreboard characters, length and counts; ExtendedStatus Off drops
#      exactly the Total/CPU/rate lines;
#   3. /metrics through prometheus_client's parser (/usr/bin/python3) and
#      `promtool check metrics`, HELP/TYPE for every family, counters _total;
#   4. counters across a graceful restart (USR1) and a SIGKILLed child:
#      never decrease, restarts/crashes counted, then exact deltas again;
#   5. the HTML page: process table = ?json's children, <pre> grid wrapped
#      at 64, legend, ExtendedStatus table with an HTML-escaped request
#      line, Refresh headers, ?notable;
#   6. ?json's documented keys and their relations;
#   7. Require (by client address, all denied, another ip), POST -> 405
#      with Allow, HEAD without a body.
# How exactness works: every request of the test goes through a Tracker
# that knows what the server must have counted.  A status or metrics
# answer is counted after it is sent, so a fetch sees every earlier request
# but not itself; its own connection is counted at accept.  Counting also
# happens just after the client has its answer, so each checked fetch is
# repeated (bounded) until it matches, and then must match exactly; an
# overshoot is never retried.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_status.py

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid

import mpmdtest
from mpmdtest import Conn, Server, build_request, run_tests, wait_until

START_SERVERS = 2
THREADS = 5             # 16 x 5 = 80 scoreboard slots: the HTML grid wraps (64 + 16)
SERVER_LIMIT = 16
SETTLE = 5.0            # bound for counters to catch up with answers already received
RESTART_BOUND = 15.0    # new generation answering, old children gone, child respawned
HUGE_SIZE = 16 * 1024 * 1024  # more than the kernel's largest send buffer (4 MiB)
SYS_PYTHON = "/usr/bin/python3"

STATUS_CONF = """ExtendedStatus {ext}
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1 ::1
</Location>
<Location /metrics>
    SetHandler metrics
    Require ip 127.0.0.1 ::1
</Location>
<Location /status-denied>
    SetHandler server-status
    Require all denied
</Location>
<Location /status-otherip>
    SetHandler server-status
    Require ip 192.0.2.1
</Location>"""

# Apache 2.4.71's ?auto keys (mod_status.c, live capture), ExtendedStatus On.
# CPULoad only appears when some CPU time was used.
AUTO_KEYS_EXT = [
    "ServerVersion", "ServerMPM", "Server Built", "CurrentTime", "RestartTime",
    "ParentServerConfigGeneration", "ParentServerMPMGeneration", "ServerUptimeSeconds",
    "ServerUptime", "Load1", "Load5", "Load15", "Total Accesses", "Total kBytes",
    "Total Duration", "CPUUser", "CPUSystem", "CPUChildrenUser", "CPUChildrenSystem",
    "Uptime", "ReqPerSec", "BytesPerSec", "BytesPerReq", "DurationPerReq", "BusyWorkers",
    "GracefulWorkers", "IdleWorkers", "Processes", "Stopping", "ConnsTotal",
    "ConnsAsyncWaitIO", "ConnsAsyncWriting", "ConnsAsyncKeepAlive", "ConnsAsyncClosing",
    "Scoreboard"]
EXT_ONLY = {"Total Accesses", "Total kBytes", "Total Duration", "CPUUser", "CPUSystem",
            "CPUChildrenUser", "CPUChildrenSystem", "CPULoad", "Uptime", "ReqPerSec",
            "BytesPerSec", "BytesPerReq", "DurationPerReq"}
# The same with ExtendedStatus Off (Apache's apache-status-noext-auto capture).
AUTO_KEYS_NOEXT = [k for k in AUTO_KEYS_EXT if k not in EXT_ONLY]
NUMERIC_KEYS = {
    "ParentServerConfigGeneration", "ParentServerMPMGeneration", "ServerUptimeSeconds",
    "Load1", "Load5", "Load15", "Total Accesses", "Total kBytes", "Total Duration", "CPUUser",
    "CPUSystem", "CPUChildrenUser", "CPUChildrenSystem", "CPULoad", "Uptime", "ReqPerSec",
    "BytesPerSec", "BytesPerReq", "DurationPerReq", "BusyWorkers", "GracefulWorkers",
    "IdleWorkers", "Processes", "Stopping", "ConnsTotal", "ConnsAsyncWaitIO",
    "ConnsAsyncWriting", "ConnsAsyncKeepAlive", "ConnsAsyncClosing"}
# What Go's strconv.ParseFloat takes (apache_exporter), without Inf/NaN/hex.
GO_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
SCOREBOARD_CHARS = set("_SRWKDCLGI.")
TIME_RE = re.compile(r"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
                     r"\d\d-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4} "
                     r"\d\d:\d\d:\d\d \S+$")
LEGEND = (
    '<p>Scoreboard Key:<br />\n'
    '"<b><code>_</code></b>" Waiting for Connection, \n'
    '"<b><code>S</code></b>" Starting up, \n'
    '"<b><code>R</code></b>" Reading Request,<br />\n'
    '"<b><code>W</code></b>" Sending Reply, \n'
    '"<b><code>K</code></b>" Keepalive (read), \n'
    '"<b><code>D</code></b>" DNS Lookup,<br />\n'
    '"<b><code>C</code></b>" Closing connection, \n'
    '"<b><code>L</code></b>" Logging, \n'
    '"<b><code>G</code></b>" Gracefully finishing,<br /> \n'
    '"<b><code>I</code></b>" Idle cleanup of worker, \n'
    '"<b><code>.</code></b>" Open slot with no current process<br />\n'
    '</p>\n')
DOCTYPE = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" '
           '"http://www.w3.org/TR/html4/strict.dtd">\n')
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]

# ------------------------------------------------------------ what was sent


def method_label(method):
    return method if method in METHODS else "other"


class Tracker:
    """Every request the test sends, as the server must count it:
    req {(method label, "Nxx"): n}, bytes (response bodies), conns."""

    def __init__(self, port):
        self.port = port
        self.req = {}
        self.bytes = 0
        self.conns = 0
        self.lost = []          # requests whose fate is unknown (exactness void)

    def base(self, req, nbytes, conns):
        self.req = dict(req)
        self.bytes = nbytes
        self.conns = conns

    def total(self):
        return sum(self.req.values())

    def snapshot(self):
        return {"req": dict(self.req), "bytes": self.bytes, "conns": self.conns,
                "total": self.total()}

    def conn(self, source=None, rcvbuf=None):
        """A new connection (from address SOURCE; with a small receive
        buffer RCVBUF set before connecting, so the server's writes stall)."""
        if source or rcvbuf:
            c = Conn.__new__(Conn)
            c.port, c.timeout, c.buf, c.eof = self.port, mpmdtest.IO_TIMEOUT, b"", False
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.settimeout(mpmdtest.IO_TIMEOUT)
                if rcvbuf:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                if source:
                    sock.bind((source, 0))
                sock.connect(("127.0.0.1", self.port))
            except OSError:
                sock.close()
                raise
            c.sock = sock
        else:
            c = Conn(self.port)
        self.conns += 1
        return c

    def record(self, method, r):
        key = (method_label(method), "%dxx" % (r.status // 100))
        self.req[key] = self.req.get(key, 0) + 1
        self.bytes += len(r.body)

    def get(self, path, method="GET", headers=None, body=b"", version="HTTP/1.1", source=None):
        """One request on a new connection (Connection: close), recorded."""
        hdrs = list(headers or []) + [("Connection", "close")]
        with self.conn(source) as c:
            c.request(method, path, version, hdrs, body)
            try:
                r = c.read_response(head=(method == "HEAD"))
            except Exception:
                self.lost.append("%s %s" % (method, path))
                raise
        self.record(method, r)
        return r

    def on(self, c, method, path, headers=None, body=b"", version="HTTP/1.1"):
        """One request on the open connection C, recorded."""
        c.request(method, path, version, headers, body)
        try:
            r = c.read_response(head=(method == "HEAD"))
        except Exception:
            self.lost.append("%s %s" % (method, path))
            raise
        self.record(method, r)
        return r

    def fetch(self, path, headers=None):
        """A status/metrics GET: (response, what it must show)."""
        exp = self.snapshot()
        exp["conns"] += 1       # its own connection is counted at accept
        return self.get(path, headers=headers), exp

# ------------------------------------------------------------ parsers


def parse_auto(text):
    """(hostname line, [(key, value)]) the way apache_exporter splits lines
    (SplitN on the first ':', both sides trimmed)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    host = lines[0] if lines else ""
    kv = []
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        kv.append((k.strip(), v.strip() if sep else None))
    return host, kv


def auto_dict(text):
    return dict(parse_auto(text)[1])


LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Raw exposition text -> ({(name, ((label, value), ...)): float}, [errors])."""
    samples, errors = {}, []
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$", line)
        if not m:
            errors.append(line)
            continue
        labels = tuple(sorted(LABEL_RE.findall(m.group(3) or "")))
        try:
            value = float(m.group(4))
        except ValueError:
            errors.append(line)
            continue
        key = (m.group(1), labels)
        if key in samples:
            errors.append("duplicate " + line)
        samples[key] = value
    return samples, errors


def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def metrics_requests(samples):
    """{(method, class): n} of mpmd_http_requests_total, zeros left out."""
    out = {}
    for (name, labels), v in samples.items():
        if name == "mpmd_http_requests_total" and v:
            d = dict(labels)
            out[(d.get("method"), d.get("code"))] = int(v)
    return out


def nonzero(d):
    return {k: v for k, v in d.items() if v}

# ------------------------------------------------------------ exact fetches


def observe(kind, r):
    """What a status answer says about the counters, as a dict comparable
    with Tracker.snapshot() (only the fields that format shows)."""
    text = r.text()
    if kind == "auto":
        d = auto_dict(text)
        return {"total": int(d["Total Accesses"]), "kbytes": int(d["Total kBytes"])}
    if kind == "json":
        j = json.loads(text)
        return {"total": j["totals"]["accesses"], "bytes": j["totals"]["bytes"],
                "conns": j["totals"]["connections_accepted"]}
    if kind == "metrics":
        s, _ = parse_metrics(text)
        return {"req": metrics_requests(s),
                "total": int(sum(metrics_requests(s).values())),
                "bytes": int(metric(s, "mpmd_http_response_body_bytes_total")),
                "conns": int(metric(s, "mpmd_connections_accepted_total")),
                "hist_count": int(metric(s, "mpmd_http_request_duration_seconds_count"))}
    if kind == "html":
        m = re.search(r"<dt>Total accesses: (\d+) - Total Traffic: ", text)
        return {"total": int(m.group(1)) if m else -1}
    raise ValueError(kind)


def expected_view(kind, exp):
    if kind == "auto":
        return {"total": exp["total"], "kbytes": exp["bytes"] // 1024}
    if kind == "json":
        return {"total": exp["total"], "bytes": exp["bytes"], "conns": exp["conns"]}
    if kind == "metrics":
        return {"req": nonzero(exp["req"]), "total": exp["total"], "bytes": exp["bytes"],
                "conns": exp["conns"], "hist_count": exp["total"]}
    if kind == "html":
        return {"total": exp["total"]}
    raise ValueError(kind)


PATHS = {"auto": "/server-status?auto", "json": "/server-status?json",
         "metrics": "/metrics", "html": "/server-status"}


def settled(tr, kind):
    """Fetch KIND until what it shows equals what was sent (bounded; an
    overshoot stops at once).  Returns (response, observed, expected, the
    Tracker's snapshot it was fetched at)."""
    deadline = time.monotonic() + SETTLE
    while True:
        r, exp = tr.fetch(PATHS[kind])
        want = expected_view(kind, exp)
        got = observe(kind, r) if r.status == 200 else {"status": r.status}
        if got == want or time.monotonic() > deadline or r.status != 200:
            return r, got, want, exp
        if got.get("total", 0) > want["total"] or got.get("conns", 0) > want.get("conns", 1e18):
            return r, got, want, exp
        time.sleep(0.02)


def check_exact(t, tr, tag, kinds=("json", "auto", "metrics", "html")):
    """Every KIND shows exactly what the Tracker says; returns the answers."""
    out = {}
    for kind in kinds:
        r, got, want, exp = settled(tr, kind)
        t.eq(got, want, "%s: %s agrees exactly with the requests sent (%d requests, %d body "
             "bytes, %d connections)" % (tag, kind, exp["total"], exp["bytes"], exp["conns"]))
        out[kind] = r
    if tr.lost:
        t.diag("requests with no answer (counts may be off): %r" % tr.lost)
    return out


def sync_base(t, tr, tag):
    """Take the server's current counters as the Tracker's start: two
    /metrics fetches in a row that differ by exactly the first one."""
    deadline = time.monotonic() + SETTLE
    time.sleep(0.2)
    prev = None
    while time.monotonic() < deadline:
        with Conn(tr.port) as c:
            c.request("GET", "/metrics", headers=[("Connection", "close")])
            r = c.read_response()
        s, _ = parse_metrics(r.text())
        cur = (metrics_requests(s), int(metric(s, "mpmd_http_response_body_bytes_total")),
               int(metric(s, "mpmd_connections_accepted_total")))
        if prev is not None:
            req = dict(prev[0])
            req[("GET", "2xx")] = req.get(("GET", "2xx"), 0) + 1
            if cur == (req, prev[1] + prev[3], prev[2] + 1):
                tr.base(cur[0], cur[1], cur[2])
                tr.record("GET", r)
                return t.ok(True, "%s: counters at rest before the load (%d requests)"
                            % (tag, tr.total()))
        prev = cur + (len(r.body),)
        time.sleep(0.05)
    tr.base(prev[0], prev[1] + prev[3], prev[2])
    return t.ok(False, "%s: counters at rest before the load" % tag, diag=repr(prev))

# ------------------------------------------------------------ the load


def busy_children(j):
    """Pids of the children of ?json J that have answered a request."""
    return [c["pid"] for c in j["children"] if c["accesses"] > 0]


def spread_load(tr, check, per_round=8, rounds=4):
    """Keep-alive connections opened one after another and held, one GET
    each, until ?json shows two children answered (at most ROUNDS rounds).
    Which child accepts is the kernel's race; the balance (balance.h) makes
    a child holding 4 more connections than its sibling leave the next one
    to it, so 8 held connections reach both children unless the sibling
    misses its 2 ms.  Fewer than 2 x THREADS, so MPM worker's threads
    (one per held connection) never run out."""
    for _ in range(rounds):
        conns = []
        try:
            for _ in range(per_round):
                conns.append(tr.conn())
                check(tr.on(conns[-1], "GET", "/a.txt"))
        finally:
            for c in conns:
                c.close()
        r, _ = tr.fetch("/server-status?json")
        if len(busy_children(json.loads(r.text()))) >= 2:
            return


def send_load(t, s, tr, tag, scale=1):
    """Known requests on several connections; checks each answer so the
    Tracker's idea of the bytes is right.  Returns how many were sent."""
    before = tr.total()
    a_txt, bin_dat = s.file_bytes("a.txt"), s.file_bytes("bin.dat")
    bad = []

    def want(r, status, body=None, what=""):
        if r.status != status or (body is not None and r.body != body):
            bad.append("%s: %s (%d bytes)" % (what, r.status_line, len(r.body)))

    # Three keep-alive connections open at once, requests round robin.
    conns = [tr.conn() for _ in range(3)]
    try:
        for i in range(4 * scale):
            c = conns[i % 3]
            want(tr.on(c, "GET", "/bin.dat"), 200, bin_dat, "keep-alive GET /bin.dat")
            want(tr.on(c, "HEAD", "/a.txt"), 200, b"", "keep-alive HEAD /a.txt")
            want(tr.on(c, "GET", "/missing-%d.txt" % i), 404, None, "keep-alive GET 404")
        # Pipelined on one connection: GET, HEAD, GET 404, POST 405, GET.
        c = conns[0]
        reqs = [("GET", "/a.txt", b""), ("HEAD", "/bin.dat", b""), ("GET", "/nope/x", b""),
                ("POST", "/a.txt", b"k=v"), ("GET", "/a.txt", b"")]
        c.send(b"".join(build_request(m, p, headers=[("Content-Length", str(len(b)))]
                                      if m == "POST" else None, body=b)
                        for m, p, b in reqs))
        got = c.read_responses(len(reqs), heads=[m == "HEAD" for m, _, _ in reqs])
        for (m, p, _), r in zip(reqs, got):
            tr.record(m, r)
        want(got[0], 200, a_txt, "pipelined GET")
        want(got[1], 200, b"", "pipelined HEAD")
        want(got[2], 404, None, "pipelined 404")
        want(got[3], 405, None, "pipelined POST")
        want(got[4], 200, a_txt, "pipelined GET")
    finally:
        for c in conns:
            c.close()
    # New connections, Connection: close.
    for i in range(3 * scale):
        want(tr.get("/a.txt"), 200, a_txt, "GET /a.txt")
        want(tr.get("/missing-close-%d" % i), 404, None, "GET 404")
        want(tr.get("/a.txt", method="POST", body=b"x=1",
                    headers=[("Content-Length", "3")]), 405, None, "POST /a.txt")
    want(tr.get("/a.txt", method="HEAD"), 200, b"", "HEAD")
    want(tr.get("/big.bin"), 200, s.file_bytes("big.bin"), "GET /big.bin (3 MiB)")
    spread_load(tr, lambda r: want(r, 200, a_txt, "spread GET /a.txt"))
    # HTTP/1.0, no Host, no keep-alive.
    with tr.conn() as c:
        want(tr.on(c, "GET", "/bin.dat", version="HTTP/1.0"), 200, bin_dat, "HTTP/1.0 GET")
    # An OPTIONS and a DELETE (method labels other than GET/HEAD/POST).
    r = tr.get("/a.txt", method="OPTIONS")
    if r.status >= 500 or r.status < 200:
        bad.append("OPTIONS: " + r.status_line)
    tr.get("/a.txt", method="DELETE")
    n = tr.total() - before
    t.ok(not bad, "%s: the load's %d answers have the expected status and body" % (tag, n),
         diag="\n".join(bad))
    return n

# ------------------------------------------------------------ ?auto


def show_time(t):
    """mod_status's show_time: ' 1 day 2 hours 3 minutes 4 seconds'."""
    out = ""
    for n, unit in ((t // 86400, "day"), (t // 3600 % 24, "hour"), (t // 60 % 60, "minute"),
                    (t % 60, "second")):
        if n:
            out += " %d %s%s" % (n, unit, "" if n == 1 else "s")
    return out


def check_auto(t, s, r, tag, extended):
    text = r.text()
    t.eq(r.status, 200, "%s: ?auto answers 200" % tag)
    t.eq(r.header("Content-Type"), "text/plain; charset=ISO-8859-1",
         "%s: ?auto Content-Type text/plain; charset=ISO-8859-1" % tag)
    t.ok(text.endswith("\n") and "\r" not in text and "\n\n" not in text,
         "%s: ?auto lines end in LF, no CR, no blank line" % tag, diag=repr(text[-200:]))
    host, kv = parse_auto(text)
    t.eq(host, "127.0.0.1", "%s: ?auto first line is the host name" % tag)
    keys = [k for k, _ in kv]
    # (Apache prints a bare "ServerUptime:" at uptime 0.)
    badlines = [line for line in text.split("\n")[1:-1]
                if not re.match(r"^[^:]+: \S", line) and line != "ServerUptime:"]
    t.ok(not badlines, "%s: every ?auto line after the first is 'Key: value'" % tag,
         diag="\n".join(badlines))
    want = AUTO_KEYS_EXT if extended else AUTO_KEYS_NOEXT
    t.eq([k for k in keys if k != "CPULoad"], want,
         "%s: ?auto has Apache 2.4.71's keys in Apache's order (ExtendedStatus %s)"
         % (tag, "On" if extended else "Off"))
    if "CPULoad" in keys:
        i = keys.index("CPULoad")
        t.ok(extended and keys[i - 1] == "CPUChildrenSystem",
             "%s: CPULoad comes right after CPUChildrenSystem" % tag)
    t.eq(len(keys), len(set(keys)), "%s: every ?auto key once" % tag)
    d = dict(kv)
    if not extended:
        t.ok(not (EXT_ONLY & set(keys)), "%s: no ExtendedStatus lines with it Off" % tag,
             diag=sorted(EXT_ONLY & set(keys)))
    # apache_exporter: ServerVersion Name/MAJ.MIN.PATCH -> float "MAJ.MINPATCH".
    v = d.get("ServerVersion") or ""
    t.match(r"^mpmd/\d+\.\d+\.\d+( |$)", v, "%s: ServerVersion is mpmd/N.N.N" % tag)
    ok = False
    try:
        tmp = v.split("/")[1].split(" ")[0]
        parts = tmp.split(".")
        f = "%s.%s%s" % (parts[0], parts[1].rjust(2, "0"), parts[2].rjust(3, "0"))
        ok = len(parts) >= 3 and all(p.isdigit() for p in parts[:3]) and GO_FLOAT.match(f)
    except IndexError:
        pass
    t.ok(ok, "%s: apache_exporter's ServerVersion parse works (%r)" % (tag, v))
    t.eq(d.get("ServerMPM"), s.mpm, "%s: ServerMPM" % tag)
    bad = ["%s: %r" % (k, d[k]) for k in keys if k in NUMERIC_KEYS
           and not GO_FLOAT.match(d[k] or "")]
    t.ok(not bad, "%s: every numeric ?auto value parses as a Go float (%d keys)"
         % (tag, len([k for k in keys if k in NUMERIC_KEYS])), diag="\n".join(bad))
    t.ok(TIME_RE.match(d.get("CurrentTime") or "") and TIME_RE.match(d.get("RestartTime") or ""),
         "%s: CurrentTime/RestartTime in Apache's format" % tag,
         diag="%r %r" % (d.get("CurrentTime"), d.get("RestartTime")))
    sb = d.get("Scoreboard") or ""
    t.ok(sb and set(sb) <= SCOREBOARD_CHARS and " " not in text.split("Scoreboard:")[-1][1:],
         "%s: Scoreboard only has _SRWKDCLGI. and no spaces" % tag, diag=repr(sb))
    t.eq(len(sb), SERVER_LIMIT * THREADS, "%s: Scoreboard length ServerLimit x "
         "ThreadsPerChild" % tag)
    try:
        t.eq(sb.count("_"), int(d["IdleWorkers"]), "%s: '_' count = IdleWorkers" % tag)
        t.eq(sum(sb.count(ch) for ch in "RWKDCL"), int(d["BusyWorkers"]),
             "%s: busy characters = BusyWorkers" % tag)
        t.eq(sb.count("G"), int(d["GracefulWorkers"]), "%s: 'G' count = GracefulWorkers" % tag)
        up = int(d["ServerUptimeSeconds"])
        t.eq(d["ServerUptime"], show_time(up).strip(),
             "%s: ServerUptime is mod_status's show_time of ServerUptimeSeconds (%d)" % (tag, up))
        if extended:
            t.eq(int(d["Uptime"]), up, "%s: Uptime = ServerUptimeSeconds" % tag)
    except (KeyError, ValueError) as e:
        t.ok(False, "%s: ?auto worker counts readable" % tag, diag=repr(e))
    # collectd: Scoreboard and BusyWorkers/IdleWorkers lines split on whitespace.
    fields = {line.split()[0]: line.split() for line in text.split("\n")[1:] if line.split()}
    t.ok(len(fields.get("Scoreboard:", [])) == 2 and len(fields.get("BusyWorkers:", [])) == 2
         and len(fields.get("IdleWorkers:", [])) == 2,
         "%s: collectd sees 2 fields in Scoreboard/BusyWorkers/IdleWorkers" % tag)
    if extended:
        t.ok(len(fields.get("Total", [])) == 3, "%s: collectd: Total lines have 3 fields" % tag)

# ------------------------------------------------------------ /metrics


PROM_PARSE = r'''
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": fam.name, "type": fam.type, "doc": fam.documentation,
                "samples": [[s.name, s.labels, s.value] for s in fam.samples]})
print(json.dumps(out))
'''


def sys_python_has_prom():
    if not os.access(SYS_PYTHON, os.X_OK):
        return "%s not found" % SYS_PYTHON
    p = subprocess.run([SYS_PYTHON, "-c", "import prometheus_client.parser"],
                       capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    if p.returncode != 0:
        return "%s cannot import prometheus_client: %s" % (
            SYS_PYTHON, p.stderr.decode("utf-8", "replace").strip().splitlines()[-1:])
    return None


def check_metrics_format(t, r, tag):
    text = r.text()
    t.eq(r.header("Content-Type"), METRICS_TYPE, "%s: /metrics Content-Type" % tag)
    t.ok(text.endswith("\n"), "%s: /metrics ends in a newline" % tag)
    samples, errors = parse_metrics(text)
    t.ok(not errors and samples, "%s: every /metrics sample line parses (%d samples)"
         % (tag, len(samples)), diag="\n".join(errors[:10]))
    # HELP and TYPE for every family, before its samples, families contiguous.
    helps, types, order, problems = {}, {}, [], []
    for line in text.split("\n"):
        m = re.match(r"^# (HELP|TYPE) (\S+) ?(.*)$", line)
        if m:
            table = helps if m.group(1) == "HELP" else types
            if m.group(2) in table:
                problems.append("second %s for %s" % (m.group(1), m.group(2)))
            table[m.group(2)] = m.group(3)
            if m.group(1) == "TYPE" and m.group(2) not in helps:
                problems.append("TYPE before HELP: " + m.group(2))
            continue
        if not line or line.startswith("#"):
            continue
        name = line.split("{")[0].split(" ")[0]
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                fam = name[:-len(suffix)]
        if fam not in types:
            problems.append("sample without TYPE: " + line)
        if order and order[-1] != fam and fam in order:
            problems.append("family %s not contiguous" % fam)
        if not order or order[-1] != fam:
            order.append(fam)
    for fam in types:
        if not helps.get(fam, "").strip():
            problems.append("no HELP text: " + fam)
        if types[fam] == "counter" and not fam.endswith("_total"):
            problems.append("counter without _total: " + fam)
        if types[fam] != "counter" and fam.endswith("_total"):
            problems.append("non-counter with _total: " + fam)
        if types[fam] not in ("counter", "gauge", "histogram", "summary", "untyped"):
            problems.append("bad TYPE %s %s" % (fam, types[fam]))
    t.ok(not problems and len(types) >= 10, "%s: %d families, each with HELP and TYPE "
         "first, contiguous; counters end in _total" % (tag, len(types)),
         diag="\n".join(problems[:20]))
    want_fams = {"mpmd_http_requests_total": "counter",
                 "mpmd_http_response_body_bytes_total": "counter",
                 "mpmd_http_request_duration_seconds": "histogram",
                 "mpmd_connections_accepted_total": "counter",
                 "mpmd_restarts_total": "counter", "mpmd_child_crashes_total": "counter"}
    t.eq({k: types.get(k) for k in want_fams}, want_fams, "%s: the counted families and "
         "their types" % tag)
    # Histogram: cumulative buckets, le ascending, +Inf = _count = requests total.
    buckets = sorted(((float(dict(lab)["le"]), v) for (n, lab), v in samples.items()
                      if n == "mpmd_http_request_duration_seconds_bucket"))
    counts = [v for _, v in buckets]
    total = sum(metrics_requests(samples).values())
    hcount = metric(samples, "mpmd_http_request_duration_seconds_count")
    t.ok(buckets and buckets[-1][0] == float("inf") and counts == sorted(counts)
         and counts[-1] == hcount,
         "%s: histogram buckets cumulative, non-decreasing, +Inf = _count" % tag,
         diag=repr(buckets))
    t.eq(hcount, total, "%s: histogram _count = sum of mpmd_http_requests_total" % tag)
    hsum = metric(samples, "mpmd_http_request_duration_seconds_sum")
    t.ok(hsum is not None and hsum >= 0, "%s: histogram _sum present and >= 0" % tag)
    # The real parsers.
    why = sys_python_has_prom()
    if why:
        t.skip("%s: prometheus_client parses /metrics" % tag, why)
    else:
        p = subprocess.run([SYS_PYTHON, "-c", PROM_PARSE], input=r.body, capture_output=True,
                           timeout=60, env={"PATH": "/usr/bin:/bin"})
        fams = []
        if p.returncode == 0:
            fams = json.loads(p.stdout.decode())
        t.ok(p.returncode == 0 and fams, "%s: prometheus_client's parser reads /metrics "
             "(%d families)" % (tag, len(fams)), diag=p.stderr.decode("utf-8", "replace")[-2000:])
        theirs = {(n, tuple(sorted(lab.items()))): v for f in fams for n, lab, v in f["samples"]}
        t.eq(len(theirs), len(samples), "%s: prometheus_client sees every sample" % tag)
        diff = [k for k in samples if theirs.get(k) != samples[k]]
        t.ok(not diff, "%s: prometheus_client's values equal the text's" % tag, diag=diff[:10])
        t.ok(fams and all(f["doc"] for f in fams), "%s: prometheus_client: every family "
             "documented" % tag)
    if shutil.which("promtool") is None:
        t.skip("%s: promtool check metrics" % tag, "promtool not installed (Debian prometheus)")
    else:
        p = subprocess.run(["promtool", "check", "metrics"], input=r.body, capture_output=True,
                           timeout=60)
        t.ok(p.returncode == 0 and not p.stderr.strip() and not p.stdout.strip(),
             "%s: promtool check metrics: no problems (exit %d)" % (tag, p.returncode),
             diag=(p.stdout + p.stderr).decode("utf-8", "replace")[-3000:])

# ------------------------------------------------------------ ?json


def check_json(t, s, r, tag, extended, at_rest_exact):
    t.eq(r.header("Content-Type"), "application/json", "%s: ?json Content-Type" % tag)
    try:
        j = json.loads(r.text())
    except ValueError as e:
        t.ok(False, "%s: ?json is valid JSON" % tag, diag=str(e))
        return None
    t.ok(True, "%s: ?json is valid JSON" % tag)
    problems = []

    def need(obj, path, typ):
        cur = obj
        for part in path.split("."):
            if not isinstance(cur, dict) or part not in cur:
                problems.append("missing " + path)
                return None
            cur = cur[part]
        if not isinstance(cur, typ) or isinstance(cur, bool) and typ is int:
            problems.append("%s is %r" % (path, cur))
            return None
        return cur

    for path, typ in (("server.version", str), ("server.mpm", str), ("totals.accesses", int),
                      ("totals.bytes", int), ("totals.connections_accepted", int),
                      ("workers.busy", int), ("workers.idle", int), ("workers.graceful", int),
                      ("processes.total", int), ("processes.stopping", int),
                      ("connections.total", int), ("scoreboard", str), ("children", list),
                      ("server.config_generation", int), ("server.restarts", int),
                      ("server.child_crashes", int)):
        need(j, path, typ)
    for i, ch in enumerate(j.get("children") or []):
        for path, typ in (("pid", int), ("generation", int), ("state", str), ("accesses", int),
                          ("threads.busy", int), ("threads.idle", int),
                          ("threads.graceful", int), ("connections.total", int)):
            need(ch, path, typ)
        if ch.get("state") not in ("starting", "ready", "stopping"):
            problems.append("children[%d].state %r" % (i, ch.get("state")))
        if extended != ("workers" in ch):
            problems.append("children[%d] workers list present=%s with ExtendedStatus %s"
                            % (i, "workers" in ch, extended))
    t.ok(not problems, "%s: ?json has the documented keys with the right types" % tag,
         diag="\n".join(problems))
    if problems:
        return j
    t.match(r"^\d+\.\d+\.\d+$", j["server"]["version"], "%s: server.version N.N.N" % tag)
    t.eq(j["server"]["mpm"], s.mpm, "%s: server.mpm" % tag)
    t.eq(j["server"]["extended_status"], extended, "%s: server.extended_status" % tag)
    kids = j["children"]
    t.eq(j["processes"]["total"], len(kids), "%s: processes.total = len(children)" % tag)
    sb = j["scoreboard"]
    t.ok(set(sb) <= SCOREBOARD_CHARS and len(sb) == SERVER_LIMIT * THREADS,
         "%s: ?json scoreboard: %d slots of _SRWKDCLGI." % (tag, SERVER_LIMIT * THREADS),
         diag=repr(sb))
    t.eq((sum(c["threads"]["idle"] for c in kids), sum(c["threads"]["busy"] for c in kids),
          sb.count("_")),
         (j["workers"]["idle"], j["workers"]["busy"], j["workers"]["idle"]),
         "%s: children's idle/busy threads add up to workers; '_' = idle" % tag)
    t.eq(sum(c["connections"]["total"] for c in kids), j["connections"]["total"],
         "%s: children's connections add up to connections.total" % tag)
    acc = sum(c["accesses"] for c in kids)
    if at_rest_exact:
        t.eq(acc, j["totals"]["accesses"], "%s: children[].accesses add up to "
             "totals.accesses (no child has exited)" % tag)
    else:
        t.ok(0 <= acc <= j["totals"]["accesses"], "%s: children[].accesses (%d) <= "
             "totals.accesses (%d): exited children are in the totals only"
             % (tag, acc, j["totals"]["accesses"]))
    return j

# ------------------------------------------------------------ HTML


def check_html(t, s, tr, tag, extended):
    """The page (fetched while PROBE's keep-alive connection is still open)."""
    r, _ = tr.fetch("/server-status")
    rj, _ = tr.fetch("/server-status?json")
    text = r.text()
    t.eq(r.header("Content-Type"), "text/html; charset=ISO-8859-1",
         "%s: HTML Content-Type" % tag)
    t.ok(text.startswith(DOCTYPE), "%s: HTML 4.01 doctype first" % tag, diag=text[:200])
    t.match(r"<h1>mpmd Server Status for 127\.0\.0\.1( \(via 127\.0\.0\.1\))?</h1>", text,
            "%s: <h1>mpmd Server Status for 127.0.0.1" % tag)
    t.ok(text.endswith("</body></html>\n"), "%s: page ends with </body></html>" % tag)
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>(?:no|yes)", text)
    pids = sorted(int(p) for _, p in rows)
    jpids = sorted(c["pid"] for c in json.loads(rj.text())["children"])
    t.eq(pids, jpids, "%s: the process table has one row per live child (pids of ?json)" % tag)
    t.eq(len(pids), START_SERVERS, "%s: %d children listed" % (tag, START_SERVERS))
    m = re.search(r"<tr><td>Sum</td><td>(\d+)</td>", text)
    t.ok(m and int(m.group(1)) == len(rows), "%s: Sum row counts the processes" % tag)
    m = re.search(r"<pre>(.*?)</pre>", text, re.S)
    grid = m.group(1) if m else ""
    lines = grid.split("\n")
    flat = grid.replace("\n", "")
    n = SERVER_LIMIT * THREADS
    want_lines = [64] * (n // 64) + ([n % 64] if n % 64 else [0])
    t.eq([len(x) for x in lines], want_lines,
         "%s: <pre> scoreboard of %d slots wrapped after every 64th" % (tag, n))
    t.ok(set(flat) <= SCOREBOARD_CHARS, "%s: <pre> grid characters" % tag, diag=repr(flat))
    t.contains(LEGEND, text, "%s: Scoreboard Key legend verbatim" % tag)
    if extended:
        t.contains('<table border="0"><tr><th>Srv</th><th>PID</th><th>Acc</th><th>M</th>',
                   text, "%s: ExtendedStatus worker table" % tag)
        t.contains("<tr><th>Srv</th><td>Child Server number - generation</td></tr>", text,
                   "%s: worker table key" % tag)
    else:
        t.contains("PID Key: <br />\n<pre>\n", text, "%s: PID Key with ExtendedStatus Off" % tag)
        t.ok('<table border="0">' not in text and "ExtendedStatus On</code> directive" in text,
             "%s: no worker table, the ExtendedStatus hint instead" % tag)
    return text


def check_probe_shown(t, tr, tag, plain, escaped):
    """The page and ?json show request line PLAIN (HTML-escaped as ESCAPED
    in the page).  Fetched while the probe's connection is still open.  The
    status pages never overwrite the probe's record: MPM event answers them
    on the listener thread (a `fast` handler), MPM worker on other threads
    (the probe's thread is held by its keep-alive connection)."""
    r, _ = tr.fetch("/server-status")
    rj, _ = tr.fetch("/server-status?json")
    text = r.text()
    reqs = [w.get("request") for c in json.loads(rj.text())["children"]
            for w in c.get("workers", [])]
    t.contains("<td nowrap>%s</td>" % escaped, text,
               "%s: worker table shows the test's request line %r, HTML-escaped"
               % (tag, plain))
    t.ok(plain in reqs, "%s: ?json workers[].request has %r as sent" % (tag, plain),
         diag=reqs)
    return text

# ------------------------------------------------------------ the sections


def wait_uptime(tr):
    """Until ServerUptimeSeconds >= 1, so ReqPerSec/BytesPerSec are printed
    (Apache leaves them out at uptime 0); bounded."""
    wait_until(lambda: auto_dict(tr.get("/server-status?auto").text())
               .get("ServerUptimeSeconds", "0") not in ("0", ""), 3.0, 0.3)


def section_load_and_formats(t, s, tr, tag):
    sync_base(t, tr, tag)
    n = send_load(t, s, tr, tag)
    t.diag("%s: load of %d requests, expected totals %r" % (tag, n, sorted(tr.req.items())))
    wait_uptime(tr)
    out = check_exact(t, tr, tag)
    check_auto(t, s, out["auto"], tag, True)
    check_metrics_format(t, out["metrics"], tag)
    j = check_json(t, s, out["json"], tag, True, at_rest_exact=True)
    if j:
        busy = busy_children(j)
        t.ok(len(busy) >= 2, "%s: several children answered (%d with accesses > 0)"
             % (tag, len(busy)), diag=[(c["pid"], c["accesses"]) for c in j["children"]])
    # Host: as the client wrote it -> lower case, no port.
    r = tr.get("/server-status?auto", headers=[("Host", "Example.COM:81")])
    t.eq(r.text().split("\n", 1)[0], "example.com",
         "%s: ?auto first line is the Host name, lower case, no port" % tag)


def section_html(t, s, tr, tag):
    token = uuid.uuid4().hex[:12]
    plain_path = "/status-probe-%s" % token
    raw_path = "/status-probe-%s/x<y>&z" % token
    # Each probe's connection stays open while the page is fetched, so the
    # thread that answered it (MPM worker: held in keep-alive) keeps the
    # line.  One probe at a time: under MPM event both may be answered by
    # the same handler thread, one after the other, whose record keeps the
    # last (seen under ASan in CI).
    with tr.conn() as c:
        r = tr.on(c, "GET", plain_path)
        t.eq(r.status, 404, "%s: probe request %s -> 404" % (tag, plain_path))
        check_html(t, s, tr, tag, True)
        plain_req = "GET %s HTTP/1.1" % plain_path
        check_probe_shown(t, tr, tag, plain_req, plain_req)
    with tr.conn() as c2:
        r = tr.on(c2, "GET", raw_path)
        t.ok(r.status in (400, 404), "%s: a request with a raw '<' is answered (%s)"
             % (tag, r.status_line))
        lt_req = "GET %s HTTP/1.1" % raw_path
        escaped = lt_req.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = check_probe_shown(t, tr, tag, lt_req, escaped)
        t.ok("x<y>&z" not in text, "%s: the raw '<' request never appears unescaped" % tag)
    # Refresh headers.
    r = tr.get("/server-status?refresh=5")
    t.eq((r.status, r.header("Refresh")), (200, "5"), "%s: ?refresh=5 -> Refresh: 5" % tag)
    t.ok("http-equiv" not in r.text().lower(), "%s: no <meta http-equiv> in the page" % tag)
    r = tr.get("/server-status?refresh")
    t.eq(r.header("Refresh"), "10", "%s: ?refresh alone -> Refresh: 10" % tag)
    r = tr.get("/server-status?refresh=0")
    t.eq(r.header("Refresh"), "10", "%s: ?refresh=0 -> Refresh: 10" % tag)
    r = tr.get("/server-status?auto&refresh=3")
    t.eq((r.header("Content-Type"), r.header("Refresh")),
         ("text/plain; charset=ISO-8859-1", "3"), "%s: ?auto&refresh=3: text + Refresh: 3" % tag)
    r = tr.get("/server-status?auto")
    t.eq(r.header("Refresh"), None, "%s: no Refresh header unless asked" % tag)
    r = tr.get("/server-status?AUTO")
    t.eq(r.header("Content-Type"), "text/html; charset=ISO-8859-1",
         "%s: ?AUTO (case differs) is the HTML page, as in Apache" % tag)
    # ?notable: Apache replaces the ExtendedStatus table by "Server Details".
    r = tr.get("/server-status?notable")
    text = r.text()
    t.ok(r.status == 200 and "<h2>Server Details</h2>" in text
         and '<table border="0">' not in text,
         "%s: ?notable gives Apache's Server Details list instead of the worker table" % tag,
         diag="Server Details present: %s, worker table present: %s"
         % ("<h2>Server Details</h2>" in text, '<table border="0">' in text))


def section_access(t, s, tr, tag):
    r = tr.get("/server-status?auto")
    t.eq(r.status, 200, "%s: 127.0.0.1 may see /server-status (Require ip 127.0.0.1 ::1)" % tag)
    try:
        r = tr.get("/server-status?auto", source="127.0.0.2")
        t.eq(r.status, 403, "%s: 127.0.0.2 gets 403 from Require ip 127.0.0.1 ::1" % tag)
    except OSError as e:
        t.skip("%s: 403 for another client address" % tag, "cannot bind 127.0.0.2: %s" % e)
    r = tr.get("/status-denied")
    t.eq(r.status, 403, "%s: Require all denied -> 403" % tag)
    t.ok("Scoreboard" not in r.text(), "%s: the 403 shows no status" % tag)
    r = tr.get("/status-otherip?auto")
    t.eq(r.status, 403, "%s: Require ip 192.0.2.1 -> 403" % tag)
    for path in ("/server-status", "/metrics"):
        r = tr.get(path, method="POST", body=b"a=b", headers=[("Content-Length", "3")])
        t.eq((r.status, r.header("Allow")), (405, "GET, HEAD"),
             "%s: POST %s -> 405 with Allow: GET, HEAD" % (tag, path))
    for path, ctype in (("/server-status?auto", "text/plain; charset=ISO-8859-1"),
                        ("/server-status", "text/html; charset=ISO-8859-1"),
                        ("/metrics", METRICS_TYPE)):
        with tr.conn() as c:
            r = tr.on(c, "HEAD", path)
            r2 = tr.on(c, "GET", "/a.txt", headers=[("Connection", "close")])
            t.ok(r.status == 200 and r.header("Content-Type") == ctype
                 and int(r.header("Content-Length") or 0) > 0
                 and r2.status == 200 and r2.body == s.file_bytes("a.txt"),
                 "%s: HEAD %s: 200, headers, no body (the next answer follows directly)"
                 % (tag, path), diag="%r then %r" % (r, r2))


def json_of(tr):
    return json.loads(tr.get("/server-status?json").text())


def settle_children(tr, generation, timeout=RESTART_BOUND):
    """Wait until exactly StartServers children, all of GENERATION and ready."""
    def ok():
        j = json_of(tr)
        kids = j["children"]
        return (len(kids) == START_SERVERS and all(c["generation"] == generation
                                                   and c["state"] == "ready" for c in kids)
                and j["processes"]["stopping"] == 0) and j
    return wait_until(ok, timeout, 0.1)


def check_old_generation(t, s, tr, tag):
    """While an old-generation child finishes the download: ?auto, ?json
    and the HTML page show it stopping; the Scoreboard keeps its size."""
    def seen():
        # ?json first: once it shows the new generation complete and one old
        # child left (the others may take a moment to exit on a busy
        # machine), nothing changes until the download is read.
        kids = json_of(tr)["children"]
        old = sum(c["old_generation"] for c in kids)
        if (old, len(kids)) != (1, START_SERVERS + 1):
            return None
        a = auto_dict(tr.get("/server-status?auto").text())
        return a.get("Stopping") == "1" and a
    a = wait_until(seen, RESTART_BOUND, 0.1)
    t.ok(a, "%s: ?auto Stopping: 1 while the old child finishes" % tag)
    if not a:
        return
    t.eq(a.get("Processes"), str(START_SERVERS + 1), "%s: ?auto Processes counts the "
         "stopping child too" % tag)
    sb = a.get("Scoreboard", "")
    t.eq(len(sb), SERVER_LIMIT * THREADS, "%s: Scoreboard length stays ServerLimit x "
         "ThreadsPerChild during a graceful restart (got %r)" % (tag, sb))
    t.eq(sb.count("G"), int(a.get("GracefulWorkers", -1)), "%s: 'G' count = GracefulWorkers "
         "during the restart" % tag)
    if s.mpm == "worker":
        t.ok(int(a.get("GracefulWorkers", 0)) >= 1, "%s: the old child's thread still "
             "sending is a GracefulWorker (G)" % tag, diag=repr(a))
    j = json_of(tr)
    old = [c for c in j["children"] if c["state"] == "stopping"]
    t.ok(len(old) == 1 and old[0]["old_generation"] is True,
         "%s: ?json lists the stopping child with old_generation true" % tag,
         diag=[(c["pid"], c["generation"], c["state"]) for c in j["children"]])
    html = tr.get("/server-status").text()
    t.ok(old and re.search(r"<tr><td>\d+</td><td>%d</td><td>yes \(old gen\)</td>"
                           % old[0]["pid"], html),
         "%s: the HTML process table marks it 'yes (old gen)'" % tag)


def section_restart(t, s, tr, tag):
    r = settled(tr, "metrics")[0]
    before, _ = parse_metrics(r.text())
    a0 = auto_dict(tr.get("/server-status?auto").text())
    gen0 = int(a0["ParentServerConfigGeneration"])
    # A download the client reads only after the restart: its old-generation
    # child stays, stopping, until it is done.
    huge = os.urandom(64 * 1024) * (HUGE_SIZE // (64 * 1024))
    with open(os.path.join(s.docroot, "huge.bin"), "wb") as f:
        f.write(huge)
    slow = tr.conn(rcvbuf=4096)
    try:
        slow.request("GET", "/huge.bin", headers=[("Connection", "close")])
        slow.sock.recv(1, socket.MSG_PEEK)     # the answer has begun
        os.kill(s.pid, signal.SIGUSR1)
        newgen = wait_until(lambda: int(auto_dict(tr.get("/server-status?auto").text())
                                        ["ParentServerConfigGeneration"]) == gen0 + 1,
                            RESTART_BOUND, 0.1)
        t.ok(newgen, "%s: after USR1 ParentServerConfigGeneration %d -> %d"
             % (tag, gen0, gen0 + 1))
        check_old_generation(t, s, tr, tag)
        r = slow.read_response()
        t.ok(r.status == 200 and r.body == huge, "%s: the download begun before USR1 "
             "completes (%d of %d bytes)" % (tag, len(r.body), HUGE_SIZE))
        tr.record("GET", r)
    except Exception:
        tr.lost.append("GET /huge.bin")
        raise
    finally:
        slow.close()
    j = settle_children(tr, gen0 + 1)
    s.children()
    t.ok(j, "%s: %d children of the new generation, old ones gone" % (tag, START_SERVERS))
    r = settled(tr, "metrics")[0]
    after, _ = parse_metrics(r.text())
    decreased = ["%s%r: %s -> %s" % (n, lab, v, after.get((n, lab))) for (n, lab), v
                 in before.items() if (n.endswith("_total") or n.endswith("_count")
                                       or n.endswith("_bucket") or n.endswith("_sum"))
                 and (after.get((n, lab)) is None or after[(n, lab)] < v)]
    t.ok(not decreased, "%s: no counter decreased over the graceful restart" % tag,
         diag="\n".join(decreased))
    t.eq(metric(after, "mpmd_restarts_total"), metric(before, "mpmd_restarts_total") + 1,
         "%s: mpmd_restarts_total + 1" % tag)
    t.eq(metric(after, "mpmd_config_generation"), gen0 + 1, "%s: mpmd_config_generation" % tag)
    t.eq(metric(after, "mpmd_children_started_total"),
         metric(before, "mpmd_children_started_total") + START_SERVERS,
         "%s: mpmd_children_started_total + %d" % (tag, START_SERVERS))
    t.eq(metric(after, "mpmd_child_crashes_total"), metric(before, "mpmd_child_crashes_total"),
         "%s: a graceful restart is no crash" % tag)
    # Nothing was lost: the counts still equal everything ever sent.
    check_exact(t, tr, tag + " after USR1", kinds=("metrics", "json"))
    n = send_load(t, s, tr, tag + " after USR1")
    wait_uptime(tr)
    out = check_exact(t, tr, tag + " after USR1 + %d requests" % n)
    a = auto_dict(out["auto"].text())
    t.eq((a.get("ParentServerConfigGeneration"), a.get("ParentServerMPMGeneration")),
         (str(gen0 + 1), str(gen0)), "%s: ?auto generations after USR1" % tag)
    j = check_json(t, s, out["json"], tag + " after USR1", True, at_rest_exact=False)
    if j:
        t.eq((j["server"]["config_generation"], j["server"]["restarts"]),
             (gen0 + 1, int(metric(before, "mpmd_restarts_total")) + 1),
             "%s: ?json config_generation and restarts" % tag)
    check_auto(t, s, out["auto"], tag + " after USR1", True)

    # A child killed with SIGKILL.
    r = settled(tr, "metrics")[0]
    before, _ = parse_metrics(r.text())
    kids = json_of(tr)["children"]
    victim = kids[0]["pid"]
    t.ok(victim in s.children(), "%s: ?json children[0].pid %d is a child of the supervisor"
         % (tag, victim))
    # A child counts a request just after sending its answer: if the victim
    # served that last ?json, let it count it before it dies (nothing else is
    # sent meanwhile), or the totals lack one request (seen in CI).
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)

    def respawned():
        j = json_of(tr)
        pids = [c["pid"] for c in j["children"]]
        return (victim not in pids and len(pids) == START_SERVERS
                and all(c["state"] == "ready" for c in j["children"])) and j
    j = wait_until(respawned, RESTART_BOUND, 0.1)
    s.children()
    t.ok(j, "%s: the SIGKILLed child %d is replaced (%d children again)"
         % (tag, victim, START_SERVERS))
    r = settled(tr, "metrics")[0]
    after, _ = parse_metrics(r.text())
    t.eq(metric(after, "mpmd_child_crashes_total"), metric(before, "mpmd_child_crashes_total") + 1,
         "%s: mpmd_child_crashes_total + 1 after SIGKILL" % tag)
    decreased = ["%s%r: %s -> %s" % (n, lab, v, after.get((n, lab))) for (n, lab), v
                 in before.items() if n.endswith("_total") and n != "mpmd_restarts_total"
                 and (after.get((n, lab)) is None or after[(n, lab)] < v)]
    t.ok(not decreased, "%s: no counter decreased after the SIGKILL" % tag,
         diag="\n".join(decreased))
    t.eq(metric(after, "mpmd_restarts_total"), metric(before, "mpmd_restarts_total"),
         "%s: a crash is no restart" % tag)
    n = send_load(t, s, tr, tag + " after SIGKILL")
    out = check_exact(t, tr, tag + " after SIGKILL + %d requests" % n)
    check_metrics_format(t, out["metrics"], tag + " after SIGKILL")


def run_mpm(t, mpm):
    conf = STATUS_CONF.format(ext="On")
    with Server(conf, mpm=mpm, threads=THREADS, start_servers=START_SERVERS,
                server_limit=SERVER_LIMIT, tap=t) as s:
        tr = Tracker(s.port)
        with t.guard("%s: load and formats" % mpm):
            section_load_and_formats(t, s, tr, mpm)
        with t.guard("%s: HTML" % mpm):
            section_html(t, s, tr, mpm)
        with t.guard("%s: access control" % mpm):
            section_access(t, s, tr, mpm)
            check_exact(t, tr, mpm + " after access checks", kinds=("metrics",))
        with t.guard("%s: restarts" % mpm):
            section_restart(t, s, tr, mpm)


def run_noext(t, mpm):
    tag = mpm + " ExtendedStatus Off"
    conf = STATUS_CONF.format(ext="Off")
    with Server(conf, mpm=mpm, threads=THREADS, start_servers=START_SERVERS,
                server_limit=SERVER_LIMIT, tap=t) as s:
        tr = Tracker(s.port)
        with t.guard(tag):
            sync_base(t, tr, tag)
            n = send_load(t, s, tr, tag)
            wait_uptime(tr)
            out = check_exact(t, tr, tag + " + %d requests" % n, kinds=("json", "metrics"))
            r = tr.get("/server-status?auto")
            check_auto(t, s, r, tag, False)
            check_json(t, s, out["json"], tag, False, at_rest_exact=True)
            check_html(t, s, tr, tag, False)


def main(t):
    for mpm in ("event", "worker"):
        run_mpm(t, mpm)
        run_noext(t, mpm)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
