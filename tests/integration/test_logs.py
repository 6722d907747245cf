#!/usr/bin/env python3
# test_logs.py: access logs (LogFormat / CustomLog) and per-module LogLevel (TAP on stdout).
#
# One section each, every server section under MPM event and MPM worker:
#  1 whole lines under concurrency: 8 children x 16 threads, 64 keep-alive
#    connections (wrk, or Python threads without it), a ~1.2 KB line per
#    request to a file and to a piped "|cat >> FILE": every line parses,
#    lines == requests the server counted (server-status ?json
#    totals.accesses delta), several pids and tids;
#  2 formats: common / combined / vhost_combined byte for byte but the
#    time, a custom format with most % directives, the json format;
#  3 escaping of client bytes (\" \\ \t \xhh), one line per request even
#    for a 400;
#  4 virtual hosts: a vhost without logs writes the main server's, one
#    with its own CustomLog writes only that;
#  5 mpmd -t on broken LogFormat / CustomLog lines (no server);
#  6 rename + SIGUSR1 under load, and the real logrotate: no line lost;
#  7 a piped log program killed is started again, no line lost;
#  8 LogLevel per module (proxy) and [client ...] [vhost ...] on request errors.
# Bounds are upper bounds only.  Runtime about 50 s.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_logs.py

import collections
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import mpmdtest
from mpmdtest import A_TXT, Conn, ProtocolError, Server, build_request, run_tests, wait_until

MPMS = ("event", "worker")
LOG_BOUND = 5.0         # a line of an answered request reaches its file
RESTART_BOUND = 10.0    # a new generation writes the new file; a piped program is back
STABLE_QUIET = 0.5      # a log counts as settled when unchanged this long
LOAD_SECONDS = 3
LOAD_CONNS = 64
PAD = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_" * 16)[:1000]
LOAD_UA = "mpmd-logtest/1.0"
LOGROTATE = "/usr/sbin/logrotate"

MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
CLF_TIME = r"\[\d{2}/(?:%s)/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]" % MONTHS
QSTR = r'"(?:[^"\\]|\\.)*"'       # a quoted, escaped field
COMMON_RE = re.compile(r"^\S+ - - %s %s \d{3} (?:\d+|-)$" % (CLF_TIME, QSTR))
COMBINED_RE = re.compile(r"^\S+ - - %s %s \d{3} (?:\d+|-) %s %s$" % (CLF_TIME, QSTR, QSTR, QSTR))
# The concurrency section's format: combined + %D %{tid}P %P %k "%{X-Pad}i".
LONG_FMT = (r'%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" '
            r'%D %{tid}P %P %k \"%{X-Pad}i\"')
LONG_RE = re.compile(r"^\S+ - - %s %s \d{3} (?:\d+|-) %s %s (\d+) (\d+) (\d+) (\d+) "
                     r'"(-|%s)"$' % (CLF_TIME, QSTR, QSTR, QSTR, re.escape(PAD)))
LOAD_LINE_RE = re.compile(r'^127\.0\.0\.1 - - %s "GET /a\.txt HTTP/1\.1" 200 17 "-" "%s" '
                          r'(\d+) (\d+) (\d+) (\d+) "%s"$'
                          % (CLF_TIME, re.escape(LOAD_UA), re.escape(PAD)))
JSON_KEYS = {"time", "remote_addr", "remote_user", "request", "method", "uri", "query",
             "protocol", "status", "body_bytes", "bytes_in", "bytes_out", "duration_us", "host",
             "server_name", "referer", "user_agent", "pid", "tid", "keepalive", "conn_status"}

# ------------------------------------------------------------ helpers


class LogServer(Server):
    """A Server whose extra config is a template: {dir} becomes its temp
    dir, {port} its port (both known only when the config is written)."""

    def __init__(self, template, **kw):
        self.template = template
        super().__init__(**kw)

    def write_config(self):
        self.conf_extra = self.template.replace("{dir}", self.dir).replace(
            "{port}", str(self.port))
        super().write_config()

    def path(self, name):
        return os.path.join(self.dir, name)


def read_log(path):
    """(lines without their '\\n', bytes after the last '\\n') of PATH;
    ([], b"") when it does not exist."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], b""
    parts = data.split(b"\n")
    return [p.decode("utf-8", "replace") for p in parts[:-1]], parts[-1]


def lines_of(path):
    return read_log(path)[0]


def count_lines(path, pred=None):
    lines = lines_of(path)
    return len(lines) if pred is None else sum(1 for x in lines if pred(x))


def wait_stable(fn, bound=LOG_BOUND, quiet=STABLE_QUIET):
    """Poll FN until its value has not changed for QUIET seconds (at most
    BOUND); returns the last value."""
    deadline = time.monotonic() + bound
    last, since = fn(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = fn()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def bad_lines(lines, regex):
    return [x for x in lines if not regex.match(x)]


def status_accesses(s):
    r = s.get("/server-status?json", headers=[("Connection", "close")])
    if r.status != 200:
        raise ProtocolError("server-status answered %s" % r.status_line)
    return json.loads(r.text())["totals"]["accesses"]


def clf_time_ok(line, slack=120):
    """The [dd/Mon/yyyy:hh:mm:ss +zzzz] of LINE is within SLACK s of now."""
    m = re.search(CLF_TIME, line)
    if not m:
        return False
    when = datetime.datetime.strptime(m.group(0), "[%d/%b/%Y:%H:%M:%S %z]").timestamp()
    return abs(when - time.time()) <= slack


def strip_time(line):
    return re.sub(CLF_TIME, "[TIME]", line, count=1)


def exe_of(pid):
    try:
        return os.path.realpath(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return None


def piped_programs(s):
    """Children of the supervisor that are not mpmd children (piped logs)."""
    me = os.path.realpath(mpmdtest.MPMD)
    return [p for p in s.children() if exe_of(p) not in (me, None)]


def remember_tree(s, pids):
    """Record PIDS and their children in S.known so that cleanup kills them."""
    for p in pids:
        for k in [p] + mpmdtest.proc_children(p):
            st = mpmdtest.proc_stat(k)
            if st and k not in s.known:
                s.known[k] = st[2]

# ------------------------------------------------------------ load


def run_wrk(port, path, seconds, conns, headers):
    """wrk's completed requests, or None when wrk failed; (count, output)."""
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s"]
    for k, v in headers:
        cmd += ["-H", "%s: %s" % (k, v)]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=seconds + 30)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    m = re.search(r"(\d+) requests in", out)
    return (int(m.group(1)) if m and p.returncode == 0 else None), out


def run_threads(port, path, seconds, conns, headers):
    """The same load from Python threads (keep-alive connections)."""
    halt = threading.Event()
    lock = threading.Lock()
    done = [0]

    def worker():
        conn = None
        while not halt.is_set():
            try:
                if conn is None:
                    conn = Conn(port)
                conn.request("GET", path, headers=headers)
                r = conn.read_response()
                with lock:
                    done[0] += 1
                if "close" in (r.header("Connection") or "").lower():
                    conn.close()
                    conn = None
            except (OSError, ProtocolError, ValueError):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
        if conn is not None:
            conn.close()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(conns)]
    for th in threads:
        th.start()
    time.sleep(seconds)
    halt.set()
    for th in threads:
        th.join(10)
    return done[0], "python threads: %d requests" % done[0]


class SeqLoad:
    """One thread: GET PATH on a new connection, one after another, until
    stop(); counts the answered ones (200 with a.txt's body)."""

    def __init__(self, port, path):
        self.port = port
        self.path = path
        self.ok = 0
        self.failures = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.halt.set()
        self.thread.join(10)
        return not self.thread.is_alive()

    def _run(self):
        while not self.halt.is_set():
            try:
                with Conn(self.port) as c:
                    c.request("GET", self.path, headers=[("Connection", "close"),
                                                         ("User-Agent", LOAD_UA)])
                    r = c.read_response()
                if r.status == 200 and r.body == A_TXT:
                    self.ok += 1
                else:
                    self.failures.append(r.status_line)
            except (OSError, ProtocolError, ValueError) as e:
                self.failures.append("%s: %s" % (type(e).__name__, e))
                time.sleep(0.01)

# ------------------------------------------------------------ 1. concurrency


def check_concurrency(t, mpm):
    tag = "%s 1 concurrency" % mpm
    template = "\n".join([
        "ServerName load.test",
        "ExtendedStatus On",
        "LogFormat \"%s\" long" % LONG_FMT,
        "CustomLog {dir}/long.log long",
        "CustomLog \"|cat >> {dir}/piped.log\" long",
        "<Location /server-status>",
        "    SetHandler server-status",
        "</Location>",
    ])
    with t.guard(tag), LogServer(template, mpm=mpm, start_servers=8, server_limit=8,
                                 threads=16, tap=t) as s:
        wait_until(lambda: len(s.children()) - len(piped_programs(s)) == 8, 10)
        longlog, piped = s.path("long.log"), s.path("piped.log")
        # The readiness probe is counted just before its line is written:
        # once the line is there, the count is too.
        wait_until(lambda: count_lines(longlog) >= 1, LOG_BOUND)
        before = status_accesses(s)
        headers = [("X-Pad", PAD), ("User-Agent", LOAD_UA)]
        if shutil.which("wrk"):
            client_n, out = run_wrk(s.port, "/a.txt", LOAD_SECONDS, LOAD_CONNS, headers)
        else:
            client_n, out = run_threads(s.port, "/a.txt", LOAD_SECONDS, LOAD_CONNS, headers)
        t.diag("%s: %s" % (tag, " | ".join(x.strip() for x in out.splitlines() if x.strip())))
        wait_stable(lambda: count_lines(longlog))
        after = status_accesses(s)
        wait_until(lambda: count_lines(longlog, lambda x: "/server-status" in x) >= 2,
                   LOG_BOUND)
        served = after - before - 1          # minus the first status request itself
        lines, tail = read_log(longlog)
        load = [x for x in lines if x.endswith('"%s"' % PAD)]
        t.diag("%s: server counted %d requests, client %r, %d load lines of %d"
               % (tag, served, client_n, len(load), len(lines)))
        t.ok(client_n is not None and client_n > 1000,
             "%s: the client completed many requests (%r)" % (tag, client_n))
        t.eq(tail, b"", "%s: file ends with a whole line" % tag)
        t.eq(bad_lines(lines, LONG_RE)[:3], [], "%s: every one of %d lines parses (strict "
             "regex, 1000-byte X-Pad)" % (tag, len(lines)))
        t.eq(bad_lines(load, LOAD_LINE_RE)[:3], [],
             "%s: every load line is exactly a 200 for GET /a.txt" % tag)
        t.eq(len(load), served, "%s: load lines == requests the server counted "
             "(server-status totals.accesses delta)" % tag)
        t.ok(client_n is not None and client_n <= len(load) <= client_n + LOAD_CONNS,
             "%s: load lines (%d) between the client's completed count (%r) and that plus "
             "its %d connections" % (tag, len(load), client_n, LOAD_CONNS))
        fields = [LOAD_LINE_RE.match(x).groups() for x in load if LOAD_LINE_RE.match(x)]
        pids = {int(f[2]) for f in fields}
        tids = {(int(f[2]), int(f[1])) for f in fields}
        kas = [int(f[3]) for f in fields]
        t.diag("%s: %d pids, %d (pid, tid) pairs, %%k max %s" % (tag, len(pids), len(tids),
                                                                 max(kas) if kas else None))
        t.ok(len(pids) >= 2, "%s: lines from several children (%d pids)" % (tag, len(pids)))
        t.ok(len(tids) >= 4, "%s: lines from several threads (%d pid:tid pairs)"
             % (tag, len(tids)))
        kids = set(s.children())
        t.ok(pids <= kids, "%s: every %%P is a child of the supervisor" % tag,
             diag="pids %r, children %r" % (sorted(pids), sorted(kids)))
        t.ok(kas and max(kas) >= 1 and max(kas) <= 99,
             "%s: %%k counts keep-alive requests (max %s, below MaxKeepAliveRequests 100)"
             % (tag, max(kas) if kas else None))
        # The piped copy: the same lines, whole.
        wait_until(lambda: count_lines(piped) >= len(lines), LOG_BOUND)
        plines, ptail = read_log(piped)
        t.eq(ptail, b"", "%s: piped log: ends with a whole line" % tag)
        t.eq(bad_lines(plines, LONG_RE)[:3], [], "%s: piped log: every one of %d lines parses"
             % (tag, len(plines)))
        t.ok(collections.Counter(plines) == collections.Counter(lines),
             "%s: piped log has exactly the file's lines (%d vs %d)"
             % (tag, len(plines), len(lines)))
        alines, atail = read_log(s.access_log)
        t.ok(atail == b"" and not bad_lines(alines, COMBINED_RE) and len(alines) == len(lines),
             "%s: the AccessLog (combined) alongside: %d whole lines" % (tag, len(alines)),
             diag=bad_lines(alines, COMBINED_RE)[:3])

# ------------------------------------------------------------ 2. formats

FIELDS_FMT = ("%>s|%s|%b|%B|%D|%T|%{ms}T|%{us}T|%U|%q|%m|%H|%v|%V|%p|%P|%X|%k|%I|%O|%S|"
              "%{Content-Type}o|%{User-Agent}i")
FIELD_NAMES = ["final", "status", "b", "B", "D", "T", "Tms", "Tus", "U", "q", "m", "H", "v",
               "V", "p", "P", "X", "k", "I", "O", "S", "ctype", "ua"]
MORE_FMT = ("%h|%a|%A|%{remote}p|%{local}p|%{canonical}p|%{tid}P|%{hextid}P|%{sec}t|"
            "%{msec}t|%{%Y-%m-%d %H:%M}t|%{X-None}i|%l|%u|%{Referer}i|%r")


def exchange(c, method, target, headers, expect_head=False):
    """Send one request on C; (request bytes, Response, response size, client port)."""
    data = build_request(method, target, headers=headers, host=None)
    c.send(data)
    r = c.read_response(head=expect_head)
    return data, r, len(r.raw_head) + 4 + len(r.body), c.sock.getsockname()[1]


def check_formats(t, mpm):
    tag = "%s 2 formats" % mpm
    template = "\n".join([
        "ServerName fmt.test",
        "LogFormat \"%s\" fields" % FIELDS_FMT,
        "LogFormat \"%s\" more" % MORE_FMT,
        "CustomLog {dir}/common.log common",
        "CustomLog {dir}/combined.log combined",
        "CustomLog {dir}/vc.log vhost_combined",
        "CustomLog {dir}/fields.log fields",
        "CustomLog {dir}/more.log more",
        "CustomLog {dir}/json.log json",
    ])
    with t.guard(tag), LogServer(template, mpm=mpm, tap=t) as s:
        with open(os.path.join(s.docroot, "empty.txt"), "wb"):
            pass
        host = "fmt.test:%d" % s.port
        ua = "fmt-agent/1.0 (test; x)"
        ref = "http://ref.example/p?q=1"
        ims = mpmdtest.http_date(mpmdtest.FIXED_MTIME)
        reqs = []   # (name, request bytes, response, response bytes, client port)
        with Conn(s.port) as c:           # one keep-alive connection: %k 0, 1, 2
            for name, method, target, hdrs in [
                    ("get", "GET", "/a.txt?x=1&y=%22", [("Host", host), ("User-Agent", ua),
                                                        ("Referer", ref)]),
                    ("head", "HEAD", "/a.txt?head", [("Host", host)]),
                    ("304", "GET", "/a.txt?cond", [("Host", host), ("If-Modified-Since", ims),
                                                   ("Connection", "close")])]:
                data, r, size, cport = exchange(c, method, target, hdrs, method == "HEAD")
                reqs.append((name, data, r, size, cport))
        for name, target in (("empty", "/empty.txt"), ("404", "/nope.txt?e=1")):
            with Conn(s.port) as c:
                data, r, size, cport = exchange(c, "GET", target,
                                                [("Host", host), ("Connection", "close")])
                reqs.append((name, data, r, size, cport))
        t.eq([x[2].status for x in reqs], [200, 200, 304, 200, 404],
             "%s: statuses of the 5 requests" % tag)
        n = 1 + len(reqs)                     # the harness's readiness HEAD first
        for f in ("common", "combined", "vc", "fields", "more", "json"):
            wait_until(lambda: count_lines(s.path(f + ".log")) >= n, LOG_BOUND)

        def line_for(fname, needle):
            found = [x for x in lines_of(s.path(fname)) if needle in x]
            return found[0] if len(found) == 1 else found
        # common, combined, vhost_combined: exact but the time
        rl = {name: data.split(b"\r\n", 1)[0].decode() for name, data, _, _, _ in reqs}
        bodies = {name: len(r.body) for name, _, r, _, _ in reqs}
        for name, _, r, size, _ in reqs:
            b = str(bodies[name]) if bodies[name] else "-"
            st = r.status
            q = rl[name].replace('"', '\\"')
            common = '127.0.0.1 - - [TIME] "%s" %d %s' % (q, st, b)
            hdr_ref = ref if name == "get" else "-"
            hdr_ua = ua if name == "get" else "-"
            combined = common + ' "%s" "%s"' % (hdr_ref, hdr_ua)
            vc = 'fmt.test:%d 127.0.0.1 - - [TIME] "%s" %d %d "%s" "%s"' % (
                s.port, q, st, size, hdr_ref, hdr_ua)
            for fname, want in (("common.log", common), ("combined.log", combined),
                                ("vc.log", vc)):
                got = line_for(fname, '"%s"' % q)
                t.eq(strip_time(got) if isinstance(got, str) else got, want,
                     "%s: %s line of %s" % (tag, fname[:-4], name))
        t.ok(all(clf_time_ok(x) for x in lines_of(s.path("common.log"))),
             "%s: %%t is the local time now, CLF form" % tag,
             diag=lines_of(s.path("common.log")))
        # the custom format
        kids = set(s.children())
        for name, data, r, size, cport in reqs:
            target = rl[name].split(" ")[1]
            path, _, query = target.partition("?")
            got = line_for("fields.log", "|%s|%s|" % (path, "?" + query if query else ""))
            if not isinstance(got, str):
                t.ok(False, "%s: fields line of %s found once" % (tag, name), diag=got)
                continue
            d = dict(zip(FIELD_NAMES, got.split("|")))
            keep = name in ("get", "head")
            want = {
                "final": str(r.status), "status": str(r.status),
                "b": str(len(r.body)) if r.body else "-", "B": str(len(r.body)),
                "U": path, "q": "?" + query if query else "",
                "m": "HEAD" if name == "head" else "GET", "H": "HTTP/1.1", "v": "fmt.test",
                "p": str(s.port), "X": "+" if keep else "-",
                "k": {"get": "0", "head": "1", "304": "2"}.get(name, "0"),
                "I": str(len(data)), "O": str(size), "S": str(len(data) + size),
                "ctype": r.header("Content-Type") or "-",
                "ua": ua if name == "get" else "-",
            }
            t.eq({k: d.get(k) for k in want}, want, "%s: custom format fields of %s "
                 "(%%b %%B %%X %%k %%I %%O %%S %%{Content-Type}o ...)" % (tag, name))
            dur = int(d["D"]) if d.get("D", "").isdigit() else -1
            t.ok(dur >= 0 and d["Tus"] == str(dur) and d["Tms"] == str(dur // 1000) and
                 d["T"] == str(dur // 1000000) and int(d["P"]) in kids,
                 "%s: %s: %%D %%{us}T %%{ms}T %%T agree, %%P is a child" % (tag, name),
                 diag=d)
        got = line_for("fields.log", "|/a.txt|?x=1&y=%22|")
        vfield = got.split("|")[13] if isinstance(got, str) else got
        t.eq(vfield, "fmt.test", "%s: %%V of 'Host: fmt.test:PORT' is the host name "
             "without the port (Apache: the request's hostname)" % tag)
        with Conn(s.port) as c:
            exchange(c, "GET", "/a.txt?case", [("Host", "FMT.Test"), ("Connection", "close")])
        wait_until(lambda: line_for("fields.log", "?case|") != [], LOG_BOUND)
        got = line_for("fields.log", "?case|")
        vfield = got.split("|")[13] if isinstance(got, str) else got
        t.eq(vfield, "fmt.test", "%s: %%V of 'Host: FMT.Test' is lower case (Apache "
             "lower-cases the request's hostname)" % tag)
        # more directives
        name, data, r, size, cport = reqs[0]
        got = line_for("more.log", "|GET /a.txt?x=1")
        m = got.split("|") if isinstance(got, str) else []
        if len(m) == 16:
            now = time.time()
            t.eq(m[:6] + m[11:15], ["127.0.0.1", "127.0.0.1", "127.0.0.1", str(cport),
                                    str(s.port), str(s.port), "-", "-", "-", ref],
                 "%s: %%h %%a %%A %%{remote}p %%{local}p %%{canonical}p %%{X-None}i %%l %%u "
                 "%%{Referer}i" % tag)
            t.ok(m[6].isdigit() and m[7] == "%x" % int(m[6]),
                 "%s: %%{hextid}P is %%{tid}P in hex (%s, %s)" % (tag, m[6], m[7]))
            t.ok(m[8].isdigit() and abs(int(m[8]) - now) < 120 and m[9].isdigit() and
                 int(m[9]) // 1000 == int(m[8]) and
                 m[10] == time.strftime("%Y-%m-%d %H:%M", time.localtime(int(m[8]))),
                 "%s: %%{sec}t %%{msec}t %%{strftime}t agree with now" % tag, diag=m[8:11])
            t.eq(m[15], rl["get"], "%s: %%r is the request line" % tag)
        else:
            t.ok(False, "%s: more.log line of the GET" % tag, diag=got)
        # json
        jl, jtail = read_log(s.path("json.log"))
        parsed = []
        for x in jl:
            try:
                parsed.append(json.loads(x))
            except ValueError as e:
                parsed.append("INVALID %s: %r" % (e, x))
        t.ok(jtail == b"" and all(isinstance(p, dict) and set(p) == JSON_KEYS
                                  for p in parsed),
             "%s: json: %d lines, each one JSON object with the documented keys"
             % (tag, len(jl)), diag=[p for p in parsed if not isinstance(p, dict)][:3])
        jget = [p for p in parsed if isinstance(p, dict) and p.get("query") == "?x=1&y=%22"]
        if jget:
            p = jget[0]
            want = {"remote_addr": "127.0.0.1", "request": rl["get"], "method": "GET",
                    "uri": "/a.txt", "query": "?x=1&y=%22", "protocol": "HTTP/1.1",
                    "status": 200, "body_bytes": 17, "bytes_in": len(reqs[0][1]),
                    "bytes_out": reqs[0][3], "server_name": "fmt.test", "referer": ref,
                    "user_agent": ua, "keepalive": 0, "conn_status": "+"}
            t.eq({k: p.get(k) for k in want}, want, "%s: json values of the GET" % tag)
            t.ok(isinstance(p["pid"], int) and isinstance(p["tid"], int) and
                 isinstance(p["duration_us"], int) and
                 re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$", p["time"]),
                 "%s: json pid, tid, duration_us are numbers; time is ISO 8601" % tag, diag=p)
        else:
            t.ok(False, "%s: json line of the GET" % tag, diag=parsed)
        # json with a hostile User-Agent: quotes, backslashes, a tab (the only
        # control byte a header may carry), UTF-8, and an invalid byte
        nasty = 'q"uo\\te\\\\x\tz é€ 日本 "end\\'
        raw_ua = nasty.encode("utf-8") + b" \xff."
        with Conn(s.port) as c:
            c.send(b"GET /a.txt?json HTTP/1.1\r\nHost: fmt.test\r\nUser-Agent: " + raw_ua +
                   b"\r\nConnection: close\r\n\r\n")
            st = c.read_response().status
        t.eq(st, 200, "%s: json: hostile User-Agent answered 200" % tag)
        wait_until(lambda: any('"?json"' in x for x in lines_of(s.path("json.log"))), LOG_BOUND)
        hit = [x for x in lines_of(s.path("json.log")) if '"?json"' in x]
        try:
            p = json.loads(hit[0]) if hit else None
        except ValueError as e:
            p = "INVALID %s" % e
        ok = isinstance(p, dict)
        t.ok(ok, "%s: json: the line with the hostile User-Agent is valid JSON" % tag,
             diag=hit)
        t.eq(p.get("user_agent") if ok else None, nasty + " \xff.",
             "%s: json: decoded user_agent equals what was sent (the invalid byte as "
             "\\u00ff)" % tag)
        t.ok(hit and "\\u00ff" in hit[0] and "é€ 日本" in hit[0],
             "%s: json: UTF-8 copied as is, the invalid byte escaped \\u00ff" % tag, diag=hit)
        cl = line_for("combined.log", "GET /a.txt?json")
        t.ok(isinstance(cl, str) and cl.endswith(
            '"q\\"uo\\\\te\\\\\\\\x\\tz \\xc3\\xa9\\xe2\\x82\\xac \\xe6\\x97\\xa5\\xe6\\x9c'
            '\\xac \\"end\\\\ \\xff."'),
             "%s: combined: the same User-Agent escaped as Apache does (\\\" \\\\ \\t \\xhh)"
             % tag, diag=cl)

# ------------------------------------------------------------ 3. escaping


def check_escaping(t, mpm):
    tag = "%s 3 escaping" % mpm
    template = "ServerName esc.test\nCustomLog {dir}/esc.log \"%h \\\"%r\\\" %>s\""
    with t.guard(tag), LogServer(template, mpm=mpm, tap=t) as s:
        log = s.path("esc.log")
        wait_until(lambda: count_lines(log) >= 1, LOG_BOUND)
        cases = [
            ("quote and backslash in the target",
             b'GET /q"uote\\back HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
             '127.0.0.1 "GET /q\\"uote\\\\back HTTP/1.1" 404'),
            ("a 400 for %00 keeps the request line",
             b'GET /nul%00"x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
             '127.0.0.1 "GET /nul%00\\"x HTTP/1.1" 400'),
            ("a raw control byte and a quote in the request line (400)",
             b'GET /ctl"\x01x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
             '127.0.0.1 "GET /ctl\\"\\x01x HTTP/1.1" 400'),
            ("a raw control byte in a header field (400)",
             b'GET /hdr HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\nConnection: close\r\n\r\n',
             '127.0.0.1 "GET /hdr HTTP/1.1" 400'),
        ]
        for desc, data, want in cases:
            n0 = count_lines(log)
            with Conn(s.port) as c:
                c.send(data)
                try:
                    st = c.read_response().status
                except (OSError, ProtocolError) as e:
                    st = "%s: %s" % (type(e).__name__, e)
            wait_until(lambda: count_lines(log) > n0, LOG_BOUND)
            lines, tail = read_log(log)
            new = lines[n0:]
            t.ok(len(new) == 1 and tail == b"" and
                 re.match(r'^127\.0\.0\.1 %s \d{3}$' % QSTR, new[0]),
                 "%s: %s: exactly one whole, well-formed line (status %s)" % (tag, desc, st),
                 diag=new)
            t.eq(new[0] if new else None, want, "%s: %s: escaped as \\\" \\\\ \\xhh"
                 % (tag, desc))
        # the request error's error-log line names the client
        cport = None
        with Conn(s.port) as c:
            cport = c.sock.getsockname()[1]
            c.send(b"GET /ctl\x02 HTTP/1.1\r\nHost: x\r\n\r\n")
            c.read_response()
        wait_until(lambda: "[client 127.0.0.1:%d]" % cport in s.errlog_text(), 2.0)
        bad = [x for x in s.errlog_text().splitlines() if "bad request" in x]
        t.ok(any("[client 127.0.0.1:%d]" % cport in x for x in bad),
             "%s: the error log's bad-request line carries [client 127.0.0.1:%d]"
             % (tag, cport), diag=bad[-3:])

# ------------------------------------------------------------ 4. virtual hosts


def check_vhosts(t, mpm):
    tag = "%s 4 vhosts" % mpm
    template = "\n".join([
        "ServerName main.test",
        "LogFormat \"%v %V %U %>s\" vfmt",
        "CustomLog {dir}/A.log vfmt",
        "<VirtualHost *:{port}>",
        "    ServerName v1.test",
        "</VirtualHost>",
        "<VirtualHost *:{port}>",
        "    ServerName v2.test",
        "    CustomLog {dir}/B.log vfmt",
        "    CustomLog {dir}/B2.log \"%v|%U\"",
        "</VirtualHost>",
    ])
    with t.guard(tag), LogServer(template, mpm=mpm, tap=t) as s:
        for host, path in (("v1.test", "/v1-mark"), ("v2.test", "/v2-mark"),
                           ("other.test", "/other-mark")):
            r = s.get(path, headers=[("Host", host), ("Connection", "close")])
            t.eq(r.status, 404, "%s: %s%s answered" % (tag, host, path))
        A, B, B2 = s.path("A.log"), s.path("B.log"), s.path("B2.log")
        wait_until(lambda: count_lines(A, lambda x: "-mark" in x) >= 2 and
                   count_lines(B) >= 1 and count_lines(B2) >= 1, LOG_BOUND)
        time.sleep(0.2)
        a = [x for x in lines_of(A) if "-mark" in x]
        t.eq(sorted(a), sorted(["v1.test v1.test /v1-mark 404",
                                "v1.test other.test /other-mark 404"]),
             "%s: main CustomLog A has vhost 1's lines (also for the default-vhost Host), "
             "%%v = its ServerName, none of vhost 2's" % tag)
        t.eq(lines_of(B), ["v2.test v2.test /v2-mark 404"],
             "%s: vhost 2's own CustomLog B has only its line" % tag)
        t.eq(lines_of(B2), ["v2.test|/v2-mark"],
             "%s: vhost 2's second CustomLog (inline format) too" % tag)
        acc = [x for x in lines_of(s.access_log) if "-mark" in x]
        t.ok(len(acc) == 2 and not any("/v2-mark" in x for x in acc),
             "%s: the main AccessLog gets vhost 1's requests, not vhost 2's" % tag, diag=acc)

# ------------------------------------------------------------ 5. config errors


def check_config_errors(t):
    tag = "5 config errors"
    tmp = tempfile.mkdtemp(prefix="mpmdtest-logcfg-")
    try:
        port = mpmdtest.free_port()
        head = "Listen 127.0.0.1:%d\nDocumentRoot %s\nServerName cfg.test\n" % (port, tmp)
        logp = os.path.join(tmp, "x.log")
        cases = [
            ("undefined nickname", "CustomLog %s nosuchnick\n" % logp, 4, "CustomLog",
             "nosuchnick"),
            ("bad % directive in LogFormat", "LogFormat \"%%h %%Y\" bad\n"
             "CustomLog %s bad\n" % logp, 4, "LogFormat", "%Y"),
            ("bad % directive in CustomLog", "CustomLog %s \"%%h %%{x}Z\"\n" % logp, 4,
             "CustomLog", "Z"),
            ("unterminated %{", "LogFormat \"%h %{User-Agent\" ua\n", 4, "LogFormat", "%{"),
            ("CustomLog with 3 arguments", "CustomLog %s common env=foo\n" % logp, 4,
             "CustomLog", "env=foo"),
            ("LogFormat without nickname", "LogFormat \"%h\"\n", 4, "LogFormat", ""),
            ("undefined nickname in a vhost", "<VirtualHost *:%d>\n  ServerName v.test\n"
             "  CustomLog %s vnick\n</VirtualHost>\n" % (port, logp), 6, "CustomLog", "vnick"),
            ("a vhost's nickname is not the main server's",
             "<VirtualHost *:%d>\n  ServerName v.test\n  LogFormat \"%%h\" vonly\n"
             "</VirtualHost>\nCustomLog %s vonly\n" % (port, logp), 8, "CustomLog", "vonly"),
        ]
        for i, (desc, body, line, directive, word) in enumerate(cases):
            conf = os.path.join(tmp, "bad%d.conf" % i)
            with open(conf, "w") as f:
                f.write(head + body)
            rc, out, err = mpmdtest.run_mpmd(["-t", "-f", conf])
            msg = (out + err).strip()
            t.ok(rc != 0 and ("%s:%d:" % (conf, line)) in msg and directive in msg and
                 word in msg, "%s: %s: mpmd -t fails naming %s:%d and %s"
                 % (tag, desc, os.path.basename(conf), line, directive),
                 diag="rc=%r: %s" % (rc, msg))
        t.ok(not os.path.exists(logp), "%s: mpmd -t created no log file" % tag)
        conf = os.path.join(tmp, "good.conf")
        with open(conf, "w") as f:
            f.write(head + "CustomLog %s later\nLogFormat \"%%h %%{tid}P %%X\" later\n"
                    "LogFormat \"{\\\"a\\\":\\\"%%h\\\"}\" j escape=json\n"
                    "CustomLog \"|cat > /dev/null\" j\n"
                    "<VirtualHost *:%d>\n  ServerName v.test\n  CustomLog %s later\n"
                    "</VirtualHost>\n" % (logp, port, logp))
        rc, out, err = mpmdtest.run_mpmd(["-t", "-f", conf])
        t.ok(rc == 0 and "Syntax OK" in out + err, "%s: a nickname defined after its "
             "CustomLog, escape=json, a pipe, a vhost using the main nickname: Syntax OK"
             % tag, diag="rc=%r: %s" % (rc, out + err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

# ------------------------------------------------------------ 6. rotation

ROT_RE = re.compile(r'^127\.0\.0\.1 - - %s "GET /a\.txt\?rot HTTP/1\.1" 200 17$' % CLF_TIME)


def rotation_run(t, s, tag, rotate):
    """Load, ROTATE() (renames the log and makes the server reopen it),
    then check that rot.log.1 + rot.log hold one whole line per answer."""
    log = s.path("rot.log")
    old = log + ".1"
    gen_re = r"graceful restart: generation \d+"
    gens = len(re.findall(gen_re, s.errlog_text()))
    load = SeqLoad(s.port, "/a.txt?rot").start()
    try:
        t.ok(wait_until(lambda: load.ok >= 30, 10), "%s: load running (%d answered)"
             % (tag, load.ok))
        rotated = rotate()
        t.ok(rotated, "%s: rotated (renamed file still written until the restart; "
             "logrotate made rot.log.1)" % tag)
        t.ok(wait_until(lambda: count_lines(log, ROT_RE.match) > 0, RESTART_BOUND),
             "%s: the new generation writes the new file within %.0f s"
             % (tag, RESTART_BOUND))
        t.ok(wait_until(lambda: len(re.findall(gen_re, s.errlog_text())) > gens, 2.0),
             "%s: error log: graceful restart" % tag)
        mark = load.ok
        wait_until(lambda: load.ok >= mark + 30, 10)
    finally:
        stopped = load.stop()
    t.ok(stopped, "%s: load thread stopped" % tag)

    def total():
        return count_lines(old, ROT_RE.match) + count_lines(log, ROT_RE.match)
    wait_until(lambda: total() >= load.ok, LOG_BOUND)
    got = wait_stable(total)
    o_lines, o_tail = read_log(old)
    n_lines, n_tail = read_log(log)
    t.diag("%s: answered %d, failures %d; old file %d load lines, new file %d"
           % (tag, load.ok, len(load.failures), count_lines(old, ROT_RE.match),
              count_lines(log, ROT_RE.match)))
    t.eq(load.failures[:3], [], "%s: no request failed" % tag)
    t.eq(got, load.ok, "%s: lines(old) + lines(new) == answered requests (%d)"
         % (tag, load.ok))
    t.ok(o_tail == b"" and n_tail == b"" and not bad_lines(o_lines, COMMON_RE) and
         not bad_lines(n_lines, COMMON_RE) and count_lines(old, ROT_RE.match) > 0,
         "%s: both files whole lines only, the old one kept its lines" % tag,
         diag=(bad_lines(o_lines, COMMON_RE)[:2], bad_lines(n_lines, COMMON_RE)[:2],
               o_tail[:80], n_tail[:80]))


def check_rotation(t, mpm):
    tag = "%s 6 rename+USR1" % mpm
    template = "ServerName rot.test\nCustomLog {dir}/rot.log common"
    with t.guard(tag), LogServer(template, mpm=mpm, tap=t) as s:
        def rotate():
            os.rename(s.path("rot.log"), s.path("rot.log.1"))
            n = count_lines(s.path("rot.log.1"))
            # until the restart the children write on to the renamed file
            grew = wait_until(lambda: count_lines(s.path("rot.log.1")) >= n + 10, LOG_BOUND)
            kept = grew and not os.path.exists(s.path("rot.log"))
            os.kill(s.pid, signal.SIGUSR1)
            return kept
        rotation_run(t, s, tag, rotate)
    tag = "%s 6 logrotate" % mpm
    if not os.access(LOGROTATE, os.X_OK):
        t.skip("%s: logrotate" % tag, "%s not installed (Debian package logrotate)"
               % LOGROTATE)
        return
    with t.guard(tag), LogServer(template, mpm=mpm, tap=t) as s:
        conf, state = s.path("logrotate.conf"), s.path("logrotate.state")
        with open(conf, "w") as f:
            f.write("%s {\n    rotate 3\n    missingok\n    nocompress\n    postrotate\n"
                    "        /bin/kill -USR1 %d\n    endscript\n}\n" % (s.path("rot.log"), s.pid))
        result = {}

        def rotate():
            p = subprocess.run([LOGROTATE, "-f", "-s", state, conf], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=30)
            result["rc"], result["out"] = p.returncode, (p.stdout + p.stderr).decode()
            return p.returncode == 0 and os.path.exists(s.path("rot.log.1"))
        rotation_run(t, s, tag, rotate)
        t.eq(result.get("rc"), 0, "%s: logrotate -f exited 0 (%s)"
             % (tag, result.get("out", "").strip()[:200]))

# ------------------------------------------------------------ 7. piped log restart


def check_piped_restart(t, mpm):
    tag = "%s 7 piped restart" % mpm
    template = "ServerName pipe.test\nCustomLog \"|/bin/cat >> {dir}/piped.log\" common"
    with t.guard(tag), LogServer(template, mpm=mpm, tap=t) as s:
        plog = s.path("piped.log")

        def send(names):
            for n in names:
                s.get("/%s" % n, headers=[("Connection", "close")])

        def arrived(names):
            text = "\n".join(lines_of(plog))
            return all(('"GET /%s HTTP/1.1" 404' % n) in text for n in names)
        before = ["before-%d" % i for i in range(3)]
        send(before)
        t.ok(wait_until(lambda: arrived(before), LOG_BOUND),
             "%s: lines reach the file through the program" % tag)
        progs = piped_programs(s)
        t.eq(len(progs), 1, "%s: one piped program, a child of the supervisor (%r)"
             % (tag, progs))
        if len(progs) != 1:
            return
        old = progs[0]
        remember_tree(s, [old])
        os.kill(old, signal.SIGKILL)
        during = ["during-%d" % i for i in range(3)]
        send(during)               # written to the pipe whose read end the supervisor keeps
        new = wait_until(lambda: [p for p in piped_programs(s) if p != old], RESTART_BOUND)
        t.ok(len(new) == 1, "%s: a new program started within %.0f s (%r -> %r)"
             % (tag, RESTART_BOUND, old, new))
        remember_tree(s, new)
        after = ["after-%d" % i for i in range(3)]
        send(after)
        t.ok(wait_until(lambda: arrived(during + after), LOG_BOUND),
             "%s: lines sent while it was dead and after it came back arrive" % tag,
             diag=lines_of(plog))
        lines, tail = read_log(plog)
        marks = collections.Counter(re.sub(r'.*"GET /([a-z]+-\d) .*', r"\1", x)
                                    for x in lines if "-" in x.split('"')[1])
        t.ok(tail == b"" and not bad_lines(lines, COMMON_RE) and
             all(v == 1 for v in marks.values()) and len(marks) == 9,
             "%s: whole lines, each request exactly once" % tag, diag=lines)
        errs = [x for x in s.errlog_text().splitlines() if "piped log" in x]
        want = new[0] if len(new) == 1 else -1
        t.ok(any("[log_config:warn]" in x and "started it again (pid %d)" % want in x
                 for x in errs),
             "%s: error log: [log_config:warn] ... started it again (pid %d)" % (tag, want),
             diag=errs)
        st = mpmdtest.proc_stat(want) if want > 0 else None
        t.ok(st is not None and st[1] == s.pid, "%s: the new program's parent is the "
             "supervisor" % tag, diag=st)

# ------------------------------------------------------------ 8. LogLevel per module


def check_loglevel(t, mpm):
    dead = mpmdtest.closed_port()    # refuses connections
    cases = [   # LogLevel, want the 502's error line, the 503's warn line, core info line
        ("warn proxy:info", True, True, False),
        ("error", True, False, False),
        ("error proxy:warn", True, True, False),
        ("warn proxy:crit", False, False, False),
        ("info", True, True, True),
    ]
    for levels, want_err, want_warn, want_info in cases:
        tag = "%s 8 LogLevel %s" % (mpm, levels)
        template = ("ServerName log.test\nLogLevel %s\n"
                    "ProxyPass /app http://127.0.0.1:%d/ retry=60" % (levels, dead))
        with t.guard(tag), LogServer(template, mpm=mpm, start_servers=1, tap=t) as s:
            ports, statuses = [], []
            for _ in range(2):
                with Conn(s.port) as c:
                    ports.append(c.sock.getsockname()[1])
                    c.request("GET", "/app/x", headers=[("Connection", "close")])
                    statuses.append(c.read_response().status)
            with Conn(s.port) as c:
                c.send(b"GET /bad\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
                c.read_response()
            t.eq(statuses, [502, 503], "%s: refused upstream: 502, then 503 in its retry= "
                 "time" % tag)
            time.sleep(0.3)        # lines are written before the answers; a margin anyway
            lines = s.errlog_text().splitlines()
            err = [x for x in lines if "(answered 502)" in x]
            warn = [x for x in lines if "(answered 503)" in x]
            info = [x for x in lines if "bad request" in x]
            if want_err:
                t.ok(len(err) == 1 and re.search(r"\[proxy(?:_http)?:error\]", err[0]) and
                     "[client 127.0.0.1:%d] [vhost log.test]" % ports[0] in err[0],
                     "%s: the 502's line: [proxy:error] [client 127.0.0.1:%d] [vhost "
                     "log.test]" % (tag, ports[0]), diag=lines[-5:])
            else:
                t.eq(err, [], "%s: the 502's error line is suppressed" % tag)
            if want_warn:
                t.ok(len(warn) == 1 and "[proxy:warn]" in warn[0] and
                     "[client 127.0.0.1:%d]" % ports[1] in warn[0],
                     "%s: the 503's line: [proxy:warn] [client 127.0.0.1:%d]"
                     % (tag, ports[1]), diag=lines[-5:])
            else:
                t.eq(warn, [], "%s: the 503's warn line is suppressed" % tag)
            if want_info:
                t.ok(info, "%s: the core's info line (bad request) is logged" % tag,
                     diag=lines[-5:])
            else:
                t.eq(info, [], "%s: the core's info line (bad request) is suppressed" % tag)


def main(t):
    check_config_errors(t)
    for mpm in MPMS:
        check_concurrency(t, mpm)
        check_formats(t, mpm)
        check_escaping(t, mpm)
        check_vhosts(t, mpm)
        check_rotation(t, mpm)
        check_piped_restart(t, mpm)
        check_loglevel(t, mpm)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
